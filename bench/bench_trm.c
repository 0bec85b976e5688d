/*
 * bench_trm.c — trmx's side of `make bench` (bench/run.sh drives it and the PyTorch peer).
 *
 *   bench_trm gen PRESET SEED OUT.safetensors     write generated weights for a preset
 *   bench_trm run W.safetensors BATCH STEPS REPS  fixed halting: per-step times, puzzles/s, GFLOP/s
 *   bench_trm sgemm W.safetensors BATCH           OpenBLAS sgemm (its own threads) and trmx_gemm at
 *                                                 the model's matrix shapes
 *   bench_trm bf16 W.safetensors BATCH            trmx_gemm fp32 vs bf16 at the model's forward shapes
 *                                                 and their two backward products (training)
 *   bench_trm halt W.safetensors N BATCH          fixed vs adaptive (with and without continuous
 *                                                 batching) on weights whose Q head is calibrated to
 *                                                 halt at a spread of steps
 *   bench_trm train W.safetensors BATCH STEPS     training steps/s (official step: ACT refills, backward,
 *                                                 AdamATan2, EMA) on random data, median of STEPS steps
 *                                                 after 2 warm-up steps
 *
 * TRMX_MATMUL=bf16 in the environment runs run/train/halt with bf16 products (trmx_set_matmul).
 *
 * Times are medians of per-ACT-step wall times (every fixed step costs the same), so one 16-step
 * solve gives 16 samples. Output lines are "key=value" for run.sh to parse.
 */
