/*
 * api.c — trmx serve's routes besides solve and metrics: health, feedback, what is bound and
 * installed, the history, the report, and the course creator's changes (bind, alias, rollback,
 * quarantine, install of an uploaded package), each recorded in the history with the token's
 * name as the actor and seen by the next solve without a restart (the host resolves every
 * dispatch afresh). docs/HTTP.md documents every body.
 */
#define _GNU_SOURCE
#include <math.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api.h"
#include "trmx/report.h"

/* ---- JSON helpers -------------------------------------------------------------------------------- */

json_t *trmx__json_error_body(const char *code, const char *message)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : "");
}

int trmx__http_status_of(int code)
{
	switch (code) {
	case TRMX_ENOTFOUND: return 404;
	case TRMX_EINVAL:
	case TRMX_EFORMAT:
	case TRMX_ELIMIT:
	case TRMX_EVERSION:
	case TRMX_ESHAPE:
	case TRMX_EDTYPE: return 400;
	case TRMX_EINTEGRITY: return 422;
	case TRMX_EEXIST: return 409;
	case TRMX_ERROR: return 409; /* refused by the registry's rules: a quarantined version, a failed self-test */
	default: return 500;
	}
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

static json_t *number_or_null(double v)
{
	return isfinite(v) ? json_real(v) : json_null();
}

json_t *trmx__solve_json(const trmx_dispatch_result *r)
{
	const trmx_resolution *rs = &r->resolution;
	json_t *runs = json_array();
	for (size_t i = 0; i < r->n; i++) {
		const trmx_run_result *x = &r->runs[i];
		json_t *cells = json_array();
		for (int k = 0; k < x->check.ncells; k++)
			json_array_append_new(cells, json_integer(x->check.cells[k]));
		json_t *o = json_object();
		json_object_set_new(o, "run_id", json_string(x->run_id));
		json_object_set_new(o, "status", json_string(trmx_run_status_name(x->status)));
		json_object_set_new(o, "puzzle", str_or_null(x->input_text));
		if (x->status == TRMX_RUN_ERROR) {
			json_object_set_new(o, "error", json_string(x->error ? x->error : "failed"));
			json_decref(cells);
		} else {
			json_object_set_new(o, "answer", str_or_null(x->answer_text));
			json_object_set_new(o, "steps", json_integer(x->steps));
			json_object_set_new(o, "halt_confidence", number_or_null(x->halt_confidence));
			json_object_set_new(o, "q_halt", number_or_null(x->q_halt));
			json_object_set_new(o, "verdict", json_string(trmx_verdict_name(x->check.verdict)));
			json_object_set_new(o, "problem", x->check.problem != TRMX_CHECK_NONE
								  ? json_string(trmx_check_problem_name(x->check.problem))
								  : json_null());
			json_object_set_new(o, "message", str_or_null(x->check.message));
			json_object_set_new(o, "cells", cells);
			json_object_set_new(o, "latency_ms", number_or_null(x->latency_ms));
		}
		json_array_append_new(runs, o);
	}
	json_t *o = json_object();
	json_object_set_new(o, "context", str_or_null(rs->context));
	json_object_set_new(o, "module", json_string(rs->module));
	json_object_set_new(o, "version", json_string(rs->module_version));
	json_object_set_new(o, "digest", json_string(rs->digest));
	json_object_set_new(o, "target", json_string(rs->target));
	json_object_set_new(o, "alias", str_or_null(rs->alias));
	json_object_set_new(o, "arm", json_string(trmx_arm_name(rs->arm)));
	json_object_set_new(o, "engine", json_string(r->engine));
	json_object_set_new(o, "task", json_string(rs->codec));
	json_object_set_new(o, "task_params", json_string(r->task_params));
	json_object_set_new(o, "halt", json_string(r->halt == TRMX_HALT_ADAPTIVE ? "adaptive" : "fixed"));
	json_object_set_new(o, "batch_id", str_or_null(r->batch_id));
	json_object_set_new(o, "runs", runs);
	return o;
}

const char *trmx__serve_query(struct serve_call *call, const char *key)
{
	const char *v = MHD_lookup_connection_value(call->conn, MHD_GET_ARGUMENT_KIND, key);
	return v && *v ? v : NULL;
}

const char *trmx__serve_header(struct serve_call *call, const char *name)
{
	return MHD_lookup_connection_value(call->conn, MHD_HEADER_KIND, name);
}

struct form {
	json_t *o;
	bool bad;
};

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key, const char *filename,
				  const char *content_type, const char *transfer_encoding, const char *data, uint64_t off,
				  size_t size)
{
	struct form *f = cls;
	json_t *old = json_object_get(f->o, key);
	const char *prev = old ? json_string_value(old) : "";
	size_t pl = old ? json_string_length(old) : 0;
	if (off != pl) { /* a repeated key: refused, a form here has each field once */
		f->bad = true;
		return MHD_NO;
	}
	char *v = malloc(pl + size + 1);
	if (!v) {
		f->bad = true;
		return MHD_NO;
	}
	memcpy(v, prev, pl);
	memcpy(v + pl, data, size);
	v[pl + size] = 0;
	json_t *js = json_stringn(v, pl + size);
	free(v);
	if (!js || json_object_set_new(f->o, key, js) < 0) {
		f->bad = true;
		return MHD_NO;
	}
	return MHD_YES;
}

