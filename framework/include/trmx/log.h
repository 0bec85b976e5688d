/*
 * trmx/log.h — the usage and feedback log: a `runs` row for every puzzle a module solved, a
 * `feedback` row for every verdict on one (the checker's, a learner's, an instructor's, an
 * evaluation's expected answer), in TRMX_HOME/log.db. docs/SCHEMA.md describes every table,
 * view and column; schemas/log/ holds the SQL.
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_log_db *log = NULL;
 *     trmx_log_open(&log, home, NULL, &err);                  // creates log.db and the secret
 *
 *     char who[TRMX_PSEUDONYM_SIZE];
 *     trmx_log_pseudonym(log, "alice@example.org", who, &err); // HMAC-SHA256, never the raw id
 *
 *     trmx_run_record r = TRMX_RUN_RECORD_INIT;
 *     trmx_uuid7(r.id);                                        // made by the caller: a retry
 *     r.learner = who; r.module = "sudoku4"; ...               // with the same id is no duplicate
 *     trmx_log_append(log, &r, 1, NULL, &err);                 // one transaction
 *
 *     trmx_feedback_record f = TRMX_FEEDBACK_RECORD_INIT;
 *     f.run_id = r.id; f.source = TRMX_FEEDBACK_LEARNER; f.verdict = TRMX_FEEDBACK_CORRECT;
 *     trmx_log_feedback(log, &f, 1, NULL, &err);
 *     trmx_log_free(log);
 *
 * The database runs in WAL mode with a busy timeout, so several processes append at once without
 * a busy error; a committed run survives the process being killed. Its schema moves forward
 * only, by numbered migrations on PRAGMA user_version, applied when a trmx opens it; a log.db
 * from a newer trmx is refused (TRMX_EVERSION). Inserts are idempotent (ON CONFLICT(id) DO
 * NOTHING). Learner ids are pseudonymised with HMAC-SHA256 keyed by a per-installation secret
 * (TRMX_HOME/secret, 32 random bytes, mode 0600, made at first use), kept out of log.db so that
 * the log alone does not let anyone test a guessed id.
 */
#ifndef TRMX_LOG_H
#define TRMX_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/task.h"
#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* ---- Identifiers --------------------------------------------------------------------------- */

/* A UUID in its 36-character text form with the NUL. */
#define TRMX_UUID_SIZE 37
/* A pseudonym: 64 lowercase hex digits with the NUL. */
#define TRMX_PSEUDONYM_SIZE 65

/* A fresh UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then a counter that keeps ids made by
 * one process in increasing order within a millisecond, then random bits (libsodium). Lowercase
 * "xxxxxxxx-xxxx-7xxx-yxxx-xxxxxxxxxxxx". Thread-safe. */
void trmx_uuid7(char out[TRMX_UUID_SIZE]);
/* Is `s` a UUID in the lowercase or uppercase 8-4-4-4-12 hex form (any version)? */
bool trmx_uuid_valid(const char *s);
/* A UUID (version 8, RFC 9562) derived from `kind` and `of` (SHA-256 of both): the same pair always
 * gives the same id, so a record made again for the same thing (a retried run's checker verdict,
 * item k of a retried evaluation) is the same record, which the log keeps once. */
void trmx_uuid_derived(char out[TRMX_UUID_SIZE], const char *kind, const char *of);

/* ---- Records ------------------------------------------------------------------------------- */

/* Which side of a canary split served a run. */
typedef enum trmx_arm {
	TRMX_ARM_MAIN = 0, /* the binding's target (or the module named directly) */
	TRMX_ARM_CANARY    /* the binding's canary */
} trmx_arm;

/* How a run ended (runs.status). */
typedef enum trmx_run_status {
	TRMX_RUN_COMPLETED = 0, /* ran every step (fixed halting, or the model's halt_max_steps) */
	TRMX_RUN_HALTED,        /* the Q head said halt (adaptive halting) */
	TRMX_RUN_BUDGET,        /* stopped at the caller's step budget */
	TRMX_RUN_ERROR          /* failed: `error` says why (bad input text, engine failure) */
} trmx_run_status;

