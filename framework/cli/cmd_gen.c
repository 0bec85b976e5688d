/*
 * cmd_gen.c — `trmx gen sudoku|maze`: generate puzzles with their solutions, deterministic for a
 * seed. Puzzle i is drawn from the random stream (seed, i), so the first lines of a run do not
 * depend on -n. Output is CSV (puzzle,solution,rating, the layout the data-set reader and the
 * official builders read; for mazes also source,question,answer,rating, the HRM/TRM Maze-Hard
 * layout) or text grids that the codecs read back. Maze families and the padding of a maze on a
 * larger canvas: docs/TASKS.md.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/task.h"

/* No blank lines: tests/cli/gen.test compares this text, and blank lines split its cases. */
static void help(void)
{
	printf("usage: trmx gen sudoku [--size 4|6|9] [--difficulty LEVEL] [options]\n"
	       "       trmx gen maze [--size N] [--min-path L] [--loops P] [options]\n"
	       "       trmx gen maze --family lattice|lattice-loops|free [--canvas C] [--heldout]\n"
	       "Generate puzzles and their solutions. The same seed gives the same output, and puzzle i\n"
	       "depends only on the seed and i.\n"
	       "Sudoku: every puzzle has exactly one solution and is minimal for its level (no clue can\n"
	       "be removed without needing a harder technique). Levels (--difficulty):\n"
	       "  singles   naked and hidden singles only (also: simple)\n"
	       "  pairs     also locked candidates (pointing, box-line), naked and hidden pairs\n"
	       "  advanced  also naked and hidden triples, X-wing\n"
	       "  hard      none of these is enough: solving needs a guess\n"
	       "  any       whatever the digging gives (default)\n"
	       "4x4 puzzles are all `singles`; 6x6 `pairs` are rare and `advanced` unseen; a level not\n"
	       "found in 2000 tries is an error. The CSV rating is the level (1 singles .. 4 hard).\n"
	       "Maze: S and G at least L moves apart (default ceil(111 * size^2 / 900): the Maze-Hard\n"
	       "rule, > 110, at 30x30) along exactly one shortest path, which the solution marks with\n"
	       "'o'; the CSV rating is its length in moves. Families (--family):\n"
	       "  free           a random spanning tree of passages with some loops (default)\n"
	       "  lattice        a perfect maze on the cells of odd row and column inside a wall\n"
	       "                 border (walls on even rows and columns); S and G on cells; an even\n"
	       "                 size holds the lattice of size-1 and a last wall row and column\n"
	       "  lattice-loops  the same with a few walls between two cells knocked out (cycles)\n"
	       "Options:\n"
	       "  -s, --size N          Sudoku 4, 6 or 9 (default 9); maze 3 to 30 (default 30)\n"
	       "  -d, --difficulty L    Sudoku level, see above\n"
	       "      --extra-givens K  sudoku: give back up to K dug clues (uniform in 0..K) after\n"
	       "                        digging: puzzles with more clues than minimal (default 0)\n"
	       "      --min-path L      maze: least moves from S to G\n"
	       "      --loops P         maze: per mille of walls knocked out (free: of the inner walls,\n"
	       "                        default 40; lattice-loops: of the closed walls between two\n"
	       "                        cells, at least one, default 100)\n"
	       "      --family F        maze: free (default), lattice or lattice-loops, see above\n"
	       "      --canvas C        maze: write each maze in the top-left corner of a C x C grid of\n"
	       "                        wall (C >= size; 30: the Maze-Hard canvas)\n"
	       "      --heldout         maze: the seed reserved for held-out sets of this family and\n"
	       "                        size (docs/TRAINING.md), instead of --seed\n"
	       "  -n, --count N         puzzles to write (default 1)\n"
	       "      --seed S          random seed (default 0)\n"
	       "  -f, --format F        csv (default: a header, then puzzle,solution,rating), hrm (maze:\n"
	       "                        source,question,answer,rating, the HRM/TRM Maze-Hard CSV) or\n"
	       "                        text (grids split by blank lines, as the codecs read them)\n"
	       "      --solved          text: print the solutions instead of the puzzles\n"
	       "  -o, --output FILE     write there instead of standard output\n"
	       "  -h, --help            this help\n");
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct progress {
	bool on;
	double start, last;
	long total;
	const char *what;
};

static void progress_tick(struct progress *p, long done)
{
	if (!p->on)
		return;
	double t = now();
	if (t - p->last < 0.25 && done < p->total)
		return;
	p->last = t;
	double rate = t > p->start ? (double)done / (t - p->start) : 0.0;
	fprintf(stderr, "\rtrmx gen: %ld/%ld %s (%.0f/s)", done, p->total, p->what, rate);
	if (done == p->total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

enum { OPT_SEED = 256, OPT_MIN_PATH, OPT_LOOPS, OPT_SOLVED, OPT_FAMILY, OPT_CANVAS, OPT_HELDOUT, OPT_EXTRA };

struct opts {
	const char *kind;
	long size, count, seed, min_path, loops;
	trmx_sudoku_level level;
	bool have_level, text, solved;
	const char *output;
	trmx_maze_family family;
	long canvas;            /* 0: the size */
	long extra_givens;	/* sudoku: clues given back after digging, at most */
	bool hrm, heldout, have_seed;
};

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option longs[] = {
		{ "size", required_argument, NULL, 's' },
		{ "difficulty", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'n' },
		{ "seed", required_argument, NULL, OPT_SEED },
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "min-path", required_argument, NULL, OPT_MIN_PATH },
		{ "loops", required_argument, NULL, OPT_LOOPS },
		{ "solved", no_argument, NULL, OPT_SOLVED },
		{ "help", no_argument, NULL, 'h' },
		{ "family", required_argument, NULL, OPT_FAMILY },
		{ "canvas", required_argument, NULL, OPT_CANVAS },
		{ "heldout", no_argument, NULL, OPT_HELDOUT },
		{ "extra-givens", required_argument, NULL, OPT_EXTRA },
		{ NULL, 0, NULL, 0 },
	};
	bool sudoku = !strcmp(o->kind, "sudoku");
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":s:d:n:f:o:h", longs, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!cli_parse_int("gen", "--size", optarg, sudoku ? 4 : 3, sudoku ? 9 : TRMX_MAZE_SIZE_MAX, &o->size))
				return CLI_USAGE;
			if (sudoku && trmx_sudoku_box((int)o->size, NULL, NULL) < 0)
				return cli_usage_error("gen", "--size must be 4, 6 or 9 for sudoku, not %ld", o->size);
			break;
		case 'd':
			if (!sudoku)
				return cli_usage_error("gen", "--difficulty applies to sudoku only");
			if (trmx_sudoku_level_parse(optarg, &o->level) < 0)
				return cli_usage_error("gen", "unknown difficulty '%s' (singles, simple, pairs, advanced, hard, any)",
						       optarg);
			o->have_level = true;
			break;
		case 'n':
			if (!cli_parse_int("gen", "--count", optarg, 1, TRMX_GEN_COUNT_MAX, &o->count))
				return CLI_USAGE;
			break;
		case OPT_SEED:
			if (!cli_parse_int("gen", "--seed", optarg, 0, 0x7fffffffffffffffL, &o->seed))
				return CLI_USAGE;
			o->have_seed = true;
			break;
		case 'f':
			o->text = o->hrm = false;
			if (!strcmp(optarg, "text"))
				o->text = true;
			else if (!strcmp(optarg, "hrm") && !sudoku)
				o->hrm = true;
			else if (strcmp(optarg, "csv"))
				return cli_usage_error("gen", "--format must be csv%s or text, not '%s'",
						       sudoku ? "" : ", hrm", optarg);
			break;
		case 'o':
			o->output = optarg;
			break;
		case OPT_MIN_PATH:
			if (sudoku)
				return cli_usage_error("gen", "--min-path applies to maze only");
			if (!cli_parse_int("gen", "--min-path", optarg, 0, TRMX_MAZE_SIZE_MAX * TRMX_MAZE_SIZE_MAX, &o->min_path))
				return CLI_USAGE;
			break;
		case OPT_LOOPS:
			if (sudoku)
				return cli_usage_error("gen", "--loops applies to maze only");
			if (!cli_parse_int("gen", "--loops", optarg, 0, 1000, &o->loops))
				return CLI_USAGE;
			break;
		case OPT_SOLVED:
			o->solved = true;
			break;
		case OPT_FAMILY:
			if (sudoku)
				return cli_usage_error("gen", "--family applies to maze only");
			if (trmx_maze_family_parse(optarg, &o->family) < 0)
				return cli_usage_error("gen", "unknown maze family '%s' (free, lattice, lattice-loops)",
						       optarg);
			break;
		case OPT_CANVAS:
			if (sudoku)
				return cli_usage_error("gen", "--canvas applies to maze only");
			if (!cli_parse_int("gen", "--canvas", optarg, 3, TRMX_MAZE_SIZE_MAX, &o->canvas))
				return CLI_USAGE;
			break;
		case OPT_EXTRA:
			if (!sudoku)
				return cli_usage_error("gen", "--extra-givens applies to sudoku only");
			if (!cli_parse_int("gen", "--extra-givens", optarg, 0, 81, &o->extra_givens))
				return CLI_USAGE;
			break;
		case OPT_HELDOUT:
			if (sudoku)
				return cli_usage_error("gen", "--heldout applies to maze only");
			o->heldout = true;
			break;
		case 'h':
			help();
			return -1;
		case ':':
			return cli_usage_error("gen", "%s needs a value", argv[optind - 1]);
		default:
			return cli_usage_error("gen", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("gen", "unexpected argument '%s'", argv[optind]);
	return 0;
}

/* Puzzle digits (0 blank) to Sudoku tokens, then text in `style`. */
static int sudoku_text(trmx_task *t, const uint8_t *grid, int n, trmx_text_style style, char **out,
		       trmx_error *err)
{
	int32_t tok[TRMX_SUDOKU_SIZE_MAX * TRMX_SUDOKU_SIZE_MAX];
	for (int i = 0; i < n * n; i++)
		tok[i] = grid[i] + 1;
	return trmx_task_decode(t, tok, style, out, err);
}

static int gen_sudoku(const struct opts *o, FILE *f, struct progress *pr, trmx_error *err)
{
	trmx_task *t = NULL;
	char params[32];
	int rc;
	snprintf(params, sizeof params, "size=%ld", o->size);
	if ((rc = trmx_task_open(&t, "sudoku", params, err)) < 0)
		return rc;
	trmx_sudoku_gen_options go = TRMX_SUDOKU_GEN_OPTIONS_INIT;
	go.size = (int)o->size;
	go.level = o->level;
	go.extra_givens = (int)o->extra_givens;
	for (long i = 0; i < o->count; i++) {
		uint8_t puz[81], sol[81];
		trmx_sudoku_rating rating;
		trmx_rng rng;
		char *a = NULL, *b = NULL;
		trmx_rng_seed(&rng, (uint64_t)o->seed, (uint64_t)i);
		if ((rc = trmx_sudoku_generate(&rng, &go, puz, sol, &rating, err)) < 0)
			break;
		if (i == 0 && !o->text)
			fputs("puzzle,solution,rating\n", f);
		if (o->text) {
			rc = sudoku_text(t, o->solved ? sol : puz, (int)o->size, TRMX_TEXT_GRID, &a, err);
			if (rc == 0)
				fprintf(f, "%s%s", i ? "\n" : "", a);
		} else {
			rc = sudoku_text(t, puz, (int)o->size, TRMX_TEXT_LINE, &a, err);
			if (rc == 0)
				rc = sudoku_text(t, sol, (int)o->size, TRMX_TEXT_LINE, &b, err);
			if (rc == 0)
				fprintf(f, "%s,%s,%d\n", a, b, (int)rating.level);
		}
		trmx_task_text_free(a);
		trmx_task_text_free(b);
		if (rc < 0)
			break;
		progress_tick(pr, i + 1);
	}
	trmx_task_free(t);
	return rc;
}

static int gen_maze(const struct opts *o, FILE *f, struct progress *pr, trmx_error *err)
{
	trmx_maze_gen_options go = TRMX_MAZE_GEN_OPTIONS_INIT;
	int S = (int)o->size, C = o->canvas ? (int)o->canvas : S, rc = 0;
	go.size = S;
	go.min_path = (int)o->min_path;
	go.loops = (int)o->loops;
	go.family = o->family;
	for (long i = 0; i < o->count; i++) {
		char maze[TRMX_MAZE_SIZE_MAX * TRMX_MAZE_SIZE_MAX], sol[sizeof maze];
		char pm[sizeof maze], ps[sizeof maze]; /* on the canvas: the maze top-left, the rest wall */
		int len;
		trmx_rng rng;
		trmx_rng_seed(&rng, (uint64_t)o->seed, (uint64_t)i);
		if ((rc = trmx_maze_generate(&rng, &go, maze, sol, &len, err)) < 0)
			break;
		for (int r = 0; r < C; r++) {
			for (int c = 0; c < C; c++) {
				bool in = r < S && c < S;
				pm[r * C + c] = in ? maze[r * S + c] : '#';
				ps[r * C + c] = in ? sol[r * S + c] : '#';
			}
		}
		if (i == 0 && !o->text)
			fputs(o->hrm ? "source,question,answer,rating\n" : "puzzle,solution,rating\n", f);
		if (o->text) {
			const char *g = o->solved ? ps : pm;
			if (i)
				fputc('\n', f);
			for (int r = 0; r < C; r++)
				fprintf(f, "%.*s\n", C, g + r * C);
		} else if (o->hrm) {
			fprintf(f, "trmx-%s-%dx%d-seed%ld-%ld,%.*s,%.*s,%d\n", trmx_maze_family_name(o->family), S, S,
				o->seed, i, C * C, pm, C * C, ps, len);
		} else {
			fprintf(f, "%.*s,%.*s,%d\n", C * C, pm, C * C, ps, len);
		}
		progress_tick(pr, i + 1);
	}
	return rc;
}

int cmd_gen(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("gen", "which kind of puzzle? sudoku or maze");
	if (cli_is_help(argv[1])) {
		help();
		return CLI_OK;
	}
	struct opts o = {
		argv[1], 0, 1,	   0,	  -1,	-1, TRMX_SUDOKU_ANY, false, false, false, NULL, TRMX_MAZE_FAMILY_FREE,
		0,	 0, false, false, false
	};
	bool sudoku = !strcmp(o.kind, "sudoku");
	if (!sudoku && strcmp(o.kind, "maze"))
		return cli_usage_error("gen", "unknown kind '%s' (sudoku or maze)", o.kind);
	o.size = sudoku ? 9 : 30;
	int rc = parse(argc - 1, argv + 1, &o);
	if (rc < 0)
		return CLI_OK; /* --help */
	if (rc > 0)
		return rc;
	if (!sudoku && o.min_path > o.size * o.size / 2 + o.size)
		return cli_usage_error("gen", "--min-path %ld cannot be met in a %ldx%ld maze", o.min_path, o.size, o.size);
	if (!sudoku && o.canvas && o.canvas < o.size)
		return cli_usage_error("gen", "--canvas %ld is smaller than the %ldx%ld maze", o.canvas, o.size,
				       o.size);
	if (!sudoku && o.family != TRMX_MAZE_FAMILY_FREE && o.size < 5)
		return cli_usage_error("gen", "a %s maze needs --size 5 or more", trmx_maze_family_name(o.family));
	if (!sudoku && o.family == TRMX_MAZE_FAMILY_LATTICE && o.loops >= 0)
		return cli_usage_error("gen", "--loops applies to the free and lattice-loops families");
	if (o.heldout && o.have_seed)
		return cli_usage_error("gen", "--heldout picks the seed: give it or --seed, not both");
	if (o.heldout)
		o.seed = trmx_maze_heldout_seed(o.family, (int)o.size);

	FILE *f = stdout;
	if (o.output && !(f = fopen(o.output, "w")))
		return cli_failf("cannot write %s: %s", o.output, strerror(errno));
	struct progress pr = { isatty(STDERR_FILENO) && o.count >= 100, now(), 0.0, o.count,
			       sudoku ? "puzzles" : "mazes" };
	trmx_error err = { 0, "" };
	rc = sudoku ? gen_sudoku(&o, f, &pr, &err) : gen_maze(&o, f, &pr, &err);
	if (pr.on && rc < 0)
		fputs("\r\033[K", stderr);
	bool werr = ferror(f) != 0;
	if (f != stdout)
		werr = fclose(f) != 0 || werr;
	else
		werr = fflush(f) != 0 || werr;
	if (rc < 0)
		return cli_fail(&err);
	if (werr)
		return cli_failf("cannot write %s", o.output ? o.output : "standard output");
	return CLI_OK;
}
