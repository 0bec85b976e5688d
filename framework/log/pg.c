/*
 * pg.c — the central log on PostgreSQL (libpq): connecting with a timeout, forward-only
 * migrations of schemas/log-pg/ under an advisory lock (many hosts may open a new log at once),
 * the hosts' shared secret checked, and rows written in one transaction per call: COPY into
 * temporary tables, then INSERT ... ON CONFLICT (id) DO NOTHING into runs and feedback, so a
 * retry (a push of the outbox after a crash) is never a duplicate. Errors are sorted into the
 * server being out of reach (the caller keeps the rows in its outbox) and the rows being wrong.
 */
#define _GNU_SOURCE /* open_memstream */
#include <libpq-fe.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"

struct trmx_pg {
	PGconn *c;
	char *url;   /* as given, for a reconnect */
	char *shown; /* the URL with its password masked, for messages */
	bool down;   /* the last failure was the server's reach, not the rows */
	bool staged; /* the temporary tables of this session exist */
};

/* A fixed key for pg_advisory_xact_lock: "trmx" in ASCII, then "log". */
#define PG_MIGRATE_LOCK 0x74726d786c6f67LL

bool trmx_log_url_is_pg(const char *url)
{
	return url && (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11));
}

char *trmx_log_url_masked(const char *url)
{
	/* scheme://user:password@host... -> scheme://user:***@host... */
	char *s = trmx_xstrdup(url);
	if (!s)
		return NULL;
	char *p = strstr(s, "://");
	if (!p)
		return s;
	p += 3;
	char *at = strchr(p, '@'), *slash = strchr(p, '/');
	if (!at || (slash && slash < at))
		return s;
	char *colon = memchr(p, ':', (size_t)(at - p));
	if (!colon)
		return s;
	char *out = trmx_xasprintf("%.*s:***%s", (int)(colon - s), s, at);
	free(s);
	return out;
}

/* The SQLSTATE classes that say the server is out of reach or refusing work for now: 08
 * connection exception, 53 insufficient resources (disk full, too many connections), 57
 * operator intervention (shutting down, cannot connect now), 58 system error; a result with no
 * SQLSTATE at all is a connection that broke. */
static bool state_is_down(const char *st)
{
	return !st || !strncmp(st, "08", 2) || !strncmp(st, "53", 2) || !strncmp(st, "57", 2) || !strncmp(st, "58", 2);
}

/* libpq's message on one line: its line breaks and tabs as single spaces, none at the end. */
static void one_line(char *out, size_t cap, const char *msg)
{
	size_t n = 0;
	for (const char *s = msg; *s && n + 1 < cap; s++) {
		bool space = *s == '\n' || *s == '\t' || *s == ' ';
		if (space && (n == 0 || out[n - 1] == ' '))
			continue;
		out[n++] = space ? ' ' : *s;
	}
	while (n && out[n - 1] == ' ')
		n--;
	out[n] = 0;
}

/* Map a failed result (NULL: none came back) to a TRMX_E* code with the server's message. */
static int pg_fail(trmx_pg *p, PGresult *r, const char *doing, trmx_error *err)
{
	const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *msg = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	if (!msg)
		msg = PQerrorMessage(p->c);
	char m[400];
	one_line(m, sizeof m, msg && *msg ? msg : "no answer");
	int code = TRMX_ERROR;
	p->down = state_is_down(st) || PQstatus(p->c) != CONNECTION_OK;
	if (p->down)
		code = TRMX_EIO;
	else if (!strcmp(st, "23503"))
		code = TRMX_ENOTFOUND; /* a foreign key: feedback on a run that is not in the log */
	else if (!strncmp(st, "23", 2) || !strncmp(st, "22", 2))
		code = TRMX_EINVAL;
	else if (!strcmp(st, "57014"))
		code = TRMX_ECANCELLED; /* statement_timeout */
	else if (!strcmp(st, "25006"))
		code = TRMX_EINVAL; /* a write in a read-only transaction */
	const char *detail = r ? PQresultErrorField(r, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *key = detail ? strstr(detail, "Key (run_id)=(") : NULL;
	if (code == TRMX_ENOTFOUND && key) /* as log.db says it */
		trmx_error_set(err, code, "%s: no run %.36s", p->shown, key + 14);
	else
		trmx_error_set(err, code, "%s: %s%s%s", p->shown, doing ? doing : "", doing ? ": " : "", m);
	if (r)
		PQclear(r);
	return code;
}

static int pg_command(trmx_pg *p, const char *sql, trmx_error *err)
{
	if (trmx_fault_hit(TRMX_FAULT_SQL)) {
		p->down = true;
		return trmx_error_set(err, TRMX_EIO, "%s: injected fault", p->shown);
	}
	PGresult *r = PQexec(p->c, sql);
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK)
		return pg_fail(p, r, NULL, err);
	PQclear(r);
	return 0;
}

