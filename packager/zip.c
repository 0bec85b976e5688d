/*
 * zip.c — our own bounded reading of a package's zip structure, done before libarchive sees the
 * file: the end-of-central-directory record (and its zip64 form), the central directory, and
 * each member's local header. libarchive's seekable zip reader would allocate one entry per
 * central-directory record before the caller can count them, searches for the directory past
 * prepended data, keeps going past the declared count, and drops members that share a local
 * header; so the layout is pinned down here first, and libarchive is only used for the data of
 * members this scan accepted (stream.c checks each of its headers against the scan).
 *
 * Layout rules (docs/FORMAT.md, "Archive"): the end record is the last 22 bytes (no archive
 * comment), single disk; the central directory ends where the end record (or the zip64 end
 * record) begins; the first local header is at offset 0 and each member's data ends where the
 * next local header begins (plus at most a data descriptor); no encryption; stored or deflate;
 * regular files only; names valid and unique (also ignoring ASCII case) and never both a file and
 * a folder. Every count and size is checked against limits.h before it is used.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg_int.h"

#define EOCD_SIZE 22
#define Z64_LOCATOR_SIZE 20
#define Z64_EOCD_SIZE 56
#define CDH_SIZE 46
#define LFH_SIZE 30
#define DESCRIPTOR_MAX 24 /* signature, CRC, two 8-byte sizes */

static uint16_t le16(const unsigned char *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t le64(const unsigned char *p)
{
	return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32;
}

static int read_at(int fd, void *buf, size_t len, uint64_t off, const char *path, trmx_error *err)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, (char *)buf + got, len - got, (off_t)(off + got));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return trmx_error_set(err, TRMX_EIO, "%s: cannot read: %s", path, strerror(errno));
		if (n == 0)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: truncated at byte %llu", path,
					      (unsigned long long)(off + got));
		got += (size_t)n;
	}
	return 0;
}

void trmx__zip_members_free(struct zip_member *m, size_t n)
{
	if (!m)
		return;
	for (size_t i = 0; i < n; i++)
		free(m[i].name);
	free(m);
}

/* The end records: entry count, directory size and offset. */
static int read_end(int fd, uint64_t size, const char *path, uint64_t *entries, uint64_t *cd_size,
		    uint64_t *cd_off, uint64_t *cd_end, trmx_error *err)
{
	unsigned char e[EOCD_SIZE];
	int rc;
	if (size < EOCD_SIZE)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: %llu bytes, too short for a zip archive",
				      path, (unsigned long long)size);
	if ((rc = read_at(fd, e, sizeof e, size - EOCD_SIZE, path, err)) < 0)
		return rc;
	if (memcmp(e, "PK\5\6", 4))
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: no zip end-of-central-directory record in the last 22 bytes "
				      "(not a zip archive, or one with a comment or trailing data)",
				      path);
	if (le16(e + 20) != 0)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: an archive comment is not allowed", path);
	uint16_t disk = le16(e + 4), cd_disk = le16(e + 6), n_disk = le16(e + 8), n = le16(e + 10);
	uint32_t sz = le32(e + 12), off = le32(e + 16);
	*cd_end = size - EOCD_SIZE;
	if (n == 0xFFFF || n_disk == 0xFFFF || sz == 0xFFFFFFFF || off == 0xFFFFFFFF) {
		unsigned char loc[Z64_LOCATOR_SIZE], z[Z64_EOCD_SIZE];
		if (size < EOCD_SIZE + Z64_LOCATOR_SIZE + Z64_EOCD_SIZE)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: a zip64 archive too short for its records",
					      path);
		if ((rc = read_at(fd, loc, sizeof loc, size - EOCD_SIZE - Z64_LOCATOR_SIZE, path, err)) < 0)
			return rc;
		if (memcmp(loc, "PK\6\7", 4) || le32(loc + 4) != 0 || le32(loc + 16) != 1)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: bad zip64 end-of-central-directory locator",
					      path);
		uint64_t zoff = le64(loc + 8);
		if (zoff != size - EOCD_SIZE - Z64_LOCATOR_SIZE - Z64_EOCD_SIZE)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: the zip64 end record is not just before its locator "
					      "(extensible data is not allowed)", path);
		if ((rc = read_at(fd, z, sizeof z, zoff, path, err)) < 0)
			return rc;
		if (memcmp(z, "PK\6\6", 4) || le64(z + 4) != Z64_EOCD_SIZE - 12 || le32(z + 16) != 0 ||
		    le32(z + 20) != 0 || le64(z + 24) != le64(z + 32))
			return trmx_error_set(err, TRMX_EFORMAT, "%s: bad zip64 end-of-central-directory record",
					      path);
		*entries = le64(z + 32);
		*cd_size = le64(z + 40);
		*cd_off = le64(z + 48);
		*cd_end = zoff;
		return 0;
	}
	if (disk != 0 || cd_disk != 0 || n_disk != n)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: multi-disk zip archives are not supported",
				      path);
	*entries = n;
	*cd_size = sz;
	*cd_off = off;
	return 0;
}

