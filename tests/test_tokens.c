/*
 * test_tokens.c — the bearer tokens of `trmx serve` (trmx/tokens.h): scope names, add / load /
 * check round trips (a wrong token, one differing in its last character, a prefix of one),
 * revoke, the scope and context-prefix rules, duplicate and bad names, malformed files (each
 * with its exact error code, the file left as it was), a file others may read refused, and two
 * processes adding 20 tokens each at once losing none.
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
#include <sys/wait.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "trmx/tokens.h"
#include "trmx/trmx.h"

struct fx {
	char *home;
	char *path; /* HOME/tokens.json */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->home = tu_tmpdir();
	*state = f;
	if (!f->home)
		return -1;
	f->path = tu_path(f->home, TRMX_TOKENS_FILE);
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	tu_rmtree(f->home);
	free(f->home);
	free(f->path);
	free(f);
	return 0;
}

/* Add a token and return it in `tok`. */
static void add(const char *path, const char *name, unsigned scopes, const char *const *ctx, size_t n,
		char tok[TRMX_TOKEN_SIZE])
{
	trmx_error err = { 0 };
	assert_trmx_ok(trmx_tokens_add(path, name, scopes, ctx, n, tok, TRMX_TOKEN_SIZE, &err), err);
}

/* The name a token checks to in the file as it is now (copied into `name`; "" for none). */
static void check_file(const char *path, const char *tok, size_t len, char name[TRMX_TOKEN_NAME_MAX + 1],
		       unsigned *scopes)
{
	trmx_error err = { 0 };
	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, path, &err), err);
	const char *who = trmx_tokens_check(t, tok, len, scopes);
	snprintf(name, TRMX_TOKEN_NAME_MAX + 1, "%s", who ? who : "");
	trmx_tokens_free(t);
}

/* Write a private (0600) file. */
static void write_private(const char *path, const char *text)
{
	assert_int_equal(tu_write_text(path, text), 0);
	assert_int_equal(chmod(path, 0600), 0);
}