/* Why a run was made (runs.kind). */
typedef enum trmx_run_kind {
	TRMX_RUN_KIND_RUN = 0,  /* a dispatch: `trmx run`, a course server */
	TRMX_RUN_KIND_EVAL,     /* an item of an evaluation (`trmx eval`) */
	TRMX_RUN_KIND_SELFTEST  /* an example run by hand as a self-test */
} trmx_run_kind;

/* "main"/"canary", "completed"/..., "run"/"eval"/"selftest". */
const char *trmx_arm_name(trmx_arm arm);
const char *trmx_run_status_name(trmx_run_status status);
const char *trmx_run_kind_name(trmx_run_kind kind);
/* The status of a row that stopped for `reason`. */
trmx_run_status trmx_run_status_from_reason(trmx_halt_reason reason);

/* One run. Strings are borrowed for the call; NULL writes SQL NULL (required: module,
 * module_version, digest, target, engine, task, input). Numbers that are unknown: steps and
 * max_steps < 0, q_halt and latency_ms NaN. The verdict is written only when status is not
 * ERROR. */
typedef struct trmx_run_record {
	unsigned int version;
	char id[TRMX_UUID_SIZE];   /* required: a UUID, ideally trmx_uuid7() */
	int64_t time_ms;           /* Unix milliseconds when the dispatch began; 0: now */
	trmx_run_kind kind;
	const char *batch_id;      /* shared by the runs of one batch or evaluation */
	const char *context;
	const char *learner;       /* a pseudonym from trmx_log_pseudonym, never a raw id */
	const char *target;
	const char *module, *module_version, *digest, *alias;
	trmx_arm arm;
	const char *engine;        /* "trm 1.0.0" */
	const char *task, *task_params;
	const char *input, *output, *output_tokens;
	trmx_halt_mode halt;
	int max_steps, steps;
	double q_halt;             /* halt_confidence is stored as sigmoid(q_halt) */
	trmx_verdict verdict;
	const char *problem;       /* trmx_check_problem_name, NULL when none */
	double latency_ms;
	trmx_run_status status;
	const char *error;
} trmx_run_record;
#define TRMX_RUN_RECORD_VERSION 1
#define TRMX_RUN_RECORD_INIT                                                                      \
	{ TRMX_RUN_RECORD_VERSION, "", 0, TRMX_RUN_KIND_RUN, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
	  NULL, TRMX_ARM_MAIN, NULL, NULL, NULL, NULL, NULL, NULL, TRMX_HALT_FIXED, -1, -1,           \
	  __builtin_nan(""), TRMX_VERDICT_UNKNOWN, NULL, __builtin_nan(""), TRMX_RUN_COMPLETED, NULL }

typedef enum trmx_feedback_source {
	TRMX_FEEDBACK_CHECKER = 0, /* the task codec's checker, logged with every run */
	TRMX_FEEDBACK_LEARNER,
	TRMX_FEEDBACK_INSTRUCTOR,
	TRMX_FEEDBACK_EVAL         /* the expected answer of an evaluation's data set */
} trmx_feedback_source;

typedef enum trmx_feedback_verdict {
	TRMX_FEEDBACK_CORRECT = 0,
	TRMX_FEEDBACK_INCORRECT,
	TRMX_FEEDBACK_PARTIAL
} trmx_feedback_verdict;

/* "checker"/"learner"/"instructor"/"eval"; "correct"/"incorrect"/"partial". */
const char *trmx_feedback_source_name(trmx_feedback_source s);
const char *trmx_feedback_verdict_name(trmx_feedback_verdict v);
/* Parse those names; TRMX_EINVAL naming the accepted ones. */
int trmx_feedback_source_parse(const char *s, trmx_feedback_source *out, trmx_error *err);
int trmx_feedback_verdict_parse(const char *s, trmx_feedback_verdict *out, trmx_error *err);

/* One piece of feedback on a run. `id` empty: the log makes a UUIDv7 (then a retry is a new
 * row). score NaN: none; else in [0, 1]. */
typedef struct trmx_feedback_record {
	unsigned int version;
	char id[TRMX_UUID_SIZE];
	const char *run_id;
	int64_t time_ms;           /* 0: now */
	trmx_feedback_source source;
	trmx_feedback_verdict verdict;
	double score;
	const char *expected;      /* the corrected or expected answer (one-line form), or NULL */
	const char *comment;
} trmx_feedback_record;
#define TRMX_FEEDBACK_RECORD_VERSION 1
#define TRMX_FEEDBACK_RECORD_INIT                                                                 \
	{ TRMX_FEEDBACK_RECORD_VERSION, "", NULL, 0, TRMX_FEEDBACK_CHECKER, TRMX_FEEDBACK_CORRECT,   \
	  __builtin_nan(""), NULL, NULL }

