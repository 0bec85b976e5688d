/*
 * cmd_inspect.c — `trmx inspect PKG [--json]`: what a course creator wants to know before
 * installing a package. Reads the central directory, the manifest, the signature and the
 * weights' header only; `trmx verify` checks the rest.
 */
#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "trmx/engine.h"

static void help(void)
{
	printf("usage: trmx inspect PKG [--json] [--home DIR]\n"
	       "\n"
	       "Show a package: name, version, description, license, authors, engine and ABI range,\n"
	       "task codec, architecture, parameter count, size, digest, signature status (against\n"
	       "the trust store), training provenance, metrics, examples and files. Nothing is\n"
	       "unpacked; `trmx verify` checks digests, weights and examples.\n"
	       "\n"
	       "Options:\n"
	       "      --json       one JSON object instead of text\n"
	       "      --home DIR   trust store for the signature status (default: $TRMX_HOME, else\n"
	       "                   ~/.local/share/trmx)\n"
	       "  -h, --help       this help\n");
}

/* "key=value, ..." of a config. */
static void config_line(const trmx_config *c, char *buf, size_t cap)
{
	size_t used = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < trmx_config_count(c) && used < cap; i++) {
		const char *k, *v;
		trmx_config_at(c, i, &k, &v);
		used += (size_t)snprintf(buf + used, cap - used, "%s%s=%s", i ? ", " : "", k, v);
	}
}

static json_t *config_json(const trmx_config *c)
{
	json_t *o = json_object();
	for (size_t i = 0; i < trmx_config_count(c); i++) {
		const char *k, *v;
		trmx_config_at(c, i, &k, &v);
		json_object_set_new(o, k, json_string(v));
	}
	return o;
}

static json_t *opt_num(double v)
{
	return v < 0 ? json_null() : json_real(v);
}

static json_t *opt_str(const char *s)
{
	return s ? json_string(s) : json_null();
}

static int print_json(const trmx_package *p, const trmx_signature_info *sig, const char *digest,
		      const trmx_weights_summary *ws, bool have_ws)
{
	const trmx_manifest *m = trmx_package_manifest(p);
	json_t *o = json_object(), *a;
	json_object_set_new(o, "path", json_string(trmx_package_path(p)));
	json_object_set_new(o, "name", json_string(trmx_manifest_name(m)));
	json_object_set_new(o, "version", json_string(trmx_manifest_version(m)));
	json_object_set_new(o, "format_version", json_integer(trmx_manifest_format_version(m)));
	json_object_set_new(o, "description", json_string(trmx_manifest_description(m)));
	json_object_set_new(o, "license", json_string(trmx_manifest_license(m)));
	a = json_array();
	for (size_t i = 0; i < trmx_manifest_author_count(m); i++)
		json_array_append_new(a, json_string(trmx_manifest_author_at(m, i)));
	json_object_set_new(o, "authors", a);
	json_object_set_new(o, "homepage", opt_str(trmx_manifest_homepage(m)));
	json_object_set_new(o, "engine", json_pack("{s:s, s:s, s:i, s:b}", "name", trmx_manifest_engine_name(m),
						   "abi", trmx_manifest_engine_abi(m), "host_abi",
						   TRMX_ENGINE_ABI_VERSION, "accepted",
						   trmx_manifest_engine_accepts(m, TRMX_ENGINE_ABI_VERSION)));
	json_object_set_new(o, "task", json_pack("{s:s, s:o}", "codec", trmx_manifest_task_codec(m),
						 "params", config_json(trmx_manifest_task_params(m))));
	json_object_set_new(o, "architecture", config_json(trmx_manifest_architecture(m)));
	if (have_ws)
		json_object_set_new(o, "weights", json_pack("{s:I, s:I, s:I, s:I, s:s}", "tensors", (json_int_t)ws->tensors,
							    "parameters", (json_int_t)ws->params, "buffer_elements",
							    (json_int_t)ws->buffer_elements, "bytes",
							    (json_int_t)ws->bytes, "dtypes", ws->dtypes));
	json_object_set_new(o, "size", json_pack("{s:I, s:I, s:I}", "packed", (json_int_t)trmx_package_file_size(p),
						 "unpacked", (json_int_t)trmx_package_unpacked_size(p), "members",
						 (json_int_t)trmx_package_entry_count(p)));
	json_object_set_new(o, "sha256", json_string(digest));
	json_object_set_new(o, "signature", json_pack("{s:s, s:o, s:o, s:o}", "status",
						      trmx_signature_status_name(sig->status), "key_id",
						      sig->key_id[0] ? json_string(sig->key_id) : json_null(),
						      "comment", sig->comment[0] ? json_string(sig->comment) : json_null(),
						      "message", sig->message[0] ? json_string(sig->message) : json_null()));
	const trmx_manifest_training *t = trmx_manifest_training_get(m);
	if (t)
		json_object_set_new(o, "training", json_pack("{s:s, s:o, s:o, s:o, s:o, s:o}", "dataset", t->dataset,
							     "dataset_sha256", opt_str(t->dataset_sha256), "steps",
							     t->steps < 0 ? json_null() : json_integer(t->steps), "seed",
							     t->has_seed ? json_integer(t->seed) : json_null(),
							     "hardware", opt_str(t->hardware), "duration",
							     opt_num(t->duration)));
	else
		json_object_set_new(o, "training", json_null());
	int cap = trmx_manifest_max_steps(m);
	json_object_set_new(o, "halting",
			    json_pack("{s:f, s:o}", "threshold", trmx_manifest_halt_threshold(m), "max_steps",
				      cap ? json_integer(cap) : json_null()));
	json_t *mt = json_object();
	for (size_t i = 0; i < trmx_manifest_metric_count(m); i++) {
		const trmx_manifest_metric *x = trmx_manifest_metric_at(m, i);
		json_object_set_new(mt, x->set, json_pack("{s:f, s:o, s:o, s:o, s:o, s:o}", "exact_accuracy",
							  x->exact_accuracy, "token_accuracy", opt_num(x->token_accuracy),
							  "mean_steps", opt_num(x->mean_steps), "count",
							  x->count < 0 ? json_null() : json_integer(x->count), "halt",
							  opt_str(x->halt), "max_steps",
							  x->max_steps < 0 ? json_null() : json_integer(x->max_steps)));
	}
	json_object_set_new(o, "metrics", mt);
	a = json_array();
	for (size_t i = 0; i < trmx_manifest_example_count(m); i++) {
		const trmx_manifest_example *e = trmx_manifest_example_at(m, i);
		json_array_append_new(a, json_pack("{s:s, s:o}", "input", e->input, "expected", opt_str(e->expected)));
	}
	json_object_set_new(o, "examples", a);
	a = json_array();
	for (size_t i = 0; i < trmx_package_entry_count(p); i++) {
		const trmx_package_entry *e = trmx_package_entry_at(p, i);
		const trmx_manifest_file *f = trmx_manifest_file_find(m, e->name);
		json_array_append_new(a, json_pack("{s:s, s:I, s:I, s:s, s:o}", "path", e->name, "size", (json_int_t)e->size,
						   "compressed_size", (json_int_t)e->compressed_size, "method",
						   e->deflated ? "deflate" : "store", "sha256",
						   f ? json_string(f->sha256) : json_null()));
	}
	json_object_set_new(o, "files", a);
	a = json_object();
	for (size_t i = 0; i < trmx_manifest_extension_count(m); i++) {
		const char *k, *y;
		trmx_manifest_extension_at(m, i, &k, &y);
		json_object_set_new(a, k, json_string(y));
	}
	json_object_set_new(o, "extensions", a);
	int rc = json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 ? CLI_OK : CLI_FAIL;
	printf("\n");
	json_decref(o);
	return rc;
}

