/*
 * trmx.h — the host API of trmx, the interchange framework for tiny recursive reasoning models.
 *
 * Tutorial
 * --------
 * A Tiny Recursive Model (TRM) refines an answer y and a latent z again and again with one small
 * network. trmx runs such models on the CPU. The shortest way through the API:
 *
 *     trmx_error err;
 *     trmx_weights *w = NULL;
 *     trmx_config *arch = NULL;
 *     trmx_model *m = NULL;
 *
 *     trmx_weights_open(&w, "weights.safetensors", &err);     // mmap, validated
 *     trmx_config_from_metadata(&arch, w, &err);               // or trmx_config_load_yaml
 *     trmx_model_open(&m, "trm", arch, w, NULL, &err);         // checks every tensor
 *
 *     int32_t tokens[81] = {...};                              // one 9x9 Sudoku, official ids
 *     int32_t preds[81], steps;
 *     trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
 *     req.n = 1; req.inputs = tokens; req.preds = preds; req.steps = &steps;
 *     req.halt = TRMX_HALT_ADAPTIVE;
 *     trmx_model_solve(m, &req, &err);                         // ACT steps until the Q head halts
 *
 *     trmx_model_free(m); trmx_config_free(arch); trmx_weights_free(w);
 *
 * Every fallible call returns 0 or a negative TRMX_E* code (types.h) and fills the caller's
 * `trmx_error` (which may be NULL) with a message naming what was wrong.
 *
 * Ownership: results returned through `**out` belong to the caller and are freed with the
 * matching `_free`; every `_free(NULL)` is a no-op. `const` pointers returned by the library are
 * borrowed and live as long as the object they came from. The library never prints and never
 * exits; diagnostics go to the callback set with trmx_diag_set.
 */
#ifndef TRMX_H
#define TRMX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/limits.h"
#include "trmx/types.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

#define TRMX_VERSION "0.1.0"

/* The version of the library actually linked (TRMX_VERSION is the headers'): a static string. */
const char *trmx_version(void);

/* ---- Diagnostics ------------------------------------------------------------------------- */

typedef void (*trmx_diag_fn)(trmx_diag_level level, const char *message, void *user);

/* Route the library's diagnostics to `fn` (NULL: drop them). Not thread-safe against trmx_diag. */
void trmx_diag_set(trmx_diag_fn fn, void *user);

/* ---- Threads ----------------------------------------------------------------------------- */

/* Threads used by kernels (default: the number of online CPUs, or OMP_NUM_THREADS). Every kernel
 * thread runs with flush-to-zero and denormals-are-zero set; the caller's own floating-point
 * mode is restored when a call returns. */
void trmx_set_threads(int n);
int trmx_get_threads(void);

/* Operand precision of the matrix products, process-wide like the threads (set it before solving
 * or training, not during). TRMX_MATMUL_FP32 is the default; TRMX_MATMUL_BF16 rounds both operands
 * of every product to bfloat16 and accumulates in fp32 — weights, gradients and everything outside
 * the products stay fp32 (docs/PERFORMANCE.md). It needs AVX-512 BF16: trmx_set_matmul returns
 * TRMX_EINVAL and changes nothing where trmx_matmul_available says no. */
typedef enum { TRMX_MATMUL_FP32 = 0, TRMX_MATMUL_BF16 = 1 } trmx_matmul;
bool trmx_matmul_available(trmx_matmul mode);
int trmx_set_matmul(trmx_matmul mode);
trmx_matmul trmx_get_matmul(void);

/* ---- Weights: safetensors files ---------------------------------------------------------- */

typedef struct trmx_weights trmx_weights;

/* Map and validate a safetensors file: header size and JSON (UTF-8, well-formed, within the
 * limits of limits.h), every dtype known, every shape's byte size equal to its offsets, offsets
 * inside the data area and not overlapping. Names keep the file's spelling; lookups strip a
 * leading "_orig_mod." (torch.compile). Errors: TRMX_ENOTFOUND, TRMX_EIO, TRMX_EFORMAT,
 * TRMX_ELIMIT, TRMX_EDTYPE, TRMX_ENOMEM. */
