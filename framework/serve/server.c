/*
 * server.c — trmx serve's HTTP side (libmicrohttpd, a thread per connection): starting and
 * stopping, routing, bearer tokens, request bodies and their limits, the solve route (JSON or a
 * Server-Sent Events stream of every ACT step), the access log and the per-request metrics. The
 * other routes are in api.c, the batches in batch.c.
 */
#define _GNU_SOURCE /* strcasestr */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "serve/api.h"
#include "serve/serve_int.h"

#define DEFAULT_LISTEN "127.0.0.1:8080"
#define DEFAULT_MAX_QUEUE 4096
#define DEFAULT_MAX_BODY (1u << 20)
#define DEFAULT_BATCH 64
#define DEFAULT_CONNECTIONS 256
#define SSE_KEEPALIVE_S 15.0

/* ---- Requests ------------------------------------------------------------------------------------ */

struct req {
	trmx_server *s;
	double t0;
	enum route route;
	char method[8];
	char *arg;             /* the context of /v1/contexts/..., the run id of /v1/runs/... */
	int status;            /* answered with */
	char token[TRMX_TOKEN_NAME_MAX + 1]; /* the token's name, "" without authentication */
	bool answered;         /* a response is queued */
	const char *allow;     /* the Allow header of a 405 */
	char *body;            /* the JSON body */
	size_t len, cap, limit;
	bool too_large;
	int upload_fd;         /* POST /v1/admin/install: the package, written to a temporary file */
	char *upload_path;
	struct session_info session; /* a session token's (has_session) */
	bool has_session;
	char *url;             /* the path */
};

static enum MHD_Result queue(struct MHD_Connection *c, struct req *r, int status, struct MHD_Response *resp)
{
	if (!resp)
		return MHD_NO;
	r->status = status;
	r->answered = true;
	enum MHD_Result ok = MHD_queue_response(c, (unsigned)status, resp);
	MHD_destroy_response(resp);
	return ok;
}

static struct MHD_Response *text_response(const char *type, char *text)
{
	if (!text)
		return NULL;
	struct MHD_Response *resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return NULL;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	return resp;
}

/* Answer with a JSON body (consumed). */
static enum MHD_Result reply_json(struct MHD_Connection *c, struct req *r, int status, json_t *body)
{
	char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
	json_decref(body);
	if (text) { /* a newline makes curl's output and logs readable */
		size_t n = strlen(text);
		char *t2 = realloc(text, n + 2);
		if (t2) {
			text = t2;
			text[n] = '\n';
			text[n + 1] = 0;
		}
	}
	struct MHD_Response *resp = text_response("application/json", text);
	if (resp && status == 401)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"trmx\"");
	if (resp && status == 405 && r->allow)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, r->allow);
	if (resp && status == 503)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, "1");
	return queue(c, r, status, resp);
}

static const char *status_code_name(int status)
{
	switch (status) {
	case 400: return "bad_request";
	case 401: return "unauthorized";
	case 403: return "forbidden";
	case 404: return "not_found";
	case 405: return "method_not_allowed";
	case 409: return "conflict";
	case 413: return "payload_too_large";
	case 422: return "unprocessable";
	case 503: return "unavailable";
	case 504: return "deadline_exceeded";
	default: return status >= 500 ? "internal" : "error";
	}
}