#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "engines/trm/trm_int.h"
#include "helpers/testutil.h"
#include "helpers/weightgen.h"
#include "tensor/blas.h"
#include "trmx/train.h"
#include "trmx/trmx.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, size_t n)
{
	qsort(v, n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const trmx_error *err)
{
	fprintf(stderr, "bench_trm: %s\n", err->message);
	exit(1);
}

static const char *const preset_sudoku_mlp[][2] = {
	{ "seq_len", "81" },	   { "vocab_size", "11" },     { "num_puzzle_identifiers", "1" },
	{ "hidden_size", "512" },  { "num_heads", "8" },       { "expansion", "4" },
	{ "L_layers", "2" },	   { "H_cycles", "3" },	       { "L_cycles", "6" },
	{ "puzzle_emb_ndim", "512" }, { "puzzle_emb_len", "16" }, { "pos_encodings", "none" },
	{ "mlp_t", "true" },	   { "halt_max_steps", "16" }, { NULL, NULL },
};
static const char *const preset_tiny128[][2] = {
	{ "seq_len", "81" },	   { "vocab_size", "11" },     { "num_puzzle_identifiers", "1" },
	{ "hidden_size", "128" },  { "num_heads", "4" },       { "expansion", "4" },
	{ "L_layers", "2" },	   { "H_cycles", "3" },	       { "L_cycles", "6" },
	{ "puzzle_emb_ndim", "128" }, { "puzzle_emb_len", "16" }, { "pos_encodings", "none" },
	{ "mlp_t", "true" },	   { "halt_max_steps", "16" }, { NULL, NULL },
};
static const char *const preset_hrm_sudoku[][2] = { /* the official HRM Sudoku size: 27,275,266 */
	{ "seq_len", "81" },	   { "vocab_size", "11" },     { "num_puzzle_identifiers", "1" },
	{ "hidden_size", "512" },  { "num_heads", "8" },       { "expansion", "4" },
	{ "H_layers", "4" },	   { "L_layers", "4" },	       { "H_cycles", "2" },
	{ "L_cycles", "2" },	   { "puzzle_emb_ndim", "512" }, { "pos_encodings", "rope" },
	{ "halt_max_steps", "16" }, { NULL, NULL },
};
static const char *const preset_maze_att[][2] = {
	{ "seq_len", "900" },	   { "vocab_size", "6" },      { "num_puzzle_identifiers", "1" },
	{ "hidden_size", "512" },  { "num_heads", "8" },       { "expansion", "4" },
	{ "L_layers", "2" },	   { "H_cycles", "3" },	       { "L_cycles", "4" },
	{ "puzzle_emb_ndim", "512" }, { "puzzle_emb_len", "16" }, { "pos_encodings", "rope" },
	{ "mlp_t", "false" },	   { "halt_max_steps", "16" }, { NULL, NULL },
};

struct model {
	trmx_weights *w;
	trmx_config *arch;
	trmx_model *m;
	trmx_model_info info;
	trm_config cfg;
};

static void model_open(struct model *md, const char *path)
{
	trmx_error err;
	if (trmx_weights_open(&md->w, path, &err) < 0 || trmx_config_from_metadata(&md->arch, md->w, &err) < 0 ||
	    trmx_model_open(&md->m, trmx_config_engine(md->arch), md->arch, md->w, NULL, &err) < 0)
		die(&err);
	trmx_model_info_get(md->m, &md->info);
	size_t n = trmx_config_count(md->arch);
	trmx_kv kv[TRMX_CONFIG_KEYS_MAX];
	for (size_t i = 0; i < n; i++)
		trmx_config_at(md->arch, i, &kv[i].key, &kv[i].value);
	if (trmx__trm_config_parse(&md->cfg, kv, n, !strcmp(trmx_config_engine(md->arch), "hrm"), &err) < 0)
		die(&err);
}

static void model_close(struct model *md)
{
	trmx_model_free(md->m);
	trmx_config_free(md->arch);
	trmx_weights_free(md->w);
}

static int32_t *random_inputs(const trmx_model_info *info, size_t n, uint64_t seed)
{
	int32_t *in = malloc(n * (size_t)info->seq_len * sizeof *in);
	for (size_t i = 0; i < n * (size_t)info->seq_len; i++)
		in[i] = 1 + (int32_t)(wg_mix64(seed + i) % (uint64_t)(info->vocab_size - 1));
	return in;
}

static int cmd_gen(int argc, char **argv)
{
	if (argc != 5)
		return fprintf(stderr, "usage: bench_trm gen PRESET SEED OUT\n"), 2;
	const char *const(*p)[2] = !strcmp(argv[2], "sudoku_mlp") ? preset_sudoku_mlp
				   : !strcmp(argv[2], "tiny128")  ? preset_tiny128
				   : !strcmp(argv[2], "maze_att") ? preset_maze_att
				   : !strcmp(argv[2], "hrm_sudoku") ? preset_hrm_sudoku
								  : NULL;
	if (!p)
		return fprintf(stderr, "bench_trm: presets are sudoku_mlp, tiny128, maze_att, hrm_sudoku\n"), 2;
	bool hrm = p == preset_hrm_sudoku;
	trmx_config *c;
	trmx_error err;
	trmx_config_new(&c, &err);
	for (; (*p)[0]; p++)
		trmx_config_set(c, (*p)[0], (*p)[1], &err);
	if (wg_write_model(c, hrm, strtoull(argv[3], NULL, 10), argv[4], &err) < 0)
		die(&err);
	trmx_config_free(c);
	return 0;
}

struct step_times {
	double last, *dt;
	int n, cap;
};

static int on_step(void *user, const trmx_step_view *v)
{
	struct step_times *t = user;
	double n = now();
	if (t->n < t->cap)
		t->dt[t->n++] = n - t->last;
	t->last = n;
	return 0;
}

static int cmd_run(int argc, char **argv)
{
	if (argc != 6)
		return fprintf(stderr, "usage: bench_trm run W BATCH STEPS REPS\n"), 2;
	struct model md;
	model_open(&md, argv[2]);
	int B = atoi(argv[3]), steps = atoi(argv[4]), reps = atoi(argv[5]);
	int32_t *in = random_inputs(&md.info, (size_t)B, 1);
	struct step_times t = { 0, calloc((size_t)steps * reps, sizeof(double)), 0, steps * reps };
	trmx_error err;
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = (size_t)B;
	req.inputs = in;
	req.batch_size = B;
	req.max_steps = steps;
	req.on_step = on_step;
	req.user = &t;
	double total = 0;
	for (int r = 0; r < reps; r++) {
		t.last = now();
		double t0 = t.last;
		if (trmx_model_solve(md.m, &req, &err) < 0)
			die(&err);
		total += now() - t0;
	}
	double med = median(t.dt, (size_t)t.n);
	double gflops = md.info.flops_per_step * B / med / 1e9;
	printf("engine=trmx batch=%d steps=%d reps=%d threads=%d step_median_s=%.6f puzzles_per_s=%.4f "
	       "gflops=%.2f mean_solve_s=%.4f params=%lld\n",
	       B, steps, reps, trmx_get_threads(), med, B / (med * steps), gflops, total / reps,
	       (long long)md.info.num_params);
	free(t.dt);
	free(in);
	model_close(&md);
	return 0;
}

/* The matrix products of one ACT step of B rows: {M, N, K, count}. */
static int model_shapes(const trm_config *c, int B, int shapes[][4])
{
	int n = 0, S = c->S, D = c->hidden_size;
	int calls = c->H_cycles * c->L_cycles * c->L_layers + c->H_cycles * (c->hrm ? c->H_layers : c->L_layers);
	int HD = c->num_heads * c->head_dim;
	if (c->mlp_t) {
		shapes[n][0] = B * D, shapes[n][1] = 2 * c->inter_t, shapes[n][2] = S, shapes[n++][3] = calls;
		shapes[n][0] = B * D, shapes[n][1] = S, shapes[n][2] = c->inter_t, shapes[n++][3] = calls;
	} else {
		shapes[n][0] = B * S, shapes[n][1] = 3 * HD, shapes[n][2] = D, shapes[n++][3] = calls;
		shapes[n][0] = B * S, shapes[n][1] = D, shapes[n][2] = HD, shapes[n++][3] = calls;
	}
	shapes[n][0] = B * S, shapes[n][1] = 2 * c->inter, shapes[n][2] = D, shapes[n++][3] = calls;
	shapes[n][0] = B * S, shapes[n][1] = D, shapes[n][2] = c->inter, shapes[n++][3] = calls;
	return n;
}

static double time_gemm_t(bool ours, bool ta, bool tb, int M, int N, int K, float *A, float *Bm, float *C,
			  int reps)
{
	double *dt = malloc((size_t)reps * sizeof *dt);
	for (int r = 0; r < reps + 1; r++) {
		double t0 = now();
		if (ours)
			trmx_gemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, Bm, tb ? K : N, 0.0f, C, N);
		else
			cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, M, N, K, 1.0f, A, K, Bm, K, 0.0f, C, N);
		if (r) /* the first call warms caches and threads */
			dt[r - 1] = now() - t0;
	}
	double m = median(dt, (size_t)reps);
	free(dt);
	return m;
}

