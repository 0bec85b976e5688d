/*
 * test_manifest.c — the manifest reader (packager/manifest.c): the specification is
 * complete (every field the reader knows is in docs/FORMAT.md's table and in
 * schemas/manifest.schema.json, and every documented field is accepted: the full example of
 * docs/FORMAT.md uses each one), the accessors, every refusal with its exact code and
 * source:line:column and key path, the hostile-YAML limits, SemVer, SPDX, version ranges and
 * member names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "helpers/testutil.h"
#include "trmx/trmx.h"

#define ZERO64 "0000000000000000000000000000000000000000000000000000000000000000"

/* A valid package manifest; tests replace one line at a time. */
static const char base[] =
	"format_version: 1\n"
	"name: sudoku4-tiny\n"
	"version: 0.1.0\n"
	"description: A tiny model.\n"
	"license: MIT\n"
	"authors:\n"
	"  - Ada <ada@example.org>\n"
	"engine:\n"
	"  name: trm\n"
	"  abi: \">=1 <2\"\n"
	"task:\n"
	"  codec: sudoku\n"
	"  params:\n"
	"    size: 4\n"
	"architecture:\n"
	"  seq_len: 16\n"
	"  vocab_size: 6\n"
	"  mlp_t: false\n"
	"examples:\n"
	"  - input: examples/1.txt\n"
	"files:\n"
	"  - path: examples/1.txt\n"
	"    size: 10\n"
	"    sha256: " ZERO64 "\n"
	"  - path: weights.safetensors\n"
	"    size: 100\n"
	"    sha256: " ZERO64 "\n";

/* `base` with the first line starting with `prefix` replaced by `line` (NULL: removed). */
static char *with_line(const char *prefix, const char *line)
{
	static char buf[8192];
	const char *p = base;
	while (p && strncmp(p, prefix, strlen(prefix))) {
		p = strchr(p, '\n');
		p = p ? p + 1 : NULL;
	}
	assert_non_null(p);
	const char *end = strchr(p + strlen(prefix) - 1, '\n') + 1; /* the prefix's last line */
	snprintf(buf, sizeof buf, "%.*s%s%s", (int)(p - base), base, line ? line : "", end);
	return buf;
}

static trmx_manifest *parse_ok(const char *text, trmx_manifest_mode mode)
{
	trmx_error err = { 0 };
	trmx_manifest *m = NULL;
	assert_trmx_ok(trmx_manifest_parse(&m, text, strlen(text), "t.yaml", mode, &err), err);
	assert_non_null(m);
	return m;
}

static void expect_error(const char *text, trmx_manifest_mode mode, int code, const char *substr)
{
	trmx_error err = { 0 };
	trmx_manifest *const sentinel = (trmx_manifest *)&err;
	trmx_manifest *m = sentinel;
	assert_trmx_error(trmx_manifest_parse(&m, text, strlen(text), "t.yaml", mode, &err), err, code,
			  substr);
	assert_ptr_equal(m, sentinel);
	if (!strstr(err.message, "t.yaml"))
		fail_msg("the message does not name the source: %s", err.message);
}

/* ---- The specification is complete ------------------------------------------------------- */

static char *read_doc(const char *rel)
{
	static const char *const roots[] = { "", "../", "../../" };
	for (size_t i = 0; i < 3; i++) {
		char path[512];
		size_t len;
		snprintf(path, sizeof path, "%s%s", roots[i], rel);
		char *t = tu_read_file(path, &len);
		if (t)
			return t;
	}
	fail_msg("cannot find %s (run the tests from the repository)", rel);
	return NULL;
}

static int find_field(const char *path)
{
	for (size_t i = 0; i < trmx_manifest_field_count(); i++)
		if (!strcmp(trmx_manifest_field_at(i)->path, path))
			return (int)i;
	return -1;
}

/* docs/FORMAT.md's field table, between <!-- manifest-fields --> and <!-- /manifest-fields -->:
 * rows "| `path` | type | yes/no | ... |". Every row is a reader field with the same type and
 * requiredness, and every reader field has a row. */
static void test_spec_table_matches_reader(void **state)
{
	char *doc = read_doc("docs/FORMAT.md");
	char *b = strstr(doc, "<!-- manifest-fields -->"), *e = strstr(doc, "<!-- /manifest-fields -->");
	assert_non_null(b);
	assert_non_null(e);
	*e = '\0';
	size_t n = trmx_manifest_field_count();
	bool *seen = calloc(n, sizeof *seen);
	size_t rows = 0;
	for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
		char path[256], type[64], req[16];
		if (sscanf(line, "| `%255[^`]` | %63[^|]| %15[^ |]", path, type, req) != 3)
			continue;
		for (size_t k = strlen(type); k > 0 && type[k - 1] == ' '; k--)
			type[k - 1] = '\0';
		int i = find_field(path);
		if (i < 0)
			fail_msg("docs/FORMAT.md documents '%s', which the reader does not accept", path);
		const trmx_manifest_field *f = trmx_manifest_field_at((size_t)i);
		if (strcmp(f->type, type))
			fail_msg("'%s': the docs say type '%s', the reader '%s'", path, type, f->type);
		if (f->required != !strcmp(req, "yes"))
			fail_msg("'%s': the docs say required '%s', the reader %s", path, req,
				 f->required ? "yes" : "no");
		if (seen[i])
			fail_msg("'%s' is documented twice", path);
		seen[i] = true;
		rows++;
	}
	for (size_t i = 0; i < n; i++)
		if (!seen[i])
			fail_msg("the reader accepts '%s', which docs/FORMAT.md does not document",
				 trmx_manifest_field_at(i)->path);
	assert_int_equal(rows, n);
	free(seen);
	free(doc);
}

