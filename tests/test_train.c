/*
 * test_train.c — the trainer: gradients against the PyTorch reference fixtures
 * (tests/fixtures/trm_grad_*.safetensors, tools/gen_grad_fixtures.py), three optimizer steps
 * against the reference (trm_steps_*), exact resume from a checkpoint, checkpoint and option
 * errors, the official initialisation, and a short end-to-end `trmx train` run.
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

#include "helpers/numcheck.h"
#include "helpers/testutil.h"
#include "helpers/weightgen.h"
#include "trmx/eval.h"
#include "trmx/train.h"

static const char *fixture_dir(void)
{
	const char *d = getenv("TRMX_FIXTURES");
	return d ? d : "tests/fixtures";
}

static trmx_config *tiny_arch(const char *mlp_t)
{
	static const char *const kv[][2] = {
		{ "seq_len", "16" },	     { "vocab_size", "6" },	{ "num_puzzle_identifiers", "3" },
		{ "hidden_size", "32" },     { "num_heads", "4" },	{ "expansion", "2" },
		{ "L_layers", "2" },	     { "H_cycles", "2" },	{ "L_cycles", "2" },
		{ "puzzle_emb_ndim", "32" }, { "puzzle_emb_len", "2" }, { "pos_encodings", "rope" },
		{ "halt_max_steps", "4" },
	};
	trmx_config *c;
	assert_int_equal(trmx_config_new(&c, NULL), 0);
	for (size_t i = 0; i < sizeof kv / sizeof *kv; i++)
		assert_int_equal(trmx_config_set(c, kv[i][0], kv[i][1], NULL), 0);
	assert_int_equal(trmx_config_set(c, "mlp_t", mlp_t, NULL), 0);
	return c;
}

/* ---- against the PyTorch reference ----------------------------------------------------------- */

static trmx_weights *open_fixture(const char *name)
{
	char path[512];
	trmx_weights *w;
	trmx_error err;
	snprintf(path, sizeof path, "%s/%s.safetensors", fixture_dir(), name);
	if (trmx_weights_open(&w, path, &err) < 0)
		fail_msg("%s (regenerate with /usr/bin/python3 tools/gen_grad_fixtures.py or gen_hrm_fixtures.py)",
			 err.message);
	return w;
}

/* The engine of a fixture: its official `name` says HRM or TRM. */
static const char *fixture_engine(const trmx_weights *w)
{
	const char *name = trmx_weights_metadata(w, "name");
	return name && !strncmp(name, "hrm.", 4) ? "hrm" : "trm";
}

static const void *tensor_data(const trmx_weights *w, const char *name, trmx_dtype dt)
{
	const trmx_tensor_view *v = trmx_weights_find(w, name);
	if (!v)
		fail_msg("fixture tensor %s is missing", name);
	assert_int_equal(v->dtype, dt);
	return v->data;
}

static double f64_at(const trmx_weights *w, const char *name, size_t i)
{
	double x;
	memcpy(&x, (const char *)tensor_data(w, name, TRMX_DTYPE_F64) + 8 * i, 8);
	return x;
}

/* The fixture's weights: inline, or regenerated from the generator seed into `tmp`. */
static trmx_weights *fixture_weights(trmx_weights *fx, const trmx_config *arch, char *tmp)
{
	const char *src = trmx_weights_metadata(fx, "fixture.weights");
	assert_non_null(src);
	if (!strcmp(src, "inline"))
		return fx;
	unsigned long long seed;
	trmx_weights *w;
	trmx_error err;
	assert_int_equal(sscanf(src, "generated:%llu", &seed), 1);
	char *path = tu_path(tmp, "w.safetensors");
	if (wg_write_model(arch, !strcmp(fixture_engine(fx), "hrm"), seed, path, &err) < 0 ||
	    trmx_weights_open(&w, path, &err) < 0)
		fail_msg("%s", err.message);
	free(path);
	return w;
}