int trmx_pg_exec(trmx_pg *p, const char *sql, trmx_error *err)
{
	return pg_command(p, sql, err);
}

PGresult *trmx_pg_query(trmx_pg *p, const char *sql, int nparams, const char *const *params, trmx_error *err)
{
	PGresult *r = PQexecParams(p->c, sql, nparams, NULL, params, NULL, NULL, 0);
	ExecStatusType s = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
	if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
		pg_fail(p, r, NULL, err);
		return NULL;
	}
	return r;
}

char *trmx_pg_inline(trmx_pg *p, const char *sql, int nparams, const char *const *params)
{
	char *out = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&out, &len);
	if (!f)
		return NULL;
	bool ok = true;
	for (const char *q = sql; *q && ok; q++) {
		char *end;
		long n = *q == '?' ? strtol(q + 1, &end, 10) : 0;
		if (n < 1 || n > nparams) {
			fputc(*q, f);
			continue;
		}
		if (!params[n - 1]) {
			fputs("NULL", f);
		} else {
			char *lit = PQescapeLiteral(p->c, params[n - 1], strlen(params[n - 1]));
			ok = lit != NULL;
			if (lit)
				fputs(lit, f);
			PQfreemem(lit);
		}
		q = end - 1;
	}
	if (fclose(f) != 0 || !ok) {
		free(out);
		return NULL;
	}
	return out;
}

