/*
 * session.c — the sessions of trmx serve: bearer tokens a launch hands to the learner's page,
 * each bound to one context and one learner until it expires. Kept in memory under their own
 * lock, keyed by the BLAKE2b-256 of the token (the token itself is never stored).
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "serve/serve_int.h"

#define BUCKETS 4096

struct session {
	struct session *next;
	unsigned char key[32];       /* BLAKE2b-256 of the token */
	double expires;              /* trmx_mono_s() */
	struct session_info info;
};

struct sessions {
	pthread_mutex_t mu;
	struct session *bucket[BUCKETS];
	size_t n;
};

static void hash_token(const char *token, size_t len, unsigned char key[32])
{
	crypto_generichash(key, 32, (const unsigned char *)token, len, NULL, 0);
}

static size_t bucket_of(const unsigned char key[32])
{
	return ((size_t)key[0] | (size_t)key[1] << 8) % BUCKETS;
}

int trmx__sessions_init(trmx_server *s)
{
	if (!(s->sessions = calloc(1, sizeof *s->sessions)))
		return TRMX_ENOMEM;
	pthread_mutex_init(&s->sessions->mu, NULL);
	return 0;
}

static void session_free(struct session *x)
{
	json_decref(x->info.lti);
	free(x);
}

void trmx__sessions_free(trmx_server *s)
{
	if (!s->sessions)
		return;
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct session *x = s->sessions->bucket[b], *nx; x; x = nx) {
			nx = x->next;
			session_free(x);
		}
	pthread_mutex_destroy(&s->sessions->mu);
	free(s->sessions);
	s->sessions = NULL;
}

/* Drop expired sessions (under the lock). */
static void sweep(struct sessions *ss, double now)
{
	for (size_t b = 0; b < BUCKETS; b++)
		for (struct session **p = &ss->bucket[b]; *p;) {
			struct session *x = *p;
			if (x->expires <= now) {
				*p = x->next;
				session_free(x);
				ss->n--;
			} else {
				p = &x->next;
			}
		}
}

int trmx__session_new(trmx_server *s, const char *context, const char *learner, json_t *lti,
		      char token[SESSION_TOKEN_MAX + 1], trmx_error *err)
{
	if (strlen(context) > TRMX_CONTEXT_NAME_MAX || strlen(learner) > TRMX_SERVE_LEARNER_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "a session's context or learner is too long");
	struct session *x = calloc(1, sizeof *x);
	if (!x)
		return trmx_error_set(err, TRMX_ENOMEM, "out of memory");
	unsigned char rnd[32];
	randombytes_buf(rnd, sizeof rnd);
	size_t pl = strlen(SESSION_PREFIX);
	memcpy(token, SESSION_PREFIX, pl);
	sodium_bin2base64(token + pl, SESSION_TOKEN_MAX + 1 - pl, rnd, sizeof rnd, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	hash_token(token, strlen(token), x->key);
	snprintf(x->info.context, sizeof x->info.context, "%s", context);
	snprintf(x->info.learner, sizeof x->info.learner, "%s", learner);
	x->info.lti = json_incref(lti);
	double now = trmx_mono_s();
	x->expires = now + SESSION_TTL_S;
	struct sessions *ss = s->sessions;
	pthread_mutex_lock(&ss->mu);
	if (ss->n >= SESSIONS_MAX)
		sweep(ss, now);
	if (ss->n >= SESSIONS_MAX) {
		pthread_mutex_unlock(&ss->mu);
		session_free(x);
		return trmx_error_set(err, TRMX_ELIMIT, "%d sessions are live: try again later", SESSIONS_MAX);
	}
	size_t b = bucket_of(x->key);
	x->next = ss->bucket[b];
	ss->bucket[b] = x;
	ss->n++;
	pthread_mutex_unlock(&ss->mu);
	sodium_memzero(rnd, sizeof rnd);
	return 0;
}

int trmx__session_find(trmx_server *s, const char *token, size_t len, struct session_info *out)
{
	unsigned char key[32];
	hash_token(token, len, key);
	struct sessions *ss = s->sessions;
	int rc = -1;
	double now = trmx_mono_s();
	pthread_mutex_lock(&ss->mu);
	for (struct session *x = ss->bucket[bucket_of(key)]; x; x = x->next)
		if (!sodium_memcmp(x->key, key, sizeof key) && x->expires > now) {
			*out = x->info;
			out->lti = json_incref(x->info.lti);
			rc = 0;
			break;
		}
	pthread_mutex_unlock(&ss->mu);
	return rc;
}

void trmx__session_info_clear(struct session_info *i)
{
	json_decref(i->lti);
	i->lti = NULL;
}
