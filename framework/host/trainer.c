/*
 * trainer.c — trmx_trainer_*: the engine-independent half of training. The engine runs the
 * forward and backward of one ACT step (engine.h, train_step); this file owns the optimizer
 * (AdamATan2 or AdamW over the engine's one parameter buffer, one loop), the learning-rate
 * schedule, sign-SGD for the puzzle rows a batch used, the EMA, exploration draws, checkpoints
 * and weight export. Semantics: docs/TRAINING.md (the official pretrain.py).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engines/runtime/runtime_int.h"
#include "tensor/parallel.h"
#include "trmx/train.h"

struct trmx_trainer {
	trmx_model *model;
	trmx_train_state st;
	trmx_trainer_options o;
	float *m, *v, *ema;      /* [n_trainable] */
	bool ema_swapped;
	long step;
	uint64_t rng;            /* exploration draws */
	int32_t *in, *lab, *pid; /* the batch offered to rows that halted */
	float *explore_u;
	int32_t *explore_steps;
	float *puzzle_sum;       /* [puzzle_dim] */
	trmx_train_result last;
};

static uint64_t rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static int check_options(const trmx_trainer_options *o, trmx_error *err)
{
	if (!trmx_version_ok(o->version, TRMX_TRAINER_OPTIONS_VERSION))
		return trmx_version_refused(err, "trainer options", o->version, TRMX_TRAINER_OPTIONS_VERSION);
	if (o->batch_size < 1 || o->batch_size > TRMX_SOLVE_BATCH_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "batch size %d is outside [1, %d]", o->batch_size,
				      TRMX_SOLVE_BATCH_MAX);
	if (!(o->lr >= 0) || !(o->puzzle_emb_lr >= 0) || !(o->weight_decay >= 0) ||
	    !(o->puzzle_emb_weight_decay >= 0) || !(o->lr_min_ratio >= 0 && o->lr_min_ratio <= 1))
		return trmx_error_set(err, TRMX_EINVAL, "learning rates and weight decays must be >= 0, lr_min_ratio in [0, 1]");
	if (!(o->beta1 >= 0 && o->beta1 < 1) || !(o->beta2 >= 0 && o->beta2 < 1))
		return trmx_error_set(err, TRMX_EINVAL, "betas must be in [0, 1)");
	if (!(o->ema_rate >= 0 && o->ema_rate < 1))
		return trmx_error_set(err, TRMX_EINVAL, "ema_rate must be in [0, 1)");
	if (!(o->halt_exploration_prob >= 0 && o->halt_exploration_prob <= 1))
		return trmx_error_set(err, TRMX_EINVAL, "halt_exploration_prob must be in [0, 1]");
	if (o->warmup_steps < 0 || o->total_steps < 1)
		return trmx_error_set(err, TRMX_EINVAL, "warmup_steps must be >= 0 and total_steps >= 1");
	if (o->lr_cycles < 1 || o->lr_cycles > 1000)
		return trmx_error_set(err, TRMX_EINVAL, "lr_cycles must be in [1, 1000]");
	if (o->global_batch_size < 0)
		return trmx_error_set(err, TRMX_EINVAL, "global_batch_size must be >= 0");
	if ((unsigned)o->optimizer > TRMX_OPTIMIZER_ADAMW || (unsigned)o->ema > TRMX_EMA_WARMUP)
		return trmx_error_set(err, TRMX_EINVAL, "unknown optimizer or EMA mode");
	return 0;
}

void trmx_trainer_free(trmx_trainer *t)
{
	if (!t)
		return;
	trmx_model_free(t->model);
	free(t->m), free(t->v), free(t->ema);
	free(t->in), free(t->lab), free(t->pid), free(t->explore_u), free(t->explore_steps), free(t->puzzle_sum);
	free(t);
}

