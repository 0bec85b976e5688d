/*
 * test_safetensors.c — the safetensors reader and writer: one test per bad-input class (built
 * byte by byte in a temporary directory; each asserts the exact code, a distinctive part of the
 * message, that *out was not written and that nothing changed on disk), and round trips through
 * the writer, name lookups, metadata, determinism and the empty file.
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
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	if (!fx || !(fx->dir = tu_tmpdir()))
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	tu_rmtree(fx->dir);
	free(fx->dir);
	free(fx);
	return 0;
}

/* Write `name` in the fixture dir: the 8-byte length `declared`, `hlen` header bytes, then
 * `dlen` data bytes (0, 1, 2, ...). Returns the path (owned by the caller). */
static char *put_raw(struct fx *fx, const char *name, uint64_t declared, const void *hdr,
		     size_t hlen, size_t dlen)
{
	char *path = tu_path(fx->dir, name);
	unsigned char *buf = malloc(8 + hlen + dlen + 1);
	assert_non_null(buf);
	for (int i = 0; i < 8; i++)
		buf[i] = (unsigned char)(declared >> (8 * i));
	memcpy(buf + 8, hdr, hlen);
	for (size_t i = 0; i < dlen; i++)
		buf[8 + hlen + i] = (unsigned char)i;
	assert_int_equal(tu_write_file(path, buf, 8 + hlen + dlen), 0);
	free(buf);
	return path;
}

/* A well-formed frame around `json` with `dlen` data bytes. */
static char *put_json(struct fx *fx, const char *json, size_t dlen)
{
	return put_raw(fx, "t.safetensors", strlen(json), json, strlen(json), dlen);
}

/* Open must fail with `code` and `substr`, name the file, leave *out and the disk alone. */
static void expect_open_error(struct fx *fx, const char *path, int code, const char *substr)
{
	trmx_error err = { 0 };
	trmx_weights *const sentinel = (trmx_weights *)fx;
	trmx_weights *w = sentinel;
	tu_snapshot *before = tu_snapshot_take(fx->dir);
	assert_non_null(before);
	assert_trmx_error(trmx_weights_open(&w, path, &err), err, code, substr);
	assert_ptr_equal(w, sentinel);
	if (!strstr(err.message, path))
		fail_msg("message does not name the file: %s", err.message);
	assert_tree_unchanged(before, fx->dir);
	tu_snapshot_free(before);
}

static void expect_json_error(void **state, const char *json, size_t dlen, int code,
			      const char *substr)
{
	struct fx *fx = *state;
	char *path = put_json(fx, json, dlen);
	expect_open_error(fx, path, code, substr);
	free(path);
}

static trmx_weights *open_ok(const char *path)
{
	trmx_error err = { 0 };
	trmx_weights *w = NULL;
	assert_trmx_ok(trmx_weights_open(&w, path, &err), err);
	assert_non_null(w);
	return w;
}

/* ---- Bad inputs ---------------------------------------------------------------------------- */

static void test_missing_file(void **state)
{
	struct fx *fx = *state;
	char *path = tu_path(fx->dir, "absent.safetensors");
	expect_open_error(fx, path, TRMX_ENOTFOUND, "cannot open");
	free(path);
}

static void test_empty_file(void **state)
{
	struct fx *fx = *state;
	char *path = tu_path(fx->dir, "empty.safetensors");
	assert_int_equal(tu_write_file(path, "", 0), 0);
	expect_open_error(fx, path, TRMX_EFORMAT, "truncated: 0 bytes");
	free(path);
}

static void test_truncated_length(void **state)
{
	struct fx *fx = *state;
	char *path = tu_path(fx->dir, "short.safetensors");
	assert_int_equal(tu_write_file(path, "\x02\x00\x00\x00\x00", 5), 0);
	expect_open_error(fx, path, TRMX_EFORMAT, "truncated: 5 bytes, shorter than the 8-byte");
	free(path);
}

