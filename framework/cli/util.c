/*
 * util.c — the small helpers the commands share (cli.h): reading a file or standard input, the
 * plugin folder, opening the registry, integer options, token-id arrays in and out of .npy.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"

const char *cli_plugin_dir(const char *opt)
{
	static char beside[PATH_MAX];
	if (opt && *opt)
		return opt;
	const char *env = getenv("TRMX_PLUGINS");
	if (env && *env)
		return env;
	/* plugins/ beside the binary is the build tree (build/trmx, build/plugins); ../lib/trmx/plugins
	 * is where `make install` puts them (PREFIX/bin/trmx, PREFIX/lib/trmx/plugins). */
	static const char *const rel[] = { "plugins", "../lib/trmx/plugins" };
	ssize_t n = readlink("/proc/self/exe", beside, sizeof beside - 32);
	if (n <= 0)
		return NULL;
	beside[n] = 0;
	char *slash = strrchr(beside, '/');
	if (!slash)
		return NULL;
	for (size_t i = 0; i < sizeof rel / sizeof *rel; i++) {
		strcpy(slash + 1, rel[i]);
		struct stat st;
		if (stat(beside, &st) == 0 && S_ISDIR(st.st_mode))
			return beside;
	}
	return NULL;
}

/* All of `f` (named `name` in messages), at most TRMX_TASK_TEXT_MAX bytes. */
static char *read_all(FILE *f, const char *name, size_t *len)
{
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	while (buf) {
		if (n == cap) {
			if (cap >= TRMX_TASK_TEXT_MAX) {
				cli_failf("%s: more than %u bytes (TRMX_TASK_TEXT_MAX)", name, TRMX_TASK_TEXT_MAX);
				free(buf);
				return NULL;
			}
			char *p = realloc(buf, cap * 2 + 1);
			if (!p) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = p;
			cap *= 2;
		}
		size_t got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				cli_failf("cannot read %s", name);
				free(buf);
				return NULL;
			}
			break;
		}
	}
	if (!buf) {
		cli_failf("out of memory");
		return NULL;
	}
	buf[n] = 0;
	*len = n;
	return buf;
}

char *cli_read_file(const char *path, size_t *len)
{
	if (!strcmp(path, "-"))
		return read_all(stdin, "standard input", len);
	struct stat st;
	FILE *f = NULL;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		cli_failf("%s is a folder, not a file", path);
		return NULL;
	}
	if (!(f = fopen(path, "rb"))) {
		cli_failf("cannot open %s: %s", path, strerror(errno));
		return NULL;
	}
	char *text = read_all(f, path, len);
	fclose(f);
	return text;
}

char *cli_read_text(const char *arg, size_t *len)
{
	if (!strcmp(arg, "-"))
		return read_all(stdin, "standard input", len);
	if (arg[0] == '@')
		return cli_read_file(arg + 1, len);
	/* text is text: a puzzle that happens to name a file is never read from it (it could be the
	 * home's secret, then logged as the run's input); a hint says how to give a file */
	struct stat st;
	if (stat(arg, &st) == 0 && S_ISREG(st.st_mode))
		fprintf(stderr, "trmx: note: '%s' is read as puzzle text; to read the file, write @%s\n", arg, arg);
	*len = strlen(arg);
	char *s = strdup(arg);
	if (!s)
		cli_failf("out of memory");
	return s;
}

static trmx_registry *registry_open(const char *home_opt, bool read_only)
{
	trmx_error err = { 0, "" };
	char *home = NULL;
	trmx_registry *r = NULL;
	trmx_registry_options o = TRMX_REGISTRY_OPTIONS_INIT;
	o.read_only = read_only;
	if (trmx_home_resolve(home_opt, &home, &err) < 0 || trmx_registry_open(&r, home, &o, &err) < 0)
		cli_fail(&err);
	free(home);
	return r;
}

trmx_registry *cli_registry_open(const char *home_opt)
{
	return registry_open(home_opt, false);
}

trmx_registry *cli_registry_read(const char *home_opt)
{
	return registry_open(home_opt, true);
}

bool cli_is_help(const char *arg)
{
	return !strcmp(arg, "-h") || !strcmp(arg, "--help");
}

bool cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (!*s || *end || v < lo || v > hi) {
		cli_usage_error(cmd, "%s wants an integer in [%ld, %ld], not '%s'", opt, lo, hi, s);
		return false;
	}
	*out = v;
	return true;
}

bool cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (!*s || *end || !(v >= lo && v <= hi)) { /* NaN fails the range */
		cli_usage_error(cmd, "%s wants a number in [%g, %g], not '%s'", opt, lo, hi, s);
		return false;
	}
	*out = v;
	return true;
}

/* Read an int32/int64 .npy of `ndim` dims (1-D accepted as one row when want_ndim is 2). */
int cli_read_ids(const char *path, int want_ndim, trmx_array **out)
{
	trmx_array *a = NULL;
	trmx_error err;
	if (trmx_array_read_npy(&a, path, &err) < 0) {
		cli_fail(&err);
		return -1;
	}
	if (a->dtype == TRMX_DTYPE_I64) {
		int64_t n = trmx_array_numel(a);
		int32_t *d = (int32_t *)a->data;
		const int64_t *s = (const int64_t *)a->data;
		for (int64_t i = 0; i < n; i++) {
			if (s[i] < INT32_MIN || s[i] > INT32_MAX) {
				trmx_array_free(a);
				cli_failf("%s: value %lld at index %lld does not fit in int32", path, (long long)s[i],
					  (long long)i);
				return -1;
			}
			d[i] = (int32_t)s[i];
		}
		a->dtype = TRMX_DTYPE_I32;
		a->nbytes = (size_t)n * 4;
	} else if (a->dtype != TRMX_DTYPE_I32) {
		trmx_array_free(a);
		cli_failf("%s: dtype %s; token ids must be int32 or int64", path, trmx_dtype_name(a->dtype));
		return -1;
	}
	if (want_ndim == 2 && a->ndim == 1) {
		a->ndim = 2;
		a->shape[1] = a->shape[0];
		a->shape[0] = 1;
	}
	if (a->ndim != want_ndim) {
		cli_failf("%s: %d dimensions; expected %d", path, a->ndim, want_ndim);
		trmx_array_free(a);
		return -1;
	}
	*out = a;
	return 0;
}

int cli_write_npy(const char *dir, const char *name, trmx_dtype dt, int ndim, const int64_t *shape,
		     void *data, size_t nbytes)
{
	char path[4096];
	trmx_error err;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	trmx_array a = { .dtype = dt, .ndim = ndim, .data = data, .nbytes = nbytes };
	memcpy(a.shape, shape, (size_t)ndim * sizeof *shape);
	if (trmx_array_write_npy(&a, path, &err) < 0)
		return cli_fail(&err);
	return 0;
}