/* 1234567 -> "1,234,567" */
static const char *grouped(long long v, char *buf, size_t cap)
{
	char raw[32];
	int n = snprintf(raw, sizeof raw, "%lld", v < 0 ? -v : v), k = 0;
	size_t o = 0;
	if (v < 0 && o + 1 < cap)
		buf[o++] = '-';
	for (int i = 0; i < n && o + 2 < cap; i++) {
		buf[o++] = raw[i];
		k = n - i - 1;
		if (k && k % 3 == 0)
			buf[o++] = ',';
	}
	buf[o] = '\0';
	return buf;
}

static void print_text(const trmx_package *p, const trmx_signature_info *sig, const char *digest,
		       const trmx_weights_summary *ws, bool have_ws, const char *ws_error)
{
	const trmx_manifest *m = trmx_package_manifest(p);
	char line[2048], g1[32], g2[32], g3[32];
	printf("%s %s\n", trmx_manifest_name(m), trmx_manifest_version(m));
	printf("  description   %s\n", trmx_manifest_description(m));
	printf("  license       %s\n", trmx_manifest_license(m));
	printf("  authors       ");
	for (size_t i = 0; i < trmx_manifest_author_count(m); i++)
		printf("%s%s", i ? "; " : "", trmx_manifest_author_at(m, i));
	printf("\n");
	if (trmx_manifest_homepage(m))
		printf("  homepage      %s\n", trmx_manifest_homepage(m));
	bool ok = trmx_manifest_engine_accepts(m, TRMX_ENGINE_ABI_VERSION);
	printf("  engine        %s, ABI %s (this trmx: %d, %s)\n", trmx_manifest_engine_name(m),
	       trmx_manifest_engine_abi(m), TRMX_ENGINE_ABI_VERSION, ok ? "accepted" : "NOT accepted");
	config_line(trmx_manifest_task_params(m), line, sizeof line);
	printf("  task          %s%s%s%s\n", trmx_manifest_task_codec(m), line[0] ? " (" : "", line,
	       line[0] ? ")" : "");
	config_line(trmx_manifest_architecture(m), line, sizeof line);
	printf("  architecture  %s\n", line);
	if (have_ws)
		printf("  parameters    %s (+ %s in buffers), %zu tensors, %s, %s bytes\n",
		       grouped(ws->params, g1, sizeof g1), grouped(ws->buffer_elements, g2, sizeof g2),
		       ws->tensors, ws->dtypes, grouped((long long)ws->bytes, g3, sizeof g3));
	else
		printf("  parameters    unknown (%s)\n", ws_error);
	printf("  size          %s bytes packed, %s unpacked, %zu members\n",
	       grouped((long long)trmx_package_file_size(p), g1, sizeof g1),
	       grouped((long long)trmx_package_unpacked_size(p), g2, sizeof g2), trmx_package_entry_count(p));
	printf("  sha256        %s\n", digest);
	printf("  signature     %s", trmx_signature_status_name(sig->status));
	if (sig->key_id[0])
		printf(" (key %s%s%s)", sig->key_id, sig->comment[0] ? ", " : "", sig->comment);
	if (sig->status == TRMX_SIGNATURE_INVALID || sig->status == TRMX_SIGNATURE_UNTRUSTED)
		printf(": %s", sig->message);
	printf("\n");
	const trmx_manifest_training *t = trmx_manifest_training_get(m);
	if (t) {
		printf("  training      data set %s", t->dataset);
		if (t->dataset_sha256)
			printf(" (sha256 %.16s...)", t->dataset_sha256);
		if (t->steps >= 0)
			printf(", %lld steps", (long long)t->steps);
		if (t->has_seed)
			printf(", seed %lld", (long long)t->seed);
		if (t->hardware)
			printf(", on %s", t->hardware);
		if (t->duration >= 0)
			printf(", %.0f s", t->duration);
		printf("\n");
	}
	double thr = trmx_manifest_halt_threshold(m);
	int cap = trmx_manifest_max_steps(m);
	printf("  halting       adaptive solves halt above a margin of %g%s; ", thr, thr == 0 ? " (the official rule)" : "");
	if (cap)
		printf("at most %d steps where a solve names none\n", cap);
	else
		printf("at most halt_max_steps where a solve names none\n");
	for (size_t i = 0; i < trmx_manifest_metric_count(m); i++) {
		const trmx_manifest_metric *x = trmx_manifest_metric_at(m, i);
		printf("  %s%s: exact %.3f", i ? "              " : "metrics       ", x->set, x->exact_accuracy);
		if (x->token_accuracy >= 0)
			printf(", token %.3f", x->token_accuracy);
		if (x->mean_steps >= 0)
			printf(", mean steps %.2f", x->mean_steps);
		if (x->count >= 0)
			printf(", %lld puzzles", (long long)x->count);
		if (x->halt)
			printf(", %s halting", x->halt);
		if (x->max_steps >= 0)
			printf(", at most %lld steps", (long long)x->max_steps);
		printf("\n");
	}
	printf("  examples      %zu\n", trmx_manifest_example_count(m));
	for (size_t i = 0; i < trmx_manifest_extension_count(m); i++) {
		const char *k, *y;
		trmx_manifest_extension_at(m, i, &k, &y);
		printf("  %s%s (%zu bytes of YAML)\n", i ? "              " : "extensions    ", k, strlen(y));
	}
	printf("  files\n");
	for (size_t i = 0; i < trmx_package_entry_count(p); i++) {
		const trmx_package_entry *e = trmx_package_entry_at(p, i);
		const trmx_manifest_file *f = trmx_manifest_file_find(m, e->name);
		printf("    %-28s %12s  %-7s %s\n", e->name, grouped((long long)e->size, g1, sizeof g1),
		       e->deflated ? "deflate" : "store", f ? f->sha256 : "");
	}
}