#define HASH64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static void test_scopes(void **state)
{
	trmx_error err = { 0 };
	unsigned m = 99;
	assert_trmx_ok(trmx_scopes_parse("solve,read", &m, &err), err);
	assert_int_equal(m, TRMX_SCOPE_SOLVE | TRMX_SCOPE_READ);
	assert_trmx_ok(trmx_scopes_parse("admin,admin", &m, &err), err);
	assert_int_equal(m, TRMX_SCOPE_ADMIN);
	assert_trmx_ok(trmx_scopes_parse("feedback,solve,read,admin", &m, &err), err);
	assert_int_equal(m, TRMX_SCOPES_ALL);
	m = 99;
	assert_trmx_error(trmx_scopes_parse("solve,write", &m, &err), err, TRMX_EINVAL,
			  "'write' is not a scope (solve, feedback, read or admin)");
	assert_int_equal(m, 99); /* written only on success */
	assert_trmx_error(trmx_scopes_parse("solve,,read", &m, &err), err, TRMX_EINVAL, "an empty scope");
	assert_trmx_error(trmx_scopes_parse("solve,", &m, &err), err, TRMX_EINVAL, "an empty scope");
	assert_trmx_error(trmx_scopes_parse("", &m, &err), err, TRMX_EINVAL, "no scopes given");
	assert_trmx_error(trmx_scopes_parse("Solve", &m, &err), err, TRMX_EINVAL, "not a scope");
	assert_string_equal(trmx_scope_name(TRMX_SCOPE_SOLVE), "solve");
	assert_string_equal(trmx_scope_name(TRMX_SCOPE_FEEDBACK), "feedback");
	assert_string_equal(trmx_scope_name(TRMX_SCOPE_READ), "read");
	assert_string_equal(trmx_scope_name(TRMX_SCOPE_ADMIN), "admin");
	assert_null(trmx_scope_name((trmx_scope)3));
	assert_null(trmx_scope_name((trmx_scope)16));
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char a[TRMX_TOKEN_SIZE], b[TRMX_TOKEN_SIZE], name[TRMX_TOKEN_NAME_MAX + 1];
	const char *ctx[] = { "algebra/*", "intro/unit-1" };
	add(f->path, "course-server", TRMX_SCOPE_SOLVE | TRMX_SCOPE_FEEDBACK, ctx, 2, a);
	add(f->path, "analyst.1", TRMX_SCOPE_READ, NULL, 0, b);
	/* "trmx_" and 43 characters of base64url */
	assert_int_equal(strlen(a), TRMX_TOKEN_SIZE - 1);
	assert_memory_equal(a, "trmx_", 5);
	assert_int_equal(strspn(a + 5, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
	assert_string_not_equal(a, b);

	/* the file is private and holds no secret */
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	size_t len = 0;
	char *text = tu_read_file(f->path, &len);
	assert_non_null(text);
	assert_null(strstr(text, a + 5));
	assert_null(strstr(text, b + 5));
	assert_non_null(strstr(text, "\"version\": 1"));
	free(text);

	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, f->path, &err), err);
	assert_int_equal(trmx_tokens_count(t), 2);
	const trmx_token_info *e = trmx_tokens_entry(t, 0);
	assert_string_equal(e->name, "course-server");
	assert_int_equal(e->scopes, TRMX_SCOPE_SOLVE | TRMX_SCOPE_FEEDBACK);
	assert_int_equal(e->ncontexts, 2);
	assert_string_equal(e->contexts[0], "algebra/*");
	assert_string_equal(e->contexts[1], "intro/unit-1");
	assert_true(e->created > 1600000000000LL);
	e = trmx_tokens_entry(t, 1);
	assert_string_equal(e->name, "analyst.1");
	assert_int_equal(e->ncontexts, 0);
	assert_null(trmx_tokens_entry(t, 2));

	unsigned s = 99;
	assert_string_equal(trmx_tokens_check(t, a, strlen(a), &s), "course-server");
	assert_int_equal(s, TRMX_SCOPE_SOLVE | TRMX_SCOPE_FEEDBACK);
	assert_string_equal(trmx_tokens_check(t, b, strlen(b), &s), "analyst.1");
	assert_int_equal(s, TRMX_SCOPE_READ);
	assert_string_equal(trmx_tokens_check(t, b, strlen(b), NULL), "analyst.1");

	/* near misses: the last character changed, one more or one fewer, no prefix, another file's */
	char w[TRMX_TOKEN_SIZE + 1];
	memcpy(w, a, sizeof a);
	w[TRMX_TOKEN_SIZE - 2] = w[TRMX_TOKEN_SIZE - 2] == 'A' ? 'B' : 'A';
	s = 99;
	assert_null(trmx_tokens_check(t, w, strlen(w), &s));
	assert_int_equal(s, 0);
	assert_null(trmx_tokens_check(t, a, strlen(a) - 1, &s));
	snprintf(w, sizeof w, "%sA", a);
	assert_null(trmx_tokens_check(t, w, strlen(w), &s));
	assert_null(trmx_tokens_check(t, a + 5, strlen(a + 5), &s));
	assert_null(trmx_tokens_check(t, "", 0, &s));
	assert_null(trmx_tokens_check(t, NULL, 0, &s));
	const char *wrong = "trmx_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
	assert_null(trmx_tokens_check(t, wrong, strlen(wrong), &s));
	/* the presented length counts, not a NUL */
	memcpy(w, a, sizeof a);
	assert_string_equal(trmx_tokens_check(t, w, strlen(a), &s), "course-server");
	trmx_tokens_free(t);

	/* a reload sees the same; the handle of before did not change */
	check_file(f->path, a, strlen(a), name, NULL);
	assert_string_equal(name, "course-server");
}

