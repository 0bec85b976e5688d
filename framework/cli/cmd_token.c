/*
 * cmd_token.c — `trmx token add|list|revoke`: the bearer tokens `trmx serve` accepts
 * (TRMX_HOME/tokens.json, trmx/tokens.h). `add` prints the new token as the only line of
 * standard output, so that a script can capture it; the file keeps only its hash.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"

#define FILE_OPTIONS                                                                               \
	"      --home DIR        TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"     \
	"      --tokens FILE     the tokens file (default: TRMX_HOME/" TRMX_TOKENS_FILE ")\n"

static void help(void)
{
	printf("usage: trmx token add NAME --scopes SCOPES [--context CTX]... [options]\n"
	       "       trmx token list [--json] [options]\n"
	       "       trmx token revoke NAME [options]\n"
	       "Manage the bearer tokens `trmx serve` accepts. A token has a name, scopes (solve,\n"
	       "feedback, read, admin; admin implies the others) and the contexts it may use (all when\n"
	       "none is given). The tokens file keeps a hash of each token, never the token itself, and\n"
	       "must be mode 0600. `trmx token add --help` and the others show each command's options.\n"
	       "Options:\n" FILE_OPTIONS
	       "  -h, --help            this help\n");
}

static void help_add(void)
{
	printf("usage: trmx token add NAME --scopes SCOPES [--context CTX]... [options]\n"
	       "Make a token named NAME (1 to 64 characters of A-Z, a-z, 0-9, '.', '_', '-') and print\n"
	       "it once, as the only line of standard output: it cannot be shown again. A context ending\n"
	       "in '*' is a prefix (algebra/* is every context under algebra/).\n"
	       "Options:\n"
	       "      --scopes LIST     comma-separated: solve, feedback, read, admin (required)\n"
	       "  -c, --context CTX     a context the token may use (repeat; default: every context)\n" FILE_OPTIONS
	       "  -h, --help            this help\n");
}

static void help_list(void)
{
	printf("usage: trmx token list [--json] [options]\n"
	       "List the tokens: name, scopes, contexts, when each was made (never a token or its hash).\n"
	       "Options:\n"
	       "      --json            one JSON object\n" FILE_OPTIONS
	       "  -h, --help            this help\n");
}

static void help_revoke(void)
{
	printf("usage: trmx token revoke NAME [options]\n"
	       "Remove token NAME from the tokens file. A running `trmx serve` reads the file again on\n"
	       "SIGHUP (kill -HUP PID) and refuses the token from then on.\n"
	       "Options:\n" FILE_OPTIONS
	       "  -h, --help            this help\n");
}

enum { OPT_HOME = 256, OPT_TOKENS, OPT_JSON };

/* The tokens file: --tokens, else TRMX_HOME/tokens.json (malloc'd); prints the error on failure. */
static char *tokens_path(const char *home_opt, const char *file_opt)
{
	trmx_error err;
	char *home = NULL, *path = NULL;
	if (file_opt)
		path = strdup(file_opt);
	else if (trmx_home_resolve(home_opt, &home, &err) < 0) {
		cli_fail(&err);
		return NULL;
	} else if ((path = malloc(strlen(home) + sizeof "/" TRMX_TOKENS_FILE)))
		sprintf(path, "%s/%s", home, TRMX_TOKENS_FILE);
	free(home);
	if (!path)
		cli_failf("out of memory");
	return path;
}

/* "solve,feedback" for a mask. */
static void scopes_text(unsigned scopes, char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = 0;
	for (unsigned bit = 1; bit <= TRMX_SCOPE_ADMIN; bit <<= 1)
		if (scopes & bit)
			o += (size_t)snprintf(buf + o, o < cap ? cap - o : 0, "%s%s", o ? "," : "",
					      trmx_scope_name((trmx_scope)bit));
}

static int token_add(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "scopes", required_argument, NULL, 's' }, { "context", required_argument, NULL, 'c' },
		{ "home", required_argument, NULL, OPT_HOME }, { "tokens", required_argument, NULL, OPT_TOKENS },
		{ "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *file = NULL, *scopes_arg = NULL;
	const char **contexts = calloc((size_t)argc, sizeof *contexts);
	size_t ncontexts = 0;
	trmx_error err = { 0, "" };
	unsigned scopes;
	char token[TRMX_TOKEN_SIZE], *path = NULL;
	int c, rc = CLI_USAGE;
	if (!contexts)
		return cli_failf("out of memory");
	opterr = 0;
	optind = 1;
	/* --scopes is long only: -s is gen's --size (docs/CLI.md) */
	while ((c = getopt_long(argc, argv, ":c:h", opts, NULL)) != -1) {
		switch (c) {
		case 's': scopes_arg = optarg; break;
		case 'c': contexts[ncontexts++] = optarg; break;
		case OPT_HOME: home = optarg; break;
		case OPT_TOKENS: file = optarg; break;
		case 'h': help_add(); rc = CLI_OK; goto done;
		case ':': cli_usage_error("token", "%s needs a value", argv[optind - 1]); goto done;
		default: cli_usage_error("token", "unknown option '%s'", argv[optind - 1]); goto done;
		}
	}
	if (argc - optind != 1) {
		cli_usage_error("token", "add expects one NAME");
		goto done;
	}
	if (!scopes_arg) {
		cli_usage_error("token", "add needs --scopes (solve, feedback, read or admin, comma-separated)");
		goto done;
	}
	if (trmx_scopes_parse(scopes_arg, &scopes, &err) < 0) {
		cli_usage_error("token", "--scopes: %s", err.message);
		goto done;
	}
	rc = CLI_FAIL;
	if (!(path = tokens_path(home, file)))
		goto done;
	if (trmx_tokens_add(path, argv[optind], scopes, contexts, ncontexts, token, sizeof token, &err) < 0) {
		cli_fail(&err);
		goto done;
	}
	char list[64], where[32] = "every context";
	scopes_text(scopes, list, sizeof list);
	if (ncontexts)
		snprintf(where, sizeof where, "%zu context%s", ncontexts, ncontexts > 1 ? "s" : "");
	printf("%s\n", token);
	fflush(stdout);
	fprintf(stderr, "trmx: token '%s' (%s; %s) added to %s; it cannot be shown again: keep it now\n",
		argv[optind], list, where, path);
	rc = CLI_OK;
done:
	free(path);
	free(contexts);
	return rc;
}

