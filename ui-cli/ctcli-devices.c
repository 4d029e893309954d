#include "ui-cli/ctcli-devices.h"

#include <glib-unix.h>
#include <signal.h>

#include "ctd-dbus-generated.h"
#include "daemon/engine/ct-ledger.h"

/* the daemon's names (daemon/data/org.certtether.Daemon1.xml) */
#define CTCLI_DBUS_NAME    "org.certtether.Daemon1"
#define CTCLI_DBUS_PATH    "/org/certtether/Daemon1"
#define CTCLI_DBUS_DEVICE1 "org.certtether.Device1"
/* the second line is the hint ctcli_print_error() shows */
#define CTCLI_DBUS_NOT_THERE                                                                       \
	"\nstart certtetherd ('systemctl --user start certtetherd', or run certtetherd), or use "  \
	"--direct to run without it"

typedef struct _CtcliWait CtcliWait;

struct _CtcliDevices {
	GObject parent_instance;
	CtcliContext *ctx;
	gboolean direct;
	gboolean interrupted; /* Ctrl-C or SIGTERM arrived */
	guint sigint_id;
	guint sigterm_id;
	CtcliWait *wait; /* the wait running now, if any */

	/* with the daemon */
	GDBusConnection *connection;
	CtdDbusManager1 *manager;
	GDBusObjectManager *object_manager;
	GPtrArray *order;     /* ids, in arrival order */
	GHashTable *proxies;  /* id -> CtdDbusDevice1 */
	GHashTable *path_ids; /* object path -> id */
	gboolean lost;

	/* --direct */
	CtEngine *engine;
	gboolean started;
};

G_DEFINE_TYPE(CtcliDevices, ctcli_devices, G_TYPE_OBJECT)

enum { SIGNAL_ADDED, SIGNAL_CHANGED, SIGNAL_REMOVED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

struct _CtcliWait {
	GMainLoop *loop;
	CtcliDevicesDoneFunc done;
	gpointer user_data;
	GError *error;
	guint check_id;
	guint timeout_id;
};

/* ---- reading snapshots --------------------------------------------------------------------- */

const gchar *
ctcli_snapshot_get_string(GVariant *snapshot, const gchar *key)
{
	const gchar *value = NULL;
	if (snapshot == NULL || !g_variant_lookup(snapshot, key, "&s", &value))
		return "";
	return value;
}

guint
ctcli_snapshot_get_uint(GVariant *snapshot, const gchar *key)
{
	guint32 value = 0;
	if (snapshot == NULL || !g_variant_lookup(snapshot, key, "u", &value))
		return 0;
	return value;
}

gint64
ctcli_snapshot_get_int64(GVariant *snapshot, const gchar *key)
{
	gint64 value = 0;
	if (snapshot == NULL || !g_variant_lookup(snapshot, key, "x", &value))
		return 0;
	return value;
}

gboolean
ctcli_snapshot_get_boolean(GVariant *snapshot, const gchar *key)
{
	gboolean value = FALSE;
	if (snapshot == NULL || !g_variant_lookup(snapshot, key, "b", &value))
		return FALSE;
	return value;
}

CtDeviceState
ctcli_snapshot_get_state(GVariant *snapshot)
{
	return ct_device_state_from_string(ctcli_snapshot_get_string(snapshot, "State"));
}

const gchar *
ctcli_snapshot_get_name(GVariant *snapshot)
{
	const gchar *serial = ctcli_snapshot_get_string(snapshot, "Serial");
	return serial[0] != '\0' ? serial : ctcli_snapshot_get_string(snapshot, "Id");
}

GError *
ctcli_snapshot_dup_error(GVariant *snapshot)
{
	const gchar *name = ctcli_snapshot_get_string(snapshot, "LastError");
	const gchar *message = ctcli_snapshot_get_string(snapshot, "LastErrorMessage");
	GError *error;
	if (name[0] == '\0')
		return NULL;
	/* our error names are registered with GDBus (ct_error_quark): back to CT_ERROR */
	(void)ct_error_quark();
	error = g_dbus_error_new_for_dbus_error(name, message[0] != '\0' ? message : name);
	/* the message as the engine wrote it, without "GDBus.Error:NAME: " */
	g_dbus_error_strip_remote_error(error);
	return error;
}

/* ---- errors -------------------------------------------------------------------------------- */

/*
 * A D-Bus failure as the CLI reports it: the daemon's own errors come back as
 * CT_ERROR (without the "GDBus.Error:..." prefix); a daemon that is not there
 * becomes CT_ERROR_UNREACHABLE saying how to start it.
 */
static void
ctcli_devices_fix_dbus_error(GError **error)
{
	if (error == NULL || *error == NULL)
		return;
	if (g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	    g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
	    g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_EXEC_FAILED) ||
	    g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_FAILED) ||
	    g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_SPAWN_CHILD_EXITED)) {
		GError *local = g_error_new(CT_ERROR, CT_ERROR_UNREACHABLE,
		                            "certtetherd is not running on the session bus%s",
		                            CTCLI_DBUS_NOT_THERE);
		g_clear_error(error);
		*error = local;
		return;
	}
	if (g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
	    g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_TIMEOUT) ||
	    g_error_matches(*error, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) ||
	    g_error_matches(*error, G_IO_ERROR, G_IO_ERROR_CLOSED)) {
		GError *local = g_error_new(CT_ERROR, CT_ERROR_UNREACHABLE,
		                            "certtetherd did not answer (%s)\ncheck that it runs "
		                            "(systemctl --user status certtetherd)",
		                            (*error)->message);
		g_clear_error(error);
		*error = local;
		return;
	}
	g_dbus_error_strip_remote_error(*error);
}

