/*
 * cmd_train.c — `trmx train CONFIG.yaml`: a training run (docs/TRAINING.md) with progress lines,
 * held-out evaluations, checkpoints and the exported weights and metrics. `--init` fine-tunes:
 * from weights, or from a module (a .trmx package or an installed TARGET), whose architecture,
 * engine and task the config may then leave out, and whose digest becomes the lineage.
 */
#define _GNU_SOURCE /* nftw flags */
#include <ftw.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	       "      --home DIR     TRMX_HOME for an installed TARGET (default: $TRMX_HOME, else\n"
	       "                     ~/.local/share/trmx)\n"
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

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	chmod(path, 0700);
	return remove(path);
}

/* A module to fine-tune from: its weights file, manifest and digest. */
struct parent {
	char weights[4200];
	char digest[TRMX_SHA256_HEX_SIZE];
	char tmp[64];             /* the package unpacked here (removed at the end), or "" */
	trmx_package *pkg;        /* a .trmx file, or NULL */
	trmx_manifest *manifest;  /* an installed TARGET's, or NULL */
};

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && !strcmp(s + n - m, tail);
}

static int open_parent(struct parent *p, const char *from, const char *home)
{
	trmx_error err = { 0, "" };
	struct stat st;
	if (ends_with(from, ".trmx") && stat(from, &st) == 0) {
		snprintf(p->tmp, sizeof p->tmp, "/tmp/trmx-init-XXXXXX");
		/* verified as install would (sizes, SHA-256s, the signature under the home's policy) */
		char *h = NULL;
		trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
		int vrc = trmx_home_resolve(home, &h, &err);
		vo.home = h;
		if (vrc == 0 && trmx_package_open(&p->pkg, from, NULL, &err) == 0)
			vrc = trmx_package_verify(p->pkg, &vo, NULL, &err);
		else
			vrc = -1;
		free(h);
		if (vrc < 0)
			return cli_failf("--init %s: %s", from, err.message);
		if (trmx_package_digest(p->pkg, p->digest, &err) < 0)
			return cli_fail(&err);
		if (!mkdtemp(p->tmp)) {
			p->tmp[0] = '\0';
			return cli_failf("cannot make a temporary folder to unpack %s", from);
		}
		if (trmx_package_extract(p->pkg, p->tmp, &err) < 0)
			return cli_fail(&err);
		snprintf(p->weights, sizeof p->weights, "%s/weights.safetensors", p->tmp);
		return CLI_OK;
	}
	trmx_registry *reg = cli_registry_open(home);
	if (!reg)
		return CLI_FAIL;
	trmx_version_info vi;
	int rc = CLI_OK;
	if (trmx_registry_version(reg, from, &vi, &err) < 0 || trmx_registry_manifest(reg, vi.digest, &p->manifest, &err) < 0) {
		rc = cli_failf("--init %s: %s (give weights .safetensors, a .trmx package or an installed TARGET)", from,
			       err.message);
	} else {
		snprintf(p->weights, sizeof p->weights, "%s/weights.safetensors", vi.store_path);
		snprintf(p->digest, sizeof p->digest, "%s", vi.digest);
	}
	trmx_registry_free(reg);
	return rc;
}

static void close_parent(struct parent *p)
{
	if (p->tmp[0])
		nftw(p->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	trmx_package_free(p->pkg);
	trmx_manifest_free(p->manifest);
}

int cmd_train(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' }, { "out", required_argument, NULL, 'o' }, /* the old name */
		{ "resume", no_argument, NULL, 'r' },
		/* --init is long only ('I' is not in the short list): -i is --input (forward, grad) */
		{ "init", required_argument, NULL, 'I' }, { "steps", required_argument, NULL, 'n' },
		{ "quiet", no_argument, NULL, 'q' },      { "help", no_argument, NULL, 'h' },
		{ "home", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	trmx_train_run_options ro = TRMX_TRAIN_RUN_OPTIONS_INIT;
	bool quiet = false;
	const char *home = NULL;
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
		if ((rc = open_parent(&parent, ro.init, home)) != CLI_OK)
			goto done;
		ro.init = parent.weights;
		ro.init_manifest = parent.pkg ? trmx_package_manifest(parent.pkg) : parent.manifest;
		ro.init_digest = parent.digest;
	}
	trmx_error err;
	if (trmx_train_run(argv[optind], &ro, &err) < 0)
		rc = cli_fail(&err);
done:
	close_parent(&parent);
	return rc;
}