int trmx_trainer_new(trmx_trainer **out, const char *engine, const trmx_config *arch, const trmx_weights *init,
		     const trmx_trainer_options *opts, trmx_error *err)
{
	trmx_trainer_options o = TRMX_TRAINER_OPTIONS_INIT;
	int rc;
	if (!out || !engine || !arch)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trainer_new: missing argument");
	if (opts)
		o = *opts;
	if ((rc = check_options(&o, err)) < 0)
		return rc;
	trmx_trainer *t = calloc(1, sizeof *t);
	if (!t)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory creating a trainer");
	t->o = o;
	t->rng = o.seed ^ 0x7261696E65727321ull; /* distinct from the initialisation stream */
	if ((rc = trmx_model_open_flags(&t->model, engine, arch, init, init ? 0 : TRMX_ENGINE_OPEN_NO_WEIGHTS, err)) < 0)
		goto fail;
	const trmx_engine *e = t->model->engine;
	if (e->struct_size < sizeof(trmx_engine) || !e->train_begin || !e->train_step || !e->init_weights) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "engine '%s' cannot train", engine);
		goto fail;
	}
	if ((rc = e->train_begin(t->model->state, o.batch_size, &t->st, err)) < 0)
		goto fail;
	if (!init && (rc = e->init_weights(t->model->state, o.seed, err)) < 0)
		goto fail;
	size_t n = t->st.n_trainable, B = (size_t)o.batch_size, L = (size_t)t->st.seq_len;
	t->m = calloc(n ? n : 1, sizeof(float));
	t->v = calloc(n ? n : 1, sizeof(float));
	t->ema = malloc((n ? n : 1) * sizeof(float));
	t->in = calloc(B * L, sizeof(int32_t));
	t->lab = calloc(B * L, sizeof(int32_t));
	t->pid = calloc(B, sizeof(int32_t));
	t->explore_u = calloc(B, sizeof(float));
	t->explore_steps = calloc(B, sizeof(int32_t));
	t->puzzle_sum = calloc(t->st.puzzle_dim > 0 ? (size_t)t->st.puzzle_dim : 1, sizeof(float));
	if (!t->m || !t->v || !t->ema || !t->in || !t->lab || !t->pid || !t->explore_u || !t->explore_steps ||
	    !t->puzzle_sum) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory for the optimizer state (%zu parameters)", n);
		goto fail;
	}
	memcpy(t->ema, t->st.params, n * sizeof(float));
	*out = t;
	return 0;
fail:
	trmx_trainer_free(t);
	return rc;
}

/* lr at `step` (1-based, counted before the rate is computed, as the official loop does): linear
 * warm-up, then `lr_cycles` cosine decays to lr_min_ratio (each cycle restarting at the base). */
static double schedule(const trmx_trainer_options *o, long step, double base)
{
	if (step < o->warmup_steps)
		return base * (double)step / (double)o->warmup_steps;
	double progress = o->total_steps > o->warmup_steps
				  ? (double)(step - o->warmup_steps) / (double)(o->total_steps - o->warmup_steps)
				  : 1.0;
	if (o->lr_cycles > 1 && progress < 1) {
		progress *= o->lr_cycles;
		progress -= floor(progress);
	}
	double cosine = 0.5 * (1.0 + cos(M_PI * (progress < 1 ? progress : 1)));
	double f = (1.0 - o->lr_min_ratio) * cosine;
	return base * (o->lr_min_ratio + (f > 0 ? f : 0));
}

struct opt_job {
	trmx_trainer *t;
	double lr, b1c, b2c;
};

static void adam_range(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct opt_job *j = ctx;
	const trmx_trainer_options *o = &j->t->o;
	float *p = j->t->st.params, *g = j->t->st.grads, *m = j->t->m, *v = j->t->v;
	double decay = 1.0 - j->lr * o->weight_decay, b1 = o->beta1, b2 = o->beta2;
	double step = j->lr / j->b1c, sb2 = sqrt(j->b2c);
	for (size_t i = lo; i < hi; i++) {
		double gi = g[i], pi = p[i] * decay;
		double mi = m[i] + (1.0 - b1) * (gi - m[i]);
		double vi = v[i] + (1.0 - b2) * (gi * gi - v[i]);
		if (o->optimizer == TRMX_OPTIMIZER_ADAM_ATAN2)
			pi -= step * atan2(mi, sqrt(vi) / sb2);
		else
			pi -= step * mi / (sqrt(vi / j->b2c) + o->adamw_eps);
		m[i] = (float)mi;
		v[i] = (float)vi;
		p[i] = (float)pi;
	}
}

static void ema_range(void *ctx, size_t lo, size_t hi, int thread)
{
	const struct opt_job *j = ctx; /* lr holds the rate here */
	const float *p = j->t->st.params;
	float *e = j->t->ema;
	double mu = j->lr;
	for (size_t i = lo; i < hi; i++)
		e[i] = (float)((1.0 - mu) * p[i] + mu * e[i]);
}