static enum MHD_Result reply_error(struct MHD_Connection *c, struct req *r, int status, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum MHD_Result reply_error(struct MHD_Connection *c, struct req *r, int status, const char *fmt, ...)
{
	char msg[TRMX_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return reply_json(c, r, status, trmx__json_error_body(status_code_name(status), msg));
}

static enum MHD_Result reply_method(struct MHD_Connection *c, struct req *r, const char *allow)
{
	char msg[128];
	snprintf(msg, sizeof msg, "%s is not allowed here; use %s", r->method, allow);
	r->allow = allow;
	return reply_json(c, r, 405, trmx__json_error_body("method_not_allowed", msg));
}

/* ---- Routing ------------------------------------------------------------------------------------- */

struct route_info {
	enum route route;
	const char *method;   /* the one allowed */
	unsigned scope;       /* 0: open */
};

/* A page, an asset or a redirect (call->page, call->location), else the JSON error or answer. */
static enum MHD_Result reply_page(struct MHD_Connection *c, struct req *r, struct serve_call *call, int status)
{
	if (!call->page && !call->location && !call->file) {
		if (status >= 400)
			return reply_error(c, r, status, "%s", call->why);
		return reply_json(c, r, status, call->out);
	}
	json_decref(call->out);
	/* index_http.c sends a file (or one range of it) from its descriptor, never read into memory */
	struct MHD_Response *resp =
		call->file ? MHD_create_response_from_fd_at_offset64(call->file_len, call->file_fd, (int64_t)call->file_offset)
			   : MHD_create_response_from_buffer(call->page ? call->page_len : 0, call->page ? call->page : (void *)"",
							     call->page ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (!resp) {
		if (call->file)
			close(call->file_fd);
		free(call->page);
		free(call->location);
		return reply_error(c, r, 500, "out of memory");
	}
	if (call->page || call->file)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, call->page_type ? call->page_type : "text/html; charset=utf-8");
	if (call->file) /* index_http.c: downloads resume with a Range request */
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (call->content_range[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, call->content_range);
	if (call->location) {
		MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, call->location);
		free(call->location);
	}
	MHD_add_response_header(resp, "Content-Security-Policy",
				call->csp ? call->csp : "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, call->cache ? "public, max-age=3600" : "no-store");
	if (call->etag)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, call->etag);
	return queue(c, r, status, resp);
}

/* Match `url` (percent-decoded by libmicrohttpd); *arg gets the context or run id (malloc'd). */
static int match(const char *url, struct route_info *out, char **arg)
{
	static const struct {
		const char *path;
		enum route route;
		const char *method;
		unsigned scope;
	} fixed[] = {
		{ "/healthz", ROUTE_HEALTHZ, "GET", 0 },
		{ "/readyz", ROUTE_READYZ, "GET", 0 },
		{ "/metrics", ROUTE_METRICS, "GET", TRMX_SCOPE_READ },
		{ "/v1/contexts", ROUTE_CONTEXTS, "GET", TRMX_SCOPE_READ },
		{ "/v1/modules", ROUTE_MODULES, "GET", TRMX_SCOPE_READ },
		{ "/v1/history", ROUTE_HISTORY, "GET", TRMX_SCOPE_READ },
		{ "/v1/report", ROUTE_REPORT, "GET", TRMX_SCOPE_READ },
		{ "/v1/admin/bind", ROUTE_ADMIN_BIND, "POST", TRMX_SCOPE_ADMIN },
		{ "/v1/admin/alias", ROUTE_ADMIN_ALIAS, "POST", TRMX_SCOPE_ADMIN },
		{ "/v1/admin/rollback", ROUTE_ADMIN_ROLLBACK, "POST", TRMX_SCOPE_ADMIN },
		{ "/v1/admin/quarantine", ROUTE_ADMIN_QUARANTINE, "POST", TRMX_SCOPE_ADMIN },
		{ "/v1/admin/install", ROUTE_ADMIN_INSTALL, "POST", TRMX_SCOPE_ADMIN },
	};
	*arg = NULL;
	size_t n = strlen(url);
	while (n > 1 && url[n - 1] == '/') /* a trailing slash is the same route */
		n--;
	for (size_t i = 0; i < sizeof fixed / sizeof *fixed; i++)
		if (strlen(fixed[i].path) == n && !strncmp(url, fixed[i].path, n)) {
			*out = (struct route_info){ fixed[i].route, fixed[i].method, fixed[i].scope };
			return 0;
		}
	static const char ctx[] = "/v1/contexts/", runs[] = "/v1/runs/";
	static const struct {
		const char *prefix;
		enum route route;
		const char *method;
	} prefixed[] = {
		{ "/learn/", ROUTE_PAGE, "GET" }, { "/assets/", ROUTE_PAGE, "GET" }, { "/console", ROUTE_PAGE, "GET" },
		{ "/report", ROUTE_PAGE, "GET" }, { "/lti/", ROUTE_LTI, NULL },     { "/index/", ROUTE_INDEX, "GET" },
	};
	for (size_t i = 0; i < sizeof prefixed / sizeof *prefixed; i++) {
		size_t pl = strlen(prefixed[i].prefix);
		bool dir = prefixed[i].prefix[pl - 1] == '/';
		if (dir ? n > pl && !strncmp(url, prefixed[i].prefix, pl) : n == pl && !strncmp(url, prefixed[i].prefix, pl)) {
			*out = (struct route_info){ prefixed[i].route, prefixed[i].method, 0 };
			return 0;
		}
	}
	if (!strncmp(url, ctx, sizeof ctx - 1) && n > sizeof ctx - 1) {
		const char *rest = url + sizeof ctx - 1;
		size_t rn = n - (sizeof ctx - 1);
		if (rn > 6 && !strncmp(rest + rn - 6, "/solve", 6)) {
			*out = (struct route_info){ ROUTE_SOLVE, "POST", TRMX_SCOPE_SOLVE };
			rn -= 6;
		} else {
			*out = (struct route_info){ ROUTE_CONTEXT, "GET", TRMX_SCOPE_READ };
		}
		*arg = strndup(rest, rn);
		return *arg ? 0 : TRMX_ENOMEM;
	}
	if (!strncmp(url, runs, sizeof runs - 1) && n > sizeof runs - 1 + 9 && !strncmp(url + n - 9, "/feedback", 9)) {
		*out = (struct route_info){ ROUTE_FEEDBACK, "POST", TRMX_SCOPE_FEEDBACK };
		*arg = strndup(url + sizeof runs - 1, n - (sizeof runs - 1) - 9);
		return *arg ? 0 : TRMX_ENOMEM;
	}
	*out = (struct route_info){ ROUTE_OTHER, NULL, 0 };
	return 0;
}

/* ---- Authentication ------------------------------------------------------------------------------ */

/* 0 when allowed (r->token gets the token's name), else the HTTP status to answer. */
static int authorize(trmx_server *s, struct MHD_Connection *c, struct req *r, unsigned scope, const char *context,
		     char *why, size_t cap)
{
	if (!scope)
		return 0;
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h && !strncasecmp(h, "Bearer ", 7) && !strncmp(h + 7 + strspn(h + 7, " "), SESSION_PREFIX, strlen(SESSION_PREFIX))) {
		/* a session: its own context, as its learner, solve and learner feedback only */
		h += 7 + strspn(h + 7, " ");
		bool first = !r->has_session;
		if (!r->has_session) {
			if (trmx__session_find(s, h, strlen(h), &r->session) < 0) {
				snprintf(why, cap, "the session is not valid (unknown or expired: launch the page again)");
				return 401;
			}
			r->has_session = true;
		}
		snprintf(r->token, sizeof r->token, "session");
		if (first && scope == TRMX_SCOPE_FEEDBACK && !context)
			return 0; /* feedback names a run, not a context: the route checks the run's (api.c) */
		if ((scope != TRMX_SCOPE_SOLVE && scope != TRMX_SCOPE_FEEDBACK && scope != TRMX_SCOPE_READ) || !context ||
		    strcmp(context, r->session.context)) {
			snprintf(why, cap, "a session may only solve, read and give feedback in its context '%s'",
				 r->session.context);
			return 403;
		}
		return 0;
	}
	pthread_mutex_lock(&s->tokens_mu);
	int status = 0;
	if (!s->tokens)
		goto done;
	if (!h || strncasecmp(h, "Bearer ", 7)) {
		snprintf(why, cap, "this route needs a bearer token (Authorization: Bearer TOKEN; trmx token add)");
		status = 401;
		goto done;
	}
	h += 7;
	while (*h == ' ')
		h++;
	unsigned scopes = 0;
	const char *name = trmx_tokens_check(s->tokens, h, strlen(h), &scopes);
	if (!name) {
		snprintf(why, cap, "the bearer token is not valid (unknown or revoked)");
		status = 401;
		goto done;
	}
	snprintf(r->token, sizeof r->token, "%s", name);
	if (!trmx_tokens_allows(s->tokens, name, scope, context)) {
		snprintf(why, cap, "token '%s' may not %s%s%s", name, trmx_scope_name((trmx_scope)scope),
			 context ? " in context " : "", context ? context : "");
		status = 403;
	}
done:
	pthread_mutex_unlock(&s->tokens_mu);
	return status;
}

int trmx__serve_authorize_context(struct serve_call *call, unsigned scope, const char *context)
{
	char why[256];
	int st = authorize(call->s, call->conn, call->r, scope, context, why, sizeof why);
	if (st)
		snprintf(call->why, sizeof call->why, "%s", why);
	return st;
}

/* ---- Solve --------------------------------------------------------------------------------------- */

/* The request's fields into the job. 0, or a message in why. */
static int solve_parse(const char *context, json_t *body, struct job *j, char *why, size_t cap)
{
	static const char *const known[] = { "puzzle", "puzzles", "learner", "halt", "max_steps", "deadline_ms",
					     "run_id", "run_ids" };
	const char *key;
	json_t *v;
	json_object_foreach(body, key, v) {
		bool ok = false;
		for (size_t i = 0; i < sizeof known / sizeof *known; i++)
			ok |= !strcmp(key, known[i]);
		if (!ok) {
			snprintf(why, cap, "unknown field '%.64s' (known: puzzle, puzzles, learner, halt, max_steps, deadline_ms, "
					   "run_id, run_ids)", key);
			return -1;
		}
	}
	json_t *one = json_object_get(body, "puzzle"), *many = json_object_get(body, "puzzles");
	if (!one == !many) {
		snprintf(why, cap, "give either 'puzzle' (a string) or 'puzzles' (an array of strings)");
		return -1;
	}
	size_t n = one ? 1 : json_is_array(many) ? json_array_size(many) : 0;
	if (one && !json_is_string(one)) {
		snprintf(why, cap, "'puzzle' must be a string");
		return -1;
	}
	if (many && (!json_is_array(many) || n == 0 || n > TRMX_SERVE_PUZZLES_MAX)) {
		snprintf(why, cap, "'puzzles' must be an array of 1 to %d strings", TRMX_SERVE_PUZZLES_MAX);
		return -1;
	}
	json_t *ids = json_object_get(body, "run_ids"), *id1 = json_object_get(body, "run_id");
	if ((id1 && (!one || !json_is_string(id1))) || (ids && (!many || !json_is_array(ids) || json_array_size(ids) != n))) {
		snprintf(why, cap, "'run_id' (a UUID) goes with 'puzzle', 'run_ids' (one UUID per puzzle) with 'puzzles'");
		return -1;
	}
	if (!(j->texts = calloc(n, sizeof *j->texts)) || ((id1 || ids) && !(j->run_ids = calloc(n, sizeof *j->run_ids))) ||
	    !(j->context = strdup(context))) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	j->ntexts = n;
	for (size_t i = 0; i < n; i++) {
		json_t *p = one ? one : json_array_get(many, i);
		if (!json_is_string(p)) {
			snprintf(why, cap, "puzzles[%zu] must be a string", i);
			return -1;
		}
		if (!(j->texts[i] = strndup(json_string_value(p), json_string_length(p)))) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
		if (j->run_ids) {
			json_t *u = id1 ? id1 : json_array_get(ids, i);
			if (!json_is_string(u) || !trmx_uuid_valid(json_string_value(u))) {
				snprintf(why, cap, "%s is not a UUID", id1 ? "run_id" : "an entry of run_ids");
				return -1;
			}
			if (!(j->run_ids[i] = strdup(json_string_value(u)))) {
				snprintf(why, cap, "out of memory");
				return -1;
			}
			for (char *q = j->run_ids[i]; *q; q++) /* one spelling a run: the log keys on the text */
				*q = (char)tolower((unsigned char)*q);
			for (size_t k = 0; k < i; k++)
				if (!strcmp(j->run_ids[k], j->run_ids[i])) {
					snprintf(why, cap, "run_ids[%zu] repeats run_ids[%zu]", i, k);
					return -1;
				}
		}
	}
	json_t *learner = json_object_get(body, "learner");
	if (learner && !json_is_null(learner)) {
		if (!json_is_string(learner) || json_string_length(learner) == 0 ||
		    json_string_length(learner) > TRMX_SERVE_LEARNER_MAX) {
			snprintf(why, cap, "'learner' must be a string of 1 to %d bytes", TRMX_SERVE_LEARNER_MAX);
			return -1;
		}
		if (!(j->learner = strdup(json_string_value(learner)))) {
			snprintf(why, cap, "out of memory");
			return -1;
		}
	}
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.halt = TRMX_HALT_ADAPTIVE;
	json_t *halt = json_object_get(body, "halt");
	if (halt) {
		const char *h = json_string_value(halt);
		if (h && !strcmp(h, "fixed"))
			d.halt = TRMX_HALT_FIXED;
		else if (!h || strcmp(h, "adaptive")) {
			snprintf(why, cap, "'halt' is \"adaptive\" or \"fixed\"");
			return -1;
		}
	}
	json_t *ms = json_object_get(body, "max_steps");
	if (ms) {
		if (!json_is_integer(ms) || json_integer_value(ms) < 1 || json_integer_value(ms) > TRMX_SOLVE_STEPS_MAX) {
			snprintf(why, cap, "'max_steps' must be an integer in [1, %d]", TRMX_SOLVE_STEPS_MAX);
			return -1;
		}
		d.max_steps = (int)json_integer_value(ms);
	}
	json_t *dl = json_object_get(body, "deadline_ms");
	if (dl) {
		if (!json_is_integer(dl) || json_integer_value(dl) < 1 || json_integer_value(dl) > TRMX_SERVE_DEADLINE_MAX_MS) {
			snprintf(why, cap, "'deadline_ms' must be an integer in [1, %d]", TRMX_SERVE_DEADLINE_MAX_MS);
			return -1;
		}
		j->deadline = trmx_mono_s() + (double)json_integer_value(dl) / 1000.0;
	}
	d.target = j->context;
	d.learner = j->learner;
	d.n = n;
	d.texts = (const char *const *)j->texts;
	d.run_ids = (const char *const *)j->run_ids;
	d.kind = TRMX_RUN_KIND_RUN;
	j->req = d;
	return 0;
}

/* A Server-Sent Events stream: step events as the engine makes them, then the result. */
struct sse {
	struct job *job;
	char *out;
	size_t len, off;
	bool finished;
};

static void sse_set(struct sse *x, const char *event, json_t *data)
{
	char *d = json_dumps(data, JSON_COMPACT);
	json_decref(data);
	free(x->out);
	x->out = NULL;
	x->len = x->off = 0;
	if (d && asprintf(&x->out, "event: %s\ndata: %s\n\n", event, d) >= 0)
		x->len = strlen(x->out);
	else
		x->out = NULL;
	free(d);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct sse *x = cls;
	while (x->off >= x->len) {
		if (x->finished)
			return MHD_CONTENT_READER_END_OF_STREAM;
		enum job_state st;
		bool expired = false;
		struct event *e = trmx__job_next_event(x->job, SSE_KEEPALIVE_S, &st, &expired);
		if (e) {
			json_t *o = json_pack("{s:I,s:i,s:o,s:f}", "row", (json_int_t)e->row, "step", e->step, "answer",
					      e->answer ? json_string(e->answer) : json_null(), "halt_confidence",
					      e->halt_confidence);
			trmx__event_free(e);
			sse_set(x, "step", o);
		} else if (st == JOB_LOGGED) {
			sse_set(x, "result", trmx__solve_json(x->job->res));
			x->finished = true;
		} else if (st == JOB_FAILED) {
			sse_set(x, "error",
				trmx__json_error_body(status_code_name(x->job->fail_status ? x->job->fail_status : 500),
						      x->job->error));
			x->finished = true;
		} else if (expired) {
			sse_set(x, "error",
				trmx__json_error_body("deadline_exceeded",
						      "the request's deadline passed before it was solved"));
			x->finished = true;
		} else { /* a comment keeps proxies from closing an idle stream */
			free(x->out);
			x->out = strdup(": keepalive\n\n");
			x->len = x->out ? strlen(x->out) : 0;
			x->off = 0;
		}
		if (!x->out)
			return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	size_t n = x->len - x->off < max ? x->len - x->off : max;
	memcpy(buf, x->out + x->off, n);
	x->off += n;
	return (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct sse *x = cls;
	trmx__job_release(x->job);
	free(x->out);
	free(x);
}

static enum MHD_Result do_solve(struct MHD_Connection *c, struct req *r)
{
	trmx_server *s = r->s;
	json_error_t jerr;
	json_t *body = json_loadb(r->body ? r->body : "", r->len, JSON_REJECT_DUPLICATES, &jerr);
	if (!body || !json_is_object(body)) {
		json_decref(body);
		return reply_error(c, r, 400, body ? "the body must be a JSON object" : "the body is not JSON: %s (line %d, column %d)",
				   jerr.text, jerr.line, jerr.column);
	}
	struct job *j = calloc(1, sizeof *j);
	if (!j) {
		json_decref(body);
		return reply_error(c, r, 500, "out of memory");
	}
	j->srv = s;
	j->refs = 1;
	char why[512];
	if (solve_parse(r->arg, body, j, why, sizeof why) < 0) {
		json_decref(body);
		trmx__job_release(j);
		return reply_error(c, r, 400, "%s", why);
	}
	json_decref(body);
	if (r->has_session) { /* the session's learner, whatever the body says */
		free(j->learner);
		if (!(j->learner = strdup(r->session.learner))) {
			trmx__job_release(j);
			return reply_error(c, r, 500, "out of memory");
		}
		j->req.learner = j->learner;
		j->session = r->session;
		j->session.lti = json_incref(r->session.lti);
		j->has_session = true;
	}
	const char *accept = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_ACCEPT);
	j->stream = accept && strcasestr(accept, "text/event-stream");
	trmx_error err = { 0, "" };
	int status = 0;
	if (trmx__job_submit(s, j, &status, &err) < 0) {
		trmx__job_release(j);
		return reply_error(c, r, status, "%s", err.message);
	}
	if (j->stream) {
		struct sse *x = calloc(1, sizeof *x);
		struct MHD_Response *resp = x ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16384, sse_read, x, sse_free) : NULL;
		if (!resp) {
			free(x);
			trmx__job_wait(j); /* answered with an error, but its runs are still logged */
			trmx__job_release(j);
			return reply_error(c, r, 500, "out of memory");
		}
		x->job = j;
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
		return queue(c, r, 200, resp);
	}
	enum job_state st = trmx__job_wait(j);
	enum MHD_Result ok;
	if (st == JOB_LOGGED)
		ok = reply_json(c, r, 200, trmx__solve_json(j->res));
	else if (st == JOB_FAILED)
		ok = reply_error(c, r, j->fail_status ? j->fail_status : 500, "%s", j->error);
	else
		ok = reply_error(c, r, 504, "the request's deadline passed before its puzzles were solved");
	trmx__job_release(j);
	return ok;
}

/* ---- The handler --------------------------------------------------------------------------------- */

static enum MHD_Result first_call(struct MHD_Connection *c, struct req *r, const char *url, const struct route_info *ri)
{
	trmx_server *s = r->s;
	if (ri->route == ROUTE_OTHER)
		return reply_error(c, r, 404, "no route %s %s (see docs/HTTP.md)", r->method, url);
	const char *allowed = ri->method ? ri->method : "GET"; /* NULL: GET or POST */
	bool head = !strcmp(r->method, "HEAD") && !strcmp(allowed, "GET"); /* a GET's headers (RFC 9110) */
	if (strcmp(r->method, allowed) && !head && (ri->method || strcmp(r->method, "POST")))
		return reply_method(c, r, !ri->method ? "GET, HEAD, POST" : !strcmp(allowed, "GET") ? "GET, HEAD" : allowed);
	pthread_mutex_lock(&s->mu);
	bool stopping = s->stopping;
	pthread_mutex_unlock(&s->mu);
	if (stopping && ri->route != ROUTE_HEALTHZ)
		return reply_error(c, r, 503, "the server is shutting down");
	char why[256];
	int st = authorize(s, c, r, ri->scope, ri->route == ROUTE_SOLVE || ri->route == ROUTE_CONTEXT ? r->arg : NULL, why,
			   sizeof why);
	if (st)
		return reply_error(c, r, st, "%s", why);
	if (ri->route == ROUTE_SOLVE) {
		trmx_error e2;
		if (trmx_context_check(r->arg, &e2) < 0)
			return reply_error(c, r, 400, "'%.200s' is not a context name: %s", r->arg, e2.message);
	}
	r->limit = ri->route == ROUTE_ADMIN_INSTALL ? TRMX_SERVE_UPLOAD_MAX : s->opts.max_body;
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl && strtoull(cl, NULL, 10) > r->limit)
		return reply_error(c, r, 413, "the body has %s bytes; at most %zu are taken here%s", cl, r->limit,
				   ri->route == ROUTE_ADMIN_INSTALL ? "" : " (--max-body)");
	if (ri->route == ROUTE_ADMIN_INSTALL) {
		const char *base = getenv("TMPDIR");
		if (asprintf(&r->upload_path, "%s/trmx-upload-XXXXXX", base && *base ? base : "/tmp") < 0) {
			r->upload_path = NULL;
			return reply_error(c, r, 500, "out of memory");
		}
		if ((r->upload_fd = mkstemp(r->upload_path)) < 0) {
			free(r->upload_path);
			r->upload_path = NULL;
			return reply_error(c, r, 500, "cannot make a temporary file for the upload: %s", strerror(errno));
		}
	}
	return MHD_YES;
}

