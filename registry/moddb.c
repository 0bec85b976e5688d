/*
 * moddb.c — module databases, HOME/data/<module>.db: made from the package's schema.sql at the
 * first install of a module, brought forward by its migrations/NNNN.sql on upgrade (numbers
 * above PRAGMA user_version, in order), always under the module-SQL guard (log/sqlguard.c: the
 * module's own tables, indexes and views in its own database and nothing else; the work and the
 * size a script may take are capped).
 *
 * A new database is built in a temporary file and renamed into place just before the registry
 * commits; migrations run in place after a copy is taken, so that a failed install can put the
 * database back exactly as it was (trmx__moddb_abort), and the next open of the registry can do the
 * same for an install that was killed (trmx__moddb_recover).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packager/package_int.h"
#include "registry_int.h"

/* A new module database carries this PRAGMA application_id ("tmxp") from its making until the
 * install that made it has committed; module SQL cannot set application_id (the authorizer allows
 * only user_version), and SQLite keeps it at byte 68 of the file's header. */
#define PENDING_ID 0x746d7870u
#define PENDING_ID_TEXT "1953331312"

/* ---- Migrations -------------------------------------------------------------------------------- */

struct migration {
	int number;
	char *path;
};

static void migrations_free(struct migration *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
	free(m);
}

static int migration_order(const void *a, const void *b)
{
	return ((const struct migration *)a)->number - ((const struct migration *)b)->number;
}

