/*
 * dispatch.c — dispatch on the host (trmx/host.h): resolve and encode (trmx_host_stage), solve in
 * one batch (or a server's shared batches), decode and check (trmx_host_finish), log a run and the
 * checker's verdict per puzzle (trmx_host_dispatch, trmx_dispatch_records); and evaluations of a
 * data set on a lease, logged through the same records (trmx_host_eval).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host_int.h"

/* ---- Dispatch ---------------------------------------------------------------------------------- */

/* The result with what it owns besides its public fields. */
struct result {
	trmx_dispatch_result pub;
	int32_t *tokens; /* input, answer, label of every run */
};

void trmx_dispatch_result_free(trmx_dispatch_result *r)
{
	if (!r)
		return;
	struct result *full = (struct result *)r;
	for (size_t i = 0; i < r->n; i++) {
		trmx_run_result *x = &r->runs[i];
		free(x->error);
		free(x->input_text);
		free(x->answer_text);
		free(x->answer_tokens);
		free(x->expected_text);
		trmx_task_text_free(x->input_render);
		trmx_task_text_free(x->answer_render);
	}
	free(r->runs);
	free(full->tokens);
	free(full);
}

/* One puzzle as encoded, before the solve. */
struct item {
	size_t text;
	int64_t line;
	bool ok, has_label;
	char *error;     /* why it did not encode */
	char *raw;       /* the text, cut, when it did not encode */
};

struct sink_ctx {
	struct item *items;
	size_t n, cap;
	int32_t *tok;    /* [cap, 3, L] */
	int L;
	size_t text;
};

static int grow_items(struct sink_ctx *c, size_t want, trmx_error *err)
{
	if (want <= c->cap)
		return 0;
	size_t nc = c->cap ? c->cap : 16;
	while (nc < want)
		nc *= 2;
	if (nc > TRMX_DISPATCH_INPUTS_MAX)
		nc = TRMX_DISPATCH_INPUTS_MAX;
	if (want > nc)
		return trmx_error_set(err, TRMX_ELIMIT, "more than TRMX_DISPATCH_INPUTS_MAX (%d) puzzles in one dispatch",
				      TRMX_DISPATCH_INPUTS_MAX);
	struct item *ni = trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(c->items, nc * sizeof *ni);
	if (!ni)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	c->items = ni;
	int32_t *nt = trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(c->tok, nc * 3 * (size_t)c->L * sizeof *nt);
	if (!nt)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	c->tok = nt;
	c->cap = nc;
	return 0;
}

static int add_error_item(struct sink_ctx *c, size_t text, const char *raw, size_t len, const char *why, trmx_error *err)
{
	int rc = grow_items(c, c->n + 1, err);
	if (rc < 0)
		return rc;
	struct item *it = &c->items[c->n];
	memset(it, 0, sizeof *it);
	it->text = text;
	size_t cut = len > 4096 ? 4096 : len;
	it->raw = malloc(cut + 1);
	it->error = strdup(why);
	if (!it->raw || !it->error) {
		free(it->raw);
		free(it->error);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	memcpy(it->raw, raw, cut);
	it->raw[cut] = 0;
	memset(c->tok + c->n * 3 * (size_t)c->L, 0, 3 * (size_t)c->L * sizeof *c->tok);
	c->n++;
	return 0;
}

static int add_item(struct sink_ctx *c, size_t text, int64_t line, const int32_t *in, const int32_t *label, bool has_label,
		    trmx_error *err)
{
	int rc = grow_items(c, c->n + 1, err);
	if (rc < 0)
		return rc;
	struct item *it = &c->items[c->n];
	memset(it, 0, sizeof *it);
	it->text = text;
	it->line = line;
	it->ok = true;
	it->has_label = has_label;
	int32_t *t = c->tok + c->n * 3 * (size_t)c->L;
	memcpy(t, in, (size_t)c->L * sizeof *t);
	if (has_label)
		memcpy(t + 2 * c->L, label, (size_t)c->L * sizeof *t);
	else
		memset(t + 2 * c->L, 0, (size_t)c->L * sizeof *t);
	c->n++;
	return 0;
}

/* Every query puzzle of a text (TRMX_DISPATCH_EACH_PUZZLE). */
static int sink_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	struct sink_ctx *c = sink->user;
	if (ex->role != TRMX_EXAMPLE_QUERY)
		return 0;
	bool has = false;
	for (int k = 0; ex->label && k < c->L; k++)
		has |= ex->label[k] != 0;
	return add_item(c, c->text, ex->line, ex->input, ex->label, has, err);
}

