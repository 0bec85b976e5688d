/*
 * testutil.c — temporary directories, file reads and writes, and directory snapshots for the
 * tests (see testutil.h). Plain POSIX; no cmocka calls, so benchmarks can link it too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "testutil.h"

/* mkdtemp under $TMPDIR or /tmp. */
char *tu_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *dir;
	if (!base || !*base)
		base = "/tmp";
	dir = tu_path(base, "trmx-test-XXXXXX");
	if (!mkdtemp(dir)) {
		free(dir);
		return NULL;
	}
	return dir;
}

/* Depth-first removal; lstat, so symlinks are unlinked, never followed. */
void tu_rmtree(const char *path)
{
	struct stat st;
	DIR *d;
	struct dirent *de;

	if (!path || lstat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		unlink(path);
		return;
	}
	if ((d = opendir(path))) {
		while ((de = readdir(d))) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			char *sub = tu_path(path, de->d_name);
			tu_rmtree(sub);
			free(sub);
		}
		closedir(d);
	}
	rmdir(path);
}

/* Join with '/'; aborts on out of memory (tests only). */
char *tu_path(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/%s", dir, name);
	return p;
}

const char *tu_repo_path(const char *rel)
{
	static char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s", rel);
	if (stat(path, &st) != 0)
		snprintf(path, sizeof path, "../%s", rel);
	return path;
}

/* Create or truncate, write all, close; 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len)
{
	const char *p = data;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -1;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			close(fd);
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return close(fd) == 0 ? 0 : -1;
}

/* tu_write_file of a C string. */
int tu_write_text(const char *path, const char *text)
{
	return tu_write_file(path, text, strlen(text));
}

/* Read to EOF into a growing buffer, NUL-terminated for convenience. */
void *tu_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0;
	if (!f)
		return NULL;
	for (;;) {
		if (n + 4096 + 1 > cap) {
			cap = cap ? cap * 2 : 8192;
			char *nb = realloc(buf, cap);
			if (!nb) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		size_t got = fread(buf + n, 1, cap - n - 1, f);
		n += got;
		if (got == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return NULL;
	}
	fclose(f);
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

/* ---- Snapshots ----------------------------------------------------------------------------- */

struct tu_entry {
	char *rel;        /* path relative to the snapshot's root */
	mode_t mode;      /* type and permission bits */
	size_t size;
	char *content;    /* file bytes or symlink target; NULL for directories */
};

struct tu_snapshot {
	struct tu_entry *e;
	size_t n, cap;
};

static int snap_add(tu_snapshot *s, struct tu_entry ent)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 32;
		struct tu_entry *ne = realloc(s->e, cap * sizeof *ne);
		if (!ne)
			return -1;
		s->e = ne;
		s->cap = cap;
	}
	s->e[s->n++] = ent;
	return 0;
}

static int snap_walk(tu_snapshot *s, const char *root, const char *rel)
{
	char *full = *rel ? tu_path(root, rel) : strdup(root);
	DIR *d = NULL;
	struct dirent *de;
	int rc = -1;

	if (!full || !(d = opendir(full)))
		goto done;
	while ((de = readdir(d))) {
		struct stat st;
		struct tu_entry ent = { 0 };
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		ent.rel = *rel ? tu_path(rel, de->d_name) : strdup(de->d_name);
		char *path = tu_path(root, ent.rel);
		if (lstat(path, &st) != 0) {
			free(path);
			free(ent.rel);
			goto done;
		}
		ent.mode = st.st_mode;
		if (S_ISREG(st.st_mode)) {
			ent.content = tu_read_file(path, &ent.size);
		} else if (S_ISLNK(st.st_mode)) {
			ent.content = calloc(1, (size_t)st.st_size + 1);
			if (ent.content)
				ent.size = (size_t)readlink(path, ent.content, (size_t)st.st_size);
		}
		free(path);
		if ((!S_ISDIR(st.st_mode) && !ent.content) || snap_add(s, ent) < 0) {
			free(ent.rel);
			free(ent.content);
			goto done;
		}
		if (S_ISDIR(st.st_mode) && snap_walk(s, root, s->e[s->n - 1].rel) < 0)
			goto done;
	}
	rc = 0;
done:
	if (d)
		closedir(d);
	free(full);
	return rc;
}

static int cmp_entries(const void *a, const void *b)
{
	return strcmp(((const struct tu_entry *)a)->rel, ((const struct tu_entry *)b)->rel);
}

/* Walk `dir`, then sort by relative path so two snapshots compare in one pass. */
tu_snapshot *tu_snapshot_take(const char *dir)
{
	tu_snapshot *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	if (snap_walk(s, dir, "") < 0) {
		tu_snapshot_free(s);
		return NULL;
	}
	if (s->n > 1)
		qsort(s->e, s->n, sizeof *s->e, cmp_entries);
	return s;
}

/* Merge-walk both sorted lists; report the first missing, new or changed entry. */
int tu_snapshot_diff(const tu_snapshot *a, const tu_snapshot *b, char *why, size_t len)
{
	char dummy[1];
	size_t i = 0, j = 0;
	if (!why) {
		why = dummy;
		len = sizeof dummy;
	}
	while (i < a->n || j < b->n) {
		int c = i == a->n ? 1 : j == b->n ? -1 : strcmp(a->e[i].rel, b->e[j].rel);
		if (c < 0) {
			snprintf(why, len, "'%s' was removed", a->e[i].rel);
			return 1;
		}
		if (c > 0) {
			snprintf(why, len, "'%s' appeared", b->e[j].rel);
			return 1;
		}
		const struct tu_entry *x = &a->e[i], *y = &b->e[j];
		if (x->mode != y->mode) {
			snprintf(why, len, "'%s' changed mode %o -> %o", x->rel, (unsigned)x->mode,
				 (unsigned)y->mode);
			return 1;
		}
		if (x->size != y->size || (x->content && memcmp(x->content, y->content, x->size))) {
			snprintf(why, len, "'%s' changed content (%zu -> %zu bytes)", x->rel, x->size,
				 y->size);
			return 1;
		}
		i++;
		j++;
	}
	return 0;
}

/* Free a snapshot; NULL is a no-op. */
void tu_snapshot_free(tu_snapshot *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->e[i].rel);
		free(s->e[i].content);
	}
	free(s->e);
	free(s);
}