static double time_gemm(bool ours, int M, int N, int K, float *A, float *Bm, float *C, int reps)
{
	return time_gemm_t(ours, false, true, M, N, K, A, Bm, C, reps);
}

static int cmd_sgemm(int argc, char **argv)
{
	if (argc != 4)
		return fprintf(stderr, "usage: bench_trm sgemm W BATCH\n"), 2;
	struct model md;
	model_open(&md, argv[2]);
	int B = atoi(argv[3]), shapes[8][4];
	int n = model_shapes(&md.cfg, B, shapes);
	double flops = 0, t_blas = 0, t_ours = 0;
	for (int i = 0; i < n; i++) {
		int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
		float *A = malloc((size_t)M * K * 4), *Bm = malloc((size_t)N * K * 4), *C = malloc((size_t)M * N * 4);
		wg_fill(A, (size_t)M * K, "A", 1, 1);
		wg_fill(Bm, (size_t)N * K, "B", 1, 1);
		double f = 2.0 * M * N * K;
		int reps = f > 2e10 ? 3 : f > 1e9 ? 7 : 21;
		openblas_set_num_threads(trmx_get_threads());
		double tb = time_gemm(false, M, N, K, A, Bm, C, reps);
		openblas_set_num_threads(1);
		double to = time_gemm(true, M, N, K, A, Bm, C, reps);
		printf("shape M=%d N=%d K=%d count=%d openblas_gflops=%.2f trmx_gemm_gflops=%.2f\n", M, N, K,
		       shapes[i][3], f / tb / 1e9, f / to / 1e9);
		flops += f * shapes[i][3];
		t_blas += tb * shapes[i][3];
		t_ours += to * shapes[i][3];
		free(A), free(Bm), free(C);
	}
	printf("sgemm batch=%d threads=%d openblas_gflops=%.2f trmx_gemm_gflops=%.2f\n", B, trmx_get_threads(),
	       flops / t_blas / 1e9, flops / t_ours / 1e9);
	model_close(&md);
	return 0;
}

