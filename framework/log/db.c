/*
 * db.c — SQLite as the log, the registry and the host use it: WAL and a busy timeout so that
 * several processes write at once, forward-only migrations on PRAGMA user_version, SQLite codes
 * mapped to TRMX_E* with a message naming the database, clocks and a few file helpers.
 */
#define _GNU_SOURCE /* vasprintf */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "log/log_int.h"

/* ---- SQLite ---------------------------------------------------------------------------------- */

int trmx_db_error(sqlite3 *db, int rc, const char *what, trmx_error *err)
{
	int code;
	switch (rc & 0xff) {
	case SQLITE_NOMEM: code = TRMX_ENOMEM; break;
	case SQLITE_IOERR:
	case SQLITE_FULL:
	case SQLITE_CANTOPEN:
	case SQLITE_READONLY:
	case SQLITE_PERM: code = TRMX_EIO; break;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB: code = TRMX_EFORMAT; break;
	case SQLITE_CONSTRAINT:
	case SQLITE_MISMATCH:
	case SQLITE_RANGE: code = TRMX_EINVAL; break;
	default: code = TRMX_ERROR; break;
	}
	const char *msg = db && sqlite3_errcode(db) == rc ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	return trmx_error_set(err, code, "%s: %s", what ? what : "database", msg);
}

int trmx_db_step(sqlite3_stmt *st)
{
	if (trmx_fault_hit(TRMX_FAULT_SQL))
		return SQLITE_IOERR;
	return sqlite3_step(st);
}

int trmx_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *what, trmx_error *err)
{
	int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
	if (rc != SQLITE_OK) {
		*st = NULL;
		return trmx_db_error(db, rc, what, err);
	}
	return 0;
}

int trmx_db_exec(sqlite3 *db, const char *sql, const char *what, trmx_error *err)
{
	if (trmx_fault_hit(TRMX_FAULT_SQL))
		return trmx_db_error(NULL, SQLITE_IOERR, what, err);
	int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	return rc == SQLITE_OK ? 0 : trmx_db_error(db, rc, what, err);
}

int trmx_db_begin(sqlite3 *db, const char *what, trmx_error *err)
{
	return trmx_db_exec(db, "BEGIN IMMEDIATE", what, err);
}

int trmx_db_commit(sqlite3 *db, const char *what, trmx_error *err)
{
	return trmx_db_exec(db, "COMMIT", what, err);
}

void trmx_db_rollback(sqlite3 *db)
{
	if (db && !sqlite3_get_autocommit(db))
		sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
}

int trmx_db_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

int trmx_db_int64(sqlite3 *db, const char *sql, int64_t *out, const char *what, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(db, sql, &st, what, err);
	if (rc < 0)
		return rc;
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = 0;
	} else {
		rc = s == SQLITE_DONE ? trmx_error_set(err, TRMX_ERROR, "%s: no row from '%s'", what, sql)
				      : trmx_db_error(db, s, what, err);
	}
	sqlite3_finalize(st);
	return rc;
}

int trmx_db_user_version(sqlite3 *db, int *out, const char *what, trmx_error *err)
{
	int64_t v = 0;
	int rc = trmx_db_int64(db, "PRAGMA user_version", &v, what, err);
	if (rc == 0)
		*out = (int)v;
	return rc;
}

void trmx_db_column_copy(sqlite3_stmt *st, int i, char *buf, size_t cap)
{
	const unsigned char *s = sqlite3_column_text(st, i);
	snprintf(buf, cap, "%s", s ? (const char *)s : "");
}

/* Apply every file above the current user_version, each in one IMMEDIATE transaction that reads
 * the version again (another process may have migrated meanwhile). */
static int migrate(sqlite3 *db, const char *what, const trmx_sql_file *files, size_t n, trmx_error *err)
{
	int have = 0, rc;
	int newest = n ? files[n - 1].number : 0;
	if (!files)
		return 0; /* not one of ours (a module's database): its versions are the registry's business */
	if ((rc = trmx_db_user_version(db, &have, what, err)) < 0)
		return rc;
	if (have > newest)
		return trmx_error_set(err, TRMX_EVERSION,
				      "%s: schema version %d was written by a newer trmx; this one knows up to %d",
				      what, have, newest);
	for (size_t i = 0; i < n && have < newest; i++) {
		if (files[i].number <= have)
			continue;
		if ((rc = trmx_db_begin(db, what, err)) < 0)
			return rc;
		if ((rc = trmx_db_user_version(db, &have, what, err)) < 0)
			goto fail;
		if (files[i].number > have) {
			char pragma[64];
			if ((rc = trmx_db_exec(db, files[i].text, what, err)) < 0) {
				trmx_error_prefix(err, "migration %s", files[i].name);
				goto fail;
			}
			snprintf(pragma, sizeof pragma, "PRAGMA user_version = %d", files[i].number);
			if ((rc = trmx_db_exec(db, pragma, what, err)) < 0)
				goto fail;
		}
		if ((rc = trmx_db_commit(db, what, err)) < 0)
			goto fail;
		have = files[i].number > have ? files[i].number : have;
	}
	return 0;
fail:
	trmx_db_rollback(db);
	return rc;
}

