/*
 * resolve.c — names: TARGETs (MODULE, MODULE@VERSION, MODULE@ALIAS, MODULE@sha256:HEX), context
 * names, the canary split; and resolution of a context or target into the version that serves
 * it, read in one snapshot of registry.db.
 */
#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uninorm.h>

#include "registry_int.h"

#define DB "registry.db"

static bool module_name_valid(const char *s, size_t n)
{
	if (n == 0 || n > TRMX_MANIFEST_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		bool ok = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || (s[i] == '-' && s[i + 1] != '-');
		if (!ok)
			return false;
	}
	return true;
}

int trmx_target_parse(const char *s, trmx_target *out, trmx_error *err)
{
	if (!s || !*s)
		return trmx_error_set(err, TRMX_EINVAL, "an empty target");
	size_t n = strlen(s);
	if (n > TRMX_TARGET_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "a target longer than TRMX_TARGET_MAX (%d bytes)", TRMX_TARGET_MAX);
	trmx_target t;
	memset(&t, 0, sizeof t);
	const char *at = strchr(s, '@');
	size_t mlen = at ? (size_t)(at - s) : n;
	if (!module_name_valid(s, mlen))
		return trmx_error_set(err, TRMX_EINVAL,
				      "'%.*s' is not a module name ([a-z0-9] with single inner '-', at most %d bytes)",
				      (int)(mlen > 80 ? 80 : mlen), s, TRMX_MANIFEST_NAME_MAX);
	memcpy(t.module, s, mlen);
	if (!at) {
		t.kind = TRMX_TARGET_MODULE;
		*out = t;
		return 0;
	}
	const char *ref = at + 1;
	size_t rlen = strlen(ref);
	if (!rlen)
		return trmx_error_set(err, TRMX_EINVAL, "'%s': nothing after '@'", s);
	if (!strncmp(ref, "sha256:", 7)) {
		const char *hex = ref + 7;
		size_t h = strlen(hex);
		if (h < 12 || h > 64)
			return trmx_error_set(err, TRMX_EINVAL, "'%s': a digest needs 12 to 64 hex digits", s);
		for (size_t i = 0; i < h; i++) {
			char c = hex[i];
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return trmx_error_set(err, TRMX_EINVAL, "'%s': '%c' is not a hex digit", s, hex[i]);
			t.ref[i] = c;
		}
		t.kind = TRMX_TARGET_DIGEST;
	} else if (trmx_semver_valid(ref)) {
		if (rlen > TRMX_MANIFEST_VERSION_MAX)
			return trmx_error_set(err, TRMX_ELIMIT, "'%s': version longer than %d bytes", s, TRMX_MANIFEST_VERSION_MAX);
		memcpy(t.ref, ref, rlen);
		t.kind = TRMX_TARGET_VERSION;
	} else if (trmx__reg_alias_valid(ref)) {
		memcpy(t.ref, ref, rlen);
		t.kind = TRMX_TARGET_ALIAS;
	} else {
		return trmx_error_set(err, TRMX_EINVAL,
				      "'%s': after '@' comes a version (1.2.0), an alias ([a-z][a-z0-9_-]*) or sha256:HEX", s);
	}
	*out = t;
	return 0;
}

/* Invisible format characters that make two names look alike or reorder what a terminal shows:
 * zero-width and bidi marks (U+200B-U+200F, U+202A-U+202E, U+2060-U+2064, U+2066-U+2069), the
 * byte-order mark U+FEFF, the soft hyphen U+00AD and the Arabic letter mark U+061C. */
static bool invisible_at(const unsigned char *p, size_t left)
{
	if (left >= 2 && ((p[0] == 0xc2 && p[1] == 0xad) || (p[0] == 0xd8 && p[1] == 0x9c)))
		return true;
	if (left < 3)
		return false;
	if (p[0] == 0xef && p[1] == 0xbb && p[2] == 0xbf)
		return true;
	if (p[0] != 0xe2)
		return false;
	return (p[1] == 0x80 && ((p[2] >= 0x8b && p[2] <= 0x8f) || (p[2] >= 0xaa && p[2] <= 0xae))) ||
	       (p[1] == 0x81 && ((p[2] >= 0xa0 && p[2] <= 0xa4) || (p[2] >= 0xa6 && p[2] <= 0xa9)));
}

