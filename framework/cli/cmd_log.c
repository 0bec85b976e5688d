/*
 * cmd_log.c — `trmx log migrate|status|push`: bring a home's log (log.db or the central log) to
 * this trmx's schema (writers migrate when they open it; readers never do, so a log made by an
 * older trmx is migrated here, once, by someone who may write it); show where the log is and
 * what waits in a central log's outbox; push the outbox.
 */
#define _GNU_SOURCE /* asprintf */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <jansson.h>

#include "cli/cli.h"
#include "trmx/log.h"

enum { OPT_HOME = 256, OPT_JSON };

static void help(void)
{
	printf("usage: trmx log migrate|status|push [options]\n"
	       "The usage log itself: TRMX_HOME/log.db, or the central PostgreSQL log that log.url names\n"
	       "(trmx config, docs/SCHEMA.md).\n"
	       "  migrate  apply the schema migrations this trmx knows (each in its own transaction);\n"
	       "           readers such as trmx sql and trmx report refuse an older log until then\n"
	       "  status   where the log is, whether a central log answers, and what waits in the outbox\n"
	       "           (TRMX_HOME/log-outbox.db: runs and feedback written while it did not)\n"
	       "  push     move the outbox's rows into the central log, runs first, each chunk committed\n"
	       "           there before it leaves the outbox (never lost, never twice); trmx serve does\n"
	       "           this by itself in the background\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --json       one JSON object (status, push)\n"
	       "  -h, --help       this help\n"
	       "Exit codes: 0 ok; 1 failure (push: the central log out of reach, or rows it refused)\n");
}

static int status(trmx_log_db *log, bool json)
{
	trmx_log_status_info st;
	trmx_error err = { 0, "" };
	if (trmx_log_status(log, &st, &err) < 0)
		return cli_fail(&err);
	if (json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:b}", "backend", st.central ? "postgresql" : "sqlite", "log", st.where,
				      "host", st.host, "reachable", st.reachable);
		if (o && st.central) {
			json_object_set_new(o, "outbox", json_string(st.outbox));
			json_object_set_new(o, "outbox_runs", json_integer(st.outbox_runs));
			json_object_set_new(o, "outbox_feedback", json_integer(st.outbox_feedback));
			json_object_set_new(o, "oldest", st.oldest[0] ? json_string(st.oldest) : json_null());
			json_object_set_new(o, "error", st.last_error[0] ? json_string(st.last_error) : json_null());
		}
		return cli_json_print(o);
	}
	printf("log:      %s (%s)\n", st.where, st.central ? "central, PostgreSQL" : "SQLite");
	printf("host:     %s\n", st.host);
	if (!st.central)
		return CLI_OK;
	printf("reached:  %s\n", st.reachable ? "yes" : "no");
	if (!st.reachable)
		printf("error:    %s\n", st.last_error);
	printf("outbox:   %lld runs, %lld feedback rows waiting%s%s%s\n", (long long)st.outbox_runs,
	       (long long)st.outbox_feedback, st.oldest[0] ? " (oldest " : "", st.oldest, st.oldest[0] ? ")" : "");
	return CLI_OK;
}

int cmd_log(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case OPT_JSON: json = cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("log", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("log", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("log", "what to do? migrate, status or push");
	const char *what = argv[optind];
	if (strcmp(what, "migrate") && strcmp(what, "status") && strcmp(what, "push"))
		return cli_usage_error("log", "'%s' is not a log command: migrate, status, push", what);
	if (optind + 1 < argc)
		return cli_usage_error("log", "unexpected argument '%s'", argv[optind + 1]);
	trmx_error err = { 0, "" };
	char *home = NULL, *path = NULL, *url = NULL;
	trmx_log_db *log = NULL;
	int rc = CLI_OK;
	struct stat st;
	if (trmx_home_resolve(home_opt, &home, &err) < 0 || trmx_home_config_get(home, "log.url", &url, &err) < 0) {
		rc = cli_fail(&err);
	} else if (!getenv("TRMX_LOG_URL") && (!url || !strcmp(url, "sqlite")) &&
		   (asprintf(&path, "%s/log.db", home) < 0 || stat(path, &st) != 0)) {
		fprintf(stderr, "trmx log: no usage log at %s/log.db (nothing has run in this home)\n", home);
		rc = CLI_FAIL;
	} else if (trmx_log_open(&log, home, NULL, &err) < 0) {
		rc = cli_fail(&err);
	} else if (!strcmp(what, "status")) {
		rc = status(log, json);
	} else if (!strcmp(what, "push")) {
		size_t pushed = 0;
		int r = trmx_log_push(log, &pushed, &err);
		if (json) {
			json_t *o = json_pack("{s:s,s:I}", "log", trmx_log_path(log), "pushed", (json_int_t)pushed);
			if (o && r < 0)
				json_object_set_new(o, "error", json_string(err.message));
			rc = cli_json_print(o);
			rc = r < 0 ? CLI_FAIL : rc;
		} else {
			printf("%zu rows pushed to %s\n", pushed, trmx_log_path(log));
			if (r < 0)
				rc = cli_fail(&err);
		}
	} else {
		trmx_log_status_info si;
		if (trmx_log_status(log, &si, &err) == 0 && si.central && !si.reachable)
			rc = cli_failf("%s is out of reach: %s", si.where, si.last_error);
		else
			printf("%s: at this trmx's schema\n", trmx_log_path(log));
	}
	trmx_log_free(log);
	free(path);
	free(url);
	free(home);
	return rc;
}
