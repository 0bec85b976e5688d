/*
 * lti_store.c — what the LTI tool keeps in the home (trmx/lti.h): the registered platforms
 * (HOME/lti/platforms.json) and the tool's RSA key (HOME/lti/tool-key.pem), and the JSON Web
 * Tokens made and checked with them. All cryptography is OpenSSL 3's EVP API (RS256: RSA
 * PKCS#1 v1.5 with SHA-256); JSON is jansson; URLs are parsed by libcurl's URL API.
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/log_int.h"
#include "serve/lti_int.h"
#include "serve/serve_int.h"

#define VERSION 1
#define KEY_BITS 2048

/* ---- base64url ----------------------------------------------------------------------------------- */

/* Unpadded base64url of n bytes (malloc'd). */
static char *lti_b64url(const unsigned char *p, size_t n)
{
	size_t cap = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	char *out = malloc(cap);
	if (out)
		sodium_bin2base64(out, cap, p, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return out;
}

/* Decode `len` characters of unpadded base64url (malloc'd, *n its bytes), or NULL. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *n)
{
	unsigned char *out = malloc(len / 4 * 3 + 3);
	const char *end = NULL;
	if (!out)
		return NULL;
	if (sodium_base642bin(out, len / 4 * 3 + 3, s, len, NULL, n, &end, sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    end != s + len) {
		free(out);
		return NULL;
	}
	return out;
}

/* ---- Files --------------------------------------------------------------------------------------- */

/* HOME/REL (malloc'd). */
static char *home_path(const char *home, const char *rel)
{
	return trmx_xasprintf("%s/%s", home, rel);
}

/* An exclusive flock on PATH.lock, its folder made when missing; the lock file stays (removing it
 * would let two changers lock different files). */
static int lock_file(const char *path, int *fd_out, trmx_error *err)
{
	char *lock = trmx_xasprintf("%s.lock", path), *dir = trmx_xstrdup(path);
	int rc = 0, fd = -1;
	if (!lock || !dir) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	*strrchr(dir, '/') = 0;
	if ((rc = trmx_mkdirs(dir, err)) < 0)
		goto done;
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0) {
		rc = trmx_error_set(err, TRMX_EIO, "cannot open %s: %s", lock, strerror(errno));
		goto done;
	}
	while (flock(fd, LOCK_EX) != 0)
		if (errno != EINTR) {
			rc = trmx_error_set(err, TRMX_EIO, "cannot lock %s: %s", lock, strerror(errno));
			goto done;
		}
	*fd_out = fd;
	fd = -1;
done:
	if (fd >= 0)
		close(fd);
	free(lock);
	free(dir);
	return rc;
}

/* ---- Platforms ----------------------------------------------------------------------------------- */

struct trmx_lti_platforms {
	json_t *root;                /* the file; the entries' strings point into it */
	char *path;
	trmx_lti_platform *p;
	const char **deps;           /* every entry's deployments, one after another */
	size_t n;
};

const char *trmx__lti_url_problem(const char *url)
{
	if (!url || !*url)
		return "is missing";
	if (strlen(url) > TRMX_LTI_URL_MAX)
		return "is longer than TRMX_LTI_URL_MAX (2048) bytes";
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return "holds a space or a control character";
	if (strncasecmp(url, "https://", 8) && strncasecmp(url, "http://", 7))
		return "is not an http:// or https:// URL";
	CURLU *h = curl_url();
	char *host = NULL;
	const char *why = NULL;
	if (!h)
		return "cannot be parsed (out of memory)";
	if (curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK || curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
	    !host || !*host)
		why = "is not a URL with a host";
	curl_free(host);
	curl_url_cleanup(h);
	return why;
}

/* A client id, deployment id or name: 1 to TRMX_LTI_ID_MAX bytes of UTF-8 without control characters. */
static const char *id_problem(const char *s)
{
	if (!s || !*s)
		return "is missing";
	size_t n = strlen(s);
	if (n > TRMX_LTI_ID_MAX)
		return "is longer than TRMX_LTI_ID_MAX (255) bytes";
	if (!trmx_utf8_valid(s, n))
		return "is not UTF-8";
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return "holds a control character";
	return NULL;
}

