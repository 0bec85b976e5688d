/*
 * lti.c — trmx serve as an LTI 1.3 tool (docs/LMS.md): the OIDC login initiation, the launch
 * (an RS256 id_token checked against the platform's keys), Deep Linking (the course creator's
 * picker, answered with a signed ltiResourceLink) and the grade passback through Assignment and
 * Grade Services (a worker thread with an OAuth2 client-credentials token).
 *
 * What it relies on: the platforms and the tool key of the home (lti_store.c), read once at start;
 * sessions (session.c) carry the launch's AGS claims to the logging thread, which calls
 * trmx__lti_solved after each committed solve. Logins, nonces and pickers live in memory, under `mu`,
 * which is a leaf lock: nothing else is locked while it is held, and no network call is made
 * under it. HTTP to the platforms is libcurl; pages are plain HTML without scripts.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <math.h>
#include <openssl/err.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log_int.h"
#include "serve/api.h"
#include "serve/lti_int.h"

#define CLAIM "https://purl.imsglobal.org/spec/lti/claim/"
#define CLAIM_DL "https://purl.imsglobal.org/spec/lti-dl/claim/"
#define CLAIM_AGS "https://purl.imsglobal.org/spec/lti-ags/claim/endpoint"
#define SCOPE_SCORE "https://purl.imsglobal.org/spec/lti-ags/scope/score"

#define LOGIN_TTL_S 600.0        /* a login's state and nonce */
#define PICKER_TTL_S 3600.0      /* a deep-linking picker (the course creator may take a while) */
#define PENDING_MAX 10000        /* logins, pickers waiting; past it the oldest are dropped */
#define NONCES_MAX 100000        /* nonces remembered against replays */
#define SKEW_S 60                /* clock difference tolerated on exp and iat */
#define JWKS_TTL_S 3600.0        /* a platform's keys are fetched again after this */
#define JWKS_REFETCH_S 10.0      /* at most one fetch for an unknown kid per platform per this */
#define HTTP_TIMEOUT_S 10L
#define HTTP_BODY_MAX (1u << 20)
#define SCORES_MAX 10000         /* scores waiting to be sent; past it new ones are dropped (counted) */
#define SCORE_TRIES 6            /* then it is given up (counted, logged) */
#define DRAIN_S	       15.0	    /* trmx__lti_stop sends what waits for at most this long */

struct plat {
	const trmx_lti_platform *p;  /* borrowed from lti->list */
	json_t *jwks;                /* the platform's keys, or NULL */
	double jwks_at;              /* trmx_mono_s() of the last fetch (also a failed one) */
	char *token;                 /* an AGS access token, or NULL */
	double token_until;
};

/* A login waiting for its launch, or a picker waiting for the course creator's choice. */
struct pending {
	struct pending *next;
	char id[48];                 /* the state, or the picker id */
	char nonce[48];
	size_t plat;
	double expires;
	/* pickers */
	char *deployment, *return_url, *lms_context;
	json_t *data;
};

struct nonce {
	struct nonce *next;
	unsigned char h[16];
	double expires;
};

struct score {
	struct score *next;
	json_t *lti;                 /* the session's claims */
	double given;
	char run_id[TRMX_UUID_SIZE];
	char at[32];
	int tries;
	double due;
};

struct lti {
	trmx_server *s;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	trmx_lti_platforms *list;
	struct plat *plats;
	size_t n;
	struct lti_key key;          /* key.pkey NULL until first needed when the home had none */
	struct pending *logins, *pickers;
	size_t nlogins, npickers;
	struct nonce *nonces;
	size_t nnonces;
	struct score *head, *tail;
	size_t queued;
	bool stop, started;
	pthread_t worker;
	uint64_t sent, failed, dropped;
	char csp_frame[512];         /* the learner page's and the picker's CSP */
};

/* ---- Pages --------------------------------------------------------------------------------------- */

/* Append `s` HTML-escaped. */
static void esc(FILE *f, const char *s)
{
	for (; s && *s; s++)
		switch (*s) {
		case '&': fputs("&amp;", f); break;
		case '<': fputs("&lt;", f); break;
		case '>': fputs("&gt;", f); break;
		case '"': fputs("&quot;", f); break;
		case '\'': fputs("&#39;", f); break;
		default: fputc(*s, f);
		}
}

static void page_head(FILE *f, const char *title)
{
	fputs("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
	      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>",
	      f);
	esc(f, title);
	fputs("</title></head><body>\n<main>\n<h1>", f);
	esc(f, title);
	fputs("</h1>\n", f);
}

/* Close the page (open_memstream writes *buf and *len at fclose) into call->page. */
static int page_end(struct serve_call *call, FILE *f, char **buf, size_t *len, int status)
{
	fputs("</main>\n</body></html>\n", f);
	if (fclose(f) != 0) {
		free(*buf);
		snprintf(call->why, sizeof call->why, "out of memory");
		return 500;
	}
	call->page = *buf;
	call->page_len = *len;
	call->page_type = "text/html; charset=utf-8";
	return status;
}

/* A page saying what went wrong (the status says how): for people in front of a course page. */
static int refuse(struct serve_call *call, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int refuse(struct serve_call *call, int status, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	snprintf(call->why, sizeof call->why, "%.480s", msg);
	if (call->s->lti) /* platforms open tools in a frame: the learner must see why there */
		call->csp = call->s->lti->csp_frame;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return 500;
	page_head(f, status >= 500 ? "The tool cannot open this activity" : "LTI launch refused");
	fputs("<p id=\"reason\">", f);
	esc(f, msg);
	fputs("</p>\n<p>Go back to the course and open the activity again; if this keeps happening, tell the "
	      "course's administrator what this page says.</p>\n",
	      f);
	return page_end(call, f, &buf, &len, status);
}

/* ---- HTTP to the platforms ----------------------------------------------------------------------- */

struct body {
	char *p;
	size_t n;
	bool over;
};

static size_t take(char *data, size_t size, size_t nmemb, void *user)
{
	struct body *b = user;
	size_t n = size * nmemb;
	if (b->over || b->n + n > HTTP_BODY_MAX) {
		b->over = true;
		return 0; /* stops the transfer */
	}
	char *np = realloc(b->p, b->n + n + 1);
	if (!np)
		return 0;
	memcpy(np + b->n, data, n);
	b->p = np;
	b->n += n;
	b->p[b->n] = 0;
	return n;
}

/* GET (body NULL) or POST `body` with `type` to `url`; *status gets the HTTP status and *out the
 * answer (malloc'd). 0, or -1 with why. */
static int http(const char *url, const char *type, const char *body, const char *bearer, long *status, char **out,
		char *why, size_t cap)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct body b = { NULL, 0, false };
	char *auth = NULL;
	int rc = -1;
	*out = NULL;
	if (!c) {
		snprintf(why, cap, "out of memory");
		return -1;
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* threads: no SIGALRM for DNS timeouts */
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, HTTP_TIMEOUT_S);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, take);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "trmx-lti/1");
	h = curl_slist_append(h, "Accept: application/json");
	if (type) {
		char line[128];
		snprintf(line, sizeof line, "Content-Type: %s", type);
		h = curl_slist_append(h, line);
	}
	if (bearer && (auth = trmx_xasprintf("Authorization: Bearer %s", bearer)))
		h = curl_slist_append(h, auth);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
	if (body) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
		curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	CURLcode e = curl_easy_perform(c);
	if (b.over)
		snprintf(why, cap, "the answer of %.200s is larger than %u bytes", url, HTTP_BODY_MAX);
	else if (e != CURLE_OK)
		snprintf(why, cap, "%.200s: %s", url, curl_easy_strerror(e));
	else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, status);
		*out = b.p ? b.p : strdup("");
		b.p = NULL;
		rc = *out ? 0 : -1;
	}
	free(b.p);
	free(auth);
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* ---- Platforms and their keys -------------------------------------------------------------------- */

