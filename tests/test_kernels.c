/*
 * test_kernels.c — the fast kernels against plain references: GEMM in every transpose case and
 * thread split, attention, expf, residual RMSNorm, SwiGLU, RoPE tables, transposes, argmax.
 */
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/wait.h>
#include <unistd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers/numcheck.h"
#include "helpers/weightgen.h"
#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "trmx/trmx.h"

static float *rnd(size_t n, const char *name, double std)
{
	float *p = malloc(n * sizeof *p);
	wg_fill(p, n, name, 7, std);
	return p;
}

static void test_gemm_all_cases(void **state)
{
	static const int shapes[][3] = { { 1, 1, 1 }, { 7, 5, 3 }, { 97, 33, 64 }, { 200, 300, 17 }, { 5, 700, 40 },
					 { 256, 300, 64 }, { 20, 900, 200 } }; /* the last two split across threads */
	trmx_blas_init();
	for (int threads = 1; threads <= 3; threads++) {
		trmx_set_threads(threads);
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
			int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
			for (int ta = 0; ta < 2; ta++) {
				for (int tb = 0; tb < 2; tb++) {
					float *A = rnd((size_t)M * K, "A", 1), *B = rnd((size_t)K * N, "B", 1);
					float *C = rnd((size_t)M * N, "C", 1), *R = malloc((size_t)M * N * sizeof *R);
					memcpy(R, C, (size_t)M * N * sizeof *R);
					int lda = ta ? M : K, ldb = tb ? K : N;
					trmx_gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, C, N);
					trmx_gemm_ref(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 0.25f, R, N);
					char what[64];
					snprintf(what, sizeof what, "gemm %dx%dx%d ta%d tb%d t%d", M, N, K, ta, tb, threads);
					assert_close(C, R, (size_t)M * N, 4e-6 * sqrt((double)K), what);
					free(A), free(B), free(C), free(R);
				}
			}
		}
	}
	trmx_set_threads(0);
}

/* The bf16 product against an exact (double) one. Each operand rounded to bf16 (8-bit significand,
 * round to nearest) is within u = 2^-8 of itself, so a product of two is within 2u + u^2, and the
 * fp32 accumulation of K of them adds at most (K + 2) * 2^-24 (gamma_K, plus alpha and beta):
 *   |C - C_exact| <= |alpha| (2u + u^2 + (K + 2) 2^-24) sum_k |a_ik b_kj| + 2^-23 |beta c_ij|.
 * The test fails past that bound, and also when no element is off by more than an fp32 product
 * could be (then the bf16 path did not run). Ld's wider than the operands and odd K are included. */