/* ---- The log ------------------------------------------------------------------------------- */

typedef struct trmx_log_db trmx_log_db;

typedef struct trmx_log_options {
	unsigned int version;
	bool durable;        /* fsync every commit (synchronous=FULL): survives power loss, slower;
				default NORMAL survives the process being killed */
	int busy_timeout_ms; /* how long a writer waits for another; 0: 30000 */
} trmx_log_options;
#define TRMX_LOG_OPTIONS_VERSION 1
#define TRMX_LOG_OPTIONS_INIT { TRMX_LOG_OPTIONS_VERSION, false, 0 }

/* Open (creating when absent) HOME/log.db and the installation's secret HOME/secret; the folder
 * HOME is made when missing. Applies pending migrations. Errors: TRMX_EIO, TRMX_EFORMAT (not a
 * log database), TRMX_EVERSION (a newer schema), TRMX_ENOMEM, TRMX_EINVAL. */
int trmx_log_open(trmx_log_db **out, const char *home, const trmx_log_options *opts, trmx_error *err);
void trmx_log_free(trmx_log_db *log);
/* HOME/log.db, or the central log's URL with its password masked (borrowed). */
const char *trmx_log_path(const trmx_log_db *log);

/* The pseudonym of learner id `learner`: HMAC-SHA256 keyed by the installation's secret, hex.
 * Errors: TRMX_EINVAL (NULL or empty id). */
int trmx_log_pseudonym(const trmx_log_db *log, const char *learner, char out[TRMX_PSEUDONYM_SIZE],
		       trmx_error *err);

/* Append `n` runs and `nf` feedback rows in one transaction (either may be 0; feedback may
 * refer to the runs of the same call). Rows whose id is already present are left as they are;
 * *inserted (may be NULL) gets the number of new runs plus new feedback rows. Feedback naming
 * a run that is not in the log fails the whole call with TRMX_ENOTFOUND. Errors also:
 * TRMX_EINVAL (a record without a required field, a bad id or score), TRMX_EIO, TRMX_ENOMEM. */
int trmx_log_write(trmx_log_db *log, const trmx_run_record *runs, size_t n,
		   const trmx_feedback_record *feedback, size_t nf, size_t *inserted, trmx_error *err);
/* trmx_log_write with runs only; with feedback only. */
int trmx_log_append(trmx_log_db *log, const trmx_run_record *runs, size_t n, size_t *inserted,
		    trmx_error *err);
int trmx_log_feedback(trmx_log_db *log, const trmx_feedback_record *feedback, size_t n,
		      size_t *inserted, trmx_error *err);

/* A logged run, looked up by id. Strings are copies inside the struct (cut at their sizes). */
typedef struct trmx_run_info {
	char id[TRMX_UUID_SIZE];
	char time[32];
	char context[TRMX_CONTEXT_NAME_MAX + 1];
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char module_version[TRMX_MANIFEST_VERSION_MAX + 1];
	char digest[65];
	char task[TRMX_MANIFEST_NAME_MAX + 1];
	char task_params[TRMX_TASK_PARAM_MAX + 1];
	char status[16];
} trmx_run_info;
/* TRMX_ENOTFOUND when no run has that id. */
int trmx_log_run_get(trmx_log_db *log, const char *run_id, trmx_run_info *out, trmx_error *err);
/* A logged run's puzzle and answer in the codec's one-line form, malloc'd (free with free());
 * *output is NULL when the answer has no text. TRMX_ENOTFOUND when no run has that id. */
int trmx_log_run_texts(trmx_log_db *log, const char *run_id, char **input, char **output,
		       trmx_error *err);
/* Read a correction of `run` (any text its task reads) and check it before it is kept: the
 * task's codec must read it and its checker pass it against the run's puzzle, and a run marked
 * incorrect cannot be corrected to the model's own answer. On success *canonical is the
 * correction's one-line form (free with trmx_task_text_free). Errors: TRMX_EFORMAT (the codec
 * cannot read it), TRMX_EINVAL (the checker's problem, or the model's own answer), those of
 * trmx_task_open, TRMX_ENOMEM. */
