/*
 * trmx/package.h — modules as one file: the manifest, the .trmx package (a zip), its integrity,
 * its signature, and the trust store. docs/FORMAT.md is the specification; docs/SECURITY.md
 * says what a hostile package can and cannot do.
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_package *p = NULL;
 *     trmx_package_open(&p, "sudoku4-tiny-0.1.0.trmx", NULL, &err);   // central directory and
 *                                                                      // manifest validated
 *     const trmx_manifest *m = trmx_package_manifest(p);
 *     printf("%s %s\n", trmx_manifest_name(m), trmx_manifest_version(m));
 *
 *     trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
 *     vo.home = home;                         // trust store and policy (trmx_home_resolve)
 *     vo.flags = TRMX_VERIFY_CONTENTS;        // also weights against architecture, examples
 *     trmx_package_verify(p, &vo, NULL, &err);    // every size, SHA-256, the signature
 *
 *     trmx_package_extract(p, "/store/tmp.XXXX", &err);    // into an empty folder
 *     char digest[TRMX_SHA256_HEX_SIZE];
 *     trmx_package_digest(p, digest, &err);               // SHA-256 of the archive file
 *     trmx_package_free(p);
 *
 * A package comes from strangers: opening reads the zip's central directory with our own
 * bounded parser (every limit in limits.h, section "Packages"), validates every member name and
 * type, reads and validates the manifest, and cross-checks both before any member's data is
 * touched. Member data is only ever streamed in fixed-size blocks, stopped as soon as a member
 * goes past its declared size or its compression ratio cap.
 *
 * Errors follow trmx.h: 0 or a negative TRMX_E* code, with the per-call `trmx_error` naming
 * what is wrong and where (file, member, line, column, key path). Codes used: TRMX_EFORMAT
 * (malformed), TRMX_ELIMIT (a named limit), TRMX_EINTEGRITY (a size, digest or signature does
 * not match; a member missing or not listed), TRMX_EVERSION, TRMX_ENOTFOUND, TRMX_EIO,
 * TRMX_ENOMEM, TRMX_EINVAL; the content checks add those of trmx_weights_open, trmx_model_open
 * and the task codecs.
 */
#ifndef TRMX_PACKAGE_H
#define TRMX_PACKAGE_H

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

/* ---- Hashing ----------------------------------------------------------------------------- */

/* A SHA-256 digest in lowercase hex with its NUL. */
#define TRMX_SHA256_HEX_SIZE 65

/* SHA-256 of `len` bytes, as hex. */
void trmx_sha256_hex(const void *data, size_t len, char out[TRMX_SHA256_HEX_SIZE]);
/* SHA-256 of a whole file, read in blocks. Errors: TRMX_ENOTFOUND, TRMX_EIO. */
int trmx_sha256_file(const char *path, char out[TRMX_SHA256_HEX_SIZE], trmx_error *err);

/* ---- Versions ---------------------------------------------------------------------------- */

/* Is `s` a SemVer 2.0 version ("1.2.3", "1.0.0-rc.1+build.5")? */
bool trmx_semver_valid(const char *s);
/* Order two valid SemVer versions by precedence (build metadata ignored): <0, 0, >0. An invalid
 * string sorts before every valid one. */
int trmx_semver_compare(const char *a, const char *b);

/* ---- Manifest ---------------------------------------------------------------------------- */

typedef struct trmx_manifest trmx_manifest;

/* What is being read: the manifest of a package (`files:` required), or the one an author keeps
 * in a module folder for `trmx pack` (`files:` must be absent; pack fills it in). */
typedef enum trmx_manifest_mode {
	TRMX_MANIFEST_PACKAGE = 0,
	TRMX_MANIFEST_SOURCE = 1
} trmx_manifest_mode;

