/*
 * npy.c — NumPy .npy arrays: read versions 1.0 to 3.0, write version 1.0 as numpy.save does.
 *
 * Layout: "\x93NUMPY", major and minor version bytes, a little-endian header length (u16 for
 * 1.0, u32 for 2.0 and 3.0), the header — a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and ended by a
 * newline (latin-1 for 1.0/2.0, UTF-8 for 3.0) — then the raw C-order payload.
 *
 * The file is untrusted: the header length, the shape and the payload size are checked against
 * limits.h and the file size before anything is allocated. The header is read by a small parser
 * of exactly that dict grammar (string keys; string, bool and int-tuple values), not by a general
 * Python-literal evaluator. Little-endian hosts only, like the rest of trmx.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_int.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "npy.c reads and writes little-endian payloads without swapping");

static const char npy_magic[6] = { '\x93', 'N', 'U', 'M', 'P', 'Y' };

/* numpy's ARRAY_ALIGN (data starts at a multiple of it) and GROWTH_AXIS_MAX_DIGITS (spare
 * spaces numpy >= 1.23 leaves so the first axis can grow in place). Writing them the same way
 * makes our files byte-identical to numpy.save's. */
#define NPY_ALIGN 64
#define NPY_GROWTH_DIGITS 21

/* descr type codes (after the byte-order character) and their dtypes. */
static const struct {
	const char *code;
	trmx_dtype dtype;
} npy_types[] = {
	{ "f4", TRMX_DTYPE_F32 }, { "f8", TRMX_DTYPE_F64 }, { "f2", TRMX_DTYPE_F16 },
	{ "i1", TRMX_DTYPE_I8 },  { "u1", TRMX_DTYPE_U8 },  { "i2", TRMX_DTYPE_I16 },
	{ "i4", TRMX_DTYPE_I32 }, { "i8", TRMX_DTYPE_I64 }, { "b1", TRMX_DTYPE_BOOL },
};

/* What the header says. */
struct npy_header {
	char descr[32];
	bool has_descr, has_fortran, has_shape;
	bool fortran_order;
	int ndim;
	int64_t shape[TRMX_MAX_DIMS];
};

/* Parser state: the header text and where it starts in the file (for messages). */
struct hparse {
	const char *path;
	const char *s;
	size_t n, i, base;
	trmx_error *err;
};

static int hp_fail(struct hparse *h, int code, const char *what)
{
	return trmx_error_set(h->err, code, "%s: header, byte %zu of the file: %s", h->path,
			      h->base + h->i, what);
}

static void hp_ws(struct hparse *h)
{
	while (h->i < h->n && (h->s[h->i] == ' ' || h->s[h->i] == '\t' || h->s[h->i] == '\n' ||
			       h->s[h->i] == '\r'))
		h->i++;
}

static bool hp_eat(struct hparse *h, char c)
{
	hp_ws(h);
	if (h->i < h->n && h->s[h->i] == c) {
		h->i++;
		return true;
	}
	return false;
}

/* A quoted Python string without escapes ('...' or "..."), into buf (NUL-terminated). */
static int hp_string(struct hparse *h, char *buf, size_t len)
{
	size_t k = 0;
	char q;
	hp_ws(h);
	if (h->i >= h->n || (h->s[h->i] != '\'' && h->s[h->i] != '"'))
		return hp_fail(h, TRMX_EFORMAT, "expected a quoted string");
	q = h->s[h->i++];
	while (h->i < h->n && h->s[h->i] != q) {
		char c = h->s[h->i];
		if (c == '\\' || c == '\n' || c == '\0')
			return hp_fail(h, TRMX_EFORMAT, "unsupported character in a string");
		if (k + 1 >= len)
			return hp_fail(h, TRMX_EFORMAT, "string too long");
		buf[k++] = c;
		h->i++;
	}
	if (h->i >= h->n)
		return hp_fail(h, TRMX_EFORMAT, "unterminated string");
	h->i++;
	buf[k] = '\0';
	return 0;
}

