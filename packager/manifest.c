/*
 * manifest.c — the package manifest (manifest.yaml): reading, validating against the
 * specification, and the accessors. docs/FORMAT.md is the specification in words; the table
 * `fields` below is the same specification as the reader enforces it (a test checks that the
 * two agree both ways).
 *
 * Reading is two steps. libyaml's event API builds a small tree of nodes (scalars, mappings,
 * sequences) from the bytes, refusing anchors, aliases, tags, more than one document, NUL bytes
 * in scalars, and capping the bytes, the nodes, one scalar's length and the nesting (libyaml's
 * scanner is quadratic in flow nesting, so the cap stops a deep "[[[[" early). Then the tree is
 * walked against `fields`: every key must be a field of its mapping or an x-* extension where
 * the table allows one; each value must have its field's type and limits; required keys must be
 * present; duplicate keys are refused. Messages name the source, line, column and key path.
 *
 * The manifest is untrusted input (it comes inside a package from a stranger): every limit is a
 * named constant of limits.h.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trmx/engine.h"
#include "package_int.h"
#include "core/yaml_int.h"

/* ---- The tree ---------------------------------------------------------------------------- */

enum node_kind { NODE_SCALAR, NODE_MAP, NODE_SEQ };

struct node {
	enum node_kind kind;
	size_t line, col;       /* 1-based */
	size_t start, end;      /* character indices (libyaml marks) */
	char *text;             /* scalar, NUL-terminated */
	size_t len;
	uint32_t *kids;         /* map: key, value, key, value...; seq: items */
	uint32_t nkids, capkids;
};

/* ---- The specification ------------------------------------------------------------------- */

enum ftype {
	F_MAP,       /* mapping with the fields listed under it */
	F_MAPOF,     /* mapping whose keys are names (metrics: set -> mapping) */
	F_PARAMS,    /* mapping of scalars (task.params) */
	F_LIST,      /* sequence of the item field "path[]" */
	F_INT,       /* integer in [lo, hi] */
	F_NUM,       /* finite number in [lo, hi] */
	F_BOOL,
	F_STRING,    /* one line of UTF-8 without control characters, up to max bytes */
	F_TEXT,      /* UTF-8, newlines and tabs allowed, up to max bytes */
	F_NAME,      /* module name: [a-z0-9]+(-[a-z0-9]+)*, up to TRMX_MANIFEST_NAME_MAX */
	F_IDENT,     /* engine or codec: [a-z0-9_-]+ up to TRMX_MANIFEST_NAME_MAX */
	F_SETNAME,   /* metric set name: [A-Za-z0-9._-]+ up to TRMX_MANIFEST_NAME_MAX */
	F_SEMVER,
	F_SPDX,
	F_URL,
	F_RANGE,
	F_SHA256,
	F_PATH,      /* member path */
	F_HALT,      /* "fixed" or "adaptive" */
	F_SCALAR,    /* any scalar (task.params values) */
	F_EXT        /* x-* extension: any YAML, kept as written */
};

struct field {
	trmx_manifest_field pub; /* path, type in the words of the docs, required */
	enum ftype type;
	double lo, hi;           /* F_INT, F_NUM */
	size_t max;              /* F_STRING, F_TEXT, F_LIST: bytes or items */
};

/* The type words of docs/FORMAT.md. */
#define TW_F_MAP "mapping"
#define TW_F_MAPOF "mapping of sets"
#define TW_F_PARAMS "mapping of scalars"
#define TW_F_LIST "list"
#define TW_F_INT "integer"
#define TW_F_NUM "number"
#define TW_F_BOOL "boolean"
#define TW_F_STRING "string"
#define TW_F_TEXT "text"
#define TW_F_NAME "name"
#define TW_F_IDENT "identifier"
#define TW_F_SETNAME "set name"
#define TW_F_SEMVER "SemVer"
#define TW_F_SPDX "SPDX expression"
#define TW_F_URL "URL"
#define TW_F_RANGE "version range"
#define TW_F_SHA256 "SHA-256"
#define TW_F_PATH "member path"
#define TW_F_HALT "halt mode"
#define TW_F_SCALAR "scalar"
#define TW_F_EXT "any YAML"
#define FLD(path, type, req, lo, hi, max) { { path, TW_##type, req }, type, lo, hi, max }

#define I32 2147483647.0
#define I63 9223372036854775807.0

