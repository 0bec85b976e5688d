/*
 * cmd_trust.c — `trmx trust add|list|remove|policy`: the public keys whose signatures this
 * installation trusts, and whether a trusted signature is required (TRMX_HOME/trust/,
 * TRMX_HOME/policy.yaml; docs/FORMAT.md).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx trust [--home DIR] add KEY.pub\n"
	       "       trmx trust [--home DIR] list\n"
	       "       trmx trust [--home DIR] remove KEY-ID\n"
	       "       trmx trust [--home DIR] policy [require-signature | allow-unsigned]\n"
	       "\n"
	       "The trust store holds the public keys whose signatures count as trusted, one file\n"
	       "per key in TRMX_HOME/trust/<key-id>.pub. The policy (TRMX_HOME/policy.yaml) says\n"
	       "whether `trmx verify` (and installing) requires a package signed by a trusted key;\n"
	       "without an argument, `policy` prints it.\n"
	       "\n"
	       "Options:\n"
	       "      --home DIR   the trmx home (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "  -h, --help       this help\n");
}

int cmd_trust(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': home_opt = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("trust", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("trust", "expects add, list, remove or policy");
	const char *sub = argv[optind];
	int nargs = argc - optind - 1;
	char **args = argv + optind + 1;
	for (int i = 0; i < nargs; i++) /* --home may also follow the subcommand */
		if (!strcmp(args[i], "--home") && i + 1 < nargs) {
			home_opt = args[i + 1];
			memmove(args + i, args + i + 2, (size_t)(nargs - i - 2) * sizeof *args);
			nargs -= 2;
			i--;
		}
	trmx_error err;
	char *home = NULL;
	int rc = CLI_OK;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	if (!strcmp(sub, "add")) {
		char id[TRMX_KEY_ID_SIZE];
		if (nargs != 1)
			rc = cli_usage_error("trust", "add expects one KEY.pub file");
		else if (trmx_trust_add(home, args[0], id, &err) < 0)
			rc = cli_fail(&err);
		else
			printf("trusted key %s (%s)\n", id, args[0]);
	} else if (!strcmp(sub, "remove")) {
		if (nargs != 1)
			rc = cli_usage_error("trust", "remove expects one key id");
		else if (trmx_trust_remove(home, args[0], &err) < 0)
			rc = cli_fail(&err);
		else
			printf("removed key %s\n", args[0]);
	} else if (!strcmp(sub, "list")) {
		trmx_public_key *keys = NULL;
		size_t n = 0;
		if (nargs != 0)
			rc = cli_usage_error("trust", "list takes no arguments");
		else if (trmx_trust_list(home, &keys, &n, &err) < 0)
			rc = cli_fail(&err);
		else {
			for (size_t i = 0; i < n; i++)
				printf("%s  %s\n", keys[i].key_id, keys[i].comment);
			if (n == 0)
				fprintf(stderr, "trmx: no trusted keys in %s/trust\n", home);
		}
		free(keys);
	} else if (!strcmp(sub, "policy")) {
		trmx_policy pol = TRMX_POLICY_INIT;
		if (nargs > 1)
			rc = cli_usage_error("trust", "policy takes require-signature or allow-unsigned");
		else if (nargs == 1) {
			if (strcmp(args[0], "require-signature") && strcmp(args[0], "allow-unsigned"))
				rc = cli_usage_error("trust", "policy is require-signature or allow-unsigned, not '%s'",
						     args[0]);
			else {
				pol.require_signature = !strcmp(args[0], "require-signature");
				if (trmx_policy_save(home, &pol, &err) < 0)
					rc = cli_fail(&err);
			}
		}
		if (rc == CLI_OK && trmx_policy_load(home, &pol, &err) < 0)
			rc = cli_fail(&err);
		if (rc == CLI_OK)
			printf("policy: %s\n", pol.require_signature ? "require-signature (packages must be "
								      "signed by a trusted key)"
								    : "allow-unsigned");
	} else {
		rc = cli_usage_error("trust", "'%s' is not add, list, remove or policy", sub);
	}
	free(home);
	return rc;
}
