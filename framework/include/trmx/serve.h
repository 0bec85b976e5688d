/*
 * trmx/serve.h — `trmx serve`: the HTTP service that course servers and learners' browsers call
 * (docs/HTTP.md, schemas/openapi.yaml). libmicrohttpd parses HTTP, jansson JSON.
 *
 *     trmx_server_options o = TRMX_SERVER_OPTIONS_INIT;
 *     o.home = "/srv/course/trmx";
 *     o.listen = "127.0.0.1:8080";
 *     trmx_server *s = NULL;
 *     trmx_server_start(&s, &o, &err);     // listening; requests are served by its own threads
 *     ...                                  // SIGHUP: trmx_server_reload_tokens(s, &err)
 *     trmx_server_stop(s);                 // stop accepting, answer what was accepted, flush
 *     trmx_server_free(s);
 *
 * Every solve from every connection goes into one queue per model; one engine thread runs them
 * in shared batches, refilling a slot as soon as its row halts (trmx_model_solve with `feed`),
 * so many learners at once cost about what one batch costs. A logging thread commits the runs of
 * all finished requests in one transaction, and a request is answered only after its runs are
 * committed: a run id that a client got with a 200 is in log.db, also if the process is killed.
 */
#ifndef TRMX_SERVE_H
#define TRMX_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

typedef struct trmx_server trmx_server;

/* One line of the access log (a JSON object, no newline): method, route, status, milliseconds,
 * the token's name; never a token, a learner id or a body. */
typedef void (*trmx_access_log_fn)(void *user, const char *line);

typedef struct trmx_server_options {
	unsigned int version;
	const char *home;           /* TRMX_HOME; NULL: trmx_home_resolve(NULL) */
	const char *listen;         /* "HOST:PORT" (an IPv4 address, "[IPv6]" or "localhost"); port 0
				       picks a free one; NULL: "127.0.0.1:8080" */
	const char *tokens;         /* the bearer tokens file (trmx/tokens.h); NULL: HOME/tokens.json
				       when it exists, else no authentication (refused unless the
				       address is a loopback one) */
	const char *plugin_dir;     /* engine plugins; NULL: $TRMX_PLUGINS, else built-in engines */
	size_t max_queue;           /* puzzles waiting for the engine; past it 503; 0: 4096 */
	size_t max_body;            /* bytes of a JSON request body; past it 413; 0: 1 MiB */
	int batch;                  /* engine batch slots; 0: 64 */
	int max_connections;        /* 0: 256 */
	trmx_access_log_fn access_log; /* NULL: none */
	void *user;
	/* version 2 */
	const char *public_url;     /* the URL browsers and LMSs reach it at (behind a proxy); it makes
				       the absolute URLs of LTI (docs/LMS.md); NULL: the listen URL */
	const char *frame_ancestors; /* who may frame the learner's page (a CSP frame-ancestors
				       source list); NULL: "*" (any course page may embed it) */
	const char *index_dir;      /* a module index served read-only at /index/ (docs/FORMAT.md);
				       NULL: none */
	const char *xapi_lrs;       /* an LRS's statements endpoint base to forward xAPI statements
				       to as they happen (docs/ANALYTICS.md); NULL: none */
	const char *xapi_auth;      /* its credentials, "USER:PASSWORD" (HTTP Basic) */
} trmx_server_options;
#define TRMX_SERVER_OPTIONS_VERSION 2
#define TRMX_SERVER_OPTIONS_INIT                                                                              \
	{ TRMX_SERVER_OPTIONS_VERSION, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, NULL, NULL, NULL, NULL, NULL, NULL }

/* Open the home's registry and log, load the tokens, bind the address and start serving.
 * Errors: TRMX_EINVAL (a bad address or option; no tokens on an address that is not loopback),
 * TRMX_EIO (the address cannot be bound), those of trmx_host_open, trmx_tokens_load. */
int trmx_server_start(trmx_server **out, const trmx_server_options *opts, trmx_error *err);
/* The port it listens on (the one picked for port 0). */
uint16_t trmx_server_port(const trmx_server *s);
/* "http://127.0.0.1:8080" (borrowed). */
const char *trmx_server_url(const trmx_server *s);
/* The home it serves (borrowed). */
const char *trmx_server_home(const trmx_server *s);
/* Tokens loaded now (0 without authentication); the tokens file, or NULL. */
size_t trmx_server_token_count(const trmx_server *s);
const char *trmx_server_tokens_path(const trmx_server *s);
/* Read the tokens file again (a revoked token is refused from the next request on). On failure
 * the tokens loaded before stay. */
int trmx_server_reload_tokens(trmx_server *s, trmx_error *err);
/* Stop accepting connections, answer every request already accepted (new requests on open
 * connections get 503), commit their runs and stop the threads. */
void trmx_server_stop(trmx_server *s);
/* Stop (when not yet stopped) and free. */
void trmx_server_free(trmx_server *s);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
