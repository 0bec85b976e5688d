/*
 * export.c — exports of the log (trmx/report.h): xAPI 1.0.3 statements as JSON
 * lines (the mapping is schemas/xapi.md), and the training data set made of
 * corrected answers (the CSV the trainer reads, one row per distinct puzzle).
 * Statement ids are derived from the rows' ids, so an export made twice gives
 * the same ids and a learning record store sees the second as duplicates.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "analytics/analytics_int.h"
#include "trmx/task.h"

#define XAPI_BASE_DEFAULT "https://trmx.invalid"
#define VERB_REVIEWED	  "http://id.tincanapi.com/verb/reviewed"
/* A run is the learner asking and a module answering (schemas/xapi.md, "Who did what"): the verb
 * and the activity types are trmx's own, under BASE, because no ADL verb says "asked a tool for the
 * solution" without also saying the learner answered. */
#define VERB_REQUESTED "/xapi/verbs/requested-solution"

void trmx_xapi_statement_id(const char *kind, const char *row_id, char out[TRMX_UUID_SIZE])
{
	char k[64];
	snprintf(k, sizeof k, "xapi-%s", kind ? kind : "");
	trmx_uuid_derived(out, k, row_id ? row_id : "");
}

/* ---- xAPI
 * ------------------------------------------------------------------------------------
 */

/* base + sep + every byte of s outside the IRI-safe set percent-encoded. */
static char *iri(const char *base, const char *sep, const char *s)
{
	trmx_buf b = { 0 };
	trmx_buf_put(&b, base);
	trmx_buf_put(&b, sep);
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr("-._~/", *p))
			trmx_buf_putn(&b, (const char *)p, 1);
		else
			trmx_buf_printf(&b, "%%%02X", *p);
	}
	if (b.failed) {
		trmx_buf_free(&b);
		return NULL;
	}
	return b.s;
}

static json_t *lang(const char *s)
{
	return json_pack("{s:s}", "en-US", s);
}

/* An ISO 8601 duration for milliseconds: "PT0.123S". */
static json_t *duration(double ms)
{
	char b[64];
	if (!(ms >= 0) || ms > 1e15)
		return NULL;
	snprintf(b, sizeof b, "PT%.3fS", ms / 1000.0);
	return json_string(b);
}

static json_t *account(const char *home_page, const char *name)
{
	return json_pack("{s:s,s:{s:s,s:s}}", "objectType", "Agent", "account", "homePage", home_page, "name", name);
}

/* One serialisation for the file export and the LRS: the same row gives the same bytes. */
#define XAPI_JSON_FLAGS (JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10))

static int emit(FILE *f, json_t *st, trmx_error *err)
{
	if (!st)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory building an xAPI statement");
	int rc = json_dumpf(st, f, XAPI_JSON_FLAGS);
	json_decref(st);
	fputc('\n', f);
	return rc < 0 ? trmx_error_set(err, TRMX_EIO, "cannot write an xAPI statement") : 0;
}

enum {
	X_ID,
	X_TIME,
	X_CONTEXT,
	X_LEARNER,
	X_MODULE,
	X_VERSION,
	X_DIGEST,
	X_ARM,
	X_STEPS,
	X_CONF,
	X_LATENCY,
	X_OUTPUT,
	X_INPUT,
	X_STATUS,
	X_KIND,
	X_CORRECT,
	X_SOURCE
};

