/*
 * usage_log.c — the usage and feedback log (trmx/log.h): HOME/log.db in WAL mode, or a central log
 * on PostgreSQL (pg.c) with HOME/log-outbox.db keeping the rows written while it is out of reach;
 * runs and feedback appended in one transaction per call with ON CONFLICT(id) DO NOTHING, learner
 * pseudonyms (HMAC-SHA256 keyed by HOME/secret), UUIDv7 ids, and the summary views read back.
 */
#define _GNU_SOURCE /* open_memstream */
#include <errno.h>
#include <fcntl.h>
#include <libpq-fe.h>
#include <math.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log_int.h"

#define SECRET_BYTES 32

struct trmx_log_db {
	sqlite3 *db;                /* log.db, or the outbox of a central log (NULL until needed) */
	char *path;                 /* log.db's path, or the central log's URL with the password masked */
	char *home;
	char host[72];              /* runs.host */
	unsigned char secret[SECRET_BYTES];
	sqlite3_stmt *ins_run, *ins_fb, *run_exists, *run_same;
	trmx_pg *pg;                /* the central log, NULL for log.db */
	char *outbox_path;          /* HOME/log-outbox.db */
	int64_t pending;            /* rows this process knows the outbox holds (-1: not counted) */
	int64_t retry_ms;           /* no reconnect before this time (the server was out of reach) */
	bool warned;                /* said once that rows wait in the outbox */
	char last_error[TRMX_ERROR_MESSAGE_MAX];
};

/* While the central log is out of reach, a write tries to reconnect at most this often. */
#define RECONNECT_MS 2000

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
	"verdict, problem, latency_ms, status, error, host) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "
	"?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29) ON CONFLICT (id) DO NOTHING";
static const char ins_fb_sql[] =
	"INSERT INTO feedback (id, run_id, time, source, verdict, score, expected, comment) "
	"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) ON CONFLICT (id) DO NOTHING";

/* Open the SQLite database at l->path-like `path` (log.db, or the outbox) with its statements. */
static int sqlite_open(trmx_log_db *l, const char *path, const char *what, const trmx_log_options *opts, trmx_error *err)
{
	size_t nf;
	const trmx_sql_file *files = trmx_sql_log(&nf);
	unsigned flags = TRMX_DB_CREATE | (opts && opts->durable ? TRMX_DB_DURABLE : 0);
	int rc;
	if ((rc = trmx_db_open(&l->db, path, what, files, nf, flags, opts ? opts->busy_timeout_ms : 0, err)) < 0)
		return rc;
	/* appends touch the ends of the id index and random places of the learner and context
	 * indexes: a larger page cache than the default 2 MB keeps those in memory */
	if ((rc = trmx_db_exec(l->db, "PRAGMA cache_size = -16384", what, err)) < 0)
		return rc;
	/* The triggers that number new rows for the xAPI outbox (0004_xapi_outbox.sql) make every
	 * insert a statement of several writes, which SQLite journals on its own: in a temporary
	 * file unless temporary storage is memory. Measured on batched appends: 2.5x slower with
	 * the file; in memory about a quarter slower than with no triggers at all. */
	if ((rc = trmx_db_exec(l->db, "PRAGMA temp_store = MEMORY", what, err)) < 0)
		return rc;
	/* the outbox holds feedback on runs the central log already has */
	if (l->pg && (rc = trmx_db_exec(l->db, "PRAGMA foreign_keys = OFF", what, err)) < 0)
		return rc;
	if ((rc = trmx_db_prepare(l->db, ins_run_sql, &l->ins_run, what, err)) < 0 ||
	    (rc = trmx_db_prepare(l->db, ins_fb_sql, &l->ins_fb, what, err)) < 0 ||
	    (rc = trmx_db_prepare(l->db, "SELECT 1 FROM runs WHERE id = ?1", &l->run_exists, what, err)) < 0 ||
	    (rc = trmx_db_prepare(l->db,
				  "SELECT 1 FROM runs WHERE id = ?1 AND kind = ?2 AND input IS ?3 AND context IS ?4 AND "
				  "learner IS ?5 AND target IS ?6",
				  &l->run_same, what, err)) < 0)
		return rc;
	return 0;
}

