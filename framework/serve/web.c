/*
 * web.c — the pages trmx serve shows to people (docs/WEB.md): the learner's page
 * (/learn/{context}, embeddable as an iframe), the course creator's console (/console), the
 * analyst's view (/report), and the files they load (/assets/NAME). The files live in web/ and
 * are embedded at build time (web_assets.h); the pages hold no data, they call the JSON API
 * with the reader's token, so a page needs no authentication of its own. Everything a page says
 * that came from a request (a context's name, a session token) is HTML-escaped.
 */
#define _GNU_SOURCE
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/api.h"
#include "serve/web_assets.h"
#include "trmx/registry.h"

static const struct web_asset *asset_find(const char *name, size_t n)
{
	for (size_t i = 0; i < trmx__web_assets_count; i++)
		if (strlen(trmx__web_assets[i].name) == n && !memcmp(trmx__web_assets[i].name, name, n))
			return &trmx__web_assets[i];
	return NULL;
}

/* A growing string; on out of memory `bad` is set and the text dropped. */
struct buf {
	char *p;
	size_t len, cap;
	bool bad;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t nc = b->cap ? b->cap : 4096;
		while (nc < b->len + n + 1)
			nc *= 2;
		char *np = realloc(b->p, nc);
		if (!np) {
			free(b->p);
			*b = (struct buf){ .bad = true };
			return;
		}
		b->p = np;
		b->cap = nc;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* `s` escaped for HTML text and attribute values (quoted with "). */
static void put_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		switch (*s) {
		case '&': puts_(b, "&amp;"); break;
		case '<': puts_(b, "&lt;"); break;
		case '>': puts_(b, "&gt;"); break;
		case '"': puts_(b, "&quot;"); break;
		case '\'': puts_(b, "&#39;"); break;
		default: put(b, s, 1);
		}
	}
}

/* The template `t` with every `key` replaced by `value` (already HTML). */
static void put_template(struct buf *b, const char *t, const char *const *keys, const char *const *values, size_t n)
{
	while (*t) {
		const char *next = NULL;
		size_t which = 0;
		for (size_t i = 0; i < n; i++) {
			const char *at = strstr(t, keys[i]);
			if (at && (!next || at < next)) {
				next = at;
				which = i;
			}
		}
		if (!next) {
			puts_(b, t);
			return;
		}
		put(b, t, (size_t)(next - t));
		puts_(b, values[which]);
		t = next + strlen(keys[which]);
	}
}

static char *escaped(const char *s)
{
	struct buf b = { 0 };
	put_escaped(&b, s);
	put(&b, "", 0);
	return b.bad ? NULL : b.p;
}

char *trmx__web_learn_page(trmx_server *s, const char *context, const char *session, size_t *len)
{
	static const char learn[] = "learn.html";
	const struct web_asset *a = asset_find(learn, sizeof learn - 1);
	char *ctx = escaped(context ? context : ""), *tok = session ? escaped(session) : NULL;
	char *meta = NULL;
	struct buf b = { 0 };
	if (!a || !ctx || (session && !tok))
		goto done;
	if (tok && asprintf(&meta, "<meta name=\"trmx-session\" content=\"%s\">", tok) < 0) {
		meta = NULL;
		goto done;
	}
	const char *keys[] = { "@CONTEXT@", "<!--trmx-session-->" };
	const char *values[] = { ctx, meta ? meta : "" };
	put_template(&b, (const char *)a->data, keys, values, 2);
	if (!b.bad && len)
		*len = b.len;
done:
	free(ctx);
	free(tok);
	free(meta);
	return b.bad ? NULL : b.p;
}

/* A small page of its own for a refusal (status >= 400): the learner sees why, not JSON. */
static int error_page(struct serve_call *call, int status, const char *title, const char *detail)
{
	struct buf b = { 0 };
	puts_(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
		  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
		  "<link rel=\"stylesheet\" href=\"/assets/trmx.css\"><title>");
	put_escaped(&b, title);
	puts_(&b, " — trmx</title></head><body><main class=\"narrow\"><h1>");
	put_escaped(&b, title);
	puts_(&b, "</h1><p>");
	put_escaped(&b, detail);
	puts_(&b, "</p></main></body></html>\n");
	snprintf(call->why, sizeof call->why, "%s: %s", title, detail);
	if (b.bad)
		return 500; /* the JSON error then */
	call->page = b.p;
	call->page_len = b.len;
	call->page_type = "text/html; charset=utf-8";
	return status;
}

