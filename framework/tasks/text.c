/*
 * text.c — the text plumbing of the codecs: lines with their positions,
 * messages that point at a line and column, codec parameters, the CSV row reader shared by the
 * grid codecs and the data-set loader (also TSV, and a UTF-8 byte order mark before the first
 * row: what spreadsheets save), and ANSI colour escapes.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

/* ---- Lines --------------------------------------------------------------------------------- */

void trmx__tcursor_init(tcursor *c, const trmx_task_input *in)
{
	c->text = in->text;
	c->len = in->text ? in->len : 0;
	c->pos = 0;
	c->line = in->first_line > 0 ? in->first_line : 1;
	c->in = in;
}

bool trmx__tcursor_next(tcursor *c, tline *out, int *rc, trmx_error *err)
{
	*rc = 0;
	if (c->pos >= c->len)
		return false;
	const char *start = c->text + c->pos;
	const char *nl = memchr(start, '\n', c->len - c->pos);
	size_t n = nl ? (size_t)(nl - start) : c->len - c->pos;
	bool first = c->pos == 0;
	c->pos += n + (nl ? 1 : 0);
	if (n > 0 && start[n - 1] == '\r')
		n--;
	out->p = start;
	out->len = n;
	out->no = c->line++;
	out->col0 = first && c->in->first_column > 0 ? c->in->first_column : 1;
	if (n > TRMX_TASK_LINE_MAX) {
		*rc = trmx__task_error_at(err, TRMX_ELIMIT, c->in, out->no, 0,
					  "line of %zu bytes; the limit is %u (TRMX_TASK_LINE_MAX)", n,
					  (unsigned)TRMX_TASK_LINE_MAX);
		return false;
	}
	return true;
}

bool trmx__tline_blank(const tline *l)
{
	for (size_t i = 0; i < l->len; i++) {
		if (l->p[i] != ' ' && l->p[i] != '\t')
			return false;
	}
	return true;
}

void trmx__tline_trim(tline *l)
{
	while (l->len && (l->p[0] == ' ' || l->p[0] == '\t')) {
		l->p++;
		l->len--;
		l->col0++;
	}
	while (l->len && (l->p[l->len - 1] == ' ' || l->p[l->len - 1] == '\t'))
		l->len--;
}

int trmx__task_error_at(trmx_error *err, int code, const trmx_task_input *in, int64_t line, int col, const char *fmt, ...)
{
	if (!err)
		return code;
	char msg[TRMX_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	const char *src = in ? in->source : NULL;
	if (src && line > 0 && col > 0)
		return trmx_error_set(err, code, "%s:%lld:%d: %s", src, (long long)line, col, msg);
	if (src && line > 0)
		return trmx_error_set(err, code, "%s:%lld: %s", src, (long long)line, msg);
	if (src)
		return trmx_error_set(err, code, "%s: %s", src, msg);
	if (line > 0 && col > 0)
		return trmx_error_set(err, code, "line %lld, column %d: %s", (long long)line, col, msg);
	if (line > 0)
		return trmx_error_set(err, code, "line %lld: %s", (long long)line, msg);
	return trmx_error_set(err, code, "%s", msg);
}

const char *trmx__task_char_name(char c, char buf[16])
{
	unsigned char u = (unsigned char)c;
	if (c == '\t')
		snprintf(buf, 16, "a tab");
	else if (c == ' ')
		snprintf(buf, 16, "a space");
	else if (u >= 0x21 && u < 0x7f)
		snprintf(buf, 16, "'%c'", c);
	else
		snprintf(buf, 16, "byte 0x%02X", u);
	return buf;
}

/* ---- Parameters ---------------------------------------------------------------------------- */

const char *trmx__param_get(const trmx_task_param *p, size_t n, const char *key)
{
	for (size_t i = n; i-- > 0;) {
		if (p[i].key && !strcmp(p[i].key, key))
			return p[i].value;
	}
	return NULL;
}

int trmx__params_check(const trmx_task_param *p, size_t n, const char *const *known, const char *codec, trmx_error *err)
{
	for (size_t i = 0; i < n; i++) {
		if (!p[i].key || !p[i].value)
			return trmx_error_set(err, TRMX_EINVAL, "%s: parameter %zu has no key or value", codec, i);
		bool ok = false;
		for (size_t k = 0; known[k]; k++)
			ok = ok || !strcmp(p[i].key, known[k]);
		if (!ok) {
			char list[256] = "";
			size_t used = 0;
			for (size_t k = 0; known[k] && used < sizeof list; k++)
				used += (size_t)snprintf(list + used, sizeof list - used, "%s%s", k ? ", " : "", known[k]);
			return trmx_error_set(err, TRMX_EINVAL, "%s: unknown parameter '%s' (known: %s)", codec,
					      p[i].key, known[0] ? list : "none");
		}
	}
	return 0;
}

int trmx__param_int(const trmx_task_param *p, size_t n, const char *key, long lo, long hi, long def, const char *codec,
		    const char *limit, long *out, trmx_error *err)
{
	const char *v = trmx__param_get(p, n, key);
	if (!v) {
		*out = def;
		return 0;
	}
	long x = 0;
	bool ok = trmx_parse_long(v, &x);
	if (ok && x > hi && limit)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: parameter %s wants an integer in [%ld, %ld] (%s), not '%s'",
				      codec, key, lo, hi, limit, v);
	if (!ok || x < lo || x > hi)
		return trmx_error_set(err, TRMX_EINVAL, "%s: parameter %s wants an integer in [%ld, %ld], not '%s'",
				      codec, key, lo, hi, v);
	*out = x;
	return 0;
}

