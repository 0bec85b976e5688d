/*
 * cmd_forward.c — `trmx forward`: run ACT steps on token ids and write every step's logits and Q
 * logits as .npy, for cross-checking the engine against a reference implementation.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"

static void help(void)
{
	printf("usage: trmx forward --weights W.safetensors --input X.npy --output DIR [options]\n"
	       "\n"
	       "Run the model's ACT steps on token ids and write, into DIR:\n"
	       "  logits.npy             float32 (steps, B, seq_len, vocab)\n"
	       "  q_halt_logits.npy      float32 (steps, B)\n"
	       "  q_continue_logits.npy  float32 (steps, B)\n"
	       "  preds.npy              int32 (steps, B, seq_len), argmax taking the first maximum\n"
	       "  steps.npy              int32 (B), ACT steps each row ran (adaptive mode only)\n"
	       "In adaptive mode `steps` is the largest count any row ran; after a row halts, its\n"
	       "later entries repeat its last step.\n"
	       "\n"
	       "Options:\n"
	       "  -w, --weights FILE      safetensors weights (official state-dict names)\n"
	       "      --config FILE       architecture YAML (default: the weights' __metadata__)\n"
	       "  -i, --input FILE        token ids, .npy int32 or int64, shape (B, seq_len)\n"
	       "  -p, --puzzle-ids FILE   puzzle identifiers, .npy int32 or int64, shape (B,) (default 0)\n"
	       "      --steps N           ACT steps (fixed) or the cap (adaptive); default halt_max_steps\n"
	       "      --halt MODE         fixed (default, the official evaluation) or adaptive\n"
	       "  -b, --batch-size N      rows run together (default min(B, 64)); adaptive mode refills\n"
	       "                          a halted row's slot with the next input\n"
	       "  -o, --output DIR        output folder (created if missing)\n"
	       "      --engine NAME       trm or hrm (default: from the config's official `name`, else trm)\n"
	       "  -h, --help              this help\n");
}

struct collect {
	int steps;          /* capacity in steps */
	size_t B;
	int seq_len, vocab;
	float *logits, *qh, *qc;
	int32_t *preds;
	int32_t *ran;       /* steps each input ran */
};

static int on_step(void *user, const trmx_step_view *v)
{
	struct collect *c = user;
	size_t LV = (size_t)c->seq_len * c->vocab;
	for (int r = 0; r < v->rows; r++) {
		size_t i = (size_t)v->input_index[r];
		int s = v->row_step[r] - 1;
		if (s >= c->steps)
			continue;
		memcpy(c->logits + ((size_t)s * c->B + i) * LV, v->logits + (size_t)r * LV, LV * sizeof(float));
		memcpy(c->preds + ((size_t)s * c->B + i) * c->seq_len, v->preds + (size_t)r * c->seq_len,
		       (size_t)c->seq_len * sizeof(int32_t));
		c->qh[(size_t)s * c->B + i] = v->q_halt[r];
		c->qc[(size_t)s * c->B + i] = v->q_continue[r];
		c->ran[i] = v->row_step[r];
	}
	return 0;
}