static void test_allows(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char tok[TRMX_TOKEN_SIZE];
	const char *ca[] = { "algebra/*", "intro/unit-1" };
	const char *cc[] = { "*" };
	const char *cd[] = { "geo*" };
	add(f->path, "a", TRMX_SCOPE_SOLVE | TRMX_SCOPE_FEEDBACK, ca, 2, tok);
	add(f->path, "admin", TRMX_SCOPE_ADMIN, NULL, 0, tok);
	add(f->path, "c", TRMX_SCOPE_READ, cc, 1, tok);
	add(f->path, "d", TRMX_SCOPE_ADMIN, cd, 1, tok);
	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, f->path, &err), err);

	assert_true(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, "algebra/unit-3"));
	assert_true(trmx_tokens_allows(t, "a", TRMX_SCOPE_FEEDBACK, "algebra/"));
	assert_true(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE | TRMX_SCOPE_FEEDBACK, "algebra/x/y"));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, "algebra"));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, "algebra2/unit-1"));
	assert_true(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, "intro/unit-1"));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, "intro/unit-10"));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, "intro/unit-"));
	assert_true(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE, NULL));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_READ, NULL));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_READ, "algebra/unit-3"));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_SOLVE | TRMX_SCOPE_READ, "algebra/unit-3"));
	assert_false(trmx_tokens_allows(t, "a", TRMX_SCOPE_ADMIN, NULL));

	/* admin implies every scope, in every context when it names none */
	for (unsigned s = 1; s <= TRMX_SCOPE_ADMIN; s <<= 1) {
		assert_true(trmx_tokens_allows(t, "admin", s, NULL));
		assert_true(trmx_tokens_allows(t, "admin", s, "any/context"));
	}
	assert_true(trmx_tokens_allows(t, "admin", TRMX_SCOPES_ALL, "x"));
	/* ... but its contexts still apply */
	assert_true(trmx_tokens_allows(t, "d", TRMX_SCOPE_SOLVE, "geometry/1"));
	assert_false(trmx_tokens_allows(t, "d", TRMX_SCOPE_SOLVE, "algebra/1"));

	assert_true(trmx_tokens_allows(t, "c", TRMX_SCOPE_READ, "whatever"));
	assert_false(trmx_tokens_allows(t, "c", TRMX_SCOPE_SOLVE, "whatever"));

	/* unknown names, empty or unknown scope bits */
	assert_false(trmx_tokens_allows(t, "nobody", TRMX_SCOPE_SOLVE, NULL));
	assert_false(trmx_tokens_allows(t, NULL, TRMX_SCOPE_SOLVE, NULL));
	assert_false(trmx_tokens_allows(t, "admin", 0, NULL));
	assert_false(trmx_tokens_allows(t, "admin", 16, NULL));
	assert_false(trmx_tokens_allows(NULL, "admin", TRMX_SCOPE_SOLVE, NULL));
	trmx_tokens_free(t);

	/* check reports admin expanded */
	char tok2[TRMX_TOKEN_SIZE], name[TRMX_TOKEN_NAME_MAX + 1];
	unsigned s = 0;
	add(f->path, "root", TRMX_SCOPE_ADMIN, NULL, 0, tok2);
	check_file(f->path, tok2, strlen(tok2), name, &s);
	assert_string_equal(name, "root");
	assert_int_equal(s, TRMX_SCOPES_ALL);
}