/* ---- construction -------------------------------------------------------------------------- */

static gboolean
ctcli_devices_on_signal(gpointer user_data)
{
	CtcliDevices *self = user_data;
	self->interrupted = TRUE;
	if (self->wait != NULL) {
		if (self->wait->error == NULL)
			self->wait->error =
			    g_error_new_literal(CT_ERROR, CT_ERROR_CANCELLED, "interrupted");
		g_main_loop_quit(self->wait->loop);
	}
	return G_SOURCE_CONTINUE;
}

static void
ctcli_devices_dispose(GObject *object)
{
	CtcliDevices *self = CTCLI_DEVICES(object);
	if (self->engine != NULL) {
		g_signal_handlers_disconnect_by_data(self->engine, self);
		for (guint i = 0; i < ct_engine_get_devices(self->engine)->len; i++)
			g_signal_handlers_disconnect_by_data(
			    g_ptr_array_index(ct_engine_get_devices(self->engine), i), self);
		ct_engine_stop(self->engine);
		g_clear_object(&self->engine);
	}
	if (self->object_manager != NULL) {
		g_signal_handlers_disconnect_by_data(self->object_manager, self);
		g_clear_object(&self->object_manager);
	}
	g_clear_object(&self->manager);
	g_clear_object(&self->connection);
	if (self->sigint_id != 0)
		g_source_remove(self->sigint_id);
	if (self->sigterm_id != 0)
		g_source_remove(self->sigterm_id);
	self->sigint_id = self->sigterm_id = 0;
	G_OBJECT_CLASS(ctcli_devices_parent_class)->dispose(object);
}

static void
ctcli_devices_finalize(GObject *object)
{
	CtcliDevices *self = CTCLI_DEVICES(object);
	g_ptr_array_unref(self->order);
	g_hash_table_unref(self->proxies);
	g_hash_table_unref(self->path_ids);
	G_OBJECT_CLASS(ctcli_devices_parent_class)->finalize(object);
}

