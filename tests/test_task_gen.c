/*
 * test_task_gen.c — the generators against checks written here, independent of the library's
 * solvers: a plain backtracking counter proves each generated Sudoku has exactly one solution
 * (the generator's), a singles-only solver confirms the `singles` boundary of the rating, and a
 * BFS confirms each maze's shortest path and its length rule. The codecs' checkers must accept
 * the true solutions of 1,000 generated puzzles of each kind. Also: determinism for a seed.
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

/* ---- An independent Sudoku counter: plain backtracking, first empty cell with fewest options -- */

struct indep {
	int n, br, bc;
	uint8_t g[81];
	int count, limit;
	uint8_t first[81];
};

static bool fits(const struct indep *s, int cell, int d)
{
	int n = s->n, r = cell / n, c = cell % n;
	for (int i = 0; i < n; i++) {
		if (s->g[r * n + i] == d || s->g[i * n + c] == d)
			return false;
	}
	int r0 = r / s->br * s->br, c0 = c / s->bc * s->bc;
	for (int i = 0; i < s->br; i++)
		for (int j = 0; j < s->bc; j++)
			if (s->g[(r0 + i) * n + c0 + j] == d)
				return false;
	return true;
}

static void indep_search(struct indep *s)
{
	int n = s->n, best = -1, bestn = 99;
	for (int i = 0; i < n * n && bestn > 1; i++) {
		if (s->g[i])
			continue;
		int k = 0;
		for (int d = 1; d <= n; d++)
			k += fits(s, i, d);
		if (k < bestn)
			best = i, bestn = k;
	}
	if (best < 0) {
		if (s->count++ == 0)
			memcpy(s->first, s->g, (size_t)(n * n));
		return;
	}
	for (int d = 1; d <= n && s->count < s->limit; d++) {
		if (!fits(s, best, d))
			continue;
		s->g[best] = (uint8_t)d;
		indep_search(s);
		s->g[best] = 0;
	}
}

static int indep_count(int n, const uint8_t *grid, uint8_t *first)
{
	struct indep s;
	memset(&s, 0, sizeof s);
	s.n = n;
	s.br = n == 9 ? 3 : 2;
	s.bc = n == 4 ? 2 : 3;
	s.limit = 2;
	memcpy(s.g, grid, (size_t)(n * n));
	for (int i = 0; i < n * n; i++) {
		if (!grid[i])
			continue;
		int d = grid[i];
		s.g[i] = 0;
		bool ok = fits(&s, i, d);
		s.g[i] = (uint8_t)d;
		if (!ok)
			return 0;
	}
	indep_search(&s);
	if (first)
		memcpy(first, s.first, (size_t)(n * n));
	return s.count;
}

/* Naked and hidden singles only, with candidates recomputed from scratch: true when solved. */
static bool indep_singles(int n, const uint8_t *grid)
{
	struct indep s;
	memset(&s, 0, sizeof s);
	s.n = n;
	s.br = n == 9 ? 3 : 2;
	s.bc = n == 4 ? 2 : 3;
	memcpy(s.g, grid, (size_t)(n * n));
	for (;;) {
		bool progress = false, done = true;
		for (int i = 0; i < n * n; i++) {
			if (s.g[i])
				continue;
			done = false;
			int k = 0, last = 0;
			for (int d = 1; d <= n; d++)
				if (fits(&s, i, d))
					k++, last = d;
			if (k == 1) {
				s.g[i] = (uint8_t)last;
				progress = true;
			}
		}
		if (done)
			return true;
		/* Hidden singles over rows, columns and boxes. */
		for (int u = 0; u < 3 * n && !progress; u++) {
			for (int d = 1; d <= n && !progress; d++) {
				int cells[9], m = 0, where = -1;
				bool placed = false;
				for (int i = 0; i < n; i++) {
					int cell;
					if (u < n)
						cell = u * n + i;
					else if (u < 2 * n)
						cell = i * n + (u - n);
					else {
						int b = u - 2 * n, per = n / s.bc;
						cell = (b / per * s.br + i / s.bc) * n + b % per * s.bc + i % s.bc;
					}
					cells[i] = cell;
					if (s.g[cell] == d)
						placed = true;
				}
				if (placed)
					continue;
				for (int i = 0; i < n; i++)
					if (!s.g[cells[i]] && fits(&s, cells[i], d))
						m++, where = cells[i];
				if (m == 1) {
					s.g[where] = (uint8_t)d;
					progress = true;
				}
			}
		}
		if (!progress)
			return false;
	}
}