static void test_truncated_header(void **state)
{
	struct fx *fx = *state;
	char *path = put_raw(fx, "t.safetensors", 100, "{}", 2, 0);
	expect_open_error(fx, path, TRMX_EFORMAT, "truncated header: it declares 100 bytes but only 2");
	free(path);
}

static void test_truncated_data(void **state)
{
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,24]}}",
			  12, TRMX_EFORMAT,
			  "tensor 'w': data_offsets [0, 24] outside the data area of 12 bytes");
}

static void test_header_too_large(void **state)
{
	struct fx *fx = *state;
	char *path = put_raw(fx, "t.safetensors", (uint64_t)TRMX_SAFETENSORS_HEADER_MAX + 1, "{}", 2, 0);
	expect_open_error(fx, path, TRMX_ELIMIT, "TRMX_SAFETENSORS_HEADER_MAX");
	free(path);
	/* A length near 2^64 must not wrap around in the size check. */
	path = put_raw(fx, "t.safetensors", UINT64_MAX - 3, "{}", 2, 0);
	expect_open_error(fx, path, TRMX_ELIMIT, "TRMX_SAFETENSORS_HEADER_MAX");
	free(path);
}

static void test_header_not_utf8(void **state)
{
	/* 0xff at header byte 2, file byte 10; then an overlong '/' and a lone surrogate. */
	expect_json_error(state, "{\"\xff\":1}", 0, TRMX_EFORMAT,
			  "not valid UTF-8 at byte offset 10 of the file");
	expect_json_error(state, "{\"ab\xc0\xaf\":1}", 0, TRMX_EFORMAT, "not valid UTF-8 at byte offset 12");
	expect_json_error(state, "{\"\xed\xa0\x80\":1}", 0, TRMX_EFORMAT, "not valid UTF-8 at byte offset 10");
}

static void test_malformed_json(void **state)
{
	expect_json_error(state, "{\"w\": }", 0, TRMX_EFORMAT, "not valid JSON: line 1, column 7");
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\"}\n,}", 0, TRMX_EFORMAT, "line 2");
	expect_json_error(state, "", 0, TRMX_EFORMAT, "not valid JSON");
	expect_json_error(state, "{} {}", 0, TRMX_EFORMAT, "not valid JSON");
	expect_json_error(state, "{\"a\\u0000b\":1}", 0, TRMX_EFORMAT, "not valid JSON");
	expect_json_error(state, "{\"w\":{\"shape\":[99999999999999999999]}}", 0, TRMX_EFORMAT,
			  "not valid JSON");
}

static void test_not_an_object(void **state)
{
	expect_json_error(state, "[1, 2]", 0, TRMX_EFORMAT, "header is not a JSON object");
	expect_json_error(state, "\"w\"", 0, TRMX_EFORMAT, "header is not a JSON object");
	expect_json_error(state, "{\"w\":[1]}", 0, TRMX_EFORMAT, "tensor 'w': entry is not a JSON object");
}

static void test_metadata_not_object(void **state)
{
	expect_json_error(state, "{\"__metadata__\":[\"a\"]}", 0, TRMX_EFORMAT,
			  "__metadata__ is not a JSON object");
}

static void test_metadata_not_string(void **state)
{
	expect_json_error(state, "{\"__metadata__\":{\"ok\":\"x\",\"hidden_size\":512}}", 0,
			  TRMX_EFORMAT, "__metadata__ value of 'hidden_size' is not a string");
	expect_json_error(state, "{\"__metadata__\":{\"a\":null}}", 0, TRMX_EFORMAT,
			  "value of 'a' is not a string");
}