static void
ctcli_devices_class_init(CtcliDevicesClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = ctcli_devices_dispose;
	object_class->finalize = ctcli_devices_finalize;
	signals[SIGNAL_ADDED] =
	    g_signal_new("device-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                 NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_VARIANT);
	signals[SIGNAL_CHANGED] =
	    g_signal_new("device-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                 NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_VARIANT);
	signals[SIGNAL_REMOVED] =
	    g_signal_new("device-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                 NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
ctcli_devices_init(CtcliDevices *self)
{
	self->order = g_ptr_array_new_with_free_func(g_free);
	self->proxies = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	self->path_ids = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
}

/* ---- with the daemon ----------------------------------------------------------------------- */

static GVariant *
ctcli_devices_proxy_snapshot(CtdDbusDevice1 *iface)
{
	GDBusInterfaceInfo *info = ctd_dbus_device1_interface_info();
	GVariantBuilder builder;
	/* the keys and their order are the interface's, as ct_device_to_variant() has them */
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	for (guint i = 0; info->properties != NULL && info->properties[i] != NULL; i++) {
		const gchar *name = info->properties[i]->name;
		g_autoptr(GVariant) value =
		    g_dbus_proxy_get_cached_property(G_DBUS_PROXY(iface), name);
		if (value != NULL)
			g_variant_builder_add(&builder, "{sv}", name, value);
	}
	return g_variant_ref_sink(g_variant_builder_end(&builder));
}

/* remember a device object; returns its id (owned by the table), NULL if it is none */
static const gchar *
ctcli_devices_track_object(CtcliDevices *self, GDBusObject *object)
{
	/* the generated interface type has no autoptr cleanup */
	g_autoptr(GObject) ref = G_OBJECT(ctd_dbus_object_get_device1(CTD_DBUS_OBJECT(object)));
	CtdDbusDevice1 *iface = ref != NULL ? CTD_DBUS_DEVICE1(ref) : NULL;
	const gchar *path = g_dbus_object_get_object_path(object);
	const gchar *id;
	if (iface == NULL)
		return NULL;
	id = ctd_dbus_device1_get_id(iface);
	if (id == NULL || id[0] == '\0')
		return NULL;
	if (!g_hash_table_contains(self->proxies, id))
		g_ptr_array_add(self->order, g_strdup(id));
	g_hash_table_replace(self->proxies, g_strdup(id), g_object_ref(iface));
	g_hash_table_replace(self->path_ids, g_strdup(path), g_strdup(id));
	return id;
}

static void
ctcli_devices_on_object_added(GDBusObjectManager *manager, GDBusObject *object, gpointer user_data)
{
	CtcliDevices *self = user_data;
	const gchar *id = ctcli_devices_track_object(self, object);
	g_autoptr(GVariant) snapshot = NULL;
	(void)manager;
	if (id == NULL)
		return;
	snapshot = ctcli_devices_proxy_snapshot(g_hash_table_lookup(self->proxies, id));
	g_signal_emit(self, signals[SIGNAL_ADDED], 0, id, snapshot);
}

static void
ctcli_devices_on_object_removed(GDBusObjectManager *manager,
                                GDBusObject *object,
                                gpointer user_data)
{
	CtcliDevices *self = user_data;
	g_autofree gchar *id = NULL;
	gchar *path_key = NULL;
	(void)manager;
	if (!g_hash_table_steal_extended(self->path_ids, g_dbus_object_get_object_path(object),
	                                 (gpointer *)&path_key, (gpointer *)&id))
		return;
	g_free(path_key);
	g_hash_table_remove(self->proxies, id);
	for (guint i = 0; i < self->order->len; i++) {
		if (g_strcmp0(g_ptr_array_index(self->order, i), id) == 0) {
			g_ptr_array_remove_index(self->order, i);
			break;
		}
	}
	g_signal_emit(self, signals[SIGNAL_REMOVED], 0, id);
}

static void
ctcli_devices_on_properties_changed(GDBusObjectManagerClient *manager,
                                    GDBusObjectProxy *object,
                                    GDBusProxy *iface,
                                    GVariant *changed,
                                    const gchar *const *invalidated,
                                    gpointer user_data)
{
	CtcliDevices *self = user_data;
	const gchar *id;
	g_autoptr(GVariant) snapshot = NULL;
	(void)manager;
	(void)changed;
	(void)invalidated;
	if (!CTD_DBUS_IS_DEVICE1(iface))
		return;
	id = g_hash_table_lookup(self->path_ids,
	                         g_dbus_object_get_object_path(G_DBUS_OBJECT(object)));
	if (id == NULL)
		return;
	snapshot = ctcli_devices_proxy_snapshot(CTD_DBUS_DEVICE1(iface));
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0, id, snapshot);
}

static void
ctcli_devices_on_name_owner(GObject *object, GParamSpec *pspec, gpointer user_data)
{
	CtcliDevices *self = user_data;
	g_autofree gchar *owner =
	    g_dbus_object_manager_client_get_name_owner(G_DBUS_OBJECT_MANAGER_CLIENT(object));
	(void)pspec;
	if (owner != NULL)
		return;
	self->lost = TRUE;
	if (self->wait != NULL) {
		if (self->wait->error == NULL)
			self->wait->error =
			    g_error_new(CT_ERROR, CT_ERROR_UNREACHABLE, "certtetherd stopped%s",
			                CTCLI_DBUS_NOT_THERE);
		g_main_loop_quit(self->wait->loop);
	}
}

static gboolean
ctcli_devices_connect_daemon(CtcliDevices *self, GError **error)
{
	g_auto(GStrv) paths = NULL;
	GList *objects;

	self->connection = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, error);
	if (self->connection == NULL) {
		GError *local = g_error_new(CT_ERROR, CT_ERROR_UNREACHABLE,
		                            "cannot reach the session bus: %s\nis "
		                            "DBUS_SESSION_BUS_ADDRESS set? --direct runs without "
		                            "certtetherd",
		                            (*error)->message);
		g_clear_error(error);
		*error = local;
		return FALSE;
	}
	/* the first call may start certtetherd through D-Bus activation */
	self->manager =
	    ctd_dbus_manager1_proxy_new_sync(self->connection, G_DBUS_PROXY_FLAGS_NONE,
	                                     CTCLI_DBUS_NAME, CTCLI_DBUS_PATH, NULL, error);
	if (self->manager == NULL ||
	    !ctd_dbus_manager1_call_get_devices_sync(self->manager, G_DBUS_CALL_FLAGS_NONE, -1,
	                                             &paths, NULL, error)) {
		ctcli_devices_fix_dbus_error(error);
		return FALSE;
	}
	/* the properties were not cached if the daemon was only started by the call */
	if (ctd_dbus_manager1_get_version(self->manager) == NULL) {
		g_clear_object(&self->manager);
		self->manager =
		    ctd_dbus_manager1_proxy_new_sync(self->connection, G_DBUS_PROXY_FLAGS_NONE,
		                                     CTCLI_DBUS_NAME, CTCLI_DBUS_PATH, NULL, error);
		if (self->manager == NULL) {
			ctcli_devices_fix_dbus_error(error);
			return FALSE;
		}
	}
	self->object_manager = ctd_dbus_object_manager_client_new_sync(
	    self->connection, G_DBUS_OBJECT_MANAGER_CLIENT_FLAGS_DO_NOT_AUTO_START, CTCLI_DBUS_NAME,
	    CTCLI_DBUS_PATH, NULL, error);
	if (self->object_manager == NULL) {
		ctcli_devices_fix_dbus_error(error);
		return FALSE;
	}
	/* arrival order as the daemon lists it, then anything that came in between */
	for (guint i = 0; paths[i] != NULL; i++) {
		g_autoptr(GDBusObject) object =
		    g_dbus_object_manager_get_object(self->object_manager, paths[i]);
		if (object != NULL)
			ctcli_devices_track_object(self, object);
	}
	objects = g_dbus_object_manager_get_objects(self->object_manager);
	for (GList *l = objects; l != NULL; l = l->next) {
		if (!g_hash_table_contains(self->path_ids,
		                           g_dbus_object_get_object_path(G_DBUS_OBJECT(l->data))))
			ctcli_devices_track_object(self, l->data);
	}
	g_list_free_full(objects, g_object_unref);

	g_signal_connect(self->object_manager, "object-added",
	                 G_CALLBACK(ctcli_devices_on_object_added), self);
	g_signal_connect(self->object_manager, "object-removed",
	                 G_CALLBACK(ctcli_devices_on_object_removed), self);
	g_signal_connect(self->object_manager, "interface-proxy-properties-changed",
	                 G_CALLBACK(ctcli_devices_on_properties_changed), self);
	g_signal_connect(self->object_manager, "notify::name-owner",
	                 G_CALLBACK(ctcli_devices_on_name_owner), self);
	return TRUE;
}

/* re-read every property now: the action's effect, not a PropertiesChanged still on its way */
static gboolean
ctcli_devices_refresh(CtcliDevices *self, const gchar *id, GError **error)
{
	CtdDbusDevice1 *iface = g_hash_table_lookup(self->proxies, id);
	g_autoptr(GVariant) reply = NULL;
	g_autoptr(GVariant) props = NULL;
	g_autoptr(GVariant) snapshot = NULL;
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	reply = g_dbus_connection_call_sync(
	    self->connection, CTCLI_DBUS_NAME, g_dbus_proxy_get_object_path(G_DBUS_PROXY(iface)),
	    "org.freedesktop.DBus.Properties", "GetAll", g_variant_new("(s)", CTCLI_DBUS_DEVICE1),
	    G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, error);
	if (reply == NULL) {
		ctcli_devices_fix_dbus_error(error);
		return FALSE;
	}
	props = g_variant_get_child_value(reply, 0);
	g_variant_iter_init(&iter, props);
	while (g_variant_iter_loop(&iter, "{&sv}", &key, &value))
		g_dbus_proxy_set_cached_property(G_DBUS_PROXY(iface), key, value);
	snapshot = ctcli_devices_proxy_snapshot(iface);
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0, id, snapshot);
	return TRUE;
}

static CtdDbusDevice1 *
ctcli_devices_lookup_proxy(CtcliDevices *self, const gchar *id, GError **error)
{
	CtdDbusDevice1 *iface = g_hash_table_lookup(self->proxies, id);
	if (iface == NULL)
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "no phone named '%s' (certtether list shows them)", id);
	return iface;
}

