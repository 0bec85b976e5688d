/*
 * dataset_built.c — the official built puzzle data set (docs/TASKS.md, "Data sets"):
 * <split>/dataset.json and
 * <set>__{inputs,labels,puzzle_identifiers,puzzle_indices,group_indices}.npy for every set the JSON
 * lists, plus the optional identifiers.json beside the split folders; and raw token .npy files.
 * Read through trmx_array_read_npy (core/npy.c), checked, and copied into a trmx_dataset.
 *
 * Checked: dataset.json's types and ranges, every array's dtype (integers) and shape against
 * seq_len and each other, the indices (start at 0, never decrease, end at the example and puzzle
 * counts), identifiers below num_puzzle_identifiers, token ids below vocab_size. A label of -100
 * (PyTorch's ignore index, should a writer store it) is read as 0, the official ignore_label_id.
 * The quirk total_puzzles == total_groups of the Sudoku and maze builders is not checked: the
 * arrays are the truth.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tasks/dataset_int.h"

bool trmx__ds_is_built_dir(const char *dir)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/dataset.json", dir);
	return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

static bool int_dtype(trmx_dtype d)
{
	return d == TRMX_DTYPE_U8 || d == TRMX_DTYPE_I8 || d == TRMX_DTYPE_I16 || d == TRMX_DTYPE_I32 ||
	       d == TRMX_DTYPE_I64;
}

static int64_t get_int(const trmx_array *a, int64_t i)
{
	const void *p = a->data;
	switch (a->dtype) {
	case TRMX_DTYPE_U8: return ((const uint8_t *)p)[i];
	case TRMX_DTYPE_I8: return ((const int8_t *)p)[i];
	case TRMX_DTYPE_I16: return ((const int16_t *)p)[i];
	case TRMX_DTYPE_I32: return ((const int32_t *)p)[i];
	default: return ((const int64_t *)p)[i];
	}
}

static int load_array(const char *dir, const char *set, const char *field, int ndim, trmx_array **out,
		      trmx_error *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s__%s.npy", dir, set, field);
	trmx_array *a = NULL;
	int rc = trmx_array_read_npy(&a, path, err);
	if (rc < 0)
		return rc;
	if (!int_dtype(a->dtype) || a->ndim != ndim) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: expected a %d-D integer array, found %d-D %s", path, ndim,
				    a->ndim, trmx_dtype_name(a->dtype));
		trmx_array_free(a);
		return rc;
	}
	*out = a;
	return 0;
}

static int read_json(const char *path, size_t max, json_t **out, trmx_error *err)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "cannot open %s: %s", path,
				      strerror(errno));
	if ((uint64_t)st.st_size > max)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: %lld bytes; the limit is %zu", path, (long long)st.st_size,
				      max);
	json_error_t je;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (!j)
		return trmx_error_set(err, TRMX_EFORMAT, "%s:%d:%d: bad JSON: %s", path, je.line, je.column, je.text);
	*out = j;
	return 0;
}

static int json_int_field(const json_t *root, const char *path, const char *key, int64_t lo, int64_t hi,
			  int64_t *out, trmx_error *err)
{
	const json_t *v = json_object_get(root, key);
	if (!v)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: no \"%s\"", path, key);
	if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: \"%s\" must be an integer in [%lld, %lld]", path, key,
				      (long long)lo, (long long)hi);
	*out = json_integer_value(v);
	return 0;
}

static bool safe_set_name(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Append one set's arrays to ds. */
static int load_set(trmx_dataset *ds, const char *dir, const char *set, trmx_error *err)
{
	trmx_array *in = NULL, *lab = NULL, *ids = NULL, *pi = NULL, *gi = NULL;
	char where[4200];
	int rc;
	snprintf(where, sizeof where, "%s/%s__", dir, set);
	if ((rc = load_array(dir, set, "inputs", 2, &in, err)) < 0 || (rc = load_array(dir, set, "labels", 2, &lab, err)) < 0 ||
	    (rc = load_array(dir, set, "puzzle_identifiers", 1, &ids, err)) < 0 ||
	    (rc = load_array(dir, set, "puzzle_indices", 1, &pi, err)) < 0 ||
	    (rc = load_array(dir, set, "group_indices", 1, &gi, err)) < 0)
		goto done;
	int64_t N = in->shape[0], P = ids->shape[0], G = gi->shape[0] - 1;
	if (in->shape[1] != ds->seq_len || lab->shape[0] != N || lab->shape[1] != ds->seq_len) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%sinputs and labels: shapes [%lld, %lld] and [%lld, %lld]; expected [N, %d]",
				    where, (long long)in->shape[0], (long long)in->shape[1], (long long)lab->shape[0],
				    (long long)lab->shape[1], ds->seq_len);
		goto done;
	}
	if (pi->shape[0] != P + 1 || G < 0) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%spuzzle_indices has %lld entries for %lld puzzles; expected %lld",
				    where, (long long)pi->shape[0], (long long)P, (long long)P + 1);
		goto done;
	}
	if (get_int(pi, 0) != 0 || get_int(pi, P) != N) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%spuzzle_indices must run from 0 to %lld", where, (long long)N);
		goto done;
	}
	for (int64_t p = 0; p < P; p++) {
		if (get_int(pi, p + 1) < get_int(pi, p)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%spuzzle_indices decreases at %lld", where, (long long)p + 1);
			goto done;
		}
		int64_t id = get_int(ids, p);
		if (id < 0 || id >= ds->num_ids) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%spuzzle_identifiers[%lld] = %lld is outside [0, %d)", where,
					    (long long)p, (long long)id, ds->num_ids);
			goto done;
		}
	}
	if (get_int(gi, 0) != 0 || get_int(gi, G) != P) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%sgroup_indices must run from 0 to %lld", where, (long long)P);
		goto done;
	}
	for (int64_t g = 0; g < G; g++) {
		if (get_int(gi, g + 1) < get_int(gi, g)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%sgroup_indices decreases at %lld", where, (long long)g + 1);
			goto done;
		}
	}
	int64_t e0 = ds->n, p0 = ds->np;
	if ((rc = trmx__ds_reserve(ds, N, P, G, err)) < 0)
		goto done;
	for (int64_t e = 0; e < N; e++) {
		for (int i = 0; i < ds->seq_len; i++) {
			int64_t k = e * ds->seq_len + i;
			int64_t x = get_int(in, k), y = get_int(lab, k);
			if (y == -100)
				y = 0;
			if (x < 0 || x >= ds->vocab_size || y < 0 || y >= ds->vocab_size) {
				rc = trmx_error_set(err, TRMX_EFORMAT,
						    "%s%s: token %lld at example %lld, position %d is outside [0, %d)", where,
						    x < 0 || x >= ds->vocab_size ? "inputs" : "labels",
						    (long long)(x < 0 || x >= ds->vocab_size ? x : y), (long long)e, i,
						    ds->vocab_size);
				goto done;
			}
			ds_put(ds->inputs, ds->esize, e0 + e, ds->seq_len, i, (int32_t)x);
			ds_put(ds->labels, ds->esize, e0 + e, ds->seq_len, i, (int32_t)y);
		}
		ds->roles[e0 + e] = TRMX_EXAMPLE_QUERY;
	}
	for (int64_t p = 0; p < P; p++) {
		ds->pids[p0 + p] = (int32_t)get_int(ids, p);
		ds->pidx[p0 + p] = e0 + get_int(pi, p);
	}
	for (int64_t g = 0; g < G; g++)
		ds->gidx[ds->ng + g] = p0 + get_int(gi, g);
	ds->n += N;
	ds->np += P;
	ds->ng += G;
	ds->pidx[ds->np] = ds->n;
	ds->gidx[ds->ng] = ds->np;