static void to_tokens(const uint8_t *g, int n, int32_t *tok)
{
	for (int i = 0; i < n * n; i++)
		tok[i] = g[i] + 1;
}

struct plan {
	int size;
	trmx_sudoku_level level;
	int count;
};

static void test_sudoku_1000(void **state)
{
	(void)state;
	/* 1,000 puzzles: every size, every level each size reaches. */
	static const struct plan plans[] = {
		{ 4, TRMX_SUDOKU_ANY, 300 },      { 4, TRMX_SUDOKU_SINGLES, 100 },
		{ 6, TRMX_SUDOKU_ANY, 150 },      { 6, TRMX_SUDOKU_SINGLES, 100 }, { 6, TRMX_SUDOKU_HARD, 50 },
		{ 9, TRMX_SUDOKU_ANY, 100 },      { 9, TRMX_SUDOKU_SINGLES, 120 }, { 9, TRMX_SUDOKU_PAIRS, 40 },
		{ 9, TRMX_SUDOKU_ADVANCED, 2 },   { 9, TRMX_SUDOKU_HARD, 38 },
	};
	int total = 0, by_level[5] = { 0 };
	trmx_task *tasks[10] = { NULL };
	trmx_error e = { 0, "" };
	for (size_t p = 0; p < sizeof plans / sizeof *plans; p++) {
		const struct plan *pl = &plans[p];
		trmx_task *t = tasks[pl->size];
		if (!t) {
			char params[16];
			snprintf(params, sizeof params, "size=%d", pl->size);
			assert_int_equal(trmx_task_open(&tasks[pl->size], "sudoku", params, &e), 0);
			t = tasks[pl->size];
		}
		trmx_sudoku_gen_options o = TRMX_SUDOKU_GEN_OPTIONS_INIT;
		o.size = pl->size;
		o.level = pl->level;
		int n = pl->size;
		for (int i = 0; i < pl->count; i++) {
			uint8_t puz[81], sol[81], mine[81];
			trmx_sudoku_rating r;
			trmx_rng rng;
			trmx_rng_seed(&rng, 1000 + p, (uint64_t)i);
			if (trmx_sudoku_generate(&rng, &o, puz, sol, &r, &e) < 0)
				fail_msg("size %d level %s #%d: %s", n, trmx_sudoku_level_name(pl->level), i, e.message);
			/* Exactly one solution, the generator's, by the independent counter. */
			assert_int_equal(indep_count(n, puz, mine), 1);
			assert_memory_equal(mine, sol, (size_t)(n * n));
			/* The puzzle is the solution with blanks. */
			int clues = 0;
			for (int c = 0; c < n * n; c++) {
				if (puz[c]) {
					assert_int_equal(puz[c], sol[c]);
					clues++;
				}
			}
			assert_int_equal(r.clues, clues);
			/* The rating: the level asked, the hardest technique used, and the singles boundary
			 * agreeing with the independent singles solver. */
			if (pl->level != TRMX_SUDOKU_ANY)
				assert_int_equal(r.level, pl->level);
			trmx_sudoku_level hardest = TRMX_SUDOKU_SINGLES;
			for (int k = 0; k < TRMX_SUDOKU_TECHNIQUE_COUNT; k++)
				if (r.uses[k] && trmx_sudoku_technique_level((trmx_sudoku_technique)k) > hardest)
					hardest = trmx_sudoku_technique_level((trmx_sudoku_technique)k);
			assert_int_equal(r.level, hardest);
			assert_int_equal(indep_singles(n, puz), r.level == TRMX_SUDOKU_SINGLES);
			by_level[r.level]++;
			/* The checker accepts the solution for the puzzle, and the rater agrees. */
			int32_t pt[81], st[81];
			to_tokens(puz, n, pt);
			to_tokens(sol, n, st);
			trmx_check chk = TRMX_CHECK_INIT;
			assert_int_equal(trmx_task_check(t, pt, st, NULL, &chk, &e), 0);
			if (chk.verdict != TRMX_VERDICT_VALID)
				fail_msg("checker: %s", chk.message);
			/* ... and rejects the puzzle itself as incomplete. */
			assert_int_equal(trmx_task_check(t, pt, pt, NULL, &chk, &e), 0);
			assert_int_equal(chk.problem, TRMX_CHECK_INCOMPLETE);
			total++;
		}
	}
	assert_int_equal(total, 1000);
	print_message("sudoku levels: singles %d, pairs %d, advanced %d, hard %d\n", by_level[1], by_level[2],
		      by_level[3], by_level[4]);
	for (int k = 0; k < 10; k++)
		trmx_task_free(tasks[k]);
}

