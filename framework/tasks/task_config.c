/*
 * task_config.c — open a codec with parameters held in a trmx_config (a manifest's task.params).
 * Kept apart from task.c so that programs using only string parameters do not pull in the
 * config reader.
 */
#include "tasks/tasks_int.h"

int trmx_task_open_config(trmx_task **out, const char *name, const trmx_config *params,
			  trmx_error *err)
{
	trmx_task_param p[TRMX_TASK_PARAMS_MAX];
	if (!out || !name)
		return trmx_error_set(err, TRMX_EINVAL, "trmx_task_open_config: NULL argument");
	const trmx_task_codec *codec = trmx_task_find(name);
	if (!codec)
		return trmx_error_set(err, TRMX_ENOTFOUND,
				      "no task codec named '%s' (known: sudoku, maze, arc, tokens)", name);
	size_t n = params ? trmx_config_count(params) : 0;
	if (n > TRMX_TASK_PARAMS_MAX)
		return trmx_error_set(err, TRMX_ELIMIT, "%s: %zu parameters; the limit is %d (TRMX_TASK_PARAMS_MAX)",
				      name, n, TRMX_TASK_PARAMS_MAX);
	for (size_t i = 0; i < n; i++)
		trmx_config_at(params, i, &p[i].key, &p[i].value);
	return trmx_task_open_codec(out, codec, p, n, err);
}
