/*
 * safetensors.c — read (mmap, validated) and write safetensors files.
 *
 * Layout: an 8-byte little-endian u64 N, N bytes of UTF-8 JSON, then the data area. The JSON is
 * an object: an optional "__metadata__" object of string values, and one entry per tensor,
 * {"dtype": "F32", "shape": [2, 3], "data_offsets": [begin, end]}, offsets relative to the data
 * area. The file is untrusted: every number is checked against limits.h and against the file
 * size before it is used, arithmetic is overflow-checked, and the tensors must tile the data
 * area exactly (no overlap, no hole), as the format's specification requires.
 *
 * The JSON is parsed by jansson (duplicate keys rejected). Tensor data is borrowed from a
 * read-only private mapping; pointers may be unaligned. Relies on a little-endian host, like the
 * rest of trmx (the data is used in place).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_int.h"

_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
	       "trmx uses safetensors data in place and needs a little-endian host");

#define METADATA_KEY "__metadata__"

/* One tensor while parsing: the public view plus what sorting and lookup need. */
struct entry {
	trmx_tensor_view view;
	uint64_t begin, end;   /* offsets inside the data area */
	const char *short_name; /* view.name without "_orig_mod." and "model.inner." */
};

struct trmx_weights {
	char *path;
	unsigned char *map;
	size_t map_len;
	struct entry *entries; /* file-offset order */
	trmx_tensor_view *views; /* same order, for trmx_weights_at */
	size_t count;
	struct entry **by_name; /* the entries sorted by short_name, for lookups */
	char **meta_keys, **meta_values;
	size_t meta_count;
};

struct writer_tensor {
	char *name;
	trmx_dtype dtype;
	int ndim;
	int64_t shape[TRMX_MAX_DIMS];
	void *data;
	size_t nbytes;
};

struct trmx_weights_writer {
	struct writer_tensor *tensors;
	size_t count, cap;
	size_t data_size;
	char **meta_keys, **meta_values;
	size_t meta_count, meta_cap;
};

/* ---- Shared helpers ------------------------------------------------------------------------ */

/* The name lookups compare: without a leading "_orig_mod." and then a leading "model.inner.". */
static const char *short_name(const char *name)
{
	static const char compiled[] = "_orig_mod.", inner[] = "model.inner.";
	if (!strncmp(name, compiled, sizeof compiled - 1))
		name += sizeof compiled - 1;
	if (!strncmp(name, inner, sizeof inner - 1))
		name += sizeof inner - 1;
	return name;
}

/* "[2, 3]" into buf (truncated if long). */
static const char *format_shape(char *buf, size_t len, int ndim, const int64_t *shape)
{
	size_t used = 0;
	buf[0] = '\0';
	used += (size_t)snprintf(buf, len, "[");
	for (int i = 0; i < ndim && used < len; i++)
		used += (size_t)snprintf(buf + used, len - used, "%s%" PRId64, i ? ", " : "", shape[i]);
	if (used < len)
		snprintf(buf + used, len - used, "]");
	return buf;
}

/* Offset of the first byte that does not start a valid UTF-8 sequence, or n when all are valid. */
static size_t utf8_invalid_at(const unsigned char *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		size_t len = s[i] < 0x80 ? 1 : (s[i] & 0xE0) == 0xC0 ? 2 : (s[i] & 0xF0) == 0xE0 ? 3
			   : (s[i] & 0xF8) == 0xF0 ? 4 : 0;
		if (len == 0 || n - i < len || !trmx_utf8_valid((const char *)s + i, len))
			return i;
		i += len;
	}
	return n;
}

static int dtype_from_name(const char *s, trmx_dtype *out)
{
	for (int d = 0; d < TRMX_DTYPE_COUNT; d++) {
		if (!strcmp(s, trmx_dtype_name((trmx_dtype)d))) {
			*out = (trmx_dtype)d;
			return 0;
		}
	}
	return -1;
}

static int cmp_entry_offsets(const void *pa, const void *pb)
{
	const struct entry *a = pa, *b = pb;
	if (a->begin != b->begin)
		return a->begin < b->begin ? -1 : 1;
	if (a->end != b->end)
		return a->end < b->end ? -1 : 1;
	return strcmp(a->view.name, b->view.name);
}