/* trmx_gemm in fp32 and in bf16 at each forward shape (M,N,K: activations x weights^T) and the two
 * products of its backward: dX = dY . W (M,K,N) and dW = dY^T . X (N,K,M). */
static int cmd_bf16(int argc, char **argv)
{
	if (argc != 4)
		return fprintf(stderr, "usage: bench_trm bf16 W BATCH\n"), 2;
	if (!trmx_matmul_available(TRMX_MATMUL_BF16)) {
		printf("bf16 unavailable=1 (this CPU lacks AVX-512 BF16)\n");
		return 0;
	}
	struct model md;
	model_open(&md, argv[2]);
	int B = atoi(argv[3]), shapes[8][4];
	int n = model_shapes(&md.cfg, B, shapes);
	double flops = 0, t32 = 0, t16 = 0, tf32 = 0, tf16 = 0, ff = 0;
	for (int i = 0; i < n; i++) {
		int M = shapes[i][0], N = shapes[i][1], K = shapes[i][2];
		static const char *const pass[3] = { "forward", "backward_dx", "backward_dw" };
		int dims[3][5] = { { M, N, K, 0, 1 }, { M, K, N, 0, 0 }, { N, K, M, 1, 0 } };
		for (int p = 0; p < 3; p++) {
			int m = dims[p][0], nn = dims[p][1], k = dims[p][2];
			bool ta = dims[p][3], tb = dims[p][4];
			float *A = malloc((size_t)m * k * 4), *Bm = malloc((size_t)nn * k * 4), *C = malloc((size_t)m * nn * 4);
			wg_fill(A, (size_t)m * k, "A", 1, 1);
			wg_fill(Bm, (size_t)nn * k, "B", 1, 1);
			double f = 2.0 * m * nn * k;
			int reps = f > 2e10 ? 3 : f > 1e9 ? 7 : 21;
			trmx_set_matmul(TRMX_MATMUL_FP32);
			double a = time_gemm_t(true, ta, tb, m, nn, k, A, Bm, C, reps);
			trmx_set_matmul(TRMX_MATMUL_BF16);
			double b = time_gemm_t(true, ta, tb, m, nn, k, A, Bm, C, reps);
			trmx_set_matmul(TRMX_MATMUL_FP32);
			printf("shape pass=%s M=%d N=%d K=%d count=%d fp32_gflops=%.2f bf16_gflops=%.2f ratio=%.2f\n", pass[p],
			       m, nn, k, shapes[i][3], f / a / 1e9, f / b / 1e9, a / b);
			flops += f * shapes[i][3], t32 += a * shapes[i][3], t16 += b * shapes[i][3];
			if (p == 0)
				ff += f * shapes[i][3], tf32 += a * shapes[i][3], tf16 += b * shapes[i][3];
			free(A), free(Bm), free(C);
		}
	}
	printf("bf16 batch=%d threads=%d forward_fp32_gflops=%.2f forward_bf16_gflops=%.2f all_fp32_gflops=%.2f "
	       "all_bf16_gflops=%.2f\n",
	       B, trmx_get_threads(), ff / tf32 / 1e9, ff / tf16 / 1e9, flops / t32 / 1e9, flops / t16 / 1e9);
	model_close(&md);
	return 0;
}

/* Steps each input runs with fixed halting: the first step whose q_halt > -bias. */
static double mean_halt_step(const float *q, int steps, size_t n, double bias)
{
	double s = 0;
	for (size_t i = 0; i < n; i++) {
		int k = 0;
		while (k < steps - 1 && !(q[(size_t)k * n + i] + bias > 0))
			k++;
		s += k + 1;
	}
	return s / (double)n;
}

struct qrec {
	float *q;
	size_t n;
};

static int record_q(void *user, const trmx_step_view *v)
{
	struct qrec *r = user;
	for (int i = 0; i < v->rows; i++)
		r->q[(size_t)(v->row_step[i] - 1) * r->n + (size_t)v->input_index[i]] = v->q_halt[i];
	return 0;
}

