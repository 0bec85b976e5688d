/*
 * cmd_export.c — `trmx export xapi|dataset`: the usage log as xAPI 1.0.3
 * statements (JSON lines, schemas/xapi.md), or the corrected answers of a
 * module as a training data set (the CSV that `trmx train` reads as data.file
 * or data.mix.file); or the statements sent to a learning record store
 * (--lrs: everything past the LRS's cursor in the log). trmx/report.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/report.h"

static void help(void)
{
	printf("usage: trmx export xapi [options]\n"
	       "       trmx export xapi --lrs URL [--auth USER:PASSWORD] [--base IRL]\n"
	       "       trmx export dataset --module M [options]\n"
	       "xapi: one xAPI 1.0.3 statement per run: the learner (a pseudonymous account) requested a\n"
	       "  solution of the context, and the module version (context.team) answered; result:\n"
	       "  completion and duration, the module's answer and its verdict as extensions, never the\n"
	       "  learner's success; context extensions: module, version, digest, steps, arm. Then one\n"
	       "  per feedback (verb reviewed, by the learner or the source, object a StatementRef to\n"
	       "  its run's statement), as JSON lines. Ids are stable: exporting twice gives the same ids.\n"
	       "  The mapping: schemas/xapi.md.\n"
	       "xapi --lrs: POST the statements to the learning record store at URL (URL/statements,\n"
	       "  xAPI 1.0.3, batches of 100), everything the LRS has not taken yet: log.db keeps a cursor\n"
	       "  per LRS, so a second run sends only what is new, and an interrupted one resends its\n"
	       "  last batch as it was (the LRS keeps one copy: ids are stable). Network errors, 5xx and\n"
	       "  429 are retried (1 s doubling to 60 s, or the LRS's Retry-After); 409 and other 4xx\n"
	       "  stop with the LRS's message. docs/ANALYTICS.md.\n"
	       "dataset: every run of module M with an expected (corrected) answer "
	       "as CSV puzzle,solution, one row\n"
	       "  per distinct puzzle (the best answer: an instructor's, then a "
	       "learner's, the newest first),\n"
	       "  answers the task's checker calls invalid left out. Feed it to trmx "
	       "train (data.mix.file).\n"
	       "Options:\n"
	       "      --home DIR        TRMX_HOME (default: $TRMX_HOME, else "
	       "~/.local/share/trmx)\n"
	       "      --since T         runs (xapi) or feedback (dataset) at or "
	       "after T: a date, a time, or 7d (ago)\n"
	       "      --until T         before T\n"
	       "  -m, --module M        only this module (required for dataset)\n"
	       "  -c, --context CTX     xapi: only this context\n"
	       "      --base IRL        xapi: the IRL trmx's IRIs hang from (default "
	       "https://trmx.invalid)\n"
	       "      --with-eval       dataset: also take evaluations' expected "
	       "answers\n"
	       "      --no-check        dataset: keep answers the checker calls "
	       "invalid\n"
	       "  -o, --output FILE     write there instead of standard output\n"
	       "      --lrs URL         xapi: send to this LRS instead of writing a file\n"
	       "      --auth USER:PASS  the LRS's HTTP Basic credentials (default: $TRMX_XAPI_AUTH)\n"
	       "      --retries N       failed attempts in a row before giving up (default 6, about a\n"
	       "                        minute; 0: none)\n"
	       "  -h, --help            this help\n");
}

enum { OPT_HOME = 256, OPT_SINCE, OPT_UNTIL, OPT_BASE, OPT_EVAL, OPT_NOCHECK, OPT_LRS, OPT_AUTH, OPT_RETRIES };

/* A line rewritten in place on a terminal, a line per batch elsewhere (a log file). */
static void lrs_progress(void *user, int64_t sent, int64_t pending)
{
	bool *progress_shown = user;
	bool tty = isatty(STDERR_FILENO);
	fprintf(stderr, "%ssent %lld of %lld statements%s", tty ? "\r" : "", (long long)sent, (long long)(sent + pending),
		tty ? "" : "\n");
	*progress_shown = tty;
	fflush(stderr);
}

static bool lrs_wait(void *user, double seconds, const char *why)
{
	bool *progress_shown = user;
	fprintf(stderr, "%sthe LRS failed (%s); retrying in %.0f s\n", *progress_shown ? "\n" : "", why, seconds);
	*progress_shown = false;
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return true;
}

/* Everything past the LRS's cursor, with progress on standard error. */
static int send_lrs(const char *home, const char *url, const char *auth, const char *base, int retries)
{
	trmx_error err = { 0, "" };
	trmx_lrs_options o = TRMX_LRS_OPTIONS_INIT;
	bool shown = false;
	o.url = url, o.auth = auth, o.base = base, o.retries = retries;
	o.progress = lrs_progress, o.wait = lrs_wait, o.user = &shown;
	trmx_lrs *l = NULL;
	int64_t total = 0;
	if (trmx_lrs_open(&l, home, &o, &err) < 0 || trmx_lrs_pending(l, &total, &err) < 0) {
		trmx_lrs_free(l);
		return cli_fail(&err);
	}
	if (total > 0)
		fprintf(stderr, "sending to %s\n", trmx_lrs_endpoint(l));
	trmx_lrs_result res = { 0 };
	int rc = trmx_lrs_sync(l, &res, &err);
	if (shown)
		fputc('\n', stderr);
	if (rc < 0) {
		trmx_lrs_free(l);
		return cli_fail(&err);
	}
	if (res.sent == 0)
		fprintf(stderr, "0 statements: the LRS has everything (%s)\n", trmx_lrs_endpoint(l));
	else
		fprintf(stderr, "%lld statements sent to %s%s\n", (long long)res.sent, trmx_lrs_endpoint(l),
			res.retries ? " (after retries)" : "");
	trmx_lrs_free(l);
	return CLI_OK;
}

