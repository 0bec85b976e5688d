/*
 * trmx/report.h — the analyst's side of the usage and feedback log
 * (docs/SCHEMA.md, "Analysts"):
 *   - reports: per module version in each context, runs, learners, exact
 * accuracy from the best verdict available, the steps used, latency,
 * corrections; calibration of the Q head's halt confidence; a canary against
 * its champion with 95 % Wilson intervals and a plain verdict; rendered as
 * text, CSV, JSON or one self-contained HTML page with inline SVG charts;
 *   - read-only SQL over the log with the registry and the module databases
 * attached;
 *   - exports: xAPI 1.0.3 statements (schemas/xapi.md), and a training data set
 * made of the corrected answers (the CSV `trmx train` reads);
 *   - privacy and retention: erase a learner's runs and feedback everywhere,
 * purge by age; both leave a record of what they removed (counts, never
 * content).
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_report *r = NULL;
 *     trmx_report_options o = TRMX_REPORT_OPTIONS_INIT;
 *     o.context = "algebra/unit-3";                               // NULL:
 * every context trmx_time_parse("7d", 0, &o.since_ms, &err);                //
 * the last seven days trmx_report_build(&r, home, &o, &err); for (size_t i = 0;
 * i < trmx_report_canary_count(r); i++) { const trmx_report_canary *c =
 * trmx_report_canary_at(r, i);
 *         ... c->verdict (better, worse, not yet known), c->runs_needed ...
 *     }
 *     trmx_report_write(r, TRMX_REPORT_HTML, NULL, file, &err);   // one
 * self-contained page trmx_report_free(r);
 *
 * Which verdict counts ("exact accuracy from the best verdict available"): for
 * each run, the first of (1) an expected answer given in feedback (by an
 * instructor, an evaluation's data set or a learner, in that order, the newest
 * first): the run is correct when its answer is that text exactly; (2) an
 * instructor's verdict; (3) an evaluation's verdict; (4) the checker's; (5) the
 * learner's. A verdict is correct only when it is `correct` (`partial` is not
 * exact). Runs with none of these are not judged and count in no accuracy. The
 * view `run_verdicts` applies the same rule in SQL.
 *
 * Errors follow trmx.h: 0 or a negative TRMX_E* code with the message in `err`.
 * Functions that write take a FILE * the caller opened; the library itself
 * never prints.
 */
#ifndef TRMX_REPORT_H
#define TRMX_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "trmx/log.h"
#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* ---- Times and durations
 * ------------------------------------------------------------------- */

/* Parse a point in time into Unix milliseconds: an ISO 8601 UTC date
 * ("2025-11-29") or time
 * ("2025-11-29T09:30", "2025-11-29T09:30:00Z", "2025-11-29T09:30:00.123Z",
 * "2025-11-29 09:30:00"), "now", or a duration before `now_ms` ("7d": seven
 * days ago; see trmx_duration_parse). now_ms 0: the clock. Errors: TRMX_EINVAL
 * naming the accepted forms. */
int trmx_time_parse(const char *s, int64_t now_ms, int64_t *out, trmx_error *err);
/* Parse a duration: a positive number with a unit, s, min, h, d, w (7 d), mo
 * (30 d) or y (365 d), or several in a row ("1d12h"). A bare "m" is refused
 * (minutes or months?). Errors: TRMX_EINVAL. */
int trmx_duration_parse(const char *s, int64_t *out_ms, trmx_error *err);

/* ---- Statistics
 * ------------------------------------------------------------------------------
 */

/* The Wilson score interval of `correct` successes in `n` trials for the normal
 * quantile `z` (1.959964 for 95 %). n == 0 gives [0, 1]. */
void trmx_wilson_interval(int64_t correct, int64_t n, double z, double *low, double *high);

typedef enum trmx_canary_verdict {
	TRMX_CANARY_UNKNOWN = 0, /* not yet known: the 95 % intervals overlap (or an arm is unjudged) */
	TRMX_CANARY_BETTER,	 /* the canary's interval lies wholly above the champion's
				  */
	TRMX_CANARY_WORSE	 /* the canary's interval lies wholly below the champion's */
} trmx_canary_verdict;
/* "not yet known", "better", "worse". */
const char *trmx_canary_verdict_name(trmx_canary_verdict v);