/* The specification. Order matters only for docs and listing: parents before children. */
static const struct field fields[] = {
	FLD("format_version", F_INT, true, 1, 1000000, 0),
	FLD("name", F_NAME, true, 0, 0, TRMX_MANIFEST_NAME_MAX),
	FLD("version", F_SEMVER, true, 0, 0, TRMX_MANIFEST_VERSION_MAX),
	FLD("description", F_TEXT, true, 0, 0, TRMX_MANIFEST_DESCRIPTION_MAX),
	FLD("license", F_SPDX, true, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("authors", F_LIST, true, 0, 0, TRMX_MANIFEST_AUTHORS_MAX),
	FLD("authors[]", F_STRING, true, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("homepage", F_URL, false, 0, 0, TRMX_MANIFEST_URL_MAX),
	FLD("engine", F_MAP, true, 0, 0, 0),
	FLD("engine.name", F_IDENT, true, 0, 0, TRMX_MANIFEST_NAME_MAX),
	FLD("engine.abi", F_RANGE, true, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("engine.x-*", F_EXT, false, 0, 0, 0),
	FLD("task", F_MAP, true, 0, 0, 0),
	FLD("task.codec", F_IDENT, true, 0, 0, TRMX_MANIFEST_NAME_MAX),
	FLD("task.params", F_PARAMS, false, 0, 0, TRMX_TASK_PARAMS_MAX),
	FLD("task.params.*", F_SCALAR, false, 0, 0, TRMX_TASK_PARAM_MAX),
	FLD("task.x-*", F_EXT, false, 0, 0, 0),
	FLD("architecture", F_MAP, true, 0, 0, 0),
	FLD("architecture.name", F_STRING, false, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("architecture.batch_size", F_INT, false, 0, I32, 0),
	FLD("architecture.seq_len", F_INT, false, 0, I32, 0),
	FLD("architecture.vocab_size", F_INT, false, 0, I32, 0),
	FLD("architecture.num_puzzle_identifiers", F_INT, false, 0, I32, 0),
	FLD("architecture.puzzle_emb_ndim", F_INT, false, 0, I32, 0),
	FLD("architecture.puzzle_emb_len", F_INT, false, 0, I32, 0),
	FLD("architecture.H_cycles", F_INT, false, 0, I32, 0),
	FLD("architecture.L_cycles", F_INT, false, 0, I32, 0),
	FLD("architecture.H_layers", F_INT, false, 0, I32, 0),
	FLD("architecture.L_layers", F_INT, false, 0, I32, 0),
	FLD("architecture.hidden_size", F_INT, false, 0, I32, 0),
	FLD("architecture.expansion", F_NUM, false, 0, 1e6, 0),
	FLD("architecture.num_heads", F_INT, false, 0, I32, 0),
	FLD("architecture.pos_encodings", F_STRING, false, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("architecture.rms_norm_eps", F_NUM, false, 0, 1, 0),
	FLD("architecture.rope_theta", F_NUM, false, 0, 1e15, 0),
	FLD("architecture.halt_max_steps", F_INT, false, 0, I32, 0),
	FLD("architecture.halt_exploration_prob", F_NUM, false, 0.0, 1.0, 0),
	FLD("architecture.forward_dtype", F_STRING, false, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("architecture.mlp_t", F_BOOL, false, 0, 0, 0),
	FLD("architecture.no_ACT_continue", F_BOOL, false, 0, 0, 0),
	FLD("architecture.loss", F_MAP, false, 0, 0, 0),
	FLD("architecture.loss.name", F_STRING, false, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("architecture.loss.loss_type", F_STRING, false, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("training", F_MAP, false, 0, 0, 0),
	FLD("training.dataset", F_STRING, true, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("training.dataset_sha256", F_SHA256, false, 0, 0, 0),
	FLD("training.steps", F_INT, false, 0, I63, 0),
	FLD("training.seed", F_INT, false, -I63, I63, 0),
	FLD("training.hardware", F_STRING, false, 0, 0, TRMX_MANIFEST_STRING_MAX),
	FLD("training.duration", F_NUM, false, 0, 1e12, 0),
	FLD("training.base", F_SHA256, false, 0, 0, 0),
	FLD("training.corrections_sha256", F_SHA256, false, 0, 0, 0),
	FLD("training.x-*", F_EXT, false, 0, 0, 0),
	FLD("halting", F_MAP, false, 0, 0, 0),
	FLD("halting.threshold", F_NUM, false, -100, 100, 0),
	FLD("halting.max_steps", F_INT, false, 1, TRMX_SOLVE_STEPS_MAX, 0),
	FLD("metrics", F_MAPOF, false, 0, 0, TRMX_MANIFEST_METRICS_MAX),
	FLD("metrics.*", F_MAP, false, 0, 0, 0),
	FLD("metrics.*.exact_accuracy", F_NUM, true, 0.0, 1.0, 0),
	FLD("metrics.*.token_accuracy", F_NUM, false, 0.0, 1.0, 0),
	FLD("metrics.*.mean_steps", F_NUM, false, 0, TRMX_SOLVE_STEPS_MAX, 0),
	FLD("metrics.*.count", F_INT, false, 1, I63, 0),
	FLD("metrics.*.halt", F_HALT, false, 0, 0, 0),
	FLD("metrics.*.max_steps", F_INT, false, 1, TRMX_SOLVE_STEPS_MAX, 0),
	FLD("metrics.*.x-*", F_EXT, false, 0, 0, 0),
	FLD("examples", F_LIST, false, 0, 0, TRMX_MANIFEST_EXAMPLES_MAX),
	FLD("examples[]", F_MAP, true, 0, 0, 0),
	FLD("examples[].input", F_PATH, true, 0, 0, 0),
	FLD("examples[].expected", F_PATH, false, 0, 0, 0),
	FLD("examples[].x-*", F_EXT, false, 0, 0, 0),
	FLD("files", F_LIST, true, 0, 0, TRMX_PACKAGE_ENTRIES_MAX),
	FLD("files[]", F_MAP, true, 0, 0, 0),
	FLD("files[].path", F_PATH, true, 0, 0, 0),
	FLD("files[].size", F_INT, true, 0, (double)TRMX_PACKAGE_UNPACKED_MAX, 0),
	FLD("files[].sha256", F_SHA256, true, 0, 0, 0),
	FLD("x-*", F_EXT, false, 0, 0, 0),
};
#define NFIELDS (sizeof fields / sizeof *fields)

static const char *type_word(enum ftype t)
{
	switch (t) {
	case F_MAP: return TW_F_MAP;
	case F_MAPOF: return TW_F_MAPOF;
	case F_PARAMS: return TW_F_PARAMS;
	case F_LIST: return TW_F_LIST;
	case F_INT: return TW_F_INT;
	case F_NUM: return TW_F_NUM;
	case F_BOOL: return TW_F_BOOL;
	case F_STRING: return TW_F_STRING;
	case F_TEXT: return TW_F_TEXT;
	case F_NAME: return TW_F_NAME;
	case F_IDENT: return TW_F_IDENT;
	case F_SETNAME: return TW_F_SETNAME;
	case F_SEMVER: return TW_F_SEMVER;
	case F_SPDX: return TW_F_SPDX;
	case F_URL: return TW_F_URL;
	case F_RANGE: return TW_F_RANGE;
	case F_SHA256: return TW_F_SHA256;
	case F_PATH: return TW_F_PATH;
	case F_HALT: return TW_F_HALT;
	case F_SCALAR: return TW_F_SCALAR;
	case F_EXT: return TW_F_EXT;
	}
	return "?";
}

size_t trmx_manifest_field_count(void)
{
	return NFIELDS;
}

const trmx_manifest_field *trmx_manifest_field_at(size_t i)
{
	return i < NFIELDS ? &fields[i].pub : NULL;
}

static const struct field *field_find(const char *path)
{
	for (size_t i = 0; i < NFIELDS; i++)
		if (!strcmp(fields[i].pub.path, path))
			return &fields[i];
	return NULL;
}

/* ---- The manifest ------------------------------------------------------------------------ */

struct ext {
	char *key;
	char *yaml;
};

struct trmx_manifest {
	char *text;
	size_t len;
	char *source;
	struct node *nodes;
	size_t nnodes, capnodes;

	int format_version;
	const char *name, *version, *description, *license, *homepage;
	const char **authors;
	size_t nauthors;
	const char *engine_name, *engine_abi;
	const char *codec;
	trmx_config *params, *arch;
	trmx_manifest_training training;
	bool has_training;
	double halt_threshold;
	int max_steps; /* halting.max_steps; 0 when absent */
	trmx_manifest_metric *metrics;
	size_t nmetrics;
	trmx_manifest_example *examples;
	size_t nexamples;
	trmx_manifest_file *files;
	size_t nfiles;
	struct ext *exts;
	size_t nexts;
};

/* ---- Building the tree ------------------------------------------------------------------- */

struct builder {
	trmx_manifest *m;
	trmx_yaml y;
	trmx_error *err;
};

static int failf(const trmx_manifest *m, trmx_error *err, int code, size_t line, size_t col,
		 const char *key, const char *fmt, ...) TRMX_PRINTF(7, 8);

/* "source:line:col: key 'a.b': message" (line 0: no position). */
static int failf(const trmx_manifest *m, trmx_error *err, int code, size_t line, size_t col,
		 const char *key, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = trmx_yaml_vfail(err, code, m->source, line, col, key, fmt, ap);
	va_end(ap);
	return rc;
}

static int new_node(struct builder *b, enum node_kind kind, uint32_t *idx)
{
	trmx_manifest *m = b->m;
	if (m->nnodes >= TRMX_MANIFEST_NODES_MAX)
		return failf(m, b->err, TRMX_ELIMIT, b->y.ev.start_mark.line + 1,
			     b->y.ev.start_mark.column + 1, NULL,
			     "more than TRMX_MANIFEST_NODES_MAX (%d) YAML nodes",
			     TRMX_MANIFEST_NODES_MAX);
	if (m->nnodes == m->capnodes) {
		size_t cap = m->capnodes ? m->capnodes * 2 : 64;
		struct node *n = trmx_xrealloc(m->nodes, cap * sizeof *n);
		if (!n)
			return trmx_error_set(b->err, TRMX_ENOMEM, "%s: out of memory", m->source);
		m->nodes = n;
		m->capnodes = cap;
	}
	struct node *n = &m->nodes[m->nnodes];
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->line = b->y.ev.start_mark.line + 1;
	n->col = b->y.ev.start_mark.column + 1;
	n->start = b->y.ev.start_mark.index;
	n->end = b->y.ev.end_mark.index;
	*idx = (uint32_t)m->nnodes++;
	return 0;
}

static int add_kid(struct builder *b, uint32_t parent, uint32_t kid)
{
	struct node *p = &b->m->nodes[parent];
	if (p->nkids == p->capkids) {
		uint32_t cap = p->capkids ? p->capkids * 2 : 8;
		uint32_t *k = trmx_xrealloc(p->kids, cap * sizeof *k);
		if (!k)
			return trmx_error_set(b->err, TRMX_ENOMEM, "%s: out of memory", b->m->source);
		p->kids = k;
		p->capkids = cap;
	}
	p->kids[p->nkids++] = kid;
	return 0;
}

/* Anchors, tags and aliases are refused: aliases make a small file expand into a large tree
 * ("billion laughs"), and tags would ask for types the spec does not have. */
static int check_event_props(struct builder *b)
{
	const yaml_event_t *e = &b->y.ev;
	const yaml_char_t *anchor = NULL, *tag = NULL;
	size_t line = e->start_mark.line + 1, col = e->start_mark.column + 1;
	switch (e->type) {
	case YAML_ALIAS_EVENT:
		return failf(b->m, b->err, TRMX_EFORMAT, line, col, NULL,
			     "YAML aliases (*%.32s) are not allowed in a manifest",
			     (const char *)e->data.alias.anchor);
	case YAML_SCALAR_EVENT:
		anchor = e->data.scalar.anchor;
		tag = e->data.scalar.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = e->data.mapping_start.anchor;
		tag = e->data.mapping_start.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = e->data.sequence_start.anchor;
		tag = e->data.sequence_start.tag;
		break;
	default:
		break;
	}
	if (anchor)
		return failf(b->m, b->err, TRMX_EFORMAT, line, col, NULL,
			     "YAML anchors (&%.32s) are not allowed in a manifest", (const char *)anchor);
	if (tag)
		return failf(b->m, b->err, TRMX_EFORMAT, line, col, NULL,
			     "YAML tags (%.32s) are not allowed in a manifest", (const char *)tag);
	return 0;
}

static int build_tree(struct builder *b)
{
	trmx_manifest *m = b->m;
	uint32_t stack[TRMX_MANIFEST_DEPTH_MAX + 1];
	int depth = 0, docs = 0, rc;
	bool root_done = false;

	if ((rc = trmx_yaml_start(&b->y, m->source, m->text, m->len, b->err)) < 0)
		return rc;

	for (;;) {
		if ((rc = trmx_yaml_next(&b->y)) < 0)
			return rc;
		yaml_event_t *e = &b->y.ev;
		size_t line = e->start_mark.line + 1, col = e->start_mark.column + 1;
		if ((rc = check_event_props(b)) < 0)
			return rc;
		switch (e->type) {
		case YAML_STREAM_START_EVENT:
		case YAML_NO_EVENT:
			break;
		case YAML_DOCUMENT_START_EVENT:
			if (++docs > 1)
				return failf(m, b->err, TRMX_EFORMAT, line, col, NULL,
					     "more than one YAML document");
			break;
		case YAML_DOCUMENT_END_EVENT:
			break;
		case YAML_STREAM_END_EVENT:
			if (!root_done)
				return failf(m, b->err, TRMX_EFORMAT, 0, 0, NULL,
					     "empty manifest: the top level must be a mapping");
			return 0;
		case YAML_SCALAR_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT: {
			enum node_kind kind = e->type == YAML_SCALAR_EVENT ? NODE_SCALAR
					      : e->type == YAML_MAPPING_START_EVENT ? NODE_MAP
										    : NODE_SEQ;
			uint32_t idx = 0;
			if (depth == 0 && kind != NODE_MAP)
				return failf(m, b->err, TRMX_EFORMAT, line, col, NULL,
					     "the top level is not a mapping");
			if (depth > 0) {
				const struct node *p = &m->nodes[stack[depth - 1]];
				if (p->kind == NODE_MAP && p->nkids % 2 == 0 && kind != NODE_SCALAR)
					return failf(m, b->err, TRMX_EFORMAT, line, col, NULL,
						     "a mapping key is not a scalar");
			}
			if (kind != NODE_SCALAR && depth + 1 > TRMX_MANIFEST_DEPTH_MAX)
				return failf(m, b->err, TRMX_ELIMIT, line, col, NULL,
					     "collections nested deeper than TRMX_MANIFEST_DEPTH_MAX (%d)",
					     TRMX_MANIFEST_DEPTH_MAX);
			if (kind == NODE_SCALAR) {
				size_t len = e->data.scalar.length;
				if (len > TRMX_MANIFEST_SCALAR_MAX)
					return failf(m, b->err, TRMX_ELIMIT, line, col, NULL,
						     "a scalar of %zu bytes, more than "
						     "TRMX_MANIFEST_SCALAR_MAX (%u)",
						     len, TRMX_MANIFEST_SCALAR_MAX);
				if (memchr(e->data.scalar.value, '\0', len))
					return failf(m, b->err, TRMX_EFORMAT, line, col, NULL,
						     "a scalar holds a NUL byte");
			}
			if ((rc = new_node(b, kind, &idx)) < 0)
				return rc;
			if (kind == NODE_SCALAR) {
				struct node *n = &m->nodes[idx];
				n->len = e->data.scalar.length;
				if (!(n->text = trmx_xmalloc(n->len + 1)))
					return trmx_error_set(b->err, TRMX_ENOMEM, "%s: out of memory",
							      m->source);
				memcpy(n->text, e->data.scalar.value, n->len);
				n->text[n->len] = '\0';
			}
			if (depth > 0 && (rc = add_kid(b, stack[depth - 1], idx)) < 0)
				return rc;
			if (kind != NODE_SCALAR)
				stack[depth++] = idx;
			break;
		}
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			m->nodes[stack[depth - 1]].end = e->end_mark.index;
			if (--depth == 0)
				root_done = true;
			break;
		default:
			return failf(m, b->err, TRMX_EFORMAT, line, col, NULL, "unexpected YAML event");
		}
	}
}

/* ---- Member names ------------------------------------------------------------------------ */

int trmx_package_name_check(const char *name, size_t len, trmx_error *err)
{
	size_t depth = 1, comp = 0;
	if (!name || len == 0)
		return trmx_error_set(err, TRMX_EFORMAT, "empty name");
	if (len > TRMX_PACKAGE_PATH_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "a name of %zu bytes, more than "
				      "TRMX_PACKAGE_PATH_MAX (%d)", len, TRMX_PACKAGE_PATH_MAX);
	if (!trmx_utf8_valid(name, len))
		return trmx_error_set(err, TRMX_EFORMAT, "the name is not valid UTF-8");
	if (trmx__pkg_has_control(name, len))
		return trmx_error_set(err, TRMX_EFORMAT, "the name holds a control character");
	if (name[0] == '/')
		return trmx_error_set(err, TRMX_EFORMAT, "an absolute path");
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '/') {
			if (comp == 0)
				return trmx_error_set(err, TRMX_EFORMAT,
						      i == len ? "a name ending in '/' (a folder)"
							       : "an empty path component ('//')");
			if (comp == 2 && name[i - 1] == '.' && name[i - 2] == '.')
				return trmx_error_set(err, TRMX_EFORMAT, "a '..' component");
			if (comp == 1 && name[i - 1] == '.')
				return trmx_error_set(err, TRMX_EFORMAT, "a '.' component");
			if (i < len && ++depth > TRMX_PACKAGE_DEPTH_MAX)
				return trmx_error_set(err, TRMX_ELIMIT,
						      "more than TRMX_PACKAGE_DEPTH_MAX (%d) components",
						      TRMX_PACKAGE_DEPTH_MAX);
			comp = 0;
			continue;
		}
		if (name[i] == '\\' || name[i] == ':')
			return trmx_error_set(err, TRMX_EFORMAT, "a '%c' in the name", name[i]);
		comp++;
	}
	return 0;
}

/* ---- Validating the tree ----------------------------------------------------------------- */

struct walker {
	trmx_manifest *m;
	trmx_manifest_mode mode;
	trmx_error *err;
	size_t cur_char, cur_byte; /* cursor for character index -> byte offset */
};

static int fail_node(struct walker *w, const struct node *n, int code, const char *key,
		     const char *fmt, ...) TRMX_PRINTF(5, 6);

static int fail_node(struct walker *w, const struct node *n, int code, const char *key,
		     const char *fmt, ...)
{
	char msg[TRMX_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return failf(w->m, w->err, code, n->line, n->col, key, "%s", msg);
}

static const char *kind_word(enum node_kind k)
{
	return k == NODE_SCALAR ? "a scalar" : k == NODE_MAP ? "a mapping" : "a list";
}

/* Byte offset of character index `ci`, moving the cursor forward (calls come in document order;
 * a backward request restarts from the beginning). */
static size_t byte_at(struct walker *w, size_t ci)
{
	const unsigned char *t = (const unsigned char *)w->m->text;
	if (ci < w->cur_char)
		w->cur_char = w->cur_byte = 0;
	while (w->cur_char < ci && w->cur_byte < w->m->len) {
		w->cur_byte++;
		while (w->cur_byte < w->m->len && (t[w->cur_byte] & 0xC0) == 0x80)
			w->cur_byte++;
		w->cur_char++;
	}
	return w->cur_byte;
}

static int add_extension(struct walker *w, const char *keypath, const struct node *v)
{
	trmx_manifest *m = w->m;
	size_t b = byte_at(w, v->start), e = byte_at(w, v->end);
	/* A block collection starts at its first key: take its line's indentation too, so the
	 * text is the block as written. */
	if (v->kind != NODE_SCALAR) {
		size_t s = b;
		while (s > 0 && m->text[s - 1] == ' ')
			s--;
		if (s == 0 || m->text[s - 1] == '\n')
			b = s;
	}
	while (e > b && (m->text[e - 1] == ' ' || m->text[e - 1] == '\n' ||
			 m->text[e - 1] == '\r' || m->text[e - 1] == '\t'))
		e--;
	struct ext *x = trmx_xrealloc(m->exts, (m->nexts + 1) * sizeof *x);
	if (!x)
		return trmx_error_set(w->err, TRMX_ENOMEM, "%s: out of memory", m->source);
	m->exts = x;
	x = &m->exts[m->nexts];
	x->key = trmx_xstrdup(keypath);
	x->yaml = trmx_xstrndup(m->text + b, e - b);
	if (!x->key || !x->yaml) {
		free(x->key);
		free(x->yaml);
		return trmx_error_set(w->err, TRMX_ENOMEM, "%s: out of memory", m->source);
	}
	m->nexts++;
	return 0;
}

/* Check a scalar against its field's type. */
static int check_scalar(struct walker *w, const struct field *f, const struct node *n,
			const char *key)
{
	const char *s = n->text;
	size_t len = n->len;
	if (n->kind != NODE_SCALAR)
		return fail_node(w, n, TRMX_EFORMAT, key, "expected %s, found %s",
				 f->type == F_SCALAR ? "a scalar" : type_word(f->type), kind_word(n->kind));
	switch (f->type) {
	case F_INT: {
		long v;
		if (!trmx_parse_long(s, &v) || len > 20)
			return fail_node(w, n, TRMX_EFORMAT, key, "expected an integer, found '%.64s'", s);
		if ((double)v < f->lo || (double)v > f->hi)
			return fail_node(w, n, TRMX_EFORMAT, key, "%ld is outside [%.0f, %.0f]", v, f->lo,
					 f->hi);
		return 0;
	}
	case F_NUM: {
		double v;
		if (!trmx_parse_double(s, &v))
			return fail_node(w, n, TRMX_EFORMAT, key, "expected a number, found '%.64s'", s);
		if (v < f->lo || v > f->hi)
			return fail_node(w, n, TRMX_EFORMAT, key, "%g is outside [%g, %g]", v, f->lo, f->hi);
		return 0;
	}
	case F_BOOL: {
		bool v;
		if (!trmx_parse_bool(s, &v))
			return fail_node(w, n, TRMX_EFORMAT, key, "expected true or false, found '%.64s'", s);
		return 0;
	}
	case F_STRING:
	case F_TEXT:
		if (len == 0)
			return fail_node(w, n, TRMX_EFORMAT, key, "an empty string");
		if (len > f->max)
			return fail_node(w, n, TRMX_ELIMIT, key, "%zu bytes, more than the limit of %zu",
					 len, f->max);
		for (size_t i = 0; i < len; i++) {
			unsigned char c = (unsigned char)s[i];
			bool ok = f->type == F_TEXT && (c == '\n' || c == '\t');
			if ((c < 0x20 || c == 0x7f) && !ok)
				return fail_node(w, n, TRMX_EFORMAT, key,
						 "a control character (0x%02x) at byte %zu", c, i);
		}
		if (trmx__pkg_has_control(s, len) && f->type == F_STRING)
			return fail_node(w, n, TRMX_EFORMAT, key, "a control character");
		return 0;
	case F_NAME:
		if (!trmx_syntax_name(s, len))
			return fail_node(w, n, len > TRMX_MANIFEST_NAME_MAX ? TRMX_ELIMIT : TRMX_EFORMAT, key,
					 "'%.80s' is not a package name: lowercase letters, digits and "
					 "single inner '-', at most TRMX_MANIFEST_NAME_MAX (%d) bytes",
					 s, TRMX_MANIFEST_NAME_MAX);
		return 0;
	case F_IDENT:
		if (!trmx_syntax_ident(s, len))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "'%.80s' is not an identifier ([a-z0-9_-], at most %d bytes)", s,
					 TRMX_MANIFEST_NAME_MAX);
		return 0;
	case F_SETNAME:
		if (!trmx_syntax_setname(s, len))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "'%.80s' is not a set name ([A-Za-z0-9._-], at most %d bytes)", s,
					 TRMX_MANIFEST_NAME_MAX);
		return 0;
	case F_SEMVER:
		if (!trmx_semver_valid(s))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "'%.80s' is not a SemVer 2.0 version (like 1.2.3 or 1.0.0-rc.1)", s);
		return 0;
	case F_SPDX:
		if (len > f->max || !trmx_syntax_spdx(s, len))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "'%.80s' is not an SPDX license expression (like MIT or "
					 "Apache-2.0 OR MIT)", s);
		return 0;
	case F_URL:
		if (len > f->max)
			return fail_node(w, n, TRMX_ELIMIT, key, "%zu bytes, more than the limit of %zu",
					 len, f->max);
		if (!trmx_syntax_url(s, len))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "'%.80s' is not an http:// or https:// URL without spaces", s);
		return 0;
	case F_RANGE: {
		trmx_range_term t[TRMX_RANGE_TERMS_MAX];
		size_t nt;
		if (len > f->max || trmx_syntax_range_parse(s, t, &nt) < 0)
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "'%.80s' is not a version range like \">=1 <2\"", s);
		return 0;
	}
	case F_SHA256:
		if (!trmx__pkg_is_sha256_hex(s, len))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "expected 64 lowercase hex digits, found '%.80s'", s);
		return 0;
	case F_PATH: {
		trmx_error e2 = { 0 };
		int rc = trmx_package_name_check(s, len, &e2);
		if (rc < 0)
			return fail_node(w, n, rc, key, "'%.80s' is not a valid member path: %s", s,
					 e2.message);
		if (!strcmp(s, PKG_MANIFEST) || !strcmp(s, PKG_SIGNATURE))
			return fail_node(w, n, TRMX_EFORMAT, key, "'%s' is not a listed member", s);
		return 0;
	}
	case F_HALT:
		if (strcmp(s, "fixed") && strcmp(s, "adaptive"))
			return fail_node(w, n, TRMX_EFORMAT, key,
					 "expected 'fixed' or 'adaptive', found '%.64s'", s);
		return 0;
	case F_SCALAR:
		if (len > f->max)
			return fail_node(w, n, TRMX_ELIMIT, key, "%zu bytes, more than the limit of %zu",
					 len, f->max);
		return 0;
	default:
		return fail_node(w, n, TRMX_EFORMAT, key, "internal: no scalar check for %s",
				 type_word(f->type));
	}
}

static int walk(struct walker *w, const struct field *f, const struct node *n, const char *spath,
		const char *kpath);

/* Join "a.b" + "c" into buf. */
static void join(char *buf, size_t cap, const char *a, const char *sep, const char *b)
{
	snprintf(buf, cap, "%s%s%s", a, *a ? sep : "", b);
}

static int walk_map(struct walker *w, const struct field *f, const struct node *n,
		    const char *spath, const char *kpath)
{
	trmx_manifest *m = w->m;
	char sp[512], kp[512];
	int rc;
	bool seen[NFIELDS] = { false };

	if (n->kind != NODE_MAP)
		return fail_node(w, n, TRMX_EFORMAT, kpath, "expected %s, found %s", type_word(f->type),
				 kind_word(n->kind));
	if ((f->type == F_MAPOF || f->type == F_PARAMS) && n->nkids / 2 > f->max)
		return fail_node(w, n, TRMX_ELIMIT, kpath, "%u entries, more than the limit of %zu",
				 n->nkids / 2, f->max);
	for (uint32_t i = 0; i + 1 < n->nkids; i += 2) {
		const struct node *k = &m->nodes[n->kids[i]], *v = &m->nodes[n->kids[i + 1]];
		const char *key = k->text;
		const struct field *cf = NULL;
		if (k->len == 0 || k->len > 128)
			return fail_node(w, k, TRMX_EFORMAT, kpath, "a key that is empty or longer than 128 bytes");
		for (uint32_t j = 0; j < i; j += 2)
			if (!strcmp(m->nodes[n->kids[j]].text, key)) {
				join(kp, sizeof kp, kpath, ".", key);
				return fail_node(w, k, TRMX_EFORMAT, kp, "duplicate key");
			}
		join(kp, sizeof kp, kpath, ".", key);
		if (f->type == F_MAPOF || f->type == F_PARAMS) {
			join(sp, sizeof sp, spath, ".", "*");
			cf = field_find(sp);
			if (f->type == F_MAPOF && !trmx_syntax_setname(key, k->len))
				return fail_node(w, k, TRMX_EFORMAT, kp,
						 "'%.80s' is not a set name ([A-Za-z0-9._-], at most %d bytes)",
						 key, TRMX_MANIFEST_NAME_MAX);
			if (f->type == F_PARAMS && k->len > TRMX_TASK_PARAM_MAX)
				return fail_node(w, k, TRMX_ELIMIT, kp, "a key longer than TRMX_TASK_PARAM_MAX (%d)",
						 TRMX_TASK_PARAM_MAX);
		} else {
			join(sp, sizeof sp, spath, ".", key);
			cf = strpbrk(key, "*[]. ") ? NULL : field_find(sp);
			if (!cf && !strncmp(key, "x-", 2)) {
				join(sp, sizeof sp, spath, ".", "x-*");
				if (field_find(sp)) {
					if (v->kind == NODE_SCALAR && v->len > TRMX_MANIFEST_SCALAR_MAX)
						return fail_node(w, v, TRMX_ELIMIT, kp, "too long");
					if ((rc = add_extension(w, kp, v)) < 0)
						return rc;
					continue;
				}
			}
			if (!cf)
				return fail_node(w, k, TRMX_EFORMAT, kp,
						 "unknown key (only x-* extension keys may be added%s; "
						 "see docs/FORMAT.md)",
						 !strcmp(spath, "architecture") || !strncmp(spath, "architecture.", 13)
							 ? " elsewhere; architecture holds the official config keys"
							 : "");
			seen[cf - fields] = true;
		}
		if (!strcmp(cf->pub.path, "files") && w->mode == TRMX_MANIFEST_SOURCE)
			return fail_node(w, k, TRMX_EFORMAT, kp,
					 "a module folder's manifest has no files: (trmx pack fills it in)");
		if ((rc = walk(w, cf, v, cf->pub.path, kp)) < 0)
			return rc;
	}
	/* Required children of this mapping. */
	if (f->type == F_MAP) {
		size_t plen = strlen(spath);
		for (size_t i = 0; i < NFIELDS; i++) {
			const char *p = fields[i].pub.path;
			if (!fields[i].pub.required || seen[i])
				continue;
			if (plen ? strncmp(p, spath, plen) || p[plen] != '.' : false)
				continue;
			const char *rest = plen ? p + plen + 1 : p;
			if (strchr(rest, '.') || strchr(rest, '[') || strchr(rest, '*'))
				continue;
			if (!strcmp(p, "files") && w->mode == TRMX_MANIFEST_SOURCE)
				continue;
			return fail_node(w, n, TRMX_EFORMAT, kpath, "missing required key '%s'", rest);
		}
	}
	return 0;
}

static int walk(struct walker *w, const struct field *f, const struct node *n, const char *spath,
		const char *kpath)
{
	char sp[512], kp[512];
	int rc;
	switch (f->type) {
	case F_MAP:
	case F_MAPOF:
	case F_PARAMS:
		return walk_map(w, f, n, spath, kpath);
	case F_LIST: {
		if (n->kind != NODE_SEQ)
			return fail_node(w, n, TRMX_EFORMAT, kpath, "expected a list, found %s",
					 kind_word(n->kind));
		if (n->nkids > f->max)
			return fail_node(w, n, TRMX_ELIMIT, kpath, "%u items, more than the limit of %zu",
					 n->nkids, f->max);
		if (f->pub.required && n->nkids == 0 && strcmp(spath, "files"))
			return fail_node(w, n, TRMX_EFORMAT, kpath, "an empty list");
		snprintf(sp, sizeof sp, "%s[]", spath);
		const struct field *item = field_find(sp);
		for (uint32_t i = 0; i < n->nkids; i++) {
			snprintf(kp, sizeof kp, "%s[%u]", kpath, i);
			if ((rc = walk(w, item, &w->m->nodes[n->kids[i]], item->pub.path, kp)) < 0)
				return rc;
		}
		return 0;
	}
	case F_EXT:
		return 0;
	default:
		return check_scalar(w, f, n, kpath);
	}
}

/* ---- Extracting the values --------------------------------------------------------------- */

static const struct node *map_get(const trmx_manifest *m, const struct node *n, const char *key)
{
	if (!n || n->kind != NODE_MAP)
		return NULL;
	for (uint32_t i = 0; i + 1 < n->nkids; i += 2)
		if (!strcmp(m->nodes[n->kids[i]].text, key))
			return &m->nodes[n->kids[i + 1]];
	return NULL;
}

static const char *map_str(const trmx_manifest *m, const struct node *n, const char *key)
{
	const struct node *v = map_get(m, n, key);
	return v && v->kind == NODE_SCALAR ? v->text : NULL;
}

static double map_num(const trmx_manifest *m, const struct node *n, const char *key, double def)
{
	const char *s = map_str(m, n, key);
	double v;
	return s && trmx_parse_double(s, &v) ? v : def;
}

static int64_t map_int(const trmx_manifest *m, const struct node *n, const char *key, int64_t def)
{
	const char *s = map_str(m, n, key);
	long v;
	return s && trmx_parse_long(s, &v) ? (int64_t)v : def;
}

/* Flatten a mapping of scalars (and mappings of scalars) into a config with dotted keys. */
static int to_config(trmx_manifest *m, const struct node *n, const char *prefix, trmx_config *c,
		     trmx_error *err)
{
	char key[512];
	int rc;
	for (uint32_t i = 0; n && i + 1 < n->nkids; i += 2) {
		const struct node *k = &m->nodes[n->kids[i]], *v = &m->nodes[n->kids[i + 1]];
		join(key, sizeof key, prefix, ".", k->text);
		if (v->kind == NODE_MAP) {
			if ((rc = to_config(m, v, key, c, err)) < 0)
				return rc;
		} else if ((rc = trmx_config_set(c, key, v->text, err)) < 0) {
			return rc;
		}
	}
	return 0;
}

static int extract(trmx_manifest *m, trmx_manifest_mode mode, trmx_error *err)
{
	const struct node *root = &m->nodes[0], *n;
	int rc;
	long fv = 0;

	trmx_parse_long(map_str(m, root, "format_version"), &fv);
	m->format_version = (int)fv;
	m->name = map_str(m, root, "name");
	m->version = map_str(m, root, "version");
	m->description = map_str(m, root, "description");
	m->license = map_str(m, root, "license");
	m->homepage = map_str(m, root, "homepage");

	n = map_get(m, root, "authors");
	m->nauthors = n->nkids;
	if (!(m->authors = trmx_xcalloc(n->nkids + 1, sizeof *m->authors)))
		return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", m->source);
	for (uint32_t i = 0; i < n->nkids; i++)
		m->authors[i] = m->nodes[n->kids[i]].text;

	n = map_get(m, root, "engine");
	m->engine_name = map_str(m, n, "name");
	m->engine_abi = map_str(m, n, "abi");
	n = map_get(m, root, "task");
	m->codec = map_str(m, n, "codec");
	if ((rc = trmx_config_new(&m->params, err)) < 0 ||
	    (rc = to_config(m, map_get(m, n, "params"), "", m->params, err)) < 0 ||
	    (rc = trmx_config_new(&m->arch, err)) < 0 ||
	    (rc = to_config(m, map_get(m, root, "architecture"), "", m->arch, err)) < 0)
		return rc;

	if ((n = map_get(m, root, "training"))) {
		m->has_training = true;
		m->training.dataset = map_str(m, n, "dataset");
		m->training.dataset_sha256 = map_str(m, n, "dataset_sha256");
		m->training.steps = map_int(m, n, "steps", -1);
		m->training.has_seed = map_str(m, n, "seed") != NULL;
		m->training.seed = map_int(m, n, "seed", 0);
		m->training.hardware = map_str(m, n, "hardware");
		m->training.duration = map_num(m, n, "duration", -1.0);
		m->training.base = map_str(m, n, "base");
		m->training.corrections_sha256 = map_str(m, n, "corrections_sha256");
	}
	if ((n = map_get(m, root, "halting"))) {
		m->halt_threshold = map_num(m, n, "threshold", 0.0);
		m->max_steps = (int)map_int(m, n, "max_steps", 0);
	}
	if ((n = map_get(m, root, "metrics"))) {
		m->nmetrics = n->nkids / 2;
		if (!(m->metrics = trmx_xcalloc(m->nmetrics + 1, sizeof *m->metrics)))
			return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", m->source);
		for (size_t i = 0; i < m->nmetrics; i++) {
			const struct node *s = &m->nodes[n->kids[2 * i + 1]];
			trmx_manifest_metric *x = &m->metrics[i];
			x->set = m->nodes[n->kids[2 * i]].text;
			x->exact_accuracy = map_num(m, s, "exact_accuracy", -1);
			x->token_accuracy = map_num(m, s, "token_accuracy", -1);
			x->mean_steps = map_num(m, s, "mean_steps", -1);
			x->count = map_int(m, s, "count", -1);
			x->halt = map_str(m, s, "halt");
			x->max_steps = map_int(m, s, "max_steps", -1);
		}
	}
	if ((n = map_get(m, root, "examples"))) {
		m->nexamples = n->nkids;
		if (!(m->examples = trmx_xcalloc(m->nexamples + 1, sizeof *m->examples)))
			return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", m->source);
		for (size_t i = 0; i < m->nexamples; i++) {
			const struct node *e = &m->nodes[n->kids[i]];
			m->examples[i].input = map_str(m, e, "input");
			m->examples[i].expected = map_str(m, e, "expected");
		}
	}
	if ((n = map_get(m, root, "files"))) {
		m->nfiles = n->nkids;
		if (!(m->files = trmx_xcalloc(m->nfiles + 1, sizeof *m->files)))
			return trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", m->source);
		for (size_t i = 0; i < m->nfiles; i++) {
			const struct node *e = &m->nodes[n->kids[i]];
			trmx_manifest_file *f = &m->files[i];
			f->path = map_str(m, e, "path");
			f->size = (uint64_t)map_int(m, e, "size", 0);
			snprintf(f->sha256, sizeof f->sha256, "%s", map_str(m, e, "sha256"));
			for (size_t j = 0; j < i; j++)
				if (!strcmp(m->files[j].path, f->path))
					return failf(m, err, TRMX_EFORMAT, e->line, e->col, "files",
						     "'%s' is listed twice", f->path);
		}
	}
	/* Cross-field rules. */
	if (m->format_version != TRMX_MANIFEST_FORMAT_VERSION) {
		const struct node *v = map_get(m, root, "format_version");
		return failf(m, err, TRMX_EVERSION, v->line, v->col, "format_version",
			     "format version %d; this reader knows %d", m->format_version,
			     TRMX_MANIFEST_FORMAT_VERSION);
	}
	if (mode == TRMX_MANIFEST_PACKAGE) {
		const struct node *ex = map_get(m, root, "examples");
		for (size_t i = 0; i < m->nexamples; i++) {
			const char *paths[2] = { m->examples[i].input, m->examples[i].expected };
			for (int k = 0; k < 2; k++) {
				if (!paths[k] || trmx_manifest_file_find(m, paths[k]))
					continue;
				const struct node *e = &m->nodes[ex->kids[i]];
				char kp[64];
				snprintf(kp, sizeof kp, "examples[%zu].%s", i, k ? "expected" : "input");
				return failf(m, err, TRMX_EFORMAT, e->line, e->col, kp,
					     "'%s' is not listed in files:", paths[k]);
			}
		}
	}
	return 0;
}

/* ---- Public API -------------------------------------------------------------------------- */

int trmx_manifest_parse(trmx_manifest **out, const char *text, size_t len, const char *source,
			trmx_manifest_mode mode, trmx_error *err)
{
	struct builder b = { 0 };
	trmx_manifest *m = NULL;
	int rc = 0;

	if (!out || (!text && len) || (mode != TRMX_MANIFEST_PACKAGE && mode != TRMX_MANIFEST_SOURCE))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_manifest_parse: bad argument");
	if (!source)
		source = "manifest.yaml";
	if (len > TRMX_MANIFEST_SIZE_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: %zu bytes, more than TRMX_MANIFEST_SIZE_MAX (%u)",
				      source, len, TRMX_MANIFEST_SIZE_MAX);
	if (!(m = trmx_xcalloc(1, sizeof *m)) || !(m->source = trmx_xstrdup(source)) || !(m->text = trmx_xmalloc(len + 1))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "%s: out of memory", source);
		goto done;
	}
	if (len)
		memcpy(m->text, text, len);
	m->text[len] = '\0';
	m->len = len;
	if (memchr(m->text, '\0', len)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: byte offset %zu: a NUL byte", source,
				    (size_t)((char *)memchr(m->text, '\0', len) - m->text));
		goto done;
	}
	if (!trmx_utf8_valid(m->text, len)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not valid UTF-8", source);
		goto done;
	}
	b.m = m;
	b.err = err;
	if ((rc = build_tree(&b)) < 0)
		goto done;
	struct walker w = { m, mode, err, 0, 0 };
	static const struct field top = FLD("", F_MAP, true, 0, 0, 0);
	if ((rc = walk_map(&w, &top, &m->nodes[0], "", "")) < 0)
		goto done;
	if ((rc = extract(m, mode, err)) < 0)
		goto done;
	*out = m;
	m = NULL;
