/*
 * sudoku.c — the `sudoku` codec: sides 4 (2x2 boxes), 6 (boxes of 2 rows by 3 columns) and 9.
 *
 * Tokens (docs/TASKS.md; the official dataset/build_sudoku_dataset.py; the same rule for every
 * size): 0 PAD (never written), 1 blank, digit d -> d+1; seq_len size², vocab size+2, row-major.
 *
 * Text read by encode, one or more puzzles:
 *   - one puzzle per line: size² characters, '1'..'9' (up to the size) and '.' or '0' for a blank;
 *   - grids: size rows of size cells, with or without separators (spaces, tabs, '|') and box lines
 *     made of '-', '+', '=', '|' and spaces; grids one after another;
 *   - CSV rows: puzzle,solution[,rating] or source,question,answer,rating, header optional.
 * Decoding writes the LINE style ("53..7....") or the GRID style (box lines, as `trmx gen
 * --format text` prints); both read back to the same tokens.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

struct sudoku {
	int n;
	sudoku_geom g;
};

static int sudoku_open(void **state, const trmx_task_param *p, size_t np, trmx_error *err)
{
	static const char *const known[] = { "size", NULL };
	long size;
	int rc;
	if ((rc = trmx__params_check(p, np, known, "sudoku", err)) < 0)
		return rc;
	if ((rc = trmx__param_int(p, np, "size", 1, TRMX_SUDOKU_SIZE_MAX, 9, "sudoku", "TRMX_SUDOKU_SIZE_MAX", &size, err)) <
	    0) {
		if (rc == TRMX_ELIMIT)
			return rc;
		return trmx_error_set(err, TRMX_EINVAL, "sudoku: size must be 4, 6 or 9, not '%s'",
				      trmx__param_get(p, np, "size"));
	}
	if (trmx_sudoku_box((int)size, NULL, NULL) < 0)
		return trmx_error_set(err, TRMX_EINVAL, "sudoku: size must be 4, 6 or 9, not %ld", size);
	struct sudoku *s = trmx_xcalloc(1, sizeof *s);
	if (!s)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory opening sudoku");
	s->n = (int)size;
	trmx__sudoku_geom_init(&s->g, s->n, NULL);
	*state = s;
	return 0;
}

static void sudoku_close(void *state)
{
	free(state);
}

static int sudoku_seq_len(const void *state)
{
	const struct sudoku *s = state;
	return s->n * s->n;
}

static int sudoku_vocab(const void *state)
{
	const struct sudoku *s = state;
	return s->n + 2;
}

/* ---- encode -------------------------------------------------------------------------------- */

/* Token of a cell character, or -1. */
static int cell_token(const struct sudoku *s, char c)
{
	if (c == '.' || c == '0')
		return 1;
	if (c >= '1' && c <= '0' + s->n)
		return c - '0' + 1;
	return -1;
}

static int bad_cell(const struct sudoku *s, const trmx_task_input *in, const tline *l, size_t i,
		    trmx_error *err)
{
	char cb[16];
	return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, l->col0 + (int)i,
				   "expected a digit 1-%d, '.' or '0', found %s", s->n, trmx__task_char_name(l->p[i], cb));
}

static int emit(trmx_task_sink *sink, const int32_t *tok, int64_t puzzle, int64_t line, trmx_error *err)
{
	trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, tok, NULL, TRMX_EXAMPLE_QUERY, puzzle, NULL, line };
	return sink->add(sink, &ex, err);
}

static bool is_box_line(const tline *l)
{
	bool mark = false;
	for (size_t i = 0; i < l->len; i++) {
		char c = l->p[i];
		if (c == '-' || c == '+' || c == '=')
			mark = true;
		else if (c != '|' && c != ' ' && c != '\t')
			return false;
	}
	return mark;
}

