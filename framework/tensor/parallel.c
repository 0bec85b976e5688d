/*
 * parallel.c — the kernel threads: a small pool of worker threads, the thread-count setting and
 * the FTZ/DAZ floating-point mode.
 *
 * Why a pool of our own and not OpenMP regions: on a machine other jobs share, GNU OpenMP's
 * default wait policy (spin for a long while, then sleep) made a training step 10x slower than
 * OMP_WAIT_POLICY=passive (measured: 0.56 against 5.4 steps/s at load 5 on 2 cores), because a
 * worker spins on a core while the thread it waits for is descheduled; and the policy can only
 * be set in the environment before the process starts. Here a waiting thread spins for at most
 * POOL_SPIN_NS, then sleeps on a condition variable: next to nothing on a quiet machine, and no
 * core burnt on a loaded one. OpenBLAS runs single-threaded inside our threads (blas.c), so one
 * pool runs everything.
 *
 * One dispatch runs at a time; a call made while the pool is busy (from another thread, or from
 * inside a job) runs inline in the caller. After fork() the child starts without workers; at
 * exit or dlclose the workers are joined.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

#include "tensor/parallel.h"
#include "trmx/trmx.h"

#define POOL_SPIN_NS 50000 /* how long a waiting thread polls before it sleeps */

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

/* ---- the pool ---------------------------------------------------------------------------- */

typedef void (*part_fn)(void *ctx, int part, int parts);

static struct {
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t *tids;
	int workers;            /* threads started (the caller is part 0) */
	atomic_uint_fast64_t gen; /* bumped for every job */
	atomic_int pending;     /* workers still to report the current job */
	atomic_int busy;        /* a dispatch is running */
	bool stop;
	uint64_t start_gen;     /* gen when the workers were made: what they have "seen" */
	part_fn fn;
	void *ctx;
	int parts;
} pool = { .mu = PTHREAD_MUTEX_INITIALIZER, .work = PTHREAD_COND_INITIALIZER, .done = PTHREAD_COND_INITIALIZER };

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	_mm_pause();
#endif
}

static void *worker(void *arg)
{
	int index = (int)(intptr_t)arg;
	uint64_t seen = pool.start_gen; /* set before pthread_create: a job published before this
					   thread runs is still new to it */
	for (;;) {
		uint64_t g = atomic_load(&pool.gen);
		for (uint64_t t0 = now_ns(); g == seen && now_ns() - t0 < POOL_SPIN_NS; g = atomic_load(&pool.gen))
			cpu_relax();
		if (g == seen) {
			pthread_mutex_lock(&pool.mu);
			while ((g = atomic_load(&pool.gen)) == seen && !pool.stop)
				pthread_cond_wait(&pool.work, &pool.mu);
			bool stop = pool.stop;
			pthread_mutex_unlock(&pool.mu);
			if (stop)
				return NULL;
		}
		seen = g;
		if (index < pool.parts) {
			unsigned fp = trmx_fpmode_enter();
			pool.fn(pool.ctx, index, pool.parts);
			trmx_fpmode_leave(fp);
		}
		if (atomic_fetch_sub(&pool.pending, 1) == 1) {
			pthread_mutex_lock(&pool.mu);
			pthread_cond_signal(&pool.done);
			pthread_mutex_unlock(&pool.mu);
		}
	}
}

static void pool_stop(void)
{
	if (!pool.workers)
		return;
	pthread_mutex_lock(&pool.mu);
	pool.stop = true;
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);
	for (int i = 0; i < pool.workers; i++)
		pthread_join(pool.tids[i], NULL);
	free(pool.tids);
	pool.tids = NULL;
	pool.workers = 0;
	pool.stop = false;
}

/* At exit, and when a plugin carrying its own copy of this file is unloaded (dlclose), the
 * workers must be gone before their code is: stop and join them. */
__attribute__((destructor)) static void pool_fini(void)
{
	pool_stop();
}