/* max |a - b| / max |b| over n floats at possibly unaligned addresses. */
static double rel_diff(const void *a, const void *b, size_t n, double scale)
{
	double d = 0, m = scale;
	for (size_t i = 0; i < n; i++) {
		float x, y;
		memcpy(&x, (const char *)a + 4 * i, 4);
		memcpy(&y, (const char *)b + 4 * i, 4);
		d = fmax(d, fabs((double)x - y));
		if (scale <= 0)
			m = fmax(m, fabs(y));
	}
	return m > 0 ? d / m : d;
}

/* One training step from the initial state: the loss within 1e-6 relative and every gradient
 * within 1e-4 relative (max |diff| / max |reference|) of the float64 reference. For the official
 * size the fixture holds 2048 sampled entries per tensor and the full tensor's max |g|. */
static void check_grad_fixture(const char *name)
{
	char *tmp = tu_tmpdir(), *gpath = tu_path(tmp, "g.safetensors");
	trmx_weights *fx = open_fixture(name), *grads;
	trmx_config *arch;
	trmx_trainer *t;
	trmx_error err;
	assert_int_equal(trmx_config_from_metadata(&arch, fx, &err), 0);
	trmx_weights *w = fixture_weights(fx, arch, tmp);
	const trmx_tensor_view *in = trmx_weights_find(fx, "fixture.inputs");
	assert_non_null(in);
	trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
	o.batch_size = (int)in->shape[0];
	o.global_batch_size = atof(trmx_weights_metadata(fx, "fixture.global_batch_size"));
	o.ema = TRMX_EMA_OFF;
	if (trmx_trainer_new(&t, fixture_engine(fx), arch, w, &o, &err) < 0)
		fail_msg("%s", err.message);
	size_t L = (size_t)in->shape[1], B = (size_t)in->shape[0];
	int32_t *inputs = malloc(B * L * 4), *labels = malloc(B * L * 4), *pids = malloc(B * 4);
	memcpy(inputs, in->data, B * L * 4);
	memcpy(labels, tensor_data(fx, "fixture.labels", TRMX_DTYPE_I32), B * L * 4);
	memcpy(pids, tensor_data(fx, "fixture.puzzle_ids", TRMX_DTYPE_I32), B * 4);
	double loss;
	assert_int_equal(trmx_trainer_compute(t, inputs, labels, pids, &loss, &err), 0);
	double want = f64_at(fx, "fixture.loss", 0), rl = fabs(loss - want) / fabs(want);
	print_message("%s: loss %.12f, reference %.12f, relative %.2e (tolerance 1e-6)\n", name, loss, want, rl);
	assert_true(rl <= 1e-6);
	assert_int_equal(trmx_trainer_write_grads(t, gpath, &err), 0);
	assert_int_equal(trmx_weights_open(&grads, gpath, &err), 0);
	int checked = 0;
	for (size_t i = 0; i < trmx_weights_count(grads); i++) {
		const trmx_tensor_view *g = trmx_weights_at(grads, i);
		char key[300];
		double r;
		size_t n = g->nbytes / 4;
		if (strstr(g->name, "puzzle_emb.local_weights")) {
			r = rel_diff(g->data, tensor_data(fx, "grad.puzzle_rows", TRMX_DTYPE_F32), n, 0);
		} else if (snprintf(key, sizeof key, "grad.%s", g->name), trmx_weights_find(fx, key)) {
			r = rel_diff(g->data, tensor_data(fx, key, TRMX_DTYPE_F32), n, 0);
		} else {
			snprintf(key, sizeof key, "gradsample.%s", g->name);
			const trmx_tensor_view *sv = trmx_weights_find(fx, key);
			if (!sv)
				fail_msg("%s: no reference gradient for %s", name, g->name);
			snprintf(key, sizeof key, "gradidx.%s", g->name);
			const trmx_tensor_view *iv = trmx_weights_find(fx, key);
			assert_non_null(iv);
			snprintf(key, sizeof key, "gradmax.%s", g->name);
			double gmax = atof(trmx_weights_metadata(fx, key));
			size_t k = sv->nbytes / 4;
			float *got = malloc(k * 4);
			assert_int_equal(iv->dtype, TRMX_DTYPE_I32);
			for (size_t j = 0; j < k; j++) {
				int32_t idx;
				memcpy(&idx, (const char *)iv->data + 4 * j, 4);
				assert_true(idx >= 0 && (size_t)idx < n);
				memcpy(&got[j], (const char *)g->data + 4 * idx, 4);
			}
			r = rel_diff(got, sv->data, k, gmax);
			free(got);
		}
		print_message("%-60s relative %.2e\n", g->name, r);
		if (!(r <= 1e-4))
			fail_msg("%s: gradient of %s off by %.2e relative (tolerance 1e-4)", name, g->name, r);
		checked++;
	}
	assert_true(checked >= 8);
	trmx_weights_free(grads);
	trmx_trainer_free(t);
	if (w != fx)
		trmx_weights_free(w);
	trmx_weights_free(fx);
	trmx_config_free(arch);
	free(inputs), free(labels), free(pids);
	tu_rmtree(tmp);
	free(tmp), free(gpath);
}

