/*
 * kernels.c — forward kernels: residual + RMSNorm, SwiGLU, RoPE, attention, transposes, argmax.
 *
 * Sums of squares and softmax denominators are accumulated in double (cheap next to the matrix
 * products, and it keeps the engine close to a float64 reference across hundreds of network
 * applications). Matrix products go through blas.h.
 */
#include <math.h>
#include <string.h>

#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"
#include "trmx/trmx.h"

/* Cephes-style expf: n = nearest integer to x log2 e (by the 1.5 * 2^23 trick), r = x - n ln 2 in
 * two parts, 2^n * poly(r). Branch-free, so loops over it vectorise (kernels build with -O3
 * -fno-trapping-math, see the Makefile). */
static inline float expf_inline(float x)
{
	x = x < -87.0f ? -87.0f : x;
	x = x > 88.0f ? 88.0f : x;
	float fx = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
	float r = x - fx * 0.693359375f + fx * 2.12194440e-4f;
	float z = r * r;
	float y = 1.9875691500e-4f;
	y = y * r + 1.3981999507e-3f;
	y = y * r + 8.3334519073e-3f;
	y = y * r + 4.1665795894e-2f;
	y = y * r + 1.6666665459e-1f;
	y = y * r + 5.0000001201e-1f;
	y = y * z + r + 1.0f;
	int32_t bits = ((int32_t)fx + 127) << 23;
	float p;
	__builtin_memcpy(&p, &bits, sizeof p); /* 2^n as a bit cast the vectoriser understands */
	return y * p;
}

float trmx_expf(float x)
{
	return expf_inline(x);
}

/* ---- input injection --------------------------------------------------------------------- */

struct inject_job {
	float *h;
	const float *a, *b;
};

static void inject_range(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct inject_job *j = ctx;
	float *h = j->h;
	const float *a = j->a, *b = j->b;
	if (b) {
#pragma omp simd
		for (size_t i = lo; i < hi; i++)
			h[i] = h[i] + (a[i] + b[i]);
	} else {
#pragma omp simd
		for (size_t i = lo; i < hi; i++)
			h[i] = h[i] + a[i];
	}
}

void trmx_add_inject_forward(float *h, const float *a, const float *b, size_t n)
{
	struct inject_job j = { h, a, b };
	trmx_parallel_for(n, trmx_grain(1), inject_range, &j);
}

/* ---- residual + RMSNorm ------------------------------------------------------------------ */

struct norm_job {
	float *out, *rstd;
	const float *a, *b;
	int dim;
	float eps;
};

static void add_rmsnorm_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct norm_job *j = ctx;
	int d = j->dim;
	for (size_t r = lo; r < hi; r++) {
		const float *a = j->a + r * d;
		const float *b = j->b ? j->b + r * d : NULL;
		float *o = j->out + r * d;
		double ss = 0;
		if (b) {
			for (int i = 0; i < d; i++) {
				float v = a[i] + b[i];
				o[i] = v;
				ss += (double)v * v;
			}
		} else {
			for (int i = 0; i < d; i++) {
				o[i] = a[i];
				ss += (double)a[i] * a[i];
			}
		}
		float rs = (float)(1.0 / sqrt(ss / d + (double)j->eps));
		if (j->rstd)
			j->rstd[r] = rs;
		for (int i = 0; i < d; i++)
			o[i] *= rs;
	}
}

void trmx_add_rmsnorm_forward(float *out, float *rstd, const float *a, const float *b, size_t rows,
			      int dim, float eps)
{
	struct norm_job j = { out, rstd, a, b, dim, eps };
	trmx_parallel_for(rows, trmx_grain(3.0 * dim), add_rmsnorm_rows, &j);
}

/* ---- SwiGLU ------------------------------------------------------------------------------ */

struct swiglu_job {
	float *out;
	const float *gu;
	int inter;
};