/* Collect the field paths of a JSON Schema: properties -> ".name", patternProperties "^x-" ->
 * ".x-*", other patternProperties or additionalProperties objects -> ".*", items -> "[]". */
static void schema_paths(json_t *s, const char *prefix, char (*out)[256], size_t *n)
{
	json_t *props = json_object_get(s, "properties"), *pp = json_object_get(s, "patternProperties");
	json_t *ap = json_object_get(s, "additionalProperties"), *items = json_object_get(s, "items");
	const char *k;
	json_t *v;
	char p[256];
	json_object_foreach(props, k, v) {
		snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", k);
		snprintf(out[(*n)++], 256, "%s", p);
		schema_paths(v, p, out, n);
	}
	json_object_foreach(pp, k, v) {
		snprintf(p, sizeof p, "%s%s%s", prefix, *prefix ? "." : "", !strcmp(k, "^x-") ? "x-*" : "*");
		snprintf(out[(*n)++], 256, "%s", p);
		if (strcmp(k, "^x-"))
			schema_paths(v, p, out, n);
	}
	if (json_is_object(ap)) {
		snprintf(p, sizeof p, "%s%s*", prefix, *prefix ? "." : "");
		snprintf(out[(*n)++], 256, "%s", p);
		schema_paths(ap, p, out, n);
	}
	if (json_is_object(items)) {
		snprintf(p, sizeof p, "%s[]", prefix);
		snprintf(out[(*n)++], 256, "%s", p);
		schema_paths(items, p, out, n);
	}
}

static void test_json_schema_matches_reader(void **state)
{
	char *text = read_doc("schemas/manifest.schema.json");
	json_error_t je;
	json_t *s = json_loads(text, JSON_REJECT_DUPLICATES, &je);
	if (!s)
		fail_msg("schemas/manifest.schema.json:%d:%d: %s", je.line, je.column, je.text);
	static char paths[512][256];
	size_t n = 0;
	schema_paths(s, "", paths, &n);
	size_t nf = trmx_manifest_field_count();
	for (size_t i = 0; i < n; i++)
		if (find_field(paths[i]) < 0)
			fail_msg("the JSON schema has '%s', which the reader does not accept", paths[i]);
	for (size_t i = 0; i < nf; i++) {
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = !strcmp(paths[j], trmx_manifest_field_at(i)->path);
		if (!found)
			fail_msg("the reader accepts '%s', which the JSON schema lacks",
				 trmx_manifest_field_at(i)->path);
	}
	/* Required lists agree too. */
	for (size_t i = 0; i < nf; i++) {
		const trmx_manifest_field *f = trmx_manifest_field_at(i);
		if (strchr(f->path, '.') || strchr(f->path, '['))
			continue;
		bool req = false;
		json_t *r = json_object_get(s, "required"), *v;
		size_t k;
		json_array_foreach(r, k, v) req |= !strcmp(json_string_value(v), f->path);
		if (req != f->required)
			fail_msg("top-level '%s': required %d in the schema, %d in the reader", f->path, req,
				 f->required);
	}
	json_decref(s);
	free(text);
}

/* The full example of docs/FORMAT.md (the ```yaml block after <!-- manifest-example -->) parses
 * and holds every field of the specification. */
static void test_documented_example_uses_every_field(void **state)
{
	char *doc = read_doc("docs/FORMAT.md");
	char *b = strstr(doc, "<!-- manifest-example -->");
	assert_non_null(b);
	b = strstr(b, "```yaml\n");
	assert_non_null(b);
	b += 8;
	char *e = strstr(b, "\n```");
	assert_non_null(e);
	e[1] = '\0';
	trmx_manifest *m = parse_ok(b, TRMX_MANIFEST_PACKAGE);
	assert_true(trmx_manifest_halt_threshold(m) == 2.5);
	assert_int_equal(trmx_manifest_max_steps(m), 32);
	for (size_t i = 0; i < trmx_manifest_field_count(); i++) {
		const char *p = trmx_manifest_field_at(i)->path;
		char concrete[512] = "";
		size_t k = 0;
		if (strstr(p, "x-*")) {
			/* an extension there: its parent's path plus ".x-" */
			char want[256];
			snprintf(want, sizeof want, "%.*s", (int)(strstr(p, "x-*") - p), p);
			bool found = false;
			for (size_t j = 0; j < trmx_manifest_extension_count(m) && !found; j++) {
				const char *key;
				trmx_manifest_extension_at(m, j, &key, NULL);
				char pat[256];
				/* "metrics.*." and "examples[]." in the field, "metrics.test." and
				 * "examples[0]." in the key */
				snprintf(pat, sizeof pat, "%s", key);
				char *x = strrchr(pat, '.');
				*(x ? x + 1 : pat) = '\0';
				if (!strcmp(want, pat))
					found = true;
				else if (strstr(want, "*") || strstr(want, "[]")) {
					char *w = strdup(want), *q = pat;
					bool ok = true;
					for (char *s = w; *s && ok; s++) {
						if (*s == '*') {
							while (*q && *q != '.')
								q++;
						} else if (*s == '[' && s[1] == ']') {
							s++;
							if (*q++ != '[')
								ok = false;
							while (*q && *q != ']')
								q++;
							q++;
						} else if (*q++ != *s) {
							ok = false;
						}
					}
					found = ok && *q == '\0';
					free(w);
				}
			}
			if (!found)
				fail_msg("the documented example has no extension key at '%s'", p);
			continue;
		}
		for (const char *s = p; *s; s++) {
			if (*s == '[' && s[1] == ']') {
				k += (size_t)snprintf(concrete + k, sizeof concrete - k, "[0]");
				s++;
			} else if (*s == '*') {
				const char *name = NULL;
				if (!strncmp(p, "metrics", 7))
					name = trmx_manifest_metric_at(m, 0) ? trmx_manifest_metric_at(m, 0)->set : NULL;
				else
					trmx_config_at(trmx_manifest_task_params(m), 0, &name, NULL);
				if (!name)
					fail_msg("the documented example has no entry for '%s'", p);
				k += (size_t)snprintf(concrete + k, sizeof concrete - k, "%s", name);
			} else {
				concrete[k++] = *s;
				concrete[k] = '\0';
			}
		}
		if (trmx_manifest_lookup(m, concrete, NULL) != 0)
			fail_msg("the documented example does not use '%s' (looked up '%s')", p, concrete);
	}
	trmx_manifest_free(m);
	free(doc);
}

