/*
 * main.c — entry of the `trmx` command: global options, then dispatch to a subcommand from one
 * table. Each subcommand lives in cmd_<name>.c and prints its own --help.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "eval", cmd_eval, "run a data set through weights: exact, open-cell and token accuracy, steps" },
	{ "train", cmd_train, "train a model from a YAML config (progress, evaluations, checkpoints)" },
	{ "grad", cmd_grad, "one training step from the initial state: loss and every gradient" },
	{ "forward", cmd_forward, "run ACT steps on token ids, write logits and Q logits (.npy)" },
	{ "gen", cmd_gen, "generate Sudoku and maze puzzles with their solutions (CSV or text)" },
	{ "inspect", cmd_inspect, "show a package: name, version, task, engine, metrics, signature, files" },
	{ "keygen", cmd_keygen, "make an Ed25519 key pair for signing packages" },
	{ "pack", cmd_pack, "pack a module folder into NAME-VERSION.trmx (reproducibly)" },
	{ "sign", cmd_sign, "sign a package's manifest with an Ed25519 secret key" },
	{ "solve", cmd_solve, "solve one puzzle and draw the answer; --trace shows every ACT step" },
	{ "trust", cmd_trust, "manage trusted public keys and the signature policy" },
	{ "verify", cmd_verify, "check a package: structure, sizes, SHA-256, signature, weights, examples" },
	{ "version", cmd_version, "print the version of trmx and of its libraries" },
	{ "install", cmd_install, "install a package into TRMX_HOME: verify, unpack, self-test, record (all or nothing)" },
	{ "list", cmd_list, "list installed modules, versions, aliases and context bindings" },
	{ "show", cmd_show, "show a module version or a context: manifest, store, database, usage from the log" },
	{ "remove", cmd_remove, "remove an installed module version (refused while a context uses it)" },
	{ "alias", cmd_alias, "set, remove or list aliases: trmx alias set MODULE@ALIAS VERSION" },
	{ "bind", cmd_bind, "bind a context to a target, optionally with a canary taking a share of learners" },
	{ "unbind", cmd_unbind, "unbind a context (kept for rollback)" },
	{ "rollback", cmd_rollback, "put a context back on the binding it had before" },
	{ "quarantine", cmd_quarantine, "stop dispatching to a module version (or --release it)" },
	{ "history", cmd_history, "every install, alias, binding and quarantine change: who and when" },
	{ "run", cmd_run, "run puzzles through an installed module or a context, log each run and its verdict" },
	{ "feedback", cmd_feedback, "record a verdict on a logged run: correct, incorrect or partial" },
	{ "report", cmd_report, "accuracy, steps, latency, calibration, canary verdicts: text, CSV, JSON or HTML" },
	{ "sql", cmd_sql, "one read-only SQL query over the log, the registry and the module databases" },
	{ "export", cmd_export, "export the log as xAPI statements, or corrections as a training data set" },
	{ "erase", cmd_erase, "erase a learner's runs and feedback everywhere (recorded as counts)" },
	{ "purge", cmd_purge, "delete runs older than a duration, with their feedback (recorded as counts)" },
	{ "log", cmd_log, "the usage log itself: migrate it; a central log's status and outbox push" },
	{ "config", cmd_config, "a home's settings: log.url (a central PostgreSQL log), host.id" },
	{ "serve", cmd_serve, "serve the home's contexts over HTTP: solve, stream steps, feedback, reports, admin" },
	{ "token", cmd_token, "add, list or revoke the bearer tokens `trmx serve` accepts" },
	{ "publish", cmd_publish, "add a verified package to a module index folder and sign the index" },
	{ "index", cmd_index, "add, list or remove the module indexes (URL and signer) this home trusts" },
	{ "search", cmd_search, "search the packages of the module indexes: name, version, task, metrics" },
	{ "pull", cmd_pull, "download a package from the module indexes, resumable, checked against the index" },
	{ "outdated", cmd_outdated, "installed modules with a newer version in the module indexes" },
	{ "upgrade", cmd_upgrade, "install the newest version of a module from the indexes; --alias moves an alias" },
	{ "lti", cmd_lti, "register LTI 1.3 platforms (Moodle, Canvas) and print the tool's public keys" },
};

/* TRMX_MATMUL / --matmul: fp32 (the default) or bf16, refused where the CPU lacks AVX-512 BF16. */
static int set_matmul(const char *what, const char *v)
{
	trmx_matmul m;
	if (!strcmp(v, "fp32"))
		m = TRMX_MATMUL_FP32;
	else if (!strcmp(v, "bf16"))
		m = TRMX_MATMUL_BF16;
	else
		return fprintf(stderr, "trmx: %s: '%s' is not fp32 or bf16\n", what, v), CLI_USAGE;
	if (trmx_set_matmul(m) < 0)
		return cli_failf("%s bf16: this CPU lacks AVX-512 BF16 (cpuid 7.1 EAX bit 5, avx512_bf16 "
				 "in /proc/cpuinfo); use fp32", what);
	return CLI_OK;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: trmx [--threads N] [--matmul fp32|bf16] [--log URL] <command> [options]\n\n"
		   "trmx runs, packages and analyses tiny recursive reasoning models.\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "  %-10s %s\n", "help", "print a command's own help: trmx help CMD is trmx CMD --help");
	fprintf(f, "\nGlobal options:\n"
		   "  --threads N  kernel threads (default: all CPUs; also TRMX_THREADS)\n"
		   "  --matmul P   operands of the matrix products: fp32 (default) or bf16 (AVX-512 BF16 CPUs;\n"
		   "               fp32 weights and accumulation; also TRMX_MATMUL)\n"
		   "  --log URL    the usage log for this command: a postgresql:// URL of a central log, or\n"
		   "               'sqlite' for HOME/log.db (default: $TRMX_LOG_URL, else the home's log.url)\n"
		   "  -v, --verbose  debug messages of the library on standard error\n"
		   "  -h, --help   this help; `trmx help <command>` or `trmx <command> --help` for a command's own\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t c = 0; c < sizeof commands / sizeof *commands; c++) {
		if (!strcmp(name, commands[c].name))
			return &commands[c];
	}
	return NULL;
}

