/*
 * cmd_lti.c — `trmx lti add-platform|list|remove|jwks`: the LTI 1.3 platforms (Moodle, Canvas,
 * ...) that may launch `trmx serve` as a tool, and the tool's public keys (trmx/lti.h,
 * docs/LMS.md). A running server reads the platforms when it starts: restart it after a change.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "trmx/lti.h"

#define HOME_OPTION "      --home DIR          TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"

static void help(void)
{
	printf("usage: trmx lti add-platform --issuer URL --client-id ID --deployment ID [--deployment ID]...\n"
	       "                            --jwks URL --auth URL --token URL [--name NAME] [--home DIR]\n"
	       "       trmx lti list [--json] [--home DIR]\n"
	       "       trmx lti remove ISSUER [--client-id ID] [--home DIR]\n"
	       "       trmx lti jwks [--home DIR]\n"
	       "Register the LTI 1.3 platforms that may launch `trmx serve` as a tool (TRMX_HOME/" TRMX_LTI_PLATFORMS_FILE "),\n"
	       "and print the tool's public keys (its RSA key, TRMX_HOME/" TRMX_LTI_KEY_FILE ", is made on first\n"
	       "need). `trmx serve` reads the platforms when it starts. docs/LMS.md has what to enter in Moodle and\n"
	       "Canvas. `trmx lti add-platform --help` and the others show each command's options.\n");
}

static void help_add(void)
{
	printf("usage: trmx lti add-platform --issuer URL --client-id ID --deployment ID [--deployment ID]...\n"
	       "                            --jwks URL --auth URL --token URL [--name NAME] [--home DIR]\n"
	       "Register a platform. The platform shows the values once the tool is added there; for Moodle\n"
	       "(SITE is the site's URL): --issuer SITE --jwks SITE/mod/lti/certs.php --auth SITE/mod/lti/auth.php\n"
	       "--token SITE/mod/lti/token.php. Makes the tool key when there is none yet.\n"
	       "Options:\n"
	       "      --issuer URL        the platform's issuer (\"iss\"), an http:// or https:// URL\n"
	       "      --client-id ID      the client id the platform gave the tool\n"
	       "      --deployment ID     a deployment id it launches with (repeat for several)\n"
	       "      --jwks URL          the platform's public keyset\n"
	       "      --auth URL          its OIDC authorization endpoint (the login's redirect)\n"
	       "      --token URL         its OAuth2 token endpoint (grade passback)\n"
	       "      --name NAME         a label shown by `trmx lti list`\n" HOME_OPTION
	       "  -h, --help              this help\n");
}

static void help_list(void)
{
	printf("usage: trmx lti list [--json] [--home DIR]\n"
	       "List the registered platforms: issuer, client id, deployments, URLs.\n"
	       "Options:\n"
	       "      --json              one JSON object\n" HOME_OPTION
	       "  -h, --help              this help\n");
}

static void help_remove(void)
{
	printf("usage: trmx lti remove ISSUER [--client-id ID] [--home DIR]\n"
	       "Remove the platform ISSUER (every client id of it, or only --client-id ID). Restart\n"
	       "`trmx serve` for it to refuse the platform's launches.\n"
	       "Options:\n"
	       "      --client-id ID      only the registration with this client id\n" HOME_OPTION
	       "  -h, --help              this help\n");
}

static void help_jwks(void)
{
	printf("usage: trmx lti jwks [--home DIR]\n"
	       "Print the tool's public keys as a JWKS document (what `trmx serve` answers at /lti/jwks), making\n"
	       "the tool key first when there is none. Platforms that take a key rather than a keyset URL take\n"
	       "the one key of \"keys\".\n"
	       "Options:\n" HOME_OPTION
	       "  -h, --help              this help\n");
}

enum { OPT_HOME = 256, OPT_ISSUER, OPT_CLIENT, OPT_DEPLOYMENT, OPT_JWKS, OPT_AUTH, OPT_TOKEN, OPT_NAME, OPT_JSON };

/* The home of --home (malloc'd); prints the error on failure. */
static char *home_of(const char *opt)
{
	trmx_error err;
	char *home = NULL;
	if (trmx_home_resolve(opt, &home, &err) < 0) {
		cli_fail(&err);
		return NULL;
	}
	return home;
}

static int lti_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "issuer", required_argument, NULL, OPT_ISSUER }, { "client-id", required_argument, NULL, OPT_CLIENT },
		{ "deployment", required_argument, NULL, OPT_DEPLOYMENT }, { "jwks", required_argument, NULL, OPT_JWKS },
		{ "auth", required_argument, NULL, OPT_AUTH },     { "token", required_argument, NULL, OPT_TOKEN },
		{ "name", required_argument, NULL, OPT_NAME },     { "home", required_argument, NULL, OPT_HOME },
		{ "help", no_argument, NULL, 'h' },               { NULL, 0, NULL, 0 },
	};
	trmx_lti_platform p = { 0 };
	const char *home_opt = NULL;
	const char **deps = calloc((size_t)argc, sizeof *deps);
	char *home = NULL;
	int c, rc = CLI_USAGE;
	if (!deps)
		return cli_failf("out of memory");
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_ISSUER: p.issuer = optarg; break;
		case OPT_CLIENT: p.client_id = optarg; break;
		case OPT_DEPLOYMENT: deps[p.ndeployments++] = optarg; break;
		case OPT_JWKS: p.jwks_url = optarg; break;
		case OPT_AUTH: p.auth_url = optarg; break;
		case OPT_TOKEN: p.token_url = optarg; break;
		case OPT_NAME: p.name = optarg; break;
		case OPT_HOME: home_opt = optarg; break;
		case 'h': help_add(); rc = CLI_OK; goto done;
		case ':': cli_usage_error("lti", "%s needs a value", argv[optind - 1]); goto done;
		default: cli_usage_error("lti", "unknown option '%s'", argv[optind - 1]); goto done;
		}
	}
	if (optind < argc) {
		cli_usage_error("lti", "unexpected argument '%s'", argv[optind]);
		goto done;
	}
	static const char *const names[] = { "--issuer", "--client-id", "--jwks", "--auth", "--token" };
	const char *given[] = { p.issuer, p.client_id, p.jwks_url, p.auth_url, p.token_url };
	for (int i = 0; i < 5; i++)
		if (!given[i]) {
			cli_usage_error("lti", "add-platform needs %s", names[i]);
			goto done;
		}
	if (!p.ndeployments) {
		cli_usage_error("lti", "add-platform needs --deployment (at least one deployment id)");
		goto done;
	}
	p.deployments = deps;
	rc = CLI_FAIL;
	trmx_error err = { 0, "" };
	if (!(home = home_of(home_opt)))
		goto done;
	if (trmx_lti_platform_add(home, &p, &err) < 0) {
		cli_fail(&err);
		goto done;
	}
	printf("registered platform %s (client id %s, %zu deployment%s) in %s/%s; restart `trmx serve` to take it\n",
	       p.issuer, p.client_id, p.ndeployments, p.ndeployments > 1 ? "s" : "", home, TRMX_LTI_PLATFORMS_FILE);
	rc = CLI_OK;