/* Read and validate a manifest from a file (at most TRMX_MANIFEST_SIZE_MAX bytes) or from bytes.
 * Every field is checked against the specification (docs/FORMAT.md): types, required keys,
 * limits, unknown keys (an error unless they start with "x-", which are kept as written). YAML
 * anchors, aliases, tags and duplicate keys are refused; nesting is capped. `source` names the
 * bytes in messages ("pkg.trmx:manifest.yaml"). Messages read "source:line:column: key 'a.b':
 * what". Errors: TRMX_EFORMAT, TRMX_ELIMIT, TRMX_EVERSION (format_version), TRMX_ENOTFOUND,
 * TRMX_EIO, TRMX_ENOMEM. */
int trmx_manifest_load(trmx_manifest **out, const char *path, trmx_manifest_mode mode,
		       trmx_error *err);
int trmx_manifest_parse(trmx_manifest **out, const char *text, size_t len, const char *source,
			trmx_manifest_mode mode, trmx_error *err);
void trmx_manifest_free(trmx_manifest *m);

/* The format this reader writes and reads (format_version). */
#define TRMX_MANIFEST_FORMAT_VERSION 1

/* Scalar fields (borrowed; NULL when an optional field is absent). */
int trmx_manifest_format_version(const trmx_manifest *m);
const char *trmx_manifest_name(const trmx_manifest *m);
const char *trmx_manifest_version(const trmx_manifest *m);
const char *trmx_manifest_description(const trmx_manifest *m);
const char *trmx_manifest_license(const trmx_manifest *m);
const char *trmx_manifest_homepage(const trmx_manifest *m);
size_t trmx_manifest_author_count(const trmx_manifest *m);
const char *trmx_manifest_author_at(const trmx_manifest *m, size_t i);

/* engine: {name, abi}. `abi` is a range of engine ABI versions (">=1 <2"); `accepts` tells
 * whether a given ABI version (TRMX_ENGINE_ABI_VERSION of engine.h) lies in it. */
const char *trmx_manifest_engine_name(const trmx_manifest *m);
const char *trmx_manifest_engine_abi(const trmx_manifest *m);
bool trmx_manifest_engine_accepts(const trmx_manifest *m, unsigned int abi_version);

/* task: {codec, params}. params is never NULL (maybe empty); pass it to trmx_task_open_config. */
const char *trmx_manifest_task_codec(const trmx_manifest *m);
const trmx_config *trmx_manifest_task_params(const trmx_manifest *m);

/* halting.threshold: the halt threshold adaptive solves of this module use (the solve request's
 * halt_threshold, calibrated with `trmx eval --calibrate`); 0, the official rule, when absent. */
double trmx_manifest_halt_threshold(const trmx_manifest *m);

/* halting.max_steps: the step cap of this module's solves where the caller names none (fixed:
 * the steps run; adaptive: the most), which may be above the trained halt_max_steps; 0 when
 * absent (the engine's halt_max_steps). */
int trmx_manifest_max_steps(const trmx_manifest *m);

/* architecture: the official config keys, nested mappings as dotted keys ("loss.name"); pass it
 * to trmx_model_open with trmx_manifest_engine_name. Never NULL. */
const trmx_config *trmx_manifest_architecture(const trmx_manifest *m);

/* training: provenance; NULL when the manifest has none. Absent numbers are -1 (duration -1.0). */
typedef struct trmx_manifest_training {
	const char *dataset;        /* data set name */
	const char *dataset_sha256; /* its digest, or NULL */
	int64_t steps;
	int64_t seed;
	bool has_seed;
	const char *hardware;       /* or NULL */
	double duration;            /* wall-clock seconds */
	const char *base;           /* lineage: the SHA-256 of the package fine-tuned from, or NULL */
	const char *corrections_sha256; /* lineage: the SHA-256 of the corrections mixed in, or NULL */
} trmx_manifest_training;
const trmx_manifest_training *trmx_manifest_training_get(const trmx_manifest *m);

