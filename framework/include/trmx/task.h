/*
 * trmx/task.h — task codecs: how a puzzle's text becomes the token ids a model reads, how the
 * model's token ids become text again, whether an answer is right, and how to draw it.
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_task *t = NULL;
 *     trmx_task_open(&t, "sudoku", "size=9", &err);            // or "maze", "arc", "tokens"
 *
 *     int32_t in[81], label[81];                                // trmx_task_seq_len(t) ids
 *     bool has_label;
 *     trmx_task_encode(t, text, strlen(text), in, label, &has_label, &err);
 *
 *     ... the engine fills int32_t pred[81] ...
 *
 *     trmx_check chk = TRMX_CHECK_INIT;
 *     trmx_task_check(t, in, pred, NULL, &chk, &err);           // chk.verdict, chk.message, chk.cells
 *     char *s = NULL;
 *     trmx_task_decode(t, pred, TRMX_TEXT_GRID, &s, &err);      // text for a person
 *     trmx_task_text_free(s);
 *     trmx_task_free(t);
 *
 * Built-in codecs (docs/TASKS.md has every format, encoding and limit):
 *   sudoku  size=4|6|9 (default 9): seq_len size², vocab size+2; 0 PAD, 1 blank, digit d -> d+1.
 *   maze    size=2..30 (default 30), canvas=size..30 (default size): seq_len canvas², vocab 6;
 *           0 PAD, '#' 1, ' ' 2, 'S' 3, 'G' 4, 'o' 5 (the path). A maze smaller than its canvas
 *           sits in the top-left corner and the rest of the canvas is wall.
 *   arc     seq_len 900 (the 30x30 canvas), vocab 12: 0 PAD, 1 EOS, colour c -> c+2.
 *   tokens  seq_len=N (required), vocab_size=V (default 65536), cols=C (for render): raw ids.
 *
 * The codec ABI
 * -------------
 * A codec is a `trmx_task_codec` table. Like the engine ABI it starts with {abi_version,
 * struct_size} and only ever grows at its end: the host reads the fields that fit in the table's
 * struct_size and refuses an abi_version it does not know. A codec keeps its own state (the
 * `void *` made by `open`); after `open` the state is only read, so one opened codec may be used
 * from several threads at once. Every call reports failure through its own `trmx_error *`.
 * Token arrays always hold `seq_len` ids (int32); text is UTF-8 and need not end in NUL.
 *
 * Errors: every fallible call returns 0 or a negative TRMX_E* code (types.h) and fills `err`.
 * Malformed text fails with TRMX_EFORMAT and a message naming the line, the column and what was
 * expected ("line 3, column 7: expected a digit 1-9, '.' or '0', found 'x'"), or for JSON the
 * path of the bad value ("train[1].output[2]: expected 5 cells like row 0, found 4"); a named
 * limit of limits.h fails with TRMX_ELIMIT.
 */
#ifndef TRMX_TASK_H
#define TRMX_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* ---- Values shared by codecs and hosts --------------------------------------------------- */

#define TRMX_TASK_ABI_VERSION 1

/* One codec parameter ("size" = "9"). */
typedef struct trmx_task_param {
	const char *key;
	const char *value;
} trmx_task_param;

/* Text handed to a codec. `first_line` and `first_column` (1-based; 0 means 1) place text[0] in
 * a larger file, so messages point at the right spot; `source` names the file (NULL: none). */
typedef struct trmx_task_input {
	unsigned int version;
	const char *text;
	size_t len;
	const char *source;
	int64_t first_line;
	int first_column;
	unsigned int flags; /* TRMX_TASK_INPUT_* */
} trmx_task_input;
#define TRMX_TASK_INPUT_VERSION 1
#define TRMX_TASK_INPUT_INIT { TRMX_TASK_INPUT_VERSION, NULL, 0, NULL, 1, 1, 0 }
/* The text is one field of a CSV row: one puzzle or answer, never itself CSV. */
#define TRMX_TASK_INPUT_FIELD 1u

/* What an example is for. */
typedef enum trmx_example_role {
	TRMX_EXAMPLE_QUERY = 0, /* a puzzle to solve: a Sudoku, a maze, an ARC test pair */
	TRMX_EXAMPLE_DEMO = 1   /* an ARC demonstration ("train") pair */
} trmx_example_role;

/* One encoded example, as a codec hands it to the host. Every pointer is valid during the
 * sink's `add` call only. */
