/*
 * yaml.c — the libyaml front end shared by the manifest and the YAML configs (yaml_int.h).
 */
#include <stdio.h>

#include "yaml_int.h"

int trmx_yaml_start(trmx_yaml *y, const char *source, const void *text, size_t len, trmx_error *err)
{
	trmx_yaml_end(y);
	y->source = source;
	y->err = err;
	if (!yaml_parser_initialize(&y->parser))
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", source);
	y->ready = true;
	yaml_parser_set_input_string(&y->parser, text, len);
	yaml_parser_set_encoding(&y->parser, YAML_UTF8_ENCODING);
	return 0;
}

void trmx_yaml_end(trmx_yaml *y)
{
	if (y->have_ev)
		yaml_event_delete(&y->ev);
	if (y->ready)
		yaml_parser_delete(&y->parser);
	y->have_ev = y->ready = false;
}

static int fail(trmx_yaml *y, int code, size_t line, size_t col, const char *fmt, ...) TRMX_PRINTF(5, 6);

static int fail(trmx_yaml *y, int code, size_t line, size_t col, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = trmx_yaml_vfail(y->err, code, y->source, line, col, NULL, fmt, ap);
	va_end(ap);
	return rc;
}

int trmx_yaml_next(trmx_yaml *y)
{
	yaml_parser_t *p = &y->parser;
	if (y->have_ev) {
		yaml_event_delete(&y->ev);
		y->have_ev = false;
	}
	if (yaml_parser_parse(p, &y->ev)) {
		y->have_ev = true;
		return 0;
	}
	if (p->error == YAML_MEMORY_ERROR)
		return trmx_error_set(y->err, TRMX_ENOMEM, "%s: out of memory parsing YAML", y->source);
	if (p->error == YAML_READER_ERROR)
		return trmx_error_set(y->err, TRMX_EFORMAT, "%s: byte offset %zu: malformed YAML: %s", y->source,
				      p->problem_offset, p->problem ? p->problem : "unreadable input");
	if (p->context)
		return fail(y, TRMX_EFORMAT, p->problem_mark.line + 1, p->problem_mark.column + 1,
			    "malformed YAML: %s (%s at line %zu, column %zu)", p->problem ? p->problem : "error",
			    p->context, p->context_mark.line + 1, p->context_mark.column + 1);
	return fail(y, TRMX_EFORMAT, p->problem_mark.line + 1, p->problem_mark.column + 1, "malformed YAML: %s",
		    p->problem ? p->problem : "error");
}

int trmx_yaml_vfail(trmx_error *err, int code, const char *source, size_t line, size_t col, const char *key,
		    const char *fmt, va_list ap)
{
	char msg[TRMX_ERROR_MESSAGE_MAX], where[64] = "";
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (line)
		snprintf(where, sizeof where, ":%zu:%zu", line, col);
	if (key && *key)
		return trmx_error_set(err, code, "%s%s: key '%s': %s", source, where, key, msg);
	return trmx_error_set(err, code, "%s%s: %s", source, where, msg);
}
