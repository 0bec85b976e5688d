/*
 * cmd_keygen.c — `trmx keygen -o NAME`: an Ed25519 key pair for signing packages.
 */
#include <getopt.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx keygen -o NAME [--comment TEXT]\n"
	       "\n"
	       "Make an Ed25519 key pair: NAME.key (the secret key, mode 0600: keep it private) and\n"
	       "NAME.pub (the public key, to hand to course creators for `trmx trust add`). Existing\n"
	       "files are never overwritten. Prints the key id (16 hex digits).\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output NAME   base name of the two files\n"
	       "      --comment TEXT  a note stored in NAME.pub (who owns the key)\n"
	       "  -h, --help          this help\n");
}

int cmd_keygen(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "comment", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *out = NULL, *comment = NULL;
	int opt;
	optind = 1;
	/* --comment is long only: -c is --context (docs/CLI.md) */
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'c': comment = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("keygen", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("keygen", "unexpected argument '%s'", argv[optind]);
	if (!out)
		return cli_usage_error("keygen", "-o NAME is required");
	trmx_error err;
	char id[TRMX_KEY_ID_SIZE];
	if (trmx_key_generate(out, comment, id, &err) < 0)
		return cli_fail(&err);
	printf("key %s: secret key %s.key, public key %s.pub\n", id, out, out);
	return CLI_OK;
}
