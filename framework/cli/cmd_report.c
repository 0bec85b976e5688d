/*
 * cmd_report.c — `trmx report`: the analyst's report of the usage log
 * (trmx/report.h) as text, CSV, JSON or one self-contained HTML page with
 * inline SVG charts; and `trmx sql`, one read-only SQL statement over the log
 * with the registry and the module databases attached.
 */
#include <errno.h>
#include <getopt.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/report.h"

static void report_help(void)
{
	printf("usage: trmx report [options]\n"
	       "For each module version in each context: runs, learners, exact "
	       "accuracy from the best verdict\n"
	       "available (expected answer > instructor > checker > learner) with "
	       "its 95%% Wilson interval, mean\n"
	       "and distribution of ACT steps, latency p50 and p95, corrections "
	       "received; the calibration of the\n"
	       "Q head's halt confidence; and for a context with a canary, the "
	       "canary against the champion with a\n"
	       "verdict: better, worse, or not yet known (with the judged runs still "
	       "needed). docs/ANALYTICS.md.\n"
	       "Options:\n"
	       "      --home DIR        TRMX_HOME (default: $TRMX_HOME, else "
	       "~/.local/share/trmx)\n"
	       "  -c, --context CTX     only this context ('' : runs without a "
	       "context;\n"
	       "                        'course/*': every context starting with course/)\n"
	       "  -m, --module NAME     only this module\n"
	       "      --learner ID      only this learner's runs: the LMS's user id (or whatever trmx run\n"
	       "                        --learner and the server were given), pseudonymised with this\n"
	       "                        home's secret as the log was\n"
	       "      --pseudonym HEX   only the runs of this pseudonym (64 hex digits, as in log.db)\n"
	       "      --since T         runs at or after T: 2025-11-29, "
	       "2025-11-29T09:30Z, now, or 7d (ago)\n"
	       "      --until T         runs before T\n"
	       "      --kind K          run, eval or selftest (repeatable; default: run,\n"
	       "                        the learners' runs; the text report then adds the\n"
	       "                        evaluations (trmx eval) in a section of their own)\n"
	       "      --bins N          calibration bins (default 10, at most %d)\n"
	       "  -f, --format F        text (default), csv, json or html\n"
	       "      --table T         CSV table: groups (default), versions, "
	       "steps, calibration, accuracy, canary\n"
	       "  -o, --output FILE     write there instead of standard output\n"
	       "  -h, --help            this help\n",
	       TRMX_REPORT_BINS_MAX);
}

enum { OPT_HOME = 256, OPT_SINCE, OPT_UNTIL, OPT_KIND, OPT_BINS, OPT_TABLE, OPT_LEARNER, OPT_PSEUDONYM };

/* Open -o FILE or standard output; NULL (printed) on failure. */
static FILE *open_out(const char *path)
{
	if (!path || !strcmp(path, "-"))
		return stdout;
	FILE *f = fopen(path, "w");
	if (!f)
		cli_failf("cannot write %s: %s", path, strerror(errno));
	return f;
}

static int close_out(FILE *f, const char *path)
{
	if (f == stdout)
		return fflush(f) == 0 ? CLI_OK : cli_failf("cannot write the output");
	if (fclose(f) != 0)
		return cli_failf("cannot write %s: %s", path, strerror(errno));
	return CLI_OK;
}