static void swiglu_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct swiglu_job *j = ctx;
	int n = j->inter;
	for (size_t r = lo; r < hi; r++) {
		const float *g = j->gu + r * 2 * (size_t)n;
		const float *u = g + n;
		float *o = j->out + r * (size_t)n;
#pragma omp simd
		for (int i = 0; i < n; i++)
			o[i] = g[i] / (1.0f + expf_inline(-g[i])) * u[i];
	}
}

void trmx_swiglu_forward(float *out, const float *gu, size_t rows, int inter)
{
	struct swiglu_job j = { out, gu, inter };
	trmx_parallel_for(rows, trmx_grain(20.0 * inter), swiglu_rows, &j);
}

/* ---- RoPE -------------------------------------------------------------------------------- */

void trmx_rope_tables(float *cos_t, float *sin_t, int seq, int head_dim, float theta)
{
	int half = head_dim / 2;
	for (int j = 0; j < half; j++) {
		/* float32 like torch: arange(0, dim, 2) / dim, base ** that, reciprocal, outer product */
		float e = (float)(2 * j) / (float)head_dim;
		float inv = 1.0f / powf(theta, e);
		for (int t = 0; t < seq; t++) {
			float ang = (float)t * inv;
			float c = cosf(ang), s = sinf(ang);
			cos_t[(size_t)t * head_dim + j] = cos_t[(size_t)t * head_dim + j + half] = c;
			sin_t[(size_t)t * head_dim + j] = sin_t[(size_t)t * head_dim + j + half] = s;
		}
	}
}

struct rope_job {
	float *qkv;
	int seq, heads, head_dim, stride;
	const float *cos_t, *sin_t;
};

static void rope_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct rope_job *j = ctx;
	int half = j->head_dim / 2;
	for (size_t r = lo; r < hi; r++) {
		int t = (int)(r % (size_t)j->seq);
		const float *c = j->cos_t + (size_t)t * j->head_dim;
		const float *s = j->sin_t + (size_t)t * j->head_dim;
		float *row = j->qkv + r * (size_t)j->stride;
		for (int h = 0; h < 2 * j->heads; h++) { /* q heads then k heads */
			float *x = row + (size_t)h * j->head_dim;
			for (int i = 0; i < half; i++) {
				float x1 = x[i], x2 = x[i + half];
				x[i] = x1 * c[i] - x2 * s[i];
				x[i + half] = x2 * c[i + half] + x1 * s[i + half];
			}
		}
	}
}

void trmx_rope_forward(float *qkv, size_t batch, int seq, int heads, int head_dim, int row_stride,
		       const float *cos_t, const float *sin_t)
{
	struct rope_job j = { qkv, seq, heads, head_dim, row_stride, cos_t, sin_t };
	trmx_parallel_for(batch * (size_t)seq, trmx_grain(3.0 * heads * head_dim), rope_rows, &j);
}

/* ---- attention --------------------------------------------------------------------------- */

size_t trmx_attention_scratch_floats(int seq, int threads)
{
	return (size_t)seq * seq * (size_t)threads;
}

static void softmax_row(float *x, int n)
{
	float m = x[0];
	for (int i = 1; i < n; i++)
		m = x[i] > m ? x[i] : m;
	double s = 0;
	for (int i = 0; i < n; i++) {
		x[i] = expf_inline(x[i] - m);
		s += x[i];
	}
	float inv = (float)(1.0 / s);
	for (int i = 0; i < n; i++)
		x[i] *= inv;
}

struct attn_job {
	float *out, *scratch;
	const float *qkv;
	size_t batch;
	int seq, heads, head_dim;
};

