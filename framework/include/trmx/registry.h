/*
 * trmx/registry.h — the registry and its content-addressed store under TRMX_HOME: install,
 * remove and list modules, move aliases, bind contexts (course items) to targets with an
 * optional canary, roll back, quarantine, read the history, and resolve a name into the package
 * that serves it. docs/REGISTRY.md describes the store, every step of an install and the
 * resolution rules; docs/SCHEMA.md the tables of registry.db.
 *
 * Tutorial
 * --------
 *     trmx_error err;
 *     trmx_registry *reg = NULL;
 *     trmx_registry_open(&reg, home, NULL, &err);              // HOME/registry.db, store/, data/
 *
 *     trmx_install_result ir;
 *     trmx_registry_install(reg, "sudoku4-1.0.0.trmx", NULL, &ir, &err);   // all or nothing
 *     trmx_registry_alias_set(reg, "sudoku4", "champion", "1.0.0", &err);
 *     trmx_registry_bind(reg, "algebra/unit-3", "sudoku4@champion", NULL, 0, &err);
 *     trmx_registry_bind(reg, "algebra/unit-3", "sudoku4@champion", "sudoku4@1.1.0", 0.1, &err);
 *
 *     trmx_resolution res;
 *     trmx_registry_resolve(reg, "algebra/unit-3", pseudonym, &res, &err);  // res.module_version,
 *                                                                           // res.digest, res.arm
 *     trmx_registry_rollback(reg, "algebra/unit-3", &err);    // the binding before
 *     trmx_registry_free(reg);
 *
 * TARGETs: MODULE (its highest active version by SemVer precedence), MODULE@VERSION,
 * MODULE@ALIAS, MODULE@sha256:HEX (the package digest, or a unique prefix of at least 12 hex
 * digits). A context is any other name (1 to TRMX_CONTEXT_NAME_MAX bytes of UTF-8 without
 * control characters, '@' or a leading '-'); when a bound context has a module's name, the
 * context wins.
 *
 * Every change (install, remove, alias, bind, unbind, rollback, quarantine, release) is one
 * IMMEDIATE transaction on registry.db that also appends to the history and bumps the registry's
 * generation, so a long-lived host (host.h) sees it on its next dispatch. Several processes may
 * use one home at once. A handle is used by one thread at a time.
 */
#ifndef TRMX_REGISTRY_H
#define TRMX_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "trmx/log.h"
#include "trmx/package.h"
#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

typedef struct trmx_registry trmx_registry;

typedef struct trmx_registry_options {
	unsigned int version;
	const char *actor;   /* who makes changes (history.actor); NULL: $TRMX_ACTOR, else the login name */
	int busy_timeout_ms; /* 0: 30000 */
	/* version 2 */
	bool read_only;      /* a reader (list, show, history, report): nothing is made or migrated;
				no registry.db is TRMX_ENOTFOUND, an older one TRMX_EVERSION; every
				change is refused by SQLite */
} trmx_registry_options;
#define TRMX_REGISTRY_OPTIONS_VERSION 2
#define TRMX_REGISTRY_OPTIONS_INIT { TRMX_REGISTRY_OPTIONS_VERSION, NULL, 0, false }

/* Open the registry of `home` (made when missing: HOME/registry.db, HOME/store/sha256/,
 * HOME/data/), applying pending migrations of registry.db; with read_only, open what is there.
 * Errors: TRMX_EIO, TRMX_EFORMAT, TRMX_EVERSION (a newer registry.db), TRMX_ENOMEM, TRMX_EINVAL,
 * TRMX_ENOTFOUND (read_only: no registry). */
int trmx_registry_open(trmx_registry **out, const char *home, const trmx_registry_options *opts,
		       trmx_error *err);
void trmx_registry_free(trmx_registry *reg);
/* The home folder (borrowed). */
const char *trmx_registry_home(const trmx_registry *reg);
/* The generation: a number that grows with every committed change of the registry. */
int trmx_registry_generation(trmx_registry *reg, int64_t *out, trmx_error *err);

/* ---- Names ----------------------------------------------------------------------------------- */

typedef enum trmx_target_kind {
	TRMX_TARGET_MODULE = 0, /* MODULE: its highest active version */
	TRMX_TARGET_VERSION,    /* MODULE@1.2.0 */
	TRMX_TARGET_ALIAS,      /* MODULE@champion */
	TRMX_TARGET_DIGEST      /* MODULE@sha256:HEX */
} trmx_target_kind;

