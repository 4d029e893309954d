/*
 * certtetherd: the engine on the user's session bus. Started by D-Bus or
 * systemd activation when a phone is plugged in (udev SYSTEMD_USER_WANTS), or
 * by hand; exits after --idle-timeout seconds with no phone connected and no
 * work running.
 */
#include <glib-unix.h>
#include <locale.h>
#include <stdlib.h>

#include "daemon/engine/ct-engine.h"
#include "daemon/service/ctd-dbus.h"
#include "daemon/service/ctd-notify.h"

#define CTD_DEFAULT_IDLE_TIMEOUT_S 120

typedef struct {
	GMainLoop *loop;
	CtEngine *engine;
	CtdDbus *dbus;
	CtdNotify *notify;
	guint owner_id;
	guint idle_timeout_s;
	guint idle_source;
	gint exit_status;
	GError *start_error;
} CtdDaemon;

static gboolean
ctd_idle_expired(gpointer user_data)
{
	CtdDaemon *daemon = user_data;
	daemon->idle_source = 0;
	if (ct_engine_is_busy(daemon->engine))
		return G_SOURCE_REMOVE;
	g_message("no phone connected for %u s: exiting (activation starts certtetherd again)",
	          daemon->idle_timeout_s);
	g_main_loop_quit(daemon->loop);
	return G_SOURCE_REMOVE;
}

/*
 * Re-arm the one-shot idle timer after any activity; while a phone is present
 * or work runs there is no timer at all (an idle daemon never wakes up).
 */
static void
ctd_activity(gpointer user_data)
{
	CtdDaemon *daemon = user_data;
	if (daemon->idle_source != 0) {
		g_source_remove(daemon->idle_source);
		daemon->idle_source = 0;
	}
	if (daemon->idle_timeout_s == 0 || ct_engine_is_busy(daemon->engine))
		return;
	daemon->idle_source =
	    g_timeout_add_seconds(daemon->idle_timeout_s, ctd_idle_expired, daemon);
}

static void
ctd_on_device_changed(CtDevice *device, gpointer user_data)
{
	(void)device;
	ctd_activity(user_data);
}

static void
ctd_on_device_added(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	(void)engine;
	g_signal_connect(device, "changed", G_CALLBACK(ctd_on_device_changed), user_data);
	ctd_activity(user_data);
}

static void
ctd_on_bus_acquired(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	CtdDaemon *daemon = user_data;
	(void)name;
	daemon->dbus = ctd_dbus_new(connection, daemon->engine, G_CALLBACK(ctd_activity), daemon,
	                            &daemon->start_error);
	if (daemon->dbus == NULL) {
		daemon->exit_status = EXIT_FAILURE;
		g_main_loop_quit(daemon->loop);
		return;
	}
	daemon->notify = ctd_notify_new(connection, daemon->engine);
}

static void
ctd_on_name_acquired(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	CtdDaemon *daemon = user_data;
	(void)connection;
	/* USB starts only once the name is ours: two daemons never fight over a phone */
	if (!ct_engine_start(daemon->engine, &daemon->start_error)) {
		daemon->exit_status = EXIT_FAILURE;
		g_main_loop_quit(daemon->loop);
		return;
	}
	g_message("certtetherd %s ready on the session bus as %s", CT_VERSION, name);
	ctd_activity(daemon);
}

static void
ctd_on_name_lost(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	CtdDaemon *daemon = user_data;
	if (connection == NULL)
		g_set_error(&daemon->start_error, CT_ERROR, CT_ERROR_CONFIG,
		            "cannot connect to the session bus (is DBUS_SESSION_BUS_ADDRESS set?)");
	else if (daemon->start_error == NULL)
		g_set_error(&daemon->start_error, CT_ERROR, CT_ERROR_CONFIG,
		            "the bus name %s is taken: another certtetherd runs in this session",
		            name);
	daemon->exit_status = EXIT_FAILURE;
	g_main_loop_quit(daemon->loop);
}

static gboolean
ctd_on_signal(gpointer user_data)
{
	CtdDaemon *daemon = user_data;
	g_message("stopping on request");
	g_main_loop_quit(daemon->loop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	gint idle_timeout = CTD_DEFAULT_IDLE_TIMEOUT_S;
	gboolean verbose = FALSE;
	gboolean version = FALSE;
	g_autofree gchar *ledger = NULL;
	g_autoptr(GOptionContext) context = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = NULL;
	CtdDaemon daemon = {0};
	const GOptionEntry entries[] = {
	    {"idle-timeout", 0, 0, G_OPTION_ARG_INT, &idle_timeout,
	     "Exit after SECONDS with no phone connected (0: never; default 120)", "SECONDS"},
	    {"ledger", 0, 0, G_OPTION_ARG_FILENAME, &ledger,
	     "Keep the ledger in FILE (default: $XDG_STATE_HOME/certtether/ledger.db)", "FILE"},
	    {"verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Log debug messages too", NULL},
	    {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and exit", NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	setlocale(LC_ALL, "");
	context = g_option_context_new("- certtether daemon");
	g_option_context_set_summary(
	    context, "Provisions phones plugged in over USB with the desktop user's certificate.\n"
	             "Normally started by D-Bus or systemd activation; see certtetherd(8).");
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("certtetherd: %s\nTry 'certtetherd --help'.\n", error->message);
		return 2;
	}
	if (version) {
		g_print("certtetherd %s\n", CT_VERSION);
		return EXIT_SUCCESS;
	}
	if (idle_timeout < 0) {
		g_printerr("certtetherd: --idle-timeout must be 0 or more seconds\n");
		return 2;
	}
	if (verbose)
		g_setenv("G_MESSAGES_DEBUG", "all", TRUE);

	config = ct_config_load(&error);
	if (config == NULL) {
		g_printerr("certtetherd: %s\n", error->message);
		return EXIT_FAILURE;
	}
	daemon.loop = g_main_loop_new(NULL, FALSE);
	daemon.engine = ct_engine_new(config);
	daemon.idle_timeout_s = (guint)idle_timeout;
	if (ledger != NULL)
		ct_engine_set_ledger_path(daemon.engine, ledger);
	g_signal_connect(daemon.engine, "device-added", G_CALLBACK(ctd_on_device_added), &daemon);

	g_unix_signal_add(SIGTERM, ctd_on_signal, &daemon);
	g_unix_signal_add(SIGINT, ctd_on_signal, &daemon);
	daemon.owner_id = g_bus_own_name(G_BUS_TYPE_SESSION, CTD_DBUS_NAME,
	                                 G_BUS_NAME_OWNER_FLAGS_NONE, ctd_on_bus_acquired,
	                                 ctd_on_name_acquired, ctd_on_name_lost, &daemon, NULL);
	g_main_loop_run(daemon.loop);

	if (daemon.start_error != NULL)
		g_printerr("certtetherd: %s\n", daemon.start_error->message);
	g_bus_unown_name(daemon.owner_id);
	if (daemon.idle_source != 0)
		g_source_remove(daemon.idle_source);
	g_clear_pointer(&daemon.notify, ctd_notify_free);
	g_clear_pointer(&daemon.dbus, ctd_dbus_free);
	ct_engine_stop(daemon.engine);
	g_object_unref(daemon.engine);
	g_main_loop_unref(daemon.loop);
	g_clear_error(&daemon.start_error);
	return daemon.exit_status;
}
