/*
 * cmd_verify.c — `trmx verify PKG`: structure, manifest, every size and SHA-256, the signature,
 * the weights against the architecture and the examples. Exit 0 only when all hold.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx verify PKG [options]\n"
	       "\n"
	       "Check a package before installing it: the zip's structure and every limit, the\n"
	       "manifest against the specification, that the members are exactly those listed in\n"
	       "files: with their sizes and SHA-256, the signature (an invalid one always fails; a\n"
	       "missing or untrusted one fails when the policy or --require-signature asks for a\n"
	       "trusted one), the weights against the architecture (the engine opens on them), and\n"
	       "every example with the task codec and its checker. Each problem is printed with what\n"
	       "and where; the exit code is 0 only when there are none.\n"
	       "\n"
	       "Options:\n"
	       "      --home DIR            trust store and policy (default: $TRMX_HOME, else\n"
	       "                            ~/.local/share/trmx)\n"
	       "  -k, --key FILE.pub        also trust this public key\n"
	       "      --require-signature   require a trusted signature whatever the policy says\n"
	       "      --no-contents         skip the weights and examples checks\n"
	       "      --plugins DIR         engine plugins (<engine>.so) for those checks (default:\n"
	       "                            $TRMX_PLUGINS, else the plugin folder beside trmx)\n"
	       "  -q, --quiet               print problems only\n"
	       "      --json                the result and every problem as one JSON object\n"
	       "  -h, --help                this help\n");
}

static void on_problem(void *user, int code, const char *message)
{
	fprintf(stderr, "trmx: verify: %s\n", message);
	if (user) /* --json: every problem, in order */
		json_array_append_new(user, json_pack("{s:s,s:s}", "code", cli_error_code(code), "message", message));
}

int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, 'H' },
		{ "key", required_argument, NULL, 'k' },
		{ "require-signature", no_argument, NULL, 'r' },
		{ "no-contents", no_argument, NULL, 'n' },
		{ "plugins", required_argument, NULL, 'P' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
	const char *home_opt = NULL, *plugins = NULL;
	bool quiet = false;
	int opt;
	vo.flags = TRMX_VERIFY_CONTENTS;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "k:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'H': home_opt = optarg; break;
		case 'k': vo.public_key = optarg; break;
		case 'r': vo.flags |= TRMX_VERIFY_REQUIRE_SIGNATURE; break;
		case 'n': vo.flags &= ~TRMX_VERIFY_CONTENTS; break;
		case 'P': plugins = optarg; break;
		case 'q': quiet = true; break;
		case 'j': cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("verify", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("verify", "expects one package");
	const char *path = argv[optind];
	vo.plugin_dir = cli_plugin_dir(plugins);
	trmx_error err;
	trmx_package *p = NULL;
	trmx_verify_result res = { 0 };
	char *home = NULL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	vo.home = home;
	vo.on_problem = on_problem;
	json_t *problems = cli_json_errors ? json_array() : NULL;
	vo.user = problems;
	if (trmx_package_open(&p, path, NULL, &err) < 0) {
		fprintf(stderr, "trmx: verify: %s\n", err.message);
		fprintf(stderr, "%s: FAILED (the package cannot be opened)\n", path);
		json_decref(problems);
		cli_json_error(cli_error_code(err.code), err.message);
		free(home);
		return CLI_FAIL;
	}
	int rc = trmx_package_verify(p, &vo, &res, &err);
	const trmx_manifest *m = trmx_package_manifest(p);
	if (problems) { /* docs/CLI-JSON.md: the result, with the problems; the first one as the error */
		json_t *o = json_pack("{s:s,s:b,s:s,s:s,s:I,s:I,s:b,s:s,s:o,s:o}", "package", path, "ok", rc == 0, "module",
				      trmx_manifest_name(m), "version", trmx_manifest_version(m), "members",
				      (json_int_t)trmx_package_entry_count(p), "files", (json_int_t)trmx_manifest_file_count(m),
				      "contents_checked", (vo.flags & TRMX_VERIFY_CONTENTS) != 0, "signature",
				      trmx_signature_status_name(res.signature.status), "key_id",
				      res.signature.key_id[0] ? json_string(res.signature.key_id) : json_null(), "problems",
				      problems);
		if (o && rc < 0)
			json_object_set_new(o, "error", json_pack("{s:s,s:s}", "code", cli_error_code(err.code), "message",
								  err.message));
		cli_json_print(o);
		if (rc < 0)
			fprintf(stderr, "%s: FAILED (%zu problem%s)\n", path, res.problems, res.problems == 1 ? "" : "s");
	} else if (rc < 0) {
		fprintf(stderr, "%s: FAILED (%zu problem%s)\n", path, res.problems, res.problems == 1 ? "" : "s");
	} else if (!quiet) {
		printf("%s: ok: %s %s, %zu members, %zu files verified", path, trmx_manifest_name(m),
		       trmx_manifest_version(m), trmx_package_entry_count(p), trmx_manifest_file_count(m));
		if (vo.flags & TRMX_VERIFY_CONTENTS)
			printf(", weights and %zu examples checked (%lld parameters)",
			       trmx_manifest_example_count(m), (long long)res.num_params);
		printf(", signature %s", trmx_signature_status_name(res.signature.status));
		if (res.signature.key_id[0])
			printf(" (key %s%s%s)", res.signature.key_id, res.signature.comment[0] ? ", " : "",
			       res.signature.comment);
		printf("\n");
	}
	trmx_package_free(p);
	free(home);
	return rc < 0 ? CLI_FAIL : CLI_OK;
}
