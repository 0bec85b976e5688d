/*
 * test_registry.c — the registry: TARGET and context names, the canary split (deterministic, within
 * 2 points of its share over 10,000 learners), install (store, module database, record, history,
 * idempotence, a second package for the same version refused), the self-test refusing a module
 * that does worse than it claims, hostile schema.sql files (ATTACH, PRAGMA, load_extension,
 * writing into another database, VACUUM INTO, transaction control, temporary and virtual tables)
 * refused with nothing changed on disk, migrations on upgrade, aliases, bindings, rollback,
 * quarantine, remove (refused while used), and the append-only history.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "test_registry_fixture.h"

struct fx {
	char *dir, *home;
	char *v1, *v2; /* sudoku4-tiny 0.1.0 and 0.2.0 */
	trmx_registry *reg;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	trmx_error err = { 0 };
	f->dir = tu_tmpdir();
	f->home = tu_path(f->dir, "home");
	f->v1 = fx_package(f->dir, "v1", &(struct fx_module){ .version = "0.1.0" });
	f->v2 = fx_package(f->dir, "v2", &(struct fx_module){ .version = "0.2.0" });
	trmx_registry_options ro = TRMX_REGISTRY_OPTIONS_INIT;
	ro.actor = "tester";
	if (trmx_registry_open(&f->reg, f->home, &ro, &err) < 0)
		fail_msg("%s", err.message);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	trmx_registry_free(f->reg);
	fx_rmtree(f->dir);
	free(f->dir);
	free(f->home);
	free(f->v1);
	free(f->v2);
	free(f);
	return 0;
}

static void install_ok(struct fx *f, const char *pkg, trmx_install_result *r)
{
	trmx_error err = { 0 };
	trmx_install_result tmp;
	assert_trmx_ok(trmx_registry_install(f->reg, pkg, NULL, r ? r : &tmp, &err), err);
}

static void test_names(void **state)
{
	trmx_target t;
	trmx_error err = { 0 };
	assert_trmx_ok(trmx_target_parse("sudoku4", &t, &err), err);
	assert_int_equal(t.kind, TRMX_TARGET_MODULE);
	assert_trmx_ok(trmx_target_parse("sudoku4@1.2.0-rc.1", &t, &err), err);
	assert_int_equal(t.kind, TRMX_TARGET_VERSION);
	assert_string_equal(t.ref, "1.2.0-rc.1");
	assert_trmx_ok(trmx_target_parse("sudoku4@champion", &t, &err), err);
	assert_int_equal(t.kind, TRMX_TARGET_ALIAS);
	assert_trmx_ok(trmx_target_parse("sudoku4@sha256:ABCDEF012345", &t, &err), err);
	assert_int_equal(t.kind, TRMX_TARGET_DIGEST);
	assert_string_equal(t.ref, "abcdef012345");
	assert_trmx_error(trmx_target_parse("sudoku4@sha256:abc", &t, &err), err, TRMX_EINVAL, "12 to 64 hex digits");
	assert_trmx_error(trmx_target_parse("Sudoku4", &t, &err), err, TRMX_EINVAL, "not a module name");
	assert_trmx_error(trmx_target_parse("sudoku4@", &t, &err), err, TRMX_EINVAL, "nothing after '@'");
	assert_trmx_error(trmx_target_parse("sudoku4@Champion!", &t, &err), err, TRMX_EINVAL, "after '@' comes");
	assert_trmx_ok(trmx_context_check("algebra/unit 3/item-2", &err), err);
	assert_trmx_error(trmx_context_check("a@b", &err), err, TRMX_EINVAL, "'@' belongs to targets");
	assert_trmx_error(trmx_context_check("-x", &err), err, TRMX_EINVAL, "may not start with '-'");
	assert_trmx_error(trmx_context_check("a\tb", &err), err, TRMX_EINVAL, "control characters");
	/* issue 24: names that look like others, or show reordered */
	assert_trmx_error(trmx_context_check("alge\xe2\x80\x8b" "bra", &err), err, TRMX_EINVAL, "invisible"); /* U+200B */
	assert_trmx_error(trmx_context_check("unit-\xe2\x80\xae" "3", &err), err, TRMX_EINVAL, "invisible");  /* U+202E */
	assert_trmx_error(trmx_context_check("\xef\xbb\xbf" "x", &err), err, TRMX_EINVAL, "invisible");        /* BOM */
	assert_trmx_error(trmx_context_check("a\xe2\x81\xa6" "b", &err), err, TRMX_EINVAL, "invisible");       /* U+2066 */
	assert_trmx_ok(trmx_context_check("alg\xc3\xa8" "bre/unit\xe2\x80\x94" "3", &err), err); /* è, an em dash */
	/* one spelling per name (issue 24, item 8): Unicode NFC; 'e' + U+0300 for 'è' is refused, naming the NFC form */
	assert_trmx_error(trmx_context_check("alge\xcc\x80" "bre", &err), err, TRMX_EINVAL, "write it as 'alg\xc3\xa8" "bre'");
	assert_trmx_error(trmx_context_check("\xe2\x84\xab", &err), err, TRMX_EINVAL, "normalization form C"); /* U+212B ANGSTROM */
	assert_trmx_ok(trmx_context_check("\xc3\x85" "ngstr\xc3\xb6m/\xe4\xb8\xad\xe6\x96\x87/\xed\x95\x9c", &err), err); /* Å, ö, CJK, a Hangul syllable */
	assert_trmx_error(trmx_context_check("", &err), err, TRMX_EINVAL, "empty");
}

