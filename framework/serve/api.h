/*
 * api.h — trmx serve's routes besides solve and metrics (api.c): what a route handler gets and
 * gives back.
 */
#ifndef TRMX_SERVE_API_H
#define TRMX_SERVE_API_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "serve/serve_int.h"

struct MHD_Connection;
struct req;

struct serve_call {
	trmx_server *s;
	struct MHD_Connection *conn;
	struct req *r;
	const char *arg;         /* the context or run id of the path */
	const char *body;        /* the JSON body (NULL when empty) */
	size_t len;
	const char *upload;      /* POST /v1/admin/install: the uploaded package's temporary file */
	const char *token;       /* the token's name, "" without authentication */
	char why[TRMX_ERROR_MESSAGE_MAX]; /* the message of a status >= 400 */
	json_t *out;             /* the answer of a status < 400 */
	const struct session_info *session; /* the call's session (a session token), or NULL */
	const char *method;      /* "GET", "POST", ... */
	const char *url;         /* the path, percent-decoded */
	/* a page, an asset or a redirect instead of JSON (web.c, lti.c, index): */
	char *page;              /* the body (malloc'd; freed by the server), any status */
	size_t page_len;
	const char *page_type;   /* its Content-Type */
	char *location;          /* with status 302/303: the redirect's target (malloc'd) */
	const char *csp;         /* Content-Security-Policy; NULL: default-src 'self'; frame-ancestors 'none' */
	bool cache;              /* may be cached (assets); else Cache-Control: no-store */
	const char *etag;        /* the page's ETag header (quoted), or NULL */
	/* index_http.c: a file sent from its descriptor instead of `page` (the server owns and
	 * closes file_fd), file_len bytes from file_offset; and Content-Range for a 206 or 416 */
	bool file;
	int file_fd;
	uint64_t file_offset, file_len;
	char content_range[80];
};

/* Run route `route`; returns the HTTP status with call->out or call->why set. */
int trmx__api_handle(struct serve_call *call, enum route route);
/* 0 when the call's token may use `scope` in `context`, else 401/403 with call->why set. */
int trmx__serve_authorize_context(struct serve_call *call, unsigned scope, const char *context);
/* A query argument of the call, or NULL. */
const char *trmx__serve_query(struct serve_call *call, const char *key);
/* A request header, or NULL. */
const char *trmx__serve_header(struct serve_call *call, const char *name);
/* The fields of an application/x-www-form-urlencoded body (call->body) as a JSON object of
 * strings (libmicrohttpd's post processor); NULL on a malformed body. */
json_t *trmx__serve_form(struct serve_call *call);

#endif