json_t *trmx__serve_form(struct serve_call *call)
{
	struct form f = { json_object(), false };
	if (!f.o)
		return NULL;
	if (call->body && call->len) {
		struct MHD_PostProcessor *pp = MHD_create_post_processor(call->conn, 4096, form_field, &f);
		if (!pp || MHD_post_process(pp, call->body, call->len) != MHD_YES)
			f.bad = true;
		if (pp && MHD_destroy_post_processor(pp) != MHD_YES)
			f.bad = true;
	}
	if (f.bad) {
		json_decref(f.o);
		return NULL;
	}
	return f.o;
}

static int fail(struct serve_call *call, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct serve_call *call, int status, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(call->why, sizeof call->why, fmt, ap);
	va_end(ap);
	return status;
}

static int fail_err(struct serve_call *call, const trmx_error *err)
{
	return fail(call, trmx__http_status_of(err->code), "%s", err->message);
}

/* Is the call's token limited to some contexts? (Such a token sees and changes those only.) */
static bool token_restricted(struct serve_call *call)
{
	trmx_server *s = call->s;
	bool yes = false;
	pthread_mutex_lock(&s->tokens_mu);
	for (size_t i = 0; s->tokens && call->token[0] && i < trmx_tokens_count(s->tokens); i++) {
		const trmx_token_info *t = trmx_tokens_entry(s->tokens, i);
		if (!strcmp(t->name, call->token)) {
			yes = t->ncontexts > 0;
			break;
		}
	}
	pthread_mutex_unlock(&s->tokens_mu);
	return yes;
}

/* May the call's token read `context`? */
static bool may_read(struct serve_call *call, const char *context)
{
	trmx_server *s = call->s;
	if (!call->token[0])
		return true;
	pthread_mutex_lock(&s->tokens_mu);
	bool ok = s->tokens && trmx_tokens_allows(s->tokens, call->token, TRMX_SCOPE_READ, context);
	pthread_mutex_unlock(&s->tokens_mu);
	return ok;
}