static json_t *find_kid(json_t *jwks, const char *kid)
{
	json_t *keys = json_object_get(jwks, "keys"), *k;
	size_t i;
	if (!kid) /* without a kid, a keyset of one key names it */
		return json_array_size(keys) == 1 ? json_array_get(keys, 0) : NULL;
	json_array_foreach(keys, i, k) {
		json_t *v = json_object_get(k, "kid");
		if (json_is_string(v) && !strcmp(json_string_value(v), kid))
			return k;
	}
	return NULL;
}

/* The platform's key `kid` (a new reference in *out). 401 when it has none such, 502 when its keys
 * cannot be fetched; why says which. */
static int platform_key(struct lti *L, size_t pi, const char *kid, json_t **out, char *why, size_t cap)
{
	struct plat *P = &L->plats[pi];
	double now = trmx_mono_s();
	pthread_mutex_lock(&L->mu);
	json_t *k = P->jwks && now - P->jwks_at < JWKS_TTL_S ? find_kid(P->jwks, kid) : NULL;
	bool fetch = !k && (!P->jwks_at || now - P->jwks_at >= JWKS_REFETCH_S), none = !P->jwks;
	if (k)
		*out = json_incref(k);
	pthread_mutex_unlock(&L->mu);
	if (k)
		return 0;
	if (!fetch && none) {
		snprintf(why, cap, "the platform's keys could not be fetched a moment ago; try again in a few seconds");
		return 502;
	}
	if (fetch) { /* unknown kid or old keys: fetch again, once (rate-limited per platform) */
		long st = 0;
		char *text = NULL, w2[256];
		json_t *jwks = NULL;
		if (http(P->p->jwks_url, NULL, NULL, NULL, &st, &text, w2, sizeof w2) < 0) {
			snprintf(why, cap, "the platform's keys cannot be fetched: %s", w2);
		} else if (st != 200 || !(jwks = json_loads(text, 0, NULL)) || !json_is_array(json_object_get(jwks, "keys"))) {
			snprintf(why, cap, "the platform's keyset %.200s answered HTTP %ld without a JWKS document", P->p->jwks_url,
				 st);
			json_decref(jwks);
			jwks = NULL;
		}
		free(text);
		pthread_mutex_lock(&L->mu);
		P->jwks_at = trmx_mono_s();
		if (jwks) {
			json_decref(P->jwks);
			P->jwks = jwks;
		}
		k = P->jwks ? find_kid(P->jwks, kid) : NULL;
		if (k)
			*out = json_incref(k);
		pthread_mutex_unlock(&L->mu);
		if (k)
			return 0;
		if (!jwks)
			return 502;
	}
	snprintf(why, cap, "the platform's keyset has no key %s%.64s%s", kid ? "'" : "", kid ? kid : "(the token names no kid)",
		 kid ? "'" : "");
	return 401;
}

/* The tool key, made when the home had none (under mu). */
static const struct lti_key *tool_key(struct lti *L, trmx_error *err)
{
	pthread_mutex_lock(&L->mu);
	if (!L->key.pkey && trmx__lti_key_load(L->s->home, true, &L->key, err) < 0) {
		pthread_mutex_unlock(&L->mu);
		return NULL;
	}
	pthread_mutex_unlock(&L->mu);
	return &L->key;
}

/* ---- Logins, nonces, pickers --------------------------------------------------------------------- */

