/*
 * install.c — trmx_registry_install: verify, unpack into the store's temporary folder, check the
 * contents, run the examples as a self-test, then under the registry's write lock make the
 * module's database, rename the package into store/sha256/<digest>/ and record it, all or nothing
 * (docs/REGISTRY.md, "Installing"). Every step that can fail undoes the steps before it; the fault
 * injection of the tests (log_int.h) reaches each of them.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "packager/package_int.h"
#include "engines/runtime/runtime_int.h"
#include "registry_int.h"

#define DB "registry.db"

/* ---- Self-test ----------------------------------------------------------------------------------- */

struct selftest {
	int examples, labelled, solved;
	int64_t cells, cells_right;
	const trmx_manifest_metric *claim; /* the manifest's metric for its examples, or NULL */
};

static void problem(const trmx_install_options *o, int code, const char *msg)
{
	if (o && o->on_problem)
		o->on_problem(o->user, code, msg);
}

/* Read example file `name` of `dir` and encode its first puzzle. */
static int encode_member(trmx_task *t, const char *dir, const char *name, int32_t *in, int32_t *label, bool *has,
			 trmx_error *err)
{
	char *path = trmx_xasprintf("%s/%s", dir, name), *text = NULL;
	size_t len = 0;
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int rc = trmx_read_file(path, TRMX_PACKAGE_EXAMPLE_MAX, "TRMX_PACKAGE_EXAMPLE_MAX", 0, &text, &len, err);
	if (rc == 0)
		rc = trmx_task_encode(t, text, len, in, label, has, err);
	free(text);
	free(path);
	return rc;
}

/* The metric set that describes the examples: `examples` or a name ending in `-examples`. */
static const trmx_manifest_metric *examples_metric(const trmx_manifest *m)
{
	for (size_t i = 0; i < trmx_manifest_metric_count(m); i++) {
		const trmx_manifest_metric *x = trmx_manifest_metric_at(m, i);
		size_t n = strlen(x->set);
		if (!strcmp(x->set, "examples") || (n > 9 && !strcmp(x->set + n - 9, "-examples")))
			return x;
	}
	return NULL;
}

/* Run every example through the engine (as the examples metric says: its halting and step cap;
 * else fixed halting, halt_max_steps) and judge the module. */
