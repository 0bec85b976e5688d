/*
 * bearer.c — the bearer tokens file of `trmx serve` (trmx/tokens.h): load and validate it, check
 * a presented token against every hash in constant time, decide scopes and contexts, and add or
 * revoke a token under an exclusive flock with an atomic, private (0600) rewrite.
 *
 * Relies on libsodium (random bytes, BLAKE2b, base64url, constant-time compare) and jansson.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_int.h"
#include "log/log_int.h"
#include "serve/serve_int.h"
#include "trmx/registry.h"
#include "trmx/tokens.h"

#define VERSION 1
#define HASH_BYTES crypto_generichash_BYTES /* 32: BLAKE2b-256 */
#define SECRET_BYTES 32
#define PREFIX "trmx_"

_Static_assert(HASH_BYTES == 32, "the file's hash is BLAKE2b-256");
_Static_assert(TRMX_TOKEN_SIZE == sizeof PREFIX - 1 + 43 + 1, "32 bytes are 43 unpadded base64url characters");

struct trmx_tokens {
	json_t *root;                      /* the parsed file: every name and context points into it */
	trmx_token_info *info;             /* [n] */
	unsigned char (*hash)[HASH_BYTES]; /* [n] */
	size_t n;
};

static const char *const scope_names[] = { "solve", "feedback", "read", "admin" };
#define NSCOPES (sizeof scope_names / sizeof *scope_names)
#define SCOPES_ACCEPTED "solve, feedback, read or admin"

/* ---- Scopes ---------------------------------------------------------------------------------- */

const char *trmx_scope_name(trmx_scope scope)
{
	for (size_t i = 0; i < NSCOPES; i++)
		if ((unsigned)scope == 1u << i)
			return scope_names[i];
	return NULL;
}

/* The bit of the scope named by the n bytes at s, or 0. */
static unsigned scope_bit(const char *s, size_t n)
{
	for (size_t i = 0; i < NSCOPES; i++)
		if (strlen(scope_names[i]) == n && !memcmp(s, scope_names[i], n))
			return 1u << i;
	return 0;
}

int trmx_scopes_parse(const char *s, unsigned *out, trmx_error *err)
{
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_scopes_parse: missing argument");
	if (!s || !*s)
		return trmx_error_set(err, TRMX_EINVAL, "no scopes given (" SCOPES_ACCEPTED ")");
	unsigned mask = 0;
	for (const char *p = s;;) {
		size_t n = strcspn(p, ",");
		unsigned bit = scope_bit(p, n);
		if (!n)
			return trmx_error_set(err, TRMX_EINVAL, "an empty scope in '%s' (" SCOPES_ACCEPTED ")", s);
		if (!bit)
			return trmx_error_set(err, TRMX_EINVAL, "'%.*s' is not a scope (" SCOPES_ACCEPTED ")",
					      (int)(n > 64 ? 64 : n), p);
		mask |= bit;
		if (!p[n])
			break;
		p += n + 1;
	}
	*out = mask;
	return 0;
}

/* The scopes a mask grants: admin is all of them. */
static unsigned effective(unsigned scopes)
{
	return scopes & TRMX_SCOPE_ADMIN ? TRMX_SCOPES_ALL : scopes;
}

/* ---- Names, patterns, hashes ----------------------------------------------------------------- */

static bool name_valid(const char *s, size_t n)
{
	if (n == 0 || n > TRMX_TOKEN_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') ||
		      s[i] == '.' || s[i] == '_' || s[i] == '-'))
			return false;
	return true;
}

#define NAME_RULE "1 to 64 characters of A-Z, a-z, 0-9, '.', '_' and '-'"

/* A context pattern: a context name, or one followed by '*', or "*" alone. */
static int pattern_check(const char *p, trmx_error *err)
{
	char buf[TRMX_CONTEXT_NAME_MAX + 1];
	size_t n = strlen(p);
	if (n && p[n - 1] == '*')
		n--;
	if (n == 0 && p[0] == '*')
		return 0;
	if (n > TRMX_CONTEXT_NAME_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "a context longer than TRMX_CONTEXT_NAME_MAX (%d bytes)",
				      TRMX_CONTEXT_NAME_MAX);
	memcpy(buf, p, n);
	buf[n] = 0;
	return trmx_context_check(buf, err);
}