/* ---- Reading ----------------------------------------------------------------------------- */

static void test_accessors(void **state)
{
	const char *text =
		"# a comment\n"
		"format_version: 1\n"
		"name: maze-30\n"
		"version: 1.2.3-rc.1+build.7\n"
		"description: |\n  Two lines\n  of text.\n"
		"license: Apache-2.0 OR MIT\n"
		"authors: [Ada, \"Bob <b@x.org>\"]\n"
		"homepage: https://example.org/maze\n"
		"engine: {name: trm, abi: \">=1 <3\", x-note: hi}\n"
		"task:\n  codec: maze\n  params: {size: 30}\n"
		"architecture:\n  hidden_size: 512\n  expansion: 4\n  loss:\n    name: losses@ACTLossHead\n"
		"training:\n  dataset: maze-hard\n  dataset_sha256: " ZERO64 "\n  steps: 1000\n"
		"  seed: -5\n  hardware: 1x A100\n  duration: 3600.5\n"
		"metrics:\n  maze-test:\n    exact_accuracy: 0.853\n    token_accuracy: 0.99\n"
		"    mean_steps: 3.5\n    count: 1000\n    halt: adaptive\n    max_steps: 16\n"
		"  Maze.small_v2:\n    exact_accuracy: 1\n"
		"examples:\n  - {input: examples/a.txt, expected: examples/a.out}\n"
		"files:\n  - {path: examples/a.txt, size: 5, sha256: " ZERO64 "}\n"
		"  - {path: examples/a.out, size: 18446744, sha256: " ZERO64 "}\n"
		"x-course:\n  unit: 3\n  tags: [a, b]\n"
		"x-flag: yes\n";
	trmx_manifest *m = parse_ok(text, TRMX_MANIFEST_PACKAGE);
	assert_int_equal(trmx_manifest_format_version(m), 1);
	assert_string_equal(trmx_manifest_name(m), "maze-30");
	assert_string_equal(trmx_manifest_version(m), "1.2.3-rc.1+build.7");
	assert_string_equal(trmx_manifest_description(m), "Two lines\nof text.\n");
	assert_string_equal(trmx_manifest_license(m), "Apache-2.0 OR MIT");
	assert_int_equal(trmx_manifest_author_count(m), 2);
	assert_string_equal(trmx_manifest_author_at(m, 1), "Bob <b@x.org>");
	assert_null(trmx_manifest_author_at(m, 2));
	assert_string_equal(trmx_manifest_homepage(m), "https://example.org/maze");
	assert_string_equal(trmx_manifest_engine_name(m), "trm");
	assert_string_equal(trmx_manifest_engine_abi(m), ">=1 <3");
	assert_true(trmx_manifest_engine_accepts(m, 1));
	assert_true(trmx_manifest_engine_accepts(m, 2));
	assert_false(trmx_manifest_engine_accepts(m, 3));
	assert_false(trmx_manifest_engine_accepts(m, 0));
	assert_string_equal(trmx_manifest_task_codec(m), "maze");
	assert_string_equal(trmx_config_get(trmx_manifest_task_params(m), "size"), "30");
	const trmx_config *a = trmx_manifest_architecture(m);
	assert_int_equal(trmx_config_count(a), 3);
	assert_string_equal(trmx_config_get(a, "hidden_size"), "512");
	assert_string_equal(trmx_config_get(a, "loss.name"), "losses@ACTLossHead");
	const trmx_manifest_training *t = trmx_manifest_training_get(m);
	assert_non_null(t);
	assert_string_equal(t->dataset, "maze-hard");
	assert_string_equal(t->dataset_sha256, ZERO64);
	assert_int_equal(t->steps, 1000);
	assert_true(t->has_seed);
	assert_int_equal(t->seed, -5);
	assert_string_equal(t->hardware, "1x A100");
	assert_true(t->duration == 3600.5);
	assert_int_equal(trmx_manifest_metric_count(m), 2);
	const trmx_manifest_metric *x = trmx_manifest_metric_at(m, 0);
	assert_string_equal(x->set, "maze-test");
	assert_true(x->exact_accuracy == 0.853 && x->token_accuracy == 0.99 && x->mean_steps == 3.5);
	assert_int_equal(x->count, 1000);
	assert_string_equal(x->halt, "adaptive");
	assert_int_equal(x->max_steps, 16);
	x = trmx_manifest_metric_at(m, 1);
	assert_string_equal(x->set, "Maze.small_v2");
	assert_true(x->exact_accuracy == 1.0 && x->token_accuracy == -1 && x->mean_steps == -1);
	assert_int_equal(x->count, -1);
	assert_null(x->halt);
	assert_int_equal(trmx_manifest_example_count(m), 1);
	assert_string_equal(trmx_manifest_example_at(m, 0)->expected, "examples/a.out");
	assert_int_equal(trmx_manifest_file_count(m), 2);
	assert_int_equal(trmx_manifest_file_find(m, "examples/a.out")->size, 18446744);
	assert_null(trmx_manifest_file_find(m, "nope"));
	/* Extensions: where they are allowed, with their YAML as written. */
	assert_int_equal(trmx_manifest_extension_count(m), 3);
	const char *k, *y;
	trmx_manifest_extension_at(m, 0, &k, &y);
	assert_string_equal(k, "engine.x-note");
	assert_string_equal(y, "hi");
	trmx_manifest_extension_at(m, 1, &k, &y);
	assert_string_equal(k, "x-course");
	assert_string_equal(y, "  unit: 3\n  tags: [a, b]");
	trmx_manifest_extension_at(m, 2, &k, &y);
	assert_string_equal(k, "x-flag");
	assert_string_equal(y, "yes");
	/* Lookups. */
	const char *v;
	assert_int_equal(trmx_manifest_lookup(m, "files[1].size", &v), 0);
	assert_string_equal(v, "18446744");
	assert_int_equal(trmx_manifest_lookup(m, "metrics.maze-test.halt", &v), 0);
	assert_string_equal(v, "adaptive");
	assert_int_equal(trmx_manifest_lookup(m, "engine", &v), 0);
	assert_null(v);
	assert_int_equal(trmx_manifest_lookup(m, "files[2]", &v), TRMX_ENOTFOUND);
	assert_int_equal(trmx_manifest_lookup(m, "engine.nope", &v), TRMX_ENOTFOUND);
	size_t len;
	assert_memory_equal(trmx_manifest_text(m, &len), text, strlen(text));
	assert_int_equal(len, strlen(text));
	trmx_manifest_free(m);
	trmx_manifest_free(NULL);
}

