/*
 * schemas.c — the SQL of schemas/registry/, schemas/log/ and schemas/log-pg/, embedded at build time: the
 * Makefile runs registry/embed_sql.sh into BUILD/gen/trmx_sql.h, included here.
 */
#include "log/log_int.h"

#include "trmx_sql.h"

const trmx_sql_file *trmx_sql_registry(size_t *n)
{
	*n = registry_sql_count;
	return registry_sql;
}

const trmx_sql_file *trmx_sql_log(size_t *n)
{
	*n = log_sql_count;
	return log_sql;
}

const trmx_sql_file *trmx_sql_log_pg(size_t *n)
{
	*n = log_pg_sql_count;
	return log_pg_sql;
}
