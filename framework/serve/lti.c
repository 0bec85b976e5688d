/* lti.c — trmx serve as an LTI 1.3 tool (in progress). */
#include "serve/api.h"

int lti_start(trmx_server *s, trmx_error *err)
{
	return 0;
}

void lti_stop(trmx_server *s)
{
}

int lti_handle(struct serve_call *call)
{
	snprintf(call->why, sizeof call->why, "LTI is not set up here (trmx lti add-platform)");
	return 404;
}

void lti_solved(trmx_server *s, const struct session_info *session, const trmx_dispatch_result *res)
{
}