/* Sign-SGD on the puzzle rows the batch used: duplicate ids' gradients are summed first. */
static void puzzle_update(trmx_trainer *t, double lr)
{
	trmx_train_state *s = &t->st;
	if (!s->puzzle_table)
		return;
	int B = s->batch, d = s->puzzle_dim;
	double decay = 1.0 - lr * t->o.puzzle_emb_weight_decay;
	float *sum = t->puzzle_sum;
	for (int r = 0; r < B; r++) {
		int id = s->carry_puzzle_ids[r];
		bool first = true;
		for (int q = 0; q < r; q++)
			first = first && s->carry_puzzle_ids[q] != id;
		if (!first)
			continue;
		memset(sum, 0, (size_t)d * sizeof *sum);
		for (int q = r; q < B; q++)
			if (s->carry_puzzle_ids[q] == id)
				for (int k = 0; k < d; k++)
					sum[k] += s->puzzle_grads[(size_t)q * d + k];
		float *row = s->puzzle_table + (size_t)id * d;
		for (int k = 0; k < d; k++)
			row[k] = (float)(row[k] * decay - lr * ((sum[k] > 0) - (sum[k] < 0)));
	}
}

int trmx_trainer_step(trmx_trainer *t, trmx_train_fill_fn fill, void *user, trmx_train_metrics *out,
		      trmx_error *err)
{
	if (!t || !fill)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trainer_step: missing argument");
	if (t->ema_swapped)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trainer_step: the EMA weights are swapped in");
	trmx_train_state *s = &t->st;
	int B = s->batch, L = s->seq_len, rc;
	for (int r = 0; r < B; r++) {
		if (s->carry_halted[r] &&
		    (rc = fill(user, r, t->in + (size_t)r * L, t->lab + (size_t)r * L, t->pid + r, err)) < 0)
			return rc;
		t->explore_u[r] = (float)((double)(rng_next(&t->rng) >> 40) * 0x1.0p-24);
		/* minimum steps uniform in [2, halt_max_steps], as the official randint(2, max + 1) */
		int span = s->halt_max_steps > 1 ? s->halt_max_steps - 1 : 1;
		t->explore_steps[r] = 2 + (int)(rng_next(&t->rng) % (uint64_t)span);
	}
	trmx_train_batch b = { .struct_size = sizeof b,
			       .inputs = t->in,
			       .labels = t->lab,
			       .puzzle_ids = t->pid,
			       .explore_u = t->o.halt_exploration_prob > 0 ? t->explore_u : NULL,
			       .explore_steps = t->explore_steps,
			       .explore_prob = (float)t->o.halt_exploration_prob,
			       .loss_divisor = (float)(t->o.global_batch_size > 0 ? t->o.global_batch_size : B),
			       .act_halting = t->o.act_halting };
	if ((rc = t->model->engine->train_step(t->model->state, &b, &t->last, err)) < 0)
		return rc;

	long step = ++t->step;
	double lr = schedule(&t->o, step, t->o.lr);
	struct opt_job j = { t, lr, 1.0 - pow(t->o.beta1, (double)step), 1.0 - pow(t->o.beta2, (double)step) };
	trmx_parallel_for(s->n_trainable, trmx_grain(20), adam_range, &j);
	puzzle_update(t, schedule(&t->o, step, t->o.puzzle_emb_lr));
	if (t->o.ema != TRMX_EMA_OFF) {
		double mu = t->o.ema_rate;
		if (t->o.ema == TRMX_EMA_WARMUP && (1.0 + step) / (10.0 + step) < mu)
			mu = (1.0 + step) / (10.0 + step);
		struct opt_job e = { t, mu, 0, 0 };
		trmx_parallel_for(s->n_trainable, trmx_grain(3), ema_range, &e);
	}

	if (out) {
		trmx_train_metrics mt = { .step = step, .lr = lr, .loss = t->last.loss, .lm_loss = t->last.lm_loss,
					  .q_halt_loss = t->last.q_halt_loss, .rows = B, .row_halted = t->last.halted,
					  .row_q_halt = t->last.q_halt };
		double acc = 0, steps = 0;
		for (int r = 0; r < B; r++) {
			mt.fresh_rows += t->last.fresh[r];
			if (!t->last.halted[r] || t->last.tokens_supervised[r] == 0)
				continue;
			mt.halted_rows++;
			mt.exact += t->last.correct[r];
			acc += (double)t->last.tokens_right[r] / t->last.tokens_supervised[r];
			steps += t->last.steps[r];
			mt.q_halt_right += (t->last.q_halt[r] >= 0) == t->last.correct[r];
		}
		mt.token_accuracy = mt.halted_rows ? acc / mt.halted_rows : 0;
		mt.mean_steps = mt.halted_rows ? steps / mt.halted_rows : 0;
		*out = mt;
	}
	return 0;
}

