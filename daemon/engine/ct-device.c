#include "daemon/engine/ct-device.h"

#include "daemon/engine/ct-error.h"

struct _CtDevice {
	GObject parent_instance;
	gchar *id;
	gchar *serial;
	gchar *vendor;
	gchar *model;
	gchar *firmware;
	gchar *identity_fingerprint;
	gchar *usb_port;
	gboolean connected;
	gboolean paired;
	CtDeviceState state;
	guint progress;
	gchar *state_detail;
	gchar *user;
	gchar *cert_serial;
	gchar *cert_subject;
	gchar *cert_issuer;
	gint64 cert_not_after;
	GError *last_error;
	gchar *hint;
	guint attempts;
	gint64 next_retry;
	GStrv trust_anchors; /* NULL while unknown */
};

G_DEFINE_TYPE(CtDevice, ct_device, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

static const gchar *const state_names[CT_DEVICE_STATE_LAST] = {
    [CT_DEVICE_STATE_CONNECTED] = "connected",
    [CT_DEVICE_STATE_IDENTIFYING] = "identifying",
    [CT_DEVICE_STATE_AWAITING_APPROVAL] = "awaiting-approval",
    [CT_DEVICE_STATE_REJECTED] = "rejected",
    [CT_DEVICE_STATE_CHECKING] = "checking",
    [CT_DEVICE_STATE_UP_TO_DATE] = "up-to-date",
    [CT_DEVICE_STATE_GENERATING_KEY] = "generating-key",
    [CT_DEVICE_STATE_CHECKING_CSR] = "checking-csr",
    [CT_DEVICE_STATE_ENROLLING] = "enrolling",
    [CT_DEVICE_STATE_WAITING_RETRY] = "waiting-retry",
    [CT_DEVICE_STATE_VERIFYING] = "verifying",
    [CT_DEVICE_STATE_INSTALLING] = "installing",
    [CT_DEVICE_STATE_COMMITTING] = "committing",
    [CT_DEVICE_STATE_PROVISIONED] = "provisioned",
    [CT_DEVICE_STATE_FAILED] = "failed",
    [CT_DEVICE_STATE_DISCONNECTED] = "disconnected",
};

const gchar *
ct_device_state_to_string(CtDeviceState state)
{
	if ((gint)state < 0 || state >= CT_DEVICE_STATE_LAST)
		return NULL;
	return state_names[state];
}

CtDeviceState
ct_device_state_from_string(const gchar *name)
{
	for (guint i = 0; name != NULL && i < CT_DEVICE_STATE_LAST; i++) {
		if (g_strcmp0(state_names[i], name) == 0)
			return (CtDeviceState)i;
	}
	return CT_DEVICE_STATE_LAST;
}

gboolean
ct_device_state_is_final(CtDeviceState state)
{
	return state == CT_DEVICE_STATE_AWAITING_APPROVAL || state == CT_DEVICE_STATE_REJECTED ||
	       state == CT_DEVICE_STATE_UP_TO_DATE || state == CT_DEVICE_STATE_PROVISIONED ||
	       state == CT_DEVICE_STATE_FAILED || state == CT_DEVICE_STATE_DISCONNECTED;
}

static void
ct_device_finalize(GObject *object)
{
	CtDevice *self = CT_DEVICE(object);
	g_free(self->id);
	g_free(self->serial);
	g_free(self->vendor);
	g_free(self->model);
	g_free(self->firmware);
	g_free(self->identity_fingerprint);
	g_free(self->usb_port);
	g_strfreev(self->trust_anchors);
	g_free(self->state_detail);
	g_free(self->user);
	g_free(self->cert_serial);
	g_free(self->cert_subject);
	g_free(self->cert_issuer);
	g_clear_error(&self->last_error);
	g_free(self->hint);
	G_OBJECT_CLASS(ct_device_parent_class)->finalize(object);
}

static void
ct_device_class_init(CtDeviceClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = ct_device_finalize;
	/* one coarse signal: observers re-read what they show, the D-Bus layer diffs */
	signals[SIGNAL_CHANGED] =
	    g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                 NULL, G_TYPE_NONE, 0);
}

static void
ct_device_init(CtDevice *self)
{
	self->state = CT_DEVICE_STATE_CONNECTED;
}

CtDevice *
ct_device_new(const gchar *id)
{
	CtDevice *self = g_object_new(CT_TYPE_DEVICE, NULL);
	g_return_val_if_fail(id != NULL, NULL);
	self->id = g_strdup(id);
	return self;
}

static void
ct_device_emit_changed(CtDevice *self)
{
	g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
}

/* replace a string field; TRUE when the value changed */
static gboolean
ct_device_replace(gchar **field, const gchar *value)
{
	if (g_strcmp0(*field, value) == 0)
		return FALSE;
	g_free(*field);
	*field = g_strdup(value);
	return TRUE;
}

#define CT_DEVICE_GETTER_STR(name, field)                                                          \
	const gchar *ct_device_get_##name(CtDevice *self)                                          \
	{                                                                                          \
		g_return_val_if_fail(CT_IS_DEVICE(self), NULL);                                    \
		return self->field != NULL ? self->field : "";                                     \
	}

