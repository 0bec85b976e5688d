/*
 * sudoku_solve.c — Sudoku of sides 4, 6 and 9: the geometry (rows, columns, boxes, peers), a
 * bitmask backtracking counter (uniqueness, random full grids), a human-style solver that rates a
 * puzzle by the hardest technique it needs, and the generator built on both.
 *
 * Candidates are bitmasks: bit d-1 stands for digit d. The rater applies the easiest technique
 * that makes progress, then starts again from the easiest, so the level it reports is the least a
 * person needs with this technique set (docs/TASKS.md, "Difficulty").
 */
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

#define NMAX TRMX_SUDOKU_SIZE_MAX
#define CMAX (NMAX * NMAX)

/* ---- Geometry ------------------------------------------------------------------------------ */

int trmx_sudoku_box(int size, int *box_rows, int *box_cols)
{
	int br, bc;
	switch (size) {
	case 4: br = 2, bc = 2; break;
	case 6: br = 2, bc = 3; break;
	case 9: br = 3, bc = 3; break;
	default: return TRMX_EINVAL;
	}
	if (box_rows)
		*box_rows = br;
	if (box_cols)
		*box_cols = bc;
	return 0;
}

int trmx__sudoku_geom_init(sudoku_geom *g, int size, trmx_error *err)
{
	if (trmx_sudoku_box(size, &g->br, &g->bc) < 0)
		return trmx_error_set(err, TRMX_EINVAL, "sudoku: size must be 4, 6 or 9, not %d", size);
	int n = g->n = size;
	g->cells = n * n;
	g->nunits = 3 * n;
	for (int r = 0; r < n; r++) {
		for (int c = 0; c < n; c++) {
			int b = sudoku_box_of(g, r, c);
			g->unit[r][c] = (uint8_t)(r * n + c);
			g->unit[n + c][r] = (uint8_t)(r * n + c);
			int i = (r % g->br) * g->bc + c % g->bc;
			g->unit[2 * n + b][i] = (uint8_t)(r * n + c);
			g->units_of[r * n + c][0] = (uint8_t)r;
			g->units_of[r * n + c][1] = (uint8_t)(n + c);
			g->units_of[r * n + c][2] = (uint8_t)(2 * n + b);
		}
	}
	for (int cell = 0; cell < g->cells; cell++) {
		int np = 0;
		for (int k = 0; k < 3; k++) {
			const uint8_t *u = g->unit[g->units_of[cell][k]];
			for (int i = 0; i < n; i++) {
				int p = u[i];
				if (p == cell)
					continue;
				bool seen = false;
				for (int j = 0; j < np && !seen; j++)
					seen = g->peers[cell][j] == p;
				if (!seen)
					g->peers[cell][np++] = (uint8_t)p;
			}
		}
		g->npeers = (uint8_t)np;
	}
	return 0;
}

static inline int popcount(unsigned x)
{
	return __builtin_popcount(x);
}

static inline int lowbit_digit(unsigned x)
{
	return __builtin_ctz(x) + 1;
}

/* ---- Backtracking counter ------------------------------------------------------------------ */

struct counter {
	const sudoku_geom *g;
	uint16_t rowm[NMAX], colm[NMAX], boxm[NMAX];
	uint8_t grid[CMAX];
	uint8_t box[CMAX];
	int count, limit;
	uint8_t *first;
	trmx_rng *rng;   /* random digit order (full-grid generation), or NULL */
	long nodes;
};

static bool counter_init(struct counter *s, const sudoku_geom *g, const uint8_t *grid)
{
	memset(s, 0, sizeof *s);
	s->g = g;
	int n = g->n;
	for (int i = 0; i < g->cells; i++) {
		s->box[i] = (uint8_t)sudoku_box_of(g, i / n, i % n);
		int d = grid ? grid[i] : 0;
		if (!d)
			continue;
		unsigned bit = 1u << (d - 1);
		int r = i / n, c = i % n, b = s->box[i];
		if ((s->rowm[r] | s->colm[c] | s->boxm[b]) & bit)
			return false;
		s->rowm[r] |= (uint16_t)bit;
		s->colm[c] |= (uint16_t)bit;
		s->boxm[b] |= (uint16_t)bit;
		s->grid[i] = (uint8_t)d;
	}
	return true;
}

