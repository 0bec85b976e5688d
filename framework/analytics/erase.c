/*
 * erase.c — privacy and retention (trmx/report.h): erase a learner (by
 * pseudonym) or purge runs older than a cutoff, in log.db and in every module
 * database. Module databases go first, each in its own transaction, with log.db
 * attached read-only to find the runs; then log.db in one transaction that also
 * appends the record to `erasures` (counts, never content). Deleted content is
 * overwritten (secure_delete), each database is then rebuilt (VACUUM) and its
 * write-ahead log checkpointed and truncated. secure_delete alone was not
 * enough: CI once found an erased pseudonym in log.db (the test passed 40 of
 * 40 runs here; the file holds exactly the live copies before the erase). The
 * likely cause: secure_delete zeroes a cell where it lies, but a rebalance in
 * the middle of a DELETE moves cells not yet deleted and leaves their old bytes
 * in the unused middle of the page.
 *
 * A module database is the module author's SQL (issue 24, item 1): its connection here runs with
 * triggers and views disabled (SQLITE_DBCONFIG_ENABLE_TRIGGER/VIEW), defensive and with untrusted
 * schemas, so that an AFTER DELETE trigger an older trmx accepted can neither copy the erased
 * rows into another table nor make the erase run forever; and after a learner's rows are deleted
 * no text in any table may still hold the pseudonym, or the erase of that database is rolled back
 * and refused (a column other than `learner` holding it would otherwise be kept silently).
 */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"

/* The runs concerned, as SQL over a schema name (`log` in a module database,
 * `main` in log.db). */
static char *runs_where(const char *schema, bool by_learner)
{
	return by_learner ? trmx_xasprintf("SELECT id FROM %s.runs WHERE learner = ?1", schema)
			  : trmx_xasprintf("SELECT id FROM %s.runs WHERE time < ?1", schema);
}

