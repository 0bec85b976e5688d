/*
 * trmx/lti.h — the LTI 1.3 platforms (Moodle, Canvas, Open edX, ...) that may launch `trmx serve`
 * as a tool, and the tool's own RSA key (docs/LMS.md). The server reads both when it starts; this
 * header is what `trmx lti` uses to change them.
 *
 *     trmx_lti_platform p = { 0 };
 *     const char *deps[] = { "1" };
 *     p.issuer = "https://moodle.example.org";
 *     p.client_id = "pRq7VbFhzmT4Q2A";
 *     p.deployments = deps, p.ndeployments = 1;
 *     p.jwks_url = "https://moodle.example.org/mod/lti/certs.php";
 *     p.auth_url = "https://moodle.example.org/mod/lti/auth.php";
 *     p.token_url = "https://moodle.example.org/mod/lti/token.php";
 *     trmx_lti_platform_add(home, &p, &err);           // HOME/lti/platforms.json
 *     char *jwks = NULL;
 *     trmx_lti_tool_jwks(home, &jwks, &err);           // makes HOME/lti/tool-key.pem once
 *
 * The platforms file (version 1):
 *     {"version": 1, "platforms": [{"issuer": URL, "client_id": ID, "deployments": [ID, ...],
 *      "jwks_url": URL, "auth_url": URL, "token_url": URL, "name": TEXT or null, "added": <Unix ms>}]}
 * A platform is one (issuer, client_id) pair; URLs are http:// or https:// with a host. Changes
 * hold an exclusive flock on PLATFORMS.lock and write the file atomically, like the tokens file.
 *
 * The tool key is an RSA-2048 private key in PKCS#8 PEM, mode 0600 (a key its group or others
 * may read is refused); its "kid" is the key's RFC 7638 JWK thumbprint.
 */
#ifndef TRMX_LTI_H
#define TRMX_LTI_H

#include <stddef.h>
#include <stdint.h>

#include "trmx/trmx.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What is declared from here to the pop is libtrmx.so's API; the rest of the library is
 * built with -fvisibility=hidden (types.h). */
#pragma GCC visibility push(default)

/* Inside TRMX_HOME. */
#define TRMX_LTI_PLATFORMS_FILE "lti/platforms.json"
#define TRMX_LTI_KEY_FILE "lti/tool-key.pem"
/* Limits (docs/LMS.md): the platforms file's bytes, platforms in it, deployments of one platform,
 * bytes of an issuer, client id, deployment id or name, and of a URL. */
#define TRMX_LTI_FILE_MAX (4u * 1024u * 1024u)
#define TRMX_LTI_PLATFORMS_MAX 256
#define TRMX_LTI_DEPLOYMENTS_MAX 64
#define TRMX_LTI_ID_MAX 255
#define TRMX_LTI_URL_MAX 2048

typedef struct trmx_lti_platform {
	const char *issuer;                 /* the platform's "iss" (Moodle: the site's URL) */
	const char *client_id;              /* the tool's client id at the platform ("aud") */
	const char *const *deployments;     /* the deployment ids it may launch with */
	size_t ndeployments;                /* 1 to TRMX_LTI_DEPLOYMENTS_MAX */
	const char *jwks_url;               /* the platform's public keys */
	const char *auth_url;               /* its OIDC authorization endpoint */
	const char *token_url;              /* its OAuth2 token endpoint (grade passback) */
	const char *name;                   /* a label for people; NULL: none */
	int64_t added;                      /* Unix ms; set by trmx_lti_platform_add */
} trmx_lti_platform;

typedef struct trmx_lti_platforms trmx_lti_platforms;

/* Read HOME's platforms (an empty list when there is no file). Errors: TRMX_EIO, TRMX_EFORMAT
 * (with the file and the entry), TRMX_ELIMIT, TRMX_EVERSION, TRMX_ENOMEM. */
int trmx_lti_platforms_load(trmx_lti_platforms **out, const char *home, trmx_error *err);
size_t trmx_lti_platforms_count(const trmx_lti_platforms *p);
/* Entry i (borrowed, lives as long as the list), or NULL past the end. */
const trmx_lti_platform *trmx_lti_platforms_entry(const trmx_lti_platforms *p, size_t i);
/* The file the list came from (borrowed). */
const char *trmx_lti_platforms_path(const trmx_lti_platforms *p);
void trmx_lti_platforms_free(trmx_lti_platforms *p);

/* Register a platform (and make the tool key when there is none yet, since the platform will
 * ask for it). Errors: TRMX_EINVAL (a field missing or malformed, with which; the same issuer
 * and client id registered already), TRMX_ELIMIT, and those of reading and writing the file. */
int trmx_lti_platform_add(const char *home, const trmx_lti_platform *p, trmx_error *err);
/* Remove the platforms of `issuer` (with `client_id` only that one; NULL: every client id);
 * *removed (may be NULL) gets how many. Errors: TRMX_ENOTFOUND when none matches. */
int trmx_lti_platform_remove(const char *home, const char *issuer, const char *client_id, size_t *removed,
			     trmx_error *err);
/* The tool's public keys as a JWKS document ({"keys": [...]}, malloc'd, free()), making the key
 * on first need. Errors: TRMX_EIO, TRMX_ERROR (a key file open to others, not RSA-2048). */
int trmx_lti_tool_jwks(const char *home, char **out, trmx_error *err);

#pragma GCC visibility pop

#ifdef __cplusplus
}
#endif

#endif
