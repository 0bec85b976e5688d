/*
 * stream.c — member data through libarchive's seekable zip reader, on the package's descriptor
 * (pread, so the handle's file is the one read), checked against what zip.c accepted: each
 * header libarchive returns must be the member the scan expects next, a regular file with the
 * same name and size; data is read in blocks and cut at the declared size, so a member that
 * inflates to more than it declared is stopped within one block.
 *
 * libarchive converts names with the calling thread's locale; its calls run under C.UTF-8
 * (uselocale, per thread) so that UTF-8 names read the same on every machine.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pkg_int.h"

struct pkg_stream {
	struct archive *a;
	int fd;
	const char *path;
	const struct zip_member *members;
	size_t n;
	long cur;          /* member whose header was read last, -1 before the first */
	uint64_t done;     /* bytes of the current member read */
	uint64_t pos;      /* file position of the read callback */
	unsigned char *buf;
	bool failed;       /* libarchive returned FATAL: no further reads */
};

void trmx__pkg_locale_enter(pkg_locale *l)
{
	l->utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0);
	l->old = l->utf8 ? uselocale(l->utf8) : (locale_t)0;
}

void trmx__pkg_locale_leave(pkg_locale *l)
{
	if (l->utf8) {
		uselocale(l->old);
		freelocale(l->utf8);
		l->utf8 = (locale_t)0;
	}
}

static ssize_t cb_read(struct archive *a, void *user, const void **buf)
{
	struct pkg_stream *s = user;
	for (;;) {
		ssize_t n = pread(s->fd, s->buf, PKG_BLOCK, (off_t)s->pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			archive_set_error(a, errno, "read failed");
			return -1;
		}
		s->pos += (uint64_t)n;
		*buf = s->buf;
		return n;
	}
}

static int64_t cb_seek(struct archive *a, void *user, int64_t off, int whence)
{
	struct pkg_stream *s = user;
	off_t end;
	int64_t base = whence == SEEK_SET ? 0 : whence == SEEK_CUR ? (int64_t)s->pos : -1;
	if (whence == SEEK_END) {
		if ((end = lseek(s->fd, 0, SEEK_END)) < 0)
			return ARCHIVE_FATAL;
		base = (int64_t)end;
	}
	if (base < 0 || base + off < 0)
		return ARCHIVE_FATAL;
	s->pos = (uint64_t)(base + off);
	return (int64_t)s->pos;
}

static int64_t cb_skip(struct archive *a, void *user, int64_t req)
{
	struct pkg_stream *s = user;
	s->pos += (uint64_t)req;
	return req;
}

bool trmx__pkg_stream_failed(const struct pkg_stream *s)
{
	return s->failed;
}

void trmx__pkg_stream_free(struct pkg_stream *s)
{
	if (!s)
		return;
	if (s->a) {
		pkg_locale l;
		trmx__pkg_locale_enter(&l);
		archive_read_free(s->a);
		trmx__pkg_locale_leave(&l);
	}
	free(s->buf);
	free(s);
}

int trmx__pkg_stream_open(struct pkg_stream **out, int fd, const char *path, const struct zip_member *members, size_t n,
			  trmx_error *err)
{
	struct pkg_stream *s = trmx_xcalloc(1, sizeof *s);
	pkg_locale l;
	int rc = 0;
	if (!s || !(s->buf = trmx_xmalloc(PKG_BLOCK)) || !(s->a = archive_read_new())) {
		trmx__pkg_stream_free(s);
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
	}
	s->fd = fd;
	s->path = path;
	s->members = members;
	s->n = n;
	s->cur = -1;
	trmx__pkg_locale_enter(&l);
	if (archive_read_support_format_zip_seekable(s->a) != ARCHIVE_OK ||
	    archive_read_set_seek_callback(s->a, cb_seek) != ARCHIVE_OK ||
	    archive_read_set_read_callback(s->a, cb_read) != ARCHIVE_OK ||
	    archive_read_set_skip_callback(s->a, cb_skip) != ARCHIVE_OK ||
	    archive_read_set_callback_data(s->a, s) != ARCHIVE_OK ||
	    archive_read_open1(s->a) != ARCHIVE_OK) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: libarchive cannot read it: %s", path,
				    archive_error_string(s->a) ? archive_error_string(s->a) : "unknown error");
		goto done;
	}
	*out = s;
	s = NULL;
done:
	trmx__pkg_locale_leave(&l);
	trmx__pkg_stream_free(s);
	return rc;
}