/* The body as a JSON object, or a 400. */
static int body_object(struct serve_call *call, json_t **out)
{
	json_error_t jerr;
	json_t *b = json_loadb(call->body ? call->body : "", call->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!b)
		return fail(call, 400, "the body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line, jerr.column);
	if (!json_is_object(b)) {
		json_decref(b);
		return fail(call, 400, "the body must be a JSON object");
	}
	*out = b;
	return 0;
}

/* A string field: required or optional (NULL when absent); 400 when of another type. */
static int field_string(struct serve_call *call, json_t *b, const char *key, bool required, const char **out)
{
	json_t *v = json_object_get(b, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return required ? fail(call, 400, "'%s' is required", key) : 0;
	if (!json_is_string(v))
		return fail(call, 400, "'%s' must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* Refuse fields outside `known` (NULL-terminated): a misspelt field is an error, not ignored. */
static int only_fields(struct serve_call *call, json_t *b, const char *const *known)
{
	const char *key;
	json_t *v;
	json_object_foreach(b, key, v) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok |= !strcmp(key, known[i]);
		if (!ok)
			return fail(call, 400, "unknown field '%.64s'", key);
	}
	return 0;
}

/* ---- Health -------------------------------------------------------------------------------------- */

static int readyz(struct serve_call *call)
{
	trmx_server *s = call->s;
	trmx_error err = { 0, "" };
	int64_t g = 0;
	pthread_mutex_lock(&s->host_mu);
	trmx_log_db *log;
	int rc = trmx_registry_generation(trmx_host_registry(s->host), &g, &err);
	if (rc == 0)
		rc = trmx_host_log(s->host, &log, &err);
	pthread_mutex_unlock(&s->host_mu);
	pthread_mutex_lock(&s->mu);
	bool stopping = s->stopping;
	size_t queued = s->queued;
	pthread_mutex_unlock(&s->mu);
	if (rc < 0 || stopping)
		return fail(call, 503, "not ready: %s", stopping ? "shutting down" : err.message);
	call->out = json_pack("{s:s,s:I,s:I}", "status", "ready", "registry_generation", (json_int_t)g, "queued",
			      (json_int_t)queued);
	return 200;
}

/* ---- Feedback ------------------------------------------------------------------------------------ */

static int feedback(struct serve_call *call)
{
	static const char *const known[] = { "verdict", "expected", "comment", "source", "score", "id", NULL };
	trmx_server *s = call->s;
	json_t *b = NULL;
	int st;
	if (!trmx_uuid_valid(call->arg))
		return fail(call, 404, "'%.64s' is not a run id (a UUID)", call->arg);
	if ((st = body_object(call, &b)) || (st = only_fields(call, b, known)))
		goto done;
	const char *verdict, *expected, *comment, *source, *id;
	if ((st = field_string(call, b, "verdict", true, &verdict)) || (st = field_string(call, b, "expected", false, &expected)) ||
	    (st = field_string(call, b, "comment", false, &comment)) || (st = field_string(call, b, "source", false, &source)) ||
	    (st = field_string(call, b, "id", false, &id)))
		goto done;
	trmx_error err = { 0, "" };
	trmx_feedback_record f = TRMX_FEEDBACK_RECORD_INIT;
	f.source = TRMX_FEEDBACK_LEARNER;
	if (trmx_feedback_verdict_parse(verdict, &f.verdict, &err) < 0) {
		st = fail(call, 400, "'verdict': %s", err.message);
		goto done;
	}
	if (source && (trmx_feedback_source_parse(source, &f.source, &err) < 0 ||
		       (f.source != TRMX_FEEDBACK_LEARNER && f.source != TRMX_FEEDBACK_INSTRUCTOR))) {
		st = fail(call, 400, "'source' is \"learner\" or \"instructor\"");
		goto done;
	}
	if (call->session && f.source != TRMX_FEEDBACK_LEARNER) {
		st = fail(call, 403, "a learner's session gives learner feedback only");
		goto done;
	}
	json_t *score = json_object_get(b, "score");
	if (score && !json_is_null(score)) {
		if (!json_is_number(score) || !(json_number_value(score) >= 0 && json_number_value(score) <= 1)) {
			st = fail(call, 400, "'score' must be a number in [0, 1]");
			goto done;
		}
		f.score = json_number_value(score);
	}
	if (comment && strlen(comment) > TRMX_FEEDBACK_TEXT_MAX) {
		st = fail(call, 400, "'comment' is longer than %u bytes", TRMX_FEEDBACK_TEXT_MAX);
		goto done;
	}
	if (id && !trmx_uuid_valid(id)) {
		st = fail(call, 400, "'id' must be a UUID");
		goto done;
	}
	if (id)
		snprintf(f.id, sizeof f.id, "%s", id);
	else
		trmx_uuid7(f.id); /* made here so the answer can name it */

	trmx_run_info run;
	trmx_log_db *log;
	char *canon = NULL;
	size_t added = 0;
	pthread_mutex_lock(&s->host_mu);
	int rc = trmx_host_log(s->host, &log, &err);
	if (rc == 0)
		rc = trmx_log_run_get(log, call->arg, &run, &err);
	pthread_mutex_unlock(&s->host_mu);
	if (rc == TRMX_ENOTFOUND) { /* the log's message names its path: not for the network */
		st = fail(call, 404, "no run %s in the log", call->arg);
		goto done;
	}
	if (rc < 0) {
		st = fail_err(call, &err);
		goto done;
	}
	if (!run.context[0] && token_restricted(call)) {
		st = fail(call, 403, "token '%s' may give feedback in some contexts only, and run %s has none", call->token,
			  run.id);
		goto done;
	}
	if ((st = trmx__serve_authorize_context(call, TRMX_SCOPE_FEEDBACK, run.context[0] ? run.context : NULL)))
		goto done;
	if (expected) { /* the correction: read with the run's codec, passed by its checker, kept in one-line form */
		pthread_mutex_lock(&s->host_mu);
		rc = trmx_log_correction_check(log, &run, f.verdict, expected, strlen(expected), &canon, &err);
		pthread_mutex_unlock(&s->host_mu);
		if (rc < 0) {
			st = fail(call, rc == TRMX_ENOMEM ? 500 : 400, "'expected': %s", err.message);
			goto fb_done;
		}
	}
	f.run_id = run.id;
	f.expected = canon;
	f.comment = comment;
	pthread_mutex_lock(&s->host_mu);
	rc = trmx_log_feedback(log, &f, 1, &added, &err);
	pthread_mutex_unlock(&s->host_mu);
	if (rc < 0) {
		st = fail_err(call, &err);
		goto fb_done;
	}
	call->out = json_pack("{s:s,s:s,s:b,s:s,s:s,s:o}", "feedback_id", f.id, "run_id", run.id, "recorded", added > 0,
			      "verdict", trmx_feedback_verdict_name(f.verdict), "source", trmx_feedback_source_name(f.source),
			      "expected", str_or_null(canon));
	st = added ? 201 : 200;
	if (added)
		trmx__xapi_wake(s);
fb_done:
	trmx_task_text_free(canon);
done:
	json_decref(b);
	return st;
}

/* ---- Reading ------------------------------------------------------------------------------------- */

static json_t *serving_json(trmx_registry *reg, const char *name)
{
	trmx_resolution res;
	trmx_error err;
	if (trmx_registry_resolve(reg, name, NULL, &res, &err) < 0)
		return json_pack("{s:s}", "error", err.message);
	return json_pack("{s:s,s:s,s:s,s:o,s:s,s:s,s:s}", "module", res.module, "version", res.module_version, "digest",
			 res.digest, "alias", str_or_null(res.alias), "engine", res.engine, "task", res.codec, "task_params",
			 res.codec_params);
}

static json_t *binding_json(trmx_registry *reg, const trmx_binding_info *b)
{
	json_t *o = json_pack("{s:s,s:s,s:o,s:f,s:s,s:s,s:I}", "context", b->context, "target", b->target, "canary",
			      str_or_null(b->canary), "share", b->share, "updated_at", b->updated_at, "updated_by",
			      b->updated_by, "rollbacks", (json_int_t)b->rollbacks);
	json_object_set_new(o, "serving", serving_json(reg, b->context));
	if (b->canary[0])
		json_object_set_new(o, "canary_serving", serving_json(reg, b->canary));
	return o;
}

static int contexts(struct serve_call *call, const char *one)
{
	trmx_server *s = call->s;
	trmx_binding_info *bs = NULL;
	size_t n = 0;
	trmx_error err = { 0, "" };
	pthread_mutex_lock(&s->host_mu);
	trmx_registry *reg = trmx_host_registry(s->host);
	int rc = trmx_registry_bindings(reg, one, &bs, &n, &err);
	json_t *arr = json_array();
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (may_read(call, bs[i].context))
			json_array_append_new(arr, binding_json(reg, &bs[i]));
	pthread_mutex_unlock(&s->host_mu);
	free(bs);
	if (rc < 0) {
		json_decref(arr);
		return fail_err(call, &err);
	}
	if (one) {
		if (!json_array_size(arr)) {
			json_decref(arr);
			return fail(call, 404, "no context '%.200s' is bound", one);
		}
		call->out = json_incref(json_array_get(arr, 0));
		json_decref(arr);
	} else {
		call->out = json_pack("{s:o}", "contexts", arr);
	}
	return 200;
}

static int modules(struct serve_call *call)
{
	trmx_server *s = call->s;
	trmx_version_info *vs = NULL;
	trmx_alias_info *as = NULL;
	size_t nv = 0, na = 0;
	trmx_error err = { 0, "" };
	pthread_mutex_lock(&s->host_mu);
	trmx_registry *reg = trmx_host_registry(s->host);
	int rc = trmx_registry_versions(reg, NULL, &vs, &nv, &err);
	if (rc == 0)
		rc = trmx_registry_aliases(reg, NULL, &as, &na, &err);
	pthread_mutex_unlock(&s->host_mu);
	if (rc < 0) {
		free(vs);
		free(as);
		return fail_err(call, &err);
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < nv; i++) {
		json_t *al = json_array();
		for (size_t a = 0; a < na; a++)
			if (!strcmp(as[a].module, vs[i].module) && !strcmp(as[a].module_version, vs[i].module_version))
				json_array_append_new(al, json_string(as[a].alias));
		json_array_append_new(arr, json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:s,s:s,s:s,s:I,s:i,s:i,s:s,s:s,s:o}", "module",
						     vs[i].module, "version", vs[i].module_version, "digest", vs[i].digest,
						     "quarantined", vs[i].quarantined, "engine", vs[i].engine, "task",
						     vs[i].codec, "task_params", vs[i].codec_params, "description",
						     vs[i].description, "signature", vs[i].signature, "package_bytes",
						     (json_int_t)vs[i].package_bytes, "examples", vs[i].examples,
						     "examples_solved", vs[i].examples_solved, "installed_at",
						     vs[i].installed_at, "installed_by", vs[i].installed_by, "aliases", al));
	}
	free(vs);
	free(as);
	call->out = json_pack("{s:o}", "modules", arr);
	return 200;
}

static int history(struct serve_call *call)
{
	trmx_server *s = call->s;
	const char *subject = trmx__serve_query(call, "subject"), *limit = trmx__serve_query(call, "limit");
	long lim = 100;
	if (limit) {
		char *end;
		lim = strtol(limit, &end, 10);
		if (*end || lim < 1 || lim > 100000)
			return fail(call, 400, "'limit' is a whole number in [1, 100000]");
	}
	trmx_history_entry *hs = NULL;
	size_t n = 0;
	trmx_error err = { 0, "" };
	pthread_mutex_lock(&s->host_mu);
	int rc = trmx_registry_history(trmx_host_registry(s->host), subject, lim, &hs, &n, &err);
	pthread_mutex_unlock(&s->host_mu);
	if (rc < 0)
		return fail_err(call, &err);
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		if (strchr(hs[i].subject, '@') || may_read(call, hs[i].subject)) /* a module's, or a context's */
			json_array_append_new(arr, json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:o}", "id", (json_int_t)hs[i].id, "at",
						     hs[i].at, "actor", hs[i].actor, "action", hs[i].action, "subject",
						     hs[i].subject, "old", str_or_null(hs[i].old_value), "new",
						     str_or_null(hs[i].new_value), "detail", str_or_null(hs[i].detail)));
	free(hs);
	call->out = json_pack("{s:o}", "history", arr);
	return 200;
}

