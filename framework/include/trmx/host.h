/*
 * trmx/host.h — the runtime: a long-lived host that resolves a context or target through the
 * registry, opens the package's engine through the engine ABI (cached by package digest), encodes
 * the input with the task codec, solves, checks, and logs a run and the checker's verdict for
 * every puzzle. Also: engine plugins (dlopen), and models opened on any engine table.
 *
 * Tutorial: a course server
 * -------------------------
 *     trmx_error err;
 *     trmx_host *h = NULL;
 *     trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
 *     ho.home = "/srv/course/trmx";                           // TRMX_HOME
 *     trmx_host_open(&h, &ho, &err);
 *
 *     for (;;) {                                              // one request at a time
 *         const char *text = "1.3..2.. ...";                  // what the learner sent
 *         trmx_dispatch d = TRMX_DISPATCH_INIT;
 *         d.target = "algebra/unit-3";                        // a context, or a TARGET
 *         d.learner = "alice@example.org";                    // pseudonymised before logging
 *         d.texts = &text; d.n = 1;
 *         d.halt = TRMX_HALT_ADAPTIVE;
 *         trmx_dispatch_result *res = NULL;
 *         trmx_host_dispatch(h, &d, &res, &err);              // res->runs[0].answer_text,
 *         ...                                                 //   .check.verdict, .run_id
 *         trmx_dispatch_result_free(res);
 *     }
 *     trmx_host_free(h);
 *
 * Every dispatch resolves its name afresh, so a new binding, an alias moved or a version
 * quarantined (by `trmx` or another process) takes effect on the very next dispatch without a
 * restart. The host keeps the models it loaded, by package digest; when the registry's generation
 * changes it releases every model that none of the names it served resolves to any more (also a
 * canary's), and it keeps at most `max_models` (least recently used go first). A host is used by
 * one thread at a time; a server with several threads opens a host per thread.
 */
#ifndef TRMX_HOST_H
#define TRMX_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/eval.h"
#include "trmx/log.h"
#include "trmx/registry.h"
#include "trmx/task.h"
#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* ---- Engine tables and plugins ----------------------------------------------------------------- */

/* The table of engine.h (included by whoever calls these; declared here so that trmx.h, which
 * includes this header, need not pull in the engine ABI). */
typedef struct trmx_engine trmx_engine;

/* Check an engine table: a known abi_version, a struct_size that covers at least the fields of
 * ABI 1 up to `close`, the required functions (open, info, solve, close). On success *out (may be
 * NULL) gets the table as this host reads it: fields past the engine's struct_size are NULL.
 * `where` names the engine in messages. Errors: TRMX_EVERSION, each with its own message. */
int trmx_engine_check(const trmx_engine *e, const char *where, trmx_engine *out, trmx_error *err);

typedef struct trmx_plugin trmx_plugin;

/* Load an engine plugin: dlopen(path, RTLD_NOW | RTLD_LOCAL), find `trmx_engine_entry`, call it
 * with TRMX_ENGINE_ABI_VERSION and check the table. Errors: TRMX_ENOTFOUND (no such file),
 * TRMX_EIO (dlopen failed: the loader's message), TRMX_EVERSION (no entry symbol, the entry
 * refused this host, a table of another ABI version or too short, a required function missing). */
int trmx_plugin_open(trmx_plugin **out, const char *path, trmx_error *err);
/* Unload. Every model opened on the plugin's engine must be freed first. */
void trmx_plugin_free(trmx_plugin *p);
/* The checked table (borrowed; lives as long as the plugin) and the file's path. */
const trmx_engine *trmx_plugin_engine(const trmx_plugin *p);
const char *trmx_plugin_path(const trmx_plugin *p);

/* trmx_model_open on a given engine table (a plugin's), checked first. */
int trmx_model_open_engine(trmx_model **out, const trmx_engine *engine, const trmx_config *arch,
			   const trmx_weights *weights, const trmx_model_options *opts, trmx_error *err);

/* ---- The host ------------------------------------------------------------------------------------ */

typedef struct trmx_host trmx_host;

/* Do not write the usage log (runs are still given run ids). */
#define TRMX_HOST_NO_LOG 1u

typedef struct trmx_host_options {
	unsigned int version;
	const char *home;           /* TRMX_HOME; NULL: trmx_home_resolve(NULL) */
	const char *plugin_dir;     /* engine plugins (<dir>/<engine>.so); NULL: $TRMX_PLUGINS if set,
				       else the built-in engines only */
	const char *actor;          /* for registry changes made through trmx_host_registry */
	int max_models;             /* models kept loaded; 0: 8 */
	unsigned int flags;         /* TRMX_HOST_* */
	unsigned int verify_flags;  /* for package files named as targets: TRMX_VERIFY_REQUIRE_SIGNATURE */
	const char *public_key;     /* for package files: a .pub trusted for this host, or NULL */
	bool durable_log;           /* trmx_log_options.durable */
} trmx_host_options;
#define TRMX_HOST_OPTIONS_VERSION 1
#define TRMX_HOST_OPTIONS_INIT { TRMX_HOST_OPTIONS_VERSION, NULL, NULL, NULL, 0, 0, 0, NULL, false }

