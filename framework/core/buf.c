/*
 * buf.c — the growable text buffer of every layer (core_int.h): appends never fail; an allocation
 * failure (or an injected one) is remembered in `failed` and the text stops growing, so a caller
 * checks once at the end.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

static bool buf_grow(trmx_buf *b, size_t extra)
{
	if (b->failed)
		return false;
	size_t need;
	if (!trmx_add_size(b->n, extra, &need) || !trmx_add_size(need, 1, &need)) {
		b->failed = true;
		return false;
	}
	if (need <= b->cap)
		return true;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < need) {
		if (cap > SIZE_MAX / 2) {
			b->failed = true;
			return false;
		}
		cap *= 2;
	}
	char *s = trmx_xrealloc(b->s, cap);
	if (!s) {
		b->failed = true;
		return false;
	}
	b->s = s;
	b->cap = cap;
	return true;
}

void trmx_buf_putn(trmx_buf *b, const char *s, size_t n)
{
	if (!buf_grow(b, n))
		return;
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = '\0';
}

void trmx_buf_putc(trmx_buf *b, char c)
{
	trmx_buf_putn(b, &c, 1);
}

void trmx_buf_put(trmx_buf *b, const char *s)
{
	trmx_buf_putn(b, s, strlen(s));
}

void trmx_buf_printf(trmx_buf *b, const char *fmt, ...)
{
	char small[256];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(small, sizeof small, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return;
	}
	if ((size_t)n < sizeof small) {
		trmx_buf_putn(b, small, (size_t)n);
		return;
	}
	if (!buf_grow(b, (size_t)n))
		return;
	va_start(ap, fmt);
	vsnprintf(b->s + b->n, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->n += (size_t)n;
}

void trmx_buf_free(trmx_buf *b)
{
	free(b->s);
	b->s = NULL;
	b->n = b->cap = 0;
	b->failed = false;
}

int trmx_buf_export(const trmx_buf *b, char *buf, size_t cap, size_t *len, trmx_error *err)
{
	if (b->failed)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory writing text");
	if (buf && cap > 0) {
		size_t n = b->n < cap - 1 ? b->n : cap - 1;
		if (n)
			memcpy(buf, b->s, n);
		buf[n] = '\0';
	}
	if (len)
		*len = b->n;
	return 0;
}