struct fixed_batch {
	const int32_t *in, *lab, *pid;
	int L;
};

static int fill_fixed(void *user, int row, int32_t *input, int32_t *label, int32_t *puzzle_id, trmx_error *err)
{
	const struct fixed_batch *f = user;
	memcpy(input, f->in + (size_t)row * f->L, (size_t)f->L * sizeof *input);
	memcpy(label, f->lab + (size_t)row * f->L, (size_t)f->L * sizeof *label);
	*puzzle_id = f->pid ? f->pid[row] : 0;
	return 0;
}

int trmx_trainer_compute(trmx_trainer *t, const int32_t *inputs, const int32_t *labels,
			 const int32_t *puzzle_ids, double *loss, trmx_error *err)
{
	if (!t || !inputs || !labels)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trainer_compute: missing argument");
	trmx_train_state *s = &t->st;
	struct fixed_batch f = { inputs, labels, puzzle_ids, s->seq_len };
	for (int r = 0; r < s->batch; r++)
		if (s->carry_halted[r])
			fill_fixed(&f, r, t->in + (size_t)r * s->seq_len, t->lab + (size_t)r * s->seq_len, t->pid + r, err);
	trmx_train_batch b = { .struct_size = sizeof b,
			       .inputs = t->in,
			       .labels = t->lab,
			       .puzzle_ids = t->pid,
			       .loss_divisor = (float)(t->o.global_batch_size > 0 ? t->o.global_batch_size : s->batch),
			       .act_halting = t->o.act_halting };
	int rc = t->model->engine->train_step(t->model->state, &b, &t->last, err);
	if (rc == 0 && loss)
		*loss = t->last.loss;
	return rc;
}

static int add_view(trmx_weights_writer *wr, const char *prefix, const char *name, int ndim, const int64_t *shape,
		    const float *data, trmx_error *err)
{
	char full[256];
	snprintf(full, sizeof full, "%s%s", prefix, name);
	return trmx_weights_writer_add(wr, full, TRMX_DTYPE_F32, ndim, shape, data, err);
}

