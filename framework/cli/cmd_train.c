/*
 * cmd_train.c — `trmx train CONFIG.yaml`: a training run (docs/TRAINING.md) with progress lines,
 * held-out evaluations, checkpoints and the exported weights and metrics. `--init` fine-tunes:
 * from weights, or from a module (a .trmx package or an installed TARGET), whose architecture,
 * engine and task the config may then leave out, and whose digest becomes the lineage.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

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
	       "Progress lines give the rows that halted at that step (exact, token accuracy, ACT\n"
	       "steps); a row is trained on at each of its steps, so judge the model by the held-out\n"
	       "evaluations (\"eval at step N\"), not by these.\n"
	       "\n"
	       "Options:\n"
	       "  -o, --output DIR   output folder (default: the config's `out`, else run/ beside it)\n"
	       "  -r, --resume       continue from the folder's checkpoint (same result as no stop)\n"
	       "      --init FROM    fine-tune: start from weights (W.safetensors), or from a module, a\n"
	       "                     package PKG.trmx or an installed TARGET (MODULE@VERSION, MODULE@ALIAS):\n"
	       "                     its weights, and its architecture, engine and task where the config has\n"
	       "                     none; metrics.yaml then records training.base (the module's digest)\n"
	       "      --home DIR     TRMX_HOME for an installed TARGET, and the trust policy a package\n"
	       "                     is verified under (default: $TRMX_HOME, else ~/.local/share/trmx)\n"
	       "      --plugins DIR  engine plugins for --init's module (default: $TRMX_PLUGINS, else\n"
	       "                     the plugin folder beside trmx)\n"
	       "      --steps N      stop after N optimizer steps in all (overrides train.steps)\n"
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

/* A module to fine-tune from, a package file or an installed TARGET (or context): the host opens
 * it as it would to serve it, a package file verified under the home's policy. */
struct parent {
	trmx_host *host;
	trmx_lease *lease;
};

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && !strcmp(s + n - m, tail);
}

static int open_parent(struct parent *p, const char *from, const char *home, const char *plugins)
{
	trmx_error err = { 0, "" };
	trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
	ho.home = home;
	ho.plugin_dir = cli_plugin_dir(plugins);
	ho.flags = TRMX_HOST_NO_LOG;
	if (trmx_host_open(&p->host, &ho, &err) < 0 || trmx_host_acquire(p->host, from, NULL, &p->lease, &err) < 0)
		return cli_failf("--init %s: %s (give weights .safetensors, a .trmx package or an installed TARGET)", from,
				 err.message);
	return CLI_OK;
}

static void close_parent(struct parent *p)
{
	trmx_lease_free(p->lease);
	trmx_host_free(p->host);
}

int cmd_train(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "out", required_argument, NULL, 'o' }, /* the old name */
		{ "resume", no_argument, NULL, 'r' },
		/* --init is long only ('I' is not in the short list): -i is --input (forward, grad) */
		{ "init", required_argument, NULL, 'I' },
		{ "steps", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "home", required_argument, NULL, 'H' },
		{ "plugins", required_argument, NULL, 'P' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_train_run_options ro = TRMX_TRAIN_RUN_OPTIONS_INIT;
	bool quiet = false;
	const char *home = NULL, *plugins = NULL;
	long steps;
	int opt;
	optind = 1;
	/* --steps is long only: -n is gen's --count (docs/CLI.md) */
	while ((opt = getopt_long(argc, argv, "o:rqh", opts, NULL)) != -1) {
		switch (opt) {
		case 'o': ro.out_dir = optarg; break;
		case 'r': ro.resume = 1; break;
		case 'I': ro.init = optarg; break;
		case 'q': quiet = true; break;
		case 'H': home = optarg; break;
		case 'P': plugins = optarg; break;
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
	struct parent parent = { 0 };
	int rc = CLI_OK;
	if (ro.init && !ends_with(ro.init, ".safetensors")) {
		if (ro.resume) {
			rc = cli_usage_error("train", "--resume continues from the checkpoint: leave out --init");
			goto done;
		}
		if ((rc = open_parent(&parent, ro.init, home, plugins)) != CLI_OK)
			goto done;
		ro.init = trmx_lease_weights_path(parent.lease);
		ro.init_manifest = trmx_lease_manifest(parent.lease);
		ro.init_digest = trmx_lease_resolution(parent.lease)->digest;
	}
	trmx_error err;
	if (trmx_train_run(argv[optind], &ro, &err) < 0)
		rc = cli_fail(&err);
done:
	close_parent(&parent);
	return rc;
}
