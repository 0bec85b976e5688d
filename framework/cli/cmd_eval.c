/*
 * cmd_eval.c — `trmx eval`: run a data set through weights with fixed or adaptive halting (or
 * both, one after the other) and print exact solves, accuracy on the cells the puzzles left open
 * and on every labelled token, the checker's verdicts, the steps used, exact solves by step cap
 * and throughput; a table for people, --json for scripts. The work is trmx_eval_run (eval.h);
 * on a TARGET, trmx_host_eval, which also logs every item (host.h).
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/eval.h"
#include "trmx/log.h"

/* No blank lines: tests/cli/eval.test compares parts of this text. */
static void help(void)
{
	printf("usage: trmx eval --weights W.safetensors --task TASK[:PARAMS] DATASET [options]\n"
	       "       trmx eval TARGET|CONTEXT|PKG.trmx DATASET [options]\n"
	       "Run every puzzle of DATASET through the model and report how well it does:\n"
	       "  exact        puzzles with every labelled cell right (the official exact accuracy)\n"
	       "  open cells   accuracy on the cells the puzzle left open (Sudoku blanks, maze open\n"
	       "               cells; other tasks: cells whose answer differs from the input)\n"
	       "  all tokens   accuracy over every labelled cell, givens included (flattering)\n"
	       "  verdicts     the task's checker on each answer: valid, invalid (by problem), unknown\n"
	       "  steps        ACT steps used, exact solves had the run stopped after s steps, the\n"
	       "               Q head's agreement with exactness, and throughput\n"
	       "The second form evaluates an installed module (a TARGET: MODULE, MODULE@VERSION,\n"
	       "MODULE@ALIAS, MODULE@sha256:HEX), what a context serves, or a package file, and logs\n"
	       "every puzzle in TRMX_HOME/log.db as a run (kind eval) with the checker's verdict and\n"
	       "the data set's expected answer as feedback: an evaluation is a recorded test run.\n"
	       "DATASET: a CSV or TSV (puzzle,solution or source,question,answer,rating; a UTF-8 byte\n"
	       "order mark is skipped), an ARC folder or file (its test pairs are the puzzles;\n"
	       "demonstrations are context, not puzzles), the official built layout (a folder with\n"
	       "dataset.json, or with train/ and test/), or a text file of puzzles. Labels of 0 (PAD)\n"
	       "are not scored (the official ignore label).\n"
	       "TASK: sudoku, maze, arc or tokens, with parameters after a colon: sudoku:size=4,\n"
	       "maze:size=15,canvas=30, tokens:seq_len=81,vocab_size=11.\n"
	       "Options:\n"
	       "  -w, --weights FILE      safetensors weights (official state-dict names)\n"
	       "      --config FILE       architecture YAML (default: the weights' __metadata__)\n"
	       "  -t, --task TASK         the task codec and its parameters (with --weights)\n"
	       "      --halt MODE         fixed (default: every puzzle runs --steps steps, the official\n"
	       "                          evaluation), adaptive (stop when the Q head says halt, at\n"
	       "                          most --steps), or both (two runs, side by side)\n"
	       "      --steps N           ACT steps or the adaptive cap (default: a TARGET's manifest\n"
	       "                          halting.max_steps, else halt_max_steps)\n"
	       "      --halt-threshold X  adaptive: halt once the Q head's margin is above logit X\n"
	       "                          (default: a TARGET's manifest halting.threshold, else 0, the\n"
	       "                          official rule; sigmoid(X) is the confidence)\n"
	       "      --calibrate         with the fixed run: what adaptive halting would give at each\n"
	       "                          of 20 thresholds (exact, mean steps), and the threshold with\n"
	       "                          the fewest steps within 1 point of the best (of these and\n"
	       "                          of fixed steps)\n"
	       "  -b, --batch-size N      puzzles run together (default 64)\n"
	       "  -l, --limit N           the first N puzzles only\n"
	       "      --split S           test (default), train or all: the built layout's split; ARC\n"
	       "                          files keep only their test pairs with test\n"
	       "      --home DIR          TRMX_HOME for a TARGET (default: $TRMX_HOME)\n"
	       "      --plugins DIR       engine plugins for a TARGET\n"
	       "      --context C         log the runs under context C\n"
	       "      --learner ID        the learner the runs are for (pseudonymised; picks a canary arm)\n"
	       "      --no-log            do not log the runs of a TARGET\n"
	       "      --batch-id UUID     the evaluation's id (default: a new one): item k's run id is\n"
	       "                          derived from it, so the same evaluation run again with the\n"
	       "                          same id (after a crash) logs what is missing, each run and\n"
	       "                          verdict once\n"
	       "      --json              one JSON object on one line instead of the table\n"
	       "      --strict            refuse the data set at its first malformed row (default: skip\n"
	       "                          each one, name it on stderr, evaluate the rest; exit code 1)\n"
	       "  -h, --help              this help\n"
	       "A progress bar goes to standard error when it is a terminal.\n"
	       "Exit codes: 0 ok, 1 failure, 2 usage.\n");
}

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct bar {
	double last;
	const char *label;
	bool drawn;
};

