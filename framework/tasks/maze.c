/*
 * maze.c — the `maze` codec and the maze generator.
 *
 * Tokens (docs/TASKS.md; the official dataset/build_maze_dataset.py): 0 PAD, '#' 1 wall, ' ' 2
 * open, 'S' 3 start, 'G' 4 goal, 'o' 5 path; vocab 6. A maze of side `size` is laid row-major on a
 * canvas of side `canvas` (default: size, so seq_len = size²; the official Maze-Hard is 30x30 =
 * 900). A smaller maze on a larger canvas sits in the top-left corner and the rest of the canvas is
 * wall, which a model trained on Maze-Hard has seen everywhere, unlike PAD, which it has never
 * seen.
 *
 * Text read by encode, one or more mazes:
 *   - one maze per line: size² characters (the official CSV field);
 *   - grids: `size` lines of `size` characters, mazes split by blank lines;
 *   - CSV rows: puzzle,solution[,rating] or source,question,answer,rating.
 * '.' is read as an open cell too (editors strip trailing spaces). A maze marked with its path
 * ('o') gives the label, and its input is the same maze with the path cleared.
 *
 * The checker asks that the 'o' cells and S and G form one simple 4-connected path (each path
 * cell with exactly two marked neighbours, S and G with one), through open cells only, and
 * compares its length with a BFS shortest path.
 *
 * The generator has three families (docs/TASKS.md, "Generators"): free (a tree on the squares
 * of even row and column, loops, no border), lattice (a perfect maze on the cells of odd row and
 * column inside a wall border) and lattice-loops (the same with walls between cells knocked
 * out); all keep G where exactly one shortest path from S reaches it, found by a BFS that counts
 * shortest paths. The free family's random draws are those of its first version, so a seed
 * gives the mazes it always gave (tests/cli/gen.test).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

#define SMAX TRMX_MAZE_SIZE_MAX
#define CELLS (SMAX * SMAX)

enum { T_PAD = 0, T_WALL = 1, T_OPEN = 2, T_START = 3, T_GOAL = 4, T_PATH = 5 };
static const char symbols[] = "?# SGo";

struct maze {
	int size, canvas;
	bool require_shortest;
};

static int maze_open(void **state, const trmx_task_param *p, size_t np, trmx_error *err)
{
	static const char *const known[] = { "size", "canvas", "require_shortest", NULL };
	long size, canvas, req;
	int rc;
	if ((rc = trmx__params_check(p, np, known, "maze", err)) < 0 ||
	    (rc = trmx__param_int(p, np, "size", TRMX_MAZE_SIZE_MIN, TRMX_MAZE_SIZE_MAX, 30, "maze", "TRMX_MAZE_SIZE_MAX",
				  &size, err)) < 0 ||
	    (rc = trmx__param_int(p, np, "canvas", size, TRMX_MAZE_SIZE_MAX, size, "maze", "TRMX_MAZE_SIZE_MAX", &canvas,
				  err)) < 0 ||
	    (rc = trmx__param_int(p, np, "require_shortest", 0, 1, 0, "maze", NULL, &req, err)) < 0)
		return rc;
	struct maze *m = trmx_xcalloc(1, sizeof *m);
	if (!m)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory opening maze");
	m->size = (int)size;
	m->canvas = (int)canvas;
	m->require_shortest = req != 0;
	*state = m;
	return 0;
}

static void maze_close(void *state)
{
	free(state);
}

static int maze_seq_len(const void *state)
{
	const struct maze *m = state;
	return m->canvas * m->canvas;
}

static int maze_vocab(const void *state)
{
	(void)state;
	return 6;
}

/* ---- encode -------------------------------------------------------------------------------- */

static int char_token(char c)
{
	switch (c) {
	case '#': return T_WALL;
	case ' ':
	case '.': return T_OPEN;
	case 'S': return T_START;
	case 'G': return T_GOAL;
	case 'o': return T_PATH;
	default: return -1;
	}
}

