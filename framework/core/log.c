/*
 * log.c — the diagnostics callback. The library never prints; it hands messages to the callback
 * the embedding program set (the CLI prints warnings and errors to stderr).
 */
#include <stdio.h>

#include "core_int.h"

static trmx_log_fn log_fn;
static void *log_user;

void trmx_log_set(trmx_log_fn fn, void *user)
{
	log_fn = fn;
	log_user = user;
}

void trmx_log(trmx_log_level level, const char *fmt, ...)
{
	if (!log_fn)
		return;
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	log_fn(level, buf, log_user);
}