/* The learner's page may be framed by the course pages (opts.frame_ancestors, default any);
 * the server's thread answers right after this returns, so a buffer of the thread holds it. */
static const char *learn_csp(trmx_server *s)
{
	static __thread char csp[512];
	const char *fa = s->opts.frame_ancestors && *s->opts.frame_ancestors ? s->opts.frame_ancestors : "*";
	char clean[400];
	size_t o = 0;
	for (const char *p = fa; *p && o + 1 < sizeof clean; p++) /* one directive: no ';' or line ends */
		if ((unsigned char)*p >= 0x20 && *p != ';' && *p != ',' && *p != 0x7f)
			clean[o++] = *p;
	clean[o] = 0;
	snprintf(csp, sizeof csp, "default-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors %s",
		 o ? clean : "'none'");
	return csp;
}

static int serve_asset(struct serve_call *call, const struct web_asset *a, bool cache)
{
	const char *inm = trmx__serve_header(call, MHD_HTTP_HEADER_IF_NONE_MATCH);
	call->page_type = a->type;
	call->cache = cache;
	call->etag = a->etag;
	if (inm && strstr(inm, a->etag)) { /* the browser has it: 304 without a body */
		if (!(call->page = strdup("")))
			return error_page(call, 500, "Out of memory", "try again");
		call->page_len = 0;
		return 304;
	}
	if (!(call->page = malloc(a->len + 1)))
		return error_page(call, 500, "Out of memory", "try again");
	memcpy(call->page, a->data, a->len + 1);
	call->page_len = a->len;
	return 200;
}

static int learn(struct serve_call *call, const char *context)
{
	trmx_server *s = call->s;
	trmx_error err = { 0, "" };
	if (trmx_context_check(context, &err) < 0)
		return error_page(call, 404, "No such course item", err.message);
	bool bound = false;
	pthread_mutex_lock(&s->host_mu);
	int rc = trmx_registry_is_context(trmx_host_registry(s->host), context, &bound, &err);
	pthread_mutex_unlock(&s->host_mu);
	if (rc < 0)
		return error_page(call, trmx__http_status_of(err.code), "The course item cannot be read", err.message);
	if (!bound) {
		char msg[TRMX_CONTEXT_NAME_MAX + 96];
		snprintf(msg, sizeof msg, "'%s' is not bound to a module here (a course creator binds it: trmx bind)",
			 context);
		return error_page(call, 404, "No such course item", msg);
	}
	if (!(call->page = trmx__web_learn_page(s, context, NULL, &call->page_len)))
		return error_page(call, 500, "Out of memory", "try again");
	call->page_type = "text/html; charset=utf-8";
	call->csp = learn_csp(s);
	return 200;
}

int trmx__web_handle(struct serve_call *call)
{
	const char *url = call->url;
	size_t n = strlen(url);
	while (n > 1 && url[n - 1] == '/') /* a trailing slash is the same page */
		n--;
	static const char lp[] = "/learn/", ap[] = "/assets/";
	if (n > sizeof lp - 1 && !strncmp(url, lp, sizeof lp - 1)) {
		char *context = strndup(url + sizeof lp - 1, n - (sizeof lp - 1));
		if (!context)
			return error_page(call, 500, "Out of memory", "try again");
		int st = learn(call, context);
		free(context);
		return st;
	}
	const struct web_asset *a = NULL;
	bool cache = false;
	if (n == 8 && !strncmp(url, "/console", 8))
		a = asset_find("console.html", 12);
	else if (n == 7 && !strncmp(url, "/report", 7))
		a = asset_find("report.html", 11);
	else if (n > sizeof ap - 1 && !strncmp(url, ap, sizeof ap - 1)) {
		a = asset_find(url + sizeof ap - 1, n - (sizeof ap - 1));
		cache = true;
	}
	if (!a)
		return error_page(call, 404, "No such page", "see docs/WEB.md for the pages trmx serve shows");
	return serve_asset(call, a, cache);
}