typedef struct trmx_task_example {
	unsigned int version;
	const int32_t *input;   /* [seq_len] */
	const int32_t *label;   /* [seq_len], or NULL when the text holds no answer */
	trmx_example_role role;
	int64_t puzzle;         /* examples with the same number (from 0, per text) form one puzzle */
	const char *name;       /* the puzzle's name (an ARC task id, a CSV `source`), or NULL */
	int64_t line;           /* line of the text where the example starts, 0 when unknown */
} trmx_task_example;
#define TRMX_TASK_EXAMPLE_VERSION 1

/* Where a codec's `encode` puts its examples, in text order. `add` returns 0 to go on, or a
 * negative code (with `err` filled) that `encode` must return at once. */
typedef struct trmx_task_sink trmx_task_sink;
struct trmx_task_sink {
	int (*add)(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err);
	void *user;
};

/* Text styles for decoding. Each is read back by `encode` (decode(encode(x)) == x for text in
 * the style's canonical form). */
typedef enum trmx_text_style {
	TRMX_TEXT_LINE = 0, /* one line: Sudoku and maze as the official CSV field ("53..7...."),
			       ARC as a JSON grid ("[[0,1],[2,3]]"), tokens as ids split by spaces */
	TRMX_TEXT_GRID = 1  /* rows on lines: Sudoku with box lines, maze rows, ARC rows of digits */
} trmx_text_style;

/* ---- Checking answers -------------------------------------------------------------------- */

typedef enum trmx_verdict {
	TRMX_VERDICT_UNKNOWN = 0, /* the codec cannot tell (ARC without an expected grid) */
	TRMX_VERDICT_VALID,
	TRMX_VERDICT_INVALID
} trmx_verdict;

/* What is wrong with an answer: the first problem the codec finds (docs/TASKS.md gives each
 * codec's order). */
typedef enum trmx_check_problem {
	TRMX_CHECK_NONE = 0,
	TRMX_CHECK_BAD_TOKEN,     /* a token that is not a symbol of the grid (PAD, EOS, out of range) */
	TRMX_CHECK_GIVEN_CHANGED, /* a given digit, a wall, the start or the goal differs from the puzzle */
	TRMX_CHECK_CONFLICT,      /* a digit twice in a row, a column or a box */
	TRMX_CHECK_INCOMPLETE,    /* blank cells remain */
	TRMX_CHECK_WALL,          /* the path goes through a wall */
	TRMX_CHECK_NO_PATH,       /* no path is marked although the goal can be reached */
	TRMX_CHECK_BRANCH,        /* a path cell with more than two path neighbours, or the start or the
				     goal with more than one */
	TRMX_CHECK_BROKEN_PATH,   /* the marked cells do not join the start to the goal */
	TRMX_CHECK_STRAY,         /* marked cells off the path from the start to the goal */
	TRMX_CHECK_NOT_SHORTEST,  /* a valid path longer than the shortest (invalid with require_shortest=1) */
	TRMX_CHECK_SHAPE,         /* the answer grid's size differs from the expected grid's */
	TRMX_CHECK_MISMATCH       /* cells differ from the expected answer */
} trmx_check_problem;

/* The verdict on one answer. `cells` lists sequence positions (indices into the token arrays,
 * ascending) of the cells at fault: both cells of a conflict, the blanks, a branching cell,
 * the cells that differ. */
typedef struct trmx_check {
	unsigned int version;
	trmx_verdict verdict;
	trmx_check_problem problem;   /* NONE when valid (a maze may say NOT_SHORTEST and be valid) */
	char message[TRMX_ERROR_MESSAGE_MAX];
	int ncells;                   /* entries of `cells` used */
	int ncells_total;             /* cells at fault; more than ncells when the list was full */
	int32_t cells[TRMX_CHECK_CELLS_MAX];
	int path_length;              /* maze: moves from start to goal along the answer, else -1 */
	int shortest_length;          /* maze: moves of a shortest path (BFS), -1 when unreachable */
} trmx_check;
#define TRMX_CHECK_VERSION 1
#define TRMX_CHECK_INIT { TRMX_CHECK_VERSION, TRMX_VERDICT_UNKNOWN, TRMX_CHECK_NONE, "", 0, 0, { 0 }, -1, -1 }

/* Name of a verdict ("valid", "invalid", "unknown") and of a problem ("conflict", ...). */
const char *trmx_verdict_name(trmx_verdict v);
const char *trmx_check_problem_name(trmx_check_problem p);

/* ---- Rendering for a terminal ------------------------------------------------------------ */

