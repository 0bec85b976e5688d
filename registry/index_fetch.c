/*
 * index_fetch.c — the indexes a home trusts and pulling from them over HTTP with libcurl
 * (docs/FORMAT.md, "Module indexes"; docs/SECURITY.md).
 *
 *   HOME/indexes/<key-id>/signer.pub      the one key the index must be signed by
 *   HOME/indexes/<key-id>/mirrors         its URLs, one a line, tried in this order
 *   HOME/indexes/<key-id>/index.json(.sig) the newest index verified here: the rollback reference
 *   HOME/cache/<digest>.part              a download in progress (resumed with a Range request)
 *   HOME/cache/<digest>.trmx              a download whose size and SHA-256 were checked
 *
 * Every transfer: http and https only, no redirect followed (a mirror that moved is added again
 * by its new URL), no content encoding (the bytes counted are the bytes listed), a cap on the
 * bytes taken that ends the transfer at the first byte past it.
 */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../packager/pkg_int.h"
#include "core/core_int.h"
#include "index_int.h"

/* ---- HTTP -------------------------------------------------------------------------------- */

struct sink {
	char *buf;        /* into memory (index files), or */
	size_t len, cap;
	int fd;           /* into a file (packages), -1 for memory */
	uint64_t max;     /* bytes this transfer may bring */
	uint64_t got;
	bool over;        /* the server sent more than max */
	bool io_failed;
	uint64_t base;    /* bytes already on disk (resume), for progress */
	uint64_t total;
	const char *what;
	const trmx_fetch_options *opts;
};

static size_t on_data(char *data, size_t size, size_t nmemb, void *user)
{
	struct sink *s = user;
	size_t n = size * nmemb;
	if (s->got + n > s->max) { /* stop reading at the listed size */
		s->over = true;
		return 0;
	}
	if (s->fd >= 0) {
		for (size_t off = 0; off < n;) {
			ssize_t w = write(s->fd, data + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0) {
				s->io_failed = true;
				return 0;
			}
			off += (size_t)w;
		}
	} else {
		if (s->len + n + 1 > s->cap) {
			size_t nc = s->cap ? s->cap : 4096;
			while (nc < s->len + n + 1)
				nc *= 2;
			char *nb = realloc(s->buf, nc);
			if (!nb) {
				s->io_failed = true;
				return 0;
			}
			s->buf = nb;
			s->cap = nc;
		}
		memcpy(s->buf + s->len, data, n);
		s->len += n;
		s->buf[s->len] = '\0';
	}
	s->got += n;
	return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	struct sink *s = user;
	uint64_t done = s->base + (uint64_t)dlnow;
	if (s->opts && s->opts->progress && s->fd >= 0) /* curl counts what a lying server sent past the cap too */
		s->opts->progress(s->opts->user, s->what, done < s->total ? done : s->total, s->total);
	return 0;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_start(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

/* Kinds of failure the callers tell apart. */
enum { GET_OK = 0, GET_NET = 1, GET_REFUSED = 2, GET_RANGE = 3 };

/* GET `url` into `s` (from byte `resume` when > 0). Returns GET_* with the reason in err:
 * GET_NET for what another mirror or a retry may fix, GET_REFUSED for what must fail the call
 * (a redirect, too many bytes), GET_RANGE when the server ignored the Range. */
static int http_get(const char *url, struct sink *s, uint64_t resume, trmx_error *err)
{
	char ebuf[CURL_ERROR_SIZE] = "";
	pthread_once(&curl_once, curl_start);
	CURL *c = curl_easy_init();
	if (!c) {
		trmx_error_set(err, TRMX_ENOMEM, "cannot start libcurl");
		return GET_NET;
	}
	long timeout = s->opts && s->opts->timeout_s > 0 ? s->opts->timeout_s : 60;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L); /* a redirect is an answer we refuse, below */
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, timeout);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, timeout);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "trmx/" TRMX_VERSION);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, ebuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
	if (resume)
		curl_easy_setopt(c, CURLOPT_RESUME_FROM_LARGE, (curl_off_t)resume);
	CURLcode cc = curl_easy_perform(c);
	long status = 0;
	char *loc = NULL;
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(c, CURLINFO_REDIRECT_URL, &loc);
	int kind = GET_OK;
	if (s->over) {
		trmx_error_set(err, TRMX_EINTEGRITY,
			       "%s: the server sent more than the %llu bytes listed: a size lie, refused", url,
			       (unsigned long long)(s->max + resume));
		kind = GET_REFUSED;
	} else if (s->io_failed) {
		trmx_error_set(err, TRMX_EIO, "%s: cannot keep what was downloaded: %s", url, strerror(errno));
		kind = GET_REFUSED;
	} else if (status >= 300 && status < 400) {
		trmx_error_set(err, TRMX_EINTEGRITY,
			       "%s: redirected (HTTP %ld) to %.300s; trmx follows no redirects from an index: add "
			       "the index by its final URL if you trust it", url, status, loc ? loc : "(no Location)");
		kind = GET_REFUSED;
	} else if (cc == CURLE_RANGE_ERROR || (resume && cc == CURLE_OK && status == 200)) {
		trmx_error_set(err, TRMX_EIO, "%s: the server does not resume downloads", url);
		kind = GET_RANGE;
	} else if (cc != CURLE_OK) {
		trmx_error_set(err, TRMX_EIO, "%s: %s", url, ebuf[0] ? ebuf : curl_easy_strerror(cc));
		kind = GET_NET;
	} else if (status == 404) {
		trmx_error_set(err, TRMX_ENOTFOUND, "%s: not found (HTTP 404)", url);
		kind = GET_NET;
	} else if (status != 200 && status != 206) {
		trmx_error_set(err, TRMX_EIO, "%s: HTTP %ld", url, status);
		kind = GET_NET;
	}
	curl_easy_cleanup(c);
	return kind;
}

