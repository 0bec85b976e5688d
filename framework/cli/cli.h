/*
 * cli.h — the `trmx` command: one cmd_<name>.c per subcommand, listed in main.c's table.
 * Commands use the public API only (trmx/trmx.h) and these few printing helpers.
 * Exit codes: 0 ok, 1 failure, 2 usage.
 */
#ifndef TRMX_CLI_H
#define TRMX_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "trmx/trmx.h"
#include "trmx/host.h" /* the registry, the log and the host (host.h includes the others) */
#include "trmx/tokens.h"

enum { CLI_OK = 0, CLI_FAIL = 1, CLI_USAGE = 2 };

int cmd_eval(int argc, char **argv);
int cmd_forward(int argc, char **argv);
int cmd_grad(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_gen(int argc, char **argv);
int cmd_solve(int argc, char **argv);
int cmd_version(int argc, char **argv);
int cmd_pack(int argc, char **argv);
int cmd_inspect(int argc, char **argv);
int cmd_verify(int argc, char **argv);
int cmd_sign(int argc, char **argv);
int cmd_keygen(int argc, char **argv);
int cmd_trust(int argc, char **argv);
int cmd_install(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_remove(int argc, char **argv);
int cmd_alias(int argc, char **argv);
int cmd_bind(int argc, char **argv);
int cmd_unbind(int argc, char **argv);
int cmd_rollback(int argc, char **argv);
int cmd_quarantine(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_feedback(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_sql(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_erase(int argc, char **argv);
int cmd_purge(int argc, char **argv);
int cmd_log(int argc, char **argv);
int cmd_config(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_token(int argc, char **argv);
/* Module indexes (cmd_publish.c, cmd_index.c, cmd_search.c, cmd_pull.c, cmd_upgrade.c). */
int cmd_publish(int argc, char **argv);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_outdated(int argc, char **argv);
int cmd_upgrade(int argc, char **argv);
/* Pull NAME[@VERSION] from the indexes of `home` into its cache, with progress on stderr
 * unless `quiet`; *path (malloc'd) is the checked file. Prints the error; CLI_OK or CLI_FAIL. */
int cli_pull(const char *home, const char *spec, bool quiet, char **path);
/* Refresh every index of `home` (struct trmx_index, trmx/index.h): *out those that checked out;
 * CLI_FAIL (after printing why) when one did not or there is none, else CLI_OK. */
struct trmx_index;
int cli_indexes_load(const char *home, struct trmx_index ***out, size_t *n);
void cli_indexes_free(struct trmx_index **v, size_t n);
int cmd_lti(int argc, char **argv);
/* Helpers of the registry commands (util.c). The plugin folder: `opt`, else $TRMX_PLUGINS, else
 * the plugins/ folder beside the trmx binary when there is one, else ../lib/trmx/plugins from it
 * (an installed trmx), else NULL (built-in engines). */
const char *cli_plugin_dir(const char *opt);
/* A puzzle's text (malloc'd): standard input for "-", the file FILE for "@FILE", else `arg`
 * itself, never a file it happens to name; prints the error and returns NULL on failure. */
char *cli_read_text(const char *arg, size_t *len);
/* The file `path` ("-": standard input), at most TRMX_TASK_TEXT_MAX bytes. */
char *cli_read_file(const char *path, size_t *len);
/* Open the registry of --home (or TRMX_HOME); prints the error and returns NULL on failure. */
trmx_registry *cli_registry_open(const char *home_opt);
/* The same for a command that only reads (list, show, history): nothing made, nothing migrated. */
trmx_registry *cli_registry_read(const char *home_opt);

/* Print "trmx: <message>" for a failed library call and return CLI_FAIL. */
int cli_fail(const trmx_error *err);
/* Print "trmx <cmd>: <formatted>" plus a hint to --help, return CLI_USAGE. */
int cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Print "trmx: <formatted>" and return CLI_FAIL. */
int cli_failf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Is `arg` "-h" or "--help"? */
bool cli_is_help(const char *arg);
/* Parse a whole decimal integer within [lo, hi]; prints a usage error and returns false otherwise. */
bool cli_parse_int(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
/* The same for a number in [lo, hi]. */
bool cli_parse_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);

/* Read token ids from an int32 or int64 .npy with `ndim` dims (a 1-D file counts as one row when
 * ndim is 2) as int32; prints the error and returns -1 on failure. */
int cli_read_ids(const char *path, int ndim, trmx_array **out);
/* Write DIR/NAME as .npy; prints the error and returns CLI_FAIL on failure, else 0. */
int cli_write_npy(const char *dir, const char *name, trmx_dtype dt, int ndim, const int64_t *shape, void *data,
		  size_t nbytes);

/* --json (json_out.c, docs/CLI-JSON.md). A command sets cli_json_errors when it was given --json:
 * cli_fail, cli_failf and cli_usage_error then also print {"error": {"code", "message"}} on
 * standard output. cli_json_print writes `o` on one line and frees it (CLI_OK, or CLI_FAIL
 * printed); cli_error_code names a TRMX_E* code ("ENOTFOUND"). */
typedef struct json_t json_t;
extern bool cli_json_errors;
const char *cli_error_code(int code);
json_t *cli_json_error_object(const char *code, const char *message);
void cli_json_error(const char *code, const char *message);
int cli_json_print(json_t *o);

/* Bad rows of a batch or data set (rows.c): `read` reads the whole text (0, or the reader's error
 * naming the line); cli_rows_skip empties each line a TRMX_EFORMAT names and reads again, until
 * the text reads (0) or an error names no line it can cut (that error). *out lists the lines. */
struct cli_row {
	int64_t line;
	char message[TRMX_ERROR_MESSAGE_MAX];
};
struct cli_rows {
	struct cli_row *rows;
	size_t n;
};
typedef int (*cli_rows_read_fn)(void *user, const char *text, size_t len, trmx_error *err);
int cli_rows_skip(char *text, size_t *len, cli_rows_read_fn read, void *user, struct cli_rows *out, trmx_error *err);
/* "trmx CMD: skipped: MESSAGE" per row and "trmx CMD: skipped 2 bad rows: lines 4, 9" on stderr. */
void cli_rows_report(const char *cmd, const struct cli_rows *s);
void cli_rows_free(struct cli_rows *s);

/* What run and solve print alike (solve_out.c): the colour mode for --color WHEN (never, auto:
 * a terminal without NO_COLOR or TERM=dumb, always; truecolor when COLORTERM says so), why a row
 * stopped as a JSON name and as words, and the halt confidence sigmoid(q_halt). */
trmx_color cli_pick_color(const char *when);
const char *cli_halt_reason_name(trmx_halt_reason r);
const char *cli_halt_reason_text(trmx_halt_reason r);
double cli_sigmoid(double x);

#endif
