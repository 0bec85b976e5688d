/*
 * test_trm.c — the TRM and HRM engines against the PyTorch reference fixtures
 * (tests/fixtures/trm_*.safetensors from tools/gen_fixtures.py, hrm_*.safetensors from
 * tools/gen_hrm_fixtures.py), adaptive halting with continuous batching, weight and architecture
 * validation, parameter counts.
 *
 * Tolerance: every ACT step's logits and Q logits within 1e-4 absolute of the float64 reference.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "engines/trm/trm_int.h"
#include "helpers/numcheck.h"
#include "helpers/testutil.h"
#include "helpers/weightgen.h"
#include "trmx/trmx.h"

#define TOL 1e-4

static const char *fixture_dir(void)
{
	const char *d = getenv("TRMX_FIXTURES");
	return d ? d : "tests/fixtures";
}

/* A fixture: its file, the model's weights (inline or regenerated), inputs and expected outputs. */
struct fixture {
	char *tmp;
	trmx_weights *file, *weights;
	trmx_config *arch;
	trmx_model *model;
	trmx_model_info info;
	int B, steps;
	int32_t *inputs, *pids;
	float *logits, *qh, *qc; /* expected [steps, B, ...] */
	int32_t *halt_steps;     /* tiny_halt only */
};

static void *copy_tensor(const trmx_weights *w, const char *name, trmx_dtype dt)
{
	const trmx_tensor_view *v = trmx_weights_find(w, name);
	assert_non_null(v);
	assert_int_equal(v->dtype, dt);
	void *p = malloc(v->nbytes ? v->nbytes : 1);
	memcpy(p, v->data, v->nbytes);
	return p;
}

/* The engine of a fixture: its official `name` says HRM or TRM. */
static bool fixture_is_hrm(const trmx_weights *w)
{
	const char *name = trmx_weights_metadata(w, "name");
	return name && !strncmp(name, "hrm.", 4);
}

static void fixture_open(struct fixture *f, const char *name)
{
	char path[512];
	trmx_error err;
	memset(f, 0, sizeof *f);
	snprintf(path, sizeof path, "%s/%s.safetensors", fixture_dir(), name);
	if (trmx_weights_open(&f->file, path, &err) < 0)
		fail_msg("%s (regenerate with /usr/bin/python3 tools/gen_fixtures.py or gen_hrm_fixtures.py)",
			 err.message);
	assert_int_equal(trmx_config_from_metadata(&f->arch, f->file, &err), 0);
	bool hrm = fixture_is_hrm(f->file);
	const char *src = trmx_weights_metadata(f->file, "fixture.weights");
	assert_non_null(src);
	if (!strcmp(src, "inline")) {
		f->weights = f->file;
	} else {
		unsigned long long seed;
		assert_int_equal(sscanf(src, "generated:%llu", &seed), 1);
		f->tmp = tu_tmpdir();
		snprintf(path, sizeof path, "%s/weights.safetensors", f->tmp);
		if (wg_write_model(f->arch, hrm, seed, path, &err) < 0)
			fail_msg("%s", err.message);
		assert_int_equal(trmx_weights_open(&f->weights, path, &err), 0);
	}
	if (trmx_model_open(&f->model, hrm ? "hrm" : "trm", f->arch, f->weights, NULL, &err) < 0)
		fail_msg("%s", err.message);
	trmx_model_info_get(f->model, &f->info);
	const trmx_tensor_view *in = trmx_weights_find(f->file, "fixture.inputs");
	assert_non_null(in);
	f->B = (int)in->shape[0];
	f->steps = atoi(trmx_weights_metadata(f->file, "fixture.steps"));
	f->inputs = copy_tensor(f->file, "fixture.inputs", TRMX_DTYPE_I32);
	f->pids = copy_tensor(f->file, "fixture.puzzle_ids", TRMX_DTYPE_I32);
	f->logits = copy_tensor(f->file, "fixture.logits", TRMX_DTYPE_F32);
	f->qh = copy_tensor(f->file, "fixture.q_halt", TRMX_DTYPE_F32);
	f->qc = copy_tensor(f->file, "fixture.q_continue", TRMX_DTYPE_F32);
	if (trmx_weights_find(f->file, "fixture.halt_steps"))
		f->halt_steps = copy_tensor(f->file, "fixture.halt_steps", TRMX_DTYPE_I32);
}

