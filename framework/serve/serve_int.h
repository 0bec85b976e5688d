/*
 * serve_int.h — inside trmx serve: the server, its jobs (one solve request each), the per-model
 * queues the engine thread feeds from, the logging thread, and the metrics.
 *
 * Threads: libmicrohttpd runs a thread per connection (a request may wait for its batch or
 * stream its steps without holding anyone else up); one engine thread solves; one logging
 * thread finishes solved jobs (decode, check: trmx_host_finish) and commits their runs. `mu`
 * guards the queues, every job's state and the logging list; `host_mu` the trmx_host (staging,
 * finishing, pseudonyms, feedback through the host's log), which is used by one thread at a time.
 * Lock order: host_mu before mu.
 */
#ifndef TRMX_SERVE_INT_H
#define TRMX_SERVE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/core_int.h"
#include "log/log_int.h"
#include "trmx/host.h"
#include "trmx/serve.h"
#include "trmx/tokens.h"

/* ---- Metrics (metrics.c) ------------------------------------------------------------------------ */

enum route {
	ROUTE_SOLVE,
	ROUTE_FEEDBACK,
	ROUTE_CONTEXTS,
	ROUTE_CONTEXT,
	ROUTE_MODULES,
	ROUTE_HISTORY,
	ROUTE_REPORT,
	ROUTE_ADMIN_BIND,
	ROUTE_ADMIN_ALIAS,
	ROUTE_ADMIN_ROLLBACK,
	ROUTE_ADMIN_QUARANTINE,
	ROUTE_ADMIN_INSTALL,
	ROUTE_HEALTHZ,
	ROUTE_READYZ,
	ROUTE_METRICS,
	ROUTE_PAGE,   /* /learn/{context}, /console, /report, /assets/...: web.c */
	ROUTE_LTI,    /* /lti/...: lti.c */
	ROUTE_INDEX,  /* /index/...: a module index, read-only */
	ROUTE_OTHER,
	ROUTES
};
const char *trmx__route_name(enum route r);

#define LATENCY_BUCKETS 13
#define BATCH_BUCKETS 9
#define STEPS_BUCKETS 10
#define STATUS_SLOTS 16

struct metrics {
	pthread_mutex_t mu;          /* the tables; the counters below are atomic */
	struct {
		int status;
		uint64_t n;
	} requests[ROUTES][STATUS_SLOTS];
	uint64_t latency_buckets[ROUTES][LATENCY_BUCKETS + 1]; /* the last: +Inf */
	double latency_sum[ROUTES];
	uint64_t batch_buckets[BATCH_BUCKETS + 1], steps_buckets[STEPS_BUCKETS + 1];
	double batch_sum, steps_sum;
	_Atomic uint64_t log_errors, rows_inserted, deadline_expired, queue_full;
};

void trmx__metrics_init(struct metrics *m);
void trmx__metrics_destroy(struct metrics *m);
void trmx__metrics_request(struct metrics *m, enum route r, int status, double seconds);
/* Rows of one engine step; ACT steps of one run. */
void trmx__metrics_batch(struct metrics *m, int rows);
void trmx__metrics_steps(struct metrics *m, int steps);
/* The Prometheus text exposition (malloc'd). */
char *trmx__metrics_text(trmx_server *s);

/* ---- Sessions (session.c) ---------------------------------------------------------------------- */

/* A session is a bearer token that a launch (LTI) hands to the learner's page: it may solve and
 * give learner feedback in one context, as one learner, until it expires. Sessions live in memory
 * (a restart ends them: the learner launches again). */
#define SESSION_PREFIX "trmxs_"
#define SESSION_TOKEN_MAX 64
#define SESSION_TTL_S (8 * 3600)
#define SESSIONS_MAX 100000

struct session_info {
	char context[TRMX_CONTEXT_NAME_MAX + 1];
	char learner[TRMX_SERVE_LEARNER_MAX + 1];
	json_t *lti;                 /* the launch's claims the score passback needs, or NULL */
};

int trmx__sessions_init(trmx_server *s);
void trmx__sessions_free(trmx_server *s);
/* A new session; `lti` is referenced (not stolen). token gets the bearer token. Errors: TRMX_ENOMEM,
 * TRMX_ELIMIT (SESSIONS_MAX live sessions). */
int trmx__session_new(trmx_server *s, const char *context, const char *learner, json_t *lti,
		      char token[SESSION_TOKEN_MAX + 1], trmx_error *err);
/* The live session of `token` into *out (out->lti a new reference: trmx__session_info_clear), or -1. */
int trmx__session_find(trmx_server *s, const char *token, size_t len, struct session_info *out);
void trmx__session_info_clear(struct session_info *i);

/* ---- Jobs and queues (batch.c) ------------------------------------------------------------------ */

enum job_state {
	JOB_QUEUED,  /* rows wait for or run in the engine */
	JOB_SOLVED,  /* every row done: on the logging list */
	JOB_LOGGED,  /* finished and committed: res is the answer */
	JOB_FAILED   /* finishing or logging failed: error says why */
};

/* A step event for a streaming request. */
struct event {
	struct event *next;
	size_t row;          /* the request's row (its puzzle among those that encoded) */
	int step;
	double halt_confidence;
	char *answer;        /* one-line form, or NULL */
};

struct qrow {
	struct qrow *next;
	struct job *job;
	size_t row;
};