/* Check one platform; 0 or TRMX_EINVAL naming the field (`at` says where). */
static int platform_check(const trmx_lti_platform *p, const char *at, trmx_error *err)
{
	const char *why;
	if ((why = trmx__lti_url_problem(p->issuer)))
		return trmx_error_set(err, TRMX_EINVAL, "%sthe issuer %s (the platform's URL, e.g. https://moodle.example.org)", at,
				      why);
	if ((why = id_problem(p->client_id)))
		return trmx_error_set(err, TRMX_EINVAL, "%sthe client id %s (the platform shows it once the tool is added)", at,
				      why);
	if (p->ndeployments == 0)
		return trmx_error_set(err, TRMX_EINVAL, "%sno deployment id (the platform shows it with the client id)", at);
	if (p->ndeployments > TRMX_LTI_DEPLOYMENTS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s%zu deployment ids, more than TRMX_LTI_DEPLOYMENTS_MAX (%d)", at,
				      p->ndeployments, TRMX_LTI_DEPLOYMENTS_MAX);
	for (size_t i = 0; i < p->ndeployments; i++) {
		if ((why = id_problem(p->deployments[i])))
			return trmx_error_set(err, TRMX_EINVAL, "%sdeployment id %zu %s", at, i + 1, why);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(p->deployments[i], p->deployments[j]))
				return trmx_error_set(err, TRMX_EINVAL, "%sdeployment id '%s' is given twice", at, p->deployments[i]);
	}
	static const char *const names[] = { "JWKS URL", "auth URL", "token URL" };
	const char *urls[] = { p->jwks_url, p->auth_url, p->token_url };
	for (int i = 0; i < 3; i++)
		if ((why = trmx__lti_url_problem(urls[i])))
			return trmx_error_set(err, TRMX_EINVAL, "%sthe %s %s", at, names[i], why);
	if (p->name && (why = id_problem(p->name)))
		return trmx_error_set(err, TRMX_EINVAL, "%sthe name %s", at, why);
	return 0;
}

