/*
 * diag.c — the diagnostics callback (trmx_diag_*; trmx_log_* is the usage log, framework/log/).
 * The library never prints; it hands messages to the callback the embedding program set (the
 * CLI prints warnings and errors to stderr).
 */
#include <stdio.h>

#include "core_int.h"

static trmx_diag_fn diag_fn;
static void *diag_user;

void trmx_diag_set(trmx_diag_fn fn, void *user)
{
	diag_fn = fn;
	diag_user = user;
}

void trmx_diag(trmx_diag_level level, const char *fmt, ...)
{
	if (!diag_fn)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	diag_fn(level, buf, diag_user);
}