/* Acceptance 5, second half: the canary takes its share of learners within 2 points, and each
 * learner always lands on the same side. */
static void test_canary_split(void **state)
{
	static const double shares[] = { 0.01, 0.1, 0.25, 0.5, 0.9 };
	trmx_error err = { 0 };
	char *home = tu_tmpdir();
	trmx_log_db *log = NULL;
	assert_trmx_ok(trmx_log_open(&log, home, NULL, &err), err);
	enum { LEARNERS = 10000 };
	char (*pseud)[TRMX_PSEUDONYM_SIZE] = malloc(LEARNERS * sizeof *pseud);
	for (int i = 0; i < LEARNERS; i++) {
		char id[64];
		snprintf(id, sizeof id, "learner-%d@school.example", i);
		assert_trmx_ok(trmx_log_pseudonym(log, id, pseud[i], &err), err);
	}
	for (size_t s = 0; s < sizeof shares / sizeof *shares; s++) {
		for (int ctx = 0; ctx < 3; ctx++) {
			char context[32];
			snprintf(context, sizeof context, "course/unit-%d", ctx);
			int canary = 0;
			for (int i = 0; i < LEARNERS; i++) {
				double p = trmx_canary_point(pseud[i], context);
				assert_true(p >= 0.0 && p < 1.0);
				assert_true(p == trmx_canary_point(pseud[i], context));
				canary += p < shares[s];
			}
			double got = (double)canary / LEARNERS;
			print_message("share %.2f, %s: %.4f of %d learners\n", shares[s], context, got, LEARNERS);
			assert_true(got > shares[s] - 0.02 && got < shares[s] + 0.02);
		}
	}
	free(pseud);
	trmx_log_free(log);
	tu_rmtree(home);
	free(home);
}

