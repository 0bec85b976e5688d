/*
 * package_int.h — the packages layer's shared header: member names, SHA-256 and hex (hash.c), the
 * manifest's field syntaxes (syntax.c), used by the manifest reader (manifest.c), the packager
 * and the registry above them. Not installed.
 */
#ifndef TRMX_PACKAGE_INT_H
#define TRMX_PACKAGE_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>

#include "core/core_int.h"
#include "trmx/package.h"

/* Member names with a fixed meaning. */
#define PKG_MANIFEST "manifest.yaml"
#define PKG_SIGNATURE "manifest.sig"
#define PKG_WEIGHTS "weights.safetensors"
#define PKG_SCHEMA "schema.sql"
#define PKG_README "README.md"

/* Streaming SHA-256 (libsodium). */
typedef struct pkg_sha256 {
	crypto_hash_sha256_state state;
} pkg_sha256;
void trmx__pkg_sha256_init(pkg_sha256 *h);
void trmx__pkg_sha256_update(pkg_sha256 *h, const void *data, size_t len);
void trmx__pkg_sha256_final_hex(pkg_sha256 *h, char out[TRMX_SHA256_HEX_SIZE]);
/* Lowercase hex of `len` bytes into out (2 len + 1 bytes). */
void trmx__pkg_hex(const unsigned char *bin, size_t len, char *out);
/* Parse exactly 2 len lowercase hex digits; false otherwise. */
bool trmx__pkg_unhex(const char *hex, size_t hexlen, unsigned char *bin, size_t len);
/* Is `s` (n bytes) 64 lowercase hex digits? */
bool trmx__pkg_is_sha256_hex(const char *s, size_t n);

/* Does `s` (n bytes) hold a control character (C0, DEL, C1)? Assumes valid UTF-8. */
bool trmx__pkg_has_control(const char *s, size_t n);

/* Message of `err` or a fallback, for re-prefixing. */
static inline const char *pkg_msg(const trmx_error *err)
{
	return err && err->message[0] ? err->message : "failure";
}

/* ---- The syntaxes of manifest fields (syntax.c) ------------------------------------------------ */

/* A module name: [a-z0-9] with single inner '-', at most TRMX_MANIFEST_NAME_MAX bytes. */
bool trmx_syntax_name(const char *s, size_t n);
/* An identifier ([A-Za-z_][A-Za-z0-9_]*) and a metric set's name. */
bool trmx_syntax_ident(const char *s, size_t n);
bool trmx_syntax_setname(const char *s, size_t n);
/* An SPDX license expression (ids, WITH, AND, OR, parentheses; ids not checked against the list). */
bool trmx_syntax_spdx(const char *s, size_t n);
/* An http:// or https:// URL without spaces or control characters. */
bool trmx_syntax_url(const char *s, size_t n);
/* A version range (">=1 <2": comparators >= <= > < = and a number, split by spaces). */
#define TRMX_RANGE_TERMS_MAX 8
typedef struct trmx_range_term {
	char op; /* 'g' >=, 'G' >, 'l' <=, 'L' <, '=' */
	unsigned long v;
} trmx_range_term;
int trmx_syntax_range_parse(const char *s, trmx_range_term *t, size_t *nt);
bool trmx_syntax_range_accepts(const char *s, unsigned long v);

#endif
