/*
 * tokens.c — the `tokens` codec: raw token ids, for models whose task has no codec of its own and
 * for data already encoded (.npy, through trmx_dataset_load_npy).
 *
 * Parameters: seq_len (required), vocab_size (default 65536), cols (the width `render` and the
 * GRID style use; default: the square root of seq_len when it is a square, else seq_len).
 * Text: examples of seq_len decimal ids split by spaces, tabs, commas or line ends (one example
 * per line, or the GRID style's rows); a '|' after the input ids starts seq_len more, the label.
 * Decoding writes ids split by single spaces, on one line or in rows of `cols`.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

struct tokens {
	int seq_len, vocab, cols;
};

static int tokens_open(void **state, const trmx_task_param *p, size_t np, trmx_error *err)
{
	static const char *const known[] = { "seq_len", "vocab_size", "cols", NULL };
	long seq, vocab, cols;
	int rc;
	if ((rc = trmx__params_check(p, np, known, "tokens", err)) < 0)
		return rc;
	if (!trmx__param_get(p, np, "seq_len"))
		return trmx_error_set(err, TRMX_EINVAL, "tokens: the parameter seq_len is required");
	if ((rc = trmx__param_int(p, np, "seq_len", 1, TRMX_TOKENS_SEQ_MAX, 0, "tokens", "TRMX_TOKENS_SEQ_MAX", &seq, err)) <
		    0 ||
	    (rc = trmx__param_int(p, np, "vocab_size", 2, TRMX_TOKENS_VOCAB_MAX, TRMX_TOKENS_VOCAB_MAX, "tokens",
				  "TRMX_TOKENS_VOCAB_MAX", &vocab, err)) < 0)
		return rc;
	long def = seq;
	for (long k = 1; k * k <= seq; k++)
		if (k * k == seq)
			def = k;
	if ((rc = trmx__param_int(p, np, "cols", 1, seq, def, "tokens", NULL, &cols, err)) < 0)
		return rc;
	struct tokens *t = trmx_xcalloc(1, sizeof *t);
	if (!t)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory opening tokens");
	t->seq_len = (int)seq;
	t->vocab = (int)vocab;
	t->cols = (int)cols;
	*state = t;
	return 0;
}

static void tokens_close(void *state)
{
	free(state);
}

static int tokens_seq_len(const void *state)
{
	return ((const struct tokens *)state)->seq_len;
}

static int tokens_vocab(const void *state)
{
	return ((const struct tokens *)state)->vocab;
}

/* Ids are read across lines: an example ends when it holds seq_len ids at the end of a line
 * (so the GRID style, one row of `cols` ids per line, reads back); a '|' after the input starts
 * the label. A blank line or the end of the text inside an example is an error. */
static int tokens_encode(void *state, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	struct tokens *t = state;
	int32_t *buf = trmx_xmalloc(sizeof(int32_t) * 2 * (size_t)t->seq_len);
	if (!buf)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading tokens");
	tcursor cur;
	tline l;
	trmx__tcursor_init(&cur, in);
	int rc = 0, n = 0;
	bool label = false;
	int64_t examples = 0, start = 0;
	for (;;) {
		bool more = trmx__tcursor_next(&cur, &l, &rc, err);
		if (rc < 0)
			goto done;
		if (!more || trmx__tline_blank(&l)) {
			if (n > 0 || label) {
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, start, 0,
							 "expected %d token ids%s, found %d", t->seq_len,
							 label ? " in the label" : "", n);
				goto done;
			}
			if (!more)
				break;
			continue;
		}
		if (n == 0 && !label)
			start = l.no;
		for (size_t k = 0; k < l.len;) {
			char c = l.p[k];
			int col = l.col0 + (int)k;
			if (c == ' ' || c == '\t' || c == ',') {
				k++;
				continue;
			}
			if (c == '|') {
				if (label || n != t->seq_len) {
					rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, col,
								 label ? "a second '|' after the label"
								       : "'|' must follow all %d input ids",
								 t->seq_len);
					goto done;
				}
				label = true;
				n = 0;
				k++;
				continue;
			}
			if (c < '0' || c > '9') {
				char cb[16];
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, col, "expected a token id, found %s",
							 trmx__task_char_name(c, cb));
				goto done;
			}
			long v = 0;
			while (k < l.len && l.p[k] >= '0' && l.p[k] <= '9') {
				if (v < TRMX_TOKENS_VOCAB_MAX)
					v = v * 10 + (l.p[k] - '0');
				k++;
			}
			if (v >= t->vocab) {
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, col,
							 "token %s%ld is outside the vocabulary [0, %d)",
							 v >= TRMX_TOKENS_VOCAB_MAX ? ">=" : "", v, t->vocab);
				goto done;
			}
			if (n == t->seq_len) {
				rc = trmx__task_error_at(err, TRMX_EFORMAT, in, l.no, col,
							 "expected %d token ids, found more", t->seq_len);
				goto done;
			}
			buf[(label ? t->seq_len : 0) + n++] = (int32_t)v;
		}
		if (n == t->seq_len) {
			/* The input may still get a label from a '|' on a later line only if this line ends in '|'. */
			trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, buf, label ? buf + t->seq_len : NULL,
						 TRMX_EXAMPLE_QUERY, examples++, NULL, start };
			if ((rc = sink->add(sink, &ex, err)) < 0)
				goto done;
			n = 0;
			label = false;
		}
	}
	if (examples == 0)
		rc = trmx__task_error_at(err, TRMX_EFORMAT, in, 0, 0, "no token ids in the input (empty)");
