/*
 * train_run.c — trmx_train_run: a training run from a YAML config (docs/TRAINING.md): the task and
 * its data (generated puzzles or a data set, augmented on the fly, an optional blank-count
 * curriculum), the trainer, held-out evaluations with fixed and adaptive halting on the EMA
 * weights, checkpoints that resume exactly, and the exported weights, metrics and learning curve.
 * Fine-tuning (docs/TRAINING.md, "Fine-tuning"): starting from a module's weights, with its
 * architecture, engine and task where the config gives none, and a second pool (data.mix.file,
 * typically `trmx export dataset`) drawn with probability data.mix.share; metrics.yaml then
 * records the lineage (training.base, training.corrections_sha256).
 */
#define _GNU_SOURCE /* asprintf, open_memstream */
#include <errno.h>
#include <libgen.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <stddef.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "core/core_int.h"
#include "trmx/eval.h"
#include "trmx/train.h"

enum kind { KIND_SUDOKU, KIND_MAZE, KIND_OTHER };

struct run {
	const char *path;
	const trmx_train_run_options *ro;
	trmx_config *cfg, *arch;
	char *out;
	trmx_task *task;
	enum kind kind;
	int L, size, canvas;
	trmx_trainer_options o;
	trmx_trainer *t;
	/* training data: a pool of examples, sampled with replacement and augmented */
	int32_t *pool_in, *pool_lab, *pool_pid;
	int64_t pool_n;
	/* the mixed-in pool (data.mix.file), drawn with probability mix_share */
	int32_t *mix_in, *mix_lab, *mix_pid;
	int64_t mix_n;
	double mix_share;
	char *mix_desc;
	char mix_sha256[TRMX_SHA256_HEX_SIZE];
	char *data_desc, *eval_desc;
	trmx_rng rng;
	bool augment;
	int blanks_start;
	long curriculum_steps;
	/* the maze size curriculum: example i of the pool is a maze of side sizes[i % nsizes] */
	int sizes[TRMX_MAZE_SIZE_MAX], nsizes;
	/* held-out evaluation */
	trmx_dataset *eval_ds;
	long eval_interval, ckpt_interval, log_interval;
	int eval_steps, eval_batch;
	double max_minutes;
	trmx_eval_result last_fixed, last_adaptive;
	bool evaluated;
	FILE *curve;
	double t0;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- config access -------------------------------------------------------------------------- */

/* A table, a line per group of keys. */
/* clang-format off */
static const char *const known_keys[] = {
	"name", "out", "engine", "task.codec",
	"data.source", "data.file", "data.split", "data.pool", "data.difficulty", "data.extra_givens",
	"data.min_path", "data.augment", "data.seed", "data.family", "data.curriculum.blanks_start",
	"data.curriculum.steps", "data.curriculum.size_start",
	"data.mix.file", "data.mix.share", "data.mix.split",
	"train.batch_size", "train.steps", "train.lr", "train.lr_min_ratio", "train.lr_cycles",
	"train.warmup_steps", "train.optimizer", "train.beta1", "train.beta2", "train.weight_decay",
	"train.adamw_eps", "train.puzzle_emb_lr", "train.puzzle_emb_weight_decay", "train.ema",
	"train.ema_rate", "train.halt_exploration_prob", "train.global_batch_size", "train.seed",
	"train.max_minutes", "train.log_interval", "train.act_halting",
	"eval.interval", "eval.size", "eval.seed", "eval.steps", "eval.batch_size", "eval.file",
	"eval.split", "eval.difficulty", "eval.family",
	"checkpoint.interval",
};
/* clang-format on */

static int bad(struct run *r, trmx_error *err, const char *key, const char *why)
{
	return trmx_error_set(err, TRMX_EINVAL, "%s: '%s' %s", r->path, key, why);
}

static const char *get_str(struct run *r, const char *key, const char *def)
{
	const char *v = trmx_config_get(r->cfg, key);
	return v ? v : def;
}

static int get_long(struct run *r, const char *key, long def, long lo, long hi, long *out, trmx_error *err)
{
	return trmx_setting_long(r->path, key, trmx_config_get(r->cfg, key), false, def, lo, hi, out, err);
}

static int get_double(struct run *r, const char *key, double def, double lo, double hi, double *out,
		      trmx_error *err)
{
	return trmx_setting_double(r->path, key, trmx_config_get(r->cfg, key), false, def, lo, hi, out, err);
}

static int get_bool(struct run *r, const char *key, bool def, bool *out, trmx_error *err)
{
	return trmx_setting_bool(r->path, key, trmx_config_get(r->cfg, key), def, out, err);
}

/* A path from the config, relative to the config file's folder. */
static char *rel_path(struct run *r, const char *p)
{
	if (p[0] == '/')
		return strdup(p);
	char *copy = strdup(r->path);
	if (!copy)
		return NULL;
	char *dir = dirname(copy), *out = NULL;
	if (asprintf(&out, "%s/%s", dir, p) < 0)
		out = NULL;
	free(copy);
	return out;
}

static int read_options(struct run *r, trmx_error *err)
{
	int rc;
	long l;
	bool b;
	for (size_t i = 0; i < trmx_config_count(r->cfg); i++) {
		const char *k, *v;
		trmx_config_at(r->cfg, i, &k, &v);
		bool ok = !strncmp(k, "arch.", 5) || !strncmp(k, "task.params.", 12);
		for (size_t j = 0; !ok && j < sizeof known_keys / sizeof *known_keys; j++)
			ok = !strcmp(k, known_keys[j]);
		if (!ok)
			return trmx_error_set(err, TRMX_EINVAL, "%s: unknown key '%s' (docs/TRAINING.md lists the keys)",
					      r->path, k);
	}
	trmx_trainer_options *o = &r->o;
	*o = (trmx_trainer_options)TRMX_TRAINER_OPTIONS_INIT;
	if ((rc = get_long(r, "train.batch_size", 32, 1, TRMX_SOLVE_BATCH_MAX, &l, err)) < 0)
		return rc;
	o->batch_size = (int)l;
	if ((rc = get_long(r, "train.steps", 1000, 1, 100000000, &o->total_steps, err)) < 0 ||
	    (rc = get_double(r, "train.lr", 1e-4, 0, 10, &o->lr, err)) < 0 ||
	    (rc = get_double(r, "train.lr_min_ratio", 1.0, 0, 1, &o->lr_min_ratio, err)) < 0 ||
	    (rc = get_long(r, "train.lr_cycles", 1, 1, 1000, &l, err)) < 0)
		return rc;
	o->lr_cycles = (int)l;
	if ((rc = get_long(r, "train.warmup_steps", 100, 0, 100000000, &o->warmup_steps, err)) < 0 ||
	    (rc = get_double(r, "train.beta1", 0.9, 0, 0.999999, &o->beta1, err)) < 0 ||
	    (rc = get_double(r, "train.beta2", 0.95, 0, 0.999999, &o->beta2, err)) < 0 ||
	    (rc = get_double(r, "train.weight_decay", 0.1, 0, 100, &o->weight_decay, err)) < 0 ||
	    (rc = get_double(r, "train.adamw_eps", 1e-8, 0, 1, &o->adamw_eps, err)) < 0 ||
	    (rc = get_double(r, "train.puzzle_emb_lr", 1e-2, 0, 10, &o->puzzle_emb_lr, err)) < 0 ||
	    (rc = get_double(r, "train.puzzle_emb_weight_decay", 0.1, 0, 100, &o->puzzle_emb_weight_decay, err)) < 0 ||
	    (rc = get_double(r, "train.ema_rate", 0.999, 0, 0.999999, &o->ema_rate, err)) < 0 ||
	    (rc = get_double(r, "train.halt_exploration_prob", 0.1, 0, 1, &o->halt_exploration_prob, err)) < 0 ||
	    (rc = get_double(r, "train.global_batch_size", 0, 0, 1e9, &o->global_batch_size, err)) < 0 ||
	    (rc = get_long(r, "train.seed", 0, 0, 1L << 62, &l, err)) < 0)
		return rc;
	o->seed = (uint64_t)l;
	if ((rc = get_bool(r, "train.act_halting", true, &b, err)) < 0)
		return rc;
	o->act_halting = b;
	const char *opt = get_str(r, "train.optimizer", "adam_atan2");
	if (!strcmp(opt, "adam_atan2"))
		o->optimizer = TRMX_OPTIMIZER_ADAM_ATAN2;
	else if (!strcmp(opt, "adamw"))
		o->optimizer = TRMX_OPTIMIZER_ADAMW;
	else
		return bad(r, err, "train.optimizer", "must be adam_atan2 or adamw");
	const char *ema = get_str(r, "train.ema", "warmup");
	if (!strcmp(ema, "off"))
		o->ema = TRMX_EMA_OFF;
	else if (!strcmp(ema, "official"))
		o->ema = TRMX_EMA_OFFICIAL;
	else if (!strcmp(ema, "warmup"))
		o->ema = TRMX_EMA_WARMUP;
	else
		return bad(r, err, "train.ema", "must be off, official or warmup");
	if (r->ro->steps > 0)
		o->total_steps = r->ro->steps;
	if ((rc = get_double(r, "train.max_minutes", 0, 0, 1e6, &r->max_minutes, err)) < 0 ||
	    (rc = get_long(r, "train.log_interval", 50, 1, 1000000, &r->log_interval, err)) < 0 ||
	    (rc = get_long(r, "eval.interval", 500, 1, 100000000, &r->eval_interval, err)) < 0 ||
	    (rc = get_long(r, "checkpoint.interval", 500, 1, 100000000, &r->ckpt_interval, err)) < 0 ||
	    (rc = get_long(r, "eval.steps", 16, 1, TRMX_SOLVE_STEPS_MAX, &l, err)) < 0)
		return rc;
	r->eval_steps = (int)l;
	if ((rc = get_long(r, "eval.batch_size", 64, 1, TRMX_SOLVE_BATCH_MAX, &l, err)) < 0)
		return rc;
	r->eval_batch = (int)l;
	return 0;
}

/* ---- data ----------------------------------------------------------------------------------- */

static int open_task(struct run *r, trmx_error *err)
{
	const char *codec = trmx_config_get(r->cfg, "task.codec");
	const trmx_manifest *parent = r->ro->init_manifest;
	trmx_config *params = NULL;
	int rc;
	if (!codec && parent)
		codec = trmx_manifest_task_codec(parent);
	if (!codec)
		return bad(r, err, "task.codec", "is missing (sudoku, maze, arc or tokens)");
	if (parent && strcmp(codec, trmx_manifest_task_codec(parent)))
		return bad(r, err, "task.codec", "differs from the codec of the module fine-tuned from");
	if ((rc = trmx_config_new(&params, err)) < 0)
		return rc;
	if (parent) { /* the parent's parameters, which the config's own may override */
		const trmx_config *pp = trmx_manifest_task_params(parent);
		for (size_t i = 0; i < trmx_config_count(pp); i++) {
			const char *k, *v;
			trmx_config_at(pp, i, &k, &v);
			if ((rc = trmx_config_set(params, k, v, err)) < 0)
				goto done;
		}
	}
	for (size_t i = 0; i < trmx_config_count(r->cfg); i++) {
		const char *k, *v;
		trmx_config_at(r->cfg, i, &k, &v);
		if (!strncmp(k, "task.params.", 12) && (rc = trmx_config_set(params, k + 12, v, err)) < 0)
			goto done;
	}
	if ((rc = trmx_task_open_config(&r->task, codec, params, err)) < 0) {
		trmx_error_prefix(err, "%s: task", r->path);
		goto done;
	}
	r->L = trmx_task_seq_len(r->task);
	r->kind = !strcmp(codec, "sudoku") ? KIND_SUDOKU : !strcmp(codec, "maze") ? KIND_MAZE : KIND_OTHER;
	const char *size = trmx_task_param_get(r->task, "size"), *canvas = trmx_task_param_get(r->task, "canvas");
	r->size = size ? atoi(size) : r->kind == KIND_SUDOKU ? 9 : 30;
	r->canvas = canvas ? atoi(canvas) : r->size;
done:
	trmx_config_free(params);
	return rc;
}

/* A seed of `key` may not be one that held-out sets use (docs/TRAINING.md, "Held-out sets"). */
static int seed_not_reserved(struct run *r, const char *key, long seed, trmx_error *err)
{
	if (seed == TRMX_HELDOUT_SEED || seed == TRMX_HELDOUT_SEED_LEVELS ||
	    (seed >= TRMX_HELDOUT_SEED_MIN && seed <= TRMX_HELDOUT_SEED_MAX))
		return bad(r, err, key, "is a seed reserved for held-out sets (777777, 777778 and 7770000 to 7779999)");
	return 0;
}

/* The maze families of `key` ("free", "lattice", "lattice-loops" or a comma-separated mixture,
 * maze i of the family i mod their count) into fam[3]; *nfam 1 with free when the key is absent. */
static int maze_families(struct run *r, const char *key, const char *def, trmx_maze_family *fam, int *nfam,
			 trmx_error *err)
{
	const char *v = get_str(r, key, def);
	char name[32];
	*nfam = 0;
	for (const char *p = v; *p;) {
		size_t len = strcspn(p, ",");
		while (len && p[len - 1] == ' ')
			len--;
		if (len >= sizeof name || *nfam == 3)
			return bad(r, err, key, "must be free, lattice, lattice-loops or a list of them");
		memcpy(name, p, len);
		name[len] = '\0';
		if (trmx_maze_family_parse(name, &fam[*nfam]) < 0)
			return bad(r, err, key, "must be free, lattice, lattice-loops or a list of them");
		(*nfam)++;
		p += strcspn(p, ",");
		while (*p == ',' || *p == ' ')
			p++;
	}
	if (*nfam == 0)
		fam[(*nfam)++] = TRMX_MAZE_FAMILY_FREE;
	return 0;
}

/* Generated puzzles as CSV text (puzzle,solution,rating), read back through the task's codec.
 * `families` is the config key naming the maze families (data.family or eval.family). */
static int generate(struct run *r, const char *difficulty, const char *families, long n, uint64_t seed, bool sized,
		    trmx_dataset **out, char **desc, trmx_error *err)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = 0;
	if (!f)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory generating puzzles");
	if (r->kind == KIND_SUDOKU) {
		trmx_sudoku_gen_options go = TRMX_SUDOKU_GEN_OPTIONS_INIT;
		long extra;
		go.size = r->size;
		if ((rc = get_long(r, "data.extra_givens", 0, 0, (long)r->size * r->size, &extra, err)) < 0)
			goto done;
		go.extra_givens = (int)extra;
		if (trmx_sudoku_level_parse(difficulty, &go.level) < 0) {
			rc = trmx_error_set(err, TRMX_EINVAL, "%s: difficulty '%s' is not one of any, singles, pairs, advanced, hard",
					    r->path, difficulty);
			goto done;
		}
		for (long i = 0; i < n && rc == 0; i++) {
			uint8_t puz[TRMX_SUDOKU_SIZE_MAX * TRMX_SUDOKU_SIZE_MAX], sol[sizeof puz];
			trmx_sudoku_rating rating;
			trmx_rng rng;
			trmx_rng_seed(&rng, seed, (uint64_t)i);
			if ((rc = trmx_sudoku_generate(&rng, &go, puz, sol, &rating, err)) < 0)
				break;
			for (int k = 0; k < r->size * r->size; k++)
				fputc(puz[k] ? '0' + puz[k] : '.', f);
			fputc(',', f);
			for (int k = 0; k < r->size * r->size; k++)
				fputc('0' + sol[k], f);
			fputc('\n', f);
		}
		if (desc && asprintf(desc, "generated sudoku size=%d difficulty=%s%s%.0ld n=%ld seed=%llu", r->size,
				     difficulty, extra ? " extra_givens=" : "", extra, n, (unsigned long long)seed) < 0)
			*desc = NULL;
	} else if (r->kind == KIND_MAZE) {
		trmx_maze_gen_options go = TRMX_MAZE_GEN_OPTIONS_INIT;
		trmx_maze_family fam[3];
		int nfam;
		long mp;
		if ((rc = get_long(r, "data.min_path", -1, -1, 10000, &mp, err)) < 0 ||
		    (rc = maze_families(r, families, get_str(r, "data.family", "free"), fam, &nfam, err)) < 0)
			goto done;
		for (long i = 0; i < n && rc == 0; i++) {
			char maze[TRMX_MAZE_SIZE_MAX * TRMX_MAZE_SIZE_MAX], sol[sizeof maze];
			trmx_rng rng;
			trmx_rng_seed(&rng, seed, (uint64_t)i);
			/* a smaller maze of the size curriculum sits in the top-left corner, the rest wall */
			int s = sized && r->nsizes ? r->sizes[i % r->nsizes] : r->size;
			go.size = s;
			go.min_path = s < r->size ? trmx_maze_default_min_path(s) : (int)mp;
			go.family = fam[i % nfam];
			if ((rc = trmx_maze_generate(&rng, &go, maze, sol, NULL, err)) < 0)
				break;
			for (int pass = 0; pass < 2; pass++) {
				const char *g = pass ? sol : maze;
				for (int y = 0; y < r->size; y++)
					for (int x = 0; x < r->size; x++)
						fputc(y < s && x < s ? g[y * s + x] : '#', f);
				fputc(pass ? '\n' : ',', f);
			}
		}
		char fams[48] = "";
		for (int k = 0; k < nfam && nfam > 1; k++)
			snprintf(fams + strlen(fams), sizeof fams - strlen(fams), "%s%s", k ? "," : " family=",
				 trmx_maze_family_name(fam[k]));
		if (nfam == 1 && fam[0] != TRMX_MAZE_FAMILY_FREE)
			snprintf(fams, sizeof fams, " family=%s", trmx_maze_family_name(fam[0]));
		if (desc && asprintf(desc, "generated maze size=%d%s%s min_path=%ld n=%ld seed=%llu", r->size,
				     sized && r->nsizes ? " (and smaller, in its corner)" : "", fams, mp, n,
				     (unsigned long long)seed) < 0)
			*desc = NULL;
	} else {
		rc = trmx_error_set(err, TRMX_EINVAL, "%s: data.source generate works for sudoku and maze; give data.file for %s",
				    r->path, trmx_task_name(r->task));
	}
done:
	fclose(f);
	if (rc == 0) {
		trmx_dataset_options dopt = TRMX_DATASET_OPTIONS_INIT;
		rc = trmx_dataset_parse(out, r->task, text, len, &dopt, err);
	}
	free(text);
	return rc;
}

