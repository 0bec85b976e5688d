/*
 * web_assets.h — the files of web/ embedded in the library: BUILD/gen/web_assets.c, made by
 * tools/embed_web.py at build time (the Makefile's rule), read by web.c.
 */
#ifndef TRMX_SERVE_WEB_ASSETS_H
#define TRMX_SERVE_WEB_ASSETS_H

#include <stddef.h>

struct web_asset {
	const char *name;          /* "learn.js": served as /assets/learn.js */
	const char *type;          /* its Content-Type */
	const unsigned char *data; /* [len], followed by a NUL */
	size_t len;
	const char *etag;          /* a strong ETag, quoted: the start of its SHA-256 */
};

extern const struct web_asset trmx__web_assets[];
extern const size_t trmx__web_assets_count;

#endif
