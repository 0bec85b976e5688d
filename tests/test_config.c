/*
 * test_config.c — architecture configs: flat YAML files, official all_config.yaml files (the
 * `arch:` mapping beside training settings that hold sequences), ${.key} interpolation, every
 * refusal (exact code, file:line:column and key path in the message, *out untouched, nothing
 * changed on disk), the container API and trmx_config_from_metadata.
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
	char *path; /* dir/config.yaml */
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	if (!fx || !(fx->dir = tu_tmpdir()))
		return -1;
	fx->path = tu_path(fx->dir, "config.yaml");
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

static trmx_config *load_ok(struct fx *fx, const char *yaml)
{
	trmx_error err = { 0 };
	trmx_config *c = NULL;
	assert_int_equal(tu_write_text(fx->path, yaml), 0);
	assert_trmx_ok(trmx_config_load_yaml(&c, fx->path, &err), err);
	assert_non_null(c);
	return c;
}

/* Loading `yaml` must fail with `code` and `substr` (which, for errors with a position, should
 * include ":line:column:"), name the file, and leave *out and the disk alone. */
static void expect_load_error(void **state, const char *yaml, int code, const char *substr)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	trmx_config *const sentinel = (trmx_config *)fx;
	trmx_config *c = sentinel;
	if (yaml)
		assert_int_equal(tu_write_text(fx->path, yaml), 0);
	tu_snapshot *before = tu_snapshot_take(fx->dir);
	assert_non_null(before);
	assert_trmx_error(trmx_config_load_yaml(&c, fx->path, &err), err, code, substr);
	assert_ptr_equal(c, sentinel);
	if (!strstr(err.message, fx->path))
		fail_msg("message does not name the file: %s", err.message);
	assert_tree_unchanged(before, fx->dir);
	tu_snapshot_free(before);
}

/* The config holds exactly `n` pairs, in this order. */
static void expect_pairs(const trmx_config *c, const char *const *pairs, size_t n)
{
	assert_int_equal(trmx_config_count(c), n);
	for (size_t i = 0; i < n; i++) {
		const char *k, *v;
		trmx_config_at(c, i, &k, &v);
		assert_string_equal(k, pairs[2 * i]);
		assert_string_equal(v, pairs[2 * i + 1]);
		assert_string_equal(trmx_config_get(c, k), v);
	}
}

/* ---- Good inputs --------------------------------------------------------------------------- */

static void test_flat(void **state)
{
	static const char *const want[] = {
		"hidden_size", "512",   "name", "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
		"H_cycles",    "3",     "quoted", "007",
		"empty",       "",      "flag", "True",
		"lr",          "1e-4",  "text", "two words: here",
	};
	trmx_config *c = load_ok(*state, "# a comment\n"
					  "hidden_size: 512\n"
					  "name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1\n"
					  "H_cycles: 3   # trailing comment\n"
					  "quoted: '007'\n"
					  "empty:\n"
					  "flag: True\n"
					  "lr: 1e-4\n"
					  "text: \"two words: here\"\n");
	expect_pairs(c, want, sizeof want / sizeof *want / 2);
	assert_null(trmx_config_get(c, "absent"));
	trmx_config_free(c);
}