typedef enum trmx_color {
	TRMX_COLOR_NONE = 0, /* plain text; a highlighted cell is marked with '*' */
	TRMX_COLOR_256,      /* ANSI 256-colour escapes */
	TRMX_COLOR_TRUE      /* ANSI 24-bit colour escapes */
} trmx_color;

typedef struct trmx_render_options {
	unsigned int version;
	trmx_color color;
	const uint8_t *highlight; /* [seq_len]: non-zero cells are highlighted (say, changed since
				     the previous ACT step), or NULL */
	const int32_t *puzzle;    /* [seq_len]: the puzzle, so that givens are drawn apart from the
				     cells the model filled, or NULL */
} trmx_render_options;
#define TRMX_RENDER_OPTIONS_VERSION 1
#define TRMX_RENDER_OPTIONS_INIT { TRMX_RENDER_OPTIONS_VERSION, TRMX_COLOR_NONE, NULL, NULL }

/* ---- The codec table --------------------------------------------------------------------- */

/* Each puzzle of a data set gets its own puzzle identifier (ARC); without it all are 0. */
#define TRMX_TASK_CODEC_PUZZLE_IDS 1u

typedef struct trmx_task_codec {
	unsigned int abi_version; /* TRMX_TASK_ABI_VERSION */
	size_t struct_size;       /* sizeof(trmx_task_codec) where the codec was built */
	const char *name;         /* "sudoku" */
	const char *description;  /* one line */
	unsigned int flags;       /* TRMX_TASK_CODEC_* */

	/* Make a state from `params` (unknown keys and bad values are TRMX_EINVAL). */
	int (*open)(void **state, const trmx_task_param *params, size_t nparams, trmx_error *err);
	void (*close)(void *state);
	int (*seq_len)(const void *state);
	int (*vocab_size)(const void *state);

	/* Parse `in` and hand every example it holds to `sink`, in order. At least one example, or
	 * TRMX_EFORMAT. Ids must lie in [0, vocab_size). */
	int (*encode)(void *state, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err);
	/* Write `tokens` as text in `style` into buf (at most cap bytes with the final NUL, like
	 * snprintf) and the full length, without the NUL, into *len. TRMX_EFORMAT when a token
	 * has no text (PAD inside a Sudoku). */
	int (*decode)(void *state, const int32_t *tokens, trmx_text_style style, char *buf, size_t cap,
		      size_t *len, trmx_error *err);
	/* Judge `answer` for `puzzle` (NULL: judge the answer alone), against `expected` where the
	 * codec needs one (ARC; NULL: none). Fills *out; a wrong answer is not an error. May be
	 * NULL in the table: every verdict is then unknown. */
	int (*check)(void *state, const int32_t *puzzle, const int32_t *answer, const int32_t *expected,
		     trmx_check *out, trmx_error *err);
	/* Draw `tokens` for a terminal, like decode. May be NULL: the host then decodes in the
	 * GRID style. */
	int (*render)(void *state, const int32_t *tokens, const trmx_render_options *opts, char *buf,
		      size_t cap, size_t *len, trmx_error *err);
} trmx_task_codec;

/* ---- Finding and opening codecs ---------------------------------------------------------- */

/* The built-in codec named `name` ("sudoku", "maze", "arc", "tokens"), or NULL. Borrowed,
 * static. */
const trmx_task_codec *trmx_task_find(const char *name);
/* Built-in codecs, for listing: count and the i-th (NULL past the end). */
size_t trmx_task_codec_count(void);
const trmx_task_codec *trmx_task_codec_at(size_t i);

typedef struct trmx_task trmx_task;

/* Open the built-in codec `name` with `params`, a string of key=value pairs split by commas or
 * spaces ("size=6", "size=15,canvas=30"), or NULL for the defaults. Errors: TRMX_ENOTFOUND (no
 * such codec), TRMX_EINVAL (a bad parameter), TRMX_ELIMIT, TRMX_ENOMEM. */
int trmx_task_open(trmx_task **out, const char *name, const char *params, trmx_error *err);
/* The same with the parameters in a config map (a manifest's `task.params`). */
int trmx_task_open_config(trmx_task **out, const char *name, const trmx_config *params,
			  trmx_error *err);
/* Open any codec table (one from a plugin). The table must outlive the task. Besides the errors
 * of the codec's own `open`: TRMX_EVERSION (an abi_version this host does not know, or a table
 * too short for version 1), TRMX_EINVAL (a required entry is NULL, seq_len or vocab_size out of
 * range). */