static bool has_column(sqlite3 *db, const char *table, const char *column)
{
	sqlite3_stmt *st = NULL;
	bool found = false;
	char *sql = sqlite3_mprintf("SELECT 1 FROM pragma_table_info(%Q) WHERE name = %Q", table, column);
	if (sql && sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		found = true;
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return found;
}

/* After an erasure committed: rebuild the database so that no freed page or
 * unused part of a page keeps what was deleted, then move everything out of
 * the write-ahead log and truncate it. A failure is reported; running the
 * erasure again (it finds nothing and compacts again) finishes it. */
static int compact(sqlite3 *db, const char *name, trmx_error *err)
{
	int rc = trmx_db_exec(db, "VACUUM main", name, err);
	if (rc == 0)
		sqlite3_exec(db, "PRAGMA main.wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
	return rc;
}

/* Run `sql` (bound ?1 = key) counting rows: a DELETE's changes, or a SELECT
 * count(*)'s value. */
static int count_or_delete(sqlite3 *db, const char *sql, const char *key, bool dry, int64_t *n, const char *what,
			   trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(db, sql, &st, what, err), s;
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, key);
	s = trmx_db_step(st);
	if (dry && s == SQLITE_ROW) {
		*n += sqlite3_column_int64(st, 0);
		s = SQLITE_DONE;
	} else if (!dry && s == SQLITE_DONE) {
		*n += sqlite3_changes(db);
	}
	if (s != SQLITE_DONE)
		rc = trmx_db_error(db, s, what, err);
	sqlite3_finalize(st);
	return rc;
}

/* After a learner's rows were deleted: does any text of any table still hold
 * the pseudonym? 1 (the table named in err), 0, or an error. */
static int pseudonym_left(sqlite3 *db, char **tables, size_t nt, const char *key, const char *name, trmx_error *err)
{
	for (size_t i = 0; i < nt; i++) {
		sqlite3_stmt *st = NULL;
		char *cols = sqlite3_mprintf("SELECT name FROM pragma_table_info(%Q)", tables[i]), *where = NULL;
		int rc = cols ? trmx_db_prepare(db, cols, &st, name, err) : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		sqlite3_free(cols);
		if (rc < 0)
			return rc;
		while (rc == 0 && trmx_db_step(st) == SQLITE_ROW) {
			char *w = sqlite3_mprintf("%z%sinstr(CAST(\"%w\" AS TEXT), ?1) > 0", where, where ? " OR " : "",
						  an_col(st, 0));
			if (!w)
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			where = w;
		}
		sqlite3_finalize(st);
		st = NULL;
		char *q = rc == 0 && where ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE %s", tables[i], where) : NULL;
		sqlite3_free(where);
		if (rc < 0)
			return rc;
		if (!q)
			continue;
		int64_t n = 0;
		rc = count_or_delete(db, q, key, true, &n, name, err);
		sqlite3_free(q);
		if (rc < 0)
			return rc;
		if (n > 0) {
			trmx_error_set(err, TRMX_EINTEGRITY,
				       "%s: %lld row%s of table %s still hold the learner's pseudonym after the erase (in a column "
				       "other than learner); nothing was erased from %s and the erase stopped: delete them by "
				       "hand or ask the module's author", name, (long long)n, n == 1 ? "" : "s", tables[i], name);
			return 1;
		}
	}
	return 0;
}

/* One module database: every table with a run_id column (rows of the runs
 * concerned) or, when erasing a learner, a learner column (rows holding the
 * pseudonym). */
static int erase_module(const char *path, const char *log_path, const char *name, bool by_learner, const char *key, bool dry,
			int64_t *rows, trmx_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char **tables = NULL;
	size_t nt = 0;
	int rc = 0, s;
	char *runs = runs_where("log", by_learner), *att = NULL;
	if (!runs)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if ((s = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_URI, NULL)) != SQLITE_OK) {
		rc = trmx_db_error(db, s, name, err);
		goto done;
	}
	sqlite3_busy_timeout(db, 30000);
	/* the module's own SQL runs no part of an erase */
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	if (strpbrk(log_path, "?#%")) {
		rc = trmx_error_set(err, TRMX_EINVAL, "%s: a path with '?', '#' or '%%' cannot be attached", log_path);
		goto done;
	}
	if (!(att = sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS log", log_path))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx_db_exec(db, "PRAGMA secure_delete = ON", name, err)) < 0 ||
	    (rc = trmx_db_exec(db, att, name, err)) < 0 ||
	    (rc = trmx_db_prepare(db,
				  "SELECT name FROM main.sqlite_master WHERE type = "
				  "'table' AND name NOT LIKE 'sqlite_%' "
				  "ORDER BY name",
				  &st, name, err)) < 0)
		goto done;
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		char **q = realloc(tables, (nt + 1) * sizeof *q);
		if (!q || !(q[nt] = trmx_xstrdup(an_col(st, 0)))) {
			tables = q ? q : tables;
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		tables = q;
		nt++;
	}
	sqlite3_finalize(st);
	st = NULL;
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(db, s, name, err);
		goto done;
	}
	if (!dry && (rc = trmx_db_begin(db, name, err)) < 0)
		goto done;
	for (size_t i = 0; i < nt && rc == 0; i++) {
		char *sql = NULL;
		if (has_column(db, tables[i], "run_id")) {
			sql = dry ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE run_id IN (%s)", tables[i], runs)
				  : sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE run_id IN (%s)", tables[i], runs);
			rc = sql ? count_or_delete(db, sql, key, dry, rows, name, err)
				 : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			sqlite3_free(sql);
		}
		if (rc == 0 && by_learner && has_column(db, tables[i], "learner")) {
			sql = dry ? sqlite3_mprintf("SELECT count(*) FROM main.\"%w\" WHERE learner = ?1", tables[i])
				  : sqlite3_mprintf("DELETE FROM main.\"%w\" WHERE learner = ?1", tables[i]);
			rc = sql ? count_or_delete(db, sql, key, dry, rows, name, err)
				 : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			sqlite3_free(sql);
		}
	}
	if (!dry && rc == 0 && by_learner && (rc = pseudonym_left(db, tables, nt, key, name, err)) == 1)
		rc = TRMX_EINTEGRITY;
	if (!dry) {
		if (rc == 0)
			rc = trmx_db_commit(db, name, err);
		else
			trmx_db_rollback(db);
		if (rc == 0)
			rc = compact(db, name, err);
	}
done:
	sqlite3_finalize(st);
	for (size_t i = 0; i < nt; i++)
		free(tables[i]);
	free(tables);
	sqlite3_free(att);
	free(runs);
	if (db)
		sqlite3_close(db);
	return rc;
}

int trmx__an_erase_modules(const char *home, const char *runs_db, bool by_learner, const char *key, bool dry,
			   trmx_erase_result *res, trmx_error *err)
{
	char *dir = trmx_xasprintf("%s/data", home);
	if (!dir)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	DIR *d = opendir(dir);
	struct dirent *e;
	int rc = 0;
	while (d && rc == 0 && (e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 4 || strcmp(e->d_name + n - 3, ".db") || e->d_name[0] == '.')
			continue;
		char *p = trmx_xasprintf("%s/%s", dir, e->d_name);
		int64_t before = res->module_rows;
		if (!p) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			break;
		}
		rc = erase_module(p, runs_db, e->d_name, by_learner, key, dry, &res->module_rows, err);
		free(p);
		if (rc == 0 && res->module_rows > before)
			res->databases++;
	}
	if (d)
		closedir(d);
	free(dir);
	return rc;
}

