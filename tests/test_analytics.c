/*
 * test_analytics.c — the analyst layer (trmx/report.h, docs/ANALYTICS.md) on a
 * log made here with every kind of verdict: the report's figures against
 * hand-written SQL (acceptance 3), the HTML report well-formed with one chart
 * per figure, Wilson intervals and canary verdicts against known values, every
 * exported xAPI statement checked against the xAPI 1.0.3 rules and stable ids
 * (acceptance 2; the statements are also written to BUILD/tests/xapi/ for the
 * npm validator), the data set export, read-only SQL, and erase and purge
 * (acceptance 4: no row anywhere refers to the erased learner, the others are
 * untouched, the counts are recorded).
  *
 * With TRMX_TEST_LOG_URL set to a postgresql:// URL (tests/pg/central.sh does, over its throwaway
 * cluster), the same tests run on a central log: each starts from empty tables, the hand-written
 * SQL runs on a copy of the central log's rows in a scratch log.db (so that the one text of each
 * query checks both), and the two tests about log.db itself (`trmx sql`'s limits and read-only
 * opening) are skipped.
*/
#define _GNU_SOURCE /* asprintf */
#include <jansson.h>
#include <libpq-fe.h>
#include <libgen.h>
#include <math.h>
#include <regex.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h, stdint.h */

#include "helpers/testutil.h"
#include "log/log_int.h"
#include "trmx/log.h"
#include "trmx/report.h"
#include "trmx/trmx.h"

static char build_dir[4096];
static const char *pg_url; /* TRMX_TEST_LOG_URL: the tests run on a central log */

struct fx {
	char *home;
	char alice[TRMX_PSEUDONYM_SIZE], bob[TRMX_PSEUDONYM_SIZE];
	int64_t t0;
};

/* A solved 4x4 Sudoku and a puzzle of it. */
#define SOL "1234341221434321"
#define PUZ "1.3..4.22.4..3.1"

static void add_run(trmx_log_db *log, struct fx *f, int i, const char *ctx, const char *learner, const char *version,
		    trmx_arm arm, const char *output, int steps, double q, double latency, char id[TRMX_UUID_SIZE])
{
	trmx_error err;
	trmx_run_record r = TRMX_RUN_RECORD_INIT;
	trmx_uuid7(r.id);
	r.time_ms = f->t0 + (int64_t)i * 60000;
	r.context = ctx;
	r.learner = learner;
	r.target = "sudoku4@champion";
	r.module = "sudoku4";
	r.module_version = version;
	r.digest = !strcmp(version, "1.0.0") ? "1111111111111111111111111111111111111111111111111111111111111111"
					     : "2222222222222222222222222222222222222222222222222222222222222222";
	r.arm = arm;
	r.engine = "trm 1.0.0";
	r.task = "sudoku";
	r.task_params = "size=4";
	char puzzle[17];
	snprintf(puzzle, sizeof puzzle, "%s", PUZ);
	puzzle[i % 16] = SOL[i % 16]; /* a few distinct puzzles */
	r.input = puzzle;
	r.output = output;
	r.halt = TRMX_HALT_ADAPTIVE;
	r.steps = steps;
	r.q_halt = q;
	r.verdict = TRMX_VERDICT_UNKNOWN;
	r.latency_ms = latency;
	r.status = TRMX_RUN_HALTED;
	assert_trmx_ok(trmx_log_append(log, &r, 1, NULL, &err), err);
	memcpy(id, r.id, TRMX_UUID_SIZE);
}

static void add_feedback(trmx_log_db *log, const char *run, int64_t t, trmx_feedback_source src, trmx_feedback_verdict v,
			 const char *expected, double score)
{
	trmx_error err;
	trmx_feedback_record fb = TRMX_FEEDBACK_RECORD_INIT;
	fb.run_id = run;
	fb.time_ms = t;
	fb.source = src;
	fb.verdict = v;
	fb.expected = expected;
	fb.score = score;
	fb.comment = src == TRMX_FEEDBACK_LEARNER ? "a learner's \"comment\", with a comma" : NULL;
	assert_trmx_ok(trmx_log_feedback(log, &fb, 1, NULL, &err), err);
}

/* 300 runs over two contexts and two versions (1.1.0 the canary of course/a),
 * anonymous runs, runs without a context; verdicts from every source, expected
 * answers right and wrong. */
static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	trmx_error err;
	trmx_log_db *log = NULL;
	if (pg_url) { /* a fresh central log: no runs, and no secret of an earlier test's home */
		PGconn *c = PQconnectdb(pg_url);
		PGresult *r = PQexec(c, "DO $$ BEGIN IF to_regclass('runs') IS NOT NULL THEN "
					"TRUNCATE runs, feedback, erasures, log_secret, xapi_queue, xapi_cursors CASCADE; END IF; END $$");
		bool ok = PQresultStatus(r) == PGRES_COMMAND_OK;
		PQclear(r);
		PQfinish(c);
		if (!ok)
			return -1;
	}
	f->home = tu_tmpdir();
	f->t0 = 1764400000000; /* 2025-11-29 */
	if (trmx_log_open(&log, f->home, NULL, &err) < 0)
		return -1;
	trmx_log_pseudonym(log, "alice", f->alice, &err);
	trmx_log_pseudonym(log, "bob", f->bob, &err);
	for (int i = 0; i < 300; i++) {
		char id[TRMX_UUID_SIZE], learner[TRMX_PSEUDONYM_SIZE], name[16];
		snprintf(name, sizeof name, "l%d", i % 13);
		trmx_log_pseudonym(log, name, learner, &err);
		const char *who = i % 17 == 0 ? NULL : i % 5 == 0 ? f->alice : i % 7 == 0 ? f->bob : learner;
		const char *ctx = i % 11 == 0 ? NULL : i % 3 == 0 ? "course/b" : "course/a";
		bool canary = ctx && !strcmp(ctx, "course/a") && i % 2 == 0;
		bool good = canary ? i % 10 != 0 : i % 3 != 1;
		double q = (double)((i * 37) % 21 - 10) / 2.0;
		add_run(log, f, i, ctx, who, canary ? "1.1.0" : "1.0.0", canary ? TRMX_ARM_CANARY : TRMX_ARM_MAIN,
			i % 29 == 0 ? NULL
			: good	    ? SOL
				    : "1234341221434312",
			1 + (i * 7) % 8, q, 5.0 + (i * 13) % 97, id);
		int64_t t = f->t0 + (int64_t)i * 60000 + 1000;
		if (i % 4 != 3) /* the checker */
			add_feedback(log, id, t, TRMX_FEEDBACK_CHECKER,
				     good ? TRMX_FEEDBACK_CORRECT : TRMX_FEEDBACK_INCORRECT, NULL, NAN);
		if (i % 6 == 0) /* a learner disagrees */
			add_feedback(log, id, t + 1, TRMX_FEEDBACK_LEARNER,
				     good ? TRMX_FEEDBACK_INCORRECT : TRMX_FEEDBACK_CORRECT, NULL, 0.25);
		if (i % 9 == 0) /* an instructor's verdict without an answer */
			add_feedback(log, id, t + 2, TRMX_FEEDBACK_INSTRUCTOR, TRMX_FEEDBACK_PARTIAL, NULL, 0.5);
		if (i % 8 == 0) /* a correction (wins over every verdict) */
			add_feedback(log, id, t + 3, i % 16 == 0 ? TRMX_FEEDBACK_INSTRUCTOR : TRMX_FEEDBACK_LEARNER,
				     TRMX_FEEDBACK_INCORRECT, SOL, NAN);
	}
	trmx_log_free(log);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->home);
	free(f->home);
	free(f);
	return 0;
}

/* The central log's rows of `table` into the same table of `db`, column by column as text (the
 * two logs have the same columns and text forms: docs/SCHEMA.md). */