int trmx_task_open_codec(trmx_task **out, const trmx_task_codec *codec, const trmx_task_param *params,
			 size_t nparams, trmx_error *err);
void trmx_task_free(trmx_task *t);

const char *trmx_task_name(const trmx_task *t);
const trmx_task_codec *trmx_task_codec_get(const trmx_task *t);
int trmx_task_seq_len(const trmx_task *t);
int trmx_task_vocab_size(const trmx_task *t);
/* Value of the parameter `key` as opened (borrowed), NULL when it was not given. */
const char *trmx_task_param_get(const trmx_task *t, const char *key);

/* ---- Using an opened codec --------------------------------------------------------------- */

/* Encode the first puzzle to solve in `text` (for an ARC task: its first test pair) into
 * input[seq_len]; when the text also holds the answer (a CSV row's solution, a maze marked with
 * its path, an ARC test output), write it into label[seq_len] (label may be NULL) and set
 * *has_label (may be NULL). Errors: TRMX_EFORMAT (also: no puzzle in the text), TRMX_ELIMIT,
 * TRMX_ENOMEM. */
int trmx_task_encode(trmx_task *t, const char *text, size_t len, int32_t *input, int32_t *label,
		     bool *has_label, trmx_error *err);
/* Hand every example of `in` to `sink`. The host checks each example's ids against the vocabulary
 * before `sink` sees it (TRMX_EFORMAT names the codec). */
int trmx_task_encode_input(trmx_task *t, const trmx_task_input *in, trmx_task_sink *sink,
			   trmx_error *err);

/* An answer as given (a correction, in any text the task reads) in the codec's one-line form: the
 * label when the text holds one, else the grid it reads. *out is freed with trmx_task_text_free.
 * Errors: those of trmx_task_encode, TRMX_ENOMEM. */
int trmx_task_canonical(trmx_task *t, const char *text, size_t len, char **out, trmx_error *err);

/* Decode `tokens` to text in `style`; *out is NUL-terminated and freed with trmx_task_text_free. */
int trmx_task_decode(trmx_task *t, const int32_t *tokens, trmx_text_style style, char **out,
		     trmx_error *err);
/* Judge an answer (see the codec's `check`). `out` is overwritten (its version kept). */
int trmx_task_check(trmx_task *t, const int32_t *puzzle, const int32_t *answer,
		    const int32_t *expected, trmx_check *out, trmx_error *err);
/* Draw `tokens` for a terminal (opts may be NULL: plain, no highlight); free with
 * trmx_task_text_free. */
int trmx_task_render(trmx_task *t, const int32_t *tokens, const trmx_render_options *opts,
		     char **out, trmx_error *err);
void trmx_task_text_free(char *s);

/* ---- A small deterministic random source ------------------------------------------------- */

/* xoshiro256** seeded with splitmix64: the same (seed, stream) gives the same numbers on every
 * machine. Separate streams of one seed are independent, so item i of a run can use stream i. */
typedef struct trmx_rng {
	uint64_t s[4];
} trmx_rng;

void trmx_rng_seed(trmx_rng *r, uint64_t seed, uint64_t stream);
uint64_t trmx_rng_next(trmx_rng *r);
/* Uniform in [0, n) without bias; 0 when n is 0. */
uint32_t trmx_rng_below(trmx_rng *r, uint32_t n);

/* ---- Sudoku: solving, rating, generating ------------------------------------------------- */

/* Grids in this section are size² bytes, row-major, 0 for a blank and 1..size for a digit. Sizes
 * are 4 (2x2 boxes), 6 (boxes of 2 rows by 3 columns) and 9 (3x3). */

/* The difficulty scale: the hardest class of technique a human-style solver needs, trying the
 * easiest first. */
typedef enum trmx_sudoku_level {
	TRMX_SUDOKU_ANY = 0,      /* generation only: whatever the digging gives */
	TRMX_SUDOKU_SINGLES = 1,  /* naked and hidden singles ("simple") */
	TRMX_SUDOKU_PAIRS = 2,    /* + locked candidates (pointing, box-line), naked and hidden pairs */
	TRMX_SUDOKU_ADVANCED = 3, /* + naked and hidden triples, X-wing */
	TRMX_SUDOKU_HARD = 4      /* none of these is enough: the solver must guess */
} trmx_sudoku_level;

