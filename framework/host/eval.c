/*
 * eval.c — trmx_eval_run: a data set's queries through a model, scored against their labels and
 * judged by the task's checker (trmx/eval.h; metric definitions in docs/TASKS.md, "Evaluating").
 *
 * Relies on trmx_model_solve for batching and halting: items go in chunks of 32 batches (memory
 * stays bounded for millions of items, and continuous batching keeps the slots full inside a
 * chunk). The per-step callback scores every row at every step, which gives exact solves as a
 * function of the step cap in one run and the progress figures; the items themselves are scored,
 * checked and handed to the caller after their chunk, in data-set order.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/core_int.h"
#include "trmx/eval.h"

#define CHUNK_BATCHES 32

/* Which positions a puzzle leaves open (see trmx_eval_is_open). */
enum open_rule { OPEN_DIFFERS = 0, OPEN_SUDOKU, OPEN_MAZE };

static enum open_rule rule_of(const trmx_task *t)
{
	const char *name = t ? trmx_task_name(t) : NULL;
	if (name && !strcmp(name, "sudoku"))
		return OPEN_SUDOKU;
	if (name && !strcmp(name, "maze"))
		return OPEN_MAZE;
	return OPEN_DIFFERS;
}

static bool is_open(enum open_rule r, int32_t input, int32_t label)
{
	if (label == 0)
		return false;
	switch (r) {
	case OPEN_SUDOKU: return input == 1; /* blank */
	case OPEN_MAZE: return input == 2;   /* open cell: on the path or not */
	default: return input != label;
	}
}

bool trmx_eval_is_open(const trmx_task *task, int32_t input, int32_t label)
{
	return is_open(rule_of(task), input, label);
}

struct score {
	int supervised, correct, open, open_correct;
	bool exact;
};