static void test_revoke(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char a[TRMX_TOKEN_SIZE], b[TRMX_TOKEN_SIZE], c[TRMX_TOKEN_SIZE], name[TRMX_TOKEN_NAME_MAX + 1];
	assert_trmx_error(trmx_tokens_revoke(f->path, "a", &err), err, TRMX_ENOTFOUND, "no tokens file");
	add(f->path, "a", TRMX_SCOPE_SOLVE, NULL, 0, a);
	add(f->path, "b", TRMX_SCOPE_SOLVE, NULL, 0, b);
	add(f->path, "c", TRMX_SCOPE_SOLVE, NULL, 0, c);
	assert_trmx_ok(trmx_tokens_revoke(f->path, "b", &err), err);
	check_file(f->path, b, strlen(b), name, NULL);
	assert_string_equal(name, "");
	check_file(f->path, a, strlen(a), name, NULL);
	assert_string_equal(name, "a");
	check_file(f->path, c, strlen(c), name, NULL);
	assert_string_equal(name, "c");

	/* an unknown name changes nothing */
	tu_snapshot *before = tu_snapshot_take(f->home);
	assert_trmx_error(trmx_tokens_revoke(f->path, "b", &err), err, TRMX_ENOTFOUND, "no token named 'b'");
	assert_tree_unchanged(before, f->home);
	tu_snapshot_free(before);

	/* a name freed by a revoke may be used again, with a new secret */
	char b2[TRMX_TOKEN_SIZE];
	add(f->path, "b", TRMX_SCOPE_READ, NULL, 0, b2);
	assert_string_not_equal(b, b2);
	check_file(f->path, b, strlen(b), name, NULL);
	assert_string_equal(name, "");
	check_file(f->path, b2, strlen(b2), name, NULL);
	assert_string_equal(name, "b");

	assert_trmx_ok(trmx_tokens_revoke(f->path, "a", &err), err);
	assert_trmx_ok(trmx_tokens_revoke(f->path, "b", &err), err);
	assert_trmx_ok(trmx_tokens_revoke(f->path, "c", &err), err);
	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, f->path, &err), err);
	assert_int_equal(trmx_tokens_count(t), 0);
	assert_null(trmx_tokens_check(t, a, strlen(a), NULL));
	trmx_tokens_free(t);
}