static void sqlite_close(trmx_log_db *l)
{
	sqlite3_finalize(l->ins_run);
	sqlite3_finalize(l->ins_fb);
	sqlite3_finalize(l->run_exists);
	sqlite3_finalize(l->run_same);
	l->ins_run = l->ins_fb = l->run_exists = l->run_same = NULL;
	trmx_db_close(l->db);
	l->db = NULL;
}

/* The outbox of a central log, opened when first needed. */
static int outbox_open(trmx_log_db *l, trmx_error *err)
{
	if (l->db)
		return 0;
	int rc = sqlite_open(l, l->outbox_path, "log-outbox.db", NULL, err);
	if (rc < 0)
		sqlite_close(l);
	return rc;
}

static int outbox_count(trmx_log_db *l, trmx_error *err)
{
	int64_t a = 0, b = 0;
	int rc;
	if ((rc = trmx_db_int64(l->db, "SELECT count(*) FROM runs", &a, "log-outbox.db", err)) < 0 ||
	    (rc = trmx_db_int64(l->db, "SELECT count(*) FROM feedback", &b, "log-outbox.db", err)) < 0)
		return rc;
	l->pending = a + b;
	return 0;
}

/* The HMAC of a fixed text under the secret: what the hosts of a central log compare. */
static void secret_check_value(const trmx_log_db *l, char out[65])
{
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	static const char text[] = "trmx central log: the hosts' shared secret";
	crypto_auth_hmacsha256(mac, (const unsigned char *)text, sizeof text - 1, l->secret);
	for (size_t i = 0; i < sizeof mac; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
}

/* Connect (again) to the central log and check the secret; TRMX_EIO with the server out of reach. */
static int central_connect(trmx_log_db *l, bool first, trmx_error *err)
{
	int rc = first ? 0 : trmx_pg_reconnect(l->pg, err);
	if (rc == 0) {
		char check[65];
		secret_check_value(l, check);
		rc = trmx_pg_secret_check(l->pg, check, l->host, err);
	}
	if (rc < 0 && trmx_pg_down(l->pg)) {
		snprintf(l->last_error, sizeof l->last_error, "%s", err->message);
		l->retry_ms = trmx_now_ms() + RECONNECT_MS;
	}
	return rc;
}

/* The secret of a host on a central log. A missing one is made only when the central log says
 * it has no secret yet: once it holds runs, a new secret would give this host's learners other
 * pseudonyms than the other hosts give them. `reached`: the central log answered. */
static int central_secret(trmx_log_db *l, bool reached, trmx_error *err)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/secret", l->home);
	if (access(path, F_OK) != 0) {
		if (!reached)
			return trmx_error_set(err, TRMX_ENOTFOUND,
					      "%s is missing, and the central log %s cannot be reached to tell whether its hosts "
					      "share a secret already: copy HOME/secret from one of them (mode 0600), or try again "
					      "once it answers",
					      path, l->path);
		PGresult *r = trmx_pg_query(l->pg, "SELECT coalesce(max(by_host), '') FROM log_secret", 0, NULL, err);
		if (!r)
			return err->code;
		bool taken = PQntuples(r) == 1 && *PQgetvalue(r, 0, 0);
		char by[80];
		snprintf(by, sizeof by, "%s", taken ? PQgetvalue(r, 0, 0) : "");
		PQclear(r);
		/* another process of this home may have made the secret and started the log meanwhile
		 * (a new home's first runs, at once): then the file is there now, and the HMAC check
		 * after this says whether it is the log's */
		if (taken && access(path, F_OK) != 0)
			return trmx_error_set(err, TRMX_ENOTFOUND,
					      "%s is missing, but the central log %s was started with a secret (by host %s) that "
					      "pseudonymises its learners: copy HOME/secret from one of its hosts, or restore it "
					      "from a backup (docs/SECURITY.md, \"The secret\"); a new one would give this host's "
					      "learners other pseudonyms",
					      path, l->path, by);
	}
	return load_secret(l->home, l->secret, err);
}

