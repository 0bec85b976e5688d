/*
 * sign.c — Ed25519 keys (libsodium), manifest.sig, the trust store and the policy under
 * TRMX_HOME, and signing a package.
 *
 * The three small files are "key: value" lines with fixed keys in a fixed order (no YAML: they
 * are read from packages and must be trivially strict):
 *
 *   NAME.pub       format: trmx-public-key-1 / algorithm: ed25519 / key-id / public-key / comment
 *   NAME.key       format: trmx-secret-key-1 / algorithm: ed25519 / key-id / secret-key (seed)
 *   manifest.sig   format: trmx-signature-1 / algorithm: ed25519 / key-id / public-key / signature
 *
 * The key id is the first 8 bytes of SHA-256(public key), in hex. The signature is a plain
 * detached Ed25519 signature of the bytes of manifest.yaml (no prefix), so any Ed25519 tool can
 * check it; the manifest pins every other member's SHA-256, so it signs the whole package.
 * manifest.sig carries its public key: a signature can be found INVALID without any trust
 * store; it is TRUSTED only when that exact key is in the store (or given for the call).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pkg_int.h"

#define PUB_FORMAT "trmx-public-key-1"
#define KEY_FORMAT "trmx-secret-key-1"
#define SIG_FORMAT "trmx-signature-1"

/* ---- Home -------------------------------------------------------------------------------- */

int trmx_home_resolve(const char *explicit_home, char **out, trmx_error *err)
{
	const char *env = getenv("TRMX_HOME"), *home = getenv("HOME");
	char *r = NULL;
	if (!out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_home_resolve: NULL argument");
	if (explicit_home && !*explicit_home) /* --home "" is a mistake, not the default home */
		return trmx_error_set(err, TRMX_EINVAL, "the home is an empty path: give --home a folder, or leave it out");
	if (explicit_home)
		r = trmx_xstrdup(explicit_home);
	else if (env && *env)
		r = trmx_xstrdup(env);
	else if (home && *home) {
		size_t n = strlen(home) + sizeof "/.local/share/trmx";
		if ((r = trmx_xmalloc(n)))
			snprintf(r, n, "%s/.local/share/trmx", home);
	} else
		return trmx_error_set(err, TRMX_EINVAL, "no trmx home: set TRMX_HOME or HOME, or pass --home");
	if (!r)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	*out = r;
	return 0;
}

/* mkdir -p for `dir` (its parents must be reachable). */
static int make_dirs(const char *dir, trmx_error *err)
{
	char path[4096];
	size_t n = strlen(dir);
	if (n == 0 || n >= sizeof path)
		return trmx_error_set(err, TRMX_EINVAL, "bad folder name '%.100s'", dir);
	memcpy(path, dir, n + 1);
	for (size_t i = 1; i <= n; i++) {
		if (path[i] != '/' && path[i] != '\0')
			continue;
		char c = path[i];
		path[i] = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST)
			return trmx_error_set(err, TRMX_EIO, "cannot make folder %s: %s", path, strerror(errno));
		path[i] = c;
	}
	return 0;
}

/* ---- The line format --------------------------------------------------------------------- */

struct slice {
	const char *s;
	size_t n;
};

/* Read exactly `n` lines "key: value\n" with the keys given; values may be empty only when
 * `last_may_be_empty` and it is the last. */
static int parse_lines(const char *text, size_t len, const char *what, const char *const *keys,
		       size_t n, struct slice *vals, trmx_error *err)
{
	size_t pos = 0;
	if (memchr(text, '\0', len) || !trmx_utf8_valid(text, len))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: not UTF-8 text", what);
	for (size_t k = 0; k < n; k++) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t kl = strlen(keys[k]);
		if (!nl)
			return trmx_error_set(err, TRMX_EFORMAT, "%s: line %zu: expected '%s: ...' ending in a newline",
					      what, k + 1, keys[k]);
		size_t ll = (size_t)(nl - line);
		if (ll < kl + 1 || memcmp(line, keys[k], kl) || line[kl] != ':' ||
		    (ll > kl + 1 && line[kl + 1] != ' '))
			return trmx_error_set(err, TRMX_EFORMAT, "%s: line %zu: expected '%s: ...'", what, k + 1,
					      keys[k]);
		vals[k].s = line + kl + (ll > kl + 1 ? 2 : 1);
		vals[k].n = ll - (size_t)(vals[k].s - line);
		if (trmx__pkg_has_control(vals[k].s, vals[k].n))
			return trmx_error_set(err, TRMX_EFORMAT, "%s: line %zu: a control character", what, k + 1);
		pos += ll + 1;
	}
	if (pos != len)
		return trmx_error_set(err, TRMX_EFORMAT, "%s: unexpected text after line %zu", what, n);
	return 0;
}