static void test_bad_arguments(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char tok[TRMX_TOKEN_SIZE] = "untouched";
	char long_name[TRMX_TOKEN_NAME_MAX + 2];
	memset(long_name, 'x', sizeof long_name - 1);
	long_name[sizeof long_name - 1] = 0;
	/* refused before the folder is touched: not even a lock file */
	tu_snapshot *before = tu_snapshot_take(f->home);
	static const char *const bad_names[] = { "", "a b", "a/b", "caf\xc3\xa9", "x\n", "a:b", "@x" };
	for (size_t i = 0; i < sizeof bad_names / sizeof *bad_names; i++)
		assert_trmx_error(trmx_tokens_add(f->path, bad_names[i], TRMX_SCOPE_SOLVE, NULL, 0, tok, sizeof tok,
						  &err),
				  err, TRMX_EINVAL, "a name is 1 to 64 characters of A-Z");
	assert_trmx_error(trmx_tokens_add(f->path, long_name, TRMX_SCOPE_SOLVE, NULL, 0, tok, sizeof tok, &err), err,
			  TRMX_EINVAL, "a name is 1 to 64");
	assert_trmx_error(trmx_tokens_add(f->path, "ok", 0, NULL, 0, tok, sizeof tok, &err), err, TRMX_EINVAL,
			  "not a mask of solve, feedback, read or admin");
	assert_trmx_error(trmx_tokens_add(f->path, "ok", 16, NULL, 0, tok, sizeof tok, &err), err, TRMX_EINVAL,
			  "not a mask");
	assert_trmx_error(trmx_tokens_add(f->path, "ok", TRMX_SCOPE_SOLVE, NULL, 0, tok, TRMX_TOKEN_SIZE - 1, &err),
			  err, TRMX_EINVAL, "a token takes 49 bytes");
	const char *bad_ctx[][1] = { { "" }, { "-x" }, { "a@b" }, { "a\tb" }, { "-*" } };
	for (size_t i = 0; i < sizeof bad_ctx / sizeof *bad_ctx; i++)
		assert_trmx_error(trmx_tokens_add(f->path, "ok", TRMX_SCOPE_SOLVE, bad_ctx[i], 1, tok, sizeof tok,
						  &err),
				  err, TRMX_EINVAL, "context");
	char huge[TRMX_CONTEXT_NAME_MAX + 3];
	memset(huge, 'c', sizeof huge - 1);
	huge[sizeof huge - 1] = 0;
	const char *hp[] = { huge };
	assert_trmx_error(trmx_tokens_add(f->path, "ok", TRMX_SCOPE_SOLVE, hp, 1, tok, sizeof tok, &err), err,
			  TRMX_ELIMIT, "TRMX_CONTEXT_NAME_MAX");
	const char *many[TRMX_TOKEN_CONTEXTS_MAX + 1];
	for (size_t i = 0; i <= TRMX_TOKEN_CONTEXTS_MAX; i++)
		many[i] = "c/x";
	assert_trmx_error(trmx_tokens_add(f->path, "ok", TRMX_SCOPE_SOLVE, many, TRMX_TOKEN_CONTEXTS_MAX + 1, tok,
					  sizeof tok, &err),
			  err, TRMX_ELIMIT, "TRMX_TOKEN_CONTEXTS_MAX");
	assert_tree_unchanged(before, f->home);
	tu_snapshot_free(before);
	assert_string_equal(tok, "untouched");

	/* the edges that are fine: 64 characters, TRMX_TOKEN_CONTEXTS_MAX contexts, a 256-byte prefix */
	long_name[TRMX_TOKEN_NAME_MAX] = 0;
	add(f->path, long_name, TRMX_SCOPE_SOLVE, many, TRMX_TOKEN_CONTEXTS_MAX, tok);
	huge[TRMX_CONTEXT_NAME_MAX] = '*';
	huge[TRMX_CONTEXT_NAME_MAX + 1] = 0;
	add(f->path, "A-Z.a_z-0.9", TRMX_SCOPE_SOLVE, hp, 1, tok);
	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, f->path, &err), err);
	assert_int_equal(trmx_tokens_count(t), 2);
	assert_int_equal(trmx_tokens_entry(t, 0)->ncontexts, TRMX_TOKEN_CONTEXTS_MAX);
	trmx_tokens_free(t);

	/* a duplicate name: refused, the file as it was */
	before = tu_snapshot_take(f->home);
	assert_trmx_error(trmx_tokens_add(f->path, long_name, TRMX_SCOPE_READ, NULL, 0, tok, sizeof tok, &err), err,
			  TRMX_EINVAL, "exists already");
	assert_tree_unchanged(before, f->home);
	tu_snapshot_free(before);

	/* missing arguments; NULL handles */
	assert_trmx_error(trmx_tokens_add(NULL, "x", 1, NULL, 0, tok, sizeof tok, &err), err, TRMX_EINVAL, "missing");
	assert_trmx_error(trmx_tokens_add(f->path, "x", 1, NULL, 1, tok, sizeof tok, &err), err, TRMX_EINVAL,
			  "missing");
	assert_trmx_error(trmx_tokens_load(NULL, f->path, &err), err, TRMX_EINVAL, "missing");
	assert_trmx_error(trmx_tokens_revoke(f->path, NULL, &err), err, TRMX_EINVAL, "missing");
	trmx_tokens_free(NULL);
	assert_int_equal(trmx_tokens_count(NULL), 0);
	assert_null(trmx_tokens_entry(NULL, 0));
	assert_null(trmx_tokens_check(NULL, "x", 1, NULL));
}

static void test_missing_and_folder(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	trmx_tokens *t = (trmx_tokens *)0x1;
	assert_trmx_error(trmx_tokens_load(&t, f->path, &err), err, TRMX_ENOTFOUND, "no tokens file");
	assert_ptr_equal(t, (trmx_tokens *)0x1); /* *out written only on success */
	/* add makes the folder and the file */
	char *dir = tu_path(f->home, "a/b"), *path = tu_path(dir, "tokens.json"), tok[TRMX_TOKEN_SIZE];
	add(path, "first", TRMX_SCOPE_SOLVE, NULL, 0, tok);
	t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, path, &err), err);
	assert_int_equal(trmx_tokens_count(t), 1);
	trmx_tokens_free(t);
	free(dir);
	free(path);
}

