/*
 * usage_log.c — the usage and feedback log (trmx/log.h): HOME/log.db in WAL mode, runs and feedback
 * appended in one transaction per call with ON CONFLICT(id) DO NOTHING, learner pseudonyms
 * (HMAC-SHA256 keyed by HOME/secret), UUIDv7 ids, and the summary views read back.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log_int.h"

#define SECRET_BYTES 32

struct trmx_log_db {
	sqlite3 *db;
	char *path;
	unsigned char secret[SECRET_BYTES];
	sqlite3_stmt *ins_run, *ins_fb, *run_exists, *run_same;
};

/* ---- Names ----------------------------------------------------------------------------------- */

const char *trmx_arm_name(trmx_arm arm)
{
	return arm == TRMX_ARM_CANARY ? "canary" : "main";
}

const char *trmx_run_status_name(trmx_run_status s)
{
	switch (s) {
	case TRMX_RUN_HALTED: return "halted";
	case TRMX_RUN_BUDGET: return "budget";
	case TRMX_RUN_ERROR: return "error";
	default: return "completed";
	}
}

const char *trmx_run_kind_name(trmx_run_kind k)
{
	switch (k) {
	case TRMX_RUN_KIND_EVAL: return "eval";
	case TRMX_RUN_KIND_SELFTEST: return "selftest";
	default: return "run";
	}
}

trmx_run_status trmx_run_status_from_reason(trmx_halt_reason r)
{
	switch (r) {
	case TRMX_HALT_REASON_Q: return TRMX_RUN_HALTED;
	case TRMX_HALT_REASON_BUDGET: return TRMX_RUN_BUDGET;
	default: return TRMX_RUN_COMPLETED;
	}
}

static const char *const source_names[] = { "checker", "learner", "instructor", "eval" };
static const char *const fverdict_names[] = { "correct", "incorrect", "partial" };

const char *trmx_feedback_source_name(trmx_feedback_source s)
{
	return (unsigned)s < 4 ? source_names[s] : "?";
}

const char *trmx_feedback_verdict_name(trmx_feedback_verdict v)
{
	return (unsigned)v < 3 ? fverdict_names[v] : "?";
}

int trmx_feedback_source_parse(const char *s, trmx_feedback_source *out, trmx_error *err)
{
	for (int i = 0; s && i < 4; i++)
		if (!strcmp(s, source_names[i])) {
			*out = (trmx_feedback_source)i;
			return 0;
		}
	return trmx_error_set(err, TRMX_EINVAL, "feedback source '%s' is not checker, learner, instructor or eval",
			      s ? s : "(null)");
}

int trmx_feedback_verdict_parse(const char *s, trmx_feedback_verdict *out, trmx_error *err)
{
	for (int i = 0; s && i < 3; i++)
		if (!strcmp(s, fverdict_names[i])) {
			*out = (trmx_feedback_verdict)i;
			return 0;
		}
	return trmx_error_set(err, TRMX_EINVAL, "verdict '%s' is not correct, incorrect or partial", s ? s : "(null)");
}

/* ---- UUIDv7 ---------------------------------------------------------------------------------- */

static pthread_mutex_t uuid_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t uuid_last_ms;
static unsigned uuid_seq;
static uint64_t uuid_state;  /* splitmix64 state, seeded from the system's randomness */
static pid_t uuid_pid;       /* the process that seeded it (a forked child reseeds) */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void trmx_uuid7(char out[TRMX_UUID_SIZE])
{
	unsigned char b[16];
	int64_t ms = trmx_now_ms();
	pthread_mutex_lock(&uuid_lock);
	if (uuid_pid != getpid()) {
		/* ids need to be unique, not secret: one system draw per process, then a fast generator */
		if (sodium_init() < 0)
			abort(); /* libsodium cannot run at all: no randomness to start from */
		randombytes_buf(&uuid_state, sizeof uuid_state);
		uuid_pid = getpid();
		uuid_last_ms = 0;
	}
	uint64_t r1 = splitmix64(&uuid_state), r2 = splitmix64(&uuid_state);
	if (ms <= uuid_last_ms) { /* same millisecond (or the clock went back): count on */
		ms = uuid_last_ms;
		if (++uuid_seq > 0xfff) {
			ms++;
			uuid_seq = 0;
		}
	} else {
		uuid_seq = (unsigned)(r1 & 0x7ff); /* random start, room to count */
	}
	uuid_last_ms = ms;
	unsigned seq = uuid_seq;
	pthread_mutex_unlock(&uuid_lock);
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)((uint64_t)ms >> (40 - 8 * i));
	b[6] = (unsigned char)(0x70 | ((seq >> 8) & 0x0f));
	b[7] = (unsigned char)(seq & 0xff);
	for (int i = 0; i < 8; i++)
		b[8 + i] = (unsigned char)(r2 >> (8 * i));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = 0;
}