int trmx_weights_open(trmx_weights **out, const char *path, trmx_error *err);
void trmx_weights_free(trmx_weights *w);

/* Number of tensors, and the i-th one in file order (borrowed view). */
size_t trmx_weights_count(const trmx_weights *w);
const trmx_tensor_view *trmx_weights_at(const trmx_weights *w, size_t i);

/* Find a tensor by its official state-dict name ("model.inner.lm_head.weight" or the short
 * "lm_head.weight"): a file name matches when, after stripping "_orig_mod." and then
 * "model.inner.", it equals `name` after the same stripping. NULL when absent. */
const trmx_tensor_view *trmx_weights_find(const trmx_weights *w, const char *name);

/* __metadata__ entries: count, i-th key and value (borrowed), and lookup by key (NULL when absent). */
size_t trmx_weights_metadata_count(const trmx_weights *w);
void trmx_weights_metadata_at(const trmx_weights *w, size_t i, const char **key, const char **value);
const char *trmx_weights_metadata(const trmx_weights *w, const char *key);

/* Writing: collect named tensors (the data is copied at add time), then write the file
 * atomically (temporary file, fsync, rename). Tensors are written in the order added, back to
 * back (the format allows no gaps); the header is padded with spaces so the data area starts at
 * a multiple of 8 bytes. */
typedef struct trmx_weights_writer trmx_weights_writer;
int trmx_weights_writer_new(trmx_weights_writer **out, trmx_error *err);
int trmx_weights_writer_add(trmx_weights_writer *wr, const char *name, trmx_dtype dtype, int ndim,
			    const int64_t *shape, const void *data, trmx_error *err);
int trmx_weights_writer_set_metadata(trmx_weights_writer *wr, const char *key, const char *value,
				     trmx_error *err);
int trmx_weights_writer_write(trmx_weights_writer *wr, const char *path, trmx_error *err);
void trmx_weights_writer_free(trmx_weights_writer *wr);

/* ---- Arrays: NumPy .npy files ------------------------------------------------------------ */

/* An owned dense array in C order. */
typedef struct trmx_array {
	trmx_dtype dtype;
	int ndim;
	int64_t shape[TRMX_MAX_DIMS];
	void *data;
	size_t nbytes;
} trmx_array;

/* Read a .npy file (format 1.0-3.0, little-endian, C order; dtypes f4 f8 f2 i1 u1 i2 i4 i8 b1)
 * into a freshly allocated array. Errors: TRMX_ENOTFOUND, TRMX_EIO, TRMX_EFORMAT (with what and
 * where), TRMX_ELIMIT, TRMX_EDTYPE (big-endian, Fortran order, object arrays), TRMX_ENOMEM. */
int trmx_array_read_npy(trmx_array **out, const char *path, trmx_error *err);
/* Write `a` as .npy version 1.0 atomically. */
int trmx_array_write_npy(const trmx_array *a, const char *path, trmx_error *err);
/* Allocate a zeroed array. */
int trmx_array_new(trmx_array **out, trmx_dtype dtype, int ndim, const int64_t *shape, trmx_error *err);
/* Number of elements. */
int64_t trmx_array_numel(const trmx_array *a);
void trmx_array_free(trmx_array *a);

/* ---- Architecture config: ordered key/value strings -------------------------------------- */

typedef struct trmx_config trmx_config;

int trmx_config_new(trmx_config **out, trmx_error *err);
/* Load a YAML mapping of scalars. When the top-level mapping has an `arch` or `architecture`
 * key holding a mapping (an official all_config.yaml, a trmx manifest), that mapping is read.
 * Nested mappings are kept as dotted keys ("loss.name"); sequences are refused. A value of the
 * form ${.key} (OmegaConf's sibling interpolation, as in the official trm.yaml) is resolved.
 * Errors carry file, line and column: TRMX_ENOTFOUND, TRMX_EIO, TRMX_EFORMAT, TRMX_ELIMIT. */
int trmx_config_load_yaml(trmx_config **out, const char *path, trmx_error *err);
/* The same reader for a whole document (a training config): every key, nested ones dotted
 * ("train.lr"), with no special meaning for `arch`. */
