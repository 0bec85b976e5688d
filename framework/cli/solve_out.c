/*
 * solve_out.c — what `trmx run` and `trmx solve` print alike (cli.h): the colour mode of a
 * terminal, the names and words of why a row stopped, and the halt confidence.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

trmx_color cli_pick_color(const char *when)
{
	const char *ct = getenv("COLORTERM"), *term = getenv("TERM"), *no = getenv("NO_COLOR");
	if (!strcmp(when, "never"))
		return TRMX_COLOR_NONE;
	if (!strcmp(when, "auto") && (!isatty(STDOUT_FILENO) || (no && *no) || (term && !strcmp(term, "dumb"))))
		return TRMX_COLOR_NONE;
	return ct && (!strcmp(ct, "truecolor") || !strcmp(ct, "24bit")) ? TRMX_COLOR_TRUE : TRMX_COLOR_256;
}

const char *cli_halt_reason_name(trmx_halt_reason r)
{
	switch (r) {
	case TRMX_HALT_REASON_Q: return "q_head";
	case TRMX_HALT_REASON_BUDGET: return "budget";
	default: return "max_steps";
	}
}

const char *cli_halt_reason_text(trmx_halt_reason r)
{
	switch (r) {
	case TRMX_HALT_REASON_Q: return "the Q head said halt";
	case TRMX_HALT_REASON_BUDGET: return "stopped at --steps";
	default: return "ran every step";
	}
}

double cli_sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}