/* metrics: one entry per named held-out set. Absent optional numbers are -1. */
typedef struct trmx_manifest_metric {
	const char *set;            /* the held-out set's name */
	double exact_accuracy;      /* [0, 1], required */
	double token_accuracy;      /* [0, 1] or -1 */
	double mean_steps;          /* ACT steps per puzzle, or -1 */
	int64_t count;              /* puzzles in the set, or -1 */
	const char *halt;           /* "fixed", "adaptive" or NULL */
	int64_t max_steps;          /* the step cap of the evaluation, or -1 */
} trmx_manifest_metric;
size_t trmx_manifest_metric_count(const trmx_manifest *m);
const trmx_manifest_metric *trmx_manifest_metric_at(const trmx_manifest *m, size_t i);

/* examples: member paths of an input in the task codec's text format and, optionally, of the
 * expected answer. */
typedef struct trmx_manifest_example {
	const char *input;
	const char *expected;       /* or NULL */
} trmx_manifest_example;
size_t trmx_manifest_example_count(const trmx_manifest *m);
const trmx_manifest_example *trmx_manifest_example_at(const trmx_manifest *m, size_t i);

/* files: every member besides manifest.yaml and manifest.sig. Empty in TRMX_MANIFEST_SOURCE. */
typedef struct trmx_manifest_file {
	const char *path;
	uint64_t size;
	char sha256[TRMX_SHA256_HEX_SIZE];
} trmx_manifest_file;
size_t trmx_manifest_file_count(const trmx_manifest *m);
const trmx_manifest_file *trmx_manifest_file_at(const trmx_manifest *m, size_t i);
/* The entry for `path`, NULL when none. */
const trmx_manifest_file *trmx_manifest_file_find(const trmx_manifest *m, const char *path);

/* x-* extension keys anywhere they are allowed, in document order: `key` is the key path
 * ("x-course", "training.x-gpu") and `yaml` the value's YAML source text as written. */
size_t trmx_manifest_extension_count(const trmx_manifest *m);
void trmx_manifest_extension_at(const trmx_manifest *m, size_t i, const char **key,
				const char **yaml);

/* Look a value up by key path: "engine.abi", "files[0].sha256", "metrics.test.mean_steps".
 * 0 when present, with *value the scalar's text (NULL for a mapping or a list; value may be
 * NULL); TRMX_ENOTFOUND otherwise. A key holding '.' or '[' (a metric set "v1.2") cannot be
 * named in a path: use the typed accessors. */
int trmx_manifest_lookup(const trmx_manifest *m, const char *path, const char **value);

/* The exact bytes that were parsed (borrowed). */
const char *trmx_manifest_text(const trmx_manifest *m, size_t *len);

/* The specification as the reader enforces it, one entry per field: `path` as in docs/FORMAT.md
 * ("files[].sha256", "metrics.*.exact_accuracy", "architecture.loss.name"), its `type` in the
 * words of the docs ("integer", "SemVer", ...), whether it is required (in its parent). Static. */
typedef struct trmx_manifest_field {
	const char *path;
	const char *type;
	bool required;
} trmx_manifest_field;
size_t trmx_manifest_field_count(void);
const trmx_manifest_field *trmx_manifest_field_at(size_t i);

/* Is `name` (len bytes) acceptable as a package member name? Valid UTF-8 without control
 * characters, relative, no empty, "." or ".." component, no '\\' or ':', at most
 * TRMX_PACKAGE_PATH_MAX bytes and TRMX_PACKAGE_DEPTH_MAX components. TRMX_EFORMAT or
 * TRMX_ELIMIT with the reason in `err` (the name is not included; callers add it). */
int trmx_package_name_check(const char *name, size_t len, trmx_error *err);

/* ---- TRMX_HOME: trust store and policy --------------------------------------------------- */

/* The trmx home folder: `explicit_home` when not NULL (an empty one is TRMX_EINVAL), else
 * $TRMX_HOME, else $HOME/.local/share/trmx. *out is malloc'd (free it). The folder need not
 * exist. */