static bool slice_is(struct slice v, const char *s)
{
	return v.n == strlen(s) && !memcmp(v.s, s, v.n);
}

static void key_id_of(const unsigned char pk[32], char id[TRMX_KEY_ID_SIZE])
{
	unsigned char d[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(d, pk, 32);
	trmx__pkg_hex(d, 8, id);
}

static bool valid_key_id(const char *id)
{
	unsigned char b[8];
	return id && strlen(id) == 16 && trmx__pkg_unhex(id, 16, b, 8);
}

/* Parse a .pub text. */
static int public_key_parse(trmx_public_key *out, const char *text, size_t len, const char *what,
			    trmx_error *err)
{
	static const char *const keys[] = { "format", "algorithm", "key-id", "public-key", "comment" };
	struct slice v[5];
	trmx_public_key k;
	int rc;
	memset(&k, 0, sizeof k);
	if ((rc = parse_lines(text, len, what, keys, 5, v, err)) < 0)
		return rc;
	if (!slice_is(v[0], PUB_FORMAT))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: format is not %s", what, PUB_FORMAT);
	if (!slice_is(v[1], "ed25519"))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: algorithm is not ed25519", what);
	if (!trmx__pkg_unhex(v[3].s, v[3].n, k.key, 32))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: public-key is not 64 lowercase hex digits", what);
	key_id_of(k.key, k.key_id);
	if (!slice_is(v[2], k.key_id))
		return trmx_error_set(err, TRMX_EFORMAT, "%s: key-id '%.20s' does not match the key (%s)",
				      what, v[2].s, k.key_id);
	if (v[4].n > TRMX_MANIFEST_STRING_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: a comment longer than TRMX_MANIFEST_STRING_MAX (%d)",
				      what, TRMX_MANIFEST_STRING_MAX);
	memcpy(k.comment, v[4].s, v[4].n);
	k.comment[v[4].n] = '\0';
	*out = k;
	return 0;
}

int trmx_public_key_load(trmx_public_key *out, const char *path, trmx_error *err)
{
	char *text = NULL;
	size_t len;
	int rc;
	if (!out || !path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_public_key_load: NULL argument");
	if ((rc = trmx_read_file(path, TRMX_KEY_FILE_MAX, "TRMX_KEY_FILE_MAX", 0, &text, &len, err)) < 0)
		return rc;
	rc = public_key_parse(out, text, len, path, err);
	free(text);
	return rc;
}

static int format_public_key(const trmx_public_key *k, char *buf, size_t cap)
{
	char hex[65];
	trmx__pkg_hex(k->key, 32, hex);
	return snprintf(buf, cap, "format: %s\nalgorithm: ed25519\nkey-id: %s\npublic-key: %s\ncomment: %s\n",
			PUB_FORMAT, k->key_id, hex, k->comment);
}

/* Write `len` bytes to a new file (O_EXCL) with `mode`. */
static int write_new(const char *path, const char *data, size_t len, mode_t mode, trmx_error *err)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return trmx_error_set(err, errno == EEXIST ? TRMX_EINVAL : TRMX_EIO,
				      "%s: %s", path, errno == EEXIST ? "already exists (not overwritten)"
								      : strerror(errno));
	size_t done = 0;
	while (done < len) {
		ssize_t n = write(fd, data + done, len - done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			unlink(path);
			return trmx_error_set(err, TRMX_EIO, "%s: cannot write: %s", path, strerror(e));
		}
		done += (size_t)n;
	}
	if (fsync(fd) != 0 || close(fd) != 0) {
		unlink(path);
		return trmx_error_set(err, TRMX_EIO, "%s: cannot sync: %s", path, strerror(errno));
	}
	return 0;
}

int trmx_key_generate(const char *base, const char *comment, char key_id[TRMX_KEY_ID_SIZE],
		      trmx_error *err)
{
	unsigned char pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES], seed[32];
	char seedhex[65], text[1024], *kpath = NULL, *ppath = NULL;
	trmx_public_key pub;
	int rc = 0;

	if (!base || !*base)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_key_generate: no file name");
	if (!comment)
		comment = "";
	if (strlen(comment) > TRMX_MANIFEST_STRING_MAX || !trmx_utf8_valid(comment, strlen(comment)) ||
	    trmx__pkg_has_control(comment, strlen(comment)))
		return trmx_error_set(err, TRMX_EINVAL,
				      "a key comment is one line of UTF-8 of at most %d bytes",
				      TRMX_MANIFEST_STRING_MAX);
	if (sodium_init() < 0)
		return trmx_error_set(err, TRMX_ERROR, "libsodium cannot start");
	size_t n = strlen(base) + 8;
	if (!(kpath = trmx_xmalloc(n)) || !(ppath = trmx_xmalloc(n))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(kpath, n, "%s.key", base);
	snprintf(ppath, n, "%s.pub", base);
	crypto_sign_keypair(pk, sk);
	crypto_sign_ed25519_sk_to_seed(seed, sk);
	memset(&pub, 0, sizeof pub);
	memcpy(pub.key, pk, 32);
	key_id_of(pk, pub.key_id);
	snprintf(pub.comment, sizeof pub.comment, "%s", comment);
	trmx__pkg_hex(seed, 32, seedhex);
	snprintf(text, sizeof text, "format: %s\nalgorithm: ed25519\nkey-id: %s\nsecret-key: %s\n",
		 KEY_FORMAT, pub.key_id, seedhex);
	if ((rc = write_new(kpath, text, strlen(text), 0600, err)) < 0)
		goto done;
	format_public_key(&pub, text, sizeof text);
	if ((rc = write_new(ppath, text, strlen(text), 0644, err)) < 0) {
		unlink(kpath);
		goto done;
	}
	if (key_id)
		memcpy(key_id, pub.key_id, TRMX_KEY_ID_SIZE);
done:
	sodium_memzero(sk, sizeof sk);
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(seedhex, sizeof seedhex);
	sodium_memzero(text, sizeof text);
	free(kpath);
	free(ppath);
	return rc;
}

/* Read a secret key file into sk (64 bytes) and its key id. */
static int secret_key_load(const char *path, unsigned char sk[crypto_sign_SECRETKEYBYTES],
			   char id[TRMX_KEY_ID_SIZE], trmx_error *err)
{
	static const char *const keys[] = { "format", "algorithm", "key-id", "secret-key" };
	unsigned char seed[32], pk[32];
	struct slice v[4];
	char *text = NULL;
	size_t len;
	struct stat st;
	int rc;
	if (stat(path, &st) == 0 && (st.st_mode & 077))
		trmx_diag(TRMX_DIAG_WARN, "%s: a secret key readable by others (mode %03o)", path,
			 (unsigned)(st.st_mode & 0777));
	if ((rc = trmx_read_file(path, TRMX_KEY_FILE_MAX, "TRMX_KEY_FILE_MAX", 0, &text, &len, err)) < 0)
		return rc;
	if ((rc = parse_lines(text, len, path, keys, 4, v, err)) < 0)
		goto done;
	if (!slice_is(v[0], KEY_FORMAT)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: format is not %s (is this a secret key?)", path,
				    KEY_FORMAT);
		goto done;
	}
	if (!slice_is(v[1], "ed25519") || !trmx__pkg_unhex(v[3].s, v[3].n, seed, 32)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: not an ed25519 secret key", path);
		goto done;
	}
	crypto_sign_seed_keypair(pk, sk, seed);
	key_id_of(pk, id);
	if (!slice_is(v[2], id)) {
		rc = trmx_error_set(err, TRMX_EFORMAT, "%s: key-id does not match the key", path);
		goto done;
	}
done:
	sodium_memzero(seed, sizeof seed);
	if (text) {
		sodium_memzero(text, len);
		free(text);
	}
	return rc;
}

