/*
 * registry.c — the registry handle (HOME/registry.db, the store, the data folder), every change
 * but install (remove, aliases, bindings, rollback, quarantine), each one IMMEDIATE transaction
 * that appends to the history and bumps the generation, and the listings.
 */
#define _GNU_SOURCE /* asprintf */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packager/package_int.h"
#include "registry_int.h"

#define DB "registry.db"

/* ---- Handle ---------------------------------------------------------------------------------- */

int trmx_registry_open(trmx_registry **out, const char *home, const trmx_registry_options *opts, trmx_error *err)
{
	if (!out || !home || !*home)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_open: missing argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_REGISTRY_OPTIONS_VERSION))
		return trmx_version_refused(err, "registry options", opts->version, TRMX_REGISTRY_OPTIONS_VERSION);
	trmx_registry *r = trmx_xcalloc(1, sizeof *r);
	char *dbpath = NULL;
	int rc;
	if (!r || !(r->home = trmx_xstrdup(home)) || !(r->store = trmx_xasprintf("%s/store/sha256", home)) ||
	    !(r->tmp = trmx_xasprintf("%s/store/tmp", home)) || !(r->data = trmx_xasprintf("%s/data", home)) ||
	    !(dbpath = trmx_xasprintf("%s/" DB, home))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the registry");
		goto fail;
	}
	if (opts && opts->actor && *opts->actor)
		snprintf(r->actor, sizeof r->actor, "%s", opts->actor);
	else
		trmx_actor_default(r->actor, sizeof r->actor);
	r->busy_ms = opts && opts->busy_timeout_ms > 0 ? opts->busy_timeout_ms : 30000;
	bool ro = opts && opts->version >= 2 && opts->read_only;
	struct stat st;
	if (ro && stat(dbpath, &st) != 0) { /* a reader makes no home: a mistyped --home is said so */
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "no registry at %s: nothing is installed in that home (check --home "
				    "or $TRMX_HOME)", home);
		goto fail;
	}
	if (!ro && ((rc = trmx_mkdirs(r->store, err)) < 0 || (rc = trmx_mkdirs(r->tmp, err)) < 0 ||
		    (rc = trmx_mkdirs(r->data, err)) < 0))
		goto fail;
	if (!ro) /* what killed installs left (their locks are free) */
		trmx_tmpdir_sweep(r->tmp, "install");
	size_t nf;
	const trmx_sql_file *files = trmx_sql_registry(&nf);
	if ((rc = trmx_db_open(&r->db, dbpath, DB, files, nf, ro ? TRMX_DB_READONLY : TRMX_DB_CREATE, r->busy_ms, err)) < 0)
		goto fail;
	if (!ro) /* and what killed installs left elsewhere (issue 24, item 3) */
		trmx__moddb_recover(r);
	free(dbpath);
	*out = r;
	return 0;
fail:
	free(dbpath);
	trmx_registry_free(r);
	return rc;
}

void trmx_registry_free(trmx_registry *r)
{
	if (!r)
		return;
	trmx_db_close(r->db);
	free(r->home);
	free(r->store);
	free(r->tmp);
	free(r->data);
	free(r);
}

const char *trmx_registry_home(const trmx_registry *r)
{
	return r ? r->home : NULL;
}

int trmx_registry_generation(trmx_registry *r, int64_t *out, trmx_error *err)
{
	if (!r || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_generation: missing argument");
	return trmx_db_int64(r->db, "SELECT CAST(value AS INTEGER) FROM meta WHERE key = 'generation'", out, DB, err);
}

char *trmx__reg_store_path(const trmx_registry *r, const char *digest)
{
	return trmx_xasprintf("%s/%s", r->store, digest);
}

/* ---- Changes ----------------------------------------------------------------------------------- */

int trmx__reg_changed(trmx_registry *r, const char *action, const char *subject, const char *old_value,
		      const char *new_value, const char *detail, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	char at[32];
	trmx_iso_time(trmx_now_ms(), at);
	int rc = trmx_db_prepare(r->db,
				 "INSERT INTO history (at, actor, action, subject, old, new, detail) "
				 "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)", &st, DB, err);
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, at);
	trmx_db_bind_text(st, 2, r->actor);
	trmx_db_bind_text(st, 3, action);
	trmx_db_bind_text(st, 4, subject);
	trmx_db_bind_text(st, 5, old_value && *old_value ? old_value : NULL);
	trmx_db_bind_text(st, 6, new_value && *new_value ? new_value : NULL);
	trmx_db_bind_text(st, 7, detail && *detail ? detail : NULL);
	int s = trmx_db_step(st);
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc == 0)
		rc = trmx_db_exec(r->db, "UPDATE meta SET value = CAST(value AS INTEGER) + 1 WHERE key = 'generation'",
				  DB, err);
	return rc;
}

bool trmx__reg_alias_valid(const char *s)
{
	size_t n = s ? strlen(s) : 0;
	if (n == 0 || n > TRMX_ALIAS_MAX || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
			return false;
	return strncmp(s, "sha256", 6) != 0;
}

/* Run one statement with text parameters (NULL entries bind NULL); *changes gets the rows it
 * changed. */
static int run(trmx_registry *r, const char *sql, int *changes, trmx_error *err, int nargs, ...)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, sql, &st, DB, err);
	if (rc < 0)
		return rc;
	va_list ap;
	va_start(ap, nargs);
	for (int i = 1; i <= nargs; i++)
		trmx_db_bind_text(st, i, va_arg(ap, const char *));
	va_end(ap);
	int s = trmx_db_step(st);
	rc = s == SQLITE_DONE || s == SQLITE_ROW ? 0 : trmx_db_error(r->db, s, DB, err);
	if (rc == 0 && changes)
		*changes = sqlite3_changes(r->db);
	sqlite3_finalize(st);
	return rc;
}

