/*
 * test_task_dataset.c — data sets: CSV text and files (read a line at a time; also TSV, and a UTF-8
 * byte order mark), ARC folders with
 * their splits and puzzle identifiers, a combined ARC file, the official built layout (.npy files
 * written here byte by byte, so the reader is checked against the format, not against our own
 * writer) with its malformed variants, and raw token .npy files.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "trmx/task.h"

#define FIXTURES "tests/fixtures/tasks"

static const char *P9 = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";
static const char *S9 = "534678912672195348198342567859761423426853791713924856961537284287419635345286179";

static void expect_fail(int rc, const trmx_error *e, int code, const char *sub)
{
	if (rc != code || e->code != code || !strstr(e->message, sub))
		fail_msg("expected code %d with \"%s\", got %d: %s", code, sub, rc, e->message);
}

static trmx_task *open_task(const char *name, const char *params)
{
	trmx_task *t = NULL;
	trmx_error e = { 0, "" };
	if (trmx_task_open(&t, name, params, &e) < 0)
		fail_msg("open %s: %s", name, e.message);
	return t;
}

/* A fresh temporary folder per test. */
static int setup_tmp(void **state)
{
	char *dir = malloc(64);
	snprintf(dir, 64, "/tmp/trmx-task-ds-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	*state = dir;
	return 0;
}

static int teardown_tmp(void **state)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", (char *)*state);
	int rc = system(cmd);
	free(*state);
	return rc == 0 ? 0 : -1;
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
	assert_int_equal(fclose(f), 0);
}

/* .npy version 1.0: magic, version, u16 header length, the dict padded to 64 bytes, data. */
static void write_npy(const char *path, const char *descr, int ndim, const int64_t *shape, const void *data,
		      size_t nbytes)
{
	char dict[256], sh[96] = "";
	size_t k = 0;
	for (int i = 0; i < ndim; i++)
		k += (size_t)snprintf(sh + k, sizeof sh - k, "%lld%s", (long long)shape[i], ndim == 1 ? "," : i + 1 < ndim ? ", " : "");
	int n = snprintf(dict, sizeof dict, "{'descr': '%s', 'fortran_order': False, 'shape': (%s), }", descr, sh);
	size_t total = 10 + (size_t)n + 1;
	size_t pad = (64 - total % 64) % 64;
	uint16_t hlen = (uint16_t)(n + pad + 1);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	fwrite("\x93NUMPY\x01\x00", 1, 8, f);
	fwrite(&hlen, 2, 1, f);
	fwrite(dict, 1, (size_t)n, f);
	for (size_t i = 0; i < pad; i++)
		fputc(' ', f);
	fputc('\n', f);
	fwrite(data, 1, nbytes, f);
	assert_int_equal(fclose(f), 0);
}

static void test_csv_text(void **state)
{
	(void)state;
	trmx_task *t = open_task("sudoku", NULL);
	trmx_error e = { 0, "" };
	char text[512];
	snprintf(text, sizeof text, "puzzle,solution,rating\n%s,%s,1\n%s,%s,0\n", P9, S9, S9, S9);
	trmx_dataset *ds = NULL;
	assert_int_equal(trmx_dataset_parse(&ds, t, text, strlen(text), NULL, &e), 0);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	assert_ptr_equal(v.task, t);
	assert_int_equal(v.seq_len, 81);
	assert_int_equal(v.vocab_size, 11);
	assert_int_equal(v.dtype, TRMX_DTYPE_U8);
	assert_int_equal(v.examples, 2);
	assert_int_equal(v.puzzles, 2);
	assert_int_equal(v.groups, 2);
	assert_int_equal(v.num_puzzle_identifiers, 1);
	assert_int_equal(v.puzzle_identifiers[0], 0);
	assert_int_equal(v.puzzle_indices[0], 0);
	assert_int_equal(v.puzzle_indices[2], 2);
	assert_int_equal(v.group_indices[2], 2);
	const uint8_t *in = v.inputs, *lab = v.labels;
	assert_int_equal(in[0], 6);
	assert_int_equal(in[2], 1);
	assert_int_equal(lab[2], 5);
	assert_int_equal(in[81], 6); /* second example: the solution as a puzzle */
	assert_int_equal(v.roles[1], TRMX_EXAMPLE_QUERY);
	int32_t x[81], y[81];
	assert_int_equal(trmx_dataset_example(ds, 0, x, y, &e), 0);
	assert_int_equal(x[0], 6);
	assert_int_equal(y[80], 10);
	expect_fail(trmx_dataset_example(ds, 2, x, y, &e), &e, TRMX_EINVAL, "example 2 is outside [0, 2)");
	assert_null(trmx_dataset_puzzle_name(ds, 0));
	trmx_dataset_free(ds);
	ds = NULL;
	/* Grids without answers: labels all 0 (ignored). */
	snprintf(text, sizeof text, "%s\n", P9);
	assert_int_equal(trmx_dataset_parse(&ds, t, text, strlen(text), NULL, &e), 0);
	trmx_dataset_view_get(ds, &v);
	lab = v.labels;
	for (int i = 0; i < 81; i++)
		assert_int_equal(lab[i], 0);
	trmx_dataset_free(ds);
	ds = NULL;
	trmx_dataset_free(NULL);
	trmx_task_free(t);
}