/* ---- CSV ----------------------------------------------------------------------------------- */

bool trmx__text_is_csv(const trmx_task_input *in)
{
	if (in->flags & TRMX_TASK_INPUT_FIELD)
		return false;
	size_t i = 0;
	while (i < in->len) {
		const char *s = in->text + i;
		const char *nl = memchr(s, '\n', in->len - i);
		size_t n = nl ? (size_t)(nl - s) : in->len - i;
		bool blank = true;
		for (size_t k = 0; k < n && blank; k++)
			blank = s[k] == ' ' || s[k] == '\t' || s[k] == '\r';
		if (!blank)
			return memchr(s, ',', n) != NULL;
		i += n + 1;
	}
	return false;
}

/* Split a line into fields at `sep` (RFC 4180 quotes, "" inside quotes for one "; the same in TSV). */
static int csv_split(const tline *l, const trmx_task_input *in, char sep, csv_field *f, int *nf,
		     trmx_error *err)
{
	int n = 0;
	size_t i = 0;
	for (;;) {
		if (n == TRMX_TASK_CSV_FIELDS_MAX)
			return trmx__task_error_at(err, TRMX_ELIMIT, in, l->no, l->col0 + (int)i,
						   "more than %d fields in a CSV row (TRMX_TASK_CSV_FIELDS_MAX)",
						   TRMX_TASK_CSV_FIELDS_MAX);
		csv_field *fd = &f[n++];
		memset(fd, 0, sizeof *fd);
		*nf = n; /* so that the caller frees what an error leaves behind */
		if (i < l->len && l->p[i] == '"') {
			size_t start = ++i;
			bool dq = false;
			for (;;) {
				if (i >= l->len)
					return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, l->col0 + (int)start - 1,
								   "unterminated quoted CSV field");
				if (l->p[i] == '"') {
					if (i + 1 < l->len && l->p[i + 1] == '"') {
						dq = true;
						i += 2;
						continue;
					}
					break;
				}
				i++;
			}
			fd->p = l->p + start;
			fd->len = i - start;
			fd->col = l->col0 + (int)start;
			fd->quoted = true;
			i++; /* closing quote */
			if (dq) {
				char *o = trmx_xmalloc(fd->len + 1);
				if (!o)
					return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading CSV");
				size_t k = 0;
				for (size_t j = 0; j < fd->len; j++) {
					o[k++] = fd->p[j];
					if (fd->p[j] == '"')
						j++;
				}
				o[k] = '\0';
				fd->owned = o;
				fd->p = o;
				fd->len = k;
			}
			if (i < l->len && l->p[i] != sep) {
				char cb[16], sb[16];
				return trmx__task_error_at(
					err, TRMX_EFORMAT, in, l->no, l->col0 + (int)i,
					"expected %s or the end of the line after a quoted field, found %s",
					trmx__task_char_name(sep, sb), trmx__task_char_name(l->p[i], cb));
			}
		} else {
			size_t start = i;
			while (i < l->len && l->p[i] != sep)
				i++;
			fd->p = l->p + start;
			fd->len = i - start;
			fd->col = l->col0 + (int)start;
		}
		if (i >= l->len)
			break;
		i++; /* the separator */
	}
	*nf = n;
	return 0;
}

static void csv_fields_free(csv_field *f, int n)
{
	for (int i = 0; i < n; i++)
		free(f[i].owned);
}

static bool field_is(const csv_field *f, const char *name)
{
	size_t n = strlen(name);
	const char *p = f->p;
	size_t len = f->len;
	while (len && (*p == ' ' || *p == '\t')) {
		p++;
		len--;
	}
	while (len && (p[len - 1] == ' ' || p[len - 1] == '\t'))
		len--;
	if (len != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (tolower((unsigned char)p[i]) != name[i])
			return false;
	}
	return true;
}