static uint32_t be32(const unsigned char *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* The binary COPY stream, parsed as it comes (rows may be cut across messages): the 19-byte
 * header and its extension, then per row a 16-bit field count (-1 ends the stream) and per field
 * a 32-bit length (-1 NULL) and the bytes. */
struct copy_in {
	unsigned char *buf;
	size_t n, cap;
	bool header;
	char *row; /* the fields of one row, each NUL-terminated */
	size_t row_cap;
};

/* Parse the complete rows at the start of c->buf; 1 when the trailer was seen. */
static int copy_rows(trmx_pg *p, struct copy_in *c, int max_fields, trmx_pg_row_fn fn, void *ctx, trmx_error *err)
{
	size_t at = 0;
	int rc = 0;
	if (!c->header) {
		if (c->n < 19)
			return 0;
		if (memcmp(c->buf, "PGCOPY\n\377\r\n", 11) != 0)
			return trmx_error_set(err, TRMX_EIO, "%s: COPY answered something that is not its binary format", p->shown);
		size_t ext = be32(c->buf + 15);
		if (c->n < 19 + ext)
			return 0;
		at = 19 + ext;
		c->header = true;
	}
	const char *v[TRMX_PG_COPY_FIELDS_MAX];
	int len[TRMX_PG_COPY_FIELDS_MAX];
	while (rc == 0 && c->n - at >= 2) {
		int nf = (int16_t)(c->buf[at] << 8 | c->buf[at + 1]);
		if (nf == -1) {
			rc = 1;
			at += 2;
			break;
		}
		if (nf < 0 || nf > max_fields || nf > TRMX_PG_COPY_FIELDS_MAX)
			return trmx_error_set(err, TRMX_EIO, "%s: COPY gave a row of %d fields", p->shown, nf);
		/* is the whole row here? its size, and the room its NUL-terminated copy needs */
		size_t q = at + 2, need = 0;
		bool whole = true;
		for (int i = 0; i < nf; i++) {
			if (c->n - q < 4) {
				whole = false;
				break;
			}
			int32_t l = (int32_t)be32(c->buf + q);
			q += 4;
			if (l > 0) {
				if (c->n - q < (size_t)l) {
					whole = false;
					break;
				}
				q += (size_t)l;
				need += (size_t)l;
			}
			need++;
		}
		if (!whole)
			break;
		if (need > c->row_cap) {
			char *r = realloc(c->row, need * 2);
			if (!r)
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", p->shown);
			c->row = r;
			c->row_cap = need * 2;
		}
		size_t o = 0;
		q = at + 2;
		for (int i = 0; i < nf; i++) {
			int32_t l = (int32_t)be32(c->buf + q);
			q += 4;
			if (l < 0) {
				v[i] = NULL;
				len[i] = 0;
				continue;
			}
			memcpy(c->row + o, c->buf + q, (size_t)l);
			c->row[o + (size_t)l] = '\0';
			v[i] = c->row + o;
			len[i] = l;
			o += (size_t)l + 1;
			q += (size_t)l;
		}
		at = q;
		rc = fn(ctx, nf, v, len, err);
	}
	memmove(c->buf, c->buf + at, c->n - at);
	c->n -= at;
	return rc;
}

int trmx_pg_copy_out(trmx_pg *p, const char *sql, int max_fields, trmx_pg_row_fn fn, void *ctx, trmx_error *err)
{
	PGresult *r = PQexec(p->c, sql);
	if (!r || PQresultStatus(r) != PGRES_COPY_OUT)
		return pg_fail(p, r, NULL, err);
	PQclear(r);
	struct copy_in c = { 0 };
	int rc = 0, got;
	char *chunk;
	while ((got = PQgetCopyData(p->c, &chunk, 0)) > 0) {
		if (rc == 0 && c.n + (size_t)got > c.cap) {
			size_t cap = c.cap ? c.cap : 1 << 16;
			while (cap < c.n + (size_t)got)
				cap *= 2;
			unsigned char *b = realloc(c.buf, cap);
			if (!b)
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", p->shown);
			else
				c.buf = b, c.cap = cap;
		}
		if (rc == 0) {
			memcpy(c.buf + c.n, chunk, (size_t)got);
			c.n += (size_t)got;
			rc = copy_rows(p, &c, max_fields, fn, ctx, err);
		}
		PQfreemem(chunk); /* after a failure, read the stream to its end: the connection stays usable */
	}
	bool trailer = rc == 1;
	if (rc == 1)
		rc = 0;
	free(c.buf);
	free(c.row);
	if (got == -2 && rc == 0)
		rc = pg_fail(p, NULL, "COPY", err);
	while ((r = PQgetResult(p->c))) {
		if (PQresultStatus(r) != PGRES_COMMAND_OK && rc == 0)
			rc = pg_fail(p, r, NULL, err);
		else
			PQclear(r);
	}
	if (rc == 0 && !trailer)
		rc = trmx_error_set(err, TRMX_EIO, "%s: COPY ended before its last row", p->shown);
	return rc;
}

void trmx_pg_rollback(trmx_pg *p)
{
	if (p && p->c && PQtransactionStatus(p->c) != PQTRANS_IDLE && PQstatus(p->c) == CONNECTION_OK) {
		PGresult *r = PQexec(p->c, "ROLLBACK");
		PQclear(r);
	}
}

const char *trmx_pg_name(const trmx_pg *p)
{
	return p ? p->shown : "";
}

bool trmx_pg_down(const trmx_pg *p)
{
	return !p || p->down;
}

PGconn *trmx_pg_conn(trmx_pg *p)
{
	return p->c;
}

static int pg_connect(trmx_pg *p, trmx_error *err)
{
	/* the URL last, so what it says wins; a server that does not answer is given up after 5 s */
	const char *const keys[] = { "connect_timeout", "application_name", "dbname", NULL };
	const char *const values[] = { "5", "trmx", p->url, NULL };
	if (p->c)
		PQfinish(p->c);
	p->staged = false;
	p->c = PQconnectdbParams(keys, values, 1);
	if (!p->c)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory connecting to %s", p->shown);
	if (PQstatus(p->c) != CONNECTION_OK) {
		p->down = true;
		char m[400];
		one_line(m, sizeof m, PQerrorMessage(p->c));
		return trmx_error_set(err, TRMX_EIO, "%s: cannot connect: %s", p->shown, m);
	}
	p->down = false;
	PGresult *r = PQexec(p->c, "SET client_min_messages = warning; SET TIME ZONE 'UTC'");
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_fail(p, r, "setting up the session", err);
	PQclear(r);
	return 0;
}

/* The newest version applied, -1 when the log has no schema yet. */
static int schema_version(trmx_pg *p, int *out, trmx_error *err)
{
	PGresult *r = trmx_pg_query(p, "SELECT to_regclass('trmx_schema') IS NOT NULL", 0, NULL, err);
	if (!r)
		return err->code;
	bool have = PQntuples(r) == 1 && !strcmp(PQgetvalue(r, 0, 0), "t");
	PQclear(r);
	*out = -1;
	if (!have)
		return 0;
	if (!(r = trmx_pg_query(p, "SELECT max(version) FROM trmx_schema", 0, NULL, err)))
		return err->code;
	*out = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return 0;
}

static int migrate(trmx_pg *p, trmx_error *err)
{
	size_t n;
	const trmx_sql_file *files = trmx_sql_log_pg(&n);
	int newest = n ? files[n - 1].number : 0, have, rc;
	if ((rc = schema_version(p, &have, err)) < 0)
		return rc;
	if (have == newest)
		return 0;
	if (have > newest)
		return trmx_error_set(err, TRMX_EVERSION,
				      "%s: schema version %d was written by a newer trmx; this one knows up to %d", p->shown,
				      have, newest);
	/* one host migrates; the others wait for the lock and find the work done */
	if ((rc = pg_command(p, "BEGIN", err)) < 0)
		return rc;
	char sql[160];
	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%lld)", PG_MIGRATE_LOCK);
	if ((rc = pg_command(p, sql, err)) < 0 ||
	    (rc = pg_command(p, "CREATE TABLE IF NOT EXISTS trmx_schema (version integer PRIMARY KEY, "
				"name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())",
			     err)) < 0 ||
	    (rc = schema_version(p, &have, err)) < 0)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		if (files[i].number <= have)
			continue;
		if ((rc = pg_command(p, files[i].text, err)) < 0) {
			char m[TRMX_ERROR_MESSAGE_MAX];
			snprintf(m, sizeof m, "%s", err->message);
			rc = trmx_error_set(err, rc, "migration %s: %s", files[i].name, m);
			goto fail;
		}
		char num[16];
		snprintf(num, sizeof num, "%d", files[i].number);
		const char *params[] = { num, files[i].name };
		PGresult *r = trmx_pg_query(p, "INSERT INTO trmx_schema (version, name) VALUES ($1, $2)", 2, params, err);
		if (!r) {
			rc = err->code;
			goto fail;
		}
		PQclear(r);
	}
	return pg_command(p, "COMMIT", err);