static void test_csv_file(void **state)
{
	const char *dir = *state;
	trmx_task *t = open_task("sudoku", "size=9");
	trmx_error e = { 0, "" };
	trmx_dataset *ds = NULL;
	assert_int_equal(trmx_dataset_load(&ds, t, FIXTURES "/sudoku9_hrm.csv", NULL, &e), 0);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.examples, 3);
	const uint8_t *lab = v.labels;
	for (int i = 0; i < 3 * 81; i++)
		assert_true(lab[i] >= 2);
	trmx_dataset_free(ds);
	ds = NULL;
	trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
	o.max_examples = 2;
	assert_int_equal(trmx_dataset_load(&ds, t, FIXTURES "/sudoku9_hrm.csv", &o, &e), 0);
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.examples, 2);
	assert_int_equal(v.puzzles, 2);
	trmx_dataset_free(ds);
	ds = NULL;
	/* A bad row names the file, the line and the column. */
	char path[128], text[600];
	snprintf(path, sizeof path, "%s/bad.csv", dir);
	snprintf(text, sizeof text, "source,question,answer,rating\r\na,%s,%s,0\r\nb,%s,%.80s,0\r\n", P9, S9, P9, S9);
	write_file(path, text);
	char want[200];
	snprintf(want, sizeof want, "%s:3: expected 81 characters", path);
	expect_fail(trmx_dataset_load(&ds, t, path, NULL, &e), &e, TRMX_EFORMAT, want);
	assert_null(ds);
	/* Missing file. */
	snprintf(path, sizeof path, "%s/none.csv", dir);
	expect_fail(trmx_dataset_load(&ds, t, path, NULL, &e), &e, TRMX_ENOTFOUND, "cannot open");
	trmx_task_free(t);
}

/* What spreadsheets save: a UTF-8 byte order mark before the header, CRLF, and tab-separated
 * files (.tsv; a first row with a tab and no comma); the same puzzles as the plain CSV. */
static void test_csv_bom_tsv(void **state)
{
	const char *dir = *state;
	trmx_task *t = open_task("sudoku", "size=9");
	trmx_error e = { 0, "" };
	trmx_dataset *ds = NULL;
	trmx_dataset_view v;
	char path[128], text[600];
	static const char *const files[][2] = {
		{ "bom.csv", "\xEF\xBB\xBFpuzzle,solution\r\n%s,%s\r\n" },
		{ "plain.tsv", "puzzle\tsolution\n%s\t%s\n" },
		{ "bom.tsv", "\xEF\xBB\xBFsource\tquestion\tanswer\trating\r\nx\t%s\t%s\t0\r\n" },
		{ "noheader.tsv", "\xEF\xBB\xBF%s\t%s\n" },
		{ "bom.txt", "\xEF\xBB\xBF%s\n%.0s" },
	};
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i][0]);
		snprintf(text, sizeof text, files[i][1], P9, S9);
		write_file(path, text);
		if (trmx_dataset_load(&ds, t, path, NULL, &e) < 0)
			fail_msg("%s: %s", files[i][0], e.message);
		trmx_dataset_view_get(ds, &v);
		assert_int_equal(v.examples, 1);
		const uint8_t *in = v.inputs, *lab = v.labels;
		assert_int_equal(in[0], 5 + 1); /* '5', the first cell: ids are digit + 1 */
		assert_int_equal(lab[0], strstr(files[i][0], ".txt") ? 0 : 5 + 1);
		trmx_dataset_free(ds);
		ds = NULL;
	}
	/* A quoted TSV field must end at a tab, and the message says so. */
	snprintf(path, sizeof path, "%s/bad.tsv", dir);
	snprintf(text, sizeof text, "puzzle\tsolution\n\"%s\"x\t%s\n", P9, S9);
	write_file(path, text);
	expect_fail(trmx_dataset_load(&ds, t, path, NULL, &e), &e, TRMX_EFORMAT,
		    "expected a tab or the end of the line after a quoted field, found 'x'");
	assert_null(ds);
	trmx_task_free(t);
}