static void test_install(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_install_result r;
	install_ok(f, f->v1, &r);
	assert_false(r.already);
	assert_string_equal(r.module, "sudoku4-tiny");
	assert_string_equal(r.module_version, "0.1.0");
	assert_int_equal(r.examples, 2);
	assert_int_equal(r.examples_labelled, 2);
	assert_true(r.db_created);
	char digest[TRMX_SHA256_HEX_SIZE];
	assert_trmx_ok(trmx_sha256_file(f->v1, digest, &err), err);
	assert_string_equal(r.digest, digest);
	/* the store: unpacked, read-only */
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/store/sha256/%s/weights.safetensors", f->home, digest);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0444);
	snprintf(path, sizeof path, "%s/store/sha256/%s", f->home, digest);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0555);
	/* the module's database, from its schema.sql */
	snprintf(path, sizeof path, "%s/data/sudoku4-tiny.db", f->home);
	struct fx_buf b = { NULL, 0, 0 };
	fx_put(&b, "");
	fx_dump_db(path, &b);
	assert_non_null(strstr(b.s, "CREATE TABLE attempts"));
	free(b.s);
	/* again: nothing changes */
	char *before = fx_dump_home(f->home);
	install_ok(f, f->v1, &r);
	assert_true(r.already);
	char *after = fx_dump_home(f->home);
	fx_assert_same(before, after, "second install");
	free(after);
	/* another package claiming the same name and version */
	char *clash = fx_package(f->dir, "clash", &(struct fx_module){ .version = "0.1.0", .metric_from = "A tiny 4x4",
									.metric_to = "Another tiny 4x4" });
	assert_trmx_error(trmx_registry_install(f->reg, clash, NULL, &r, &err), err, TRMX_EINVAL, "already installed from another package");
	after = fx_dump_home(f->home);
	fx_assert_same(before, after, "clashing install");
	free(after);
	free(before);
	free(clash);

	trmx_version_info *vs = NULL;
	size_t n = 0;
	assert_trmx_ok(trmx_registry_versions(f->reg, NULL, &vs, &n, &err), err);
	assert_int_equal(n, 1);
	assert_string_equal(vs[0].installed_by, "tester");
	assert_int_equal(vs[0].examples, 2);
	free(vs);
	trmx_history_entry *h = NULL;
	assert_trmx_ok(trmx_registry_history(f->reg, NULL, 0, &h, &n, &err), err);
	assert_int_equal(n, 1);
	assert_string_equal(h[0].action, "install");
	assert_string_equal(h[0].subject, "sudoku4-tiny@0.1.0");
	free(h);
}

static void test_selftest_refuses(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_install_result r;
	char *before = fx_dump_home(f->home);
	/* a module claiming to solve its examples, which it does not */
	char *liar = fx_package(f->dir, "liar", &(struct fx_module){ .version = "0.3.0", .metric_from = "exact_accuracy: 0.0",
								       .metric_to = "exact_accuracy: 1.0" });
	assert_trmx_error(trmx_registry_install(f->reg, liar, NULL, &r, &err), err, TRMX_ERROR, "claims exact_accuracy 1");
	/* without a metric for its examples: every expected answer must come out */
	char *plain = fx_package(f->dir, "plain", &(struct fx_module){ .version = "0.3.1", .metric_from = "sudoku4-examples:",
									 .metric_to = "held-out:" });
	assert_trmx_error(trmx_registry_install(f->reg, plain, NULL, &r, &err), err, TRMX_ERROR, "solves 0 of its 2 examples");
	char *after = fx_dump_home(f->home);
	fx_assert_same(before, after, "refused self-test");
	free(after);
	free(before);
	free(liar);
	free(plain);
}

static void hostile(struct fx *f, const char *tag, const char *schema, const char *want)
{
	trmx_error err = { 0 };
	trmx_install_result r;
	char *before = fx_dump_home(f->home);
	char *pkg = fx_package(f->dir, tag, &(struct fx_module){ .version = "0.5.0", .name = "evil", .schema = schema });
	int rc = trmx_registry_install(f->reg, pkg, NULL, &r, &err);
	if (rc != TRMX_EFORMAT || !strstr(err.message, want))
		fail_msg("%s: expected TRMX_EFORMAT with \"%s\", got %d: %s", tag, want, rc, err.message);
	char *after = fx_dump_home(f->home);
	fx_assert_same(before, after, tag);
	free(after);
	free(before);
	free(pkg);
}

/* Acceptance 4: hostile schema.sql files are refused at install, with a clear error, and leave
 * nothing behind. */
