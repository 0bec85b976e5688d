/*
 * parallel.c — kernel threads: OpenMP regions that set FTZ/DAZ, and the thread-count setting.
 * OpenBLAS is kept single-threaded (blas.c) so that all parallelism is ours and one pool of
 * threads runs everything: no two runtimes spinning against each other on a 2-core machine.
 */
#include <omp.h>
#include <stdlib.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <xmmintrin.h>
#endif

#include "tensor/parallel.h"
#include "trmx/trmx.h"

static int n_threads; /* 0: not yet decided */

static int default_threads(void)
{
	const char *env = getenv("OMP_NUM_THREADS");
	if (env && atoi(env) > 0)
		return atoi(env);
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (int)n : 1;
}

void trmx_set_threads(int n)
{
	n_threads = n > 0 ? n : default_threads();
}

int trmx_get_threads(void)
{
	if (n_threads <= 0)
		n_threads = default_threads();
	return n_threads;
}

unsigned trmx_fpmode_enter(void)
{
#if defined(__x86_64__) || defined(__i386__)
	unsigned saved = _mm_getcsr();
	_mm_setcsr(saved | 0x8040); /* FTZ (bit 15) | DAZ (bit 6) */
	return saved;
#else
	return 0;
#endif
}

void trmx_fpmode_leave(unsigned saved)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_setcsr(saved);
#else
	(void)saved;
#endif
}

void trmx_parallel_for(size_t n, size_t grain, trmx_range_fn fn, void *ctx)
{
	if (n == 0)
		return;
	if (grain == 0)
		grain = 1;
	size_t nt = (size_t)trmx_get_threads();
	if (nt > n / grain)
		nt = n / grain; /* every thread gets at least `grain` units, or the call runs inline */
	if (nt <= 1) {
		unsigned fp = trmx_fpmode_enter();
		fn(ctx, 0, n, 0);
		trmx_fpmode_leave(fp);
		return;
	}
#pragma omp parallel num_threads((int)nt)
	{
		unsigned fp = trmx_fpmode_enter();
		size_t t = (size_t)omp_get_thread_num(), T = (size_t)omp_get_num_threads();
		size_t lo = n * t / T, hi = n * (t + 1) / T;
		if (lo < hi)
			fn(ctx, lo, hi, (int)t);
		trmx_fpmode_leave(fp);
	}
}

void trmx_parallel_threads(double work, trmx_range_fn fn, void *ctx)
{
	int nt = trmx_get_threads();
	if (nt <= 1 || work < TRMX_PARALLEL_MIN_WORK) {
		unsigned fp = trmx_fpmode_enter();
		fn(ctx, 0, 1, 0);
		trmx_fpmode_leave(fp);
		return;
	}
#pragma omp parallel num_threads(nt)
	{
		unsigned fp = trmx_fpmode_enter();
		int t = omp_get_thread_num(), T = omp_get_num_threads();
		fn(ctx, (size_t)t, (size_t)T, t);
		trmx_fpmode_leave(fp);
	}
}