int cmd_inspect(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "home", required_argument, NULL, 'H' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *home_opt = NULL;
	bool json = false;
	int opt;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'H': home_opt = optarg; break;
		case 'h': help(); return CLI_OK;
		default: return cli_usage_error("inspect", "unknown option");
		}
	}
	if (optind != argc - 1)
		return cli_usage_error("inspect", "expects one package");
	trmx_error err, werr = { 0 };
	trmx_package *p = NULL;
	trmx_signature_info sig;
	trmx_weights_summary ws;
	char digest[TRMX_SHA256_HEX_SIZE], *home = NULL;
	int rc;
	if (trmx_home_resolve(home_opt, &home, &err) < 0 ||
	    trmx_package_open(&p, argv[optind], NULL, &err) < 0 ||
	    trmx_package_digest(p, digest, &err) < 0 ||
	    trmx_package_signature(p, home, NULL, &sig, &err) < 0) {
		rc = cli_fail(&err);
		goto done;
	}
	bool have_ws = trmx_package_weights_summary(p, &ws, &werr) == 0;
	if (json)
		rc = print_json(p, &sig, digest, &ws, have_ws);
	else {
		print_text(p, &sig, digest, &ws, have_ws, werr.message);
		rc = CLI_OK;
	}
done:
	trmx_package_free(p);
	free(home);
	return rc;
}