static void take_upload(struct req *r, const char *data, size_t n)
{
	if (r->too_large || r->len + n > r->limit) {
		r->too_large = true;
		return;
	}
	if (r->upload_fd >= 0) {
		for (size_t o = 0; o < n;) {
			ssize_t w = write(r->upload_fd, data + o, n - o);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				r->too_large = true; /* a full disk: refused below like a body too large */
				return;
			}
			o += (size_t)w;
		}
		r->len += n;
		return;
	}
	if (r->len + n + 1 > r->cap) {
		size_t nc = r->cap ? r->cap : 4096;
		while (nc < r->len + n + 1)
			nc *= 2;
		char *nb = realloc(r->body, nc);
		if (!nb) {
			r->too_large = true;
			return;
		}
		r->body = nb;
		r->cap = nc;
	}
	memcpy(r->body + r->len, data, n);
	r->len += n;
	r->body[r->len] = 0;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
			       const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	trmx_server *s = cls;
	struct req *r = *con_cls;
	if (!r) {
		if (!(r = calloc(1, sizeof *r)))
			return MHD_NO;
		r->s = s;
		r->t0 = trmx_mono_s();
		r->upload_fd = -1;
		snprintf(r->method, sizeof r->method, "%s", method);
		*con_cls = r;
		if (!(r->url = strdup(url)))
			return MHD_NO;
		pthread_mutex_lock(&s->mu);
		s->inflight_requests++;
		pthread_mutex_unlock(&s->mu);
		struct route_info ri;
		if (match(url, &ri, &r->arg) < 0)
			return reply_error(c, r, 500, "out of memory");
		r->route = ri.route;
		return first_call(c, r, url, &ri);
	}
	if (r->answered) { /* refused on the first call: drop the body */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size) {
		take_upload(r, upload_data, *upload_data_size);
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (r->too_large)
		return reply_error(c, r, 413, "the body is larger than the %zu bytes taken here", r->limit);
	struct serve_call call = { .s = s, .conn = c, .r = r, .arg = r->arg, .body = r->body, .len = r->len,
				   .upload = r->upload_path, .token = r->token, .session = r->has_session ? &r->session : NULL,
				   .method = r->method, .url = r->url };
	switch (r->route) {
	case ROUTE_SOLVE: return do_solve(c, r);
	case ROUTE_PAGE: return reply_page(c, r, &call, trmx__web_handle(&call));
	case ROUTE_LTI: return reply_page(c, r, &call, trmx__lti_handle(&call));
	case ROUTE_INDEX: return reply_page(c, r, &call, trmx__index_handle(&call));
	case ROUTE_METRICS: {
		struct MHD_Response *resp = text_response("text/plain; version=0.0.4; charset=utf-8", trmx__metrics_text(s));
		return resp ? queue(c, r, 200, resp) : reply_error(c, r, 500, "out of memory");
	}
	default: break;
	}
	int status = trmx__api_handle(&call, r->route);
	if (call.page) /* GET /v1/report?format=csv */
		return reply_page(c, r, &call, status);
	if (status >= 400)
		return reply_error(c, r, status, "%s", call.why);
	return reply_json(c, r, status, call.out);
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	trmx_server *s = cls;
	struct req *r = *con_cls;
	if (!r)
		return;
	double dt = trmx_mono_s() - r->t0;
	int status = r->answered ? r->status : 499; /* the client went before an answer */
	trmx__metrics_request(&s->metrics, r->route, status, dt);
	if (s->opts.access_log) {
		char line[512];
		char when[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
		json_t *o = json_pack("{s:s,s:s,s:s,s:i,s:f,s:s}", "time", when, "method", r->method, "route",
				      trmx__route_name(r->route), "status", status, "ms", dt * 1000.0, "token",
				      r->token[0] ? r->token : "-");
		char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
		json_decref(o);
		if (text) {
			snprintf(line, sizeof line, "%s", text);
			s->opts.access_log(s->opts.user, line);
		}
		free(text);
	}
	if (r->upload_fd >= 0)
		close(r->upload_fd);
	if (r->upload_path) {
		unlink(r->upload_path);
		free(r->upload_path);
	}
	free(r->body);
	free(r->arg);
	free(r->url);
	trmx__session_info_clear(&r->session);
	free(r);
	*con_cls = NULL;
	pthread_mutex_lock(&s->mu);
	s->inflight_requests--;
	pthread_cond_broadcast(&s->idle_cv);
	pthread_mutex_unlock(&s->mu);
}

/* ---- Starting and stopping ----------------------------------------------------------------------- */

/* "HOST:PORT" into a socket address. */
static int parse_listen(const char *listen, struct sockaddr_storage *ss, socklen_t *len, bool *loopback, trmx_error *err)
{
	char host[128];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
		return trmx_error_set(err, TRMX_EINVAL, "--listen wants HOST:PORT (127.0.0.1:8080, [::1]:0), not '%s'", listen);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (!colon[1] || *end || port < 0 || port > 65535)
		return trmx_error_set(err, TRMX_EINVAL, "--listen: '%s' is not a port (0-65535; 0 picks a free one)", colon + 1);
	memset(ss, 0, sizeof *ss);
	if (!strcmp(host, "localhost"))
		snprintf(host, sizeof host, "127.0.0.1");
	size_t hl = strlen(host);
	if (host[0] == '[' && hl > 2 && host[hl - 1] == ']') {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
		host[hl - 1] = 0;
		if (inet_pton(AF_INET6, host + 1, &a->sin6_addr) != 1)
			return trmx_error_set(err, TRMX_EINVAL, "--listen: '%s' is not an IPv6 address", host + 1);
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)port);
		*len = sizeof *a;
		*loopback = IN6_IS_ADDR_LOOPBACK(&a->sin6_addr);
		return 0;
	}
	struct sockaddr_in *a = (struct sockaddr_in *)ss;
	if (inet_pton(AF_INET, host, &a->sin_addr) != 1)
		return trmx_error_set(err, TRMX_EINVAL, "--listen: '%s' is not an IPv4 address, [IPv6] or localhost", host);
	a->sin_family = AF_INET;
	a->sin_port = htons((uint16_t)port);
	*len = sizeof *a;
	*loopback = (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	return 0;
}