static const char *str_of(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* Take `root` (its reference, also on failure) and check it. */
static int from_json(trmx_lti_platforms **out, json_t *root, const char *path, trmx_error *err)
{
	static const char *const known[] = { "issuer", "client_id", "deployments", "jwks_url", "auth_url",
					     "token_url", "name", "added" };
	trmx_lti_platforms *t = calloc(1, sizeof *t);
	int rc = 0;
	if (!t || !(t->path = trmx_xstrdup(path))) {
		json_decref(root);
		free(t);
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
	}
	t->root = root;
	json_t *list = json_object_get(root, "platforms"), *ver = json_object_get(root, "version");
	if (!json_is_object(root) || !json_is_array(list) || !json_is_integer(ver) || json_object_size(root) != 2) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not a platforms file (an object with version and platforms)", path);
		goto done;
	}
	if (json_integer_value(ver) != VERSION) {
		rc = trmx_error_set(err, TRMX_EVERSION, "%s: version %lld; this trmx reads version %d", path,
				    (long long)json_integer_value(ver), VERSION);
		goto done;
	}
	size_t n = json_array_size(list), ndeps = 0, i;
	json_t *e;
	if (n > TRMX_LTI_PLATFORMS_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s: %zu platforms, more than TRMX_LTI_PLATFORMS_MAX (%d)", path, n,
				    TRMX_LTI_PLATFORMS_MAX);
		goto done;
	}
	json_array_foreach(list, i, e) {
		json_t *d = json_object_get(e, "deployments");
		if (!json_is_object(e) || !json_is_array(d) || json_array_size(d) > TRMX_LTI_DEPLOYMENTS_MAX) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: platforms[%zu] is not an object with a list of at most %d "
					    "deployments", path, i, TRMX_LTI_DEPLOYMENTS_MAX);
			goto done;
		}
		ndeps += json_array_size(d);
	}
	if ((n && !(t->p = calloc(n, sizeof *t->p))) || (ndeps && !(t->deps = calloc(ndeps, sizeof *t->deps)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory reading %s", path);
		goto done;
	}
	size_t o = 0;
	json_array_foreach(list, i, e) {
		const char *key;
		json_t *v;
		json_object_foreach(e, key, v) {
			bool ok = false;
			for (size_t k = 0; k < sizeof known / sizeof *known; k++)
				ok |= !strcmp(key, known[k]);
			if (!ok) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s: platforms[%zu]: unknown key '%.64s'", path, i, key);
				goto done;
			}
		}
		trmx_lti_platform *p = &t->p[i];
		p->issuer = str_of(e, "issuer");
		p->client_id = str_of(e, "client_id");
		p->jwks_url = str_of(e, "jwks_url");
		p->auth_url = str_of(e, "auth_url");
		p->token_url = str_of(e, "token_url");
		p->name = str_of(e, "name");
		json_t *added = json_object_get(e, "added"), *d = json_object_get(e, "deployments"), *dv;
		p->added = json_is_integer(added) ? json_integer_value(added) : 0;
		p->deployments = t->deps + o;
		size_t k;
		json_array_foreach(d, k, dv) {
			if (!json_is_string(dv)) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s: platforms[%zu].deployments[%zu] is not a string", path, i, k);
				goto done;
			}
			t->deps[o++] = json_string_value(dv);
		}
		p->ndeployments = json_array_size(d);
		char at[64];
		snprintf(at, sizeof at, "platforms[%zu]: ", i);
		trmx_error why;
		if (platform_check(p, at, &why) < 0) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: %s", path, why.message);
			goto done;
		}
		for (size_t j = 0; j < i; j++)
			if (!strcmp(t->p[j].issuer, p->issuer) && !strcmp(t->p[j].client_id, p->client_id)) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s: platforms[%zu] repeats platforms[%zu] (issuer and client id)",
						    path, i, j);
				goto done;
			}
		t->n = i + 1;
	}
done:
	if (rc < 0) {
		trmx_lti_platforms_free(t);
		return rc;
	}
	*out = t;
	return 0;
}

static int load_path(trmx_lti_platforms **out, const char *path, trmx_error *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = trmx_read_file(path, TRMX_LTI_FILE_MAX, NULL, TRMX_READ_NOFOLLOW, &buf, &len, err);
	json_t *root;
	if (rc == TRMX_ENOTFOUND)
		root = json_pack("{s:i,s:[]}", "version", VERSION, "platforms");
	else if (rc < 0)
		return rc;
	else {
		json_error_t je;
		root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
		free(buf);
		if (!root)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: line %d, column %d: %s", path, je.line, je.column, je.text);
	}
	if (!root)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	return from_json(out, root, path, err);
}

int trmx_lti_platforms_load(trmx_lti_platforms **out, const char *home, trmx_error *err)
{
	if (!out || !home || !*home)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_lti_platforms_load: missing argument");
	char *path = home_path(home, TRMX_LTI_PLATFORMS_FILE);
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int rc = load_path(out, path, err);
	free(path);
	return rc;
}

size_t trmx_lti_platforms_count(const trmx_lti_platforms *p)
{
	return p ? p->n : 0;
}

const trmx_lti_platform *trmx_lti_platforms_entry(const trmx_lti_platforms *p, size_t i)
{
	return p && i < p->n ? &p->p[i] : NULL;
}

const char *trmx_lti_platforms_path(const trmx_lti_platforms *p)
{
	return p ? p->path : NULL;
}

void trmx_lti_platforms_free(trmx_lti_platforms *p)
{
	if (!p)
		return;
	json_decref(p->root);
	free(p->p);
	free(p->deps);
	free(p->path);
	free(p);
}

