/*
 * contents.c — what a module folder holds, checked against its manifest: the engine and its ABI
 * range, the weights against the architecture (the engine opens on them and checks every
 * tensor's dtype and shape), the task codec against the architecture's sequence length and
 * vocabulary, every example through the codec and its checker, and schema.sql under the
 * module-SQL guard install uses (log/sqlguard.c). Used by pack (on the
 * author's folder) and verify (on an unpacked copy); the registry runs it before installing. The
 * engine is looked up as dispatch will (trmx__engine_model_open_named): a plugin engine's module is
 * checked as fully as a built-in one's.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "engines/runtime/runtime_int.h"
#include "log/log_int.h"
#include "pkg_int.h"
#include "trmx/engine.h"
#include "trmx/task.h"

struct problems {
	trmx_problem_fn fn;
	void *user;
	int first;
	size_t n;
	trmx_error *err;
};

static void problem(struct problems *p, int code, const char *fmt, ...) TRMX_PRINTF(3, 4);

static void problem(struct problems *p, int code, const char *fmt, ...)
{
	char msg[TRMX_ERROR_MESSAGE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	if (p->fn)
		p->fn(p->user, code, msg);
	if (!p->n++) {
		p->first = code;
		trmx_error_set(p->err, code, "%s", msg);
	}
}

static char *path_in(const char *dir, const char *name)
{
	size_t n = strlen(dir) + strlen(name) + 2;
	char *r = trmx_xmalloc(n);
	if (r)
		snprintf(r, n, "%s/%s", dir, name);
	return r;
}

/* Encode one example file: input ids, and the answer (its label, or the puzzle itself when the
 * text holds a finished grid). */
static int encode_file(trmx_task *t, const char *dir, const char *name, int32_t *in,
		       int32_t *label, bool *has_label, trmx_error *err)
{
	char *path = path_in(dir, name), *text = NULL;
	size_t len = 0;
	int rc;
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if ((rc = trmx_read_file(path, TRMX_PACKAGE_EXAMPLE_MAX, "TRMX_PACKAGE_EXAMPLE_MAX", 0, &text, &len,
				err)) == 0)
		rc = trmx_task_encode(t, text, len, in, label, has_label, err);
	free(text);
	free(path);
	return rc;
}

static void check_examples(const trmx_manifest *m, const char *dir, trmx_task *t,
			   struct problems *p)
{
	size_t S = (size_t)trmx_task_seq_len(t);
	int32_t *buf = trmx_xmalloc(4 * S * sizeof *buf);
	trmx_check *chk = trmx_xmalloc(sizeof *chk);
	trmx_error e2 = { 0 };
	if (!buf || !chk) {
		problem(p, TRMX_ENOMEM, "out of memory checking the examples");
		goto done;
	}
	int32_t *in = buf, *label = buf + S, *ein = buf + 2 * S, *elabel = buf + 3 * S;
	for (size_t i = 0; i < trmx_manifest_example_count(m); i++) {
		const trmx_manifest_example *ex = trmx_manifest_example_at(m, i);
		bool has = false, ehas = false;
		int rc;
		if ((rc = encode_file(t, dir, ex->input, in, label, &has, &e2)) < 0) {
			problem(p, rc, "examples[%zu].input (%s): %s", i, ex->input, e2.message);
			continue;
		}
		const int32_t *answer = has ? label : NULL;
		const char *what = "input";
		if (ex->expected) {
			if ((rc = encode_file(t, dir, ex->expected, ein, elabel, &ehas, &e2)) < 0) {
				problem(p, rc, "examples[%zu].expected (%s): %s", i, ex->expected, e2.message);
				continue;
			}
			answer = ehas ? elabel : ein;
			what = "expected";
		}
		if (!answer)
			continue;
		*chk = (trmx_check)TRMX_CHECK_INIT;
		if ((rc = trmx_task_check(t, in, answer, answer, chk, &e2)) < 0) {
			problem(p, rc, "examples[%zu].%s: %s", i, what, e2.message);
			continue;
		}
		if (chk->verdict == TRMX_VERDICT_INVALID)
			problem(p, TRMX_EFORMAT, "examples[%zu].%s (%s): the expected answer fails the %s "
				"checker (%s): %s", i, what, ex->expected ? ex->expected : ex->input,
				trmx_manifest_task_codec(m), trmx_check_problem_name(chk->problem),
				chk->message);
	}
done:
	free(buf);
	free(chk);
}

