/*
 * test_eval.c — trmx_eval_run (framework/host/eval.c) on a data set in every layout: CSV
 * puzzle,solution; the HRM/TRM CSV source,question,answer,rating; an ARC folder
 * (tests/fixtures/tasks/arc); the official built layout (.npy + dataset.json, written here with
 * trmx_array_write_npy).
 *
 * Two kinds of check:
 *  - a crafted "identity" model whose answers are known in closed form (every block weight zero,
 *    one-hot embeddings: the answer copies the puzzle and writes digit 1 into every blank; the Q
 *    head halts at once when the first cell is blank), on puzzles built so that some are exact:
 *    every figure of the result is predicted by hand, so a wrong count fails;
 *  - random weights (wg_write_trm), where every figure is recounted here from plain
 *    trmx_model_solve calls: exact, token and open-cell accuracy, steps, verdicts, and exact
 *    solves by step cap from separate fixed runs of 1..S steps. The built layout's labels are the
 *    model's own answers for half the items, so exact accuracy is not trivially 0.
 *
 * tests/fixtures/eval_tiny.safetensors (the CLI cases' model, tests/cli/eval.test) is the identity
 * model at hidden size 16 in BF16 (its values are 0 and +-1, exact); test_fixture checks the file
 * against the generator below, and TRMX_UPDATE_FIXTURES=1 rewrites it.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "helpers/testutil.h"
#include "helpers/weightgen.h"
#include "trmx/eval.h"

#define N_GEN 8   /* generated 4x4 puzzles */
#define N_ITEMS 16 /* + 4 fully given + 4 with (about) only the 1s blank */

static const char *fixture_dir(void)
{
	const char *d = getenv("TRMX_FIXTURES");
	return d ? d : "tests/fixtures";
}

/* ---- models ------------------------------------------------------------------------------ */