/* ---- --direct ------------------------------------------------------------------------------ */

static void
ctcli_devices_on_engine_device_changed(CtDevice *device, gpointer user_data)
{
	CtcliDevices *self = user_data;
	g_autoptr(GVariant) snapshot = g_variant_ref_sink(ct_device_to_variant(device));
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0, ct_device_get_id(device), snapshot);
}

static void
ctcli_devices_on_engine_device_added(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	CtcliDevices *self = user_data;
	g_autoptr(GVariant) snapshot = g_variant_ref_sink(ct_device_to_variant(device));
	(void)engine;
	g_signal_connect(device, "changed", G_CALLBACK(ctcli_devices_on_engine_device_changed),
	                 self);
	g_signal_emit(self, signals[SIGNAL_ADDED], 0, ct_device_get_id(device), snapshot);
}

static void
ctcli_devices_on_engine_device_removed(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	CtcliDevices *self = user_data;
	(void)engine;
	g_signal_handlers_disconnect_by_data(device, self);
	g_signal_emit(self, signals[SIGNAL_REMOVED], 0, ct_device_get_id(device));
}

static gchar *
ctcli_devices_prompt(const gchar *prompt, gpointer user_data)
{
	(void)user_data;
	return ctcli_prompt_secret(prompt);
}

static CtDevice *
ctcli_devices_lookup_engine_device(CtcliDevices *self, const gchar *id, GError **error)
{
	GPtrArray *devices = ct_engine_get_devices(self->engine);
	for (guint i = 0; i < devices->len; i++) {
		CtDevice *device = g_ptr_array_index(devices, i);
		if (g_strcmp0(ct_device_get_id(device), id) == 0)
			return device;
	}
	g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
	            "no phone named '%s' (certtether list shows them)", id);
	return NULL;
}

