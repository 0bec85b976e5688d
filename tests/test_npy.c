/*
 * test_npy.c — .npy arrays: round trips for every dtype and for 0-d, 1-d, 3-d and empty shapes,
 * the exact bytes numpy.save writes (golden headers taken from numpy 1.24), headers of versions
 * 2.0 and 3.0 and in other spellings, and one test per bad-input class (exact code, a distinctive
 * part of the message, *out untouched, nothing changed on disk).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/testutil.h"
#include "trmx/trmx.h"

struct fx {
	char *dir;
	char *path; /* dir/a.npy */
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	if (!fx || !(fx->dir = tu_tmpdir()))
		return -1;
	fx->path = tu_path(fx->dir, "a.npy");
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	tu_rmtree(fx->dir);
	free(fx->dir);
	free(fx->path);
	free(fx);
	return 0;
}

/* Write fx->path: magic, version major.minor, the header length `declared` (u16 for 1.x, u32
 * otherwise), `hlen` header bytes and `plen` payload bytes (0, 1, 2, ...). */
static void put_raw(struct fx *fx, int major, int minor, uint32_t declared, const char *hdr,
		    size_t hlen, size_t plen)
{
	size_t pre = major == 1 ? 10 : 12, n = pre + hlen + plen;
	unsigned char *buf = malloc(n + 1);
	assert_non_null(buf);
	memcpy(buf, "\x93NUMPY", 6);
	buf[6] = (unsigned char)major;
	buf[7] = (unsigned char)minor;
	for (size_t i = 0; i < pre - 8; i++)
		buf[8 + i] = (unsigned char)(declared >> (8 * i));
	memcpy(buf + pre, hdr, hlen);
	for (size_t i = 0; i < plen; i++)
		buf[pre + hlen + i] = (unsigned char)i;
	assert_int_equal(tu_write_file(fx->path, buf, n), 0);
	free(buf);
}

/* A correct frame around `hdr` (a newline is appended). */
static void put_npy(struct fx *fx, int major, const char *hdr, size_t plen)
{
	size_t hlen = strlen(hdr) + 1;
	char *h = malloc(hlen + 1);
	assert_non_null(h);
	snprintf(h, hlen + 1, "%s\n", hdr);
	put_raw(fx, major, 0, (uint32_t)hlen, h, hlen, plen);
	free(h);
}

static void expect_read_error(struct fx *fx, int code, const char *substr)
{
	trmx_error err = { 0 };
	trmx_array *const sentinel = (trmx_array *)fx;
	trmx_array *a = sentinel;
	tu_snapshot *before = tu_snapshot_take(fx->dir);
	assert_non_null(before);
	assert_trmx_error(trmx_array_read_npy(&a, fx->path, &err), err, code, substr);
	assert_ptr_equal(a, sentinel);
	if (!strstr(err.message, fx->path))
		fail_msg("message does not name the file: %s", err.message);
	assert_tree_unchanged(before, fx->dir);
	tu_snapshot_free(before);
}

/* A v1.0 file with header `hdr` and `plen` payload bytes must fail with `code` and `substr`. */
static void expect_header_error(void **state, const char *hdr, size_t plen, int code,
				const char *substr)
{
	struct fx *fx = *state;
	put_npy(fx, 1, hdr, plen);
	expect_read_error(fx, code, substr);
}

static trmx_array *read_ok(const char *path)
{
	trmx_error err = { 0 };
	trmx_array *a = NULL;
	assert_trmx_ok(trmx_array_read_npy(&a, path, &err), err);
	assert_non_null(a);
	return a;
}

/* ---- Round trips --------------------------------------------------------------------------- */