typedef enum trmx_sudoku_technique {
	TRMX_SUDOKU_NAKED_SINGLE = 0,
	TRMX_SUDOKU_HIDDEN_SINGLE,
	TRMX_SUDOKU_LOCKED_CANDIDATES,
	TRMX_SUDOKU_NAKED_PAIR,
	TRMX_SUDOKU_HIDDEN_PAIR,
	TRMX_SUDOKU_NAKED_TRIPLE,
	TRMX_SUDOKU_HIDDEN_TRIPLE,
	TRMX_SUDOKU_X_WING,
	TRMX_SUDOKU_GUESS,
	TRMX_SUDOKU_TECHNIQUE_COUNT
} trmx_sudoku_technique;

/* Level names: "any", "singles" (also "simple"), "pairs", "advanced", "hard". parse: TRMX_EINVAL. */
const char *trmx_sudoku_level_name(trmx_sudoku_level level);
int trmx_sudoku_level_parse(const char *name, trmx_sudoku_level *out);
/* "naked single", ..., "guess". */
const char *trmx_sudoku_technique_name(trmx_sudoku_technique t);
/* The technique's level (naked pair -> PAIRS). */
trmx_sudoku_level trmx_sudoku_technique_level(trmx_sudoku_technique t);
/* Box shape of a size: 0, or TRMX_EINVAL for a size other than 4, 6, 9. */
int trmx_sudoku_box(int size, int *box_rows, int *box_cols);

typedef struct trmx_sudoku_rating {
	trmx_sudoku_level level;                     /* SINGLES .. HARD */
	int uses[TRMX_SUDOKU_TECHNIQUE_COUNT];       /* steps that made progress with each technique;
							uses[GUESS] counts search nodes */
	int clues;                                   /* givens */
} trmx_sudoku_rating;

/* Count the solutions of `grid`, stopping at `limit` (>= 1); the first one found goes to
 * `solution` (size² bytes, may be NULL). A grid that breaks the rules has 0. Errors:
 * TRMX_EINVAL (size, a value out of range). */
int trmx_sudoku_count(int size, const uint8_t *grid, int limit, uint8_t *solution, int *count,
		      trmx_error *err);
/* Rate `grid`, which must have exactly one solution (TRMX_EFORMAT otherwise). */
int trmx_sudoku_rate(int size, const uint8_t *grid, trmx_sudoku_rating *out, trmx_error *err);

typedef struct trmx_sudoku_gen_options {
	unsigned int version;
	int size;                /* 4, 6 or 9 */
	trmx_sudoku_level level; /* the exact level wanted, or ANY */
	int max_attempts;        /* full grids tried before TRMX_ENOTFOUND; 0: 2000 */
	/* version 2: */
	int extra_givens; /* give back a uniform random number in [0, extra_givens] of the
			     dug cells (from the solution): puzzles with more clues than
			     minimal, as other generators make; the level is checked before,
			     the rating is of the result (it can only be easier). 0: minimal */
} trmx_sudoku_gen_options;
#define TRMX_SUDOKU_GEN_OPTIONS_VERSION 2
#define TRMX_SUDOKU_GEN_OPTIONS_INIT                                                                                        \
	{                                                                                                                   \
		TRMX_SUDOKU_GEN_OPTIONS_VERSION, 9, TRMX_SUDOKU_ANY, 0, 0                                                   \
	}

/* Generate a puzzle with exactly one solution: fill a random grid, then blank its cells in a
 * random order, keeping each blank while the puzzle stays solvable within the level (for HARD
 * and ANY: while the solution stays unique). The result is minimal for its level: no further
 * clue can go. A puzzle whose level is below the one asked is thrown away and a new grid
 * tried. Deterministic for the state of `rng`. `puzzle` and `solution` are size² bytes;
 * `rating` may be NULL. Errors: TRMX_EINVAL, TRMX_ENOTFOUND (no puzzle of that level within
 * max_attempts; 4x4 puzzles never need more than PAIRS). */
int trmx_sudoku_generate(trmx_rng *rng, const trmx_sudoku_gen_options *opts, uint8_t *puzzle,
			 uint8_t *solution, trmx_sudoku_rating *rating, trmx_error *err);

/* ---- Mazes: generating ------------------------------------------------------------------- */

/* Maze families (docs/TASKS.md, "Generators"). */
typedef enum trmx_maze_family {
	TRMX_MAZE_FAMILY_FREE = 0,     /* trmx's first family: a spanning tree carved on the cells of even
					  row and column (no border), some inner walls knocked out */
	TRMX_MAZE_FAMILY_LATTICE = 1,  /* a perfect maze (recursive backtracker) on the cells of odd row
					  and column inside a wall border: walls on even rows and columns */
	TRMX_MAZE_FAMILY_LATTICE_LOOPS = 2 /* the same with a few walls between two cells knocked out */
} trmx_maze_family;