/* One maze being read: cells, where S and G were seen. */
struct reading {
	int32_t cell[CELLS];
	int rows;
	int64_t start_line;
	int64_t s_line, g_line;
	int s_col, g_col;
	bool path;
};

static int read_row(const struct maze *m, struct reading *rd, const tline *l, size_t off,
		    const trmx_task_input *in, trmx_error *err)
{
	int S = m->size;
	for (int c = 0; c < S; c++) {
		char ch = l->p[off + (size_t)c];
		int t = char_token(ch);
		int col = l->col0 + (int)off + c;
		if (t < 0) {
			char cb[16];
			return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, col,
						   "expected '#', ' ', '.', 'S', 'G' or 'o', found %s",
						   trmx__task_char_name(ch, cb));
		}
		if (t == T_START) {
			if (rd->s_line)
				return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, col,
							   "a second start 'S' (the first is at line %lld, column %d)",
							   (long long)rd->s_line, rd->s_col);
			rd->s_line = l->no, rd->s_col = col;
		} else if (t == T_GOAL) {
			if (rd->g_line)
				return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, col,
							   "a second goal 'G' (the first is at line %lld, column %d)",
							   (long long)rd->g_line, rd->g_col);
			rd->g_line = l->no, rd->g_col = col;
		} else if (t == T_PATH) {
			rd->path = true;
		}
		rd->cell[rd->rows * S + c] = t;
	}
	rd->rows++;
	return 0;
}

static int finish(const struct maze *m, struct reading *rd, const trmx_task_input *in, int64_t puzzle,
		  trmx_task_sink *sink, trmx_error *err)
{
	int S = m->size, C = m->canvas;
	if (!rd->s_line)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, rd->start_line, 0, "the maze has no start 'S'");
	if (!rd->g_line)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, rd->start_line, 0, "the maze has no goal 'G'");
	int32_t input[CELLS], label[CELLS];
	for (int i = 0; i < C * C; i++)
		input[i] = label[i] = T_WALL;
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			int32_t t = rd->cell[r * S + c];
			label[r * C + c] = t;
			input[r * C + c] = t == T_PATH ? T_OPEN : t;
		}
	}
	trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, input, rd->path ? label : NULL,
				 TRMX_EXAMPLE_QUERY, puzzle, NULL, rd->start_line };
	return sink->add(sink, &ex, err);
}

static int maze_encode(void *state, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	struct maze *m = state;
	int S = m->size, rc = 0;
	if (trmx__text_is_csv(in))
		return trmx__csv_encode(&trmx_task_codec_maze, state, m->canvas * m->canvas, in, sink, err);
	struct reading *rd = trmx_xmalloc(sizeof *rd);
	if (!rd)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading a maze");
	tcursor cur;
	tline l;
	trmx__tcursor_init(&cur, in);
	int64_t puzzles = 0, last = 0;
	int mode = 0; /* 0 undecided, 1 one maze per line, 2 grids */
	bool after_grid = false;
	rd->rows = 0;
	while (trmx__tcursor_next(&cur, &l, &rc, err)) {
		last = l.no;
		bool blank = trmx__tline_blank(&l);
		/* A blank line between mazes is skipped, but S spaces may be an all-open first row. */
		bool open_row = l.len == (size_t)S && (mode == 0 || (mode == 2 && !after_grid));
		if (rd->rows == 0 && blank && !open_row) {
			after_grid = false;
			continue;
		}
		if (mode == 0)
			mode = l.len == (size_t)(S * S) ? 1 : 2;
		if (rd->rows == 0) {
			if (after_grid) {
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, 0,
							 "expected a blank line after a maze of %d rows, found another row "
							 "(is the maze larger than size=%d?)",
							 S, S);
				goto done;
			}
			memset(rd, 0, sizeof *rd);
			rd->start_line = l.no;
		}
		if (mode == 1) {
			if (l.len != (size_t)(S * S)) {
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, 0,
							 "expected %d characters (a %dx%d maze on one line), found %zu",
							 S * S, S, S, l.len);
				goto done;
			}
			for (int r = 0; r < S; r++) {
				if ((rc = read_row(m, rd, &l, (size_t)(r * S), in, err)) < 0)
					goto done;
			}
		} else {
			if (l.len != (size_t)S && puzzles == 0 && rd->rows == 0) {
				rc = trmx__task_error_at(
					err, TRMX_EFORMAT, in, l.no, 0,
					"expected %d characters (a maze row) or %d (a %dx%d maze on one line), found %zu", S,
					S * S, S, S, l.len);
				goto done;
			}
			if (l.len != (size_t)S) {
				rc = trmx__task_error_at(
					err, TRMX_EFORMAT, in, l.no, 0, "expected %d characters in a maze row, found %zu%s",
					S, l.len,
					l.len < (size_t)S ? " (write '.' for open cells if trailing spaces get stripped)"
							  : "");
				goto done;
			}
			if ((rc = read_row(m, rd, &l, 0, in, err)) < 0)
				goto done;
		}
		if (rd->rows == S) {
			if ((rc = finish(m, rd, in, puzzles++, sink, err)) < 0)
				goto done;
			rd->rows = 0;
			after_grid = mode == 2;
		}
	}
	if (rc < 0)
		goto done;
	if (rd->rows > 0) {
		rc = trmx__task_error_at(err, TRMX_EFORMAT, in, last, 0, "the maze ends after %d rows; expected %d",
					 rd->rows, S);
		goto done;
	}
	if (puzzles == 0)
		rc = trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "no %dx%d maze in the input (empty)", S, S);