static int get_memory(const char *url, size_t max, char **out, size_t *len, trmx_error *err)
{
	struct sink s = { .fd = -1, .max = max };
	int kind = http_get(url, &s, 0, err);
	if (kind != GET_OK) {
		free(s.buf);
		return kind;
	}
	if (!s.buf && !(s.buf = calloc(1, 1))) {
		trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		return GET_NET;
	}
	*out = s.buf;
	*len = s.len;
	return GET_OK;
}

/* ---- The home's indexes ------------------------------------------------------------------ */

static char *home_path(const char *home, const char *a, const char *b)
{
	size_t n = strlen(home) + strlen(a) + (b ? strlen(b) : 0) + 3;
	char *r = malloc(n);
	if (r)
		snprintf(r, n, "%s/%s%s%s", home, a, b ? "/" : "", b ? b : "");
	return r;
}

static int mkdirs(const char *home, const char *sub, trmx_error *err)
{
	char *p = home_path(home, sub, NULL);
	int rc = 0;
	if (!p)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (mkdir(home, 0755) != 0 && errno != EEXIST)
		rc = trmx_error_set(err, TRMX_EIO, "cannot make folder %s: %s", home, strerror(errno));
	else if (mkdir(p, 0755) != 0 && errno != EEXIST)
		rc = trmx_error_set(err, TRMX_EIO, "cannot make folder %s: %s", p, strerror(errno));
	free(p);
	return rc;
}

static bool url_ok(const char *url)
{
	size_t n = strlen(url);
	if (n > TRMX_INDEX_URL_MAX || (strncmp(url, "http://", 7) && strncmp(url, "https://", 8)))
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)url[i] <= ' ' || url[i] == 0x7f)
			return false;
	return true;
}

static bool key_id_ok(const char *s)
{
	unsigned char b[8];
	return strlen(s) == 16 && trmx__pkg_unhex(s, 16, b, 8);
}

