/*
 * arc.c — the `arc` codec: ARC-AGI grids on the official 30x30 canvas (docs/TASKS.md; the
 * official dataset/build_arc_dataset.py).
 *
 * Tokens: 0 PAD, 1 EOS, colour c -> c+2; vocab 12, seq_len 900. A grid of h x w sits at the
 * top-left corner (the test-split placement; translation is a training augmentation); EOS fills
 * row h (columns 0..w-1) when h < 30 and column w (rows 0..h-1) when w < 30; the corner (h, w)
 * and everything beyond stay PAD. Decoding crops the largest top-left rectangle of colour tokens,
 * as the official evaluator does, so a model's answer decodes to the size it drew.
 *
 * Text read by encode (JSON through jansson):
 *   - a task {"train": [{"input": g, "output": g}, ...], "test": [{"input": g[, "output": g]}]}:
 *     demonstrations (role DEMO, with labels) then tests (role QUERY, labelled when the output is
 *     there), all one puzzle;
 *   - a combined file {"<id>": task, ...} (the Kaggle layout): one puzzle per id, named by it;
 *   - a pair {"input": g, "output": g}, or a bare grid [[...], ...];
 *   - a grid as lines of digits (the GRID style), grids split by blank lines.
 * JSON type errors name the path of the value: "train[1].output[2][0]: expected a colour 0-9,
 * found a string".
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

#define CANVAS TRMX_ARC_GRID_MAX
#define SEQ (CANVAS * CANVAS)

void trmx__arc_grid_to_tokens(const int32_t *grid, int rows, int cols, int32_t *tokens)
{
	memset(tokens, 0, sizeof(int32_t) * SEQ);
	for (int r = 0; r < rows; r++)
		for (int c = 0; c < cols; c++)
			tokens[r * CANVAS + c] = grid[r * cols + c] + 2;
	if (rows < CANVAS)
		for (int c = 0; c < cols; c++)
			tokens[rows * CANVAS + c] = 1;
	if (cols < CANVAS)
		for (int r = 0; r < rows; r++)
			tokens[r * CANVAS + cols] = 1;
}

void trmx__arc_crop(const int32_t *tokens, int32_t *grid, int *rows, int *cols)
{
	int best_area = 0, best_r = 0, best_c = 0, num_c = CANVAS;
	for (int nr = 1; nr <= CANVAS; nr++) {
		for (int c = 1; c <= num_c; c++) {
			int32_t x = tokens[(nr - 1) * CANVAS + c - 1];
			if (x < 2 || x > 11) {
				num_c = c - 1;
				break;
			}
		}
		if (nr * num_c > best_area) {
			best_area = nr * num_c;
			best_r = nr;
			best_c = num_c;
		}
	}
	for (int r = 0; r < best_r; r++)
		for (int c = 0; c < best_c; c++)
			grid[r * best_c + c] = tokens[r * CANVAS + c] - 2;
	*rows = best_r;
	*cols = best_c;
}

static int arc_open(void **state, const trmx_task_param *p, size_t np, trmx_error *err)
{
	static const char *const known[] = { NULL };
	int rc = trmx__params_check(p, np, known, "arc", err);
	if (rc < 0)
		return rc;
	static int dummy;
	*state = &dummy;
	return 0;
}

static void arc_close(void *state)
{
	(void)state;
}

static int arc_seq_len(const void *state)
{
	(void)state;
	return SEQ;
}

static int arc_vocab(const void *state)
{
	(void)state;
	return 12;
}

/* ---- JSON ---------------------------------------------------------------------------------- */

static const char *json_kind(const json_t *j)
{
	switch (json_typeof(j)) {
	case JSON_OBJECT: return "an object";
	case JSON_ARRAY: return "an array";
	case JSON_STRING: return "a string";
	case JSON_INTEGER: return "an integer";
	case JSON_REAL: return "a real number";
	case JSON_TRUE: return "true";
	case JSON_FALSE: return "false";
	case JSON_NULL: return "null";
	}
	return "a value";
}

