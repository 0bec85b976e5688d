/*
 * bench_host.c — the runtime's own costs, apart from the engine's compute:
 *   bench_host log [SINGLE] [BATCHED] [BATCH]
 *       log appends per second into a fresh log.db: one transaction per run (SINGLE runs), and
 *       BATCH runs per transaction (BATCHED runs); each run with a checker feedback row too, and
 *       then batched again without the feedback rows
 *   bench_host run TRMX [REPS]
 *       the overhead of a dispatch beyond the engine's compute (resolve, load, encode, check, log)
 *       on an installed module of the official Sudoku size (generated weights, 5 M parameters):
 *       in-process with a cold host (a new host per dispatch: the model is loaded each time) and
 *       a warm one (the model cached), with the built-in engine and the plugin; and the `trmx run`
 *       command (process start, dlopen, registry, load, log) measured from outside, minus the
 *       compute it reports.
 * Lines are "name key=value ..." for bench/run.sh. Never gates CI.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "helpers/weightgen.h"
#include "log/log_int.h"
#include "trmx/host.h"
#include "trmx/trmx.h"

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp_double);
	return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static void die(const char *what, const trmx_error *err)
{
	fprintf(stderr, "bench_host: %s: %s\n", what, err ? err->message : "failed");
	exit(1);
}

/* ---- log appends ------------------------------------------------------------------------------ */

static void fill(trmx_run_record *r, trmx_feedback_record *f, const char *learner)
{
	*r = (trmx_run_record)TRMX_RUN_RECORD_INIT;
	trmx_uuid7(r->id);
	r->context = "bench/unit-1";
	r->learner = learner;
	r->target = "sudoku9@champion";
	r->module = "sudoku9";
	r->module_version = "1.0.0";
	r->digest = "9f2c4e7a1b0d3c5e8f6a2b4d1c3e5f7a9b0c2d4e6f8a1b3c5d7e9f0a2b4c6d8e";
	r->alias = "champion";
	r->engine = "trm 1.0.0";
	r->task = "sudoku";
	r->task_params = "size=9";
	r->input = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";
	r->output = "534678912672195348198342567859761423426853791713924856961537284287419635345286179";
	r->halt = TRMX_HALT_ADAPTIVE;
	r->max_steps = 16;
	r->steps = 7;
	r->q_halt = 2.5;
	r->verdict = TRMX_VERDICT_VALID;
	r->latency_ms = 12.5;
	*f = (trmx_feedback_record)TRMX_FEEDBACK_RECORD_INIT;
	f->run_id = r->id;
	f->source = TRMX_FEEDBACK_CHECKER;
}

static int bench_log(int single, int batched, int batch)
{
	trmx_error err = { 0 };
	char *home = tu_tmpdir();
	trmx_log_db *log = NULL;
	char who[TRMX_PSEUDONYM_SIZE];
	if (!home || trmx_log_open(&log, home, NULL, &err) < 0 || trmx_log_pseudonym(log, "learner-1", who, &err) < 0)
		die("log", &err);
	trmx_run_record *r = calloc((size_t)batch, sizeof *r);
	trmx_feedback_record *f = calloc((size_t)batch, sizeof *f);
	double t0 = now();
	for (int i = 0; i < single; i++) {
		fill(&r[0], &f[0], who);
		if (trmx_log_write(log, r, 1, f, 1, NULL, &err) < 0)
			die("append", &err);
	}
	double t1 = now();
	printf("log_single runs=%d seconds=%.3f runs_per_s=%.0f\n", single, t1 - t0, single / (t1 - t0));
	int done = 0;
	t0 = now();
	while (done < batched) {
		int n = batched - done < batch ? batched - done : batch;
		for (int i = 0; i < n; i++)
			fill(&r[i], &f[i], who);
		if (trmx_log_write(log, r, (size_t)n, f, (size_t)n, NULL, &err) < 0)
			die("append", &err);
		done += n;
	}
	t1 = now();
	printf("log_batched runs=%d batch=%d seconds=%.3f runs_per_s=%.0f\n", batched, batch, t1 - t0, batched / (t1 - t0));
	done = 0; /* the same without the checker's feedback rows: the runs table alone */
	t0 = now();
	while (done < batched) {
		int n = batched - done < batch ? batched - done : batch;
		for (int i = 0; i < n; i++)
			fill(&r[i], &f[i], who);
		if (trmx_log_write(log, r, (size_t)n, NULL, 0, NULL, &err) < 0)
			die("append", &err);
		done += n;
	}
	t1 = now();
	printf("log_batched_runs_only runs=%d batch=%d seconds=%.3f runs_per_s=%.0f\n", batched, batch, t1 - t0,
	       batched / (t1 - t0));
	batched *= 2;
	struct stat st;
	char *db = tu_path(home, "log.db");
	stat(db, &st);
	printf("log_size runs=%d bytes=%lld bytes_per_run=%.0f\n", single + batched, (long long)st.st_size,
	       (double)st.st_size / (single + batched));
	free(db);
	free(r);
	free(f);
	trmx_log_free(log);
	tu_rmtree(home);
	free(home);
	return 0;
}