static void test_source_mode(void **state)
{
	/* A module folder's manifest has no files:, and its examples need not be listed. */
	char *src = strdup(base);
	*strstr(src, "files:\n") = '\0';
	trmx_manifest *m = parse_ok(src, TRMX_MANIFEST_SOURCE);
	assert_int_equal(trmx_manifest_file_count(m), 0);
	assert_null(trmx_manifest_training_get(m));
	trmx_manifest_free(m);
	expect_error(base, TRMX_MANIFEST_SOURCE, TRMX_EFORMAT, "t.yaml:21:1: key 'files': a module folder's manifest has no files:");
	expect_error(src, TRMX_MANIFEST_PACKAGE, TRMX_EFORMAT, "t.yaml:1:1: missing required key 'files'");
	free(src);
}

static void test_load_file(void **state)
{
	char *dir = tu_tmpdir(), *path = tu_path(dir, "manifest.yaml");
	trmx_error err = { 0 };
	trmx_manifest *m = NULL;
	assert_int_equal(tu_write_text(path, base), 0);
	assert_trmx_ok(trmx_manifest_load(&m, path, TRMX_MANIFEST_PACKAGE, &err), err);
	assert_string_equal(trmx_manifest_name(m), "sudoku4-tiny");
	trmx_manifest_free(m);
	m = NULL;
	char *missing = tu_path(dir, "missing.yaml");
	assert_trmx_error(trmx_manifest_load(&m, missing, TRMX_MANIFEST_PACKAGE, &err), err, TRMX_ENOTFOUND,
			  "missing.yaml");
	assert_null(m);
	/* Over TRMX_MANIFEST_SIZE_MAX: refused on the file's size, before reading. */
	char *big = malloc(TRMX_MANIFEST_SIZE_MAX + 2);
	memset(big, '#', TRMX_MANIFEST_SIZE_MAX + 1);
	big[TRMX_MANIFEST_SIZE_MAX + 1] = '\0';
	assert_int_equal(tu_write_text(path, big), 0);
	assert_trmx_error(trmx_manifest_load(&m, path, TRMX_MANIFEST_PACKAGE, &err), err, TRMX_ELIMIT,
			  "TRMX_MANIFEST_SIZE_MAX");
	assert_trmx_error(trmx_manifest_parse(&m, big, strlen(big), "big", TRMX_MANIFEST_PACKAGE, &err), err,
			  TRMX_ELIMIT, "TRMX_MANIFEST_SIZE_MAX");
	free(big);
	free(missing);
	free(path);
	tu_rmtree(dir);
	free(dir);
}

/* ---- Refusals ---------------------------------------------------------------------------- */

struct bad {
	const char *prefix; /* line of `base` to replace */
	const char *line;   /* its replacement (NULL: remove) */
	int code;
	const char *substr;
};