/* The version row a target names, refusing quarantined ones when `active`. */
static int target_row(trmx_registry *r, const char *target, bool active, struct reg_version *v, char *alias,
		      trmx_error *err)
{
	trmx_target t;
	char a[TRMX_ALIAS_MAX + 1];
	int rc = trmx_target_parse(target, &t, err);
	if (rc < 0)
		return rc;
	if ((rc = trmx__reg_target_version(r, &t, v, alias ? alias : a, err)) < 0)
		return rc;
	if (active && v->quarantined)
		return trmx_error_set(err, TRMX_ERROR, "%s@%s is quarantined: nothing dispatches to it", v->module,
				      v->version);
	return 0;
}

/* ---- Tasks: a context keeps the task its learners see ---------------------------------------- */

/* Does the parameter list `a` ("size=15,canvas=30") hold every pair of `b`, in any order? */
static bool params_cover(const char *a, const char *b)
{
	const char *p = b;
	while (*p) {
		size_t n = strcspn(p, ",");
		bool found = false;
		for (const char *q = a; *q && !found;) {
			size_t m = strcspn(q, ",");
			found = m == n && !strncmp(p, q, n);
			q += m + (q[m] == ',');
		}
		if (!found)
			return false;
		p += n + (p[n] == ',');
	}
	return true;
}

/* Two versions solve the same task: the same codec with the same parameters. The parameters are
 * compared as written (in any order), so "size=9" and a default left out differ; an author keeps
 * the manifests of one module's versions alike. */
static bool same_task(const struct reg_version *a, const struct reg_version *b)
{
	return !strcmp(a->codec, b->codec) && params_cover(a->codec_params, b->codec_params) &&
	       params_cover(b->codec_params, a->codec_params);
}

/* "sudoku with size 9", "maze with size 15, canvas 30", "arc" */
static void task_text(const struct reg_version *v, char *buf, size_t cap)
{
	size_t o = (size_t)snprintf(buf, cap, "%s", v->codec);
	const char *p = v->codec_params;
	for (int i = 0; *p && o < cap; i++) {
		size_t n = strcspn(p, ","), k = strcspn(p, "=");
		if (k > n)
			k = n;
		o += (size_t)snprintf(buf + o, cap - o, "%s%.*s %.*s", i ? ", " : " with ", (int)k, p,
				      (int)(n > k ? n - k - 1 : 0), p + (n > k ? k + 1 : k));
		p += n + (*(p + n) == ',');
	}
}

/* Refuse `v` (the version `what` names) for `context` unless it solves the task of `now`, the
 * version the context serves today: learners of the context see that task's puzzles, and a
 * module for another codec or grid size would fail on every one of them. */
static int task_check(const char *context, const char *what, const struct reg_version *v,
		      const struct reg_version *now, trmx_error *err)
{
	if (same_task(v, now))
		return 0;
	char a[TRMX_TASK_PARAM_MAX + 96], b[TRMX_TASK_PARAM_MAX + 96];
	task_text(v, a, sizeof a);
	task_text(now, b, sizeof b);
	return trmx_error_set(err, TRMX_EINVAL, "%s solves %s; %s serves %s (%s@%s): bind a module for the same task, or "
			      "--force to change the context's task", what, a, context, b, now->module, now->version);
}

/* The version a bound context's main target serves now, or false when it serves none (unbound,
 * or its target no longer resolves: nothing to keep). */
static bool serving_now(trmx_registry *r, const char *target, struct reg_version *now)
{
	trmx_target t;
	trmx_error e;
	char a[TRMX_ALIAS_MAX + 1];
	return trmx_target_parse(target, &t, &e) == 0 && trmx__reg_target_version(r, &t, now, a, &e) == 0 &&
	       !now->quarantined;
}

/* Every context that follows MODULE@ALIAS (as its target or its canary) must keep its task when
 * the alias moves to `v`. */
static int alias_task_check(trmx_registry *r, const char *subject, const struct reg_version *v, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "SELECT context, target FROM bindings WHERE target = ?1 OR canary = ?1 "
				 "ORDER BY context", &st, DB, err), s;
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
	while (rc == 0 && (s = trmx_db_step(st)) == SQLITE_ROW) {
		char ctx[TRMX_CONTEXT_NAME_MAX + 1], target[TRMX_TARGET_MAX + 1], what[2 * TRMX_TARGET_MAX + 128];
		struct reg_version now;
		trmx_db_column_copy(st, 0, ctx, sizeof ctx);
		trmx_db_column_copy(st, 1, target, sizeof target);
		snprintf(what, sizeof what, "%s@%s (for %s)", v->module, v->version, subject);
		if (serving_now(r, target, &now) && (rc = task_check(ctx, what, v, &now, err)) < 0)
			trmx_error_prefix(err, "cannot move %s: context '%s' follows it", subject, ctx);
	}
	if (rc == 0 && s != SQLITE_DONE)
		rc = trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

int trmx_registry_alias_set(trmx_registry *r, const char *module, const char *alias, const char *version,
			    trmx_error *err)
{
	return trmx_registry_alias_set_ex(r, module, alias, version, 0, err);
}