/* Called once per thread with lo = thread, hi = thread count: (row, head) pairs dealt round-robin. */
static void attention_pairs(void *ctx, size_t t, size_t nt, int thread)
{
	const struct attn_job *j = ctx;
	int S = j->seq, H = j->heads, Dh = j->head_dim;
	int ld = 3 * H * Dh, ldo = H * Dh;
	float *sc = j->scratch + (size_t)thread * S * S;
	float scale = 1.0f / sqrtf((float)Dh);
	for (size_t p = t; p < j->batch * (size_t)H; p += nt) {
		size_t b = p / (size_t)H;
		int h = (int)(p % (size_t)H);
		const float *base = j->qkv + b * (size_t)S * ld;
		const float *q = base + (size_t)h * Dh;
		const float *k = base + (size_t)(H + h) * Dh;
		const float *v = base + (size_t)(2 * H + h) * Dh;
		trmx_gemm_serial(false, true, S, S, Dh, scale, q, ld, k, ld, 0.0f, sc, S);
		for (int r = 0; r < S; r++)
			softmax_row(sc + (size_t)r * S, S);
		trmx_gemm_serial(false, false, S, Dh, S, 1.0f, sc, S, v, ld, 0.0f,
				 j->out + b * (size_t)S * ldo + (size_t)h * Dh, ldo);
	}
}

void trmx_attention_forward(float *out, float *scratch, const float *qkv, size_t batch, int seq,
			    int heads, int head_dim)
{
	struct attn_job j = { out, scratch, qkv, batch, seq, heads, head_dim };
	trmx_parallel_threads(4.0 * batch * heads * seq * seq * head_dim, attention_pairs, &j);
}

void trmx_attention_forward_ref(float *out, const float *qkv, size_t batch, int seq, int heads,
				int head_dim)
{
	int S = seq, H = heads, Dh = head_dim, ld = 3 * H * Dh, ldo = H * Dh;
	double scale = 1.0 / sqrt((double)Dh);
	for (size_t b = 0; b < batch; b++) {
		for (int h = 0; h < H; h++) {
			const float *base = qkv + b * (size_t)S * ld;
			for (int i = 0; i < S; i++) {
				double w[S], m = -INFINITY, s = 0;
				for (int k = 0; k < S; k++) {
					double d = 0;
					for (int e = 0; e < Dh; e++)
						d += (double)base[(size_t)i * ld + h * Dh + e] *
						     base[(size_t)k * ld + (H + h) * Dh + e];
					w[k] = d * scale;
					m = w[k] > m ? w[k] : m;
				}
				for (int k = 0; k < S; k++)
					s += w[k] = exp(w[k] - m);
				for (int e = 0; e < Dh; e++) {
					double acc = 0;
					for (int k = 0; k < S; k++)
						acc += w[k] / s * base[(size_t)k * ld + (2 * H + h) * Dh + e];
					out[(b * S + i) * (size_t)ldo + h * Dh + e] = (float)acc;
				}
			}
		}
	}
}

/* ---- backward kernels ----------------------------------------------------------------------- */

struct norm_bwd_job {
	float *dv;
	const float *dout, *out, *rstd;
	int dim;
};

static void rmsnorm_bwd_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct norm_bwd_job *j = ctx;
	int d = j->dim;
	for (size_t r = lo; r < hi; r++) {
		const float *dy = j->dout + r * d, *y = j->out + r * d;
		float *dv = j->dv + r * d;
		double dot = 0;
		for (int i = 0; i < d; i++)
			dot += (double)dy[i] * y[i];
		float m = (float)(dot / d), rs = j->rstd[r];
		for (int i = 0; i < d; i++)
			dv[i] = rs * (dy[i] - y[i] * m);
	}
}

void trmx_rmsnorm_backward(float *dv, const float *dout, const float *out, const float *rstd, size_t rows,
			   int dim)
{
	struct norm_bwd_job j = { dv, dout, out, rstd, dim };
	trmx_parallel_for(rows, trmx_grain(4.0 * dim), rmsnorm_bwd_rows, &j);
}

struct swiglu_bwd_job {
	float *dgu;
	const float *dact, *gu;
	int inter;
};

static void swiglu_bwd_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct swiglu_bwd_job *j = ctx;
	int n = j->inter;
	for (size_t r = lo; r < hi; r++) {
		const float *g = j->gu + r * 2 * (size_t)n, *u = g + n, *da = j->dact + r * (size_t)n;
		float *dg = j->dgu + r * 2 * (size_t)n, *du = dg + n;
#pragma omp simd
		for (int i = 0; i < n; i++) {
			float sig = 1.0f / (1.0f + expf_inline(-g[i]));
			float silu = g[i] * sig;
			dg[i] = da[i] * u[i] * (sig * (1.0f + g[i] * (1.0f - sig)));
			du[i] = da[i] * silu;
		}
	}
}

