/*
 * core_int.h — helpers shared inside libtrmx: error records, logging, checked arithmetic,
 * small string and file utilities. Not installed; engines and tools inside the tree use it.
 */
#ifndef TRMX_CORE_INT_H
#define TRMX_CORE_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "trmx/trmx.h"

#if defined(__GNUC__)
#define TRMX_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define TRMX_PRINTF(a, b)
#endif

/* Fill `err` (may be NULL) with `code` and a formatted message; returns `code`. */
int trmx_error_set(trmx_error *err, int code, const char *fmt, ...) TRMX_PRINTF(3, 4);
/* Prepend "prefix: " to the message already in `err`; returns err->code (or TRMX_ERROR). */
int trmx_error_prefix(trmx_error *err, const char *fmt, ...) TRMX_PRINTF(2, 3);
/* Clear `err` (code 0, empty message). */
void trmx_error_clear(trmx_error *err);

/* The one rule for the versioned structs of the API (options, records, requests; docs/API.md):
 * versions 1 to `current` are read, a field added at version k only when the struct's version is
 * k or more; 0 (a struct not made with its _INIT macro) or a newer version (a caller built against
 * a newer trmx) is refused with TRMX_EVERSION by trmx_version_refused, naming `what`. */
static inline bool trmx_version_ok(unsigned version, unsigned current)
{
	return version >= 1 && version <= current;
}
int trmx_version_refused(trmx_error *err, const char *what, unsigned version, unsigned current);

/* Send a diagnostic to the callback of trmx_diag_set. */
void trmx_diag(trmx_diag_level level, const char *fmt, ...) TRMX_PRINTF(2, 3);

/* Checked arithmetic: false on overflow. */
static inline bool trmx_mul_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_mul_overflow(a, b, out);
}
static inline bool trmx_add_size(size_t a, size_t b, size_t *out)
{
	return !__builtin_add_overflow(a, b, out);
}

/* Number of elements of a shape, false on overflow or a negative dim. */
bool trmx_shape_numel(int ndim, const int64_t *shape, size_t *out);

/* Strict number parsing of a whole string: false on garbage, overflow or an empty string. */
bool trmx_parse_long(const char *s, long *out);
bool trmx_parse_double(const char *s, double *out);
/* "true"/"false" (also True/False, yes/no, 1/0). */
bool trmx_parse_bool(const char *s, bool *out);

/* Typed settings, the one reading of a configured number or flag: `v` is the text of setting
 * `key` (NULL when it is absent: `def`, or an error when `required`), parsed strictly and
 * range-checked (lo <= x <= hi); messages read "<where>: '<key>' must be an integer, not 'v'". */
int trmx_setting_long(const char *where, const char *key, const char *v, bool required, long def, long lo, long hi,
		      long *out, trmx_error *err);
int trmx_setting_double(const char *where, const char *key, const char *v, bool required, double def, double lo,
			double hi, double *out, trmx_error *err);
int trmx_setting_bool(const char *where, const char *key, const char *v, bool def, bool *out, trmx_error *err);

/* Is `s` (length n) valid UTF-8 (no overlongs, no surrogates)? */
bool trmx_utf8_valid(const char *s, size_t n);

/* Convert n elements of F32/BF16/F16/F64 at `src` (any alignment) to float32; false for other dtypes. */
bool trmx_to_f32(float *dst, const void *src, trmx_dtype dtype, size_t n);

/* Write `len` bytes to `path` atomically: a temporary file in the same folder, fsync, rename;
 * the file gets mode 0644, or `mode` (0600 for a private one, never readable on the way). */
int trmx_write_file_atomic(const char *path, const void *data, size_t len, trmx_error *err);
int trmx_write_file_atomic_mode(const char *path, const void *data, size_t len, mode_t mode, trmx_error *err);

/* ---- Fault injection (tests only) ------------------------------------------------------------
 * A test arms a kind with N: the Nth check of that kind from then on fails (and only that one).
 * Production code never arms anything; a check then costs one load and one branch. Not
 * thread-safe: tests arm faults in one thread. */
typedef enum trmx_fault_kind {
	TRMX_FAULT_ALLOC = 0, /* an allocation of the registry, log or host */
	TRMX_FAULT_WRITE,     /* a file-system change: mkdir, write, rename, chmod, unlink, fsync */
	TRMX_FAULT_SQL,       /* an SQLite statement step or exec */
	TRMX_FAULT_SELFTEST,  /* one example of an install's self-test */
	TRMX_FAULT_KINDS
} trmx_fault_kind;

void trmx_fault_arm(trmx_fault_kind kind, long nth);
void trmx_fault_disarm(void);
/* Checks of `kind` seen since it was armed. */
long trmx_fault_seen(trmx_fault_kind kind);
/* Count a check; true when this one must fail. */
bool trmx_fault_hit(trmx_fault_kind kind);

/* Allocation through the fault hook. */
void *trmx_xmalloc(size_t n);
void *trmx_xcalloc(size_t n, size_t size);
void *trmx_xrealloc(void *p, size_t n);
char *trmx_xstrdup(const char *s);
char *trmx_xstrndup(const char *s, size_t n);
/* asprintf through the fault hook; NULL on failure. */
char *trmx_xasprintf(const char *fmt, ...) TRMX_PRINTF(1, 2);

/* Flags of trmx_read_file. */
#define TRMX_READ_NOFOLLOW 1u /* a symbolic link is refused */
#define TRMX_READ_PRIVATE 2u  /* refused when its group or others may access the file */
/* The whole of the regular file `path`, at most `max` bytes (`what` names that limit in the
 * message, or NULL), into a fresh NUL-terminated buffer; TRMX_ENOTFOUND when it is missing. A
 * file that shrinks while read yields what is there. */
int trmx_read_file(const char *path, size_t max, const char *what, unsigned flags, char **out, size_t *len,
		   trmx_error *err);

/* fsync the folder `dir` (a rename or a new entry in it made durable); a TRMX_FAULT_WRITE check. */
int trmx_fsync_dir(const char *dir, trmx_error *err);

/* ---- A growable text buffer (buf.c) ------------------------------------------------------------
 * Appends never fail: an allocation failure is remembered in `failed` (the text is cut there), so
 * the caller checks once. `s` is NUL-terminated once anything was appended; free with
 * trmx_buf_free. Zero-initialise: trmx_buf b = { 0 }. */
typedef struct trmx_buf {
	char *s;
	size_t n, cap;
	bool failed;
} trmx_buf;

void trmx_buf_putn(trmx_buf *b, const char *s, size_t n);
void trmx_buf_put(trmx_buf *b, const char *s);
void trmx_buf_putc(trmx_buf *b, char c);
void trmx_buf_printf(trmx_buf *b, const char *fmt, ...) TRMX_PRINTF(2, 3);
void trmx_buf_free(trmx_buf *b);
/* Copy into (buf, cap) like snprintf and set *len; TRMX_ENOMEM when the buffer ran out of memory. */
int trmx_buf_export(const trmx_buf *b, char *buf, size_t cap, size_t *len, trmx_error *err);

#endif
