/*
 * trm_train.c — training for the TRM engine: one parameter buffer, the official initialisation,
 * and one ACT step of training with the official semantics (docs/TRAINING.md, "What one training
 * step does"):
 *
 *   rows that halted take new data and restart from H_init / L_init;
 *   H_cycles - 1 recursions without gradient, then one with it (L_cycles updates of zL, one of zH),
 *   the carry leaves the step detached;
 *   loss = sum over rows of  lm_loss / max(#supervised, 1)  +  0.5 * BCE(q_halt, row all right),
 *   lm_loss the stable-max cross entropy computed in double; gradients of loss / loss_divisor;
 *   halting: at halt_max_steps, or (training ACT) when q_halt > 0, not before the row's
 *   exploration minimum.
 *
 * The backward pass walks the gradient cycle's network applications in reverse from the kept
 * intermediates (trm_net_cache); gradients reach the embeddings through every L update's input
 * injection. Kernels are the <op>_backward partners of the forward kernels (tensor/kernels.h).
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "engines/trm/trm_int.h"
#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

struct trm_train {
	int B;
	trm_tensor_spec *specs; /* the views' names point here */
	float *params, *grads;
	size_t n_params, n_trainable;
	trmx_param_view *views;
	size_t n_views;
	float *puzzle_table, *puzzle_grads;
	trm_weights g;          /* views of the gradients, laid out as the weights */
	trm_work wk;
	trm_net_cache *apps;    /* the trm_grad_updates applications run with gradient */
	trm_layer_cache *layer_caches;
	float *cache_mem;
	float *dz, *dx, *t1, *t2, *t3; /* [B, S, D] */
	float *dlogits;         /* [B, S, V], zero on the puzzle prefix */
	double *row_lm, *row_bce;
	int32_t *steps, *inputs, *labels, *pids, *tok_right, *tok_sup;
	uint8_t *halted, *fresh, *correct;
	float *qh, *qc;          /* this step's Q logits, kept across HRM's target forward */
	float *q_target;         /* HRM: the Q-continue target of each row */
};

static void *zalloc(size_t n, size_t size)
{
	size_t bytes;
	if (!trmx_mul_size(n ? n : 1, size, &bytes) || !trmx_add_size(bytes, 63, &bytes))
		return NULL;
	void *p = aligned_alloc(64, bytes / 64 * 64);
	if (p)
		memset(p, 0, bytes / 64 * 64);
	return p;
}

void trmx__trm_train_free(trm_train *t)
{
	if (!t)
		return;
	free(t->specs), free(t->g.layers), free(t->g.hlayers);
	free(t->params), free(t->grads), free(t->views), free(t->puzzle_table), free(t->puzzle_grads);
	trmx__trm_work_free(&t->wk);
	free(t->apps), free(t->layer_caches), free(t->cache_mem);
	free(t->dz), free(t->dx), free(t->t1), free(t->t2), free(t->t3), free(t->dlogits);
	free(t->row_lm), free(t->row_bce);
	free(t->steps), free(t->inputs), free(t->labels), free(t->pids), free(t->tok_right), free(t->tok_sup);
	free(t->halted), free(t->fresh), free(t->correct), free(t->qh), free(t->qc), free(t->q_target);
	free(t);
}

/* Floats of one layer's cache for B rows, and the pointers into `mem` when it is non-NULL. */
static size_t layer_cache_layout(const trm_config *c, int B, float *mem, trm_layer_cache *lc)
{
	size_t S = (size_t)c->S, D = (size_t)c->hidden_size, R = (size_t)B * S;
	size_t HD = (size_t)c->num_heads * c->head_dim, n = 0;
#define TAKE(field, count)                 \
	do {                               \
		if (mem)                   \
			lc->field = mem + n; \
		n += (count + 15) / 16 * 16; \
	} while (0)
	TAKE(h_mid, R * D);
	TAKE(h_out, R * D);
	TAKE(r1, c->mlp_t ? (size_t)B * D : R);
	TAKE(r2, R);
	TAKE(gu, R * 2 * (size_t)c->inter);
	if (c->mlp_t) {
		TAKE(gu_t, (size_t)B * D * 2 * (size_t)c->inter_t);
	} else {
		TAKE(qkv, R * 3 * HD);
		TAKE(ctx, R * HD);
		TAKE(probs, (size_t)B * c->num_heads * S * S);
	}
#undef TAKE
	return n;
}