typedef struct trmx_maze_gen_options {
	unsigned int version;
	int size;       /* side, 3..30; the lattice families fill an even side with the lattice of
			   side size-1 and a last wall row and column */
	int min_path;   /* shortest path from S to G of at least this many moves; -1: the default,
			   ceil(111 * size² / 900), which is the Maze-Hard rule (> 110) at 30x30 */
	int loops;      /* per mille of walls knocked out to make loops; -1: the family's default
			   (free: 40 of the inner walls; lattice-loops: 100 of the walls between two
			   cells the tree left closed, at least one); lattice: not read */
	int max_attempts; /* mazes tried before TRMX_ENOTFOUND; 0: 1000 */
	trmx_maze_family family; /* version 2 */
} trmx_maze_gen_options;
#define TRMX_MAZE_GEN_OPTIONS_VERSION 2
#define TRMX_MAZE_GEN_OPTIONS_INIT { TRMX_MAZE_GEN_OPTIONS_VERSION, 30, -1, -1, 0, TRMX_MAZE_FAMILY_FREE }

/* Generate a maze of opts->family: the start on a random open cell (lattice families: a random
 * lattice cell) and the goal on one at least min_path moves away and reached by exactly one
 * shortest path (BFS counting shortest paths; a maze without such a goal is thrown away and
 * another tried). `maze` and `solution` are size² chars of "# SG" (and 'o' in the solution:
 * that path). *path_length (may be NULL) gets the shortest path's moves. Deterministic for the
 * state of `rng`. Errors: TRMX_EINVAL, TRMX_EVERSION, TRMX_ENOTFOUND (max_attempts spent). */
int trmx_maze_generate(trmx_rng *rng, const trmx_maze_gen_options *opts, char *maze, char *solution,
		       int *path_length, trmx_error *err);
/* The family named `name` ("free", "lattice", "lattice-loops"); TRMX_EINVAL for another. */
int trmx_maze_family_parse(const char *name, trmx_maze_family *out);
/* The name of a family ("free", ...); "?" for a value out of range. Static storage. */
const char *trmx_maze_family_name(trmx_maze_family family);
/* Seeds reserved for held-out evaluation (docs/TRAINING.md, "Held-out sets"): `trmx train`
 * refuses them as data.seed and eval.seed. 777777 is the held-out set of every module card,
 * 777778 the one of the harder Sudoku levels; the range holds one seed per maze family and size,
 * trmx_maze_heldout_seed. */
#define TRMX_HELDOUT_SEED 777777
#define TRMX_HELDOUT_SEED_LEVELS 777778
#define TRMX_HELDOUT_SEED_MIN 7770000
#define TRMX_HELDOUT_SEED_MAX 7779999
/* The held-out seed of a maze family and side: TRMX_HELDOUT_SEED_MIN + 100 * family + size. */
long trmx_maze_heldout_seed(trmx_maze_family family, int size);
/* The default min_path of a size. */
int trmx_maze_default_min_path(int size);
/* The maze curriculum of `trmx train` (docs/TRAINING.md): `label` is a solved maze as tokens on a
 * canvas x canvas grid and `input` the same maze unsolved; wall up, in both, every open cell more
 * than start + f * (D - start) moves from the label's path (S and G included), where D is the
 * farthest any open cell is from it, so the model sees the path with short dead ends at first and
 * the whole maze at f = 1. The path stays the one shortest path. Returns D. */
int trmx_maze_prune(int canvas, int32_t *input, int32_t *label, int start, double f);

/* ---- Augmentations ----------------------------------------------------------------------- */

/* Dihedral transforms of a rows x cols grid, ids as the official builder: 0 identity, 1 rot90
 * (counter-clockwise, numpy's rot90), 2 rot180, 3 rot270, 4 fliplr, 5 flipud, 6 transpose,
 * 7 anti-transpose (fliplr of rot90). Ids 1, 3, 6, 7 swap rows and cols. */
#define TRMX_DIHEDRAL_COUNT 8
/* The inverse id: [0, 3, 2, 1, 4, 5, 6, 7]; -1 for a bad id. */
int trmx_dihedral_inverse(int tid);
/* out[] gets the transformed grid (out may not alias in); *out_rows and *out_cols (may be NULL)
 * its shape. Errors: TRMX_EINVAL (bad id or shape). */
