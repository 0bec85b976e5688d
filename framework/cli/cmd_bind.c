/*
 * cmd_bind.c — `trmx bind CONTEXT TARGET [--canary TARGET --share P]`, `trmx unbind CONTEXT` and
 * `trmx rollback CONTEXT`: the bindings of course items to modules. Every change is kept: a
 * rollback goes back one change (twice: two changes).
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

enum { OPT_HOME = 256, OPT_CANARY, OPT_SHARE };

static void help_bind(void)
{
	printf("usage: trmx bind CONTEXT TARGET [--canary TARGET --share P] [--home DIR]\n"
	       "Bind a context (a course item: any name without '@') to a TARGET: MODULE (its highest\n"
	       "active version), MODULE@VERSION, MODULE@ALIAS (follows the alias when it moves) or\n"
	       "MODULE@sha256:HEX. With --canary, the share P of learners (0..1, or a percentage like\n"
	       "10%%) is sent to the canary instead, each learner always to the same side (a hash of\n"
	       "learner and context); runs without a learner go to TARGET. The binding replaced is kept\n"
	       "for `trmx rollback`.\n"
	       "Options:\n"
	       "      --home DIR        TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --canary TARGET   a second module version for a share of learners\n"
	       "      --share P         the canary's share, 0..1 or N%%\n"
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
		{ "share", required_argument, NULL, OPT_SHARE }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *canary = NULL;
	double share = -1;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_CANARY: canary = optarg; break;
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
	if (trmx_registry_bind(reg, context, target, canary, canary ? share : 0.0, &err) < 0) {
		rc = cli_fail(&err);
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
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: *home = optarg; break;
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
			    "usage: trmx unbind CONTEXT [--home DIR]\n"
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
	else
		printf("%s unbound\n", argv[optind]);
	trmx_registry_free(reg);
	return rc;
}

int cmd_rollback(int argc, char **argv)
{
	const char *home = NULL;
	int u = one_context(argc, argv, "rollback",
			    "usage: trmx rollback CONTEXT [--home DIR]\n"
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
