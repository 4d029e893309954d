#include "daemon/engine/ct-policy.h"

#include "daemon/engine/ct-cert-info.h"
#include "daemon/engine/ct-identity.h"

#define CT_POLICY_USEC_PER_DAY (G_USEC_PER_SEC * (gint64)86400)


void
ct_policy_decision_free(CtPolicyDecision *decision)
{
	if (decision == NULL)
		return;
	g_free(decision->reason);
	ct_ledger_device_free(decision->device);
	g_free(decision);
}

const gchar *
ct_policy_verdict_to_string(CtPolicyVerdict verdict)
{
	switch (verdict) {
	case CT_POLICY_VERDICT_APPROVED:
		return "approved";
	case CT_POLICY_VERDICT_AWAITING_APPROVAL:
		return "awaiting-approval";
	case CT_POLICY_VERDICT_REJECTED:
		return "rejected";
	}
	return "unknown";
}

gboolean
ct_policy_check_allow_entry(const gchar *entry, GError **error)
{
	g_autoptr(CtAllowEntry) parsed = ct_allow_entry_parse(entry, error);
	if (parsed == NULL) {
		g_prefix_error(error, "[policy] allow=%s ", entry != NULL ? entry : "");
		return FALSE;
	}
	return TRUE;
}

/* the mode as [policy] mode= spells it (tests and scripts give it as text) */
static gboolean
ct_policy_parse_mode(const gchar *text, CtPolicyMode *mode, GError **error)
{
	const CtPolicyMode modes[] = {CT_POLICY_MODE_ASK, CT_POLICY_MODE_ALLOWLIST,
	                              CT_POLICY_MODE_ALWAYS};
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		if (g_strcmp0(text, ct_policy_mode_to_string(modes[i])) == 0) {
			*mode = modes[i];
			return TRUE;
		}
	}
	g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
	            "[policy] mode '%s' is not one of ask, allowlist, always",
	            text != NULL ? text : "");
	return FALSE;
}

static gchar *
ct_policy_format_date(gint64 time_us)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(time_us / G_USEC_PER_SEC);
	if (dt == NULL)
		return g_strdup("(unknown date)");
	return g_date_time_format(dt, "%Y-%m-%d");
}

static CtPolicyDecision *
ct_policy_decision_new(CtPolicyVerdict verdict,
                       CtPolicyFlags flags,
                       CtLedgerDevice *device,
                       gchar *reason)
{
	CtPolicyDecision *decision = g_new0(CtPolicyDecision, 1);
	decision->verdict = verdict;
	decision->flags = flags;
	decision->device = device;
	decision->reason = reason;
	return decision;
}

/* *other_fpr: the key of a paired row of this serial with another identity key, or NULL */
static gboolean
ct_policy_find_clone_of(
    CtLedger *ledger, const gchar *serial, const gchar *fpr, gchar **other_fpr, GError **error)
{
	g_autoptr(GPtrArray) rows = ct_ledger_lookup_devices_by_serial(ledger, serial, error);
	if (rows == NULL)
		return FALSE;
	for (guint i = 0; i < rows->len; i++) {
		CtLedgerDevice *row = g_ptr_array_index(rows, i);
		if (row->decision == CT_LEDGER_DECISION_PAIRED &&
		    g_strcmp0(row->identity_fpr, fpr) != 0) {
			*other_fpr = g_strdup(row->identity_fpr);
			return TRUE;
		}
	}
	*other_fpr = NULL;
	return TRUE;
}