/* two processes must not drive the same phones: --direct steps aside for a running daemon */
static gboolean
ctcli_devices_check_no_daemon(GError **error)
{
	g_autoptr(GDBusConnection) connection = NULL;
	g_autoptr(GVariant) reply = NULL;
	gboolean has_owner = FALSE;

	/* only a bus that is already there: never autolaunch one for this question */
	if (g_getenv("DBUS_SESSION_BUS_ADDRESS") == NULL)
		return TRUE;
	connection = g_bus_get_sync(G_BUS_TYPE_SESSION, NULL, NULL);
	if (connection == NULL)
		return TRUE;
	reply = g_dbus_connection_call_sync(
	    connection, "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus",
	    "NameHasOwner", g_variant_new("(s)", CTCLI_DBUS_NAME), G_VARIANT_TYPE("(b)"),
	    G_DBUS_CALL_FLAGS_NONE, 5000, NULL, NULL);
	if (reply != NULL)
		g_variant_get(reply, "(b)", &has_owner);
	if (has_owner) {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		    "certtetherd runs in this session and holds the phones\nleave "
		    "out --direct, or stop certtetherd first (systemctl --user stop "
		    "certtetherd)");
		return FALSE;
	}
	return TRUE;
}

/* ---- public -------------------------------------------------------------------------------- */

CtcliDevices *
ctcli_devices_new(CtcliContext *ctx, GError **error)
{
	g_autoptr(CtcliDevices) self = g_object_new(CTCLI_TYPE_DEVICES, NULL);

	(void)ct_error_quark(); /* D-Bus error names map back to CT_ERROR from now on */
	self->ctx = ctx;
	self->direct = ctx->direct;
	self->sigint_id = g_unix_signal_add(SIGINT, ctcli_devices_on_signal, self);
	self->sigterm_id = g_unix_signal_add(SIGTERM, ctcli_devices_on_signal, self);
	if (self->direct) {
		CtConfig *config = ctcli_context_get_config(ctx, error);
		if (config == NULL)
			return NULL;
		self->engine = ct_engine_new(config);
		if (ctx->interactive)
			ct_engine_set_prompt_func(self->engine, ctcli_devices_prompt, NULL, NULL);
		return g_steal_pointer(&self);
	}
	if ((ctx->ca_file != NULL || ctx->config_file != NULL) && !ctx->quiet)
		g_printerr("certtether: warning: --config and --ca-file apply to --direct and the "
		           "test verbs; certtetherd uses its own configuration\n");
	if (!ctcli_devices_connect_daemon(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

gboolean
ctcli_devices_is_direct(CtcliDevices *self)
{
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), FALSE);
	return self->direct;
}

CtEngine *
ctcli_devices_get_engine(CtcliDevices *self)
{
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), NULL);
	return self->engine;
}

gboolean
ctcli_devices_start(CtcliDevices *self, GError **error)
{
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), FALSE);
	if (!self->direct || self->started)
		return TRUE;
	if (!ctcli_devices_check_no_daemon(error))
		return FALSE;
	g_signal_connect(self->engine, "device-added",
	                 G_CALLBACK(ctcli_devices_on_engine_device_added), self);
	g_signal_connect(self->engine, "device-removed",
	                 G_CALLBACK(ctcli_devices_on_engine_device_removed), self);
	if (!ct_engine_start(self->engine, error))
		return FALSE;
	self->started = TRUE;
	return TRUE;
}

static gboolean
ctcli_devices_is_settled(CtcliDevices *self, gpointer user_data)
{
	GPtrArray *devices = ct_engine_get_devices(self->engine);
	(void)user_data;
	if (ct_engine_count_unidentified(self->engine) > 0)
		return FALSE;
	/* identified, and the policy's answer and the phone's certificate are known */
	for (guint i = 0; i < devices->len; i++) {
		CtDevice *device = g_ptr_array_index(devices, i);
		CtDeviceState state = ct_device_get_state(device);
		if (ct_device_get_connected(device) &&
		    (state == CT_DEVICE_STATE_IDENTIFYING || state == CT_DEVICE_STATE_CHECKING))
			return FALSE;
	}
	return TRUE;
}

