/*
 * test_host.c — the runtime: engine plugins (the TRM engine as BUILD/plugins/trm.so giving the
 * same answers as the linked-in engine; test plugins with a wrong ABI version, a short table, no
 * entry or a refusing entry refused with their own messages; a toy third-party engine with an
 * older, shorter table accepted and run through install and dispatch), and a long-lived host:
 * acceptance 5 (bind -> run -> bind another version -> run -> rollback -> run, each run logged
 * with the version it used), live swapping driven by another registry handle and by another
 * process, alias moves, quarantine, release of models no longer served, canary arms in the log,
 * batches, error runs, retried run ids, package files as targets, leases, module rows.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_registry_fixture.h"
#include "trmx/engine.h"

static char build_dir[PATH_MAX]; /* BUILD, from this binary's path BUILD/tests/test_host */

static void find_build(void)
{
	ssize_t n = readlink("/proc/self/exe", build_dir, sizeof build_dir - 1);
	assert_true(n > 0);
	build_dir[n] = 0;
	for (int i = 0; i < 2; i++)
		*strrchr(build_dir, '/') = 0;
}

static char *plugin(const char *rel)
{
	char *p = malloc(strlen(build_dir) + strlen(rel) + 2);
	sprintf(p, "%s/%s", build_dir, rel);
	return p;
}

struct fx {
	char *dir, *home;
	char *v1, *v2;
	trmx_registry *reg; /* the course creator's, beside the host */
	trmx_host *host;    /* the course server's */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	trmx_error err = { 0 };
	f->dir = tu_tmpdir();
	f->home = tu_path(f->dir, "home");
	f->v1 = fx_package(f->dir, "v1", &(struct fx_module){ .version = "0.1.0" });
	f->v2 = fx_package(f->dir, "v2", &(struct fx_module){ .version = "0.2.0" });
	if (trmx_registry_open(&f->reg, f->home, NULL, &err) < 0 ||
	    trmx_registry_install(f->reg, f->v1, NULL, NULL, &err) < 0 ||
	    trmx_registry_install(f->reg, f->v2, NULL, NULL, &err) < 0)
		fail_msg("%s", err.message);
	trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
	ho.home = f->home;
	ho.plugin_dir = ""; /* the built-in engine, whatever TRMX_PLUGINS says */
	if (trmx_host_open(&f->host, &ho, &err) < 0)
		fail_msg("%s", err.message);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	trmx_host_free(f->host);
	trmx_registry_free(f->reg);
	fx_rmtree(f->dir);
	free(f->dir);
	free(f->home);
	free(f->v1);
	free(f->v2);
	free(f);
	return 0;
}

static const char puzzle[] = "1.3..4.22.4..3.1";

/* One puzzle through `target` for `learner`; the result (caller frees). */
static trmx_dispatch_result *run1(struct fx *f, const char *target, const char *learner)
{
	trmx_error err = { 0 };
	const char *texts[] = { puzzle };
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.target = target;
	d.learner = learner;
	d.texts = texts;
	d.n = 1;
	trmx_dispatch_result *r = NULL;
	if (trmx_host_dispatch(f->host, &d, &r, &err) < 0)
		fail_msg("dispatch %s: %s", target, err.message);
	return r;
}

static char *logged(const char *home, const char *sql)
{
	char *path = tu_path(home, "log.db"), *out = NULL;
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct fx_buf b = { NULL, 0, 0 };
	fx_put(&b, "");
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW) {
			for (int c = 0; c < sqlite3_column_count(st); c++) {
				const unsigned char *v = sqlite3_column_text(st, c);
				fx_put(&b, c ? " " : "");
				fx_put(&b, v ? (const char *)v : "NULL");
			}
			fx_put(&b, "\n");
		}
	}
	out = b.s;
	sqlite3_finalize(st);
	sqlite3_close(db);
	free(path);
	return out;
}

/* ---- Plugins ------------------------------------------------------------------------------------- */