int trmx_home_resolve(const char *explicit_home, char **out, trmx_error *err);

/* Key ids: the first 8 bytes of the SHA-256 of the Ed25519 public key, 16 hex digits. */
#define TRMX_KEY_ID_SIZE 17

/* Make an Ed25519 key pair: `base`.key (secret, mode 0600) and `base`.pub (public, with
 * `comment`, may be NULL). Refuses to overwrite either file (TRMX_EINVAL). */
int trmx_key_generate(const char *base, const char *comment, char key_id[TRMX_KEY_ID_SIZE],
		      trmx_error *err);

/* A public key as read from a .pub file or the trust store. */
typedef struct trmx_public_key {
	char key_id[TRMX_KEY_ID_SIZE];
	unsigned char key[32];
	char comment[TRMX_MANIFEST_STRING_MAX + 1];
} trmx_public_key;
/* Read and validate a .pub file. Errors: TRMX_ENOTFOUND, TRMX_EIO, TRMX_EFORMAT, TRMX_ELIMIT. */
int trmx_public_key_load(trmx_public_key *out, const char *path, trmx_error *err);

/* The trust store, HOME/trust/<key-id>.pub. `add` copies a validated .pub file in (replacing the
 * same key id); `remove` deletes one (TRMX_ENOTFOUND when absent); `list` returns every key,
 * sorted by id, in a malloc'd array (free it with free()); an absent store is empty. */
int trmx_trust_add(const char *home, const char *pub_path, char key_id[TRMX_KEY_ID_SIZE],
		   trmx_error *err);
int trmx_trust_remove(const char *home, const char *key_id, trmx_error *err);
int trmx_trust_list(const char *home, trmx_public_key **out, size_t *count, trmx_error *err);

/* The policy, HOME/policy.yaml (absent: the defaults). */
typedef struct trmx_policy {
	unsigned int version;
	bool require_signature; /* verify fails unless manifest.sig is valid and its key trusted */
} trmx_policy;
#define TRMX_POLICY_VERSION 1
#define TRMX_POLICY_INIT { TRMX_POLICY_VERSION, false }
int trmx_policy_load(const char *home, trmx_policy *out, trmx_error *err);
int trmx_policy_save(const char *home, const trmx_policy *policy, trmx_error *err);

/* ---- Packages: reading ------------------------------------------------------------------- */

typedef struct trmx_package trmx_package;

typedef struct trmx_package_options {
	unsigned int version;
	/* Lower caps than limits.h for this open (0: the limit itself; higher values are clamped). */
	uint64_t max_unpacked;
	uint32_t max_entries;
} trmx_package_options;
#define TRMX_PACKAGE_OPTIONS_VERSION 1
#define TRMX_PACKAGE_OPTIONS_INIT { TRMX_PACKAGE_OPTIONS_VERSION, 0, 0 }

/* Open a package: the file's size, the zip's central directory and every local header (read with
 * our own bounded parser), each member's name, type, sizes, compression ratio and place, then
 * manifest.yaml (first member) and manifest.sig (second, optional), and the cross-check that
 * the members are exactly manifest.yaml, manifest.sig and the manifest's `files:`, with the
 * listed sizes. No member data but the manifest's and the signature's is read; nothing is
 * written. `opts` may be NULL. */
int trmx_package_open(trmx_package **out, const char *path, const trmx_package_options *opts,
		      trmx_error *err);
void trmx_package_free(trmx_package *p);

const trmx_manifest *trmx_package_manifest(const trmx_package *p);
const char *trmx_package_path(const trmx_package *p);
uint64_t trmx_package_file_size(const trmx_package *p);
uint64_t trmx_package_unpacked_size(const trmx_package *p);