static json_t *run_statement(const rrow *st, const char *base, const char *ext, const char *learners)
{
	char sid[TRMX_UUID_SIZE];
	trmx_xapi_statement_id("run", r_text(st, X_ID), sid);
	bool has_ctx = !r_null(st, X_CONTEXT);
	char *oid = has_ctx ? iri(base, "/contexts/", r_text(st, X_CONTEXT)) : iri(base, "/modules/", r_text(st, X_MODULE));
	if (!oid)
		return NULL;
	json_t *s = json_object(), *obj = json_object(), *def = json_object(), *res = json_object(), *ctx = json_object(),
	       *x = json_object();
	json_object_set_new(s, "id", json_string(sid));
	json_object_set_new(
		s, "actor",
		account(learners, !r_null(st, X_LEARNER) ? r_text(st, X_LEARNER) : "anonymous"));
	char key[512], who[512];
	snprintf(key, sizeof key, "%s%s", base, VERB_REQUESTED);
	json_object_set_new(s, "verb", json_pack("{s:s,s:o}", "id", key, "display", lang("requested a solution")));
	json_object_set_new(obj, "objectType", json_string("Activity"));
	json_object_set_new(obj, "id", json_string(oid));
	json_object_set_new(def, "name", lang(has_ctx ? r_text(st, X_CONTEXT) : r_text(st, X_MODULE)));
	snprintf(key, sizeof key, "%s/xapi/activities/%s", base, has_ctx ? "context" : "module");
	json_object_set_new(def, "type", json_string(key));
	json_object_set_new(obj, "definition", def);
	json_object_set_new(s, "object", obj);
	/* The result is the learner's request's: it was answered (completion) in that time. The answer
	 * and whether it was right are the module's, so they are extensions, never result.success,
	 * score or response, which an LRS would credit to the learner. */
	json_object_set_new(res, "completion", json_boolean(strcmp(r_text(st, X_STATUS), "error") != 0));
	if (!r_null(st, X_LATENCY)) {
		json_t *d = duration(r_double(st, X_LATENCY));
		if (d)
			json_object_set_new(res, "duration", d);
	}
	json_t *rx = json_object();
	if (!r_null(st, X_OUTPUT)) {
		snprintf(key, sizeof key, "%s/answer", ext);
		json_object_set_new(rx, key, json_string(r_text(st, X_OUTPUT)));
	}
	if (!r_null(st, X_CORRECT)) {
		snprintf(key, sizeof key, "%s/answer-correct", ext);
		json_object_set_new(rx, key, json_boolean(r_int(st, X_CORRECT) != 0));
	}
	if (json_object_size(rx))
		json_object_set_new(res, "extensions", rx);
	else
		json_decref(rx);
	json_object_set_new(s, "result", res);
#define EXT(name, value)                                                                                                    \
	do {                                                                                                                \
		snprintf(key, sizeof key, "%s/%s", ext, name);                                                              \
		json_object_set_new(x, key, value);                                                                         \
	} while (0)
	EXT("run-id", json_string(r_text(st, X_ID)));
	EXT("kind", json_string(r_text(st, X_KIND)));
	EXT("module", json_string(r_text(st, X_MODULE)));
	EXT("version", json_string(r_text(st, X_VERSION)));
	EXT("digest", json_string(r_text(st, X_DIGEST)));
	EXT("arm", json_string(r_text(st, X_ARM)));
	EXT("steps",
	    !r_null(st, X_STEPS) ? json_integer(r_int(st, X_STEPS)) : json_null());
	EXT("halt-confidence",
	    !r_null(st, X_CONF) ? json_real(r_double(st, X_CONF)) : json_null());
	EXT("status", json_string(r_text(st, X_STATUS)));
	EXT("input", json_string(r_text(st, X_INPUT)));
	if (!r_null(st, X_SOURCE))
		EXT("verdict-source", json_string(r_text(st, X_SOURCE)));
	/* The module version that answered: xAPI 1.0.3 has no place for an Agent beside the actor but
	 * `instructor` (which it is not) and `team`, which must be a Group: an identified Group whose
	 * account is the module version under BASE/modules, so an LRS's ?agent=...&related_agents=true
	 * finds every statement a version answered. */
	snprintf(who, sizeof who, "%s@%s", r_text(st, X_MODULE), r_text(st, X_VERSION));
	snprintf(key, sizeof key, "%s/modules", base);
	json_object_set_new(ctx, "team",
			    json_pack("{s:s,s:s,s:{s:s,s:s}}", "objectType", "Group", "name", who, "account", "homePage",
				      key, "name", who));
	json_object_set_new(ctx, "platform", json_string("trmx"));
	json_object_set_new(ctx, "extensions", x);
	json_object_set_new(s, "context", ctx);
	json_object_set_new(s, "timestamp", json_string(r_text(st, X_TIME)));
	free(oid);
	return s;
}