static void fixture_close(struct fixture *f)
{
	trmx_model_free(f->model);
	if (f->weights != f->file)
		trmx_weights_free(f->weights);
	trmx_weights_free(f->file);
	trmx_config_free(f->arch);
	if (f->tmp) {
		tu_rmtree(f->tmp);
		free(f->tmp);
	}
	free(f->inputs), free(f->pids), free(f->logits), free(f->qh), free(f->qc), free(f->halt_steps);
}

/* Every step of every row, in [step, input] order. */
struct record {
	int steps, B, LV;
	float *logits, *qh, *qc;
	int32_t *ran;
};

static int record_step(void *user, const trmx_step_view *v)
{
	struct record *r = user;
	for (int i = 0; i < v->rows; i++) {
		size_t in = (size_t)v->input_index[i];
		int s = v->row_step[i] - 1;
		assert_true(s < r->steps);
		memcpy(r->logits + ((size_t)s * r->B + in) * r->LV, v->logits + (size_t)i * r->LV,
		       (size_t)r->LV * sizeof(float));
		r->qh[(size_t)s * r->B + in] = v->q_halt[i];
		r->qc[(size_t)s * r->B + in] = v->q_continue[i];
		r->ran[in] = v->row_step[i];
	}
	return 0;
}

static void record_init(struct record *r, const struct fixture *f)
{
	r->steps = f->steps;
	r->B = f->B;
	r->LV = f->info.seq_len * f->info.vocab_size;
	r->logits = calloc((size_t)r->steps * r->B * r->LV, sizeof(float));
	r->qh = calloc((size_t)r->steps * r->B, sizeof(float));
	r->qc = calloc((size_t)r->steps * r->B, sizeof(float));
	r->ran = calloc((size_t)r->B, sizeof(int32_t));
}

static void record_free(struct record *r)
{
	free(r->logits), free(r->qh), free(r->qc), free(r->ran);
}

static void check_fixture(const char *name)
{
	struct fixture f;
	struct record r;
	trmx_error err;
	fixture_open(&f, name);
	record_init(&r, &f);
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = (size_t)f.B;
	req.inputs = f.inputs;
	req.puzzle_ids = f.pids;
	req.max_steps = f.steps;
	req.on_step = record_step;
	req.user = &r;
	if (trmx_model_solve(f.model, &req, &err) < 0)
		fail_msg("%s", err.message);
	print_message("%s: B=%d, %d ACT steps, %lld parameters, max |logit| %.2f\n", name, f.B, f.steps,
		      (long long)f.info.num_params, nc_max_abs(f.logits, (size_t)f.steps * f.B * r.LV));
	for (int s = 0; s < f.steps; s++) {
		char what[96];
		size_t off = (size_t)s * f.B;
		snprintf(what, sizeof what, "%s step %2d logits", name, s + 1);
		assert_close(r.logits + off * r.LV, f.logits + off * r.LV, (size_t)f.B * r.LV, TOL, what);
		snprintf(what, sizeof what, "%s step %2d q_halt", name, s + 1);
		assert_close(r.qh + off, f.qh + off, (size_t)f.B, TOL, what);
		snprintf(what, sizeof what, "%s step %2d q_continue", name, s + 1);
		assert_close(r.qc + off, f.qc + off, (size_t)f.B, TOL, what);
	}
	record_free(&r);
	fixture_close(&f);
}

