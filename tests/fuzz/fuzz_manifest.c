/*
 * fuzz_manifest.c — libFuzzer target for the manifest reader (packager/manifest.c): the
 * input is the bytes of a manifest.yaml, read in both modes; an accepted manifest has every
 * accessor called. Run with `make fuzz` (docs/SECURITY.md has the figures).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "trmx/trmx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const trmx_manifest *m)
{
	volatile size_t sink = 0;
	const char *v;
	sink += strlen(trmx_manifest_name(m)) + strlen(trmx_manifest_version(m));
	sink += (size_t)trmx_semver_compare(trmx_manifest_version(m), "1.0.0-rc.1");
	sink += trmx_manifest_engine_accepts(m, 1) + trmx_manifest_engine_accepts(m, 7);
	for (size_t i = 0; i < trmx_manifest_author_count(m); i++)
		sink += strlen(trmx_manifest_author_at(m, i));
	sink += trmx_config_count(trmx_manifest_architecture(m)) + trmx_config_count(trmx_manifest_task_params(m));
	for (size_t i = 0; i < trmx_manifest_file_count(m); i++) {
		const trmx_manifest_file *f = trmx_manifest_file_at(m, i);
		sink += f->size + (trmx_manifest_file_find(m, f->path) == f);
	}
	for (size_t i = 0; i < trmx_manifest_metric_count(m); i++)
		sink += (size_t)trmx_manifest_metric_at(m, i)->count;
	for (size_t i = 0; i < trmx_manifest_example_count(m); i++)
		sink += strlen(trmx_manifest_example_at(m, i)->input);
	for (size_t i = 0; i < trmx_manifest_extension_count(m); i++) {
		const char *k, *y;
		trmx_manifest_extension_at(m, i, &k, &y);
		sink += strlen(k) + strlen(y);
	}
	if (trmx_manifest_training_get(m))
		sink += (size_t)trmx_manifest_training_get(m)->steps;
	sink += trmx_manifest_lookup(m, "files[0].path", &v) + trmx_manifest_lookup(m, "engine.abi", &v) +
		trmx_manifest_lookup(m, "metrics.x.count", &v) + trmx_manifest_lookup(m, "a[99999999999]", &v);
	(void)sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (int mode = 0; mode < 2; mode++) {
		trmx_manifest *m = NULL;
		trmx_error err;
		if (trmx_manifest_parse(&m, (const char *)data, size, "fuzz", (trmx_manifest_mode)mode, &err) == 0) {
			exercise(m);
			trmx_manifest_free(m);
		}
	}
	/* The syntax checkers on their own. */
	if (size < 256) {
		char s[256];
		memcpy(s, data, size);
		s[size] = '\0';
		if (trmx_semver_valid(s))
			(void)trmx_semver_compare(s, "0.0.1-alpha");
		trmx_error err;
		(void)trmx_package_name_check(s, size, &err);
	}
	return 0;
}