int trmx_context_check(const char *c, trmx_error *err)
{
	size_t n = c ? strlen(c) : 0;
	if (!n)
		return trmx_error_set(err, TRMX_EINVAL, "an empty context name");
	if (n > TRMX_CONTEXT_NAME_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "a context name longer than TRMX_CONTEXT_NAME_MAX (%d bytes)",
				      TRMX_CONTEXT_NAME_MAX);
	if (!trmx_utf8_valid(c, n))
		return trmx_error_set(err, TRMX_EINVAL, "a context name must be UTF-8");
	if (c[0] == '-')
		return trmx_error_set(err, TRMX_EINVAL, "context '%s': a name may not start with '-'", c);
	for (size_t i = 0; i < n; i++) {
		unsigned char b = (unsigned char)c[i];
		if (b < 0x20 || b == 0x7f || (b == 0xc2 && i + 1 < n && (unsigned char)c[i + 1] < 0xa0))
			return trmx_error_set(err, TRMX_EINVAL, "a context name may not hold control characters");
		if (b == '@')
			return trmx_error_set(err, TRMX_EINVAL, "context '%s': '@' belongs to targets (MODULE@VERSION), "
					      "not to context names", c);
		if (invisible_at((const unsigned char *)c + i, n - i))
			return trmx_error_set(err, TRMX_EINVAL, "a context name may not hold invisible characters (zero-width "
					      "or bidirectional marks, byte %zu)", i + 1);
	}
	/* One spelling per name: Unicode NFC (libunistring's tables). A name in another form (an 'e'
	 * and a combining accent for an 'é', as macOS writes file names) is refused, not silently
	 * rewritten: a context is a key that LMS links, tokens and logged runs repeat byte for byte. */
	size_t nl = 0;
	uint8_t *nfc = u8_normalize(UNINORM_NFC, (const uint8_t *)c, n, NULL, &nl);
	if (!nfc)
		return trmx_error_set(err, errno == ENOMEM ? TRMX_ENOMEM : TRMX_EINVAL, "context '%s': cannot normalise it "
				      "to Unicode NFC: %s", c, strerror(errno));
	int rc = 0;
	if (nl != n || memcmp(nfc, c, n))
		rc = trmx_error_set(err, TRMX_EINVAL, "context '%s' is not in Unicode normalization form C: write it as "
				    "'%.*s' (composed characters)", c, (int)(nl < 512 ? nl : 512), (const char *)nfc);
	free(nfc);
	return rc;
}

double trmx_canary_point(const char *learner, const char *context)
{
	crypto_hash_sha256_state h;
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)(learner ? learner : ""), learner ? strlen(learner) : 0);
	crypto_hash_sha256_update(&h, (const unsigned char *)"", 1);
	crypto_hash_sha256_update(&h, (const unsigned char *)(context ? context : ""), context ? strlen(context) : 0);
	crypto_hash_sha256_final(&h, d);
	uint64_t x = 0;
	for (int i = 0; i < 8; i++)
		x = x << 8 | d[i];
	return (double)(x >> 11) * 0x1.0p-53; /* 53 bits: exactly representable, in [0, 1) */
}

/* ---- Versions ---------------------------------------------------------------------------------- */

static void row_version(sqlite3_stmt *st, struct reg_version *v)
{
	memset(v, 0, sizeof *v);
	trmx_db_column_copy(st, 0, v->module, sizeof v->module);
	trmx_db_column_copy(st, 1, v->version, sizeof v->version);
	trmx_db_column_copy(st, 2, v->digest, sizeof v->digest);
	const unsigned char *state = sqlite3_column_text(st, 3);
	v->quarantined = state && !strcmp((const char *)state, "quarantined");
	trmx_db_column_copy(st, 4, v->engine, sizeof v->engine);
	trmx_db_column_copy(st, 5, v->codec, sizeof v->codec);
	trmx_db_column_copy(st, 6, v->codec_params, sizeof v->codec_params);
}

#define VCOLS "SELECT module, version, digest, state, engine, codec, codec_params FROM versions "

