/*
 * trmx/engine.h — the engine plugin ABI.
 *
 * An engine (trm, hrm, ...) is a table of functions. A plugin exports one symbol,
 * `trmx_engine_entry`, which takes the host's ABI version and returns the table (or NULL when it
 * cannot serve that host). The table begins with {abi_version, struct_size} and only ever grows
 * at its end: a host refuses a table whose abi_version it does not know or whose struct_size is
 * smaller than the fields it needs. Every call reports failure through a per-call trmx_error;
 * nothing is global. Engines receive the architecture as key/value strings (the official config
 * key names) and read tensors through the host's services, so the ABI carries no engine-specific
 * struct. See docs/ABI.md.
 */
#ifndef TRMX_ENGINE_H
#define TRMX_ENGINE_H

#include <stdint.h>

#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

#define TRMX_ENGINE_ABI_VERSION 1

typedef struct trmx_kv {
	const char *key;
	const char *value;
} trmx_kv;

/* What the host lends an engine for the lifetime of an opened model. */
typedef struct trmx_host_services {
	uint32_t abi_version; /* TRMX_ENGINE_ABI_VERSION of the host */
	uint32_t struct_size; /* sizeof(trmx_host_services) of the host */
	void *host;           /* opaque, passed back to the callbacks */
	/* Diagnostics (may be NULL). */
	void (*log)(void *host, trmx_diag_level level, const char *message);
	/* A tensor by official state-dict name (with or without "model.inner."), NULL when absent.
	 * The view lives as long as the model. */
	const trmx_tensor_view *(*tensor_find)(void *host, const char *name);
	/* Kernel threads the engine should use. */
	int threads;
} trmx_host_services;

typedef struct trmx_engine_open_args {
	uint32_t struct_size;
	const trmx_kv *arch; /* architecture, official key names */
	size_t n_arch;
	const trmx_host_services *host;
	uint32_t flags;      /* TRMX_ENGINE_OPEN_* */
} trmx_engine_open_args;

/* Open without weights: the engine's tensors are set later by train_begin + init_weights. */
#define TRMX_ENGINE_OPEN_NO_WEIGHTS 1u

/* ---- Training (optional) ------------------------------------------------------------------
 * An engine that trains keeps every persistent tensor in one float buffer `params`, trainable
 * tensors first, so the host's optimizer is one loop over [0, n_trainable) of params, grads and
 * its moments. The puzzle-embedding table is apart (it is updated sparsely, by sign-SGD on the
 * rows a batch used). Training runs the official ACT semantics: a carry of (zH, zL, steps,
 * halted, current data) per batch row, rows that halted take new data at the next step. */

/* A tensor inside `params`. */
typedef struct trmx_param_view {
	const char *name;  /* official short name ("lm_head.weight") */
	int ndim;
	int64_t shape[2];
	size_t offset;     /* floats from the start of params */
	size_t numel;
	int trainable;     /* 1: optimised; 0: a buffer (H_init, L_init) */
} trmx_param_view;

/* What train_begin hands the host; every pointer is the engine's and lives until close. */
typedef struct trmx_train_state {
	int batch, seq_len, vocab_size, halt_max_steps;
	float *params;                /* [n_params] */
	size_t n_params, n_trainable; /* trainable tensors are params[0, n_trainable) */
	float *grads;                 /* [n_trainable], written by every train_step */
	const trmx_param_view *views;
	size_t n_views;
	float *puzzle_table;          /* [puzzle_rows, puzzle_dim], or NULL */
	int64_t puzzle_rows;
	int puzzle_dim;
	float *puzzle_grads;          /* [batch, puzzle_dim]: the gradient of each row's puzzle vector */
	/* the carry, for checkpoints: restore it by writing these before the next train_step */
	float *carry;                 /* zH then zL of every row */
	size_t carry_floats;
	int32_t *carry_steps;         /* [batch] */
	uint8_t *carry_halted;        /* [batch]; all 1 after train_begin */
	int32_t *carry_inputs, *carry_labels; /* [batch, seq_len] */
	int32_t *carry_puzzle_ids;    /* [batch] */
} trmx_train_state;

/* Data for one training step: rows that halted at the previous step take row r of these. */
typedef struct trmx_train_batch {
	uint32_t struct_size;
	const int32_t *inputs;        /* [batch, seq_len] */
	const int32_t *labels;        /* [batch, seq_len]; -100 = not supervised */
	const int32_t *puzzle_ids;    /* [batch] or NULL (all 0) */
	const float *explore_u;       /* [batch] uniform in [0,1), or NULL for no exploration */
	const int32_t *explore_steps; /* [batch] minimum steps when explore_u < explore_prob */
	float explore_prob;
	float loss_divisor;           /* gradients are of loss / loss_divisor (the global batch size) */
	int act_halting;              /* 1: also halt on q_halt > 0 (training ACT); 0: only at the max */
} trmx_train_batch;

/* Results of one step; per-row arrays are the engine's, valid until the next call. */
typedef struct trmx_train_result {
	double loss;                  /* lm_loss + 0.5 * q_halt_loss, summed over rows */
	double lm_loss, q_halt_loss;
	const uint8_t *fresh;         /* [batch] the row took new data at this step */
	const uint8_t *halted;        /* [batch] the row halts after this step */
	const uint8_t *correct;       /* [batch] every supervised token right */
	const int32_t *steps;         /* [batch] the row's ACT steps so far */
	const int32_t *tokens_right, *tokens_supervised; /* [batch] */
	const float *q_halt;          /* [batch] */
} trmx_train_result;

typedef struct trmx_engine {
	uint32_t abi_version; /* TRMX_ENGINE_ABI_VERSION the engine was built for */
	uint32_t struct_size; /* sizeof(trmx_engine) of the engine */
	const char *name;     /* "trm" */
	const char *version;  /* engine version, SemVer */
	/* Validate the architecture and every tensor; build the engine state. */
	int (*open)(void **state, const trmx_engine_open_args *args, trmx_error *err);
	void (*info)(void *state, trmx_model_info *out);
	/* Run the recursion (see trmx_model_solve in trmx.h). */
	int (*solve)(void *state, const trmx_solve_request *req, trmx_error *err);
	void (*close)(void *state);
	/* Training (NULL when the engine does not train). train_begin makes the model trainable for
	 * `batch` rows (weights copied into its params buffer); init_weights fills params and the
	 * puzzle table with the architecture's official initialisation from `seed`; train_step runs
	 * one ACT step of training and writes the gradients. */
	int (*train_begin)(void *state, int batch, trmx_train_state *out, trmx_error *err);
	int (*init_weights)(void *state, uint64_t seed, trmx_error *err);
	int (*train_step)(void *state, const trmx_train_batch *batch, trmx_train_result *out, trmx_error *err);
	/* TRMX_ENGINE_* (0 in a table that ends before this field). */
	uint32_t flags;
} trmx_engine;

/* solve takes solve requests of version 2 with `feed` (continuous feeding across callers); an
 * engine without it is only ever given version-1 requests. */
#define TRMX_ENGINE_FEED 1u

typedef const trmx_engine *(*trmx_engine_entry_fn)(uint32_t host_abi_version);

/* The engines linked into libtrmx. */
const trmx_engine *trmx_trm_engine_entry(uint32_t host_abi_version);
const trmx_engine *trmx_hrm_engine_entry(uint32_t host_abi_version);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
