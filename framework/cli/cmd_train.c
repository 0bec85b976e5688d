/*
 * cmd_train.c — `trmx train CONFIG.yaml`: a training run (docs/TRAINING.md) with progress lines,
 * held-out evaluations, checkpoints and the exported weights and metrics.
 */
#include <getopt.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "trmx/eval.h"
#include "trmx/train.h"

static void help(void)
{
	printf("usage: trmx train CONFIG.yaml [options]\n"
	       "\n"
	       "Train a model as CONFIG.yaml says (task and data, architecture, optimizer, evaluation;\n"
	       "docs/TRAINING.md lists every key). Writes into the output folder:\n"
	       "  weights.safetensors      the EMA weights, official names, architecture in the metadata\n"
	       "  metrics.yaml             provenance and held-out figures (for the package manifest)\n"
	       "  curve.csv                the learning curve (training windows and evaluations)\n"
	       "  checkpoint.safetensors   everything needed to resume exactly\n"
	       "\n"
	       "Options:\n"
	       "  -o, --out DIR      output folder (default: the config's `out`, else run/ beside it)\n"
	       "  -r, --resume       continue from the folder's checkpoint (same result as no stop)\n"
	       "  -i, --init W       start from these weights instead of the official initialisation\n"
	       "  -n, --steps N      stop after N optimizer steps in all (overrides train.steps)\n"
	       "  -q, --quiet        print only evaluations and the end\n"
	       "  -h, --help         this help\n");
}

static void progress(void *user, const trmx_train_progress *p)
{
	bool quiet = *(const bool *)user;
	switch (p->event) {
	case TRMX_TRAIN_EVENT_INFO:
		fprintf(stderr, "train: %s\n", p->message);
		break;
	case TRMX_TRAIN_EVENT_LOG:
		if (!quiet)
			fprintf(stderr,
				"step %6ld/%ld  loss %.4f  exact %.3f  tokens %.3f  act %.2f  lr %.2e  %.2f steps/s  "
				"%.0fs left\n",
				p->step, p->total_steps, p->loss, p->exact, p->token_accuracy, p->mean_steps, p->lr,
				p->steps_per_second, p->eta_seconds);
		break;
	case TRMX_TRAIN_EVENT_EVAL: {
		const trmx_eval_result *f = p->eval_fixed, *a = p->eval_adaptive;
		fprintf(stderr,
			"eval at step %ld: fixed %d steps: exact %.4f  open cells %.4f | adaptive: exact %.4f  "
			"mean steps %.2f  (%lld items)\n",
			p->step, f->max_steps, f->exact_accuracy, f->open_accuracy, a->exact_accuracy, a->mean_steps,
			(long long)f->items);
		break;
	}
	case TRMX_TRAIN_EVENT_CHECKPOINT:
		if (!quiet)
			fprintf(stderr, "checkpoint: %s (step %ld)\n", p->message, p->step);
		break;
	case TRMX_TRAIN_EVENT_DONE:
		printf("trained %ld steps in %.0f s: %s\n", p->step, p->elapsed, p->message);
		break;
	}
}

int cmd_train(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },  { "resume", no_argument, NULL, 'r' },
		{ "init", required_argument, NULL, 'i' }, { "steps", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },      { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_train_run_options ro = TRMX_TRAIN_RUN_OPTIONS_INIT;
	bool quiet = false;
	long steps;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:ri:n:qh", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': ro.out_dir = optarg; break;
		case 'r': ro.resume = 1; break;
		case 'i': ro.init = optarg; break;
		case 'q': quiet = true; break;
		case 'n':
			if (!cli_parse_int("train", "--steps", optarg, 1, 100000000, &steps))
				return CLI_USAGE;
			ro.steps = steps;
			break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("train", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("train", "give one CONFIG.yaml");
	ro.progress = progress;
	ro.user = &quiet;
	trmx_error err;
	if (trmx_train_run(argv[optind], &ro, &err) < 0)
		return cli_fail(&err);
	return CLI_OK;
}