enum { F_ID, F_RUN, F_TIME, F_SOURCE, F_VERDICT, F_SCORE, F_EXPECTED, F_COMMENT, F_LEARNER };

static json_t *feedback_statement(const rrow *st, const char *base, const char *ext, const char *learners)
{
	char sid[TRMX_UUID_SIZE], rid[TRMX_UUID_SIZE], key[512];
	trmx_xapi_statement_id("feedback", r_text(st, F_ID), sid);
	trmx_xapi_statement_id("run", r_text(st, F_RUN), rid);
	const char *source = r_text(st, F_SOURCE), *verdict = r_text(st, F_VERDICT);
	char sources[512];
	snprintf(sources, sizeof sources, "%s/sources", base);
	json_t *s = json_object(), *res = json_object(), *x = json_object(), *rx = json_object();
	json_object_set_new(s, "id", json_string(sid));
	bool by_learner = !strcmp(source, "learner") && !r_null(st, F_LEARNER);
	json_object_set_new(s, "actor", by_learner ? account(learners, r_text(st, F_LEARNER)) : account(sources, source));
	json_object_set_new(s, "verb", json_pack("{s:s,s:o}", "id", VERB_REVIEWED, "display", lang("reviewed")));
	json_object_set_new(s, "object", json_pack("{s:s,s:s}", "objectType", "StatementRef", "id", rid));
	json_object_set_new(res, "success", json_boolean(!strcmp(verdict, "correct")));
	double score = !r_null(st, F_SCORE) ? r_double(st, F_SCORE)
		       : !strcmp(verdict, "correct")		       ? 1.0
		       : !strcmp(verdict, "incorrect")		       ? 0.0
								       : NAN;
	if (!isnan(score))
		json_object_set_new(res, "score", json_pack("{s:f}", "scaled", score < 0 ? 0.0 : score > 1 ? 1.0 : score));
	if (!r_null(st, F_EXPECTED))
		json_object_set_new(res, "response", json_string(r_text(st, F_EXPECTED)));
	snprintf(key, sizeof key, "%s/verdict", ext);
	json_object_set_new(rx, key, json_string(verdict));
	if (!r_null(st, F_COMMENT)) {
		snprintf(key, sizeof key, "%s/comment", ext);
		json_object_set_new(rx, key, json_string(r_text(st, F_COMMENT)));
	}
	json_object_set_new(res, "extensions", rx);
	json_object_set_new(s, "result", res);
	snprintf(key, sizeof key, "%s/feedback-id", ext);
	json_object_set_new(x, key, json_string(r_text(st, F_ID)));
	snprintf(key, sizeof key, "%s/run-id", ext);
	json_object_set_new(x, key, json_string(r_text(st, F_RUN)));
	snprintf(key, sizeof key, "%s/source", ext);
	json_object_set_new(x, key, json_string(source));
	/* no context.platform: xAPI allows it only when the object is an Activity */
	json_object_set_new(s, "context", json_pack("{s:o}", "extensions", x));
	json_object_set_new(s, "timestamp", json_string(r_text(st, F_TIME)));
	return s;
}

