/*
 * test_index.c — the module index library (registry/index.c, trmx/index.h): index.json parsed
 * strictly (each malformed class with its exact code), the signature against the trusted key,
 * freshness (rollback, expiry, a changed index under the same version), publishing into a
 * folder (versions, refusals leaving the folder as it was, the one signer), and the written
 * form read back. The network side is tests/http/index.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test_registry_fixture.h"
#include "trmx/index.h"

struct fx {
	char *dir;      /* scratch */
	char *pkg_a, *pkg_b;
	char key[4096], other[4096];
	trmx_public_key pub, other_pub;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char path[4200];
	trmx_error err;
	if (!f)
		return -1;
	*state = f; /* teardown frees what was made, also after a failure here */
	if (!(f->dir = tu_tmpdir()))
		return -1;
	struct fx_module b = { .version = "0.2.0" };
	f->pkg_a = fx_package(f->dir, "a", NULL);
	f->pkg_b = fx_package(f->dir, "b", &b);
	snprintf(f->key, sizeof f->key, "%s/pub", f->dir);
	snprintf(f->other, sizeof f->other, "%s/other", f->dir);
	if (trmx_key_generate(f->key, "publisher", NULL, &err) < 0 || trmx_key_generate(f->other, "other", NULL, &err) < 0)
		return -1;
	snprintf(path, sizeof path, "%s.pub", f->key);
	if (trmx_public_key_load(&f->pub, path, &err) < 0)
		return -1;
	snprintf(path, sizeof path, "%s.pub", f->other);
	if (trmx_public_key_load(&f->other_pub, path, &err) < 0)
		return -1;
	strcat(f->key, ".key");
	strcat(f->other, ".key");
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	if (!f)
		return 0;
	fx_rmtree(f->dir);
	free(f->dir);
	free(f->pkg_a);
	free(f->pkg_b);
	free(f);
	return 0;
}

static const char good[] =
	"{\"format\": \"trmx-index-1\", \"version\": 3, \"expires\": \"2030-01-01T00:00:00Z\", \"packages\": ["
	"{\"name\": \"sudoku4\", \"version\": \"1.1.0\", \"digest\": "
	"\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"size\": 10, \"task\": \"sudoku\", "
	"\"engine\": \"trm\", \"metrics\": {\"test\": {\"exact_accuracy\": 0.5}}},"
	"{\"name\": \"sudoku4\", \"version\": \"1.0.0\", \"digest\": "
	"\"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb\", \"size\": 12, \"task\": \"sudoku\", "
	"\"engine\": \"trm\", \"signer\": \"0123456789abcdef\", \"description\": \"x\"}]}";

static void parse_good(void **state)
{
	trmx_index *idx = NULL;
	trmx_error err;
	assert_trmx_ok(trmx_index_parse(&idx, good, strlen(good), "t", &err), err);
	assert_int_equal(trmx_index_version(idx), 3);
	assert_int_equal(trmx_index_expires(idx), 1893456000);
	assert_int_equal(trmx_index_count(idx), 2);
	assert_string_equal(trmx_index_at(idx, 0)->version, "1.0.0"); /* sorted by SemVer */
	assert_string_equal(trmx_index_lookup(idx, "sudoku4", NULL)->version, "1.1.0");
	assert_int_equal(trmx_index_lookup(idx, "sudoku4", "1.0.0")->size, 12);
	assert_null(trmx_index_lookup(idx, "sudoku4", "2.0.0"));
	assert_null(trmx_index_lookup(idx, "maze", NULL));
	const trmx_index_entry *e = trmx_index_lookup(idx, "sudoku4", "1.1.0");
	assert_int_equal(e->nmetrics, 1);
	assert_true(e->metrics[0].exact_accuracy == 0.5 && e->metrics[0].token_accuracy == -1);
	assert_string_equal(e->signer, "");
	/* written and read back: the same packages */
	char *text = NULL;
	size_t len = 0;
	trmx_index *again = NULL;
	assert_trmx_ok(trmx_index_format(idx, &text, &len, &err), err);
	assert_trmx_ok(trmx_index_parse(&again, text, len, "t2", &err), err);
	assert_int_equal(trmx_index_count(again), 2);
	assert_string_equal(trmx_index_at(again, 1)->digest, trmx_index_at(idx, 1)->digest);
	trmx_index_free(again);
	free(text);
	trmx_index_free(idx);
	trmx_index_free(NULL);
}

