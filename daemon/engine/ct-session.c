/*
 * One phone's provisioning path (see ct-session.h and DESIGN.md):
 *
 *   HELLO -> identity check -> policy -> STATUS -> (resume | renewal check)
 *   -> CREATE_CSR -> CSR checks -> enrollment (engine job) -> STAGE_BEGIN
 *   -> STAGE_ITEM... -> COMMIT -> ledger -> provisioned
 *
 * Every step is a USB call whose completion callback starts the next one; a
 * failure stops the path with the device's last error and hint set. Nothing
 * leaves the desktop before the CSR checks pass, and nothing is installed
 * before the ledger holds the certificate (so a crash never loses it).
 */
#include "daemon/engine/ct-session.h"

#include <openssl/rand.h>

#include "daemon/engine/ct-cert-info.h"
#include "daemon/engine/ct-csr-check.h"
#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-policy.h"
#include "daemon/engine/ct-x509.h"

/* one STAGE_ITEM to send */
typedef struct {
	guint8 kind;
	guint8 index;
	guint8 setting;
	GBytes *data;
} CtStageItem;

struct _CtSession {
	CtEngine *engine; /* not owned: the engine outlives its sessions */
	ctp_host_device *usb;
	libusb_device *usb_device; /* ours (ref), to match the LEFT event even after close */
	CtDevice *device;
	gint64 ledger_device_id;
	gboolean busy; /* a step of the path is running */
	gboolean unplugged;

	/* HELLO */
	guint8 challenge[CTP_CHALLENGE_SIZE];
	guint16 key_algs;
	guint32 capabilities;
	guint8 max_chain;
	guint8 max_anchors;

	/* who the certificate is for */
	CtAssignment *assignment;
	gboolean force;

	/* CREATE_CSR */
	guint key_alg;
	GBytes *subject_der;
	GBytes *san_der;
	GBytes *nonce;
	gchar *awaited_csr; /* the CSR whose enrollment this session waits for */

	/* INSTALL */
	GPtrArray *stage_items; /* CtStageItem */
	guint stage_next;
	guint32 txn_id;
	gchar *expected_cert_sha256;
	GBytes *installing_cert; /* DER of what is being installed */
};

/* progress shown for each state (percent of the whole path) */
static guint
ct_session_progress_of(CtDeviceState state)
{
	switch (state) {
	case CT_DEVICE_STATE_CONNECTED:
		return 0;
	case CT_DEVICE_STATE_IDENTIFYING:
		return 5;
	case CT_DEVICE_STATE_AWAITING_APPROVAL:
	case CT_DEVICE_STATE_REJECTED:
		return 10;
	case CT_DEVICE_STATE_CHECKING:
		return 15;
	case CT_DEVICE_STATE_GENERATING_KEY:
		return 20;
	case CT_DEVICE_STATE_CHECKING_CSR:
		return 45;
	case CT_DEVICE_STATE_ENROLLING:
	case CT_DEVICE_STATE_WAITING_RETRY:
		return 50;
	case CT_DEVICE_STATE_VERIFYING:
		return 70;
	case CT_DEVICE_STATE_INSTALLING:
		return 80;
	case CT_DEVICE_STATE_COMMITTING:
		return 95;
	case CT_DEVICE_STATE_UP_TO_DATE:
	case CT_DEVICE_STATE_PROVISIONED:
		return 100;
	case CT_DEVICE_STATE_FAILED:
	case CT_DEVICE_STATE_DISCONNECTED:
	case CT_DEVICE_STATE_LAST:
		break;
	}
	return 0;
}

static void
ct_stage_item_free(CtStageItem *item)
{
	g_bytes_unref(item->data);
	g_free(item);
}

static void
ct_session_set_state_full(CtSession *self, CtDeviceState state, guint progress, const gchar *detail)
{
	CtDeviceState old;
	if (self->device == NULL)
		return;
	old = ct_device_get_state(self->device);
	ct_device_set_state(self->device, state, progress, detail);
	/* one log line and one ledger event per state change, not per progress tick */
	if (old != state)
		ct_engine_log_state(self->engine, self->device, self->ledger_device_id);
}

static void
ct_session_set_state(CtSession *self, CtDeviceState state, const gchar *detail)
{
	ct_session_set_state_full(self, state, ct_session_progress_of(state), detail);
}

/* stop the path: the device shows the error and its hint */
static void
ct_session_fail(CtSession *self, const GError *error)
{
	self->busy = FALSE;
	g_clear_pointer(&self->awaited_csr, g_free);
	if (self->device == NULL)
		return;
	ct_device_set_last_error(self->device, error, NULL);
	ct_session_set_state(self, CT_DEVICE_STATE_FAILED, error->message);
}

static void
ct_session_fail_literal(CtSession *self, CtError code, const gchar *message)
{
	g_autoptr(GError) error = g_error_new_literal(CT_ERROR, code, message);
	ct_session_fail(self, error);
}

/*
 * A transport outcome as an engine error; NULL when the call succeeded. A phone
 * that did not even answer the resynchronising PING is given up on (PROTOCOL.md
 * 2.3): its handle is closed, so nothing more is sent until it is plugged in again.
 */