static void test_plugins(void **state)
{
	trmx_error err = { 0 };
	trmx_plugin *p = NULL;
	char *trm = plugin("plugins/trm.so");
	assert_trmx_ok(trmx_plugin_open(&p, trm, &err), err);
	const trmx_engine *e = trmx_plugin_engine(p);
	assert_string_equal(e->name, "trm");
	assert_non_null(e->train_step);

	/* the plugin and the linked-in engine give the same answers */
	char wpath[PATH_MAX];
	snprintf(wpath, sizeof wpath, "%s/weights.safetensors", fx_source());
	char mpath[PATH_MAX];
	snprintf(mpath, sizeof mpath, "%s/manifest.yaml", fx_source());
	trmx_weights *w = NULL;
	trmx_config *arch = NULL;
	trmx_model *a = NULL, *b = NULL;
	assert_trmx_ok(trmx_weights_open(&w, wpath, &err), err);
	assert_trmx_ok(trmx_config_load_yaml(&arch, mpath, &err), err);
	assert_trmx_ok(trmx_model_open_engine(&a, e, arch, w, NULL, &err), err);
	assert_trmx_ok(trmx_model_open(&b, "trm", arch, w, NULL, &err), err);
	int32_t in[2 * 16], pa[2 * 16], pb[2 * 16];
	float qa[2], qb[2];
	for (int i = 0; i < 32; i++)
		in[i] = 1 + (i * 7) % 5;
	trmx_solve_request r = TRMX_SOLVE_REQUEST_INIT;
	r.n = 2;
	r.inputs = in;
	r.preds = pa;
	r.q_halt = qa;
	assert_trmx_ok(trmx_model_solve(a, &r, &err), err);
	r.preds = pb;
	r.q_halt = qb;
	assert_trmx_ok(trmx_model_solve(b, &r, &err), err);
	assert_memory_equal(pa, pb, sizeof pa);
	assert_memory_equal(qa, qb, sizeof qa);
	trmx_model_free(a);
	trmx_model_free(b);
	trmx_plugin_free(p); /* after its models */

	/* plugins the host must refuse, each with its reason */
	static const struct {
		const char *file;
		int code;
		const char *msg;
	} bad[] = {
		{ "tests/plugins/bad_abi.so", TRMX_EVERSION, "was built for engine ABI 99; this host speaks 1" },
		{ "tests/plugins/short_table.so", TRMX_EVERSION, "has a function table of 24 bytes; engine ABI 1 needs at least" },
		{ "tests/plugins/no_entry.so", TRMX_EVERSION, "exports no trmx_engine_entry" },
		{ "tests/plugins/refuses.so", TRMX_EVERSION, "does not serve engine ABI 1" },
		{ "tests/plugins/no-such.so", TRMX_ENOTFOUND, "No such file" },
	};
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		char *path = plugin(bad[i].file);
		p = NULL;
		assert_trmx_error(trmx_plugin_open(&p, path, &err), err, bad[i].code, bad[i].msg);
		assert_null(p);
		assert_non_null(strstr(err.message, path));
		free(path);
	}
	/* a table shorter than this host's, but with everything ABI 1 requires: accepted */
	char *toy = plugin("tests/plugins/toy.so");
	assert_trmx_ok(trmx_plugin_open(&p, toy, &err), err);
	e = trmx_plugin_engine(p);
	assert_string_equal(e->name, "toy");
	assert_null(e->train_begin);
	assert_null(e->train_step);
	assert_int_equal(e->struct_size, sizeof(trmx_engine));
	trmx_plugin_free(p);
	free(toy);
	trmx_config_free(arch);
	trmx_weights_free(w);
	free(trm);
}

struct toy_feed {
	trmx_staged *st;
	const int32_t *in;
	int L;
	size_t next, done;
};

static int toy_feed(void *user, int32_t *input, trmx_feed_row *row)
{
	struct toy_feed *t = user;
	if (t->next >= trmx_staged_rows(t->st, NULL))
		return 0;
	memcpy(input, t->in + t->next * (size_t)t->L, (size_t)t->L * sizeof *input);
	*row = (trmx_feed_row){ (int64_t)(1000 + t->next), 0, 0, TRMX_HALT_FIXED };
	t->next++;
	return 1;
}

static void toy_done(void *user, int64_t index, const int32_t *pred, int steps, float q_halt, float q_continue,
		     trmx_halt_reason reason)
{
	struct toy_feed *t = user;
	assert_true(index >= 1000 && index < 1002);
	trmx_staged_set(t->st, (size_t)(index - 1000), pred, steps, q_halt, q_continue, reason, 0);
	t->done++;
}

