/*
 * runtime_int.h — the model runtime under the host: the model handle (model.c; the trainer reads
 * it too) and the engine lookup (engines.c: the built-in engines and plugins) that the host, the
 * registry's install and self-test, the package content check and trmx_model_open share. It sits
 * with the engines, below the packager, the registry and the host, which all use it
 * (docs/LAYOUT.md).
 */
#ifndef TRMX_RUNTIME_INT_H
#define TRMX_RUNTIME_INT_H

#include "core/core_int.h"
#include "trmx/engine.h"
#include "trmx/host.h"

struct trmx_model {
	const trmx_engine *engine;   /* &table */
	trmx_engine table;           /* the engine's table as this host reads it (fields the engine's
					table lacks are NULL) */
	void *state;
	const trmx_weights *weights; /* borrowed during open only */
	trmx_host_services services;
	trmx_config *arch;           /* a copy: trainers write it into weight files */
};

/* trmx_model_open with engine-open flags (TRMX_ENGINE_OPEN_*); `weights` may be NULL with
 * TRMX_ENGINE_OPEN_NO_WEIGHTS. */
int trmx_model_open_flags(trmx_model **out, const char *engine, const trmx_config *arch,
			  const trmx_weights *weights, uint32_t flags, trmx_error *err);
/* The same on a table (already checked or not). */
int trmx__engine_model_open_table(trmx_model **out, const trmx_engine *e, const char *name, const trmx_config *arch,
				  const trmx_weights *weights, uint32_t flags, trmx_error *err);

/* The built-in engine named `name`, or NULL (*known, may be NULL, tells whether the name is one of
 * them: its entry may still refuse this host). */
const trmx_engine *trmx__engine_builtin(const char *name, bool *known);
/* The built-in engines' names, "trm, hrm". */
void trmx__engine_builtin_names(char *buf, size_t cap);

/* Open engine `name` on `arch` and `weights`: from `plugin_dir`/<name>.so when plugin_dir is not
 * NULL and holds that file (the plugin is opened and returned in *plugin, to be freed after the
 * model), else the built-in engine (*plugin NULL). */
int trmx__engine_model_open_named(trmx_model **out, trmx_plugin **plugin, const char *name, const char *plugin_dir,
				  const trmx_config *arch, const trmx_weights *weights, trmx_error *err);

#endif