static int cmp_entry_names(const void *pa, const void *pb)
{
	const struct entry *a = *(const struct entry *const *)pa, *b = *(const struct entry *const *)pb;
	return strcmp(a->short_name, b->short_name);
}

/* ---- Reader -------------------------------------------------------------------------------- */

static int parse_metadata(trmx_weights *w, json_t *meta, trmx_error *err)
{
	const char *key;
	json_t *val;
	size_t n;

	if (!json_is_object(meta))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: __metadata__ is not a JSON object",
				      w->path);
	n = json_object_size(meta);
	if (n > TRMX_SAFETENSORS_METADATA_MAX)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "%s: __metadata__ has %zu entries, more than "
				      "TRMX_SAFETENSORS_METADATA_MAX (%d)",
				      w->path, n, TRMX_SAFETENSORS_METADATA_MAX);
	w->meta_keys = trmx_xcalloc(n ? n : 1, sizeof *w->meta_keys);
	w->meta_values = trmx_xcalloc(n ? n : 1, sizeof *w->meta_values);
	if (!w->meta_keys || !w->meta_values)
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", w->path);
	json_object_foreach(meta, key, val) {
		size_t klen = strlen(key);
		if (klen > TRMX_SAFETENSORS_NAME_MAX)
			return trmx_error_set(err, TRMX_ELIMIT,
					      "%s: __metadata__ key of %zu bytes, more than "
					      "TRMX_SAFETENSORS_NAME_MAX (%d)",
					      w->path, klen, TRMX_SAFETENSORS_NAME_MAX);
		if (!json_is_string(val))
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: __metadata__ value of '%s' is not a string",
					      w->path, key);
		if (json_string_length(val) > TRMX_SAFETENSORS_METADATA_VALUE_MAX)
			return trmx_error_set(err, TRMX_ELIMIT,
					      "%s: __metadata__ value of '%s' has %zu bytes, more than "
					      "TRMX_SAFETENSORS_METADATA_VALUE_MAX (%u)",
					      w->path, key, json_string_length(val),
					      TRMX_SAFETENSORS_METADATA_VALUE_MAX);
		w->meta_keys[w->meta_count] = trmx_xstrdup(key);
		w->meta_values[w->meta_count] = trmx_xstrdup(json_string_value(val));
		w->meta_count++; /* counted before the check so free() releases a half pair */
		if (!w->meta_keys[w->meta_count - 1] || !w->meta_values[w->meta_count - 1])
			return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", w->path);
	}
	return 0;
}

/* Validate one tensor entry `obj` named `name`; fill `e` (name not yet set). */
static int parse_tensor(const trmx_weights *w, const char *name, json_t *obj, size_t data_size,
			struct entry *e, trmx_error *err)
{
	const char *path = w->path;
	json_t *dtype, *shape, *offs, *jb, *je;
	size_t nlen = strlen(name), numel, nbytes, i;
	char sbuf[160];

