/*
 * pkg_int.h — the packager's private parts: the zip central-directory scanner (zip.c), member
 * streams over libarchive (stream.c), the package handle (package.c), the deterministic zip
 * writer (writer.c). Not installed.
 */
#ifndef TRMX_PKG_INT_H
#define TRMX_PKG_INT_H

#include <locale.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "package_int.h"

/* Bytes moved per read or write while streaming a member. */
#define PKG_BLOCK (64u * 1024u)

/* ---- zip.c: our own bounded reading of the archive's structure ---------------------------- */

/* One member as the central directory and its local header describe it. */
struct zip_member {
	char *name;
	size_t name_len;
	uint64_t local_offset; /* of the local header */
	uint64_t data_offset;  /* of the (compressed) data */
	uint64_t csize, usize;
	uint32_t crc;
	uint16_t method;       /* 0 stored, 8 deflate */
	uint16_t flags;
};

struct zip_limits {
	uint32_t max_entries;
	uint64_t max_unpacked;
};

/* Read the end-of-central-directory record (zip64 too), the central directory and every local
 * header of the zip file open on `fd`, and validate the layout: no comment or data around the
 * members, members in order without overlap or gaps, no encryption, stored or deflate only,
 * regular files only (no folders, links, devices, FIFOs or sockets), names valid
 * (trmx_package_name_check), unique (also ignoring ASCII case) and not both a file and a folder,
 * and every limit. `path` names the file in messages. */
int trmx__zip_scan(int fd, uint64_t file_size, const char *path, const struct zip_limits *lim, struct zip_member **out,
		   size_t *count, trmx_error *err);
void trmx__zip_members_free(struct zip_member *m, size_t n);

/* ---- stream.c: member data through libarchive --------------------------------------------- */

/* A pass over the members with libarchive's seekable zip reader, checked against the scan:
 * each header must name the member the scan expects next with its size, and the data is cut at
 * the declared size. */
struct pkg_stream;
int trmx__pkg_stream_open(struct pkg_stream **out, int fd, const char *path, const struct zip_member *members, size_t n,
			  trmx_error *err);
/* Advance to member `index` (skipping those before it); TRMX_EFORMAT when the headers disagree
 * with the scan. */
int trmx__pkg_stream_seek(struct pkg_stream *s, size_t index, trmx_error *err);
/* Read up to `cap` bytes of the current member into buf; *got 0 at its end. More data than
 * declared, or damaged data, is TRMX_EINTEGRITY. */
int trmx__pkg_stream_read(struct pkg_stream *s, void *buf, size_t cap, size_t *got, trmx_error *err);
void trmx__pkg_stream_free(struct pkg_stream *s);
/* Did libarchive fail so that no further member can be read? */
bool trmx__pkg_stream_failed(const struct pkg_stream *s);

/* Read member `index` whole (at most `max` bytes; TRMX_ELIMIT naming `what` past it). */
int trmx__pkg_stream_read_member(struct pkg_stream *s, size_t index, size_t max, const char *what, char **out, size_t *len,
				 trmx_error *err);

/* libarchive converts names with the thread's locale: run its calls under C.UTF-8 (so that
 * UTF-8 names convert the same on every machine), restoring the caller's locale after. */
typedef struct pkg_locale {
	locale_t old, utf8;
} pkg_locale;
void trmx__pkg_locale_enter(pkg_locale *l);
void trmx__pkg_locale_leave(pkg_locale *l);

/* ---- package.c ---------------------------------------------------------------------------- */

struct trmx_package {
	char *path;
	int fd;                    /* kept open: the file cannot be swapped under the handle */
	uint64_t file_size, unpacked;
	struct zip_member *members;
	size_t nmembers;
	trmx_package_entry *entries;
	trmx_manifest *manifest;
	char *sig;                 /* manifest.sig bytes, or NULL */
	size_t siglen;
};

/* Stream every member and check its size and SHA-256 against the manifest; the first problem. */
int trmx__pkg_check_members(const trmx_package *p, trmx_error *err);
/* Copy members first.. into `w` in one pass, checking each size and SHA-256 on the way. */
struct pkg_writer;
int trmx__pkg_copy_members(const trmx_package *p, size_t first, struct pkg_writer *w, trmx_error *err);

/* ---- sign.c ------------------------------------------------------------------------------- */

/* The signature in `sig` over `manifest`: fills `info` (status TRUSTED when the key is `trusted`
 * or in `store`, else UNTRUSTED; INVALID with the reason). */
struct pkg_trusted {
	const trmx_public_key *keys;
	size_t n;
};
/* Make the text of manifest.sig for `manifest` with the secret key file. */
int trmx__pkg_signature_make(const char *secret_key_path, const char *manifest, size_t mlen, char **out, size_t *outlen,
			     char key_id[TRMX_KEY_ID_SIZE], trmx_error *err);

/* ---- writer.c: deterministic zip output --------------------------------------------------- */

struct pkg_writer;
/* Write into a temporary file beside `path`; trmx__pkg_writer_commit renames it into place. */
int trmx__pkg_writer_open(struct pkg_writer **out, const char *path, trmx_error *err);
/* Start a member of `size` bytes (stored when `store`, else deflated). */
int trmx__pkg_writer_begin(struct pkg_writer *w, const char *name, uint64_t size, bool store, trmx_error *err);
int trmx__pkg_writer_data(struct pkg_writer *w, const void *buf, size_t len, trmx_error *err);
/* A whole member from memory. */
int trmx__pkg_writer_add(struct pkg_writer *w, const char *name, const void *data, size_t len, bool store, trmx_error *err);
int trmx__pkg_writer_commit(struct pkg_writer *w, trmx_error *err);
/* Drop the temporary file (after commit: only frees). NULL is a no-op. */
void trmx__pkg_writer_free(struct pkg_writer *w);

/* The compression a member gets: stored for weights.safetensors, deflate for the rest. */
bool trmx__pkg_member_stored(const char *name);

#endif
