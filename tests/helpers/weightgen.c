/*
 * weightgen.c — the deterministic weight generator shared with tools/trm_reference.py.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/trm/trm_int.h"
#include "helpers/weightgen.h"

uint64_t wg_mix64(uint64_t z)
{
	z ^= z >> 30;
	z *= 0xBF58476D1CE4E5B9ull;
	z ^= z >> 27;
	z *= 0x94D049BB133111EBull;
	z ^= z >> 31;
	return z;
}

uint64_t wg_fnv1a64(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ull;
	}
	return h;
}

void wg_fill(float *dst, size_t n, const char *short_name, uint64_t seed, double std)
{
	uint64_t key = wg_fnv1a64(short_name) ^ wg_mix64(seed);
	float scale = (float)(sqrt(3.0) * std);
	for (size_t i = 0; i < n; i++) {
		uint64_t z = wg_mix64(key + (uint64_t)(i + 1) * 0x9E3779B97F4A7C15ull);
		float u = (float)(z >> 40) * (1.0f / 16777216.0f);
		dst[i] = (2.0f * u - 1.0f) * scale;
	}
}

double wg_gain(const char *short_name)
{
	if (strncmp(short_name, "L_level.", 8) && strncmp(short_name, "H_level.", 8))
		return 1.0;
	return strstr(short_name, ".mlp_t.") ? WG_MLP_T_GAIN : WG_LAYER_GAIN;
}

int wg_write_trm(const trmx_config *arch, uint64_t seed, const char *path, trmx_error *err)
{
	return wg_write_model(arch, false, seed, path, err);
}

int wg_write_model(const trmx_config *arch, bool hrm, uint64_t seed, const char *path, trmx_error *err)
{
	size_t nkv = trmx_config_count(arch);
	trmx_kv *kv = calloc(nkv ? nkv : 1, sizeof *kv);
	trmx_weights_writer *wr = NULL;
	trm_tensor_spec *specs = NULL;
	float *buf = NULL;
	trm_config cfg;
	int rc;
	if (!kv)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	for (size_t i = 0; i < nkv; i++)
		trmx_config_at(arch, i, &kv[i].key, &kv[i].value);
	if ((rc = trmx__trm_config_parse(&cfg, kv, nkv, hrm, err)) < 0)
		goto done;
	size_t n = trmx__trm_tensor_specs(&cfg, NULL);
	specs = calloc(n, sizeof *specs);
	if (!specs) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	trmx__trm_tensor_specs(&cfg, specs);
	if ((rc = trmx_weights_writer_new(&wr, err)) < 0)
		goto done;
	for (size_t i = 0; i < nkv; i++)
		if (!strchr(kv[i].key, '.') && (rc = trmx_weights_writer_set_metadata(wr, kv[i].key, kv[i].value, err)) < 0)
			goto done;
	if (hrm && !trmx_config_get(arch, "name") && /* official HRM configs name their model */
	    (rc = trmx_weights_writer_set_metadata(wr, "name", "hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1", err)) < 0)
		goto done;
	for (size_t i = 0; i < n; i++) {
		size_t numel = (size_t)specs[i].shape[0] * (specs[i].ndim == 2 ? (size_t)specs[i].shape[1] : 1);
		char full[128];
		float *p = realloc(buf, numel * sizeof *buf);
		if (!p) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		buf = p;
		wg_fill(buf, numel, specs[i].name, seed, specs[i].std * wg_gain(specs[i].name));
		snprintf(full, sizeof full, "model.inner.%s", specs[i].name);
		if ((rc = trmx_weights_writer_add(wr, full, TRMX_DTYPE_F32, specs[i].ndim, specs[i].shape, buf, err)) < 0)
			goto done;
	}
	rc = trmx_weights_writer_write(wr, path, err);
done:
	free(kv);
	free(specs);
	free(buf);
	trmx_weights_writer_free(wr);
	return rc;
}