static void test_tiny_mlp(void **state) { check_fixture("trm_tiny_mlp"); }
static void test_tiny_rope(void **state) { check_fixture("trm_tiny_rope"); }
static void test_tiny_learned(void **state) { check_fixture("trm_tiny_learned"); }
static void test_tiny_nopuzzle(void **state) { check_fixture("trm_tiny_nopuzzle"); }
static void test_sudoku_mlp(void **state) { check_fixture("trm_sudoku_mlp"); }
static void test_arc_att(void **state) { check_fixture("trm_arc_att"); }
static void test_hrm_tiny(void **state) { check_fixture("hrm_tiny"); }
static void test_hrm_tiny_learned(void **state) { check_fixture("hrm_tiny_learned"); }
static void test_hrm_sudoku(void **state) { check_fixture("hrm_sudoku"); }

/* Adaptive halting: every row stops at the first step its Q head says halt, and continuous
 * batching (3 slots for 8 inputs, refilled as rows halt) gives each row the same numbers. */
/* Feeding (request version 2): rows arrive while others run (the feed has nothing on every other
 * call), each with its own halting mode, and every row gets what a version-1 solve of it alone
 * gives: the same steps and the same answer. */
struct feed_test {
	const struct fixture *f;
	int next, calls, ndone;
	int32_t steps[64];
	int32_t preds[64 * 128];
};

static int test_feed(void *user, int32_t *input, trmx_feed_row *row)
{
	struct feed_test *t = user;
	if (t->next >= t->f->B || t->calls++ % 2)
		return 0;
	int i = t->next++;
	memcpy(input, t->f->inputs + (size_t)i * t->f->info.seq_len, (size_t)t->f->info.seq_len * sizeof *input);
	*row = (trmx_feed_row){ 100 + i, t->f->pids ? t->f->pids[i] : 0, i % 2 ? 3 : 0,
				i % 2 ? TRMX_HALT_FIXED : TRMX_HALT_ADAPTIVE };
	return 1;
}

static void test_done(void *user, int64_t index, const int32_t *pred, int steps, float q_halt, float q_continue,
		      trmx_halt_reason reason)
{
	struct feed_test *t = user;
	int i = (int)index - 100;
	assert_true(i >= 0 && i < t->f->B);
	t->steps[i] = steps;
	memcpy(t->preds + (size_t)i * t->f->info.seq_len, pred, (size_t)t->f->info.seq_len * sizeof *pred);
	t->ndone++;
}

static void test_feed_continuous(void **state)
{
	struct fixture f;
	trmx_error err;
	fixture_open(&f, "trm_tiny_halt");
	assert_true(f.B <= 64 && f.info.seq_len <= 128);
	struct feed_test t = { &f, 0, 0, 0, { 0 }, { 0 } };
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.batch_size = 3;
	req.feed = test_feed;
	req.done = test_done;
	req.user = &t;
	/* the feed's gaps end the solve when no row is active: call again until every row ran */
	while (t.next < f.B)
		if (trmx_model_solve(f.model, &req, &err) < 0)
			fail_msg("%s", err.message);
	assert_int_equal(t.ndone, f.B);
	for (int i = 0; i < f.B; i++) {
		trmx_solve_request one = TRMX_SOLVE_REQUEST_INIT;
		int32_t steps, pred[128];
		one.n = 1;
		one.inputs = f.inputs + (size_t)i * f.info.seq_len;
		one.puzzle_ids = f.pids ? f.pids + i : NULL;
		one.halt = i % 2 ? TRMX_HALT_FIXED : TRMX_HALT_ADAPTIVE;
		one.max_steps = i % 2 ? 3 : 0;
		one.steps = &steps;
		one.preds = pred;
		if (trmx_model_solve(f.model, &one, &err) < 0)
			fail_msg("%s", err.message);
		assert_int_equal(t.steps[i], steps);
		assert_int_equal(t.steps[i], i % 2 ? 3 : f.halt_steps[i]);
		assert_memory_equal(t.preds + (size_t)i * f.info.seq_len, pred, (size_t)f.info.seq_len * sizeof *pred);
	}
	req.done = NULL;
	assert_int_equal(trmx_model_solve(f.model, &req, &err), TRMX_EINVAL);
	fixture_close(&f);
}