int trmx_log_open(trmx_log_db **out, const char *home, const trmx_log_options *opts, trmx_error *err)
{
	if (!out || !home || !*home)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_open: missing argument");
	if (opts && !trmx_version_ok(opts->version, TRMX_LOG_OPTIONS_VERSION))
		return trmx_version_refused(err, "log options", opts->version, TRMX_LOG_OPTIONS_VERSION);
	trmx_log_db *l = trmx_xcalloc(1, sizeof *l);
	char *url = NULL;
	int rc;
	if (!l || !(l->home = trmx_xstrdup(home))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the log");
		goto fail;
	}
	l->pending = -1;
	trmx_log_host_id(home, l->host, sizeof l->host);
	if ((rc = trmx_log_url(home, NULL, &url, err)) < 0 || (rc = trmx_mkdirs(home, err)) < 0)
		goto fail;
	if (!url) {
		if ((rc = load_secret(home, l->secret, err)) < 0)
			goto fail;
		if (!(l->path = trmx_xasprintf("%s/log.db", home))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the log");
			goto fail;
		}
		if ((rc = sqlite_open(l, l->path, "log.db", opts, err)) < 0)
			goto fail;
		*out = l;
		return 0;
	}
	/* A central log: a server out of reach is no failure (the rows wait in the outbox), a
	 * schema from a newer trmx or another secret is. */
	if (!(l->outbox_path = trmx_xasprintf("%s/log-outbox.db", home))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the log");
		goto fail;
	}
	int prc = trmx_pg_open(&l->pg, url, false, err);
	if (!l->pg) {
		rc = prc;
		goto fail;
	}
	if (!(l->path = trmx_xstrdup(trmx_pg_name(l->pg)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory opening the log");
		goto fail;
	}
	if (prc < 0 && !trmx_pg_down(l->pg)) { /* a newer schema, a failed migration */
		rc = prc;
		goto fail;
	}
	if (prc < 0) {
		snprintf(l->last_error, sizeof l->last_error, "%s", err->message);
		l->retry_ms = trmx_now_ms() + RECONNECT_MS;
	}
	if ((rc = central_secret(l, prc == 0, err)) < 0 ||
	    (prc == 0 && (rc = central_connect(l, true, err)) < 0 && !trmx_pg_down(l->pg)))
		goto fail;
	if (access(l->outbox_path, F_OK) == 0 && ((rc = outbox_open(l, err)) < 0 || (rc = outbox_count(l, err)) < 0))
		goto fail;
	free(url);
	*out = l;
	return 0;
fail:
	free(url);
	trmx_log_free(l);
	return rc;
}

void trmx_log_free(trmx_log_db *l)
{
	if (!l)
		return;
	sqlite_close(l);
	trmx_pg_close(l->pg);
	sodium_memzero(l->secret, sizeof l->secret);
	free(l->path);
	free(l->home);
	free(l->outbox_path);
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
	if (!trmx_version_ok(r->version, TRMX_RUN_RECORD_VERSION))
		return trmx_error_set(err, TRMX_EVERSION, "run record %zu: version %u; this trmx reads versions 1 to %d", i, r->version,
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
	if (!trmx_version_ok(f->version, TRMX_FEEDBACK_RECORD_VERSION))
		return trmx_error_set(err, TRMX_EVERSION, "feedback record %zu: version %u; this trmx reads versions 1 to %d", i, f->version,
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
	bind_static(st, 29, l->host);
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

/* The rows into the SQLite database of `l` (log.db or the outbox), in one transaction. */
static int sqlite_write(trmx_log_db *l, const trmx_run_record *runs, size_t n, const trmx_feedback_record *fb,
			size_t nf, int64_t now, size_t *added, trmx_error *err)
{
	int rc;
	if ((rc = trmx_db_begin(l->db, "log.db", err)) < 0)
		return rc;
	for (size_t i = 0; i < n; i++)
		if ((rc = put_run(l, &runs[i], now, added, err)) < 0)
			goto fail;
	for (size_t i = 0; i < nf; i++)
		if ((rc = put_feedback(l, &fb[i], now, added, err)) < 0)
			goto fail;
	if ((rc = trmx_db_commit(l->db, "log.db", err)) < 0)
		goto fail;
	return 0;
fail:
	trmx_db_rollback(l->db);
	return rc;
}

/* The rows in COPY's text form for the central log. */
static int central_rows(const trmx_log_db *l, const trmx_run_record *runs, size_t n, const trmx_feedback_record *fb,
			size_t nf, int64_t now, char **rtext, size_t *rlen, char **ftext, size_t *flen, trmx_error *err)
{
	char when[32];
	int64_t last = -1;
	FILE *f = open_memstream(rtext, rlen);
	if (!f)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		trmx_pg_copy_run(f, &runs[i], iso(runs[i].time_ms ? runs[i].time_ms : now, &last, when), l->host);
	if (fclose(f) != 0)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (!(f = open_memstream(ftext, flen)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	for (size_t i = 0; i < nf; i++)
		trmx_pg_copy_feedback(f, &fb[i], iso(fb[i].time_ms ? fb[i].time_ms : now, &last, when));
	if (fclose(f) != 0)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	return 0;
}

/* Is the run of every feedback row known: among `runs`, waiting in the outbox, or in the central
 * log? */
static bool runs_known(trmx_log_db *l, const trmx_run_record *runs, size_t n, const trmx_feedback_record *fb,
		       size_t nf)
{
	trmx_error e2;
	if (!l->db && (access(l->outbox_path, F_OK) != 0 || outbox_open(l, &e2) < 0))
		return false;
	for (size_t i = 0; i < nf; i++) {
		bool found = false;
		for (size_t j = 0; j < n && !found; j++)
			found = !strcasecmp(runs[j].id, fb[i].run_id);
		if (!found) {
			sqlite3_reset(l->run_exists);
			sqlite3_bind_text(l->run_exists, 1, fb[i].run_id, -1, SQLITE_TRANSIENT);
			found = trmx_db_step(l->run_exists) == SQLITE_ROW;
			sqlite3_reset(l->run_exists);
		}
		if (!found) {
			PGresult *r = trmx_pg_query(l->pg, "SELECT 1 FROM runs WHERE id = lower($1)", 1,
						    (const char *const[]){ fb[i].run_id }, &e2);
			found = r && PQntuples(r) > 0;
			if (r)
				PQclear(r);
		}
		if (!found)
			return false;
	}
	return true;
}

/* Into the central log, or (the server out of reach, or the outbox still holding earlier rows
 * that these may refer to) into the outbox. */
static int central_write(trmx_log_db *l, const trmx_run_record *runs, size_t n, const trmx_feedback_record *fb,
			 size_t nf, int64_t now, size_t *added, trmx_error *err)
{
	int rc = 0;
	if (l->pending != 0 && (l->db || access(l->outbox_path, F_OK) == 0)) {
		size_t pushed = 0;
		trmx_error e2;
		if ((rc = outbox_open(l, err)) < 0)
			return rc;
		int prc = TRMX_EIO;
		if (trmx_now_ms() >= l->retry_ms)
			prc = trmx_log_push(l, &pushed, &e2);
		/* rows still wait for the central log to come back (these may be feedback on them); rows it
		 * refused (TRMX_EINVAL) wait for a person and hold nothing up */
		if (prc < 0 && prc != TRMX_EINVAL)
			goto outbox;
	}
	if (trmx_pg_down(l->pg) && trmx_now_ms() < l->retry_ms)
		goto outbox;
	char *rt = NULL, *ft = NULL;
	size_t rlen = 0, flen = 0;
	if ((rc = central_rows(l, runs, n, fb, nf, now, &rt, &rlen, &ft, &flen, err)) == 0) {
		for (int attempt = 0; attempt < 2; attempt++) {
			if (trmx_pg_down(l->pg) && (rc = central_connect(l, false, err)) < 0)
				break;
			if ((rc = trmx_pg_write(l->pg, rt, rlen, ft, flen, added, err)) == 0 || !trmx_pg_down(l->pg))
				break;
		}
	}
	free(rt);
	free(ft);
	if (rc == 0 || (!trmx_pg_down(l->pg) && rc != TRMX_ENOTFOUND))
		return rc;
	if (!trmx_pg_down(l->pg)) {
		/* feedback on a run the central log lacks: kept only when that run waits in the outbox */
		if (!runs_known(l, runs, n, fb, nf))
			return rc;
		goto keep;
	}
	snprintf(l->last_error, sizeof l->last_error, "%s", err->message);
	l->retry_ms = trmx_now_ms() + RECONNECT_MS;
outbox:
	/* kept here until the central log takes it (trmx log push, or trmx serve in the background) */
	if (!l->warned) {
		trmx_diag(TRMX_DIAG_WARN, "the central log is out of reach (%s): runs and feedback wait in %s until "
			 "`trmx log push` (trmx serve pushes by itself)", l->last_error, l->outbox_path);
		l->warned = true;
	}
keep:
	if ((rc = outbox_open(l, err)) < 0 || (rc = sqlite_write(l, runs, n, fb, nf, now, added, err)) < 0)
		return rc;
	if (l->pending >= 0)
		l->pending += (int64_t)(n + nf);
	else
		outbox_count(l, err);
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
	if (!l->pg) {
		rc = sqlite_write(l, runs, n, fb, nf, now, &added, err);
	} else {
		/* every feedback row gets its id here, so that the outbox and the central log agree */
		trmx_feedback_record *own = NULL;
		for (size_t i = 0; i < nf && !own; i++)
			if (!fb[i].id[0]) {
				if (!(own = trmx_xmalloc(nf * sizeof *own)))
					return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
				memcpy(own, fb, nf * sizeof *own);
				for (size_t j = 0; j < nf; j++)
					if (!own[j].id[0])
						trmx_uuid7(own[j].id);
			}
		rc = central_write(l, runs, n, own ? own : fb, nf, now, &added, err);
		free(own);
	}
	if (rc == 0 && inserted)
		*inserted = added;
	return rc;
}

/* ---- The outbox of a central log ----------------------------------------------------------- */

static const char outbox_runs_sql[] =
	"SELECT rowid, id, time, kind, batch_id, context, learner, target, module, version, digest, alias, arm, engine, "
	"task, task_params, input, output, output_tokens, halt, max_steps, steps, q_halt, halt_confidence, verdict, "
	"problem, latency_ms, status, error, host FROM runs WHERE rowid > ?1 ORDER BY rowid LIMIT ?2";
static const char outbox_fb_sql[] =
	"SELECT rowid, id, run_id, time, source, verdict, score, expected, comment FROM feedback WHERE rowid > ?1 "
	"ORDER BY rowid LIMIT ?2";

#define PUSH_CHUNK 2000

/* Push the rows of one outbox table after rowid `*from`, `limit` at a time (1: one by one, to
 * leave a row the central log refuses behind); *from moves past what was read. *moved counts
 * the rows taken, *stuck those refused (they stay). *more: rows may follow. */
static int push_chunk(trmx_log_db *l, bool feedback, int64_t *from, int limit, size_t *moved, size_t *stuck,
		      bool *more, trmx_error *err)
{
	sqlite3_stmt *st = NULL;
	char *text = NULL;
	size_t len = 0, rows = 0;
	int64_t last = *from;
	int rc = trmx_db_prepare(l->db, feedback ? outbox_fb_sql : outbox_runs_sql, &st, "log-outbox.db", err), s;
	if (rc < 0)
		return rc;
	sqlite3_bind_int64(st, 1, *from);
	sqlite3_bind_int(st, 2, limit);
	FILE *f = open_memstream(&text, &len);
	if (!f) {
		sqlite3_finalize(st);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	while ((s = trmx_db_step(st)) == SQLITE_ROW) {
		last = sqlite3_column_int64(st, 0);
		trmx_pg_copy_sqlite_row(f, st, 1, sqlite3_column_count(st) - 1);
		rows++;
	}
	sqlite3_finalize(st);
	if (fclose(f) != 0) {
		free(text);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	if (s != SQLITE_DONE) {
		free(text);
		return trmx_db_error(l->db, s, "log-outbox.db", err);
	}
	*more = rows == (size_t)limit;
	if (!rows) {
		free(text);
		return 0;
	}
	size_t added = 0;
	rc = feedback ? trmx_pg_write(l->pg, NULL, 0, text, len, &added, err)
		      : trmx_pg_write(l->pg, text, len, NULL, 0, &added, err);
	free(text);
	if (rc < 0) {
		if (trmx_pg_down(l->pg) || limit > 1)
			return rc; /* out of reach: try later; refused in a chunk: the caller goes row by row */
		snprintf(l->last_error, sizeof l->last_error, "%s", err->message);
		(*stuck)++;
		*from = last;
		return 0;
	}
	/* the central log has them (committed): now they may go from here; a crash before this
	 * delete pushes them again, which ON CONFLICT makes no duplicate */
	char sql[96];
	snprintf(sql, sizeof sql, "DELETE FROM %s WHERE rowid > %lld AND rowid <= %lld", feedback ? "feedback" : "runs",
		 (long long)*from, (long long)last);
	if ((rc = trmx_db_exec(l->db, sql, "log-outbox.db", err)) < 0)
		return rc;
	*moved += rows;
	return 0;
}

static int push_table(trmx_log_db *l, bool feedback, size_t *moved, size_t *stuck, trmx_error *err)
{
	int64_t from = 0;
	bool more = true;
	while (more) {
		int64_t start = from;
		int rc = push_chunk(l, feedback, &from, PUSH_CHUNK, moved, stuck, &more, err);
		if (rc < 0 && trmx_pg_down(l->pg))
			return rc;
		if (rc < 0) {
			/* one of these rows is refused (feedback on a run that is nowhere, a run id reused):
			 * the others go one by one, the refused stay and are counted */
			from = start;
			for (int i = 0; i < PUSH_CHUNK; i++) {
				bool one_more = false;
				if ((rc = push_chunk(l, feedback, &from, 1, moved, stuck, &one_more, err)) < 0)
					return rc;
				if (!one_more)
					break;
			}
			more = true;
		}
	}
	return 0;
}

int trmx_log_push(trmx_log_db *l, size_t *pushed, trmx_error *err)
{
	if (!l || !pushed)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_push: missing argument");
	*pushed = 0;
	if (!l->pg)
		return trmx_error_set(err, TRMX_EINVAL, "%s is the log itself (no central log is set): nothing to push",
				      l->path);
	if (!l->db && access(l->outbox_path, F_OK) != 0)
		return 0;
	int rc;
	if ((rc = outbox_open(l, err)) < 0)
		return rc;
	if (trmx_pg_down(l->pg) && (rc = central_connect(l, false, err)) < 0)
		return rc;
	size_t moved = 0, stuck = 0;
	/* runs before the feedback that may refer to them */
	if ((rc = push_table(l, false, &moved, &stuck, err)) == 0)
		rc = push_table(l, true, &moved, &stuck, err);
	*pushed = moved;
	if (rc < 0) {
		snprintf(l->last_error, sizeof l->last_error, "%s", err->message);
		l->retry_ms = trmx_now_ms() + RECONNECT_MS;
	}
	trmx_error e2;
	if (outbox_count(l, &e2) == 0 && l->pending == 0)
		trmx_db_exec(l->db, "DELETE FROM xapi_queue", "log-outbox.db", &e2);
	if (rc == 0 && stuck)
		return trmx_error_set(err, TRMX_EINVAL, "%zu rows pushed, %zu refused by the central log and kept in %s: %s",
				      moved, stuck, l->outbox_path, l->last_error);
	return rc;
}

int trmx_log_status(trmx_log_db *l, trmx_log_status_info *out, trmx_error *err)
{
	if (!l || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_status: missing argument");
	memset(out, 0, sizeof *out);
	out->central = l->pg != NULL;
	snprintf(out->where, sizeof out->where, "%s", l->path);
	snprintf(out->host, sizeof out->host, "%s", l->host);
	if (!l->pg) {
		out->reachable = true;
		return 0;
	}
	snprintf(out->outbox, sizeof out->outbox, "%s", l->outbox_path);
	if (trmx_pg_down(l->pg)) {
		trmx_error e2;
		central_connect(l, false, &e2);
	}
	out->reachable = !trmx_pg_down(l->pg);
	snprintf(out->last_error, sizeof out->last_error, "%s", out->reachable ? "" : l->last_error);
	if (!l->db && access(l->outbox_path, F_OK) != 0)
		return 0;
	int rc;
	if ((rc = outbox_open(l, err)) < 0 ||
	    (rc = trmx_db_int64(l->db, "SELECT count(*) FROM runs", &out->outbox_runs, "log-outbox.db", err)) < 0 ||
	    (rc = trmx_db_int64(l->db, "SELECT count(*) FROM feedback", &out->outbox_feedback, "log-outbox.db", err)) < 0)
		return rc;
	sqlite3_stmt *st = NULL;
	if (trmx_db_prepare(l->db, "SELECT min(t) FROM (SELECT min(time) AS t FROM runs UNION ALL SELECT min(time) FROM feedback)",
			    &st, "log-outbox.db", err) == 0) {
		if (trmx_db_step(st) == SQLITE_ROW)
			trmx_db_column_copy(st, 0, out->oldest, sizeof out->oldest);
		sqlite3_finalize(st);
	}
	l->pending = out->outbox_runs + out->outbox_feedback;
	return 0;
}

bool trmx_log_outbox_pending(const trmx_log_db *l)
{
	/* another handle on this home (another process, the host's handle in trmx serve) may have
	 * written the outbox: its file says more than this handle's count */
	return l && l->pg && access(l->outbox_path, F_OK) == 0;
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

/* A run of the central log, or of the outbox when the central log lacks it or is out of reach:
 * the row's first `ncols` columns of `cols` (SQL after SELECT) into *r (malloc'd texts, NULL for
 * SQL NULL; free with free_texts). 1 when found, 0 when not, < 0 on error. */
static int central_run(trmx_log_db *l, const char *cols, const char *run_id, char **texts, int ncols, trmx_error *err)
{
	if (trmx_pg_down(l->pg) && trmx_now_ms() >= l->retry_ms)
		central_connect(l, false, err);
	if (trmx_pg_down(l->pg))
		return 0;
	char sql[400];
	snprintf(sql, sizeof sql, "SELECT %s FROM runs WHERE id = lower($1)", cols);
	PGresult *r = trmx_pg_query(l->pg, sql, 1, (const char *const[]){ run_id }, err);
	if (!r)
		return trmx_pg_down(l->pg) ? 0 : err->code;
	int found = PQntuples(r) == 1;
	for (int i = 0; found && i < ncols; i++)
		if (!PQgetisnull(r, 0, i) && !(texts[i] = strdup(PQgetvalue(r, 0, i)))) {
			PQclear(r);
			return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		}
	PQclear(r);
	return found;
}

/* For a central log, the outbox (when it exists) as l->db; false when there is none. */
static bool local_rows(trmx_log_db *l)
{
	trmx_error e2;
	return !l->pg ? true : l->db ? true : access(l->outbox_path, F_OK) == 0 && outbox_open(l, &e2) == 0;
}

int trmx_log_run_get(trmx_log_db *l, const char *run_id, trmx_run_info *out, trmx_error *err)
{
	if (!l || !run_id || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_log_run_get: missing argument");
	if (l->pg) {
		char *t[9] = { 0 };
		int found = central_run(l, "id, time, context, module, version, digest, task, task_params, status", run_id,
					t, 9, err);
		if (found == 1) {
			trmx_run_info r;
			char *fields[9] = { r.id, r.time, r.context, r.module, r.module_version, r.digest, r.task,
					    r.task_params, r.status };
			size_t caps[9] = { sizeof r.id, sizeof r.time, sizeof r.context, sizeof r.module,
					   sizeof r.module_version, sizeof r.digest, sizeof r.task, sizeof r.task_params,
					   sizeof r.status };
			for (int i = 0; i < 9; i++)
				snprintf(fields[i], caps[i], "%s", t[i] ? t[i] : "");
			*out = r;
		}
		for (int i = 0; i < 9; i++)
			free(t[i]);
		if (found != 0)
			return found < 0 ? found : 0;
		if (!local_rows(l))
			return trmx_error_set(err, TRMX_ENOTFOUND, "no run %s in %s", run_id, l->path);
	}
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
	if (l->pg) {
		char *t[2] = { 0 };
		int found = central_run(l, "input, output", run_id, t, 2, err);
		if (found == 1) {
			*input = t[0] ? t[0] : strdup("");
			*output = t[1];
			if (!*input) {
				free(t[1]);
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			}
			return 0;
		}
		free(t[0]);
		free(t[1]);
		if (found < 0)
			return found;
		if (!local_rows(l))
			return trmx_error_set(err, TRMX_ENOTFOUND, "no run %s in %s", run_id, l->path);
	}
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

static double pg_double(PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NAN : strtod(PQgetvalue(r, row, col), NULL);
}

/* trmx_log_usage over the central log's views (what waits in the outbox is not counted). */
static int central_usage(trmx_log_db *l, trmx_usage_by by, const char *filter, trmx_usage_row **out, size_t *n,
			 trmx_error *err)
{
	const char *sql = by == TRMX_USAGE_BY_CONTEXT
		? "SELECT context, arm, module, version, runs, errors, learners, correct, judged, mean_steps, mean_latency_ms "
		  "FROM context_summary WHERE $1::text IS NULL OR context = $1 ORDER BY context, arm, module, version"
		: "SELECT '', '', module, version, runs, errors, -1, correct, correct + partial + incorrect, mean_steps, "
		  "mean_latency_ms FROM version_summary WHERE $1::text IS NULL OR module = $1 ORDER BY module, version";
	if (trmx_pg_down(l->pg) && central_connect(l, false, err) < 0)
		return err->code;
	PGresult *r = trmx_pg_query(l->pg, sql, 1, (const char *const[]){ filter }, err);
	if (!r)
		return err->code;
	size_t count = (size_t)PQntuples(r);
	trmx_usage_row *rows = trmx_xcalloc(count ? count : 1, sizeof *rows);
	if (!rows) {
		PQclear(r);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading the log");
	}
	for (size_t i = 0; i < count; i++) {
		trmx_usage_row *u = &rows[i];
		int k = (int)i;
		snprintf(u->context, sizeof u->context, "%s", PQgetvalue(r, k, 0));
		snprintf(u->arm, sizeof u->arm, "%s", PQgetvalue(r, k, 1));
		snprintf(u->module, sizeof u->module, "%s", PQgetvalue(r, k, 2));
		snprintf(u->module_version, sizeof u->module_version, "%s", PQgetvalue(r, k, 3));
		u->runs = strtoll(PQgetvalue(r, k, 4), NULL, 10);
		u->errors = strtoll(PQgetvalue(r, k, 5), NULL, 10);
		u->learners = strtoll(PQgetvalue(r, k, 6), NULL, 10);
		u->correct = strtoll(PQgetvalue(r, k, 7), NULL, 10);
		u->judged = strtoll(PQgetvalue(r, k, 8), NULL, 10);
		u->mean_steps = pg_double(r, k, 9);
		u->mean_latency_ms = pg_double(r, k, 10);
	}
	PQclear(r);
	*out = rows;
	*n = count;
	return 0;
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
	if (l->pg)
		return central_usage(l, by, filter, out, n, err);
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