static void test_round_trip_all(void **state)
{
	struct fx *fx = *state;
	static const trmx_dtype dtypes[] = { TRMX_DTYPE_F32, TRMX_DTYPE_F64, TRMX_DTYPE_F16,
					     TRMX_DTYPE_I8,  TRMX_DTYPE_U8,  TRMX_DTYPE_I16,
					     TRMX_DTYPE_I32, TRMX_DTYPE_I64, TRMX_DTYPE_BOOL };
	static const struct {
		int ndim;
		int64_t shape[3];
	} shapes[] = { { 0, { 0 } }, { 1, { 3 } }, { 3, { 2, 3, 4 } }, { 1, { 0 } }, { 2, { 4, 0 } } };
	trmx_error err = { 0 };

	for (size_t d = 0; d < sizeof dtypes / sizeof *dtypes; d++) {
		for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
			trmx_array *a = NULL;
			assert_trmx_ok(trmx_array_new(&a, dtypes[d], shapes[s].ndim, shapes[s].shape, &err), err);
			for (size_t i = 0; i < a->nbytes; i++)
				((unsigned char *)a->data)[i] =
					dtypes[d] == TRMX_DTYPE_BOOL ? (unsigned char)(i % 2) : (unsigned char)(i * 7 + d);
			assert_trmx_ok(trmx_array_write_npy(a, fx->path, &err), err);

			/* numpy's layout: data at a multiple of 64. */
			size_t len;
			unsigned char *raw = tu_read_file(fx->path, &len);
			assert_non_null(raw);
			size_t hlen = raw[8] | (size_t)raw[9] << 8;
			assert_int_equal((10 + hlen) % 64, 0);
			assert_int_equal(raw[10 + hlen - 1], '\n');
			assert_int_equal(len, 10 + hlen + a->nbytes);
			free(raw);

			trmx_array *b = read_ok(fx->path);
			assert_int_equal(b->dtype, a->dtype);
			assert_int_equal(b->ndim, a->ndim);
			for (int k = 0; k < a->ndim; k++)
				assert_int_equal(b->shape[k], a->shape[k]);
			assert_int_equal(b->nbytes, a->nbytes);
			assert_int_equal(trmx_array_numel(b), trmx_array_numel(a));
			assert_non_null(b->data);
			if (a->nbytes)
				assert_memory_equal(b->data, a->data, a->nbytes);
			trmx_array_free(a);
			trmx_array_free(b);
		}
	}
	trmx_array_free(NULL);
}

/* Headers exactly as numpy 1.24's np.save writes them (printed with repr() from numpy). */
static void test_numpy_bytes(void **state)
{
	struct fx *fx = *state;
	static const struct {
		trmx_dtype dtype;
		int ndim;
		int64_t shape[3];
		const char *dict;
	} cases[] = {
		{ TRMX_DTYPE_F32, 2, { 2, 3 }, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }" },
		{ TRMX_DTYPE_F64, 0, { 0 }, "{'descr': '<f8', 'fortran_order': False, 'shape': (), }" },
		{ TRMX_DTYPE_BOOL, 1, { 3 }, "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }" },
		{ TRMX_DTYPE_I8, 3, { 2, 3, 4 }, "{'descr': '|i1', 'fortran_order': False, 'shape': (2, 3, 4), }" },
		{ TRMX_DTYPE_U8, 1, { 0 }, "{'descr': '|u1', 'fortran_order': False, 'shape': (0,), }" },
	};
	/* numpy's spaces after the dict: 21 - digits of shape[0] (none for 0-d), then padding to
	 * 128 bytes in total for all of these; the header ends with '\n'. */
	static const size_t spaces[] = { 58, 62, 60, 55, 60 };
	trmx_error err = { 0 };

	for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
		trmx_array *a = NULL;
		size_t len, dl = strlen(cases[c].dict);
		assert_trmx_ok(trmx_array_new(&a, cases[c].dtype, cases[c].ndim, cases[c].shape, &err), err);
		assert_trmx_ok(trmx_array_write_npy(a, fx->path, &err), err);
		unsigned char *raw = tu_read_file(fx->path, &len);
		assert_non_null(raw);
		assert_memory_equal(raw, "\x93NUMPY\x01\x00v\x00", 10);
		assert_memory_equal(raw + 10, cases[c].dict, dl);
		for (size_t i = 0; i < spaces[c]; i++)
			assert_int_equal(raw[10 + dl + i], ' ');
		assert_int_equal(10 + dl + spaces[c] + 1, 128);
		assert_int_equal(raw[127], '\n');
		assert_int_equal(len, 128 + a->nbytes);
		free(raw);
		trmx_array_free(a);
	}
}