static int progress(void *user, const trmx_eval_progress *p)
{
	struct bar *b = user;
	double t = now();
	if (t - b->last < 0.2 && p->done < p->total)
		return 0;
	b->last = t;
	b->drawn = true;
	int width = 24, fill = p->total ? (int)(width * p->done / p->total) : width;
	fprintf(stderr, "\r\033[Ktrmx eval: %s [", b->label);
	for (int i = 0; i < width; i++)
		fputc(i < fill ? '#' : '.', stderr);
	fprintf(stderr, "] %lld/%lld", (long long)p->done, (long long)p->total);
	if (p->seconds > 0)
		fprintf(stderr, "  %.1f/s", (double)p->done / p->seconds);
	if (p->labelled)
		fprintf(stderr, "  exact %.3f", (double)p->exact / (double)p->labelled);
	fflush(stderr);
	return 0;
}

static void bar_clear(struct bar *b)
{
	if (b->drawn)
		fputs("\r\033[K", stderr);
	fflush(stderr);
	b->drawn = false;
}

/* "name:params" -> name, params (NULL when there are none); s is modified. */
static void split_task(char *s, const char **name, const char **params)
{
	char *colon = strchr(s, ':');
	*name = s;
	*params = NULL;
	if (colon) {
		*colon = 0;
		*params = colon[1] ? colon + 1 : NULL;
	}
}

static const char *halt_name(trmx_halt_mode h)
{
	return h == TRMX_HALT_ADAPTIVE ? "adaptive" : "fixed";
}

/* ---- text ------------------------------------------------------------------------------- */

#define COL 28

/* One table row: a label, then a cell per run (padded to COL but the last). */
static void row(const char *label, char cells[][96], int nr)
{
	printf("%-14s", label);
	for (int i = 0; i < nr; i++)
		if (i + 1 < nr)
			printf("%-*s", COL, cells[i]);
		else
			printf("%s\n", cells[i]);
}

static void frac(char *buf, int64_t a, int64_t b)
{
	if (b)
		snprintf(buf, 96, "%.4f (%lld/%lld)", (double)a / (double)b, (long long)a, (long long)b);
	else
		snprintf(buf, 96, "- (nothing labelled)");
}

/* A line per run: "what (mode): ..." when there are two runs. */
static void line_head(const char *what, const trmx_eval_result *r, int nr)
{
	char b[64];
	snprintf(b, sizeof b, nr > 1 ? "%s (%s):" : "%s:", what, halt_name(r->halt));
	printf("%-*s", nr > 1 ? 26 : 14, b);
}