static void test_official_arch(void **state)
{
	/* The shape of an official all_config.yaml: training settings (with sequences) around the
	 * arch mapping, which alone is read. */
	static const char *const want[] = {
		"name",           "recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1",
		"loss.name",      "losses@ACTLossHead",
		"loss.loss_type", "stablemax_cross_entropy",
		"halt_exploration_prob", "0.1",
		"halt_max_steps", "16",
		"H_cycles",       "3",
		"hidden_size",    "512",
		"puzzle_emb_ndim", "512",
		"pos_encodings",  "rope",
	};
	trmx_config *c = load_ok(*state,
				 "data_paths:\n"
				 "- data/sudoku-extreme-1k-aug-1000\n"
				 "evaluators: []\n"
				 "global_batch_size: 768\n"
				 "arch:\n"
				 "  name: recursive_reasoning.trm@TinyRecursiveReasoningModel_ACTV1\n"
				 "  loss:\n"
				 "    name: losses@ACTLossHead\n"
				 "    loss_type: stablemax_cross_entropy\n"
				 "  halt_exploration_prob: 0.1\n"
				 "  halt_max_steps: 16\n"
				 "  H_cycles: 3\n"
				 "  hidden_size: 512\n"
				 "  puzzle_emb_ndim: ${.hidden_size}\n"
				 "  pos_encodings: rope\n"
				 "lr: 1e-4\n"
				 "ema: true\n");
	expect_pairs(c, want, sizeof want / sizeof *want / 2);
	assert_null(trmx_config_get(c, "lr"));
	assert_null(trmx_config_get(c, "arch.name"));
	trmx_config_free(c);

	/* The same with the `architecture` spelling (a trmx manifest), first in the file. */
	static const char *const want2[] = { "name", "trm", "hidden_size", "64" };
	c = load_ok(*state, "architecture:\n  name: trm\n  hidden_size: 64\nweights: w.safetensors\n");
	expect_pairs(c, want2, 2);
	trmx_config_free(c);

	/* `arch` holding a scalar is an ordinary key: the whole top level is read. */
	static const char *const want3[] = { "arch", "trm", "hidden_size", "64" };
	c = load_ok(*state, "arch: trm\nhidden_size: 64\n");
	expect_pairs(c, want3, 2);
	trmx_config_free(c);
}

static void test_interpolation(void **state)
{
	static const char *const want[] = {
		"early",        "7",              /* forward reference */
		"a",            "7",              /* chain a -> b -> c */
		"b",            "7",
		"c",            "7",
		"loss.x",       "5",              /* sibling inside a nested mapping */
		"loss.y",       "5",
		"loss.z",       "5",              /* ${.deep.v} reaches into a child mapping */
		"loss.deep.v",  "5",
		"absolute",     "${hidden_size}", /* other interpolations are kept as text */
		"with_text",    "${.c} px",
		"quoted",       "7",
	};
	trmx_config *c = load_ok(*state, "early: ${.a}\n"
					  "a: ${.b}\n"
					  "b: ${.c}\n"
					  "c: 7\n"
					  "loss:\n"
					  "  x: 5\n"
					  "  y: ${.x}\n"
					  "  z: ${.deep.v}\n"
					  "  deep:\n"
					  "    v: ${..x}\n"
					  "absolute: ${hidden_size}\n"
					  "with_text: ${.c} px\n"
					  "quoted: '${.c}'\n");
	/* ${..x} (the parent's x) is not the ${.key} form: kept literally, so deep.v and z are
	 * literal too. Check that first, then the rest. */
	assert_string_equal(trmx_config_get(c, "loss.deep.v"), "${..x}");
	assert_string_equal(trmx_config_get(c, "loss.z"), "${..x}");
	trmx_config_free(c);

	c = load_ok(*state, "early: ${.a}\n"
			    "a: ${.b}\n"
			    "b: ${.c}\n"
			    "c: 7\n"
			    "loss:\n"
			    "  x: 5\n"
			    "  y: ${.x}\n"
			    "  z: ${.deep.v}\n"
			    "  deep:\n"
			    "    v: 5\n"
			    "absolute: ${hidden_size}\n"
			    "with_text: ${.c} px\n"
			    "quoted: '${.c}'\n");
	expect_pairs(c, want, sizeof want / sizeof *want / 2);
	trmx_config_free(c);
}

/* ---- Refusals ------------------------------------------------------------------------------ */

static void test_missing_file(void **state)
{
	expect_load_error(state, NULL, TRMX_ENOTFOUND, "cannot open");
}

static void test_sequence(void **state)
{
	expect_load_error(state, "a: 1\nlist:\n  - 1\n  - 2\n", TRMX_EFORMAT,
			  ":3:3: key 'list': sequences are not supported");
	expect_load_error(state, "loss:\n  name: x\n  ids: [1, 2]\n", TRMX_EFORMAT,
			  ":3:8: key 'loss.ids': sequences are not supported");
	/* Inside the arch mapping too (outside it they are allowed: see test_official_arch). */
	expect_load_error(state, "data: [1]\narch:\n  layers: [1, 2]\n", TRMX_EFORMAT,
			  ":3:11: key 'layers': sequences are not supported");
}

