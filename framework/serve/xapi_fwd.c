/*
 * xapi_fwd.c — `trmx serve --xapi-lrs URL`: a thread that forwards the log's xAPI statements to a
 * learning record store as they are committed (docs/ANALYTICS.md, "Forwarding to an LRS"). The
 * sending is trmx_lrs_sync's (analytics/lrs.c), the same as `trmx export xapi --lrs`: an outbox
 * and a cursor in the log (log.db, or a central log, where the serves of many hosts take turns),
 * so a restart of serve resumes where the LRS stopped taking them.
 *
 * The thread has its own log connection (the sender's). It is woken after every commit of runs
 * (the logging thread) and of feedback (the feedback route) and polls every XAPI_POLL_S besides,
 * for feedback other processes log (trmx feedback). While the LRS fails it backs off (1 s doubling
 * to 60 s, or Retry-After); a refusal that retrying would not cure (409, a 4xx) is logged as an
 * error and tried again every XAPI_HOLD_S, never skipped. On stop it sends what it can for up to
 * XAPI_FLUSH_S and leaves the rest to the next start.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/api.h"
#include "trmx/report.h"

#define XAPI_POLL_S  5.0
#define XAPI_HOLD_S  60.0
#define XAPI_FLUSH_S 5.0

struct xapi_fwd {
	trmx_lrs *lrs;
	pthread_t thread;
	bool started;
	pthread_mutex_t mu; /* the flags below; never held while sending */
	pthread_cond_t cv;  /* CLOCK_MONOTONIC */
	bool woken, stop;
	double flush_until; /* once stopping: trmx_mono_s() until which a request may run */
	_Atomic uint64_t sent, errors, pending;
};

static void deadline(struct timespec *ts, double seconds)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	double whole = floor(seconds);
	ts->tv_sec += (time_t)whole;
	ts->tv_nsec += (long)((seconds - whole) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* The sender's back-off: wait `seconds` unless serve stops (a wake for new rows does not cut it
 * short: the LRS is failing). */
static bool fwd_wait(void *user, double seconds, const char *why)
{
	struct xapi_fwd *x = user;
	int64_t pending = 0;
	trmx_error e2;
	x->errors++;
	if (trmx_lrs_pending(x->lrs, &pending, &e2) == 0) /* between requests, on the sender's thread */
		x->pending = (uint64_t)pending;
	pthread_mutex_lock(&x->mu);
	bool stopping = x->stop;
	pthread_mutex_unlock(&x->mu);
	if (stopping) /* the last pass at stop does not retry */
		return false;
	/* outside mu: a slow standard error must not hold up trmx__xapi_wake */
	trmx_diag(TRMX_DIAG_WARN, "xapi: the LRS at %s failed (%s); retrying in %.0f s", trmx_lrs_endpoint(x->lrs), why,
		 seconds);
	double until = trmx_mono_s() + seconds;
	pthread_mutex_lock(&x->mu);
	while (!x->stop && trmx_mono_s() < until) {
		struct timespec ts;
		deadline(&ts, until - trmx_mono_s());
		pthread_cond_timedwait(&x->cv, &x->mu, &ts);
	}
	bool go_on = !x->stop;
	pthread_mutex_unlock(&x->mu);
	return go_on;
}

/* A request in flight is cut off only once stopping and past the flush bound. */
static bool fwd_cancelled(void *user)
{
	struct xapi_fwd *x = user;
	pthread_mutex_lock(&x->mu);
	bool cut = x->stop && trmx_mono_s() > x->flush_until;
	pthread_mutex_unlock(&x->mu);
	return cut;
}

static void fwd_progress(void *user, int64_t sent, int64_t pending)
{
	struct xapi_fwd *x = user;
	x->pending = pending > 0 ? (uint64_t)pending : 0;
}