static int last_max_steps; /* the largest step count of the last timed_solve */

static double timed_solve(trmx_model *m, trmx_solve_request *req, double *apps_per_input, int apps_per_step)
{
	trmx_error err;
	int32_t *steps = calloc(req->n, sizeof *steps);
	req->steps = steps;
	double t0 = now();
	if (trmx_model_solve(m, req, &err) < 0)
		die(&err);
	double t = now() - t0;
	double s = 0;
	last_max_steps = 0;
	for (size_t i = 0; i < req->n; i++) {
		s += steps[i];
		last_max_steps = steps[i] > last_max_steps ? steps[i] : last_max_steps;
	}
	*apps_per_input = s / (double)req->n * apps_per_step;
	free(steps);
	req->steps = NULL;
	return t;
}

static int cmd_halt(int argc, char **argv)
{
	if (argc != 5)
		return fprintf(stderr, "usage: bench_trm halt W N BATCH\n"), 2;
	struct model md;
	model_open(&md, argv[2]);
	size_t n = strtoul(argv[3], NULL, 10);
	int B = atoi(argv[4]), steps = md.info.halt_max_steps;
	int apps = md.cfg.H_cycles * (md.cfg.L_cycles + 1);
	int32_t *in = random_inputs(&md.info, n, 2);
	trmx_error err;

	/* calibrate: the Q head is an output only, so shifting its bias moves halting without
	 * changing any trajectory; pick the shift that gives a mean of about a third of the steps */
	struct qrec qr = { calloc((size_t)steps * n, sizeof(float)), n };
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = n;
	req.inputs = in;
	req.batch_size = B;
	req.on_step = record_q;
	req.user = &qr;
	if (trmx_model_solve(md.m, &req, &err) < 0)
		die(&err);
	double lo = -100, hi = 100, target = steps / 3.0;
	for (int it = 0; it < 60; it++) {
		double mid = 0.5 * (lo + hi);
		if (mean_halt_step(qr.q, steps, n, mid) > target)
			lo = mid;
		else
			hi = mid;
	}
	double bias = 0.5 * (lo + hi);
	free(qr.q);

	char *tmp = tu_tmpdir(), *path = tu_path(tmp, "halt.safetensors");
	trmx_weights_writer *wr;
	trmx_weights_writer_new(&wr, &err);
	for (size_t i = 0; i < trmx_weights_metadata_count(md.w); i++) {
		const char *k, *v;
		trmx_weights_metadata_at(md.w, i, &k, &v);
		trmx_weights_writer_set_metadata(wr, k, v, &err);
	}
	for (size_t i = 0; i < trmx_weights_count(md.w); i++) {
		const trmx_tensor_view *t = trmx_weights_at(md.w, i);
		if (strstr(t->name, "q_head.bias")) {
			float b[2];
			memcpy(b, t->data, sizeof b);
			b[0] += (float)bias;
			trmx_weights_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, b, &err);
		} else {
			trmx_weights_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, t->data, &err);
		}
	}
	if (trmx_weights_writer_write(wr, path, &err) < 0)
		die(&err);
	trmx_weights_writer_free(wr);
	model_close(&md);
	model_open(&md, path);

	req = (trmx_solve_request)TRMX_SOLVE_REQUEST_INIT;
	req.n = n;
	req.inputs = in;
	req.batch_size = B;
	double a_fixed, a_cont, a_static;
	double t_fixed = timed_solve(md.m, &req, &a_fixed, apps);
	req.halt = TRMX_HALT_ADAPTIVE;
	double t_cont = timed_solve(md.m, &req, &a_cont, apps);
	/* adaptive without refills: each batch of B runs until its last row halts (rows that halted
	 * drop out, but their slots stay empty) */
	double t_static = 0, a_sum = 0, a_nocompact = 0;
	for (size_t first = 0; first < n; first += (size_t)B) {
		trmx_solve_request r = req;
		double a;
		r.n = n - first < (size_t)B ? n - first : (size_t)B;
		r.inputs = in + first * (size_t)md.info.seq_len;
		t_static += timed_solve(md.m, &r, &a, apps);
		a_sum += a * (double)r.n;
		a_nocompact += (double)r.n * last_max_steps * apps; /* every row computed until the last halts */
	}
	a_static = a_sum / (double)n;
	a_nocompact /= (double)n;
	printf("halt inputs=%zu batch=%d bias_shift=%.3f mean_steps_adaptive=%.2f\n", n, B, bias, a_cont / apps);
	printf("mode=fixed inputs_per_s=%.2f applications_per_input=%.1f\n", n / t_fixed, a_fixed);
	printf("mode=adaptive_continuous inputs_per_s=%.2f applications_per_input=%.1f\n", n / t_cont, a_cont);
	printf("mode=adaptive_static inputs_per_s=%.2f applications_per_input=%.1f\n", n / t_static, a_static);
	printf("mode=adaptive_official applications_per_input=%.1f (counted, not timed: the official batch computes "
	       "every row until its last row halts)\n", a_nocompact);
	model_close(&md);
	tu_rmtree(tmp);
	free(tmp);
	free(path);
	free(in);
	return 0;
}