static void test_metadata_limits(void **state)
{
	size_t n = TRMX_SAFETENSORS_METADATA_VALUE_MAX + 64, used;
	char *json = malloc(n);
	assert_non_null(json);
	used = (size_t)snprintf(json, n, "{\"__metadata__\":{\"big\":\"");
	memset(json + used, 'x', TRMX_SAFETENSORS_METADATA_VALUE_MAX + 1);
	used += TRMX_SAFETENSORS_METADATA_VALUE_MAX + 1;
	snprintf(json + used, n - used, "\"}}");
	expect_json_error(state, json, 0, TRMX_ELIMIT, "TRMX_SAFETENSORS_METADATA_VALUE_MAX");
	free(json);

	n = (TRMX_SAFETENSORS_METADATA_MAX + 1) * 24 + 64;
	json = malloc(n);
	assert_non_null(json);
	used = (size_t)snprintf(json, n, "{\"__metadata__\":{");
	for (int i = 0; i <= TRMX_SAFETENSORS_METADATA_MAX; i++)
		used += (size_t)snprintf(json + used, n - used, "%s\"k%d\":\"v\"", i ? "," : "", i);
	snprintf(json + used, n - used, "}}");
	expect_json_error(state, json, 0, TRMX_ELIMIT, "TRMX_SAFETENSORS_METADATA_MAX");
	free(json);
}

static void test_unknown_dtype(void **state)
{
	expect_json_error(state, "{\"lm_head.weight\":{\"dtype\":\"F8_E4M3\",\"shape\":[1],\"data_offsets\":[0,1]}}",
			  1, TRMX_EDTYPE, "tensor 'lm_head.weight': unknown dtype 'F8_E4M3'");
	expect_json_error(state, "{\"w\":{\"dtype\":\"f32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
			  TRMX_EDTYPE, "unknown dtype 'f32'");
	expect_json_error(state, "{\"w\":{\"dtype\":4,\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
			  TRMX_EFORMAT, "tensor 'w': dtype is not a string");
	expect_json_error(state, "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 4, TRMX_EFORMAT,
			  "tensor 'w': dtype is missing");
}

static void test_bad_shape(void **state)
{
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,-1],\"data_offsets\":[0,0]}}", 0,
			  TRMX_EFORMAT, "tensor 'w': shape[1] is negative (-1)");
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2.0],\"data_offsets\":[0,8]}}", 8,
			  TRMX_EFORMAT, "tensor 'w': shape[0] is not an integer");
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[\"2\"],\"data_offsets\":[0,8]}}", 8,
			  TRMX_EFORMAT, "tensor 'w': shape[0] is not an integer");
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8,
			  TRMX_EFORMAT, "tensor 'w': shape is not an array");
	expect_json_error(state, "{\"w\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}",
			  1, TRMX_ELIMIT, "tensor 'w': shape has 9 dims, more than TRMX_MAX_DIMS");
	/* 2^62 * 2^62 elements: the byte size overflows and must be caught, not wrapped. */
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4611686018427387904],\"data_offsets\":[0,0]}}",
			  0, TRMX_EFORMAT, "tensor 'w': shape [4611686018427387904, 4611686018427387904] is too large");
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904],\"data_offsets\":[0,0]}}",
			  0, TRMX_EFORMAT, "is too large");
}

static void test_offsets_not_pair(void **state)
{
	static const char *const bad[] = { "[0]", "[0,4,8]", "[\"0\",4]", "[0,4.0]", "[-4,4]",
					   "{\"begin\":0}", "4" };
	char json[256];
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(json, sizeof json,
			 "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":%s}}", bad[i]);
		expect_json_error(state, json, 4, TRMX_EFORMAT,
				  "tensor 'w': data_offsets is not a pair of non-negative integers");
	}
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1]}}", 4, TRMX_EFORMAT,
			  "tensor 'w': data_offsets is missing");
}

static void test_offsets_outside(void **state)
{
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}", 8,
			  TRMX_EFORMAT, "tensor 'w': data_offsets [8, 12] outside the data area of 8 bytes");
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[9223372036854775803,9223372036854775807]}}",
			  4, TRMX_EFORMAT, "outside the data area of 4 bytes");
}

static void test_offsets_reversed(void **state)
{
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,4]}}", 8,
			  TRMX_EFORMAT, "tensor 'w': data_offsets [8, 4] end before begin");
}