/* Compare a canary (c_correct of c_judged) with its champion (m_correct of
 * m_judged) by their 95 % Wilson intervals: BETTER or WORSE when they are
 * disjoint, else UNKNOWN. For UNKNOWN, *runs_needed (may be NULL) gets an
 * estimate of the judged runs still needed, both arms together and split
 * between them as so far: the smallest total at which the intervals of the
 * accuracies seen so far would no longer overlap (found by search on the Wilson
 * bounds, so it agrees with the rule), or -1 when no number of runs would tell
 * them apart (the same accuracy on both sides, an arm without judged runs); 0
 * when the verdict is known. docs/SCHEMA.md
 * ("Canary verdicts") explains the rule. */
trmx_canary_verdict trmx_canary_compare(int64_t m_correct, int64_t m_judged, int64_t c_correct, int64_t c_judged,
					int64_t *runs_needed);

/* ---- Reports
 * ---------------------------------------------------------------------------------
 */

/* Kinds of runs a report counts (runs.kind). */
#define TRMX_REPORT_KIND_RUN	  1u
#define TRMX_REPORT_KIND_EVAL	  2u
#define TRMX_REPORT_KIND_SELFTEST 4u
#define TRMX_REPORT_KIND_ALL	  7u

typedef struct trmx_report_options {
	unsigned int version;
	const char *context; /* only this context; NULL: all (runs without a context form the
				context ""); "" : only runs without a context; ending in '*'
				(course/ then *): every context that begins with the text before it */
	const char *module;  /* only this module; NULL: all */
	int64_t since_ms;    /* runs at or after this time (Unix ms); 0: from the first */
	int64_t until_ms;    /* runs before this time; 0: to the last */
	unsigned int kinds;  /* TRMX_REPORT_KIND_*; 0: all */
	int bins;	     /* calibration bins over [0, 1]; 0: 10; at most TRMX_REPORT_BINS_MAX
			      */
	const char *learner; /* version 2: only this learner's runs, by pseudonym (trmx_log_pseudonym
				of the LMS's user id); NULL: every learner */
} trmx_report_options;
#define TRMX_REPORT_OPTIONS_VERSION 2 /* version 1 (no learner) is still taken */
#define TRMX_REPORT_OPTIONS_INIT                                                                                            \
	{                                                                                                                   \
		TRMX_REPORT_OPTIONS_VERSION, NULL, NULL, 0, 0, 0, 0, NULL                                                   \
	}
#define TRMX_REPORT_BINS_MAX 100

/* Where a run's verdict came from (see the rule above). */
typedef enum trmx_verdict_source {
	TRMX_VERDICT_SOURCE_NONE = 0, /* not judged */
	TRMX_VERDICT_SOURCE_EXPECTED, /* an expected answer, compared with the run's
					 answer */
	TRMX_VERDICT_SOURCE_INSTRUCTOR,
	TRMX_VERDICT_SOURCE_EVAL,
	TRMX_VERDICT_SOURCE_CHECKER,
	TRMX_VERDICT_SOURCE_LEARNER,
	TRMX_VERDICT_SOURCES
} trmx_verdict_source;
/* "none", "expected", "instructor", "eval", "checker", "learner". */
const char *trmx_verdict_source_name(trmx_verdict_source s);

/* Figures of one module version in one context. Pointers are borrowed from the
 * report. */
typedef struct trmx_report_group {
	const char *context; /* "" for runs logged without a context */
	const char *module, *module_version;
	const char *digest;			 /* the package of the group's newest run */
	int64_t runs, errors;			 /* runs, and those with status error */
	int64_t learners;			 /* distinct learner pseudonyms (anonymous runs count none) */
	int64_t judged, correct;		 /* runs with a verdict, and those correct */
	int64_t by_source[TRMX_VERDICT_SOURCES]; /* runs by where their verdict came
						    from */
	double accuracy;			 /* correct / judged; NaN when nothing was judged */
	double accuracy_low, accuracy_high;	 /* its 95 % Wilson interval */
	int64_t steps_runs;			 /* runs with a step count */
	double mean_steps;			 /* NaN when none */
	int steps_max;				 /* the largest step count (the histogram has steps_max + 1
						    bars) */
	const int64_t *steps_hist;		 /* [steps_max + 1]: runs that used s ACT steps */
	int64_t latency_runs;			 /* runs with a latency */
	double latency_p50, latency_p95;	 /* milliseconds, nearest rank; NaN when none */
	int64_t corrections;			 /* feedback rows with an expected answer from a learner
						    or an instructor (not an evaluation's data set) */
	const char *first_run, *last_run;	 /* ISO 8601 times */
} trmx_report_group;