static void test_sudoku_determinism(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	trmx_sudoku_gen_options o = TRMX_SUDOKU_GEN_OPTIONS_INIT;
	uint8_t a[81], b[81], sa[81], sb[81];
	trmx_rng r1, r2;
	trmx_rng_seed(&r1, 42, 7);
	trmx_rng_seed(&r2, 42, 7);
	assert_int_equal(trmx_sudoku_generate(&r1, &o, a, sa, NULL, &e), 0);
	assert_int_equal(trmx_sudoku_generate(&r2, &o, b, sb, NULL, &e), 0);
	assert_memory_equal(a, b, 81);
	assert_memory_equal(sa, sb, 81);
	trmx_rng_seed(&r2, 42, 8);
	assert_int_equal(trmx_sudoku_generate(&r2, &o, b, sb, NULL, &e), 0);
	assert_memory_not_equal(a, b, 81);
	/* The PRNG itself is fixed: these numbers never change. */
	trmx_rng r;
	trmx_rng_seed(&r, 1, 0);
	uint64_t x = trmx_rng_next(&r);
	trmx_rng_seed(&r, 1, 0);
	assert_true(trmx_rng_next(&r) == x);
	for (int i = 0; i < 1000; i++)
		assert_true(trmx_rng_below(&r, 7) < 7);
	assert_int_equal(trmx_rng_below(&r, 0), 0);
	/* Levels out of reach fail cleanly. */
	o.size = 4;
	o.level = TRMX_SUDOKU_HARD;
	o.max_attempts = 20;
	if (trmx_sudoku_generate(&r1, &o, a, sa, NULL, &e) != TRMX_ENOTFOUND ||
	    !strstr(e.message, "no 4x4 puzzle of level hard in 20 attempts"))
		fail_msg("got: %s", e.message);
	o.size = 7;
	assert_int_equal(trmx_sudoku_generate(&r1, &o, a, sa, NULL, &e), TRMX_EINVAL);
}

/* extra_givens: the minimal puzzle of the same stream with 0..K of its dug cells given back, each
 * count seen, the solution unique by the independent counter; 0 gives the minimal one. */
static void test_sudoku_extra_givens(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	for (int size = 4; size <= 9; size += 5) {
		int n = size, K = size == 4 ? 10 : 6, seen[82] = { 0 };
		for (int i = 0; i < (size == 4 ? 400 : 60); i++) {
			trmx_sudoku_gen_options o = TRMX_SUDOKU_GEN_OPTIONS_INIT, m = o;
			o.size = m.size = size;
			o.extra_givens = K;
			uint8_t puz[81], sol[81], min[81], msol[81], mine[81];
			trmx_sudoku_rating r;
			trmx_rng r1, r2;
			trmx_rng_seed(&r1, 77, (uint64_t)i);
			trmx_rng_seed(&r2, 77, (uint64_t)i);
			assert_int_equal(trmx_sudoku_generate(&r1, &o, puz, sol, &r, &e), 0);
			assert_int_equal(trmx_sudoku_generate(&r2, &m, min, msol, NULL, &e), 0);
			assert_memory_equal(sol, msol, (size_t)(n * n)); /* the same grid, dug the same way */
			int clues = 0, minclues = 0;
			for (int c = 0; c < n * n; c++) {
				if (min[c])
					assert_int_equal(puz[c], min[c]); /* every minimal clue stays */
				if (puz[c])
					assert_int_equal(puz[c], sol[c]);
				clues += puz[c] != 0;
				minclues += min[c] != 0;
			}
			assert_true(clues >= minclues && clues <= minclues + K);
			assert_int_equal(r.clues, clues);
			seen[clues - minclues]++;
			assert_int_equal(indep_count(n, puz, mine), 1);
			assert_memory_equal(mine, sol, (size_t)(n * n));
		}
		if (size == 4)
			for (int k = 0; k <= K; k++)
				if (!seen[k])
					fail_msg("4x4: %d clues given back never happened in 400 puzzles", k);
	}
	trmx_sudoku_gen_options o = TRMX_SUDOKU_GEN_OPTIONS_INIT;
	uint8_t a[81], b[81];
	trmx_rng r;
	trmx_rng_seed(&r, 1, 0);
	o.extra_givens = 82;
	assert_int_equal(trmx_sudoku_generate(&r, &o, a, b, NULL, &e), TRMX_EINVAL);
	o.version = 1; /* a version-1 caller has no such field: read as 0 */
	assert_int_equal(trmx_sudoku_generate(&r, &o, a, b, NULL, &e), 0);
}