static void test_gemm_bf16_within_bound(void **state)
{
	static const int shapes[][3] = { { 1, 1, 1 },	  { 7, 5, 3 },	   { 97, 33, 64 },  { 13, 70, 97 },
					 { 200, 300, 17 }, { 5, 700, 41 }, { 256, 300, 64 }, { 130, 260, 515 },
					 { 600, 130, 70 } }; /* the last three split across threads (columns, columns, rows) */
	trmx_blas_init();
	if (!trmx_matmul_available(TRMX_MATMUL_BF16)) {
		assert_int_equal(trmx_set_matmul(TRMX_MATMUL_BF16), TRMX_EINVAL);
		assert_int_equal(trmx_get_matmul(), TRMX_MATMUL_FP32);
		skip();
	}
	assert_int_equal(trmx_set_matmul(TRMX_MATMUL_BF16), 0);
	const double u = 1.0 / 256;
	double overall = 0;
	for (int threads = 1; threads <= 2; threads++) {
		trmx_set_threads(threads);
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
			int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
			for (int ta = 0; ta < 2; ta++) {
				for (int tb = 0; tb < 2; tb++) {
					int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 5, ldc = N + 2;
					float *A = rnd((size_t)lda * (ta ? K : M), "A", 1);
					float *B = rnd((size_t)ldb * (tb ? N : K), "B", 1);
					float *C = rnd((size_t)M * ldc, "C", 1), *C0 = malloc((size_t)M * ldc * sizeof *C0);
					memcpy(C0, C, (size_t)M * ldc * sizeof *C0);
					const float alpha = 0.5f, beta = 0.25f;
					trmx_gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
					double worst = 0, widest = 0; /* err / bound, err / sum|ab| */
					for (int i = 0; i < M; i++) {
						for (int j = 0; j < N; j++) {
							double e = 0, ea = 0;
							for (int k = 0; k < K; k++) {
								double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
								double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
								e += a * b, ea += fabs(a * b);
							}
							double c0 = C0[(size_t)i * ldc + j];
							double err = fabs(C[(size_t)i * ldc + j] - (alpha * e + beta * c0));
							double bound = alpha * (2 * u + u * u + (K + 2) * 0x1p-24) * ea +
								       0x1p-23 * fabs(beta * c0) + 1e-30;
							if (err / bound > worst)
								worst = err / bound;
							if (ea > 0 && err / (alpha * ea) > widest)
								widest = err / (alpha * ea);
						}
					}
					overall = worst > overall ? worst : overall;
					if (worst > 1.0)
						fail_msg("bf16 gemm %dx%dx%d ta%d tb%d t%d: error %.3g x the bound", M, N, K,
							 ta, tb, threads, worst);
					/* fp32 would be within (K + 2) 2^-24; bf16 must show its rounding somewhere */
					if (M * N * K >= 64 && widest <= (K + 2) * 0x1p-24)
						fail_msg("bf16 gemm %dx%dx%d: no bf16 rounding seen (%.3g)", M, N, K, widest);
					for (int i = 0; i < M; i++) /* the pad columns of C untouched */
						for (int j = N; j < ldc; j++)
							assert_true(C[(size_t)i * ldc + j] == C0[(size_t)i * ldc + j]);
					free(A), free(B), free(C), free(C0);
				}
			}
		}
	}
	printf("bf16 gemm: largest error %.3f x the bound (2u + u^2 + (K + 2) 2^-24, u = 2^-8)\n", overall);
	trmx_set_threads(0);
	assert_int_equal(trmx_set_matmul(TRMX_MATMUL_FP32), 0);
}

static void test_attention_matches_reference(void **state)
{
	trmx_blas_init();
	int B = 2, S = 37, H = 3, Dh = 8;
	size_t n = (size_t)B * S * 3 * H * Dh, no = (size_t)B * S * H * Dh;
	float *qkv = rnd(n, "qkv", 1.5);
	float *out = malloc(no * sizeof *out), *ref = malloc(no * sizeof *ref);
	for (int threads = 1; threads <= 2; threads++) {
		trmx_set_threads(threads);
		float *scratch = malloc(trmx_attention_scratch_floats(S, threads) * sizeof(float));
		trmx_attention_forward(out, scratch, qkv, B, S, H, Dh);
		trmx_attention_forward_ref(ref, qkv, B, S, H, Dh);
		assert_close(out, ref, no, 2e-6, threads == 1 ? "attention, 1 thread" : "attention, 2 threads");
		free(scratch);
	}
	trmx_set_threads(0);
	free(qkv), free(out), free(ref);
}

static void test_expf_accuracy(void **state)
{
	double worst = 0;
	for (float x = -87.0f; x <= 88.0f; x += 0.00731f) {
		double want = exp((double)x), got = trmx_expf(x);
		double rel = fabs(got - want) / want;
		worst = rel > worst ? rel : worst;
	}
	print_message("expf: worst relative error %.3e on [-87, 88]\n", worst);
	assert_true(worst < 4e-7); /* about 3 ulp */
	assert_true(trmx_expf(-1000.0f) >= 0.0f && trmx_expf(-1000.0f) < 1e-37f);
	assert_true(isfinite(trmx_expf(1000.0f)));
}

static void test_add_rmsnorm(void **state)
{
	int rows = 13, dim = 96;
	float *a = rnd((size_t)rows * dim, "a", 2), *b = rnd((size_t)rows * dim, "b", 1);
	float *out = malloc((size_t)rows * dim * sizeof *out), *ref = malloc((size_t)rows * dim * sizeof *ref);
	float rstd[13];
	for (int r = 0; r < rows; r++) {
		double ss = 0;
		for (int i = 0; i < dim; i++) {
			double v = (double)a[r * dim + i] + b[r * dim + i];
			ss += v * v;
		}
		double rs = 1.0 / sqrt(ss / dim + 1e-5);
		for (int i = 0; i < dim; i++)
			ref[r * dim + i] = (float)(((double)a[r * dim + i] + b[r * dim + i]) * rs);
	}
	trmx_add_rmsnorm_forward(out, rstd, a, b, rows, dim, 1e-5f);
	assert_close(out, ref, (size_t)rows * dim, 1e-6, "residual rmsnorm");
	trmx_add_rmsnorm_forward(a, NULL, a, b, rows, dim, 1e-5f); /* in place */
	assert_close(a, ref, (size_t)rows * dim, 1e-6, "residual rmsnorm in place");
	free(a), free(b), free(out), free(ref);
}

