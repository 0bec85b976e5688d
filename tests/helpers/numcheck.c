/*
 * numcheck.c — float comparisons for the tests.
 */
#include <math.h>

#include "helpers/numcheck.h"

double nc_max_abs_diff(const float *a, const float *b, size_t n, size_t *where)
{
	double m = 0;
	size_t at = 0;
	for (size_t i = 0; i < n; i++) {
		double d = fabs((double)a[i] - (double)b[i]);
		if (isnan(d))
			d = INFINITY;
		if (d > m) {
			m = d;
			at = i;
		}
	}
	if (where)
		*where = at;
	return m;
}

double nc_max_abs(const float *x, size_t n)
{
	double m = 0;
	for (size_t i = 0; i < n; i++)
		m = fabs(x[i]) > m ? fabs(x[i]) : m;
	return m;
}
