/*
 * log_int.h — inside the log, the registry and the host: SQLite helpers (open with WAL and a busy
 * timeout, forward-only migrations on PRAGMA user_version, statements whose failures map to
 * TRMX_E* codes), the schemas embedded at build time, clocks, and the test-only fault injection
 * that the install and log tests use. Not installed.
 */
#ifndef TRMX_LOG_INT_H
#define TRMX_LOG_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/core_int.h"
#include "trmx/log.h"

/* ---- Embedded schemas (schemas/registry, schemas/log; registry/embed_sql.sh) ----------------- */

typedef struct trmx_sql_file {
	int number;       /* the version the file brings the database to */
	const char *name; /* "0001_log.sql" */
	const char *text;
} trmx_sql_file;

const trmx_sql_file *trmx_sql_registry(size_t *n);
const trmx_sql_file *trmx_sql_log(size_t *n);
/* schemas/log-pg/: the central log on PostgreSQL, numbered on their own. */
const trmx_sql_file *trmx_sql_log_pg(size_t *n);

/* ---- SQLite ----------------------------------------------------------------------------------- */

/* Open flags of trmx_db_open. */
#define TRMX_DB_CREATE 1u   /* create the file when absent */
#define TRMX_DB_DURABLE 2u  /* synchronous=FULL instead of NORMAL */
#define TRMX_DB_NOWAL 4u    /* keep the rollback journal (module databases copied at install) */
#define TRMX_DB_READONLY 8u /* a reader's connection (mode=ro, no journal-mode switch, no migration:
			       an older schema is TRMX_EVERSION naming `hint`; defensive, no FTS3
			       tokenizer pointers) */

/* Open `path` (TRMX_DB_* flags), set WAL, synchronous, foreign keys and the busy timeout, and
 * bring the schema to the newest of `files` (each applied in its own IMMEDIATE transaction
 * with PRAGMA user_version; a database at a higher version than known is TRMX_EVERSION).
 * `what` names the database in messages ("log.db"). */
int trmx_db_open(sqlite3 **out, const char *path, const char *what, const trmx_sql_file *files,
		 size_t nfiles, unsigned flags, int busy_ms, trmx_error *err);
void trmx_db_close(sqlite3 *db);

/* Map an SQLite result code to a TRMX_E* code and write "what: message" into err. */
int trmx_db_error(sqlite3 *db, int rc, const char *what, trmx_error *err);
/* sqlite3_step through the fault hook (a hit returns SQLITE_IOERR without stepping). */
int trmx_db_step(sqlite3_stmt *st);
/* Prepare, with the error mapped. */
int trmx_db_prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, const char *what, trmx_error *err);
/* Run statements without results (through the fault hook). */
int trmx_db_exec(sqlite3 *db, const char *sql, const char *what, trmx_error *err);
/* BEGIN IMMEDIATE / COMMIT / ROLLBACK (rollback never fails and ignores "no transaction"). */
int trmx_db_begin(sqlite3 *db, const char *what, trmx_error *err);
int trmx_db_commit(sqlite3 *db, const char *what, trmx_error *err);
void trmx_db_rollback(sqlite3 *db);
/* Bind text or NULL. */
int trmx_db_bind_text(sqlite3_stmt *st, int i, const char *s);
/* PRAGMA user_version. */
int trmx_db_user_version(sqlite3 *db, int *out, const char *what, trmx_error *err);
/* A single integer from `sql` (one row, one column). */
int trmx_db_int64(sqlite3 *db, const char *sql, int64_t *out, const char *what, trmx_error *err);
/* Copy column i as text into buf (cut to cap-1 bytes; NULL gives ""). */
void trmx_db_column_copy(sqlite3_stmt *st, int i, char *buf, size_t cap);


/* ---- Clocks ------------------------------------------------------------------------------------ */

int64_t trmx_now_ms(void);
/* Monotonic seconds. */
double trmx_mono_s(void);
/* "2025-11-29T09:30:00.123Z" for Unix milliseconds. */
void trmx_iso_time(int64_t ms, char out[32]);

/* ---- Small file helpers ----------------------------------------------------------------------- */

/* mkdir -p with mode 0755 (through the fault hook). */
int trmx_mkdirs(const char *path, trmx_error *err);
/* Remove a tree (folders made writable first, links not followed). Best effort; 0 or -1. */
int trmx_rmtree(const char *path);
/* A working folder that a crash cannot leave behind for good: DIR/PREFIX-XXXXXX, made after taking
 * an exclusive lock (flock) on DIR/PREFIX-XXXXXX.lock, which *lock_fd holds until
 * trmx_tmpdir_release. Folders of PREFIX whose lock no live process holds (it was killed) are
 * removed first, so they do not pile up (issue 24, item 6). *path is malloc'd. */
int trmx_tmpdir_locked(const char *dir, const char *prefix, char **path, int *lock_fd, trmx_error *err);
/* Remove DIR's PREFIX-XXXXXX folders whose lock no live process holds. */
void trmx_tmpdir_sweep(const char *dir, const char *prefix);
/* Remove the folder (when it is still there) and its lock, and close the lock. */
void trmx_tmpdir_release(const char *path, int lock_fd);
/* The user this process acts for: $TRMX_ACTOR, else the login name, else "uid:N". */
void trmx_actor_default(char *buf, size_t cap);

/* ---- The central log on PostgreSQL (pg.c) ---------------------------------------------------- */

typedef struct trmx_pg trmx_pg;
typedef struct pg_conn PGconn;
typedef struct pg_result PGresult;