static void test_hostile_schema(void **state)
{
	struct fx *f = *state;
	install_ok(f, f->v1, NULL); /* something in the home to keep intact */
	char *other = tu_path(f->dir, "other.db");
	char sql[8192];
	snprintf(sql, sizeof sql, "CREATE TABLE t (x);\nATTACH DATABASE '%s' AS other;\n", other);
	hostile(f, "attach", sql, "schema.sql:2: ATTACH statements are not allowed");
	snprintf(sql, sizeof sql, "CREATE TABLE t (x);\nATTACH '%s' AS o;\nCREATE TABLE o.stolen (x);\n", other);
	hostile(f, "attach-write", sql, "ATTACH statements are not allowed");
	hostile(f, "pragma", "CREATE TABLE t (x);\nPRAGMA writable_schema = ON;\n", "PRAGMA writable_schema is not allowed");
	hostile(f, "pragma-journal", "PRAGMA journal_mode = OFF;\n", "PRAGMA journal_mode is not allowed");
	hostile(f, "load-extension", "SELECT load_extension('/tmp/evil.so');\n", "load_extension() is not allowed");
	hostile(f, "temp", "CREATE TEMP TABLE t (x);\n", "not 'temp'");
	hostile(f, "temp-write", "CREATE TABLE t (x);\nINSERT INTO temp.sqlite_temp_master VALUES (1, 2, 3, 4, 5);\n",
		"only the module's own database may be used, not 'temp'");
	snprintf(sql, sizeof sql, "CREATE TABLE t (x);\nVACUUM INTO '%s';\n", other);
	hostile(f, "vacuum-into", sql, "VACUUM statements are not allowed");
	hostile(f, "transaction", "COMMIT;\nCREATE TABLE t (x);\n", "COMMIT statements are not allowed");
	hostile(f, "savepoint", "SAVEPOINT a;\n", "SAVEPOINT statements are not allowed");
	hostile(f, "vtable", "CREATE VIRTUAL TABLE v USING fts5(x);\n", "virtual tables are not allowed");
	hostile(f, "runaway", "CREATE TABLE t (x);\nWITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c) "
		"SELECT count(*) FROM c;\n", "TRMX_MODULE_SQL_OPS_MAX");
	hostile(f, "syntax", "CREATE TABLE t (x;\n", "schema.sql:1");
	/* triggers (issue 24, item 1): they would run inside trmx erase and purge, one keeping a copy
	 * of the erased rows, another never ending */
	hostile(f, "trigger-shadow", "CREATE TABLE notes (learner TEXT, run_id TEXT);\nCREATE TABLE shadow (who TEXT);\n"
		"CREATE TRIGGER keep AFTER DELETE ON notes BEGIN INSERT INTO shadow VALUES (old.learner); END;\n",
		"schema.sql:3: triggers are not allowed (keep)");
	hostile(f, "trigger-cte", "CREATE TABLE notes (run_id TEXT);\nCREATE TABLE junk (x);\n"
		"CREATE TRIGGER grow AFTER DELETE ON notes BEGIN INSERT INTO junk WITH RECURSIVE c(i) AS "
		"(SELECT 1 UNION ALL SELECT i + 1 FROM c) SELECT zeroblob(1000) FROM c; END;\n",
		"triggers are not allowed (grow)");
	hostile(f, "trigger-view", "CREATE TABLE notes (run_id TEXT);\nCREATE VIEW v AS SELECT * FROM notes;\n"
		"CREATE TRIGGER ins INSTEAD OF INSERT ON v BEGIN DELETE FROM notes; END;\n", "triggers are not allowed (ins)");
	/* and pack (with its content checks, which verify --contents shares) refuses them too */
	{
		char *mdir = tu_path(f->dir, "trigger-shadow"), *out = tu_path(f->dir, "trigger-repack.trmx");
		trmx_error e2 = { 0 };
		trmx_pack_options po = TRMX_PACK_OPTIONS_INIT;
		assert_trmx_error(trmx_package_pack(mdir, out, &po, NULL, &e2), e2, TRMX_EFORMAT,
				  "triggers are not allowed (keep)");
		free(mdir);
		free(out);
	}
	/* nothing was written outside the module's own database */
	struct stat st;
	assert_int_not_equal(stat(other, &st), 0);
	free(other);
	/* the allowed things are allowed: tables, indexes, views, user_version, inserts */
	trmx_error err = { 0 };
	trmx_install_result r;
	char *good = fx_package(f->dir, "good", &(struct fx_module){
		.version = "0.5.0", .name = "fine",
		.schema = "-- a module that keeps notes\nCREATE TABLE notes (id INTEGER PRIMARY KEY, run_id TEXT, note TEXT);\n"
			  "CREATE INDEX notes_run ON notes (run_id);\nCREATE VIEW note_count AS SELECT count(*) AS n FROM notes;\n"
			  "INSERT INTO notes (run_id, note) VALUES ('none', 'installed');\nPRAGMA user_version = 7;\n" });
	assert_trmx_ok(trmx_registry_install(f->reg, good, NULL, &r, &err), err);
	assert_int_equal(r.schema_version, 7);
	free(good);
	/* per-run rows through the API, under the same authorizer */
	const char *params[] = { "01234567-89ab-7cde-8f01-23456789abcd", "from a test" };
	assert_trmx_ok(trmx_registry_module_exec(f->reg, "fine", "INSERT INTO notes (run_id, note) VALUES (?1, ?2)", params,
						 2, &err), err);
	assert_trmx_error(trmx_registry_module_exec(f->reg, "fine", "ATTACH 'x.db' AS x", NULL, 0, &err), err, TRMX_EFORMAT,
			  "not allowed");
	assert_trmx_error(trmx_registry_module_exec(f->reg, "fine", "PRAGMA journal_mode = DELETE", NULL, 0, &err), err,
			  TRMX_EFORMAT, "not allowed");
	assert_trmx_error(trmx_registry_module_exec(f->reg, "nosuch", "SELECT 1", NULL, 0, &err), err, TRMX_ENOTFOUND,
			  "no module");
}

