/*
 * package.c — the package handle: open (scan, manifest, cross-check), the digest, verify,
 * extract, and the weights summary from the safetensors header.
 *
 * Opening reads no member data but manifest.yaml and manifest.sig. Every later pass streams
 * members through stream.c in PKG_BLOCK pieces, so memory stays within the caps whatever a
 * member holds. Extraction writes below a descriptor of the destination folder only, with
 * O_EXCL | O_NOFOLLOW, and removes what it made when anything fails.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg_int.h"
#include "trmx/engine.h"

/* ---- Opening ----------------------------------------------------------------------------- */

void trmx_package_free(trmx_package *p)
{
	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	trmx__zip_members_free(p->members, p->nmembers);
	free(p->entries);
	trmx_manifest_free(p->manifest);
	free(p->sig);
	free(p->path);
	free(p);
}

/* Index of the member named `path`; -1 when none. */
static long pkg_member_index(const trmx_package *p, const char *path)
{
	for (size_t i = 0; i < p->nmembers; i++)
		if (!strcmp(p->members[i].name, path))
			return (long)i;
	return -1;
}

/* Members against the manifest's files: every problem joined into one message. */
static int cross_check(trmx_package *p, size_t first, trmx_error *err)
{
	const trmx_manifest *m = p->manifest;
	char msg[TRMX_ERROR_MESSAGE_MAX] = "";
	size_t used = 0, problems = 0;
	int code = 0;

#define PROBLEM(c, ...)                                                                        \
	do {                                                                                   \
		if (!code)                                                                     \
			code = (c);                                                            \
		if (problems++ < 4 && used < sizeof msg)                                       \
			used += (size_t)snprintf(msg + used, sizeof msg - used, "%s", used ? "; " : ""); \
		if (problems <= 4 && used < sizeof msg)                                        \
			used += (size_t)snprintf(msg + used, sizeof msg - used, __VA_ARGS__);  \
	} while (0)

	for (size_t i = first; i < p->nmembers; i++) {
		const struct zip_member *z = &p->members[i];
		const trmx_manifest_file *f = trmx_manifest_file_find(m, z->name);
		if (!strcmp(z->name, PKG_MANIFEST) || !strcmp(z->name, PKG_SIGNATURE))
			PROBLEM(TRMX_EFORMAT, "member '%s' is not in its place (%s first, %s second)",
				z->name, PKG_MANIFEST, PKG_SIGNATURE);
		else if (!f)
			PROBLEM(TRMX_EINTEGRITY, "member '%s' is not listed in the manifest's files:", z->name);
		else if (f->size != z->usize)
			PROBLEM(TRMX_EINTEGRITY, "member '%s' has %llu bytes; the manifest lists %llu",
				z->name, (unsigned long long)z->usize, (unsigned long long)f->size);
	}
	for (size_t i = 0; i < trmx_manifest_file_count(m); i++) {
		const trmx_manifest_file *f = trmx_manifest_file_at(m, i);
		if (pkg_member_index(p, f->path) < 0)
			PROBLEM(TRMX_EINTEGRITY, "'%s' is listed in files: but missing from the archive",
				f->path);
	}
	static const char *const required[] = { PKG_WEIGHTS, PKG_SCHEMA, PKG_README };
	for (size_t i = 0; i < sizeof required / sizeof *required; i++)
		if (!trmx_manifest_file_find(m, required[i]))
			PROBLEM(TRMX_EFORMAT, "the required member '%s' is missing", required[i]);
#undef PROBLEM
	if (!code)
		return 0;
	if (problems > 4)
		snprintf(msg + (used < sizeof msg ? used : sizeof msg - 1),
			 sizeof msg - (used < sizeof msg ? used : sizeof msg - 1), "; and %zu more",
			 problems - 4);
	return trmx_error_set(err, code, "%s: %s", p->path, msg);
}