/* Members in archive order (manifest.yaml first). */
typedef struct trmx_package_entry {
	const char *name;
	uint64_t size;            /* unpacked */
	uint64_t compressed_size; /* stored in the archive */
	bool deflated;            /* false: stored */
} trmx_package_entry;
size_t trmx_package_entry_count(const trmx_package *p);
const trmx_package_entry *trmx_package_entry_at(const trmx_package *p, size_t i);

/* SHA-256 of the whole archive file, hex (the registry's content address). */
int trmx_package_digest(const trmx_package *p, char out[TRMX_SHA256_HEX_SIZE], trmx_error *err);

/* What weights.safetensors holds, from its header alone (streamed; the header is capped by
 * TRMX_SAFETENSORS_HEADER_MAX). `params` counts the elements of every tensor but the official
 * buffers H_init, L_init and puzzle_emb.weights (so it equals the official num_params);
 * `buffer_elements` counts those. */
typedef struct trmx_weights_summary {
	size_t tensors;
	int64_t params;
	int64_t buffer_elements;
	uint64_t bytes;             /* the member's size */
	char dtypes[64];            /* the dtypes used, "F32,BF16" */
} trmx_weights_summary;
int trmx_package_weights_summary(const trmx_package *p, trmx_weights_summary *out,
				 trmx_error *err);

/* ---- Signatures -------------------------------------------------------------------------- */

typedef enum trmx_signature_status {
	TRMX_SIGNATURE_NONE = 0,  /* no manifest.sig */
	TRMX_SIGNATURE_TRUSTED,   /* valid, by a key in the trust store (or the key given) */
	TRMX_SIGNATURE_UNTRUSTED, /* valid for the public key it carries, which is not trusted */
	TRMX_SIGNATURE_INVALID    /* malformed, or does not match manifest.yaml */
} trmx_signature_status;

/* "none", "trusted", "untrusted", "invalid". */
const char *trmx_signature_status_name(trmx_signature_status s);

typedef struct trmx_signature_info {
	trmx_signature_status status;
	char key_id[TRMX_KEY_ID_SIZE];             /* empty when there is no signature */
	char comment[TRMX_MANIFEST_STRING_MAX + 1]; /* of the trusted key, else empty */
	char message[TRMX_ERROR_MESSAGE_MAX];      /* why INVALID or UNTRUSTED */
} trmx_signature_info;

/* Judge the package's signature: `home` (may be NULL: no trust store) and `public_key_path` (a
 * .pub file trusted for this call, may be NULL). A bad signature is a status, not an error;
 * errors are for the trust store and key file (TRMX_EIO, TRMX_EFORMAT, ...). */
int trmx_package_signature(const trmx_package *p, const char *home, const char *public_key_path,
			   trmx_signature_info *out, trmx_error *err);

/* Add or replace manifest.sig: verify the package's integrity (as trmx_package_verify without
 * content checks), sign manifest.yaml with the secret key file, and write the package to `out`
 * (NULL: replace `in` atomically). Members keep their bytes, order and settings. */
int trmx_package_sign(const char *in, const char *secret_key_path, const char *out,
		      char key_id[TRMX_KEY_ID_SIZE], trmx_error *err);

/* ---- Verifying --------------------------------------------------------------------------- */

/* A problem found while verifying: its code and a message naming the member or field. */
typedef void (*trmx_problem_fn)(void *user, int code, const char *message);

/* Also check the contents: unpack into a temporary folder and run trmx_package_check_contents. */
#define TRMX_VERIFY_CONTENTS 1u
/* Require a trusted signature whatever the policy says. */
#define TRMX_VERIFY_REQUIRE_SIGNATURE 2u