int trmx_dihedral_apply(int tid, const int32_t *in, int rows, int cols, int32_t *out,
			int *out_rows, int *out_cols, trmx_error *err);

/* The official Sudoku shuffle, generalised to 4x4 and 6x6: new cell (i, j) takes old cell
 * (rows[i], cols[j]) of the (maybe transposed) grid, then each digit d becomes digits[d].
 * `rows` permutes bands of box-height rows and the rows within each band; `cols` permutes stacks
 * of box-width columns and the columns within each stack. A transpose turns 2x3 boxes into 3x2
 * boxes, so it is never drawn for size 6, and a shuffle with transpose on size 6 is TRMX_EINVAL. */
typedef struct trmx_sudoku_shuffle {
	int size;
	bool transpose;
	uint8_t digits[TRMX_SUDOKU_SIZE_MAX + 1]; /* digits[0] = 0 (blank stays blank) */
	uint8_t rows[TRMX_SUDOKU_SIZE_MAX];
	uint8_t cols[TRMX_SUDOKU_SIZE_MAX];
} trmx_sudoku_shuffle;

/* Draw a shuffle as the official builder: digit permutation, transpose with probability 1/2
 * (never for size 6), band and row permutations, stack and column permutations. */
int trmx_sudoku_shuffle_random(trmx_rng *rng, int size, trmx_sudoku_shuffle *out, trmx_error *err);
/* Is `s` a valid shuffle (permutations that keep boxes whole)? TRMX_EINVAL with the reason. */
int trmx_sudoku_shuffle_validate(const trmx_sudoku_shuffle *s, trmx_error *err);
/* The shuffle that undoes `s`. */
int trmx_sudoku_shuffle_invert(const trmx_sudoku_shuffle *s, trmx_sudoku_shuffle *inv, trmx_error *err);
/* Apply to size² Sudoku tokens (0 PAD and 1 blank stay, token d+1 becomes digits[d]+1). out may
 * not alias in. Errors: TRMX_EINVAL (shuffle), TRMX_EFORMAT (a token out of range). */
int trmx_sudoku_shuffle_tokens(const trmx_sudoku_shuffle *s, const int32_t *in, int32_t *out,
			       trmx_error *err);

/* The official ARC augmentation: colours 1..9 permuted (0 fixed), then a dihedral transform. */
typedef struct trmx_arc_aug {
	int dihedral;        /* 0..7 */
	uint8_t colors[10];  /* colors[c] = new colour of c; colors[0] = 0 */
} trmx_arc_aug;

int trmx_arc_aug_random(trmx_rng *rng, trmx_arc_aug *out);
int trmx_arc_aug_invert(const trmx_arc_aug *a, trmx_arc_aug *inv, trmx_error *err);
/* Apply to a grid of colours 0..9 (rows x cols); the out shape is swapped for ids 1, 3, 6, 7. */
int trmx_arc_aug_grid(const trmx_arc_aug *a, const int32_t *in, int rows, int cols, int32_t *out,
		      int *out_rows, int *out_cols, trmx_error *err);
/* Apply to 900 ARC tokens: crop the grid at the top-left as the official evaluator does, map it,
 * and encode it again at (0, 0). */
int trmx_arc_aug_tokens(const trmx_arc_aug *a, const int32_t *in, int32_t *out, trmx_error *err);
/* The official variant name "name|||t<id>|||<10 digits>" (truncated like snprintf), and its
 * parse (TRMX_EFORMAT when `variant` carries no augmentation); *base_len gets the length of the
 * base name. */
int trmx_arc_aug_name(const trmx_arc_aug *a, const char *name, char *buf, size_t cap);
int trmx_arc_aug_parse(const char *variant, trmx_arc_aug *out, size_t *base_len, trmx_error *err);

/* ---- Data sets --------------------------------------------------------------------------- */

/* One in-memory representation of the examples a trainer or an evaluation reads: token arrays,
 * puzzles (runs of examples sharing a puzzle identifier), groups (runs of puzzles, an original
 * and its augmentations), as the official puzzle data set (docs/TASKS.md, "Data sets"). */
typedef struct trmx_dataset trmx_dataset;

/* Which examples to keep. Roles are filtered only for codecs with TRMX_TASK_CODEC_PUZZLE_IDS (ARC),
 * whose tasks mix demonstrations and tests; other codecs keep every example. */
typedef enum trmx_split {
	TRMX_SPLIT_ALL = 0, /* every example (ARC: demonstrations and tests) */
	TRMX_SPLIT_TRAIN,   /* ARC: the demonstration pairs; a built data set: <dir>/train */
	TRMX_SPLIT_TEST     /* ARC: the test pairs; a built data set: <dir>/test */
} trmx_split;

