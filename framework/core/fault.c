/*
 * fault.c — the fault injection the tests arm (core_int.h) and the allocations that go through
 * it: one place for every layer (core, tasks, packager, log, registry, host), so that a test can
 * make the Nth allocation or file-system change of any of them fail.
 */
#define _GNU_SOURCE /* vasprintf */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h"

/* ---- Fault injection ------------------------------------------------------------------------- */

static long fault_nth[TRMX_FAULT_KINDS];
static long fault_seen[TRMX_FAULT_KINDS];
static bool fault_on;

void trmx_fault_arm(trmx_fault_kind kind, long nth)
{
	fault_nth[kind] = nth;
	fault_seen[kind] = 0;
	fault_on = false;
	for (int k = 0; k < TRMX_FAULT_KINDS; k++)
		fault_on |= fault_nth[k] > 0;
}

void trmx_fault_disarm(void)
{
	memset(fault_nth, 0, sizeof fault_nth);
	memset(fault_seen, 0, sizeof fault_seen);
	fault_on = false;
}

long trmx_fault_seen(trmx_fault_kind kind)
{
	return fault_seen[kind];
}

bool trmx_fault_hit(trmx_fault_kind kind)
{
	if (!fault_on || fault_nth[kind] <= 0)
		return false;
	return ++fault_seen[kind] == fault_nth[kind];
}

void *trmx_xmalloc(size_t n)
{
	return trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : malloc(n ? n : 1);
}

void *trmx_xcalloc(size_t n, size_t size)
{
	return trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : calloc(n ? n : 1, size ? size : 1);
}

void *trmx_xrealloc(void *p, size_t n)
{
	return trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(p, n ? n : 1);
}

char *trmx_xstrdup(const char *s)
{
	return !s || trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : strdup(s);
}

char *trmx_xstrndup(const char *s, size_t n)
{
	return !s || trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : strndup(s, n);
}

char *trmx_xasprintf(const char *fmt, ...)
{
	if (trmx_fault_hit(TRMX_FAULT_ALLOC))
		return NULL;
	va_list ap;
	va_start(ap, fmt);
	char *s = NULL;
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	return n < 0 ? NULL : s;
}

