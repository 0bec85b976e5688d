/*
 * fileio.c — atomic file writes: a temporary file beside the target, fsync, rename, fsync of the
 * folder, so a reader sees the old file or the new one, never half of one.
 */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_int.h"

int trmx_write_file_atomic_mode(const char *path, const void *data, size_t len, mode_t mode, trmx_error *err)
{
	size_t plen = strlen(path);
	char *tmp = malloc(plen + 16);
	char *dir = strdup(path);
	int fd = -1, rc = 0;
	if (!tmp || !dir) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory writing %s", path);
		goto done;
	}
	snprintf(tmp, plen + 16, "%s.tmpXXXXXX", path);
	fd = mkostemp(tmp, O_CLOEXEC); /* made 0600: a private file is never readable on the way */
	if (fd < 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot create a temporary file beside %s: %s", path,
				    strerror(errno));
		goto done;
	}
	const char *p = data;
	size_t left = len;
	while (left > 0) {
		ssize_t n = write(fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = trmx_error_set(err, TRMX_EIO, "cannot write %s: %s", path, strerror(errno));
			goto done;
		}
		p += n;
		left -= (size_t)n;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot sync %s: %s", path, strerror(errno));
		goto done;
	}
	if (close(fd) != 0) {
		fd = -1;
		rc = trmx_error_set(err, TRMX_EIO, "cannot close %s: %s", path, strerror(errno));
		goto done;
	}
	fd = -1;
	if (rename(tmp, path) != 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot rename into %s: %s", path, strerror(errno));
		goto done;
	}
	trmx_error ignored;
	trmx_fsync_dir(dirname(dir), &ignored); /* renamed: a folder that cannot sync loses no data here */
done:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(dir);
	return rc;
}

int trmx_fsync_dir(const char *dir, trmx_error *err)
{
	if (trmx_fault_hit(TRMX_FAULT_WRITE))
		return trmx_error_set(err, TRMX_EIO, "cannot sync %s: injected fault", dir);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return trmx_error_set(err, TRMX_EIO, "cannot open %s: %s", dir, strerror(errno));
	int rc = fsync(fd) == 0 ? 0 : trmx_error_set(err, TRMX_EIO, "cannot sync %s: %s", dir, strerror(errno));
	close(fd);
	return rc;
}

int trmx_write_file_atomic(const char *path, const void *data, size_t len, trmx_error *err)
{
	return trmx_write_file_atomic_mode(path, data, len, 0644, err);
}