static int selftest(const trmx_manifest *m, const char *dir, const trmx_install_options *o, struct selftest *st,
		    trmx_error *err)
{
	trmx_weights *w = NULL;
	trmx_model *model = NULL;
	trmx_plugin *plugin = NULL;
	trmx_task *t = NULL;
	int32_t *buf = NULL;
	char *wpath = trmx_xasprintf("%s/" PKG_WEIGHTS, dir);
	int rc;
	memset(st, 0, sizeof *st);
	st->claim = examples_metric(m);
	if (!wpath) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx_weights_open(&w, wpath, err)) < 0 ||
	    (rc = trmx__engine_model_open_named(&model, &plugin, trmx_manifest_engine_name(m), o ? o->plugin_dir : NULL,
						trmx_manifest_architecture(m), w, err)) < 0 ||
	    (rc = trmx_task_open_config(&t, trmx_manifest_task_codec(m), trmx_manifest_task_params(m), err)) < 0) {
		trmx_error_prefix(err, "self-test");
		goto done;
	}
	trmx_model_info info;
	trmx_model_info_get(model, &info);
	if (info.seq_len != trmx_task_seq_len(t) || info.vocab_size != trmx_task_vocab_size(t)) {
		rc = trmx_error_set(err, TRMX_ESHAPE, "self-test: codec %s reads %d tokens over %d symbols; the model has %d "
				    "over %d", trmx_manifest_task_codec(m), trmx_task_seq_len(t), trmx_task_vocab_size(t),
				    info.seq_len, info.vocab_size);
		goto done;
	}
	size_t L = (size_t)trmx_task_seq_len(t);
	if (!(buf = trmx_xcalloc(6 * L, sizeof *buf))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	int32_t *in = buf, *label = buf + L, *ein = buf + 2 * L, *elabel = buf + 3 * L, *pred = buf + 4 * L;
	trmx_halt_mode halt = TRMX_HALT_FIXED;
	int max_steps = 0;
	if (st->claim) {
		halt = st->claim->halt && !strcmp(st->claim->halt, "adaptive") ? TRMX_HALT_ADAPTIVE : TRMX_HALT_FIXED;
		max_steps = st->claim->max_steps > 0 ? (int)st->claim->max_steps : 0;
	}
	for (size_t i = 0; i < trmx_manifest_example_count(m); i++) {
		const trmx_manifest_example *ex = trmx_manifest_example_at(m, i);
		bool has = false, ehas = false;
		if (trmx_fault_hit(TRMX_FAULT_SELFTEST)) {
			rc = trmx_error_set(err, TRMX_ERROR, "self-test: examples[%zu] (%s): injected fault", i, ex->input);
			goto done;
		}
		if ((rc = encode_member(t, dir, ex->input, in, label, &has, err)) < 0 ||
		    (ex->expected && (rc = encode_member(t, dir, ex->expected, ein, elabel, &ehas, err)) < 0)) {
			trmx_error_prefix(err, "self-test: examples[%zu]", i);
			goto done;
		}
		const int32_t *answer = ex->expected ? (ehas ? elabel : ein) : has ? label : NULL;
		if (answer) { /* the author's own answer must pass the checker */
			trmx_check ok = TRMX_CHECK_INIT;
			if ((rc = trmx_task_check(t, in, answer, answer, &ok, err)) < 0) {
				trmx_error_prefix(err, "self-test: examples[%zu]", i);
				goto done;
			}
			if (ok.verdict == TRMX_VERDICT_INVALID) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "self-test: examples[%zu]: the expected answer fails the %s "
						    "checker (%s): %s", i, trmx_manifest_task_codec(m),
						    trmx_check_problem_name(ok.problem), ok.message);
				goto done;
			}
		}
		int32_t steps = 0;
		trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
		req.n = 1;
		req.inputs = in;
		req.batch_size = 1;
		req.halt = halt;
		req.max_steps = max_steps;
		req.preds = pred;
		req.steps = &steps;
		if ((rc = trmx_model_solve(model, &req, err)) < 0) {
			trmx_error_prefix(err, "self-test: examples[%zu] (%s)", i, ex->input);
			goto done;
		}
		trmx_check chk = TRMX_CHECK_INIT;
		if ((rc = trmx_task_check(t, in, pred, answer, &chk, err)) < 0) {
			trmx_error_prefix(err, "self-test: examples[%zu]", i);
			goto done;
		}
		st->examples++;
		if (!answer)
			continue;
		int right = 0, cells = 0;
		for (size_t k = 0; k < L; k++) {
			if (!answer[k])
				continue;
			cells++;
			right += pred[k] == answer[k];
		}
		st->labelled++;
		st->solved += right == cells;
		st->cells += cells;
		st->cells_right += right;
		if (right != cells && !st->claim) {
			char msg[TRMX_ERROR_MESSAGE_MAX];
			snprintf(msg, sizeof msg, "self-test: examples[%zu] (%s): %d of %d cells differ from the expected answer",
				 i, ex->input, cells - right, cells);
			problem(o, TRMX_ERROR, msg);
		}
	}
	double exact = st->labelled ? (double)st->solved / st->labelled : 1.0;
	double tok = st->cells ? (double)st->cells_right / (double)st->cells : 1.0;
	if (st->claim) {
		/* do at least as well as the manifest says, give or take rounding of the claim */
		if (st->labelled && exact + 1e-9 < st->claim->exact_accuracy)
			rc = trmx_error_set(err, TRMX_ERROR,
					    "self-test: %d of %d examples solved (exact %.4f); the manifest's metric '%s' claims "
					    "exact_accuracy %g", st->solved, st->labelled, exact, st->claim->set,
					    st->claim->exact_accuracy);
		else if (st->cells && st->claim->token_accuracy >= 0 && tok + 0.005 < st->claim->token_accuracy)
			rc = trmx_error_set(err, TRMX_ERROR,
					    "self-test: token accuracy %.4f on the examples; the manifest's metric '%s' claims %g",
					    tok, st->claim->set, st->claim->token_accuracy);
	} else if (st->solved < st->labelled) {
		rc = trmx_error_set(err, TRMX_ERROR,
				    "self-test: the module solves %d of its %d examples with an expected answer (and its "
				    "manifest claims no lower accuracy on them)", st->solved, st->labelled);
	}
	if (rc < 0)
		problem(o, rc, err ? err->message : "self-test failed");
