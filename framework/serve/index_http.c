/* index_http.c — a module index served read-only at /index/ (in progress). */
#include "serve/api.h"

int index_handle(struct serve_call *call)
{
	snprintf(call->why, sizeof call->why, "no module index is served here (trmx serve --index DIR)");
	return 404;
}