/* Point the weight views at params (and the gradient views at grads) in view order. */
static void bind_views(trm_model *m, trm_train *t)
{
	for (size_t i = 0; i < t->n_views; i++) {
		const trmx_param_view *v = &t->views[i];
		*trmx__trm_weight_slot(&m->w, &m->cfg, v->name) = t->params + v->offset;
		if (v->trainable) /* gradient views are written through casts: the buffer is ours */
			*trmx__trm_weight_slot(&t->g, &m->cfg, v->name) = t->grads + v->offset;
	}
	if (t->puzzle_table)
		m->w.puzzle_emb = t->puzzle_table;
}

int trmx__trm_train_begin(void *state, int batch, trmx_train_state *out, trmx_error *err)
{
	trm_model *m = state;
	const trm_config *c = &m->cfg;
	if (m->train)
		return trmx_error_set(err, TRMX_EINVAL, "trm engine: training has already begun");
	if (batch < 1 || batch > TRMX_SOLVE_BATCH_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "trm engine: training batch %d is outside [1, %d]", batch,
				      TRMX_SOLVE_BATCH_MAX);
	trm_train *t = calloc(1, sizeof *t);
	size_t nspec = trmx__trm_tensor_specs(c, NULL);
	int rc = 0;
	if (!t || !(t->specs = calloc(nspec, sizeof *t->specs)))
		goto nomem;
	trm_tensor_spec *specs = t->specs;
	t->B = batch;
	trmx__trm_tensor_specs(c, specs);
	t->views = calloc(nspec, sizeof *t->views);
	if (!t->views || !(t->g.layers = calloc((size_t)c->L_layers, sizeof *t->g.layers)) ||
	    (c->hrm && !(t->g.hlayers = calloc((size_t)c->H_layers, sizeof *t->g.hlayers))))
		goto nomem;
	/* trainable tensors first, then the buffers (H_init, L_init); the puzzle table apart */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < nspec; i++) {
			const trm_tensor_spec *s = &specs[i];
			if (!strcmp(s->name, "puzzle_emb.weights") || s->trainable != (pass == 0))
				continue;
			trmx_param_view *v = &t->views[t->n_views++];
			v->name = s->name;
			v->ndim = s->ndim;
			v->shape[0] = s->shape[0];
			v->shape[1] = s->ndim == 2 ? s->shape[1] : 0;
			v->numel = (size_t)s->shape[0] * (s->ndim == 2 ? (size_t)s->shape[1] : 1);
			v->offset = t->n_params;
			v->trainable = s->trainable;
			t->n_params += (v->numel + 15) / 16 * 16;
			if (pass == 0)
				t->n_trainable = t->n_params;
		}
	}
	size_t S = (size_t)c->S, D = (size_t)c->hidden_size, R = (size_t)batch * S, L = (size_t)c->seq_len;
	t->params = zalloc(t->n_params, sizeof(float));
	t->grads = zalloc(t->n_trainable, sizeof(float));
	if (!t->params || !t->grads)
		goto nomem;
	if (c->puzzle_emb_ndim > 0) {
		t->puzzle_table = zalloc((size_t)c->num_puzzle_identifiers * c->puzzle_emb_ndim, sizeof(float));
		t->puzzle_grads = zalloc((size_t)batch * c->puzzle_emb_ndim, sizeof(float));
		if (!t->puzzle_table || !t->puzzle_grads)
			goto nomem;
	}
	/* copy the current weights in (none when opened without weights) */
	if (m->w.lm_head) {
		for (size_t i = 0; i < t->n_views; i++)
			memcpy(t->params + t->views[i].offset, *trmx__trm_weight_slot(&m->w, c, t->views[i].name),
			       t->views[i].numel * sizeof(float));
		if (t->puzzle_table)
			memcpy(t->puzzle_table, m->w.puzzle_emb,
			       (size_t)c->num_puzzle_identifiers * c->puzzle_emb_ndim * sizeof(float));
	}
	if ((rc = trmx__trm_work_init(&t->wk, m, batch, true, err)) < 0)
		goto fail;
	/* caches for the updates run with gradient: zL ones (L_layers blocks), then the zH one */
	int apps = trm_grad_updates(c), nh;
	trm_h_net(&m->w, c, &nh);
	size_t blocks = (size_t)(apps - 1) * c->L_layers + (size_t)nh;
	size_t per_layer = layer_cache_layout(c, batch, NULL, NULL);
	size_t h0 = (R * D + 15) / 16 * 16, floats = (size_t)apps * h0 + blocks * per_layer;
	t->apps = calloc((size_t)apps, sizeof *t->apps);
	t->layer_caches = calloc(blocks, sizeof *t->layer_caches);
	t->cache_mem = zalloc(floats, sizeof(float));
	if (!t->apps || !t->layer_caches || !t->cache_mem) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for the training caches of %d rows (%zu MB)",
				    batch, floats * 4 >> 20);
		goto fail;
	}
	float *p = t->cache_mem;
	trm_layer_cache *lc = t->layer_caches;
	for (int a = 0; a < apps; a++) {
		int n = a == apps - 1 ? nh : c->L_layers;
		t->apps[a].h0 = p;
		p += h0;
		t->apps[a].layers = lc;
		for (int l = 0; l < n; l++)
			p += layer_cache_layout(c, batch, p, lc++);
	}
	t->dz = zalloc(R * D, 4), t->dx = zalloc(R * D, 4);
	t->t1 = zalloc(R * D, 4), t->t2 = zalloc(R * D, 4), t->t3 = zalloc(R * D, 4);
	t->dlogits = zalloc(R * (size_t)c->vocab_size, 4);
	t->row_lm = zalloc((size_t)batch, 8), t->row_bce = zalloc((size_t)batch, 8);
	t->steps = zalloc((size_t)batch, 4), t->pids = zalloc((size_t)batch, 4);
	t->inputs = zalloc((size_t)batch * L, 4), t->labels = zalloc((size_t)batch * L, 4);
	t->tok_right = zalloc((size_t)batch, 4), t->tok_sup = zalloc((size_t)batch, 4);
	t->halted = zalloc((size_t)batch, 1), t->fresh = zalloc((size_t)batch, 1);
	t->correct = zalloc((size_t)batch, 1), t->qh = zalloc((size_t)batch, 4), t->qc = zalloc((size_t)batch, 4);
	t->q_target = zalloc((size_t)batch, 4);
	if (!t->dz || !t->dx || !t->t1 || !t->t2 || !t->t3 || !t->dlogits || !t->row_lm || !t->row_bce ||
	    !t->steps || !t->pids || !t->inputs || !t->labels || !t->tok_right || !t->tok_sup || !t->halted ||
	    !t->fresh || !t->correct || !t->qh || !t->qc || !t->q_target)
		goto nomem;
	memset(t->halted, 1, (size_t)batch);
	for (int i = 0; i < batch * c->seq_len; i++)
		t->labels[i] = -100;

	bind_views(m, t);
	m->train = t;
	*out = (trmx_train_state){ .batch = batch,
				   .seq_len = c->seq_len,
				   .vocab_size = c->vocab_size,
				   .halt_max_steps = c->halt_max_steps,
				   .params = t->params,
				   .n_params = t->n_params,
				   .n_trainable = t->n_trainable,
				   .grads = t->grads,
				   .views = t->views,
				   .n_views = t->n_views,
				   .puzzle_table = t->puzzle_table,
				   .puzzle_rows = t->puzzle_table ? c->num_puzzle_identifiers : 0,
				   .puzzle_dim = c->puzzle_emb_ndim,
				   .puzzle_grads = t->puzzle_grads,
				   .carry = t->wk.zH,
				   .carry_floats = 2 * R * D,
				   .carry_steps = t->steps,
				   .carry_halted = t->halted,
				   .carry_inputs = t->inputs,
				   .carry_labels = t->labels,
				   .carry_puzzle_ids = t->pids };
	return 0;