done:
	free(rd);
	return rc;
}

/* ---- decode -------------------------------------------------------------------------------- */

static int maze_decode(void *state, const int32_t *tokens, trmx_text_style style, char *buf, size_t cap,
		       size_t *len, trmx_error *err)
{
	struct maze *m = state;
	int S = m->size, C = m->canvas;
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			int32_t t = tokens[r * C + c];
			if (t < T_WALL || t > T_PATH)
				return trmx_error_set(err, TRMX_EFORMAT,
						      "token %d at row %d, column %d is not a maze symbol (1..5)", (int)t,
						      r + 1, c + 1);
		}
	}
	trmx_buf b = { 0 };
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++)
			trmx_buf_putc(&b, symbols[tokens[r * C + c]]);
		if (style == TRMX_TEXT_GRID)
			trmx_buf_putc(&b, '\n');
	}
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

/* ---- check --------------------------------------------------------------------------------- */

static const int DR[4] = { -1, 0, 0, 1 }, DC[4] = { 0, -1, 1, 0 };

/* BFS over non-wall cells of `open` (S x S, 1 = passable) from `from`; dist -1 when unreached.
 * `paths` (may be NULL) gets the number of shortest paths to each cell, capped at 2. */
static void bfs(int S, const uint8_t *open, int from, int *dist, uint8_t *paths)
{
	int queue[CELLS], head = 0, tail = 0;
	for (int i = 0; i < S * S; i++)
		dist[i] = -1;
	dist[from] = 0;
	if (paths)
		paths[from] = 1;
	queue[tail++] = from;
	while (head < tail) {
		int v = queue[head++], r = v / S, c = v % S;
		for (int k = 0; k < 4; k++) {
			int rr = r + DR[k], cc = c + DC[k];
			if (rr < 0 || rr >= S || cc < 0 || cc >= S)
				continue;
			int w = rr * S + cc;
			if (open[w] && dist[w] < 0) {
				dist[w] = dist[v] + 1;
				if (paths)
					paths[w] = paths[v];
				queue[tail++] = w;
			} else if (paths && dist[w] == dist[v] + 1) {
				paths[w] = 2; /* a second way in at the same distance */
			}
		}
	}
}

struct cells {
	trmx_check *out;
	int C, S;
};

static void add_cell(struct cells *cs, int v)
{
	trmx_check *o = cs->out;
	if (o->ncells < TRMX_CHECK_CELLS_MAX)
		o->cells[o->ncells++] = (v / cs->S) * cs->C + v % cs->S;
	o->ncells_total++;
}