static int json_grid(const json_t *g, const char *path, const trmx_task_input *in, int32_t *grid,
		     int *rows, int *cols, trmx_error *err)
{
	if (!json_is_array(g))
		return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "%s: expected a grid (an array of rows), found %s",
					   path, json_kind(g));
	size_t h = json_array_size(g);
	if (h == 0)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0,
					   "%s: expected at least one row, found an empty array", path);
	if (h > CANVAS)
		return trmx__task_error_at(err, TRMX_ELIMIT, in, 0, 0, "%s: %zu rows; the limit is %d (TRMX_ARC_GRID_MAX)",
					   path, h, CANVAS);
	size_t w = 0;
	for (size_t r = 0; r < h; r++) {
		const json_t *row = json_array_get(g, r);
		if (!json_is_array(row))
			return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0,
						   "%s[%zu]: expected a row (an array of colours), found %s", path, r,
						   json_kind(row));
		size_t n = json_array_size(row);
		if (r == 0) {
			if (n == 0)
				return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0,
							   "%s[0]: expected at least one cell, found an empty row", path);
			if (n > CANVAS)
				return trmx__task_error_at(err, TRMX_ELIMIT, in, 0, 0,
							   "%s[0]: %zu cells; the limit is %d (TRMX_ARC_GRID_MAX)", path, n,
							   CANVAS);
			w = n;
		} else if (n != w) {
			return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0,
						   "%s[%zu]: expected %zu cells like row 0, found %zu", path, r, w, n);
		}
		for (size_t c = 0; c < n; c++) {
			const json_t *v = json_array_get(row, c);
			if (!json_is_integer(v))
				return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0,
							   "%s[%zu][%zu]: expected a colour 0-9, found %s", path, r, c,
							   json_kind(v));
			json_int_t x = json_integer_value(v);
			if (x < 0 || x > 9)
				return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0,
							   "%s[%zu][%zu]: expected a colour 0-9, found %lld", path, r, c,
							   (long long)x);
			grid[r * w + c] = (int32_t)x;
		}
	}
	*rows = (int)h;
	*cols = (int)w;
	return 0;
}

struct emitter {
	const trmx_task_input *in;
	trmx_task_sink *sink;
	int32_t grid[SEQ], in_tok[SEQ], out_tok[SEQ];
};

static int emit_pair(struct emitter *e, const json_t *input, const json_t *output, const char *path,
		     trmx_example_role role, int64_t puzzle, const char *name, trmx_error *err)
{
	char sub[256];
	int rows, cols, rc;
	snprintf(sub, sizeof sub, "%s%sinput", path, *path ? "." : "");
	if ((rc = json_grid(input, sub, e->in, e->grid, &rows, &cols, err)) < 0)
		return rc;
	trmx__arc_grid_to_tokens(e->grid, rows, cols, e->in_tok);
	if (output) {
		snprintf(sub, sizeof sub, "%s%soutput", path, *path ? "." : "");
		if ((rc = json_grid(output, sub, e->in, e->grid, &rows, &cols, err)) < 0)
			return rc;
		trmx__arc_grid_to_tokens(e->grid, rows, cols, e->out_tok);
	}
	trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, e->in_tok, output ? e->out_tok : NULL, role, puzzle,
				 name, 0 };
	return e->sink->add(e->sink, &ex, err);
}

