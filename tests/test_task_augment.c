/*
 * test_task_augment.c — the official augmentations: the 8 dihedral transforms (numpy semantics,
 * inverse ids), the Sudoku shuffle in the official order generalised to 4x4 and 6x6, and the ARC
 * colour permutation + dihedral transform. Valid puzzle/solution pairs must stay valid, and every
 * inverse composed with its transform must be the identity.
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

static void test_dihedral_numpy(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	/* 2x3 grid [[1,2,3],[4,5,6]] and numpy's results for each id. */
	const int32_t in[6] = { 1, 2, 3, 4, 5, 6 };
	static const struct {
		int rows, cols;
		int32_t out[6];
	} want[8] = {
		{ 2, 3, { 1, 2, 3, 4, 5, 6 } }, /* identity */
		{ 3, 2, { 3, 6, 2, 5, 1, 4 } }, /* np.rot90 */
		{ 2, 3, { 6, 5, 4, 3, 2, 1 } }, /* rot180 */
		{ 3, 2, { 4, 1, 5, 2, 6, 3 } }, /* rot270 */
		{ 2, 3, { 3, 2, 1, 6, 5, 4 } }, /* fliplr */
		{ 2, 3, { 4, 5, 6, 1, 2, 3 } }, /* flipud */
		{ 3, 2, { 1, 4, 2, 5, 3, 6 } }, /* transpose */
		{ 3, 2, { 6, 3, 5, 2, 4, 1 } }, /* fliplr(rot90) */
	};
	for (int tid = 0; tid < 8; tid++) {
		int32_t out[6], back[6];
		int r, c, r2, c2;
		assert_int_equal(trmx_dihedral_apply(tid, in, 2, 3, out, &r, &c, &e), 0);
		assert_int_equal(r, want[tid].rows);
		assert_int_equal(c, want[tid].cols);
		assert_memory_equal(out, want[tid].out, sizeof out);
		int inv = trmx_dihedral_inverse(tid);
		assert_int_equal(trmx_dihedral_apply(inv, out, r, c, back, &r2, &c2, &e), 0);
		assert_int_equal(r2, 2);
		assert_int_equal(c2, 3);
		assert_memory_equal(back, in, sizeof in);
	}
	static const int inverses[8] = { 0, 3, 2, 1, 4, 5, 6, 7 };
	for (int tid = 0; tid < 8; tid++)
		assert_int_equal(trmx_dihedral_inverse(tid), inverses[tid]);
	assert_int_equal(trmx_dihedral_inverse(8), -1);
	int32_t out[6];
	expect_fail(trmx_dihedral_apply(8, in, 2, 3, out, NULL, NULL, &e), &e, TRMX_EINVAL, "dihedral transform id 8");
	expect_fail(trmx_dihedral_apply(0, in, 0, 3, out, NULL, NULL, &e), &e, TRMX_EINVAL, "0x3 grid");
}

static void test_dihedral_random_grids(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	trmx_rng rng;
	trmx_rng_seed(&rng, 3, 0);
	for (int trial = 0; trial < 200; trial++) {
		int rows = 1 + (int)trmx_rng_below(&rng, 30), cols = 1 + (int)trmx_rng_below(&rng, 30);
		int32_t in[900], out[900], back[900], twice[900], tmp[900];
		for (int i = 0; i < rows * cols; i++)
			in[i] = (int32_t)trmx_rng_below(&rng, 1000);
		for (int tid = 0; tid < 8; tid++) {
			int r, c;
			assert_int_equal(trmx_dihedral_apply(tid, in, rows, cols, out, &r, &c, &e), 0);
			assert_int_equal(trmx_dihedral_apply(trmx_dihedral_inverse(tid), out, r, c, back, NULL, NULL, &e), 0);
			assert_memory_equal(back, in, sizeof(int32_t) * (size_t)(rows * cols));
		}
		/* rot90 twice is rot180; fliplr after rot90 is the anti-transpose. */
		int r, c;
		assert_int_equal(trmx_dihedral_apply(1, in, rows, cols, tmp, &r, &c, &e), 0);
		assert_int_equal(trmx_dihedral_apply(1, tmp, r, c, twice, NULL, NULL, &e), 0);
		assert_int_equal(trmx_dihedral_apply(2, in, rows, cols, out, NULL, NULL, &e), 0);
		assert_memory_equal(twice, out, sizeof(int32_t) * (size_t)(rows * cols));
		assert_int_equal(trmx_dihedral_apply(4, tmp, r, c, twice, NULL, NULL, &e), 0);
		assert_int_equal(trmx_dihedral_apply(7, in, rows, cols, out, NULL, NULL, &e), 0);
		assert_memory_equal(twice, out, sizeof(int32_t) * (size_t)(rows * cols));
	}
}

