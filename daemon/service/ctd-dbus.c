#include "daemon/service/ctd-dbus.h"

#include <unistd.h>

#include "ctd-dbus-generated.h"

struct _CtdDbus {
	GDBusConnection *connection;
	CtEngine *engine;
	GDBusObjectManagerServer *manager;
	CtdDbusManager1 *manager_iface;
	GHashTable *devices; /* CtDevice* -> CtdDbusObjectSkeleton* */
	GCallback activity;
	gpointer activity_data;
	gulong added_id;
	gulong removed_id;
};

gchar *
ctd_dbus_device_path(CtDevice *device)
{
	/* ids are made of [A-Za-z0-9_] by the engine, safe as a path element */
	return g_strdup_printf("%s/%s", CTD_DBUS_DEVICES_PATH, ct_device_get_id(device));
}

static void
ctd_dbus_touch(CtdDbus *self)
{
	if (self->activity != NULL)
		((void (*)(gpointer))self->activity)(self->activity_data);
}

/* only the user owning this session may call a method (the bus policy says the
 * same; this holds even on a bus configured more loosely). GDBus asks this for
 * method calls only: property reads rest on the bus policy alone. */
static gboolean
ctd_dbus_authorize(GDBusInterfaceSkeleton *iface,
                   GDBusMethodInvocation *invocation,
                   gpointer user_data)
{
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GError) error = NULL;
	guint32 uid = G_MAXUINT32;
	(void)iface;
	(void)user_data;

	/* this signal runs in a thread of its own, so a blocking call is fine here */
	reply = g_dbus_connection_call_sync(
	    g_dbus_method_invocation_get_connection(invocation), "org.freedesktop.DBus",
	    "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
	    g_variant_new("(s)", g_dbus_method_invocation_get_sender(invocation)),
	    G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
	if (reply != NULL)
		g_variant_get(reply, "(u)", &uid);
	if (uid != (guint32)getuid()) {
		g_dbus_method_invocation_return_error(
		    invocation, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED,
		    "only the session's own user may use certtetherd");
		return FALSE;
	}
	return TRUE;
}

/* ---- device objects ---------------------------------------------------------------------- */

static void
ctd_dbus_sync_device(CtDevice *device, CtdDbusDevice1 *iface)
{
	const GError *error = ct_device_get_last_error(device);
	static const gchar *const no_anchors[] = {NULL};
	g_autofree gchar *error_name = NULL;

	if (error != NULL)
		error_name = g_dbus_error_encode_gerror(error);
	/* the skeleton batches these into one PropertiesChanged per main-loop turn */
	ctd_dbus_device1_set_id(iface, ct_device_get_id(device));
	ctd_dbus_device1_set_serial(iface, ct_device_get_serial(device));
	ctd_dbus_device1_set_vendor(iface, ct_device_get_vendor(device));
	ctd_dbus_device1_set_model(iface, ct_device_get_model(device));
	ctd_dbus_device1_set_firmware(iface, ct_device_get_firmware(device));
	ctd_dbus_device1_set_identity_fingerprint(iface,
	                                          ct_device_get_identity_fingerprint(device));
	ctd_dbus_device1_set_usb_port(iface, ct_device_get_usb_port(device));
	ctd_dbus_device1_set_connected(iface, ct_device_get_connected(device));
	ctd_dbus_device1_set_paired(iface, ct_device_get_paired(device));
	ctd_dbus_device1_set_state(iface, ct_device_state_to_string(ct_device_get_state(device)));
	ctd_dbus_device1_set_progress(iface, ct_device_get_progress(device));
	ctd_dbus_device1_set_state_detail(iface, ct_device_get_state_detail(device));
	ctd_dbus_device1_set_user(iface, ct_device_get_user(device));
	ctd_dbus_device1_set_certificate_serial(iface, ct_device_get_certificate_serial(device));
	ctd_dbus_device1_set_certificate_subject(iface, ct_device_get_certificate_subject(device));
	ctd_dbus_device1_set_certificate_issuer(iface, ct_device_get_certificate_issuer(device));
	ctd_dbus_device1_set_certificate_not_after(iface,
	                                           ct_device_get_certificate_not_after(device));
	ctd_dbus_device1_set_last_error(iface, error_name != NULL ? error_name : "");
	ctd_dbus_device1_set_last_error_message(iface, error != NULL ? error->message : "");
	ctd_dbus_device1_set_hint(iface, ct_device_get_hint(device));
	ctd_dbus_device1_set_attempts(iface, ct_device_get_attempts(device));
	ctd_dbus_device1_set_next_retry(iface, ct_device_get_next_retry(device));
	ctd_dbus_device1_set_trust_anchors(iface, ct_device_get_trust_anchors(device) != NULL
	                                              ? ct_device_get_trust_anchors(device)
	                                              : no_anchors);
	ctd_dbus_device1_set_trust_anchors_known(iface,
	                                         ct_device_get_trust_anchors(device) != NULL);
}

