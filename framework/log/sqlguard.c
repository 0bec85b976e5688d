/*
 * sqlguard.c — the module-SQL guard: a module's schema.sql, its migrations and the host's
 * module_exec run under an authorizer that lets them create and use their own tables, indexes
 * and views in their own database and nothing else: no triggers (they would run inside `trmx
 * erase` and `purge`, where one could keep a copy of the erased rows or never end: issue 24,
 * item 1), no ATTACH or DETACH, no PRAGMA but user_version, no temporary or virtual tables, no
 * transaction control, no VACUUM (INTO), no extension loading; the work and the size a script may
 * take are capped (limits.h). The registry's install (registry/moddb.c) and the package content
 * check (packager/contents.c: pack and verify refuse what install would) use the same guard.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log_int.h"


struct guard {
	char why[256];
	long ops;
};

static bool is_main(const char *db)
{
	return !db || !strcmp(db, "main");
}

static int deny(struct guard *g, const char *fmt, const char *a, const char *b)
{
	if (!g->why[0])
		snprintf(g->why, sizeof g->why, fmt, a ? a : "", b ? b : "");
	return SQLITE_DENY;
}

static int authorizer(void *user, int action, const char *a3, const char *a4, const char *db, const char *trigger)
{
	struct guard *g = user;
	switch (action) {
	case SQLITE_ATTACH:
	case SQLITE_DETACH: return deny(g, "ATTACH and DETACH are not allowed%s%s", NULL, NULL);
	case SQLITE_PRAGMA:
		if (a3 && !sqlite3_stricmp(a3, "user_version") && is_main(db))
			return SQLITE_OK;
		return deny(g, "PRAGMA %s is not allowed (only PRAGMA user_version)%s", a3, NULL);
	case SQLITE_FUNCTION:
		if (a4 && (!sqlite3_stricmp(a4, "load_extension") || !sqlite3_stricmp(a4, "fts3_tokenizer") ||
			   !sqlite3_stricmp(a4, "readfile") || !sqlite3_stricmp(a4, "writefile")))
			return deny(g, "the function %s() is not allowed%s", a4, NULL);
		return SQLITE_OK;
	case SQLITE_TRANSACTION:
	case SQLITE_SAVEPOINT:
		return deny(g, "transaction control is not allowed (the registry runs the script in its own transaction)%s%s",
			    NULL, NULL);
	case SQLITE_CREATE_VTABLE:
	case SQLITE_DROP_VTABLE: return deny(g, "virtual tables are not allowed (%s)%s", a3, NULL);
	case SQLITE_CREATE_TEMP_INDEX:
	case SQLITE_CREATE_TEMP_TABLE:
	case SQLITE_CREATE_TEMP_TRIGGER:
	case SQLITE_CREATE_TEMP_VIEW:
	case SQLITE_DROP_TEMP_INDEX:
	case SQLITE_DROP_TEMP_TABLE:
	case SQLITE_DROP_TEMP_TRIGGER:
	case SQLITE_DROP_TEMP_VIEW: return deny(g, "temporary objects are not allowed (%s)%s", a3, NULL);
	case SQLITE_CREATE_TRIGGER:
		/* A view cannot change anything without an INSTEAD OF trigger, so refusing triggers is
		 * what keeps module SQL free of side effects; DROP TRIGGER stays, for a migration that
		 * removes one an older trmx accepted. */
		return deny(g, "triggers are not allowed (%s): a trigger would run inside trmx erase and purge%s", a3, NULL);
	case SQLITE_CREATE_INDEX:
	case SQLITE_CREATE_TABLE:
	case SQLITE_CREATE_VIEW:
	case SQLITE_DROP_INDEX:
	case SQLITE_DROP_TABLE:
	case SQLITE_DROP_TRIGGER:
	case SQLITE_DROP_VIEW:
	case SQLITE_ALTER_TABLE:
	case SQLITE_INSERT:
	case SQLITE_UPDATE:
	case SQLITE_DELETE:
	case SQLITE_READ:
	case SQLITE_REINDEX:
	case SQLITE_ANALYZE:
		if (!is_main(db))
			return deny(g, "only the module's own database may be used, not '%s' (%s)", db, a3);
		return SQLITE_OK;
	case SQLITE_SELECT:
	case SQLITE_RECURSIVE: return SQLITE_OK;
	default: return deny(g, "statement kind %s%s is not allowed", a3 ? a3 : "?", NULL);
	}
}

static int progress(void *user)
{
	struct guard *g = user;
	g->ops += 1000;
	if (g->ops > TRMX_MODULE_SQL_OPS_MAX) {
		if (!g->why[0])
			snprintf(g->why, sizeof g->why, "the script ran more than TRMX_MODULE_SQL_OPS_MAX (%ld) instructions",
				 TRMX_MODULE_SQL_OPS_MAX);
		return 1;
	}
	return 0;
}

/* Skip white space and comments; count lines. */
static const char *skip_space(const char *p, int *line)
{
	for (;;) {
		while (isspace((unsigned char)*p)) {
			if (*p == '\n')
				(*line)++;
			p++;
		}
		if (p[0] == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				p++;
		} else if (p[0] == '/' && p[1] == '*') {
			p += 2;
			while (*p && !(p[0] == '*' && p[1] == '/')) {
				if (*p == '\n')
					(*line)++;
				p++;
			}
			if (*p)
				p += 2;
		} else {
			return p;
		}
	}
}