static const struct bad bad_lines[] = {
	{ "format_version", "format_version: 2\n", TRMX_EVERSION,
	  "t.yaml:1:17: key 'format_version': format version 2; this reader knows 1" },
	{ "format_version", "format_version: one\n", TRMX_EFORMAT,
	  "t.yaml:1:17: key 'format_version': expected an integer" },
	{ "format_version", NULL, TRMX_EFORMAT, "t.yaml:1:1: missing required key 'format_version'" },
	{ "name:", "name: Sudoku\n", TRMX_EFORMAT, "t.yaml:2:7: key 'name': 'Sudoku' is not a package name" },
	{ "name:", "name: a--b\n", TRMX_EFORMAT, "is not a package name" },
	{ "name:", "name: -ab\n", TRMX_EFORMAT, "is not a package name" },
	{ "name:", "name: a_b\n", TRMX_EFORMAT, "is not a package name" },
	{ "name:", "name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", TRMX_ELIMIT,
	  "TRMX_MANIFEST_NAME_MAX" },
	{ "version:", "version: 1.0\n", TRMX_EFORMAT, "t.yaml:3:10: key 'version': '1.0' is not a SemVer 2.0 version" },
	{ "version:", "version: 01.0.0\n", TRMX_EFORMAT, "is not a SemVer" },
	{ "version:", "version: 1.0.0-01\n", TRMX_EFORMAT, "is not a SemVer" },
	{ "description:", "description: \"\"\n", TRMX_EFORMAT, "key 'description': an empty string" },
	{ "description:", "description: \"a\\0b\"\n", TRMX_EFORMAT, "a scalar holds a NUL byte" },
	{ "description:", "description: \"a\\x01b\"\n", TRMX_EFORMAT, "key 'description': a control character (0x01)" },
	{ "license:", "license: MIT OR\n", TRMX_EFORMAT, "key 'license': 'MIT OR' is not an SPDX license expression" },
	{ "license:", "license: (MIT\n", TRMX_EFORMAT, "is not an SPDX" },
	{ "license:", "license: MIT WITH\n", TRMX_EFORMAT, "is not an SPDX" },
	{ "authors:\n  - Ada", "authors: []\n", TRMX_EFORMAT, "key 'authors': an empty list" },
	{ "authors:\n  - Ada", "authors: Ada\n", TRMX_EFORMAT, "key 'authors': expected a list, found a scalar" },
	{ "  - Ada", "  - [Ada]\n", TRMX_EFORMAT, "t.yaml:7:5: key 'authors[0]': expected string, found a list" },
	{ "  abi:", "  abi: 1.x\n", TRMX_EFORMAT, "t.yaml:10:8: key 'engine.abi': '1.x' is not a version range" },
	{ "  abi:", "  abi: \">= 1\"\n", TRMX_EFORMAT, "is not a version range" },
	{ "  abi:", NULL, TRMX_EFORMAT, "t.yaml:9:3: key 'engine': missing required key 'abi'" },
	{ "  name: trm", "  name: TRM\n", TRMX_EFORMAT, "key 'engine.name': 'TRM' is not an identifier" },
	{ "  name: trm", "  name: tr.m\n", TRMX_EFORMAT, "key 'engine.name': 'tr.m' is not an identifier" },
	{ "  name: trm", "  nme: trm\n", TRMX_EFORMAT, "t.yaml:9:3: key 'engine.nme': unknown key" },
	{ "  codec:", "  codec: sudoku\n  flavour: hot\n", TRMX_EFORMAT, "key 'task.flavour': unknown key" },
	{ "    size: 4", "    size: [4]\n", TRMX_EFORMAT, "key 'task.params.size': expected a scalar, found a list" },
	{ "  seq_len:", "  seq_len: sixteen\n", TRMX_EFORMAT,
	  "t.yaml:16:12: key 'architecture.seq_len': expected an integer" },
	{ "  seq_len:", "  seq_len: -1\n", TRMX_EFORMAT, "key 'architecture.seq_len': -1 is outside" },
	{ "  mlp_t:", "  mlp_t: maybe\n", TRMX_EFORMAT, "key 'architecture.mlp_t': expected true or false" },
	{ "  mlp_t:", "  hidden: 3\n", TRMX_EFORMAT,
	  "key 'architecture.hidden': unknown key (only x-* extension keys may be added elsewhere; architecture holds the "
	  "official config keys" },
	{ "  mlp_t:", "  x-mine: 3\n", TRMX_EFORMAT, "key 'architecture.x-mine': unknown key" },
	{ "  - input:", "  - input: /etc/passwd\n", TRMX_EFORMAT,
	  "key 'examples[0].input': '/etc/passwd' is not a valid member path: an absolute path" },
	{ "  - input:", "  - input: a/../b\n", TRMX_EFORMAT, "a '..' component" },
	{ "  - input:", "  - input: examples/2.txt\n", TRMX_EFORMAT,
	  "key 'examples[0].input': 'examples/2.txt' is not listed in files:" },
	{ "  - input:", "  - expected: examples/1.txt\n", TRMX_EFORMAT, "key 'examples[0]': missing required key 'input'" },
	{ "    size: 10", "    size: 1e3\n", TRMX_EFORMAT, "key 'files[0].size': expected an integer" },
	{ "    size: 10", "    size: 99999999999999\n", TRMX_EFORMAT, "key 'files[0].size': 99999999999999 is outside" },
	{ "    sha256:", "    sha256: ABC\n", TRMX_EFORMAT, "key 'files[0].sha256': expected 64 lowercase hex digits" },
	{ "  - path: examples", "  - path: manifest.yaml\n", TRMX_EFORMAT, "'manifest.yaml' is not a listed member" },
	{ "  - path: weights", "  - path: examples/1.txt\n", TRMX_EFORMAT, "key 'files': 'examples/1.txt' is listed twice" },
	{ "  - path: examples", "  - path: a\\b\n", TRMX_EFORMAT, "a '\\' in the name" },
	{ "name:", "name: x\nname: y\n", TRMX_EFORMAT, "t.yaml:3:1: key 'name': duplicate key" },
	{ "name:", "name: x\nnickname: y\n", TRMX_EFORMAT,
	  "t.yaml:3:1: key 'nickname': unknown key (only x-* extension keys may be added; see docs/FORMAT.md)" },
	{ "name:", "name: x\nengine.name: y\n", TRMX_EFORMAT, "key 'engine.name': unknown key" },
	{ "name:", "name: x\nauthors[]: y\n", TRMX_EFORMAT, "key 'authors[]': unknown key" },
	{ "name:", "name: &n x\n", TRMX_EFORMAT, "t.yaml:2:7: YAML anchors (&n) are not allowed in a manifest" },
	{ "name:", "name: !!str x\n", TRMX_EFORMAT, "t.yaml:2:7: YAML tags (tag:yaml.org,2002:str) are not allowed" },
	{ "name:", "name: x\nhalting:\n  max_steps: 0\n", TRMX_EFORMAT, "key 'halting.max_steps': 0 is outside" },
	{ "name:", "name: x\nhalting:\n  max_steps: 1025\n", TRMX_EFORMAT, "key 'halting.max_steps': 1025 is outside" },
	{ "name:", "name: x\nhalting:\n  max_steps: 2.5\n", TRMX_EFORMAT, "key 'halting.max_steps': expected an integer" },
	{ "description:", "description: *d\n", TRMX_EFORMAT,
	  "t.yaml:4:14: YAML aliases (*d) are not allowed in a manifest" },
};