static int load_tokens(trmx_server *s, trmx_error *err)
{
	trmx_tokens *t = NULL;
	int rc = trmx_tokens_load(&t, s->tokens_path, err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&s->tokens_mu);
	trmx_tokens *old = s->tokens;
	s->tokens = t;
	pthread_mutex_unlock(&s->tokens_mu);
	trmx_tokens_free(old);
	return 0;
}

int trmx_server_start(trmx_server **out, const trmx_server_options *opts, trmx_error *err)
{
	static const trmx_server_options defaults = TRMX_SERVER_OPTIONS_INIT;
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_server_start: missing argument");
	if (!opts)
		opts = &defaults;
	if (!trmx_version_ok(opts->version, TRMX_SERVER_OPTIONS_VERSION))
		return trmx_version_refused(err, "server options", opts->version, TRMX_SERVER_OPTIONS_VERSION);
	if (opts->batch < 0 || opts->batch > TRMX_SOLVE_BATCH_MAX || opts->max_connections < 0)
		return trmx_error_set(err, TRMX_EINVAL, "--batch is in [1, %d]", TRMX_SOLVE_BATCH_MAX);
	trmx_server *s = calloc(1, sizeof *s);
	if (!s)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	s->opts = defaults; /* a version 1 struct ends before public_url */
	memcpy(&s->opts, opts, opts->version >= 2 ? sizeof *opts : offsetof(trmx_server_options, public_url));
	if (!s->opts.max_queue)
		s->opts.max_queue = DEFAULT_MAX_QUEUE;
	if (!s->opts.max_body)
		s->opts.max_body = DEFAULT_MAX_BODY;
	if (!s->opts.batch)
		s->opts.batch = DEFAULT_BATCH;
	if (!s->opts.max_connections)
		s->opts.max_connections = DEFAULT_CONNECTIONS;
	pthread_mutex_init(&s->host_mu, NULL);
	pthread_mutex_init(&s->tokens_mu, NULL);
	pthread_mutex_init(&s->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* deadlines are trmx_mono_s() times */
	pthread_cond_init(&s->work_cv, &ca);
	pthread_cond_init(&s->log_cv, &ca);
	pthread_cond_init(&s->done_cv, &ca);
	pthread_cond_init(&s->idle_cv, &ca);
	pthread_condattr_destroy(&ca);
	trmx__metrics_init(&s->metrics);
	s->inited = true;
	int rc;
	struct sockaddr_storage ss;
	socklen_t sl;
	bool loopback = false;
	if ((rc = trmx_home_resolve(opts->home, &s->home, err)) < 0 ||
	    (rc = parse_listen(opts->listen ? opts->listen : DEFAULT_LISTEN, &ss, &sl, &loopback, err)) < 0)
		goto fail;
	if (opts->tokens) {
		if (!(s->tokens_path = strdup(opts->tokens))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto fail;
		}
	} else {
		if (asprintf(&s->tokens_path, "%s/tokens.json", s->home) < 0) {
			s->tokens_path = NULL;
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto fail;
		}
		if (access(s->tokens_path, F_OK) != 0) { /* no tokens file: no authentication */
			free(s->tokens_path);
			s->tokens_path = NULL;
		}
	}
	if (s->tokens_path && (rc = load_tokens(s, err)) < 0)
		goto fail;
	if (!s->tokens_path && !loopback) {
		rc = trmx_error_set(err, TRMX_EINVAL,
				    "refusing to serve %s without bearer tokens: make some (trmx token add) or listen on "
				    "a loopback address",
				    opts->listen);
		goto fail;
	}
	trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
	ho.home = s->home;
	ho.plugin_dir = opts->plugin_dir;
	ho.actor = "trmx serve";
	if ((rc = trmx_host_open(&s->host, &ho, err)) < 0)
		goto fail;
	trmx_log_db *hl;
	if ((rc = trmx_host_log(s->host, &hl, err)) < 0 || (rc = trmx__batch_start(s, err)) < 0)
		goto fail;
	if ((rc = trmx__sessions_init(s)) < 0) {
		trmx_error_set(err, rc, "out of memory");
		goto fail;
	}
	if ((rc = trmx__lti_start(s, err)) < 0 || (rc = trmx__xapi_start(s, err)) < 0)
		goto fail;
	s->mhd = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
					  (ss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
				  0, NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				  MHD_OPTION_NOTIFY_COMPLETED, completed, s, MHD_OPTION_CONNECTION_LIMIT,
				  (unsigned)s->opts.max_connections, MHD_OPTION_CONNECTION_TIMEOUT, 120u, MHD_OPTION_END);
	if (!s->mhd) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot listen on %s (in use, or not an address of this machine)",
				    opts->listen ? opts->listen : DEFAULT_LISTEN);
		goto fail;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = info ? info->port : 0;
	char host[INET6_ADDRSTRLEN] = "";
	if (ss.ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, host, sizeof host);
	else
		inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, host, sizeof host);
	snprintf(s->url, sizeof s->url, ss.ss_family == AF_INET6 ? "http://[%s]:%u" : "http://%s:%u", host, s->port);
	if (!(s->public_url = strdup(opts->public_url ? opts->public_url : s->url))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t n = strlen(s->public_url); n > 0 && s->public_url[n - 1] == '/'; n--)
		s->public_url[n - 1] = 0;
	*out = s;
	return 0;
