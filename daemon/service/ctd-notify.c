#include "daemon/service/ctd-notify.h"

#define CTD_NOTIFY_NAME  "org.freedesktop.Notifications"
#define CTD_NOTIFY_PATH  "/org/freedesktop/Notifications"
#define CTD_NOTIFY_IFACE "org.freedesktop.Notifications"

struct _CtdNotify {
	GDBusConnection *connection;
	CtEngine *engine;
	GHashTable *last_state; /* CtDevice* -> last notified CtDeviceState */
	gulong added_id;
	guint watch_id;
	gboolean present; /* a notification service owns the name */
};

static void
ctd_notify_sent(GObject *source, GAsyncResult *res, gpointer user_data)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	(void)user_data;
	reply = g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), res, &error);
	if (reply == NULL)
		g_debug("notification not shown: %s", error->message);
}

static void
ctd_notify_send(CtdNotify *self, const gchar *summary, const gchar *body, gboolean urgent)
{
	GVariantBuilder hints;
	g_variant_builder_init(&hints, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&hints, "{sv}", "urgency", g_variant_new_byte(urgent ? 2 : 1));
	g_variant_builder_add(&hints, "{sv}", "desktop-entry", g_variant_new_string("certtether"));
	g_dbus_connection_call(
	    self->connection, CTD_NOTIFY_NAME, CTD_NOTIFY_PATH, CTD_NOTIFY_IFACE, "Notify",
	    g_variant_new("(susssasa{sv}i)", "certtether", (guint32)0, "phone", summary, body, NULL,
	                  &hints, (gint32)-1),
	    G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, ctd_notify_sent, NULL);
}

static const gchar *
ctd_notify_name_of(CtDevice *device)
{
	const gchar *model = ct_device_get_model(device);
	return model[0] != '\0' ? model : ct_device_get_id(device);
}

static void
ctd_notify_on_changed(CtDevice *device, gpointer user_data)
{
	CtdNotify *self = user_data;
	CtDeviceState state = ct_device_get_state(device);
	gpointer last = g_hash_table_lookup(self->last_state, device);
	g_autofree gchar *summary = NULL;
	g_autofree gchar *body = NULL;

	if (last != NULL && GPOINTER_TO_UINT(last) - 1 == (guint)state)
		return;
	g_hash_table_insert(self->last_state, device, GUINT_TO_POINTER((guint)state + 1));
	if (!self->present)
		return;
	switch (state) {
	case CT_DEVICE_STATE_AWAITING_APPROVAL:
		summary = g_strdup_printf("Trust the phone %s?", ctd_notify_name_of(device));
		body = g_strdup_printf(
		    "A phone (serial %s) was plugged in and asks for your certificate. "
		    "If it is yours, approve it: certtether approve %s",
		    ct_device_get_serial(device), ct_device_get_id(device));
		ctd_notify_send(self, summary, body, TRUE);
		break;
	case CT_DEVICE_STATE_PROVISIONED:
		summary = g_strdup_printf("%s is ready", ctd_notify_name_of(device));
		body = g_strdup_printf("Your certificate was installed on the phone (%s).",
		                       ct_device_get_certificate_subject(device));
		ctd_notify_send(self, summary, body, FALSE);
		break;
	case CT_DEVICE_STATE_FAILED: {
		const GError *error = ct_device_get_last_error(device);
		summary =
		    g_strdup_printf("%s could not be provisioned", ctd_notify_name_of(device));
		body = g_strdup_printf("%s\n%s", error != NULL ? error->message : "",
		                       ct_device_get_hint(device));
		ctd_notify_send(self, summary, body, TRUE);
		break;
	}
	default:
		break;
	}
}

static void
ctd_notify_on_device_added(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	(void)engine;
	g_signal_connect(device, "changed", G_CALLBACK(ctd_notify_on_changed), user_data);
}

static void
ctd_notify_name_appeared(GDBusConnection *connection,
                         const gchar *name,
                         const gchar *owner,
                         gpointer user_data)
{
	CtdNotify *self = user_data;
	(void)connection;
	(void)name;
	(void)owner;
	self->present = TRUE;
}

static void
ctd_notify_name_vanished(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	CtdNotify *self = user_data;
	(void)connection;
	(void)name;
	self->present = FALSE;
}

CtdNotify *
ctd_notify_new(GDBusConnection *connection, CtEngine *engine)
{
	CtdNotify *self = g_new0(CtdNotify, 1);
	self->connection = g_object_ref(connection);
	self->engine = g_object_ref(engine);
	self->last_state = g_hash_table_new(g_direct_hash, g_direct_equal);
	/* no auto-start: a headless bench has no notification service, and needs none */
	self->watch_id = g_bus_watch_name_on_connection(
	    connection, CTD_NOTIFY_NAME, G_BUS_NAME_WATCHER_FLAGS_NONE, ctd_notify_name_appeared,
	    ctd_notify_name_vanished, self, NULL);
	self->added_id =
	    g_signal_connect(engine, "device-added", G_CALLBACK(ctd_notify_on_device_added), self);
	return self;
}

void
ctd_notify_free(CtdNotify *self)
{
	GPtrArray *devices;
	if (self == NULL)
		return;
	devices = ct_engine_get_devices(self->engine);
	for (guint i = 0; i < devices->len; i++)
		g_signal_handlers_disconnect_by_data(g_ptr_array_index(devices, i), self);
	g_signal_handler_disconnect(self->engine, self->added_id);
	g_bus_unwatch_name(self->watch_id);
	g_hash_table_unref(self->last_state);
	g_object_unref(self->engine);
	g_object_unref(self->connection);
	g_free(self);
}
