/*
 * cmd_version.c — `trmx version`: the version of trmx, of the libraries it runs with, and the engine
 * plugin folder it would use.
 *
 * The library versions come from each library's runtime version function, not from the headers it
 * was built with: a bug report needs what is loaded (a shared library can be upgraded under trmx).
 * This is the one CLI file that calls the libraries directly; the trmx API does not wrap them.
 */
#include <string.h>

#include <archive.h>
#include <cblas.h>
#include <curl/curl.h>
#include <jansson.h>
#include <microhttpd.h>
#include <openssl/crypto.h>
#include <sodium.h>
#include <sqlite3.h>
#include <yaml.h>

#include "cli/cli.h"

/* `s` without a leading "name " (libarchive and OpenBLAS put their names in their strings). */
static const char *skip_name(const char *s, const char *name)
{
	size_t n = strlen(name);
	return s && !strncmp(s, name, n) && s[n] == ' ' ? s + n + 1 : s ? s : "?";
}

int cmd_version(int argc, char **argv)
{
	if (argc > 1 && cli_is_help(argv[1])) {
		printf("usage: trmx version\n\n"
		       "Print the version of trmx, the versions of the libraries it runs with (SQLite, libyaml,\n"
		       "libarchive, OpenBLAS, libsodium, jansson, libmicrohttpd, libcurl, OpenSSL: what their\n"
		       "own version functions report, so the ones really loaded) and the engine plugin folder\n"
		       "(--plugins, $TRMX_PLUGINS, plugins/ beside trmx or ../lib/trmx/plugins from it).\n");
		return CLI_OK;
	}
	if (argc > 1)
		return cli_usage_error("version", "takes no arguments");
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	const char *plugins = cli_plugin_dir(NULL);
	printf("trmx %s\n", trmx_version());
	printf("  SQLite         %s\n", sqlite3_libversion());
	printf("  libyaml        %s\n", yaml_get_version_string());
	printf("  libarchive     %s\n", skip_name(archive_version_string(), "libarchive"));
	printf("  OpenBLAS       %s\n", skip_name(openblas_get_config(), "OpenBLAS"));
	printf("  libsodium      %s\n", sodium_version_string());
	printf("  jansson        %s\n", jansson_version_str());
	printf("  libmicrohttpd  %s\n", MHD_get_version());
	printf("  libcurl        %s\n", curl && curl->version ? curl->version : "?");
	printf("  OpenSSL        %s\n", OpenSSL_version(OPENSSL_VERSION_STRING));
	printf("plugins          %s\n", plugins ? plugins : "none (built-in engines only)");
	return CLI_OK;
}