static void score_row(enum open_rule r, const int32_t *in, const int32_t *pred, const int32_t *lab, int L,
		      struct score *s)
{
	memset(s, 0, sizeof *s);
	for (int k = 0; k < L; k++) {
		if (lab[k] == 0)
			continue;
		bool ok = pred[k] == lab[k];
		s->supervised++;
		s->correct += ok;
		if (is_open(r, in[k], lab[k])) {
			s->open++;
			s->open_correct += ok;
		}
	}
	s->exact = s->supervised > 0 && s->correct == s->supervised;
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* The state of one run. Chunk arrays hold `cap` items. */
struct run {
	enum open_rule rule;
	int L, S;
	size_t cap, n; /* chunk capacity, items in the current chunk */
	int32_t *in, *lab, *pred, *steps, *pids;
	float *qh, *qc;
	uint8_t *reason;
	int64_t *example, *puzzle;
	/* Per-step scores of labelled rows: at[s] over rows that ran step s, carry[h] over rows
	 * that halted after step h (they keep that answer for every larger cap). */
	int64_t at_exact[TRMX_EVAL_STEPS], at_open[TRMX_EVAL_STEPS];
	int64_t carry_exact[TRMX_EVAL_STEPS], carry_open[TRMX_EVAL_STEPS];
	trmx_eval_progress prog;
	double t0;
	trmx_eval_progress_fn progress;
	void *progress_user;
	bool stopped; /* by the progress callback */
	/* The halting calibration (fixed mode): per chunk item, the thresholds it has halted under. */
	trmx_eval_halting *halting;
	bool hrm_margin; /* the margin is q_halt - q_continue */
	uint32_t *halted_under;
};

/* The calibration's thresholds (logits; sigmoid(4) = 0.982). */
static const float halt_thresholds[TRMX_EVAL_THRESHOLDS] = { -4, -2,   -1, -0.5f, 0, 0.5f, 1, 1.5f, 2,	2.5f,
							     3,	 3.5f, 4,  5,	  6, 7,	   8, 10,   12, 15 };

/* Row `i` of the chunk ran step `s` with Q logits qh, qc: under every threshold it has not yet
 * halted under, it halts now when its margin is above it or at the last step. */
static void calibrate(struct run *r, size_t i, int s, float qh, float qc, const struct score *sc)
{
	trmx_eval_halting *h = r->halting;
	float margin = r->hrm_margin ? qh - qc : qh;
	for (int k = 0; k < TRMX_EVAL_THRESHOLDS; k++) {
		uint32_t bit = 1u << k;
		if ((r->halted_under[i] & bit) || !(margin > h->threshold[k] || s == r->S))
			continue;
		r->halted_under[i] |= bit;
		h->act_steps[k] += s;
		h->exact[k] += sc->supervised && sc->exact;
	}
}

static int on_step(void *user, const trmx_step_view *v)
{
	struct run *r = user;
	size_t L = (size_t)r->L;
	for (int row = 0; row < v->rows; row++) {
		size_t i = (size_t)v->input_index[row];
		int s = v->row_step[row];
		if (s < 1 || s > r->S)
			continue;
		struct score sc;
		score_row(r->rule, r->in + i * L, v->preds + (size_t)row * L, r->lab + i * L, r->L, &sc);
		if (sc.supervised) {
			r->at_exact[s] += sc.exact;
			r->at_open[s] += sc.open_correct;
		}
		if (r->halting)
			calibrate(r, i, s, v->q_halt[row], v->q_continue[row], &sc);
		if (v->halted[row]) {
			if (sc.supervised) {
				r->carry_exact[s] += sc.exact;
				r->carry_open[s] += sc.open_correct;
				r->prog.labelled++;
				r->prog.exact += sc.exact;
			}
			r->prog.done++;
		}
	}
	if (r->progress) {
		r->prog.seconds = now() - r->t0;
		if (r->progress(r->progress_user, &r->prog)) {
			r->stopped = true;
			return 1;
		}
	}
	return 0;
}

static void run_free(struct run *r)
{
	free(r->in), free(r->lab), free(r->pred), free(r->steps), free(r->pids);
	free(r->qh), free(r->qc), free(r->reason), free(r->example), free(r->puzzle);
	free(r->halted_under);
}

static int run_alloc(struct run *r, size_t cap, trmx_error *err)
{
	size_t cells;
	if (!trmx_mul_size(cap, (size_t)r->L, &cells) || cells > SIZE_MAX / sizeof(int32_t))
		return trmx_error_set(err, TRMX_ENOMEM, "eval: %zu items of %d tokens do not fit in memory", cap, r->L);
	r->cap = cap;
	r->in = malloc(cells * sizeof(int32_t));
	r->lab = malloc(cells * sizeof(int32_t));
	r->pred = malloc(cells * sizeof(int32_t));
	r->steps = malloc(cap * sizeof(int32_t));
	r->pids = malloc(cap * sizeof(int32_t));
	r->qh = malloc(cap * sizeof(float));
	r->qc = malloc(cap * sizeof(float));
	r->reason = malloc(cap);
	r->example = malloc(cap * sizeof(int64_t));
	r->puzzle = malloc(cap * sizeof(int64_t));
	if (!r->in || !r->lab || !r->pred || !r->steps || !r->pids || !r->qh || !r->qc || !r->reason || !r->example ||
	    !r->puzzle)
		return trmx_error_set(err, TRMX_ENOMEM, "eval: out of memory for a chunk of %zu items", cap);
	return 0;
}

static int check_shapes(const trmx_model_info *info, const trmx_task *task, const trmx_dataset_view *v,
			trmx_error *err)
{
	if (task && (trmx_task_seq_len(task) != info->seq_len || trmx_task_vocab_size(task) != info->vocab_size))
		return trmx_error_set(err, TRMX_ESHAPE,
				      "task %s has seq_len %d and vocab_size %d, but the model has seq_len %d and "
				      "vocab_size %d",
				      trmx_task_name(task), trmx_task_seq_len(task), trmx_task_vocab_size(task),
				      info->seq_len, info->vocab_size);
	if (v->seq_len != info->seq_len || v->vocab_size != info->vocab_size)
		return trmx_error_set(err, TRMX_ESHAPE,
				      "the data set has seq_len %d and vocab_size %d, but the model has seq_len %d and "
				      "vocab_size %d",
				      v->seq_len, v->vocab_size, info->seq_len, info->vocab_size);
	return 0;
}

static int check_options(const trmx_eval_options *o, trmx_error *err)
{
	if (!trmx_version_ok(o->version, TRMX_EVAL_OPTIONS_VERSION))
		return trmx_version_refused(err, "eval options", o->version, TRMX_EVAL_OPTIONS_VERSION);
	if (o->halt != TRMX_HALT_FIXED && o->halt != TRMX_HALT_ADAPTIVE)
		return trmx_error_set(err, TRMX_EINVAL, "eval: unknown halting mode %d", (int)o->halt);
	if (o->max_steps < 0 || o->max_steps > TRMX_SOLVE_STEPS_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "eval: max_steps %d is outside [0, %d]", o->max_steps,
				      TRMX_SOLVE_STEPS_MAX);
	if (o->batch_size < 0 || o->batch_size > TRMX_SOLVE_BATCH_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "eval: batch_size %d is outside [0, %d]", o->batch_size,
				      TRMX_SOLVE_BATCH_MAX);
	if (o->limit < 0)
		return trmx_error_set(err, TRMX_EINVAL, "eval: limit %lld is negative", (long long)o->limit);
	if (o->version >= 2 && !isfinite(o->halt_threshold))
		return trmx_error_set(err, TRMX_EINVAL, "eval: the halt threshold is not a finite number");
	if (o->version >= 2 && o->halting && o->halt != TRMX_HALT_FIXED)
		return trmx_error_set(err, TRMX_EINVAL,
				      "eval: the halting calibration needs fixed steps (every row "
				      "runs every step)");
	return 0;
}

/* Fill the chunk with the next queries from example *cursor on; *puzzle follows the examples. */
static int fill_chunk(struct run *r, const trmx_dataset *ds, const trmx_dataset_view *v, const trmx_model_info *info,
		      int64_t *cursor, int64_t *puzzle, int64_t want, trmx_error *err)
{
	int rc;
	r->n = 0;
	for (int64_t e = *cursor; e < v->examples && (int64_t)r->n < want; e++) {
		*cursor = e + 1;
		if (v->roles && v->roles[e] != TRMX_EXAMPLE_QUERY)
			continue;
		int64_t p = *puzzle;
		while (p + 1 < v->puzzles && v->puzzle_indices[p + 1] <= e)
			p++;
		*puzzle = p;
		int32_t pid = p < v->puzzles ? v->puzzle_identifiers[p] : 0;
		if (pid < 0 || pid >= info->num_puzzle_identifiers) {
			const char *name = trmx_dataset_puzzle_name(ds, p);
			return trmx_error_set(err, TRMX_ESHAPE,
					      "puzzle %lld%s%s%s has identifier %d, but the model knows identifiers [0, %d)",
					      (long long)p, name ? " (" : "", name ? name : "", name ? ")" : "", pid,
					      info->num_puzzle_identifiers);
		}
		size_t i = r->n++;
		if ((rc = trmx_dataset_example(ds, e, r->in + i * (size_t)r->L, r->lab + i * (size_t)r->L, err)) < 0)
			return rc;
		r->pids[i] = pid;
		r->example[i] = e;
		r->puzzle[i] = p;
	}
	return 0;
}

int trmx_eval_run(trmx_model *model, trmx_task *task, const trmx_dataset *ds, const trmx_eval_options *opts,
		  trmx_eval_item_fn on_item, void *user, trmx_eval_result *out, trmx_error *err)
{
	static const trmx_eval_options defaults = TRMX_EVAL_OPTIONS_INIT;
	const trmx_eval_options *o = opts ? opts : &defaults;
	trmx_model_info info;
	trmx_dataset_view v;
	trmx_eval_result *res = NULL;
	struct run *r = NULL;
	int rc;

	if (!model || !ds || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_eval_run: NULL argument");
	if ((rc = check_options(o, err)) < 0)
		return rc;
	trmx_model_info_get(model, &info);
	trmx_dataset_view_get(ds, &v);
	if ((rc = check_shapes(&info, task, &v, err)) < 0)
		return rc;

	/* Both are large (per-step arrays): keep them off the stack. */
	res = calloc(1, sizeof *res);
	r = calloc(1, sizeof *r);
	if (!res || !r) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "eval: out of memory");
		goto done;
	}
	r->rule = rule_of(task);
	r->L = info.seq_len;
	r->S = o->max_steps ? o->max_steps : info.halt_max_steps;
	r->progress = o->progress;
	r->progress_user = o->progress_user;
	r->t0 = now();
	if (o->version >= 2 && o->halting) {
		r->halting = o->halting;
		memset(r->halting, 0, sizeof *r->halting);
		r->halting->count = TRMX_EVAL_THRESHOLDS;
		memcpy(r->halting->threshold, halt_thresholds, sizeof halt_thresholds);
		r->hrm_margin = info.engine && !strcmp(info.engine, "hrm");
	}