static void test_bad_lines(void **state)
{
	for (size_t i = 0; i < sizeof bad_lines / sizeof *bad_lines; i++) {
		const struct bad *b = &bad_lines[i];
		expect_error(with_line(b->prefix, b->line), TRMX_MANIFEST_PACKAGE, b->code, b->substr);
	}
}

struct bad_doc {
	const char *text;
	int code;
	const char *substr;
};

static void test_bad_documents(void **state)
{
	static const struct bad_doc docs[] = {
		{ "", TRMX_EFORMAT, "t.yaml: empty manifest" },
		{ "# only a comment\n", TRMX_EFORMAT, "empty manifest" },
		{ "- a\n- b\n", TRMX_EFORMAT, "t.yaml:1:1: the top level is not a mapping" },
		{ "a: 1\n---\nb: 2\n", TRMX_EFORMAT, "t.yaml:2:1: more than one YAML document" },
		{ "a: [1\n", TRMX_EFORMAT, "malformed YAML" },
		{ "? [a]\n: 1\n", TRMX_EFORMAT, "a mapping key is not a scalar" },
		{ "a: \xff\n", TRMX_EFORMAT, "t.yaml: not valid UTF-8" },
		{ "a: b\0c\n", TRMX_EFORMAT, "a NUL byte" },
		{ "homepage: ftp://x\n", TRMX_EFORMAT, "key 'homepage': 'ftp://x' is not an http:// or https:// URL" },
		{ "homepage: https://a b\n", TRMX_EFORMAT, "is not an http:// or https:// URL" },
		{ "metrics:\n  t:\n    token_accuracy: 1\n", TRMX_EFORMAT, "t.yaml:3:5: key 'metrics.t': missing required key 'exact_accuracy'" },
		{ "metrics:\n  t:\n    exact_accuracy: 1.5\n", TRMX_EFORMAT, "key 'metrics.t.exact_accuracy': 1.5 is outside [0, 1]" },
		{ "metrics:\n  t:\n    exact_accuracy: nan\n", TRMX_EFORMAT, "expected a number" },
		{ "metrics:\n  t:\n    exact_accuracy: 1\n    halt: sometimes\n", TRMX_EFORMAT, "key 'metrics.t.halt': expected 'fixed' or 'adaptive'" },
		{ "metrics:\n  \"a b\":\n    exact_accuracy: 1\n", TRMX_EFORMAT, "key 'metrics.a b': 'a b' is not a set name" },
		{ "metrics:\n  a/b:\n    exact_accuracy: 1\n", TRMX_EFORMAT, "key 'metrics.a/b': 'a/b' is not a set name" },
		{ "training:\n  steps: 3\n", TRMX_EFORMAT, "key 'training': missing required key 'dataset'" },
		{ "training:\n  dataset: d\n  dataset_sha256: abc\n", TRMX_EFORMAT, "key 'training.dataset_sha256'" },
		{ "x-a: 1\nx-a: 2\n", TRMX_EFORMAT, "key 'x-a': duplicate key" },
	};
	for (size_t i = 0; i < sizeof docs / sizeof *docs; i++) {
		trmx_error err = { 0 };
		trmx_manifest *m = NULL;
		size_t len = strlen(docs[i].text);
		if (strstr(docs[i].substr, "NUL byte"))
			len = 7;
		assert_trmx_error(trmx_manifest_parse(&m, docs[i].text, len, "t.yaml", TRMX_MANIFEST_SOURCE, &err),
				  err, docs[i].code, docs[i].substr);
		assert_null(m);
	}
}

/* ---- Hostile YAML ------------------------------------------------------------------------ */