struct bad_file {
	const char *what;
	const char *text; /* NULL: made by the test */
	int code;
	const char *message;
};

static void test_malformed(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char valid[512];
	snprintf(valid, sizeof valid, "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], "
		 "\"hash\": \"%s\", \"created\": 1}]}", HASH64);
	char truncated[256];
	snprintf(truncated, sizeof truncated, "%.*s", (int)(strlen(valid) / 2), valid);
	const struct bad_file cases[] = {
		{ "truncated JSON", truncated, TRMX_EFORMAT, "tokens.json: line 1, column" },
		{ "empty file", "", TRMX_EFORMAT, "tokens.json: line" },
		{ "not an object", "[]", TRMX_EFORMAT, "not a JSON object" },
		{ "wrong version", "{\"version\": 2, \"tokens\": []}", TRMX_EVERSION,
		  "version 2; this trmx reads version 1" },
		{ "no version", "{\"tokens\": []}", TRMX_EFORMAT, "no integer \"version\"" },
		{ "text version", "{\"version\": \"1\", \"tokens\": []}", TRMX_EFORMAT, "no integer \"version\"" },
		{ "tokens not a list", "{\"version\": 1, \"tokens\": {}}", TRMX_EFORMAT, "\"tokens\" is not a list" },
		{ "unknown top key", "{\"version\": 1, \"tokens\": [], \"x\": 1}", TRMX_EFORMAT, "unknown key 'x'" },
		{ "duplicate key", "{\"version\": 1, \"version\": 1, \"tokens\": []}", TRMX_EFORMAT, "duplicate" },
		{ "entry not an object", "{\"version\": 1, \"tokens\": [1]}", TRMX_EFORMAT,
		  "tokens[0] is not an object" },
		{ "too many tokens", NULL, TRMX_ELIMIT, "1025 tokens, more than TRMX_TOKENS_MAX (1024)" },
		{ "hash of wrong length",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"hash\": \"" HASH64
		  "0\", \"created\": 1}]}",
		  TRMX_EFORMAT, "tokens[0] (\"a\"): hash is not 64 hex digits" },
		{ "short hash",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"hash\": \"abcd\", "
		  "\"created\": 1}]}",
		  TRMX_EFORMAT, "hash is not 64 hex digits" },
		{ "hash not hex",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"hash\": "
		  "\"g123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\", \"created\": 1}]}",
		  TRMX_EFORMAT, "hash is not 64 hex digits" },
		{ "no hash",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"created\": 1}]}",
		  TRMX_EFORMAT, "hash is not" },
		{ "misspelt contexts",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"context\": [\"x\"], "
		  "\"hash\": \"" HASH64 "\", \"created\": 1}]}",
		  TRMX_EFORMAT, "tokens[0]: unknown key 'context'" },
		{ "bad name", "{\"version\": 1, \"tokens\": [{\"name\": \"a b\"}]}", TRMX_EFORMAT,
		  "tokens[0]: name is not 1 to 64 characters" },
		{ "NUL in a name", "{\"version\": 1, \"tokens\": [{\"name\": \"a\\u0000b\"}]}", TRMX_EFORMAT,
		  "tokens.json: line 1, column" },
		{ "duplicate name",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"hash\": \"" HASH64
		  "\", \"created\": 1}, {\"name\": \"a\"}]}",
		  TRMX_EFORMAT, "tokens[1]: a second token named 'a'" },
		{ "duplicate hash",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"hash\": \"" HASH64
		  "\", \"created\": 1}, {\"name\": \"b\", \"scopes\": [\"read\"], \"hash\": \"" HASH64
		  "\", \"created\": 1}]}",
		  TRMX_EFORMAT, "tokens[1] (\"b\"): the same hash as 'a'" },
		{ "unknown scope",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\", \"root\"]}]}", TRMX_EFORMAT,
		  "tokens[0] (\"a\"): scopes[1] is not solve, feedback, read or admin" },
		{ "no scopes", "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": []}]}", TRMX_EFORMAT,
		  "scopes is not a list" },
		{ "contexts not a list",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"contexts\": \"x\"}]}",
		  TRMX_EFORMAT, "contexts is not a list" },
		{ "bad context",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"contexts\": [\"ok\", "
		  "\"a@b\"]}]}",
		  TRMX_EFORMAT, "tokens[0] (\"a\"): contexts[1]: context 'a@b'" },
		{ "too many contexts", NULL, TRMX_ELIMIT, "65 contexts, more than TRMX_TOKEN_CONTEXTS_MAX (64)" },
		{ "negative created",
		  "{\"version\": 1, \"tokens\": [{\"name\": \"a\", \"scopes\": [\"solve\"], \"hash\": \"" HASH64
		  "\", \"created\": -1}]}",
		  TRMX_EFORMAT, "created is not a time" },
	};
	char *lock = tu_path(f->home, "tokens.json.lock");
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		const struct bad_file *c = &cases[i];
		char *text = NULL;
		if (!strcmp(c->what, "too many tokens")) {
			/* entries need not even be valid: the count is checked before any is read */
			size_t n = TRMX_TOKENS_MAX + 1, o = 0;
			text = malloc(64 + 3 * n);
			o += (size_t)sprintf(text, "{\"version\": 1, \"tokens\": [");
			for (size_t k = 0; k < n; k++)
				o += (size_t)sprintf(text + o, "%s{}", k ? "," : "");
			sprintf(text + o, "]}");
		} else if (!strcmp(c->what, "too many contexts")) {
			size_t n = TRMX_TOKEN_CONTEXTS_MAX + 1, o = 0;
			text = malloc(256 + 6 * n);
			o += (size_t)sprintf(text, "{\"version\": 1, \"tokens\": [{\"name\": \"a\", "
					     "\"scopes\": [\"solve\"], \"contexts\": [");
			for (size_t k = 0; k < n; k++)
				o += (size_t)sprintf(text + o, "%s\"c\"", k ? "," : "");
			sprintf(text + o, "]}]}");
		}
		write_private(f->path, text ? text : c->text);
		/* the lock file any change leaves behind: made now so that the snapshot can be exact */
		write_private(lock, "");
		tu_snapshot *before = tu_snapshot_take(f->home);
		trmx_tokens *t = NULL;
		char tok[TRMX_TOKEN_SIZE] = "untouched";
		int rc = trmx_tokens_load(&t, f->path, &err);
		if (rc != c->code || !strstr(err.message, c->message))
			fail_msg("%s: load gave %d \"%s\", expected %d \"%s\"", c->what, rc, err.message, c->code,
				 c->message);
		assert_null(t);
		rc = trmx_tokens_add(f->path, "new", TRMX_SCOPE_SOLVE, NULL, 0, tok, sizeof tok, &err);
		if (rc != c->code || !strstr(err.message, c->message))
			fail_msg("%s: add gave %d \"%s\"", c->what, rc, err.message);
		assert_string_equal(tok, "untouched");
		rc = trmx_tokens_revoke(f->path, "a", &err);
		if (rc != c->code || !strstr(err.message, c->message))
			fail_msg("%s: revoke gave %d \"%s\"", c->what, rc, err.message);
		assert_tree_unchanged(before, f->home);
		tu_snapshot_free(before);
		free(text);
	}
	free(lock);

	/* the valid file of these cases loads */
	write_private(f->path, valid);
	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, f->path, &err), err);
	assert_int_equal(trmx_tokens_count(t), 1);
	trmx_tokens_free(t);
}

