/*
 * host.c — the long-lived host (trmx/host.h), its model cache: resolve a name through the
 * registry at every dispatch, keep loaded models by package digest, release those no name
 * resolves to after the registry changes; leases. Package files named as targets are verified
 * and unpacked into a private temporary folder, never installed. Dispatch and evaluations are
 * in dispatch.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host_int.h"

/* ---- Opening ----------------------------------------------------------------------------------- */

int trmx_host_open(trmx_host **out, const trmx_host_options *opts, trmx_error *err)
{
	static const trmx_host_options defaults = TRMX_HOST_OPTIONS_INIT;
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_open: missing argument");
	if (!opts)
		opts = &defaults;
	if (!trmx_version_ok(opts->version, TRMX_HOST_OPTIONS_VERSION))
		return trmx_version_refused(err, "host options", opts->version, TRMX_HOST_OPTIONS_VERSION);
	trmx_host *h = trmx_xcalloc(1, sizeof *h);
	int rc;
	if (!h) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening a host");
		goto fail;
	}
	if ((rc = trmx_home_resolve(opts->home, &h->home, err)) < 0)
		goto fail;
	const char *pd = opts->plugin_dir ? opts->plugin_dir : getenv("TRMX_PLUGINS");
	if ((pd && *pd && !(h->plugin_dir = trmx_xstrdup(pd))) ||
	    (opts->public_key && !(h->public_key = trmx_xstrdup(opts->public_key)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening a host");
		goto fail;
	}
	h->flags = opts->flags;
	h->verify_flags = opts->verify_flags;
	h->durable_log = opts->durable_log;
	h->max_models = opts->max_models > 0 ? opts->max_models : HOST_MAX_MODELS;
	trmx_registry_options ro = TRMX_REGISTRY_OPTIONS_INIT;
	ro.actor = opts->actor;
	if ((rc = trmx_registry_open(&h->reg, h->home, &ro, err)) < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	trmx_host_free(h);
	return rc;
}

static void served_free(struct served *s)
{
	if (!s)
		return;
	trmx_task_free(s->task);
	trmx_model_free(s->model);
	trmx_plugin_free(s->plugin); /* after the model: the model's code lives in it */
	trmx_weights_free(s->weights);
	trmx_manifest_free(s->manifest);
	if (s->temp && s->dir)
		trmx_tmpdir_release(s->dir, s->temp_lock); /* our private extraction of a package file */
	free(s->dir);
	free(s->weights_path);
	free(s->engine_source);
	for (int i = 0; i < HOST_NAMES_MAX; i++)
		free(s->names[i]);
	free(s);
}

void trmx_host_free(trmx_host *h)
{
	if (!h)
		return;
	while (h->models) {
		struct served *s = h->models;
		h->models = s->next;
		served_free(s);
	}
	trmx_log_free(h->log);
	trmx_registry_free(h->reg);
	free(h->home);
	free(h->plugin_dir);
	free(h->public_key);
	free(h);
}

trmx_registry *trmx_host_registry(trmx_host *h)
{
	return h ? h->reg : NULL;
}

const char *trmx_host_home(const trmx_host *h)
{
	return h ? h->home : NULL;
}

int trmx_host_log(trmx_host *h, trmx_log_db **out, trmx_error *err)
{
	if (!h || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_log: missing argument");
	if (!h->log) {
		trmx_log_options lo = TRMX_LOG_OPTIONS_INIT;
		lo.durable = h->durable_log;
		int rc = trmx_log_open(&h->log, h->home, &lo, err);
		if (rc < 0)
			return rc;
	}
	*out = h->log;
	return 0;
}

void trmx_host_stats_get(const trmx_host *h, trmx_host_stats *out)
{
	*out = h->stats;
	out->models = 0;
	out->plugins = 0;
	for (const struct served *s = h->models; s; s = s->next) {
		out->models++;
		out->plugins += s->plugin != NULL;
	}
}

bool trmx_host_holds(const trmx_host *h, const char *digest)
{
	for (const struct served *s = h->models; s; s = s->next)
		if (!strcmp(s->digest, digest))
			return true;
	return false;
}

int trmx_host_module_exec(trmx_host *h, const char *module, const char *sql, const char *const *params, size_t nparams,
			  trmx_error *err)
{
	if (!h)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_module_exec: missing argument");
	return trmx_registry_module_exec(h->reg, module, sql, params, nparams, err);
}

/* ---- Loading ----------------------------------------------------------------------------------- */

/* "k=v,k=v" of a config. */
static void params_text(const trmx_config *c, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < trmx_config_count(c) && o < cap; i++) {
		const char *k, *v;
		trmx_config_at(c, i, &k, &v);
		o += (size_t)snprintf(buf + o, cap - o, "%s%s=%s", i ? "," : "", k, v);
	}
}

/* Touch every page of the mapped weights, so that a dispatch's compute is the engine's work and not
 * the first reading of the file (the load pays for it, once). */
static void prefault(const trmx_weights *w)
{
	volatile unsigned char sink = 0;
	for (size_t i = 0; i < trmx_weights_count(w); i++) {
		const trmx_tensor_view *v = trmx_weights_at(w, i);
		const unsigned char *p = v->data;
		for (size_t o = 0; o < v->nbytes; o += 4096)
			sink ^= p[o];
	}
	(void)sink;
}

/* Load the unpacked package in `dir`. */
static int load_dir(trmx_host *h, const char *dir, const char *digest, bool temp, struct served **out, trmx_error *err)
{
	struct served *s = trmx_xcalloc(1, sizeof *s);
	char *path = NULL;
	int rc;
	if (!s || !(s->dir = trmx_xstrdup(dir))) {
		free(s);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory loading %s", dir);
	}
	s->temp = temp;
	s->temp_lock = -1;
	snprintf(s->digest, sizeof s->digest, "%s", digest);
	/* the store's files as install recorded them (issue 24, item 8): once, at this first load */
	if (!temp && h->reg && (rc = trmx_registry_store_check(h->reg, digest, err)) < 0)
		goto fail;
	if (!(path = trmx_xasprintf("%s/manifest.yaml", dir))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = trmx_manifest_load(&s->manifest, path, TRMX_MANIFEST_PACKAGE, err)) < 0)
		goto fail;
	if (!(s->weights_path = trmx_xasprintf("%s/weights.safetensors", dir))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	const char *engine = trmx_manifest_engine_name(s->manifest);
	if ((rc = trmx_weights_open(&s->weights, s->weights_path, err)) == 0)
		prefault(s->weights);
	if (rc < 0 ||
	    (rc = trmx__engine_model_open_named(&s->model, &s->plugin, engine, h->plugin_dir,
						trmx_manifest_architecture(s->manifest), s->weights, err)) < 0 ||
	    (rc = trmx_task_open_config(&s->task, trmx_manifest_task_codec(s->manifest),
					trmx_manifest_task_params(s->manifest), err)) < 0)
		goto fail;
	trmx_model_info info;
	trmx_model_info_get(s->model, &info);
	if (info.seq_len != trmx_task_seq_len(s->task) || info.vocab_size != trmx_task_vocab_size(s->task)) {
		rc = trmx_error_set(err, TRMX_ESHAPE, "%s: the codec reads %d tokens over %d symbols, the model %d over %d", dir,
				    trmx_task_seq_len(s->task), trmx_task_vocab_size(s->task), info.seq_len, info.vocab_size);
		goto fail;
	}
	snprintf(s->engine, sizeof s->engine, "%s %s", s->model->engine->name,
		 s->model->engine->version ? s->model->engine->version : "?");
	if (!(s->engine_source = trmx_xstrdup(s->plugin ? trmx_plugin_path(s->plugin) : "built-in"))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	params_text(trmx_manifest_task_params(s->manifest), s->task_params, sizeof s->task_params);
	free(path);
	*out = s;
	return 0;
fail:
	free(path);
	s->temp = false; /* the caller owns a temporary folder until we succeed */
	served_free(s);
	return rc;
}

static struct served *find_served(trmx_host *h, const char *digest)
{
	for (struct served *s = h->models; s; s = s->next)
		if (!strcmp(s->digest, digest))
			return s;
	return NULL;
}

static void unlink_served(trmx_host *h, struct served *s)
{
	for (struct served **p = &h->models; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			return;
		}
}

static void release(trmx_host *h, struct served *s)
{
	unlink_served(h, s);
	served_free(s);
	h->stats.releases++;
}

/* Make room for one more model: drop the least recently used unleased ones. */
static void make_room(trmx_host *h)
{
	for (;;) {
		size_t n = 0;
		struct served *lru = NULL;
		for (struct served *s = h->models; s; s = s->next) {
			n++;
			if (!s->leases && (!lru || s->last_used < lru->last_used))
				lru = s;
		}
		if ((int)n < h->max_models || !lru)
			return;
		release(h, lru);
	}
}

static void remember_name(struct served *s, const char *name)
{
	int free_slot = -1;
	for (int i = 0; i < HOST_NAMES_MAX; i++) {
		if (s->names[i] && !strcmp(s->names[i], name))
			return;
		if (!s->names[i] && free_slot < 0)
			free_slot = i;
	}
	if (free_slot < 0) { /* full: forget the oldest */
		free(s->names[0]);
		memmove(s->names, s->names + 1, (HOST_NAMES_MAX - 1) * sizeof *s->names);
		free_slot = HOST_NAMES_MAX - 1;
		s->names[free_slot] = NULL;
	}
	s->names[free_slot] = strdup(name);
}

/* Does `name` still dispatch to `digest` (by its main target, or its canary)? */
static bool is_package_file(const char *name);

static bool still_serves(trmx_host *h, const char *name, const char *digest)
{
	trmx_resolution res;
	trmx_error e2;
	if (is_package_file(name))
		return true; /* a package file named as a target: kept until the least recently used go */
	if (trmx_registry_resolve(h->reg, name, NULL, &res, &e2) == 0 && !strcmp(res.digest, digest))
		return true;
	trmx_binding_info *b = NULL;
	size_t nb = 0;
	bool yes = false;
	if (trmx_registry_bindings(h->reg, name, &b, &nb, &e2) == 0 && nb == 1 && b[0].canary[0]) {
		trmx_version_info *v = malloc(sizeof *v);
		if (v && trmx_registry_version(h->reg, b[0].canary, v, &e2) == 0 && !v->quarantined &&
		    !strcmp(v->digest, digest))
			yes = true;
		free(v);
	}
	free(b);
	return yes;
}

/* After the registry changed: keep the models some name still dispatches to. */
static void sweep(trmx_host *h)
{
	struct served *s = h->models;
	while (s) {
		struct served *next = s->next;
		if (!s->leases) {
			bool keep = false;
			for (int i = 0; i < HOST_NAMES_MAX; i++) {
				if (!s->names[i])
					continue;
				if (still_serves(h, s->names[i], s->digest)) {
					keep = true;
				} else {
					free(s->names[i]);
					s->names[i] = NULL;
				}
			}
			if (!keep)
				release(h, s);
		}
		s = next;
	}
}

/* Notice registry changes since the last dispatch. */
static int check_generation(trmx_host *h, trmx_error *err)
{
	int64_t g;
	int rc = trmx_registry_generation(h->reg, &g, err);
	if (rc < 0)
		return rc;
	if (h->generation_known && g != h->generation)
		sweep(h);
	h->generation = g;
	h->generation_known = true;
	h->stats.generation = g;
	return 0;
}

static bool is_package_file(const char *name)
{
	size_t n = strlen(name);
	struct stat st;
	return n > 5 && !strcmp(name + n - 5, ".trmx") && stat(name, &st) == 0 && S_ISREG(st.st_mode);
}

/* A package file: verified against the home's policy, unpacked privately, cached by digest. */
static int load_package_file(trmx_host *h, const char *path, struct served **out, trmx_resolution *res, bool *loaded,
			     trmx_error *err)
{
	trmx_package *p = NULL;
	char digest[TRMX_SHA256_HEX_SIZE], *tmp = NULL;
	int rc;
	if ((rc = trmx_package_open(&p, path, NULL, err)) < 0 || (rc = trmx_package_digest(p, digest, err)) < 0)
		goto done;
	const trmx_manifest *m = trmx_package_manifest(p);
	struct served *s = find_served(h, digest);
	if (!s) {
		trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
		vo.home = h->home;
		vo.public_key = h->public_key;
		vo.flags = h->verify_flags & TRMX_VERIFY_REQUIRE_SIGNATURE;
		if ((rc = trmx_package_verify(p, &vo, NULL, err)) < 0)
			goto done;
		const char *base = getenv("TMPDIR");
		int lock = -1;
		/* locked while it is served: one left by a killed trmx is removed by the next */
		if ((rc = trmx_tmpdir_locked(base && *base ? base : "/tmp", "trmx-run", &tmp, &lock, err)) < 0)
			goto done;
		if ((rc = trmx_package_extract(p, tmp, err)) < 0) {
			trmx_tmpdir_release(tmp, lock);
			goto done;
		}
		make_room(h);
		if ((rc = load_dir(h, tmp, digest, true, &s, err)) < 0) {
			trmx_tmpdir_release(tmp, lock);
			goto done;
		}
		s->temp_lock = lock;
		s->next = h->models;
		h->models = s;
		h->stats.loads++;
		*loaded = true;
	}
	remember_name(s, path);
	memset(res, 0, sizeof *res);
	snprintf(res->target, sizeof res->target, "%s", path);
	snprintf(res->module, sizeof res->module, "%s", trmx_manifest_name(m));
	snprintf(res->module_version, sizeof res->module_version, "%s", trmx_manifest_version(m));
	snprintf(res->digest, sizeof res->digest, "%s", digest);
	snprintf(res->engine, sizeof res->engine, "%s", trmx_manifest_engine_name(m));
	snprintf(res->codec, sizeof res->codec, "%s", trmx_manifest_task_codec(m));
	snprintf(res->codec_params, sizeof res->codec_params, "%s", s->task_params);
	snprintf(res->store_path, sizeof res->store_path, "%s", s->dir);
	res->arm = TRMX_ARM_MAIN;
	res->generation = h->generation;
	*out = s;
done:
	free(tmp);
	trmx_package_free(p);
	return rc;
}

int trmx__host_acquire(trmx_host *h, const char *name, const char *learner, struct served **out, trmx_resolution *res,
		       bool *loaded, bool *package_file, trmx_error *err)
{
	int rc;
	*loaded = false;
	*package_file = false;
	if ((rc = check_generation(h, err)) < 0)
		return rc;
	if (is_package_file(name)) {
		*package_file = true;
		rc = load_package_file(h, name, out, res, loaded, err);
	} else if ((rc = trmx_registry_resolve(h->reg, name, learner, res, err)) == 0) {
		struct served *s = find_served(h, res->digest);
		if (!s) {
			make_room(h);
			if ((rc = load_dir(h, res->store_path, res->digest, false, &s, err)) < 0)
				return rc;
			s->next = h->models;
			h->models = s;
			h->stats.loads++;
			*loaded = true;
		} else {
			h->stats.hits++;
		}
		remember_name(s, name);
		*out = s;
	}
	if (rc == 0)
		(*out)->last_used = ++h->tick;
	return rc;
}

int trmx__host_pseudonym(trmx_host *h, const char *learner, char out[TRMX_PSEUDONYM_SIZE], trmx_error *err)
{
	out[0] = 0;
	if (!learner || !*learner)
		return 0;
	trmx_log_db *log;
	int rc = trmx_host_log(h, &log, err);
	return rc < 0 ? rc : trmx_log_pseudonym(log, learner, out, err);
}

/* ---- Leases ------------------------------------------------------------------------------------ */

int trmx_host_acquire(trmx_host *h, const char *target, const char *learner, trmx_lease **out, trmx_error *err)
{
	if (!h || !target || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_host_acquire: missing argument");
	trmx_lease *l = trmx_xcalloc(1, sizeof *l);
	if (!l)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	bool loaded, pf;
	int rc = trmx__host_pseudonym(h, learner, l->learner, err);
	if (rc == 0)
		rc = trmx__host_acquire(h, target, l->learner[0] ? l->learner : NULL, &l->s, &l->res, &loaded, &pf, err);
	if (rc < 0) {
		free(l);
		return rc;
	}
	l->host = h;
	l->s->leases++;
	*out = l;
	return 0;
}

void trmx_lease_free(trmx_lease *l)
{
	if (!l)
		return;
	l->s->leases--;
	free(l);
}

trmx_model *trmx_lease_model(const trmx_lease *l)
{
	return l->s->model;
}

trmx_task *trmx_lease_task(const trmx_lease *l)
{
	return l->s->task;
}

const trmx_resolution *trmx_lease_resolution(const trmx_lease *l)
{
	return &l->res;
}

const char *trmx_lease_engine(const trmx_lease *l)
{
	return l->s->engine;
}

const char *trmx_lease_learner(const trmx_lease *l)
{
	return l->learner[0] ? l->learner : NULL;
}

const char *trmx_lease_task_params(const trmx_lease *l)
{
	return l->s->task_params;
}

const trmx_manifest *trmx_lease_manifest(const trmx_lease *l)
{
	return l->s->manifest;
}

const char *trmx_lease_weights_path(const trmx_lease *l)
{
	return l->s->weights_path;
}

