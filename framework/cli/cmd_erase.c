/*
 * cmd_erase.c — `trmx erase --learner ID` and `trmx purge --older-than
 * DURATION`: privacy and retention (trmx/report.h). Both remove runs with their
 * feedback from log.db and the rows of the module databases that refer to them,
 * and record the counts (never the content) in `erasures`.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/report.h"

static void erase_help(void)
{
	printf("usage: trmx erase --learner ID [options]\n"
	       "       trmx erase --pseudonym HEX [options]\n"
	       "Delete a learner's runs and every feedback on them from the usage "
	       "log, and the rows of every\n"
	       "module database that refer to those runs (a run_id column) or hold "
	       "the learner's pseudonym (a\n"
	       "learner column). The learner is found by pseudonym (the HMAC of ID "
	       "with this installation's\n"
	       "secret), so give the same ID the runs were made with. Deleted "
	       "content is overwritten; the log's\n"
	       "table `erasures` keeps the counts, not who was erased.\n"
	       "Options:\n"
	       "      --home DIR        TRMX_HOME (default: $TRMX_HOME, else "
	       "~/.local/share/trmx)\n"
	       "      --learner ID      the learner's id as given to trmx run "
	       "--learner\n"
	       "      --pseudonym HEX   the pseudonym itself (64 hex digits, as in "
	       "runs.learner)\n"
	       "      --dry-run         count only\n"
	       "      --json            the counts as one JSON object (docs/CLI-JSON.md)\n"
	       "  -h, --help            this help\n");
}

static void purge_help(void)
{
	printf("usage: trmx purge --older-than DURATION [options]\n"
	       "Delete every run older than DURATION (90min, 12h, 30d, 12w, 6mo, 1y, 1d12h; never a bare\n"
	       "m: write min or mo) with its "
	       "feedback and the module rows\n"
	       "that refer to it; the log's table `erasures` records the counts and "
	       "the cutoff.\n"
	       "Options:\n"
	       "      --home DIR             TRMX_HOME (default: $TRMX_HOME, else "
	       "~/.local/share/trmx)\n"
	       "      --older-than DURATION  runs older than this are removed\n"
	       "      --before T             or: runs before this time (2025-01-01, "
	       "2025-01-01T00:00Z)\n"
	       "      --dry-run              count only\n"
	       "  -y, --yes                  do not ask: on a terminal, purge first says how many runs\n"
	       "                             it would remove and asks; without a terminal on standard\n"
	       "                             input (scripts, cron) it never asks and goes ahead\n"
	       "      --json                 the counts as one JSON object (docs/CLI-JSON.md)\n"
	       "  -h, --help                 this help\n");
}

/* On a terminal, say what a purge would remove and ask; anything but y or yes declines. Without a
 * terminal there is nobody to ask: a script or cron job purges as before. */
static bool purge_confirmed(const char *home, int64_t cutoff, trmx_error *err, int *rc)
{
	if (!isatty(STDIN_FILENO))
		return true;
	trmx_erase_result r;
	if (trmx_purge_before(home, cutoff, true, &r, err) < 0) {
		*rc = cli_fail(err);
		return false;
	}
	char when[32] = "?", line[16] = "";
	time_t t = (time_t)(cutoff / 1000);
	struct tm tm;
	if (gmtime_r(&t, &tm))
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	fprintf(stderr, "purge: remove %lld runs before %s, %lld feedback rows and %lld module rows? [y/N] ",
		(long long)r.runs, when, (long long)r.feedback, (long long)r.module_rows);
	if (!fgets(line, sizeof line, stdin) || !(!strcmp(line, "y\n") || !strcmp(line, "yes\n") ||
						  !strcmp(line, "Y\n"))) {
		fprintf(stderr, "purge: nothing removed (--yes purges without asking)\n");
		*rc = CLI_FAIL;
		return false;
	}
	return true;
}

static void print_result(const char *what, const trmx_erase_result *r, bool dry)
{
	if (cli_json_errors) { /* docs/CLI-JSON.md */
		cli_json_print(json_pack("{s:b,s:I,s:I,s:I,s:i}", "dry_run", dry, "runs", (json_int_t)r->runs, "feedback",
					 (json_int_t)r->feedback, "module_rows", (json_int_t)r->module_rows, "databases",
					 r->databases));
		return;
	}
	printf("%s%s %lld runs, %lld feedback rows, %lld rows in %d module "
	       "database%s%s\n",
	       what, dry ? " (dry run) would remove" : " removed", (long long)r->runs, (long long)r->feedback,
	       (long long)r->module_rows, r->databases, r->databases == 1 ? "" : "s", dry ? "" : "; recorded in erasures");
}

