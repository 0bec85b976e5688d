/*
 * batch.c — the shared batches of trmx serve: jobs put their rows into one queue per model; the
 * engine thread solves one queue at a time with trmx_model_solve's `feed`, so a row that arrives
 * while a batch runs takes the next free slot at the next ACT step, and a row that halts frees
 * its slot for the next one queued; the logging thread finishes every solved job (decode, check)
 * and commits all their runs in one transaction before any of them is answered.
 *
 * Fairness between models: while another queue has rows waiting, the engine stops feeding the
 * queue it is on after QUEUE_SLICE_S; the rows it holds finish, then the next queue is served.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_int.h"

#define QUEUE_SLICE_S 0.2
#define QUEUE_IDLE_S 1.0

static void abs_time(struct timespec *ts, double seconds_from_now)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	double whole = floor(seconds_from_now);
	ts->tv_sec += (time_t)whole;
	ts->tv_nsec += (long)((seconds_from_now - whole) * 1e9);
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

void trmx__event_free(struct event *e)
{
	if (!e)
		return;
	trmx_task_text_free(e->answer);
	free(e);
}

/* Free a job whose last reference went; under no lock. */
static void job_free(struct job *j)
{
	if (j->st) {
		pthread_mutex_lock(&j->srv->host_mu);
		trmx_staged_free(j->st);
		pthread_mutex_unlock(&j->srv->host_mu);
	}
	trmx_dispatch_result_free(j->res);
	while (j->ev_head) {
		struct event *e = j->ev_head;
		j->ev_head = e->next;
		trmx__event_free(e);
	}
	for (size_t i = 0; i < j->ntexts; i++) {
		free(j->texts[i]);
		if (j->run_ids)
			free(j->run_ids[i]);
	}
	free(j->texts);
	free(j->run_ids);
	free(j->context);
	free(j->learner);
	free(j->qrows);
	trmx__session_info_clear(&j->session);
	free(j);
}

void trmx__job_release(struct job *j)
{
	if (!j)
		return;
	trmx_server *s = j->srv;
	pthread_mutex_lock(&s->mu);
	bool last = --j->refs == 0;
	pthread_mutex_unlock(&s->mu);
	if (last)
		job_free(j);
}

/* Under mu: a row is done; the last one moves the job to the logging list. */
static void row_done(trmx_server *s, struct job *j)
{
	if (--j->pending == 0) {
		j->state = JOB_SOLVED;
		j->log_next = NULL;
		if (s->log_tail)
			s->log_tail->log_next = j;
		else
			s->log_head = j;
		s->log_tail = j;
		pthread_cond_signal(&s->log_cv);
	}
}

/* Under mu: fail a row that will not run. */
static void row_fail(trmx_server *s, struct job *j, size_t row, const char *why)
{
	trmx_error e2;
	trmx_staged_fail(j->st, row, why, &e2); /* out of memory: the row stays unsolved, an ERROR run too */
	row_done(s, j);
}

static struct mqueue *find_queue(trmx_server *s, trmx_model *m)
{
	for (struct mqueue *q = s->queues; q; q = q->next)
		if (q->model == m)
			return q;
	return NULL;
}

static int enqueue(trmx_server *s, struct job *j, int *status, trmx_error *err);

int trmx__job_submit(trmx_server *s, struct job *j, int *status, trmx_error *err)
{
	int rc;
	pthread_mutex_lock(&s->host_mu);
	bool is_ctx = false;
	rc = trmx_registry_is_context(trmx_host_registry(s->host), j->context, &is_ctx, err);
	if (rc == 0 && !is_ctx)
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "no context '%s' is bound (trmx bind)", j->context);
	if (rc == 0)
		rc = trmx_host_stage(s->host, &j->req, &j->st, err);
	if (rc == 0) {
		j->rows = trmx_staged_rows(j->st, &j->inputs);
		j->seq_len = trmx_task_seq_len(trmx_staged_task(j->st));
		j->task = trmx_staged_task(j->st);
		if (j->rows == 0) { /* nothing encoded: a bad request, with the codec's message */
			trmx_dispatch_result *r = NULL;
			trmx_staged *st = j->st;
			j->st = NULL;
			if ((rc = trmx_host_finish(s->host, st, &r, err)) == 0)
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s%s", r->n > 1 ? "no puzzle could be read; the first: " : "",
						    r->n && r->runs[0].error ? r->runs[0].error : "no puzzle");
			trmx_dispatch_result_free(r);
		}
	}
	if (rc == 0 && !(j->qrows = calloc(j->rows, sizeof *j->qrows)))
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (rc < 0) {
		pthread_mutex_unlock(&s->host_mu);
		*status = rc == TRMX_ENOMEM ? 500 : trmx__http_status_of(rc);
		return rc;
	}
	rc = enqueue(s, j, status, err); /* under host_mu too: a new queue leases the model */
	pthread_mutex_unlock(&s->host_mu);
	return rc;
}

