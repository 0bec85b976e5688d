/*
 * trmx/eval.h — evaluating a model on a data set: exact solves, token accuracy over every labelled
 * position and over the positions the puzzle left open, the checker's verdicts, the ACT steps the
 * rows used, exact solves as a function of the step cap, and throughput. A callback sees every
 * item (its input, answer, label, steps, Q logits and verdict) so a caller can log them.
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_task *t = NULL;
 *     trmx_dataset *ds = NULL;
 *     trmx_task_open(&t, "sudoku", "size=9", &err);
 *     trmx_dataset_options dso = TRMX_DATASET_OPTIONS_INIT;
 *     dso.split = TRMX_SPLIT_TEST;                             // ARC: test pairs; built: test/
 *     trmx_dataset_load(&ds, t, "test.csv", &dso, &err);
 *
 *     trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
 *     o.halt = TRMX_HALT_ADAPTIVE;                             // or FIXED, the official evaluation
 *     o.max_steps = 16;
 *     trmx_eval_result r;
 *     trmx_eval_run(model, t, ds, &o, NULL, NULL, &r, &err);   // r.exact_accuracy, r.open_accuracy
 *
 * Metrics (docs/TASKS.md, "Evaluating"): label id 0 is "not supervised" (the official
 * ignore_label_id; docs/TASKS.md), so a position counts only where its label is not 0, and an item
 * whose label is all 0 (no answer in the data) is run and checked but counts in no accuracy.
 * An item is exact when every supervised position is right (the official exact_accuracy).
 * `open` positions are the supervised positions the puzzle left to the model: Sudoku blanks
 * (input id 1), maze open cells (input id 2, path or not), and for every other codec the positions
 * whose input differs from the label.
 */
#ifndef TRMX_EVAL_H
#define TRMX_EVAL_H

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

/* Slots of trmx_eval_result.problems, indexed by trmx_check_problem (room for codecs to grow). */
#define TRMX_EVAL_PROBLEMS 32
/* Slots of the per-step arrays: index s in [1, TRMX_SOLVE_STEPS_MAX]; index 0 is unused. */
#define TRMX_EVAL_STEPS (TRMX_SOLVE_STEPS_MAX + 1)

/* One evaluated item, handed to the item callback. Pointers are borrowed and valid during the
 * callback only. */
typedef struct trmx_eval_item {
	unsigned int version;
	int64_t index;           /* item number, from 0, in data-set order (queries only) */
	int64_t example;         /* the data set's example index */
	int64_t puzzle;          /* the data set's puzzle index */
	const char *puzzle_name; /* trmx_dataset_puzzle_name, or NULL */
	int32_t puzzle_id;       /* the puzzle identifier the model was given */
	int seq_len;
	const int32_t *input;    /* [seq_len] */
	const int32_t *pred;     /* [seq_len] the answer after the item's last step */
	const int32_t *label;    /* [seq_len] 0 where not supervised */
	int steps;               /* ACT steps run */
	float q_halt, q_continue;/* Q logits at the last step */
	trmx_halt_reason reason;
	int supervised, correct; /* positions with a label, and those predicted right */
	int open, open_correct;  /* supervised positions the puzzle left open, and those right */
	bool labelled;           /* supervised > 0 */
	bool exact;              /* labelled and correct == supervised */
	const trmx_check *check; /* the codec's verdict (UNKNOWN without a task or a checker) */
} trmx_eval_item;
#define TRMX_EVAL_ITEM_VERSION 1

/* Return 0 to go on, non-zero to stop (trmx_eval_run then fails with TRMX_ECANCELLED). */
typedef int (*trmx_eval_item_fn)(void *user, const trmx_eval_item *item);

/* Where a run is, reported after every ACT step of a batch. */
typedef struct trmx_eval_progress {
	int64_t done, total;      /* items whose rows have halted, and items to run */
	int64_t exact, labelled;  /* among the done items */
	double seconds;           /* since the run began */
} trmx_eval_progress;

/* Return 0 to go on, non-zero to stop (TRMX_ECANCELLED). */
typedef int (*trmx_eval_progress_fn)(void *user, const trmx_eval_progress *p);

/* Thresholds of the halting calibration (trmx_eval_halting). */
#define TRMX_EVAL_THRESHOLDS 20

/* What adaptive halting would give at each of a set of halt thresholds (the solve request's
 * halt_threshold), from one run at fixed steps: a row halts at the first step whose halt margin
 * (TRM: q_halt; HRM: q_halt - q_continue) is above the threshold, or at max_steps, and keeps
 * that step's answer. Rows are independent, so an adaptive run with that threshold and step cap
 * gives these figures (test_eval checks it). */
typedef struct trmx_eval_halting {
	int count;				 /* thresholds filled, TRMX_EVAL_THRESHOLDS */
	float threshold[TRMX_EVAL_THRESHOLDS];	 /* logits, ascending */
	int64_t exact[TRMX_EVAL_THRESHOLDS];	 /* labelled items exact */
	int64_t act_steps[TRMX_EVAL_THRESHOLDS]; /* ACT steps summed over items */
} trmx_eval_halting;