static int load_file(struct run *r, const char *key_file, const char *key_split, const char *def_split,
		     trmx_dataset **out, char **desc, trmx_error *err)
{
	char *path = rel_path(r, trmx_config_get(r->cfg, key_file));
	const char *split = get_str(r, key_split, def_split);
	trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
	int rc;
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (!strcmp(split, "train"))
		o.split = TRMX_SPLIT_TRAIN;
	else if (!strcmp(split, "test"))
		o.split = TRMX_SPLIT_TEST;
	else if (!strcmp(split, "all"))
		o.split = TRMX_SPLIT_ALL;
	else {
		free(path);
		return bad(r, err, key_split, "must be train, test or all");
	}
	rc = trmx_dataset_load(out, r->task, path, &o, err);
	if (rc == 0 && desc && asprintf(desc, "%s (%s split)", trmx_config_get(r->cfg, key_file), split) < 0)
		*desc = NULL;
	free(path);
	return rc;
}

/* Every example of `ds` as int32 arrays (labels: 0 becomes -100, not supervised). */
static int pool_from(struct run *r, trmx_dataset *ds, int32_t **pin, int32_t **plab, int32_t **ppid, int64_t *pn,
		     const char *what, trmx_error *err)
{
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	size_t L = (size_t)r->L;
	int rc = 0;
	if (!v.examples)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: %s holds no example", r->path, what);
	int32_t *in = malloc((size_t)v.examples * L * sizeof(int32_t)), *lab = malloc((size_t)v.examples * L * sizeof(int32_t)),
		*pid = malloc((size_t)v.examples * sizeof(int32_t));
	if (!in || !lab || !pid) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for %lld training examples", (long long)v.examples);
		goto done;
	}
	for (int64_t p = 0; p < v.puzzles; p++)
		for (int64_t e = v.puzzle_indices[p]; e < v.puzzle_indices[p + 1]; e++)
			pid[e] = v.puzzle_identifiers[p];
	for (int64_t i = 0; i < v.examples; i++) {
		int32_t *l = lab + (size_t)i * L;
		if ((rc = trmx_dataset_example(ds, i, in + (size_t)i * L, l, err)) < 0)
			goto done;
		for (size_t k = 0; k < L; k++)
			if (l[k] == 0)
				l[k] = -100;
	}
	*pin = in, *plab = lab, *ppid = pid, *pn = v.examples;
	return 0;