static void random_id(char out[48])
{
	unsigned char r[32];
	randombytes_buf(r, sizeof r);
	sodium_bin2base64(out, 48, r, sizeof r, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

static void pending_free(struct pending *p)
{
	if (!p)
		return;
	free(p->deployment);
	free(p->return_url);
	free(p->lms_context);
	json_decref(p->data);
	free(p);
}

/* Drop expired entries of a list (under mu). */
static void sweep(struct pending **head, size_t *n, double now)
{
	for (struct pending **q = head; *q;) {
		struct pending *p = *q;
		if (p->expires <= now) {
			*q = p->next;
			pending_free(p);
			(*n)--;
		} else {
			q = &p->next;
		}
	}
}

/* Add to a list of at most PENDING_MAX: past it the expired go, then the oldest (the list's tail),
 * so that a flood of logins delays launches rather than refusing them for ten minutes. */
static void pending_add(struct lti *L, struct pending **head, size_t *n, struct pending *p)
{
	pthread_mutex_lock(&L->mu);
	if (*n >= PENDING_MAX)
		sweep(head, n, trmx_mono_s());
	if (*n >= PENDING_MAX) {
		struct pending **q = head;
		while ((*q)->next)
			q = &(*q)->next;
		pending_free(*q);
		*q = NULL;
		(*n)--;
	}
	p->next = *head;
	*head = p;
	(*n)++;
	pthread_mutex_unlock(&L->mu);
}

/* Take entry `id` out (one use only), or NULL when unknown or expired. */
static struct pending *pending_take(struct lti *L, struct pending **head, size_t *n, const char *id)
{
	struct pending *found = NULL;
	size_t il = strlen(id);
	pthread_mutex_lock(&L->mu);
	double now = trmx_mono_s();
	for (struct pending **q = head; *q; q = &(*q)->next)
		if (strlen((*q)->id) == il && !sodium_memcmp((*q)->id, id, il)) {
			found = *q;
			*q = found->next;
			(*n)--;
			break;
		}
	pthread_mutex_unlock(&L->mu);
	if (found && found->expires <= now) {
		pending_free(found);
		found = NULL;
	}
	return found;
}

/* Remember a nonce for `ttl` seconds; false when it was seen before. */
static bool nonce_first(struct lti *L, const char *nonce, double ttl)
{
	unsigned char h[16];
	crypto_generichash(h, sizeof h, (const unsigned char *)nonce, strlen(nonce), NULL, 0);
	bool first = true;
	pthread_mutex_lock(&L->mu);
	double now = trmx_mono_s();
	for (struct nonce **q = &L->nonces; *q;) {
		struct nonce *x = *q;
		if (x->expires <= now) {
			*q = x->next;
			free(x);
			L->nnonces--;
			continue;
		}
		if (!memcmp(x->h, h, sizeof h))
			first = false;
		q = &x->next;
	}
	if (first && L->nnonces < NONCES_MAX) {
		struct nonce *x = malloc(sizeof *x);
		if (x) {
			memcpy(x->h, h, sizeof h);
			x->expires = now + ttl;
			x->next = L->nonces;
			L->nonces = x;
			L->nnonces++;
		}
	} else if (first) {
		first = false; /* cannot remember it: refused rather than open to a replay */
	}
	pthread_mutex_unlock(&L->mu);
	return first;
}

/* ---- Requests ------------------------------------------------------------------------------------ */

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* A parameter of the query (GET) or of the form body (POST). */
static const char *param(struct serve_call *call, json_t *form, const char *key)
{
	if (form) {
		const char *v = jstr(form, key);
		return v && *v ? v : NULL;
	}
	return trmx__serve_query(call, key);
}

/* Append "&key=value" (value percent-encoded); false when out of memory. */
static bool add_param(FILE *f, CURL *c, bool *first, const char *key, const char *value)
{
	if (!value)
		return true;
	char *e = curl_easy_escape(c, value, 0);
	if (!e)
		return false;
	fprintf(f, "%s%s=%s", *first ? "" : "&", key, e);
	*first = false;
	curl_free(e);
	return true;
}

static int login(struct serve_call *call)
{
	struct lti *L = call->s->lti;
	json_t *form = NULL;
	int st;
	if (!strcmp(call->method, "POST") && !(form = trmx__serve_form(call)))
		return refuse(call, 400, "the login request is not a valid form");
	const char *iss = param(call, form, "iss"), *hint = param(call, form, "login_hint"),
		   *target = param(call, form, "target_link_uri"), *mhint = param(call, form, "lti_message_hint"),
		   *client = param(call, form, "client_id"), *dep = param(call, form, "lti_deployment_id");
	if (!L->n) {
		st = refuse(call, 404, "No LTI platform is registered with this tool yet: its administrator registers one "
				       "with `trmx lti add-platform` (docs/LMS.md), then restarts trmx serve.");
		goto done;
	}
	if (!iss || !hint || !target) {
		st = refuse(call, 400, "The login request misses %s: the platform must send iss, login_hint and target_link_uri "
				       "(LTI 1.3 third-party login initiation).",
			    !iss ? "iss" : !hint ? "login_hint" : "target_link_uri");
		goto done;
	}
	size_t pi = L->n, matches = 0;
	for (size_t i = 0; i < L->n; i++)
		if (!strcmp(L->plats[i].p->issuer, iss) && (!client || !strcmp(L->plats[i].p->client_id, client))) {
			if (!matches++)
				pi = i;
		}
	if (!matches) {
		st = refuse(call, 403, "The platform %.300s%s%.200s is not registered with this tool (trmx lti add-platform).", iss,
			    client ? " with client id " : "", client ? client : "");
		goto done;
	}
	if (matches > 1) {
		st = refuse(call, 400, "The platform %.300s is registered with several client ids, and the login names none "
				       "(client_id).", iss);
		goto done;
	}
	const trmx_lti_platform *p = L->plats[pi].p;
	if (dep) {
		bool known = false;
		for (size_t i = 0; i < p->ndeployments; i++)
			known |= !strcmp(p->deployments[i], dep);
		if (!known) {
			st = refuse(call, 403, "The deployment '%.200s' of %.300s is not registered with this tool (trmx lti "
					       "add-platform --deployment).", dep, iss);
			goto done;
		}
	}
	struct pending *x = calloc(1, sizeof *x);
	if (!x) {
		st = refuse(call, 500, "out of memory");
		goto done;
	}
	random_id(x->id);
	random_id(x->nonce);
	x->plat = pi;
	x->expires = trmx_mono_s() + LOGIN_TTL_S;
	char state[48];
	memcpy(state, x->id, sizeof state);
	char nonce[48];
	memcpy(nonce, x->nonce, sizeof nonce);
	pending_add(L, &L->logins, &L->nlogins, x);
	char *redirect = trmx_xasprintf("%s/lti/launch", call->s->public_url), *buf = NULL;
	size_t len = 0;
	CURL *c = curl_easy_init();
	FILE *f = open_memstream(&buf, &len);
	bool first = false, ok = redirect && c && f;
	if (ok) {
		fputs(p->auth_url, f);
		fputc(strchr(p->auth_url, '?') ? '&' : '?', f);
		first = true;
		ok = add_param(f, c, &first, "scope", "openid") && add_param(f, c, &first, "response_type", "id_token") &&
		     add_param(f, c, &first, "response_mode", "form_post") && add_param(f, c, &first, "prompt", "none") &&
		     add_param(f, c, &first, "client_id", p->client_id) && add_param(f, c, &first, "redirect_uri", redirect) &&
		     add_param(f, c, &first, "login_hint", hint) && add_param(f, c, &first, "lti_message_hint", mhint) &&
		     add_param(f, c, &first, "state", state) && add_param(f, c, &first, "nonce", nonce);
	}
	if (f && fclose(f) != 0)
		ok = false;
	curl_easy_cleanup(c);
	free(redirect);
	if (!ok) {
		free(buf);
		st = refuse(call, 500, "out of memory");
		goto done;
	}
	call->location = buf;
	st = 302;
done:
	json_decref(form);
	return st;
}

/* A claim's time (a JSON number of seconds since 1970), or NAN. */
static double claim_time(json_t *payload, const char *key)
{
	json_t *v = json_object_get(payload, key);
	return json_is_number(v) ? json_number_value(v) : NAN;
}

/* The context a resource link names: the custom claim trmx_context (set by deep linking), else the
 * target link URI's ?context= (PUBLIC/lti/launch?context=NAME). malloc'd, or NULL. */
static char *link_context(json_t *payload)
{
	const char *c = jstr(json_object_get(payload, CLAIM "custom"), "trmx_context");
	if (c && *c)
		return strdup(c);
	const char *t = jstr(payload, CLAIM "target_link_uri");
	char *q = NULL, *out = NULL;
	CURLU *u = t ? curl_url() : NULL;
	if (u && curl_url_set(u, CURLUPART_URL, t, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_QUERY, &q, 0) == CURLUE_OK) {
		for (char *save = NULL, *kv = strtok_r(q, "&", &save); kv && !out; kv = strtok_r(NULL, "&", &save))
			if (!strncmp(kv, "context=", 8) && kv[8]) {
				for (char *p = kv + 8; *p; p++) /* form encoding: '+' is a space */
					if (*p == '+')
						*p = ' ';
				int n = 0;
				char *d = curl_easy_unescape(NULL, kv + 8, 0, &n);
				if (d && (size_t)n == strlen(d))
					out = strdup(d);
				curl_free(d);
			}
	}
	curl_free(q);
	curl_url_cleanup(u);
	return out;
}

/* Is `context` bound? */
static bool bound(trmx_server *s, const char *context)
{
	trmx_binding_info *bs = NULL;
	size_t n = 0;
	trmx_error err;
	pthread_mutex_lock(&s->host_mu);
	int rc = trmx_registry_bindings(trmx_host_registry(s->host), context, &bs, &n, &err);
	pthread_mutex_unlock(&s->host_mu);
	free(bs);
	return rc == 0 && n > 0;
}

static int resource_link(struct serve_call *call, size_t pi, json_t *payload)
{
	trmx_server *s = call->s;
	struct lti *L = s->lti;
	const trmx_lti_platform *p = L->plats[pi].p;
	const char *sub = jstr(payload, "sub"), *dep = jstr(payload, CLAIM "deployment_id");
	json_t *rl = json_object_get(payload, CLAIM "resource_link");
	if (!sub || !*sub)
		return refuse(call, 400, "The launch names no user (sub): anonymous launches cannot be graded or logged per "
					 "learner here.");
	if (!jstr(rl, "id"))
		return refuse(call, 400, "The launch has no resource link id (claim resource_link).");
	char *context = link_context(payload);
	trmx_error err;
	int st;
	if (!context)
		return refuse(call, 404, "This link names no trmx context. Edit the activity in the course and pick a context "
					 "through the tool's content picker (Deep Linking), or give the link the custom "
					 "parameter trmx_context=NAME.");
	if (trmx_context_check(context, &err) < 0 || !bound(s, context)) {
		st = refuse(call, 404, "The context '%.256s' this link names is not bound to a module here (trmx bind), or not a "
				       "context name.", context);
		free(context);
		return st;
	}
	/* the learner: the platform's user, named by issuer and subject; the host pseudonymises it
	 * before anything is logged */
	char learner[TRMX_SERVE_LEARNER_MAX + 1];
	if (snprintf(learner, sizeof learner, "lti:%s|%s", p->issuer, sub) >= (int)sizeof learner) {
		unsigned char h[16];
		char hex[33];
		char *both = trmx_xasprintf("%s|%s", p->issuer, sub);
		crypto_generichash(h, sizeof h, (unsigned char *)(both ? both : sub), strlen(both ? both : sub), NULL, 0);
		free(both);
		snprintf(learner, sizeof learner, "lti:%s", sodium_bin2hex(hex, sizeof hex, h, sizeof h));
	}
	/* what the grade passback needs, when the platform offers it for this link */
	json_t *ags = json_object_get(payload, CLAIM_AGS), *scopes = json_object_get(ags, "scope"), *lti = NULL, *v;
	const char *lineitem = jstr(ags, "lineitem");
	bool may_score = false;
	size_t i;
	json_array_foreach(scopes, i, v) may_score |= json_is_string(v) && !strcmp(json_string_value(v), SCOPE_SCORE);
	if (lineitem && may_score && !trmx__lti_url_problem(lineitem))
		lti = json_pack("{s:s,s:s,s:s,s:s,s:s,s:O}", "iss", p->issuer, "client_id", p->client_id, "sub", sub,
				"deployment_id", dep, "lineitem", lineitem, "scopes", scopes);
	char token[SESSION_TOKEN_MAX + 1];
	if (trmx__session_new(s, context, learner, lti, token, &err) < 0) {
		st = refuse(call, err.code == TRMX_ELIMIT ? 503 : 500, "%s", err.message);
		goto done;
	}
	size_t len = 0;
	char *page = trmx__web_learn_page(s, context, token, &len);
	sodium_memzero(token, sizeof token);
	if (!page) {
		st = refuse(call, 500, "The learner's page is not available in this build of trmx serve.");
		goto done;
	}
	call->page = page;
	call->page_len = len;
	call->page_type = "text/html; charset=utf-8";
	call->csp = L->csp_frame;
	st = 200;
done:
	json_decref(lti);
	free(context);
	return st;
}

/* The picker: bound contexts and module aliases, posted to /lti/deeplink with a one-time id. */
static int deep_link_request(struct serve_call *call, size_t pi, json_t *payload)
{
	trmx_server *s = call->s;
	struct lti *L = s->lti;
	json_t *dls = json_object_get(payload, CLAIM_DL "deep_linking_settings"), *types = json_object_get(dls, "accept_types"), *v;
	const char *ret = jstr(dls, "deep_link_return_url"), *why;
	bool links = false;
	size_t i;
	json_array_foreach(types, i, v) links |= json_is_string(v) && !strcmp(json_string_value(v), "ltiResourceLink");
	if (!ret || (why = trmx__lti_url_problem(ret)))
		return refuse(call, 400, "The deep linking request has no valid deep_link_return_url.");
	if (!links)
		return refuse(call, 400, "The platform does not accept ltiResourceLink items here (accept_types), the only kind "
					 "this tool makes.");
	/* Picking what a course link serves (and binding a context to a module alias) is a course
	 * editor's act: an instructor, a content developer or an administrator (LIS v2 roles, context
	 * or institution level) */
	bool editor = false;
	json_array_foreach(json_object_get(payload, CLAIM "roles"), i, v) {
		const char *role = json_string_value(v), *hash = role ? strrchr(role, '#') : NULL;
		editor |= hash && (!strcmp(hash, "#Instructor") || !strcmp(hash, "#ContentDeveloper") ||
				   !strcmp(hash, "#Administrator"));
	}
	if (!editor)
		return refuse(call, 403, "Only an instructor, a content developer or an administrator may choose what a course "
					 "link serves (the launch's roles claim names none of them).");
	trmx_binding_info *bs = NULL;
	trmx_alias_info *as = NULL;
	size_t nb = 0, na = 0;
	trmx_error err = { 0, "" };
	pthread_mutex_lock(&s->host_mu);
	trmx_registry *reg = trmx_host_registry(s->host);
	int rc = trmx_registry_bindings(reg, NULL, &bs, &nb, &err);
	if (rc == 0)
		rc = trmx_registry_aliases(reg, NULL, &as, &na, &err);
	pthread_mutex_unlock(&s->host_mu);
	struct pending *x = rc == 0 ? calloc(1, sizeof *x) : NULL;
	int st;
	if (!x) {
		st = refuse(call, 500, "%s", rc < 0 ? "the registry cannot be read" : "out of memory");
		goto done;
	}
	random_id(x->id);
	x->plat = pi;
	x->expires = trmx_mono_s() + PICKER_TTL_S;
	const char *dep = jstr(payload, CLAIM "deployment_id"), *lms = jstr(json_object_get(payload, CLAIM "context"), "id");
	x->deployment = strdup(dep ? dep : "");
	x->return_url = strdup(ret);
	x->lms_context = strdup(lms ? lms : "");
	x->data = json_incref(json_object_get(dls, "data"));
	char id[48];
	memcpy(id, x->id, sizeof id);
	if (!x->deployment || !x->return_url || !x->lms_context) {
		pending_free(x);
		st = refuse(call, 500, "out of memory");
		goto done;
	}
	pending_add(L, &L->pickers, &L->npickers, x);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		st = refuse(call, 500, "out of memory");
		goto done;
	}
	page_head(f, "Add a trmx activity");
	/* relative to PUBLIC/lti/launch, so it also works behind a proxy that serves the tool under a path */
	fputs("<form method=\"post\" action=\"deeplink\">\n<input type=\"hidden\" name=\"picker\" value=\"", f);
	esc(f, id);
	fputs("\">\n", f);
	size_t shown = 0;
	if (nb) {
		fputs("<fieldset><legend>A context (a course item bound to a module)</legend>\n", f);
		for (i = 0; i < nb; i++, shown++) {
			fprintf(f, "<p><label><input type=\"radio\" name=\"choice\" value=\"context:");
			esc(f, bs[i].context);
			fprintf(f, "\"%s> ", shown ? "" : " checked required");
			esc(f, bs[i].context);
			fputs(" <small>(", f);
			esc(f, bs[i].target);
			fputs(")</small></label></p>\n", f);
		}
		fputs("</fieldset>\n", f);
	}
	if (na) {
		fputs("<fieldset><legend>A module alias (a new context of this course follows it)</legend>\n", f);
		for (i = 0; i < na; i++, shown++) {
			fprintf(f, "<p><label><input type=\"radio\" name=\"choice\" value=\"alias:");
			esc(f, as[i].module);
			fputc('@', f);
			esc(f, as[i].alias);
			fprintf(f, "\"%s> ", shown ? "" : " checked required");
			esc(f, as[i].module);
			fputc('@', f);
			esc(f, as[i].alias);
			fputs(" <small>(", f);
			esc(f, as[i].module_version);
			fputs(")</small></label></p>\n", f);
		}
		fputs("</fieldset>\n", f);
	}
	if (!shown)
		fputs("<p>Nothing is bound or aliased here yet: bind a context (trmx bind) or set an alias (trmx alias set), "
		      "then open the picker again.</p>\n",
		      f);
	else
		fputs("<p><button type=\"submit\">Add to the course</button></p>\n", f);
	fputs("</form>\n", f);
	st = page_end(call, f, &buf, &len, 200);
	call->csp = L->csp_frame;
done:
	free(bs);
	free(as);
	return st;
}

static int launch(struct serve_call *call)
{
	struct lti *L = call->s->lti;
	json_t *form = trmx__serve_form(call), *payload;
	struct lti_jwt j = { 0 };
	struct pending *x = NULL;
	json_t *jwk = NULL;
	char why[512];
	int st;
	if (!form) {
		st = refuse(call, 400, "The launch is not a valid form post.");
		goto done;
	}
	const char *tok = jstr(form, "id_token"), *state = jstr(form, "state"), *perr = jstr(form, "error");
	if (perr && !tok) {
		const char *d = jstr(form, "error_description");
		st = refuse(call, 400, "The platform refused the login: %.100s%s%.300s", perr, d ? ": " : "", d ? d : "");
		goto done;
	}
	if (!tok || !state) {
		st = refuse(call, 400, "The launch misses %s (a form post with id_token and state, from the platform).",
			    !tok ? "id_token" : "state");
		goto done;
	}
	if (!(x = pending_take(L, &L->logins, &L->nlogins, state))) {
		st = refuse(call, 400, "The launch's state is unknown, expired or used already: each launch starts with a "
				       "login and may be used once. Open the activity again from the course.");
		goto done;
	}
	const trmx_lti_platform *p = L->plats[x->plat].p;
	if (trmx__lti_jwt_parse(tok, strlen(tok), &j, why, sizeof why) < 0) {
		st = refuse(call, strstr(why, "alg") ? 401 : 400, "The id_token is refused: %s.", why);
		goto done;
	}
	if ((st = platform_key(L, x->plat, j.kid, &jwk, why, sizeof why))) {
		st = refuse(call, st, "The id_token is refused: %s.", why);
		goto done;
	}
	if (trmx__lti_jwt_verify(&j, jwk, why, sizeof why) < 0) {
		st = refuse(call, 401, "The id_token is refused: %s (signed by someone other than %.300s?).", why, p->issuer);
		goto done;
	}
	payload = j.payload;
	const char *iss = jstr(payload, "iss"), *azp = jstr(payload, "azp"), *nonce = jstr(payload, "nonce");
	if (!iss || strcmp(iss, p->issuer)) {
		st = refuse(call, 401, "The id_token is refused: its issuer is '%.300s', not the platform %.300s that the login "
				       "came from.", iss ? iss : "(none)", p->issuer);
		goto done;
	}
	json_t *aud = json_object_get(payload, "aud"), *a;
	bool ours = json_is_string(aud) && !strcmp(json_string_value(aud), p->client_id);
	size_t i;
	json_array_foreach(aud, i, a) ours |= json_is_string(a) && !strcmp(json_string_value(a), p->client_id);
	if (!ours) {
		st = refuse(call, 401, "The id_token is refused: its audience (aud) is not this tool's client id %.200s.",
			    p->client_id);
		goto done;
	}
	if ((json_is_array(aud) && json_array_size(aud) > 1 && !azp) || (azp && strcmp(azp, p->client_id))) {
		st = refuse(call, 401, "The id_token is refused: it is for several audiences and its authorized party (azp) is "
				       "not this tool's client id %.200s.", p->client_id);
		goto done;
	}
	double now = (double)time(NULL), exp = claim_time(payload, "exp"), iat = claim_time(payload, "iat");
	if (!(exp > now - SKEW_S)) {
		st = refuse(call, 401, "The id_token is refused: it has expired%s (exp), or the clocks of the platform and "
				       "this server differ.", isnan(exp) ? " or has no expiry time" : "");
		goto done;
	}
	if (!(iat <= now + SKEW_S)) {
		st = refuse(call, 401, "The id_token is refused: it was issued in the future (iat)%s, or the clocks differ.",
			    isnan(iat) ? " or has no issue time" : "");
		goto done;
	}
	/* a nonce seen before is a replay, whatever the state; then it must be this login's */
	if (!nonce || !nonce_first(L, nonce, fmax(LOGIN_TTL_S, fmin(exp - now + SKEW_S, 86400.0)))) {
		st = refuse(call, 401, "The id_token is refused: %s.", nonce ? "its nonce was used before (a replayed launch)"
									     : "it has no nonce");
		goto done;
	}
	if (strcmp(nonce, x->nonce)) {
		st = refuse(call, 401, "The id_token is refused: its nonce is not the one this tool sent with the login.");
		goto done;
	}
	const char *dep = jstr(payload, CLAIM "deployment_id"), *ver = jstr(payload, CLAIM "version"),
		   *type = jstr(payload, CLAIM "message_type");
	bool known = false;
	for (i = 0; dep && i < p->ndeployments; i++)
		known |= !strcmp(p->deployments[i], dep);
	if (!known) {
		st = refuse(call, 403, "The deployment '%.200s' of %.300s is not registered with this tool (trmx lti "
				       "add-platform --deployment).", dep ? dep : "(none)", p->issuer);
		goto done;
	}
	if (!ver || strcmp(ver, "1.3.0")) {
		st = refuse(call, 400, "The launch is LTI version '%.32s'; this tool speaks 1.3.0.", ver ? ver : "(none)");
		goto done;
	}
	if (type && !strcmp(type, "LtiResourceLinkRequest"))
		st = resource_link(call, x->plat, payload);
	else if (type && !strcmp(type, "LtiDeepLinkingRequest"))
		st = deep_link_request(call, x->plat, payload);
	else
		st = refuse(call, 400, "The launch's message type '%.64s' is not one this tool takes (LtiResourceLinkRequest, "
				       "LtiDeepLinkingRequest).", type ? type : "(none)");
done:
	ERR_clear_error();
	json_decref(jwk);
	trmx__lti_jwt_clear(&j);
	pending_free(x);
	json_decref(form);
	return st;
}

/* A context of this course that follows `alias` (MODULE@ALIAS): "lti/<hash of the course>/MODULE-ALIAS",
 * bound to it when it is not yet. */
static int alias_context(trmx_server *s, const struct pending *x, const char *alias, char *out, size_t cap, char *why,
			 size_t wcap)
{
	trmx_target t;
	trmx_error err;
	if (trmx_target_parse(alias, &t, &err) < 0 || t.kind != TRMX_TARGET_ALIAS) {
		snprintf(why, wcap, "'%.100s' is not a module alias", alias);
		return 400;
	}
	const trmx_lti_platform *p = s->lti->plats[x->plat].p;
	char *course = trmx_xasprintf("%s|%s|%s", p->issuer, x->deployment, x->lms_context);
	unsigned char h[6];
	char hex[13];
	if (!course) {
		snprintf(why, wcap, "out of memory");
		return 500;
	}
	crypto_generichash(h, sizeof h, (unsigned char *)course, strlen(course), NULL, 0);
	free(course);
	snprintf(out, cap, "lti/%s/%s-%s", sodium_bin2hex(hex, sizeof hex, h, sizeof h), t.module, t.ref);
	trmx_registry_options ro = TRMX_REGISTRY_OPTIONS_INIT;
	ro.actor = "serve:lti-deep-linking";
	trmx_registry *reg = NULL;
	trmx_binding_info *bs = NULL;
	size_t n = 0;
	int rc = trmx_registry_open(&reg, s->home, &ro, &err);
	if (rc == 0)
		rc = trmx_registry_bindings(reg, out, &bs, &n, &err);
	if (rc == 0 && (!n || strcmp(bs[0].target, alias)))
		rc = trmx_registry_bind(reg, out, alias, NULL, 0, &err);
	free(bs);
	trmx_registry_free(reg);
	if (rc < 0) {
		snprintf(why, wcap, "cannot bind %.200s to %.100s: %.120s", out, alias, err.message);
		return trmx__http_status_of(rc);
	}
	return 0;
}

static __thread char csp_answer[TRMX_LTI_URL_MAX + 640]; /* the answer page's CSP, read by the server on this thread */

static int deep_link_answer(struct serve_call *call)
{
	trmx_server *s = call->s;
	struct lti *L = s->lti;
	json_t *form = trmx__serve_form(call), *payload = NULL, *item = NULL;
	struct pending *x = NULL;
	char context[TRMX_CONTEXT_NAME_MAX + 1], why[512], *jwt = NULL, *origin = NULL;
	trmx_error err;
	int st;
	const char *id = form ? jstr(form, "picker") : NULL, *choice = form ? jstr(form, "choice") : NULL;
	if (!id || !choice) {
		st = refuse(call, 400, "The picker's answer misses %s.", !id ? "its picker id" : "a choice");
		goto done;
	}
	if (!(x = pending_take(L, &L->pickers, &L->npickers, id))) {
		st = refuse(call, 400, "This picker is unknown, expired or used already: open the content picker again from the "
				       "course.");
		goto done;
	}
	const trmx_lti_platform *p = L->plats[x->plat].p;
	char title[TRMX_CONTEXT_NAME_MAX + 64];
	if (!strncmp(choice, "context:", 8)) {
		snprintf(context, sizeof context, "%s", choice + 8);
		if (trmx_context_check(context, &err) < 0 || !bound(s, context)) {
			st = refuse(call, 404, "The context '%.256s' is not bound here (any more).", context);
			goto done;
		}
		snprintf(title, sizeof title, "%s", context);
	} else if (!strncmp(choice, "alias:", 6)) {
		if ((st = alias_context(s, x, choice + 6, context, sizeof context, why, sizeof why))) {
			st = refuse(call, st, "%s", why);
			goto done;
		}
		snprintf(title, sizeof title, "%s", choice + 6);
	} else {
		st = refuse(call, 400, "The choice '%.100s' is neither a context nor a module alias.", choice);
		goto done;
	}
	const struct lti_key *k = tool_key(L, &err);
	if (!k) {
		st = refuse(call, 500, "The tool key cannot be read: %s", err.message);
		goto done;
	}
	char *url = trmx_xasprintf("%s/lti/launch", s->public_url), nonce[48];
	random_id(nonce);
	int64_t now = (int64_t)time(NULL);
	item = url ? json_pack("{s:s,s:s,s:s,s:{s:s},s:{s:i,s:s,s:s}}", "type", "ltiResourceLink", "title", title, "url", url,
			       "custom", "trmx_context", context, "lineItem", "scoreMaximum", 1, "label", title, "resourceId",
			       context)
		   : NULL;
	free(url);
	payload = item ? json_pack("{s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:s,s:[O]}", "iss", p->client_id, "aud", p->issuer, "iat",
				   (json_int_t)now, "exp", (json_int_t)(now + 600), "nonce", nonce, CLAIM "deployment_id",
				   x->deployment, CLAIM "message_type", "LtiDeepLinkingResponse", CLAIM "version", "1.3.0",
				   CLAIM_DL "content_items", item)
		       : NULL;
	if (payload && x->data)
		json_object_set(payload, CLAIM_DL "data", x->data);
	if (!payload || !(jwt = trmx__lti_jwt_sign(k, payload))) {
		st = refuse(call, 500, "The answer to the platform cannot be signed.");
		goto done;
	}
	/* the form goes to the platform: the CSP lets it go there and nowhere else */
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL;
	if (u && curl_url_set(u, CURLUPART_URL, x->return_url, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK && curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK)
		curl_url_get(u, CURLUPART_PORT, &port, 0);
	if (scheme && host)
		origin = trmx_xasprintf("%s://%s%s%s", scheme, host, port ? ":" : "", port ? port : "");
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_url_cleanup(u);
	if (!origin) {
		st = refuse(call, 400, "The platform's deep_link_return_url cannot be read.");
		goto done;
	}
	snprintf(csp_answer, sizeof csp_answer, "default-src 'self'; base-uri 'none'; form-action %s; frame-ancestors %s",
		 origin, s->opts.frame_ancestors ? s->opts.frame_ancestors : "*");
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		st = refuse(call, 500, "out of memory");
		goto done;
	}
	page_head(f, "Return to the course");
	fputs("<p>The activity <strong>", f);
	esc(f, title);
	fputs("</strong> is ready to be added.</p>\n<form method=\"post\" action=\"", f);
	esc(f, x->return_url);
	fputs("\">\n<input type=\"hidden\" name=\"JWT\" value=\"", f);
	esc(f, jwt);
	fputs("\">\n<p><button type=\"submit\">Return to the course</button></p>\n</form>\n", f);
	st = page_end(call, f, &buf, &len, 200);
	call->csp = csp_answer;
done:
	free(origin);
	free(jwt);
	json_decref(item);
	json_decref(payload);
	pending_free(x);
	json_decref(form);
	return st;
}

static int jwks(struct serve_call *call)
{
	trmx_error err;
	const struct lti_key *k = tool_key(call->s->lti, &err);
	if (!k) {
		snprintf(call->why, sizeof call->why, "the tool key cannot be read: %.400s", err.message);
		return 500;
	}
	pthread_mutex_lock(&call->s->lti->mu);
	call->out = json_deep_copy(k->jwks);
	pthread_mutex_unlock(&call->s->lti->mu);
	return call->out ? 200 : 500;
}

static int handle(struct serve_call *call);

int trmx__lti_handle(struct serve_call *call)
{
	int st = handle(call);
	ERR_clear_error(); /* OpenSSL's queue is per thread: leave nothing for the next request */
	return st;
}

static int handle(struct serve_call *call)
{
	const char *r = call->url + strlen("/lti/");
	size_t n = strlen(r);
	while (n && r[n - 1] == '/')
		n--;
	bool get = !strcmp(call->method, "GET") || !strcmp(call->method, "HEAD");
	if (!call->s->lti) {
		snprintf(call->why, sizeof call->why, "LTI is not running on this server");
		return 503;
	}
	if (n == 4 && !strncmp(r, "jwks", 4)) {
		if (!get) {
			snprintf(call->why, sizeof call->why, "POST is not allowed here; use GET");
			return 405;
		}
		return jwks(call);
	}
	if (n == 5 && !strncmp(r, "login", 5))
		return login(call);
	if (n == 6 && !strncmp(r, "launch", 6))
		return get ? refuse(call, 405, "A launch is a form post from the platform (POST /lti/launch); open the activity "
					       "from the course.")
			   : launch(call);
	if (n == 8 && !strncmp(r, "deeplink", 8))
		return get ? refuse(call, 405, "The picker's answer is a form post (POST /lti/deeplink).") : deep_link_answer(call);
	snprintf(call->why, sizeof call->why, "no LTI route %s (/lti/login, /lti/launch, /lti/deeplink, /lti/jwks)", call->url);
	return 404;
}

/* ---- Grade passback ------------------------------------------------------------------------------ */

void trmx__lti_solved(trmx_server *s, const struct session_info *session, const trmx_dispatch_result *res)
{
	struct lti *L = s->lti;
	if (!L || !session->lti)
		return;
	char at[32];
	trmx_iso_time(trmx_now_ms(), at);
	pthread_mutex_lock(&L->mu);
	for (size_t i = 0; i < res->n; i++) {
		const trmx_run_result *r = &res->runs[i];
		struct score *x = L->queued < SCORES_MAX && !L->stop ? calloc(1, sizeof *x) : NULL;
		if (!x) {
			L->dropped++;
			continue;
		}
		x->lti = json_incref(session->lti);
		x->given = r->status != TRMX_RUN_ERROR && r->check.verdict == TRMX_VERDICT_VALID ? 1.0 : 0.0;
		snprintf(x->run_id, sizeof x->run_id, "%s", r->run_id);
		memcpy(x->at, at, sizeof at);
		x->due = 0;
		if (L->tail)
			L->tail->next = x;
		else
			L->head = x;
		L->tail = x;
		L->queued++;
	}
	pthread_cond_signal(&L->cv);
	pthread_mutex_unlock(&L->mu);
}

static struct plat *plat_of(struct lti *L, json_t *claims)
{
	const char *iss = jstr(claims, "iss"), *client = jstr(claims, "client_id");
	for (size_t i = 0; iss && client && i < L->n; i++)
		if (!strcmp(L->plats[i].p->issuer, iss) && !strcmp(L->plats[i].p->client_id, client))
			return &L->plats[i];
	return NULL;
}

/* An AGS access token for P (malloc'd), from the cache or the platform's token endpoint. */
static char *access_token(struct lti *L, struct plat *P, char *why, size_t cap)
{
	pthread_mutex_lock(&L->mu);
	char *tok = P->token && P->token_until > trmx_mono_s() ? strdup(P->token) : NULL;
	pthread_mutex_unlock(&L->mu);
	if (tok)
		return tok;
	trmx_error err;
	const struct lti_key *k = tool_key(L, &err);
	if (!k) {
		snprintf(why, cap, "the tool key: %.400s", err.message);
		return NULL;
	}
	char jti[48];
	random_id(jti);
	int64_t now = (int64_t)time(NULL);
	json_t *claims = json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "iss", P->p->client_id, "sub", P->p->client_id, "aud",
				   P->p->token_url, "iat", (json_int_t)now, "exp", (json_int_t)(now + 300), "jti", jti);
	char *assertion = claims ? trmx__lti_jwt_sign(k, claims) : NULL, *form = NULL, *ea = NULL, *answer = NULL;
	json_decref(claims);
	CURL *c = curl_easy_init();
	char *es = c ? curl_easy_escape(c, SCOPE_SCORE, 0) : NULL;
	if (assertion && c && es && (ea = curl_easy_escape(c, assertion, 0)))
		form = trmx_xasprintf("grant_type=client_credentials&client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-"
				      "assertion-type%%3Ajwt-bearer&client_assertion=%s&scope=%s", ea, es);
	curl_free(ea);
	curl_free(es);
	curl_easy_cleanup(c);
	free(assertion);
	long st = 0;
	if (!form) {
		snprintf(why, cap, "out of memory");
		return NULL;
	}
	int rc = http(P->p->token_url, "application/x-www-form-urlencoded", form, NULL, &st, &answer, why, cap);
	free(form);
	if (rc < 0)
		return NULL;
	json_t *o = json_loads(answer, 0, NULL);
	const char *at = jstr(o, "access_token");
	json_t *ei = json_object_get(o, "expires_in");
	if (st != 200 || !at || !*at) {
		snprintf(why, cap, "the token endpoint %.200s answered HTTP %ld%s%.100s", P->p->token_url, st,
			 jstr(o, "error") ? ": " : " without an access_token", jstr(o, "error") ? jstr(o, "error") : "");
	} else if ((tok = strdup(at))) {
		double life = json_is_number(ei) ? json_number_value(ei) : 3600.0;
		pthread_mutex_lock(&L->mu);
		free(P->token);
		P->token = strdup(at);
		P->token_until = trmx_mono_s() + fmax(0.0, fmin(life, 86400.0) - 30.0); /* renewed before the platform expires it */
		pthread_mutex_unlock(&L->mu);
	}
	json_decref(o);
	free(answer);
	return tok;
}