	if (nlen == 0)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: a tensor has an empty name", path);
	if (nlen > TRMX_SAFETENSORS_NAME_MAX)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "%s: tensor '%.64s...': name of %zu bytes, more than "
				      "TRMX_SAFETENSORS_NAME_MAX (%d)",
				      path, name, nlen, TRMX_SAFETENSORS_NAME_MAX);
	if (!json_is_object(obj))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: tensor '%s': entry is not a JSON object",
				      path, name);

	dtype = json_object_get(obj, "dtype");
	if (!json_is_string(dtype))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: tensor '%s': dtype %s", path, name,
				      dtype ? "is not a string" : "is missing");
	if (dtype_from_name(json_string_value(dtype), &e->view.dtype) < 0)
		return trmx_error_set(err, TRMX_EDTYPE, "%s: tensor '%s': unknown dtype '%.32s'",
				      path, name, json_string_value(dtype));

	shape = json_object_get(obj, "shape");
	if (!json_is_array(shape))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: tensor '%s': shape %s", path, name,
				      shape ? "is not an array" : "is missing");
	if (json_array_size(shape) > TRMX_MAX_DIMS)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "%s: tensor '%s': shape has %zu dims, more than TRMX_MAX_DIMS (%d)",
				      path, name, json_array_size(shape), TRMX_MAX_DIMS);
	e->view.ndim = (int)json_array_size(shape);
	for (i = 0; i < json_array_size(shape); i++) {
		json_t *d = json_array_get(shape, i);
		if (!json_is_integer(d))
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: tensor '%s': shape[%zu] is not an integer", path,
					      name, i);
		if (json_integer_value(d) < 0)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: tensor '%s': shape[%zu] is negative (%" JSON_INTEGER_FORMAT ")",
					      path, name, i, json_integer_value(d));
		e->view.shape[i] = (int64_t)json_integer_value(d);
	}
	format_shape(sbuf, sizeof sbuf, e->view.ndim, e->view.shape);
	if (!trmx_shape_numel(e->view.ndim, e->view.shape, &numel) ||
	    !trmx_mul_size(numel, trmx_dtype_size(e->view.dtype), &nbytes))
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: tensor '%s': shape %s is too large (its byte size overflows)",
				      path, name, sbuf);

	offs = json_object_get(obj, "data_offsets");
	jb = json_array_get(offs, 0);
	je = json_array_get(offs, 1);
	if (!json_is_array(offs) || json_array_size(offs) != 2 || !json_is_integer(jb) ||
	    !json_is_integer(je) || json_integer_value(jb) < 0 || json_integer_value(je) < 0)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: tensor '%s': data_offsets %s", path, name,
				      offs ? "is not a pair of non-negative integers [begin, end]"
					   : "is missing");
	e->begin = (uint64_t)json_integer_value(jb);
	e->end = (uint64_t)json_integer_value(je);
	if (e->end < e->begin)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
				      "] end before begin",
				      path, name, e->begin, e->end);
	if (e->end > data_size)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
				      "] outside the data area of %zu bytes",
				      path, name, e->begin, e->end, data_size);
	if (e->end - e->begin != nbytes)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: tensor '%s': data_offsets [%" PRIu64 ", %" PRIu64
				      "] hold %" PRIu64 " bytes but shape %s of %s needs %zu",
				      path, name, e->begin, e->end, e->end - e->begin, sbuf,
				      trmx_dtype_name(e->view.dtype), nbytes);
	e->view.nbytes = nbytes;
	return 0;
}

/* Sorted by offset, the tensors must tile [0, data_size): each starts where the previous ends. */
static int check_tiling(const trmx_weights *w, size_t data_size, trmx_error *err)
{
	uint64_t covered = 0; /* end of the furthest-reaching tensor so far */
	size_t last = 0;      /* that tensor */

	for (size_t i = 0; i < w->count; i++) {
		const struct entry *e = &w->entries[i];
		if (e->begin < covered)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: tensors '%s' and '%s' overlap (bytes [%" PRIu64
					      ", %" PRIu64 ") of the data area)",
					      w->path, w->entries[last].view.name, e->view.name,
					      e->begin, e->end < covered ? e->end : covered);
		if (e->begin > covered)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: bytes [%" PRIu64 ", %" PRIu64 ") of the data area "
					      "belong to no tensor (a hole before tensor '%s')",
					      w->path, covered, e->begin, e->view.name);
		if (e->end > covered || i == 0) {
			covered = e->end;
			last = i;
		}
	}
	if (covered != data_size)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: bytes [%" PRIu64 ", %zu) of the data area belong to no "
				      "tensor (a hole at the end)",
				      w->path, covered, data_size);
	return 0;
}