static bool pattern_matches(const char *p, const char *context)
{
	size_t n = strlen(p);
	if (n && p[n - 1] == '*')
		return !strncmp(context, p, n - 1);
	return !strcmp(context, p);
}

/* A slow password hash (Argon2, scrypt) only slows the guessing of a low-entropy password; a
 * token is 256 random bits, beyond any guessing, so one fast BLAKE2b keeps it out of the file as
 * well, and a check costs a microsecond. */
static void hash_token(const char *text, size_t len, unsigned char out[HASH_BYTES])
{
	crypto_generichash(out, HASH_BYTES, (const unsigned char *)text, len, NULL, 0);
}

/* A string's value, or NULL when it is not a string or holds a NUL (\u0000). */
static const char *str_value(const json_t *v)
{
	if (!json_is_string(v))
		return NULL;
	const char *s = json_string_value(v);
	return strlen(s) == json_string_length(v) ? s : NULL;
}

/* ---- Loading --------------------------------------------------------------------------------- */

void trmx_tokens_free(trmx_tokens *t)
{
	if (!t)
		return;
	for (size_t i = 0; t->info && i < t->n; i++)
		free((void *)t->info[i].contexts);
	free(t->info);
	free(t->hash);
	json_decref(t->root);
	free(t);
}

/* Validate entry i of the file and fill t->info[i] and t->hash[i]. */
static int parse_entry(trmx_tokens *t, size_t i, json_t *e, const char *path, trmx_error *err)
{
	static const char *const keys[] = { "name", "scopes", "contexts", "hash", "created" };
	trmx_token_info *info = &t->info[i];
	char at[TRMX_ERROR_MESSAGE_MAX]; /* where, for the messages: path: tokens[i] ("name") */
	snprintf(at, sizeof at, "%s: tokens[%zu]", path, i);
	if (!json_is_object(e))
		return trmx_error_set(err, TRMX_EFORMAT, "%s is not an object", at);
	const char *key;
	json_t *v;
	json_object_foreach(e, key, v) {
		size_t k = 0;
		while (k < sizeof keys / sizeof *keys && strcmp(key, keys[k]))
			k++;
		/* a misspelt "contexts" must not widen a token to every context */
		if (k == sizeof keys / sizeof *keys)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: unknown key '%.64s'", at, key);
	}
	const char *name = str_value(json_object_get(e, "name"));
	if (!name || !name_valid(name, strlen(name)))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: name is not " NAME_RULE, at);
	for (size_t j = 0; j < i; j++)
		if (!strcmp(t->info[j].name, name))
			return trmx_error_set(err, TRMX_EFORMAT, "%s: a second token named '%s'", at, name);
	info->name = name;
	snprintf(at, sizeof at, "%s: tokens[%zu] (\"%s\")", path, i, name);

	json_t *sc = json_object_get(e, "scopes");
	if (!json_is_array(sc) || json_array_size(sc) == 0)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: scopes is not a list of " SCOPES_ACCEPTED, at);
	size_t j;
	json_array_foreach(sc, j, v) {
		const char *s = str_value(v);
		unsigned bit = s ? scope_bit(s, strlen(s)) : 0;
		if (!bit)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: scopes[%zu] is not " SCOPES_ACCEPTED, at, j);
		info->scopes |= bit;
	}

	json_t *cx = json_object_get(e, "contexts");
	if (cx && !json_is_array(cx))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: contexts is not a list", at);
	size_t nc = cx ? json_array_size(cx) : 0;
	if (nc > TRMX_TOKEN_CONTEXTS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: %zu contexts, more than TRMX_TOKEN_CONTEXTS_MAX (%d)", at,
				      nc, TRMX_TOKEN_CONTEXTS_MAX);
	if (nc) {
		const char **list = calloc(nc, sizeof *list);
		if (!list)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
		info->contexts = list;
		json_array_foreach(cx, j, v) {
			trmx_error why;
			const char *p = str_value(v);
			if (!p)
				return trmx_error_set(err, TRMX_EFORMAT, "%s: contexts[%zu] is not a string", at, j);
			if (pattern_check(p, &why) < 0)
				return trmx_error_set(err, TRMX_EFORMAT, "%s: contexts[%zu]: %s", at, j, why.message);
			list[j] = p;
		}
		info->ncontexts = nc;
	}

	const char *hex = str_value(json_object_get(e, "hash"));
	size_t got = 0;
	if (!hex || strlen(hex) != 2 * HASH_BYTES ||
	    sodium_hex2bin(t->hash[i], HASH_BYTES, hex, 2 * HASH_BYTES, NULL, &got, NULL) != 0 || got != HASH_BYTES)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: hash is not %d hex digits", at, 2 * HASH_BYTES);
	/* one secret under two names would make the name a check returns depend on the order */
	for (j = 0; j < i; j++)
		if (!memcmp(t->hash[j], t->hash[i], HASH_BYTES))
			return trmx_error_set(err, TRMX_EFORMAT, "%s: the same hash as '%s'", at, t->info[j].name);

	json_t *cr = json_object_get(e, "created");
	if (!json_is_integer(cr) || json_integer_value(cr) < 0)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: created is not a time in Unix milliseconds", at);
	info->created = json_integer_value(cr);
	return 0;
}