static GError *
ct_session_reply_to_error(CtSession *self, const ctp_host_reply *reply, const gchar *step)
{
	if (reply->status != CTP_HOST_OK && reply->resync_failed && self->usb != NULL) {
		ctp_host_device_close(self->usb);
		self->usb = NULL;
		return g_error_new(CT_ERROR, CT_ERROR_DEVICE,
		                   "the phone stopped answering during %s (%s): unplug it and plug "
		                   "it in again",
		                   step, reply->message);
	}
	switch (reply->status) {
	case CTP_HOST_OK:
		return NULL;
	case CTP_HOST_NO_DEVICE:
		return g_error_new(CT_ERROR, CT_ERROR_DEVICE_GONE,
		                   "the phone was unplugged during %s", step);
	case CTP_HOST_DEVICE_ERROR:
		return g_error_new(CT_ERROR, CT_ERROR_DEVICE, "the phone refused %s: %s (%s)", step,
		                   ctp_device_error_to_string(reply->device_error), reply->message);
	case CTP_HOST_CANCELLED:
		return g_error_new(CT_ERROR, CT_ERROR_CANCELLED, "%s was cancelled", step);
	default:
		return g_error_new(CT_ERROR, CT_ERROR_DEVICE, "the phone failed during %s: %s",
		                   step, reply->message);
	}
}

/* issue one USB call; on a local failure to even start it, fail the path */
static gboolean
ct_session_call(CtSession *self,
                const ctp_message *request,
                unsigned timeout_ms,
                ctp_host_progress_func progress,
                ctp_host_done_func done)
{
	ctp_host_status status;
	if (self->usb == NULL) {
		ct_session_fail_literal(self, CT_ERROR_DEVICE_GONE,
		                        "the phone is no longer connected");
		return FALSE;
	}
	status = ctp_host_device_call(self->usb, request, timeout_ms, progress, done, self);
	if (status != CTP_HOST_OK) {
		g_autoptr(GError) error = g_error_new(
		    CT_ERROR, status == CTP_HOST_NO_DEVICE ? CT_ERROR_DEVICE_GONE : CT_ERROR_DEVICE,
		    "could not send %s to the phone: %s", ctp_message_type_to_string(request->type),
		    ctp_host_status_to_string(status));
		ct_session_fail(self, error);
		return FALSE;
	}
	return TRUE;
}

/* a text field from the phone (already validated UTF-8 by the codec) */
static gchar *
ct_session_dup_text(ctp_bytes b)
{
	return g_strndup((const gchar *)b.data, b.len);
}

/* lower-case hex, as the ledger keeps digests */
static gchar *
ct_session_hex(ctp_bytes b)
{
	GString *hex = g_string_sized_new(b.len * 2u);
	for (guint i = 0; i < b.len; i++)
		g_string_append_printf(hex, "%02x", b.data[i]);
	return g_string_free(hex, FALSE);
}

static GBytes *
ct_session_dup_bytes(ctp_bytes b)
{
	return g_bytes_new(b.data, b.len);
}

static GBytes *
ct_session_random_bytes(gsize len)
{
	guint8 *buf = g_malloc(len);
	if (RAND_bytes(buf, (int)len) != 1) {
		/* the OpenSSL DRBG does not fail on Linux; if it ever does, do not go on weakly */
		g_error("RAND_bytes failed: no randomness for a challenge");
	}
	return g_bytes_new_take(buf, len);
}

static ctp_bytes
ct_session_view(GBytes *bytes)
{
	gsize len = 0;
	const guint8 *data = bytes != NULL ? g_bytes_get_data(bytes, &len) : NULL;
	return ctp_bytes_from(data, len);
}

/* ---- STATUS, renewal, resume ------------------------------------------------------------ */

static void ct_session_run_status(CtSession *self);
static void ct_session_create_csr(CtSession *self);
static void ct_session_install_enrollment(CtSession *self, const CtLedgerEnrollment *row);

static void
ct_session_show_certificate(CtSession *self, GBytes *cert_der)
{
	g_autoptr(CtCertInfo) info = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *issuer = NULL;
	if (cert_der == NULL) {
		ct_device_set_certificate(self->device, NULL, NULL, NULL, 0);
		return;
	}
	info = ct_cert_info_new(cert_der, &error);
	if (info == NULL) {
		g_debug("phone %s: installed certificate unreadable: %s",
		        ct_device_get_serial(self->device), error->message);
		ct_device_set_certificate(self->device, NULL, NULL, NULL, 0);
		return;
	}
	issuer = ct_x509_issuer_string(info->x509);
	ct_device_set_certificate(self->device, info->serial, info->subject, issuer,
	                          info->not_after / G_USEC_PER_SEC);
}

/* what the phone trusts, for `certtether test chain DEVICE` */
static void
ct_session_show_anchors(CtSession *self, const ctp_status_rsp *st)
{
	g_autoptr(GPtrArray) anchors = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < st->n_anchor_sha256 && i < CTP_MAX_ANCHORS; i++)
		g_ptr_array_add(anchors, ct_session_hex(st->anchor_sha256[i]));
	g_ptr_array_add(anchors, NULL);
	ct_device_set_trust_anchors(self->device, (const gchar *const *)anchors->pdata);
}

/* after a COMMIT: staged anchors replace the installed set (none staged keeps it) */
static void
ct_session_show_staged_anchors(CtSession *self)
{
	g_autoptr(GPtrArray) anchors = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < self->stage_items->len; i++) {
		CtStageItem *item = g_ptr_array_index(self->stage_items, i);
		if (item->kind == CTP_ITEM_ANCHOR)
			g_ptr_array_add(
			    anchors, g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, item->data));
	}
	if (anchors->len == 0)
		return;
	g_ptr_array_add(anchors, NULL);
	ct_device_set_trust_anchors(self->device, (const gchar *const *)anchors->pdata);
}