/* ---- Mazes --------------------------------------------------------------------------------- */

/* The moves of a shortest path from S to G, and how many shortest paths there are (capped at 2). */
static int bfs_len(int S, const char *m, int *paths)
{
	int dist[900], q[900], count[900], h = 0, t = 0, start = -1, goal = -1;
	for (int i = 0; i < S * S; i++) {
		dist[i] = -1;
		if (m[i] == 'S')
			start = i;
		if (m[i] == 'G')
			goal = i;
	}
	if (start < 0 || goal < 0)
		return -2;
	dist[start] = 0;
	count[start] = 1;
	q[t++] = start;
	while (h < t) {
		int v = q[h++];
		int nb[4] = { v - S, v + S, v % S ? v - 1 : -1, v % S < S - 1 ? v + 1 : -1 };
		for (int k = 0; k < 4; k++) {
			int w = nb[k];
			if (w < 0 || w >= S * S || m[w] == '#')
				continue;
			if (dist[w] < 0) {
				dist[w] = dist[v] + 1;
				count[w] = count[v];
				q[t++] = w;
			} else if (dist[w] == dist[v] + 1) {
				count[w] = count[w] + count[v] > 2 ? 2 : count[w] + count[v];
			}
		}
	}
	*paths = count[goal];
	return dist[goal];
}

static void test_maze_1000(void **state)
{
	(void)state;
	static const int sizes[] = { 3, 5, 8, 10, 15, 20, 25, 30 };
	static const int counts[] = { 50, 100, 100, 150, 200, 150, 100, 150 };
	trmx_error e = { 0, "" };
	int total = 0;
	for (size_t k = 0; k < sizeof sizes / sizeof *sizes; k++) {
		int S = sizes[k];
		char params[32];
		trmx_task *t = NULL;
		snprintf(params, sizeof params, "size=%d", S);
		assert_int_equal(trmx_task_open(&t, "maze", params, &e), 0);
		trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
		o.size = S;
		int min = trmx_maze_default_min_path(S);
		if (S == 30)
			assert_int_equal(min, 111); /* Maze-Hard: longer than 110 */
		for (int i = 0; i < counts[k]; i++) {
			char maze[901], sol[901];
			int len = -1;
			trmx_rng rng;
			trmx_rng_seed(&rng, 77, (uint64_t)(S * 10000 + i));
			if (trmx_maze_generate(&rng, &o, maze, sol, &len, &e) < 0)
				fail_msg("size %d #%d: %s", S, i, e.message);
			maze[S * S] = sol[S * S] = '\0';
			/* The length rule and one shortest path only, by an independent BFS. */
			int paths = 0;
			assert_int_equal(bfs_len(S, maze, &paths), len);
			assert_int_equal(paths, 1);
			assert_true(len >= min);
			/* The solution is the maze plus exactly len-1 path cells. */
			int marks = 0;
			for (int c = 0; c < S * S; c++) {
				if (sol[c] == 'o') {
					assert_int_equal(maze[c], ' ');
					marks++;
				} else {
					assert_int_equal(sol[c], maze[c]);
				}
			}
			assert_int_equal(marks, len - 1);
			/* The codec reads both and the checker accepts the solution as shortest. */
			int32_t in[900], label[900], in2[900];
			bool has = false;
			assert_int_equal(trmx_task_encode(t, sol, (size_t)(S * S), in, label, &has, &e), 0);
			assert_true(has || len == 1);
			assert_int_equal(trmx_task_encode(t, maze, (size_t)(S * S), in2, NULL, NULL, &e), 0);
			assert_memory_equal(in, in2, sizeof(int32_t) * (size_t)(S * S));
			trmx_check chk = TRMX_CHECK_INIT;
			assert_int_equal(trmx_task_check(t, in, has ? label : in, NULL, &chk, &e), 0);
			if (chk.verdict != TRMX_VERDICT_VALID || chk.problem != TRMX_CHECK_NONE || chk.path_length != len)
				fail_msg("size %d #%d: %s", S, i, chk.message);
			total++;
		}
		trmx_task_free(t);
	}
	assert_int_equal(total, 1000);
	/* A stricter rule, and one that cannot be met. */
	trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
	o.size = 15;
	o.min_path = 60;
	char maze[900], sol[900];
	int len;
	trmx_rng rng;
	trmx_rng_seed(&rng, 5, 0);
	assert_int_equal(trmx_maze_generate(&rng, &o, maze, sol, &len, &e), 0);
	assert_true(len >= 60);
	o.min_path = 200;
	assert_int_equal(trmx_maze_generate(&rng, &o, maze, sol, &len, &e), TRMX_EINVAL);
	o.size = 31;
	assert_int_equal(trmx_maze_generate(&rng, &o, maze, sol, &len, &e), TRMX_EINVAL);
	/* Same seed and stream, same maze. */
	char m2[900], s2[900];
	trmx_rng a, b;
	o = (trmx_maze_gen_options)TRMX_MAZE_GEN_OPTIONS_INIT;
	trmx_rng_seed(&a, 9, 3);
	trmx_rng_seed(&b, 9, 3);
	assert_int_equal(trmx_maze_generate(&a, &o, maze, sol, NULL, &e), 0);
	assert_int_equal(trmx_maze_generate(&b, &o, m2, s2, NULL, &e), 0);
	assert_memory_equal(maze, m2, 900);
	assert_memory_equal(sol, s2, 900);
}

