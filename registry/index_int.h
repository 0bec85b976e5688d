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

/* "a/b", malloc'd. */
char *trmx__index_join(const char *a, const char *b);

#endif