gboolean
ctcli_devices_settle(CtcliDevices *self, guint timeout_ms)
{
	g_autoptr(GError) error = NULL;
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), FALSE);
	if (!self->direct || !self->started)
		return TRUE;
	return ctcli_devices_wait(self, ctcli_devices_is_settled, NULL, timeout_ms, &error);
}

gboolean
ctcli_devices_was_interrupted(CtcliDevices *self)
{
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), FALSE);
	return self->interrupted;
}

GVariant *
ctcli_devices_get_service(CtcliDevices *self)
{
	GVariantBuilder builder;
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), NULL);
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	if (self->direct) {
		CtConfig *config = ct_engine_get_config(self->engine);
		const gchar *user = ct_engine_get_user(self->engine);
		g_variant_builder_add(&builder, "{sv}", "mode", g_variant_new_string("direct"));
		g_variant_builder_add(&builder, "{sv}", "version",
		                      g_variant_new_string(CT_VERSION));
		g_variant_builder_add(&builder, "{sv}", "policy",
		                      g_variant_new_string(ct_policy_mode_to_string(
		                          ct_config_get_policy_mode(config))));
		g_variant_builder_add(&builder, "{sv}", "user",
		                      g_variant_new_string(user != NULL ? user : ""));
	} else {
		const gchar *version = ctd_dbus_manager1_get_version(self->manager);
		const gchar *policy = ctd_dbus_manager1_get_policy(self->manager);
		const gchar *user = ctd_dbus_manager1_get_user(self->manager);
		g_variant_builder_add(&builder, "{sv}", "mode", g_variant_new_string("daemon"));
		g_variant_builder_add(&builder, "{sv}", "version",
		                      g_variant_new_string(version != NULL ? version : ""));
		g_variant_builder_add(&builder, "{sv}", "policy",
		                      g_variant_new_string(policy != NULL ? policy : ""));
		g_variant_builder_add(&builder, "{sv}", "user",
		                      g_variant_new_string(user != NULL ? user : ""));
	}
	return g_variant_ref_sink(g_variant_builder_end(&builder));
}

GPtrArray *
ctcli_devices_list(CtcliDevices *self)
{
	GPtrArray *out = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), out);
	if (self->direct) {
		GPtrArray *devices = ct_engine_get_devices(self->engine);
		for (guint i = 0; i < devices->len; i++)
			g_ptr_array_add(out, g_variant_ref_sink(ct_device_to_variant(
			                         g_ptr_array_index(devices, i))));
		return out;
	}
	for (guint i = 0; i < self->order->len; i++) {
		CtdDbusDevice1 *iface =
		    g_hash_table_lookup(self->proxies, g_ptr_array_index(self->order, i));
		if (iface != NULL)
			g_ptr_array_add(out, ctcli_devices_proxy_snapshot(iface));
	}
	return out;
}

GVariant *
ctcli_devices_get(CtcliDevices *self, const gchar *id)
{
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), NULL);
	if (self->direct) {
		CtDevice *device = ctcli_devices_lookup_engine_device(self, id, NULL);
		return device != NULL ? g_variant_ref_sink(ct_device_to_variant(device)) : NULL;
	} else {
		CtdDbusDevice1 *iface = g_hash_table_lookup(self->proxies, id);
		return iface != NULL ? ctcli_devices_proxy_snapshot(iface) : NULL;
	}
}

GVariant *
ctcli_devices_find(CtcliDevices *self, const gchar *name, GError **error)
{
	g_autofree gchar *path = NULL;
	const gchar *id;
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), NULL);
	if (self->direct) {
		CtDevice *device = ct_engine_find_device(self->engine, name, error);
		return device != NULL ? g_variant_ref_sink(ct_device_to_variant(device)) : NULL;
	}
	if (!ctd_dbus_manager1_call_find_device_sync(self->manager, name, G_DBUS_CALL_FLAGS_NONE,
	                                             -1, &path, NULL, error)) {
		ctcli_devices_fix_dbus_error(error);
		return NULL;
	}
	id = g_hash_table_lookup(self->path_ids, path);
	if (id == NULL) {
		/* a phone that just arrived: its InterfacesAdded came before this reply and
		 * waits in the main context, as an event not handled yet */
		while (g_main_context_pending(NULL))
			g_main_context_iteration(NULL, FALSE);
		id = g_hash_table_lookup(self->path_ids, path);
	}
	if (id == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "the phone '%s' went away while it was looked up", name);
		return NULL;
	}
	return ctcli_devices_proxy_snapshot(g_hash_table_lookup(self->proxies, id));
}

