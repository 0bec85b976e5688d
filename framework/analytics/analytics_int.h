/*
 * analytics_int.h — inside framework/analytics/ (trmx/report.h): opening the
 * log for analysts, filters turned into SQL, a string-keyed hash map, growable
 * text, and the escaping of CSV, JSON and XML text. Not installed. Relies on
 * log/log_int.h for the SQLite helpers.
 */
#ifndef TRMX_ANALYTICS_INT_H
#define TRMX_ANALYTICS_INT_H

#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log/log_int.h"
#include "trmx/report.h"

/* ---- Opening the log
 * ------------------------------------------------------------------------ */

/* HOME/log.db brought to the newest schema (migrations applied), then, with
 * `readonly`, opened again read-only. TRMX_ENOTFOUND when the home has no log.
 * *path_out (may be NULL) gets the path (malloc'd). */
int trmx__an_open_log(const char *home, bool readonly, sqlite3 **out, char **path_out, trmx_error *err);

/* ---- Erase and purge (erase.c, erase_pg.c)
 * ------------------------------------------------------------------------ */

/* Every module database of HOME/data: rows of the runs concerned (the runs of `runs_db`, a
 * SQLite file attached read-only with a table runs (id, learner, time): log.db or a scratch
 * copy), or holding the learner's pseudonym; res->module_rows and ->databases grow. */
int trmx__an_erase_modules(const char *home, const char *runs_db, bool by_learner, const char *key, bool dry,
			   trmx_erase_result *res, trmx_error *err);
/* The runs concerned and their feedback in a log of log.db's schema (log.db, an outbox), in the
 * caller's transaction; res->runs and ->feedback grow. */
int trmx__an_erase_log_rows(sqlite3 *db, const char *what, bool by_learner, const char *key, bool dry,
			    trmx_erase_result *res, trmx_error *err);
/* VACUUM and truncate the write-ahead log: no freed page keeps what was deleted. */
int trmx__an_compact(sqlite3 *db, const char *name, trmx_error *err);
/* Erase or purge with a central log at `url` (erase_pg.c). */
int trmx__an_erase_central(const char *home, const char *url, bool by_learner, const char *key, const char *criterion,
			   bool dry, trmx_erase_result *result, trmx_error *err);

/* ---- xAPI statements one at a time (export.c, for lrs.c)
 * ---------------------------------------------- */

/* The IRIs of a base and the statements that read one run or feedback row by
 * id, prepared on one connection. */
typedef struct an_xapi {
	char base[256], ext[320], learners[320];
	sqlite3_stmt *run, *feedback;
	trmx_pg *pg; /* a central log's connection (borrowed), else the statements above on log.db */
} an_xapi;

/* Check `base` (NULL: the default) and prepare on `db`, or read from the central log `pg` (one of
 * the two is NULL). TRMX_EINVAL for a bad base. */
int trmx__an_xapi_init(an_xapi *x, sqlite3 *db, trmx_pg *pg, const char *base, trmx_error *err);
void trmx__an_xapi_clear(an_xapi *x);
/* The statement of the run (or, with `feedback`, the feedback row) `id`, as
 * `trmx export xapi` writes it, into *json (malloc'd, NULL when the row is
 * gone); run_id gets the run's id. */
int trmx__an_xapi_statement(an_xapi *x, sqlite3 *db, bool feedback, const char *id, char **json, char run_id[TRMX_UUID_SIZE],
			    trmx_error *err);

/* ---- Rows from either database
 * ------------------------------------------------------------------------ */

/* One row of a query, from log.db (a statement on its row), a central log (row i of a fetched
 * block) or a central log's binary COPY (fields v, lengths len: numbers in network byte order):
 * the report's fold and the xAPI statements read any of them the same way. */
typedef struct rrow {
	sqlite3_stmt *st;
	PGresult *pg;
	int i;
	const char *const *v;
	const int *len;
} rrow;

static inline uint64_t r_be(const char *b, int n)
{
	uint64_t x = 0;
	for (int k = 0; k < n; k++)
		x = x << 8 | (unsigned char)b[k];
	return x;
}

static inline bool r_null(const rrow *r, int c)
{
	if (r->v)
		return !r->v[c];
	return r->st ? sqlite3_column_type(r->st, c) == SQLITE_NULL : PQgetisnull(r->pg, r->i, c);
}

