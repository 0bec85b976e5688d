/*
 * stats.c — the statistics of a report (trmx/report.h): Wilson score intervals,
 * and the canary rule — better or worse when the 95 % intervals are disjoint,
 * else not yet known, with the judged runs still needed estimated by searching
 * the Wilson bounds at the accuracies seen so far.
 */
#include <math.h>

#include "analytics/analytics_int.h"

#define Z95 1.959963984540054

/* Wilson bounds for a proportion p observed over n (n may be fractional: a
 * projection). */
static void wilson_p(double p, double n, double z, double *low, double *high)
{
	if (!(n > 0)) {
		*low = 0.0;
		*high = 1.0;
		return;
	}
	double z2 = z * z, den = 1.0 + z2 / n;
	double center = (p + z2 / (2.0 * n)) / den;
	double half = z / den * sqrt(p * (1.0 - p) / n + z2 / (4.0 * n * n));
	double lo = center - half, hi = center + half;
	*low = lo < 0.0 ? 0.0 : lo;
	*high = hi > 1.0 ? 1.0 : hi;
}

void trmx_wilson_interval(int64_t correct, int64_t n, double z, double *low, double *high)
{
	double lo, hi;
	wilson_p(n > 0 ? (double)correct / (double)n : 0.0, (double)n, z, &lo, &hi);
	if (low)
		*low = lo;
	if (high)
		*high = hi;
}

const char *trmx_canary_verdict_name(trmx_canary_verdict v)
{
	switch (v) {
	case TRMX_CANARY_BETTER: return "better";
	case TRMX_CANARY_WORSE: return "worse";
	default: return "not yet known";
	}
}

/* Would the intervals be disjoint after `t` more judged runs, split as so far?
 */
static bool separate_after(double pm, double nm, double pc, double nc, double share, double t)
{
	double ml, mh, cl, ch;
	wilson_p(pm, nm + t * (1.0 - share), Z95, &ml, &mh);
	wilson_p(pc, nc + t * share, Z95, &cl, &ch);
	return cl > mh || ch < ml;
}

trmx_canary_verdict trmx_canary_compare(int64_t m_correct, int64_t m_judged, int64_t c_correct, int64_t c_judged,
					int64_t *runs_needed)
{
	int64_t need = -1;
	trmx_canary_verdict v = TRMX_CANARY_UNKNOWN;
	if (m_judged > 0 && c_judged > 0) {
		double ml, mh, cl, ch;
		trmx_wilson_interval(m_correct, m_judged, Z95, &ml, &mh);
		trmx_wilson_interval(c_correct, c_judged, Z95, &cl, &ch);
		if (cl > mh) {
			v = TRMX_CANARY_BETTER;
			need = 0;
		} else if (ch < ml) {
			v = TRMX_CANARY_WORSE;
			need = 0;
		} else if ((double)m_correct * (double)c_judged != (double)c_correct * (double)m_judged) {
			double pm = (double)m_correct / (double)m_judged, pc = (double)c_correct / (double)c_judged;
			double share = (double)c_judged / (double)(m_judged + c_judged);
			double hi = 1.0;
			while (hi < 1e13 && !separate_after(pm, (double)m_judged, pc, (double)c_judged, share, hi))
				hi *= 2.0;
			if (hi < 1e13) {
				double lo = hi / 2.0 < 1.0 ? 0.0 : hi / 2.0; /* not separate at lo (or lo = 0) */
				while (hi - lo > 1.0) {
					double mid = floor((lo + hi) / 2.0);
					if (separate_after(pm, (double)m_judged, pc, (double)c_judged, share, mid))
						hi = mid;
					else
						lo = mid;
				}
				need = (int64_t)hi;
			}
		}
	}
	if (runs_needed)
		*runs_needed = need;
	return v;
}

const char *trmx_verdict_source_name(trmx_verdict_source s)
{
	static const char *const names[] = { "none", "expected", "instructor", "eval", "checker", "learner" };
	return (unsigned)s < TRMX_VERDICT_SOURCES ? names[s] : "?";
}
