/*
 * sql.c — trmx_sql_query (trmx/report.h): one read-only statement over log.db
 * with registry.db attached as `registry` and the module databases the
 * statement names attached under their module names. Every file is opened
 * read-only (mode=ro), the connection is query_only, and an authorizer refuses
 * ATTACH, DETACH, writing PRAGMAs and load_extension(), so an analyst's
 * statement cannot change any database however it is written.
 */
#include <dirent.h>
#include <jansson.h>
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "analytics/analytics_int.h"

int trmx_sql_format_parse(const char *s, trmx_sql_format *out, trmx_error *err)
{
	static const char *const names[] = { "table", "csv", "json" };
	for (int i = 0; s && i < 3; i++)
		if (!strcmp(s, names[i])) {
			*out = (trmx_sql_format)i;
			return 0;
		}
	return trmx_error_set(err, TRMX_EINVAL, "'%s' is not an SQL output format: table, csv or json", s ? s : "");
}

/* Reading PRAGMAs an analyst may use (table_info and friends); every other
 * PRAGMA is refused. */
static bool pragma_reads(const char *name, const char *arg)
{
	static const char *const ok[] = { "table_info",	    "table_xinfo",	"index_list",	 "index_info",
					  "index_xinfo",    "foreign_key_list", "database_list", "user_version",
					  "schema_version", "page_count",	"page_size",	 "freelist_count",
					  "encoding",	    "collation_list",	"function_list", "pragma_list",
					  "table_list",	    "compile_options" };
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		if (!strcmp(name, ok[i]))
			return !arg || !strcmp(ok[i], "table_info") || !strcmp(ok[i], "table_xinfo") ||
			       !strncmp(ok[i], "index_", 6) || !strcmp(ok[i], "foreign_key_list") ||
			       !strcmp(ok[i], "table_list");
	return false;
}

static int authorize(void *user, int action, const char *a, const char *b, const char *db, const char *trigger)
{
	switch (action) {
	case SQLITE_SELECT:
	case SQLITE_READ:
	case SQLITE_RECURSIVE: return SQLITE_OK;
	case SQLITE_FUNCTION: {
		/* functions that reach outside the database (files, extensions, the shell's editor) or
		 * hand out and take C pointers (fts3_tokenizer) */
		static const char *const unsafe[] = { "load_extension", "readfile", "writefile", "edit", "fts3_tokenizer" };
		for (size_t i = 0; b && i < sizeof unsafe / sizeof *unsafe; i++)
			if (!sqlite3_stricmp(b, unsafe[i]))
				return SQLITE_DENY;
		return SQLITE_OK;
	}
	case SQLITE_PRAGMA: return a && pragma_reads(a, b) ? SQLITE_OK : SQLITE_DENY;
	default: return SQLITE_DENY; /* ATTACH, DETACH, writes, DDL, transactions */
	}
}

/* Attach HOME/<rel> read-only under `schema` (quoted as an identifier). */
static int attach(sqlite3 *db, const char *path, const char *schema, trmx_error *err)
{
	if (strpbrk(path, "?#%"))
		return trmx_error_set(err, TRMX_EINVAL, "%s: a path with '?', '#' or '%%' cannot be attached read-only",
				      path);
	char *sql = sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS \"%w\"", path, schema);
	if (!sql)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int rc = trmx_db_exec(db, sql, schema, err);
	sqlite3_free(sql);
	return rc;
}

/* Does `sql` mention `name` as a whole word (letters, digits, '_' and '-'
 * around it)? */
static bool mentions(const char *sql, const char *name)
{
	size_t n = strlen(name);
	for (const char *p = sql; (p = strstr(p, name)); p++) {
		char before = p == sql ? ' ' : p[-1], after = p[n];
		bool wb = !(before == '_' || before == '-' || (before >= '0' && before <= '9') ||
			    ((before | 32) >= 'a' && (before | 32) <= 'z'));
		bool wa = !(after == '_' || after == '-' || (after >= '0' && after <= '9') ||
			    ((after | 32) >= 'a' && (after | 32) <= 'z'));
		if (wb && wa)
			return true;
	}
	return false;
}