done:
	trmx_yaml_end(&b.y);
	trmx_manifest_free(m);
	return rc;
}

int trmx_manifest_load(trmx_manifest **out, const char *path, trmx_manifest_mode mode,
		       trmx_error *err)
{
	char *text = NULL;
	size_t len = 0;
	int rc;
	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_manifest_load: NULL argument");
	if ((rc = trmx_read_file(path, TRMX_MANIFEST_SIZE_MAX, "TRMX_MANIFEST_SIZE_MAX", 0, &text, &len,
				err)) < 0)
		return rc;
	rc = trmx_manifest_parse(out, text, len, path, mode, err);
	free(text);
	return rc;
}

void trmx_manifest_free(trmx_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nnodes; i++) {
		free(m->nodes[i].text);
		free(m->nodes[i].kids);
	}
	for (size_t i = 0; i < m->nexts; i++) {
		free(m->exts[i].key);
		free(m->exts[i].yaml);
	}
	free(m->exts);
	free(m->nodes);
	free(m->authors);
	free(m->metrics);
	free(m->examples);
	free(m->files);
	trmx_config_free(m->params);
	trmx_config_free(m->arch);
	free(m->text);
	free(m->source);
	free(m);
}

int trmx_manifest_format_version(const trmx_manifest *m) { return m ? m->format_version : 0; }
const char *trmx_manifest_name(const trmx_manifest *m) { return m ? m->name : NULL; }
const char *trmx_manifest_version(const trmx_manifest *m) { return m ? m->version : NULL; }
const char *trmx_manifest_description(const trmx_manifest *m) { return m ? m->description : NULL; }
const char *trmx_manifest_license(const trmx_manifest *m) { return m ? m->license : NULL; }
const char *trmx_manifest_homepage(const trmx_manifest *m) { return m ? m->homepage : NULL; }
size_t trmx_manifest_author_count(const trmx_manifest *m) { return m ? m->nauthors : 0; }