/* ---- run overhead ----------------------------------------------------------------------------- */

static const char *const arch[][2] = {
	{ "seq_len", "81" },	      { "vocab_size", "11" },	    { "num_puzzle_identifiers", "1" },
	{ "hidden_size", "512" },     { "num_heads", "8" },	    { "expansion", "4" },
	{ "L_layers", "2" },	      { "H_cycles", "3" },	    { "L_cycles", "6" },
	{ "puzzle_emb_ndim", "512" }, { "puzzle_emb_len", "16" }, { "pos_encodings", "none" },
	{ "mlp_t", "true" },	      { "halt_max_steps", "16" },
};

static const char puzzle[] = "53..7....6..195....98....6.8...6...34..8.3..17...2...6.6....28....419..5....8..79";

/* A module of the official Sudoku size, packed and installed into `home`. */
static void make_module(const char *dir, const char *home)
{
	trmx_error err = { 0 };
	char *m = tu_path(dir, "module"), path[4096];
	mkdir(m, 0755);
	trmx_config *c = NULL;
	if (trmx_config_new(&c, &err) < 0)
		die("config", &err);
	FILE *mf;
	snprintf(path, sizeof path, "%s/manifest.yaml", m);
	if (!(mf = fopen(path, "w")))
		die(path, NULL);
	fprintf(mf, "format_version: 1\nname: sudoku9-bench\nversion: 1.0.0\n"
		    "description: Generated weights at the official Sudoku size, for benchmarks.\nlicense: MIT\n"
		    "authors: [trmx bench]\nengine: {name: trm, abi: \">=1 <2\"}\n"
		    "task:\n  codec: sudoku\n  params: {size: 9}\narchitecture:\n");
	for (size_t i = 0; i < sizeof arch / sizeof *arch; i++) {
		fprintf(mf, "  %s: %s\n", arch[i][0], arch[i][1]);
		trmx_config_set(c, arch[i][0], arch[i][1], &err);
	}
	fclose(mf);
	snprintf(path, sizeof path, "%s/weights.safetensors", m);
	if (wg_write_trm(c, 1, path, &err) < 0)
		die("weights", &err);
	snprintf(path, sizeof path, "%s/schema.sql", m);
	tu_write_text(path, "CREATE TABLE notes (run_id TEXT, note TEXT);\n");
	snprintf(path, sizeof path, "%s/README.md", m);
	tu_write_text(path, "# sudoku9-bench\n\nGenerated weights for benchmarks; solves nothing.\n");
	char *pkg = tu_path(dir, "sudoku9-bench.trmx");
	trmx_registry *reg = NULL;
	trmx_install_result ir;
	if (trmx_package_pack(m, pkg, NULL, NULL, &err) < 0 || trmx_registry_open(&reg, home, NULL, &err) < 0 ||
	    trmx_registry_install(reg, pkg, NULL, &ir, &err) < 0 ||
	    trmx_registry_bind(reg, "bench/unit-1", "sudoku9-bench", NULL, 0, &err) < 0)
		die("install", &err);
	trmx_registry_free(reg);
	trmx_config_free(c);
	free(pkg);
	free(m);
}

struct phase {
	double total, compute, resolve, load, encode, check, log;
};

static void dispatch_once(trmx_host *h, struct phase *p)
{
	trmx_error err = { 0 };
	const char *texts[] = { puzzle };
	trmx_dispatch d = TRMX_DISPATCH_INIT;
	d.target = "bench/unit-1";
	d.learner = "learner-1";
	d.texts = texts;
	d.n = 1;
	d.halt = TRMX_HALT_FIXED;
	d.max_steps = 1;
	trmx_dispatch_result *r = NULL;
	double t0 = now();
	if (trmx_host_dispatch(h, &d, &r, &err) < 0)
		die("dispatch", &err);
	p->total = (now() - t0) * 1e3;
	p->compute = r->compute_ms;
	p->resolve = r->resolve_ms;
	p->load = r->load_ms;
	p->encode = r->encode_ms;
	p->check = r->check_ms;
	p->log = r->log_ms;
	trmx_dispatch_result_free(r);
}

