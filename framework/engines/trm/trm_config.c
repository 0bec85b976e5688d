/*
 * trm_config.c — the TRM architecture: parsing the official config keys, the derived sizes, and
 * the list of tensors (names, shapes) the official state dict holds for it.
 * Relies on the official TinyRecursiveReasoningModel_ACTV1Config (models/recursive_reasoning/trm.py
 * of SamsungSAILMontreal/TinyRecursiveModels) and docs/ENGINE.md.
 */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engines/trm/trm_int.h"

/* Keys an official arch config carries that inference does not use. */
static const char *const ignored_keys[] = {
	"name", "batch_size", "halt_exploration_prob", "forward_dtype",
	"format", /* safetensors metadata written by torch/safetensors */
};

int trmx__trm_swiglu_width(double expansion, int h)
{
	double v = nearbyint(expansion * h * 2 / 3); /* Python round(): half to even */
	long r = (long)v;
	return (int)((r + 255) / 256 * 256);
}

static const char *kv_get(const trmx_kv *kv, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, key))
			return kv[i].value;
	return NULL;
}

static int get_int(const trmx_kv *kv, size_t n, const char *key, bool required, long def, long lo,
		   long hi, int *out, trmx_error *err)
{
	long x;
	int rc = trmx_setting_long("architecture", key, kv_get(kv, n, key), required, def, lo, hi, &x, err);
	if (rc == 0)
		*out = (int)x;
	return rc;
}

static int get_double(const trmx_kv *kv, size_t n, const char *key, bool required, double def,
		      double lo, double hi, double *out, trmx_error *err)
{
	return trmx_setting_double("architecture", key, kv_get(kv, n, key), required, def, lo, hi, out, err);
}

static bool known_key(const char *key, bool hrm)
{
	static const char *const used[] = {
		"seq_len",	   "vocab_size",      "num_puzzle_identifiers", "hidden_size",
		"num_heads",	   "expansion",	      "L_layers",		"H_cycles",
		"L_cycles",	   "puzzle_emb_ndim", "pos_encodings",		"rope_theta",
		"rms_norm_eps",	   "halt_max_steps",
	};
	/* TRM: mlp_t and puzzle_emb_len are its own; H_layers and no_ACT_continue are carried and
	 * ignored. HRM: H_layers sizes its H_level. */
	static const char *const trm_only[] = { "mlp_t", "puzzle_emb_len", "H_layers", "no_ACT_continue" };
	if (strchr(key, '.'))
		return true; /* namespaced: loss.name, fixture.steps, trmx.* */
	for (size_t i = 0; i < sizeof used / sizeof *used; i++)
		if (!strcmp(key, used[i]))
			return true;
	if (hrm && !strcmp(key, "H_layers"))
		return true;
	for (size_t i = 0; !hrm && i < sizeof trm_only / sizeof *trm_only; i++)
		if (!strcmp(key, trm_only[i]))
			return true;
	for (size_t i = 0; i < sizeof ignored_keys / sizeof *ignored_keys; i++)
		if (!strcmp(key, ignored_keys[i]))
			return true;
	return false;
}