static int hp_bool(struct hparse *h, bool *out)
{
	hp_ws(h);
	if (h->n - h->i >= 4 && !memcmp(h->s + h->i, "True", 4)) {
		h->i += 4;
		*out = true;
		return 0;
	}
	if (h->n - h->i >= 5 && !memcmp(h->s + h->i, "False", 5)) {
		h->i += 5;
		*out = false;
		return 0;
	}
	return hp_fail(h, TRMX_EFORMAT, "fortran_order is not True or False");
}

/* A non-negative Python int (an "L" suffix from Python 2 allowed). */
static int hp_int(struct hparse *h, int64_t *out)
{
	int64_t v = 0;
	size_t start;
	hp_ws(h);
	if (h->i < h->n && h->s[h->i] == '-')
		return hp_fail(h, TRMX_EFORMAT, "negative dimension in shape");
	start = h->i;
	while (h->i < h->n && h->s[h->i] >= '0' && h->s[h->i] <= '9') {
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, h->s[h->i] - '0', &v))
			return hp_fail(h, TRMX_EFORMAT, "dimension in shape too large");
		h->i++;
	}
	if (h->i == start)
		return hp_fail(h, TRMX_EFORMAT, "expected an integer in shape");
	if (h->i < h->n && h->s[h->i] == 'L')
		h->i++;
	*out = v;
	return 0;
}

/* A tuple of ints: (), (3,), (2, 3) or (2, 3,). "(3)" is an int in Python, not a shape. */
static int hp_shape(struct hparse *h, struct npy_header *hd)
{
	int rc;
	if (!hp_eat(h, '('))
		return hp_fail(h, TRMX_EFORMAT, "shape is not a tuple");
	hd->ndim = 0;
	if (hp_eat(h, ')'))
		return 0;
	for (;;) {
		int64_t d = 0;
		if ((rc = hp_int(h, &d)) < 0)
			return rc;
		if (hd->ndim == TRMX_MAX_DIMS)
			return hp_fail(h, TRMX_ELIMIT, "shape has more dims than TRMX_MAX_DIMS (8)");
		hd->shape[hd->ndim++] = d;
		if (hp_eat(h, ',')) {
			if (hp_eat(h, ')'))
				return 0;
			continue;
		}
		if (hp_eat(h, ')')) {
			if (hd->ndim == 1)
				return hp_fail(h, TRMX_EFORMAT,
					       "shape (n) is not a tuple (a 1-d shape is written (n,))");
			return 0;
		}
		return hp_fail(h, TRMX_EFORMAT, "expected ',' or ')' in shape");
	}
}

static int parse_dict(struct hparse *h, struct npy_header *hd)
{
	char key[32];
	int rc;

	if (!hp_eat(h, '{'))
		return hp_fail(h, TRMX_EFORMAT, "header is not a dict (expected '{')");
	while (!hp_eat(h, '}')) {
		if ((rc = hp_string(h, key, sizeof key)) < 0)
			return rc;
		if (!hp_eat(h, ':'))
			return hp_fail(h, TRMX_EFORMAT, "expected ':' after a key");
		if (!strcmp(key, "descr")) {
			if (hd->has_descr)
				return hp_fail(h, TRMX_EFORMAT, "duplicate key 'descr'");
			hp_ws(h);
			if (h->i < h->n && h->s[h->i] == '[')
				return hp_fail(h, TRMX_EDTYPE,
					       "structured dtypes (a list descr) are not supported");
			if ((rc = hp_string(h, hd->descr, sizeof hd->descr)) < 0)
				return rc;
			hd->has_descr = true;
		} else if (!strcmp(key, "fortran_order")) {
			if (hd->has_fortran)
				return hp_fail(h, TRMX_EFORMAT, "duplicate key 'fortran_order'");
			if ((rc = hp_bool(h, &hd->fortran_order)) < 0)
				return rc;
			hd->has_fortran = true;
		} else if (!strcmp(key, "shape")) {
			if (hd->has_shape)
				return hp_fail(h, TRMX_EFORMAT, "duplicate key 'shape'");
			if ((rc = hp_shape(h, hd)) < 0)
				return rc;
			hd->has_shape = true;
		} else {
			return hp_fail(h, TRMX_EFORMAT, "unexpected key (only 'descr', "
							"'fortran_order' and 'shape' are allowed)");
		}
		if (hp_eat(h, ','))
			continue;
		if (hp_eat(h, '}'))
			break;
		return hp_fail(h, TRMX_EFORMAT, "expected ',' or '}'");
	}
	hp_ws(h);
	if (h->i != h->n)
		return hp_fail(h, TRMX_EFORMAT, "unexpected text after the dict");
	if (!hd->has_descr || !hd->has_fortran || !hd->has_shape)
		return trmx_error_set(h->err, TRMX_EFORMAT, "%s: header lacks '%s'", h->path,
				      !hd->has_descr ? "descr" : !hd->has_fortran ? "fortran_order"
									 : "shape");
	return 0;
}

