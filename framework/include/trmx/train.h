/*
 * trmx/train.h — training a model with trmx itself: the official TRM training step (deep
 * supervision, stable-max cross entropy, the Q-halt loss, training-time ACT with row refills),
 * AdamATan2 or AdamW with warm-up and cosine decay, EMA of the weights, sign-SGD for the puzzle
 * embeddings, exact checkpoints.
 *
 *     trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
 *     o.batch_size = 32; o.lr = 1e-3; o.total_steps = 5000;
 *     trmx_trainer *t;
 *     trmx_trainer_new(&t, "trm", arch, NULL, &o, &err);          // NULL: official initialisation
 *     for (...) trmx_trainer_step(t, fill_row, data, &metrics, &err);  // fill_row gives data to rows that halted
 *     trmx_trainer_write_weights(t, true, "weights.safetensors", &err); // the EMA weights
 *
 * A trainer owns its model; trmx_trainer_model() lends it for evaluation (it computes with the
 * current weights, or the EMA weights while trmx_trainer_use_ema(t, true) is on).
 */
#ifndef TRMX_TRAIN_H
#define TRMX_TRAIN_H

#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

typedef struct trmx_trainer trmx_trainer;

typedef enum trmx_optimizer {
	TRMX_OPTIMIZER_ADAM_ATAN2 = 0, /* the official optimizer (no epsilon), docs/TRAINING.md */
	TRMX_OPTIMIZER_ADAMW
} trmx_optimizer;

typedef enum trmx_ema_mode {
	TRMX_EMA_OFF = 0,
	TRMX_EMA_OFFICIAL, /* shadow <- (1 - rate) param + rate shadow, shadow starting at the init */
	TRMX_EMA_WARMUP    /* the same with rate_t = min(rate, (1 + t) / (10 + t)): short runs do not
			      keep the random initialisation in the exported weights */
} trmx_ema_mode;

typedef struct trmx_trainer_options {
	unsigned int version;
	int batch_size;              /* rows per step */
	double global_batch_size;    /* loss divisor; 0 means batch_size */
	trmx_optimizer optimizer;
	double lr, lr_min_ratio;     /* base learning rate; cosine floor as a ratio (1: constant) */
	long warmup_steps, total_steps;
	double beta1, beta2, weight_decay, adamw_eps;
	double puzzle_emb_lr, puzzle_emb_weight_decay;
	trmx_ema_mode ema;
	double ema_rate;
	double halt_exploration_prob;
	int act_halting;             /* 1: rows also halt when q_halt > 0 (the official training ACT) */
	uint64_t seed;               /* initialisation and exploration */
	int lr_cycles;               /* cosine cycles over total_steps (warm restarts); 1: one decay */
} trmx_trainer_options;
#define TRMX_TRAINER_OPTIONS_VERSION 1
#define TRMX_TRAINER_OPTIONS_INIT                                                                   \
	{ TRMX_TRAINER_OPTIONS_VERSION, 32, 0, TRMX_OPTIMIZER_ADAM_ATAN2, 1e-4, 1.0, 2000, 100000, 0.9,  \
	  0.95, 0.1, 1e-8, 1e-2, 0.1, TRMX_EMA_WARMUP, 0.999, 0.1, 1, 0, 1 }

/* Give batch row `row` new data: input and label ids ([seq_len] each; label -100 = not
 * supervised) and its puzzle id. Return 0, or a negative code with `err` filled to stop. */
typedef int (*trmx_train_fill_fn)(void *user, int row, int32_t *input, int32_t *label, int32_t *puzzle_id,
				  trmx_error *err);

/* What one step did, over the rows that halted at this step (the official metrics). */
typedef struct trmx_train_metrics {
	long step;
	double lr;
	double loss, lm_loss, q_halt_loss; /* summed over all rows, not divided */
	int rows, fresh_rows, halted_rows;
	int exact;                 /* halted rows with every supervised token right */
	double token_accuracy;     /* mean over halted rows of right / supervised tokens */
	double mean_steps;         /* mean ACT steps of the halted rows */
	int q_halt_right;          /* halted rows where (q_halt >= 0) == exact */
	const uint8_t *row_halted; /* [rows] the row halts after this step (valid until the next step) */
	const float *row_q_halt;   /* [rows] its q_halt logit */
} trmx_train_metrics;

/* A trainer for engine `engine` on `arch`, starting from `init` (copied; may be freed after this
 * call) or, when NULL, from the official initialisation drawn from opts->seed. Errors: those of
 * trmx_model_open, TRMX_EINVAL (options), TRMX_ENOTFOUND (an engine that does not train). */
int trmx_trainer_new(trmx_trainer **out, const char *engine, const trmx_config *arch, const trmx_weights *init,
		     const trmx_trainer_options *opts, trmx_error *err);
void trmx_trainer_free(trmx_trainer *t);

/* One optimizer step: rows that halted at the previous step get new data from `fill`, one ACT
 * step of training runs on the batch, then the optimizer, sign-SGD and EMA updates. */
