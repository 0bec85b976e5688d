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
	ROUTE_OTHER,
	ROUTES
};
const char *route_name(enum route r);

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

void metrics_init(struct metrics *m);
void metrics_destroy(struct metrics *m);
void metrics_request(struct metrics *m, enum route r, int status, double seconds);
/* Rows of one engine step; ACT steps of one run. */
void metrics_batch(struct metrics *m, int rows);
void metrics_steps(struct metrics *m, int steps);
/* The Prometheus text exposition (malloc'd). */
char *metrics_text(trmx_server *s);

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
	char error[TRMX_ERROR_MESSAGE_MAX]; /* JOB_FAILED: why (answered 500) */
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
};

/* Start and stop the engine and logging threads. */
int batch_start(trmx_server *s, trmx_error *err);
void batch_stop(trmx_server *s);

/* Stage a solve (host_mu), queue its rows; *out holds a reference for the caller. Errors carry
 * an HTTP status in *status. */
int job_submit(trmx_server *s, struct job *j, int *status, trmx_error *err);
/* Wait (under no lock) until the job is logged or failed, or its deadline passes (then it is
 * expired: the caller answers 504). Returns the final state, JOB_QUEUED for an expired job. */
enum job_state job_wait(struct job *j);
/* Drop a reference. */
void job_release(struct job *j);
/* For streams: take the next event, waiting at most `timeout_s`; NULL when none (check state). */
struct event *job_next_event(struct job *j, double timeout_s, enum job_state *state, bool *expired);
void event_free(struct event *e);

/* ---- JSON (api.c) ------------------------------------------------------------------------------- */

json_t *json_error_body(const char *code, const char *message);
/* The solve answer of a logged job. */
json_t *solve_json(const trmx_dispatch_result *r);
/* The HTTP status of a library error code. */
int http_status_of(int trmx_code);

#endif