static void test_anchor_alias(void **state)
{
	expect_load_error(state, "a: &x 1\nb: *x\n", TRMX_EFORMAT,
			  ":1:4: key 'a': anchors (&x) are not supported");
	expect_load_error(state, "a: 1\nb: *x\n", TRMX_EFORMAT,
			  ":2:4: key 'b': aliases (*x) are not supported");
	expect_load_error(state, "base: &b\n  x: 1\nderived:\n  <<: *b\n", TRMX_EFORMAT,
			  "key 'base': anchors (&b) are not supported");
	expect_load_error(state, "derived:\n  <<: *b\n", TRMX_EFORMAT,
			  ":2:7: key 'derived.<<': aliases (*b) are not supported");
	expect_load_error(state, "&k a: 1\n", TRMX_EFORMAT, "anchors (&k) are not supported");
	expect_load_error(state, "arch: &a\n  x: 1\n", TRMX_EFORMAT, "key 'arch': anchors (&a)");
}

static void test_duplicate_key(void **state)
{
	expect_load_error(state, "a: 1\nb: 2\na: 3\n", TRMX_EFORMAT, ":3:1: key 'a': duplicate key");
	expect_load_error(state, "loss:\n  x: 1\nloss:\n  y: 2\n", TRMX_EFORMAT,
			  ":3:1: key 'loss': duplicate key");
	expect_load_error(state, "loss:\n  x: 1\n  x: 2\n", TRMX_EFORMAT,
			  ":3:3: key 'loss.x': duplicate key");
	/* A dotted key and a nested one that spell the same path. */
	expect_load_error(state, "a.b: 1\na:\n  b: 2\n", TRMX_EFORMAT, "key 'a.b': duplicate key");
	expect_load_error(state, "arch:\n  x: 1\narch:\n  y: 1\n", TRMX_EFORMAT,
			  ":3:1: key 'arch': duplicate key");
	expect_load_error(state, "arch:\n  x: 1\narchitecture:\n  y: 1\n", TRMX_EFORMAT,
			  "both 'arch' and 'architecture'");
}

static void test_bad_interpolation(void **state)
{
	expect_load_error(state, "hidden_size: 512\npuzzle_emb_ndim: ${.hidden_sise}\n", TRMX_EFORMAT,
			  ":2:18: key 'puzzle_emb_ndim': cannot resolve ${.hidden_sise}: no scalar "
			  "sibling key 'hidden_sise'");
	/* Siblings only: the top-level key is not visible from inside `loss`. */
	expect_load_error(state, "hidden: 5\nloss:\n  b: ${.hidden}\n", TRMX_EFORMAT,
			  "key 'loss.b': cannot resolve ${.hidden}");
	/* A mapping is not a value. */
	expect_load_error(state, "loss:\n  a: 1\nx: ${.loss}\n", TRMX_EFORMAT,
			  "key 'x': cannot resolve ${.loss}");
	expect_load_error(state, "a: ${.b}\nb: ${.a}\n", TRMX_EFORMAT, ":1:4: key 'a': interpolation cycle");
	expect_load_error(state, "a: ${.a}\n", TRMX_EFORMAT, "interpolation cycle");
}

static void test_not_mapping(void **state)
{
	expect_load_error(state, "- a\n- b\n", TRMX_EFORMAT, ":1:1: the top level is not a mapping");
	expect_load_error(state, "just a scalar\n", TRMX_EFORMAT, "the top level is not a mapping");
	expect_load_error(state, "", TRMX_EFORMAT, "empty file: the top level must be a mapping");
	expect_load_error(state, "# only a comment\n", TRMX_EFORMAT, "empty file");
	expect_load_error(state, "a: 1\n---\nb: 2\n", TRMX_EFORMAT, ":2:1: more than one YAML document");
	expect_load_error(state, "? [a, b]\n: 1\n", TRMX_EFORMAT, "a top-level key is not a scalar");
	expect_load_error(state, "m:\n  ? {a: 1}\n  : 1\n", TRMX_EFORMAT, "key 'm': a key is not a scalar");
}