static void test_migrations(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_install_result r;
	install_ok(f, f->v1, &r);
	assert_int_equal(r.schema_version, 0);
	const char *params[] = { "01234567-89ab-7cde-8f01-23456789abcd", "3" };
	assert_trmx_ok(trmx_registry_module_exec(f->reg, "sudoku4-tiny",
						 "INSERT INTO attempts (run_id, cells_filled) VALUES (?1, ?2)", params, 2, &err), err);
	/* 0.2.0 brings two migrations */
	char *v3 = fx_package(f->dir, "v3", &(struct fx_module){
		.version = "0.3.0",
		.schema = "CREATE TABLE attempts (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL, cells_filled INTEGER NOT NULL,\n"
			  "  hinted INTEGER NOT NULL DEFAULT 0, seconds REAL);\nCREATE VIEW slow AS SELECT * FROM attempts WHERE seconds > 60;\n",
		.migrations = { "ALTER TABLE attempts ADD COLUMN seconds REAL;\n",
				"CREATE VIEW slow AS SELECT * FROM attempts WHERE seconds > 60;\n" } });
	assert_trmx_ok(trmx_registry_install(f->reg, v3, NULL, &r, &err), err);
	assert_false(r.db_created);
	assert_int_equal(r.migrations_applied, 2);
	assert_int_equal(r.schema_version, 2);
	char path[4096];
	snprintf(path, sizeof path, "%s/data/sudoku4-tiny.db", f->home);
	struct fx_buf b = { NULL, 0, 0 };
	fx_put(&b, "");
	fx_dump_db(path, &b);
	assert_non_null(strstr(b.s, "user_version 2"));
	assert_non_null(strstr(b.s, "view slow"));
	assert_non_null(strstr(b.s, "01234567-89ab-7cde-8f01-23456789abcd|3|0|NULL|")); /* the row kept */
	free(b.s);
	trmx_module_info mi;
	assert_trmx_ok(trmx_registry_module(f->reg, "sudoku4-tiny", &mi, &err), err);
	assert_int_equal(mi.schema_version, 2);
	/* an older package after it: its (no) migrations change nothing */
	install_ok(f, f->v2, &r);
	assert_int_equal(r.migrations_applied, 0);
	assert_int_equal(r.schema_version, 2);
	/* a hostile migration is refused and the database stays at version 2 */
	char *v4 = fx_package(f->dir, "v4", &(struct fx_module){
		.version = "0.4.0",
		.migrations = { "ALTER TABLE attempts ADD COLUMN seconds REAL;\n", "SELECT 1;\n",
				"CREATE TABLE x (a);\nPRAGMA cache_size = 1;\n" } });
	char *before = fx_dump_home(f->home);
	assert_trmx_error(trmx_registry_install(f->reg, v4, NULL, &r, &err), err, TRMX_EFORMAT, "migrations/0003.sql:2");
	char *after = fx_dump_home(f->home);
	fx_assert_same(before, after, "hostile migration");
	free(before);
	free(after);
	/* so is a migration that makes a trigger (issue 24, item 1) */
	char *v5 = fx_package(f->dir, "v5", &(struct fx_module){
		.version = "0.5.0",
		.migrations = { "SELECT 1;\n", "SELECT 1;\n", "CREATE TABLE shadow (r TEXT);\n"
				"CREATE TRIGGER keep AFTER DELETE ON attempts BEGIN INSERT INTO shadow VALUES (old.run_id); END;\n" } });
	before = fx_dump_home(f->home);
	assert_trmx_error(trmx_registry_install(f->reg, v5, NULL, &r, &err), err, TRMX_EFORMAT,
			  "migrations/0003.sql:2: triggers are not allowed (keep)");
	after = fx_dump_home(f->home);
	fx_assert_same(before, after, "migration with a trigger");
	free(before);
	free(after);
	free(v3);
	free(v4);
	free(v5);
}

