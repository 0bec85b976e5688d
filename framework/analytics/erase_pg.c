/*
 * erase_pg.c — erase and purge on a home whose log is a central PostgreSQL log (docs/SCHEMA.md,
 * "A central log"). The runs concerned are looked up in PostgreSQL and in the home's outbox and
 * written into a scratch SQLite database (id, learner, time), which the module databases' erase
 * (erase.c) attaches as it attaches log.db; then the outbox's rows go (so that a push cannot bring
 * them back), then PostgreSQL's in one transaction that appends the record to `erasures`, then a
 * plain VACUUM of runs and feedback. PostgreSQL keeps a deleted row's bytes in its pages until
 * they are reused (and in its WAL archive, if one is kept): docs/SECURITY.md says so.
 */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analytics/analytics_int.h"

/* The runs concerned from PostgreSQL (and the outbox, when there is one) into a fresh scratch
 * database at `path`: table runs (id, learner, time). */
static int runs_index(trmx_pg *p, const char *outbox, const char *path, bool by_learner, const char *key,
		      trmx_error *err)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *ins = NULL;
	int rc = trmx_db_open(&db, path, "the erase's scratch database", NULL, 0, TRMX_DB_CREATE | TRMX_DB_NOWAL, 0, err);
	if (rc < 0)
		return rc;
	if ((rc = trmx_db_exec(db, "CREATE TABLE runs (id TEXT PRIMARY KEY, learner TEXT, time TEXT); BEGIN", "scratch",
			       err)) < 0 ||
	    (rc = trmx_db_prepare(db, "INSERT OR IGNORE INTO runs VALUES (?1, ?2, ?3)", &ins, "scratch", err)) < 0)
		goto done;
	PGresult *r = trmx_pg_query(p,
				    by_learner ? "SELECT id, learner, time FROM runs WHERE learner = $1"
					       : "SELECT id, learner, time FROM runs WHERE time < $1",
				    1, (const char *const[]){ key }, err);
	if (!r) {
		rc = err->code;
		goto done;
	}
	for (int i = 0; i < PQntuples(r) && rc == 0; i++) {
		sqlite3_reset(ins);
		for (int c = 0; c < 3; c++)
			trmx_db_bind_text(ins, c + 1, PQgetisnull(r, i, c) ? NULL : PQgetvalue(r, i, c));
		int s = trmx_db_step(ins);
		if (s != SQLITE_DONE)
			rc = trmx_db_error(db, s, "scratch", err);
	}
	PQclear(r);
	if (rc == 0 && outbox) { /* and those waiting in the outbox */
		char *att = strpbrk(outbox, "?#%") ? NULL : sqlite3_mprintf("ATTACH 'file:%q?mode=ro' AS outbox", outbox);
		sqlite3_stmt *st = NULL;
		if (!att)
			rc = trmx_error_set(err, TRMX_EINVAL, "%s: a path with '?', '#' or '%%' cannot be attached", outbox);
		else if ((rc = trmx_db_exec(db, "COMMIT", "scratch", err)) == 0 &&
			 (rc = trmx_db_exec(db, att, "scratch", err)) == 0 &&
			 (rc = trmx_db_prepare(db,
					       by_learner ? "INSERT OR IGNORE INTO runs SELECT id, learner, time FROM outbox.runs "
							    "WHERE learner = ?1"
							  : "INSERT OR IGNORE INTO runs SELECT id, learner, time FROM outbox.runs "
							    "WHERE time < ?1",
					       &st, "scratch", err)) == 0) {
			trmx_db_bind_text(st, 1, key);
			int s = trmx_db_step(st);
			if (s != SQLITE_DONE)
				rc = trmx_db_error(db, s, "scratch", err);
			if (rc == 0)
				rc = trmx_db_exec(db, "BEGIN", "scratch", err);
		}
		sqlite3_finalize(st);
		sqlite3_free(att);
	}
	if (rc == 0)
		rc = trmx_db_exec(db, "COMMIT", "scratch", err);
done:
	sqlite3_finalize(ins);
	trmx_db_close(db);
	return rc;
}

/* Delete (or count) the runs concerned and their feedback in the outbox. */
static int erase_outbox(const char *path, bool by_learner, const char *key, bool dry, trmx_erase_result *res,
			trmx_error *err)
{
	sqlite3 *db = NULL;
	size_t nf;
	const trmx_sql_file *files = trmx_sql_log(&nf);
	int rc = trmx_db_open(&db, path, "log-outbox.db", files, nf, 0, 0, err);
	if (rc == 0 && !dry)
		rc = trmx_db_exec(db, "PRAGMA secure_delete = ON; BEGIN IMMEDIATE", "log-outbox.db", err);
	if (rc == 0)
		rc = trmx__an_erase_log_rows(db, "log-outbox.db", by_learner, key, dry, res, err);
	if (!dry && rc == 0 && (rc = trmx_db_commit(db, "log-outbox.db", err)) == 0)
		rc = trmx__an_compact(db, "log-outbox.db", err);
	trmx_db_rollback(db);
	trmx_db_close(db);
	return rc;
}

