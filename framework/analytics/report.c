/*
 * report.c — trmx_report_build (trmx/report.h): one pass over the runs of the
 * window joined with their feedback (runs outer, so a run's feedback rows come
 * together; the covering index feedback_run of schemas/log/0003_analytics.sql
 * serves the join without touching the feedback table), folding every run into
 * its group (context, module, version), its version (calibration, steps,
 * accuracy over time) and its arm (the canary comparison). The best verdict of
 * a run is chosen among its feedback rows as report.h says; the view
 * run_verdicts states the same rule in SQL.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"
#include "trmx/package.h"

#define Z95	 1.959963984540054
#define HIST_CAP (TRMX_SOLVE_STEPS_MAX + 1)

struct point {
	char bucket[24];
	int64_t runs, judged, correct;
};

struct rversion {
	char *module, *version;
	int64_t runs, judged, correct, steps_runs;
	double steps_sum;
	int64_t *hist;
	int hist_len;
	trmx_report_bin *bins;
	int64_t *conf_q; /* per bin, the sum of conf_nano(confidence): the same in any order */
	struct point *pts;
	size_t npts, cap_pts, last_pt;
	trmx_report_point *pub_pts;
};

struct rgroup {
	char *context, *module, *version;
	char digest[65], first[32], last[32];
	int64_t runs, errors, learners, judged, correct, steps_runs, corrections;
	int64_t by_source[TRMX_VERDICT_SOURCES];
	double steps_sum;
	int64_t *hist;
	int hist_len;
	double *lat;
	size_t lat_n, lat_cap;
	size_t vidx;   /* index into versions */
	size_t arm[2]; /* index into arms per arm (0 main, 1 canary), SIZE_MAX until
			  seen */
};

struct rarm {
	size_t group; /* a group of this context, module and version */
	int arm;
	int64_t runs, judged, correct;
	char last[32];
};

/* The run being folded: its first row's figures, then the best verdict among
 * its feedback. */
struct cur {
	char id[40];
	size_t group, version, arm, point;
	int bin; /* -1: no confidence */
	bool judged; /* best verdict below is set */
	bool best_exp, best_correct;
	int best_rank;
	trmx_verdict_source best_source;
	char best_time[32], best_id[40];
};

struct u64set {
	uint64_t *keys;
	size_t cap, n;
};

struct trmx_report {
	trmx_report_info info;
	char generated_at[32], since[32], until[32], first[32], last[32], kinds[24];
	const char *bucket_name;
	int bucket_len;
	char *home, *context, *module, *learner;
	int bins;
	struct rgroup *groups;
	size_t ng, cap_g, last_g;
	struct rversion *versions;
	size_t nv, cap_v;
	struct rarm *arms;
	size_t na, cap_a;
	an_map gmap, vmap, all_learners;
	struct u64set learners;
	trmx_report_group *pub_groups;
	trmx_report_version *pub_versions;
	trmx_report_canary *canaries;
	size_t ncanaries;
	bool oom;
};

/* ---- Growth
 * ------------------------------------------------------------------------------------
 */

/* Copy a string cut to cap - 1 bytes (snprintf's "%s" without its formatting
 * cost: this runs a few times per run of the log). */