/* the CtDevice behind an exported Device1 interface */
static CtDevice *
ctd_dbus_device_of(CtdDbusDevice1 *iface)
{
	return g_object_get_data(G_OBJECT(iface), "ct-device");
}

static gboolean
ctd_dbus_handle_approve(CtdDbusDevice1 *iface,
                        GDBusMethodInvocation *invocation,
                        gpointer user_data)
{
	CtdDbus *self = user_data;
	g_autoptr(GError) error = NULL;
	ctd_dbus_touch(self);
	if (!ct_engine_approve_device(self->engine, ctd_dbus_device_of(iface), &error)) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return TRUE;
	}
	ctd_dbus_device1_complete_approve(iface, invocation);
	return TRUE;
}

static gboolean
ctd_dbus_handle_reject(CtdDbusDevice1 *iface, GDBusMethodInvocation *invocation, gpointer user_data)
{
	CtdDbus *self = user_data;
	g_autoptr(GError) error = NULL;
	ctd_dbus_touch(self);
	if (!ct_engine_reject_device(self->engine, ctd_dbus_device_of(iface), &error)) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return TRUE;
	}
	ctd_dbus_device1_complete_reject(iface, invocation);
	return TRUE;
}

static gboolean
ctd_dbus_handle_provision(CtdDbusDevice1 *iface,
                          GDBusMethodInvocation *invocation,
                          GVariant *options,
                          gpointer user_data)
{
	CtdDbus *self = user_data;
	gboolean force = FALSE;
	g_autoptr(GError) error = NULL;
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	ctd_dbus_touch(self);
	g_variant_iter_init(&iter, options);
	while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
		if (g_strcmp0(key, "force") == 0 &&
		    g_variant_is_of_type(value, G_VARIANT_TYPE_BOOLEAN)) {
			force = g_variant_get_boolean(value);
		} else {
			g_dbus_method_invocation_return_error(
			    invocation, CT_ERROR, CT_ERROR_INVALID_ARGS,
			    "unknown Provision option '%s' (known: force as b)", key);
			g_variant_unref(value);
			return TRUE;
		}
	}
	if (!ct_engine_provision_device(self->engine, ctd_dbus_device_of(iface), force, &error)) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return TRUE;
	}
	ctd_dbus_device1_complete_provision(iface, invocation);
	return TRUE;
}

static gboolean
ctd_dbus_handle_forget(CtdDbusDevice1 *iface, GDBusMethodInvocation *invocation, gpointer user_data)
{
	CtdDbus *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtDevice) device = g_object_ref(ctd_dbus_device_of(iface));
	ctd_dbus_touch(self);
	if (!ct_engine_forget_device(self->engine, device, &error)) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return TRUE;
	}
	ctd_dbus_device1_complete_forget(iface, invocation);
	return TRUE;
}

static void
ctd_dbus_on_device_changed(CtDevice *device, gpointer user_data)
{
	ctd_dbus_sync_device(device, CTD_DBUS_DEVICE1(user_data));
}