static void test_permissions(void **state)
{
	struct fx *f = *state;
	trmx_error err = { 0 };
	char tok[TRMX_TOKEN_SIZE], tok2[TRMX_TOKEN_SIZE] = "untouched";
	add(f->path, "a", TRMX_SCOPE_SOLVE, NULL, 0, tok);
	static const mode_t modes[] = { 0644, 0640, 0604, 0620, 0602, 0666 };
	for (size_t i = 0; i < sizeof modes / sizeof *modes; i++) {
		assert_int_equal(chmod(f->path, modes[i]), 0);
		tu_snapshot *before = tu_snapshot_take(f->home);
		trmx_tokens *t = NULL;
		assert_trmx_error(trmx_tokens_load(&t, f->path, &err), err, TRMX_ERROR, "chmod 600");
		assert_null(t);
		assert_trmx_error(trmx_tokens_add(f->path, "b", TRMX_SCOPE_SOLVE, NULL, 0, tok2, sizeof tok2, &err),
				  err, TRMX_ERROR, "open to its group or others");
		assert_trmx_error(trmx_tokens_revoke(f->path, "a", &err), err, TRMX_ERROR, "chmod 600");
		assert_tree_unchanged(before, f->home);
		tu_snapshot_free(before);
	}
	assert_string_equal(tok2, "untouched");
	/* read-only for its owner is fine */
	assert_int_equal(chmod(f->path, 0400), 0);
	char name[TRMX_TOKEN_NAME_MAX + 1];
	check_file(f->path, tok, strlen(tok), name, NULL);
	assert_string_equal(name, "a");
}

