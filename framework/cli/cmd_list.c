/*
 * cmd_list.c — `trmx list`: installed modules and versions (state, digest, aliases, install time),
 * then the context bindings with what each resolves to now.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx list [options]\n"
	       "List the installed module versions (state, package digest, aliases, when and by whom they\n"
	       "were installed) and the context bindings (target, canary and share, and the version each\n"
	       "resolves to now).\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --json       one JSON object\n"
	       "  -h, --help       this help\n");
}

enum { OPT_HOME = 256, OPT_JSON };

int cmd_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_JSON: json = cli_json_errors = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("list", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("list", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("list", "unexpected argument '%s'", argv[optind]);
	trmx_registry *reg = cli_registry_read(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	trmx_version_info *vs = NULL;
	trmx_alias_info *as = NULL;
	trmx_binding_info *bs = NULL;
	size_t nv = 0, na = 0, nb = 0;
	int rc = CLI_FAIL;
	if (trmx_registry_versions(reg, NULL, &vs, &nv, &err) < 0 || trmx_registry_aliases(reg, NULL, &as, &na, &err) < 0 ||
	    trmx_registry_bindings(reg, NULL, &bs, &nb, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (json) {
		json_t *root = json_object(), *jv = json_array(), *jb = json_array();
		for (size_t i = 0; i < nv; i++) {
			json_t *al = json_array();
			for (size_t a = 0; a < na; a++)
				if (!strcmp(as[a].module, vs[i].module) && !strcmp(as[a].module_version, vs[i].module_version))
					json_array_append_new(al, json_string(as[a].alias));
			json_array_append_new(jv, json_pack("{s:s,s:s,s:s,s:s,s:o,s:s,s:s,s:s,s:s}", "module", vs[i].module,
							    "version", vs[i].module_version, "digest", vs[i].digest, "state",
							    vs[i].quarantined ? "quarantined" : "active", "aliases", al,
							    "task", vs[i].codec, "task_params", vs[i].codec_params,
							    "installed_at", vs[i].installed_at, "installed_by", vs[i].installed_by));
		}
		for (size_t b = 0; b < nb; b++) {
			trmx_resolution res;
			trmx_error e2;
			json_t *o = json_pack("{s:s,s:s,s:o,s:f,s:I}", "context", bs[b].context, "target", bs[b].target,
					      "canary", bs[b].canary[0] ? json_string(bs[b].canary) : json_null(), "share",
					      bs[b].share, "rollbacks", (json_int_t)bs[b].rollbacks);
			if (trmx_registry_resolve(reg, bs[b].context, NULL, &res, &e2) == 0)
				json_object_set_new(o, "serves", json_pack("{s:s,s:s}", "module", res.module, "version",
									   res.module_version));
			else
				json_object_set_new(o, "error", json_string(e2.message));
			json_array_append_new(jb, o);
		}
		json_object_set_new(root, "home", json_string(trmx_registry_home(reg)));
		json_object_set_new(root, "versions", jv);
		json_object_set_new(root, "bindings", jb);
		json_dumpf(root, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(root);
	} else {
		if (!nv)
			printf("no modules installed in %s\n", trmx_registry_home(reg));
		else
			printf("%-20s %-12s %-12s %-20s %-20s %s\n", "MODULE", "VERSION", "STATE", "DIGEST", "ALIASES", "INSTALLED");
		for (size_t i = 0; i < nv; i++) {
			char al[256] = "";
			for (size_t a = 0; a < na; a++) {
				if (strcmp(as[a].module, vs[i].module) || strcmp(as[a].module_version, vs[i].module_version))
					continue;
				size_t l = strlen(al);
				snprintf(al + l, sizeof al - l, "%s%s", l ? "," : "", as[a].alias);
			}
			char dg[32];
			snprintf(dg, sizeof dg, "sha256:%.12s", vs[i].digest);
			printf("%-20s %-12s %-12s %-20s %-20s %s by %s\n", vs[i].module, vs[i].module_version,
			       vs[i].quarantined ? "quarantined" : "active", dg, al[0] ? al : "-", vs[i].installed_at,
			       vs[i].installed_by);
		}
		if (nb)
			printf("\n%-28s %s\n", "CONTEXT", "BINDING");
		for (size_t b = 0; b < nb; b++) {
			trmx_resolution res;
			trmx_error e2;
			printf("%-28s %s", bs[b].context, bs[b].target);
			if (bs[b].canary[0])
				printf(", canary %s for %g%% of learners", bs[b].canary, bs[b].share * 100.0);
			if (trmx_registry_resolve(reg, bs[b].context, NULL, &res, &e2) == 0)
				printf(" -> %s %s\n", res.module, res.module_version);
			else
				printf(" -> cannot serve: %s\n", e2.message);
		}
	}
	rc = fflush(stdout) == 0 ? CLI_OK : CLI_FAIL;
done:
	free(vs);
	free(as);
	free(bs);
	trmx_registry_free(reg);
	return rc;
}
