/*
 * lrs.c — sending the log's xAPI statements to a learning record store (trmx/report.h,
 * docs/ANALYTICS.md "Forwarding to an LRS"), for `trmx export xapi --lrs` and the forwarder of
 * `trmx serve --xapi-lrs`. The statements are export.c's, byte for byte; log.db's xapi_queue
 * numbers the rows in commit order (schemas/log/0004_xapi_outbox.sql), xapi_cursors says how far
 * each LRS has taken it, and xapi_outbox holds the batch in flight as it was first sent. On a
 * central log the same three tables are in PostgreSQL (schemas/log-pg/0003_xapi_outbox.sql: the
 * queue in transaction order, read below the oldest running transaction).
 *
 * One batch: stage it (BEGIN IMMEDIATE: the outbox of this endpoint, or up to `batch` queue
 * entries past the cursor made into statements and put there), POST it, and once the LRS says
 * 200 or 204 delete it and move the cursor in one transaction. A crash between the LRS's yes and
 * that commit resends the staged bytes, which the LRS takes as statements it already has. Two
 * senders to one LRS (serve and the CLI) may post a batch twice, never skip one: moving the
 * cursor takes the larger value and deletes only the entries it covers.
 *
 * HTTP is libcurl's (no redirects followed, http and https only, a timeout on every request).
 */
#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "analytics/analytics_int.h"

#define LRS_BATCH_DEFAULT 100
#define LRS_BATCH_MAX	  1000
#define LRS_TIMEOUT_MS	  30000
#define LRS_CONNECT_MS	  5000
#define LRS_BACKOFF_MAX_S 60.0
#define LRS_ANSWER_MAX	  4096 /* what is kept of an answer's body, for the message */

struct trmx_lrs {
	trmx_lrs_options o;
	sqlite3 *db; /* log.db, or: */
	trmx_pg *pg; /* a central log (the queue, cursors and outbox there: schemas/log-pg/0003) */
	char to_xid[24], to_seq[24]; /* there: the queue entry the batch posted last was staged up to */
	an_xapi x;
	CURL *curl;
	struct curl_slist *headers;
	char *endpoint, *user, *password;
	bool curl_inited;
	char answer[LRS_ANSWER_MAX + 1];
	size_t answer_len;
};

static int pg_register(trmx_lrs *l, trmx_error *err);

/* ---- Opening ------------------------------------------------------------------------------------ */

/* The statements resource of `url` (malloc'd): http(s), a host, no credentials, query or
 * fragment; "/statements" appended unless the path ends in it. */
