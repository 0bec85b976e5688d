/*
 * index_http.c — `trmx serve --index DIR`: the module index in DIR served read-only at /index/
 * (docs/FORMAT.md, "Module indexes"), so that one trmx can be the module source of others.
 *
 * GET /index/<path> sends the regular file DIR/<path> from its descriptor (the server sends
 * it with MHD_create_response_from_fd_at_offset64; nothing is read into memory), with one
 * byte range when the request asks for one (206, so that a download resumes; 416 for a range
 * past the end). Each component of <path> is opened below a descriptor of DIR with
 * O_NOFOLLOW: "..", ".", empty components, a leading "/", a backslash, control characters and
 * every symbolic link are refused, so nothing outside DIR is ever reached, whatever DIR holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "serve/api.h"

/* Bytes of a path below /index/ and components in it. */
#define INDEX_PATH_MAX 512
#define INDEX_DEPTH_MAX 8

/* Open DIR/<rel> for reading, component by component; -1 with errno (ENOENT for a refused
 * name: a name we refuse is a file we do not have). */
static int open_below(const char *dir, const char *rel)
{
	char buf[INDEX_PATH_MAX + 1];
	size_t n = strlen(rel);
	if (n == 0 || n > INDEX_PATH_MAX || rel[0] == '/') {
		errno = ENOENT;
		return -1;
	}
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)rel[i] < 0x20 || rel[i] == 0x7f || rel[i] == '\\') {
			errno = ENOENT;
			return -1;
		}
	memcpy(buf, rel, n + 1);
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	char *save = NULL, *part = strtok_r(buf, "/", &save);
	int depth = 0;
	/* strtok_r folds "a//b" into a/b: check the text itself for empty components */
	if (strstr(rel, "//") || rel[n - 1] == '/') {
		close(fd);
		errno = ENOENT;
		return -1;
	}
	while (part) {
		char *next = strtok_r(NULL, "/", &save);
		if (!strcmp(part, ".") || !strcmp(part, "..") || ++depth > INDEX_DEPTH_MAX) {
			close(fd);
			errno = ENOENT;
			return -1;
		}
		int nfd = openat(fd, part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | (next ? O_DIRECTORY : O_NONBLOCK));
		int e = errno;
		close(fd);
		if (nfd < 0) {
			errno = e == ELOOP || e == ENOTDIR ? ENOENT : e; /* a link or a file in the way */
			return -1;
		}
		fd = nfd;
		part = next;
	}
	return fd;
}

/* Parse "bytes=A-B", "bytes=A-" or "bytes=-N" against `size`: 1 with [*from, *to] inclusive,
 * 0 to ignore the header (malformed or several ranges: the whole file, as RFC 9110 allows),
 * -1 for a range that cannot be satisfied (416). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
	if (strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	const char *s = h + 6, *dash = strchr(s, '-');
	if (!dash)
		return 0;
	char *end;
	if (dash == s) { /* the last N bytes */
		if (dash[1] < '0' || dash[1] > '9')
			return 0;
		errno = 0;
		unsigned long long k = strtoull(dash + 1, &end, 10);
		if (*end || errno)
			return 0;
		if (k == 0 || size == 0)
			return -1;
		*from = k >= size ? 0 : size - k;
		*to = size - 1;
		return 1;
	}
	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	unsigned long long a = strtoull(s, &end, 10);
	if (end != dash || errno)
		return 0;
	unsigned long long b = size ? size - 1 : 0;
	if (dash[1]) {
		if (dash[1] < '0' || dash[1] > '9')
			return 0;
		b = strtoull(dash + 1, &end, 10);
		if (*end || errno || b < a)
			return 0;
		if (b >= size)
			b = size - 1;
	}
	if (a >= size)
		return -1;
	*from = a;
	*to = b;
	return 1;
}

static const char *type_of(const char *path)
{
	size_t n = strlen(path);
	if (n >= 5 && !strcmp(path + n - 5, ".json"))
		return "application/json";
	if (n >= 4 && (!strcmp(path + n - 4, ".sig") || !strcmp(path + n - 4, ".pub")))
		return "text/plain; charset=utf-8";
	return "application/octet-stream";
}

int trmx__index_handle(struct serve_call *call)
{
	const char *dir = call->s->opts.index_dir;
	static const char prefix[] = "/index/";
	if (!dir) {
		snprintf(call->why, sizeof call->why, "no module index is served here (trmx serve --index DIR)");
		return 404;
	}
	const char *rel = call->url + sizeof prefix - 1;
	int fd = open_below(dir, rel);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		if (fd >= 0 || e == ENOENT || e == ENOTDIR || e == EISDIR || e == EACCES) {
			snprintf(call->why, sizeof call->why, "/index/%.200s: no such file in the index", rel);
			return 404;
		}
		snprintf(call->why, sizeof call->why, "/index/%.200s: %s", rel, strerror(e));
		return 500;
	}
	uint64_t size = (uint64_t)st.st_size, from = 0, to = size ? size - 1 : 0;
	const char *range = trmx__serve_header(call, "Range");
	int r = range ? parse_range(range, size, &from, &to) : 0;
	if (r < 0) {
		close(fd);
		snprintf(call->content_range, sizeof call->content_range, "bytes */%" PRIu64, size);
		call->page = strdup("range not satisfiable\n");
		call->page_len = call->page ? strlen(call->page) : 0;
		call->page_type = "text/plain; charset=utf-8";
		return 416;
	}
	call->file = true;
	call->file_fd = fd;
	call->file_offset = from;
	call->file_len = size ? to - from + 1 : 0;
	call->page_type = type_of(rel);
	/* Packages are named by their digest and never change; index.json does. */
	call->cache = !strncmp(rel, "packages/", 9);
	if (r > 0) {
		snprintf(call->content_range, sizeof call->content_range, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, from, to,
			 size);
		return 206;
	}
	return 200;
}