static int fail(trmx_check *out, trmx_check_problem p, const char *fmt, ...) TRMX_PRINTF(3, 4);
static int fail(trmx_check *out, trmx_check_problem p, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out->message, sizeof out->message, fmt, ap);
	va_end(ap);
	out->verdict = TRMX_VERDICT_INVALID;
	out->problem = p;
	return 0;
}

static int maze_check(void *state, const int32_t *puzzle, const int32_t *answer, const int32_t *expected,
		      trmx_check *out, trmx_error *err)
{
	struct maze *m = state;
	int S = m->size, C = m->canvas;
	int32_t maze[CELLS], ans[CELLS];
	struct cells cs = { out, C, S };
	(void)expected;
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			ans[r * S + c] = answer[r * C + c];
			int32_t p = puzzle ? puzzle[r * C + c] : answer[r * C + c];
			if (puzzle && (p < T_WALL || p > T_PATH))
				return trmx_error_set(err, TRMX_EFORMAT,
						      "puzzle: token %d at row %d, column %d is not a maze symbol", (int)p,
						      r + 1, c + 1);
			maze[r * S + c] = p == T_PATH ? T_OPEN : p;
		}
	}
	/* Tokens. */
	for (int v = 0; v < S * S; v++) {
		if (ans[v] < T_WALL || ans[v] > T_PATH)
			add_cell(&cs, v);
	}
	if (out->ncells_total)
		return fail(out, TRMX_CHECK_BAD_TOKEN, "%d cell%s no maze symbol (first: row %d, column %d)",
			    out->ncells_total, out->ncells_total > 1 ? "s hold" : " holds", out->cells[0] / C + 1,
			    out->cells[0] % C + 1);
	/* Start and goal. */
	int start = -1, goal = -1, nstart = 0, ngoal = 0;
	for (int v = 0; v < S * S; v++) {
		if (maze[v] == T_START)
			start = v, nstart++;
		if (maze[v] == T_GOAL)
			goal = v, ngoal++;
	}
	if (puzzle && (nstart != 1 || ngoal != 1))
		return trmx_error_set(err, TRMX_EFORMAT, "puzzle: %d starts and %d goals; expected one of each",
				      nstart, ngoal);
	if (nstart != 1 || ngoal != 1)
		return fail(out, TRMX_CHECK_GIVEN_CHANGED, "the answer has %d starts and %d goals; expected one of each",
			    nstart, ngoal);
	/* Walls and givens. */
	for (int v = 0; v < S * S; v++) {
		if (maze[v] == T_WALL && ans[v] == T_PATH)
			add_cell(&cs, v);
	}
	if (out->ncells_total)
		return fail(out, TRMX_CHECK_WALL, "the path goes through %d wall%s (first: row %d, column %d)",
			    out->ncells_total, out->ncells_total > 1 ? "s" : "", out->cells[0] / C + 1,
			    out->cells[0] % C + 1);
	for (int v = 0; v < S * S; v++) {
		bool ok = maze[v] == T_OPEN ? (ans[v] == T_OPEN || ans[v] == T_PATH) : ans[v] == maze[v];
		if (!ok)
			add_cell(&cs, v);
	}
	if (out->ncells_total)
		return fail(out, TRMX_CHECK_GIVEN_CHANGED,
			    "%d cell%s of the maze changed (first: row %d, column %d, '%c' became '%c')",
			    out->ncells_total, out->ncells_total > 1 ? "s" : "", out->cells[0] / C + 1,
			    out->cells[0] % C + 1, symbols[maze[(out->cells[0] / C) * S + out->cells[0] % C]],
			    symbols[ans[(out->cells[0] / C) * S + out->cells[0] % C]]);
	/* Shortest path. */
	uint8_t open[CELLS];
	int dist[CELLS];
	for (int v = 0; v < S * S; v++)
		open[v] = maze[v] != T_WALL;
	bfs(S, open, start, dist, NULL);
	out->shortest_length = dist[goal];
	/* The marked path: degrees first. */
	uint8_t on[CELLS];
	int npath = 0;
	for (int v = 0; v < S * S; v++) {
		on[v] = ans[v] == T_PATH || v == start || v == goal;
		npath += ans[v] == T_PATH;
	}
	int deg[CELLS];
	for (int v = 0; v < S * S; v++) {
		deg[v] = 0;
		if (!on[v])
			continue;
		int r = v / S, c = v % S;
		for (int k = 0; k < 4; k++) {
			int rr = r + DR[k], cc = c + DC[k];
			if (rr >= 0 && rr < S && cc >= 0 && cc < S && on[rr * S + cc])
				deg[v]++;
		}
	}
	if (npath == 0 && deg[start] == 0) {
		if (dist[goal] < 0) {
			out->verdict = TRMX_VERDICT_VALID;
			snprintf(out->message, sizeof out->message, "valid: the goal cannot be reached and no path is marked");
			return 0;
		}
		add_cell(&cs, start);
		add_cell(&cs, goal);
		return fail(out, TRMX_CHECK_NO_PATH, "no path is marked; the shortest has %d moves", dist[goal]);
	}
	for (int v = 0; v < S * S; v++) {
		if (on[v] && deg[v] > (v == start || v == goal ? 1 : 2))
			add_cell(&cs, v);
	}
	if (out->ncells_total)
		return fail(out, TRMX_CHECK_BRANCH,
			    "the path branches or touches itself at %d cell%s (first: row %d, column %d)",
			    out->ncells_total, out->ncells_total > 1 ? "s" : "", out->cells[0] / C + 1,
			    out->cells[0] % C + 1);
	/* Walk from the start. */
	int prev = -1, cur = start, steps = 0;
	uint8_t seen[CELLS] = { 0 };
	seen[start] = 1;
	while (cur != goal) {
		int next = -1, r = cur / S, c = cur % S;
		for (int k = 0; k < 4; k++) {
			int rr = r + DR[k], cc = c + DC[k];
			if (rr < 0 || rr >= S || cc < 0 || cc >= S)
				continue;
			int w = rr * S + cc;
			if (on[w] && w != prev && !seen[w])
				next = w;
		}
		if (next < 0)
			break;
		prev = cur;
		cur = next;
		seen[cur] = 1;
		steps++;
	}
	if (cur != goal) {
		for (int v = 0; v < S * S; v++) {
			if (on[v] && deg[v] < (v == start || v == goal ? 1 : 2))
				add_cell(&cs, v);
		}
		return fail(out, TRMX_CHECK_BROKEN_PATH,
			    "the path from the start stops at row %d, column %d without reaching the goal", cur / S + 1,
			    cur % S + 1);
	}
	for (int v = 0; v < S * S; v++) {
		if (on[v] && !seen[v])
			add_cell(&cs, v);
	}
	if (out->ncells_total)
		return fail(out, TRMX_CHECK_STRAY, "%d marked cell%s lie off the path from the start to the goal",
			    out->ncells_total, out->ncells_total > 1 ? "s" : "");
	out->path_length = steps;
	if (steps > dist[goal]) {
		out->problem = TRMX_CHECK_NOT_SHORTEST;
		out->verdict = m->require_shortest ? TRMX_VERDICT_INVALID : TRMX_VERDICT_VALID;
		snprintf(out->message, sizeof out->message, "%s: a path of %d moves; the shortest has %d",
			 m->require_shortest ? "not shortest" : "valid", steps, dist[goal]);
		return 0;
	}
	out->verdict = TRMX_VERDICT_VALID;
	snprintf(out->message, sizeof out->message, "valid: a shortest path of %d moves", steps);
	return 0;
}