static int save(const trmx_lti_platforms *t, trmx_error *err)
{
	char *text = json_dumps(t->root, JSON_INDENT(2));
	char *full = text ? trmx_xasprintf("%s\n", text) : NULL;
	int rc;
	if (!full)
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory writing %s", t->path);
	else if (strlen(full) > TRMX_LTI_FILE_MAX)
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s would be larger than TRMX_LTI_FILE_MAX", t->path);
	else
		rc = trmx_write_file_atomic(t->path, full, strlen(full), err);
	free(full);
	free(text);
	return rc;
}

int trmx_lti_platform_add(const char *home, const trmx_lti_platform *p, trmx_error *err)
{
	if (!home || !*home || !p || (p->ndeployments && !p->deployments))
		return trmx_error_set(err, TRMX_EINVAL, "trmx_lti_platform_add: missing argument");
	int rc = platform_check(p, "", err), lock = -1;
	if (rc < 0)
		return rc;
	char *path = home_path(home, TRMX_LTI_PLATFORMS_FILE);
	trmx_lti_platforms *t = NULL;
	json_t *deps = json_array(), *e = NULL;
	struct lti_key key = { 0 };
	if (!path || !deps) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = lock_file(path, &lock, err)) < 0 || (rc = load_path(&t, path, err)) < 0)
		goto done;
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->p[i].issuer, p->issuer) && !strcmp(t->p[i].client_id, p->client_id)) {
			rc = trmx_error_set(err, TRMX_EINVAL, "%s: the platform %s with client id %s is registered already "
					    "(trmx lti remove it first to change it)", path, p->issuer, p->client_id);
			goto done;
		}
	if (t->n >= TRMX_LTI_PLATFORMS_MAX) {
		rc = trmx_error_set(err, TRMX_ELIMIT, "%s holds TRMX_LTI_PLATFORMS_MAX (%d) platforms already", path,
				    TRMX_LTI_PLATFORMS_MAX);
		goto done;
	}
	bool ok = true;
	for (size_t i = 0; i < p->ndeployments; i++)
		ok = ok && !json_array_append_new(deps, json_string(p->deployments[i]));
	if (ok)
		e = json_pack("{s:s,s:s,s:O,s:s,s:s,s:s,s:s?,s:I}", "issuer", p->issuer, "client_id", p->client_id,
			      "deployments", deps, "jwks_url", p->jwks_url, "auth_url", p->auth_url, "token_url", p->token_url,
			      "name", p->name, "added", (json_int_t)trmx_now_ms());
	if (!e || json_array_append(json_object_get(t->root, "platforms"), e)) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	/* the platform asks for the tool's keys next: make them now rather than at the first launch */
	if ((rc = trmx__lti_key_load(home, true, &key, err)) < 0 || (rc = save(t, err)) < 0)
		goto done;
done:
	trmx__lti_key_clear(&key);
	json_decref(e);
	json_decref(deps);
	trmx_lti_platforms_free(t);
	free(path);
	if (lock >= 0)
		close(lock);
	return rc;
}

int trmx_lti_platform_remove(const char *home, const char *issuer, const char *client_id, size_t *removed,
			     trmx_error *err)
{
	if (!home || !*home || !issuer)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_lti_platform_remove: missing argument");
	char *path = home_path(home, TRMX_LTI_PLATFORMS_FILE);
	trmx_lti_platforms *t = NULL;
	int rc, lock = -1;
	size_t gone = 0;
	if (!path) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if ((rc = lock_file(path, &lock, err)) < 0 || (rc = load_path(&t, path, err)) < 0)
		goto done;
	/* entries point into the JSON: drop them from the end so indexes stay right */
	json_t *list = json_object_get(t->root, "platforms");
	for (size_t i = t->n; i-- > 0;)
		if (!strcmp(t->p[i].issuer, issuer) && (!client_id || !strcmp(t->p[i].client_id, client_id))) {
			json_array_remove(list, i);
			gone++;
		}
	if (!gone) {
		rc = trmx_error_set(err, TRMX_ENOTFOUND, "%s: no platform %s%s%s is registered (trmx lti list)", path, issuer,
				    client_id ? " with client id " : "", client_id ? client_id : "");
		goto done;
	}
	rc = save(t, err);
done:
	if (rc == 0 && removed)
		*removed = gone;
	trmx_lti_platforms_free(t);
	free(path);
	if (lock >= 0)
		close(lock);
	return rc;
}