static void test_swiglu(void **state)
{
	int rows = 5, inter = 300;
	float *gu = rnd((size_t)rows * 2 * inter, "gu", 8);
	float *out = malloc((size_t)rows * inter * sizeof *out), *ref = malloc((size_t)rows * inter * sizeof *ref);
	for (int r = 0; r < rows; r++)
		for (int i = 0; i < inter; i++) {
			double g = gu[r * 2 * inter + i], u = gu[r * 2 * inter + inter + i];
			ref[r * inter + i] = (float)(g / (1 + exp(-g)) * u);
		}
	trmx_swiglu_forward(out, gu, rows, inter);
	assert_close(out, ref, (size_t)rows * inter, 5e-5, "swiglu (|x| up to 14)");
	free(gu), free(out), free(ref);
}

static void test_rope_tables_and_rotation(void **state)
{
	int S = 97, Dh = 64;
	float *c = malloc((size_t)S * Dh * sizeof *c), *s = malloc((size_t)S * Dh * sizeof *s);
	trmx_rope_tables(c, s, S, Dh, 10000.0f);
	double worst = 0;
	for (int t = 0; t < S; t++)
		for (int j = 0; j < Dh; j++) {
			double ang = t * pow(10000.0, -(2.0 * (j % (Dh / 2))) / Dh);
			worst = fmax(worst, fabs(c[t * Dh + j] - cos(ang)));
			worst = fmax(worst, fabs(s[t * Dh + j] - sin(ang)));
		}
	print_message("rope tables: max |diff| from float64 angles %.3e\n", worst);
	assert_true(worst < 1e-5); /* float32 angles, as torch builds them */
	/* rotation of q and k keeps each pair's norm and leaves v untouched */
	int H = 2, stride = 3 * H * Dh;
	float *qkv = rnd((size_t)S * stride, "rope_qkv", 1), *orig = malloc((size_t)S * stride * sizeof *orig);
	memcpy(orig, qkv, (size_t)S * stride * sizeof *orig);
	trmx_rope_forward(qkv, 1, S, H, Dh, stride, c, s);
	for (int t = 0; t < S; t++) {
		for (int h = 0; h < 2 * H; h++)
			for (int i = 0; i < Dh / 2; i++) {
				const float *x = orig + (size_t)t * stride + h * Dh, *y = qkv + (size_t)t * stride + h * Dh;
				double n0 = x[i] * x[i] + x[i + Dh / 2] * x[i + Dh / 2];
				double n1 = y[i] * y[i] + y[i + Dh / 2] * y[i + Dh / 2];
				assert_true(fabs(n0 - n1) < 1e-5 * (1 + n0));
				double want = x[i] * (double)c[t * Dh + i] - x[i + Dh / 2] * (double)s[t * Dh + i];
				assert_true(fabs(y[i] - want) < 1e-6);
			}
		assert_memory_equal(qkv + (size_t)t * stride + 2 * H * Dh, orig + (size_t)t * stride + 2 * H * Dh,
				    (size_t)H * Dh * sizeof(float));
	}
	free(c), free(s), free(qkv), free(orig);
}

static void test_transpose_and_argmax(void **state)
{
	int B = 3, R = 70, C = 45;
	float *in = rnd((size_t)B * R * C, "t", 1), *out = malloc((size_t)B * R * C * sizeof *out);
	float *back = malloc((size_t)B * R * C * sizeof *back);
	trmx_transpose_batched(out, in, B, R, C);
	for (int b = 0; b < B; b++)
		for (int r = 0; r < R; r++)
			for (int c = 0; c < C; c++)
				assert_true(out[(size_t)b * R * C + (size_t)c * R + r] == in[(size_t)b * R * C + (size_t)r * C + c]);
	trmx_transpose_batched(back, out, B, C, R);
	assert_memory_equal(back, in, (size_t)B * R * C * sizeof(float));
	float x[2][4] = { { 1, 3, 3, 2 }, { -1, -5, -1, -0.5f } };
	int32_t idx[2];
	trmx_argmax_rows(idx, &x[0][0], 2, 4);
	assert_int_equal(idx[0], 1); /* first maximum */
	assert_int_equal(idx[1], 3);
	free(in), free(out), free(back);
}

