/*
 * plugin.c — a linked-in engine as a plugin: compiled once per engine with PLUGIN_ENTRY naming its
 * entry (trmx_trm_engine_entry, trmx_hrm_engine_entry), it becomes BUILD/plugins/NAME.so, which
 * exports only trmx_engine_entry (engine.h) for hosts to find with dlsym after
 * dlopen(RTLD_NOW | RTLD_LOCAL). The plugin carries its own copy of the engine, the kernels and the
 * core helpers they use (the Makefile links them from libtrmx.a with every other symbol hidden),
 * so its settings are its own: the kernel thread count is taken from the host's services at every
 * open. This file is not part of libtrmx.
 */
#include "trmx/engine.h"

#ifndef PLUGIN_ENTRY
#error "compile with -DPLUGIN_ENTRY=<the engine's entry function>"
#endif

__attribute__((visibility("default"))) const trmx_engine *trmx_engine_entry(uint32_t host_abi_version);

static trmx_engine table;

static int plugin_open(void **state, const trmx_engine_open_args *args, trmx_error *err)
{
	const trmx_engine *e = PLUGIN_ENTRY(TRMX_ENGINE_ABI_VERSION);
	if (args && args->host && args->host->struct_size >= sizeof(trmx_host_services) && args->host->threads > 0)
		trmx_set_threads(args->host->threads);
	return e->open(state, args, err);
}

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version)
{
	const trmx_engine *e = PLUGIN_ENTRY(host_abi_version);
	if (!e)
		return NULL;
	table = *e;
	table.open = plugin_open;
	return &table;
}