/* ?kind=: run, eval, selftest or all, or a comma list of the first three, into TRMX_REPORT_KIND_*;
 * false for anything else. */
static bool report_kinds(const char *k, unsigned *out)
{
	static const char *const names[] = { "run", "eval", "selftest" };
	unsigned kinds = 0;
	if (!strcmp(k, "all")) {
		*out = TRMX_REPORT_KIND_ALL;
		return true;
	}
	for (const char *p = k;; p++) {
		size_t n = strcspn(p, ","), j = 0;
		while (j < 3 && (strlen(names[j]) != n || strncmp(p, names[j], n)))
			j++;
		if (j == 3)
			return false;
		kinds |= 1u << j;
		p += n;
		if (!*p)
			break;
	}
	*out = kinds;
	return true;
}

static int report(struct serve_call *call)
{
	trmx_server *s = call->s;
	trmx_report_options o = TRMX_REPORT_OPTIONS_INIT;
	trmx_error err = { 0, "" };
	const char *since = trmx__serve_query(call, "since"), *until = trmx__serve_query(call, "until");
	const char *format = trmx__serve_query(call, "format"), *table = trmx__serve_query(call, "table");
	const char *kind = trmx__serve_query(call, "kind");
	/* context=course/ followed by a star is every context that begins with course/ (as trmx report
	 * --context): the token must be allowed that pattern itself, which a token's own pattern for
	 * course/ or c is, and a token of course/a only is not */
	o.context = trmx__serve_query(call, "context");
	o.module = trmx__serve_query(call, "module");
	/* the learners' runs by default, as trmx report: an evaluation's runs would change their figures */
	o.kinds = TRMX_REPORT_KIND_RUN;
	if (kind && !report_kinds(kind, &o.kinds))
		return fail(call, 400,
			    "'kind' is run (the default: the learners' runs), eval, selftest, a comma list of "
			    "them, or all");
	int st;
	if ((st = trmx__serve_authorize_context(call, TRMX_SCOPE_READ, o.context)))
		return st;
	if (!o.context && token_restricted(call))
		return fail(call, 403, "token '%s' may read some contexts only: name one (?context=)", call->token);
	bool csv = format && !strcmp(format, "csv"); /* one CSV table, for a download */
	if (format && !csv && strcmp(format, "json"))
		return fail(call, 400, "'format' is json (the default) or csv");
	if (table && (!csv || !trmx_report_table_valid(table)))
		return fail(call, 400, "'table' goes with format=csv: groups, versions, steps, calibration, accuracy or canary");
	int64_t now = trmx_now_ms();
	if ((since && trmx_time_parse(since, now, &o.since_ms, &err) < 0) ||
	    (until && trmx_time_parse(until, now, &o.until_ms, &err) < 0))
		return fail(call, 400, "%s", err.message);
	trmx_report *r = NULL;
	char *buf = NULL;
	size_t len = 0;
	if (trmx_report_build(&r, s->home, &o, &err) < 0)
		return fail_err(call, &err);
	FILE *f = open_memstream(&buf, &len);
	int rc = f ? trmx_report_write(r, csv ? TRMX_REPORT_CSV : TRMX_REPORT_JSON, table, f, &err)
		   : trmx_error_set(&err, TRMX_ENOMEM, "out of memory");
	if (f && fclose(f) != 0 && rc == 0)
		rc = trmx_error_set(&err, TRMX_ENOMEM, "out of memory");
	trmx_report_free(r);
	if (rc < 0) {
		free(buf);
		return fail_err(call, &err);
	}
	if (csv) { /* no path of the home is in the CSV tables */
		call->page = buf;
		call->page_len = len;
		call->page_type = "text/csv; charset=utf-8";
		return 200;
	}
	json_error_t jerr;
	call->out = json_loadb(buf, len, 0, &jerr); /* compact like every answer, and without the home's path */
	free(buf);
	if (!call->out)
		return fail(call, 500, "the report is not JSON: %s", jerr.text);
	json_object_del(call->out, "home");
	return 200;
}