static int header_role(const csv_field *f)
{
	static const char *const puzzle[] = { "puzzle", "puzzles", "question", "quiz", "quizzes", "input", "inputs", NULL };
	static const char *const solution[] = { "solution", "solutions", "answer", "answers", "output", "outputs", NULL };
	static const char *const name[] = { "source", "id", "name", NULL };
	static const char *const other[] = { "rating", "difficulty", "level", "clues", "path_length", NULL };
	for (int i = 0; puzzle[i]; i++)
		if (field_is(f, puzzle[i]))
			return 1;
	for (int i = 0; solution[i]; i++)
		if (field_is(f, solution[i]))
			return 2;
	for (int i = 0; name[i]; i++)
		if (field_is(f, name[i]))
			return 3;
	for (int i = 0; other[i]; i++)
		if (field_is(f, other[i]))
			return 4;
	return 0;
}

int trmx__csv_reader_init(csv_reader *r, const trmx_task_codec *codec, void *state, int seq_len, trmx_error *err)
{
	memset(r, 0, sizeof *r);
	r->codec = codec;
	r->state = state;
	r->seq_len = seq_len;
	r->col_puzzle = r->col_solution = r->col_name = -1;
	r->in = trmx_xmalloc(sizeof(int32_t) * (size_t)seq_len);
	r->label = trmx_xmalloc(sizeof(int32_t) * (size_t)seq_len);
	if (!r->in || !r->label) {
		trmx__csv_reader_free(r);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading CSV");
	}
	return 0;
}

void trmx__csv_reader_free(csv_reader *r)
{
	free(r->in);
	free(r->label);
	r->in = r->label = NULL;
}

/* Collects the one example a field holds. */
struct field_sink {
	trmx_task_sink base;
	csv_reader *r;
	int32_t *dst;   /* input or label */
	bool want_label;/* a solution field: take its label when it has one, else its input */
	int got;
};

static int field_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	struct field_sink *fs = (struct field_sink *)sink;
	fs->got++;
	if (fs->got > 1)
		return 0;
	const int32_t *src = fs->want_label && ex->label ? ex->label : ex->input;
	memcpy(fs->dst, src, sizeof(int32_t) * (size_t)fs->r->seq_len);
	return 0;
}

static int csv_encode_field(csv_reader *r, const csv_field *f, const tline *l, const trmx_task_input *in,
			    int32_t *dst, bool solution, const char *what, trmx_error *err)
{
	trmx_task_input sub = TRMX_TASK_INPUT_INIT;
	sub.text = f->p;
	sub.len = f->len;
	sub.source = in->source;
	sub.first_line = l->no;
	sub.first_column = f->col;
	sub.flags = TRMX_TASK_INPUT_FIELD;
	struct field_sink fs = { { field_add, NULL }, r, dst, solution, 0 };
	if (f->len == 0)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, f->col, "empty %s field", what);
	int rc = r->codec->encode(r->state, &sub, &fs.base, err);
	if (rc < 0)
		return rc;
	if (fs.got != 1)
		return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, f->col,
					   "the %s field holds %d puzzles; expected one", what, fs.got);
	for (int i = 0; i < r->seq_len; i++) {
		if (dst[i] < 0 || dst[i] >= r->codec->vocab_size(r->state))
			return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, f->col,
						   "codec %s produced token %d outside its vocabulary", r->codec->name,
						   (int)dst[i]);
	}
	return 0;
}

