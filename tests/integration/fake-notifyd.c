/*
 * fake-notifyd: a stand-in desktop notification service for tests. It owns
 * org.freedesktop.Notifications on the session bus and appends one line per
 * Notify call to FILE: "urgency<TAB>summary<TAB>body" (newlines in the body as
 * "\n"). It exits when the bus goes away or on SIGTERM.
 */
#include <gio/gio.h>
#include <glib-unix.h>
#include <stdio.h>

static const gchar introspection[] =
    "<node><interface name='org.freedesktop.Notifications'>"
    "<method name='Notify'>"
    "<arg type='s' direction='in'/><arg type='u' direction='in'/>"
    "<arg type='s' direction='in'/><arg type='s' direction='in'/>"
    "<arg type='s' direction='in'/><arg type='as' direction='in'/>"
    "<arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
    "<arg type='u' direction='out'/></method>"
    "<method name='GetCapabilities'><arg type='as' direction='out'/></method>"
    "<method name='GetServerInformation'>"
    "<arg type='s' direction='out'/><arg type='s' direction='out'/>"
    "<arg type='s' direction='out'/><arg type='s' direction='out'/></method>"
    "<method name='CloseNotification'><arg type='u' direction='in'/></method>"
    "</interface></node>";

static const gchar *log_path;
static GDBusNodeInfo *node_info;
static guint32 next_id = 1;

static void
fake_notifyd_record(GVariant *params)
{
	const gchar *summary = NULL;
	const gchar *body = NULL;
	g_autoptr(GVariant) hints = NULL;
	g_autofree gchar *flat_body = NULL;
	guchar urgency = 1;
	FILE *out;

	g_variant_get(params, "(&su&s&s&s^a&s@a{sv}i)", NULL, NULL, NULL, &summary, &body, NULL,
	              &hints, NULL);
	g_variant_lookup(hints, "urgency", "y", &urgency);
	flat_body = g_strescape(body, NULL);
	out = fopen(log_path, "a");
	if (out == NULL)
		return;
	fprintf(out, "%u\t%s\t%s\n", urgency, summary, flat_body);
	fclose(out);
}

static void
fake_notifyd_call(GDBusConnection *connection,
                  const gchar *sender,
                  const gchar *path,
                  const gchar *iface,
                  const gchar *method,
                  GVariant *params,
                  GDBusMethodInvocation *invocation,
                  gpointer user_data)
{
	(void)connection;
	(void)sender;
	(void)path;
	(void)iface;
	(void)user_data;
	if (g_strcmp0(method, "Notify") == 0) {
		fake_notifyd_record(params);
		g_dbus_method_invocation_return_value(invocation, g_variant_new("(u)", next_id++));
	} else if (g_strcmp0(method, "GetCapabilities") == 0) {
		const gchar *caps[] = {"body", NULL};
		g_dbus_method_invocation_return_value(invocation, g_variant_new("(^as)", caps));
	} else if (g_strcmp0(method, "GetServerInformation") == 0) {
		g_dbus_method_invocation_return_value(
		    invocation, g_variant_new("(ssss)", "fake-notifyd", "certtether", "1", "1.2"));
	} else {
		g_dbus_method_invocation_return_value(invocation, NULL);
	}
}

static const GDBusInterfaceVTable vtable = {.method_call = fake_notifyd_call};

static void
fake_notifyd_bus_acquired(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	(void)name;
	(void)user_data;
	if (g_dbus_connection_register_object(connection, "/org/freedesktop/Notifications",
	                                      node_info->interfaces[0], &vtable, NULL, NULL,
	                                      &error) == 0)
		g_error("fake-notifyd: %s", error->message);
}

static void
fake_notifyd_name_acquired(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	(void)connection;
	(void)user_data;
	/* the test waits for this line before it relies on the service */
	g_print("fake-notifyd: owns %s\n", name);
}

static void
fake_notifyd_name_lost(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	(void)connection;
	(void)name;
	g_main_loop_quit(user_data);
}

static gboolean
fake_notifyd_quit(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

int
main(int argc, char **argv)
{
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	g_autoptr(GError) error = NULL;
	guint owner;

	if (argc != 2) {
		g_printerr("usage: fake-notifyd FILE\n");
		return 2;
	}
	log_path = argv[1];
	node_info = g_dbus_node_info_new_for_xml(introspection, &error);
	if (node_info == NULL) {
		g_printerr("fake-notifyd: %s\n", error->message);
		return 1;
	}
	g_unix_signal_add(SIGTERM, fake_notifyd_quit, loop);
	owner = g_bus_own_name(G_BUS_TYPE_SESSION, "org.freedesktop.Notifications",
	                       G_BUS_NAME_OWNER_FLAGS_NONE, fake_notifyd_bus_acquired,
	                       fake_notifyd_name_acquired, fake_notifyd_name_lost, loop, NULL);
	g_main_loop_run(loop);
	g_bus_unown_name(owner);
	g_dbus_node_info_unref(node_info);
	return 0;
}
