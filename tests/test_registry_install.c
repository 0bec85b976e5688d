/*
 * test_registry_install.c — acceptance 2: install is all or nothing. For each kind of fault — an
 * allocation (the registry's own, and SQLite's through SQLITE_CONFIG_MALLOC), a disk write (the
 * registry's file operations, and every write SQLite makes through a VFS shim), an SQLite
 * statement step, a self-test example — the Nth one is made to fail, for every N until the
 * install gets through (SQLite's own allocations: sampled unless TRMX_TEST_EXHAUSTIVE=1), and after each failure the home (the store, registry.db, log.db and the
 * module's database: files byte for byte, databases row by row) must be exactly as before. Both
 * a first install (the module's database created) and an upgrade (its migrations applied in
 * place, then undone) are driven so. Both are also killed (SIGKILL, in a child process) before each
 * of their steps in turn, and the next open must see the install wholly done or not at all.
 */
#define _GNU_SOURCE /* RTLD_NEXT */
#include <dirent.h>
#include <dlfcn.h>
#include <setjmp.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log/log_int.h"
#include "test_registry_fixture.h"

/* ---- SQLite's allocations, through a failing allocator -------------------------------------- */

static sqlite3_mem_methods mem_orig;
static long mem_nth, mem_seen;

static void *mem_malloc(int n)
{
	if (mem_nth > 0 && ++mem_seen == mem_nth)
		return NULL;
	return mem_orig.xMalloc(n);
}

static void *mem_realloc(void *p, int n)
{
	if (mem_nth > 0 && ++mem_seen == mem_nth)
		return NULL;
	return mem_orig.xRealloc(p, n);
}

static void mem_free(void *p)
{
	mem_orig.xFree(p);
}

static int mem_size(void *p)
{
	return mem_orig.xSize(p);
}

static int mem_roundup(int n)
{
	return mem_orig.xRoundup(n);
}

static int mem_init(void *a)
{
	return mem_orig.xInit(a);
}

static void mem_shutdown(void *a)
{
	mem_orig.xShutdown(a);
}

/* ---- SQLite's disk writes, through a failing VFS --------------------------------------------- */

static sqlite3_vfs *vfs_real;
static sqlite3_vfs vfs_faulty;
static sqlite3_io_methods io_faulty;
static long disk_nth, disk_seen;

struct ffile {
	sqlite3_file base;
	sqlite3_file *real;
};

/* ---- SIGKILL at the Nth step: every write, truncation and sync SQLite makes (the VFS shim) and
 * every rename, unlink, mkdir, chmod and fsync of the library (these libc functions interposed
 * below), in a child process ------------------------------------------------------------------ */

static long kill_nth, kill_seen;

static void kill_point(void)
{
	if (kill_nth > 0 && ++kill_seen == kill_nth)
		raise(SIGKILL);
}

