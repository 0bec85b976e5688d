/*
 * cmd_config.c — `trmx config get|set|unset|list`: a home's settings (HOME/config.json, mode
 * 0600): log.url, the central PostgreSQL log this home writes to (docs/SCHEMA.md, "A central
 * log"), and host.id, the name its runs carry there.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { OPT_HOME = 256 };

static void help(void)
{
	printf("usage: trmx config get KEY | set KEY VALUE | unset KEY | list [options]\n"
	       "A home's settings, kept in TRMX_HOME/config.json (mode 0600: a URL may hold a password):\n"
	       "  log.url   the usage log: a postgresql:// URL of a central log many course servers share\n"
	       "            (runs wait in TRMX_HOME/log-outbox.db while it is out of reach), or 'sqlite'\n"
	       "            for TRMX_HOME/log.db (the default when unset). $TRMX_LOG_URL and `trmx --log URL`\n"
	       "            override it.\n"
	       "  host.id   this course server's name in the central log's runs.host (default: the host name)\n"
	       "`list` masks a URL's password.\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "  -h, --help       this help\n"
	       "Example: trmx config set log.url 'postgresql://trmx@db.example.org/trmx?sslmode=require'\n");
}

int cmd_config(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("config", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("config", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("config", "what to do? get, set, unset or list");
	const char *what = argv[optind];
	int want = !strcmp(what, "set") ? 2 : !strcmp(what, "list") ? 0 : (!strcmp(what, "get") || !strcmp(what, "unset")) ? 1 : -1;
	if (want < 0)
		return cli_usage_error("config", "'%s' is not a config command: get, set, unset, list", what);
	if (argc - optind - 1 != want)
		return cli_usage_error("config", "%s takes %s", what,
				       want == 2 ? "KEY VALUE" : want == 1 ? "KEY" : "no argument");
	trmx_error err = { 0, "" };
	char *home = NULL, *value = NULL;
	int rc = CLI_OK;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	const char *key = want ? argv[optind + 1] : NULL;
	if (!strcmp(what, "get")) {
		if (trmx_home_config_get(home, key, &value, &err) < 0)
			rc = cli_fail(&err);
		else if (value)
			printf("%s\n", value);
		else
			rc = CLI_FAIL; /* unset: nothing printed, as git config does */
	} else if (!strcmp(what, "set") || !strcmp(what, "unset")) {
		if (trmx_home_config_set(home, key, want == 2 ? argv[optind + 2] : NULL, &err) < 0)
			rc = cli_fail(&err);
	} else {
		for (const char *const *k = trmx_home_config_keys(); *k && rc == CLI_OK; k++) {
			if (trmx_home_config_get(home, *k, &value, &err) < 0) {
				rc = cli_fail(&err);
				break;
			}
			if (value) {
				char *shown = !strcmp(*k, "log.url") ? trmx_log_url_masked(value) : NULL;
				printf("%s=%s\n", *k, shown ? shown : value);
				free(shown);
			}
			free(value);
			value = NULL;
		}
	}
	free(value);
	free(home);
	return rc;
}