/* `trmx help [CMD [SUB]]`: the overview, or CMD's --help (with SUB: `trmx CMD SUB --help`, for
 * the commands with subcommands such as token and index). Not in the table: it needs the table. */
static int cmd_help(int argc, char **argv)
{
	if (argc < 2 || cli_is_help(argv[1]) || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (argc > 3)
		return cli_usage_error("help", "wants one command (and at most one subcommand), not %d words", argc - 1);
	const struct command *c = find_command(argv[1]);
	if (!c) {
		fprintf(stderr, "trmx help: '%s' is not a trmx command (see 'trmx --help')\n", argv[1]);
		return CLI_USAGE;
	}
	char help[] = "--help";
	char *args[] = { argv[1], argc == 3 ? argv[2] : help, argc == 3 ? help : NULL, NULL };
	return c->run(argc == 3 ? 3 : 2, args);
}

static void log_to_stderr(trmx_diag_level level, const char *message, void *user)
{
	static const char *const names[] = { "error", "warning", "info", "debug" };
	int verbose = *(const int *)user;
	if ((int)level <= verbose)
		fprintf(stderr, "trmx: %s: %s\n", names[level], message);
}

int cli_fail(const trmx_error *err)
{
	const char *m = err && err->message[0] ? err->message : trmx_strerror(err ? err->code : TRMX_ERROR);
	fprintf(stderr, "trmx: %s\n", m);
	cli_json_error(cli_error_code(err ? err->code : TRMX_ERROR), m);
	return CLI_FAIL;
}

int cli_failf(const char *fmt, ...)
{
	char m[TRMX_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	fprintf(stderr, "trmx: %s\n", m);
	cli_json_error("ERROR", m);
	return CLI_FAIL;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
	char m[TRMX_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(m, sizeof m, fmt, ap);
	va_end(ap);
	fprintf(stderr, "trmx %s: %s\n(see 'trmx %s --help')\n", cmd, m, cmd);
	cli_json_error("EUSAGE", m);
	return CLI_USAGE;
}

int main(int argc, char **argv)
{
	static int verbose = TRMX_DIAG_WARN;
	trmx_diag_set(log_to_stderr, &verbose);
	const char *env = getenv("TRMX_THREADS");
	if (env && *env)
		trmx_set_threads(atoi(env));
	const char *mm = getenv("TRMX_MATMUL");
	int rc;
	if (mm && *mm && (rc = set_matmul("TRMX_MATMUL", mm)) != CLI_OK)
		return rc;

	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (cli_is_help(argv[i])) {
			usage(stdout);
			return CLI_OK;
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			long n;
			if (!cli_parse_int("", "--threads", argv[++i], 1, 1024, &n))
				return CLI_USAGE;
			trmx_set_threads((int)n);
		} else if (!strcmp(argv[i], "--matmul") && i + 1 < argc) {
			int rc2 = set_matmul("--matmul", argv[++i]);
			if (rc2 != CLI_OK)
				return rc2;
		} else if (!strcmp(argv[i], "--log") && i + 1 < argc) {
			/* for the library, which reads it wherever the log is opened */
			if (setenv("TRMX_LOG_URL", argv[++i], 1) != 0)
				return cli_failf("cannot set TRMX_LOG_URL");
		} else if (!strcmp(argv[i], "-v") || !strcmp(argv[i], "--verbose")) {
			verbose = TRMX_DIAG_DEBUG;
		} else if (!strcmp(argv[i], "--version")) {
			return cmd_version(1, (char *[]){ "version", NULL });
		} else {
			fprintf(stderr, "trmx: unknown global option '%s'\n\n", argv[i]);
			usage(stderr);
			return CLI_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[i], "help"))
		return cmd_help(argc - i, argv + i);
	const struct command *c = find_command(argv[i]);
	if (c)
		return c->run(argc - i, argv + i);
	fprintf(stderr, "trmx: '%s' is not a trmx command (see 'trmx --help')\n", argv[i]);
	return CLI_USAGE;
}
