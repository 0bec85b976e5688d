/*
 * common.c — helpers of the analytics folder (analytics_int.h): the log opened
 * for analysts, filters as SQL, a string-keyed hash map, growable text, CSV/XML
 * escaping; and the parsing of times and durations of trmx/report.h.
 */
#define _GNU_SOURCE /* vasprintf, timegm */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "analytics/analytics_int.h"

/* ---- Opening the log
 * ------------------------------------------------------------------------ */

int trmx__an_open_log(const char *home, bool readonly, sqlite3 **out, char **path_out, trmx_error *err)
{
	if (!home || !*home || !out)
		return trmx_error_set(err, TRMX_EINVAL, "no home given");
	char *url = NULL;
	int rc = trmx_log_url(home, NULL, &url, err);
	if (rc < 0)
		return rc;
	if (url) {
		/* reading HOME/log.db instead would show a stale or empty log as if it were the log */
		char *shown = trmx_log_url_masked(url);
		rc = trmx_error_set(err, TRMX_EINVAL,
				    "this home's log is the central log %s, not HOME/log.db (docs/SCHEMA.md, \"A central "
				    "log\")",
				    shown ? shown : "(postgresql)");
		free(shown);
		free(url);
		return rc;
	}
	char *path = trmx_xasprintf("%s/log.db", home);
	sqlite3 *db = NULL;
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	struct stat st;
	if (stat(path, &st) != 0) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "no usage log at %s (nothing has run in this home)", path);
		goto done;
	}
	size_t nf;
	const trmx_sql_file *files = trmx_sql_log(&nf);
	/* readers never write: no migration, nothing a user who may only read the home could not do */
	if ((rc = trmx_db_open(&db, path, "log.db", files, nf, readonly ? TRMX_DB_READONLY : 0, 0, err)) < 0)
		goto done;
	/* a report reads the whole log once: a larger cache than the default 2 MB
	 * helps the join */
	if ((rc = trmx_db_exec(db, "PRAGMA cache_size = -65536", "log.db", err)) < 0)
		goto done;
	*out = db;
	db = NULL;
	if (path_out) {
		*path_out = path;
		path = NULL;
	}
	rc = 0;
done:
	if (db)
		sqlite3_close(db);
	free(path);
	return rc;
}

/* ---- Filters
 * -------------------------------------------------------------------------------
 */

void trmx__an_filter_sql(an_filter *f, trmx_buf *b, const char *time_column)
{
	int i = 0;
	size_t n = f->context ? strlen(f->context) : 0;
	if (n && f->context[n - 1] == '*') { /* a prefix and then a star: every context the prefix begins */
		trmx_buf_printf(b, " AND substr(r.context, 1, length(?%d)) = ?%d", i + 1, i + 1);
		i++;
	} else if (f->context) {
		trmx_buf_printf(b, *f->context ? " AND r.context = ?%d" : " AND r.context IS NULL AND ?%d IS NULL", ++i);
	}
	if (f->module)
		trmx_buf_printf(b, " AND r.module = ?%d", ++i);
	if (f->since_ms) {
		trmx_iso_time(f->since_ms, f->since);
		trmx_buf_printf(b, " AND %s >= ?%d", time_column, ++i);
	}
	if (f->until_ms) {
		trmx_iso_time(f->until_ms, f->until);
		trmx_buf_printf(b, " AND %s < ?%d", time_column, ++i);
	}
	if (f->learner)
		trmx_buf_printf(b, " AND r.learner = ?%d", ++i);
	unsigned k = f->kinds & TRMX_REPORT_KIND_ALL;
	if (k && k != TRMX_REPORT_KIND_ALL) {
		trmx_buf_put(b, " AND r.kind IN (");
		const char *sep = "";
		static const char *const names[] = { "run", "eval", "selftest" };
		for (int j = 0; j < 3; j++)
			if (k & (1u << j)) {
				trmx_buf_printf(b, "%s'%s'", sep, names[j]);
				sep = ", ";
			}
		trmx_buf_put(b, ")");
	}
}

int trmx__an_filter_params(const an_filter *f, const char **params, char *prefix, size_t cap)
{
	int i = 0;
	size_t n = f->context ? strlen(f->context) : 0;
	if (n && f->context[n - 1] == '*') {
		snprintf(prefix, cap, "%.*s", (int)(n - 1), f->context);
		params[i++] = prefix;
	} else if (f->context) {
		params[i++] = *f->context ? f->context : NULL;
	}
	if (f->module)
		params[i++] = f->module;
	if (f->since_ms)
		params[i++] = f->since;
	if (f->until_ms)
		params[i++] = f->until;
	if (f->learner)
		params[i++] = f->learner;
	return i;
}