/* A base IRL: scheme://something, no spaces or quotes, no trailing '/'. */
static bool base_valid(const char *b)
{
	const char *p = b;
	if (!((*p | 32) >= 'a' && (*p | 32) <= 'z'))
		return false;
	while (*p && *p != ':') {
		if (!(((*p | 32) >= 'a' && (*p | 32) <= 'z') || (*p >= '0' && *p <= '9') || strchr("+.-", *p)))
			return false;
		p++;
	}
	if (strncmp(p, "://", 3) || !p[3])
		return false;
	for (p += 3; *p; p++)
		if ((unsigned char)*p <= ' ' || strchr("\"<>\\^`{|}", *p))
			return false;
	return b[strlen(b) - 1] != '/' && strlen(b) < 200;
}

/* The rows statements are made of, in the column order of X_* and F_*; a filter or a key follows
 * the "WHERE 1". */
#define RUN_SELECT                                                                                                          \
	"SELECT r.id, r.time, r.context, r.learner, r.module, r.version, r.digest, r.arm, r.steps, "                        \
	"r.halt_confidence, r.latency_ms, r.output, r.input, r.status, r.kind, v.correct, v.verdict_source "               \
	"FROM runs r JOIN run_verdicts v ON v.run_id = r.id WHERE 1 = 1"
#define FEEDBACK_SELECT                                                                                                     \
	"SELECT f.id, f.run_id, f.time, f.source, f.verdict, f.score, f.expected, f.comment, r.learner "                  \
	"FROM feedback f JOIN runs r ON r.id = f.run_id WHERE 1 = 1"

/* Where the statements go and the IRIs they are built with. */
struct xapi_ctx {
	FILE *f;
	const char *base, *ext, *learners;
};

typedef json_t *(*statement_fn)(const rrow *st, const char *base, const char *ext, const char *learners);

/* Run `select` (ending in "WHERE 1") with the export's filter on `time_col` and `order`, and write
 * one statement per row; *count counts them. */
static int emit_rows(sqlite3 *db, trmx_pg *pg, an_filter *flt, const char *select, const char *time_col,
		     const char *order, statement_fn make, const struct xapi_ctx *x, int64_t *count, trmx_error *err)
{
	trmx_buf sql = { 0 };
	sqlite3_stmt *st = NULL;
	int rc, s;
	if (pg)
		trmx_buf_put(&sql, "DECLARE xapi_rows NO SCROLL CURSOR FOR ");
	trmx_buf_put(&sql, select);
	trmx__an_filter_sql(flt, &sql, time_col);
	trmx_buf_put(&sql, order);
	if (sql.failed) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if (pg) { /* a central log: the same rows through a cursor, 10,000 at a time */
		const char *params[8];
		char prefix[TRMX_CONTEXT_NAME_MAX + 1];
		int np = trmx__an_filter_params(flt, params, prefix, sizeof prefix);
		for (char *q = sql.s; (q = strchr(q, '?')); q++)
			*q = '$';
		PGresult *r = trmx_pg_query(pg, sql.s, np, params, err);
		if (!r) {
			rc = err->code;
			goto done;
		}
		PQclear(r);
		rc = 0;
		for (int n = 10000; n == 10000;) {
			if (!(r = trmx_pg_query(pg, "FETCH 10000 FROM xapi_rows", 0, NULL, err))) {
				rc = err->code;
				goto done;
			}
			n = PQntuples(r);
			rrow row = { .pg = r };
			for (row.i = 0; row.i < n && rc == 0; row.i++)
				if ((rc = emit(x->f, make(&row, x->base, x->ext, x->learners), err)) == 0)
					(*count)++;
			PQclear(r);
			if (rc < 0)
				goto done;
		}
		rc = trmx_pg_exec(pg, "CLOSE xapi_rows", err);
		goto done;
	}
	if ((rc = trmx_db_prepare(db, sql.s, &st, "log.db", err)) < 0)
		goto done;
	trmx__an_filter_bind(flt, st, 1);
	rrow row = { .st = st };
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		if ((rc = emit(x->f, make(&row, x->base, x->ext, x->learners), err)) < 0)
			goto done;
		(*count)++;
	}
	rc = s == SQLITE_DONE ? 0 : trmx_db_error(db, s, "log.db", err);
