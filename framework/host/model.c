/*
 * model.c — trmx_model_*: open an engine through the engine ABI on an architecture and a weights
 * file, and dispatch solves to it. The host checks the engine's table (engines.c) and keeps its
 * own copy of it in the model, so an engine built for a shorter table reads as NULL past its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_int.h"

static const trmx_tensor_view *host_tensor_find(void *host, const char *name)
{
	const trmx_model *m = host;
	return m->weights ? trmx_weights_find(m->weights, name) : NULL;
}

static void host_log(void *host, trmx_log_level level, const char *message)
{
	trmx_log(level, "%s", message);
}

int trmx_model_open(trmx_model **out, const char *engine, const trmx_config *arch,
		    const trmx_weights *weights, const trmx_model_options *opts, trmx_error *err)
{
	if (!weights)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open: missing weights");
	if (opts && opts->version != TRMX_MODEL_OPTIONS_VERSION)
		return trmx_error_set(err, TRMX_EVERSION, "model options version %u is not %d", opts->version,
				      TRMX_MODEL_OPTIONS_VERSION);
	return trmx_model_open_flags(out, engine, arch, weights, 0, err);
}

int trmx_model_open_engine(trmx_model **out, const trmx_engine *engine, const trmx_config *arch,
			   const trmx_weights *weights, const trmx_model_options *opts, trmx_error *err)
{
	if (!weights || !engine)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open_engine: missing argument");
	if (opts && opts->version != TRMX_MODEL_OPTIONS_VERSION)
		return trmx_error_set(err, TRMX_EVERSION, "model options version %u is not %d", opts->version,
				      TRMX_MODEL_OPTIONS_VERSION);
	return host_model_open_table(out, engine, engine->name ? engine->name : "engine", arch, weights, 0, err);
}

int trmx_model_open_flags(trmx_model **out, const char *engine, const trmx_config *arch,
			  const trmx_weights *weights, uint32_t flags, trmx_error *err)
{
	if (!out || !engine || !arch)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open: missing argument");
	bool known = false;
	const trmx_engine *e = host_builtin_engine(engine, &known);
	if (!known) {
		char names[256];
		host_builtin_names(names, sizeof names);
		return trmx_error_set(err, TRMX_ENOTFOUND, "no engine named '%s' (available: %s)", engine, names);
	}
	return host_model_open_table(out, e, engine, arch, weights, flags, err);
}

int host_model_open_table(trmx_model **out, const trmx_engine *e, const char *name, const trmx_config *arch,
			  const trmx_weights *weights, uint32_t flags, trmx_error *err)
{
	if (!out || !arch)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open: missing argument");
	char where[128];
	snprintf(where, sizeof where, "engine '%s'", name);
	trmx_engine table;
	int rc = trmx_engine_check(e, where, &table, err);
	if (rc < 0)
		return rc;

	size_t n = trmx_config_count(arch);
	trmx_kv *kv = calloc(n ? n : 1, sizeof *kv);
	trmx_model *m = calloc(1, sizeof *m);
	if (!kv || !m) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening a model");
		goto fail;
	}
	for (size_t i = 0; i < n; i++)
		trmx_config_at(arch, i, &kv[i].key, &kv[i].value);
	m->table = table;
	m->engine = &m->table;
	m->weights = weights;
	m->services = (trmx_host_services){ .abi_version = TRMX_ENGINE_ABI_VERSION,
					    .struct_size = sizeof(trmx_host_services),
					    .host = m,
					    .log = host_log,
					    .tensor_find = host_tensor_find,
					    .threads = trmx_get_threads() };
	trmx_engine_open_args args = { sizeof args, kv, n, &m->services, flags };
	if ((rc = m->engine->open(&m->state, &args, err)) < 0)
		goto fail;
	m->weights = NULL; /* engines keep what they need; the caller's weights stay theirs */
	if ((rc = trmx_config_new(&m->arch, err)) < 0)
		goto fail_state;
	for (size_t i = 0; i < n; i++)
		if ((rc = trmx_config_set(m->arch, kv[i].key, kv[i].value, err)) < 0)
			goto fail_state;
	free(kv);
	*out = m;
	return 0;
fail_state:
	m->engine->close(m->state);
	trmx_config_free(m->arch);
fail:
	free(kv);
	free(m);
	return rc;
}

void trmx_model_free(trmx_model *m)
{
	if (!m)
		return;
	m->engine->close(m->state);
	trmx_config_free(m->arch);
	free(m);
}

void trmx_model_info_get(const trmx_model *m, trmx_model_info *out)
{
	m->engine->info(m->state, out);
}

int trmx_model_solve(trmx_model *m, const trmx_solve_request *req, trmx_error *err)
{
	if (!m || !req)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_solve: missing argument");
	return m->engine->solve(m->state, req, err);
}