int trmx_config_load_yaml_all(trmx_config **out, const char *path, trmx_error *err);
/* Every __metadata__ entry of a weights file. */
int trmx_config_from_metadata(trmx_config **out, const trmx_weights *w, trmx_error *err);
/* The engine an architecture is for, read from the official config's `name` key: "hrm" for
 * HRM's ("hrm.hrm_act_v1@HierarchicalReasoningModel_ACTV1"), else "trm". Borrowed, static. */
const char *trmx_config_engine(const trmx_config *c);
/* Set (replace or append) a key. */
int trmx_config_set(trmx_config *c, const char *key, const char *value, trmx_error *err);
/* Value of `key` (borrowed), NULL when absent. */
const char *trmx_config_get(const trmx_config *c, const char *key);
size_t trmx_config_count(const trmx_config *c);
void trmx_config_at(const trmx_config *c, size_t i, const char **key, const char **value);
void trmx_config_free(trmx_config *c);

/* ---- Models: an engine opened on an architecture and weights ----------------------------- */

typedef struct trmx_model trmx_model;

typedef enum trmx_halt_mode {
	TRMX_HALT_FIXED = 0, /* every row runs max_steps ACT steps (the official evaluation) */
	TRMX_HALT_ADAPTIVE   /* a row stops when its halt margin exceeds the threshold (0 unless the
				request sets one: q_halt > 0 for TRM, q_halt > q_continue for HRM), at
				max_steps, or when the budget ends */
} trmx_halt_mode;

/* Why a row stopped. */
typedef enum trmx_halt_reason {
	TRMX_HALT_REASON_MAX_STEPS = 0, /* ran the model's halt_max_steps */
	TRMX_HALT_REASON_Q,             /* the Q head said halt (adaptive mode) */
	TRMX_HALT_REASON_BUDGET         /* the caller's step budget (max_steps < halt_max_steps) */
} trmx_halt_reason;

typedef struct trmx_model_info {
	const char *engine;            /* "trm" */
	int seq_len, vocab_size, num_puzzle_identifiers, halt_max_steps;
	int64_t num_params;            /* trainable parameters (excludes the puzzle-embedding table) */
	int64_t puzzle_emb_params;     /* rows x ndim of the puzzle-embedding table */
	double flops_per_step;         /* multiply-adds x 2 per sequence per ACT step */
} trmx_model_info;

typedef struct trmx_model_options {
	unsigned int version;
	int reserved;
} trmx_model_options;
#define TRMX_MODEL_OPTIONS_VERSION 1
#define TRMX_MODEL_OPTIONS_INIT { TRMX_MODEL_OPTIONS_VERSION, 0 }

/* Open engine `engine` ("trm") on architecture `arch` and `weights`. Every needed tensor must be
 * present with the dtype (F32, BF16 or F16; converted to F32) and shape the architecture asks;
 * an error names the tensor and what was expected. `weights` must outlive the model (F32 tensors
 * are used in place from the mapping). Errors: TRMX_EINVAL (architecture), TRMX_ENOTFOUND,
 * TRMX_ESHAPE, TRMX_EDTYPE, TRMX_ENOMEM. */
int trmx_model_open(trmx_model **out, const char *engine, const trmx_config *arch,
		    const trmx_weights *weights, const trmx_model_options *opts, trmx_error *err);
void trmx_model_free(trmx_model *m);
void trmx_model_info_get(const trmx_model *m, trmx_model_info *out);

/* What the engine shows the caller after every ACT step of a batch. Rows are batch slots: under
 * continuous batching a slot holds different inputs over time (`input_index`). All arrays are
 * borrowed and valid during the callback only. */
typedef struct trmx_step_view {
	int rows;                   /* active slots in this step */
	int seq_len, vocab_size;
	const int64_t *input_index; /* [rows] which input each slot holds */
	const int32_t *row_step;    /* [rows] that row's ACT step, 1-based */
	const uint8_t *halted;      /* [rows] 1 when the row stops after this step */
	const float *logits;        /* [rows, seq_len, vocab_size] */
	const float *q_halt;        /* [rows] */
	const float *q_continue;    /* [rows] */
	const int32_t *preds;       /* [rows, seq_len] argmax of logits, first maximum */
} trmx_step_view;

