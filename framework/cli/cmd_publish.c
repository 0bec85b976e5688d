/*
 * cmd_publish.c — `trmx publish PKG.trmx --index DIR --key KEY`: add a verified package to a
 * module index folder and sign the new index (trmx_index_publish; docs/FORMAT.md, "Module
 * indexes").
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "trmx/index.h"

static void help(void)
{
	printf("usage: trmx publish PKG.trmx... --index DIR --key NAME.key [options]\n"
	       "Add packages to the module index in DIR (made when absent), a static folder any web\n"
	       "server can host: each package is verified first (every member, its signature as the\n"
	       "home's policy asks, its contents), copied to DIR/packages/<sha256>.trmx, and listed\n"
	       "in DIR/index.json, which is written with its version + 1 and a new expiry, and signed\n"
	       "into DIR/index.json.sig with the secret key (each file written atomically). An index\n"
	       "keeps the key it was first signed with. A package already listed changes nothing;\n"
	       "another package with a listed name and version is refused.\n"
	       "Options:\n"
	       "      --index DIR        the index folder\n"
	       "  -k, --key FILE.key     the index's secret key (trmx keygen)\n"
	       "      --expires-in DAYS  how long the new index stays valid (default 30, at most 3660)\n"
	       "      --home DIR         TRMX_HOME, for the trust store and policy used to verify\n"
	       "  -q, --quiet            print errors only\n"
	       "  -h, --help             this help\n"
	       "Exit codes: 0 every package published, 1 a package was refused, 2 usage.\n");
}

enum { OPT_HOME = 256, OPT_INDEX, OPT_EXPIRES };

int cmd_publish(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "index", required_argument, NULL, OPT_INDEX }, { "key", required_argument, NULL, 'k' },
		{ "expires-in", required_argument, NULL, OPT_EXPIRES }, { "home", required_argument, NULL, OPT_HOME },
		{ "quiet", no_argument, NULL, 'q' },             { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *dir = NULL, *key = NULL, *home_opt = NULL;
	long days = 30;
	bool quiet = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_INDEX: dir = optarg; break;
		case 'k': key = optarg; break;
		case OPT_EXPIRES:
			if (!cli_parse_int("publish", "--expires-in", optarg, 1, 3660, &days))
				return CLI_USAGE;
			break;
		case OPT_HOME: home_opt = optarg; break;
		case 'q': quiet = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("publish", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("publish", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("publish", "expects at least one package");
	if (!dir || !key)
		return cli_usage_error("publish", "--index DIR and --key NAME.key are required");
	trmx_error err;
	char *home = NULL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	trmx_publish_options po = TRMX_PUBLISH_OPTIONS_INIT;
	po.home = home;
	po.expires_in = days * 86400;
	int rc = CLI_OK;
	for (int i = optind; i < argc; i++) {
		trmx_publish_result r;
		if (trmx_index_publish(argv[i], dir, key, &po, &r, &err) < 0) {
			fprintf(stderr, "trmx: publish: %s\n", err.message);
			fprintf(stderr, "%s: NOT PUBLISHED (the index is unchanged)\n", argv[i]);
			rc = CLI_FAIL;
			continue;
		}
		if (quiet)
			continue;
		if (r.already)
			printf("%s %s is published already (sha256:%.12s); index version %lld unchanged\n", r.name, r.version,
			       r.digest, (long long)r.index_version);
		else
			printf("published %s %s (sha256:%.12s): index version %lld, signed by key %s\n", r.name, r.version,
			       r.digest, (long long)r.index_version, r.key_id);
	}
	free(home);
	return rc;
}
