/*
 * Policy decisions, as pure functions of their arguments (the ledger is only read):
 *  - may this device be provisioned (paired, allow-listed, rejected, waiting)?
 *  - does the certificate the phone holds need a new enrollment?
 * Each answer comes with a one-line reason for the log, `certtether status` and D-Bus.
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-config.h"
#include "daemon/engine/ct-error.h"
#include "daemon/engine/ct-ledger.h"

G_BEGIN_DECLS

typedef enum {
	CT_POLICY_VERDICT_APPROVED,          /* provision it */
	CT_POLICY_VERDICT_AWAITING_APPROVAL, /* ask the user (mode ask, unknown device) */
	CT_POLICY_VERDICT_REJECTED,          /* never provision it */
} CtPolicyVerdict;

typedef enum {
	CT_POLICY_FLAG_NONE = 0,
	/* the serial is paired with a different identity key: possibly a cloned serial.
	 * The device is treated as unknown (the pairing does not carry over). */
	CT_POLICY_FLAG_CLONE_SUSPECTED = 1 << 0,
} CtPolicyFlags;

typedef struct {
	CtPolicyVerdict verdict;
	CtPolicyFlags flags;
	gchar *reason;          /* one line, for logs and the UI */
	CtLedgerDevice *device; /* the ledger row for (serial, identity), or NULL */
} CtPolicyDecision;

void ct_policy_decision_free(CtPolicyDecision *decision);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtPolicyDecision, ct_policy_decision_free)

const gchar *ct_policy_verdict_to_string(CtPolicyVerdict verdict);

/*
 * Decide for the device (serial, identity_fpr) whose identity signature was verified.
 *   mode:  "ask", "allowlist" or "always" ([policy] mode); anything else is CT_ERROR_CONFIG
 *   allow: CtAllowEntry elements ([policy] allow, ct_config_get_allow_list()); NULL = empty.
 *          An entry admits its serial with any identity key, or only with its fingerprint
 *          (ct_allow_list_match()).
 * Order: a ledger decision for this exact identity (rejected, then paired) wins; otherwise
 * the device is unknown and is approved when an allow entry matches or the mode is
 * "always", waits for approval in mode "ask", and is rejected in mode "allowlist".
 * Returns NULL only when the ledger cannot be read.
 */
CtPolicyDecision *ct_policy_decide(CtPolicyMode mode,
                                   GPtrArray *allow,
                                   CtLedger *ledger,
                                   const gchar *serial,
                                   const gchar *identity_fpr,
                                   GError **error);

/* the same with the mode and allow entries as text ("ask"; "SERIAL" or "SERIAL:FPR",
 * ct_allow_entry_parse()); an unknown mode is CT_ERROR_CONFIG, malformed entries never match */
CtPolicyDecision *ct_policy_decide_text(const gchar *mode,
                                        const gchar *const *allow,
                                        CtLedger *ledger,
                                        const gchar *serial,
                                        const gchar *identity_fpr,
                                        GError **error);

/* TRUE if entry is a well-formed allow entry (ct_allow_entry_parse()); else CT_ERROR_CONFIG
 * saying what is wrong */
gboolean ct_policy_check_allow_entry(const gchar *entry, GError **error);

typedef enum {
	CT_RENEWAL_NO_CERTIFICATE, /* the phone holds none: enroll */
	CT_RENEWAL_UNREADABLE,     /* the phone's certificate does not parse: enroll */
	CT_RENEWAL_REVOKED,        /* the user revoked it: enroll */
	CT_RENEWAL_OTHER_USER,     /* issued to someone else: enroll for this user */
	CT_RENEWAL_EXPIRED,        /* enroll */
	CT_RENEWAL_NOT_YET_VALID,  /* starts in the future: clock skew, do not enroll */
	CT_RENEWAL_IN_WINDOW,      /* expires within renew_before_days: renew */
	CT_RENEWAL_UP_TO_DATE,     /* nothing to do */
} CtRenewalStatus;

const gchar *ct_renewal_status_to_string(CtRenewalStatus status);
/* TRUE when the status calls for a new enrollment */
gboolean ct_renewal_status_needs_enrollment(CtRenewalStatus status);

/*
 * What the phone's current certificate (DER from STATUS, may be NULL) calls for, for the
 * desktop user user_sip_uri, renewing renew_before_days before expiry; is_revoked from
 * ct_ledger_is_revoked(); now in µs since the epoch (g_get_real_time()). *reason (may be
 * NULL) gets a human sentence, e.g. "the certificate expires in 12 days (renewal window
 * 30 days)".
 */
CtRenewalStatus ct_policy_renewal_needed(GBytes *cert_der,
                                         const gchar *user_sip_uri,
                                         guint renew_before_days,
                                         gboolean is_revoked,
                                         gint64 now,
                                         gchar **reason);

G_END_DECLS