void trmx_uuid_derived(char out[TRMX_UUID_SIZE], const char *kind, const char *of)
{
	unsigned char b[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_state h;
	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)kind, strlen(kind) + 1);
	crypto_hash_sha256_update(&h, (const unsigned char *)of, strlen(of));
	crypto_hash_sha256_final(&h, b);
	b[6] = (unsigned char)(0x80 | (b[6] & 0x0f));
	b[8] = (unsigned char)(0x80 | (b[8] & 0x3f));
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	for (int i = 0; i < 16; i++) {
		if (i == 4 || i == 6 || i == 8 || i == 10)
			*o++ = '-';
		*o++ = hex[b[i] >> 4];
		*o++ = hex[b[i] & 15];
	}
	*o = 0;
}

bool trmx_uuid_valid(const char *s)
{
	if (!s || strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f') || (s[i] >= 'A' && s[i] <= 'F'))) {
			return false;
		}
	}
	return true;
}

/* ---- The secret ------------------------------------------------------------------------------ */

static int read_secret(const char *path, unsigned char key[SECRET_BYTES], trmx_error *err)
{
	char buf[2 * SECRET_BYTES + 8];
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? TRMX_ENOTFOUND : trmx_error_set(err, TRMX_EIO, "cannot read %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) == 0 && (st.st_mode & 077)) {
		close(fd);
		return trmx_error_set(err, TRMX_EINVAL,
				      "%s is open to other users (mode %04o): whoever reads it can tell which learner id "
				      "a pseudonym is by trying ids; run chmod 600 on it (trmx makes it 0600)",
				      path, (unsigned)(st.st_mode & 07777));
	}
	ssize_t n = read(fd, buf, sizeof buf);
	close(fd);
	if (n < 2 * SECRET_BYTES)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: not a trmx secret (64 hex digits)", path);
	/* the first 64 bytes must be hex digits (sscanf read past the bytes read: valgrind saw it) */
	size_t got = 0;
	if (sodium_hex2bin(key, SECRET_BYTES, buf, 2 * SECRET_BYTES, NULL, &got, NULL) != 0 || got != SECRET_BYTES)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: not a trmx secret (64 hex digits)", path);
	return 0;
}

/* Make HOME/secret once: written to a private temporary file, then linked into place so that
 * two processes starting at once agree on one secret. */