static void test_read_versions_and_spellings(void **state)
{
	struct fx *fx = *state;
	trmx_array *a;

	/* Version 2.0 (u32 length), keys in another order, double quotes, no trailing comma. */
	put_npy(fx, 2, "{\"shape\": (2,3), \"fortran_order\": False, \"descr\": \"<i4\"}", 24);
	a = read_ok(fx->path);
	assert_int_equal(a->dtype, TRMX_DTYPE_I32);
	assert_int_equal(a->ndim, 2);
	assert_int_equal(a->shape[1], 3);
	assert_int_equal(((unsigned char *)a->data)[23], 23);
	trmx_array_free(a);

	/* Version 3.0 (UTF-8 header), Python 2 long suffixes, a trailing comma in the tuple. */
	put_npy(fx, 3, "{'descr': '<f2', 'fortran_order': False, 'shape': (2L, 1L,), }", 4);
	a = read_ok(fx->path);
	assert_int_equal(a->dtype, TRMX_DTYPE_F16);
	assert_int_equal(a->ndim, 2);
	assert_int_equal(a->shape[0], 2);
	trmx_array_free(a);

	/* Native byte order ('=') and a one-byte type written with '<'. */
	put_npy(fx, 1, "{'descr': '=i8', 'fortran_order': False, 'shape': (1,), }", 8);
	a = read_ok(fx->path);
	assert_int_equal(a->dtype, TRMX_DTYPE_I64);
	trmx_array_free(a);
	put_npy(fx, 1, "{'descr': '<u1', 'fortran_order': False, 'shape': (5,), }", 5);
	a = read_ok(fx->path);
	assert_int_equal(a->dtype, TRMX_DTYPE_U8);
	assert_int_equal(trmx_array_numel(a), 5);
	trmx_array_free(a);
}

/* ---- Bad inputs ---------------------------------------------------------------------------- */

static void test_missing_file(void **state)
{
	expect_read_error(*state, TRMX_ENOTFOUND, "cannot open");
}

static void test_bad_magic(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(tu_write_file(fx->path, "\x93NUMPZ\x01\x00\x02\x00{}", 12), 0);
	expect_read_error(fx, TRMX_EFORMAT, "not a .npy file (bad magic)");
}

static void test_truncated_preamble(void **state)
{
	struct fx *fx = *state;
	assert_int_equal(tu_write_file(fx->path, "\x93NUMPY\x01", 7), 0);
	expect_read_error(fx, TRMX_EFORMAT, "truncated: 7 bytes, shorter than the 10-byte preamble");
	assert_int_equal(tu_write_file(fx->path, "\x93NUMPY\x02\x00\x10\x00\x00", 11), 0);
	expect_read_error(fx, TRMX_EFORMAT, "shorter than the 12-byte preamble");
}

static void test_bad_version(void **state)
{
	struct fx *fx = *state;
	put_raw(fx, 4, 0, 2, "{}", 2, 0);
	expect_read_error(fx, TRMX_EVERSION, "format version 4.0 not supported");
	put_raw(fx, 1, 1, 2, "{}", 2, 0);
	expect_read_error(fx, TRMX_EVERSION, "format version 1.1 not supported");
	put_raw(fx, 0, 0, 2, "{}", 2, 0);
	expect_read_error(fx, TRMX_EVERSION, "format version 0.0 not supported");
}

static void test_header_too_large(void **state)
{
	struct fx *fx = *state;
	put_raw(fx, 2, 0, TRMX_NPY_HEADER_MAX + 1, "{}", 2, 0);
	expect_read_error(fx, TRMX_ELIMIT, "TRMX_NPY_HEADER_MAX");
	put_raw(fx, 3, 0, UINT32_MAX, "{}", 2, 0);
	expect_read_error(fx, TRMX_ELIMIT, "TRMX_NPY_HEADER_MAX");
}

