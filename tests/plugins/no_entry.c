/*
 * no_entry.c — a test plugin that exports no trmx_engine_entry (a shared library that is not an
 * engine): refused (tests/test_host.c).
 */
int trmx_something_else(void);

int trmx_something_else(void)
{
	return 42;
}
