/*
 * test_loop.c — acceptance 1 of the analyst layer (docs/ANALYTICS.md): the
 * gap-closing loop, end to end through the `trmx` command, small enough for CI
 * (about 15 s on two cores):
 *   1. a champion — the bundled sudoku4 module with noise added to its weights,
 * so that it gets about half of the puzzles wrong — is packed, installed and
 * bound to a context;
 *   2. learners run puzzles through the context; an instructor corrects every
 * wrong answer (feedback with the expected answer);
 *   3. `trmx export dataset` writes the corrections (checked: one row per wrong
 * puzzle);
 *   4. `trmx train --init sudoku4@1.0.0` fine-tunes from the champion's weights
 * and architecture, mixing the corrections with generated data; the new version
 * is packed with its lineage (training.base = the champion's digest,
 * training.corrections_sha256 = the file's);
 *   5. it is installed and bound as the canary of the context (half of the
 * learners);
 *   6. more learners run puzzles;
 *   7. `trmx report` compares the two arms with 95 % Wilson intervals and names
 * the canary better; its figures are checked against hand-written SQL, and the
 * statements of `trmx export xapi` are kept for the xAPI validators
 * (tools/xapi_validate.sh). Runs from the repository root (tests/run.sh does);
 * the trmx binary is BUILD/trmx beside BUILD/tests/.
 */
#define _GNU_SOURCE /* asprintf, vasprintf */
#include <jansson.h>
#include <libgen.h>
#include <math.h>
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <cmocka.h> /* after setjmp.h, stdarg.h, stddef.h, stdint.h */

#include "helpers/testutil.h"
#include "log/log_int.h"
#include "trmx/registry.h"
#include "trmx/report.h"
#include "trmx/task.h"
#include "trmx/trmx.h"

static char trmx_bin[4096], build_dir[4096];

struct fx {
	char *dir, *home;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->dir = tu_tmpdir();
	f->home = tu_path(f->dir, "home");
	*state = f;
	return f->dir ? 0 : -1;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	trmx_rmtree(f->dir);
	free(f->dir);
	free(f->home);
	free(f);
	return 0;
}

/* Run a shell command; its standard output in *out (may be NULL), the exit code
 * returned. */