static int64_t pg_count(trmx_pg *p, const char *sql, const char *key, trmx_error *err)
{
	PGresult *r = trmx_pg_query(p, sql, 1, (const char *const[]){ key }, err);
	if (!r)
		return -1;
	/* a count(*)'s value, or the rows a DELETE took */
	int64_t n = strtoll(PQresultStatus(r) == PGRES_TUPLES_OK ? PQgetvalue(r, 0, 0) : PQcmdTuples(r), NULL, 10);
	PQclear(r);
	return n;
}

int trmx__an_erase_central(const char *home, const char *url, bool by_learner, const char *key, const char *criterion,
			   bool dry, trmx_erase_result *result, trmx_error *err)
{
	trmx_erase_result res = { 0 };
	trmx_pg *p = NULL;
	char *scratch = NULL, *outbox = NULL;
	int rc;
	if ((rc = trmx_pg_open(&p, url, false, err)) < 0)
		goto done;
	if (!(scratch = trmx_xasprintf("%s/.erase-%ld.db", home, (long)getpid())) ||
	    !(outbox = trmx_xasprintf("%s/log-outbox.db", home))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	bool have_outbox = access(outbox, F_OK) == 0;
	unlink(scratch);
	if ((rc = runs_index(p, have_outbox ? outbox : NULL, scratch, by_learner, key, err)) < 0 ||
	    (rc = trmx__an_erase_modules(home, scratch, by_learner, key, dry, &res, err)) < 0 ||
	    (have_outbox && (rc = erase_outbox(outbox, by_learner, key, dry, &res, err)) < 0))
		goto done;
	const char *cond = by_learner ? "learner = $1" : "time < $1";
	char sql[200];
	int64_t n;
	if (dry) {
		snprintf(sql, sizeof sql, "SELECT count(*) FROM feedback WHERE run_id IN (SELECT id FROM runs WHERE %s)", cond);
		if ((n = pg_count(p, sql, key, err)) < 0)
			goto failed;
		res.feedback += n;
		snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE %s", cond);
		if ((n = pg_count(p, sql, key, err)) < 0)
			goto failed;
		res.runs += n;
		goto finished;
	}
	if ((rc = trmx_pg_exec(p, "BEGIN", err)) < 0)
		goto done;
	snprintf(sql, sizeof sql, "DELETE FROM feedback WHERE run_id IN (SELECT id FROM runs WHERE %s)", cond);
	if ((n = pg_count(p, sql, key, err)) < 0)
		goto failed;
	res.feedback += n;
	snprintf(sql, sizeof sql, "DELETE FROM runs WHERE %s", cond);
	if ((n = pg_count(p, sql, key, err)) < 0)
		goto failed;
	res.runs += n;
	char at[32], actor[128], nums[4][24];
	trmx_iso_time(trmx_now_ms(), at);
	trmx_actor_default(actor, sizeof actor);
	snprintf(nums[0], sizeof nums[0], "%lld", (long long)res.runs);
	snprintf(nums[1], sizeof nums[1], "%lld", (long long)res.feedback);
	snprintf(nums[2], sizeof nums[2], "%lld", (long long)res.module_rows);
	snprintf(nums[3], sizeof nums[3], "%d", res.databases);
	const char *params[] = { at, actor, by_learner ? "erase" : "purge", criterion, nums[0], nums[1], nums[2], nums[3] };
	PGresult *r = trmx_pg_query(p,
				    "INSERT INTO erasures (at, actor, action, criterion, runs, feedback, module_rows, databases) "
				    "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
				    8, params, err);
	if (!r)
		goto failed;
	res.record_id = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
	PQclear(r);
	if ((rc = trmx_pg_exec(p, "COMMIT", err)) < 0)
		goto done;
	/* dead rows' space made reusable (not rewritten: VACUUM FULL would lock out every host) */
	trmx_error e2;
	trmx_pg_exec(p, "VACUUM runs, feedback", &e2);
	if (by_learner && (n = pg_count(p, "SELECT count(*) FROM runs WHERE learner = $1", key, err)) != 0) {
		rc = n < 0 ? err->code
			   : trmx_error_set(err, TRMX_EINTEGRITY, "%s: %lld runs of the learner were logged meanwhile: "
					    "erase again", trmx_pg_name(p), (long long)n);
		goto done;
	}
finished:
	if (result)
		*result = res;
	rc = 0;
	goto done;
failed:
	rc = err->code ? err->code : TRMX_ERROR;
	trmx_pg_rollback(p);
done:
	if (scratch) {
		unlink(scratch);
		free(scratch);
	}
	free(outbox);
	trmx_pg_close(p);
	return rc;
}