	int64_t total = 0;
	for (int64_t e = 0; e < v.examples; e++)
		total += !v.roles || v.roles[e] == TRMX_EXAMPLE_QUERY;
	if (o->limit && total > o->limit)
		total = o->limit;
	r->prog.total = total;
	int batch = o->batch_size ? o->batch_size : 64;
	size_t cap = (size_t)batch * CHUNK_BATCHES;
	if ((int64_t)cap > total)
		cap = total > 0 ? (size_t)total : 1;
	if ((rc = run_alloc(r, cap, err)) < 0)
		goto done;
	if (r->halting && !(r->halted_under = calloc(cap, sizeof *r->halted_under))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "eval: out of memory");
		goto done;
	}

	res->version = TRMX_EVAL_RESULT_VERSION;
	res->halt = o->halt;
	res->max_steps = r->S;
	int64_t cursor = 0, puzzle = 0, item = 0;
	while (item < total) {
		int64_t want = total - item < (int64_t)cap ? total - item : (int64_t)cap;
		if ((rc = fill_chunk(r, ds, &v, &info, &cursor, &puzzle, want, err)) < 0)
			goto done;
		if (r->n == 0)
			break;
		if (r->halted_under)
			memset(r->halted_under, 0, r->n * sizeof *r->halted_under);
		trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
		req.n = r->n;
		req.inputs = r->in;
		req.puzzle_ids = r->pids;
		req.batch_size = batch;
		req.max_steps = r->S;
		req.halt = o->halt;
		req.halt_threshold = o->version >= 2 && o->halt == TRMX_HALT_ADAPTIVE ? o->halt_threshold : 0.0f;
		req.on_step = on_step;
		req.user = r;
		req.preds = r->pred;
		req.steps = r->steps;
		req.q_halt = r->qh;
		req.q_continue = r->qc;
		req.reason = r->reason;
		if ((rc = trmx_model_solve(model, &req, err)) < 0) {
			if (rc == TRMX_ECANCELLED && r->stopped)
				trmx_error_set(err, rc, "eval: stopped by the progress callback after %lld of %lld items",
					       (long long)r->prog.done, (long long)total);
			goto done;
		}
		for (size_t i = 0; i < r->n; i++, item++) {
			size_t off = i * (size_t)r->L;
			struct score sc;
			score_row(r->rule, r->in + off, r->pred + off, r->lab + off, r->L, &sc);
			trmx_check chk = TRMX_CHECK_INIT;
			if (task &&
			    (rc = trmx_task_check(task, r->in + off, r->pred + off, sc.supervised ? r->lab + off : NULL,
						  &chk, err)) < 0) {
				trmx_error_prefix(err, "eval: item %lld (example %lld)", (long long)item,
						  (long long)r->example[i]);
				goto done;
			}
			int s = r->steps[i];
			if (s < 1 || s > r->S) {
				rc = trmx_error_set(err, TRMX_ERROR, "eval: the engine reports %d steps for item %lld", s,
						    (long long)item);
				goto done;
			}
			res->items++;
			res->steps_hist[s]++;
			res->act_steps += s;
			if (r->reason[i] < 3)
				res->reasons[r->reason[i]]++;
			if ((unsigned)chk.verdict < 3)
				res->verdicts[chk.verdict]++;
			if ((unsigned)chk.problem < TRMX_EVAL_PROBLEMS)
				res->problems[chk.problem]++;
			if (sc.supervised) {
				res->labelled++;
				res->exact += sc.exact;
				res->tokens += sc.supervised;
				res->tokens_correct += sc.correct;
				res->open += sc.open;
				res->open_correct += sc.open_correct;
				res->q_halt_agree += (r->qh[i] >= 0.0f) == sc.exact;
			}
			if (on_item) {
				trmx_eval_item it = {
					.version = TRMX_EVAL_ITEM_VERSION,
					.index = item,
					.example = r->example[i],
					.puzzle = r->puzzle[i],
					.puzzle_name = trmx_dataset_puzzle_name(ds, r->puzzle[i]),
					.puzzle_id = r->pids[i],
					.seq_len = r->L,
					.input = r->in + off,
					.pred = r->pred + off,
					.label = r->lab + off,
					.steps = s,
					.q_halt = r->qh[i],
					.q_continue = r->qc[i],
					.reason = (trmx_halt_reason)r->reason[i],
					.supervised = sc.supervised,
					.correct = sc.correct,
					.open = sc.open,
					.open_correct = sc.open_correct,
					.labelled = sc.supervised > 0,
					.exact = sc.exact,
					.check = &chk,
				};
				if (on_item(user, &it)) {
					rc = trmx_error_set(err, TRMX_ECANCELLED,
							    "eval: stopped by the item callback at item %lld of %lld",
							    (long long)item, (long long)total);
					goto done;
				}
			}
		}
	}

	int64_t carried_exact = 0, carried_open = 0;
	for (int s = 1; s <= r->S; s++) {
		res->exact_by_cap[s] = r->at_exact[s] + carried_exact;
		res->open_correct_by_cap[s] = r->at_open[s] + carried_open;
		carried_exact += r->carry_exact[s];
		carried_open += r->carry_open[s];
	}
	res->exact_accuracy = res->labelled ? (double)res->exact / (double)res->labelled : 0.0;
	res->token_accuracy = res->tokens ? (double)res->tokens_correct / (double)res->tokens : 0.0;
	res->open_accuracy = res->open ? (double)res->open_correct / (double)res->open : 0.0;
	res->mean_steps = res->items ? (double)res->act_steps / (double)res->items : 0.0;
	res->seconds = now() - r->t0;
	res->items_per_second = res->seconds > 0 ? (double)res->items / res->seconds : 0.0;
	res->steps_per_second = res->seconds > 0 ? (double)res->act_steps / res->seconds : 0.0;
	*out = *res;
	rc = 0;
done:
	if (r)
		run_free(r);
	free(r);
	free(res);
	return rc;
}