static int attach_all(sqlite3 *db, const char *home, const char *sql, trmx_error *err)
{
	char *path = trmx_xasprintf("%s/registry.db", home);
	struct stat st;
	int rc = 0;
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (stat(path, &st) == 0)
		rc = attach(db, path, "registry", err);
	free(path);
	if (rc < 0)
		return rc;
	char *dir = trmx_xasprintf("%s/data", home);
	if (!dir)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	DIR *d = opendir(dir);
	struct dirent *e;
	int attached = 0;
	while (d && rc == 0 && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 4 || strcmp(e->d_name + n - 3, ".db") || e->d_name[0] == '.')
			continue;
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(n - 3), e->d_name);
		if (!mentions(sql, name) || !strcmp(name, "main") || !strcmp(name, "temp") || !strcmp(name, "registry"))
			continue;
		if (++attached > 8) {
			rc = trmx_error_set(err, TRMX_ELIMIT, "a statement may name at most 8 module databases");
			break;
		}
		char *p = trmx_xasprintf("%s/%s", dir, e->d_name);
		rc = p ? attach(db, p, name, err) : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		free(p);
	}
	if (d)
		closedir(d);
	free(dir);
	return rc;
}

/* Is the rest of a statement only blanks, semicolons and comments? */
static bool only_blanks(const char *s)
{
	while (*s) {
		if (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r' || *s == ';') {
			s++;
		} else if (s[0] == '-' && s[1] == '-') {
			while (*s && *s != '\n')
				s++;
		} else if (s[0] == '/' && s[1] == '*') {
			const char *e = strstr(s + 2, "*/");
			if (!e)
				return true;
			s = e + 2;
		} else {
			return false;
		}
	}
	return true;
}

#define TABLE_ROWS_MAX 100000 /* rows a table output holds in memory to align its columns */

/* ---- The rows out, whichever database they come from ----------------------------------------- */

typedef enum cell_kind { CELL_NULL, CELL_INT, CELL_REAL, CELL_TEXT, CELL_BLOB } cell_kind;

typedef struct rows_out {
	trmx_sql_format format;
	FILE *f;
	int nc;
	char **names;  /* the columns' names (copies) */
	char **cells;  /* a table's cells, row after row, until the end aligns them */
	size_t ncells, cap;
	json_t *jrow;
	int64_t n;
} rows_out;