static int load_secret(const char *home, unsigned char key[SECRET_BYTES], trmx_error *err)
{
	char path[4096], tmp[4200];
	snprintf(path, sizeof path, "%s/secret", home);
	int rc = read_secret(path, key, err);
	if (rc != TRMX_ENOTFOUND)
		return rc;
	/* A log whose runs were pseudonymised with a secret that is gone: a new one would give every
	 * learner new pseudonyms, and erase --learner would miss their earlier runs (issue 24, 4). */
	int64_t runs = 0;
	char logpath[4200];
	snprintf(logpath, sizeof logpath, "%s/log.db", home);
	sqlite3 *db = NULL;
	trmx_error e2;
	if (access(logpath, F_OK) == 0 && trmx_db_open(&db, logpath, "log.db", NULL, 0, TRMX_DB_READONLY, 0, &e2) == 0) {
		if (trmx_db_int64(db, "SELECT count(*) FROM runs WHERE learner IS NOT NULL", &runs, "log.db", &e2) < 0)
			runs = 0; /* no runs table yet: a log that never held a run */
		trmx_db_close(db);
	}
	if (runs > 0)
		return trmx_error_set(err, TRMX_ENOTFOUND,
				      "%s is missing, but log.db holds %lld runs of learners pseudonymised with it: a new "
				      "secret would give them all new pseudonyms. Restore the file from a backup of the "
				      "home (docs/SECURITY.md, \"The secret\"), or move log.db aside to start a new log",
				      path, (long long)runs);
	if (sodium_init() < 0)
		return trmx_error_set(err, TRMX_ERROR, "libsodium cannot be initialised");
	unsigned char k[SECRET_BYTES];
	char text[2 * SECRET_BYTES + 2];
	randombytes_buf(k, sizeof k);
	for (int i = 0; i < SECRET_BYTES; i++)
		snprintf(text + 2 * i, 3, "%02x", k[i]);
	text[2 * SECRET_BYTES] = '\n';
	snprintf(tmp, sizeof tmp, "%s.tmp.%ld.%u", path, (long)getpid(), randombytes_random());
	if (trmx_fault_hit(TRMX_FAULT_WRITE))
		return trmx_error_set(err, TRMX_EIO, "cannot write %s: injected fault", path);
	int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return trmx_error_set(err, TRMX_EIO, "cannot write %s: %s", tmp, strerror(errno));
	bool ok = write(fd, text, 2 * SECRET_BYTES + 1) == 2 * SECRET_BYTES + 1 && fsync(fd) == 0;
	ok = close(fd) == 0 && ok;
	if (!ok) {
		unlink(tmp);
		return trmx_error_set(err, TRMX_EIO, "cannot write %s: %s", tmp, strerror(errno));
	}
	if (link(tmp, path) != 0 && errno != EEXIST) {
		int e = errno;
		unlink(tmp);
		return trmx_error_set(err, TRMX_EIO, "cannot make %s: %s", path, strerror(e));
	}
	unlink(tmp);
	sodium_memzero(k, sizeof k);
	return read_secret(path, key, err); /* ours, or the one another process linked first */
}

/* ---- Open ------------------------------------------------------------------------------------ */

static const char ins_run_sql[] =
	"INSERT INTO runs (id, time, kind, batch_id, context, learner, target, module, version, digest, alias, arm, "
	"engine, task, task_params, input, output, output_tokens, halt, max_steps, steps, q_halt, halt_confidence, "
	"verdict, problem, latency_ms, status, error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "
	"?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28) ON CONFLICT (id) DO NOTHING";
static const char ins_fb_sql[] =
	"INSERT INTO feedback (id, run_id, time, source, verdict, score, expected, comment) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING";

int trmx_log_open(trmx_log_db **out, const char *home, const trmx_log_options *opts, trmx_error *err)
{
	if (!out || !home || !*home)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_open: missing argument");
	if (opts && opts->version != TRMX_LOG_OPTIONS_VERSION)
		return trmx_error_set(err, TRMX_EVERSION, "log options version %u is not %d", opts->version,
				      TRMX_LOG_OPTIONS_VERSION);
	trmx_log_db *l = trmx_xcalloc(1, sizeof *l);
	int rc;
	if (!l || !(l->path = trmx_xasprintf("%s/log.db", home))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the log");
		goto fail;
	}
	if ((rc = trmx_mkdirs(home, err)) < 0 || (rc = load_secret(home, l->secret, err)) < 0)
		goto fail;
	size_t nf;
	const trmx_sql_file *files = trmx_sql_log(&nf);
	unsigned flags = TRMX_DB_CREATE | (opts && opts->durable ? TRMX_DB_DURABLE : 0);
	if ((rc = trmx_db_open(&l->db, l->path, "log.db", files, nf, flags, opts ? opts->busy_timeout_ms : 0, err)) < 0)
		goto fail;
	/* appends touch the ends of the id index and random places of the learner and context
	 * indexes: a larger page cache than the default 2 MB keeps those in memory */
	if ((rc = trmx_db_exec(l->db, "PRAGMA cache_size = -16384", "log.db", err)) < 0)
		goto fail;
	/* The triggers that number new rows for the xAPI outbox (0004_xapi_outbox.sql) make every
	 * insert a statement of several writes, which SQLite journals on its own: in a temporary
	 * file unless temporary storage is memory. Measured on batched appends: 2.5x slower with
	 * the file; in memory about a quarter slower than with no triggers at all. */
	if ((rc = trmx_db_exec(l->db, "PRAGMA temp_store = MEMORY", "log.db", err)) < 0)
		goto fail;
	if ((rc = trmx_db_prepare(l->db, ins_run_sql, &l->ins_run, "log.db", err)) < 0 ||
	    (rc = trmx_db_prepare(l->db, ins_fb_sql, &l->ins_fb, "log.db", err)) < 0 ||
	    (rc = trmx_db_prepare(l->db, "SELECT 1 FROM runs WHERE id = ?1", &l->run_exists, "log.db", err)) < 0 ||
	    (rc = trmx_db_prepare(l->db,
				  "SELECT 1 FROM runs WHERE id = ?1 AND kind = ?2 AND input IS ?3 AND context IS ?4 AND "
				  "learner IS ?5 AND target IS ?6",
				  &l->run_same, "log.db", err)) < 0)
		goto fail;
	*out = l;
	return 0;
fail:
	trmx_log_free(l);
	return rc;
}

