/*
 * TEMPORARY, until ctcli-test*.c and ctcli-bench*.c are committed (another
 * engineer writes them): weak stand-ins so that certtether links meanwhile.
 * Their real definitions replace these at link time; this file is deleted
 * as soon as both have landed.
 */
#include "ui-cli/ctcli.h"

__attribute__((weak)) int
ctcli_cmd_test(CtcliContext *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	g_printerr("certtether: '%s' is not available in this build yet\n", argv[0]);
	return CTCLI_EXIT_FAILURE;
}

__attribute__((weak)) int
ctcli_cmd_bench(CtcliContext *ctx, int argc, char **argv)
{
	(void)ctx;
	(void)argc;
	g_printerr("certtether: '%s' is not available in this build yet\n", argv[0]);
	return CTCLI_EXIT_FAILURE;
}