int trmx__reg_target_version(trmx_registry *r, const trmx_target *t, struct reg_version *out, char alias[TRMX_ALIAS_MAX + 1],
			     trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	const char *sql;
	char version[TRMX_MANIFEST_VERSION_MAX + 1];
	int rc, s;
	alias[0] = 0;
	snprintf(version, sizeof version, "%s", t->ref);
	if (t->kind == TRMX_TARGET_ALIAS) {
		if ((rc = trmx_db_prepare(r->db, "SELECT version FROM aliases WHERE module = ?1 AND alias = ?2", &st, DB, err)) < 0)
			return rc;
		sqlite3_bind_text(st, 1, t->module, -1, SQLITE_TRANSIENT);
		sqlite3_bind_text(st, 2, t->ref, -1, SQLITE_TRANSIENT);
		s = trmx_db_step(st);
		if (s == SQLITE_ROW)
			trmx_db_column_copy(st, 0, version, sizeof version);
		rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? trmx_error_set(err, TRMX_ENOTFOUND, "no alias %s@%s", t->module, t->ref)
							    : trmx_db_error(r->db, s, DB, err);
		sqlite3_finalize(st);
		if (rc < 0)
			return rc;
		snprintf(alias, TRMX_ALIAS_MAX + 1, "%.*s", TRMX_ALIAS_MAX, t->ref);
	}
	switch (t->kind) {
	case TRMX_TARGET_MODULE: sql = VCOLS "WHERE module = ?1"; break;
	case TRMX_TARGET_DIGEST: sql = VCOLS "WHERE module = ?1 AND substr(digest, 1, length(?2)) = ?2"; break;
	default: sql = VCOLS "WHERE module = ?1 AND version = ?2"; break;
	}
	if ((rc = trmx_db_prepare(r->db, sql, &st, DB, err)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, t->module, -1, SQLITE_TRANSIENT);
	if (t->kind != TRMX_TARGET_MODULE)
		sqlite3_bind_text(st, 2, t->kind == TRMX_TARGET_DIGEST ? t->ref : version, -1, SQLITE_TRANSIENT);
	struct reg_version best, v;
	int found = 0;
	bool best_active = false;
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		row_version(st, &v);
		bool active = !v.quarantined;
		/* MODULE: the highest active version (the highest quarantined one if none is active) */
		if (!found || (active && !best_active) ||
		    (active == best_active && trmx_semver_compare(v.version, best.version) > 0)) {
			best = v;
			best_active = active;
		}
		found++;
	}
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	if (!found) {
		switch (t->kind) {
		case TRMX_TARGET_MODULE: return trmx_error_set(err, TRMX_ENOTFOUND, "no module '%s' is installed", t->module);
		case TRMX_TARGET_DIGEST:
			return trmx_error_set(err, TRMX_ENOTFOUND, "no package of module '%s' has digest sha256:%s", t->module, t->ref);
		case TRMX_TARGET_ALIAS:
			return trmx_error_set(err, TRMX_ENOTFOUND, "alias %s@%s points at %s, which is not installed", t->module,
					      t->ref, version);
		default: return trmx_error_set(err, TRMX_ENOTFOUND, "%s@%s is not installed", t->module, version);
		}
	}
	if (t->kind == TRMX_TARGET_DIGEST && found > 1)
		return trmx_error_set(err, TRMX_EINVAL, "sha256:%s names %d packages of '%s'; give more digits", t->ref, found,
				      t->module);
	*out = best;
	return 0;
}

/* Fill a resolution from a version row. */
static void reg_fill_resolution(const trmx_registry *r, const struct reg_version *v, trmx_resolution *out)
{
	snprintf(out->module, sizeof out->module, "%s", v->module);
	snprintf(out->module_version, sizeof out->module_version, "%s", v->version);
	snprintf(out->digest, sizeof out->digest, "%s", v->digest);
	snprintf(out->engine, sizeof out->engine, "%s", v->engine);
	snprintf(out->codec, sizeof out->codec, "%s", v->codec);
	snprintf(out->codec_params, sizeof out->codec_params, "%s", v->codec_params);
	snprintf(out->store_path, sizeof out->store_path, "%s/%s", r->store, v->digest);
}