/* One calibration bin: runs whose halt confidence lies in [from, to) (the last
 * bin includes 1). */
typedef struct trmx_report_bin {
	double from, to;
	int64_t runs;		/* runs with a confidence in the bin */
	double mean_confidence; /* their mean confidence; NaN when none */
	int64_t judged, correct;
	double accuracy; /* correct / judged; NaN when none */
} trmx_report_bin;

/* Accuracy over time: one point per time bucket (a day, an hour or a minute:
 * the report picks the finest that gives a readable chart for its time span;
 * trmx_report_info.bucket). */
typedef struct trmx_report_point {
	const char *bucket; /* "2025-11-29", "2025-11-29T09", "2025-11-29T09:30" */
	int64_t runs, judged, correct;
	double accuracy; /* NaN when none judged */
} trmx_report_point;

/* Figures of one module version over every context of the report. */
typedef struct trmx_report_version {
	const char *module, *module_version;
	int64_t runs, judged, correct;
	double accuracy, accuracy_low, accuracy_high;
	int64_t steps_runs;
	double mean_steps;
	int steps_max;
	const int64_t *steps_hist; /* [steps_max + 1] */
	int bins;
	const trmx_report_bin *calibration; /* [bins] */
	double ece;			    /* expected calibration error: sum over bins of judged/J times
					       |accuracy - mean confidence| (J: judged runs with a
					       confidence); NaN when J is 0 */
	size_t points;
	const trmx_report_point *series; /* [points], oldest first */
} trmx_report_version;

/* One side of a canary split. */
typedef struct trmx_report_arm {
	const char *module, *module_version;
	int64_t runs, judged, correct;
	double accuracy, accuracy_low, accuracy_high; /* NaN / [0, 1] when nothing was judged */
} trmx_report_arm;

/* A context whose log holds canary runs in the report's window: the canary (the
 * version that served the canary arm most recently, its canary-arm runs)
 * against the champion (the version that served the main arm most recently, its
 * main-arm runs). */
typedef struct trmx_report_canary {
	const char *context;
	trmx_report_arm champion, canary;
	double difference; /* canary accuracy - champion accuracy; NaN when either is */
	trmx_canary_verdict verdict;
	int64_t runs_needed; /* trmx_canary_compare */
} trmx_report_canary;

typedef struct trmx_report_info {
	const char *generated_at; /* ISO 8601 */
	const char *home;
	const char *context, *module;	  /* the filters, or NULL */
	const char *since, *until;	  /* the window as ISO times, or NULL when open */
	const char *first_run, *last_run; /* of the runs counted, or NULL when none */
	const char *bucket;		  /* "month", "day", "hour" or "minute" */
	int64_t runs, judged, correct, learners;
	int bins;
	const char *kinds;		  /* the kinds counted: "run", "eval", "run, eval", ... or "all" */
	const char *learner;		  /* the learner filter (a pseudonym), or NULL */
} trmx_report_info;

typedef struct trmx_report trmx_report;

/* Read HOME/log.db (migrated to the newest schema first) and compute the
 * report: one pass over the runs in the window with their feedback. Errors:
 * TRMX_ENOTFOUND (no log), TRMX_EINVAL (options), TRMX_EVERSION, TRMX_EIO,
 * TRMX_ENOMEM. */
int trmx_report_build(trmx_report **out, const char *home, const trmx_report_options *opts, trmx_error *err);
void trmx_report_free(trmx_report *r);

/* Borrowed views, valid while the report lives. Groups are ordered by context,
 * module and version (SemVer precedence), versions by module and version,
 * canaries by context. */
const trmx_report_info *trmx_report_info_get(const trmx_report *r);
size_t trmx_report_group_count(const trmx_report *r);
const trmx_report_group *trmx_report_group_at(const trmx_report *r, size_t i);
size_t trmx_report_version_count(const trmx_report *r);
const trmx_report_version *trmx_report_version_at(const trmx_report *r, size_t i);
size_t trmx_report_canary_count(const trmx_report *r);
const trmx_report_canary *trmx_report_canary_at(const trmx_report *r, size_t i);