/* Map descr ("<f4", "|u1") to a dtype. Byte order matters only for multi-byte types. */
static int descr_dtype(const char *path, const char *descr, trmx_dtype *out, trmx_error *err)
{
	char order = descr[0];
	bool printable = true;
	for (const char *p = descr; *p; p++)
		printable = printable && *p >= 0x20 && *p < 0x7f;
	if (!printable)
		descr = "(non-ASCII)";
	if (order != '<' && order != '>' && order != '|' && order != '=')
		return trmx_error_set(err, TRMX_EDTYPE, "%s: dtype '%s' not supported", path, descr);
	for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++) {
		if (strcmp(descr + 1, npy_types[i].code))
			continue;
		if (trmx_dtype_size(npy_types[i].dtype) > 1 && order == '>')
			return trmx_error_set(err, TRMX_EDTYPE,
					      "%s: big-endian dtype '%s' not supported", path, descr);
		if (trmx_dtype_size(npy_types[i].dtype) > 1 && order == '|')
			return trmx_error_set(err, TRMX_EDTYPE,
					      "%s: dtype '%s' has no byte order", path, descr);
		*out = npy_types[i].dtype;
		return 0;
	}
	if (descr[1] == 'O' || descr[1] == 'V')
		return trmx_error_set(err, TRMX_EDTYPE,
				      "%s: object and void arrays ('%s') are not supported", path, descr);
	return trmx_error_set(err, TRMX_EDTYPE, "%s: dtype '%s' not supported", path, descr);
}

