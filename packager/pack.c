/*
 * pack.c — `trmx pack`: a module folder into NAME-VERSION.trmx.
 *
 * What is taken: every regular file below the folder, except hidden files and folders (a name
 * starting with '.'), and at the top level manifest.yaml (written first, with files: added),
 * manifest.sig (sign adds it) and *.trmx (earlier packages). Symbolic links and other special
 * files are refused. The manifest's files: block is appended to the author's manifest text, so
 * the author's comments, order and x-* keys stay as written. Files are hashed, the contents are
 * checked (trmx_package_check_contents), then each file is hashed again while it is copied into
 * the archive: a file that changed meanwhile fails the pack.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg_int.h"

struct src_file {
	char *name;
	uint64_t size;
	char sha256[TRMX_SHA256_HEX_SIZE];
};

struct walk {
	const char *root;
	struct src_file *files;
	size_t n, cap;
	uint64_t total;
	trmx_error *err;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t a = strlen(s), b = strlen(suffix);
	return a >= b && !strcmp(s + a - b, suffix);
}

static int walk_dir(struct walk *w, int dfd, const char *rel, int depth)
{
	DIR *dh;
	struct dirent *e;
	int rc = 0;
	int fd2 = dup(dfd);
	if (fd2 < 0 || !(dh = fdopendir(fd2))) {
		if (fd2 >= 0)
			close(fd2);
		return trmx_error_set(w->err, TRMX_EIO, "%s/%s: cannot list: %s", w->root, rel, strerror(errno));
	}
	while ((e = readdir(dh))) {
		const char *nm = e->d_name;
		char name[TRMX_PACKAGE_PATH_MAX + 2];
		struct stat st;
		if (nm[0] == '.')
			continue; /* hidden files and folders, ".", ".." */
		if (depth == 0 && (!strcmp(nm, PKG_MANIFEST) || !strcmp(nm, PKG_SIGNATURE) ||
				   ends_with(nm, ".trmx") || strstr(nm, ".trmx.tmp")))
			continue;
		if (strlen(rel) + strlen(nm) + 1 > TRMX_PACKAGE_PATH_MAX) {
			rc = trmx_error_set(w->err, TRMX_ELIMIT, "%s/%s/%s: a path longer than "
					    "TRMX_PACKAGE_PATH_MAX (%d)", w->root, rel, nm, TRMX_PACKAGE_PATH_MAX);
			break;
		}
		snprintf(name, sizeof name, "%s%s%s", rel, *rel ? "/" : "", nm);
		if (fstatat(dfd, nm, &st, AT_SYMLINK_NOFOLLOW) != 0) {
			rc = trmx_error_set(w->err, TRMX_EIO, "%s/%s: %s", w->root, name, strerror(errno));
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			if (depth + 2 > TRMX_PACKAGE_DEPTH_MAX) {
				rc = trmx_error_set(w->err, TRMX_ELIMIT, "%s/%s: folders nested deeper than "
						    "TRMX_PACKAGE_DEPTH_MAX (%d)", w->root, name,
						    TRMX_PACKAGE_DEPTH_MAX);
				break;
			}
			int sub = openat(dfd, nm, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (sub < 0) {
				rc = trmx_error_set(w->err, TRMX_EIO, "%s/%s: %s", w->root, name, strerror(errno));
				break;
			}
			rc = walk_dir(w, sub, name, depth + 1);
			close(sub);
			if (rc < 0)
				break;
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = trmx_error_set(w->err, TRMX_EFORMAT, "%s/%s is %s; packages hold regular files only",
					    w->root, name, S_ISLNK(st.st_mode) ? "a symbolic link" : "a special file");
			break;
		}
		trmx_error e2 = { 0 };
		if ((rc = trmx_package_name_check(name, strlen(name), &e2)) < 0) {
			trmx_error_set(w->err, rc, "%s/%s: %s", w->root, name, e2.message);
			break;
		}
		if (w->n + 2 >= TRMX_PACKAGE_ENTRIES_MAX) {
			rc = trmx_error_set(w->err, TRMX_ELIMIT, "%s: more than TRMX_PACKAGE_ENTRIES_MAX (%d) "
					    "members", w->root, TRMX_PACKAGE_ENTRIES_MAX);
			break;
		}
		if ((uint64_t)st.st_size > TRMX_PACKAGE_UNPACKED_MAX - w->total) {
			rc = trmx_error_set(w->err, TRMX_ELIMIT, "%s: more than TRMX_PACKAGE_UNPACKED_MAX (%llu "
					    "bytes) of files", w->root, TRMX_PACKAGE_UNPACKED_MAX);
			break;
		}
		w->total += (uint64_t)st.st_size;
		if (w->n == w->cap) {
			size_t cap = w->cap ? w->cap * 2 : 32;
			struct src_file *f = trmx_xrealloc(w->files, cap * sizeof *f);
			if (!f) {
				rc = trmx_error_set(w->err, TRMX_ENOMEM, "out of memory");
				break;
			}
			w->files = f;
			w->cap = cap;
		}
		memset(&w->files[w->n], 0, sizeof w->files[w->n]);
		if (!(w->files[w->n].name = trmx_xstrdup(name))) {
			rc = trmx_error_set(w->err, TRMX_ENOMEM, "out of memory");
			break;
		}
		w->n++;
	}
	closedir(dh);
	return rc;
}

