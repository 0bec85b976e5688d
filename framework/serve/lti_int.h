/*
 * lti_int.h — inside trmx serve's LTI 1.3 tool: the tool key, and JSON Web Tokens signed and
 * checked with OpenSSL (lti_store.c), used by the routes and the grade passback (lti.c).
 */
#ifndef TRMX_LTI_INT_H
#define TRMX_LTI_INT_H

#include <jansson.h>
#include <openssl/evp.h>
#include <stdbool.h>

#include "core/core_int.h"
#include "trmx/lti.h"

/* Bytes of an id_token or any JWT read (a JWT travels in a form field or a header). */
#define LTI_JWT_MAX (64 * 1024)

struct lti_key {
	EVP_PKEY *pkey;              /* the tool's RSA-2048 key pair */
	char kid[64];                /* its RFC 7638 thumbprint */
	json_t *jwks;                /* {"keys": [the public JWK]} */
};

/* Read HOME's tool key, making it first when `create` (else TRMX_ENOTFOUND when there is none). */
int trmx__lti_key_load(const char *home, bool create, struct lti_key *k, trmx_error *err);
void trmx__lti_key_clear(struct lti_key *k);

/* A compact JWS of `payload` signed RS256 with the tool key, its kid in the header (malloc'd), or
 * NULL (out of memory, a failed signature). */
char *trmx__lti_jwt_sign(const struct lti_key *k, json_t *payload);

/* A JWT as read (not yet trusted). */
struct lti_jwt {
	json_t *header, *payload;
	const char *kid;             /* the header's, or NULL */
	unsigned char *sig;
	size_t siglen;
	size_t signed_len;           /* the signing input: the text's first signed_len bytes */
	const char *text;            /* borrowed */
};

/* Split and decode a compact JWS; refuses any alg but RS256 (none, HS256 and the others).
 * 0, else -1 with the reason in why. */
int trmx__lti_jwt_parse(const char *text, size_t len, struct lti_jwt *out, char *why, size_t cap);
/* Check the signature with `jwk` (an RSA public JWK). 0, else -1 with the reason in why. */
int trmx__lti_jwt_verify(const struct lti_jwt *j, json_t *jwk, char *why, size_t cap);
void trmx__lti_jwt_clear(struct lti_jwt *j);

/* An http(s) URL with a host, as libcurl reads it: NULL when fine, else what is wrong ("is not an
 * http:// or https:// URL"). */
const char *trmx__lti_url_problem(const char *url);

#endif