static int sudoku_encode(void *state, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	struct sudoku *s = state;
	int n = s->n, cells = n * n, rc = 0;
	if (trmx__text_is_csv(in))
		return trmx__csv_encode(&trmx_task_codec_sudoku, state, cells, in, sink, err);
	int32_t tok[TRMX_SUDOKU_SIZE_MAX * TRMX_SUDOKU_SIZE_MAX];
	tcursor c;
	tline l;
	trmx__tcursor_init(&c, in);
	int64_t puzzles = 0, grid_start = 0, last_line = 0;
	int rows = 0, mode = 0; /* 0 undecided, 1 one puzzle per line, 2 grid */
	while (trmx__tcursor_next(&c, &l, &rc, err)) {
		last_line = l.no;
		if (trmx__tline_blank(&l)) {
			if (mode == 2 && rows > 0)
				return trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, 0,
							   "blank line inside a grid: expected %d rows, found %d", n, rows);
			continue;
		}
		trmx__tline_trim(&l);
		if (mode == 0)
			mode = l.len == (size_t)cells ? 1 : 2;
		if (mode == 1) {
			if (l.len != (size_t)cells)
				return trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, 0,
							   "expected %d cells (one puzzle per line), found %zu characters",
							   cells, l.len);
			for (size_t i = 0; i < l.len; i++) {
				if ((tok[i] = cell_token(s, l.p[i])) < 0)
					return bad_cell(s, in, &l, i, err);
			}
			if ((rc = emit(sink, tok, puzzles++, l.no, err)) < 0)
				return rc;
			continue;
		}
		if (is_box_line(&l))
			continue;
		int found = 0;
		bool separators = false;
		for (size_t i = 0; i < l.len; i++) {
			char ch = l.p[i];
			if (ch == ' ' || ch == '\t' || ch == '|') {
				separators = true;
				continue;
			}
			int t = cell_token(s, ch);
			if (t < 0)
				return bad_cell(s, in, &l, i, err);
			if (found < n)
				tok[rows * n + found] = t;
			found++;
		}
		if (found != n) {
			if (!separators && rows == 0 && found > n)
				return trmx__task_error_at(
					err, TRMX_EFORMAT, in, l.no, 0,
					"expected %d characters (one puzzle per line) or %d (a grid row), found %d", cells,
					n, found);
			return trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, 0,
						   "expected %d cells in a grid row, found %d", n, found);
		}
		if (rows == 0)
			grid_start = l.no;
		if (++rows == n) {
			if ((rc = emit(sink, tok, puzzles++, grid_start, err)) < 0)
				return rc;
			rows = 0;
		}
	}
	if (rc < 0)
		return rc;
	if (rows > 0)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, last_line, 0, "the grid ends after %d rows; expected %d",
					   rows, n);
	if (puzzles == 0)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "no %dx%d Sudoku in the input (empty)", n, n);
	return 0;
}

/* ---- decode -------------------------------------------------------------------------------- */

static char cell_char(int32_t t)
{
	return t == 1 ? '.' : (char)('0' + t - 1);
}

static void grid_row_template(const struct sudoku *s, trmx_buf *b, const int32_t *row)
{
	for (int c = 0; c < s->n; c++) {
		if (c > 0)
			trmx_buf_put(b, c % s->g.bc == 0 ? " | " : " ");
		trmx_buf_putc(b, row ? cell_char(row[c]) : 'x');
	}
}

/* The line between boxes: a row's template with '+' for '|' and '-' for the rest. */
static void box_line(const struct sudoku *s, trmx_buf *b)
{
	size_t from = b->n;
	grid_row_template(s, b, NULL);
	for (size_t i = from; !b->failed && i < b->n; i++)
		b->s[i] = b->s[i] == '|' ? '+' : '-';
}

static int check_tokens(const struct sudoku *s, const int32_t *tokens, trmx_error *err)
{
	for (int i = 0; i < s->n * s->n; i++) {
		if (tokens[i] < 1 || tokens[i] > s->n + 1)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "token %d at position %d (row %d, column %d) is not a Sudoku symbol (1 blank, 2..%d digits)",
					      (int)tokens[i], i, i / s->n + 1, i % s->n + 1, s->n + 1);
	}
	return 0;
}