static void test_arc_folder(void **state)
{
	(void)state;
	trmx_task *t = open_task("arc", NULL);
	trmx_error e = { 0, "" };
	trmx_dataset *ds = NULL;
	trmx_dataset_view v;
	static const struct {
		trmx_split split;
		int examples;
	} splits[3] = { { TRMX_SPLIT_ALL, 11 }, { TRMX_SPLIT_TRAIN, 7 }, { TRMX_SPLIT_TEST, 4 } };
	for (int k = 0; k < 3; k++) {
		trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
		o.split = splits[k].split;
		assert_int_equal(trmx_dataset_load(&ds, t, FIXTURES "/arc", &o, &e), 0);
		trmx_dataset_view_get(ds, &v);
		assert_int_equal(v.examples, splits[k].examples);
		assert_int_equal(v.puzzles, 3);
		assert_int_equal(v.groups, 3);
		assert_int_equal(v.num_puzzle_identifiers, 4);
		/* Files of a folder in name order, then its subfolders. */
		assert_string_equal(trmx_dataset_puzzle_name(ds, 0), "flip");
		assert_string_equal(trmx_dataset_puzzle_name(ds, 1), "recolor");
		assert_string_equal(trmx_dataset_puzzle_name(ds, 2), "grow");
		for (int p = 0; p < 3; p++)
			assert_int_equal(v.puzzle_identifiers[p], p + 1);
		for (int64_t i = 0; i < v.examples; i++) {
			if (o.split == TRMX_SPLIT_TRAIN)
				assert_int_equal(v.roles[i], TRMX_EXAMPLE_DEMO);
			if (o.split == TRMX_SPLIT_TEST)
				assert_int_equal(v.roles[i], TRMX_EXAMPLE_QUERY);
		}
		trmx_dataset_free(ds);
		ds = NULL;
	ds = NULL;
	}
	/* The combined file: one puzzle per id. */
	assert_int_equal(trmx_dataset_load(&ds, t, FIXTURES "/combined.json", NULL, &e), 0);
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.puzzles, 2);
	assert_int_equal(v.examples, 5);
	assert_int_equal(v.puzzle_indices[1], 2);
	assert_string_equal(trmx_dataset_puzzle_name(ds, 1), "bb000002");
	trmx_dataset_free(ds);
	ds = NULL;
	trmx_task_free(t);
}