done:
	free(buf);
	trmx_task_free(t);
	trmx_model_free(model);
	trmx_plugin_free(plugin);
	trmx_weights_free(w);
	free(wpath);
	return rc;
}

/* ---- Store folder -------------------------------------------------------------------------------- */

/* Make the unpacked tree read-only: files 0444, folders 0555 (the folder itself last). */
static int make_read_only(const char *dir, const trmx_manifest *m, trmx_error *err)
{
	if (trmx_fault_hit(TRMX_FAULT_WRITE))
		return trmx_error_set(err, TRMX_EIO, "cannot protect %s: injected fault", dir);
	char path[4096];
	const char *fixed[] = { PKG_MANIFEST, PKG_SIGNATURE };
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, fixed[i]);
		if (chmod(path, 0444) != 0 && errno != ENOENT)
			return trmx_error_set(err, TRMX_EIO, "cannot protect %s: %s", path, strerror(errno));
	}
	for (size_t i = 0; i < trmx_manifest_file_count(m); i++) {
		const char *name = trmx_manifest_file_at(m, i)->path;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		if (chmod(path, 0444) != 0)
			return trmx_error_set(err, TRMX_EIO, "cannot protect %s: %s", path, strerror(errno));
		/* its folders, deepest first */
		for (size_t k = strlen(name); k-- > 0;) {
			if (name[k] != '/')
				continue;
			snprintf(path, sizeof path, "%s/%.*s", dir, (int)k, name);
			chmod(path, 0555);
		}
	}
	return 0;
}


/* ---- Recording ------------------------------------------------------------------------------------- */

/* Is the package already here? 1 when this digest is installed, an error when another package holds
 * its name and version, else 0. */
static int already(trmx_registry *r, const char *module, const char *version, const char *digest, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(r->db, "SELECT digest FROM versions WHERE digest = ?3 OR (module = ?1 AND version = ?2)",
				 &st, DB, err), s, found = 0;
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, module, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 2, version, -1, SQLITE_TRANSIENT);
	sqlite3_bind_text(st, 3, digest, -1, SQLITE_TRANSIENT);
	char other[TRMX_SHA256_HEX_SIZE] = "";
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		const unsigned char *d = sqlite3_column_text(st, 0);
		if (d && !strcmp((const char *)d, digest))
			found = 1;
		else if (d)
			snprintf(other, sizeof other, "%s", (const char *)d);
	}
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(st);
	if (rc < 0)
		return rc;
	if (found)
		return 1;
	if (other[0])
		return trmx_error_set(err, TRMX_EINVAL,
				      "%s %s is already installed from another package (sha256:%.16s...); a new package needs "
				      "a new version", module, version, other);
	return 0;
}