/* Read HOME/indexes/<id>/ into `src`; *json and *sig (may be NULL) get the verified copy, if any. */
static int source_load(const char *home, const char *id, trmx_index_source *src, trmx_public_key *key,
		       char **json, size_t *jlen, char **sig, size_t *slen, trmx_error *err)
{
	char sub[64], *dir = NULL, *p = NULL, *text = NULL, *j = NULL, *s = NULL;
	size_t len = 0, jl = 0, sl = 0;
	trmx_index *idx = NULL;
	int rc = 0;
	memset(src, 0, sizeof *src);
	snprintf(sub, sizeof sub, "indexes/%s", id);
	if (!key_id_ok(id))
		return trmx_error_set(err, TRMX_EFORMAT, "%s/indexes/%.40s: not an index folder (named by a key id)", home, id);
	if (!(dir = home_path(home, sub, NULL)) || !(p = trmx__index_join(dir, "signer.pub"))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx_public_key_load(key, p, err)) < 0)
		goto done;
	if (strcmp(key->key_id, id)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: holds key %s", p, key->key_id);
		goto done;
	}
	snprintf(src->key_id, sizeof src->key_id, "%s", id);
	snprintf(src->comment, sizeof src->comment, "%s", key->comment);
	free(p);
	if (!(p = trmx__index_join(dir, "mirrors"))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = trmx_read_file(p, (TRMX_INDEX_URL_MAX + 1) * TRMX_INDEX_MIRRORS_MAX, "the mirrors' limit", 0, &text, &len,
				err)) < 0)
		goto done;
	for (char *line = text, *nl; line < text + len; line = nl + 1) {
		if (!(nl = memchr(line, '\n', (size_t)(text + len - line))))
			nl = text + len;
		*nl = '\0';
		if (!*line)
			continue;
		if (!url_ok(line) || src->nurls >= TRMX_INDEX_MIRRORS_MAX) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not a list of at most %d http(s) URLs", p,
					    TRMX_INDEX_MIRRORS_MAX);
			goto done;
		}
		snprintf(src->urls[src->nurls++], TRMX_INDEX_URL_MAX + 1, "%s", line);
	}
	free(p);
	p = trmx__index_join(dir, "index.json");
	char *sp = trmx__index_join(dir, "index.json.sig");
	if (!p || !sp) {
		free(sp);
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if (access(p, F_OK) == 0) {
		/* Verified when stored; checked again, as anything read back from disk. */
		if ((rc = trmx_read_file(p, TRMX_INDEX_FILE_MAX, "TRMX_INDEX_FILE_MAX", 0, &j, &jl, err)) < 0 ||
		    (rc = trmx_read_file(sp, TRMX_SIGNATURE_FILE_MAX, "TRMX_SIGNATURE_FILE_MAX", 0, &s, &sl, err)) < 0 ||
		    (rc = trmx_index_signature_check(j, jl, s, sl, key, err)) < 0 ||
		    (rc = trmx_index_parse(&idx, j, jl, p, err)) < 0) {
			free(sp);
			goto done;
		}
		src->seen_version = idx->version;
		src->seen_expires = idx->expires;
	}
	free(sp);
	if (json) {
		*json = j;
		*jlen = jl;
		j = NULL;
	}
	if (sig) {
		*sig = s;
		*slen = sl;
		s = NULL;
	}
done:
	trmx_index_free(idx);
	free(dir);
	free(p);
	free(text);
	free(j);
	free(s);
	return rc;
}

static int write_mirrors(const char *home, const trmx_index_source *src, trmx_error *err)
{
	char sub[64];
	size_t cap = src->nurls * (TRMX_INDEX_URL_MAX + 2) + 1, len = 0;
	char *text = malloc(cap), *p;
	snprintf(sub, sizeof sub, "indexes/%s", src->key_id);
	if (!text || !(p = home_path(home, sub, "mirrors"))) {
		free(text);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	}
	for (size_t i = 0; i < src->nurls; i++)
		len += (size_t)snprintf(text + len, cap - len, "%s\n", src->urls[i]);
	int rc = trmx_write_file_atomic(p, text, len, err);
	free(p);
	free(text);
	return rc;
}

/* Keep a verified index as the home's reference (the signature first, as publish does). */
static int store_index(const char *home, const char *id, const char *json, size_t jlen, const char *sig, size_t slen,
		       trmx_error *err)
{
	char sub[64];
	snprintf(sub, sizeof sub, "indexes/%s", id);
	char *jp = home_path(home, sub, "index.json"), *sp = home_path(home, sub, "index.json.sig");
	int rc = 0;
	if (!jp || !sp)
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	else if ((rc = trmx_write_file_atomic(sp, sig, slen, err)) == 0)
		rc = trmx_write_file_atomic(jp, json, jlen, err);
	free(jp);
	free(sp);
	return rc;
}