int cmd_forward(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "weights", required_argument, NULL, 'w' }, { "config", required_argument, NULL, 'c' },
		{ "input", required_argument, NULL, 'i' },   { "puzzle-ids", required_argument, NULL, 'p' },
		{ "steps", required_argument, NULL, 'n' },   { "halt", required_argument, NULL, 'H' },
		{ "batch-size", required_argument, NULL, 'b' }, { "output", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'o' }, /* the old name */
		/* --engine and --halt are long only ('E', 'H' are not in the short list): -e is feedback's
		 * --expected (docs/CLI.md) */
		{ "engine", required_argument, NULL, 'E' }, { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
	};
	const char *weights_path = NULL, *config_path = NULL, *input_path = NULL, *pid_path = NULL;
	const char *out_dir = NULL, *engine = NULL;
	long steps = 0, batch = 0;
	trmx_halt_mode halt = TRMX_HALT_FIXED;
	int opt;
	optind = 1;
	/* --config and --steps are long only: -c is --context, -n gen's --count (docs/CLI.md) */
	while ((opt = getopt_long(argc, argv, "w:i:p:b:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': weights_path = optarg; break;
		case 'c': config_path = optarg; break;
		case 'i': input_path = optarg; break;
		case 'p': pid_path = optarg; break;
		case 'o': out_dir = optarg; break;
		case 'n':
			if (!cli_parse_int("forward", "--steps", optarg, 1, TRMX_SOLVE_STEPS_MAX, &steps))
				return CLI_USAGE;
			break;
		case 'b':
			if (!cli_parse_int("forward", "--batch-size", optarg, 1, TRMX_SOLVE_BATCH_MAX, &batch))
				return CLI_USAGE;
			break;
		case 'H':
			if (!strcmp(optarg, "fixed"))
				halt = TRMX_HALT_FIXED;
			else if (!strcmp(optarg, "adaptive"))
				halt = TRMX_HALT_ADAPTIVE;
			else
				return cli_usage_error("forward", "--halt is fixed or adaptive, not '%s'", optarg);
			break;
		case 'E': engine = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("forward", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("forward", "unexpected argument '%s'", argv[optind]);
	if (!weights_path || !input_path || !out_dir)
		return cli_usage_error("forward", "--weights, --input and --output are required");

	trmx_error err;
	trmx_weights *w = NULL;
	trmx_config *arch = NULL;
	trmx_model *m = NULL;
	trmx_array *in = NULL, *pids = NULL;
	struct collect col = { 0 };
	int rc = CLI_FAIL;

	if (trmx_weights_open(&w, weights_path, &err) < 0 ||
	    (config_path ? trmx_config_load_yaml(&arch, config_path, &err)
			 : trmx_config_from_metadata(&arch, w, &err)) < 0 ||
	    trmx_model_open(&m, engine ? engine : trmx_config_engine(arch), arch, w, NULL, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	trmx_model_info info;
	trmx_model_info_get(m, &info);
	if (cli_read_ids(input_path, 2, &in) < 0)
		goto done;
	if (in->shape[1] != info.seq_len) {
		cli_failf("%s: rows of %lld tokens; the model's seq_len is %d", input_path,
			  (long long)in->shape[1], info.seq_len);
		goto done;
	}
	size_t B = (size_t)in->shape[0];
	if (pid_path) {
		if (cli_read_ids(pid_path, 1, &pids) < 0)
			goto done;
		if ((size_t)pids->shape[0] != B) {
			cli_failf("%s: %lld puzzle ids for %zu inputs", pid_path, (long long)pids->shape[0], B);
			goto done;
		}
	}
	col.steps = steps ? (int)steps : info.halt_max_steps;
	col.B = B;
	col.seq_len = info.seq_len;
	col.vocab = info.vocab_size;
	size_t LV = (size_t)info.seq_len * info.vocab_size;
	col.logits = calloc((size_t)col.steps * B * LV, sizeof(float));
	col.preds = calloc((size_t)col.steps * B * info.seq_len, sizeof(int32_t));
	col.qh = calloc((size_t)col.steps * B, sizeof(float));
	col.qc = calloc((size_t)col.steps * B, sizeof(float));
	col.ran = calloc(B ? B : 1, sizeof(int32_t));
	if (!col.logits || !col.preds || !col.qh || !col.qc || !col.ran) {
		cli_failf("out of memory for %d steps of %zu rows", col.steps, B);
		goto done;
	}

	trmx_solve_request req = TRMX_SOLVE_REQUEST_INIT;
	req.n = B;
	req.inputs = (const int32_t *)in->data;
	req.puzzle_ids = pids ? (const int32_t *)pids->data : NULL;
	req.batch_size = (int)batch;
	req.max_steps = (int)steps;
	req.halt = halt;
	req.on_step = on_step;
	req.user = &col;
	if (trmx_model_solve(m, &req, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}

	int S = 0;
	for (size_t i = 0; i < B; i++)
		S = col.ran[i] > S ? col.ran[i] : S;
	for (size_t i = 0; i < B; i++) /* repeat a halted row's last step */
		for (int s = col.ran[i]; s < S; s++) {
			size_t from = (size_t)(col.ran[i] - 1) * B + i, to = (size_t)s * B + i;
			memcpy(col.logits + to * LV, col.logits + from * LV, LV * sizeof(float));
			memcpy(col.preds + to * info.seq_len, col.preds + from * info.seq_len,
			       (size_t)info.seq_len * sizeof(int32_t));
			col.qh[to] = col.qh[from];
			col.qc[to] = col.qc[from];
		}
	if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) {
		cli_failf("cannot create %s: %s", out_dir, strerror(errno));
		goto done;
	}
	int64_t sh4[4] = { S, (int64_t)B, info.seq_len, info.vocab_size };
	int64_t sh2[2] = { S, (int64_t)B };
	int64_t sh1[1] = { (int64_t)B };
	if (cli_write_npy(out_dir, "logits.npy", TRMX_DTYPE_F32, 4, sh4, col.logits, (size_t)S * B * LV * 4) ||
	    cli_write_npy(out_dir, "q_halt_logits.npy", TRMX_DTYPE_F32, 2, sh2, col.qh, (size_t)S * B * 4) ||
	    cli_write_npy(out_dir, "q_continue_logits.npy", TRMX_DTYPE_F32, 2, sh2, col.qc, (size_t)S * B * 4) ||
	    cli_write_npy(out_dir, "preds.npy", TRMX_DTYPE_I32, 3, sh4, col.preds, (size_t)S * B * info.seq_len * 4) ||
	    (halt == TRMX_HALT_ADAPTIVE &&
	     cli_write_npy(out_dir, "steps.npy", TRMX_DTYPE_I32, 1, sh1, col.ran, B * 4)))
		goto done;
	rc = CLI_OK;
done:
	free(col.logits);
	free(col.preds);
	free(col.qh);
	free(col.qc);
	free(col.ran);
	trmx_array_free(in);
	trmx_array_free(pids);
	trmx_model_free(m);
	trmx_config_free(arch);
	trmx_weights_free(w);
	return rc;
}
