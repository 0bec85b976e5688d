/*
 * toy.c — a minimal third-party engine, as a plugin: "toy" answers every puzzle with its input in
 * one ACT step (q_halt +4). Its table is an older, shorter one: it ends after `close`, without the
 * training entries, as an engine built before they were appended would. The host must accept it
 * and read the missing entries as NULL (tests/test_host.c).
 */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "trmx/engine.h"

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version);

struct toy {
	int seq_len, vocab;
};

static int arch_int(const trmx_engine_open_args *a, const char *key, int dflt)
{
	for (size_t i = 0; i < a->n_arch; i++)
		if (!strcmp(a->arch[i].key, key))
			return atoi(a->arch[i].value);
	return dflt;
}

static int toy_open(void **state, const trmx_engine_open_args *args, trmx_error *err)
{
	struct toy *t = malloc(sizeof *t);
	if (!t) {
		if (err)
			err->code = TRMX_ENOMEM;
		return TRMX_ENOMEM;
	}
	t->seq_len = arch_int(args, "seq_len", 16);
	t->vocab = arch_int(args, "vocab_size", 6);
	*state = t;
	return 0;
}

static void toy_info(void *state, trmx_model_info *out)
{
	const struct toy *t = state;
	memset(out, 0, sizeof *out);
	out->engine = "toy";
	out->seq_len = t->seq_len;
	out->vocab_size = t->vocab;
	out->num_puzzle_identifiers = 1;
	out->halt_max_steps = 1;
}

static int toy_solve(void *state, const trmx_solve_request *req, trmx_error *err)
{
	const struct toy *t = state;
	for (size_t i = 0; i < req->n; i++) {
		if (req->preds)
			memcpy(req->preds + i * (size_t)t->seq_len, req->inputs + i * (size_t)t->seq_len,
			       (size_t)t->seq_len * sizeof(int32_t));
		if (req->steps)
			req->steps[i] = 1;
		if (req->q_halt)
			req->q_halt[i] = 4.0f;
		if (req->q_continue)
			req->q_continue[i] = -4.0f;
		if (req->reason)
			req->reason[i] = TRMX_HALT_REASON_MAX_STEPS;
	}
	return 0;
}

static void toy_close(void *state)
{
	free(state);
}

static const trmx_engine table = {
	.abi_version = TRMX_ENGINE_ABI_VERSION,
	.struct_size = (uint32_t)offsetof(trmx_engine, train_begin),
	.name = "toy",
	.version = "0.1.0",
	.open = toy_open,
	.info = toy_info,
	.solve = toy_solve,
	.close = toy_close,
};

const trmx_engine *trmx_engine_entry(uint32_t host_abi_version)
{
	return host_abi_version == TRMX_ENGINE_ABI_VERSION ? &table : NULL;
}
