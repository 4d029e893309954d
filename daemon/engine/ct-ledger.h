/*
 * The ledger: certtether's one SQLite database ($XDG_STATE_HOME/certtether/ledger.db).
 * It remembers which devices the user paired or rejected, every enrollment (CSR hash,
 * certificate, chain, outcome), the certificates the user revoked, and a bounded
 * history of state changes.
 *
 * Threading: a CtLedger is used from the thread that opened it (the daemon's main
 * thread) and no other; every call checks this. Other processes (the CLI with --direct)
 * may open the same file: SQLite locks it and each call waits up to
 * CT_LEDGER_BUSY_TIMEOUT_MS for the other writer.
 *
 * Durability: every write call is one transaction, committed before it returns, in
 * WAL mode with synchronous=FULL, so the commit has reached the disk (fsync) when the
 * call returns TRUE. In particular, once ct_ledger_enrollment_record_issued() returns,
 * a crash cannot lose the certificate: after a restart ct_ledger_enrollment_find_by_csr()
 * finds it and the caller installs it instead of enrolling a second time.
 *
 * Times are µs since the Unix epoch (g_get_real_time()). Fingerprints and hashes are
 * lower-case hex SHA-256 (64 characters).
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

#define CT_LEDGER_SCHEMA_VERSION          1
#define CT_LEDGER_BUSY_TIMEOUT_MS         5000
#define CT_LEDGER_EVENT_RETENTION_DEFAULT 10000

#define CT_TYPE_LEDGER (ct_ledger_get_type())
G_DECLARE_FINAL_TYPE(CtLedger, ct_ledger, CT, LEDGER, GObject)

typedef enum {
	CT_LEDGER_DECISION_PAIRED,
	CT_LEDGER_DECISION_REJECTED,
} CtLedgerDecision;

typedef struct {
	gint64 id;
	gchar *serial;
	gchar *identity_fpr; /* SHA-256 of the device identity key (DER SubjectPublicKeyInfo) */
	gchar *vendor;       /* may be NULL */
	gchar *model;        /* may be NULL */
	gchar *firmware;     /* may be NULL */
	CtLedgerDecision decision;
	gchar *user; /* the SIP URI it was paired for; NULL when rejected */
	gint64 created;
	gint64 updated;
} CtLedgerDevice;

typedef enum {
	CT_LEDGER_ENROLLMENT_REQUESTED, /* sent (or about to be sent) to the service */
	CT_LEDGER_ENROLLMENT_ISSUED,    /* certificate received and stored, not yet on the phone */
	CT_LEDGER_ENROLLMENT_INSTALLED, /* the phone committed it */
	CT_LEDGER_ENROLLMENT_FAILED,    /* gave up; error_code/error_message say why */
} CtLedgerEnrollmentState;

typedef struct {
	gint64 id;
	gint64 device_id;
	gchar *csr_sha256;
	GBytes *csr_der;
	gchar *key_alg; /* "rsa2048", "ec-p256", ... as the host asked */
	gchar *user;    /* SIP URI the certificate is for */
	gchar *backend; /* "certprov" or "est" */
	CtLedgerEnrollmentState state;
	guint attempts;
	GBytes *cert_der;     /* NULL until issued */
	gchar *chain_pem;     /* intermediates, may be NULL */
	gchar *anchors_pem;   /* trust anchors pushed to the phone, may be NULL */
	gchar *cert_serial;   /* upper-case hex */
	gchar *cert_sha256;   /* of cert_der */
	gint64 not_after;     /* 0 until issued */
	gchar *error_code;    /* ct_error_code_to_string() name, when failed */
	gchar *error_message; /* when failed */
	gint64 created;
	gint64 issued_at;    /* 0 until issued */
	gint64 installed_at; /* 0 until installed */
} CtLedgerEnrollment;

typedef struct {
	gint64 id;
	gint64 device_id; /* 0 when not tied to a device row (or the device was forgotten) */
	gint64 time;
	gchar *serial; /* may be NULL */
	gchar *state;
	gchar *message; /* may be NULL */
} CtLedgerEvent;

void ct_ledger_device_free(CtLedgerDevice *device);
void ct_ledger_enrollment_free(CtLedgerEnrollment *enrollment);
void ct_ledger_event_free(CtLedgerEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtLedgerDevice, ct_ledger_device_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtLedgerEnrollment, ct_ledger_enrollment_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtLedgerEvent, ct_ledger_event_free)

const gchar *ct_ledger_decision_to_string(CtLedgerDecision decision);
const gchar *ct_ledger_enrollment_state_to_string(CtLedgerEnrollmentState state);

/* a{sv} for D-Bus and --json: keys are the field names above; absent fields are left out */
GVariant *ct_ledger_device_to_variant(const CtLedgerDevice *device);
GVariant *ct_ledger_event_to_variant(const CtLedgerEvent *event);

/*
 * Open (creating the file and its directory, mode 0700, if needed) and migrate to
 * CT_LEDGER_SCHEMA_VERSION. A file that is damaged, is not an SQLite database, belongs
 * to another program or was written by a newer certtether is never changed or deleted:
 * the error (CT_ERROR_INTERNAL) names the file and says what to do.
 */
