/*
 * parallel.h — the one threading mechanism of the kernels (a pool of worker threads, parallel.c).
 *
 * trmx_parallel_for splits [0, n) into one contiguous range per thread and runs `fn` on each,
 * with flush-to-zero and denormals-are-zero set in every thread for the call (denormals slow the
 * recursion 5-7x on this project's CPUs) and the caller's own MXCSR restored afterwards.
 */
#ifndef TRMX_PARALLEL_H
#define TRMX_PARALLEL_H

#include <stddef.h>

typedef void (*trmx_range_fn)(void *ctx, size_t lo, size_t hi, int thread);

/* Below this many elementary operations a region costs more to fork and join (and, on a loaded
 * machine, to wait for a descheduled thread) than it saves: kernels run inline. */
#define TRMX_PARALLEL_MIN_WORK 32768.0

/* Units of `per_unit` operations each thread must get at least (>= 1). */
static inline size_t trmx_grain(double per_unit)
{
	double g = TRMX_PARALLEL_MIN_WORK / (per_unit > 1 ? per_unit : 1);
	return g > 1 ? (size_t)g : 1;
}

/* Run fn(ctx, lo, hi, thread) over [0, n) split in contiguous chunks, one per thread, each of at
 * least `grain` units; inline when n < 2 * grain or one thread is set. */
void trmx_parallel_for(size_t n, size_t grain, trmx_range_fn fn, void *ctx);

/* Call fn once per thread with the thread index and the thread count as [lo, hi): for work that
 * schedules itself (attention over (row, head) pairs). Inline (as thread 0 of 1) when `work`
 * (elementary operations in all) is below TRMX_PARALLEL_MIN_WORK. */
void trmx_parallel_threads(double work, trmx_range_fn fn, void *ctx);

/* Set flush-to-zero and denormals-are-zero in the calling thread; returns the previous mode. */
unsigned trmx_fpmode_enter(void);
void trmx_fpmode_leave(unsigned saved);

#endif