struct job {
	struct job *log_next;
	trmx_server *srv;
	int refs;
	enum job_state state;
	trmx_staged *st;             /* until finished */
	trmx_dispatch_result *res;   /* once logged */
	char error[TRMX_ERROR_MESSAGE_MAX]; /* JOB_FAILED: why (answered fail_status, else 500) */
	int fail_status;             /* 409: a run id reused for another request */
	bool log_failed;             /* its runs could not be written */
	/* the request, owned */
	trmx_dispatch req;
	char *context, *learner;
	char **texts;
	char **run_ids;
	size_t ntexts;
	/* rows */
	size_t rows, pending;
	struct qrow *qrows;          /* [rows] */
	const int32_t *inputs;       /* [rows, seq_len], the staged dispatch's */
	int seq_len;
	double deadline;             /* trmx_mono_s(); 0: none */
	bool expired;                /* answered 504: rows still to run are failed, the rest logged as such */
	/* streaming */
	bool stream;
	struct event *ev_head, *ev_tail;
	trmx_task *task;             /* for decoding step answers, while queued */
	/* a session's solve: its learner, and its LTI claims for the score passback */
	struct session_info session;
	bool has_session;
};

/* A model's queue of rows. */
struct mqueue {
	struct mqueue *next;
	trmx_model *model;
	struct qrow *head, *tail;
	size_t n;
	bool running;                /* the engine thread is solving on it */
	trmx_lease *lease;           /* holds the model while the queue lives (freed under host_mu) */
};

struct trmx_server {
	trmx_server_options opts;
	bool inited;                 /* the locks and conditions below exist */
	char *home, *tokens_path;
	char url[128];
	uint16_t port;
	trmx_host *host;
	pthread_mutex_t host_mu;
	trmx_tokens *tokens;         /* NULL: no authentication */
	pthread_mutex_t tokens_mu;
	struct metrics metrics;
	void *mhd;                   /* struct MHD_Daemon */
	/* batching */
	pthread_mutex_t mu;
	pthread_cond_t work_cv, log_cv, done_cv, idle_cv;
	struct mqueue *queues;
	size_t queued;               /* rows waiting in every queue */
	struct job *log_head, *log_tail;
	bool stopping;               /* no new requests */
	bool threads_stop;           /* the engine thread ends once every queue is empty */
	bool log_stop;               /* the logging thread ends once nothing waits to be logged */
	struct qrow **inflight;      /* [batch] the engine thread's rows in slots */
	int inflight_requests;       /* requests between their first call and their completion */
	pthread_t engine_thread, log_thread;
	bool engine_started, log_started;
	trmx_log_db *log;            /* the logging thread's own connection */
	/* the web side */
	char *public_url;            /* opts.public_url or url, without a trailing slash */
	struct sessions *sessions;   /* session.c */
	struct lti *lti;	     /* lti.c; NULL until trmx__lti_start */
	struct xapi_fwd *xapi;       /* xapi_fwd.c; NULL without --xapi-lrs */
};

/* Start and stop the engine and logging threads. */
int trmx__batch_start(trmx_server *s, trmx_error *err);
void trmx__batch_stop(trmx_server *s);

/* Stage a solve (host_mu), queue its rows; *out holds a reference for the caller. Errors carry
 * an HTTP status in *status. */
int trmx__job_submit(trmx_server *s, struct job *j, int *status, trmx_error *err);
/* Wait (under no lock) until the job is logged or failed, or its deadline passes (then it is
 * expired: the caller answers 504). Returns the final state, JOB_QUEUED for an expired job. */
enum job_state trmx__job_wait(struct job *j);
/* Drop a reference. */
void trmx__job_release(struct job *j);
/* For streams: take the next event, waiting at most `timeout_s`; NULL when none (check state). */
struct event *trmx__job_next_event(struct job *j, double timeout_s, enum job_state *state, bool *expired);
void trmx__event_free(struct event *e);

/* ---- The web side: pages (web.c), LTI (lti.c), the xAPI forwarder (xapi_fwd.c) ----------------- */

struct serve_call;
/* GET /learn/{context}, /console, /report, /assets/...: a page or an asset into call->page. */
int trmx__web_handle(struct serve_call *call);
/* The learner's page for `context` (malloc'd HTML, *len its length); `session` the bearer token
 * its calls carry (NULL: the page asks for one). */
char *trmx__web_learn_page(trmx_server *s, const char *context, const char *session, size_t *len);
/* LTI 1.3 (docs/LMS.md): start reads the home's platforms and tool key; handle answers /lti/...;
 * solved is called for every logged solve of a session with LTI claims (the score passback). */
int trmx__lti_start(trmx_server *s, trmx_error *err);
void trmx__lti_stop(trmx_server *s);
int trmx__lti_handle(struct serve_call *call);
void trmx__lti_solved(trmx_server *s, const struct session_info *session, const trmx_dispatch_result *res);
/* The xAPI forwarder: start (with opts.xapi_lrs) runs a thread sending the log's new statements;
 * wake is called after each commit of runs or feedback. */
int trmx__xapi_start(trmx_server *s, trmx_error *err);
void trmx__xapi_stop(trmx_server *s);
void trmx__xapi_wake(trmx_server *s);
/* The forwarder's counters for /metrics: statements the LRS took, failed attempts, statements
 * waiting. false when not forwarding. */
bool trmx__xapi_stats(trmx_server *s, uint64_t *sent, uint64_t *errors, uint64_t *pending);
/* GET /index/...: a file of opts.index_dir. */
int trmx__index_handle(struct serve_call *call);

/* ---- JSON (api.c) ------------------------------------------------------------------------------- */

json_t *trmx__json_error_body(const char *code, const char *message);
/* The solve answer of a logged job. */
json_t *trmx__solve_json(const trmx_dispatch_result *r);
/* The HTTP status of a library error code. */
int trmx__http_status_of(int trmx_code);

#endif