/* Open a host on a home (the registry is opened at once; the log at the first dispatch). */
int trmx_host_open(trmx_host **out, const trmx_host_options *opts, trmx_error *err);
/* Free the host and every model it holds (leases must be freed first). */
void trmx_host_free(trmx_host *h);
/* The host's registry and home (borrowed). */
trmx_registry *trmx_host_registry(trmx_host *h);
const char *trmx_host_home(const trmx_host *h);
/* The host's log, opened on first use (borrowed). */
int trmx_host_log(trmx_host *h, trmx_log_db **out, trmx_error *err);

/* ---- Dispatch ------------------------------------------------------------------------------------ */

/* Called after every ACT step of a dispatch, with the task to decode or draw the step's answers
 * (borrowed for the call). Return non-zero to stop (the dispatch fails with TRMX_ECANCELLED). */
typedef int (*trmx_host_step_fn)(void *user, trmx_task *task, const trmx_step_view *view);

/* Each text may hold several puzzles (a CSV, one puzzle per line): run them all. Without it, the
 * first puzzle of each text is run (trmx_task_encode). */
#define TRMX_DISPATCH_EACH_PUZZLE 1u
/* Do not log these runs. */
#define TRMX_DISPATCH_NO_LOG 2u
/* Log the runs without the checker's verdict as feedback. */
#define TRMX_DISPATCH_NO_CHECKER_FEEDBACK 4u

typedef struct trmx_dispatch {
	unsigned int version;
	const char *target;        /* a bound context, a TARGET, or the path of a .trmx package
				      (verified against the home's policy, not installed) */
	const char *context;       /* log the runs under this context; with a context as target it
				      must be that context (or NULL) */
	const char *learner;       /* the learner's own id (pseudonymised), or NULL: anonymous, and
				      the main arm of a canary split */
	size_t n;                  /* texts, at most TRMX_DISPATCH_INPUTS_MAX */
	const char *const *texts;
	const size_t *lens;        /* [n], or NULL for NUL-terminated texts */
	const char *const *run_ids;/* [n] UUIDs chosen by the caller (a retry is then no duplicate), or
				      NULL; not with TRMX_DISPATCH_EACH_PUZZLE */
	unsigned int flags;        /* TRMX_DISPATCH_* */
	trmx_halt_mode halt;
	int max_steps;             /* 0: the model's halt_max_steps */
	int batch_size;            /* 0: min(puzzles, 64) */
	trmx_run_kind kind;        /* runs.kind */
	const char *batch_id;      /* runs.batch_id; NULL: one is made when there are several puzzles */
	const trmx_render_options *render; /* also draw the puzzles and answers (NULL: do not) */
	trmx_host_step_fn on_step; /* optional */
	void *user;
} trmx_dispatch;
#define TRMX_DISPATCH_VERSION 1
#define TRMX_DISPATCH_INIT { TRMX_DISPATCH_VERSION, NULL, NULL, NULL, 0, NULL, NULL, NULL, 0, \
			     TRMX_HALT_FIXED, 0, 0, TRMX_RUN_KIND_RUN, NULL, NULL, NULL, NULL }

/* One puzzle's run. Pointers belong to the result. */
typedef struct trmx_run_result {
	char run_id[TRMX_UUID_SIZE];
	size_t text;               /* which text it came from */
	int64_t line;              /* its line in that text (0 when unknown) */
	trmx_run_status status;
	char *error;               /* status ERROR: why (bad input, engine failure); else NULL */
	int seq_len;
	const int32_t *input;      /* [seq_len], NULL when the text could not be encoded */
	const int32_t *answer;     /* [seq_len] */
	const int32_t *label;      /* [seq_len] the answer the text held, or NULL */
	char *input_text;          /* the puzzle, one-line form (the raw text, cut, when it did not encode) */
	char *answer_text;         /* the answer, one-line form; NULL when it has no text */
	char *answer_tokens;       /* the answer's token ids split by spaces */
	char *expected_text;       /* the answer the text held, one-line form, or NULL */
	char *input_render;        /* with dispatch.render: the puzzle drawn */
	char *answer_render;       /* with dispatch.render: the answer drawn (givens apart) */
	int steps;
	float q_halt, q_continue;
	double halt_confidence;    /* sigmoid(q_halt) */
	trmx_halt_reason reason;
	trmx_check check;          /* the codec's verdict (against the label when there is one) */
	bool has_label;
	bool matches_label;        /* every labelled cell right */
	double latency_ms;         /* from the dispatch's start until this answer was ready */
} trmx_run_result;

