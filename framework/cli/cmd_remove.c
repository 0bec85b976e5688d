/*
 * cmd_remove.c — `trmx remove TARGET`: remove an installed version (or every version of a module)
 * with its aliases and store folder; refused while a context's binding or canary uses it, unless
 * --force. The module's database in data/ is kept.
 */
#include <getopt.h>
#include <stdlib.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx remove MODULE[@VERSION] [options]\n"
	       "Remove an installed module version (or, given MODULE alone, every version of it): its\n"
	       "aliases and its folder in the store go with it; its database data/<module>.db stays.\n"
	       "Refused while a context's binding or canary resolves to it, unless --force.\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --force      remove it even though contexts use it (they stop serving)\n"
	       "  -h, --help       this help\n");
}

enum { OPT_HOME = 256, OPT_FORCE }; /* --force has no short form: -f is --format (docs/CLI.md) */

int cmd_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL;
	unsigned flags = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_FORCE: flags |= TRMX_REMOVE_FORCE; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("remove", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("remove", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("remove", "expects one MODULE or MODULE@VERSION");
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	int rc = trmx_registry_remove(reg, argv[optind], flags, &err) < 0 ? cli_fail(&err) : CLI_OK;
	if (rc == CLI_OK)
		printf("removed %s\n", argv[optind]);
	trmx_registry_free(reg);
	return rc;
}
