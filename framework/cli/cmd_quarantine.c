/*
 * cmd_quarantine.c — `trmx quarantine MODULE@VERSION`: nothing dispatches to the version any more
 * (targets naming it fail, MODULE skips it, a canary on it sends everyone to the main target);
 * --release lifts it. Recorded in the history with the reason.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx quarantine MODULE@VERSION [options]\n"
	       "Quarantine a module version: nothing dispatches to it any more. A context bound to it\n"
	       "fails until it is bound elsewhere or rolled back; a canary on it sends every learner to\n"
	       "the context's main target; MODULE alone resolves to its highest version not quarantined.\n"
	       "Options:\n"
	       "      --home DIR      TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --reason TEXT   why (kept in the history)\n"
	       "      --release       lift the quarantine\n"
	       "      --json          the result as one JSON object (docs/CLI-JSON.md)\n"
	       "  -h, --help          this help\n");
}

enum { OPT_HOME = 256, OPT_RELEASE, OPT_REASON, OPT_JSON }; /* --reason: no short form (-r is train's --resume) */

int cmd_quarantine(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME }, { "reason", required_argument, NULL, OPT_REASON },
		{ "release", no_argument, NULL, OPT_RELEASE }, { "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *reason = NULL;
	bool release = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_REASON: reason = optarg; break;
		case OPT_RELEASE: release = true; break;
		case OPT_JSON: cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("quarantine", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("quarantine", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("quarantine", "expects one MODULE@VERSION");
	trmx_target t;
	trmx_error err = { 0, "" };
	if (trmx_target_parse(argv[optind], &t, &err) < 0)
		return cli_usage_error("quarantine", "%s", err.message);
	if (t.kind != TRMX_TARGET_VERSION)
		return cli_usage_error("quarantine", "name one version: MODULE@VERSION, not '%s'", argv[optind]);
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	int rc = CLI_OK;
	if (trmx_registry_quarantine(reg, t.module, t.ref, !release, reason, &err) < 0)
		rc = cli_fail(&err);
	else if (cli_json_errors) /* the object of POST /v1/admin/quarantine */
		rc = cli_json_print(json_pack("{s:s,s:s,s:b}", "module", t.module, "version", t.ref, "quarantined", !release));
	else
		printf("%s@%s %s\n", t.module, t.ref, release ? "released: it serves again" : "quarantined: nothing dispatches to it");
	trmx_registry_free(reg);
	return rc;
}
