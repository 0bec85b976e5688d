/*
 * fuzz_archive.c — libFuzzer target for the package reader (packager/): the input is a whole
 * .trmx file (written to a memfd). An archive that opens is verified (every member streamed
 * and hashed, the signature judged), summarised (the weights' header), and extracted into a
 * scratch folder that is emptied after each run. Caps are lowered through the options so a run
 * stays fast; the code paths are the same.
 */
#define _GNU_SOURCE
#include <ftw.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "trmx/trmx.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	if (ftw->level > 0)
		remove(path);
	return 0;
}

static char scratch[] = "/tmp/fuzz_archive.XXXXXX";

static void remove_scratch(void)
{
	nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	rmdir(scratch);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz_archive", 0);
		if (fd < 0 || !mkdtemp(scratch))
			abort();
		atexit(remove_scratch);
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) != 0 || (size && pwrite(fd, data, size, 0) != (ssize_t)size))
		return 0;
	trmx_package_options po = TRMX_PACKAGE_OPTIONS_INIT;
	po.max_unpacked = 8u << 20;
	trmx_package *p = NULL;
	trmx_error err;
	if (trmx_package_open(&p, path, &po, &err) == 0) {
		trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
		trmx_verify_result res;
		trmx_weights_summary ws;
		trmx_signature_info si;
		char hex[TRMX_SHA256_HEX_SIZE];
		(void)trmx_package_verify(p, &vo, &res, &err);
		(void)trmx_package_weights_summary(p, &ws, &err);
		(void)trmx_package_signature(p, NULL, NULL, &si, &err);
		(void)trmx_package_digest(p, hex, &err);
		(void)trmx_package_extract(p, scratch, &err);
		nftw(scratch, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		trmx_package_free(p);
	}
	return 0;
}
