/*
 * trmx/types.h — error codes, the per-call error record, dtypes and tensor views.
 *
 * Every fallible public function returns 0 or a negative TRMX_E* code and, when the caller
 * passes a non-NULL `trmx_error *`, writes a message saying what failed and where. The record
 * belongs to the caller (one per call or per thread); the library keeps no global error state.
 *
 * Visibility: the library's objects are compiled with -fvisibility=hidden, and each public header
 * wraps its declarations in `#pragma GCC visibility push(default)` ... `pop`, so libtrmx.so
 * exports exactly the functions declared in these headers and nothing of the internals (a new
 * declaration inside the pair is exported without further marking). tests/cli/install.test
 * checks the exported set against the headers.
 */
#ifndef TRMX_TYPES_H
#define TRMX_TYPES_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* Error codes. Few are specific; everything else is TRMX_ERROR. */
typedef enum trmx_error_code {
	TRMX_OK = 0,
	TRMX_ERROR = -1,      /* generic failure */
	TRMX_ENOMEM = -2,     /* allocation failed */
	TRMX_EINVAL = -3,     /* bad argument or option */
	TRMX_ENOTFOUND = -4,  /* file, tensor, key or module not found */
	TRMX_EFORMAT = -5,    /* malformed input (file layout, JSON, YAML, tokens) */
	TRMX_EVERSION = -6,   /* unsupported version (ABI, format) */
	TRMX_ESHAPE = -7,     /* tensor shape does not match the architecture */
	TRMX_EDTYPE = -8,     /* tensor dtype not usable */
	TRMX_EINTEGRITY = -9, /* digest, size or signature mismatch */
	TRMX_ELIMIT = -10,    /* a named size limit was exceeded */
	TRMX_EIO = -11,       /* read, write, map or rename failed */
	TRMX_ECANCELLED = -12, /* the caller's callback asked to stop */
	TRMX_EEXIST = -13      /* the id is taken by something else (a run id reused for another request) */
} trmx_error_code;

#define TRMX_ERROR_MESSAGE_MAX 512

/* Per-call error record: `code` is the returned code, `message` a full sentence. */
typedef struct trmx_error {
	int code;
	char message[TRMX_ERROR_MESSAGE_MAX];
} trmx_error;

/* Fixed text for a code ("out of memory", ...); never NULL. */
const char *trmx_strerror(int code);

/* Element types of tensors, as safetensors names them. */
typedef enum trmx_dtype {
	TRMX_DTYPE_F32 = 0,
	TRMX_DTYPE_F16,
	TRMX_DTYPE_BF16,
	TRMX_DTYPE_F64,
	TRMX_DTYPE_I8,
	TRMX_DTYPE_U8,
	TRMX_DTYPE_I16,
	TRMX_DTYPE_I32,
	TRMX_DTYPE_I64,
	TRMX_DTYPE_BOOL,
	TRMX_DTYPE_COUNT
} trmx_dtype;

/* Bytes per element of `dtype`; 0 for an unknown value. */
size_t trmx_dtype_size(trmx_dtype dtype);
/* Safetensors name of `dtype` ("F32", "BF16", ...); "?" for an unknown value. */
const char *trmx_dtype_name(trmx_dtype dtype);

#define TRMX_MAX_DIMS 8

/* A borrowed view of a tensor: the data lives as long as the object it came from. */
typedef struct trmx_tensor_view {
	const char *name;
	trmx_dtype dtype;
	int ndim;
	int64_t shape[TRMX_MAX_DIMS];
	const void *data;
	size_t nbytes;
} trmx_tensor_view;

/* Levels of the diagnostics callback (trmx_diag_set in trmx.h; trmx_log_* is the usage log). */
typedef enum trmx_diag_level {
	TRMX_DIAG_ERROR = 0,
	TRMX_DIAG_WARN,
	TRMX_DIAG_INFO,
	TRMX_DIAG_DEBUG
} trmx_diag_level;

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