static int endpoint_of(const char *url, char **out, trmx_error *err)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *path = NULL, *part = NULL, *full = NULL, *np = NULL;
	int rc = 0;
	if (!u)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK || !*host) {
		rc = trmx_error_set(err, TRMX_EINVAL,
				    "'%s' is not a URL of an LRS: give http(s)://HOST[:PORT]/PATH of its xAPI endpoint",
				    url);
		goto done;
	}
	if (strcmp(scheme, "http") && strcmp(scheme, "https")) {
		rc = trmx_error_set(err, TRMX_EINVAL, "'%s': an LRS is reached over http or https, not %s", url, scheme);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_USER, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_PASSWORD, &part, 0) == CURLUE_OK) {
		rc = trmx_error_set(err, TRMX_EINVAL,
				    "'%s' has credentials in it: give the URL without them and the credentials with --auth "
				    "USER:PASSWORD (or $TRMX_XAPI_AUTH), so they stay out of log.db and process lists",
				    url);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_QUERY, &part, 0) == CURLUE_OK ||
	    curl_url_get(u, CURLUPART_FRAGMENT, &part, 0) == CURLUE_OK) {
		rc = trmx_error_set(err, TRMX_EINVAL, "'%s': an LRS endpoint has no query or fragment (?... or #...)", url);
		goto done;
	}
	if (curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	size_t n = strlen(path);
	while (n > 0 && path[n - 1] == '/')
		n--;
	bool has = n >= 11 && !strncmp(path + n - 11, "/statements", 11);
	if (!(np = trmx_xasprintf("%.*s%s", (int)n, path, has ? "" : "/statements")) ||
	    curl_url_set(u, CURLUPART_PATH, np, 0) != CURLUE_OK || curl_url_get(u, CURLUPART_URL, &full, 0) != CURLUE_OK ||
	    !(*out = trmx_xstrdup(full))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
done:
	free(np);
	curl_free(scheme);
	curl_free(host);
	curl_free(path);
	curl_free(part);
	curl_free(full);
	curl_url_cleanup(u);
	return rc;
}

int trmx_lrs_open(trmx_lrs **out, const char *home, const trmx_lrs_options *opts, trmx_error *err)
{
	if (!out || !home || !opts || !opts->url)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_lrs_open: missing argument");
	if (!trmx_version_ok(opts->version, TRMX_LRS_OPTIONS_VERSION))
		return trmx_version_refused(err, "LRS options", opts->version, TRMX_LRS_OPTIONS_VERSION);
	if (opts->batch < 0 || opts->batch > LRS_BATCH_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "a batch of %d statements: give 1 to %d", opts->batch,
				      LRS_BATCH_MAX);
	if (opts->auth && !strchr(opts->auth, ':'))
		return trmx_error_set(err, TRMX_EINVAL, "the LRS credentials must be USER:PASSWORD (HTTP Basic)");
	trmx_lrs *l = trmx_xcalloc(1, sizeof *l);
	if (!l)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	l->o = *opts;
	if (!l->o.batch)
		l->o.batch = LRS_BATCH_DEFAULT;
	if (l->o.timeout_ms <= 0)
		l->o.timeout_ms = LRS_TIMEOUT_MS;
	if (l->o.connect_timeout_ms <= 0)
		l->o.connect_timeout_ms = LRS_CONNECT_MS;
	l->o.url = l->o.auth = l->o.base = NULL; /* borrowed: not kept */
	int rc;
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		rc = trmx_error_set(err, TRMX_ERROR, "libcurl cannot start");
		goto fail;
	}
	l->curl_inited = true;
	if ((rc = endpoint_of(opts->url, &l->endpoint, err)) < 0)
		goto fail;
	if (opts->auth) {
		const char *colon = strchr(opts->auth, ':');
		if (!(l->user = strndup(opts->auth, (size_t)(colon - opts->auth))) ||
		    !(l->password = trmx_xstrdup(colon + 1))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto fail;
		}
	}
	char *url = NULL;
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0)
		goto fail;
	if (url) {
		rc = trmx_pg_open(&l->pg, url, false, err);
		free(url);
		if (rc < 0 || (rc = trmx__an_xapi_init(&l->x, NULL, l->pg, opts->base, err)) < 0 ||
		    (rc = pg_register(l, err)) < 0)
			goto fail;
		goto http;
	}
	if ((rc = trmx__an_open_log(home, false, &l->db, NULL, err)) < 0 ||
	    (rc = trmx__an_xapi_init(&l->x, l->db, NULL, opts->base, err)) < 0)
		goto fail;
	sqlite3_stmt *st = NULL;
	if ((rc = trmx_db_prepare(l->db, "INSERT INTO xapi_cursors (endpoint) VALUES (?1) ON CONFLICT (endpoint) DO NOTHING",
				  &st, "log.db", err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	int s = trmx_db_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(l->db, s, "log.db", err);
		goto fail;
	}
http:;
	struct curl_slist *h = NULL;
	if (!(l->curl = curl_easy_init()) || !(h = curl_slist_append(NULL, "X-Experience-API-Version: 1.0.3")) ||
	    !(l->headers = h) || !(h = curl_slist_append(h, "Content-Type: application/json")) ||
	    !(h = curl_slist_append(h, "Expect:"))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	*out = l;
	return 0;
fail:
	trmx_lrs_free(l);
	return rc;
}

void trmx_lrs_free(trmx_lrs *l)
{
	if (!l)
		return;
	trmx__an_xapi_clear(&l->x);
	if (l->db)
		sqlite3_close(l->db);
	trmx_pg_close(l->pg);
	if (l->curl)
		curl_easy_cleanup(l->curl);
	curl_slist_free_all(l->headers);
	if (l->curl_inited)
		curl_global_cleanup();
	free(l->endpoint);
	free(l->user);
	if (l->password) {
		memset(l->password, 0, strlen(l->password));
		free(l->password);
	}
	free(l);
}

const char *trmx_lrs_endpoint(const trmx_lrs *l)
{
	return l ? l->endpoint : NULL;
}

/* ---- On a central log ----------------------------------------------------------------------------
 * The same steps in PostgreSQL (schemas/log-pg/0003_xapi_outbox.sql): the queue is ordered by
 * (xid, seq) and read only below the oldest running transaction, the cursor row is locked FOR
 * UPDATE while a batch is staged (senders on many hosts take turns), and a batch is the outbox
 * as first staged. */

/* $1 the endpoint */
static PGresult *pg_q(trmx_lrs *l, const char *sql, int n, const char *a, const char *b, const char *c,
		      trmx_error *err)
{
	const char *params[] = { l->endpoint, a, b, c };
	return trmx_pg_query(l->pg, sql, n, params, err);
}

static int pg_do(trmx_lrs *l, const char *sql, int n, const char *a, const char *b, const char *c, trmx_error *err)
{
	PGresult *r = pg_q(l, sql, n, a, b, c, err);
	if (!r)
		return err->code;
	PQclear(r);
	return 0;
}

/* Register the endpoint. The first one of the log fills the queue with every row not yet in it
 * (none are queued while no LRS is registered), with the writers held off (a SHARE ROW EXCLUSIVE
 * lock waits for running appends and stops new ones), so no row is logged between the fill and
 * the first trigger that sees the registration; the lock conflicts with itself, so two first
 * registrations at once fill the queue once. */
static int pg_register(trmx_lrs *l, trmx_error *err)
{
	PGresult *r = pg_q(l, "SELECT (SELECT count(*) FROM xapi_cursors), "
			      "(SELECT count(*) FROM xapi_cursors WHERE endpoint = $1)",
			   1, NULL, NULL, NULL, err);
	if (!r)
		return err->code;
	bool any = strcmp(PQgetvalue(r, 0, 0), "0") != 0, mine = strcmp(PQgetvalue(r, 0, 1), "0") != 0;
	PQclear(r);
	if (mine)
		return 0;
	int rc;
	if ((rc = trmx_pg_exec(l->pg, "BEGIN", err)) < 0)
		return rc;
	if (!any &&
	    ((rc = trmx_pg_exec(l->pg, "LOCK TABLE runs, feedback IN SHARE ROW EXCLUSIVE MODE", err)) < 0 ||
	     (rc = trmx_pg_exec(l->pg,
				"INSERT INTO xapi_queue (kind, row_id) SELECT 'run', id FROM runs r WHERE NOT EXISTS "
				"(SELECT 1 FROM xapi_queue q WHERE q.kind = 'run' AND q.row_id = r.id) ORDER BY time, id",
				err)) < 0 ||
	     (rc = trmx_pg_exec(l->pg,
				"INSERT INTO xapi_queue (kind, row_id) SELECT 'feedback', id FROM feedback f WHERE NOT "
				"EXISTS (SELECT 1 FROM xapi_queue q WHERE q.kind = 'feedback' AND q.row_id = f.id) "
				"ORDER BY time, id",
				err)) < 0))
		goto fail;
	if ((rc = pg_do(l, "INSERT INTO xapi_cursors (endpoint) VALUES ($1) ON CONFLICT (endpoint) DO NOTHING", 1, NULL,
			NULL, NULL, err)) < 0 ||
	    (rc = trmx_pg_exec(l->pg, "COMMIT", err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_pg_rollback(l->pg);
	return rc;
}

static int pg_pending(trmx_lrs *l, int64_t *out, trmx_error *err)
{
	PGresult *r = pg_q(l, "SELECT count(*) FROM xapi_queue q, xapi_cursors c WHERE c.endpoint = $1 AND "
			      "(q.xid, q.seq) > (c.xid, c.seq)",
			   1, NULL, NULL, NULL, err);
	if (!r)
		return err->code;
	*out = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	return 0;
}

/* The batch to post (as next_batch), under the cursor row's lock. */
static int pg_next_batch(trmx_lrs *l, char **body, int64_t *n, trmx_lrs_result *res, trmx_error *err)
{
	int64_t skipped = 0;
	trmx_buf b = { 0 };
	char *json = NULL;
	PGresult *r = NULL;
	int rc;
	*body = NULL;
	*n = 0;
	if ((rc = trmx_pg_exec(l->pg, "BEGIN", err)) < 0)
		return rc;
	for (;;) {
		if (!(r = pg_q(l, "SELECT xid, seq, (SELECT count(*) FROM xapi_outbox o WHERE o.endpoint = $1), "
				  "pg_snapshot_xmin(pg_current_snapshot()), staged_xid, staged_seq FROM xapi_cursors "
				  "WHERE endpoint = $1 FOR UPDATE",
			       1, NULL, NULL, NULL, err)))
			goto fail;
		if (PQntuples(r) != 1) {
			rc = trmx_error_set(err, TRMX_ENOTFOUND, "the central log has no cursor for %s", l->endpoint);
			goto fail;
		}
		char xid[24], seq[24], horizon[24];
		snprintf(xid, sizeof xid, "%s", PQgetvalue(r, 0, 0));
		snprintf(seq, sizeof seq, "%s", PQgetvalue(r, 0, 1));
		snprintf(horizon, sizeof horizon, "%s", PQgetvalue(r, 0, 3));
		bool staged = strcmp(PQgetvalue(r, 0, 2), "0") != 0;
		snprintf(l->to_xid, sizeof l->to_xid, "%s", PQgetvalue(r, 0, 4));
		snprintf(l->to_seq, sizeof l->to_seq, "%s", PQgetvalue(r, 0, 5));
		PQclear(r);
		r = NULL;
		if (staged)
			break; /* staged before (by us before a crash, or by another sender): as it was */
		char lim[16];
		snprintf(lim, sizeof lim, "%d", l->o.batch);
		const char *qp[] = { xid, seq, horizon, lim };
		if (!(r = trmx_pg_query(l->pg,
					"SELECT xid, seq, kind, row_id FROM xapi_queue WHERE (xid, seq) > ($1::xid8, $2::bigint) "
					"AND xid < $3::xid8 ORDER BY xid, seq LIMIT $4::integer",
					4, qp, err)))
			goto fail;
		int rows = PQntuples(r), put = 0;
		if (!rows) { /* nothing past the cursor that every writer has finished with */
			PQclear(r);
			res->skipped += skipped;
			return trmx_pg_exec(l->pg, "COMMIT", err);
		}
		for (int i = 0; i < rows; i++) {
			bool fb = !strcmp(PQgetvalue(r, i, 2), "feedback");
			char run_id[TRMX_UUID_SIZE] = "", sid[TRMX_UUID_SIZE];
			if ((rc = trmx__an_xapi_statement(&l->x, NULL, fb, PQgetvalue(r, i, 3), &json, run_id, err)) < 0)
				goto fail;
			if (!json) { /* erased or purged since it was logged */
				skipped++;
				continue;
			}
			trmx_xapi_statement_id(fb ? "feedback" : "run", PQgetvalue(r, i, 3), sid);
			const char *op[] = { l->endpoint, PQgetvalue(r, i, 0), PQgetvalue(r, i, 1), run_id, sid, json };
			PGresult *w = trmx_pg_query(l->pg,
						    "INSERT INTO xapi_outbox (endpoint, xid, seq, run_id, statement_id, statement) "
						    "VALUES ($1, $2::xid8, $3::bigint, $4, $5, $6) ON CONFLICT DO NOTHING",
						    6, op, err);
			free(json);
			json = NULL;
			if (!w)
				goto fail;
			PQclear(w);
			put++;
		}
		char last_xid[24], last_seq[24];
		snprintf(last_xid, sizeof last_xid, "%s", PQgetvalue(r, rows - 1, 0));
		snprintf(last_seq, sizeof last_seq, "%s", PQgetvalue(r, rows - 1, 1));
		PQclear(r);
		r = NULL;
		if (put) {
			if ((rc = pg_do(l, "UPDATE xapi_cursors SET staged_xid = $2::xid8, staged_seq = $3::bigint WHERE endpoint = $1",
					3, last_xid, last_seq, NULL, err)) < 0)
				goto fail;
			snprintf(l->to_xid, sizeof l->to_xid, "%s", last_xid);
			snprintf(l->to_seq, sizeof l->to_seq, "%s", last_seq);
			break;
		}
		/* every row of these entries was erased: nothing to send, the cursor passes them */
		if ((rc = pg_do(l, "UPDATE xapi_cursors SET xid = $2::xid8, seq = $3::bigint, staged_xid = $2::xid8, "
				   "staged_seq = $3::bigint WHERE endpoint = $1",
				3, last_xid, last_seq, NULL, err)) < 0)
			goto fail;
	}
	if (!(r = pg_q(l, "SELECT statement FROM xapi_outbox WHERE endpoint = $1 ORDER BY xid, seq", 1, NULL, NULL, NULL,
		       err)))
		goto fail;
	trmx_buf_put(&b, "[");
	for (int i = 0; i < PQntuples(r); i++) {
		if (i)
			trmx_buf_put(&b, ",");
		trmx_buf_putn(&b, PQgetvalue(r, i, 0), (size_t)PQgetlength(r, i, 0));
	}
	trmx_buf_put(&b, "]");
	*n = PQntuples(r);
	PQclear(r);
	r = NULL;
	if (b.failed) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = trmx_pg_exec(l->pg, "COMMIT", err)) < 0)
		goto fail;
	res->skipped += skipped;
	*body = b.s;
	return 0;
fail:
	if (rc >= 0)
		rc = err->code;
	PQclear(r);
	free(json);
	trmx_pg_rollback(l->pg);
	trmx_buf_free(&b);
	*n = 0;
	return rc;
}

/* The LRS took the batch staged up to (to_xid, to_seq): one transaction deletes it from the
 * outbox and moves the cursor there (never back, and never past a batch another sender staged
 * since: that one stays until it is delivered). */
static int pg_delivered(trmx_lrs *l, int64_t n, trmx_error *err)
{
	char now[32], sent[24];
	trmx_iso_time(trmx_now_ms(), now);
	snprintf(sent, sizeof sent, "%lld", (long long)n);
	int rc;
	if ((rc = trmx_pg_exec(l->pg, "BEGIN", err)) < 0)
		return rc;
	if ((rc = pg_do(l, "DELETE FROM xapi_outbox WHERE endpoint = $1 AND (xid, seq) <= ($2::xid8, $3::bigint)", 3,
			l->to_xid, l->to_seq, NULL, err)) < 0 ||
	    (rc = pg_do(l,
			"UPDATE xapi_cursors SET xid = $2::xid8, seq = $3::bigint WHERE endpoint = $1 AND "
			"(xid, seq) < ($2::xid8, $3::bigint)",
			3, l->to_xid, l->to_seq, NULL, err)) < 0 ||
	    (rc = pg_do(l, "UPDATE xapi_cursors SET sent = sent + $2::bigint, updated_at = $3 WHERE endpoint = $1", 3, sent,
			now, NULL, err)) < 0 ||
	    (rc = trmx_pg_exec(l->pg, "COMMIT", err)) < 0) {
		trmx_pg_rollback(l->pg);
		return rc;
	}
	return 0;
}

/* ---- The cursor --------------------------------------------------------------------------------- */

static int cursor_get(trmx_lrs *l, int64_t *seq, int64_t *staged_to, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(l->db, "SELECT seq, staged_to FROM xapi_cursors WHERE endpoint = ?1", &st, "log.db", err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW) {
		*seq = sqlite3_column_int64(st, 0);
		*staged_to = sqlite3_column_int64(st, 1);
	} else {
		*seq = *staged_to = 0; /* the row is made at open; gone only if someone deleted it */
		if (s != SQLITE_DONE)
			rc = trmx_db_error(l->db, s, "log.db", err);
	}
	sqlite3_finalize(st);
	return rc;
}

int trmx_lrs_pending(trmx_lrs *l, int64_t *out, trmx_error *err)
{
	if (l->pg)
		return pg_pending(l, out, err);
	sqlite3_stmt *st = NULL;
	/* Queue entries are never deleted and AUTOINCREMENT leaves no gaps (a rolled-back insert
	 * rolls its number back too), so the newest number minus the cursor counts them without
	 * reading them: this is called after every batch, with a backlog of any size. */
	int rc = trmx_db_prepare(l->db,
				 "SELECT max(0, coalesce((SELECT max(seq) FROM xapi_queue), 0) - "
				 "coalesce((SELECT seq FROM xapi_cursors WHERE endpoint = ?1), 0))",
				 &st, "log.db", err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW)
		*out = sqlite3_column_int64(st, 0);
	else
		rc = trmx_db_error(l->db, s, "log.db", err);
	sqlite3_finalize(st);
	return rc;
}

/* Append one outbox row; under the staging transaction. */
static int outbox_put(trmx_lrs *l, int64_t seq, const char *run_id, const char *sid, const char *json, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(l->db,
				 "INSERT INTO xapi_outbox (endpoint, seq, run_id, statement_id, statement) "
				 "VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (endpoint, seq) DO NOTHING",
				 &st, "log.db", err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_text(st, 3, run_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, sid, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, json, -1, SQLITE_STATIC);
	int s = trmx_db_step(st);
	if (s != SQLITE_DONE)
		rc = trmx_db_error(l->db, s, "log.db", err);
	sqlite3_finalize(st);
	return rc;
}

/* Under the staging transaction: make up to `batch` queue entries past `from` into statements
 * in the outbox. *last gets the last entry looked at (0: none), *staged the statements put
 * there, *skipped the entries whose row is gone. */
static int stage(trmx_lrs *l, int64_t from, int64_t *last, int64_t *staged, int64_t *skipped, trmx_error *err)
{
	sqlite3_stmt *q = NULL;
	char *json = NULL;
	int rc = trmx_db_prepare(l->db, "SELECT seq, kind, row_id FROM xapi_queue WHERE seq > ?1 ORDER BY seq LIMIT ?2", &q,
				 "log.db", err);
	int s;
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(q, 1, from);
	sqlite3_bind_int(q, 2, l->o.batch);
	while ((s = trmx_db_step(q)) == SQLITE_ROW) {
		int64_t seq = sqlite3_column_int64(q, 0);
		bool fb = !strcmp((const char *)sqlite3_column_text(q, 1), "feedback");
		char id[TRMX_UUID_SIZE + 8], run_id[TRMX_UUID_SIZE] = "", sid[TRMX_UUID_SIZE];
		trmx_db_column_copy(q, 2, id, sizeof id);
		*last = seq;
		if ((rc = trmx__an_xapi_statement(&l->x, l->db, fb, id, &json, run_id, err)) < 0)
			goto done;
		if (!json) { /* erased or purged since it was logged */
			(*skipped)++;
			continue;
		}
		trmx_xapi_statement_id(fb ? "feedback" : "run", id, sid);
		rc = outbox_put(l, seq, run_id, sid, json, err);
		free(json);
		json = NULL;
		if (rc < 0)
			goto done;
		(*staged)++;
	}
	if (s != SQLITE_DONE)
		rc = trmx_db_error(l->db, s, "log.db", err);
done:
	free(json);
	sqlite3_finalize(q);
	return rc;
}

static int set_cursor(trmx_lrs *l, const char *sql, int64_t a, int64_t b, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	char now[32];
	int rc = trmx_db_prepare(l->db, sql, &st, "log.db", err);
	if (rc < 0)
		return rc;
	trmx_iso_time(trmx_now_ms(), now);
	int np = sqlite3_bind_parameter_count(st); /* ?1 the endpoint, then a, b, the time: those it names */
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, a);
	if (np >= 3)
		sqlite3_bind_int64(st, 3, b);
	if (np >= 4)
		sqlite3_bind_text(st, 4, now, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s != SQLITE_DONE)
		rc = trmx_db_error(l->db, s, "log.db", err);
	sqlite3_finalize(st);
	return rc;
}

/* The batch to post: the endpoint's outbox as it stands, or a new one staged from the queue.
 * *body gets "[s1,s2,...]" (malloc'd; NULL: nothing to send), *n its statements, *to the queue
 * entry that delivering it moves the cursor to. */
static int next_batch(trmx_lrs *l, char **body, int64_t *n, int64_t *to, trmx_lrs_result *res, trmx_error *err)
{
	if (l->pg)
		return pg_next_batch(l, body, n, res, err);
	int64_t seq = 0, staged_to = 0, last = 0, staged = 0, skipped = 0, count = 0;
	sqlite3_stmt *st = NULL;
	trmx_buf b = { 0 };
	int rc, s;
	*body = NULL;
	*n = 0;
	/* most calls find nothing to do: find that out without taking the write lock */
	if ((rc = cursor_get(l, &seq, &staged_to, err)) < 0 ||
	    (rc = trmx_db_int64(l->db, "SELECT coalesce(max(seq), 0) FROM xapi_queue", &last, "log.db", err)) < 0)
		return rc;
	if (last <= seq && staged_to <= seq)
		return 0;
	if ((rc = trmx_db_begin(l->db, "log.db", err)) < 0)
		return rc;
	for (;;) {
		if ((rc = cursor_get(l, &seq, &staged_to, err)) < 0 ||
		    (rc = trmx_db_prepare(l->db, "SELECT count(*) FROM xapi_outbox WHERE endpoint = ?1", &st, "log.db",
					  err)) < 0)
			goto fail;
		sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
		count = trmx_db_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
		st = NULL;
		if (count > 0)
			break; /* a batch staged before (by us before a crash, or by another sender): as it was */
		last = 0;
		if ((rc = stage(l, seq, &last, &staged, &skipped, err)) < 0)
			goto fail;
		if (!last) { /* the queue has nothing past the cursor */
			if ((rc = trmx_db_commit(l->db, "log.db", err)) < 0)
				goto fail;
			res->skipped += skipped;
			return 0;
		}
		if (staged) {
			if ((rc = set_cursor(l, "UPDATE xapi_cursors SET staged_to = ?2 WHERE endpoint = ?1", last, 0,
					     err)) < 0)
				goto fail;
			staged_to = last;
			break;
		}
		/* every row of these entries was erased: nothing to send, the cursor passes them */
		if ((rc = set_cursor(l,
				     "UPDATE xapi_cursors SET seq = max(seq, ?2), staged_to = max(staged_to, ?3) WHERE "
				     "endpoint = ?1",
				     last, last, err)) < 0)
			goto fail;
	}
	if ((rc = trmx_db_prepare(l->db, "SELECT statement FROM xapi_outbox WHERE endpoint = ?1 ORDER BY seq", &st, "log.db",
				  err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	trmx_buf_put(&b, "[");
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		if (*n)
			trmx_buf_put(&b, ",");
		trmx_buf_putn(&b, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
		(*n)++;
	}
	trmx_buf_put(&b, "]");
	sqlite3_finalize(st);
	st = NULL;
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(l->db, s, "log.db", err);
		goto fail;
	}
	if (b.failed) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = trmx_db_commit(l->db, "log.db", err)) < 0)
		goto fail;
	res->skipped += skipped;
	*to = staged_to;
	*body = b.s;
	return 0;
fail:
	sqlite3_finalize(st);
	trmx_db_rollback(l->db);
	trmx_buf_free(&b);
	return rc;
}

/* The LRS took the batch up to queue entry `to`: one transaction empties it and moves the cursor. */
static int delivered(trmx_lrs *l, int64_t to, int64_t n, trmx_error *err)
{
	if (l->pg)
		return pg_delivered(l, n, err);
	sqlite3_stmt *st = NULL;
	int rc, s;
	if ((rc = trmx_db_begin(l->db, "log.db", err)) < 0)
		return rc;
	if ((rc = trmx_db_prepare(l->db, "DELETE FROM xapi_outbox WHERE endpoint = ?1 AND seq <= ?2", &st, "log.db", err)) <
	    0)
		goto fail;
	sqlite3_bind_text(st, 1, l->endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, to);
	s = trmx_db_step(st);
	sqlite3_finalize(st);
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(l->db, s, "log.db", err);
		goto fail;
	}
	if ((rc = set_cursor(l,
			     "UPDATE xapi_cursors SET seq = max(seq, ?2), staged_to = max(staged_to, ?2), sent = sent + ?3, "
			     "updated_at = ?4 WHERE endpoint = ?1",
			     to, n, err)) < 0 ||
	    (rc = trmx_db_commit(l->db, "log.db", err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(l->db);
	return rc;
}

/* ---- HTTP --------------------------------------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *user)
{
	trmx_lrs *l = user;
	size_t len = size * n, room = LRS_ANSWER_MAX - l->answer_len;
	memcpy(l->answer + l->answer_len, p, len < room ? len : room);
	l->answer_len += len < room ? len : room;
	l->answer[l->answer_len] = 0;
	return len;
}

static int on_progress(void *user, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
	trmx_lrs *l = user;
	(void)dt, (void)dn, (void)ut, (void)un;
	return l->o.cancelled && l->o.cancelled(l->o.user); /* non-zero aborts the transfer */
}

/* The LRS's reason, for a message: the "message" of a JSON body, else the body's first line,
 * printable characters only, cut short. */
static void answer_reason(trmx_lrs *l, char *out, size_t cap)
{
	json_t *j = json_loadb(l->answer, l->answer_len, 0, NULL);
	const char *m = json_is_object(j) ? json_string_value(json_object_get(j, "message")) : NULL;
	if (!m && json_is_object(j))
		m = json_string_value(json_object_get(j, "error"));
	const char *src = m ? m : l->answer;
	size_t k = strlen(src) < cap - 1 ? strlen(src) : cap - 1; /* cut: a message, not the body */
	memcpy(out, src, k);
	out[k] = 0;
	json_decref(j);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\r') {
			*p = 0;
			break;
		} else if ((unsigned char)*p < ' ') {
			*p = ' ';
		}
	if (!*out)
		snprintf(out, cap, "no reason given");
}

enum outcome { OUT_OK, OUT_RETRY, OUT_STOP };

/* POST one batch. OUT_RETRY: *why and *retry_after (0: none given) say why and when. */
static enum outcome post(trmx_lrs *l, const char *body, int *status, double *retry_after, char *why, size_t cap, int *code,
			 trmx_error *err)
{
	CURL *c = l->curl;
	char reason[512];
	curl_easy_reset(c);
	l->answer_len = 0;
	l->answer[0] = 0;
	*status = 0;
	*retry_after = 0;
	curl_easy_setopt(c, CURLOPT_URL, l->endpoint);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* a thread of trmx serve: no SIGALRM for timeouts */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, l->headers);
	curl_easy_setopt(c, CURLOPT_POST, 1L);
	curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)l->o.timeout_ms);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)l->o.connect_timeout_ms);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "trmx");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, l);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, l);
	if (l->user) {
		curl_easy_setopt(c, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(c, CURLOPT_USERNAME, l->user);
		curl_easy_setopt(c, CURLOPT_PASSWORD, l->password);
	}
	CURLcode cc = curl_easy_perform(c);
	if (cc == CURLE_ABORTED_BY_CALLBACK) {
		*code = trmx_error_set(err, TRMX_ECANCELLED, "stopped while posting to %s", l->endpoint);
		return OUT_STOP;
	}
	if (cc != CURLE_OK) {
		snprintf(why, cap, "%s", curl_easy_strerror(cc));
		return OUT_RETRY;
	}
	long st = 0;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	*status = (int)st;
	if (st == 200 || st == 204)
		return OUT_OK;
	answer_reason(l, reason, sizeof reason);
	if (st == 429 || st >= 500) {
		curl_off_t ra = -1;
		if (curl_easy_getinfo(c, CURLINFO_RETRY_AFTER, &ra) == CURLE_OK && ra > 0)
			*retry_after = (double)ra;
		snprintf(why, cap, "HTTP %ld: %s", st, reason);
		return OUT_RETRY;
	}
	if (st == 409)
		*code = trmx_error_set(
			err, TRMX_EINTEGRITY,
			"the LRS at %s answered 409 Conflict: it holds a statement with one of these ids and "
			"other content (%s); nothing was skipped, the cursor stays before them. Was this log's "
			"data sent there another way (a file export, another base IRL)?",
			l->endpoint, reason);
	else if (st == 401 || st == 403)
		*code = trmx_error_set(err, TRMX_EINVAL, "the LRS at %s refused the credentials (HTTP %ld: %s): %s",
				       l->endpoint, st, reason,
				       l->user ? "check --auth USER:PASSWORD" : "give them with --auth USER:PASSWORD");
	else if (st >= 300 && st < 400)
		*code = trmx_error_set(err, TRMX_EINVAL,
				       "the LRS at %s answered HTTP %ld (a redirect, not followed): give the URL it names",
				       l->endpoint, st);
	else
		*code = trmx_error_set(err, TRMX_EINVAL, "the LRS at %s refused the statements (HTTP %ld): %s", l->endpoint,
				       st, reason);
	return OUT_STOP;
}