static void test_parallel_sets_ftz(void **state)
{
	/* a denormal result must flush to zero inside kernels, and the caller's mode comes back */
	volatile float tiny = 1e-30f;
	unsigned saved = trmx_fpmode_enter();
	volatile float r = tiny * 1e-10f;
	trmx_fpmode_leave(saved);
	assert_true(r == 0.0f);
	volatile float r2 = tiny * 1e-10f;
	assert_true(r2 != 0.0f);
}

/* ---- the thread pool ------------------------------------------------------------------------ */

/* Every unit of [0, n) is visited exactly once, by a thread index below the thread count. */
struct cover {
	unsigned char *hits;
	_Atomic int bad_thread;
	int nested; /* > 0: each range also runs a nested parallel_for of this size */
	_Atomic long nested_sum; /* units the nested call visited */
};

static void cover_inner(void *ctx, size_t lo, size_t hi, int thread)
{
	struct cover *c = ctx;
	atomic_fetch_add(&c->nested_sum, (long)(hi - lo));
	(void)thread;
}

static void cover_range(void *ctx, size_t lo, size_t hi, int thread)
{
	struct cover *c = ctx;
	if (thread < 0 || thread >= trmx_get_threads())
		atomic_store(&c->bad_thread, 1);
	for (size_t i = lo; i < hi; i++)
		c->hits[i]++;
	if (c->nested) { /* a kernel calling a kernel: runs inline, still exactly once */
		struct cover in = { 0 };
		in.nested_sum = 0;
		trmx_parallel_for((size_t)c->nested, 1, cover_inner, &in);
		if (in.nested_sum != c->nested)
			atomic_store(&c->bad_thread, 1);
	}
}

static void cover_check(size_t n, size_t grain, int nested)
{
	struct cover c = { calloc(n, 1), 0, nested, 0 };
	trmx_parallel_for(n, grain, cover_range, &c);
	for (size_t i = 0; i < n; i++)
		if (c.hits[i] != 1)
			fail_msg("unit %zu of %zu visited %d times", i, n, c.hits[i]);
	assert_int_equal(c.bad_thread, 0);
	free(c.hits);
}

static void *pool_caller(void *arg)
{
	for (int r = 0; r < 300; r++)
		cover_check(1000 + (size_t)r, 1, 0);
	return arg;
}

static void test_pool(void **state)
{
	int saved = trmx_get_threads();
	for (int t = 1; t <= 4; t++) { /* thread-count changes resize the pool */
		trmx_set_threads(t);
		for (int r = 0; r < 2000; r++) /* many back-to-back jobs: no lost wake-up or hand-off */
			cover_check((size_t)(r % 97) + 1, 1, 0);
		cover_check(100000, 7, 0);
		cover_check(64, 1, 5);
	}
	/* callers on other threads at the same time: one dispatch runs at a time, the rest inline */
	trmx_set_threads(2);
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		assert_int_equal(pthread_create(&th[i], NULL, pool_caller, NULL), 0);
	pool_caller(NULL);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	/* a forked child starts without the parent's workers and makes its own (ThreadSanitizer
	 * refuses threads after a multi-threaded fork: checked in the other builds) */
#ifndef __SANITIZE_THREAD__
	pid_t pid = fork();
	if (pid == 0) {
		for (int r = 0; r < 100; r++)
			cover_check(5000, 1, 0);
		_exit(0);
	}
	int status = -1;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
#endif
	cover_check(5000, 1, 0);
	trmx_set_threads(saved);
}

/* ---- finite-difference checks of the backward kernels ------------------------------------
 * Each checks the float kernel against central differences of a float64 forward of the same
 * operation, for the scalar loss L = sum(w * out) with random w. */

typedef void (*fwd64_fn)(double *out, const double *in, const void *ctx);

