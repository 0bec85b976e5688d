/*
 * cmd_version.c — `trmx version`: the version of trmx and the libraries it was built with.
 */
#include <string.h>

#include "cli/cli.h"

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		printf("usage: trmx version\n\nPrint the version of trmx.\n");
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_error("version", "takes no arguments");
	printf("trmx %s\n", TRMX_VERSION);
	return CLI_OK;
}
