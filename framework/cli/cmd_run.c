/*
 * cmd_run.c — `trmx run`: the main job. Resolve a context (through its binding, alias and canary)
 * or a target, load the module's engine through the engine ABI, solve one puzzle (or a batch),
 * print the answer, the steps, the halt confidence, the checker's verdict and the run id, and log
 * the run with the checker's verdict (trmx_host_dispatch does the work).
 */
#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

/* ---- trmx run ---------------------------------------------------------------------------------- */

/* No blank lines: tests/cli/run.test compares parts of this text. */
static void help(void)
{
	printf("usage: trmx run TARGET|CONTEXT|PKG.trmx PUZZLE|@FILE|- [options]\n"
	       "       trmx run TARGET|CONTEXT|PKG.trmx --batch FILE [options]\n"
	       "Run puzzles through a module: the one a context is bound to (its canary for learners in\n"
	       "the canary's share), a TARGET (MODULE, MODULE@VERSION, MODULE@ALIAS, MODULE@sha256:HEX),\n"
	       "or a package file (verified, not installed: for module authors). Prints the answer, the\n"
	       "ACT steps used, the halt confidence, the checker's verdict and the run id, and logs the\n"
	       "run and the checker's verdict in TRMX_HOME/log.db.\n"
	       "The puzzle is the argument itself (a Sudoku line like 1.3..2..; never a file it happens\n"
	       "to name), the file FILE for @FILE, or standard input for '-'; --batch FILE runs every\n"
	       "puzzle of FILE (a CSV, puzzles one after another, an ARC task) in one batch.\n"
	       "Options:\n"
	       "      --home DIR          TRMX_HOME (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --plugins DIR       engine plugins (default: $TRMX_PLUGINS, else plugins/ beside trmx,\n"
	       "                          else ../lib/trmx/plugins from it: an installed trmx)\n"
	       "      --steps N           ACT steps (fixed) or the cap (adaptive); default halt_max_steps\n"
	       "      --halt MODE         adaptive (default: stop when the Q head says halt) or fixed\n"
	       "      --trace             draw the answer after every ACT step (one puzzle)\n"
	       "      --learner ID        the learner (logged as an HMAC pseudonym; picks the canary arm)\n"
	       "      --context C         log the runs under context C (with a TARGET)\n"
	       "      --batch FILE        run every puzzle of FILE; a malformed row is skipped and named on\n"
	       "                          stderr (the others run; exit code 1)\n"
	       "      --strict            with --batch: stop at the first malformed row (logged as an error)\n"
	       "  -b, --batch-size N      puzzles run together (default: all, at most 64)\n"
	       "      --run-id UUID       the run's id (a retry with the same id is logged once)\n"
	       "      --no-log            do not log\n"
	       "  -k, --key FILE.pub      trust this key for a package file's signature\n"
	       "      --color WHEN        auto (default), always, never\n"
	       "      --json              one JSON object (per run with --batch: JSON lines)\n"
	       "  -h, --help              this help\n"
	       "Exit codes: 0 ok (whatever the verdict), 1 failure (also: a puzzle that did not read), 2 usage.\n");
}

static json_t *str_or_null(const char *s)
{
	return s && *s ? json_string(s) : json_null();
}

struct trace {
	bool on, json;
	trmx_color color;
	int L;
	int32_t *prev;
	uint8_t *changed;
	bool started;
	json_t *steps;
	int failed;
};

