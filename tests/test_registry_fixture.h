/*
 * test_registry_fixture.h — modules for the registry, host and install tests: the project's
 * fixture module (tests/fixtures/module-sudoku4-tiny, a 4x4 Sudoku TRM) copied into a scratch
 * folder with another version, another schema.sql, migrations or manifest edits, and packed.
 * Also a dump of a home (its tree and every database, row by row) to compare before and after.
 * Include after cmocka.h and testutil.h.
 */
#ifndef TRMX_TEST_REGISTRY_FIXTURE_H
#define TRMX_TEST_REGISTRY_FIXTURE_H

#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "helpers/testutil.h"
#include "log/log_int.h"
#include "trmx/host.h"
#include "trmx/trmx.h"

/* Remove a scratch tree holding a home: the store's folders are read-only (tu_rmtree, run by a
 * user other than root, could not empty them). */
static inline void fx_rmtree(const char *path)
{
	if (path)
		trmx_rmtree(path);
}

static inline const char *fx_source(void)
{
	return tu_repo_path("tests/fixtures/module-sudoku4-tiny");
}

/* s with every `from` replaced by `to` (malloc'd). */
static inline char *fx_replace(const char *s, const char *from, const char *to)
{
	size_t n = strlen(s), fl = strlen(from), tl = strlen(to), hits = 0;
	for (const char *p = strstr(s, from); p; p = strstr(p + fl, from))
		hits++;
	char *out = malloc(n + hits * (tl > fl ? tl - fl : 0) + 1), *o = out;
	for (const char *p = s;;) {
		const char *q = strstr(p, from);
		if (!q) {
			strcpy(o, p);
			break;
		}
		memcpy(o, p, (size_t)(q - p));
		o += q - p;
		memcpy(o, to, tl);
		o += tl;
		p = q + fl;
	}
	return out;
}

static inline void fx_copy(const char *from, const char *to)
{
	size_t len = 0;
	void *data = tu_read_file(from, &len);
	assert_non_null(data);
	assert_int_equal(tu_write_file(to, data, len), 0);
	free(data);
}

struct fx_module {
	const char *version;        /* "0.1.0" when NULL */
	const char *name;           /* the package name; "sudoku4-tiny" when NULL */
	const char *schema;         /* schema.sql text; the fixture's when NULL */
	const char *migrations[4];  /* migrations/0001.sql, 0002.sql, ... texts (NULL ends) */
	const char *metric_from;    /* a manifest edit: replace this text ... */
	const char *metric_to;      /* ... with this */
};

/* Make the module folder dir/<tag> and pack it into dir/<tag>.trmx; the package path, malloc'd. */
static inline char *fx_package(const char *dir, const char *tag, const struct fx_module *m)
{
	const char *src = fx_source();
	char *mdir = tu_path(dir, tag), path[4096], spath[4096];
	mkdir(mdir, 0755);
	snprintf(path, sizeof path, "%s/examples", mdir);
	mkdir(path, 0755);
	static const char *const files[] = { "weights.safetensors", "README.md", "examples/001.txt", "examples/001.out.txt",
					     "examples/002.csv" };
	for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
		snprintf(spath, sizeof spath, "%s/%s", src, files[i]);
		snprintf(path, sizeof path, "%s/%s", mdir, files[i]);
		fx_copy(spath, path);
	}
	snprintf(spath, sizeof spath, "%s/manifest.yaml", src);
	char *text = tu_read_file(spath, NULL), *t1, *t2;
	assert_non_null(text);
	char vline[160], nline[160];
	snprintf(vline, sizeof vline, "version: %s\n", m && m->version ? m->version : "0.1.0");
	snprintf(nline, sizeof nline, "name: %s\n", m && m->name ? m->name : "sudoku4-tiny");
	t1 = fx_replace(text, "version: 0.1.0\n", vline);
	t2 = fx_replace(t1, "name: sudoku4-tiny\n", nline);
	free(t1);
	if (m && m->metric_from) {
		t1 = fx_replace(t2, m->metric_from, m->metric_to);
		free(t2);
		t2 = t1;
	}
	snprintf(path, sizeof path, "%s/manifest.yaml", mdir);
	assert_int_equal(tu_write_text(path, t2), 0);
	free(t2);
	free(text);
	snprintf(path, sizeof path, "%s/schema.sql", mdir);
	if (m && m->schema) {
		assert_int_equal(tu_write_text(path, m->schema), 0);
	} else {
		snprintf(spath, sizeof spath, "%s/schema.sql", src);
		fx_copy(spath, path);
	}
	if (m && m->migrations[0]) {
		snprintf(path, sizeof path, "%s/migrations", mdir);
		mkdir(path, 0755);
		for (int i = 0; i < 4 && m->migrations[i]; i++) {
			snprintf(path, sizeof path, "%s/migrations/%04d.sql", mdir, i + 1);
			assert_int_equal(tu_write_text(path, m->migrations[i]), 0);
		}
	}
	char *out = malloc(strlen(mdir) + 8);
	sprintf(out, "%s.trmx", mdir);
	trmx_error err = { 0 };
	trmx_pack_options po = TRMX_PACK_OPTIONS_INIT;
	po.skip_contents = true; /* install checks them; a hostile schema is not pack's business */
	int rc = trmx_package_pack(mdir, out, &po, NULL, &err);
	if (rc < 0)
		fail_msg("pack %s: %s", mdir, err.message);
	free(mdir);
	return out;
}

