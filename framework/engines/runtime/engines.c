/*
 * engines.c — finding engines: the built-in table, engine plugins loaded with dlopen from a plugin
 * folder, and the checks every table passes before the host calls it (abi_version, struct_size,
 * required functions). A table shorter than this host's trmx_engine but covering ABI 1's required
 * fields is accepted: the host copies it and reads the fields it lacks as NULL (the ABI only ever
 * grows at its end).
 */
#include <dlfcn.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engines/runtime/runtime_int.h"

/* The engines linked into libtrmx, by name. */
static const struct {
	const char *name;
	trmx_engine_entry_fn entry;
} builtin_engines[] = {
	{ "trm", trmx_trm_engine_entry },
	{ "hrm", trmx_hrm_engine_entry },
};

/* Every field of ABI 1 up to and including `close`. */
#define ENGINE_MIN_SIZE offsetof(trmx_engine, train_begin)

const trmx_engine *trmx__engine_builtin(const char *name, bool *known)
{
	for (size_t i = 0; i < sizeof builtin_engines / sizeof *builtin_engines; i++)
		if (!strcmp(builtin_engines[i].name, name)) {
			if (known)
				*known = true;
			return builtin_engines[i].entry(TRMX_ENGINE_ABI_VERSION);
		}
	if (known)
		*known = false;
	return NULL;
}

void trmx__engine_builtin_names(char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (size_t i = 0; i < sizeof builtin_engines / sizeof *builtin_engines && o < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", builtin_engines[i].name);
}

int trmx_engine_check(const trmx_engine *e, const char *where, trmx_engine *out, trmx_error *err)
{
	if (!where)
		where = "engine";
	if (!e)
		return trmx_error_set(err, TRMX_EVERSION, "%s does not serve engine ABI %d", where, TRMX_ENGINE_ABI_VERSION);
	if (e->abi_version != TRMX_ENGINE_ABI_VERSION)
		return trmx_error_set(err, TRMX_EVERSION, "%s was built for engine ABI %u; this host speaks %d", where,
				      e->abi_version, TRMX_ENGINE_ABI_VERSION);
	if (e->struct_size < ENGINE_MIN_SIZE)
		return trmx_error_set(err, TRMX_EVERSION,
				      "%s has a function table of %u bytes; engine ABI %d needs at least %zu (up to close)",
				      where, e->struct_size, TRMX_ENGINE_ABI_VERSION, (size_t)ENGINE_MIN_SIZE);
	if (!e->name || !e->open || !e->solve || !e->close || !e->info)
		return trmx_error_set(err, TRMX_EVERSION, "%s lacks a required entry (name, open, info, solve, close)", where);
	if (out) {
		memset(out, 0, sizeof *out);
		memcpy(out, e, e->struct_size < sizeof *out ? e->struct_size : sizeof *out);
		out->struct_size = sizeof *out;
	}
	return 0;
}

/* ---- Plugins ----------------------------------------------------------------------------------- */

struct trmx_plugin {
	void *handle;
	char *path;
	trmx_engine table;
};

int trmx_plugin_open(trmx_plugin **out, const char *path, trmx_error *err)
{
	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_plugin_open: missing argument");
	struct stat st;
	if (stat(path, &st) != 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "engine plugin %s: %s", path,
				      strerror(errno));
	trmx_plugin *p = calloc(1, sizeof *p);
	int rc;
	if (!p || !(p->path = strdup(path))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory loading %s", path);
		goto fail;
	}
	dlerror();
	if (!(p->handle = dlopen(path, RTLD_NOW | RTLD_LOCAL))) {
		const char *why = dlerror();
		rc = trmx_error_set(err, TRMX_EIO, "engine plugin %s cannot be loaded: %s", path, why ? why : "dlopen failed");
		goto fail;
	}
	trmx_engine_entry_fn entry;
	*(void **)&entry = dlsym(p->handle, "trmx_engine_entry");
	if (!entry) {
		rc = trmx_error_set(err, TRMX_EVERSION, "engine plugin %s exports no trmx_engine_entry", path);
		goto fail;
	}
	char where[4200];
	snprintf(where, sizeof where, "engine plugin %s", path);
	const trmx_engine *e = entry(TRMX_ENGINE_ABI_VERSION);
	if ((rc = trmx_engine_check(e, where, &p->table, err)) < 0)
		goto fail;
	*out = p;
	return 0;
fail:
	trmx_plugin_free(p);
	return rc;
}

void trmx_plugin_free(trmx_plugin *p)
{
	if (!p)
		return;
	if (p->handle)
		dlclose(p->handle);
	free(p->path);
	free(p);
}

const trmx_engine *trmx_plugin_engine(const trmx_plugin *p)
{
	return p ? &p->table : NULL;
}

const char *trmx_plugin_path(const trmx_plugin *p)
{
	return p ? p->path : NULL;
}

int trmx__engine_model_open_named(trmx_model **out, trmx_plugin **plugin, const char *name, const char *plugin_dir,
				  const trmx_config *arch, const trmx_weights *weights, trmx_error *err)
{
	*plugin = NULL;
	if (plugin_dir && *plugin_dir) {
		char path[4096];
		struct stat st;
		if (strchr(name, '/') || strlen(name) > TRMX_MANIFEST_NAME_MAX)
			return trmx_error_set(err, TRMX_EINVAL, "engine name '%s' cannot name a plugin", name);
		snprintf(path, sizeof path, "%s/%s.so", plugin_dir, name);
		if (stat(path, &st) == 0) {
			trmx_plugin *p = NULL;
			int rc = trmx_plugin_open(&p, path, err);
			if (rc < 0)
				return rc;
			if (strcmp(p->table.name, name)) {
				rc = trmx_error_set(err, TRMX_EVERSION, "engine plugin %s serves engine '%s', not '%s'", path,
						    p->table.name, name);
				trmx_plugin_free(p);
				return rc;
			}
			if ((rc = trmx__engine_model_open_table(out, &p->table, name, arch, weights, 0, err)) < 0) {
				trmx_plugin_free(p);
				return rc;
			}
			*plugin = p;
			return 0;
		}
	}
	return trmx_model_open_flags(out, name, arch, weights, 0, err);
}