static void test_grad_tiny_mlp(void **state) { check_grad_fixture("trm_grad_tiny_mlp"); }
static void test_grad_tiny_rope(void **state) { check_grad_fixture("trm_grad_tiny_rope"); }
static void test_grad_tiny_learned(void **state) { check_grad_fixture("trm_grad_tiny_learned"); }
static void test_grad_sudoku_mlp(void **state) { check_grad_fixture("trm_grad_sudoku_mlp"); }
static void test_hrm_grad_tiny(void **state) { check_grad_fixture("hrm_grad_tiny"); }
static void test_hrm_grad_tiny_learned(void **state) { check_grad_fixture("hrm_grad_tiny_learned"); }

struct steps_data {
	const trmx_weights *fx;
	int step; /* 1-based step being filled */
	int L;
};

static int fill_steps(void *user, int row, int32_t *input, int32_t *label, int32_t *puzzle_id, trmx_error *err)
{
	const struct steps_data *d = user;
	char key[64];
	snprintf(key, sizeof key, "fixture.step%d.inputs", d->step);
	memcpy(input, (const int32_t *)tensor_data(d->fx, key, TRMX_DTYPE_I32) + (size_t)row * d->L, (size_t)d->L * 4);
	snprintf(key, sizeof key, "fixture.step%d.labels", d->step);
	memcpy(label, (const int32_t *)tensor_data(d->fx, key, TRMX_DTYPE_I32) + (size_t)row * d->L, (size_t)d->L * 4);
	snprintf(key, sizeof key, "fixture.step%d.puzzle_ids", d->step);
	memcpy(puzzle_id, (const int32_t *)tensor_data(d->fx, key, TRMX_DTYPE_I32) + row, 4);
	return 0;
}

/* Three optimizer steps (AdamATan2, EMA, ACT with refills, exploration off): losses within 1e-5
 * relative, halting identical, weights, EMA and puzzle table within 1e-5 of the reference. */