#define INTERPOSE(ret, name, params, args)                                                                  \
	ret name params                                                                                     \
	{                                                                                                   \
		static ret(*real) params;                                                                   \
		if (!real)                                                                                  \
			*(void **)&real = dlsym(RTLD_NEXT, #name);                                          \
		kill_point();                                                                               \
		return real args;                                                                           \
	}
INTERPOSE(int, rename, (const char *a, const char *b), (a, b))
INTERPOSE(int, unlink, (const char *a), (a))
INTERPOSE(int, mkdir, (const char *a, mode_t m), (a, m))
INTERPOSE(int, chmod, (const char *a, mode_t m), (a, m))
INTERPOSE(int, fsync, (int fd), (fd))

static bool disk_fails(void)
{
	kill_point();
	return disk_nth > 0 && ++disk_seen == disk_nth;
}

#define REAL(f) (((struct ffile *)(f))->real)

static int f_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}
static int f_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o)
{
	return REAL(f)->pMethods->xRead(REAL(f), b, n, o);
}
static int f_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o)
{
	return disk_fails() ? SQLITE_IOERR_WRITE : REAL(f)->pMethods->xWrite(REAL(f), b, n, o);
}
static int f_truncate(sqlite3_file *f, sqlite3_int64 s)
{
	return disk_fails() ? SQLITE_IOERR_TRUNCATE : REAL(f)->pMethods->xTruncate(REAL(f), s);
}
static int f_sync(sqlite3_file *f, int flags)
{
	return disk_fails() ? SQLITE_IOERR_FSYNC : REAL(f)->pMethods->xSync(REAL(f), flags);
}
static int f_size(sqlite3_file *f, sqlite3_int64 *s)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), s);
}
static int f_lock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xLock(REAL(f), l);
}
static int f_unlock(sqlite3_file *f, int l)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), l);
}
static int f_check(sqlite3_file *f, int *r)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), r);
}
static int f_fcntl(sqlite3_file *f, int op, void *a)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, a);
}
static int f_sector(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}
static int f_dev(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}
static int f_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), pg, sz, ext, pp);
}
static int f_shmlock(sqlite3_file *f, int o, int n, int fl)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), o, n, fl);
}
static void f_shmbarrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}
static int f_shmunmap(sqlite3_file *f, int del)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int f_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out)
{
	struct ffile *ff = (struct ffile *)file;
	ff->real = (sqlite3_file *)(ff + 1);
	ff->base.pMethods = NULL;
	int rc = vfs_real->xOpen(vfs_real, name, ff->real, flags, out);
	if (ff->real->pMethods)
		ff->base.pMethods = &io_faulty;
	return rc;
}

static void install_shims(void)
{
	sqlite3_config(SQLITE_CONFIG_GETMALLOC, &mem_orig);
	sqlite3_mem_methods m = { mem_malloc, mem_free, mem_realloc, mem_size, mem_roundup, mem_init, mem_shutdown, NULL };
	sqlite3_config(SQLITE_CONFIG_MALLOC, &m);
	sqlite3_initialize();
	vfs_real = sqlite3_vfs_find(NULL);
	vfs_faulty = *vfs_real;
	vfs_faulty.zName = "faulty";
	vfs_faulty.szOsFile = (int)sizeof(struct ffile) + vfs_real->szOsFile;
	vfs_faulty.xOpen = f_open;
	io_faulty = (sqlite3_io_methods){ 2, f_close, f_read, f_write, f_truncate, f_sync, f_size, f_lock, f_unlock, f_check,
					  f_fcntl, f_sector, f_dev, f_shmmap, f_shmlock, f_shmbarrier, f_shmunmap, NULL, NULL };
	sqlite3_vfs_register(&vfs_faulty, 1);
}

/* ---- Driving ----------------------------------------------------------------------------------- */

enum kind { K_ALLOC, K_WRITE, K_SQL, K_SELFTEST, K_SQLITE_MALLOC, K_DISK_WRITE, K_COUNT };
static const char *const kind_names[] = { "allocation", "file-system change", "SQLite step", "self-test example",
					  "SQLite allocation", "SQLite disk write" };

static void arm(enum kind k, long n)
{
	trmx_fault_disarm();
	mem_nth = disk_nth = 0;
	mem_seen = disk_seen = 0;
	switch (k) {
	case K_ALLOC: trmx_fault_arm(TRMX_FAULT_ALLOC, n); break;
	case K_WRITE: trmx_fault_arm(TRMX_FAULT_WRITE, n); break;
	case K_SQL: trmx_fault_arm(TRMX_FAULT_SQL, n); break;
	case K_SELFTEST: trmx_fault_arm(TRMX_FAULT_SELFTEST, n); break;
	case K_SQLITE_MALLOC: mem_nth = n; break;
	case K_DISK_WRITE: disk_nth = n; break;
	default: break;
	}
}

static long seen(enum kind k)
{
	switch (k) {
	case K_ALLOC: return trmx_fault_seen(TRMX_FAULT_ALLOC);
	case K_WRITE: return trmx_fault_seen(TRMX_FAULT_WRITE);
	case K_SQL: return trmx_fault_seen(TRMX_FAULT_SQL);
	case K_SELFTEST: return trmx_fault_seen(TRMX_FAULT_SELFTEST);
	case K_SQLITE_MALLOC: return mem_seen;
	case K_DISK_WRITE: return disk_seen;
	default: return 0;
	}
}