/* The zip64 extended-information extra field fills the sizes and offset the record marked
 * 0xFFFFFFFF, in this order. */
static int read_zip64_extra(const unsigned char *x, size_t xlen, struct zip_member *m,
			    bool need_u, bool need_c, bool need_off)
{
	size_t i = 0;
	while (i + 4 <= xlen) {
		uint16_t id = le16(x + i), len = le16(x + i + 2);
		if (i + 4 + len > xlen)
			return -1;
		if (id == 0x0001) {
			size_t k = i + 4, end = i + 4 + len;
			if (need_u) {
				if (k + 8 > end)
					return -1;
				m->usize = le64(x + k), k += 8;
			}
			if (need_c) {
				if (k + 8 > end)
					return -1;
				m->csize = le64(x + k), k += 8;
			}
			if (need_off) {
				if (k + 8 > end)
					return -1;
				m->local_offset = le64(x + k);
			}
			return 0;
		}
		i += 4 + (size_t)len;
	}
	return need_u || need_c || need_off ? -1 : 0;
}

static const char *type_name(uint32_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFLNK: return "a symbolic link";
	case S_IFDIR: return "a folder";
	case S_IFCHR: return "a character device";
	case S_IFBLK: return "a block device";
	case S_IFIFO: return "a FIFO";
	case S_IFSOCK: return "a socket";
	default: return "not a regular file";
	}
}

/* One central-directory record at `p` (at most `avail` bytes). */
static int parse_record(const unsigned char *p, size_t avail, size_t index, const char *path,
			struct zip_member *m, size_t *used, trmx_error *err)
{
	if (avail < CDH_SIZE || memcmp(p, "PK\1\2", 4))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: central directory record %zu is malformed",
				      path, index);
	uint16_t made_by = le16(p + 4), nlen = le16(p + 28), xlen = le16(p + 30), clen = le16(p + 32);
	uint32_t attrs = le32(p + 38);
	size_t total = CDH_SIZE + (size_t)nlen + xlen + clen;
	trmx_error e2 = { 0 };
	int rc;
	if (total > avail)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: central directory record %zu runs past the "
				      "directory", path, index);
	m->flags = le16(p + 8);
	m->method = le16(p + 10);
	m->crc = le32(p + 16);
	m->csize = le32(p + 20);
	m->usize = le32(p + 24);
	m->local_offset = le32(p + 42);
	m->name_len = nlen;
	if (!(m->name = trmx_xmalloc((size_t)nlen + 1)))
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
	memcpy(m->name, p + CDH_SIZE, nlen);
	m->name[nlen] = '\0';
	/* The name first: every later message quotes it. */
	if ((rc = trmx_package_name_check(m->name, nlen, &e2)) < 0) {
		if (memchr(m->name, '\0', nlen) || !trmx_utf8_valid(m->name, nlen) || trmx__pkg_has_control(m->name, nlen))
			return trmx_error_set(err, rc, "%s: member %zu: %s", path, index, e2.message);
		return trmx_error_set(err, rc, "%s: member %zu '%.300s': %s", path, index, m->name,
				      e2.message);
	}
	if (memchr(m->name, '\0', nlen))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: member %zu: the name holds a NUL byte", path,
				      index);
	if (le16(p + 34) != 0)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: member '%s': on another disk", path, m->name);
	if (m->flags & (1u | 1u << 6 | 1u << 13))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: member '%s': encrypted members are not allowed",
				      path, m->name);
	if (m->method != 0 && m->method != 8)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: member '%s': compression method %u (only stored and deflate are "
				      "allowed)", path, m->name, m->method);
	if ((made_by >> 8) == 3) { /* Unix: the mode is in the high half */
		uint32_t mode = attrs >> 16;
		if ((mode & S_IFMT) != 0 && (mode & S_IFMT) != S_IFREG)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "%s: member '%s' is %s; packages hold regular files only",
					      path, m->name, type_name(mode));
	}
	if (attrs & 0x10)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: member '%s' is a folder; packages hold regular files only", path,
				      m->name);
	if (read_zip64_extra(p + CDH_SIZE + nlen, xlen, m, m->usize == 0xFFFFFFFF,
			     m->csize == 0xFFFFFFFF, m->local_offset == 0xFFFFFFFF) < 0)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: member '%s': malformed zip64 extra field",
				      path, m->name);
	if (m->method == 0 && m->csize != m->usize)
		return trmx_error_set(err, TRMX_EFORMAT,
				      "%s: member '%s': stored, but %llu bytes stored for %llu bytes", path,
				      m->name, (unsigned long long)m->csize, (unsigned long long)m->usize);
	*used = total;
	return 0;
}

