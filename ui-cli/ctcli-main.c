/*
 * certtether: global options, then one verb. Global options may come before
 * or after the verb; the verb parses its own options (and --help) itself.
 */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "ui-cli/ctcli.h"

typedef struct {
	const gchar *name;
	const gchar *summary;
	int (*run)(CtcliContext *ctx, int argc, char **argv);
} CtcliVerb;

static const CtcliVerb ctcli_verbs[] = {
    {"list", "Show every phone: state, identity, certificate expiry", ctcli_cmd_list},
    {"status", "Show the service, or one phone in detail", ctcli_cmd_status},
    {"approve", "Trust a phone (pair it) so that it gets provisioned", ctcli_cmd_approve},
    {"reject", "Refuse a phone; nothing is sent for it", ctcli_cmd_reject},
    {"provision", "Provision one phone, or every connected one, and wait for the outcome",
     ctcli_cmd_provision},
    {"watch", "Follow every phone's progress live until Ctrl-C", ctcli_cmd_watch},
    {"history", "Show the ledger's events (state changes), newest first", ctcli_cmd_history},
    {"test", "Synthetic transactions: test bootstrap | client-auth | chain", ctcli_cmd_test},
    {"bench", "Provision many phones for many users from a roster (bench PC)", ctcli_cmd_bench},
};

/* what the global options write into, before the context is filled */
typedef struct {
	gboolean json;
	gboolean direct;
	gboolean quiet;
	gboolean verbose;
	gboolean version;
	gchar *color;
	gchar *ca_file;
	gchar *config_file;
} CtcliGlobals;

static CtcliGlobals globals;

static const GOptionEntry ctcli_global_entries[] = {
    {"json", 0, 0, G_OPTION_ARG_NONE, &globals.json,
     "Print machine-readable JSON on stdout (every read verb)", NULL},
    {"direct", 0, 0, G_OPTION_ARG_NONE, &globals.direct,
     "Run the engine in this process instead of asking certtetherd (no daemon)", NULL},
    {"ca-file", 0, 0, G_OPTION_ARG_FILENAME, &globals.ca_file,
     "Trust the CA certificates in this PEM file (replaces ca-file of the configuration)", "FILE"},
    {"config", 0, 0, G_OPTION_ARG_FILENAME, &globals.config_file,
     "Read this configuration file instead of the usual search", "FILE"},
    {"quiet", 'q', 0, G_OPTION_ARG_NONE, &globals.quiet,
     "No progress, notes or warnings: only results and errors", NULL},
    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &globals.verbose, "Log debug messages on stderr", NULL},
    {"color", 0, 0, G_OPTION_ARG_STRING, &globals.color,
     "Colour the output: auto (on a terminal, unless NO_COLOR is set), always, never", "WHEN"},
    {"version", 0, 0, G_OPTION_ARG_NONE, &globals.version, "Print the version and exit", NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL},
};

/* what came before the verb, under what came after it (the later value wins) */
static void
ctcli_globals_merge(CtcliGlobals *before)
{
	gchar **strings[] = {&globals.color, &globals.ca_file, &globals.config_file};
	gchar **earlier[] = {&before->color, &before->ca_file, &before->config_file};
	for (guint i = 0; i < G_N_ELEMENTS(strings); i++) {
		if (*strings[i] == NULL)
			*strings[i] = g_steal_pointer(earlier[i]);
		else
			g_clear_pointer(earlier[i], g_free);
	}
	globals.json |= before->json;
	globals.direct |= before->direct;
	globals.quiet |= before->quiet;
	globals.verbose |= before->verbose;
	globals.version |= before->version;
}

static void
ctcli_globals_clear(void)
{
	g_clear_pointer(&globals.color, g_free);
	g_clear_pointer(&globals.ca_file, g_free);
	g_clear_pointer(&globals.config_file, g_free);
}

