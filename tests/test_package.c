/*
 * test_package.c — the .trmx package: pack -> open -> verify -> inspect -> extract round trips on
 * a module built from generated weights and on the project's fixture module; reproducible packing;
 * tampering (a byte flipped in each member, a member's bytes changed, a member added or removed,
 * the manifest edited after signing), each failing with its own message; keys, signatures, the
 * trust store and the policy; pack's refusals; extraction into an empty folder only, cleaned up
 * on failure.
 */
#include <archive.h>
#include <archive_entry.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "helpers/weightgen.h"
#include "trmx/trmx.h"

struct fx {
	char *dir;    /* scratch */
	char *mod;    /* dir/module: the module folder */
	char *home;   /* dir/home: TRMX_HOME */
	char *pkg;    /* dir/m.trmx: packed from mod */
};

static const char manifest_text[] =
	"# a module made by test_package.c\n"
	"format_version: 1\n"
	"name: gen-sudoku4\n"
	"version: 0.2.0\n"
	"description: Generated weights for tests.\n"
	"license: MIT\n"
	"authors: [trmx tests]\n"
	"engine: {name: trm, abi: \">=1 <2\"}\n"
	"task:\n  codec: sudoku\n  params: {size: 4}\n"
	"architecture:\n"
	"  seq_len: 16\n  vocab_size: 6\n  hidden_size: 16\n  num_heads: 2\n  expansion: 4\n"
	"  L_layers: 1\n  H_cycles: 2\n  L_cycles: 2\n  puzzle_emb_ndim: 0\n  puzzle_emb_len: 0\n"
	"  halt_max_steps: 4\n  pos_encodings: rope\n  num_puzzle_identifiers: 1\n"
	"training: {dataset: generated, steps: 0, seed: 7}\n"
	"metrics:\n  examples: {exact_accuracy: 0, count: 2}\n"
	"examples:\n"
	"  - input: examples/001.txt\n    expected: examples/001.out.txt\n"
	"  - input: examples/002.csv\n"
	"x-course: {unit: 1}\n";

static const char *const arch_kv[][2] = {
	{ "seq_len", "16" }, { "vocab_size", "6" }, { "hidden_size", "16" }, { "num_heads", "2" },
	{ "expansion", "4" }, { "L_layers", "1" }, { "H_cycles", "2" }, { "L_cycles", "2" },
	{ "puzzle_emb_ndim", "0" }, { "puzzle_emb_len", "0" }, { "halt_max_steps", "4" },
	{ "pos_encodings", "rope" }, { "num_puzzle_identifiers", "1" },
};

static void write_weights(const char *path, const char *hidden)
{
	trmx_config *c = NULL;
	trmx_error err = { 0 };
	assert_trmx_ok(trmx_config_new(&c, &err), err);
	for (size_t i = 0; i < sizeof arch_kv / sizeof *arch_kv; i++)
		assert_trmx_ok(trmx_config_set(c, arch_kv[i][0], !strcmp(arch_kv[i][0], "hidden_size") && hidden
							  ? hidden : arch_kv[i][1], &err), err);
	assert_trmx_ok(wg_write_trm(c, 7, path, &err), err);
	trmx_config_free(c);
}

static void put(const char *dir, const char *name, const char *text)
{
	char *p = tu_path(dir, name);
	assert_int_equal(tu_write_text(p, text), 0);
	free(p);
}

static void make_module(const char *mod)
{
	char *ex = tu_path(mod, "examples");
	assert_int_equal(mkdir(mod, 0755), 0);
	assert_int_equal(mkdir(ex, 0755), 0);
	put(mod, "manifest.yaml", manifest_text);
	put(mod, "README.md", "# gen-sudoku4\n\nGenerated weights.\n");
	put(mod, "schema.sql", "CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT);\n");
	put(mod, "examples/001.txt", "1 . 3 .\n. 4 . 2\n2 . 4 .\n. 3 . 1\n");
	put(mod, "examples/001.out.txt", "1 2 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 1\n");
	put(mod, "examples/002.csv", "..3434..2..34..1,1234341221434321\n");
	put(mod, ".hidden", "not packed\n");
	char *w = tu_path(mod, "weights.safetensors");
	write_weights(w, NULL);
	free(w);
	free(ex);
}

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof *fx);
	if (!fx || !(fx->dir = tu_tmpdir()))
		return -1;
	fx->mod = tu_path(fx->dir, "module");
	fx->home = tu_path(fx->dir, "home");
	fx->pkg = tu_path(fx->dir, "m.trmx");
	make_module(fx->mod);
	trmx_error err = { 0 };
	if (trmx_package_pack(fx->mod, fx->pkg, NULL, NULL, &err) < 0) {
		fprintf(stderr, "pack: %s\n", err.message);
		return -1;
	}
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	tu_rmtree(fx->dir);
	free(fx->dir);
	free(fx->mod);
	free(fx->home);
	free(fx->pkg);
	free(fx);
	return 0;
}