static int parse_header(trmx_weights *w, trmx_error *err)
{
	const unsigned char *p = w->map;
	uint64_t hlen = 0;
	size_t data_size, bad, ntensors, k = 0;
	json_t *root = NULL, *val;
	json_error_t jerr;
	const char *key;
	int rc = 0;

	for (int i = 7; i >= 0; i--)
		hlen = (hlen << 8) | p[i];
	if (hlen > TRMX_SAFETENSORS_HEADER_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "%s: header of %" PRIu64 " bytes, more than "
				    "TRMX_SAFETENSORS_HEADER_MAX (%u)",
				    w->path, hlen, TRMX_SAFETENSORS_HEADER_MAX);
		goto done;
	}
	if (hlen > w->map_len - 8) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: truncated header: it declares %" PRIu64
				    " bytes but only %zu follow the length",
				    w->path, hlen, w->map_len - 8);
		goto done;
	}
	data_size = w->map_len - 8 - (size_t)hlen;
	bad = utf8_invalid_at(p + 8, (size_t)hlen);
	if (bad != hlen) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: header is not valid UTF-8 at byte offset %zu of the file "
				    "(byte %zu of the header)",
				    w->path, 8 + bad, bad);
		goto done;
	}
	root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
			  &jerr);
	if (!root) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: header is not valid JSON: line %d, column %d: %s", w->path,
				    jerr.line, jerr.column, jerr.text);
		goto done;
	}
	if (!json_is_object(root)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: header is not a JSON object", w->path);
		goto done;
	}

	ntensors = json_object_size(root) - (json_object_get(root, METADATA_KEY) ? 1 : 0);
	if (ntensors > TRMX_SAFETENSORS_TENSORS_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "%s: %zu tensors, more than TRMX_SAFETENSORS_TENSORS_MAX (%d)",
				    w->path, ntensors, TRMX_SAFETENSORS_TENSORS_MAX);
		goto done;
	}
	w->entries = trmx_xcalloc(ntensors ? ntensors : 1, sizeof *w->entries);
	w->views = trmx_xcalloc(ntensors ? ntensors : 1, sizeof *w->views);
	w->by_name = trmx_xcalloc(ntensors ? ntensors : 1, sizeof *w->by_name);
	if (!w->entries || !w->views || !w->by_name) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", w->path);
		goto done;
	}

	json_object_foreach(root, key, val) {
		if (!strcmp(key, METADATA_KEY)) {
			if ((rc = parse_metadata(w, val, err)) < 0)
				goto done;
			continue;
		}
		struct entry *e = &w->entries[k];
		if ((rc = parse_tensor(w, key, val, data_size, e, err)) < 0)
			goto done;
		if (!(e->view.name = trmx_xstrdup(key))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", w->path);
			goto done;
		}
		w->count = ++k;
	}

	qsort(w->entries, w->count, sizeof *w->entries, cmp_entry_offsets);
	if ((rc = check_tiling(w, data_size, err)) < 0)
		goto done;

	for (size_t i = 0; i < w->count; i++) {
		struct entry *e = &w->entries[i];
		e->view.data = p + 8 + hlen + e->begin;
		e->short_name = short_name(e->view.name);
		w->views[i] = e->view;
		w->by_name[i] = e;
	}
	qsort(w->by_name, w->count, sizeof *w->by_name, cmp_entry_names);
	for (size_t i = 1; i < w->count; i++) {
		const struct entry *a = w->by_name[i - 1], *b = w->by_name[i];
		if (!strcmp(a->short_name, b->short_name)) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    "%s: tensors '%s' and '%s' have the same name once "
					    "'_orig_mod.' and 'model.inner.' are stripped",
					    w->path, a->view.name, b->view.name);
			goto done;
		}
	}
done:
	json_decref(root);
	return rc;
}

/* Map and validate a safetensors file; see trmx.h. */
int trmx_weights_open(trmx_weights **out, const char *path, trmx_error *err)
{
	trmx_weights *w = NULL;
	struct stat st;
	int fd = -1, rc = 0;
	void *map;

	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_weights_open: NULL argument");
	if (!(w = trmx_xcalloc(1, sizeof *w)) || !(w->path = trmx_xstrdup(path))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		rc = trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO,
				    "%s: cannot open: %s", path, strerror(errno));
		goto done;
	}
	if (fstat(fd, &st) != 0) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: cannot stat: %s", path, strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: not a regular file", path);
		goto done;
	}
	if (st.st_size < 8) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: truncated: %lld bytes, shorter than the 8-byte header length",
				    path, (long long)st.st_size);
		goto done;
	}
	if ((uint64_t)st.st_size > SIZE_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: too large to map", path);
		goto done;
	}
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (map == MAP_FAILED) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: cannot map: %s", path, strerror(errno));
		goto done;
	}
	w->map = map;
	w->map_len = (size_t)st.st_size;
	if ((rc = parse_header(w, err)) < 0)
		goto done;
	*out = w;
	w = NULL;
done:
	if (fd >= 0)
		close(fd);
	trmx_weights_free(w);
	return rc;
}

