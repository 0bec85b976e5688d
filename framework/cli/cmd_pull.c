/*
 * cmd_pull.c — `trmx pull NAME[@VERSION]`: find a package in the home's module indexes and
 * download it into HOME/cache, checked (trmx_index_pull); also the helpers that search,
 * install, outdated and upgrade share: a progress bar, loading every index, pulling by name.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/index.h"

/* ---- Progress on stderr ------------------------------------------------------------------ */

struct progress {
	bool tty, quiet, drawn, finished;
	int last_step;      /* plain lines: the last quarter printed */
	double last_draw;
};

static double now_s(void)
{
	struct timeval tv;
	gettimeofday(&tv, NULL);
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

static void on_progress(void *user, const char *what, uint64_t done, uint64_t total)
{
	struct progress *p = user;
	if (p->quiet || total == 0)
		return;
	int pct = (int)(done * 100 / total);
	if (p->tty) { /* a bar redrawn in place, at most ten times a second */
		double t = now_s();
		if (done < total && t - p->last_draw < 0.1)
			return;
		if (done >= total && p->finished) /* libcurl calls again after the last byte */
			return;
		p->finished = done >= total;
		p->last_draw = t;
		int w = 30, fill = (int)(done * (uint64_t)w / total);
		fprintf(stderr, "\r%s [%.*s%*s] %3d%% %.1f of %.1f MB", what, fill, "##############################", w - fill, "",
			pct, done / 1e6, total / 1e6);
		p->drawn = true;
		if (done >= total) {
			fputc('\n', stderr);
			p->drawn = false;
		}
	} else { /* a log: one line a quarter */
		int step = pct / 25;
		if (step > p->last_step) {
			p->last_step = step;
			fprintf(stderr, "trmx: pull: %s: %llu of %llu bytes (%d%%)\n", what, (unsigned long long)done,
				(unsigned long long)total, pct);
		}
	}
}

static void progress_end(struct progress *p)
{
	if (p->drawn)
		fputc('\n', stderr);
	p->drawn = false;
}

/* ---- Shared helpers ---------------------------------------------------------------------- */

int cli_indexes_load(const char *home, trmx_index ***out, size_t *count)
{
	trmx_index_source *src = NULL;
	trmx_index **v = NULL;
	size_t n = 0, k = 0;
	trmx_error err;
	int rc = CLI_OK;
	if (trmx_index_sources(home, &src, &n, &err) < 0)
		return cli_fail(&err);
	if (n == 0) {
		free(src);
		return cli_failf("no module index is known in %s: add one with `trmx index add URL --trust KEY.pub`", home);
	}
	if (!(v = calloc(n, sizeof *v))) {
		free(src);
		return cli_failf("out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		if (trmx_index_refresh(home, src[i].key_id, NULL, &v[k], &err) < 0) {
			fprintf(stderr, "trmx: index %s: %s\n", src[i].key_id, err.message);
			rc = CLI_FAIL;
			continue;
		}
		k++;
	}
	free(src);
	*out = v;
	*count = k;
	return rc;
}

void cli_indexes_free(trmx_index **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		trmx_index_free(v[i]);
	free(v);
}

int cli_pull(const char *home, const char *spec, bool quiet, char **path)
{
	char name[TRMX_MANIFEST_NAME_MAX + 1];
	const char *at = strchr(spec, '@'), *version = at ? at + 1 : NULL;
	size_t nl = at ? (size_t)(at - spec) : strlen(spec);
	if (nl == 0 || nl > TRMX_MANIFEST_NAME_MAX || (version && !trmx_semver_valid(version)))
		return cli_failf("'%s' is not NAME or NAME@VERSION (a SemVer version)", spec);
	memcpy(name, spec, nl);
	name[nl] = '\0';
	trmx_index *idx = NULL;
	const trmx_index_entry *e = NULL;
	trmx_error err;
	struct progress pr = { .tty = isatty(2), .quiet = quiet, .last_step = 0 };
	trmx_fetch_options fo = TRMX_FETCH_OPTIONS_INIT;
	fo.progress = on_progress;
	fo.user = &pr;
	if (trmx_index_find(home, name, version, &fo, &idx, &e, &err) < 0)
		return cli_fail(&err);
	if (!quiet)
		fprintf(stderr, "trmx: pull: %s %s (%llu bytes, sha256:%.12s) from index %s (version %lld)\n", e->name,
			e->version, (unsigned long long)e->size, e->digest, trmx_index_signer(idx),
			(long long)trmx_index_version(idx));
	int rc = trmx_index_pull(home, idx, e, &fo, path, &err);
	progress_end(&pr);
	trmx_index_free(idx);
	if (rc < 0) {
		fprintf(stderr, "trmx: pull: %s\n", err.message);
		return CLI_FAIL;
	}
	return CLI_OK;
}

/* ---- trmx pull --------------------------------------------------------------------------- */

static void help(void)
{
	printf("usage: trmx pull NAME[@VERSION]... [--home DIR] [-q]\n"
	       "Download packages from the module indexes this home trusts (`trmx index add`): the\n"
	       "newest version of NAME, or NAME@VERSION. Each index is fetched from its mirrors in\n"
	       "order and its signature, version and expiry checked; the package is downloaded into\n"
	       "HOME/cache/ (an interrupted download resumes from HOME/cache/<digest>.part), never\n"
	       "more than the listed size, and its size, SHA-256 and manifest checked against the\n"
	       "signed index before the path is printed. Nothing is installed: see `trmx install\n"
	       "NAME@VERSION`.\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "  -q, --quiet      no progress, only the path of each package\n"
	       "  -h, --help       this help\n"
	       "Exit codes: 0 every package pulled, 1 a failure, 2 usage.\n");
}

enum { OPT_HOME = 256 };

int cmd_pull(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	bool quiet = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 'q': quiet = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("pull", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("pull", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("pull", "expects NAME or NAME@VERSION");
	trmx_error err;
	char *home = NULL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	int rc = CLI_OK;
	for (int i = optind; i < argc; i++) {
		char *path = NULL;
		if (cli_pull(home, argv[i], quiet, &path) != CLI_OK) {
			rc = CLI_FAIL;
			continue;
		}
		printf("%s\n", path);
		free(path);
	}
	free(home);
	return rc;
}