static int sudoku_decode(void *state, const int32_t *tokens, trmx_text_style style, char *buf,
			 size_t cap, size_t *len, trmx_error *err)
{
	struct sudoku *s = state;
	int n = s->n, rc;
	if ((rc = check_tokens(s, tokens, err)) < 0)
		return rc;
	trmx_buf b = { 0 };
	if (style == TRMX_TEXT_LINE) {
		for (int i = 0; i < n * n; i++)
			trmx_buf_putc(&b, cell_char(tokens[i]));
	} else {
		for (int r = 0; r < n; r++) {
			if (r > 0 && r % s->g.br == 0) {
				box_line(s, &b);
				trmx_buf_putc(&b, '\n');
			}
			grid_row_template(s, &b, tokens + r * n);
			trmx_buf_putc(&b, '\n');
		}
	}
	rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

/* ---- check --------------------------------------------------------------------------------- */

static void list_cells(trmx_check *out, const uint8_t *mark, int cells)
{
	out->ncells = out->ncells_total = 0;
	for (int i = 0; i < cells; i++) {
		if (!mark[i])
			continue;
		if (out->ncells < TRMX_CHECK_CELLS_MAX)
			out->cells[out->ncells++] = i;
		out->ncells_total++;
	}
}

static const char *unit_name(const struct sudoku *s, int u, int *index)
{
	int n = s->n;
	*index = u % n + 1;
	return u < n ? "row" : u < 2 * n ? "column" : "box";
}

static int sudoku_check(void *state, const int32_t *puzzle, const int32_t *answer,
			const int32_t *expected, trmx_check *out, trmx_error *err)
{
	struct sudoku *s = state;
	const sudoku_geom *g = &s->g;
	int n = s->n, cells = n * n, rc;
	uint8_t bad[TRMX_SUDOKU_SIZE_MAX * TRMX_SUDOKU_SIZE_MAX] = { 0 };
	uint8_t changed[sizeof bad] = { 0 }, conflict[sizeof bad] = { 0 }, blank[sizeof bad] = { 0 };
	int nbad = 0, nchanged = 0, nconflict = 0, nblank = 0, first_bad = -1, first_changed = -1;
	char conflict_msg[200] = "";
	(void)expected;
	if (puzzle && (rc = check_tokens(s, puzzle, err)) < 0)
		return trmx_error_prefix(err, "puzzle");
	for (int i = 0; i < cells; i++) {
		if (answer[i] < 1 || answer[i] > n + 1) {
			bad[i] = 1;
			if (nbad++ == 0)
				first_bad = i;
		} else if (puzzle && puzzle[i] >= 2 && answer[i] != puzzle[i]) {
			changed[i] = 1;
			if (nchanged++ == 0)
				first_changed = i;
		} else if (answer[i] == 1) {
			blank[i] = 1;
			nblank++;
		}
	}
	for (int u = 0; u < g->nunits; u++) {
		for (int d = 2; d <= n + 1; d++) {
			int at[TRMX_SUDOKU_SIZE_MAX], k = 0;
			for (int i = 0; i < n; i++) {
				int c = g->unit[u][i];
				if (answer[c] == d)
					at[k++] = c;
			}
			if (k < 2)
				continue;
			for (int j = 0; j < k; j++) {
				nconflict += !conflict[at[j]];
				conflict[at[j]] = 1;
			}
			if (!conflict_msg[0]) {
				int idx;
				const char *un = unit_name(s, u, &idx);
				char times[16];
				snprintf(times, sizeof times, k == 2 ? "twice" : "%d times", k);
				snprintf(conflict_msg, sizeof conflict_msg,
					 "%s %d holds %d %s (row %d, column %d and row %d, column %d)", un, idx, d - 1,
					 times, at[0] / n + 1, at[0] % n + 1, at[1] / n + 1, at[1] % n + 1);
			}
		}
	}
	out->verdict = TRMX_VERDICT_INVALID;
	if (nbad) {
		out->problem = TRMX_CHECK_BAD_TOKEN;
		list_cells(out, bad, cells);
		snprintf(out->message, sizeof out->message,
			 "%d cell%s hold%s no Sudoku symbol (row %d, column %d has token %d)", nbad,
			 nbad > 1 ? "s" : "", nbad > 1 ? "" : "s", first_bad / n + 1, first_bad % n + 1,
			 (int)answer[first_bad]);
	} else if (nchanged) {
		out->problem = TRMX_CHECK_GIVEN_CHANGED;
		list_cells(out, changed, cells);
		snprintf(out->message, sizeof out->message,
			 "%d given%s changed (row %d, column %d: %d became %d)", nchanged,
			 nchanged > 1 ? "s" : "", first_changed / n + 1, first_changed % n + 1,
			 (int)puzzle[first_changed] - 1, (int)answer[first_changed] - 1);
	} else if (nconflict) {
		out->problem = TRMX_CHECK_CONFLICT;
		list_cells(out, conflict, cells);
		snprintf(out->message, sizeof out->message, "%s; %d cell%s in conflict%s", conflict_msg,
			 nconflict, nconflict > 1 ? "s" : "", nblank ? ", and blanks remain" : "");
	} else if (nblank) {
		out->problem = TRMX_CHECK_INCOMPLETE;
		list_cells(out, blank, cells);
		snprintf(out->message, sizeof out->message, "incomplete: %d blank cell%s", nblank,
			 nblank > 1 ? "s" : "");
	} else {
		out->verdict = TRMX_VERDICT_VALID;
		out->problem = TRMX_CHECK_NONE;
		snprintf(out->message, sizeof out->message,
			 "valid: every row, column and box holds 1-%d once%s", n,
			 puzzle ? ", and the givens are kept" : "");
	}
	return 0;
}

/* ---- render -------------------------------------------------------------------------------- */

static int sudoku_render(void *state, const int32_t *tokens, const trmx_render_options *o, char *buf,
			 size_t cap, size_t *len, trmx_error *err)
{
	struct sudoku *s = state;
	int n = s->n;
	trmx_buf b = { 0 };
	trmx_color mode = o->color;
	const rgb given = { 230, 230, 230 }, filled = { 80, 200, 255 }, dim = { 110, 110, 110 },
		  badc = { 255, 80, 80 }, hl = { 255, 215, 0 }, black = { 0, 0, 0 }, line = { 120, 120, 120 };
	for (int r = 0; r < n; r++) {
		if (r > 0 && r % s->g.br == 0) {
			trmx__ansi_fg(&b, mode, line);
			trmx_buf_putc(&b, '-');
			box_line(s, &b);
			trmx__ansi_reset(&b, mode);
			trmx_buf_putc(&b, '\n');
		}
		for (int c = 0; c < n; c++) {
			int i = r * n + c;
			if (c > 0 && c % s->g.bc == 0) {
				trmx__ansi_fg(&b, mode, line);
				trmx_buf_put(&b, " |");
				trmx__ansi_reset(&b, mode);
			}
			int32_t t = tokens[i];
			bool ok = t >= 1 && t <= n + 1;
			bool hi = o->highlight && o->highlight[i];
			bool is_given = o->puzzle && o->puzzle[i] >= 2 && o->puzzle[i] == t;
			char sym = ok ? cell_char(t) : '?';
			if (mode == TRMX_COLOR_NONE) {
				trmx_buf_putc(&b, hi ? '*' : ' ');
				trmx_buf_putc(&b, sym);
				continue;
			}
			if (hi) {
				trmx__ansi_bg(&b, mode, hl);
				trmx__ansi_fg(&b, mode, black);
			} else if (!ok) {
				trmx__ansi_fg(&b, mode, badc);
			} else if (t == 1) {
				trmx__ansi_fg(&b, mode, dim);
			} else if (is_given || !o->puzzle) {
				trmx__ansi_bold(&b, mode);
				trmx__ansi_fg(&b, mode, given);
			} else {
				trmx__ansi_fg(&b, mode, filled);
			}
			trmx_buf_putc(&b, ' ');
			trmx_buf_putc(&b, sym);
			trmx__ansi_reset(&b, mode);
		}
		trmx_buf_putc(&b, '\n');
	}
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

const trmx_task_codec trmx_task_codec_sudoku = {
	.abi_version = TRMX_TASK_ABI_VERSION,
	.struct_size = sizeof(trmx_task_codec),
	.name = "sudoku",
	.description = "Sudoku 4x4, 6x6 and 9x9 (official ids: 1 blank, digit d -> d+1)",
	.flags = 0,
	.open = sudoku_open,
	.close = sudoku_close,
	.seq_len = sudoku_seq_len,
	.vocab_size = sudoku_vocab,
	.encode = sudoku_encode,
	.decode = sudoku_decode,
	.check = sudoku_check,
	.render = sudoku_render,
};