typedef enum {
	CTCLI_ACTION_APPROVE,
	CTCLI_ACTION_REJECT,
	CTCLI_ACTION_PROVISION,
	CTCLI_ACTION_FORCE_PROVISION,
	CTCLI_ACTION_FORGET,
} CtcliAction;

static gboolean
ctcli_devices_act(CtcliDevices *self, const gchar *id, CtcliAction action, GError **error)
{
	gboolean ok = FALSE;
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), FALSE);
	if (self->direct) {
		CtDevice *device = ctcli_devices_lookup_engine_device(self, id, error);
		if (device == NULL)
			return FALSE;
		switch (action) {
		case CTCLI_ACTION_APPROVE:
			return ct_engine_approve_device(self->engine, device, error);
		case CTCLI_ACTION_REJECT:
			return ct_engine_reject_device(self->engine, device, error);
		case CTCLI_ACTION_PROVISION:
		case CTCLI_ACTION_FORCE_PROVISION:
			return ct_engine_provision_device(
			    self->engine, device, action == CTCLI_ACTION_FORCE_PROVISION, error);
		case CTCLI_ACTION_FORGET:
			return ct_engine_forget_device(self->engine, device, error);
		}
		return FALSE;
	} else {
		CtdDbusDevice1 *iface = ctcli_devices_lookup_proxy(self, id, error);
		GVariantBuilder options;
		if (iface == NULL)
			return FALSE;
		switch (action) {
		case CTCLI_ACTION_APPROVE:
			ok = ctd_dbus_device1_call_approve_sync(iface, G_DBUS_CALL_FLAGS_NONE, -1,
			                                        NULL, error);
			break;
		case CTCLI_ACTION_REJECT:
			ok = ctd_dbus_device1_call_reject_sync(iface, G_DBUS_CALL_FLAGS_NONE, -1,
			                                       NULL, error);
			break;
		case CTCLI_ACTION_PROVISION:
		case CTCLI_ACTION_FORCE_PROVISION:
			g_variant_builder_init(&options, G_VARIANT_TYPE_VARDICT);
			if (action == CTCLI_ACTION_FORCE_PROVISION)
				g_variant_builder_add(&options, "{sv}", "force",
				                      g_variant_new_boolean(TRUE));
			ok = ctd_dbus_device1_call_provision_sync(
			    iface, g_variant_builder_end(&options), G_DBUS_CALL_FLAGS_NONE, -1,
			    NULL, error);
			break;
		case CTCLI_ACTION_FORGET:
			ok = ctd_dbus_device1_call_forget_sync(iface, G_DBUS_CALL_FLAGS_NONE, -1,
			                                       NULL, error);
			/* a forgotten absent phone is gone: nothing left to refresh */
			return ok || (ctcli_devices_fix_dbus_error(error), FALSE);
		}
		if (!ok) {
			ctcli_devices_fix_dbus_error(error);
			return FALSE;
		}
		return ctcli_devices_refresh(self, id, error);
	}
}

gboolean
ctcli_devices_approve(CtcliDevices *self, const gchar *id, GError **error)
{
	return ctcli_devices_act(self, id, CTCLI_ACTION_APPROVE, error);
}

gboolean
ctcli_devices_reject(CtcliDevices *self, const gchar *id, GError **error)
{
	return ctcli_devices_act(self, id, CTCLI_ACTION_REJECT, error);
}

gboolean
ctcli_devices_provision(CtcliDevices *self, const gchar *id, gboolean force, GError **error)
{
	return ctcli_devices_act(
	    self, id, force ? CTCLI_ACTION_FORCE_PROVISION : CTCLI_ACTION_PROVISION, error);
}

gboolean
ctcli_devices_forget(CtcliDevices *self, const gchar *id, GError **error)
{
	return ctcli_devices_act(self, id, CTCLI_ACTION_FORGET, error);
}

/* --direct without USB: read the ledger file itself, creating nothing */
static GVariant *
ctcli_devices_read_ledger_history(CtcliDevices *self,
                                  const gchar *serial,
                                  guint limit,
                                  GError **error)
{
	g_autofree gchar *dir = ct_config_get_state_dir();
	g_autofree gchar *path = g_build_filename(dir, "ledger.db", NULL);
	g_autoptr(CtLedger) ledger = NULL;
	g_autoptr(GPtrArray) events = NULL;
	GVariantBuilder builder;

	(void)self;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("aa{sv}"));
	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return g_variant_ref_sink(g_variant_builder_end(&builder));
	ledger = ct_ledger_open(path, error);
	if (ledger == NULL)
		return NULL;
	events = ct_ledger_get_history(ledger, serial, limit, error);
	if (events == NULL)
		return NULL;
	for (guint i = 0; i < events->len; i++)
		g_variant_builder_add_value(
		    &builder, ct_ledger_event_to_variant(g_ptr_array_index(events, i)));
	return g_variant_ref_sink(g_variant_builder_end(&builder));
}