CtPolicyDecision *
ct_policy_decide(CtPolicyMode mode,
                 GPtrArray *allow,
                 CtLedger *ledger,
                 const gchar *serial,
                 const gchar *identity_fpr,
                 GError **error)
{
	g_autofree gchar *fpr = NULL;
	g_autofree gchar *other_fpr = NULL;
	g_autofree gchar *note = NULL;
	g_autoptr(CtLedgerDevice) device = NULL;
	g_autoptr(GError) error_local = NULL;
	CtPolicyFlags flags = CT_POLICY_FLAG_NONE;
	const CtAllowEntry *entry;

	g_return_val_if_fail(CT_IS_LEDGER(ledger), NULL);
	if (serial == NULL || serial[0] == '\0' || identity_fpr == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "a policy decision needs the device serial and identity");
		return NULL;
	}
	fpr = ct_config_normalize_fingerprint(identity_fpr);
	if (fpr == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the identity fingerprint must be 64 hex digits");
		return NULL;
	}

	/* the user's own decision about this exact identity comes first */
	device = ct_ledger_lookup_device(ledger, serial, fpr, &error_local);
	if (device == NULL && !g_error_matches(error_local, CT_ERROR, CT_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (device != NULL) {
		g_autofree gchar *date = ct_policy_format_date(device->updated);
		gchar *why;
		CtPolicyVerdict verdict;
		if (device->decision == CT_LEDGER_DECISION_REJECTED) {
			verdict = CT_POLICY_VERDICT_REJECTED;
			why = g_strdup_printf("you rejected device %s (identity %.16s…) on %s",
			                      serial, fpr, date);
		} else {
			verdict = CT_POLICY_VERDICT_APPROVED;
			why =
			    g_strdup_printf("device %s (identity %.16s…) is paired for %s since %s",
			                    serial, fpr, device->user, date);
		}
		return ct_policy_decision_new(verdict, flags, g_steal_pointer(&device), why);
	}

	/* unknown identity; a pairing of the same serial with another key does not carry
	 * over: a serial is easy to copy, the identity key is not */
	if (!ct_policy_find_clone_of(ledger, serial, fpr, &other_fpr, error))
		return NULL;
	if (other_fpr != NULL) {
		flags |= CT_POLICY_FLAG_CLONE_SUSPECTED;
		note = g_strdup_printf("; WARNING: serial %s is paired with another identity key "
		                       "(%.16s…), this device may be a clone",
		                       serial, other_fpr);
	}

	entry = ct_allow_list_match(allow, serial, fpr);
	if (entry != NULL) {
		return ct_policy_decision_new(
		    CT_POLICY_VERDICT_APPROVED, flags, NULL,
		    g_strdup_printf("the allow list names device %s (entry '%s%s%s')%s", serial,
		                    entry->serial, entry->fingerprint != NULL ? ":" : "",
		                    entry->fingerprint != NULL ? entry->fingerprint : "",
		                    note != NULL ? note : ""));
	}
	switch (mode) {
	case CT_POLICY_MODE_ALWAYS:
		return ct_policy_decision_new(
		    CT_POLICY_VERDICT_APPROVED, flags, NULL,
		    g_strdup_printf("policy mode 'always' approves every device, %s included%s",
		                    serial, note != NULL ? note : ""));
	case CT_POLICY_MODE_ASK:
		return ct_policy_decision_new(
		    CT_POLICY_VERDICT_AWAITING_APPROVAL, flags, NULL,
		    g_strdup_printf("unknown device %s (identity %.16s…) waits for your approval "
		                    "(certtether approve %s)%s",
		                    serial, fpr, serial, note != NULL ? note : ""));
	case CT_POLICY_MODE_ALLOWLIST:
	default:
		return ct_policy_decision_new(
		    CT_POLICY_VERDICT_REJECTED, flags, NULL,
		    g_strdup_printf("policy mode 'allowlist' and the allow list does not name "
		                    "device %s with identity %.16s…%s",
		                    serial, fpr, note != NULL ? note : ""));
	}
}

CtPolicyDecision *
ct_policy_decide_text(const gchar *mode,
                      const gchar *const *allow,
                      CtLedger *ledger,
                      const gchar *serial,
                      const gchar *identity_fpr,
                      GError **error)
{
	CtPolicyMode kind;
	g_autoptr(GPtrArray) entries =
	    g_ptr_array_new_with_free_func((GDestroyNotify)ct_allow_entry_free);
	if (!ct_policy_parse_mode(mode, &kind, error))
		return NULL;
	for (guint i = 0; allow != NULL && allow[i] != NULL; i++) {
		CtAllowEntry *entry = ct_allow_entry_parse(allow[i], NULL);
		if (entry != NULL)
			g_ptr_array_add(entries, entry);
	}
	return ct_policy_decide(kind, entries, ledger, serial, identity_fpr, error);
}

/* ---- renewal ---- */

const gchar *
ct_renewal_status_to_string(CtRenewalStatus status)
{
	switch (status) {
	case CT_RENEWAL_NO_CERTIFICATE:
		return "no-certificate";
	case CT_RENEWAL_UNREADABLE:
		return "unreadable";
	case CT_RENEWAL_REVOKED:
		return "revoked";
	case CT_RENEWAL_OTHER_USER:
		return "other-user";
	case CT_RENEWAL_EXPIRED:
		return "expired";
	case CT_RENEWAL_NOT_YET_VALID:
		return "not-yet-valid";
	case CT_RENEWAL_IN_WINDOW:
		return "in-renewal-window";
	case CT_RENEWAL_UP_TO_DATE:
		return "up-to-date";
	}
	return "unknown";
}

gboolean
ct_renewal_status_needs_enrollment(CtRenewalStatus status)
{
	/* a not-yet-valid certificate was issued moments ago by a CA whose clock is ahead:
	 * enrolling again would only produce another one like it */
	return status != CT_RENEWAL_UP_TO_DATE && status != CT_RENEWAL_NOT_YET_VALID;
}

/* "in 12 days", "in less than a day" */
static gchar *
ct_policy_format_days(gint64 span_us)
{
	gint64 days = span_us / CT_POLICY_USEC_PER_DAY;
	if (days == 0)
		return g_strdup("less than a day");
	return g_strdup_printf("%" G_GINT64_FORMAT " day%s", days, days == 1 ? "" : "s");
}

static CtRenewalStatus
ct_policy_renewal_status(CtRenewalStatus status, gchar **reason, gchar *text)
{
	if (reason != NULL)
		*reason = text;
	else
		g_free(text);
	return status;
}

CtRenewalStatus
ct_policy_renewal_needed(GBytes *cert_der,
                         const gchar *user_sip_uri,
                         guint renew_before_days,
                         gboolean is_revoked,
                         gint64 now,
                         gchar **reason)
{
	g_autoptr(CtCertInfo) info = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *date = NULL;
	g_autofree gchar *span = NULL;
	gint64 window = (gint64)renew_before_days * CT_POLICY_USEC_PER_DAY;

	if (cert_der == NULL || g_bytes_get_size(cert_der) == 0)
		return ct_policy_renewal_status(CT_RENEWAL_NO_CERTIFICATE, reason,
		                                g_strdup("the phone holds no certificate"));
	info = ct_cert_info_new(cert_der, &error_local);
	if (info == NULL)
		return ct_policy_renewal_status(
		    CT_RENEWAL_UNREADABLE, reason,
		    g_strdup_printf("the phone's certificate cannot be read (%s)",
		                    error_local->message));
	if (is_revoked)
		return ct_policy_renewal_status(
		    CT_RENEWAL_REVOKED, reason,
		    g_strdup_printf("the certificate (serial %s) was revoked by the user",
		                    info->serial));
	if (!ct_identity_cert_names_user(info->x509, user_sip_uri))
		return ct_policy_renewal_status(
		    CT_RENEWAL_OTHER_USER, reason,
		    g_strdup_printf("the certificate is for %s, not %s", info->subject,
		                    user_sip_uri != NULL ? user_sip_uri : "(unknown user)"));
	if (now > info->not_after) {
		date = ct_policy_format_date(info->not_after);
		span = ct_policy_format_days(now - info->not_after);
		return ct_policy_renewal_status(
		    CT_RENEWAL_EXPIRED, reason,
		    g_strdup_printf("the certificate expired on %s (%s ago)", date, span));
	}
	if (now < info->not_before) {
		date = ct_policy_format_date(info->not_before);
		return ct_policy_renewal_status(
		    CT_RENEWAL_NOT_YET_VALID, reason,
		    g_strdup_printf("the certificate is valid only from %s: check the clock of "
		                    "this computer and of the certificate service",
		                    date));
	}
	span = ct_policy_format_days(info->not_after - now);
	if (info->not_after - now <= window)
		return ct_policy_renewal_status(
		    CT_RENEWAL_IN_WINDOW, reason,
		    g_strdup_printf("the certificate expires in %s (renewal window %u days)", span,
		                    renew_before_days));
	date = ct_policy_format_date(info->not_after);
	return ct_policy_renewal_status(
	    CT_RENEWAL_UP_TO_DATE, reason,
	    g_strdup_printf("the certificate for %s is valid until %s (expires in %s, renewal "
	                    "window %u days)",
	                    user_sip_uri, date, span, renew_before_days));
}
