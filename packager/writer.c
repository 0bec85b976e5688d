/*
 * writer.c — deterministic zip output with libarchive, for pack and sign.
 *
 * The same members in the same order give the same bytes on any machine: every entry is a
 * regular file with mode 0644, uid and gid 0, no user or group names, and modification time 0
 * (the Unix epoch; the DOS time field then holds its minimum, 1980-01-01 00:00, in every time
 * zone, and the UTC extra field holds 0), no access or creation time; names go through libarchive
 * under the C.UTF-8 locale (so the UTF-8 flag does not depend on the user's locale);
 * weights.safetensors is stored, every other member deflated with zlib's default level. The
 * archive is written to a temporary file beside the target, synced and renamed into place.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg_int.h"

struct pkg_writer {
	struct archive *a;
	char *path, *tmp;
	int fd;
	bool committed;
	uint64_t left; /* bytes the current member still expects */
	const char *member;
	char member_name[TRMX_PACKAGE_PATH_MAX + 1];
};

bool trmx__pkg_member_stored(const char *name)
{
	return !strcmp(name, PKG_WEIGHTS);
}

static int la_error(struct pkg_writer *w, trmx_error *err, const char *what)
{
	const char *why = archive_error_string(w->a);
	return trmx_error_set(err, TRMX_EIO, "%s: %s%s%s: %s", w->path, what,
			      w->member ? " " : "", w->member ? w->member : "",
			      why ? why : "libarchive error");
}

int trmx__pkg_writer_open(struct pkg_writer **out, const char *path, trmx_error *err)
{
	struct pkg_writer *w = trmx_xcalloc(1, sizeof *w);
	pkg_locale l;
	int rc = 0;
	if (!w || !(w->path = trmx_xstrdup(path)) || !(w->tmp = trmx_xmalloc(strlen(path) + 16))) {
		trmx__pkg_writer_free(w);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	w->fd = -1;
	snprintf(w->tmp, strlen(path) + 16, "%s.tmpXXXXXX", path);
	if ((w->fd = mkstemp(w->tmp)) < 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot create a temporary file beside %s: %s", path,
				    strerror(errno));
		free(w->tmp);
		w->tmp = NULL;
		goto done;
	}
	trmx__pkg_locale_enter(&l);
	if (!(w->a = archive_write_new()) || archive_write_set_format_zip(w->a) != ARCHIVE_OK ||
	    archive_write_set_bytes_in_last_block(w->a, 1) != ARCHIVE_OK ||
	    archive_write_open_fd(w->a, w->fd) != ARCHIVE_OK)
		rc = w->a ? la_error(w, err, "cannot start the archive") :
			    trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	trmx__pkg_locale_leave(&l);
done:
	if (rc < 0) {
		trmx__pkg_writer_free(w);
		return rc;
	}
	*out = w;
	return 0;
}

int trmx__pkg_writer_begin(struct pkg_writer *w, const char *name, uint64_t size, bool store, trmx_error *err)
{
	struct archive_entry *e;
	pkg_locale l;
	int rc = 0;
	if (w->left)
		return trmx_error_set(err, TRMX_EINVAL, "%s: member %s is not complete", w->path, w->member);
	snprintf(w->member_name, sizeof w->member_name, "%s", name);
	w->member = w->member_name;
	if (!(e = archive_entry_new()))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)size);
	archive_entry_set_mtime(e, 0, 0);
	archive_entry_set_uid(e, 0);
	archive_entry_set_gid(e, 0);
	trmx__pkg_locale_enter(&l);
	if ((store ? archive_write_zip_set_compression_store(w->a)
		   : archive_write_zip_set_compression_deflate(w->a)) != ARCHIVE_OK ||
	    archive_write_header(w->a, e) != ARCHIVE_OK)
		rc = la_error(w, err, "cannot add");
	trmx__pkg_locale_leave(&l);
	archive_entry_free(e);
	if (rc == 0)
		w->left = size;
	return rc;
}

int trmx__pkg_writer_data(struct pkg_writer *w, const void *buf, size_t len, trmx_error *err)
{
	pkg_locale l;
	int rc = 0;
	if (len > w->left)
		return trmx_error_set(err, TRMX_EINVAL, "%s: member %s: more data than announced", w->path,
				      w->member);
	trmx__pkg_locale_enter(&l);
	while (len > 0) {
		la_ssize_t n = archive_write_data(w->a, buf, len);
		if (n <= 0) {
			rc = la_error(w, err, "cannot write");
			break;
		}
		buf = (const char *)buf + n;
		len -= (size_t)n;
		w->left -= (uint64_t)n;
	}
	trmx__pkg_locale_leave(&l);
	return rc;
}

int trmx__pkg_writer_add(struct pkg_writer *w, const char *name, const void *data, size_t len, bool store, trmx_error *err)
{
	int rc = trmx__pkg_writer_begin(w, name, len, store, err);
	if (rc == 0 && len)
		rc = trmx__pkg_writer_data(w, data, len, err);
	return rc;
}

int trmx__pkg_writer_commit(struct pkg_writer *w, trmx_error *err)
{
	pkg_locale l;
	int rc = 0;
	char *dir = NULL;
	if (w->left)
		return trmx_error_set(err, TRMX_EINVAL, "%s: member %s is not complete", w->path, w->member);
	w->member = NULL;
	trmx__pkg_locale_enter(&l);
	if (archive_write_close(w->a) != ARCHIVE_OK)
		rc = la_error(w, err, "cannot finish the archive");
	trmx__pkg_locale_leave(&l);
	if (rc < 0)
		return rc;
	if (fchmod(w->fd, 0644) != 0 || fsync(w->fd) != 0)
		return trmx_error_set(err, TRMX_EIO, "%s: cannot sync: %s", w->path, strerror(errno));
	if (close(w->fd) != 0) {
		w->fd = -1;
		return trmx_error_set(err, TRMX_EIO, "%s: cannot close: %s", w->path, strerror(errno));
	}
	w->fd = -1;
	if (!(dir = trmx_xstrdup(w->path))) /* before the rename: nothing may fail after it */
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (rename(w->tmp, w->path) != 0) {
		free(dir);
		return trmx_error_set(err, TRMX_EIO, "cannot rename into %s: %s", w->path, strerror(errno));
	}
	w->committed = true;
	trmx_error ignored;
	trmx_fsync_dir(dirname(dir), &ignored); /* after the rename: best effort */
	free(dir);
	return 0;
}

void trmx__pkg_writer_free(struct pkg_writer *w)
{
	if (!w)
		return;
	if (w->a) {
		pkg_locale l;
		trmx__pkg_locale_enter(&l);
		archive_write_free(w->a); /* closes what is open; the fd is ours */
		trmx__pkg_locale_leave(&l);
	}
	if (w->fd >= 0)
		close(w->fd);
	if (w->tmp && !w->committed)
		unlink(w->tmp);
	free(w->tmp);
	free(w->path);
	free(w);
}