static trmx_config *arch_new(const char *const (*kv)[2], size_t n)
{
	trmx_config *c = NULL;
	assert_int_equal(trmx_config_new(&c, NULL), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(trmx_config_set(c, kv[i][0], kv[i][1], NULL), 0);
	return c;
}

/* 4x4 Sudoku: seq_len 16, vocab 6. */
static trmx_config *arch_sudoku4(const char *hidden, const char *mlp_t, const char *halt_steps)
{
	const char *const kv[][2] = {
		{ "seq_len", "16" },   { "vocab_size", "6" },	{ "num_puzzle_identifiers", "1" },
		{ "hidden_size", hidden }, { "num_heads", "2" }, { "expansion", "1" },
		{ "L_layers", "1" },   { "H_cycles", "1" },	{ "L_cycles", "1" },
		{ "pos_encodings", "rope" }, { "mlp_t", mlp_t }, { "halt_max_steps", halt_steps },
	};
	return arch_new(kv, sizeof kv / sizeof *kv);
}

/* ARC: seq_len 900, vocab 12, a puzzle embedding of `ids` identifiers. */
static trmx_config *arch_arc(const char *ids)
{
	const char *const kv[][2] = {
		{ "seq_len", "900" },  { "vocab_size", "12" },	{ "num_puzzle_identifiers", ids },
		{ "hidden_size", "16" }, { "num_heads", "2" },	{ "expansion", "1" },
		{ "L_layers", "1" },   { "H_cycles", "1" },	{ "L_cycles", "1" },
		{ "puzzle_emb_ndim", "16" }, { "puzzle_emb_len", "1" }, { "pos_encodings", "rope" },
		{ "halt_max_steps", "2" },
	};
	return arch_new(kv, sizeof kv / sizeof *kv);
}

struct model {
	trmx_config *arch;
	trmx_weights *w;
	trmx_model *m;
	trmx_model_info info;
};

static void model_open(struct model *md, trmx_config *arch, const char *path)
{
	trmx_error err = { 0, "" };
	md->arch = arch;
	if (trmx_weights_open(&md->w, path, &err) < 0 || trmx_model_open(&md->m, "trm", arch, md->w, NULL, &err) < 0)
		fail_msg("%s: %s", path, err.message);
	trmx_model_info_get(md->m, &md->info);
}

static void model_close(struct model *md)
{
	trmx_model_free(md->m);
	trmx_weights_free(md->w);
	trmx_config_free(md->arch);
	memset(md, 0, sizeof *md);
}

static void random_model(struct model *md, trmx_config *arch, const char *dir, uint64_t seed)
{
	trmx_error err = { 0, "" };
	char *path = tu_path(dir, "random.safetensors");
	if (wg_write_trm(arch, seed, path, &err) < 0)
		fail_msg("%s", err.message);
	model_open(md, arch, path);
	free(path);
}

static uint16_t to_bf16(float f)
{
	uint32_t u;
	memcpy(&u, &f, 4);
	return (uint16_t)(u >> 16); /* exact for the values used here: 0, 1, -1 */
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

/* The identity model for `arch` (hidden_size >= vocab_size, no puzzle embedding), written to
 * `path` in `dtype` (F32 or BF16). With every block weight zero each block is the identity up to
 * RMS normalisation, so zH at a position is a positive multiple of its token's one-hot
 * embedding: lm_head maps token t to t, except blank (1) to digit 1 (token 2); q_halt =
 * zH[0][1] - 1 is > 0 exactly when the first cell is blank. */
static int write_identity(const trmx_config *arch, const char *path, trmx_dtype dtype, trmx_error *err)
{
	size_t plen = strlen(path) + 8;
	char *tmp = malloc(plen);
	snprintf(tmp, plen, "%s.rand", path);
	trmx_weights *w = NULL;
	trmx_weights_writer *wr = NULL;
	int rc;
	if ((rc = wg_write_trm(arch, 1, tmp, err)) < 0 || (rc = trmx_weights_open(&w, tmp, err)) < 0 ||
	    (rc = trmx_weights_writer_new(&wr, err)) < 0)
		goto done;
	for (size_t i = 0; i < trmx_weights_metadata_count(w); i++) {
		const char *k, *v;
		trmx_weights_metadata_at(w, i, &k, &v);
		if ((rc = trmx_weights_writer_set_metadata(wr, k, v, err)) < 0)
			goto done;
	}
	if ((rc = trmx_weights_writer_set_metadata(wr, "fixture.made_by",
						   "tests/test_eval.c write_identity: copies the puzzle, blank -> digit 1, "
						   "halts at step 1 when the first cell is blank",
						   err)) < 0)
		goto done;
	for (size_t i = 0; i < trmx_weights_count(w); i++) {
		const trmx_tensor_view *t = trmx_weights_at(w, i);
		size_t n = (size_t)t->shape[0] * (t->ndim == 2 ? (size_t)t->shape[1] : 1);
		int64_t cols = t->ndim == 2 ? t->shape[1] : 1;
		float *f = calloc(n, sizeof *f);
		uint16_t *h = calloc(n, sizeof *h);
		assert_true(f && h);
		if (ends_with(t->name, "embed_tokens.embedding_weight")) {
			for (int64_t v = 0; v < t->shape[0]; v++)
				f[v * cols + v] = 1.0f;
		} else if (ends_with(t->name, "lm_head.weight")) {
			for (int64_t v = 0; v < t->shape[0]; v++)
				if (v != 1)
					f[v * cols + v] = 1.0f;
			f[2 * cols + 1] = 1.0f; /* token 2 also answers token 1 */
		} else if (ends_with(t->name, "q_head.weight")) {
			f[1] = 1.0f; /* q_halt reads zH[0] at token 1's dimension */
		} else if (ends_with(t->name, "q_head.bias")) {
			f[0] = -1.0f;
		}
		for (size_t k = 0; k < n; k++)
			h[k] = to_bf16(f[k]);
		rc = trmx_weights_writer_add(wr, t->name, dtype, t->ndim, t->shape,
					     dtype == TRMX_DTYPE_BF16 ? (const void *)h : (const void *)f, err);
		free(f);
		free(h);
		if (rc < 0)
			goto done;
	}
	rc = trmx_weights_writer_write(wr, path, err);
done:
	trmx_weights_writer_free(wr);
	trmx_weights_free(w);
	remove(tmp);
	free(tmp);
	return rc;
}

/* ---- puzzles and data sets ----------------------------------------------------------------- */

/* Digits, 0 for a blank: 8 generated puzzles, 4 fully given, 4 with only the cells of digit 1
 * blank (the identity model solves those), the last 2 of which have one more blank of another
 * digit (one cell wrong: not exact). */
struct puzzles {
	uint8_t puz[N_ITEMS][16], sol[N_ITEMS][16];
};

static void make_puzzles(struct puzzles *p)
{
	trmx_sudoku_gen_options go = TRMX_SUDOKU_GEN_OPTIONS_INIT;
	go.size = 4;
	for (int i = 0; i < N_ITEMS; i++) {
		trmx_rng rng;
		trmx_error err = { 0, "" };
		trmx_rng_seed(&rng, 7, (uint64_t)i);
		uint8_t puz[16];
		if (trmx_sudoku_generate(&rng, &go, puz, p->sol[i], NULL, &err) < 0)
			fail_msg("%s", err.message);
		for (int k = 0; k < 16; k++) {
			if (i < N_GEN)
				p->puz[i][k] = puz[k];
			else if (i < N_GEN + 4)
				p->puz[i][k] = p->sol[i][k];
			else
				p->puz[i][k] = p->sol[i][k] == 1 ? 0 : p->sol[i][k];
		}
		if (i >= N_ITEMS - 2) /* one more blank, not a 1: a near miss, one cell wrong */
			p->puz[i][p->sol[i][5] == 1 ? 6 : 5] = 0;
	}
}

static void digits_text(const uint8_t *g, char *out)
{
	for (int k = 0; k < 16; k++)
		out[k] = g[k] ? (char)('0' + g[k]) : '.';
	out[16] = 0;
}

/* layout 0: puzzle,solution with a header; 1: the HRM/TRM source,question,answer,rating. */
static char *write_csv(const char *dir, const struct puzzles *p, int layout)
{
	char *path = tu_path(dir, layout ? "hrm.csv" : "plain.csv");
	size_t cap = 64 + N_ITEMS * 64, len = 0;
	char *text = malloc(cap);
	len += (size_t)snprintf(text, cap, "%s\n", layout ? "source,question,answer,rating" : "puzzle,solution");
	for (int i = 0; i < N_ITEMS; i++) {
		char a[17], b[17];
		digits_text(p->puz[i], a);
		digits_text(p->sol[i], b);
		if (layout)
			len += (size_t)snprintf(text + len, cap - len, "gen%d,%s,%s,%d\n", i, a, b, i);
		else
			len += (size_t)snprintf(text + len, cap - len, "%s,%s\n", a, b);
	}
	assert_int_equal(tu_write_text(path, text), 0);
	free(text);
	return path;
}

static void write_npy(const char *dir, const char *name, trmx_dtype dt, int ndim, const int64_t *shape, void *data)
{
	trmx_error err = { 0, "" };
	trmx_array a = { .dtype = dt, .ndim = ndim, .data = data };
	memcpy(a.shape, shape, (size_t)ndim * sizeof *shape);
	a.nbytes = trmx_dtype_size(dt) * (size_t)shape[0] * (ndim == 2 ? (size_t)shape[1] : 1);
	char *path = tu_path(dir, name);
	if (trmx_array_write_npy(&a, path, &err) < 0)
		fail_msg("%s", err.message);
	free(path);
}

/* The official built layout: <dir>/built/test/{dataset.json, all__*.npy}, n examples of 16 tokens,
 * each its own puzzle (identifier 0) and group. Returns <dir>/built. */
static char *write_built(const char *dir, const int32_t *inputs, const int32_t *labels, int n)
{
	char *root = tu_path(dir, "built"), *split = tu_path(root, "test");
	assert_int_equal(mkdir(root, 0755), 0);
	assert_int_equal(mkdir(split, 0755), 0);
	char *meta = tu_path(split, "dataset.json");
	assert_int_equal(tu_write_text(meta, "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, "
					     "\"vocab_size\": 6, \"seq_len\": 16, \"num_puzzle_identifiers\": 1, "
					     "\"total_groups\": 12, \"mean_puzzle_examples\": 1, \"total_puzzles\": 12, "
					     "\"sets\": [\"all\"]}"),
			 0);
	uint8_t *in8 = malloc((size_t)n * 16), *lab8 = malloc((size_t)n * 16);
	int32_t *ids = calloc((size_t)n, 4);
	int64_t *idx = malloc(((size_t)n + 1) * 8);
	for (int i = 0; i < n * 16; i++) {
		in8[i] = (uint8_t)inputs[i];
		lab8[i] = (uint8_t)labels[i];
	}
	for (int i = 0; i <= n; i++)
		idx[i] = i;
	int64_t sh2[2] = { n, 16 }, shn[1] = { n }, shn1[1] = { n + 1 };
	write_npy(split, "all__inputs.npy", TRMX_DTYPE_U8, 2, sh2, in8);
	write_npy(split, "all__labels.npy", TRMX_DTYPE_U8, 2, sh2, lab8);
	write_npy(split, "all__puzzle_identifiers.npy", TRMX_DTYPE_I32, 1, shn, ids);
	write_npy(split, "all__puzzle_indices.npy", TRMX_DTYPE_I64, 1, shn1, idx);
	write_npy(split, "all__group_indices.npy", TRMX_DTYPE_I64, 1, shn1, idx);
	free(in8), free(lab8), free(ids), free(idx), free(meta), free(split);
	return root;
}

static trmx_task *task_open(const char *name, const char *params)
{
	trmx_task *t = NULL;
	trmx_error err = { 0, "" };
	if (trmx_task_open(&t, name, params, &err) < 0)
		fail_msg("%s", err.message);
	return t;
}

static trmx_dataset *dataset_load(trmx_task *t, const char *path, trmx_split split)
{
	trmx_dataset *ds = NULL;
	trmx_error err = { 0, "" };
	trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
	o.split = split;
	if (trmx_dataset_load(&ds, t, path, &o, &err) < 0)
		fail_msg("%s: %s", path, err.message);
	return ds;
}

/* ---- what the item callback saw ---------------------------------------------------------- */

#define MAX_SEEN 64

struct seen {
	int n, L, stop_at;
	int64_t example[MAX_SEEN], puzzle[MAX_SEEN];
	int32_t pid[MAX_SEEN], steps[MAX_SEEN];
	int32_t pred[MAX_SEEN][900], input[MAX_SEEN][900];
	float qh[MAX_SEEN];
	trmx_verdict verdict[MAX_SEEN];
	bool exact[MAX_SEEN];
	int correct[MAX_SEEN], open[MAX_SEEN];
	char name[MAX_SEEN][32];
};

static int on_item(void *user, const trmx_eval_item *it)
{
	struct seen *s = user;
	assert_int_equal(it->index, s->n);
	assert_true(s->n < MAX_SEEN);
	assert_int_equal(it->seq_len, s->L);
	int i = s->n++;
	s->example[i] = it->example;
	s->puzzle[i] = it->puzzle;
	s->pid[i] = it->puzzle_id;
	s->steps[i] = it->steps;
	s->qh[i] = it->q_halt;
	s->verdict[i] = it->check->verdict;
	s->exact[i] = it->exact;
	s->correct[i] = it->correct;
	s->open[i] = it->open;
	snprintf(s->name[i], sizeof s->name[i], "%s", it->puzzle_name ? it->puzzle_name : "");
	memcpy(s->pred[i], it->pred, (size_t)it->seq_len * 4);
	memcpy(s->input[i], it->input, (size_t)it->seq_len * 4);
	return s->stop_at && s->n == s->stop_at;
}

static void eval_ok(trmx_model *m, trmx_task *t, trmx_dataset *ds, const trmx_eval_options *o, struct seen *s,
		    trmx_eval_result *r)
{
	trmx_error err = { 0, "" };
	if (s) {
		memset(s, 0, sizeof *s);
		s->L = trmx_task_seq_len(t);
	}
	int rc = trmx_eval_run(m, t, ds, o, s ? on_item : NULL, s, r, &err);
	assert_trmx_ok(rc, err);
	assert_int_equal(r->version, TRMX_EVAL_RESULT_VERSION);
}

/* ---- the identity model: every figure in closed form ------------------------------------- */

static void check_identity(const trmx_eval_result *r, const struct seen *s, const struct puzzles *p,
			   trmx_halt_mode halt, int S, int halt_max)
{
	int64_t exact = 0, tok = 0, open = 0, open_ok = 0, agree = 0, steps = 0, q_rows = 0;
	int64_t hist[8] = { 0 };
	for (int i = 0; i < N_ITEMS; i++) {
		int given = 0, blank = 0, blank_ones = 0;
		for (int k = 0; k < 16; k++) {
			if (p->puz[i][k]) {
				given++;
			} else {
				blank++;
				blank_ones += p->sol[i][k] == 1;
			}
		}
		bool ex = blank_ones == blank, first_blank = p->puz[i][0] == 0;
		int st = halt == TRMX_HALT_ADAPTIVE && first_blank ? 1 : S;
		exact += ex;
		tok += given + blank_ones;
		open += blank;
		open_ok += blank_ones;
		agree += first_blank == ex;
		steps += st;
		hist[st]++;
		q_rows += halt == TRMX_HALT_ADAPTIVE && first_blank;
		/* what the callback saw: the answer copies the puzzle, blank -> digit 1 */
		assert_int_equal(s->steps[i], st);
		assert_int_equal(s->exact[i], ex);
		assert_int_equal(s->correct[i], given + blank_ones);
		assert_int_equal(s->open[i], blank);
		assert_int_equal(s->verdict[i], ex ? TRMX_VERDICT_VALID : TRMX_VERDICT_INVALID);
		assert_true(first_blank ? s->qh[i] > 0.0f : s->qh[i] < 0.0f);
		for (int k = 0; k < 16; k++)
			assert_int_equal(s->pred[i][k], p->puz[i][k] ? p->puz[i][k] + 1 : 2);
	}
	/* the puzzles were built to make these non-trivial */
	assert_int_equal(exact, 6);
	assert_true(open_ok > 0 && open_ok < open);
	assert_int_equal(r->items, N_ITEMS);
	assert_int_equal(r->labelled, N_ITEMS);
	assert_int_equal(r->exact, exact);
	assert_int_equal(r->tokens, N_ITEMS * 16);
	assert_int_equal(r->tokens_correct, tok);
	assert_int_equal(r->open, open);
	assert_int_equal(r->open_correct, open_ok);
	assert_true(fabs(r->exact_accuracy - (double)exact / N_ITEMS) < 1e-12);
	assert_true(fabs(r->token_accuracy - (double)tok / (N_ITEMS * 16)) < 1e-12);
	assert_true(fabs(r->open_accuracy - (double)open_ok / (double)open) < 1e-12);
	assert_int_equal(r->verdicts[TRMX_VERDICT_VALID], exact);
	assert_int_equal(r->verdicts[TRMX_VERDICT_INVALID], N_ITEMS - exact);
	assert_int_equal(r->verdicts[TRMX_VERDICT_UNKNOWN], 0);
	assert_int_equal(r->problems[TRMX_CHECK_NONE], exact);
	assert_int_equal(r->q_halt_agree, agree);
	assert_int_equal(r->act_steps, steps);
	assert_true(fabs(r->mean_steps - (double)steps / N_ITEMS) < 1e-12);
	assert_int_equal(r->max_steps, S);
	assert_int_equal(r->halt, halt);
	for (int st = 1; st < 8; st++)
		assert_int_equal(r->steps_hist[st], hist[st]);
	int other = halt == TRMX_HALT_ADAPTIVE && S < halt_max ? TRMX_HALT_REASON_BUDGET : TRMX_HALT_REASON_MAX_STEPS;
	assert_int_equal(r->reasons[TRMX_HALT_REASON_Q], q_rows);
	assert_int_equal(r->reasons[other], N_ITEMS - q_rows);
	for (int st = 1; st <= S; st++) { /* the answer is the same at every step */
		assert_int_equal(r->exact_by_cap[st], exact);
		assert_int_equal(r->open_correct_by_cap[st], open_ok);
	}
	assert_int_equal(r->exact_by_cap[S + 1], 0);
	assert_true(r->seconds > 0 && r->items_per_second > 0);
}

static void test_identity_csv(void **state)
{
	char *dir = tu_tmpdir();
	struct puzzles p;
	make_puzzles(&p);
	trmx_config *arch = arch_sudoku4("32", "false", "4");
	char *wpath = tu_path(dir, "identity.safetensors");
	trmx_error err = { 0, "" };
	assert_trmx_ok(write_identity(arch, wpath, TRMX_DTYPE_F32, &err), err);
	struct model md;
	model_open(&md, arch, wpath);
	trmx_task *t = task_open("sudoku", "size=4");
	static struct seen s;
	trmx_eval_result r, r2;

	for (int layout = 0; layout < 2; layout++) {
		char *csv = write_csv(dir, &p, layout);
		trmx_dataset *ds = dataset_load(t, csv, TRMX_SPLIT_TEST);
		trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
		o.batch_size = 3; /* continuous batching over several refills */
		eval_ok(md.m, t, ds, &o, &s, &r);
		check_identity(&r, &s, &p, TRMX_HALT_FIXED, 4, 4);
		for (int i = 0; i < N_ITEMS; i++) {
			assert_int_equal(s.example[i], i);
			assert_int_equal(s.pid[i], 0);
		}
		o.halt = TRMX_HALT_ADAPTIVE;
		eval_ok(md.m, t, ds, &o, &s, &r);
		check_identity(&r, &s, &p, TRMX_HALT_ADAPTIVE, 4, 4);
		o.max_steps = 3; /* a budget below halt_max_steps */
		eval_ok(md.m, t, ds, &o, &s, &r);
		check_identity(&r, &s, &p, TRMX_HALT_ADAPTIVE, 3, 4);
		o.max_steps = 6; /* fixed runs may go past halt_max_steps */
		o.halt = TRMX_HALT_FIXED;
		o.batch_size = 0;
		eval_ok(md.m, t, ds, &o, &s, &r);
		check_identity(&r, &s, &p, TRMX_HALT_FIXED, 6, 4);
		/* no task: no verdicts, and open positions are those where input != label */
		eval_ok(md.m, NULL, ds, &o, NULL, &r2);
		assert_int_equal(r2.exact, r.exact);
		assert_int_equal(r2.open, r.open);
		assert_int_equal(r2.open_correct, r.open_correct);
		assert_int_equal(r2.verdicts[TRMX_VERDICT_UNKNOWN], N_ITEMS);
		trmx_dataset_free(ds);
		free(csv);
	}
	trmx_task_free(t);
	model_close(&md);
	free(wpath);
	tu_rmtree(dir);
	free(dir);
}

/* ---- random weights: recounted from plain solves ----------------------------------------- */

/* Queries of a data set, as the eval should pick them. */
struct items {
	int n, L;
	int32_t *in, *lab, *pid;
};

static void items_get(const trmx_dataset *ds, struct items *it)
{
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	it->L = v.seq_len;
	it->n = 0;
	it->in = malloc((size_t)v.examples * (size_t)v.seq_len * 4);
	it->lab = malloc((size_t)v.examples * (size_t)v.seq_len * 4);
	it->pid = malloc((size_t)v.examples * 4);
	for (int64_t p = 0; p < v.puzzles; p++)
		for (int64_t e = v.puzzle_indices[p]; e < v.puzzle_indices[p + 1]; e++) {
			if (v.roles[e] != TRMX_EXAMPLE_QUERY)
				continue;
			size_t off = (size_t)it->n * (size_t)it->L;
			assert_int_equal(trmx_dataset_example(ds, e, it->in + off, it->lab + off, NULL), 0);
			it->pid[it->n++] = v.puzzle_identifiers[p];
		}
}

static void items_free(struct items *it)
{
	free(it->in), free(it->lab), free(it->pid);
}

static void solve(trmx_model *m, const struct items *it, trmx_halt_mode halt, int steps, int batch, int32_t *preds,
		  int32_t *ran, float *qh)
{
	trmx_error err = { 0, "" };
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = (size_t)it->n;
	req.inputs = it->in;
	req.puzzle_ids = it->pid;
	req.batch_size = batch;
	req.max_steps = steps;
	req.halt = halt;
	req.preds = preds;
	req.steps = ran;
	req.q_halt = qh;
	assert_trmx_ok(trmx_model_solve(m, &req, &err), err);
}

/* The counts, done here without eval.c. `sudoku`: open = input blank (1); else input != label. */
struct count {
	int64_t labelled, exact, tokens, correct, open, open_ok, steps, agree;
	int64_t verdicts[3];
};

static void recount(trmx_task *t, const struct items *it, const int32_t *preds, const int32_t *ran, const float *qh,
		    bool sudoku, struct count *c)
{
	memset(c, 0, sizeof *c);
	for (int i = 0; i < it->n; i++) {
		const int32_t *in = it->in + (size_t)i * it->L, *lab = it->lab + (size_t)i * it->L,
			      *pr = preds + (size_t)i * it->L;
		int sup = 0, ok = 0;
		for (int k = 0; k < it->L; k++) {
			if (!lab[k])
				continue;
			sup++;
			ok += pr[k] == lab[k];
			if (sudoku ? in[k] == 1 : in[k] != lab[k]) {
				c->open++;
				c->open_ok += pr[k] == lab[k];
			}
		}
		c->tokens += sup;
		c->correct += ok;
		if (sup) {
			c->labelled++;
			c->exact += ok == sup;
			c->agree += (qh[i] >= 0) == (ok == sup);
		}
		c->steps += ran[i];
		trmx_check chk = TRMX_CHECK_INIT;
		assert_int_equal(trmx_task_check(t, in, pr, sup ? lab : NULL, &chk, NULL), 0);
		c->verdicts[chk.verdict]++;
	}
}

/* Run the eval in both modes and compare every figure with plain solves. */
static void check_recount(trmx_model *m, trmx_task *t, trmx_dataset *ds, int S, int batch, bool sudoku,
			  struct count *fixed_out)
{
	struct items it;
	items_get(ds, &it);
	size_t cells = (size_t)it.n * (size_t)it.L;
	int32_t *preds = malloc(cells * 4), *capped = malloc(cells * 4), *ran = malloc((size_t)it.n * 4);
	float *qh = malloc((size_t)it.n * 4);
	static struct seen s;
	for (int mode = 0; mode < 2; mode++) {
		trmx_halt_mode halt = mode ? TRMX_HALT_ADAPTIVE : TRMX_HALT_FIXED;
		trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
		o.halt = halt;
		o.max_steps = S;
		o.batch_size = batch;
		trmx_eval_result r;
		eval_ok(m, t, ds, &o, &s, &r);
		solve(m, &it, halt, S, batch, preds, ran, qh);
		struct count c;
		recount(t, &it, preds, ran, qh, sudoku, &c);
		if (!mode && fixed_out)
			*fixed_out = c;
		print_message("%s: %d items, exact %lld/%lld, tokens %lld/%lld, open %lld/%lld, steps %lld\n",
			      mode ? "adaptive" : "fixed", it.n, (long long)c.exact, (long long)c.labelled,
			      (long long)c.correct, (long long)c.tokens, (long long)c.open_ok, (long long)c.open,
			      (long long)c.steps);
		assert_int_equal(r.items, it.n);
		assert_int_equal(s.n, it.n);
		assert_int_equal(r.labelled, c.labelled);
		assert_int_equal(r.exact, c.exact);
		assert_int_equal(r.tokens, c.tokens);
		assert_int_equal(r.tokens_correct, c.correct);
		assert_int_equal(r.open, c.open);
		assert_int_equal(r.open_correct, c.open_ok);
		assert_int_equal(r.act_steps, c.steps);
		assert_int_equal(r.q_halt_agree, c.agree);
		for (int v = 0; v < 3; v++)
			assert_int_equal(r.verdicts[v], c.verdicts[v]);
		int64_t hist_total = 0;
		for (int i = 0; i < it.n; i++) {
			assert_memory_equal(s.pred[i], preds + (size_t)i * it.L, (size_t)it.L * 4);
			assert_memory_equal(s.input[i], it.in + (size_t)i * it.L, (size_t)it.L * 4);
			assert_int_equal(s.steps[i], ran[i]);
			assert_int_equal(s.pid[i], it.pid[i]);
		}
		for (int st = 1; st <= S; st++) {
			int64_t want = 0;
			for (int i = 0; i < it.n; i++)
				want += ran[i] == st;
			assert_int_equal(r.steps_hist[st], want);
			hist_total += r.steps_hist[st];
		}
		assert_int_equal(hist_total, it.n);
		assert_int_equal(r.exact_by_cap[S], r.exact);
		assert_int_equal(r.open_correct_by_cap[S], r.open_correct);
		if (halt == TRMX_HALT_FIXED) { /* the answers after s steps are those of an s-step run */
			for (int st = 1; st < S; st++) {
				solve(m, &it, TRMX_HALT_FIXED, st, batch, capped, ran, qh);
				struct count cc;
				recount(t, &it, capped, ran, qh, sudoku, &cc);
				assert_int_equal(r.exact_by_cap[st], cc.exact);
				assert_int_equal(r.open_correct_by_cap[st], cc.open_ok);
			}
		}
	}
	free(preds), free(capped), free(ran), free(qh);
	items_free(&it);
}

static void test_random_csv_layouts(void **state)
{
	char *dir = tu_tmpdir();
	struct puzzles p;
	make_puzzles(&p);
	struct model md;
	random_model(&md, arch_sudoku4("32", "true", "4"), dir, 11);
	trmx_task *t = task_open("sudoku", "size=4");
	struct count c[2];
	for (int layout = 0; layout < 2; layout++) {
		char *csv = write_csv(dir, &p, layout);
		trmx_dataset *ds = dataset_load(t, csv, TRMX_SPLIT_TEST);
		check_recount(md.m, t, ds, 4, 5, true, &c[layout]);
		trmx_dataset_free(ds);
		free(csv);
	}
	/* the two CSV layouts hold the same puzzles */
	assert_memory_equal(&c[0], &c[1], sizeof c[0]);
	trmx_task_free(t);
	model_close(&md);
	tu_rmtree(dir);
	free(dir);
}

static void test_random_built(void **state)
{
	char *dir = tu_tmpdir();
	struct puzzles p;
	make_puzzles(&p);
	struct model md;
	random_model(&md, arch_sudoku4("32", "false", "3"), dir, 12);
	int n = 12;
	int32_t in[12 * 16], lab[12 * 16], preds[12 * 16], ran[12];
	float qh[12];
	for (int i = 0; i < n; i++)
		for (int k = 0; k < 16; k++) {
			in[i * 16 + k] = p.puz[i][k] + 1;
			lab[i * 16 + k] = p.sol[i][k] + 1;
		}
	/* the model's own fixed-run answers become the labels of the even items */
	struct items it = { n, 16, in, lab, (int32_t[12]){ 0 } };
	solve(md.m, &it, TRMX_HALT_FIXED, 3, 4, preds, ran, qh);
	int supervised_even = 0;
	for (int i = 0; i < n; i += 2) {
		memcpy(lab + i * 16, preds + i * 16, 16 * 4);
		for (int k = 0; k < 16; k++)
			supervised_even += lab[i * 16 + k] != 0;
	}
	assert_true(supervised_even > 0);
	char *root = write_built(dir, in, lab, n);
	trmx_task *t = task_open("sudoku", "size=4");
	trmx_dataset *ds = dataset_load(t, root, TRMX_SPLIT_TEST);
	struct count c;
	check_recount(md.m, t, ds, 3, 4, true, &c);
	assert_true(c.exact >= n / 2); /* not trivially 0 */
	/* the split folder itself, opened without a task: the same figures, verdicts unknown */
	char *split = tu_path(root, "test");
	trmx_dataset *ds2 = dataset_load(NULL, split, TRMX_SPLIT_ALL);
	trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
	o.max_steps = 3;
	o.batch_size = 4;
	trmx_eval_result r;
	eval_ok(md.m, NULL, ds2, &o, NULL, &r);
	assert_int_equal(r.exact, c.exact);
	assert_int_equal(r.tokens_correct, c.correct);
	assert_int_equal(r.verdicts[TRMX_VERDICT_UNKNOWN], n);
	trmx_dataset_free(ds2);
	free(split);
	trmx_dataset_free(ds);
	trmx_task_free(t);
	free(root);
	model_close(&md);
	tu_rmtree(dir);
	free(dir);
}

static void test_random_arc_folder(void **state)
{
	char *dir = tu_tmpdir();
	struct model md;
	random_model(&md, arch_arc("4"), dir, 13);
	trmx_task *t = task_open("arc", NULL);
	char *arc = tu_path(fixture_dir(), "tasks/arc");
	/* every example, demonstrations too: the eval must run the test pairs only */
	trmx_dataset *ds = dataset_load(t, arc, TRMX_SPLIT_ALL);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.examples, 11); /* flip 2 + 1, recolor 3 + 2, grow 2 + 1 */
	check_recount(md.m, t, ds, 2, 3, false, NULL);

	static struct seen s;
	trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
	trmx_eval_result r;
	eval_ok(md.m, t, ds, &o, &s, &r);
	assert_int_equal(r.items, 4);
	assert_int_equal(r.labelled, 3);                           /* grow's test pair has no output */
	assert_int_equal(r.verdicts[TRMX_VERDICT_UNKNOWN], 1);
	assert_int_equal(r.verdicts[TRMX_VERDICT_INVALID], 3);     /* random answers */
	static const char *const names[] = { "flip", "recolor", "recolor", "grow" };
	static const int32_t pids[] = { 1, 2, 2, 3 };
	for (int i = 0; i < 4; i++) {
		assert_string_equal(s.name[i], names[i]);
		assert_int_equal(s.pid[i], pids[i]);
	}
	/* the test split alone gives the same items */
	trmx_dataset *dt = dataset_load(t, arc, TRMX_SPLIT_TEST);
	trmx_eval_result r2;
	eval_ok(md.m, t, dt, &o, &s, &r2);
	assert_int_equal(r2.items, 4);
	for (int i = 0; i < 4; i++) {
		assert_string_equal(s.name[i], names[i]);
		assert_int_equal(s.pid[i], pids[i]);
		assert_int_equal(s.example[i], i);
	}
	assert_int_equal(r2.tokens_correct, r.tokens_correct);
	assert_int_equal(r2.tokens, r.tokens);
	trmx_dataset_free(dt);

	/* ARC labels: the grid and its EOS markers are supervised, the PAD beyond them is not */
	int64_t want_tokens = 0;
	static const int hw[3][2] = { { 2, 4 }, { 2, 3 }, { 1, 3 } }; /* flip, recolor x2 outputs */
	for (int i = 0; i < 3; i++)
		want_tokens += hw[i][0] * hw[i][1] + hw[i][1] + hw[i][0]; /* cells, EOS row, EOS column */
	assert_int_equal(r.tokens, want_tokens);
	trmx_dataset_free(ds);
	trmx_task_free(t);
	free(arc);
	model_close(&md);
	tu_rmtree(dir);
	free(dir);
}

/* Batches, chunks and limits: 40 items through batch 1 (chunks of 32) and batch 7. */
static void test_chunks_and_limit(void **state)
{
	char *dir = tu_tmpdir();
	struct model md;
	random_model(&md, arch_sudoku4("16", "false", "2"), dir, 14);
	trmx_task *t = task_open("sudoku", "size=4");
	size_t cap = 64 * 40;
	char *text = malloc(cap);
	size_t len = (size_t)snprintf(text, cap, "puzzle,solution\n");
	trmx_sudoku_gen_options go = TRMX_SUDOKU_GEN_OPTIONS_INIT;
	go.size = 4;
	for (int i = 0; i < 40; i++) {
		uint8_t puz[16], sol[16];
		trmx_rng rng;
		trmx_rng_seed(&rng, 3, (uint64_t)i);
		assert_int_equal(trmx_sudoku_generate(&rng, &go, puz, sol, NULL, NULL), 0);
		char a[17], b[17];
		digits_text(puz, a);
		digits_text(sol, b);
		len += (size_t)snprintf(text + len, cap - len, "%s,%s\n", a, b);
	}
	char *csv = tu_path(dir, "forty.csv");
	assert_int_equal(tu_write_text(csv, text), 0);
	trmx_dataset *ds = dataset_load(t, csv, TRMX_SPLIT_TEST);
	static struct seen s;
	trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
	trmx_eval_result a, b;
	o.batch_size = 1;
	eval_ok(md.m, t, ds, &o, &s, &a);
	assert_int_equal(a.items, 40);
	assert_int_equal(s.n, 40);
	for (int i = 0; i < 40; i++)
		assert_int_equal(s.example[i], i);
	o.batch_size = 7;
	eval_ok(md.m, t, ds, &o, NULL, &b);
	assert_int_equal(b.items, 40);
	assert_int_equal(b.tokens, a.tokens);
	assert_int_equal(b.open, a.open);
	o.limit = 5;
	eval_ok(md.m, t, ds, &o, &s, &b);
	assert_int_equal(b.items, 5);
	assert_int_equal(s.n, 5);
	assert_int_equal(b.tokens, 5 * 16);
	o.limit = 1000; /* past the end: everything */
	eval_ok(md.m, t, ds, &o, NULL, &b);
	assert_int_equal(b.items, 40);
	trmx_dataset_free(ds);
	free(csv);
	free(text);
	trmx_task_free(t);
	model_close(&md);
	tu_rmtree(dir);
	free(dir);
}

/* ---- errors ------------------------------------------------------------------------------ */

struct prog {
	int calls, stop_after;
	int64_t last_done, total;
};

static int on_progress(void *user, const trmx_eval_progress *p)
{
	struct prog *g = user;
	assert_true(p->done >= g->last_done);
	assert_true(p->done <= p->total);
	assert_true(p->exact <= p->labelled && p->labelled <= p->done);
	g->last_done = p->done;
	g->total = p->total;
	return ++g->calls == g->stop_after;
}

static void test_errors(void **state)
{
	char *dir = tu_tmpdir();
	struct puzzles p;
	make_puzzles(&p);
	struct model md;
	random_model(&md, arch_sudoku4("16", "false", "2"), dir, 15);
	trmx_task *t = task_open("sudoku", "size=4");
	char *csv = write_csv(dir, &p, 0);
	trmx_dataset *ds = dataset_load(t, csv, TRMX_SPLIT_TEST);
	trmx_error err = { 0, "" };
	trmx_eval_result r, before;
	memset(&r, 0xab, sizeof r);
	before = r;

	/* the codec's shape against the model's, both named */
	trmx_task *t9 = task_open("sudoku", "size=9");
	assert_trmx_error(trmx_eval_run(md.m, t9, ds, NULL, NULL, NULL, &r, &err), err, TRMX_ESHAPE,
			  "task sudoku has seq_len 81 and vocab_size 11, but the model has seq_len 16 and vocab_size 6");
	trmx_task_free(t9);
	/* a data set of another shape, no task */
	trmx_task *tok = task_open("tokens", "seq_len=16,vocab_size=8");
	trmx_dataset *dt = NULL;
	assert_int_equal(trmx_dataset_parse(&dt, tok, "1 2 3 4 5 6 7 1 2 3 4 5 6 7 1 2", 31, NULL, &err), 0);
	assert_trmx_error(trmx_eval_run(md.m, NULL, dt, NULL, NULL, NULL, &r, &err), err, TRMX_ESHAPE,
			  "the data set has seq_len 16 and vocab_size 8, but the model has seq_len 16 and vocab_size 6");
	trmx_dataset_free(dt);
	trmx_task_free(tok);

	/* options */
	trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
	o.version = 0;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err, TRMX_EVERSION, "version 0");
	o = (trmx_eval_options)TRMX_EVAL_OPTIONS_INIT;
	o.max_steps = TRMX_SOLVE_STEPS_MAX + 1;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err, TRMX_EINVAL, "max_steps 1025");
	o = (trmx_eval_options)TRMX_EVAL_OPTIONS_INIT;
	o.batch_size = -1;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err, TRMX_EINVAL, "batch_size -1");
	o = (trmx_eval_options)TRMX_EVAL_OPTIONS_INIT;
	o.limit = -2;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err, TRMX_EINVAL, "limit -2");
	o = (trmx_eval_options)TRMX_EVAL_OPTIONS_INIT;
	o.halt = (trmx_halt_mode)7;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err, TRMX_EINVAL, "halting mode 7");
	assert_trmx_error(trmx_eval_run(NULL, t, ds, NULL, NULL, NULL, &r, &err), err, TRMX_EINVAL, "NULL");
	assert_trmx_error(trmx_eval_run(md.m, t, NULL, NULL, NULL, NULL, &r, &err), err, TRMX_EINVAL, "NULL");
	assert_trmx_error(trmx_eval_run(md.m, t, ds, NULL, NULL, NULL, NULL, &err), err, TRMX_EINVAL, "NULL");

	/* callbacks stop the run */
	static struct seen s;
	memset(&s, 0, sizeof s);
	s.L = 16;
	s.stop_at = 3;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, NULL, on_item, &s, &r, &err), err, TRMX_ECANCELLED,
			  "stopped by the item callback at item 2 of 16");
	assert_int_equal(s.n, 3);
	struct prog g = { 0, 2, 0, 0 };
	o = (trmx_eval_options)TRMX_EVAL_OPTIONS_INIT;
	o.progress = on_progress;
	o.progress_user = &g;
	o.batch_size = 4;
	assert_trmx_error(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err, TRMX_ECANCELLED,
			  "stopped by the progress callback");
	assert_memory_equal(&r, &before, sizeof r); /* *out untouched on failure */

	/* progress to the end */
	g = (struct prog){ 0, 0, 0, 0 };
	assert_trmx_ok(trmx_eval_run(md.m, t, ds, &o, NULL, NULL, &r, &err), err);
	assert_int_equal(g.last_done, N_ITEMS);
	assert_int_equal(g.total, N_ITEMS);
	assert_int_equal(g.calls, 4 * 2); /* 4 batches of 4 rows, 2 fixed steps each */

	/* a puzzle identifier the model does not know */
	struct model arc;
	random_model(&arc, arch_arc("2"), dir, 16);
	trmx_task *ta = task_open("arc", NULL);
	char *arcdir = tu_path(fixture_dir(), "tasks/arc");
	trmx_dataset *da = dataset_load(ta, arcdir, TRMX_SPLIT_TEST);
	assert_trmx_error(trmx_eval_run(arc.m, ta, da, NULL, NULL, NULL, &r, &err), err, TRMX_ESHAPE,
			  "puzzle 1 (recolor) has identifier 2, but the model knows identifiers [0, 2)");
	trmx_dataset_free(da);
	trmx_task_free(ta);
	free(arcdir);
	model_close(&arc);

	/* the open-cell rule, as documented */
	trmx_task *tm = task_open("maze", "size=4");
	assert_true(trmx_eval_is_open(t, 1, 3));
	assert_false(trmx_eval_is_open(t, 3, 3));
	assert_false(trmx_eval_is_open(t, 1, 0));
	assert_true(trmx_eval_is_open(tm, 2, 2));  /* an open cell off the path */
	assert_true(trmx_eval_is_open(tm, 2, 5));  /* on the path */
	assert_false(trmx_eval_is_open(tm, 1, 1)); /* a wall */
	assert_true(trmx_eval_is_open(NULL, 2, 3));
	assert_false(trmx_eval_is_open(NULL, 3, 3));
	trmx_task_free(tm);

	trmx_dataset_free(ds);
	free(csv);
	trmx_task_free(t);
	model_close(&md);
	tu_rmtree(dir);
	free(dir);
}

