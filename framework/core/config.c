/*
 * config.c — architecture configs: ordered key/value strings, loaded from YAML or from the
 * __metadata__ of a weights file.
 *
 * YAML is read with libyaml's event API in two passes over the file held in memory. The first
 * pass checks the whole stream is well-formed, has one document whose top level is a mapping,
 * and finds an `arch` or `architecture` key holding a mapping (an official all_config.yaml keeps
 * the architecture there, beside training settings that may hold sequences). The second pass
 * reads that mapping, or the whole top level when there is none: nested mappings become dotted
 * keys, scalars keep their literal text, and sequences, aliases, anchors and duplicate keys are
 * refused with file:line:column and the key path. Finally a value that is exactly ${.key}
 * (OmegaConf's sibling interpolation) takes the value of `key` in the same mapping.
 *
 * The file is untrusted: its size, the number of keys, their length and nesting, and every
 * value's length are capped by limits.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core_int.h"
#include "yaml_int.h"

struct trmx_config {
	char **keys, **values;
	size_t count, cap;
};

/* ---- The container ------------------------------------------------------------------------- */

static ssize_t config_find(const trmx_config *c, const char *key)
{
	for (size_t i = 0; i < c->count; i++) {
		if (!strcmp(c->keys[i], key))
			return (ssize_t)i;
	}
	return -1;
}

/* Append, taking ownership of key and value on success. */
static int config_push(trmx_config *c, char *key, char *value)
{
	if (c->count == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 16;
		char **nk = trmx_xrealloc(c->keys, cap * sizeof *nk);
		if (!nk)
			return TRMX_ENOMEM;
		c->keys = nk;
		char **nv = trmx_xrealloc(c->values, cap * sizeof *nv);
		if (!nv)
			return TRMX_ENOMEM;
		c->values = nv;
		c->cap = cap;
	}
	c->keys[c->count] = key;
	c->values[c->count] = value;
	c->count++;
	return 0;
}

/* Create an empty config. */
int trmx_config_new(trmx_config **out, trmx_error *err)
{
	trmx_config *c;
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_config_new: NULL argument");
	if (!(c = trmx_xcalloc(1, sizeof *c)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory creating a config");
	*out = c;
	return 0;
}

/* Replace the value of `key` in place, or append the pair. */
int trmx_config_set(trmx_config *c, const char *key, const char *value, trmx_error *err)
{
	char *k = NULL, *v = NULL;
	ssize_t i;
	int rc = 0;

	if (!c || !key || !*key || !value)
		return trmx_error_set(err, TRMX_EINVAL,
				      "trmx_config_set: NULL argument or empty key");
	if (!(v = trmx_xstrdup(value))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "config key '%s': out of memory", key);
		goto done;
	}
	if ((i = config_find(c, key)) >= 0) {
		free(c->values[i]);
		c->values[i] = v;
		v = NULL;
		goto done;
	}
	if (!(k = trmx_xstrdup(key)) || config_push(c, k, v) < 0) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "config key '%s': out of memory", key);
		goto done;
	}
	k = v = NULL;
done:
	free(k);
	free(v);
	return rc;
}

/* Value of `key` (borrowed), NULL when absent. */
const char *trmx_config_get(const trmx_config *c, const char *key)
{
	ssize_t i;
	if (!c || !key)
		return NULL;
	i = config_find(c, key);
	return i >= 0 ? c->values[i] : NULL;
}

/* Number of keys (0 for NULL). */
size_t trmx_config_count(const trmx_config *c)
{
	return c ? c->count : 0;
}

/* The i-th pair in insertion order; NULL key and value when out of range. */
void trmx_config_at(const trmx_config *c, size_t i, const char **key, const char **value)
{
	bool ok = c && i < c->count;
	if (key)
		*key = ok ? c->keys[i] : NULL;
	if (value)
		*value = ok ? c->values[i] : NULL;
}