typedef struct trmx_dispatch_result {
	trmx_resolution resolution;   /* what served: module, version, digest, alias, arm, context */
	char engine[TRMX_MANIFEST_NAME_MAX + 32]; /* "trm 1.0.0" */
	char engine_source[4096];     /* "built-in", or the plugin's path */
	char task_params[TRMX_TASK_PARAM_MAX + 1];
	char learner[TRMX_PSEUDONYM_SIZE]; /* the pseudonym logged, or "" */
	char batch_id[TRMX_UUID_SIZE];     /* "" when none */
	bool loaded;                  /* the model was loaded by this dispatch (not in the cache) */
	bool package_file;            /* the target was a package file */
	size_t n;                     /* puzzles */
	trmx_run_result *runs;
	size_t logged;                /* rows added to the log (runs and feedback) */
	/* where the time went, in milliseconds */
	double resolve_ms, load_ms, encode_ms, compute_ms, check_ms, log_ms, total_ms;
	/* the request's, for its log records */
	trmx_run_kind kind;
	trmx_halt_mode halt;
	int max_steps;
	int64_t time_ms;              /* Unix milliseconds when the dispatch began */
} trmx_dispatch_result;

/* Resolve `req->target`, load (or reuse) its model, run every puzzle in one batch (adaptive
 * halting refills slots as rows halt), check each answer, log a run per puzzle and the checker's
 * verdict (valid: correct, invalid: incorrect; unknown verdicts give no feedback row), and hand
 * back the results in *out (written only on success; free with trmx_dispatch_result_free).
 * A puzzle whose text does not encode is a run with status ERROR, logged too; the call fails only
 * when nothing could be run (the name does not resolve, the model does not load) or the engine
 * fails. Errors: those of trmx_registry_resolve, of loading (trmx_weights_open, the engine, the
 * plugin), TRMX_EINVAL (the request), TRMX_ECANCELLED, and of the log. */
int trmx_host_dispatch(trmx_host *h, const trmx_dispatch *req, trmx_dispatch_result **out,
		       trmx_error *err);
void trmx_dispatch_result_free(trmx_dispatch_result *r);

/* ---- Staged dispatch: a server that runs many requests in shared engine batches --------------- */

/* trmx_host_dispatch in halves: trmx_host_stage resolves the target, loads or reuses its model
 * (held until the staged dispatch is finished or freed) and encodes the texts; the caller solves
 * the rows (in a batch shared with other requests: trmx_model_solve with `feed`) and records each
 * with trmx_staged_set, or fails it with trmx_staged_fail; trmx_host_finish decodes and checks them
 * into a result, as trmx_host_dispatch would, and frees the staged dispatch. It does not log:
 * trmx_dispatch_records makes the records that trmx_host_dispatch writes. The host calls need the
 * host's thread (one at a time); the trmx_staged_* calls may come from the solving thread. The
 * request's strings must live until trmx_host_finish. */
typedef struct trmx_staged trmx_staged;
typedef struct trmx_lease trmx_lease;

int trmx_host_stage(trmx_host *h, const trmx_dispatch *req, trmx_staged **out, trmx_error *err);
/* The rows to solve: the puzzles that encoded, [rows, seq_len] token ids (borrowed). */
size_t trmx_staged_rows(const trmx_staged *st, const int32_t **inputs);
/* Which text of the request row `row` came from. */
size_t trmx_staged_row_text(const trmx_staged *st, size_t row);
/* Borrowed until finished: the model and task, and the result so far (resolution, learner). */
trmx_model *trmx_staged_model(const trmx_staged *st);
trmx_task *trmx_staged_task(const trmx_staged *st);
const trmx_dispatch_result *trmx_staged_result(const trmx_staged *st);
/* Row `row` was solved: its answer pred[seq_len], steps, Q logits, why it halted, and when
 * (trmx_mono_s()). */
void trmx_staged_set(trmx_staged *st, size_t row, const int32_t *pred, int steps, float q_halt, float q_continue,
		     trmx_halt_reason reason, double done_at);
/* Row `row` is not solved: its run is an ERROR with `message` (a deadline that passed). A row
 * neither set nor failed is an ERROR too. */
int trmx_staged_fail(trmx_staged *st, size_t row, const char *message, trmx_error *err);
/* Decode and check into *out (free with trmx_dispatch_result_free); frees st, also on failure. */
int trmx_host_finish(trmx_host *h, trmx_staged *st, trmx_dispatch_result **out, trmx_error *err);
/* Hold the staged dispatch's model beyond it (a server's queue for the model); free the lease
 * on the host's thread. */
