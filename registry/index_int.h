/*
 * index_int.h — inside the module index code: the index handle (index.c) and what index_fetch.c
 * shares with it. Not installed.
 */
#ifndef TRMX_INDEX_INT_H
#define TRMX_INDEX_INT_H

#include <jansson.h>

#include "trmx/index.h"

struct trmx_index {
	json_t *root;                /* the parsed index.json; the entries point into its strings */
	int64_t version, expires;
	size_t n, cap;
	trmx_index_entry *entries;   /* sorted by name, then SemVer */
	trmx_index_metric **metrics; /* cap arrays, one per parsed entry (the entries point to them) */
	trmx_index_source src;       /* where it came from (index_fetch.c); key_id "" when only parsed */
};

/* "YYYY-MM-DDTHH:MM:SSZ" <-> seconds since 1970; parse returns -1 for anything else. */
int index_time_parse(const char *s, int64_t *out);
void index_time_format(int64_t t, char out[32]);
/* Parse an index.json.sig (the trmx-signature-1 lines) into its key, signature and key id. */
int index_sig_parse(const char *sig, size_t siglen, unsigned char pk[32], unsigned char s[64],
		    char key_id[TRMX_KEY_ID_SIZE], trmx_error *err);
/* "a/b", malloc'd. */
char *index_join(const char *a, const char *b);

#endif