void trmx_log_free(trmx_log_db *l)
{
	if (!l)
		return;
	sqlite3_finalize(l->ins_run);
	sqlite3_finalize(l->ins_fb);
	sqlite3_finalize(l->run_exists);
	sqlite3_finalize(l->run_same);
	trmx_db_close(l->db);
	sodium_memzero(l->secret, sizeof l->secret);
	free(l->path);
	free(l);
}

const char *trmx_log_path(const trmx_log_db *l)
{
	return l ? l->path : NULL;
}

int trmx_log_pseudonym(const trmx_log_db *l, const char *learner, char out[TRMX_PSEUDONYM_SIZE], trmx_error *err)
{
	if (!l || !learner || !*learner)
		return trmx_error_set(err, TRMX_EINVAL, "a learner id must not be empty");
	size_t n = strlen(learner);
	if (n > TRMX_LEARNER_ID_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "a learner id of %zu bytes is longer than TRMX_LEARNER_ID_MAX (%d)",
				      n, TRMX_LEARNER_ID_MAX);
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, l->secret, sizeof l->secret);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)learner, n);
	crypto_auth_hmacsha256_final(&st, mac);
	for (size_t i = 0; i < sizeof mac; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* ---- Writing --------------------------------------------------------------------------------- */

static double sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

static int check_run(const trmx_run_record *r, size_t i, trmx_error *err)
{
	if (r->version != TRMX_RUN_RECORD_VERSION)
		return trmx_error_set(err, TRMX_EVERSION, "run record %zu: version %u is not %d", i, r->version,
				      TRMX_RUN_RECORD_VERSION);
	if (!trmx_uuid_valid(r->id))
		return trmx_error_set(err, TRMX_EINVAL, "run record %zu: id '%.40s' is not a UUID", i, r->id);
	const char *missing = !r->target ? "target" : !r->module ? "module" : !r->module_version ? "module_version"
			      : !r->digest ? "digest" : !r->engine ? "engine" : !r->task ? "task" : !r->input ? "input" : NULL;
	if (missing)
		return trmx_error_set(err, TRMX_EINVAL, "run record %zu (%s): %s is required", i, r->id, missing);
	if ((unsigned)r->status > TRMX_RUN_ERROR || (unsigned)r->arm > TRMX_ARM_CANARY ||
	    (unsigned)r->kind > TRMX_RUN_KIND_SELFTEST || (unsigned)r->verdict > TRMX_VERDICT_INVALID)
		return trmx_error_set(err, TRMX_EINVAL, "run record %zu (%s): an enum field is out of range", i, r->id);
	return 0;
}

static int check_feedback(const trmx_feedback_record *f, size_t i, trmx_error *err)
{
	if (f->version != TRMX_FEEDBACK_RECORD_VERSION)
		return trmx_error_set(err, TRMX_EVERSION, "feedback record %zu: version %u is not %d", i, f->version,
				      TRMX_FEEDBACK_RECORD_VERSION);
	if (f->id[0] && !trmx_uuid_valid(f->id))
		return trmx_error_set(err, TRMX_EINVAL, "feedback record %zu: id '%.40s' is not a UUID", i, f->id);
	if (!f->run_id || !trmx_uuid_valid(f->run_id))
		return trmx_error_set(err, TRMX_EINVAL, "feedback record %zu: run id '%.40s' is not a UUID", i,
				      f->run_id ? f->run_id : "(none)");
	if ((unsigned)f->source > TRMX_FEEDBACK_EVAL || (unsigned)f->verdict > TRMX_FEEDBACK_PARTIAL)
		return trmx_error_set(err, TRMX_EINVAL, "feedback record %zu: source or verdict out of range", i);
	if (!isnan(f->score) && !(f->score >= 0.0 && f->score <= 1.0))
		return trmx_error_set(err, TRMX_EINVAL, "feedback record %zu: score %g is not in [0, 1]", i, f->score);
	if ((f->expected && strlen(f->expected) > TRMX_FEEDBACK_TEXT_MAX) ||
	    (f->comment && strlen(f->comment) > TRMX_FEEDBACK_TEXT_MAX))
		return trmx_error_set(err, TRMX_ELIMIT, "feedback record %zu: text longer than TRMX_FEEDBACK_TEXT_MAX (%u bytes)",
				      i, TRMX_FEEDBACK_TEXT_MAX);
	return 0;
}

/* Text bound without a copy: every string outlives the statement's step. */
static void bind_static(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* The ISO time of `ms`, formatted once per distinct millisecond. */
static const char *iso(int64_t ms, int64_t *last, char buf[32])
{
	if (ms != *last) {
		trmx_iso_time(ms, buf);
		*last = ms;
	}
	return buf;
}

static int put_run(trmx_log_db *l, const trmx_run_record *r, int64_t now, size_t *added, trmx_error *err)
{
	sqlite3_stmt *st = l->ins_run;
	static __thread int64_t last = -1;
	static __thread char whenbuf[32];
	const char *when = iso(r->time_ms ? r->time_ms : now, &last, whenbuf);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	bool failed = r->status == TRMX_RUN_ERROR;
	bind_static(st, 1, r->id);
	bind_static(st, 2, when);
	bind_static(st, 3, trmx_run_kind_name(r->kind));
	bind_static(st, 4, r->batch_id);
	bind_static(st, 5, r->context);
	bind_static(st, 6, r->learner);
	bind_static(st, 7, r->target);
	bind_static(st, 8, r->module);
	bind_static(st, 9, r->module_version);
	bind_static(st, 10, r->digest);
	bind_static(st, 11, r->alias);
	bind_static(st, 12, trmx_arm_name(r->arm));
	bind_static(st, 13, r->engine);
	bind_static(st, 14, r->task);
	bind_static(st, 15, r->task_params ? r->task_params : "");
	bind_static(st, 16, r->input);
	bind_static(st, 17, r->output);
	bind_static(st, 18, r->output ? NULL : r->output_tokens);
	bind_static(st, 19, r->halt == TRMX_HALT_ADAPTIVE ? "adaptive" : "fixed");
	if (r->max_steps >= 0)
		sqlite3_bind_int(st, 20, r->max_steps);
	if (r->steps >= 0)
		sqlite3_bind_int(st, 21, r->steps);
	if (!isnan(r->q_halt)) {
		sqlite3_bind_double(st, 22, r->q_halt);
		sqlite3_bind_double(st, 23, sigmoid(r->q_halt));
	}
	if (!failed) {
		bind_static(st, 24, trmx_verdict_name(r->verdict));
		bind_static(st, 25, r->problem);
	}
	if (!isnan(r->latency_ms) && r->latency_ms >= 0)
		sqlite3_bind_double(st, 26, r->latency_ms);
	bind_static(st, 27, trmx_run_status_name(r->status));
	bind_static(st, 28, failed ? (r->error ? r->error : "failed") : NULL);
	int s = trmx_db_step(st);
	if (s != SQLITE_DONE) {
		int rc = trmx_db_error(l->db, s, "log.db", err);
		sqlite3_reset(st);
		return rc;
	}
	if (sqlite3_changes(l->db)) {
		(*added)++;
		return 0;
	}
	/* The id is taken: a retry of the same request is no duplicate, but another request under a
	 * reused id would be dropped while its caller is told it was logged (issue 24, item 7). */
	sqlite3_stmt *q = l->run_same;
	sqlite3_reset(q);
	sqlite3_clear_bindings(q);
	bind_static(q, 1, r->id);
	bind_static(q, 2, trmx_run_kind_name(r->kind));
	bind_static(q, 3, r->input);
	bind_static(q, 4, r->context);
	bind_static(q, 5, r->learner);
	bind_static(q, 6, r->target);
	s = trmx_db_step(q);
	sqlite3_reset(q);
	if (s == SQLITE_ROW)
		return 0;
	if (s != SQLITE_DONE)
		return trmx_db_error(l->db, s, "log.db", err);
	return trmx_error_set(err, TRMX_EEXIST,
			      "run id %s is already in the log for another request (another puzzle, context, learner "
			      "or target): a run id names one request; make a new one for this",
			      r->id);
}

static int put_feedback(trmx_log_db *l, const trmx_feedback_record *f, int64_t now, size_t *added, trmx_error *err)
{
	sqlite3_stmt *st;
	int s;
	char id[TRMX_UUID_SIZE];
	static __thread int64_t last = -1;
	static __thread char whenbuf[32];
	const char *when = iso(f->time_ms ? f->time_ms : now, &last, whenbuf);
	if (f->id[0])
		memcpy(id, f->id, sizeof id);
	else
		trmx_uuid7(id);
	st = l->ins_fb;
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT); /* a local: copied */
	bind_static(st, 2, f->run_id);
	bind_static(st, 3, when);
	bind_static(st, 4, trmx_feedback_source_name(f->source));
	bind_static(st, 5, trmx_feedback_verdict_name(f->verdict));
	if (!isnan(f->score))
		sqlite3_bind_double(st, 6, f->score);
	bind_static(st, 7, f->expected);
	bind_static(st, 8, f->comment);
	s = trmx_db_step(st);
	if (s != SQLITE_DONE) {
		int rc = trmx_db_error(l->db, s, "log.db", err);
		sqlite3_reset(st);
		if (s == SQLITE_CONSTRAINT) { /* the foreign key: is the run there? */
			sqlite3_stmt *q = l->run_exists;
			sqlite3_reset(q);
			sqlite3_bind_text(q, 1, f->run_id, -1, SQLITE_TRANSIENT);
			if (trmx_db_step(q) == SQLITE_DONE)
				rc = trmx_error_set(err, TRMX_ENOTFOUND, "log.db: no run %s", f->run_id);
			sqlite3_reset(q);
		}
		return rc;
	}
	*added += (size_t)sqlite3_changes(l->db);
	return 0;
}

int trmx_log_write(trmx_log_db *l, const trmx_run_record *runs, size_t n, const trmx_feedback_record *fb,
		   size_t nf, size_t *inserted, trmx_error *err)
{
	if (!l || (n && !runs) || (nf && !fb))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_write: missing argument");
	int rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = check_run(&runs[i], i, err)) < 0)
			return rc;
	for (size_t i = 0; i < nf; i++)
		if ((rc = check_feedback(&fb[i], i, err)) < 0)
			return rc;
	if (!n && !nf) {
		if (inserted)
			*inserted = 0;
		return 0;
	}
	size_t added = 0;
	int64_t now = trmx_now_ms();
	if ((rc = trmx_db_begin(l->db, "log.db", err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = put_run(l, &runs[i], now, &added, err)) < 0)
			goto fail;
	for (size_t i = 0; i < nf; i++)
		if ((rc = put_feedback(l, &fb[i], now, &added, err)) < 0)
			goto fail;
	if ((rc = trmx_db_commit(l->db, "log.db", err)) < 0)
		goto fail;
	if (inserted)
		*inserted = added;
	return 0;
fail:
	trmx_db_rollback(l->db);
	return rc;
}