static void report(const char *name, struct phase *p, int n)
{
	double ov[64], cp[64], rs[64], ld[64], lg[64];
	for (int i = 0; i < n; i++) {
		ov[i] = p[i].total - p[i].compute;
		cp[i] = p[i].compute;
		rs[i] = p[i].resolve;
		ld[i] = p[i].load;
		lg[i] = p[i].log;
	}
	printf("%s reps=%d overhead_ms=%.2f compute_ms=%.2f resolve_ms=%.2f load_ms=%.2f log_ms=%.2f\n", name, n,
	       median(ov, n), median(cp, n), median(rs, n), median(ld, n), median(lg, n));
}

static int bench_run(const char *trmx, int reps)
{
	trmx_error err = { 0 };
	char *dir = tu_tmpdir(), *home = tu_path(dir, "home");
	make_module(dir, home);
	if (reps > 64)
		reps = 64;
	struct phase p[64];
	char plugdir[4096];
	snprintf(plugdir, sizeof plugdir, "%s", trmx);
	char *slash = strrchr(plugdir, '/');
	snprintf(slash ? slash + 1 : plugdir, sizeof plugdir - (size_t)(slash ? slash + 1 - plugdir : 0), "plugins");
	for (int use_plugin = 0; use_plugin < 2; use_plugin++) {
		trmx_host_options ho = TRMX_HOST_OPTIONS_INIT;
		ho.home = home;
		ho.plugin_dir = use_plugin ? plugdir : "";
		for (int i = 0; i < reps; i++) { /* cold: a new host, the model loaded */
			trmx_host *h = NULL;
			double t0 = now();
			if (trmx_host_open(&h, &ho, &err) < 0)
				die("host", &err);
			double open_ms = (now() - t0) * 1e3;
			dispatch_once(h, &p[i]);
			p[i].total += open_ms;
			trmx_host_free(h);
		}
		report(use_plugin ? "dispatch_cold_plugin" : "dispatch_cold_builtin", p, reps);
		trmx_host *h = NULL;
		if (trmx_host_open(&h, &ho, &err) < 0)
			die("host", &err);
		dispatch_once(h, &p[0]);
		for (int i = 0; i < reps; i++) /* warm: the model cached */
			dispatch_once(h, &p[i]);
		report(use_plugin ? "dispatch_warm_plugin" : "dispatch_warm_builtin", p, reps);
		trmx_host_free(h);
	}
	/* the command, from outside: wall time minus the compute it reports */
	double ov[64], wall[64], start[64];
	for (int i = 0; i < reps; i++) {
		char cmd[8192];
		snprintf(cmd, sizeof cmd, "%s version >/dev/null", trmx);
		double t0 = now();
		if (system(cmd) != 0)
			die("trmx version", NULL);
		start[i] = (now() - t0) * 1e3;
		snprintf(cmd, sizeof cmd, "%s run --home %s bench/unit-1 %s --learner learner-1 --halt fixed --steps 1 --json", trmx,
			 home, puzzle);
		t0 = now();
		FILE *pp = popen(cmd, "r");
		char out[16384];
		size_t n = pp ? fread(out, 1, sizeof out - 1, pp) : 0;
		int rc = pp ? pclose(pp) : -1;
		wall[i] = (now() - t0) * 1e3;
		out[n] = 0;
		const char *c = strstr(out, "\"compute\":");
		if (rc != 0 || !c)
			die("trmx run", NULL);
		ov[i] = wall[i] - atof(c + 10);
	}
	printf("trmx_run reps=%d overhead_ms=%.2f wall_ms=%.2f process_start_ms=%.2f\n", reps, median(ov, reps),
	       median(wall, reps), median(start, reps));
	trmx_rmtree(dir); /* the store is read-only: the library's remover makes it writable first */
	free(home);
	free(dir);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 2 && !strcmp(argv[1], "log"))
		return bench_log(argc > 2 ? atoi(argv[2]) : 10000, argc > 3 ? atoi(argv[3]) : 200000,
				 argc > 4 ? atoi(argv[4]) : 1000);
	if (argc >= 3 && !strcmp(argv[1], "run"))
		return bench_run(argv[2], argc > 3 ? atoi(argv[3]) : 5);
	fprintf(stderr, "usage: bench_host log [SINGLE] [BATCHED] [BATCH]\n       bench_host run TRMX [REPS]\n");
	return 2;
}