int trmx_trainer_step(trmx_trainer *t, trmx_train_fill_fn fill, void *user, trmx_train_metrics *out,
		      trmx_error *err);

/* Forward and backward of one training step on the given batch from the current carry (the initial
 * state for a new trainer), without updating the weights: the gradients are then available to
 * trmx_trainer_write_grads. `loss` receives the unscaled total loss. */
int trmx_trainer_compute(trmx_trainer *t, const int32_t *inputs, const int32_t *labels,
			 const int32_t *puzzle_ids, double *loss, trmx_error *err);

/* The gradient of loss / global_batch_size of every trainable tensor under its official name
 * ("model.inner.lm_head.weight"), and of the batch rows' puzzle vectors as
 * "model.inner.puzzle_emb.local_weights" [batch, ndim], as the official code names that leaf. */
int trmx_trainer_write_grads(const trmx_trainer *t, const char *path, trmx_error *err);

/* The weights (the EMA ones when `ema` and EMA is on) under their official names, with the
 * architecture in the metadata, ready for trmx_weights_open / trmx forward / packaging. */
int trmx_trainer_write_weights(trmx_trainer *t, bool ema, const char *path, trmx_error *err);

/* Checkpoints: weights, optimizer moments, EMA, puzzle table, the carry, the step and the random
 * state, so a resumed run reaches bit for bit the weights of an uninterrupted one. `extra` (may be
 * NULL) is stored alongside for the caller (its data source's state); load returns it in
 * `*extra_out` (caller frees) when non-NULL. */
int trmx_trainer_save(const trmx_trainer *t, const char *path, const trmx_config *extra, trmx_error *err);
int trmx_trainer_load(trmx_trainer *t, const char *path, trmx_config **extra_out, trmx_error *err);

/* The model being trained (borrowed). */
trmx_model *trmx_trainer_model(trmx_trainer *t);
/* Swap the EMA weights in (on) or back out (off) for evaluation; steps are refused while on. */
int trmx_trainer_use_ema(trmx_trainer *t, bool on, trmx_error *err);
/* Optimizer steps taken so far. */
long trmx_trainer_steps(const trmx_trainer *t);

/* ---- Training runs from a config file (docs/TRAINING.md) ---------------------------------- */

typedef enum trmx_train_event {
	TRMX_TRAIN_EVENT_INFO = 0,   /* a line of setup information in `message` */
	TRMX_TRAIN_EVENT_LOG,        /* training figures averaged since the last LOG */
	TRMX_TRAIN_EVENT_EVAL,       /* a held-out evaluation (fixed and adaptive halting) */
	TRMX_TRAIN_EVENT_CHECKPOINT, /* a checkpoint was written to `message` */
	TRMX_TRAIN_EVENT_DONE        /* the run ended; `message` names the weights written */
} trmx_train_event;

typedef struct trmx_train_progress {
	trmx_train_event event;
	long step, total_steps;
	double elapsed, steps_per_second, eta_seconds;
	double lr, loss;          /* LOG: mean loss per row */
	double exact, token_accuracy, mean_steps; /* LOG: over rows that halted */
	const void *eval_fixed, *eval_adaptive;   /* EVAL: const trmx_eval_result * (eval.h) */
	const char *message;
} trmx_train_progress;

typedef void (*trmx_train_progress_fn)(void *user, const trmx_train_progress *p);

typedef struct trmx_train_run_options {
	unsigned int version;
	const char *out_dir;      /* NULL: the config's `out` (relative to the config's folder) */
	int resume;               /* continue from out_dir/checkpoint.safetensors */
	const char *init;         /* start from these weights instead of the official initialisation */
	long steps;               /* > 0: override train.steps */
	trmx_train_progress_fn progress;
	void *user;
	/* Fine-tuning from a module (version 2): the parent's manifest (borrowed for the call), whose
	 * architecture, engine and task are used where the config gives none (config keys win, key by
	 * key), and the parent package's SHA-256, written as the lineage `training.base` into
	 * metrics.yaml. Both NULL: a training from the config alone. */
	const trmx_manifest *init_manifest;
	const char *init_digest;
} trmx_train_run_options;
#define TRMX_TRAIN_RUN_OPTIONS_VERSION 2
#define TRMX_TRAIN_RUN_OPTIONS_INIT { TRMX_TRAIN_RUN_OPTIONS_VERSION, NULL, 0, NULL, 0, NULL, NULL, NULL, NULL }

/* Run the training that `config_path` describes to its end: data, optimizer, held-out evaluations,
 * checkpoints, and finally out_dir/weights.safetensors (the EMA weights, official names, the
 * architecture in the metadata), out_dir/metrics.yaml (provenance and held-out figures, for the
 * package manifest) and out_dir/curve.csv (the learning curve). Errors: the config's (with the
 * key at fault), the data's, the trainer's; TRMX_EIO for the outputs. */
int trmx_train_run(const char *config_path, const trmx_train_run_options *opts, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
