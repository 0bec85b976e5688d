/*
 * dataset.c — data sets in memory: building one from a codec's examples (text, a CSV file read a
 * line at a time, a folder of ARC task files) and reading it back. The official built layout
 * (.npy files) is read by dataset_built.c into the same structure.
 *
 * Each Sudoku, maze or token example is its own puzzle and group with identifier 0; with a codec
 * that asks for puzzle identifiers (ARC), each puzzle (a task) gets the next identifier from 1 and
 * its own group, as the official builder does before augmentation.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tasks/dataset_int.h"

/* ---- Storage ------------------------------------------------------------------------------- */

int trmx__ds_new(trmx_dataset **out, const trmx_task *task, int seq_len, int vocab, const trmx_dataset_options *o,
		 trmx_error *err)
{
	trmx_dataset *ds = trmx_xcalloc(1, sizeof *ds);
	if (!ds)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory creating a data set");
	ds->task = task;
	ds->seq_len = task ? trmx_task_seq_len(task) : seq_len;
	ds->vocab_size = task ? trmx_task_vocab_size(task) : vocab;
	ds->dtype = ds->vocab_size <= 256 ? TRMX_DTYPE_U8 : TRMX_DTYPE_I32;
	ds->esize = ds->vocab_size <= 256 ? 1 : 4;
	ds->num_ids = 1;
	ds->next_id = 1;
	ds->split = o ? o->split : TRMX_SPLIT_ALL;
	ds->max_examples = o && o->max_examples > 0 ? o->max_examples : TRMX_DATASET_EXAMPLES_MAX;
	if (ds->max_examples > TRMX_DATASET_EXAMPLES_MAX)
		ds->max_examples = TRMX_DATASET_EXAMPLES_MAX;
	if (task) {
		bool ids = (trmx_task_codec_get(task)->flags & TRMX_TASK_CODEC_PUZZLE_IDS) != 0;
		ds->per_puzzle_ids = ids;
		ds->filter_roles = ids && ds->split != TRMX_SPLIT_ALL;
	}
	ds->pidx = trmx_xcalloc(1, sizeof *ds->pidx);
	ds->gidx = trmx_xcalloc(1, sizeof *ds->gidx);
	if (!ds->pidx || !ds->gidx) {
		trmx_dataset_free(ds);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory creating a data set");
	}
	ds->cur_serial = -1;
	*out = ds;
	return 0;
}

static int grow(void **p, int64_t *cap, int64_t need, size_t elem, size_t extra_elems, trmx_error *err)
{
	if (need <= *cap)
		return 0;
	int64_t nc = *cap ? *cap : 64;
	while (nc < need)
		nc = nc > INT64_MAX / 2 ? need : nc * 2;
	size_t bytes;
	if (!trmx_mul_size((size_t)nc + extra_elems, elem, &bytes))
		return trmx_error_set(err, TRMX_ELIMIT, "data set too large");
	void *q = trmx_xrealloc(*p, bytes);
	if (!q)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory growing a data set");
	*p = q;
	*cap = nc;
	return 0;
}

int trmx__ds_reserve(trmx_dataset *ds, int64_t more_examples, int64_t more_puzzles, int64_t more_groups, trmx_error *err)
{
	int rc;
	int64_t need = ds->n + more_examples;
	if (need > TRMX_DATASET_EXAMPLES_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "more than %lld examples (TRMX_DATASET_EXAMPLES_MAX)",
				      (long long)TRMX_DATASET_EXAMPLES_MAX);
	size_t bytes;
	if (!trmx_mul_size((size_t)need, (size_t)ds->seq_len * ds->esize * 2, &bytes) ||
	    bytes > TRMX_DATASET_BYTES_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%lld examples of %d tokens exceed %zu bytes (TRMX_DATASET_BYTES_MAX)",
				      (long long)need, ds->seq_len, (size_t)TRMX_DATASET_BYTES_MAX);
	if (need > ds->cap) {
		int64_t cap = ds->cap, cap2 = ds->cap, cap3 = ds->cap;
		size_t row = (size_t)ds->seq_len * ds->esize;
		if ((rc = grow((void **)&ds->inputs, &cap, need, row, 0, err)) < 0 ||
		    (rc = grow((void **)&ds->labels, &cap2, need, row, 0, err)) < 0 ||
		    (rc = grow((void **)&ds->roles, &cap3, need, 1, 0, err)) < 0)
			return rc;
		ds->cap = cap;
	}
	int64_t pneed = ds->np + more_puzzles;
	if (pneed > ds->pcap) {
		int64_t c1 = ds->pcap, c2 = ds->pcap, c3 = ds->pcap;
		if ((rc = grow((void **)&ds->pids, &c1, pneed, sizeof(int32_t), 0, err)) < 0 ||
		    (rc = grow((void **)&ds->pidx, &c2, pneed, sizeof(int64_t), 1, err)) < 0)
			return rc;
		if (ds->per_puzzle_ids) {
			char **names = trmx_xrealloc(ds->pnames, sizeof(char *) * (size_t)c1);
			if (!names)
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory growing a data set");
			for (int64_t i = c3; i < c1; i++)
				names[i] = NULL;
			ds->pnames = names;
		}
		ds->pcap = c1;
	}
	int64_t gneed = ds->ng + more_groups;
	if (gneed > ds->gcap) {
		if ((rc = grow((void **)&ds->gidx, &ds->gcap, gneed, sizeof(int64_t), 1, err)) < 0)
			return rc;
	}
	return 0;
}

