/*
 * fuzz_index.c — libFuzzer target for the module index reader (registry/index.c): the input is
 * the bytes of an index.json, parsed on its own (every accessor, then written back with
 * trmx_index_format, which must parse again to the same packages: a trap otherwise), and, when
 * it holds a line "--sig--", an index.json.sig (before it) and an index.json (after it) judged
 * by trmx_index_open against a fixed key. Run with `make fuzz FUZZ_TARGETS=index`
 * (docs/SECURITY.md has the figures).
 */
#define _GNU_SOURCE /* memmem */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "trmx/index.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void exercise(const trmx_index *idx)
{
	volatile size_t sink = 0;
	sink += (size_t)trmx_index_version(idx) + (size_t)trmx_index_expires(idx) + strlen(trmx_index_signer(idx));
	for (size_t i = 0; i < trmx_index_count(idx); i++) {
		const trmx_index_entry *e = trmx_index_at(idx, i);
		sink += strlen(e->name) + strlen(e->version) + strlen(e->digest) + (size_t)e->size + strlen(e->description) +
			strlen(e->task) + strlen(e->task_params) + strlen(e->engine) + strlen(e->signer);
		for (size_t k = 0; k < e->nmetrics; k++)
			sink += strlen(e->metrics[k].set) + (e->metrics[k].exact_accuracy > 0.5);
		sink += trmx_index_lookup(idx, e->name, NULL) != NULL;
		sink += trmx_index_lookup(idx, e->name, e->version) == e;
	}
	sink += trmx_index_lookup(idx, "sudoku4", "1.0.0") != NULL;
	(void)sink;
}

static void roundtrip(const trmx_index *idx)
{
	char *text = NULL;
	size_t len = 0;
	trmx_error err;
	trmx_index *again = NULL;
	if (trmx_index_format(idx, &text, &len, &err) < 0)
		return; /* out of memory only */
	if (trmx_index_parse(&again, text, len, "formatted", &err) < 0 || trmx_index_count(again) != trmx_index_count(idx) ||
	    trmx_index_version(again) != trmx_index_version(idx) || trmx_index_expires(again) != trmx_index_expires(idx))
		__builtin_trap(); /* what trmx writes, trmx must read back */
	for (size_t i = 0; i < trmx_index_count(idx); i++) {
		const trmx_index_entry *a = trmx_index_at(idx, i), *b = trmx_index_at(again, i);
		if (strcmp(a->name, b->name) || strcmp(a->version, b->version) || strcmp(a->digest, b->digest) ||
		    a->size != b->size || a->nmetrics != b->nmetrics)
			__builtin_trap();
	}
	trmx_index_free(again);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	trmx_index *idx = NULL;
	trmx_error err;
	if (trmx_index_parse(&idx, (const char *)data, size, "fuzz", &err) == 0) {
		exercise(idx);
		roundtrip(idx);
		trmx_index_free(idx);
	}
	static const char sep[] = "--sig--\n";
	const uint8_t *cut = size >= sizeof sep - 1 ? memmem(data, size, sep, sizeof sep - 1) : NULL;
	if (cut) {
		/* The key of tests/fuzz/corpus/index/signed.txt's signature. */
		static const trmx_public_key key = {
			"ba18059ff9425f56",
			{ 0xa6, 0xf4, 0x98, 0x8e, 0x69, 0x6a, 0xf6, 0x79, 0x40, 0x2a, 0x4c, 0x1f, 0x45, 0x6b, 0xd6, 0xc6,
			  0x99, 0x69, 0x33, 0xf2, 0x68, 0x5b, 0xdb, 0x34, 0xb5, 0x57, 0xa7, 0xed, 0xe3, 0xa8, 0x14, 0x1d },
			"fuzz"
		};
		size_t slen = (size_t)(cut - data), off = slen + sizeof sep - 1;
		idx = NULL;
		if (trmx_index_open(&idx, (const char *)data + off, size - off, (const char *)data, slen, &key, 1700000000,
				    size > 0 ? data[0] % 4 : 0, NULL, &err) == 0) {
			exercise(idx);
			trmx_index_free(idx);
		}
	}
	return 0;
}