/* ---- Sudoku shuffle ------------------------------------------------------------------------ */

static void to_tokens(const uint8_t *g, int n, int32_t *tok)
{
	for (int i = 0; i < n * n; i++)
		tok[i] = g[i] + 1;
}

/* The official order spelled out: transpose, then new (i, j) <- old (rows[i], cols[j]), then digits. */
static void reference_shuffle(const trmx_sudoku_shuffle *s, const int32_t *in, int32_t *out)
{
	int n = s->size;
	int32_t x[81];
	for (int i = 0; i < n; i++)
		for (int j = 0; j < n; j++)
			x[i * n + j] = s->transpose ? in[j * n + i] : in[i * n + j];
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++) {
			int32_t t = x[s->rows[i] * n + s->cols[j]];
			out[i * n + j] = t >= 2 ? s->digits[t - 1] + 1 : t;
		}
	}
}

static void test_sudoku_shuffle(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	static const int sizes[3] = { 4, 6, 9 };
	for (int k = 0; k < 3; k++) {
		int n = sizes[k];
		char params[16];
		trmx_task *t = NULL;
		snprintf(params, sizeof params, "size=%d", n);
		assert_int_equal(trmx_task_open(&t, "sudoku", params, &e), 0);
		trmx_rng rng;
		trmx_rng_seed(&rng, 11, (uint64_t)n);
		int transposed = 0;
		for (int trial = 0; trial < 200; trial++) {
			uint8_t puz[81], sol[81];
			trmx_sudoku_gen_options o = TRMX_SUDOKU_GEN_OPTIONS_INIT;
			o.size = n;
			assert_int_equal(trmx_sudoku_generate(&rng, &o, puz, sol, NULL, &e), 0);
			int32_t p[81], s[81], p2[81], s2[81], ref[81], back[81];
			to_tokens(puz, n, p);
			to_tokens(sol, n, s);
			trmx_sudoku_shuffle sh, inv;
			assert_int_equal(trmx_sudoku_shuffle_random(&rng, n, &sh, &e), 0);
			assert_int_equal(trmx_sudoku_shuffle_validate(&sh, &e), 0);
			transposed += sh.transpose;
			if (n == 6)
				assert_false(sh.transpose);
			assert_int_equal(trmx_sudoku_shuffle_tokens(&sh, p, p2, &e), 0);
			assert_int_equal(trmx_sudoku_shuffle_tokens(&sh, s, s2, &e), 0);
			reference_shuffle(&sh, p, ref);
			assert_memory_equal(p2, ref, sizeof(int32_t) * (size_t)(n * n));
			/* Still a valid pair. */
			trmx_check chk = TRMX_CHECK_INIT;
			assert_int_equal(trmx_task_check(t, p2, s2, NULL, &chk, &e), 0);
			if (chk.verdict != TRMX_VERDICT_VALID)
				fail_msg("size %d: %s", n, chk.message);
			/* Still one solution. */
			uint8_t g[81], only[81];
			int count;
			for (int i = 0; i < n * n; i++)
				g[i] = (uint8_t)(p2[i] - 1);
			assert_int_equal(trmx_sudoku_count(n, g, 2, only, &count, &e), 0);
			assert_int_equal(count, 1);
			for (int i = 0; i < n * n; i++)
				assert_int_equal(only[i] + 1, s2[i]);
			/* The inverse undoes it. */
			assert_int_equal(trmx_sudoku_shuffle_invert(&sh, &inv, &e), 0);
			assert_int_equal(trmx_sudoku_shuffle_validate(&inv, &e), 0);
			assert_int_equal(trmx_sudoku_shuffle_tokens(&inv, s2, back, &e), 0);
			assert_memory_equal(back, s, sizeof(int32_t) * (size_t)(n * n));
			assert_int_equal(trmx_sudoku_shuffle_tokens(&inv, p2, back, &e), 0);
			assert_memory_equal(back, p, sizeof(int32_t) * (size_t)(n * n));
		}
		if (n != 6)
			assert_true(transposed > 50 && transposed < 150);
		trmx_task_free(t);
	}
}