typedef struct trmx_eval_options {
	unsigned int version;
	trmx_halt_mode halt;            /* FIXED (the official evaluation) or ADAPTIVE */
	int max_steps;                  /* steps (fixed) or the cap (adaptive), 1..TRMX_SOLVE_STEPS_MAX;
					   0: the model's halt_max_steps */
	int batch_size;                 /* slots run together, 1..TRMX_SOLVE_BATCH_MAX; 0: 64 */
	int64_t limit;                  /* evaluate the first `limit` items; 0: all */
	trmx_eval_progress_fn progress; /* optional */
	void *progress_user;
	/* version 2: */
	float halt_threshold;	    /* adaptive: the solve request's halt_threshold (0: official) */
	trmx_eval_halting *halting; /* fixed: filled with the halting calibration; may be NULL */
} trmx_eval_options;
#define TRMX_EVAL_OPTIONS_VERSION 2
#define TRMX_EVAL_OPTIONS_INIT                                                                                              \
	{                                                                                                                   \
		TRMX_EVAL_OPTIONS_VERSION, TRMX_HALT_FIXED, 0, 0, 0, NULL, NULL, 0.0f, NULL                                 \
	}

/* The figures of a run. Ratios are 0 when their denominator is 0. */
typedef struct trmx_eval_result {
	unsigned int version;
	trmx_halt_mode halt;
	int max_steps;                  /* the step count or cap used */
	int64_t items;                  /* items run: the data set's queries (ARC test pairs, every
					   Sudoku or maze), the first `limit` of them */
	int64_t labelled;               /* items with at least one supervised position */
	int64_t exact;                  /* labelled items with every supervised position right */
	int64_t tokens, tokens_correct; /* supervised positions, and those right (pooled over items) */
	int64_t open, open_correct;     /* supervised positions left open by the puzzle, and those right */
	double exact_accuracy;          /* exact / labelled */
	double token_accuracy;          /* tokens_correct / tokens */
	double open_accuracy;           /* open_correct / open */
	int64_t verdicts[3];            /* items by trmx_verdict: [UNKNOWN], [VALID], [INVALID] */
	int64_t problems[TRMX_EVAL_PROBLEMS]; /* items by trmx_check_problem (NONE included) */
	int64_t reasons[3];             /* items by trmx_halt_reason */
	int64_t q_halt_agree;           /* labelled items where (q_halt >= 0) == exact: the official
					   q_halt_accuracy, over `labelled` */
	int64_t act_steps;              /* ACT steps summed over items */
	double mean_steps;              /* act_steps / items */
	int64_t steps_hist[TRMX_EVAL_STEPS];    /* [s]: items that ran s steps */
	int64_t exact_by_cap[TRMX_EVAL_STEPS];  /* [s], s <= max_steps: exact items had every row
						   stopped after at most s steps (a row that halted
						   earlier keeps its answer); [max_steps] == exact */
	int64_t open_correct_by_cap[TRMX_EVAL_STEPS]; /* the same for open_correct */
	double seconds;                 /* wall time of the run */
	double items_per_second;        /* items / seconds */
	double steps_per_second;        /* act_steps / seconds: sequences x ACT steps */
} trmx_eval_result;
#define TRMX_EVAL_RESULT_VERSION 1

/* Run the queries of `ds` (every example but ARC demonstration pairs), the first opts->limit of
 * them, through `model` in batches (continuous batching in adaptive mode), each with its puzzle's
 * identifier; score every answer against its label, judge it with `task`'s checker, hand it to
 * `on_item` (may be NULL) in data-set order, and fill *out (written only on success).
 *
 * `task` (may be NULL: no verdicts, open positions are those where input != label) must have the
 * model's seq_len and vocab_size, and so must the data set; a puzzle identifier the model does not
 * know is an error too (TRMX_ESHAPE, naming both sides). opts may be NULL (the defaults).
 * Inputs are run in chunks of 32 batches, so memory stays bounded for any data-set size.
 * Errors: TRMX_EINVAL (arguments, options), TRMX_EVERSION (options), TRMX_ESHAPE, TRMX_ENOMEM,
 * TRMX_ECANCELLED (a callback stopped the run), and those of the model and the checker. */
int trmx_eval_run(trmx_model *model, trmx_task *task, const trmx_dataset *ds, const trmx_eval_options *opts,
		  trmx_eval_item_fn on_item, void *user, trmx_eval_result *out, trmx_error *err);

/* The rule trmx_eval_run uses for open positions, for callers that count themselves: true when a
 * position with input id `input` and label id `label` was left open by the puzzle of `task`
 * (NULL: the generic rule, input != label). Label 0 (not supervised) is never open. */
bool trmx_eval_is_open(const trmx_task *task, int32_t input, int32_t label);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
