/*
 * numcheck.h — comparing float arrays in tests: the largest difference is always printed, and
 * the test fails when it is out of tolerance.
 */
#ifndef TRMX_TEST_NUMCHECK_H
#define TRMX_TEST_NUMCHECK_H

#include <stddef.h>

/* Largest |a[i] - b[i]| (NaN anywhere counts as infinite); its index in *where if non-NULL. */
double nc_max_abs_diff(const float *a, const float *b, size_t n, size_t *where);
/* Largest |x[i]|. */
double nc_max_abs(const float *x, size_t n);

/* Print "what: max |diff| = d at i (tolerance t)" and fail the cmocka test when d > tol. */
#define assert_close(a, b, n, tol, what)                                                            \
	do {                                                                                        \
		size_t nc_at_;                                                                      \
		double nc_d_ = nc_max_abs_diff((a), (b), (n), &nc_at_);                             \
		print_message("%-40s max |diff| %.3e at %zu (tolerance %.1e)\n", (what), nc_d_, nc_at_, \
			      (double)(tol));                                                       \
		if (!(nc_d_ <= (tol)))                                                              \
			fail_msg("%s: max |diff| %.3e at index %zu exceeds %.1e (got %.8g, want %.8g)", \
				 (what), nc_d_, nc_at_, (double)(tol), (double)(a)[nc_at_], (double)(b)[nc_at_]); \
	} while (0)

#endif
