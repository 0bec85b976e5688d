/*
 * cmd_pack.c — `trmx pack DIR [-o FILE]`: a module folder into NAME-VERSION.trmx.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx pack DIR [-o FILE]\n"
	       "\n"
	       "Pack the module folder DIR into a package (docs/FORMAT.md). DIR holds the author's\n"
	       "manifest.yaml (without files:), weights.safetensors, schema.sql, README.md and, as the\n"
	       "manifest lists them, examples/. Every regular file below DIR is packed except hidden\n"
	       "ones, manifest.sig and *.trmx at the top; links and special files are refused.\n"
	       "\n"
	       "pack checks the weights against the architecture (the engine opens on them), the task\n"
	       "codec against the architecture, and every example with the codec and its checker;\n"
	       "then it fills in files: (path, size, SHA-256 of every member) and writes a zip with\n"
	       "manifest.yaml first, the weights stored uncompressed, and fixed times and modes: the\n"
	       "same folder always gives the same bytes.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output FILE   the package file, or a folder for NAME-VERSION.trmx\n"
	       "                      (default: NAME-VERSION.trmx in the current folder)\n"
	       "      --no-check      skip the weights and examples checks (for an engine or codec\n"
	       "                      this build lacks; verify will still run them)\n"
	       "      --plugins DIR   engine plugins (<engine>.so) for the checks (default:\n"
	       "                      $TRMX_PLUGINS, else the plugin folder beside trmx)\n"
	       "      --json          the package as one JSON object (docs/CLI-JSON.md)\n"
	       "  -h, --help          this help\n");
}

int cmd_pack(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "no-check", no_argument, NULL, 'n' },
		{ "plugins", required_argument, NULL, 'P' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_pack_options po = TRMX_PACK_OPTIONS_INIT;
	const char *out = NULL, *plugins = NULL;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': out = optarg; break;
		case 'n': po.skip_contents = true; break;
		case 'P': plugins = optarg; break;
		case 'j': cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("pack", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("pack", "expects one module folder");
	po.plugin_dir = cli_plugin_dir(plugins);
	trmx_error err;
	char *written = NULL;
	if (trmx_package_pack(argv[optind], out, &po, &written, &err) < 0)
		return cli_fail(&err);

	trmx_package *p = NULL;
	char digest[TRMX_SHA256_HEX_SIZE];
	if (trmx_package_open(&p, written, NULL, &err) < 0 || trmx_package_digest(p, digest, &err) < 0) {
		free(written);
		trmx_package_free(p);
		return cli_fail(&err);
	}
	int rc = CLI_OK;
	if (cli_json_errors)
		rc = cli_json_print(json_pack("{s:s,s:s,s:s,s:I,s:I,s:s}", "package", written, "module",
					      trmx_manifest_name(trmx_package_manifest(p)), "version",
					      trmx_manifest_version(trmx_package_manifest(p)), "members",
					      (json_int_t)trmx_package_entry_count(p), "bytes",
					      (json_int_t)trmx_package_file_size(p), "digest", digest));
	else
		printf("%s: %zu members, %llu bytes, sha256 %s\n", written, trmx_package_entry_count(p),
		       (unsigned long long)trmx_package_file_size(p), digest);
	trmx_package_free(p);
	free(written);
	return rc;
}