/* lineitem + "/scores", before its query: .../lineitems/7/lineitem?type_id=2 -> .../lineitem/scores?type_id=2 */
static char *scores_url(const char *lineitem)
{
	size_t n = strcspn(lineitem, "?#");
	const char *rest = lineitem[n] == '?' ? lineitem + n : "";
	size_t rn = strcspn(rest, "#");
	while (n && lineitem[n - 1] == '/')
		n--;
	return trmx_xasprintf("%.*s/scores%.*s", (int)n, lineitem, (int)rn, rest);
}

/* Send one score: 0, or -1 with why. */
static int send_score(struct lti *L, struct score *x, char *why, size_t cap)
{
	struct plat *P = plat_of(L, x->lti);
	if (!P) {
		snprintf(why, cap, "its platform is not registered any more");
		return -1;
	}
	char *tok = access_token(L, P, why, cap), *url = NULL, *text = NULL, *answer = NULL;
	if (!tok)
		return -1;
	json_t *score = json_pack("{s:s,s:f,s:i,s:s,s:s,s:s}", "userId", jstr(x->lti, "sub"), "scoreGiven", x->given,
				  "scoreMaximum", 1, "activityProgress", "Completed", "gradingProgress", "FullyGraded",
				  "timestamp", x->at);
	int rc = -1;
	long st = 0;
	if (score && (text = json_dumps(score, JSON_COMPACT)) && (url = scores_url(jstr(x->lti, "lineitem"))) &&
	    http(url, "application/vnd.ims.lis.v1.score+json", text, tok, &st, &answer, why, cap) == 0) {
		if (st >= 200 && st < 300) {
			rc = 0;
		} else {
			snprintf(why, cap, "%.200s answered HTTP %ld", url, st);
			if (st == 401 || st == 403) { /* a token the platform no longer takes: get a new one next time */
				pthread_mutex_lock(&L->mu);
				free(P->token);
				P->token = NULL;
				pthread_mutex_unlock(&L->mu);
			}
		}
	} else if (!answer && !why[0]) {
		snprintf(why, cap, "out of memory");
	}
	json_decref(score);
	free(text);
	free(url);
	free(answer);
	free(tok);
	return rc;
}

