/*
 * trm_engine.c — the TRM engine behind the engine ABI: open (architecture + every tensor checked),
 * workspaces, and solve with fixed or adaptive halting and continuous batching.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/trm/trm_int.h"
#include "tensor/blas.h"
#include "tensor/kernels.h"
#include "tensor/parallel.h"

#define TRM_ENGINE_VERSION "1.0.0"

static void *alloc_floats(size_t n)
{
	size_t bytes;
	if (!trmx_mul_size(n ? n : 1, sizeof(float), &bytes) || !trmx_add_size(bytes, 63, &bytes))
		return NULL;
	void *p = aligned_alloc(64, bytes / 64 * 64);
	if (p)
		memset(p, 0, bytes / 64 * 64);
	return p;
}

const float **trmx__trm_weight_slot(trm_weights *w, const trm_config *cfg, const char *name)
{
	if (!strcmp(name, "H_init")) return &w->H_init;
	if (!strcmp(name, "L_init")) return &w->L_init;
	if (!strcmp(name, "embed_tokens.embedding_weight")) return &w->embed_tokens;
	if (!strcmp(name, "lm_head.weight")) return &w->lm_head;
	if (!strcmp(name, "q_head.weight")) return &w->q_w;
	if (!strcmp(name, "q_head.bias")) return &w->q_b;
	if (!strcmp(name, "puzzle_emb.weights")) return &w->puzzle_emb;
	if (!strcmp(name, "embed_pos.embedding_weight")) return &w->embed_pos;
	int i, len = 0;
	trm_layer_weights *l = NULL;
	if (sscanf(name, "L_level.layers.%d.%n", &i, &len) == 1 && len > 0 && i >= 0 && i < cfg->L_layers)
		l = &w->layers[i];
	else if (cfg->hrm && sscanf(name, "H_level.layers.%d.%n", &i, &len) == 1 && len > 0 && i >= 0 &&
		 i < cfg->H_layers)
		l = &w->hlayers[i];
	if (l) {
		const char *rest = name + len;
		if (!strcmp(rest, "self_attn.qkv_proj.weight")) return &l->qkv;
		if (!strcmp(rest, "self_attn.o_proj.weight")) return &l->o;
		if (!strcmp(rest, "mlp_t.gate_up_proj.weight")) return &l->mlpt_gu;
		if (!strcmp(rest, "mlp_t.down_proj.weight")) return &l->mlpt_d;
		if (!strcmp(rest, "mlp.gate_up_proj.weight")) return &l->gu;
		if (!strcmp(rest, "mlp.down_proj.weight")) return &l->down;
	}
	return NULL;
}

static void shape_str(char *buf, size_t n, int ndim, const int64_t *shape)
{
	size_t o = (size_t)snprintf(buf, n, "[");
	for (int i = 0; i < ndim && o < n; i++)
		o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)shape[i]);
	if (o < n)
		snprintf(buf + o, n - o, "]");
}

/* Find, check and map every tensor the architecture needs. */
static int bind_weights(trm_model *m, trmx_error *err)
{
	size_t n = trmx__trm_tensor_specs(&m->cfg, NULL);
	trm_tensor_spec *specs = calloc(n, sizeof *specs);
	const trmx_tensor_view **views = calloc(n, sizeof *views);
	size_t owned = 0;
	int rc = 0;
	if (!specs || !views) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the trm engine");
		goto done;
	}
	trmx__trm_tensor_specs(&m->cfg, specs);
	for (size_t i = 0; i < n; i++) {
		const trm_tensor_spec *s = &specs[i];
		const trmx_tensor_view *v = m->host.tensor_find(m->host.host, s->name);
		char want[64], got[64];
		shape_str(want, sizeof want, s->ndim, s->shape);
		if (!v) {
			rc = trmx_error_set(err, TRMX_ENOTFOUND,
					    "weights: tensor 'model.inner.%s' is missing (the architecture needs %s)",
					    s->name, want);
			goto done;
		}
		if (v->dtype != TRMX_DTYPE_F32 && v->dtype != TRMX_DTYPE_BF16 && v->dtype != TRMX_DTYPE_F16) {
			rc = trmx_error_set(err, TRMX_EDTYPE,
					    "weights: tensor '%s' has dtype %s; the trm engine reads F32, BF16 or F16",
					    v->name, trmx_dtype_name(v->dtype));
			goto done;
		}
		bool same = v->ndim == s->ndim;
		for (int d = 0; same && d < s->ndim; d++)
			same = v->shape[d] == s->shape[d];
		if (!same) {
			shape_str(got, sizeof got, v->ndim, v->shape);
			rc = trmx_error_set(err, TRMX_ESHAPE,
					    "weights: tensor '%s' has shape %s; the architecture needs %s",
					    v->name, got, want);
			goto done;
		}
		views[i] = v;
		if (v->dtype != TRMX_DTYPE_F32 || ((uintptr_t)v->data & 3u)) {
			size_t numel;
			trmx_shape_numel(s->ndim, s->shape, &numel);
			owned += numel;
		}
	}
	if (owned && !(m->owned = alloc_floats(owned))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory converting %zu weights to float32", owned);
		goto done;
	}
	float *dst = m->owned;
	for (size_t i = 0; i < n; i++) {
		const trmx_tensor_view *v = views[i];
		const float **slot = trmx__trm_weight_slot(&m->w, &m->cfg, specs[i].name);
		if (v->dtype == TRMX_DTYPE_F32 && !((uintptr_t)v->data & 3u)) {
			*slot = v->data;
		} else {
			size_t numel;
			trmx_shape_numel(v->ndim, v->shape, &numel);
			trmx_to_f32(dst, v->data, v->dtype, numel);
			*slot = dst;
			dst += numel;
		}
	}