static void test_sudoku_shuffle_invalid(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	trmx_sudoku_shuffle s;
	trmx_rng rng;
	trmx_rng_seed(&rng, 1, 1);
	assert_int_equal(trmx_sudoku_shuffle_random(&rng, 6, &s, &e), 0);
	s.transpose = true;
	expect_fail(trmx_sudoku_shuffle_validate(&s, &e), &e, TRMX_EINVAL,
		    "a transpose turns 2x3 boxes into 3x2 boxes; size 6 cannot transpose");
	int32_t in[36] = { 0 }, out[36];
	expect_fail(trmx_sudoku_shuffle_tokens(&s, in, out, &e), &e, TRMX_EINVAL, "cannot transpose");
	/* Rows that split a band. */
	assert_int_equal(trmx_sudoku_shuffle_random(&rng, 9, &s, &e), 0);
	s.rows[0] = 0, s.rows[1] = 1, s.rows[2] = 3, s.rows[3] = 2;
	for (int i = 4; i < 9; i++)
		s.rows[i] = (uint8_t)i;
	expect_fail(trmx_sudoku_shuffle_validate(&s, &e), &e, TRMX_EINVAL, "bands of 3 rows");
	/* 6x6 columns move in stacks of 3. */
	assert_int_equal(trmx_sudoku_shuffle_random(&rng, 6, &s, &e), 0);
	static const uint8_t cols_ok[6] = { 4, 3, 5, 2, 0, 1 }, cols_bad[6] = { 0, 1, 3, 2, 4, 5 };
	memcpy(s.cols, cols_ok, 6);
	assert_int_equal(trmx_sudoku_shuffle_validate(&s, &e), 0);
	memcpy(s.cols, cols_bad, 6);
	expect_fail(trmx_sudoku_shuffle_validate(&s, &e), &e, TRMX_EINVAL, "stacks of 3 columns");
	/* Digits must keep the blank. */
	assert_int_equal(trmx_sudoku_shuffle_random(&rng, 4, &s, &e), 0);
	s.digits[0] = 1;
	expect_fail(trmx_sudoku_shuffle_validate(&s, &e), &e, TRMX_EINVAL, "digits must keep 0 and permute 1..4");
	assert_int_equal(trmx_sudoku_shuffle_random(&rng, 4, &s, &e), 0);
	int32_t bad[16] = { 0 };
	bad[3] = 6;
	int32_t o16[16];
	expect_fail(trmx_sudoku_shuffle_tokens(&s, bad, o16, &e), &e, TRMX_EFORMAT, "token 6 at position 3");
	expect_fail(trmx_sudoku_shuffle_random(&rng, 5, &s, &e), &e, TRMX_EINVAL, "size must be 4, 6 or 9");
}

/* ---- Mazes and ARC ------------------------------------------------------------------------- */

static void test_maze_dihedral(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	trmx_task *t = NULL;
	assert_int_equal(trmx_task_open(&t, "maze", "size=15", &e), 0);
	trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
	o.size = 15;
	trmx_rng rng;
	trmx_rng_seed(&rng, 4, 0);
	for (int trial = 0; trial < 50; trial++) {
		char maze[225], sol[225];
		int len;
		assert_int_equal(trmx_maze_generate(&rng, &o, maze, sol, &len, &e), 0);
		int32_t in[225], label[225];
		bool has;
		assert_int_equal(trmx_task_encode(t, sol, 225, in, label, &has, &e), 0);
		for (int tid = 0; tid < 8; tid++) {
			int32_t a[225], b[225], back[225];
			assert_int_equal(trmx_dihedral_apply(tid, in, 15, 15, a, NULL, NULL, &e), 0);
			assert_int_equal(trmx_dihedral_apply(tid, label, 15, 15, b, NULL, NULL, &e), 0);
			trmx_check chk = TRMX_CHECK_INIT;
			assert_int_equal(trmx_task_check(t, a, b, NULL, &chk, &e), 0);
			assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
			assert_int_equal(chk.problem, TRMX_CHECK_NONE);
			assert_int_equal(chk.path_length, len);
			assert_int_equal(trmx_dihedral_apply(trmx_dihedral_inverse(tid), b, 15, 15, back, NULL, NULL, &e), 0);
			assert_memory_equal(back, label, sizeof label);
		}
	}
	trmx_task_free(t);
}

