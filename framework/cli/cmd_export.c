/*
 * cmd_export.c — `trmx export xapi|dataset`: the usage log as xAPI 1.0.3
 * statements (JSON lines, schemas/xapi.md), or the corrected answers of a
 * module as a training data set (the CSV that `trmx train` reads as data.file
 * or data.mix.file). trmx/report.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "trmx/report.h"

static void help(void)
{
	printf("usage: trmx export xapi [options]\n"
	       "       trmx export dataset --module M [options]\n"
	       "xapi: one xAPI 1.0.3 statement per run (actor: the learner's "
	       "pseudonymous account; verb answered;\n"
	       "  object: the context; result: success, score.scaled, duration, "
	       "response; context extensions:\n"
	       "  module, version, digest, steps, arm), then one per feedback (verb "
	       "reviewed, object a StatementRef\n"
	       "  to its run's statement), as JSON lines. Ids are stable: exporting "
	       "twice gives the same ids.\n"
	       "  The mapping: schemas/xapi.md.\n"
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
	       "  -h, --help            this help\n");
}

enum { OPT_HOME = 256, OPT_SINCE, OPT_UNTIL, OPT_BASE, OPT_EVAL, OPT_NOCHECK };

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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *module = NULL, *context = NULL, *base = NULL, *out = NULL;
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
	char *home = NULL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
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
