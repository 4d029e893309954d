/*
 * What the engine's parts (sessions, enrollment jobs) ask of the engine. Not
 * installed, not for the D-Bus service or the CLI: they use ct-engine.h.
 */
#pragma once

#include "daemon/engine/ct-engine.h"
#include "daemon/engine/ct-enrollment.h"
#include "daemon/engine/ct-ledger.h"

G_BEGIN_DECLS

typedef struct _CtSession CtSession;

CtLedger *ct_engine_get_ledger(CtEngine *self);

/*
 * A session learnt who its phone is: return the CtDevice for this identity
 * (the one seen before, or a new one announced with "device-added").
 */
CtDevice *ct_engine_identify_device(CtEngine *self,
                                    CtSession *session,
                                    const gchar *serial,
                                    const gchar *identity_fpr);

/* the device for a phone that failed before it could identify itself */
CtDevice *ct_engine_add_anonymous_device(CtEngine *self, CtSession *session, const gchar *usb_port);

/*
 * Whom this phone is provisioned for: the assign func's answer (bench roster)
 * or the desktop user. NULL: leave the phone alone (not on the roster).
 */
CtAssignment *ct_engine_assign_device(CtEngine *self, CtDevice *device);

/*
 * Fill in what the assignment leaves open: the credentials (the engine's
 * default ones) and the SIP URI (config, else the credentials' principal).
 * Fails with CT_ERROR_NO_CREDENTIALS ("... run kinit") or CT_ERROR_CONFIG.
 */
gboolean ct_engine_resolve_user(CtEngine *self, CtAssignment *assignment, GError **error);

/* the bench flag: approve what the assign func accepted */
gboolean ct_engine_get_auto_approve(CtEngine *self);

/*
 * Enroll @csr_der for @device unless an enrollment of the same CSR already
 * runs (then join it). When it ends, the engine records the outcome in the
 * ledger and calls ct_session_enrollment_done() on the device's session, if
 * the phone is (still, or again) connected.
 */
void ct_engine_enroll(CtEngine *self,
                      CtDevice *device,
                      GBytes *csr_der,
                      const gchar *csr_sha256,
                      const gchar *sip_uri,
                      CtCredentials *credentials,
                      gboolean renewal);
gboolean ct_engine_is_enrolling(CtEngine *self, const gchar *csr_sha256);

/* a session ended (unplug, failure after close, engine stop) */
void ct_engine_session_closed(CtEngine *self, CtSession *session);

/* record a device state change: one structured log line and one ledger event */
void ct_engine_log_state(CtEngine *self, CtDevice *device, gint64 ledger_device_id);

G_END_DECLS