fail:
	trmx_pg_rollback(p);
	return rc;
}

int trmx_pg_open(trmx_pg **out, const char *url, bool readonly, trmx_error *err)
{
	trmx_pg *p = trmx_xcalloc(1, sizeof *p);
	int rc;
	if (!p || !(p->url = trmx_xstrdup(url)) || !(p->shown = trmx_log_url_masked(url))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the central log");
		goto fail;
	}
	*out = p; /* even when the server is out of reach: the caller may keep rows for later */
	if ((rc = pg_connect(p, err)) < 0)
		return rc;
	if (readonly) {
		int have;
		size_t n;
		const trmx_sql_file *files = trmx_sql_log_pg(&n);
		if ((rc = schema_version(p, &have, err)) < 0)
			return rc;
		if (have < 0)
			return trmx_error_set(err, TRMX_ENOTFOUND, "%s holds no trmx log yet (nothing has been logged to it)",
					      p->shown);
		if (have != (n ? files[n - 1].number : 0))
			return trmx_error_set(err, TRMX_EVERSION,
					      "%s is at schema version %d, this trmx reads %d: run `trmx log migrate`",
					      p->shown, have, n ? files[n - 1].number : 0);
		return 0;
	}
	return migrate(p, err);
fail:
	trmx_pg_close(p);
	*out = NULL;
	return rc;
}

int trmx_pg_reconnect(trmx_pg *p, trmx_error *err)
{
	int rc = pg_connect(p, err);
	return rc < 0 ? rc : migrate(p, err);
}

void trmx_pg_close(trmx_pg *p)
{
	if (!p)
		return;
	if (p->c)
		PQfinish(p->c);
	free(p->url);
	free(p->shown);
	free(p);
}

/* ---- The hosts' secret ----------------------------------------------------------------------- */

int trmx_pg_secret_check(trmx_pg *p, const char *check, const char *host, trmx_error *err)
{
	char now[32];
	trmx_iso_time(trmx_now_ms(), now);
	const char *params[] = { check, host, now };
	PGresult *r = trmx_pg_query(p,
				    "INSERT INTO log_secret (one, check_value, by_host, at) VALUES (1, $1, $2, $3) "
				    "ON CONFLICT (one) DO NOTHING",
				    3, params, err);
	if (!r)
		return err->code;
	PQclear(r);
	if (!(r = trmx_pg_query(p, "SELECT check_value, coalesce(by_host, '?') FROM log_secret", 0, NULL, err)))
		return err->code;
	int rc = 0;
	if (PQntuples(r) != 1 || strcmp(PQgetvalue(r, 0, 0), check))
		rc = trmx_error_set(err, TRMX_EINVAL,
				    "%s was started by host %s with another secret: the hosts of one central log must share "
				    "one secret, or a learner gets another pseudonym on each (copy that host's "
				    "TRMX_HOME/secret here, mode 0600; docs/SCHEMA.md, \"A central log\")",
				    p->shown, PQntuples(r) == 1 ? PQgetvalue(r, 0, 1) : "?");
	PQclear(r);
	return rc;
}