/* the phone reports a key awaiting its certificate: finish what an earlier run began */
static gboolean
ct_session_try_resume(CtSession *self, const gchar *pending_csr)
{
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	g_autoptr(CtLedgerEnrollment) row = NULL;
	g_autoptr(GError) error = NULL;

	row = ct_ledger_enrollment_find_by_csr(ledger, pending_csr, &error);
	if (row == NULL) {
		if (error != NULL)
			g_warning("ledger lookup of pending CSR failed: %s", error->message);
		return FALSE;
	}
	/* only this phone's own request, for this user, is resumed: a phone that
	 * reports another phone's CSR hash gets nothing from the ledger */
	if (row->device_id != self->ledger_device_id ||
	    g_strcmp0(row->user, self->assignment->sip_uri) != 0)
		return FALSE;
	if (row->state == CT_LEDGER_ENROLLMENT_ISSUED) {
		g_info("phone %s: certificate for its pending key already issued, installing it",
		       ct_device_get_serial(self->device));
		ct_session_install_enrollment(self, row);
		return TRUE;
	}
	if (row->state == CT_LEDGER_ENROLLMENT_REQUESTED) {
		/* still running (phone re-plugged), or cut short by a crash: the engine
		 * joins the running job or sends the same request again */
		self->awaited_csr = g_strdup(pending_csr);
		ct_session_set_state(self, CT_DEVICE_STATE_ENROLLING,
		                     "waiting for the certificate service");
		ct_engine_enroll(self->engine, self->device, row->csr_der, pending_csr, row->user,
		                 self->assignment->credentials, FALSE);
		return TRUE;
	}
	return FALSE;
}

/*
 * The phone holds a certificate the ledger still calls 'issued': its COMMIT went
 * through but the answer was lost (unplug, garbled frame, crash). The phone is
 * the truth here; record the installation.
 */
static void
ct_session_reconcile_installed(CtSession *self, const gchar *cert_sha256)
{
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	g_autoptr(CtLedgerEnrollment) row =
	    ct_ledger_enrollment_find_by_cert(ledger, cert_sha256, NULL);
	g_autoptr(GError) error = NULL;

	if (row == NULL || row->state != CT_LEDGER_ENROLLMENT_ISSUED ||
	    row->device_id != self->ledger_device_id)
		return;
	if (!ct_ledger_enrollment_mark_installed(ledger, row->csr_sha256, &error)) {
		g_warning("phone %s: could not record its installed certificate: %s",
		          ct_device_get_serial(self->device), error->message);
		return;
	}
	g_info("phone %s: holds the certificate issued for it; recorded as installed",
	       ct_device_get_serial(self->device));
}

static void
ct_session_on_status(ctp_host_device *usb, const ctp_host_reply *reply, gpointer user_data)
{
	CtSession *self = user_data;
	const ctp_status_rsp *st;
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	CtConfig *config = ct_engine_get_config(self->engine);
	g_autoptr(GError) error = ct_session_reply_to_error(self, reply, "STATUS");
	g_autoptr(GBytes) cert_der = NULL;
	g_autofree gchar *reason = NULL;
	g_autofree gchar *cert_sha256 = NULL;
	gboolean revoked = FALSE;
	CtRenewalStatus renewal;

	(void)usb;
	if (error != NULL) {
		ct_session_fail(self, error);
		return;
	}
	st = &reply->response->u.status_rsp;
	if (ctp_bytes_present(st->certificate))
		cert_der = ct_session_dup_bytes(st->certificate);
	ct_session_show_certificate(self, cert_der);
	ct_session_show_anchors(self, st);

	if (!self->force && ctp_bytes_present(st->pending_csr_sha256)) {
		g_autofree gchar *pending = ct_session_hex(st->pending_csr_sha256);
		if (ct_session_try_resume(self, pending))
			return;
	}

	if (cert_der != NULL) {
		cert_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, cert_der);
		ct_session_reconcile_installed(self, cert_sha256);
		if (!ct_ledger_is_revoked(ledger, cert_sha256, &revoked, &error)) {
			ct_session_fail(self, error);
			return;
		}
	}
	renewal = ct_policy_renewal_needed(cert_der, self->assignment->sip_uri,
	                                   ct_config_get_renew_before_days(config), revoked,
	                                   g_get_real_time(), &reason);
	if (!self->force && !ct_renewal_status_needs_enrollment(renewal)) {
		self->busy = FALSE;
		ct_device_set_last_error(self->device, NULL, NULL);
		ct_session_set_state(self, CT_DEVICE_STATE_UP_TO_DATE, reason);
		return;
	}
	g_info("phone %s: enrolling: %s%s", ct_device_get_serial(self->device), reason,
	       self->force ? " (forced)" : "");
	ct_session_create_csr(self);
}

static void
ct_session_run_status(CtSession *self)
{
	ctp_message msg = {.type = CTP_MSG_STATUS};
	self->busy = TRUE;
	ct_device_set_last_error(self->device, NULL, NULL);
	ct_session_set_state(self, CT_DEVICE_STATE_CHECKING, "reading the phone's certificate");
	ct_session_call(self, &msg, 0, NULL, ct_session_on_status);
}