typedef enum trmx_report_format {
	TRMX_REPORT_TEXT = 0, /* tables for a terminal */
	TRMX_REPORT_CSV,      /* one table (RFC 4180, with a header row) */
	TRMX_REPORT_JSON,     /* one object with every figure */
	TRMX_REPORT_HTML      /* one self-contained page: tables and three inline SVG
				 charts      (accuracy per version over time, steps histogram,
				 calibration      curve); no script, no external reference;
				 well-formed XML */
} trmx_report_format;
/* "text", "csv", "json", "html". */
int trmx_report_format_parse(const char *s, trmx_report_format *out, trmx_error *err);

/* The CSV tables: "groups" (default), "versions", "steps", "calibration",
 * "accuracy" (the series), "canary". */
bool trmx_report_table_valid(const char *table);

/* Write the report to `f` in `format`; `table` picks the CSV table (NULL:
 * "groups"; ignored for the other formats). Errors: TRMX_EINVAL (an unknown
 * table), TRMX_EIO (a write failed). */
int trmx_report_write(const trmx_report *r, trmx_report_format format, const char *table, FILE *f, trmx_error *err);

/* ---- SQL for analysts
 * ---------------------------------------------------------------------- */

typedef enum trmx_sql_format {
	TRMX_SQL_TABLE = 0, /* aligned columns with a header */
	TRMX_SQL_CSV,	    /* RFC 4180 with a header row */
	TRMX_SQL_JSON	    /* one array of objects (integers, reals, strings, null) */
} trmx_sql_format;
int trmx_sql_format_parse(const char *s, trmx_sql_format *out, trmx_error *err);

/* Run one read-only SQL statement on HOME/log.db (its tables and views;
 * docs/SCHEMA.md) with HOME/registry.db attached as `registry` and the module
 * databases HOME/data/<module>.db whose names the statement mentions attached
 * under their module names (quote names with a '-': "sudoku4-tiny".attempts),
 * and write the rows to `f`. Every database is opened read-only, the connection
 * is query-only, and ATTACH, DETACH, PRAGMAs other than reading ones and
 * load_extension(), fts3_tokenizer() and the file functions are refused. No
 * migration is made (an older log.db is TRMX_EVERSION: `trmx log migrate`). A
 * statement runs at most timeout_ms (0: TRMX_SQL_TIMEOUT_MS) and no value it
 * makes exceeds TRMX_SQL_VALUE_MAX bytes (TRMX_ELIMIT). *rows (may be NULL)
 * gets the rows written.
 * Errors: TRMX_EINVAL (not one statement, not read-only, an SQL error with
 * SQLite's message), TRMX_ELIMIT, TRMX_EVERSION, TRMX_ENOTFOUND (no log), TRMX_EIO. */
int trmx_sql_query(const char *home, const char *sql, trmx_sql_format format, int timeout_ms, FILE *f, int64_t *rows,
		   trmx_error *err);

/* ---- Exports
 * ---------------------------------------------------------------------------------
 */

typedef struct trmx_export_result {
	int64_t runs;	    /* xAPI: run statements; data set: runs with an expected answer
			       read */
	int64_t feedback;   /* xAPI: feedback statements */
	int64_t rows;	    /* data set: rows written */
	int64_t duplicates; /* data set: puzzles seen again (the first, best answer is
			       kept) */
	int64_t rejected;   /* data set: expected answers the codec cannot read or its
			       checker   calls invalid for the puzzle */
} trmx_export_result;

typedef struct trmx_xapi_options {
	unsigned int version;
	int64_t since_ms, until_ms; /* runs (and feedback) at or after / before; 0: open */
	const char *context;	    /* only this context; NULL: all */
	const char *module;	    /* only this module; NULL: all */
	const char *base;	    /* the IRL that trmx's IRIs hang from (accounts' homePage,
				       activities, extensions); NULL: "https://trmx.invalid" */
} trmx_xapi_options;
#define TRMX_XAPI_OPTIONS_VERSION 1
#define TRMX_XAPI_OPTIONS_INIT                                                                                              \
	{                                                                                                                   \
		TRMX_XAPI_OPTIONS_VERSION, 0, 0, NULL, NULL, NULL                                                           \
	}