static void test_adaptive_continuous_batching(void **state)
{
	struct fixture f;
	struct record r;
	trmx_error err;
	fixture_open(&f, "trm_tiny_halt");
	assert_non_null(f.halt_steps);
	record_init(&r, &f);
	int32_t *steps = calloc((size_t)f.B, sizeof *steps);
	uint8_t *reason = calloc((size_t)f.B, 1);
	int32_t *preds = calloc((size_t)f.B * f.info.seq_len, sizeof *preds);
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = (size_t)f.B;
	req.inputs = f.inputs;
	req.puzzle_ids = f.pids;
	req.batch_size = 3;
	req.halt = TRMX_HALT_ADAPTIVE;
	req.on_step = record_step;
	req.user = &r;
	req.steps = steps;
	req.reason = reason;
	req.preds = preds;
	if (trmx_model_solve(f.model, &req, &err) < 0)
		fail_msg("%s", err.message);
	int distinct = 0, seen[TRMX_SOLVE_STEPS_MAX + 1] = { 0 };
	for (int i = 0; i < f.B; i++) {
		print_message("row %d: halted after %d steps (reference %d), reason %d\n", i, steps[i], f.halt_steps[i],
			      reason[i]);
		assert_int_equal(steps[i], f.halt_steps[i]);
		assert_int_equal(r.ran[i], steps[i]);
		assert_int_equal(reason[i], steps[i] < f.steps || f.qh[(size_t)(f.steps - 1) * f.B + i] > 0
						    ? TRMX_HALT_REASON_Q
						    : TRMX_HALT_REASON_MAX_STEPS);
		distinct += !seen[steps[i]]++;
		for (int s = 0; s < steps[i]; s++) {
			char what[64];
			size_t off = (size_t)s * f.B + i;
			snprintf(what, sizeof what, "adaptive row %d step %d", i, s + 1);
			assert_close(r.logits + off * r.LV, f.logits + off * r.LV, (size_t)r.LV, TOL, what);
		}
		/* the final answer is the argmax of the last step's logits */
		const float *last = f.logits + ((size_t)(steps[i] - 1) * f.B + i) * r.LV;
		for (int t = 0; t < f.info.seq_len; t++) {
			int best = 0;
			for (int v = 1; v < f.info.vocab_size; v++)
				best = last[t * f.info.vocab_size + v] > last[t * f.info.vocab_size + best] ? v : best;
			assert_int_equal(preds[(size_t)i * f.info.seq_len + t], best);
		}
	}
	assert_true(distinct >= 3); /* the fixture spreads halting over several steps */
	free(steps), free(reason), free(preds);
	record_free(&r);
	fixture_close(&f);
}

/* ---- validation ------------------------------------------------------------------------ */

static trmx_config *tiny_arch(const char *extra_key, const char *extra_value)
{
	static const char *const kv[][2] = {
		{ "seq_len", "16" },	  { "vocab_size", "6" },     { "num_puzzle_identifiers", "3" },
		{ "hidden_size", "32" },  { "num_heads", "2" },	     { "expansion", "4" },
		{ "L_layers", "2" },	  { "H_cycles", "2" },	     { "L_cycles", "2" },
		{ "puzzle_emb_ndim", "32" }, { "puzzle_emb_len", "2" }, { "pos_encodings", "rope" },
		{ "halt_max_steps", "4" }, { "forward_dtype", "bfloat16" }, { "loss.name", "losses@ACTLossHead" },
	};
	trmx_config *c;
	assert_int_equal(trmx_config_new(&c, NULL), 0);
	for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
		assert_int_equal(trmx_config_set(c, kv[i][0], kv[i][1], NULL), 0);
	if (extra_key)
		assert_int_equal(trmx_config_set(c, extra_key, extra_value, NULL), 0);
	return c;
}