nomem:
	rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory beginning training for %d rows", batch);
fail:
	trmx__trm_train_free(t);
	return rc;
}

/* ---- the official initialisation ----------------------------------------------------------- */

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* JAX-style truncated normal (the official initialisation): a normal truncated at +-2 raw standard deviations,
 * rescaled so its standard deviation is `std`. Rejection sampling draws the same distribution as
 * the official inverse-CDF method. */
static void trunc_normal(float *dst, size_t n, double std, uint64_t *s)
{
	const double c = std / sqrt(0.77374130);
	for (size_t i = 0; i < n; i++) {
		double z;
		do {
			double u1 = ((double)(splitmix(s) >> 11) + 0.5) * 0x1.0p-53;
			double u2 = (double)(splitmix(s) >> 11) * 0x1.0p-53;
			z = sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
		} while (fabs(z) > 2.0);
		dst[i] = (float)(z * c);
	}
}

int trmx__trm_init_weights(void *state, uint64_t seed, trmx_error *err)
{
	trm_model *m = state;
	trm_train *t = m->train;
	if (!t)
		return trmx_error_set(err, TRMX_EINVAL, "trm engine: init_weights needs train_begin first");
	size_t nspec = trmx__trm_tensor_specs(&m->cfg, NULL);
	trm_tensor_spec *specs = calloc(nspec, sizeof *specs);
	if (!specs)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	trmx__trm_tensor_specs(&m->cfg, specs);
	uint64_t s = seed;
	for (size_t i = 0; i < nspec; i++) {
		const char *name = specs[i].name;
		size_t numel = (size_t)specs[i].shape[0] * (specs[i].ndim == 2 ? (size_t)specs[i].shape[1] : 1);
		if (!strcmp(name, "puzzle_emb.weights")) {
			memset(t->puzzle_table, 0, numel * sizeof(float)); /* zero, as the official init */
			continue;
		}
		float *dst = (float *)*trmx__trm_weight_slot(&m->w, &m->cfg, name);
		if (!strcmp(name, "q_head.weight")) {
			memset(dst, 0, numel * sizeof(float)); /* "almost zero" Q for bootstrapping */
		} else if (!strcmp(name, "q_head.bias")) {
			for (size_t k = 0; k < numel; k++)
				dst[k] = -5.0f;
		} else {
			trunc_normal(dst, numel, specs[i].std, &s);
		}
	}
	free(specs);
	return 0;
}