/* max over i of |analytic_i - numeric_i| / (max |numeric| + 1e-6) */
static double fd_check(fwd64_fn f, const void *ctx, const float *x, size_t n_in, size_t n_out,
		       const float *w, const float *analytic)
{
	double *in = malloc(n_in * sizeof *in), *out = malloc(n_out * sizeof *out);
	double worst = 0, scale = 1e-6;
	double *num = malloc(n_in * sizeof *num);
	for (size_t i = 0; i < n_in; i++)
		in[i] = x[i];
	for (size_t i = 0; i < n_in; i++) {
		double h = 1e-5 * fmax(1.0, fabs(in[i])), lp = 0, lm = 0, keep = in[i];
		in[i] = keep + h;
		f(out, in, ctx);
		for (size_t k = 0; k < n_out; k++)
			lp += w[k] * out[k];
		in[i] = keep - h;
		f(out, in, ctx);
		for (size_t k = 0; k < n_out; k++)
			lm += w[k] * out[k];
		in[i] = keep;
		num[i] = (lp - lm) / (2 * h);
		scale = fmax(scale, fabs(num[i]));
	}
	for (size_t i = 0; i < n_in; i++)
		worst = fmax(worst, fabs(analytic[i] - num[i]) / scale);
	free(in), free(out), free(num);
	return worst;
}

struct dims {
	int rows, dim, seq, heads, head_dim;
	const float *cos_t, *sin_t;
};

static void rms64(double *out, const double *in, const void *ctx)
{
	const struct dims *d = ctx;
	for (int r = 0; r < d->rows; r++) {
		double ss = 0;
		for (int i = 0; i < d->dim; i++)
			ss += in[r * d->dim + i] * in[r * d->dim + i];
		double rs = 1.0 / sqrt(ss / d->dim + 1e-5);
		for (int i = 0; i < d->dim; i++)
			out[r * d->dim + i] = in[r * d->dim + i] * rs;
	}
}

static void test_rmsnorm_backward_fd(void **state)
{
	struct dims d = { .rows = 3, .dim = 40 };
	size_t n = (size_t)d.rows * d.dim;
	float *x = rnd(n, "rx", 1.5), *w = rnd(n, "rw", 1), *y = malloc(n * 4), *dx = malloc(n * 4), rstd[3];
	trmx_add_rmsnorm_forward(y, rstd, x, NULL, d.rows, d.dim, 1e-5f);
	trmx_rmsnorm_backward(dx, w, y, rstd, d.rows, d.dim);
	double e = fd_check(rms64, &d, x, n, n, w, dx);
	print_message("rmsnorm backward: max relative error %.2e\n", e);
	assert_true(e < 1e-5);
	free(x), free(w), free(y), free(dx);
}

static void swiglu64(double *out, const double *in, const void *ctx)
{
	const struct dims *d = ctx;
	for (int r = 0; r < d->rows; r++)
		for (int i = 0; i < d->dim; i++) {
			double g = in[r * 2 * d->dim + i], u = in[r * 2 * d->dim + d->dim + i];
			out[r * d->dim + i] = g / (1 + exp(-g)) * u;
		}
}

static void test_swiglu_backward_fd(void **state)
{
	struct dims d = { .rows = 3, .dim = 20 };
	size_t n_in = (size_t)d.rows * 2 * d.dim, n_out = (size_t)d.rows * d.dim;
	float *gu = rnd(n_in, "sg", 3), *w = rnd(n_out, "sw", 1), *dgu = malloc(n_in * 4);
	trmx_swiglu_backward(dgu, w, gu, d.rows, d.dim);
	double e = fd_check(swiglu64, &d, gu, n_in, n_out, w, dgu);
	print_message("swiglu backward: max relative error %.2e\n", e);
	assert_true(e < 1e-5);
	free(gu), free(w), free(dgu);
}

static void rope64(double *out, const double *in, const void *ctx)
{
	const struct dims *d = ctx;
	int stride = 3 * d->heads * d->head_dim, half = d->head_dim / 2;
	for (int t = 0; t < d->seq; t++)
		for (int c = 0; c < stride; c++) {
			const double *x = in + (size_t)t * stride;
			int h = c / d->head_dim, i = c % d->head_dim;
			double v = x[c];
			if (h < 2 * d->heads) {
				double cs = d->cos_t[t * d->head_dim + i], sn = d->sin_t[t * d->head_dim + i];
				double other = i < half ? -x[c + half] : x[c - half];
				v = x[c] * cs + other * sn;
			}
			out[(size_t)t * stride + c] = v;
		}
}