static bool sleep_s(void *user, double seconds, const char *why)
{
	(void)user, (void)why;
	struct timespec ts = { (time_t)seconds, (long)((seconds - (double)(time_t)seconds) * 1e9) };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
	return true;
}

int trmx_lrs_sync(trmx_lrs *l, trmx_lrs_result *result, trmx_error *err)
{
	if (!l)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_lrs_sync: missing argument");
	trmx_lrs_result res = { 0 };
	double delay = 1.0;
	int attempts = 0, rc = 0;
	char why[600] = "";
	for (;;) {
		char *body = NULL;
		int64_t n = 0, to = 0;
		if ((rc = next_batch(l, &body, &n, &to, &res, err)) < 0)
			break;
		if (!body)
			break; /* nothing past the cursor */
		double retry_after = 0;
		enum outcome out = post(l, body, &res.last_status, &retry_after, why, sizeof why, &rc, err);
		free(body);
		if (out == OUT_OK) {
			if ((rc = delivered(l, to, n, err)) < 0)
				break;
			res.sent += n;
			attempts = 0;
			delay = 1.0;
			if (l->o.progress) {
				int64_t p = 0;
				if (trmx_lrs_pending(l, &p, err) == 0)
					l->o.progress(l->o.user, res.sent, p);
			}
			continue;
		}
		if (out == OUT_STOP)
			break;
		if (l->o.retries >= 0 && attempts >= l->o.retries) {
			rc = trmx_error_set(err, TRMX_EIO,
					    "the LRS at %s %s: %s (%d attempts; %lld statements were sent before; run "
					    "again to go on from there)",
					    l->endpoint, res.last_status ? "kept failing" : "could not be reached", why,
					    attempts + 1, (long long)res.sent);
			break;
		}
		double wait = retry_after > 0 ? (retry_after < 3600 ? retry_after : 3600) : delay;
		delay = delay * 2 < LRS_BACKOFF_MAX_S ? delay * 2 : LRS_BACKOFF_MAX_S;
		attempts++;
		res.retries++;
		if (!(l->o.wait ? l->o.wait : sleep_s)(l->o.user, wait, why)) {
			rc = trmx_error_set(err, TRMX_ECANCELLED, "stopped while the LRS at %s was failing (%s)",
					    l->endpoint, why);
			break;
		}
	}
	trmx_error e2;
	if (trmx_lrs_pending(l, &res.pending, &e2) < 0)
		res.pending = -1;
	if (result)
		*result = res;
	return rc;
}