static int record(trmx_registry *r, const trmx_manifest *m, const char *digest, uint64_t bytes,
		  const trmx_signature_info *sig, const struct selftest *st, const struct moddb_plan *plan, trmx_error *err)
{
	const char *module = trmx_manifest_name(m), *version = trmx_manifest_version(m);
	char at[32], params[TRMX_TASK_PARAM_MAX + 1] = "", subject[TRMX_TARGET_MAX + 2], detail[256];
	size_t mlen = 0;
	const char *mtext = trmx_manifest_text(m, &mlen);
	const trmx_config *pc = trmx_manifest_task_params(m);
	size_t o = 0;
	for (size_t i = 0; i < trmx_config_count(pc) && o < sizeof params; i++) {
		const char *k, *v;
		trmx_config_at(pc, i, &k, &v);
		o += (size_t)snprintf(params + o, sizeof params - o, "%s%s=%s", i ? "," : "", k, v);
	}
	trmx_iso_time(trmx_now_ms(), at);
	sqlite3_stmt *q = NULL;
	int rc = trmx_db_prepare(r->db,
				 "INSERT INTO modules (name, created_at, schema_version) VALUES (?1, ?2, ?3) "
				 "ON CONFLICT (name) DO UPDATE SET schema_version = excluded.schema_version", &q, DB, err), s;
	if (rc < 0)
		return rc;
	trmx_db_bind_text(q, 1, module);
	trmx_db_bind_text(q, 2, at);
	sqlite3_bind_int(q, 3, plan->schema_version);
	s = trmx_db_step(q);
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(q);
	if (rc < 0)
		return rc;
	if ((rc = trmx_db_prepare(r->db,
				  "INSERT INTO versions (module, version, digest, state, engine, engine_abi, codec, codec_params, "
				  "description, manifest, signature, signer, package_bytes, examples, examples_solved, "
				  "installed_at, installed_by) VALUES (?1, ?2, ?3, 'active', ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, "
				  "?12, ?13, ?14, ?15, ?16)", &q, DB, err)) < 0)
		return rc;
	trmx_db_bind_text(q, 1, module);
	trmx_db_bind_text(q, 2, version);
	trmx_db_bind_text(q, 3, digest);
	trmx_db_bind_text(q, 4, trmx_manifest_engine_name(m));
	trmx_db_bind_text(q, 5, trmx_manifest_engine_abi(m));
	trmx_db_bind_text(q, 6, trmx_manifest_task_codec(m));
	trmx_db_bind_text(q, 7, params);
	trmx_db_bind_text(q, 8, trmx_manifest_description(m));
	sqlite3_bind_text(q, 9, mtext, (int)mlen, SQLITE_TRANSIENT);
	const char *sname = sig->status == TRMX_SIGNATURE_TRUSTED ? "trusted"
			    : sig->status == TRMX_SIGNATURE_UNTRUSTED ? "untrusted" : "none";
	trmx_db_bind_text(q, 10, sname);
	trmx_db_bind_text(q, 11, sig->key_id[0] ? sig->key_id : NULL);
	sqlite3_bind_int64(q, 12, (sqlite3_int64)bytes);
	sqlite3_bind_int(q, 13, st->examples);
	sqlite3_bind_int(q, 14, st->solved);
	trmx_db_bind_text(q, 15, at);
	trmx_db_bind_text(q, 16, r->actor);
	s = trmx_db_step(q);
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(r->db, s, DB, err);
	sqlite3_finalize(q);
	if (rc < 0)
		return rc;
	snprintf(subject, sizeof subject, "%s@%s", module, version);
	snprintf(detail, sizeof detail, "sha256:%s; self-test %d/%d examples solved%s", digest, st->solved, st->labelled,
		 plan->created ? "; database created" : plan->migrations ? "; database migrated" : "");
	return trmx__reg_changed(r, "install", subject, NULL, version, detail, err);
}

/* ---- Install ------------------------------------------------------------------------------------- */

