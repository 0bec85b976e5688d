/*
 * weightgen.h — deterministic random weights that tools/trm_reference.py reproduces bit for bit,
 * so fixtures for the official sizes need not store 20 MB of weights.
 *
 *   key  = fnv1a64(short_name) ^ mix64(seed)
 *   z_i  = mix64(key + (i + 1) * 0x9E3779B97F4A7C15)          (splitmix64 finaliser)
 *   u_i  = float(z_i >> 40) * 2^-24                           (exact, in [0, 1))
 *   w_i  = (2 u_i - 1) * float(sqrt(3) * std)                 (float32 arithmetic)
 *
 * std is the official init family's (1/sqrt(fan_in), embeddings 1/sqrt(D), 1 for H_init/L_init
 * and the Q bias; the Q head and puzzle table random instead of zero), times a gain for the
 * network's weights: with plain LeCun std a random TRM is chaotic (float32 rounding grows 2-30x
 * per ACT step and float32 and float64 runs decorrelate within 3-16 steps), so no reference could
 * be matched to 1e-4; at these gains the recursion contracts and still changes the logits by
 * O(0.1-1) per step.
 */
#define WG_LAYER_GAIN 0.5  /* L_level and H_level self_attn.* and mlp.* */
#define WG_MLP_T_GAIN 0.25 /* L_level mlp_t.* */
#ifndef TRMX_TEST_WEIGHTGEN_H
#define TRMX_TEST_WEIGHTGEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/trmx.h"

uint64_t wg_mix64(uint64_t z);
uint64_t wg_fnv1a64(const char *s);
/* Fill n floats for tensor `short_name` (no "model.inner." prefix). */
void wg_fill(float *dst, size_t n, const char *short_name, uint64_t seed, double std);

/* The gain applied to tensor `short_name`'s std. */
double wg_gain(const char *short_name);

/* Write every tensor the trm architecture `arch` needs, generated from `seed`, as F32 under the
 * full official names ("model.inner." + short name), with `arch` as __metadata__. */
int wg_write_trm(const trmx_config *arch, uint64_t seed, const char *path, trmx_error *err);
/* The same for the trm (hrm false) or hrm engine's architecture. */
int wg_write_model(const trmx_config *arch, bool hrm, uint64_t seed, const char *path, trmx_error *err);

#endif