static gchar *
ctcli_verbs_description(void)
{
	GString *text = g_string_new("Verbs:\n");
	for (guint i = 0; i < G_N_ELEMENTS(ctcli_verbs); i++)
		g_string_append_printf(text, "  %-11s %s\n", ctcli_verbs[i].name,
		                       ctcli_verbs[i].summary);
	g_string_append(text, "\nRun 'certtether VERB --help' for a verb's options. Exit codes: 0 "
	                      "success, 1 failure,\n2 usage, 3 authentication, 4 unreachable, 5 "
	                      "rejected, 6 untrusted, 7 device,\n8 configuration "
	                      "(see certtether(1)).");
	return g_string_free(text, FALSE);
}

static GOptionContext *
ctcli_main_context(void)
{
	GOptionContext *context = g_option_context_new("VERB [ARGS…]");
	g_autofree gchar *description = ctcli_verbs_description();
	g_option_context_set_summary(context,
	                             "Provision desk phones plugged in over USB with your "
	                             "certificate, through certtetherd or in-process (--direct).");
	g_option_context_set_description(context, description);
	g_option_context_add_main_entries(context, ctcli_global_entries, NULL);
	return context;
}

static int
ctcli_usage_error(const gchar *message)
{
	g_printerr("certtether: %s\n", message);
	g_printerr("Usage: certtether [OPTION…] VERB [ARGS…]\n");
	for (guint i = 0; i < G_N_ELEMENTS(ctcli_verbs); i++)
		g_printerr("  %-11s %s\n", ctcli_verbs[i].name, ctcli_verbs[i].summary);
	g_printerr("Run 'certtether --help' for the options.\n");
	return CTCLI_EXIT_USAGE;
}

/* the global options that take a value in the next argument */
static gboolean
ctcli_takes_value(const gchar *arg)
{
	return g_strcmp0(arg, "--ca-file") == 0 || g_strcmp0(arg, "--config") == 0 ||
	       g_strcmp0(arg, "--color") == 0;
}

/* index of the verb in argv, or argc when there is none */
static int
ctcli_find_verb(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (g_strcmp0(argv[i], "--") == 0)
			return i + 1 < argc ? i + 1 : argc;
		if (argv[i][0] != '-' || argv[i][1] == '\0')
			return i;
		if (ctcli_takes_value(argv[i]))
			i++;
	}
	return argc;
}

/* the engine's per-state lines are for the journal; the CLI shows states itself */
static gboolean
ctcli_log_is_state_line(const GLogField *fields, gsize n_fields)
{
	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, "CT_STATE") == 0)
			return TRUE;
	}
	return FALSE;
}

static GLogWriterOutput
ctcli_log_writer(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer user_data)
{
	CtcliContext *ctx = user_data;
	const gchar *message = NULL;

	if (ctx->verbose)
		return g_log_writer_default(level, fields, n_fields, NULL);
	if ((level & (G_LOG_LEVEL_ERROR | G_LOG_LEVEL_CRITICAL)) == 0) {
		if ((level & G_LOG_LEVEL_WARNING) == 0 || ctx->quiet ||
		    ctcli_log_is_state_line(fields, n_fields))
			return G_LOG_WRITER_HANDLED;
	}
	for (gsize i = 0; i < n_fields; i++) {
		if (g_strcmp0(fields[i].key, "MESSAGE") == 0 && fields[i].length < 0)
			message = fields[i].value;
	}
	if (message == NULL)
		return g_log_writer_default(level, fields, n_fields, NULL);
	g_printerr("certtether: %s: %s\n", (level & G_LOG_LEVEL_WARNING) != 0 ? "warning" : "error",
	           message);
	return G_LOG_WRITER_HANDLED;
}

static gboolean
ctcli_want_color(const gchar *when, GError **error)
{
	const gchar *term = g_getenv("TERM");
	if (when == NULL || g_strcmp0(when, "auto") == 0)
		return isatty(STDOUT_FILENO) && g_getenv("NO_COLOR") == NULL &&
		       g_strcmp0(term, "dumb") != 0;
	if (g_strcmp0(when, "always") == 0)
		return TRUE;
	if (g_strcmp0(when, "never") == 0)
		return FALSE;
	g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
	            "--color=%s is not one of auto, always, never", when);
	return FALSE;
}

