/*
 * test_task_api.c — the codec ABI seen from the host: the built-in table, opening a codec table
 * from elsewhere (version and size checks, required entries, token validation, the fallbacks for
 * a codec without check or render), parameters from a string and from a trmx_config, and the
 * `tokens` codec.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "trmx/task.h"

static void expect_fail(int rc, const trmx_error *e, int code, const char *sub)
{
	if (rc != code || e->code != code || !strstr(e->message, sub))
		fail_msg("expected code %d with \"%s\", got %d: %s", code, sub, rc, e->message);
}

static void test_builtins(void **state)
{
	(void)state;
	static const char *const names[] = { "sudoku", "maze", "arc", "tokens" };
	assert_int_equal(trmx_task_codec_count(), 4);
	for (size_t i = 0; i < 4; i++) {
		const trmx_task_codec *c = trmx_task_find(names[i]);
		assert_non_null(c);
		assert_ptr_equal(c, trmx_task_codec_at(i));
		assert_int_equal(c->abi_version, TRMX_TASK_ABI_VERSION);
		assert_int_equal(c->struct_size, sizeof(trmx_task_codec));
		assert_non_null(c->description);
	}
	assert_null(trmx_task_codec_at(4));
	assert_null(trmx_task_find("Sudoku"));
	assert_null(trmx_task_find(NULL));
	assert_true(trmx_task_find("arc")->flags & TRMX_TASK_CODEC_PUZZLE_IDS);
	assert_string_equal(trmx_verdict_name(TRMX_VERDICT_VALID), "valid");
	assert_string_equal(trmx_check_problem_name(TRMX_CHECK_NOT_SHORTEST), "not shortest");
}

/* A toy codec: seq_len 2, vocab 3; "bad" makes it write an id outside its vocabulary. */
static int toy_open(void **state, const trmx_task_param *p, size_t n, trmx_error *err)
{
	(void)p;
	(void)n;
	(void)err;
	static int s;
	*state = &s;
	return 0;
}
static void toy_close(void *state)
{
	(void)state;
}
static int toy_seq(const void *state)
{
	(void)state;
	return 2;
}
static int toy_vocab(const void *state)
{
	(void)state;
	return 3;
}
static int toy_encode(void *state, const trmx_task_input *in, trmx_task_sink *sink, trmx_error *err)
{
	(void)state;
	int32_t tok[2] = { 1, 2 };
	if (in->len >= 3 && !memcmp(in->text, "bad", 3))
		tok[0] = 7;
	trmx_task_example ex = { TRMX_TASK_EXAMPLE_VERSION, tok, NULL, TRMX_EXAMPLE_QUERY, 0, NULL, 1 };
	return sink->add(sink, &ex, err);
}
static int toy_decode(void *state, const int32_t *tok, trmx_text_style style, char *buf, size_t cap, size_t *len,
		      trmx_error *err)
{
	(void)state;
	(void)err;
	int n = snprintf(buf, cap, style == TRMX_TEXT_GRID ? "%d\n%d\n" : "%d%d", (int)tok[0], (int)tok[1]);
	*len = (size_t)n;
	return 0;
}