static int emit_task(struct emitter *e, const json_t *task, const char *prefix, int64_t puzzle,
		     const char *name, trmx_error *err)
{
	static const char *const keys[2] = { "train", "test" };
	char path[256];
	int rc;
	if (!json_is_object(task))
		return trmx__task_error_at(err, TRMX_EFORMAT, e->in, 0, 0, "%s: expected an ARC task (an object), found %s",
					   prefix, json_kind(task));
	const json_t *parts[2] = { json_object_get(task, "train"), json_object_get(task, "test") };
	if (!parts[0] && !parts[1])
		return trmx__task_error_at(err, TRMX_EFORMAT, e->in, 0, 0,
					   "%s%sexpected an ARC task with \"train\" and \"test\"", prefix,
					   *prefix ? ": " : "");
	for (int k = 0; k < 2; k++) {
		const json_t *arr = parts[k];
		if (!arr)
			continue;
		snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", keys[k]);
		if (!json_is_array(arr))
			return trmx__task_error_at(err, TRMX_EFORMAT, e->in, 0, 0,
						   "%s: expected an array of pairs, found %s", path, json_kind(arr));
		size_t n = json_array_size(arr);
		if (n > TRMX_ARC_PAIRS_MAX)
			return trmx__task_error_at(err, TRMX_ELIMIT, e->in, 0, 0,
						   "%s: %zu pairs; the limit is %d (TRMX_ARC_PAIRS_MAX)", path, n,
						   TRMX_ARC_PAIRS_MAX);
		for (size_t i = 0; i < n; i++) {
			const json_t *pair = json_array_get(arr, i);
			char ppath[280];
			snprintf(ppath, sizeof ppath, "%s[%zu]", path, i);
			if (!json_is_object(pair))
				return trmx__task_error_at(err, TRMX_EFORMAT, e->in, 0, 0,
							   "%s: expected an object with \"input\" and \"output\", found %s",
							   ppath, json_kind(pair));
			const json_t *input = json_object_get(pair, "input"), *output = json_object_get(pair, "output");
			if (!input)
				return trmx__task_error_at(err, TRMX_EFORMAT, e->in, 0, 0, "%s: no \"input\"", ppath);
			if (!output && k == 0)
				return trmx__task_error_at(err, TRMX_EFORMAT, e->in, 0, 0, "%s: no \"output\"", ppath);
			if ((rc = emit_pair(e, input, output, ppath, k == 0 ? TRMX_EXAMPLE_DEMO : TRMX_EXAMPLE_QUERY,
					    puzzle, name, err)) < 0)
				return rc;
		}
	}
	return 0;
}

static int encode_json(const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	json_error_t je;
	int rc = 0;
	if (in->len > TRMX_ARC_FILE_MAX)
		return trmx__task_error_at(err, TRMX_ELIMIT, in, 0, 0,
					   "JSON of %zu bytes; the limit is %u (TRMX_ARC_FILE_MAX)", in->len,
					   (unsigned)TRMX_ARC_FILE_MAX);
	json_t *root = json_loadb(in->text, in->len, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		int64_t line = je.line > 0 ? je.line + (in->first_line > 0 ? in->first_line - 1 : 0) : 0;
		int col = je.column > 0 ? je.column : 0;
		if (je.line == 1 && in->first_column > 1)
			col += in->first_column - 1;
		return trmx__task_error_at(err, TRMX_EFORMAT, in, line, col, "bad JSON: %s", je.text);
	}
	struct emitter *e = trmx_xmalloc(sizeof *e);
	if (!e) {
		json_decref(root);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading ARC JSON");
	}
	e->in = in;
	e->sink = sink;
	if (json_is_array(root)) {
		int rows, cols;
		rc = json_grid(root, "grid", in, e->grid, &rows, &cols, err);
		if (rc == 0) {
			trmx__arc_grid_to_tokens(e->grid, rows, cols, e->in_tok);
			trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, e->in_tok, NULL, TRMX_EXAMPLE_QUERY, 0, NULL, 0 };
			rc = sink->add(sink, &ex, err);
		}
	} else if (!json_is_object(root)) {
		rc = trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "expected an ARC task, a pair or a grid, found %s",
					 json_kind(root));
	} else if (json_object_get(root, "input")) {
		rc = emit_pair(e, json_object_get(root, "input"), json_object_get(root, "output"), "",
			       TRMX_EXAMPLE_QUERY, 0, NULL, err);
	} else if (json_object_get(root, "train") || json_object_get(root, "test")) {
		rc = emit_task(e, root, "", 0, NULL, err);
	} else {
		/* Combined file: {"id": task, ...}, in file order (jansson keeps insertion order). */
		size_t n = json_object_size(root);
		if (n == 0)
			rc = trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "expected an ARC task, found an empty object");
		else if (n > TRMX_ARC_TASKS_MAX)
			rc = trmx__task_error_at(err, TRMX_ELIMIT, in, 0, 0,
						 "%zu tasks; the limit is %d (TRMX_ARC_TASKS_MAX)", n, TRMX_ARC_TASKS_MAX);
		const char *key;
		json_t *task;
		int64_t puzzle = 0;
		if (rc == 0) {
			json_object_foreach(root, key, task) {
				char prefix[128];
				snprintf(prefix, sizeof prefix, "%s", key);
				if ((rc = emit_task(e, task, prefix, puzzle++, key, err)) < 0)
					break;
			}
		}
	}
	free(e);
	json_decref(root);
	return rc;
}