void trmx_dataset_free(trmx_dataset *ds)
{
	if (!ds)
		return;
	free(ds->inputs);
	free(ds->labels);
	free(ds->roles);
	free(ds->pids);
	free(ds->pidx);
	free(ds->gidx);
	for (int64_t i = 0; ds->pnames && i < ds->np; i++)
		free(ds->pnames[i]);
	free(ds->pnames);
	for (int64_t i = 0; ds->id_names && i < ds->n_id_names; i++)
		free(ds->id_names[i]);
	free(ds->id_names);
	free(ds);
}

/* ---- Building from a codec's examples ------------------------------------------------------ */

struct ds_sink {
	trmx_task_sink base;
	trmx_dataset *ds;
};

static int ds_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	trmx_dataset *ds = ((struct ds_sink *)sink)->ds;
	int rc;
	if (ds->filter_roles) {
		bool want = ds->split == TRMX_SPLIT_TRAIN ? ex->role == TRMX_EXAMPLE_DEMO : ex->role == TRMX_EXAMPLE_QUERY;
		if (!want)
			return 0;
	}
	if (ds->n >= ds->max_examples) {
		ds->full = true;
		return TRMX_ECANCELLED;
	}
	bool new_puzzle = ds->np == 0 || ds->cur_serial != ds->text_serial || ds->cur_puzzle != ex->puzzle;
	if ((rc = trmx__ds_reserve(ds, 1, new_puzzle, new_puzzle, err)) < 0)
		return rc;
	if (new_puzzle) {
		int64_t p = ds->np++;
		ds->pidx[p] = ds->n;
		if (ds->per_puzzle_ids) {
			if (ds->next_id >= TRMX_ARCH_PUZZLE_IDS_MAX)
				return trmx_error_set(err, TRMX_ELIMIT, "more than %d puzzle identifiers (TRMX_ARCH_PUZZLE_IDS_MAX)",
						      TRMX_ARCH_PUZZLE_IDS_MAX);
			ds->pids[p] = ds->next_id++;
			ds->num_ids = ds->next_id;
			const char *name = ex->name ? ex->name : ds->default_name;
			if (name && !(ds->pnames[p] = trmx_xstrdup(name)))
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory naming a puzzle");
		} else {
			ds->pids[p] = 0;
		}
		int64_t g = ds->ng++;
		ds->gidx[g] = p;
		ds->cur_serial = ds->text_serial;
		ds->cur_puzzle = ex->puzzle;
	}
	int64_t e = ds->n;
	for (int i = 0; i < ds->seq_len; i++) {
		ds_put(ds->inputs, ds->esize, e, ds->seq_len, i, ex->input[i]);
		ds_put(ds->labels, ds->esize, e, ds->seq_len, i, ex->label ? ex->label[i] : 0);
	}
	ds->roles[e] = (uint8_t)ex->role;
	ds->n++;
	ds->pidx[ds->np] = ds->n;
	ds->gidx[ds->ng] = ds->np;
	return 0;
}