/* ---- loss ------------------------------------------------------------------------------------ */

struct loss_job {
	const trm_model *m;
	trm_train *t;
	float scale; /* 1 / loss_divisor */
};

/* Binary cross entropy with logits, stable for any q. */
static double bce_logits(double q, double target)
{
	return (q > 0 ? q : 0) - q * target + log1p(exp(-fabs(q)));
}

static double sigmoid(double q)
{
	return 1.0 / (1.0 + exp(-q));
}

static inline double stablemax_s(double x)
{
	return x >= 0 ? x + 1 : 1 / (1 - x + 1e-30);
}

/* Stable-max cross entropy in double (s(x) = x + 1 for x >= 0, 1 / (1 - x + 1e-30) below) with
 * its gradient, the row's exactness and the Q-halt BCE, one row at a time. */
static void loss_rows(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct loss_job *j = ctx;
	const trm_config *c = &j->m->cfg;
	trm_train *t = j->t;
	int L = c->seq_len, V = c->vocab_size, P = c->P;
	for (size_t r = lo; r < hi; r++) {
		const int32_t *lab = t->labels + r * L, *pred = t->wk.preds + r * L;
		int cnt = 0, right = 0;
		for (int i = 0; i < L; i++)
			if (lab[i] != -100) {
				cnt++;
				right += pred[i] == lab[i];
			}
		double div = cnt > 1 ? cnt : 1, lm = 0;
		float *dl = t->dlogits + (r * (size_t)c->S + P) * V;
		for (int i = 0; i < L; i++, dl += V) {
			const float *x = t->wk.logits + (r * L + (size_t)i) * V;
			if (lab[i] == -100) {
				memset(dl, 0, (size_t)V * sizeof *dl);
				continue;
			}
			double sum = 0;
			for (int v = 0; v < V; v++)
				sum += stablemax_s(x[v]);
			int y = lab[i];
			double sy = stablemax_s(x[y]);
			lm -= log(sy / sum);
			for (int v = 0; v < V; v++) {
				double xv = x[v];
				double ds = xv >= 0 ? 1.0 : 1.0 / ((1 - xv + 1e-30) * (1 - xv + 1e-30));
				double g = ds / sum - (v == y ? ds / sy : 0.0);
				dl[v] = (float)(g / div * j->scale);
			}
		}
		t->row_lm[r] = lm / div;
		t->tok_right[r] = right;
		t->tok_sup[r] = cnt;
		t->correct[r] = right == cnt;
		double q = t->wk.q[2 * r], target = t->correct[r];
		t->row_bce[r] = bce_logits(q, target);
		t->qh[r] = (float)q;
		t->qc[r] = t->wk.q[2 * r + 1];
	}
}

