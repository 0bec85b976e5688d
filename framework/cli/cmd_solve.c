/*
 * cmd_solve.c — `trmx solve`: one puzzle (given on the command line, in @FILE, or on standard
 * input) through weights; draws the answer with the task's renderer and says how many ACT steps
 * ran, how sure the Q head was, and what the checker thinks. --trace draws the answer after every
 * step with the cells that changed highlighted, to watch the model refine it.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "trmx/task.h"

/* No blank lines: tests/cli/eval.test compares parts of this text. */
static void help(void)
{
	printf("usage: trmx solve --weights W.safetensors --task TASK[:PARAMS] PUZZLE|@FILE|- [options]\n"
	       "Solve one puzzle and draw the answer. The puzzle is the argument itself (a Sudoku line\n"
	       "like 1.3..2.., an ARC grid like [[0,1],[1,0]]), the file FILE for @FILE, or standard\n"
	       "input for '-', in any text the task reads (a CSV row, a grid, an ARC task: its first test\n"
	       "pair). When the text holds the answer too, the answer is compared with it.\n"
	       "Options:\n"
	       "  -w, --weights FILE      safetensors weights (official state-dict names)\n"
	       "      --config FILE       architecture YAML (default: the weights' __metadata__)\n"
	       "  -t, --task TASK         sudoku, maze, arc or tokens, parameters after a colon\n"
	       "                          (sudoku:size=4, maze:size=15,canvas=30)\n"
	       "      --steps N           ACT steps (fixed) or the cap (adaptive); default halt_max_steps\n"
	       "      --halt MODE         fixed (default, the official evaluation) or adaptive (stop\n"
	       "                          when the Q head says halt)\n"
	       "      --puzzle-id N       the puzzle identifier the model was trained with (default 0)\n"
	       "      --trace             draw the answer after every ACT step, changed cells highlighted\n"
	       "      --color WHEN        auto (default: when standard output is a terminal), always,\n"
	       "                          never (highlighted cells are then marked with '*')\n"
	       "      --json              one JSON object on one line instead of drawings\n"
	       "  -h, --help              this help\n"
	       "The halt confidence is sigmoid(q_halt): the Q head's estimate that the answer is right.\n"
	       "Exit codes: 0 ok (whatever the verdict), 1 failure, 2 usage.\n");
}

/* The tokens in the LINE style, or JSON null when they have no text (PAD in a Sudoku). */
static json_t *line_json(trmx_task *t, const int32_t *tokens)
{
	char *s = NULL;
	if (trmx_task_decode(t, tokens, TRMX_TEXT_LINE, &s, NULL) < 0)
		return json_null();
	json_t *j = json_string(s);
	trmx_task_text_free(s);
	return j ? j : json_null();
}

static json_t *ids_json(const int32_t *v, int n)
{
	json_t *a = json_array();
	for (int i = 0; i < n; i++)
		json_array_append_new(a, json_integer(v[i]));
	return a;
}

struct trace {
	trmx_task *task;
	bool on, json;
	int L;
	trmx_color color;
	const int32_t *input;
	int32_t *prev;   /* [L] the answer after the previous step (the puzzle before step 1) */
	uint8_t *changed;/* [L] */
	json_t *steps;   /* --json --trace */
	int failed;      /* a render failed: its error is in err */
	trmx_error err;
};

static int draw(trmx_task *t, const int32_t *tokens, const uint8_t *hl, const int32_t *puzzle, trmx_color color,
		trmx_error *err)
{
	trmx_render_options ro = TRMX_RENDER_OPTIONS_INIT;
	ro.color = color;
	ro.highlight = hl;
	ro.puzzle = puzzle;
	char *s = NULL;
	int rc = trmx_task_render(t, tokens, &ro, &s, err);
	if (rc == 0)
		fputs(s, stdout);
	trmx_task_text_free(s);
	return rc;
}

static int on_step(void *user, const trmx_step_view *v)
{
	struct trace *tr = user;
	if (!tr->on || v->rows < 1)
		return 0;
	const int32_t *p = v->preds; /* one puzzle: row 0 */
	int n = 0;
	for (int k = 0; k < tr->L; k++) {
		tr->changed[k] = p[k] != tr->prev[k];
		n += tr->changed[k];
	}
	if (tr->json) {
		json_t *s = json_pack("{s:i,s:o,s:i,s:f,s:f}", "step", v->row_step[0], "answer", line_json(tr->task, p),
				      "changed", n, "q_halt", (double)v->q_halt[0], "halt_confidence",
				      cli_sigmoid(v->q_halt[0]));
		json_array_append_new(tr->steps, s);
	} else {
		printf("step %d: q_halt %.3f (halt confidence %.3f), %d cell%s changed\n", v->row_step[0],
		       (double)v->q_halt[0], cli_sigmoid(v->q_halt[0]), n, n == 1 ? "" : "s");
		if (draw(tr->task, p, tr->changed, tr->input, tr->color, &tr->err) < 0) {
			tr->failed = 1;
			return 1;
		}
	}
	memcpy(tr->prev, p, (size_t)tr->L * sizeof *p);
	return 0;
}