int trmx_registry_alias_set_ex(trmx_registry *r, const char *module, const char *alias, const char *version,
			       unsigned int flags, trmx_error *err)
{
	if (!r || !module || !alias || !version)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_alias_set: missing argument");
	if (!trmx__reg_alias_valid(alias) || trmx_semver_valid(alias))
		return trmx_error_set(err, TRMX_EINVAL,
				      "'%s' is not an alias name: [a-z][a-z0-9_-]*, at most %d bytes, not a version "
				      "and not starting with sha256", alias, TRMX_ALIAS_MAX);
	char subject[TRMX_TARGET_MAX + 2], old[TRMX_MANIFEST_VERSION_MAX + 1] = "";
	snprintf(subject, sizeof subject, "%s@%s", module, alias);
	int rc = trmx_db_begin(r->db, DB, err), changes = 0;
	if (rc < 0)
		return rc;
	struct reg_version v;
	char target[TRMX_TARGET_MAX + 2];
	snprintf(target, sizeof target, "%s@%s", module, version);
	if ((rc = target_row(r, target, false, &v, NULL, err)) < 0)
		goto fail;
	if (strcmp(v.version, version)) { /* a digest or another alias was given: name the version */
		rc = trmx_error_set(err, TRMX_EINVAL, "alias %s: give a version, not '%s'", subject, version);
		goto fail;
	}
	sqlite3_stmt *st = NULL;
	if ((rc = trmx_db_prepare(r->db, "SELECT version FROM aliases WHERE module = ?1 AND alias = ?2", &st, DB, err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, module, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, alias, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW)
		trmx_db_column_copy(st, 0, old, sizeof old);
	rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		goto fail;
	if (!strcmp(old, version)) { /* already there: not a change */
		trmx_db_rollback(r->db);
		return 0;
	}
	if (!(flags & TRMX_BIND_FORCE) && (rc = alias_task_check(r, subject, &v, err)) < 0)
		goto fail;
	char at[32];
	trmx_iso_time(trmx_now_ms(), at);
	if ((rc = run(r,
		      "INSERT INTO aliases (module, alias, version, updated_at, updated_by) VALUES (?1, ?2, ?3, ?4, ?5) "
		      "ON CONFLICT (module, alias) DO UPDATE SET version = excluded.version, "
		      "updated_at = excluded.updated_at, updated_by = excluded.updated_by",
		      &changes, err, 5, module, alias, version, at, r->actor)) < 0 ||
	    (rc = trmx__reg_changed(r, "alias-set", subject, old, version,
				    v.quarantined ? "the version is quarantined" : NULL, err)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(r->db);
	return rc;
}

int trmx_registry_alias_remove(trmx_registry *r, const char *module, const char *alias, trmx_error *err)
{
	if (!r || !module || !alias)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_alias_remove: missing argument");
	char subject[TRMX_TARGET_MAX + 2], old[TRMX_MANIFEST_VERSION_MAX + 1] = "";
	snprintf(subject, sizeof subject, "%s@%s", module, alias);
	int rc = trmx_db_begin(r->db, DB, err);
	if (rc < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	if ((rc = trmx_db_prepare(r->db, "SELECT version FROM aliases WHERE module = ?1 AND alias = ?2", &st, DB, err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, module, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, alias, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW)
		trmx_db_column_copy(st, 0, old, sizeof old);
	rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? trmx_error_set(err, TRMX_ENOTFOUND, "no alias %s", subject)
						    : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		goto fail;
	/* bindings through the alias would stop resolving */
	if ((rc = trmx_db_prepare(r->db, "SELECT context FROM bindings WHERE target = ?1 OR canary = ?1 LIMIT 1", &st, DB,
				  err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, subject, -1, SQLITE_TRANSIENT);
	s = trmx_db_step(st);
	char ctx[TRMX_CONTEXT_NAME_MAX + 1] = "";
	if (s == SQLITE_ROW)
		trmx_db_column_copy(st, 0, ctx, sizeof ctx);
	rc = s == SQLITE_ROW ? trmx_error_set(err, TRMX_EINVAL, "alias %s is in use: context '%s' is bound to it", subject, ctx)
	     : s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		goto fail;
	if ((rc = run(r, "DELETE FROM aliases WHERE module = ?1 AND alias = ?2", NULL, err, 2, module, alias)) < 0 ||
	    (rc = trmx__reg_changed(r, "alias-rm", subject, old, NULL, NULL, err)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(r->db);
	return rc;
}

/* ---- Bindings ---------------------------------------------------------------------------------- */

struct binding {
	bool bound;
	char target[TRMX_TARGET_MAX + 1];
	char canary[TRMX_TARGET_MAX + 1];
	double share;
	char updated_at[32], updated_by[128];
};

static void binding_text(const struct binding *b, char *buf, size_t cap)
{
	if (!b->bound)
		snprintf(buf, cap, "%s", "");
	else if (b->canary[0])
		snprintf(buf, cap, "%s, canary %s at %g%%", b->target, b->canary, b->share * 100.0);
	else
		snprintf(buf, cap, "%s", b->target);
}

static int binding_get(trmx_registry *r, const char *context, struct binding *b, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	memset(b, 0, sizeof *b);
	int rc = trmx_db_prepare(r->db, "SELECT target, canary, canary_share, updated_at, updated_by FROM bindings "
				 "WHERE context = ?1", &st, DB, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, context, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW) {
		b->bound = true;
		trmx_db_column_copy(st, 0, b->target, sizeof b->target);
		trmx_db_column_copy(st, 1, b->canary, sizeof b->canary);
		b->share = sqlite3_column_double(st, 2);
		trmx_db_column_copy(st, 3, b->updated_at, sizeof b->updated_at);
		trmx_db_column_copy(st, 4, b->updated_by, sizeof b->updated_by);
	}
	rc = s == SQLITE_ROW || s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

/* Push the current binding (or "unbound") on the context's stack. */
static int binding_push(trmx_registry *r, const char *context, const struct binding *cur, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "INSERT INTO binding_stack (context, target, canary, canary_share, updated_at, "
				 "updated_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6)", &st, DB, err);
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, context);
	trmx_db_bind_text(st, 2, cur->bound ? cur->target : NULL);
	trmx_db_bind_text(st, 3, cur->bound && cur->canary[0] ? cur->canary : NULL);
	sqlite3_bind_double(st, 4, cur->bound ? cur->share : 0.0);
	trmx_db_bind_text(st, 5, cur->bound ? cur->updated_at : NULL);
	trmx_db_bind_text(st, 6, cur->bound ? cur->updated_by : NULL);
	int s = trmx_db_step(st);
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

/* Make the binding row say `b` (or delete it when unbound). */
static int binding_put(trmx_registry *r, const char *context, const struct binding *b, trmx_error *err)
{
	if (!b->bound)
		return run(r, "DELETE FROM bindings WHERE context = ?1", NULL, err, 1, context);
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db,
				 "INSERT INTO bindings (context, target, canary, canary_share, updated_at, updated_by) "
				 "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (context) DO UPDATE SET target = excluded.target, "
				 "canary = excluded.canary, canary_share = excluded.canary_share, "
				 "updated_at = excluded.updated_at, updated_by = excluded.updated_by", &st, DB, err);
	if (rc < 0)
		return rc;
	char at[32];
	trmx_iso_time(trmx_now_ms(), at);
	trmx_db_bind_text(st, 1, context);
	trmx_db_bind_text(st, 2, b->target);
	trmx_db_bind_text(st, 3, b->canary[0] ? b->canary : NULL);
	sqlite3_bind_double(st, 4, b->canary[0] ? b->share : 0.0);
	trmx_db_bind_text(st, 5, at);
	trmx_db_bind_text(st, 6, r->actor);
	int s = trmx_db_step(st);
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

int trmx_registry_bind(trmx_registry *r, const char *context, const char *target, const char *canary, double share,
		       trmx_error *err)
{
	return trmx_registry_bind_ex(r, context, target, canary, share, 0, err);
}

int trmx_registry_bind_ex(trmx_registry *r, const char *context, const char *target, const char *canary, double share,
			  unsigned int flags, trmx_error *err)
{
	if (!r || !context || !target)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_bind: missing argument");
	int rc = trmx_context_check(context, err);
	if (rc < 0)
		return rc;
	if (canary && !*canary)
		canary = NULL;
	if (!(share >= 0.0 && share <= 1.0))
		return trmx_error_set(err, TRMX_EINVAL, "the canary share must lie in [0, 1], not %g", share);
	if (!canary && share > 0.0)
		return trmx_error_set(err, TRMX_EINVAL, "a canary share without a canary target");
	if (strlen(target) > TRMX_TARGET_MAX || (canary && strlen(canary) > TRMX_TARGET_MAX))
		return trmx_error_set(err, TRMX_ELIMIT, "a target is longer than TRMX_TARGET_MAX (%d bytes)", TRMX_TARGET_MAX);
	struct binding cur, nb = { .bound = true, .share = canary ? share : 0.0 };
	snprintf(nb.target, sizeof nb.target, "%s", target);
	snprintf(nb.canary, sizeof nb.canary, "%s", canary ? canary : "");
	if ((rc = trmx_db_begin(r->db, DB, err)) < 0)
		return rc;
	struct reg_version v, cv;
	if ((rc = target_row(r, target, true, &v, NULL, err)) < 0 ||
	    (canary && (rc = target_row(r, canary, true, &cv, NULL, err)) < 0)) {
		trmx_error_prefix(err, "cannot bind '%s'", context);
		goto fail;
	}
	if (canary && !strcmp(v.digest, cv.digest)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "cannot bind '%s': the canary %s is the same package as %s", context,
				    canary, target);
		goto fail;
	}
	if ((rc = binding_get(r, context, &cur, err)) < 0)
		goto fail;
	if (cur.bound && !strcmp(cur.target, nb.target) && !strcmp(cur.canary, nb.canary) && cur.share == nb.share) {
		trmx_db_rollback(r->db); /* the same binding: not a change */
		return 0;
	}
	if (!(flags & TRMX_BIND_FORCE)) {
		/* the target keeps the task the context serves now; the canary the target's */
		struct reg_version now;
		bool serves = cur.bound && serving_now(r, cur.target, &now);
		if ((serves && (rc = task_check(context, target, &v, &now, err)) < 0) ||
		    (canary && (rc = task_check(context, canary, &cv, serves ? &now : &v, err)) < 0)) {
			trmx_error_prefix(err, "cannot bind '%s'", context);
			goto fail;
		}
	}
	char old[2 * TRMX_TARGET_MAX + 64], new[2 * TRMX_TARGET_MAX + 64], detail[640];
	binding_text(&cur, old, sizeof old);
	binding_text(&nb, new, sizeof new);
	if (canary)
		snprintf(detail, sizeof detail, "%s@%s, canary %s@%s", v.module, v.version, cv.module, cv.version);
	else
		snprintf(detail, sizeof detail, "%s@%s", v.module, v.version);
	if ((rc = binding_push(r, context, &cur, err)) < 0 || (rc = binding_put(r, context, &nb, err)) < 0 ||
	    (rc = trmx__reg_changed(r, "bind", context, old, new, detail, err)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(r->db);
	return rc;
}

int trmx_registry_unbind(trmx_registry *r, const char *context, trmx_error *err)
{
	if (!r || !context)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_unbind: missing argument");
	struct binding cur, none = { .bound = false };
	char old[2 * TRMX_TARGET_MAX + 64];
	int rc = trmx_db_begin(r->db, DB, err);
	if (rc < 0)
		return rc;
	if ((rc = binding_get(r, context, &cur, err)) < 0)
		goto fail;
	if (!cur.bound) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "context '%s' is not bound", context);
		goto fail;
	}
	binding_text(&cur, old, sizeof old);
	if ((rc = binding_push(r, context, &cur, err)) < 0 || (rc = binding_put(r, context, &none, err)) < 0 ||
	    (rc = trmx__reg_changed(r, "unbind", context, old, NULL, NULL, err)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(r->db);
	return rc;
}

int trmx_registry_rollback(trmx_registry *r, const char *context, trmx_error *err)
{
	if (!r || !context)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_rollback: missing argument");
	struct binding cur, prev = { 0 };
	char old[2 * TRMX_TARGET_MAX + 64], new[2 * TRMX_TARGET_MAX + 64], id[32];
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_begin(r->db, DB, err);
	if (rc < 0)
		return rc;
	if ((rc = binding_get(r, context, &cur, err)) < 0)
		goto fail;
	if ((rc = trmx_db_prepare(r->db, "SELECT id, target, canary, canary_share FROM binding_stack WHERE context = ?1 "
				  "ORDER BY id DESC LIMIT 1", &st, DB, err)) < 0)
		goto fail;
	sqlite3_bind_text(st, 1, context, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW) {
		trmx_db_column_copy(st, 0, id, sizeof id);
		prev.bound = sqlite3_column_type(st, 1) != SQLITE_NULL;
		trmx_db_column_copy(st, 1, prev.target, sizeof prev.target);
		trmx_db_column_copy(st, 2, prev.canary, sizeof prev.canary);
		prev.share = sqlite3_column_double(st, 3);
	}
	rc = s == SQLITE_ROW ? 0
	     : s == SQLITE_DONE ? trmx_error_set(err, TRMX_ENOTFOUND, "context '%s' has no earlier binding to roll back to",
						 context)
				: trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		goto fail;
	if (prev.bound) { /* what we go back to must still serve */
		struct reg_version v;
		if ((rc = target_row(r, prev.target, true, &v, NULL, err)) < 0 ||
		    (prev.canary[0] && (rc = target_row(r, prev.canary, true, &v, NULL, err)) < 0)) {
			trmx_error_prefix(err, "cannot roll '%s' back to %s", context, prev.target);
			goto fail;
		}
	}
	binding_text(&cur, old, sizeof old);
	binding_text(&prev, new, sizeof new);
	if ((rc = binding_put(r, context, &prev, err)) < 0 ||
	    (rc = run(r, "DELETE FROM binding_stack WHERE id = ?1", NULL, err, 1, id)) < 0 ||
	    (rc = trmx__reg_changed(r, "rollback", context, old, new, prev.bound ? NULL : "unbound", err)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(r->db);
	return rc;
}

/* ---- Quarantine and remove ----------------------------------------------------------------------- */

int trmx_registry_quarantine(trmx_registry *r, const char *module, const char *version, bool on, const char *reason,
			     trmx_error *err)
{
	if (!r || !module || !version)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_quarantine: missing argument");
	char subject[TRMX_TARGET_MAX + 2];
	snprintf(subject, sizeof subject, "%s@%s", module, version);
	int rc = trmx_db_begin(r->db, DB, err), changes = 0;
	if (rc < 0)
		return rc;
	struct reg_version v;
	if ((rc = target_row(r, subject, false, &v, NULL, err)) < 0)
		goto fail;
	if (v.quarantined == on) {
		trmx_db_rollback(r->db);
		return 0;
	}
	if ((rc = run(r, "UPDATE versions SET state = ?3 WHERE module = ?1 AND version = ?2", &changes, err, 3, v.module,
		      v.version, on ? "quarantined" : "active")) < 0 ||
	    (rc = trmx__reg_changed(r, on ? "quarantine" : "release", subject, on ? "active" : "quarantined",
				    on ? "quarantined" : "active", reason, err)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(r->db);
	return rc;
}

int trmx_registry_remove(trmx_registry *r, const char *target, unsigned int flags, trmx_error *err)
{
	if (!r || !target)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_remove: missing argument");
	trmx_target t;
	int rc = trmx_target_parse(target, &t, err);
	if (rc < 0)
		return rc;
	trmx_version_info *vs = NULL;
	trmx_binding_info *bs = NULL;
	size_t nv = 0, nb = 0;
	const char **dirs = NULL;
	size_t ndirs = 0;
	if ((rc = trmx_db_begin(r->db, DB, err)) < 0)
		return rc;
	/* the versions to remove */
	if (t.kind == TRMX_TARGET_MODULE) {
		if ((rc = trmx_registry_versions(r, t.module, &vs, &nv, err)) < 0)
			goto fail;
		if (!nv) {
			rc = trmx_error_set(err, TRMX_ENOTFOUND, "no module '%s' is installed", t.module);
			goto fail;
		}
	} else {
		if (!(vs = trmx_xcalloc(1, sizeof *vs))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto fail;
		}
		if ((rc = trmx_registry_version(r, target, vs, err)) < 0)
			goto fail;
		nv = 1;
	}
	/* contexts that would lose their target or canary */
	if ((rc = trmx_registry_bindings(r, NULL, &bs, &nb, err)) < 0)
		goto fail;
	char users[1024] = "";
	size_t used = 0;
	for (size_t b = 0; b < nb; b++) {
		for (int which = 0; which < 2; which++) {
			const char *bt = which ? bs[b].canary : bs[b].target;
			struct reg_version bv;
			trmx_error e2;
			if (!*bt || target_row(r, bt, false, &bv, NULL, &e2) < 0)
				continue;
			for (size_t i = 0; i < nv; i++)
				if (!strcmp(bv.digest, vs[i].digest)) {
					size_t l = strlen(users);
					snprintf(users + l, sizeof users - l, "%s'%s'%s", used ? ", " : "", bs[b].context,
						 which ? " (canary)" : "");
					used++;
				}
		}
	}
	if (used && !(flags & TRMX_REMOVE_FORCE)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "%s is in use by context%s %s (unbind first, or force)", target,
				    used > 1 ? "s" : "", users);
		goto fail;
	}
	if (!(dirs = trmx_xcalloc(nv, sizeof *dirs))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	for (size_t i = 0; i < nv; i++) {
		const trmx_version_info *v = &vs[i];
		char subject[TRMX_TARGET_MAX + 2], detail[1200];
		snprintf(subject, sizeof subject, "%s@%s", v->module, v->module_version);
		/* aliases pointing at it go with it */
		trmx_alias_info *as = NULL;
		size_t na = 0;
		if ((rc = trmx_registry_aliases(r, v->module, &as, &na, err)) < 0)
			goto fail;
		for (size_t a = 0; a < na && rc == 0; a++) {
			if (strcmp(as[a].module_version, v->module_version))
				continue;
			char asub[TRMX_TARGET_MAX + 2];
			snprintf(asub, sizeof asub, "%s@%s", as[a].module, as[a].alias);
			if ((rc = run(r, "DELETE FROM aliases WHERE module = ?1 AND alias = ?2", NULL, err, 2, as[a].module,
				      as[a].alias)) == 0)
				rc = trmx__reg_changed(r, "alias-rm", asub, as[a].module_version, NULL,
						       "its version was removed", err);
		}
		free(as);
		if (rc < 0)
			goto fail;
		snprintf(detail, sizeof detail, "sha256:%s%s%s", v->digest, used ? "; forced while used by " : "",
			 used ? users : "");
		if ((rc = run(r, "DELETE FROM versions WHERE module = ?1 AND version = ?2", NULL, err, 2, v->module,
			      v->module_version)) < 0 ||
		    (rc = trmx__reg_changed(r, "remove", subject, v->module_version, NULL, detail, err)) < 0)
			goto fail;
		dirs[ndirs++] = v->store_path;
	}
	if ((rc = run(r, "DELETE FROM modules WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM versions WHERE module = ?1)",
		      NULL, err, 1, vs[0].module)) < 0 ||
	    (rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto fail;
	for (size_t i = 0; i < ndirs; i++)
		if (trmx_rmtree(dirs[i]) != 0)
			trmx_diag(TRMX_DIAG_WARN, "removed from the registry, but cannot delete %s: %s", dirs[i], strerror(errno));
	free((void *)dirs);
	free(vs);
	free(bs);
	return 0;
fail:
	trmx_db_rollback(r->db);
	free((void *)dirs);
	free(vs);
	free(bs);
	return rc;
}

/* ---- Listings ---------------------------------------------------------------------------------- */

/* Grow *arr to hold one more element of `size` bytes. */
static void *grow(void *arr, size_t *cap, size_t count, size_t size)
{
	if (count < *cap)
		return arr;
	size_t nc = *cap ? 2 * *cap : 8;
	void *p = trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(arr, nc * size);
	if (p)
		*cap = nc;
	return p;
}

/* Step `st` to its end, filling one `size`-byte element per row with fill(r, st, element), into a
 * malloc'd array (*out, *n; written only on success). Finalizes `st`. */
typedef void (*row_fill_fn)(const trmx_registry *r, sqlite3_stmt *st, void *element);

static int collect_rows(const trmx_registry *r, sqlite3_stmt *st, size_t size, row_fill_fn fill, const char *what,
			void **out, size_t *n, trmx_error *err)
{
	char *arr = NULL;
	size_t count = 0, cap = 0;
	int rc = 0, s;
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		char *p = grow(arr, &cap, count, size);
		if (!p) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory listing %s", what);
			goto done;
		}
		arr = p;
		fill(r, st, arr + size * count++);
	}
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(r->db, s, DB, err);
		goto done;
	}
	*out = arr;
	*n = count;
	arr = NULL;
done:
	free(arr);
	sqlite3_finalize(st);
	return rc;
}

static const char version_cols[] =
	"SELECT module, version, digest, state, engine, engine_abi, codec, codec_params, description, signature, "
	"signer, package_bytes, examples, examples_solved, installed_at, installed_by FROM versions ";

static void version_row(const trmx_registry *r, sqlite3_stmt *st, void *element)
{
	trmx_version_info *v = element;
	memset(v, 0, sizeof *v);
	trmx_db_column_copy(st, 0, v->module, sizeof v->module);
	trmx_db_column_copy(st, 1, v->module_version, sizeof v->module_version);
	trmx_db_column_copy(st, 2, v->digest, sizeof v->digest);
	const unsigned char *state = sqlite3_column_text(st, 3);
	v->quarantined = state && !strcmp((const char *)state, "quarantined");
	trmx_db_column_copy(st, 4, v->engine, sizeof v->engine);
	trmx_db_column_copy(st, 5, v->engine_abi, sizeof v->engine_abi);
	trmx_db_column_copy(st, 6, v->codec, sizeof v->codec);
	trmx_db_column_copy(st, 7, v->codec_params, sizeof v->codec_params);
	trmx_db_column_copy(st, 8, v->description, sizeof v->description);
	trmx_db_column_copy(st, 9, v->signature, sizeof v->signature);
	trmx_db_column_copy(st, 10, v->signer, sizeof v->signer);
	v->package_bytes = sqlite3_column_int64(st, 11);
	v->examples = sqlite3_column_int(st, 12);
	v->examples_solved = sqlite3_column_int(st, 13);
	trmx_db_column_copy(st, 14, v->installed_at, sizeof v->installed_at);
	trmx_db_column_copy(st, 15, v->installed_by, sizeof v->installed_by);
	snprintf(v->store_path, sizeof v->store_path, "%s/%s", r->store, v->digest);
}

static int version_order(const void *a, const void *b)
{
	const trmx_version_info *x = a, *y = b;
	int c = strcmp(x->module, y->module);
	return c ? c : trmx_semver_compare(x->module_version, y->module_version);
}

int trmx_registry_versions(trmx_registry *r, const char *module, trmx_version_info **out, size_t *n, trmx_error *err)
{
	if (!r || !out || !n)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_versions: missing argument");
	char sql[512];
	snprintf(sql, sizeof sql, "%s WHERE ?1 IS NULL OR module = ?1", version_cols);
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, sql, &st, DB, err);
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, module);
	void *arr;
	size_t count;
	if ((rc = collect_rows(r, st, sizeof **out, version_row, "versions", &arr, &count, err)) < 0)
		return rc;
	if (count)
		qsort(arr, count, sizeof **out, version_order);
	*out = arr;
	*n = count;
	return 0;
}

int trmx_registry_version(trmx_registry *r, const char *target, trmx_version_info *out, trmx_error *err)
{
	if (!r || !target || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_version: missing argument");
	struct reg_version v;
	int rc = target_row(r, target, false, &v, NULL, err);
	if (rc < 0)
		return rc;
	char sql[512];
	snprintf(sql, sizeof sql, "%s WHERE digest = ?1", version_cols);
	sqlite3_stmt *st = NULL;
	if ((rc = trmx_db_prepare(r->db, sql, &st, DB, err)) < 0)
		return rc;
	sqlite3_bind_text(st, 1, v.digest, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW)
		version_row(r, st, out);
	rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? trmx_error_set(err, TRMX_ENOTFOUND, "%s is not installed", target)
						    : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

int trmx_registry_module(trmx_registry *r, const char *module, trmx_module_info *out, trmx_error *err)
{
	if (!r || !module || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_module: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "SELECT name, created_at, schema_version FROM modules WHERE name = ?1", &st, DB, err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, module, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW) {
		trmx_module_info m;
		memset(&m, 0, sizeof m);
		trmx_db_column_copy(st, 0, m.name, sizeof m.name);
		trmx_db_column_copy(st, 1, m.created_at, sizeof m.created_at);
		m.schema_version = sqlite3_column_int(st, 2);
		snprintf(m.db_path, sizeof m.db_path, "%s/%s.db", r->data, m.name);
		*out = m;
	}
	rc = s == SQLITE_ROW ? 0 : s == SQLITE_DONE ? trmx_error_set(err, TRMX_ENOTFOUND, "no module '%s' is installed", module)
						    : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	return rc;
}

static void alias_row(const trmx_registry *r, sqlite3_stmt *st, void *element)
{
	trmx_alias_info *x = element;
	trmx_db_column_copy(st, 0, x->module, sizeof x->module);
	trmx_db_column_copy(st, 1, x->alias, sizeof x->alias);
	trmx_db_column_copy(st, 2, x->module_version, sizeof x->module_version);
	trmx_db_column_copy(st, 3, x->updated_at, sizeof x->updated_at);
	trmx_db_column_copy(st, 4, x->updated_by, sizeof x->updated_by);
}

int trmx_registry_aliases(trmx_registry *r, const char *module, trmx_alias_info **out, size_t *n, trmx_error *err)
{
	if (!r || !out || !n)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_aliases: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "SELECT module, alias, version, updated_at, updated_by FROM aliases "
				 "WHERE ?1 IS NULL OR module = ?1 ORDER BY module, alias", &st, DB, err);
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, module);
	void *arr;
	if ((rc = collect_rows(r, st, sizeof **out, alias_row, "aliases", &arr, n, err)) == 0)
		*out = arr;
	return rc;
}

static void binding_row(const trmx_registry *r, sqlite3_stmt *st, void *element)
{
	trmx_binding_info *x = element;
	trmx_db_column_copy(st, 0, x->context, sizeof x->context);
	trmx_db_column_copy(st, 1, x->target, sizeof x->target);
	trmx_db_column_copy(st, 2, x->canary, sizeof x->canary);
	x->share = sqlite3_column_double(st, 3);
	trmx_db_column_copy(st, 4, x->updated_at, sizeof x->updated_at);
	trmx_db_column_copy(st, 5, x->updated_by, sizeof x->updated_by);
	x->rollbacks = sqlite3_column_int64(st, 6);
}

int trmx_registry_bindings(trmx_registry *r, const char *context, trmx_binding_info **out, size_t *n, trmx_error *err)
{
	if (!r || !out || !n)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_bindings: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db,
				 "SELECT context, target, canary, canary_share, updated_at, updated_by, "
				 "(SELECT count(*) FROM binding_stack s WHERE s.context = b.context) FROM bindings b "
				 "WHERE ?1 IS NULL OR context = ?1 ORDER BY context", &st, DB, err);
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, context);
	void *arr;
	if ((rc = collect_rows(r, st, sizeof **out, binding_row, "bindings", &arr, n, err)) == 0)
		*out = arr;
	return rc;
}

static void history_row(const trmx_registry *r, sqlite3_stmt *st, void *element)
{
	trmx_history_entry *x = element;
	x->id = sqlite3_column_int64(st, 0);
	trmx_db_column_copy(st, 1, x->at, sizeof x->at);
	trmx_db_column_copy(st, 2, x->actor, sizeof x->actor);
	trmx_db_column_copy(st, 3, x->action, sizeof x->action);
	trmx_db_column_copy(st, 4, x->subject, sizeof x->subject);
	trmx_db_column_copy(st, 5, x->old_value, sizeof x->old_value);
	trmx_db_column_copy(st, 6, x->new_value, sizeof x->new_value);
	trmx_db_column_copy(st, 7, x->detail, sizeof x->detail);
}

int trmx_registry_history(trmx_registry *r, const char *subject, int64_t limit, trmx_history_entry **out, size_t *n,
			  trmx_error *err)
{
	if (!r || !out || !n)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_history: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db,
				 "SELECT id, at, actor, action, subject, old, new, detail FROM ("
				 "SELECT * FROM history WHERE ?1 IS NULL OR subject = ?1 OR subject LIKE ?1 || '@%' "
				 "ORDER BY id DESC LIMIT ?2) ORDER BY id", &st, DB, err);
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, subject);
	sqlite3_bind_int64(st, 2, limit > 0 ? limit : -1);
	void *arr;
	if ((rc = collect_rows(r, st, sizeof **out, history_row, "the history", &arr, n, err)) == 0)
		*out = arr;
	return rc;
}

int trmx_registry_manifest(trmx_registry *r, const char *digest, trmx_manifest **out, trmx_error *err)
{
	if (!r || !digest || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_manifest: missing argument");
	char *path = trmx_xasprintf("%s/%s/manifest.yaml", r->store, digest);
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int rc = trmx_manifest_load(out, path, TRMX_MANIFEST_PACKAGE, err);
	free(path);
	return rc;
}

int trmx_registry_store_check(trmx_registry *r, const char *digest, trmx_error *err)
{
	if (!r || !digest)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_store_check: missing argument");
	sqlite3_stmt *st = NULL;
	trmx_manifest *m = NULL;
	char *dir = NULL, *path = NULL, *text = NULL, sub[TRMX_TARGET_MAX + 2] = "";
	size_t len = 0;
	int rc = trmx_db_prepare(r->db, "SELECT module, version, manifest FROM versions WHERE digest = ?1", &st, DB, err), s;
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, digest);
	if ((s = trmx_db_step(st)) != SQLITE_ROW) {
		rc = s == SQLITE_DONE ? trmx_error_set(err, TRMX_ENOTFOUND, "no installed package has digest sha256:%s", digest)
				      : trmx_db_error(r->db, s, DB, err);
		goto done;
	}
	snprintf(sub, sizeof sub, "%s@%s", (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
	const char *recorded = (const char *)sqlite3_column_blob(st, 2);
	size_t rlen = (size_t)sqlite3_column_bytes(st, 2);
	if (!(dir = trmx__reg_store_path(r, digest)) || !(path = trmx_xasprintf("%s/manifest.yaml", dir))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx_read_file(path, TRMX_MANIFEST_SIZE_MAX, "TRMX_MANIFEST_SIZE_MAX", 0, &text, &len, err)) < 0)
		goto reinstall;
	if (len != rlen || (rlen && memcmp(text, recorded, rlen))) {
		rc = trmx_error_set(err, TRMX_EINTEGRITY, "%s: not the manifest recorded when %s was installed", path, sub);
		goto reinstall;
	}
	if ((rc = trmx_manifest_parse(&m, recorded, rlen, "registry.db:versions.manifest", TRMX_MANIFEST_PACKAGE, err)) < 0)
		goto done;
	for (size_t i = 0; i < trmx_manifest_file_count(m); i++) {
		const trmx_manifest_file *f = trmx_manifest_file_at(m, i);
		char *fp = trmx_xasprintf("%s/%s", dir, f->path), hex[TRMX_SHA256_HEX_SIZE];
		struct stat sb;
		if (!fp) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		if (lstat(fp, &sb) != 0 || !S_ISREG(sb.st_mode))
			rc = trmx_error_set(err, TRMX_EINTEGRITY, "%s: missing (or not a regular file)", fp);
		else if ((uint64_t)sb.st_size != f->size)
			rc = trmx_error_set(err, TRMX_EINTEGRITY, "%s: %lld bytes, but %llu when %s was installed", fp,
					    (long long)sb.st_size, (unsigned long long)f->size, sub);
		else if ((rc = trmx_sha256_file(fp, hex, err)) == 0 && strcmp(hex, f->sha256))
			rc = trmx_error_set(err, TRMX_EINTEGRITY, "%s: SHA-256 %.16s..., but %.16s... when %s was installed", fp,
					    hex, f->sha256, sub);
		free(fp);
		if (rc < 0)
			goto reinstall;
	}
	goto done;
reinstall:
	if (rc == TRMX_EINTEGRITY || rc == TRMX_ENOTFOUND) { /* not a file that cannot be read */
		rc = TRMX_EINTEGRITY;
		trmx_error_prefix(err, "the store's copy of %s was changed after it was installed", sub);
		if (err) {
			size_t l = strlen(err->message);
			snprintf(err->message + l, sizeof err->message - l, "; reinstall it (trmx remove --force %s, then trmx "
				 "install its package)", sub);
			err->code = rc;
		}
	}
done:
	sqlite3_finalize(st);
	trmx_manifest_free(m);
	free(text);
	free(path);
	free(dir);
	return rc;
}

int trmx_registry_task_open(trmx_registry *r, const char *digest, trmx_task **out, trmx_error *err)
{
	trmx_manifest *m = NULL;
	int rc = trmx_registry_manifest(r, digest, &m, err);
	if (rc == 0)
		rc = trmx_task_open_config(out, trmx_manifest_task_codec(m), trmx_manifest_task_params(m), err);
	trmx_manifest_free(m);
	return rc;
}