/* pread all of [off, off+len) or fail. */
static int read_at(int fd, void *buf, size_t len, off_t off, const char *path, trmx_error *err)
{
	char *p = buf;
	while (len > 0) {
		ssize_t n = pread(fd, p, len, off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return trmx_error_set(err, TRMX_EIO, "%s: cannot read: %s", path, strerror(errno));
		if (n == 0)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: truncated (file shrank while read)",
					      path);
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Read a .npy file; see trmx.h. */
int trmx_array_read_npy(trmx_array **out, const char *path, trmx_error *err)
{
	unsigned char pre[12];
	struct npy_header hd = { 0 };
	struct hparse h = { 0 };
	trmx_array *a = NULL;
	char *hdr = NULL;
	size_t fsize, prelen, hlen, numel, nbytes;
	struct stat st;
	trmx_dtype dtype = TRMX_DTYPE_F32;
	int fd = -1, rc = 0;

	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_array_read_npy: NULL argument");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO,
				    "%s: cannot open: %s", path, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: not a readable regular file", path);
		goto done;
	}
	fsize = (size_t)st.st_size;
	if (fsize < 10) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: truncated: %zu bytes, shorter than the 10-byte preamble",
				    path, fsize);
		goto done;
	}
	if ((rc = read_at(fd, pre, 10, 0, path, err)) < 0)
		goto done;
	if (memcmp(pre, npy_magic, sizeof npy_magic)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not a .npy file (bad magic)", path);
		goto done;
	}
	if (pre[6] < 1 || pre[6] > 3 || pre[7] != 0) {
		rc = trmx_error_set(err, TRMX_EVERSION, "%s: .npy format version %u.%u not supported",
				    path, pre[6], pre[7]);
		goto done;
	}
	if (pre[6] == 1) {
		prelen = 10;
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
	} else {
		prelen = 12;
		if (fsize < prelen) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    "%s: truncated: %zu bytes, shorter than the 12-byte preamble",
					    path, fsize);
			goto done;
		}
		if ((rc = read_at(fd, pre + 10, 2, 10, path, err)) < 0)
			goto done;
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8 | (size_t)pre[10] << 16 |
		       (size_t)pre[11] << 24;
	}
	if (hlen > TRMX_NPY_HEADER_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "%s: header of %zu bytes, more than TRMX_NPY_HEADER_MAX (%d)", path,
				    hlen, TRMX_NPY_HEADER_MAX);
		goto done;
	}
	if (hlen > fsize - prelen) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: truncated header: it declares %zu bytes but only %zu follow",
				    path, hlen, fsize - prelen);
		goto done;
	}
	if (!(hdr = trmx_xmalloc(hlen + 1))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	if ((rc = read_at(fd, hdr, hlen, (off_t)prelen, path, err)) < 0)
		goto done;
	hdr[hlen] = '\0';
	if (pre[6] == 3 && !trmx_utf8_valid(hdr, hlen)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: version 3.0 header is not valid UTF-8",
				    path);
		goto done;
	}
	h.path = path;
	h.s = hdr;
	h.n = hlen;
	h.base = prelen;
	h.err = err;
	if ((rc = parse_dict(&h, &hd)) < 0)
		goto done;
	if ((rc = descr_dtype(path, hd.descr, &dtype, err)) < 0)
		goto done;
	if (hd.fortran_order) {
		rc = trmx_error_set(err, TRMX_EDTYPE, "%s: Fortran order not supported", path);
		goto done;
	}
	if (!trmx_shape_numel(hd.ndim, hd.shape, &numel) ||
	    !trmx_mul_size(numel, trmx_dtype_size(dtype), &nbytes) || nbytes > TRMX_NPY_DATA_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "%s: payload larger than TRMX_NPY_DATA_MAX (%zu bytes)", path,
				    (size_t)TRMX_NPY_DATA_MAX);
		goto done;
	}
	if (fsize - prelen - hlen != nbytes) {
		size_t have = fsize - prelen - hlen;
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: %s payload: the shape needs %zu bytes, the file has %zu",
				    path, have < nbytes ? "truncated" : "oversized", nbytes, have);
		goto done;
	}
	if ((rc = trmx_array_new(&a, dtype, hd.ndim, hd.shape, err)) < 0)
		goto done;
	if ((rc = read_at(fd, a->data, nbytes, (off_t)(prelen + hlen), path, err)) < 0)
		goto done;
	*out = a;
	a = NULL;
done:
	if (fd >= 0)
		close(fd);
	free(hdr);
	trmx_array_free(a);
	return rc;
}

