/*
 * task.c — the host side of the task codec ABI: the table of built-in codecs, opening a codec
 * (checking its table's version and size), and the helpers that wrap each table entry with
 * argument checks, buffer sizing and token validation. Also the small deterministic PRNG that
 * generators and augmentations share.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tasks/tasks_int.h"

struct trmx_task {
	const trmx_task_codec *codec;
	void *state;
	int seq_len, vocab_size;
	size_t nparams;
	trmx_task_param *params; /* owned copies */
};

static const trmx_task_codec *const builtin[] = {
	&trmx_task_codec_sudoku,
	&trmx_task_codec_maze,
	&trmx_task_codec_arc,
	&trmx_task_codec_tokens,
};

const trmx_task_codec *trmx_task_find(const char *name)
{
	if (!name)
		return NULL;
	for (size_t i = 0; i < sizeof builtin / sizeof *builtin; i++) {
		if (!strcmp(builtin[i]->name, name))
			return builtin[i];
	}
	return NULL;
}

size_t trmx_task_codec_count(void)
{
	return sizeof builtin / sizeof *builtin;
}

const trmx_task_codec *trmx_task_codec_at(size_t i)
{
	return i < sizeof builtin / sizeof *builtin ? builtin[i] : NULL;
}

const char *trmx_verdict_name(trmx_verdict v)
{
	switch (v) {
	case TRMX_VERDICT_VALID: return "valid";
	case TRMX_VERDICT_INVALID: return "invalid";
	case TRMX_VERDICT_UNKNOWN: return "unknown";
	}
	return "?";
}

const char *trmx_check_problem_name(trmx_check_problem p)
{
	static const char *const names[] = {
		[TRMX_CHECK_NONE] = "none",
		[TRMX_CHECK_BAD_TOKEN] = "bad token",
		[TRMX_CHECK_GIVEN_CHANGED] = "given changed",
		[TRMX_CHECK_CONFLICT] = "conflict",
		[TRMX_CHECK_INCOMPLETE] = "incomplete",
		[TRMX_CHECK_WALL] = "through a wall",
		[TRMX_CHECK_NO_PATH] = "no path",
		[TRMX_CHECK_BRANCH] = "branch",
		[TRMX_CHECK_BROKEN_PATH] = "broken path",
		[TRMX_CHECK_STRAY] = "stray path cells",
		[TRMX_CHECK_NOT_SHORTEST] = "not shortest",
		[TRMX_CHECK_SHAPE] = "shape",
		[TRMX_CHECK_MISMATCH] = "mismatch",
	};
	return (unsigned)p < sizeof names / sizeof *names ? names[p] : "?";
}

/* ---- Opening ------------------------------------------------------------------------------- */

#define V1_SIZE (offsetof(trmx_task_codec, render) + sizeof(((trmx_task_codec *)0)->render))

static void params_free(trmx_task_param *p, size_t n)
{
	for (size_t i = 0; p && i < n; i++) {
		free((char *)p[i].key);
		free((char *)p[i].value);
	}
	free(p);
}