/* ---- CREATE_CSR and the checks ---------------------------------------------------------- */

static void
ct_session_on_csr_progress(ctp_host_device *usb,
                           unsigned percent,
                           const char *text,
                           void *user_data)
{
	CtSession *self = user_data;
	g_autofree gchar *detail = NULL;
	(void)usb;
	detail = g_strdup_printf("the phone is generating its key (%u%%%s%s)", percent,
	                         text[0] != '\0' ? ": " : "", text);
	/* 20..40 of the whole path */
	ct_session_set_state_full(self, CT_DEVICE_STATE_GENERATING_KEY, 20 + percent / 5, detail);
}

static void
ct_session_on_csr(ctp_host_device *usb, const ctp_host_reply *reply, gpointer user_data)
{
	CtSession *self = user_data;
	CtConfig *config = ct_engine_get_config(self->engine);
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	const ctp_create_csr_rsp *rsp;
	g_autoptr(GError) error = ct_session_reply_to_error(self, reply, "CREATE_CSR");
	g_autoptr(GBytes) csr_der = NULL;
	g_autoptr(GBytes) pop_sig = NULL;
	g_autoptr(CtCsrCheckResult) checked = NULL;
	g_autoptr(CtLedgerEnrollment) row = NULL;
	g_autoptr(CtLedgerEnrollment) existing = NULL;

	(void)usb;
	if (error != NULL) {
		ct_session_fail(self, error);
		return;
	}
	rsp = &reply->response->u.create_csr_rsp;
	csr_der = ct_session_dup_bytes(rsp->csr);
	pop_sig = ct_session_dup_bytes(rsp->pop_sig);

	/* nothing leaves the desktop before these pass: the phone is untrusted */
	ct_session_set_state(self, CT_DEVICE_STATE_CHECKING_CSR, "checking the phone's request");
	checked = ct_csr_check(csr_der, self->subject_der, self->san_der, self->key_alg,
	                       self->nonce, pop_sig, &error);
	if (checked == NULL) {
		g_warning("phone %s: CSR refused: %s", ct_device_get_serial(self->device),
		          error->message);
		ct_session_fail(self, error);
		return;
	}

	/* one CSR, one certificate: a CSR already enrolled is never sent again */
	existing = ct_ledger_enrollment_find_by_csr(ledger, checked->csr_sha256, NULL);
	if (existing != NULL && existing->state != CT_LEDGER_ENROLLMENT_FAILED) {
		ct_session_fail_literal(
		    self, CT_ERROR_CSR_INVALID,
		    "the phone sent a request it had sent before (a replayed CSR)");
		return;
	}
	row = ct_ledger_enrollment_begin(
	    ledger, self->ledger_device_id, csr_der, ct_csr_key_alg_to_string(self->key_alg),
	    self->assignment->sip_uri, ct_protocol_to_string(ct_config_get_protocol(config)),
	    &error);
	if (row == NULL) {
		ct_session_fail(self, error);
		return;
	}
	self->awaited_csr = g_strdup(checked->csr_sha256);
	ct_session_set_state(self, CT_DEVICE_STATE_ENROLLING, "requesting the certificate");
	ct_engine_enroll(self->engine, self->device, csr_der, checked->csr_sha256,
	                 self->assignment->sip_uri, self->assignment->credentials,
	                 ct_device_get_certificate_serial(self->device)[0] != '\0');
}

static guint
ct_session_key_alg_from_config(CtConfig *config)
{
	return ct_csr_key_alg_from_string(
	    ct_key_algorithm_to_string(ct_config_get_key_algorithm(config)));
}

static void
ct_session_create_csr(CtSession *self)
{
	CtConfig *config = ct_engine_get_config(self->engine);
	ctp_message msg = {.type = CTP_MSG_CREATE_CSR};
	g_autoptr(GError) error = NULL;

	self->key_alg = ct_session_key_alg_from_config(config);
	if ((self->key_algs & CTP_KEY_ALG_BIT(self->key_alg)) == 0) {
		g_autofree gchar *msg_text = g_strdup_printf(
		    "the phone cannot generate %s keys, which [device] key-algorithm asks for",
		    ct_csr_key_alg_to_string(self->key_alg));
		ct_session_fail_literal(self, CT_ERROR_NOT_SUPPORTED, msg_text);
		return;
	}
	g_clear_pointer(&self->subject_der, g_bytes_unref);
	g_clear_pointer(&self->san_der, g_bytes_unref);
	g_clear_pointer(&self->nonce, g_bytes_unref);
	self->subject_der = ct_identity_subject_der(self->assignment->sip_uri, &error);
	if (self->subject_der == NULL) {
		ct_session_fail(self, error);
		return;
	}
	self->san_der = ct_identity_san_der(self->assignment->sip_uri, &error);
	if (self->san_der == NULL) {
		ct_session_fail(self, error);
		return;
	}
	self->nonce = ct_session_random_bytes(32);

	msg.u.create_csr_req.key_alg = (uint8_t)self->key_alg;
	msg.u.create_csr_req.subject = ct_session_view(self->subject_der);
	msg.u.create_csr_req.san = ct_session_view(self->san_der);
	msg.u.create_csr_req.nonce = ct_session_view(self->nonce);
	ct_session_set_state(self, CT_DEVICE_STATE_GENERATING_KEY,
	                     "the phone is generating its key");
	ct_session_call(self, &msg, 0, ct_session_on_csr_progress, ct_session_on_csr);
}