/* Take `root` (its reference passes to the handle, also on failure) and validate it. */
static int from_json(trmx_tokens **out, json_t *root, const char *path, trmx_error *err)
{
	trmx_tokens *t = calloc(1, sizeof *t);
	int rc = 0;
	if (!t) {
		json_decref(root);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
	}
	t->root = root;
	if (!json_is_object(root)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not a JSON object", path);
		goto done;
	}
	const char *key;
	json_t *v;
	json_object_foreach(root, key, v) {
		if (strcmp(key, "version") && strcmp(key, "tokens")) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: unknown key '%.64s' (version 1 has version and "
					    "tokens)", path, key);
			goto done;
		}
	}
	json_t *ver = json_object_get(root, "version");
	if (!json_is_integer(ver)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: no integer \"version\"", path);
		goto done;
	}
	if (json_integer_value(ver) != VERSION) {
		rc = trmx_error_set(err, TRMX_EVERSION, "%s: version %lld; this trmx reads version %d", path,
				    (long long)json_integer_value(ver), VERSION);
		goto done;
	}
	json_t *list = json_object_get(root, "tokens");
	if (!json_is_array(list)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: \"tokens\" is not a list", path);
		goto done;
	}
	size_t n = json_array_size(list);
	if (n > TRMX_TOKENS_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: %zu tokens, more than TRMX_TOKENS_MAX (%d)", path, n,
				    TRMX_TOKENS_MAX);
		goto done;
	}
	if (n && (!(t->info = calloc(n, sizeof *t->info)) || !(t->hash = calloc(n, sizeof *t->hash)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
		goto done;
	}
	t->n = n; /* entries not parsed yet hold no contexts to free */
	for (size_t i = 0; i < n; i++)
		if ((rc = parse_entry(t, i, json_array_get(list, i), path, err)) < 0)
			goto done;
done:
	if (rc < 0) {
		trmx_tokens_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int trmx_tokens_load(trmx_tokens **out, const char *path, trmx_error *err)
{
	if (!out || !path || !*path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_tokens_load: missing argument");
	if (sodium_init() < 0)
		return trmx_error_set(err, TRMX_ERROR, "libsodium cannot be initialised");
	/* Who may write the file may let anyone in; who may read it learns every name and scope. */
	char *buf = NULL;
	size_t got = 0;
	int rc = trmx_read_file(path, TRMX_TOKENS_FILE_MAX, NULL, TRMX_READ_PRIVATE, &buf, &got, err);
	if (rc == TRMX_ENOTFOUND)
		return trmx_error_set(err, TRMX_ENOTFOUND, "no tokens file %s", path);
	if (rc < 0)
		return rc;
	json_error_t je;
	json_t *root = json_loadb(buf, got, JSON_REJECT_DUPLICATES, &je);
	if (!root) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
		goto done;
	}
	rc = from_json(out, root, path, err);
done:
	free(buf);
	return rc;
}

size_t trmx_tokens_count(const trmx_tokens *t)
{
	return t ? t->n : 0;
}

const trmx_token_info *trmx_tokens_entry(const trmx_tokens *t, size_t i)
{
	return t && i < t->n ? &t->info[i] : NULL;
}

/* ---- Checking -------------------------------------------------------------------------------- */

const char *trmx_tokens_check(const trmx_tokens *t, const char *presented, size_t len, unsigned *scopes_out)
{
	if (scopes_out)
		*scopes_out = 0;
	if (!t || !presented)
		return NULL;
	unsigned char h[HASH_BYTES];
	hash_token(presented, len, h);
	/* Every entry is compared and the match picked with a mask rather than a branch. Hashes are
	 * unique in a loaded file, so at most one entry matches. */
	size_t found = 0; /* index + 1 */
	for (size_t i = 0; i < t->n; i++) {
		size_t eq = (size_t)(sodium_memcmp(h, t->hash[i], HASH_BYTES) == 0);
		found |= (i + 1) & (0 - eq);
	}
	sodium_memzero(h, sizeof h);
	if (!found)
		return NULL;
	if (scopes_out)
		*scopes_out = effective(t->info[found - 1].scopes);
	return t->info[found - 1].name;
}

bool trmx_tokens_allows(const trmx_tokens *t, const char *name, unsigned scope, const char *context)
{
	if (!t || !name || !scope || (scope & ~TRMX_SCOPES_ALL))
		return false;
	const trmx_token_info *e = NULL;
	for (size_t i = 0; i < t->n && !e; i++)
		if (!strcmp(t->info[i].name, name))
			e = &t->info[i];
	if (!e || (effective(e->scopes) & scope) != scope)
		return false;
	if (!context || !e->ncontexts)
		return true;
	for (size_t i = 0; i < e->ncontexts; i++)
		if (pattern_matches(e->contexts[i], context))
			return true;
	return false;
}

/* ---- Changing the file ----------------------------------------------------------------------- */

/* Hold an exclusive flock on PATH.lock (made beside the file, with the folder, when missing);
 * the lock file is never removed, since removing it would let two changers lock different files. */
static int lock_file(const char *path, int *fd_out, trmx_error *err)
{
	char *lock = NULL, *dir = NULL;
	int rc = 0, fd = -1;
	if (!(lock = trmx_xasprintf("%s.lock", path)) || !(dir = trmx_xstrdup(path))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx_mkdirs(dirname(dir), err)) < 0)
		goto done;
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot open %s: %s", lock, strerror(errno));
		goto done;
	}
	while (flock(fd, LOCK_EX) != 0) {
		if (errno != EINTR) {
			rc = trmx_error_set(err, TRMX_EIO, "cannot lock %s: %s", lock, strerror(errno));
			goto done;
		}
	}
	*fd_out = fd;
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	free(lock);
	free(dir);
	return rc;
}

/* The file as it is now, for a change made under the lock; an empty list when there is none. */
static int load_for_change(trmx_tokens **out, const char *path, bool may_be_missing, trmx_error *err)
{
	int rc = trmx_tokens_load(out, path, err);
	if (rc != TRMX_ENOTFOUND || !may_be_missing)
		return rc;
	json_t *root = json_pack("{s:i,s:[]}", "version", VERSION, "tokens");
	if (!root)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	return from_json(out, root, path, err);
}

/* Write the handle's JSON back to `path`. */
static int save(const trmx_tokens *t, const char *path, trmx_error *err)
{
	char *text = json_dumps(t->root, JSON_INDENT(2));
	if (!text)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory writing %s", path);
	size_t len = strlen(text);
	int rc = 0;
	char *full = NULL;
	if (len + 1 > TRMX_TOKENS_FILE_MAX)
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s would take %zu bytes, more than TRMX_TOKENS_FILE_MAX (%u)",
				    path, len + 1, TRMX_TOKENS_FILE_MAX);
	else if (!(full = trmx_xasprintf("%s\n", text)))
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory writing %s", path);
	else
		rc = trmx_write_file_atomic_mode(path, full, len + 1, 0600, err);
	free(full);
	free(text);
	return rc;
}