done:
	free(in), free(lab), free(pid);
	return rc;
}

/* The mixed-in pool: data.mix.file (a CSV such as `trmx export dataset` writes), drawn with
 * probability data.mix.share; its SHA-256 goes into metrics.yaml as training.corrections_sha256. */
static int load_mix(struct run *r, trmx_error *err)
{
	trmx_dataset *ds = NULL;
	int rc;
	if (!trmx_config_get(r->cfg, "data.mix.file")) {
		if (trmx_config_get(r->cfg, "data.mix.share") || trmx_config_get(r->cfg, "data.mix.split"))
			return bad(r, err, "data.mix.share", "needs data.mix.file");
		return 0;
	}
	if ((rc = get_double(r, "data.mix.share", 0.5, 0, 1, &r->mix_share, err)) < 0)
		return rc;
	char *path = rel_path(r, trmx_config_get(r->cfg, "data.mix.file"));
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	rc = trmx_sha256_file(path, r->mix_sha256, err);
	free(path);
	if (rc < 0 || (rc = load_file(r, "data.mix.file", "data.mix.split", "all", &ds, &r->mix_desc, err)) < 0)
		return rc;
	rc = pool_from(r, ds, &r->mix_in, &r->mix_lab, &r->mix_pid, &r->mix_n, "data.mix.file", err);
	trmx_dataset_free(ds);
	return rc;
}