/* The package's migrations/NNNN.sql, in order. */
static int list_migrations(const char *unpacked, struct migration **out, size_t *n, trmx_error *err)
{
	char *dir = trmx_xasprintf("%s/migrations", unpacked);
	struct migration *arr = NULL;
	size_t count = 0;
	int rc = 0;
	if (!dir)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	DIR *d = opendir(dir);
	if (!d) {
		free(dir);
		*out = NULL;
		*n = 0;
		return 0; /* no migrations */
	}
	if (!(arr = trmx_xcalloc(TRMX_MODULE_MIGRATIONS_MAX, sizeof *arr))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	struct dirent *e;
	while ((e = readdir(d))) {
		const char *s = e->d_name;
		if (s[0] == '.')
			continue;
		if (strlen(s) != 8 || strcmp(s + 4, ".sql") || !isdigit((unsigned char)s[0]) || !isdigit((unsigned char)s[1]) ||
		    !isdigit((unsigned char)s[2]) || !isdigit((unsigned char)s[3]) || !strncmp(s, "0000", 4)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "migrations/%s: a migration is named NNNN.sql (0001 to 9999)", s);
			goto done;
		}
		if (count == TRMX_MODULE_MIGRATIONS_MAX) {
			rc = trmx_error_set(err, TRMX_ELIMIT, "more than TRMX_MODULE_MIGRATIONS_MAX (%d) migrations",
					    TRMX_MODULE_MIGRATIONS_MAX);
			goto done;
		}
		arr[count].number = atoi(s);
		if (!(arr[count].path = trmx_xasprintf("%s/%s", dir, s))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		count++;
	}
	qsort(arr, count, sizeof *arr, migration_order);
done:
	closedir(d);
	free(dir);
	if (rc < 0) {
		migrations_free(arr, count);
		return rc;
	}
	*out = arr;
	*n = count;
	return 0;
}

static int set_version(sqlite3 *db, int v, trmx_error *err)
{
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
	return trmx_db_exec(db, sql, "module database", err);
}

/* A fresh file name beside `final`: final's folder + "/." + base + suffix + XXXXXX, made empty. */
static char *make_temp(const char *data, const char *module, const char *kind, trmx_error *err)
{
	char *p = trmx_xasprintf("%s/.%s.db.%s-XXXXXX", data, module, kind);
	if (!p) {
		trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		return NULL;
	}
	if (trmx_fault_hit(TRMX_FAULT_WRITE)) {
		trmx_error_set(err, TRMX_EIO, "cannot make a file in %s: injected fault", data);
		free(p);
		return NULL;
	}
	int fd = mkstemp(p);
	if (fd < 0) {
		trmx_error_set(err, TRMX_EIO, "cannot make a file in %s: %s", data, strerror(errno));
		free(p);
		return NULL;
	}
	fchmod(fd, 0644); /* analysts attach module databases: readable like the rest of the home */
	close(fd);
	return p;
}

static void unlink_db(const char *path)
{
	char side[4200];
	unlink(path);
	snprintf(side, sizeof side, "%s-wal", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-shm", path);
	unlink(side);
	snprintf(side, sizeof side, "%s-journal", path);
	unlink(side);
}

/* Copy database `from` into `to` with the backup API (a consistent snapshot, WAL or not). */
static int copy_db(sqlite3 *from, const char *to_path, trmx_error *err)
{
	sqlite3 *to = NULL;
	int rc = trmx_db_open(&to, to_path, "module database copy", NULL, 0, TRMX_DB_NOWAL, 30000, err);
	if (rc < 0)
		return rc;
	if (trmx_fault_hit(TRMX_FAULT_WRITE)) {
		trmx_db_close(to);
		return trmx_error_set(err, TRMX_EIO, "cannot copy the module database: injected fault");
	}
	sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
	if (!b) {
		rc = trmx_db_error(to, sqlite3_errcode(to), "module database copy", err);
	} else {
		int s = sqlite3_backup_step(b, -1);
		sqlite3_backup_finish(b);
		rc = s == SQLITE_DONE ? 0 : trmx_db_error(to, s, "module database copy", err);
	}
	trmx_db_close(to);
	return rc;
}

int trmx__moddb_prepare(trmx_registry *r, const char *module, const char *unpacked, struct moddb_plan *plan, trmx_error *err)
{
	struct migration *mig = NULL;
	size_t nmig = 0;
	sqlite3 *db = NULL;
	char *schema = NULL;
	int rc;
	memset(plan, 0, sizeof *plan);
	if (!(plan->final_path = trmx_xasprintf("%s/%s.db", r->data, module)) ||
	    !(schema = trmx_xasprintf("%s/" PKG_SCHEMA, unpacked)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if ((rc = list_migrations(unpacked, &mig, &nmig, err)) < 0)
		goto done;
	int newest = nmig ? mig[nmig - 1].number : 0;
	struct stat st;
	if (stat(plan->final_path, &st) != 0) {
		/* first install of the module: build its database aside */
		if (!(plan->tmp_path = make_temp(r->data, module, "new", err))) {
			rc = err ? err->code : TRMX_EIO;
			goto done;
		}
		if ((rc = trmx_db_open(&db, plan->tmp_path, "module database", NULL, 0, TRMX_DB_NOWAL, 30000, err)) < 0 ||
		    (rc = trmx_sqlguard_cap_size(db, err)) < 0 || (rc = trmx_db_begin(db, "module database", err)) < 0)
			goto done;
		if ((rc = trmx_sqlguard_run_file(db, schema, PKG_SCHEMA, err)) < 0)
			goto done;
		int v = 0;
		if ((rc = trmx_db_user_version(db, &v, "module database", err)) < 0)
			goto done;
		if (v == 0 && newest > 0 && (rc = set_version(db, newest, err)) < 0)
			goto done;
		/* marked as not yet recorded until the registry commits (trmx__moddb_recover) */
		if ((rc = trmx_db_exec(db, "PRAGMA application_id = " PENDING_ID_TEXT, "module database", err)) < 0)
			goto done;
		if ((rc = trmx_db_commit(db, "module database", err)) < 0 ||
		    (rc = trmx_db_exec(db, "PRAGMA journal_mode = WAL", "module database", err)) < 0 ||
		    (rc = trmx_db_user_version(db, &plan->schema_version, "module database", err)) < 0)
			goto done;
		plan->created = true;
		goto done;
	}
	/* an upgrade: the migrations it lacks, in place, after a copy */
	if ((rc = trmx_db_open(&db, plan->final_path, "module database", NULL, 0, 0, r->busy_ms, err)) < 0)
		goto done;
	int have = 0;
	if ((rc = trmx_db_user_version(db, &have, "module database", err)) < 0)
		goto done;
	plan->schema_version = have;
	if (newest <= have)
		goto done;
	if (!(plan->backup_path = make_temp(r->data, module, "before", err))) {
		rc = err ? err->code : TRMX_EIO;
		goto done;
	}
	if ((rc = copy_db(db, plan->backup_path, err)) < 0 || (rc = trmx_sqlguard_cap_size(db, err)) < 0 ||
	    (rc = trmx_db_begin(db, "module database", err)) < 0)
		goto done;
	for (size_t i = 0; i < nmig; i++) {
		if (mig[i].number <= have)
			continue;
		char what[64];
		snprintf(what, sizeof what, "migrations/%04d.sql", mig[i].number);
		if ((rc = trmx_sqlguard_run_file(db, mig[i].path, what, err)) < 0 || (rc = set_version(db, mig[i].number, err)) < 0)
			goto done;
		plan->migrations++;
	}
	if ((rc = trmx_db_commit(db, "module database", err)) < 0)
		goto done;
	plan->migrated = true;
	plan->schema_version = newest;
done:
	if (db) {
		trmx_db_rollback(db);
		trmx_db_close(db);
	}
	migrations_free(mig, nmig);
	free(schema);
	return rc;
}

int trmx__moddb_place(struct moddb_plan *plan, trmx_error *err)
{
	if (!plan->created)
		return 0;
	if (trmx_fault_hit(TRMX_FAULT_WRITE))
		return trmx_error_set(err, TRMX_EIO, "cannot rename %s: injected fault", plan->tmp_path);
	unlink_db(plan->final_path); /* leftovers of a database removed by hand */
	if (rename(plan->tmp_path, plan->final_path) != 0)
		return trmx_error_set(err, TRMX_EIO, "cannot rename %s to %s: %s", plan->tmp_path, plan->final_path,
				      strerror(errno));
	plan->placed = true;
	char *dir = strdup(plan->final_path);
	if (!dir)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	*strrchr(dir, '/') = 0;
	int rc = trmx_fsync_dir(dir, err);
	free(dir);
	return rc;
}

static void plan_free(struct moddb_plan *plan)
{
	free(plan->final_path);
	free(plan->tmp_path);
	free(plan->backup_path);
	memset(plan, 0, sizeof *plan);
}

/* Put database `final` back as the copy `backup` holds it, through SQLite so that other
 * connections stay sound; 0 or -1 (logged). */
static int restore_db(const char *backup, const char *final)
{
	sqlite3 *from = NULL, *to = NULL;
	trmx_error e2;
	int rc = -1;
	if (sqlite3_open_v2(backup, &from, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    trmx_db_open(&to, final, "module database", NULL, 0, 0, 30000, &e2) == 0) {
		sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
		int s = b ? sqlite3_backup_step(b, -1) : SQLITE_ERROR;
		if (b)
			sqlite3_backup_finish(b);
		if (s != SQLITE_DONE)
			trmx_diag(TRMX_DIAG_ERROR, "cannot restore %s from %s: %s", final, backup, sqlite3_errstr(s));
		else
			rc = 0;
	} else {
		trmx_diag(TRMX_DIAG_ERROR, "cannot restore %s from %s", final, backup);
	}
	sqlite3_close(from);
	trmx_db_close(to);
	return rc;
}

void trmx__moddb_abort(struct moddb_plan *plan)
{
	if (plan->placed)
		unlink_db(plan->final_path);
	if (plan->tmp_path)
		unlink_db(plan->tmp_path);
	if (plan->migrated && plan->backup_path)
		restore_db(plan->backup_path, plan->final_path);
	if (plan->backup_path)
		unlink_db(plan->backup_path);
	plan_free(plan);
}

void trmx__moddb_committed(struct moddb_plan *plan)
{
	if (!plan->created || !plan->placed)
		return;
	/* plain SQLite calls: nothing here may fail the install, which has committed */
	sqlite3 *db = NULL;
	int s = sqlite3_open_v2(plan->final_path, &db, SQLITE_OPEN_READWRITE, NULL);
	if (s == SQLITE_OK) {
		sqlite3_busy_timeout(db, 30000);
		s = sqlite3_exec(db, "PRAGMA application_id = 0", NULL, NULL, NULL);
	}
	if (s != SQLITE_OK)
		trmx_diag(TRMX_DIAG_WARN, "%s: cannot clear its install mark (%s); the next open of the registry does",
			 plan->final_path, sqlite3_errstr(s));
	sqlite3_close(db);
}

void trmx__moddb_done(struct moddb_plan *plan)
{
	if (plan->backup_path)
		unlink_db(plan->backup_path);
	plan_free(plan);
}

/* ---- Recovery after a killed install ----------------------------------------------------------- */

/* An upgrade migrates data/<module>.db in place after copying it to .<module>.db.before-XXXXXX;
 * the registry records the new schema_version in its own transaction, which commits after the
 * migration did. So a kill between the two leaves a migrated database that the registry does not
 * know of, and its copy: the copy is then put back. A kill elsewhere leaves at most a copy or a
 * new database (.<module>.db.new-XXXXXX, not yet renamed into place) that nothing refers to, and
 * a store folder the registry does not list (renamed into place before the commit): removed.
 * These files are made and renamed only under the registry's write lock, so under that lock
 * whatever is found is a dead install's. */

/* PRAGMA user_version of an existing database, or -1. */
static int peek_version(const char *path, unsigned flags)
{
	struct stat st;
	sqlite3 *db = NULL;
	trmx_error e2;
	int v = -1;
	if (stat(path, &st) != 0 || trmx_db_open(&db, path, "module database", NULL, 0, flags, 1000, &e2) < 0 ||
	    trmx_db_user_version(db, &v, "module database", &e2) < 0)
		v = -1;
	trmx_db_close(db);
	return v;
}

/* A dead install's file name in data/: ".<module>.db.<kind>-XXXXXX" with an optional SQLite
 * suffix; *kind is 'n' (new) or 'b' (before), the module is copied into `module`. */
static bool leftover_name(const char *name, char *kind, char *module, size_t cap, bool *sidecar)
{
	if (name[0] != '.')
		return false;
	const char *k = strstr(name, ".db.new-"), *rest;
	if (k)
		*kind = 'n', rest = k + 8;
	else if ((k = strstr(name, ".db.before-")))
		*kind = 'b', rest = k + 11;
	else
		return false;
	size_t n = (size_t)(k - name - 1);
	if (n == 0 || n >= cap || strlen(rest) < 6)
		return false;
	memcpy(module, name + 1, n);
	module[n] = 0;
	*sidecar = strlen(rest) > 6; /* -wal, -shm, -journal */
	return true;
}

static int schema_version_of(trmx_registry *r, const char *module, int *out)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "SELECT schema_version FROM modules WHERE name = ?1", &st, "registry.db", NULL);
	if (rc < 0)
		return -1;
	trmx_db_bind_text(st, 1, module);
	int found = 0;
	if (trmx_db_step(st) == SQLITE_ROW) {
		*out = sqlite3_column_int(st, 0);
		found = 1;
	}
	sqlite3_finalize(st);
	return found;
}

static bool digest_listed(trmx_registry *r, const char *digest)
{
	sqlite3_stmt *st = NULL;
	if (trmx_db_prepare(r->db, "SELECT 1 FROM versions WHERE digest = ?1", &st, "registry.db", NULL) < 0)
		return true; /* cannot tell: keep it */
	trmx_db_bind_text(st, 1, digest);
	bool found = trmx_db_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return found;
}

/* Is there anything to recover? With `act`, recover it (under the lock). */
static int recover_scan(trmx_registry *r, bool act)
{
	int found = 0;
	DIR *d = opendir(r->data);
	struct dirent *e;
	char module[TRMX_MANIFEST_NAME_MAX + 1], kind;
	bool sidecar;
	while (d && (e = readdir(d))) {
		if (!leftover_name(e->d_name, &kind, module, sizeof module, &sidecar))
			continue;
		found++;
		if (!act || sidecar)
			continue;
		char *path = trmx_xasprintf("%s/%s", r->data, e->d_name), *final = trmx_xasprintf("%s/%s.db", r->data, module);
		if (path && final && kind == 'b') {
			int want = -1, have = peek_version(final, 0);
			if (schema_version_of(r, module, &want) != 1)
				want = peek_version(path, TRMX_DB_NOWAL); /* the module was not recorded: as the copy */
			if (have >= 0 && want >= 0 && have != want) {
				trmx_diag(TRMX_DIAG_WARN, "%s: an upgrade was killed after migrating it (schema %d) and before the "
					 "registry recorded it (schema %d): put back as it was", final, have, want);
				if (restore_db(path, final) < 0) {
					free(path), free(final);
					continue; /* keep the copy: the next open tries again */
				}
			}
		}
		if (path)
			unlink_db(path);
		free(path), free(final);
	}
	if (d)
		closedir(d);
	/* SQLite files left beside copies already gone */
	if (act && (d = opendir(r->data))) {
		while ((e = readdir(d)))
			if (leftover_name(e->d_name, &kind, module, sizeof module, &sidecar) && sidecar) {
				char *path = trmx_xasprintf("%s/%s", r->data, e->d_name);
				if (path)
					unlink(path);
				free(path);
			}
		closedir(d);
	}
	/* new databases renamed into place whose install did not commit */
	if ((d = opendir(r->data))) {
		while ((e = readdir(d))) {
			size_t n = strlen(e->d_name);
			if (e->d_name[0] == '.' || n < 4 || n - 3 > TRMX_MANIFEST_NAME_MAX || strcmp(e->d_name + n - 3, ".db"))
				continue;
			char *path = trmx_xasprintf("%s/%s", r->data, e->d_name);
			unsigned char hdr[4] = { 0 };
			int fd = path ? open(path, O_RDONLY | O_CLOEXEC) : -1;
			bool marked = fd >= 0 && pread(fd, hdr, 4, 68) == 4 &&
				      ((uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3]) == PENDING_ID;
			if (fd >= 0)
				close(fd);
			/* the header in the file may be older than the one in its WAL: ask SQLite */
			sqlite3 *db = NULL;
			trmx_error e2;
			int64_t id = 0;
			marked = marked && trmx_db_open(&db, path, "module database", NULL, 0, 0, 1000, &e2) == 0 &&
				 trmx_db_int64(db, "PRAGMA application_id", &id, "module database", &e2) == 0 && id == PENDING_ID;
			if (marked)
				found++;
			if (marked && act) {
				int sv = 0;
				memcpy(module, e->d_name, n - 3);
				module[n - 3] = 0;
				if (schema_version_of(r, module, &sv) == 1) { /* recorded: the install committed */
					sqlite3_exec(db, "PRAGMA application_id = 0", NULL, NULL, NULL);
				} else {
					trmx_db_close(db);
					db = NULL;
					trmx_diag(TRMX_DIAG_WARN, "%s: made by a first install of %s that was killed before it was "
						 "recorded: removed", path, module);
					unlink_db(path);
				}
			}
			trmx_db_close(db);
			free(path);
		}
		closedir(d);
	}
	if ((d = opendir(r->store))) {
		while ((e = readdir(d))) {
			if (strlen(e->d_name) != TRMX_SHA256_HEX_SIZE - 1 || strspn(e->d_name, "0123456789abcdef") !=
			    TRMX_SHA256_HEX_SIZE - 1 || digest_listed(r, e->d_name))
				continue;
			found++;
			if (!act)
				continue;
			char *path = trmx_xasprintf("%s/%s", r->store, e->d_name);
			if (path && trmx_rmtree(path) == 0)
				trmx_diag(TRMX_DIAG_WARN, "%s: left by an install that was killed before it was recorded: removed",
					 path);
			free(path);
		}
		closedir(d);
	}
	return found;
}

void trmx__moddb_recover(trmx_registry *r)
{
	if (!recover_scan(r, false))
		return;
	trmx_error e2;
	/* a live install holds the lock while its files exist: then leave them to it */
	sqlite3_busy_timeout(r->db, 0);
	int rc = trmx_db_begin(r->db, "registry.db", &e2);
	sqlite3_busy_timeout(r->db, r->busy_ms);
	if (rc < 0)
		return;
	recover_scan(r, true);
	if (trmx_db_commit(r->db, "registry.db", &e2) < 0)
		trmx_db_rollback(r->db);
}

/* ---- Per-run rows ------------------------------------------------------------------------------ */

int trmx_registry_module_exec(trmx_registry *r, const char *module, const char *sql, const char *const *params,
			      size_t nparams, trmx_error *err)
{
	if (!r || !module || !sql || (nparams && !params))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_module_exec: missing argument");
	trmx_module_info mi;
	int rc = trmx_registry_module(r, module, &mi, err);
	if (rc < 0)
		return rc;
	sqlite3 *db = NULL;
	char what[TRMX_MANIFEST_NAME_MAX + 8];
	snprintf(what, sizeof what, "%s.db", module);
	if ((rc = trmx_db_open(&db, mi.db_path, what, NULL, 0, 0, r->busy_ms, err)) < 0)
		return rc;
	rc = trmx_sqlguard_exec1(db, sql, params, nparams, what, err);
	trmx_db_close(db);
	return rc;
}
