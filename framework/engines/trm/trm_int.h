/*
 * trm_int.h — inside the TRM engine: the architecture, the weight views, the workspaces.
 *
 * Shapes: B rows (batch slots), S = P + seq_len positions (P puzzle-prefix slots first),
 * D = hidden_size, V = vocab_size, I = SwiGLU width over D, It = SwiGLU width over S (mlp_t).
 */
#ifndef TRMX_TRM_INT_H
#define TRMX_TRM_INT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core_int.h"
#include "trmx/engine.h"

typedef enum trm_pos { TRM_POS_NONE = 0, TRM_POS_ROPE, TRM_POS_LEARNED } trm_pos;

typedef struct trm_config {
	bool hrm;     /* the HRM family: a separate H_level network, HRM's halting and Q target */
	/* official keys */
	int seq_len, vocab_size, num_puzzle_identifiers;
	int hidden_size, num_heads;
	double expansion;
	int L_layers, H_layers, H_cycles, L_cycles; /* H_layers: HRM only */
	int puzzle_emb_ndim, puzzle_emb_len;
	trm_pos pos_encodings;
	double rope_theta, rms_norm_eps;
	bool mlp_t;
	int halt_max_steps;
	/* derived */
	int P;        /* puzzle-prefix slots */
	int S;        /* P + seq_len */
	int head_dim; /* hidden_size / num_heads */
	int inter;    /* SwiGLU width over hidden_size */
	int inter_t;  /* SwiGLU width over S (mlp_t only) */
} trm_config;

/* Parse and check an architecture given as key/value strings, of the TRM family or (hrm) the
 * HRM family. Unknown keys are refused unless the official config carries them for other purposes
 * (listed in trm_config.c) or they hold a dot (namespaced: "loss.name", "fixture.steps"). */
int trmx__trm_config_parse(trm_config *cfg, const trmx_kv *kv, size_t n, bool hrm, trmx_error *err);

/* The SwiGLU width the official code uses: 256 * ceil(round(expansion * h * 2 / 3) / 256). */
int trmx__trm_swiglu_width(double expansion, int h);

/* One tensor the architecture needs: short official name, shape, initial std (for generators). */
typedef struct trm_tensor_spec {
	char name[96];
	int ndim;
	int64_t shape[2];
	double std;      /* std of the official init family (LeCun 1/sqrt(fan_in), embeddings 1/sqrt(D)) */
	bool trainable;  /* counted in num_params (the puzzle table and H_init/L_init are buffers) */
} trm_tensor_spec;

/* The tensors of `cfg` in official state-dict order. `specs` may be NULL to count. */
size_t trmx__trm_tensor_specs(const trm_config *cfg, trm_tensor_spec *specs);

/* Trainable parameters (the official num_params: everything but the puzzle table and H/L_init). */
int64_t trmx__trm_num_params(const trm_config *cfg);

/* Float views of every weight, in place from the mapping or converted copies. */
typedef struct trm_layer_weights {
	const float *qkv, *o;          /* attention: [3*H*Dh, D], [D, H*Dh] */
	const float *mlpt_gu, *mlpt_d; /* mlp_t: [2*It, S], [S, It] */
	const float *gu, *down;        /* mlp: [2*I, D], [D, I] */
} trm_layer_weights;

typedef struct trm_weights {
	const float *embed_tokens; /* [V, D] */
	const float *lm_head;      /* [V, D] */
	const float *q_w, *q_b;    /* [2, D], [2] */
	const float *puzzle_emb;   /* [num_puzzle_identifiers, ndim] or NULL */
	const float *embed_pos;    /* [S, D] or NULL */
	const float *H_init, *L_init; /* [D] */
	trm_layer_weights *layers; /* [L_layers] L_level (TRM: the one network) */
	trm_layer_weights *hlayers; /* [H_layers] H_level (HRM only; NULL for TRM) */
} trm_weights;

/* The network of the zH update: TRM's one network, or HRM's H_level. */
static inline const trm_layer_weights *trm_h_net(const trm_weights *w, const trm_config *c, int *n)
{
	*n = c->hrm ? c->H_layers : c->L_layers;
	return c->hrm ? w->hlayers : w->layers;
}

/* Workspaces for up to `cap` rows, sized once (no allocation inside the recursion). */
typedef struct trm_work {
	int cap;
	float *x, *zH, *zL;    /* [cap, S, D] input embeddings and the two states */
	float *tmp;            /* [cap, S, D] */
	float *tmp2;           /* [cap, S, D], training only (mlp_t's o_t beside the cached gate-up) */
	float *big1, *big2;    /* the larger intermediates (qkv/attn or gate-up/act) */
	float *attn_scratch;   /* per-thread [S, S] */
	float *logits;         /* [cap, seq_len, V] */
	float *q;              /* [cap, 2] */
	int32_t *preds;        /* [cap, seq_len] */
} trm_work;