/* Case-insensitive order for the duplicate check. */
static int cmp_icase(const void *a, const void *b)
{
	const struct zip_member *x = *(const struct zip_member *const *)a;
	const struct zip_member *y = *(const struct zip_member *const *)b;
	return strcasecmp(x->name, y->name);
}

static int check_names(struct zip_member *m, size_t n, const char *path, trmx_error *err)
{
	struct zip_member **s = trmx_xcalloc(n ? n : 1, sizeof *s);
	int rc = 0;
	if (!s)
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
	for (size_t i = 0; i < n; i++)
		s[i] = &m[i];
	qsort(s, n, sizeof *s, cmp_icase);
	for (size_t i = 1; i < n; i++) {
		if (!strcasecmp(s[i - 1]->name, s[i]->name)) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    strcmp(s[i - 1]->name, s[i]->name)
						    ? "%s: members '%s' and '%s' differ only in case"
						    : "%s: duplicate member '%s'%.0s",
					    path, s[i - 1]->name, s[i]->name);
			goto done;
		}
	}
	/* A name may not also be a folder of another ("a" and "a/b"). */
	for (size_t i = 0; i < n; i++) {
		char prefix[TRMX_PACKAGE_PATH_MAX + 1];
		for (size_t k = 0; k < m[i].name_len; k++) {
			if (m[i].name[k] != '/')
				continue;
			memcpy(prefix, m[i].name, k);
			prefix[k] = '\0';
			struct zip_member key = { .name = prefix }, *kp = &key;
			if (bsearch(&kp, s, n, sizeof *s, cmp_icase)) {
				rc = trmx_error_set(err, TRMX_EFORMAT,
						    "%s: member '%s' is also a folder of member '%s'", path,
						    prefix, m[i].name);
				goto done;
			}
		}
	}
done:
	free(s);
	return rc;
}