int trmx__an_erase_log_rows(sqlite3 *db, const char *what, bool by_learner, const char *key, bool dry,
			    trmx_erase_result *res, trmx_error *err)
{
	char *runs = runs_where("main", by_learner), *sql = NULL;
	int rc;
	if (!runs)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	sql = dry ? trmx_xasprintf("SELECT count(*) FROM feedback WHERE run_id IN (%s)", runs)
		  : trmx_xasprintf("DELETE FROM feedback WHERE run_id IN (%s)", runs);
	rc = sql ? count_or_delete(db, sql, key, dry, &res->feedback, what, err)
		 : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	free(sql);
	if (rc == 0) {
		sql = dry ? trmx_xasprintf("SELECT count(*) FROM (%s)", runs)
			  : trmx_xasprintf(by_learner ? "DELETE FROM runs WHERE learner = ?1" : "DELETE FROM runs WHERE time < ?1");
		rc = sql ? count_or_delete(db, sql, key, dry, &res->runs, what, err)
			 : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		free(sql);
	}
	free(runs);
	return rc;
}

int trmx__an_compact(sqlite3 *db, const char *name, trmx_error *err)
{
	return compact(db, name, err);
}

static int erase(const char *home, bool by_learner, const char *key, const char *criterion, bool dry,
		 trmx_erase_result *result, trmx_error *err)
{
	trmx_erase_result res = { 0 };
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	char *log_path = NULL, *url = NULL;
	int rc;
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0)
		return rc;
	if (url) { /* a central log: erase_pg.c */
		rc = trmx__an_erase_central(home, url, by_learner, key, criterion, dry, result, err);
		free(url);
		return rc;
	}
	/* the log first opened (and migrated) read-write: the erasures table must
	 * exist */
	if ((rc = trmx__an_open_log(home, false, &db, &log_path, err)) < 0 ||
	    (rc = trmx__an_erase_modules(home, log_path, by_learner, key, dry, &res, err)) < 0)
		goto done;
	if ((rc = trmx_db_exec(db, "PRAGMA secure_delete = ON", "log.db", err)) < 0)
		goto done;
	if (!dry && (rc = trmx_db_begin(db, "log.db", err)) < 0)
		goto done;
	if ((rc = trmx__an_erase_log_rows(db, "log.db", by_learner, key, dry, &res, err)) < 0)
		goto fail;
	if (!dry) {
		char at[32], actor[128];
		trmx_iso_time(trmx_now_ms(), at);
		trmx_actor_default(actor, sizeof actor);
		if ((rc = trmx_db_prepare(db,
					  "INSERT INTO erasures (at, actor, action, criterion, runs, "
					  "feedback, module_rows, "
					  "databases) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
					  &st, "log.db", err)) < 0)
			goto fail;
		trmx_db_bind_text(st, 1, at);
		trmx_db_bind_text(st, 2, actor);
		trmx_db_bind_text(st, 3, by_learner ? "erase" : "purge");
		trmx_db_bind_text(st, 4, criterion);
		sqlite3_bind_int64(st, 5, res.runs);
		sqlite3_bind_int64(st, 6, res.feedback);
		sqlite3_bind_int64(st, 7, res.module_rows);
		sqlite3_bind_int(st, 8, res.databases);
		int s = trmx_db_step(st);
		if (s != SQLITE_DONE) {
			rc = trmx_db_error(db, s, "log.db", err);
			goto fail;
		}
		res.record_id = sqlite3_last_insert_rowid(db);
		if ((rc = trmx_db_commit(db, "log.db", err)) < 0)
			goto fail;
		sqlite3_finalize(st);
		st = NULL;
		if ((rc = compact(db, "log.db", err)) < 0)
			goto done;
	}
	if (result)
		*result = res;
	rc = 0;
	goto done;
fail:
	trmx_db_rollback(db);
done:
	sqlite3_finalize(st);
	free(log_path);
	if (db)
		sqlite3_close(db);
	return rc;
}

int trmx_erase_learner(const char *home, const char *pseudonym, bool dry_run, trmx_erase_result *result, trmx_error *err)
{
	if (!home)
		return trmx_error_set(err, TRMX_EINVAL, "no home given");
	bool ok = pseudonym && strlen(pseudonym) == TRMX_PSEUDONYM_SIZE - 1;
	for (const char *p = pseudonym; ok && *p; p++)
		ok = (*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f');
	if (!ok)
		return trmx_error_set(err, TRMX_EINVAL, "'%s' is not a learner pseudonym (64 lowercase hex digits)",
				      pseudonym ? pseudonym : "");
	return erase(home, true, pseudonym, NULL, dry_run, result, err);
}

int trmx_purge_before(const char *home, int64_t before_ms, bool dry_run, trmx_erase_result *result, trmx_error *err)
{
	if (!home)
		return trmx_error_set(err, TRMX_EINVAL, "no home given");
	if (before_ms <= 0)
		return trmx_error_set(err, TRMX_EINVAL, "a purge needs a cutoff time after 1970");
	char cutoff[32], criterion[64];
	trmx_iso_time(before_ms, cutoff);
	snprintf(criterion, sizeof criterion, "runs before %s", cutoff);
	return erase(home, false, cutoff, criterion, dry_run, result, err);
}