enum { OPT_HALT = 256, OPT_TRACE, OPT_COLOR, OPT_JSON };

int cmd_solve(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "weights", required_argument, NULL, 'w' }, { "config", required_argument, NULL, 'c' },
		{ "task", required_argument, NULL, 't' },    { "steps", required_argument, NULL, 'n' },
		{ "halt", required_argument, NULL, OPT_HALT }, { "puzzle-id", required_argument, NULL, 'p' },
		{ "trace", no_argument, NULL, OPT_TRACE },   { "color", required_argument, NULL, OPT_COLOR },
		{ "json", no_argument, NULL, OPT_JSON },     { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *weights_path = NULL, *config_path = NULL, *task_spec = NULL, *color_when = "auto";
	long steps = 0, puzzle_id = 0;
	trmx_halt_mode halt = TRMX_HALT_FIXED;
	bool trace = false, json = false;
	int c;
	opterr = 0;
	optind = 1;
	/* --config, --steps and --puzzle-id are long only: -c is --context, -n gen's --count, -p the
	 * --puzzle-ids file of forward and grad (docs/CLI.md) */
	while ((c = getopt_long(argc, argv, ":w:t:h", opts, NULL)) != -1) {
		switch (c) {
		case 'w': weights_path = optarg; break;
		case 'c': config_path = optarg; break;
		case 't': task_spec = optarg; break;
		case 'n':
			if (!cli_parse_int("solve", "--steps", optarg, 1, TRMX_SOLVE_STEPS_MAX, &steps))
				return CLI_USAGE;
			break;
		case 'p':
			if (!cli_parse_int("solve", "--puzzle-id", optarg, 0, TRMX_ARCH_PUZZLE_IDS_MAX - 1, &puzzle_id))
				return CLI_USAGE;
			break;
		case OPT_HALT:
			if (!strcmp(optarg, "fixed"))
				halt = TRMX_HALT_FIXED;
			else if (!strcmp(optarg, "adaptive"))
				halt = TRMX_HALT_ADAPTIVE;
			else
				return cli_usage_error("solve", "--halt is fixed or adaptive, not '%s'", optarg);
			break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
				return cli_usage_error("solve", "--color is auto, always or never, not '%s'", optarg);
			color_when = optarg;
			break;
		case OPT_TRACE: trace = true; break;
		case OPT_JSON: json = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("solve", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("solve", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("solve", "which puzzle? give it, @FILE for a file, or '-' for standard input");
	const char *puzzle_arg = argv[optind++];
	if (optind < argc)
		return cli_usage_error("solve", "unexpected argument '%s'", argv[optind]);
	if (!weights_path || !task_spec)
		return cli_usage_error("solve", "--weights and --task are required");

	char *spec = strdup(task_spec), *text = NULL;
	if (!spec)
		return cli_failf("out of memory");
	char *colon = strchr(spec, ':');
	const char *task_params = NULL;
	if (colon) {
		*colon = 0;
		task_params = colon[1] ? colon + 1 : NULL;
	}

	trmx_error err = { 0, "" };
	trmx_task *task = NULL;
	trmx_weights *w = NULL;
	trmx_config *arch = NULL;
	trmx_model *m = NULL;
	int32_t *buf = NULL;
	json_t *root = NULL;
	struct trace tr = { 0 };
	int rc = CLI_FAIL;
	size_t len = 0;

	if (trmx_task_open(&task, spec, task_params, &err) < 0) {
		if (err.code == TRMX_ENOTFOUND || err.code == TRMX_EINVAL)
			rc = cli_usage_error("solve", "--task %s: %s", task_spec, err.message);
		else
			rc = cli_fail(&err);
		goto done;
	}
	if (trmx_weights_open(&w, weights_path, &err) < 0 ||
	    (config_path ? trmx_config_load_yaml(&arch, config_path, &err) : trmx_config_from_metadata(&arch, w, &err)) < 0 ||
	    trmx_model_open(&m, trmx_config_engine(arch), arch, w, NULL, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	trmx_model_info info;
	trmx_model_info_get(m, &info);
	int L = trmx_task_seq_len(task);
	if (L != info.seq_len || trmx_task_vocab_size(task) != info.vocab_size) {
		rc = cli_failf("task %s reads seq_len %d and vocab_size %d, but %s has seq_len %d and vocab_size %d",
			       task_spec, L, trmx_task_vocab_size(task), weights_path, info.seq_len, info.vocab_size);
		goto done;
	}
	if (puzzle_id >= info.num_puzzle_identifiers) {
		rc = cli_failf("--puzzle-id %ld: the model knows identifiers 0 to %d", puzzle_id,
			       info.num_puzzle_identifiers - 1);
		goto done;
	}
	if (!(text = cli_read_text(puzzle_arg, &len)))
		goto done;
	/* input, label, answer, previous answer: one allocation */
	if (!(buf = calloc((size_t)L * 4, sizeof *buf)) || !(tr.changed = calloc((size_t)L, 1))) {
		rc = cli_failf("out of memory");
		goto done;
	}
	int32_t *input = buf, *label = buf + L, *pred = buf + 2 * (size_t)L;
	bool has_label = false;
	if (trmx_task_encode(task, text, len, input, label, &has_label, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}

	trmx_color color = json ? TRMX_COLOR_NONE : cli_pick_color(color_when);
	tr.task = task;
	tr.on = trace;
	tr.json = json;
	tr.L = L;
	tr.color = color;
	tr.input = input;
	tr.prev = buf + 3 * (size_t)L;
	memcpy(tr.prev, input, (size_t)L * sizeof *input);
	if (json && !(root = json_object())) {
		rc = cli_failf("out of memory");
		goto done;
	}
	if (json && trace)
		tr.steps = json_array();
	if (!json) {
		printf("puzzle (%s%s%s):\n", spec, task_params ? " " : "", task_params ? task_params : "");
		if (draw(task, input, NULL, NULL, color, &err) < 0) {
			rc = cli_fail(&err);
			goto done;
		}
	}

	int32_t ran = 0, pid = (int32_t)puzzle_id;
	float qh = 0, qc = 0;
	uint8_t reason = 0;
	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = 1;
	req.inputs = input;
	req.puzzle_ids = &pid;
	req.batch_size = 1;
	req.max_steps = (int)steps;
	req.halt = halt;
	req.on_step = on_step;
	req.user = &tr;
	req.preds = pred;
	req.steps = &ran;
	req.q_halt = &qh;
	req.q_continue = &qc;
	req.reason = &reason;
	if (trmx_model_solve(m, &req, &err) < 0) {
		rc = cli_fail(tr.failed ? &tr.err : &err);
		goto done;
	}

	trmx_check chk = TRMX_CHECK_INIT;
	if (trmx_task_check(task, input, pred, has_label ? label : NULL, &chk, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	int sup = 0, wrong = 0;
	for (int k = 0; k < L && has_label; k++) {
		sup += label[k] != 0;
		wrong += label[k] != 0 && pred[k] != label[k];
	}
	const char *mode = halt == TRMX_HALT_ADAPTIVE ? "adaptive" : "fixed";
	if (json) {
		json_t *cells = json_array();
		for (int i = 0; i < chk.ncells; i++)
			json_array_append_new(cells, json_integer(chk.cells[i]));
		json_object_set_new(root, "task", json_string(spec));
		json_object_set_new(root, "task_params", task_params ? json_string(task_params) : json_null());
		json_object_set_new(root, "puzzle", line_json(task, input));
		json_object_set_new(root, "answer", line_json(task, pred));
		json_object_set_new(root, "answer_tokens", ids_json(pred, L));
		json_object_set_new(root, "halt", json_string(mode));
		json_object_set_new(root, "steps", json_integer(ran));
		json_object_set_new(root, "reason", json_string(cli_halt_reason_name((trmx_halt_reason)reason)));
		json_object_set_new(root, "q_halt", json_real(qh));
		json_object_set_new(root, "q_continue", json_real(qc));
		json_object_set_new(root, "halt_confidence", json_real(cli_sigmoid(qh)));
		json_object_set_new(root, "verdict", json_string(trmx_verdict_name(chk.verdict)));
		json_object_set_new(root, "problem", json_string(trmx_check_problem_name(chk.problem)));
		json_object_set_new(root, "message", json_string(chk.message));
		json_object_set_new(root, "cells", cells);
		json_object_set_new(root, "expected", has_label ? line_json(task, label) : json_null());
		json_object_set_new(root, "matches_expected", has_label ? json_boolean(sup > 0 && wrong == 0) : json_null());
		if (tr.steps) {
			json_object_set_new(root, "trace", tr.steps);
			tr.steps = NULL;
		}
		if (json_dumpf(root, stdout, JSON_REAL_PRECISION(8)) < 0) {
			rc = cli_failf("cannot write JSON to standard output");
			goto done;
		}
		fputc('\n', stdout);
	} else {
		printf("answer after %d step%s (%s: %s), q_halt %.3f, halt confidence %.3f:\n", ran, ran == 1 ? "" : "s",
		       mode, cli_halt_reason_text((trmx_halt_reason)reason), (double)qh, cli_sigmoid(qh));
		if (draw(task, pred, NULL, input, color, &err) < 0) {
			rc = cli_fail(&err);
			goto done;
		}
		printf("verdict: %s\n", trmx_verdict_name(chk.verdict));
		if (chk.message[0])
			printf("  %s\n", chk.message);
		if (has_label && sup) {
			if (wrong)
				printf("expected answer: %d of %d labelled cells differ\n", wrong, sup);
			else
				printf("expected answer: matches\n");
		}
	}
	rc = fflush(stdout) == 0 && !ferror(stdout) ? CLI_OK : cli_failf("cannot write standard output");
done:
	json_decref(tr.steps);
	json_decref(root);
	free(tr.changed);
	free(buf);
	free(text);
	trmx_model_free(m);
	trmx_config_free(arch);
	trmx_weights_free(w);
	trmx_task_free(task);
	free(spec);
	return rc;
}