/* Under host_mu: put the job's rows into its model's queue. */
static int enqueue(trmx_server *s, struct job *j, int *status, trmx_error *err)
{
	pthread_mutex_lock(&s->mu);
	if (s->queued + j->rows > s->opts.max_queue) {
		pthread_mutex_unlock(&s->mu);
		s->metrics.queue_full++;
		*status = 503;
		return trmx_error_set(err, TRMX_ELIMIT, "the queue is full (%zu puzzles wait, --max-queue %zu); retry shortly",
				      s->queued, s->opts.max_queue);
	}
	trmx_model *m = trmx_staged_model(j->st);
	struct mqueue *q = find_queue(s, m);
	if (!q) {
		trmx_lease *lease = NULL;
		if (!(q = calloc(1, sizeof *q)) || trmx_staged_lease(j->st, &lease, err) < 0) {
			pthread_mutex_unlock(&s->mu);
			free(q);
			*status = 500;
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		}
		q->lease = lease;
		q->model = m;
		struct mqueue **tail = &s->queues; /* at the end: the round robin goes in order */
		while (*tail)
			tail = &(*tail)->next;
		*tail = q;
	}
	j->pending = j->rows;
	j->state = JOB_QUEUED;
	j->refs++; /* the batcher's, until logged */
	for (size_t i = 0; i < j->rows; i++) {
		struct qrow *r = &j->qrows[i];
		r->job = j;
		r->row = i;
		r->next = NULL;
		if (q->tail)
			q->tail->next = r;
		else
			q->head = r;
		q->tail = r;
	}
	q->n += j->rows;
	s->queued += j->rows;
	pthread_cond_signal(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

/* ---- The engine thread --------------------------------------------------------------------------- */

struct feed_ctx {
	trmx_server *s;
	struct mqueue *q;
	double started;
	struct qrow **inflight; /* [batch] rows fed and not yet done */
	int ninflight;
};

static bool others_waiting(trmx_server *s, const struct mqueue *q)
{
	for (const struct mqueue *o = s->queues; o; o = o->next)
		if (o != q && o->n)
			return true;
	return false;
}

static int feed(void *user, int32_t *input, trmx_feed_row *row)
{
	struct feed_ctx *c = user;
	trmx_server *s = c->s;
	struct mqueue *q = c->q;
	int got = 0;
	pthread_mutex_lock(&s->mu);
	if (trmx_mono_s() - c->started > QUEUE_SLICE_S && others_waiting(s, q))
		goto done;
	/* With no row running, wait a while here for the next request rather than end the solve:
	 * the engine's workspaces for a full batch (tens of MB for 9x9) are made once per solve. */
	double idle_until = trmx_mono_s() + QUEUE_IDLE_S;
	while (!q->head && !c->ninflight && !s->threads_stop && !others_waiting(s, q) && trmx_mono_s() < idle_until) {
		struct timespec ts;
		abs_time(&ts, idle_until - trmx_mono_s());
		pthread_cond_timedwait(&s->work_cv, &s->mu, &ts);
	}
	while (q->head) {
		struct qrow *r = q->head;
		q->head = r->next;
		if (!q->head)
			q->tail = NULL;
		q->n--;
		s->queued--;
		struct job *j = r->job;
		if (j->expired || (j->deadline > 0 && trmx_mono_s() > j->deadline)) {
			j->expired = true; /* the request is answered 504, whatever its other rows do */
			s->metrics.deadline_expired++;
			row_fail(s, j, r->row, "the request's deadline passed before the puzzle reached the engine");
			continue;
		}
		memcpy(input, j->inputs + r->row * (size_t)j->seq_len, (size_t)j->seq_len * sizeof *input);
		*row = (trmx_feed_row){ (int64_t)(intptr_t)r, 0, j->req.max_steps, j->req.halt };
		c->inflight[c->ninflight++] = r;
		got = 1;
		break;
	}
done:
	pthread_mutex_unlock(&s->mu);
	return got;
}

static void done(void *user, int64_t index, const int32_t *pred, int steps, float q_halt, float q_continue,
		 trmx_halt_reason reason)
{
	struct feed_ctx *c = user;
	trmx_server *s = c->s;
	struct qrow *r = (struct qrow *)(intptr_t)index;
	struct job *j = r->job;
	trmx__metrics_steps(&s->metrics, steps);
	pthread_mutex_lock(&s->mu);
	for (int i = 0; i < c->ninflight; i++)
		if (c->inflight[i] == r) {
			c->inflight[i] = c->inflight[--c->ninflight];
			break;
		}
	if (j->expired) {
		s->metrics.deadline_expired++;
		row_fail(s, j, r->row, "the request's deadline passed while the engine ran the puzzle");
	} else {
		trmx_staged_set(j->st, r->row, pred, steps, q_halt, q_continue, reason, trmx_mono_s());
		row_done(s, j);
	}
	pthread_mutex_unlock(&s->mu);
}

/* Every step: the batch's size for the metrics, and each streaming row's answer so far. */
static int on_step(void *user, const trmx_step_view *v)
{
	struct feed_ctx *c = user;
	trmx_server *s = c->s;
	trmx__metrics_batch(&s->metrics, v->rows);
	bool any = false;
	for (int i = 0; i < v->rows; i++) {
		struct qrow *r = (struct qrow *)(intptr_t)v->input_index[i];
		struct job *j = r->job;
		if (!j->stream || j->expired)
			continue;
		struct event *e = calloc(1, sizeof *e);
		if (!e)
			continue; /* a step less on the stream; the result still comes */
		trmx_error e2;
		e->row = trmx_staged_row_text(j->st, r->row); /* the puzzle's index in the request */
		e->step = v->row_step[i];
		e->halt_confidence = 1.0 / (1.0 + exp(-(double)v->q_halt[i]));
		if (trmx_task_decode(j->task, v->preds + (size_t)i * v->seq_len, TRMX_TEXT_LINE, &e->answer, &e2) < 0)
			e->answer = NULL; /* PAD in a grid: no text yet */
		pthread_mutex_lock(&s->mu);
		if (j->ev_tail)
			j->ev_tail->next = e;
		else
			j->ev_head = e;
		j->ev_tail = e;
		pthread_mutex_unlock(&s->mu);
		any = true;
	}
	if (any) {
		pthread_mutex_lock(&s->mu);
		pthread_cond_broadcast(&s->done_cv);
		pthread_mutex_unlock(&s->mu);
	}
	return 0;
}

/* Under mu: the first queue with rows at position `from` or after it, wrapping around; its
 * position in *pos. */
static struct mqueue *next_queue(trmx_server *s, size_t from, size_t *pos)
{
	for (int pass = 0; pass < 2; pass++) {
		size_t i = 0;
		for (struct mqueue *q = s->queues; q; q = q->next, i++)
			if ((pass || i >= from) && q->n) {
				*pos = i;
				return q;
			}
	}
	return NULL;
}

/* Under mu: unlink the queues with nothing waiting that the engine is not on; they are freed
 * by free_queues, under host_mu (their leases). */
static struct mqueue *prune_queues(trmx_server *s)
{
	struct mqueue *gone = NULL;
	for (struct mqueue **p = &s->queues; *p;) {
		struct mqueue *q = *p;
		if (!q->n && !q->running) {
			*p = q->next;
			q->next = gone;
			gone = q;
		} else {
			p = &q->next;
		}
	}
	return gone;
}

/* Under no lock. */
static void free_queues(trmx_server *s, struct mqueue *gone)
{
	if (!gone)
		return;
	pthread_mutex_lock(&s->host_mu);
	while (gone) {
		struct mqueue *q = gone;
		gone = q->next;
		trmx_lease_free(q->lease);
		free(q);
	}
	pthread_mutex_unlock(&s->host_mu);
}

/* Under mu: the engine failed on a queue. Rows it held and rows still waiting fail with its
 * message: it fails only on a bad option or out of memory, which the next rows would not avoid. */
static void fail_queue(trmx_server *s, struct feed_ctx *c, const char *why)
{
	for (int i = 0; i < c->ninflight; i++)
		row_fail(s, c->inflight[i]->job, c->inflight[i]->row, why);
	c->ninflight = 0;
	struct mqueue *q = c->q;
	while (q->head) {
		struct qrow *r = q->head;
		q->head = r->next;
		q->n--;
		s->queued--;
		row_fail(s, r->job, r->row, why);
	}
	q->tail = NULL;
}

static void *engine_main(void *arg)
{
	trmx_server *s = arg;
	size_t from = 0, pos = 0;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		struct mqueue *q = next_queue(s, from, &pos);
		if (!q) {
			struct mqueue *gone = prune_queues(s);
			from = 0;
			if (gone) {
				pthread_mutex_unlock(&s->mu);
				free_queues(s, gone);
				pthread_mutex_lock(&s->mu);
				continue;
			}
			if (s->threads_stop)
				break;
			pthread_cond_wait(&s->work_cv, &s->mu);
			continue;
		}
		q->running = true;
		pthread_mutex_unlock(&s->mu);
		struct feed_ctx c = { s, q, trmx_mono_s(), s->inflight, 0 };
		trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
		req.batch_size = s->opts.batch;
		req.halt_threshold = (float)trmx_manifest_halt_threshold(trmx_lease_manifest(q->lease));
		req.max_steps = trmx_manifest_max_steps(trmx_lease_manifest(q->lease)); /* rows naming none */
		req.feed = feed;
		req.done = done;
		req.on_step = on_step;
		req.user = &c;
		trmx_error err = { 0, "" };
		int rc = trmx_model_solve(q->model, &req, &err);
		pthread_mutex_lock(&s->mu);
		q->running = false;
		if (rc < 0) {
			trmx_diag(TRMX_DIAG_ERROR, "serve: the engine failed: %s", err.message);
			fail_queue(s, &c, err.message);
		}
		from = pos + 1;
		struct mqueue *gone = prune_queues(s);
		if (gone) {
			pthread_mutex_unlock(&s->mu);
			free_queues(s, gone);
			pthread_mutex_lock(&s->mu);
		}
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

/* ---- The logging thread -------------------------------------------------------------------------- */

/* Write the runs and checker feedback of every finished job of `list` (only: just that one) in one
 * transaction; nrec and nfb bound their counts. */
static int write_jobs(trmx_server *s, struct job *list, struct job *only, size_t nrec, size_t nfb, size_t *inserted,
		      trmx_error *err)
{
	trmx_run_record *recs = calloc(nrec ? nrec : 1, sizeof *recs);
	trmx_feedback_record *fbs = calloc(nfb ? nfb : 1, sizeof *fbs);
	int rc = recs && fbs ? 0 : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	size_t nr = 0, nf = 0;
	for (struct job *j = list; j && rc == 0; j = j->log_next) {
		if (!j->res || (only && j != only))
			continue;
		trmx_run_record *jr = NULL;
		trmx_feedback_record *jf = NULL;
		size_t jnf = 0;
		if ((rc = trmx_dispatch_records(j->res, j->req.flags, &jr, &jf, &jnf, err)) < 0)
			break;
		memcpy(recs + nr, jr, j->res->n * sizeof *recs);
		memcpy(fbs + nf, jf, jnf * sizeof *fbs);
		nr += j->res->n;
		nf += jnf;
		free(jr);
		free(jf);
	}
	if (rc == 0 && nr)
		rc = trmx_log_write(s->log, recs, nr, fbs, nf, inserted, err);
	free(recs);
	free(fbs);
	return rc;
}

/* Finish and commit a list of solved jobs: one transaction for all of their runs. */
static void log_jobs(trmx_server *s, struct job *list)
{
	size_t nrec = 0, nfb = 0;
	pthread_mutex_lock(&s->host_mu);
	for (struct job *j = list; j; j = j->log_next) {
		trmx_error err = { 0, "" };
		trmx_staged *st = j->st;
		j->st = NULL;
		if (trmx_host_finish(s->host, st, &j->res, &err) < 0) {
			snprintf(j->error, sizeof j->error, "%s", err.message);
		} else {
			nrec += j->res->n;
			nfb += j->res->n;
		}
	}
	pthread_mutex_unlock(&s->host_mu);

	trmx_error err = { 0, "" };
	size_t inserted = 0;
	int rc = write_jobs(s, list, NULL, nrec, nfb, &inserted, &err);
	if (rc < 0 && list && list->log_next) {
		/* One job's runs must not cost every other job of the group its answer (a run id reused
		 * for another request, TRMX_EEXIST): write them one by one. */
		s->metrics.log_errors++;
		for (struct job *j = list; j; j = j->log_next) {
			if (!j->res)
				continue;
			trmx_error e1 = { 0, "" };
			size_t ins1 = 0;
			int r1 = write_jobs(s, list, j, j->res->n, j->res->n, &ins1, &e1);
			if (r1 < 0) {
				j->log_failed = true;
				j->fail_status = trmx__http_status_of(r1) == 409 ? 409 : 500;
				snprintf(j->error, sizeof j->error, "the runs could not be logged, so no answer is given: %s",
					 e1.message);
			} else {
				inserted += ins1;
			}
		}
		rc = 0;
	}
	if (rc < 0) {
		s->metrics.log_errors++;
		for (struct job *j = list; j; j = j->log_next)
			if (j->res) {
				j->log_failed = true;
				j->fail_status = trmx__http_status_of(rc) == 409 ? 409 : 500;
				snprintf(j->error, sizeof j->error, "the runs could not be logged, so no answer is given: %s",
					 err.message);
			}
	} else {
		s->metrics.rows_inserted += inserted; /* rows new to the log: a retried run id is not counted twice */
		for (struct job *j = list; j; j = j->log_next)
			if (j->res && !j->log_failed && j->has_session && j->session.lti)
				trmx__lti_solved(s, &j->session, j->res); /* queues the score: never waits here */
		if (inserted)
			trmx__xapi_wake(s);
	}
	pthread_mutex_lock(&s->mu);
	struct job *freeing = NULL;
	for (struct job *j = list, *next; j; j = next) {
		next = j->log_next;
		if (!j->res || j->log_failed) {
			j->state = JOB_FAILED;
		} else {
			j->res->logged = j->res->n;
			j->state = JOB_LOGGED;
		}
		if (--j->refs == 0) {
			j->log_next = freeing;
			freeing = j;
		}
	}
	pthread_cond_broadcast(&s->done_cv);
	pthread_mutex_unlock(&s->mu);
	while (freeing) {
		struct job *j = freeing;
		freeing = j->log_next;
		job_free(j);
	}
}

/* With a central log, rows that waited in the outbox (the central log was out of reach) are
 * pushed every PUSH_EVERY_S while no request comes; a request's own write pushes them first. */
#define PUSH_EVERY_S 5.0

static void *log_main(void *arg)
{
	trmx_server *s = arg;
	double next_push = trmx_mono_s() + PUSH_EVERY_S;
	pthread_mutex_lock(&s->mu);
	for (;;) {
		if (!s->log_head) {
			if (s->log_stop)
				break;
			if (!trmx_log_outbox_pending(s->log)) {
				pthread_cond_wait(&s->log_cv, &s->mu);
				continue;
			}
			if (trmx_mono_s() >= next_push) {
				pthread_mutex_unlock(&s->mu);
				size_t pushed = 0;
				trmx_error err = { 0, "" };
				if (trmx_log_push(s->log, &pushed, &err) < 0)
					trmx_diag(TRMX_DIAG_WARN, "serve: the outbox waits: %s", err.message);
				else if (pushed)
					trmx_diag(TRMX_DIAG_INFO, "serve: %zu rows pushed from the outbox to %s", pushed,
						 trmx_log_path(s->log));
				next_push = trmx_mono_s() + PUSH_EVERY_S;
				pthread_mutex_lock(&s->mu);
				continue;
			}
			struct timespec ts;
			abs_time(&ts, next_push - trmx_mono_s());
			pthread_cond_timedwait(&s->log_cv, &s->mu, &ts);
			continue;
		}
		struct job *list = s->log_head;
		s->log_head = s->log_tail = NULL;
		pthread_mutex_unlock(&s->mu);
		log_jobs(s, list);
		pthread_mutex_lock(&s->mu);
	}
	pthread_mutex_unlock(&s->mu);
	return NULL;
}

int trmx__batch_start(trmx_server *s, trmx_error *err)
{
	trmx_log_options lo = TRMX_LOG_OPTIONS_INIT;
	int rc = trmx_log_open(&s->log, s->home, &lo, err);
	if (rc < 0)
		return rc;
	if (!(s->inflight = calloc((size_t)s->opts.batch, sizeof *s->inflight)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (pthread_create(&s->engine_thread, NULL, engine_main, s))
		return trmx_error_set(err, TRMX_ERROR, "cannot start the engine thread: %s", strerror(errno));
	s->engine_started = true;
	if (pthread_create(&s->log_thread, NULL, log_main, s))
		return trmx_error_set(err, TRMX_ERROR, "cannot start the logging thread: %s", strerror(errno));
	s->log_started = true;
	return 0;
}

void trmx__batch_stop(trmx_server *s)
{
	pthread_mutex_lock(&s->mu);
	s->threads_stop = true; /* the engine ends once every queue is empty */
	pthread_cond_broadcast(&s->work_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->engine_started)
		pthread_join(s->engine_thread, NULL);
	s->engine_started = false;
	pthread_mutex_lock(&s->mu);
	s->log_stop = true; /* then the logger, once every solved job is committed */
	pthread_cond_broadcast(&s->log_cv);
	pthread_mutex_unlock(&s->mu);
	if (s->log_started)
		pthread_join(s->log_thread, NULL);
	s->log_started = false;
	free(s->inflight);
	s->inflight = NULL;
	trmx_log_free(s->log);
	s->log = NULL;
}

/* ---- Waiting ----------------------------------------------------------------------------------- */

/* Under mu: a queued job whose deadline passed is expired (solved ones are only being logged:
 * they are waited for, so that a 504 is never given for runs logged as answered). */
static bool expire(struct job *j)
{
	if (j->state == JOB_QUEUED && j->deadline > 0 && trmx_mono_s() >= j->deadline)
		j->expired = true;
	return j->expired;
}

static void wait_until(trmx_server *s, double until)
{
	if (until <= 0) {
		pthread_cond_wait(&s->done_cv, &s->mu);
		return;
	}
	struct timespec ts;
	abs_time(&ts, until - trmx_mono_s() > 0 ? until - trmx_mono_s() : 0);
	pthread_cond_timedwait(&s->done_cv, &s->mu, &ts);
}

enum job_state trmx__job_wait(struct job *j)
{
	trmx_server *s = j->srv;
	pthread_mutex_lock(&s->mu);
	while ((j->state == JOB_QUEUED || j->state == JOB_SOLVED) && !expire(j))
		wait_until(s, j->state == JOB_QUEUED ? j->deadline : 0);
	enum job_state st = j->expired ? JOB_QUEUED : j->state;
	pthread_mutex_unlock(&s->mu);
	return st;
}

struct event *trmx__job_next_event(struct job *j, double timeout_s, enum job_state *state, bool *expired)
{
	trmx_server *s = j->srv;
	double until = trmx_mono_s() + timeout_s;
	pthread_mutex_lock(&s->mu);
	while (!j->ev_head && (j->state == JOB_QUEUED || j->state == JOB_SOLVED) && !expire(j) && trmx_mono_s() < until)
		wait_until(s, j->state == JOB_QUEUED && j->deadline > 0 && j->deadline < until ? j->deadline : until);
	struct event *e = j->ev_head;
	if (e) {
		j->ev_head = e->next;
		if (!j->ev_head)
			j->ev_tail = NULL;
	}
	*state = j->expired ? JOB_QUEUED : j->state;
	*expired = j->expired;
	pthread_mutex_unlock(&s->mu);
	return e;
}
