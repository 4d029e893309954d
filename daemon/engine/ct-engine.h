/*
 * CtEngine: everything between a USB plug-in and a provisioned phone, as one
 * library object that certtetherd (behind D-Bus) and `certtether --direct`
 * (in-process) both drive — no logic is written twice.
 *
 * It watches USB (hotplug + the phones already plugged in), runs one session
 * per phone on the caller's GLib main loop (no thread per device; HTTP runs in
 * worker threads), applies the approval policy, enrolls through the configured
 * web service with the desktop user's credentials, installs over USB and keeps
 * the ledger. Observers watch "device-added", "device-removed" and each
 * CtDevice's "changed".
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-config.h"
#include "daemon/engine/ct-device.h"
#include "daemon/engine/ct-error.h"
#include "daemon/enroll/ct-credentials.h"

G_BEGIN_DECLS

#define CT_TYPE_ENGINE (ct_engine_get_type())
G_DECLARE_FINAL_TYPE(CtEngine, ct_engine, CT, ENGINE, GObject)

/*
 * Who a phone is provisioned for. The default is the desktop user (config
 * sip-uri or the Kerberos principal, with the session's credentials); a bench
 * roster assigns each phone its own user and credentials.
 */
typedef struct {
	gchar *sip_uri;             /* NULL: resolve from config / the credentials' principal */
	CtCredentials *credentials; /* NULL: the engine's default credentials */
} CtAssignment;

void ct_assignment_free(CtAssignment *assignment);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtAssignment, ct_assignment_free)

/*
 * Called once a phone has identified itself (serial, USB port). Return NULL to
 * leave the phone alone (not on the roster: the engine closes it untouched),
 * or the assignment to use.
 */
typedef CtAssignment *(*CtAssignFunc)(CtEngine *engine, CtDevice *device, gpointer user_data);

CtEngine *ct_engine_new(CtConfig *config);

/* the ledger lives at @path instead of STATE_DIR/ledger.db (tests, bench) */
void ct_engine_set_ledger_path(CtEngine *self, const gchar *path);
/* ask at a terminal for a password when no ticket exists (the CLI in --direct) */
void ct_engine_set_prompt_func(CtEngine *self,
                               CtPromptFunc func,
                               gpointer user_data,
                               GDestroyNotify destroy);
void ct_engine_set_assign_func(CtEngine *self,
                               CtAssignFunc func,
                               gpointer user_data,
                               GDestroyNotify destroy);
/* approve every phone the assign func accepted, without asking (bench rosters) */
void ct_engine_set_auto_approve(CtEngine *self, gboolean auto_approve);
/*
 * At most @max enrollments talk to the certificate service at once (0, the
 * default: no bound); the others wait in arrival order, their phones showing
 * "enrolling: waiting for a free enrollment slot". For benches that must not
 * flood a CA.
 */
void ct_engine_set_max_enrollments(CtEngine *self, guint max);

/* open the ledger, start USB monitoring (reports phones already plugged in too) */
gboolean ct_engine_start(CtEngine *self, GError **error);
/* cancel what runs, close every phone (their staging is discarded by the phone) */
void ct_engine_stop(CtEngine *self);

CtConfig *ct_engine_get_config(CtEngine *self);
/* the default user ("sip:..."), or NULL when it cannot be resolved yet */
const gchar *ct_engine_get_user(CtEngine *self);

/* every device seen since start (connected or not), as CtDevice, in arrival order */
GPtrArray *ct_engine_get_devices(CtEngine *self);
/* by id, serial, identity fingerprint prefix or USB port; CT_ERROR_NOT_FOUND */
CtDevice *ct_engine_find_device(CtEngine *self, const gchar *name, GError **error);
/* TRUE when a phone is connected or work is still running (for idle exit) */
gboolean ct_engine_is_busy(CtEngine *self);

gboolean ct_engine_approve_device(CtEngine *self, CtDevice *device, GError **error);
gboolean ct_engine_reject_device(CtEngine *self, CtDevice *device, GError **error);
/* provision now (force: even if its certificate is up to date) */
gboolean
ct_engine_provision_device(CtEngine *self, CtDevice *device, gboolean force, GError **error);
gboolean ct_engine_forget_device(CtEngine *self, CtDevice *device, GError **error);

/* ledger events, newest first, as an "aa{sv}" GVariant (time, serial, state, message) */
GVariant *ct_engine_get_history(CtEngine *self, const gchar *serial, guint limit, GError **error);

/* ---- for callers that show a snapshot and leave (certtether --direct list/status) ---------- */

/*
 * How many phones on the bus the engine has not identified yet: reported by
 * USB (the ones plugged in at ct_engine_start() are reported by the first
 * main-loop turns) but not answered HELLO yet. While the USB transport still
 * has queued work to deliver, at least 1. Re-check after "device-added" and
 * each device's "changed", with a time bound of your own.
 */
guint ct_engine_count_unidentified(CtEngine *self);

G_END_DECLS