static void copy(char *dst, size_t cap, const char *src)
{
	size_t n = strlen(src);
	if (n >= cap)
		n = cap - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static bool grow(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 16;
	while (nc < need)
		nc *= 2;
	void *q = trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(*p, nc * elem);
	if (!q)
		return false;
	memset((char *)q + *cap * elem, 0, (nc - *cap) * elem);
	*p = q;
	*cap = nc;
	return true;
}

/* hist[s]++, growing it (steps past the engine's cap count in the last bar). */
static bool hist_add(int64_t **hist, int *len, int s)
{
	if (s < 0)
		return true;
	if (s >= HIST_CAP)
		s = HIST_CAP - 1;
	if (s >= *len) {
		int nl = s + 1;
		int64_t *h = trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(*hist, (size_t)nl * sizeof *h);
		if (!h)
			return false;
		memset(h + *len, 0, (size_t)(nl - *len) * sizeof *h);
		*hist = h;
		*len = nl;
	}
	(*hist)[s]++;
	return true;
}

/* ---- Lookups
 * ---------------------------------------------------------------------------------
 */

static size_t key3(char *buf, size_t cap, const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	if (la + lb + lc + 3 > cap)
		return 0;
	memcpy(buf, a, la);
	buf[la] = '\x1f';
	memcpy(buf + la + 1, b, lb);
	buf[la + 1 + lb] = '\x1f';
	memcpy(buf + la + lb + 2, c, lc);
	buf[la + lb + lc + 2] = '\0';
	return la + lb + lc + 2;
}

static size_t find_version(trmx_report *R, const char *module, const char *version)
{
	char key[TRMX_MANIFEST_NAME_MAX + TRMX_MANIFEST_VERSION_MAX + 520];
	size_t n = key3(key, sizeof key, module, version, "");
	uint64_t h = trmx__an_hash(key, n);
	size_t i = trmx__an_map_get(&R->vmap, key, n, h);
	if (i != SIZE_MAX)
		return i;
	if (!grow((void **)&R->versions, &R->cap_v, R->nv + 1, sizeof *R->versions))
		return SIZE_MAX;
	struct rversion *v = &R->versions[R->nv];
	memset(v, 0, sizeof *v);
	v->module = trmx_xstrdup(module);
	v->version = trmx_xstrdup(version);
	v->bins = trmx_xcalloc((size_t)R->bins, sizeof *v->bins);
	v->conf_q = trmx_xcalloc((size_t)R->bins, sizeof *v->conf_q);
	if (!v->module || !v->version || !v->bins || !v->conf_q || trmx__an_map_put(&R->vmap, key, n, h, R->nv) < 0) {
		free(v->module), free(v->version), free(v->bins), free(v->conf_q);
		return SIZE_MAX;
	}
	return R->nv++;
}

static size_t find_group(trmx_report *R, const char *context, const char *module, const char *version)
{
	if (R->last_g < R->ng) {
		struct rgroup *g = &R->groups[R->last_g];
		if (!strcmp(g->version, version) && !strcmp(g->module, module) && !strcmp(g->context, context))
			return R->last_g;
	}
	char key[TRMX_CONTEXT_NAME_MAX + TRMX_MANIFEST_NAME_MAX + TRMX_MANIFEST_VERSION_MAX + 1024];
	size_t n = key3(key, sizeof key, context, module, version);
	if (!n)
		return SIZE_MAX - 1; /* longer than any name the log accepts */
	uint64_t h = trmx__an_hash(key, n);
	size_t i = trmx__an_map_get(&R->gmap, key, n, h);
	if (i == SIZE_MAX) {
		size_t vi = find_version(R, module, version);
		if (vi == SIZE_MAX || !grow((void **)&R->groups, &R->cap_g, R->ng + 1, sizeof *R->groups))
			return SIZE_MAX;
		struct rgroup *g = &R->groups[R->ng];
		memset(g, 0, sizeof *g);
		g->context = trmx_xstrdup(context);
		g->module = trmx_xstrdup(module);
		g->version = trmx_xstrdup(version);
		g->vidx = vi;
		g->arm[0] = g->arm[1] = SIZE_MAX;
		if (!g->context || !g->module || !g->version || trmx__an_map_put(&R->gmap, key, n, h, R->ng) < 0) {
			free(g->context), free(g->module), free(g->version);
			return SIZE_MAX;
		}
		i = R->ng++;
	}
	R->last_g = i;
	return i;
}

static size_t find_arm(trmx_report *R, size_t gi, int arm)
{
	struct rgroup *g = &R->groups[gi];
	if (g->arm[arm] != SIZE_MAX)
		return g->arm[arm];
	if (!grow((void **)&R->arms, &R->cap_a, R->na + 1, sizeof *R->arms))
		return SIZE_MAX;
	struct rarm *a = &R->arms[R->na];
	memset(a, 0, sizeof *a);
	a->group = gi;
	a->arm = arm;
	g->arm[arm] = R->na;
	return R->na++;
}

/* A set of 64-bit keys (open addressing; 0 is never a key). */
static bool set_add(struct u64set *s, uint64_t key, bool *added)
{
	if ((s->n + 1) * 2 > s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 1024;
		uint64_t *k = trmx_xcalloc(cap, sizeof *k);
		if (!k)
			return false;
		for (size_t i = 0; i < s->cap; i++)
			if (s->keys[i]) {
				size_t j = (size_t)(s->keys[i] * 0x9e3779b97f4a7c15ull >> 20) & (cap - 1);
				while (k[j])
					j = (j + 1) & (cap - 1);
				k[j] = s->keys[i];
			}
		free(s->keys);
		s->keys = k;
		s->cap = cap;
	}
	size_t j = (size_t)(key * 0x9e3779b97f4a7c15ull >> 20) & (s->cap - 1);
	while (s->keys[j]) {
		if (s->keys[j] == key) {
			*added = false;
			return true;
		}
		j = (j + 1) & (s->cap - 1);
	}
	s->keys[j] = key;
	s->n++;
	*added = true;
	return true;
}

/* Count a learner once per group and once in all: each pseudonym is numbered
 * once (a string map), then (group, number) pairs go into an integer set. -1 on
 * out of memory. */
static int add_learner(trmx_report *R, size_t gi, const char *learner, size_t ln)
{
	uint64_t h = trmx__an_hash(learner, ln);
	size_t li = trmx__an_map_get(&R->all_learners, learner, ln, h);
	if (li == SIZE_MAX) {
		li = (size_t)R->info.learners;
		if (trmx__an_map_put(&R->all_learners, learner, ln, h, li) < 0)
			return -1;
		R->info.learners++;
	}
	bool added;
	if (!set_add(&R->learners, ((uint64_t)gi << 40 | (uint64_t)li) + 1, &added))
		return -1;
	if (added)
		R->groups[gi].learners++;
	return 0;
}

static size_t find_point(trmx_report *R, struct rversion *v, const char *time)
{
	char b[24];
	size_t n = strlen(time);
	if (n > (size_t)R->bucket_len)
		n = (size_t)R->bucket_len;
	memcpy(b, time, n);
	b[n] = '\0';
	if (v->last_pt < v->npts && !strcmp(v->pts[v->last_pt].bucket, b))
		return v->last_pt;
	for (size_t i = v->npts; i-- > 0;)
		if (!strcmp(v->pts[i].bucket, b))
			return v->last_pt = i;
	if (!grow((void **)&v->pts, &v->cap_pts, v->npts + 1, sizeof *v->pts))
		return SIZE_MAX;
	memcpy(v->pts[v->npts].bucket, b, n + 1);
	return v->last_pt = v->npts++;
}

/* ---- Folding runs
 * ------------------------------------------------------------------------------
 */

enum {
	C_ID,
	C_CONTEXT,
	C_MODULE,
	C_VERSION,
	C_DIGEST,
	C_ARM,
	C_LEARNER,
	C_TIME,
	C_STEPS,
	C_LATENCY,
	C_CONF,
	C_STATUS,
	C_F_SOURCE,
	C_F_VERDICT,
	C_F_HAS_EXPECTED, /* 1: the feedback row has an expected answer */
	C_F_MATCH,	  /* 1: it equals the run's answer (0 or NULL otherwise) */
	C_F_TIME,
	C_F_ID,
	C_COLUMNS
};

static int source_rank(const char *s)
{
	switch (s[0]) {
	case 'i': return 0; /* instructor */
	case 'e': return 1; /* eval */
	case 'c': return 2; /* checker */
	default: return 3;  /* learner */
	}
}

static const trmx_verdict_source rank_source[] = { TRMX_VERDICT_SOURCE_INSTRUCTOR, TRMX_VERDICT_SOURCE_EVAL,
						   TRMX_VERDICT_SOURCE_CHECKER, TRMX_VERDICT_SOURCE_LEARNER };

/* A confidence in units of 1e-9, rounded down: the bins add these as integers, so that a bin's
 * mean confidence does not depend on the order the runs come in (log.db's join and PostgreSQL's
 * ORDER BY may differ). One product: nothing for the compiler to fuse. */
static int64_t conf_nano(double conf)
{
	return (int64_t)floor(conf * 1e9);
}

static int start_run(trmx_report *R, struct cur *c, const rrow *st, trmx_error *err)
{
	copy(c->id, sizeof c->id, r_text(st, C_ID));
	const char *time = r_text(st, C_TIME);
	size_t gi = find_group(R, r_text(st, C_CONTEXT), r_text(st, C_MODULE), r_text(st, C_VERSION));
	if (gi == SIZE_MAX - 1)
		return trmx_error_set(err, TRMX_ELIMIT, "log.db: run %s has a context, module or version too long to report",
				      c->id);
	if (gi == SIZE_MAX)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
	struct rgroup *g = &R->groups[gi];
	struct rversion *v = &R->versions[g->vidx];
	int arm = !strcmp(r_text(st, C_ARM), "canary");
	size_t ai = find_arm(R, gi, arm);
	size_t pi = find_point(R, v, time);
	if (ai == SIZE_MAX || pi == SIZE_MAX)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
	c->group = gi;
	c->version = g->vidx;
	c->arm = ai;
	c->point = pi;
	g->runs++;
	v->runs++;
	R->arms[ai].runs++;
	v->pts[pi].runs++;
	R->info.runs++;
	if (!strcmp(r_text(st, C_STATUS), "error"))
		g->errors++;
	if (!g->first[0] || strcmp(time, g->first) < 0)
		copy(g->first, sizeof g->first, time);
	if (strcmp(time, g->last) >= 0) {
		copy(g->last, sizeof g->last, time);
		copy(g->digest, sizeof g->digest, r_text(st, C_DIGEST));
	}
	if (strcmp(time, R->arms[ai].last) >= 0)
		copy(R->arms[ai].last, sizeof R->arms[ai].last, time);
	if (!r_null(st, C_LEARNER) &&
	    add_learner(R, gi, r_text(st, C_LEARNER), r_len(st, C_LEARNER)) < 0)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
	if (!r_null(st, C_STEPS)) {
		int64_t s = r_int(st, C_STEPS);
		int si = s < 0 ? 0 : s > HIST_CAP ? HIST_CAP : (int)s;
		g->steps_runs++;
		g->steps_sum += (double)s;
		v->steps_runs++;
		v->steps_sum += (double)s;
		if (!hist_add(&g->hist, &g->hist_len, si) || !hist_add(&v->hist, &v->hist_len, si))
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
	}
	if (!r_null(st, C_LATENCY)) {
		if (!grow((void **)&g->lat, &g->lat_cap, g->lat_n + 1, sizeof *g->lat))
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
		g->lat[g->lat_n++] = r_double(st, C_LATENCY);
	}
	c->bin = -1;
	if (!r_null(st, C_CONF)) {
		double conf = r_double(st, C_CONF);
		int b = conf >= 1.0 ? R->bins - 1 : conf <= 0.0 ? 0 : (int)(conf * R->bins);
		if (b >= R->bins)
			b = R->bins - 1;
		c->bin = b;
		v->bins[b].runs++;
		v->conf_q[b] += conf_nano(conf);
	}
	c->judged = false;
	return 0;
}

static void feedback_row(trmx_report *R, struct cur *c, const rrow *st)
{
	const char *source = r_text(st, C_F_SOURCE), *time = r_text(st, C_F_TIME), *id = r_text(st, C_F_ID);
	bool exp = r_int(st, C_F_HAS_EXPECTED) == 1;
	int rank = source_rank(source);
	if (exp && (rank == 0 || rank == 3))
		R->groups[c->group].corrections++;
	if (c->judged) { /* is this one better than the best so far? */
		if (exp != c->best_exp) {
			if (!exp)
				return;
		} else if (rank != c->best_rank) {
			if (rank > c->best_rank)
				return;
		} else {
			int t = strcmp(time, c->best_time);
			if (t < 0 || (t == 0 && strcmp(id, c->best_id) <= 0))
				return;
		}
	}
	c->judged = true;
	c->best_exp = exp;
	c->best_rank = rank;
	copy(c->best_time, sizeof c->best_time, time);
	copy(c->best_id, sizeof c->best_id, id);
	if (exp) {
		c->best_source = TRMX_VERDICT_SOURCE_EXPECTED;
		c->best_correct = r_int(st, C_F_MATCH) == 1;
	} else {
		c->best_source = rank_source[rank];
		c->best_correct = !strcmp(r_text(st, C_F_VERDICT), "correct");
	}
}

static void finish_run(trmx_report *R, struct cur *c)
{
	struct rgroup *g = &R->groups[c->group];
	if (!c->judged) {
		g->by_source[TRMX_VERDICT_SOURCE_NONE]++;
		return;
	}
	int ok = c->best_correct ? 1 : 0;
	struct rversion *v = &R->versions[c->version];
	g->by_source[c->best_source]++;
	g->judged++, g->correct += ok;
	v->judged++, v->correct += ok;
	R->arms[c->arm].judged++, R->arms[c->arm].correct += ok;
	v->pts[c->point].judged++, v->pts[c->point].correct += ok;
	R->info.judged++, R->info.correct += ok;
	if (c->bin >= 0)
		v->bins[c->bin].judged++, v->bins[c->bin].correct += ok;
}

/* ---- Finishing
 * ---------------------------------------------------------------------------------
 */

static double ratio(int64_t a, int64_t b)
{
	return b > 0 ? (double)a / (double)b : NAN;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static int cmp_point(const void *a, const void *b)
{
	return strcmp(((const struct point *)a)->bucket, ((const struct point *)b)->bucket);
}

static int cmp_group(const void *a, const void *b)
{
	const trmx_report_group *x = a, *y = b;
	int c = strcmp(x->context, y->context);
	if (!c)
		c = strcmp(x->module, y->module);
	if (!c)
		c = trmx_semver_compare(x->module_version, y->module_version);
	if (!c)
		c = strcmp(x->module_version, y->module_version);
	return c;
}

static int cmp_version(const void *a, const void *b)
{
	const trmx_report_version *x = a, *y = b;
	int c = strcmp(x->module, y->module);
	if (!c)
		c = trmx_semver_compare(x->module_version, y->module_version);
	if (!c)
		c = strcmp(x->module_version, y->module_version);
	return c;
}

static int cmp_canary(const void *a, const void *b)
{
	return strcmp(((const trmx_report_canary *)a)->context, ((const trmx_report_canary *)b)->context);
}

static void fill_arm(trmx_report *R, const struct rarm *a, trmx_report_arm *out)
{
	const struct rgroup *g = &R->groups[a->group];
	out->module = g->module;
	out->module_version = g->version;
	out->runs = a->runs;
	out->judged = a->judged;
	out->correct = a->correct;
	out->accuracy = ratio(a->correct, a->judged);
	trmx_wilson_interval(a->correct, a->judged, Z95, &out->accuracy_low, &out->accuracy_high);
}

static int finish(trmx_report *R, trmx_error *err)
{
	R->pub_groups = trmx_xcalloc(R->ng, sizeof *R->pub_groups);
	R->pub_versions = trmx_xcalloc(R->nv, sizeof *R->pub_versions);
	R->canaries = trmx_xcalloc(R->ng, sizeof *R->canaries);
	if (!R->pub_groups || !R->pub_versions || !R->canaries)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
	for (size_t i = 0; i < R->ng; i++) {
		struct rgroup *g = &R->groups[i];
		trmx_report_group *p = &R->pub_groups[i];
		p->context = g->context;
		p->module = g->module;
		p->module_version = g->version;
		p->digest = g->digest;
		p->runs = g->runs;
		p->errors = g->errors;
		p->learners = g->learners;
		p->judged = g->judged;
		p->correct = g->correct;
		memcpy(p->by_source, g->by_source, sizeof p->by_source);
		p->accuracy = ratio(g->correct, g->judged);
		trmx_wilson_interval(g->correct, g->judged, Z95, &p->accuracy_low, &p->accuracy_high);
		p->steps_runs = g->steps_runs;
		p->mean_steps = g->steps_runs ? g->steps_sum / (double)g->steps_runs : NAN;
		p->steps_max = g->hist_len ? g->hist_len - 1 : 0;
		p->steps_hist = g->hist;
		p->latency_runs = (int64_t)g->lat_n;
		p->latency_p50 = p->latency_p95 = NAN;
		if (g->lat_n) {
			size_t n = g->lat_n;
			qsort(g->lat, n, sizeof *g->lat, cmp_double);
			/* nearest rank: the value at rank ceil(q n), counting from 1 */
			p->latency_p50 = g->lat[(n + 1) / 2 - 1];
			p->latency_p95 = g->lat[(95 * n + 99) / 100 - 1];
		}
		p->corrections = g->corrections;
		p->first_run = g->first;
		p->last_run = g->last;
	}
	for (size_t i = 0; i < R->nv; i++) {
		struct rversion *v = &R->versions[i];
		trmx_report_version *p = &R->pub_versions[i];
		p->module = v->module;
		p->module_version = v->version;
		p->runs = v->runs;
		p->judged = v->judged;
		p->correct = v->correct;
		p->accuracy = ratio(v->correct, v->judged);
		trmx_wilson_interval(v->correct, v->judged, Z95, &p->accuracy_low, &p->accuracy_high);
		p->steps_runs = v->steps_runs;
		p->mean_steps = v->steps_runs ? v->steps_sum / (double)v->steps_runs : NAN;
		p->steps_max = v->hist_len ? v->hist_len - 1 : 0;
		p->steps_hist = v->hist;
		p->bins = R->bins;
		int64_t J = 0;
		double ece = 0;
		for (int b = 0; b < R->bins; b++) {
			trmx_report_bin *bin = &v->bins[b];
			bin->from = (double)b / R->bins;
			bin->to = (double)(b + 1) / R->bins;
			bin->mean_confidence = bin->runs ? (double)v->conf_q[b] / 1e9 / (double)bin->runs : NAN;
			bin->accuracy = ratio(bin->correct, bin->judged);
			J += bin->judged;
		}
		for (int b = 0; b < R->bins; b++) {
			trmx_report_bin *bin = &v->bins[b];
			if (bin->judged)
				ece += (double)bin->judged / (double)J * fabs(bin->accuracy - bin->mean_confidence);
		}
		p->calibration = v->bins;
		p->ece = J ? ece : NAN;
		qsort(v->pts, v->npts, sizeof *v->pts, cmp_point);
		if (v->npts && !(v->pub_pts = trmx_xcalloc(v->npts, sizeof *v->pub_pts)))
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory building the report");
		for (size_t k = 0; k < v->npts; k++) {
			trmx_report_point *q = &v->pub_pts[k];
			q->bucket = v->pts[k].bucket;
			q->runs = v->pts[k].runs;
			q->judged = v->pts[k].judged;
			q->correct = v->pts[k].correct;
			q->accuracy = ratio(q->correct, q->judged);
		}
		p->points = v->npts;
		p->series = v->pub_pts;
	}
	/* canaries: per context with canary runs, the newest-serving version of each
	 * arm */
	for (size_t i = 0; i < R->na; i++) {
		const struct rarm *a = &R->arms[i];
		if (a->arm != 1)
			continue;
		const char *ctx = R->groups[a->group].context;
		size_t k = 0;
		while (k < R->ncanaries && strcmp(R->canaries[k].context, ctx))
			k++;
		if (k == R->ncanaries) {
			R->canaries[k].context = ctx;
			R->ncanaries++;
		}
	}
	for (size_t k = 0; k < R->ncanaries; k++) {
		trmx_report_canary *c = &R->canaries[k];
		const struct rarm *best[2] = { NULL, NULL };
		for (size_t i = 0; i < R->na; i++) {
			const struct rarm *a = &R->arms[i];
			if (strcmp(R->groups[a->group].context, c->context))
				continue;
			if (!best[a->arm] || strcmp(a->last, best[a->arm]->last) > 0)
				best[a->arm] = a;
		}
		c->champion.accuracy = NAN;
		c->champion.accuracy_low = 0;
		c->champion.accuracy_high = 1;
		if (best[0])
			fill_arm(R, best[0], &c->champion);
		fill_arm(R, best[1], &c->canary);
		c->difference = c->canary.accuracy - c->champion.accuracy;
		c->verdict = trmx_canary_compare(c->champion.correct, c->champion.judged, c->canary.correct,
						 c->canary.judged, &c->runs_needed);
	}
	qsort(R->pub_groups, R->ng, sizeof *R->pub_groups, cmp_group);
	qsort(R->pub_versions, R->nv, sizeof *R->pub_versions, cmp_version);
	qsort(R->canaries, R->ncanaries, sizeof *R->canaries, cmp_canary);
	return 0;
}

/* ---- Build
 * ----------------------------------------------------------------------------------
 */

/* Every run of the window with each of its feedback rows (columns C_*); the caller appends the
 * WHERE clause. A run's rows come together: log.db's join runs outer, PostgreSQL's is ordered. */
#define RUNS_WITH_FEEDBACK                                                                             \
	"SELECT r.id, r.context, r.module, r.version, r.digest, r.arm, r.learner, r.time, r.steps, "     \
	"r.latency_ms, r.halt_confidence, r.status, f.source, f.verdict, "                                \
	"CAST(f.expected IS NOT NULL AS integer), CAST(r.output = f.expected AS integer), f.time, "     \
	"f.id FROM runs r LEFT JOIN feedback f ON f.run_id = r.id"

/* Fold one row into the report: a new run's, or one more feedback row of the current run. */
static int fold_row(trmx_report *R, struct cur *c, const rrow *row, bool *have, trmx_error *err)
{
	if (!*have || strcmp(r_text(row, C_ID), c->id)) {
		if (*have)
			finish_run(R, c);
		int rc = start_run(R, c, row, err);
		if (rc < 0)
			return rc;
		*have = true;
	}
	if (!r_null(row, C_F_SOURCE))
		feedback_row(R, c, row);
	return 0;
}

static void pick_bucket(trmx_report *R);

/* The report's rows from a central log: one REPEATABLE READ, READ ONLY transaction (one snapshot),
 * the window's first and last run, then the rows in COPY's binary format: the join streams in run
 * id order (a merge of the two primary keys' indexes, no sort) and only the columns the fold
 * reads leave the server (the answer is compared with an expected one there). This is what the
 * report costs least as (docs/SCHEMA.md, "Reports over a central log": the aggregation itself in
 * SQL measured slower than folding here). */
struct central {
	trmx_report *R;
	struct cur *c;
	bool have;
};

static int central_row(void *ctx, int nfields, const char *const *v, const int *len, trmx_error *err)
{
	struct central *k = ctx;
	if (nfields != C_COLUMNS)
		return trmx_error_set(err, TRMX_EIO, "the central log's report rows have %d columns, not %d", nfields,
				      C_COLUMNS);
	rrow row = { .v = v, .len = len };
	return fold_row(k->R, k->c, &row, &k->have, err);
}

static int central_fold(trmx_report *R, struct cur *c, const char *url, an_filter *f, trmx_error *err)
{
	trmx_pg *p = NULL;
	trmx_buf sql = { 0 };
	char *copy_sql = NULL;
	const char *params[8];
	char prefix[TRMX_CONTEXT_NAME_MAX + 1];
	int rc = trmx_pg_open(&p, url, true, err);
	if (rc < 0)
		goto done;
	trmx_buf_put(&sql, "SELECT coalesce(min(r.time), ''), coalesce(max(r.time), '') FROM runs r WHERE true");
	trmx__an_filter_sql(f, &sql, "r.time");
	int np = trmx__an_filter_params(f, params, prefix, sizeof prefix);
	if (sql.failed) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	for (char *q = sql.s; (q = strchr(q, '?')); q++)
		*q = '$'; /* ?N, as trmx__an_filter_sql writes them, is $N in PostgreSQL */
	/* the plan streams: merge join on the indexes, no hashing, no JIT for one pass */
	if ((rc = trmx_pg_exec(p, "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY; "
				  "SET LOCAL jit = off; SET LOCAL enable_hashjoin = off",
			       err)) < 0)
		goto done;
	PGresult *r = trmx_pg_query(p, sql.s, np, params, err);
	if (!r) {
		rc = err->code;
		goto done;
	}
	copy(R->first, sizeof R->first, PQgetvalue(r, 0, 0));
	copy(R->last, sizeof R->last, PQgetvalue(r, 0, 1));
	PQclear(r);
	pick_bucket(R);
	trmx_buf_free(&sql);
	sql = (trmx_buf){ 0 };
	trmx_buf_put(&sql, "COPY (" RUNS_WITH_FEEDBACK " WHERE true");
	trmx__an_filter_sql(f, &sql, "r.time");
	trmx_buf_put(&sql, " ORDER BY r.id) TO STDOUT (FORMAT binary)");
	if (sql.failed || !(copy_sql = trmx_pg_inline(p, sql.s, np, params))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	struct central k = { .R = R, .c = c };
	if ((rc = trmx_pg_copy_out(p, copy_sql, C_COLUMNS, central_row, &k, err)) < 0)
		goto done;
	if (k.have)
		finish_run(R, c);
done:
	trmx_pg_rollback(p);
	trmx_pg_close(p);
	trmx_buf_free(&sql);
	free(copy_sql);
	return rc;
}

/* The first or the last run time of the window, "" when none. */
static int edge_time(sqlite3 *db, an_filter *f, bool last, char out[32], trmx_error *err)
{
	trmx_buf b = { 0 };
	trmx_buf_put(&b, "SELECT r.time FROM runs r WHERE 1");
	trmx__an_filter_sql(f, &b, "r.time");
	trmx_buf_put(&b, last ? " ORDER BY r.time DESC LIMIT 1" : " ORDER BY r.time LIMIT 1");
	if (b.failed) {
		trmx_buf_free(&b);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(db, b.s, &st, "log.db", err), s;
	trmx_buf_free(&b);
	if (rc < 0)
		return rc;
	trmx__an_filter_bind(f, st, 1);
	out[0] = '\0';
	if ((s = trmx_db_step(st)) == SQLITE_ROW)
		snprintf(out, 32, "%s", an_col(st, 0));
	else if (s != SQLITE_DONE)
		rc = trmx_db_error(db, s, "log.db", err);
	sqlite3_finalize(st);
	return rc;
}

/* The bucket of the accuracy series: the finest unit that keeps the chart
 * readable. */
static void pick_bucket(trmx_report *R)
{
	int64_t a = 0, b = 0;
	double span_h = 0;
	if (R->first[0] && trmx_time_parse(R->first, 1, &a, NULL) == 0 && trmx_time_parse(R->last, 1, &b, NULL) == 0)
		span_h = (double)(b - a) / 3.6e6;
	if (span_h > 24 * 400)
		R->bucket_len = 7, R->bucket_name = "month";
	else if (span_h > 24 * 3)
		R->bucket_len = 10, R->bucket_name = "day";
	else if (span_h > 3)
		R->bucket_len = 13, R->bucket_name = "hour";
	else
		R->bucket_len = 16, R->bucket_name = "minute";
}

int trmx_report_build(trmx_report **out, const char *home, const trmx_report_options *opts, trmx_error *err)
{
	trmx_report_options defaults = TRMX_REPORT_OPTIONS_INIT;
	const trmx_report_options *o = opts ? opts : &defaults;
	if (!out || !home)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_report_build: missing argument");
	if (!trmx_version_ok(o->version, TRMX_REPORT_OPTIONS_VERSION))
		return trmx_version_refused(err, "report options", o->version, TRMX_REPORT_OPTIONS_VERSION);
	const char *learner = o->version >= 2 ? o->learner : NULL; /* version 1 ends before it */
	if (o->bins < 0 || o->bins > TRMX_REPORT_BINS_MAX)
		return trmx_error_set(err, TRMX_EINVAL, "calibration bins must be in [1, %d], not %d", TRMX_REPORT_BINS_MAX,
				      o->bins);
	if (o->since_ms && o->until_ms && o->until_ms <= o->since_ms)
		return trmx_error_set(err, TRMX_EINVAL, "the window is empty: until is not after since");
	trmx_report *R = trmx_xcalloc(1, sizeof *R);
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	struct cur c = { 0 };
	trmx_buf sql = { 0 };
	int rc, s;
	if (!R)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	R->bins = o->bins ? o->bins : 10;
	R->home = trmx_xstrdup(home);
	R->context = o->context ? trmx_xstrdup(o->context) : NULL;
	R->module = o->module ? trmx_xstrdup(o->module) : NULL;
	R->learner = learner ? trmx_xstrdup(learner) : NULL;
	if (!R->home || (o->context && !R->context) || (o->module && !R->module) || (learner && !R->learner)) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	an_filter f = { .context = o->context,
			.module = o->module,
			.learner = learner,
			.since_ms = o->since_ms,
			.until_ms = o->until_ms,
			.kinds = o->kinds };
	char *url = NULL;
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0)
		goto fail;
	if (url) {
		rc = central_fold(R, &c, url, &f, err);
		free(url);
		if (rc < 0)
			goto fail;
		goto folded;
	}
	if ((rc = trmx__an_open_log(home, true, &db, NULL, err)) < 0)
		goto fail;
	/* one read transaction: the figures are of one snapshot, however many appends
	 * run meanwhile */
	if ((rc = trmx_db_exec(db, "BEGIN", "log.db", err)) < 0 || (rc = edge_time(db, &f, false, R->first, err)) < 0 ||
	    (rc = edge_time(db, &f, true, R->last, err)) < 0)
		goto fail;
	pick_bucket(R);
	trmx_buf_put(&sql, RUNS_WITH_FEEDBACK " WHERE 1 = 1");
	trmx__an_filter_sql(&f, &sql, "r.time");
	if (sql.failed) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto fail;
	}
	if ((rc = trmx_db_prepare(db, sql.s, &st, "log.db", err)) < 0)
		goto fail;
	trmx__an_filter_bind(&f, st, 1);
	bool have = false;
	rrow row = { .st = st };
	while ((s = trmx_db_step(st)) == SQLITE_ROW)
		if ((rc = fold_row(R, &c, &row, &have, err)) < 0)
			goto fail;
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(db, s, "log.db", err);
		goto fail;
	}
	if (have)
		finish_run(R, &c);
folded:
	if ((rc = finish(R, err)) < 0)
		goto fail;
	trmx_iso_time(trmx_now_ms(), R->generated_at);
	if (o->since_ms)
		trmx_iso_time(o->since_ms, R->since);
	if (o->until_ms)
		trmx_iso_time(o->until_ms, R->until);
	unsigned k = o->kinds & TRMX_REPORT_KIND_ALL;
	if (!k || k == TRMX_REPORT_KIND_ALL) {
		snprintf(R->kinds, sizeof R->kinds, "all");
	} else {
		static const char *const kn[] = { "run", "eval", "selftest" };
		size_t at = 0;
		for (int j = 0; j < 3; j++)
			if (k & (1u << j))
				at += (size_t)snprintf(R->kinds + at, sizeof R->kinds - at, "%s%s", at ? ", " : "", kn[j]);
	}
	R->info.kinds = R->kinds;
	R->info.generated_at = R->generated_at;
	R->info.home = R->home;
	R->info.context = R->context;
	R->info.module = R->module;
	R->info.learner = R->learner;
	R->info.since = o->since_ms ? R->since : NULL;
	R->info.until = o->until_ms ? R->until : NULL;
	R->info.first_run = R->first[0] ? R->first : NULL;
	R->info.last_run = R->last[0] ? R->last : NULL;
	R->info.bucket = R->bucket_name;
	R->info.bins = R->bins;
	sqlite3_finalize(st);
	trmx_db_rollback(db);
	sqlite3_close(db);
	trmx_buf_free(&sql);
	*out = R;
	return 0;
fail:
	sqlite3_finalize(st);
	trmx_db_rollback(db);
	if (db)
		sqlite3_close(db);
	trmx_buf_free(&sql);
	trmx_report_free(R);
	return rc;
}

void trmx_report_free(trmx_report *R)
{
	if (!R)
		return;
	for (size_t i = 0; i < R->ng; i++) {
		struct rgroup *g = &R->groups[i];
		free(g->context), free(g->module), free(g->version), free(g->hist), free(g->lat);
	}
	for (size_t i = 0; i < R->nv; i++) {
		struct rversion *v = &R->versions[i];
		free(v->module), free(v->version), free(v->hist), free(v->bins), free(v->conf_q), free(v->pts),
			free(v->pub_pts);
	}
	free(R->groups), free(R->versions), free(R->arms);
	trmx__an_map_free(&R->gmap), trmx__an_map_free(&R->vmap), trmx__an_map_free(&R->all_learners);
	free(R->learners.keys);
	free(R->pub_groups), free(R->pub_versions), free(R->canaries);
	free(R->home), free(R->context), free(R->module), free(R->learner);
	free(R);
}

/* ---- Accessors
 * ----------------------------------------------------------------------------------
 */

const trmx_report_info *trmx_report_info_get(const trmx_report *r)
{
	return r ? &r->info : NULL;
}

size_t trmx_report_group_count(const trmx_report *r)
{
	return r ? r->ng : 0;
}

const trmx_report_group *trmx_report_group_at(const trmx_report *r, size_t i)
{
	return r && i < r->ng ? &r->pub_groups[i] : NULL;
}

size_t trmx_report_version_count(const trmx_report *r)
{
	return r ? r->nv : 0;
}

const trmx_report_version *trmx_report_version_at(const trmx_report *r, size_t i)
{
	return r && i < r->nv ? &r->pub_versions[i] : NULL;
}

size_t trmx_report_canary_count(const trmx_report *r)
{
	return r ? r->ncanaries : 0;
}

const trmx_report_canary *trmx_report_canary_at(const trmx_report *r, size_t i)
{
	return r && i < r->ncanaries ? &r->canaries[i] : NULL;
}