/* ---- Changes --------------------------------------------------------------------------------------- */

/* A registry of its own for one change, with the token's name as the actor. */
static int admin_registry(struct serve_call *call, trmx_registry **reg, trmx_error *err)
{
	char actor[TRMX_TOKEN_NAME_MAX + 32];
	snprintf(actor, sizeof actor, "serve:%s", call->token[0] ? call->token : "anonymous");
	trmx_registry_options ro = TRMX_REGISTRY_OPTIONS_INIT;
	ro.actor = actor;
	return trmx_registry_open(reg, call->s->home, &ro, err);
}

/* A change to one context needs an admin token that may use that context; a change to a module
 * (an alias, a quarantine, an install) reaches every context that follows it, so it needs an admin
 * token with no context restriction. */
static int admin_allowed(struct serve_call *call, const char *context)
{
	if (context)
		return trmx__serve_authorize_context(call, TRMX_SCOPE_ADMIN, context);
	if (token_restricted(call))
		return fail(call, 403, "token '%s' may change some contexts only; a change to a module needs an admin "
				       "token for every context", call->token);
	return 0;
}

/* "10%" or 0.1 into [0, 1]. */
static int parse_share(json_t *v, double *out)
{
	if (json_is_number(v)) {
		*out = json_number_value(v);
	} else if (json_is_string(v)) {
		char *end;
		*out = strtod(json_string_value(v), &end) / 100.0;
		if (end == json_string_value(v) || strcmp(end, "%"))
			return -1;
	} else {
		return -1;
	}
	return *out >= 0 && *out <= 1 ? 0 : -1;
}