struct scenario {
	char *dir;
	char *v1, *v3; /* 0.1.0; 0.3.0 with two migrations */
};

static int setup(void **state)
{
	struct scenario *s = calloc(1, sizeof *s);
	s->dir = tu_tmpdir();
	s->v1 = fx_package(s->dir, "v1", &(struct fx_module){ .version = "0.1.0" });
	s->v3 = fx_package(s->dir, "v3", &(struct fx_module){
		.version = "0.3.0",
		.migrations = { "ALTER TABLE attempts ADD COLUMN seconds REAL;\n",
				"CREATE VIEW slow AS SELECT * FROM attempts WHERE seconds > 60;\n" } });
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct scenario *s = *state;
	fx_rmtree(s->dir);
	free(s->dir);
	free(s->v1);
	free(s->v3);
	free(s);
	return 0;
}

/* A fresh home: the registry and the log exist; with `upgrade`, 0.1.0 is installed, bound, and
 * its database holds a row. */
static trmx_registry *fresh_home(struct scenario *s, const char *name, bool upgrade, char **home_out)
{
	trmx_error err = { 0 };
	char *home = tu_path(s->dir, name);
	trmx_registry *r = NULL;
	trmx_log_db *log = NULL;
	assert_trmx_ok(trmx_registry_open(&r, home, NULL, &err), err);
	assert_trmx_ok(trmx_log_open(&log, home, NULL, &err), err);
	trmx_log_free(log);
	if (upgrade) {
		assert_trmx_ok(trmx_registry_install(r, s->v1, NULL, NULL, &err), err);
		assert_trmx_ok(trmx_registry_bind(r, "course/a", "sudoku4-tiny@0.1.0", NULL, 0, &err), err);
		const char *p[] = { "01234567-89ab-7cde-8f01-23456789abcd", "5" };
		assert_trmx_ok(trmx_registry_module_exec(r, "sudoku4-tiny",
							 "INSERT INTO attempts (run_id, cells_filled) VALUES (?1, ?2)", p, 2, &err),
			       err);
	}
	*home_out = home;
	return r;
}

/* Fail the Nth fault of `k` for N = 1, 2, ... (every N up to `dense`, then spread over the rest)
 * until the install succeeds; after each failure the home must be as before. */
static void drive(struct scenario *s, enum kind k, bool upgrade, long dense, long *points)
{
	char name[64], *home = NULL;
	snprintf(name, sizeof name, "home-%d-%d", (int)k, (int)upgrade);
	trmx_registry *r = fresh_home(s, name, upgrade, &home);
	const char *pkg = upgrade ? s->v3 : s->v1;
	char *before = fx_dump_home(home);
	/* how many faults of this kind a clean install meets */
	trmx_error err = { 0 };
	long total;
	{
		char *probe_home = NULL;
		char pname[64];
		snprintf(pname, sizeof pname, "probe-%d-%d", (int)k, (int)upgrade);
		trmx_registry *p = fresh_home(s, pname, upgrade, &probe_home);
		arm(k, 1L << 40);
		assert_trmx_ok(trmx_registry_install(p, pkg, NULL, NULL, &err), err);
		total = seen(k);
		arm(k, 0);
		trmx_registry_free(p);
		free(probe_home);
	}
	long step = total > dense ? (total - dense) / 40 + 1 : 1, tried = 0, failures = 0, benign = 0;
	for (long n = 1;; n += n < dense ? 1 : step) {
		arm(k, n);
		int rc = trmx_registry_install(r, pkg, NULL, NULL, &err);
		long hit = seen(k);
		arm(k, 0);
		tried++;
		if (rc == 0 && hit < n)
			break; /* the fault was not met: the install went through */
		if (rc == 0) {
			/* SQLite gets over some failures by itself (benign allocation failures; a checkpoint
			 * that cannot write when a connection closes leaves the commit in the WAL); the
			 * install is then done, so go on from a fresh home */
			if (k != K_SQLITE_MALLOC && k != K_DISK_WRITE) /* a checkpoint at close may fail harmlessly */
				fail_msg("%s %ld failed, yet the install succeeded", kind_names[k], n);
			benign++;
			trmx_registry_free(r);
			free(home);
			free(before);
			snprintf(name, sizeof name, "home-%d-%d-%ld", (int)k, (int)upgrade, n);
			r = fresh_home(s, name, upgrade, &home);
			before = fx_dump_home(home);
			continue;
		}
		failures++;
		char *after = fx_dump_home(home);
		char what[TRMX_ERROR_MESSAGE_MAX + 128];
		snprintf(what, sizeof what, "%s %ld of %ld (%s)", kind_names[k], n, total, err.message);
		fx_assert_same(before, after, what);
		free(after);
		if (n > total + 2)
			fail_msg("%s: still failing past the %ld faults a clean install meets: %s", kind_names[k], total, err.message);
	}
	print_message("%-8s %-18s: %ld points in a clean install, %ld tried, %ld failed cleanly, %ld benign\n",
		      upgrade ? "upgrade" : "install", kind_names[k], total, tried, failures, benign);
	*points += tried;
	/* and the home still works: the install went through at the end, and so does a dispatch */
	trmx_version_info v;
	assert_trmx_ok(trmx_registry_version(r, upgrade ? "sudoku4-tiny@0.3.0" : "sudoku4-tiny@0.1.0", &v, &err), err);
	free(before);
	trmx_registry_free(r);
	free(home);
}

