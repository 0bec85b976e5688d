/*
 * test_task_arc.c — the arc codec: the official 30x30 canvas with EOS, the official crop, every
 * input form read back (JSON grid, pair, task, combined file, digit lines), each malformed-input
 * class with its exact code and message, the exact-match checker, colour rendering, and — when
 * ../shared/data/arc (beside the repository) is there — every grid of the public ARC folders round-tripped;
 * everywhere, a sample of each source shipped in tests/fixtures/tasks/arc-public.
 */
#include <dirent.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "trmx/task.h"

#define FIXTURES "tests/fixtures/tasks"
#define SHARED_ARC "../shared/data/arc" /* beside the repository; tests run from its root */

static void expect_fail(int rc, const trmx_error *e, int code, const char *sub)
{
	if (rc != code || e->code != code || !strstr(e->message, sub))
		fail_msg("expected code %d with \"%s\", got %d: %s", code, sub, rc, e->message);
}

static trmx_task *open_arc(void)
{
	trmx_task *t = NULL;
	trmx_error e = { 0, "" };
	if (trmx_task_open(&t, "arc", NULL, &e) < 0)
		fail_msg("open: %s", e.message);
	return t;
}

static int encode1(trmx_task *t, const char *text, int32_t *in, int32_t *label, bool *has, trmx_error *e)
{
	return trmx_task_encode(t, text, strlen(text), in, label, has, e);
}

static void test_canvas(void **state)
{
	(void)state;
	trmx_task *t = open_arc();
	trmx_error e = { 0, "" };
	int32_t in[900];
	assert_int_equal(trmx_task_seq_len(t), 900);
	assert_int_equal(trmx_task_vocab_size(t), 12);
	assert_int_equal(encode1(t, "[[1,2,3],[4,5,6]]", in, NULL, NULL, &e), 0);
	/* colour c -> c+2; EOS right of each row and under each column; the corner stays PAD. */
	static const int32_t want[4][5] = { { 3, 4, 5, 1, 0 }, { 6, 7, 8, 1, 0 }, { 1, 1, 1, 0, 0 }, { 0, 0, 0, 0, 0 } };
	for (int r = 0; r < 4; r++)
		for (int c = 0; c < 5; c++)
			assert_int_equal(in[r * 30 + c], want[r][c]);
	int nonzero = 0;
	for (int i = 0; i < 900; i++)
		nonzero += in[i] != 0;
	assert_int_equal(nonzero, 11);
	/* Full width or height: no EOS beyond the canvas. */
	char big[4096];
	size_t k = 0;
	k += (size_t)snprintf(big + k, sizeof big - k, "[");
	for (int r = 0; r < 30; r++)
		k += (size_t)snprintf(big + k, sizeof big - k, "%s[9,9,9,9,9]", r ? "," : "");
	snprintf(big + k, sizeof big - k, "]");
	assert_int_equal(encode1(t, big, in, NULL, NULL, &e), 0);
	for (int r = 0; r < 30; r++) {
		assert_int_equal(in[r * 30 + 4], 11);
		assert_int_equal(in[r * 30 + 5], 1);
		assert_int_equal(in[r * 30 + 6], 0);
	}
	trmx_task_free(t);
}

static void test_crop(void **state)
{
	(void)state;
	trmx_task *t = open_arc();
	trmx_error e = { 0, "" };
	int32_t tok[900] = { 0 };
	char *s = NULL;
	/* Rows 0-1 hold 3 colours, row 2 holds 2: the 2x3 rectangle (area 6) wins the tie. */
	for (int c = 0; c < 3; c++)
		tok[c] = tok[30 + c] = 2 + c;
	tok[60] = tok[61] = 5;
	tok[3] = tok[33] = tok[62] = 1;
	assert_int_equal(trmx_task_decode(t, tok, TRMX_TEXT_LINE, &s, &e), 0);
	assert_string_equal(s, "[[0,1,2],[0,1,2]]");
	trmx_task_text_free(s);
	/* A wide first row and a tall narrow block: 4x2 (area 8) beats 1x5. */
	memset(tok, 0, sizeof tok);
	for (int c = 0; c < 5; c++)
		tok[c] = 3;
	for (int r = 1; r < 4; r++)
		tok[r * 30] = tok[r * 30 + 1] = 4;
	assert_int_equal(trmx_task_decode(t, tok, TRMX_TEXT_GRID, &s, &e), 0);
	assert_string_equal(s, "11\n22\n22\n22\n");
	trmx_task_text_free(s);
	/* Nothing at the corner: an empty grid. */
	memset(tok, 0, sizeof tok);
	assert_int_equal(trmx_task_decode(t, tok, TRMX_TEXT_LINE, &s, &e), 0);
	assert_string_equal(s, "[]");
	trmx_task_text_free(s);
	trmx_task_free(t);
}