done:
	trmx_array_free(in);
	trmx_array_free(lab);
	trmx_array_free(ids);
	trmx_array_free(pi);
	trmx_array_free(gi);
	return rc;
}

/* identifiers.json beside the split folders: names of the puzzle identifiers (optional). */
static int load_identifiers(trmx_dataset *ds, const char *dir, trmx_error *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/../identifiers.json", dir);
	struct stat st;
	if (stat(path, &st) != 0)
		return 0;
	json_t *j = NULL;
	int rc = read_json(path, TRMX_DATASET_IDS_JSON_MAX, &j, err);
	if (rc < 0)
		return rc;
	if (!json_is_array(j) || (int64_t)json_array_size(j) > ds->num_ids) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: expected an array of at most %d names", path, ds->num_ids);
		goto done;
	}
	size_t n = json_array_size(j);
	if (n && !(ds->id_names = trmx_xcalloc(n, sizeof *ds->id_names))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
		goto done;
	}
	ds->n_id_names = (int64_t)n;
	for (size_t i = 0; i < n; i++) {
		const json_t *v = json_array_get(j, i);
		if (!json_is_string(v)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s[%zu]: expected a string", path, i);
			goto done;
		}
		if (!(ds->id_names[i] = trmx_xstrdup(json_string_value(v)))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
			goto done;
		}
	}
done:
	json_decref(j);
	return rc;
}

