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

static void cell_text(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
	switch (sqlite3_column_type(st, i)) {
	case SQLITE_NULL: snprintf(buf, cap, "NULL"); break;
	case SQLITE_BLOB: snprintf(buf, cap, "<blob %d bytes>", sqlite3_column_bytes(st, i)); break;
	case SQLITE_FLOAT: snprintf(buf, cap, "%.6g", sqlite3_column_double(st, i)); break;
	default: snprintf(buf, cap, "%s", an_col(st, i));
	}
}

#define TABLE_ROWS_MAX 100000 /* rows a table output holds in memory to align its columns */

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
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char **cells = NULL;
	size_t ncells = 0, cap = 0;
	int64_t n = 0;
	int rc, s;
	if ((rc = an_open_log(home, true, &db, NULL, err)) < 0 || (rc = attach_all(db, home, sql, err)) < 0 ||
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
	json_t *jrow = NULL;
	if (format == TRMX_SQL_CSV) {
		for (int i = 0; i < nc; i++) {
			if (i)
				fputc(',', f);
			an_csv_field(f, sqlite3_column_name(st, i));
		}
		fputc('\n', f);
	} else if (format == TRMX_SQL_JSON) {
		fputc('[', f);
	}
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		if (format == TRMX_SQL_CSV) {
			for (int i = 0; i < nc; i++) {
				if (i)
					fputc(',', f);
				if (sqlite3_column_type(st, i) == SQLITE_FLOAT)
					fprintf(f, "%.17g", sqlite3_column_double(st, i));
				else if (sqlite3_column_type(st, i) != SQLITE_NULL)
					an_csv_field(f, an_col(st, i));
			}
			fputc('\n', f);
		} else if (format == TRMX_SQL_JSON) {
			jrow = json_object();
			for (int i = 0; i < nc && jrow; i++) {
				json_t *v;
				switch (sqlite3_column_type(st, i)) {
				case SQLITE_INTEGER: v = json_integer(sqlite3_column_int64(st, i)); break;
				case SQLITE_FLOAT: v = json_real(sqlite3_column_double(st, i)); break;
				case SQLITE_NULL: v = json_null(); break;
				default: v = json_stringn(an_col(st, i), (size_t)sqlite3_column_bytes(st, i));
				}
				json_object_set_new(jrow, sqlite3_column_name(st, i), v ? v : json_null());
			}
			if (!jrow) {
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
				goto done;
			}
			fputs(n ? ",\n" : "\n", f);
			json_dumpf(jrow, f, JSON_COMPACT | JSON_REAL_PRECISION(17) | JSON_PRESERVE_ORDER);
			json_decref(jrow);
		} else {
			if (n >= TABLE_ROWS_MAX) {
				rc = trmx_error_set(err, TRMX_ELIMIT,
						    "more than %d rows: use --format csv or json, or LIMIT", TABLE_ROWS_MAX);
				goto done;
			}
			if (ncells + (size_t)nc > cap) {
				size_t c2 = cap ? cap * 2 : 256;
				while (c2 < ncells + (size_t)nc)
					c2 *= 2;
				char **q = realloc(cells, c2 * sizeof *q);
				if (!q) {
					rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
					goto done;
				}
				cells = q;
				cap = c2;
			}
			for (int i = 0; i < nc; i++) {
				char buf[4096];
				cell_text(st, i, buf, sizeof buf);
				for (char *p = buf; *p; p++)
					if (*p == '\n' || *p == '\r' || *p == '\t')
						*p = ' ';
				if (!(cells[ncells++] = trmx_xstrdup(buf))) {
					rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
					goto done;
				}
			}
		}
		n++;
	}
	if (s == SQLITE_INTERRUPT) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "SQL: stopped after %.0f s (--timeout; %lld rows were written)",
				    (timeout_ms > 0 ? timeout_ms : TRMX_SQL_TIMEOUT_MS) / 1000.0, (long long)n);
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
	if (format == TRMX_SQL_JSON) {
		fputs(n ? "\n]\n" : "]\n", f);
	} else if (format == TRMX_SQL_TABLE) {
		size_t *w = calloc((size_t)nc + 1, sizeof *w);
		if (!w) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		for (int i = 0; i < nc; i++)
			w[i] = strlen(sqlite3_column_name(st, i));
		for (size_t k = 0; k < ncells; k++)
			if (strlen(cells[k]) > w[k % (size_t)nc])
				w[k % (size_t)nc] = strlen(cells[k]);
		for (int i = 0; i < nc; i++)
			fprintf(f, "%s%-*s", i ? "  " : "", (int)w[i], sqlite3_column_name(st, i));
		fputc('\n', f);
		for (int i = 0; i < nc; i++) {
			fputs(i ? "  " : "", f);
			for (size_t k = 0; k < w[i]; k++)
				fputc('-', f);
		}
		fputc('\n', f);
		for (size_t k = 0; k < ncells; k++) {
			int i = (int)(k % (size_t)nc);
			fprintf(f, "%s%-*s", i ? "  " : "", (int)w[i], cells[k]);
			if (i == nc - 1)
				fputc('\n', f);
		}
		fprintf(f, "(%lld row%s)\n", (long long)n, n == 1 ? "" : "s");
		free(w);
	}
	if ((rc = an_check_stream(f, "the query's rows", err)) < 0)
		goto done;
	if (rows)
		*rows = n;
	rc = 0;
done:
	for (size_t k = 0; k < ncells; k++)
		free(cells[k]);
	free(cells);
	sqlite3_finalize(st);
	if (db)
		sqlite3_close(db);
	return rc;
}