static void test_arc_errors(void **state)
{
	const char *dir = *state;
	trmx_task *t = open_task("arc", NULL);
	trmx_error e = { 0, "" };
	trmx_dataset *ds = NULL;
	char path[128];
	snprintf(path, sizeof path, "%s/empty", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	expect_fail(trmx_dataset_load(&ds, t, path, NULL, &e), &e, TRMX_ENOTFOUND, "holds no .json task files and no dataset.json");
	snprintf(path, sizeof path, "%s/bad.json", dir);
	write_file(path, "{\"train\": [{\"input\": [[1]], \"output\": [[1, 2], [3]]}]}");
	char want[200];
	snprintf(want, sizeof want, "%s: train[0].output[1]: expected 2 cells like row 0, found 1", path);
	expect_fail(trmx_dataset_load(&ds, t, dir, NULL, &e), &e, TRMX_EFORMAT, want);
	expect_fail(trmx_dataset_load(&ds, NULL, path, NULL, &e), &e, TRMX_EINVAL, "a task codec is needed");
	assert_null(ds);
	trmx_task_free(t);
}

/* The official built layout, by hand: 3 examples of 4 tokens in 2 puzzles in 1 group. */
static void write_built(const char *dir, const int32_t *pidx, const uint8_t *inputs, const char *json)
{
	char path[256];
	snprintf(path, sizeof path, "%s/train", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof path, "%s/train/dataset.json", dir);
	write_file(path, json);
	int64_t sh2[2] = { 3, 4 }, sh1[1];
	static const uint8_t labels[12] = { 2, 3, 4, 5, 2, 3, 4, 5, 5, 4, 3, 2 };
	snprintf(path, sizeof path, "%s/train/all__inputs.npy", dir);
	write_npy(path, "|u1", 2, sh2, inputs, 12);
	snprintf(path, sizeof path, "%s/train/all__labels.npy", dir);
	write_npy(path, "|u1", 2, sh2, labels, 12);
	static const int32_t ids[2] = { 1, 2 }, gidx[2] = { 0, 2 };
	sh1[0] = 2;
	snprintf(path, sizeof path, "%s/train/all__puzzle_identifiers.npy", dir);
	write_npy(path, "<i4", 1, sh1, ids, sizeof ids);
	sh1[0] = 3;
	snprintf(path, sizeof path, "%s/train/all__puzzle_indices.npy", dir);
	write_npy(path, "<i4", 1, sh1, pidx, 12);
	sh1[0] = 2;
	snprintf(path, sizeof path, "%s/train/all__group_indices.npy", dir);
	write_npy(path, "<i4", 1, sh1, gidx, sizeof gidx);
}

static const char *META = "{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, \"vocab_size\": 6, "
			  "\"seq_len\": 4, \"num_puzzle_identifiers\": 3, \"total_groups\": 1, "
			  "\"mean_puzzle_examples\": 1.5, \"total_puzzles\": 1, \"sets\": [\"all\"]}";

static void test_built_layout(void **state)
{
	const char *dir = *state;
	trmx_error e = { 0, "" };
	static const uint8_t inputs[12] = { 1, 2, 1, 2, 2, 2, 1, 1, 5, 4, 3, 1 };
	static const int32_t pidx[3] = { 0, 2, 3 };
	write_built(dir, pidx, inputs, META);
	char path[256];
	snprintf(path, sizeof path, "%s/identifiers.json", dir);
	write_file(path, "[\"<blank>\", \"first\", \"second\"]");
	trmx_task *t = open_task("tokens", "seq_len=4,vocab_size=6");
	trmx_dataset *ds = NULL;
	trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
	o.split = TRMX_SPLIT_TRAIN;
	assert_int_equal(trmx_dataset_load(&ds, t, dir, &o, &e), 0);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.examples, 3);
	assert_int_equal(v.puzzles, 2);
	assert_int_equal(v.groups, 1);
	assert_int_equal(v.num_puzzle_identifiers, 3);
	assert_memory_equal(v.inputs, inputs, 12);
	assert_int_equal(v.puzzle_indices[1], 2);
	assert_int_equal(v.puzzle_indices[2], 3);
	assert_int_equal(v.group_indices[1], 2);
	assert_int_equal(v.puzzle_identifiers[1], 2);
	assert_string_equal(trmx_dataset_puzzle_name(ds, 0), "first");
	assert_string_equal(trmx_dataset_puzzle_name(ds, 1), "second");
	trmx_dataset_free(ds);
	ds = NULL;
	/* Without a task, and pointing at the split folder itself. */
	snprintf(path, sizeof path, "%s/train", dir);
	assert_int_equal(trmx_dataset_load(&ds, NULL, path, NULL, &e), 0);
	trmx_dataset_view_get(ds, &v);
	assert_null(v.task);
	assert_int_equal(v.vocab_size, 6);
	trmx_dataset_free(ds);
	ds = NULL;
	/* The split must be chosen; the task must agree. */
	expect_fail(trmx_dataset_load(&ds, t, dir, NULL, &e), &e, TRMX_EINVAL, "choose the train or the test split");
	trmx_task *wrong = open_task("sudoku", "size=4");
	expect_fail(trmx_dataset_load(&ds, wrong, dir, &o, &e), &e, TRMX_ESHAPE,
		    "seq_len 4 and vocab_size 6 do not match task sudoku (seq_len 16, vocab_size 6)");
	trmx_task_free(wrong);
	o.split = TRMX_SPLIT_TEST;
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_ENOTFOUND, "test/dataset.json");
	o.split = TRMX_SPLIT_TRAIN;
	/* Broken variants. */
	static const int32_t bad_pidx[3] = { 0, 3, 2 };
	write_built(dir, bad_pidx, inputs, META);
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_EFORMAT, "puzzle_indices must run from 0 to 3");
	static const int32_t dec_pidx[3] = { 0, 2, 3 };
	uint8_t bad_in[12];
	memcpy(bad_in, inputs, 12);
	bad_in[7] = 6;
	write_built(dir, dec_pidx, bad_in, META);
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_EFORMAT, "token 6 at example 1, position 3 is outside [0, 6)");
	write_built(dir, dec_pidx, inputs, "{\"vocab_size\": 6, \"num_puzzle_identifiers\": 3, \"sets\": [\"all\"]}");
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_EFORMAT, "no \"seq_len\"");
	write_built(dir, dec_pidx, inputs,
		    "{\"seq_len\": 4, \"vocab_size\": 6, \"num_puzzle_identifiers\": 2, \"sets\": [\"all\"]}");
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_EFORMAT, "puzzle_identifiers[1] = 2 is outside [0, 2)");
	write_built(dir, dec_pidx, inputs,
		    "{\"seq_len\": 4, \"vocab_size\": 6, \"num_puzzle_identifiers\": 3, \"sets\": [\"../x\"]}");
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_EFORMAT, "sets[0] must be a name");
	write_built(dir, dec_pidx, inputs, "{\"seq_len\": 4,");
	expect_fail(trmx_dataset_load(&ds, t, dir, &o, &e), &e, TRMX_EFORMAT, "bad JSON");
	assert_null(ds);
	trmx_task_free(t);
}