int trmx__an_filter_bind(const an_filter *f, sqlite3_stmt *st, int i)
{
	size_t n = f->context ? strlen(f->context) : 0;
	if (n && f->context[n - 1] == '*')
		sqlite3_bind_text(st, i++, f->context, (int)(n - 1), SQLITE_TRANSIENT);
	else if (f->context)
		trmx_db_bind_text(st, i++, *f->context ? f->context : NULL);
	if (f->module)
		trmx_db_bind_text(st, i++, f->module);
	if (f->since_ms)
		trmx_db_bind_text(st, i++, f->since);
	if (f->until_ms)
		trmx_db_bind_text(st, i++, f->until);
	if (f->learner)
		trmx_db_bind_text(st, i++, f->learner);
	return i;
}

/* ---- Map
 * --------------------------------------------------------------------------------------
 */

uint64_t trmx__an_hash(const void *data, size_t n)
{
	/* eight bytes at a time, each word mixed in by a multiply (the keys are
	 * pseudonyms and names: short, hashed once or twice per run of a report),
	 * then a final avalanche */
	const unsigned char *p = data;
	uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, p, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
		p += 8, n -= 8;
	}
	uint64_t w = 0;
	memcpy(&w, p, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

size_t trmx__an_map_get(const an_map *m, const char *key, size_t n, uint64_t h)
{
	if (!m->cap)
		return SIZE_MAX;
	for (size_t i = h & (m->cap - 1);; i = (i + 1) & (m->cap - 1)) {
		if (!m->keys[i])
			return SIZE_MAX;
		if (m->hashes[i] == h && m->lens[i] == n && !memcmp(m->keys[i], key, n))
			return m->vals[i];
	}
}

static int map_grow(an_map *m)
{
	size_t cap = m->cap ? 2 * m->cap : 64;
	char **keys = trmx_xcalloc(cap, sizeof *keys);
	size_t *vals = trmx_xcalloc(cap, sizeof *vals), *lens = trmx_xcalloc(cap, sizeof *lens);
	uint64_t *hashes = trmx_xcalloc(cap, sizeof *hashes);
	if (!keys || !vals || !hashes || !lens) {
		free(keys), free(vals), free(hashes), free(lens);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = m->hashes[i] & (cap - 1);
		while (keys[j])
			j = (j + 1) & (cap - 1);
		keys[j] = m->keys[i];
		vals[j] = m->vals[i];
		lens[j] = m->lens[i];
		hashes[j] = m->hashes[i];
	}
	free(m->keys), free(m->vals), free(m->hashes), free(m->lens);
	m->keys = keys;
	m->lens = lens;
	m->vals = vals;
	m->hashes = hashes;
	m->cap = cap;
	return 0;
}

int trmx__an_map_put(an_map *m, const char *key, size_t n, uint64_t h, size_t val)
{
	if ((m->n + 1) * 4 > m->cap * 3 && map_grow(m) < 0)
		return -1;
	char *k = trmx_xmalloc(n + 1);
	if (!k)
		return -1;
	memcpy(k, key, n);
	k[n] = '\0';
	size_t i = h & (m->cap - 1);
	while (m->keys[i])
		i = (i + 1) & (m->cap - 1);
	m->keys[i] = k;
	m->lens[i] = n;
	m->vals[i] = val;
	m->hashes[i] = h;
	m->n++;
	return 0;
}

void trmx__an_map_free(an_map *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys), free(m->vals), free(m->hashes), free(m->lens);
	memset(m, 0, sizeof *m);
}

/* ---- Escaping
 * ---------------------------------------------------------------------------------
 */

bool trmx__an_csv_formula(const char *s)
{
	return s && (*s == '=' || *s == '+' || *s == '-' || *s == '@' || *s == '\t' || *s == '\r');
}

void trmx__an_csv_field(FILE *f, const char *s)
{
	if (!s)
		return;
	/* OWASP's advice against CSV injection: a text cell a spreadsheet would take for a formula
	 * gets a leading single quote, and is quoted */
	bool formula = trmx__an_csv_formula(s);
	if (!formula && !strpbrk(s, ",\"\r\n")) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	if (formula)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static const char *xml_entity(char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&#39;";
	default: return NULL;
	}
}

void trmx__an_xml_text(FILE *f, const char *s)
{
	for (; s && *s; s++) {
		const char *e = xml_entity(*s);
		unsigned char c = (unsigned char)*s;
		if (e)
			fputs(e, f);
		else if (c < 0x20 && c != '\n' && c != '\t') /* not allowed in XML 1.0 */
			fputc(' ', f);
		else
			fputc(*s, f);
	}
}

int trmx__an_check_stream(FILE *f, const char *what, trmx_error *err)
{
	if (fflush(f) != 0 || ferror(f))
		return trmx_error_set(err, TRMX_EIO, "cannot write %s: %s", what, strerror(errno ? errno : EIO));
	return 0;
}

/* ---- Times and durations (report.h)
 * --------------------------------------------------------- */

