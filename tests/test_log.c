/*
 * test_log.c — the usage and feedback log: UUIDv7 ids, pseudonyms, appends single and batched,
 * idempotent retries, feedback that must name a logged run, the analysts' views, forward-only
 * migrations, and crash safety: a child killed with SIGKILL while logging 10,000 runs (one
 * transaction each) loses no run it reported committed and leaves an intact database; 4
 * processes logging at once lose nothing and see no busy error.
 *
 * With TRMX_TEST_LOG_URL set to a postgresql:// URL (tests/pg/central.sh does, over its throwaway
 * cluster), the same tests run on a central log instead: each starts from empty tables, and the
 * two that are about log.db itself (the xAPI numbering, PRAGMA user_version) say they are skipped.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "trmx/log.h"
#include "trmx/trmx.h"

struct fx {
	char *home;
};

static const char *pg_url; /* TRMX_TEST_LOG_URL: the tests run on a central log */

/* Run `sql` on the central log; the first value of its first row (-1: none, or it failed). */
static int64_t pg_value(const char *sql)
{
	static PGconn *c; /* one connection for the whole run (a forked child makes its own log) */
	if (!c || PQstatus(c) != CONNECTION_OK) {
		PQfinish(c);
		c = PQconnectdb(pg_url);
	}
	int64_t n = -1;
	PGresult *r = PQstatus(c) == CONNECTION_OK ? PQexec(c, sql) : NULL;
	if (r && PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0 && !PQgetisnull(r, 0, 0))
		n = strcmp(PQgetvalue(r, 0, 0), "t") ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : 1;
	else if (r && PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
		fprintf(stderr, "pg: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
	return n;
}

static int setup(void **state)
{
	if (pg_url) /* a fresh log: no runs, and no secret of an earlier test's home */
		pg_value("DO $$ BEGIN IF to_regclass('runs') IS NOT NULL THEN "
			 "TRUNCATE runs, feedback, log_secret, xapi_queue, xapi_cursors CASCADE; END IF; END $$");
	struct fx *f = calloc(1, sizeof *f);
	f->home = tu_tmpdir();
	*state = f;
	return f->home ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->home);
	free(f->home);
	free(f);
	return 0;
}

/* A run record with the required fields. */
static trmx_run_record rec(const char *module, const char *version)
{
	trmx_run_record r = TRMX_RUN_RECORD_INIT;
	trmx_uuid7(r.id);
	r.target = module;
	r.module = module;
	r.module_version = version;
	r.digest = "0000000000000000000000000000000000000000000000000000000000000000";
	r.engine = "trm 1.0.0";
	r.task = "sudoku";
	r.task_params = "size=4";
	r.input = "1.3..4.22.4..3.1";
	r.output = "1234341221434321";
	r.steps = 3;
	r.max_steps = 4;
	r.q_halt = 1.5;
	r.verdict = TRMX_VERDICT_VALID;
	r.latency_ms = 2.5;
	return r;
}

static int64_t count(const char *home, const char *sql)
{
	if (pg_url)
		return pg_value(sql);
	char *path = tu_path(home, "log.db");
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int64_t n = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return n;
}

static void test_uuid7(void **state)
{
	char a[TRMX_UUID_SIZE], b[TRMX_UUID_SIZE];
	trmx_uuid7(a);
	assert_true(trmx_uuid_valid(a));
	assert_int_equal(a[14], '7');
	assert_true(strchr("89ab", a[19]) != NULL);
	for (int i = 0; i < 10000; i++) { /* strictly increasing within one process */
		trmx_uuid7(b);
		assert_true(strcmp(a, b) < 0);
		memcpy(a, b, sizeof a);
	}
	assert_false(trmx_uuid_valid("01234567-89ab-7cde-8f01-23456789abc"));
	assert_false(trmx_uuid_valid("01234567-89ab-7cde-8f01-23456789abcg"));
	assert_false(trmx_uuid_valid(NULL));
}

static void test_pseudonym(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_log_db *log = NULL;
	char p1[TRMX_PSEUDONYM_SIZE], p2[TRMX_PSEUDONYM_SIZE], p3[TRMX_PSEUDONYM_SIZE];
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	assert_trmx_ok(trmx_log_pseudonym(log, "alice", p1, &err), err);
	assert_trmx_ok(trmx_log_pseudonym(log, "bob", p2, &err), err);
	assert_int_equal(strlen(p1), 64);
	assert_string_not_equal(p1, p2);
	assert_null(strstr(p1, "alice"));
	assert_trmx_error(trmx_log_pseudonym(log, "", p3, &err), err, TRMX_EINVAL, "must not be empty");
	trmx_log_free(log);
	/* the secret persists: the same learner gets the same pseudonym after a reopen */
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	assert_trmx_ok(trmx_log_pseudonym(log, "alice", p3, &err), err);
	assert_string_equal(p1, p3);
	trmx_log_free(log);
	struct stat st;
	char *secret = tu_path(f->home, "secret");
	assert_int_equal(stat(secret, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* issue 24, item 4: a secret open to others is refused; a lost one is not silently made anew
	 * once the log holds learners' runs */
	assert_int_equal(chmod(secret, 0644), 0);
	assert_trmx_error(trmx_log_open(&log, f->home, NULL, &err), err, TRMX_EINVAL, "chmod 600");
	assert_int_equal(chmod(secret, 0600), 0);
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	trmx_run_record r = rec("sudoku4", "1.0.0");
	r.learner = p1;
	size_t added = 0;
	assert_trmx_ok(trmx_log_append(log, &r, 1, &added, &err), err);
	trmx_log_free(log);
	char *kept = tu_path(f->home, "secret.kept");
	assert_int_equal(rename(secret, kept), 0);
	assert_trmx_error(trmx_log_open(&log, f->home, NULL, &err), err, TRMX_ENOTFOUND,
			  pg_url ? "copy HOME/secret from one of its hosts" : "Restore the file");
	assert_int_equal(access(secret, F_OK), -1);
	assert_int_equal(rename(kept, secret), 0);
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	assert_trmx_ok(trmx_log_pseudonym(log, "alice", p3, &err), err);
	assert_string_equal(p1, p3);
	trmx_log_free(log);
	free(kept);
	free(secret);
	/* another installation, another secret; on a central log its hosts must share one */
	char *other = tu_tmpdir();
	if (pg_url) {
		assert_trmx_error(trmx_log_open(&log, other, NULL, &err), err, TRMX_ENOTFOUND, "copy HOME/secret");
	} else {
		assert_trmx_ok(trmx_log_open(&log, other, NULL, &err), err);
		assert_trmx_ok(trmx_log_pseudonym(log, "alice", p3, &err), err);
		assert_string_not_equal(p1, p3);
		trmx_log_free(log);
	}
	tu_rmtree(other);
	free(other);
}

static void test_append_feedback(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_log_db *log = NULL;
	size_t added = 0;
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	trmx_run_record r = rec("sudoku4", "1.0.0");
	assert_trmx_ok(trmx_log_append(log, &r, 1, &added, &err), err);
	assert_int_equal(added, 1);
	/* a retry with the same id is no duplicate */
	assert_trmx_ok(trmx_log_append(log, &r, 1, &added, &err), err);
	assert_int_equal(added, 0);
	assert_int_equal(count(f->home, "SELECT count(*) FROM runs"), 1);
	/* the same id for another request is refused, not dropped while reported logged (issue 24, 7) */
	trmx_run_record other = r;
	other.input = "1...4.22.4..3.1.";
	assert_trmx_error(trmx_log_append(log, &other, 1, &added, &err), err, TRMX_EEXIST, "another request");
	other = r;
	other.learner = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	assert_trmx_error(trmx_log_append(log, &other, 1, &added, &err), err, TRMX_EEXIST, "another request");
	other = r;
	other.output = "1234341221434312"; /* a retry answered otherwise (a canary's draw) is the same request */
	assert_trmx_ok(trmx_log_append(log, &other, 1, &added, &err), err);
	assert_int_equal(added, 0);
	assert_int_equal(count(f->home, "SELECT count(*) FROM runs WHERE input = '1...4.22.4..3.1.'"), 0);
	/* batched: 1000 in one transaction */
	trmx_run_record *many = calloc(1000, sizeof *many);
	for (int i = 0; i < 1000; i++)
		many[i] = rec("sudoku4", i % 2 ? "1.0.0" : "1.1.0");
	assert_trmx_ok(trmx_log_append(log, many, 1000, &added, &err), err);
	assert_int_equal(added, 1000);
	/* a bad record fails the whole batch before anything is written */
	many[500].module = NULL;
	for (int i = 0; i < 1000; i++)
		trmx_uuid7(many[i].id);
	assert_trmx_error(trmx_log_append(log, many, 1000, &added, &err), err, TRMX_EINVAL, "module is required");
	assert_int_equal(count(f->home, "SELECT count(*) FROM runs"), 1001);
	free(many);

	/* feedback */
	trmx_feedback_record fb = TRMX_FEEDBACK_RECORD_INIT;
	fb.run_id = r.id;
	fb.source = TRMX_FEEDBACK_LEARNER;
	fb.verdict = TRMX_FEEDBACK_INCORRECT;
	fb.score = 0.25;
	fb.expected = "1234341221434321";
	fb.comment = "the learner disagrees";
	assert_trmx_ok(trmx_log_feedback(log, &fb, 1, &added, &err), err);
	assert_int_equal(added, 1);
	char ghost[TRMX_UUID_SIZE];
	trmx_uuid7(ghost);
	fb.run_id = ghost;
	assert_trmx_error(trmx_log_feedback(log, &fb, 1, &added, &err), err, TRMX_ENOTFOUND, "no run");
	fb.run_id = r.id;
	fb.score = 1.5;
	assert_trmx_error(trmx_log_feedback(log, &fb, 1, &added, &err), err, TRMX_EINVAL, "not in [0, 1]");
	/* runs and feedback in one call (the host logs the checker's verdict so) */
	trmx_run_record r2 = rec("sudoku4", "1.1.0");
	trmx_feedback_record f2 = TRMX_FEEDBACK_RECORD_INIT;
	f2.run_id = r2.id;
	f2.source = TRMX_FEEDBACK_CHECKER;
	assert_trmx_ok(trmx_log_write(log, &r2, 1, &f2, 1, &added, &err), err);
	assert_int_equal(added, 2);

	/* the views */
	assert_int_equal(count(f->home, "SELECT verdict = 'incorrect' FROM run_outcomes WHERE learner_verdict IS NOT NULL"), 1);
	assert_int_equal(count(f->home, "SELECT count(*) FROM corrections"), 1);
	assert_int_equal(count(f->home, "SELECT sum(runs) FROM version_summary"), 1002);
	trmx_usage_row *u = NULL;
	size_t nu = 0;
	assert_trmx_ok(trmx_log_usage(log, TRMX_USAGE_BY_VERSION, "sudoku4", &u, &nu, &err), err);
	assert_int_equal(nu, 2);
	assert_string_equal(u[0].module_version, "1.0.0");
	assert_int_equal(u[0].runs, 501);
	assert_int_equal(u[0].judged, 1);
	assert_int_equal(u[1].correct, 1);
	free(u);

	trmx_run_info info;
	assert_trmx_ok(trmx_log_run_get(log, r.id, &info, &err), err);
	assert_string_equal(info.module, "sudoku4");
	assert_string_equal(info.status, "completed");
	assert_trmx_error(trmx_log_run_get(log, ghost, &info, &err), err, TRMX_ENOTFOUND, "no run");
	trmx_log_free(log);
	if (!pg_url)
		assert_int_equal(count(f->home, "PRAGMA user_version"), 5);
}

/* The xAPI outbox's numbering (0004_xapi_outbox.sql): every new run and feedback row gets the next
 * number in commit order, whatever its id; a retried id gets none; VACUUM (after an erase) and
 * deletions keep the numbers, and a number is never given twice. */
static void test_xapi_queue(void **state)
{
	if (pg_url) {
		print_message("log.db only: skipped on the central log\n");
		skip();
	}
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_log_db *log = NULL;
	size_t added = 0;
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	trmx_run_record a = rec("sudoku4", "1.0.0"), old = rec("sudoku4", "1.0.0"), v4 = rec("sudoku4", "1.0.0");
	snprintf(old.id, sizeof old.id, "01890000-0000-7000-8000-0000000000a1"); /* older than any logged */
	snprintf(v4.id, sizeof v4.id, "00000000-0000-4000-8000-0000000000b2");
	trmx_feedback_record fb = TRMX_FEEDBACK_RECORD_INIT;
	fb.run_id = a.id;
	fb.source = TRMX_FEEDBACK_INSTRUCTOR;
	assert_trmx_ok(trmx_log_write(log, &a, 1, &fb, 1, &added, &err), err);
	assert_trmx_ok(trmx_log_append(log, &old, 1, &added, &err), err);
	assert_trmx_ok(trmx_log_append(log, &old, 1, &added, &err), err); /* a retry: no new number */
	assert_int_equal(added, 0);
	assert_trmx_ok(trmx_log_append(log, &v4, 1, &added, &err), err);
	assert_int_equal(count(f->home, "SELECT count(*) FROM xapi_queue"), 4);
	char sql[256];
	snprintf(sql, sizeof sql, "SELECT seq FROM xapi_queue WHERE kind = 'run' AND row_id = '%s'", old.id);
	assert_int_equal(count(f->home, sql), 3);
	assert_int_equal(count(f->home, "SELECT seq FROM xapi_queue WHERE kind = 'feedback'"), 2); /* committed with a */
	trmx_log_free(log);
	/* the newest run deleted, VACUUM: numbers stay; the next run gets 5, not 4 */
	char *path = tu_path(f->home, "log.db");
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	snprintf(sql, sizeof sql, "DELETE FROM runs WHERE id = '%s'; VACUUM", v4.id);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	free(path);
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	trmx_run_record b = rec("sudoku4", "1.0.0");
	assert_trmx_ok(trmx_log_append(log, &b, 1, &added, &err), err);
	trmx_log_free(log);
	snprintf(sql, sizeof sql, "SELECT seq FROM xapi_queue WHERE row_id = '%s'", b.id);
	assert_int_equal(count(f->home, sql), 5);
	snprintf(sql, sizeof sql, "SELECT seq FROM xapi_queue WHERE row_id = '%s'", old.id);
	assert_int_equal(count(f->home, sql), 3);
}

static void test_schema_version(void **state)
{
	if (pg_url) {
		print_message("log.db only: skipped on the central log\n");
		skip();
	}
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_log_db *log = NULL;
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	trmx_log_free(log);
	/* a log.db from a newer trmx is refused, not migrated backwards */
	char *path = tu_path(f->home, "log.db");
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_trmx_error(trmx_log_open(&log, f->home, NULL, &err), err, TRMX_EVERSION, "newer trmx");
	/* not a database at all */
	unlink(path);
	tu_write_text(path, "this is not a database, it is a text file of some length to look at");
	assert_int_equal(trmx_log_open(&log, f->home, NULL, &err) < 0, 1);
	assert_non_null(strstr(err.message, "log.db"));
	free(path);
}

/* ---- Crash safety ------------------------------------------------------------------------------- */

/* Log `n` runs, one transaction each, writing each committed id (36 bytes + '\n') to fd. */
static void child_log(const char *home, int n, int fd, int busy_ms)
{
	trmx_error err = { 0 };
	trmx_log_db *log = NULL;
	trmx_log_options o = TRMX_LOG_OPTIONS_INIT;
	o.busy_timeout_ms = busy_ms;
	if (trmx_log_open(&log, home, &o, &err) < 0) {
		fprintf(stderr, "child: %s\n", err.message);
		_exit(3);
	}
	for (int i = 0; i < n; i++) {
		trmx_run_record r = rec("crash", "1.0.0");
		if (trmx_log_append(log, &r, 1, NULL, &err) < 0) {
			fprintf(stderr, "child: run %d: %s\n", i, err.message);
			_exit(4);
		}
		char line[TRMX_UUID_SIZE + 1];
		memcpy(line, r.id, 36);
		line[36] = '\n';
		if (write(fd, line, 37) != 37)
			_exit(5);
	}
	trmx_log_free(log);
	_exit(0);
}

static void test_sigkill(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_log_db *log = NULL;
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err); /* the schema is in place first */
	trmx_log_free(log);
	char *ids = tu_path(f->home, "committed.txt");
	int fd = open(ids, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	assert_true(fd >= 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		child_log(f->home, 10000, fd, 0);
	/* kill it mid-way: once it has reported some thousands of commits */
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct stat st;
		fstat(fd, &st);
		if (st.st_size >= 37 * 5000)
			break;
		int status;
		assert_int_equal(waitpid(pid, &status, WNOHANG), 0); /* still running */
		struct timespec d = { 0, 1000000 };
		nanosleep(&d, NULL);
	}
	kill(pid, SIGKILL);
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(fd);

	size_t len = 0;
	char *text = tu_read_file(ids, &len);
	assert_non_null(text);
	size_t reported = len / 37;
	assert_true(reported >= 5000 && reported < 10000);
	/* every run reported committed is in the log; at most the one in flight more */
	char *path = tu_path(f->home, "log.db");
	size_t missing = 0;
	if (pg_url) {
		for (size_t i = 0; i < reported; i++) {
			char q[128];
			snprintf(q, sizeof q, "SELECT count(*) FROM runs WHERE id = '%.36s'", text + 37 * i);
			missing += pg_value(q) != 1;
		}
		goto counted;
	}
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
	sqlite3_finalize(st);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM runs WHERE id = ?1", -1, &st, NULL), SQLITE_OK);
	for (size_t i = 0; i < reported; i++) {
		sqlite3_reset(st);
		sqlite3_bind_text(st, 1, text + 37 * i, 36, SQLITE_STATIC);
		missing += sqlite3_step(st) != SQLITE_ROW;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
counted:;
	int64_t have = count(f->home, "SELECT count(*) FROM runs");
	print_message("SIGKILL after %zu reported commits: %lld runs in the log, %zu missing\n", reported,
		      (long long)have, missing);
	assert_int_equal(missing, 0);
	assert_true(have == (int64_t)reported || have == (int64_t)reported + 1);
	/* and the log goes on working */
	assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
	trmx_run_record r = rec("crash", "1.0.0");
	assert_trmx_ok(trmx_log_append(log, &r, 1, NULL, &err), err);
	trmx_log_free(log);
	free(path);
	free(text);
	free(ids);
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	enum { PROCS = 4, EACH = 2500 };
	char *files[PROCS];
	pid_t pids[PROCS];
	/* the log is made by the first of them: a fresh home, all four start at once */
	for (int p = 0; p < PROCS; p++) {
		char name[32];
		snprintf(name, sizeof name, "ids-%d.txt", p);
		files[p] = tu_path(f->home, name);
		int fd = open(files[p], O_WRONLY | O_CREAT | O_TRUNC, 0644);
		assert_true(fd >= 0);
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0)
			child_log(f->home, EACH, fd, 0);
		close(fd);
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		waitpid(pids[p], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("logging process %d ended with status %d (busy or failed: see its stderr)", p, status);
	}
	int64_t total = 0;
	for (int p = 0; p < PROCS; p++) {
		size_t len = 0;
		char *text = tu_read_file(files[p], &len);
		assert_int_equal(len, (size_t)EACH * 37);
		total += (int64_t)(len / 37);
		free(text);
		free(files[p]);
	}
	assert_int_equal(count(f->home, "SELECT count(*) FROM runs"), total);
	assert_int_equal(count(f->home, "SELECT count(DISTINCT id) FROM runs"), PROCS * EACH);
}

int main(void)
{
	pg_url = getenv("TRMX_TEST_LOG_URL");
	if (pg_url && !*pg_url)
		pg_url = NULL;
	if (pg_url)
		setenv("TRMX_LOG_URL", pg_url, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_uuid7),
		cmocka_unit_test_setup_teardown(test_pseudonym, setup, teardown),
		cmocka_unit_test_setup_teardown(test_append_feedback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_xapi_queue, setup, teardown),
		cmocka_unit_test_setup_teardown(test_schema_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