static void test_truncated_header(void **state)
{
	struct fx *fx = *state;
	put_raw(fx, 1, 0, 118, "{'descr': '<f4',", 16, 0);
	expect_read_error(fx, TRMX_EFORMAT, "truncated header: it declares 118 bytes but only 16 follow");
}

static void test_header_syntax(void **state)
{
	expect_header_error(state, "['descr', '<f4']", 0, TRMX_EFORMAT, "header is not a dict");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False}", 0, TRMX_EFORMAT,
			    "header lacks 'shape'");
	expect_header_error(state, "{'fortran_order': False, 'shape': ()}", 0, TRMX_EFORMAT,
			    "header lacks 'descr'");
	expect_header_error(state, "{'descr': '<f4', 'shape': (), 'version': 1}", 0, TRMX_EFORMAT,
			    "unexpected key");
	expect_header_error(state, "{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}",
			    4, TRMX_EFORMAT, "duplicate key 'descr'");
	expect_header_error(state, "{'descr' '<f4'}", 0, TRMX_EFORMAT, "expected ':' after a key");
	expect_header_error(state, "{'descr': '<f4' 'shape': ()}", 0, TRMX_EFORMAT,
			    "expected ',' or '}'");
	expect_header_error(state, "{'descr': '<f4, 'fortran_order': False, 'shape': ()}", 0,
			    TRMX_EFORMAT, "expected ',' or '}'");
	expect_header_error(state, "{'descr': '<f4", 0, TRMX_EFORMAT, "string");
	expect_header_error(state, "{'descr': <f4, 'fortran_order': False, 'shape': ()}", 0,
			    TRMX_EFORMAT, "expected a quoted string");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", 0,
			    TRMX_EFORMAT, "fortran_order is not True or False");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", 4,
			    TRMX_EFORMAT, "unexpected text after the dict");
	expect_header_error(state, "{'descr': '<f\\x34', 'fortran_order': False, 'shape': ()}", 4,
			    TRMX_EFORMAT, "unsupported character in a string");
	/* The byte offset in the file is given: '{' is at 10, the quote where ':' belongs at 19. */
	expect_header_error(state, "{'descr' '<f4'}", 0, TRMX_EFORMAT, "header, byte 19 of the file");
}

static void test_header_not_utf8_v3(void **state)
{
	struct fx *fx = *state;
	put_npy(fx, 3, "{'descr': '<f4', 'fortran_order': False, 'shape': (), '\xff': 1}", 4);
	expect_read_error(fx, TRMX_EFORMAT, "version 3.0 header is not valid UTF-8");
}

static void test_bad_shape(void **state)
{
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }", 0,
			    TRMX_EFORMAT, "negative dimension in shape");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (3), }", 12,
			    TRMX_EFORMAT, "shape (n) is not a tuple");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': 3, }", 12,
			    TRMX_EFORMAT, "shape is not a tuple");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,), }", 0,
			    TRMX_EFORMAT, "expected ',' or ')' in shape");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (2,,), }", 0,
			    TRMX_EFORMAT, "expected an integer in shape");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }",
			    0, TRMX_EFORMAT, "dimension in shape too large");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1), }",
			    4, TRMX_ELIMIT, "more dims than TRMX_MAX_DIMS");
	/* 2^62 x 2^62 elements: overflow is caught before anything is allocated. */
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (4611686018427387904, 4611686018427387904), }",
			    0, TRMX_ELIMIT, "TRMX_NPY_DATA_MAX");
	/* 2^31 x 2 doubles = 32 GiB: over the limit, refused without reading or allocating. */
	expect_header_error(state, "{'descr': '<f8', 'fortran_order': False, 'shape': (2147483648, 2), }",
			    0, TRMX_ELIMIT, "TRMX_NPY_DATA_MAX");
}

