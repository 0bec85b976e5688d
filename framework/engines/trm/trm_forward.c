/*
 * trm_forward.c — the TRM network and one ACT step (docs/ENGINE.md, "What is computed"), batched
 * over rows.
 *
 *   x  = sqrt(D) * [puzzle prefix (P slots) ; E[tokens]]          (learned positions: 0.707106781*(e+Wpos))
 *   per ACT step, H_cycles times:  L_cycles x  zL = net(zL + (zH + x));  then  zH = net(zH + zL)
 *   net = L_layers post-norm blocks: h = rms(h + mixer(h)); h = rms(h + SwiGLU(h))
 *   (HRM: the zH update runs its own H_level network of H_layers blocks; attention only)
 *   mixer = attention (RoPE optional) or, for mlp_t, a SwiGLU over the sequence axis of h^T
 *   logits = zH[:, P:] . lm_head^T;  (q_halt, q_continue) = zH[:, 0] . q_w^T + q_b
 *
 * All products through blas.h; elementwise kernels in tensor/kernels.c; no allocation here.
 */
#include <math.h>
#include <string.h>

#include "engines/trm/trm_int.h"
#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

void trmx__trm_embed(const trm_model *m, trm_work *wk, int first, int rows, const int32_t *tokens, const int32_t *puzzle_ids)
{
	const trm_config *c = &m->cfg;
	int S = c->S, D = c->hidden_size, P = c->P;
	float scale = (float)sqrt((double)D);
	unsigned fp = trmx_fpmode_enter();
	for (int r = 0; r < rows; r++) {
		float *x = wk->x + (size_t)(first + r) * S * D;
		const int32_t *tok = tokens + (size_t)r * c->seq_len;
		memset(x, 0, (size_t)P * D * sizeof *x);
		if (c->puzzle_emb_ndim > 0) {
			int32_t id = puzzle_ids ? puzzle_ids[r] : 0;
			memcpy(x, m->w.puzzle_emb + (size_t)id * c->puzzle_emb_ndim,
			       (size_t)c->puzzle_emb_ndim * sizeof *x);
		}
		for (int t = 0; t < c->seq_len; t++)
			memcpy(x + (size_t)(P + t) * D, m->w.embed_tokens + (size_t)tok[t] * D, (size_t)D * sizeof *x);
		if (c->pos_encodings == TRM_POS_LEARNED) {
			const float *pos = m->w.embed_pos;
			for (size_t i = 0; i < (size_t)S * D; i++)
				x[i] = 0.707106781f * (x[i] + pos[i]);
		}
		for (size_t i = 0; i < (size_t)S * D; i++)
			x[i] = scale * x[i];
	}
	trmx_fpmode_leave(fp);
}

void trmx__trm_reset_state(const trm_model *m, trm_work *wk, int first, int rows)
{
	const trm_config *c = &m->cfg;
	size_t D = (size_t)c->hidden_size;
	for (size_t p = (size_t)first * c->S; p < (size_t)(first + rows) * c->S; p++) {
		memcpy(wk->zH + p * D, m->w.H_init, D * sizeof(float));
		memcpy(wk->zL + p * D, m->w.L_init, D * sizeof(float));
	}
}

/* Where one block puts its intermediates. Inference points them all at the shared workspaces
 * (reused, h_mid in place); training points the ones its backward needs at a per-layer cache. */
struct block_io {
	float *h_mid;          /* [R, D] after the mixer's norm */
	float *r1, *r2;        /* rstd of the two norms (training) or NULL */
	float *qkv, *ctx;      /* attention: [R, 3HD] after RoPE, [R, HD] */
	float *probs;          /* attention probabilities [B, H, S, S] (training) or NULL */
	float *T, *gu_t, *act_t, *o_t; /* mlp_t: h^T [B*D, S], [B*D, 2It], [B*D, It], [B*D, S] */
	float *gu, *act, *o;   /* mlp: [R, 2I], [R, I], projection back [R, D] */
};

static struct block_io inference_io(trm_work *wk, float *h)
{
	return (struct block_io){ .h_mid = h,	       .qkv = wk->big1,	   .ctx = wk->big2,
				  .T = wk->tmp,	       .gu_t = wk->big1,   .act_t = wk->big2,
				  .o_t = wk->big1,     .gu = wk->big1,	   .act = wk->big2,
				  .o = wk->tmp };
}

/* One post-norm block: h_out = rms(h_mid + SwiGLU(h_mid)), h_mid = rms(h_in + mixer(h_in)).
 * h_out may be h_in. */