/* A reader's connection: read-only, at the schema this trmx knows, or a message saying what to run. */
static int open_readonly(sqlite3 **out, const char *path, const char *what, const trmx_sql_file *files, size_t nfiles,
			 int busy_ms, trmx_error *err)
{
	/* a URI for the read-only mode: '?', '#' and '%' in the path would be read as URI syntax */
	if (strpbrk(path, "?#%"))
		return trmx_error_set(err, TRMX_EINVAL, "%s: a path with '?', '#' or '%%' cannot be opened read-only", path);
	char *uri = sqlite3_mprintf("file:%s?mode=ro", path);
	if (!uri)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	sqlite3 *db = NULL;
	int s = sqlite3_open_v2(uri, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI | SQLITE_OPEN_NOMUTEX, NULL);
	sqlite3_free(uri);
	int rc = 0;
	if (s != SQLITE_OK) {
		rc = db ? trmx_db_error(db, s, what, err) : trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", what);
		goto fail;
	}
	sqlite3_busy_timeout(db, busy_ms > 0 ? busy_ms : 30000);
	sqlite3_extended_result_codes(db, 0);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_FTS3_TOKENIZER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL);
	int have = 0, want = nfiles ? files[nfiles - 1].number : 0;
	if (files && (rc = trmx_db_user_version(db, &have, what, err)) < 0)
		goto fail;
	if (files && have < want) {
		/* "attempt to write a readonly database" here means SQLite could not make the -shm file:
		 * a WAL database a reader may not write beside, before any writer kept its -shm */
		rc = trmx_error_set(err, TRMX_EVERSION,
				    "%s is at schema version %d and this trmx reads version %d: run `trmx log migrate` "
				    "(log.db) or any command that changes the registry (registry.db) once; readers "
				    "do not change it",
				    path, have, want);
		goto fail;
	}
	if (files && have > want) {
		rc = trmx_error_set(err, TRMX_EVERSION, "%s: schema version %d was written by a newer trmx; this one knows up to %d",
				    what, have, want);
		goto fail;
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return rc;
}

int trmx_db_open(sqlite3 **out, const char *path, const char *what, const trmx_sql_file *files,
		 size_t nfiles, unsigned flags, int busy_ms, trmx_error *err)
{
	if (flags & TRMX_DB_READONLY)
		return open_readonly(out, path, what, files, nfiles, busy_ms, err);
	sqlite3 *db = NULL;
	int oflags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | ((flags & TRMX_DB_CREATE) ? SQLITE_OPEN_CREATE : 0);
	int rc = sqlite3_open_v2(path, &db, oflags, NULL);
	if (rc != SQLITE_OK) {
		rc = db ? trmx_db_error(db, rc, what, err) : trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", what);
		if (rc == TRMX_ERROR || rc == TRMX_EIO)
			trmx_error_set(err, TRMX_EIO, "%s: cannot open %s: %s", what, path,
				       db ? sqlite3_errmsg(db) : "out of memory");
		sqlite3_close(db);
		return rc == TRMX_ERROR ? TRMX_EIO : rc;
	}
	sqlite3_busy_timeout(db, busy_ms > 0 ? busy_ms : 30000);
	sqlite3_extended_result_codes(db, 0);
	/* no extension loading, no double-quoted string literals */
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, NULL);
	const char *setup = (flags & TRMX_DB_NOWAL) ? "PRAGMA foreign_keys = ON"
			    : (flags & TRMX_DB_DURABLE) ? "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON"
							 : "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON";
	/* Switching a fresh file to WAL while other processes open it too can answer SQLITE_BUSY
	 * without consulting the busy handler: retry for as long as the handler would wait. */
	int s;
	double give_up = trmx_mono_s() + (busy_ms > 0 ? busy_ms : 30000) / 1000.0;
	while ((s = sqlite3_exec(db, setup, NULL, NULL, NULL)) == SQLITE_BUSY && trmx_mono_s() < give_up)
		usleep(2000);
	if (s != SQLITE_OK) {
		rc = trmx_db_error(db, s, what, err);
		goto fail;
	}
	if ((rc = migrate(db, what, files, nfiles, err)) < 0)
		goto fail;
	if (files && !(flags & TRMX_DB_NOWAL)) {
		/* log.db and registry.db (never module databases, which an upgrade swaps for a migrated
		 * copy: a kept -wal must never meet another file): keep -wal and -shm when the last
		 * connection closes, since a reader who may only read the home (an analyst's account)
		 * can open a WAL database read-only only while they exist; SQLite makes them with the
		 * database file's permissions. */
		int persist = 1;
		sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
	}
	*out = db;
	return 0;
fail:
	sqlite3_close(db);
	return rc;
}

void trmx_db_close(sqlite3 *db)
{
	if (db)
		sqlite3_close(db);
}

/* ---- Clocks ---------------------------------------------------------------------------------- */