/* ---- The tool key -------------------------------------------------------------------------------- */

/* The public JWK of `pkey` and its RFC 7638 thumbprint. */
static int make_jwk(struct lti_key *k, trmx_error *err)
{
	BIGNUM *n = NULL, *e = NULL;
	unsigned char *nb = NULL, eb[16], dg[32];
	char *n64 = NULL, *e64 = NULL, *canon = NULL, *kid = NULL;
	json_t *tp = NULL, *jwk = NULL;
	int rc = 0;
	if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) ||
	    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &e) || BN_num_bytes(e) > (int)sizeof eb) {
		rc = trmx_error_set(err, TRMX_ERROR, "the tool key is not an RSA key");
		goto done;
	}
	if (!(nb = malloc((size_t)BN_num_bytes(n)))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	int nl = BN_bn2bin(n, nb), el = BN_bn2bin(e, eb);
	unsigned dl = 0;
	/* RFC 7638: SHA-256 of the required members in lexicographic order, no whitespace */
	if (!(n64 = lti_b64url(nb, (size_t)nl)) || !(e64 = lti_b64url(eb, (size_t)el)) ||
	    !(tp = json_pack("{s:s,s:s,s:s}", "e", e64, "kty", "RSA", "n", n64)) ||
	    !(canon = json_dumps(tp, JSON_COMPACT | JSON_SORT_KEYS)) ||
	    !EVP_Digest(canon, strlen(canon), dg, &dl, EVP_sha256(), NULL) || !(kid = lti_b64url(dg, dl)) ||
	    !(jwk = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "RSA", "alg", "RS256", "use", "sig", "kid", kid, "n", n64,
			      "e", e64)) ||
	    !(k->jwks = json_pack("{s:[O]}", "keys", jwk))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(k->kid, sizeof k->kid, "%s", kid);
done:
	BN_free(n);
	BN_free(e);
	free(nb);
	free(n64);
	free(e64);
	free(canon);
	free(kid);
	json_decref(tp);
	json_decref(jwk);
	return rc;
}

static int key_read(const char *path, struct lti_key *k, trmx_error *err)
{
	char *pem = NULL;
	size_t len = 0;
	int rc = trmx_read_file(path, 64 * 1024, NULL, TRMX_READ_NOFOLLOW | TRMX_READ_PRIVATE, &pem, &len, err);
	if (rc < 0)
		return rc;
	BIO *b = BIO_new_mem_buf(pem, (int)len);
	k->pkey = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
	BIO_free(b);
	sodium_memzero(pem, len);
	free(pem);
	if (!k->pkey || !EVP_PKEY_is_a(k->pkey, "RSA") || EVP_PKEY_get_bits(k->pkey) < KEY_BITS)
		return trmx_error_set(err, TRMX_ERROR, "%s is not an RSA private key of at least %d bits in PEM (remove it "
				      "to have a new one made, then give the platforms the new keys)", path, KEY_BITS);
	return 0;
}

