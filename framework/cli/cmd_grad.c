/*
 * cmd_grad.c — `trmx grad`: one training step from the initial state, writing the loss and every
 * trainable parameter's gradient, for cross-checking the trainer against a reference.
 */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/cli.h"
#include "trmx/train.h"

static void help(void)
{
	printf("usage: trmx grad --weights W.safetensors --input X.npy --labels Y.npy --output DIR [options]\n"
	       "\n"
	       "Run one training step (the official ACT step: deep recursion with the last H cycle under\n"
	       "gradient, stable-max cross entropy + 0.5 x Q-halt BCE) from the initial state and write:\n"
	       "  DIR/loss.npy            float64 scalar, the total loss before division\n"
	       "  DIR/grads.safetensors   the gradient of loss / G for every trainable tensor under its\n"
	       "                          official name, and model.inner.puzzle_emb.local_weights [B, ndim]\n"
	       "                          (the batch rows' puzzle vectors) when the model has puzzle embeddings\n"
	       "No weight is changed.\n"
	       "\n"
	       "Options:\n"
	       "  -w, --weights FILE            safetensors weights (official state-dict names)\n"
	       "      --config FILE             architecture YAML (default: the weights' __metadata__)\n"
	       "  -i, --input FILE              token ids, .npy int32/int64 (B, seq_len)\n"
	       "      --labels FILE             labels, .npy int32/int64 (B, seq_len); -100 = not supervised\n"
	       "  -p, --puzzle-ids FILE         puzzle identifiers, .npy (B,) (default 0)\n"
	       "  -g, --global-batch-size G     loss divisor (default B)\n"
	       "  -o, --output DIR              output folder (created if missing)\n"
	       "      --engine NAME             trm or hrm (default: from the config's official `name`)\n"
	       "  -h, --help                    this help\n");
}

int cmd_grad(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "weights", required_argument, NULL, 'w' }, { "config", required_argument, NULL, 'c' },
		{ "input", required_argument, NULL, 'i' },   { "labels", required_argument, NULL, 'l' },
		{ "puzzle-ids", required_argument, NULL, 'p' }, { "global-batch-size", required_argument, NULL, 'g' },
		/* --engine is long only ('E' is not in the short list): -e is feedback's --expected */
		{ "output", required_argument, NULL, 'o' },  { "out", required_argument, NULL, 'o' }, /* the old name */
		{ "engine", required_argument, NULL, 'E' }, { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *wpath = NULL, *cpath = NULL, *ipath = NULL, *lpath = NULL, *ppath = NULL, *out = NULL;
	const char *engine = NULL;
	long G = 0;
	int opt;
	optind = 1;
	/* --config and --labels are long only: -c is --context, -l --limit (docs/CLI.md) */
	while ((opt = getopt_long(argc, argv, "w:i:p:g:o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'w': wpath = optarg; break;
		case 'c': cpath = optarg; break;
		case 'i': ipath = optarg; break;
		case 'l': lpath = optarg; break;
		case 'p': ppath = optarg; break;
		case 'o': out = optarg; break;
		case 'g':
			if (!cli_parse_int("grad", "--global-batch-size", optarg, 1, 1L << 30, &G))
				return CLI_USAGE;
			break;
		case 'E': engine = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("grad", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("grad", "unexpected argument '%s'", argv[optind]);
	if (!wpath || !ipath || !lpath || !out)
		return cli_usage_error("grad", "--weights, --input, --labels and --output are required");

	trmx_error err;
	trmx_weights *w = NULL;
	trmx_config *arch = NULL;
	trmx_trainer *t = NULL;
	trmx_array *in = NULL, *lab = NULL, *pid = NULL;
	int rc = CLI_FAIL;
	if (trmx_weights_open(&w, wpath, &err) < 0 ||
	    (cpath ? trmx_config_load_yaml(&arch, cpath, &err) : trmx_config_from_metadata(&arch, w, &err)) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (cli_read_ids(ipath, 2, &in) < 0 || cli_read_ids(lpath, 2, &lab) < 0 || (ppath && cli_read_ids(ppath, 1, &pid) < 0))
		goto done;
	if (lab->shape[0] != in->shape[0] || lab->shape[1] != in->shape[1]) {
		cli_failf("%s: shape (%lld, %lld) differs from the input's (%lld, %lld)", lpath, (long long)lab->shape[0],
			  (long long)lab->shape[1], (long long)in->shape[0], (long long)in->shape[1]);
		goto done;
	}
	if (pid && pid->shape[0] != in->shape[0]) {
		cli_failf("%s: %lld puzzle ids for %lld rows", ppath, (long long)pid->shape[0], (long long)in->shape[0]);
		goto done;
	}
	if (in->shape[0] < 1 || in->shape[0] > TRMX_SOLVE_BATCH_MAX) {
		cli_failf("%s: %lld rows; trmx grad takes 1 to %d", ipath, (long long)in->shape[0], TRMX_SOLVE_BATCH_MAX);
		goto done;
	}
	trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
	o.batch_size = (int)in->shape[0];
	o.global_batch_size = (double)(G ? G : in->shape[0]);
	o.ema = TRMX_EMA_OFF;
	if (trmx_trainer_new(&t, engine ? engine : trmx_config_engine(arch), arch, w, &o, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	trmx_model_info info;
	trmx_model_info_get(trmx_trainer_model(t), &info);
	if (in->shape[1] != info.seq_len) {
		cli_failf("%s: rows of %lld tokens; the model's seq_len is %d", ipath, (long long)in->shape[1], info.seq_len);
		goto done;
	}
	double loss;
	if (trmx_trainer_compute(t, in->data, lab->data, pid ? pid->data : NULL, &loss, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (mkdir(out, 0755) != 0 && errno != EEXIST) {
		cli_failf("cannot create %s: %s", out, strerror(errno));
		goto done;
	}
	char path[4096];
	snprintf(path, sizeof path, "%s/grads.safetensors", out);
	if (trmx_trainer_write_grads(t, path, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	if (cli_write_npy(out, "loss.npy", TRMX_DTYPE_F64, 0, NULL, &loss, sizeof loss))
		goto done;
	rc = CLI_OK;
done:
	trmx_trainer_free(t);
	trmx_array_free(in);
	trmx_array_free(lab);
	trmx_array_free(pid);
	trmx_config_free(arch);
	trmx_weights_free(w);
	return rc;
}