/* ---- backward -------------------------------------------------------------------------------- */

/* dh: gradient of the block's output in, of its input out. */
static void block_backward(const trm_model *m, trm_train *t, const trm_layer_weights *w, trm_layer_weights *g,
			   const trm_layer_cache *lc, const float *h_in, float *dh, int rows)
{
	const trm_config *c = &m->cfg;
	int S = c->S, D = c->hidden_size, I = c->inter, R = rows * S;
	float *big1 = t->wk.big1, *big2 = t->wk.big2, *dmid = t->t1;

	/* h_out = rms(h_mid + down(swiglu(gate_up(h_mid)))) */
	trmx_rmsnorm_backward(dmid, dh, lc->h_out, lc->r2, (size_t)R, D);
	trmx_gemm(false, false, R, I, D, 1.0f, dmid, D, w->down, I, 0.0f, big2, I);
	trmx_swiglu_forward(big1, lc->gu, (size_t)R, I);
	trmx_gemm(true, false, D, I, R, 1.0f, dmid, D, big1, I, 1.0f, (float *)g->down, I);
	trmx_swiglu_backward(big1, big2, lc->gu, (size_t)R, I);
	trmx_gemm(false, false, R, D, 2 * I, 1.0f, big1, 2 * I, w->gu, D, 1.0f, dmid, D);
	trmx_gemm(true, false, 2 * I, D, R, 1.0f, big1, 2 * I, lc->h_mid, D, 1.0f, (float *)g->gu, D);

	if (c->mlp_t) {
		/* h_mid^T = rms_S(T + down_t(swiglu(gate_up_t(T)))), T = h_in^T */
		int It = c->inter_t, RT = rows * D;
		float *dT = t->t2, *T = t->t3;
		trmx_transpose_batched(dT, dmid, (size_t)rows, S, D);
		trmx_transpose_batched(T, lc->h_mid, (size_t)rows, S, D);
		trmx_rmsnorm_backward(dT, dT, T, lc->r1, (size_t)RT, S);
		trmx_gemm(false, false, RT, It, S, 1.0f, dT, S, w->mlpt_d, It, 0.0f, big2, It);
		trmx_swiglu_forward(big1, lc->gu_t, (size_t)RT, It);
		trmx_gemm(true, false, S, It, RT, 1.0f, dT, S, big1, It, 1.0f, (float *)g->mlpt_d, It);
		trmx_swiglu_backward(big1, big2, lc->gu_t, (size_t)RT, It);
		trmx_gemm(false, false, RT, S, 2 * It, 1.0f, big1, 2 * It, w->mlpt_gu, S, 1.0f, dT, S);
		trmx_transpose_batched(T, h_in, (size_t)rows, S, D);
		trmx_gemm(true, false, 2 * It, S, RT, 1.0f, big1, 2 * It, T, S, 1.0f, (float *)g->mlpt_gu, S);
		trmx_transpose_batched(dh, dT, (size_t)rows, D, S);
	} else {
		/* h_mid = rms(h_in + o(attention(rope(qkv(h_in))))) */
		int H = c->num_heads, Dh = c->head_dim, HD = H * Dh;
		float *du = t->t2;
		trmx_rmsnorm_backward(du, dmid, lc->h_mid, lc->r1, (size_t)R, D);
		trmx_gemm(false, false, R, HD, D, 1.0f, du, D, w->o, HD, 0.0f, big2, HD);
		trmx_gemm(true, false, D, HD, R, 1.0f, du, D, lc->ctx, HD, 1.0f, (float *)g->o, HD);
		trmx_attention_backward(big1, t->wk.attn_scratch, big2, lc->qkv, lc->probs, (size_t)rows, S, H, Dh);
		if (c->pos_encodings == TRM_POS_ROPE)
			trmx_rope_backward(big1, (size_t)rows, S, H, Dh, 3 * HD, m->rope_cos, m->rope_sin);
		memcpy(dh, du, (size_t)R * D * sizeof *dh);
		trmx_gemm(false, false, R, D, 3 * HD, 1.0f, big1, 3 * HD, w->qkv, D, 1.0f, dh, D);
		trmx_gemm(true, false, 3 * HD, D, R, 1.0f, big1, 3 * HD, h_in, D, 1.0f, (float *)g->qkv, D);
	}
}

