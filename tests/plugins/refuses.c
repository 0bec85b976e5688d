/*
 * refuses.c — a test plugin whose entry returns NULL: it cannot serve this host (tests/test_host.c).
 */
#include "trmx/engine.h"

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version);

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version)
{
	return NULL;
}