static int admin(struct serve_call *call, enum route route)
{
	static const char *const bind_f[] = { "context", "target", "canary", "share", "force", NULL };
	static const char *const alias_f[] = { "module", "alias", "version", "force", NULL };
	static const char *const rollback_f[] = { "context", NULL };
	static const char *const quarantine_f[] = { "module", "version", "release", "reason", NULL };
	json_t *b = NULL;
	trmx_registry *reg = NULL;
	trmx_error err = { 0, "" };
	int st, rc = 0;
	if ((st = body_object(call, &b)))
		return st;
	if ((st = admin_registry(call, &reg, &err) < 0 ? fail_err(call, &err) : 0))
		goto done;
	const char *a = NULL, *c = NULL, *d = NULL;
	/* "force": true binds or moves an alias even when the task differs from what a context serves */
	json_t *fv = json_object_get(b, "force");
	unsigned int flags = json_is_true(fv) ? TRMX_BIND_FORCE : 0;
	if (fv && !json_is_boolean(fv)) {
		st = fail(call, 400, "'force' is true or false");
		goto done;
	}
	switch (route) {
	case ROUTE_ADMIN_BIND: {
		double share = 0;
		json_t *sv = json_object_get(b, "share");
		if ((st = only_fields(call, b, bind_f)) || (st = field_string(call, b, "context", true, &a)) ||
		    (st = field_string(call, b, "target", true, &c)) || (st = field_string(call, b, "canary", false, &d)))
			goto done;
		if ((st = admin_allowed(call, a)))
			goto done;
		if (sv && parse_share(sv, &share) < 0) {
			st = fail(call, 400, "'share' is a number in [0, 1] or a percentage like \"10%%\"");
			goto done;
		}
		if (d && !sv) {
			st = fail(call, 400, "a canary needs a 'share'");
			goto done;
		}
		if ((rc = trmx_registry_bind_ex(reg, a, c, d, share, flags, &err)) == 0)
			call->out = json_pack("{s:s,s:s,s:o,s:f}", "context", a, "target", c, "canary", str_or_null(d), "share", share);
		break;
	}
	case ROUTE_ADMIN_ALIAS:
		if ((st = only_fields(call, b, alias_f)) || (st = field_string(call, b, "module", true, &a)) ||
		    (st = field_string(call, b, "alias", true, &c)) || (st = field_string(call, b, "version", true, &d)) ||
		    (st = admin_allowed(call, NULL)))
			goto done;
		if ((rc = trmx_registry_alias_set_ex(reg, a, c, d, flags, &err)) == 0)
			call->out = json_pack("{s:s,s:s,s:s}", "module", a, "alias", c, "version", d);
		break;
	case ROUTE_ADMIN_ROLLBACK:
		if ((st = only_fields(call, b, rollback_f)) || (st = field_string(call, b, "context", true, &a)) ||
		    (st = admin_allowed(call, a)))
			goto done;
		if ((rc = trmx_registry_rollback(reg, a, &err)) == 0) {
			trmx_binding_info *bs = NULL;
			size_t n = 0;
			if (trmx_registry_bindings(reg, a, &bs, &n, &err) == 0)
				call->out = n ? binding_json(reg, &bs[0]) : json_pack("{s:s,s:n}", "context", a, "target");
			free(bs);
		}
		break;
	case ROUTE_ADMIN_QUARANTINE: {
		json_t *rel = json_object_get(b, "release");
		if ((st = only_fields(call, b, quarantine_f)) || (st = field_string(call, b, "module", true, &a)) ||
		    (st = field_string(call, b, "version", true, &c)) || (st = field_string(call, b, "reason", false, &d)) ||
		    (st = admin_allowed(call, NULL)))
			goto done;
		if (rel && !json_is_boolean(rel)) {
			st = fail(call, 400, "'release' is true or false");
			goto done;
		}
		bool q = !json_is_true(rel);
		if ((rc = trmx_registry_quarantine(reg, a, c, q, d, &err)) == 0)
			call->out = json_pack("{s:s,s:s,s:b}", "module", a, "version", c, "quarantined", q);
		break;
	}
	default: st = fail(call, 404, "no such route"); goto done;
	}
	st = rc < 0 ? fail_err(call, &err) : 200;
done:
	trmx_registry_free(reg);
	json_decref(b);
	return st;
}

