/*
 * short_table.c — a test plugin whose table ends before the functions ABI 1 requires (its
 * struct_size covers {abi_version, struct_size, name, version} only): refused with a message
 * giving both sizes (tests/test_host.c).
 */
#include <stddef.h>

#include "trmx/engine.h"

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version);

static const trmx_engine table = {
	.abi_version = TRMX_ENGINE_ABI_VERSION,
	.struct_size = (uint32_t)offsetof(trmx_engine, open),
	.name = "short_table",
	.version = "0.0.1",
};

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version)
{
	return &table;
}