static void resolve_is(struct fx *f, const char *name, const char *learner, const char *version, trmx_arm arm)
{
	trmx_error err = { 0 };
	trmx_resolution res;
	assert_trmx_ok(trmx_registry_resolve(f->reg, name, learner, &res, &err), err);
	assert_string_equal(res.module_version, version);
	assert_int_equal(res.arm, arm);
}

static void test_bindings(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_resolution res;
	install_ok(f, f->v1, NULL);
	install_ok(f, f->v2, NULL);
	/* MODULE: the highest active version */
	resolve_is(f, "sudoku4-tiny", NULL, "0.2.0", TRMX_ARM_MAIN);
	/* aliases */
	assert_trmx_ok(trmx_registry_alias_set(f->reg, "sudoku4-tiny", "champion", "0.1.0", &err), err);
	resolve_is(f, "sudoku4-tiny@champion", NULL, "0.1.0", TRMX_ARM_MAIN);
	assert_trmx_error(trmx_registry_alias_set(f->reg, "sudoku4-tiny", "1.0.0", "0.1.0", &err), err, TRMX_EINVAL,
			  "not an alias name");
	assert_trmx_error(trmx_registry_alias_set(f->reg, "sudoku4-tiny", "next", "9.9.9", &err), err, TRMX_ENOTFOUND,
			  "not installed");
	/* bind to the alias: moving the alias moves the context */
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/a", "sudoku4-tiny@champion", NULL, 0, &err), err);
	resolve_is(f, "course/a", NULL, "0.1.0", TRMX_ARM_MAIN);
	assert_trmx_ok(trmx_registry_alias_set(f->reg, "sudoku4-tiny", "champion", "0.2.0", &err), err);
	resolve_is(f, "course/a", NULL, "0.2.0", TRMX_ARM_MAIN);
	assert_trmx_error(trmx_registry_alias_remove(f->reg, "sudoku4-tiny", "champion", &err), err, TRMX_EINVAL, "in use");
	/* bind, bind again, roll back twice */
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/b", "sudoku4-tiny@0.1.0", NULL, 0, &err), err);
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/b", "sudoku4-tiny@0.2.0", NULL, 0, &err), err);
	resolve_is(f, "course/b", NULL, "0.2.0", TRMX_ARM_MAIN);
	assert_trmx_ok(trmx_registry_rollback(f->reg, "course/b", &err), err);
	resolve_is(f, "course/b", NULL, "0.1.0", TRMX_ARM_MAIN);
	assert_trmx_ok(trmx_registry_rollback(f->reg, "course/b", &err), err);
	assert_trmx_error(trmx_registry_resolve(f->reg, "course/b", NULL, &res, &err), err, TRMX_ENOTFOUND,
			  "neither a bound context nor a module");
	assert_trmx_error(trmx_registry_rollback(f->reg, "course/b", &err), err, TRMX_ENOTFOUND, "no earlier binding");
	/* unbind, and roll the unbind back */
	assert_trmx_ok(trmx_registry_unbind(f->reg, "course/a", &err), err);
	assert_trmx_error(trmx_registry_unbind(f->reg, "course/a", &err), err, TRMX_ENOTFOUND, "not bound");
	assert_trmx_ok(trmx_registry_rollback(f->reg, "course/a", &err), err);
	resolve_is(f, "course/a", NULL, "0.2.0", TRMX_ARM_MAIN);
	/* a canary: learners split, no learner -> main */
	assert_trmx_ok(trmx_registry_bind(f->reg, "course/c", "sudoku4-tiny@0.1.0", "sudoku4-tiny@0.2.0", 0.5, &err), err);
	resolve_is(f, "course/c", NULL, "0.1.0", TRMX_ARM_MAIN);
	int canary = 0;
	for (int i = 0; i < 200; i++) {
		char who[TRMX_PSEUDONYM_SIZE];
		snprintf(who, sizeof who, "%064d", i);
		assert_trmx_ok(trmx_registry_resolve(f->reg, "course/c", who, &res, &err), err);
		canary += res.arm == TRMX_ARM_CANARY;
		assert_string_equal(res.module_version, res.arm == TRMX_ARM_CANARY ? "0.2.0" : "0.1.0");
		assert_string_equal(res.target, res.arm == TRMX_ARM_CANARY ? "sudoku4-tiny@0.2.0" : "sudoku4-tiny@0.1.0");
	}
	assert_true(canary > 60 && canary < 140);
	assert_trmx_error(trmx_registry_bind(f->reg, "course/d", "sudoku4-tiny@0.1.0", "sudoku4-tiny@0.1.0", 0.5, &err), err,
			  TRMX_EINVAL, "same package");
	assert_trmx_error(trmx_registry_bind(f->reg, "course/d", "sudoku4-tiny@0.1.0", NULL, 0.5, &err), err, TRMX_EINVAL,
			  "without a canary");
	assert_trmx_error(trmx_registry_bind(f->reg, "course/d", "nosuch", NULL, 0, &err), err, TRMX_ENOTFOUND,
			  "no module 'nosuch'");
	/* quarantine: the canary's learners go to the main target; a target naming it fails */
	assert_trmx_ok(trmx_registry_quarantine(f->reg, "sudoku4-tiny", "0.2.0", true, "wrong answers", &err), err);
	for (int i = 0; i < 50; i++) {
		char who[TRMX_PSEUDONYM_SIZE];
		snprintf(who, sizeof who, "%064d", i);
		resolve_is(f, "course/c", who, "0.1.0", TRMX_ARM_MAIN);
	}
	assert_trmx_error(trmx_registry_resolve(f->reg, "sudoku4-tiny@0.2.0", NULL, &res, &err), err, TRMX_ERROR,
			  "quarantined");
	assert_trmx_error(trmx_registry_resolve(f->reg, "course/a", NULL, &res, &err), err, TRMX_ERROR, "quarantined");
	resolve_is(f, "sudoku4-tiny", NULL, "0.1.0", TRMX_ARM_MAIN); /* MODULE skips it */
	assert_trmx_error(trmx_registry_bind(f->reg, "course/e", "sudoku4-tiny@0.2.0", NULL, 0, &err), err, TRMX_ERROR,
			  "quarantined");
	assert_trmx_ok(trmx_registry_quarantine(f->reg, "sudoku4-tiny", "0.2.0", false, NULL, &err), err);
	resolve_is(f, "course/a", NULL, "0.2.0", TRMX_ARM_MAIN);

	/* remove: refused while used, forced otherwise */
	assert_trmx_error(trmx_registry_remove(f->reg, "sudoku4-tiny@0.1.0", 0, &err), err, TRMX_EINVAL, "in use by context");
	assert_trmx_ok(trmx_registry_unbind(f->reg, "course/c", &err), err);
	assert_trmx_ok(trmx_registry_remove(f->reg, "sudoku4-tiny@0.1.0", 0, &err), err);
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/data/sudoku4-tiny.db", f->home);
	assert_int_equal(stat(path, &st), 0); /* data stays */
	assert_trmx_error(trmx_registry_remove(f->reg, "sudoku4-tiny", 0, &err), err, TRMX_EINVAL, "course/a");
	assert_trmx_ok(trmx_registry_remove(f->reg, "sudoku4-tiny", TRMX_REMOVE_FORCE, &err), err);
	assert_trmx_error(trmx_registry_resolve(f->reg, "course/a", NULL, &res, &err), err, TRMX_ENOTFOUND,
			  "no alias sudoku4-tiny@champion");
	trmx_version_info *vs = NULL;
	size_t n = 0;
	assert_trmx_ok(trmx_registry_versions(f->reg, NULL, &vs, &n, &err), err);
	assert_int_equal(n, 0);
	free(vs);
	snprintf(path, sizeof path, "%s/store/sha256", f->home);
	DIR *d = opendir(path);
	int entries = 0;
	for (struct dirent *e; d && (e = readdir(d));)
		entries += e->d_name[0] != '.';
	closedir(d);
	assert_int_equal(entries, 0);

	/* the history has it all, and refuses to be rewritten */
	trmx_history_entry *h = NULL;
	assert_trmx_ok(trmx_registry_history(f->reg, "course/b", 0, &h, &n, &err), err);
	assert_int_equal(n, 4);
	assert_string_equal(h[0].action, "bind");
	assert_string_equal(h[2].action, "rollback");
	assert_string_equal(h[2].old_value, "sudoku4-tiny@0.2.0");
	assert_string_equal(h[2].new_value, "sudoku4-tiny@0.1.0");
	assert_string_equal(h[0].actor, "tester");
	free(h);
	assert_trmx_ok(trmx_registry_history(f->reg, "sudoku4-tiny", 0, &h, &n, &err), err);
	bool saw_quarantine = false;
	for (size_t i = 0; i < n; i++)
		saw_quarantine |= !strcmp(h[i].action, "quarantine") && !strcmp(h[i].detail, "wrong answers");
	assert_true(saw_quarantine);
	free(h);
	snprintf(path, sizeof path, "%s/registry.db", f->home);
	sqlite3 *db = NULL;
	char *msg = NULL;
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_not_equal(sqlite3_exec(db, "UPDATE history SET actor = 'someone else'", NULL, NULL, &msg), SQLITE_OK);
	assert_non_null(strstr(msg, "append-only"));
	sqlite3_free(msg);
	assert_int_not_equal(sqlite3_exec(db, "DELETE FROM history", NULL, NULL, &msg), SQLITE_OK);
	sqlite3_free(msg);
	sqlite3_close(db);
	int64_t gen = 0;
	assert_trmx_ok(trmx_registry_generation(f->reg, &gen, &err), err);
	assert_true(gen >= 15);
}