/* A child: add `n` tokens named pP-K, write each token as a line to `out`; exit 0 or 1. */
static void child_add(const char *path, int p, int n, const char *out)
{
	FILE *fo = fopen(out, "w");
	if (!fo)
		_exit(1);
	for (int k = 0; k < n; k++) {
		char name[32], tok[TRMX_TOKEN_SIZE];
		trmx_error err;
		snprintf(name, sizeof name, "p%d-%d", p, k);
		if (trmx_tokens_add(path, name, TRMX_SCOPE_SOLVE, NULL, 0, tok, sizeof tok, &err) < 0) {
			fprintf(stderr, "%s: %s\n", name, err.message);
			_exit(1);
		}
		fprintf(fo, "%s %s\n", name, tok);
	}
	_exit(fclose(fo) == 0 ? 0 : 1);
}

static void test_concurrent(void **state)
{
	struct fx *f = *state;
	enum { PROCS = 2, EACH = 20 };
	trmx_error err = { 0 };
	pid_t pids[PROCS];
	char *outs[PROCS];
	for (int p = 0; p < PROCS; p++) {
		char name[32];
		snprintf(name, sizeof name, "out-%d.txt", p);
		outs[p] = tu_path(f->home, name);
		pids[p] = fork();
		assert_true(pids[p] >= 0);
		if (pids[p] == 0)
			child_add(f->path, p, EACH, outs[p]);
	}
	for (int p = 0; p < PROCS; p++) {
		int status;
		waitpid(pids[p], &status, 0);
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fail_msg("adding process %d ended with status %d (see its stderr)", p, status);
	}
	trmx_tokens *t = NULL;
	assert_trmx_ok(trmx_tokens_load(&t, f->path, &err), err);
	assert_int_equal(trmx_tokens_count(t), PROCS * EACH);
	for (int p = 0; p < PROCS; p++) {
		FILE *fi = fopen(outs[p], "r");
		assert_non_null(fi);
		char name[32], tok[TRMX_TOKEN_SIZE + 1];
		int lines = 0;
		while (fscanf(fi, "%31s %49s", name, tok) == 2) {
			const char *who = trmx_tokens_check(t, tok, strlen(tok), NULL);
			assert_non_null(who);
			assert_string_equal(who, name);
			lines++;
		}
		assert_int_equal(lines, EACH);
		fclose(fi);
		free(outs[p]);
	}
	trmx_tokens_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_scopes),
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_allows, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_and_folder, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_permissions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
