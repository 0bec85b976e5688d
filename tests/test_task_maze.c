/*
 * test_task_maze.c — the maze codec: the official ids, every text format read back for sizes 2
 * to 30, a maze on a larger canvas, each malformed-input class with its exact code and message,
 * and the checker against a table of hand-made broken answers. The generator's families (free,
 * lattice, lattice-loops) over many seeds and sizes, against a BFS written here that counts
 * shortest paths, and the HRM/TRM Maze-Hard CSV (source,question,answer,rating at 30x30) read as
 * it is: tests/fixtures/tasks/maze30_hrm.csv, made by `trmx gen maze --format hrm`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trmx/task.h"

static void expect_fail(int rc, const trmx_error *e, int code, const char *sub)
{
	if (rc != code || e->code != code || !strstr(e->message, sub))
		fail_msg("expected code %d with \"%s\", got %d: %s", code, sub, rc, e->message);
}

static trmx_task *open_maze(const char *params)
{
	trmx_task *t = NULL;
	trmx_error e = { 0, "" };
	if (trmx_task_open(&t, "maze", params, &e) < 0)
		fail_msg("open %s: %s", params, e.message);
	return t;
}

/* A 7x7 maze: the shortest path from S to G (left and bottom) has 16 moves; a second route
 * through the middle and the right has 24. */
static const char *M7[7] = {
	"S  #   ",
	"## # # ",
	"   # # ",
	" ### # ",
	"     # ",
	" ##### ",
	"      G",
};
static const char *M7_SOLVED[7] = {
	"Soo#   ",
	"##o# # ",
	"ooo# # ",
	"o### # ",
	"o    # ",
	"o##### ",
	"ooooooG",
};

static char *join(const char *const *rows, int n, bool newline)
{
	static char buf[4096];
	size_t k = 0;
	for (int r = 0; r < n; r++) {
		size_t len = strlen(rows[r]);
		memcpy(buf + k, rows[r], len);
		k += len;
		if (newline)
			buf[k++] = '\n';
	}
	buf[k] = '\0';
	return buf;
}

static void test_encoding(void **state)
{
	(void)state;
	trmx_task *t = open_maze("size=7");
	trmx_error e = { 0, "" };
	assert_int_equal(trmx_task_seq_len(t), 49);
	assert_int_equal(trmx_task_vocab_size(t), 6);
	int32_t in[49], label[49];
	bool has = true;
	const char *text = join(M7, 7, true);
	assert_int_equal(trmx_task_encode(t, text, strlen(text), in, label, &has, &e), 0);
	assert_false(has);
	/* "# SGo" -> 1..5 */
	assert_int_equal(in[0], 3);
	assert_int_equal(in[1], 2);
	assert_int_equal(in[3], 1);
	assert_int_equal(in[48], 4);
	/* A solved maze gives the label, and the input without the path. */
	int32_t in2[49];
	text = join(M7_SOLVED, 7, true);
	assert_int_equal(trmx_task_encode(t, text, strlen(text), in2, label, &has, &e), 0);
	assert_true(has);
	assert_memory_equal(in, in2, sizeof in);
	assert_int_equal(label[1], 5);
	assert_int_equal(label[2], 5);
	assert_int_equal(label[7], 1);
	trmx_task_free(t);
	/* Default: Maze-Hard's 30x30. */
	t = open_maze(NULL);
	assert_int_equal(trmx_task_seq_len(t), 900);
	trmx_task_free(t);
}

static void fill_maze(int S, char *m, unsigned seed)
{
	if (S < 2 || S > 30)
		return;
	for (int i = 0; i < S * S; i++) {
		seed = seed * 1103515245u + 12345u;
		m[i] = (seed >> 16) % 3 == 0 ? '#' : ' ';
	}
	m[0] = 'S';
	m[S * S - 1] = 'G';
	if (S * S > 3)
		m[1] = 'o';
}

