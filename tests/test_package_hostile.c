/*
 * test_package_hostile.c — one hostile archive for each class a package reader must refuse
 * (docs/SECURITY.md), built here with libarchive and a few byte patches of its output, fed to
 * trmx_package_open / verify / extract. For each, the test asserts the exact error code and the
 * message, that nothing changed on disk outside the case's own folder (its destination stays
 * empty, a canary folder beside it untouched, no absolute path created), and that the process's
 * peak resident memory grew by less than CASE_RSS_MAX.
 *
 * Memory: before the cases run, main() caps the address space (setrlimit(RLIMIT_AS), what
 * `ulimit -v` does) at the current size plus AS_HEADROOM, so a reader that allocated from a
 * hostile number would fail with TRMX_ENOMEM instead of the expected code. AddressSanitizer
 * reserves terabytes of address space, so under it the cap is left off and only the resident
 * memory check runs.
 */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "helpers/testutil.h"
#include "trmx/trmx.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define AS_HEADROOM ((rlim_t)384 << 20) /* address space above the start, for every case */
#define CASE_RSS_MAX ((long)48 << 20)  /* resident memory one case may add */
#define BOMB_BYTES ((size_t)64 << 20)  /* what the zip bombs inflate to */

static char *root;     /* the test's temporary folder */
static char abs_target[256];

/* ---- Building archives ------------------------------------------------------------------- */

enum kind { M_FILE, M_SYMLINK, M_ZEROS };

struct member {
	const char *name;
	const char *data;   /* M_FILE: bytes (len); M_SYMLINK: the target */
	size_t len;         /* M_ZEROS: how many zero bytes */
	enum kind kind;
	bool store;
};

