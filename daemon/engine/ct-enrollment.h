/*
 * One enrollment, end to end: make sure the desktop user's credentials exist,
 * fetch the service's CA certificates, submit the phone's CSR (retrying
 * transient failures with bounded, jittered, cancellable backoff), and verify
 * what came back. The result is what the phone needs: its certificate, the
 * intermediates and the trust anchors (including the one behind the web
 * service's TLS certificate).
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-backoff.h"
#include "daemon/engine/ct-config.h"
#include "daemon/engine/ct-error.h"
#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-credentials.h"
#include "daemon/enroll/ct-enroll-backend.h"

G_BEGIN_DECLS

/* a verified enrollment */
typedef struct {
	X509 *leaf;           /* the issued certificate (key == CSR key, names the user) */
	CtX509Stack *chain;   /* intermediates, leaf-most first; neither leaf nor anchor */
	CtX509Stack *anchors; /* trust anchors for the phone: the issued chain's root and
	                         the web service TLS chain's, de-duplicated, never NULL */
	CtX509Stack *service_tls_chain; /* the web service's TLS chain as presented, or empty */
	gchar *sip_uri;                 /* whom it was issued for */
	guint attempts;                 /* submissions it took (1 = first try) */
} CtEnrollResult;

void ct_enroll_result_free(CtEnrollResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtEnrollResult, ct_enroll_result_free)

/* a transient failure and the retry that follows, for progress displays */
typedef struct {
	guint attempt; /* the attempt that failed (1-based) */
	guint max_attempts;
	const GError *error;      /* why (transient) */
	gdouble delay;            /* seconds until the next attempt */
	gint64 next_attempt_time; /* g_get_monotonic_time() of the next attempt (µs) */
	gdouble retry_after;      /* the server's Retry-After hint in seconds, or -1 */
} CtEnrollProgress;

/*
 * Called in the thread running the enrollment before each wait; the daemon
 * marshals it to its main loop (g_main_context_invoke) itself.
 */
typedef void (*CtEnrollProgressFunc)(const CtEnrollProgress *progress, gpointer user_data);

#define CT_TYPE_ENROLLMENT (ct_enrollment_get_type())
G_DECLARE_FINAL_TYPE(CtEnrollment, ct_enrollment, CT, ENROLLMENT, GObject)

/*
 * The backend is chosen by [service] protocol (CertProv or EST) with [service]
 * url, ca-file and timeout; fails with CT_ERROR_CONFIG when no url is set.
 */
CtEnrollment *ct_enrollment_new(CtConfig *config, CtCredentials *credentials, GError **error);

/* with a given backend (tests, `certtether test`); @config gives retry and trust */
CtEnrollment *ct_enrollment_new_with_backend(CtConfig *config, CtEnrollBackend *backend);

/* the backend for [service] protocol of @config */
CtEnrollBackend *
ct_enrollment_create_backend(CtConfig *config, CtCredentials *credentials, GError **error);

CtEnrollBackend *ct_enrollment_get_backend(CtEnrollment *self);

void ct_enrollment_set_progress_func(CtEnrollment *self,
                                     CtEnrollProgressFunc func,
                                     gpointer user_data,
                                     GDestroyNotify destroy);

/*
 * Follow AIA caIssuers URLs of the issued chain when an issuer is missing
 * (default TRUE), and use the system trust store besides ca-file (default TRUE;
 * tests turn it off to keep the anchors hermetic).
 */
void ct_enrollment_set_fetch_aia(CtEnrollment *self, gboolean fetch_aia);
void ct_enrollment_set_use_system_store(CtEnrollment *self, gboolean use_system_store);

/*
 * Run it, blocking (call from a worker thread). @request->sip_uri may be NULL:
 * then it is resolved from the configuration or the credentials' principal.
 * Permanent errors stop at once; transient ones are retried up to
 * [retry] max-attempts, and the last one is returned.
 */
CtEnrollResult *ct_enrollment_run(CtEnrollment *self,
                                  const CtEnrollRequest *request,
                                  GCancellable *cancellable,
                                  GError **error);

/* the same in a GTask thread; the request is copied */
void ct_enrollment_run_async(CtEnrollment *self,
                             const CtEnrollRequest *request,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
CtEnrollResult *ct_enrollment_run_finish(CtEnrollment *self, GAsyncResult *result, GError **error);

G_END_DECLS