static const CtcliVerb *
ctcli_lookup_verb(const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(ctcli_verbs); i++) {
		if (g_strcmp0(ctcli_verbs[i].name, name) == 0)
			return &ctcli_verbs[i];
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GOptionContext) after = NULL;
	g_autoptr(GError) error = NULL;
	CtcliContext ctx = {0};
	const CtcliVerb *verb;
	CtcliGlobals before;
	gboolean parsed;
	int verb_at;
	int global_argc;
	g_autofree gchar **global_argv = NULL;
	int verb_argc;
	g_autofree gchar **verb_argv = NULL;
	int status;

	setlocale(LC_ALL, "");
	g_set_prgname("certtether");
	(void)ct_error_quark(); /* D-Bus errors map back to CT_ERROR from here on */

	/* argv[0..verb) are global options; the verb and what follows go to the verb */
	verb_at = ctcli_find_verb(argc, argv);
	global_argc = verb_at;
	global_argv = g_new0(gchar *, (gsize)global_argc + 1);
	for (int i = 0; i < verb_at; i++)
		global_argv[i] = argv[i];
	context = ctcli_main_context();
	if (!g_option_context_parse(context, &global_argc, &global_argv, &error)) {
		ctcli_globals_clear();
		return ctcli_usage_error(error->message);
	}
	/* "--" before the verb is not an option; anything else left is */
	for (int i = 1; i < global_argc; i++) {
		if (g_strcmp0(global_argv[i], "--") != 0) {
			g_autofree gchar *msg =
			    g_strdup_printf("unexpected argument '%s'", global_argv[i]);
			ctcli_globals_clear();
			return ctcli_usage_error(msg);
		}
	}
	if (globals.version && verb_at >= argc) {
		g_print("certtether %s\n", CT_VERSION);
		ctcli_globals_clear();
		return CTCLI_EXIT_OK;
	}
	if (verb_at >= argc) {
		ctcli_globals_clear();
		return ctcli_usage_error("no verb given");
	}
	verb = ctcli_lookup_verb(argv[verb_at]);
	if (verb == NULL) {
		g_autofree gchar *msg = g_strdup_printf("unknown verb '%s'", argv[verb_at]);
		ctcli_globals_clear();
		return ctcli_usage_error(msg);
	}

	/* global options after the verb too; the verb's own (and --help) stay for it */
	verb_argc = argc - verb_at;
	verb_argv = g_new0(gchar *, (gsize)verb_argc + 1);
	for (int i = 0; i < verb_argc; i++)
		verb_argv[i] = argv[verb_at + i];
	after = g_option_context_new(NULL);
	g_option_context_set_help_enabled(after, FALSE);
	g_option_context_set_ignore_unknown_options(after, TRUE);
	g_option_context_add_main_entries(after, ctcli_global_entries, NULL);
	before = globals;
	globals.color = globals.ca_file = globals.config_file = NULL;
	parsed = g_option_context_parse(after, &verb_argc, &verb_argv, &error);
	ctcli_globals_merge(&before);
	if (!parsed) {
		ctcli_globals_clear();
		return ctcli_usage_error(error->message);
	}
	if (globals.version) {
		g_print("certtether %s\n", CT_VERSION);
		ctcli_globals_clear();
		return CTCLI_EXIT_OK;
	}

	ctx.color = ctcli_want_color(globals.color, &error);
	if (error != NULL) {
		ctcli_globals_clear();
		return ctcli_usage_error(error->message);
	}
	ctx.json = globals.json;
	ctx.direct = globals.direct;
	ctx.quiet = globals.quiet;
	ctx.verbose = globals.verbose && !globals.quiet;
	ctx.interactive = isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
	ctx.ca_file = g_steal_pointer(&globals.ca_file);
	ctx.config_file = g_steal_pointer(&globals.config_file);
	ctcli_globals_clear();
	if (ctx.verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);
	g_log_set_writer_func(ctcli_log_writer, &ctx, NULL);

	status = verb->run(&ctx, verb_argc, verb_argv);

	fflush(stdout);
	g_clear_object(&ctx.config);
	g_free(ctx.ca_file);
	g_free(ctx.config_file);
	return status;
}