static void counter_dfs(struct counter *s)
{
	const sudoku_geom *g = s->g;
	int n = g->n;
	unsigned full = (1u << n) - 1;
	int best = -1, bestcnt = 99;
	unsigned bestm = 0;
	s->nodes++;
	for (int i = 0; i < g->cells; i++) {
		if (s->grid[i])
			continue;
		unsigned m = full & ~(unsigned)(s->rowm[i / n] | s->colm[i % n] | s->boxm[s->box[i]]);
		int cnt = popcount(m);
		if (cnt < bestcnt) {
			best = i, bestcnt = cnt, bestm = m;
			if (cnt <= 1)
				break;
		}
	}
	if (best < 0) {
		if (s->count++ == 0 && s->first)
			memcpy(s->first, s->grid, (size_t)g->cells);
		return;
	}
	if (bestcnt == 0)
		return;
	int digits[NMAX], nd = 0;
	for (unsigned m = bestm; m; m &= m - 1)
		digits[nd++] = lowbit_digit(m);
	if (s->rng) {
		for (int i = nd - 1; i > 0; i--) {
			int j = (int)trmx_rng_below(s->rng, (uint32_t)i + 1);
			int t = digits[i];
			digits[i] = digits[j];
			digits[j] = t;
		}
	}
	int r = best / n, c = best % n, b = s->box[best];
	for (int k = 0; k < nd; k++) {
		uint16_t bit = (uint16_t)(1u << (digits[k] - 1));
		s->grid[best] = (uint8_t)digits[k];
		s->rowm[r] |= bit, s->colm[c] |= bit, s->boxm[b] |= bit;
		counter_dfs(s);
		s->rowm[r] &= (uint16_t)~bit, s->colm[c] &= (uint16_t)~bit, s->boxm[b] &= (uint16_t)~bit;
		s->grid[best] = 0;
		if (s->count >= s->limit)
			return;
	}
}

static int count_solutions(const sudoku_geom *g, const uint8_t *grid, int limit, uint8_t *first,
			   long *nodes)
{
	struct counter s;
	if (!counter_init(&s, g, grid))
		return 0;
	s.limit = limit;
	s.first = first;
	counter_dfs(&s);
	if (nodes)
		*nodes = s.nodes;
	return s.count;
}

static int check_grid_values(int size, const uint8_t *grid, trmx_error *err)
{
	for (int i = 0; i < size * size; i++) {
		if (grid[i] > size)
			return trmx_error_set(err, TRMX_EINVAL, "sudoku: cell %d holds %d, outside 0..%d", i,
					      grid[i], size);
	}
	return 0;
}

int trmx_sudoku_count(int size, const uint8_t *grid, int limit, uint8_t *solution, int *count,
		      trmx_error *err)
{
	sudoku_geom g;
	int rc;
	if (!grid || !count || limit < 1)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_count: bad argument");
	if ((rc = trmx__sudoku_geom_init(&g, size, err)) < 0 || (rc = check_grid_values(size, grid, err)) < 0)
		return rc;
	uint8_t first[CMAX];
	int n = count_solutions(&g, grid, limit, first, NULL);
	if (n > 0 && solution)
		memcpy(solution, first, (size_t)g.cells);
	*count = n;
	return 0;
}

/* ---- Human-style solver -------------------------------------------------------------------- */

struct logic {
	const sudoku_geom *g;
	uint16_t cand[CMAX];
	uint8_t val[CMAX];
	int unsolved;
	int uses[TRMX_SUDOKU_TECHNIQUE_COUNT];
};