static void copy_table(PGconn *c, sqlite3 *db, const char *table)
{
	char q[64];
	snprintf(q, sizeof q, "SELECT * FROM %s", table);
	PGresult *r = PQexec(c, q);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("%s: %s", q, PQerrorMessage(c));
	int nc = PQnfields(r);
	char *sql = sqlite3_mprintf("INSERT INTO \"%w\" (", table);
	for (int j = 0; j < nc; j++)
		sql = sqlite3_mprintf("%z%s\"%w\"", sql, j ? ", " : "", PQfname(r, j));
	sql = sqlite3_mprintf("%z) VALUES (", sql);
	for (int j = 0; j < nc; j++)
		sql = sqlite3_mprintf("%z%s?", sql, j ? ", " : "");
	sql = sqlite3_mprintf("%z)", sql);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	for (int i = 0; i < PQntuples(r); i++) {
		for (int j = 0; j < nc; j++)
			if (PQgetisnull(r, i, j))
				sqlite3_bind_null(st, j + 1);
			else
				sqlite3_bind_text(st, j + 1, PQgetvalue(r, i, j), -1, SQLITE_STATIC);
		assert_int_equal(sqlite3_step(st), SQLITE_DONE);
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
	sqlite3_free(sql);
	PQclear(r);
}

/* The log.db to check: the home's, or on a central log a fresh copy of its rows in a scratch
 * log.db made by trmx (schema and views; malloc'd path). */
static char *log_file(struct fx *f)
{
	if (!pg_url)
		return tu_path(f->home, "log.db");
	char *dir = tu_path(f->home, "central-copy");
	tu_rmtree(dir);
	trmx_log_db *log = NULL;
	trmx_error err;
	unsetenv("TRMX_LOG_URL"); /* a log.db, not the central log */
	int rc = trmx_log_open(&log, dir, NULL, &err);
	setenv("TRMX_LOG_URL", pg_url, 1);
	assert_trmx_ok(rc, err);
	trmx_log_free(log);
	char *p = tu_path(dir, "log.db");
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open(p, &db), SQLITE_OK);
	PGconn *c = PQconnectdb(pg_url);
	assert_int_equal(PQstatus(c), CONNECTION_OK);
	assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
	copy_table(c, db, "runs");
	copy_table(c, db, "feedback");
	copy_table(c, db, "erasures");
	assert_int_equal(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
	PQfinish(c);
	sqlite3_close(db);
	free(dir);
	return p;
}

static sqlite3 *open_log(struct fx *f)
{
	char *p = log_file(f);
	sqlite3 *db = NULL;
	assert_int_equal(sqlite3_open_v2(p, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
	free(p);
	return db;
}

static double qd(sqlite3 *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static double qd(sqlite3 *db, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	char *sql = sqlite3_vmprintf(fmt, ap);
	va_end(ap);
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
		fail_msg("%s: %s", sql, sqlite3_errmsg(db));
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	double v = sqlite3_column_type(st, 0) == SQLITE_NULL ? NAN : sqlite3_column_double(st, 0);
	sqlite3_finalize(st);
	sqlite3_free(sql);
	return v;
}

/* The rule of report.h written out by hand: a run's best verdict — an expected
 * answer (an instructor's, else an evaluation's, else a learner's; the newest),
 * else the newest verdict of an instructor, an evaluation, the checker, a
 * learner. */
#define BEST                                                                                                                \
	"coalesce("                                                                                                         \
	"(SELECT coalesce(r.output = f.expected, 0) FROM feedback f WHERE f.run_id "                                        \
	"= r.id AND f.expected IS NOT NULL "                                                                                \
	" ORDER BY CASE f.source WHEN 'instructor' THEN 0 WHEN 'eval' THEN 1 ELSE "                                         \
	"2 END, f.time DESC LIMIT 1),"                                                                                      \
	"(SELECT f.verdict = 'correct' FROM feedback f WHERE f.run_id = r.id AND "                                          \
	"f.source = 'instructor' "                                                                                          \
	" ORDER BY f.time DESC LIMIT 1),"                                                                                   \
	"(SELECT f.verdict = 'correct' FROM feedback f WHERE f.run_id = r.id AND "                                          \
	"f.source = 'eval' "                                                                                                \
	" ORDER BY f.time DESC LIMIT 1),"                                                                                   \
	"(SELECT f.verdict = 'correct' FROM feedback f WHERE f.run_id = r.id AND "                                          \
	"f.source = 'checker' "                                                                                             \
	" ORDER BY f.time DESC LIMIT 1),"                                                                                   \
	"(SELECT f.verdict = 'correct' FROM feedback f WHERE f.run_id = r.id AND "                                          \
	"f.source = 'learner' "                                                                                             \
	" ORDER BY f.time DESC LIMIT 1))"

static void test_report_matches_sql(void **state)
{
	struct fx *f = *state;
	trmx_error err;
	trmx_report *r = NULL;
	assert_trmx_ok(trmx_report_build(&r, f->home, NULL, &err), err);
	sqlite3 *db = open_log(f);
	const trmx_report_info *in = trmx_report_info_get(r);
	assert_int_equal(in->runs, 300);
	assert_int_equal(in->learners, (int64_t)qd(db, "SELECT count(DISTINCT learner) FROM runs"));
	assert_int_equal(trmx_report_group_count(r),
			 (size_t)qd(db, "SELECT count(*) FROM (SELECT DISTINCT coalesce(context, ''), "
					"module, version FROM runs)"));
	for (size_t i = 0; i < trmx_report_group_count(r); i++) {
		const trmx_report_group *g = trmx_report_group_at(r, i);
		char *w = sqlite3_mprintf("coalesce(r.context, '') = %Q AND r.module = %Q AND r.version = %Q", g->context,
					  g->module, g->module_version);
		assert_int_equal(g->runs, (int64_t)qd(db, "SELECT count(*) FROM runs r WHERE %s", w));
		assert_int_equal(g->learners, (int64_t)qd(db, "SELECT count(DISTINCT learner) FROM runs r WHERE %s", w));
		assert_int_equal(g->judged, (int64_t)qd(db, "SELECT count(" BEST ") FROM runs r WHERE %s", w));
		assert_int_equal(g->correct, (int64_t)qd(db, "SELECT total(" BEST ") FROM runs r WHERE %s", w));
		assert_float_equal(g->mean_steps, qd(db, "SELECT avg(steps) FROM runs r WHERE %s", w), 1e-9);
		int64_t n = (int64_t)qd(db, "SELECT count(latency_ms) FROM runs r WHERE %s", w);
		/* nearest rank: the value at rank ceil(q n) */
		assert_float_equal(g->latency_p50,
				   qd(db,
				      "SELECT latency_ms FROM runs r WHERE %s ORDER BY latency_ms LIMIT 1 "
				      "OFFSET %lld",
				      w, (long long)((n + 1) / 2 - 1)),
				   1e-9);
		assert_float_equal(g->latency_p95,
				   qd(db,
				      "SELECT latency_ms FROM runs r WHERE %s ORDER BY latency_ms LIMIT 1 "
				      "OFFSET %lld",
				      w, (long long)((95 * n + 99) / 100 - 1)),
				   1e-9);
		assert_int_equal(g->corrections,
				 (int64_t)qd(db,
					     "SELECT count(*) FROM feedback f JOIN runs r ON r.id = f.run_id "
					     "WHERE f.expected IS NOT NULL AND f.source IN ('learner', "
					     "'instructor') AND %s",
					     w));
		for (int s = 0; s <= g->steps_max; s++)
			assert_int_equal(g->steps_hist[s],
					 (int64_t)qd(db, "SELECT count(*) FROM runs r WHERE %s AND steps = %d", w, s));
		/* the view run_verdicts states the same rule */
		assert_int_equal(g->correct, (int64_t)qd(db,
							 "SELECT total(v.correct) FROM run_verdicts v JOIN runs r ON r.id = "
							 "v.run_id WHERE %s",
							 w));
		sqlite3_free(w);
	}
	/* calibration: tenths of halt confidence per version */
	for (size_t i = 0; i < trmx_report_version_count(r); i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		assert_int_equal(v->bins, 10);
		for (int b = 0; b < v->bins; b++) {
			const trmx_report_bin *bin = &v->calibration[b];
			char *w = sqlite3_mprintf("r.version = %Q AND min(CAST(r.halt_confidence "
						  "* 10 AS INTEGER), 9) = %d",
						  v->module_version, b);
			assert_int_equal(bin->runs, (int64_t)qd(db, "SELECT count(*) FROM runs r WHERE %s", w));
			assert_int_equal(bin->judged, (int64_t)qd(db, "SELECT count(" BEST ") FROM runs r WHERE %s", w));
			assert_int_equal(bin->correct, (int64_t)qd(db, "SELECT total(" BEST ") FROM runs r WHERE %s", w));
			if (bin->runs)
				assert_float_equal(bin->mean_confidence,
						   qd(db, "SELECT avg(halt_confidence) FROM runs r WHERE %s", w), 1e-9);
			sqlite3_free(w);
		}
	}
	/* the canary of course/a: intervals by the formula, and the verdict */
	assert_int_equal(trmx_report_canary_count(r), 1);
	const trmx_report_canary *c = trmx_report_canary_at(r, 0);
	assert_string_equal(c->context, "course/a");
	assert_string_equal(c->canary.module_version, "1.1.0");
	assert_string_equal(c->champion.module_version, "1.0.0");
	const trmx_report_arm *arms[2] = { &c->champion, &c->canary };
	for (int a = 0; a < 2; a++) {
		const char *w = a ? "r.arm = 'canary' AND r.version = '1.1.0'" : "r.arm = 'main' AND r.version = '1.0.0'";
		int64_t n = (int64_t)qd(db, "SELECT count(" BEST ") FROM runs r WHERE r.context = 'course/a' AND %s", w);
		int64_t k = (int64_t)qd(db, "SELECT total(" BEST ") FROM runs r WHERE r.context = 'course/a' AND %s", w);
		assert_int_equal(arms[a]->judged, n);
		assert_int_equal(arms[a]->correct, k);
		double p = (double)k / (double)n, z = 1.959963984540054;
		double centre = (p + z * z / (2 * n)) / (1 + z * z / n);
		double half = z / (1 + z * z / n) * sqrt(p * (1 - p) / n + z * z / (4.0 * n * n));
		assert_float_equal(arms[a]->accuracy_low, centre - half, 1e-12);
		assert_float_equal(arms[a]->accuracy_high, centre + half, 1e-12);
	}
	trmx_canary_verdict want = c->canary.accuracy_low > c->champion.accuracy_high	? TRMX_CANARY_BETTER
				   : c->canary.accuracy_high < c->champion.accuracy_low ? TRMX_CANARY_WORSE
											: TRMX_CANARY_UNKNOWN;
	assert_int_equal(c->verdict, want);
	sqlite3_close(db);

	/* a window and a context filter */
	trmx_report *r2 = NULL;
	trmx_report_options o = TRMX_REPORT_OPTIONS_INIT;
	o.context = "course/b";
	o.since_ms = f->t0 + 100 * 60000;
	o.until_ms = f->t0 + 200 * 60000;
	assert_trmx_ok(trmx_report_build(&r2, f->home, &o, &err), err);
	int64_t want_runs = 0;
	for (int i = 100; i < 200; i++)
		want_runs += i % 11 != 0 && i % 3 == 0;
	assert_int_equal(trmx_report_info_get(r2)->runs, want_runs);
	trmx_report_free(r2);
	/* one learner (trmx report --learner): that pseudonym's runs only; options of version 1,
	 * which end before the learner, are still taken and count every learner */
	o = (trmx_report_options)TRMX_REPORT_OPTIONS_INIT;
	o.learner = f->alice;
	assert_trmx_ok(trmx_report_build(&r2, f->home, &o, &err), err);
	db = open_log(f);
	assert_int_equal(trmx_report_info_get(r2)->runs,
			 (int64_t)qd(db, "SELECT count(*) FROM runs WHERE learner = '%s'", f->alice));
	assert_int_equal(trmx_report_info_get(r2)->learners, 1);
	assert_string_equal(trmx_report_info_get(r2)->learner, f->alice);
	trmx_report_free(r2);
	o.version = 1;
	assert_trmx_ok(trmx_report_build(&r2, f->home, &o, &err), err);
	assert_int_equal(trmx_report_info_get(r2)->runs, (int64_t)qd(db, "SELECT count(*) FROM runs"));
	assert_null(trmx_report_info_get(r2)->learner);
	sqlite3_close(db);
	trmx_report_free(r2);
	o = (trmx_report_options)TRMX_REPORT_OPTIONS_INIT;
	o.bins = 1000;
	assert_trmx_error(trmx_report_build(&r2, f->home, &o, &err), err, TRMX_EINVAL, "bins");
	trmx_report_free(r);
}

/* Count the occurrences of `needle` in [p, end). */
static int count_in(const char *p, const char *end, const char *needle)
{
	int n = 0;
	for (; (p = strstr(p, needle)) && p < end; p++)
		n++;
	return n;
}

/* Well-formed XML by an independent parser (xmllint, else Python's), and one
 * SVG chart per figure, each as wide as the page, one series per module
 * version (a second module with the same version number is not lumped with
 * the first), the runs of each calibration bin, and the canary's verdict. */
static void test_report_html(void **state)
{
	struct fx *f = *state;
	trmx_error err;
	trmx_report *r = NULL;
	{ /* a second module whose version number is sudoku4's: its series stay its own */
		trmx_log_db *log = NULL;
		assert_trmx_ok(trmx_log_open(&log, f->home, NULL, &err), err);
		for (int i = 0; i < 6; i++) {
			trmx_run_record m = TRMX_RUN_RECORD_INIT;
			trmx_uuid7(m.id);
			m.time_ms = f->t0 + (int64_t)i * 60000 + 7;
			m.context = "course/maze";
			m.target = m.module = "maze";
			m.module_version = "1.0.0";
			m.digest = "3333333333333333333333333333333333333333333333333333333333333333";
			m.engine = "trm 1.0.0";
			m.task = "maze";
			m.task_params = "size=4";
			m.input = "S..#..#....#...G";
			m.output = "Sooo..#....#...G";
			m.halt = TRMX_HALT_ADAPTIVE;
			m.steps = 3 + i;
			m.q_halt = 1.0 + i;
			m.latency_ms = 4;
			m.status = TRMX_RUN_HALTED;
			assert_trmx_ok(trmx_log_append(log, &m, 1, NULL, &err), err);
			add_feedback(log, m.id, m.time_ms + 1, TRMX_FEEDBACK_CHECKER,
				     i % 2 ? TRMX_FEEDBACK_CORRECT : TRMX_FEEDBACK_INCORRECT, NULL, NAN);
		}
		trmx_log_free(log);
	}
	assert_trmx_ok(trmx_report_build(&r, f->home, NULL, &err), err);
	size_t nv = trmx_report_version_count(r);
	assert_int_equal(nv, 3); /* sudoku4 1.0.0, sudoku4 1.1.0, maze 1.0.0 */
	char *path = tu_path(f->home, "report.html");
	FILE *fp = fopen(path, "w");
	assert_trmx_ok(trmx_report_write(r, TRMX_REPORT_HTML, NULL, fp, &err), err);
	fclose(fp);
	char *cmd = NULL;
	assert_true(asprintf(&cmd,
			     "if command -v xmllint >/dev/null 2>&1; then xmllint --noout '%s'; "
			     "else python3 -c 'import sys, xml.dom.minidom; "
			     "xml.dom.minidom.parse(sys.argv[1])' '%s'; fi",
			     path, path) > 0);
	assert_int_equal(system(cmd), 0);
	free(cmd);
	char *html = tu_read_file(path, NULL);
	static const char *const charts[] = { "id=\"chart-accuracy\"", "id=\"chart-steps\"", "id=\"chart-calibration\"",
					      "id=\"chart-canary\"" };
	int svgs = 0;
	for (const char *p = html; (p = strstr(p, "<svg ")); p++)
		svgs++;
	assert_int_equal(svgs, 4); /* the canary's chart: the fixture has one */
	for (int i = 0; i < 4; i++) {
		const char *fig = strstr(html, charts[i]);
		assert_non_null(fig);
		assert_null(strstr(fig + 1, charts[i])); /* exactly one */
		const char *end = strstr(fig, "</figure>"), *svg = strstr(fig, "<svg ");
		assert_true(svg && end && svg < end);
		/* as wide as the page, scaled by its viewBox: no fixed pixel size */
		const char *tag_end = strchr(svg, '>');
		assert_true(count_in(svg, tag_end, "width=\"100%\"") == 1 && count_in(svg, tag_end, "viewBox=\"0 0 ") == 1);
		assert_int_equal(count_in(svg, tag_end, "height="), 0);
		/* drawn from the data: lines or bars inside the chart */
		const char *mark = strstr(svg, i == 1 ? "<rect x" : i == 3 ? "<line class=\"interval\"" : "<polyline");
		assert_true(mark && mark < end);
		if (i == 3)
			continue;
		/* one series per module version, the two 1.0.0s apart */
		assert_int_equal(count_in(svg, end, "<g class=\"series\""), (int)nv);
		assert_int_equal(count_in(svg, end, "<g class=\"series\" data-module=\"maze\" data-version=\"1.0.0\">"), 1);
		assert_int_equal(count_in(svg, end, "<g class=\"series\" data-module=\"sudoku4\" data-version=\"1.0.0\">"),
				 1);
	}
	/* the calibration chart: each bin's runs as a bar and its judged count beside the point */
	const char *cal = strstr(html, charts[2]), *cal_end = strstr(cal, "</figure>");
	int want_bars = 0, want_counts = 0;
	for (size_t i = 0; i < nv; i++) {
		const trmx_report_version *v = trmx_report_version_at(r, i);
		for (int k = 0; k < v->bins; k++) {
			want_bars += v->calibration[k].runs > 0;
			want_counts += v->calibration[k].judged > 0 && !isnan(v->calibration[k].mean_confidence);
		}
	}
	assert_true(want_bars > 2 && want_counts > 2);
	assert_int_equal(count_in(cal, cal_end, "<rect class=\"bin-runs\""), want_bars);
	assert_int_equal(count_in(cal, cal_end, "<text class=\"bin-count\""), want_counts);
	assert_non_null(strstr(html, "<table id=\"calibration\">"));
	/* the canary's verdict, marked on its chart */
	const trmx_report_canary *k = trmx_report_canary_at(r, 0);
	char verdict[128];
	snprintf(verdict, sizeof verdict, "<g class=\"canary\" data-verdict=\"%s\">",
		 k->verdict == TRMX_CANARY_BETTER  ? "better"
		 : k->verdict == TRMX_CANARY_WORSE ? "worse"
						   : "unknown");
	const char *can = strstr(html, charts[3]);
	assert_non_null(strstr(can, verdict));
	snprintf(verdict, sizeof verdict, "course/a: the canary is %s", trmx_canary_verdict_name(k->verdict));
	assert_non_null(strstr(can, verdict));
	assert_null(strstr(html, "<script"));
	assert_null(strstr(html, "src=\"http")); /* nothing fetched from a network */
	assert_null(strstr(html, "href=\"http"));
	free(html);
	/* the other formats: JSON parses, CSV tables have their header */
	fp = fopen(path, "w");
	assert_trmx_ok(trmx_report_write(r, TRMX_REPORT_JSON, NULL, fp, &err), err);
	fclose(fp);
	json_error_t je;
	json_t *j = json_load_file(path, 0, &je);
	assert_non_null(j);
	assert_int_equal(json_integer_value(json_object_get(j, "runs")), 306); /* and the maze's 6 */
	json_decref(j);
	assert_trmx_error(trmx_report_write(r, TRMX_REPORT_CSV, "nosuch", stdout, &err), err, TRMX_EINVAL, "table");
	trmx_report_free(r);
	free(path);
}

static void test_wilson_and_verdicts(void **state)
{
	(void)state;
	double lo, hi;
	trmx_wilson_interval(8, 10, 1.959963984540054, &lo, &hi);
	assert_float_equal(lo, 0.4901624, 1e-6); /* published values for 8 of 10 */
	assert_float_equal(hi, 0.9433178, 1e-6);
	trmx_wilson_interval(0, 0, 1.96, &lo, &hi);
	assert_float_equal(lo, 0, 0);
	assert_float_equal(hi, 1, 0);
	int64_t need = 0;
	assert_int_equal(trmx_canary_compare(50, 100, 90, 100, &need), TRMX_CANARY_BETTER);
	assert_int_equal(need, 0);
	assert_int_equal(trmx_canary_compare(90, 100, 50, 100, NULL), TRMX_CANARY_WORSE);
	assert_int_equal(trmx_canary_compare(7, 10, 8, 10, &need), TRMX_CANARY_UNKNOWN);
	assert_true(need > 0);
	/* the estimate agrees with the rule: at that many more runs, split as so far,
	 * they separate */
	int64_t m = 10 + need / 2, c = 10 + need - need / 2;
	double ml, mh, cl, ch;
	trmx_wilson_interval((int64_t)llround(0.7 * (double)m), m, 1.959963984540054, &ml, &mh);
	trmx_wilson_interval((int64_t)llround(0.8 * (double)c), c, 1.959963984540054, &cl, &ch);
	assert_true(cl > mh - 0.01);
	assert_int_equal(trmx_canary_compare(5, 10, 5, 10, &need), TRMX_CANARY_UNKNOWN);
	assert_int_equal(need, -1);
}

/* ---- xAPI 1.0.3 rules
 * ------------------------------------------------------------------------ */

static bool re(const char *pattern, const char *s)
{
	regex_t rx;
	assert_int_equal(regcomp(&rx, pattern, REG_EXTENDED | REG_NOSUB), 0);
	bool ok = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

#define UUID_RE                                                                                                             \
	"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[1-8][0-9a-fA-F]{3}-[89abAB][0-9a-fA-F]{3}-"                                        \
	"[0-9a-fA-F]{12}$"
#define IRI_RE "^[a-zA-Z][a-zA-Z0-9+.-]*:[^ \"<>{}|\\^`]+$"
#define TS_RE                                                                                                               \
	"^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]+)?(Z|[+-]["                                        \
	"0-9]{2}:[0-9]{2})$"
#define DUR_RE                                                                                                              \
	"^P(([0-9]+Y)?([0-9]+M)?([0-9]+D)?(T([0-9]+H)?([0-9]+M)?([0-9]+(\\.[0-9]+)?"                                        \
	"S)?)?|[0-9]+W)$"

static void only_keys(json_t *o, const char *const *keys, const char *what)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v)
	{
		bool ok = false;
		for (const char *const *p = keys; *p && !ok; p++)
			ok = !strcmp(*p, k);
		if (!ok)
			fail_msg("%s has a property '%s' xAPI 1.0.3 does not define", what, k);
	}
}

static void lang_map(json_t *m)
{
	assert_true(json_is_object(m) && json_object_size(m) > 0);
	const char *k;
	json_t *v;
	json_object_foreach(m, k, v)
	{
		assert_true(re("^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$", k));
		assert_true(json_is_string(v));
	}
}

static void extensions(json_t *x)
{
	if (!x)
		return;
	assert_true(json_is_object(x));
	const char *k;
	json_t *v;
	json_object_foreach(x, k, v) assert_true(re(IRI_RE, k));
}

/* One statement against the rules of xAPI 1.0.3 (Part Two, "Statement"):
 * required properties, the id a UUID (RFC 4122 variant), the actor an Agent
 * with exactly one identifier, IRIs where IRIs go, language maps, result's
 * score.scaled in [-1, 1] and raw within min/max, an ISO 8601 duration, an ISO
 * 8601 timestamp, context.platform only with an Activity. */
static void check_statement(json_t *s, const char *line)
{
	static const char *const top[] = { "id",	"actor",  "verb",      "object",  "result",	 "context",
					   "timestamp", "stored", "authority", "version", "attachments", NULL };
	only_keys(s, top, "statement");
	json_t *id = json_object_get(s, "id"), *actor = json_object_get(s, "actor"), *verb = json_object_get(s, "verb"),
	       *obj = json_object_get(s, "object"), *res = json_object_get(s, "result"),
	       *ctx = json_object_get(s, "context"), *ts = json_object_get(s, "timestamp");
	if (!json_is_string(id) || !re(UUID_RE, json_string_value(id)))
		fail_msg("no UUID id: %s", line);
	/* actor: an Agent with one inverse functional identifier, here an account */
	assert_true(json_is_object(actor));
	static const char *const agent[] = { "objectType", "name", "mbox", "mbox_sha1sum", "openid", "account", NULL };
	only_keys(actor, agent, "actor");
	assert_string_equal(json_string_value(json_object_get(actor, "objectType")), "Agent");
	int ifis = !!json_object_get(actor, "mbox") + !!json_object_get(actor, "mbox_sha1sum") +
		   !!json_object_get(actor, "openid") + !!json_object_get(actor, "account");
	assert_int_equal(ifis, 1);
	json_t *acc = json_object_get(actor, "account");
	static const char *const account[] = { "homePage", "name", NULL };
	only_keys(acc, account, "account");
	assert_true(re(IRI_RE, json_string_value(json_object_get(acc, "homePage"))));
	assert_true(json_string_length(json_object_get(acc, "name")) > 0);
	/* verb */
	static const char *const vk[] = { "id", "display", NULL };
	only_keys(verb, vk, "verb");
	assert_true(re(IRI_RE, json_string_value(json_object_get(verb, "id"))));
	lang_map(json_object_get(verb, "display"));
	/* object */
	const char *ot = json_string_value(json_object_get(obj, "objectType"));
	bool activity = !ot || !strcmp(ot, "Activity");
	if (activity) {
		static const char *const ak[] = { "objectType", "id", "definition", NULL };
		only_keys(obj, ak, "activity");
		assert_true(re(IRI_RE, json_string_value(json_object_get(obj, "id"))));
		json_t *def = json_object_get(obj, "definition");
		static const char *const dk[] = { "name",
						  "description",
						  "type",
						  "moreInfo",
						  "extensions",
						  "interactionType",
						  "correctResponsesPattern",
						  "choices",
						  "scale",
						  "source",
						  "target",
						  "steps",
						  NULL };
		only_keys(def, dk, "definition");
		lang_map(json_object_get(def, "name"));
		assert_true(re(IRI_RE, json_string_value(json_object_get(def, "type"))));
		const char *it = json_string_value(json_object_get(def, "interactionType"));
		assert_true(!it || re("^(true-false|choice|fill-in|long-fill-in|matching|"
				      "performance|sequencing|likert|numeric|other)$",
				      it));
	} else {
		assert_string_equal(ot, "StatementRef");
		static const char *const rk[] = { "objectType", "id", NULL };
		only_keys(obj, rk, "StatementRef");
		assert_true(re(UUID_RE, json_string_value(json_object_get(obj, "id"))));
	}
	/* result */
	if (res) {
		static const char *const rk[] = { "score",    "success",    "completion", "response",
						  "duration", "extensions", NULL };
		only_keys(res, rk, "result");
		json_t *sc = json_object_get(res, "score");
		if (sc) {
			static const char *const sk[] = { "scaled", "raw", "min", "max", NULL };
			only_keys(sc, sk, "score");
			json_t *scaled = json_object_get(sc, "scaled");
			if (scaled) {
				assert_true(json_is_number(scaled));
				double v = json_number_value(scaled);
				if (!(v >= -1 && v <= 1))
					fail_msg("score.scaled %g outside [-1, 1]: %s", v, line);
			}
		}
		json_t *b = json_object_get(res, "success");
		assert_true(!b || json_is_boolean(b));
		b = json_object_get(res, "completion");
		assert_true(!b || json_is_boolean(b));
		json_t *r = json_object_get(res, "response");
		assert_true(!r || json_is_string(r));
		json_t *d = json_object_get(res, "duration");
		if (d && !re(DUR_RE, json_string_value(d)))
			fail_msg("duration '%s' is not ISO 8601: %s", json_string_value(d), line);
		extensions(json_object_get(res, "extensions"));
	}
	/* context */
	if (ctx) {
		static const char *const ck[] = { "registration", "instructor", "team",	     "contextActivities", "revision",
						  "platform",	  "language",	"statement", "extensions",	  NULL };
		only_keys(ctx, ck, "context");
		if (!activity && (json_object_get(ctx, "platform") || json_object_get(ctx, "revision")))
			fail_msg("context.platform or revision with an object that is not an "
				 "Activity: %s",
				 line);
		json_t *team = json_object_get(ctx, "team"); /* xAPI: a Group, identified or with members */
		if (team) {
			static const char *const gk[] = { "objectType",	  "name",   "member",  "mbox",
							  "mbox_sha1sum", "openid", "account", NULL };
			only_keys(team, gk, "context.team");
			assert_string_equal(json_string_value(json_object_get(team, "objectType")), "Group");
			int gi = !!json_object_get(team, "mbox") + !!json_object_get(team, "mbox_sha1sum") +
				 !!json_object_get(team, "openid") + !!json_object_get(team, "account");
			assert_true(gi == 1 || (gi == 0 && json_is_array(json_object_get(team, "member"))));
		}
		extensions(json_object_get(ctx, "extensions"));
	}
	/* Who did what (schemas/xapi.md): a run's statement is the learner asking and the module
	 * answering. The module's answer and its verdict are never the learner's result (no success,
	 * score or response), and the module version is named in context.team. */
	if (activity) {
		const char *vid = json_string_value(json_object_get(verb, "id"));
		if (strstr(vid, "/verbs/answered"))
			fail_msg("a run's statement says the learner answered: %s", line);
		assert_true(re("/xapi/verbs/requested-solution$", vid));
		if (res &&
		    (json_object_get(res, "success") || json_object_get(res, "score") || json_object_get(res, "response")))
			fail_msg("a run's statement credits the learner with the module's answer: %s", line);
		json_t *team = ctx ? json_object_get(ctx, "team") : NULL;
		json_t *tacc = team ? json_object_get(team, "account") : NULL;
		if (!tacc || !re("/modules$", json_string_value(json_object_get(tacc, "homePage"))) ||
		    !strchr(json_string_value(json_object_get(tacc, "name")), '@'))
			fail_msg("a run's statement does not name the module version that answered (context.team): %s",
				 line);
		assert_true(re("/learners$", json_string_value(json_object_get(acc, "homePage"))));
	}
	if (!json_is_string(ts) || !re(TS_RE, json_string_value(ts)))
		fail_msg("timestamp not ISO 8601: %s", line);
}

/* Export, check every statement, and return the ids in order (malloc'd, n in
 * *n). */
static char **export_checked(struct fx *f, const trmx_xapi_options *o, size_t *n, const char *save_as)
{
	trmx_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	trmx_export_result res;
	assert_trmx_ok(trmx_export_xapi(f->home, o, fp, &res, &err), err);
	fclose(fp);
	if (save_as) { /* for tools/xapi_validate.sh after the tests */
		char *dir = NULL, *path = NULL;
		assert_true(asprintf(&dir, "%s/tests/xapi", build_dir) > 0);
		mkdir(dir, 0755);
		assert_true(asprintf(&path, "%s/%s", dir, save_as) > 0);
		assert_int_equal(tu_write_text(path, text), 0);
		free(dir), free(path);
	}
	char **ids = calloc((size_t)(res.runs + res.feedback) + 1, sizeof *ids);
	size_t k = 0;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		json_error_t je;
		json_t *s = json_loads(line, 0, &je);
		if (!s)
			fail_msg("not JSON: %s: %s", je.text, line);
		check_statement(s, line);
		assert_true(k < (size_t)(res.runs + res.feedback));
		ids[k++] = strdup(json_string_value(json_object_get(s, "id")));
		json_decref(s);
	}
	assert_int_equal(k, (size_t)(res.runs + res.feedback));
	free(text);
	*n = k;
	return ids;
}

static void test_xapi_statements(void **state)
{
	struct fx *f = *state;
	size_t n1, n2;
	char **a = export_checked(f, NULL, &n1, "test_analytics.jsonl");
	trmx_xapi_options o = TRMX_XAPI_OPTIONS_INIT;
	o.base = "https://lrs.example.org/trmx";
	char **b = export_checked(f, &o, &n2, "test_analytics_base.jsonl");
	sqlite3 *db = open_log(f);
	assert_int_equal(n1, (size_t)qd(db, "SELECT (SELECT count(*) FROM runs) + "
					    "(SELECT count(*) FROM feedback)"));
	sqlite3_close(db);
	assert_int_equal(n1, n2);
	for (size_t i = 0; i < n1; i++) {
		assert_string_equal(a[i], b[i]); /* stable: the same rows give the same ids */
		for (size_t j = i + 1; j < n1 && j < i + 50; j++)
			assert_string_not_equal(a[i], a[j]);
	}
	/* a window: only runs at or after since */
	o = (trmx_xapi_options)TRMX_XAPI_OPTIONS_INIT;
	o.since_ms = f->t0 + 250 * 60000;
	size_t n3;
	char **c = export_checked(f, &o, &n3, NULL);
	assert_true(n3 > 0 && n3 < n1 / 4);
	for (size_t i = 0; i < n1; i++)
		free(a[i]), free(b[i]);
	for (size_t i = 0; i < n3; i++)
		free(c[i]);
	free(a), free(b), free(c);
	trmx_error err;
	o.base = "not an iri";
	assert_trmx_error(trmx_export_xapi(f->home, &o, stdout, NULL, &err), err, TRMX_EINVAL, "base");
}

static void test_dataset_export(void **state)
{
	struct fx *f = *state;
	trmx_error err;
	char *text = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);
	trmx_dataset_export_options o = TRMX_DATASET_EXPORT_OPTIONS_INIT;
	o.module = "sudoku4";
	trmx_export_result res;
	assert_trmx_ok(trmx_export_dataset(f->home, &o, fp, &res, &err), err);
	fclose(fp);
	sqlite3 *db = open_log(f);
	assert_int_equal(res.runs, (int64_t)qd(db, "SELECT count(*) FROM feedback WHERE "
						   "expected IS NOT NULL AND source IN "
						   "('learner', 'instructor')"));
	int64_t distinct = (int64_t)qd(db, "SELECT count(DISTINCT r.input) FROM feedback f JOIN "
					   "runs r ON r.id = f.run_id "
					   "WHERE f.expected IS NOT NULL");
	sqlite3_close(db);
	assert_int_equal(res.rows, distinct);
	assert_int_equal(res.duplicates, res.runs - distinct);
	assert_int_equal(res.rejected, 0);
	assert_true(!strncmp(text, "puzzle,solution\n", 16));
	int lines = 0;
	for (char *p = text; *p; p++)
		lines += *p == '\n';
	assert_int_equal(lines, 1 + distinct);
	free(text);
	o.module = NULL;
	assert_trmx_error(trmx_export_dataset(f->home, &o, stdout, NULL, &err), err, TRMX_EINVAL, "module");
}

static void test_sql_read_only(void **state)
{
	if (pg_url)
		skip(); /* about log.db itself: trmx sql on a central log is tests/pg/central.sh's */
	struct fx *f = *state;
	trmx_error err;
	char *text = NULL;
	size_t len = 0;
	int64_t rows = 0;
	FILE *fp = open_memstream(&text, &len);
	assert_trmx_ok(trmx_sql_query(f->home, "SELECT arm, count(*) AS n FROM runs GROUP BY arm ORDER BY arm", TRMX_SQL_CSV, 0,
				      fp, &rows, &err),
		       err);
	fclose(fp);
	assert_int_equal(rows, 2);
	int canary = 0; /* as setup made them */
	for (int i = 0; i < 300; i++)
		canary += i % 11 != 0 && i % 3 != 0 && i % 2 == 0;
	char want[64];
	snprintf(want, sizeof want, "arm,n\ncanary,%d\nmain,%d\n", canary, 300 - canary);
	assert_string_equal(text, want);
	free(text);
	/* issue 24, item 8: text a spreadsheet would run as a formula gets a leading quote; numbers,
	 * negative ones too, stay numbers */
	fp = open_memstream(&text, &len);
	assert_trmx_ok(trmx_sql_query(f->home, "SELECT '=HYPERLINK(\"http://x\")' AS a, '+1' AS b, '-2' AS c, '@SUM(A1)' AS d, "
				      "char(9) || 'x' AS e, char(13) AS g, -5 AS h, -2.5 AS i, 'a=b' AS j, '' AS k",
				      TRMX_SQL_CSV, 0, fp, &rows, &err),
		       err);
	fclose(fp);
	assert_string_equal(text, "a,b,c,d,e,g,h,i,j,k\n\"'=HYPERLINK(\"\"http://x\"\")\",\"'+1\",\"'-2\",\"'@SUM(A1)\","
				  "\"'\tx\",\"'\r\",-5,-2.5,a=b,\n");
	free(text);
	static const char *const refused[] = { "DELETE FROM runs",	     "UPDATE runs SET arm = 'main'",
					       "DROP VIEW run_outcomes",     "ATTACH 'x.db' AS x",
					       "SELECT 1; DELETE FROM runs", "PRAGMA journal_mode = DELETE",
					       "SELECT load_extension('x')", "   " };
	for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
		int rc = trmx_sql_query(f->home, refused[i], TRMX_SQL_TABLE, 0, stdout, NULL, &err);
		if (rc != TRMX_EINVAL)
			fail_msg("'%s' was not refused (%d)", refused[i], rc);
	}
	sqlite3 *db = open_log(f);
	assert_int_equal((int64_t)qd(db, "SELECT count(*) FROM runs"), 300);
	sqlite3_close(db);
}