static int trace_step(void *user, trmx_task *task, const trmx_step_view *v)
{
	struct trace *tr = user;
	if (!tr->on || v->rows < 1)
		return 0;
	const int32_t *p = v->preds;
	int L = v->seq_len, n = 0;
	if (!tr->prev) {
		tr->prev = calloc((size_t)L, sizeof *tr->prev);
		tr->changed = calloc((size_t)L, 1);
		tr->L = L;
		if (!tr->prev || !tr->changed) {
			tr->failed = 1;
			return 1;
		}
	}
	for (int k = 0; k < L; k++) {
		tr->changed[k] = tr->started && p[k] != tr->prev[k];
		n += tr->changed[k];
	}
	char *s = NULL;
	if (tr->json) {
		json_t *ans = json_null();
		if (trmx_task_decode(task, p, TRMX_TEXT_LINE, &s, NULL) == 0)
			ans = json_string(s);
		trmx_task_text_free(s);
		json_array_append_new(tr->steps, json_pack("{s:i,s:o,s:i,s:f,s:f}", "step", v->row_step[0], "answer", ans,
							   "changed", n, "q_halt", (double)v->q_halt[0], "halt_confidence",
							   cli_sigmoid(v->q_halt[0])));
	} else {
		printf("step %d: q_halt %.3f (halt confidence %.3f), %d cell%s changed\n", v->row_step[0],
		       (double)v->q_halt[0], cli_sigmoid(v->q_halt[0]), n, n == 1 ? "" : "s");
		trmx_render_options ro = TRMX_RENDER_OPTIONS_INIT;
		ro.color = tr->color;
		ro.highlight = tr->changed;
		if (trmx_task_render(task, p, &ro, &s, NULL) == 0)
			fputs(s, stdout);
		trmx_task_text_free(s);
	}
	memcpy(tr->prev, p, (size_t)L * sizeof *p);
	tr->started = true;
	return 0;
}

static json_t *run_json(const trmx_dispatch_result *r, const trmx_run_result *x, const char *halt)
{
	const trmx_resolution *rs = &r->resolution;
	json_t *o = json_object(), *cells = json_array();
	for (int i = 0; i < x->check.ncells; i++)
		json_array_append_new(cells, json_integer(x->check.cells[i]));
	json_object_set_new(o, "run_id", json_string(x->run_id));
	json_object_set_new(o, "status", json_string(trmx_run_status_name(x->status)));
	json_object_set_new(o, "module", json_string(rs->module));
	json_object_set_new(o, "version", json_string(rs->module_version));
	json_object_set_new(o, "digest", json_string(rs->digest));
	json_object_set_new(o, "target", json_string(rs->target));
	json_object_set_new(o, "alias", str_or_null(rs->alias));
	json_object_set_new(o, "context", str_or_null(rs->context));
	json_object_set_new(o, "arm", json_string(trmx_arm_name(rs->arm)));
	json_object_set_new(o, "learner", str_or_null(r->learner));
	json_object_set_new(o, "engine", json_string(r->engine));
	json_object_set_new(o, "engine_source", json_string(r->engine_source));
	json_object_set_new(o, "task", json_string(rs->codec));
	json_object_set_new(o, "task_params", json_string(r->task_params));
	json_object_set_new(o, "batch_id", str_or_null(r->batch_id));
	json_object_set_new(o, "puzzle", str_or_null(x->input_text));
	if (x->status == TRMX_RUN_ERROR) {
		json_object_set_new(o, "error", json_string(x->error ? x->error : "failed"));
		return o;
	}
	json_object_set_new(o, "answer", str_or_null(x->answer_text));
	json_object_set_new(o, "answer_tokens", json_string(x->answer_tokens));
	json_object_set_new(o, "halt", json_string(halt));
	json_object_set_new(o, "steps", json_integer(x->steps));
	json_object_set_new(o, "reason", json_string(cli_halt_reason_name(x->reason)));
	json_object_set_new(o, "q_halt", json_real(x->q_halt));
	json_object_set_new(o, "halt_confidence", json_real(x->halt_confidence));
	json_object_set_new(o, "verdict", json_string(trmx_verdict_name(x->check.verdict)));
	json_object_set_new(o, "problem", json_string(trmx_check_problem_name(x->check.problem)));
	json_object_set_new(o, "message", json_string(x->check.message));
	json_object_set_new(o, "cells", cells);
	json_object_set_new(o, "expected", x->has_label ? str_or_null(x->expected_text) : json_null());
	json_object_set_new(o, "matches_expected", x->has_label ? json_boolean(x->matches_label) : json_null());
	json_object_set_new(o, "latency_ms", json_real(x->latency_ms));
	return o;
}

static void print_header(const trmx_dispatch_result *r)
{
	const trmx_resolution *rs = &r->resolution;
	printf("%s %s (sha256:%.12s)", rs->module, rs->module_version, rs->digest);
	if (rs->context[0])
		printf(", context '%s'", rs->context);
	if (rs->alias[0])
		printf(", alias %s", rs->alias);
	if (rs->context[0] || rs->arm == TRMX_ARM_CANARY)
		printf(", arm %s", trmx_arm_name(rs->arm));
	printf("; engine %s (%s)%s\n", r->engine, r->engine_source, r->package_file ? "; package file, not installed" : "");
}