static int add_arch(trmx_weights_writer *wr, const trmx_config *arch, const char *prefix, trmx_error *err)
{
	for (size_t i = 0; i < trmx_config_count(arch); i++) {
		const char *k, *v;
		char key[256];
		trmx_config_at(arch, i, &k, &v);
		snprintf(key, sizeof key, "%s%s", prefix, k);
		int rc = trmx_weights_writer_set_metadata(wr, key, v, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int trmx_trainer_write_grads(const trmx_trainer *t, const char *path, trmx_error *err)
{
	trmx_weights_writer *wr = NULL;
	int rc = trmx_weights_writer_new(&wr, err);
	if (rc < 0)
		return rc;
	if ((rc = add_arch(wr, t->model->arch, "", err)) < 0)
		goto done;
	for (size_t i = 0; i < t->st.n_views && rc == 0; i++) {
		const trmx_param_view *v = &t->st.views[i];
		if (v->trainable)
			rc = add_view(wr, "model.inner.", v->name, v->ndim, v->shape, t->st.grads + v->offset, err);
	}
	if (rc == 0 && t->st.puzzle_grads) {
		int64_t shape[2] = { t->st.batch, t->st.puzzle_dim };
		rc = add_view(wr, "model.inner.", "puzzle_emb.local_weights", 2, shape, t->st.puzzle_grads, err);
	}
	if (rc == 0)
		rc = trmx_weights_writer_write(wr, path, err);
done:
	trmx_weights_writer_free(wr);
	return rc;
}

int trmx_trainer_write_weights(trmx_trainer *t, bool ema, const char *path, trmx_error *err)
{
	bool swap = ema && t->o.ema != TRMX_EMA_OFF && !t->ema_swapped;
	int rc;
	if (swap && (rc = trmx_trainer_use_ema(t, true, err)) < 0)
		return rc;
	trmx_weights_writer *wr = NULL;
	if ((rc = trmx_weights_writer_new(&wr, err)) < 0)
		goto done;
	if ((rc = add_arch(wr, t->model->arch, "", err)) < 0)
		goto done;
	for (size_t i = 0; i < t->st.n_views && rc == 0; i++) {
		const trmx_param_view *v = &t->st.views[i];
		rc = add_view(wr, "model.inner.", v->name, v->ndim, v->shape, t->st.params + v->offset, err);
	}
	if (rc == 0 && t->st.puzzle_table) {
		int64_t shape[2] = { t->st.puzzle_rows, t->st.puzzle_dim };
		rc = add_view(wr, "model.inner.", "puzzle_emb.weights", 2, shape, t->st.puzzle_table, err);
	}
	if (rc == 0)
		rc = trmx_weights_writer_write(wr, path, err);
done:
	trmx_weights_writer_free(wr);
	if (swap)
		trmx_trainer_use_ema(t, false, NULL);
	return rc;
}

int trmx_trainer_use_ema(trmx_trainer *t, bool on, trmx_error *err)
{
	if (t->o.ema == TRMX_EMA_OFF)
		return on ? trmx_error_set(err, TRMX_EINVAL, "this trainer keeps no EMA") : 0;
	if (on == t->ema_swapped)
		return 0;
	float *p = t->st.params, *e = t->ema;
	for (size_t i = 0; i < t->st.n_trainable; i++) {
		float x = p[i];
		p[i] = e[i];
		e[i] = x;
	}
	t->ema_swapped = on;
	return 0;
}

trmx_model *trmx_trainer_model(trmx_trainer *t)
{
	return t->model;
}

long trmx_trainer_steps(const trmx_trainer *t)
{
	return t->step;
}

/* ---- checkpoints ----------------------------------------------------------------------------- */

#define CKPT_FORMAT "trmx-checkpoint-1"

int trmx_trainer_save(const trmx_trainer *t, const char *path, const trmx_config *extra, trmx_error *err)
{
	if (t->ema_swapped)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trainer_save: the EMA weights are swapped in");
	const trmx_train_state *s = &t->st;
	trmx_weights_writer *wr = NULL;
	char num[64];
	int rc = trmx_weights_writer_new(&wr, err);
	if (rc < 0)
		return rc;
	int64_t np[1] = { (int64_t)s->n_params }, nt[1] = { (int64_t)s->n_trainable };
	int64_t nc[1] = { (int64_t)s->carry_floats }, nb[1] = { s->batch };
	int64_t nbl[2] = { s->batch, s->seq_len }, npz[2] = { s->puzzle_rows, s->puzzle_dim };
	snprintf(num, sizeof num, "%ld", t->step);
	if ((rc = trmx_weights_writer_set_metadata(wr, "trmx.format", CKPT_FORMAT, err)) < 0 ||
	    (rc = trmx_weights_writer_set_metadata(wr, "trmx.step", num, err)) < 0)
		goto done;
	snprintf(num, sizeof num, "%016llx", (unsigned long long)t->rng);
	if ((rc = trmx_weights_writer_set_metadata(wr, "trmx.rng", num, err)) < 0 ||
	    (rc = add_arch(wr, t->model->arch, "arch.", err)) < 0 || (extra && (rc = add_arch(wr, extra, "user.", err)) < 0))
		goto done;
	if ((rc = trmx_weights_writer_add(wr, "params", TRMX_DTYPE_F32, 1, np, s->params, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "adam.m", TRMX_DTYPE_F32, 1, nt, t->m, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "adam.v", TRMX_DTYPE_F32, 1, nt, t->v, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "ema", TRMX_DTYPE_F32, 1, nt, t->ema, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "carry.z", TRMX_DTYPE_F32, 1, nc, s->carry, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "carry.steps", TRMX_DTYPE_I32, 1, nb, s->carry_steps, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "carry.halted", TRMX_DTYPE_U8, 1, nb, s->carry_halted, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "carry.inputs", TRMX_DTYPE_I32, 2, nbl, s->carry_inputs, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "carry.labels", TRMX_DTYPE_I32, 2, nbl, s->carry_labels, err)) < 0 ||
	    (rc = trmx_weights_writer_add(wr, "carry.puzzle_ids", TRMX_DTYPE_I32, 1, nb, s->carry_puzzle_ids, err)) < 0 ||
	    (s->puzzle_table && (rc = trmx_weights_writer_add(wr, "puzzle_table", TRMX_DTYPE_F32, 2, npz, s->puzzle_table, err)) < 0))
		goto done;
	rc = trmx_weights_writer_write(wr, path, err);
done:
	trmx_weights_writer_free(wr);
	return rc;
}

/* Check checkpoint tensor `name`'s dtype and byte size; copy it into dst when `copy`. */
static int restore(const trmx_weights *w, const char *path, const char *name, trmx_dtype dt, void *dst, size_t bytes,
		   bool copy, trmx_error *err)
{
	const trmx_tensor_view *v = trmx_weights_find(w, name);
	if (!v)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: checkpoint tensor '%s' is missing", path, name);
	if (v->dtype != dt || v->nbytes != bytes)
		return trmx_error_set(err, TRMX_ESHAPE,
				      "%s: checkpoint tensor '%s' has %zu bytes of %s; this trainer needs %zu bytes of %s",
				      path, name, v->nbytes, trmx_dtype_name(v->dtype), bytes, trmx_dtype_name(dt));
	if (copy)
		memcpy(dst, v->data, bytes);
	return 0;
}

int trmx_trainer_load(trmx_trainer *t, const char *path, trmx_config **extra_out, trmx_error *err)
{
	trmx_weights *w = NULL;
	trmx_config *extra = NULL;
	trmx_train_state *s = &t->st;
	int rc;
	if (t->ema_swapped)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trainer_load: the EMA weights are swapped in");
	if ((rc = trmx_weights_open(&w, path, err)) < 0)
		return rc;
	const char *fmt = trmx_weights_metadata(w, "trmx.format");
	const char *step = trmx_weights_metadata(w, "trmx.step"), *rng = trmx_weights_metadata(w, "trmx.rng");
	long st;
	char *end;
	unsigned long long r = rng ? strtoull(rng, &end, 16) : 0;
	if (!fmt || strcmp(fmt, CKPT_FORMAT) || !trmx_parse_long(step, &st) || st < 0 || !rng || *end) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s is not a trmx checkpoint (format %s)", path, fmt ? fmt : "absent");
		goto done;
	}
	/* the architecture must be the one this trainer was made for */
	for (size_t i = 0; i < trmx_config_count(t->model->arch); i++) {
		const char *k, *v;
		char key[256];
		trmx_config_at(t->model->arch, i, &k, &v);
		snprintf(key, sizeof key, "arch.%s", k);
		const char *have = trmx_weights_metadata(w, key);
		if (!have || strcmp(have, v)) {
			rc = trmx_error_set(err, TRMX_ESHAPE, "%s: architecture key '%s' is '%s' in the checkpoint, '%s' here",
					    path, k, have ? have : "absent", v);
			goto done;
		}
	}
	size_t B = (size_t)s->batch, L = (size_t)s->seq_len;
	for (int copy = 0; copy < 2; copy++) { /* check everything before changing anything */
		if (copy && extra_out) { /* the last thing that can fail */
			if ((rc = trmx_config_new(&extra, err)) < 0)
				goto done;
			for (size_t i = 0; i < trmx_weights_metadata_count(w); i++) {
				const char *k, *v;
				trmx_weights_metadata_at(w, i, &k, &v);
				if (!strncmp(k, "user.", 5) && (rc = trmx_config_set(extra, k + 5, v, err)) < 0)
					goto done;
			}
			*extra_out = extra;
			extra = NULL;
		}
		if ((rc = restore(w, path, "params", TRMX_DTYPE_F32, s->params, s->n_params * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "adam.m", TRMX_DTYPE_F32, t->m, s->n_trainable * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "adam.v", TRMX_DTYPE_F32, t->v, s->n_trainable * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "ema", TRMX_DTYPE_F32, t->ema, s->n_trainable * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "carry.z", TRMX_DTYPE_F32, s->carry, s->carry_floats * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "carry.steps", TRMX_DTYPE_I32, s->carry_steps, B * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "carry.halted", TRMX_DTYPE_U8, s->carry_halted, B, copy, err)) < 0 ||
		    (rc = restore(w, path, "carry.inputs", TRMX_DTYPE_I32, s->carry_inputs, B * L * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "carry.labels", TRMX_DTYPE_I32, s->carry_labels, B * L * 4, copy, err)) < 0 ||
		    (rc = restore(w, path, "carry.puzzle_ids", TRMX_DTYPE_I32, s->carry_puzzle_ids, B * 4, copy, err)) < 0 ||
		    (s->puzzle_table &&
		     (rc = restore(w, path, "puzzle_table", TRMX_DTYPE_F32, s->puzzle_table,
				   (size_t)s->puzzle_rows * s->puzzle_dim * 4, copy, err)) < 0))
			goto done;
	}
	t->step = st;
	t->rng = r;
done:
	trmx_config_free(extra);
	trmx_weights_free(w);
	return rc;
}