/* Place d at cell; -1 when a peer loses its last candidate. */
static int logic_place(struct logic *s, int cell, int d)
{
	const sudoku_geom *g = s->g;
	uint16_t bit = (uint16_t)(1u << (d - 1));
	if (!(s->cand[cell] & bit))
		return -1;
	s->val[cell] = (uint8_t)d;
	s->cand[cell] = bit;
	s->unsolved--;
	for (int k = 0; k < g->npeers; k++) {
		int p = g->peers[cell][k];
		if (s->val[p]) {
			if (s->val[p] == d)
				return -1;
			continue;
		}
		s->cand[p] &= (uint16_t)~bit;
		if (!s->cand[p])
			return -1;
	}
	return 0;
}

static int logic_init(struct logic *s, const sudoku_geom *g, const uint8_t *grid)
{
	memset(s, 0, sizeof *s);
	s->g = g;
	uint16_t full = (uint16_t)((1u << g->n) - 1);
	for (int i = 0; i < g->cells; i++)
		s->cand[i] = full;
	s->unsolved = g->cells;
	for (int i = 0; i < g->cells; i++) {
		if (grid[i] && logic_place(s, i, grid[i]) < 0)
			return -1;
	}
	return 0;
}

static int naked_single(struct logic *s)
{
	int progress = 0;
	for (int i = 0; i < s->g->cells; i++) {
		if (s->val[i])
			continue;
		if (!s->cand[i])
			return -1;
		if (popcount(s->cand[i]) == 1) {
			if (logic_place(s, i, lowbit_digit(s->cand[i])) < 0)
				return -1;
			s->uses[TRMX_SUDOKU_NAKED_SINGLE]++;
			progress = 1;
		}
	}
	return progress;
}

/* Positions (bit i = i-th cell of the unit) where digit d is still a candidate in unsolved cells;
 * *placed is set when d is already placed in the unit. */
static unsigned unit_positions(const struct logic *s, int u, int d, bool *placed)
{
	const uint8_t *cells = s->g->unit[u];
	unsigned bit = 1u << (d - 1), pos = 0;
	*placed = false;
	for (int i = 0; i < s->g->n; i++) {
		int c = cells[i];
		if (s->val[c]) {
			if (s->val[c] == d)
				*placed = true;
		} else if (s->cand[c] & bit) {
			pos |= 1u << i;
		}
	}
	return pos;
}

static int hidden_single(struct logic *s)
{
	const sudoku_geom *g = s->g;
	for (int u = 0; u < g->nunits; u++) {
		for (int d = 1; d <= g->n; d++) {
			bool placed;
			unsigned pos = unit_positions(s, u, d, &placed);
			if (placed)
				continue;
			if (!pos)
				return -1;
			if (popcount(pos) == 1) {
				if (logic_place(s, g->unit[u][__builtin_ctz(pos)], d) < 0)
					return -1;
				s->uses[TRMX_SUDOKU_HIDDEN_SINGLE]++;
				return 1;
			}
		}
	}
	return 0;
}

/* Remove digit mask `m` from cell; true when something went. */
static bool eliminate(struct logic *s, int cell, unsigned m)
{
	if (s->val[cell] || !(s->cand[cell] & m))
		return false;
	s->cand[cell] &= (uint16_t)~m;
	return true;
}

