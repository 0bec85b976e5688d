/*
 * cmd_log.c — `trmx log migrate`: bring a home's log.db to this trmx's schema. Commands that
 * write the log migrate it when they open it; readers (sql, report, export, history) never do,
 * so a log made by an older trmx is migrated here, once, by someone who may write the home.
 */
#define _GNU_SOURCE /* asprintf */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "trmx/log.h"

enum { OPT_HOME = 256 };

static void help(void)
{
	printf("usage: trmx log migrate [options]\n"
	       "Apply the schema migrations this trmx knows to the home's usage log (log.db), each in its\n"
	       "own transaction; readers such as trmx sql and trmx report refuse an older log until then.\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "  -h, --help       this help\n");
}

int cmd_log(int argc, char **argv)
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
		case ':': return cli_usage_error("log", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("log", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("log", "what to do? migrate");
	if (strcmp(argv[optind], "migrate"))
		return cli_usage_error("log", "'%s' is not a log command: migrate", argv[optind]);
	if (optind + 1 < argc)
		return cli_usage_error("log", "unexpected argument '%s'", argv[optind + 1]);
	trmx_error err = { 0, "" };
	char *home = NULL, *path = NULL;
	trmx_log_db *log = NULL;
	int rc = CLI_OK;
	struct stat st;
	if (trmx_home_resolve(home_opt, &home, &err) < 0) {
		rc = cli_fail(&err);
	} else if (asprintf(&path, "%s/log.db", home) < 0 || stat(path, &st) != 0) {
		fprintf(stderr, "trmx log: no usage log at %s/log.db (nothing has run in this home)\n", home);
		rc = CLI_FAIL;
	} else if (trmx_log_open(&log, home, NULL, &err) < 0) {
		rc = cli_fail(&err);
	} else {
		printf("%s: at this trmx's schema\n", path);
	}
	trmx_log_free(log);
	free(path);
	free(home);
	return rc;
}