/* ---- render -------------------------------------------------------------------------------- */

static int maze_render(void *state, const int32_t *tokens, const trmx_render_options *o, char *buf,
		       size_t cap, size_t *len, trmx_error *err)
{
	struct maze *m = state;
	int S = m->size, C = m->canvas;
	trmx_color mode = o->color;
	static const rgb bg[6] = { { 255, 0, 0 }, { 90, 90, 90 }, { 20, 20, 20 },
				   { 46, 204, 64 }, { 255, 65, 54 }, { 255, 220, 0 } };
	const rgb hl = { 240, 18, 190 }, black = { 0, 0, 0 };
	trmx_buf b = { 0 };
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			int i = r * C + c;
			int32_t t = tokens[i];
			bool ok = t >= T_WALL && t <= T_PATH;
			bool hi = o->highlight && o->highlight[i];
			char sym = ok ? symbols[t] : '?';
			if (mode == TRMX_COLOR_NONE) {
				trmx_buf_putc(&b, hi ? '*' : sym == '#' ? '#' : ' ');
				trmx_buf_putc(&b, sym);
				continue;
			}
			trmx__ansi_bg(&b, mode, hi ? hl : bg[ok ? t : 0]);
			trmx__ansi_fg(&b, mode, black);
			trmx_buf_putc(&b, t == T_START || t == T_GOAL || !ok ? sym : ' ');
			trmx_buf_putc(&b, ' ');
			trmx__ansi_reset(&b, mode);
		}
		trmx_buf_putc(&b, '\n');
	}
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