/* Encode one text into the data set; a full data set is not an error. */
static int ds_encode(trmx_dataset *ds, const trmx_task_input *in, trmx_error *err)
{
	struct ds_sink s = { { ds_add, NULL }, ds };
	ds->text_serial++;
	int rc = trmx_task_encode_input((trmx_task *)ds->task, in, &s.base, err);
	if (rc == TRMX_ECANCELLED && ds->full) {
		trmx_error_clear(err);
		return 0;
	}
	return rc;
}

int trmx_dataset_parse(trmx_dataset **out, const trmx_task *task, const char *text, size_t len,
		       const trmx_dataset_options *opts, trmx_error *err)
{
	trmx_dataset *ds = NULL;
	int rc;
	if (!out || !task || (!text && len))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_dataset_parse: NULL argument");
	if ((rc = trmx__ds_new(&ds, task, 0, 0, opts, err)) < 0)
		return rc;
	trmx_task_input in = TRMX_TASK_INPUT_INIT;
	in.text = text;
	in.len = len;
	if ((rc = ds_encode(ds, &in, err)) < 0) {
		trmx_dataset_free(ds);
		return rc;
	}
	*out = ds;
	return 0;
}

/* ---- Files --------------------------------------------------------------------------------- */

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	if (n < k)
		return false;
	for (size_t i = 0; i < k; i++) {
		char c = s[n - k + i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != suffix[i])
			return false;
	}
	return true;
}

static int load_text_file(trmx_dataset *ds, const char *path, const char *name, trmx_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc = trmx_read_file(path, TRMX_TASK_TEXT_MAX, "TRMX_TASK_TEXT_MAX", 0, &text, &len, err);
	if (rc < 0)
		return rc;
	/* A UTF-8 byte order mark (what Windows editors save) is no part of the puzzles. */
	size_t bom = len >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
	trmx_task_input in = TRMX_TASK_INPUT_INIT;
	in.text = text + bom;
	in.len = len - bom;
	in.source = path;
	ds->default_name = name;
	rc = ds_encode(ds, &in, err);
	ds->default_name = NULL;
	free(text);
	return rc;
}

/* CSV (or TSV: trmx__csv_reader_line tells them apart by the first row, and skips a UTF-8 byte order
 * mark) a line at a time, so a file larger than memory-friendly text (sudoku-extreme's 3.8M rows)
 * streams; each field is encoded by the task's codec. */
static int load_csv_file(trmx_dataset *ds, const char *path, trmx_error *err)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "cannot open %s: %s", path,
				      strerror(errno));
	const trmx_task_codec *codec = trmx_task_codec_get(ds->task);
	csv_reader r;
	trmx_task_input in = TRMX_TASK_INPUT_INIT;
	in.source = path;
	size_t cap = TRMX_TASK_LINE_MAX + 65536, have = 0, start = 0;
	char *buf = trmx_xmalloc(cap);
	int rc = 0;
	int64_t lineno = 0;
	bool eof = false;
	struct ds_sink s = { { ds_add, NULL }, ds };
	if (!buf) {
		fclose(f);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
	}
	/* The CSV reader drives the codec table directly; it checks each field's ids itself. */
	if ((rc = trmx__csv_reader_init(&r, codec, trmx__task_state(ds->task), ds->seq_len, err)) < 0)
		goto out;
	ds->text_serial++;
	for (;;) {
		char *nl = start < have ? memchr(buf + start, '\n', have - start) : NULL;
		if (!nl && !eof) {
			if (start > 0) {
				memmove(buf, buf + start, have - start);
				have -= start;
				start = 0;
			}
			if (have == cap) {
				rc = trmx__task_error_at(err, TRMX_ELIMIT, &in, lineno + 1, 0,
							 "line longer than %u bytes (TRMX_TASK_LINE_MAX)",
							 (unsigned)TRMX_TASK_LINE_MAX);
				goto done;
			}
			size_t got = fread(buf + have, 1, cap - have, f);
			if (got == 0) {
				if (ferror(f)) {
					rc = trmx_error_set(err, TRMX_EIO, "cannot read %s", path);
					goto done;
				}
				eof = true;
			}
			have += got;
			continue;
		}
		if (!nl && start >= have)
			break;
		size_t end = nl ? (size_t)(nl - buf) : have;
		tline l = { buf + start, end - start, ++lineno, 1 };
		if (l.len && l.p[l.len - 1] == '\r')
			l.len--;
		start = nl ? end + 1 : have;
		if (l.len > TRMX_TASK_LINE_MAX) {
			rc = trmx__task_error_at(err, TRMX_ELIMIT, &in, l.no, 0,
						 "line longer than %u bytes (TRMX_TASK_LINE_MAX)",
						 (unsigned)TRMX_TASK_LINE_MAX);
			goto done;
		}
		rc = trmx__csv_reader_line(&r, &l, &in, &s.base, err);
		if (rc == TRMX_ECANCELLED && ds->full) {
			trmx_error_clear(err);
			rc = 0;
			break;
		}
		if (rc < 0)
			goto done;
	}
	if (ds->n == 0 && r.puzzle == 0)
		rc = trmx__task_error_at(err, TRMX_EFORMAT, &in, 0, 0, "no CSV row holds a puzzle");