/* Issue 24, item 5: no pointer functions, a time limit, a value-size limit, no migration. */
static void test_sql_limits(void **state)
{
	if (pg_url)
		skip(); /* about log.db itself: trmx sql on a central log is tests/pg/central.sh's */
	struct fx *f = *state;
	trmx_error err;
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(devnull);
	static const char *const unsafe[] = { "SELECT fts3_tokenizer('simple')", "SELECT hex(FTS3_TOKENIZER('porter'))" };
	for (size_t i = 0; i < sizeof unsafe / sizeof *unsafe; i++)
		assert_trmx_error(trmx_sql_query(f->home, unsafe[i], TRMX_SQL_CSV, 0, devnull, NULL, &err), err, TRMX_EINVAL,
				  "not authorized");
	double t0 = trmx_mono_s();
	assert_trmx_error(trmx_sql_query(f->home, "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) "
						  "SELECT count(*) FROM c",
					 TRMX_SQL_CSV, 300, devnull, NULL, &err),
			  err, TRMX_ELIMIT, "stopped after");
	assert_true(trmx_mono_s() - t0 < 5.0);
	assert_trmx_error(trmx_sql_query(f->home, "SELECT length(zeroblob(1000000000))", TRMX_SQL_CSV, 0, devnull, NULL, &err),
			  err, TRMX_ELIMIT, "at most");
	assert_trmx_error(trmx_sql_query(f->home, "SELECT length(replace(hex(zeroblob(9000000)), '0', '00'))", TRMX_SQL_CSV, 0,
					 devnull, NULL, &err),
			  err, TRMX_ELIMIT, "at most");
	fclose(devnull);
	/* an older log is not migrated by a reader: it says what to run, and leaves the file as it was */
	sqlite3 *db = open_log(f);
	int have = (int)qd(db, "PRAGMA user_version");
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 1", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_trmx_error(trmx_sql_query(f->home, "SELECT 1", TRMX_SQL_CSV, 0, stdout, NULL, &err), err, TRMX_EVERSION,
			  "trmx log migrate");
	db = open_log(f);
	assert_int_equal((int)qd(db, "PRAGMA user_version"), 1);
	char *set = sqlite3_mprintf("PRAGMA user_version = %d", have);
	assert_int_equal(sqlite3_exec(db, set, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(set);
	sqlite3_close(db);
}

/* Every row of every table of a database that mentions `needle` in any column.
 */
static int64_t mentions(const char *path, const char *needle)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *t = NULL;
	int64_t hits = 0;
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(db, "SELECT name FROM sqlite_master WHERE type = 'table'", -1, &t, NULL),
			 SQLITE_OK);
	while (sqlite3_step(t) == SQLITE_ROW) {
		char *sql = sqlite3_mprintf("SELECT * FROM \"%w\"", (const char *)sqlite3_column_text(t, 0));
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
		while (sqlite3_step(st) == SQLITE_ROW)
			for (int i = 0; i < sqlite3_column_count(st); i++) {
				const unsigned char *v = sqlite3_column_text(st, i);
				hits += v && strstr((const char *)v, needle) != NULL;
			}
		sqlite3_finalize(st);
		sqlite3_free(sql);
	}
	sqlite3_finalize(t);
	sqlite3_close(db);
	return hits;
}