static void test_size_mismatch(void **state)
{
	expect_json_error(state, "{\"w\":{\"dtype\":\"F32\",\"shape\":[2,3],\"data_offsets\":[0,12]}}", 12,
			  TRMX_EFORMAT,
			  "tensor 'w': data_offsets [0, 12] hold 12 bytes but shape [2, 3] of F32 needs 24");
	expect_json_error(state, "{\"w\":{\"dtype\":\"BF16\",\"shape\":[],\"data_offsets\":[0,4]}}", 4,
			  TRMX_EFORMAT, "shape [] of BF16 needs 2");
}

static void test_overlap(void **state)
{
	expect_json_error(state,
			  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
			  "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
			  12, TRMX_EFORMAT, "tensors 'a' and 'b' overlap");
	/* The same range twice. */
	expect_json_error(state,
			  "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
			  "\"a\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
			  8, TRMX_EFORMAT, "tensors 'a' and 'b' overlap");
	/* A zero-size tensor inside another. */
	expect_json_error(state,
			  "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
			  "\"z\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[4,4]}}",
			  8, TRMX_EFORMAT, "tensors 'a' and 'z' overlap");
}

static void test_hole(void **state)
{
	expect_json_error(state,
			  "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			  "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[8,12]}}",
			  12, TRMX_EFORMAT, "bytes [4, 8) of the data area belong to no tensor");
	expect_json_error(state, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}", 8,
			  TRMX_EFORMAT, "bytes [0, 4) of the data area belong to no tensor");
	expect_json_error(state, "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 8,
			  TRMX_EFORMAT, "bytes [4, 8) of the data area belong to no tensor (a hole at the end)");
	expect_json_error(state, "{}", 3, TRMX_EFORMAT, "bytes [0, 3) of the data area belong to no tensor");
}

static void test_duplicate_names(void **state)
{
	expect_json_error(state,
			  "{\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			  "\"a\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
			  8, TRMX_EFORMAT, "duplicate object key");
	/* Different spellings of one state-dict name would make lookups ambiguous. */
	expect_json_error(state,
			  "{\"model.inner.lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},"
			  "\"_orig_mod.lm_head.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
			  8, TRMX_EFORMAT, "have the same name once '_orig_mod.' and 'model.inner.' are stripped");
}

static void test_bad_names(void **state)
{
	char *json = malloc(TRMX_SAFETENSORS_NAME_MAX + 128);
	assert_non_null(json);
	expect_json_error(state, "{\"\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}", 4,
			  TRMX_EFORMAT, "a tensor has an empty name");
	strcpy(json, "{\"");
	memset(json + 2, 'n', TRMX_SAFETENSORS_NAME_MAX + 1);
	strcpy(json + 3 + TRMX_SAFETENSORS_NAME_MAX,
	       "\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]}}");
	expect_json_error(state, json, 4, TRMX_ELIMIT, "TRMX_SAFETENSORS_NAME_MAX");
	free(json);
}

static void test_too_many_tensors(void **state)
{
	size_t n = (size_t)(TRMX_SAFETENSORS_TENSORS_MAX + 1) * 64 + 16, used = 0;
	char *json = malloc(n);
	assert_non_null(json);
	used += (size_t)snprintf(json + used, n - used, "{");
	for (int i = 0; i <= TRMX_SAFETENSORS_TENSORS_MAX; i++)
		used += (size_t)snprintf(json + used, n - used,
					 "%s\"t%d\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]}",
					 i ? "," : "", i);
	snprintf(json + used, n - used, "}");
	expect_json_error(state, json, 0, TRMX_ELIMIT, "more than TRMX_SAFETENSORS_TENSORS_MAX");
	free(json);
}

/* ---- Good inputs --------------------------------------------------------------------------- */