/* The training pool: every example of the data as int32 (labels: 0 becomes -100, not supervised). */
static int load_pool(struct run *r, trmx_error *err)
{
	const char *src = get_str(r, "data.source", "generate");
	trmx_dataset *ds = NULL;
	long n, seed, bs, bsteps, ss;
	int rc;
	if ((rc = get_long(r, "data.pool", 20000, 1, 10000000, &n, err)) < 0 ||
	    (rc = get_long(r, "data.seed", 1, 0, 1L << 62, &seed, err)) < 0 ||
	    (rc = get_long(r, "data.curriculum.blanks_start", 0, 0, 1024, &bs, err)) < 0 ||
	    (rc = get_long(r, "data.curriculum.steps", 0, 0, 100000000, &bsteps, err)) < 0 ||
	    (rc = get_long(r, "data.curriculum.size_start", 0, 0, TRMX_MAZE_SIZE_MAX, &ss, err)) < 0 ||
	    (rc = get_bool(r, "data.augment", true, &r->augment, err)) < 0 ||
	    (rc = seed_not_reserved(r, "data.seed", seed, err)) < 0)
		return rc;
	r->blanks_start = (int)bs;
	r->curriculum_steps = bsteps;
	if (ss > 0) {
		if (r->kind != KIND_MAZE || bsteps == 0 || ss < 3 || ss > r->size || strcmp(src, "generate"))
			return bad(r, err, "data.curriculum.size_start",
				   "applies to generated mazes with data.curriculum.steps, from 3 to task.params.size");
		for (int s = (int)ss; s < r->size; s += 2)
			r->sizes[r->nsizes++] = s;
		r->sizes[r->nsizes++] = r->size;
		if (n < r->nsizes)
			return bad(r, err, "data.pool", "must hold at least one maze of every size of the curriculum");
	}
	if (!strcmp(src, "generate"))
		rc = generate(r, get_str(r, "data.difficulty", "any"), "data.family", n, (uint64_t)seed, true, &ds,
			      &r->data_desc, err);
	else if (!strcmp(src, "file") && trmx_config_get(r->cfg, "data.file"))
		rc = load_file(r, "data.file", "data.split", "train", &ds, &r->data_desc, err);
	else
		return bad(r, err, "data.source", "must be generate, or file with data.file");
	if (rc < 0)
		return rc;
	trmx_dataset_view v;
	trmx_dataset_view_get(ds, &v);
	r->pool_n = v.examples;
	size_t L = (size_t)r->L;
	r->pool_in = malloc((size_t)v.examples * L * sizeof(int32_t));
	r->pool_lab = malloc((size_t)v.examples * L * sizeof(int32_t));
	r->pool_pid = malloc((size_t)v.examples * sizeof(int32_t));
	if (!v.examples) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: the training data holds no example", r->path);
		goto done;
	}
	if (!r->pool_in || !r->pool_lab || !r->pool_pid) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for %lld training examples", (long long)v.examples);
		goto done;
	}
	for (int64_t p = 0; p < v.puzzles; p++)
		for (int64_t e = v.puzzle_indices[p]; e < v.puzzle_indices[p + 1]; e++)
			r->pool_pid[e] = v.puzzle_identifiers[p];
	for (int64_t i = 0; i < v.examples; i++) {
		int32_t *lab = r->pool_lab + (size_t)i * L;
		if ((rc = trmx_dataset_example(ds, i, r->pool_in + (size_t)i * L, lab, err)) < 0)
			goto done;
		for (size_t k = 0; k < L; k++)
			if (lab[k] == 0)
				lab[k] = -100;
	}
	trmx_rng_seed(&r->rng, (uint64_t)seed, 0x5a4d504cull);