/* mentions() over the log: every table of log.db; with a central log, a fresh copy of its runs,
 * feedback and erasures only (log_file copies those three tables). */
static int64_t mentions_log(struct fx *f, const char *needle)
{
	char *p = log_file(f);
	int64_t n = mentions(p, needle);
	free(p);
	return n;
}

static void test_erase_learner(void **state)
{
	struct fx *f = *state;
	trmx_error err;
	/* a module database with rows by run and by learner */
	char *data = tu_path(f->home, "data"), *mdb = tu_path(data, "sudoku4.db"), *logp = tu_path(f->home, "log.db");
	mkdir(data, 0755);
	sqlite3 *db = NULL, *log = open_log(f);
	assert_int_equal(sqlite3_open(mdb, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE hints (id INTEGER PRIMARY KEY, "
				      "run_id TEXT, cell INTEGER);"
				      "CREATE TABLE notes (learner TEXT, note TEXT);",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(log, "SELECT id, learner FROM runs", -1, &st, NULL), SQLITE_OK);
	int64_t module_rows = 0;
	while (sqlite3_step(st) == SQLITE_ROW) {
		char *sql = sqlite3_mprintf("INSERT INTO hints (run_id, cell) VALUES (%Q, 3); "
					    "INSERT INTO notes VALUES (%Q, 'n')",
					    sqlite3_column_text(st, 0), sqlite3_column_text(st, 1));
		assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
		sqlite3_free(sql);
		module_rows += 2;
	}
	sqlite3_finalize(st);
	sqlite3_close(db);
	int64_t runs = (int64_t)qd(log, "SELECT count(*) FROM runs"), fb = (int64_t)qd(log, "SELECT count(*) FROM feedback");
	int64_t a_runs = (int64_t)qd(log, "SELECT count(*) FROM runs WHERE learner = '%s'", f->alice);
	int64_t a_fb = (int64_t)qd(log,
				   "SELECT count(*) FROM feedback WHERE run_id IN "
				   "(SELECT id FROM runs WHERE learner = '%s')",
				   f->alice);
	int64_t b_runs = (int64_t)qd(log, "SELECT count(*) FROM runs WHERE learner = '%s'", f->bob);
	sqlite3_close(log);
	assert_true(a_runs > 10 && b_runs > 5);

	/* a dry run counts and changes nothing */
	trmx_erase_result r;
	assert_trmx_ok(trmx_erase_learner(f->home, f->alice, true, &r, &err), err);
	assert_int_equal(r.runs, a_runs);
	assert_int_equal(r.feedback, a_fb);
	assert_int_equal(r.module_rows, 2 * a_runs);
	assert_int_equal(r.record_id, 0);
	assert_true(mentions_log(f, f->alice) > 0);

	assert_trmx_ok(trmx_erase_learner(f->home, f->alice, false, &r, &err), err);
	assert_int_equal(r.runs, a_runs);
	assert_int_equal(r.feedback, a_fb);
	assert_int_equal(r.module_rows, 2 * a_runs);
	assert_int_equal(r.databases, 1);
	assert_true(r.record_id > 0);
	/* no row anywhere refers to alice: her pseudonym, or any of her runs' ids */
	assert_int_equal(mentions_log(f, f->alice), 0);
	assert_int_equal(mentions(mdb, f->alice), 0);
	log = open_log(f);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM runs"), runs - a_runs);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM feedback"), fb - a_fb);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM feedback WHERE "
					  "run_id NOT IN (SELECT id FROM runs)"),
			 0);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM runs WHERE learner = '%s'", f->bob), b_runs);
	assert_int_equal((int64_t)qd(log, "SELECT runs FROM erasures WHERE id = %lld", (long long)r.record_id), a_runs);
	assert_int_equal((int64_t)qd(log, "SELECT module_rows FROM erasures WHERE action = 'erase'"), 2 * a_runs);
	assert_true(isnan(qd(log, "SELECT criterion FROM erasures WHERE action = 'erase'")));
	sqlite3_close(log);
	assert_true(mentions(mdb, f->bob) > 0);
	db = NULL;
	assert_int_equal(sqlite3_open(mdb, &db), SQLITE_OK);
	assert_int_equal((int64_t)qd(db, "SELECT count(*) FROM hints") + (int64_t)qd(db, "SELECT count(*) FROM notes"),
			 module_rows - 2 * a_runs);
	sqlite3_close(db);
	/* nor does the file keep her pseudonym in a freed page or the write-ahead log (PostgreSQL
	 * keeps a deleted row's bytes until its pages are reused: VACUUM FULL, docs/SCHEMA.md) */
	if (!pg_url) {
		size_t n = 0;
		char *bytes = tu_read_file(logp, &n);
		assert_null(memmem(bytes, n, f->alice, strlen(f->alice)));
		free(bytes);
	}
	/* again: nothing left, recorded as zeros */
	assert_trmx_ok(trmx_erase_learner(f->home, f->alice, false, &r, &err), err);
	assert_int_equal(r.runs + r.feedback + r.module_rows, 0);
	assert_trmx_error(trmx_erase_learner(f->home, "alice", false, &r, &err), err, TRMX_EINVAL, "pseudonym");

	/* purge: every run before the 100th minute of the log */
	const char *cut = "2025-11-29T08:46:40.000Z"; /* t0 + 100 minutes */
	log = open_log(f);
	int64_t old = (int64_t)qd(log, "SELECT count(*) FROM runs WHERE time < '%s'", cut);
	int64_t old_fb = (int64_t)qd(log,
				     "SELECT count(*) FROM feedback WHERE run_id IN "
				     "(SELECT id FROM runs WHERE time < '%s')",
				     cut);
	int64_t kept = (int64_t)qd(log, "SELECT count(*) FROM runs WHERE time >= '%s'", cut);
	sqlite3_close(log);
	assert_true(old > 50);
	assert_trmx_ok(trmx_purge_before(f->home, f->t0 + 100 * 60000, false, &r, &err), err);
	assert_int_equal(r.runs, old);
	assert_int_equal(r.feedback, old_fb);
	assert_int_equal(r.module_rows, old); /* hints by run; notes have no run */
	log = open_log(f);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM runs WHERE time < '%s'", cut), 0);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM runs"), kept);
	assert_int_equal((int64_t)qd(log,
				     "SELECT count(*) FROM erasures WHERE action = "
				     "'purge' AND runs = %lld AND "
				     "criterion = 'runs before %s'",
				     (long long)old, cut),
			 1);
	sqlite3_close(log);
	assert_trmx_error(trmx_purge_before(f->home, 0, false, &r, &err), err, TRMX_EINVAL, "cutoff");
	free(data), free(mdb), free(logp);
}

