/*
 * CtSession: the path of one plugged-in phone, from HELLO to COMMIT, as an
 * asynchronous state machine on the main loop. It owns the phone's USB handle;
 * it ends when the phone is unplugged or the engine stops. Enrollment itself
 * is an engine job (it may outlive the session: see ct_engine_enroll()).
 */
#pragma once

#include "daemon/engine/ct-engine-private.h"
#include "usbproto/host/ctp-host.h"

G_BEGIN_DECLS

/* takes ownership of @usb */
CtSession *ct_session_new(CtEngine *engine, ctp_host_device *usb);
void ct_session_free(CtSession *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtSession, ct_session_free)

void ct_session_start(CtSession *self);

/* NULL until the phone has answered HELLO (or failed before it) */
CtDevice *ct_session_get_device(CtSession *self);
libusb_device *ct_session_get_usb_device(CtSession *self);

/* the phone left the bus: stop, mark the device disconnected */
void ct_session_unplugged(CtSession *self);

/* the user approved the phone: resolve the user, pair, provision (errors: not now, say why) */
gboolean ct_session_approve(CtSession *self, GError **error);
/* the user rejected the phone: nothing more happens to it */
void ct_session_rejected(CtSession *self);
/* the user forgot the phone: its ledger row is gone, later events go without it */
void ct_session_forgotten(CtSession *self);

/* run the path again from STATUS; force renews an up-to-date certificate */
gboolean ct_session_provision(CtSession *self, gboolean force, GError **error);

/* the engine's enrollment of @csr_sha256 ended (the ledger holds the outcome) */
void ct_session_enrollment_done(CtSession *self, const gchar *csr_sha256, const GError *error);

/* enrollment progress (attempts, next retry) for the phone's display */
void ct_session_enrollment_progress(CtSession *self, CtDeviceState state, const gchar *detail);

G_END_DECLS