/* ---- INSTALL: STAGE_BEGIN, STAGE_ITEM..., COMMIT ---------------------------------------- */

static void ct_session_send_next_item(CtSession *self);

static void
ct_session_add_item(CtSession *self, guint8 kind, guint8 index, guint8 setting, GBytes *data)
{
	CtStageItem *item = g_new0(CtStageItem, 1);
	item->kind = kind;
	item->index = index;
	item->setting = setting;
	item->data = g_bytes_ref(data);
	g_ptr_array_add(self->stage_items, item);
}

static void
ct_session_add_setting(CtSession *self, guint8 setting, const gchar *value, guint8 *count)
{
	g_autoptr(GBytes) data = NULL;
	if (value == NULL || value[0] == '\0')
		return;
	data = g_bytes_new(value, strlen(value));
	ct_session_add_item(self, CTP_ITEM_SETTING, (*count)++, setting, data);
}

/* add each certificate of a PEM text as an item of @kind; FALSE if unreadable */
static gboolean
ct_session_add_pem_items(
    CtSession *self, guint8 kind, const gchar *pem, guint8 *count, GError **error)
{
	g_autoptr(CtX509Stack) certs = NULL;
	if (pem == NULL || pem[0] == '\0')
		return TRUE;
	certs = ct_x509_from_pem(pem, strlen(pem), error);
	if (certs == NULL)
		return FALSE;
	for (int i = 0; i < sk_X509_num(certs); i++) {
		g_autoptr(GBytes) der = ct_x509_to_der(sk_X509_value(certs, i));
		ct_session_add_item(self, kind, (*count)++, 0, der);
	}
	return TRUE;
}

static void
ct_session_on_commit(ctp_host_device *usb, const ctp_host_reply *reply, gpointer user_data)
{
	CtSession *self = user_data;
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	g_autoptr(GError) error = ct_session_reply_to_error(self, reply, "COMMIT");
	g_autofree gchar *installed = NULL;

	(void)usb;
	if (error != NULL) {
		ct_session_fail(self, error);
		return;
	}
	installed = ct_session_hex(reply->response->u.commit_rsp.certificate_sha256);
	if (g_strcmp0(installed, self->expected_cert_sha256) != 0) {
		ct_session_fail_literal(
		    self, CT_ERROR_DEVICE,
		    "the phone reports a different certificate installed than the one sent");
		return;
	}
	if (!ct_ledger_enrollment_mark_installed(ledger, self->awaited_csr, &error)) {
		/* the phone holds it; only the record is missing: say so, do not undo */
		g_warning("phone %s: installed, but the ledger could not record it: %s",
		          ct_device_get_serial(self->device), error->message);
	}
	self->busy = FALSE;
	g_clear_pointer(&self->awaited_csr, g_free);
	ct_session_show_certificate(self, self->installing_cert);
	ct_session_show_staged_anchors(self);
	ct_device_set_last_error(self->device, NULL, NULL);
	ct_session_set_state(self, CT_DEVICE_STATE_PROVISIONED, "certificate installed");
}

static void
ct_session_on_stage_reply(ctp_host_device *usb, const ctp_host_reply *reply, gpointer user_data)
{
	CtSession *self = user_data;
	g_autoptr(GError) error = ct_session_reply_to_error(self, reply, "STAGE");
	(void)usb;
	if (error != NULL) {
		ct_session_fail(self, error);
		return;
	}
	ct_session_send_next_item(self);
}

static void
ct_session_send_next_item(CtSession *self)
{
	ctp_message msg = {0};
	guint total = self->stage_items->len;

	if (self->stage_next < total) {
		CtStageItem *item = g_ptr_array_index(self->stage_items, self->stage_next++);
		msg.type = CTP_MSG_STAGE_ITEM;
		msg.u.stage_item_req.kind = item->kind;
		msg.u.stage_item_req.index = item->index;
		msg.u.stage_item_req.setting = item->setting;
		msg.u.stage_item_req.data = ct_session_view(item->data);
		/* 80..93 of the whole path */
		ct_session_set_state_full(self, CT_DEVICE_STATE_INSTALLING,
		                          80 + (13 * self->stage_next) / MAX(total, 1),
		                          "sending the certificate, chain and settings");
		ct_session_call(self, &msg, 0, NULL, ct_session_on_stage_reply);
		return;
	}
	msg.type = CTP_MSG_COMMIT;
	msg.u.commit_req.txn_id = self->txn_id;
	ct_session_set_state(self, CT_DEVICE_STATE_COMMITTING,
	                     "the phone is installing the certificate");
	ct_session_call(self, &msg, 0, NULL, ct_session_on_commit);
}