typedef struct trm_train trm_train;

typedef struct trm_model {
	trm_config cfg;
	trm_train *train;      /* NULL unless training has begun */
	trm_weights w;
	float *owned;          /* converted (BF16/F16/unaligned) weights, one buffer */
	float *rope_cos, *rope_sin; /* [S, head_dim] */
	int64_t num_params;
	trmx_host_services host;
} trm_model;

/* What the backward pass needs from one block of the gradient cycle (training). */
typedef struct trm_layer_cache {
	float *h_mid, *h_out;  /* [R, D] after the mixer's norm, after the block */
	float *r1, *r2;        /* rstd: [B*D] (mlp_t) or [R], and [R] */
	float *gu;             /* [R, 2I] */
	float *qkv, *ctx, *probs; /* attention: [R, 3HD] after RoPE, [R, HD], [B, H, S, S] */
	float *gu_t;           /* mlp_t: [B*D, 2It] */
} trm_layer_cache;

/* One application of the network in the gradient cycle: its input and its blocks. */
typedef struct trm_net_cache {
	float *h0;             /* [R, D] the network's input (state + injection) */
	trm_layer_cache *layers;
} trm_net_cache;

/* The view of tensor `name` (short official name) inside `w`, NULL for an unknown name. */
const float **trmx__trm_weight_slot(trm_weights *w, const trm_config *cfg, const char *name);

/* Allocate / free the workspaces for `cap` rows (training adds tmp2). */
int trmx__trm_work_init(trm_work *wk, const trm_model *m, int cap, bool training, trmx_error *err);
void trmx__trm_work_free(trm_work *wk);

/* Compute the input embedding of `rows` rows into wk->x + first * S * D. */
void trmx__trm_embed(const trm_model *m, trm_work *wk, int first, int rows, const int32_t *tokens,
		     const int32_t *puzzle_ids);
/* Reset the states of rows [first, first + rows) to H_init / L_init. */
void trmx__trm_reset_state(const trm_model *m, trm_work *wk, int first, int rows);
/* h = net(h + (a + b)) on rows [0, rows), net = `nlayers` blocks `layers`; b may be NULL. With a
 * cache, every intermediate the backward pass needs is kept there (training's gradient part). */
void trmx__trm_net_forward(const trm_model *m, trm_work *wk, const trm_layer_weights *layers, int nlayers, float *h,
			   const float *a, const float *b, int rows, trm_net_cache *cache);
/* The recursion of one ACT step, H_cycles x (L_cycles zL updates, one zH update), leaving out
 * its last `skip` updates (training runs those again with gradient: TRM the whole last cycle,
 * HRM the last zL and zH updates; trm_grad_updates). */
void trmx__trm_recursion(const trm_model *m, trm_work *wk, int rows, int skip);

/* Updates at the end of an ACT step that training runs with gradient: TRM's last H cycle
 * (L_cycles + 1), HRM's one-step gradient (2). The last is the zH update, the others zL ones. */
static inline int trm_grad_updates(const trm_config *c)
{
	return c->hrm ? 2 : c->L_cycles + 1;
}
/* The LM head, the Q head and the argmax of rows [0, rows) into wk->logits, wk->q, wk->preds. */
void trmx__trm_heads(const trm_model *m, trm_work *wk, int rows);
/* One ACT step (H_cycles x (L_cycles + 1) network applications) on rows [0, rows), then the heads. */
void trmx__trm_act_step(const trm_model *m, trm_work *wk, int rows);

/* The engine table's functions (trm_engine.c), shared by the trm and hrm tables. */
int trmx__trm_open_family(void **state, const trmx_engine_open_args *args, bool hrm, trmx_error *err);
void trmx__trm_info(void *state, trmx_model_info *out);
int trmx__trm_solve(void *state, const trmx_solve_request *req, trmx_error *err);
void trmx__trm_close(void *state);

/* Training (trm_train.c), the engine table's optional functions. */
int trmx__trm_train_begin(void *state, int batch, trmx_train_state *out, trmx_error *err);
int trmx__trm_init_weights(void *state, uint64_t seed, trmx_error *err);
int trmx__trm_train_step(void *state, const trmx_train_batch *b, trmx_train_result *out, trmx_error *err);
void trmx__trm_train_free(trm_train *t);

#endif