static void parse_bad(void **state)
{
	static const struct {
		const char *from, *to;
		int code;
		const char *msg;
	} cases[] = {
		{ "\"version\": 3", "\"version\": 0", TRMX_EFORMAT, "version is not an integer" },
		{ "\"version\": 3", "\"version\": \"3\"", TRMX_EFORMAT, "version is not an integer" },
		{ "trmx-index-1", "trmx-index-9", TRMX_EVERSION, "format is not" },
		{ "2030-01-01T00:00:00Z", "2030-02-30T00:00:00Z", TRMX_EFORMAT, "expires is not a UTC time" },
		{ "2030-01-01T00:00:00Z", "2030-01-01 00:00:00", TRMX_EFORMAT, "expires is not a UTC time" },
		{ "\"packages\"", "\"extra\": 1, \"packages\"", TRMX_EFORMAT, "unknown key 'extra'" },
		{ "\"name\": \"sudoku4\", \"version\": \"1.1.0\"", "\"name\": \"Sudoku4\", \"version\": \"1.1.0\"", TRMX_EFORMAT,
		  "name 'Sudoku4'" },
		{ "\"version\": \"1.1.0\"", "\"version\": \"1.1\"", TRMX_EFORMAT, "is not SemVer" },
		{ "\"version\": \"1.1.0\"", "\"version\": \"1.0.0\"", TRMX_EFORMAT, "listed twice" },
		{ "\"aaaaaaaa", "\"../aaaaa", TRMX_EFORMAT, "digest is not 64" },
		{ "\"size\": 10", "\"size\": -1", TRMX_EFORMAT, "size is not an integer" },
		{ "\"size\": 10", "\"size\": 1e3", TRMX_EFORMAT, "size is not an integer" },
		{ "\"engine\": \"trm\", \"metrics\"", "\"engine\": \"t r\", \"metrics\"", TRMX_EFORMAT, "task and engine" },
		{ "0123456789abcdef", "0123456789ABCDEF", TRMX_EFORMAT, "signer is not a key id" },
		{ "\"exact_accuracy\": 0.5", "\"exact_accuracy\": 1.5", TRMX_EFORMAT, "exact_accuracy" },
		{ "\"description\": \"x\"", "\"description\": \"\\u0007\"", TRMX_EFORMAT, "control characters" },
		{ "\"task\": \"sudoku\", \"engine\": \"trm\", \"metrics\"", "\"engine\": \"trm\", \"metrics\"", TRMX_EFORMAT,
		  "'task' is missing" },
		{ "\"version\": 3,", "\"version\": 3, \"version\": 4,", TRMX_EFORMAT, "not JSON" },
		{ "]}", "]", TRMX_EFORMAT, "not JSON" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char *text = fx_replace(good, cases[i].from, cases[i].to);
		trmx_index *idx = NULL;
		trmx_error err = { 0, "" };
		assert_string_not_equal(text, good);
		int rc = trmx_index_parse(&idx, text, strlen(text), "t", &err);
		if (rc != cases[i].code || !strstr(err.message, cases[i].msg))
			fail_msg("case %zu (%s): got %d '%s'", i, cases[i].to, rc, err.message);
		assert_null(idx);
		free(text);
	}
	trmx_index *idx = NULL;
	trmx_error err;
	assert_trmx_error(trmx_index_parse(&idx, "[]", 2, "t", &err), err, TRMX_EFORMAT, "not a JSON object");
	assert_trmx_error(trmx_index_parse(&idx, good, TRMX_INDEX_FILE_MAX + 1ul, "t", &err), err, TRMX_ELIMIT,
			  "TRMX_INDEX_FILE_MAX");
}

/* Publish a then b into dir; the index.json and .sig bytes. */
static void publish_two(struct fx *f, const char *dir, char **json, size_t *jlen, char **sig, size_t *slen)
{
	trmx_error err;
	trmx_publish_result r;
	assert_trmx_ok(trmx_index_publish(f->pkg_a, dir, f->key, NULL, &r, &err), err);
	assert_int_equal(r.index_version, 1);
	assert_false(r.already);
	assert_trmx_ok(trmx_index_publish(f->pkg_a, dir, f->key, NULL, &r, &err), err);
	assert_true(r.already);
	assert_int_equal(r.index_version, 1);
	assert_trmx_ok(trmx_index_publish(f->pkg_b, dir, f->key, NULL, &r, &err), err);
	assert_int_equal(r.index_version, 2);
	char *jp = tu_path(dir, "index.json"), *sp = tu_path(dir, "index.json.sig");
	*json = tu_read_file(jp, jlen);
	*sig = tu_read_file(sp, slen);
	assert_non_null(*json);
	assert_non_null(*sig);
	free(jp);
	free(sp);
}

static void publish_and_open(void **state)
{
	struct fx *f = *state;
	char *dir = tu_path(f->dir, "idx"), *json, *sig;
	size_t jlen, slen;
	trmx_error err;
	publish_two(f, dir, &json, &jlen, &sig, &slen);
	trmx_index *idx = NULL;
	int64_t now = (int64_t)time(NULL);
	assert_trmx_ok(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now, 0, NULL, &err), err);
	assert_int_equal(trmx_index_count(idx), 2);
	assert_string_equal(trmx_index_signer(idx), f->pub.key_id);
	char d[TRMX_SHA256_HEX_SIZE];
	trmx_sha256_hex(json, jlen, d);
	char path[8192];
	snprintf(path, sizeof path, "%s/packages/%s.trmx", dir, trmx_index_lookup(idx, "sudoku4-tiny", "0.2.0")->digest);
	assert_int_equal(access(path, R_OK), 0);
	trmx_index_free(idx);
	idx = NULL;
	/* the same version, the same bytes: fine; seen newer: a rollback */
	assert_trmx_ok(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now, 2, d, &err), err);
	trmx_index_free(idx);
	idx = NULL;
	assert_trmx_error(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now, 3, NULL, &err), err, TRMX_EINTEGRITY,
			  "older than version 3");
	assert_trmx_error(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now, 2,
					  "0000000000000000000000000000000000000000000000000000000000000000", &err),
			  err, TRMX_EINTEGRITY, "changed without a new version");
	assert_trmx_error(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now + 31 * 86400, 0, NULL, &err), err,
			  TRMX_EINTEGRITY, "expired");
	assert_trmx_error(trmx_index_open(&idx, json, jlen, sig, slen, &f->other_pub, now, 0, NULL, &err), err,
			  TRMX_EINTEGRITY, "not by its trusted signer");
	json[jlen / 2] ^= 1;
	assert_trmx_error(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now, 0, NULL, &err), err, TRMX_EINTEGRITY,
			  "bad index signature");
	json[jlen / 2] ^= 1;
	sig[0] = 'F';
	assert_trmx_error(trmx_index_open(&idx, json, jlen, sig, slen, &f->pub, now, 0, NULL, &err), err, TRMX_EFORMAT,
			  "index.json.sig: line 1");
	assert_trmx_error(trmx_index_open(&idx, json, jlen, NULL, 0, &f->pub, now, 0, NULL, &err), err, TRMX_EFORMAT,
			  "not a signature file");
	assert_null(idx);
	free(json);
	free(sig);
	free(dir);
}