void trmx_swiglu_backward(float *dgu, const float *dact, const float *gu, size_t rows, int inter)
{
	struct swiglu_bwd_job j = { dgu, dact, gu, inter };
	trmx_parallel_for(rows, trmx_grain(25.0 * inter), swiglu_bwd_rows, &j);
}

static void rope_bwd_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct rope_job *j = ctx;
	int half = j->head_dim / 2;
	for (size_t r = lo; r < hi; r++) {
		int t = (int)(r % (size_t)j->seq);
		const float *c = j->cos_t + (size_t)t * j->head_dim;
		const float *s = j->sin_t + (size_t)t * j->head_dim;
		float *row = j->qkv + r * (size_t)j->stride;
		for (int h = 0; h < 2 * j->heads; h++) {
			float *x = row + (size_t)h * j->head_dim;
			for (int i = 0; i < half; i++) {
				float d1 = x[i], d2 = x[i + half];
				x[i] = d1 * c[i] + d2 * s[i + half];
				x[i + half] = d2 * c[i + half] - d1 * s[i];
			}
		}
	}
}

void trmx_rope_backward(float *dqkv, size_t batch, int seq, int heads, int head_dim, int row_stride,
			const float *cos_t, const float *sin_t)
{
	struct rope_job j = { dqkv, seq, heads, head_dim, row_stride, cos_t, sin_t };
	trmx_parallel_for(batch * (size_t)seq, trmx_grain(3.0 * heads * head_dim), rope_bwd_rows, &j);
}

struct attn_train_job {
	float *out, *probs, *dqkv, *scratch;
	const float *qkv, *dout, *cprobs;
	size_t batch;
	int seq, heads, head_dim;
};

static void attention_train_pairs(void *ctx, size_t t, size_t nt, int thread)
{
	const struct attn_train_job *j = ctx;
	int S = j->seq, H = j->heads, Dh = j->head_dim, ld = 3 * H * Dh, ldo = H * Dh;
	float scale = 1.0f / sqrtf((float)Dh);
	for (size_t p = t; p < j->batch * (size_t)H; p += nt) {
		size_t b = p / (size_t)H;
		int h = (int)(p % (size_t)H);
		const float *base = j->qkv + b * (size_t)S * ld;
		float *P = j->probs + p * (size_t)S * S;
		trmx_gemm_serial(false, true, S, S, Dh, scale, base + (size_t)h * Dh, ld, base + (size_t)(H + h) * Dh,
				 ld, 0.0f, P, S);
		for (int r = 0; r < S; r++)
			softmax_row(P + (size_t)r * S, S);
		trmx_gemm_serial(false, false, S, Dh, S, 1.0f, P, S, base + (size_t)(2 * H + h) * Dh, ld, 0.0f,
				 j->out + b * (size_t)S * ldo + (size_t)h * Dh, ldo);
	}
}

void trmx_attention_forward_train(float *out, float *probs, const float *qkv, size_t batch, int seq,
				  int heads, int head_dim)
{
	struct attn_train_job j = { .out = out, .probs = probs, .qkv = qkv, .batch = batch, .seq = seq,
				    .heads = heads, .head_dim = head_dim };
	trmx_parallel_threads(4.0 * batch * heads * seq * seq * head_dim, attention_train_pairs, &j);
}

