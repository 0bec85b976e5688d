/*
 * cmd_index.c — `trmx index add|list|remove`: the module indexes a home trusts, each with its
 * signer's key and its mirrors (HOME/indexes/; docs/FORMAT.md, "Module indexes").
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "trmx/index.h"

static void help(void)
{
	printf("usage: trmx index [--home DIR] add URL --trust KEY.pub\n"
	       "       trmx index [--home DIR] list\n"
	       "       trmx index [--home DIR] remove URL|KEY-ID\n"
	       "\n"
	       "A module index is a folder on a web server (see `trmx publish`) whose index.json is\n"
	       "signed by one key. `add` fetches the index at URL, checks that KEY.pub signed it, and\n"
	       "only then records the URL and the key; a URL added for a key already known becomes a\n"
	       "mirror, tried after the others. `list` prints each index's key, mirrors, the newest\n"
	       "version seen and its expiry. `remove` drops a mirror, or a whole index by its key id.\n"
	       "\n"
	       "Options:\n"
	       "      --home DIR       the trmx home (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --trust KEY.pub  the index's signer (add)\n"
	       "  -h, --help           this help\n");
}

enum { OPT_HOME = 256 };

int cmd_index(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "trust", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *trust = NULL;
	int c;
	opterr = 0;
	optind = 1;
	/* options anywhere: trmx index add URL --trust K and trmx index --home H add ...; --trust is long
	 * only: -t is --task (docs/CLI.md) */
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 't': trust = optarg; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("index", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("index", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("index", "expects add, list or remove");
	const char *sub = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	trmx_error err;
	char *home = NULL;
	int rc = CLI_OK;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	if (!strcmp(sub, "add")) {
		char id[TRMX_KEY_ID_SIZE];
		if (nargs != 1 || !trust)
			rc = cli_usage_error("index", "add expects one URL and --trust KEY.pub");
		else if (trmx_index_add(home, args[0], trust, NULL, id, &err) < 0)
			rc = cli_fail(&err);
		else
			printf("added index %s signed by key %s\n", args[0], id);
	} else if (!strcmp(sub, "list")) {
		trmx_index_source *v = NULL;
		size_t n = 0;
		if (nargs != 0)
			rc = cli_usage_error("index", "list takes no arguments");
		else if (trmx_index_sources(home, &v, &n, &err) < 0)
			rc = cli_fail(&err);
		else {
			for (size_t i = 0; i < n; i++) {
				char when[32] = "-";
				time_t t = (time_t)v[i].seen_expires;
				struct tm tm;
				if (v[i].seen_expires && gmtime_r(&t, &tm))
					strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
				printf("%s  %s\n  version %lld seen, expires %s%s\n", v[i].key_id, v[i].comment,
				       (long long)v[i].seen_version, when, v[i].seen_expires && t <= time(NULL) ? " (expired)" : "");
				for (size_t u = 0; u < v[i].nurls; u++)
					printf("  %zu. %s\n", u + 1, v[i].urls[u]);
			}
			if (n == 0)
				fprintf(stderr, "trmx: no module index in %s (trmx index add URL --trust KEY.pub)\n", home);
		}
		free(v);
	} else if (!strcmp(sub, "remove")) {
		if (nargs != 1)
			rc = cli_usage_error("index", "remove expects one URL or key id");
		else if (trmx_index_remove(home, args[0], &err) < 0)
			rc = cli_fail(&err);
		else
			printf("removed %s\n", args[0]);
	} else {
		rc = cli_usage_error("index", "'%s' is not add, list or remove", sub);
	}
	free(home);
	return rc;
}
