/*
 * metrics.c — trmx serve's /metrics in the Prometheus text format (version 0.0.4): requests by
 * route and status, request latency, queue depth, engine batch sizes, ACT steps, models loaded,
 * log write errors. Labels are route templates and status codes only: no context, learner or
 * token ever becomes a label.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_int.h"

static const double latency_bounds[LATENCY_BUCKETS] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
							 0.25,  0.5,    1,     2.5,  5,     10 };
static const double batch_bounds[BATCH_BUCKETS] = { 1, 2, 4, 8, 16, 32, 64, 128, 256 };
static const double steps_bounds[STEPS_BUCKETS] = { 1, 2, 3, 4, 6, 8, 12, 16, 32, 64 };

static const char *const route_names[ROUTES] = {
	"solve",      "feedback",       "contexts",         "context",      "modules",   "history",
	"report",     "admin_bind",     "admin_alias",      "admin_rollback", "admin_quarantine",
	"admin_install", "healthz",     "readyz",           "metrics",      "page",
	"lti",        "index",          "other",
};

const char *trmx__route_name(enum route r)
{
	return (unsigned)r < ROUTES ? route_names[r] : "other";
}

void trmx__metrics_init(struct metrics *m)
{
	memset(m, 0, sizeof *m);
	pthread_mutex_init(&m->mu, NULL);
}

void trmx__metrics_destroy(struct metrics *m)
{
	pthread_mutex_destroy(&m->mu);
}

/* Non-cumulative bucket counts; made cumulative when written. */
static void observe(uint64_t *buckets, const double *bounds, int nb, double v)
{
	int i = 0;
	while (i < nb && v > bounds[i])
		i++;
	buckets[i]++;
}

void trmx__metrics_request(struct metrics *m, enum route r, int status, double seconds)
{
	pthread_mutex_lock(&m->mu);
	for (int i = 0; i < STATUS_SLOTS; i++) {
		if (m->requests[r][i].status == status || !m->requests[r][i].status) {
			m->requests[r][i].status = status;
			m->requests[r][i].n++;
			break;
		}
	}
	observe(m->latency_buckets[r], latency_bounds, LATENCY_BUCKETS, seconds);
	m->latency_sum[r] += seconds;
	pthread_mutex_unlock(&m->mu);
}

void trmx__metrics_batch(struct metrics *m, int rows)
{
	pthread_mutex_lock(&m->mu);
	observe(m->batch_buckets, batch_bounds, BATCH_BUCKETS, rows);
	m->batch_sum += rows;
	pthread_mutex_unlock(&m->mu);
}

void trmx__metrics_steps(struct metrics *m, int steps)
{
	pthread_mutex_lock(&m->mu);
	observe(m->steps_buckets, steps_bounds, STEPS_BUCKETS, steps);
	m->steps_sum += steps;
	pthread_mutex_unlock(&m->mu);
}

static void histogram(FILE *f, const char *name, const char *labels, const uint64_t *buckets, const double *bounds,
		      int nb, double sum)
{
	uint64_t cum = 0;
	const char *sep = labels[0] ? "," : "";
	for (int i = 0; i < nb; i++) {
		cum += buckets[i];
		fprintf(f, "%s_bucket{%s%sle=\"%g\"} %llu\n", name, labels, sep, bounds[i], (unsigned long long)cum);
	}
	cum += buckets[nb];
	fprintf(f, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep, (unsigned long long)cum);
	fprintf(f, "%s_sum%s%s%s %.9g\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "", sum);
	fprintf(f, "%s_count%s%s%s %llu\n", name, labels[0] ? "{" : "", labels, labels[0] ? "}" : "",
		(unsigned long long)cum);
}

/* A metric without labels: its HELP and TYPE lines and its value. */
static void single(FILE *f, const char *name, const char *type, const char *help, uint64_t v)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name, type, name, (unsigned long long)v);
}

char *trmx__metrics_text(trmx_server *s)
{
	struct metrics *m = &s->metrics;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	trmx_host_stats hs;
	pthread_mutex_lock(&s->host_mu);
	trmx_host_stats_get(s->host, &hs);
	pthread_mutex_unlock(&s->host_mu);
	pthread_mutex_lock(&s->mu);
	size_t queued = s->queued;
	int inflight = s->inflight_requests;
	pthread_mutex_unlock(&s->mu);

	pthread_mutex_lock(&m->mu);
	fprintf(f, "# HELP trmx_http_requests_total HTTP requests answered, by route and status.\n"
		   "# TYPE trmx_http_requests_total counter\n");
	for (int r = 0; r < ROUTES; r++)
		for (int i = 0; i < STATUS_SLOTS && m->requests[r][i].status; i++)
			fprintf(f, "trmx_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", route_names[r],
				m->requests[r][i].status, (unsigned long long)m->requests[r][i].n);
	fprintf(f, "# HELP trmx_http_request_duration_seconds Time from a request's arrival to its answer.\n"
		   "# TYPE trmx_http_request_duration_seconds histogram\n");
	for (int r = 0; r < ROUTES; r++) {
		if (!m->requests[r][0].status)
			continue;
		char labels[64];
		snprintf(labels, sizeof labels, "route=\"%s\"", route_names[r]);
		histogram(f, "trmx_http_request_duration_seconds", labels, m->latency_buckets[r], latency_bounds,
			  LATENCY_BUCKETS, m->latency_sum[r]);
	}
	fprintf(f, "# HELP trmx_engine_batch_rows Rows the engine ran together in one ACT step.\n"
		   "# TYPE trmx_engine_batch_rows histogram\n");
	histogram(f, "trmx_engine_batch_rows", "", m->batch_buckets, batch_bounds, BATCH_BUCKETS, m->batch_sum);
	fprintf(f, "# HELP trmx_run_act_steps ACT steps a puzzle ran before it halted.\n"
		   "# TYPE trmx_run_act_steps histogram\n");
	histogram(f, "trmx_run_act_steps", "", m->steps_buckets, steps_bounds, STEPS_BUCKETS, m->steps_sum);
	pthread_mutex_unlock(&m->mu);
	single(f, "trmx_queue_depth", "gauge", "Puzzles waiting for the engine.", queued);
	single(f, "trmx_http_requests_in_flight", "gauge", "Requests being answered.", (uint64_t)inflight);
	single(f, "trmx_models_loaded", "gauge", "Models held in memory.", hs.models);
	single(f, "trmx_log_write_errors_total", "counter", "Commits of runs to the log that failed.", m->log_errors);
	single(f, "trmx_log_rows_inserted_total", "counter", "Rows (runs and the checker's verdicts) new to the log.",
	       m->rows_inserted);
	single(f, "trmx_deadline_expired_total", "counter", "Puzzles failed because their request's deadline passed.",
	       m->deadline_expired);
	single(f, "trmx_queue_full_total", "counter", "Solve requests refused with 503 because the queue was full.",
	       m->queue_full);
	uint64_t xs, xe, xp;
	if (trmx__xapi_stats(s, &xs, &xe, &xp)) { /* --xapi-lrs */
		single(f, "trmx_xapi_sent_total", "counter", "xAPI statements the LRS took.", xs);
		single(f, "trmx_xapi_errors_total", "counter", "Failed attempts to post xAPI statements to the LRS.", xe);
		single(f, "trmx_xapi_pending", "gauge", "xAPI statements not yet taken by the LRS.", xp);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}
