/*
 * tasks_int.h — helpers shared by the task codecs inside libtrmx: a growable text buffer, a line
 * cursor with positions for messages, codec parameters, the CSV row reader every grid codec and
 * the data-set loader share, ANSI colours, and the Sudoku geometry. Not installed.
 */
#ifndef TRMX_TASKS_INT_H
#define TRMX_TASKS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core_int.h"
#include "trmx/task.h"

/* The built-in codec tables (sudoku.c, maze.c, arc.c, tokens.c). */
extern const trmx_task_codec trmx_task_codec_sudoku;
extern const trmx_task_codec trmx_task_codec_maze;
extern const trmx_task_codec trmx_task_codec_arc;
extern const trmx_task_codec trmx_task_codec_tokens;

/* The codec state of an opened task (task.c). */
void *trmx__task_state(const trmx_task *t);

/* ---- Lines of an input, with positions ---- */
typedef struct tcursor {
	const char *text;
	size_t len, pos;
	int64_t line;   /* number of the line next() returns next */
	const trmx_task_input *in;
} tcursor;

typedef struct tline {
	const char *p;  /* without the '\n' and a trailing '\r' */
	size_t len;
	int64_t no;     /* absolute line number */
	int col0;       /* column of p[0] (1, or in->first_column on the input's first line) */
} tline;

void trmx__tcursor_init(tcursor *c, const trmx_task_input *in);
/* Next line; false at the end. Fails (TRMX_ELIMIT into *rc) for a line over TRMX_TASK_LINE_MAX. */
bool trmx__tcursor_next(tcursor *c, tline *out, int *rc, trmx_error *err);
/* Is the line empty or only spaces and tabs? */
bool trmx__tline_blank(const tline *l);
/* Trim spaces and tabs at both ends (columns follow). */
void trmx__tline_trim(tline *l);

/* Format "line L, column C: " (or "SOURCE:L:C: ") + message into err, return `code`. col <= 0
 * leaves the column out. */
int trmx__task_error_at(trmx_error *err, int code, const trmx_task_input *in, int64_t line, int col, const char *fmt, ...)
	TRMX_PRINTF(6, 7);
/* "'x'", "a tab", "byte 0xC3" for messages. */
const char *trmx__task_char_name(char c, char buf[16]);

/* ---- Parameters ---- */
const char *trmx__param_get(const trmx_task_param *p, size_t n, const char *key);
/* Refuse keys not in `known` (NULL-terminated). */
int trmx__params_check(const trmx_task_param *p, size_t n, const char *const *known, const char *codec, trmx_error *err);
/* Integer parameter in [lo, hi], `def` when absent. Past hi is TRMX_ELIMIT when `limit` names the
 * limit of limits.h that hi is, else TRMX_EINVAL like any bad value. */
int trmx__param_int(const trmx_task_param *p, size_t n, const char *key, long lo, long hi, long def, const char *codec,
		    const char *limit, long *out, trmx_error *err);

/* ---- CSV rows (puzzle,solution[,rating] and source,question,answer,rating) ---- */
typedef struct csv_field {
	const char *p;
	size_t len;
	int col;        /* column of the field's first character */
	bool quoted;
	char *owned;    /* unescaped copy of a quoted field with "" inside, else NULL */
} csv_field;

typedef struct csv_reader {
	const trmx_task_codec *codec;
	void *state;
	int seq_len;
	bool started;   /* the first row (header or data) was seen */
	char sep;       /* ',' or '\t' (TSV: a first row with a tab and no comma); 0 until that row */
	int ncols;      /* fields per row, fixed by the first row */
	int col_puzzle, col_solution, col_name; /* -1 when absent */
	int32_t *in, *label;
	int64_t puzzle;
} csv_reader;

int trmx__csv_reader_init(csv_reader *r, const trmx_task_codec *codec, void *state, int seq_len, trmx_error *err);
void trmx__csv_reader_free(csv_reader *r);
/* Feed one line (without its newline); blank lines are skipped. The first line is a header when
 * every field is a known column name. Each data row becomes one example. */
int trmx__csv_reader_line(csv_reader *r, const tline *l, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err);
/* Read every line of `in` as CSV. */
int trmx__csv_encode(const trmx_task_codec *codec, void *state, int seq_len, const trmx_task_input *in, trmx_task_sink *sink,
		     trmx_error *err);
/* Does the first non-blank line of `in` contain a comma (and `in` is not a single field)? */
bool trmx__text_is_csv(const trmx_task_input *in);

/* ---- Colours ---- */
typedef struct rgb {
	uint8_t r, g, b;
} rgb;
void trmx__ansi_bg(trmx_buf *b, trmx_color mode, rgb c);
void trmx__ansi_fg(trmx_buf *b, trmx_color mode, rgb c);
void trmx__ansi_bold(trmx_buf *b, trmx_color mode);
void trmx__ansi_reset(trmx_buf *b, trmx_color mode);

/* ---- Sudoku geometry (sudoku_solve.c) ---- */
typedef struct sudoku_geom {
	int n, br, bc, cells, nunits;
	uint8_t unit[3 * TRMX_SUDOKU_SIZE_MAX][TRMX_SUDOKU_SIZE_MAX]; /* rows, then columns, then boxes */
	uint8_t units_of[TRMX_SUDOKU_SIZE_MAX * TRMX_SUDOKU_SIZE_MAX][3];
	uint8_t npeers;
	uint8_t peers[TRMX_SUDOKU_SIZE_MAX * TRMX_SUDOKU_SIZE_MAX][3 * TRMX_SUDOKU_SIZE_MAX];
} sudoku_geom;

/* Fill `g` for size 4, 6 or 9; TRMX_EINVAL otherwise. */
int trmx__sudoku_geom_init(sudoku_geom *g, int size, trmx_error *err);
/* Box index of a cell. */
static inline int sudoku_box_of(const sudoku_geom *g, int r, int c)
{
	return (r / g->br) * (g->n / g->bc) + c / g->bc;
}

/* ---- ARC canvas (arc.c) ---- */
/* Lay a rows x cols grid of colours 0..9 on the 30x30 canvas at (0, 0), with EOS, as tokens[900]. */
void trmx__arc_grid_to_tokens(const int32_t *grid, int rows, int cols, int32_t *tokens);
/* The official crop: the largest top-left rectangle of colour tokens, as colours (rows*cols). */
void trmx__arc_crop(const int32_t *tokens, int32_t *grid, int *rows, int *cols);

#endif