int trmx_log_correction_check(trmx_log_db *log, const trmx_run_info *run, trmx_feedback_verdict verdict,
			      const char *text, size_t len, char **canonical, trmx_error *err);

/* ---- A central log on PostgreSQL ------------------------------------------------------------
 * A home's log is HOME/log.db unless a postgresql:// URL names a central log, shared by many
 * course servers: $TRMX_LOG_URL, else the home's setting log.url (trmx_home_config_set; `trmx
 * --log URL` sets the variable for one command). Writes then go to that database (schemas/log-pg/,
 * migrated when a writer opens it); while it cannot be reached or refuses work, trmx_log_write
 * keeps the rows in HOME/log-outbox.db instead (durably: a row it says it took is never lost),
 * and trmx_log_push moves them over, idempotently (ids are the caller's: never twice). The hosts
 * of one central log must share the home's secret (a host with another is refused), and each
 * writes its host id (setting host.id, else the host name) into runs.host. docs/SCHEMA.md. */

typedef struct trmx_log_status_info {
	bool central;               /* a central log, not HOME/log.db */
	bool reachable;             /* it answered (always true for log.db) */
	char where[512];            /* log.db's path, or the URL with the password masked */
	char host[72];              /* this host's id in runs.host */
	char outbox[512];           /* HOME/log-outbox.db (central logs) */
	int64_t outbox_runs, outbox_feedback; /* rows waiting there */
	char oldest[32];            /* the oldest waiting row's time, "" when none */
	char last_error[TRMX_ERROR_MESSAGE_MAX]; /* why it was not reached, when it was not */
} trmx_log_status_info;

/* Where the log is and what waits in the outbox (trying to reach a central log once). */
int trmx_log_status(trmx_log_db *log, trmx_log_status_info *out, trmx_error *err);
/* Move the outbox's rows into the central log (runs first), each chunk committed there before it
 * leaves the outbox; *pushed gets the rows moved. TRMX_EIO when the central log is out of reach
 * (what was moved stays moved), TRMX_EINVAL when it refused some rows (they stay; the message
 * says why), or when the log is log.db. */
int trmx_log_push(trmx_log_db *log, size_t *pushed, trmx_error *err);
/* Does the outbox (may) hold rows? (for a server's background push) */
bool trmx_log_outbox_pending(const trmx_log_db *log);

/* A home's settings, in HOME/config.json (mode 0600): "log.url" (a postgresql:// URL, or
 * "sqlite") and "host.id". *value is NULL when the key is not set (free it with free()). */
int trmx_home_config_get(const char *home, const char *key, char **value, trmx_error *err);
/* Set `key` (value NULL: unset it), checked; the file is written atomically. */
int trmx_home_config_set(const char *home, const char *key, const char *value, trmx_error *err);
/* The keys, NULL-terminated. */
const char *const *trmx_home_config_keys(void);
/* `url` with a password replaced by *** (for messages and listings); malloc'd, NULL: no memory. */
char *trmx_log_url_masked(const char *url);

/* Counts of a group of runs from the views (version_summary, context_summary). */
typedef struct trmx_usage_row {
	char context[TRMX_CONTEXT_NAME_MAX + 1]; /* empty in a per-version summary */
	char arm[8];                             /* empty in a per-version summary */
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char module_version[TRMX_MANIFEST_VERSION_MAX + 1];
	int64_t runs, errors, learners;          /* learners: -1 in a per-version summary */
	int64_t correct, judged;                 /* runs with a final verdict, and those correct */
	double mean_steps, mean_latency_ms;      /* NaN when nothing to average */
} trmx_usage_row;

typedef enum trmx_usage_by {
	TRMX_USAGE_BY_VERSION = 0, /* view version_summary; filter: a module name or NULL */
	TRMX_USAGE_BY_CONTEXT      /* view context_summary; filter: a context or NULL */
} trmx_usage_by;

/* Rows of a summary view, ordered by module, version (and context, arm); *out is malloc'd (free
 * it with free()), *n its length. */
int trmx_log_usage(trmx_log_db *log, trmx_usage_by by, const char *filter, trmx_usage_row **out,
		   size_t *n, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