static void test_roundtrip_sizes(void **state)
{
	(void)state;
	static const int sizes[] = { 2, 3, 5, 15, 29, 30 };
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		int S = sizes[k];
		char params[32], m[901], grid[1000];
		snprintf(params, sizeof params, "size=%d", S);
		trmx_task *t = open_maze(params);
		trmx_error e = { 0, "" };
		fill_maze(S, m, (unsigned)S);
		m[S * S] = '\0';
		int32_t in[900], label[900], tok[900];
		bool has;
		/* One line (the official CSV field). */
		assert_int_equal(trmx_task_encode(t, m, strlen(m), in, label, &has, &e), 0);
		assert_int_equal(has, S * S > 3);
		char *s = NULL;
		assert_int_equal(trmx_task_decode(t, has ? label : in, TRMX_TEXT_LINE, &s, &e), 0);
		assert_string_equal(s, m);
		trmx_task_text_free(s);
		/* Grid lines. */
		size_t g = 0;
		for (int r = 0; r < S; r++) {
			memcpy(grid + g, m + r * S, (size_t)S);
			g += (size_t)S;
			grid[g++] = '\n';
		}
		grid[g] = '\0';
		assert_int_equal(trmx_task_encode(t, grid, g, tok, NULL, NULL, &e), 0);
		assert_memory_equal(tok, in, sizeof(int32_t) * (size_t)(S * S));
		assert_int_equal(trmx_task_decode(t, has ? label : in, TRMX_TEXT_GRID, &s, &e), 0);
		assert_string_equal(s, grid);
		trmx_task_text_free(s);
		trmx_task_free(t);
	}
}

static void test_canvas_and_formats(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	/* A 7x7 maze on a 10x10 canvas: wall everywhere outside. */
	trmx_task *t = open_maze("size=7,canvas=10");
	assert_int_equal(trmx_task_seq_len(t), 100);
	int32_t in[100], label[100];
	bool has;
	const char *text = join(M7_SOLVED, 7, true);
	assert_int_equal(trmx_task_encode(t, text, strlen(text), in, label, &has, &e), 0);
	assert_int_equal(in[0], 3);
	assert_int_equal(in[7], 1);
	assert_int_equal(in[10], 1);   /* row 1 starts "##" */
	assert_int_equal(in[99], 1);
	assert_int_equal(in[66], 4);   /* G at (6, 6) */
	for (int r = 7; r < 10; r++)
		for (int c = 0; c < 10; c++)
			assert_int_equal(in[r * 10 + c], 1);
	char *s = NULL;
	assert_int_equal(trmx_task_decode(t, label, TRMX_TEXT_GRID, &s, &e), 0);
	assert_string_equal(s, text);
	trmx_task_text_free(s);
	trmx_task_free(t);

	t = open_maze("size=7");
	int32_t a[49], b[49];
	/* '.' is an open cell too. */
	char dotted[100];
	snprintf(dotted, sizeof dotted, "%s", join(M7, 7, true));
	for (char *p = dotted; *p; p++)
		if (*p == ' ')
			*p = '.';
	assert_int_equal(trmx_task_encode(t, dotted, strlen(dotted), a, NULL, NULL, &e), 0);
	text = join(M7, 7, true);
	assert_int_equal(trmx_task_encode(t, text, strlen(text), b, NULL, NULL, &e), 0);
	assert_memory_equal(a, b, sizeof a);
	/* CSV in the HRM layout: the solution column gives the label. */
	char csv[400];
	char q[50], ans[50];
	snprintf(q, sizeof q, "%s", join(M7, 7, false));
	snprintf(ans, sizeof ans, "%s", join(M7_SOLVED, 7, false));
	snprintf(csv, sizeof csv, "source,question,answer,rating\nhand,%s,%s,8\n", q, ans);
	assert_int_equal(trmx_task_encode(t, csv, strlen(csv), a, label, &has, &e), 0);
	assert_true(has);
	assert_memory_equal(a, b, sizeof a);
	assert_int_equal(label[1], 5);
	trmx_task_free(t);
	/* The generated fixture: two solved 7x7 mazes separated by a blank line, first row all open. */
	t = open_maze("size=7");
	FILE *f = fopen("tests/fixtures/tasks/maze7.txt", "rb");
	if (!f) {
		trmx_task_free(t);
		skip();
	}
	char buf[400];
	size_t n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	assert_int_equal(trmx_task_encode(t, buf, n, a, label, &has, &e), 0);
	assert_true(has);
	assert_int_equal(a[0], 2);   /* the first row is seven spaces */
	trmx_task_free(t);
}

static int try_encode(const char *params, const char *text, trmx_error *e)
{
	trmx_task *t = open_maze(params);
	int32_t in[900];
	int rc = trmx_task_encode(t, text, strlen(text), in, NULL, NULL, e);
	trmx_task_free(t);
	return rc;
}