static int cmp_files(const void *a, const void *b)
{
	return strcmp(((const struct src_file *)a)->name, ((const struct src_file *)b)->name);
}

/* Open `name` below `dirfd` without following links anywhere on the way. */
static int open_member(int dirfd, const char *name)
{
	int fd = dup(dirfd);
	const char *p = name, *slash;
	while (fd >= 0 && (slash = strchr(p, '/'))) {
		char comp[TRMX_PACKAGE_PATH_MAX + 1];
		memcpy(comp, p, (size_t)(slash - p));
		comp[slash - p] = '\0';
		int next = openat(fd, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(fd);
		fd = next;
		p = slash + 1;
	}
	if (fd < 0)
		return -1;
	int f = openat(fd, p, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	close(fd);
	return f;
}

/* Hash a file (and copy it into `w` when not NULL); its size must stay `size` when known. */
static int hash_file(int dirfd, const char *root, struct src_file *f, struct pkg_writer *w,
		     unsigned char *buf, trmx_error *err)
{
	pkg_sha256 h;
	uint64_t total = 0;
	int rc = 0;
	int fd = open_member(dirfd, f->name);
	if (fd < 0)
		return trmx_error_set(err, TRMX_EIO, "%s/%s: cannot open: %s", root, f->name, strerror(errno));
	trmx__pkg_sha256_init(&h);
	for (;;) {
		ssize_t n = read(fd, buf, PKG_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = trmx_error_set(err, TRMX_EIO, "%s/%s: cannot read: %s", root, f->name, strerror(errno));
			goto done;
		}
		if (n == 0)
			break;
		total += (uint64_t)n;
		if (w && total > f->size) {
			rc = trmx_error_set(err, TRMX_EIO, "%s/%s: changed while packing", root, f->name);
			goto done;
		}
		trmx__pkg_sha256_update(&h, buf, (size_t)n);
		if (w && (rc = trmx__pkg_writer_data(w, buf, (size_t)n, err)) < 0)
			goto done;
	}
	char hex[TRMX_SHA256_HEX_SIZE];
	trmx__pkg_sha256_final_hex(&h, hex);
	if (w) {
		if (total != f->size || strcmp(hex, f->sha256))
			rc = trmx_error_set(err, TRMX_EIO, "%s/%s: changed while packing", root, f->name);
	} else {
		if (total > TRMX_PACKAGE_UNPACKED_MAX) {
			rc = trmx_error_set(err, TRMX_ELIMIT, "%s/%s: too large", root, f->name);
			goto done;
		}
		f->size = total;
		memcpy(f->sha256, hex, sizeof hex);
	}
done:
	close(fd);
	return rc;
}

/* Append a YAML double-quoted string. */
static size_t quote(char *out, const char *s)
{
	size_t k = 0;
	out[k++] = '"';
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			out[k++] = '\\';
		out[k++] = *s;
	}
	out[k++] = '"';
	out[k] = '\0';
	return k;
}

/* The author's manifest with the files: block appended. */
static int compose(const char *text, size_t len, const struct src_file *files, size_t n,
		   char **out, size_t *outlen, trmx_error *err)
{
	size_t cap = len + 16 + n * (2 * TRMX_PACKAGE_PATH_MAX + 160);
	char *buf = trmx_xmalloc(cap);
	size_t k = 0;
	if (!buf)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	memcpy(buf, text, len);
	k = len;
	if (k && buf[k - 1] != '\n')
		buf[k++] = '\n';
	k += (size_t)snprintf(buf + k, cap - k, "files:\n");
	for (size_t i = 0; i < n; i++) {
		k += (size_t)snprintf(buf + k, cap - k, "  - path: ");
		k += quote(buf + k, files[i].name);
		k += (size_t)snprintf(buf + k, cap - k, "\n    size: %llu\n    sha256: %s\n",
				      (unsigned long long)files[i].size, files[i].sha256);
	}
	*out = buf;
	*outlen = k;
	return 0;
}

static void first_problem(void *user, int code, const char *message)
{
	size_t *n = user;
	(*n)++;
}

int trmx_package_pack(const char *dir, const char *out, const trmx_pack_options *opts,
		      char **written, trmx_error *err)
{
	static const trmx_pack_options defaults = TRMX_PACK_OPTIONS_INIT;
	struct walk w = { dir, NULL, 0, 0, 0, err };
	trmx_manifest *src = NULL, *m = NULL;
	struct pkg_writer *wr = NULL;
	unsigned char *buf = NULL;
	char *mpath = NULL, *text = NULL, *full = NULL, *outpath = NULL, *source = NULL;
	size_t tlen = 0, flen = 0;
	int dfd = -1, rc;

	if (!dir)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_pack: NULL argument");
	if (!opts)
		opts = &defaults;
	if (!trmx_version_ok(opts->version, TRMX_PACK_OPTIONS_VERSION))
		return trmx_version_refused(err, "pack options", opts->version, TRMX_PACK_OPTIONS_VERSION);
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO, "%s: %s", dir,
				      strerror(errno));
	size_t n = strlen(dir) + sizeof "/" PKG_MANIFEST + 32;
	if (!(mpath = trmx_xmalloc(n)) || !(source = trmx_xmalloc(n)) || !(buf = trmx_xmalloc(PKG_BLOCK))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(mpath, n, "%s/%s", dir, PKG_MANIFEST);
	snprintf(source, n, "%s (with files:)", mpath);
	if ((rc = trmx_read_file(mpath, TRMX_MANIFEST_SIZE_MAX, "TRMX_MANIFEST_SIZE_MAX", 0, &text, &tlen,
				err)) < 0 ||
	    (rc = trmx_manifest_parse(&src, text, tlen, mpath, TRMX_MANIFEST_SOURCE, err)) < 0)
		goto done;

	/* The files, sorted by name (bytes), hashed. */
	if ((rc = walk_dir(&w, dfd, "", 0)) < 0)
		goto done;
	qsort(w.files, w.n, sizeof *w.files, cmp_files);
	for (size_t i = 0; i < w.n; i++)
		if ((rc = hash_file(dfd, dir, &w.files[i], NULL, buf, err)) < 0)
			goto done;

	/* The package manifest, read back as a package manifest. */
	if ((rc = compose(text, tlen, w.files, w.n, &full, &flen, err)) < 0)
		goto done;
	if ((rc = trmx_manifest_parse(&m, full, flen, source, TRMX_MANIFEST_PACKAGE, err)) < 0) {
		trmx_error_prefix(err, "cannot add files: to %s (is its top level a block mapping?)", mpath);
		goto done;
	}
	if (!opts->skip_contents) {
		size_t problems = 0;
		if ((rc = trmx_package_check_contents(m, dir, opts->version >= 2 ? opts->plugin_dir : NULL, first_problem,
						      &problems, NULL, err)) < 0) {
			if (problems > 1)
				trmx_error_prefix(err, "%zu problems; the first", problems);
			goto done;
		}
	}

	/* Where to. */
	char defname[2 * TRMX_MANIFEST_NAME_MAX + TRMX_MANIFEST_VERSION_MAX + 16];
	struct stat st;
	snprintf(defname, sizeof defname, "%s-%s.trmx", trmx_manifest_name(m), trmx_manifest_version(m));
	if (!out || (stat(out, &st) == 0 && S_ISDIR(st.st_mode))) {
		size_t k = (out ? strlen(out) : 1) + strlen(defname) + 2;
		if ((outpath = trmx_xmalloc(k)))
			snprintf(outpath, k, "%s%s%s", out ? out : ".", out && *out && out[strlen(out) - 1] == '/' ? "" : "/",
				 defname);
	} else {
		outpath = trmx_xstrdup(out);
	}
	if (!outpath) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}

	/* The archive: manifest first, then the files in order. */
	if ((rc = trmx__pkg_writer_open(&wr, outpath, err)) < 0 ||
	    (rc = trmx__pkg_writer_add(wr, PKG_MANIFEST, full, flen, false, err)) < 0)
		goto done;
	for (size_t i = 0; i < w.n; i++) {
		struct src_file *f = &w.files[i];
		if ((rc = trmx__pkg_writer_begin(wr, f->name, f->size, trmx__pkg_member_stored(f->name), err)) < 0 ||
		    (rc = hash_file(dfd, dir, f, wr, buf, err)) < 0)
			goto done;
	}
	if ((rc = trmx__pkg_writer_commit(wr, err)) < 0)
		goto done;
	if (written) {
		*written = outpath;
		outpath = NULL;
	}
done:
	trmx__pkg_writer_free(wr);
	for (size_t i = 0; i < w.n; i++)
		free(w.files[i].name);
	free(w.files);
	trmx_manifest_free(src);
	trmx_manifest_free(m);
	free(buf);
	free(mpath);
	free(source);
	free(text);
	free(full);
	free(outpath);
	if (dfd >= 0)
		close(dfd);
	return rc;
}
