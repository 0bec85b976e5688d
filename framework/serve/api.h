/*
 * api.h — trmx serve's routes besides solve and metrics (api.c): what a route handler gets and
 * gives back.
 */
#ifndef TRMX_SERVE_API_H
#define TRMX_SERVE_API_H

#include <stddef.h>

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
};

/* Run route `route`; returns the HTTP status with call->out or call->why set. */
int api_handle(struct serve_call *call, enum route route);
/* 0 when the call's token may use `scope` in `context`, else 401/403 with call->why set. */
int serve_authorize_context(struct serve_call *call, unsigned scope, const char *context);
/* A query argument of the call, or NULL. */
const char *serve_query(struct serve_call *call, const char *key);

#endif