static void test_npy_tokens(void **state)
{
	const char *dir = *state;
	trmx_error e = { 0, "" };
	char in_path[128], lab_path[128];
	snprintf(in_path, sizeof in_path, "%s/in.npy", dir);
	snprintf(lab_path, sizeof lab_path, "%s/lab.npy", dir);
	static const int64_t in[6] = { 0, 1, 299, 3, 4, 5 };
	static const int16_t lab[6] = { -100, 1, 2, 3, 4, 5 };
	int64_t shape[2] = { 2, 3 };
	write_npy(in_path, "<i8", 2, shape, in, sizeof in);
	write_npy(lab_path, "<i2", 2, shape, lab, sizeof lab);
	trmx_task *t = open_task("tokens", "seq_len=3,vocab_size=300");
	trmx_dataset *ds = NULL;
	assert_int_equal(trmx_dataset_load_npy(&ds, t, in_path, lab_path, &e), 0);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.dtype, TRMX_DTYPE_I32); /* vocab 300 does not fit a byte */
	assert_int_equal(v.examples, 2);
	int32_t x[3], y[3];
	assert_int_equal(trmx_dataset_example(ds, 0, x, y, &e), 0);
	assert_int_equal(x[2], 299);
	assert_int_equal(y[0], 0); /* -100, the ignore index, reads as 0 */
	trmx_dataset_free(ds);
	ds = NULL;
	trmx_task_free(t);
	t = open_task("tokens", "seq_len=3,vocab_size=10");
	expect_fail(trmx_dataset_load_npy(&ds, t, in_path, NULL, &e), &e, TRMX_EFORMAT,
		    "token 299 at example 0, position 2 is outside [0, 10)");
	trmx_task_free(t);
	t = open_task("tokens", "seq_len=4");
	expect_fail(trmx_dataset_load_npy(&ds, t, in_path, NULL, &e), &e, TRMX_EFORMAT, "expected an integer array [2, 4]");
	trmx_task_free(t);
	assert_null(ds);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_csv_text),
		cmocka_unit_test_setup_teardown(test_csv_file, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_csv_bom_tsv, setup_tmp, teardown_tmp),
		cmocka_unit_test(test_arc_folder),
		cmocka_unit_test_setup_teardown(test_arc_errors, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_built_layout, setup_tmp, teardown_tmp),
		cmocka_unit_test_setup_teardown(test_npy_tokens, setup_tmp, teardown_tmp),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