/* Statements a module's SQL may be made of, by their first keyword. */
static bool keyword_allowed(const char *p, char *word, size_t cap)
{
	static const char *const ok[] = { "CREATE", "DROP", "ALTER", "INSERT", "UPDATE", "DELETE", "REPLACE",
					  "SELECT", "WITH", "VALUES", "PRAGMA", "REINDEX", "ANALYZE" };
	size_t n = 0;
	while (isalpha((unsigned char)p[n]) && n + 1 < cap) {
		word[n] = (char)toupper((unsigned char)p[n]);
		n++;
	}
	word[n] = 0;
	for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
		if (!strcmp(word, ok[i]))
			return true;
	return false;
}

int trmx_sqlguard_exec(sqlite3 *db, const char *sql, const char *what, trmx_error *err)
{
	struct guard g = { "", 0 };
	const char *p = sql;
	int line = 1, rc = 0;
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 16 * 1024 * 1024);
	sqlite3_set_authorizer(db, authorizer, &g);
	sqlite3_progress_handler(db, 1000, progress, &g);
	for (;;) {
		p = skip_space(p, &line);
		if (!*p)
			break;
		int at = line;
		char word[16];
		if (*p == ';') {
			p++;
			continue;
		}
		if (!keyword_allowed(p, word, sizeof word)) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    "%s:%d: %s statements are not allowed (a module's SQL may only create and use its own "
					    "tables and views)", what, at, word[0] ? word : "such");
			break;
		}
		sqlite3_stmt *st = NULL;
		const char *tail = NULL;
		int s = sqlite3_prepare_v2(db, p, -1, &st, &tail);
		if (s != SQLITE_OK) {
			if (g.why[0])
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s:%d: %s (a module's SQL may only create and use its own "
						    "tables and views)", what, at, g.why);
			else
				rc = trmx_error_set(err, s == SQLITE_NOMEM ? TRMX_ENOMEM : TRMX_EFORMAT, "%s:%d: %s", what, at,
						    sqlite3_errmsg(db));
			break;
		}
		while ((s = trmx_db_step(st)) == SQLITE_ROW)
			;
		if (s != SQLITE_DONE) {
			if (g.why[0])
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s:%d: %s", what, at, g.why);
			else
				rc = trmx_db_error(db, s, what, err), trmx_error_prefix(err, "%s:%d", what, at);
			sqlite3_finalize(st);
			break;
		}
		sqlite3_finalize(st);
		for (const char *q = p; q < tail; q++)
			line += *q == '\n';
		p = tail;
	}
	sqlite3_progress_handler(db, 0, NULL, NULL);
	sqlite3_set_authorizer(db, NULL, NULL);
	return rc;
}

int trmx_sqlguard_exec1(sqlite3 *db, const char *sql, const char *const *params, size_t nparams, const char *what,
			trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	struct guard g = { "", 0 };
	int line = 1, rc = 0;
	char word[16];
	const char *p = skip_space(sql, &line), *tail = NULL;
	if (!keyword_allowed(p, word, sizeof word))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: %s statements are not allowed", what, word[0] ? word : "such");
	sqlite3_set_authorizer(db, authorizer, &g);
	sqlite3_progress_handler(db, 1000, progress, &g);
	int s = sqlite3_prepare_v2(db, p, -1, &st, &tail);
	if (s != SQLITE_OK) {
		rc = g.why[0] ? trmx_error_set(err, TRMX_EFORMAT, "%s: %s", what, g.why)
			      : trmx_error_set(err, TRMX_EFORMAT, "%s: %s", what, sqlite3_errmsg(db));
		goto done;
	}
	if (*skip_space(tail, &line)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "%s: one statement at a time", what);
		goto done;
	}
	for (size_t i = 0; i < nparams; i++)
		trmx_db_bind_text(st, (int)i + 1, params[i]);
	while ((s = trmx_db_step(st)) == SQLITE_ROW)
		;
	if (s != SQLITE_DONE)
		rc = g.why[0] ? trmx_error_set(err, TRMX_EFORMAT, "%s: %s", what, g.why) : trmx_db_error(db, s, what, err);
done:
	sqlite3_finalize(st);
	sqlite3_progress_handler(db, 0, NULL, NULL);
	sqlite3_set_authorizer(db, NULL, NULL);
	return rc;
}

int trmx_sqlguard_run_file(sqlite3 *db, const char *path, const char *what, trmx_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = trmx_read_file(path, TRMX_MODULE_SQL_MAX, "TRMX_MODULE_SQL_MAX", 0, &text, &len, err);
	if (rc < 0)
		return rc;
	if (strlen(text) != len)
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: a NUL byte in SQL text", what);
	else
		rc = trmx_sqlguard_exec(db, text, what, err);
	free(text);
	return rc;
}

/* Cap the database's size while a script runs (not persistent). */
int trmx_sqlguard_cap_size(sqlite3 *db, trmx_error *err)
{
	int64_t page = 0;
	int rc = trmx_db_int64(db, "PRAGMA page_size", &page, "module database", err);
	if (rc < 0)
		return rc;
	char sql[96];
	snprintf(sql, sizeof sql, "PRAGMA max_page_count = %lld",
		 (long long)(TRMX_MODULE_DB_INSTALL_MAX / (uint64_t)(page > 0 ? page : 4096)));
	return trmx_db_exec(db, sql, "module database", err);
}

int trmx_sqlguard_check_file(const char *path, const char *what, trmx_error *err)
{
	/* the same guard and the same caps as an install, into a database that lives in memory */
	sqlite3 *db = NULL;
	int rc, s = sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
	if (s != SQLITE_OK)
		rc = trmx_error_set(err, s == SQLITE_NOMEM ? TRMX_ENOMEM : TRMX_ERROR, "cannot open a database in memory: %s",
				    db ? sqlite3_errmsg(db) : sqlite3_errstr(s));
	else if ((rc = trmx_sqlguard_cap_size(db, err)) == 0)
		rc = trmx_sqlguard_run_file(db, path, what, err);
	sqlite3_close(db);
	return rc;
}