static inline const char *r_text(const rrow *r, int c)
{
	if (r->v)
		return r->v[c] ? r->v[c] : "";
	if (r->st) {
		const unsigned char *t = sqlite3_column_text(r->st, c);
		return t ? (const char *)t : "";
	}
	return PQgetvalue(r->pg, r->i, c);
}

static inline size_t r_len(const rrow *r, int c)
{
	if (r->v)
		return (size_t)r->len[c];
	return r->st ? (size_t)sqlite3_column_bytes(r->st, c) : (size_t)PQgetlength(r->pg, r->i, c);
}

/* COPY's integer and bigint (4 or 8 bytes, two's complement) */
static inline int64_t r_int(const rrow *r, int c)
{
	if (r->v)
		return !r->v[c] ? 0 : r->len[c] == 4 ? (int32_t)(uint32_t)r_be(r->v[c], 4) : (int64_t)r_be(r->v[c], 8);
	return r->st ? sqlite3_column_int64(r->st, c) : strtoll(PQgetvalue(r->pg, r->i, c), NULL, 10);
}

/* COPY's double precision (8 bytes, IEEE 754) */
static inline double r_double(const rrow *r, int c)
{
	if (r->v) {
		uint64_t b = r->v[c] && r->len[c] == 8 ? r_be(r->v[c], 8) : 0;
		double d;
		memcpy(&d, &b, sizeof d);
		return d;
	}
	return r->st ? sqlite3_column_double(r->st, c) : strtod(PQgetvalue(r->pg, r->i, c), NULL);
}

/* ---- Filters
 * -------------------------------------------------------------------------------
 */

/* The conditions on runs (alias r) as SQL, with ?1.. bound by trmx__an_filter_bind in
 * the same order: context ("" : IS NULL), module, time at or after since, time
 * before until, learner (a pseudonym), kinds. */
typedef struct an_filter {
	const char *context, *module;
	const char *learner; /* a pseudonym; NULL: every learner */
	int64_t since_ms, until_ms;
	unsigned int kinds; /* TRMX_REPORT_KIND_*; 0 or ALL: no condition */
	char since[32], until[32];
} an_filter;

/* Append " AND ..." for every filter to `b` (a WHERE clause must precede:
 * "WHERE 1"). */
void trmx__an_filter_sql(an_filter *f, trmx_buf *b, const char *time_column);
/* The same values as text parameters for PostgreSQL ($1.. in trmx__an_filter_sql's order; a context
 * prefix is copied into `prefix`); their count. */
int trmx__an_filter_params(const an_filter *f, const char **params, char *prefix, size_t cap);
/* Bind the values in the order trmx__an_filter_sql wrote them, from ?first; the next
 * free index. */
int trmx__an_filter_bind(const an_filter *f, sqlite3_stmt *st, int first);

/* ---- A map from strings to indexes
 * ------------------------------------------------------------ */

typedef struct an_map {
	char **keys;
	size_t *lens;
	size_t *vals;
	uint64_t *hashes;
	size_t cap, n;
} an_map;

uint64_t trmx__an_hash(const void *data, size_t n);
/* The index stored under `key` (n bytes, which may include NULs), or SIZE_MAX.
 */
size_t trmx__an_map_get(const an_map *m, const char *key, size_t n, uint64_t h);
/* Store `val` under a copy of `key`; -1 on out of memory. */
int trmx__an_map_put(an_map *m, const char *key, size_t n, uint64_t h, size_t val);
void trmx__an_map_free(an_map *m);

/* ---- Escaping
 * ---------------------------------------------------------------------------------
 */

/* A CSV text field (RFC 4180: quoted when it holds a comma, a quote or a line
 * break). A text that begins with =, +, -, @, a tab or a carriage return is
 * written as '"'TEXT"' (a single quote first, OWASP's advice against CSV
 * injection: a spreadsheet would run it as a formula); numbers are written by
 * their callers with printf and never get the quote, so a negative number
 * stays a number. */
void trmx__an_csv_field(FILE *f, const char *s);
/* Would a spreadsheet take this text cell for a formula? */
bool trmx__an_csv_formula(const char *s);
/* XML/HTML text or attribute value. */
void trmx__an_xml_text(FILE *f, const char *s);

/* The version of a statement's column as text ("" for NULL). */
static inline const char *an_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "";
}

/* Fail with TRMX_EIO when a stream has an error. */
int trmx__an_check_stream(FILE *f, const char *what, trmx_error *err);

#endif