static void print_one(const trmx_dispatch_result *r, const trmx_run_result *x, const char *halt)
{
	if (x->status == TRMX_RUN_ERROR) {
		printf("error: %s\nrun %s\n", x->error ? x->error : "failed", x->run_id);
		return;
	}
	printf("puzzle:\n%s", x->input_render ? x->input_render : "");
	printf("answer after %d step%s (%s: %s), halt confidence %.3f (q_halt %.3f):\n", x->steps, x->steps == 1 ? "" : "s",
	       halt, cli_halt_reason_text(x->reason), x->halt_confidence, (double)x->q_halt);
	printf("%s", x->answer_render ? x->answer_render : "");
	printf("verdict: %s", trmx_verdict_name(x->check.verdict));
	if (x->check.problem != TRMX_CHECK_NONE)
		printf(" (%s)", trmx_check_problem_name(x->check.problem));
	printf("\n");
	if (x->check.message[0])
		printf("  %s\n", x->check.message);
	if (x->has_label)
		printf("expected answer: %s\n", x->matches_label ? "matches" : "differs");
	printf("run %s\n", x->run_id);
}

enum { OPT_HOME = 256, OPT_PLUGINS, OPT_HALT, OPT_TRACE, OPT_LEARNER, OPT_CONTEXT, OPT_BATCH, OPT_RUNID, OPT_NOLOG,
       OPT_COLOR, OPT_JSON, OPT_STRICT };

/* Puzzles a text holds, as the codec reads it (examples with one number form one puzzle). */
struct count {
	trmx_task *task;
	int64_t puzzles;
};

static int count_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	struct count *c = sink->user;
	if (ex->puzzle + 1 > c->puzzles)
		c->puzzles = ex->puzzle + 1;
	return 0;
}