done:
	free(home);
	free(deps);
	return rc;
}

static int lti_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },
		{ "home", required_argument, NULL, OPT_HOME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json = true; break;
		case OPT_HOME: home_opt = optarg; break;
		case 'h': help_list(); return CLI_OK;
		case ':': return cli_usage_error("lti", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("lti", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("lti", "unexpected argument '%s'", argv[optind]);
	char *home = home_of(home_opt);
	if (!home)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	trmx_lti_platforms *t = NULL;
	int rc = CLI_OK;
	if (trmx_lti_platforms_load(&t, home, &err) < 0) {
		free(home);
		return cli_fail(&err);
	}
	size_t n = trmx_lti_platforms_count(t);
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const trmx_lti_platform *p = trmx_lti_platforms_entry(t, i);
			json_t *d = json_array();
			for (size_t k = 0; k < p->ndeployments; k++)
				json_array_append_new(d, json_string(p->deployments[k]));
			json_array_append_new(arr, json_pack("{s:s,s:s,s:o,s:s,s:s,s:s,s:s?,s:I}", "issuer", p->issuer, "client_id",
							     p->client_id, "deployments", d, "jwks_url", p->jwks_url, "auth_url",
							     p->auth_url, "token_url", p->token_url, "name", p->name, "added",
							     (json_int_t)p->added));
		}
		json_t *root = json_pack("{s:s,s:o}", "path", trmx_lti_platforms_path(t), "platforms", arr);
		char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
		if (text)
			printf("%s\n", text);
		else
			rc = cli_failf("out of memory");
		free(text);
		json_decref(root);
	} else if (!n) {
		printf("no platforms registered in %s (trmx lti add-platform)\n", trmx_lti_platforms_path(t));
	} else {
		for (size_t i = 0; i < n; i++) {
			const trmx_lti_platform *p = trmx_lti_platforms_entry(t, i);
			printf("%s%s%s%s\n  client id    %s\n  deployments  ", p->issuer, p->name ? " (" : "", p->name ? p->name : "",
			       p->name ? ")" : "", p->client_id);
			for (size_t k = 0; k < p->ndeployments; k++)
				printf("%s%s", k ? ", " : "", p->deployments[k]);
			printf("\n  jwks         %s\n  auth         %s\n  token        %s\n", p->jwks_url, p->auth_url, p->token_url);
		}
	}
	trmx_lti_platforms_free(t);
	free(home);
	return rc;
}

static int lti_remove(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "client-id", required_argument, NULL, OPT_CLIENT },
		{ "home", required_argument, NULL, OPT_HOME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *client = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_CLIENT: client = optarg; break;
		case OPT_HOME: home_opt = optarg; break;
		case 'h': help_remove(); return CLI_OK;
		case ':': return cli_usage_error("lti", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("lti", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("lti", "remove expects one ISSUER");
	char *home = home_of(home_opt);
	if (!home)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	size_t n = 0;
	int rc = CLI_OK;
	if (trmx_lti_platform_remove(home, argv[optind], client, &n, &err) < 0)
		rc = cli_fail(&err);
	else
		printf("removed %zu registration%s of %s; restart `trmx serve` for it to refuse their launches\n", n,
		       n > 1 ? "s" : "", argv[optind]);
	free(home);
	return rc;
}

static int lti_jwks(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home_opt = optarg; break;
		case 'h': help_jwks(); return CLI_OK;
		case ':': return cli_usage_error("lti", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("lti", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("lti", "unexpected argument '%s'", argv[optind]);
	char *home = home_of(home_opt), *jwks = NULL;
	if (!home)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	int rc = CLI_OK;
	if (trmx_lti_tool_jwks(home, &jwks, &err) < 0)
		rc = cli_fail(&err);
	else
		printf("%s\n", jwks);
	free(jwks);
	free(home);
	return rc;
}

int cmd_lti(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("lti", "expects add-platform, list, remove or jwks");
	if (cli_is_help(argv[1])) {
		help();
		return CLI_OK;
	}
	if (!strcmp(argv[1], "add-platform"))
		return lti_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return lti_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "remove"))
		return lti_remove(argc - 1, argv + 1);
	if (!strcmp(argv[1], "jwks"))
		return lti_jwks(argc - 1, argv + 1);
	return cli_usage_error("lti", "'%s' is not add-platform, list, remove or jwks", argv[1]);
}