GVariant *
ctcli_devices_get_history(CtcliDevices *self, const gchar *serial, guint limit, GError **error)
{
	GVariant *events = NULL;
	g_return_val_if_fail(CTCLI_IS_DEVICES(self), NULL);
	if (self->direct) {
		if (!self->started)
			return ctcli_devices_read_ledger_history(self, serial, limit, error);
		events = ct_engine_get_history(self->engine, serial, limit, error);
		return events != NULL ? g_variant_ref_sink(events) : NULL;
	}
	if (!ctd_dbus_manager1_call_get_history_sync(self->manager, serial != NULL ? serial : "",
	                                             limit, G_DBUS_CALL_FLAGS_NONE, -1, &events,
	                                             NULL, error)) {
		ctcli_devices_fix_dbus_error(error);
		return NULL;
	}
	return events;
}

/* ---- waiting ------------------------------------------------------------------------------- */

static gboolean
ctcli_devices_wait_check(gpointer user_data)
{
	CtcliDevices *self = user_data;
	CtcliWait *wait = self->wait;
	wait->check_id = 0;
	if (wait->done != NULL && wait->done(self, wait->user_data))
		g_main_loop_quit(wait->loop);
	return G_SOURCE_REMOVE;
}

/* checked from an idle: after the engine's callback that changed the device is over */
static void
ctcli_devices_wait_schedule(CtcliDevices *self)
{
	if (self->wait != NULL && self->wait->check_id == 0)
		self->wait->check_id = g_idle_add(ctcli_devices_wait_check, self);
}

static void
ctcli_devices_wait_on_change(CtcliDevices *self, const gchar *id, GVariant *snapshot, gpointer data)
{
	(void)id;
	(void)snapshot;
	(void)data;
	ctcli_devices_wait_schedule(self);
}

static void
ctcli_devices_wait_on_removed(CtcliDevices *self, const gchar *id, gpointer data)
{
	(void)id;
	(void)data;
	ctcli_devices_wait_schedule(self);
}

static gboolean
ctcli_devices_wait_timeout(gpointer user_data)
{
	CtcliDevices *self = user_data;
	self->wait->timeout_id = 0;
	if (self->wait->error == NULL)
		self->wait->error = g_error_new_literal(CT_ERROR, CT_ERROR_TIMEOUT,
		                                        "gave up waiting for the phones");
	g_main_loop_quit(self->wait->loop);
	return G_SOURCE_REMOVE;
}

gboolean
ctcli_devices_wait(CtcliDevices *self,
                   CtcliDevicesDoneFunc done,
                   gpointer user_data,
                   guint timeout_ms,
                   GError **error)
{
	CtcliWait wait = {.done = done, .user_data = user_data};
	gulong ids[3];

	g_return_val_if_fail(CTCLI_IS_DEVICES(self), FALSE);
	g_return_val_if_fail(self->wait == NULL, FALSE);
	if (self->interrupted) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CANCELLED, "interrupted");
		return FALSE;
	}
	if (self->lost) {
		g_set_error(error, CT_ERROR, CT_ERROR_UNREACHABLE, "certtetherd stopped%s",
		            CTCLI_DBUS_NOT_THERE);
		return FALSE;
	}
	if (done != NULL && done(self, user_data))
		return TRUE;

	wait.loop = g_main_loop_new(NULL, FALSE);
	self->wait = &wait;
	ids[0] =
	    g_signal_connect(self, "device-added", G_CALLBACK(ctcli_devices_wait_on_change), NULL);
	ids[1] = g_signal_connect(self, "device-changed", G_CALLBACK(ctcli_devices_wait_on_change),
	                          NULL);
	ids[2] = g_signal_connect(self, "device-removed", G_CALLBACK(ctcli_devices_wait_on_removed),
	                          NULL);
	if (timeout_ms > 0)
		wait.timeout_id = g_timeout_add(timeout_ms, ctcli_devices_wait_timeout, self);
	/* once after the first turns too: the transport's queued reports are delivered by then */
	ctcli_devices_wait_schedule(self);
	g_main_loop_run(wait.loop);

	for (guint i = 0; i < G_N_ELEMENTS(ids); i++)
		g_signal_handler_disconnect(self, ids[i]);
	if (wait.timeout_id != 0)
		g_source_remove(wait.timeout_id);
	if (wait.check_id != 0)
		g_source_remove(wait.check_id);
	self->wait = NULL;
	g_main_loop_unref(wait.loop);
	if (wait.error != NULL) {
		g_propagate_error(error, wait.error);
		return FALSE;
	}
	return TRUE;
}
