/*
 * trmx/index.h — module indexes: a static folder of packages by digest and a signed index.json
 * (docs/FORMAT.md, "Module indexes"), published with trmx_index_publish and pulled over HTTP
 * (libcurl) into a home that trusts the index's signer.
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_index_publish("sudoku4-1.1.0.trmx", "/srv/index", "author.key", NULL, NULL, &err);
 *
 *     char id[TRMX_KEY_ID_SIZE];
 *     trmx_index_add(home, "https://example.org/index", "author.pub", NULL, id, &err);
 *     trmx_index *idx = NULL;
 *     const trmx_index_entry *e = NULL;
 *     trmx_index_find(home, "sudoku4", NULL, NULL, &idx, &e, &err);   // newest, every index
 *     char *path = NULL;
 *     trmx_index_pull(home, idx, e, NULL, &path, &err);   // HOME/cache/<digest>.trmx, checked
 *     trmx_registry_install(reg, path, NULL, NULL, &err);
 *     free(path);
 *     trmx_index_free(idx);
 *
 * An index comes from strangers until its signature is checked: the signature (index.json.sig,
 * the trmx-signature-1 format of manifest.sig) is checked against the one key the home trusts
 * for that index before the JSON is parsed; then the index must not be older than the newest
 * one this home has seen (rollback) nor expired (a frozen mirror). Every number is capped
 * (limits.h, "Module indexes") before it is used. Errors follow trmx.h: TRMX_EFORMAT (malformed),
 * TRMX_EINTEGRITY (a signature, digest or size that does not match; a rolled-back or expired
 * index; a redirect), TRMX_ELIMIT, TRMX_ENOTFOUND, TRMX_EIO (the network or the disk),
 * TRMX_EINVAL, TRMX_ENOMEM.
 */
#ifndef TRMX_INDEX_H
#define TRMX_INDEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/package.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* The value of index.json's "format". */
#define TRMX_INDEX_FORMAT "trmx-index-1"

typedef struct trmx_index trmx_index;

/* One metric of a package, as its manifest states it (absent numbers are -1). */
typedef struct trmx_index_metric {
	const char *set;
	double exact_accuracy;
	double token_accuracy;
	double mean_steps;
} trmx_index_metric;

/* One package of an index (borrowed from the index). */
typedef struct trmx_index_entry {
	const char *name;
	const char *version;
	const char *digest;       /* SHA-256 of the .trmx file; it lives at packages/<digest>.trmx */
	uint64_t size;            /* bytes of the .trmx file */
	const char *description;  /* "" when none */
	const char *task;         /* codec name */
	const char *task_params;  /* "size=4" or "" */
	const char *engine;
	const char *signer;       /* key id of the package's own manifest.sig, "" when unsigned */
	size_t nmetrics;
	const trmx_index_metric *metrics;
} trmx_index_entry;

/* Parse index.json bytes (at most TRMX_INDEX_FILE_MAX) strictly: the keys of docs/FORMAT.md and
 * no others, every name, version, digest and number valid, no package listed twice. No
 * signature is checked here (see trmx_index_open). `source` names the bytes in messages. */
int trmx_index_parse(trmx_index **out, const char *json, size_t len, const char *source,
		     trmx_error *err);
void trmx_index_free(trmx_index *idx);

/* Check index.json.sig over the exact bytes of index.json: TRMX_EFORMAT for a malformed
 * signature file, TRMX_EINTEGRITY when it is not a valid signature of these bytes or is made by
 * another key than `signer`. */
int trmx_index_signature_check(const char *json, size_t len, const char *sig, size_t siglen,
			       const trmx_public_key *signer, trmx_error *err);

/* Signature, then parse, then freshness: `now` (seconds since 1970) before the index's expiry,
 * and its version at least `seen_version` (0: nothing seen yet). The same version as seen with
 * other bytes (`seen_digest`, the SHA-256 hex of the index.json seen, may be NULL) is refused
 * too: a publisher that changes the index bumps its version. */
int trmx_index_open(trmx_index **out, const char *json, size_t len, const char *sig, size_t siglen,
		    const trmx_public_key *signer, int64_t now, int64_t seen_version,
		    const char *seen_digest, trmx_error *err);

int64_t trmx_index_version(const trmx_index *idx);
int64_t trmx_index_expires(const trmx_index *idx);     /* seconds since 1970 */
size_t trmx_index_count(const trmx_index *idx);
const trmx_index_entry *trmx_index_at(const trmx_index *idx, size_t i);
/* NAME@VERSION, or the newest version of NAME by SemVer when `version` is NULL; NULL if none. */
const trmx_index_entry *trmx_index_lookup(const trmx_index *idx, const char *name, const char *version);
/* The key id of the index's trusted signer, "" for an index that was only parsed. */
const char *trmx_index_signer(const trmx_index *idx);

/* Write an index as index.json text (malloc'd, *len bytes): packages ordered by name and SemVer,
 * two-space indentation, so the same index gives the same bytes. */
int trmx_index_format(const trmx_index *idx, char **out, size_t *len, trmx_error *err);

/* ---- Publishing ------------------------------------------------------------------------- */