static void score_free(struct score *x)
{
	json_decref(x->lti);
	free(x);
}

/* Two scores for one user's line item: the later waits for the earlier (the platform keeps the
 * latest it gets, so they must arrive in order). */
static bool same_item(const struct score *a, const struct score *b)
{
	if (a->lti == b->lti)
		return true;
	const char *la = jstr(a->lti, "lineitem"), *lb = jstr(b->lti, "lineitem"), *ua = jstr(a->lti, "sub"),
		   *ub = jstr(b->lti, "sub");
	return la && lb && ua && ub && !strcmp(la, lb) && !strcmp(ua, ub);
}

/* Take x out of the queue (under mu). */
static void unlink_score(struct lti *L, struct score *x)
{
	struct score *prev = NULL;
	for (struct score **q = &L->head; *q; prev = *q, q = &(*q)->next)
		if (*q == x) {
			*q = x->next;
			if (L->tail == x)
				L->tail = prev;
			L->queued--;
			return;
		}
}

static void *worker(void *arg)
{
	struct lti *L = arg;
	double drain_until = 0;
	pthread_mutex_lock(&L->mu);
	for (;;) {
		double now = trmx_mono_s();
		if (L->stop && !drain_until)
			drain_until = now + DRAIN_S;
		/* the first score that is due and has no earlier one of its user and line item waiting
		 * (in stopping, every one is due: a last try each); a score stays in its place while it
		 * is sent and retried */
		struct score *x = NULL;
		double next = INFINITY;
		for (struct score *y = L->head; y && !x; y = y->next) {
			if (!L->stop && y->due > now) {
				next = fmin(next, y->due);
				continue;
			}
			bool blocked = false;
			for (struct score *z = L->head; z != y && !blocked; z = z->next)
				blocked = same_item(z, y);
			if (!blocked)
				x = y;
		}
		if (!x) {
			if (L->stop)
				break;
			if (isinf(next)) {
				pthread_cond_wait(&L->cv, &L->mu);
			} else {
				struct timespec ts;
				ts.tv_sec = (time_t)next;
				ts.tv_nsec = (long)((next - (double)ts.tv_sec) * 1e9);
				pthread_cond_timedwait(&L->cv, &L->mu, &ts);
			}
			continue;
		}
		if (L->stop && now > drain_until) { /* stopping took too long: the rest is given up */
			unlink_score(L, x);
			L->failed++;
			trmx_diag(TRMX_DIAG_WARN, "LTI grade passback: the score of run %s was not sent before the server stopped",
				 x->run_id);
			score_free(x);
			continue;
		}
		pthread_mutex_unlock(&L->mu); /* x stays queued: only this thread takes scores out */
		char why[512] = "";
		int rc = send_score(L, x, why, sizeof why);
		ERR_clear_error();
		pthread_mutex_lock(&L->mu);
		if (rc == 0) {
			unlink_score(L, x);
			L->sent++;
			score_free(x);
			continue;
		}
		if (++x->tries >= SCORE_TRIES || L->stop) {
			unlink_score(L, x);
			L->failed++;
			trmx_diag(TRMX_DIAG_WARN, "LTI grade passback: the score of run %s is given up after %d tries: %s (%llu "
						"given up so far)",
				 x->run_id, x->tries, why, (unsigned long long)L->failed);
			score_free(x);
			continue;
		}
		x->due = trmx_mono_s() + (double)(1 << (2 * x->tries - 1)); /* 2, 8, 32, 128, 512 s */
	}
	pthread_mutex_unlock(&L->mu);
	return NULL;
}

