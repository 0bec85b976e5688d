/*
 * model.c — trmx_model_*: open an engine through the engine ABI on an architecture and a weights
 * file, and dispatch solves to it. The host checks the engine's table (engines.c) and keeps its
 * own copy of it in the model, so an engine built for a shorter table reads as NULL past its end.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/runtime/runtime_int.h"

static const trmx_tensor_view *host_tensor_find(void *host, const char *name)
{
	const trmx_model *m = host;
	return m->weights ? trmx_weights_find(m->weights, name) : NULL;
}

static void host_log(void *host, trmx_diag_level level, const char *message)
{
	trmx_diag(level, "%s", message);
}

int trmx_model_open(trmx_model **out, const char *engine, const trmx_config *arch,
		    const trmx_weights *weights, const trmx_model_options *opts, trmx_error *err)
{
	if (!weights)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open: missing weights");
	if (opts && !trmx_version_ok(opts->version, TRMX_MODEL_OPTIONS_VERSION))
		return trmx_version_refused(err, "model options", opts->version, TRMX_MODEL_OPTIONS_VERSION);
	return trmx_model_open_flags(out, engine, arch, weights, 0, err);
}

int trmx_model_open_engine(trmx_model **out, const trmx_engine *engine, const trmx_config *arch,
			   const trmx_weights *weights, const trmx_model_options *opts, trmx_error *err)
{
	if (!weights || !engine)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open_engine: missing argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_MODEL_OPTIONS_VERSION))
		return trmx_version_refused(err, "model options", opts->version, TRMX_MODEL_OPTIONS_VERSION);
	return trmx__engine_model_open_table(out, engine, engine->name ? engine->name : "engine", arch, weights, 0, err);
}

int trmx_model_open_flags(trmx_model **out, const char *engine, const trmx_config *arch,
			  const trmx_weights *weights, uint32_t flags, trmx_error *err)
{
	if (!out || !engine || !arch)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_open: missing argument");
	bool known = false;
	const trmx_engine *e = trmx__engine_builtin(engine, &known);
	if (!known) {
		char names[256];
		trmx__engine_builtin_names(names, sizeof names);
		return trmx_error_set(err, TRMX_ENOTFOUND, "no engine named '%s' (available: %s)", engine, names);
	}
	return trmx__engine_model_open_table(out, e, engine, arch, weights, flags, err);
}

int trmx__engine_model_open_table(trmx_model **out, const trmx_engine *e, const char *name, const trmx_config *arch,
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

/* A fed request on an engine without TRMX_ENGINE_FEED: rounds of up to batch_size inputs, each
 * run as version-1 solves (one per halting mode and step cap among the round's rows), the step
 * views' input indices turned back into the caller's. */
struct round {
	const trmx_solve_request *req;
	const int64_t *ids; /* [round rows] the caller's index of each v1 input */
	int64_t *view_ids;  /* [batch] */
};

static int round_step(void *user, const trmx_step_view *v)
{
	struct round *r = user;
	for (int i = 0; i < v->rows; i++)
		r->view_ids[i] = r->ids[v->input_index[i]];
	trmx_step_view w = *v;
	w.input_index = r->view_ids;
	return r->req->on_step(r->req->user, &w);
}

/* The request's halt threshold (0 before version 3). */
static float threshold(const trmx_solve_request *req)
{
	return req->version >= 3 ? req->halt_threshold : 0.0f;
}