/* ---- Dumps ----------------------------------------------------------------------------------- */

struct fx_buf {
	char *s;
	size_t n, cap;
};

static inline void fx_put(struct fx_buf *b, const char *s)
{
	size_t l = strlen(s);
	if (b->n + l + 1 > b->cap) {
		b->cap = (b->n + l + 1) * 2;
		b->s = realloc(b->s, b->cap);
	}
	memcpy(b->s + b->n, s, l + 1);
	b->n += l;
}

/* Every table of the database at `path`, schema and rows, as text ("" when there is no file). */
static inline void fx_dump_db(const char *path, struct fx_buf *b)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return;
	sqlite3 *db = NULL;
	sqlite3_stmt *st1 = NULL, *st2 = NULL;
	char line[8192];
	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
		fx_put(b, "(unreadable)\n");
		sqlite3_close(db);
		return;
	}
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st1, NULL) == SQLITE_OK && sqlite3_step(st1) == SQLITE_ROW) {
		snprintf(line, sizeof line, "user_version %d\n", sqlite3_column_int(st1, 0));
		fx_put(b, line);
	}
	sqlite3_finalize(st1);
	sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_master ORDER BY type, name", -1, &st1, NULL);
	while (st1 && sqlite3_step(st1) == SQLITE_ROW) {
		const char *type = (const char *)sqlite3_column_text(st1, 0), *name = (const char *)sqlite3_column_text(st1, 1);
		const char *sql = (const char *)sqlite3_column_text(st1, 2);
		snprintf(line, sizeof line, "%s %s: %s\n", type, name, sql ? sql : "");
		fx_put(b, line);
		if (strcmp(type, "table"))
			continue;
		char q[512];
		snprintf(q, sizeof q, "SELECT * FROM \"%s\"", name);
		if (sqlite3_prepare_v2(db, q, -1, &st2, NULL) != SQLITE_OK)
			continue;
		while (sqlite3_step(st2) == SQLITE_ROW) {
			fx_put(b, "  ");
			for (int c = 0; c < sqlite3_column_count(st2); c++) {
				const unsigned char *v = sqlite3_column_text(st2, c);
				fx_put(b, v ? (const char *)v : "NULL");
				fx_put(b, "|");
			}
			fx_put(b, "\n");
		}
		sqlite3_finalize(st2);
	}
	sqlite3_finalize(st1);
	sqlite3_close(db);
}

static inline bool fx_is_db_file(const char *name)
{
	size_t n = strlen(name);
	return (n > 3 && !strcmp(name + n - 3, ".db")) || strstr(name, ".db-") != NULL;
}

/* The tree of `dir` (names, kinds, modes, sizes, bytes of files but databases) and every database
 * in it dumped, into one text (malloc'd). */
static inline void fx_dump_tree(const char *dir, const char *rel, struct fx_buf *b)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent **names = NULL;
	int n = scandir(dir, &names, NULL, alphasort);
	closedir(d);
	for (int i = 0; i < n; i++) {
		const char *nm = names[i]->d_name;
		if (!strcmp(nm, ".") || !strcmp(nm, "..")) {
			free(names[i]);
			continue;
		}
		char path[4096], r[4096], line[4400];
		snprintf(path, sizeof path, "%s/%s", dir, nm);
		snprintf(r, sizeof r, "%s%s%s", rel, *rel ? "/" : "", nm);
		struct stat st;
		lstat(path, &st);
		if (S_ISDIR(st.st_mode)) {
			snprintf(line, sizeof line, "dir %s %o\n", r, st.st_mode & 07777);
			fx_put(b, line);
			fx_dump_tree(path, r, b);
		} else if (fx_is_db_file(nm)) {
			size_t l = strlen(nm);
			if (l > 3 && !strcmp(nm + l - 3, ".db")) { /* -wal, -shm, -journal: SQLite's own */
				snprintf(line, sizeof line, "db %s\n", r);
				fx_put(b, line);
				fx_dump_db(path, b);
			}
		} else {
			size_t len = 0;
			unsigned char *data = tu_read_file(path, &len);
			unsigned long h = 5381;
			for (size_t k = 0; data && k < len; k++)
				h = h * 33 + data[k];
			free(data);
			snprintf(line, sizeof line, "file %s %o %zu %lx\n", r, st.st_mode & 07777, len, h);
			fx_put(b, line);
		}
		free(names[i]);
	}
	free(names);
}

static inline char *fx_dump_home(const char *home)
{
	struct fx_buf b = { NULL, 0, 0 };
	fx_put(&b, "");
	fx_dump_tree(home, "", &b);
	return b.s;
}

/* Fail with the first differing line unless the dumps are equal. */
static inline void fx_assert_same(const char *before, const char *after, const char *what)
{
	if (!strcmp(before, after))
		return;
	const char *a = before, *b = after;
	while (*a && *a == *b)
		a++, b++;
	while (a > before && a[-1] != '\n')
		a--, b--;
	fail_msg("%s: the home changed; before: \"%.200s\" after: \"%.200s\"", what, a, b);
}

#endif