int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "context", required_argument, NULL, 'c' },
		{ "module", required_argument, NULL, 'm' },
		{ "learner", required_argument, NULL, OPT_LEARNER },
		{ "pseudonym", required_argument, NULL, OPT_PSEUDONYM },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "kind", required_argument, NULL, OPT_KIND },
		{ "bins", required_argument, NULL, OPT_BINS },
		{ "format", required_argument, NULL, 'f' },
		{ "table", required_argument, NULL, OPT_TABLE },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_report_options ro = TRMX_REPORT_OPTIONS_INIT;
	trmx_report_format format = TRMX_REPORT_TEXT;
	const char *home_opt = NULL, *table = NULL, *out = NULL, *learner = NULL, *pseudonym = NULL;
	char who[TRMX_PSEUDONYM_SIZE];
	trmx_error err = { 0, "" };
	long l;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":c:m:f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 'c': ro.context = optarg; break;
		case 'm': ro.module = optarg; break;
		case OPT_LEARNER: learner = optarg; break;
		case OPT_PSEUDONYM: pseudonym = optarg; break;
		case OPT_SINCE:
			if (trmx_time_parse(optarg, 0, &ro.since_ms, &err) < 0)
				return cli_usage_error("report", "--since: %s", err.message);
			break;
		case OPT_UNTIL:
			if (trmx_time_parse(optarg, 0, &ro.until_ms, &err) < 0)
				return cli_usage_error("report", "--until: %s", err.message);
			break;
		case OPT_KIND:
			if (!strcmp(optarg, "run"))
				ro.kinds |= TRMX_REPORT_KIND_RUN;
			else if (!strcmp(optarg, "eval"))
				ro.kinds |= TRMX_REPORT_KIND_EVAL;
			else if (!strcmp(optarg, "selftest"))
				ro.kinds |= TRMX_REPORT_KIND_SELFTEST;
			else
				return cli_usage_error("report", "--kind is run, eval or selftest, not '%s'", optarg);
			break;
		case OPT_BINS:
			if (!cli_parse_int("report", "--bins", optarg, 1, TRMX_REPORT_BINS_MAX, &l))
				return CLI_USAGE;
			ro.bins = (int)l;
			break;
		case 'f':
			if (trmx_report_format_parse(optarg, &format, &err) < 0)
				return cli_usage_error("report", "%s", err.message);
			break;
		case OPT_TABLE:
			if (!trmx_report_table_valid(optarg))
				return cli_usage_error("report",
						       "--table is groups, versions, steps, calibration, accuracy or "
						       "canary, not '%s'",
						       optarg);
			table = optarg;
			break;
		case 'o': out = optarg; break;
		case 'h': report_help(); return CLI_OK;
		case ':': return cli_usage_error("report", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("report", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("report", "unexpected argument '%s'", argv[optind]);
	if (table && format != TRMX_REPORT_CSV)
		return cli_usage_error("report", "--table goes with --format csv");
	if (ro.since_ms && ro.until_ms && ro.until_ms <= ro.since_ms)
		return cli_usage_error("report", "--until must be after --since");
	if (learner && pseudonym)
		return cli_usage_error("report", "give --learner ID or --pseudonym HEX, not both");
	if (learner && !*learner)
		return cli_usage_error("report", "--learner needs a non-empty id");
	if (pseudonym) {
		size_t n = strlen(pseudonym);
		if (n != TRMX_PSEUDONYM_SIZE - 1 || strspn(pseudonym, "0123456789abcdef") != n)
			return cli_usage_error("report", "--pseudonym wants 64 lowercase hex digits");
		ro.learner = pseudonym;
	}
	/* learners' runs by default: an evaluation's runs would change the learners' figures */
	bool evals_apart = !ro.kinds;
	if (!ro.kinds)
		ro.kinds = TRMX_REPORT_KIND_RUN;
	char *home = NULL;
	trmx_report *r = NULL, *ev = NULL;
	int rc = CLI_OK;
	trmx_report_options eo = ro;
	eo.kinds = TRMX_REPORT_KIND_EVAL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0) {
		free(home);
		return cli_fail(&err);
	}
	char logdb[4096];
	bool have_log = learner && (size_t)snprintf(logdb, sizeof logdb, "%s/log.db", home) < sizeof logdb &&
			access(logdb, F_OK) == 0; /* else the report says there is no log (none is made) */
	/* the pseudonym the log holds: the HMAC with this home's secret */
	if (learner && have_log) {
		trmx_log_db *log = NULL;
		int prc = trmx_log_open(&log, home, NULL, &err);
		if (prc == 0)
			prc = trmx_log_pseudonym(log, learner, who, &err);
		trmx_log_free(log);
		if (prc < 0) {
			free(home);
			return cli_fail(&err);
		}
		ro.learner = who;
	} else if (learner) {
		who[0] = '\0'; /* no log to read: a filter nothing matches, never every learner */
		ro.learner = who;
	}
	eo.learner = ro.learner;
	if (trmx_report_build(&r, home, &ro, &err) < 0 ||
	    (evals_apart && format == TRMX_REPORT_TEXT && trmx_report_build(&ev, home, &eo, &err) < 0)) {
		trmx_report_free(r);
		free(home);
		return cli_fail(&err);
	}
	FILE *f = open_out(out);
	if (!f) {
		rc = CLI_FAIL;
	} else {
		if (trmx_report_write(r, format, table, f, &err) < 0)
			rc = cli_fail(&err);
		else if (ev && trmx_report_info_get(ev)->runs) {
			fprintf(f, "\nEvaluations (trmx eval, kind eval: not in the figures above)\n");
			if (trmx_report_write(ev, format, table, f, &err) < 0)
				rc = cli_fail(&err);
		}
		int crc = close_out(f, out);
		if (rc == CLI_OK)
			rc = crc;
	}
	trmx_report_free(r);
	trmx_report_free(ev);
	free(home);
	return rc;
}