int trmx__lti_key_load(const char *home, bool create, struct lti_key *k, trmx_error *err)
{
	char *path = home_path(home, TRMX_LTI_KEY_FILE);
	int rc, lock = -1;
	BIO *b = NULL;
	memset(k, 0, sizeof *k);
	if (!path)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	rc = key_read(path, k, err);
	if (rc == TRMX_ENOTFOUND && create) {
		/* under the lock, so two commands at once make one key */
		if ((rc = lock_file(path, &lock, err)) < 0)
			goto done;
		if ((rc = key_read(path, k, err)) != TRMX_ENOTFOUND)
			goto done;
		char *pem = NULL;
		long pl;
		if (!(k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)KEY_BITS)) || !(b = BIO_new(BIO_s_mem())) ||
		    !PEM_write_bio_PrivateKey(b, k->pkey, NULL, NULL, 0, NULL, NULL) || (pl = BIO_get_mem_data(b, &pem)) <= 0) {
			rc = trmx_error_set(err, TRMX_ERROR, "cannot make an RSA-%d key (OpenSSL)", KEY_BITS);
			goto done;
		}
		if ((rc = trmx_write_file_atomic_mode(path, pem, (size_t)pl, 0600, err)) < 0)
			goto done;
	}
	if (rc == 0)
		rc = make_jwk(k, err);
done:
	BIO_free(b);
	if (lock >= 0)
		close(lock);
	if (rc < 0)
		trmx__lti_key_clear(k);
	free(path);
	return rc;
}

void trmx__lti_key_clear(struct lti_key *k)
{
	EVP_PKEY_free(k->pkey);
	json_decref(k->jwks);
	memset(k, 0, sizeof *k);
}

int trmx_lti_tool_jwks(const char *home, char **out, trmx_error *err)
{
	if (!home || !*home || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_lti_tool_jwks: missing argument");
	struct lti_key k;
	int rc = trmx__lti_key_load(home, true, &k, err);
	if (rc < 0)
		return rc;
	char *text = json_dumps(k.jwks, JSON_COMPACT);
	trmx__lti_key_clear(&k);
	if (!text)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	*out = text;
	return 0;
}

/* ---- JSON Web Tokens ----------------------------------------------------------------------------- */

char *trmx__lti_jwt_sign(const struct lti_key *k, json_t *payload)
{
	json_t *h = json_pack("{s:s,s:s,s:s}", "alg", "RS256", "typ", "JWT", "kid", k->kid);
	char *hj = h ? json_dumps(h, JSON_COMPACT) : NULL, *pj = json_dumps(payload, JSON_COMPACT);
	char *h64 = hj ? lti_b64url((unsigned char *)hj, strlen(hj)) : NULL;
	char *p64 = pj ? lti_b64url((unsigned char *)pj, strlen(pj)) : NULL;
	char *input = h64 && p64 ? trmx_xasprintf("%s.%s", h64, p64) : NULL, *s64 = NULL, *out = NULL;
	unsigned char *sig = NULL;
	size_t sl = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (input && md && EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, k->pkey) == 1 &&
	    EVP_DigestSign(md, NULL, &sl, (unsigned char *)input, strlen(input)) == 1 && (sig = malloc(sl)) &&
	    EVP_DigestSign(md, sig, &sl, (unsigned char *)input, strlen(input)) == 1 && (s64 = lti_b64url(sig, sl)))
		out = trmx_xasprintf("%s.%s", input, s64);
	EVP_MD_CTX_free(md);
	json_decref(h);
	free(hj);
	free(pj);
	free(h64);
	free(p64);
	free(input);
	free(sig);
	free(s64);
	return out;
}

static json_t *decode_part(const char *s, size_t len)
{
	size_t n = 0;
	unsigned char *raw = b64url_decode(s, len, &n);
	json_t *o = raw ? json_loadb((char *)raw, n, JSON_REJECT_DUPLICATES, NULL) : NULL;
	free(raw);
	if (o && !json_is_object(o)) {
		json_decref(o);
		o = NULL;
	}
	return o;
}