CT_DEVICE_GETTER_STR(serial, serial)
CT_DEVICE_GETTER_STR(vendor, vendor)
CT_DEVICE_GETTER_STR(model, model)
CT_DEVICE_GETTER_STR(firmware, firmware)
CT_DEVICE_GETTER_STR(identity_fingerprint, identity_fingerprint)
CT_DEVICE_GETTER_STR(usb_port, usb_port)
CT_DEVICE_GETTER_STR(state_detail, state_detail)
CT_DEVICE_GETTER_STR(user, user)
CT_DEVICE_GETTER_STR(certificate_serial, cert_serial)
CT_DEVICE_GETTER_STR(certificate_subject, cert_subject)
CT_DEVICE_GETTER_STR(certificate_issuer, cert_issuer)

const gchar *
ct_device_get_id(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), NULL);
	return self->id;
}

gboolean
ct_device_get_connected(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), FALSE);
	return self->connected;
}

gboolean
ct_device_get_paired(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), FALSE);
	return self->paired;
}

CtDeviceState
ct_device_get_state(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), CT_DEVICE_STATE_LAST);
	return self->state;
}

guint
ct_device_get_progress(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), 0);
	return self->progress;
}

gint64
ct_device_get_certificate_not_after(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), 0);
	return self->cert_not_after;
}

const GError *
ct_device_get_last_error(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), NULL);
	return self->last_error;
}

const gchar *
ct_device_get_hint(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), NULL);
	return self->hint != NULL ? self->hint : "";
}

guint
ct_device_get_attempts(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), 0);
	return self->attempts;
}

gint64
ct_device_get_next_retry(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), 0);
	return self->next_retry;
}

void
ct_device_set_identity(CtDevice *self,
                       const gchar *serial,
                       const gchar *vendor,
                       const gchar *model,
                       const gchar *firmware,
                       const gchar *identity_fingerprint)
{
	gboolean changed = FALSE;
	g_return_if_fail(CT_IS_DEVICE(self));
	changed |= ct_device_replace(&self->serial, serial);
	changed |= ct_device_replace(&self->vendor, vendor);
	changed |= ct_device_replace(&self->model, model);
	changed |= ct_device_replace(&self->firmware, firmware);
	changed |= ct_device_replace(&self->identity_fingerprint, identity_fingerprint);
	if (changed)
		ct_device_emit_changed(self);
}

void
ct_device_set_usb_port(CtDevice *self, const gchar *usb_port)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (ct_device_replace(&self->usb_port, usb_port))
		ct_device_emit_changed(self);
}

void
ct_device_set_connected(CtDevice *self, gboolean connected)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (self->connected == connected)
		return;
	self->connected = connected;
	ct_device_emit_changed(self);
}

void
ct_device_set_paired(CtDevice *self, gboolean paired)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (self->paired == paired)
		return;
	self->paired = paired;
	ct_device_emit_changed(self);
}

void
ct_device_set_state(CtDevice *self, CtDeviceState state, guint progress, const gchar *detail)
{
	gboolean changed = FALSE;
	g_return_if_fail(CT_IS_DEVICE(self));
	g_return_if_fail(state < CT_DEVICE_STATE_LAST);
	if (self->state != state) {
		self->state = state;
		changed = TRUE;
	}
	progress = MIN(progress, 100);
	if (self->progress != progress) {
		self->progress = progress;
		changed = TRUE;
	}
	changed |= ct_device_replace(&self->state_detail, detail);
	if (changed)
		ct_device_emit_changed(self);
}

void
ct_device_set_user(CtDevice *self, const gchar *user)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (ct_device_replace(&self->user, user))
		ct_device_emit_changed(self);
}

void
ct_device_set_certificate(CtDevice *self,
                          const gchar *serial,
                          const gchar *subject,
                          const gchar *issuer,
                          gint64 not_after)
{
	gboolean changed = FALSE;
	g_return_if_fail(CT_IS_DEVICE(self));
	changed |= ct_device_replace(&self->cert_serial, serial);
	changed |= ct_device_replace(&self->cert_subject, subject);
	changed |= ct_device_replace(&self->cert_issuer, issuer);
	if (self->cert_not_after != not_after) {
		self->cert_not_after = not_after;
		changed = TRUE;
	}
	if (changed)
		ct_device_emit_changed(self);
}

void
ct_device_set_last_error(CtDevice *self, const GError *error, const gchar *hint)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (error == NULL && self->last_error == NULL)
		return;
	g_clear_error(&self->last_error);
	g_clear_pointer(&self->hint, g_free);
	if (error != NULL) {
		self->last_error = g_error_copy(error);
		if (hint != NULL)
			self->hint = g_strdup(hint);
		else if (error->domain == CT_ERROR)
			self->hint = g_strdup(ct_error_code_hint((CtError)error->code));
	}
	ct_device_emit_changed(self);
}