/* Is `url` a postgresql:// (or postgres://) URL? */
bool trmx_log_url_is_pg(const char *url);
/* Connect to `url` (5 s timeout) and bring the schema to schemas/log-pg/'s newest under an
 * advisory lock; with `readonly`, migrate nothing (an older schema is TRMX_EVERSION naming
 * `trmx log migrate`). *out is set even when the server cannot be reached (TRMX_EIO), so that a
 * writer can keep its rows in an outbox and reconnect later; free it with trmx_pg_close. */
int trmx_pg_open(trmx_pg **out, const char *url, bool readonly, trmx_error *err);
int trmx_pg_reconnect(trmx_pg *p, trmx_error *err);
void trmx_pg_close(trmx_pg *p);
/* The masked URL (borrowed). */
const char *trmx_pg_name(const trmx_pg *p);
/* Was the last failure the server's reach (connection lost, refused, shutting down, disk full)
 * rather than something wrong with the rows? */
bool trmx_pg_down(const trmx_pg *p);
PGconn *trmx_pg_conn(trmx_pg *p);
/* Statements without parameters; TRMX_E* with the server's message. */
int trmx_pg_exec(trmx_pg *p, const char *sql, trmx_error *err);
/* A query with text parameters; NULL on failure (err set). PQclear the result. */
PGresult *trmx_pg_query(trmx_pg *p, const char *sql, int nparams, const char *const *params, trmx_error *err);
void trmx_pg_rollback(trmx_pg *p);
/* sql with each ?N (1..nparams) replaced by params[N-1] as a quoted literal (NULL: NULL), for
 * the statements that take no parameters (COPY); malloc'd, NULL when out of memory. */
char *trmx_pg_inline(trmx_pg *p, const char *sql, int nparams, const char *const *params);
/* Run `sql`, a COPY (...) TO STDOUT (FORMAT binary), and give each row to fn: its fields as
 * NUL-terminated bytes (NULL for SQL NULL) with their lengths, valid during the call; numbers
 * come in network byte order. fn's negative return stops it (the rest of the stream is read and
 * dropped). */
#define TRMX_PG_COPY_FIELDS_MAX 32
typedef int (*trmx_pg_row_fn)(void *ctx, int nfields, const char *const *v, const int *len, trmx_error *err);
int trmx_pg_copy_out(trmx_pg *p, const char *sql, int max_fields, trmx_pg_row_fn fn, void *ctx, trmx_error *err);
/* Keep the hosts' shared secret honest: `check` (an HMAC of the secret) is stored by the first
 * host; another host with another secret is TRMX_EINVAL. */
int trmx_pg_secret_check(trmx_pg *p, const char *check, const char *host, trmx_error *err);
/* Rows in COPY's text format, in the column order of runs and feedback. */
void trmx_pg_copy_run(FILE *f, const trmx_run_record *r, const char *when, const char *host);
void trmx_pg_copy_feedback(FILE *f, const trmx_feedback_record *fb, const char *when);
/* Columns first..first+ncols-1 of a SQLite row (the outbox's runs or feedback), as one line. */
void trmx_pg_copy_sqlite_row(FILE *f, sqlite3_stmt *st, int first, int ncols);
/* One transaction: the runs, then the feedback (COPY text, either may be empty), each inserted
 * with ON CONFLICT (id) DO NOTHING; *added gets the rows new to the log. A run id taken by
 * another request is TRMX_EEXIST, feedback on a run the log lacks TRMX_ENOTFOUND; the server out
 * of reach TRMX_EIO with trmx_pg_down true. */
int trmx_pg_write(trmx_pg *p, const char *runs, size_t runs_len, const char *feedback, size_t fb_len, size_t *added,
		  trmx_error *err);

/* Where HOME's log is: *url NULL for HOME/log.db, else the malloc'd URL of a central log: `given`
 * (NULL: none), else $TRMX_LOG_URL, else the home's config log.url. TRMX_EINVAL for a URL that is
 * neither. */
int trmx_log_url(const char *home, const char *given, char **url, trmx_error *err);
/* The id this host writes into runs.host: the home's config host.id, else the host name. */
void trmx_log_host_id(const char *home, char *buf, size_t cap);

/* ---- The module-SQL guard (sqlguard.c) -------------------------------------------------------
 * What a module's SQL may do (its own tables, indexes and views in its own database; no
 * triggers, ATTACH, PRAGMA but user_version, temporary or virtual tables, transaction control,
 * extensions), with its work capped at TRMX_MODULE_SQL_OPS_MAX. `what` names the text in
 * messages ("schema.sql:3: triggers are not allowed ..."). */
/* A script of statements, in the caller's transaction. */
int trmx_sqlguard_exec(sqlite3 *db, const char *sql, const char *what, trmx_error *err);
/* One statement with text parameters (the host's module_exec). */
int trmx_sqlguard_exec1(sqlite3 *db, const char *sql, const char *const *params, size_t nparams, const char *what,
			trmx_error *err);
/* The script in file `path` (at most TRMX_MODULE_SQL_MAX bytes, no NUL). */
int trmx_sqlguard_run_file(sqlite3 *db, const char *path, const char *what, trmx_error *err);
/* Cap db's size at TRMX_MODULE_DB_INSTALL_MAX while a script runs (not persistent). */
int trmx_sqlguard_cap_size(sqlite3 *db, trmx_error *err);
/* Run the script in `path` as an install would (the same guard and caps) into a database in
 * memory: pack and verify refuse what install would. */
int trmx_sqlguard_check_file(const char *path, const char *what, trmx_error *err);

#endif