const char *trmx_manifest_author_at(const trmx_manifest *m, size_t i)
{
	return m && i < m->nauthors ? m->authors[i] : NULL;
}

const char *trmx_manifest_engine_name(const trmx_manifest *m) { return m ? m->engine_name : NULL; }
const char *trmx_manifest_engine_abi(const trmx_manifest *m) { return m ? m->engine_abi : NULL; }

bool trmx_manifest_engine_accepts(const trmx_manifest *m, unsigned int abi_version)
{
	return m && trmx_syntax_range_accepts(m->engine_abi, abi_version);
}

const char *trmx_manifest_task_codec(const trmx_manifest *m) { return m ? m->codec : NULL; }
double trmx_manifest_halt_threshold(const trmx_manifest *m)
{
	return m ? m->halt_threshold : 0.0;
}
int trmx_manifest_max_steps(const trmx_manifest *m)
{
	return m ? m->max_steps : 0;
}
const trmx_config *trmx_manifest_task_params(const trmx_manifest *m) { return m ? m->params : NULL; }
const trmx_config *trmx_manifest_architecture(const trmx_manifest *m) { return m ? m->arch : NULL; }

const trmx_manifest_training *trmx_manifest_training_get(const trmx_manifest *m)
{
	return m && m->has_training ? &m->training : NULL;
}