static void write_zip(const char *path, const struct member *m, size_t n)
{
	struct archive *a = archive_write_new();
	assert_int_equal(archive_write_set_format_zip(a), ARCHIVE_OK);
	assert_int_equal(archive_write_set_bytes_in_last_block(a, 1), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *e = archive_entry_new();
		archive_entry_set_pathname(e, m[i].name);
		archive_entry_set_perm(e, 0644);
		if (m[i].kind == M_SYMLINK) {
			archive_entry_set_filetype(e, AE_IFLNK);
			archive_entry_set_symlink(e, m[i].data);
		} else {
			archive_entry_set_filetype(e, AE_IFREG);
			archive_entry_set_size(e, (la_int64_t)m[i].len);
		}
		if (m[i].store)
			archive_write_zip_set_compression_store(a);
		else
			archive_write_zip_set_compression_deflate(a);
		assert_int_equal(archive_write_header(a, e), ARCHIVE_OK);
		if (m[i].kind == M_FILE && m[i].len)
			assert_int_equal(archive_write_data(a, m[i].data, m[i].len), (la_ssize_t)m[i].len);
		if (m[i].kind == M_ZEROS) {
			static char zeros[1 << 20];
			for (size_t left = m[i].len; left > 0;) {
				size_t k = left < sizeof zeros ? left : sizeof zeros;
				assert_int_equal(archive_write_data(a, zeros, k), (la_ssize_t)k);
				left -= k;
			}
		}
		archive_entry_free(e);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* Offset of the central-directory record of `name` in the zip bytes. */
static size_t cd_record(const unsigned char *z, size_t len, const char *name)
{
	size_t nl = strlen(name);
	for (size_t i = len - 22; i-- > 0;)
		if (!memcmp(z + i, "PK\1\2", 4) && (size_t)(z[i + 28] | z[i + 29] << 8) == nl &&
		    !memcmp(z + i + 46, name, nl))
			return i;
	fail_msg("no central directory record for %s", name);
	return 0;
}

static void put32(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v, p[1] = (unsigned char)(v >> 8), p[2] = (unsigned char)(v >> 16),
	p[3] = (unsigned char)(v >> 24);
}

/* Patch 4 bytes at `field` of `name`'s central-directory record. */
static void patch_cd(const char *path, const char *name, size_t field, uint32_t value)
{
	size_t len;
	unsigned char *z = tu_read_file(path, &len);
	assert_non_null(z);
	put32(z + cd_record(z, len, name) + field, value);
	assert_int_equal(tu_write_file(path, z, len), 0);
	free(z);
}

#define CD_USIZE 24
#define CD_ATTRS 38
#define CD_OFFSET 42

/* A tiny valid safetensors file: an empty header. */
static const char empty_st[16] = { 8, 0, 0, 0, 0, 0, 0, 0, '{', '}', ' ', ' ', ' ', ' ', ' ', ' ' };

/* A package manifest listing `m` (their real sizes and digests, or `size_override` for the
 * member named `override`). */
static char *manifest_for(const struct member *m, size_t n, const char *override, size_t size_override,
			  const char *extra)
{
	size_t cap = 4096 + n * 200;
	char *t = malloc(cap);
	size_t k = (size_t)snprintf(t, cap,
				    "format_version: 1\nname: hostile\nversion: 1.0.0\ndescription: d\n"
				    "license: MIT\nauthors: [x]\nengine: {name: trm, abi: \">=1\"}\n"
				    "task: {codec: sudoku, params: {size: 4}}\narchitecture: {seq_len: 16}\n%s"
				    "files:\n", extra ? extra : "");
	for (size_t i = 0; i < n; i++) {
		char hex[TRMX_SHA256_HEX_SIZE];
		size_t size = m[i].len;
		if (m[i].kind == M_FILE)
			trmx_sha256_hex(m[i].data, m[i].len, hex);
		else
			memset(hex, 'a', 64), hex[64] = '\0';
		if (override && !strcmp(m[i].name, override))
			size = size_override;
		k += (size_t)snprintf(t + k, cap - k, "  - {path: \"%s\", size: %zu, sha256: %s}\n", m[i].name,
				      size, hex);
	}
	return t;
}

/* manifest.yaml first, then README.md, schema.sql, weights.safetensors, then `extra`. */
static void write_package(const char *path, const struct member *extra, size_t nextra,
			  const char *override, size_t size_override, const char *manifest_extra,
			  const char *manifest_text)
{
	struct member m[16] = {
		{ "manifest.yaml", NULL, 0, M_FILE, false },
		{ "README.md", "# r\n", 4, M_FILE, false },
		{ "schema.sql", "-- s\n", 5, M_FILE, false },
		{ "weights.safetensors", empty_st, sizeof empty_st, M_FILE, true },
	};
	size_t n = 4;
	for (size_t i = 0; i < nextra; i++)
		m[n++] = extra[i];
	char *mt = manifest_text ? strdup(manifest_text)
				 : manifest_for(m + 1, n - 1, override, size_override, manifest_extra);
	m[0].data = mt;
	m[0].len = strlen(mt);
	write_zip(path, m, n);
	free(mt);
}

/* ---- The cases --------------------------------------------------------------------------- */

static void b_entries(const char *path)
{
	size_t n = TRMX_PACKAGE_ENTRIES_MAX + 1;
	struct member *m = calloc(n, sizeof *m);
	char (*names)[16] = calloc(n, 16);
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], 16, "f/%05zu", i);
		m[i] = (struct member){ i ? names[i] : "manifest.yaml", "", 0, M_FILE, true };
	}
	write_zip(path, m, n);
	free(names);
	free(m);
}

static void b_total(const char *path)
{
	/* two members declaring 3.75 GiB each: over TRMX_PACKAGE_UNPACKED_MAX before any check of
	 * their ratio, and before any data is read */
	struct member m[2] = { { "examples/a.txt", "aaaa", 4, M_FILE, false },
			       { "examples/b.txt", "bbbb", 4, M_FILE, false } };
	write_package(path, m, 2, NULL, 0, NULL, NULL);
	patch_cd(path, "examples/a.txt", CD_USIZE, 0xF0000000u);
	patch_cd(path, "examples/b.txt", CD_USIZE, 0xF0000000u);
}