/* Free the config; NULL is a no-op. */
void trmx_config_free(trmx_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->count; i++) {
		free(c->keys[i]);
		free(c->values[i]);
	}
	free(c->keys);
	free(c->values);
	free(c);
}

/* Copy every __metadata__ entry of `w`, in file order. */
int trmx_config_from_metadata(trmx_config **out, const trmx_weights *w, trmx_error *err)
{
	trmx_config *c = NULL;
	int rc;

	if (!out || !w)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_config_from_metadata: NULL argument");
	/* The metadata passed the looser safetensors limits; a config has its own. */
	if (trmx_weights_metadata_count(w) > TRMX_CONFIG_KEYS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT,
				      "__metadata__: %zu entries, more than TRMX_CONFIG_KEYS_MAX (%d)",
				      trmx_weights_metadata_count(w), TRMX_CONFIG_KEYS_MAX);
	if ((rc = trmx_config_new(&c, err)) < 0)
		goto done;
	for (size_t i = 0; i < trmx_weights_metadata_count(w); i++) {
		const char *k, *v;
		trmx_weights_metadata_at(w, i, &k, &v);
		if (strlen(v) > TRMX_CONFIG_VALUE_MAX) {
			rc = trmx_error_set(err, TRMX_ELIMIT,
					    "__metadata__: the value of '%s' has %zu bytes, more than "
					    "TRMX_CONFIG_VALUE_MAX (%d)",
					    k, strlen(v), TRMX_CONFIG_VALUE_MAX);
			goto done;
		}
		if ((rc = trmx_config_set(c, k, v, err)) < 0)
			goto done;
	}
	*out = c;
	c = NULL;
done:
	trmx_config_free(c);
	return rc;
}

/* ---- YAML ---------------------------------------------------------------------------------- */

/* Where an entry came from and which mapping holds it (for ${.key}). */
struct origin {
	size_t line, column; /* 1-based */
	size_t prefix_len;   /* length of the parent mapping's dotted path in the key */
};

struct loader {
	const char *path;
	const unsigned char *text;
	size_t len;
	trmx_yaml y;
	trmx_config *cfg;
	struct origin *origins; /* parallel to cfg's entries */
	char **maps;            /* dotted paths of the nested mappings read, for duplicates */
	size_t nmaps;
	trmx_error *err;
};

static int yaml_fail(struct loader *ld, yaml_mark_t mark, int code, const char *keypath,
		     const char *fmt, ...) TRMX_PRINTF(5, 6);

/* "file:line:col: key 'a.b': message" */
static int yaml_fail(struct loader *ld, yaml_mark_t mark, int code, const char *keypath,
		     const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = trmx_yaml_vfail(ld->err, code, ld->path, mark.line + 1, mark.column + 1, keypath, fmt, ap);
	va_end(ap);
	return rc;
}

static int too_deep(struct loader *ld)
{
	return yaml_fail(ld, ld->y.ev.start_mark, TRMX_ELIMIT, NULL,
			 "collections nested deeper than TRMX_CONFIG_DEPTH_MAX (%d)",
			 TRMX_CONFIG_DEPTH_MAX);
}

/* Consume the node whose first event is current (a scalar, an alias or a whole collection),
 * which sits inside `outer` levels of collections. The depth limit applies here too, to the
 * whole file: libyaml's scanner costs time proportional to the flow nesting for every token
 * (quadratic in total), so a deep "[[[[..." must be stopped early, not merely skipped. */
static int skip_node(struct loader *ld, int outer)
{
	int depth = 0;
	int rc;
	for (;;) {
		switch (ld->y.ev.type) {
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			if (outer + ++depth > TRMX_CONFIG_DEPTH_MAX)
				return too_deep(ld);
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			depth--;
			break;
		default:
			break;
		}
		if (depth == 0)
			return 0;
		if ((rc = trmx_yaml_next(&ld->y)) < 0)
			return rc;
	}
}

