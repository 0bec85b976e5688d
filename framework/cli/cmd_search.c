/*
 * cmd_search.c — `trmx search [TEXT]`: the packages of the home's module indexes, refreshed and
 * checked first (trmx_index_refresh), whose name, description, task or engine holds TEXT.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "trmx/index.h"

static void help(void)
{
	printf("usage: trmx search [TEXT] [--home DIR] [--json]\n"
	       "List the packages of the module indexes this home trusts whose name, description,\n"
	       "task or engine contains TEXT (ignoring case; every package without TEXT): name,\n"
	       "version, task, engine, the exact accuracy of its first metric, its signer and its\n"
	       "description. Each index is fetched and checked first, as `trmx pull` does.\n"
	       "Options:\n"
	       "      --home DIR   TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --json       one JSON object a line\n"
	       "  -h, --help       this help\n"
	       "Exit codes: 0 ok (also when nothing matches), 1 an index could not be read, 2 usage.\n");
}

enum { OPT_HOME = 256, OPT_JSON };

static bool has(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++)
		if (!strncasecmp(hay, needle, n))
			return true;
	return n == 0;
}

/* A JSON string of `s` (printable ASCII kept, the rest \u-escaped byte-wise is enough for
 * names; descriptions go through as UTF-8 with quotes, backslashes and controls escaped). */
static void json_str(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int cmd_search(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },
		{ "json", no_argument, NULL, OPT_JSON },
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
		case OPT_HOME: home_opt = optarg; break;
		case OPT_JSON: json = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("search", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("search", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind > 1)
		return cli_usage_error("search", "expects at most one TEXT");
	const char *text = optind < argc ? argv[optind] : "";
	trmx_error err;
	char *home = NULL;
	if (trmx_home_resolve(home_opt, &home, &err) < 0)
		return cli_fail(&err);
	trmx_index **v = NULL;
	size_t n = 0, found = 0;
	int rc = cli_indexes_load(home, &v, &n);
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < trmx_index_count(v[i]); k++) {
			const trmx_index_entry *e = trmx_index_at(v[i], k);
			if (!has(e->name, text) && !has(e->description, text) && !has(e->task, text) && !has(e->engine, text))
				continue;
			found++;
			double acc = e->nmetrics ? e->metrics[0].exact_accuracy : -1;
			if (json) {
				printf("{\"name\":");
				json_str(e->name);
				printf(",\"version\":");
				json_str(e->version);
				printf(",\"digest\":\"%s\",\"size\":%llu,\"task\":", e->digest, (unsigned long long)e->size);
				json_str(e->task);
				printf(",\"engine\":");
				json_str(e->engine);
				printf(",\"signer\":\"%s\",\"index\":\"%s\",\"description\":", e->signer, trmx_index_signer(v[i]));
				json_str(e->description);
				printf("}\n");
				continue;
			}
			char accs[16] = "-";
			if (acc >= 0)
				snprintf(accs, sizeof accs, "%.3f", acc);
			printf("%-20s %-10s %-8s %-5s exact %-6s signer %-16s %.60s\n", e->name, e->version, e->task, e->engine,
			       accs, *e->signer ? e->signer : "(unsigned)", e->description);
		}
	if (!found && !json)
		fprintf(stderr, "trmx: search: no package matches '%s'\n", text);
	cli_indexes_free(v, n);
	free(home);
	return rc;
}