/* dh: gradient of the network's output in, of its input (state + injection) out. The zH update
 * (`h_update`) runs the H network (HRM's H_level; TRM's one network). */
static void net_backward(const trm_model *m, trm_train *t, const trm_net_cache *nc, bool h_update, float *dh,
			 int rows)
{
	const trm_config *c = &m->cfg;
	int n = c->L_layers;
	const trm_layer_weights *w = h_update ? trm_h_net(&m->w, c, &n) : m->w.layers;
	trm_layer_weights *g = h_update && c->hrm ? t->g.hlayers : t->g.layers;
	for (int i = n - 1; i >= 0; i--)
		block_backward(m, t, &w[i], &g[i], &nc->layers[i], i ? nc->layers[i - 1].h_out : nc->h0, dh, rows);
}

/* Gradients of the LM and Q heads, and the gradient of zH into t->dz. */
static void heads_backward(const trm_model *m, trm_train *t, float scale)
{
	const trm_config *c = &m->cfg;
	int B = t->B, S = c->S, D = c->hidden_size, V = c->vocab_size, R = B * S;
	const float *zH = t->wk.zH;
	trmx_gemm(true, false, V, D, R, 1.0f, t->dlogits, V, zH, D, 1.0f, (float *)t->g.lm_head, D);
	trmx_gemm(false, false, R, D, V, 1.0f, t->dlogits, V, m->w.lm_head, D, 0.0f, t->dz, D);
	float *gq = (float *)t->g.q_w, *gb = (float *)t->g.q_b;
	for (int r = 0; r < B; r++) {
		/* q_halt's BCE against "all right"; q_continue's against HRM's target (TRM: no loss) */
		float dq[2] = { (float)(0.5 * (sigmoid(t->qh[r]) - t->correct[r]) * scale),
				c->hrm ? (float)(0.5 * (sigmoid(t->qc[r]) - t->q_target[r]) * scale) : 0.0f };
		const float *z = zH + (size_t)r * S * D;
		float *dz = t->dz + (size_t)r * S * D;
		for (int k = 0; k < 2; k++) {
			for (int d = 0; d < D; d++) {
				gq[(size_t)k * D + d] += dq[k] * z[d];
				dz[d] += dq[k] * m->w.q_w[(size_t)k * D + d];
			}
			gb[k] += dq[k];
		}
	}
}