static void b_bomb(const char *path)
{
	/* 64 MiB of zeros deflate to ~64 KB: honestly declared, refused on its ratio */
	struct member m[1] = { { "examples/bomb.txt", NULL, BOMB_BYTES, M_ZEROS, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_lying_bomb(const char *path)
{
	/* the same bomb declaring 1000 bytes (central directory and manifest agree): it must be cut
	 * while streaming, one block past the declared size */
	struct member m[1] = { { "examples/bomb.txt", NULL, BOMB_BYTES, M_ZEROS, false } };
	write_package(path, m, 1, "examples/bomb.txt", 1000, NULL, NULL);
	patch_cd(path, "examples/bomb.txt", CD_USIZE, 1000);
	/* and the local header, where the writer put the sizes too */
	size_t len, nl = strlen("examples/bomb.txt");
	unsigned char *z = tu_read_file(path, &len);
	for (size_t i = 0; i + 30 + nl < len; i++)
		if (!memcmp(z + i, "PK\3\4", 4) && !memcmp(z + i + 30, "examples/bomb.txt", nl)) {
			if (z[i + 22] | z[i + 23] | z[i + 24] | z[i + 25])
				put32(z + i + 22, 1000);
			break;
		}
	assert_int_equal(tu_write_file(path, z, len), 0);
	free(z);
}

static void b_path_length(const char *path)
{
	char name[TRMX_PACKAGE_PATH_MAX + 16];
	memset(name, 'n', sizeof name - 1);
	name[sizeof name - 1] = '\0';
	struct member m[1] = { { name, "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_path_depth(const char *path)
{
	struct member m[1] = { { "a/b/c/d/e/f/g/h/i.txt", "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_manifest_size(const char *path)
{
	/* incompressible text, so that the ratio cap does not fire first */
	size_t n = TRMX_MANIFEST_SIZE_MAX + 1;
	char *t = malloc(n + 1);
	uint64_t s = 88172645463325252ull;
	memcpy(t, "x-pad: ", 7);
	for (size_t i = 7; i < n; i++) {
		s ^= s << 13, s ^= s >> 7, s ^= s << 17;
		t[i] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"[s % 62];
	}
	t[n] = '\0';
	write_package(path, NULL, 0, NULL, 0, NULL, t);
	free(t);
}

static void b_yaml_depth(const char *path)
{
	char extra[512];
	size_t k = 0;
	for (int i = 0; i < 20; i++)
		k += (size_t)snprintf(extra + k, sizeof extra - k, "%*sx-%d:\n", 2 * i, "", i);
	snprintf(extra + k, sizeof extra - k, "%*s v\n", 40, "");
	write_package(path, NULL, 0, NULL, 0, extra, NULL);
}

static void b_yaml_alias(const char *path)
{
	write_package(path, NULL, 0, NULL, 0, "x-a: [1, *big, *big]\n", NULL);
}

static void b_yaml_anchor(const char *path)
{
	write_package(path, NULL, 0, NULL, 0, "x-a: &anchor 1\n", NULL);
}

static void b_safetensors_header(const char *path)
{
	/* weights.safetensors declaring a 1 TiB header, listed correctly in files: */
	static char st[64] = { 0, 0, 0, 0, 0, 1, 0, 0, '{', '}' };
	struct member m[1] = { { "weights.safetensors", st, sizeof st, M_FILE, true } };
	/* replace the standard weights: build by hand */
	struct member all[4] = {
		{ "manifest.yaml", NULL, 0, M_FILE, false },
		{ "README.md", "# r\n", 4, M_FILE, false },
		{ "schema.sql", "-- s\n", 5, M_FILE, false },
		m[0],
	};
	char *mt = manifest_for(all + 1, 3, NULL, 0, NULL);
	all[0].data = mt;
	all[0].len = strlen(mt);
	write_zip(path, all, 4);
	free(mt);
}

static void b_absolute(const char *path)
{
	struct member m[1] = { { abs_target, "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_dotdot(const char *path)
{
	struct member m[1] = { { "../outside/evil.txt", "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_symlink(const char *path)
{
	struct member m[1] = { { "examples/evil", "../../outside", 0, M_SYMLINK, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_hardlink(const char *path)
{
	/* zip's hard link: a second name for the same data (two records, one local header) */
	struct member m[2] = { { "examples/a.txt", "aaaa", 4, M_FILE, false },
			       { "examples/b.txt", "aaaa", 4, M_FILE, false } };
	write_package(path, m, 2, NULL, 0, NULL, NULL);
	size_t len;
	unsigned char *z = tu_read_file(path, &len);
	size_t a = cd_record(z, len, "examples/a.txt"), b = cd_record(z, len, "examples/b.txt");
	memcpy(z + b + CD_OFFSET, z + a + CD_OFFSET, 4);
	assert_int_equal(tu_write_file(path, z, len), 0);
	free(z);
}

static void b_device(const char *path)
{
	struct member m[1] = { { "examples/dev", "", 0, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
	patch_cd(path, "examples/dev", CD_ATTRS, (uint32_t)(S_IFCHR | 0644) << 16);
}

static void b_fifo(const char *path)
{
	struct member m[1] = { { "examples/fifo", "", 0, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
	patch_cd(path, "examples/fifo", CD_ATTRS, (uint32_t)(S_IFIFO | 0644) << 16);
}

static void b_duplicate(const char *path)
{
	struct member m[1] = { { "README.md", "# again\n", 8, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_case_duplicate(const char *path)
{
	struct member m[1] = { { "readme.md", "# again\n", 8, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_not_utf8(const char *path)
{
	struct member m[1] = { { "examples/bad\xff\xfe.txt", "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_control(const char *path)
{
	struct member m[1] = { { "examples/bad\x1b[2J.txt", "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_unlisted(const char *path)
{
	struct member m[1] = { { "examples/extra.txt", "x", 1, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
	/* rebuild with a manifest that does not list it */
	struct member base4[3] = { { "README.md", "# r\n", 4, M_FILE, false },
				   { "schema.sql", "-- s\n", 5, M_FILE, false },
				   { "weights.safetensors", empty_st, sizeof empty_st, M_FILE, true } };
	char *mt = manifest_for(base4, 3, NULL, 0, NULL);
	write_package(path, m, 1, NULL, 0, NULL, mt);
	free(mt);
}

static void b_missing(const char *path)
{
	struct member listed[4] = { { "README.md", "# r\n", 4, M_FILE, false },
				    { "schema.sql", "-- s\n", 5, M_FILE, false },
				    { "weights.safetensors", empty_st, sizeof empty_st, M_FILE, true },
				    { "examples/gone.txt", "x", 1, M_FILE, false } };
	char *mt = manifest_for(listed, 4, NULL, 0, NULL);
	write_package(path, NULL, 0, NULL, 0, NULL, mt);
	free(mt);
}

static void b_folder(const char *path)
{
	struct member m[1] = { { "examples/", "", 0, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
}

static void b_encrypted(const char *path)
{
	struct member m[1] = { { "examples/a.txt", "aaaa", 4, M_FILE, false } };
	write_package(path, m, 1, NULL, 0, NULL, NULL);
	size_t len;
	unsigned char *z = tu_read_file(path, &len);
	z[cd_record(z, len, "examples/a.txt") + 8] |= 1;
	assert_int_equal(tu_write_file(path, z, len), 0);
	free(z);
}

struct hcase {
	const char *class;
	void (*build)(const char *path);
	int open_code;            /* trmx_package_open; 0: it opens */
	const char *open_msg;
	int verify_code;          /* when it opens: trmx_package_verify with the content checks */
	const char *verify_msg;
	int extract_code;         /* when it opens: trmx_package_extract (0: not tried) */
};

static const struct hcase cases[] = {
	{ "archive entries", b_entries, TRMX_ELIMIT, "4097 members, more than TRMX_PACKAGE_ENTRIES_MAX (4096)", 0, NULL, 0 },
	{ "total unpacked size", b_total, TRMX_ELIMIT, "members unpack to more than TRMX_PACKAGE_UNPACKED_MAX (4294967296 bytes)", 0, NULL, 0 },
	{ "compression ratio", b_bomb, TRMX_ELIMIT, "member 'examples/bomb.txt' expands", 0, NULL, 0 },
	{ "compression ratio (lying sizes)", b_lying_bomb, 0, NULL, TRMX_EINTEGRITY,
	  "member 'examples/bomb.txt': more data than the 1000 bytes it declares", TRMX_EINTEGRITY },
	{ "path length", b_path_length, TRMX_ELIMIT, "more than TRMX_PACKAGE_PATH_MAX (255)", 0, NULL, 0 },
	{ "path depth", b_path_depth, TRMX_ELIMIT, "more than TRMX_PACKAGE_DEPTH_MAX (8) components", 0, NULL, 0 },
	{ "manifest size", b_manifest_size, TRMX_ELIMIT, "member 'manifest.yaml': 1048577 bytes, more than TRMX_MANIFEST_SIZE_MAX", 0, NULL, 0 },
	{ "YAML nesting depth", b_yaml_depth, TRMX_ELIMIT, "collections nested deeper than TRMX_MANIFEST_DEPTH_MAX (16)", 0, NULL, 0 },
	{ "YAML aliases", b_yaml_alias, TRMX_EFORMAT, ":manifest.yaml:10:10: YAML aliases (*big) are not allowed in a manifest", 0, NULL, 0 },
	{ "YAML anchors", b_yaml_anchor, TRMX_EFORMAT, ":manifest.yaml:10:6: YAML anchors (&anchor) are not allowed", 0, NULL, 0 },
	{ "safetensors header size", b_safetensors_header, 0, NULL, TRMX_ELIMIT,
	  "TRMX_SAFETENSORS_HEADER_MAX", 0 },
	{ "absolute path", b_absolute, TRMX_EFORMAT, "an absolute path", 0, NULL, 0 },
	{ "'..'", b_dotdot, TRMX_EFORMAT, "member 4 '../outside/evil.txt': a '..' component", 0, NULL, 0 },
	{ "symbolic link", b_symlink, TRMX_EFORMAT, "member 'examples/evil' is a symbolic link", 0, NULL, 0 },
	{ "hard link (shared data)", b_hardlink, TRMX_EFORMAT, "members 'examples/a.txt' and 'examples/b.txt' share their data (a hard link)", 0, NULL, 0 },
	{ "device file", b_device, TRMX_EFORMAT, "member 'examples/dev' is a character device", 0, NULL, 0 },
	{ "FIFO", b_fifo, TRMX_EFORMAT, "member 'examples/fifo' is a FIFO", 0, NULL, 0 },
	{ "duplicate names", b_duplicate, TRMX_EFORMAT, "duplicate member 'README.md'", 0, NULL, 0 },
	{ "names equal but for case", b_case_duplicate, TRMX_EFORMAT, "differ only in case", 0, NULL, 0 },
	{ "name not UTF-8", b_not_utf8, TRMX_EFORMAT, "member 4: the name is not valid UTF-8", 0, NULL, 0 },
	{ "name with a control character", b_control, TRMX_EFORMAT, "member 4: the name holds a control character", 0, NULL, 0 },
	{ "entry not listed in files:", b_unlisted, TRMX_EINTEGRITY, "member 'examples/extra.txt' is not listed in the manifest's files:", 0, NULL, 0 },
	{ "listed file missing", b_missing, TRMX_EINTEGRITY, "'examples/gone.txt' is listed in files: but missing from the archive", 0, NULL, 0 },
	{ "folder entry", b_folder, TRMX_EFORMAT, "a name ending in '/' (a folder)", 0, NULL, 0 },
	{ "encrypted member", b_encrypted, TRMX_EFORMAT, "member 'examples/a.txt': encrypted members are not allowed", 0, NULL, 0 },
};

/* ---- Running them ------------------------------------------------------------------------ */

static long status_kb(const char *key)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long v = -1;
	size_t kl = strlen(key);
	while (f && fgets(line, sizeof line, f))
		if (!strncmp(line, key, kl) && line[kl] == ':')
			v = atol(line + kl + 1);
	if (f)
		fclose(f);
	return v;
}

/* Reset the peak resident size (Linux >= 4.0), so VmHWM is this case's peak. */
static void reset_peak(void)
{
	FILE *f = fopen("/proc/self/clear_refs", "w");
	if (f) {
		fputs("5", f);
		fclose(f);
	}
}

static void run_case(const struct hcase *c, size_t idx)
{
	char name[32];
	snprintf(name, sizeof name, "case%02zu", idx);
	char *work = tu_path(root, name);
	char *pkg = tu_path(work, "p.trmx"), *dest = tu_path(work, "dest"), *out = tu_path(work, "outside");
	char *canary = tu_path(out, "canary.txt"), *tmp = tu_path(work, "tmp");
	assert_int_equal(mkdir(work, 0755), 0);
	assert_int_equal(mkdir(dest, 0755), 0);
	assert_int_equal(mkdir(out, 0755), 0);
	assert_int_equal(mkdir(tmp, 0755), 0);
	assert_int_equal(tu_write_text(canary, "do not touch\n"), 0);
	c->build(pkg);
	tu_snapshot *before = tu_snapshot_take(root);
	assert_non_null(before);

	reset_peak();
	long rss0 = status_kb("VmRSS");
	trmx_error err = { 0 };
	trmx_package *p = NULL;
	int rc = trmx_package_open(&p, pkg, NULL, &err);
	if (c->open_code) {
		if (rc != c->open_code || !strstr(err.message, c->open_msg))
			fail_msg("%s: open: expected %d with \"%s\", got %d: \"%s\"", c->class, c->open_code,
				 c->open_msg, rc, err.message);
		assert_null(p);
	} else {
		if (rc != 0)
			fail_msg("%s: open should succeed: %s", c->class, err.message);
		trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
		vo.flags = TRMX_VERIFY_CONTENTS;
		vo.tmpdir = tmp;
		rc = trmx_package_verify(p, &vo, NULL, &err);
		if (rc != c->verify_code || !strstr(err.message, c->verify_msg))
			fail_msg("%s: verify: expected %d with \"%s\", got %d: \"%s\"", c->class, c->verify_code,
				 c->verify_msg, rc, err.message);
		if (c->extract_code) {
			rc = trmx_package_extract(p, dest, &err);
			if (rc != c->extract_code)
				fail_msg("%s: extract: expected %d, got %d: \"%s\"", c->class, c->extract_code, rc,
					 err.message);
		}
		trmx_weights_summary ws;
		rc = trmx_package_weights_summary(p, &ws, &err);
		if (c->build == b_safetensors_header)
			assert_trmx_error(rc, err, TRMX_ELIMIT, "TRMX_SAFETENSORS_HEADER_MAX");
		trmx_package_free(p);
	}
	long grew = (status_kb("VmHWM") - rss0) * 1024;
	print_message("  %-34s code %3d  peak RSS +%6.1f MiB  %s\n", c->class,
		      c->open_code ? c->open_code : c->verify_code, (double)grew / (1 << 20),
		      c->open_code ? "refused at open" : "refused while streaming");
	if (grew > CASE_RSS_MAX)
		fail_msg("%s: resident memory grew by %ld bytes", c->class, grew);
	/* nothing written anywhere: the destination is empty again, the canary untouched */
	assert_tree_unchanged(before, root);
	tu_snapshot_free(before);
	if (access(abs_target, F_OK) == 0)
		fail_msg("%s: %s was created", c->class, abs_target);
	free(work), free(pkg), free(dest), free(out), free(canary), free(tmp);
}

static void test_hostile_archives(void **state)
{
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
		run_case(&cases[i], i);
}

/* Every class of docs/SECURITY.md's table has a case here (the table is the checklist). */
static void test_classes_documented(void **state)
{
	static const char *const roots[] = { "docs/SECURITY.md", "../docs/SECURITY.md" };
	char *doc = NULL;
	size_t len;
	for (size_t i = 0; i < 2 && !doc; i++)
		doc = tu_read_file(roots[i], &len);
	assert_non_null(doc);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		char row[128];
		snprintf(row, sizeof row, "| %s |", cases[i].class);
		if (!strstr(doc, row))
			fail_msg("docs/SECURITY.md has no row for '%s'", cases[i].class);
	}
	free(doc);
}

int main(void)
{
	if (!(root = tu_tmpdir()))
		return 1;
	snprintf(abs_target, sizeof abs_target, "/tmp/trmx-hostile-%d-absolute.txt", (int)getpid());
	if (!UNDER_ASAN) {
		/* what `ulimit -v` does: the address space now plus the headroom */
		struct rlimit rl;
		rlim_t now = (rlim_t)status_kb("VmSize") * 1024;
		rl.rlim_cur = rl.rlim_max = now + AS_HEADROOM;
		if (setrlimit(RLIMIT_AS, &rl) != 0)
			fprintf(stderr, "setrlimit: %s\n", strerror(errno));
		else
			printf("address space capped at %.0f MiB (RLIMIT_AS)\n", (double)rl.rlim_cur / (1 << 20));
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostile_archives),
		cmocka_unit_test(test_classes_documented),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	tu_rmtree(root);
	free(root);
	return rc;
}
