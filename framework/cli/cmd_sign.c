/*
 * cmd_sign.c — `trmx sign PKG --key SECRET`: add a detached Ed25519 signature over the manifest.
 */
#include <getopt.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx sign PKG --key SECRET [-o OUT]\n"
	       "\n"
	       "Check the package's integrity, sign its manifest.yaml with the secret key (from\n"
	       "`trmx keygen`) and add or replace manifest.sig. The manifest pins every member's\n"
	       "SHA-256, so the signature covers the whole package. PKG is rewritten in place unless\n"
	       "-o names another file; the members keep their bytes and order.\n"
	       "\n"
	       "Options:\n"
	       "  -k, --key FILE      the secret key (NAME.key)\n"
	       "  -o, --output FILE   write the signed package here instead\n"
	       "  -h, --help          this help\n");
}

int cmd_sign(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *key = NULL, *out = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'k': key = optarg; break;
		case 'o': out = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("sign", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("sign", "expects one package");
	if (!key)
		return cli_usage_error("sign", "--key SECRET is required");
	trmx_error err;
	char id[TRMX_KEY_ID_SIZE];
	if (trmx_package_sign(argv[optind], key, out, id, &err) < 0)
		return cli_fail(&err);
	printf("%s: signed with key %s\n", out ? out : argv[optind], id);
	return CLI_OK;
}