static void pool_after_fork(void)
{
	/* the child has only the forking thread: forget the workers (their memory stays allocated) */
	pool.tids = NULL;
	pool.workers = 0;
	pool.stop = false;
	atomic_store(&pool.busy, 0);
	pthread_mutex_init(&pool.mu, NULL);
	pthread_cond_init(&pool.work, NULL);
	pthread_cond_init(&pool.done, NULL);
}

/* Make the pool hold `want` workers; false when threads cannot be made (the caller then runs
 * inline). Called with pool.busy held. */
static bool pool_resize(int want)
{
	static bool atfork;
	if (!atfork) {
		pthread_atfork(NULL, NULL, pool_after_fork);
		atfork = true;
	}
	if (pool.workers == want)
		return true;
	pool_stop();
	if (want <= 0)
		return true;
	pool.tids = calloc((size_t)want, sizeof *pool.tids);
	if (!pool.tids)
		return false;
	pool.start_gen = atomic_load(&pool.gen);
	for (int i = 0; i < want; i++) {
		if (pthread_create(&pool.tids[i], NULL, worker, (void *)(intptr_t)(i + 1)) != 0) {
			pool.workers = i;
			pool_stop();
			return false;
		}
		pool.workers = i + 1;
	}
	return true;
}

/* Run fn(ctx, part, parts) for part in [0, parts): part 0 in the caller, the others on workers. */
static void dispatch(int parts, part_fn fn, void *ctx)
{
	int expected = 0;
	if (parts <= 1 || !atomic_compare_exchange_strong(&pool.busy, &expected, 1)) {
		unsigned fp = trmx_fpmode_enter();
		for (int p = 0; p < parts; p++) /* busy (nested or concurrent): run inline */
			fn(ctx, p, parts);
		trmx_fpmode_leave(fp);
		return;
	}
	if (!pool_resize(trmx_get_threads() - 1) || pool.workers < parts - 1) {
		unsigned fp = trmx_fpmode_enter();
		for (int p = 0; p < parts; p++)
			fn(ctx, p, parts);
		trmx_fpmode_leave(fp);
		atomic_store(&pool.busy, 0);
		return;
	}
	pool.fn = fn;
	pool.ctx = ctx;
	pool.parts = parts;
	atomic_store(&pool.pending, pool.workers);
	pthread_mutex_lock(&pool.mu);
	atomic_fetch_add(&pool.gen, 1);
	pthread_cond_broadcast(&pool.work);
	pthread_mutex_unlock(&pool.mu);

	unsigned fp = trmx_fpmode_enter();
	fn(ctx, 0, parts);
	trmx_fpmode_leave(fp);

	for (uint64_t t0 = now_ns(); atomic_load(&pool.pending) > 0 && now_ns() - t0 < POOL_SPIN_NS;)
		cpu_relax();
	if (atomic_load(&pool.pending) > 0) {
		pthread_mutex_lock(&pool.mu);
		while (atomic_load(&pool.pending) > 0)
			pthread_cond_wait(&pool.done, &pool.mu);
		pthread_mutex_unlock(&pool.mu);
	}
	atomic_store(&pool.busy, 0);
}

/* ---- the two entry points ----------------------------------------------------------------- */

struct range_job {
	size_t n;
	trmx_range_fn fn;
	void *ctx;
};

static void range_part(void *ctx, int part, int parts)
{
	const struct range_job *j = ctx;
	size_t lo = j->n * (size_t)part / (size_t)parts, hi = j->n * (size_t)(part + 1) / (size_t)parts;
	if (lo < hi)
		j->fn(j->ctx, lo, hi, part);
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
	struct range_job j = { n, fn, ctx };
	dispatch(nt > 1 ? (int)nt : 1, range_part, &j);
}

struct threads_job {
	trmx_range_fn fn;
	void *ctx;
};

static void threads_part(void *ctx, int part, int parts)
{
	const struct threads_job *j = ctx;
	j->fn(j->ctx, (size_t)part, (size_t)parts, part);
}

void trmx_parallel_threads(double work, trmx_range_fn fn, void *ctx)
{
	int nt = trmx_get_threads();
	struct threads_job j = { fn, ctx };
	dispatch(nt > 1 && work >= TRMX_PARALLEL_MIN_WORK ? nt : 1, threads_part, &j);
}