static void test_round_trip(void **state)
{
	struct fx *fx = *state;
	char *path = tu_path(fx->dir, "rt.safetensors");
	trmx_error err = { 0 };
	trmx_weights_writer *wr = NULL;
	const float f32[6] = { 1.5f, -2.0f, 3.25f, 0.0f, -0.0f, 1e-30f };
	const uint16_t bf16[3] = { 0x3f80, 0xc000, 0x7f80 }; /* 1, -2, inf */
	const int32_t i32[4] = { -1, 0, 2147483647, -2147483647 - 1 };
	const int64_t s23[2] = { 2, 3 }, s3[1] = { 3 }, s221[3] = { 2, 2, 1 };

	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "model.inner.w", TRMX_DTYPE_F32, 2, s23, f32, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "b", TRMX_DTYPE_BF16, 1, s3, bf16, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "a", TRMX_DTYPE_I32, 3, s221, i32, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "scalar", TRMX_DTYPE_I32, 0, NULL, i32, &err), err);
	assert_trmx_ok(trmx_weights_writer_write(wr, path, &err), err);
	trmx_weights_writer_free(wr);

	trmx_weights *w = open_ok(path);
	assert_int_equal(trmx_weights_count(w), 4);
	const trmx_tensor_view *v = trmx_weights_at(w, 0);
	assert_string_equal(v->name, "model.inner.w");
	assert_int_equal(v->dtype, TRMX_DTYPE_F32);
	assert_int_equal(v->ndim, 2);
	assert_int_equal(v->shape[0], 2);
	assert_int_equal(v->shape[1], 3);
	assert_int_equal(v->nbytes, sizeof f32);
	assert_memory_equal(v->data, f32, sizeof f32);
	v = trmx_weights_at(w, 1);
	assert_string_equal(v->name, "b");
	assert_int_equal(v->dtype, TRMX_DTYPE_BF16);
	assert_memory_equal(v->data, bf16, sizeof bf16);
	v = trmx_weights_at(w, 2);
	assert_string_equal(v->name, "a");
	assert_int_equal(v->dtype, TRMX_DTYPE_I32);
	assert_int_equal(v->ndim, 3);
	assert_int_equal(v->shape[2], 1);
	assert_memory_equal(v->data, i32, sizeof i32);
	v = trmx_weights_at(w, 3);
	assert_string_equal(v->name, "scalar");
	assert_int_equal(v->ndim, 0);
	assert_int_equal(v->nbytes, 4);
	assert_memory_equal(v->data, i32, 4);
	assert_null(trmx_weights_at(w, 4));
	assert_int_equal(trmx_weights_metadata_count(w), 0);
	trmx_weights_free(w);

	/* The data area starts at a multiple of 8 and the tensors are contiguous. */
	size_t len;
	unsigned char *bytes = tu_read_file(path, &len);
	assert_non_null(bytes);
	uint64_t hlen = 0;
	for (int i = 7; i >= 0; i--)
		hlen = hlen << 8 | bytes[i];
	assert_int_equal((8 + hlen) % 8, 0);
	assert_int_equal(len, 8 + hlen + sizeof f32 + sizeof bf16 + sizeof i32 + 4);
	free(bytes);
	free(path);
}

static void test_file_order(void **state)
{
	/* Keys listed out of offset order: trmx_weights_at follows the offsets. */
	struct fx *fx = *state;
	char *path = put_json(fx,
			      "{\"z\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[3,5]},"
			      "\"empty\":{\"dtype\":\"F32\",\"shape\":[0,7],\"data_offsets\":[3,3]},"
			      "\"y\":{\"dtype\":\"U8\",\"shape\":[3],\"data_offsets\":[0,3]}}",
			      5);
	trmx_weights *w = open_ok(path);
	assert_int_equal(trmx_weights_count(w), 3);
	assert_string_equal(trmx_weights_at(w, 0)->name, "y");
	assert_string_equal(trmx_weights_at(w, 1)->name, "empty");
	assert_string_equal(trmx_weights_at(w, 2)->name, "z");
	assert_int_equal(((const unsigned char *)trmx_weights_at(w, 2)->data)[0], 3);
	assert_int_equal(trmx_weights_at(w, 1)->nbytes, 0);
	trmx_weights_free(w);
	free(path);
}