/* Stream start, document start, and the top-level node, which must be a mapping. */
static int read_prologue(struct loader *ld)
{
	int rc;
	if ((rc = trmx_yaml_next(&ld->y)) < 0 || (rc = trmx_yaml_next(&ld->y)) < 0)
		return rc;
	if (ld->y.ev.type == YAML_STREAM_END_EVENT)
		return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, NULL,
				 "empty file: the top level must be a mapping");
	if ((rc = trmx_yaml_next(&ld->y)) < 0)
		return rc;
	if (ld->y.ev.type != YAML_MAPPING_START_EVENT)
		return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, NULL,
				 "the top level is not a mapping");
	return 0;
}

/* Is the current event a key named `arch` or `architecture`? */
static bool is_arch_key(const yaml_event_t *ev)
{
	if (ev->type != YAML_SCALAR_EVENT)
		return false;
	const char *s = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;
	return (n == 4 && !memcmp(s, "arch", 4)) || (n == 12 && !memcmp(s, "architecture", 12));
}

/* Pass 1: validate the whole stream and find which top-level pair (by position among the
 * pairs, -1 for none) holds the architecture mapping. */
static int find_arch(struct loader *ld, long *which)
{
	long pair = 0, found = -1;
	bool seen_arch = false;
	int rc;

	if ((rc = trmx_yaml_start(&ld->y, ld->path, ld->text, ld->len, ld->err)) < 0 || (rc = read_prologue(ld)) < 0)
		return rc;
	for (;; pair++) {
		if ((rc = trmx_yaml_next(&ld->y)) < 0)
			return rc;
		if (ld->y.ev.type == YAML_MAPPING_END_EVENT)
			break;
		if (ld->y.ev.type != YAML_SCALAR_EVENT)
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, NULL,
					 "a top-level key is not a scalar");
		bool arch = is_arch_key(&ld->y.ev);
		yaml_mark_t mark = ld->y.ev.start_mark;
		char name[16] = "";
		if (arch) {
			memcpy(name, ld->y.ev.data.scalar.value, ld->y.ev.data.scalar.length);
			if (seen_arch)
				return yaml_fail(ld, mark, TRMX_EFORMAT, name,
						 "duplicate key (or both 'arch' and 'architecture')");
			seen_arch = true;
		}
		if ((rc = trmx_yaml_next(&ld->y)) < 0)
			return rc;
		if (arch && ld->y.ev.type == YAML_MAPPING_START_EVENT)
			found = pair;
		if ((rc = skip_node(ld, 1)) < 0)
			return rc;
	}
	if ((rc = trmx_yaml_next(&ld->y)) < 0 || (rc = trmx_yaml_next(&ld->y)) < 0)
		return rc;
	if (ld->y.ev.type != YAML_STREAM_END_EVENT)
		return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, NULL,
				 "more than one YAML document");
	*which = found;
	return 0;
}

/* Refuse an anchor on the current node. */
static int check_anchor(struct loader *ld, const char *keypath)
{
	const yaml_char_t *anchor = NULL;
	if (ld->y.ev.type == YAML_SCALAR_EVENT)
		anchor = ld->y.ev.data.scalar.anchor;
	else if (ld->y.ev.type == YAML_MAPPING_START_EVENT)
		anchor = ld->y.ev.data.mapping_start.anchor;
	else if (ld->y.ev.type == YAML_SEQUENCE_START_EVENT)
		anchor = ld->y.ev.data.sequence_start.anchor;
	if (anchor)
		return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, keypath,
				 "anchors (&%.32s) are not supported", (const char *)anchor);
	return 0;
}

static bool is_duplicate(const struct loader *ld, const char *key)
{
	if (config_find(ld->cfg, key) >= 0)
		return true;
	for (size_t i = 0; i < ld->nmaps; i++) {
		if (!strcmp(ld->maps[i], key))
			return true;
	}
	return false;
}