done:
	trmx_dataset_free(ds);
	return rc;
}

static int load_eval(struct run *r, trmx_error *err)
{
	long n, seed;
	int rc;
	if (trmx_config_get(r->cfg, "eval.file"))
		return load_file(r, "eval.file", "eval.split", "test", &r->eval_ds, &r->eval_desc, err);
	if ((rc = get_long(r, "eval.size", 500, 1, 1000000, &n, err)) < 0 ||
	    (rc = get_long(r, "eval.seed", 1000003, 0, 1L << 62, &seed, err)) < 0 ||
	    (rc = seed_not_reserved(r, "eval.seed", seed, err)) < 0)
		return rc;
	const char *diff = get_str(r, "eval.difficulty", get_str(r, "data.difficulty", "any"));
	return generate(r, diff, "eval.family", n, (uint64_t)seed, false, &r->eval_ds, &r->eval_desc, err);
}

/* Give a row a random pool example, augmented, with the curriculum's blanks. */
static int fill_row(void *user, int row, int32_t *input, int32_t *label, int32_t *puzzle_id, trmx_error *err)
{
	struct run *r = user;
	size_t L = (size_t)r->L;
	const int32_t *in, *lab;
	int rc;
	/* one draw decides the pool only when there is a mix, so a run without one keeps its stream */
	if (r->mix_n && (double)(trmx_rng_next(&r->rng) >> 11) * 0x1.0p-53 < r->mix_share) {
		uint64_t i = trmx_rng_next(&r->rng) % (uint64_t)r->mix_n;
		in = r->mix_in + i * L, lab = r->mix_lab + i * L;
		*puzzle_id = r->mix_pid[i];
	} else {
		uint64_t i;
		if (r->nsizes) {
			/* the size the curriculum is at (each size an equal share of its steps) three times in
			 * four, else one of the smaller ones */
			long step = trmx_trainer_steps(r->t);
			int at = step >= r->curriculum_steps ? r->nsizes - 1 : (int)(step * r->nsizes / r->curriculum_steps);
			int k = trmx_rng_below(&r->rng, 4) ? at : (int)trmx_rng_below(&r->rng, (uint32_t)at + 1);
			uint64_t per = (uint64_t)r->pool_n / (uint64_t)r->nsizes;
			i = (trmx_rng_next(&r->rng) % per) * (uint64_t)r->nsizes + (uint64_t)k;
		} else {
			i = trmx_rng_next(&r->rng) % (uint64_t)r->pool_n;
		}
		in = r->pool_in + i * L, lab = r->pool_lab + i * L;
		*puzzle_id = r->pool_pid[i];
	}
	if (r->augment && r->kind == KIND_SUDOKU) {
		trmx_sudoku_shuffle sh;
		if ((rc = trmx_sudoku_shuffle_random(&r->rng, r->size, &sh, err)) < 0 ||
		    (rc = trmx_sudoku_shuffle_tokens(&sh, in, input, err)) < 0 ||
		    (rc = trmx_sudoku_shuffle_tokens(&sh, lab, label, err)) < 0)
			return rc;
	} else if (r->augment && r->kind == KIND_MAZE) {
		/* a dihedral transform of the maze (top-left size x size of its canvas) */
		int tid = (int)trmx_rng_below(&r->rng, TRMX_DIHEDRAL_COUNT), n = r->size, c = r->canvas;
		int32_t a[TRMX_MAZE_SIZE_MAX * TRMX_MAZE_SIZE_MAX], b[sizeof a / sizeof *a];
		memcpy(input, in, L * sizeof *input);
		memcpy(label, lab, L * sizeof *label);
		for (int pass = 0; pass < 2; pass++) {
			int32_t *dst = pass ? label : input;
			for (int y = 0; y < n; y++)
				memcpy(a + y * n, dst + y * c, (size_t)n * sizeof *a);
			if ((rc = trmx_dihedral_apply(tid, a, n, n, b, NULL, NULL, err)) < 0)
				return rc;
			for (int y = 0; y < n; y++)
				memcpy(dst + y * c, b + y * n, (size_t)n * sizeof *b);
		}
	} else {
		memcpy(input, in, L * sizeof *input);
		memcpy(label, lab, L * sizeof *label);
	}
	if (r->curriculum_steps == 0 || r->nsizes)
		return 0;
	long step = trmx_trainer_steps(r->t);
	double f = step >= r->curriculum_steps ? 1.0 : (double)step / (double)r->curriculum_steps;
	if (r->kind == KIND_MAZE) {
		trmx_maze_prune(r->canvas, input, label, r->blanks_start, f);
	} else if (r->kind == KIND_SUDOKU) {
		/* reveal answer cells until at most `allowed` blanks remain */
		int allowed = r->blanks_start + (int)(f * (double)((int)L - r->blanks_start)), blanks = 0;
		for (size_t k = 0; k < L; k++)
			blanks += input[k] == 1;
		while (blanks > allowed) {
			size_t k = trmx_rng_below(&r->rng, (uint32_t)L);
			if (input[k] == 1 && label[k] > 1) {
				input[k] = label[k];
				blanks--;
			}
		}
	}
	return 0;
}