static void test_arc_aug(void **state)
{
	(void)state;
	trmx_error e = { 0, "" };
	trmx_task *t = NULL;
	assert_int_equal(trmx_task_open(&t, "arc", NULL, &e), 0);
	const char *pair = "{\"input\": [[1,2,0],[0,3,4]], \"output\": [[5,6],[7,8],[9,0]]}";
	int32_t in[900], out[900];
	bool has;
	assert_int_equal(trmx_task_encode(t, pair, strlen(pair), in, out, &has, &e), 0);
	trmx_rng rng;
	trmx_rng_seed(&rng, 42, 0);
	for (int trial = 0; trial < 300; trial++) {
		trmx_arc_aug a, inv;
		assert_int_equal(trmx_arc_aug_random(&rng, &a), 0);
		assert_int_equal(a.colors[0], 0);
		assert_int_equal(trmx_arc_aug_invert(&a, &inv, &e), 0);
		int32_t x[900], y[900], bx[900], by[900];
		assert_int_equal(trmx_arc_aug_tokens(&a, in, x, &e), 0);
		assert_int_equal(trmx_arc_aug_tokens(&a, out, y, &e), 0);
		assert_int_equal(trmx_arc_aug_tokens(&inv, x, bx, &e), 0);
		assert_int_equal(trmx_arc_aug_tokens(&inv, y, by, &e), 0);
		assert_memory_equal(bx, in, sizeof in);
		assert_memory_equal(by, out, sizeof out);
		/* Colour first, then the transform: grid level against the two steps done by hand. */
		int32_t g[6] = { 1, 2, 0, 0, 3, 4 }, mapped[6], want[6], got[6];
		for (int i = 0; i < 6; i++)
			mapped[i] = a.colors[g[i]];
		int r, c, r2, c2;
		assert_int_equal(trmx_dihedral_apply(a.dihedral, mapped, 2, 3, want, &r, &c, &e), 0);
		assert_int_equal(trmx_arc_aug_grid(&a, g, 2, 3, got, &r2, &c2, &e), 0);
		assert_int_equal(r, r2);
		assert_int_equal(c, c2);
		assert_memory_equal(got, want, sizeof got);
		/* The official name carries the augmentation. */
		char name[64];
		assert_int_equal(trmx_arc_aug_name(&a, "007bbfb7", name, sizeof name), 26);
		trmx_arc_aug parsed;
		size_t base = 0;
		assert_int_equal(trmx_arc_aug_parse(name, &parsed, &base, &e), 0);
		assert_int_equal(base, 8);
		assert_int_equal(parsed.dihedral, a.dihedral);
		assert_memory_equal(parsed.colors, a.colors, 10);
	}
	trmx_arc_aug a = { 3, { 0, 3, 1, 2, 4, 5, 6, 7, 8, 9 } };
	char name[64];
	trmx_arc_aug_name(&a, "abc", name, sizeof name);
	assert_string_equal(name, "abc|||t3|||0312456789");
	trmx_arc_aug p;
	expect_fail(trmx_arc_aug_parse("abc", &p, NULL, &e), &e, TRMX_EFORMAT, "carries no augmentation");
	expect_fail(trmx_arc_aug_parse("abc|||t9|||0312456789", &p, NULL, &e), &e, TRMX_EFORMAT, "expected t0..t7");
	expect_fail(trmx_arc_aug_parse("abc|||t1|||1312456789", &p, NULL, &e), &e, TRMX_EINVAL, "colours must keep 0");
	a.dihedral = 9;
	int32_t tmp[900];
	expect_fail(trmx_arc_aug_tokens(&a, in, tmp, &e), &e, TRMX_EINVAL, "dihedral id 9 is not in 0..7");
	trmx_task_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dihedral_numpy),
		cmocka_unit_test(test_dihedral_random_grids),
		cmocka_unit_test(test_sudoku_shuffle),
		cmocka_unit_test(test_sudoku_shuffle_invalid),
		cmocka_unit_test(test_maze_dihedral),
		cmocka_unit_test(test_arc_aug),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
