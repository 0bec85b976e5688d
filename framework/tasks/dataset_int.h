/*
 * dataset_int.h — the body of trmx_dataset, shared by dataset.c (text, CSV, ARC folders) and
 * dataset_built.c (the official .npy layout). Not installed.
 */
#ifndef TRMX_DATASET_INT_H
#define TRMX_DATASET_INT_H

#include <string.h>

#include "tasks/tasks_int.h"

struct trmx_dataset {
	const trmx_task *task;
	int seq_len, vocab_size;
	trmx_dtype dtype;
	size_t esize;            /* bytes per token: 1 or 4 */
	int64_t n, cap;          /* examples */
	uint8_t *inputs, *labels;/* [cap, seq_len] of esize bytes */
	uint8_t *roles;
	int64_t np, pcap;        /* puzzles */
	int32_t *pids;
	int64_t *pidx;           /* [pcap + 1] */
	char **pnames;           /* [pcap] or NULL */
	int64_t ng, gcap;        /* groups */
	int64_t *gidx;           /* [gcap + 1] */
	int32_t num_ids;
	char **id_names;         /* identifiers.json of a built data set: [n_id_names] */
	int64_t n_id_names;

	/* While building from text. */
	trmx_split split;
	bool filter_roles, per_puzzle_ids;
	int64_t max_examples;
	bool full;
	int64_t text_serial, cur_serial, cur_puzzle; /* which text and which puzzle of it is open */
	const char *default_name;
	int32_t next_id;
};

/* An empty data set for `task` (which may be NULL when seq_len/vocab are given). */
int trmx__ds_new(trmx_dataset **out, const trmx_task *task, int seq_len, int vocab, const trmx_dataset_options *o,
		 trmx_error *err);
/* Room for `more` examples / puzzles / groups. */
int trmx__ds_reserve(trmx_dataset *ds, int64_t more_examples, int64_t more_puzzles, int64_t more_groups, trmx_error *err);
/* Store one token (value fits the dtype) of example e at position i. */
static inline void ds_put(uint8_t *base, size_t esize, int64_t e, int seq_len, int i, int32_t v)
{
	size_t off = ((size_t)e * (size_t)seq_len + (size_t)i) * esize;
	if (esize == 1)
		base[off] = (uint8_t)v;
	else
		memcpy(base + off, &v, sizeof v);
}

/* dataset_built.c */
int trmx__ds_load_built(trmx_dataset **out, const trmx_task *task, const char *dir, trmx_error *err);
bool trmx__ds_is_built_dir(const char *dir);

#endif