/* ---- evaluation, checkpoints, outputs --------------------------------------------------------- */

static void emit(struct run *r, trmx_train_progress *p)
{
	p->elapsed = now() - r->t0;
	p->total_steps = r->o.total_steps;
	if (r->ro->progress)
		r->ro->progress(r->ro->user, p);
}

static void info(struct run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void info(struct run *r, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	trmx_train_progress p = { .event = TRMX_TRAIN_EVENT_INFO, .step = trmx_trainer_steps(r->t), .message = msg };
	emit(r, &p);
}

static int evaluate(struct run *r, trmx_error *err)
{
	int rc;
	if ((rc = trmx_trainer_use_ema(r->t, r->o.ema != TRMX_EMA_OFF, err)) < 0)
		return rc;
	trmx_eval_options eo = TRMX_EVAL_OPTIONS_INIT;
	eo.max_steps = r->eval_steps;
	eo.batch_size = r->eval_batch;
	eo.halt = TRMX_HALT_FIXED;
	rc = trmx_eval_run(trmx_trainer_model(r->t), r->task, r->eval_ds, &eo, NULL, NULL, &r->last_fixed, err);
	if (rc == 0) {
		eo.halt = TRMX_HALT_ADAPTIVE;
		rc = trmx_eval_run(trmx_trainer_model(r->t), r->task, r->eval_ds, &eo, NULL, NULL, &r->last_adaptive, err);
	}
	trmx_trainer_use_ema(r->t, false, NULL);
	if (rc < 0)
		return rc;
	r->evaluated = true;
	long step = trmx_trainer_steps(r->t);
	trmx_train_progress p = { .event = TRMX_TRAIN_EVENT_EVAL, .step = step, .eval_fixed = &r->last_fixed,
				  .eval_adaptive = &r->last_adaptive };
	emit(r, &p);
	if (r->curve) {
		fprintf(r->curve, "%ld,%.1f,eval,,,%.4f,%.4f,%.3f,%.4f,%.3f\n", step, now() - r->t0,
			r->last_fixed.exact_accuracy, r->last_fixed.open_accuracy, r->last_fixed.mean_steps,
			r->last_adaptive.exact_accuracy, r->last_adaptive.mean_steps);
		fflush(r->curve);
	}
	return 0;
}

static char *out_file(struct run *r, const char *name)
{
	char *p = NULL;
	return asprintf(&p, "%s/%s", r->out, name) < 0 ? NULL : p;
}

static int checkpoint(struct run *r, trmx_error *err)
{
	trmx_config *extra = NULL;
	char state[4 * 17 + 1];
	char *path = out_file(r, "checkpoint.safetensors");
	int rc = path ? trmx_config_new(&extra, err) : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (rc == 0) {
		snprintf(state, sizeof state, "%016llx%016llx%016llx%016llx", (unsigned long long)r->rng.s[0],
			 (unsigned long long)r->rng.s[1], (unsigned long long)r->rng.s[2], (unsigned long long)r->rng.s[3]);
		char elapsed[32];
		snprintf(elapsed, sizeof elapsed, "%.3f", now() - r->t0);
		if ((rc = trmx_config_set(extra, "data_rng", state, err)) == 0 &&
		    (rc = trmx_config_set(extra, "elapsed_seconds", elapsed, err)) == 0 &&
		    (rc = trmx_trainer_save(r->t, path, extra, err)) == 0) {
			trmx_train_progress p = { .event = TRMX_TRAIN_EVENT_CHECKPOINT, .step = trmx_trainer_steps(r->t),
						  .message = path };
			emit(r, &p);
		}
	}
	trmx_config_free(extra);
	free(path);
	return rc;
}

static int resume(struct run *r, trmx_error *err)
{
	trmx_config *extra = NULL;
	char *path = out_file(r, "checkpoint.safetensors");
	int rc = path ? trmx_trainer_load(r->t, path, &extra, err) : trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (rc == 0) {
		const char *s = trmx_config_get(extra, "data_rng");
		if (!s || strlen(s) != 64) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: no data_rng state for this run", path);
		} else {
			for (int i = 0; i < 4; i++) {
				char part[17];
				memcpy(part, s + 16 * i, 16);
				part[16] = '\0';
				r->rng.s[i] = strtoull(part, NULL, 16);
			}
			double elapsed = 0;
			const char *e = trmx_config_get(extra, "elapsed_seconds");
			if (e && trmx_parse_double(e, &elapsed) && elapsed > 0)
				r->t0 = now() - elapsed; /* durations count the time before the stop too */
			info(r, "resumed from %s at step %ld (%.0f s of training before)", path, trmx_trainer_steps(r->t),
			     elapsed);
		}
	}
	trmx_config_free(extra);
	free(path);
	return rc;
}

/* One held-out set in the manifest's metrics form (docs/FORMAT.md). */
static void yaml_result(FILE *f, const char *name, const char *set, const trmx_eval_result *e)
{
	fprintf(f, "  %s:\n", name);
	fprintf(f, "    exact_accuracy: %.4f\n", e->exact_accuracy);
	fprintf(f, "    token_accuracy: %.4f\n", e->token_accuracy);
	fprintf(f, "    mean_steps: %.3f\n", e->mean_steps);
	fprintf(f, "    count: %lld\n", (long long)e->items);
	fprintf(f, "    halt: %s\n", e->halt == TRMX_HALT_FIXED ? "fixed" : "adaptive");
	fprintf(f, "    max_steps: %d\n", e->max_steps);
	fprintf(f, "    x-open-accuracy: %.4f\n", e->open_accuracy);
	fprintf(f, "    x-set: \"%s\"\n", set ? set : "");
	if (e->halt == TRMX_HALT_FIXED && e->labelled) {
		fprintf(f, "    x-exact-at-steps: {");
		int caps[] = { 1, 2, 4, 8, 16, 32 };
		bool first = true;
		for (size_t i = 0; i < sizeof caps / sizeof *caps; i++)
			if (caps[i] <= e->max_steps) {
				fprintf(f, "%s%d: %.4f", first ? "" : ", ", caps[i],
					(double)e->exact_by_cap[caps[i]] / (double)e->labelled);
				first = false;
			}
		fprintf(f, "}\n");
	}
}