done:
	sqlite3_finalize(st);
	trmx_buf_free(&sql);
	return rc;
}

/* ---- One statement at a time, for the LRS sender (lrs.c) ---- */

int trmx__an_xapi_init(an_xapi *x, sqlite3 *db, trmx_pg *pg, const char *base, trmx_error *err)
{
	memset(x, 0, sizeof *x);
	base = base ? base : XAPI_BASE_DEFAULT;
	if (!base_valid(base))
		return trmx_error_set(err, TRMX_EINVAL,
				      "'%s' is not a base IRL for xAPI: "
				      "scheme://host[/path], no spaces, no trailing '/'",
				      base);
	snprintf(x->base, sizeof x->base, "%s", base);
	snprintf(x->ext, sizeof x->ext, "%s/xapi/extensions", base);
	snprintf(x->learners, sizeof x->learners, "%s/learners", base);
	int rc;
	if (pg) {
		x->pg = pg;
		return 0;
	}
	if ((rc = trmx_db_prepare(db, RUN_SELECT " AND r.id = ?1", &x->run, "log.db", err)) < 0 ||
	    (rc = trmx_db_prepare(db, FEEDBACK_SELECT " AND f.id = ?1", &x->feedback, "log.db", err)) < 0) {
		trmx__an_xapi_clear(x);
		return rc;
	}
	return 0;
}

void trmx__an_xapi_clear(an_xapi *x)
{
	sqlite3_finalize(x->run);
	sqlite3_finalize(x->feedback);
	x->run = x->feedback = NULL;
}

int trmx__an_xapi_statement(an_xapi *x, sqlite3 *db, bool feedback, const char *id, char **json, char run_id[TRMX_UUID_SIZE],
			    trmx_error *err)
{
	sqlite3_stmt *st = feedback ? x->feedback : x->run;
	int rc = 0, s;
	*json = NULL;
	if (x->pg) {
		const char *params[] = { id };
		PGresult *r = trmx_pg_query(x->pg, feedback ? FEEDBACK_SELECT " AND f.id = $1" : RUN_SELECT " AND r.id = $1", 1,
					    params, err);
		if (!r)
			return err->code;
		if (PQntuples(r) == 1) {
			rrow row = { .pg = r };
			json_t *j = feedback ? feedback_statement(&row, x->base, x->ext, x->learners)
					     : run_statement(&row, x->base, x->ext, x->learners);
			if (!j || !(*json = json_dumps(j, XAPI_JSON_FLAGS)))
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory building an xAPI statement");
			json_decref(j);
			snprintf(run_id, TRMX_UUID_SIZE, "%s", r_text(&row, feedback ? F_RUN : X_ID));
		}
		PQclear(r);
		return rc;
	}
	sqlite3_reset(st);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
	if ((s = trmx_db_step(st)) == SQLITE_ROW) {
		rrow row = { .st = st };
		json_t *j = feedback ? feedback_statement(&row, x->base, x->ext, x->learners)
				     : run_statement(&row, x->base, x->ext, x->learners);
		if (!j || !(*json = json_dumps(j, XAPI_JSON_FLAGS)))
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory building an xAPI statement");
		json_decref(j);
		trmx_db_column_copy(st, feedback ? F_RUN : X_ID, run_id, TRMX_UUID_SIZE);
	} else if (s != SQLITE_DONE) {
		rc = trmx_db_error(db, s, "log.db", err);
	}
	sqlite3_reset(st);
	return rc;
}