static void attention_bwd_pairs(void *ctx, size_t t, size_t nt, int thread)
{
	const struct attn_train_job *j = ctx;
	int S = j->seq, H = j->heads, Dh = j->head_dim, ld = 3 * H * Dh, ldo = H * Dh;
	float scale = 1.0f / sqrtf((float)Dh);
	float *dP = j->scratch + (size_t)thread * S * S;
	for (size_t p = t; p < j->batch * (size_t)H; p += nt) {
		size_t b = p / (size_t)H;
		int h = (int)(p % (size_t)H);
		const float *base = j->qkv + b * (size_t)S * ld;
		const float *q = base + (size_t)h * Dh, *k = base + (size_t)(H + h) * Dh;
		const float *v = base + (size_t)(2 * H + h) * Dh;
		float *dbase = j->dqkv + b * (size_t)S * ld;
		float *dq = dbase + (size_t)h * Dh, *dk = dbase + (size_t)(H + h) * Dh;
		float *dv = dbase + (size_t)(2 * H + h) * Dh;
		const float *P = j->cprobs + p * (size_t)S * S;
		const float *dctx = j->dout + b * (size_t)S * ldo + (size_t)h * Dh;
		/* dV = P^T dctx;  dP = dctx V^T;  dS = P (dP - rowsum(dP P));  dQ = s dS K;  dK = s dS^T Q */
		trmx_gemm_serial(true, false, S, Dh, S, 1.0f, P, S, dctx, ldo, 0.0f, dv, ld);
		trmx_gemm_serial(false, true, S, S, Dh, 1.0f, dctx, ldo, v, ld, 0.0f, dP, S);
		for (int r = 0; r < S; r++) {
			float *d = dP + (size_t)r * S;
			const float *pr = P + (size_t)r * S;
			double dot = 0;
			for (int c = 0; c < S; c++)
				dot += (double)d[c] * pr[c];
			float m = (float)dot;
			for (int c = 0; c < S; c++)
				d[c] = pr[c] * (d[c] - m);
		}
		trmx_gemm_serial(false, false, S, Dh, S, scale, dP, S, k, ld, 0.0f, dq, ld);
		trmx_gemm_serial(true, false, S, Dh, S, scale, dP, S, q, ld, 0.0f, dk, ld);
	}
}

void trmx_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
			     const float *probs, size_t batch, int seq, int heads, int head_dim)
{
	struct attn_train_job j = { .dqkv = dqkv, .scratch = scratch, .qkv = qkv, .dout = dout, .cprobs = probs,
				    .batch = batch, .seq = seq, .heads = heads, .head_dim = head_dim };
	trmx_parallel_threads(8.0 * batch * heads * seq * seq * head_dim, attention_bwd_pairs, &j);
}

/* ---- transposes and argmax --------------------------------------------------------------- */

struct transpose_job {
	float *out;
	const float *in;
	int rows, cols;
};

/* Units are (matrix, 32-row block) pairs; 32x32 tiles keep both sides in cache. */
static void transpose_blocks(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct transpose_job *j = ctx;
	size_t nrb = ((size_t)j->rows + 31) / 32;
	for (size_t u = lo; u < hi; u++) {
		size_t b = u / nrb;
		int r0 = (int)(u % nrb) * 32;
		int r1 = r0 + 32 < j->rows ? r0 + 32 : j->rows;
		const float *in = j->in + b * (size_t)j->rows * j->cols;
		float *out = j->out + b * (size_t)j->rows * j->cols;
		for (int c0 = 0; c0 < j->cols; c0 += 32) {
			int c1 = c0 + 32 < j->cols ? c0 + 32 : j->cols;
			for (int r = r0; r < r1; r++)
				for (int c = c0; c < c1; c++)
					out[(size_t)c * j->rows + r] = in[(size_t)r * j->cols + c];
		}
	}
}

void trmx_transpose_batched(float *out, const float *in, size_t batch, int rows, int cols)
{
	struct transpose_job j = { out, in, rows, cols };
	trmx_parallel_for(batch * (((size_t)rows + 31) / 32), trmx_grain(32.0 * cols), transpose_blocks, &j);
}

void trmx_argmax_rows(int32_t *idx, const float *x, size_t rows, int cols)
{
	for (size_t r = 0; r < rows; r++) {
		const float *v = x + r * cols;
		int best = 0;
		for (int c = 1; c < cols; c++)
			if (v[c] > v[best])
				best = c;
		idx[r] = best;
	}
}