int trmx_duration_parse(const char *s, int64_t *out, trmx_error *err)
{
	if (!s || !*s || !out)
		return trmx_error_set(err, TRMX_EINVAL, "a duration is a number and a unit: 30d, 12h, 90min, 2w, 6mo, 1y");
	const char *p = s;
	int64_t total = 0;
	while (*p) {
		if (!isdigit((unsigned char)*p))
			goto bad;
		char *end;
		errno = 0;
		long long v = strtoll(p, &end, 10);
		int64_t unit;
		size_t ulen = 1;
		/* no bare 'm': people read "purge --older-than 1m" as a month, where it once meant a minute */
		if (!strncmp(end, "min", 3)) {
			unit = 60000;
			ulen = 3;
		} else if (!strncmp(end, "mo", 2)) {
			unit = 30 * 86400000LL;
			ulen = 2;
		} else if (*end == 'm') {
			return trmx_error_set(err, TRMX_EINVAL,
					      "'%s': 'm' could be minutes or months; write %lldmin for minutes or %lldmo for "
					      "months (30 days)", s, v, v);
		} else {
			switch (*end) {
			case 's': unit = 1000; break;
			case 'h': unit = 3600000; break;
			case 'd': unit = 86400000; break;
			case 'w': unit = 7 * 86400000LL; break;
			case 'y': unit = 365 * 86400000LL; break;
			default: goto bad;
			}
		}
		if (errno || v < 0 || v > INT64_MAX / unit || total > INT64_MAX - v * unit)
			goto bad;
		total += v * unit;
		p = end + ulen;
	}
	if (total <= 0)
		goto bad;
	*out = total;
	return 0;
bad:
	return trmx_error_set(err, TRMX_EINVAL,
			      "'%s' is not a duration: a positive number with a unit "
			      "s, min, h, d, w, mo (30 days) or y (365 days): 30d, 12h, 90min, 6mo, 1d12h",
			      s);
}

int trmx_time_parse(const char *s, int64_t now_ms, int64_t *out, trmx_error *err)
{
	if (!s || !out)
		return trmx_error_set(err, TRMX_EINVAL, "no time given");
	if (!now_ms)
		now_ms = trmx_now_ms();
	if (!strcmp(s, "now")) {
		*out = now_ms;
		return 0;
	}
	int64_t d;
	/* digits without a '-' are no date: a duration, and its own message says what is wrong ("1m") */
	if (*s && isdigit((unsigned char)*s) && !strchr(s, '-') && !strchr(s, ':')) {
		if (trmx_duration_parse(s, &d, err) < 0)
			return err ? err->code : TRMX_EINVAL;
		if (d > now_ms) /* 1000000y ago is no time a log holds */
			return trmx_error_set(err, TRMX_EINVAL, "'%s' ago is before 1970: give a shorter duration or a date", s);
		*out = now_ms - d;
		return 0;
	}
	/* YYYY-MM-DD[(T| )HH:MM[:SS[.fff]]][Z] */
	int Y, M, D, h = 0, m = 0, sec = 0, ms = 0, n = 0;
	if (sscanf(s, "%4d-%2d-%2d%n", &Y, &M, &D, &n) != 3 || n != 10)
		goto bad;
	const char *p = s + 10;
	if (*p == 'T' || *p == ' ') {
		int k = 0;
		if (sscanf(p + 1, "%2d:%2d%n", &h, &m, &k) != 2 || k != 5)
			goto bad;
		p += 1 + k;
		if (*p == ':') {
			if (sscanf(p + 1, "%2d%n", &sec, &k) != 1 || k != 2)
				goto bad;
			p += 1 + k;
			if (*p == '.') {
				int digits = 0;
				p++;
				while (isdigit((unsigned char)*p)) {
					if (digits < 3)
						ms = ms * 10 + (*p - '0');
					digits++;
					p++;
				}
				if (!digits)
					goto bad;
				for (; digits < 3; digits++)
					ms *= 10;
			}
		}
	}
	if (*p == 'Z')
		p++;
	if (*p || M < 1 || M > 12 || D < 1 || D > 31 || h > 23 || m > 59 || sec > 60)
		goto bad;
	struct tm tm = { .tm_year = Y - 1900, .tm_mon = M - 1, .tm_mday = D, .tm_hour = h, .tm_min = m, .tm_sec = sec };
	time_t t = timegm(&tm);
	struct tm back;
	if (t == (time_t)-1 || !gmtime_r(&t, &back) || back.tm_mday != D || back.tm_mon != M - 1 || back.tm_year != Y - 1900)
		goto bad; /* timegm rolls 2025-02-30 over into March: a date that does not exist is refused */
	*out = (int64_t)t * 1000 + ms;
	return 0;
bad:
	return trmx_error_set(err, TRMX_EINVAL,
			      "'%s' is not a time: give an ISO 8601 UTC date or time "
			      "(2025-11-29, 2025-11-29T09:30:00Z), "
			      "'now', or a duration ago (7d, 12h)",
			      s);
}