fail:
	trmx_server_free(s);
	return rc;
}

uint16_t trmx_server_port(const trmx_server *s)
{
	return s->port;
}

const char *trmx_server_home(const trmx_server *s)
{
	return s->home;
}

const char *trmx_server_url(const trmx_server *s)
{
	return s->url;
}

size_t trmx_server_token_count(const trmx_server *s)
{
	trmx_server *m = (trmx_server *)s;
	pthread_mutex_lock(&m->tokens_mu);
	size_t n = s->tokens ? trmx_tokens_count(s->tokens) : 0;
	pthread_mutex_unlock(&m->tokens_mu);
	return n;
}

const char *trmx_server_tokens_path(const trmx_server *s)
{
	return s->tokens_path;
}

int trmx_server_reload_tokens(trmx_server *s, trmx_error *err)
{
	if (!s->tokens_path) { /* started without one: HOME/tokens.json from now on, once it exists */
		char *p = NULL;
		if (asprintf(&p, "%s/tokens.json", s->home) < 0)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		if (access(p, F_OK) != 0) {
			free(p);
			return trmx_error_set(err, TRMX_ENOTFOUND, "no tokens file (trmx token add makes HOME/tokens.json)");
		}
		s->tokens_path = p;
		int rc = load_tokens(s, err);
		if (rc < 0) {
			free(s->tokens_path);
			s->tokens_path = NULL;
		}
		return rc;
	}
	return load_tokens(s, err);
}