static int token_list(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, OPT_JSON },       { "home", required_argument, NULL, OPT_HOME },
		{ "tokens", required_argument, NULL, OPT_TOKENS }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *file = NULL;
	bool json = false;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_JSON: json = true; break;
		case OPT_HOME: home = optarg; break;
		case OPT_TOKENS: file = optarg; break;
		case 'h': help_list(); return CLI_OK;
		case ':': return cli_usage_error("token", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("token", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("token", "unexpected argument '%s'", argv[optind]);
	char *path = tokens_path(home, file);
	if (!path)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	trmx_tokens *t = NULL;
	int rc = trmx_tokens_load(&t, path, &err);
	if (rc < 0 && rc != TRMX_ENOTFOUND) {
		free(path);
		return cli_fail(&err);
	}
	rc = CLI_OK; /* no file yet: no tokens */
	size_t n = trmx_tokens_count(t);
	if (json) {
		json_t *arr = json_array();
		for (size_t i = 0; i < n; i++) {
			const trmx_token_info *e = trmx_tokens_entry(t, i);
			json_t *sc = json_array(), *cx = json_array();
			for (unsigned bit = 1; bit <= TRMX_SCOPE_ADMIN; bit <<= 1)
				if (e->scopes & bit)
					json_array_append_new(sc, json_string(trmx_scope_name((trmx_scope)bit)));
			for (size_t k = 0; k < e->ncontexts; k++)
				json_array_append_new(cx, json_string(e->contexts[k]));
			json_array_append_new(arr, json_pack("{s:s,s:o,s:o,s:I}", "name", e->name, "scopes", sc,
							     "contexts", cx, "created", (json_int_t)e->created));
		}
		json_t *root = json_pack("{s:s,s:o}", "path", path, "tokens", arr);
		char *text = root ? json_dumps(root, JSON_COMPACT) : NULL;
		if (text)
			printf("%s\n", text);
		else
			rc = cli_failf("out of memory");
		free(text);
		json_decref(root);
	} else if (!n) {
		printf(t ? "no tokens in %s\n" : "no tokens (no file %s)\n", path);
	} else {
		int w = 4;
		for (size_t i = 0; i < n; i++)
			if ((int)strlen(trmx_tokens_entry(t, i)->name) > w)
				w = (int)strlen(trmx_tokens_entry(t, i)->name);
		printf("%-*s  %-25s  %-20s  %s\n", w, "NAME", "SCOPES", "CREATED", "CONTEXTS");
		for (size_t i = 0; i < n; i++) {
			const trmx_token_info *e = trmx_tokens_entry(t, i);
			char list[64], when[32] = "?";
			struct tm tm;
			time_t s = (time_t)(e->created / 1000);
			scopes_text(e->scopes, list, sizeof list);
			if (gmtime_r(&s, &tm))
				strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%-*s  %-25s  %-20s  ", w, e->name, list, when);
			for (size_t k = 0; k < e->ncontexts; k++)
				printf("%s%s", k ? ", " : "", e->contexts[k]);
			printf("%s\n", e->ncontexts ? "" : "(every context)");
		}
	}
	trmx_tokens_free(t);
	free(path);
	return rc;
}

static int token_revoke(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "tokens", required_argument, NULL, OPT_TOKENS },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *file = NULL;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_TOKENS: file = optarg; break;
		case 'h': help_revoke(); return CLI_OK;
		case ':': return cli_usage_error("token", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("token", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return cli_usage_error("token", "revoke expects one NAME");
	char *path = tokens_path(home, file);
	if (!path)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	int rc = CLI_OK;
	if (trmx_tokens_revoke(path, argv[optind], &err) < 0)
		rc = cli_fail(&err);
	else
		printf("revoked token '%s' in %s; a running `trmx serve` refuses it once it gets SIGHUP "
		       "(kill -HUP PID)\n", argv[optind], path);
	free(path);
	return rc;
}

int cmd_token(int argc, char **argv)
{
	if (argc < 2)
		return cli_usage_error("token", "expects add, list or revoke");
	if (cli_is_help(argv[1])) {
		help();
		return CLI_OK;
	}
	if (!strcmp(argv[1], "add"))
		return token_add(argc - 1, argv + 1);
	if (!strcmp(argv[1], "list"))
		return token_list(argc - 1, argv + 1);
	if (!strcmp(argv[1], "revoke"))
		return token_revoke(argc - 1, argv + 1);
	return cli_usage_error("token", "'%s' is not add, list or revoke", argv[1]);
}