int trmx_task_open_codec(trmx_task **out, const trmx_task_codec *codec, const trmx_task_param *params,
			 size_t nparams, trmx_error *err)
{
	trmx_task *t = NULL;
	int rc = 0;
	if (!out || !codec || (nparams && !params))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_open_codec: NULL argument");
	if (codec->abi_version != TRMX_TASK_ABI_VERSION)
		return trmx_error_set(err, TRMX_EVERSION,
				      "task codec ABI version %u is not supported (this host knows %d)",
				      codec->abi_version, TRMX_TASK_ABI_VERSION);
	if (codec->struct_size < V1_SIZE)
		return trmx_error_set(err, TRMX_EVERSION,
				      "task codec table of %zu bytes is shorter than ABI version 1 (%zu)",
				      codec->struct_size, (size_t)V1_SIZE);
	if (!codec->name || !codec->open || !codec->close || !codec->seq_len || !codec->vocab_size ||
	    !codec->encode || !codec->decode)
		return trmx_error_set(err, TRMX_EINVAL, "task codec %s lacks a required entry",
				      codec->name ? codec->name : "(unnamed)");
	if (nparams > TRMX_TASK_PARAMS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: %zu parameters; the limit is %d (TRMX_TASK_PARAMS_MAX)",
				      codec->name, nparams, TRMX_TASK_PARAMS_MAX);
	if (!(t = trmx_xcalloc(1, sizeof *t)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory opening task %s", codec->name);
	t->codec = codec;
	if (nparams) {
		if (!(t->params = trmx_xcalloc(nparams, sizeof *t->params))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening task %s", codec->name);
			goto done;
		}
		for (size_t i = 0; i < nparams; i++) {
			if (!params[i].key || !params[i].value) {
				rc = trmx_error_set(err, TRMX_EINVAL, "%s: parameter %zu has no key or value",
						    codec->name, i);
				goto done;
			}
			if (strlen(params[i].key) > TRMX_TASK_PARAM_MAX || strlen(params[i].value) > TRMX_TASK_PARAM_MAX) {
				rc = trmx_error_set(err, TRMX_ELIMIT, "%s: parameter %zu is longer than %d bytes (TRMX_TASK_PARAM_MAX)",
						    codec->name, i, TRMX_TASK_PARAM_MAX);
				goto done;
			}
			t->params[i].key = trmx_xstrdup(params[i].key);
			t->params[i].value = trmx_xstrdup(params[i].value);
			t->nparams = i + 1;
			if (!t->params[i].key || !t->params[i].value) {
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening task %s", codec->name);
				goto done;
			}
		}
	}
	if ((rc = codec->open(&t->state, t->params, t->nparams, err)) < 0)
		goto done;
	t->seq_len = codec->seq_len(t->state);
	t->vocab_size = codec->vocab_size(t->state);
	if (t->seq_len < 1 || t->seq_len > TRMX_ARCH_SEQ_LEN_MAX || t->vocab_size < 2 ||
	    t->vocab_size > TRMX_ARCH_VOCAB_MAX) {
		rc = trmx_error_set(err, TRMX_EINVAL, "task codec %s reports seq_len %d and vocab_size %d",
				    codec->name, t->seq_len, t->vocab_size);
		goto done;
	}
done:
	if (rc < 0) {
		trmx_task_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

int trmx_task_open(trmx_task **out, const char *name, const char *params, trmx_error *err)
{
	trmx_task_param p[TRMX_TASK_PARAMS_MAX];
	size_t n = 0;
	char *copy = NULL;
	int rc = 0;
	if (!out || !name)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_open: NULL argument");
	const trmx_task_codec *codec = trmx_task_find(name);
	if (!codec)
		return trmx_error_set(err, TRMX_ENOTFOUND,
				      "no task codec named '%s' (known: sudoku, maze, arc, tokens)", name);
	if (params && *params) {
		if (!(copy = trmx_xstrdup(params)))
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory opening task %s", name);
		char *s = copy;
		for (;;) {
			while (*s == ',' || isspace((unsigned char)*s))
				s++;
			if (!*s)
				break;
			char *start = s;
			while (*s && *s != ',' && !isspace((unsigned char)*s))
				s++;
			if (*s)
				*s++ = '\0';
			char *eq = strchr(start, '=');
			if (!eq || eq == start) {
				rc = trmx_error_set(err, TRMX_EINVAL, "%s: parameter '%s' is not key=value", name, start);
				goto done;
			}
			if (n == TRMX_TASK_PARAMS_MAX) {
				rc = trmx_error_set(err, TRMX_ELIMIT, "%s: more than %d parameters (TRMX_TASK_PARAMS_MAX)",
						    name, TRMX_TASK_PARAMS_MAX);
				goto done;
			}
			*eq = '\0';
			p[n].key = start;
			p[n].value = eq + 1;
			n++;
		}
	}
	rc = trmx_task_open_codec(out, codec, p, n, err);
done:
	free(copy);
	return rc;
}

void trmx_task_free(trmx_task *t)
{
	if (!t)
		return;
	if (t->state)
		t->codec->close(t->state);
	params_free(t->params, t->nparams);
	free(t);
}

const char *trmx_task_name(const trmx_task *t)
{
	return t ? t->codec->name : NULL;
}

const trmx_task_codec *trmx_task_codec_get(const trmx_task *t)
{
	return t ? t->codec : NULL;
}

int trmx_task_seq_len(const trmx_task *t)
{
	return t ? t->seq_len : 0;
}

int trmx_task_vocab_size(const trmx_task *t)
{
	return t ? t->vocab_size : 0;
}

void *trmx__task_state(const trmx_task *t)
{
	return t->state;
}

const char *trmx_task_param_get(const trmx_task *t, const char *key)
{
	return t && key ? trmx__param_get(t->params, t->nparams, key) : NULL;
}

/* ---- Encoding ------------------------------------------------------------------------------ */

struct checked_sink {
	trmx_task_sink base;
	trmx_task *t;
	trmx_task_sink *user;
};

static int check_ids(const trmx_task *t, const int32_t *ids, const char *what, trmx_error *err)
{
	for (int i = 0; i < t->seq_len; i++) {
		if (ids[i] < 0 || ids[i] >= t->vocab_size)
			return trmx_error_set(err, TRMX_EFORMAT,
					      "codec %s wrote %s token %d at position %d, outside [0, %d)",
					      t->codec->name, what, (int)ids[i], i, t->vocab_size);
	}
	return 0;
}

static int checked_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	struct checked_sink *cs = (struct checked_sink *)sink;
	int rc;
	if (!ex || !ex->input)
		return trmx_error_set(err, TRMX_EINVAL, "codec %s gave an example without input",
				      cs->t->codec->name);
	if ((rc = check_ids(cs->t, ex->input, "input", err)) < 0)
		return rc;
	if (ex->label && (rc = check_ids(cs->t, ex->label, "label", err)) < 0)
		return rc;
	return cs->user->add(cs->user, ex, err);
}

int trmx_task_encode_input(trmx_task *t, const trmx_task_input *in, trmx_task_sink *sink,
			   trmx_error *err)
{
	if (!t || !in || !sink || !sink->add || (!in->text && in->len))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_encode_input: NULL argument");
	if (!trmx_version_ok(in->version, TRMX_TASK_INPUT_VERSION))
		return trmx_version_refused(err, "trmx_task_input", in->version, TRMX_TASK_INPUT_VERSION);
	if (in->len > TRMX_TASK_TEXT_MAX)
		return trmx__task_error_at(err, TRMX_ELIMIT, in, 0, 0,
					   "input of %zu bytes; the limit is %u (TRMX_TASK_TEXT_MAX)", in->len,
					   (unsigned)TRMX_TASK_TEXT_MAX);
	struct checked_sink cs = { { checked_add, NULL }, t, sink };
	return t->codec->encode(t->state, in, &cs.base, err);
}

struct first_sink {
	trmx_task_sink base;
	int seq_len;
	int32_t *input, *label;
	bool got, got_query, has_label;
};

static int first_add(trmx_task_sink *sink, const trmx_task_example *ex, trmx_error *err)
{
	struct first_sink *fs = (struct first_sink *)sink;
	bool query = ex->role == TRMX_EXAMPLE_QUERY;
	if (fs->got_query || (fs->got && !query))
		return 0;
	memcpy(fs->input, ex->input, sizeof(int32_t) * (size_t)fs->seq_len);
	fs->has_label = ex->label != NULL;
	if (fs->label) {
		if (ex->label)
			memcpy(fs->label, ex->label, sizeof(int32_t) * (size_t)fs->seq_len);
		else
			memset(fs->label, 0, sizeof(int32_t) * (size_t)fs->seq_len);
	}
	fs->got = true;
	fs->got_query = query;
	return 0;
}

int trmx_task_encode(trmx_task *t, const char *text, size_t len, int32_t *input, int32_t *label,
		     bool *has_label, trmx_error *err)
{
	if (!t || !input || (!text && len))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_encode: NULL argument");
	int32_t *tin = trmx_xmalloc(sizeof(int32_t) * (size_t)t->seq_len * 2);
	if (!tin)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory encoding");
	trmx_task_input in = TRMX_TASK_INPUT_INIT;
	in.text = text;
	in.len = len;
	struct first_sink fs = { { first_add, NULL }, t->seq_len, tin, tin + t->seq_len, false, false, false };
	int rc = trmx_task_encode_input(t, &in, &fs.base, err);
	if (rc == 0 && !fs.got)
		rc = trmx_error_set(err, TRMX_EFORMAT, "no %s puzzle in the input", t->codec->name);
	if (rc == 0) {
		memcpy(input, fs.input, sizeof(int32_t) * (size_t)t->seq_len);
		if (label)
			memcpy(label, fs.label, sizeof(int32_t) * (size_t)t->seq_len);
		if (has_label)
			*has_label = fs.has_label;
	}
	free(tin);
	return rc;
}

/* ---- Decoding, checking, rendering --------------------------------------------------------- */

typedef int (*text_fn)(trmx_task *t, const void *arg, char *buf, size_t cap, size_t *len, trmx_error *err);

/* Run `fn` into a stack buffer, and again into a heap buffer of the size it asked for. */
static int text_call(trmx_task *t, text_fn fn, const void *arg, char **out, trmx_error *err)
{
	char small[1024];
	size_t len = 0;
	int rc = fn(t, arg, small, sizeof small, &len, err);
	if (rc < 0)
		return rc;
	char *s = trmx_xmalloc(len + 1);
	if (!s)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory writing text");
	if (len < sizeof small) {
		memcpy(s, small, len + 1);
	} else {
		size_t len2 = 0;
		if ((rc = fn(t, arg, s, len + 1, &len2, err)) < 0) {
			free(s);
			return rc;
		}
		if (len2 != len) {
			free(s);
			return trmx_error_set(err, TRMX_ERROR, "codec %s wrote %zu bytes, then %zu",
					      t->codec->name, len, len2);
		}
	}
	s[len] = '\0';
	*out = s;
	return 0;
}

struct decode_arg {
	const int32_t *tokens;
	trmx_text_style style;
};

static int decode_fn(trmx_task *t, const void *arg, char *buf, size_t cap, size_t *len, trmx_error *err)
{
	const struct decode_arg *a = arg;
	return t->codec->decode(t->state, a->tokens, a->style, buf, cap, len, err);
}

int trmx_task_canonical(trmx_task *t, const char *text, size_t len, char **out, trmx_error *err)
{
	int32_t *buf = trmx_xcalloc(2 * (size_t)t->seq_len, sizeof *buf);
	bool has = false;
	if (!buf)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int rc = trmx_task_encode(t, text, len, buf, buf + t->seq_len, &has, err);
	if (rc == 0)
		rc = trmx_task_decode(t, has ? buf + t->seq_len : buf, TRMX_TEXT_LINE, out, err);
	free(buf);
	return rc;
}

int trmx_task_decode(trmx_task *t, const int32_t *tokens, trmx_text_style style, char **out,
		     trmx_error *err)
{
	if (!t || !tokens || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_decode: NULL argument");
	if (style != TRMX_TEXT_LINE && style != TRMX_TEXT_GRID)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_decode: unknown text style %d", (int)style);
	struct decode_arg a = { tokens, style };
	return text_call(t, decode_fn, &a, out, err);
}

struct render_arg {
	const int32_t *tokens;
	const trmx_render_options *opts;
};

static int render_fn(trmx_task *t, const void *arg, char *buf, size_t cap, size_t *len, trmx_error *err)
{
	const struct render_arg *a = arg;
	if (!t->codec->render)
		return t->codec->decode(t->state, a->tokens, TRMX_TEXT_GRID, buf, cap, len, err);
	return t->codec->render(t->state, a->tokens, a->opts, buf, cap, len, err);
}

int trmx_task_render(trmx_task *t, const int32_t *tokens, const trmx_render_options *opts,
		     char **out, trmx_error *err)
{
	static const trmx_render_options plain = TRMX_RENDER_OPTIONS_INIT;
	if (!t || !tokens || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_render: NULL argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_RENDER_OPTIONS_VERSION))
		return trmx_version_refused(err, "trmx_render_options", opts->version, TRMX_RENDER_OPTIONS_VERSION);
	if (opts && (unsigned)opts->color > TRMX_COLOR_TRUE)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_render: unknown colour mode %d", (int)opts->color);
	struct render_arg a = { tokens, opts ? opts : &plain };
	return text_call(t, render_fn, &a, out, err);
}

void trmx_task_text_free(char *s)
{
	free(s);
}

int trmx_task_check(trmx_task *t, const int32_t *puzzle, const int32_t *answer,
		    const int32_t *expected, trmx_check *out, trmx_error *err)
{
	if (!t || !answer || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_check: NULL argument");
	unsigned version = out->version ? out->version : TRMX_CHECK_VERSION;
	static const trmx_check init = TRMX_CHECK_INIT;
	memcpy(out, &init, sizeof *out);
	out->version = version;
	if (!t->codec->check) {
		snprintf(out->message, sizeof out->message, "the %s codec has no checker", t->codec->name);
		return 0;
	}
	int rc = t->codec->check(t->state, puzzle, answer, expected, out, err);
	if (rc == 0 && (out->ncells < 0 || out->ncells > TRMX_CHECK_CELLS_MAX))
		return trmx_error_set(err, TRMX_ERROR, "codec %s reported %d cells", t->codec->name, out->ncells);
	return rc;
}

/* ---- PRNG: splitmix64 seeding xoshiro256** ------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void trmx_rng_seed(trmx_rng *r, uint64_t seed, uint64_t stream)
{
	uint64_t x = seed;
	uint64_t mix = splitmix64(&x) ^ (stream * 0xD1B54A32D192ED03ull);
	x = mix;
	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
	if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3]))
		r->s[0] = 1;
}

static inline uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t trmx_rng_next(trmx_rng *r)
{
	uint64_t *s = r->s;
	uint64_t result = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;
	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

uint32_t trmx_rng_below(trmx_rng *r, uint32_t n)
{
	if (n == 0)
		return 0;
	/* Lemire's multiply-shift with rejection. */
	uint64_t m = (uint64_t)(uint32_t)(trmx_rng_next(r) >> 32) * n;
	uint32_t lo = (uint32_t)m;
	if (lo < n) {
		uint32_t thresh = (uint32_t)(-n) % n;
		while (lo < thresh) {
			m = (uint64_t)(uint32_t)(trmx_rng_next(r) >> 32) * n;
			lo = (uint32_t)m;
		}
	}
	return (uint32_t)(m >> 32);
}