static trmx_package *open_ok(const char *path)
{
	trmx_package *p = NULL;
	trmx_error err = { 0 };
	assert_trmx_ok(trmx_package_open(&p, path, NULL, &err), err);
	return p;
}

/* Verify with contents; the problems are joined in `log` (may be NULL). */
static int verify(const char *path, const char *home, unsigned flags, trmx_error *err, char *log,
		  size_t cap);

struct collect {
	char *log;
	size_t cap, used;
};

static void collect(void *user, int code, const char *message)
{
	struct collect *c = user;
	if (c->log && c->used < c->cap)
		c->used += (size_t)snprintf(c->log + c->used, c->cap - c->used, "%s\n", message);
}

static int verify(const char *path, const char *home, unsigned flags, trmx_error *err, char *log,
		  size_t cap)
{
	trmx_package *p = NULL;
	int rc = trmx_package_open(&p, path, NULL, err);
	if (rc < 0)
		return rc;
	struct collect c = { log, cap, 0 };
	if (log)
		log[0] = '\0';
	trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
	vo.flags = flags;
	vo.home = home;
	vo.on_problem = collect;
	vo.user = &c;
	rc = trmx_package_verify(p, &vo, NULL, err);
	trmx_package_free(p);
	return rc;
}

/* ---- Round trips ------------------------------------------------------------------------- */

static void test_roundtrip(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	trmx_package *p = open_ok(fx->pkg);
	const trmx_manifest *m = trmx_package_manifest(p);
	assert_string_equal(trmx_manifest_name(m), "gen-sudoku4");
	assert_string_equal(trmx_manifest_version(m), "0.2.0");
	assert_int_equal(trmx_manifest_file_count(m), 6);
	/* manifest first, then sorted; weights stored, the rest deflated; hidden file left out */
	static const char *const order[] = { "manifest.yaml", "README.md", "examples/001.out.txt",
					     "examples/001.txt", "examples/002.csv", "schema.sql",
					     "weights.safetensors" };
	assert_int_equal(trmx_package_entry_count(p), 7);
	for (size_t i = 0; i < 7; i++) {
		const trmx_package_entry *e = trmx_package_entry_at(p, i);
		assert_string_equal(e->name, order[i]);
		assert_int_equal(e->deflated, strcmp(e->name, "weights.safetensors") != 0);
	}
	assert_null(trmx_manifest_file_find(m, ".hidden"));
	/* the author's text is kept, files: appended */
	size_t len;
	const char *text = trmx_manifest_text(m, &len);
	assert_memory_equal(text, manifest_text, strlen(manifest_text));
	assert_non_null(strstr(text + strlen(manifest_text), "files:\n  - path: \"README.md\"\n    size: "));
	const char *k, *y;
	trmx_manifest_extension_at(m, 0, &k, &y);
	assert_string_equal(k, "x-course");
	assert_string_equal(y, "{unit: 1}");

	/* verify, with the contents */
	trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
	trmx_verify_result res;
	vo.flags = TRMX_VERIFY_CONTENTS;
	assert_trmx_ok(trmx_package_verify(p, &vo, &res, &err), err);
	assert_int_equal(res.problems, 0);
	assert_int_equal(res.signature.status, TRMX_SIGNATURE_NONE);
	assert_true(res.num_params > 0);
	/* inspect's figures */
	trmx_weights_summary ws;
	assert_trmx_ok(trmx_package_weights_summary(p, &ws, &err), err);
	assert_int_equal(ws.params, res.num_params); /* == the engine's count (no puzzle table) */
	assert_int_equal(ws.buffer_elements, 32);    /* H_init + L_init */
	assert_string_equal(ws.dtypes, "F32");
	char d1[TRMX_SHA256_HEX_SIZE], d2[TRMX_SHA256_HEX_SIZE];
	assert_trmx_ok(trmx_package_digest(p, d1, &err), err);
	assert_trmx_ok(trmx_sha256_file(fx->pkg, d2, &err), err);
	assert_string_equal(d1, d2);
	assert_int_equal(trmx_package_file_size(p), (uint64_t)0 + trmx_package_file_size(p));

	/* extract into an empty folder: every member back, byte for byte */
	char *out = tu_path(fx->dir, "out");
	assert_int_equal(mkdir(out, 0755), 0);
	assert_trmx_ok(trmx_package_extract(p, out, &err), err);
	for (size_t i = 1; i < 7; i++) {
		char *a = tu_path(fx->mod, order[i]), *b = tu_path(out, order[i]);
		size_t la, lb;
		char *ta = tu_read_file(a, &la), *tb = tu_read_file(b, &lb);
		assert_non_null(ta);
		assert_non_null(tb);
		assert_int_equal(la, lb);
		assert_memory_equal(ta, tb, la);
		struct stat st;
		assert_int_equal(stat(b, &st), 0);
		assert_int_equal(st.st_mode & 0777, 0644);
		free(ta), free(tb), free(a), free(b);
	}
	/* the unpacked folder passes the content checks too */
	int64_t np = 0;
	assert_trmx_ok(trmx_package_check_contents(m, out, NULL, NULL, NULL, &np, &err), err);
	assert_int_equal(np, res.num_params);
	/* a second extraction into the same (now full) folder is refused, leaving it alone */
	tu_snapshot *before = tu_snapshot_take(out);
	assert_trmx_error(trmx_package_extract(p, out, &err), err, TRMX_EINVAL, "is not empty");
	assert_tree_unchanged(before, out);
	tu_snapshot_free(before);
	trmx_package_free(p);
	trmx_package_free(NULL);
	free(out);
}