/* Unmap and free; NULL is a no-op. */
void trmx_weights_free(trmx_weights *w)
{
	if (!w)
		return;
	if (w->map)
		munmap(w->map, w->map_len);
	if (w->entries) {
		for (size_t i = 0; i < w->count; i++)
			free((char *)w->entries[i].view.name);
	}
	for (size_t i = 0; i < w->meta_count; i++) {
		free(w->meta_keys[i]);
		free(w->meta_values[i]);
	}
	free(w->meta_keys);
	free(w->meta_values);
	free(w->entries);
	free(w->views);
	free(w->by_name);
	free(w->path);
	free(w);
}

/* Number of tensors (0 for NULL). */
size_t trmx_weights_count(const trmx_weights *w)
{
	return w ? w->count : 0;
}

/* The i-th tensor in data-offset order; NULL when out of range. */
const trmx_tensor_view *trmx_weights_at(const trmx_weights *w, size_t i)
{
	return w && i < w->count ? &w->views[i] : NULL;
}

/* Binary search of the short names; see trmx.h for the matching rule. */
const trmx_tensor_view *trmx_weights_find(const trmx_weights *w, const char *name)
{
	if (!w || !name)
		return NULL;
	const char *want = short_name(name);
	size_t lo = 0, hi = w->count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct entry *e = w->by_name[mid];
		int c = strcmp(want, e->short_name);
		if (c == 0)
			return &w->views[e - w->entries];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

/* Number of __metadata__ entries (0 for NULL). */
size_t trmx_weights_metadata_count(const trmx_weights *w)
{
	return w ? w->meta_count : 0;
}

/* The i-th __metadata__ entry in file order; NULL key and value when out of range. */
void trmx_weights_metadata_at(const trmx_weights *w, size_t i, const char **key, const char **value)
{
	bool ok = w && i < w->meta_count;
	if (key)
		*key = ok ? w->meta_keys[i] : NULL;
	if (value)
		*value = ok ? w->meta_values[i] : NULL;
}

/* Value of a __metadata__ key (borrowed), NULL when absent. */
const char *trmx_weights_metadata(const trmx_weights *w, const char *key)
{
	if (!w || !key)
		return NULL;
	for (size_t i = 0; i < w->meta_count; i++) {
		if (!strcmp(w->meta_keys[i], key))
			return w->meta_values[i];
	}
	return NULL;
}

/* ---- Writer -------------------------------------------------------------------------------- */

/* Create an empty writer. */
int trmx_weights_writer_new(trmx_weights_writer **out, trmx_error *err)
{
	trmx_weights_writer *wr;
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_weights_writer_new: NULL argument");
	if (!(wr = trmx_xcalloc(1, sizeof *wr)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory creating a weights writer");
	*out = wr;
	return 0;
}

/* Add a tensor (data copied); the name must be new, also once the prefixes are stripped. */
int trmx_weights_writer_add(trmx_weights_writer *wr, const char *name, trmx_dtype dtype, int ndim,
			    const int64_t *shape, const void *data, trmx_error *err)
{
	struct writer_tensor t = { 0 };
	size_t nlen, numel, total;
	char sbuf[160];
	int rc = 0;

	if (!wr || !name || (ndim > 0 && !shape))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_weights_writer_add: NULL argument");
	nlen = strlen(name);
	if (nlen == 0 || !strcmp(name, METADATA_KEY) || !trmx_utf8_valid(name, nlen))
		return trmx_error_set(err, TRMX_EINVAL,
				      "tensor '%s': a name must be non-empty UTF-8 and not %s", name,
				      METADATA_KEY);
	if (nlen > TRMX_SAFETENSORS_NAME_MAX)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "tensor '%.64s...': name of %zu bytes, more than "
				      "TRMX_SAFETENSORS_NAME_MAX (%d)",
				      name, nlen, TRMX_SAFETENSORS_NAME_MAX);
	if ((unsigned)dtype >= TRMX_DTYPE_COUNT)
		return trmx_error_set(err, TRMX_EDTYPE, "tensor '%s': unknown dtype %d", name,
				      (int)dtype);
	if (ndim < 0 || ndim > TRMX_MAX_DIMS)
		return trmx_error_set(err, TRMX_EINVAL,
				      "tensor '%s': %d dims, outside 0..TRMX_MAX_DIMS (%d)", name,
				      ndim, TRMX_MAX_DIMS);
	if (wr->count >= TRMX_SAFETENSORS_TENSORS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "tensor '%s': more than TRMX_SAFETENSORS_TENSORS_MAX (%d) tensors",
				      name, TRMX_SAFETENSORS_TENSORS_MAX);
	if (ndim > 0)
		memcpy(t.shape, shape, (size_t)ndim * sizeof *shape);
	format_shape(sbuf, sizeof sbuf, ndim, t.shape);
	if (!trmx_shape_numel(ndim, t.shape, &numel) ||
	    !trmx_mul_size(numel, trmx_dtype_size(dtype), &t.nbytes) ||
	    !trmx_add_size(wr->data_size, t.nbytes, &total))
		return trmx_error_set(err, TRMX_EINVAL,
				      "tensor '%s': shape %s has a negative dim or is too large",
				      name, sbuf);
	if (t.nbytes > 0 && !data)
		return trmx_error_set(err, TRMX_EINVAL, "tensor '%s': NULL data", name);
	for (size_t i = 0; i < wr->count; i++) {
		if (!strcmp(short_name(wr->tensors[i].name), short_name(name)))
			return trmx_error_set(err, TRMX_EINVAL,
					      "tensor '%s': name already used by '%s'", name,
					      wr->tensors[i].name);
	}

	t.dtype = dtype;
	t.ndim = ndim;
	if (!(t.name = trmx_xstrdup(name)) || !(t.data = trmx_xmalloc(t.nbytes ? t.nbytes : 1))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "tensor '%s': out of memory", name);
		goto done;
	}
	if (t.nbytes)
		memcpy(t.data, data, t.nbytes);
	if (wr->count == wr->cap) {
		size_t cap = wr->cap ? wr->cap * 2 : 16;
		struct writer_tensor *nt = trmx_xrealloc(wr->tensors, cap * sizeof *nt);
		if (!nt) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "tensor '%s': out of memory", name);
			goto done;
		}
		wr->tensors = nt;
		wr->cap = cap;
	}
	wr->tensors[wr->count++] = t;
	wr->data_size = total;
	t.name = NULL;
	t.data = NULL;