static void test_roundtrip(void **state)
{
	(void)state;
	trmx_task *t = open_arc();
	trmx_error e = { 0, "" };
	static const char *lines[] = { "[[0]]", "[[0,1],[2,3]]", "[[9,8,7,6,5,4,3,2,1,0]]", "[[1],[2],[3]]" };
	int32_t in[900], in2[900];
	for (size_t k = 0; k < sizeof lines / sizeof *lines; k++) {
		char *s = NULL, *g = NULL;
		assert_int_equal(encode1(t, lines[k], in, NULL, NULL, &e), 0);
		assert_int_equal(trmx_task_decode(t, in, TRMX_TEXT_LINE, &s, &e), 0);
		assert_string_equal(s, lines[k]);
		assert_int_equal(trmx_task_decode(t, in, TRMX_TEXT_GRID, &g, &e), 0);
		assert_int_equal(encode1(t, g, in2, NULL, NULL, &e), 0);
		assert_memory_equal(in, in2, sizeof in);
		trmx_task_text_free(s);
		trmx_task_text_free(g);
	}
	/* The 30x30 extreme, and digit lines with spaces. */
	char big[2000];
	size_t k = 0;
	big[k++] = '[';
	for (int r = 0; r < 30; r++) {
		big[k++] = r ? ',' : '[';
		if (r)
			big[k++] = '[';
		for (int c = 0; c < 30; c++) {
			if (c)
				big[k++] = ',';
			big[k++] = (char)('0' + (r * 7 + c * 3) % 10);
		}
		big[k++] = ']';
	}
	big[k++] = ']';
	big[k] = '\0';
	char *s = NULL;
	assert_int_equal(encode1(t, big, in, NULL, NULL, &e), 0);
	assert_int_equal(trmx_task_decode(t, in, TRMX_TEXT_LINE, &s, &e), 0);
	assert_string_equal(s, big);
	trmx_task_text_free(s);
	assert_int_equal(encode1(t, "0 1\n2 3\n", in, NULL, NULL, &e), 0);
	assert_int_equal(encode1(t, "[[0,1],[2,3]]", in2, NULL, NULL, &e), 0);
	assert_memory_equal(in, in2, sizeof in);
	/* A pair gives the label. */
	int32_t label[900];
	bool has = false;
	assert_int_equal(encode1(t, "{\"input\": [[1]], \"output\": [[2, 2]]}", in, label, &has, &e), 0);
	assert_true(has);
	assert_int_equal(in[0], 3);
	assert_int_equal(label[0], 4);
	assert_int_equal(label[1], 4);
	assert_int_equal(label[2], 1);
	trmx_task_free(t);
}

/* ---- Tasks and fixtures -------------------------------------------------------------------- */

struct collect {
	trmx_task_sink base;
	int n;
	int32_t in[64][900], label[64][900];
	bool has[64];
	trmx_example_role role[64];
	int64_t puzzle[64];
	char name[64][32];
};

static int collect_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	(void)err;
	struct collect *c = (struct collect *)sink;
	if (c->n < 64) {
		memcpy(c->in[c->n], ex->input, sizeof c->in[0]);
		c->has[c->n] = ex->label != NULL;
		if (ex->label)
			memcpy(c->label[c->n], ex->label, sizeof c->label[0]);
		c->role[c->n] = ex->role;
		c->puzzle[c->n] = ex->puzzle;
		snprintf(c->name[c->n], sizeof c->name[0], "%s", ex->name ? ex->name : "");
	}
	c->n++;
	return 0;
}