static int locked_candidates(struct logic *s)
{
	const sudoku_geom *g = s->g;
	int n = g->n;
	/* Pointing: a box's candidates for d on one row (column) clear d from the rest of that line. */
	for (int b = 0; b < n; b++) {
		int u = 2 * n + b;
		for (int d = 1; d <= n; d++) {
			bool placed;
			unsigned pos = unit_positions(s, u, d, &placed);
			if (placed || popcount(pos) < 2)
				continue;
			int row = -1, col = -1;
			bool same_row = true, same_col = true;
			for (unsigned m = pos; m; m &= m - 1) {
				int cell = g->unit[u][__builtin_ctz(m)];
				int r = cell / n, c = cell % n;
				if (row < 0)
					row = r, col = c;
				same_row = same_row && r == row;
				same_col = same_col && c == col;
			}
			bool any = false;
			for (int i = 0; i < n; i++) {
				if (same_row) {
					int cell = row * n + i;
					if (sudoku_box_of(g, row, i) != b)
						any |= eliminate(s, cell, 1u << (d - 1));
				}
				if (same_col) {
					int cell = i * n + col;
					if (sudoku_box_of(g, i, col) != b)
						any |= eliminate(s, cell, 1u << (d - 1));
				}
			}
			if (any) {
				s->uses[TRMX_SUDOKU_LOCKED_CANDIDATES]++;
				return 1;
			}
		}
	}
	/* Box-line reduction: a line's candidates for d inside one box clear d from the rest of the box. */
	for (int u = 0; u < 2 * n; u++) {
		for (int d = 1; d <= n; d++) {
			bool placed;
			unsigned pos = unit_positions(s, u, d, &placed);
			if (placed || popcount(pos) < 2)
				continue;
			int box = -1;
			bool same = true;
			for (unsigned m = pos; m; m &= m - 1) {
				int cell = g->unit[u][__builtin_ctz(m)];
				int b = sudoku_box_of(g, cell / n, cell % n);
				if (box < 0)
					box = b;
				same = same && b == box;
			}
			if (!same)
				continue;
			bool any = false;
			for (int i = 0; i < n; i++) {
				int cell = g->unit[2 * n + box][i];
				bool on_line = u < n ? cell / n == u : cell % n == u - n;
				if (!on_line)
					any |= eliminate(s, cell, 1u << (d - 1));
			}
			if (any) {
				s->uses[TRMX_SUDOKU_LOCKED_CANDIDATES]++;
				return 1;
			}
		}
	}
	return 0;
}

/* Naked subsets of size k (2 or 3): k unsolved cells of a unit whose candidates together are k
 * digits; those digits leave the unit's other cells. */
static int naked_subset(struct logic *s, int k, trmx_sudoku_technique tech)
{
	const sudoku_geom *g = s->g;
	int n = g->n;
	for (int u = 0; u < g->nunits; u++) {
		int idx[NMAX], m = 0;
		for (int i = 0; i < n; i++) {
			int c = g->unit[u][i];
			int pc = s->val[c] ? 0 : popcount(s->cand[c]);
			if (pc >= 2 && pc <= k)
				idx[m++] = c;
		}
		for (int a = 0; a < m; a++) {
			for (int b = a + 1; b < m; b++) {
				for (int c3 = k == 3 ? b + 1 : m; c3 < (k == 3 ? m : m + 1); c3++) {
					unsigned uni = (unsigned)s->cand[idx[a]] | s->cand[idx[b]];
					if (k == 3)
						uni |= s->cand[idx[c3]];
					if (popcount(uni) != k)
						continue;
					bool any = false;
					for (int i = 0; i < n; i++) {
						int c = g->unit[u][i];
						if (c == idx[a] || c == idx[b] || (k == 3 && c == idx[c3]))
							continue;
						any |= eliminate(s, c, uni);
					}
					if (any) {
						s->uses[tech]++;
						return 1;
					}
					if (k == 2)
						break;
				}
			}
		}
	}
	return 0;
}

/* Hidden subsets of size k: k digits of a unit that fit only in the same k cells; those cells
 * lose every other candidate. */