int trmx_tokens_add(const char *path, const char *name, unsigned scopes, const char *const *contexts,
		    size_t ncontexts, char *token_out, size_t cap, trmx_error *err)
{
	if (!path || !*path || !name || (ncontexts && !contexts) || !token_out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_tokens_add: missing argument");
	if (cap < TRMX_TOKEN_SIZE)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_tokens_add: a token takes %d bytes, not %zu",
				      TRMX_TOKEN_SIZE, cap);
	if (!name_valid(name, strlen(name)))
		return trmx_error_set(err, TRMX_EINVAL, "token name '%.80s': a name is " NAME_RULE, name);
	if (!scopes || (scopes & ~TRMX_SCOPES_ALL))
		return trmx_error_set(err, TRMX_EINVAL, "token '%s': scopes 0x%x are not a mask of " SCOPES_ACCEPTED,
				      name, scopes);
	if (ncontexts > TRMX_TOKEN_CONTEXTS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "token '%s': %zu contexts, more than TRMX_TOKEN_CONTEXTS_MAX "
				      "(%d)", name, ncontexts, TRMX_TOKEN_CONTEXTS_MAX);
	for (size_t i = 0; i < ncontexts; i++) {
		trmx_error why;
		int c = contexts[i] ? pattern_check(contexts[i], &why) : trmx_error_set(&why, TRMX_EINVAL, "NULL");
		if (c < 0)
			return trmx_error_set(err, c, "token '%s': context '%.80s': %s", name,
					      contexts[i] ? contexts[i] : "", why.message);
	}
	if (sodium_init() < 0)
		return trmx_error_set(err, TRMX_ERROR, "libsodium cannot be initialised");

	trmx_tokens *t = NULL;
	json_t *entry = NULL;
	unsigned char secret[SECRET_BYTES], h[HASH_BYTES];
	char text[TRMX_TOKEN_SIZE], hex[2 * HASH_BYTES + 1];
	int rc, lock = -1;
	if ((rc = lock_file(path, &lock, err)) < 0 || (rc = load_for_change(&t, path, true, err)) < 0)
		goto done;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->info[i].name, name)) {
			rc = trmx_error_set(err, TRMX_EINVAL, "%s: a token named '%s' exists already (revoke it first)",
					    path, name);
			goto done;
		}
	if (t->n >= TRMX_TOKENS_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s holds TRMX_TOKENS_MAX (%d) tokens already", path,
				    TRMX_TOKENS_MAX);
		goto done;
	}
	randombytes_buf(secret, sizeof secret);
	memcpy(text, PREFIX, sizeof PREFIX - 1);
	sodium_bin2base64(text + sizeof PREFIX - 1, sizeof text - (sizeof PREFIX - 1), secret, sizeof secret,
			  sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	hash_token(text, strlen(text), h);
	sodium_bin2hex(hex, sizeof hex, h, sizeof h);

	json_t *sc = json_array(), *cx = json_array();
	bool ok = sc && cx;
	for (size_t i = 0; i < NSCOPES; i++)
		if (scopes & (1u << i))
			ok = ok && !json_array_append_new(sc, json_string(scope_names[i]));
	for (size_t i = 0; i < ncontexts; i++)
		ok = ok && !json_array_append_new(cx, json_string(contexts[i]));
	if (ok)
		entry = json_pack("{s:s,s:O,s:O*,s:s,s:I}", "name", name, "scopes", sc, "contexts",
				  ncontexts ? cx : NULL, "hash", hex, "created", (json_int_t)trmx_now_ms());
	json_decref(sc);
	json_decref(cx);
	if (!entry || json_array_append(json_object_get(t->root, "tokens"), entry)) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = save(t, path, err)) < 0)
		goto done;
	memcpy(token_out, text, TRMX_TOKEN_SIZE);
done:
	sodium_memzero(secret, sizeof secret);
	sodium_memzero(text, sizeof text);
	json_decref(entry);
	trmx_tokens_free(t);
	if (lock >= 0)
		close(lock); /* releases the flock */
	return rc;
}

int trmx_tokens_revoke(const char *path, const char *name, trmx_error *err)
{
	if (!path || !*path || !name)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_tokens_revoke: missing argument");
	trmx_tokens *t = NULL;
	int rc, lock = -1;
	if ((rc = lock_file(path, &lock, err)) < 0 || (rc = load_for_change(&t, path, false, err)) < 0)
		goto done;
	size_t i = 0;
	while (i < t->n && strcmp(t->info[i].name, name))
		i++;
	if (i == t->n) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "%s: no token named '%.80s'", path, name);
		goto done;
	}
	/* entry i's name and contexts die with its JSON; the handle is only saved and freed after */
	if (json_array_remove(json_object_get(t->root, "tokens"), i)) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	rc = save(t, path, err);
done:
	trmx_tokens_free(t);
	if (lock >= 0)
		close(lock);
	return rc;
}