static void
ct_session_install_enrollment(CtSession *self, const CtLedgerEnrollment *row)
{
	CtConfig *config = ct_engine_get_config(self->engine);
	ctp_message msg = {.type = CTP_MSG_STAGE_BEGIN};
	g_autoptr(GError) error = NULL;
	guint8 n_chain = 0, n_anchors = 0, n_settings = 0;

	g_free(self->awaited_csr);
	self->awaited_csr = g_strdup(row->csr_sha256);
	g_free(self->expected_cert_sha256);
	self->expected_cert_sha256 = g_strdup(row->cert_sha256);
	g_clear_pointer(&self->installing_cert, g_bytes_unref);
	self->installing_cert = g_bytes_ref(row->cert_der);
	g_ptr_array_set_size(self->stage_items, 0);
	self->stage_next = 0;

	ct_session_add_item(self, CTP_ITEM_CERTIFICATE, 0, 0, row->cert_der);
	if (!ct_session_add_pem_items(self, CTP_ITEM_CHAIN, row->chain_pem, &n_chain, &error) ||
	    !ct_session_add_pem_items(self, CTP_ITEM_ANCHOR, row->anchors_pem, &n_anchors,
	                              &error)) {
		g_prefix_error(&error, "the ledger's copy of the chain is unreadable: ");
		ct_session_fail(self, error);
		return;
	}
	if (n_chain > self->max_chain || n_anchors > self->max_anchors) {
		g_autofree gchar *text =
		    g_strdup_printf("the phone holds at most %u chain and %u anchor certificates, "
		                    "%u and %u are needed",
		                    self->max_chain, self->max_anchors, n_chain, n_anchors);
		ct_session_fail_literal(self, CT_ERROR_NOT_SUPPORTED, text);
		return;
	}
	/* the service settings spare the phone its own DHCP/DNS discovery */
	if ((self->capabilities & CTP_CAP_SETTINGS) != 0) {
		ct_session_add_setting(self, CTP_SETTING_WEB_SERVICE_URL, ct_config_get_url(config),
		                       &n_settings);
		ct_session_add_setting(self, CTP_SETTING_REGISTRAR, ct_config_get_registrar(config),
		                       &n_settings);
		ct_session_add_setting(self, CTP_SETTING_SIP_URI, row->user, &n_settings);
	}
	if (RAND_bytes((guint8 *)&self->txn_id, sizeof(self->txn_id)) != 1)
		self->txn_id = g_random_int();
	msg.u.stage_begin_req.txn_id = self->txn_id;
	msg.u.stage_begin_req.chain_count = n_chain;
	msg.u.stage_begin_req.anchor_count = n_anchors;
	msg.u.stage_begin_req.setting_count = n_settings;
	self->busy = TRUE;
	ct_session_set_state(self, CT_DEVICE_STATE_INSTALLING,
	                     "sending the certificate, chain and settings");
	ct_session_call(self, &msg, 0, NULL, ct_session_on_stage_reply);
}

/* ---- HELLO, identity, policy ------------------------------------------------------------ */

/* the user is known, the phone approved: pair it (if new) and go on to STATUS */
static void
ct_session_continue_approved(CtSession *self)
{
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtLedgerDevice) row = NULL;

	if (!ct_engine_resolve_user(self->engine, self->assignment, &error)) {
		ct_session_fail(self, error);
		return;
	}
	ct_device_set_user(self->device, self->assignment->sip_uri);
	row = ct_ledger_lookup_device(ledger, ct_device_get_serial(self->device),
	                              ct_device_get_identity_fingerprint(self->device), &error);
	/* not in the ledger yet (policy always or allowlist, bench auto-approve): paired below */
	if (row == NULL && !g_error_matches(error, CT_ERROR, CT_ERROR_NOT_FOUND)) {
		ct_session_fail(self, error);
		return;
	}
	g_clear_error(&error);
	if (row == NULL || row->decision != CT_LEDGER_DECISION_PAIRED) {
		g_clear_pointer(&row, ct_ledger_device_free);
		row = ct_ledger_pair_device(
		    ledger, ct_device_get_serial(self->device),
		    ct_device_get_identity_fingerprint(self->device),
		    ct_device_get_vendor(self->device), ct_device_get_model(self->device),
		    ct_device_get_firmware(self->device), self->assignment->sip_uri, &error);
		if (row == NULL) {
			ct_session_fail(self, error);
			return;
		}
	}
	self->ledger_device_id = row->id;
	ct_device_set_paired(self->device, TRUE);
	ct_session_run_status(self);
}

static void
ct_session_apply_policy(CtSession *self)
{
	CtConfig *config = ct_engine_get_config(self->engine);
	g_autoptr(CtPolicyDecision) decision = NULL;
	g_autoptr(GError) error = NULL;

	decision =
	    ct_policy_decide(ct_config_get_policy_mode(config), ct_config_get_allow_list(config),
	                     ct_engine_get_ledger(self->engine), ct_device_get_serial(self->device),
	                     ct_device_get_identity_fingerprint(self->device), &error);
	if (decision == NULL) {
		ct_session_fail(self, error);
		return;
	}
	if ((decision->flags & CT_POLICY_FLAG_CLONE_SUSPECTED) != 0)
		g_warning("phone %s: %s", ct_device_get_serial(self->device), decision->reason);
	if (decision->device != NULL)
		self->ledger_device_id = decision->device->id;
	ct_device_set_paired(self->device,
	                     decision->device != NULL &&
	                         decision->device->decision == CT_LEDGER_DECISION_PAIRED);

	if (decision->verdict == CT_POLICY_VERDICT_AWAITING_APPROVAL &&
	    ct_engine_get_auto_approve(self->engine))
		decision->verdict = CT_POLICY_VERDICT_APPROVED;
	switch (decision->verdict) {
	case CT_POLICY_VERDICT_APPROVED:
		ct_session_continue_approved(self);
		return;
	case CT_POLICY_VERDICT_AWAITING_APPROVAL: {
		self->busy = FALSE;
		ct_session_set_state(self, CT_DEVICE_STATE_AWAITING_APPROVAL, decision->reason);
		return;
	}
	case CT_POLICY_VERDICT_REJECTED:
		self->busy = FALSE;
		ct_session_set_state(self, CT_DEVICE_STATE_REJECTED, decision->reason);
		return;
	}
}