/* The project's fixture module (tests/fixtures/module-sudoku4-tiny) round-trips too. */
static void test_fixture_module(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	char *written = NULL;
	char *outdir = tu_path(fx->dir, "fixture-out");
	assert_int_equal(mkdir(outdir, 0755), 0);
	const char *src = "tests/fixtures/module-sudoku4-tiny";
	if (access(src, F_OK) != 0)
		src = "../tests/fixtures/module-sudoku4-tiny";
	assert_trmx_ok(trmx_package_pack(src, outdir, NULL, &written, &err), err);
	assert_non_null(strstr(written, "/sudoku4-tiny-0.1.0.trmx"));
	char log[2048];
	assert_trmx_ok(verify(written, NULL, TRMX_VERIFY_CONTENTS, &err, log, sizeof log), err);
	trmx_package *p = open_ok(written);
	trmx_weights_summary ws;
	assert_trmx_ok(trmx_package_weights_summary(p, &ws, &err), err);
	assert_string_equal(ws.dtypes, "BF16,F32"); /* converted: H_init/L_init stay bfloat16 */
	assert_int_equal(ws.buffer_elements, 16 + 16 + 16);
	trmx_package_free(p);
	free(written);
	free(outdir);
}

/* Two packs of the same folder give the same bytes, also under another time zone. */
static void test_reproducible(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	char *a = tu_path(fx->dir, "a.trmx"), *b = tu_path(fx->dir, "b.trmx");
	char da[TRMX_SHA256_HEX_SIZE], db[TRMX_SHA256_HEX_SIZE], d0[TRMX_SHA256_HEX_SIZE];
	const char *tz = getenv("TZ");
	char *saved = tz ? strdup(tz) : NULL;
	setenv("TZ", "Pacific/Kiritimati", 1); /* UTC+14 */
	tzset();
	assert_trmx_ok(trmx_package_pack(fx->mod, a, NULL, NULL, &err), err);
	setenv("TZ", "America/Adak", 1); /* UTC-10 */
	tzset();
	/* touch a file: the mtime must not leak either */
	char *readme = tu_path(fx->mod, "README.md");
	struct timespec ts[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	assert_int_equal(utimensat(AT_FDCWD, readme, ts, 0), 0);
	assert_trmx_ok(trmx_package_pack(fx->mod, b, NULL, NULL, &err), err);
	if (saved)
		setenv("TZ", saved, 1);
	else
		unsetenv("TZ");
	tzset();
	assert_trmx_ok(trmx_sha256_file(a, da, &err), err);
	assert_trmx_ok(trmx_sha256_file(b, db, &err), err);
	assert_trmx_ok(trmx_sha256_file(fx->pkg, d0, &err), err);
	assert_string_equal(da, db);
	assert_string_equal(da, d0);
	free(saved);
	free(readme);
	free(a);
	free(b);
}

/* ---- Tampering --------------------------------------------------------------------------- */

/* Rewrite package `src` into `dst` with libarchive: `skip` left out, `change` (with its byte
 * `at` xor 0x01) altered, `add` added (a small text member), `manifest` replacing manifest.yaml's
 * bytes. Sizes stay those of the source. */
struct rezip {
	const char *skip, *change, *add;
	size_t at;
	const char *manifest;
};

static void rezip(const char *src, const char *dst, const struct rezip *r)
{
	struct archive *in = archive_read_new(), *out = archive_write_new();
	struct archive_entry *e;
	assert_int_equal(archive_read_support_format_zip(in), ARCHIVE_OK);
	assert_int_equal(archive_read_open_filename(in, src, 65536), ARCHIVE_OK);
	assert_int_equal(archive_write_set_format_zip(out), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(out, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(out, dst), ARCHIVE_OK);
	while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
		const char *name = archive_entry_pathname(e);
		size_t size = (size_t)archive_entry_size(e), got = 0;
		char *buf = malloc(size + 1);
		while (got < size) {
			la_ssize_t n = archive_read_data(in, buf + got, size - got);
			assert_true(n > 0);
			got += (size_t)n;
		}
		if (r->skip && !strcmp(name, r->skip)) {
			free(buf);
			continue;
		}
		if (r->change && !strcmp(name, r->change))
			buf[r->at % size] ^= 0x01;
		const char *data = buf;
		if (r->manifest && !strcmp(name, "manifest.yaml")) {
			data = r->manifest;
			size = strlen(r->manifest);
		}
		struct archive_entry *o = archive_entry_new();
		archive_entry_set_pathname(o, name);
		archive_entry_set_filetype(o, AE_IFREG);
		archive_entry_set_perm(o, 0644);
		archive_entry_set_size(o, (la_int64_t)size);
		if (!strcmp(name, "weights.safetensors"))
			archive_write_zip_set_compression_store(out);
		else
			archive_write_zip_set_compression_deflate(out);
		assert_int_equal(archive_write_header(out, o), ARCHIVE_OK);
		assert_int_equal(archive_write_data(out, data, size), (la_ssize_t)size);
		archive_entry_free(o);
		free(buf);
	}
	if (r->add) {
		struct archive_entry *o = archive_entry_new();
		archive_entry_set_pathname(o, r->add);
		archive_entry_set_filetype(o, AE_IFREG);
		archive_entry_set_perm(o, 0644);
		archive_entry_set_size(o, 5);
		assert_int_equal(archive_write_header(out, o), ARCHIVE_OK);
		assert_int_equal(archive_write_data(out, "extra", 5), 5);
		archive_entry_free(o);
	}
	archive_write_free(out);
	archive_read_free(in);
}

/* Flip one byte inside member `name`'s stored data in a copy of `src`. */
static void flip_in_archive(const char *src, const char *dst, const char *name)
{
	size_t len;
	unsigned char *z = tu_read_file(src, &len);
	assert_non_null(z);
	size_t nl = strlen(name);
	for (size_t i = 0; i + 30 + nl < len; i++) {
		if (memcmp(z + i, "PK\3\4", 4) || (size_t)(z[i + 26] | z[i + 27] << 8) != nl ||
		    memcmp(z + i + 30, name, nl))
			continue;
		size_t xl = (size_t)(z[i + 28] | z[i + 29] << 8), data = i + 30 + nl + xl;
		/* the compressed size is in the central directory (the writer uses descriptors) */
		for (size_t c = len - 22; c-- > 0;) {
			if (memcmp(z + c, "PK\1\2", 4) || (size_t)(z[c + 28] | z[c + 29] << 8) != nl ||
			    memcmp(z + c + 46, name, nl))
				continue;
			size_t csize = (size_t)z[c + 20] | (size_t)z[c + 21] << 8 | (size_t)z[c + 22] << 16 |
				       (size_t)z[c + 23] << 24;
			z[data + csize / 2] ^= 0x10;
			assert_int_equal(tu_write_file(dst, z, len), 0);
			free(z);
			return;
		}
	}
	fail_msg("member %s not found", name);
}

static void test_tamper_each_member(void **state)
{
	struct fx *fx = *state;
	static const char *const members[] = { "README.md", "examples/001.out.txt", "examples/001.txt",
					       "examples/002.csv", "schema.sql", "weights.safetensors" };
	char *bad = tu_path(fx->dir, "bad.trmx");
	char log[4096];
	trmx_error err = { 0 };
	for (size_t i = 0; i < sizeof members / sizeof *members; i++) {
		/* (a) a byte flipped in the archive, inside the member's data */
		flip_in_archive(fx->pkg, bad, members[i]);
		int rc = verify(bad, NULL, 0, &err, log, sizeof log);
		if (rc == 0)
			fail_msg("flipping a byte of %s went unnoticed", members[i]);
		if (!strstr(err.message, members[i]))
			fail_msg("the message does not name %s: %s", members[i], err.message);
		/* (b) the member's bytes changed, its zip record consistent: the SHA-256 says so */
		struct rezip r = { .change = members[i], .at = 3 };
		rezip(fx->pkg, bad, &r);
		rc = verify(bad, NULL, 0, &err, log, sizeof log);
		char want[256];
		snprintf(want, sizeof want, "member '%s': SHA-256 ", members[i]);
		assert_trmx_error(rc, err, TRMX_EINTEGRITY, want);
		assert_non_null(strstr(err.message, ", but the manifest lists "));
	}
	/* the manifest itself: a flipped byte fails the open */
	flip_in_archive(fx->pkg, bad, "manifest.yaml");
	trmx_package *p = NULL;
	assert_true(trmx_package_open(&p, bad, NULL, &err) < 0);
	assert_non_null(strstr(err.message, "manifest.yaml"));
	free(bad);
}

static void test_member_added_or_removed(void **state)
{
	struct fx *fx = *state;
	char *bad = tu_path(fx->dir, "bad.trmx");
	trmx_error err = { 0 };
	trmx_package *p = NULL;
	struct rezip add = { .add = "extra.txt" };
	rezip(fx->pkg, bad, &add);
	assert_trmx_error(trmx_package_open(&p, bad, NULL, &err), err, TRMX_EINTEGRITY,
			  "member 'extra.txt' is not listed in the manifest's files:");
	char msg_added[TRMX_ERROR_MESSAGE_MAX];
	snprintf(msg_added, sizeof msg_added, "%s", err.message);
	struct rezip rm = { .skip = "examples/002.csv" };
	rezip(fx->pkg, bad, &rm);
	assert_trmx_error(trmx_package_open(&p, bad, NULL, &err), err, TRMX_EINTEGRITY,
			  "'examples/002.csv' is listed in files: but missing from the archive");
	assert_string_not_equal(msg_added, err.message);
	/* both at once: both named */
	struct rezip both = { .skip = "schema.sql", .add = "zz.txt" };
	rezip(fx->pkg, bad, &both);
	assert_trmx_error(trmx_package_open(&p, bad, NULL, &err), err, TRMX_EINTEGRITY, "zz.txt");
	assert_non_null(strstr(err.message, "'schema.sql' is listed in files: but missing"));
	assert_null(p);
	free(bad);
}

/* ---- Signatures -------------------------------------------------------------------------- */

static void test_sign_trust_policy(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	char *key = tu_path(fx->dir, "alice"), *keyfile = tu_path(fx->dir, "alice.key");
	char *pub = tu_path(fx->dir, "alice.pub"), *signed_pkg = tu_path(fx->dir, "signed.trmx");
	char id[TRMX_KEY_ID_SIZE], id2[TRMX_KEY_ID_SIZE], log[2048];
	assert_trmx_ok(trmx_key_generate(key, "Alice <a@x.org>", id, &err), err);
	assert_int_equal(strlen(id), 16);
	struct stat st;
	assert_int_equal(stat(keyfile, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_trmx_error(trmx_key_generate(key, NULL, id2, &err), err, TRMX_EINVAL, "already exists");
	trmx_public_key pk;
	assert_trmx_ok(trmx_public_key_load(&pk, pub, &err), err);
	assert_string_equal(pk.key_id, id);
	assert_string_equal(pk.comment, "Alice <a@x.org>");
	assert_trmx_error(trmx_public_key_load(&pk, keyfile, &err), err, TRMX_EFORMAT, "line 4: expected 'public-key");

	/* sign: the package verifies, signed by an untrusted key */
	assert_trmx_ok(trmx_package_sign(fx->pkg, keyfile, signed_pkg, id2, &err), err);
	assert_string_equal(id, id2);
	trmx_package *p = open_ok(signed_pkg);
	assert_string_equal(trmx_package_entry_at(p, 1)->name, "manifest.sig");
	trmx_signature_info si;
	assert_trmx_ok(trmx_package_signature(p, fx->home, NULL, &si, &err), err);
	assert_int_equal(si.status, TRMX_SIGNATURE_UNTRUSTED);
	assert_string_equal(si.key_id, id);
	assert_trmx_ok(trmx_package_signature(p, NULL, pub, &si, &err), err);
	assert_int_equal(si.status, TRMX_SIGNATURE_TRUSTED);
	trmx_package_free(p);
	assert_trmx_ok(verify(signed_pkg, fx->home, TRMX_VERIFY_CONTENTS, &err, log, sizeof log), err);

	/* required signature: untrusted fails, unsigned fails, trusted passes */
	assert_trmx_error(verify(signed_pkg, fx->home, TRMX_VERIFY_REQUIRE_SIGNATURE, &err, NULL, 0), err,
			  TRMX_EINTEGRITY, "a trusted signature is required, and signed by key");
	trmx_policy pol = TRMX_POLICY_INIT;
	pol.require_signature = true;
	assert_trmx_ok(trmx_policy_save(fx->home, &pol, &err), err);
	assert_trmx_error(verify(fx->pkg, fx->home, 0, &err, NULL, 0), err, TRMX_EINTEGRITY,
			  "a trusted signature is required, and the package is not signed");
	assert_trmx_ok(trmx_trust_add(fx->home, pub, id2, &err), err);
	trmx_public_key *keys = NULL;
	size_t n = 0;
	assert_trmx_ok(trmx_trust_list(fx->home, &keys, &n, &err), err);
	assert_int_equal(n, 1);
	assert_string_equal(keys[0].key_id, id);
	free(keys);
	assert_trmx_ok(verify(signed_pkg, fx->home, 0, &err, NULL, 0), err);
	p = open_ok(signed_pkg);
	assert_trmx_ok(trmx_package_signature(p, fx->home, NULL, &si, &err), err);
	assert_int_equal(si.status, TRMX_SIGNATURE_TRUSTED);
	assert_string_equal(si.comment, "Alice <a@x.org>");

	/* the manifest edited after signing: invalid, whatever the policy */
	size_t mlen;
	const char *mt = trmx_manifest_text(trmx_package_manifest(p), &mlen);
	char *edited = strndup(mt, mlen);
	*strstr(edited, "version: 0.2.0") = '\0';
	char *e2 = malloc(mlen + 16);
	snprintf(e2, mlen + 16, "%sversion: 0.2.1%s", edited, strstr(mt, "version: 0.2.0") + 14);
	trmx_package_free(p);
	char *bad = tu_path(fx->dir, "edited.trmx");
	struct rezip r = { .manifest = e2 };
	rezip(signed_pkg, bad, &r);
	pol.require_signature = false;
	assert_trmx_ok(trmx_policy_save(fx->home, &pol, &err), err);
	assert_trmx_error(verify(bad, NULL, 0, &err, NULL, 0), err, TRMX_EINTEGRITY,
			  "manifest.sig: the signature by key");
	assert_non_null(strstr(err.message, "does not match manifest.yaml (the manifest was changed after signing"));
	/* re-signing repairs it; signing is deterministic */
	char *again = tu_path(fx->dir, "again.trmx");
	assert_trmx_ok(trmx_package_sign(signed_pkg, keyfile, again, NULL, &err), err);
	char d1[TRMX_SHA256_HEX_SIZE], d2[TRMX_SHA256_HEX_SIZE];
	assert_trmx_ok(trmx_sha256_file(signed_pkg, d1, &err), err);
	assert_trmx_ok(trmx_sha256_file(again, d2, &err), err);
	assert_string_equal(d1, d2);
	assert_trmx_ok(trmx_package_sign(bad, keyfile, NULL, NULL, &err), err); /* in place */
	assert_trmx_ok(verify(bad, fx->home, TRMX_VERIFY_REQUIRE_SIGNATURE, &err, NULL, 0), err);

	/* trust store: remove, unknown ids, junk files */
	assert_trmx_ok(trmx_trust_remove(fx->home, id, &err), err);
	assert_trmx_error(trmx_trust_remove(fx->home, id, &err), err, TRMX_ENOTFOUND, "not in the trust store");
	assert_trmx_error(trmx_trust_remove(fx->home, "../../etc/passwd", &err), err, TRMX_EINVAL, "is not a key id");
	char *junk = tu_path(fx->home, "trust/notakey.txt");
	assert_int_equal(tu_write_text(junk, "x"), 0);
	assert_trmx_error(trmx_trust_list(fx->home, &keys, &n, &err), err, TRMX_EFORMAT, "not a trust store entry");
	unlink(junk);
	char *polfile = tu_path(fx->home, "policy.yaml");
	assert_int_equal(tu_write_text(polfile, "require_signatures: true\n"), 0);
	assert_trmx_error(trmx_policy_load(fx->home, &pol, &err), err, TRMX_EFORMAT, "unknown key 'require_signatures'");
	unlink(polfile);
	char *home2 = NULL;
	assert_trmx_ok(trmx_home_resolve("/x/y", &home2, &err), err);
	assert_string_equal(home2, "/x/y");
	free(home2);
	free(polfile);
	free(junk);
	free(again);
	free(bad);
	free(e2);
	free(edited);
	free(key);
	free(keyfile);
	free(pub);
	free(signed_pkg);
}

/* A damaged signature file and a signature made for another manifest are invalid. */
static void test_bad_signatures(void **state)
{
	static const char *const sigs[] = {
		"format: trmx-signature-1\nalgorithm: ed25519\n",
		"format: trmx-signature-2\nalgorithm: ed25519\nkey-id: 0000000000000000\npublic-key: "
		"0000000000000000000000000000000000000000000000000000000000000000\nsignature: 00\n",
	};
	struct fx *fx = *state;
	char *bad = tu_path(fx->dir, "sig.trmx");
	for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
		/* put manifest.sig second by rebuilding: manifest, sig, the rest */
		struct archive *in = archive_read_new(), *out = archive_write_new();
		struct archive_entry *e;
		archive_read_support_format_zip(in);
		assert_int_equal(archive_read_open_filename(in, fx->pkg, 65536), ARCHIVE_OK);
		archive_write_set_format_zip(out);
		archive_write_set_bytes_in_last_block(out, 1);
		assert_int_equal(archive_write_open_filename(out, bad), ARCHIVE_OK);
		bool first = true;
		while (archive_read_next_header(in, &e) == ARCHIVE_OK) {
			size_t size = (size_t)archive_entry_size(e);
			char *buf = malloc(size + 1);
			assert_int_equal(archive_read_data(in, buf, size), (la_ssize_t)size);
			struct archive_entry *o = archive_entry_clone(e);
			archive_write_header(out, o);
			archive_write_data(out, buf, size);
			archive_entry_free(o);
			if (first) {
				o = archive_entry_new();
				archive_entry_set_pathname(o, "manifest.sig");
				archive_entry_set_filetype(o, AE_IFREG);
				archive_entry_set_perm(o, 0644);
				archive_entry_set_size(o, (la_int64_t)strlen(sigs[i]));
				archive_write_header(out, o);
				archive_write_data(out, sigs[i], strlen(sigs[i]));
				archive_entry_free(o);
				first = false;
			}
			free(buf);
		}
		archive_write_free(out);
		archive_read_free(in);
		trmx_error err = { 0 };
		assert_trmx_error(verify(bad, NULL, 0, &err, NULL, 0), err, TRMX_EINTEGRITY, "manifest.sig: malformed");
	}
	free(bad);
}

/* ---- Pack's refusals --------------------------------------------------------------------- */

static void expect_pack_error(struct fx *fx, int code, const char *substr)
{
	trmx_error err = { 0 };
	char *out = tu_path(fx->dir, "refused.trmx");
	char *written = (char *)fx;
	assert_trmx_error(trmx_package_pack(fx->mod, out, NULL, &written, &err), err, code, substr);
	assert_ptr_equal(written, fx);
	assert_int_equal(access(out, F_OK), -1); /* nothing written */
	free(out);
}

static void test_pack_refusals(void **state)
{
	struct fx *fx = *state;
	char *p = tu_path(fx->mod, "README.md"), *q = tu_path(fx->dir, "README.saved");
	char *link = tu_path(fx->mod, "examples/link.txt"), *m = tu_path(fx->mod, "manifest.yaml");
	char *w = tu_path(fx->mod, "weights.safetensors"), *ex = tu_path(fx->mod, "examples/001.out.txt");

	assert_int_equal(rename(p, q), 0);
	expect_pack_error(fx, TRMX_EFORMAT, "the required member README.md is missing");
	assert_int_equal(rename(q, p), 0);

	assert_int_equal(symlink("/etc/passwd", link), 0);
	expect_pack_error(fx, TRMX_EFORMAT, "examples/link.txt is a symbolic link; packages hold regular files only");
	unlink(link);

	/* weights of another architecture: the engine names the tensor */
	write_weights(w, "32");
	expect_pack_error(fx, TRMX_ESHAPE, "weights.safetensors against the architecture (engine trm)");
	write_weights(w, NULL);

	/* an expected answer that breaks the rules */
	assert_int_equal(tu_write_text(ex, "1 1 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 1\n"), 0);
	expect_pack_error(fx, TRMX_EFORMAT, "examples[0].expected (examples/001.out.txt): the expected answer fails the sudoku checker (conflict)");
	assert_int_equal(tu_write_text(ex, "1 2 3 4\n3 4 1 2\n2 1 4 3\n4 3 2 1\n"), 0);

	/* an example that does not parse */
	char *e1 = tu_path(fx->mod, "examples/001.txt");
	assert_int_equal(tu_write_text(e1, "1 x 3 .\n"), 0);
	expect_pack_error(fx, TRMX_EFORMAT, "examples[0].input (examples/001.txt): ");
	assert_int_equal(tu_write_text(e1, "1 . 3 .\n. 4 . 2\n2 . 4 .\n. 3 . 1\n"), 0);

	/* manifests: with files:, flow style at the top, a task that does not fit */
	size_t len;
	char *orig = tu_read_file(m, &len);
	char buf[8192];
	snprintf(buf, sizeof buf, "%sfiles: []\n", orig);
	assert_int_equal(tu_write_text(m, buf), 0);
	expect_pack_error(fx, TRMX_EFORMAT, "a module folder's manifest has no files:");
	assert_int_equal(tu_write_text(m, "{format_version: 1}"), 0);
	expect_pack_error(fx, TRMX_EFORMAT, "missing required key 'name'");
	snprintf(buf, sizeof buf, "%s", orig);
	memcpy(strstr(buf, "size: 4"), "size: 6", 7);
	assert_int_equal(tu_write_text(m, buf), 0);
	expect_pack_error(fx, TRMX_ESHAPE, "task: codec sudoku reads 36 tokens over 8 symbols; the architecture has seq_len 16 and vocab_size 6");
	assert_int_equal(tu_write_text(m, orig), 0);

	/* still packs after all that */
	trmx_error err = { 0 };
	char *out = tu_path(fx->dir, "ok.trmx");
	assert_trmx_ok(trmx_package_pack(fx->mod, out, NULL, NULL, &err), err);
	char d1[TRMX_SHA256_HEX_SIZE], d2[TRMX_SHA256_HEX_SIZE];
	assert_trmx_ok(trmx_sha256_file(out, d1, &err), err);
	assert_trmx_ok(trmx_sha256_file(fx->pkg, d2, &err), err);
	assert_string_equal(d1, d2);
	free(out);
	free(orig);
	free(e1);
	free(p), free(q), free(link), free(m), free(w), free(ex);
}

static void test_open_refusals(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	trmx_package *p = NULL;
	char *f = tu_path(fx->dir, "notzip.trmx");
	assert_trmx_error(trmx_package_open(&p, f, NULL, &err), err, TRMX_ENOTFOUND, "notzip.trmx");
	assert_int_equal(tu_write_text(f, "just some text that is not a zip archive at all\n"), 0);
	assert_trmx_error(trmx_package_open(&p, f, NULL, &err), err, TRMX_EFORMAT,
			  "no zip end-of-central-directory record in the last 22 bytes");
	/* a comment after the end record */
	size_t len;
	char *z = tu_read_file(fx->pkg, &len);
	char *zc = malloc(len + 4);
	memcpy(zc, z, len);
	zc[len - 2] = 4;
	memcpy(zc + len, "hey!", 4);
	assert_int_equal(tu_write_file(f, zc, len + 4), 0);
	assert_trmx_error(trmx_package_open(&p, f, NULL, &err), err, TRMX_EFORMAT, "no zip end-of-central-directory record");
	/* data prepended (a polyglot) */
	memcpy(zc, "XXXX", 4);
	memcpy(zc + 4, z, len);
	assert_int_equal(tu_write_file(f, zc, len + 4), 0);
	assert_trmx_error(trmx_package_open(&p, f, NULL, &err), err, TRMX_EFORMAT, "does not end where the end record begins");
	trmx_package_options po = TRMX_PACKAGE_OPTIONS_INIT;
	po.version = 99;
	assert_trmx_error(trmx_package_open(&p, fx->pkg, &po, &err), err, TRMX_EVERSION, "package options version 99: this trmx reads versions 1 to 1 (built against a newer trmx?)");
	/* lowered caps */
	po = (trmx_package_options)TRMX_PACKAGE_OPTIONS_INIT;
	po.max_entries = 3;
	assert_trmx_error(trmx_package_open(&p, fx->pkg, &po, &err), err, TRMX_ELIMIT, "7 members, more than TRMX_PACKAGE_ENTRIES_MAX (3)");
	po = (trmx_package_options)TRMX_PACKAGE_OPTIONS_INIT;
	po.max_unpacked = 1000;
	assert_trmx_error(trmx_package_open(&p, fx->pkg, &po, &err), err, TRMX_ELIMIT, "TRMX_PACKAGE_UNPACKED_MAX (1000 bytes); the largest, 'weights.safetensors'");
	assert_null(p);
	/* extract: a missing folder */
	p = open_ok(fx->pkg);
	char *nodir = tu_path(fx->dir, "no/such/dir");
	assert_trmx_error(trmx_package_extract(p, nodir, &err), err, TRMX_ENOTFOUND, "cannot open the destination folder");
	trmx_package_free(p);
	free(nodir);
	free(z);
	free(zc);
	free(f);
}

/* A member whose data is damaged mid-way: extraction fails and leaves the folder empty. */
static void test_extract_cleans_up(void **state)
{
	struct fx *fx = *state;
	trmx_error err = { 0 };
	char *bad = tu_path(fx->dir, "late.trmx"), *out = tu_path(fx->dir, "late-out");
	struct rezip r = { .change = "weights.safetensors", .at = 100 };
	rezip(fx->pkg, bad, &r);
	assert_int_equal(mkdir(out, 0755), 0);
	trmx_package *p = open_ok(bad);
	tu_snapshot *before = tu_snapshot_take(out);
	assert_trmx_error(trmx_package_extract(p, out, &err), err, TRMX_EINTEGRITY,
			  "member 'weights.safetensors': SHA-256");
	assert_tree_unchanged(before, out); /* README.md, examples/, schema.sql were removed again */
	tu_snapshot_free(before);
	trmx_package_free(p);
	free(bad);
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_roundtrip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fixture_module, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reproducible, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tamper_each_member, setup, teardown),
		cmocka_unit_test_setup_teardown(test_member_added_or_removed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sign_trust_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_signatures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pack_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_extract_cleans_up, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