/* x = sqrt(D) * e, e = [puzzle prefix ; E[tokens]] (learned: 0.707106781 * (e + pos)). */
static void embed_backward(const trm_model *m, trm_train *t)
{
	const trm_config *c = &m->cfg;
	int B = t->B, S = c->S, D = c->hidden_size, P = c->P;
	float scale = (float)sqrt((double)D);
	float *de = t->dx;
	for (size_t i = 0; i < (size_t)B * S * D; i++)
		de[i] *= scale;
	if (c->pos_encodings == TRM_POS_LEARNED) {
		float *gp = (float *)t->g.embed_pos;
		for (int r = 0; r < B; r++)
			for (size_t i = 0; i < (size_t)S * D; i++) {
				de[(size_t)r * S * D + i] *= 0.707106781f;
				gp[i] += de[(size_t)r * S * D + i];
			}
	}
	float *ge = (float *)t->g.embed_tokens;
	for (int r = 0; r < B; r++) {
		const float *row = de + (size_t)r * S * D;
		for (int i = 0; i < c->seq_len; i++) {
			float *dst = ge + (size_t)t->inputs[(size_t)r * c->seq_len + i] * D;
			const float *src = row + (size_t)(P + i) * D;
			for (int d = 0; d < D; d++)
				dst[d] += src[d];
		}
		if (t->puzzle_grads)
			memcpy(t->puzzle_grads + (size_t)r * c->puzzle_emb_ndim, row,
			       (size_t)c->puzzle_emb_ndim * sizeof(float));
	}
}

/* HRM's Q-learning target: one more ACT step without gradient from the new carry gives
 * (q_halt', q_continue'); target = sigmoid(q_halt') at the row's last step, else
 * sigmoid(max(q_halt', q_continue')). Returns the summed BCE of q_continue against it. The carry
 * is copied, so the step's own state is untouched; the step's Q logits were saved in qh / qc. */
static double q_continue_target(const trm_model *m, trm_train *t)
{
	const trm_config *c = &m->cfg;
	trm_work *wk = &t->wk;
	size_t n = (size_t)t->B * c->S * c->hidden_size;
	if (c->halt_max_steps <= 1) { /* the official code computes no target then */
		memcpy(t->q_target, t->qc, (size_t)t->B * sizeof(float));
		return 0;
	}
	float *zH = wk->zH, *zL = wk->zL;
	memcpy(t->t1, zH, n * sizeof(float));
	memcpy(t->t2, zL, n * sizeof(float));
	wk->zH = t->t1, wk->zL = t->t2;
	trmx__trm_act_step(m, wk, t->B);
	wk->zH = zH, wk->zL = zL;
	double loss = 0;
	for (int r = 0; r < t->B; r++) {
		double nh = wk->q[2 * r], nc = wk->q[2 * r + 1];
		bool last = t->steps[r] + 1 >= c->halt_max_steps;
		t->q_target[r] = (float)sigmoid(last ? nh : (nh > nc ? nh : nc));
		loss += bce_logits(t->qc[r], t->q_target[r]);
	}
	return loss;
}

static int check_batch(const trm_model *m, const trm_train *t, const trmx_train_batch *b, trmx_error *err)
{
	const trm_config *c = &m->cfg;
	if (!b || b->struct_size < sizeof *b)
		return trmx_error_set(err, TRMX_EVERSION, "trm engine: training batch struct too small");
	if (!b->inputs || !b->labels)
		return trmx_error_set(err, TRMX_EINVAL, "trm engine: training batch without inputs or labels");
	if (!(b->loss_divisor > 0))
		return trmx_error_set(err, TRMX_EINVAL, "trm engine: loss divisor must be positive");
	for (int r = 0; r < t->B; r++) {
		if (!t->halted[r])
			continue; /* this row keeps its data */
		for (int i = 0; i < c->seq_len; i++) {
			int32_t x = b->inputs[(size_t)r * c->seq_len + i], y = b->labels[(size_t)r * c->seq_len + i];
			if (x < 0 || x >= c->vocab_size)
				return trmx_error_set(err, TRMX_EINVAL, "training batch row %d, position %d: token %d is outside [0, %d)",
						      r, i, x, c->vocab_size);
			if (y != -100 && (y < 0 || y >= c->vocab_size))
				return trmx_error_set(err, TRMX_EINVAL, "training batch row %d, position %d: label %d is outside [0, %d) and not -100",
						      r, i, y, c->vocab_size);
		}
		if (b->puzzle_ids && (b->puzzle_ids[r] < 0 || b->puzzle_ids[r] >= c->num_puzzle_identifiers))
			return trmx_error_set(err, TRMX_EINVAL, "training batch row %d: puzzle id %d is outside [0, %d)", r,
					      b->puzzle_ids[r], c->num_puzzle_identifiers);
	}
	return 0;
}