const trmx_task_codec trmx_task_codec_maze = {
	.abi_version = TRMX_TASK_ABI_VERSION,
	.struct_size = sizeof(trmx_task_codec),
	.name = "maze",
	.description = "square mazes up to 30x30 ('# SGo' -> 1..5), path checked with BFS",
	.flags = 0,
	.open = maze_open,
	.close = maze_close,
	.seq_len = maze_seq_len,
	.vocab_size = maze_vocab,
	.encode = maze_encode,
	.decode = maze_decode,
	.check = maze_check,
	.render = maze_render,
};

/* ---- generator ----------------------------------------------------------------------------- */

int trmx_maze_default_min_path(int size)
{
	return (111 * size * size + 899) / 900;
}

int trmx_maze_prune(int canvas, int32_t *input, int32_t *label, int start, double f)
{
	/* breadth-first from every cell of the path (S and G included) over the open cells */
	int dist[CELLS], queue[CELLS], head = 0, tail = 0, maxd = 0, N = canvas * canvas;
	for (int v = 0; v < N; v++) {
		dist[v] = -1;
		if (label[v] == T_START || label[v] == T_GOAL || label[v] == T_PATH)
			dist[v] = 0, queue[tail++] = v;
	}
	while (head < tail) {
		int v = queue[head++];
		if (dist[v] > maxd)
			maxd = dist[v];
		for (int k = 0; k < 4; k++) {
			int rr = v / canvas + DR[k], cc = v % canvas + DC[k], w = rr * canvas + cc;
			if (rr >= 0 && rr < canvas && cc >= 0 && cc < canvas && dist[w] < 0 && label[w] == T_OPEN)
				dist[w] = dist[v] + 1, queue[tail++] = w;
		}
	}
	int keep = start + (int)(f * (double)(maxd - start));
	for (int v = 0; v < N; v++)
		if (dist[v] > keep)
			input[v] = label[v] = T_WALL;
	return maxd;
}

static const char *const family_names[] = { "free", "lattice", "lattice-loops" };

int trmx_maze_family_parse(const char *name, trmx_maze_family *out)
{
	for (int f = 0; name && f < 3; f++) {
		if (!strcmp(name, family_names[f])) {
			*out = (trmx_maze_family)f;
			return 0;
		}
	}
	return TRMX_EINVAL;
}

const char *trmx_maze_family_name(trmx_maze_family family)
{
	return (unsigned)family < 3 ? family_names[family] : "?";
}

long trmx_maze_heldout_seed(trmx_maze_family family, int size)
{
	return TRMX_HELDOUT_SEED_MIN + 100L * (long)family + size;
}

/* Recursive backtracker (randomized depth-first search) over an n x n lattice of nodes at rows
 * and columns off, off + 2, ... of the S x S grid `open`, opening the nodes and the squares
 * between linked nodes. `stack` holds n² ints. The random draws are those of the free family's
 * first version, so its mazes stay what they were for a seed. */