/* --dry-run and --learner have no short forms: -n is a number everywhere else (gen's count, the
 * steps of eval, run, solve, forward and train), -l a limit (eval, history); docs/CLI.md. */
enum { OPT_HOME = 256, OPT_PSEUDONYM, OPT_OLDER, OPT_BEFORE, OPT_DRY_RUN, OPT_LEARNER, OPT_JSON };

int cmd_erase(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "learner", required_argument, NULL, OPT_LEARNER },
		{ "pseudonym", required_argument, NULL, OPT_PSEUDONYM },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *learner = NULL, *pseudonym = NULL;
	bool dry = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case OPT_LEARNER: learner = optarg; break;
		case OPT_PSEUDONYM: pseudonym = optarg; break;
		case OPT_JSON: cli_json_errors = true; break;
		case OPT_DRY_RUN: dry = true; break;
		case 'h': erase_help(); return CLI_OK;
		case ':': return cli_usage_error("erase", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("erase", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("erase", "unexpected argument '%s'", argv[optind]);
	if (!learner == !pseudonym)
		return cli_usage_error("erase", "give either --learner ID or --pseudonym HEX");
	if (learner && !*learner)
		return cli_usage_error("erase", "--learner needs a non-empty id");
	trmx_error err = { 0, "" };
	char *home = NULL, who[TRMX_PSEUDONYM_SIZE];
	trmx_log_db *log = NULL;
	trmx_erase_result r;
	int rc = CLI_OK;
	if (trmx_home_resolve(home_opt, &home, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (learner) {
		if (trmx_log_open(&log, home, NULL, &err) < 0 || trmx_log_pseudonym(log, learner, who, &err) < 0) {
			rc = cli_fail(&err);
			goto done;
		}
		trmx_log_free(log);
		log = NULL;
	} else {
		snprintf(who, sizeof who, "%s", pseudonym);
		if (strlen(pseudonym) != TRMX_PSEUDONYM_SIZE - 1) {
			rc = cli_usage_error("erase", "--pseudonym wants 64 hex digits");
			goto done;
		}
	}
	if (trmx_erase_learner(home, who, dry, &r, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	print_result("erase:", &r, dry);
done:
	trmx_log_free(log);
	free(home);
	return rc;
}

int cmd_purge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "older-than", required_argument, NULL, OPT_OLDER },
		{ "before", required_argument, NULL, OPT_BEFORE },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "yes", no_argument, NULL, 'y' },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	int64_t cutoff = 0, d;
	bool dry = false, given = false, yes = false;
	trmx_error err = { 0, "" };
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":yh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 'y': yes = true; break;
		case OPT_JSON: cli_json_errors = true; break;
		case OPT_OLDER:
			if (given)
				return cli_usage_error("purge", "give one of --older-than and --before");
			if (trmx_duration_parse(optarg, &d, &err) < 0)
				return cli_usage_error("purge", "--older-than: %s", err.message);
			cutoff = trmx_time_parse("now", 0, &cutoff, NULL) == 0 ? cutoff - d : 0;
			given = true;
			break;
		case OPT_BEFORE:
			if (given)
				return cli_usage_error("purge", "give one of --older-than and --before");
			if (trmx_time_parse(optarg, 0, &cutoff, &err) < 0)
				return cli_usage_error("purge", "--before: %s", err.message);
			given = true;
			break;
		case OPT_DRY_RUN: dry = true; break;
		case 'h': purge_help(); return CLI_OK;
		case ':': return cli_usage_error("purge", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("purge", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("purge", "unexpected argument '%s'", argv[optind]);
	if (!given)
		return cli_usage_error("purge", "how old? give --older-than DURATION (30d, 1y) or --before T");
	char *home = NULL;
	trmx_erase_result r;
	int rc = CLI_OK;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		rc = cli_fail(&err);
	else if (!dry && !yes && !purge_confirmed(home, cutoff, &err, &rc))
		; /* declined, or the count failed: said so */
	else if (trmx_purge_before(home, cutoff, dry, &r, &err) < 0)
		rc = cli_fail(&err);
	else
		print_result("purge:", &r, dry);
	free(home);
	return rc;
}