/* The architecture's integer `key`, or -1. */
static long arch_int(const trmx_manifest *m, const char *key)
{
	long v;
	const char *s = trmx_config_get(trmx_manifest_architecture(m), key);
	return s && trmx_parse_long(s, &v) ? v : -1;
}

int trmx_package_check_contents(const trmx_manifest *m, const char *dir, const char *plugin_dir, trmx_problem_fn fn,
				void *user, int64_t *num_params, trmx_error *err)
{
	struct problems p = { fn, user, 0, 0, err };
	trmx_weights *w = NULL;
	trmx_model *model = NULL;
	trmx_plugin *plugin = NULL;
	trmx_task *t = NULL;
	trmx_error e2 = { 0 };
	char *wpath = NULL;
	int rc;

	if (!m || !dir)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_check_contents: NULL argument");
	static const char *const required[] = { PKG_WEIGHTS, PKG_SCHEMA, PKG_README };
	for (size_t i = 0; i < sizeof required / sizeof *required; i++) {
		char *path = path_in(dir, required[i]);
		struct stat st;
		if (!path)
			problem(&p, TRMX_ENOMEM, "out of memory");
		else if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode))
			problem(&p, TRMX_EFORMAT, "%s: the required member %s is missing (or not a regular "
				"file)", dir, required[i]);
		free(path);
	}
	/* schema.sql, the way install runs it (registry/moddb.c) */
	char *spath = path_in(dir, PKG_SCHEMA);
	struct stat sst;
	if (!spath)
		problem(&p, TRMX_ENOMEM, "out of memory");
	else if (lstat(spath, &sst) == 0 && S_ISREG(sst.st_mode) &&
		 (rc = trmx_sqlguard_check_file(spath, PKG_SCHEMA, &e2)) < 0)
		problem(&p, rc, "%s", e2.message);
	free(spath);
	/* The engine and the weights. */
	const char *engine = trmx_manifest_engine_name(m);
	if (!trmx_manifest_engine_accepts(m, TRMX_ENGINE_ABI_VERSION))
		problem(&p, TRMX_EVERSION, "engine.abi '%s' does not accept this host's engine ABI %d",
			trmx_manifest_engine_abi(m), TRMX_ENGINE_ABI_VERSION);
	if (!(wpath = path_in(dir, PKG_WEIGHTS))) {
		problem(&p, TRMX_ENOMEM, "out of memory");
		rc = p.first;
		goto done;
	}
	if ((rc = trmx_weights_open(&w, wpath, &e2)) < 0) {
		problem(&p, rc, "%s", e2.message);
	} else if ((rc = trmx__engine_model_open_named(&model, &plugin, engine, plugin_dir, trmx_manifest_architecture(m), w,
						       &e2)) < 0) {
		problem(&p, rc, "%s against the architecture (engine %s): %s", PKG_WEIGHTS, engine,
			e2.message);
	} else {
		trmx_model_info info;
		trmx_model_info_get(model, &info);
		if (num_params)
			*num_params = info.num_params;
	}
	/* The task codec and the examples. */
	const char *codec = trmx_manifest_task_codec(m);
	if ((rc = trmx_task_open_config(&t, codec, trmx_manifest_task_params(m), &e2)) < 0) {
		problem(&p, rc, "task: %s", e2.message);
	} else {
		long seq = arch_int(m, "seq_len"), vocab = arch_int(m, "vocab_size");
		if ((seq >= 0 && seq != trmx_task_seq_len(t)) || (vocab >= 0 && vocab != trmx_task_vocab_size(t)))
			problem(&p, TRMX_ESHAPE,
				"task: codec %s reads %d tokens over %d symbols; the architecture has seq_len "
				"%ld and vocab_size %ld", codec, trmx_task_seq_len(t), trmx_task_vocab_size(t),
				seq, vocab);
		else
			check_examples(m, dir, t, &p);
	}
	rc = p.n ? p.first : 0;
done:
	trmx_task_free(t);
	trmx_model_free(model);
	trmx_plugin_free(plugin);
	trmx_weights_free(w);
	free(wpath);
	return rc;
}