/* Grids as lines of digits (spaces between cells allowed), split by blank lines. */
static int encode_digits(const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	struct emitter *e = trmx_xmalloc(sizeof *e);
	if (!e)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading an ARC grid");
	tcursor cur;
	tline l;
	trmx__tcursor_init(&cur, in);
	int rows = 0, cols = 0, rc = 0;
	int64_t puzzles = 0, start = 0;
	for (;;) {
		bool more = trmx__tcursor_next(&cur, &l, &rc, err);
		if (rc < 0)
			goto done;
		if (!more || trmx__tline_blank(&l)) {
			if (rows > 0) {
				trmx__arc_grid_to_tokens(e->grid, rows, cols, e->in_tok);
				trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, e->in_tok, NULL, TRMX_EXAMPLE_QUERY,
							 puzzles++, NULL, start };
				if ((rc = sink->add(sink, &ex, err)) < 0)
					goto done;
				rows = 0;
			}
			if (!more)
				break;
			continue;
		}
		if (rows == CANVAS) {
			rc = trmx__task_error_at(err, TRMX_ELIMIT, in, l.no, 0, "more than %d rows (TRMX_ARC_GRID_MAX)",
						 CANVAS);
			goto done;
		}
		if (rows == 0)
			start = l.no;
		int n = 0;
		int32_t row[CANVAS];
		for (size_t i = 0; i < l.len; i++) {
			char ch = l.p[i];
			if (ch == ' ' || ch == '\t')
				continue;
			if (ch < '0' || ch > '9') {
				char cb[16];
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, l.col0 + (int)i,
							 "expected a colour digit 0-9, found %s",
							 trmx__task_char_name(ch, cb));
				goto done;
			}
			if (n == CANVAS) {
				rc = trmx__task_error_at(err, TRMX_ELIMIT, in, l.no, l.col0 + (int)i,
							 "more than %d cells in a row (TRMX_ARC_GRID_MAX)", CANVAS);
				goto done;
			}
			row[n++] = ch - '0';
		}
		if (rows == 0)
			cols = n;
		else if (n != cols) {
			rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, 0,
						 "expected %d cells like the first row, found %d", cols, n);
			goto done;
		}
		memcpy(e->grid + rows * cols, row, sizeof(int32_t) * (size_t)n);
		rows++;
	}
	if (puzzles == 0)
		rc = trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "no ARC grid in the input (empty)");
done:
	free(e);
	return rc;
}

static int arc_encode(void *state, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	(void)state;
	for (size_t i = 0; i < in->len; i++) {
		char c = in->text[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '{' || c == '[')
			return encode_json(in, sink, err);
		break;
	}
	return encode_digits(in, sink, err);
}

/* ---- decode, check, render ----------------------------------------------------------------- */

static int arc_decode(void *state, const int32_t *tokens, trmx_text_style style, char *buf, size_t cap,
		      size_t *len, trmx_error *err)
{
	(void)state;
	int32_t grid[SEQ];
	int rows, cols;
	trmx__arc_crop(tokens, grid, &rows, &cols);
	trmx_buf b = { 0 };
	if (style == TRMX_TEXT_LINE) {
		trmx_buf_putc(&b, '[');
		for (int r = 0; r < rows; r++) {
			trmx_buf_put(&b, r ? ",[" : "[");
			for (int c = 0; c < cols; c++) {
				if (c)
					trmx_buf_putc(&b, ',');
				trmx_buf_putc(&b, (char)('0' + grid[r * cols + c]));
			}
			trmx_buf_putc(&b, ']');
		}
		trmx_buf_putc(&b, ']');
	} else {
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < cols; c++)
				trmx_buf_putc(&b, (char)('0' + grid[r * cols + c]));
			trmx_buf_putc(&b, '\n');
		}
	}
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