static char *url_of(const char *base, const char *rest)
{
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	size_t m = n + strlen(rest) + 2;
	char *r = malloc(m);
	if (r)
		snprintf(r, m, "%.*s/%s", (int)n, base, rest);
	return r;
}

/* Fetch and check the index at one mirror: GET_OK with *out, else GET_NET or GET_REFUSED. */
static int fetch_one(const char *base, const trmx_public_key *key, int64_t now, int64_t seen_version,
		     const char *seen_digest, trmx_index **out, char **json, size_t *jlen, char **sig, size_t *slen,
		     trmx_error *err)
{
	char *ju = url_of(base, "index.json"), *su = url_of(base, "index.json.sig");
	int kind = GET_NET;
	if (!ju || !su) {
		trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	/* Twice at most: a publish between the two GETs gives a pair that does not match. */
	for (int attempt = 0; attempt < 2; attempt++) {
		*json = *sig = NULL;
		if ((kind = get_memory(su, TRMX_SIGNATURE_FILE_MAX, sig, slen, err)) != GET_OK ||
		    (kind = get_memory(ju, TRMX_INDEX_FILE_MAX, json, jlen, err)) != GET_OK) {
			free(*sig);
			*sig = NULL;
			goto done;
		}
		int rc = trmx_index_open(out, *json, *jlen, *sig, *slen, key, now, seen_version, seen_digest, err);
		if (rc == 0) {
			kind = GET_OK;
			goto done;
		}
		kind = GET_REFUSED;
		free(*json);
		free(*sig);
		*json = *sig = NULL;
		trmx_error_prefix(err, "index %s", base);
		if (!(err && strstr(err->message, "bad index signature")))
			break;
	}
done:
	free(ju);
	free(su);
	return kind;
}

int trmx_index_add(const char *home, const char *url, const char *pub_path, const trmx_fetch_options *opts,
		   char key_id[TRMX_KEY_ID_SIZE], trmx_error *err)
{
	trmx_public_key key;
	trmx_index_source *src = NULL;
	trmx_index *idx = NULL;
	char *json = NULL, *sig = NULL, *dir = NULL, *kp = NULL, sub[64];
	size_t jlen = 0, slen = 0;
	bool known = false;
	int rc;
	if (!home || !url || !pub_path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_add: missing argument");
	if (!url_ok(url))
		return trmx_error_set(err, TRMX_EINVAL, "'%.200s' is not an http:// or https:// URL of at most %d bytes", url,
				      TRMX_INDEX_URL_MAX);
	if ((rc = trmx_public_key_load(&key, pub_path, err)) < 0)
		return rc;
	if (!(src = calloc(1, sizeof *src)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	snprintf(sub, sizeof sub, "indexes/%s", key.key_id);
	if (!(dir = home_path(home, sub, NULL)) || !(kp = trmx__index_join(dir, "signer.pub"))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	known = access(dir, F_OK) == 0;
	char *seen_json = NULL;
	size_t seen_len = 0;
	char seen_digest[TRMX_SHA256_HEX_SIZE] = "";
	if (known) {
		trmx_public_key k2;
		if ((rc = source_load(home, key.key_id, src, &k2, &seen_json, &seen_len, NULL, NULL, err)) < 0)
			goto done;
		if (seen_json)
			trmx_sha256_hex(seen_json, seen_len, seen_digest);
		free(seen_json);
		for (size_t i = 0; i < src->nurls; i++)
			if (!strcmp(src->urls[i], url)) {
				rc = trmx_error_set(err, TRMX_EINVAL, "%s is already a mirror of index %s", url, key.key_id);
				goto done;
			}
		if (src->nurls >= TRMX_INDEX_MIRRORS_MAX) {
			rc = trmx_error_set(err, TRMX_ELIMIT, "index %s has TRMX_INDEX_MIRRORS_MAX (%d) mirrors already",
					    key.key_id, TRMX_INDEX_MIRRORS_MAX);
			goto done;
		}
	}
	int64_t now = opts && opts->now ? opts->now : (int64_t)time(NULL);
	int kind = fetch_one(url, &key, now, src->seen_version, seen_digest[0] ? seen_digest : NULL, &idx, &json, &jlen,
			     &sig, &slen, err);
	if (kind != GET_OK) {
		rc = err && err->code < 0 ? err->code : TRMX_ERROR;
		trmx_error_prefix(err, "not added");
		goto done;
	}
	/* Nothing is stored before the index checks out; then the key, the index, the mirrors. */
	if ((rc = mkdirs(home, "indexes", err)) < 0)
		goto done;
	if (!known && mkdir(dir, 0755) != 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot make folder %s: %s", dir, strerror(errno));
		goto done;
	}
	char text[1024], hex[65];
	trmx__pkg_hex(key.key, 32, hex);
	snprintf(text, sizeof text, "format: trmx-public-key-1\nalgorithm: ed25519\nkey-id: %s\npublic-key: %s\ncomment: %s\n",
		 key.key_id, hex, key.comment);
	snprintf(src->key_id, sizeof src->key_id, "%s", key.key_id);
	snprintf(src->urls[src->nurls++], TRMX_INDEX_URL_MAX + 1, "%s", url);
	if ((rc = trmx_write_file_atomic(kp, text, strlen(text), err)) < 0 ||
	    (rc = store_index(home, key.key_id, json, jlen, sig, slen, err)) < 0 || (rc = write_mirrors(home, src, err)) < 0)
		goto done;
	if (key_id)
		memcpy(key_id, key.key_id, TRMX_KEY_ID_SIZE);
done:
	if (rc < 0 && !known && dir) { /* a half-made folder goes again */
		char *f[] = { "signer.pub", "index.json", "index.json.sig", "mirrors" };
		for (size_t i = 0; i < 4; i++) {
			char *q = trmx__index_join(dir, f[i]);
			if (q)
				unlink(q);
			free(q);
		}
		rmdir(dir);
	}
	trmx_index_free(idx);
	free(src);
	free(json);
	free(sig);
	free(dir);
	free(kp);
	return rc;
}

static int cmp_sources(const void *a, const void *b)
{
	return strcmp(((const trmx_index_source *)a)->key_id, ((const trmx_index_source *)b)->key_id);
}

int trmx_index_sources(const char *home, trmx_index_source **out, size_t *count, trmx_error *err)
{
	trmx_index_source *v = NULL;
	size_t n = 0;
	char *dir;
	DIR *d;
	struct dirent *e;
	int rc = 0;
	if (!home || !out || !count)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_sources: NULL argument");
	if (!(dir = home_path(home, "indexes", NULL)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (!(d = opendir(dir))) {
		if (errno != ENOENT)
			rc = trmx_error_set(err, TRMX_EIO, "%s: %s", dir, strerror(errno));
		goto finish;
	}
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		trmx_index_source *nv = realloc(v, (n + 1) * sizeof *v);
		trmx_public_key k;
		if (!nv) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			break;
		}
		v = nv;
		if ((rc = source_load(home, e->d_name, &v[n], &k, NULL, NULL, NULL, NULL, err)) < 0)
			break;
		n++;
	}
	closedir(d);
finish:
	free(dir);
	if (rc < 0) {
		free(v);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof *v, cmp_sources);
	*out = v;
	*count = n;
	return 0;
}

int trmx_index_remove(const char *home, const char *what, trmx_error *err)
{
	trmx_index_source *v = NULL;
	size_t n = 0;
	int rc;
	if (!home || !what)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_remove: NULL argument");
	if ((rc = trmx_index_sources(home, &v, &n, err)) < 0)
		return rc;
	rc = trmx_error_set(err, TRMX_ENOTFOUND, "'%.200s' is neither a mirror URL nor the key id of an index here "
				   "(see trmx index list)", what);
	for (size_t i = 0; i < n; i++) {
		bool whole = !strcmp(v[i].key_id, what);
		for (size_t u = 0; !whole && u < v[i].nurls; u++)
			if (!strcmp(v[i].urls[u], what)) {
				memmove(v[i].urls[u], v[i].urls[u + 1], (v[i].nurls - u - 1) * sizeof v[i].urls[0]);
				if (--v[i].nurls == 0)
					whole = true;
				else
					rc = write_mirrors(home, &v[i], err);
				break;
			}
		if (whole) {
			char sub[64], *dir;
			snprintf(sub, sizeof sub, "indexes/%s", v[i].key_id);
			if (!(dir = home_path(home, sub, NULL))) {
				rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
				break;
			}
			/* The mirrors first: an index without them is no longer used even if the rest stays. */
			const char *f[] = { "mirrors", "index.json", "index.json.sig", "signer.pub" };
			rc = 0;
			for (size_t k = 0; k < 4 && rc == 0; k++) {
				char *q = trmx__index_join(dir, f[k]);
				if (!q)
					rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
				else if (unlink(q) != 0 && errno != ENOENT)
					rc = trmx_error_set(err, TRMX_EIO, "%s: %s", q, strerror(errno));
				free(q);
			}
			if (rc == 0 && rmdir(dir) != 0)
				rc = trmx_error_set(err, TRMX_EIO, "%s: %s", dir, strerror(errno));
			free(dir);
		}
		if (whole || rc != TRMX_ENOTFOUND)
			break;
	}
	free(v);
	return rc;
}

int trmx_index_refresh(const char *home, const char *key_id, const trmx_fetch_options *opts, trmx_index **out,
		       trmx_error *err)
{
	trmx_index_source *src = calloc(1, sizeof *src);
	trmx_public_key key;
	trmx_index *idx = NULL;
	char *seen = NULL, *seen_sig = NULL, *json = NULL, *sig = NULL, digest[TRMX_SHA256_HEX_SIZE] = "";
	size_t seen_len = 0, seen_slen = 0, jlen = 0, slen = 0;
	trmx_error first = { 0, "" }, e2 = { 0, "" };
	bool refused = false;
	int rc;
	if (!src)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (!home || !key_id || !out) {
		free(src);
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_refresh: NULL argument");
	}
	if ((rc = source_load(home, key_id, src, &key, &seen, &seen_len, &seen_sig, &seen_slen, err)) < 0)
		goto done;
	if (seen)
		trmx_sha256_hex(seen, seen_len, digest);
	int64_t now = opts && opts->now ? opts->now : (int64_t)time(NULL);
	for (size_t i = 0; i < src->nurls; i++) {
		int kind = fetch_one(src->urls[i], &key, now, src->seen_version, digest[0] ? digest : NULL, &idx, &json, &jlen,
				     &sig, &slen, &e2);
		if (kind == GET_OK)
			break;
		if (src->nurls > 1) /* with one mirror its reason is the call's error */
			trmx_diag(TRMX_DIAG_WARN, "index %s: mirror %s: %s", key_id, src->urls[i], e2.message);
		if (!first.code || (kind == GET_REFUSED && !refused))
			first = e2;
		refused |= kind == GET_REFUSED;
	}
	if (!idx) {
		/* No mirror answered: the copy seen last serves while it has not expired. A refusal
		 * (a signature, a rollback, an expiry) is never papered over with it. */
		if (!refused && seen && now < src->seen_expires &&
		    trmx_index_open(&idx, seen, seen_len, seen_sig, seen_slen, &key, now, 0, NULL, &e2) == 0) {
			trmx_diag(TRMX_DIAG_WARN, "index %s: no mirror answered (%s); using the copy of version %lld seen before",
				 key_id, first.message, (long long)idx->version);
		} else {
			rc = trmx_error_set(err, first.code ? first.code : TRMX_ENOTFOUND, "%s",
					    first.code ? first.message : "the index has no mirrors");
			goto done;
		}
	} else if (!seen || jlen != seen_len || memcmp(json, seen, jlen)) {
		if ((rc = store_index(home, key_id, json, jlen, sig, slen, err)) < 0)
			goto done;
	}
	src->seen_version = idx->version;
	src->seen_expires = idx->expires;
	idx->src = *src;
	*out = idx;
	idx = NULL;
done:
	trmx_index_free(idx);
	free(src);
	free(seen);
	free(seen_sig);
	free(json);
	free(sig);
	return rc;
}

int trmx_index_find(const char *home, const char *name, const char *version, const trmx_fetch_options *opts,
		    trmx_index **idx_out, const trmx_index_entry **entry, trmx_error *err)
{
	trmx_index_source *v = NULL;
	size_t n = 0;
	trmx_index *best = NULL;
	const trmx_index_entry *be = NULL;
	trmx_error first = { 0, "" };
	int rc;
	if (!home || !name || !idx_out || !entry)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_find: NULL argument");
	if ((rc = trmx_index_sources(home, &v, &n, err)) < 0)
		return rc;
	if (n == 0) {
		free(v);
		return trmx_error_set(err, TRMX_ENOTFOUND, "no module index is known here: add one with `trmx index add URL "
							   "--trust KEY.pub`");
	}
	for (size_t i = 0; i < n; i++) {
		trmx_index *idx = NULL;
		trmx_error e2 = { 0, "" };
		if (trmx_index_refresh(home, v[i].key_id, opts, &idx, &e2) < 0) {
			if (!first.code)
				first = e2;
			continue;
		}
		const trmx_index_entry *e = trmx_index_lookup(idx, name, version);
		if (e && (!be || trmx_semver_compare(e->version, be->version) > 0)) {
			trmx_index_free(best);
			best = idx;
			be = e;
		} else
			trmx_index_free(idx);
	}
	free(v);
	if (!best) {
		if (first.code) /* the index that failed may have listed it: its reason, not "not found" */
			return trmx_error_set(err, first.code, "%s", first.message);
		return trmx_error_set(err, TRMX_ENOTFOUND, "no index here lists %s%s%s (see trmx search)", name,
				      version ? "@" : "", version ? version : "");
	}
	if (first.code)
		trmx_diag(TRMX_DIAG_WARN, "%s", first.message);
	*idx_out = best;
	*entry = be;
	return 0;
}

/* ---- Pulling ----------------------------------------------------------------------------- */

static int file_size(const char *path, uint64_t *out)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return -1;
	*out = (uint64_t)st.st_size;
	return 0;
}

/* The file at `path` is the package `e` lists: its size, its SHA-256, its manifest's name and
 * version. */
static int check_download(const char *path, const trmx_index_entry *e, trmx_error *err)
{
	char d[TRMX_SHA256_HEX_SIZE];
	uint64_t size = 0;
	trmx_package *p = NULL;
	int rc;
	if (file_size(path, &size) < 0 || size != e->size)
		return trmx_error_set(err, TRMX_EINTEGRITY, "%s %s: %llu bytes downloaded, but the index lists %llu", e->name,
				      e->version, (unsigned long long)size, (unsigned long long)e->size);
	if ((rc = trmx_sha256_file(path, d, err)) < 0)
		return rc;
	if (strcmp(d, e->digest))
		return trmx_error_set(err, TRMX_EINTEGRITY,
				      "%s %s: digest mismatch: the file downloaded has SHA-256 %s, but the signed index "
				      "lists %s (a tampered or damaged file; nothing was unpacked)", e->name, e->version, d,
				      e->digest);
	if ((rc = trmx_package_open(&p, path, NULL, err)) < 0)
		return trmx_error_prefix(err, "%s %s", e->name, e->version);
	const trmx_manifest *m = trmx_package_manifest(p);
	if (strcmp(trmx_manifest_name(m), e->name) || strcmp(trmx_manifest_version(m), e->version))
		rc = trmx_error_set(err, TRMX_EINTEGRITY, "the package listed as %s %s is %s %s", e->name, e->version,
				    trmx_manifest_name(m), trmx_manifest_version(m));
	trmx_package_free(p);
	return rc;
}

int trmx_index_pull(const char *home, const trmx_index *idx, const trmx_index_entry *e, const trmx_fetch_options *opts,
		    char **path_out, trmx_error *err)
{
	char name[TRMX_SHA256_HEX_SIZE + 8], rest[TRMX_SHA256_HEX_SIZE + 32], what[TRMX_MANIFEST_NAME_MAX + TRMX_MANIFEST_VERSION_MAX + 2];
	char *part = NULL, *final = NULL, *url = NULL;
	trmx_error e2 = { 0, "" };
	int rc = 0, fd = -1;
	if (!home || !idx || !e || !path_out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_index_pull: NULL argument");
	if (e->size > TRMX_PACKAGE_FILE_MAX) /* before a byte is asked for */
		return trmx_error_set(err, TRMX_ELIMIT,
				      "%s %s: the index lists %llu bytes, more than TRMX_PACKAGE_FILE_MAX (%llu): not "
				      "downloaded", e->name, e->version, (unsigned long long)e->size, TRMX_PACKAGE_FILE_MAX);
	if (idx->src.nurls == 0)
		return trmx_error_set(err, TRMX_EINVAL, "%s %s: the index was not refreshed from a home (no mirrors)", e->name,
				      e->version);
	snprintf(what, sizeof what, "%s@%s", e->name, e->version);
	if ((rc = mkdirs(home, "cache", err)) < 0)
		return rc;
	snprintf(name, sizeof name, "%s.part", e->digest);
	part = home_path(home, "cache", name);
	snprintf(name, sizeof name, "%s.trmx", e->digest);
	final = home_path(home, "cache", name);
	if (!part || !final) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	/* A download checked before is used again once checked again. */
	if (access(final, F_OK) == 0) {
		if (check_download(final, e, &e2) == 0)
			goto ok;
		unlink(final);
	}
	snprintf(rest, sizeof rest, "packages/%s.trmx", e->digest);
	bool done_ok = false;
	rc = TRMX_EIO;
	for (size_t m = 0; m < idx->src.nurls && !done_ok; m++) {
		free(url);
		if (!(url = url_of(idx->src.urls[m], rest))) {
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		/* A few tries on one mirror, each resuming where the last stopped. */
		for (int attempt = 0; attempt < 4; attempt++) {
			uint64_t have = 0;
			if (file_size(part, &have) < 0 || have > e->size)
				have = 0;
			if ((fd = open(part, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644)) < 0 ||
			    ftruncate(fd, (off_t)have) != 0 || lseek(fd, (off_t)have, SEEK_SET) < 0) {
				rc = trmx_error_set(err, TRMX_EIO, "%s: %s", part, strerror(errno));
				goto done;
			}
			if (have == e->size) {
				close(fd);
				fd = -1;
				done_ok = true;
				break;
			}
			if (have)
				trmx_diag(TRMX_DIAG_INFO, "%s: resuming at byte %llu", url, (unsigned long long)have);
			struct sink s = { .fd = fd, .max = e->size - have, .base = have, .total = e->size, .what = what, .opts = opts };
			int kind = http_get(url, &s, have, &e2);
			if (fsync(fd) != 0 || close(fd) != 0) {
				fd = -1;
				rc = trmx_error_set(err, TRMX_EIO, "%s: %s", part, strerror(errno));
				goto done;
			}
			fd = -1;
			if (kind == GET_OK) {
				done_ok = true;
				break;
			}
			if (kind == GET_REFUSED) {
				unlink(part); /* what a lying server sent is not kept */
				rc = trmx_error_set(err, e2.code, "%s", e2.message);
				goto done;
			}
			trmx_diag(TRMX_DIAG_WARN, "%s", e2.message);
			if (kind == GET_RANGE) { /* start again from byte 0 */
				if (truncate(part, 0) != 0) {
					rc = trmx_error_set(err, TRMX_EIO, "%s: %s", part, strerror(errno));
					goto done;
				}
				continue;
			}
			uint64_t now_have = 0;
			if (file_size(part, &now_have) < 0 || now_have <= have)
				break; /* no progress: the next mirror */
		}
	}
	if (!done_ok) {
		rc = trmx_error_set(err, e2.code ? e2.code : TRMX_EIO, "%s: no mirror delivered it (kept %s to resume): %s", what,
				    part, e2.message);
		goto done;
	}
	if ((rc = check_download(part, e, err)) < 0) {
		unlink(part);
		goto done;
	}
	if (rename(part, final) != 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot rename %s: %s", part, strerror(errno));
		goto done;
	}
ok:
	*path_out = final;
	final = NULL;
	rc = 0;
done:
	if (fd >= 0)
		close(fd);
	free(part);
	free(final);
	free(url);
	return rc;
}