int64_t trmx_now_ms(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

double trmx_mono_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

void trmx_iso_time(int64_t ms, char out[32])
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	/* the fields are bounded for the compiler's sake: years past 9999 are not our problem */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%03uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u,
		 (unsigned)tm.tm_min % 100u, (unsigned)tm.tm_sec % 100u, (unsigned)(ms % 1000) % 1000u);
}

/* ---- Files ----------------------------------------------------------------------------------- */

int trmx_mkdirs(const char *path, trmx_error *err)
{
	char buf[4096];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof buf)
		return trmx_error_set(err, TRMX_EINVAL, "folder name too long or empty: '%s'", path);
	memcpy(buf, path, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (buf[i] != '/' && buf[i] != 0)
			continue;
		char c = buf[i];
		buf[i] = 0;
		struct stat st;
		if (stat(buf, &st) != 0) {
			if (trmx_fault_hit(TRMX_FAULT_WRITE))
				return trmx_error_set(err, TRMX_EIO, "cannot make folder %s: injected fault", buf);
			if (mkdir(buf, 0755) != 0 && errno != EEXIST)
				return trmx_error_set(err, TRMX_EIO, "cannot make folder %s: %s", buf, strerror(errno));
		} else if (!S_ISDIR(st.st_mode)) {
			return trmx_error_set(err, TRMX_EIO, "%s is not a folder", buf);
		}
		buf[i] = c;
	}
	return 0;
}

void trmx_actor_default(char *buf, size_t cap)
{
	const char *a = getenv("TRMX_ACTOR");
	if (a && *a) {
		snprintf(buf, cap, "%s", a);
		return;
	}
	struct passwd pw, *res = NULL;
	char tmp[1024];
	if (getpwuid_r(getuid(), &pw, tmp, sizeof tmp, &res) == 0 && res && res->pw_name && *res->pw_name) {
		snprintf(buf, cap, "%s", res->pw_name);
		return;
	}
	const char *u = getenv("USER");
	if (u && *u)
		snprintf(buf, cap, "%s", u);
	else
		snprintf(buf, cap, "uid:%u", (unsigned)getuid());
}

int trmx_rmtree(const char *path)
{
	struct stat st;
	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISDIR(st.st_mode))
		return unlink(path);
	chmod(path, 0755);
	DIR *d = opendir(path);
	if (!d)
		return -1;
	struct dirent *e;
	int rc = 0;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		char *p = NULL;
		if (asprintf(&p, "%s/%s", path, e->d_name) < 0)
			rc = -1;
		else if (trmx_rmtree(p) != 0)
			rc = -1;
		free(p);
	}
	closedir(d);
	return rmdir(path) == 0 ? rc : -1;
}

/* Remove DIR's PREFIX-* folders whose .lock no process holds (a lock is freed when its holder
 * dies, however it dies), with their locks. Best effort: a folder in use is never touched. */
void trmx_tmpdir_sweep(const char *dir, const char *prefix)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	size_t pl = strlen(prefix);
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < pl + 6 || strncmp(e->d_name, prefix, pl) || e->d_name[pl] != '-' || strcmp(e->d_name + n - 5, ".lock"))
			continue;
		char *lock = NULL, *folder = NULL;
		if (asprintf(&lock, "%s/%s", dir, e->d_name) < 0 || asprintf(&folder, "%s/%.*s", dir, (int)(n - 5), e->d_name) < 0) {
			free(lock);
			break;
		}
		int fd = open(lock, O_RDWR | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) == 0) {
			trmx_rmtree(folder);
			unlink(lock);
		}
		if (fd >= 0)
			close(fd); /* drops the lock we took, if we took it */
		free(lock);
		free(folder);
	}
	closedir(d);
}

int trmx_tmpdir_locked(const char *dir, const char *prefix, char **path, int *lock_fd, trmx_error *err)
{
	*path = NULL;
	*lock_fd = -1;
	trmx_tmpdir_sweep(dir, prefix);
	char *lock = NULL;
	if (asprintf(&lock, "%s/%s-XXXXXX.lock", dir, prefix) < 0)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int fd = mkostemps(lock, 5, O_CLOEXEC);
	if (fd < 0) {
		int rc = trmx_error_set(err, TRMX_EIO, "cannot make a lock in %s: %s", dir, strerror(errno));
		free(lock);
		return rc;
	}
	/* the lock first, then the folder: a sweeper never sees a folder without a held lock */
	if (flock(fd, LOCK_EX) != 0 || !(*path = strndup(lock, strlen(lock) - 5)) || mkdir(*path, 0700) != 0) {
		int rc = trmx_error_set(err, TRMX_EIO, "cannot make a folder in %s: %s", dir, strerror(errno));
		close(fd);
		unlink(lock);
		free(lock);
		free(*path);
		*path = NULL;
		return rc;
	}
	free(lock);
	*lock_fd = fd;
	return 0;
}

void trmx_tmpdir_release(const char *path, int lock_fd)
{
	if (!path)
		return;
	trmx_rmtree(path);
	char *lock = NULL;
	if (asprintf(&lock, "%s.lock", path) >= 0)
		unlink(lock);
	free(lock);
	if (lock_fd >= 0)
		close(lock_fd);
}