static int hidden_subset(struct logic *s, int k, trmx_sudoku_technique tech)
{
	const sudoku_geom *g = s->g;
	int n = g->n;
	for (int u = 0; u < g->nunits; u++) {
		unsigned pos[NMAX + 1];
		int digs[NMAX], m = 0;
		for (int d = 1; d <= n; d++) {
			bool placed;
			pos[d] = unit_positions(s, u, d, &placed);
			int pc = popcount(pos[d]);
			if (!placed && pc >= 1 && pc <= k)
				digs[m++] = d;
		}
		for (int a = 0; a < m; a++) {
			for (int b = a + 1; b < m; b++) {
				for (int c3 = k == 3 ? b + 1 : m; c3 < (k == 3 ? m : m + 1); c3++) {
					unsigned uni = pos[digs[a]] | pos[digs[b]];
					unsigned dm = (1u << (digs[a] - 1)) | (1u << (digs[b] - 1));
					if (k == 3) {
						uni |= pos[digs[c3]];
						dm |= 1u << (digs[c3] - 1);
					}
					if (popcount(uni) != k)
						continue;
					bool any = false;
					for (unsigned mm = uni; mm; mm &= mm - 1)
						any |= eliminate(s, g->unit[u][__builtin_ctz(mm)], ~dm & 0xFFFFu);
					if (any) {
						s->uses[tech]++;
						return 1;
					}
					if (k == 2)
						break;
				}
			}
		}
	}
	return 0;
}

/* X-wing: digit d in two rows only in the same two columns clears d from those columns elsewhere
 * (and the same with rows and columns swapped). */
static int x_wing(struct logic *s)
{
	const sudoku_geom *g = s->g;
	int n = g->n;
	for (int d = 1; d <= n; d++) {
		for (int dir = 0; dir < 2; dir++) {
			unsigned pos[NMAX];
			bool ok[NMAX];
			for (int l = 0; l < n; l++) {
				bool placed;
				pos[l] = unit_positions(s, dir * n + l, d, &placed);
				ok[l] = !placed && popcount(pos[l]) == 2;
			}
			for (int a = 0; a < n; a++) {
				if (!ok[a])
					continue;
				for (int b = a + 1; b < n; b++) {
					if (!ok[b] || pos[b] != pos[a])
						continue;
					bool any = false;
					for (unsigned m = pos[a]; m; m &= m - 1) {
						int cross = __builtin_ctz(m);
						for (int l = 0; l < n; l++) {
							if (l == a || l == b)
								continue;
							int cell = dir == 0 ? l * n + cross : cross * n + l;
							any |= eliminate(s, cell, 1u << (d - 1));
						}
					}
					if (any) {
						s->uses[TRMX_SUDOKU_X_WING]++;
						return 1;
					}
				}
			}
		}
	}
	return 0;
}

/* 1 solved, 0 stuck, -1 contradiction. */
static int logic_run(struct logic *s, trmx_sudoku_level max_level)
{
	while (s->unsolved > 0) {
		int r = naked_single(s);
		if (r)
			goto next;
		if ((r = hidden_single(s)))
			goto next;
		if (max_level >= TRMX_SUDOKU_PAIRS) {
			if ((r = locked_candidates(s)))
				goto next;
			if ((r = naked_subset(s, 2, TRMX_SUDOKU_NAKED_PAIR)))
				goto next;
			if ((r = hidden_subset(s, 2, TRMX_SUDOKU_HIDDEN_PAIR)))
				goto next;
		}
		if (max_level >= TRMX_SUDOKU_ADVANCED) {
			if ((r = naked_subset(s, 3, TRMX_SUDOKU_NAKED_TRIPLE)))
				goto next;
			if ((r = hidden_subset(s, 3, TRMX_SUDOKU_HIDDEN_TRIPLE)))
				goto next;
			if ((r = x_wing(s)))
				goto next;
		}
		return 0;
next:
		if (r < 0)
			return -1;
	}
	return 1;
}

static const trmx_sudoku_level tech_level[TRMX_SUDOKU_TECHNIQUE_COUNT] = {
	[TRMX_SUDOKU_NAKED_SINGLE] = TRMX_SUDOKU_SINGLES,
	[TRMX_SUDOKU_HIDDEN_SINGLE] = TRMX_SUDOKU_SINGLES,
	[TRMX_SUDOKU_LOCKED_CANDIDATES] = TRMX_SUDOKU_PAIRS,
	[TRMX_SUDOKU_NAKED_PAIR] = TRMX_SUDOKU_PAIRS,
	[TRMX_SUDOKU_HIDDEN_PAIR] = TRMX_SUDOKU_PAIRS,
	[TRMX_SUDOKU_NAKED_TRIPLE] = TRMX_SUDOKU_ADVANCED,
	[TRMX_SUDOKU_HIDDEN_TRIPLE] = TRMX_SUDOKU_ADVANCED,
	[TRMX_SUDOKU_X_WING] = TRMX_SUDOKU_ADVANCED,
	[TRMX_SUDOKU_GUESS] = TRMX_SUDOKU_HARD,
};

