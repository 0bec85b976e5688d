/*
 * augment.c — the official data augmentations (docs/TASKS.md, "Augmentations") as functions a
 * trainer calls, each with its inverse: the 8 dihedral transforms (numpy's
 * rot90/fliplr/flipud/transpose semantics, ids of the official builder), the Sudoku shuffle
 * generalised to 4x4 and 6x6, and the ARC colour permutation followed by a dihedral transform.
 */
#include <stdio.h>
#include <string.h>

#include "tasks/tasks_int.h"

static const int dihedral_inv[TRMX_DIHEDRAL_COUNT] = { 0, 3, 2, 1, 4, 5, 6, 7 };

int trmx_dihedral_inverse(int tid)
{
	return tid >= 0 && tid < TRMX_DIHEDRAL_COUNT ? dihedral_inv[tid] : -1;
}

int trmx_dihedral_apply(int tid, const int32_t *in, int rows, int cols, int32_t *out, int *out_rows,
			int *out_cols, trmx_error *err)
{
	if (!in || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_dihedral_apply: NULL argument");
	if (tid < 0 || tid >= TRMX_DIHEDRAL_COUNT)
		return trmx_error_set(err, TRMX_EINVAL, "dihedral transform id %d is not in 0..7", tid);
	if (rows < 1 || cols < 1 || rows > TRMX_ARCH_SEQ_LEN_MAX / cols)
		return trmx_error_set(err, TRMX_EINVAL, "dihedral transform of a %dx%d grid", rows, cols);
	int H = rows, W = cols;
	bool swap = tid == 1 || tid == 3 || tid == 6 || tid == 7;
	int oh = swap ? W : H, ow = swap ? H : W;
	for (int i = 0; i < oh; i++) {
		for (int j = 0; j < ow; j++) {
			int r, c;
			switch (tid) {
			case 0: r = i, c = j; break;
			case 1: r = j, c = W - 1 - i; break;         /* rot90, counter-clockwise */
			case 2: r = H - 1 - i, c = W - 1 - j; break; /* rot180 */
			case 3: r = H - 1 - j, c = i; break;         /* rot270 */
			case 4: r = i, c = W - 1 - j; break;         /* fliplr */
			case 5: r = H - 1 - i, c = j; break;         /* flipud */
			case 6: r = j, c = i; break;                 /* transpose */
			default: r = H - 1 - j, c = W - 1 - i; break; /* anti-transpose: fliplr(rot90) */
			}
			out[i * ow + j] = in[r * W + c];
		}
	}
	if (out_rows)
		*out_rows = oh;
	if (out_cols)
		*out_cols = ow;
	return 0;
}

/* ---- Sudoku shuffle ------------------------------------------------------------------------ */

static void shuffle_u8(trmx_rng *rng, uint8_t *a, int n)
{
	for (int i = n - 1; i > 0; i--) {
		int j = (int)trmx_rng_below(rng, (uint32_t)i + 1);
		uint8_t t = a[i];
		a[i] = a[j];
		a[j] = t;
	}
}

/* Permutation of n lines in groups of `width`: the groups shuffled, then the lines in each. */
static void band_perm(trmx_rng *rng, int n, int width, uint8_t *perm)
{
	uint8_t groups[TRMX_SUDOKU_SIZE_MAX];
	int ng = n / width;
	for (int g = 0; g < ng; g++)
		groups[g] = (uint8_t)g;
	shuffle_u8(rng, groups, ng);
	for (int g = 0; g < ng; g++) {
		uint8_t inner[TRMX_SUDOKU_SIZE_MAX];
		for (int k = 0; k < width; k++)
			inner[k] = (uint8_t)k;
		shuffle_u8(rng, inner, width);
		for (int k = 0; k < width; k++)
			perm[g * width + k] = (uint8_t)(groups[g] * width + inner[k]);
	}
}

int trmx_sudoku_shuffle_random(trmx_rng *rng, int size, trmx_sudoku_shuffle *out, trmx_error *err)
{
	int br, bc;
	if (!rng || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_shuffle_random: NULL argument");
	if (trmx_sudoku_box(size, &br, &bc) < 0)
		return trmx_error_set(err, TRMX_EINVAL, "sudoku: size must be 4, 6 or 9, not %d", size);
	trmx_sudoku_shuffle s;
	memset(&s, 0, sizeof s);
	s.size = size;
	for (int d = 0; d <= size; d++)
		s.digits[d] = (uint8_t)d;
	shuffle_u8(rng, s.digits + 1, size);
	s.transpose = br == bc && trmx_rng_below(rng, 2) == 1;
	band_perm(rng, size, br, s.rows);
	band_perm(rng, size, bc, s.cols);
	*out = s;
	return 0;
}

static bool is_perm(const uint8_t *p, int n, int base)
{
	unsigned seen = 0;
	for (int i = 0; i < n; i++) {
		int v = p[i] - base;
		if (v < 0 || v >= n || (seen >> v & 1))
			return false;
		seen |= 1u << v;
	}
	return true;
}

/* Every group of `width` new lines comes from one old group. */
static bool keeps_bands(const uint8_t *p, int n, int width)
{
	for (int g = 0; g < n / width; g++) {
		for (int k = 1; k < width; k++) {
			if (p[g * width + k] / width != p[g * width] / width)
				return false;
		}
	}
	return true;
}

int trmx_sudoku_shuffle_validate(const trmx_sudoku_shuffle *s, trmx_error *err)
{
	int br, bc;
	if (!s)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_shuffle_validate: NULL argument");
	if (trmx_sudoku_box(s->size, &br, &bc) < 0)
		return trmx_error_set(err, TRMX_EINVAL, "sudoku shuffle: size must be 4, 6 or 9, not %d", s->size);
	int n = s->size;
	if (s->digits[0] != 0 || !is_perm(s->digits + 1, n, 1))
		return trmx_error_set(err, TRMX_EINVAL,
				      "sudoku shuffle: digits must keep 0 and permute 1..%d", n);
	if (!is_perm(s->rows, n, 0) || !keeps_bands(s->rows, n, br))
		return trmx_error_set(err, TRMX_EINVAL,
				      "sudoku shuffle: rows must permute bands of %d rows and the rows within each", br);
	if (!is_perm(s->cols, n, 0) || !keeps_bands(s->cols, n, bc))
		return trmx_error_set(err, TRMX_EINVAL,
				      "sudoku shuffle: columns must permute stacks of %d columns and the columns within each",
				      bc);
	if (s->transpose && br != bc)
		return trmx_error_set(err, TRMX_EINVAL,
				      "sudoku shuffle: a transpose turns %dx%d boxes into %dx%d boxes; size %d cannot transpose",
				      br, bc, bc, br, n);
	return 0;
}

static void invert_perm(const uint8_t *p, int n, int base, uint8_t *inv)
{
	for (int i = 0; i < n; i++)
		inv[p[i] - base] = (uint8_t)(i + base);
}

int trmx_sudoku_shuffle_invert(const trmx_sudoku_shuffle *s, trmx_sudoku_shuffle *inv, trmx_error *err)
{
	int rc;
	if (!inv)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_shuffle_invert: NULL argument");
	if ((rc = trmx_sudoku_shuffle_validate(s, err)) < 0)
		return rc;
	/* Forward: y(i, j) = x'(rows[i], cols[j]) with x' = x or its transpose, then digits.
	 * Without a transpose the inverse permutes by the inverse perms; with one, x(a, b) =
	 * y(inv cols[b], inv rows[a]) read transposed, so rows and columns trade places. */
	trmx_sudoku_shuffle r;
	memset(&r, 0, sizeof r);
	int n = s->size;
	r.size = n;
	r.transpose = s->transpose;
	invert_perm(s->digits + 1, n, 1, r.digits + 1);
	if (s->transpose) {
		invert_perm(s->cols, n, 0, r.rows);
		invert_perm(s->rows, n, 0, r.cols);
	} else {
		invert_perm(s->rows, n, 0, r.rows);
		invert_perm(s->cols, n, 0, r.cols);
	}
	*inv = r;
	return 0;
}

int trmx_sudoku_shuffle_tokens(const trmx_sudoku_shuffle *s, const int32_t *in, int32_t *out,
			       trmx_error *err)
{
	int rc;
	if (!in || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_sudoku_shuffle_tokens: NULL argument");
	if ((rc = trmx_sudoku_shuffle_validate(s, err)) < 0)
		return rc;
	int n = s->size;
	for (int i = 0; i < n * n; i++) {
		if (in[i] < 0 || in[i] > n + 1)
			return trmx_error_set(err, TRMX_EFORMAT, "sudoku shuffle: token %d at position %d is outside 0..%d",
					      (int)in[i], i, n + 1);
	}
	for (int i = 0; i < n; i++) {
		for (int j = 0; j < n; j++) {
			int r = s->rows[i], c = s->cols[j];
			int32_t t = s->transpose ? in[c * n + r] : in[r * n + c];
			out[i * n + j] = t >= 2 ? s->digits[t - 1] + 1 : t;
		}
	}
	return 0;
}

/* ---- ARC ----------------------------------------------------------------------------------- */

int trmx_arc_aug_random(trmx_rng *rng, trmx_arc_aug *out)
{
	if (!rng || !out)
		return TRMX_EINVAL;
	trmx_arc_aug a;
	a.dihedral = (int)trmx_rng_below(rng, TRMX_DIHEDRAL_COUNT);
	for (int c = 0; c < 10; c++)
		a.colors[c] = (uint8_t)c;
	shuffle_u8(rng, a.colors + 1, 9);
	*out = a;
	return 0;
}

static int arc_aug_validate(const trmx_arc_aug *a, trmx_error *err)
{
	if (!a)
		return trmx_error_set(err, TRMX_EINVAL, "ARC augmentation: NULL argument");
	if (a->dihedral < 0 || a->dihedral >= TRMX_DIHEDRAL_COUNT)
		return trmx_error_set(err, TRMX_EINVAL, "ARC augmentation: dihedral id %d is not in 0..7", a->dihedral);
	if (a->colors[0] != 0 || !is_perm(a->colors + 1, 9, 1))
		return trmx_error_set(err, TRMX_EINVAL, "ARC augmentation: colours must keep 0 and permute 1..9");
	return 0;
}

int trmx_arc_aug_invert(const trmx_arc_aug *a, trmx_arc_aug *inv, trmx_error *err)
{
	int rc;
	if (!inv)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_arc_aug_invert: NULL argument");
	if ((rc = arc_aug_validate(a, err)) < 0)
		return rc;
	/* Colour maps commute with moving cells, so the inverse is again "colours, then dihedral". */
	trmx_arc_aug r;
	r.dihedral = dihedral_inv[a->dihedral];
	r.colors[0] = 0;
	invert_perm(a->colors + 1, 9, 1, r.colors + 1);
	*inv = r;
	return 0;
}

int trmx_arc_aug_grid(const trmx_arc_aug *a, const int32_t *in, int rows, int cols, int32_t *out,
		      int *out_rows, int *out_cols, trmx_error *err)
{
	int rc;
	int32_t tmp[TRMX_ARC_GRID_MAX * TRMX_ARC_GRID_MAX];
	if (!in || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_arc_aug_grid: NULL argument");
	if ((rc = arc_aug_validate(a, err)) < 0)
		return rc;
	if (rows < 1 || cols < 1 || rows > TRMX_ARC_GRID_MAX || cols > TRMX_ARC_GRID_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "ARC augmentation of a %dx%d grid", rows, cols);
	for (int i = 0; i < rows * cols; i++) {
		if (in[i] < 0 || in[i] > 9)
			return trmx_error_set(err, TRMX_EFORMAT, "ARC augmentation: colour %d at cell %d", (int)in[i], i);
		tmp[i] = a->colors[in[i]];
	}
	return trmx_dihedral_apply(a->dihedral, tmp, rows, cols, out, out_rows, out_cols, err);
}

int trmx_arc_aug_tokens(const trmx_arc_aug *a, const int32_t *in, int32_t *out, trmx_error *err)
{
	int32_t grid[TRMX_ARC_GRID_MAX * TRMX_ARC_GRID_MAX], moved[TRMX_ARC_GRID_MAX * TRMX_ARC_GRID_MAX];
	int rows, cols, rc;
	if (!in || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_arc_aug_tokens: NULL argument");
	if ((rc = arc_aug_validate(a, err)) < 0)
		return rc;
	trmx__arc_crop(in, grid, &rows, &cols);
	if (rows == 0) {
		trmx__arc_grid_to_tokens(grid, 0, 0, out);
		return 0;
	}
	if ((rc = trmx_arc_aug_grid(a, grid, rows, cols, moved, &rows, &cols, err)) < 0)
		return rc;
	trmx__arc_grid_to_tokens(moved, rows, cols, out);
	return 0;
}

int trmx_arc_aug_name(const trmx_arc_aug *a, const char *name, char *buf, size_t cap)
{
	char digits[11];
	for (int c = 0; c < 10; c++)
		digits[c] = (char)('0' + (a->colors[c] % 10));
	digits[10] = '\0';
	return snprintf(buf, cap, "%s|||t%d|||%s", name ? name : "", a->dihedral, digits);
}

int trmx_arc_aug_parse(const char *variant, trmx_arc_aug *out, size_t *base_len, trmx_error *err)
{
	if (!variant || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_arc_aug_parse: NULL argument");
	/* The last two "|||" separators. */
	const char *last = NULL, *prev = NULL;
	for (const char *p = strstr(variant, "|||"); p; p = strstr(p + 1, "|||")) {
		prev = last;
		last = p;
	}
	if (!prev || last - prev < 3)
		return trmx_error_set(err, TRMX_EFORMAT, "'%s' carries no augmentation (name|||t<id>|||<colours>)",
				      variant);
	const char *t = prev + 3, *perm = last + 3;
	if (t[0] != 't' || t[1] < '0' || t[1] > '7' || t + 2 != last)
		return trmx_error_set(err, TRMX_EFORMAT, "'%s': expected t0..t7 after the name", variant);
	trmx_arc_aug a;
	a.dihedral = t[1] - '0';
	if (strlen(perm) != 10)
		return trmx_error_set(err, TRMX_EFORMAT, "'%s': expected 10 colour digits at the end", variant);
	for (int c = 0; c < 10; c++) {
		if (perm[c] < '0' || perm[c] > '9')
			return trmx_error_set(err, TRMX_EFORMAT, "'%s': expected 10 colour digits at the end", variant);
		a.colors[c] = (uint8_t)(perm[c] - '0');
	}
	int rc = arc_aug_validate(&a, err);
	if (rc < 0)
		return rc;
	*out = a;
	if (base_len)
		*base_len = (size_t)(prev - variant);
	return 0;
}