/* Issue 24, item 1: a module database's own SQL takes no part in an erase. Its triggers (an older
 * trmx accepted them at install) neither keep a copy of the erased rows nor make the erase run
 * forever, and a pseudonym left in a column not named learner stops the erase of that database
 * rather than being kept while the erase reports success. */
static void test_erase_module_sql(void **state)
{
	struct fx *f = *state;
	trmx_error err;
	char *data = tu_path(f->home, "data"), *mdb = tu_path(data, "evil.db"), *logp = log_file(f);
	mkdir(data, 0755);
	sqlite3 *db = NULL, *log = NULL;
	assert_int_equal(sqlite3_open(logp, &log), SQLITE_OK);
	assert_int_equal(sqlite3_open(mdb, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db,
				      "CREATE TABLE hints (run_id TEXT, cell INTEGER);"
				      "CREATE TABLE notes (learner TEXT, note TEXT);"
				      "CREATE TABLE shadow (who TEXT, run TEXT);"
				      "CREATE TABLE junk (x);"
				      "CREATE TRIGGER keep AFTER DELETE ON notes BEGIN INSERT INTO shadow VALUES (old.learner, NULL); END;"
				      "CREATE TRIGGER keep_run AFTER DELETE ON hints BEGIN INSERT INTO shadow VALUES (NULL, old.run_id); END;"
				      "CREATE TRIGGER grow AFTER DELETE ON hints BEGIN INSERT INTO junk WITH RECURSIVE c(i) AS "
				      "(SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT zeroblob(1000) FROM c; END;",
				      NULL, NULL, NULL),
			 SQLITE_OK);
	char *sql = sqlite3_mprintf("INSERT INTO hints SELECT id, 3 FROM log.runs; INSERT INTO notes SELECT learner, 'n' "
				    "FROM log.runs WHERE learner IS NOT NULL");
	char *att = sqlite3_mprintf("ATTACH %Q AS log", logp);
	assert_int_equal(sqlite3_exec(db, att, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DETACH log", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(att);
	sqlite3_free(sql);
	sqlite3_close(db);
	int64_t a_runs = (int64_t)qd(log, "SELECT count(*) FROM runs WHERE learner = '%s'", f->alice);
	int64_t b_runs = (int64_t)qd(log, "SELECT count(*) FROM runs WHERE learner = '%s'", f->bob);
	sqlite3_close(log);

	/* the triggers do not run: the erase ends, and no copy of alice's rows is kept */
	trmx_erase_result r;
	int64_t t0 = trmx_now_ms();
	assert_trmx_ok(trmx_erase_learner(f->home, f->alice, false, &r, &err), err);
	assert_true(trmx_now_ms() - t0 < 20000);
	assert_int_equal(r.module_rows, 2 * a_runs);
	assert_int_equal(mentions(mdb, f->alice), 0);
	assert_int_equal(mentions_log(f, f->alice), 0);
	assert_int_equal(sqlite3_open(mdb, &db), SQLITE_OK);
	assert_int_equal((int64_t)qd(db, "SELECT count(*) FROM shadow") + (int64_t)qd(db, "SELECT count(*) FROM junk"), 0);
	sqlite3_close(db);
	/* a purge likewise */
	assert_trmx_ok(trmx_purge_before(f->home, f->t0 + 50 * 60000, false, &r, &err), err);
	assert_true(r.module_rows > 0);
	assert_int_equal(sqlite3_open(mdb, &db), SQLITE_OK);
	assert_int_equal((int64_t)qd(db, "SELECT count(*) FROM shadow") + (int64_t)qd(db, "SELECT count(*) FROM junk"), 0);

	/* bob's pseudonym kept in a column not named learner: the erase stops, and nothing of bob's
	 * goes from this database or from log.db */
	sql = sqlite3_mprintf("CREATE TABLE stash (who TEXT); INSERT INTO stash VALUES ('seen: %q')", f->bob);
	assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_free(sql);
	sqlite3_close(db);
	int64_t b_mod = mentions(mdb, f->bob);
	assert_trmx_error(trmx_erase_learner(f->home, f->bob, false, &r, &err), err, TRMX_EINTEGRITY,
			  "row of table stash still hold the learner's pseudonym");
	assert_int_equal(mentions(mdb, f->bob), b_mod);
	log = open_log(f);
	assert_int_equal((int64_t)qd(log, "SELECT count(*) FROM runs WHERE learner = '%s'", f->bob) > 0, b_runs > 0);
	sqlite3_close(log);
	free(data), free(mdb), free(logp);
}

static void test_time_and_duration(void **state)
{
	(void)state;
	trmx_error err;
	int64_t v;
	assert_trmx_ok(trmx_time_parse("2025-11-29T09:30:00.123Z", 0, &v, &err), err);
	assert_int_equal(v, 1764408600123);
	assert_trmx_ok(trmx_time_parse("7d", 1000000000000, &v, &err), err);
	assert_int_equal(v, 1000000000000 - 7 * 86400000LL);
	assert_trmx_ok(trmx_duration_parse("1d12h", &v, &err), err);
	assert_int_equal(v, 36 * 3600000LL);
	assert_trmx_error(trmx_time_parse("yesterday", 0, &v, &err), err, TRMX_EINVAL, "not a time");
	/* issue 24: no rolling over, no time before the epoch */
	assert_trmx_error(trmx_time_parse("2025-02-30", 0, &v, &err), err, TRMX_EINVAL, "not a time");
	assert_trmx_error(trmx_time_parse("2023-02-29", 0, &v, &err), err, TRMX_EINVAL, "not a time");
	assert_trmx_ok(trmx_time_parse("2024-02-29", 0, &v, &err), err);
	assert_trmx_error(trmx_time_parse("1000000y", 0, &v, &err), err, TRMX_EINVAL, "before 1970");
	assert_trmx_error(trmx_duration_parse("30", &v, &err), err, TRMX_EINVAL, "not a duration");
	assert_trmx_error(trmx_duration_parse("0d", &v, &err), err, TRMX_EINVAL, "not a duration");
	/* issue 22: min and mo, never a bare m */
	assert_trmx_ok(trmx_duration_parse("90min", &v, &err), err);
	assert_int_equal(v, 90 * 60000LL);
	assert_trmx_ok(trmx_duration_parse("1y6mo2w", &v, &err), err);
	assert_int_equal(v, (365 + 180 + 14) * 86400000LL);
	assert_trmx_error(trmx_duration_parse("1m", &v, &err), err, TRMX_EINVAL, "write 1min for minutes or 1mo");
	assert_trmx_error(trmx_time_parse("30m", 0, &v, &err), err, TRMX_EINVAL, "30min");
}

int main(int argc, char **argv)
{
	(void)argc;
	char *copy = strdup(argv[0]);
	snprintf(build_dir, sizeof build_dir, "%s/..", dirname(copy));
	free(copy);
	pg_url = getenv("TRMX_TEST_LOG_URL");
	if (pg_url && !*pg_url)
		pg_url = NULL;
	if (pg_url)
		setenv("TRMX_LOG_URL", pg_url, 1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_report_matches_sql, setup, teardown),
		cmocka_unit_test_setup_teardown(test_report_html, setup, teardown),
		cmocka_unit_test(test_wilson_and_verdicts),
		cmocka_unit_test_setup_teardown(test_xapi_statements, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dataset_export, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sql_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sql_read_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_learner, setup, teardown),
		cmocka_unit_test_setup_teardown(test_erase_module_sql, setup, teardown),
		cmocka_unit_test(test_time_and_duration),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