trmx_sudoku_level trmx_sudoku_technique_level(trmx_sudoku_technique t)
{
	return (unsigned)t < TRMX_SUDOKU_TECHNIQUE_COUNT ? tech_level[t] : TRMX_SUDOKU_ANY;
}

const char *trmx_sudoku_technique_name(trmx_sudoku_technique t)
{
	static const char *const names[TRMX_SUDOKU_TECHNIQUE_COUNT] = {
		"naked single", "hidden single", "locked candidates", "naked pair", "hidden pair",
		"naked triple", "hidden triple", "x-wing", "guess",
	};
	return (unsigned)t < TRMX_SUDOKU_TECHNIQUE_COUNT ? names[t] : "?";
}

const char *trmx_sudoku_level_name(trmx_sudoku_level level)
{
	switch (level) {
	case TRMX_SUDOKU_ANY: return "any";
	case TRMX_SUDOKU_SINGLES: return "singles";
	case TRMX_SUDOKU_PAIRS: return "pairs";
	case TRMX_SUDOKU_ADVANCED: return "advanced";
	case TRMX_SUDOKU_HARD: return "hard";
	}
	return "?";
}

int trmx_sudoku_level_parse(const char *name, trmx_sudoku_level *out)
{
	static const struct {
		const char *name;
		trmx_sudoku_level level;
	} names[] = {
		{ "any", TRMX_SUDOKU_ANY },       { "singles", TRMX_SUDOKU_SINGLES },
		{ "simple", TRMX_SUDOKU_SINGLES }, { "pairs", TRMX_SUDOKU_PAIRS },
		{ "advanced", TRMX_SUDOKU_ADVANCED }, { "hard", TRMX_SUDOKU_HARD },
	};
	for (size_t i = 0; name && i < sizeof names / sizeof *names; i++) {
		if (!strcmp(name, names[i].name)) {
			*out = names[i].level;
			return 0;
		}
	}
	return TRMX_EINVAL;
}

/* Rate a grid known to have one solution. */
static void rate_unique(const sudoku_geom *g, const uint8_t *grid, trmx_sudoku_rating *out)
{
	struct logic s;
	memset(out, 0, sizeof *out);
	for (int i = 0; i < g->cells; i++)
		out->clues += grid[i] != 0;
	int r = logic_init(&s, g, grid) < 0 ? -1 : logic_run(&s, TRMX_SUDOKU_ADVANCED);
	memcpy(out->uses, s.uses, sizeof out->uses);
	out->level = TRMX_SUDOKU_SINGLES;
	for (int t = 0; t < TRMX_SUDOKU_TECHNIQUE_COUNT; t++) {
		if (out->uses[t] && tech_level[t] > out->level)
			out->level = tech_level[t];
	}
	if (r != 1) {
		/* Stuck: count the search nodes from the givens left at this point. */
		long nodes = 0;
		count_solutions(g, r == 0 ? s.val : grid, 1, NULL, &nodes);
		out->uses[TRMX_SUDOKU_GUESS] = (int)(nodes > 1000000 ? 1000000 : nodes);
		out->level = TRMX_SUDOKU_HARD;
	}
}