/* ---- Writing --------------------------------------------------------------------------------- */

/* COPY's text format: a field with its backslash, tab, newline and carriage return escaped. */
static void copy_text(FILE *f, const char *s)
{
	if (!s) {
		fputs("\\N", f);
		return;
	}
	for (; *s; s++) {
		switch (*s) {
		case '\\': fputs("\\\\", f); break;
		case '\t': fputs("\\t", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		default: fputc(*s, f);
		}
	}
}

static void copy_sep(FILE *f, const char *s)
{
	copy_text(f, s);
	fputc('\t', f);
}

static void copy_int(FILE *f, int v)
{
	if (v < 0)
		fputs("\\N\t", f);
	else
		fprintf(f, "%d\t", v);
}

static void copy_real(FILE *f, double v)
{
	if (isnan(v))
		fputs("\\N\t", f);
	else
		fprintf(f, "%.17g\t", v);
}

void trmx_pg_copy_run(FILE *f, const trmx_run_record *r, const char *when, const char *host)
{
	bool failed = r->status == TRMX_RUN_ERROR;
	copy_sep(f, r->id);
	copy_sep(f, when);
	copy_sep(f, trmx_run_kind_name(r->kind));
	copy_sep(f, r->batch_id);
	copy_sep(f, r->context);
	copy_sep(f, r->learner);
	copy_sep(f, r->target);
	copy_sep(f, r->module);
	copy_sep(f, r->module_version);
	copy_sep(f, r->digest);
	copy_sep(f, r->alias);
	copy_sep(f, trmx_arm_name(r->arm));
	copy_sep(f, r->engine);
	copy_sep(f, r->task);
	copy_sep(f, r->task_params ? r->task_params : "");
	copy_sep(f, r->input);
	copy_sep(f, r->output);
	copy_sep(f, r->output ? NULL : r->output_tokens);
	copy_sep(f, r->halt == TRMX_HALT_ADAPTIVE ? "adaptive" : "fixed");
	copy_int(f, r->max_steps);
	copy_int(f, r->steps);
	copy_real(f, r->q_halt);
	copy_real(f, isnan(r->q_halt) ? NAN : 1.0 / (1.0 + exp(-r->q_halt)));
	copy_sep(f, failed ? NULL : trmx_verdict_name(r->verdict));
	copy_sep(f, failed ? NULL : r->problem);
	copy_real(f, !isnan(r->latency_ms) && r->latency_ms >= 0 ? r->latency_ms : NAN);
	copy_sep(f, trmx_run_status_name(r->status));
	copy_sep(f, failed ? (r->error ? r->error : "failed") : NULL);
	copy_text(f, host);
	fputc('\n', f);
}

void trmx_pg_copy_feedback(FILE *f, const trmx_feedback_record *fb, const char *when)
{
	copy_sep(f, fb->id);
	copy_sep(f, fb->run_id);
	copy_sep(f, when);
	copy_sep(f, trmx_feedback_source_name(fb->source));
	copy_sep(f, trmx_feedback_verdict_name(fb->verdict));
	copy_real(f, fb->score);
	copy_sep(f, fb->expected);
	copy_text(f, fb->comment);
	fputc('\n', f);
}

void trmx_pg_copy_sqlite_row(FILE *f, sqlite3_stmt *st, int first, int ncols)
{
	for (int i = first; i < first + ncols; i++) {
		int t = sqlite3_column_type(st, i);
		if (t == SQLITE_NULL)
			fputs("\\N", f);
		else if (t == SQLITE_FLOAT)
			fprintf(f, "%.17g", sqlite3_column_double(st, i));
		else
			copy_text(f, (const char *)sqlite3_column_text(st, i));
		fputc(i + 1 < first + ncols ? '\t' : '\n', f);
	}
}

static int copy_in(trmx_pg *p, const char *table, const char *data, size_t len, trmx_error *err)
{
	char sql[96];
	snprintf(sql, sizeof sql, "COPY %s FROM STDIN", table);
	PGresult *r = PQexec(p->c, sql);
	if (!r || PQresultStatus(r) != PGRES_COPY_IN)
		return pg_fail(p, r, "COPY", err);
	PQclear(r);
	/* libpq takes at most INT_MAX bytes a call */
	for (size_t off = 0; off < len;) {
		size_t k = len - off > (1u << 30) ? (1u << 30) : len - off;
		if (PQputCopyData(p->c, data + off, (int)k) != 1) {
			PQputCopyEnd(p->c, "trmx: sending failed");
			return pg_fail(p, PQgetResult(p->c), "COPY", err);
		}
		off += k;
	}
	if (PQputCopyEnd(p->c, NULL) != 1)
		return pg_fail(p, NULL, "COPY", err);
	r = PQgetResult(p->c);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK) {
		int rc = pg_fail(p, r, "COPY", err);
		while ((r = PQgetResult(p->c)))
			PQclear(r);
		return rc;
	}
	PQclear(r);
	while ((r = PQgetResult(p->c)))
		PQclear(r);
	return 0;
}