/* Read the next header and check it against the scan's member cur + 1. */
static int next_header(struct pkg_stream *s, trmx_error *err)
{
	struct archive_entry *e;
	size_t i = (size_t)(s->cur + 1);
	if (i >= s->n)
		return trmx_error_set(err, TRMX_EINVAL, "%s: no member %zu", s->path, i);
	const struct zip_member *z = &s->members[i];
	int r = archive_read_next_header(s->a, &e);
	if (r != ARCHIVE_OK) {
		if (r < ARCHIVE_WARN)
			s->failed = true;
		return trmx_error_set(err, TRMX_EFORMAT, "%s: member '%s': %s", s->path, z->name,
				      r == ARCHIVE_EOF ? "libarchive found no header for it"
				      : archive_error_string(s->a) ? archive_error_string(s->a)
								    : "unreadable header");
	}
	const char *name = archive_entry_pathname(e);
	if (!name || strcmp(name, z->name) || archive_entry_filetype(e) != AE_IFREG ||
	    archive_entry_hardlink(e) || archive_entry_symlink(e) || !archive_entry_size_is_set(e) ||
	    archive_entry_size(e) < 0 || (uint64_t)archive_entry_size(e) != z->usize ||
	    archive_entry_is_encrypted(e)) {
		s->failed = true;
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: member '%s': libarchive reads it differently (name '%.100s', "
				      "size %lld)", s->path, z->name, name ? name : "(unreadable)",
				      (long long)archive_entry_size(e));
	}
	s->cur = (long)i;
	s->done = 0;
	return 0;
}

int trmx__pkg_stream_seek(struct pkg_stream *s, size_t index, trmx_error *err)
{
	pkg_locale l;
	int rc = 0;
	if (s->failed)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: cannot read on after an error", s->path);
	if ((long)index <= s->cur)
		return trmx_error_set(err, TRMX_EINVAL, "%s: member %zu was passed", s->path, index);
	trmx__pkg_locale_enter(&l);
	while (s->cur < (long)index && (rc = next_header(s, err)) == 0)
		;
	trmx__pkg_locale_leave(&l);
	return rc;
}

int trmx__pkg_stream_read(struct pkg_stream *s, void *buf, size_t cap, size_t *got, trmx_error *err)
{
	pkg_locale l;
	const struct zip_member *z;
	*got = 0;
	if (s->cur < 0 || s->failed)
		return trmx_error_set(err, TRMX_EINVAL, "%s: no member to read", s->path);
	z = &s->members[s->cur];
	/* Ask for one byte past the declared size at most, to notice a member that is longer. */
	uint64_t left = z->usize - s->done + 1;
	if (cap > left)
		cap = (size_t)left;
	trmx__pkg_locale_enter(&l);
	la_ssize_t n = archive_read_data(s->a, buf, cap);
	const char *why = n < 0 ? archive_error_string(s->a) : NULL;
	trmx__pkg_locale_leave(&l);
	if (n < 0) {
		s->failed = true;
		return trmx_error_set(err, TRMX_EINTEGRITY, "%s: member '%s': damaged data (%s)", s->path,
				      z->name, why ? why : "libarchive read error");
	}
	if ((uint64_t)n > z->usize - s->done) {
		s->failed = true;
		return trmx_error_set(err, TRMX_EINTEGRITY,
				      "%s: member '%s': more data than the %llu bytes it declares "
				      "(stopped at %llu)", s->path, z->name,
				      (unsigned long long)z->usize, (unsigned long long)(s->done + (uint64_t)n));
	}
	if (n == 0 && s->done != z->usize) {
		s->failed = true;
		return trmx_error_set(err, TRMX_EINTEGRITY,
				      "%s: member '%s': %llu bytes, but it declares %llu", s->path, z->name,
				      (unsigned long long)s->done, (unsigned long long)z->usize);
	}
	s->done += (uint64_t)n;
	*got = (size_t)n;
	return 0;
}

int trmx__pkg_stream_read_member(struct pkg_stream *s, size_t index, size_t max, const char *what, char **out, size_t *len,
				 trmx_error *err)
{
	const struct zip_member *z = &s->members[index];
	char *buf = NULL;
	size_t have = 0, got;
	int rc;
	if (z->usize > max)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: member '%s': %llu bytes, more than %s (%zu)",
				      s->path, z->name, (unsigned long long)z->usize, what, max);
	if ((rc = trmx__pkg_stream_seek(s, index, err)) < 0)
		return rc;
	if (!(buf = trmx_xmalloc((size_t)z->usize + 2)))
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", s->path);
	do {
		if ((rc = trmx__pkg_stream_read(s, buf + have, (size_t)z->usize + 1 - have, &got, err)) < 0) {
			free(buf);
			return rc;
		}
		have += got;
	} while (got > 0);
	buf[have] = '\0';
	*out = buf;
	*len = have;
	return 0;
}