done:
	trmx__csv_reader_free(&r);
out:
	free(buf);
	fclose(f);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.json under `dir`, sorted, to TRMX_DATASET_DEPTH_MAX levels. */
static int list_json(const char *dir, int depth, char ***files, size_t *n, size_t *cap, trmx_error *err)
{
	DIR *d = opendir(dir);
	if (!d)
		return trmx_error_set(err, TRMX_EIO, "cannot open folder %s: %s", dir, strerror(errno));
	struct dirent *e;
	int rc = 0;
	size_t first = *n;
	char **sub = NULL;
	size_t nsub = 0, capsub = 0;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		size_t plen = strlen(dir) + strlen(e->d_name) + 2;
		char *p = trmx_xmalloc(plen);
		if (!p) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory listing %s", dir);
			goto done;
		}
		snprintf(p, plen, "%s/%s", dir, e->d_name);
		struct stat st;
		if (stat(p, &st) != 0) {
			free(p);
			continue;
		}
		char ***list = S_ISDIR(st.st_mode) ? &sub : files;
		size_t *ln = S_ISDIR(st.st_mode) ? &nsub : n, *lc = S_ISDIR(st.st_mode) ? &capsub : cap;
		if ((S_ISDIR(st.st_mode) && depth + 1 >= TRMX_DATASET_DEPTH_MAX) ||
		    (!S_ISDIR(st.st_mode) && (!S_ISREG(st.st_mode) || !ends_with(e->d_name, ".json")))) {
			free(p);
			continue;
		}
		if (*n + nsub >= TRMX_DATASET_FILES_MAX) {
			free(p);
			rc = trmx_error_set(err, TRMX_ELIMIT, "%s: more than %d files (TRMX_DATASET_FILES_MAX)", dir,
					    TRMX_DATASET_FILES_MAX);
			goto done;
		}
		if (*ln == *lc) {
			size_t nc = *lc ? *lc * 2 : 64;
			char **q = trmx_xrealloc(*list, nc * sizeof *q);
			if (!q) {
				free(p);
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory listing %s", dir);
				goto done;
			}
			*list = q;
			*lc = nc;
		}
		(*list)[(*ln)++] = p;
	}
	if (*n > first)
		qsort(*files + first, *n - first, sizeof **files, cmp_str);
	if (nsub)
		qsort(sub, nsub, sizeof *sub, cmp_str);
	for (size_t i = 0; i < nsub && rc == 0; i++)
		rc = list_json(sub[i], depth + 1, files, n, cap, err);
done:
	for (size_t i = 0; i < nsub; i++)
		free(sub[i]);
	free(sub);
	closedir(d);
	return rc;
}

static int load_folder(trmx_dataset *ds, const char *dir, trmx_error *err)
{
	char **files = NULL;
	size_t n = 0, cap = 0;
	int rc = list_json(dir, 0, &files, &n, &cap, err);
	if (rc == 0 && n == 0)
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "%s holds no .json task files and no dataset.json", dir);
	/* Files of one folder come sorted; folders after the files of their parent. */
	for (size_t i = 0; i < n && rc == 0 && !ds->full; i++) {
		const char *base = strrchr(files[i], '/');
		base = base ? base + 1 : files[i];
		char name[256];
		snprintf(name, sizeof name, "%.*s", (int)(strlen(base) - 5), base);
		rc = load_text_file(ds, files[i], name, err);
	}
	for (size_t i = 0; i < n; i++)
		free(files[i]);
	free(files);
	return rc;
}