/* A module for the toy engine installs and runs through a plugin folder only. */
static void test_plugin_module(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char *toy_pkg = fx_package(f->dir, "toy", &(struct fx_module){ .name = "toy-echo", .metric_from = "  name: trm\n",
									 .metric_to = "  name: toy\n" });
	assert_trmx_error(trmx_registry_install(f->reg, toy_pkg, NULL, NULL, &err), err, TRMX_ENOTFOUND, "no engine named 'toy'");
	char *dir = plugin("tests/plugins");
	trmx_install_options io = TRMX_INSTALL_OPTIONS_INIT;
	io.plugin_dir = dir;
	trmx_install_result ir;
	assert_trmx_ok(trmx_registry_install(f->reg, toy_pkg, &io, &ir, &err), err);
	assert_int_equal(ir.examples_solved, 0); /* it echoes the puzzle: as bad as the fixture claims */

	/* pack and install check a plugin engine's module as fully as a built-in one's: the engine is
	 * looked up in the plugin folder for the content check too */
	char *toy_dir = tu_path(f->dir, "toy"), *written = NULL;
	trmx_pack_options po = TRMX_PACK_OPTIONS_INIT;
	po.plugin_dir = "";
	assert_trmx_error(trmx_package_pack(toy_dir, f->dir, &po, NULL, &err), err, TRMX_ENOTFOUND, "no engine named 'toy'");
	po.plugin_dir = dir;
	assert_trmx_ok(trmx_package_pack(toy_dir, f->dir, &po, &written, &err), err);
	free(written);
	free(toy_dir);
	char *toy9 = fx_package(f->dir, "toy9", &(struct fx_module){ .name = "toy-nine",
		.metric_from = "  name: trm\n  abi: \">=1 <2\"\ntask:\n  codec: sudoku\n  params:\n    size: \"4\"\n",
		.metric_to = "  name: toy\n  abi: \">=1 <2\"\ntask:\n  codec: sudoku\n  params:\n    size: \"9\"\n" });
	assert_trmx_error(trmx_registry_install(f->reg, toy9, &io, NULL, &err), err, TRMX_ESHAPE,
			  "task: codec sudoku reads 81 tokens over 11 symbols; the architecture has seq_len 16");
	free(toy9);
	trmx_host *h = NULL;
	trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
	ho.home = f->home;
	ho.plugin_dir = dir;
	assert_trmx_ok(trmx_host_open(&h, &ho, &err), err);
	const char *texts[] = { puzzle };
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.target = "toy-echo";
	d.texts = texts;
	d.n = 1;
	trmx_dispatch_result *r = NULL;
	assert_trmx_ok(trmx_host_dispatch(h, &d, &r, &err), err);
	assert_string_equal(r->engine, "toy 0.1.0");
	assert_non_null(strstr(r->engine_source, "tests/plugins/toy.so"));
	assert_string_equal(r->runs[0].answer_text, puzzle);
	assert_int_equal(r->runs[0].steps, 1);
	assert_int_equal(r->runs[0].check.verdict, TRMX_VERDICT_INVALID); /* blanks left */
	trmx_dispatch_result_free(r);

	/* staged, and fed: the toy engine takes no feeding (no TRMX_ENGINE_FEED), so the host feeds
	 * it in rounds; rows come back through done with the caller's index */
	const char *three[] = { puzzle, "bad puzzle", puzzle };
	d.texts = three;
	d.n = 3;
	trmx_staged *st = NULL;
	assert_trmx_ok(trmx_host_stage(h, &d, &st, &err), err);
	const int32_t *in = NULL;
	assert_int_equal(trmx_staged_rows(st, &in), 2);
	assert_int_equal(trmx_staged_row_text(st, 1), 2);
	struct toy_feed tf = { st, in, trmx_task_seq_len(trmx_staged_task(st)), 0, 0 };
	trmx_solve_request sr = TRMX_SOLVE_REQUEST_INIT;
	sr.feed = toy_feed;
	sr.done = toy_done;
	sr.user = &tf;
	assert_trmx_ok(trmx_model_solve(trmx_staged_model(st), &sr, &err), err);
	assert_int_equal(tf.done, 2);
	assert_trmx_ok(trmx_host_finish(h, st, &r, &err), err);
	assert_int_equal(r->n, 3);
	assert_string_equal(r->runs[0].answer_text, puzzle);
	assert_int_equal(r->runs[1].status, TRMX_RUN_ERROR);
	assert_string_equal(r->runs[2].answer_text, puzzle);
	assert_int_equal(r->runs[2].steps, 1);
	trmx_dispatch_result_free(r);
	trmx_host_stats hs;
	trmx_host_stats_get(h, &hs);
	assert_int_equal(hs.plugins, 1);
	trmx_host_free(h);
	free(dir);
	free(toy_pkg);
}

/* ---- Swapping ------------------------------------------------------------------------------------ */

/* Acceptance 5: bind -> run -> bind another version -> run -> rollback -> run, in one long-lived
 * host, each run logged with the version it really used. */
static void test_swap(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char d1[TRMX_SHA256_HEX_SIZE], d2[TRMX_SHA256_HEX_SIZE];
	assert_trmx_ok(trmx_sha256_file(f->v1, d1, &err), err);
	assert_trmx_ok(trmx_sha256_file(f->v2, d2, &err), err);
	char ids[3][TRMX_UUID_SIZE];
	static const char *const want[3] = { "0.1.0", "0.2.0", "0.1.0" };

	assert_trmx_ok(trmx_registry_bind(f->reg, "algebra/unit-3", "sudoku4-tiny@0.1.0", NULL, 0, &err), err);
	trmx_dispatch_result *r = run1(f, "algebra/unit-3", "alice");
	assert_string_equal(r->resolution.module_version, "0.1.0");
	assert_true(r->loaded);
	memcpy(ids[0], r->runs[0].run_id, TRMX_UUID_SIZE);
	trmx_dispatch_result_free(r);
	r = run1(f, "algebra/unit-3", "alice"); /* cached */
	assert_false(r->loaded);
	trmx_dispatch_result_free(r);

	assert_trmx_ok(trmx_registry_bind(f->reg, "algebra/unit-3", "sudoku4-tiny@0.2.0", NULL, 0, &err), err);
	r = run1(f, "algebra/unit-3", "alice");
	assert_string_equal(r->resolution.module_version, "0.2.0");
	assert_string_equal(r->resolution.digest, d2);
	memcpy(ids[1], r->runs[0].run_id, TRMX_UUID_SIZE);
	trmx_dispatch_result_free(r);
	assert_false(trmx_host_holds(f->host, d1)); /* released: nothing resolves to it now */
	assert_true(trmx_host_holds(f->host, d2));

	assert_trmx_ok(trmx_registry_rollback(f->reg, "algebra/unit-3", &err), err);
	r = run1(f, "algebra/unit-3", "alice");
	assert_string_equal(r->resolution.module_version, "0.1.0");
	assert_string_equal(r->resolution.digest, d1);
	memcpy(ids[2], r->runs[0].run_id, TRMX_UUID_SIZE);
	trmx_dispatch_result_free(r);
	assert_false(trmx_host_holds(f->host, d2));

	/* the log says which version really ran each time */
	for (int i = 0; i < 3; i++) {
		char sql[256];
		snprintf(sql, sizeof sql, "SELECT version, digest, context, arm, kind, status FROM runs WHERE id = '%s'", ids[i]);
		char *row = logged(f->home, sql), expect[256];
		snprintf(expect, sizeof expect, "%s %s algebra/unit-3 main run completed\n", want[i], i == 1 ? d2 : d1);
		assert_string_equal(row, expect);
		free(row);
		snprintf(sql, sizeof sql, "SELECT source, verdict FROM feedback WHERE run_id = '%s'", ids[i]);
		row = logged(f->home, sql);
		assert_string_equal(row, "checker incorrect\n"); /* the fixture leaves PAD in its answers */
		free(row);
	}
	trmx_host_stats hs;
	trmx_host_stats_get(f->host, &hs);
	assert_int_equal(hs.models, 1);
	assert_true(hs.releases >= 2);
}