static void test_malformed(void **state)
{
	expect_load_error(state, "a: 1\nb: [1, 2\nc: 3\n", TRMX_EFORMAT, "malformed YAML");
	expect_load_error(state, "a: 1\nb: 'open\n", TRMX_EFORMAT, ":3:1: malformed YAML: found unexpected end of stream");
	expect_load_error(state, "a:\n\tb: 1\n", TRMX_EFORMAT, ":2:1: malformed YAML");
	expect_load_error(state, "a: 1\n b: 2\n", TRMX_EFORMAT, ":2:3: malformed YAML");
	expect_load_error(state, "a: \xff\n", TRMX_EFORMAT, "byte offset 3: malformed YAML: invalid");
	expect_load_error(state, "a: \"x\\0y\"\n", TRMX_EFORMAT, ":1:4: key 'a': the value holds a NUL byte");
}

static void test_limits(void **state)
{
	struct fx *fx = *state;
	size_t n = TRMX_CONFIG_FILE_MAX + 1, used;
	char *big = malloc(n + 4096);
	assert_non_null(big);

	/* File size: a comment making the file one byte too large. */
	memset(big, '#', n);
	big[n - 1] = '\n';
	big[n] = '\0';
	expect_load_error(state, big, TRMX_ELIMIT, "TRMX_CONFIG_FILE_MAX");

	/* Keys. */
	used = 0;
	for (int i = 0; i <= TRMX_CONFIG_KEYS_MAX; i++)
		used += (size_t)snprintf(big + used, n - used, "k%d: %d\n", i, i);
	expect_load_error(state, big, TRMX_ELIMIT, "key 'k256': more than TRMX_CONFIG_KEYS_MAX");
	/* Exactly the limit loads. */
	used = 0;
	for (int i = 0; i < TRMX_CONFIG_KEYS_MAX; i++)
		used += (size_t)snprintf(big + used, n - used, "k%d: %d\n", i, i);
	trmx_config *c = load_ok(fx, big);
	assert_int_equal(trmx_config_count(c), TRMX_CONFIG_KEYS_MAX);
	trmx_config_free(c);

	/* Value length. */
	used = (size_t)snprintf(big, n, "v: ");
	memset(big + used, 'x', TRMX_CONFIG_VALUE_MAX + 1);
	strcpy(big + used + TRMX_CONFIG_VALUE_MAX + 1, "\n");
	expect_load_error(state, big, TRMX_ELIMIT, ":1:4: key 'v': a value of 4097 bytes, more than TRMX_CONFIG_VALUE_MAX");

	/* Dotted key length. */
	memset(big, 'k', TRMX_CONFIG_KEY_MAX + 1);
	strcpy(big + TRMX_CONFIG_KEY_MAX + 1, ": 1\n");
	expect_load_error(state, big, TRMX_ELIMIT, "TRMX_CONFIG_KEY_MAX");

	/* Nesting. */
	used = 0;
	for (int d = 0; d <= TRMX_CONFIG_DEPTH_MAX; d++)
		used += (size_t)snprintf(big + used, n - used, "%*sm%d:\n", 2 * d, "", d);
	snprintf(big + used, n - used, "%*sv: 1\n", 2 * (TRMX_CONFIG_DEPTH_MAX + 1), "");
	expect_load_error(state, big, TRMX_ELIMIT, "TRMX_CONFIG_DEPTH_MAX");

	/* Deep flow nesting anywhere, even outside `arch`: libyaml's scanner is quadratic in it
	 * (a megabyte of '[' takes about an hour), so it is refused at depth 17, at once. */
	used = (size_t)snprintf(big, n, "arch:\n  x: 1\ndata: ");
	memset(big + used, '[', n - used - 2);
	strcpy(big + n - 2, "\n");
	expect_load_error(state, big, TRMX_ELIMIT,
			  ":3:22: collections nested deeper than TRMX_CONFIG_DEPTH_MAX (16)");
	free(big);
}