static void check_steps_fixture(const char *name)
{
	char *tmp = tu_tmpdir(), *wp = tu_path(tmp, "w.safetensors"), *ep = tu_path(tmp, "e.safetensors");
	trmx_weights *fx = open_fixture(name), *w, *e;
	trmx_config *arch;
	trmx_trainer *t;
	trmx_error err;
	assert_int_equal(trmx_config_from_metadata(&arch, fx, &err), 0);
	const trmx_tensor_view *in = trmx_weights_find(fx, "fixture.step1.inputs");
	assert_non_null(in);
	int B = (int)in->shape[0];
	trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
	o.batch_size = B;
	o.global_batch_size = atof(trmx_weights_metadata(fx, "fixture.global_batch_size"));
	o.lr = atof(trmx_weights_metadata(fx, "opt.lr"));
	o.warmup_steps = atol(trmx_weights_metadata(fx, "opt.warmup"));
	o.beta1 = atof(trmx_weights_metadata(fx, "opt.beta1"));
	o.beta2 = atof(trmx_weights_metadata(fx, "opt.beta2"));
	o.weight_decay = atof(trmx_weights_metadata(fx, "opt.weight_decay"));
	o.puzzle_emb_lr = atof(trmx_weights_metadata(fx, "opt.puzzle_emb_lr"));
	o.puzzle_emb_weight_decay = atof(trmx_weights_metadata(fx, "opt.puzzle_emb_weight_decay"));
	o.ema = TRMX_EMA_OFFICIAL;
	o.ema_rate = atof(trmx_weights_metadata(fx, "opt.ema_rate"));
	o.lr_min_ratio = atof(trmx_weights_metadata(fx, "opt.lr_min_ratio"));
	o.total_steps = atol(trmx_weights_metadata(fx, "opt.total_steps"));
	o.halt_exploration_prob = 0;
	if (trmx_trainer_new(&t, fixture_engine(fx), arch, fx, &o, &err) < 0)
		fail_msg("%s", err.message);
	struct steps_data d = { fx, 0, (int)in->shape[1] };
	const uint8_t *halted = tensor_data(fx, "fixture.halted", TRMX_DTYPE_U8);
	for (d.step = 1; d.step <= 3; d.step++) {
		trmx_train_metrics m;
		assert_int_equal(trmx_trainer_step(t, fill_steps, &d, &m, &err), 0);
		double want = f64_at(fx, "fixture.losses", (size_t)d.step - 1);
		double r = fabs(m.loss - want) / fabs(want);
		print_message("%s step %d: loss %.10f, reference %.10f, relative %.2e; halted", name, d.step, m.loss,
			      want, r);
		for (int i = 0; i < B; i++)
			print_message(" %d/%d", m.row_halted[i], halted[(d.step - 1) * B + i]);
		print_message(" (trmx/reference)\n");
		assert_true(r <= 1e-5);
		assert_memory_equal(m.row_halted, halted + (d.step - 1) * B, (size_t)B);
	}
	assert_int_equal(trmx_trainer_write_weights(t, false, wp, &err), 0);
	assert_int_equal(trmx_trainer_write_weights(t, true, ep, &err), 0);
	assert_int_equal(trmx_weights_open(&w, wp, &err), 0);
	assert_int_equal(trmx_weights_open(&e, ep, &err), 0);
	int compared = 0;
	for (size_t i = 0; i < trmx_weights_count(w); i++) {
		const trmx_tensor_view *v = trmx_weights_at(w, i), *ve = trmx_weights_at(e, i);
		char key[300];
		snprintf(key, sizeof key, "final.%s", v->name);
		const trmx_tensor_view *ref = trmx_weights_find(fx, key);
		if (!ref)
			fail_msg("%s: no reference for %s", name, key);
		char what[300];
		snprintf(what, sizeof what, "%s after 3 steps", v->name);
		float *a = malloc(v->nbytes), *b = malloc(v->nbytes);
		memcpy(a, v->data, v->nbytes);
		memcpy(b, ref->data, v->nbytes);
		assert_close(a, b, v->nbytes / 4, 1e-5, what);
		snprintf(key, sizeof key, "ema.%s", v->name);
		if ((ref = trmx_weights_find(fx, key))) {
			snprintf(what, sizeof what, "%s EMA", v->name);
			memcpy(a, ve->data, v->nbytes);
			memcpy(b, ref->data, v->nbytes);
			assert_close(a, b, v->nbytes / 4, 1e-5, what);
		}
		free(a), free(b);
		compared++;
	}
	assert_true(compared >= 10);
	trmx_weights_free(w), trmx_weights_free(e);
	trmx_trainer_free(t);
	trmx_weights_free(fx);
	trmx_config_free(arch);
	tu_rmtree(tmp);
	free(tmp), free(wp), free(ep);
}

static void test_steps_tiny_mlp(void **state) { check_steps_fixture("trm_steps_tiny_mlp"); }
static void test_steps_tiny_rope(void **state) { check_steps_fixture("trm_steps_tiny_rope"); }
static void test_hrm_steps_tiny(void **state) { check_steps_fixture("hrm_steps_tiny"); }

/* A deterministic data source: row data from a counter. */
struct counter_data {
	uint64_t n;
};

static int fill_counter(void *user, int row, int32_t *input, int32_t *label, int32_t *puzzle_id, trmx_error *err)
{
	struct counter_data *d = user;
	uint64_t k = d->n++;
	for (int i = 0; i < 16; i++) {
		input[i] = 1 + (int32_t)(wg_mix64(k * 16 + (uint64_t)i) % 5);
		label[i] = i % 5 == 0 ? -100 : 1 + (int32_t)((input[i] + i) % 5);
	}
	*puzzle_id = (int32_t)(k % 3);
	return 0;
}

