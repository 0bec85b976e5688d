/*
 * error.c — the library's version, per-call error records, fixed texts for the codes, and small
 * parsing helpers.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

const char *trmx_version(void)
{
	return TRMX_VERSION;
}

const char *trmx_strerror(int code)
{
	switch (code) {
	case TRMX_OK: return "success";
	case TRMX_ERROR: return "failure";
	case TRMX_ENOMEM: return "out of memory";
	case TRMX_EINVAL: return "invalid argument";
	case TRMX_ENOTFOUND: return "not found";
	case TRMX_EFORMAT: return "malformed input";
	case TRMX_EVERSION: return "unsupported version";
	case TRMX_ESHAPE: return "shape mismatch";
	case TRMX_EDTYPE: return "unsupported dtype";
	case TRMX_EINTEGRITY: return "integrity check failed";
	case TRMX_ELIMIT: return "size limit exceeded";
	case TRMX_EIO: return "input/output error";
	case TRMX_ECANCELLED: return "cancelled";
	case TRMX_EEXIST: return "already exists";
	default: return "unknown error";
	}
}

int trmx_error_set(trmx_error *err, int code, const char *fmt, ...)
{
	if (err) {
		va_list ap;
		va_start(ap, fmt);
		err->code = code;
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

int trmx_error_prefix(trmx_error *err, const char *fmt, ...)
{
	if (!err)
		return TRMX_ERROR;
	char old[TRMX_ERROR_MESSAGE_MAX];
	memcpy(old, err->message, sizeof old);
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	if (n >= 0 && (size_t)n + 2 < sizeof err->message) {
		size_t used = (size_t)n;
		err->message[used++] = ':';
		err->message[used++] = ' ';
		size_t room = sizeof err->message - used - 1;
		size_t len = strnlen(old, room);
		memcpy(err->message + used, old, len);
		err->message[used + len] = '\0';
	}
	return err->code ? err->code : TRMX_ERROR;
}

void trmx_error_clear(trmx_error *err)
{
	if (err) {
		err->code = 0;
		err->message[0] = '\0';
	}
}

static const char *const dtype_names[TRMX_DTYPE_COUNT] = {
	[TRMX_DTYPE_F32] = "F32", [TRMX_DTYPE_F16] = "F16", [TRMX_DTYPE_BF16] = "BF16",
	[TRMX_DTYPE_F64] = "F64", [TRMX_DTYPE_I8] = "I8",   [TRMX_DTYPE_U8] = "U8",
	[TRMX_DTYPE_I16] = "I16", [TRMX_DTYPE_I32] = "I32", [TRMX_DTYPE_I64] = "I64",
	[TRMX_DTYPE_BOOL] = "BOOL",
};
static const size_t dtype_sizes[TRMX_DTYPE_COUNT] = {
	[TRMX_DTYPE_F32] = 4, [TRMX_DTYPE_F16] = 2, [TRMX_DTYPE_BF16] = 2, [TRMX_DTYPE_F64] = 8,
	[TRMX_DTYPE_I8] = 1,  [TRMX_DTYPE_U8] = 1,  [TRMX_DTYPE_I16] = 2,  [TRMX_DTYPE_I32] = 4,
	[TRMX_DTYPE_I64] = 8, [TRMX_DTYPE_BOOL] = 1,
};

size_t trmx_dtype_size(trmx_dtype dtype)
{
	return (unsigned)dtype < TRMX_DTYPE_COUNT ? dtype_sizes[dtype] : 0;
}

const char *trmx_dtype_name(trmx_dtype dtype)
{
	return (unsigned)dtype < TRMX_DTYPE_COUNT ? dtype_names[dtype] : "?";
}

bool trmx_shape_numel(int ndim, const int64_t *shape, size_t *out)
{
	size_t n = 1;
	for (int i = 0; i < ndim; i++) {
		if (shape[i] < 0 || !trmx_mul_size(n, (size_t)shape[i], &n))
			return false;
	}
	*out = n;
	return true;
}

bool trmx_parse_long(const char *s, long *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno || *end != '\0')
		return false;
	*out = v;
	return true;
}

bool trmx_parse_double(const char *s, double *out)
{
	if (!s || !*s)
		return false;
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno || *end != '\0' || !isfinite(v))
		return false;
	*out = v;
	return true;
}

bool trmx_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = { "true", "True", "TRUE", "yes", "1" };
	static const char *const no[] = { "false", "False", "FALSE", "no", "0" };
	if (!s)
		return false;
	for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
		if (!strcmp(s, yes[i])) {
			*out = true;
			return true;
		}
		if (!strcmp(s, no[i])) {
			*out = false;
			return true;
		}
	}
	return false;
}

bool trmx_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;
	while (i < n) {
		unsigned c = s[i];
		size_t len;
		uint32_t cp, min;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xE0) == 0xC0) {
			len = 2, cp = c & 0x1F, min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			len = 3, cp = c & 0x0F, min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			len = 4, cp = c & 0x07, min = 0x10000;
		} else {
			return false;
		}
		if (n - i < len)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + k] & 0x3F);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += len;
	}
	return true;
}

int trmx_version_refused(trmx_error *err, const char *what, unsigned version, unsigned current)
{
	return trmx_error_set(err, TRMX_EVERSION, "%s version %u: this trmx reads versions 1 to %u%s", what, version, current,
			      version == 0 ? " (make the struct with its _INIT macro)" : " (built against a newer trmx?)");
}