static void test_rope_backward_fd(void **state)
{
	struct dims d = { .seq = 5, .heads = 2, .head_dim = 8 };
	float *c = malloc(5 * 8 * 4), *s = malloc(5 * 8 * 4);
	trmx_rope_tables(c, s, 5, 8, 100.0f);
	d.cos_t = c, d.sin_t = s;
	size_t n = (size_t)d.seq * 3 * d.heads * d.head_dim;
	float *x = rnd(n, "px", 1), *w = rnd(n, "pw", 1), *g = malloc(n * 4);
	memcpy(g, w, n * 4);
	trmx_rope_backward(g, 1, d.seq, d.heads, d.head_dim, 3 * d.heads * d.head_dim, c, s);
	double e = fd_check(rope64, &d, x, n, n, w, g);
	print_message("rope backward: max relative error %.2e\n", e);
	assert_true(e < 1e-5);
	free(c), free(s), free(x), free(w), free(g);
}

static void attn64(double *out, const double *in, const void *ctx)
{
	const struct dims *d = ctx;
	int S = d->seq, H = d->heads, Dh = d->head_dim, ld = 3 * H * Dh;
	for (int h = 0; h < H; h++)
		for (int i = 0; i < S; i++) {
			double wgt[64], m = -1e300, sum = 0;
			for (int k = 0; k < S; k++) {
				double dot = 0;
				for (int e = 0; e < Dh; e++)
					dot += in[i * ld + h * Dh + e] * in[k * ld + (H + h) * Dh + e];
				wgt[k] = dot / sqrt((double)Dh);
				m = fmax(m, wgt[k]);
			}
			for (int k = 0; k < S; k++)
				sum += wgt[k] = exp(wgt[k] - m);
			for (int e = 0; e < Dh; e++) {
				double acc = 0;
				for (int k = 0; k < S; k++)
					acc += wgt[k] / sum * in[k * ld + (2 * H + h) * Dh + e];
				out[i * H * Dh + h * Dh + e] = acc;
			}
		}
}

static void test_attention_backward_fd(void **state)
{
	struct dims d = { .seq = 6, .heads = 2, .head_dim = 4 };
	int S = d.seq, H = d.heads, Dh = d.head_dim;
	size_t n_in = (size_t)S * 3 * H * Dh, n_out = (size_t)S * H * Dh;
	float *qkv = rnd(n_in, "aq", 1.2), *w = rnd(n_out, "aw", 1), *out = malloc(n_out * 4);
	float *probs = malloc((size_t)H * S * S * 4), *dqkv = malloc(n_in * 4);
	float *scratch = malloc(trmx_attention_scratch_floats(S, trmx_get_threads()) * 4);
	trmx_attention_forward_train(out, probs, qkv, 1, S, H, Dh);
	float *ref = malloc(n_out * 4);
	trmx_attention_forward_ref(ref, qkv, 1, S, H, Dh);
	assert_close(out, ref, n_out, 2e-6, "attention forward (train)");
	trmx_attention_backward(dqkv, scratch, w, qkv, probs, 1, S, H, Dh);
	double e = fd_check(attn64, &d, qkv, n_in, n_out, w, dqkv);
	print_message("attention backward: max relative error %.2e\n", e);
	assert_true(e < 1e-5);
	free(qkv), free(w), free(out), free(probs), free(dqkv), free(scratch), free(ref);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_gemm_all_cases),
		cmocka_unit_test(test_gemm_bf16_within_bound),
		cmocka_unit_test(test_attention_matches_reference),
		cmocka_unit_test(test_expf_accuracy),
		cmocka_unit_test(test_add_rmsnorm),
		cmocka_unit_test(test_swiglu),
		cmocka_unit_test(test_rope_tables_and_rotation),
		cmocka_unit_test(test_transpose_and_argmax),
		cmocka_unit_test(test_parallel_sets_ftz),
		cmocka_unit_test(test_pool),
		cmocka_unit_test(test_rmsnorm_backward_fd),
		cmocka_unit_test(test_swiglu_backward_fd),
		cmocka_unit_test(test_rope_backward_fd),
		cmocka_unit_test(test_attention_backward_fd),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