static int solve_rounds(trmx_model *m, const trmx_solve_request *req, trmx_error *err)
{
	trmx_model_info info;
	trmx_model_info_get(m, &info);
	size_t cap = req->batch_size ? (size_t)req->batch_size : 64, L = (size_t)info.seq_len;
	int32_t *in = calloc(cap * L, sizeof *in), *sub = calloc(cap * L, sizeof *sub), *pid = calloc(cap, sizeof *pid);
	int32_t *preds = calloc(cap * L, sizeof *preds), *steps = calloc(cap, sizeof *steps);
	float *qh = calloc(cap, sizeof *qh), *qc = calloc(cap, sizeof *qc);
	uint8_t *reason = calloc(cap, 1), *taken = calloc(cap, 1);
	int64_t *ids = calloc(cap, sizeof *ids), *view_ids = calloc(cap, sizeof *view_ids);
	trmx_feed_row *rows = calloc(cap, sizeof *rows);
	int rc = 0;
	if (!in || !sub || !pid || !preds || !steps || !qh || !qc || !reason || !taken || !ids || !view_ids || !rows) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for %zu batch slots", cap);
		goto done;
	}
	for (;;) {
		size_t n = 0;
		while (n < cap && req->feed(req->user, in + n * L, &rows[n]))
			n++;
		if (!n)
			break;
		memset(taken, 0, n);
		for (size_t first = 0; first < n; first++) {
			if (taken[first])
				continue;
			size_t k = 0; /* every row of the round with first's halting mode and step cap */
			for (size_t i = first; i < n; i++)
				if (!taken[i] && rows[i].halt == rows[first].halt && rows[i].max_steps == rows[first].max_steps) {
					memcpy(sub + k * L, in + i * L, L * sizeof *sub);
					pid[k] = rows[i].puzzle_id;
					ids[k++] = rows[i].index;
					taken[i] = 1;
				}
			struct round rd = { req, ids, view_ids };
			trmx_solve_request v1 = { 1,
						  k,
						  sub,
						  pid,
						  (int)k,
						  rows[first].max_steps ? rows[first].max_steps : req->max_steps,
						  rows[first].halt,
						  req->on_step ? round_step : NULL,
						  &rd,
						  preds,
						  steps,
						  qh,
						  qc,
						  reason,
						  NULL,
						  NULL,
						  threshold(req) };
			v1.version = v1.halt_threshold != 0.0f ? 3 : 1;
			if ((rc = m->engine->solve(m->state, &v1, err)) < 0)
				goto done;
			for (size_t i = 0; i < k; i++)
				req->done(req->user, ids[i], preds + i * L, steps[i], qh[i], qc[i], (trmx_halt_reason)reason[i]);
		}
	}
done:
	free(in), free(sub), free(pid), free(preds), free(steps), free(qh), free(qc), free(reason), free(taken);
	free(ids), free(view_ids), free(rows);
	return rc;
}

/* An engine is handed the oldest request version that says what the caller asked: one built
 * before the halt threshold (version 3) keeps working as long as no threshold is set. */
int trmx_model_solve(trmx_model *m, const trmx_solve_request *req, trmx_error *err)
{
	if (!m || !req)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_model_solve: missing argument");
	if (!trmx_version_ok(req->version, TRMX_SOLVE_REQUEST_VERSION))
		return trmx_version_refused(err, "solve request", req->version, TRMX_SOLVE_REQUEST_VERSION);
	if (m->engine->flags & TRMX_ENGINE_FEED) {
		trmx_solve_request r = *req;
		if (r.version >= 3 && threshold(req) == 0.0f)
			r.version = 2;
		return m->engine->solve(m->state, &r, err);
	}
	if (req->version >= 2 && (!req->feed) != (!req->done))
		return trmx_error_set(err, TRMX_EINVAL, "solve: feed and done go together");
	if (req->version >= 2 && req->feed) {
		if (req->batch_size < 0 || req->batch_size > TRMX_SOLVE_BATCH_MAX)
			return trmx_error_set(err, TRMX_EINVAL, "solve: batch size %d is outside [0, %d]", req->batch_size,
					      TRMX_SOLVE_BATCH_MAX);
		return solve_rounds(m, req, err);
	}
	trmx_solve_request v1 = *req; /* an engine without feeding gets no feed */
	v1.version = threshold(req) != 0.0f ? 3 : 1;
	v1.feed = NULL;
	v1.done = NULL;
	return m->engine->solve(m->state, &v1, err);
}