int trmx_log_append(trmx_log_db *l, const trmx_run_record *runs, size_t n, size_t *inserted, trmx_error *err)
{
	return trmx_log_write(l, runs, n, NULL, 0, inserted, err);
}

int trmx_log_feedback(trmx_log_db *l, const trmx_feedback_record *fb, size_t n, size_t *inserted, trmx_error *err)
{
	return trmx_log_write(l, NULL, 0, fb, n, inserted, err);
}

/* ---- Reading --------------------------------------------------------------------------------- */

int trmx_log_run_get(trmx_log_db *l, const char *run_id, trmx_run_info *out, trmx_error *err)
{
	if (!l || !run_id || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_run_get: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(l->db,
				 "SELECT id, time, context, module, version, digest, task, task_params, status "
				 "FROM runs WHERE id = lower(?1)", &st, "log.db", err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	if (s == SQLITE_ROW) {
		trmx_run_info r;
		trmx_db_column_copy(st, 0, r.id, sizeof r.id);
		trmx_db_column_copy(st, 1, r.time, sizeof r.time);
		trmx_db_column_copy(st, 2, r.context, sizeof r.context);
		trmx_db_column_copy(st, 3, r.module, sizeof r.module);
		trmx_db_column_copy(st, 4, r.module_version, sizeof r.module_version);
		trmx_db_column_copy(st, 5, r.digest, sizeof r.digest);
		trmx_db_column_copy(st, 6, r.task, sizeof r.task);
		trmx_db_column_copy(st, 7, r.task_params, sizeof r.task_params);
		trmx_db_column_copy(st, 8, r.status, sizeof r.status);
		*out = r;
		rc = 0;
	} else if (s == SQLITE_DONE) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "no run %s in %s", run_id, l->path);
	} else {
		rc = trmx_db_error(l->db, s, "log.db", err);
	}
	sqlite3_finalize(st);
	return rc;
}