size_t trmx_manifest_metric_count(const trmx_manifest *m) { return m ? m->nmetrics : 0; }

const trmx_manifest_metric *trmx_manifest_metric_at(const trmx_manifest *m, size_t i)
{
	return m && i < m->nmetrics ? &m->metrics[i] : NULL;
}

size_t trmx_manifest_example_count(const trmx_manifest *m) { return m ? m->nexamples : 0; }

const trmx_manifest_example *trmx_manifest_example_at(const trmx_manifest *m, size_t i)
{
	return m && i < m->nexamples ? &m->examples[i] : NULL;
}

size_t trmx_manifest_file_count(const trmx_manifest *m) { return m ? m->nfiles : 0; }

const trmx_manifest_file *trmx_manifest_file_at(const trmx_manifest *m, size_t i)
{
	return m && i < m->nfiles ? &m->files[i] : NULL;
}

const trmx_manifest_file *trmx_manifest_file_find(const trmx_manifest *m, const char *path)
{
	for (size_t i = 0; m && path && i < m->nfiles; i++)
		if (!strcmp(m->files[i].path, path))
			return &m->files[i];
	return NULL;
}

size_t trmx_manifest_extension_count(const trmx_manifest *m) { return m ? m->nexts : 0; }

void trmx_manifest_extension_at(const trmx_manifest *m, size_t i, const char **key,
				const char **yaml)
{
	bool ok = m && i < m->nexts;
	if (key)
		*key = ok ? m->exts[i].key : NULL;
	if (yaml)
		*yaml = ok ? m->exts[i].yaml : NULL;
}

