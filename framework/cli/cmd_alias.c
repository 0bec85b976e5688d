/*
 * cmd_alias.c — `trmx alias set MODULE@ALIAS VERSION`, `trmx alias rm MODULE@ALIAS`, and `trmx
 * alias [list] [MODULE]`. Contexts bound to an alias follow it when it moves.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx alias set MODULE@ALIAS VERSION [--force] [--json] [--home DIR]\n"
	       "       trmx alias rm MODULE@ALIAS [--json] [--home DIR]\n"
	       "       trmx alias [list] [MODULE] [--json] [--home DIR]\n"
	       "Point an alias (champion, stable, ...) at an installed version, or remove it. Contexts\n"
	       "bound to MODULE@ALIAS follow the alias at their next dispatch. An alias is [a-z][a-z0-9_-]*\n"
	       "and never a version. Every change is kept in the history. A move that would change the task\n"
	       "(codec or its parameters) of a context following the alias is refused without --force.\n");
}

/* "module@alias" -> its two halves (module at most its limit, alias too). */
static int split(const char *s, char *module, char *alias)
{
	const char *at = strchr(s, '@');
	if (!at || at == s || !at[1] || (size_t)(at - s) > TRMX_MANIFEST_NAME_MAX || strlen(at + 1) > TRMX_ALIAS_MAX)
		return cli_usage_error("alias", "'%s' is not MODULE@ALIAS", s);
	memcpy(module, s, (size_t)(at - s));
	module[at - s] = 0;
	strcpy(alias, at + 1);
	return 0;
}

enum { OPT_HOME = 256, OPT_FORCE, OPT_JSON };

int cmd_alias(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "force", no_argument, NULL, OPT_FORCE },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL;
	unsigned int flags = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_FORCE: flags |= TRMX_BIND_FORCE; break;
		case OPT_JSON: cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("alias", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("alias", "unknown option '%s'", argv[optind - 1]);
		}
	}
	const char *verb = optind < argc ? argv[optind++] : "list";
	char module[TRMX_MANIFEST_NAME_MAX + 1], alias[TRMX_ALIAS_MAX + 1];
	int nargs = argc - optind;
	if (!strcmp(verb, "set")) {
		if (nargs != 2)
			return cli_usage_error("alias", "set wants MODULE@ALIAS VERSION");
		if (split(argv[optind], module, alias))
			return CLI_USAGE;
	} else if (!strcmp(verb, "rm") || !strcmp(verb, "remove")) {
		if (nargs != 1)
			return cli_usage_error("alias", "rm wants MODULE@ALIAS");
		if (split(argv[optind], module, alias))
			return CLI_USAGE;
	} else if (!strcmp(verb, "list")) {
		if (nargs > 1)
			return cli_usage_error("alias", "list wants at most a MODULE");
	} else {
		return cli_usage_error("alias", "'%s' is not set, rm or list", verb);
	}
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	int rc = CLI_OK;
	if (!strcmp(verb, "set")) {
		if (trmx_registry_alias_set_ex(reg, module, alias, argv[optind + 1], flags, &err) < 0)
			rc = cli_fail(&err);
		else if (cli_json_errors)
			rc = cli_json_print(json_pack("{s:s,s:s,s:s}", "module", module, "alias", alias, "version",
						      argv[optind + 1]));
		else
			printf("%s@%s -> %s\n", module, alias, argv[optind + 1]);
	} else if (!strcmp(verb, "list")) {
		trmx_alias_info *as = NULL;
		size_t n = 0;
		if (trmx_registry_aliases(reg, nargs ? argv[optind] : NULL, &as, &n, &err) < 0) {
			rc = cli_fail(&err);
		} else if (cli_json_errors) {
			json_t *a = json_array();
			for (size_t i = 0; i < n; i++)
				json_array_append_new(a, json_pack("{s:s,s:s,s:s,s:s,s:s}", "module", as[i].module, "alias",
								   as[i].alias, "version", as[i].module_version, "updated_at",
								   as[i].updated_at, "updated_by", as[i].updated_by));
			rc = cli_json_print(json_pack("{s:o}", "aliases", a));
		} else {
			for (size_t i = 0; i < n; i++)
				printf("%s@%s -> %s (since %s, by %s)\n", as[i].module, as[i].alias, as[i].module_version,
				       as[i].updated_at, as[i].updated_by);
			if (!n)
				printf("no aliases\n");
		}
		free(as);
	} else {
		if (trmx_registry_alias_remove(reg, module, alias, &err) < 0)
			rc = cli_fail(&err);
		else if (cli_json_errors)
			rc = cli_json_print(json_pack("{s:s,s:s,s:n,s:b}", "module", module, "alias", alias, "version",
						      "removed", 1));
		else
			printf("removed alias %s@%s\n", module, alias);
	}
	trmx_registry_free(reg);
	return rc;
}