/* ---- the CLI fixture ------------------------------------------------------------------------ */

static void test_fixture(void **state)
{
	char *dir = tu_tmpdir();
	char *want = tu_path(fixture_dir(), "eval_tiny.safetensors");
	char *got = getenv("TRMX_UPDATE_FIXTURES") ? strdup(want) : tu_path(dir, "eval_tiny.safetensors");
	trmx_config *arch = arch_sudoku4("16", "false", "4");
	trmx_error err = { 0, "" };
	assert_trmx_ok(write_identity(arch, got, TRMX_DTYPE_BF16, &err), err);
	trmx_weights *a = NULL, *b = NULL;
	if (trmx_weights_open(&a, want, &err) < 0)
		fail_msg("%s (regenerate: TRMX_UPDATE_FIXTURES=1 build/tests/test_eval)", err.message);
	assert_int_equal(trmx_weights_open(&b, got, &err), 0);
	assert_int_equal(trmx_weights_count(a), trmx_weights_count(b));
	for (size_t i = 0; i < trmx_weights_count(a); i++) {
		const trmx_tensor_view *x = trmx_weights_at(a, i), *y = trmx_weights_at(b, i);
		assert_string_equal(x->name, y->name);
		assert_int_equal(x->dtype, y->dtype);
		assert_int_equal(x->nbytes, y->nbytes);
		assert_memory_equal(x->data, y->data, x->nbytes);
	}
	struct stat st;
	assert_int_equal(stat(want, &st), 0);
	print_message("%s: %lld bytes\n", want, (long long)st.st_size);
	assert_true(st.st_size < 50 * 1024);

	/* it behaves as the identity model: a fully given 4x4 grid comes back valid */
	trmx_config *meta = NULL;
	assert_int_equal(trmx_config_from_metadata(&meta, a, &err), 0);
	trmx_model *m = NULL;
	assert_trmx_ok(trmx_model_open(&m, "trm", meta, a, NULL, &err), err);
	int32_t in[16] = { 2, 3, 4, 5, 4, 5, 2, 3, 3, 2, 5, 4, 5, 4, 3, 1 }, pred[16], steps;
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = 1;
	req.inputs = in;
	req.preds = pred;
	req.steps = &steps;
	req.halt = TRMX_HALT_ADAPTIVE;
	assert_trmx_ok(trmx_model_solve(m, &req, &err), err);
	in[15] = 2;
	assert_memory_equal(pred, in, sizeof in);
	assert_int_equal(steps, 4);
	trmx_model_free(m);
	trmx_config_free(meta);
	trmx_weights_free(a);
	trmx_weights_free(b);
	trmx_config_free(arch);
	free(want);
	free(got);
	tu_rmtree(dir);
	free(dir);
}

