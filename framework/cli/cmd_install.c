/*
 * cmd_install.c — `trmx install PKG...`: verify each package, unpack it into the content-addressed
 * store, create the module's database from its schema.sql, run its examples as a self-test, and
 * record it; all or nothing (trmx_registry_install).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx install PKG... [options]\n"
	       "Install packages into TRMX_HOME, each all or nothing: verify every member's size and\n"
	       "SHA-256 and the signature (as the home's policy asks), unpack into the store\n"
	       "(store/sha256/<digest>/), check the weights against the architecture, run the examples\n"
	       "as a self-test (a module that does worse on them than its manifest claims is refused),\n"
	       "create the module's database data/<module>.db from its schema.sql (or apply its new\n"
	       "migrations) under an authorizer that allows only its own tables, and record it.\n"
	       "Installing a package that is already installed changes nothing. A PKG written\n"
	       "NAME@VERSION that is no file is pulled from the module indexes first (trmx pull).\n"
	       "Options:\n"
	       "      --home DIR            TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --plugins DIR         engine plugins for the self-test\n"
	       "  -k, --key FILE.pub        also trust this public key\n"
	       "      --require-signature   require a trusted signature whatever the policy says\n"
	       "  -q, --quiet               print errors only\n"
	       "      --json                one JSON object: every package's result (docs/CLI-JSON.md)\n"
	       "  -h, --help                this help\n"
	       "Exit codes: 0 all installed, 1 a package was refused, 2 usage.\n");
}

static void on_problem(void *user, int code, const char *message)
{
	fprintf(stderr, "trmx: install: %s\n", message);
}

enum { OPT_HOME = 256, OPT_PLUGINS, OPT_REQSIG, OPT_JSON };

int cmd_install(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME }, { "plugins", required_argument, NULL, OPT_PLUGINS },
		{ "key", required_argument, NULL, 'k' },       { "require-signature", no_argument, NULL, OPT_REQSIG },
		{ "quiet", no_argument, NULL, 'q' },           { "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *plugins = NULL;
	trmx_install_options io = TRMX_INSTALL_OPTIONS_INIT;
	bool quiet = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":k:qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_PLUGINS: plugins = optarg; break;
		case 'k': io.public_key = optarg; break;
		case OPT_REQSIG: io.flags |= TRMX_VERIFY_REQUIRE_SIGNATURE; break;
		case 'q': quiet = true; break;
		case OPT_JSON: cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("install", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("install", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("install", "expects at least one package");
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	io.plugin_dir = cli_plugin_dir(plugins);
	io.on_problem = on_problem;
	int rc = CLI_OK;
	/* --json: one object at the end; what fails on the way goes to stderr only */
	json_t *all = cli_json_errors ? json_array() : NULL;
	cli_json_errors = false;
	for (int i = optind; i < argc; i++) {
		trmx_error err = { 0, "" };
		trmx_install_result r;
		char *pulled = NULL;
		const char *path = argv[i];
		/* NAME@VERSION that is no file: pulled from the module indexes first (cmd_pull.c) */
		if (access(path, F_OK) != 0 && strchr(path, '@') && !strchr(path, '/')) {
			if (cli_pull(trmx_registry_home(reg), path, quiet || all, &pulled) != CLI_OK) {
				fprintf(stderr, "%s: NOT INSTALLED (nothing changed)\n", argv[i]);
				if (all)
					json_array_append_new(all, json_pack("{s:s,s:o}", "package", argv[i], "error",
									     json_pack("{s:s,s:s}", "code", "ERROR", "message",
										       "cannot pull it from the module indexes "
										       "(see standard error)")));
				rc = CLI_FAIL;
				continue;
			}
			path = pulled;
		}
		int irc = trmx_registry_install(reg, path, &io, &r, &err);
		free(pulled);
		if (irc < 0) {
			fprintf(stderr, "trmx: install: %s\n", err.message);
			fprintf(stderr, "%s: NOT INSTALLED (nothing changed)\n", argv[i]);
			if (all)
				json_array_append_new(all, json_pack("{s:s,s:o}", "package", argv[i], "error",
								     json_pack("{s:s,s:s}", "code", cli_error_code(irc),
									       "message", err.message)));
			rc = CLI_FAIL;
			continue;
		}
		if (all) {
			json_array_append_new(
				all, json_pack("{s:s,s:s,s:s,s:s,s:b,s:i,s:i,s:i,s:o,s:{s:s,s:s,s:i,s:i}}", "package", argv[i],
					       "module", r.module, "version", r.module_version, "digest", r.digest, "already",
					       r.already, "examples", r.examples, "examples_solved", r.examples_solved,
					       "examples_labelled", r.examples_labelled, "token_accuracy",
					       r.examples_labelled ? json_real(r.token_accuracy) : json_null(), "database",
					       "module", r.module, "state",
					       r.already ? "kept" : r.db_created ? "created" : r.migrations_applied ? "migrated" : "kept",
					       "migrations", r.migrations_applied, "schema_version", r.schema_version));
			continue;
		}
		if (quiet)
			continue;
		if (r.already) {
			printf("%s %s is already installed (sha256:%.12s); nothing changed\n", r.module, r.module_version,
			       r.digest);
			continue;
		}
		printf("installed %s %s (sha256:%.12s): self-test ran %d example%s, %d of %d with an answer solved",
		       r.module, r.module_version, r.digest, r.examples, r.examples == 1 ? "" : "s", r.examples_solved,
		       r.examples_labelled);
		if (r.examples_labelled)
			printf(" (token accuracy %.3f)", r.token_accuracy);
		printf("; database data/%s.db %s (schema version %d)\n", r.module,
		       r.db_created ? "created" : r.migrations_applied ? "migrated" : "kept", r.schema_version);
	}
	if (all) {
		int jrc = cli_json_print(json_pack("{s:o}", "packages", all));
		if (rc == CLI_OK)
			rc = jrc;
	}
	trmx_registry_free(reg);
	return rc;
}