typedef struct trmx_target {
	trmx_target_kind kind;
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char ref[TRMX_MANIFEST_VERSION_MAX + 1]; /* the version, alias or hex digits; "" for MODULE */
} trmx_target;

/* Parse a TARGET. Aliases are [a-z][a-z0-9_-]* (at most TRMX_ALIAS_MAX bytes) and never SemVer.
 * Errors: TRMX_EINVAL with what is wrong. */
int trmx_target_parse(const char *s, trmx_target *out, trmx_error *err);
/* Check a context name (see above). TRMX_EINVAL or TRMX_ELIMIT with the reason. */
int trmx_context_check(const char *context, trmx_error *err);
/* Where learner pseudonym `learner` falls in context `context`'s canary split: a number in
 * [0, 1) from SHA-256(learner, context); the learner gets the canary when it is below the share.
 * The same learner and context always give the same number. */
double trmx_canary_point(const char *learner, const char *context);

/* ---- Install and remove ---------------------------------------------------------------------- */

typedef struct trmx_install_options {
	unsigned int version;
	unsigned int flags;         /* TRMX_VERIFY_REQUIRE_SIGNATURE */
	const char *public_key;     /* a .pub file trusted for this install, or NULL */
	const char *plugin_dir;     /* engine plugins for the self-test (NULL: the built-in engines) */
	trmx_problem_fn on_problem; /* every verification and self-test problem; may be NULL */
	void *user;
} trmx_install_options;
#define TRMX_INSTALL_OPTIONS_VERSION 1
#define TRMX_INSTALL_OPTIONS_INIT { TRMX_INSTALL_OPTIONS_VERSION, 0, NULL, NULL, NULL, NULL }

typedef struct trmx_install_result {
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char module_version[TRMX_MANIFEST_VERSION_MAX + 1];
	char digest[TRMX_SHA256_HEX_SIZE];
	bool already;             /* this very package was installed before; nothing changed */
	int examples;             /* examples the self-test ran */
	int examples_labelled;    /* of those, with an expected answer */
	int examples_solved;      /* of those, solved exactly */
	double token_accuracy;    /* over the labelled cells of the examples (0 when none) */
	bool db_created;          /* data/<module>.db was made from schema.sql */
	int migrations_applied;   /* migrations/NNNN.sql run on the module's database */
	int schema_version;       /* its PRAGMA user_version after the install */
} trmx_install_result;

/* Install the package at `path`, all or nothing (docs/REGISTRY.md, "Installing"):
 *   1. open it and verify every member's size and SHA-256, and the signature as the policy of
 *      the home (or opts->flags) asks;
 *   2. unpack it into a temporary folder of the store and check its contents (the engine opens
 *      on the weights, the codec agrees, every example parses and its answer passes the checker);
 *   3. self-test: run every example through the engine; a module that does worse on them than
 *      its manifest's metric for its examples (a metrics set named `examples` or ending in
 *      `-examples`) says, or, without such a metric, misses an expected answer, is refused;
 *   4. under the registry's write lock: create data/<module>.db from schema.sql (or apply the
 *      migrations newer than its user_version), both under an authorizer that allows the
 *      module's own tables and views only; rename the folder into store/sha256/<digest>/;
 *      record the version and the history; commit.
 * A failure at any step leaves the store and the databases as they were. Installing a package
 * already installed changes nothing (result->already). `opts` and `result` may be NULL.
 * Errors: those of trmx_package_open and _verify, TRMX_EINVAL (another package holds the same
 * name and version), TRMX_ERROR (the self-test failed), TRMX_EIO, TRMX_ENOMEM; hostile SQL
 * is TRMX_EFORMAT naming the statement's action. */
int trmx_registry_install(trmx_registry *reg, const char *path, const trmx_install_options *opts,
			  trmx_install_result *result, trmx_error *err);

/* Refuse to remove a version a binding or its canary resolves to, unless forced. */
#define TRMX_REMOVE_FORCE 1u

/* Remove MODULE@VERSION (or every version of MODULE): its aliases, its store folder; the
 * module's database in data/ is kept. Refused (TRMX_EINVAL, naming the contexts) while a
 * binding's target or canary resolves to it, unless TRMX_REMOVE_FORCE. */
int trmx_registry_remove(trmx_registry *reg, const char *target, unsigned int flags, trmx_error *err);

/* ---- Aliases, bindings, quarantine ----------------------------------------------------------- */