/* The halting calibration of a fixed run predicts, for every threshold, exactly what an adaptive
 * run with that threshold gives: its exact solves and its ACT steps (rows are independent). */
static void check_calibration(trmx_model *m, trmx_task *t, trmx_dataset *ds, int S, int batch, const char *what,
			      bool trained)
{
	trmx_eval_halting h;
	trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
	trmx_eval_result fixed, r;
	trmx_error err = { 0, "" };
	o.max_steps = S;
	o.batch_size = batch;
	o.halting = &h;
	assert_trmx_ok(trmx_eval_run(m, t, ds, &o, NULL, NULL, &fixed, &err), err);
	assert_int_equal(h.count, TRMX_EVAL_THRESHOLDS);
	int distinct = 0;
	for (int k = 0; k < h.count; k++) {
		if (k > 0) {
			assert_true(h.threshold[k] > h.threshold[k - 1]);
			assert_true(h.act_steps[k] >= h.act_steps[k - 1]); /* a higher bar halts later */
			distinct += h.act_steps[k] != h.act_steps[k - 1];
		}
		trmx_eval_options a = o;
		a.halting = NULL;
		a.halt = TRMX_HALT_ADAPTIVE;
		a.halt_threshold = h.threshold[k];
		assert_trmx_ok(trmx_eval_run(m, t, ds, &a, NULL, NULL, &r, &err), err);
		if (r.exact != h.exact[k] || r.act_steps != h.act_steps[k])
			fail_msg("%s, threshold %g: calibrated %lld exact in %lld steps, the adaptive run %lld in %lld",
				 what, h.threshold[k], (long long)h.exact[k], (long long)h.act_steps[k], (long long)r.exact,
				 (long long)r.act_steps);
	}
	print_message("%s: %lld items, fixed %d steps %lld exact; thresholds %g..%g: exact %lld..%lld, steps %lld..%lld "
		      "(%d changes)\n",
		      what, (long long)fixed.items, S, (long long)fixed.exact, h.threshold[0], h.threshold[h.count - 1],
		      (long long)h.exact[0], (long long)h.exact[h.count - 1], (long long)h.act_steps[0],
		      (long long)h.act_steps[h.count - 1], distinct);
	assert_true(distinct >= 2); /* the thresholds do move the halting of this model */
	if (trained)		    /* and what it solves */
		assert_true(h.exact[0] < h.exact[h.count - 1] && h.exact[h.count - 1] > 0);
	/* the calibration needs every step of every row */
	trmx_eval_options bad = o;
	bad.halt = TRMX_HALT_ADAPTIVE;
	assert_int_equal(trmx_eval_run(m, t, ds, &bad, NULL, NULL, &r, &err), TRMX_EINVAL);
	bad = o;
	bad.halting = NULL;
	bad.halt = TRMX_HALT_ADAPTIVE;
	bad.halt_threshold = NAN;
	assert_int_equal(trmx_eval_run(m, t, ds, &bad, NULL, NULL, &r, &err), TRMX_EINVAL);
}