/* Return 0 to go on, non-zero to stop the solve (it then fails with TRMX_ECANCELLED). */
typedef int (*trmx_step_fn)(void *user, const trmx_step_view *view);

/* Continuous feeding (request version 2), for a server whose puzzles arrive while a batch runs:
 * before every ACT step the engine fills each free slot by calling `feed`, and it hands every
 * row that halts to `done`; the solve returns once no row is active and `feed` has none. */
typedef struct trmx_feed_row {
	int64_t index;              /* the caller's id of the row: step views' input_index, done's */
	int32_t puzzle_id;          /* a row of the puzzle table (0 without one) */
	int max_steps;              /* 0: the request's max_steps */
	trmx_halt_mode halt;
} trmx_feed_row;
/* Write the next input's seq_len token ids into `input` and its row into *row and return 1, or
 * return 0 when none is waiting now. */
typedef int (*trmx_feed_fn)(void *user, int32_t *input, trmx_feed_row *row);
/* Row `index` halted after `steps` steps with answer pred[seq_len] (borrowed for the call). */
typedef void (*trmx_done_fn)(void *user, int64_t index, const int32_t *pred, int steps, float q_halt,
			     float q_continue, trmx_halt_reason reason);

typedef struct trmx_solve_request {
	unsigned int version;
	size_t n;                   /* inputs */
	const int32_t *inputs;      /* [n, seq_len] token ids in [0, vocab_size) */
	const int32_t *puzzle_ids;  /* [n] rows of the puzzle table, or NULL for all 0 */
	int batch_size;             /* slots run together; 0 means min(n, 64) */
	int max_steps;              /* 0: halt_max_steps; else the step count (fixed) or the cap (adaptive) */
	trmx_halt_mode halt;
	trmx_step_fn on_step;       /* optional */
	void *user;
	/* Outputs, each optional (NULL), sized by the caller. */
	int32_t *preds;             /* [n, seq_len] the answer after the row's last step */
	int32_t *steps;             /* [n] ACT steps the row ran */
	float *q_halt;              /* [n] q_halt logit at the last step */
	float *q_continue;          /* [n] */
	uint8_t *reason;            /* [n] trmx_halt_reason */
	/* Version 2. With `feed` the inputs come from it (n, inputs, puzzle_ids and the outputs above
	 * are not read) and each result goes to `done`; batch_size 0 then means 64. */
	trmx_feed_fn feed;
	trmx_done_fn done;
	/* Version 3. Adaptive halting stops a row once its halt margin (the built-in engines: q_halt
	 * for TRM, q_halt - q_continue for HRM) is above this logit; 0 is the official rule, a
	 * larger value halts later (the module's manifest may name one, docs/FORMAT.md). Finite. */
	float halt_threshold;
} trmx_solve_request;
#define TRMX_SOLVE_REQUEST_VERSION 3
#define TRMX_SOLVE_REQUEST_INIT                                                                                             \
	{                                                                                                                   \
		TRMX_SOLVE_REQUEST_VERSION, 0, NULL, NULL, 0, 0, TRMX_HALT_FIXED, NULL, NULL, NULL, NULL, NULL, NULL, NULL, \
			NULL, NULL, 0.0f                                                                                    \
	}

/* Run the recursion on `req->n` inputs (or what `feed` gives), `batch_size` at a time. A halted
 * row's slot is refilled with the next input at once (continuous batching). Workspaces are sized
 * once per call; nothing is allocated inside the recursion. An engine that does not take feeding
 * (engine.h, TRMX_ENGINE_FEED) is fed in rounds: up to batch_size inputs a solve. Errors:
 * TRMX_EINVAL (token or puzzle id out of range, bad option), TRMX_ENOMEM, TRMX_ECANCELLED. */
int trmx_model_solve(trmx_model *m, const trmx_solve_request *req, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#include "trmx/package.h"

#endif