static void test_bad_dtype(void **state)
{
	expect_header_error(state, "{'descr': '<c8', 'fortran_order': False, 'shape': (), }", 8,
			    TRMX_EDTYPE, "dtype '<c8' not supported");
	expect_header_error(state, "{'descr': '|O', 'fortran_order': False, 'shape': (), }", 8,
			    TRMX_EDTYPE, "object and void arrays ('|O') are not supported");
	expect_header_error(state, "{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (), }",
			    4, TRMX_EDTYPE, "structured dtypes");
	expect_header_error(state, "{'descr': 'f4', 'fortran_order': False, 'shape': (), }", 4,
			    TRMX_EDTYPE, "dtype 'f4' not supported");
	expect_header_error(state, "{'descr': '|f4', 'fortran_order': False, 'shape': (), }", 4,
			    TRMX_EDTYPE, "has no byte order");
	expect_header_error(state, "{'descr': '<U3', 'fortran_order': False, 'shape': (), }", 12,
			    TRMX_EDTYPE, "dtype '<U3' not supported");
}

static void test_big_endian(void **state)
{
	expect_header_error(state, "{'descr': '>f4', 'fortran_order': False, 'shape': (2,), }", 8,
			    TRMX_EDTYPE, "big-endian dtype '>f4' not supported");
	expect_header_error(state, "{'descr': '>i8', 'fortran_order': False, 'shape': (), }", 8,
			    TRMX_EDTYPE, "big-endian");
	/* Byte order is meaningless for one byte: '>u1' reads fine. */
	struct fx *fx = *state;
	put_npy(fx, 1, "{'descr': '>u1', 'fortran_order': False, 'shape': (2,), }", 2);
	trmx_array *a = read_ok(fx->path);
	assert_int_equal(a->dtype, TRMX_DTYPE_U8);
	trmx_array_free(a);
}

static void test_fortran_order(void **state)
{
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }", 24,
			    TRMX_EDTYPE, "Fortran order not supported");
}

static void test_payload_size(void **state)
{
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 23,
			    TRMX_EFORMAT, "truncated payload: the shape needs 24 bytes, the file has 23");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 0,
			    TRMX_EFORMAT, "truncated payload");
	expect_header_error(state, "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 25,
			    TRMX_EFORMAT, "oversized payload: the shape needs 24 bytes, the file has 25");
}

static void test_writer_errors(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	trmx_array *a = NULL;
	const int64_t shape[2] = { 2, 3 }, neg[1] = { -1 };
	char *bad = tu_path(fx->dir, "missing/dir/a.npy");

	assert_trmx_error(trmx_array_new(&a, TRMX_DTYPE_F32, 1, neg, &err), err, TRMX_EINVAL,
			  "negative dim");
	assert_null(a);
	assert_trmx_error(trmx_array_new(&a, TRMX_DTYPE_COUNT, 1, shape, &err), err, TRMX_EDTYPE,
			  "unknown dtype");
	assert_trmx_error(trmx_array_new(&a, TRMX_DTYPE_F32, TRMX_MAX_DIMS + 1, shape, &err), err,
			  TRMX_EINVAL, "dims");
	assert_trmx_ok(trmx_array_new(&a, TRMX_DTYPE_F32, 2, shape, &err), err);
	assert_int_equal(trmx_array_numel(a), 6);
	assert_int_equal(a->nbytes, 24);

	tu_snapshot *before = tu_snapshot_take(fx->dir);
	assert_trmx_error(trmx_array_write_npy(a, bad, &err), err, TRMX_EIO,
			  "cannot create a temporary file");
	a->nbytes = 20; /* inconsistent with the shape */
	assert_trmx_error(trmx_array_write_npy(a, fx->path, &err), err, TRMX_EINVAL, "disagree");
	assert_tree_unchanged(before, fx->dir);
	tu_snapshot_free(before);
	trmx_array_free(a);
	free(bad);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip_all, setup, teardown),
		cmocka_unit_test_setup_teardown(test_numpy_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_versions_and_spellings, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_magic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_preamble, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_version, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_not_utf8_v3, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_dtype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_big_endian, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fortran_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_payload_size, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_errors, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
