/* xapi_fwd.c — forwarding xAPI statements to an LRS as they happen (in progress). */
#include "serve/api.h"

int xapi_start(trmx_server *s, trmx_error *err)
{
	if (s->opts.xapi_lrs)
		return trmx_error_set(err, TRMX_EINVAL, "--xapi-lrs is not built yet");
	return 0;
}

void xapi_stop(trmx_server *s)
{
}

void xapi_wake(trmx_server *s)
{
}