int trmx__zip_scan(int fd, uint64_t file_size, const char *path, const struct zip_limits *lim, struct zip_member **out,
		   size_t *count, trmx_error *err)
{
	uint64_t entries = 0, cd_size = 0, cd_off = 0, cd_end = 0, total = 0;
	unsigned char *cd = NULL;
	struct zip_member *m = NULL;
	size_t n = 0;
	int rc;

	if ((rc = read_end(fd, file_size, path, &entries, &cd_size, &cd_off, &cd_end, err)) < 0)
		goto done;
	if (entries > lim->max_entries) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: %llu members, more than TRMX_PACKAGE_ENTRIES_MAX "
				    "(%u)", path, (unsigned long long)entries, (unsigned)lim->max_entries);
		goto done;
	}
	if (cd_size > TRMX_PACKAGE_CD_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: a central directory of %llu bytes, more than "
				    "TRMX_PACKAGE_CD_MAX (%u)", path, (unsigned long long)cd_size,
				    TRMX_PACKAGE_CD_MAX);
		goto done;
	}
	if (cd_off > cd_end || cd_end - cd_off != cd_size || cd_size < entries * CDH_SIZE) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: the central directory (%llu bytes at %llu) does not end where the "
				    "end record begins (%llu)", path, (unsigned long long)cd_size,
				    (unsigned long long)cd_off, (unsigned long long)cd_end);
		goto done;
	}
	if (entries == 0) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: an empty archive (manifest.yaml is required)",
				    path);
		goto done;
	}
	if (!(cd = trmx_xmalloc((size_t)cd_size)) || !(m = trmx_xcalloc((size_t)entries, sizeof *m))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	if ((rc = read_at(fd, cd, (size_t)cd_size, cd_off, path, err)) < 0)
		goto done;
	size_t pos = 0;
	for (n = 0; n < entries;) {
		size_t used = 0;
		struct zip_member *z = &m[n];
		rc = parse_record(cd + pos, (size_t)cd_size - pos, (size_t)n, path, z, &used, err);
		n++; /* counted so that trmx__zip_members_free releases its name */
		if (rc < 0)
			goto done;
		pos += used;
		/* saturating: the sum is only compared with the cap */
		total = z->usize > UINT64_MAX - total ? UINT64_MAX : total + z->usize;
	}
	if (pos != cd_size) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %llu unused bytes in the central directory",
				    path, (unsigned long long)(cd_size - pos));
		goto done;
	}
	/* Sizes as declared: the total first, then each member's compression ratio. */
	if (total > lim->max_unpacked) {
		size_t big = 0;
		for (size_t i = 1; i < n; i++)
			big = m[i].usize > m[big].usize ? i : big;
		rc = trmx_error_set(err, TRMX_ELIMIT,
				    "%s: members unpack to more than TRMX_PACKAGE_UNPACKED_MAX (%llu bytes); "
				    "the largest, '%s', declares %llu",
				    path, (unsigned long long)lim->max_unpacked, m[big].name,
				    (unsigned long long)m[big].usize);
		goto done;
	}
	for (size_t i = 0; i < n; i++) {
		const struct zip_member *z = &m[i];
		if (z->method == 8 && z->usize > TRMX_PACKAGE_RATIO_SLACK &&
		    z->usize / TRMX_PACKAGE_RATIO_MAX > z->csize) {
			rc = trmx_error_set(err, TRMX_ELIMIT,
					    "%s: member '%s' expands %llu bytes into %llu, a ratio above "
					    "TRMX_PACKAGE_RATIO_MAX (%d)",
					    path, z->name, (unsigned long long)z->csize,
					    (unsigned long long)z->usize, TRMX_PACKAGE_RATIO_MAX);
			goto done;
		}
	}
	if ((rc = check_names(m, n, path, err)) < 0)
		goto done;

	/* Two records pointing at one local header are zip's hard link (and the trick of overlap
	 * bombs); records out of file order are refused too. */
	for (size_t i = 1; i < n; i++) {
		if (m[i].local_offset <= m[i - 1].local_offset) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    m[i].local_offset == m[i - 1].local_offset
						    ? "%s: members '%s' and '%s' share their data (a hard link); "
						      "members may not share data"
						    : "%s: members '%s' and '%s' are not in file order in the "
						      "central directory",
					    path, m[i - 1].name, m[i].name);
			goto done;
		}
	}
	/* Local headers: in order from offset 0, each one's data ending where the next begins. */
	uint64_t expect = 0;
	for (size_t i = 0; i < n; i++) {
		struct zip_member *z = &m[i];
		unsigned char h[LFH_SIZE];
		char name[TRMX_PACKAGE_PATH_MAX];
		uint64_t next = i + 1 < n ? m[i + 1].local_offset : cd_off;
		if (z->local_offset < expect || z->local_offset > expect + (i ? DESCRIPTOR_MAX : 0) ||
		    (z->local_offset != expect && !(m[i - 1].flags & 8))) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    z->local_offset < expect
						    ? "%s: member '%s' overlaps the member before it (members "
						      "may not share data)"
						    : "%s: unaccounted bytes before member '%s'",
					    path, z->name);
			goto done;
		}
		if (z->local_offset > cd_off || cd_off - z->local_offset < LFH_SIZE) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: member '%s': local header outside the file",
					    path, z->name);
			goto done;
		}
		if ((rc = read_at(fd, h, sizeof h, z->local_offset, path, err)) < 0)
			goto done;
		uint16_t nlen = le16(h + 26), xlen = le16(h + 28);
		if (memcmp(h, "PK\3\4", 4) || le16(h + 8) != z->method || (le16(h + 6) & 1) ||
		    nlen != z->name_len) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    "%s: member '%s': its local header disagrees with the central "
					    "directory", path, z->name);
			goto done;
		}
		if (nlen && (rc = read_at(fd, name, nlen, z->local_offset + LFH_SIZE, path, err)) < 0)
			goto done;
		if (memcmp(name, z->name, nlen)) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    "%s: member '%s': its local header names another file", path,
					    z->name);
			goto done;
		}
		z->data_offset = z->local_offset + LFH_SIZE + nlen + xlen;
		if (z->data_offset > next || next - z->data_offset < z->csize) {
			rc = trmx_error_set(err, TRMX_EFORMAT,
					    "%s: member '%s': its data (%llu bytes) runs into the next member",
					    path, z->name, (unsigned long long)z->csize);
			goto done;
		}
		expect = z->data_offset + z->csize;
	}
	if (cd_off < expect || cd_off > expect + ((m[n - 1].flags & 8) ? DESCRIPTOR_MAX : 0)) {
		rc = trmx_error_set(err, TRMX_EFORMAT,
				    "%s: unaccounted bytes between the last member and the central directory",
				    path);
		goto done;
	}
	*out = m;
	*count = n;
	m = NULL;
done:
	trmx__zip_members_free(m, n);
	free(cd);
	return rc;
}