static int sh(char **out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int sh(char **out, const char *fmt, ...)
{
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	assert_true(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	FILE *p = popen(cmd, "r");
	assert_non_null(p);
	size_t n = 0, cap = 4096;
	char *buf = malloc(cap);
	size_t k;
	while ((k = fread(buf + n, 1, cap - n - 1, p)) > 0) {
		n += k;
		if (n + 1 >= cap)
			buf = realloc(buf, cap *= 2);
	}
	buf[n] = '\0';
	int st = pclose(p);
	int code = WIFEXITED(st) ? WEXITSTATUS(st) : 128;
	if (code != 0)
		fprintf(stderr, "command failed (%d): %s\n%s\n", code, cmd, buf);
	free(cmd);
	if (out)
		*out = buf;
	else
		free(buf);
	return code;
}

/* The weights at `from` with Gaussian noise of sigma times each tensor's RMS
 * added. */
static void degrade(const char *from, const char *to, double sigma)
{
	trmx_error err;
	trmx_weights *w = NULL;
	trmx_weights_writer *wr = NULL;
	assert_trmx_ok(trmx_weights_open(&w, from, &err), err);
	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	for (size_t i = 0; i < trmx_weights_metadata_count(w); i++) {
		const char *k, *v;
		trmx_weights_metadata_at(w, i, &k, &v);
		assert_trmx_ok(trmx_weights_writer_set_metadata(wr, k, v, &err), err);
	}
	trmx_rng rng;
	trmx_rng_seed(&rng, 7, 0);
	for (size_t i = 0; i < trmx_weights_count(w); i++) {
		const trmx_tensor_view *t = trmx_weights_at(w, i);
		float *d = malloc(t->nbytes);
		memcpy(d, t->data, t->nbytes);
		size_t n = t->nbytes / sizeof *d;
		if (t->dtype == TRMX_DTYPE_F32 && n > 1) {
			double ss = 0;
			for (size_t k = 0; k < n; k++)
				ss += (double)d[k] * d[k];
			double rms = sqrt(ss / (double)n);
			for (size_t k = 0; k < n; k++) {
				double u1 = ((double)(trmx_rng_next(&rng) >> 11) + 1.0) * 0x1.0p-53;
				double u2 = (double)(trmx_rng_next(&rng) >> 11) * 0x1.0p-53;
				d[k] += (float)(sigma * rms * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2));
			}
		}
		assert_trmx_ok(trmx_weights_writer_add(wr, t->name, t->dtype, t->ndim, t->shape, d, &err), err);
		free(d);
	}
	assert_trmx_ok(trmx_weights_writer_write(wr, to, &err), err);
	trmx_weights_writer_free(wr);
	trmx_weights_free(w);
}

/* modules/sudoku4's manifest up to its measured training: and metrics: (those
 * belong to the bundled weights), as the author's part plus the architecture,
 * without its examples (a noisy champion would fail them as a self-test; the
 * loop needs it installed). */
static char *author_manifest(const char *version)
{
	char *text = tu_read_file("modules/sudoku4/manifest.yaml", NULL);
	assert_non_null(text);
	char *cut = strstr(text, "\ntraining:");
	if (cut)
		cut[1] = '\0';
	char *ex = strstr(text, "\nexamples:"), *arch = strstr(text, "\narchitecture:");
	assert_true(ex && arch && arch > ex);
	memmove(ex, arch, strlen(arch) + 1);
	char *v = strstr(text, "\nversion: ");
	assert_non_null(v);
	char *eol = strchr(v + 1, '\n');
	char *out = NULL;
	assert_true(asprintf(&out, "%.*s\nversion: %s%s", (int)(v - text), text, version, eol) > 0);
	free(text);
	return out;
}

/* A module folder for `trmx pack`: sudoku4's files, the given manifest and
 * weights. */
static void module_dir(const char *dir, const char *manifest, const char *weights)
{
	assert_int_equal(sh(NULL,
			    "mkdir -p '%s' && cp modules/sudoku4/schema.sql "
			    "modules/sudoku4/README.md '%s/' && cp '%s' '%s/weights.safetensors'",
			    dir, dir, weights, dir),
			 0);
	char *p = tu_path(dir, "manifest.yaml");
	assert_int_equal(tu_write_text(p, manifest), 0);
	free(p);
}

struct puzzle {
	char puzzle[32], solution[32];
};

/* Generated 4x4 puzzles with their solutions. */
static size_t gen(const char *dir, const char *name, int n, int seed, struct puzzle **out)
{
	char *csv = NULL;
	assert_int_equal(sh(NULL, "'%s' gen sudoku --size 4 -n %d --seed %d -o '%s/%s' >/dev/null 2>&1", trmx_bin, n, seed,
			    dir, name),
			 0);
	char *p = tu_path(dir, name);
	csv = tu_read_file(p, NULL);
	free(p);
	assert_non_null(csv);
	struct puzzle *v = calloc((size_t)n, sizeof *v);
	size_t k = 0;
	for (char *line = strtok(csv, "\n"); line && k < (size_t)n; line = strtok(NULL, "\n")) {
		if (!strncmp(line, "puzzle", 6))
			continue;
		assert_int_equal(sscanf(line, "%31[^,],%31[^,]", v[k].puzzle, v[k].solution), 2);
		k++;
	}
	free(csv);
	*out = v;
	return k;
}

/* Run puzzles [from, to) through the context, `per` puzzles per learner, as
 * batches. */
static void run_batches(struct fx *f, const char *ctx, const struct puzzle *p, size_t from, size_t to, size_t per,
			const char *tag)
{
	for (size_t i = from, b = 0; i < to; i += per, b++) {
		char *path = NULL;
		assert_true(asprintf(&path, "%s/batch-%s-%zu.txt", f->dir, tag, b) > 0);
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		for (size_t k = i; k < to && k < i + per; k++)
			fprintf(fp, "%s\n", p[k].puzzle);
		fclose(fp);
		assert_int_equal(sh(NULL,
				    "'%s' run --home '%s' '%s' --batch '%s' --learner "
				    "%s-learner-%zu >/dev/null",
				    trmx_bin, f->home, ctx, path, tag, b),
				 0);
		free(path);
	}
}

static const char *solution_of(const struct puzzle *p, size_t n, const char *puzzle)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(p[i].puzzle, puzzle))
			return p[i].solution;
	return NULL;
}

