/*
 * test_faults.c — every allocation of the core, the task codecs and the packager goes through the
 * fault hook (core/fault.c); here each one fails in turn. For each scenario (a config file read,
 * weights read and written, each codec's open/encode/decode/check/render, a CSV and an ARC data
 * set, a manifest, a pack, a package opened, verified with its contents and extracted, a key
 * made and a package signed with it), fail the
 * Nth allocation for N = 1, 2, ... until the scenario no longer meets its Nth: every failing run
 * must return TRMX_ENOMEM with a message, leave no file behind, and leak nothing (make check runs
 * this under ASan and LeakSanitizer); a run that meets its failure yet succeeds swallowed it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "helpers/testutil.h"
#include "trmx/package.h"
#include "trmx/task.h"
#include "trmx/trmx.h"

static const char *fixture(const char *rel)
{
	char r[256];
	snprintf(r, sizeof r, "tests/fixtures/%s", rel);
	return tu_repo_path(r);
}

typedef int (*scenario_fn)(void *ctx, trmx_error *err);

/* Entries of folder `dir` (NULL: 0). */
static int entries(const char *dir)
{
	int n = 0;
	DIR *d = dir ? opendir(dir) : NULL;
	for (struct dirent *e; d && (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	if (d)
		closedir(d);
	return n;
}

/* Run `fn` failing its Nth allocation for every N; returns the allocations of a clean run. The
 * scenario undoes its own work (files, objects) on success and on failure; after a failed run
 * the scratch folder `dir` (may be NULL) must hold what it held before. */
static long sweep(const char *name, scenario_fn fn, void *ctx, const char *dir)
{
	int before = entries(dir);
	long n;
	for (n = 1;; n++) {
		trmx_error err = { 0 };
		trmx_fault_arm(TRMX_FAULT_ALLOC, n);
		int rc = fn(ctx, &err);
		long hit = trmx_fault_seen(TRMX_FAULT_ALLOC);
		trmx_fault_disarm();
		if (rc == 0 && hit < n)
			break;
		if (rc == 0)
			fail_msg("%s: allocation %ld failed, yet the scenario succeeded", name, n);
		if (rc != TRMX_ENOMEM || err.code != TRMX_ENOMEM || !err.message[0])
			fail_msg("%s: allocation %ld failed and was reported as %d (err %d): \"%s\"", name, n, rc, err.code,
				 err.message);
		if (entries(dir) != before)
			fail_msg("%s: allocation %ld failed and left a file in %s", name, n, dir);
		if (n > 100000)
			fail_msg("%s: no end to its allocations", name);
	}
	print_message("%-34s %5ld allocations, each failed cleanly\n", name, n - 1);
	assert_true(n > 1); /* the scenario allocates through the hook at all */
	return n - 1;
}

/* ---- Core ---------------------------------------------------------------------------------------- */

struct files {
	char *dir;
	char *out;
};

static int sc_config(void *ctx, trmx_error *err)
{
	struct files *f = ctx;
	trmx_config *c = NULL;
	int rc = trmx_config_load_yaml(&c, f->out, err);
	if (rc == 0)
		rc = trmx_config_set(c, "hidden_size", "64", err);
	if (rc == 0 && strcmp(trmx_config_get(c, "hidden_size"), "64"))
		rc = trmx_error_set(err, TRMX_EINVAL, "the value set is not read back");
	trmx_config_free(c);
	return rc;
}

static int sc_weights(void *ctx, trmx_error *err)
{
	struct files *f = ctx;
	trmx_weights *w = NULL;
	trmx_weights_writer *wr = NULL;
	int rc = trmx_weights_open(&w, fixture("trm_tiny_mlp.safetensors"), err);
	if (rc == 0)
		rc = trmx_weights_writer_new(&wr, err);
	for (size_t i = 0; rc == 0 && i < trmx_weights_count(w); i++) {
		const trmx_tensor_view *v = trmx_weights_at(w, i);
		rc = trmx_weights_writer_add(wr, v->name, v->dtype, v->ndim, v->shape, v->data, err);
	}
	for (size_t i = 0; rc == 0 && i < trmx_weights_metadata_count(w); i++) {
		const char *k, *val;
		trmx_weights_metadata_at(w, i, &k, &val);
		rc = trmx_weights_writer_set_metadata(wr, k, val, err);
	}
	if (rc == 0)
		rc = trmx_weights_writer_write(wr, f->out, err);
	trmx_weights_writer_free(wr);
	trmx_weights_free(w);
	trmx_weights *back = NULL;
	if (rc == 0 && (rc = trmx_weights_open(&back, f->out, err)) == 0)
		trmx_weights_free(back);
	remove(f->out);
	return rc;
}

/* ---- Tasks --------------------------------------------------------------------------------------- */

struct codec_case {
	const char *task, *params, *text;
};

static int sc_codec(void *ctx, trmx_error *err)
{
	const struct codec_case *c = ctx;
	trmx_task *t = NULL;
	int32_t *in = NULL, *label = NULL;
	char *text = NULL, *canon = NULL, *pic = NULL;
	bool has_label = false;
	int rc = trmx_task_open(&t, c->task, c->params, err);
	if (rc < 0)
		return rc;
	size_t n = (size_t)trmx_task_seq_len(t);
	in = calloc(n, sizeof *in);
	label = calloc(n, sizeof *label);
	assert_non_null(in);
	assert_non_null(label);
	trmx_check chk = TRMX_CHECK_INIT;
	if ((rc = trmx_task_encode(t, c->text, strlen(c->text), in, label, &has_label, err)) == 0 &&
	    (rc = trmx_task_canonical(t, c->text, strlen(c->text), &canon, err)) == 0 &&
	    (rc = trmx_task_decode(t, has_label ? label : in, TRMX_TEXT_GRID, &text, err)) == 0 &&
	    (rc = trmx_task_check(t, in, has_label ? label : in, has_label ? label : NULL, &chk, err)) == 0)
		rc = trmx_task_render(t, has_label ? label : in, NULL, &pic, err);
	trmx_task_text_free(pic);
	trmx_task_text_free(text);
	trmx_task_text_free(canon);
	free(in);
	free(label);
	trmx_task_free(t);
	return rc;
}

struct dataset_case {
	const char *task, *params, *path;
};

static int sc_dataset(void *ctx, trmx_error *err)
{
	const struct dataset_case *c = ctx;
	trmx_task *t = NULL;
	trmx_dataset *ds = NULL;
	trmx_dataset_options o = TRMX_DATASET_OPTIONS_INIT;
	int rc = trmx_task_open(&t, c->task, c->params, err);
	if (rc == 0 && (rc = trmx_dataset_load(&ds, t, fixture(c->path), &o, err)) == 0) {
		trmx_dataset_view v;
		trmx_dataset_view_get(ds, &v);
		if (v.examples == 0)
			rc = trmx_error_set(err, TRMX_EFORMAT, "no examples read");
	}
	trmx_dataset_free(ds);
	trmx_task_free(t);
	return rc;
}

/* Raw token ids of a data set in .npy files (core/npy.c). */
static int sc_npy(void *ctx, trmx_error *err)
{
	const struct files *f = ctx;
	trmx_task *t = NULL;
	trmx_dataset *ds = NULL;
	int rc = trmx_task_open(&t, "tokens", "seq_len=4,vocab_size=8", err);
	if (rc == 0)
		rc = trmx_dataset_load_npy(&ds, t, f->out, f->out, err);
	trmx_dataset_free(ds);
	trmx_task_free(t);
	return rc;
}

/* An .npy file of int32 [2, 4] (version 1.0: magic, version, header length, the dict padded with
 * spaces to a multiple of 64 bytes with the magic, then the data). */
static void write_tokens_npy(const char *path)
{
	const char dict[] = "{'descr': '<i4', 'fortran_order': False, 'shape': (2, 4), }";
	const int32_t ids[8] = { 1, 2, 3, 4, 4, 3, 2, 1 };
	_Static_assert(sizeof dict - 1 <= 128 - 11, "the dict fits the header");
	char head[128];
	size_t hlen = sizeof head - 10;
	memset(head, ' ', sizeof head);
	memcpy(head, "\x93NUMPY\x01\x00", 8);
	head[8] = (char)hlen;
	head[9] = 0;
	memcpy(head + 10, dict, sizeof dict - 1);
	head[sizeof head - 1] = '\n';
	FILE *fp = fopen(path, "wb");
	assert_non_null(fp);
	assert_int_equal(fwrite(head, 1, sizeof head, fp), sizeof head);
	assert_int_equal(fwrite(ids, sizeof ids, 1, fp), 1);
	assert_int_equal(fclose(fp), 0);
}

/* ---- Packager ------------------------------------------------------------------------------------ */

static int sc_manifest(void *ctx, trmx_error *err)
{
	(void)ctx;
	trmx_manifest *m = NULL;
	int rc = trmx_manifest_load(&m, fixture("module-sudoku4-tiny/manifest.yaml"), TRMX_MANIFEST_SOURCE, err);
	trmx_manifest_free(m);
	return rc;
}

static int sc_pack(void *ctx, trmx_error *err)
{
	struct files *f = ctx;
	trmx_pack_options po = TRMX_PACK_OPTIONS_INIT;
	char *written = NULL;
	int rc = trmx_package_pack(fixture("module-sudoku4-tiny"), f->out, &po, &written, err);
	free(written);
	remove(f->out);
	return rc;
}

static int sc_package(void *ctx, trmx_error *err)
{
	struct files *f = ctx;
	trmx_package *p = NULL;
	char digest[TRMX_SHA256_HEX_SIZE];
	trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
	vo.flags = TRMX_VERIFY_CONTENTS;
	vo.tmpdir = f->dir;
	char *into = tu_path(f->dir, "x");
	int rc = trmx_package_open(&p, f->out, NULL, err);
	if (rc == 0)
		rc = trmx_package_digest(p, digest, err);
	if (rc == 0)
		rc = trmx_package_verify(p, &vo, NULL, err);
	if (rc == 0 && mkdir(into, 0755) != 0)
		rc = trmx_error_set(err, TRMX_EIO, "mkdir %s", into);
	if (rc == 0 && (rc = trmx_package_extract(p, into, err)) == 0)
		tu_rmtree(into);
	if (rc < 0)
		rmdir(into); /* extract leaves the folder it was given, emptied */
	trmx_package_free(p);
	free(into);
	return rc;
}

static bool exists(const char *dir, const char *name)
{
	char path[4096];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return lstat(path, &st) == 0;
}

/* A key pair made, the package signed with it, the public key trusted, the signature judged. */
static int sc_sign(void *ctx, trmx_error *err)
{
	const struct files *f = ctx;
	char id[TRMX_KEY_ID_SIZE], id2[TRMX_KEY_ID_SIZE];
	char *base = tu_path(f->dir, "k"), *key = tu_path(f->dir, "k.key"), *pub = tu_path(f->dir, "k.pub");
	char *signed_path = tu_path(f->dir, "signed.trmx"), *home = tu_path(f->dir, "home");
	trmx_package *p = NULL;
	trmx_public_key *keys = NULL;
	size_t nkeys = 0;
	trmx_signature_info si;
	int rc = trmx_key_generate(base, "fault test", id, err);
	if (rc < 0 && (exists(f->dir, "k.key") || exists(f->dir, "k.pub")))
		rc = trmx_error_set(err, TRMX_ERROR, "a failed key generation left a key file");
	if (rc == 0)
		rc = trmx_package_sign(f->out, key, signed_path, id2, err);
	if (rc == 0 && mkdir(home, 0700) != 0)
		rc = trmx_error_set(err, TRMX_EIO, "mkdir %s", home);
	if (rc == 0)
		rc = trmx_trust_add(home, pub, id2, err);
	if (rc == 0)
		rc = trmx_trust_list(home, &keys, &nkeys, err);
	if (rc == 0)
		rc = trmx_package_open(&p, signed_path, NULL, err);
	if (rc == 0)
		rc = trmx_package_signature(p, home, NULL, &si, err);
	if (rc == 0 && (si.status != TRMX_SIGNATURE_TRUSTED || nkeys != 1 || strcmp(id, id2)))
		rc = trmx_error_set(err, TRMX_ERROR, "the signature is %s", trmx_signature_status_name(si.status));
	trmx_package_free(p);
	free(keys);
	remove(key);
	remove(pub);
	remove(signed_path);
	tu_rmtree(home);
	free(base);
	free(key);
	free(pub);
	free(signed_path);
	free(home);
	return rc;
}

static void test_core(void **state)
{
	(void)state;
	struct files f = { tu_tmpdir(), NULL };
	f.out = tu_path(f.dir, "arch.yaml");
	assert_int_equal(tu_write_text(f.out, "# an architecture\nengine: trm\nhidden_size: 512\nnum_heads: 8\n"
					      "H_cycles: 3\nL_cycles: 6\nmlp_t: true\npos_encodings: none\n"),
			 0);
	sweep("config: YAML read, set", sc_config, &f, NULL);
	free(f.out);
	f.out = tu_path(f.dir, "w.safetensors");
	sweep("weights: read, write, read back", sc_weights, &f, f.dir);
	free(f.out);
	f.out = tu_path(f.dir, "ids.npy");
	write_tokens_npy(f.out);
	sweep("data set of .npy token ids", sc_npy, &f, f.dir);
	tu_rmtree(f.dir);
	free(f.out);
	free(f.dir);
}

static void test_tasks(void **state)
{
	(void)state;
	char *maze = tu_read_file(fixture("tasks/maze7.txt"), NULL);
	char *arc = tu_read_file(fixture("tasks/arc/flip.json"), NULL);
	assert_non_null(maze);
	assert_non_null(arc);
	char *blank = strstr(maze, "\n\n"); /* the first of the file's two mazes */
	assert_non_null(blank);
	blank[1] = '\0';
	const struct codec_case codecs[] = {
		{ "sudoku", "size=4", "1 . | 3 .\n. 4 | . 2\n----+----\n2 . | 4 .\n. 3 | . 1\n" },
		{ "sudoku", "size=9",
		  "..3.2.6..9..3.5..1..18.64....81.29..7.......8..67.82....26.95..8..2.3..9..5.1.3..\n" },
		{ "maze", "size=7", maze },
		{ "arc", NULL, arc },
		{ "tokens", "seq_len=4,vocab_size=8", "1 2 3 4\n" },
	};
	for (size_t i = 0; i < sizeof codecs / sizeof *codecs; i++) {
		char name[64];
		snprintf(name, sizeof name, "codec %s %s", codecs[i].task, codecs[i].params ? codecs[i].params : "");
		sweep(name, sc_codec, (void *)&codecs[i], NULL);
	}
	const struct dataset_case sets[] = {
		{ "sudoku", "size=9", "tasks/sudoku9_hrm.csv" },
		{ "maze", "size=30", "tasks/maze30_hrm.csv" },
		{ "arc", NULL, "tasks/arc" },
	};
	for (size_t i = 0; i < sizeof sets / sizeof *sets; i++) {
		char name[64];
		snprintf(name, sizeof name, "data set %s", sets[i].path);
		sweep(name, sc_dataset, (void *)&sets[i], NULL);
	}
	free(maze);
	free(arc);
}

static void test_packager(void **state)
{
	(void)state;
	struct files f = { tu_tmpdir(), NULL };
	f.out = tu_path(f.dir, "p.trmx");
	sweep("manifest: load", sc_manifest, NULL, NULL);
	sweep("pack (contents checked)", sc_pack, &f, f.dir);
	/* a package to open */
	trmx_error err = { 0 };
	trmx_pack_options po = TRMX_PACK_OPTIONS_INIT;
	assert_trmx_ok(trmx_package_pack(fixture("module-sudoku4-tiny"), f.out, &po, NULL, &err), err);
	sweep("package: open, verify, extract", sc_package, &f, f.dir);
	sweep("key made, package signed, trusted", sc_sign, &f, f.dir);
	tu_rmtree(f.dir);
	free(f.out);
	free(f.dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_core),
		cmocka_unit_test(test_tasks),
		cmocka_unit_test(test_packager),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
