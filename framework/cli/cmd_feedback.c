/*
 * cmd_feedback.c — `trmx feedback RUN_ID --verdict correct|incorrect|partial`: a learner's or an
 * instructor's verdict on a logged run, with the corrected answer (read by the codec, passed
 * by its checker, written in its one-line form: trmx_log_correction_check), a score and a comment.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx feedback RUN_ID --verdict correct|incorrect|partial [options]\n"
	       "Record a verdict on a logged run (trmx run prints its run id). The corrected answer is\n"
	       "read with the run's task codec, must pass the task's checker against the run's puzzle\n"
	       "(and, with --verdict incorrect, differ from the model's answer), and is kept in its\n"
	       "one-line form: it becomes training data (view `corrections` of log.db).\n"
	       "Options:\n"
	       "      --home DIR          TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --verdict V         correct, incorrect or partial (required)\n"
	       "  -e, --expected ANSWER   the right answer (text, @FILE, or '-')\n"
	       "      --score S           a score in [0, 1]\n"
	       "      --source S          learner or instructor (default instructor)\n"
	       "      --comment TEXT      a comment\n"
	       "      --id UUID           the feedback's id (a retry with the same id is recorded once)\n"
	       "      --json              the result as one JSON object (docs/CLI-JSON.md)\n"
	       "  -h, --help              this help\n");
}

enum { OPT_HOME = 256, OPT_SOURCE, OPT_ID, OPT_JSON };

int cmd_feedback(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME }, { "verdict", required_argument, NULL, 'v' },
		{ "expected", required_argument, NULL, 'e' },  { "score", required_argument, NULL, 's' },
		{ "source", required_argument, NULL, OPT_SOURCE }, { "comment", required_argument, NULL, 'c' },
		{ "id", required_argument, NULL, OPT_ID },     { "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *verdict = NULL, *expected = NULL, *comment = NULL, *id = NULL, *source = "instructor";
	double score = NAN;
	int c;
	opterr = 0;
	optind = 1;
	/* --verdict, --score and --comment are long only: -v is the global --verbose, -s gen's --size,
	 * -c --context (docs/CLI.md, one meaning per letter) */
	while ((c = getopt_long(argc, argv, ":e:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case 'v': verdict = optarg; break;
		case 'e': expected = optarg; break;
		case 's':
			if (!cli_parse_double("feedback", "--score", optarg, 0.0, 1.0, &score))
				return CLI_USAGE;
			break;
		case OPT_SOURCE: source = optarg; break;
		case 'c': comment = optarg; break;
		case OPT_ID: id = optarg; break;
		case OPT_JSON: cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("feedback", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("feedback", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("feedback", "expects one RUN_ID");
	const char *run_id = argv[optind];
	trmx_error err = { 0, "" };
	trmx_feedback_record f = TRMX_FEEDBACK_RECORD_INIT;
	if (!verdict)
		return cli_usage_error("feedback", "--verdict is required (correct, incorrect or partial)");
	if (trmx_feedback_verdict_parse(verdict, &f.verdict, &err) < 0)
		return cli_usage_error("feedback", "--verdict: %s", err.message);
	if (trmx_feedback_source_parse(source, &f.source, &err) < 0 ||
	    (f.source != TRMX_FEEDBACK_LEARNER && f.source != TRMX_FEEDBACK_INSTRUCTOR))
		return cli_usage_error("feedback", "--source is learner or instructor, not '%s'", source);
	if (!trmx_uuid_valid(run_id))
		return cli_usage_error("feedback", "'%s' is not a run id (a UUID)", run_id);
	if (id && !trmx_uuid_valid(id))
		return cli_usage_error("feedback", "--id wants a UUID, not '%s'", id);

	char *home_dir = NULL, *text = NULL, *canon = NULL;
	trmx_log_db *log = NULL;
	int rc = CLI_FAIL;
	trmx_run_info run;
	if (trmx_home_resolve(home, &home_dir, &err) < 0 || trmx_log_open(&log, home_dir, NULL, &err) < 0 ||
	    trmx_log_run_get(log, run_id, &run, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (expected) {
		size_t len = 0;
		if (!(text = cli_read_text(expected, &len)))
			goto done;
		if (trmx_log_correction_check(log, &run, f.verdict, text, len, &canon, &err) < 0) {
			trmx_error e2 = { err.code, "" }; /* the code kept for --json */
			snprintf(e2.message, sizeof e2.message, "--expected: %.*s", (int)sizeof e2.message - 13, err.message);
			rc = cli_fail(&e2);
			goto done;
		}
	}
	if (id)
		snprintf(f.id, sizeof f.id, "%s", id);
	else
		trmx_uuid7(f.id); /* made here so --json can name it (as the log would: a new row) */
	f.run_id = run.id;
	f.score = score;
	f.expected = canon;
	f.comment = comment;
	size_t added = 0;
	if (trmx_log_feedback(log, &f, 1, &added, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (cli_json_errors) { /* the object of POST /v1/runs/ID/feedback (docs/CLI-JSON.md) */
		rc = cli_json_print(json_pack("{s:s,s:s,s:b,s:s,s:s,s:o}", "feedback_id", f.id, "run_id", run.id, "recorded",
					      added > 0, "verdict", trmx_feedback_verdict_name(f.verdict), "source",
					      trmx_feedback_source_name(f.source), "expected",
					      canon ? json_string(canon) : json_null()));
		goto done;
	}
	printf("%s on run %s (%s %s%s%s): %s%s%s\n", added ? "recorded" : "already recorded", run.id, run.module,
	       run.module_version, run.context[0] ? ", context " : "", run.context, trmx_feedback_verdict_name(f.verdict),
	       f.source == TRMX_FEEDBACK_LEARNER ? " (learner)" : " (instructor)", canon ? ", expected answer kept" : "");
	rc = CLI_OK;
done:
	trmx_task_text_free(canon);
	free(text);
	trmx_log_free(log);
	free(home_dir);
	return rc;
}