int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "since", required_argument, NULL, OPT_SINCE },
		{ "until", required_argument, NULL, OPT_UNTIL },
		{ "module", required_argument, NULL, 'm' },
		{ "context", required_argument, NULL, 'c' },
		{ "base", required_argument, NULL, OPT_BASE },
		{ "with-eval", no_argument, NULL, OPT_EVAL },
		{ "no-check", no_argument, NULL, OPT_NOCHECK },
		{ "output", required_argument, NULL, 'o' },
		{ "lrs", required_argument, NULL, OPT_LRS },
		{ "auth", required_argument, NULL, OPT_AUTH },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *module = NULL, *context = NULL, *base = NULL, *out = NULL, *lrs = NULL, *auth = NULL;
	long retries = 6;
	int64_t since = 0, until = 0;
	bool with_eval = false, check = true;
	trmx_error err = { 0, "" };
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":m:c:o:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case OPT_SINCE:
			if (trmx_time_parse(optarg, 0, &since, &err) < 0)
				return cli_usage_error("export", "--since: %s", err.message);
			break;
		case OPT_UNTIL:
			if (trmx_time_parse(optarg, 0, &until, &err) < 0)
				return cli_usage_error("export", "--until: %s", err.message);
			break;
		case 'm': module = optarg; break;
		case 'c': context = optarg; break;
		case OPT_BASE: base = optarg; break;
		case OPT_EVAL: with_eval = true; break;
		case OPT_NOCHECK: check = false; break;
		case 'o': out = optarg; break;
		case OPT_LRS: lrs = optarg; break;
		case OPT_AUTH: auth = optarg; break;
		case OPT_RETRIES:
			if (!cli_parse_int("export", "--retries", optarg, 0, 1000, &retries))
				return CLI_USAGE;
			break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("export", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("export", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("export", "what to export? xapi or dataset");
	const char *what = argv[optind];
	bool xapi = !strcmp(what, "xapi");
	if (!xapi && strcmp(what, "dataset"))
		return cli_usage_error("export", "'%s' is not an export: xapi or dataset", what);
	if (argc - optind > 1)
		return cli_usage_error("export", "unexpected argument '%s'", argv[optind + 1]);
	if (!xapi && !module)
		return cli_usage_error("export", "dataset needs --module M");
	if (!xapi && (context || base))
		return cli_usage_error("export", "--context and --base go with xapi");
	if (xapi && (with_eval || !check))
		return cli_usage_error("export", "--with-eval and --no-check go with dataset");
	if (since && until && until <= since)
		return cli_usage_error("export", "--until must be after --since");
	if ((lrs || auth) && !xapi)
		return cli_usage_error("export", "--lrs and --auth go with xapi");
	if (auth && !lrs)
		return cli_usage_error("export", "--auth goes with --lrs URL");
	if (lrs && (out || since || until || context || module))
		return cli_usage_error("export", "--lrs sends everything the LRS has not taken yet: -o, --since, --until, "
						 "--context and --module go with a file export");
	char *home = NULL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	if (lrs) {
		const char *env = getenv("TRMX_XAPI_AUTH");
		int rc = send_lrs(home, lrs, auth ? auth : env && *env ? env : NULL, base, (int)retries);
		free(home);
		return rc;
	}
	FILE *f = stdout;
	if (out && strcmp(out, "-") && !(f = fopen(out, "w"))) {
		free(home);
		return cli_failf("cannot write %s: %s", out, strerror(errno));
	}
	trmx_export_result res = { 0 };
	int rc;
	if (xapi) {
		trmx_xapi_options xo = TRMX_XAPI_OPTIONS_INIT;
		xo.since_ms = since, xo.until_ms = until, xo.module = module, xo.context = context, xo.base = base;
		rc = trmx_export_xapi(home, &xo, f, &res, &err);
	} else {
		trmx_dataset_export_options dopt = TRMX_DATASET_EXPORT_OPTIONS_INIT;
		dopt.module = module, dopt.since_ms = since, dopt.until_ms = until, dopt.check = check;
		dopt.sources =
			TRMX_EXPORT_FROM_INSTRUCTOR | TRMX_EXPORT_FROM_LEARNER | (with_eval ? TRMX_EXPORT_FROM_EVAL : 0);
		rc = trmx_export_dataset(home, &dopt, f, &res, &err);
	}
	int crc = f == stdout ? fflush(f) : fclose(f);
	free(home);
	if (rc < 0)
		return cli_fail(&err);
	if (crc != 0)
		return cli_failf("cannot write %s", out ? out : "the output");
	if (xapi)
		fprintf(stderr, "exported %lld run and %lld feedback statements\n", (long long)res.runs,
			(long long)res.feedback);
	else
		fprintf(stderr,
			"exported %lld rows from %lld corrections (%lld duplicates merged, "
			"%lld rejected)\n",
			(long long)res.rows, (long long)res.runs, (long long)res.duplicates, (long long)res.rejected);
	return CLI_OK;
}