/* One pass: everything past the cursor. The back-off time after it (0: none). */
static double fwd_pass(struct xapi_fwd *x)
{
	trmx_lrs_result res = { 0 };
	trmx_error err = { 0, "" };
	int rc = trmx_lrs_sync(x->lrs, &res, &err);
	x->sent += (uint64_t)res.sent;
	if (res.pending >= 0)
		x->pending = (uint64_t)res.pending;
	if (rc < 0 && rc != TRMX_ECANCELLED) {
		x->errors++;
		trmx_diag(TRMX_DIAG_ERROR, "xapi: %s; %lld statements wait; trying again in %.0f s", err.message,
			 (long long)res.pending, XAPI_HOLD_S);
		return XAPI_HOLD_S;
	}
	return 0;
}

static void *fwd_main(void *arg)
{
	struct xapi_fwd *x = arg;
	pthread_mutex_lock(&x->mu);
	while (!x->stop) {
		x->woken = false;
		pthread_mutex_unlock(&x->mu);
		double hold = fwd_pass(x);
		pthread_mutex_lock(&x->mu);
		double until = trmx_mono_s() + (hold > 0 ? hold : XAPI_POLL_S);
		/* a wake ends the poll's wait, not a hold's: the LRS refused, new rows will not help */
		while (!x->stop && (hold > 0 || !x->woken) && trmx_mono_s() < until) {
			struct timespec ts;
			deadline(&ts, until - trmx_mono_s());
			pthread_cond_timedwait(&x->cv, &x->mu, &ts);
		}
	}
	pthread_mutex_unlock(&x->mu);
	/* the engine and the logger have stopped: the last runs are committed; send them if the LRS
	 * takes them at once (no back-off now: fwd_wait answers stop) */
	fwd_pass(x);
	return NULL;
}

int trmx__xapi_start(trmx_server *s, trmx_error *err)
{
	if (!s->opts.xapi_lrs)
		return 0;
	struct xapi_fwd *x = calloc(1, sizeof *x);
	if (!x)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	pthread_mutex_init(&x->mu, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&x->cv, &ca);
	pthread_condattr_destroy(&ca);
	s->xapi = x;
	trmx_lrs_options o = TRMX_LRS_OPTIONS_INIT;
	o.url = s->opts.xapi_lrs;
	o.auth = s->opts.xapi_auth && *s->opts.xapi_auth ? s->opts.xapi_auth : NULL;
	o.retries = -1;
	o.wait = fwd_wait;
	o.cancelled = fwd_cancelled;
	o.progress = fwd_progress;
	o.user = x;
	int rc = trmx_lrs_open(&x->lrs, s->home, &o, err);
	if (rc < 0) {
		trmx_error_prefix(err, "--xapi-lrs");
		return rc;
	}
	int64_t pending = 0;
	if (trmx_lrs_pending(x->lrs, &pending, err) == 0)
		x->pending = (uint64_t)pending;
	if ((rc = pthread_create(&x->thread, NULL, fwd_main, x)) != 0)
		return trmx_error_set(err, TRMX_ERROR, "cannot start the xAPI forwarder: %s", strerror(rc));
	x->started = true;
	return 0;
}

void trmx__xapi_stop(trmx_server *s)
{
	struct xapi_fwd *x = s->xapi;
	if (!x)
		return;
	if (x->started) {
		pthread_mutex_lock(&x->mu);
		x->stop = true;
		x->flush_until = trmx_mono_s() + XAPI_FLUSH_S;
		pthread_cond_signal(&x->cv);
		pthread_mutex_unlock(&x->mu);
		pthread_join(x->thread, NULL);
	}
	trmx_lrs_free(x->lrs);
	pthread_mutex_destroy(&x->mu);
	pthread_cond_destroy(&x->cv);
	free(x);
	s->xapi = NULL;
}

void trmx__xapi_wake(trmx_server *s)
{
	struct xapi_fwd *x = s->xapi;
	if (!x)
		return;
	/* the forwarder holds mu only to look at its flags, never while it sends */
	pthread_mutex_lock(&x->mu);
	x->woken = true;
	pthread_cond_signal(&x->cv);
	pthread_mutex_unlock(&x->mu);
}

bool trmx__xapi_stats(trmx_server *s, uint64_t *sent, uint64_t *errors, uint64_t *pending)
{
	struct xapi_fwd *x = s->xapi;
	if (!x)
		return false;
	*sent = x->sent;
	*errors = x->errors;
	*pending = x->pending;
	return true;
}