/* ---- Signatures -------------------------------------------------------------------------- */

const char *trmx_signature_status_name(trmx_signature_status s)
{
	switch (s) {
	case TRMX_SIGNATURE_NONE: return "none";
	case TRMX_SIGNATURE_TRUSTED: return "trusted";
	case TRMX_SIGNATURE_UNTRUSTED: return "untrusted";
	case TRMX_SIGNATURE_INVALID: return "invalid";
	}
	return "?";
}

int trmx__pkg_signature_make(const char *secret_key_path, const char *manifest, size_t mlen, char **out, size_t *outlen,
			     char key_id[TRMX_KEY_ID_SIZE], trmx_error *err)
{
	unsigned char sk[crypto_sign_SECRETKEYBYTES], sig[crypto_sign_BYTES];
	char id[TRMX_KEY_ID_SIZE], pkhex[65], sighex[129], *text = NULL;
	int rc;
	if (sodium_init() < 0)
		return trmx_error_set(err, TRMX_ERROR, "libsodium cannot start");
	if ((rc = secret_key_load(secret_key_path, sk, id, err)) < 0)
		goto done;
	crypto_sign_detached(sig, NULL, (const unsigned char *)manifest, mlen, sk);
	trmx__pkg_hex(sk + 32, 32, pkhex); /* libsodium's secret key is seed || public key */
	trmx__pkg_hex(sig, sizeof sig, sighex);
	if (!(text = trmx_xmalloc(512))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	snprintf(text, 512, "format: %s\nalgorithm: ed25519\nkey-id: %s\npublic-key: %s\nsignature: %s\n",
		 SIG_FORMAT, id, pkhex, sighex);
	*out = text;
	*outlen = strlen(text);
	if (key_id)
		memcpy(key_id, id, sizeof id);
done:
	sodium_memzero(sk, sizeof sk);
	return rc;
}

static void pkg_signature_judge(const char *sig, size_t siglen, const char *manifest, size_t mlen,
				const struct pkg_trusted *trusted, trmx_signature_info *info)
{
	static const char *const keys[] = { "format", "algorithm", "key-id", "public-key", "signature" };
	unsigned char pk[32], s[crypto_sign_BYTES];
	char id[TRMX_KEY_ID_SIZE];
	struct slice v[5];
	trmx_error e2 = { 0 };

	memset(info, 0, sizeof *info);
	if (!sig) {
		info->status = TRMX_SIGNATURE_NONE;
		return;
	}
	info->status = TRMX_SIGNATURE_INVALID;
	if (parse_lines(sig, siglen, PKG_SIGNATURE, keys, 5, v, &e2) < 0) {
		snprintf(info->message, sizeof info->message, "malformed: %.400s", e2.message);
		return;
	}
	if (!slice_is(v[0], SIG_FORMAT) || !slice_is(v[1], "ed25519") || !trmx__pkg_unhex(v[3].s, v[3].n, pk, 32) ||
	    !trmx__pkg_unhex(v[4].s, v[4].n, s, sizeof s)) {
		snprintf(info->message, sizeof info->message,
			 "malformed: expected format %s, algorithm ed25519, a 64-digit public key and a "
			 "128-digit signature", SIG_FORMAT);
		return;
	}
	key_id_of(pk, id);
	memcpy(info->key_id, id, sizeof id);
	if (!slice_is(v[2], id)) {
		snprintf(info->message, sizeof info->message, "key-id does not match its public key (%s)", id);
		return;
	}
	if (sodium_init() < 0 ||
	    crypto_sign_verify_detached(s, (const unsigned char *)manifest, mlen, pk) != 0) {
		snprintf(info->message, sizeof info->message,
			 "the signature by key %s does not match manifest.yaml (the manifest was changed "
			 "after signing, or the signature is damaged)", id);
		return;
	}
	for (size_t i = 0; trusted && i < trusted->n; i++) {
		if (!memcmp(trusted->keys[i].key, pk, 32)) {
			info->status = TRMX_SIGNATURE_TRUSTED;
			snprintf(info->comment, sizeof info->comment, "%s", trusted->keys[i].comment);
			return;
		}
	}
	info->status = TRMX_SIGNATURE_UNTRUSTED;
	snprintf(info->message, sizeof info->message,
		 "signed by key %s, which is not in the trust store", id);
}

int trmx_package_signature(const trmx_package *p, const char *home, const char *public_key_path,
			   trmx_signature_info *out, trmx_error *err)
{
	trmx_public_key *keys = NULL;
	size_t n = 0;
	int rc = 0;
	if (!p || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_signature: NULL argument");
	if (p->sig) {
		if (home && (rc = trmx_trust_list(home, &keys, &n, err)) < 0)
			return rc;
		if (public_key_path) {
			trmx_public_key *k = trmx_xrealloc(keys, (n + 1) * sizeof *k);
			if (!k) {
				free(keys);
				return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			}
			keys = k;
			if ((rc = trmx_public_key_load(&keys[n], public_key_path, err)) < 0) {
				free(keys);
				return rc;
			}
			n++;
		}
	}
	size_t mlen;
	const char *mtext = trmx_manifest_text(p->manifest, &mlen);
	struct pkg_trusted t = { keys, n };
	pkg_signature_judge(p->sig, p->siglen, mtext, mlen, &t, out);
	free(keys);
	return 0;
}

int trmx_package_sign(const char *in, const char *secret_key_path, const char *out,
		      char key_id[TRMX_KEY_ID_SIZE], trmx_error *err)
{
	trmx_package *p = NULL;
	struct pkg_writer *w = NULL;
	char *sig = NULL;
	size_t siglen = 0, mlen;
	int rc;
	if (!in || !secret_key_path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_package_sign: NULL argument");
	if ((rc = trmx_package_open(&p, in, NULL, err)) < 0 || (rc = trmx__pkg_check_members(p, err)) < 0)
		goto done;
	const char *mtext = trmx_manifest_text(p->manifest, &mlen);
	if ((rc = trmx__pkg_signature_make(secret_key_path, mtext, mlen, &sig, &siglen, key_id, err)) < 0)
		goto done;
	size_t first = p->nmembers > 1 && !strcmp(p->members[1].name, PKG_SIGNATURE) ? 2 : 1;
	if ((rc = trmx__pkg_writer_open(&w, out ? out : in, err)) < 0 ||
	    (rc = trmx__pkg_writer_add(w, PKG_MANIFEST, mtext, mlen, false, err)) < 0 ||
	    (rc = trmx__pkg_writer_add(w, PKG_SIGNATURE, sig, siglen, false, err)) < 0 ||
	    (rc = trmx__pkg_copy_members(p, first, w, err)) < 0 || (rc = trmx__pkg_writer_commit(w, err)) < 0)
		goto done;
done:
	trmx__pkg_writer_free(w);
	trmx_package_free(p);
	free(sig);
	return rc;
}

/* ---- Trust store ------------------------------------------------------------------------- */

static char *join_path(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + (c ? strlen(c) : 0) + 3;
	char *r = trmx_xmalloc(n);
	if (r)
		snprintf(r, n, "%s/%s%s%s", a, b, c ? "/" : "", c ? c : "");
	return r;
}

int trmx_trust_add(const char *home, const char *pub_path, char key_id[TRMX_KEY_ID_SIZE],
		   trmx_error *err)
{
	trmx_public_key k;
	char text[1024], name[TRMX_KEY_ID_SIZE + 8], *dir = NULL, *path = NULL;
	int rc;
	if (!home || !pub_path)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trust_add: NULL argument");
	if ((rc = trmx_public_key_load(&k, pub_path, err)) < 0)
		return rc;
	snprintf(name, sizeof name, "%s.pub", k.key_id);
	if (!(dir = join_path(home, "trust", NULL)) || !(path = join_path(home, "trust", name))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	format_public_key(&k, text, sizeof text);
	if ((rc = make_dirs(dir, err)) < 0 ||
	    (rc = trmx_write_file_atomic(path, text, strlen(text), err)) < 0)
		goto done;
	if (key_id)
		memcpy(key_id, k.key_id, TRMX_KEY_ID_SIZE);
done:
	free(dir);
	free(path);
	return rc;
}

int trmx_trust_remove(const char *home, const char *key_id, trmx_error *err)
{
	char name[TRMX_KEY_ID_SIZE + 8], *path;
	if (!home || !key_id)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trust_remove: NULL argument");
	if (!valid_key_id(key_id))
		return trmx_error_set(err, TRMX_EINVAL, "'%.40s' is not a key id (16 lowercase hex digits)",
				      key_id);
	snprintf(name, sizeof name, "%s.pub", key_id);
	if (!(path = join_path(home, "trust", name)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	int rc = 0;
	if (unlink(path) != 0)
		rc = trmx_error_set(err, errno == ENOENT ? TRMX_ENOTFOUND : TRMX_EIO,
				    "key %s: %s", key_id, errno == ENOENT ? "not in the trust store"
									  : strerror(errno));
	free(path);
	return rc;
}

static int cmp_keys(const void *a, const void *b)
{
	return strcmp(((const trmx_public_key *)a)->key_id, ((const trmx_public_key *)b)->key_id);
}

int trmx_trust_list(const char *home, trmx_public_key **out, size_t *count, trmx_error *err)
{
	trmx_public_key *keys = NULL;
	size_t n = 0;
	char *dir = NULL;
	DIR *dh = NULL;
	struct dirent *e;
	int rc = 0;
	if (!home || !out || !count)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_trust_list: NULL argument");
	if (!(dir = join_path(home, "trust", NULL)) || !(keys = trmx_xcalloc(1, sizeof *keys))) {
		rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
		goto done;
	}
	if (!(dh = opendir(dir))) {
		if (errno != ENOENT)
			rc = trmx_error_set(err, TRMX_EIO, "%s: %s", dir, strerror(errno));
		goto finish;
	}
	while ((e = readdir(dh))) {
		size_t len = strlen(e->d_name);
		if (e->d_name[0] == '.')
			continue;
		char id[TRMX_KEY_ID_SIZE];
		if (len != 20 || strcmp(e->d_name + 16, ".pub")) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s/%s: not a trust store entry (<key-id>.pub)",
					    dir, e->d_name);
			goto done;
		}
		memcpy(id, e->d_name, 16);
		id[16] = '\0';
		if (n >= TRMX_TRUST_KEYS_MAX) {
			rc = trmx_error_set(err, TRMX_ELIMIT, "%s: more than TRMX_TRUST_KEYS_MAX (%d) keys", dir,
					    TRMX_TRUST_KEYS_MAX);
			goto done;
		}
		trmx_public_key *k = trmx_xrealloc(keys, (n + 1) * sizeof *k);
		char *path = join_path(dir, e->d_name, NULL);
		if (!k || !path) {
			if (k)
				keys = k;
			free(path);
			rc = trmx_error_set(err, TRMX_ENOMEM, "out of memory");
			goto done;
		}
		keys = k;
		rc = trmx_public_key_load(&keys[n], path, err);
		free(path);
		if (rc < 0)
			goto done;
		if (strcmp(keys[n].key_id, id)) {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s/%s: holds key %s", dir, e->d_name,
					    keys[n].key_id);
			goto done;
		}
		n++;
	}
finish:
	if (rc == 0) {
		qsort(keys, n, sizeof *keys, cmp_keys);
		*out = keys;
		*count = n;
		keys = NULL;
	}
done:
	if (dh)
		closedir(dh);
	free(keys);
	free(dir);
	return rc;
}

/* ---- Policy ------------------------------------------------------------------------------ */

int trmx_policy_load(const char *home, trmx_policy *out, trmx_error *err)
{
	trmx_policy pol = TRMX_POLICY_INIT;
	trmx_config *c = NULL;
	char *path;
	int rc = 0;
	if (!home || !out)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_policy_load: NULL argument");
	if (!(path = join_path(home, "policy.yaml", NULL)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	if (access(path, F_OK) != 0 && errno == ENOENT)
		goto finish;
	if ((rc = trmx_config_load_yaml(&c, path, err)) < 0)
		goto done;
	for (size_t i = 0; i < trmx_config_count(c); i++) {
		const char *k, *v;
		trmx_config_at(c, i, &k, &v);
		if (!strcmp(k, "require_signature")) {
			if (!trmx_parse_bool(v, &pol.require_signature)) {
				rc = trmx_error_set(err, TRMX_EFORMAT, "%s: require_signature is true or false, not '%.40s'",
						    path, v);
				goto done;
			}
		} else {
			rc = trmx_error_set(err, TRMX_EFORMAT, "%s: unknown key '%.80s' (known: require_signature)",
					    path, k);
			goto done;
		}
	}
finish:
	*out = pol;
done:
	trmx_config_free(c);
	free(path);
	return rc;
}

int trmx_policy_save(const char *home, const trmx_policy *policy, trmx_error *err)
{
	char text[256], *path;
	int rc;
	if (!home || !policy)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_policy_save: NULL argument");
	if ((rc = make_dirs(home, err)) < 0)
		return rc;
	if (!(path = join_path(home, "policy.yaml", NULL)))
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	snprintf(text, sizeof text,
		 "# trmx policy (docs/FORMAT.md, \"Trust store and policy\")\nrequire_signature: %s\n",
		 policy->require_signature ? "true" : "false");
	rc = trmx_write_file_atomic(path, text, strlen(text), err);
	free(path);
	return rc;
}