int trmx_sudoku_rate(int size, const uint8_t *grid, trmx_sudoku_rating *out, trmx_error *err)
{
	sudoku_geom g;
	int rc;
	if (!grid || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_rate: NULL argument");
	if ((rc = trmx__sudoku_geom_init(&g, size, err)) < 0 || (rc = check_grid_values(size, grid, err)) < 0)
		return rc;
	int n = count_solutions(&g, grid, 2, NULL, NULL);
	if (n != 1)
		return trmx_error_set(err, TRMX_EFORMAT, "sudoku: the puzzle has %s",
				      n == 0 ? "no solution" : "more than one solution");
	rate_unique(&g, grid, out);
	return 0;
}

/* ---- Generator ----------------------------------------------------------------------------- */

static bool solvable_within(const sudoku_geom *g, const uint8_t *grid, trmx_sudoku_level level)
{
	struct logic s;
	return logic_init(&s, g, grid) == 0 && logic_run(&s, level) == 1;
}

int trmx_sudoku_generate(trmx_rng *rng, const trmx_sudoku_gen_options *opts, uint8_t *puzzle,
			 uint8_t *solution, trmx_sudoku_rating *rating, trmx_error *err)
{
	sudoku_geom g;
	int rc;
	if (!rng || !opts || !puzzle || !solution)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_generate: NULL argument");
	if (!trmx_version_ok(opts->version, TRMX_SUDOKU_GEN_OPTIONS_VERSION))
		return trmx_version_refused(err, "trmx_sudoku_gen_options", opts->version, TRMX_SUDOKU_GEN_OPTIONS_VERSION);
	if ((rc = trmx__sudoku_geom_init(&g, opts->size, err)) < 0)
		return rc;
	if ((unsigned)opts->level > TRMX_SUDOKU_HARD)
		return trmx_error_set(err, TRMX_EINVAL, "sudoku: unknown level %d", (int)opts->level);
	int attempts = opts->max_attempts > 0 ? opts->max_attempts : 2000;
	int extra = opts->version >= 2 ? opts->extra_givens : 0;
	if (extra < 0 || extra > g.cells)
		return trmx_error_set(err, TRMX_EINVAL, "sudoku: extra_givens %d is outside [0, %d]", extra, g.cells);
	trmx_sudoku_level want = opts->level;
	bool by_uniqueness = want == TRMX_SUDOKU_ANY || want == TRMX_SUDOKU_HARD;
	uint8_t sol[CMAX], puz[CMAX], order[CMAX];
	for (int a = 0; a < attempts; a++) {
		struct counter s;
		counter_init(&s, &g, NULL);
		s.limit = 1;
		s.first = sol;
		s.rng = rng;
		counter_dfs(&s);
		memcpy(puz, sol, (size_t)g.cells);
		for (int i = 0; i < g.cells; i++)
			order[i] = (uint8_t)i;
		for (int i = g.cells - 1; i > 0; i--) {
			int j = (int)trmx_rng_below(rng, (uint32_t)i + 1);
			uint8_t t = order[i];
			order[i] = order[j];
			order[j] = t;
		}
		for (int i = 0; i < g.cells; i++) {
			int c = order[i];
			uint8_t saved = puz[c];
			puz[c] = 0;
			bool keep = by_uniqueness ? count_solutions(&g, puz, 2, NULL, NULL) == 1
						  : solvable_within(&g, puz, want);
			if (!keep)
				puz[c] = saved;
		}
		trmx_sudoku_rating r;
		rate_unique(&g, puz, &r);
		if (want != TRMX_SUDOKU_ANY && r.level != want)
			continue;
		if (extra > 0) { /* give back k of the dug cells, the first k of `order` that are blank */
			int k = (int)trmx_rng_below(rng, (uint32_t)extra + 1);
			for (int i = 0; i < g.cells && k > 0; i++)
				if (!puz[order[i]]) {
					puz[order[i]] = sol[order[i]];
					k--;
				}
			rate_unique(&g, puz, &r);
		}
		memcpy(puzzle, puz, (size_t)g.cells);
		memcpy(solution, sol, (size_t)g.cells);
		if (rating)
			*rating = r;
		return 0;
	}
	return trmx_error_set(err, TRMX_ENOTFOUND,
			      "sudoku: no %dx%d puzzle of level %s in %d attempts", g.n, g.n,
			      trmx_sudoku_level_name(want), attempts);
}