done:
	free(specs);
	free(views);
	return rc;
}

void trmx__trm_close(void *state)
{
	trm_model *m = state;
	if (!m)
		return;
	trmx__trm_train_free(m->train);
	free(m->w.layers);
	free(m->w.hlayers);
	free(m->owned);
	free(m->rope_cos);
	free(m->rope_sin);
	free(m);
}

int trmx__trm_open_family(void **state, const trmx_engine_open_args *args, bool hrm, trmx_error *err)
{
	if (!state || !args || !args->host || !args->host->tensor_find)
		return trmx_error_set(err, TRMX_EINVAL, "%s engine: open needs the host's tensor lookup", hrm ? "hrm" : "trm");
	trm_model *m = calloc(1, sizeof *m);
	int rc;
	if (!m)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the trm engine");
	m->host = *args->host;
	if ((rc = trmx__trm_config_parse(&m->cfg, args->arch, args->n_arch, hrm, err)) < 0)
		goto fail;
	m->num_params = trmx__trm_num_params(&m->cfg);
	if (!(m->w.layers = calloc((size_t)m->cfg.L_layers, sizeof *m->w.layers)) ||
	    (hrm && !(m->w.hlayers = calloc((size_t)m->cfg.H_layers, sizeof *m->w.hlayers)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the trm engine");
		goto fail;
	}
	if (!(args->struct_size >= offsetof(trmx_engine_open_args, flags) + sizeof args->flags &&
	      (args->flags & TRMX_ENGINE_OPEN_NO_WEIGHTS)) &&
	    (rc = bind_weights(m, err)) < 0)
		goto fail;
	if (!m->cfg.mlp_t && m->cfg.pos_encodings == TRM_POS_ROPE) {
		size_t n = (size_t)m->cfg.S * m->cfg.head_dim;
		m->rope_cos = alloc_floats(n);
		m->rope_sin = alloc_floats(n);
		if (!m->rope_cos || !m->rope_sin) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for the RoPE tables");
			goto fail;
		}
		trmx_rope_tables(m->rope_cos, m->rope_sin, m->cfg.S, m->cfg.head_dim, (float)m->cfg.rope_theta);
	}
	trmx_blas_init();
	*state = m;
	return 0;
fail:
	trmx__trm_close(m);
	return rc;
}

static double flops_per_step(const trm_config *c)
{
	double S = c->S, D = c->hidden_size, HD = (double)c->num_heads * c->head_dim;
	double layer = 6.0 * S * D * c->inter; /* gate_up (2*I) + down */
	if (c->mlp_t)
		layer += 6.0 * D * S * c->inter_t;
	else
		layer += 2.0 * S * D * 3 * HD + 2.0 * S * HD * D + 4.0 * S * S * HD;
	/* per ACT step: H_cycles x L_cycles zL updates and H_cycles zH updates */
	double l_layers = (double)c->H_cycles * c->L_cycles * c->L_layers;
	double h_layers = (double)c->H_cycles * (c->hrm ? c->H_layers : c->L_layers);
	return (l_layers + h_layers) * layer + 2.0 * c->seq_len * D * c->vocab_size + 4.0 * D;
}

void trmx__trm_info(void *state, trmx_model_info *out)
{
	const trm_model *m = state;
	memset(out, 0, sizeof *out);
	out->engine = m->cfg.hrm ? "hrm" : "trm";
	out->seq_len = m->cfg.seq_len;
	out->vocab_size = m->cfg.vocab_size;
	out->num_puzzle_identifiers = m->cfg.num_puzzle_identifiers;
	out->halt_max_steps = m->cfg.halt_max_steps;
	out->num_params = m->num_params;
	out->puzzle_emb_params = m->cfg.puzzle_emb_ndim > 0
					 ? (int64_t)m->cfg.num_puzzle_identifiers * m->cfg.puzzle_emb_ndim
					 : 0;
	out->flops_per_step = flops_per_step(&m->cfg);
}

void trmx__trm_work_free(trm_work *wk)
{
	free(wk->x);
	free(wk->zH);
	free(wk->tmp);
	free(wk->tmp2);
	free(wk->big1);
	free(wk->big2);
	free(wk->attn_scratch);
	free(wk->logits);
	free(wk->q);
	free(wk->preds);
	memset(wk, 0, sizeof *wk);
}

static size_t max3(size_t a, size_t b, size_t c)
{
	size_t m = a > b ? a : b;
	return m > c ? m : c;
}

int trmx__trm_work_init(trm_work *wk, const trm_model *m, int cap, bool training, trmx_error *err)
{
	const trm_config *c = &m->cfg;
	size_t S = (size_t)c->S, D = (size_t)c->hidden_size, HD = (size_t)c->num_heads * c->head_dim;
	size_t I = (size_t)c->inter, It = (size_t)c->inter_t, B = (size_t)cap;
	size_t big1 = max3(S * 2 * I, c->mlp_t ? D * (2 * It > S ? 2 * It : S) : 0, c->mlp_t ? 0 : S * 3 * HD);
	size_t big2 = max3(S * I, c->mlp_t ? D * It : 0, c->mlp_t ? 0 : S * HD);
	memset(wk, 0, sizeof *wk);
	wk->cap = cap;
	wk->x = alloc_floats(B * S * D);
	wk->zH = alloc_floats(2 * B * S * D); /* zH then zL: the training carry is one block */
	wk->zL = wk->zH ? wk->zH + B * S * D : NULL;
	wk->tmp = alloc_floats(B * S * D);
	wk->tmp2 = training ? alloc_floats(B * S * D) : NULL;
	wk->big1 = alloc_floats(B * big1);
	wk->big2 = alloc_floats(B * big2);
	wk->attn_scratch = c->mlp_t ? NULL : alloc_floats(trmx_attention_scratch_floats(c->S, trmx_get_threads()));
	wk->logits = alloc_floats(B * (size_t)c->seq_len * c->vocab_size);
	wk->q = alloc_floats(B * 2);
	wk->preds = (int32_t *)alloc_floats(B * (size_t)c->seq_len);
	if (!wk->x || !wk->zH || !wk->tmp || (training && !wk->tmp2) || !wk->big1 || !wk->big2 ||
	    (!c->mlp_t && !wk->attn_scratch) || !wk->logits || !wk->q || !wk->preds) {
		trmx__trm_work_free(wk);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory for the workspaces of %d rows", cap);
	}
	return 0;
}

static int check_tokens(const trm_config *c, const int32_t *in, int32_t puzzle_id, int64_t index, trmx_error *err)
{
	for (int t = 0; t < c->seq_len; t++)
		if (in[t] < 0 || in[t] >= c->vocab_size)
			return trmx_error_set(err, TRMX_EINVAL,
					      "solve: input %lld, position %d: token %d is outside the vocabulary [0, %d)",
					      (long long)index, t, in[t], c->vocab_size);
	if (puzzle_id < 0 || puzzle_id >= c->num_puzzle_identifiers)
		return trmx_error_set(err, TRMX_EINVAL, "solve: input %lld: puzzle id %d is outside [0, %d)",
				      (long long)index, puzzle_id, c->num_puzzle_identifiers);
	return 0;
}

static int check_request(const trm_model *m, const trmx_solve_request *req, trmx_error *err)
{
	const trm_config *c = &m->cfg;
	if (!req)
		return trmx_error_set(err, TRMX_EINVAL, "solve: no request");
	if (!trmx_version_ok(req->version, TRMX_SOLVE_REQUEST_VERSION))
		return trmx_version_refused(err, "solve request", req->version, TRMX_SOLVE_REQUEST_VERSION);
	bool fed = req->version >= 2 && req->feed;
	if (req->version >= 2 && (!req->feed) != (!req->done))
		return trmx_error_set(err, TRMX_EINVAL, "solve: feed and done go together");
	if (!fed && req->n > 0 && !req->inputs)
		return trmx_error_set(err, TRMX_EINVAL, "solve: no inputs");
	if (req->batch_size < 0 || req->batch_size > TRMX_SOLVE_BATCH_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "solve: batch size %d is outside [0, %d]",
				      req->batch_size, TRMX_SOLVE_BATCH_MAX);
	if (req->max_steps < 0 || req->max_steps > TRMX_SOLVE_STEPS_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "solve: max_steps %d is outside [0, %d]",
				      req->max_steps, TRMX_SOLVE_STEPS_MAX);
	if (req->halt != TRMX_HALT_FIXED && req->halt != TRMX_HALT_ADAPTIVE)
		return trmx_error_set(err, TRMX_EINVAL, "solve: unknown halting mode %d", (int)req->halt);
	if (req->version >= 3 && !isfinite(req->halt_threshold))
		return trmx_error_set(err, TRMX_EINVAL, "solve: the halt threshold is not a finite number");
	for (size_t i = 0; !fed && i < req->n; i++) {
		int rc = check_tokens(c, req->inputs + i * (size_t)c->seq_len, req->puzzle_ids ? req->puzzle_ids[i] : 0,
				      (int64_t)i, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* The Q head's halt signal: TRM halts on q_halt > 0 (no_ACT_continue), HRM on q_halt > q_continue;
 * a request of version 3 may move the threshold of that margin. */
static bool halts(const trm_config *c, float threshold, float q_halt, float q_continue)
{
	return (c->hrm ? q_halt - q_continue : q_halt) > threshold;
}

/* A version-1 request is fed from its arrays and writes its results into them. */
struct array_feed {
	const trmx_solve_request *req;
	const trm_config *c;
	size_t next;
};

static int array_feed(void *user, int32_t *input, trmx_feed_row *row)
{
	struct array_feed *a = user;
	const trmx_solve_request *req = a->req;
	if (a->next >= req->n)
		return 0;
	size_t L = (size_t)a->c->seq_len;
	memcpy(input, req->inputs + a->next * L, L * sizeof *input);
	*row = (trmx_feed_row){ (int64_t)a->next, req->puzzle_ids ? req->puzzle_ids[a->next] : 0, 0, req->halt };
	a->next++;
	return 1;
}

static void array_done(void *user, int64_t index, const int32_t *pred, int steps, float q_halt, float q_continue,
		       trmx_halt_reason reason)
{
	struct array_feed *a = user;
	const trmx_solve_request *req = a->req;
	size_t i = (size_t)index, L = (size_t)a->c->seq_len;
	if (req->preds)
		memcpy(req->preds + i * L, pred, L * sizeof *pred);
	if (req->steps)
		req->steps[i] = steps;
	if (req->q_halt)
		req->q_halt[i] = q_halt;
	if (req->q_continue)
		req->q_continue[i] = q_continue;
	if (req->reason)
		req->reason[i] = (uint8_t)reason;
}

/* Per-slot state of a solve. */
struct slots {
	int64_t *index;
	int32_t *step, *limit;
	uint8_t *halted, *adaptive;
	float *qh, *qc;
};

/* Take the next input into slot r: 1 when there was one, 0 when none, < 0 on a bad input. */
static int fill_slot(const trm_model *m, trm_work *wk, struct slots *sl, int r, trmx_feed_fn feed, void *user,
		     const trmx_solve_request *req, int32_t *input, trmx_error *err)
{
	const trm_config *c = &m->cfg;
	trmx_feed_row row = { 0, 0, 0, req->halt };
	if (!feed(user, input, &row))
		return 0;
	int rc = check_tokens(c, input, row.puzzle_id, row.index, err);
	if (rc == 0 && (row.max_steps < 0 || row.max_steps > TRMX_SOLVE_STEPS_MAX ||
			(row.halt != TRMX_HALT_FIXED && row.halt != TRMX_HALT_ADAPTIVE)))
		rc = trmx_error_set(err, TRMX_EINVAL, "solve: input %lld: bad step cap %d or halting mode %d",
				    (long long)row.index, row.max_steps, (int)row.halt);
	if (rc < 0)
		return rc;
	int cap_steps = row.max_steps ? row.max_steps : req->max_steps;
	sl->index[r] = row.index;
	sl->step[r] = 0;
	sl->halted[r] = 0;
	sl->limit[r] = cap_steps ? cap_steps : c->halt_max_steps;
	sl->adaptive[r] = row.halt == TRMX_HALT_ADAPTIVE;
	trmx__trm_embed(m, wk, r, 1, input, &row.puzzle_id);
	trmx__trm_reset_state(m, wk, r, 1);
	return 1;
}

/* Continuous batching: slots [0, active) hold rows; before every step the free slots take inputs
 * from the feed, a halted row's slot takes the next input at once, and when none is waiting the
 * last slot moves into the hole so the active rows stay packed. */
int trmx__trm_solve(void *state, const trmx_solve_request *req, trmx_error *err)
{
	const trm_model *m = state;
	const trm_config *c = &m->cfg;
	int rc;
	if (!m->w.lm_head)
		return trmx_error_set(err, TRMX_EINVAL,
				      "solve: the model has no weights yet (opened for training without them)");
	if ((rc = check_request(m, req, err)) < 0)
		return rc;
	bool fed = req->version >= 2 && req->feed;
	float thr = req->version >= 3 ? req->halt_threshold : 0.0f;
	struct array_feed af = { req, c, 0 };
	trmx_feed_fn feed = fed ? req->feed : array_feed;
	trmx_done_fn done = fed ? req->done : array_done;
	void *fuser = fed ? req->user : &af;
	if (!fed && req->n == 0)
		return 0;
	int cap = req->batch_size ? req->batch_size : 64;
	if (!fed && (size_t)cap > req->n)
		cap = (int)req->n;
	size_t L = (size_t)c->seq_len, SD = (size_t)c->S * c->hidden_size;

	trm_work wk;
	struct slots sl = { calloc((size_t)cap, sizeof(int64_t)), calloc((size_t)cap, sizeof(int32_t)),
			    calloc((size_t)cap, sizeof(int32_t)), calloc((size_t)cap, 1), calloc((size_t)cap, 1),
			    calloc((size_t)cap, sizeof(float)), calloc((size_t)cap, sizeof(float)) };
	int32_t *input = calloc(L, sizeof *input);
	bool wk_ok = false;
	if (!sl.index || !sl.step || !sl.limit || !sl.halted || !sl.adaptive || !sl.qh || !sl.qc || !input) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for %d batch slots", cap);
		goto done;
	}
	if ((rc = trmx__trm_work_init(&wk, m, cap, false, err)) < 0)
		goto done;
	wk_ok = true;

	int active = 0;
	for (;;) {
		while (active < cap && (rc = fill_slot(m, &wk, &sl, active, feed, fuser, req, input, err)) > 0)
			active++;
		if (rc < 0)
			goto done;
		rc = 0;
		if (active == 0)
			break;
		trmx__trm_act_step(m, &wk, active);
		for (int r = 0; r < active; r++) {
			sl.step[r]++;
			sl.qh[r] = wk.q[2 * r];
			sl.qc[r] = wk.q[2 * r + 1];
			sl.halted[r] = sl.step[r] >= sl.limit[r] || (sl.adaptive[r] && halts(c, thr, sl.qh[r], sl.qc[r]));
		}
		if (req->on_step) {
			trmx_step_view v = { active, c->seq_len, c->vocab_size, sl.index, sl.step, sl.halted,
					     wk.logits, sl.qh, sl.qc, wk.preds };
			if (req->on_step(req->user, &v)) {
				rc = trmx_error_set(err, TRMX_ECANCELLED, "solve: stopped by the caller with %d rows active",
						    active);
				goto done;
			}
		}
		for (int r = 0; r < active;) {
			if (!sl.halted[r]) {
				r++;
				continue;
			}
			bool q = sl.adaptive[r] && halts(c, thr, sl.qh[r], sl.qc[r]);
			done(fuser, sl.index[r], wk.preds + (size_t)r * L, sl.step[r], sl.qh[r], sl.qc[r],
			     q ? TRMX_HALT_REASON_Q
			       : sl.adaptive[r] && sl.limit[r] < c->halt_max_steps ? TRMX_HALT_REASON_BUDGET
										   : TRMX_HALT_REASON_MAX_STEPS);
			if ((rc = fill_slot(m, &wk, &sl, r, feed, fuser, req, input, err)) > 0) { /* refill the slot */
				r++;
				continue;
			}
			if (rc < 0)
				goto done;
			int last = --active; /* move the last slot into the hole */
			if (last != r) {
				memcpy(wk.x + (size_t)r * SD, wk.x + (size_t)last * SD, SD * sizeof(float));
				memcpy(wk.zH + (size_t)r * SD, wk.zH + (size_t)last * SD, SD * sizeof(float));
				memcpy(wk.zL + (size_t)r * SD, wk.zL + (size_t)last * SD, SD * sizeof(float));
				memcpy(wk.preds + (size_t)r * L, wk.preds + (size_t)last * L, L * sizeof(int32_t));
				sl.index[r] = sl.index[last];
				sl.step[r] = sl.step[last];
				sl.limit[r] = sl.limit[last];
				sl.halted[r] = sl.halted[last];
				sl.adaptive[r] = sl.adaptive[last];
				sl.qh[r] = sl.qh[last];
				sl.qc[r] = sl.qc[last];
			}
		}
	}
done:
	if (wk_ok)
		trmx__trm_work_free(&wk);
	free(sl.index), free(sl.step), free(sl.limit), free(sl.halted), free(sl.adaptive), free(sl.qh), free(sl.qc);
	free(input);
	return rc;
}

static int trm_open(void **state, const trmx_engine_open_args *args, trmx_error *err)
{
	return trmx__trm_open_family(state, args, false, err);
}

static const trmx_engine trm_engine = {
	.abi_version = TRMX_ENGINE_ABI_VERSION,
	.struct_size = sizeof(trmx_engine),
	.name = "trm",
	.version = TRM_ENGINE_VERSION,
	.open = trm_open,
	.info = trmx__trm_info,
	.solve = trmx__trm_solve,
	.close = trmx__trm_close,
	.train_begin = trmx__trm_train_begin,
	.init_weights = trmx__trm_init_weights,
	.train_step = trmx__trm_train_step,
	.flags = TRMX_ENGINE_FEED,
};

const trmx_engine *trmx_trm_engine_entry(uint32_t host_abi_version)
{
	return host_abi_version == TRMX_ENGINE_ABI_VERSION ? &trm_engine : NULL;
}
