#include "ui-cli/ctcli-verb.h"

#include <stdio.h>

gboolean
ctcli_verb_parse(int *argc,
                 char ***argv,
                 const gchar *parameters,
                 const gchar *summary,
                 const gchar *description,
                 const GOptionEntry *entries)
{
	const gchar *verb = (*argv)[0];
	g_autofree gchar *usage = g_strdup_printf("%s%s%s", verb, parameters != NULL ? " " : "",
	                                          parameters ? parameters : "");
	g_autofree gchar *full_description = g_strdup_printf(
	    "%s%sGlobal options (certtether --help) may come before or after the verb.",
	    description != NULL ? description : "", description != NULL ? "\n\n" : "");
	g_autoptr(GOptionContext) context = g_option_context_new(usage);
	g_autoptr(GError) error = NULL;

	g_option_context_set_summary(context, summary);
	g_option_context_set_description(context, full_description);
	if (entries != NULL)
		g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, argc, argv, &error)) {
		ctcli_verb_usage_error(verb, error->message);
		return FALSE;
	}
	return TRUE;
}

int
ctcli_verb_usage_error(const gchar *verb, const gchar *message)
{
	g_printerr("certtether %s: %s\n", verb, message);
	g_printerr("Usage: certtether [OPTION…] %s …; run 'certtether %s --help' for its usage.\n",
	           verb, verb);
	return CTCLI_EXIT_USAGE;
}

CtcliDevices *
ctcli_verb_open_devices(CtcliContext *ctx, gboolean settle, int *exit_code)
{
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GError) error = NULL;

	devices = ctcli_devices_new(ctx, &error);
	if (devices == NULL || !ctcli_devices_start(devices, &error)) {
		*exit_code = ctcli_print_error(ctx, error);
		return NULL;
	}
	if (settle && !ctcli_devices_settle(devices, CTCLI_DEVICES_SETTLE_TIMEOUT_MS)) {
		if (ctcli_devices_was_interrupted(devices)) {
			g_set_error_literal(&error, CT_ERROR, CT_ERROR_CANCELLED, "interrupted");
			*exit_code = ctcli_print_error(ctx, error);
			return NULL;
		}
		if (!ctx->quiet)
			g_printerr("certtether: warning: not every phone identified itself within "
			           "%u s; showing what is known\n",
			           CTCLI_DEVICES_SETTLE_TIMEOUT_MS / 1000);
	}
	*exit_code = CTCLI_EXIT_OK;
	return g_steal_pointer(&devices);
}
