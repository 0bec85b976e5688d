/*
 * bench_report.c — `trmx report` on a large usage log (acceptance 5 of the
 * analyst layer, target under 5 s for one million runs; docs/PERFORMANCE.md).
 *   bench_report gen HOME N        make HOME/log.db with N runs (and about 1.4
 * N feedback rows: every run's checker verdict, some learners', some
 * corrections) over 20 contexts, 6 versions, a canary in 4 contexts, 5000
 *                                  learners, one run a minute-ish over 60 days
 *   bench_report time HOME TRMX    time trmx_report_build (in process, best of
 * 3) and the `trmx report` command (text and HTML, a process each) Prints
 * key=value lines. Never gates CI.
 */
#define _GNU_SOURCE
#include <math.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log_int.h"
#include "trmx/log.h"
#include "trmx/report.h"
#include "trmx/task.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void die(const char *what, const char *msg)
{
	fprintf(stderr, "bench_report: %s: %s\n", what, msg);
	exit(1);
}

static int gen(const char *home, long n)
{
	trmx_error err;
	trmx_log_db *log = NULL;
	if (trmx_log_open(&log, home, NULL, &err) < 0) /* the schema, migrations and indexes */
		die("log", err.message);
	trmx_log_free(log);
	char path[4096];
	snprintf(path, sizeof path, "%s/log.db", home);
	sqlite3 *db = NULL;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		die(path, sqlite3_errmsg(db));
	sqlite3_exec(db, "PRAGMA synchronous = OFF; PRAGMA cache_size = -262144; BEGIN", NULL, NULL, NULL);
	sqlite3_stmt *run = NULL, *fb = NULL;
	if (sqlite3_prepare_v2(db,
			       "INSERT INTO runs (id, time, kind, context, learner, "
			       "target, module, version, digest, arm, "
			       "engine, task, task_params, input, output, halt, "
			       "max_steps, steps, q_halt, halt_confidence, "
			       "verdict, latency_ms, status) VALUES (?1, ?2, 'run', "
			       "?3, ?4, ?5, 'sudoku9', ?6, ?7, ?8, 'trm 1.0.0', "
			       "'sudoku', 'size=9', ?9, ?10, 'adaptive', 16, ?11, "
			       "?12, ?13, ?14, ?15, 'halted')",
			       -1, &run, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(db,
			       "INSERT INTO feedback (id, run_id, time, source, "
			       "verdict, score, expected) VALUES "
			       "(?1, ?2, ?3, ?4, ?5, NULL, ?6)",
			       -1, &fb, NULL) != SQLITE_OK)
		die("prepare", sqlite3_errmsg(db));
	static const char *const versions[] = { "1.0.0", "1.1.0", "1.2.0", "2.0.0", "2.1.0", "2.2.0" };
	char learners[5000][TRMX_PSEUDONYM_SIZE];
	trmx_rng rng;
	trmx_rng_seed(&rng, 42, 0);
	for (int i = 0; i < 5000; i++)
		for (int k = 0; k < 64; k++)
			learners[i][k] = "0123456789abcdef"[trmx_rng_below(&rng, 16)];
	for (int i = 0; i < 5000; i++)
		learners[i][64] = '\0';
	int64_t t0 = 1764400000000 - 60LL * 86400000;
	long nf = 0;
	double t = now_s();
	for (long i = 0; i < n; i++) {
		char id[TRMX_UUID_SIZE], fid[TRMX_UUID_SIZE], ts[32], fts[32], ctx[32], digest[65], input[82], output[82];
		trmx_uuid7(id);
		int64_t ms = t0 + (int64_t)((double)i / (double)n * 60.0 * 86400000.0);
		trmx_iso_time(ms, ts);
		trmx_iso_time(ms + 1500, fts);
		int c = (int)trmx_rng_below(&rng, 20);
		snprintf(ctx, sizeof ctx, "course-%02d/unit", c);
		int phase = (int)(i * 3 / n); /* versions move on over time */
		bool canary = c < 4 && trmx_rng_below(&rng, 10) == 0;
		int v = 2 * phase + (canary ? 1 : 0);
		snprintf(digest, sizeof digest, "%064d", v);
		for (int k = 0; k < 81; k++) {
			input[k] = trmx_rng_below(&rng, 3) ? '.' : (char)('1' + k % 9);
			output[k] = (char)('1' + (k + (int)i) % 9);
		}
		input[81] = output[81] = '\0';
		double acc = 0.55 + 0.1 * v;
		bool right = (double)trmx_rng_below(&rng, 1000) < acc * 1000;
		double q = ((double)trmx_rng_below(&rng, 2000) - 1000) / 200.0;
		sqlite3_bind_text(run, 1, id, -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 2, ts, -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 3, ctx, -1, SQLITE_STATIC);
		if (trmx_rng_below(&rng, 20))
			sqlite3_bind_text(run, 4, learners[trmx_rng_below(&rng, 5000)], -1, SQLITE_STATIC);
		else
			sqlite3_bind_null(run, 4);
		sqlite3_bind_text(run, 5, canary ? "sudoku9@canary" : "sudoku9@champion", -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 6, versions[v], -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 7, digest, -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 8, canary ? "canary" : "main", -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 9, input, -1, SQLITE_STATIC);
		sqlite3_bind_text(run, 10, output, -1, SQLITE_STATIC);
		sqlite3_bind_int(run, 11, 1 + (int)trmx_rng_below(&rng, 16));
		sqlite3_bind_double(run, 12, q);
		sqlite3_bind_double(run, 13, 1.0 / (1.0 + exp(-q)));
		sqlite3_bind_text(run, 14, right ? "valid" : "invalid", -1, SQLITE_STATIC);
		sqlite3_bind_double(run, 15, 5.0 + (double)trmx_rng_below(&rng, 20000) / 100.0);
		if (sqlite3_step(run) != SQLITE_DONE)
			die("insert run", sqlite3_errmsg(db));
		sqlite3_reset(run);
		/* the checker's verdict; a learner's on one run in 4; a correction on one
		 * in 12 */
		for (int k = 0; k < 3; k++) {
			if ((k == 1 && trmx_rng_below(&rng, 4)) || (k == 2 && trmx_rng_below(&rng, 12)))
				continue;
			trmx_uuid7(fid);
			sqlite3_bind_text(fb, 1, fid, -1, SQLITE_STATIC);
			sqlite3_bind_text(fb, 2, id, -1, SQLITE_STATIC);
			sqlite3_bind_text(fb, 3, fts, -1, SQLITE_STATIC);
			sqlite3_bind_text(fb, 4, k == 0 ? "checker" : k == 1 ? "learner" : "instructor", -1, SQLITE_STATIC);
			sqlite3_bind_text(fb, 5, right ? "correct" : "incorrect", -1, SQLITE_STATIC);
			if (k == 2)
				sqlite3_bind_text(fb, 6, right ? output : input, -1, SQLITE_STATIC);
			else
				sqlite3_bind_null(fb, 6);
			if (sqlite3_step(fb) != SQLITE_DONE)
				die("insert feedback", sqlite3_errmsg(db));
			sqlite3_reset(fb);
			nf++;
		}
	}
	sqlite3_finalize(run);
	sqlite3_finalize(fb);
	if (sqlite3_exec(db, "COMMIT; ANALYZE; PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL) != SQLITE_OK)
		die("commit", sqlite3_errmsg(db));
	sqlite3_close(db);
	printf("gen runs=%ld feedback=%ld seconds=%.1f\n", n, nf, now_s() - t);
	return 0;
}

static double run_cmd(const char *cmd)
{
	double t = now_s();
	if (system(cmd) != 0)
		die("command", cmd);
	return now_s() - t;
}

static int timing(const char *home, const char *trmx)
{
	trmx_error err;
	double best = 1e30;
	trmx_report *r = NULL;
	for (int k = 0; k < 3; k++) {
		double t = now_s();
		if (trmx_report_build(&r, home, NULL, &err) < 0)
			die("report", err.message);
		double d = now_s() - t;
		if (d < best)
			best = d;
		if (k < 2)
			trmx_report_free(r);
	}
	const trmx_report_info *in = trmx_report_info_get(r);
	printf("report_build runs=%lld groups=%zu versions=%zu canaries=%zu "
	       "best_s=%.3f\n",
	       (long long)in->runs, trmx_report_group_count(r), trmx_report_version_count(r), trmx_report_canary_count(r),
	       best);
	trmx_report_free(r);
	char cmd[8192];
	snprintf(cmd, sizeof cmd, "'%s' report --home '%s' >/dev/null", trmx, home);
	double text = run_cmd(cmd);
	snprintf(cmd, sizeof cmd, "'%s' report --home '%s' --format html -o '%s/report.html'", trmx, home, home);
	double html = run_cmd(cmd);
	snprintf(cmd, sizeof cmd, "'%s' report --home '%s' --context course-01/unit --since 30d >/dev/null", trmx, home);
	double window = run_cmd(cmd);
	printf("trmx_report text_s=%.3f html_s=%.3f context_window_s=%.3f\n", text, html, window);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "gen"))
		return gen(argv[2], atol(argv[3]));
	if (argc == 4 && !strcmp(argv[1], "time"))
		return timing(argv[2], argv[3]);
	fprintf(stderr, "usage: bench_report gen HOME N | time HOME TRMX\n");
	return 2;
}