static trmx_trainer_options tiny_options(void)
{
	trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
	o.batch_size = 4;
	o.lr = 1e-3;
	o.warmup_steps = 2;
	o.total_steps = 20;
	o.seed = 7;
	return o;
}

static void *file_bytes(const char *path, size_t *len)
{
	void *p = tu_read_file(path, len);
	assert_non_null(p);
	return p;
}

/* A run stopped after 3 steps and resumed from its checkpoint reaches, bit for bit, the weights
 * of an uninterrupted 6-step run (EMA, moments, carry, exploration draws and data all restored). */
static void test_resume_is_exact(void **state)
{
	char *tmp = tu_tmpdir();
	char *ck = tu_path(tmp, "ck.safetensors"), *a = tu_path(tmp, "a.safetensors"), *b = tu_path(tmp, "b.safetensors");
	trmx_config *arch = tiny_arch("false"), *extra, *got = NULL;
	trmx_trainer_options o = tiny_options();
	trmx_trainer *t1, *t2, *t3;
	trmx_error err;
	struct counter_data d1 = { 0 }, d2 = { 0 };

	assert_int_equal(trmx_trainer_new(&t1, "trm", arch, NULL, &o, &err), 0);
	for (int i = 0; i < 6; i++)
		assert_int_equal(trmx_trainer_step(t1, fill_counter, &d1, NULL, &err), 0);
	assert_int_equal(trmx_trainer_write_weights(t1, true, a, &err), 0);

	assert_int_equal(trmx_trainer_new(&t2, "trm", arch, NULL, &o, &err), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(trmx_trainer_step(t2, fill_counter, &d2, NULL, &err), 0);
	assert_int_equal(trmx_config_new(&extra, &err), 0);
	char n[32];
	snprintf(n, sizeof n, "%llu", (unsigned long long)d2.n);
	assert_int_equal(trmx_config_set(extra, "data", n, &err), 0);
	assert_int_equal(trmx_trainer_save(t2, ck, extra, &err), 0);
	trmx_trainer_free(t2);

	assert_int_equal(trmx_trainer_new(&t3, "trm", arch, NULL, &o, &err), 0);
	assert_int_equal(trmx_trainer_load(t3, ck, &got, &err), 0);
	assert_string_equal(trmx_config_get(got, "data"), n);
	struct counter_data d3 = { strtoull(trmx_config_get(got, "data"), NULL, 10) };
	assert_int_equal(trmx_trainer_steps(t3), 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(trmx_trainer_step(t3, fill_counter, &d3, NULL, &err), 0);
	assert_int_equal(trmx_trainer_write_weights(t3, true, b, &err), 0);

	size_t la, lb;
	void *wa = file_bytes(a, &la), *wb = file_bytes(b, &lb);
	assert_int_equal(la, lb);
	assert_memory_equal(wa, wb, la);
	free(wa), free(wb);
	trmx_trainer_free(t1), trmx_trainer_free(t3);
	trmx_config_free(arch), trmx_config_free(extra), trmx_config_free(got);
	tu_rmtree(tmp);
	free(tmp), free(ck), free(a), free(b);
}

/* A checkpoint of another architecture, a damaged file, or a file that is no checkpoint is
 * refused, and the trainer is unchanged. */
static void test_checkpoint_errors(void **state)
{
	char *tmp = tu_tmpdir();
	char *ck = tu_path(tmp, "ck.safetensors"), *w0 = tu_path(tmp, "w0.safetensors"), *w1 = tu_path(tmp, "w1.safetensors");
	trmx_config *arch = tiny_arch("false"), *other = tiny_arch("true");
	trmx_trainer_options o = tiny_options();
	trmx_trainer *t, *u;
	trmx_error err;
	struct counter_data d = { 0 };
	assert_int_equal(trmx_trainer_new(&t, "trm", arch, NULL, &o, &err), 0);
	assert_int_equal(trmx_trainer_step(t, fill_counter, &d, NULL, &err), 0);
	assert_int_equal(trmx_trainer_save(t, ck, NULL, &err), 0);

	assert_int_equal(trmx_trainer_new(&u, "trm", other, NULL, &o, &err), 0);
	assert_int_equal(trmx_trainer_write_weights(u, false, w0, &err), 0);
	assert_trmx_error(trmx_trainer_load(u, ck, NULL, &err), err, TRMX_ESHAPE, "architecture key 'mlp_t'");
	assert_trmx_error(trmx_trainer_load(u, w0, NULL, &err), err, TRMX_EFORMAT, "is not a trmx checkpoint");
	size_t len;
	char *bytes = file_bytes(ck, &len);
	assert_int_equal(tu_write_file(ck, bytes, len / 2), 0); /* truncated */
	int rc = trmx_trainer_load(t, ck, NULL, &err);
	assert_int_equal(rc, TRMX_EFORMAT);
	assert_int_equal(trmx_trainer_write_weights(u, false, w1, &err), 0);
	size_t l0, l1;
	void *b0 = file_bytes(w0, &l0), *b1 = file_bytes(w1, &l1);
	assert_int_equal(l0, l1);
	assert_memory_equal(b0, b1, l0); /* the refused loads changed nothing */
	free(b0), free(b1), free(bytes);
	trmx_trainer_free(t), trmx_trainer_free(u);
	trmx_config_free(arch), trmx_config_free(other);
	tu_rmtree(tmp);
	free(tmp), free(ck), free(w0), free(w1);
}

static void test_options_errors(void **state)
{
	trmx_config *arch = tiny_arch("false");
	trmx_trainer *t = NULL;
	trmx_error err;
	static const struct {
		int field;
		const char *needle;
	} cases[] = {
		{ 0, "batch size 0" }, { 1, "betas" }, { 2, "ema_rate" }, { 3, "lr_cycles" }, { 4, "version" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		trmx_trainer_options o = tiny_options();
		switch (cases[i].field) {
		case 0: o.batch_size = 0; break;
		case 1: o.beta1 = 1.0; break;
		case 2: o.ema_rate = 1.5; break;
		case 3: o.lr_cycles = 0; break;
		case 4: o.version = 99; break;
		}
		int rc = trmx_trainer_new(&t, "trm", arch, NULL, &o, &err);
		assert_true(rc < 0);
		assert_null(t);
		assert_non_null(strstr(err.message, cases[i].needle));
	}
	trmx_config_free(arch);
}

/* The official initialisation: Q head zero with bias -5, puzzle table zero, the rest truncated
 * normal with the LeCun standard deviation. */
static void test_official_init(void **state)
{
	char *tmp = tu_tmpdir(), *w = tu_path(tmp, "w.safetensors");
	trmx_config *arch = tiny_arch("false");
	trmx_trainer_options o = tiny_options();
	trmx_trainer *t;
	trmx_weights *wt;
	trmx_error err;
	assert_int_equal(trmx_trainer_new(&t, "trm", arch, NULL, &o, &err), 0);
	assert_int_equal(trmx_trainer_write_weights(t, false, w, &err), 0);
	assert_int_equal(trmx_weights_open(&wt, w, &err), 0);
	const trmx_tensor_view *qw = trmx_weights_find(wt, "q_head.weight"), *qb = trmx_weights_find(wt, "q_head.bias");
	const trmx_tensor_view *pz = trmx_weights_find(wt, "puzzle_emb.weights");
	const trmx_tensor_view *gu = trmx_weights_find(wt, "L_level.layers.0.mlp.gate_up_proj.weight");
	assert_non_null(qw), assert_non_null(qb), assert_non_null(pz), assert_non_null(gu);
	float f[2];
	memcpy(f, qb->data, 8);
	assert_true(f[0] == -5.0f && f[1] == -5.0f);
	for (size_t i = 0; i < qw->nbytes / 4; i++) {
		float x;
		memcpy(&x, (const char *)qw->data + 4 * i, 4);
		assert_true(x == 0.0f);
	}
	for (size_t i = 0; i < pz->nbytes / 4; i++) {
		float x;
		memcpy(&x, (const char *)pz->data + 4 * i, 4);
		assert_true(x == 0.0f);
	}
	double s = 0, mx = 0;
	size_t n = gu->nbytes / 4;
	for (size_t i = 0; i < n; i++) {
		float x;
		memcpy(&x, (const char *)gu->data + 4 * i, 4);
		s += (double)x * x;
		mx = fmax(mx, fabs(x));
	}
	double std = sqrt(s / n), want = 1.0 / sqrt(32.0);
	print_message("gate_up std %.4f (want %.4f), max |x| %.4f (bound %.4f)\n", std, want, mx, 2.2737 * want);
	assert_true(fabs(std - want) < 0.08 * want);
	assert_true(mx <= 2.2738 * want);
	trmx_weights_free(wt);
	trmx_trainer_free(t);
	trmx_config_free(arch);
	tu_rmtree(tmp);
	free(tmp), free(w);
}

/* ---- `trmx train`: a short run end to end, and config errors ---------------------------------- */

static const char *const run_config =
	"name: tiny\n"
	"task: {codec: sudoku, params: {size: 4}}\n"
	"data: {source: generate, difficulty: singles, pool: 300}\n"
	"arch: {seq_len: 16, vocab_size: 6, hidden_size: 32, num_heads: 2, expansion: 2, L_layers: 1,\n"
	"       H_cycles: 1, L_cycles: 2, puzzle_emb_ndim: 0, pos_encodings: none, mlp_t: true,\n"
	"       halt_max_steps: 4}\n"
	"train: {batch_size: 16, steps: 60, lr: 3e-3, warmup_steps: 5, seed: 3, log_interval: 20}\n"
	"eval: {interval: 30, size: 50, steps: 4}\n"
	"checkpoint: {interval: 30}\n";

/* Write `text` to `cfg` and train it into `ro->out_dir`; the run must succeed. */
static void train_ok(const char *cfg, const char *text, const trmx_train_run_options *ro)
{
	trmx_error err;
	assert_int_equal(tu_write_text(cfg, text), 0);
	if (trmx_train_run(cfg, ro, &err) < 0)
		fail_msg("%s", err.message);
}

static void test_train_run(void **state)
{
	char *tmp = tu_tmpdir(), *cfg = tu_path(tmp, "t.yaml"), *out = tu_path(tmp, "out");
	trmx_error err;
	trmx_train_run_options ro = TRMX_TRAIN_RUN_OPTIONS_INIT;
	ro.out_dir = out;
	train_ok(cfg, run_config, &ro);
	char *w = tu_path(out, "weights.safetensors"), *m = tu_path(out, "metrics.yaml"), *c = tu_path(out, "curve.csv");
	size_t len;
	char *metrics = tu_read_file(m, &len), *curve = tu_read_file(c, &len);
	assert_non_null(metrics), assert_non_null(curve);
	assert_non_null(strstr(metrics, "  steps: 60\n"));
	assert_non_null(strstr(metrics, "heldout-adaptive:"));
	assert_non_null(strstr(metrics, "exact_accuracy:"));
	assert_non_null(strstr(curve, "60,"));
	/* the exported weights open as a model with the architecture from their metadata */
	trmx_weights *wt;
	trmx_config *arch;
	trmx_model *model;
	assert_int_equal(trmx_weights_open(&wt, w, &err), 0);
	assert_int_equal(trmx_config_from_metadata(&arch, wt, &err), 0);
	assert_int_equal(trmx_model_open(&model, "trm", arch, wt, NULL, &err), 0);
	trmx_model_free(model);
	trmx_config_free(arch);
	trmx_weights_free(wt);
	free(metrics), free(curve), free(w), free(m), free(c);

	static const struct {
		const char *from, *to, *needle;
	} bad[] = {
		{ "seed: 3", "seed: 3, lerning_rate: 1", "unknown key 'train.lerning_rate'" },
		{ "steps: 60", "steps: sixty", "'train.steps' must be an integer" },
		{ "difficulty: singles", "difficulty: easy", "difficulty 'easy'" },
		{ "vocab_size: 6", "vocab_size: 7", "vocabulary 6" },
		{ "codec: sudoku", "codec: chess", "chess" },
		{ "pool: 300", "pool: 300, curriculum: {size_start: 3, steps: 10}",
		  "'data.curriculum.size_start' applies to generated mazes" },
		{ "pool: 300", "pool: 300, seed: 777777", "'data.seed' is a seed reserved for held-out sets" },
		{ "size: 50", "size: 50, seed: 7770109", "'eval.seed' is a seed reserved for held-out sets" },
		{ "pool: 300", "pool: 300, seed: 777778", "'data.seed' is a seed reserved for held-out sets" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char text[2048];
		const char *at = strstr(run_config, bad[i].from);
		assert_non_null(at);
		snprintf(text, sizeof text, "%.*s%s%s", (int)(at - run_config), run_config, bad[i].to,
			 at + strlen(bad[i].from));
		assert_int_equal(tu_write_text(cfg, text), 0);
		int rc = trmx_train_run(cfg, &ro, &err);
		print_message("bad config %zu: %d %s\n", i, rc, err.message);
		assert_true(rc < 0);
		assert_non_null(strstr(err.message, bad[i].needle));
	}
	tu_rmtree(tmp);
	free(tmp), free(cfg), free(out);
}

/* The maze size curriculum: 7x7 mazes with 3x3 and 5x5 ones in their corner at first. */
static void test_train_maze_sizes(void **state)
{
	(void)state;
	static const char *const config =
		"task: {codec: maze, params: {size: 7}}\n"
		"data: {pool: 30, curriculum: {size_start: 3, steps: 12}}\n"
		"arch: {seq_len: 49, vocab_size: 6, hidden_size: 16, num_heads: 2, expansion: 2, L_layers: 1,\n"
		"       H_cycles: 1, L_cycles: 1, puzzle_emb_ndim: 0, pos_encodings: none, mlp_t: true,\n"
		"       halt_max_steps: 2}\n"
		"train: {batch_size: 8, steps: 16, lr: 1e-3, warmup_steps: 2, seed: 3, log_interval: 8}\n"
		"eval: {interval: 16, size: 8, steps: 2}\n"
		"checkpoint: {interval: 16}\n";
	char *tmp = tu_tmpdir(), *cfg = tu_path(tmp, "m.yaml"), *out = tu_path(tmp, "out");
	trmx_error err;
	trmx_train_run_options ro = TRMX_TRAIN_RUN_OPTIONS_INIT;
	ro.out_dir = out;
	train_ok(cfg, config, &ro);
	char *m = tu_path(out, "metrics.yaml");
	size_t len;
	char *metrics = tu_read_file(m, &len);
	assert_non_null(metrics);
	assert_non_null(strstr(metrics, "size=7 (and smaller, in its corner)"));
	free(metrics), free(m);
	/* a pool with fewer mazes than sizes */
	char text[1024];
	snprintf(text, sizeof text, "%s", config);
	memcpy(strstr(text, "pool: 30"), "pool:  2", 8);
	assert_int_equal(tu_write_text(cfg, text), 0);
	assert_true(trmx_train_run(cfg, &ro, &err) < 0);
	assert_non_null(strstr(err.message, "'data.pool' must hold at least one maze of every size"));
	tu_rmtree(tmp);
	free(tmp), free(cfg), free(out);
}

int main(void)
{
	trmx_set_threads(1); /* small models: one thread is faster and keeps the test quick on a loaded machine */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grad_tiny_mlp),
		cmocka_unit_test(test_grad_tiny_rope),
		cmocka_unit_test(test_grad_tiny_learned),
		cmocka_unit_test(test_grad_sudoku_mlp),
		cmocka_unit_test(test_steps_tiny_mlp),
		cmocka_unit_test(test_steps_tiny_rope),
		cmocka_unit_test(test_hrm_grad_tiny),
		cmocka_unit_test(test_hrm_grad_tiny_learned),
		cmocka_unit_test(test_hrm_steps_tiny),
		cmocka_unit_test(test_options_errors),
		cmocka_unit_test(test_official_init),
		cmocka_unit_test(test_resume_is_exact),
		cmocka_unit_test(test_checkpoint_errors),
		cmocka_unit_test(test_train_run),
		cmocka_unit_test(test_train_maze_sizes),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