int trmx_log_run_texts(trmx_log_db *l, const char *run_id, char **input, char **output, trmx_error *err)
{
	if (!l || !run_id || !input || !output)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_run_texts: missing argument");
	sqlite3_stmt *st = NULL;
	int rc = trmx_db_prepare(l->db, "SELECT input, output FROM runs WHERE id = lower(?1)", &st, "log.db", err);
	if (rc < 0)
		return rc;
	sqlite3_bind_text(st, 1, run_id, -1, SQLITE_TRANSIENT);
	int s = trmx_db_step(st);
	char *in = NULL, *out = NULL;
	if (s == SQLITE_ROW) {
		const char *a = (const char *)sqlite3_column_text(st, 0), *b = (const char *)sqlite3_column_text(st, 1);
		if (!(in = strdup(a ? a : "")) || (b && !(out = strdup(b)))) {
			free(in);
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		} else {
			*input = in;
			*output = out;
		}
	} else if (s == SQLITE_DONE) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "no run %s in %s", run_id, l->path);
	} else {
		rc = trmx_db_error(l->db, s, "log.db", err);
	}
	sqlite3_finalize(st);
	return rc;
}

static double column_or_nan(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

int trmx_log_usage(trmx_log_db *l, trmx_usage_by by, const char *filter, trmx_usage_row **out, size_t *n,
		   trmx_error *err)
{
	if (!l || !out || !n)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_usage: missing argument");
	const char *sql = by == TRMX_USAGE_BY_CONTEXT
		? "SELECT context, arm, module, version, runs, errors, learners, correct, judged, mean_steps, mean_latency_ms "
		  "FROM context_summary WHERE ?1 IS NULL OR context = ?1 ORDER BY context, arm, module, version"
		: "SELECT '', '', module, version, runs, errors, -1, correct, correct + partial + incorrect, mean_steps, "
		  "mean_latency_ms FROM version_summary WHERE ?1 IS NULL OR module = ?1 ORDER BY module, version";
	sqlite3_stmt *st = NULL;
	trmx_usage_row *rows = NULL;
	size_t count = 0, cap = 0;
	int rc = trmx_db_prepare(l->db, sql, &st, "log.db", err), s;
	if (rc < 0)
		return rc;
	trmx_db_bind_text(st, 1, filter);
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		if (count == cap) {
			size_t nc = cap ? 2 * cap : 8;
			trmx_usage_row *nr = trmx_fault_hit(TRMX_FAULT_ALLOC) ? NULL : realloc(rows, nc * sizeof *rows);
			if (!nr) {
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory reading the log");
				goto done;
			}
			rows = nr;
			cap = nc;
		}
		trmx_usage_row *r = &rows[count++];
		trmx_db_column_copy(st, 0, r->context, sizeof r->context);
		trmx_db_column_copy(st, 1, r->arm, sizeof r->arm);
		trmx_db_column_copy(st, 2, r->module, sizeof r->module);
		trmx_db_column_copy(st, 3, r->module_version, sizeof r->module_version);
		r->runs = sqlite3_column_int64(st, 4);
		r->errors = sqlite3_column_int64(st, 5);
		r->learners = sqlite3_column_int64(st, 6);
		r->correct = sqlite3_column_int64(st, 7);
		r->judged = sqlite3_column_int64(st, 8);
		r->mean_steps = column_or_nan(st, 9);
		r->mean_latency_ms = column_or_nan(st, 10);
	}
	if (s != SQLITE_DONE) {
		rc = trmx_db_error(l->db, s, "log.db", err);
		goto done;
	}
	*out = rows;
	*n = count;
	rows = NULL;
	rc = 0;
done:
	free(rows);
	sqlite3_finalize(st);
	return rc;
}