static int64_t q64(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(st), SQLITE_ROW);
	int64_t v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

static void test_gap_closing_loop(void **state)
{
	struct fx *f = *state;
	struct stat st;
	if (stat("modules/sudoku4/weights.safetensors", &st) != 0 || stat(trmx_bin, &st) != 0) {
		fprintf(stderr,
			"skipped: run from the repository root with modules/sudoku4 "
			"trained and %s built\n",
			trmx_bin);
		skip();
	}
	const char *ctx = "course/loop";
	char *out = NULL;
	trmx_error err;

	/* 1. the champion: sudoku4's weights with noise, packed without the bundled
	 * weights' metrics */
	char *w = tu_path(f->dir, "champion.safetensors"), *m = author_manifest("1.0.0");
	char *d1 = tu_path(f->dir, "m1");
	degrade("modules/sudoku4/weights.safetensors", w, 0.6);
	module_dir(d1, m, w);
	assert_int_equal(sh(NULL,
			    "'%s' pack '%s' -o '%s/' >/dev/null && '%s' install -q "
			    "--home '%s' '%s/sudoku4-1.0.0.trmx' "
			    ">/dev/null && '%s' alias set --home '%s' "
			    "sudoku4@champion 1.0.0 >/dev/null && "
			    "'%s' bind --home '%s' %s sudoku4@champion >/dev/null",
			    trmx_bin, d1, f->dir, trmx_bin, f->home, f->dir, trmx_bin, f->home, trmx_bin, f->home, ctx),
			 0);

	/* 2. learners run 96 puzzles; an instructor corrects every wrong answer */
	struct puzzle *p1 = NULL, *p2 = NULL;
	size_t n1 = gen(f->dir, "first.csv", 96, 101, &p1);
	assert_int_equal(n1, 96);
	run_batches(f, ctx, p1, 0, n1, 8, "a");
	assert_int_equal(sh(&out,
			    "'%s' sql --home '%s' --csv \"SELECT id, input, "
			    "coalesce(output, '') FROM runs ORDER BY id\"",
			    trmx_bin, f->home),
			 0);
	int wrong = 0, right = 0;
	char *save = NULL;
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char id[64], puzzle[32], output[32] = "";
		if (!strncmp(line, "id,", 3))
			continue;
		assert_true(sscanf(line, "%63[^,],%31[^,],%31s", id, puzzle, output) >= 2);
		const char *sol = solution_of(p1, n1, puzzle);
		assert_non_null(sol);
		if (!strcmp(sol, output)) {
			right++;
			continue;
		}
		wrong++;
		assert_int_equal(sh(NULL,
				    "'%s' feedback --home '%s' %s --verdict incorrect "
				    "--source instructor --expected %s >/dev/null",
				    trmx_bin, f->home, id, sol),
				 0);
	}
	free(out);
	fprintf(stderr, "champion: %d right, %d wrong of %zu\n", right, wrong, n1);
	assert_true(wrong >= 20 && right >= 20); /* "some wrong": the noise gives about half */

	/* 3. the corrections as a data set: one row per corrected puzzle */
	char *corr = tu_path(f->dir, "corrections.csv");
	assert_int_equal(
		sh(NULL, "'%s' export dataset --home '%s' --module sudoku4 -o '%s' 2>/dev/null", trmx_bin, f->home, corr),
		0);
	assert_int_equal(sh(&out, "tail -n +2 '%s' | wc -l", corr), 0);
	assert_int_equal(atoi(out), wrong);
	free(out);

	/* 4. fine-tune from the champion (weights, architecture, task from the
	 * installed module), half of the rows drawn from the corrections; pack with
	 * the lineage */
	char *cfg = tu_path(f->dir, "finetune.yaml"), *ft = tu_path(f->dir, "ft");
	assert_int_equal(tu_write_text(cfg, "name: loop-finetune\n"
					    "data:\n  source: generate\n  difficulty: singles\n  pool: "
					    "2000\n  seed: 2\n"
					    "  mix:\n    file: corrections.csv\n    share: 0.5\n"
					    "train:\n  batch_size: 32\n  steps: 60\n  lr: 1e-3\n  "
					    "warmup_steps: 5\n  seed: 3\n"
					    "  log_interval: 20\n"
					    "eval:\n  interval: 1000\n  size: 50\n  seed: 4242\n  steps: 8\n"
					    "checkpoint:\n  interval: 1000\n"),
			 0);
	assert_int_equal(sh(NULL,
			    "OMP_WAIT_POLICY=passive '%s' train '%s' --init "
			    "sudoku4@champion --home '%s' -o '%s' -q 2>&1",
			    trmx_bin, cfg, f->home, ft),
			 0);
	char *metrics_path = tu_path(ft, "metrics.yaml"), *metrics = tu_read_file(metrics_path, NULL);
	assert_non_null(metrics);
	char *mcut = strstr(metrics, "\nmetrics:");
	assert_non_null(mcut);
	mcut[1] = '\0'; /* the training: block with its lineage; the held-out figures
			   are left out */
	char *m2 = author_manifest("1.1.0"), *manifest2 = NULL, *w2 = tu_path(ft, "weights.safetensors");
	const char *training = strstr(metrics, "\ntraining:");
	assert_non_null(training);
	training++;
	assert_true(asprintf(&manifest2, "%s%s", m2, training) > 0);
	char *d2 = tu_path(f->dir, "m2");
	module_dir(d2, manifest2, w2);
	if (sh(NULL, "'%s' pack '%s' -o '%s/' >/dev/null", trmx_bin, d2, f->dir) != 0)
		fail_msg("cannot pack the fine-tuned version; its manifest:\n%s", manifest2);

	/* the lineage in the packed manifest */
	trmx_version_info vi;
	trmx_registry *reg = NULL;
	assert_trmx_ok(trmx_registry_open(&reg, f->home, NULL, &err), err);
	assert_trmx_ok(trmx_registry_version(reg, "sudoku4@1.0.0", &vi, &err), err);
	trmx_registry_free(reg);
	char *pkg2 = NULL, corr_sha[TRMX_SHA256_HEX_SIZE];
	assert_true(asprintf(&pkg2, "%s/sudoku4-1.1.0.trmx", f->dir) > 0);
	trmx_package *pk = NULL;
	assert_trmx_ok(trmx_package_open(&pk, pkg2, NULL, &err), err);
	const trmx_manifest_training *tr = trmx_manifest_training_get(trmx_package_manifest(pk));
	assert_non_null(tr);
	assert_non_null(tr->base);
	assert_string_equal(tr->base, vi.digest);
	assert_trmx_ok(trmx_sha256_file(corr, corr_sha, &err), err);
	assert_non_null(tr->corrections_sha256);
	assert_string_equal(tr->corrections_sha256, corr_sha);
	trmx_package_free(pk);

	/* 5. installed as the canary of the context, for half of the learners */
	assert_int_equal(sh(NULL,
			    "'%s' install -q --home '%s' '%s' >/dev/null && '%s' "
			    "bind --home '%s' %s sudoku4@champion "
			    "--canary sudoku4@1.1.0 --share 50%% >/dev/null",
			    trmx_bin, f->home, pkg2, trmx_bin, f->home, ctx),
			 0);

	/* 6. more runs: 40 learners, 6 puzzles each */
	size_t n2 = gen(f->dir, "second.csv", 240, 202, &p2);
	assert_int_equal(n2, 240);
	run_batches(f, ctx, p2, 0, n2, 6, "b");

	/* 7. the report: the canary against the champion, with intervals and a
	 * verdict */
	char *rep = tu_path(f->dir, "report.json");
	assert_int_equal(sh(NULL,
			    "'%s' report --home '%s' --context %s --since 1d "
			    "--format json -o '%s'",
			    trmx_bin, f->home, ctx, rep),
			 0);
	json_error_t je;
	json_t *root = json_load_file(rep, 0, &je);
	assert_non_null(root);
	json_t *canaries = json_object_get(root, "canaries");
	assert_int_equal(json_array_size(canaries), 1);
	json_t *c = json_array_get(canaries, 0), *champ = json_object_get(c, "champion"),
	       *can = json_object_get(c, "canary");
	assert_string_equal(json_string_value(json_object_get(champ, "version")), "1.0.0");
	assert_string_equal(json_string_value(json_object_get(can, "version")), "1.1.0");

	/* the arms' figures against hand-written SQL: the runs after the canary was
	 * bound, by arm; a run is judged by its newest instructor verdict, else its
	 * checker's (valid Sudoku = right) */
	sqlite3 *db = NULL;
	char *logp = tu_path(f->home, "log.db");
	assert_int_equal(sqlite3_open_v2(logp, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	static const char *const arms[2] = { "main", "canary" };
	json_t *sides[2] = { champ, can };
	for (int a = 0; a < 2; a++) {
		char sql[1024];
		const char *ver = a ? "1.1.0" : "1.0.0";
		snprintf(sql, sizeof sql, "SELECT count(*) FROM runs WHERE arm = '%s' AND version = '%s'", arms[a], ver);
		int64_t runs = q64(db, sql);
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM runs r WHERE arm = '%s' AND version = '%s' "
			 "AND coalesce("
			 "(SELECT r.output IS f.expected FROM feedback f WHERE f.run_id = "
			 "r.id AND f.expected IS NOT NULL "
			 " ORDER BY f.time DESC LIMIT 1),"
			 "(SELECT f.verdict = 'correct' FROM feedback f WHERE f.run_id = "
			 "r.id AND f.source = 'checker'))",
			 arms[a], ver);
		int64_t correct = q64(db, sql);
		snprintf(sql, sizeof sql,
			 "SELECT count(*) FROM runs r WHERE arm = '%s' AND version = '%s' "
			 "AND EXISTS "
			 "(SELECT 1 FROM feedback f WHERE f.run_id = r.id)",
			 arms[a], ver);
		int64_t judged = q64(db, sql);
		assert_int_equal(json_integer_value(json_object_get(sides[a], "runs")), runs);
		assert_int_equal(json_integer_value(json_object_get(sides[a], "judged")), judged);
		assert_int_equal(json_integer_value(json_object_get(sides[a], "correct")), correct);
		double lo, hi;
		trmx_wilson_interval(correct, judged, 1.959963984540054, &lo, &hi);
		assert_float_equal(json_real_value(json_object_get(sides[a], "accuracy_low")), lo, 1e-9);
		assert_float_equal(json_real_value(json_object_get(sides[a], "accuracy_high")), hi, 1e-9);
		fprintf(stderr, "%-8s %s: %lld of %lld judged correct, 95%% [%.3f, %.3f]\n", a ? "canary" : "champion", ver,
			(long long)correct, (long long)judged, lo, hi);
		assert_true(judged >= 60); /* both arms served a fair share */
	}
	sqlite3_close(db);
	assert_string_equal(json_string_value(json_object_get(c, "verdict")), "better");
	assert_true(json_real_value(json_object_get(can, "accuracy_low")) >
		    json_real_value(json_object_get(champ, "accuracy_high")));
	json_decref(root);
	assert_int_equal(sh(&out, "'%s' report --home '%s' --context %s", trmx_bin, f->home, ctx), 0);
	assert_non_null(strstr(out, "verdict: the canary is better"));
	free(out);

	/* the loop's statements, for the xAPI validators run after the tests */
	assert_int_equal(sh(NULL,
			    "mkdir -p '%s/tests/xapi' && '%s' export xapi --home "
			    "'%s' -o '%s/tests/xapi/loop.jsonl' 2>/dev/null",
			    build_dir, trmx_bin, f->home, build_dir),
			 0);

	free(rep), free(logp), free(p1), free(p2), free(pkg2), free(d2), free(manifest2), free(m2), free(w2);
	free(metrics), free(metrics_path), free(cfg), free(ft), free(corr), free(w), free(m), free(d1);
}

int main(int argc, char **argv)
{
	(void)argc;
	char *copy = strdup(argv[0]);
	snprintf(build_dir, sizeof build_dir, "%s/..", dirname(copy));
	free(copy);
	snprintf(trmx_bin, sizeof trmx_bin, "%.4000s/trmx", build_dir);
	char *abs = realpath(trmx_bin, NULL);
	if (abs) {
		snprintf(trmx_bin, sizeof trmx_bin, "%s", abs);
		free(abs);
	}
	abs = realpath(build_dir, NULL);
	if (abs) {
		snprintf(build_dir, sizeof build_dir, "%s", abs);
		free(abs);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_gap_closing_loop, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