struct random_rows {
	uint64_t n;
	int L, V;
};

static int fill_random(void *user, int row, int32_t *input, int32_t *label, int32_t *puzzle_id, trmx_error *err)
{
	struct random_rows *d = user;
	for (int i = 0; i < d->L; i++) {
		input[i] = 1 + (int32_t)(wg_mix64(d->n++) % (uint64_t)(d->V - 1));
		label[i] = 1 + (int32_t)(wg_mix64(d->n++) % (uint64_t)(d->V - 1));
	}
	*puzzle_id = 0;
	return 0;
}

static int cmd_train(int argc, char **argv)
{
	if (argc != 5)
		return fprintf(stderr, "usage: bench_trm train W BATCH STEPS\n"), 2;
	trmx_weights *w;
	trmx_config *arch;
	trmx_trainer *t;
	trmx_error err;
	int B = atoi(argv[3]), steps = atoi(argv[4]);
	if (trmx_weights_open(&w, argv[2], &err) < 0 || trmx_config_from_metadata(&arch, w, &err) < 0)
		die(&err);
	trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
	o.batch_size = B;
	o.total_steps = steps + 2;
	if (trmx_trainer_new(&t, trmx_config_engine(arch), arch, w, &o, &err) < 0)
		die(&err);
	trmx_model_info info;
	trmx_model_info_get(trmx_trainer_model(t), &info);
	struct random_rows d = { 1, info.seq_len, info.vocab_size };
	double *dt = calloc((size_t)steps, sizeof *dt);
	for (int i = 0; i < steps + 2; i++) {
		double t0 = now();
		if (trmx_trainer_step(t, fill_random, &d, NULL, &err) < 0)
			die(&err);
		if (i >= 2)
			dt[i - 2] = now() - t0;
	}
	double med = median(dt, (size_t)steps);
	printf("engine=trmx batch=%d threads=%d step_median_s=%.6f steps_per_s=%.4f params=%lld\n", B,
	       trmx_get_threads(), med, 1.0 / med, (long long)info.num_params);
	free(dt);
	trmx_trainer_free(t);
	trmx_config_free(arch);
	trmx_weights_free(w);
	return 0;
}

int main(int argc, char **argv)
{
	const char *mm = getenv("TRMX_MATMUL");
	if (mm && !strcmp(mm, "bf16") && trmx_set_matmul(TRMX_MATMUL_BF16) < 0)
		return fprintf(stderr, "bench_trm: TRMX_MATMUL=bf16: this CPU lacks AVX-512 BF16\n"), 1;
	if (argc >= 2 && !strcmp(argv[1], "gen"))
		return cmd_gen(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "run"))
		return cmd_run(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "sgemm"))
		return cmd_sgemm(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "bf16"))
		return cmd_bf16(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "halt"))
		return cmd_halt(argc, argv);
	if (argc >= 2 && !strcmp(argv[1], "train"))
		return cmd_train(argc, argv);
	fprintf(stderr, "usage: bench_trm gen|run|sgemm|bf16|halt|train ... (see bench/bench_trm.c)\n");
	return 2;
}
