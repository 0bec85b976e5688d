/*
 * fuzz_safetensors.c — libFuzzer target for the safetensors reader (framework/core/safetensors.c):
 * the input is a whole weights file (written to a memfd, opened through /proc/self/fd, since the
 * reader maps a path); an accepted file has its tensors, metadata and lookups walked.
 */
#define _GNU_SOURCE
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trmx/trmx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz_safetensors", 0);
		if (fd < 0)
			return 0;
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		return 0;
	trmx_weights *w = NULL;
	trmx_error err;
	if (trmx_weights_open(&w, path, &err) == 0) {
		volatile size_t sink = 0;
		for (size_t i = 0; i < trmx_weights_count(w); i++) {
			const trmx_tensor_view *t = trmx_weights_at(w, i);
			sink += t->nbytes + (trmx_weights_find(w, t->name) != NULL);
			if (t->nbytes)
				sink += ((const unsigned char *)t->data)[t->nbytes - 1];
		}
		for (size_t i = 0; i < trmx_weights_metadata_count(w); i++) {
			const char *k, *v;
			trmx_weights_metadata_at(w, i, &k, &v);
			sink += strlen(k) + strlen(v) + (trmx_weights_metadata(w, k) != NULL);
		}
		trmx_config *c = NULL;
		if (trmx_config_from_metadata(&c, w, &err) == 0)
			sink += trmx_config_count(c);
		trmx_config_free(c);
		(void)sink;
		trmx_weights_free(w);
	}
	return 0;
}