static int install(struct serve_call *call)
{
	trmx_registry *reg = NULL;
	trmx_error err = { 0, "" };
	trmx_install_result res;
	int st;
	if ((st = admin_allowed(call, NULL)))
		return st;
	if (!call->upload || call->len == 0)
		return fail(call, 400, "the body must be the .trmx package (Content-Type: application/octet-stream)");
	if (admin_registry(call, &reg, &err) < 0)
		return fail_err(call, &err);
	trmx_install_options io = TRMX_INSTALL_OPTIONS_INIT;
	io.plugin_dir = call->s->opts.plugin_dir;
	int rc = trmx_registry_install(reg, call->upload, &io, &res, &err);
	trmx_registry_free(reg);
	if (rc < 0) { /* the message names the temporary file: say "the uploaded package" instead */
		char msg[sizeof err.message];
		size_t o = 0, ul = strlen(call->upload);
		for (const char *p = err.message; *p && o + 1 < sizeof msg;) {
			if (!strncmp(p, call->upload, ul)) {
				o += (size_t)snprintf(msg + o, sizeof msg - o, "the uploaded package");
				p += ul;
			} else {
				msg[o++] = *p++;
			}
		}
		msg[o < sizeof msg ? o : sizeof msg - 1] = 0;
		return fail(call, trmx__http_status_of(err.code), "%s", msg);
	}
	call->out = json_pack("{s:s,s:s,s:s,s:b,s:i,s:i,s:i,s:f,s:b,s:i,s:i}", "module", res.module, "version",
			      res.module_version, "digest", res.digest, "already", res.already, "examples", res.examples,
			      "examples_labelled", res.examples_labelled, "examples_solved", res.examples_solved,
			      "token_accuracy", res.token_accuracy, "db_created", res.db_created, "migrations_applied",
			      res.migrations_applied, "schema_version", res.schema_version);
	return res.already ? 200 : 201;
}

int trmx__api_handle(struct serve_call *call, enum route route)
{
	switch (route) {
	case ROUTE_HEALTHZ: call->out = json_pack("{s:s}", "status", "ok"); return 200;
	case ROUTE_READYZ: return readyz(call);
	case ROUTE_FEEDBACK: return feedback(call);
	case ROUTE_CONTEXTS: return contexts(call, NULL);
	case ROUTE_CONTEXT: return contexts(call, call->arg);
	case ROUTE_MODULES: return modules(call);
	case ROUTE_HISTORY: return history(call);
	case ROUTE_REPORT: return report(call);
	case ROUTE_ADMIN_INSTALL: return install(call);
	case ROUTE_ADMIN_BIND:
	case ROUTE_ADMIN_ALIAS:
	case ROUTE_ADMIN_ROLLBACK:
	case ROUTE_ADMIN_QUARANTINE: return admin(call, route);
	default: return fail(call, 404, "no such route");
	}
}