static void
ct_session_on_hello(ctp_host_device *usb, const ctp_host_reply *reply, gpointer user_data)
{
	CtSession *self = user_data;
	const ctp_hello_rsp *hello;
	/* read before the reply is judged: a phone given up on has its handle closed */
	g_autofree gchar *port = g_strdup(ctp_host_device_get_port_path(usb));
	g_autoptr(GError) error = ct_session_reply_to_error(self, reply, "HELLO");
	g_autoptr(GBytes) identity_key = NULL;
	g_autoptr(GBytes) identity_sig = NULL;
	g_autoptr(GBytes) challenge = NULL;
	g_autofree gchar *serial = NULL;
	g_autofree gchar *vendor = NULL;
	g_autofree gchar *model = NULL;
	g_autofree gchar *firmware = NULL;
	g_autofree gchar *fingerprint = NULL;

	if (error != NULL) {
		if (self->device == NULL)
			self->device =
			    g_object_ref(ct_engine_add_anonymous_device(self->engine, self, port));
		ct_session_fail(self, error);
		return;
	}
	hello = &reply->response->u.hello_rsp;
	serial = ct_session_dup_text(hello->serial);
	vendor = ct_session_dup_text(hello->vendor);
	model = ct_session_dup_text(hello->model);
	firmware = ct_session_dup_text(hello->firmware);
	identity_key = ct_session_dup_bytes(hello->identity_key);
	identity_sig = ct_session_dup_bytes(hello->identity_sig);
	challenge = g_bytes_new(self->challenge, sizeof(self->challenge));

	/* the signature over our fresh challenge proves the phone holds its identity key */
	fingerprint =
	    ct_csr_check_identity_signature(identity_key, identity_sig, challenge, serial, &error);
	if (fingerprint == NULL) {
		self->device =
		    g_object_ref(ct_engine_add_anonymous_device(self->engine, self, port));
		ct_device_set_identity(self->device, serial, vendor, model, firmware, NULL);
		ct_session_fail(self, error);
		return;
	}
	self->key_algs = hello->key_algs;
	self->capabilities = hello->capabilities;
	self->max_chain = hello->max_chain;
	self->max_anchors = hello->max_anchors;

	self->device =
	    g_object_ref(ct_engine_identify_device(self->engine, self, serial, fingerprint));
	ct_device_set_identity(self->device, serial, vendor, model, firmware, fingerprint);
	ct_device_set_usb_port(self->device, port);
	ct_device_set_connected(self->device, TRUE);
	ct_device_set_last_error(self->device, NULL, NULL);
	ct_session_set_state(self, CT_DEVICE_STATE_IDENTIFYING, "the phone identified itself");

	self->assignment = ct_engine_assign_device(self->engine, self->device);
	if (self->assignment == NULL) {
		/* a bench roster that does not list this phone: leave it untouched */
		self->busy = FALSE;
		ct_session_set_state(self, CT_DEVICE_STATE_CONNECTED,
		                     "not on the roster: left alone");
		return;
	}
	ct_session_apply_policy(self);
}

/* ---- public ------------------------------------------------------------------------------ */

CtSession *
ct_session_new(CtEngine *engine, ctp_host_device *usb)
{
	CtSession *self = g_new0(CtSession, 1);
	self->engine = engine;
	self->usb = usb;
	self->usb_device = libusb_ref_device(ctp_host_device_get_usb_device(usb));
	self->stage_items = g_ptr_array_new_with_free_func((GDestroyNotify)ct_stage_item_free);
	return self;
}

void
ct_session_free(CtSession *self)
{
	if (self == NULL)
		return;
	/* closing first guarantees no transport callback runs on freed memory */
	ctp_host_device_close(self->usb);
	libusb_unref_device(self->usb_device);
	g_clear_object(&self->device);
	g_clear_pointer(&self->assignment, ct_assignment_free);
	g_clear_pointer(&self->subject_der, g_bytes_unref);
	g_clear_pointer(&self->san_der, g_bytes_unref);
	g_clear_pointer(&self->nonce, g_bytes_unref);
	g_free(self->awaited_csr);
	g_free(self->expected_cert_sha256);
	g_clear_pointer(&self->installing_cert, g_bytes_unref);
	g_ptr_array_unref(self->stage_items);
	g_free(self);
}

void
ct_session_start(CtSession *self)
{
	ctp_message msg = {.type = CTP_MSG_HELLO};
	if (RAND_bytes(self->challenge, sizeof(self->challenge)) != 1)
		g_error("RAND_bytes failed: no randomness for a challenge");
	msg.u.hello_req.version_min = CTP_VERSION_MIN;
	msg.u.hello_req.version_max = CTP_VERSION_MAX;
	msg.u.hello_req.challenge = ctp_bytes_from(self->challenge, sizeof(self->challenge));
	self->busy = TRUE;
	ct_session_call(self, &msg, 0, NULL, ct_session_on_hello);
}

CtDevice *
ct_session_get_device(CtSession *self)
{
	return self->device;
}