static void test_lookup_prefixes(void **state)
{
	struct fx *fx = *state;
	char *path = put_json(fx,
			      "{\"_orig_mod.model.inner.lm_head.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
			      "\"model.inner.embed_tokens.embedding_weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
			      "\"_orig_mod.q_head.bias\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
			      "\"plain\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}",
			      4);
	trmx_weights *w = open_ok(path);
	const trmx_tensor_view *lm = trmx_weights_find(w, "lm_head.weight");
	assert_non_null(lm);
	assert_string_equal(lm->name, "_orig_mod.model.inner.lm_head.weight");
	assert_ptr_equal(trmx_weights_find(w, "model.inner.lm_head.weight"), lm);
	assert_ptr_equal(trmx_weights_find(w, "_orig_mod.model.inner.lm_head.weight"), lm);
	assert_ptr_equal(trmx_weights_find(w, "_orig_mod.lm_head.weight"), lm);
	const trmx_tensor_view *emb = trmx_weights_find(w, "embed_tokens.embedding_weight");
	assert_non_null(emb);
	assert_ptr_equal(trmx_weights_find(w, "_orig_mod.model.inner.embed_tokens.embedding_weight"), emb);
	assert_non_null(trmx_weights_find(w, "q_head.bias"));
	assert_non_null(trmx_weights_find(w, "model.inner.q_head.bias"));
	assert_non_null(trmx_weights_find(w, "plain"));
	/* Only leading prefixes are stripped, in that order. */
	assert_null(trmx_weights_find(w, "head.weight"));
	assert_null(trmx_weights_find(w, "model.inner._orig_mod.lm_head.weight"));
	assert_null(trmx_weights_find(w, "inner.lm_head.weight"));
	assert_null(trmx_weights_find(w, "absent"));
	assert_null(trmx_weights_find(w, NULL));
	assert_null(trmx_weights_find(NULL, "plain"));
	trmx_weights_free(w);
	free(path);
}

static void test_metadata(void **state)
{
	struct fx *fx = *state;
	char *path = put_json(fx,
			      "{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
			      "\"__metadata__\":{\"format\":\"pt\",\"hidden_size\":\"512\",\"name\":\"caf\\u00e9\"}}",
			      1);
	const char *k, *v;
	trmx_weights *w = open_ok(path);
	assert_int_equal(trmx_weights_count(w), 1);
	assert_int_equal(trmx_weights_metadata_count(w), 3);
	trmx_weights_metadata_at(w, 0, &k, &v);
	assert_string_equal(k, "format");
	assert_string_equal(v, "pt");
	trmx_weights_metadata_at(w, 2, &k, &v);
	assert_string_equal(k, "name");
	assert_string_equal(v, "caf\xc3\xa9");
	trmx_weights_metadata_at(w, 3, &k, &v);
	assert_null(k);
	assert_null(v);
	assert_string_equal(trmx_weights_metadata(w, "hidden_size"), "512");
	assert_null(trmx_weights_metadata(w, "absent"));
	trmx_weights_free(w);
	free(path);
}

/* A writer with fixed contents, so two of them must produce the same bytes. */
static trmx_weights_writer *fixed_writer(void)
{
	trmx_error err = { 0 };
	trmx_weights_writer *wr = NULL;
	const float x[3] = { 1, 2, 3 };
	const int64_t s[1] = { 3 };
	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "x", TRMX_DTYPE_F32, 1, s, x, &err), err);
	assert_trmx_ok(trmx_weights_writer_set_metadata(wr, "arch", "trm", &err), err);
	assert_trmx_ok(trmx_weights_writer_set_metadata(wr, "hidden_size", "64", &err), err);
	assert_trmx_ok(trmx_weights_writer_set_metadata(wr, "arch", "trm2", &err), err); /* replaces */
	return wr;
}

