/*
 * cmd_bind.c — `trmx bind CONTEXT TARGET [--canary TARGET --share P]`, `trmx unbind CONTEXT` and
 * `trmx rollback CONTEXT`: the bindings of course items to modules. Every change is kept: a
 * rollback goes back one change (twice: two changes).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { OPT_HOME = 256, OPT_CANARY, OPT_SHARE, OPT_FORCE, OPT_JSON };

/* A context's binding as --json gives it (docs/CLI-JSON.md): the same object for bind, unbind and
 * rollback, and as `trmx list --json` lists bindings. */
static json_t *binding_json(trmx_registry *reg, const char *context)
{
	trmx_binding_info *b = NULL;
	size_t n = 0;
	trmx_resolution res;
	trmx_error e2 = { 0, "" };
	json_t *o;
	if (trmx_registry_bindings(reg, context, &b, &n, &e2) == 0 && n == 1) {
		o = json_pack("{s:s,s:s,s:o,s:f,s:I}", "context", context, "target", b[0].target, "canary",
			      b[0].canary[0] ? json_string(b[0].canary) : json_null(), "share", b[0].share, "rollbacks",
			      (json_int_t)b[0].rollbacks);
		if (o && trmx_registry_resolve(reg, context, NULL, &res, &e2) == 0)
			json_object_set_new(o, "serves", json_pack("{s:s,s:s}", "module", res.module, "version",
								   res.module_version));
	} else {
		o = json_pack("{s:s,s:n,s:n,s:f,s:o}", "context", context, "target", "canary", "share", 0.0, "serves",
			      json_null());
	}
	free(b);
	return o;
}

static void help_bind(void)
{
	printf("usage: trmx bind CONTEXT TARGET [--canary TARGET --share P] [--force] [--json] [--home DIR]\n"
	       "Bind a context (a course item: any name without '@') to a TARGET: MODULE (its highest\n"
	       "active version), MODULE@VERSION, MODULE@ALIAS (follows the alias when it moves) or\n"
	       "MODULE@sha256:HEX. With --canary, the share P of learners (0..1, or a percentage like\n"
	       "10%%) is sent to the canary instead, each learner always to the same side (a hash of\n"
	       "learner and context); runs without a learner go to TARGET. The binding replaced is kept\n"
	       "for `trmx rollback`. A TARGET or canary for another task (codec or its parameters, say\n"
	       "sudoku size 9 where the context serves size 4) than the context serves now is refused.\n"
	       "Options:\n"
	       "      --home DIR        TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --canary TARGET   a second module version for a share of learners\n"
	       "      --share P         the canary's share, 0..1 or N%%\n"
	       "      --force           bind even when the task differs from what the context serves\n"
	       "      --json            the binding as one JSON object (docs/CLI-JSON.md)\n"
	       "  -h, --help            this help\n");
}

static bool parse_share(const char *s, double *out)
{
	char *end;
	double v = strtod(s, &end);
	if (end == s)
		return false;
	if (*end == '%') {
		v /= 100.0;
		end++;
	}
	if (*end || !(v >= 0.0 && v <= 1.0))
		return false;
	*out = v;
	return true;
}

int cmd_bind(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME }, { "canary", required_argument, NULL, OPT_CANARY },
		{ "share", required_argument, NULL, OPT_SHARE }, { "force", no_argument, NULL, OPT_FORCE },
		{ "json", no_argument, NULL, OPT_JSON },         { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *canary = NULL;
	double share = -1;
	unsigned int flags = 0;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_CANARY: canary = optarg; break;
		case OPT_FORCE: flags |= TRMX_BIND_FORCE; break;
		case OPT_JSON: cli_json_errors = true; break;
		case OPT_SHARE:
			if (!parse_share(optarg, &share))
				return cli_usage_error("bind", "--share is a number in [0, 1] or a percentage, not '%s'", optarg);
			break;
		case 'h': help_bind(); return CLI_OK;
		case ':': return cli_usage_error("bind", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("bind", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 2)
		return cli_usage_error("bind", "expects CONTEXT TARGET");
	if (canary && share < 0)
		return cli_usage_error("bind", "--canary needs --share P");
	if (!canary && share >= 0)
		return cli_usage_error("bind", "--share goes with --canary");
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	const char *context = argv[optind], *target = argv[optind + 1];
	int rc = CLI_OK;
	if (trmx_registry_bind_ex(reg, context, target, canary, canary ? share : 0.0, flags, &err) < 0) {
		rc = cli_fail(&err);
	} else if (cli_json_errors) {
		rc = cli_json_print(binding_json(reg, context));
	} else {
		trmx_resolution res;
		printf("%s -> %s", context, target);
		if (canary)
			printf(", canary %s for %g%% of learners", canary, share * 100.0);
		if (trmx_registry_resolve(reg, context, NULL, &res, &err) == 0)
			printf(" (serves %s %s)", res.module, res.module_version);
		printf("\n");
	}
	trmx_registry_free(reg);
	return rc;
}

/* unbind and rollback: one context, --home. */
static int one_context(int argc, char **argv, const char *cmd, const char *usage, const char **home)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: *home = optarg; break;
		case OPT_JSON: cli_json_errors = true; break;
		case 'h': printf("%s", usage); return -1;
		case ':': return cli_usage_error(cmd, "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error(cmd, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error(cmd, "expects one CONTEXT");
	return 0;
}

int cmd_unbind(int argc, char **argv)
{
	const char *home = NULL;
	int u = one_context(argc, argv, "unbind",
			    "usage: trmx unbind CONTEXT [--json] [--home DIR]\n"
			    "Remove a context's binding: its runs fail until it is bound again. The binding is kept\n"
			    "for `trmx rollback`.\n", &home);
	if (u)
		return u < 0 ? CLI_OK : u;
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	int rc = CLI_OK;
	if (trmx_registry_unbind(reg, argv[optind], &err) < 0)
		rc = cli_fail(&err);
	else if (cli_json_errors)
		rc = cli_json_print(binding_json(reg, argv[optind]));
	else
		printf("%s unbound\n", argv[optind]);
	trmx_registry_free(reg);
	return rc;
}

int cmd_rollback(int argc, char **argv)
{
	const char *home = NULL;
	int u = one_context(argc, argv, "rollback",
			    "usage: trmx rollback CONTEXT [--json] [--home DIR]\n"
			    "Put a context back on the binding it had before its last bind, unbind or rollback\n"
			    "(twice: two changes back). Refused when that binding's module version is gone or\n"
			    "quarantined.\n", &home);
	if (u)
		return u < 0 ? CLI_OK : u;
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	int rc = CLI_OK;
	const char *context = argv[optind];
	if (trmx_registry_rollback(reg, context, &err) < 0) {
		rc = cli_fail(&err);
	} else if (cli_json_errors) {
		rc = cli_json_print(binding_json(reg, context));
	} else {
		trmx_binding_info *b = NULL;
		size_t n = 0;
		trmx_resolution res;
		if (trmx_registry_bindings(reg, context, &b, &n, &err) == 0 && n == 1) {
			printf("%s -> %s", context, b[0].target);
			if (b[0].canary[0])
				printf(", canary %s for %g%% of learners", b[0].canary, b[0].share * 100.0);
			if (trmx_registry_resolve(reg, context, NULL, &res, &err) == 0)
				printf(" (serves %s %s)", res.module, res.module_version);
			printf("\n");
		} else {
			printf("%s unbound (as it was before)\n", context);
		}
		free(b);
	}
	trmx_registry_free(reg);
	return rc;
}