static void cpu_name(char *buf, size_t n)
{
	snprintf(buf, n, "unknown CPU");
	FILE *f = fopen("/proc/cpuinfo", "r");
	char line[512];
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, "model name", 10) && strchr(line, ':')) {
			char *v = strchr(line, ':') + 2;
			v[strcspn(v, "\n")] = '\0';
			snprintf(buf, n, "%s", v);
			break;
		}
	if (f)
		fclose(f);
}

static int write_metrics(struct run *r, double seconds, bool time_limited, trmx_error *err)
{
	char *path = out_file(r, "metrics.yaml"), *text = NULL, cpu[256];
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc;
	if (!path || !f) {
		free(path);
		if (f)
			fclose(f);
		free(text);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	cpu_name(cpu, sizeof cpu);
	fprintf(f, "# written by trmx train from %s: the manifest's training: and metrics: (docs/FORMAT.md)\n",
		r->path);
	fprintf(f, "training:\n");
	if (r->mix_n)
		fprintf(f, "  dataset: \"%s + %.0f%% %s\"\n", r->data_desc ? r->data_desc : "", 100 * r->mix_share,
			r->mix_desc ? r->mix_desc : "");
	else
		fprintf(f, "  dataset: \"%s\"\n", r->data_desc ? r->data_desc : "");
	if (r->ro->init_digest)
		fprintf(f, "  base: %s\n", r->ro->init_digest);
	if (r->mix_n)
		fprintf(f, "  corrections_sha256: %s\n", r->mix_sha256);
	fprintf(f, "  steps: %ld\n", trmx_trainer_steps(r->t));
	fprintf(f, "  seed: %llu\n", (unsigned long long)r->o.seed);
	fprintf(f, "  hardware: \"%s, %d threads\"\n", cpu, trmx_get_threads());
	fprintf(f, "  duration: %.0f\n", seconds);
	fprintf(f, "  x-batch-size: %d\n", r->o.batch_size);
	fprintf(f, "  x-planned-steps: %ld\n", r->o.total_steps);
	fprintf(f, "  x-time-limited: %s\n", time_limited ? "true" : "false");
	fprintf(f, "  x-augment: %s\n", r->augment ? "true" : "false");
	fprintf(f, "metrics:\n");
	yaml_result(f, "heldout-fixed", r->eval_desc, &r->last_fixed);
	yaml_result(f, "heldout-adaptive", r->eval_desc, &r->last_adaptive);
	fclose(f);
	rc = trmx_write_file_atomic(path, text, len, err);
	free(text);
	free(path);
	return rc;
}

/* ---- the run ------------------------------------------------------------------------------- */

static int loop(struct run *r, trmx_error *err)
{
	double window_loss = 0, window_exact = 0, window_acc = 0, window_steps = 0, last_t = now();
	long window_rows = 0, window_halted = 0, last_step = trmx_trainer_steps(r->t);
	bool time_limited = false;
	int rc;
	while (trmx_trainer_steps(r->t) < r->o.total_steps) {
		trmx_train_metrics m;
		if ((rc = trmx_trainer_step(r->t, fill_row, r, &m, err)) < 0)
			return rc;
		window_loss += m.loss;
		window_rows += m.rows;
		window_exact += m.exact;
		window_acc += m.token_accuracy * m.halted_rows;
		window_steps += m.mean_steps * m.halted_rows;
		window_halted += m.halted_rows;
		long step = m.step;
		if (step % r->log_interval == 0 || step == r->o.total_steps) {
			double t = now(), sps = (double)(step - last_step) / (t - last_t);
			trmx_train_progress p = { .event = TRMX_TRAIN_EVENT_LOG,
						  .step = step,
						  .steps_per_second = sps,
						  .eta_seconds = sps > 0 ? (double)(r->o.total_steps - step) / sps : 0,
						  .lr = m.lr,
						  .loss = window_loss / (double)(window_rows ? window_rows : 1),
						  .exact = window_halted ? window_exact / (double)window_halted : 0,
						  .token_accuracy = window_halted ? window_acc / (double)window_halted : 0,
						  .mean_steps = window_halted ? window_steps / (double)window_halted : 0 };
			emit(r, &p);
			if (r->curve) {
				fprintf(r->curve, "%ld,%.1f,train,%.3g,%.5f,%.4f,%.4f,%.3f,,\n", step, now() - r->t0, p.lr,
					p.loss, p.exact, p.token_accuracy, p.mean_steps);
				fflush(r->curve);
			}
			window_loss = window_exact = window_acc = window_steps = 0;
			window_rows = window_halted = 0;
			last_t = t;
			last_step = step;
		}
		if (r->max_minutes > 0 && now() - r->t0 > r->max_minutes * 60) {
			time_limited = true;
			info(r, "time limit of %.0f minutes reached at step %ld", r->max_minutes, step);
			break;
		}
		if (step % r->eval_interval == 0 && step < r->o.total_steps && (rc = evaluate(r, err)) < 0)
			return rc;
		if (step % r->ckpt_interval == 0 && (rc = checkpoint(r, err)) < 0)
			return rc;
	}
	if (trmx_trainer_steps(r->t) % r->ckpt_interval && (rc = checkpoint(r, err)) < 0)
		return rc;
	if ((rc = evaluate(r, err)) < 0)
		return rc;
	char *wpath = out_file(r, "weights.safetensors");
	if (!wpath)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if ((rc = trmx_trainer_write_weights(r->t, true, wpath, err)) == 0 &&
	    (rc = write_metrics(r, now() - r->t0, time_limited, err)) == 0) {
		trmx_train_progress p = { .event = TRMX_TRAIN_EVENT_DONE, .step = trmx_trainer_steps(r->t), .message = wpath };
		emit(r, &p);
	}
	free(wpath);
	return rc;
}

int trmx_train_run(const char *config_path, const trmx_train_run_options *opts, trmx_error *err)
{
	trmx_train_run_options ro = TRMX_TRAIN_RUN_OPTIONS_INIT; /* a version 1 struct ends before init_manifest */
	if (opts)
		memcpy(&ro, opts, opts->version >= 2 ? sizeof ro : offsetof(trmx_train_run_options, init_manifest));
	struct run r = { .path = config_path, .ro = &ro, .t0 = now() };
	trmx_weights *init = NULL;
	int rc;
	if (!config_path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_train_run: no config");
	if (!trmx_version_ok(r.ro->version, TRMX_TRAIN_RUN_OPTIONS_VERSION))
		return trmx_version_refused(err, "train run options", r.ro->version, TRMX_TRAIN_RUN_OPTIONS_VERSION);
	if (r.ro->init_digest && strlen(r.ro->init_digest) != TRMX_SHA256_HEX_SIZE - 1)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_train_run: init_digest is not a SHA-256 in hex");
	if ((rc = trmx_config_load_yaml_all(&r.cfg, config_path, err)) < 0 || (rc = read_options(&r, err)) < 0 ||
	    (rc = trmx_config_new(&r.arch, err)) < 0)
		goto done;
	if (r.ro->init_manifest) { /* the parent's architecture first; the config's keys override */
		const trmx_config *pa = trmx_manifest_architecture(r.ro->init_manifest);
		for (size_t i = 0; i < trmx_config_count(pa); i++) {
			const char *k, *v;
			trmx_config_at(pa, i, &k, &v);
			if ((rc = trmx_config_set(r.arch, k, v, err)) < 0)
				goto done;
		}
	}
	for (size_t i = 0; i < trmx_config_count(r.cfg); i++) {
		const char *k, *v;
		trmx_config_at(r.cfg, i, &k, &v);
		if (!strncmp(k, "arch.", 5) && (rc = trmx_config_set(r.arch, k + 5, v, err)) < 0)
			goto done;
	}
	if (r.ro->out_dir)
		r.out = strdup(r.ro->out_dir);
	else
		r.out = rel_path(&r, get_str(&r, "out", "run"));
	if (!r.out) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	for (char *p = r.out + 1;; p++) { /* mkdir -p */
		char c = *p;
		if (c != '/' && c != '\0')
			continue;
		*p = '\0';
		int mk = mkdir(r.out, 0755);
		*p = c;
		if (mk != 0 && errno != EEXIST) {
			rc = trmx_error_set(err, TRMX_EIO, "cannot create %s: %s", r.out, strerror(errno));
			goto done;
		}
		if (c == '\0')
			break;
	}
	if ((rc = open_task(&r, err)) < 0)
		goto done;
	if (r.ro->init && (rc = trmx_weights_open(&init, r.ro->init, err)) < 0)
		goto done;
	const char *engine = get_str(&r, "engine", r.ro->init_manifest ? trmx_manifest_engine_name(r.ro->init_manifest) : "trm");
	if ((rc = trmx_trainer_new(&r.t, engine, r.arch, init, &r.o, err)) < 0) {
		trmx_error_prefix(err, "%s", config_path);
		goto done;
	}
	trmx_weights_free(init);
	init = NULL;
	trmx_model_info mi;
	trmx_model_info_get(trmx_trainer_model(r.t), &mi);
	if (mi.seq_len != r.L || mi.vocab_size != trmx_task_vocab_size(r.task)) {
		rc = trmx_error_set(err, TRMX_ESHAPE, "%s: the task has seq_len %d and vocabulary %d; arch says %d and %d",
				    config_path, r.L, trmx_task_vocab_size(r.task), mi.seq_len, mi.vocab_size);
		goto done;
	}
	info(&r, "model: %s engine, %lld parameters, %.2f GFLOP per sequence per ACT step", engine,
	     (long long)mi.num_params, mi.flops_per_step / 1e9);
	if ((rc = load_pool(&r, err)) < 0 || (rc = load_mix(&r, err)) < 0 || (rc = load_eval(&r, err)) < 0)
		goto done;
	info(&r, "training data: %s (%lld examples%s)", r.data_desc ? r.data_desc : "?", (long long)r.pool_n,
	     r.augment ? ", augmented" : "");
	if (r.mix_n)
		info(&r, "mixed in with probability %.2f: %s (%lld examples, sha256 %.12s)", r.mix_share,
		     r.mix_desc ? r.mix_desc : "?", (long long)r.mix_n, r.mix_sha256);
	if (r.ro->init_digest)
		info(&r, "fine-tuning from the package sha256:%s", r.ro->init_digest);
	info(&r, "held-out: %s", r.eval_desc ? r.eval_desc : "?");
	if (r.ro->resume && (rc = resume(&r, err)) < 0)
		goto done;
	char *curve = out_file(&r, "curve.csv");
	if (!curve) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	struct stat st;
	bool fresh = stat(curve, &st) != 0 || !r.ro->resume;
	r.curve = fopen(curve, fresh ? "w" : "a");
	if (!r.curve) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot write %s: %s", curve, strerror(errno));
		free(curve);
		goto done;
	}
	free(curve);
	if (fresh)
		fprintf(r.curve, "step,elapsed_s,kind,lr,loss,exact,accuracy,mean_steps,exact_adaptive,mean_steps_adaptive\n");
	rc = loop(&r, err);
done:
	if (r.curve)
		fclose(r.curve);
	trmx_weights_free(init);
	trmx_trainer_free(r.t);
	trmx_dataset_free(r.eval_ds);
	trmx_task_free(r.task);
	trmx_config_free(r.cfg);
	trmx_config_free(r.arch);
	free(r.pool_in), free(r.pool_lab), free(r.pool_pid), free(r.data_desc), free(r.eval_desc), free(r.out);
	free(r.mix_in), free(r.mix_lab), free(r.mix_pid), free(r.mix_desc);
	return rc;
}
