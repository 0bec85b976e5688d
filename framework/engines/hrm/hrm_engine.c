/*
 * hrm_engine.c — the HRM engine (the Hierarchical Reasoning Model, TRM's predecessor,
 * sapientinc/HRM) behind the engine ABI. HRM is the TRM recursion with a separate H_level
 * network for the zH update, attention blocks only, a puzzle prefix of ceil(ndim / hidden) slots,
 * halting on q_halt > q_continue, and in training the one-step gradient (only the last zL and zH
 * updates) with a Q-learning target for q_continue (the official models/hrm/hrm_act_v1.py;
 * tests/fixtures/README.md has the reference, tools/hrm_reference.py). Everything else — blocks,
 * kernels, continuous batching, the trainer — is the shared code of framework/engines/trm/, run
 * with the HRM family flag; the kernels are framework/tensor/'s.
 */
#include "engines/trm/trm_int.h"

#define HRM_ENGINE_VERSION "1.0.0"

static int hrm_open(void **state, const trmx_engine_open_args *args, trmx_error *err)
{
	return trmx__trm_open_family(state, args, true, err);
}

static const trmx_engine hrm_engine = {
	.abi_version = TRMX_ENGINE_ABI_VERSION,
	.struct_size = sizeof(trmx_engine),
	.name = "hrm",
	.version = HRM_ENGINE_VERSION,
	.open = hrm_open,
	.info = trmx__trm_info,
	.solve = trmx__trm_solve,
	.close = trmx__trm_close,
	.train_begin = trmx__trm_train_begin,
	.init_weights = trmx__trm_init_weights,
	.train_step = trmx__trm_train_step,
	.flags = TRMX_ENGINE_FEED,
};

const trmx_engine *trmx_hrm_engine_entry(uint32_t host_abi_version)
{
	return host_abi_version == TRMX_ENGINE_ABI_VERSION ? &hrm_engine : NULL;
}