int trmx_package_open(trmx_package **out, const char *path, const trmx_package_options *opts,
		      trmx_error *err)
{
	trmx_package *p = NULL;
	struct pkg_stream *s = NULL;
	struct zip_limits lim = { TRMX_PACKAGE_ENTRIES_MAX, TRMX_PACKAGE_UNPACKED_MAX };
	char *text = NULL, *source = NULL;
	size_t len = 0;
	struct stat st;
	int rc = 0;

	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_open: NULL argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_PACKAGE_OPTIONS_VERSION))
		return trmx_version_refused(err, "package options", opts->version, TRMX_PACKAGE_OPTIONS_VERSION);
	if (opts && opts->max_entries && opts->max_entries < lim.max_entries)
		lim.max_entries = opts->max_entries;
	if (opts && opts->max_unpacked && opts->max_unpacked < lim.max_unpacked)
		lim.max_unpacked = opts->max_unpacked;
	if (!(p = trmx_xcalloc(1, sizeof *p)) || !(p->path = trmx_xstrdup(path))) {
		free(p);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	p->fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (p->fd < 0) {
		rc = trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "%s: cannot open: %s",
				    path, strerror(errno));
		goto done;
	}
	if (fstat(p->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = trmx_error_set(err, TRMX_EIO, "%s: not a regular file", path);
		goto done;
	}
	p->file_size = (uint64_t)st.st_size;
	if (p->file_size > TRMX_PACKAGE_FILE_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: %llu bytes, more than TRMX_PACKAGE_FILE_MAX (%llu)",
				    path, (unsigned long long)p->file_size, TRMX_PACKAGE_FILE_MAX);
		goto done;
	}
	if ((rc = trmx__zip_scan(p->fd, p->file_size, path, &lim, &p->members, &p->nmembers, err)) < 0)
		goto done;
	if (strcmp(p->members[0].name, PKG_MANIFEST)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: the first member is '%s', not %s", path,
				    p->members[0].name, PKG_MANIFEST);
		goto done;
	}
	if (!(p->entries = trmx_xcalloc(p->nmembers, sizeof *p->entries))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	for (size_t i = 0; i < p->nmembers; i++) {
		const struct zip_member *z = &p->members[i];
		p->entries[i] = (trmx_package_entry){ z->name, z->usize, z->csize, z->method == 8 };
		p->unpacked += z->usize;
	}
	if ((rc = trmx__pkg_stream_open(&s, p->fd, path, p->members, p->nmembers, err)) < 0 ||
	    (rc = trmx__pkg_stream_read_member(s, 0, TRMX_MANIFEST_SIZE_MAX, "TRMX_MANIFEST_SIZE_MAX", &text, &len, err)) <
		    0)
		goto done;
	size_t first = 1;
	if (p->nmembers > 1 && !strcmp(p->members[1].name, PKG_SIGNATURE)) {
		if ((rc = trmx__pkg_stream_read_member(s, 1, TRMX_SIGNATURE_FILE_MAX, "TRMX_SIGNATURE_FILE_MAX", &p->sig,
						       &p->siglen, err)) < 0)
			goto done;
		first = 2;
	}
	size_t slen = strlen(path) + sizeof ":" PKG_MANIFEST;
	if (!(source = trmx_xmalloc(slen))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	snprintf(source, slen, "%s:%s", path, PKG_MANIFEST);
	if ((rc = trmx_manifest_parse(&p->manifest, text, len, source, TRMX_MANIFEST_PACKAGE, err)) < 0 ||
	    (rc = cross_check(p, first, err)) < 0)
		goto done;
	*out = p;
	p = NULL;
done:
	trmx__pkg_stream_free(s);
	free(text);
	free(source);
	trmx_package_free(p);
	return rc;
}

const trmx_manifest *trmx_package_manifest(const trmx_package *p) { return p ? p->manifest : NULL; }
const char *trmx_package_path(const trmx_package *p) { return p ? p->path : NULL; }
uint64_t trmx_package_file_size(const trmx_package *p) { return p ? p->file_size : 0; }
uint64_t trmx_package_unpacked_size(const trmx_package *p) { return p ? p->unpacked : 0; }
size_t trmx_package_entry_count(const trmx_package *p) { return p ? p->nmembers : 0; }

const trmx_package_entry *trmx_package_entry_at(const trmx_package *p, size_t i)
{
	return p && i < p->nmembers ? &p->entries[i] : NULL;
}

int trmx_package_digest(const trmx_package *p, char out[TRMX_SHA256_HEX_SIZE], trmx_error *err)
{
	unsigned char *buf;
	pkg_sha256 h;
	uint64_t off = 0;
	if (!p || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_digest: NULL argument");
	if (!(buf = trmx_xmalloc(PKG_BLOCK)))
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", p->path);
	trmx__pkg_sha256_init(&h);
	while (off < p->file_size) {
		ssize_t n = pread(p->fd, buf, PKG_BLOCK, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return trmx_error_set(err, TRMX_EIO, "%s: cannot read: %s", p->path,
					      n < 0 ? strerror(errno) : "the file shrank");
		}
		trmx__pkg_sha256_update(&h, buf, (size_t)n);
		off += (uint64_t)n;
	}
	free(buf);
	trmx__pkg_sha256_final_hex(&h, out);
	return 0;
}

/* ---- Streaming every member -------------------------------------------------------------- */

/* Called for each block of member `index`; `final` once at its end with the digest. */
typedef int (*member_fn)(void *user, size_t index, const void *data, size_t len, trmx_error *err);

/* Hash one member while handing its data to `fn` (may be NULL): compare size and digest with
 * the manifest (manifest.yaml and manifest.sig are not listed; only their size is checked). */
static int stream_member(const trmx_package *p, struct pkg_stream *s, size_t index, member_fn fn,
			 void *user, unsigned char *buf, trmx_error *err)
{
	const struct zip_member *z = &p->members[index];
	const trmx_manifest_file *f = trmx_manifest_file_find(p->manifest, z->name);
	pkg_sha256 h;
	size_t got;
	int rc;
	if ((rc = trmx__pkg_stream_seek(s, index, err)) < 0)
		return rc;
	trmx__pkg_sha256_init(&h);
	for (;;) {
		if ((rc = trmx__pkg_stream_read(s, buf, PKG_BLOCK, &got, err)) < 0)
			return rc;
		if (got == 0)
			break;
		trmx__pkg_sha256_update(&h, buf, got);
		if (fn && (rc = fn(user, index, buf, got, err)) < 0)
			return rc;
	}
	if (f) {
		char hex[TRMX_SHA256_HEX_SIZE];
		trmx__pkg_sha256_final_hex(&h, hex);
		if (strcmp(hex, f->sha256))
			return trmx_error_set(err, TRMX_EINTEGRITY,
					      "%s: member '%s': SHA-256 %s, but the manifest lists %s",
					      p->path, z->name, hex, f->sha256);
	}
	return 0;
}

int trmx__pkg_check_members(const trmx_package *p, trmx_error *err)
{
	struct pkg_stream *s = NULL;
	unsigned char *buf = trmx_xmalloc(PKG_BLOCK);
	int rc = 0;
	if (!buf)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if ((rc = trmx__pkg_stream_open(&s, p->fd, p->path, p->members, p->nmembers, err)) < 0)
		goto done;
	for (size_t i = 0; i < p->nmembers && rc == 0; i++)
		rc = stream_member(p, s, i, NULL, NULL, buf, err);
done:
	trmx__pkg_stream_free(s);
	free(buf);
	return rc;
}

static int copy_block(void *user, size_t index, const void *data, size_t len, trmx_error *err)
{
	return trmx__pkg_writer_data(user, data, len, err);
}

int trmx__pkg_copy_members(const trmx_package *p, size_t first, struct pkg_writer *w, trmx_error *err)
{
	struct pkg_stream *s = NULL;
	unsigned char *buf = trmx_xmalloc(PKG_BLOCK);
	int rc = 0;
	if (!buf)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if ((rc = trmx__pkg_stream_open(&s, p->fd, p->path, p->members, p->nmembers, err)) < 0)
		goto done;
	for (size_t i = first; i < p->nmembers && rc == 0; i++) {
		const struct zip_member *z = &p->members[i];
		if ((rc = trmx__pkg_writer_begin(w, z->name, z->usize, trmx__pkg_member_stored(z->name), err)) == 0)
			rc = stream_member(p, s, i, copy_block, w, buf, err);
	}
done:
	trmx__pkg_stream_free(s);
	free(buf);
	return rc;
}

/* ---- Verify ------------------------------------------------------------------------------ */

struct report {
	const trmx_verify_options *o;
	size_t problems;
	int first;
	trmx_error *err;
};

static void report(struct report *r, int code, const char *message)
{
	if (r->o && r->o->on_problem)
		r->o->on_problem(r->o->user, code, message);
	if (!r->problems++) {
		r->first = code;
		trmx_error_set(r->err, code, "%s", message);
	}
}

static void forward_problem(void *user, int code, const char *message)
{
	report(user, code, message);
}

/* mkdtemp under tmpdir (or $TMPDIR, or /tmp). */
static int make_tmpdir(const char *tmpdir, char **out, trmx_error *err)
{
	const char *base = tmpdir ? tmpdir : getenv("TMPDIR");
	if (!base || !*base)
		base = "/tmp";
	size_t n = strlen(base) + 32;
	char *d = trmx_xmalloc(n);
	if (!d)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	snprintf(d, n, "%s/trmx-verify.XXXXXX", base);
	if (!mkdtemp(d)) {
		int e = errno;
		free(d);
		return trmx_error_set(err, TRMX_EIO, "cannot make a temporary folder in %s: %s", base,
				      strerror(e));
	}
	*out = d;
	return 0;
}

/* Remove the tree trmx_package_extract made in `dir`, then `dir`. */
static void remove_tree(const char *dir, const trmx_package *p)
{
	char path[4096];
	for (size_t i = p->nmembers; i-- > 0;) {
		const char *name = p->members[i].name;
		snprintf(path, sizeof path, "%s/%s", dir, name);
		unlink(path);
		/* parent folders, deepest first; rmdir fails harmlessly while not empty */
		for (size_t k = strlen(name); k-- > 0;) {
			if (name[k] != '/')
				continue;
			snprintf(path, sizeof path, "%s/%.*s", dir, (int)k, name);
			rmdir(path);
		}
	}
	rmdir(dir);
}

int trmx_package_verify(const trmx_package *p, const trmx_verify_options *opts,
			trmx_verify_result *out, trmx_error *err)
{
	static const trmx_verify_options defaults = TRMX_VERIFY_OPTIONS_INIT;
	struct report r = { opts ? opts : &defaults, 0, 0, err };
	trmx_verify_result res = { 0 };
	struct pkg_stream *s = NULL;
	unsigned char *buf = NULL;
	trmx_policy pol = TRMX_POLICY_INIT;
	trmx_error e2 = { 0 };
	char *tmp = NULL;
	int rc;

	if (!p)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_verify: NULL argument");
	if (!trmx_version_ok(r.o->version, TRMX_VERIFY_OPTIONS_VERSION))
		return trmx_version_refused(err, "verify options", r.o->version, TRMX_VERIFY_OPTIONS_VERSION);
	res.num_params = -1;
	if (!(buf = trmx_xmalloc(PKG_BLOCK))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	/* Sizes and digests of every member; go on after a mismatch to report the others. */
	if ((rc = trmx__pkg_stream_open(&s, p->fd, p->path, p->members, p->nmembers, &e2)) < 0) {
		report(&r, rc, e2.message);
		goto signature;
	}
	for (size_t i = 0; i < p->nmembers; i++) {
		if ((rc = stream_member(p, s, i, NULL, NULL, buf, &e2)) < 0) {
			report(&r, rc, e2.message);
			if (trmx__pkg_stream_failed(s))
				break; /* libarchive cannot go on past damaged data */
		}
	}
signature:
	/* The signature and the policy. */
	if (r.o->home && (rc = trmx_policy_load(r.o->home, &pol, &e2)) < 0) {
		report(&r, rc, e2.message);
	}
	res.require_signature = pol.require_signature || (r.o->flags & TRMX_VERIFY_REQUIRE_SIGNATURE);
	if ((rc = trmx_package_signature(p, r.o->home, r.o->public_key, &res.signature, &e2)) < 0) {
		report(&r, rc, e2.message);
	} else if (res.signature.status == TRMX_SIGNATURE_INVALID) {
		char msg[TRMX_ERROR_MESSAGE_MAX + 64];
		snprintf(msg, sizeof msg, "%s: %s: %s", p->path, PKG_SIGNATURE, res.signature.message);
		report(&r, TRMX_EINTEGRITY, msg);
	} else if (res.require_signature && res.signature.status != TRMX_SIGNATURE_TRUSTED) {
		char msg[TRMX_ERROR_MESSAGE_MAX + 64];
		snprintf(msg, sizeof msg, "%s: a trusted signature is required, and %s", p->path,
			 res.signature.status == TRMX_SIGNATURE_NONE ? "the package is not signed"
								       : res.signature.message);
		report(&r, TRMX_EINTEGRITY, msg);
	}
	/* Contents: only when the archive itself is sound. */
	if ((r.o->flags & TRMX_VERIFY_CONTENTS) && r.problems == 0) {
		if ((rc = make_tmpdir(r.o->tmpdir, &tmp, &e2)) < 0) {
			report(&r, rc, e2.message);
		} else if ((rc = trmx_package_extract(p, tmp, &e2)) < 0) {
			report(&r, rc, e2.message);
		} else {
			trmx_package_check_contents(p->manifest, tmp, r.o->version >= 2 ? r.o->plugin_dir : NULL,
						    forward_problem, &r, &res.num_params, &e2);
		}
		if (tmp)
			remove_tree(tmp, p);
	}
	res.problems = r.problems;
	rc = r.problems ? r.first : 0;
	if (out)
		*out = res;
done:
	trmx__pkg_stream_free(s);
	free(buf);
	free(tmp);
	return rc;
}

/* ---- Extract ----------------------------------------------------------------------------- */

struct made {
	int dirfd;          /* the destination */
	char **paths;       /* relative paths made, in order */
	bool *is_dir;
	size_t n, cap;
};

static int made_push(struct made *mk, const char *path, size_t len, bool is_dir)
{
	if (mk->n == mk->cap) {
		size_t cap = mk->cap ? mk->cap * 2 : 32;
		char **np = trmx_xrealloc(mk->paths, cap * sizeof *np);
		if (!np)
			return -1;
		mk->paths = np;
		bool *nd = trmx_xrealloc(mk->is_dir, cap * sizeof *nd);
		if (!nd)
			return -1;
		mk->is_dir = nd;
		mk->cap = cap;
	}
	if (!(mk->paths[mk->n] = trmx_xstrndup(path, len)))
		return -1;
	mk->is_dir[mk->n++] = is_dir;
	return 0;
}

/* Forget the last path noted (it was not made). */
static void made_pop(struct made *mk)
{
	free(mk->paths[--mk->n]);
}

static void made_undo(struct made *mk)
{
	for (size_t i = mk->n; i-- > 0;) {
		unlinkat(mk->dirfd, mk->paths[i], mk->is_dir[i] ? AT_REMOVEDIR : 0);
		free(mk->paths[i]);
	}
	mk->n = 0;
}

static void made_free(struct made *mk)
{
	for (size_t i = 0; i < mk->n; i++)
		free(mk->paths[i]);
	free(mk->paths);
	free(mk->is_dir);
}

/* Open (making as needed) the folder holding `name` below mk->dirfd; returns a descriptor. */
static int open_parent(struct made *mk, const char *name, const char **leaf, trmx_error *err,
		       const char *dir)
{
	int fd = dup(mk->dirfd);
	const char *p = name, *slash;
	if (fd < 0)
		return trmx_error_set(err, TRMX_EIO, "%s: %s", dir, strerror(errno));
	while ((slash = strchr(p, '/'))) {
		char comp[TRMX_PACKAGE_PATH_MAX + 1];
		size_t len = (size_t)(slash - p);
		memcpy(comp, p, len);
		comp[len] = '\0';
		/* noted before it is made, so that nothing made goes unrecorded */
		if (made_push(mk, name, (size_t)(slash - name), true) < 0) {
			close(fd);
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		}
		if (mkdirat(fd, comp, 0755) != 0) {
			int e = errno;
			made_pop(mk);
			if (e != EEXIST) {
				close(fd);
				return trmx_error_set(err, TRMX_EIO, "%s: cannot make folder '%.*s': %s", dir,
						      (int)(slash - name), name, strerror(e));
			}
		}
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		int e = errno;
		close(fd);
		if (next < 0)
			return trmx_error_set(err, TRMX_EIO, "%s: cannot open folder '%.*s': %s", dir,
					      (int)(slash - name), name, strerror(e));
		fd = next;
		p = slash + 1;
	}
	*leaf = p;
	return fd;
}

struct extract_ctx {
	int fd;
	const char *dir;
	const char *name;
};

static int write_block(void *user, size_t index, const void *data, size_t len, trmx_error *err)
{
	struct extract_ctx *x = user;
	const char *p = data;
	while (len > 0) {
		ssize_t n = write(x->fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return trmx_error_set(err, TRMX_EIO, "%s/%s: cannot write: %s", x->dir, x->name,
					      n < 0 ? strerror(errno) : "no progress");
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static bool dir_empty(int fd)
{
	int d = dup(fd);
	DIR *dh;
	struct dirent *e;
	bool empty = true;
	if (d < 0 || !(dh = fdopendir(d))) {
		if (d >= 0)
			close(d);
		return false;
	}
	while ((e = readdir(dh))) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			empty = false;
			break;
		}
	}
	closedir(dh);
	return empty;
}

int trmx_package_extract(const trmx_package *p, const char *dir, trmx_error *err)
{
	struct made mk = { -1, NULL, NULL, 0, 0 };
	struct pkg_stream *s = NULL;
	unsigned char *buf = NULL;
	int rc = 0;

	if (!p || !dir)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_extract: NULL argument");
	mk.dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (mk.dirfd < 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO,
				      "%s: cannot open the destination folder: %s", dir, strerror(errno));
	if (!dir_empty(mk.dirfd)) {
		rc = trmx_error_set(err, TRMX_EINVAL, "%s: the destination folder is not empty", dir);
		goto done;
	}
	if (!(buf = trmx_xmalloc(PKG_BLOCK))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx__pkg_stream_open(&s, p->fd, p->path, p->members, p->nmembers, err)) < 0)
		goto done;
	for (size_t i = 0; i < p->nmembers; i++) {
		const char *name = p->members[i].name, *leaf = NULL;
		int pfd = open_parent(&mk, name, &leaf, err, dir);
		if (pfd < 0) {
			rc = pfd;
			goto done;
		}
		if (made_push(&mk, name, strlen(name), false) < 0) {
			close(pfd);
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		int fd = openat(pfd, leaf, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		int e = errno;
		close(pfd);
		if (fd < 0) {
			made_pop(&mk);
			rc = trmx_error_set(err, TRMX_EIO, "%s: cannot create '%s': %s", dir, name, strerror(e));
			goto done;
		}
		struct extract_ctx x = { fd, dir, name };
		rc = stream_member(p, s, i, write_block, &x, buf, err);
		if (close(fd) != 0 && rc == 0)
			rc = trmx_error_set(err, TRMX_EIO, "%s/%s: cannot close: %s", dir, name, strerror(errno));
		if (rc < 0)
			goto done;
	}
done:
	if (rc < 0 && mk.dirfd >= 0)
		made_undo(&mk);
	made_free(&mk);
	if (mk.dirfd >= 0)
		close(mk.dirfd);
	trmx__pkg_stream_free(s);
	free(buf);
	return rc;
}

/* ---- Weights summary --------------------------------------------------------------------- */

static bool is_buffer(const char *name)
{
	static const char *const prefixes[] = { "_orig_mod.", "model.inner." };
	for (size_t i = 0; i < 2; i++)
		if (!strncmp(name, prefixes[i], strlen(prefixes[i])))
			name += strlen(prefixes[i]);
	return !strcmp(name, "H_init") || !strcmp(name, "L_init") || !strcmp(name, "puzzle_emb.weights");
}

int trmx_package_weights_summary(const trmx_package *p, trmx_weights_summary *out, trmx_error *err)
{
	struct pkg_stream *s = NULL;
	unsigned char *hdr = NULL;
	json_t *root = NULL;
	trmx_weights_summary sum = { 0 };
	unsigned char len8[8];
	size_t have = 0, got;
	int rc;

	if (!p || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_weights_summary: NULL argument");
	long idx = pkg_member_index(p, PKG_WEIGHTS);
	if (idx < 0)
		return trmx_error_set(err, TRMX_ENOTFOUND, "%s: no %s", p->path, PKG_WEIGHTS);
	const struct zip_member *z = &p->members[idx];
	sum.bytes = z->usize;
	if ((rc = trmx__pkg_stream_open(&s, p->fd, p->path, p->members, p->nmembers, err)) < 0 ||
	    (rc = trmx__pkg_stream_seek(s, (size_t)idx, err)) < 0)
		goto done;
	while (have < 8) {
		if ((rc = trmx__pkg_stream_read(s, len8 + have, 8 - have, &got, err)) < 0)
			goto done;
		if (got == 0) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s: shorter than 8 bytes", p->path, PKG_WEIGHTS);
			goto done;
		}
		have += got;
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | len8[i];
	if (n > TRMX_SAFETENSORS_HEADER_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: %s: a header of %llu bytes, more than "
				    "TRMX_SAFETENSORS_HEADER_MAX (%u)", p->path, PKG_WEIGHTS,
				    (unsigned long long)n, TRMX_SAFETENSORS_HEADER_MAX);
		goto done;
	}
	if (n > z->usize - 8) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s: the header runs past the file", p->path,
				    PKG_WEIGHTS);
		goto done;
	}
	if (!(hdr = trmx_xmalloc((size_t)n + 1))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	for (have = 0; have < n; have += got) {
		if ((rc = trmx__pkg_stream_read(s, hdr + have, (size_t)n - have, &got, err)) < 0)
			goto done;
		if (got == 0)
			break;
	}
	json_error_t je;
	if (!(root = json_loadb((const char *)hdr, (size_t)n, JSON_REJECT_DUPLICATES, &je)) ||
	    !json_is_object(root)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s: the header is not a JSON object (%s)",
				    p->path, PKG_WEIGHTS, root ? "another JSON value" : je.text);
		goto done;
	}
	const char *key;
	json_t *v;
	uint64_t params = 0, buffers = 0;
	json_object_foreach(root, key, v) {
		if (!strcmp(key, "__metadata__"))
			continue;
		json_t *shape = json_object_get(v, "shape"), *dt = json_object_get(v, "dtype");
		uint64_t numel = 1;
		if (!json_is_array(shape) || json_array_size(shape) > TRMX_MAX_DIMS || !json_is_string(dt)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s: tensor '%.100s' has no valid shape and dtype",
					    p->path, PKG_WEIGHTS, key);
			goto done;
		}
		for (size_t i = 0; i < json_array_size(shape); i++) {
			json_t *d = json_array_get(shape, i);
			if (!json_is_integer(d) || json_integer_value(d) < 0 ||
			    __builtin_mul_overflow(numel, (uint64_t)json_integer_value(d), &numel)) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s: tensor '%.100s' has a bad shape",
						    p->path, PKG_WEIGHTS, key);
				goto done;
			}
		}
		uint64_t *acc = is_buffer(key) ? &buffers : &params;
		if (__builtin_add_overflow(*acc, numel, acc) || *acc > (uint64_t)INT64_MAX) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s: element counts overflow", p->path,
					    PKG_WEIGHTS);
			goto done;
		}
		sum.tensors++;
		const char *dn = json_string_value(dt);
		size_t dl = strlen(sum.dtypes);
		bool listed = false;
		for (const char *q = sum.dtypes; *q;) {
			size_t k = strcspn(q, ",");
			if (k == strlen(dn) && !strncmp(q, dn, k))
				listed = true;
			q += k + (q[k] == ',');
		}
		if (!listed && dl + strlen(dn) + 2 < sizeof sum.dtypes && strlen(dn) <= 8)
			snprintf(sum.dtypes + dl, sizeof sum.dtypes - dl, "%s%s", dl ? "," : "", dn);
	}
	sum.params = (int64_t)params;
	sum.buffer_elements = (int64_t)buffers;
	*out = sum;
done:
	json_decref(root);
	free(hdr);
	trmx__pkg_stream_free(s);
	return rc;
}