int trmx__trm_config_parse(trm_config *out, const trmx_kv *kv, size_t n, bool hrm, trmx_error *err)
{
	const char *engine = hrm ? "hrm" : "trm";
	trm_config c;
	int rc;
	memset(&c, 0, sizeof c);
	c.hrm = hrm;
	for (size_t i = 0; i < n; i++)
		if (!known_key(kv[i].key, hrm))
			return trmx_error_set(err, TRMX_EINVAL,
					      "architecture: unknown key '%s' (the %s engine reads the "
					      "official %s config keys)",
					      kv[i].key, engine, hrm ? "HRM" : "TRM");
	/* The official config's `name` says which family the weights belong to (hrm.hrm_act_v1@...,
	 * recursive_reasoning.trm@...): HRM weights hold an L_level the TRM engine would happily read,
	 * and compute something else with it. */
	for (size_t i = 0; i < n; i++)
		if (!strcmp(kv[i].key, "name") && (!strncmp(kv[i].value, "hrm.", 4)) != hrm)
			return trmx_error_set(err, TRMX_EINVAL,
					      "architecture: name '%s' is a%s model, not one for the %s engine",
					      kv[i].value, hrm ? " TRM" : "n HRM", engine);
	if ((rc = get_int(kv, n, "seq_len", true, 0, 1, TRMX_ARCH_SEQ_LEN_MAX, &c.seq_len, err)) < 0 ||
	    (rc = get_int(kv, n, "vocab_size", true, 0, 2, TRMX_ARCH_VOCAB_MAX, &c.vocab_size, err)) < 0 ||
	    (rc = get_int(kv, n, "num_puzzle_identifiers", false, 1, 1, TRMX_ARCH_PUZZLE_IDS_MAX,
			  &c.num_puzzle_identifiers, err)) < 0 ||
	    (rc = get_int(kv, n, "hidden_size", true, 0, 1, TRMX_ARCH_HIDDEN_MAX, &c.hidden_size, err)) < 0 ||
	    (rc = get_int(kv, n, "num_heads", true, 0, 1, TRMX_ARCH_HEADS_MAX, &c.num_heads, err)) < 0 ||
	    (rc = get_double(kv, n, "expansion", true, 0, 1e-3, 64, &c.expansion, err)) < 0 ||
	    (rc = get_int(kv, n, "L_layers", true, 0, 1, TRMX_ARCH_LAYERS_MAX, &c.L_layers, err)) < 0 ||
	    (rc = get_int(kv, n, "H_cycles", true, 0, 1, TRMX_ARCH_CYCLES_MAX, &c.H_cycles, err)) < 0 ||
	    (rc = get_int(kv, n, "L_cycles", true, 0, 1, TRMX_ARCH_CYCLES_MAX, &c.L_cycles, err)) < 0 ||
	    (rc = get_int(kv, n, "puzzle_emb_ndim", false, 0, 0, TRMX_ARCH_HIDDEN_MAX * 64,
			  &c.puzzle_emb_ndim, err)) < 0 ||
	    (rc = get_int(kv, n, "halt_max_steps", true, 0, 1, TRMX_ARCH_HALT_STEPS_MAX,
			  &c.halt_max_steps, err)) < 0 ||
	    (rc = get_double(kv, n, "rope_theta", false, 10000.0, 1.0, 1e12, &c.rope_theta, err)) < 0 ||
	    (rc = get_double(kv, n, "rms_norm_eps", false, 1e-5, 0.0, 1.0, &c.rms_norm_eps, err)) < 0)
		return rc;

	if (hrm && (rc = get_int(kv, n, "H_layers", true, 0, 1, TRMX_ARCH_LAYERS_MAX, &c.H_layers, err)) < 0)
		return rc;
	/* The official default puzzle_emb_len is 16; with no puzzle embedding that default would
	 * break the official model, so an absent key then means 0. HRM has no such key: its prefix
	 * is ceil(puzzle_emb_ndim / hidden_size) slots. */
	int def_len = c.puzzle_emb_ndim > 0 && !hrm ? 16 : 0;
	if ((rc = get_int(kv, n, "puzzle_emb_len", false, def_len, 0, 4096, &c.puzzle_emb_len, err)) < 0)
		return rc;

	if ((rc = trmx_setting_bool("architecture", "mlp_t", kv_get(kv, n, "mlp_t"), false, &c.mlp_t, err)) < 0)
		return rc;
	const char *pos = kv_get(kv, n, "pos_encodings");
	if (!pos)
		return trmx_error_set(err, TRMX_EINVAL, "architecture: 'pos_encodings' is missing (rope, learned or none)");
	if (!strcmp(pos, "rope"))
		c.pos_encodings = TRM_POS_ROPE;
	else if (!strcmp(pos, "learned"))
		c.pos_encodings = TRM_POS_LEARNED;
	else if (!strcmp(pos, "none"))
		c.pos_encodings = TRM_POS_NONE;
	else
		return trmx_error_set(err, TRMX_EINVAL,
				      "architecture: 'pos_encodings' is '%s'; the trm engine knows rope, learned and none", pos);
	if (hrm && c.pos_encodings == TRM_POS_NONE)
		return trmx_error_set(err, TRMX_EINVAL, "architecture: the hrm engine needs pos_encodings rope or learned");

	int D = c.hidden_size;
	if (c.puzzle_emb_ndim == 0 && c.puzzle_emb_len != 0)
		return trmx_error_set(err, TRMX_EINVAL,
				      "architecture: puzzle_emb_len %d with puzzle_emb_ndim 0 (the official "
				      "model fails on this; set puzzle_emb_len to 0)",
				      c.puzzle_emb_len);
	c.P = c.puzzle_emb_len ? c.puzzle_emb_len : (c.puzzle_emb_ndim + D - 1) / D;
	if ((long)c.puzzle_emb_ndim > (long)c.P * D)
		return trmx_error_set(err, TRMX_EINVAL,
				      "architecture: puzzle_emb_ndim %d does not fit in puzzle_emb_len %d x "
				      "hidden_size %d",
				      c.puzzle_emb_ndim, c.P, D);
	c.S = c.seq_len + c.P;
	if (c.S > TRMX_ARCH_SEQ_LEN_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "architecture: seq_len + puzzle prefix %d is too long", c.S);
	c.head_dim = D / c.num_heads;
	if (!c.mlp_t && c.head_dim < 1)
		return trmx_error_set(err, TRMX_EINVAL, "architecture: num_heads %d exceeds hidden_size %d",
				      c.num_heads, D);
	if (!c.mlp_t && c.pos_encodings == TRM_POS_ROPE && c.head_dim % 2)
		return trmx_error_set(err, TRMX_EINVAL, "architecture: RoPE needs an even head size, not %d",
				      c.head_dim);
	c.inter = trmx__trm_swiglu_width(c.expansion, D);
	c.inter_t = c.mlp_t ? trmx__trm_swiglu_width(c.expansion, c.S) : 0;
	if (c.inter < 1 || (c.mlp_t && c.inter_t < 1))
		return trmx_error_set(err, TRMX_EINVAL, "architecture: expansion %g gives an empty SwiGLU", c.expansion);
	*out = c;
	return 0;
}