static void test_malformed(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	trmx_task *t = NULL;
	expect_fail(try_encode("size=3", "S# \n#S \n  G\n", &e), &e, TRMX_EFORMAT,
		    "line 2, column 2: a second start 'S' (the first is at line 1, column 1)");
	expect_fail(try_encode("size=3", "SG \n   \n  G\n", &e), &e, TRMX_EFORMAT,
		    "line 3, column 3: a second goal 'G' (the first is at line 1, column 2)");
	expect_fail(try_encode("size=3", "S# \n## \n   \n", &e), &e, TRMX_EFORMAT, "line 1: the maze has no goal 'G'");
	expect_fail(try_encode("size=3", "   \n## \nG  \n", &e), &e, TRMX_EFORMAT, "the maze has no start 'S'");
	expect_fail(try_encode("size=3", "S# \n#x \n  G\n", &e), &e, TRMX_EFORMAT,
		    "line 2, column 2: expected '#', ' ', '.', 'S', 'G' or 'o', found 'x'");
	expect_fail(try_encode("size=3", "S# \n#\n  G\n", &e), &e, TRMX_EFORMAT,
		    "line 2: expected 3 characters in a maze row, found 1 (write '.' for open cells");
	expect_fail(try_encode("size=3", "S# \n#   \n  G\n", &e), &e, TRMX_EFORMAT,
		    "line 2: expected 3 characters in a maze row, found 4");
	expect_fail(try_encode("size=3", "S# \n# #\n  G\n###\n", &e), &e, TRMX_EFORMAT,
		    "line 4: expected a blank line after a maze of 3 rows, found another row (is the maze larger than size=3?)");
	expect_fail(try_encode("size=3", "S# \n# G\n", &e), &e, TRMX_EFORMAT, "line 2: the maze ends after 2 rows; expected 3");
	expect_fail(try_encode("size=3", "S#G#\n", &e), &e, TRMX_EFORMAT,
		    "line 1: expected 3 characters (a maze row) or 9 (a 3x3 maze on one line), found 4");
	expect_fail(try_encode("size=3", "S#   #  G \n", &e), &e, TRMX_EFORMAT,
		    "line 1: expected 3 characters (a maze row) or 9 (a 3x3 maze on one line), found 10");
	expect_fail(try_encode("size=3", "S#  #   G\nS#  #   GG\n", &e), &e, TRMX_EFORMAT,
		    "line 2: expected 9 characters (a 3x3 maze on one line), found 10");
	expect_fail(try_encode("size=3", "", &e), &e, TRMX_EFORMAT, "no 3x3 maze in the input (empty)");
	expect_fail(try_encode("size=3", "S#  #   G,S#  #   G,1\nS#  #   G\n", &e), &e, TRMX_EFORMAT,
		    "line 2: expected 3 fields like the first row, found 1");
	/* Parameters and limits. */
	expect_fail(trmx_task_open(&t, "maze", "size=31", &e), &e, TRMX_ELIMIT, "parameter size wants an integer in [2, 30]");
	expect_fail(trmx_task_open(&t, "maze", "size=1", &e), &e, TRMX_EINVAL, "parameter size wants an integer in [2, 30]");
	expect_fail(trmx_task_open(&t, "maze", "size=10,canvas=9", &e), &e, TRMX_EINVAL,
		    "parameter canvas wants an integer in [10, 30]");
	expect_fail(trmx_task_open(&t, "maze", "walls=1", &e), &e, TRMX_EINVAL, "unknown parameter 'walls'");
	assert_null(t);
	/* Decoding a token that is no maze symbol. */
	t = open_maze("size=3");
	int32_t tok[9] = { 3, 2, 2, 1, 1, 2, 0, 2, 4 };
	char *s = NULL;
	expect_fail(trmx_task_decode(t, tok, TRMX_TEXT_LINE, &s, &e), &e, TRMX_EFORMAT,
		    "token 0 at row 3, column 1 is not a maze symbol (1..5)");
	assert_null(s);
	trmx_task_free(t);
}

/* ---- checker ------------------------------------------------------------------------------- */

struct check_case {
	const char *name;
	const char *params;
	int size;
	const char *puzzle[7];  /* rows; [0] NULL: no puzzle */
	const char *answer[7];
	trmx_verdict verdict;
	trmx_check_problem problem;
	int path_length, shortest;
	int cell0;              /* first listed cell as row*size+col (canvas = size), -1: unchecked */
	const char *message;
};

#define P7 { M7[0], M7[1], M7[2], M7[3], M7[4], M7[5], M7[6] }
#define SOLVED7 { M7_SOLVED[0], M7_SOLVED[1], M7_SOLVED[2], M7_SOLVED[3], M7_SOLVED[4], M7_SOLVED[5], M7_SOLVED[6] }

