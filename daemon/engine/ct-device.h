/*
 * CtDevice: one phone as the engine sees it — identity, provisioning state,
 * progress, installed certificate and the last error with a hint. It is the
 * observable model: the D-Bus service and the CLI read it and watch "changed";
 * only the engine's session code writes it.
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

typedef enum {
	CT_DEVICE_STATE_CONNECTED,         /* plugged in, session starting */
	CT_DEVICE_STATE_IDENTIFYING,       /* HELLO: identity and capabilities */
	CT_DEVICE_STATE_AWAITING_APPROVAL, /* policy ask: waiting for the user */
	CT_DEVICE_STATE_REJECTED,          /* the user or the allow list refused it */
	CT_DEVICE_STATE_CHECKING,          /* STATUS: is a (re)new certificate needed? */
	CT_DEVICE_STATE_UP_TO_DATE,        /* nothing to do */
	CT_DEVICE_STATE_GENERATING_KEY,    /* CREATE_CSR: the phone makes its key */
	CT_DEVICE_STATE_CHECKING_CSR,      /* CSR policy checks before anything leaves */
	CT_DEVICE_STATE_ENROLLING,         /* talking to the certificate service */
	CT_DEVICE_STATE_WAITING_RETRY,     /* transient failure, retry scheduled */
	CT_DEVICE_STATE_VERIFYING,         /* issued certificate and chain checks */
	CT_DEVICE_STATE_INSTALLING,        /* STAGE: certificate, chain, anchors, settings */
	CT_DEVICE_STATE_COMMITTING,        /* COMMIT */
	CT_DEVICE_STATE_PROVISIONED,       /* done */
	CT_DEVICE_STATE_FAILED,            /* stopped with last error + hint */
	CT_DEVICE_STATE_DISCONNECTED,      /* unplugged */
	CT_DEVICE_STATE_LAST
} CtDeviceState;

/* "awaiting-approval", ...; NULL for an invalid value */
const gchar *ct_device_state_to_string(CtDeviceState state);
/* CT_DEVICE_STATE_LAST when unknown */
CtDeviceState ct_device_state_from_string(const gchar *name);
/* TRUE for states where nothing happens until the user or a re-plug acts */
gboolean ct_device_state_is_final(CtDeviceState state);

#define CT_TYPE_DEVICE (ct_device_get_type())
G_DECLARE_FINAL_TYPE(CtDevice, ct_device, CT, DEVICE, GObject)

CtDevice *ct_device_new(const gchar *id);

/* stable id: derived from serial + identity fingerprint once known ("phone-<serial>") */
const gchar *ct_device_get_id(CtDevice *self);
const gchar *ct_device_get_serial(CtDevice *self);
const gchar *ct_device_get_vendor(CtDevice *self);
const gchar *ct_device_get_model(CtDevice *self);
const gchar *ct_device_get_firmware(CtDevice *self);
const gchar *ct_device_get_identity_fingerprint(CtDevice *self);
const gchar *ct_device_get_usb_port(CtDevice *self);
gboolean ct_device_get_connected(CtDevice *self);
gboolean ct_device_get_paired(CtDevice *self);
CtDeviceState ct_device_get_state(CtDevice *self);
guint ct_device_get_progress(CtDevice *self);
const gchar *ct_device_get_state_detail(CtDevice *self);
const gchar *ct_device_get_user(CtDevice *self);
const gchar *ct_device_get_certificate_serial(CtDevice *self);
const gchar *ct_device_get_certificate_subject(CtDevice *self);
const gchar *ct_device_get_certificate_issuer(CtDevice *self);
gint64 ct_device_get_certificate_not_after(CtDevice *self);
/* the last error as a GError (domain CT_ERROR), or NULL */
const GError *ct_device_get_last_error(CtDevice *self);
const gchar *ct_device_get_hint(CtDevice *self);
guint ct_device_get_attempts(CtDevice *self);
gint64 ct_device_get_next_retry(CtDevice *self);
/*
 * The trust anchors the phone holds, as it reported them (STATUS) or as the last
 * COMMIT installed them: lower-case hex SHA-256 of each anchor's DER,
 * NULL-terminated. NULL while unknown (the phone has not been asked yet).
 */
const gchar *const *ct_device_get_trust_anchors(CtDevice *self);

/* writers, for the engine: each emits "changed" once (batch with freeze/thaw) */
void ct_device_set_identity(CtDevice *self,
                            const gchar *serial,
                            const gchar *vendor,
                            const gchar *model,
                            const gchar *firmware,
                            const gchar *identity_fingerprint);
void ct_device_set_usb_port(CtDevice *self, const gchar *usb_port);
void ct_device_set_connected(CtDevice *self, gboolean connected);
void ct_device_set_paired(CtDevice *self, gboolean paired);
void ct_device_set_state(CtDevice *self, CtDeviceState state, guint progress, const gchar *detail);
void ct_device_set_user(CtDevice *self, const gchar *user);
void ct_device_set_certificate(CtDevice *self,
                               const gchar *serial,
                               const gchar *subject,
                               const gchar *issuer,
                               gint64 not_after);
/* error NULL clears; the hint defaults to ct_error_code_hint() of its code */
void ct_device_set_last_error(CtDevice *self, const GError *error, const gchar *hint);
void ct_device_set_retry(CtDevice *self, guint attempts, gint64 next_retry);
/* @sha256s NULL: unknown again */
void ct_device_set_trust_anchors(CtDevice *self, const gchar *const *sha256s);

/* a{sv} of every property, as the D-Bus API and --json show them */
GVariant *ct_device_to_variant(CtDevice *self);

G_END_DECLS