/* The id of the statement of a run ("run") or a feedback row ("feedback"): a
 * name-based UUID (version 8, RFC 9562: SHA-256 of "xapi-" KIND and the row's
 * id), so the same row always gives the same statement id. */
void trmx_xapi_statement_id(const char *kind, const char *row_id, char out[TRMX_UUID_SIZE]);

/* Write xAPI 1.0.3 statements as JSON lines: one per run, then one per feedback
 * row (referring to its run's statement), each in time order. schemas/xapi.md
 * gives the mapping. Errors: TRMX_ENOTFOUND (no log), TRMX_EINVAL, TRMX_EIO,
 * TRMX_ENOMEM. */
int trmx_export_xapi(const char *home, const trmx_xapi_options *opts, FILE *f, trmx_export_result *result, trmx_error *err);

/* Sources of expected answers a data set takes. */
#define TRMX_EXPORT_FROM_INSTRUCTOR 1u
#define TRMX_EXPORT_FROM_LEARNER    2u
#define TRMX_EXPORT_FROM_EVAL	    4u /* an evaluation's data set: held-out answers, off by default */

typedef struct trmx_dataset_export_options {
	unsigned int version;
	const char *module;	    /* required: the module whose runs are exported */
	int64_t since_ms, until_ms; /* feedback given at or after / before; 0: open */
	unsigned int sources;	    /* TRMX_EXPORT_FROM_*; 0: instructor and learner */
	bool check;		    /* drop answers the task's checker calls invalid (default on) */
} trmx_dataset_export_options;
#define TRMX_DATASET_EXPORT_OPTIONS_VERSION 1
#define TRMX_DATASET_EXPORT_OPTIONS_INIT                                                                                    \
	{                                                                                                                   \
		TRMX_DATASET_EXPORT_OPTIONS_VERSION, NULL, 0, 0, 0, true                                                    \
	}

/* Write every run of `module` that has an expected (corrected) answer as
 * training data: a CSV with the header `puzzle,solution` and one row per
 * distinct puzzle, the puzzle and the answer in the codec's one-line form (what
 * the sudoku, maze and tokens codecs read: `data.file` or `data.mix.file` of a
 * training config, docs/TRAINING.md). A puzzle corrected more than once keeps
 * its best answer: an instructor's before an evaluation's before a learner's,
 * the newest first. Rows are in the order of their runs. Errors: TRMX_EINVAL
 * (no module, a codec whose puzzles do not fit a CSV field, runs of the module
 * with different task parameters), TRMX_ENOTFOUND (no log), TRMX_EIO,
 * TRMX_ENOMEM. */
int trmx_export_dataset(const char *home, const trmx_dataset_export_options *opts, FILE *f, trmx_export_result *result,
			trmx_error *err);

/* ---- Sending xAPI statements to a learning record store
 * ------------------------------------------------------------------ */

/* A sender of the log's statements to one LRS (docs/ANALYTICS.md, "Forwarding
 * to an LRS"), used by `trmx export xapi --lrs` and `trmx serve --xapi-lrs`.
 * Every run and feedback row is numbered as it is committed (log.db's
 * xapi_queue); a cursor per LRS in log.db says how far the LRS has taken them.
 * A batch is staged in log.db's outbox with its statements' text before it is
 * posted, and the cursor moves (and the outbox empties) in one transaction once
 * the LRS said yes, so a crash or a lost answer resends the same bytes and the
 * LRS, keyed by the stable statement ids, keeps one copy. One handle is used by
 * one thread at a time. */
typedef struct trmx_lrs trmx_lrs;

typedef struct trmx_lrs_options {
	unsigned int version;
	const char *url;	 /* the LRS's xAPI endpoint (http or https); statements go to
				    URL/statements (a URL ending in /statements is taken as it is) */
	const char *auth;	 /* "USER:PASSWORD" for HTTP Basic; NULL: none */
	const char *base;	 /* as trmx_xapi_options.base; NULL: https://trmx.invalid */
	int batch;		 /* statements per POST; 0: 100 */
	int timeout_ms;		 /* a whole request; 0: 30000 */
	int connect_timeout_ms;	 /* 0: 5000 */
	int retries;		 /* retries of a failed POST (network, 5xx, 429) before giving
				    up; -1: for ever (until `wait` says stop) */
	/* Back-off between retries: called with the seconds to wait (1 doubling to 60,
	 * or the LRS's Retry-After) and why the attempt failed; returns false to stop
	 * (the call returns TRMX_ECANCELLED). NULL: sleep. */
	bool (*wait)(void *user, double seconds, const char *why);
	/* Polled during a request; true aborts it (TRMX_ECANCELLED). NULL: never. */
	bool (*cancelled)(void *user);
	/* After every batch the LRS took: statements sent in this call and those still
	 * pending. NULL: none. */
	void (*progress)(void *user, int64_t sent, int64_t pending);
	void *user;
} trmx_lrs_options;
#define TRMX_LRS_OPTIONS_VERSION 1
#define TRMX_LRS_OPTIONS_INIT                                                                                               \
	{                                                                                                                   \
		TRMX_LRS_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, 6, NULL, NULL, NULL, NULL                              \
	}

