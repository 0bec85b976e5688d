/*
 * kernels.h — the forward kernels of the recursive reasoning models (fp32, row-major).
 *
 * Each kernel states its shapes. Kernels run on the kernel threads (parallel.h) unless their name
 * ends in _serial. Backward kernels join them in pairs (<op>_forward / <op>_backward) with the
 * trainer. The *_ref variants are plain loops kept as references for the tests.
 */
#ifndef TRMX_KERNELS_H
#define TRMX_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* h[i] = h[i] + (a[i] + b[i]) over n elements (b may be NULL: h += a). The official input
 * injection adds z_H + x first, then the state; the order is kept for rounding. */
void trmx_add_inject_forward(float *h, const float *a, const float *b, size_t n);

/* out[r, :] = rms(a[r, :] + b[r, :]) over `dim`: v / sqrt(mean(v^2) + eps), no weight.
 * a, b, out: [rows, dim]; out may alias a or b; b may be NULL (plain RMSNorm).
 * rstd: [rows] 1/sqrt(mean(v^2)+eps) saved for the backward pass, or NULL. */
void trmx_add_rmsnorm_forward(float *out, float *rstd, const float *a, const float *b, size_t rows,
			      int dim, float eps);

/* SwiGLU activation: out[r, j] = silu(gu[r, j]) * gu[r, inter + j].
 * gu: [rows, 2*inter] (gate half first, up half second, as the official chunk(2)); out: [rows, inter]. */
void trmx_swiglu_forward(float *out, const float *gu, size_t rows, int inter);

/* RoPE tables in float32 exactly as the official RotaryEmbedding builds them.
 * cos, sin: [seq, head_dim]; head_dim even. */
void trmx_rope_tables(float *cos_t, float *sin_t, int seq, int head_dim, float theta);

/* Rotate q and k of every head in place ("rotate_half", pairs (i, i + head_dim/2)).
 * qkv: [batch*seq, row_stride]; q of head h at column h*head_dim, k at (heads + h)*head_dim. */
void trmx_rope_forward(float *qkv, size_t batch, int seq, int heads, int head_dim, int row_stride,
		       const float *cos_t, const float *sin_t);

/* Non-causal multi-head attention, no mask: out = softmax(q k^T / sqrt(head_dim)) v per head.
 * qkv: [batch*seq, 3*heads*head_dim] (q heads, k heads, v heads); out: [batch*seq, heads*head_dim]
 * (head-major concatenation). scratch: trmx_attention_scratch_floats() floats. */
size_t trmx_attention_scratch_floats(int seq, int threads);
void trmx_attention_forward(float *out, float *scratch, const float *qkv, size_t batch, int seq,
			    int heads, int head_dim);
void trmx_attention_forward_ref(float *out, const float *qkv, size_t batch, int seq, int heads,
				int head_dim);

/* out[b][c][r] = in[b][r][c] for each of `batch` matrices [rows, cols]. */
void trmx_transpose_batched(float *out, const float *in, size_t batch, int rows, int cols);

/* idx[r] = first index of the maximum of x[r, 0..cols). x: [rows, cols]. */
void trmx_argmax_rows(int32_t *idx, const float *x, size_t rows, int cols);

/* ---- backward kernels (training) ---------------------------------------------------------- */

/* Backward of out = rms(v), v = a + b: given dout and the saved out and rstd,
 * dv = rstd * (dout - out * mean(dout * out)). dv may alias dout. Written, not accumulated. */
void trmx_rmsnorm_backward(float *dv, const float *dout, const float *out, const float *rstd, size_t rows,
			   int dim);

/* Backward of trmx_swiglu_forward: dgu[r, :inter] (gate) and dgu[r, inter:] (up) from dact.
 * Written, not accumulated. */
void trmx_swiglu_backward(float *dgu, const float *dact, const float *gu, size_t rows, int inter);

/* Backward of trmx_rope_forward on the gradient of q and k in place (the rotation's transpose). */
void trmx_rope_backward(float *dqkv, size_t batch, int seq, int heads, int head_dim, int row_stride,
			const float *cos_t, const float *sin_t);

/* Attention with its probabilities kept: probs [batch, heads, seq, seq]. */
void trmx_attention_forward_train(float *out, float *probs, const float *qkv, size_t batch, int seq,
				  int heads, int head_dim);
/* Backward: dqkv [batch*seq, 3*heads*head_dim] written (q, k, v parts) from dout
 * [batch*seq, heads*head_dim], the forward's qkv (after RoPE) and probs. scratch:
 * trmx_attention_scratch_floats() floats. */
void trmx_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv,
			     const float *probs, size_t batch, int seq, int heads, int head_dim);

/* A vectorisable expf, max relative error ~2 ulp on [-87, 88]; clamps outside. */
float trmx_expf(float x);

#endif