static int encode_all(trmx_task *t, const char *text, size_t len, struct collect *c, trmx_error *e)
{
	memset(c, 0, sizeof *c);
	c->base.add = collect_add;
	trmx_task_input in = TRMX_TASK_INPUT_INIT;
	in.text = text;
	in.len = len;
	return trmx_task_encode_input(t, &in, &c->base, e);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	if (buf) {
		buf[n] = '\0';
		*len = (size_t)n;
	}
	return buf;
}

/* Compare the grid decoded from tokens with a JSON grid. */
static void assert_grid(trmx_task *t, const int32_t *tok, const json_t *grid)
{
	trmx_error e = { 0, "" };
	char *s = NULL;
	assert_int_equal(trmx_task_decode(t, tok, TRMX_TEXT_LINE, &s, &e), 0);
	char *want = json_dumps(grid, JSON_COMPACT);
	assert_non_null(want);
	if (strcmp(s, want) != 0)
		fail_msg("decoded %s, expected %s", s, want);
	free(want);
	trmx_task_text_free(s);
}

/* Every pair of a task JSON against the codec's examples, in order. */
static void check_task_file(trmx_task *t, const char *path, struct collect *c)
{
	size_t len = 0;
	char *text = read_file(path, &len);
	assert_non_null(text);
	trmx_error e = { 0, "" };
	if (encode_all(t, text, len, c, &e) < 0)
		fail_msg("%s: %s", path, e.message);
	json_error_t je;
	json_t *root = json_loadb(text, len, 0, &je);
	assert_non_null(root);
	int k = 0;
	static const char *const parts[2] = { "train", "test" };
	for (int p = 0; p < 2; p++) {
		json_t *arr = json_object_get(root, parts[p]);
		for (size_t i = 0; i < json_array_size(arr) && k < 64; i++, k++) {
			json_t *pair = json_array_get(arr, i);
			assert_int_equal(c->role[k], p == 0 ? TRMX_EXAMPLE_DEMO : TRMX_EXAMPLE_QUERY);
			assert_int_equal(c->puzzle[k], 0);
			assert_grid(t, c->in[k], json_object_get(pair, "input"));
			json_t *out = json_object_get(pair, "output");
			assert_int_equal(c->has[k], out != NULL);
			if (out)
				assert_grid(t, c->label[k], out);
		}
	}
	assert_int_equal(c->n, k);
	json_decref(root);
	free(text);
}

static void test_fixture_tasks(void **state)
{
	(void)state;
	trmx_task *t = open_arc();
	struct collect *c = malloc(sizeof *c);
	assert_non_null(c);
	check_task_file(t, FIXTURES "/arc/flip.json", c);
	assert_int_equal(c->n, 3);
	check_task_file(t, FIXTURES "/arc/recolor.json", c);
	assert_int_equal(c->n, 5);
	check_task_file(t, FIXTURES "/arc/more/grow.json", c);
	assert_int_equal(c->n, 3);
	assert_false(c->has[2]);
	/* trmx_task_encode picks the first test pair. */
	size_t len;
	char *text = read_file(FIXTURES "/arc/flip.json", &len);
	int32_t in[900], label[900];
	bool has = false;
	trmx_error e = { 0, "" };
	assert_int_equal(trmx_task_encode(t, text, len, in, label, &has, &e), 0);
	assert_true(has);
	assert_int_equal(in[0], 7);    /* test input [[5,6,0,0],...] */
	assert_int_equal(label[2], 8); /* test output [[0,0,6,5],...] */
	free(text);
	/* The combined layout: one puzzle per id, named. */
	text = read_file(FIXTURES "/combined.json", &len);
	assert_non_null(text);
	assert_int_equal(encode_all(t, text, len, c, &e), 0);
	assert_int_equal(c->n, 5);
	assert_string_equal(c->name[0], "aa000001");
	assert_int_equal(c->puzzle[1], 0);
	assert_false(c->has[1]);
	assert_string_equal(c->name[2], "bb000002");
	assert_int_equal(c->puzzle[4], 1);
	free(text);
	free(c);
	trmx_task_free(t);
}

static int try_encode(const char *text, trmx_error *e)
{
	trmx_task *t = open_arc();
	int32_t in[900];
	int rc = trmx_task_encode(t, text, strlen(text), in, NULL, NULL, e);
	trmx_task_free(t);
	return rc;
}