/* Point MODULE@ALIAS at an installed `version` (made or moved); remove it. */
int trmx_registry_alias_set(trmx_registry *reg, const char *module, const char *alias,
			    const char *version, trmx_error *err);
int trmx_registry_alias_remove(trmx_registry *reg, const char *module, const char *alias,
			       trmx_error *err);

/* Bind or move an alias even when the task (the codec and its parameters) differs from what the
 * context serves now. */
#define TRMX_BIND_FORCE 1u

/* trmx_registry_alias_set, refusing (TRMX_EINVAL, naming the context and both tasks) a move that
 * would change the task of a context following the alias, unless `flags` has TRMX_BIND_FORCE.
 * trmx_registry_alias_set is this with flags 0. */
int trmx_registry_alias_set_ex(trmx_registry *reg, const char *module, const char *alias,
			       const char *version, unsigned int flags, trmx_error *err);

/* Bind `context` to `target` (it must resolve now), optionally with a `canary` target that serves
 * the share `share` (0..1) of learners. The binding it replaces is kept for rollback. */
int trmx_registry_bind(trmx_registry *reg, const char *context, const char *target,
		       const char *canary, double share, trmx_error *err);
/* trmx_registry_bind, refusing (TRMX_EINVAL, saying what differs) a target whose task (codec and
 * parameters) differs from the version the context serves now, and a canary whose task differs
 * from the target's, unless `flags` has TRMX_BIND_FORCE. trmx_registry_bind is this with flags 0. */
int trmx_registry_bind_ex(trmx_registry *reg, const char *context, const char *target,
			  const char *canary, double share, unsigned int flags, trmx_error *err);
/* Unbind (the binding is kept for rollback); TRMX_ENOTFOUND when not bound. */
int trmx_registry_unbind(trmx_registry *reg, const char *context, trmx_error *err);
/* Go back to the binding the context had before its current one (or to unbound); TRMX_ENOTFOUND
 * when there is none. Rolling back twice goes back two changes. */
int trmx_registry_rollback(trmx_registry *reg, const char *context, trmx_error *err);

/* Quarantine MODULE@VERSION (nothing dispatches to it: targets naming it fail, MODULE skips it,
 * a canary on it sends everyone to the main target), or release it. `reason` may be NULL. */
int trmx_registry_quarantine(trmx_registry *reg, const char *module, const char *version,
			     bool quarantined, const char *reason, trmx_error *err);

/* ---- Resolving --------------------------------------------------------------------------------- */

typedef struct trmx_resolution {
	char context[TRMX_CONTEXT_NAME_MAX + 1];       /* "" when a TARGET was named */
	char target[TRMX_TARGET_MAX + 1];              /* the target that was resolved */
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char module_version[TRMX_MANIFEST_VERSION_MAX + 1];
	char digest[TRMX_SHA256_HEX_SIZE];
	char alias[TRMX_ALIAS_MAX + 1];                /* "" when the target named no alias */
	trmx_arm arm;
	char engine[TRMX_MANIFEST_NAME_MAX + 1];
	char codec[TRMX_MANIFEST_NAME_MAX + 1];
	char codec_params[TRMX_TASK_PARAM_MAX + 1];    /* "size=4" */
	char store_path[4096];                         /* the unpacked package */
	int64_t generation;                            /* of the registry when resolved */
} trmx_resolution;

/* Resolve `name`: a bound context (its target; its canary when `learner`, a pseudonym, falls
 * within the canary share — no learner: the main target), else a TARGET. Errors: TRMX_ENOTFOUND
 * (no such context, module, version, alias or digest), TRMX_ERROR (the version is quarantined),
 * TRMX_EINVAL (a malformed name). */
int trmx_registry_resolve(trmx_registry *reg, const char *name, const char *learner,
			  trmx_resolution *out, trmx_error *err);
/* Is `name` a bound context? */
int trmx_registry_is_context(trmx_registry *reg, const char *name, bool *out, trmx_error *err);

/* ---- Listing ----------------------------------------------------------------------------------- */

typedef struct trmx_version_info {
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char module_version[TRMX_MANIFEST_VERSION_MAX + 1];
	char digest[TRMX_SHA256_HEX_SIZE];
	bool quarantined;
	char engine[TRMX_MANIFEST_NAME_MAX + 1];
	char engine_abi[TRMX_MANIFEST_STRING_MAX + 1];
	char codec[TRMX_MANIFEST_NAME_MAX + 1];
	char codec_params[TRMX_TASK_PARAM_MAX + 1];
	char description[TRMX_MANIFEST_DESCRIPTION_MAX + 1];
	char signature[16];                            /* none, trusted, untrusted */
	char signer[TRMX_KEY_ID_SIZE];
	int64_t package_bytes;
	int examples, examples_solved;
	char installed_at[32];
	char installed_by[128];
	char store_path[4096];
} trmx_version_info;