static void tokens_of(const char *const *rows, int S, int32_t *tok)
{
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			switch (rows[r][c]) {
			case '#': tok[r * S + c] = 1; break;
			case ' ': tok[r * S + c] = 2; break;
			case 'S': tok[r * S + c] = 3; break;
			case 'G': tok[r * S + c] = 4; break;
			case 'o': tok[r * S + c] = 5; break;
			default: tok[r * S + c] = 0; break;
			}
		}
	}
}

static void test_checker_table(void **state)
{
	(void)state;
	const struct check_case cases[] = {
		{ "shortest", "size=7", 7, P7, SOLVED7,
		  TRMX_VERDICT_VALID, TRMX_CHECK_NONE, 16, 16, -1, "valid: a shortest path of 16 moves" },
		{ "answer alone", "size=7", 7, { NULL }, SOLVED7,
		  TRMX_VERDICT_VALID, TRMX_CHECK_NONE, 16, 16, -1, "valid" },
		{ "branch", "size=7", 7, P7,
		  { "Soo#   ", "##o# # ", "ooo# # ", "o### # ", "oo   # ", "o##### ", "ooooooG" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_BRANCH, -1, 16, 28,
		  "the path branches or touches itself at 1 cell (first: row 5, column 1)" },
		{ "through a wall", "size=7", 7, P7,
		  { "Soo#   ", "##o# # ", "ooo# # ", "oo## # ", "o    # ", "o##### ", "ooooooG" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_WALL, -1, -1, 22, "the path goes through 1 wall (first: row 4, column 2)" },
		{ "gap", "size=7", 7, P7,
		  { "Soo#   ", "##o# # ", "ooo# # ", "o### # ", "o    # ", "o##### ", "ooo ooG" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_BROKEN_PATH, -1, 16, 44,
		  "the path from the start stops at row 7, column 3 without reaching the goal" },
		{ "stray cells", "size=7", 7, P7,
		  { "Soo# oo", "##o# # ", "ooo# # ", "o### # ", "o    # ", "o##### ", "ooooooG" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_STRAY, -1, 16, 5, "2 marked cells lie off the path" },
		{ "no path", "size=7", 7, P7, P7, TRMX_VERDICT_INVALID, TRMX_CHECK_NO_PATH, -1, 16, 0,
		  "no path is marked; the shortest has 16 moves" },
		{ "start moved", "size=7", 7, P7,
		  { "oSo#   ", "##o# # ", "ooo# # ", "o### # ", "o    # ", "o##### ", "ooooooG" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_GIVEN_CHANGED, -1, -1, 0,
		  "2 cells of the maze changed (first: row 1, column 1, 'S' became 'o')" },
		{ "bad token", "size=7", 7, P7,
		  { "Soo#   ", "##o# # ", "ooo# # ", "o### # ", "o    # ", "o##### ", "ooooo?G" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_BAD_TOKEN, -1, -1, 47, "1 cell holds no maze symbol (first: row 7, column 6)" },
		{ "two goals alone", "size=7", 7, { NULL },
		  { "Soo#  G", "##o# # ", "ooo# # ", "o### # ", "o    # ", "o##### ", "ooooooG" },
		  TRMX_VERDICT_INVALID, TRMX_CHECK_GIVEN_CHANGED, -1, -1, -1, "1 starts and 2 goals" },
	};
	for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
		const struct check_case *cc = &cases[k];
		trmx_task *t = open_maze(cc->params);
		trmx_error e = { 0, "" };
		int32_t p[49], a[49];
		if (cc->puzzle[0])
			tokens_of(cc->puzzle, cc->size, p);
		tokens_of(cc->answer, cc->size, a);
		trmx_check chk = TRMX_CHECK_INIT;
		assert_int_equal(trmx_task_check(t, cc->puzzle[0] ? p : NULL, a, NULL, &chk, &e), 0);
		if (chk.verdict != cc->verdict || chk.problem != cc->problem || !strstr(chk.message, cc->message) ||
		    (cc->path_length >= 0 && chk.path_length != cc->path_length) ||
		    (cc->shortest >= 0 && chk.shortest_length != cc->shortest) ||
		    (cc->cell0 >= 0 && (chk.ncells < 1 || chk.cells[0] != cc->cell0)))
			fail_msg("case '%s': verdict %s, problem %s, path %d, shortest %d, %d cells (first %d): %s",
				 cc->name, trmx_verdict_name(chk.verdict), trmx_check_problem_name(chk.problem),
				 chk.path_length, chk.shortest_length, chk.ncells, chk.ncells ? chk.cells[0] : -1,
				 chk.message);
		trmx_task_free(t);
	}
}

/* A maze with two routes: the detour is valid but not shortest. */
static void test_not_shortest(void **state)
{
	(void)state;
	static const char *maze[5] = { "S    ", " ### ", " # # ", " ### ", "    G" };
	static const char *shortest[5] = { "Soooo", " ###o", " # #o", " ###o", "    G" };
	static const char *detour[5] = { "S    ", "o### ", "o# # ", "o### ", "ooooG" };
	trmx_error e = { 0, "" };
	int32_t p[25], a[25];
	trmx_check chk = TRMX_CHECK_INIT;
	trmx_task *t = open_maze("size=5");
	tokens_of(maze, 5, p);
	tokens_of(shortest, 5, a);
	assert_int_equal(trmx_task_check(t, p, a, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
	assert_int_equal(chk.path_length, 8);
	assert_int_equal(chk.shortest_length, 8);
	tokens_of(detour, 5, a);
	assert_int_equal(trmx_task_check(t, p, a, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
	assert_int_equal(chk.path_length, 8);
	trmx_task_free(t);
	/* A maze whose long route over the top has 14 moves; a shortcut below has 8. */
	static const char *maze2[5] = { "S#   ", " # # ", " # # ", "     ", "### G" };
	static const char *long2[5] = { "S#ooo", "o#o#o", "o#o#o", "ooo o", "### G" };
	tokens_of(maze2, 5, p);
	tokens_of(long2, 5, a);
	t = open_maze("size=5");
	assert_int_equal(trmx_task_check(t, p, a, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
	assert_int_equal(chk.problem, TRMX_CHECK_NOT_SHORTEST);
	assert_int_equal(chk.path_length, 14);
	assert_int_equal(chk.shortest_length, 8);
	assert_non_null(strstr(chk.message, "valid: a path of 14 moves; the shortest has 8"));
	trmx_task_free(t);
	t = open_maze("size=5,require_shortest=1");
	assert_int_equal(trmx_task_check(t, p, a, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_INVALID);
	assert_int_equal(chk.problem, TRMX_CHECK_NOT_SHORTEST);
	/* Unreachable goal, nothing marked: valid. */
	static const char *walled[5] = { "S  # ", "   # ", "#####", "     ", "    G" };
	tokens_of(walled, 5, p);
	assert_int_equal(trmx_task_check(t, p, p, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
	assert_int_equal(chk.shortest_length, -1);
	trmx_task_free(t);
}

static void test_render(void **state)
{
	(void)state;
	trmx_task *t = open_maze("size=7");
	trmx_error e = { 0, "" };
	int32_t a[49];
	uint8_t hl[49] = { 0 };
	tokens_of(M7_SOLVED, 7, a);
	hl[1] = 1;
	trmx_render_options o = TRMX_RENDER_OPTIONS_INIT;
	o.highlight = hl;
	char *out = NULL;
	assert_int_equal(trmx_task_render(t, a, &o, &out, &e), 0);
	assert_true(strncmp(out, " S*o o##", 8) == 0);
	trmx_task_text_free(out);
	o.color = TRMX_COLOR_TRUE;
	assert_int_equal(trmx_task_render(t, a, &o, &out, &e), 0);
	assert_non_null(strstr(out, "\033[48;2;46;204;64m"));  /* start */
	assert_non_null(strstr(out, "\033[48;2;240;18;190m")); /* highlight */
	trmx_task_text_free(out);
	trmx_task_free(t);
}

/* ---- Generator families ------------------------------------------------------------------ */

/* Moves of a shortest path from S to G over the non-wall squares of an S x S maze, the number of
 * shortest paths (capped at 3) and of squares reached; -1 when G is not reached. */
static int count_shortest(int S, const char *m, int *paths, int *reached)
{
	int dist[900], cnt[900], q[900], h = 0, t = 0, s = -1, g = -1;
	for (int i = 0; i < S * S; i++) {
		dist[i] = -1;
		cnt[i] = 0;
		if (m[i] == 'S')
			s = i;
		if (m[i] == 'G')
			g = i;
	}
	assert_true(s >= 0 && g >= 0);
	dist[s] = 0;
	cnt[s] = 1;
	q[t++] = s;
	while (h < t) {
		int v = q[h++], r = v / S, c = v % S;
		int nb[4] = { r > 0 ? v - S : -1, r < S - 1 ? v + S : -1, c > 0 ? v - 1 : -1, c < S - 1 ? v + 1 : -1 };
		for (int k = 0; k < 4; k++) {
			int w = nb[k];
			if (w < 0 || m[w] == '#')
				continue;
			if (dist[w] < 0) {
				dist[w] = dist[v] + 1;
				q[t++] = w;
			}
			if (dist[w] == dist[v] + 1)
				cnt[w] = cnt[w] + cnt[v] > 3 ? 3 : cnt[w] + cnt[v];
		}
	}
	*paths = cnt[g];
	*reached = t;
	return dist[g];
}

/* The lattice shape: the border, every square of even row and column and, on an even side, the
 * last row and column are wall; every cell (odd row and column) is open; the passages between
 * cells number cells - 1 (a tree, with every cell reached: a perfect maze) or more (loops). */
static void check_lattice(int S, const char *m, bool loops, int reached)
{
	int L = S % 2 ? S : S - 1, n = (L - 1) / 2, open = 0;
	for (int r = 0; r < S; r++) {
		for (int c = 0; c < S; c++) {
			char ch = m[r * S + c];
			bool wall = r == 0 || c == 0 || r >= L - 1 || c >= L - 1 || (r % 2 == 0 && c % 2 == 0);
			if (wall && ch != '#')
				fail_msg("size %d: square (%d, %d) should be wall, is '%c'", S, r, c, ch);
			if (r % 2 && c % 2 && r < L && c < L && ch == '#')
				fail_msg("size %d: cell (%d, %d) is wall", S, r, c);
			open += ch != '#';
		}
	}
	assert_int_equal(reached, open); /* connected */
	if (loops)
		assert_true(open > 2 * n * n - 1);
	else
		assert_int_equal(open, 2 * n * n - 1);
}

static void test_families(void **state)
{
	(void)state;
	static const int sizes[] = { 9, 11, 12, 13, 15, 29, 30 };
	static const int counts[] = { 300, 200, 100, 200, 200, 60, 60 };
	trmx_error e = { 0, "" };
	for (int f = TRMX_MAZE_FAMILY_FREE; f <= TRMX_MAZE_FAMILY_LATTICE_LOOPS; f++) {
		for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
			int S = sizes[k];
			char params[48];
			snprintf(params, sizeof params, "size=%d,require_shortest=1", S);
			trmx_task *t = open_maze(params);
			snprintf(params, sizeof params, "size=%d,canvas=30,require_shortest=1", S);
			trmx_task *tc = open_maze(params);
			trmx_task *t30 = open_maze("size=30");
			trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
			o.size = S;
			o.family = (trmx_maze_family)f;
			for (int i = 0; i < counts[k]; i++) {
				char maze[901], sol[901], pad[901];
				int len = -1, paths = 0, reached = 0;
				trmx_rng rng;
				trmx_rng_seed(&rng, 31 + (uint64_t)f, (uint64_t)(S * 1000 + i));
				if (trmx_maze_generate(&rng, &o, maze, sol, &len, &e) < 0)
					fail_msg("%s %d #%d: %s", trmx_maze_family_name(o.family), S, i, e.message);
				maze[S * S] = sol[S * S] = '\0';
				/* one shortest path, of the length said, at least 10 moves (the rule at 9x9) */
				assert_int_equal(count_shortest(S, maze, &paths, &reached), len);
				if (paths != 1)
					fail_msg("%s %d #%d: %d shortest paths", trmx_maze_family_name(o.family), S, i,
						 paths);
				assert_true(len >= 10 && len >= trmx_maze_default_min_path(S));
				if (f != TRMX_MAZE_FAMILY_FREE) {
					check_lattice(S, maze, f == TRMX_MAZE_FAMILY_LATTICE_LOOPS, reached);
					int s = (int)(strchr(maze, 'S') - maze), g = (int)(strchr(maze, 'G') - maze);
					assert_true(s / S % 2 && s % S % 2 && g / S % 2 && g % S % 2); /* on cells */
				}
				/* the solution: the maze and len - 1 path marks on open squares */
				int marks = 0;
				for (int c = 0; c < S * S; c++) {
					if (sol[c] == 'o')
						assert_int_equal(maze[c], ' '), marks++;
					else
						assert_int_equal(sol[c], maze[c]);
				}
				assert_int_equal(marks, len - 1);
				/* the checker: the answer is the shortest path, on the maze's side and on the canvas */
				int32_t in[900], label[900], pin[900], plabel[900];
				bool has = false;
				trmx_check chk = TRMX_CHECK_INIT;
				assert_int_equal(trmx_task_encode(t, sol, (size_t)(S * S), in, label, &has, &e), 0);
				assert_true(has);
				assert_int_equal(trmx_task_check(t, in, label, NULL, &chk, &e), 0);
				if (chk.verdict != TRMX_VERDICT_VALID || chk.problem != TRMX_CHECK_NONE ||
				    chk.path_length != len || chk.shortest_length != len)
					fail_msg("%s %d #%d: %s", trmx_maze_family_name(o.family), S, i, chk.message);
				/* padded by hand to 30x30 and read as a 30x30 maze: the tokens of size=S,canvas=30 */
				for (int r = 0; r < 30; r++)
					for (int c = 0; c < 30; c++)
						pad[r * 30 + c] = r < S && c < S ? sol[r * S + c] : '#';
				pad[900] = '\0';
				assert_int_equal(trmx_task_encode(tc, sol, (size_t)(S * S), in, label, &has, &e), 0);
				assert_int_equal(trmx_task_encode(t30, pad, 900, pin, plabel, &has, &e), 0);
				assert_memory_equal(in, pin, sizeof pin);
				assert_memory_equal(label, plabel, sizeof plabel);
				chk = (trmx_check)TRMX_CHECK_INIT;
				assert_int_equal(trmx_task_check(tc, in, label, NULL, &chk, &e), 0);
				assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
				assert_int_equal(chk.path_length, len);
			}
			trmx_task_free(t);
			trmx_task_free(tc);
			trmx_task_free(t30);
		}
	}
	/* Many loops (300 per mille of the closed walls, a short min_path): still one shortest path. */
	for (int i = 0; i < 200; i++) {
		trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
		char maze[901], sol[901];
		int len = -1, paths = 0, reached = 0;
		trmx_rng rng;
		o.family = TRMX_MAZE_FAMILY_LATTICE_LOOPS;
		o.size = 15;
		o.loops = 300;
		o.min_path = 10;
		trmx_rng_seed(&rng, 41, (uint64_t)i);
		if (trmx_maze_generate(&rng, &o, maze, sol, &len, &e) < 0)
			fail_msg("loops 300 #%d: %s", i, e.message);
		maze[225] = '\0';
		assert_int_equal(count_shortest(15, maze, &paths, &reached), len);
		assert_int_equal(paths, 1);
		check_lattice(15, maze, true, reached);
	}
	/* Bad options fail cleanly; the family is read from version 2 on. */
	trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
	char maze[900], sol[900], m2[900], s2[900];
	trmx_rng a, b;
	o.family = TRMX_MAZE_FAMILY_LATTICE;
	o.size = 4;
	trmx_rng_seed(&a, 1, 0);
	expect_fail(trmx_maze_generate(&a, &o, maze, sol, NULL, &e), &e, TRMX_EINVAL, "at least 5");
	o.size = 9;
	o.family = (trmx_maze_family)7;
	expect_fail(trmx_maze_generate(&a, &o, maze, sol, NULL, &e), &e, TRMX_EINVAL, "no family 7");
	o.family = TRMX_MAZE_FAMILY_LATTICE;
	o.min_path = 40; /* a 4x4-cell tree rarely spans 20 cell steps: out of reach in 5 tries */
	o.max_attempts = 5;
	expect_fail(trmx_maze_generate(&a, &o, maze, sol, NULL, &e), &e, TRMX_ENOTFOUND, "lattice maze");
	trmx_maze_gen_options v1 = TRMX_MAZE_GEN_OPTIONS_INIT, free2 = TRMX_MAZE_GEN_OPTIONS_INIT;
	v1.version = 1;
	v1.family = TRMX_MAZE_FAMILY_LATTICE; /* not read */
	trmx_rng_seed(&a, 9, 3);
	trmx_rng_seed(&b, 9, 3);
	assert_int_equal(trmx_maze_generate(&a, &v1, maze, sol, NULL, &e), 0);
	assert_int_equal(trmx_maze_generate(&b, &free2, m2, s2, NULL, &e), 0);
	assert_memory_equal(maze, m2, 900);
	/* names */
	trmx_maze_family fam;
	assert_int_equal(trmx_maze_family_parse("lattice-loops", &fam), 0);
	assert_int_equal(fam, TRMX_MAZE_FAMILY_LATTICE_LOOPS);
	assert_int_equal(trmx_maze_family_parse("Lattice", &fam), TRMX_EINVAL);
	assert_string_equal(trmx_maze_family_name(TRMX_MAZE_FAMILY_FREE), "free");
	assert_string_equal(trmx_maze_family_name((trmx_maze_family)3), "?");
	/* held-out seeds: in the reserved range, one per family and size */
	assert_int_equal(trmx_maze_heldout_seed(TRMX_MAZE_FAMILY_LATTICE, 9), 7770109);
	assert_true(trmx_maze_heldout_seed(TRMX_MAZE_FAMILY_LATTICE_LOOPS, 30) <= TRMX_HELDOUT_SEED_MAX);
	assert_true(trmx_maze_heldout_seed(TRMX_MAZE_FAMILY_FREE, 2) >= TRMX_HELDOUT_SEED_MIN);
}

/* The HRM/TRM Maze-Hard CSV as it is published: header source,question,answer,rating, 900
 * characters of '#', ' ', 'S', 'G' (and 'o' in the answer) per maze. Read by the data-set reader
 * (what `trmx eval` and `trmx train` use) with the default maze task, 30x30. */
static void test_hrm_csv(void **state)
{
	(void)state;
	static const char *path = "tests/fixtures/tasks/maze30_hrm.csv";
	trmx_error e = { 0, "" };
	trmx_task *t = open_maze(""); /* size 30 */
	assert_int_equal(trmx_task_seq_len(t), 900);
	trmx_dataset *ds = NULL;
	trmx_dataset_options dopt = TRMX_DATASET_OPTIONS_INIT;
	if (trmx_dataset_load(&ds, t, path, &dopt, &e) < 0)
		fail_msg("%s: %s", path, e.message);
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	assert_int_equal(v.examples, 3);
	/* each row: the label is the question with the answer's path, checked as the shortest path of
	 * `rating` moves, and the question decodes back to its text */
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char line[2048];
	assert_non_null(fgets(line, sizeof line, f));
	assert_string_equal(line, "source,question,answer,rating\n");
	for (int64_t i = 0; i < 3; i++) {
		assert_non_null(fgets(line, sizeof line, f));
		char *q = strchr(line, ',') + 1, *a = q + 901, *r = a + 901;
		assert_int_equal(q[900], ',');
		assert_int_equal(a[900], ',');
		int rating = atoi(r);
		int32_t in[900], label[900];
		assert_int_equal(trmx_dataset_example(ds, i, in, label, &e), 0);
		for (int k = 0; k < 900; k++) {
			assert_int_equal(in[k], q[k] == '#' ? 1 : q[k] == ' ' ? 2 : q[k] == 'S' ? 3 : 4);
			assert_int_equal(label[k], a[k] == 'o' ? 5 : in[k]);
		}
		trmx_check chk = TRMX_CHECK_INIT;
		assert_int_equal(trmx_task_check(t, in, label, NULL, &chk, &e), 0);
		if (chk.verdict != TRMX_VERDICT_VALID || chk.problem != TRMX_CHECK_NONE || chk.path_length != rating ||
		    chk.shortest_length != rating)
			fail_msg("row %lld: %s (rating %d)", (long long)i + 1, chk.message, rating);
		char *text = NULL;
		assert_int_equal(trmx_task_decode(t, in, TRMX_TEXT_LINE, &text, &e), 0);
		assert_memory_equal(text, q, 900);
		trmx_task_text_free(text);
		assert_non_null(strstr(line, "trmx-"));
	}
	fclose(f);
	trmx_dataset_free(ds);
	/* Fields are not trimmed: a free 30x30 maze opens at (0, 0) (a node of its tree), and its
	 * question starts with a space (or S or G) that must stay. */
	trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
	char maze[900], sol[900], csv[2048];
	int len;
	trmx_rng rng;
	trmx_rng_seed(&rng, 3, 1);
	assert_int_equal(trmx_maze_generate(&rng, &o, maze, sol, &len, &e), 0);
	assert_true(maze[0] != '#');
	int n = snprintf(csv, sizeof csv, "source,question,answer,rating\nfree,%.900s,%.900s,%d\n", maze, sol, len);
	ds = NULL;
	assert_int_equal(trmx_dataset_parse(&ds, t, csv, (size_t)n, &dopt, &e), 0);
	int32_t in[900], label[900];
	assert_int_equal(trmx_dataset_example(ds, 0, in, label, &e), 0);
	assert_int_equal(in[0], maze[0] == ' ' ? 2 : maze[0] == 'S' ? 3 : 4);
	trmx_check chk = TRMX_CHECK_INIT;
	assert_int_equal(trmx_task_check(t, in, label, NULL, &chk, &e), 0);
	assert_int_equal(chk.path_length, len);
	trmx_dataset_free(ds);
	trmx_task_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encoding),
		cmocka_unit_test(test_roundtrip_sizes),
		cmocka_unit_test(test_canvas_and_formats),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_checker_table),
		cmocka_unit_test(test_not_shortest),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_families),
		cmocka_unit_test(test_hrm_csv),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