static void carve_tree(trmx_rng *rng, uint8_t *open, int S, int n, int off, int *stack)
{
	int root = (int)trmx_rng_below(rng, (uint32_t)(n * n));
	int top = 0;
	stack[top++] = root;
	open[(off + (root / n) * 2) * S + off + (root % n) * 2] = 1;
	while (top > 0) {
		int v = stack[top - 1], vr = v / n, vc = v % n;
		int next[4], nn = 0;
		for (int k = 0; k < 4; k++) {
			int rr = vr + DR[k], cc = vc + DC[k];
			if (rr < 0 || rr >= n || cc < 0 || cc >= n)
				continue;
			if (!open[(off + rr * 2) * S + off + cc * 2])
				next[nn++] = k;
		}
		if (nn == 0) {
			top--;
			continue;
		}
		int k = next[trmx_rng_below(rng, (uint32_t)nn)];
		int rr = vr + DR[k], cc = vc + DC[k];
		open[(off + vr * 2 + DR[k]) * S + off + vc * 2 + DC[k]] = 1;
		open[(off + rr * 2) * S + off + cc * 2] = 1;
		stack[top++] = rr * n + cc;
	}
}

/* The free family's passages: a tree on the nodes of even row and column, loops knocked out of
 * the inner walls between two open squares, and on an even side some dead ends into the last
 * row and column, which the lattice leaves out. */
static void carve_free(trmx_rng *rng, uint8_t *open, int S, int loops, int *stack)
{
	carve_tree(rng, open, S, (S + 1) / 2, 0, stack);
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			int v = r * S + c;
			if (open[v] || ((r & 1) == (c & 1)))
				continue;
			bool between = (r & 1) ? r + 1 < S && open[v - S] && open[v + S]
					       : c + 1 < S && open[v - 1] && open[v + 1];
			if (between && (int)trmx_rng_below(rng, 1000) < loops)
				open[v] = 1;
		}
	}
	if (S % 2 == 0) {
		for (int i = 0; i < S - 1; i++) {
			if (open[(S - 2) * S + i] && trmx_rng_below(rng, 3) == 0)
				open[(S - 1) * S + i] = 1;
			if (open[i * S + S - 2] && trmx_rng_below(rng, 3) == 0)
				open[i * S + S - 1] = 1;
		}
	}
}

/* The lattice families' passages: a perfect maze on the cells of odd row and column of the odd
 * side L (S, or S - 1 on an even side, whose last row and column stay wall), inside the border;
 * with `loops` >= 0 (lattice-loops) that per mille of the walls between two cells the tree left
 * closed, at least one, is knocked out, drawn without replacement. */
static void carve_lattice(trmx_rng *rng, uint8_t *open, int S, int loops, int *stack)
{
	int L = S % 2 ? S : S - 1;
	carve_tree(rng, open, S, (L - 1) / 2, 1, stack);
	if (loops < 0)
		return;
	int closed = 0;
	for (int r = 1; r < L - 1; r++) {
		for (int c = 1; c < L - 1; c++) {
			if (((r & 1) != (c & 1)) && !open[r * S + c])
				stack[closed++] = r * S + c; /* between two cells: one coordinate odd, one even */
		}
	}
	int k = (closed * loops + 500) / 1000;
	if (k < 1)
		k = 1;
	if (k > closed)
		k = closed;
	for (int i = 0; i < k; i++) {
		int j = i + (int)trmx_rng_below(rng, (uint32_t)(closed - i));
		int w = stack[j];
		stack[j] = stack[i];
		stack[i] = w;
		open[w] = 1;
	}
}