struct step_ctx {
	const trmx_dispatch *req;
	trmx_task *task;
	double t0;
	double *done_at; /* [n solved] */
};

static int on_step(void *user, const trmx_step_view *v)
{
	struct step_ctx *c = user;
	double now = trmx_mono_s();
	for (int r = 0; r < v->rows; r++)
		if (v->halted[r])
			c->done_at[v->input_index[r]] = now;
	return c->req->on_step ? c->req->on_step(c->req->user, c->task, v) : 0;
}

static char *tokens_text(const int32_t *t, int L)
{
	size_t cap = (size_t)L * 7 + 1, o = 0;
	char *s = malloc(cap);
	if (!s)
		return NULL;
	s[0] = 0;
	for (int i = 0; i < L; i++)
		o += (size_t)snprintf(s + o, cap - o, "%s%d", i ? " " : "", (int)t[i]);
	return s;
}

static int check_request(const trmx_dispatch *req, trmx_error *err)
{
	if (!trmx_version_ok(req->version, TRMX_DISPATCH_VERSION))
		return trmx_version_refused(err, "dispatch request", req->version, TRMX_DISPATCH_VERSION);
	if (!req->target || !*req->target)
		return trmx_error_set(err, TRMX_EINVAL, "a dispatch needs a target");
	if (!req->n || !req->texts)
		return trmx_error_set(err, TRMX_EINVAL, "a dispatch needs at least one input");
	if (req->n > TRMX_DISPATCH_INPUTS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%zu inputs: more than TRMX_DISPATCH_INPUTS_MAX (%d)", req->n,
				      TRMX_DISPATCH_INPUTS_MAX);
	if (req->run_ids && (req->flags & TRMX_DISPATCH_EACH_PUZZLE))
		return trmx_error_set(err, TRMX_EINVAL, "run ids are given per text, not with TRMX_DISPATCH_EACH_PUZZLE");
	for (size_t i = 0; req->run_ids && i < req->n; i++)
		if (!trmx_uuid_valid(req->run_ids[i]))
			return trmx_error_set(err, TRMX_EINVAL, "run id '%.40s' is not a UUID", req->run_ids[i] ? req->run_ids[i] : "");
	if ((unsigned)req->kind > TRMX_RUN_KIND_SELFTEST || (unsigned)req->halt > TRMX_HALT_ADAPTIVE)
		return trmx_error_set(err, TRMX_EINVAL, "a dispatch's kind or halting mode is out of range");
	if (req->batch_id && !trmx_uuid_valid(req->batch_id))
		return trmx_error_set(err, TRMX_EINVAL, "batch id '%.40s' is not a UUID", req->batch_id);
	if (req->max_steps < 0 || req->max_steps > TRMX_SOLVE_STEPS_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "max_steps %d is not in [0, %d]", req->max_steps, TRMX_SOLVE_STEPS_MAX);
	if (req->batch_size < 0 || req->batch_size > TRMX_SOLVE_BATCH_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "batch_size %d is not in [0, %d]", req->batch_size, TRMX_SOLVE_BATCH_MAX);
	if (req->context) {
		int rc = trmx_context_check(req->context, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static double ms_since(double t)
{
	return (trmx_mono_s() - t) * 1000.0;
}

/* A dispatch between its halves: resolved, loaded and encoded; solved by the host or the caller. */
struct trmx_staged {
	struct result *res;
	struct served *s;      /* leased until finished or freed */
	struct sink_ctx sc;
	trmx_dispatch req;     /* the caller's request (its strings are borrowed until finish) */
	size_t nok;            /* rows to solve: the items that encoded */
	size_t *row_item;      /* [nok] the item of each row */
	int32_t *in, *preds, *steps;
	float *qh, *qc;
	uint8_t *reason, *solved;
	double *done_at;
	char **row_error;      /* [nok] a row failed by the caller, or NULL */
	double t0, t_encoded;
};

static void items_free(struct sink_ctx *sc)
{
	for (size_t k = 0; k < sc->n; k++) {
		free(sc->items[k].error);
		free(sc->items[k].raw);
	}
	free(sc->items);
	free(sc->tok);
}

void trmx_staged_free(trmx_staged *st)
{
	if (!st)
		return;
	if (st->s)
		st->s->leases--;
	items_free(&st->sc);
	for (size_t j = 0; st->row_error && j < st->nok; j++)
		free(st->row_error[j]);
	free(st->row_error);
	free(st->row_item);
	free(st->in), free(st->preds), free(st->steps), free(st->qh), free(st->qc), free(st->reason), free(st->solved);
	free(st->done_at);
	trmx_dispatch_result_free(st->res ? &st->res->pub : NULL);
	free(st);
}

/* Encode every text of the request into st->sc. */
static int stage_encode(trmx_staged *st, trmx_error *err)
{
	const trmx_dispatch *req = &st->req;
	struct sink_ctx *sc = &st->sc;
	int L = trmx_task_seq_len(st->s->task), rc;
	sc->L = L;
	for (size_t i = 0; i < req->n; i++) {
		const char *text = req->texts[i] ? req->texts[i] : "";
		size_t len = req->lens ? req->lens[i] : strlen(text);
		trmx_error e2 = { 0, "" };
		if (req->flags & TRMX_DISPATCH_EACH_PUZZLE) {
			trmx_task_input ti = TRMX_TASK_INPUT_INIT;
			trmx_task_sink sink = { sink_add, sc };
			ti.text = text;
			ti.len = len;
			sc->text = i;
			size_t before = sc->n;
			int erc = trmx_task_encode_input(st->s->task, &ti, &sink, &e2);
			if (erc == TRMX_ENOMEM || erc == TRMX_ELIMIT)
				return trmx_error_set(err, erc, "%s", e2.message);
			if (erc < 0) { /* the puzzles before the bad one stay; the text's rest is one error */
				if ((rc = add_error_item(sc, i, text, len, e2.message, err)) < 0)
					return rc;
			} else if (sc->n == before && (rc = add_error_item(sc, i, text, len, "no puzzle in the text", err)) < 0) {
				return rc;
			}
		} else {
			if ((rc = grow_items(sc, sc->n + 1, err)) < 0)
				return rc;
			int32_t *tk = sc->tok + sc->n * 3 * (size_t)L;
			bool has = false;
			int erc = trmx_task_encode(st->s->task, text, len, tk, tk + 2 * L, &has, &e2);
			if (erc == TRMX_ENOMEM)
				return trmx_error_set(err, erc, "%s", e2.message);
			rc = erc < 0 ? add_error_item(sc, i, text, len, e2.message, err) : add_item(sc, i, 0, tk, tk + 2 * L, has, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

int trmx_host_stage(trmx_host *h, const trmx_dispatch *req, trmx_staged **out, trmx_error *err)
{
	if (!h || !req || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_stage: missing argument");
	int rc = check_request(req, err);
	if (rc < 0)
		return rc;
	trmx_staged *st = trmx_xcalloc(1, sizeof *st);
	if (!st || !(st->res = trmx_xcalloc(1, sizeof *st->res))) {
		free(st);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	st->req = *req;
	st->t0 = trmx_mono_s();
	trmx_dispatch_result *r = &st->res->pub;
	r->kind = req->kind;
	r->halt = req->halt;
	r->max_steps = req->max_steps;
	r->time_ms = trmx_now_ms();
	h->stats.dispatches++;

	/* resolve and load */
	struct served *s = NULL;
	if ((rc = trmx__host_pseudonym(h, req->learner, r->learner, err)) < 0 ||
	    (rc = trmx__host_acquire(h, req->target, r->learner[0] ? r->learner : NULL, &s, &r->resolution, &r->loaded,
			  &r->package_file, err)) < 0)
		goto fail;
	st->s = s;
	s->leases++; /* held until finished */
	if (!st->req.max_steps) /* the module's own cap where it names one: solved with it and logged as it */
		st->req.max_steps = r->max_steps = trmx_manifest_max_steps(s->manifest);
	if (req->context && r->resolution.context[0] && strcmp(req->context, r->resolution.context)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "'%s' is context '%s'; it cannot be logged under context '%s'",
				    req->target, r->resolution.context, req->context);
		goto fail;
	}
	if (req->context && !r->resolution.context[0])
		snprintf(r->resolution.context, sizeof r->resolution.context, "%s", req->context);
	snprintf(r->engine, sizeof r->engine, "%s", s->engine);
	snprintf(r->engine_source, sizeof r->engine_source, "%s", s->engine_source);
	snprintf(r->task_params, sizeof r->task_params, "%s", s->task_params);
	double t = trmx_mono_s();
	if (r->loaded)
		r->load_ms = (t - st->t0) * 1000.0;
	else
		r->resolve_ms = (t - st->t0) * 1000.0;

	/* encode */
	if ((rc = stage_encode(st, err)) < 0)
		goto fail;
	size_t n = st->sc.n, nok = 0, L = (size_t)st->sc.L;
	for (size_t k = 0; k < n; k++)
		nok += st->sc.items[k].ok;
	size_t m = nok ? nok : 1;
	if (!(r->runs = trmx_xcalloc(n, sizeof *r->runs)) || !(st->in = trmx_xcalloc(m, L * sizeof *st->in)) ||
	    !(st->preds = trmx_xcalloc(m, L * sizeof *st->preds)) || !(st->steps = trmx_xcalloc(m, sizeof *st->steps)) ||
	    !(st->qh = trmx_xcalloc(m, sizeof *st->qh)) || !(st->qc = trmx_xcalloc(m, sizeof *st->qc)) ||
	    !(st->reason = trmx_xcalloc(m, 1)) || !(st->solved = trmx_xcalloc(m, 1)) ||
	    !(st->done_at = trmx_xcalloc(m, sizeof *st->done_at)) || !(st->row_item = trmx_xcalloc(m, sizeof *st->row_item)) ||
	    !(st->row_error = trmx_xcalloc(m, sizeof *st->row_error))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	r->n = n;
	st->nok = nok;
	for (size_t k = 0, j = 0; k < n; k++)
		if (st->sc.items[k].ok) {
			st->row_item[j] = k;
			memcpy(st->in + j++ * L, st->sc.tok + k * 3 * L, L * sizeof *st->in);
		}
	st->t_encoded = trmx_mono_s();
	r->encode_ms = (st->t_encoded - t) * 1000.0;
	*out = st;
	return 0;
fail:
	trmx_staged_free(st);
	return rc;
}

size_t trmx_staged_rows(const trmx_staged *st, const int32_t **inputs)
{
	if (inputs)
		*inputs = st->in;
	return st->nok;
}

size_t trmx_staged_row_text(const trmx_staged *st, size_t row)
{
	return st->sc.items[st->row_item[row]].text;
}

trmx_model *trmx_staged_model(const trmx_staged *st)
{
	return st->s->model;
}

trmx_task *trmx_staged_task(const trmx_staged *st)
{
	return st->s->task;
}

const trmx_dispatch_result *trmx_staged_result(const trmx_staged *st)
{
	return &st->res->pub;
}

void trmx_staged_set(trmx_staged *st, size_t row, const int32_t *pred, int steps, float q_halt, float q_continue,
		     trmx_halt_reason reason, double done_at)
{
	size_t L = (size_t)st->sc.L;
	memcpy(st->preds + row * L, pred, L * sizeof *pred);
	st->steps[row] = steps;
	st->qh[row] = q_halt;
	st->qc[row] = q_continue;
	st->reason[row] = (uint8_t)reason;
	st->done_at[row] = done_at;
	st->solved[row] = 1;
}

int trmx_staged_fail(trmx_staged *st, size_t row, const char *message, trmx_error *err)
{
	free(st->row_error[row]);
	if (!(st->row_error[row] = strdup(message)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	return 0;
}

int trmx_staged_lease(const trmx_staged *st, trmx_lease **out, trmx_error *err)
{
	trmx_lease *l = trmx_xcalloc(1, sizeof *l);
	if (!l)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	l->s = st->s;
	l->res = st->res->pub.resolution;
	snprintf(l->learner, sizeof l->learner, "%s", st->res->pub.learner);
	l->s->leases++;
	*out = l;
	return 0;
}

/* The host's own solve of a staged dispatch: every row in one batch. */
static int stage_solve(trmx_staged *st, trmx_error *err)
{
	const trmx_dispatch *req = &st->req;
	if (!st->nok)
		return 0;
	struct step_ctx stc = { req, st->s->task, st->t0, st->done_at };
	trmx_solve_request sr = TRMX_SOLVE_REQUEST_INIT;
	sr.n = st->nok;
	sr.inputs = st->in;
	sr.batch_size = req->batch_size ? req->batch_size : (int)(st->nok < 64 ? st->nok : 64);
	sr.max_steps = req->max_steps;
	sr.halt = req->halt;
	sr.halt_threshold = (float)trmx_manifest_halt_threshold(st->s->manifest); /* the module's own */
	sr.on_step = on_step;
	sr.user = &stc;
	sr.preds = st->preds;
	sr.steps = st->steps;
	sr.q_halt = st->qh;
	sr.q_continue = st->qc;
	sr.reason = st->reason;
	int rc = trmx_model_solve(st->s->model, &sr, err);
	if (rc == 0)
		memset(st->solved, 1, st->nok);
	return rc;
}

int trmx_host_finish(trmx_host *h, trmx_staged *st, trmx_dispatch_result **out, trmx_error *err)
{
	if (!h || !st || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_finish: missing argument");
	const trmx_dispatch *req = &st->req;
	trmx_dispatch_result *r = &st->res->pub;
	struct sink_ctx *sc = &st->sc;
	int L = sc->L, rc;
	double t_solved = trmx_mono_s();
	r->compute_ms = (t_solved - st->t_encoded) * 1000.0;

	/* decode, check */
	if (!req->batch_id && r->n > 1)
		trmx_uuid7(r->batch_id);
	else if (req->batch_id)
		snprintf(r->batch_id, sizeof r->batch_id, "%s", req->batch_id);
	for (size_t k = 0, j = 0; k < r->n; k++) {
		struct item *it = &sc->items[k];
		trmx_run_result *x = &r->runs[k];
		x->text = it->text;
		x->line = it->line;
		x->seq_len = L;
		x->check = (trmx_check)TRMX_CHECK_INIT;
		if (req->run_ids)
			snprintf(x->run_id, sizeof x->run_id, "%s", req->run_ids[it->text]);
		else
			trmx_uuid7(x->run_id);
		if (it->ok && (st->row_error[j] || !st->solved[j])) { /* failed by the caller, or never solved */
			it->ok = false;
			it->error = st->row_error[j] ? st->row_error[j] : strdup("the puzzle was not solved");
			st->row_error[j++] = NULL;
			int32_t *tk = sc->tok + k * 3 * (size_t)L;
			if (!it->error) {
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
				goto fail;
			}
			if ((rc = trmx_task_decode(st->s->task, tk, TRMX_TEXT_LINE, &it->raw, err)) < 0)
				goto fail;
		}
		if (!it->ok) {
			x->status = TRMX_RUN_ERROR;
			x->error = it->error;
			x->input_text = it->raw;
			it->error = it->raw = NULL;
			x->latency_ms = (t_solved - st->t0) * 1000.0;
			x->q_halt = x->q_continue = NAN;
			x->halt_confidence = NAN;
			continue;
		}
		int32_t *tk = sc->tok + k * 3 * (size_t)L;
		memcpy(tk + L, st->preds + j * (size_t)L, (size_t)L * sizeof *tk);
		x->input = tk;
		x->answer = tk + L;
		x->label = it->has_label ? tk + 2 * L : NULL;
		x->has_label = it->has_label;
		x->steps = st->steps[j];
		x->q_halt = st->qh[j];
		x->q_continue = st->qc[j];
		x->halt_confidence = 1.0 / (1.0 + exp(-(double)st->qh[j]));
		x->reason = (trmx_halt_reason)st->reason[j];
		x->status = trmx_run_status_from_reason(x->reason);
		x->latency_ms = ((st->done_at[j] > 0 ? st->done_at[j] : t_solved) - st->t0) * 1000.0;
		j++;
		trmx_error e2;
		if ((rc = trmx_task_decode(st->s->task, x->input, TRMX_TEXT_LINE, &x->input_text, err)) < 0)
			goto fail;
		if (trmx_task_decode(st->s->task, x->answer, TRMX_TEXT_LINE, &x->answer_text, &e2) < 0)
			x->answer_text = NULL; /* PAD in a grid: no text */
		if (x->label && trmx_task_decode(st->s->task, x->label, TRMX_TEXT_LINE, &x->expected_text, &e2) < 0)
			x->expected_text = NULL;
		if (!(x->answer_tokens = tokens_text(x->answer, L))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto fail;
		}
		if ((rc = trmx_task_check(st->s->task, x->input, x->answer, x->label, &x->check, err)) < 0)
			goto fail;
		if (x->label) {
			int sup = 0, wrong = 0;
			for (int q = 0; q < L; q++) {
				sup += x->label[q] != 0;
				wrong += x->label[q] != 0 && x->answer[q] != x->label[q];
			}
			x->matches_label = sup > 0 && wrong == 0;
		}
		if (req->render) {
			trmx_render_options ro = *req->render;
			ro.highlight = NULL;
			ro.puzzle = NULL;
			if ((rc = trmx_task_render(st->s->task, x->input, &ro, &x->input_render, err)) < 0)
				goto fail;
			ro.puzzle = x->input;
			if ((rc = trmx_task_render(st->s->task, x->answer, &ro, &x->answer_render, err)) < 0)
				goto fail;
		}
	}
	st->res->tokens = sc->tok;
	sc->tok = NULL;
	r->check_ms = ms_since(t_solved);
	st->s->last_used = ++h->tick;
	*out = r;
	st->res = NULL;
	trmx_staged_free(st);
	return 0;
fail:
	trmx_staged_free(st);
	return rc;
}

/* ---- Log records: one making for dispatch and evaluation ----------------------------------- */

/* What a run record takes from the resolution and the call; the caller adds the run's own fields. */
static void record_start(trmx_run_record *c, const trmx_resolution *rs, trmx_run_kind kind, const char *batch_id,
			 int64_t time_ms, const char *context, const char *learner, const char *engine,
			 const char *task_params, trmx_halt_mode halt, int max_steps)
{
	*c = (trmx_run_record)TRMX_RUN_RECORD_INIT;
	c->time_ms = time_ms;
	c->kind = kind;
	c->batch_id = batch_id;
	c->context = context;
	c->learner = learner;
	c->target = rs->target;
	c->module = rs->module;
	c->module_version = rs->module_version;
	c->digest = rs->digest;
	c->alias = rs->alias[0] ? rs->alias : NULL;
	c->arm = rs->arm;
	c->engine = engine;
	c->task = rs->codec;
	c->task_params = task_params;
	c->halt = halt;
	c->max_steps = max_steps;
}

/* The checker's verdict on run `run_id` as feedback (its comment points into `check`): its id is
 * derived from the run's, so a retried run adds no second verdict. */
static void checker_feedback(trmx_feedback_record *f, const char *run_id, int64_t time_ms, const trmx_check *check)
{
	*f = (trmx_feedback_record)TRMX_FEEDBACK_RECORD_INIT;
	trmx_uuid_derived(f->id, "checker", run_id);
	f->run_id = run_id;
	f->time_ms = time_ms;
	f->source = TRMX_FEEDBACK_CHECKER;
	f->verdict = check->verdict == TRMX_VERDICT_VALID ? TRMX_FEEDBACK_CORRECT : TRMX_FEEDBACK_INCORRECT;
	f->comment = check->message[0] ? check->message : NULL;
}

int trmx_dispatch_records(const trmx_dispatch_result *r, unsigned flags, trmx_run_record **recs_out,
			  trmx_feedback_record **fbs_out, size_t *nf_out, trmx_error *err)
{
	size_t n = r->n ? r->n : 1, nf = 0;
	trmx_run_record *recs = trmx_xcalloc(n, sizeof *recs);
	trmx_feedback_record *fbs = trmx_xcalloc(n, sizeof *fbs);
	if (!recs || !fbs) {
		free(recs);
		free(fbs);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	const trmx_resolution *rs = &r->resolution;
	for (size_t k = 0; k < r->n; k++) {
		const trmx_run_result *x = &r->runs[k];
		trmx_run_record *c = &recs[k];
		record_start(c, rs, r->kind, r->batch_id[0] ? r->batch_id : NULL, r->time_ms,
			     rs->context[0] ? rs->context : NULL, r->learner[0] ? r->learner : NULL, r->engine,
			     r->task_params, r->halt, r->max_steps);
		memcpy(c->id, x->run_id, sizeof c->id);
		c->input = x->input_text ? x->input_text : "";
		c->output = x->answer_text;
		c->output_tokens = x->answer_tokens;
		c->steps = x->status == TRMX_RUN_ERROR ? -1 : x->steps;
		c->q_halt = x->status == TRMX_RUN_ERROR ? NAN : (double)x->q_halt;
		c->verdict = x->check.verdict;
		c->problem = x->check.problem != TRMX_CHECK_NONE ? trmx_check_problem_name(x->check.problem) : NULL;
		c->latency_ms = x->latency_ms;
		c->status = x->status;
		c->error = x->error;
		if (x->status != TRMX_RUN_ERROR && x->check.verdict != TRMX_VERDICT_UNKNOWN &&
		    !(flags & TRMX_DISPATCH_NO_CHECKER_FEEDBACK))
			checker_feedback(&fbs[nf++], x->run_id, r->time_ms, &x->check);
	}
	*recs_out = recs;
	*fbs_out = fbs;
	*nf_out = nf;
	return 0;
}

/* ---- Evaluations on a lease ------------------------------------------------------------------- */

#define EVLOG_CHUNK 256

/* An evaluation's items go to the log in transactions of EVLOG_CHUNK runs. */
struct evlog {
	trmx_log_db *log;
	const trmx_lease *lease;
	const char *context;
	char batch_id[TRMX_UUID_SIZE];
	trmx_halt_mode halt;
	int max_steps;
	int64_t time_ms;
	trmx_run_record recs[EVLOG_CHUNK];
	trmx_feedback_record fbs[2 * EVLOG_CHUNK];
	char *strs[EVLOG_CHUNK][4]; /* input, output, tokens, expected */
	trmx_check checks[EVLOG_CHUNK];
	size_t n, nf;
	int64_t written; /* new runs and feedback rows */
	bool failed;
	trmx_error err;
};

static void evlog_clear(struct evlog *e)
{
	for (size_t i = 0; i < e->n; i++)
		for (int k = 0; k < 4; k++) {
			trmx_task_text_free(e->strs[i][k]);
			e->strs[i][k] = NULL;
		}
	e->n = e->nf = 0;
}

static int evlog_flush(struct evlog *e)
{
	if (!e->n || e->failed)
		return e->failed ? -1 : 0;
	size_t inserted = 0;
	int rc = trmx_log_write(e->log, e->recs, e->n, e->fbs, e->nf, &inserted, &e->err);
	e->written += rc == 0 ? (int64_t)inserted : 0;
	evlog_clear(e);
	if (rc < 0)
		e->failed = true;
	return rc;
}

static int evlog_item(void *user, const trmx_eval_item *it)
{
	struct evlog *e = user;
	if (e->failed)
		return 1;
	size_t i = e->n;
	char **strs = e->strs[i];
	trmx_task *task = e->lease->s->task;
	trmx_run_record *r = &e->recs[i];
	record_start(r, &e->lease->res, TRMX_RUN_KIND_EVAL, e->batch_id, e->time_ms, e->context,
		     trmx_lease_learner(e->lease), e->lease->s->engine, e->lease->s->task_params, e->halt, e->max_steps);
	/* item k of batch B on package P is the run derived from all three, and its verdicts are
	 * derived from the run: the same evaluation run again (the same batch id, after a crash) logs
	 * each of them once, and a batch id reused on another module makes new runs */
	char item[48 + TRMX_SHA256_HEX_SIZE];
	snprintf(item, sizeof item, "eval item %lld of %s", (long long)it->index, e->lease->res.digest);
	trmx_uuid_derived(r->id, item, e->batch_id);
	if (trmx_task_decode(task, it->input, TRMX_TEXT_LINE, &strs[0], NULL) < 0)
		strs[0] = tokens_text(it->input, it->seq_len);
	if (trmx_task_decode(task, it->pred, TRMX_TEXT_LINE, &strs[1], NULL) < 0) {
		strs[1] = NULL;
		strs[2] = tokens_text(it->pred, it->seq_len);
	}
	if (it->labelled && trmx_task_decode(task, it->label, TRMX_TEXT_LINE, &strs[3], NULL) < 0)
		strs[3] = NULL;
	if (!strs[0]) {
		e->failed = true;
		trmx_error_set(&e->err, TRMX_ENOMEM, "out of memory");
		return 1;
	}
	r->input = strs[0];
	r->output = strs[1];
	r->output_tokens = strs[2];
	r->steps = it->steps;
	r->q_halt = it->q_halt;
	r->verdict = it->check ? it->check->verdict : TRMX_VERDICT_UNKNOWN;
	r->problem = it->check && it->check->problem != TRMX_CHECK_NONE ? trmx_check_problem_name(it->check->problem) : NULL;
	r->status = trmx_run_status_from_reason(it->reason);
	if (r->verdict != TRMX_VERDICT_UNKNOWN) {
		e->checks[i] = *it->check; /* the item's check lives for this call; the row is written at the flush */
		checker_feedback(&e->fbs[e->nf++], r->id, e->time_ms, &e->checks[i]);
	}
	if (it->labelled) {
		trmx_feedback_record *f = &e->fbs[e->nf++];
		*f = (trmx_feedback_record)TRMX_FEEDBACK_RECORD_INIT;
		f->run_id = r->id;
		trmx_uuid_derived(f->id, "eval", r->id);
		f->time_ms = e->time_ms;
		f->source = TRMX_FEEDBACK_EVAL;
		f->verdict = it->exact ? TRMX_FEEDBACK_CORRECT : it->open_correct > 0 ? TRMX_FEEDBACK_PARTIAL
										    : TRMX_FEEDBACK_INCORRECT;
		f->score = it->open ? (double)it->open_correct / it->open
				    : it->supervised ? (double)it->correct / it->supervised : 0.0;
		f->expected = strs[3];
	}
	e->n++;
	return e->n == EVLOG_CHUNK && evlog_flush(e) < 0 ? 1 : 0;
}

int trmx_host_eval(trmx_host *h, const trmx_lease *lease, const trmx_dataset *ds, const trmx_host_eval_options *opts,
		   trmx_eval_result *out, char batch_id[TRMX_UUID_SIZE], int64_t *logged, trmx_error *err)
{
	static const trmx_host_eval_options defaults = TRMX_HOST_EVAL_OPTIONS_INIT;
	if (!h || !lease || !ds || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_eval: missing argument");
	if (!opts)
		opts = &defaults;
	if (!trmx_version_ok(opts->version, TRMX_HOST_EVAL_OPTIONS_VERSION))
		return trmx_version_refused(err, "host eval options", opts->version, TRMX_HOST_EVAL_OPTIONS_VERSION);
	if (opts->batch_id && !trmx_uuid_valid(opts->batch_id))
		return trmx_error_set(err, TRMX_EINVAL, "batch id '%.40s' is not a UUID", opts->batch_id);
	if (logged)
		*logged = 0;
	struct evlog *e = NULL;
	int rc;
	if (!(h->flags & TRMX_HOST_NO_LOG)) {
		if (!(e = trmx_xcalloc(1, sizeof *e)))
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		if ((rc = trmx_host_log(h, &e->log, err)) < 0) {
			free(e);
			return rc;
		}
		e->lease = lease;
		e->context = opts->context ? opts->context : lease->res.context[0] ? lease->res.context : NULL;
		if (opts->batch_id)
			snprintf(e->batch_id, sizeof e->batch_id, "%s", opts->batch_id);
		else
			trmx_uuid7(e->batch_id);
		e->halt = opts->eval.halt;
		e->max_steps = opts->eval.max_steps;
		e->time_ms = trmx_now_ms();
	}
	rc = trmx_eval_run(lease->s->model, lease->s->task, ds, &opts->eval, e ? evlog_item : NULL, e, out, err);
	if (e && rc == 0)
		evlog_flush(e);
	if (e && e->failed) /* the log's error, not the cancellation it caused */
		rc = trmx_error_set(err, e->err.code ? e->err.code : TRMX_ERROR, "%s", e->err.message);
	if (e) {
		if (batch_id)
			memcpy(batch_id, e->batch_id, TRMX_UUID_SIZE);
		if (logged)
			*logged = e->written;
		evlog_clear(e);
		free(e);
	} else if (batch_id) {
		batch_id[0] = '\0';
	}
	return rc;
}

int trmx_host_dispatch(trmx_host *h, const trmx_dispatch *req, trmx_dispatch_result **out, trmx_error *err)
{
	if (!h || !req || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_dispatch: missing argument");
	trmx_staged *st = NULL;
	trmx_dispatch_result *r = NULL;
	trmx_run_record *recs = NULL;
	trmx_feedback_record *fbs = NULL;
	int rc;
	if ((rc = trmx_host_stage(h, req, &st, err)) < 0)
		return rc;
	double t0 = st->t0;
	if ((rc = stage_solve(st, err)) < 0) {
		trmx_staged_free(st);
		return rc;
	}
	if ((rc = trmx_host_finish(h, st, &r, err)) < 0)
		return rc;
	double t = trmx_mono_s();
	if (!(h->flags & TRMX_HOST_NO_LOG) && !(req->flags & TRMX_DISPATCH_NO_LOG)) {
		trmx_log_db *log;
		size_t nf = 0;
		if ((rc = trmx_host_log(h, &log, err)) < 0 ||
		    (rc = trmx_dispatch_records(r, req->flags, &recs, &fbs, &nf, err)) < 0 ||
		    (rc = trmx_log_write(log, recs, r->n, fbs, nf, &r->logged, err)) < 0)
			goto fail;
	}
	r->log_ms = ms_since(t);
	r->total_ms = ms_since(t0);
	free(recs);
	free(fbs);
	*out = r;
	return 0;
fail:
	free(recs);
	free(fbs);
	trmx_dispatch_result_free(r);
	return rc;
}