done:
	free(t.name);
	free(t.data);
	return rc;
}

/* Set (replace or append) a __metadata__ entry. */
int trmx_weights_writer_set_metadata(trmx_weights_writer *wr, const char *key, const char *value,
				     trmx_error *err)
{
	size_t klen, vlen, i;
	char *k = NULL, *v = NULL;
	int rc = 0;

	if (!wr || !key || !value)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_weights_writer_set_metadata: NULL argument");
	klen = strlen(key);
	vlen = strlen(value);
	if (klen == 0 || !trmx_utf8_valid(key, klen) || !trmx_utf8_valid(value, vlen))
		return trmx_error_set(err, TRMX_EINVAL,
				      "metadata '%s': key and value must be UTF-8, the key non-empty",
				      key);
	if (klen > TRMX_SAFETENSORS_NAME_MAX || vlen > TRMX_SAFETENSORS_METADATA_VALUE_MAX)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "metadata '%.64s': key or value too long (limits "
				      "TRMX_SAFETENSORS_NAME_MAX %d, TRMX_SAFETENSORS_METADATA_VALUE_MAX %u)",
				      key, TRMX_SAFETENSORS_NAME_MAX, TRMX_SAFETENSORS_METADATA_VALUE_MAX);
	if (!(v = trmx_xstrdup(value))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "metadata '%s': out of memory", key);
		goto done;
	}
	for (i = 0; i < wr->meta_count; i++) {
		if (!strcmp(wr->meta_keys[i], key)) {
			free(wr->meta_values[i]);
			wr->meta_values[i] = v;
			v = NULL;
			goto done;
		}
	}
	if (wr->meta_count >= TRMX_SAFETENSORS_METADATA_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "metadata '%s': more than TRMX_SAFETENSORS_METADATA_MAX (%d) entries",
				    key, TRMX_SAFETENSORS_METADATA_MAX);
		goto done;
	}
	if (wr->meta_count == wr->meta_cap) {
		size_t cap = wr->meta_cap ? wr->meta_cap * 2 : 8;
		char **nk = trmx_xrealloc(wr->meta_keys, cap * sizeof *nk);
		if (nk)
			wr->meta_keys = nk;
		char **nv = nk ? trmx_xrealloc(wr->meta_values, cap * sizeof *nv) : NULL;
		if (nv)
			wr->meta_values = nv;
		if (!nk || !nv) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "metadata '%s': out of memory", key);
			goto done;
		}
		wr->meta_cap = cap;
	}
	if (!(k = trmx_xstrdup(key))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "metadata '%s': out of memory", key);
		goto done;
	}
	wr->meta_keys[wr->meta_count] = k;
	wr->meta_values[wr->meta_count] = v;
	wr->meta_count++;
	k = v = NULL;