static void spec(trm_tensor_spec *s, size_t *n, const char *name, int ndim, int64_t d0, int64_t d1,
		 double std, bool trainable)
{
	if (s) {
		trm_tensor_spec *t = &s[*n];
		snprintf(t->name, sizeof t->name, "%s", name);
		t->ndim = ndim;
		t->shape[0] = d0;
		t->shape[1] = d1;
		t->std = std;
		t->trainable = trainable;
	}
	(*n)++;
}

/* The blocks of one network (`level` "L_level" or "H_level"), in state-dict order. */
static void layer_specs(const trm_config *c, trm_tensor_spec *s, size_t *n, const char *level, int layers)
{
	int D = c->hidden_size, HD = c->num_heads * c->head_dim;
	double sd = 1.0 / sqrt((double)D);
	char name[96];
	for (int i = 0; i < layers; i++) {
		if (c->mlp_t) {
			snprintf(name, sizeof name, "%s.layers.%d.mlp_t.gate_up_proj.weight", level, i);
			spec(s, n, name, 2, 2 * (int64_t)c->inter_t, c->S, 1.0 / sqrt((double)c->S), true);
			snprintf(name, sizeof name, "%s.layers.%d.mlp_t.down_proj.weight", level, i);
			spec(s, n, name, 2, c->S, c->inter_t, 1.0 / sqrt((double)c->inter_t), true);
		} else {
			snprintf(name, sizeof name, "%s.layers.%d.self_attn.qkv_proj.weight", level, i);
			spec(s, n, name, 2, 3 * (int64_t)HD, D, sd, true);
			snprintf(name, sizeof name, "%s.layers.%d.self_attn.o_proj.weight", level, i);
			spec(s, n, name, 2, D, HD, 1.0 / sqrt((double)HD), true);
		}
		snprintf(name, sizeof name, "%s.layers.%d.mlp.gate_up_proj.weight", level, i);
		spec(s, n, name, 2, 2 * (int64_t)c->inter, D, sd, true);
		snprintf(name, sizeof name, "%s.layers.%d.mlp.down_proj.weight", level, i);
		spec(s, n, name, 2, D, c->inter, 1.0 / sqrt((double)c->inter), true);
	}
}

size_t trmx__trm_tensor_specs(const trm_config *c, trm_tensor_spec *s)
{
	size_t n = 0;
	int D = c->hidden_size, V = c->vocab_size;
	double sd = 1.0 / sqrt((double)D);
	spec(s, &n, "H_init", 1, D, 0, 1.0, false);
	spec(s, &n, "L_init", 1, D, 0, 1.0, false);
	spec(s, &n, "embed_tokens.embedding_weight", 2, V, D, sd, true);
	spec(s, &n, "lm_head.weight", 2, V, D, sd, true);
	spec(s, &n, "q_head.weight", 2, 2, D, sd, true);
	spec(s, &n, "q_head.bias", 1, 2, 0, 1.0, true);
	if (c->puzzle_emb_ndim > 0)
		spec(s, &n, "puzzle_emb.weights", 2, c->num_puzzle_identifiers, c->puzzle_emb_ndim, sd, false);
	if (c->pos_encodings == TRM_POS_LEARNED)
		spec(s, &n, "embed_pos.embedding_weight", 2, c->S, D, sd, true);
	if (c->hrm)
		layer_specs(c, s, &n, "H_level", c->H_layers);
	layer_specs(c, s, &n, "L_level", c->L_layers);
	return n;
}

int64_t trmx__trm_num_params(const trm_config *c)
{
	trm_tensor_spec specs[8 + 8 * TRMX_ARCH_LAYERS_MAX];
	size_t n = trmx__trm_tensor_specs(c, specs);
	int64_t total = 0;
	for (size_t i = 0; i < n; i++)
		if (specs[i].trainable)
			total += specs[i].shape[0] * (specs[i].ndim == 2 ? specs[i].shape[1] : 1);
	return total;
}
