/*
 * index.c — module indexes: reading, checking and writing index.json and index.json.sig, and
 * publishing a package into an index folder (docs/FORMAT.md, "Module indexes"). The network side
 * (a home's indexes, libcurl) is index_fetch.c.
 *
 * index.json comes from strangers: jansson reads it (duplicate keys and NULs refused), then every
 * key is checked against the format before anything is taken from it; the parsed tree is kept
 * and the entries point into its strings. The signature is checked over the exact bytes before
 * they are parsed (trmx_index_open), so an index that is not signed by the trusted key never
 * reaches the JSON parser on a client.
 */
#define _GNU_SOURCE /* mkostemp */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../packager/pkg_int.h"
#include "core/core_int.h"
#include "index_int.h"

#define SIG_FORMAT "trmx-signature-1"

/* ---- Small checks ------------------------------------------------------------------------ */

/* [a-z0-9]+(-[a-z0-9]+)*, as the manifest's name. */
static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > TRMX_MANIFEST_NAME_MAX || s[0] == '-' || s[n - 1] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		bool an = (s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9');
		if (s[i] == '-' ? s[i + 1] == '-' : !an)
			return false;
	}
	return true;
}

/* [a-z0-9_-]+ (codec and engine names), or with `set` [A-Za-z0-9._-]+ (metric sets). */
static bool valid_ident(const char *s, bool set)
{
	size_t n = strlen(s);
	if (n == 0 || n > TRMX_MANIFEST_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
			  (set && ((c >= 'A' && c <= 'Z') || c == '.'));
		if (!ok)
			return false;
	}
	return true;
}

/* Text for people: no control characters but newline and tab (jansson checked the UTF-8). */
static bool valid_text(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n > max)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f)
			return false;
		if (c == 0xc2 && i + 1 < n && (unsigned char)s[i + 1] >= 0x80 && (unsigned char)s[i + 1] < 0xa0)
			return false; /* C1 */
	}
	return true;
}

/* "YYYY-MM-DDTHH:MM:SSZ" <-> seconds since 1970; parse returns -1 for anything else. */
static int index_time_parse(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, sec;
	char z;
	if (strlen(s) != 20 || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%c", &y, &mo, &d, &h, &mi, &sec, &z) != 7 || z != 'Z' ||
	    s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':')
		return -1;
	for (int i = 0; i < 20; i++)
		if (i != 4 && i != 7 && i != 10 && i != 13 && i != 16 && i != 19 && (s[i] < '0' || s[i] > '9'))
			return -1;
	struct tm tm = { .tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec };
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || sec > 59)
		return -1;
	time_t t = timegm(&tm);
	struct tm back;
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != d || back.tm_mon != mo - 1)
		return -1; /* 2026-02-30 does not exist: refused, not rolled over */
	*out = (int64_t)t;
	return 0;
}

static void index_time_format(int64_t t, char out[32])
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* ---- Parsing ----------------------------------------------------------------------------- */

/* Refuse any key of `o` outside `known` (NULL-terminated). */
static int only_keys(json_t *o, const char *const *known, const char *where, trmx_error *err)
{
	const char *k;
	json_t *v;
	json_object_foreach(o, k, v) {
		bool ok = false;
		for (size_t i = 0; known[i]; i++)
			ok |= !strcmp(k, known[i]);
		if (!ok)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: unknown key '%.60s'", where, k);
	}
	return 0;
}

static int get_string(json_t *o, const char *key, bool required, const char **out, const char *where,
		      trmx_error *err)
{
	json_t *v = json_object_get(o, key);
	*out = "";
	if (!v || json_is_null(v)) {
		if (required)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: '%s' is missing", where, key);
		return 0;
	}
	if (!json_is_string(v))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: '%s' is not a string", where, key);
	*out = json_string_value(v);
	return 0;
}

/* A number, -1 when absent; [lo, hi]. */
static int get_number(json_t *o, const char *key, double lo, double hi, double *out, const char *where,
		      trmx_error *err)
{
	json_t *v = json_object_get(o, key);
	*out = -1;
	if (!v)
		return 0;
	if (!json_is_number(v) || !isfinite(json_number_value(v)) || json_number_value(v) < lo ||
	    json_number_value(v) > hi)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: '%s' is not a number in [%g, %g]", where, key, lo, hi);
	*out = json_number_value(v);
	return 0;
}