CtLedger *ct_ledger_open(const gchar *path, GError **error);
const gchar *ct_ledger_get_path(CtLedger *self);
/* PRAGMA integrity_check; CT_ERROR_INTERNAL with SQLite's findings when not "ok" */
gboolean ct_ledger_check_integrity(CtLedger *self, GError **error);
/* keep at most this many events (default CT_LEDGER_EVENT_RETENTION_DEFAULT, minimum 1) */
void ct_ledger_set_event_retention(CtLedger *self, guint max_events);

/* devices; lookups return NULL with CT_ERROR_NOT_FOUND when there is no such row */
CtLedgerDevice *ct_ledger_lookup_device(CtLedger *self,
                                        const gchar *serial,
                                        const gchar *identity_fpr,
                                        GError **error);
/* every row with this serial (any identity key), oldest first; empty array if none */
GPtrArray *ct_ledger_lookup_devices_by_serial(CtLedger *self, const gchar *serial, GError **error);
/* every device, oldest first */
GPtrArray *ct_ledger_list_devices(CtLedger *self, GError **error);
/* record the user's decision (insert or update); vendor/model/firmware NULL keep the
 * stored values; returns the stored row */
CtLedgerDevice *ct_ledger_pair_device(CtLedger *self,
                                      const gchar *serial,
                                      const gchar *identity_fpr,
                                      const gchar *vendor,
                                      const gchar *model,
                                      const gchar *firmware,
                                      const gchar *user,
                                      GError **error);
CtLedgerDevice *ct_ledger_reject_device(CtLedger *self,
                                        const gchar *serial,
                                        const gchar *identity_fpr,
                                        const gchar *vendor,
                                        const gchar *model,
                                        const gchar *firmware,
                                        GError **error);
/* delete the device row(s) and all their enrollments (a re-paired device starts clean, and
 * no certificate issued for the old pairing is installed by crash recovery); events and
 * revocations stay. identity_fpr NULL forgets every identity of the serial. */
gboolean ct_ledger_forget_device(CtLedger *self,
                                 const gchar *serial,
                                 const gchar *identity_fpr,
                                 GError **error);

/* enrollments, keyed by the CSR's SHA-256 (hex of the DER) */
/* insert a 'requested' row for this CSR; refuses (CT_ERROR_INVALID_ARGS) a CSR the ledger
 * already holds unless that row 'failed' before a certificate was issued, in which case the
 * row is reused (attempts keep counting) */
CtLedgerEnrollment *ct_ledger_enrollment_begin(CtLedger *self,
                                               gint64 device_id,
                                               GBytes *csr_der,
                                               const gchar *key_alg,
                                               const gchar *user,
                                               const gchar *backend,
                                               GError **error);
/* one more submission to the service; *attempts_out (may be NULL) gets the new count */
gboolean ct_ledger_enrollment_add_attempt(CtLedger *self,
                                          const gchar *csr_sha256,
                                          guint *attempts_out,
                                          GError **error);
/* store the issued certificate (must carry the CSR's public key) with the chain and the
 * anchors to push; durable when TRUE is returned. Recording the same certificate again is
 * a no-op; a different certificate for the same CSR is refused. */
gboolean ct_ledger_enrollment_record_issued(CtLedger *self,
                                            const gchar *csr_sha256,
                                            GBytes *cert_der,
                                            const gchar *chain_pem,
                                            const gchar *anchors_pem,
                                            GError **error);
/* issued -> installed (installed again is a no-op) */
gboolean
ct_ledger_enrollment_mark_installed(CtLedger *self, const gchar *csr_sha256, GError **error);
/* requested or issued -> failed, with why */
gboolean ct_ledger_enrollment_mark_failed(CtLedger *self,
                                          const gchar *csr_sha256,
                                          const gchar *error_code,
                                          const gchar *error_message,
                                          GError **error);
CtLedgerEnrollment *
ct_ledger_enrollment_find_by_csr(CtLedger *self, const gchar *csr_sha256, GError **error);
/* the most recently installed enrollment of a device; CT_ERROR_NOT_FOUND if none */
/* the enrollment that issued this certificate (lower-case hex SHA-256 of its DER);
 * CT_ERROR_NOT_FOUND when none did */
CtLedgerEnrollment *
ct_ledger_enrollment_find_by_cert(CtLedger *self, const gchar *cert_sha256, GError **error);
CtLedgerEnrollment *
ct_ledger_enrollment_latest_installed(CtLedger *self, gint64 device_id, GError **error);

/* certificates the user revoked (on this desktop: certtether never installs or keeps
 * one again); revoking twice keeps the first time and reason */
gboolean
ct_ledger_revoke(CtLedger *self, const gchar *cert_sha256, const gchar *reason, GError **error);
gboolean
ct_ledger_is_revoked(CtLedger *self, const gchar *cert_sha256, gboolean *revoked, GError **error);

/* history: one event per state change, the oldest pruned beyond the retention.
 * device_id 0 = not tied to a device row. */
gboolean ct_ledger_add_event(CtLedger *self,
                             gint64 device_id,
                             const gchar *serial,
                             const gchar *state,
                             const gchar *message,
                             GError **error);
/* newest first; serial NULL = every device; limit 0 = no limit. Array of CtLedgerEvent. */
GPtrArray *ct_ledger_get_history(CtLedger *self, const gchar *serial, guint limit, GError **error);

G_END_DECLS