int trmx_staged_lease(const trmx_staged *st, trmx_lease **out, trmx_error *err);
/* Abandon a staged dispatch (releases its model). */
void trmx_staged_free(trmx_staged *st);
/* The log records of a result: a run per puzzle in recs[r->n] and the checker's verdicts in
 * fbs[*nf] (unless `flags` has TRMX_DISPATCH_NO_CHECKER_FEEDBACK), pointing into r; free both. */
int trmx_dispatch_records(const trmx_dispatch_result *r, unsigned flags, trmx_run_record **recs,
			  trmx_feedback_record **fbs, size_t *nf, trmx_error *err);

/* ---- Leases: a model for callers that drive it themselves (evaluations) ------------------------ */

/* Resolve `target` (a context, a TARGET or a package file) for `learner` (a raw id or NULL) and
 * hold its model until the lease is freed: the one way to open a model source under the home's
 * policy (a package file is verified as install would: sizes, SHA-256s, the signature). */
int trmx_host_acquire(trmx_host *h, const char *target, const char *learner, trmx_lease **out,
		      trmx_error *err);
void trmx_lease_free(trmx_lease *l);
/* Borrowed from the lease. */
trmx_model *trmx_lease_model(const trmx_lease *l);
trmx_task *trmx_lease_task(const trmx_lease *l);
const trmx_resolution *trmx_lease_resolution(const trmx_lease *l);
const char *trmx_lease_engine(const trmx_lease *l);       /* "trm 1.0.0" */
const char *trmx_lease_learner(const trmx_lease *l);      /* the pseudonym, or NULL */
const char *trmx_lease_task_params(const trmx_lease *l);  /* "size=4" */
const trmx_manifest *trmx_lease_manifest(const trmx_lease *l); /* the module's manifest */
/* The weights file the model was loaded from: in the store, or in the host's unpacked copy of a
 * package file (which lives as long as the lease). */
const char *trmx_lease_weights_path(const trmx_lease *l);

/* ---- Evaluations on a lease, logged (`trmx eval TARGET`) ------------------------------------- */

typedef struct trmx_host_eval_options {
	unsigned int version;
	trmx_eval_options eval; /* halting, steps, batch, limit, progress (trmx/eval.h) */
	const char *context;    /* the runs' context; NULL: the lease's resolution's, if any */
	const char *batch_id;   /* the batch's UUID: the same evaluation run again (after a crash) gives
				   the same one, and logs each run and verdict once; NULL: a new UUIDv7 */
} trmx_host_eval_options;
#define TRMX_HOST_EVAL_OPTIONS_VERSION 1
#define TRMX_HOST_EVAL_OPTIONS_INIT { TRMX_HOST_EVAL_OPTIONS_VERSION, TRMX_EVAL_OPTIONS_INIT, NULL, NULL }

/* Evaluate data set `ds` on the lease's model and task (trmx_eval_run) and log every item as a run
 * of kind EVAL in one batch, with the checker's verdict and the data set's expected answer as
 * feedback, in transactions of 256 runs; item k's run id is derived from the batch id, the
 * package's digest and k, its verdicts' ids from the run's (the records are those dispatch
 * writes: one helper makes both), so a retry logs nothing twice. With TRMX_HOST_NO_LOG nothing is
 * logged. batch_id (may be NULL) gets the batch's id, *logged (may be NULL) the rows newly
 * written (runs and feedback: 0 for a retry of a finished evaluation). Errors: those of
 * trmx_eval_run and of the log (the transactions committed before a failure stay logged). */
int trmx_host_eval(trmx_host *h, const trmx_lease *lease, const trmx_dataset *ds, const trmx_host_eval_options *opts,
		   trmx_eval_result *out, char batch_id[TRMX_UUID_SIZE], int64_t *logged, trmx_error *err);

/* ---- Module databases ---------------------------------------------------------------------------- */

/* Run one SQL statement in `module`'s own database (HOME/data/<module>.db) under the module
 * authorizer (its own tables and views only), with `params` bound as text to ?1.. (NULL
 * entries bind NULL): how a course server, an engine's host code or a codec's writes its
 * per-run rows. Errors: TRMX_ENOTFOUND (no such module), TRMX_EFORMAT (the statement is not
 * allowed or malformed), TRMX_EIO. */
int trmx_host_module_exec(trmx_host *h, const char *module, const char *sql,
			  const char *const *params, size_t nparams, trmx_error *err);

/* ---- Introspection ------------------------------------------------------------------------------- */

typedef struct trmx_host_stats {
	int64_t generation;       /* of the registry, as last seen */
	size_t models;            /* models loaded now */
	size_t plugins;           /* plugins loaded now */
	uint64_t dispatches, loads, releases, hits;
} trmx_host_stats;
void trmx_host_stats_get(const trmx_host *h, trmx_host_stats *out);
/* Is the package with `digest` loaded? */
bool trmx_host_holds(const trmx_host *h, const char *digest);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