typedef struct trmx_publish_options {
	unsigned int version;
	const char *home;         /* trust store and policy for verifying the package, or NULL */
	int64_t expires_in;       /* seconds the new index stays valid (0: 30 days) */
	int64_t now;              /* 0: the clock (tests set it) */
} trmx_publish_options;
#define TRMX_PUBLISH_OPTIONS_VERSION 1
#define TRMX_PUBLISH_OPTIONS_INIT { TRMX_PUBLISH_OPTIONS_VERSION, NULL, 0, 0 }

typedef struct trmx_publish_result {
	char name[TRMX_MANIFEST_NAME_MAX + 1];
	char version[TRMX_MANIFEST_VERSION_MAX + 1];
	char digest[TRMX_SHA256_HEX_SIZE];
	int64_t index_version;    /* of the index written (or kept, when already published) */
	bool already;             /* this very package was listed already; nothing changed */
	char key_id[TRMX_KEY_ID_SIZE];
} trmx_publish_result;

/* Add the package at `pkg` to the index folder `dir` (made when absent): verify it (integrity,
 * signature as opts->home's policy asks, contents), copy it to packages/<digest>.trmx, and
 * write index.json with version + 1 and index.json.sig signed with `secret_key`, each
 * atomically (the signature first). An existing index must be signed by the same key. A
 * package with the name and version of another one listed is refused (TRMX_EINVAL). `opts` and
 * `out` may be NULL. */
int trmx_index_publish(const char *pkg, const char *dir, const char *secret_key,
		       const trmx_publish_options *opts, trmx_publish_result *out, trmx_error *err);

/* ---- Indexes of a home ------------------------------------------------------------------ */

/* Transfer progress: `done` of `total` bytes of `what` (total 0: unknown). */
typedef void (*trmx_progress_fn)(void *user, const char *what, uint64_t done, uint64_t total);

typedef struct trmx_fetch_options {
	unsigned int version;
	trmx_progress_fn progress;  /* may be NULL */
	void *user;
	long timeout_s;             /* a transfer that stalls this long fails (0: 60 s) */
	int64_t now;                /* 0: the clock */
} trmx_fetch_options;
#define TRMX_FETCH_OPTIONS_VERSION 1
#define TRMX_FETCH_OPTIONS_INIT { TRMX_FETCH_OPTIONS_VERSION, NULL, NULL, 0, 0 }

/* An index known to a home: HOME/indexes/<key-id>/ (docs/FORMAT.md). */
typedef struct trmx_index_source {
	char key_id[TRMX_KEY_ID_SIZE];
	char comment[TRMX_MANIFEST_STRING_MAX + 1];  /* of the signer's key */
	size_t nurls;
	char urls[TRMX_INDEX_MIRRORS_MAX][TRMX_INDEX_URL_MAX + 1];  /* mirrors, tried in this order */
	int64_t seen_version;      /* of the newest index verified here, 0 when none */
	int64_t seen_expires;
} trmx_index_source;

/* Trust the index at `url` (http or https), signed by the key in `pub_path`: fetch and check it
 * (nothing is stored when that fails), then record the URL, the key and the index. A URL added
 * for a key already known is appended as a mirror. */
int trmx_index_add(const char *home, const char *url, const char *pub_path,
		   const trmx_fetch_options *opts, char key_id[TRMX_KEY_ID_SIZE], trmx_error *err);
/* Remove a mirror URL (the index goes with its last one) or a whole index by its key id.
 * TRMX_ENOTFOUND when neither is known. */
int trmx_index_remove(const char *home, const char *what, trmx_error *err);
/* The indexes of the home, by key id, in a malloc'd array (free it with free()). */
int trmx_index_sources(const char *home, trmx_index_source **out, size_t *n, trmx_error *err);

/* Fetch the index `key_id` from its mirrors in order (a mirror that fails is skipped, with the
 * reason sent to the log; a refusal — signature, rollback, expiry — fails the call), check it,
 * and keep it as the newest seen. */
int trmx_index_refresh(const char *home, const char *key_id, const trmx_fetch_options *opts,
		       trmx_index **out, trmx_error *err);
/* Refresh every index of the home and find NAME@VERSION (`version` NULL: the newest of all).
 * *idx gets the index it is in (free it), *entry a borrowed entry of it. TRMX_ENOTFOUND when
 * no index lists it. */
int trmx_index_find(const char *home, const char *name, const char *version,
		    const trmx_fetch_options *opts, trmx_index **idx, const trmx_index_entry **entry,
		    trmx_error *err);
/* Download `entry` of `idx` (refreshed from this home) into HOME/cache/<digest>.trmx: refused
 * above TRMX_PACKAGE_FILE_MAX before any byte is asked for; resumed from HOME/cache/<digest>.part
 * when an earlier transfer stopped; never more than the listed size read; redirects not
 * followed; mirrors tried in order; then the size and the SHA-256 checked and the package's
 * manifest compared with the entry, all before the file is given to anyone. *path (malloc'd)
 * names the checked file. */
int trmx_index_pull(const char *home, const trmx_index *idx, const trmx_index_entry *entry,
		    const trmx_fetch_options *opts, char **path, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