done:
	free(buf);
	return rc;
}

static int tokens_decode(void *state, const int32_t *tokens, trmx_text_style style, char *buf, size_t cap,
			 size_t *len, trmx_error *err)
{
	struct tokens *t = state;
	trmx_buf b = { 0 };
	for (int i = 0; i < t->seq_len; i++) {
		if (tokens[i] < 0 || tokens[i] >= t->vocab) {
			trmx_buf_free(&b);
			return trmx_error_set(err, TRMX_EFORMAT, "token %d at position %d is outside the vocabulary [0, %d)",
					      (int)tokens[i], i, t->vocab);
		}
		bool eol = style == TRMX_TEXT_GRID && (i + 1) % t->cols == 0;
		trmx_buf_printf(&b, "%d%s", (int)tokens[i], eol ? "\n" : i + 1 < t->seq_len ? " " : "");
	}
	if (style == TRMX_TEXT_GRID && t->seq_len % t->cols)
		trmx_buf_putc(&b, '\n');
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

static int tokens_check(void *state, const int32_t *puzzle, const int32_t *answer, const int32_t *expected,
			trmx_check *out, trmx_error *err)
{
	struct tokens *t = state;
	(void)puzzle;
	(void)err;
	if (!expected) {
		snprintf(out->message, sizeof out->message, "unknown: no expected tokens to compare with");
		return 0;
	}
	for (int i = 0; i < t->seq_len; i++) {
		if (answer[i] == expected[i])
			continue;
		if (out->ncells < TRMX_CHECK_CELLS_MAX)
			out->cells[out->ncells++] = i;
		out->ncells_total++;
	}
	if (out->ncells_total) {
		out->verdict = TRMX_VERDICT_INVALID;
		out->problem = TRMX_CHECK_MISMATCH;
		snprintf(out->message, sizeof out->message, "%d of %d tokens differ (first at position %d)",
			 out->ncells_total, t->seq_len, out->cells[0]);
	} else {
		out->verdict = TRMX_VERDICT_VALID;
		snprintf(out->message, sizeof out->message, "valid: all %d tokens match", t->seq_len);
	}
	return 0;
}

static int tokens_render(void *state, const int32_t *tokens, const trmx_render_options *o, char *buf,
			 size_t cap, size_t *len, trmx_error *err)
{
	struct tokens *t = state;
	int width = snprintf(NULL, 0, "%d", t->vocab - 1);
	const rgb hl = { 255, 215, 0 }, black = { 0, 0, 0 };
	trmx_buf b = { 0 };
	for (int i = 0; i < t->seq_len; i++) {
		bool hi = o->highlight && o->highlight[i];
		if (o->color == TRMX_COLOR_NONE) {
			trmx_buf_printf(&b, "%c%*d", hi ? '*' : ' ', width, (int)tokens[i]);
		} else {
			trmx_buf_putc(&b, ' ');
			if (hi) {
				trmx__ansi_bg(&b, o->color, hl);
				trmx__ansi_fg(&b, o->color, black);
			}
			trmx_buf_printf(&b, "%*d", width, (int)tokens[i]);
			trmx__ansi_reset(&b, o->color);
		}
		if ((i + 1) % t->cols == 0 || i + 1 == t->seq_len)
			trmx_buf_putc(&b, '\n');
	}
	int rc = trmx_buf_export(&b, buf, cap, len, err);
	trmx_buf_free(&b);
	return rc;
}

const trmx_task_codec trmx_task_codec_tokens = {
	.abi_version = TRMX_TASK_ABI_VERSION,
	.struct_size = sizeof(trmx_task_codec),
	.name = "tokens",
	.description = "raw token ids (seq_len=N, vocab_size=V)",
	.flags = 0,
	.open = tokens_open,
	.close = tokens_close,
	.seq_len = tokens_seq_len,
	.vocab_size = tokens_vocab,
	.encode = tokens_encode,
	.decode = tokens_decode,
	.check = tokens_check,
	.render = tokens_render,
};