static void print_text(const trmx_task *task, const char *task_spec, const char *dataset,
		       const trmx_model_info *info, const trmx_eval_result *r, int nr)
{
	char c[2][96];
	printf("data set      %s: %lld puzzles, %lld labelled (task %s)\n", dataset, (long long)r[0].items,
	       (long long)r[0].labelled, task_spec);
	printf("model         seq_len %d, vocab %d, %lld parameters, halt_max_steps %d\n", info->seq_len,
	       info->vocab_size, (long long)info->num_params, info->halt_max_steps);
	for (int i = 0; i < nr; i++)
		snprintf(c[i], 96, "%s, %s%d steps", halt_name(r[i].halt),
			 r[i].halt == TRMX_HALT_ADAPTIVE ? "at most " : "", r[i].max_steps);
	row("halting", c, nr);
	for (int i = 0; i < nr; i++)
		frac(c[i], r[i].exact, r[i].labelled);
	row("exact", c, nr);
	for (int i = 0; i < nr; i++)
		frac(c[i], r[i].open_correct, r[i].open);
	row(strcmp(trmx_task_name(task), "sudoku") ? "open cells" : "blank cells", c, nr);
	for (int i = 0; i < nr; i++)
		frac(c[i], r[i].tokens_correct, r[i].tokens);
	row("all tokens", c, nr);
	for (int i = 0; i < nr; i++) {
		snprintf(c[i], 96, "%lld valid, %lld invalid", (long long)r[i].verdicts[TRMX_VERDICT_VALID],
			 (long long)r[i].verdicts[TRMX_VERDICT_INVALID]);
		if (r[i].verdicts[TRMX_VERDICT_UNKNOWN])
			snprintf(c[i] + strlen(c[i]), 96 - strlen(c[i]), ", %lld unknown",
				 (long long)r[i].verdicts[TRMX_VERDICT_UNKNOWN]);
	}
	row("verdicts", c, nr);
	for (int i = 0; i < nr; i++)
		snprintf(c[i], 96, "%.2f", r[i].mean_steps);
	row("mean steps", c, nr);
	for (int i = 0; i < nr; i++) {
		if (r[i].halt == TRMX_HALT_ADAPTIVE)
			frac(c[i], r[i].reasons[TRMX_HALT_REASON_Q], r[i].items);
		else
			snprintf(c[i], 96, "-");
	}
	row("halted by Q", c, nr);
	for (int i = 0; i < nr; i++)
		frac(c[i], r[i].q_halt_agree, r[i].labelled);
	row("q_halt agrees", c, nr);
	for (int i = 0; i < nr; i++)
		snprintf(c[i], 96, "%.1f puzzles/s (%.2f s)", r[i].items_per_second, r[i].seconds);
	row("throughput", c, nr);

	for (int i = 0; i < nr; i++) {
		bool any = false;
		for (int p = 1; p < TRMX_EVAL_PROBLEMS; p++) {
			const char *name = trmx_check_problem_name((trmx_check_problem)p);
			if (!r[i].problems[p] || !name)
				continue;
			if (!any)
				line_head("problems", &r[i], nr);
			printf("%s%s %lld", any ? ", " : "", name, (long long)r[i].problems[p]);
			any = true;
		}
		if (any)
			printf("\n");
	}
	for (int i = 0; i < nr; i++) {
		line_head("steps used", &r[i], nr);
		bool first = true;
		for (int s = 1; s <= r[i].max_steps; s++) {
			if (!r[i].steps_hist[s])
				continue;
			printf("%s%d: %lld", first ? "" : ", ", s, (long long)r[i].steps_hist[s]);
			first = false;
		}
		printf("\n");
	}
	for (int i = 0; i < nr; i++) {
		if (!r[i].labelled)
			continue;
		line_head("exact by cap", &r[i], nr);
		/* every step up to 16, then powers of two and the last */
		bool first = true;
		for (int s = 1; s <= r[i].max_steps; s++) {
			if (s > 16 && (s & (s - 1)) && s != r[i].max_steps)
				continue;
			printf("%s@%d %.3f", first ? "" : "  ", s, (double)r[i].exact_by_cap[s] / (double)r[i].labelled);
			first = false;
		}
		printf("\n");
	}
}

/* ---- JSON ------------------------------------------------------------------------------- */