static void test_malformed(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	expect_fail(try_encode("{\"train\": [}", &e), &e, TRMX_EFORMAT, "line 1, column 12: bad JSON");
	expect_fail(try_encode("{\"test\": [\n  {\"input\": [[1, 2,]]}]}", &e), &e, TRMX_EFORMAT, "line 2, column");
	expect_fail(try_encode("{\"train\": [{\"input\": [[1, \"x\"]], \"output\": [[1]]}]}", &e), &e, TRMX_EFORMAT,
		    "train[0].input[0][1]: expected a colour 0-9, found a string");
	expect_fail(try_encode("{\"test\": [{\"input\": [[1,2,3],[4,5]]}]}", &e), &e, TRMX_EFORMAT,
		    "test[0].input[1]: expected 3 cells like row 0, found 2");
	expect_fail(try_encode("{\"test\": [{\"input\": [[1]]}, {\"input\": [[1]], \"output\": [[1],[1,1]]}]}", &e), &e,
		    TRMX_EFORMAT, "test[1].output[1]: expected 1 cells like row 0, found 2");
	expect_fail(try_encode("[[1, 10]]", &e), &e, TRMX_EFORMAT, "grid[0][1]: expected a colour 0-9, found 10");
	expect_fail(try_encode("[[1, -1]]", &e), &e, TRMX_EFORMAT, "grid[0][1]: expected a colour 0-9, found -1");
	expect_fail(try_encode("[[1.5]]", &e), &e, TRMX_EFORMAT, "grid[0][0]: expected a colour 0-9, found a real number");
	expect_fail(try_encode("[[1], 2]", &e), &e, TRMX_EFORMAT, "grid[1]: expected a row (an array of colours), found an integer");
	expect_fail(try_encode("[]", &e), &e, TRMX_EFORMAT, "grid: expected at least one row, found an empty array");
	expect_fail(try_encode("[[]]", &e), &e, TRMX_EFORMAT, "grid[0]: expected at least one cell, found an empty row");
	expect_fail(try_encode("{\"train\": [{\"input\": [[1]]}]}", &e), &e, TRMX_EFORMAT, "train[0]: no \"output\"");
	expect_fail(try_encode("{\"train\": {\"input\": [[1]]}}", &e), &e, TRMX_EFORMAT,
		    "train: expected an array of pairs, found an object");
	expect_fail(try_encode("{\"train\": [[[1]]]}", &e), &e, TRMX_EFORMAT,
		    "train[0]: expected an object with \"input\" and \"output\", found an array");
	expect_fail(try_encode("{\"a1\": {\"test\": [{\"input\": \"x\"}]}}", &e), &e, TRMX_EFORMAT,
		    "a1.test[0].input: expected a grid (an array of rows), found a string");
	expect_fail(try_encode("{\"a1\": 3}", &e), &e, TRMX_EFORMAT, "a1: expected an ARC task (an object), found an integer");
	expect_fail(try_encode("{}", &e), &e, TRMX_EFORMAT, "expected an ARC task, found an empty object");
	expect_fail(try_encode("{\"test\": [], \"test\": []}", &e), &e, TRMX_EFORMAT, "duplicate object key");
	expect_fail(try_encode("012\n01\n", &e), &e, TRMX_EFORMAT, "line 2: expected 3 cells like the first row, found 2");
	expect_fail(try_encode("012\n0a2\n", &e), &e, TRMX_EFORMAT, "line 2, column 2: expected a colour digit 0-9, found 'a'");
	expect_fail(try_encode("\n\n", &e), &e, TRMX_EFORMAT, "no ARC grid in the input (empty)");
	/* Grids too large. */
	char big[8192];
	size_t k = (size_t)snprintf(big, sizeof big, "[");
	for (int r = 0; r < 31; r++)
		k += (size_t)snprintf(big + k, sizeof big - k, "%s[1]", r ? "," : "");
	snprintf(big + k, sizeof big - k, "]");
	expect_fail(try_encode(big, &e), &e, TRMX_ELIMIT, "grid: 31 rows; the limit is 30 (TRMX_ARC_GRID_MAX)");
	k = (size_t)snprintf(big, sizeof big, "{\"test\": [{\"input\": [[");
	for (int c = 0; c < 31; c++)
		k += (size_t)snprintf(big + k, sizeof big - k, "%s0", c ? "," : "");
	snprintf(big + k, sizeof big - k, "]]}]}");
	expect_fail(try_encode(big, &e), &e, TRMX_ELIMIT, "test[0].input[0]: 31 cells; the limit is 30");
	k = 0;
	for (int r = 0; r < 31; r++)
		k += (size_t)snprintf(big + k, sizeof big - k, "0\n");
	expect_fail(try_encode(big, &e), &e, TRMX_ELIMIT, "line 31: more than 30 rows");
	/* Too many pairs. */
	size_t cap = 64 + 40 * (TRMX_ARC_PAIRS_MAX + 1);
	char *many = malloc(cap);
	assert_non_null(many);
	k = (size_t)snprintf(many, cap, "{\"train\": [");
	for (int i = 0; i <= TRMX_ARC_PAIRS_MAX; i++)
		k += (size_t)snprintf(many + k, cap - k, "%s{\"input\":[[1]],\"output\":[[1]]}", i ? "," : "");
	snprintf(many + k, cap - k, "]}");
	expect_fail(try_encode(many, &e), &e, TRMX_ELIMIT, "train: 257 pairs; the limit is 256 (TRMX_ARC_PAIRS_MAX)");
	free(many);
	/* Parameters. */
	trmx_task *t = NULL;
	expect_fail(trmx_task_open(&t, "arc", "canvas=20", &e), &e, TRMX_EINVAL, "arc: unknown parameter 'canvas' (known: none)");
}