void
ct_device_set_retry(CtDevice *self, guint attempts, gint64 next_retry)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (self->attempts == attempts && self->next_retry == next_retry)
		return;
	self->attempts = attempts;
	self->next_retry = next_retry;
	ct_device_emit_changed(self);
}

const gchar *const *
ct_device_get_trust_anchors(CtDevice *self)
{
	g_return_val_if_fail(CT_IS_DEVICE(self), NULL);
	return (const gchar *const *)self->trust_anchors;
}

void
ct_device_set_trust_anchors(CtDevice *self, const gchar *const *sha256s)
{
	g_return_if_fail(CT_IS_DEVICE(self));
	if (sha256s == NULL && self->trust_anchors == NULL)
		return;
	if (sha256s != NULL && self->trust_anchors != NULL &&
	    g_strv_equal((const gchar *const *)self->trust_anchors, sha256s))
		return;
	g_strfreev(self->trust_anchors);
	self->trust_anchors = g_strdupv((gchar **)sha256s);
	ct_device_emit_changed(self);
}

/* the D-Bus error name for the last error, "" when none */
static gchar *
ct_device_dup_error_name(CtDevice *self)
{
	if (self->last_error == NULL)
		return g_strdup("");
	if (self->last_error->domain == CT_ERROR)
		return g_strdup_printf("org.certtether.Error.%s",
		                       ct_error_code_to_string((CtError)self->last_error->code));
	return g_strdup("org.certtether.Error.Internal");
}

GVariant *
ct_device_to_variant(CtDevice *self)
{
	GVariantBuilder builder;
	g_autofree gchar *error_name = NULL;
	g_return_val_if_fail(CT_IS_DEVICE(self), NULL);

	error_name = ct_device_dup_error_name(self);
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&builder, "{sv}", "Id", g_variant_new_string(self->id));
	g_variant_builder_add(&builder, "{sv}", "Serial",
	                      g_variant_new_string(ct_device_get_serial(self)));
	g_variant_builder_add(&builder, "{sv}", "Vendor",
	                      g_variant_new_string(ct_device_get_vendor(self)));
	g_variant_builder_add(&builder, "{sv}", "Model",
	                      g_variant_new_string(ct_device_get_model(self)));
	g_variant_builder_add(&builder, "{sv}", "Firmware",
	                      g_variant_new_string(ct_device_get_firmware(self)));
	g_variant_builder_add(&builder, "{sv}", "IdentityFingerprint",
	                      g_variant_new_string(ct_device_get_identity_fingerprint(self)));
	g_variant_builder_add(&builder, "{sv}", "UsbPort",
	                      g_variant_new_string(ct_device_get_usb_port(self)));
	g_variant_builder_add(&builder, "{sv}", "Connected",
	                      g_variant_new_boolean(self->connected));
	g_variant_builder_add(&builder, "{sv}", "Paired", g_variant_new_boolean(self->paired));
	g_variant_builder_add(&builder, "{sv}", "State",
	                      g_variant_new_string(state_names[self->state]));
	g_variant_builder_add(&builder, "{sv}", "Progress", g_variant_new_uint32(self->progress));
	g_variant_builder_add(&builder, "{sv}", "StateDetail",
	                      g_variant_new_string(ct_device_get_state_detail(self)));
	g_variant_builder_add(&builder, "{sv}", "User",
	                      g_variant_new_string(ct_device_get_user(self)));
	g_variant_builder_add(&builder, "{sv}", "CertificateSerial",
	                      g_variant_new_string(ct_device_get_certificate_serial(self)));
	g_variant_builder_add(&builder, "{sv}", "CertificateSubject",
	                      g_variant_new_string(ct_device_get_certificate_subject(self)));
	g_variant_builder_add(&builder, "{sv}", "CertificateIssuer",
	                      g_variant_new_string(ct_device_get_certificate_issuer(self)));
	g_variant_builder_add(&builder, "{sv}", "CertificateNotAfter",
	                      g_variant_new_int64(self->cert_not_after));
	g_variant_builder_add(&builder, "{sv}", "LastError", g_variant_new_string(error_name));
	g_variant_builder_add(
	    &builder, "{sv}", "LastErrorMessage",
	    g_variant_new_string(self->last_error != NULL ? self->last_error->message : ""));
	g_variant_builder_add(&builder, "{sv}", "Hint",
	                      g_variant_new_string(ct_device_get_hint(self)));
	g_variant_builder_add(&builder, "{sv}", "Attempts", g_variant_new_uint32(self->attempts));
	g_variant_builder_add(&builder, "{sv}", "NextRetry", g_variant_new_int64(self->next_retry));
	g_variant_builder_add(&builder, "{sv}", "TrustAnchors",
	                      g_variant_new_strv((const gchar *const *)self->trust_anchors,
	                                         self->trust_anchors != NULL ? -1 : 0));
	g_variant_builder_add(&builder, "{sv}", "TrustAnchorsKnown",
	                      g_variant_new_boolean(self->trust_anchors != NULL));
	return g_variant_builder_end(&builder);
}
