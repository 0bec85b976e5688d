/*
 * bad_abi.c — a test plugin built for an engine ABI this host does not speak (99): the host must
 * refuse it with a message naming both versions (tests/test_host.c).
 */
#include "trmx/engine.h"

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version);

static int never_open(void **state, const trmx_engine_open_args *args, trmx_error *err)
{
	return TRMX_ERROR;
}

static void never_info(void *state, trmx_model_info *out)
{
}

static int never_solve(void *state, const trmx_solve_request *req, trmx_error *err)
{
	return TRMX_ERROR;
}

static void never_close(void *state)
{
}

static const trmx_engine table = {
	.abi_version = 99,
	.struct_size = sizeof(trmx_engine),
	.name = "bad_abi",
	.version = "0.0.1",
	.open = never_open,
	.info = never_info,
	.solve = never_solve,
	.close = never_close,
};

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version)
{
	return &table; /* ignores the host's version on purpose */
}