libusb_device *
ct_session_get_usb_device(CtSession *self)
{
	return self->usb_device;
}

void
ct_session_unplugged(CtSession *self)
{
	CtDeviceState was;
	g_autofree gchar *detail = NULL;
	if (self->unplugged)
		return;
	self->unplugged = TRUE;
	ctp_host_device_close(self->usb);
	self->usb = NULL;
	if (self->device == NULL)
		return;
	was = ct_device_get_state(self->device);
	ct_device_set_connected(self->device, FALSE);
	if (self->awaited_csr != NULL && ct_engine_is_enrolling(self->engine, self->awaited_csr))
		detail = g_strdup("unplugged; the certificate request goes on, plug the phone in "
		                  "again to install it");
	else if (self->busy)
		detail = g_strdup_printf("unplugged while %s; plug it in again to continue",
		                         ct_device_state_to_string(was));
	else
		detail = g_strdup_printf("unplugged (%s)", ct_device_state_to_string(was));
	self->busy = FALSE;
	ct_session_set_state_full(self, CT_DEVICE_STATE_DISCONNECTED,
	                          ct_device_get_progress(self->device), detail);
}

gboolean
ct_session_approve(CtSession *self, GError **error)
{
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	g_autoptr(CtLedgerDevice) row = NULL;

	if (self->device == NULL || self->usb == NULL || self->assignment == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_DEVICE_GONE,
		                    "the phone is not connected: plug it in");
		return FALSE;
	}
	if (self->busy) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the phone is busy (%s); approve it once that is over",
		            ct_device_state_to_string(ct_device_get_state(self->device)));
		return FALSE;
	}
	/* the user must be known to pair: "run kinit" is said to whoever approves */
	if (!ct_engine_resolve_user(self->engine, self->assignment, error))
		return FALSE;
	row = ct_ledger_pair_device(
	    ledger, ct_device_get_serial(self->device),
	    ct_device_get_identity_fingerprint(self->device), ct_device_get_vendor(self->device),
	    ct_device_get_model(self->device), ct_device_get_firmware(self->device),
	    self->assignment->sip_uri, error);
	if (row == NULL)
		return FALSE;
	self->ledger_device_id = row->id;
	ct_device_set_paired(self->device, TRUE);
	self->busy = TRUE;
	self->force = FALSE;
	ct_session_continue_approved(self);
	return TRUE;
}

void
ct_session_rejected(CtSession *self)
{
	if (self->device == NULL)
		return;
	/* a rejected phone keeps its USB handle but nothing more happens to it */
	self->busy = FALSE;
	ct_device_set_paired(self->device, FALSE);
	ct_session_set_state(self, CT_DEVICE_STATE_REJECTED, "rejected by the user");
}

void
ct_session_forgotten(CtSession *self)
{
	/* an event naming the deleted row would fail its foreign key */
	self->ledger_device_id = 0;
	if (self->device != NULL)
		ct_device_set_paired(self->device, FALSE);
}

gboolean
ct_session_provision(CtSession *self, gboolean force, GError **error)
{
	CtDeviceState state;
	if (self->device != NULL && self->usb == NULL && !self->unplugged) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_DEVICE,
		                    "the phone stopped answering: unplug it and plug it in again");
		return FALSE;
	}
	if (self->usb == NULL || self->device == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_DEVICE_GONE,
		                    "the phone is not connected: plug it in");
		return FALSE;
	}
	state = ct_device_get_state(self->device);
	if (state == CT_DEVICE_STATE_AWAITING_APPROVAL || state == CT_DEVICE_STATE_REJECTED) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_APPROVED,
		            "the phone is %s: approve it first (certtether approve %s)",
		            state == CT_DEVICE_STATE_REJECTED ? "rejected" : "not approved yet",
		            ct_device_get_id(self->device));
		return FALSE;
	}
	if (self->busy) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the phone is being provisioned already (%s)",
		            ct_device_state_to_string(state));
		return FALSE;
	}
	if (self->assignment == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		                    "the phone is not on the roster");
		return FALSE;
	}
	self->force = force;
	self->busy = TRUE;
	/* re-resolve: the user may have run kinit since the last failure */
	ct_session_continue_approved(self);
	return TRUE;
}

void
ct_session_enrollment_done(CtSession *self, const gchar *csr_sha256, const GError *error)
{
	CtLedger *ledger = ct_engine_get_ledger(self->engine);
	g_autoptr(CtLedgerEnrollment) row = NULL;
	g_autoptr(GError) local_error = NULL;

	if (self->usb == NULL || g_strcmp0(self->awaited_csr, csr_sha256) != 0)
		return;
	if (error != NULL) {
		ct_session_fail(self, error);
		return;
	}
	row = ct_ledger_enrollment_find_by_csr(ledger, csr_sha256, &local_error);
	if (row == NULL || row->state != CT_LEDGER_ENROLLMENT_ISSUED) {
		if (local_error == NULL)
			local_error = g_error_new_literal(
			    CT_ERROR, CT_ERROR_INTERNAL,
			    "the issued certificate is missing from the ledger");
		ct_session_fail(self, local_error);
		return;
	}
	ct_session_install_enrollment(self, row);
}

void
ct_session_enrollment_progress(CtSession *self, CtDeviceState state, const gchar *detail)
{
	if (self->usb == NULL || self->awaited_csr == NULL)
		return;
	ct_session_set_state(self, state, detail);
}