/* Every N for the registry's own faults (tens of them); SQLite's own allocations (about a thousand
 * per install) every N up to 60 and then at 40 points spread over the rest, unless
 * TRMX_TEST_EXHAUSTIVE is set (every N: a few minutes). */
static long dense(void)
{
	const char *e = getenv("TRMX_TEST_EXHAUSTIVE");
	return e && *e && strcmp(e, "0") ? 1L << 40 : 60;
}

static void test_install_faults(void **state)
{
	long points = 0;
	for (int k = 0; k < K_COUNT; k++)
		drive(*state, (enum kind)k, false, dense(), &points);
}

static void test_upgrade_faults(void **state)
{
	long points = 0;
	for (int k = 0; k < K_COUNT; k++)
		drive(*state, (enum kind)k, true, dense(), &points);
}

/* What a home holds that no install should leave: dot files in data/ (a module database's copy
 * or a new one not placed), entries in store/tmp/, store folders the registry does not list. */
static void assert_no_leftovers(const char *home, const char *what)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data", home);
	DIR *d = opendir(path);
	struct dirent *e;
	while (d && (e = readdir(d)))
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			fail_msg("%s: data/%s is left", what, e->d_name);
	if (d)
		closedir(d);
	snprintf(path, sizeof path, "%s/store/tmp", home);
	d = opendir(path);
	while (d && (e = readdir(d)))
		if (!strncmp(e->d_name, "install-", 8))
			fail_msg("%s: store/tmp/%s is left", what, e->d_name);
	if (d)
		closedir(d);
	sqlite3 *db = NULL;
	snprintf(path, sizeof path, "%s/registry.db", home);
	assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
	snprintf(path, sizeof path, "%s/store/sha256", home);
	d = opendir(path);
	while (d && (e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		sqlite3_stmt *st = NULL;
		assert_int_equal(sqlite3_prepare_v2(db, "SELECT 1 FROM versions WHERE digest = ?1", -1, &st, NULL), SQLITE_OK);
		sqlite3_bind_text(st, 1, e->d_name, -1, SQLITE_TRANSIENT);
		if (sqlite3_step(st) != SQLITE_ROW)
			fail_msg("%s: store/sha256/%s is listed by no version", what, e->d_name);
		sqlite3_finalize(st);
	}
	if (d)
		closedir(d);
	sqlite3_close(db);
}

static int module_db_int(const char *home, const char *sql)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/data/sudoku4-tiny.db", home);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(db);
	return v;
}

/* Issue 24, item 3: an install killed with SIGKILL before its Nth step, for every N — an upgrade
 * (0.1.0 to 0.3.0 with two migrations) and a first install (0.1.0, its database made). The next
 * open of the registry sees either the install not done, the whole home as before (byte for byte
 * and row by row), or done, with the module's database as the registry records it; and no
 * leftover file either way. Before, an upgrade killed at the store rename left the database
 * migrated, the registry at 0.1.0 with schema 0, and a .sudoku4-tiny.db.before-* file. */