static void test_depth_limit(void **state)
{
	/* Deep flow nesting (libyaml's scanner is quadratic in it): a megabyte of '[' is refused
	 * quickly, at depth TRMX_MANIFEST_DEPTH_MAX + 1; the same inside an x-* value. */
	size_t n = TRMX_MANIFEST_SIZE_MAX - 16;
	char *t = malloc(n + 16);
	memcpy(t, "x-a: ", 5);
	memset(t + 5, '[', n);
	t[5 + n] = '\0';
	clock_t c0 = clock();
	expect_error(t, TRMX_MANIFEST_SOURCE, TRMX_ELIMIT, "t.yaml:1:21: collections nested deeper than TRMX_MANIFEST_DEPTH_MAX (16)");
	double secs = (double)(clock() - c0) / CLOCKS_PER_SEC;
	if (secs > 2.0)
		fail_msg("a megabyte of '[' took %.2f s", secs);
	/* Exactly at the limit is fine (the top level counts as 1). */
	char ok[256];
	int k = snprintf(ok, sizeof ok, "%s", "x-a: ");
	for (int i = 0; i < TRMX_MANIFEST_DEPTH_MAX - 1; i++)
		ok[k++] = '[';
	for (int i = 0; i < TRMX_MANIFEST_DEPTH_MAX - 1; i++)
		ok[k++] = ']';
	ok[k] = '\0';
	char *src = malloc(strlen(base) + 256);
	snprintf(src, strlen(base) + 256, "%.*s%s\n", (int)(strstr(base, "files:") - base), base, ok);
	trmx_manifest_free(parse_ok(src, TRMX_MANIFEST_SOURCE));
	/* Block nesting too. */
	char deep[4096];
	k = 0;
	for (int i = 0; i < 20; i++)
		k += snprintf(deep + k, sizeof deep - (size_t)k, "%*sx-%d:\n", 2 * i, "", i);
	expect_error(deep, TRMX_MANIFEST_SOURCE, TRMX_ELIMIT, "TRMX_MANIFEST_DEPTH_MAX");
	free(src);
	free(t);
}

static void test_node_and_scalar_limits(void **state)
{
	/* TRMX_MANIFEST_NODES_MAX: a flow list of many short items. */
	size_t n = (size_t)TRMX_MANIFEST_NODES_MAX + 10;
	char *t = malloc(8 + 2 * n + 8);
	size_t k = (size_t)sprintf(t, "x-a: [");
	for (size_t i = 0; i < n; i++) {
		t[k++] = '1';
		t[k++] = ',';
	}
	t[k++] = ']';
	t[k] = '\0';
	expect_error(t, TRMX_MANIFEST_SOURCE, TRMX_ELIMIT, "more than TRMX_MANIFEST_NODES_MAX (65536) YAML nodes");
	free(t);
	/* TRMX_MANIFEST_SCALAR_MAX */
	t = malloc(TRMX_MANIFEST_SCALAR_MAX + 64);
	k = (size_t)sprintf(t, "x-a: ");
	memset(t + k, 'a', TRMX_MANIFEST_SCALAR_MAX + 1);
	t[k + TRMX_MANIFEST_SCALAR_MAX + 1] = '\0';
	expect_error(t, TRMX_MANIFEST_SOURCE, TRMX_ELIMIT, "TRMX_MANIFEST_SCALAR_MAX");
	free(t);
	/* Description and list limits. */
	char *d = malloc(TRMX_MANIFEST_DESCRIPTION_MAX + 64);
	k = (size_t)sprintf(d, "description: ");
	memset(d + k, 'a', TRMX_MANIFEST_DESCRIPTION_MAX + 1);
	strcpy(d + k + TRMX_MANIFEST_DESCRIPTION_MAX + 1, "\n");
	expect_error(with_line("description:", d), TRMX_MANIFEST_PACKAGE, TRMX_ELIMIT,
		     "key 'description': 4097 bytes, more than the limit of 4096");
	free(d);
	char authors[4096];
	k = (size_t)sprintf(authors, "authors: [");
	for (int i = 0; i <= TRMX_MANIFEST_AUTHORS_MAX; i++)
		k += (size_t)sprintf(authors + k, "a%d,", i);
	strcpy(authors + k, "]\n");
	char aa[4200];
	snprintf(aa, sizeof aa, "x-b: 1\n%s", authors);
	expect_error(aa, TRMX_MANIFEST_SOURCE, TRMX_ELIMIT, "key 'authors': 65 items, more than the limit of 64");
}

/* ---- Syntaxes ---------------------------------------------------------------------------- */

static void test_semver(void **state)
{
	static const char *const good[] = { "0.0.0", "1.2.3", "10.20.30", "1.0.0-alpha", "1.0.0-alpha.1",
					    "1.0.0-0.3.7", "1.0.0-x.7.z.92", "1.0.0+20130313144700",
					    "1.0.0-beta+exp.sha.5114f85", "1.0.0+21AF26D3----117B344092BD" };
	static const char *const bad[] = { "", "1", "1.2", "1.2.3.4", "01.2.3", "1.02.3", "1.2.03",
					   "1.2.3-", "1.2.3+", "1.2.3-01", "1.2.3-a..b", "1.2.3-a_b",
					   "v1.2.3", " 1.2.3", "1.2.3 ", "1.2.3-+", "-1.2.3" };
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		if (!trmx_semver_valid(good[i]))
			fail_msg("'%s' should be valid", good[i]);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		if (trmx_semver_valid(bad[i]))
			fail_msg("'%s' should be invalid", bad[i]);
	/* The SemVer 2.0 precedence example, in order. */
	static const char *const order[] = { "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta",
					     "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1",
					     "1.0.0", "1.0.1", "1.1.0", "2.0.0", "10.0.0" };
	size_t n = sizeof order / sizeof *order;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < n; j++) {
			int c = trmx_semver_compare(order[i], order[j]);
			int want = i < j ? -1 : i > j ? 1 : 0;
			if ((c > 0) - (c < 0) != want)
				fail_msg("compare(%s, %s) = %d, want %d", order[i], order[j], c, want);
		}
	assert_int_equal(trmx_semver_compare("1.0.0+a", "1.0.0+b"), 0);
	assert_true(trmx_semver_compare("junk", "0.0.0") < 0);
	assert_int_equal(trmx_semver_compare("99999999999999999999.0.0", "99999999999999999999.0.0"), 0);
	assert_true(trmx_semver_compare("99999999999999999999.0.0", "9999999999999999999.0.0") > 0);
}