int trmx__csv_reader_line(csv_reader *r, const tline *l, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	tline bom_less;
	if (!r->started && l->len >= 3 && !memcmp(l->p, "\xEF\xBB\xBF", 3)) {
		/* A UTF-8 byte order mark (Excel's "CSV UTF-8", Notepad) is not part of the first field. */
		bom_less = *l;
		bom_less.p += 3;
		bom_less.len -= 3;
		l = &bom_less;
	}
	if (trmx__tline_blank(l))
		return 0;
	if (!r->sep) {
		/* The first row decides: a tab and no comma is TSV (no puzzle text holds either). */
		bool tab = memchr(l->p, '\t', l->len) != NULL, comma = memchr(l->p, ',', l->len) != NULL;
		r->sep = tab && !comma ? '\t' : ',';
	}
	csv_field f[TRMX_TASK_CSV_FIELDS_MAX];
	int nf = 0, rc;
	if ((rc = csv_split(l, in, r->sep, f, &nf, err)) < 0) {
		csv_fields_free(f, nf);
		return rc;
	}
	if (!r->started) {
		r->started = true;
		r->ncols = nf;
		bool header = true;
		for (int i = 0; i < nf && header; i++)
			header = header_role(&f[i]) != 0;
		if (header) {
			for (int i = 0; i < nf; i++) {
				int role = header_role(&f[i]);
				if (role == 1 && r->col_puzzle < 0)
					r->col_puzzle = i;
				else if (role == 2 && r->col_solution < 0)
					r->col_solution = i;
				else if (role == 3 && r->col_name < 0)
					r->col_name = i;
			}
			csv_fields_free(f, nf);
			if (r->col_puzzle < 0)
				return trmx__task_error_at(
					err, TRMX_EFORMAT, in, l->no, 0,
					"the CSV header names no puzzle column (puzzle, question or quizzes)");
			return 0;
		}
		switch (nf) {
		case 2: /* puzzle,solution */
		case 3: /* puzzle,solution,rating */
			r->col_puzzle = 0;
			r->col_solution = 1;
			break;
		case 4: /* source,question,answer,rating (HRM/TRM) */
			r->col_name = 0;
			r->col_puzzle = 1;
			r->col_solution = 2;
			break;
		default:
			csv_fields_free(f, nf);
			return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, 0,
						   "expected a CSV row puzzle,solution[,rating] or "
						   "source,question,answer,rating; found %d fields",
						   nf);
		}
	}
	if (nf != r->ncols) {
		csv_fields_free(f, nf);
		return trmx__task_error_at(err, TRMX_EFORMAT, in, l->no, 0,
					   "expected %d fields like the first row, found %d", r->ncols, nf);
	}
	rc = csv_encode_field(r, &f[r->col_puzzle], l, in, r->in, false, "puzzle", err);
	if (rc == 0 && r->col_solution >= 0)
		rc = csv_encode_field(r, &f[r->col_solution], l, in, r->label, true, "solution", err);
	if (rc == 0) {
		char *name = NULL;
		if (r->col_name >= 0) {
			const csv_field *nfd = &f[r->col_name];
			name = trmx_xmalloc(nfd->len + 1);
			if (!name) {
				csv_fields_free(f, nf);
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading CSV");
			}
			memcpy(name, nfd->p, nfd->len);
			name[nfd->len] = '\0';
		}
		trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, r->in,
					 r->col_solution >= 0 ? r->label : NULL, TRMX_EXAMPLE_QUERY,
					 r->puzzle++, name, l->no };
		rc = sink->add(sink, &ex, err);
		free(name);
	}
	csv_fields_free(f, nf);
	return rc;
}

int trmx__csv_encode(const trmx_task_codec *codec, void *state, int seq_len, const trmx_task_input *in, trmx_task_sink *sink,
		     trmx_error *err)
{
	csv_reader r;
	int rc = trmx__csv_reader_init(&r, codec, state, seq_len, err);
	if (rc < 0)
		return rc;
	tcursor c;
	tline l;
	trmx__tcursor_init(&c, in);
	while (trmx__tcursor_next(&c, &l, &rc, err)) {
		if ((rc = trmx__csv_reader_line(&r, &l, in, sink, err)) < 0)
			goto done;
	}
	if (rc < 0)
		goto done;
	if (r.puzzle == 0)
		rc = trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "no CSV row holds a puzzle");
done:
	trmx__csv_reader_free(&r);
	return rc;
}

/* ---- ANSI colours -------------------------------------------------------------------------- */

static int cube(uint8_t v)
{
	/* xterm's 6x6x6 cube levels: 0, 95, 135, 175, 215, 255 */
	if (v < 48)
		return 0;
	if (v < 115)
		return 1;
	return (v - 35) / 40;
}

static int xterm256(rgb c)
{
	return 16 + 36 * cube(c.r) + 6 * cube(c.g) + cube(c.b);
}

void trmx__ansi_bg(trmx_buf *b, trmx_color mode, rgb c)
{
	if (mode == TRMX_COLOR_TRUE)
		trmx_buf_printf(b, "\033[48;2;%d;%d;%dm", c.r, c.g, c.b);
	else if (mode == TRMX_COLOR_256)
		trmx_buf_printf(b, "\033[48;5;%dm", xterm256(c));
}

void trmx__ansi_fg(trmx_buf *b, trmx_color mode, rgb c)
{
	if (mode == TRMX_COLOR_TRUE)
		trmx_buf_printf(b, "\033[38;2;%d;%d;%dm", c.r, c.g, c.b);
	else if (mode == TRMX_COLOR_256)
		trmx_buf_printf(b, "\033[38;5;%dm", xterm256(c));
}

void trmx__ansi_bold(trmx_buf *b, trmx_color mode)
{
	if (mode != TRMX_COLOR_NONE)
		trmx_buf_put(b, "\033[1m");
}

void trmx__ansi_reset(trmx_buf *b, trmx_color mode)
{
	if (mode != TRMX_COLOR_NONE)
		trmx_buf_put(b, "\033[0m");
}
