/*
 * host_int.h — inside the host: the model handle, shared by model.c and trainer.c.
 */
#ifndef TRMX_HOST_INT_H
#define TRMX_HOST_INT_H

#include "core/core_int.h"
#include "trmx/engine.h"

struct trmx_model {
	const trmx_engine *engine;
	void *state;
	const trmx_weights *weights; /* borrowed during open only */
	trmx_host_services services;
	trmx_config *arch;           /* a copy: trainers write it into weight files */
};

/* trmx_model_open with engine-open flags (TRMX_ENGINE_OPEN_*); `weights` may be NULL with
 * TRMX_ENGINE_OPEN_NO_WEIGHTS. */
int trmx_model_open_flags(trmx_model **out, const char *engine, const trmx_config *arch,
			  const trmx_weights *weights, uint32_t flags, trmx_error *err);

#endif