static void test_license_and_ranges(void **state)
{
	static const char *const good[] = { "MIT", "Apache-2.0", "GPL-2.0+", "GPL-2.0-or-later",
					    "MIT OR Apache-2.0", "(MIT OR Apache-2.0) AND BSD-3-Clause",
					    "GPL-2.0-only WITH Classpath-exception-2.0", "LicenseRef-mine",
					    "DocumentRef-x:LicenseRef-y", "NOASSERTION" };
	static const char *const bad[] = { "MIT OR", "AND", "(MIT", "MIT)", "MIT WITH", "a:b",
					   "MIT  OR", "MIT / GPL", "" };
	char line[256];
	for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
		snprintf(line, sizeof line, "license: \"%s\"\n", good[i]);
		trmx_manifest_free(parse_ok(with_line("license:", line), TRMX_MANIFEST_PACKAGE));
	}
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		snprintf(line, sizeof line, "license: \"%s\"\n", bad[i]);
		expect_error(with_line("license:", line), TRMX_MANIFEST_PACKAGE, TRMX_EFORMAT,
			     "is not an SPDX");
	}
	struct { const char *r; unsigned v; bool ok; } ranges[] = {
		{ ">=1 <2", 1, true }, { ">=1 <2", 2, false }, { "1", 1, true }, { "=1", 2, false },
		{ ">1", 1, false }, { ">1", 2, true }, { "<=3", 3, true }, { " >=2  <=4 ", 3, true },
	};
	for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++) {
		snprintf(line, sizeof line, "  abi: \"%s\"\n", ranges[i].r);
		trmx_manifest *m = parse_ok(with_line("  abi:", line), TRMX_MANIFEST_PACKAGE);
		if (trmx_manifest_engine_accepts(m, ranges[i].v) != ranges[i].ok)
			fail_msg("range '%s' on %u: want %d", ranges[i].r, ranges[i].v, ranges[i].ok);
		trmx_manifest_free(m);
	}
}

static void test_member_names(void **state)
{
	static const char *const good[] = { "a", "weights.safetensors", "examples/001.txt", "a/b/c/d/e/f/g/h",
					    "caf\xc3\xa9.txt", "..a", "a..", ".hidden" };
	struct { const char *n; int code; const char *why; } bad[] = {
		{ "/abs", TRMX_EFORMAT, "an absolute path" },
		{ "a/../b", TRMX_EFORMAT, "a '..' component" },
		{ "..", TRMX_EFORMAT, "a '..' component" },
		{ "./a", TRMX_EFORMAT, "a '.' component" },
		{ "a//b", TRMX_EFORMAT, "an empty path component" },
		{ "a/", TRMX_EFORMAT, "a name ending in '/'" },
		{ "a\\b", TRMX_EFORMAT, "a '\\' in the name" },
		{ "c:x", TRMX_EFORMAT, "a ':' in the name" },
		{ "a\x01", TRMX_EFORMAT, "a control character" },
		{ "a\x7f", TRMX_EFORMAT, "a control character" },
		{ "a\xc2\x85", TRMX_EFORMAT, "a control character" },
		{ "bad\xff", TRMX_EFORMAT, "not valid UTF-8" },
		{ "\xc0\xaf", TRMX_EFORMAT, "not valid UTF-8" },
		{ "a/b/c/d/e/f/g/h/i", TRMX_ELIMIT, "TRMX_PACKAGE_DEPTH_MAX" },
	};
	trmx_error err;
	for (size_t i = 0; i < sizeof good / sizeof *good; i++)
		assert_trmx_ok(trmx_package_name_check(good[i], strlen(good[i]), &err), err);
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		assert_trmx_error(trmx_package_name_check(bad[i].n, strlen(bad[i].n), &err), err, bad[i].code,
				  bad[i].why);
	char longname[TRMX_PACKAGE_PATH_MAX + 2];
	memset(longname, 'a', sizeof longname - 1);
	longname[sizeof longname - 1] = '\0';
	assert_trmx_error(trmx_package_name_check(longname, strlen(longname), &err), err, TRMX_ELIMIT,
			  "TRMX_PACKAGE_PATH_MAX");
	assert_trmx_error(trmx_package_name_check("a\0b", 3, &err), err, TRMX_EFORMAT, "a control character");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_table_matches_reader),
		cmocka_unit_test(test_json_schema_matches_reader),
		cmocka_unit_test(test_documented_example_uses_every_field),
		cmocka_unit_test(test_accessors),
		cmocka_unit_test(test_source_mode),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_bad_lines),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_node_and_scalar_limits),
		cmocka_unit_test(test_semver),
		cmocka_unit_test(test_license_and_ranges),
		cmocka_unit_test(test_member_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
