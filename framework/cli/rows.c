/*
 * rows.c — bad rows of a batch (`trmx run --batch`) or a data set (`trmx eval`), skipped and
 * counted instead of stopping the whole file at the first one. Codecs and the data set reader
 * stop at the first malformed row and name its line ("line 4, column 18: ..." or "FILE:4:18:
 * ..."); the row is cut out (its line left empty, which every reader skips, so later lines keep
 * their numbers) and the text read again, until it reads.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* Rows skipped at most: past that the file is more wrong than right, and reading it again and
 * again would cost the square of its size. */
#define SKIP_MAX 1000

/* The line a reader's message names: "line N" first, else the first ":N:" (FILE:N:COL). */
static int64_t message_line(const char *m)
{
	for (const char *p = strstr(m, "line "); p; p = strstr(p + 1, "line "))
		if (isdigit((unsigned char)p[5]))
			return strtoll(p + 5, NULL, 10);
	for (const char *p = strchr(m, ':'); p; p = strchr(p + 1, ':')) {
		char *end;
		long long v = strtoll(p + 1, &end, 10);
		if (end > p + 1 && *end == ':' && isdigit((unsigned char)p[1]))
			return v;
	}
	return 0;
}

/* Empty line `line` (1-based) of text[0..*len): its bytes go, its newline stays. */
static bool cut_line(char *text, size_t *len, int64_t line)
{
	size_t at = 0;
	for (int64_t l = 1; l < line; l++) {
		char *nl = memchr(text + at, '\n', *len - at);
		if (!nl)
			return false;
		at = (size_t)(nl - text) + 1;
	}
	char *nl = memchr(text + at, '\n', *len - at);
	size_t end = nl ? (size_t)(nl - text) : *len;
	if (end == at)
		return false; /* already empty: the reader's complaint is not about this row */
	memmove(text + at, text + end, *len - end + 1);
	*len -= end - at;
	return true;
}

int cli_rows_skip(char *text, size_t *len, cli_rows_read_fn read, void *user, struct cli_rows *out, trmx_error *err)
{
	memset(out, 0, sizeof *out);
	int rc;
	while ((rc = read(user, text, *len, err)) < 0) {
		if (rc != TRMX_EFORMAT || out->n >= SKIP_MAX)
			return rc;
		int64_t line = message_line(err->message);
		if (line <= 0 || !cut_line(text, len, line))
			return rc;
		struct cli_row *r = realloc(out->rows, (out->n + 1) * sizeof *r);
		if (!r) {
			err->code = TRMX_ENOMEM;
			snprintf(err->message, sizeof err->message, "out of memory");
			return TRMX_ENOMEM;
		}
		out->rows = r;
		r[out->n].line = line;
		snprintf(r[out->n].message, sizeof r[out->n].message, "%s", err->message);
		out->n++;
	}
	return 0;
}

void cli_rows_report(const char *cmd, const struct cli_rows *s)
{
	if (!s->n)
		return;
	for (size_t i = 0; i < s->n; i++)
		fprintf(stderr, "trmx %s: skipped: %s\n", cmd, s->rows[i].message);
	fprintf(stderr, "trmx %s: skipped %zu bad row%s: line%s", cmd, s->n, s->n == 1 ? "" : "s", s->n == 1 ? "" : "s");
	for (size_t i = 0; i < s->n; i++)
		fprintf(stderr, "%s %lld", i ? "," : "", (long long)s->rows[i].line);
	fprintf(stderr, " (--strict stops at the first)\n");
}

void cli_rows_free(struct cli_rows *s)
{
	free(s->rows);
	memset(s, 0, sizeof *s);
}