static void test_check_and_render(void **state)
{
	(void)state;
	trmx_task *t = open_arc();
	trmx_error e = { 0, "" };
	int32_t want[900], ans[900];
	trmx_check chk = TRMX_CHECK_INIT;
	assert_int_equal(encode1(t, "[[1,2,3],[4,5,6],[7,8,9]]", want, NULL, NULL, &e), 0);
	assert_int_equal(trmx_task_check(t, NULL, want, want, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
	assert_int_equal(encode1(t, "[[1,2,3],[4,0,6],[7,8,9]]", ans, NULL, NULL, &e), 0);
	assert_int_equal(trmx_task_check(t, NULL, ans, want, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_INVALID);
	assert_int_equal(chk.problem, TRMX_CHECK_MISMATCH);
	assert_int_equal(chk.ncells, 1);
	assert_int_equal(chk.cells[0], 31);
	assert_non_null(strstr(chk.message, "1 of 9 cells differ from the expected grid (first: row 2, column 2)"));
	assert_int_equal(encode1(t, "[[1,2,3],[4,5,6]]", ans, NULL, NULL, &e), 0);
	assert_int_equal(trmx_task_check(t, NULL, ans, want, &chk, &e), 0);
	assert_int_equal(chk.problem, TRMX_CHECK_SHAPE);
	assert_non_null(strstr(chk.message, "the answer is 2x3; expected 3x3"));
	assert_int_equal(trmx_task_check(t, NULL, ans, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_UNKNOWN);
	assert_int_equal(chk.problem, TRMX_CHECK_NONE);

	uint8_t hl[900] = { 0 };
	hl[1] = 1;
	trmx_render_options o = TRMX_RENDER_OPTIONS_INIT;
	o.highlight = hl;
	char *s = NULL;
	assert_int_equal(trmx_task_render(t, ans, &o, &s, &e), 0);
	assert_string_equal(s, " 1*2 3\n 4 5 6\n");
	trmx_task_text_free(s);
	o.color = TRMX_COLOR_TRUE;
	assert_int_equal(trmx_task_render(t, ans, &o, &s, &e), 0);
	assert_non_null(strstr(s, "\033[48;2;0;116;217m  ")); /* colour 1, blue */
	assert_non_null(strstr(s, "<>"));                     /* the highlighted cell */
	trmx_task_text_free(s);
	o.color = TRMX_COLOR_256;
	assert_int_equal(trmx_task_render(t, ans, &o, &s, &e), 0);
	assert_non_null(strstr(s, "\033[48;5;"));
	trmx_task_text_free(s);
	trmx_task_free(t);
}

/* ---- The public ARC folders, when present -------------------------------------------------- */

static int shared_folder(trmx_task *t, const char *dir)
{
	trmx_dataset *ds = NULL;
	trmx_error e = { 0, "" };
	trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
	if (trmx_dataset_load(&ds, t, dir, &o, &e) < 0)
		fail_msg("%s: %s", dir, e.message);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	int32_t *in = malloc(900 * sizeof *in), *label = malloc(900 * sizeof *label);
	assert_non_null(in);
	assert_non_null(label);
	for (int64_t p = 0; p < v.puzzles; p++) {
		const char *name = trmx_dataset_puzzle_name(ds, p);
		assert_non_null(name);
		assert_int_equal(v.puzzle_identifiers[p], p + 1);
		/* Find the file: the folder itself, or one level down (ConceptARC's corpus). */
		char path[1024];
		struct stat st;
		snprintf(path, sizeof path, "%s/%s.json", dir, name);
		if (stat(path, &st) != 0) {
			DIR *d = opendir(dir);
			struct dirent *de;
			while (d && (de = readdir(d))) {
				if (de->d_name[0] == '.')
					continue;
				snprintf(path, sizeof path, "%s/%s/%s.json", dir, de->d_name, name);
				if (stat(path, &st) == 0)
					break;
			}
			if (d)
				closedir(d);
		}
		size_t len;
		char *text = read_file(path, &len);
		assert_non_null(text);
		json_error_t je;
		json_t *root = json_loadb(text, len, 0, &je);
		assert_non_null(root);
		int64_t k = v.puzzle_indices[p];
		static const char *const parts[2] = { "train", "test" };
		for (int q = 0; q < 2; q++) {
			json_t *arr = json_object_get(root, parts[q]);
			for (size_t i = 0; i < json_array_size(arr); i++, k++) {
				json_t *pair = json_array_get(arr, i);
				assert_int_equal(trmx_dataset_example(ds, k, in, label, &e), 0);
				assert_grid(t, in, json_object_get(pair, "input"));
				if (json_object_get(pair, "output"))
					assert_grid(t, label, json_object_get(pair, "output"));
			}
		}
		assert_int_equal(k, v.puzzle_indices[p + 1]);
		json_decref(root);
		free(text);
	}
	int n = (int)v.puzzles;
	free(in);
	free(label);
	trmx_dataset_free(ds);
	return n;
}

/* A sample of every public source, shipped with the tests (tests/fixtures/tasks/arc-public): runs
 * everywhere, CI included. */
static void test_public_arc_sample(void **state)
{
	(void)state;
	trmx_task *t = open_arc();
	assert_int_equal(shared_folder(t, FIXTURES "/arc-public/arc-agi-1-training"), 3);
	assert_int_equal(shared_folder(t, FIXTURES "/arc-public/arc-agi-1-evaluation"), 2);
	assert_int_equal(shared_folder(t, FIXTURES "/arc-public/arc-agi-2-evaluation"), 2);
	assert_int_equal(shared_folder(t, FIXTURES "/arc-public/conceptarc"), 2);
	trmx_task_free(t);
}

/* Every task of the public folders, where they sit beside the repository. */
static void test_shared_arc_data(void **state)
{
	(void)state;
	struct stat st;
	if (stat(SHARED_ARC "/arc-agi-1/data/training", &st) != 0) {
		print_message("no " SHARED_ARC " beside the repository: its 1,080 tasks are not read here "
			      "(test_public_arc_sample reads a sample of each source)\n");
		skip();
	}
	trmx_task *t = open_arc();
	assert_int_equal(shared_folder(t, SHARED_ARC "/arc-agi-1/data/training"), 400);
	assert_int_equal(shared_folder(t, SHARED_ARC "/arc-agi-1/data/evaluation"), 400);
	if (stat(SHARED_ARC "/arc-agi-2/data/evaluation", &st) == 0)
		assert_int_equal(shared_folder(t, SHARED_ARC "/arc-agi-2/data/evaluation"), 120);
	if (stat(SHARED_ARC "/conceptarc/corpus", &st) == 0)
		assert_int_equal(shared_folder(t, SHARED_ARC "/conceptarc/corpus"), 160);
	trmx_task_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_canvas),
		cmocka_unit_test(test_crop),
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_fixture_tasks),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_check_and_render),
		cmocka_unit_test(test_public_arc_sample),
		cmocka_unit_test(test_shared_arc_data),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