typedef struct trmx_module_info {
	char name[TRMX_MANIFEST_NAME_MAX + 1];
	char created_at[32];
	int schema_version;       /* user_version of its database */
	char db_path[4096];       /* HOME/data/<name>.db */
} trmx_module_info;

typedef struct trmx_alias_info {
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char alias[TRMX_ALIAS_MAX + 1];
	char module_version[TRMX_MANIFEST_VERSION_MAX + 1];
	char updated_at[32];
	char updated_by[128];
} trmx_alias_info;

typedef struct trmx_binding_info {
	char context[TRMX_CONTEXT_NAME_MAX + 1];
	char target[TRMX_TARGET_MAX + 1];
	char canary[TRMX_TARGET_MAX + 1];              /* "" when none */
	double share;
	char updated_at[32];
	char updated_by[128];
	int64_t rollbacks;                             /* earlier bindings kept for rollback */
} trmx_binding_info;

typedef struct trmx_history_entry {
	int64_t id;
	char at[32];
	char actor[128];
	char action[16];
	char subject[TRMX_CONTEXT_NAME_MAX + 1];
	char old_value[2 * TRMX_TARGET_MAX + 64];      /* "" when none */
	char new_value[2 * TRMX_TARGET_MAX + 64];
	char detail[512];
} trmx_history_entry;

/* Lists, each a malloc'd array in *out (free it with free()) of *n entries:
 * versions of `module` (NULL: all), ordered by module and SemVer precedence; */
int trmx_registry_versions(trmx_registry *reg, const char *module, trmx_version_info **out,
			   size_t *n, trmx_error *err);
/* aliases of `module` (NULL: all); */
int trmx_registry_aliases(trmx_registry *reg, const char *module, trmx_alias_info **out, size_t *n,
			  trmx_error *err);
/* bindings (context NULL: all); */
int trmx_registry_bindings(trmx_registry *reg, const char *context, trmx_binding_info **out,
			   size_t *n, trmx_error *err);
/* history, oldest first, of `subject` (a context, MODULE@VERSION or MODULE@ALIAS; a module name
 * matches all of its own; NULL: everything), the newest `limit` entries (0: all). */
int trmx_registry_history(trmx_registry *reg, const char *subject, int64_t limit,
			  trmx_history_entry **out, size_t *n, trmx_error *err);

/* One version (MODULE@VERSION or any TARGET); TRMX_ENOTFOUND when absent. Quarantined versions
 * are found too. */
int trmx_registry_version(trmx_registry *reg, const char *target, trmx_version_info *out,
			  trmx_error *err);
/* A module; TRMX_ENOTFOUND when none of its versions is installed. */
int trmx_registry_module(trmx_registry *reg, const char *module, trmx_module_info *out,
			 trmx_error *err);
/* The manifest of an installed package, by digest. */
int trmx_registry_manifest(trmx_registry *reg, const char *digest, trmx_manifest **out,
			   trmx_error *err);
/* Check the store's copy of an installed package (HOME/store/sha256/<digest>/) against what the
 * install recorded in registry.db: manifest.yaml byte for byte the recorded manifest, and every
 * file that manifest lists of its size and SHA-256 (a full hash: about 5 ms per MB). The host
 * calls it when it first loads a version from the store. Errors: TRMX_ENOTFOUND (no such version),
 * TRMX_EINTEGRITY naming the file that differs and saying to reinstall, TRMX_EIO, TRMX_ENOMEM. */
int trmx_registry_store_check(trmx_registry *reg, const char *digest, trmx_error *err);
/* Run one SQL statement in `module`'s own database under the module authorizer, with `params`
 * bound as text to ?1.. (NULL entries bind NULL). See trmx_host_module_exec. */
int trmx_registry_module_exec(trmx_registry *reg, const char *module, const char *sql,
			      const char *const *params, size_t nparams, trmx_error *err);
/* The task codec of an installed package, by digest, opened with its parameters. */
int trmx_registry_task_open(trmx_registry *reg, const char *digest, trmx_task **out,
			    trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