typedef struct trmx_lrs_result {
	int64_t sent;	    /* statements the LRS took in this call */
	int64_t pending;    /* statements past the cursor when the call returned */
	int64_t skipped;    /* rows erased before they could be sent */
	int retries;	    /* failed attempts that were retried */
	int last_status;    /* the last HTTP status (0: no answer) */
} trmx_lrs_result;

/* Open a sender for HOME's log (migrated to the newest schema) and the LRS of
 * `opts->url`. Errors: TRMX_EINVAL (a URL that is not http(s)://HOST..., one
 * with credentials in it, a bad base or auth), TRMX_ENOTFOUND (no log),
 * TRMX_EIO, TRMX_ENOMEM. */
int trmx_lrs_open(trmx_lrs **out, const char *home, const trmx_lrs_options *opts, trmx_error *err);
void trmx_lrs_free(trmx_lrs *l);
/* The statements resource statements are posted to (borrowed). */
const char *trmx_lrs_endpoint(const trmx_lrs *l);
/* Statements not yet delivered to this LRS (rows erased since they were logged
 * count until the sender passes them). */
int trmx_lrs_pending(trmx_lrs *l, int64_t *out, trmx_error *err);
/* Send everything past the cursor, batch by batch, retrying with back-off.
 * Returns 0 once nothing is pending. Errors (result says how far it got):
 * TRMX_EIO (the LRS could not be reached or kept failing: retries spent),
 * TRMX_EINTEGRITY (409: the LRS holds a statement id with other content; the
 * cursor stays before it), TRMX_EINVAL (the LRS refused the credentials or a
 * statement: 4xx, with its message), TRMX_ECANCELLED, a log error. */
int trmx_lrs_sync(trmx_lrs *l, trmx_lrs_result *result, trmx_error *err);

/* ---- Privacy and retention
 * ------------------------------------------------------------------ */

typedef struct trmx_erase_result {
	int64_t runs;	     /* runs removed from log.db */
	int64_t feedback;    /* feedback rows removed */
	int64_t module_rows; /* rows removed from module databases */
	int databases;	     /* module databases that held some */
	int64_t record_id;   /* the row of log.db's `erasures` that records it; 0 in a
				dry run */
} trmx_erase_result;

/* Erase learner `pseudonym` (trmx_log_pseudonym) from HOME: their runs and
 * every feedback on them in log.db, and in every module database
 * HOME/data/<module>.db the rows of tables with a `run_id` column naming one of
 * those runs or a `learner` column holding the pseudonym (the module schema
 * convention, docs/SCHEMA.md). Deleted content is overwritten (secure_delete),
 * each database rebuilt (VACUUM: it needs free disk space of its size) and the
 * write-ahead logs checkpointed and truncated, so no copy stays in the files.
 * Appends a row to `erasures` with the counts and no trace of who was erased.
 * `dry_run`: count only. Module databases are done first, each in its
 * own transaction, then log.db in one: an interrupted erase is finished by
 * running it again. Errors: TRMX_EINVAL (not a pseudonym), TRMX_ENOTFOUND (no
 * log), TRMX_EIO, TRMX_ENOMEM. */
int trmx_erase_learner(const char *home, const char *pseudonym, bool dry_run, trmx_erase_result *result, trmx_error *err);

/* Purge every run older than `before_ms` (Unix ms), with its feedback and the
 * module rows that refer to it, as trmx_erase_learner does; the record names
 * the cutoff. */
int trmx_purge_before(const char *home, int64_t before_ms, bool dry_run, trmx_erase_result *result, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