static void test_writer_deterministic(void **state)
{
	struct fx *fx = *state;
	char *p1 = tu_path(fx->dir, "1.safetensors"), *p2 = tu_path(fx->dir, "2.safetensors");
	trmx_error err = { 0 };
	trmx_weights_writer *a = fixed_writer(), *b = fixed_writer();
	size_t l1, l2;

	assert_trmx_ok(trmx_weights_writer_write(a, p1, &err), err);
	assert_trmx_ok(trmx_weights_writer_write(b, p2, &err), err);
	char *c1 = tu_read_file(p1, &l1), *c2 = tu_read_file(p2, &l2);
	assert_non_null(c1);
	assert_non_null(c2);
	assert_int_equal(l1, l2);
	assert_memory_equal(c1, c2, l1);
	/* The exact header: __metadata__ first, compact JSON, spaces up to a multiple of 8. */
	static const char want[] = "{\"__metadata__\":{\"arch\":\"trm2\",\"hidden_size\":\"64\"},"
				   "\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
	size_t hlen = (sizeof want - 1 + 7) / 8 * 8;
	assert_int_equal((unsigned char)c1[0], hlen);
	assert_memory_equal(c1 + 8, want, sizeof want - 1);
	for (size_t i = sizeof want - 1; i < hlen; i++)
		assert_int_equal(c1[8 + i], ' ');
	assert_int_equal(l1, 8 + hlen + 12);
	free(c1);
	free(c2);

	/* Writing again from the same writer gives the same bytes too. */
	assert_trmx_ok(trmx_weights_writer_write(a, p2, &err), err);
	c2 = tu_read_file(p2, &l2);
	c1 = tu_read_file(p1, &l1);
	assert_int_equal(l1, l2);
	assert_memory_equal(c1, c2, l1);
	free(c1);
	free(c2);

	trmx_weights *w = open_ok(p1);
	assert_string_equal(trmx_weights_metadata(w, "arch"), "trm2");
	assert_int_equal(trmx_weights_metadata_count(w), 2);
	trmx_weights_free(w);
	trmx_weights_writer_free(a);
	trmx_weights_writer_free(b);
	free(p1);
	free(p2);
}

static void test_empty_weights(void **state)
{
	struct fx *fx = *state;
	char *path = tu_path(fx->dir, "none.safetensors");
	trmx_error err = { 0 };
	trmx_weights_writer *wr = NULL;
	size_t len;

	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	assert_trmx_ok(trmx_weights_writer_write(wr, path, &err), err);
	trmx_weights_writer_free(wr);
	char *c = tu_read_file(path, &len);
	assert_non_null(c);
	assert_int_equal(len, 16);
	assert_memory_equal(c, "\x08\0\0\0\0\0\0\0{}      ", 16);
	free(c);
	trmx_weights *w = open_ok(path);
	assert_int_equal(trmx_weights_count(w), 0);
	assert_null(trmx_weights_at(w, 0));
	assert_null(trmx_weights_find(w, "x"));
	trmx_weights_free(w);
	free(path);

	/* The smallest valid file: "{}" and nothing else. */
	path = put_json(fx, "{}", 0);
	w = open_ok(path);
	assert_int_equal(trmx_weights_count(w), 0);
	trmx_weights_free(w);
	free(path);
	trmx_weights_free(NULL);
	trmx_weights_writer_free(NULL);
}