/* the desktop user is resolved at the first approval, after start: show it once known */
static void
ctd_dbus_sync_user(CtDevice *device, gpointer user_data)
{
	CtdDbusManager1 *manager = CTD_DBUS_MANAGER1(user_data);
	CtEngine *engine = g_object_get_data(G_OBJECT(manager), "ct-engine");
	const gchar *user = ct_engine_get_user(engine);
	(void)device;
	if (user != NULL && g_strcmp0(ctd_dbus_manager1_get_user(manager), user) != 0)
		ctd_dbus_manager1_set_user(manager, user);
}

static void
ctd_dbus_export_device(CtdDbus *self, CtDevice *device)
{
	g_autofree gchar *path = ctd_dbus_device_path(device);
	g_autoptr(CtdDbusObjectSkeleton) object = ctd_dbus_object_skeleton_new(path);
	/* the generated interface type has no autoptr cleanup, its skeleton does */
	g_autoptr(CtdDbusDevice1Skeleton) skeleton =
	    CTD_DBUS_DEVICE1_SKELETON(ctd_dbus_device1_skeleton_new());
	CtdDbusDevice1 *iface = CTD_DBUS_DEVICE1(skeleton);

	g_object_set_data_full(G_OBJECT(iface), "ct-device", g_object_ref(device), g_object_unref);
	ctd_dbus_sync_device(device, iface);
	g_signal_connect_object(device, "changed", G_CALLBACK(ctd_dbus_on_device_changed), iface,
	                        0);
	g_signal_connect_object(device, "changed", G_CALLBACK(ctd_dbus_sync_user),
	                        self->manager_iface, 0);
	g_signal_connect(iface, "g-authorize-method", G_CALLBACK(ctd_dbus_authorize), self);
	g_signal_connect(iface, "handle-approve", G_CALLBACK(ctd_dbus_handle_approve), self);
	g_signal_connect(iface, "handle-reject", G_CALLBACK(ctd_dbus_handle_reject), self);
	g_signal_connect(iface, "handle-provision", G_CALLBACK(ctd_dbus_handle_provision), self);
	g_signal_connect(iface, "handle-forget", G_CALLBACK(ctd_dbus_handle_forget), self);
	ctd_dbus_object_skeleton_set_device1(object, iface);
	g_dbus_object_manager_server_export(self->manager, G_DBUS_OBJECT_SKELETON(object));
	g_hash_table_insert(self->devices, device, g_object_ref(object));
	ctd_dbus_manager1_emit_device_added(self->manager_iface, path);
}

static void
ctd_dbus_on_device_added(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	(void)engine;
	ctd_dbus_export_device(user_data, device);
}

static void
ctd_dbus_on_device_removed(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	CtdDbus *self = user_data;
	g_autofree gchar *path = ctd_dbus_device_path(device);
	(void)engine;
	if (!g_hash_table_remove(self->devices, device))
		return;
	g_dbus_object_manager_server_unexport(self->manager, path);
	ctd_dbus_manager1_emit_device_removed(self->manager_iface, path);
}

/* ---- the manager ------------------------------------------------------------------------- */

static gboolean
ctd_dbus_handle_get_devices(CtdDbusManager1 *iface,
                            GDBusMethodInvocation *invocation,
                            gpointer user_data)
{
	CtdDbus *self = user_data;
	GPtrArray *devices = ct_engine_get_devices(self->engine);
	g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func(g_free);
	ctd_dbus_touch(self);
	for (guint i = 0; i < devices->len; i++)
		g_ptr_array_add(paths, ctd_dbus_device_path(g_ptr_array_index(devices, i)));
	g_ptr_array_add(paths, NULL);
	ctd_dbus_manager1_complete_get_devices(iface, invocation,
	                                       (const gchar *const *)paths->pdata);
	return TRUE;
}

static gboolean
ctd_dbus_handle_find_device(CtdDbusManager1 *iface,
                            GDBusMethodInvocation *invocation,
                            const gchar *name,
                            gpointer user_data)
{
	CtdDbus *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	const gchar *key = name;
	CtDevice *device;

	ctd_dbus_touch(self);
	/* an object path names a device by its last element */
	if (g_str_has_prefix(name, CTD_DBUS_DEVICES_PATH "/"))
		key = name + strlen(CTD_DBUS_DEVICES_PATH "/");
	device = ct_engine_find_device(self->engine, key, &error);
	if (device == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return TRUE;
	}
	path = ctd_dbus_device_path(device);
	ctd_dbus_manager1_complete_find_device(iface, invocation, path);
	return TRUE;
}