static int out_begin(rows_out *o, int nc, const char *const *names, trmx_error *err)
{
	o->nc = nc;
	if (!(o->names = calloc((size_t)nc + 1, sizeof *o->names)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	for (int i = 0; i < nc; i++)
		if (!(o->names[i] = strdup(names[i])))
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (o->format == TRMX_SQL_CSV) {
		for (int i = 0; i < nc; i++) {
			if (i)
				fputc(',', o->f);
			trmx__an_csv_field(o->f, names[i]);
		}
		fputc('\n', o->f);
	} else if (o->format == TRMX_SQL_JSON) {
		fputc('[', o->f);
	}
	return 0;
}

static int out_row_begin(rows_out *o, trmx_error *err)
{
	if (o->format == TRMX_SQL_JSON && !(o->jrow = json_object()))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (o->format != TRMX_SQL_TABLE)
		return 0;
	if (o->n >= TABLE_ROWS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "more than %d rows: use --format csv or json, or LIMIT",
				      TABLE_ROWS_MAX);
	if (o->ncells + (size_t)o->nc > o->cap) {
		size_t c2 = o->cap ? o->cap * 2 : 256;
		while (c2 < o->ncells + (size_t)o->nc)
			c2 *= 2;
		char **q = realloc(o->cells, c2 * sizeof *q);
		if (!q)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		o->cells = q;
		o->cap = c2;
	}
	return 0;
}

/* Cell i of the row: an integer, a real, text (len bytes) or a blob's size, or NULL. */
static int out_cell(rows_out *o, int i, cell_kind k, int64_t iv, double dv, const char *s, size_t len, trmx_error *err)
{
	FILE *f = o->f;
	if (o->format == TRMX_SQL_CSV) {
		if (i)
			fputc(',', f);
		if (k == CELL_REAL)
			fprintf(f, "%.17g", dv);
		else if (k == CELL_INT) /* a number: no formula quote */
			fprintf(f, "%lld", (long long)iv);
		else if (k != CELL_NULL)
			trmx__an_csv_field(f, s);
		if (i == o->nc - 1)
			fputc('\n', f);
		return 0;
	}
	if (o->format == TRMX_SQL_JSON) {
		json_t *v = k == CELL_INT ? json_integer(iv) : k == CELL_REAL ? json_real(dv)
			  : k == CELL_NULL ? json_null() : json_stringn(s, len);
		json_object_set_new(o->jrow, o->names[i], v ? v : json_null());
		return 0;
	}
	char buf[4096];
	switch (k) {
	case CELL_NULL: snprintf(buf, sizeof buf, "NULL"); break;
	case CELL_BLOB: snprintf(buf, sizeof buf, "<blob %zu bytes>", len); break;
	case CELL_REAL: snprintf(buf, sizeof buf, "%.6g", dv); break;
	case CELL_INT: snprintf(buf, sizeof buf, "%lld", (long long)iv); break;
	default: snprintf(buf, sizeof buf, "%s", s);
	}
	for (char *p = buf; *p; p++)
		if (*p == '\n' || *p == '\r' || *p == '\t')
			*p = ' ';
	if (!(o->cells[o->ncells++] = trmx_xstrdup(buf)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	return 0;
}

static void out_row_end(rows_out *o)
{
	if (o->format == TRMX_SQL_JSON) {
		fputs(o->n ? ",\n" : "\n", o->f);
		json_dumpf(o->jrow, o->f, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
		json_decref(o->jrow);
		o->jrow = NULL;
	}
	o->n++;
}

static int out_end(rows_out *o, trmx_error *err)
{
	FILE *f = o->f;
	int nc = o->nc;
	if (o->format == TRMX_SQL_JSON) {
		fputs(o->n ? "\n]\n" : "]\n", f);
	} else if (o->format == TRMX_SQL_TABLE) {
		size_t *w = calloc((size_t)nc + 1, sizeof *w);
		if (!w)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		for (int i = 0; i < nc; i++)
			w[i] = strlen(o->names[i]);
		for (size_t k = 0; k < o->ncells; k++)
			if (strlen(o->cells[k]) > w[k % (size_t)nc])
				w[k % (size_t)nc] = strlen(o->cells[k]);
		for (int i = 0; i < nc; i++)
			fprintf(f, "%s%-*s", i ? "  " : "", (int)w[i], o->names[i]);
		fputc('\n', f);
		for (int i = 0; i < nc; i++) {
			fputs(i ? "  " : "", f);
			for (size_t k = 0; k < w[i]; k++)
				fputc('-', f);
		}
		fputc('\n', f);
		for (size_t k = 0; k < o->ncells; k++) {
			int i = (int)(k % (size_t)nc);
			fprintf(f, "%s%-*s", i ? "  " : "", (int)w[i], o->cells[k]);
			if (i == nc - 1)
				fputc('\n', f);
		}
		fprintf(f, "(%lld row%s)\n", (long long)o->n, o->n == 1 ? "" : "s");
		free(w);
	}
	return trmx__an_check_stream(f, "the query's rows", err);
}

static void out_free(rows_out *o)
{
	for (size_t k = 0; k < o->ncells; k++)
		free(o->cells[k]);
	free(o->cells);
	for (int i = 0; o->names && i < o->nc; i++)
		free(o->names[i]);
	free(o->names);
	json_decref(o->jrow);
}

/* ---- PostgreSQL ---------------------------------------------------------------------------- */

/* A central log: the statement in a READ ONLY transaction with statement_timeout, its rows
 * streamed (single-row mode). The module databases and registry.db are this host's and not in
 * PostgreSQL: a statement there reads the log's tables and views only. */
static int pg_query(const char *url, const char *sql, rows_out *o, int timeout_ms, trmx_error *err)
{
	trmx_pg *p = NULL;
	int rc = trmx_pg_open(&p, url, true, err);
	if (rc < 0)
		goto done;
	char setup[160];
	snprintf(setup, sizeof setup,
		 "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; SET LOCAL statement_timeout = %d",
		 timeout_ms > 0 ? timeout_ms : TRMX_SQL_TIMEOUT_MS);
	if ((rc = trmx_pg_exec(p, setup, err)) < 0)
		goto done;
	PGconn *c = trmx_pg_conn(p);
	/* the extended protocol takes one statement only: a second is refused by the server */
	if (!PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0) || !PQsetSingleRowMode(c)) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: %s", trmx_pg_name(p), PQerrorMessage(c));
		goto done;
	}
	PGresult *r;
	bool begun = false;
	while ((r = PQgetResult(c))) {
		ExecStatusType s = PQresultStatus(r);
		if (s == PGRES_SINGLE_TUPLE || (s == PGRES_TUPLES_OK && !begun)) {
			int nc = PQnfields(r);
			if (!begun) {
				const char **names = calloc((size_t)nc + 1, sizeof *names);
				for (int i = 0; names && i < nc; i++)
					names[i] = PQfname(r, i);
				rc = names ? out_begin(o, nc, names, err) : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
				free(names);
				begun = true;
			}
			if (rc == 0 && s == PGRES_SINGLE_TUPLE && (rc = out_row_begin(o, err)) == 0) {
				for (int i = 0; i < nc && rc == 0; i++) {
					const char *v = PQgetvalue(r, 0, i);
					Oid t = PQftype(r, i);
					cell_kind k = PQgetisnull(r, 0, i) ? CELL_NULL
						: (t == 20 || t == 21 || t == 23) ? CELL_INT     /* int8, int2, int4 */
						: (t == 700 || t == 701 || t == 1700) ? CELL_REAL /* float4, float8, numeric */
						: t == 16 ? CELL_INT                             /* bool, as 1 or 0 */
						: CELL_TEXT;
					int64_t iv = t == 16 ? (*v == 't') : strtoll(v, NULL, 10);
					rc = out_cell(o, i, k, iv, strtod(v, NULL), v, (size_t)PQgetlength(r, 0, i), err);
				}
				if (rc == 0)
					out_row_end(o);
			}
		} else if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK && rc == 0) {
			const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
			const char *m = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
			if (st && !strcmp(st, "57014"))
				rc = trmx_error_set(err, TRMX_ELIMIT, "SQL: stopped after %.0f s (--timeout; %lld rows were written)",
						    (timeout_ms > 0 ? timeout_ms : TRMX_SQL_TIMEOUT_MS) / 1000.0, (long long)o->n);
			else if (st && !strcmp(st, "25006"))
				rc = trmx_error_set(err, TRMX_EINVAL,
						    "SQL: only statements that read are allowed (the transaction is read-only): %s",
						    m ? m : "");
			else
				rc = trmx_error_set(err, TRMX_EINVAL, "SQL: %s", m ? m : PQerrorMessage(c));
		}
		PQclear(r);
	}
	if (rc == 0 && !begun)
		rc = trmx_error_set(err, TRMX_EINVAL, "SQL: the statement returns no rows (only statements that read)");
	if (rc == 0)
		rc = out_end(o, err);
	trmx_pg_rollback(p);
done:
	trmx_pg_close(p);
	return rc;
}

/* The progress handler: stop the statement once its time is up. */
static int out_of_time(void *user)
{
	return trmx_mono_s() > *(const double *)user;
}

int trmx_sql_query(const char *home, const char *sql, trmx_sql_format format, int timeout_ms, FILE *f, int64_t *rows,
		   trmx_error *err)
{
	if (!home || !sql || !f)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sql_query: missing argument");
	if (only_blanks(sql))
		return trmx_error_set(err, TRMX_EINVAL, "no SQL statement given");
	rows_out o = { .format = format, .f = f };
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *url = NULL;
	int rc, s;
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0)
		goto done;
	if (url) {
		rc = pg_query(url, sql, &o, timeout_ms, err);
		goto done;
	}
	if ((rc = trmx__an_open_log(home, true, &db, NULL, err)) < 0 || (rc = attach_all(db, home, sql, err)) < 0 ||
	    (rc = trmx_db_exec(db, "PRAGMA query_only = 1", "log.db", err)) < 0)
		goto done;
	sqlite3_set_authorizer(db, authorize, NULL);
	/* one value (a string, a blob: zeroblob, printf's widths, replace) of at most
	 * TRMX_SQL_VALUE_MAX bytes, and a deadline checked every few thousand VM steps */
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, TRMX_SQL_VALUE_MAX);
	double deadline = trmx_mono_s() + (timeout_ms > 0 ? timeout_ms : TRMX_SQL_TIMEOUT_MS) / 1000.0;
	sqlite3_progress_handler(db, 4096, out_of_time, &deadline);
	const char *tail = NULL;
	if ((s = sqlite3_prepare_v2(db, sql, -1, &st, &tail)) != SQLITE_OK || !st) {
		if (s == SQLITE_AUTH)
			rc = trmx_error_set(err, TRMX_EINVAL,
					    "SQL: only statements that read are allowed (SELECT, "
					    "WITH, EXPLAIN; no ATTACH, "
					    "no writing PRAGMA): %s",
					    sqlite3_errmsg(db));
		else
			rc = trmx_error_set(err, TRMX_EINVAL, "SQL: %s",
					    s == SQLITE_OK ? "no statement" : sqlite3_errmsg(db));
		goto done;
	}
	if (tail && !only_blanks(tail)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "SQL: give one statement (more follows '%.40s')", tail);
		goto done;
	}
	if (!sqlite3_stmt_readonly(st)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "SQL: only statements that read are allowed (SELECT, WITH, EXPLAIN)");
		goto done;
	}
	int nc = sqlite3_column_count(st);
	{
		const char **names = calloc((size_t)nc + 1, sizeof *names);
		for (int i = 0; names && i < nc; i++)
			names[i] = sqlite3_column_name(st, i);
		rc = names ? out_begin(&o, nc, names, err) : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		free(names);
		if (rc < 0)
			goto done;
	}
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		if ((rc = out_row_begin(&o, err)) < 0)
			goto done;
		for (int i = 0; i < nc; i++) {
			int t = sqlite3_column_type(st, i);
			cell_kind k = t == SQLITE_NULL ? CELL_NULL : t == SQLITE_INTEGER ? CELL_INT : t == SQLITE_FLOAT ? CELL_REAL
				    : t == SQLITE_BLOB && format == TRMX_SQL_TABLE ? CELL_BLOB : CELL_TEXT;
			if ((rc = out_cell(&o, i, k, sqlite3_column_int64(st, i), sqlite3_column_double(st, i),
					   k == CELL_TEXT ? an_col(st, i) : NULL, (size_t)sqlite3_column_bytes(st, i), err)) < 0)
				goto done;
		}
		out_row_end(&o);
	}
	if (s == SQLITE_INTERRUPT) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "SQL: stopped after %.0f s (--timeout; %lld rows were written)",
				    (timeout_ms > 0 ? timeout_ms : TRMX_SQL_TIMEOUT_MS) / 1000.0, (long long)o.n);
		goto done;
	}
	if (s == SQLITE_TOOBIG || s == SQLITE_NOMEM) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "SQL: %s (a value may hold at most %d bytes; the query at most "
				    "the --memory given)", sqlite3_errmsg(db), TRMX_SQL_VALUE_MAX);
		goto done;
	}
	if (s != SQLITE_DONE) {
		rc = trmx_error_set(err, TRMX_EINVAL, "SQL: %s", sqlite3_errmsg(db));
		goto done;
	}
	rc = out_end(&o, err);
done:
	if (rc == 0 && rows)
		*rows = o.n;
	out_free(&o);
	free(url);
	sqlite3_finalize(st);
	if (db)
		sqlite3_close(db);
	return rc;
}
