/*
 * fileio.c — atomic file writes: a temporary file beside the target, fsync, rename, fsync of the
 * folder, so a reader sees the old file or the new one, never half of one.
 * And the one reader of a whole small file (trmx_read_file).
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
	char *tmp = trmx_xmalloc(plen + 16);
	char *dir = trmx_xstrdup(path);
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

int trmx_read_file(const char *path, size_t max, const char *what, unsigned flags, char **out, size_t *len,
		   trmx_error *err)
{
	struct stat st;
	char *buf = NULL;
	size_t size, got = 0;
	int rc = 0;
	/* O_NONBLOCK: a FIFO put in the file's place is refused below instead of blocking here. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | (flags & TRMX_READ_NOFOLLOW ? O_NOFOLLOW : 0));
	if (fd < 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "%s: cannot open: %s", path,
				      strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: not a readable regular file", path);
		goto done;
	}
	if ((flags & TRMX_READ_PRIVATE) && (st.st_mode & 077)) {
		rc = trmx_error_set(err, TRMX_ERROR, "%s is mode %04o, open to its group or others; refused (chmod 600 %s)",
				    path, (unsigned)(st.st_mode & 07777), path);
		goto done;
	}
	if ((uint64_t)st.st_size > max) {
		rc = what ? trmx_error_set(err, TRMX_ELIMIT, "%s: %lld bytes, more than %s (%zu)", path,
					   (long long)st.st_size, what, max)
			  : trmx_error_set(err, TRMX_ELIMIT, "%s: %lld bytes, more than %zu", path, (long long)st.st_size,
					   max);
		goto done;
	}
	size = (size_t)st.st_size;
	if (!(buf = trmx_xmalloc(size + 1))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	while (got < size) {
		ssize_t n = read(fd, buf + got, size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = trmx_error_set(err, TRMX_EIO, "%s: cannot read: %s", path, strerror(errno));
			goto done;
		}
		if (n == 0)
			break; /* shrank meanwhile: what is there */
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
done:
	free(buf);
	close(fd);
	return rc;
}