static void sql_help(void)
{
	printf("usage: trmx sql \"SELECT ...\" [options]\n"
	       "Run one read-only SQL statement on the usage log (log.db: tables "
	       "runs, feedback, erasures; views\n"
	       "run_outcomes, run_verdicts, version_summary, context_summary, "
	       "daily_usage, calibration,\n"
	       "corrections; docs/SCHEMA.md) with the registry attached as "
	       "`registry` and every module database\n"
	       "the statement names attached under its module name (quote names with "
	       "'-': \"sudoku4-tiny\".attempts).\n"
	       "Everything is opened read-only; writes, ATTACH and writing PRAGMAs "
	       "are refused. SQL '-' reads the\n"
	       "statement from standard input.\n"
	       "Options:\n"
	       "      --home DIR      TRMX_HOME (default: $TRMX_HOME, else "
	       "~/.local/share/trmx)\n"
	       "  -f, --format F      table (default), csv or json\n"
	       "      --csv, --json   the same as --format csv / json\n"
	       "      --timeout S     stop the statement after S seconds (default 30)\n"
	       "      --memory MB     the heap the statement may use (default 512)\n"
	       "  -h, --help          this help\n");
}

enum { OPT_CSV = 300, OPT_JSON, OPT_TIMEOUT, OPT_MEMORY };

int cmd_sql(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "format", required_argument, NULL, 'f' },
		{ "csv", no_argument, NULL, OPT_CSV },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_sql_format format = TRMX_SQL_TABLE;
	long timeout_s = TRMX_SQL_TIMEOUT_MS / 1000, memory_mb = TRMX_SQL_MEMORY_MB;
	const char *home_opt = NULL;
	trmx_error err = { 0, "" };
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":f:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 'f':
			if (trmx_sql_format_parse(optarg, &format, &err) < 0)
				return cli_usage_error("sql", "%s", err.message);
			break;
		case OPT_CSV: format = TRMX_SQL_CSV; break;
		case OPT_JSON: format = TRMX_SQL_JSON; break;
		case OPT_TIMEOUT:
			if (!cli_parse_int("sql", "--timeout", optarg, 1, 86400, &timeout_s))
				return CLI_USAGE;
			break;
		case OPT_MEMORY:
			if (!cli_parse_int("sql", "--memory", optarg, 16, 1 << 20, &memory_mb))
				return CLI_USAGE;
			break;
		case 'h': sql_help(); return CLI_OK;
		case ':': return cli_usage_error("sql", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("sql", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("sql", "which statement? give it as one argument, or '-' for standard input");
	if (argc - optind > 1)
		return cli_usage_error("sql", "give the statement as one argument (quote it)");
	size_t len = 0;
	char *sql = !strcmp(argv[optind], "-") ? cli_read_text("-", &len) : strdup(argv[optind]);
	char *home = NULL;
	int rc = CLI_OK;
	if (!sql)
		return CLI_FAIL;
	/* the whole process's SQLite heap: a statement that builds huge values or sorts without end
	 * gets SQLITE_NOMEM instead of the machine's memory */
	sqlite3_hard_heap_limit64((sqlite3_int64)memory_mb << 20);
	if (trmx_home_resolve(home_opt, &home, &err) < 0 ||
	    trmx_sql_query(home, sql, format, (int)(timeout_s * 1000), stdout, NULL, &err) < 0)
		rc = cli_fail(&err);
	free(home);
	free(sql);
	return rc;
}
