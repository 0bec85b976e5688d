/*
 * yaml_int.h — the one libyaml front end of the library: the manifest's tree builder
 * (manifest.c) and the YAML config reader (config.c) step through a text's events with it, and
 * word libyaml's errors and their own the same way: "source:line:col: key 'a.b': message".
 */
#ifndef TRMX_YAML_INT_H
#define TRMX_YAML_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "core_int.h"

typedef struct trmx_yaml {
	const char *source;   /* the file or member the messages name */
	trmx_error *err;
	yaml_parser_t parser;
	bool ready;
	yaml_event_t ev;      /* the current event, after trmx_yaml_next */
	bool have_ev;
} trmx_yaml;

/* Start reading `text` (len bytes of UTF-8; borrowed until trmx_yaml_end) from its beginning;
 * again on a started reader, from the beginning once more. */
int trmx_yaml_start(trmx_yaml *y, const char *source, const void *text, size_t len, trmx_error *err);
/* The next event into y->ev; libyaml's errors as TRMX_EFORMAT (TRMX_ENOMEM) with their position. */
int trmx_yaml_next(trmx_yaml *y);
/* Free the parser and the current event (a zeroed or ended reader is fine too). */
void trmx_yaml_end(trmx_yaml *y);
/* Set err to "source:line:col: key 'key': message" (line 0: no position; key NULL or "": none)
 * and return code. */
int trmx_yaml_vfail(trmx_error *err, int code, const char *source, size_t line, size_t col, const char *key,
		    const char *fmt, va_list ap);

#endif
