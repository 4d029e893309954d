/*
 * The CLI's one way to the phones, whether certtetherd holds them (D-Bus, the
 * default) or the engine runs in this process (--direct). Verbs see devices as
 * a{sv} snapshots with the keys of ct_device_to_variant() / the Device1
 * properties ("Id", "Serial", "State", "Progress", "LastError", ...), act on
 * them by "Id", and follow changes through the signals below.
 *
 * Signals (all on the main thread, from the main loop):
 *   "device-added"   (const gchar *id, GVariant *snapshot)
 *   "device-changed" (const gchar *id, GVariant *snapshot)
 *   "device-removed" (const gchar *id)
 */
#pragma once

#include "daemon/engine/ct-engine.h"
#include "ui-cli/ctcli.h"

G_BEGIN_DECLS

/* how long --direct waits for the phones on the bus to identify themselves */
#define CTCLI_DEVICES_SETTLE_TIMEOUT_MS 10000

#define CTCLI_TYPE_DEVICES (ctcli_devices_get_type())
G_DECLARE_FINAL_TYPE(CtcliDevices, ctcli_devices, CTCLI, DEVICES, GObject)

/*
 * With the daemon: connect to certtetherd on the session bus (D-Bus activation
 * may start it); CT_ERROR_UNREACHABLE, saying how to start it, when it is not
 * there. With ctx->direct: create the engine from the configuration, not
 * started yet (see ctcli_devices_get_engine()); refused while certtetherd runs.
 */
CtcliDevices *ctcli_devices_new(CtcliContext *ctx, GError **error);
gboolean ctcli_devices_is_direct(CtcliDevices *self);
/* --direct: the engine, to configure before ctcli_devices_start() (bench rosters); else NULL */
CtEngine *ctcli_devices_get_engine(CtcliDevices *self);

/* --direct: open the ledger and start USB; with the daemon: nothing to do */
gboolean ctcli_devices_start(CtcliDevices *self, GError **error);

/*
 * --direct: run the main loop until every phone on the bus has identified
 * itself and its first check is over (the policy decided, STATUS read), at
 * most @timeout_ms; FALSE if the time ran out. With the daemon: TRUE at once.
 */
gboolean ctcli_devices_settle(CtcliDevices *self, guint timeout_ms);
/* TRUE once Ctrl-C or SIGTERM arrived (a wait then ends with CT_ERROR_CANCELLED) */
gboolean ctcli_devices_was_interrupted(CtcliDevices *self);

/* the service: a{sv} with "mode" ("daemon" or "direct"), "version", "policy", "user" */
GVariant *ctcli_devices_get_service(CtcliDevices *self);

/* snapshots (GVariant a{sv}, full references) of every known device, in arrival order */
GPtrArray *ctcli_devices_list(CtcliDevices *self);
/* the current snapshot of the device with this id, or NULL */
GVariant *ctcli_devices_get(CtcliDevices *self, const gchar *id);
/* by id, serial, USB port or identity fingerprint prefix; CT_ERROR_NOT_FOUND */
GVariant *ctcli_devices_find(CtcliDevices *self, const gchar *name, GError **error);

/*
 * Actions on the device with this id. On return the device's snapshot is
 * fresh: it already shows the state the action led to (no stale "before").
 */
gboolean ctcli_devices_approve(CtcliDevices *self, const gchar *id, GError **error);
gboolean ctcli_devices_reject(CtcliDevices *self, const gchar *id, GError **error);
gboolean
ctcli_devices_provision(CtcliDevices *self, const gchar *id, gboolean force, GError **error);
gboolean ctcli_devices_forget(CtcliDevices *self, const gchar *id, GError **error);

/* ledger events, newest first, "aa{sv}" (serial NULL: every device; limit 0: all) */
GVariant *
ctcli_devices_get_history(CtcliDevices *self, const gchar *serial, guint limit, GError **error);

/* TRUE when the wait is over */
typedef gboolean (*CtcliDevicesDoneFunc)(CtcliDevices *self, gpointer user_data);

/*
 * Run the main loop until @done (may be NULL: never) returns TRUE — asked at
 * once and after every change — or: @timeout_ms passes (0: no limit;
 * CT_ERROR_TIMEOUT), Ctrl-C or SIGTERM (CT_ERROR_CANCELLED), certtetherd
 * goes away (CT_ERROR_UNREACHABLE).
 */
gboolean ctcli_devices_wait(CtcliDevices *self,
                            CtcliDevicesDoneFunc done,
                            gpointer user_data,
                            guint timeout_ms,
                            GError **error);

/* ---- reading snapshots ---------------------------------------------------------------------- */

/* "" / 0 / FALSE when the key is absent or of another type */
const gchar *ctcli_snapshot_get_string(GVariant *snapshot, const gchar *key);
guint ctcli_snapshot_get_uint(GVariant *snapshot, const gchar *key);
gint64 ctcli_snapshot_get_int64(GVariant *snapshot, const gchar *key);
gboolean ctcli_snapshot_get_boolean(GVariant *snapshot, const gchar *key);
/* the "State" key as CtDeviceState (CT_DEVICE_STATE_LAST when unknown) */
CtDeviceState ctcli_snapshot_get_state(GVariant *snapshot);
/* the serial, else the id: what a person recognises the phone by */
const gchar *ctcli_snapshot_get_name(GVariant *snapshot);
/* the last error as a GError (CT_ERROR when the name is one of ours), or NULL */
GError *ctcli_snapshot_dup_error(GVariant *snapshot);

G_END_DECLS