int trmx_export_xapi(const char *home, const trmx_xapi_options *opts, FILE *f, trmx_export_result *result, trmx_error *err)
{
	trmx_xapi_options defaults = TRMX_XAPI_OPTIONS_INIT;
	const trmx_xapi_options *o = opts ? opts : &defaults;
	if (!home || !f)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_export_xapi: missing argument");
	if (!trmx_version_ok(o->version, TRMX_XAPI_OPTIONS_VERSION))
		return trmx_version_refused(err, "xAPI options", o->version, TRMX_XAPI_OPTIONS_VERSION);
	const char *base = o->base ? o->base : XAPI_BASE_DEFAULT;
	if (!base_valid(base))
		return trmx_error_set(err, TRMX_EINVAL,
				      "'%s' is not a base IRL for xAPI: "
				      "scheme://host[/path], no spaces, no trailing '/'",
				      base);
	char ext[256], learners[256];
	snprintf(ext, sizeof ext, "%s/xapi/extensions", base);
	snprintf(learners, sizeof learners, "%s/learners", base);
	trmx_export_result res = { 0 };
	sqlite3 *db = NULL;
	trmx_pg *pg = NULL;
	char *url = NULL;
	an_filter flt = { .context = o->context, .module = o->module, .since_ms = o->since_ms, .until_ms = o->until_ms };
	int rc;
	/* one snapshot: a read transaction over log.db, or a repeatable read over the central log */
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0)
		goto done;
	if (url ? (rc = trmx_pg_open(&pg, url, true, err)) < 0 ||
			    (rc = trmx_pg_exec(pg, "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) < 0
		: (rc = trmx__an_open_log(home, true, &db, NULL, err)) < 0 ||
			    (rc = trmx_db_exec(db, "BEGIN", "log.db", err)) < 0)
		goto done;
	const struct xapi_ctx x = { f, base, ext, learners };
	if ((rc = emit_rows(db, pg, &flt, RUN_SELECT, "r.time", " ORDER BY r.time, r.id", run_statement, &x, &res.runs,
			    err)) < 0 ||
	    (rc = emit_rows(db, pg, &flt, FEEDBACK_SELECT, "f.time", " ORDER BY f.time, f.id", feedback_statement, &x,
			    &res.feedback, err)) < 0)
		goto done;
	if ((rc = trmx__an_check_stream(f, "the xAPI statements", err)) < 0)
		goto done;
	if (result)
		*result = res;
	rc = 0;
done:
	if (db) {
		trmx_db_rollback(db);
		sqlite3_close(db);
	}
	trmx_pg_rollback(pg);
	trmx_pg_close(pg);
	free(url);
	return rc;
}

/* ---- The training data set
 * ---------------------------------------------------------------------- */

struct row {
	char *puzzle, *solution, *time;
	int rank;
};

static int source_rank(const char *s)
{
	return !strcmp(s, "instructor") ? 0 : !strcmp(s, "eval") ? 1 : 2;
}

/* Is `solution` an answer the codec reads for `puzzle` and its checker does not
 * call invalid? */
static bool answer_ok(trmx_task *t, const char *puzzle, const char *solution, bool check)
{
	int L = trmx_task_seq_len(t);
	int32_t *in = malloc((size_t)L * 2 * sizeof *in);
	bool has = false, ok = false;
	char *line = trmx_xasprintf("%s,%s\n", puzzle, solution);
	if (in && line && trmx_task_encode(t, line, strlen(line), in, in + L, &has, NULL) == 0 && has) {
		ok = true;
		if (check) {
			trmx_check c = TRMX_CHECK_INIT;
			ok = trmx_task_check(t, in, in + L, NULL, &c, NULL) == 0 && c.verdict != TRMX_VERDICT_INVALID;
		}
	}
	free(line);
	free(in);
	return ok;
}

/* The data set being gathered: the module's task (from its first row), the rows kept, and the
 * puzzles seen. */
struct dataset {
	const trmx_dataset_export_options *opts;
	trmx_task *task;
	char task_name[128], params[512];
	struct row *rows;
	size_t n, cap;
	an_map seen;
	trmx_export_result res;
};

/* One correction (columns: run id, task, task_params, input, expected, source, time). */
static int dataset_row(struct dataset *d, const rrow *st, trmx_error *err)
{
	const char *puzzle = r_text(st, 3), *sol = r_text(st, 4), *src = r_text(st, 5), *time = r_text(st, 6);
	int rc;
	d->res.runs++;
	if (!d->task) {
		snprintf(d->task_name, sizeof d->task_name, "%s", r_text(st, 1));
		snprintf(d->params, sizeof d->params, "%s", r_text(st, 2));
		if ((rc = trmx_task_open(&d->task, d->task_name, d->params, err)) < 0) {
			trmx_error_prefix(err, "task %s of module %s", d->task_name, d->opts->module);
			return rc;
		}
		if (!strcmp(d->task_name, "arc"))
			return trmx_error_set(err, TRMX_EINVAL,
					      "module %s: ARC puzzles do not fit a CSV row; "
					      "export its corrections with trmx sql",
					      d->opts->module);
	} else if (strcmp(d->task_name, r_text(st, 1)) || strcmp(d->params, r_text(st, 2))) {
		return trmx_error_set(err, TRMX_EINVAL,
				      "module %s ran with different tasks (%s %s and %s "
				      "%s): export with --since to pick one",
				      d->opts->module, d->task_name, d->params, r_text(st, 1), r_text(st, 2));
	}
	/* the trainer reads these cells as they are: one a spreadsheet would take for a formula
	 * (trmx__an_csv_formula) is left out like one that would need quoting */
	if (strpbrk(puzzle, ",\"\r\n") || strpbrk(sol, ",\"\r\n") || trmx__an_csv_formula(puzzle) ||
	    trmx__an_csv_formula(sol) || !answer_ok(d->task, puzzle, sol, d->opts->check)) {
		d->res.rejected++;
		return 0;
	}
	int rank = source_rank(src);
	size_t len = strlen(puzzle);
	uint64_t h = trmx__an_hash(puzzle, len);
	size_t i = trmx__an_map_get(&d->seen, puzzle, len, h);
	if (i != SIZE_MAX) {
		struct row *r = &d->rows[i];
		d->res.duplicates++;
		if (rank < r->rank || (rank == r->rank && strcmp(time, r->time) >= 0)) {
			char *a = trmx_xstrdup(sol), *b = trmx_xstrdup(time);
			if (!a || !b) {
				free(a), free(b);
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			}
			free(r->solution), free(r->time);
			r->solution = a, r->time = b, r->rank = rank;
		}
		return 0;
	}
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 256;
		struct row *q = realloc(d->rows, nc * sizeof *q);
		if (!q)
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		d->rows = q, d->cap = nc;
	}
	struct row *r = &d->rows[d->n];
	*r = (struct row){ trmx_xstrdup(puzzle), trmx_xstrdup(sol), trmx_xstrdup(time), rank };
	if (!r->puzzle || !r->solution || !r->time || trmx__an_map_put(&d->seen, puzzle, len, h, d->n) < 0) {
		free(r->puzzle), free(r->solution), free(r->time);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	d->n++;
	return 0;
}

int trmx_export_dataset(const char *home, const trmx_dataset_export_options *opts, FILE *f, trmx_export_result *result,
			trmx_error *err)
{
	if (!home || !opts || !f)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_export_dataset: missing argument");
	if (!trmx_version_ok(opts->version, TRMX_DATASET_EXPORT_OPTIONS_VERSION))
		return trmx_version_refused(err, "data set export options", opts->version, TRMX_DATASET_EXPORT_OPTIONS_VERSION);
	if (!opts->module || !*opts->module)
		return trmx_error_set(err, TRMX_EINVAL, "a data set export needs a module (--module)");
	unsigned sources = opts->sources ? opts->sources : TRMX_EXPORT_FROM_INSTRUCTOR | TRMX_EXPORT_FROM_LEARNER;
	struct dataset d = { .opts = opts };
	sqlite3 *db = NULL;
	sqlite3_stmt *st = NULL;
	trmx_pg *pg = NULL;
	char *url = NULL;
	trmx_buf sql = { 0 };
	an_filter flt = { .module = opts->module, .since_ms = opts->since_ms, .until_ms = opts->until_ms };
	int rc, s;
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0)
		goto done;
	if (url ? (rc = trmx_pg_open(&pg, url, true, err)) < 0 ||
			    (rc = trmx_pg_exec(pg, "BEGIN TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY", err)) < 0
		: (rc = trmx__an_open_log(home, true, &db, NULL, err)) < 0)
		goto done;
	if (pg)
		trmx_buf_put(&sql, "DECLARE dataset_rows NO SCROLL CURSOR FOR ");
	trmx_buf_put(&sql, "SELECT r.id, r.task, r.task_params, r.input, f.expected, "
			 "f.source, f.time "
			 "FROM feedback f JOIN runs r ON r.id = f.run_id WHERE "
			 "f.expected IS NOT NULL AND f.source IN (");
	trmx_buf_printf(&sql, "'%s', '%s', '%s')", sources & TRMX_EXPORT_FROM_INSTRUCTOR ? "instructor" : "",
		      sources & TRMX_EXPORT_FROM_LEARNER ? "learner" : "", sources & TRMX_EXPORT_FROM_EVAL ? "eval" : "");
	trmx__an_filter_sql(&flt, &sql, "f.time");
	trmx_buf_put(&sql, " ORDER BY r.time, r.id, f.time, f.id");
	if (sql.failed) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if (pg) { /* a central log: the same rows through a cursor */
		const char *params[8];
		char prefix[TRMX_CONTEXT_NAME_MAX + 1];
		int np = trmx__an_filter_params(&flt, params, prefix, sizeof prefix);
		for (char *q = sql.s; (q = strchr(q, '?')); q++)
			*q = '$';
		PGresult *r = trmx_pg_query(pg, sql.s, np, params, err);
		if (!r) {
			rc = err->code;
			goto done;
		}
		PQclear(r);
		for (int n = 10000; n == 10000;) {
			if (!(r = trmx_pg_query(pg, "FETCH 10000 FROM dataset_rows", 0, NULL, err))) {
				rc = err->code;
				goto done;
			}
			n = PQntuples(r);
			rrow row = { .pg = r };
			for (row.i = 0; row.i < n && rc == 0; row.i++)
				rc = dataset_row(&d, &row, err);
			PQclear(r);
			if (rc < 0)
				goto done;
		}
	} else {
		if ((rc = trmx_db_prepare(db, sql.s, &st, "log.db", err)) < 0)
			goto done;
		trmx__an_filter_bind(&flt, st, 1);
		rrow row = { .st = st };
		while ((s = trmx_db_step(st)) == SQLITE_ROW)
			if ((rc = dataset_row(&d, &row, err)) < 0)
				goto done;
		if (s != SQLITE_DONE) {
			rc = trmx_db_error(db, s, "log.db", err);
			goto done;
		}
	}
	fputs("puzzle,solution\n", f);
	for (size_t i = 0; i < d.n; i++)
		fprintf(f, "%s,%s\n", d.rows[i].puzzle, d.rows[i].solution);
	if ((rc = trmx__an_check_stream(f, "the data set", err)) < 0)
		goto done;
	d.res.rows = (int64_t)d.n;
	if (result)
		*result = d.res;
	rc = 0;
done:
	for (size_t i = 0; i < d.n; i++)
		free(d.rows[i].puzzle), free(d.rows[i].solution), free(d.rows[i].time);
	free(d.rows);
	trmx__an_map_free(&d.seen);
	trmx_buf_free(&sql);
	sqlite3_finalize(st);
	trmx_task_free(d.task);
	if (db)
		sqlite3_close(db);
	trmx_pg_rollback(pg);
	trmx_pg_close(pg);
	free(url);
	return rc;
}