/* ---- The container and metadata ------------------------------------------------------------ */

static void test_set_get(void **state)
{
	trmx_error err = { 0 };
	trmx_config *c = NULL;
	const char *k, *v;

	assert_trmx_ok(trmx_config_new(&c, &err), err);
	assert_int_equal(trmx_config_count(c), 0);
	assert_trmx_ok(trmx_config_set(c, "a", "1", &err), err);
	assert_trmx_ok(trmx_config_set(c, "b", "2", &err), err);
	assert_trmx_ok(trmx_config_set(c, "a", "3", &err), err); /* replaced in place */
	assert_int_equal(trmx_config_count(c), 2);
	trmx_config_at(c, 0, &k, &v);
	assert_string_equal(k, "a");
	assert_string_equal(v, "3");
	trmx_config_at(c, 1, &k, &v);
	assert_string_equal(k, "b");
	trmx_config_at(c, 2, &k, &v);
	assert_null(k);
	assert_null(v);
	assert_trmx_error(trmx_config_set(c, "", "x", &err), err, TRMX_EINVAL, "empty key");
	assert_trmx_error(trmx_config_set(c, "x", NULL, &err), err, TRMX_EINVAL, "NULL");
	assert_null(trmx_config_get(NULL, "a"));
	assert_int_equal(trmx_config_count(NULL), 0);
	trmx_config_free(c);
	trmx_config_free(NULL);
}

static void test_from_metadata(void **state)
{
	struct fx *fx = *state;
	char *path = tu_path(fx->dir, "w.safetensors");
	trmx_error err = { 0 };
	trmx_weights_writer *wr = NULL;
	trmx_weights *w = NULL;
	trmx_config *c = NULL;
	static const char *const want[] = { "name", "trm", "hidden_size", "512", "loss.name",
					    "losses@ACTLossHead" };

	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	for (size_t i = 0; i < 3; i++)
		assert_trmx_ok(trmx_weights_writer_set_metadata(wr, want[2 * i], want[2 * i + 1], &err), err);
	assert_trmx_ok(trmx_weights_writer_write(wr, path, &err), err);
	trmx_weights_writer_free(wr);
	assert_trmx_ok(trmx_weights_open(&w, path, &err), err);
	assert_trmx_ok(trmx_config_from_metadata(&c, w, &err), err);
	trmx_weights_free(w); /* the config holds copies */
	expect_pairs(c, want, 3);
	trmx_config_free(c);

	/* A metadata value within the safetensors limit but over the config's is refused. */
	char *big = malloc(TRMX_CONFIG_VALUE_MAX + 2);
	assert_non_null(big);
	memset(big, 'x', TRMX_CONFIG_VALUE_MAX + 1);
	big[TRMX_CONFIG_VALUE_MAX + 1] = '\0';
	assert_trmx_ok(trmx_weights_writer_new(&wr, &err), err);
	assert_trmx_ok(trmx_weights_writer_set_metadata(wr, "notes", big, &err), err);
	assert_trmx_ok(trmx_weights_writer_write(wr, path, &err), err);
	trmx_weights_writer_free(wr);
	assert_trmx_ok(trmx_weights_open(&w, path, &err), err);
	c = (trmx_config *)fx;
	assert_trmx_error(trmx_config_from_metadata(&c, w, &err), err, TRMX_ELIMIT,
			  "the value of 'notes' has 4097 bytes, more than TRMX_CONFIG_VALUE_MAX");
	assert_ptr_equal(c, (trmx_config *)fx);
	trmx_weights_free(w);
	free(big);
	free(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_flat, setup, teardown),
		cmocka_unit_test_setup_teardown(test_official_arch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_interpolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sequence, setup, teardown),
		cmocka_unit_test_setup_teardown(test_anchor_alias, setup, teardown),
		cmocka_unit_test_setup_teardown(test_duplicate_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_interpolation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_not_mapping, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limits, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_get, setup, teardown),
		cmocka_unit_test_setup_teardown(test_from_metadata, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
