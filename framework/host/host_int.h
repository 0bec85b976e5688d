/*
 * host_int.h — what the host's two files share: the model cache and leases (host.c) and
 * dispatch and evaluations (dispatch.c).
 */
#ifndef TRMX_HOST_INT_H
#define TRMX_HOST_INT_H

#include "engines/runtime/runtime_int.h"
#include "log/log_int.h"

#define HOST_MAX_MODELS 8
#define HOST_NAMES_MAX 16

/* A loaded package. */
struct served {
	struct served *next;
	char digest[TRMX_SHA256_HEX_SIZE];
	char *dir;                /* the unpacked package */
	bool temp;                /* dir is our own extraction of a package file: removed on release */
	int temp_lock;            /* and the lock that keeps it from another process's sweep, or -1 */
	trmx_manifest *manifest;
	char *weights_path;       /* dir/weights.safetensors */
	trmx_weights *weights;
	trmx_model *model;
	trmx_task *task;
	trmx_plugin *plugin;
	char engine[TRMX_MANIFEST_NAME_MAX + 32];
	char *engine_source;
	char task_params[TRMX_TASK_PARAM_MAX + 1];
	char *names[HOST_NAMES_MAX]; /* names that resolved to it (kept while they still do) */
	int leases;
	uint64_t last_used;
};

struct trmx_host {
	char *home, *plugin_dir, *public_key;
	unsigned flags, verify_flags;
	bool durable_log;
	int max_models;
	trmx_registry *reg;
	trmx_log_db *log;
	struct served *models;
	int64_t generation;
	bool generation_known;
	uint64_t tick;
	trmx_host_stats stats;
};

struct trmx_lease {
	trmx_host *host;
	struct served *s;
	trmx_resolution res;
	char learner[TRMX_PSEUDONYM_SIZE];
};

/* Resolve `name` for `learner` (a pseudonym or NULL) and find or load its model (*loaded: it was
 * loaded now; *package_file: name is a package file). */
int trmx__host_acquire(trmx_host *h, const char *name, const char *learner, struct served **out, trmx_resolution *res,
		       bool *loaded, bool *package_file, trmx_error *err);
/* The pseudonym of raw learner id `learner` ("" for none). */
int trmx__host_pseudonym(trmx_host *h, const char *learner, char out[TRMX_PSEUDONYM_SIZE], trmx_error *err);

#endif