static int insert_count(trmx_pg *p, const char *sql, size_t *added, trmx_error *err)
{
	if (trmx_fault_hit(TRMX_FAULT_SQL)) {
		p->down = true;
		return trmx_error_set(err, TRMX_EIO, "%s: injected fault", p->shown);
	}
	PGresult *r = PQexec(p->c, sql);
	if (!r || PQresultStatus(r) != PGRES_COMMAND_OK)
		return pg_fail(p, r, NULL, err);
	*added += (size_t)strtoull(PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return 0;
}

int trmx_pg_write(trmx_pg *p, const char *runs, size_t runs_len, const char *feedback, size_t fb_len, size_t *added,
		  trmx_error *err)
{
	int rc;
	if (!p->c || PQstatus(p->c) != CONNECTION_OK) {
		p->down = true;
		return trmx_error_set(err, TRMX_EIO, "%s: not connected", p->shown);
	}
	if (!p->staged) {
		if ((rc = pg_command(p,
				     "CREATE TEMPORARY TABLE IF NOT EXISTS runs_in (LIKE runs) ON COMMIT DELETE ROWS;"
				     "CREATE TEMPORARY TABLE IF NOT EXISTS feedback_in (LIKE feedback) ON COMMIT DELETE ROWS",
				     err)) < 0)
			return rc;
		p->staged = true;
	}
	size_t n = 0;
	if ((rc = pg_command(p, "BEGIN", err)) < 0)
		return rc;
	if (runs_len) {
		size_t rows = 0;
		for (const char *c = runs; (c = memchr(c, '\n', runs_len - (size_t)(c - runs))); c++)
			rows++;
		if ((rc = copy_in(p, "runs_in", runs, runs_len, err)) < 0 ||
		    (rc = insert_count(p, "INSERT INTO runs SELECT * FROM runs_in ON CONFLICT (id) DO NOTHING", &n, err)) < 0)
			goto fail;
		/* an id already taken by another request (issue 24, item 7): refused, as log.db does;
		 * when every row was new, none can be */
		PGresult *r = n == rows ? NULL : trmx_pg_query(p,
					    "SELECT i.id FROM runs_in i JOIN runs r ON r.id = i.id WHERE NOT (r.kind = i.kind "
					    "AND r.input = i.input AND r.context IS NOT DISTINCT FROM i.context AND r.learner "
					    "IS NOT DISTINCT FROM i.learner AND r.target = i.target) LIMIT 1",
					    0, NULL, err);
		if (!r && n != rows) {
			rc = err->code;
			goto fail;
		}
		if (r && PQntuples(r)) {
			rc = trmx_error_set(err, TRMX_EEXIST,
					    "run id %s is already in the log for another request (another puzzle, context, "
					    "learner or target): a run id names one request; make a new one for this",
					    PQgetvalue(r, 0, 0));
			PQclear(r);
			goto fail;
		}
		if (r)
			PQclear(r);
	}
	if (fb_len && ((rc = copy_in(p, "feedback_in", feedback, fb_len, err)) < 0 ||
		       (rc = insert_count(p, "INSERT INTO feedback SELECT * FROM feedback_in ON CONFLICT (id) DO NOTHING",
					  &n, err)) < 0))
		goto fail;
	if ((rc = pg_command(p, "COMMIT", err)) < 0)
		goto fail;
	*added = n;
	return 0;
fail:
	trmx_pg_rollback(p);
	return rc;
}