/* Distance of every cell from the label's path (S and G too) through open cells, by relaxing all
 * cells until nothing changes (not the library's breadth-first search); -1 for walls. */
static void dist_from_path(int C, const int32_t *label, int *dist)
{
	for (int v = 0; v < C * C; v++)
		dist[v] = label[v] >= 3 ? 0 : label[v] == 2 ? 1 << 20 : -1;
	for (bool changed = true; changed;) {
		changed = false;
		for (int v = 0; v < C * C; v++) {
			int nb[4] = { v - C, v + C, v % C ? v - 1 : -1, v % C < C - 1 ? v + 1 : -1 };
			for (int k = 0; k < 4; k++)
				if (dist[v] > 0 && nb[k] >= 0 && nb[k] < C * C && dist[nb[k]] >= 0 &&
				    dist[nb[k]] + 1 < dist[v])
					dist[v] = dist[nb[k]] + 1, changed = true;
		}
	}
}

/* The dead-end curriculum: cells farther from the path than start + f * (D - start) become walls
 * in input and label alike, nothing else changes, the path alone at start 0 and f = 0. */
static void test_maze_prune(void **state)
{
	(void)state;
	static const struct { int size, canvas; } shapes[] = { { 15, 15 }, { 9, 12 } };
	trmx_error e = { 0, "" };
	for (size_t k = 0; k < sizeof shapes / sizeof *shapes; k++) {
		int S = shapes[k].size, C = shapes[k].canvas;
		char params[48];
		trmx_task *t = NULL;
		snprintf(params, sizeof params, "size=%d canvas=%d", S, C);
		assert_int_equal(trmx_task_open(&t, "maze", params, &e), 0);
		trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
		o.size = S;
		trmx_rng rng;
		trmx_rng_seed(&rng, 33, (uint64_t)k);
		for (int i = 0; i < 100; i++) {
			char maze[901], sol[901];
			assert_int_equal(trmx_maze_generate(&rng, &o, maze, sol, NULL, &e), 0);
			int32_t in[900], label[900], pin[900], plab[900];
			int dist[900], D = 0;
			bool has = false;
			assert_int_equal(trmx_task_encode(t, sol, (size_t)(S * S), in, label, &has, &e), 0);
			dist_from_path(C, label, dist);
			for (int v = 0; v < C * C; v++)
				D = dist[v] > D ? dist[v] : D;
			assert_true(D > 0);
			static const struct { int start; double f; } cases[] = { { 0, 0.0 }, { 2, 0.5 }, { 1, 1.0 } };
			for (size_t j = 0; j < 3; j++) {
				memcpy(pin, in, sizeof pin);
				memcpy(plab, label, sizeof plab);
				assert_int_equal(trmx_maze_prune(C, pin, plab, cases[j].start, cases[j].f), D);
				int keep = cases[j].start + (int)(cases[j].f * (D - cases[j].start));
				for (int v = 0; v < C * C; v++) {
					bool walled = dist[v] > keep;
					assert_int_equal(pin[v], walled ? 1 : in[v]);
					assert_int_equal(plab[v], walled ? 1 : label[v]);
				}
				if (cases[j].f == 0.0) /* the path alone: no open cell left but the path's */
					for (int v = 0; v < C * C; v++)
						assert_true(pin[v] != 2 || plab[v] == 5);
				if (cases[j].f == 1.0)
					assert_memory_equal(pin, in, sizeof pin);
			}
		}
		trmx_task_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sudoku_1000),	    cmocka_unit_test(test_sudoku_determinism),
		cmocka_unit_test(test_sudoku_extra_givens), cmocka_unit_test(test_maze_1000),
		cmocka_unit_test(test_maze_prune),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