/* ---- Resolution -------------------------------------------------------------------------------- */

/* The active version `target` names, or an error that says why it cannot serve. */
static int serve(trmx_registry *r, const char *target, struct reg_version *v, char alias[TRMX_ALIAS_MAX + 1],
		 trmx_error *err)
{
	trmx_target t;
	int rc = trmx_target_parse(target, &t, err);
	if (rc == 0 && (rc = trmx__reg_target_version(r, &t, v, alias, err)) == 0 && v->quarantined)
		rc = trmx_error_set(err, TRMX_ERROR, "%s@%s is quarantined: nothing dispatches to it", v->module, v->version);
	return rc;
}

int trmx_registry_is_context(trmx_registry *r, const char *name, bool *out, trmx_error *err)
{
	if (!r || !name || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_is_context: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "SELECT 1 FROM bindings WHERE context = ?1", &st, DB, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW || s == SQLITE_DONE)
		*out = s == SQLITE_ROW;
	else
		rc = trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

static int resolve_in_snapshot(trmx_registry *r, const char *name, const char *learner, trmx_resolution *res,
			       trmx_error *err)
{
	int rc = trmx_registry_generation(r, &res->generation, err);
	if (rc < 0)
		return rc;
	struct reg_version v;
	sqlite3_stmt *st = NULL;
	if ((rc = trmx_db_prepare(r->db, "SELECT target, canary, canary_share FROM bindings WHERE context = ?1", &st, DB,
				  err)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	char target[TRMX_TARGET_MAX + 1] = "", canary[TRMX_TARGET_MAX + 1] = "";
	double share = 0;
	if (s == SQLITE_ROW) {
		trmx_db_column_copy(st, 0, target, sizeof target);
		trmx_db_column_copy(st, 1, canary, sizeof canary);
		share = sqlite3_column_double(st, 2);
	}
	rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	if (s == SQLITE_DONE) { /* not a context: a target */
		if (strchr(name, '@') == NULL && strlen(name) <= TRMX_MANIFEST_NAME_MAX) {
			trmx_target t;
			trmx_error e2;
			if (trmx_target_parse(name, &t, &e2) < 0)
				return trmx_error_set(err, TRMX_ENOTFOUND, "'%s' is neither a bound context nor a module", name);
		}
		if ((rc = serve(r, name, &v, res->alias, err)) < 0)
			return rc;
		snprintf(res->target, sizeof res->target, "%s", name);
		res->arm = TRMX_ARM_MAIN;
		reg_fill_resolution(r, &v, res);
		return 0;
	}
	snprintf(res->context, sizeof res->context, "%s", name);
	if (canary[0] && learner && *learner && share > 0 && trmx_canary_point(learner, name) < share) {
		trmx_error e2;
		if (serve(r, canary, &v, res->alias, &e2) == 0) {
			snprintf(res->target, sizeof res->target, "%s", canary);
			res->arm = TRMX_ARM_CANARY;
			reg_fill_resolution(r, &v, res);
			return 0;
		}
		trmx_diag(TRMX_DIAG_DEBUG, "context '%s': the canary cannot serve (%s); using %s", name, e2.message, target);
	}
	if ((rc = serve(r, target, &v, res->alias, err)) < 0)
		return trmx_error_prefix(err, "context '%s' is bound to %s", name, target);
	snprintf(res->target, sizeof res->target, "%s", target);
	res->arm = TRMX_ARM_MAIN;
	reg_fill_resolution(r, &v, res);
	return 0;
}

int trmx_registry_resolve(trmx_registry *r, const char *name, const char *learner, trmx_resolution *out, trmx_error *err)
{
	if (!r || !name || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_resolve: missing argument");
	if (!*name)
		return trmx_error_set(err, TRMX_EINVAL, "an empty name");
	trmx_resolution res;
	memset(&res, 0, sizeof res);
	/* one read snapshot: the generation and the rows agree */
	int rc = trmx_db_exec(r->db, "BEGIN", DB, err);
	if (rc < 0)
		return rc;
	rc = resolve_in_snapshot(r, name, learner, &res, err);
	trmx_db_rollback(r->db);
	if (rc < 0)
		return rc;
	*out = res;
	return 0;
}