done:
	free(k);
	free(v);
	return rc;
}

/* The header JSON: __metadata__ first, then the tensors in the order added. */
static json_t *build_header(const trmx_weights_writer *wr)
{
	json_t *root = json_object(), *meta = NULL;
	uint64_t off = 0;
	if (!root)
		return NULL;
	if (wr->meta_count > 0) {
		if (!(meta = json_object()) || json_object_set_new(root, METADATA_KEY, meta) < 0)
			goto fail;
		for (size_t i = 0; i < wr->meta_count; i++) {
			if (json_object_set_new(meta, wr->meta_keys[i],
						json_string(wr->meta_values[i])) < 0)
				goto fail;
		}
	}
	for (size_t i = 0; i < wr->count; i++) {
		const struct writer_tensor *t = &wr->tensors[i];
		json_t *obj = json_object(), *shape = json_array();
		if (json_object_set_new(root, t->name, obj) < 0) {
			json_decref(shape);
			goto fail;
		}
		if (json_object_set_new(obj, "dtype", json_string(trmx_dtype_name(t->dtype))) < 0 ||
		    json_object_set_new(obj, "shape", shape) < 0)
			goto fail;
		for (int d = 0; d < t->ndim; d++) {
			if (json_array_append_new(shape, json_integer((json_int_t)t->shape[d])) < 0)
				goto fail;
		}
		if (json_object_set_new(obj, "data_offsets",
					json_pack("[II]", (json_int_t)off,
						  (json_int_t)(off + t->nbytes))) < 0)
			goto fail;
		off += t->nbytes;
	}
	return root;
fail:
	json_decref(root);
	return NULL;
}

/* Serialise and write atomically; the writer is unchanged and can write again. */
int trmx_weights_writer_write(trmx_weights_writer *wr, const char *path, trmx_error *err)
{
	json_t *root = NULL;
	char *json = NULL;
	unsigned char *buf = NULL;
	size_t jlen, hlen, total, off;
	int rc = 0;

	if (!wr || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_weights_writer_write: NULL argument");
	if (!(root = build_header(wr)) ||
	    !(json = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory building the header", path);
		goto done;
	}
	jlen = strlen(json);
	hlen = (jlen + 7) & ~(size_t)7; /* the data area starts at a multiple of 8 */
	if (hlen > TRMX_SAFETENSORS_HEADER_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "%s: header of %zu bytes, more than TRMX_SAFETENSORS_HEADER_MAX (%u)",
				    path, hlen, TRMX_SAFETENSORS_HEADER_MAX);
		goto done;
	}
	if (!trmx_add_size(8 + hlen, wr->data_size, &total) || !(buf = trmx_xmalloc(total))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
	memcpy(buf + 8, json, jlen);
	memset(buf + 8 + jlen, ' ', hlen - jlen);
	off = 8 + hlen;
	for (size_t i = 0; i < wr->count; i++) {
		if (wr->tensors[i].nbytes)
			memcpy(buf + off, wr->tensors[i].data, wr->tensors[i].nbytes);
		off += wr->tensors[i].nbytes;
	}
	rc = trmx_write_file_atomic(path, buf, total, err);
done:
	free(buf);
	free(json);
	json_decref(root);
	return rc;
}

/* Free the writer and its copies; NULL is a no-op. */
void trmx_weights_writer_free(trmx_weights_writer *wr)
{
	if (!wr)
		return;
	for (size_t i = 0; i < wr->count; i++) {
		free(wr->tensors[i].name);
		free(wr->tensors[i].data);
	}
	for (size_t i = 0; i < wr->meta_count; i++) {
		free(wr->meta_keys[i]);
		free(wr->meta_values[i]);
	}
	free(wr->tensors);
	free(wr->meta_keys);
	free(wr->meta_values);
	free(wr);
}