int trmx__ds_load_built(trmx_dataset **out, const trmx_task *task, const char *dir, trmx_error *err)
{
	char path[4200];
	json_t *meta = NULL;
	trmx_dataset *ds = NULL;
	int64_t seq, vocab, nids;
	int rc;
	snprintf(path, sizeof path, "%s/dataset.json", dir);
	if ((rc = read_json(path, TRMX_DATASET_JSON_MAX, &meta, err)) < 0)
		return rc;
	if (!json_is_object(meta)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: expected an object", path);
		goto done;
	}
	if ((rc = json_int_field(meta, path, "seq_len", 1, TRMX_ARCH_SEQ_LEN_MAX, &seq, err)) < 0 ||
	    (rc = json_int_field(meta, path, "vocab_size", 2, TRMX_ARCH_VOCAB_MAX, &vocab, err)) < 0 ||
	    (rc = json_int_field(meta, path, "num_puzzle_identifiers", 1, TRMX_ARCH_PUZZLE_IDS_MAX, &nids, err)) < 0)
		goto done;
	const json_t *ign = json_object_get(meta, "ignore_label_id");
	if (ign && !json_is_null(ign) && !(json_is_integer(ign) && json_integer_value(ign) == 0)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: ignore_label_id must be 0 or null", path);
		goto done;
	}
	const json_t *pad = json_object_get(meta, "pad_id");
	if (pad && !(json_is_integer(pad) && json_integer_value(pad) == 0)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: pad_id must be 0", path);
		goto done;
	}
	if (task && (trmx_task_seq_len(task) != seq || trmx_task_vocab_size(task) != vocab)) {
		rc = trmx_error_set(err, TRMX_ESHAPE,
				    "%s: seq_len %lld and vocab_size %lld do not match task %s (seq_len %d, vocab_size %d)",
				    path, (long long)seq, (long long)vocab, trmx_task_name(task), trmx_task_seq_len(task),
				    trmx_task_vocab_size(task));
		goto done;
	}
	const json_t *sets = json_object_get(meta, "sets");
	if (!json_is_array(sets) || json_array_size(sets) == 0 || json_array_size(sets) > 64) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: \"sets\" must be an array of 1 to 64 names", path);
		goto done;
	}
	if ((rc = trmx__ds_new(&ds, NULL, (int)seq, (int)vocab, NULL, err)) < 0)
		goto done;
	ds->task = task;
	ds->num_ids = (int32_t)nids;
	for (size_t i = 0; i < json_array_size(sets); i++) {
		const json_t *s = json_array_get(sets, i);
		if (!json_is_string(s) || !safe_set_name(json_string_value(s))) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: sets[%zu] must be a name of letters, digits, '_' or '-'",
					    path, i);
			goto done;
		}
		if ((rc = load_set(ds, dir, json_string_value(s), err)) < 0)
			goto done;
	}
	rc = load_identifiers(ds, dir, err);
done:
	json_decref(meta);
	if (rc < 0) {
		trmx_dataset_free(ds);
		return rc;
	}
	*out = ds;
	return 0;
}

int trmx_dataset_load_npy(trmx_dataset **out, const trmx_task *task, const char *inputs_path,
			  const char *labels_path, trmx_error *err)
{
	trmx_array *in = NULL, *lab = NULL;
	trmx_dataset *ds = NULL;
	int rc;
	if (!out || !task || !inputs_path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_dataset_load_npy: NULL argument");
	int seq = trmx_task_seq_len(task), vocab = trmx_task_vocab_size(task);
	if ((rc = trmx_array_read_npy(&in, inputs_path, err)) < 0)
		goto done;
	if (labels_path && (rc = trmx_array_read_npy(&lab, labels_path, err)) < 0)
		goto done;
	for (int k = 0; k < 2; k++) {
		const trmx_array *a = k ? lab : in;
		const char *p = k ? labels_path : inputs_path;
		if (!a)
			continue;
		if (!int_dtype(a->dtype) || a->ndim != 2 || a->shape[1] != seq || a->shape[0] != in->shape[0]) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: expected an integer array [%lld, %d], found %d-D %s", p,
					    (long long)in->shape[0], seq, a->ndim, trmx_dtype_name(a->dtype));
			goto done;
		}
	}
	if ((rc = trmx__ds_new(&ds, task, 0, 0, NULL, err)) < 0)
		goto done;
	int64_t N = in->shape[0];
	if ((rc = trmx__ds_reserve(ds, N, N, N, err)) < 0)
		goto done;
	for (int64_t e = 0; e < N; e++) {
		for (int i = 0; i < seq; i++) {
			int64_t x = get_int(in, e * seq + i), y = lab ? get_int(lab, e * seq + i) : 0;
			if (y == -100)
				y = 0;
			if (x < 0 || x >= vocab || y < 0 || y >= vocab) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s: token %lld at example %lld, position %d is outside [0, %d)",
						    x < 0 || x >= vocab ? inputs_path : labels_path,
						    (long long)(x < 0 || x >= vocab ? x : y), (long long)e, i, vocab);
				goto done;
			}
			ds_put(ds->inputs, ds->esize, e, seq, i, (int32_t)x);
			ds_put(ds->labels, ds->esize, e, seq, i, (int32_t)y);
		}
		ds->roles[e] = TRMX_EXAMPLE_QUERY;
		ds->pids[e] = 0;
		ds->pidx[e] = e;
		ds->gidx[e] = e;
	}
	ds->n = ds->np = ds->ng = N;
	ds->pidx[N] = N;
	ds->gidx[N] = N;
done:
	trmx_array_free(in);
	trmx_array_free(lab);
	if (rc < 0) {
		trmx_dataset_free(ds);
		return rc;
	}
	*out = ds;
	return 0;
}