static int arc_check(void *state, const int32_t *puzzle, const int32_t *answer, const int32_t *expected,
		     trmx_check *out, trmx_error *err)
{
	(void)state;
	(void)puzzle;
	(void)err;
	int32_t a[SEQ], x[SEQ];
	int ar, ac, xr, xc;
	trmx__arc_crop(answer, a, &ar, &ac);
	if (!expected) {
		out->verdict = TRMX_VERDICT_UNKNOWN;
		snprintf(out->message, sizeof out->message,
			 "unknown: a %dx%d grid, and no expected output to compare with", ar, ac);
		return 0;
	}
	trmx__arc_crop(expected, x, &xr, &xc);
	if (ar != xr || ac != xc) {
		out->verdict = TRMX_VERDICT_INVALID;
		out->problem = TRMX_CHECK_SHAPE;
		snprintf(out->message, sizeof out->message, "the answer is %dx%d; expected %dx%d", ar, ac, xr, xc);
		return 0;
	}
	for (int r = 0; r < ar; r++) {
		for (int c = 0; c < ac; c++) {
			if (a[r * ac + c] == x[r * ac + c])
				continue;
			if (out->ncells < TRMX_CHECK_CELLS_MAX)
				out->cells[out->ncells++] = r * CANVAS + c;
			out->ncells_total++;
		}
	}
	if (out->ncells_total) {
		out->verdict = TRMX_VERDICT_INVALID;
		out->problem = TRMX_CHECK_MISMATCH;
		snprintf(out->message, sizeof out->message,
			 "%d of %d cells differ from the expected grid (first: row %d, column %d)", out->ncells_total,
			 ar * ac, out->cells[0] / CANVAS + 1, out->cells[0] % CANVAS + 1);
		return 0;
	}
	out->verdict = TRMX_VERDICT_VALID;
	snprintf(out->message, sizeof out->message, "valid: matches the expected %dx%d grid", ar, ac);
	return 0;
}

/* The ARC palette of the official viewer. */
static const rgb palette[10] = {
	{ 0, 0, 0 },       { 0, 116, 217 },   { 255, 65, 54 }, { 46, 204, 64 },  { 255, 220, 0 },
	{ 170, 170, 170 }, { 240, 18, 190 },  { 255, 133, 27 }, { 127, 219, 255 }, { 135, 12, 37 },
};

static int arc_render(void *state, const int32_t *tokens, const trmx_render_options *o, char *buf,
		      size_t cap, size_t *len, trmx_error *err)
{
	(void)state;
	int32_t grid[SEQ];
	int rows, cols;
	trmx__arc_crop(tokens, grid, &rows, &cols);
	trmx_buf b = { 0 };
	trmx_color mode = o->color;
	if (rows == 0)
		trmx_buf_put(&b, "(no grid: the top-left token is not a colour)\n");
	for (int r = 0; r < rows; r++) {
		for (int c = 0; c < cols; c++) {
			int v = grid[r * cols + c];
			bool hi = o->highlight && o->highlight[r * CANVAS + c];
			if (mode == TRMX_COLOR_NONE) {
				trmx_buf_putc(&b, hi ? '*' : ' ');
				trmx_buf_putc(&b, (char)('0' + v));
				continue;
			}
			trmx__ansi_bg(&b, mode, palette[v]);
			if (hi) {
				rgb fg = v == 0 || v == 1 || v == 9 ? (rgb){ 255, 255, 255 } : (rgb){ 0, 0, 0 };
				trmx__ansi_fg(&b, mode, fg);
				trmx_buf_put(&b, "<>");
			} else {
				trmx_buf_put(&b, "  ");
			}
			trmx__ansi_reset(&b, mode);
		}
		trmx_buf_putc(&b, '\n');
	}
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

const trmx_task_codec trmx_task_codec_arc = {
	.abi_version = TRMX_TASK_ABI_VERSION,
	.struct_size = sizeof(trmx_task_codec),
	.name = "arc",
	.description = "ARC-AGI grids on the 30x30 canvas (0 PAD, 1 EOS, colour c -> c+2)",
	.flags = TRMX_TASK_CODEC_PUZZLE_IDS,
	.open = arc_open,
	.close = arc_close,
	.seq_len = arc_seq_len,
	.vocab_size = arc_vocab,
	.encode = arc_encode,
	.decode = arc_decode,
	.check = arc_check,
	.render = arc_render,
};