static void test_halting_calibration(void **state)
{
	char *dir = tu_tmpdir();
	trmx_task *t = task_open("sudoku", "size=4");
	trmx_error err = { 0, "" };
	/* 160 generated 4x4 puzzles */
	trmx_buf csv = { 0 };
	trmx_rng rng;
	trmx_rng_seed(&rng, 2027, 0);
	trmx_sudoku_gen_options go = TRMX_SUDOKU_GEN_OPTIONS_INIT;
	go.size = 4;
	for (int i = 0; i < 160; i++) {
		uint8_t p[16], s[16];
		assert_trmx_ok(trmx_sudoku_generate(&rng, &go, p, s, NULL, &err), err);
		for (int k = 0; k < 16; k++)
			trmx_buf_putc(&csv, p[k] ? (char)('0' + p[k]) : '.');
		trmx_buf_putc(&csv, ',');
		for (int k = 0; k < 16; k++)
			trmx_buf_putc(&csv, (char)('0' + s[k]));
		trmx_buf_putc(&csv, '\n');
	}
	assert_false(csv.failed);
	trmx_dataset *ds = NULL;
	trmx_dataset_options dso = TRMX_DATASET_OPTIONS_INIT;
	assert_trmx_ok(trmx_dataset_parse(&ds, t, csv.s, csv.n, &dso, &err), err);
	/* a random model (its margins near 0) and the trained fixture module */
	struct model md;
	random_model(&md, arch_sudoku4("32", "true", "4"), dir, 21);
	check_calibration(md.m, t, ds, 8, 7, "random model", false);
	model_close(&md);
	/* the bundled HRM module: its margin is q_halt - q_continue, and it halts after 1-16 steps */
	char *w = tu_path(fixture_dir(), "../../modules/sudoku4-hrm/weights.safetensors");
	trmx_weights *tw = NULL;
	trmx_config *meta = NULL;
	trmx_model *hm = NULL;
	assert_trmx_ok(trmx_weights_open(&tw, w, &err), err);
	assert_trmx_ok(trmx_config_from_metadata(&meta, tw, &err), err);
	assert_trmx_ok(trmx_model_open(&hm, trmx_config_engine(meta), meta, tw, NULL, &err), err);
	check_calibration(hm, t, ds, 16, 64, "modules/sudoku4-hrm", true);
	trmx_model_free(hm);
	trmx_config_free(meta);
	trmx_weights_free(tw);
	free(w);
	trmx_dataset_free(ds);
	trmx_buf_free(&csv);
	trmx_task_free(t);
	tu_rmtree(dir);
	free(dir);
}

int main(void)
{
	/* One kernel thread: these models are tiny, so a step is mostly parallel-region overhead,
	 * which on a loaded two-core machine made batch-1 runs 10x slower. Threads are test_trm's. */
	trmx_set_threads(1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity_csv),	 cmocka_unit_test(test_random_csv_layouts),
		cmocka_unit_test(test_random_built),	 cmocka_unit_test(test_random_arc_folder),
		cmocka_unit_test(test_chunks_and_limit), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_fixture),		 cmocka_unit_test(test_halting_calibration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