static void kill_sweep(struct scenario *s, bool upgrade)
{
	char name[64], *home = NULL;
	int homes = 0;
	const char *pkg = upgrade ? s->v3 : s->v1, *done_target = upgrade ? "sudoku4-tiny@0.3.0" : "sudoku4-tiny@0.1.0";
	snprintf(name, sizeof name, "kill-%d-%d", (int)upgrade, homes++);
	trmx_registry *r = fresh_home(s, name, upgrade, &home);
	trmx_registry_free(r);
	char *before = fx_dump_home(home);
	long n, old_seen = 0, new_seen = 0;
	for (n = 1;; n++) {
		fflush(NULL);
		pid_t pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			trmx_error e = { 0 };
			trmx_registry *c = NULL;
			if (trmx_registry_open(&c, home, NULL, &e) < 0)
				_exit(3);
			kill_seen = 0;
			kill_nth = n;
			int rc = trmx_registry_install(c, pkg, NULL, NULL, &e);
			kill_nth = 0;
			trmx_registry_free(c);
			_exit(rc == 0 ? 0 : 4);
		}
		int status = 0;
		assert_int_equal(waitpid(pid, &status, 0), pid);
		bool killed = WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
		if (!killed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
			fail_msg("step %ld: the install failed without being killed (status %d)", n, status);
		/* the next open recovers */
		trmx_error err = { 0 };
		trmx_registry *o = NULL;
		assert_trmx_ok(trmx_registry_open(&o, home, NULL, &err), err);
		trmx_version_info v;
		bool done = trmx_registry_version(o, done_target, &v, &err) == 0;
		trmx_module_info mi = { 0 };
		int has_module = trmx_registry_module(o, "sudoku4-tiny", &mi, &err) == 0;
		trmx_registry_free(o);
		char what[96];
		snprintf(what, sizeof what, "%s killed before step %ld (%s)", upgrade ? "upgrade" : "install", n,
			 done ? "done" : "not done");
		assert_no_leftovers(home, what);
		if (done) {
			new_seen++;
			int want = upgrade ? 2 : 0;
			if (!has_module || mi.schema_version != want || module_db_int(home, "PRAGMA user_version") != want ||
			    module_db_int(home, "PRAGMA application_id") != 0 ||
			    module_db_int(home, upgrade ? "SELECT count(*) FROM attempts WHERE seconds IS NULL"
							: "SELECT count(*) + 1 FROM attempts") != 1 ||
			    (upgrade && module_db_int(home, "SELECT count(*) FROM slow") != 0))
				fail_msg("%s: recorded with schema %d but the database is at user_version %d", what, mi.schema_version,
					 module_db_int(home, "PRAGMA user_version"));
		} else {
			old_seen++;
			char *after = fx_dump_home(home);
			fx_assert_same(before, after, what);
			free(after);
		}
		if (!killed)
			break; /* step n was never reached: the install went through */
		if (done) { /* start again from the home before */
			free(home);
			free(before);
			snprintf(name, sizeof name, "kill-%d-%d", (int)upgrade, homes++);
			r = fresh_home(s, name, upgrade, &home);
			trmx_registry_free(r);
			before = fx_dump_home(home);
		}
	}
	print_message("%-8s killed at each of %ld steps: seen %ld times not done, %ld done\n", upgrade ? "upgrade" : "install",
		      n - 1, old_seen, new_seen);
	assert_true(n > 20);
	free(before);
	free(home);
}

static void test_install_sigkill(void **state)
{
	kill_sweep(*state, false);
}

static void test_upgrade_sigkill(void **state)
{
	kill_sweep(*state, true);
}

int main(void)
{
	install_shims();
	trmx_set_threads(1); /* hundreds of tiny installs: no thread start-ups */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_install_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_install_sigkill, setup, teardown),
		cmocka_unit_test_setup_teardown(test_upgrade_sigkill, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
