/*
 * testutil.h — shared helpers for the cmocka tests: temporary directories, whole-file reads and
 * writes, a snapshot of a directory tree to assert that nothing changed on disk, and an
 * assertion on a trmx error code and message.
 *
 * testutil.c itself does not call cmocka (the benchmarks link it without cmocka); the assertion
 * macros below do, so include <cmocka.h> (after its prerequisites) before using them.
 */
#ifndef TRMX_TEST_TESTUTIL_H
#define TRMX_TEST_TESTUTIL_H

#include <stddef.h>
#include <string.h>

/* Make a fresh directory under $TMPDIR (default /tmp); malloc'd path, NULL on failure. */
char *tu_tmpdir(void);
/* Remove `path` and everything below it (symlinks are removed, not followed). NULL is a no-op. */
void tu_rmtree(const char *path);
/* "dir/name", malloc'd (aborts on out of memory: tests only). */
char *tu_path(const char *dir, const char *name);
/* `rel`, a path from the repository's root, as seen from the current folder (tests run from the
 * root or one folder below it): `rel` when it exists, else "../rel". In a static buffer that the
 * next call overwrites. */
const char *tu_repo_path(const char *rel);

/* Write `len` bytes to `path` (created or truncated, mode 0644); 0 or -1. */
int tu_write_file(const char *path, const void *data, size_t len);
/* Write a NUL-terminated string to `path`; 0 or -1. */
int tu_write_text(const char *path, const char *text);
/* The whole file, malloc'd with one extra NUL byte after it; length in *len; NULL on failure. */
void *tu_read_file(const char *path, size_t *len);

/* A snapshot of a tree: every entry's relative path, kind, mode, size and content (files) or
 * target (symlinks). */
typedef struct tu_snapshot tu_snapshot;
/* Take a snapshot of `dir`; NULL on failure. */
tu_snapshot *tu_snapshot_take(const char *dir);
/* 0 when equal; else 1 and the first difference written to why (may be NULL). */
int tu_snapshot_diff(const tu_snapshot *before, const tu_snapshot *after, char *why, size_t len);
void tu_snapshot_free(tu_snapshot *s);

/* Fail the test unless `dir` still matches the snapshot `before`. */
#define assert_tree_unchanged(before, dir)                                                      \
	do {                                                                                    \
		char tu_why_[512];                                                              \
		tu_snapshot *tu_now_ = tu_snapshot_take(dir);                                   \
		assert_non_null(tu_now_);                                                       \
		int tu_d_ = tu_snapshot_diff((before), tu_now_, tu_why_, sizeof tu_why_);       \
		tu_snapshot_free(tu_now_);                                                      \
		if (tu_d_)                                                                      \
			fail_msg("%s changed on disk: %s", (dir), tu_why_);                     \
	} while (0)

/* Fail unless a call returned `want`, `err` holds the same code, and its message contains
 * `substr`; the message is printed on failure. */
#define assert_trmx_error(rc, err, want, substr)                                                \
	do {                                                                                    \
		int tu_rc_ = (rc);                                                              \
		if (tu_rc_ != (want) || (err).code != (want) || !strstr((err).message, (substr))) \
			fail_msg("expected %s (%d) with \"%s\", got rc %d, err.code %d: \"%s\"",   \
				 #want, (int)(want), (substr), tu_rc_, (err).code, (err).message); \
	} while (0)

/* Fail unless a call returned 0; print the error message otherwise. */
#define assert_trmx_ok(rc, err)                                                                 \
	do {                                                                                    \
		int tu_rc_ = (rc);                                                              \
		if (tu_rc_ != 0)                                                                \
			fail_msg("expected success, got %d: %s", tu_rc_, (err).message);        \
	} while (0)

#endif