/* Read the mapping whose MAPPING-START is current, its keys prefixed with `prefix` (dotted). */
static int read_mapping(struct loader *ld, const char *prefix, int depth)
{
	size_t plen = strlen(prefix);
	char key[TRMX_CONFIG_KEY_MAX + 1];
	int rc;

	for (;;) {
		if ((rc = trmx_yaml_next(&ld->y)) < 0)
			return rc;
		if (ld->y.ev.type == YAML_MAPPING_END_EVENT)
			return 0;
		if (ld->y.ev.type == YAML_ALIAS_EVENT)
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, prefix,
					 "aliases (*%.32s) are not supported",
					 (const char *)ld->y.ev.data.alias.anchor);
		if (ld->y.ev.type != YAML_SCALAR_EVENT)
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, prefix,
					 "a key is not a scalar");
		if ((rc = check_anchor(ld, prefix)) < 0)
			return rc;

		const char *k = (const char *)ld->y.ev.data.scalar.value;
		size_t klen = ld->y.ev.data.scalar.length;
		if (klen == 0 || memchr(k, '\0', klen))
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, prefix,
					 "a key is empty or holds a NUL byte");
		if (plen + (plen ? 1 : 0) + klen > TRMX_CONFIG_KEY_MAX)
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_ELIMIT, prefix,
					 "a key longer than TRMX_CONFIG_KEY_MAX (%d bytes)",
					 TRMX_CONFIG_KEY_MAX);
		snprintf(key, sizeof key, "%s%s%.*s", prefix, plen ? "." : "", (int)klen, k);
		if (is_duplicate(ld, key))
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_EFORMAT, key, "duplicate key");
		if (ld->cfg->count + ld->nmaps >= TRMX_CONFIG_KEYS_MAX)
			return yaml_fail(ld, ld->y.ev.start_mark, TRMX_ELIMIT, key,
					 "more than TRMX_CONFIG_KEYS_MAX (%d) keys",
					 TRMX_CONFIG_KEYS_MAX);

		if ((rc = trmx_yaml_next(&ld->y)) < 0)
			return rc;
		if ((rc = check_anchor(ld, key)) < 0)
			return rc;
		yaml_mark_t mark = ld->y.ev.start_mark;
		switch (ld->y.ev.type) {
		case YAML_SCALAR_EVENT: {
			const char *v = (const char *)ld->y.ev.data.scalar.value;
			size_t vlen = ld->y.ev.data.scalar.length;
			char *kc, *vc;
			if (memchr(v, '\0', vlen))
				return yaml_fail(ld, mark, TRMX_EFORMAT, key, "the value holds a NUL byte");
			if (vlen > TRMX_CONFIG_VALUE_MAX)
				return yaml_fail(ld, mark, TRMX_ELIMIT, key,
						 "a value of %zu bytes, more than TRMX_CONFIG_VALUE_MAX (%d)",
						 vlen, TRMX_CONFIG_VALUE_MAX);
			kc = trmx_xstrdup(key);
			vc = trmx_xstrndup(v, vlen);
			if (!kc || !vc || config_push(ld->cfg, kc, vc) < 0) {
				free(kc);
				free(vc);
				return trmx_error_set(ld->err, TRMX_ENOMEM, "%s: out of memory", ld->path);
			}
			ld->origins[ld->cfg->count - 1] = (struct origin){ mark.line + 1, mark.column + 1, plen };
			break;
		}
		case YAML_MAPPING_START_EVENT:
			if (depth >= TRMX_CONFIG_DEPTH_MAX) /* pass 1 already refused this */
				return too_deep(ld);
			if (!(ld->maps[ld->nmaps] = trmx_xstrdup(key)))
				return trmx_error_set(ld->err, TRMX_ENOMEM, "%s: out of memory", ld->path);
			ld->nmaps++;
			if ((rc = read_mapping(ld, key, depth + 1)) < 0)
				return rc;
			break;
		case YAML_SEQUENCE_START_EVENT:
			return yaml_fail(ld, mark, TRMX_EFORMAT, key, "sequences are not supported");
		case YAML_ALIAS_EVENT:
			return yaml_fail(ld, mark, TRMX_EFORMAT, key, "aliases (*%.32s) are not supported",
					 (const char *)ld->y.ev.data.alias.anchor);
		default:
			return yaml_fail(ld, mark, TRMX_EFORMAT, key, "unexpected YAML event");
		}
	}
}

