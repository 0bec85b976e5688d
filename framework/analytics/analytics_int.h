/*
 * analytics_int.h — inside framework/analytics/ (trmx/report.h): opening the
 * log for analysts, filters turned into SQL, a string-keyed hash map, growable
 * text, and the escaping of CSV, JSON and XML text. Not installed. Relies on
 * log/log_int.h for the SQLite helpers.
 */
#ifndef TRMX_ANALYTICS_INT_H
#define TRMX_ANALYTICS_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "log/log_int.h"
#include "trmx/report.h"

/* ---- Opening the log
 * ------------------------------------------------------------------------ */

/* HOME/log.db brought to the newest schema (migrations applied), then, with
 * `readonly`, opened again read-only. TRMX_ENOTFOUND when the home has no log.
 * *path_out (may be NULL) gets the path (malloc'd). */
int an_open_log(const char *home, bool readonly, sqlite3 **out, char **path_out, trmx_error *err);

/* ---- xAPI statements one at a time (export.c, for lrs.c)
 * ---------------------------------------------- */

/* The IRIs of a base and the statements that read one run or feedback row by
 * id, prepared on one connection. */
typedef struct an_xapi {
	char base[256], ext[320], learners[320];
	sqlite3_stmt *run, *feedback;
} an_xapi;

/* Check `base` (NULL: the default) and prepare on `db`. TRMX_EINVAL for a bad
 * base. */
int an_xapi_init(an_xapi *x, sqlite3 *db, const char *base, trmx_error *err);
void an_xapi_clear(an_xapi *x);
/* The statement of the run (or, with `feedback`, the feedback row) `id`, as
 * `trmx export xapi` writes it, into *json (malloc'd, NULL when the row is
 * gone); run_id gets the run's id. */
int an_xapi_statement(an_xapi *x, sqlite3 *db, bool feedback, const char *id, char **json,
		      char run_id[TRMX_UUID_SIZE], trmx_error *err);

/* ---- Growable text
 * -------------------------------------------------------------------------- */

typedef struct an_buf {
	char *s;
	size_t n, cap;
	bool failed; /* an allocation failed: the text is cut */
} an_buf;

void an_buf_put(an_buf *b, const char *s);
void an_buf_putn(an_buf *b, const char *s, size_t n);
void an_buf_printf(an_buf *b, const char *fmt, ...) TRMX_PRINTF(2, 3);
void an_buf_free(an_buf *b);

/* ---- Filters
 * -------------------------------------------------------------------------------
 */

/* The conditions on runs (alias r) as SQL, with ?1.. bound by an_filter_bind in
 * the same order: context ("" : IS NULL), module, time at or after since, time
 * before until, kinds. */
typedef struct an_filter {
	const char *context, *module;
	int64_t since_ms, until_ms;
	unsigned int kinds; /* TRMX_REPORT_KIND_*; 0 or ALL: no condition */
	char since[32], until[32];
} an_filter;

/* Append " AND ..." for every filter to `b` (a WHERE clause must precede:
 * "WHERE 1"). */
void an_filter_sql(an_filter *f, an_buf *b, const char *time_column);
/* Bind the values in the order an_filter_sql wrote them, from ?first; the next
 * free index. */
int an_filter_bind(const an_filter *f, sqlite3_stmt *st, int first);

/* ---- A map from strings to indexes
 * ------------------------------------------------------------ */

typedef struct an_map {
	char **keys;
	size_t *lens;
	size_t *vals;
	uint64_t *hashes;
	size_t cap, n;
} an_map;

uint64_t an_hash(const void *data, size_t n);
/* The index stored under `key` (n bytes, which may include NULs), or SIZE_MAX.
 */
size_t an_map_get(const an_map *m, const char *key, size_t n, uint64_t h);
/* Store `val` under a copy of `key`; -1 on out of memory. */
int an_map_put(an_map *m, const char *key, size_t n, uint64_t h, size_t val);
void an_map_free(an_map *m);

/* ---- Escaping
 * ---------------------------------------------------------------------------------
 */

/* A CSV field (RFC 4180: quoted when it holds a comma, a quote or a line
 * break). */
void an_csv_field(FILE *f, const char *s);
/* XML/HTML text or attribute value. */
void an_xml_text(FILE *f, const char *s);
void an_buf_xml(an_buf *b, const char *s);

/* The version of a statement's column as text ("" for NULL). */
static inline const char *an_col(sqlite3_stmt *st, int i)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	return s ? (const char *)s : "";
}

/* Fail with TRMX_EIO when a stream has an error. */
int an_check_stream(FILE *f, const char *what, trmx_error *err);

#endif