static int count_read(void *user, const char *text, size_t len, trmx_error *err)
{
	struct count *c = user;
	trmx_task_input in = TRMX_TASK_INPUT_INIT;
	trmx_task_sink sink = { count_add, c };
	in.text = text;
	in.len = len;
	c->puzzles = 0;
	return trmx_task_encode_input(c->task, &in, &sink, err);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "home", required_argument, NULL, OPT_HOME },       { "plugins", required_argument, NULL, OPT_PLUGINS },
		{ "steps", required_argument, NULL, 'n' },           { "halt", required_argument, NULL, OPT_HALT },
		{ "trace", no_argument, NULL, OPT_TRACE },           { "learner", required_argument, NULL, OPT_LEARNER },
		{ "context", required_argument, NULL, OPT_CONTEXT }, { "batch", required_argument, NULL, OPT_BATCH },
		{ "batch-size", required_argument, NULL, 'b' },      { "run-id", required_argument, NULL, OPT_RUNID },
		{ "no-log", no_argument, NULL, OPT_NOLOG },          { "key", required_argument, NULL, 'k' },
		{ "color", required_argument, NULL, OPT_COLOR },     { "json", no_argument, NULL, OPT_JSON },
		{ "strict", no_argument, NULL, OPT_STRICT },         { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home = NULL, *plugins = NULL, *learner = NULL, *context = NULL, *batch = NULL, *run_id = NULL,
		   *key = NULL, *color_when = "auto";
	long steps = 0, batch_size = 0;
	trmx_halt_mode halt = TRMX_HALT_ADAPTIVE;
	bool trace = false, json = false, nolog = false, strict = false;
	int c;
	opterr = 0;
	optind = 1;
	/* --steps is long only: -n is gen's --count (docs/CLI.md) */
	while ((c = getopt_long(argc, argv, ":b:k:h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_HOME: home = optarg; break;
		case OPT_PLUGINS: plugins = optarg; break;
		case 'n':
			if (!cli_parse_int("run", "--steps", optarg, 1, TRMX_SOLVE_STEPS_MAX, &steps))
				return CLI_USAGE;
			break;
		case 'b':
			if (!cli_parse_int("run", "--batch-size", optarg, 1, TRMX_SOLVE_BATCH_MAX, &batch_size))
				return CLI_USAGE;
			break;
		case OPT_HALT:
			if (!strcmp(optarg, "fixed"))
				halt = TRMX_HALT_FIXED;
			else if (!strcmp(optarg, "adaptive"))
				halt = TRMX_HALT_ADAPTIVE;
			else
				return cli_usage_error("run", "--halt is fixed or adaptive, not '%s'", optarg);
			break;
		case OPT_TRACE: trace = true; break;
		case OPT_LEARNER: learner = optarg; break;
		case OPT_CONTEXT: context = optarg; break;
		case OPT_BATCH: batch = optarg; break;
		case OPT_RUNID: run_id = optarg; break;
		case OPT_NOLOG: nolog = true; break;
		case 'k': key = optarg; break;
		case OPT_COLOR:
			if (strcmp(optarg, "auto") && strcmp(optarg, "always") && strcmp(optarg, "never"))
				return cli_usage_error("run", "--color is auto, always or never, not '%s'", optarg);
			color_when = optarg;
			break;
		case OPT_JSON: json = true; break;
		case OPT_STRICT: strict = true; break;
		case 'h': help(); return CLI_OK;
		case ':': return cli_usage_error("run", "%s needs a value", argv[optind - 1]);
		default: return cli_usage_error("run", "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind >= argc)
		return cli_usage_error("run", "which module? give a context, a TARGET or a package file");
	const char *target = argv[optind++];
	const char *input = NULL;
	if (!batch) {
		if (optind >= argc)
			return cli_usage_error("run", "which puzzle? give it, @FILE for a file, or '-' for standard input");
		input = argv[optind++];
	}
	if (optind < argc)
		return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
	if (batch && trace)
		return cli_usage_error("run", "--trace shows one puzzle; it does not go with --batch");
	if (batch && run_id)
		return cli_usage_error("run", "--run-id names one run; it does not go with --batch");
	if (strict && !batch)
		return cli_usage_error("run", "--strict is for --batch FILE");
	if (run_id && !trmx_uuid_valid(run_id))
		return cli_usage_error("run", "--run-id wants a UUID, not '%s'", run_id);

	size_t len = 0;
	char *text = batch ? cli_read_file(batch, &len) : cli_read_text(input, &len);
	if (!text)
		return CLI_FAIL;
	trmx_error err = { 0, "" };
	trmx_host *h = NULL;
	trmx_dispatch_result *res = NULL;
	trmx_lease *lease = NULL;
	struct cli_rows skipped = { NULL, 0 };
	struct trace tr = { 0 };
	json_t *root = NULL;
	int rc = CLI_FAIL;
	trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
	ho.home = home;
	ho.plugin_dir = cli_plugin_dir(plugins);
	ho.public_key = key;
	ho.flags = nolog ? TRMX_HOST_NO_LOG : 0;
	if (trmx_host_open(&h, &ho, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (!batch || !strict) {
		/* read the text with the module's codec first: a batch skips its bad rows (the host
		 * would stop at the first), one puzzle must be one */
		struct count cnt = { NULL, 0 };
		if (trmx_host_acquire(h, target, learner, &lease, &err) < 0) {
			rc = cli_fail(&err);
			goto done;
		}
		cnt.task = trmx_lease_task(lease);
		if (batch && cli_rows_skip(text, &len, count_read, &cnt, &skipped, &err) < 0 && !skipped.n) {
			cli_rows_free(&skipped); /* nothing cut: the host reports the row and logs it, as before */
		} else if (!batch && count_read(&cnt, text, len, &err) == 0 && cnt.puzzles > 1) {
			rc = cli_usage_error("run", "%s holds %lld puzzles and trmx run runs one: give --batch %s to run them "
					     "all", !strcmp(input, "-") ? "standard input" : input, (long long)cnt.puzzles,
					     !strcmp(input, "-") ? "-" : input[0] == '@' ? input + 1 : "FILE");
			goto done;
		}
	}
	trmx_color color = json ? TRMX_COLOR_NONE : cli_pick_color(color_when);
	trmx_render_options ro = TRMX_RENDER_OPTIONS_INIT;
	ro.color = color;
	tr.on = trace;
	tr.json = json;
	tr.color = color;
	if (json && trace)
		tr.steps = json_array();
	const char *texts[1] = { text };
	const char *ids[1] = { run_id };
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.target = target;
	d.context = context;
	d.learner = learner;
	d.n = 1;
	d.texts = texts;
	d.lens = &len;
	d.run_ids = run_id ? ids : NULL;
	d.flags = batch ? TRMX_DISPATCH_EACH_PUZZLE : 0;
	d.halt = halt;
	d.max_steps = (int)steps;
	d.batch_size = (int)batch_size;
	d.render = json || batch ? NULL : &ro;
	d.on_step = trace ? trace_step : NULL;
	d.user = &tr;
	if (trace && !json) {
		/* the steps come as the engine runs them; the header and the answer after */
		printf("ACT steps of %s:\n", target);
	}
	if (trmx_host_dispatch(h, &d, &res, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	const char *hname = halt == TRMX_HALT_ADAPTIVE ? "adaptive" : "fixed";
	size_t errors = 0, verdicts[3] = { 0 };
	for (size_t i = 0; i < res->n; i++) {
		errors += res->runs[i].status == TRMX_RUN_ERROR;
		if (res->runs[i].status != TRMX_RUN_ERROR)
			verdicts[res->runs[i].check.verdict]++;
	}
	if (json) {
		for (size_t i = 0; i < res->n; i++) {
			json_t *o = run_json(res, &res->runs[i], hname);
			if (!batch) {
				json_object_set_new(o, "timing_ms", json_pack("{s:f,s:f,s:f,s:f,s:f,s:f}", "resolve", res->resolve_ms,
									      "load", res->load_ms, "compute", res->compute_ms, "check",
									      res->check_ms, "log", res->log_ms, "total", res->total_ms));
				json_object_set_new(o, "logged", json_boolean(!nolog));
			}
			if (tr.steps) {
				json_object_set_new(o, "trace", tr.steps);
				tr.steps = NULL;
			}
			if (json_dumpf(o, stdout, JSON_REAL_PRECISION(8) | JSON_COMPACT) < 0) {
				json_decref(o);
				rc = cli_failf("cannot write JSON to standard output");
				goto done;
			}
			json_decref(o);
			fputc('\n', stdout);
		}
	} else {
		print_header(res);
		if (!batch) {
			print_one(res, &res->runs[0], hname);
		} else {
			for (size_t i = 0; i < res->n; i++) {
				const trmx_run_result *x = &res->runs[i];
				if (x->status == TRMX_RUN_ERROR)
					printf("%s  error: %s\n", x->run_id, x->error ? x->error : "failed");
				else
					printf("%s  %-8s steps %-3d confidence %.3f  %s\n", x->run_id,
					       trmx_verdict_name(x->check.verdict), x->steps, x->halt_confidence,
					       x->answer_text ? x->answer_text : "(no text: PAD in the answer)");
			}
			printf("%zu puzzle%s: %zu valid, %zu invalid, %zu unknown, %zu error%s; batch %s; %.1f ms (%.1f ms compute)\n",
			       res->n, res->n == 1 ? "" : "s", verdicts[TRMX_VERDICT_VALID], verdicts[TRMX_VERDICT_INVALID],
			       verdicts[TRMX_VERDICT_UNKNOWN], errors, errors == 1 ? "" : "s",
			       res->batch_id[0] ? res->batch_id : "-", res->total_ms, res->compute_ms);
		}
		if (nolog)
			printf("not logged (--no-log)\n");
	}
	cli_rows_report("run", &skipped);
	if ((errors && !batch) || skipped.n)
		rc = CLI_FAIL;
	else
		rc = fflush(stdout) == 0 && !ferror(stdout) ? (errors ? CLI_FAIL : CLI_OK) : cli_failf("cannot write standard output");
done:
	json_decref(tr.steps);
	json_decref(root);
	free(tr.prev);
	free(tr.changed);
	trmx_dispatch_result_free(res);
	trmx_lease_free(lease);
	trmx_host_free(h);
	cli_rows_free(&skipped);
	free(text);
	return rc;
}
