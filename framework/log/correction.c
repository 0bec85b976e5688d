/*
 * correction.c — a correction is checked before the log keeps it (trmx_log_correction_check): it
 * becomes the expected answer of a run, decides its accuracy in every report and is training data
 * (view `corrections`), so the task's codec must read it, its checker must pass it against the
 * run's puzzle, and "incorrect" cannot come with the model's own answer. Used by `trmx feedback`
 * and the feedback route of `trmx serve`; relies on the public task and log APIs.
 */
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"
#include "trmx/log.h"
#include "trmx/task.h"

int trmx_log_correction_check(trmx_log_db *log, const trmx_run_info *run, trmx_feedback_verdict verdict,
			      const char *text, size_t len, char **canonical, trmx_error *err)
{
	if (!log || !run || !text || !canonical)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_correction_check: missing argument");
	trmx_task *t = NULL;
	char *input = NULL, *output = NULL, *canon = NULL;
	int32_t *buf = NULL;
	trmx_error e2 = { 0, "" };
	int rc = trmx_task_open(&t, run->task, run->task_params[0] ? run->task_params : NULL, err);
	if (rc < 0)
		return rc;
	if ((rc = trmx_task_canonical(t, text, len, &canon, err)) < 0 ||
	    (rc = trmx_log_run_texts(log, run->id, &input, &output, err)) < 0)
		goto done;
	size_t n = (size_t)trmx_task_seq_len(t);
	if (!(buf = calloc(4 * n, sizeof *buf))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	int32_t *puzzle = buf, *plabel = buf + n, *answer = buf + 2 * n, *alabel = buf + 3 * n;
	bool has = false, phas = false;
	if ((rc = trmx_task_encode(t, canon, strlen(canon), answer, alabel, &has, err)) < 0)
		goto done;
	/* a run whose puzzle did not read (status error) is judged on the answer alone */
	bool with_puzzle = trmx_task_encode(t, input, strlen(input), puzzle, plabel, &phas, &e2) == 0;
	trmx_check chk = TRMX_CHECK_INIT;
	if ((rc = trmx_task_check(t, with_puzzle ? puzzle : NULL, has ? alabel : answer, NULL, &chk, err)) < 0)
		goto done;
	if (chk.verdict == TRMX_VERDICT_INVALID) {
		rc = trmx_error_set(err, TRMX_EINVAL, "the correction fails the %s checker (%s): %s; give an answer that "
				    "solves the run's puzzle %s", run->task, trmx_check_problem_name(chk.problem),
				    chk.message, input);
		goto done;
	}
	if (verdict == TRMX_FEEDBACK_INCORRECT && output && !strcmp(output, canon)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "the correction is the model's own answer (%s): a run marked incorrect "
				    "needs the right answer, or mark it correct", output);
		goto done;
	}
	*canonical = canon;
	canon = NULL;
done:
	trmx_task_text_free(canon);
	trmx_task_free(t);
	free(buf);
	free(input);
	free(output);
	return rc;
}
