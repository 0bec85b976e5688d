/*
 * plugin.c — the TRM engine as a plugin: BUILD/plugins/trm.so exports only trmx_engine_entry
 * (engine.h), which hosts find with dlsym after dlopen(RTLD_NOW | RTLD_LOCAL). The plugin carries
 * its own copy of the engine, the kernels and the core helpers they use (the Makefile links them
 * from libtrmx.a with every other symbol hidden), so its settings are its own: the kernel thread
 * count is taken from the host's services at every open. In the static library this file is
 * inert (nothing refers to it).
 */
#include "trmx/engine.h"

__attribute__((visibility("default"))) const trmx_engine *trmx_engine_entry(uint32_t host_abi_version);

static trmx_engine table;

static int plugin_open(void **state, const trmx_engine_open_args *args, trmx_error *err)
{
	const trmx_engine *e = trmx_trm_engine_entry(TRMX_ENGINE_ABI_VERSION);
	if (args && args->host && args->host->struct_size >= sizeof(trmx_host_services) && args->host->threads > 0)
		trmx_set_threads(args->host->threads);
	return e->open(state, args, err);
}

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version)
{
	const trmx_engine *e = trmx_trm_engine_entry(host_abi_version);
	if (!e)
		return NULL;
	table = *e;
	table.open = plugin_open;
	return &table;
}
