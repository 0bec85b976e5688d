/*
 * cmd_upgrade.c — `trmx outdated` and `trmx upgrade NAME [--alias A]`: installed modules against
 * the newest versions the home's module indexes list; an upgrade pulls and installs the newer
 * version (its self-test is part of the install) and only then moves the alias.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "trmx/index.h"

static void outdated_help(void)
{
	printf("usage: trmx outdated [--home DIR]\n"
	       "For each installed module, the newest version installed and the newest version the\n"
	       "module indexes list, when that is newer (`trmx upgrade NAME` installs it).\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "  -h, --help       this help\n"
	       "Exit codes: 0 ok, 1 an index or the registry could not be read, 2 usage.\n");
}

static void upgrade_help(void)
{
	printf("usage: trmx upgrade NAME [--alias ALIAS] [--home DIR] [options]\n"
	       "Install the newest version of module NAME that the indexes list, when it is newer than\n"
	       "every version installed: pulled and checked as `trmx pull` does, installed all or\n"
	       "nothing as `trmx install` does (verify, unpack, self-test, record). With --alias, the\n"
	       "alias NAME@ALIAS then moves to the new version; contexts bound to it follow at their\n"
	       "next dispatch. A failed self-test installs nothing and moves nothing.\n"
	       "Options:\n"
	       "  -a, --alias ALIAS   move NAME@ALIAS to the new version after its install\n"
	       "      --home DIR      TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --plugins DIR   engine plugins for the self-test\n"
	       "  -q, --quiet         print errors only\n"
	       "  -h, --help          this help\n"
	       "Exit codes: 0 upgraded or up to date, 1 a failure (nothing changed), 2 usage.\n");
}

enum { OPT_HOME = 256, OPT_PLUGINS };

/* The newest installed version of each module: versions are ordered by module and SemVer, so
 * the last of each run. */
static bool newest_of_run(const trmx_version_info *v, size_t n, size_t i)
{
	return i + 1 == n || strcmp(v[i].module, v[i + 1].module);
}

int cmd_outdated(int argc, char **argv)
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
		case 'h': outdated_help(); return CLI_OK;
		case ':': return cli_usage_error("outdated", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("outdated", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("outdated", "unexpected argument '%s'", argv[optind]);
	trmx_registry *reg = cli_registry_open(home_opt);
	if (!reg)
		return CLI_FAIL;
	trmx_error err;
	trmx_version_info *v = NULL;
	size_t n = 0, k = 0, late = 0;
	trmx_index **idx = NULL;
	int rc = CLI_OK;
	if (trmx_registry_versions(reg, NULL, &v, &n, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	rc = cli_indexes_load(trmx_registry_home(reg), &idx, &k);
	for (size_t i = 0; i < n; i++) {
		if (!newest_of_run(v, n, i))
			continue;
		const trmx_index_entry *best = NULL;
		for (size_t j = 0; j < k; j++) {
			const trmx_index_entry *e = trmx_index_lookup(idx[j], v[i].module, NULL);
			if (e && (!best || trmx_semver_compare(e->version, best->version) > 0))
				best = e;
		}
		if (best && trmx_semver_compare(best->version, v[i].module_version) > 0) {
			printf("%-20s installed %-10s available %-10s (trmx upgrade %s)\n", v[i].module, v[i].module_version,
			       best->version, v[i].module);
			late++;
		}
	}
	if (!late)
		fprintf(stderr, "trmx: outdated: every installed module is at the newest version the indexes list\n");
done:
	cli_indexes_free(idx, k);
	free(v);
	trmx_registry_free(reg);
	return rc;
}

static void on_problem(void *user, int code, const char *message)
{
	fprintf(stderr, "trmx: upgrade: %s\n", message);
}

int cmd_upgrade(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "alias", required_argument, NULL, 'a' },     { "home", required_argument, NULL, OPT_HOME },
		{ "plugins", required_argument, NULL, OPT_PLUGINS }, { "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },            { NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL, *alias = NULL, *plugins = NULL;
	bool quiet = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":a:qh", opts, NULL)) != -1) {
		switch (c) {
		case 'a': alias = optarg; break;
		case OPT_HOME: home_opt = optarg; break;
		case OPT_PLUGINS: plugins = optarg; break;
		case 'q': quiet = true; break;
		case 'h': upgrade_help(); return CLI_OK;
		case ':': return cli_usage_error("upgrade", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("upgrade", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("upgrade", "expects one module NAME");
	const char *name = argv[optind];
	if (strchr(name, '@'))
		return cli_usage_error("upgrade", "give the module NAME; the newest version listed is taken");
	trmx_registry *reg = cli_registry_open(home_opt);
	if (!reg)
		return CLI_FAIL;
	trmx_error err;
	trmx_version_info *v = NULL;
	size_t n = 0;
	trmx_index *idx = NULL;
	const trmx_index_entry *e = NULL;
	char *path = NULL;
	int rc = CLI_OK;
	const char *home = trmx_registry_home(reg);
	if (trmx_registry_versions(reg, name, &v, &n, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (n == 0) {
		rc = cli_failf("upgrade: %s is not installed (install it first: trmx install %s@VERSION)", name, name);
		goto done;
	}
	const char *have = v[n - 1].module_version;
	if (trmx_index_find(home, name, NULL, NULL, &idx, &e, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (trmx_semver_compare(e->version, have) <= 0) {
		if (!quiet)
			printf("%s is up to date: %s installed, %s the newest listed; nothing changed\n", name, have, e->version);
		goto done;
	}
	char spec[TRMX_MANIFEST_NAME_MAX + TRMX_MANIFEST_VERSION_MAX + 2];
	snprintf(spec, sizeof spec, "%s@%s", e->name, e->version);
	if ((rc = cli_pull(home, spec, quiet, &path)) != CLI_OK)
		goto done;
	trmx_install_options io = TRMX_INSTALL_OPTIONS_INIT;
	trmx_install_result r;
	io.plugin_dir = cli_plugin_dir(plugins);
	io.on_problem = on_problem;
	if (trmx_registry_install(reg, path, &io, &r, &err) < 0) {
		fprintf(stderr, "trmx: upgrade: %s\n", err.message);
		fprintf(stderr, "%s: NOT INSTALLED (nothing changed%s)\n", spec, alias ? "; the alias did not move" : "");
		rc = CLI_FAIL;
		goto done;
	}
	if (!quiet)
		printf("installed %s %s (sha256:%.12s): self-test ran %d example%s, %d of %d with an answer solved\n", r.module,
		       r.module_version, r.digest, r.examples, r.examples == 1 ? "" : "s", r.examples_solved,
		       r.examples_labelled);
	if (alias) {
		if (trmx_registry_alias_set(reg, name, alias, r.module_version, &err) < 0) {
			fprintf(stderr, "trmx: upgrade: %s installed, but the alias did not move: %s\n", spec, err.message);
			rc = CLI_FAIL;
			goto done;
		}
		if (!quiet)
			printf("%s@%s -> %s\n", name, alias, r.module_version);
	}
done:
	free(path);
	trmx_index_free(idx);
	free(v);
	trmx_registry_free(reg);
	return rc;
}