void trmx_server_stop(trmx_server *s)
{
	if (!s || !s->inited)
		return;
	pthread_mutex_lock(&s->mu);
	bool was = s->stopping;
	s->stopping = true;
	pthread_mutex_unlock(&s->mu);
	if (was)
		return;
	if (s->mhd) {
		/* stop accepting; answer every request already taken (each waits for its batch) */
		MHD_socket fd = MHD_quiesce_daemon(s->mhd);
		if (fd != MHD_INVALID_SOCKET) /* ours now: closed, so new clients are refused at once */
			close(fd);
		pthread_mutex_lock(&s->mu);
		while (s->inflight_requests > 0)
			pthread_cond_wait(&s->idle_cv, &s->mu);
		pthread_mutex_unlock(&s->mu);
		MHD_stop_daemon(s->mhd);
		s->mhd = NULL;
	}
	trmx__batch_stop(s);
	trmx__xapi_stop(s);
	trmx__lti_stop(s);
}

void trmx_server_free(trmx_server *s)
{
	if (!s)
		return;
	trmx_server_stop(s);
	trmx_host_free(s->host);
	trmx_tokens_free(s->tokens);
	if (s->inited) {
		trmx__metrics_destroy(&s->metrics);
		pthread_mutex_destroy(&s->host_mu);
		pthread_mutex_destroy(&s->tokens_mu);
		pthread_mutex_destroy(&s->mu);
		pthread_cond_destroy(&s->work_cv);
		pthread_cond_destroy(&s->log_cv);
		pthread_cond_destroy(&s->done_cv);
		pthread_cond_destroy(&s->idle_cv);
	}
	trmx__sessions_free(s);
	free(s->public_url);
	free(s->home);
	free(s->tokens_path);
	free(s);
}