typedef struct trmx_dataset_options {
	unsigned int version;
	trmx_split split;
	int64_t max_examples; /* stop after this many (0: no cap but TRMX_DATASET_EXAMPLES_MAX) */
} trmx_dataset_options;
#define TRMX_DATASET_OPTIONS_VERSION 1
#define TRMX_DATASET_OPTIONS_INIT { TRMX_DATASET_OPTIONS_VERSION, TRMX_SPLIT_ALL, 0 }

/* A borrowed view of a data set: every pointer lives as long as the data set. Tokens are stored
 * as uint8 when the vocabulary fits (it does for every built-in task but `tokens`), else int32.
 * A label id 0 is "no label" (the official ignore_label_id); an example without an answer has
 * all-zero labels. */
typedef struct trmx_dataset_view {
	const trmx_task *task;            /* may be NULL for a built data set opened without one */
	int seq_len, vocab_size;
	trmx_dtype dtype;                 /* TRMX_DTYPE_U8 or TRMX_DTYPE_I32 */
	int64_t examples;
	const void *inputs;               /* [examples, seq_len] */
	const void *labels;               /* [examples, seq_len] */
	const uint8_t *roles;             /* [examples] trmx_example_role */
	int64_t puzzles;
	const int32_t *puzzle_identifiers;/* [puzzles] */
	const int64_t *puzzle_indices;    /* [puzzles + 1]: puzzle p owns examples [pi[p], pi[p+1]) */
	int64_t groups;
	const int64_t *group_indices;     /* [groups + 1]: group g owns puzzles [gi[g], gi[g+1]) */
	int32_t num_puzzle_identifiers;   /* identifiers in use + 1 (0 is the blank identifier) */
} trmx_dataset_view;

/* Load a data set from `path`:
 *  - a folder with dataset.json, or with train/ and test/ holding one (the official built layout:
 *    all__inputs.npy, ... ; `split` picks train or test; `task`, when given, must agree with
 *    dataset.json's seq_len and vocab_size (TRMX_ESHAPE) and may be NULL);
 *  - a folder of ARC task JSON files (searched to TRMX_DATASET_DEPTH_MAX levels, in name order):
 *    one puzzle per task, named by the file's name without ".json";
 *  - a CSV file (name ending in .csv, or a first line with a comma): columns puzzle,solution
 *    [,rating] or source,question,answer,rating, with or without a header; read a line at a time,
 *    each field encoded by `task`;
 *  - any other file: its text encoded by `task` (several puzzles one after another, an ARC task,
 *    a combined ARC file of {"id": task, ...}).
 * Each Sudoku, maze or token example is its own puzzle (identifier 0) and group; each ARC task is
 * a puzzle with its own identifier (1, 2, ...) and group. Errors: those of the codec, TRMX_ENOTFOUND,
 * TRMX_EIO, TRMX_EFORMAT, TRMX_ELIMIT, TRMX_ESHAPE, TRMX_ENOMEM. */
int trmx_dataset_load(trmx_dataset **out, const trmx_task *task, const char *path,
		      const trmx_dataset_options *opts, trmx_error *err);
/* The same from text in memory (every kind above but the folders). */
int trmx_dataset_parse(trmx_dataset **out, const trmx_task *task, const char *text, size_t len,
		       const trmx_dataset_options *opts, trmx_error *err);
/* Raw token ids from .npy files: inputs [N, seq_len] and, when labels_path is not NULL, labels of
 * the same shape; integer dtypes. `task` (any codec, "tokens" for raw ids) gives seq_len and
 * vocab_size. */
int trmx_dataset_load_npy(trmx_dataset **out, const trmx_task *task, const char *inputs_path,
			  const char *labels_path, trmx_error *err);
void trmx_dataset_free(trmx_dataset *ds);

void trmx_dataset_view_get(const trmx_dataset *ds, trmx_dataset_view *out);
/* Copy example i as int32 ids into input[seq_len] and label[seq_len] (either may be NULL).
 * TRMX_EINVAL when i is out of range. */
int trmx_dataset_example(const trmx_dataset *ds, int64_t i, int32_t *input, int32_t *label,
			 trmx_error *err);
/* Name of puzzle p (an ARC task id, identifiers.json of a built data set), or NULL. Borrowed. */
const char *trmx_dataset_puzzle_name(const trmx_dataset *ds, int64_t p);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
