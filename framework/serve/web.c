/* web.c — the learner's page, the console and the report view (in progress). */
#include "serve/api.h"

int web_handle(struct serve_call *call)
{
	snprintf(call->why, sizeof call->why, "no page %s", call->url);
	return 404;
}

char *web_learn_page(trmx_server *s, const char *context, const char *session, size_t *len)
{
	return NULL;
}
