/*
 * registry_int.h — inside the registry: the handle, helpers shared by registry.c (names,
 * changes, listings), resolve.c (targets, contexts, canary), install.c (the all-or-nothing
 * install and its self-test) and moddb.c (module databases under an authorizer). Not installed.
 */
#ifndef TRMX_REGISTRY_INT_H
#define TRMX_REGISTRY_INT_H

#include "log/log_int.h"
#include "trmx/registry.h"

struct trmx_registry {
	char *home;
	char *store;   /* HOME/store/sha256 */
	char *tmp;     /* HOME/store/tmp: installs unpack here, on the store's file system */
	char *data;    /* HOME/data */
	sqlite3 *db;   /* HOME/registry.db */
	char actor[128];
	int busy_ms;
};

/* A versions row, as resolution needs it. */
struct reg_version {
	char module[TRMX_MANIFEST_NAME_MAX + 1];
	char version[TRMX_MANIFEST_VERSION_MAX + 1];
	char digest[TRMX_SHA256_HEX_SIZE];
	bool quarantined;
	char engine[TRMX_MANIFEST_NAME_MAX + 1];
	char codec[TRMX_MANIFEST_NAME_MAX + 1];
	char codec_params[TRMX_TASK_PARAM_MAX + 1];
};

/* ---- registry.c ---- */
/* Append a history row and bump the generation (inside the caller's transaction). */
int trmx__reg_changed(trmx_registry *r, const char *action, const char *subject, const char *old_value,
		      const char *new_value, const char *detail, trmx_error *err);
/* HOME/store/sha256/<digest>, malloc'd. */
char *trmx__reg_store_path(const trmx_registry *r, const char *digest);
/* Is `s` an alias name? */
bool trmx__reg_alias_valid(const char *s);

/* ---- resolve.c ---- */
/* The version a target names, quarantined or not; *alias gets the alias it went through. */
int trmx__reg_target_version(trmx_registry *r, const trmx_target *t, struct reg_version *out, char alias[TRMX_ALIAS_MAX + 1],
			     trmx_error *err);

/* ---- moddb.c ---- */
/* The change an install makes to a module's database, prepared under the registry's lock and
 * put in place by trmx__moddb_place and made final by trmx__moddb_committed, or undone by
 * trmx__moddb_abort. */
struct moddb_plan {
	char *final_path;   /* HOME/data/<module>.db */
	char *tmp_path;     /* a new database built beside it, renamed into place at commit */
	char *backup_path;  /* a copy of the existing database before its migrations */
	bool created, migrated, placed;
	int migrations;     /* applied */
	int schema_version; /* user_version after */
};
/* Create data/<module>.db from `unpacked`/schema.sql (into a temporary file), or apply the
 * migrations of `unpacked`/migrations/ newer than the database's user_version (in place, after
 * taking a copy). Every statement runs under the module authorizer. */
int trmx__moddb_prepare(trmx_registry *r, const char *module, const char *unpacked, struct moddb_plan *plan,
			trmx_error *err);
/* Rename a new database into place (before the registry commits). */
int trmx__moddb_place(struct moddb_plan *plan, trmx_error *err);
/* Undo whatever prepare and place did; then free the plan. */
void trmx__moddb_abort(struct moddb_plan *plan);
/* After the registry committed: clear a new database's install mark (failures logged; the next
 * open of the registry clears it then). */
void trmx__moddb_committed(struct moddb_plan *plan);
/* Drop the copy; free the plan. */
void trmx__moddb_done(struct moddb_plan *plan);
/* What an install killed before its commit left (docs/REGISTRY.md, "Installing"): a module
 * database migrated before the registry recorded it is put back from its copy; a new database
 * still marked by its install is removed when the registry does not record the module (else its
 * mark is cleared); copies, new databases not renamed into place and store folders no version
 * lists are removed. Under the
 * registry's write lock, taken without waiting (a live install holds it: nothing is done).
 * Called by trmx_registry_open; problems are logged, never fatal. */
void trmx__moddb_recover(trmx_registry *r);

#endif
