/*
 * cmd_history.c — `trmx history [SUBJECT]`: the append-only record of every install, removal,
 * alias, binding, rollback and quarantine change, with who made it and when.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx history [SUBJECT] [options]\n"
	       "Every change to the registry, oldest first: installs, removals, alias moves, bindings,\n"
	       "unbindings, rollbacks, quarantines and releases, each with when, who ($TRMX_ACTOR or the\n"
	       "login name), from what to what. SUBJECT limits it to a context, a MODULE@VERSION, a\n"
	       "MODULE@ALIAS, or a module (all of its own). The history is append-only.\n"
	       "Options:\n"
	       "      --home DIR    TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "  -l, --limit N     the newest N changes\n"
	       "      --json        JSON lines, one change per line\n"
	       "  -h, --help        this help\n");
}

enum { OPT_HOME = 256, OPT_JSON };

int cmd_history(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME }, { "limit", required_argument, NULL, 'l' },
		{ "json", no_argument, NULL, OPT_JSON },       { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL;
	long limit = 0;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":l:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case 'l':
			if (!cli_parse_int("history", "--limit", optarg, 1, 1000000000L, &limit))
				return CLI_USAGE;
			break;
		case OPT_JSON: json = cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("history", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("history", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("history", "expects at most one SUBJECT");
	const char *subject = optind < argc ? argv[optind] : NULL;
	trmx_registry *reg = cli_registry_read(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	trmx_history_entry *h = NULL;
	size_t n = 0;
	int rc = CLI_OK;
	if (trmx_registry_history(reg, subject, limit, &h, &n, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const trmx_history_entry *e = &h[i];
		if (json) {
			json_t *o = json_pack("{s:I,s:s,s:s,s:s,s:s}", "id", (json_int_t)e->id, "at", e->at, "actor", e->actor,
					      "action", e->action, "subject", e->subject);
			json_object_set_new(o, "old", e->old_value[0] ? json_string(e->old_value) : json_null());
			json_object_set_new(o, "new", e->new_value[0] ? json_string(e->new_value) : json_null());
			json_object_set_new(o, "detail", e->detail[0] ? json_string(e->detail) : json_null());
			json_dumpf(o, stdout, JSON_COMPACT);
			fputc('\n', stdout);
			json_decref(o);
			continue;
		}
		printf("%s  %-10s %-10s %s", e->at, e->actor, e->action, e->subject);
		if (e->old_value[0] || e->new_value[0])
			printf(": %s -> %s", e->old_value[0] ? e->old_value : "(none)", e->new_value[0] ? e->new_value : "(none)");
		if (e->detail[0])
			printf(" [%s]", e->detail);
		printf("\n");
	}
	if (!n && !json)
		printf("no changes%s%s\n", subject ? " to " : "", subject ? subject : "");
done:
	free(h);
	trmx_registry_free(reg);
	return rc;
}