int trmx__trm_train_step(void *state, const trmx_train_batch *b, trmx_train_result *out, trmx_error *err)
{
	trm_model *m = state;
	trm_train *t = m->train;
	if (!t)
		return trmx_error_set(err, TRMX_EINVAL, "trm engine: train_step needs train_begin first");
	int rc = check_batch(m, t, b, err);
	if (rc < 0)
		return rc;
	const trm_config *c = &m->cfg;
	trm_work *wk = &t->wk;
	int B = t->B, L = c->seq_len, S = c->S, D = c->hidden_size;
	size_t R = (size_t)B * S;

	/* rows that halted take new data and restart */
	for (int r = 0; r < B; r++) {
		t->fresh[r] = t->halted[r];
		if (!t->halted[r])
			continue;
		memcpy(t->inputs + (size_t)r * L, b->inputs + (size_t)r * L, (size_t)L * sizeof(int32_t));
		memcpy(t->labels + (size_t)r * L, b->labels + (size_t)r * L, (size_t)L * sizeof(int32_t));
		t->pids[r] = b->puzzle_ids ? b->puzzle_ids[r] : 0;
		t->steps[r] = 0;
		trmx__trm_reset_state(m, wk, r, 1);
	}
	trmx__trm_embed(m, wk, 0, B, t->inputs, t->pids);

	/* forward: the recursion without gradient, then its last updates again with their caches
	 * (zL ones, then the zH one); zH before them enters only as a constant injection */
	int G = trm_grad_updates(c), nh;
	const trm_layer_weights *hnet = trm_h_net(&m->w, c, &nh);
	trmx__trm_recursion(m, wk, B, G);
	for (int a = 0; a < G - 1; a++)
		trmx__trm_net_forward(m, wk, m->w.layers, c->L_layers, wk->zL, wk->zH, wk->x, B, &t->apps[a]);
	trmx__trm_net_forward(m, wk, hnet, nh, wk->zH, wk->zL, NULL, B, &t->apps[G - 1]);
	trmx__trm_heads(m, wk, B);

	/* loss */
	float scale = 1.0f / b->loss_divisor;
	struct loss_job lj = { m, t, scale };
	memset(t->dlogits, 0, R * c->vocab_size * sizeof(float));
	trmx_parallel_for((size_t)B, trmx_grain(4.0 * c->seq_len * c->vocab_size), loss_rows, &lj);
	double q_continue_loss = c->hrm ? q_continue_target(m, t) : 0;

	/* backward */
	memset(t->grads, 0, t->n_trainable * sizeof(float));
	heads_backward(m, t, scale);
	net_backward(m, t, &t->apps[G - 1], true, t->dz, B); /* dz = d(zH0 + zL): the last zL's gradient */
	memset(t->dx, 0, R * D * sizeof(float));
	for (int a = G - 2; a >= 0; a--) {
		net_backward(m, t, &t->apps[a], false, t->dz, B); /* d(zL + (zH0 + x)) */
		trmx_add_inject_forward(t->dx, t->dz, NULL, R * D);
	}
	embed_backward(m, t);

	/* halting */
	double lm = 0, bce = 0;
	for (int r = 0; r < B; r++) {
		int s = ++t->steps[r];
		bool halt = s >= c->halt_max_steps;
		if (b->act_halting && c->halt_max_steps > 1) {
			halt = halt || (c->hrm ? t->qh[r] > t->qc[r] : t->qh[r] > 0.0f);
			if (b->explore_u && b->explore_u[r] < b->explore_prob)
				halt = halt && s >= b->explore_steps[r];
		}
		t->halted[r] = halt;
		lm += t->row_lm[r];
		bce += t->row_bce[r];
	}
	*out = (trmx_train_result){ .loss = lm + 0.5 * (bce + q_continue_loss),
				    .lm_loss = lm,
				    .q_halt_loss = bce,
				    .fresh = t->fresh,
				    .halted = t->halted,
				    .correct = t->correct,
				    .steps = t->steps,
				    .tokens_right = t->tok_right,
				    .tokens_supervised = t->tok_sup,
				    .q_halt = t->qh };
	return 0;
}