/* Write `a` as .npy 1.0 atomically, with the header numpy.save writes. */
int trmx_array_write_npy(const trmx_array *a, const char *path, trmx_error *err)
{
	char dict[512], shape[8 + TRMX_MAX_DIMS * 22];
	unsigned char *buf = NULL;
	size_t numel, nbytes, dlen, used = 0, hlen, total;
	int rc = 0;

	if (!a || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_array_write_npy: NULL argument");
	if ((unsigned)a->dtype >= TRMX_DTYPE_COUNT || a->ndim < 0 || a->ndim > TRMX_MAX_DIMS ||
	    !trmx_shape_numel(a->ndim, a->shape, &numel) ||
	    !trmx_mul_size(numel, trmx_dtype_size(a->dtype), &nbytes) || nbytes != a->nbytes ||
	    (nbytes > 0 && !a->data))
		return trmx_error_set(err, TRMX_EINVAL,
				      "%s: the array's dtype, shape, nbytes and data disagree", path);

	/* repr(shape): "()", "(3,)", "(2, 3)". */
	used += (size_t)snprintf(shape + used, sizeof shape - used, "(");
	for (int i = 0; i < a->ndim; i++)
		used += (size_t)snprintf(shape + used, sizeof shape - used, "%s%" PRId64,
					 i ? ", " : "", a->shape[i]);
	snprintf(shape + used, sizeof shape - used, a->ndim == 1 ? ",)" : ")");

	const char *code = NULL;
	for (size_t i = 0; i < sizeof npy_types / sizeof *npy_types; i++) {
		if (npy_types[i].dtype == a->dtype)
			code = npy_types[i].code;
	}
	dlen = (size_t)snprintf(dict, sizeof dict, "{'descr': '%c%s', 'fortran_order': False, 'shape': %s, }",
				trmx_dtype_size(a->dtype) == 1 ? '|' : '<', code, shape);
	if (a->ndim > 0) {
		int first = snprintf(NULL, 0, "%" PRId64, a->shape[0]);
		for (int i = first; i < NPY_GROWTH_DIGITS; i++)
			dict[dlen++] = ' ';
	}
	/* numpy pads so the data starts at a multiple of 64, with 1..64 spaces before '\n'. */
	hlen = dlen + 1;
	hlen += NPY_ALIGN - (10 + hlen) % NPY_ALIGN;
	if (!trmx_add_size(10 + hlen, nbytes, &total) || !(buf = trmx_xmalloc(total))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	memcpy(buf, npy_magic, sizeof npy_magic);
	buf[6] = 1;
	buf[7] = 0;
	buf[8] = (unsigned char)(hlen & 0xff);
	buf[9] = (unsigned char)(hlen >> 8);
	memcpy(buf + 10, dict, dlen);
	memset(buf + 10 + dlen, ' ', hlen - dlen - 1);
	buf[10 + hlen - 1] = '\n';
	if (nbytes)
		memcpy(buf + 10 + hlen, a->data, nbytes);
	rc = trmx_write_file_atomic(path, buf, total, err);
done:
	free(buf);
	return rc;
}

/* Allocate a zeroed array of `dtype` and `shape`. */
int trmx_array_new(trmx_array **out, trmx_dtype dtype, int ndim, const int64_t *shape, trmx_error *err)
{
	trmx_array *a;
	size_t numel, nbytes;

	if (!out || (ndim > 0 && !shape))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_array_new: NULL argument");
	if ((unsigned)dtype >= TRMX_DTYPE_COUNT)
		return trmx_error_set(err, TRMX_EDTYPE, "trmx_array_new: unknown dtype %d", (int)dtype);
	if (ndim < 0 || ndim > TRMX_MAX_DIMS)
		return trmx_error_set(err, TRMX_EINVAL,
				      "trmx_array_new: %d dims, outside 0..TRMX_MAX_DIMS (%d)", ndim,
				      TRMX_MAX_DIMS);
	if (!trmx_shape_numel(ndim, shape, &numel) ||
	    !trmx_mul_size(numel, trmx_dtype_size(dtype), &nbytes))
		return trmx_error_set(err, TRMX_EINVAL,
				      "trmx_array_new: a negative dim or a byte size that overflows");
	if (!(a = trmx_xcalloc(1, sizeof *a)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory allocating an array");
	/* Never NULL, even for zero elements, so callers need no special case. */
	if (!(a->data = trmx_xcalloc(nbytes ? nbytes : 1, 1))) {
		free(a);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory allocating %zu bytes", nbytes);
	}
	a->dtype = dtype;
	a->ndim = ndim;
	for (int i = 0; i < ndim; i++)
		a->shape[i] = shape[i];
	a->nbytes = nbytes;
	*out = a;
	return 0;
}

/* Number of elements (1 for 0-d); 0 for NULL, -1 for an invalid shape. */
int64_t trmx_array_numel(const trmx_array *a)
{
	size_t n;
	if (!a)
		return 0;
	if (a->ndim < 0 || a->ndim > TRMX_MAX_DIMS || !trmx_shape_numel(a->ndim, a->shape, &n) ||
	    n > INT64_MAX)
		return -1;
	return (int64_t)n;
}

/* Free an array from trmx_array_new or trmx_array_read_npy; NULL is a no-op. */
void trmx_array_free(trmx_array *a)
{
	if (!a)
		return;
	free(a->data);
	free(a);
}