static void block_forward(const trm_model *m, trm_work *wk, const trm_layer_weights *l, const float *h_in,
			  float *h_out, const struct block_io *io, int rows)
{
	const trm_config *c = &m->cfg;
	int S = c->S, D = c->hidden_size, I = c->inter;
	size_t R = (size_t)rows * S;
	float eps = (float)c->rms_norm_eps;
	if (c->mlp_t) {
		/* token mixing: SwiGLU over the sequence axis of h^T, RMSNorm over the sequence */
		int It = c->inter_t, RT = rows * D;
		trmx_transpose_batched(io->T, h_in, (size_t)rows, S, D);
		trmx_gemm(false, true, RT, 2 * It, S, 1.0f, io->T, S, l->mlpt_gu, S, 0.0f, io->gu_t, 2 * It);
		trmx_swiglu_forward(io->act_t, io->gu_t, (size_t)RT, It);
		trmx_gemm(false, true, RT, S, It, 1.0f, io->act_t, It, l->mlpt_d, It, 0.0f, io->o_t, S);
		trmx_add_rmsnorm_forward(io->T, io->r1, io->T, io->o_t, (size_t)RT, S, eps);
		trmx_transpose_batched(io->h_mid, io->T, (size_t)rows, D, S);
	} else {
		int H = c->num_heads, Dh = c->head_dim, HD = H * Dh;
		trmx_gemm(false, true, (int)R, 3 * HD, D, 1.0f, h_in, D, l->qkv, D, 0.0f, io->qkv, 3 * HD);
		if (c->pos_encodings == TRM_POS_ROPE)
			trmx_rope_forward(io->qkv, (size_t)rows, S, H, Dh, 3 * HD, m->rope_cos, m->rope_sin);
		if (io->probs)
			trmx_attention_forward_train(io->ctx, io->probs, io->qkv, (size_t)rows, S, H, Dh);
		else
			trmx_attention_forward(io->ctx, wk->attn_scratch, io->qkv, (size_t)rows, S, H, Dh);
		trmx_gemm(false, true, (int)R, D, HD, 1.0f, io->ctx, HD, l->o, HD, 0.0f, io->o, D);
		trmx_add_rmsnorm_forward(io->h_mid, io->r1, h_in, io->o, R, D, eps);
	}
	trmx_gemm(false, true, (int)R, 2 * I, D, 1.0f, io->h_mid, D, l->gu, D, 0.0f, io->gu, 2 * I);
	trmx_swiglu_forward(io->act, io->gu, R, I);
	trmx_gemm(false, true, (int)R, D, I, 1.0f, io->act, I, l->down, I, 0.0f, io->o, D);
	trmx_add_rmsnorm_forward(h_out, io->r2, io->h_mid, io->o, R, D, eps);
}

void trmx__trm_net_forward(const trm_model *m, trm_work *wk, const trm_layer_weights *layers, int nlayers, float *h,
			   const float *a, const float *b, int rows, trm_net_cache *cache)
{
	const trm_config *c = &m->cfg;
	size_t n = (size_t)rows * c->S * c->hidden_size;
	trmx_add_inject_forward(h, a, b, n);
	if (!cache) {
		struct block_io io = inference_io(wk, h);
		for (int i = 0; i < nlayers; i++)
			block_forward(m, wk, &layers[i], h, h, &io, rows);
		return;
	}
	memcpy(cache->h0, h, n * sizeof *h);
	for (int i = 0; i < nlayers; i++) {
		trm_layer_cache *lc = &cache->layers[i];
		struct block_io io = inference_io(wk, h);
		io.h_mid = lc->h_mid;
		io.r1 = lc->r1;
		io.r2 = lc->r2;
		io.gu = lc->gu;
		if (c->mlp_t) {
			io.gu_t = lc->gu_t;
			io.o_t = wk->tmp2;
		} else {
			io.qkv = lc->qkv;
			io.ctx = lc->ctx;
			io.probs = lc->probs;
		}
		block_forward(m, wk, &layers[i], i ? cache->layers[i - 1].h_out : cache->h0, lc->h_out, &io, rows);
	}
	memcpy(h, cache->layers[nlayers - 1].h_out, n * sizeof *h);
}

struct heads_job {
	const trm_model *m;
	trm_work *wk;
};

static void heads_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct heads_job *j = ctx;
	const trm_config *c = &j->m->cfg;
	int S = c->S, D = c->hidden_size, V = c->vocab_size, L = c->seq_len;
	for (size_t r = lo; r < hi; r++) {
		const float *z = j->wk->zH + r * (size_t)S * D;
		float *logits = j->wk->logits + r * (size_t)L * V;
		trmx_gemm_serial(false, true, L, V, D, 1.0f, z + (size_t)c->P * D, D, j->m->w.lm_head, D, 0.0f,
				 logits, V);
		trmx_argmax_rows(j->wk->preds + r * (size_t)L, logits, (size_t)L, V);
		for (int k = 0; k < 2; k++) {
			const float *w = j->m->w.q_w + (size_t)k * D;
			double s = 0;
			for (int d = 0; d < D; d++)
				s += (double)z[d] * w[d];
			j->wk->q[2 * r + k] = (float)(s + j->m->w.q_b[k]);
		}
	}
}

void trmx__trm_recursion(const trm_model *m, trm_work *wk, int rows, int skip)
{
	const trm_config *c = &m->cfg;
	int nh, todo = c->H_cycles * (c->L_cycles + 1) - skip;
	const trm_layer_weights *hnet = trm_h_net(&m->w, c, &nh);
	for (int hc = 0; hc < c->H_cycles; hc++) {
		for (int lc = 0; lc < c->L_cycles; lc++)
			if (todo-- > 0)
				trmx__trm_net_forward(m, wk, m->w.layers, c->L_layers, wk->zL, wk->zH, wk->x, rows, NULL);
		if (todo-- > 0)
			trmx__trm_net_forward(m, wk, hnet, nh, wk->zH, wk->zL, NULL, rows, NULL);
	}
}

void trmx__trm_act_step(const trm_model *m, trm_work *wk, int rows)
{
	trmx__trm_recursion(m, wk, rows, 0);
	trmx__trm_heads(m, wk, rows);
}

void trmx__trm_heads(const trm_model *m, trm_work *wk, int rows)
{
	const trm_config *c = &m->cfg;
	struct heads_job j = { m, wk };
	trmx_parallel_for((size_t)rows, trmx_grain(2.0 * c->seq_len * c->vocab_size * c->hidden_size), heads_rows, &j);
}
