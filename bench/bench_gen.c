/*
 * bench_gen.c — how fast the puzzle generators are: Sudoku puzzles per second for each size and
 * difficulty level, mazes per second for several sizes (default minimum path), one thread.
 *
 *   build/bench/bench_gen [SECONDS]     time per case (default 1.0)
 *
 * Each case generates puzzles from seed 1, stream i for the i-th, until its time is up. A level a
 * size never reaches within the generator's attempts (4x4 above `singles`) is reported as such.
 * Benchmarks print figures and never fail a build.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "trmx/task.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
	double budget = argc > 1 ? atof(argv[1]) : 1.0;
	if (budget <= 0)
		budget = 1.0;
	printf("bench_gen: trmx puzzle generators, one thread, %.1f s per case\n", budget);
	printf("%-7s %5s %-9s %8s %8s %12s  %s\n", "kind", "size", "level", "made", "seconds", "per_second", "mean");
	static const int sizes[] = { 4, 6, 9 };
	static const trmx_sudoku_level levels[] = { TRMX_SUDOKU_ANY, TRMX_SUDOKU_SINGLES, TRMX_SUDOKU_PAIRS,
						    TRMX_SUDOKU_ADVANCED, TRMX_SUDOKU_HARD };
	for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
		for (size_t l = 0; l < sizeof levels / sizeof *levels; l++) {
			trmx_sudoku_gen_options o = TRMX_SUDOKU_GEN_OPTIONS_INIT;
			o.size = sizes[s];
			o.level = levels[l];
			long made = 0, clues = 0;
			double t0 = now(), t = t0;
			trmx_error err = { 0, "" };
			int rc = 0;
			while (t - t0 < budget) {
				uint8_t puz[81], sol[81];
				trmx_sudoku_rating r;
				trmx_rng rng;
				trmx_rng_seed(&rng, 1, (uint64_t)made);
				if ((rc = trmx_sudoku_generate(&rng, &o, puz, sol, &r, &err)) < 0)
					break;
				made++;
				clues += r.clues;
				t = now();
			}
			const char *name = trmx_sudoku_level_name(levels[l]);
			if (rc < 0 && made == 0) {
				printf("%-7s %5d %-9s %8s %8.2f %12s  (%s)\n", "sudoku", sizes[s], name, "-", now() - t0,
				       "not reached", err.message);
				continue;
			}
			printf("%-7s %5d %-9s %8ld %8.2f %12.1f  %.1f clues\n", "sudoku", sizes[s], name, made, t - t0,
			       (double)made / (t - t0), (double)clues / (double)made);
		}
	}
	static const int maze_sizes[] = { 9, 15, 20, 30 };
	for (size_t s = 0; s < sizeof maze_sizes / sizeof *maze_sizes; s++) {
		trmx_maze_gen_options o = TRMX_MAZE_GEN_OPTIONS_INIT;
		o.size = maze_sizes[s];
		long made = 0, path = 0;
		double t0 = now(), t = t0;
		trmx_error err = { 0, "" };
		while (t - t0 < budget) {
			char maze[900], sol[900];
			int len;
			trmx_rng rng;
			trmx_rng_seed(&rng, 1, (uint64_t)made);
			if (trmx_maze_generate(&rng, &o, maze, sol, &len, &err) < 0) {
				printf("maze: %s\n", err.message);
				break;
			}
			made++;
			path += len;
			t = now();
		}
		char level[32];
		snprintf(level, sizeof level, "path>=%d", trmx_maze_default_min_path(maze_sizes[s]));
		if (made)
			printf("%-7s %5d %-9s %8ld %8.2f %12.1f  %.1f moves\n", "maze", maze_sizes[s], level, made, t - t0,
			       (double)made / (t - t0), (double)path / (double)made);
	}
	return 0;
}