static void publish_refusals(void **state)
{
	struct fx *f = *state;
	char *dir = tu_path(f->dir, "idx2"), *json, *sig;
	size_t jlen, slen;
	trmx_error err;
	publish_two(f, dir, &json, &jlen, &sig, &slen);
	tu_snapshot *before = tu_snapshot_take(dir);
	assert_non_null(before);
	/* another key on this index */
	struct fx_module c = { .version = "0.3.0" };
	char *pkg_c = fx_package(f->dir, "c", &c);
	assert_trmx_error(trmx_index_publish(pkg_c, dir, f->other, NULL, NULL, &err), err, TRMX_EINTEGRITY,
			  "does not verify with");
	assert_tree_unchanged(before, dir);
	/* another package under a listed name and version */
	struct fx_module a2 = { .version = "0.1.0", .metric_from = "token_accuracy: 0.15625", .metric_to = "token_accuracy: 0.15" };
	char *pkg_a2 = fx_package(f->dir, "a2", &a2);
	assert_trmx_error(trmx_index_publish(pkg_a2, dir, f->key, NULL, NULL, &err), err, TRMX_EINVAL,
			  "a new package needs a new version");
	assert_tree_unchanged(before, dir);
	/* a damaged package */
	size_t len;
	char *bytes = tu_read_file(pkg_c, &len), *bad = tu_path(f->dir, "bad.trmx");
	bytes[len / 2] ^= 0x55;
	assert_int_equal(tu_write_file(bad, bytes, len), 0);
	int rc = trmx_index_publish(bad, dir, f->key, NULL, NULL, &err);
	assert_true(rc < 0);
	assert_non_null(strstr(err.message, "does not verify; not published"));
	assert_tree_unchanged(before, dir);
	tu_snapshot_free(before);
	free(bytes);
	free(bad);
	free(pkg_c);
	free(pkg_a2);
	free(json);
	free(sig);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parse_good),
		cmocka_unit_test(parse_bad),
		cmocka_unit_test(publish_and_open),
		cmocka_unit_test(publish_refusals),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