int trmx_maze_generate(trmx_rng *rng, const trmx_maze_gen_options *opts, char *maze, char *solution,
		       int *path_length, trmx_error *err)
{
	if (!rng || !opts || !maze || !solution)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_maze_generate: NULL argument");
	if (!trmx_version_ok(opts->version, TRMX_MAZE_GEN_OPTIONS_VERSION))
		return trmx_version_refused(err, "trmx_maze_gen_options", opts->version, TRMX_MAZE_GEN_OPTIONS_VERSION);
	trmx_maze_family family = opts->version >= 2 ? opts->family : TRMX_MAZE_FAMILY_FREE;
	if ((unsigned)family > TRMX_MAZE_FAMILY_LATTICE_LOOPS)
		return trmx_error_set(err, TRMX_EINVAL, "maze: no family %d", (int)family);
	bool lattice = family != TRMX_MAZE_FAMILY_FREE;
	int S = opts->size;
	if (S < 3 || S > TRMX_MAZE_SIZE_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "maze: size must be in [3, %d], not %d", TRMX_MAZE_SIZE_MAX, S);
	if (lattice && S < 5)
		return trmx_error_set(err, TRMX_EINVAL, "maze: a %s maze needs a side of at least 5 (two cells), not %d",
				      trmx_maze_family_name(family), S);
	int min_path = opts->min_path < 0 ? trmx_maze_default_min_path(S) : opts->min_path;
	int loops = opts->loops < 0 ? (family == TRMX_MAZE_FAMILY_FREE ? 40 : 100) : opts->loops;
	if (loops > 1000)
		return trmx_error_set(err, TRMX_EINVAL, "maze: loops is per mille, at most 1000, not %d", loops);
	if (family == TRMX_MAZE_FAMILY_LATTICE)
		loops = -1;
	if (min_path > S * S / 2 + S)
		return trmx_error_set(err, TRMX_EINVAL, "maze: a %dx%d maze cannot have a shortest path of %d moves",
				      S, S, min_path);
	int attempts = opts->max_attempts > 0 ? opts->max_attempts : 1000;
	uint8_t open[CELLS];
	int dist[CELLS], stack[CELLS], cand[CELLS];
	for (int a = 0; a < attempts; a++) {
		memset(open, 0, sizeof open);
		if (lattice)
			carve_lattice(rng, open, S, loops, stack);
		else
			carve_free(rng, open, S, loops, stack);
		/* start candidates: every open square, or the lattice's cells */
		int nopen = 0;
		for (int v = 0; v < S * S; v++)
			if (open[v] && (!lattice || ((v / S) & 1 && (v % S) & 1)))
				cand[nopen++] = v;
		for (int tries = 0; tries < 8; tries++) {
			int start = cand[trmx_rng_below(rng, (uint32_t)nopen)];
			uint8_t paths[CELLS];
			bfs(S, open, start, dist, paths);
			/* the goal needs one shortest path: with two, the label would be an arbitrary pick */
			int far[CELLS], nfar = 0;
			for (int v = 0; v < S * S; v++) {
				bool cell = !lattice || ((v / S) & 1 && (v % S) & 1);
				if (cell && dist[v] >= min_path && dist[v] > 0 && paths[v] == 1)
					far[nfar++] = v;
			}
			if (nfar == 0)
				continue;
			int goal = far[trmx_rng_below(rng, (uint32_t)nfar)];
			for (int v = 0; v < S * S; v++)
				maze[v] = open[v] ? ' ' : '#';
			maze[start] = 'S';
			maze[goal] = 'G';
			memcpy(solution, maze, (size_t)(S * S));
			/* Walk back from the goal along decreasing distance, first neighbour in a fixed order. */
			int cur = goal;
			while (dist[cur] > 1) {
				int r = cur / S, c = cur % S, next = -1;
				for (int k = 0; k < 4 && next < 0; k++) {
					int rr = r + DR[k], cc = c + DC[k];
					if (rr >= 0 && rr < S && cc >= 0 && cc < S && dist[rr * S + cc] == dist[cur] - 1)
						next = rr * S + cc;
				}
				cur = next;
				solution[cur] = 'o';
			}
			if (path_length)
				*path_length = dist[goal];
			return 0;
		}
	}
	return trmx_error_set(err, TRMX_ENOTFOUND,
			      "maze: no %dx%d %s maze with a shortest path of at least %d moves in %d attempts", S, S,
			      trmx_maze_family_name(family), min_path, attempts);
}