static void expect_open_error(trmx_config *arch, const trmx_weights *w, int code, const char *needle)
{
	trmx_model *m = NULL;
	trmx_error err = { 0 };
	int rc = trmx_model_open(&m, "trm", arch, w, NULL, &err);
	print_message("expect %d '%s': got %d '%s'\n", code, needle, rc, err.message);
	assert_int_equal(rc, code);
	assert_null(m);
	assert_non_null(strstr(err.message, needle));
}

static void test_architecture_errors(void **state)
{
	char *tmp = tu_tmpdir(), path[512];
	trmx_error err;
	trmx_config *good = tiny_arch(NULL, NULL);
	snprintf(path, sizeof path, "%s/w.safetensors", tmp);
	assert_int_equal(wg_write_trm(good, 1, path, &err), 0);
	trmx_weights *w;
	assert_int_equal(trmx_weights_open(&w, path, &err), 0);
	static const struct {
		const char *key, *value, *needle;
	} cases[] = {
		{ "hiden_size", "32", "unknown key 'hiden_size'" },
		{ "hidden_size", "abc", "'hidden_size' must be an integer" },
		{ "hidden_size", "0", "'hidden_size' = 0 is outside" },
		{ "expansion", "x", "'expansion' must be a number" },
		{ "pos_encodings", "alibi", "knows rope, learned and none" },
		{ "mlp_t", "maybe", "'mlp_t' must be true or false" },
		{ "puzzle_emb_ndim", "100", "does not fit in puzzle_emb_len 2" },
		{ "num_heads", "64", "num_heads 64 exceeds hidden_size 32" },
		{ "num_heads", "32", "RoPE needs an even head size" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		trmx_config *c = tiny_arch(cases[i].key, cases[i].value);
		expect_open_error(c, w, TRMX_EINVAL, cases[i].needle);
		trmx_config_free(c);
	}
	trmx_config *c = tiny_arch("puzzle_emb_ndim", "0");
	expect_open_error(c, w, TRMX_EINVAL, "puzzle_emb_len 2 with puzzle_emb_ndim 0");
	trmx_config_free(c);
	assert_int_equal(trmx_config_new(&c, NULL), 0);
	assert_int_equal(trmx_config_set(c, "seq_len", "16", NULL), 0);
	expect_open_error(c, w, TRMX_EINVAL, "'vocab_size' is missing");
	trmx_config_free(c);
	assert_int_equal(trmx_model_open(&(trmx_model *){ NULL }, "nope", good, w, NULL, &err), TRMX_ENOTFOUND);
	trmx_weights_free(w);
	trmx_config_free(good);
	tu_rmtree(tmp);
	free(tmp);
}

/* Rewrite the tensors of `src` into `path`, changing one as `edit` says. */
enum edit { EDIT_DROP, EDIT_SHAPE, EDIT_DTYPE_I32, EDIT_BF16_ALL, EDIT_PREFIX };

static void rewrite(const trmx_weights *src, const char *path, enum edit e, const char *target)
{
	trmx_weights_writer *wr;
	trmx_error err;
	assert_int_equal(trmx_weights_writer_new(&wr, &err), 0);
	for (size_t i = 0; i < trmx_weights_metadata_count(src); i++) {
		const char *k, *v;
		trmx_weights_metadata_at(src, i, &k, &v);
		assert_int_equal(trmx_weights_writer_set_metadata(wr, k, v, &err), 0);
	}
	for (size_t i = 0; i < trmx_weights_count(src); i++) {
		const trmx_tensor_view *t = trmx_weights_at(src, i);
		bool hit = target && strstr(t->name, target);
		size_t n = t->nbytes / 4;
		char name[256];
		snprintf(name, sizeof name, "%s%s", e == EDIT_PREFIX ? "_orig_mod." : "", t->name);
		if (hit && e == EDIT_DROP)
			continue;
		if (hit && e == EDIT_SHAPE) {
			int64_t shape[2] = { t->shape[0], t->shape[1] };
			shape[t->ndim - 1] = 1;
			assert_int_equal(trmx_weights_writer_add(wr, name, TRMX_DTYPE_F32, t->ndim, shape, t->data, &err), 0);
		} else if (hit && e == EDIT_DTYPE_I32) {
			assert_int_equal(trmx_weights_writer_add(wr, name, TRMX_DTYPE_I32, t->ndim, t->shape, t->data, &err), 0);
		} else if (e == EDIT_BF16_ALL) {
			uint16_t *b = malloc(n * 2);
			for (size_t k = 0; k < n; k++) {
				uint32_t bits;
				memcpy(&bits, (const char *)t->data + 4 * k, 4);
				b[k] = (uint16_t)(bits >> 16); /* truncation: exact on the values we compare */
			}
			assert_int_equal(trmx_weights_writer_add(wr, name, TRMX_DTYPE_BF16, t->ndim, t->shape, b, &err), 0);
			free(b);
		} else {
			assert_int_equal(trmx_weights_writer_add(wr, name, t->dtype, t->ndim, t->shape, t->data, &err), 0);
		}
	}
	assert_int_equal(trmx_weights_writer_write(wr, path, &err), 0);
	trmx_weights_writer_free(wr);
}

static void run_tiny(trmx_config *arch, const trmx_weights *w, float *logits_out)
{
	trmx_model *m;
	trmx_error err;
	if (trmx_model_open(&m, "trm", arch, w, NULL, &err) < 0)
		fail_msg("%s", err.message);
	int32_t in[2 * 16];
	for (int i = 0; i < 32; i++)
		in[i] = 1 + (i * 7) % 5;
	int32_t pid[2] = { 0, 2 };
	struct record r = { 4, 2, 16 * 6, logits_out, calloc(8, 4), calloc(8, 4), calloc(2, 4) };
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = 2;
	req.inputs = in;
	req.puzzle_ids = pid;
	req.on_step = record_step;
	req.user = &r;
	assert_int_equal(trmx_model_solve(m, &req, &err), 0);
	free(r.qh), free(r.qc), free(r.ran);
	trmx_model_free(m);
}

static void test_weights_errors_and_formats(void **state)
{
	char *tmp = tu_tmpdir(), path[512], bad[512];
	trmx_error err;
	trmx_config *arch = tiny_arch(NULL, NULL);
	snprintf(path, sizeof path, "%s/w.safetensors", tmp);
	snprintf(bad, sizeof bad, "%s/bad.safetensors", tmp);
	assert_int_equal(wg_write_trm(arch, 3, path, &err), 0);
	trmx_weights *w, *b;
	assert_int_equal(trmx_weights_open(&w, path, &err), 0);

	rewrite(w, bad, EDIT_DROP, "layers.1.mlp.down_proj");
	assert_int_equal(trmx_weights_open(&b, bad, &err), 0);
	expect_open_error(arch, b, TRMX_ENOTFOUND, "'model.inner.L_level.layers.1.mlp.down_proj.weight' is missing");
	trmx_weights_free(b);

	rewrite(w, bad, EDIT_SHAPE, "q_head.weight");
	assert_int_equal(trmx_weights_open(&b, bad, &err), 0);
	expect_open_error(arch, b, TRMX_ESHAPE, "'model.inner.q_head.weight' has shape [2, 1]; the architecture needs [2, 32]");
	trmx_weights_free(b);

	rewrite(w, bad, EDIT_DTYPE_I32, "H_init");
	assert_int_equal(trmx_weights_open(&b, bad, &err), 0);
	expect_open_error(arch, b, TRMX_EDTYPE, "'model.inner.H_init' has dtype I32");
	trmx_weights_free(b);

	/* names with the torch.compile prefix give the same numbers */
	float *ref = calloc(4 * 2 * 16 * 6, sizeof(float)), *got = calloc(4 * 2 * 16 * 6, sizeof(float));
	run_tiny(arch, w, ref);
	rewrite(w, bad, EDIT_PREFIX, NULL);
	assert_int_equal(trmx_weights_open(&b, bad, &err), 0);
	run_tiny(arch, b, got);
	assert_memory_equal(got, ref, 4 * 2 * 16 * 6 * sizeof(float));
	trmx_weights_free(b);

	/* BF16 weights run as their float32 values: compare with F32 weights rounded the same way */
	rewrite(w, bad, EDIT_BF16_ALL, NULL);
	assert_int_equal(trmx_weights_open(&b, bad, &err), 0);
	run_tiny(arch, b, got);
	assert_false(memcmp(got, ref, 4 * 2 * 16 * 6 * sizeof(float)) == 0); /* rounding changed them */
	trmx_weights_free(b);
	float *ref16 = calloc(4 * 2 * 16 * 6, sizeof(float));
	{
		/* the same BF16 values widened to F32 by hand */
		trmx_weights *w16;
		char p32[512];
		snprintf(p32, sizeof p32, "%s/w16.safetensors", tmp);
		assert_int_equal(trmx_weights_open(&w16, bad, &err), 0);
		trmx_weights_writer *wr;
		assert_int_equal(trmx_weights_writer_new(&wr, &err), 0);
		for (size_t i = 0; i < trmx_weights_count(w16); i++) {
			const trmx_tensor_view *t = trmx_weights_at(w16, i);
			size_t n = t->nbytes / 2;
			float *f = malloc(n * 4);
			for (size_t k = 0; k < n; k++) {
				uint16_t h;
				memcpy(&h, (const char *)t->data + 2 * k, 2);
				uint32_t bits = (uint32_t)h << 16;
				memcpy(&f[k], &bits, 4);
			}
			assert_int_equal(trmx_weights_writer_add(wr, t->name, TRMX_DTYPE_F32, t->ndim, t->shape, f, &err), 0);
			free(f);
		}
		assert_int_equal(trmx_weights_writer_write(wr, p32, &err), 0);
		trmx_weights_writer_free(wr);
		trmx_weights_free(w16);
		assert_int_equal(trmx_weights_open(&b, p32, &err), 0);
		run_tiny(arch, b, ref16);
		trmx_weights_free(b);
	}
	assert_memory_equal(got, ref16, 4 * 2 * 16 * 6 * sizeof(float));
	free(ref), free(got), free(ref16);
	trmx_weights_free(w);
	trmx_config_free(arch);
	tu_rmtree(tmp);
	free(tmp);
}

static int cancel_at_two(void *user, const trmx_step_view *v)
{
	return v->row_step[0] >= 2;
}

static void test_solve_request_errors(void **state)
{
	char *tmp = tu_tmpdir(), path[512];
	trmx_error err;
	trmx_config *arch = tiny_arch(NULL, NULL);
	snprintf(path, sizeof path, "%s/w.safetensors", tmp);
	assert_int_equal(wg_write_trm(arch, 3, path, &err), 0);
	trmx_weights *w;
	trmx_model *m;
	assert_int_equal(trmx_weights_open(&w, path, &err), 0);
	assert_int_equal(trmx_model_open(&m, "trm", arch, w, NULL, &err), 0);
	int32_t in[16] = { 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1 };
	int32_t pid = 3;
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = 1;
	req.inputs = in;
	in[5] = 6;
	assert_int_equal(trmx_model_solve(m, &req, &err), TRMX_EINVAL);
	assert_non_null(strstr(err.message, "position 5: token 6 is outside the vocabulary [0, 6)"));
	in[5] = 1;
	req.puzzle_ids = &pid;
	assert_int_equal(trmx_model_solve(m, &req, &err), TRMX_EINVAL);
	assert_non_null(strstr(err.message, "puzzle id 3 is outside [0, 3)"));
	req.puzzle_ids = NULL;
	req.max_steps = TRMX_SOLVE_STEPS_MAX + 1;
	assert_int_equal(trmx_model_solve(m, &req, &err), TRMX_EINVAL);
	req.max_steps = 0;
	req.version = 99;
	assert_int_equal(trmx_model_solve(m, &req, &err), TRMX_EVERSION);
	req.version = TRMX_SOLVE_REQUEST_VERSION;
	req.on_step = cancel_at_two;
	assert_int_equal(trmx_model_solve(m, &req, &err), TRMX_ECANCELLED);
	/* fixed mode past halt_max_steps runs the asked steps; the budget reason appears below it */
	int32_t steps;
	uint8_t reason;
	req.on_step = NULL;
	req.steps = &steps;
	req.reason = &reason;
	req.max_steps = 7;
	assert_int_equal(trmx_model_solve(m, &req, &err), 0);
	assert_int_equal(steps, 7);
	assert_int_equal(reason, TRMX_HALT_REASON_MAX_STEPS);
	trmx_model_free(m);
	trmx_weights_free(w);
	trmx_config_free(arch);
	tu_rmtree(tmp);
	free(tmp);
}

/* The official sizes' parameter counts (the official configs: Sudoku MLP, Sudoku and Maze attention)
 * and SwiGLU widths (the official layers.py's rounding). */
static void test_param_counts_and_widths(void **state)
{
	assert_int_equal(trmx__trm_swiglu_width(4, 512), 1536);
	assert_int_equal(trmx__trm_swiglu_width(4, 97), 512);
	assert_int_equal(trmx__trm_swiglu_width(4, 916), 2560);
	assert_int_equal(trmx__trm_swiglu_width(4, 64), 256);
	assert_int_equal(trmx__trm_swiglu_width(4, 18), 256);
	static const struct {
		int seq, vocab;
		const char *mlp_t, *pos;
		int64_t want;
	} cases[] = {
		{ 81, 11, "true", "none", 5028866 },
		{ 81, 11, "false", "rope", 6828034 },
		{ 900, 6, "false", "rope", 6822914 },
		{ 900, 12, "false", "rope", 6829058 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char seq[16], vocab[16];
		snprintf(seq, sizeof seq, "%d", cases[i].seq);
		snprintf(vocab, sizeof vocab, "%d", cases[i].vocab);
		const char *kv[][2] = { { "seq_len", seq },	      { "vocab_size", vocab },
					{ "hidden_size", "512" },     { "num_heads", "8" },
					{ "expansion", "4" },	      { "L_layers", "2" },
					{ "H_cycles", "3" },	      { "L_cycles", "6" },
					{ "puzzle_emb_ndim", "512" }, { "halt_max_steps", "16" },
					{ "mlp_t", cases[i].mlp_t },  { "pos_encodings", cases[i].pos } };
		trmx_kv list[12];
		for (int k = 0; k < 12; k++)
			list[k] = (trmx_kv){ kv[k][0], kv[k][1] };
		trm_config c;
		assert_int_equal(trmx__trm_config_parse(&c, list, 12, false, NULL), 0);
		assert_int_equal(c.P, 16);
		trm_tensor_spec specs[64];
		size_t n = trmx__trm_tensor_specs(&c, specs);
		int64_t total = 0;
		for (size_t k = 0; k < n; k++)
			if (specs[k].trainable)
				total += specs[k].shape[0] * (specs[k].ndim == 2 ? specs[k].shape[1] : 1);
		print_message("seq %d vocab %d mlp_t %s: %lld parameters\n", cases[i].seq, cases[i].vocab,
			      cases[i].mlp_t, (long long)total);
		assert_int_equal(total, cases[i].want);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_param_counts_and_widths),
		cmocka_unit_test(test_architecture_errors),
		cmocka_unit_test(test_weights_errors_and_formats),
		cmocka_unit_test(test_solve_request_errors),
		cmocka_unit_test(test_tiny_mlp),
		cmocka_unit_test(test_tiny_rope),
		cmocka_unit_test(test_tiny_learned),
		cmocka_unit_test(test_tiny_nopuzzle),
		cmocka_unit_test(test_adaptive_continuous_batching),
		cmocka_unit_test(test_feed_continuous),
		cmocka_unit_test(test_sudoku_mlp),
		cmocka_unit_test(test_arc_att),
		cmocka_unit_test(test_hrm_tiny),
		cmocka_unit_test(test_hrm_tiny_learned),
		cmocka_unit_test(test_hrm_sudoku),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