static void test_writer_errors(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	trmx_weights_writer *wr = NULL;
	const float x[2] = { 1, 2 };
	const int64_t s[TRMX_MAX_DIMS + 1] = { 2, 1, 1, 1, 1, 1, 1, 1, 1 }, neg[1] = { -2 };
	char *bad_dir = tu_path(fx->dir, "no/such/dir/w.safetensors");

	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "model.inner.x", TRMX_DTYPE_F32, 1, s, x, &err), err);
	assert_trmx_error(trmx_weights_writer_add(wr, "model.inner.x", TRMX_DTYPE_F32, 1, s, x, &err),
			  err, TRMX_EINVAL, "name already used by 'model.inner.x'");
	assert_trmx_error(trmx_weights_writer_add(wr, "_orig_mod.x", TRMX_DTYPE_F32, 1, s, x, &err),
			  err, TRMX_EINVAL, "name already used");
	assert_trmx_error(trmx_weights_writer_add(wr, "y", TRMX_DTYPE_COUNT, 1, s, x, &err), err,
			  TRMX_EDTYPE, "unknown dtype");
	assert_trmx_error(trmx_weights_writer_add(wr, "y", TRMX_DTYPE_F32, 1, neg, x, &err), err,
			  TRMX_EINVAL, "shape [-2]");
	assert_trmx_error(trmx_weights_writer_add(wr, "y", TRMX_DTYPE_F32, TRMX_MAX_DIMS + 1, s, x, &err),
			  err, TRMX_EINVAL, "9 dims");
	assert_trmx_error(trmx_weights_writer_add(wr, "", TRMX_DTYPE_F32, 1, s, x, &err), err,
			  TRMX_EINVAL, "non-empty");
	assert_trmx_error(trmx_weights_writer_add(wr, "__metadata__", TRMX_DTYPE_F32, 1, s, x, &err),
			  err, TRMX_EINVAL, "__metadata__");
	assert_trmx_error(trmx_weights_writer_add(wr, "bad\xff", TRMX_DTYPE_F32, 1, s, x, &err), err,
			  TRMX_EINVAL, "UTF-8");
	assert_trmx_error(trmx_weights_writer_add(wr, "y", TRMX_DTYPE_F32, 1, s, NULL, &err), err,
			  TRMX_EINVAL, "NULL data");
	assert_trmx_error(trmx_weights_writer_set_metadata(wr, "", "v", &err), err, TRMX_EINVAL,
			  "non-empty");

	/* A failed write leaves nothing behind. */
	tu_snapshot *before = tu_snapshot_take(fx->dir);
	assert_trmx_error(trmx_weights_writer_write(wr, bad_dir, &err), err, TRMX_EIO,
			  "cannot create a temporary file");
	assert_tree_unchanged(before, fx->dir);
	tu_snapshot_free(before);

	/* The failed adds changed nothing: one tensor gets written. */
	char *path = tu_path(fx->dir, "ok.safetensors");
	assert_trmx_ok(trmx_weights_writer_write(wr, path, &err), err);
	trmx_weights *w = open_ok(path);
	assert_int_equal(trmx_weights_count(w), 1);
	assert_non_null(trmx_weights_find(w, "x"));
	trmx_weights_free(w);
	trmx_weights_writer_free(wr);
	free(path);
	free(bad_dir);
}

static void test_unaligned_data(void **state)
{
	/* A 3-byte tensor first: the F32 after it starts at an odd address; reading it is the
	 * caller's concern (memcpy), the reader must simply point at it. */
	struct fx *fx = *state;
	trmx_error err = { 0 };
	trmx_weights_writer *wr = NULL;
	const uint8_t b[3] = { 7, 8, 9 };
	const float f[2] = { 0.5f, -4.0f };
	const int64_t s3[1] = { 3 }, s2[1] = { 2 };
	float got[2];
	char *path = tu_path(fx->dir, "u.safetensors");

	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "bytes", TRMX_DTYPE_U8, 1, s3, b, &err), err);
	assert_trmx_ok(trmx_weights_writer_add(wr, "floats", TRMX_DTYPE_F32, 1, s2, f, &err), err);
	assert_trmx_ok(trmx_weights_writer_write(wr, path, &err), err);
	trmx_weights_writer_free(wr);
	trmx_weights *w = open_ok(path);
	const trmx_tensor_view *v = trmx_weights_find(w, "floats");
	assert_non_null(v);
	memcpy(got, v->data, sizeof got);
	assert_memory_equal(got, f, sizeof f);
	trmx_weights_free(w);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_length, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_header, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncated_data, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_too_large, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_not_utf8, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed_json, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_an_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_not_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_not_string, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_dtype, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_shape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_not_pair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_outside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_offsets_reversed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_size_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_overlap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hole, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_names, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_many_tensors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lookup_prefixes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_metadata, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_deterministic, setup, teardown),
		cmocka_unit_test_setup_teardown(test_empty_weights, setup, teardown),
		cmocka_unit_test_setup_teardown(test_writer_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_data, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