/* Another process changes the registry; the host sees it at its next dispatch. */
static void test_swap_other_process(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	assert_trmx_ok(trmx_registry_alias_set(f->reg, "sudoku4-tiny", "champion", "0.1.0", &err), err);
	assert_trmx_ok(trmx_registry_bind(f->reg, "geometry/1", "sudoku4-tiny@champion", NULL, 0, &err), err);
	trmx_dispatch_result *r = run1(f, "geometry/1", NULL);
	assert_string_equal(r->resolution.module_version, "0.1.0");
	assert_string_equal(r->resolution.alias, "champion");
	trmx_dispatch_result_free(r);
	pid_t pid = fork();
	if (pid == 0) {
		trmx_registry *other = NULL;
		trmx_error e2;
		int ok = trmx_registry_open(&other, f->home, NULL, &e2) == 0 &&
			 trmx_registry_alias_set(other, "sudoku4-tiny", "champion", "0.2.0", &e2) == 0;
		trmx_registry_free(other);
		_exit(ok ? 0 : 1);
	}
	int status;
	waitpid(pid, &status, 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	r = run1(f, "geometry/1", NULL);
	assert_string_equal(r->resolution.module_version, "0.2.0"); /* the alias moved under a running host */
	trmx_dispatch_result_free(r);

	/* quarantine: nothing dispatches to it, and the host lets go of it */
	char d2[TRMX_SHA256_HEX_SIZE];
	assert_trmx_ok(trmx_sha256_file(f->v2, d2, &err), err);
	assert_true(trmx_host_holds(f->host, d2));
	assert_trmx_ok(trmx_registry_quarantine(f->reg, "sudoku4-tiny", "0.2.0", true, "test", &err), err);
	const char *texts[] = { puzzle };
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.target = "geometry/1";
	d.texts = texts;
	d.n = 1;
	assert_trmx_error(trmx_host_dispatch(f->host, &d, &r, &err), err, TRMX_ERROR, "quarantined");
	assert_false(trmx_host_holds(f->host, d2));
	d.target = "sudoku4-tiny"; /* MODULE skips the quarantined version */
	assert_trmx_ok(trmx_host_dispatch(f->host, &d, &r, &err), err);
	assert_string_equal(r->resolution.module_version, "0.1.0");
	trmx_dispatch_result_free(r);
}

static void test_canary_arms(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/c", "sudoku4-tiny@0.1.0", "sudoku4-tiny@0.2.0", 0.3, &err), err);
	int canary = 0;
	for (int i = 0; i < 300; i++) {
		char who[32];
		snprintf(who, sizeof who, "learner-%d", i);
		trmx_dispatch_result *r = run1(f, "course/c", who);
		canary += r->resolution.arm == TRMX_ARM_CANARY;
		assert_string_equal(r->resolution.module_version, r->resolution.arm == TRMX_ARM_CANARY ? "0.2.0" : "0.1.0");
		trmx_dispatch_result *again = run1(f, "course/c", who); /* the same learner, the same side */
		assert_int_equal(again->resolution.arm, r->resolution.arm);
		trmx_dispatch_result_free(again);
		trmx_dispatch_result_free(r);
	}
	assert_true(canary > 60 && canary < 120);
	char *rows = logged(f->home, "SELECT count(*) FROM runs WHERE context = 'course/c' AND "
				     "((arm = 'canary') <> (version = '0.2.0'))");
	assert_string_equal(rows, "0\n");
	free(rows);
	rows = logged(f->home, "SELECT arm, count(DISTINCT learner) FROM runs WHERE context = 'course/c' GROUP BY arm");
	char expect[64];
	snprintf(expect, sizeof expect, "canary %d\nmain %d\n", canary, 300 - canary);
	assert_string_equal(rows, expect);
	free(rows);
	/* both arms' models stay loaded: each serves some learners */
	trmx_host_stats hs;
	trmx_host_stats_get(f->host, &hs);
	assert_int_equal(hs.models, 2);
}

/* ---- Dispatch details ---------------------------------------------------------------------------- */

static int steps_seen;

static int count_steps(void *user, trmx_task *task, const trmx_step_view *v)
{
	steps_seen++;
	char *s = NULL;
	assert_int_equal(trmx_task_render(task, v->preds, NULL, &s, NULL), 0);
	trmx_task_text_free(s);
	return 0;
}

/* Issue 24, item 8: the store's files are checked against what install recorded when a version is
 * first loaded: a byte flipped in the weights, a file grown, the manifest edited to match are each a
 * clear TRMX_EINTEGRITY naming the file and saying to reinstall; the version loads again once put
 * back. */
static void test_store_tampered(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_version_info v;
	assert_trmx_ok(trmx_registry_version(f->reg, "sudoku4-tiny@0.1.0", &v, &err), err);
	assert_trmx_ok(trmx_registry_store_check(f->reg, v.digest, &err), err);
	/* how long the check takes for this module (a full SHA-256 of every file) */
	int64_t t0 = trmx_now_ms();
	for (int i = 0; i < 20; i++)
		assert_trmx_ok(trmx_registry_store_check(f->reg, v.digest, &err), err);
	print_message("store check of sudoku4-tiny: %.2f ms\n", (double)(trmx_now_ms() - t0) / 20);
	char *w = tu_path(v.store_path, "weights.safetensors"), *m = tu_path(v.store_path, "manifest.yaml");
	size_t n = 0, mn = 0;
	unsigned char *orig = tu_read_file(w, &n);
	char *morig = tu_read_file(m, &mn);
	assert_non_null(orig);
	chmod(v.store_path, 0755);
	chmod(w, 0644);
	chmod(m, 0644);
	static const char *const want[] = { "weights.safetensors: SHA-256", "weights.safetensors: ", "manifest.yaml: not the manifest" };
	for (int k = 0; k < 3; k++) {
		unsigned char *b = malloc(n + 1);
		memcpy(b, orig, n);
		if (k == 0)
			b[n - 1] ^= 1; /* a flipped byte in the last tensor */
		else if (k == 1)
			b[n++] = 0; /* a byte more */
		assert_int_equal(tu_write_file(w, b, n), 0);
		if (k == 2) { /* the weights put back, the manifest changed */
			assert_int_equal(tu_write_file(w, orig, n), 0);
			char *edited = fx_replace(morig, "sudoku", "sudokU");
			assert_int_equal(tu_write_text(m, edited), 0);
			free(edited);
		}
		free(b);
		/* a host that has not loaded it yet */
		trmx_host *h = NULL;
		trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
		ho.home = f->home;
		ho.plugin_dir = "";
		assert_trmx_ok(trmx_host_open(&h, &ho, &err), err);
		const char *texts[] = { puzzle };
		trmx_dispatch d = TRMX_DISPATCH_INIT;
		d.target = "sudoku4-tiny@0.1.0";
		d.texts = texts;
		d.n = 1;
		trmx_dispatch_result *r = NULL;
		int rc = trmx_host_dispatch(h, &d, &r, &err);
		if (rc != TRMX_EINTEGRITY || !strstr(err.message, want[k]) || !strstr(err.message, "reinstall"))
			fail_msg("case %d: expected TRMX_EINTEGRITY with \"%s\" and reinstall, got %d: %s", k, want[k], rc,
				 err.message);
		print_message("%s\n", err.message);
		trmx_dispatch_result_free(r);
		trmx_host_free(h);
		if (k == 1)
			n--;
	}
	assert_int_equal(tu_write_file(w, orig, n), 0);
	assert_int_equal(tu_write_file(m, morig, mn), 0);
	assert_trmx_ok(trmx_registry_store_check(f->reg, v.digest, &err), err);
	trmx_dispatch_result_free(run1(f, "sudoku4-tiny@0.1.0", NULL));
	free(orig);
	free(morig);
	free(w);
	free(m);
}

/* The manifest's halting reaches the engine through dispatch. threshold: at +100 the Q head never
 * halts a row (every one runs the cap), at -100 every row halts after its first step; 0 (absent)
 * is the official rule. max_steps: the cap of a solve that names none, above the model's
 * halt_max_steps (4) as well, fixed or adaptive; a request's own cap wins. */
static void test_manifest_halting(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	static const struct {
		const char *halting;
		trmx_halt_mode halt;
		int max_steps, steps;
		bool by_q;
	} cases[] = {
		{ "  threshold: 100\n", TRMX_HALT_ADAPTIVE, 5, 5, false },
		{ "  threshold: -100\n", TRMX_HALT_ADAPTIVE, 5, 1, true },
		{ "  threshold: 100\n  max_steps: 6\n", TRMX_HALT_ADAPTIVE, 0, 6, false },
		{ "  threshold: 100\n  max_steps: 6\n", TRMX_HALT_FIXED, 0, 6, false },
		{ "  threshold: 100\n  max_steps: 6\n", TRMX_HALT_ADAPTIVE, 3, 3, false },
		{ "  threshold: -100\n  max_steps: 6\n", TRMX_HALT_ADAPTIVE, 0, 1, true },
	};
	const char *texts[] = { "puzzle,solution\n..1..32......4..,4213132431422431\n.3...21.......4.,1324421324313142\n" };
	for (int k = 0; k < (int)(sizeof cases / sizeof cases[0]); k++) {
		char tag[32], name[32], from_to[96];
		snprintf(tag, sizeof tag, "halting%d", k);
		snprintf(name, sizeof name, "sudoku4-halting%d", k);
		snprintf(from_to, sizeof from_to, "halting:\n%smetrics:\n", cases[k].halting);
		char *pkg = fx_package(
			f->dir, tag, &(struct fx_module){ .name = name, .metric_from = "metrics:\n", .metric_to = from_to });
		assert_trmx_ok(trmx_registry_install(f->reg, pkg, NULL, NULL, &err), err);
		trmx_dispatch d = TRMX_DISPATCH_INIT;
		d.target = name;
		d.texts = texts;
		d.n = 1;
		d.flags = TRMX_DISPATCH_EACH_PUZZLE;
		d.halt = cases[k].halt;
		d.max_steps = cases[k].max_steps;
		trmx_dispatch_result *r = NULL;
		assert_trmx_ok(trmx_host_dispatch(f->host, &d, &r, &err), err);
		assert_int_equal(r->n, 2);
		assert_int_equal(r->max_steps, cases[k].max_steps ? cases[k].max_steps : 6); /* the cap logged */
		for (size_t i = 0; i < r->n; i++) {
			if (r->runs[i].steps != cases[k].steps)
				fail_msg("case %d (%s): %d steps, not %d", k, cases[k].halting, r->runs[i].steps,
					 cases[k].steps);
			assert_true((r->runs[i].reason == TRMX_HALT_REASON_Q) == cases[k].by_q); /* else the cap */
		}
		trmx_dispatch_result_free(r);
		free(pkg);
	}
}

static void test_dispatch(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_dispatch_result *r = NULL;
	/* a batch: a CSV of puzzles (with answers) and a text that is no puzzle */
	const char *texts[] = { "puzzle,solution\n..1..32......4..,4213132431422431\n.3...21.......4.,1324421324313142\n",
				"this is not a sudoku" };
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.target = "sudoku4-tiny@0.1.0";
	d.context = "course/batch";
	d.texts = texts;
	d.n = 2;
	d.flags = TRMX_DISPATCH_EACH_PUZZLE;
	d.halt = TRMX_HALT_ADAPTIVE;
	d.max_steps = 3;
	d.on_step = count_steps;
	assert_trmx_ok(trmx_host_dispatch(f->host, &d, &r, &err), err);
	assert_int_equal(r->n, 3);
	assert_true(steps_seen >= 1);
	assert_true(r->batch_id[0]);
	assert_string_equal(r->runs[0].input_text, "..1..32......4..");
	assert_true(r->runs[0].has_label);
	assert_string_equal(r->runs[0].expected_text, "4213132431422431");
	assert_true(r->runs[0].steps <= 3);
	assert_int_equal(r->runs[2].status, TRMX_RUN_ERROR);
	assert_int_equal(r->runs[2].text, 1);
	assert_non_null(r->runs[2].error);
	assert_true(r->logged >= 3);
	trmx_dispatch_result_free(r);
	char *rows = logged(f->home, "SELECT status, count(*), count(DISTINCT batch_id), max(max_steps) FROM runs "
				     "WHERE context = 'course/batch' GROUP BY status ORDER BY status");
	assert_true(strstr(rows, "error 1 1") != NULL);
	free(rows);

	/* a run id chosen by the caller: a retry is logged once */
	const char *one[] = { puzzle };
	const char *rid[] = { "01890000-0000-7000-8000-000000000001" };
	trmx_dispatch d2 = TRMX_DISPATCH_INIT;
	d2.target = "sudoku4-tiny@0.1.0";
	d2.texts = one;
	d2.n = 1;
	d2.run_ids = rid;
	assert_trmx_ok(trmx_host_dispatch(f->host, &d2, &r, &err), err);
	assert_int_equal(r->logged, 2); /* the run and the checker's verdict */
	trmx_dispatch_result_free(r);
	assert_trmx_ok(trmx_host_dispatch(f->host, &d2, &r, &err), err);
	assert_int_equal(r->logged, 0);
	trmx_dispatch_result_free(r);

	/* a lease holds its model through registry changes until it is freed */
	trmx_lease *l = NULL;
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/x", "sudoku4-tiny", NULL, 0, &err), err);
	assert_trmx_ok(trmx_host_acquire(f->host, "course/x", "bob", &l, &err), err);
	assert_string_equal(trmx_lease_resolution(l)->module_version, "0.2.0");
	assert_non_null(trmx_lease_learner(l));
	char digest[TRMX_SHA256_HEX_SIZE];
	snprintf(digest, sizeof digest, "%s", trmx_lease_resolution(l)->digest);
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/x", "sudoku4-tiny@0.1.0", NULL, 0, &err), err);
	trmx_dispatch_result_free(run1(f, "course/x", NULL));
	assert_true(trmx_host_holds(f->host, digest)); /* leased */
	trmx_lease_free(l);
	trmx_dispatch_result_free(run1(f, "course/x", NULL)); /* the next change of the registry lets it go */
	assert_trmx_ok(trmx_registry_alias_set(f->reg, "sudoku4-tiny", "any-change", "0.1.0", &err), err);
	trmx_dispatch_result_free(run1(f, "course/x", NULL));
	assert_false(trmx_host_holds(f->host, digest));

	/* a package file as the target: verified, run, not installed */
	trmx_dispatch d3 = TRMX_DISPATCH_INIT;
	d3.target = f->v2;
	d3.texts = one;
	d3.n = 1;
	d3.flags = TRMX_DISPATCH_NO_LOG;
	assert_trmx_ok(trmx_host_dispatch(f->host, &d3, &r, &err), err);
	assert_true(r->package_file);
	assert_string_equal(r->resolution.module_version, "0.2.0");
	assert_int_equal(r->logged, 0);
	trmx_dispatch_result_free(r);

	/* bad requests */
	d3.target = "nosuch-module";
	assert_trmx_error(trmx_host_dispatch(f->host, &d3, &r, &err), err, TRMX_ENOTFOUND, "no module 'nosuch-module'");
	d3.target = "sudoku4-tiny";
	d3.n = 0;
	assert_trmx_error(trmx_host_dispatch(f->host, &d3, &r, &err), err, TRMX_EINVAL, "at least one input");
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/x", "sudoku4-tiny", NULL, 0, &err), err);
	d3.n = 1;
	d3.target = "course/x";
	d3.context = "course/y";
	assert_trmx_error(trmx_host_dispatch(f->host, &d3, &r, &err), err, TRMX_EINVAL, "cannot be logged under context");

	/* module rows through the host */
	const char *p[] = { rid[0], "4" };
	assert_trmx_ok(trmx_host_module_exec(f->host, "sudoku4-tiny",
					     "INSERT INTO attempts (run_id, cells_filled) VALUES (?1, ?2)", p, 2, &err), err);
}

/* ---- Two engines ---------------------------------------------------------------------------------- */

/* The bundled modules/NAME folder. */
static const char *module_dir(const char *name)
{
	char rel[128];
	snprintf(rel, sizeof rel, "modules/%s", name);
	return tu_repo_path(rel);
}

/* Issue 8, acceptance 2: the trained TRM module and the trained HRM module, each served by its
 * engine's .so plugin, in one long-lived host: a context bound to TRM is rebound to HRM, then both
 * run at once (HRM as canary), then it is back on TRM; every run's log row names the engine and
 * version that served it. */
static void test_two_engine_plugins(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char *plugins = plugin("plugins"), *pkg[2] = { NULL, NULL };
	static const char *const names[2] = { "sudoku4", "sudoku4-hrm" };
	trmx_install_options io = TRMX_INSTALL_OPTIONS_INIT;
	io.plugin_dir = plugins;
	for (int i = 0; i < 2; i++) {
		char *out = tu_path(f->dir, names[i]);
		assert_trmx_ok(trmx_package_pack(module_dir(names[i]), out, NULL, &pkg[i], &err), err);
		assert_trmx_ok(trmx_registry_install(f->reg, pkg[i], &io, NULL, &err), err);
		free(out);
	}
	trmx_host *h = NULL;
	trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
	ho.home = f->home;
	ho.plugin_dir = plugins;
	assert_trmx_ok(trmx_host_open(&h, &ho, &err), err);

	struct {
		const char *bind, *canary;
	} phases[] = { { "sudoku4", NULL }, { "sudoku4-hrm", NULL }, { "sudoku4", "sudoku4-hrm" }, { "sudoku4", NULL } };
	for (size_t ph = 0; ph < sizeof phases / sizeof *phases; ph++) {
		assert_trmx_ok(trmx_registry_bind(f->reg, "course/swap", phases[ph].bind, phases[ph].canary,
						  phases[ph].canary ? 0.5 : 0, &err), err);
		bool seen[2] = { false, false };
		for (int l = 0; l < 40 && !(seen[0] && seen[1]); l++) {
			char learner[32];
			snprintf(learner, sizeof learner, "learner-%zu-%d", ph, l);
			const char *texts[] = { puzzle };
			trmx_dispatch d = TRMX_DISPATCH_INIT;
			d.target = "course/swap";
			d.learner = learner;
			d.texts = texts;
			d.n = 1;
			trmx_dispatch_result *r = NULL;
			assert_trmx_ok(trmx_host_dispatch(h, &d, &r, &err), err);
			bool hrm = !strcmp(r->resolution.module, "sudoku4-hrm");
			seen[hrm] = true;
			assert_string_equal(r->engine, hrm ? "hrm 1.0.0" : "trm 1.0.0");
			const char *src = strrchr(r->engine_source, '/');
			assert_non_null(src);
			assert_string_equal(src, hrm ? "/hrm.so" : "/trm.so");
			if (!hrm) /* the trained TRM module solves it */
				assert_int_equal(r->runs[0].check.verdict, TRMX_VERDICT_VALID);
			char sql[256], expect[256];
			snprintf(sql, sizeof sql, "SELECT module, version, engine, arm FROM runs WHERE id = '%s'",
				 r->runs[0].run_id);
			snprintf(expect, sizeof expect, "%s %s %s 1.0.0 %s\n", hrm ? "sudoku4-hrm" : "sudoku4",
				 r->resolution.module_version, hrm ? "hrm" : "trm",
				 hrm && phases[ph].canary ? "canary" : "main");
			char *row = logged(f->home, sql);
			assert_string_equal(row, expect);
			free(row);
			trmx_dispatch_result_free(r);
			if (!phases[ph].canary)
				break;
		}
		trmx_host_stats hs;
		trmx_host_stats_get(h, &hs);
		if (phases[ph].canary) { /* both engines' plugins loaded at once, in this process */
			assert_true(seen[0] && seen[1]);
			assert_int_equal(hs.plugins, 2);
			assert_int_equal(hs.models, 2);
		} else {
			assert_int_equal(hs.plugins, 1); /* the other engine's model and plugin released */
		}
	}
	trmx_host_free(h);
	for (int i = 0; i < 2; i++)
		free(pkg[i]);
	free(plugins);
}

/* trmx_host_eval logs every item as an eval run with its verdicts, through the records dispatch
 * makes; run again with the same batch id (a retry after a crash) it logs each run and verdict
 * once, and with a new id a second batch. */
static void test_host_eval(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char *csv = tu_path(f->dir, "eval.csv");
	assert_int_equal(tu_write_text(csv, "puzzle,solution\n1.3..4.22.4..3.1,1234341221434321\n"
					   "1.3..4.22.4..3.1,1234341221434321\n12..34..21..43..,1234341221434321\n"), 0);
	trmx_lease *lease = NULL;
	trmx_dataset *ds = NULL;
	assert_trmx_ok(trmx_host_acquire(f->host, "sudoku4-tiny@0.1.0", "ada", &lease, &err), err);
	assert_trmx_ok(trmx_dataset_load(&ds, trmx_lease_task(lease), csv, NULL, &err), err);
	trmx_host_eval_options o = TRMX_HOST_EVAL_OPTIONS_INIT;
	o.batch_id = "01890000-0000-7000-8000-00000000e7a1";
	o.context = "course/unit-9";
	trmx_eval_result r;
	char used[TRMX_UUID_SIZE];
	int64_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		assert_trmx_ok(trmx_host_eval(f->host, lease, ds, &o, &r, used, &n, &err), err);
		assert_int_equal(r.items, 3);
		assert_int_equal(n, pass ? 0 : 9); /* 3 runs, 3 checker verdicts, 3 expected answers; then none */
		assert_string_equal(used, o.batch_id);
	}
	char *rows = logged(f->home, "SELECT count(*), count(DISTINCT id), min(kind), min(context), min(version), "
				     "min(learner IS NOT NULL) FROM runs WHERE batch_id = '01890000-0000-7000-8000-00000000e7a1'");
	assert_string_equal(rows, "3 3 eval course/unit-9 0.1.0 1\n");
	free(rows);
	/* one checker verdict and one expected answer a run, once each */
	rows = logged(f->home, "SELECT f.source, count(*), count(DISTINCT f.id) FROM feedback f JOIN runs r ON r.id = f.run_id "
			       "WHERE r.batch_id = '01890000-0000-7000-8000-00000000e7a1' GROUP BY f.source ORDER BY f.source");
	assert_string_equal(rows, "checker 3 3\neval 3 3\n");
	free(rows);
	o.batch_id = NULL; /* a new batch */
	assert_trmx_ok(trmx_host_eval(f->host, lease, ds, &o, &r, used, &n, &err), err);
	assert_string_not_equal(used, "01890000-0000-7000-8000-00000000e7a1");
	assert_true(trmx_uuid_valid(used));
	assert_int_equal(n, 9);
	rows = logged(f->home, "SELECT count(*), count(DISTINCT batch_id) FROM runs WHERE kind = 'eval'");
	assert_string_equal(rows, "6 2\n");
	free(rows);
	o.batch_id = "not-a-uuid";
	assert_trmx_error(trmx_host_eval(f->host, lease, ds, &o, &r, used, &n, &err), err, TRMX_EINVAL, "is not a UUID");
	o.batch_id = NULL;
	o.version = 0;
	assert_trmx_error(trmx_host_eval(f->host, lease, ds, &o, &r, used, &n, &err), err, TRMX_EVERSION,
			  "host eval options version 0");
	trmx_dataset_free(ds);
	trmx_lease_free(lease);
	free(csv);
}

int main(void)
{
	find_build();
	trmx_set_threads(1);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plugins),
		cmocka_unit_test_setup_teardown(test_plugin_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_eval, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_swap_other_process, setup, teardown),
		cmocka_unit_test_setup_teardown(test_canary_arms, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dispatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_tampered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_engine_plugins, setup, teardown),
		cmocka_unit_test_setup_teardown(test_manifest_halting, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