/* ---- Start and stop ------------------------------------------------------------------------------ */

static void lti_free(struct lti *L)
{
	if (!L)
		return;
	for (size_t i = 0; i < L->n; i++) {
		json_decref(L->plats[i].jwks);
		free(L->plats[i].token);
	}
	free(L->plats);
	trmx_lti_platforms_free(L->list);
	trmx__lti_key_clear(&L->key);
	struct pending *lists[] = { L->logins, L->pickers };
	for (int i = 0; i < 2; i++)
		for (struct pending *p = lists[i], *np; p; p = np) {
			np = p->next;
			pending_free(p);
		}
	for (struct nonce *x = L->nonces, *nx; x; x = nx) {
		nx = x->next;
		free(x);
	}
	for (struct score *x = L->head, *nx; x; x = nx) {
		nx = x->next;
		score_free(x);
	}
	pthread_mutex_destroy(&L->mu);
	pthread_cond_destroy(&L->cv);
	free(L);
}

int trmx__lti_start(trmx_server *s, trmx_error *err)
{
	struct lti *L = calloc(1, sizeof *L);
	int rc;
	if (!L)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	L->s = s;
	pthread_mutex_init(&L->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* due times are trmx_mono_s() */
	pthread_cond_init(&L->cv, &ca);
	pthread_condattr_destroy(&ca);
	snprintf(L->csp_frame, sizeof L->csp_frame, "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors %s",
		 s->opts.frame_ancestors ? s->opts.frame_ancestors : "*");
	if ((rc = trmx_lti_platforms_load(&L->list, s->home, err)) < 0)
		goto fail;
	L->n = trmx_lti_platforms_count(L->list);
	if (L->n && !(L->plats = calloc(L->n, sizeof *L->plats))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < L->n; i++)
		L->plats[i].p = trmx_lti_platforms_entry(L->list, i);
	/* a home without platforms gets its key at the first /lti/jwks, not at every start */
	rc = trmx__lti_key_load(s->home, L->n > 0, &L->key, err);
	if (rc < 0 && rc != TRMX_ENOTFOUND)
		goto fail;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = trmx_error_set(err, TRMX_ERROR, "libcurl cannot be initialised");
		goto fail;
	}
	if (pthread_create(&L->worker, NULL, worker, L) != 0) {
		curl_global_cleanup();
		rc = trmx_error_set(err, TRMX_ERROR, "cannot start the LTI grade passback thread");
		goto fail;
	}
	L->started = true;
	s->lti = L;
	return 0;
fail:
	lti_free(L);
	return rc;
}

void trmx__lti_stop(trmx_server *s)
{
	struct lti *L = s->lti;
	if (!L)
		return;
	pthread_mutex_lock(&L->mu);
	L->stop = true;
	pthread_cond_broadcast(&L->cv);
	pthread_mutex_unlock(&L->mu);
	if (L->started)
		pthread_join(L->worker, NULL);
	if (L->failed || L->dropped)
		trmx_diag(TRMX_DIAG_WARN, "LTI grade passback: %llu scores sent, %llu given up, %llu dropped (queue full)",
			 (unsigned long long)L->sent, (unsigned long long)L->failed, (unsigned long long)L->dropped);
	s->lti = NULL;
	lti_free(L);
	curl_global_cleanup();
}