int trmx_dataset_load(trmx_dataset **out, const trmx_task *task, const char *path,
		      const trmx_dataset_options *opts, trmx_error *err)
{
	trmx_dataset *ds = NULL;
	struct stat st;
	int rc;
	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_dataset_load: NULL argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_DATASET_OPTIONS_VERSION))
		return trmx_version_refused(err, "trmx_dataset_options", opts->version, TRMX_DATASET_OPTIONS_VERSION);
	if (stat(path, &st) != 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "cannot open %s: %s", path,
				      strerror(errno));
	trmx_split split = opts ? opts->split : TRMX_SPLIT_ALL;
	if (S_ISDIR(st.st_mode)) {
		if (trmx__ds_is_built_dir(path))
			return trmx__ds_load_built(out, task, path, err);
		size_t plen = strlen(path) + 16;
		char *sub = trmx_xmalloc(plen);
		if (!sub)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		snprintf(sub, plen, "%s/train", path);
		bool tr = trmx__ds_is_built_dir(sub);
		snprintf(sub, plen, "%s/test", path);
		bool te = trmx__ds_is_built_dir(sub);
		if (tr || te) {
			if (split == TRMX_SPLIT_ALL) {
				free(sub);
				return trmx_error_set(err, TRMX_EINVAL,
						      "%s is a built data set: choose the train or the test split", path);
			}
			snprintf(sub, plen, "%s/%s", path, split == TRMX_SPLIT_TRAIN ? "train" : "test");
			rc = trmx__ds_load_built(out, task, sub, err);
			free(sub);
			return rc;
		}
		free(sub);
	}
	if (!task)
		return trmx_error_set(err, TRMX_EINVAL, "%s: a task codec is needed to read it", path);
	if ((rc = trmx__ds_new(&ds, task, 0, 0, opts, err)) < 0)
		return rc;
	if (S_ISDIR(st.st_mode))
		rc = load_folder(ds, path, err);
	else if (ends_with(path, ".csv") || ends_with(path, ".tsv"))
		rc = load_csv_file(ds, path, err);
	else
		rc = load_text_file(ds, path, NULL, err);
	if (rc < 0) {
		trmx_dataset_free(ds);
		return rc;
	}
	*out = ds;
	return 0;
}

/* ---- Reading ------------------------------------------------------------------------------- */

void trmx_dataset_view_get(const trmx_dataset *ds, trmx_dataset_view *out)
{
	if (!out)
		return;
	memset(out, 0, sizeof *out);
	if (!ds)
		return;
	out->task = ds->task;
	out->seq_len = ds->seq_len;
	out->vocab_size = ds->vocab_size;
	out->dtype = ds->dtype;
	out->examples = ds->n;
	out->inputs = ds->inputs;
	out->labels = ds->labels;
	out->roles = ds->roles;
	out->puzzles = ds->np;
	out->puzzle_identifiers = ds->pids;
	out->puzzle_indices = ds->pidx;
	out->groups = ds->ng;
	out->group_indices = ds->gidx;
	out->num_puzzle_identifiers = ds->num_ids;
}

int trmx_dataset_example(const trmx_dataset *ds, int64_t i, int32_t *input, int32_t *label, trmx_error *err)
{
	if (!ds)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_dataset_example: NULL argument");
	if (i < 0 || i >= ds->n)
		return trmx_error_set(err, TRMX_EINVAL, "example %lld is outside [0, %lld)", (long long)i,
				      (long long)ds->n);
	size_t off = (size_t)i * (size_t)ds->seq_len;
	for (int k = 0; k < ds->seq_len; k++) {
		if (ds->esize == 1) {
			if (input)
				input[k] = ds->inputs[off + (size_t)k];
			if (label)
				label[k] = ds->labels[off + (size_t)k];
		} else {
			if (input)
				memcpy(&input[k], ds->inputs + (off + (size_t)k) * 4, 4);
			if (label)
				memcpy(&label[k], ds->labels + (off + (size_t)k) * 4, 4);
		}
	}
	return 0;
}

const char *trmx_dataset_puzzle_name(const trmx_dataset *ds, int64_t p)
{
	if (!ds || p < 0 || p >= ds->np)
		return NULL;
	if (ds->pnames && ds->pnames[p])
		return ds->pnames[p];
	int32_t id = ds->pids[p];
	if (ds->id_names && id >= 0 && id < ds->n_id_names)
		return ds->id_names[id];
	return NULL;
}