/* The one version rule of the API's structs (core_int.h): versions 1 to the current are read, a
 * field only by the versions that have it; 0 and a newer version are refused. Version 1 of the
 * registry options ends before read_only, so a stray value there is not read. */
static void test_options_versions(void **state)
{
	(void)state;
	char *dir = tu_tmpdir(), *home = tu_path(dir, "home");
	trmx_error err = { 0 };
	trmx_registry *r = NULL;
	trmx_registry_options ro = TRMX_REGISTRY_OPTIONS_INIT;
	ro.read_only = true;
	assert_trmx_error(trmx_registry_open(&r, home, &ro, &err), err, TRMX_ENOTFOUND, "");
	ro.version = 0;
	assert_trmx_error(trmx_registry_open(&r, home, &ro, &err), err, TRMX_EVERSION,
			  "registry options version 0: this trmx reads versions 1 to 2 (make the struct with its _INIT macro)");
	ro.version = TRMX_REGISTRY_OPTIONS_VERSION + 1;
	assert_trmx_error(trmx_registry_open(&r, home, &ro, &err), err, TRMX_EVERSION,
			  "registry options version 3: this trmx reads versions 1 to 2 (built against a newer trmx?)");
	assert_null(r);
	ro.version = 1; /* read_only is past its end: a writer, which makes the registry */
	assert_trmx_ok(trmx_registry_open(&r, home, &ro, &err), err);
	trmx_registry_free(r);
	fx_rmtree(dir);
	free(home);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_canary_split),
		cmocka_unit_test(test_options_versions),
		cmocka_unit_test_setup_teardown(test_install, setup, teardown),
		cmocka_unit_test_setup_teardown(test_selftest_refuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hostile_schema, setup, teardown),
		cmocka_unit_test_setup_teardown(test_migrations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bindings, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