static double ratio(int64_t a, int64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

static json_t *run_json(const trmx_eval_result *r)
{
	json_t *o = json_object(), *hist = json_array(), *cap = json_array(), *ocap = json_array();
	json_t *problems = json_object();
	for (int s = 1; s <= r->max_steps; s++) {
		json_array_append_new(hist, json_integer(r->steps_hist[s]));
		json_array_append_new(cap, json_integer(r->exact_by_cap[s]));
		json_array_append_new(ocap, json_integer(r->open_correct_by_cap[s]));
	}
	for (int p = 1; p < TRMX_EVAL_PROBLEMS; p++) {
		const char *name = trmx_check_problem_name((trmx_check_problem)p);
		if (r->problems[p] && name)
			json_object_set_new(problems, name, json_integer(r->problems[p]));
	}
	json_object_set_new(o, "halt", json_string(halt_name(r->halt)));
	json_object_set_new(o, "max_steps", json_integer(r->max_steps));
	json_object_set_new(o, "items", json_integer(r->items));
	json_object_set_new(o, "labelled", json_integer(r->labelled));
	json_object_set_new(o, "exact", json_integer(r->exact));
	json_object_set_new(o, "exact_accuracy", json_real(r->exact_accuracy));
	json_object_set_new(o, "open", json_integer(r->open));
	json_object_set_new(o, "open_correct", json_integer(r->open_correct));
	json_object_set_new(o, "open_accuracy", json_real(r->open_accuracy));
	json_object_set_new(o, "tokens", json_integer(r->tokens));
	json_object_set_new(o, "tokens_correct", json_integer(r->tokens_correct));
	json_object_set_new(o, "token_accuracy", json_real(r->token_accuracy));
	json_object_set_new(o, "verdicts",
			    json_pack("{s:I,s:I,s:I}", "valid", (json_int_t)r->verdicts[TRMX_VERDICT_VALID], "invalid",
				      (json_int_t)r->verdicts[TRMX_VERDICT_INVALID], "unknown",
				      (json_int_t)r->verdicts[TRMX_VERDICT_UNKNOWN]));
	json_object_set_new(o, "problems", problems);
	json_object_set_new(o, "halt_reasons",
			    json_pack("{s:I,s:I,s:I}", "q_head", (json_int_t)r->reasons[TRMX_HALT_REASON_Q], "max_steps",
				      (json_int_t)r->reasons[TRMX_HALT_REASON_MAX_STEPS], "budget",
				      (json_int_t)r->reasons[TRMX_HALT_REASON_BUDGET]));
	json_object_set_new(o, "q_halt_accuracy", json_real(ratio(r->q_halt_agree, r->labelled)));
	json_object_set_new(o, "act_steps", json_integer(r->act_steps));
	json_object_set_new(o, "mean_steps", json_real(r->mean_steps));
	json_object_set_new(o, "steps_histogram", hist);
	json_object_set_new(o, "exact_by_cap", cap);
	json_object_set_new(o, "open_correct_by_cap", ocap);
	json_object_set_new(o, "seconds", json_real(r->seconds));
	json_object_set_new(o, "items_per_second", json_real(r->items_per_second));
	json_object_set_new(o, "steps_per_second", json_real(r->steps_per_second));
	return o;
}

static int print_json(const char *dataset, const char *weights, const char *task_name, const char *task_params,
		      const char *split, const trmx_model_info *info, const trmx_eval_result *r, int nr, json_t *extra)
{
	json_t *root = json_object(), *runs = json_array();
	if (extra) {
		json_object_update(root, extra);
		json_decref(extra);
	}
	json_object_set_new(root, "dataset", json_string(dataset));
	json_object_set_new(root, "split", json_string(split));
	json_object_set_new(root, "weights", json_string(weights));
	json_object_set_new(root, "task", json_string(task_name));
	json_object_set_new(root, "task_params", task_params ? json_string(task_params) : json_null());
	json_object_set_new(root, "model",
			    json_pack("{s:i,s:i,s:i,s:I}", "seq_len", info->seq_len, "vocab_size", info->vocab_size,
				      "halt_max_steps", info->halt_max_steps, "num_params", (json_int_t)info->num_params));
	for (int i = 0; i < nr; i++)
		json_array_append_new(runs, run_json(&r[i]));
	json_object_set_new(root, "runs", runs);
	int rc = json_dumpf(root, stdout, JSON_REAL_PRECISION(8)) == 0 ? 0 : -1;
	fputc('\n', stdout);
	json_decref(root);
	return rc;
}

/* ---- logging every item (the TARGET form) ------------------------------------------------ */

/* ---- the command ------------------------------------------------------------------------ */

enum {
	OPT_HALT = 256,
	OPT_SPLIT,
	OPT_JSON,
	OPT_HOME,
	OPT_PLUGINS,
	OPT_CONTEXT,
	OPT_LEARNER,
	OPT_NOLOG,
	OPT_STRICT,
	OPT_BATCH_ID,
	OPT_THRESHOLD,
	OPT_CALIBRATE
};

/* The threshold with the fewest steps whose exact count is within one point of the best: of the
 * fixed run and of every threshold (a model whose answers drift after they are right, as the
 * maze's, is best halted early); -1 without a calibration. */
static int recommended(const trmx_eval_halting *h, const trmx_eval_result *fixed)
{
	int64_t top = fixed->exact;
	for (int k = 0; k < h->count; k++)
		top = h->exact[k] > top ? h->exact[k] : top;
	int best = -1;
	for (int k = 0; k < h->count; k++)
		if ((double)(top - h->exact[k]) <= 0.01 * (double)fixed->labelled &&
		    (best < 0 || h->act_steps[k] < h->act_steps[best]))
			best = k;
	return best;
}

static void print_calibration(const trmx_eval_halting *h, const trmx_eval_result *fixed)
{
	int best = recommended(h, fixed);
	printf("\nhalting calibration (from the fixed run of %d steps: a row halts at the first step whose\n"
	       "margin is above the threshold; * the fewest steps within 1 point of the best)\n",
	       fixed->max_steps);
	printf("  threshold  confidence      exact   mean steps\n");
	for (int k = 0; k < h->count; k++)
		printf("%c %9.2f  %10.4f  %8.2f%%  %11.2f\n", k == best ? '*' : ' ', h->threshold[k],
		       1.0 / (1.0 + exp(-(double)h->threshold[k])),
		       fixed->labelled ? 100.0 * (double)h->exact[k] / (double)fixed->labelled : 0.0,
		       fixed->items ? (double)h->act_steps[k] / (double)fixed->items : 0.0);
}

static json_t *calibration_json(const trmx_eval_halting *h, const trmx_eval_result *fixed)
{
	json_t *a = json_array();
	for (int k = 0; k < h->count; k++)
		json_array_append_new(a, json_pack("{s:f,s:I,s:f,s:f}", "threshold", (double)h->threshold[k], "exact",
						   (json_int_t)h->exact[k], "exact_accuracy",
						   fixed->labelled ? (double)h->exact[k] / (double)fixed->labelled : 0.0,
						   "mean_steps",
						   fixed->items ? (double)h->act_steps[k] / (double)fixed->items : 0.0));
	int best = recommended(h, fixed);
	return json_pack("{s:o,s:o}", "thresholds", a, "recommended",
			 best < 0 ? json_null() : json_real((double)h->threshold[best]));
}

/* The data set read again from its text, each time a bad row is cut (cli_rows_skip). */
struct reparse {
	const trmx_task *task;
	const trmx_dataset_options *opts;
	trmx_dataset *ds; /* the last one that read */
};

static int reparse_read(void *user, const char *text, size_t len, trmx_error *err)
{
	struct reparse *r = user;
	trmx_dataset_free(r->ds);
	r->ds = NULL;
	return trmx_dataset_parse(&r->ds, r->task, text, len, r->opts, err);
}

int cmd_eval(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "weights", required_argument, NULL, 'w' },
		{ "config", required_argument, NULL, 'c' },
		{ "task", required_argument, NULL, 't' },
		{ "halt", required_argument, NULL, OPT_HALT },
		{ "steps", required_argument, NULL, 'n' },
		{ "batch-size", required_argument, NULL, 'b' },
		{ "limit", required_argument, NULL, 'l' },
		{ "split", required_argument, NULL, OPT_SPLIT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, 'h' },
		{ "home", required_argument, NULL, OPT_HOME },
		{ "plugins", required_argument, NULL, OPT_PLUGINS },
		{ "context", required_argument, NULL, OPT_CONTEXT },
		{ "learner", required_argument, NULL, OPT_LEARNER },
		{ "no-log", no_argument, NULL, OPT_NOLOG },
		{ "strict", no_argument, NULL, OPT_STRICT },
		{ "batch-id", required_argument, NULL, OPT_BATCH_ID },
		{ "halt-threshold", required_argument, NULL, OPT_THRESHOLD },
		{ "calibrate", no_argument, NULL, OPT_CALIBRATE },
		{ NULL, 0, NULL, 0 },
	};
	const char *weights_path = NULL, *config_path = NULL, *dataset_path = NULL, *split_name = "test";
	const char *home = NULL, *plugins = NULL, *context = NULL, *learner = NULL, *target = NULL, *batch_id = NULL;
	char *task_spec = NULL;
	long steps = 0, batch = 0, limit = 0;
	int modes = 1; /* bit 0 fixed, bit 1 adaptive */
	bool json = false, nolog = false, strict = false, calibrate = false, threshold_given = false;
	double threshold = 0.0;
	trmx_eval_halting halting;
	trmx_split split = TRMX_SPLIT_TEST;
	int c;
	opterr = 0;
	optind = 1;
	/* --config and --steps are long only: -c is --context, -n gen's --count (docs/CLI.md) */
	while ((c = getopt_long(argc, argv, ":w:t:b:l:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w': weights_path = optarg; break;
		case 'c': config_path = optarg; break;
		case 't': task_spec = optarg; break;
		case 'n':
			if (!cli_parse_int("eval", "--steps", optarg, 1, TRMX_SOLVE_STEPS_MAX, &steps))
				return CLI_USAGE;
			break;
		case 'b':
			if (!cli_parse_int("eval", "--batch-size", optarg, 1, TRMX_SOLVE_BATCH_MAX, &batch))
				return CLI_USAGE;
			break;
		case 'l':
			if (!cli_parse_int("eval", "--limit", optarg, 1, TRMX_DATASET_EXAMPLES_MAX, &limit))
				return CLI_USAGE;
			break;
		case OPT_HALT:
			if (!strcmp(optarg, "fixed"))
				modes = 1;
			else if (!strcmp(optarg, "adaptive"))
				modes = 2;
			else if (!strcmp(optarg, "both"))
				modes = 3;
			else
				return cli_usage_error("eval", "--halt is fixed, adaptive or both, not '%s'", optarg);
			break;
		case OPT_SPLIT:
			split_name = optarg;
			if (!strcmp(optarg, "test"))
				split = TRMX_SPLIT_TEST;
			else if (!strcmp(optarg, "train"))
				split = TRMX_SPLIT_TRAIN;
			else if (!strcmp(optarg, "all"))
				split = TRMX_SPLIT_ALL;
			else
				return cli_usage_error("eval", "--split is test, train or all, not '%s'", optarg);
			break;
		case OPT_JSON: json = true; break;
		case OPT_HOME: home = optarg; break;
		case OPT_PLUGINS: plugins = optarg; break;
		case OPT_CONTEXT: context = optarg; break;
		case OPT_LEARNER: learner = optarg; break;
		case OPT_NOLOG: nolog = true; break;
		case OPT_STRICT: strict = true; break;
		case OPT_CALIBRATE: calibrate = true; break;
		case OPT_THRESHOLD: /* a logit, in the range the manifest's halting.threshold allows */
			if (!cli_parse_double("eval", "--halt-threshold", optarg, -100, 100, &threshold))
				return CLI_USAGE;
			threshold_given = true;
			break;
		case OPT_BATCH_ID:
			if (!trmx_uuid_valid(optarg))
				return cli_usage_error("eval", "--batch-id is a UUID (8-4-4-4-12 hex digits), not '%s'", optarg);
			batch_id = optarg;
			break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("eval", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("eval", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (calibrate && !(modes & 1))
		return cli_usage_error("eval", "--calibrate goes with the fixed run (--halt fixed or both)");
	if (threshold_given && !(modes & 2))
		return cli_usage_error("eval", "--halt-threshold goes with the adaptive run (--halt adaptive or both)");
	if (!weights_path && argc - optind == 2)
		target = argv[optind++];
	if (optind < argc)
		dataset_path = argv[optind++];
	if (optind < argc)
		return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
	if (target) {
		if (task_spec || config_path)
			return cli_usage_error("eval", "--task and --config go with --weights; a TARGET brings its own");
	} else {
		if (context || learner || nolog || home || plugins || batch_id)
			return cli_usage_error("eval",
					       "--home, --plugins, --context, --learner, --no-log and --batch-id go with a TARGET");
		if (!weights_path || !task_spec || !dataset_path)
			return cli_usage_error("eval", "--weights, --task and a DATASET are required (or give TARGET DATASET)");
	}

	char *spec = task_spec ? strdup(task_spec) : NULL;
	if (task_spec && !spec)
		return cli_failf("out of memory");
	const char *task_name = NULL, *task_params = NULL;
	if (spec)
		split_task(spec, &task_name, &task_params);

	trmx_error err = { 0, "" };
	trmx_task *own_task = NULL, *task = NULL;
	trmx_weights *w = NULL;
	trmx_config *arch = NULL;
	trmx_model *own_model = NULL, *m = NULL;
	trmx_dataset *ds = NULL;
	struct cli_rows skipped = { NULL, 0 };
	trmx_host *h = NULL;
	trmx_lease *lease = NULL;
	const char *log_context = NULL; /* the runs' context, when the evaluation is logged */
	json_t *batches = NULL;          /* the logged batches, when it is */
	trmx_eval_result *res = calloc(2, sizeof *res);
	int rc = CLI_FAIL;
	if (!res) {
		rc = cli_failf("out of memory");
		goto done;
	}
	if (target) {
		trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
		ho.home = home;
		ho.plugin_dir = cli_plugin_dir(plugins);
		ho.flags = nolog ? TRMX_HOST_NO_LOG : 0;
		if (trmx_host_open(&h, &ho, &err) < 0 || trmx_host_acquire(h, target, learner, &lease, &err) < 0) {
			rc = cli_fail(&err);
			goto done;
		}
		const trmx_resolution *rs = trmx_lease_resolution(lease);
		if (context && rs->context[0] && strcmp(context, rs->context)) {
			rc = cli_usage_error("eval", "'%s' is context '%s'; --context %s does not fit", target, rs->context, context);
			goto done;
		}
		m = trmx_lease_model(lease);
		task = trmx_lease_task(lease);
		task_name = rs->codec;
		task_params = trmx_lease_task_params(lease);
		weights_path = trmx_lease_weights_path(lease);
		task_spec = (char *)target;
		if (!nolog) {
			if (!(batches = json_array())) {
				rc = cli_failf("out of memory");
				goto done;
			}
			log_context = context ? context : rs->context[0] ? rs->context : NULL;
		}
	} else {
		if (trmx_task_open(&own_task, task_name, task_params, &err) < 0) {
			if (err.code == TRMX_ENOTFOUND || err.code == TRMX_EINVAL)
				rc = cli_usage_error("eval", "--task %s: %s", task_spec, err.message);
			else
				rc = cli_fail(&err);
			goto done;
		}
		if (trmx_weights_open(&w, weights_path, &err) < 0 ||
		    (config_path ? trmx_config_load_yaml(&arch, config_path, &err) : trmx_config_from_metadata(&arch, w, &err)) < 0 ||
		    trmx_model_open(&own_model, trmx_config_engine(arch), arch, w, NULL, &err) < 0) {
			rc = cli_fail(&err);
			goto done;
		}
		m = own_model;
		task = own_task;
	}
	trmx_model_info info;
	trmx_model_info_get(m, &info);
	if (trmx_task_seq_len(task) != info.seq_len || trmx_task_vocab_size(task) != info.vocab_size) {
		rc = cli_failf("task %s reads seq_len %d and vocab_size %d, but %s has seq_len %d and vocab_size %d",
			       task_spec, trmx_task_seq_len(task), trmx_task_vocab_size(task), weights_path, info.seq_len,
			       info.vocab_size);
		goto done;
	}
	trmx_dataset_options dso = TRMX_DATASET_OPTIONS_INIT;
	dso.split = split;
	if (trmx_dataset_load(&ds, task, dataset_path, &dso, &err) < 0) {
		/* a malformed row: read the file's text again without it, and without every other one */
		struct stat fst;
		struct reparse rp = { task, &dso, NULL };
		size_t dlen = 0;
		char *dtext = NULL;
		trmx_error first = err;
		if (strict || err.code != TRMX_EFORMAT || stat(dataset_path, &fst) != 0 || !S_ISREG(fst.st_mode) ||
		    !(dtext = cli_read_file(dataset_path, &dlen)) ||
		    cli_rows_skip(dtext, &dlen, reparse_read, &rp, &skipped, &err) < 0) {
			free(dtext);
			trmx_dataset_free(rp.ds);
			rc = cli_fail(&first);
			goto done;
		}
		free(dtext);
		ds = rp.ds;
	}

	if (lease && !threshold_given) /* the module's own threshold */
		threshold = trmx_manifest_halt_threshold(trmx_lease_manifest(lease));
	if (lease && !steps) /* and its own step cap, where it has one */
		steps = trmx_manifest_max_steps(trmx_lease_manifest(lease));
	int nr = 0;
	struct bar bar = { 0, "", false };
	bool tty = isatty(STDERR_FILENO);
	for (int mode = 0; mode < 2; mode++) {
		if (!(modes & (1 << mode)))
			continue;
		trmx_eval_options o = TRMX_EVAL_OPTIONS_INIT;
		o.halt = mode ? TRMX_HALT_ADAPTIVE : TRMX_HALT_FIXED;
		o.max_steps = (int)steps;
		o.batch_size = (int)batch;
		o.limit = limit;
		o.halt_threshold = (float)threshold;
		if (calibrate && o.halt == TRMX_HALT_FIXED)
			o.halting = &halting;
		bar.label = halt_name(o.halt);
		if (tty) {
			o.progress = progress;
			o.progress_user = &bar;
		}
		int erc;
		if (h) {
			/* the batch's id: given (a retry of the same evaluation), else new; with --halt both
			 * the second batch's is derived from the first's */
			trmx_host_eval_options ho = TRMX_HOST_EVAL_OPTIONS_INIT;
			char derived[TRMX_UUID_SIZE], used[TRMX_UUID_SIZE];
			int64_t logged = 0;
			ho.eval = o;
			ho.context = log_context;
			if (batch_id && nr == 0)
				ho.batch_id = batch_id;
			else if (batch_id) {
				trmx_uuid_derived(derived, halt_name(o.halt), batch_id);
				ho.batch_id = derived;
			}
			erc = trmx_host_eval(h, lease, ds, &ho, &res[nr], used, &logged, &err);
			if (erc == 0 && batches)
				json_array_append_new(batches, json_pack("{s:s,s:s,s:I,s:I}", "halt", halt_name(o.halt),
									 "batch_id", used, "runs", (json_int_t)res[nr].items,
									 "new_rows", (json_int_t)logged));
		} else {
			erc = trmx_eval_run(m, task, ds, &o, NULL, NULL, &res[nr], &err);
		}
		bar_clear(&bar);
		if (erc < 0) {
			rc = cli_fail(&err);
			goto done;
		}
		nr++;
	}
	const trmx_resolution *rs = lease ? trmx_lease_resolution(lease) : NULL;
	if (json) {
		json_t *extra = NULL;
		if (rs) {
			extra = json_pack("{s:s,s:s,s:s,s:s,s:s,s:o,s:o}", "target", target, "module", rs->module, "version",
					  rs->module_version, "digest", rs->digest, "arm", trmx_arm_name(rs->arm), "context",
					  log_context ? json_string(log_context) : json_null(), "logged",
					  batches ? json_incref(batches) : json_null());
		}
		if (calibrate) {
			if (!extra)
				extra = json_object();
			json_object_set_new(extra, "halting_calibration", calibration_json(&halting, &res[0]));
		}
		if (modes & 2) {
			if (!extra)
				extra = json_object();
			json_object_set_new(extra, "halt_threshold", json_real(threshold));
		}
		if (print_json(dataset_path, weights_path, task_name, task_params, split_name, &info, res, nr, extra) < 0) {
			rc = cli_failf("cannot write JSON to standard output");
			goto done;
		}
	} else {
		if (rs) {
			printf("module        %s %s (sha256:%.12s)%s%s, arm %s\n", rs->module, rs->module_version, rs->digest,
			       log_context ? ", context " : "", log_context ? log_context : "", trmx_arm_name(rs->arm));
			if (batches) {
				for (size_t i = 0; i < json_array_size(batches); i++) {
					json_t *b = json_array_get(batches, i);
					printf("logged        %lld runs (%s), batch %s: %lld new rows\n",
					       (long long)json_integer_value(json_object_get(b, "runs")),
					       json_string_value(json_object_get(b, "halt")),
					       json_string_value(json_object_get(b, "batch_id")),
					       (long long)json_integer_value(json_object_get(b, "new_rows")));
				}
			}
		}
		char label[TRMX_TARGET_MAX + TRMX_TASK_PARAM_MAX + 8];
		if (rs)
			snprintf(label, sizeof label, "%s%s%s", task_name, task_params && *task_params ? ":" : "",
				 task_params ? task_params : "");
		print_text(task, rs ? label : task_spec, dataset_path, &info, res, nr);
		if (modes & 2)
			printf("halt threshold %g (adaptive run)\n", threshold);
		if (calibrate)
			print_calibration(&halting, &res[0]);
	}
	rc = fflush(stdout) == 0 && !ferror(stdout) ? (skipped.n ? CLI_FAIL : CLI_OK) : cli_failf("cannot write standard output");
	cli_rows_report("eval", &skipped);
done:
	cli_rows_free(&skipped);
	json_decref(batches);
	free(res);
	trmx_dataset_free(ds);
	trmx_lease_free(lease);
	trmx_host_free(h);
	trmx_model_free(own_model);
	trmx_config_free(arch);
	trmx_weights_free(w);
	trmx_task_free(own_task);
	free(spec);
	return rc;
}