static int parse_entry(json_t *o, size_t i, trmx_index_entry *e, trmx_index_metric **metrics, trmx_error *err)
{
	static const char *const keys[] = { "name", "version", "digest", "size", "description", "task",
					    "task_params", "engine", "signer", "metrics", NULL };
	static const char *const mkeys[] = { "exact_accuracy", "token_accuracy", "mean_steps", NULL };
	char where[64];
	int rc;
	snprintf(where, sizeof where, "index.json: packages[%zu]", i);
	if (!json_is_object(o))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: not an object", where);
	if ((rc = only_keys(o, keys, where, err)) < 0 || (rc = get_string(o, "name", true, &e->name, where, err)) < 0 ||
	    (rc = get_string(o, "version", true, &e->version, where, err)) < 0 ||
	    (rc = get_string(o, "digest", true, &e->digest, where, err)) < 0 ||
	    (rc = get_string(o, "description", false, &e->description, where, err)) < 0 ||
	    (rc = get_string(o, "task", true, &e->task, where, err)) < 0 ||
	    (rc = get_string(o, "task_params", false, &e->task_params, where, err)) < 0 ||
	    (rc = get_string(o, "engine", true, &e->engine, where, err)) < 0 ||
	    (rc = get_string(o, "signer", false, &e->signer, where, err)) < 0)
		return rc;
	if (!valid_name(e->name))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: name '%.70s' is not [a-z0-9]+(-[a-z0-9]+)* of at most %d bytes",
				      where, e->name, TRMX_MANIFEST_NAME_MAX);
	if (strlen(e->version) > TRMX_MANIFEST_VERSION_MAX || !trmx_semver_valid(e->version))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s): version '%.70s' is not SemVer", where, e->name, e->version);
	if (!trmx__pkg_is_sha256_hex(e->digest, strlen(e->digest)))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): digest is not 64 lowercase hex digits", where, e->name,
				      e->version);
	json_t *size = json_object_get(o, "size");
	/* Any exact JSON integer is read here; the download refuses what is above TRMX_PACKAGE_FILE_MAX */
	if (!json_is_integer(size) || json_integer_value(size) < 1 || json_integer_value(size) > (1ll << 53))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): size is not an integer in [1, 2^53]", where, e->name,
				      e->version);
	e->size = (uint64_t)json_integer_value(size);
	if (!valid_text(e->description, TRMX_MANIFEST_DESCRIPTION_MAX))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): description longer than %d bytes or with control characters",
				      where, e->name, e->version, TRMX_MANIFEST_DESCRIPTION_MAX);
	if (!valid_ident(e->task, false) || !valid_ident(e->engine, false))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): task and engine are names [a-z0-9_-]+", where, e->name,
				      e->version);
	if (strlen(e->task_params) > TRMX_TASK_PARAM_MAX || trmx__pkg_has_control(e->task_params, strlen(e->task_params)))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): task_params is longer than %d bytes or has control characters",
				      where, e->name, e->version, TRMX_TASK_PARAM_MAX);
	unsigned char kid[8];
	if (*e->signer && (strlen(e->signer) != 16 || !trmx__pkg_unhex(e->signer, 16, kid, 8)))
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): signer is not a key id (16 lowercase hex digits)", where,
				      e->name, e->version);
	json_t *m = json_object_get(o, "metrics");
	e->nmetrics = 0;
	e->metrics = NULL;
	if (!m)
		return 0;
	if (!json_is_object(m) || json_object_size(m) > TRMX_INDEX_METRICS_MAX)
		return trmx_error_set(err, TRMX_EFORMAT, "%s (%s %s): metrics is not an object of at most %d sets", where,
				      e->name, e->version, TRMX_INDEX_METRICS_MAX);
	if (json_object_size(m) == 0)
		return 0;
	if (!(*metrics = calloc(json_object_size(m), sizeof **metrics)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	const char *set;
	json_t *v;
	json_object_foreach(m, set, v) {
		trmx_index_metric *x = &(*metrics)[e->nmetrics];
		char w2[TRMX_MANIFEST_NAME_MAX + 96];
		snprintf(w2, sizeof w2, "%s: metrics", where);
		if (!valid_ident(set, true) || !json_is_object(v))
			return trmx_error_set(err, TRMX_EFORMAT, "%s: a set is named [A-Za-z0-9._-]+ and holds an object", w2);
		snprintf(w2, sizeof w2, "%s: metrics.%s", where, set);
		x->set = set;
		if ((rc = only_keys(v, mkeys, w2, err)) < 0 ||
		    (rc = get_number(v, "exact_accuracy", 0, 1, &x->exact_accuracy, w2, err)) < 0 ||
		    (rc = get_number(v, "token_accuracy", 0, 1, &x->token_accuracy, w2, err)) < 0 ||
		    (rc = get_number(v, "mean_steps", 0, 1e9, &x->mean_steps, w2, err)) < 0)
			return rc;
		e->nmetrics++;
	}
	e->metrics = *metrics;
	return 0;
}

static int cmp_entries(const void *a, const void *b)
{
	const trmx_index_entry *x = a, *y = b;
	int c = strcmp(x->name, y->name);
	return c ? c : trmx_semver_compare(x->version, y->version);
}

int trmx_index_parse(trmx_index **out, const char *json, size_t len, const char *source, trmx_error *err)
{
	static const char *const keys[] = { "format", "version", "expires", "packages", NULL };
	trmx_index *idx = NULL;
	json_error_t je;
	int rc = 0;
	if (!out || (!json && len))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_parse: NULL argument");
	if (!source)
		source = "index.json";
	if (len > TRMX_INDEX_FILE_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: %zu bytes, more than TRMX_INDEX_FILE_MAX (%u)", source, len,
				      TRMX_INDEX_FILE_MAX);
	if (!(idx = calloc(1, sizeof *idx)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (!(idx->root = json_loadb(json ? json : "", len, JSON_REJECT_DUPLICATES, &je))) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s:%d:%d: not JSON: %s", source, je.line, je.column, je.text);
		goto done;
	}
	json_t *r = idx->root;
	if (!json_is_object(r)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not a JSON object", source);
		goto done;
	}
	if ((rc = only_keys(r, keys, source, err)) < 0)
		goto done;
	json_t *f = json_object_get(r, "format"), *v = json_object_get(r, "version"), *x = json_object_get(r, "expires"),
	       *p = json_object_get(r, "packages");
	if (!json_is_string(f) || strcmp(json_string_value(f), TRMX_INDEX_FORMAT)) {
		rc = trmx_error_set(err, f && json_is_string(f) ? TRMX_EVERSION : TRMX_EFORMAT,
				    "%s: format is not \"%s\" (a newer trmx may read it)", source, TRMX_INDEX_FORMAT);
		goto done;
	}
	if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (1ll << 53)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: version is not an integer in [1, 2^53]", source);
		goto done;
	}
	idx->version = json_integer_value(v);
	if (!json_is_string(x) || index_time_parse(json_string_value(x), &idx->expires) < 0) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: expires is not a UTC time YYYY-MM-DDTHH:MM:SSZ", source);
		goto done;
	}
	if (!json_is_array(p)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: packages is not a list", source);
		goto done;
	}
	size_t n = json_array_size(p);
	if (n > TRMX_INDEX_PACKAGES_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: %zu packages, more than TRMX_INDEX_PACKAGES_MAX (%d)", source, n,
				    TRMX_INDEX_PACKAGES_MAX);
		goto done;
	}
	if (n && (!(idx->entries = calloc(n, sizeof *idx->entries)) || !(idx->metrics = calloc(n, sizeof *idx->metrics)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	idx->cap = n;
	for (size_t i = 0; i < n; i++) {
		if ((rc = parse_entry(json_array_get(p, i), i, &idx->entries[i], &idx->metrics[i], err)) < 0)
			goto done;
		idx->n++;
	}
	if (idx->n)
		qsort(idx->entries, idx->n, sizeof *idx->entries, cmp_entries);
	for (size_t i = 1; i < idx->n; i++)
		if (!strcmp(idx->entries[i].name, idx->entries[i - 1].name) &&
		    !trmx_semver_compare(idx->entries[i].version, idx->entries[i - 1].version)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s %s is listed twice", source, idx->entries[i].name,
					    idx->entries[i].version);
			goto done;
		}
	*out = idx;
	idx = NULL;
done:
	trmx_index_free(idx);
	return rc;
}

void trmx_index_free(trmx_index *idx)
{
	if (!idx)
		return;
	for (size_t i = 0; idx->metrics && i < idx->cap; i++)
		free(idx->metrics[i]);
	free(idx->metrics);
	free(idx->entries);
	json_decref(idx->root);
	free(idx);
}

int64_t trmx_index_version(const trmx_index *idx) { return idx ? idx->version : 0; }
int64_t trmx_index_expires(const trmx_index *idx) { return idx ? idx->expires : 0; }
size_t trmx_index_count(const trmx_index *idx) { return idx ? idx->n : 0; }
const char *trmx_index_signer(const trmx_index *idx) { return idx ? idx->src.key_id : ""; }

const trmx_index_entry *trmx_index_at(const trmx_index *idx, size_t i)
{
	return idx && i < idx->n ? &idx->entries[i] : NULL;
}

const trmx_index_entry *trmx_index_lookup(const trmx_index *idx, const char *name, const char *version)
{
	const trmx_index_entry *best = NULL;
	for (size_t i = 0; idx && name && i < idx->n; i++) {
		const trmx_index_entry *e = &idx->entries[i];
		if (strcmp(e->name, name))
			continue;
		if (version ? !trmx_semver_compare(e->version, version) && !strchr(version, '+') == !strchr(e->version, '+')
			    : !best || trmx_semver_compare(e->version, best->version) > 0)
			best = e;
	}
	return best;
}

/* ---- Writing ----------------------------------------------------------------------------- */

static json_t *entry_json(const trmx_index_entry *e)
{
	json_t *o = json_object(), *m = json_object();
	if (!o || !m) {
		json_decref(o);
		json_decref(m);
		return NULL;
	}
	int bad = json_object_set_new(o, "name", json_string(e->name)) |
		  json_object_set_new(o, "version", json_string(e->version)) |
		  json_object_set_new(o, "digest", json_string(e->digest)) |
		  json_object_set_new(o, "size", json_integer((json_int_t)e->size)) |
		  json_object_set_new(o, "description", json_string(e->description ? e->description : "")) |
		  json_object_set_new(o, "task", json_string(e->task)) |
		  json_object_set_new(o, "task_params", json_string(e->task_params ? e->task_params : "")) |
		  json_object_set_new(o, "engine", json_string(e->engine)) |
		  json_object_set_new(o, "signer", e->signer && *e->signer ? json_string(e->signer) : json_null());
	for (size_t i = 0; i < e->nmetrics; i++) {
		json_t *x = json_object();
		const trmx_index_metric *k = &e->metrics[i];
		if (!x) {
			bad = 1;
			break;
		}
		if (k->exact_accuracy >= 0) /* absent when -1, as it was read */
			bad |= json_object_set_new(x, "exact_accuracy", json_real(k->exact_accuracy));
		if (k->token_accuracy >= 0)
			bad |= json_object_set_new(x, "token_accuracy", json_real(k->token_accuracy));
		if (k->mean_steps >= 0)
			bad |= json_object_set_new(x, "mean_steps", json_real(k->mean_steps));
		bad |= json_object_set_new(m, k->set, x);
	}
	bad |= json_object_set_new(o, "metrics", m);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* The text of an index of `n` entries (sorted here) with `version` and `expires`. */
static int format_entries(const trmx_index_entry *const *es, size_t n, int64_t version, int64_t expires, char **out,
			  size_t *len, trmx_error *err)
{
	char when[32];
	json_t *r = json_object(), *p = json_array();
	int bad = !r || !p;
	index_time_format(expires, when);
	if (!bad)
		bad = json_object_set_new(r, "format", json_string(TRMX_INDEX_FORMAT)) |
		      json_object_set_new(r, "version", json_integer((json_int_t)version)) |
		      json_object_set_new(r, "expires", json_string(when)) | json_object_set(r, "packages", p);
	for (size_t i = 0; !bad && i < n; i++) {
		json_t *e = entry_json(es[i]);
		bad = !e || json_array_append_new(p, e);
	}
	char *text = bad ? NULL : json_dumps(r, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
	json_decref(p);
	json_decref(r);
	if (!text)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	size_t l = strlen(text);
	char *t2 = realloc(text, l + 2); /* a final newline */
	if (!t2) {
		free(text);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	t2[l] = '\n';
	t2[l + 1] = '\0';
	*out = t2;
	*len = l + 1;
	return 0;
}

static int cmp_entry_ptrs(const void *a, const void *b)
{
	return cmp_entries(*(const trmx_index_entry *const *)a, *(const trmx_index_entry *const *)b);
}

int trmx_index_format(const trmx_index *idx, char **out, size_t *len, trmx_error *err)
{
	if (!idx || !out || !len)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_format: NULL argument");
	const trmx_index_entry **es = calloc(idx->n + 1, sizeof *es);
	if (!es)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	for (size_t i = 0; i < idx->n; i++)
		es[i] = &idx->entries[i];
	int rc = format_entries(es, idx->n, idx->version, idx->expires, out, len, err);
	free(es);
	return rc;
}

/* ---- Signatures -------------------------------------------------------------------------- */

/* Parse an index.json.sig (the trmx-signature-1 lines) into its key, signature and key id. */
static int index_sig_parse(const char *sig, size_t siglen, unsigned char pk[32], unsigned char s[64],
			   char key_id[TRMX_KEY_ID_SIZE], trmx_error *err)
{
	static const char *const keys[] = { "format", "algorithm", "key-id", "public-key", "signature" };
	static const size_t lens[] = { sizeof SIG_FORMAT - 1, 7, 16, 64, 128 };
	const char *vals[5];
	size_t pos = 0;
	if (!sig || siglen > TRMX_SIGNATURE_FILE_MAX || memchr(sig, '\0', siglen))
		return trmx_error_set(err, TRMX_EFORMAT, "index.json.sig: not a signature file (%s)", SIG_FORMAT);
	for (size_t k = 0; k < 5; k++) {
		size_t kl = strlen(keys[k]), want = kl + 2 + lens[k];
		if (siglen - pos < want + 1 || memcmp(sig + pos, keys[k], kl) || sig[pos + kl] != ':' ||
		    sig[pos + kl + 1] != ' ' || sig[pos + want] != '\n')
			return trmx_error_set(err, TRMX_EFORMAT, "index.json.sig: line %zu: expected '%s: ...' (format %s)",
					      k + 1, keys[k], SIG_FORMAT);
		vals[k] = sig + pos + kl + 2;
		pos += want + 1;
	}
	if (pos != siglen)
		return trmx_error_set(err, TRMX_EFORMAT, "index.json.sig: unexpected text after line 5");
	if (memcmp(vals[0], SIG_FORMAT, lens[0]) || memcmp(vals[1], "ed25519", 7) || !trmx__pkg_unhex(vals[3], 64, pk, 32) ||
	    !trmx__pkg_unhex(vals[4], 128, s, 64))
		return trmx_error_set(err, TRMX_EFORMAT,
				      "index.json.sig: expected format %s, algorithm ed25519, a 64-digit public key and "
				      "a 128-digit signature", SIG_FORMAT);
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, pk, 32);
	trmx__pkg_hex(d, 8, key_id);
	if (memcmp(vals[2], key_id, 16))
		return trmx_error_set(err, TRMX_EFORMAT, "index.json.sig: key-id does not match its public key (%s)", key_id);
	return 0;
}

int trmx_index_signature_check(const char *json, size_t len, const char *sig, size_t siglen,
			       const trmx_public_key *signer, trmx_error *err)
{
	unsigned char pk[32], s[64];
	char id[TRMX_KEY_ID_SIZE];
	int rc;
	if (!json || !signer)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_signature_check: NULL argument");
	if (sodium_init() < 0)
		return trmx_error_set(err, TRMX_ERROR, "libsodium cannot start");
	if ((rc = index_sig_parse(sig, siglen, pk, s, id, err)) < 0)
		return rc;
	if (memcmp(pk, signer->key, 32))
		return trmx_error_set(err, TRMX_EINTEGRITY,
				      "the index is signed by key %s, not by its trusted signer %s (an untrusted signer: "
				      "if the publisher changed keys, check the new key with them and run `trmx index "
				      "add` again)", id, signer->key_id);
	if (crypto_sign_verify_detached(s, (const unsigned char *)json, len, pk) != 0)
		return trmx_error_set(err, TRMX_EINTEGRITY,
				      "bad index signature: index.json.sig by key %s does not match index.json (it was "
				      "changed after signing, or damaged on the way)", id);
	return 0;
}

int trmx_index_open(trmx_index **out, const char *json, size_t len, const char *sig, size_t siglen,
		    const trmx_public_key *signer, int64_t now, int64_t seen_version, const char *seen_digest,
		    trmx_error *err)
{
	trmx_index *idx = NULL;
	int rc;
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_open: NULL argument");
	if ((rc = trmx_index_signature_check(json, len, sig, siglen, signer, err)) < 0 ||
	    (rc = trmx_index_parse(&idx, json, len, "index.json", err)) < 0)
		return rc;
	char when[32];
	index_time_format(idx->expires, when);
	if (now >= idx->expires) {
		rc = trmx_error_set(err, TRMX_EINTEGRITY,
				    "the index expired at %s (version %lld): a stale or frozen copy; the publisher must "
				    "publish again", when, (long long)idx->version);
		goto fail;
	}
	if (idx->version < seen_version) {
		rc = trmx_error_set(err, TRMX_EINTEGRITY,
				    "the index is version %lld, older than version %lld seen before: a rolled-back index "
				    "is refused", (long long)idx->version, (long long)seen_version);
		goto fail;
	}
	if (idx->version == seen_version && seen_digest) {
		char d[TRMX_SHA256_HEX_SIZE];
		trmx_sha256_hex(json, len, d);
		if (strcmp(d, seen_digest)) {
			rc = trmx_error_set(err, TRMX_EINTEGRITY,
					    "the index changed without a new version (still %lld): refused", (long long)idx->version);
			goto fail;
		}
	}
	snprintf(idx->src.key_id, sizeof idx->src.key_id, "%s", signer->key_id);
	*out = idx;
	return 0;
fail:
	trmx_index_free(idx);
	return rc;
}

/* ---- Publishing -------------------------------------------------------------------------- */

static int make_dir(const char *path, trmx_error *err)
{
	if (mkdir(path, 0755) != 0 && errno != EEXIST)
		return trmx_error_set(err, TRMX_EIO, "cannot make folder %s: %s", path, strerror(errno));
	return 0;
}

char *trmx__index_join(const char *a, const char *b)
{
	size_t n = strlen(a) + strlen(b) + 2;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s", a, b);
	return r;
}

/* Copy `src` to `dst` through a temporary file beside it, fsync, rename. */
static int copy_atomic(const char *src, const char *dst, trmx_error *err)
{
	size_t n = strlen(dst) + 16;
	char *tmp = malloc(n), *buf = malloc(PKG_BLOCK);
	int in = -1, outfd = -1, rc = 0;
	if (!tmp || !buf) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(tmp, n, "%s.tmp-XXXXXX", dst);
	if ((in = open(src, O_RDONLY | O_CLOEXEC)) < 0 || (outfd = mkostemp(tmp, O_CLOEXEC)) < 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot copy %s to %s: %s", src, dst, strerror(errno));
		goto done;
	}
	for (;;) {
		ssize_t got = read(in, buf, PKG_BLOCK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			rc = trmx_error_set(err, TRMX_EIO, "%s: %s", src, strerror(errno));
			goto done;
		}
		if (got == 0)
			break;
		for (ssize_t off = 0; off < got;) {
			ssize_t w = write(outfd, buf + off, (size_t)(got - off));
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				rc = trmx_error_set(err, TRMX_EIO, "%s: cannot write: %s", tmp, strerror(errno));
				goto done;
			}
			off += w;
		}
	}
	if (fchmod(outfd, 0644) != 0 || fsync(outfd) != 0 || close(outfd) != 0) {
		outfd = -1;
		rc = trmx_error_set(err, TRMX_EIO, "%s: cannot sync: %s", tmp, strerror(errno));
		goto done;
	}
	outfd = -1;
	if (rename(tmp, dst) != 0)
		rc = trmx_error_set(err, TRMX_EIO, "cannot rename %s to %s: %s", tmp, dst, strerror(errno));
done:
	if (outfd >= 0)
		close(outfd);
	if (in >= 0)
		close(in);
	if (rc < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(buf);
	return rc;
}

int trmx_index_publish(const char *pkg, const char *dir, const char *secret_key, const trmx_publish_options *opts,
		       trmx_publish_result *out, trmx_error *err)
{
	trmx_publish_options o = TRMX_PUBLISH_OPTIONS_INIT;
	trmx_package *p = NULL;
	trmx_index *old = NULL, *check = NULL;
	char *ipath = NULL, *spath = NULL, *pdir = NULL, *ppath = NULL, *oldjson = NULL, *oldsig = NULL, *text = NULL,
	     *sig = NULL, *name = NULL;
	const trmx_index_entry **es = NULL;
	trmx_index_metric *ms = NULL;
	size_t oldlen = 0, oldsiglen = 0, len = 0, siglen = 0;
	trmx_publish_result res;
	int rc = 0;
	if (!pkg || !dir || !secret_key)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_publish: missing argument");
	if (opts)
		o = *opts;
	memset(&res, 0, sizeof res);
	int64_t now = o.now ? o.now : (int64_t)time(NULL);
	int64_t expires_in = o.expires_in > 0 ? o.expires_in : 30 * 86400;

	/* The package: every member, its signature as the policy asks, and its contents. */
	trmx_verify_options vo = TRMX_VERIFY_OPTIONS_INIT;
	vo.home = o.home;
	vo.flags = TRMX_VERIFY_CONTENTS;
	trmx_signature_info si;
	if ((rc = trmx_package_open(&p, pkg, NULL, err)) < 0 || (rc = trmx_package_verify(p, &vo, NULL, err)) < 0 ||
	    (rc = trmx_package_digest(p, res.digest, err)) < 0 ||
	    (rc = trmx_package_signature(p, NULL, NULL, &si, err)) < 0) {
		trmx_error_prefix(err, "%s does not verify; not published", pkg);
		goto done;
	}
	const trmx_manifest *m = trmx_package_manifest(p);
	snprintf(res.name, sizeof res.name, "%s", trmx_manifest_name(m));
	snprintf(res.version, sizeof res.version, "%s", trmx_manifest_version(m));

	if (!(ipath = trmx__index_join(dir, "index.json")) || !(spath = trmx__index_join(dir, "index.json.sig")) ||
	    !(pdir = trmx__index_join(dir, "packages")) || !(name = malloc(TRMX_SHA256_HEX_SIZE + 8))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(name, TRMX_SHA256_HEX_SIZE + 8, "%s.trmx", res.digest);
	if (!(ppath = trmx__index_join(pdir, name))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if (access(ipath, F_OK) == 0) {
		if ((rc = trmx_read_file(ipath, TRMX_INDEX_FILE_MAX, "TRMX_INDEX_FILE_MAX", 0, &oldjson, &oldlen, err)) < 0 ||
		    (rc = trmx_index_parse(&old, oldjson, oldlen, ipath, err)) < 0)
			goto done;
		if ((rc = trmx_read_file(spath, TRMX_SIGNATURE_FILE_MAX, "TRMX_SIGNATURE_FILE_MAX", 0, &oldsig, &oldsiglen, err)) <
		    0) {
			trmx_error_prefix(err, "%s has an index.json but no readable index.json.sig", dir);
			goto done;
		}
	}
	const trmx_index_entry *same = old ? trmx_index_lookup(old, res.name, res.version) : NULL;
	if (same && strcmp(same->digest, res.digest)) {
		rc = trmx_error_set(err, TRMX_EINVAL,
				    "%s %s is published already as another package (sha256:%.12s): a new package needs a "
				    "new version", res.name, res.version, same->digest);
		goto done;
	}

	/* The new index: the old entries and this one, version + 1. */
	size_t n = old ? old->n : 0;
	trmx_index_entry ne = { 0 };
	char params[TRMX_TASK_PARAM_MAX + 1] = "";
	const trmx_config *tp = trmx_manifest_task_params(m);
	for (size_t i = 0; i < trmx_config_count(tp); i++) {
		const char *k, *v;
		trmx_config_at(tp, i, &k, &v);
		size_t l = strlen(params);
		snprintf(params + l, sizeof params - l, "%s%s=%s", l ? "," : "", k, v);
	}
	size_t nm = trmx_manifest_metric_count(m);
	if (nm > TRMX_INDEX_METRICS_MAX)
		nm = TRMX_INDEX_METRICS_MAX;
	if (!(es = calloc(n + 1, sizeof *es)) || (nm && !(ms = calloc(nm, sizeof *ms)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	for (size_t i = 0; i < nm; i++) {
		const trmx_manifest_metric *mm = trmx_manifest_metric_at(m, i);
		ms[i] = (trmx_index_metric){ mm->set, mm->exact_accuracy, mm->token_accuracy, mm->mean_steps };
	}
	const char *desc = trmx_manifest_description(m);
	ne = (trmx_index_entry){ res.name, res.version, res.digest, trmx_package_file_size(p), desc ? desc : "",
				 trmx_manifest_task_codec(m), params, trmx_manifest_engine_name(m),
				 si.status == TRMX_SIGNATURE_NONE ? "" : si.key_id, nm, ms };
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (&old->entries[i] != same)
			es[k++] = &old->entries[i];
	es[k++] = same ? same : &ne;
	qsort(es, k, sizeof *es, cmp_entry_ptrs);
	int64_t version = old ? old->version + (same ? 0 : 1) : 1;
	if (old && version > (1ll << 53)) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: the index version cannot grow further", ipath);
		goto done;
	}
	if ((rc = format_entries(es, k, version, same ? old->expires : now + expires_in, &text, &len, err)) < 0)
		goto done;
	/* What a client will read must parse: check the bytes we are about to sign. */
	if ((rc = trmx_index_parse(&check, text, len, "the new index.json", err)) < 0)
		goto done;
	if ((rc = trmx__pkg_signature_make(secret_key, text, len, &sig, &siglen, res.key_id, err)) < 0)
		goto done;
	if (old) { /* the index keeps its one signer */
		unsigned char pk[32], s[64];
		char id[TRMX_KEY_ID_SIZE];
		trmx_public_key mine = { 0 };
		if ((rc = index_sig_parse(sig, siglen, pk, s, id, err)) < 0)
			goto done;
		memcpy(mine.key, pk, 32);
		memcpy(mine.key_id, id, sizeof id);
		if ((rc = trmx_index_signature_check(oldjson, oldlen, oldsig, oldsiglen, &mine, err)) < 0) {
			trmx_error_prefix(err, "%s: the index there does not verify with %s", dir, secret_key);
			goto done;
		}
	}
	res.index_version = version;
	res.already = same != NULL;
	if ((rc = make_dir(dir, err)) < 0 || (rc = make_dir(pdir, err)) < 0)
		goto done;
	if (access(ppath, F_OK) != 0 && (rc = copy_atomic(trmx_package_path(p), ppath, err)) < 0)
		goto done;
	if (!same) {
		/* The signature first: a client reading between the two renames sees a pair that does not
		 * match and fetches both again (index_fetch.c). */
		if ((rc = trmx_write_file_atomic(spath, sig, siglen, err)) < 0 ||
		    (rc = trmx_write_file_atomic(ipath, text, len, err)) < 0)
			goto done;
	}
	if (out)
		*out = res;
done:
	trmx_index_free(check);
	trmx_index_free(old);
	trmx_package_free(p);
	free(es);
	free(ms);
	free(ipath);
	free(spath);
	free(pdir);
	free(ppath);
	free(name);
	free(oldjson);
	free(oldsig);
	free(text);
	free(sig);
	return rc;
}