int trmx_registry_install(trmx_registry *r, const char *path, const trmx_install_options *opts, trmx_install_result *result,
			  trmx_error *err)
{
	if (!r || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_registry_install: missing argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_INSTALL_OPTIONS_VERSION))
		return trmx_version_refused(err, "install options", opts->version, TRMX_INSTALL_OPTIONS_VERSION);
	trmx_package *p = NULL;
	trmx_install_result res;
	struct moddb_plan plan;
	struct selftest st;
	char *tmp = NULL, *final = NULL;
	int tmp_lock = -1;
	bool locked = false, moved = false, have_plan = false;
	int rc;
	memset(&res, 0, sizeof res);
	memset(&plan, 0, sizeof plan);

	/* 1. open and verify */
	if ((rc = trmx_package_open(&p, path, NULL, err)) < 0 || (rc = trmx_package_digest(p, res.digest, err)) < 0)
		goto done;
	const trmx_manifest *m = trmx_package_manifest(p);
	snprintf(res.module, sizeof res.module, "%s", trmx_manifest_name(m));
	snprintf(res.module_version, sizeof res.module_version, "%s", trmx_manifest_version(m));
	if ((rc = already(r, res.module, res.module_version, res.digest, err)) < 0)
		goto done;
	if (rc == 1) {
		res.already = true;
		rc = 0;
		goto done;
	}
	trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
	trmx_verify_result vr;
	vo.home = r->home;
	vo.flags = opts ? (opts->flags & TRMX_VERIFY_REQUIRE_SIGNATURE) : 0;
	vo.public_key = opts ? opts->public_key : NULL;
	vo.on_problem = opts ? opts->on_problem : NULL;
	vo.user = opts ? opts->user : NULL;
	if ((rc = trmx_package_verify(p, &vo, &vr, err)) < 0)
		goto done;

	/* 2. unpack beside the store and check the contents */
	if (!(final = trmx__reg_store_path(r, res.digest))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory installing %s", path);
		goto done;
	}
	if ((rc = trmx_mkdirs(r->tmp, err)) < 0)
		goto done;
	if (trmx_fault_hit(TRMX_FAULT_WRITE)) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot make a folder in %s: injected fault", r->tmp);
		goto done;
	}
	/* locked while this install lives: a killed install's folder is removed by the next one */
	if ((rc = trmx_tmpdir_locked(r->tmp, "install", &tmp, &tmp_lock, err)) < 0)
		goto done;
	if (trmx_fault_hit(TRMX_FAULT_WRITE)) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot unpack %s: injected fault", path);
		goto done;
	}
	if ((rc = trmx_package_extract(p, tmp, err)) < 0)
		goto done;
	/* The content checks open the module's engine as the self-test and dispatch will: a plugin of
	 * the plugin folder, else a built-in engine. */
	if ((rc = trmx_package_check_contents(m, tmp, opts ? opts->plugin_dir : NULL, opts ? opts->on_problem : NULL,
					      opts ? opts->user : NULL, NULL, err)) < 0)
		goto done;

	/* 3. the self-test */
	if ((rc = selftest(m, tmp, opts, &st, err)) < 0)
		goto done;
	res.examples = st.examples;
	res.examples_labelled = st.labelled;
	res.examples_solved = st.solved;
	res.token_accuracy = st.cells ? (double)st.cells_right / (double)st.cells : 0.0;
	if ((rc = make_read_only(tmp, m, err)) < 0)
		goto done;

	/* 4. under the lock: the module's database, the store, the record */
	if ((rc = trmx_db_begin(r->db, DB, err)) < 0)
		goto done;
	locked = true;
	if ((rc = already(r, res.module, res.module_version, res.digest, err)) < 0)
		goto done;
	if (rc == 1) { /* another process installed it meanwhile */
		res.already = true;
		rc = 0;
		goto done;
	}
	have_plan = true;
	if ((rc = trmx__moddb_prepare(r, res.module, tmp, &plan, err)) < 0 ||
	    (rc = record(r, m, res.digest, trmx_package_file_size(p), &vr.signature, &st, &plan, err)) < 0)
		goto done;
	struct stat sb;
	if (lstat(final, &sb) == 0) /* left by an install that died before its commit */
		trmx_rmtree(final);
	if (trmx_fault_hit(TRMX_FAULT_WRITE)) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot rename %s to %s: injected fault", tmp, final);
		goto done;
	}
	chmod(tmp, 0755); /* writable while it moves; read-only after */
	if (rename(tmp, final) != 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot rename %s to %s: %s", tmp, final, strerror(errno));
		goto done;
	}
	moved = true;
	if ((rc = trmx_fsync_dir(r->store, err)) < 0 || (rc = trmx__moddb_place(&plan, err)) < 0)
		goto done;
	if (trmx_fault_hit(TRMX_FAULT_WRITE)) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot protect %s: injected fault", final);
		goto done;
	}
	chmod(final, 0555);
	if ((rc = trmx_db_commit(r->db, DB, err)) < 0)
		goto done;
	locked = false;
	moved = false;
	res.db_created = plan.created;
	res.migrations_applied = plan.migrations;
	res.schema_version = plan.schema_version;
	trmx__moddb_committed(&plan);
	trmx__moddb_done(&plan);
	have_plan = false;
done:
	if (moved) { /* back where it came from, to be removed below */
		chmod(final, 0755);
		if (rename(final, tmp) != 0)
			trmx_rmtree(final);
	}
	if (have_plan && rc < 0)
		trmx__moddb_abort(&plan);
	else if (have_plan)
		trmx__moddb_done(&plan);
	if (locked)
		trmx_db_rollback(r->db);
	trmx_tmpdir_release(tmp, tmp_lock);
	free(tmp);
	free(final);
	trmx_package_free(p);
	if (rc == 0 && result)
		*result = res;
	return rc;
}
