/*
 * cmd_serve.c — `trmx serve`: the HTTP service for course servers and learners' browsers
 * (docs/HTTP.md). Signals are taken by this thread alone (sigwait): SIGTERM and SIGINT stop it
 * cleanly (every accepted request answered, its runs committed), SIGHUP reads the tokens again.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/serve.h"

static void help(void)
{
	printf("usage: trmx serve [options]\n"
	       "Serve the home's contexts over HTTP (docs/HTTP.md): solve (JSON, or every ACT step as\n"
	       "Server-Sent Events), feedback, what is bound and installed, the history, the report, and\n"
	       "with an admin token bind, alias, rollback, quarantine and install. Every solve from every\n"
	       "connection runs in shared engine batches; an answer is given only once its runs are in\n"
	       "log.db. SIGTERM or SIGINT: stop accepting, answer what was accepted, exit 0. SIGHUP: read\n"
	       "the tokens file again.\n"
	       "Options:\n"
	       "      --home DIR          TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --listen HOST:PORT  the address (default 127.0.0.1:8080; port 0 picks a free one)\n"
	       "      --tokens FILE       bearer tokens (trmx token add; default HOME/tokens.json when it\n"
	       "                          exists, else no authentication, allowed on loopback only)\n"
	       "      --max-queue N       puzzles waiting for the engine before 503 (default 4096)\n"
	       "      --max-body BYTES    largest JSON body (default 1048576)\n"
	       "      --batch N           engine batch slots (default 64)\n"
	       "      --threads N         kernel threads (default: every CPU)\n"
	       "      --plugins DIR       engine plugins (default: $TRMX_PLUGINS, else plugins/ beside the\n"
	       "                          trmx binary, else ../lib/trmx/plugins from it (an installed\n"
	       "                          trmx), else the built-in engines)\n"
	       "      --port-file FILE    write the port here once listening (for scripts and tests)\n"
	       "      --public-url URL    the URL browsers and LMSs reach this server at, behind a proxy\n"
	       "                          (LTI's absolute URLs; default: the listen address)\n"
	       "      --frame-ancestors S who may embed the learner's page in a frame (a CSP source list;\n"
	       "                          default '*': any course page)\n"
	       "      --index DIR         also serve the module index in DIR read-only at /index/\n"
	       "      --xapi-lrs URL      forward xAPI statements to this LRS as they happen (an outbox\n"
	       "                          in log.db; resent until taken, never twice)\n"
	       "      --xapi-auth U:P     the LRS's HTTP Basic credentials (default $TRMX_XAPI_AUTH)\n"
	       "  -q, --quiet             no access log on standard error\n"
	       "  -h, --help              this help\n");
}

static void access_log(void *user, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

enum { OPT_HOME = 256, OPT_LISTEN, OPT_TOKENS, OPT_QUEUE, OPT_BODY, OPT_BATCH, OPT_THREADS, OPT_PLUGINS, OPT_PORTFILE,
       OPT_PUBLIC, OPT_FRAMES, OPT_INDEX, OPT_LRS, OPT_LRS_AUTH };

int cmd_serve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },       { "listen", required_argument, NULL, OPT_LISTEN },
		{ "tokens", required_argument, NULL, OPT_TOKENS },   { "max-queue", required_argument, NULL, OPT_QUEUE },
		{ "max-body", required_argument, NULL, OPT_BODY },   { "batch", required_argument, NULL, OPT_BATCH },
		{ "threads", required_argument, NULL, OPT_THREADS }, { "plugins", required_argument, NULL, OPT_PLUGINS },
		{ "port-file", required_argument, NULL, OPT_PORTFILE }, { "quiet", no_argument, NULL, 'q' },
		{ "public-url", required_argument, NULL, OPT_PUBLIC }, { "frame-ancestors", required_argument, NULL, OPT_FRAMES },
		{ "index", required_argument, NULL, OPT_INDEX },     { "xapi-lrs", required_argument, NULL, OPT_LRS },
		{ "xapi-auth", required_argument, NULL, OPT_LRS_AUTH }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_server_options o = TRMX_SERVER_OPTIONS_INIT;
	const char *plugins = NULL, *port_file = NULL;
	bool quiet = false;
	long v;
	int c;
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":qh", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: o.home = optarg; break;
		case OPT_LISTEN: o.listen = optarg; break;
		case OPT_TOKENS: o.tokens = optarg; break;
		case OPT_QUEUE:
			if (!cli_parse_int("serve", "--max-queue", optarg, 1, 10000000, &v))
				return CLI_USAGE;
			o.max_queue = (size_t)v;
			break;
		case OPT_BODY:
			if (!cli_parse_int("serve", "--max-body", optarg, 1024, 1L << 30, &v))
				return CLI_USAGE;
			o.max_body = (size_t)v;
			break;
		case OPT_BATCH:
			if (!cli_parse_int("serve", "--batch", optarg, 1, TRMX_SOLVE_BATCH_MAX, &v))
				return CLI_USAGE;
			o.batch = (int)v;
			break;
		case OPT_THREADS:
			if (!cli_parse_int("serve", "--threads", optarg, 1, 1024, &v))
				return CLI_USAGE;
			trmx_set_threads((int)v);
			break;
		case OPT_PLUGINS: plugins = optarg; break;
		case OPT_PORTFILE: port_file = optarg; break;
		case OPT_PUBLIC: o.public_url = optarg; break;
		case OPT_FRAMES: o.frame_ancestors = optarg; break;
		case OPT_INDEX: o.index_dir = optarg; break;
		case OPT_LRS: o.xapi_lrs = optarg; break;
		case OPT_LRS_AUTH: o.xapi_auth = optarg; break;
		case 'q': quiet = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("serve", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("serve", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
	if (!o.xapi_auth)
		o.xapi_auth = getenv("TRMX_XAPI_AUTH");
	o.plugin_dir = cli_plugin_dir(plugins);
	if (!quiet)
		o.access_log = access_log;

	/* every thread the server starts inherits this mask: the signals come to sigwait below */
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	trmx_error err = { 0, "" };
	trmx_server *s = NULL;
	if (trmx_server_start(&s, &o, &err) < 0)
		return cli_fail(&err);
	trmx_registry *reg = cli_registry_open(trmx_server_home(s));
	size_t nb = 0, nv = 0;
	if (reg) {
		trmx_binding_info *bs = NULL;
		trmx_version_info *vs = NULL;
		if (trmx_registry_bindings(reg, NULL, &bs, &nb, &err) < 0)
			nb = 0;
		if (trmx_registry_versions(reg, NULL, &vs, &nv, &err) < 0)
			nv = 0;
		free(bs);
		free(vs);
		trmx_registry_free(reg);
	}
	const char *tp = trmx_server_tokens_path(s);
	fprintf(stderr, "trmx serve: listening on %s (home %s; %zu context%s bound, %zu module version%s installed; %s%s%s)\n",
		trmx_server_url(s), trmx_server_home(s), nb, nb == 1 ? "" : "s", nv, nv == 1 ? "" : "s",
		tp ? "bearer tokens from " : "no authentication: loopback only", tp ? tp : "", "");
	if (port_file) {
		char tmp[4096];
		snprintf(tmp, sizeof tmp, "%s.tmp", port_file);
		FILE *f = fopen(tmp, "w");
		if (!f || fprintf(f, "%u\n", trmx_server_port(s)) < 0 || fclose(f) != 0 || rename(tmp, port_file) != 0) {
			fprintf(stderr, "trmx: cannot write the port to %s\n", port_file);
			trmx_server_free(s);
			return CLI_FAIL;
		}
	}
	for (;;) {
		int sig = 0;
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			if (trmx_server_reload_tokens(s, &err) < 0)
				fprintf(stderr, "trmx serve: the tokens stay as they were: %s\n", err.message);
			else
				fprintf(stderr, "trmx serve: %zu tokens loaded from %s\n", trmx_server_token_count(s),
					trmx_server_tokens_path(s));
			continue;
		}
		fprintf(stderr, "trmx serve: %s: answering the requests already accepted, then stopping\n",
			sig == SIGINT ? "SIGINT" : "SIGTERM");
		break;
	}
	trmx_server_free(s);
	fprintf(stderr, "trmx serve: stopped\n");
	return CLI_OK;
}