/* Pass 2: read the selected mapping (pair `which` of the top level, or the top level itself). */
static int read_config(struct loader *ld, long which)
{
	int rc;
	if ((rc = trmx_yaml_start(&ld->y, ld->path, ld->text, ld->len, ld->err)) < 0 || (rc = read_prologue(ld)) < 0)
		return rc;
	if (which < 0) {
		if ((rc = check_anchor(ld, NULL)) < 0)
			return rc;
		return read_mapping(ld, "", 1);
	}
	for (long pair = 0;; pair++) {
		if ((rc = trmx_yaml_next(&ld->y)) < 0 || (rc = trmx_yaml_next(&ld->y)) < 0)
			return rc;
		if (pair == which) {
			if ((rc = check_anchor(ld, "arch")) < 0)
				return rc;
			return read_mapping(ld, "", 1);
		}
		if ((rc = skip_node(ld, 1)) < 0)
			return rc;
	}
}

/* If `v` is exactly "${.name}", the length of name (else 0) and where it starts. */
static size_t sibling_ref(const char *v, const char **name)
{
	size_t n = strlen(v);
	if (n < 5 || strncmp(v, "${.", 3) || v[n - 1] != '}' || v[3] == '.')
		return 0; /* ${..key} (the parent's key) is another OmegaConf form: kept as text */
	for (size_t i = 3; i < n - 1; i++) {
		if (v[i] == '}' || v[i] == '{' || v[i] == '$' || v[i] == ' ')
			return 0;
	}
	*name = v + 3;
	return n - 4;
}

/* Replace every ${.key} by the value of `key` in the same mapping, following chains. */
static int resolve_interpolations(struct loader *ld)
{
	trmx_config *c = ld->cfg;
	char target[TRMX_CONFIG_KEY_MAX + 2];

	for (size_t i = 0; i < c->count; i++) {
		size_t cur = i, hops = 0;
		const char *name;
		size_t nlen;
		while ((nlen = sibling_ref(c->values[cur], &name)) > 0) {
			size_t plen = ld->origins[cur].prefix_len;
			ssize_t j = -1;
			if (plen + 1 + nlen <= TRMX_CONFIG_KEY_MAX) {
				snprintf(target, sizeof target, "%.*s%s%.*s", (int)plen, c->keys[cur],
					 plen ? "." : "", (int)nlen, name);
				j = config_find(c, target);
			}
			if (j < 0)
				return trmx_error_set(ld->err, TRMX_EFORMAT,
						      "%s:%zu:%zu: key '%s': cannot resolve %s: no "
						      "scalar sibling key '%.*s'",
						      ld->path, ld->origins[cur].line,
						      ld->origins[cur].column, c->keys[cur],
						      c->values[cur], (int)nlen, name);
			if (++hops > c->count)
				return trmx_error_set(ld->err, TRMX_EFORMAT,
						      "%s:%zu:%zu: key '%s': interpolation cycle",
						      ld->path, ld->origins[i].line,
						      ld->origins[i].column, c->keys[i]);
			cur = (size_t)j;
		}
		if (cur != i) {
			char *v = trmx_xstrdup(c->values[cur]);
			if (!v)
				return trmx_error_set(ld->err, TRMX_ENOMEM, "%s: out of memory", ld->path);
			free(c->values[i]);
			c->values[i] = v;
		}
	}
	return 0;
}

static int load_yaml(trmx_config **out, const char *path, bool whole, trmx_error *err);

/* Load a YAML architecture config; see trmx.h. */
int trmx_config_load_yaml(trmx_config **out, const char *path, trmx_error *err)
{
	return load_yaml(out, path, false, err);
}

