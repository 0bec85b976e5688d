/*
 * trmx/tokens.h — the bearer tokens `trmx serve` checks: a tokens file (TRMX_HOME/tokens.json)
 * listing, for every token, its name, its scopes, the contexts it may touch, and a hash of the
 * secret. The secret itself is shown once, when `trmx token add` makes it, and never stored.
 *
 * Tutorial: a server
 * ------------------
 *     trmx_error err;
 *     trmx_tokens *tok = NULL;
 *     trmx_tokens_load(&tok, "/srv/trmx/tokens.json", &err);   // again on SIGHUP
 *
 *     unsigned scopes;                                          // per request:
 *     const char *who = trmx_tokens_check(tok, bearer, bearer_len, &scopes);
 *     if (!who)
 *         ...                                                   // 401
 *     if (!trmx_tokens_allows(tok, who, TRMX_SCOPE_SOLVE, "algebra/unit-3"))
 *         ...                                                   // 403
 *     trmx_tokens_free(tok);
 *
 *     char secret[TRMX_TOKEN_SIZE];                             // an operator's tool:
 *     unsigned s;
 *     trmx_scopes_parse("solve,feedback", &s, &err);
 *     const char *ctx[] = { "algebra/unit-*" };
 *     trmx_tokens_add(path, "course-server", s, ctx, 1, secret, sizeof secret, &err);
 *     trmx_tokens_revoke(path, "course-server", &err);
 *
 * The file (version 1):
 *     {"version": 1, "tokens": [{"name": "course-server", "scopes": ["solve", "feedback"],
 *      "contexts": ["algebra/unit-*", "intro/unit-1"], "hash": "<64 hex digits>", "created": <Unix ms>}]}
 * A token is "trmx_" and 32 random bytes in unpadded base64url (48 characters); "hash" is
 * BLAKE2b-256 of that whole text. Names are 1 to TRMX_TOKEN_NAME_MAX characters of
 * [A-Za-z0-9._-], unique in the file. No "contexts" (or an empty list) means every context; an
 * entry ending in '*' matches every context that starts with what comes before it ("*" alone
 * matches all); any other entry matches only itself. A token with TRMX_SCOPE_ADMIN has every
 * scope; its contexts still apply.
 *
 * The file holds what lets anyone in, so it is mode 0600: trmx_tokens_load refuses a file that
 * its group or others may read or write. Changes (add, revoke) hold an exclusive flock on
 * PATH.lock while they read, change and write the file, and write it atomically (a temporary
 * file in the same folder, fsync, rename), so a reader sees the old or the new list and two
 * changes at once both land. A loaded handle does not see later changes: load again (the
 * server does on SIGHUP). A handle is read-only, so several threads may share one.
 */
#ifndef TRMX_TOKENS_H
#define TRMX_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* What a token may do. Masks of these are `unsigned`. */
typedef enum trmx_scope {
	TRMX_SCOPE_SOLVE = 1,    /* run puzzles */
	TRMX_SCOPE_FEEDBACK = 2, /* record verdicts on runs */
	TRMX_SCOPE_READ = 4,     /* read runs, reports, the registry */
	TRMX_SCOPE_ADMIN = 8     /* everything (implies the three above) */
} trmx_scope;
#define TRMX_SCOPES_ALL 15u

/* The name of one scope ("solve", "feedback", "read", "admin"); NULL for any other value. */
const char *trmx_scope_name(trmx_scope scope);
/* Parse comma-separated scope names ("solve,read") into a mask; at least one, repeats allowed.
 * Errors: TRMX_EINVAL naming the bad item and the accepted names. */
int trmx_scopes_parse(const char *s, unsigned *out, trmx_error *err);

/* The tokens file's name inside TRMX_HOME. */
#define TRMX_TOKENS_FILE "tokens.json"
/* Bytes of a token as text with its NUL: "trmx_" + 43 base64url characters. */
#define TRMX_TOKEN_SIZE 49

typedef struct trmx_tokens trmx_tokens;

/* One entry of a loaded file; borrowed, lives as long as the handle. */
typedef struct trmx_token_info {
	const char *name;
	unsigned scopes;             /* as written in the file (TRMX_SCOPE_ADMIN not expanded) */
	const char *const *contexts; /* [ncontexts] patterns; ncontexts 0: every context */
	size_t ncontexts;
	int64_t created;             /* Unix milliseconds */
} trmx_token_info;

/* Read and validate the tokens file at `path` (every limit of limits.h's "Server" section is
 * checked before anything is allocated from it). Errors: TRMX_ENOTFOUND (no file), TRMX_ERROR
 * (the group or others may access it: chmod 600), TRMX_EFORMAT (malformed: what and where, e.g.
 * "tokens[2] (\"x\"): hash is not 64 hex digits"), TRMX_EVERSION (not version 1), TRMX_ELIMIT,
 * TRMX_EIO, TRMX_ENOMEM, TRMX_EINVAL. */
int trmx_tokens_load(trmx_tokens **out, const char *path, trmx_error *err);
void trmx_tokens_free(trmx_tokens *t);
/* Entries in the file (0 for NULL). */
size_t trmx_tokens_count(const trmx_tokens *t);
/* Entry i in file order, or NULL when i is out of range. */
const trmx_token_info *trmx_tokens_entry(const trmx_tokens *t, size_t i);

/* The name of the token whose secret is the `len` bytes at `presented` (borrowed from the
 * handle), or NULL when none is. *scopes_out (may be NULL) gets its scopes with
 * TRMX_SCOPE_ADMIN expanded to TRMX_SCOPES_ALL (0 when none matches). The presented text is
 * hashed and the hash compared with every entry's in constant time, a match or not, so the time
 * taken says nothing about which token matched or how close a guess came. */
const char *trmx_tokens_check(const trmx_tokens *t, const char *presented, size_t len, unsigned *scopes_out);
/* May token `name` do every scope of the mask `scope` (non-zero) on `context`? NULL context: a
 * request not about one context, allowed by the scope alone. False for an unknown name. */
bool trmx_tokens_allows(const trmx_tokens *t, const char *name, unsigned scope, const char *context);

/* Make a token `name` with the mask `scopes` (non-zero) and `ncontexts` context patterns
 * (at most TRMX_TOKEN_CONTEXTS_MAX, each a context name of registry.h, optionally ending in
 * '*'), append it to the file at `path` (made, with its folder, when missing) and write the
 * secret into token_out (cap at least TRMX_TOKEN_SIZE; written only on success). Errors:
 * TRMX_EINVAL (bad name, scope, pattern or cap; a token of that name exists), TRMX_ELIMIT
 * (TRMX_TOKENS_MAX tokens already, too many contexts), those of trmx_tokens_load but
 * TRMX_ENOTFOUND, TRMX_EIO. On failure the file is unchanged. */
int trmx_tokens_add(const char *path, const char *name, unsigned scopes, const char *const *contexts,
		    size_t ncontexts, char *token_out, size_t cap, trmx_error *err);
/* Remove token `name` from the file at `path`. Errors: TRMX_ENOTFOUND (no file, no such
 * token), those of trmx_tokens_load, TRMX_EIO. On failure the file is unchanged. */
int trmx_tokens_revoke(const char *path, const char *name, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