static void test_foreign_codec(void **state)
{
	(void)state;
	trmx_task_codec toy = {
		.abi_version = TRMX_TASK_ABI_VERSION, .struct_size = sizeof(trmx_task_codec), .name = "toy",
		.description = "a test codec", .open = toy_open, .close = toy_close, .seq_len = toy_seq,
		.vocab_size = toy_vocab, .encode = toy_encode, .decode = toy_decode,
	};
	trmx_task *t = NULL;
	trmx_error e = { 0, "" };
	trmx_task_codec bad = toy;
	bad.abi_version = 2;
	expect_fail(trmx_task_open_codec(&t, &bad, NULL, 0, &e), &e, TRMX_EVERSION,
		    "task codec ABI version 2 is not supported (this host knows 1)");
	bad = toy;
	bad.struct_size = offsetof(trmx_task_codec, decode);
	expect_fail(trmx_task_open_codec(&t, &bad, NULL, 0, &e), &e, TRMX_EVERSION, "shorter than ABI version 1");
	bad = toy;
	bad.encode = NULL;
	expect_fail(trmx_task_open_codec(&t, &bad, NULL, 0, &e), &e, TRMX_EINVAL, "task codec toy lacks a required entry");
	assert_null(t);

	trmx_task_param p[1] = { { "x", "1" } };
	assert_int_equal(trmx_task_open_codec(&t, &toy, p, 1, &e), 0);
	assert_string_equal(trmx_task_param_get(t, "x"), "1");
	assert_null(trmx_task_param_get(t, "y"));
	assert_ptr_equal(trmx_task_codec_get(t), &toy);
	int32_t in[2];
	assert_int_equal(trmx_task_encode(t, "ok", 2, in, NULL, NULL, &e), 0);
	assert_int_equal(in[1], 2);
	expect_fail(trmx_task_encode(t, "bad", 3, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "codec toy wrote input token 7 at position 0, outside [0, 3)");
	/* No checker: unknown. No renderer: the GRID text. */
	trmx_check chk = TRMX_CHECK_INIT;
	assert_int_equal(trmx_task_check(t, NULL, in, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_UNKNOWN);
	assert_non_null(strstr(chk.message, "the toy codec has no checker"));
	char *s = NULL;
	assert_int_equal(trmx_task_render(t, in, NULL, &s, &e), 0);
	assert_string_equal(s, "1\n2\n");
	trmx_task_text_free(s);
	expect_fail(trmx_task_decode(t, in, (trmx_text_style)7, &s, &e), &e, TRMX_EINVAL, "unknown text style 7");
	trmx_task_free(t);
}

static void test_params(void **state)
{
	(void)state;
	trmx_task *t = NULL;
	trmx_error e = { 0, "" };
	/* Commas or spaces between pairs. */
	assert_int_equal(trmx_task_open(&t, "maze", " size=15 ,canvas=30 ", &e), 0);
	assert_int_equal(trmx_task_seq_len(t), 900);
	assert_string_equal(trmx_task_param_get(t, "size"), "15");
	trmx_task_free(t);
	t = NULL;
	/* From a config map (a manifest's task.params). */
	trmx_config *c = NULL;
	assert_int_equal(trmx_config_new(&c, &e), 0);
	assert_int_equal(trmx_config_set(c, "size", "6", &e), 0);
	assert_int_equal(trmx_task_open_config(&t, "sudoku", c, &e), 0);
	assert_int_equal(trmx_task_seq_len(t), 36);
	trmx_task_free(t);
	t = NULL;
	assert_int_equal(trmx_config_set(c, "size", "7", &e), 0);
	expect_fail(trmx_task_open_config(&t, "sudoku", c, &e), &e, TRMX_EINVAL, "size must be 4, 6 or 9, not 7");
	expect_fail(trmx_task_open_config(&t, "go", c, &e), &e, TRMX_ENOTFOUND, "no task codec named 'go'");
	trmx_config_free(c);
	assert_int_equal(trmx_task_open_config(&t, "arc", NULL, &e), 0);
	trmx_task_free(t);
	/* Too many, too long. */
	char many[2048] = "";
	for (int i = 0; i <= TRMX_TASK_PARAMS_MAX; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "k%d=1,", i);
	t = NULL;
	expect_fail(trmx_task_open(&t, "sudoku", many, &e), &e, TRMX_ELIMIT, "TRMX_TASK_PARAMS_MAX");
	char longv[400] = "size=";
	memset(longv + 5, '9', 300);
	longv[305] = '\0';
	expect_fail(trmx_task_open(&t, "sudoku", longv, &e), &e, TRMX_ELIMIT, "TRMX_TASK_PARAM_MAX");
	assert_null(t);
}

static void test_tokens_codec(void **state)
{
	(void)state;
	trmx_task *t = NULL;
	trmx_error e = { 0, "" };
	expect_fail(trmx_task_open(&t, "tokens", NULL, &e), &e, TRMX_EINVAL, "the parameter seq_len is required");
	expect_fail(trmx_task_open(&t, "tokens", "seq_len=0", &e), &e, TRMX_EINVAL, "seq_len wants an integer in [1, 65536]");
	expect_fail(trmx_task_open(&t, "tokens", "seq_len=4,cols=5", &e), &e, TRMX_EINVAL, "cols wants an integer in [1, 4]");
	assert_int_equal(trmx_task_open(&t, "tokens", "seq_len=4,vocab_size=5", &e), 0);
	assert_int_equal(trmx_task_vocab_size(t), 5);
	int32_t in[4], label[4];
	bool has = false;
	assert_int_equal(trmx_task_encode(t, "1, 2, 3, 4 | 4 3 2 1\n", 21, in, label, &has, &e), 0);
	assert_true(has);
	assert_int_equal(in[3], 4);
	assert_int_equal(label[0], 4);
	char *s = NULL;
	assert_int_equal(trmx_task_decode(t, in, TRMX_TEXT_LINE, &s, &e), 0);
	assert_string_equal(s, "1 2 3 4");
	int32_t back[4];
	assert_int_equal(trmx_task_encode(t, s, strlen(s), back, NULL, NULL, &e), 0);
	assert_memory_equal(back, in, sizeof in);
	trmx_task_text_free(s);
	assert_int_equal(trmx_task_decode(t, in, TRMX_TEXT_GRID, &s, &e), 0);
	assert_string_equal(s, "1 2\n3 4\n"); /* cols defaults to the square root */
	assert_int_equal(trmx_task_encode(t, s, strlen(s), back, NULL, NULL, &e), 0);
	assert_memory_equal(back, in, sizeof in);
	trmx_task_text_free(s);
	expect_fail(trmx_task_encode(t, "1 2 3\n", 6, in, NULL, NULL, &e), &e, TRMX_EFORMAT, "line 1: expected 4 token ids, found 3");
	expect_fail(trmx_task_encode(t, "1 2 3 4 0\n", 10, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "line 1, column 9: expected 4 token ids, found more");
	expect_fail(trmx_task_encode(t, "1 2 x 4\n", 8, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "line 1, column 5: expected a token id, found 'x'");
	expect_fail(trmx_task_encode(t, "1 2 9 4\n", 8, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "line 1, column 5: token 9 is outside the vocabulary [0, 5)");
	expect_fail(trmx_task_encode(t, "1 2 3 4 | 1 1 1 1 |\n", 20, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "line 1, column 19: a second '|' after the label");
	expect_fail(trmx_task_encode(t, "1 2 3 | 4\n", 10, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "line 1, column 7: '|' must follow all 4 input ids");
	expect_fail(trmx_task_encode(t, "1 2\n\n3 4\n", 9, in, NULL, NULL, &e), &e, TRMX_EFORMAT,
		    "line 1: expected 4 token ids, found 2");
	expect_fail(trmx_task_encode(t, "", 0, in, NULL, NULL, &e), &e, TRMX_EFORMAT, "no token ids in the input (empty)");
	int32_t bad[4] = { 0, 1, 5, 2 };
	expect_fail(trmx_task_decode(t, bad, TRMX_TEXT_LINE, &s, &e), &e, TRMX_EFORMAT,
		    "token 5 at position 2 is outside the vocabulary [0, 5)");
	trmx_check chk = TRMX_CHECK_INIT;
	assert_int_equal(trmx_task_check(t, NULL, in, label, &chk, &e), 0);
	assert_int_equal(chk.problem, TRMX_CHECK_MISMATCH);
	assert_int_equal(chk.ncells, 4);
	assert_int_equal(trmx_task_check(t, NULL, in, in, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_VALID);
	assert_int_equal(trmx_task_check(t, NULL, in, NULL, &chk, &e), 0);
	assert_int_equal(chk.verdict, TRMX_VERDICT_UNKNOWN);
	uint8_t hl[4] = { 0, 0, 1, 0 };
	trmx_render_options o = TRMX_RENDER_OPTIONS_INIT;
	o.highlight = hl;
	assert_int_equal(trmx_task_render(t, in, &o, &s, &e), 0);
	assert_string_equal(s, " 1 2\n*3 4\n");
	trmx_task_text_free(s);
	trmx_task_free(t);
}

static int count_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	(void)ex;
	(void)err;
	(*(int *)sink->user)++;
	return 0;
}

/* Malformed input is an error with a message, never a crash (run under the sanitizers too):
 * thousands of random mutations of valid texts for every codec. */
static void test_mutations(void **state)
{
	(void)state;
	static const char *const seeds[][3] = {
		{ "sudoku", "size=9", "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79" },
		{ "sudoku", "size=4", "1 . | . 4\n. . | 1 .\n----+----\n. 1 | . .\n4 . | . 1\n" },
		{ "sudoku", "size=4", "source,question,answer,rating\nx,1..4..1..1..4..1,1234341221434321,1\n" },
		{ "maze", "size=5", "S    \n ### \n # # \n ### \n    G\n\nSoooo\n ###o\n # #o\n ###o\n    G\n" },
		{ "maze", "size=3,canvas=4", "puzzle,solution\nS #   # G,So#oo#  G\n" },
		{ "arc", "", "{\"train\": [{\"input\": [[1, 0], [2, 2]], \"output\": [[0, 1], [2, 2]]}], \"test\": [{\"input\": [[5]]}]}" },
		{ "arc", "", "012\n345\n\n67\n" },
		{ "tokens", "seq_len=4,vocab_size=5", "1 2 3 4 | 4 3 2 1\n1,2\n3,4\n" },
	};
	static const char alphabet[] = "#.SGo0123456789,|[]{}\"\n -:";
	trmx_rng rng;
	trmx_rng_seed(&rng, 2024, 0);
	char buf[1024];
	for (size_t k = 0; k < sizeof seeds / sizeof *seeds; k++) {
		trmx_task *t = NULL;
		trmx_error e = { 0, "" };
		assert_int_equal(trmx_task_open(&t, seeds[k][0], seeds[k][1], &e), 0);
		size_t len = strlen(seeds[k][2]);
		int ok = 0;
		for (int i = 0; i < 3000; i++) {
			size_t n = len;
			memcpy(buf, seeds[k][2], len);
			int muts = 1 + (int)trmx_rng_below(&rng, 4);
			for (int m = 0; m < muts; m++) {
				size_t pos = n ? trmx_rng_below(&rng, (uint32_t)n) : 0;
				switch (trmx_rng_below(&rng, 4)) {
				case 0:
					if (n)
						buf[pos] = (char)trmx_rng_below(&rng, 256);
					break;
				case 1:
					if (n) {
						memmove(buf + pos, buf + pos + 1, n - pos - 1);
						n--;
					}
					break;
				case 2:
					if (n < sizeof buf - 1) {
						memmove(buf + pos + 1, buf + pos, n - pos);
						buf[pos] = alphabet[trmx_rng_below(&rng, sizeof alphabet - 1)];
						n++;
					}
					break;
				default:
					n = pos;
				}
			}
			int got = 0;
			trmx_task_sink sink = { count_add, &got };
			trmx_task_input in = TRMX_TASK_INPUT_INIT;
			in.text = buf;
			in.len = n;
			e.code = 0;
			e.message[0] = '\0';
			int rc = trmx_task_encode_input(t, &in, &sink, &e);
			if (rc == 0) {
				assert_true(got > 0);
				ok++;
			} else {
				assert_true(rc == TRMX_EFORMAT || rc == TRMX_ELIMIT);
				assert_int_equal(e.code, rc);
				assert_true(e.message[0] != '\0');
			}
		}
		assert_true(ok < 3000);
		trmx_task_free(t);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_builtins),
		cmocka_unit_test(test_foreign_codec),
		cmocka_unit_test(test_params),
		cmocka_unit_test(test_tokens_codec),
		cmocka_unit_test(test_mutations),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