/* Load every key of a YAML document; see trmx.h. */
int trmx_config_load_yaml_all(trmx_config **out, const char *path, trmx_error *err)
{
	return load_yaml(out, path, true, err);
}

static int load_yaml(trmx_config **out, const char *path, bool whole, trmx_error *err)
{
	struct loader ld = { 0 };
	char *text = NULL;
	long which = -1;
	int rc;

	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_config_load_yaml: NULL argument");
	ld.path = path;
	ld.err = err;
	if ((rc = trmx_read_file(path, TRMX_CONFIG_FILE_MAX, "TRMX_CONFIG_FILE_MAX", 0, &text, &ld.len, err)) < 0)
		goto done;
	ld.text = (const unsigned char *)text;
	ld.origins = trmx_xcalloc(TRMX_CONFIG_KEYS_MAX, sizeof *ld.origins);
	ld.maps = trmx_xcalloc(TRMX_CONFIG_KEYS_MAX, sizeof *ld.maps);
	if (!ld.origins || !ld.maps) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", path);
		goto done;
	}
	if ((rc = trmx_config_new(&ld.cfg, err)) < 0 || (rc = find_arch(&ld, &which)) < 0 ||
	    (rc = read_config(&ld, whole ? -1 : which)) < 0 || (rc = resolve_interpolations(&ld)) < 0)
		goto done;
	*out = ld.cfg;
	ld.cfg = NULL;
done:
	trmx_yaml_end(&ld.y);
	for (size_t i = 0; i < ld.nmaps; i++)
		free(ld.maps[i]);
	free(ld.maps);
	free(ld.origins);
	trmx_config_free(ld.cfg);
	free(text);
	return rc;
}

/* The engine an architecture belongs to, from the official config's `name`; see trmx.h. */
const char *trmx_config_engine(const trmx_config *c)
{
	const char *name = c ? trmx_config_get(c, "name") : NULL;
	return name && !strncmp(name, "hrm.", 4) ? "hrm" : "trm";
}

/* ---- Typed settings (core_int.h) ---------------------------------------------------------- */

static int setting_absent(const char *where, const char *key, bool required, trmx_error *err)
{
	return required ? trmx_error_set(err, TRMX_EINVAL, "%s: '%s' is missing", where, key) : 0;
}

int trmx_setting_long(const char *where, const char *key, const char *v, bool required, long def, long lo, long hi,
		      long *out, trmx_error *err)
{
	long x = def;
	int rc;
	if (!v && (rc = setting_absent(where, key, required, err)) < 0)
		return rc;
	if (v && !trmx_parse_long(v, &x))
		return trmx_error_set(err, TRMX_EINVAL, "%s: '%s' must be an integer, not '%s'", where, key, v);
	if (x < lo || x > hi)
		return trmx_error_set(err, TRMX_EINVAL, "%s: '%s' = %ld is outside [%ld, %ld]", where, key, x, lo, hi);
	*out = x;
	return 0;
}

int trmx_setting_double(const char *where, const char *key, const char *v, bool required, double def, double lo,
			double hi, double *out, trmx_error *err)
{
	double x = def;
	int rc;
	if (!v && (rc = setting_absent(where, key, required, err)) < 0)
		return rc;
	if (v && !trmx_parse_double(v, &x))
		return trmx_error_set(err, TRMX_EINVAL, "%s: '%s' must be a number, not '%s'", where, key, v);
	if (!(x >= lo && x <= hi))
		return trmx_error_set(err, TRMX_EINVAL, "%s: '%s' = %g is outside [%g, %g]", where, key, x, lo, hi);
	*out = x;
	return 0;
}

int trmx_setting_bool(const char *where, const char *key, const char *v, bool def, bool *out, trmx_error *err)
{
	bool x = def;
	if (v && !trmx_parse_bool(v, &x))
		return trmx_error_set(err, TRMX_EINVAL, "%s: '%s' must be true or false, not '%s'", where, key, v);
	*out = x;
	return 0;
}
