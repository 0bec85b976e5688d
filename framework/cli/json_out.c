/*
 * json_out.c — `--json` output shared by the commands (docs/CLI-JSON.md): one compact object per
 * command result on one line of standard output, and a failure as {"error": {"code", "message"}}
 * on standard output too (the message also goes to standard error, and the exit code is the one
 * the command has without --json).
 */
#include <jansson.h>
#include <stdio.h>

#include "cli/cli.h"

bool cli_json_errors = false;

const char *cli_error_code(int code)
{
	switch (code) {
	case TRMX_ENOMEM: return "ENOMEM";
	case TRMX_EINVAL: return "EINVAL";
	case TRMX_ENOTFOUND: return "ENOTFOUND";
	case TRMX_EFORMAT: return "EFORMAT";
	case TRMX_EVERSION: return "EVERSION";
	case TRMX_ESHAPE: return "ESHAPE";
	case TRMX_EDTYPE: return "EDTYPE";
	case TRMX_EINTEGRITY: return "EINTEGRITY";
	case TRMX_ELIMIT: return "ELIMIT";
	case TRMX_EIO: return "EIO";
	case TRMX_ECANCELLED: return "ECANCELLED";
	case TRMX_EEXIST: return "EEXIST";
	default: return "ERROR";
	}
}

json_t *cli_json_error_object(const char *code, const char *message)
{
	return json_pack("{s:{s:s,s:s}}", "error", "code", code, "message", message ? message : "");
}

void cli_json_error(const char *code, const char *message)
{
	if (cli_json_errors)
		cli_json_print(cli_json_error_object(code, message));
}

int cli_json_print(json_t *o)
{
	if (!o)
		return cli_failf("out of memory");
	int w = json_dumpf(o, stdout, JSON_COMPACT | JSON_REAL_PRECISION(8));
	json_decref(o);
	if (w < 0 || fputc('\n', stdout) == EOF || fflush(stdout) != 0)
		return cli_failf("cannot write JSON to standard output");
	return CLI_OK;
}