typedef struct trmx_verify_options {
	unsigned int version;
	unsigned int flags;          /* TRMX_VERIFY_* */
	const char *home;            /* trust store and policy, or NULL for none */
	const char *public_key;      /* a .pub file trusted for this call, or NULL */
	const char *tmpdir;          /* for TRMX_VERIFY_CONTENTS; NULL: $TMPDIR or /tmp */
	trmx_problem_fn on_problem;  /* every problem, in order; may be NULL */
	void *user;
	/* version 2: */
	const char *plugin_dir;      /* for TRMX_VERIFY_CONTENTS: engine plugins (<name>.so) looked
					for before the built-in engines; NULL: built-in engines only */
} trmx_verify_options;
#define TRMX_VERIFY_OPTIONS_VERSION 2
#define TRMX_VERIFY_OPTIONS_INIT { TRMX_VERIFY_OPTIONS_VERSION, 0, NULL, NULL, NULL, NULL, NULL, NULL }

typedef struct trmx_verify_result {
	size_t problems;                /* problems reported */
	trmx_signature_info signature;
	bool require_signature;         /* what the policy and flags asked */
	int64_t num_params;             /* from the engine (TRMX_VERIFY_CONTENTS), else -1 */
} trmx_verify_result;

/* Stream every member: its size against the manifest (stopping at the first byte past it), its
 * compression ratio, its SHA-256; then the signature (an invalid one always fails; an untrusted
 * or absent one fails when the policy in `home` or the flags require a signature); with
 * TRMX_VERIFY_CONTENTS, the weights against the architecture and the examples. Goes on after
 * a problem to report the others through `on_problem`, and returns the first problem's code
 * with its message in `err`. `opts` and `out` may be NULL. */
int trmx_package_verify(const trmx_package *p, const trmx_verify_options *opts,
			trmx_verify_result *out, trmx_error *err);

/* Check a module folder against its manifest (a source folder, or an unpacked package): the
 * engine named by the manifest (from `plugin_dir`/<name>.so when that exists, else the built-in
 * engine; plugin_dir may be NULL) accepts the ABI range and opens on the architecture and
 * weights.safetensors (every tensor's dtype and shape); the task codec opens on task.params
 * and agrees with the architecture's seq_len and vocab_size; every example's input and
 * expected answer parse with the codec and the expected answer passes its checker. Problems
 * go to `fn` (may be NULL); returns the first one's code. *num_params (may be NULL) gets the
 * engine's parameter count. */
int trmx_package_check_contents(const trmx_manifest *m, const char *dir, const char *plugin_dir, trmx_problem_fn fn,
				void *user, int64_t *num_params, trmx_error *err);

/* Unpack every member into `dir`, an existing empty folder (the registry extracts into a
 * temporary folder of its store and renames). Files are created 0644, folders 0755, with
 * O_EXCL and O_NOFOLLOW below a descriptor of `dir`, so nothing is written outside it; each
 * member's size and SHA-256 are checked as it is written. On failure every file and folder
 * made is removed again. */
int trmx_package_extract(const trmx_package *p, const char *dir, trmx_error *err);

/* ---- Packing ----------------------------------------------------------------------------- */

typedef struct trmx_pack_options {
	unsigned int version;
	bool skip_contents;  /* do not check the weights and examples (tests of the format only) */
	/* version 2: */
	const char *plugin_dir; /* engine plugins for the content check (trmx_package_check_contents) */
} trmx_pack_options;
#define TRMX_PACK_OPTIONS_VERSION 2
#define TRMX_PACK_OPTIONS_INIT { TRMX_PACK_OPTIONS_VERSION, false, NULL }

/* Pack module folder `dir` (manifest.yaml without `files:`, weights.safetensors, schema.sql,
 * README.md, examples/, ...; docs/FORMAT.md lists what is taken) into a package: check the
 * contents, fill in `files:`, and write the zip reproducibly (the same folder gives the same
 * bytes). `out` is the package path, an existing folder to put NAME-VERSION.trmx in, or NULL for
 * NAME-VERSION.trmx in the current folder; the file is written atomically. *written (may be
 * NULL) gets the path written (malloc'd). */
int trmx_package_pack(const char *dir, const char *out, const trmx_pack_options *opts,
		      char **written, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