int trmx_manifest_lookup(const trmx_manifest *m, const char *path, const char **value)
{
	if (!m || !path || !m->nnodes)
		return TRMX_ENOTFOUND;
	const struct node *n = &m->nodes[0];
	const char *p = path;
	char key[256];
	while (*p) {
		if (*p == '[') {
			char *end;
			errno = 0;
			unsigned long i = strtoul(p + 1, &end, 10);
			if (errno || *end != ']' || end == p + 1 || n->kind != NODE_SEQ || i >= n->nkids)
				return TRMX_ENOTFOUND;
			n = &m->nodes[n->kids[i]];
			p = end + 1;
		} else {
			if (*p == '.')
				p++;
			size_t k = strcspn(p, ".[");
			if (k == 0 || k >= sizeof key)
				return TRMX_ENOTFOUND;
			memcpy(key, p, k);
			key[k] = '\0';
			if (!(n = map_get(m, n, key)))
				return TRMX_ENOTFOUND;
			p += k;
		}
	}
	if (value)
		*value = n->kind == NODE_SCALAR ? n->text : NULL;
	return 0;
}

const char *trmx_manifest_text(const trmx_manifest *m, size_t *len)
{
	if (len)
		*len = m ? m->len : 0;
	return m ? m->text : NULL;
}