static gboolean
ctd_dbus_handle_get_history(CtdDbusManager1 *iface,
                            GDBusMethodInvocation *invocation,
                            const gchar *serial,
                            guint limit,
                            gpointer user_data)
{
	CtdDbus *self = user_data;
	g_autoptr(GError) error = NULL;
	GVariant *events;
	ctd_dbus_touch(self);
	events = ct_engine_get_history(self->engine, serial, limit, &error);
	if (events == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return TRUE;
	}
	ctd_dbus_manager1_complete_get_history(iface, invocation, events);
	return TRUE;
}

CtdDbus *
ctd_dbus_new(GDBusConnection *connection,
             CtEngine *engine,
             GCallback activity,
             gpointer activity_data,
             GError **error)
{
	g_autoptr(CtdDbus) self = g_new0(CtdDbus, 1);
	GPtrArray *devices = ct_engine_get_devices(engine);
	CtConfig *config = ct_engine_get_config(engine);

	self->connection = g_object_ref(connection);
	self->engine = g_object_ref(engine);
	self->activity = activity;
	self->activity_data = activity_data;
	self->devices = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL, g_object_unref);

	self->manager_iface = ctd_dbus_manager1_skeleton_new();
	/* not owned: the engine outlives its D-Bus service */
	g_object_set_data(G_OBJECT(self->manager_iface), "ct-engine", engine);
	ctd_dbus_manager1_set_version(self->manager_iface, CT_VERSION);
	ctd_dbus_manager1_set_policy(self->manager_iface,
	                             ct_policy_mode_to_string(ct_config_get_policy_mode(config)));
	ctd_dbus_manager1_set_user(self->manager_iface, ct_engine_get_user(engine) != NULL
	                                                    ? ct_engine_get_user(engine)
	                                                    : "");
	g_signal_connect(self->manager_iface, "g-authorize-method", G_CALLBACK(ctd_dbus_authorize),
	                 self);
	g_signal_connect(self->manager_iface, "handle-get-devices",
	                 G_CALLBACK(ctd_dbus_handle_get_devices), self);
	g_signal_connect(self->manager_iface, "handle-find-device",
	                 G_CALLBACK(ctd_dbus_handle_find_device), self);
	g_signal_connect(self->manager_iface, "handle-get-history",
	                 G_CALLBACK(ctd_dbus_handle_get_history), self);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->manager_iface),
	                                      connection, CTD_DBUS_PATH, error))
		return NULL;

	self->manager = g_dbus_object_manager_server_new(CTD_DBUS_PATH);
	for (guint i = 0; i < devices->len; i++)
		ctd_dbus_export_device(self, g_ptr_array_index(devices, i));
	self->added_id =
	    g_signal_connect(engine, "device-added", G_CALLBACK(ctd_dbus_on_device_added), self);
	self->removed_id = g_signal_connect(engine, "device-removed",
	                                    G_CALLBACK(ctd_dbus_on_device_removed), self);
	g_dbus_object_manager_server_set_connection(self->manager, connection);
	return g_steal_pointer(&self);
}

void
ctd_dbus_free(CtdDbus *self)
{
	if (self == NULL)
		return;
	if (self->added_id != 0)
		g_signal_handler_disconnect(self->engine, self->added_id);
	if (self->removed_id != 0)
		g_signal_handler_disconnect(self->engine, self->removed_id);
	if (self->manager != NULL)
		g_dbus_object_manager_server_set_connection(self->manager, NULL);
	if (self->manager_iface != NULL) {
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self->manager_iface));
		g_object_unref(self->manager_iface);
	}
	g_clear_object(&self->manager);
	g_hash_table_unref(self->devices);
	g_object_unref(self->engine);
	g_object_unref(self->connection);
	g_free(self);
}