int trmx__lti_jwt_parse(const char *text, size_t len, struct lti_jwt *j, char *why, size_t cap)
{
	memset(j, 0, sizeof *j);
	j->text = text;
	const char *d1 = memchr(text, '.', len), *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - text)) : NULL;
	if (len > LTI_JWT_MAX) {
		snprintf(why, cap, "the token is longer than %d bytes", LTI_JWT_MAX);
		return -1;
	}
	if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - text))) {
		snprintf(why, cap, "the token is not a signed JWT (three base64url parts separated by dots)");
		return -1;
	}
	if (!(j->header = decode_part(text, (size_t)(d1 - text)))) {
		snprintf(why, cap, "the token's header is not base64url JSON");
		return -1;
	}
	json_t *alg = json_object_get(j->header, "alg"), *kid = json_object_get(j->header, "kid");
	/* RS256 only: "none" would need no key, and HS256 would take the platform's public key as a
	 * shared secret that anyone can read */
	if (!json_is_string(alg) || strcmp(json_string_value(alg), "RS256")) {
		snprintf(why, cap, "the token is signed with alg '%.32s'; only RS256 is accepted",
			 json_is_string(alg) ? json_string_value(alg) : "(none given)");
		goto fail;
	}
	if (json_object_get(j->header, "crit")) {
		snprintf(why, cap, "the token's header has critical extensions, which are not supported");
		goto fail;
	}
	j->kid = json_is_string(kid) ? json_string_value(kid) : NULL;
	if (!(j->payload = decode_part(d1 + 1, (size_t)(d2 - d1 - 1)))) {
		snprintf(why, cap, "the token's claims are not base64url JSON");
		goto fail;
	}
	if (!(j->sig = b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - text), &j->siglen)) || !j->siglen) {
		snprintf(why, cap, "the token's signature is not base64url");
		goto fail;
	}
	j->signed_len = (size_t)(d2 - text);
	return 0;
fail:
	trmx__lti_jwt_clear(j);
	return -1;
}

/* The RSA public key of a JWK, or NULL. */
static EVP_PKEY *jwk_key(json_t *jwk)
{
	const char *kty = str_of(jwk, "kty"), *n64 = str_of(jwk, "n"), *e64 = str_of(jwk, "e");
	if (!kty || strcmp(kty, "RSA") || !n64 || !e64)
		return NULL;
	size_t nl = 0, el = 0;
	unsigned char *nb = b64url_decode(n64, strlen(n64), &nl), *eb = b64url_decode(e64, strlen(e64), &el);
	BIGNUM *n = nb && nl ? BN_bin2bn(nb, (int)nl, NULL) : NULL, *e = eb && el ? BN_bin2bn(eb, (int)el, NULL) : NULL;
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	if (n && e && bld && OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) && (params = OSSL_PARAM_BLD_to_param(bld)) &&
	    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) && EVP_PKEY_fromdata_init(ctx) == 1 &&
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 && EVP_PKEY_get_bits(pkey) < KEY_BITS) {
		EVP_PKEY_free(pkey); /* a platform key under 2048 bits is refused like a wrong one */
		pkey = NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	BN_free(n);
	BN_free(e);
	free(nb);
	free(eb);
	return pkey;
}

int trmx__lti_jwt_verify(const struct lti_jwt *j, json_t *jwk, char *why, size_t cap)
{
	const char *alg = str_of(jwk, "alg"), *use = str_of(jwk, "use");
	if ((alg && strcmp(alg, "RS256")) || (use && strcmp(use, "sig"))) {
		snprintf(why, cap, "the platform's key %.64s is not an RS256 signing key", j->kid ? j->kid : "");
		return -1;
	}
	EVP_PKEY *pkey = jwk_key(jwk);
	if (!pkey) {
		snprintf(why, cap, "the platform's key %.64s is not an RSA public key of at least %d bits", j->kid ? j->kid : "",
			 KEY_BITS);
		return -1;
	}
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	int ok = md && EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pkey) == 1 &&
		 EVP_DigestVerify(md, j->sig, j->siglen, (const unsigned char *)j->text, j->signed_len) == 1;
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	if (!ok) {
		snprintf(why, cap, "the token's signature does not match the platform's key%s%.64s", j->kid ? " " : "",
			 j->kid ? j->kid : "");
		return -1;
	}
	return 0;
}

void trmx__lti_jwt_clear(struct lti_jwt *j)
{
	json_decref(j->header);
	json_decref(j->payload);
	free(j->sig);
	memset(j, 0, sizeof *j);
}
