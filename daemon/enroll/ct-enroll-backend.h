/*
 * An enrollment backend turns a CSR into a certificate with the desktop user's
 * credentials: CertProv (Lync / Skype for Business) or EST (RFC 7030). The
 * methods are blocking (callers run them in a worker thread) and cancellable.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-error.h"
#include "daemon/enroll/ct-credentials.h"

G_BEGIN_DECLS

/* what the backend needs to know for one request */
typedef struct {
	GBytes *csr_der;	  /* DER PKCS#10 from the device */
	const gchar *sip_uri;	  /* "sip:alice@example.com", the desktop user's identity */
	const gchar *device_id;	  /* "{GUID}", stable per device (ct_identity_device_id()) */
	gboolean renewal;	  /* the device already holds a certificate of this user */
	/*
	 * Optional idempotency key, the same for every submission of this CSR (also
	 * after a crash and restart): CertProv sends it as wstep:RequestID so that a
	 * service that recognises a repeated id answers with the certificate it issued
	 * before. NULL: the backend makes a fresh one per submission. EST has no such
	 * field (RFC 7030) and ignores it.
	 */
	const gchar *request_id;
} CtEnrollRequest;

/* what the service returned, not yet verified */
typedef struct {
	X509 *certificate;	  /* the issued leaf */
	STACK_OF(X509) *extra;	  /* other certificates returned with it (PKCS#7), may be empty */
	STACK_OF(X509) *service_tls_chain; /* the TLS chain of the service, as presented */
} CtEnrollResponse;

void ct_enroll_response_free(CtEnrollResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtEnrollResponse, ct_enroll_response_free)

/* one visible step of a backend exchange (for progress and `certtether test`) */
typedef struct {
	const gchar *name;	/* "discover", "tls", "authenticate", "web-ticket", "enroll", ... */
	const gchar *target;	/* URL or host the step talked to */
	gboolean ok;
	gdouble seconds;
	const GError *error;	/* when !ok */
} CtEnrollStep;

typedef void (*CtEnrollStepFunc)(const CtEnrollStep *step, gpointer user_data);

#define CT_TYPE_ENROLL_BACKEND (ct_enroll_backend_get_type())
G_DECLARE_DERIVABLE_TYPE(CtEnrollBackend, ct_enroll_backend, CT, ENROLL_BACKEND, GObject)

struct _CtEnrollBackendClass {
	GObjectClass parent_class;
	/* CA certificates the service publishes (EST cacerts, CertProv chain download) */
	STACK_OF(X509) *(*fetch_ca_certs)(CtEnrollBackend *self,
					  GCancellable *cancellable,
					  GError **error);
	CtEnrollResponse *(*submit)(CtEnrollBackend *self,
				    const CtEnrollRequest *request,
				    GCancellable *cancellable,
				    GError **error);
	gpointer padding[8];
};

STACK_OF(X509) *ct_enroll_backend_fetch_ca_certs(CtEnrollBackend *self,
						 GCancellable *cancellable,
						 GError **error);
CtEnrollResponse *ct_enroll_backend_submit(CtEnrollBackend *self,
					   const CtEnrollRequest *request,
					   GCancellable *cancellable,
					   GError **error);

/* observe each step (called from the thread running the backend) */
void ct_enroll_backend_set_step_func(CtEnrollBackend *self,
				     CtEnrollStepFunc func,
				     gpointer user_data,
				     GDestroyNotify destroy);
/* for subclasses: report a step */
void ct_enroll_backend_report_step(CtEnrollBackend *self, const CtEnrollStep *step);
/* for subclasses: the step @name that began at @t0 (g_get_monotonic_time()) is over, ok
 * when @error is NULL */
void ct_enroll_backend_step_done(CtEnrollBackend *self,
				 const gchar *name,
				 const gchar *target,
				 gint64 t0,
				 const GError *error);

/* the service URL, extra anchors and credentials every backend has */
const gchar *ct_enroll_backend_get_url(CtEnrollBackend *self);
const gchar *ct_enroll_backend_get_ca_file(CtEnrollBackend *self);
CtCredentials *ct_enroll_backend_get_credentials(CtEnrollBackend *self);
/* seconds for one HTTP exchange (property "timeout", 0 = CT_HTTP_DEFAULT_TIMEOUT_S) */
guint ct_enroll_backend_get_timeout(CtEnrollBackend *self);

/*
 * Retry-After hint: a subclass that fails with a transient error because the
 * server said "come back in N s" (503 + Retry-After) records N here; the retry
 * loop takes it (and clears it) to use as the minimum delay before the next try.
 */
void ct_enroll_backend_set_retry_after(CtEnrollBackend *self, gdouble seconds);
gdouble ct_enroll_backend_take_retry_after(CtEnrollBackend *self); /* -1 when none */
/* for subclasses: @response's Retry-After as the hint, when it carries one */
void ct_enroll_backend_note_retry_after(CtEnrollBackend *self, const CtHttpResponse *response);

/*
 * For subclasses: the backend's credentials, ready for @url (ct_credentials_ensure());
 * CT_ERROR_NO_CREDENTIALS when the backend has none.
 */
CtCredentials *ct_enroll_backend_ensure_credentials(CtEnrollBackend *self,
						    const gchar *url,
						    GError **error);

/*
 * For subclasses: the backend's settings on one request: ca_file and timeout when
 * unset and, if @authenticate, the credentials (ensured first, see above).
 */
void ct_enroll_backend_prepare_request(CtEnrollBackend *self,
				       CtHttpRequest *request,
				       gboolean authenticate);

/*
 * For subclasses: one HTTP exchange with the backend's settings
 * (ct_enroll_backend_prepare_request(), after ct_enroll_backend_ensure_credentials()
 * if @authenticate); reports a step named @step; records the Retry-After hint of a
 * 429/503. The status is not classified: call ct_http_status_to_error() for non-2xx.
 */
CtHttpResponse *ct_enroll_backend_http(CtEnrollBackend *self,
				       CtHttpRequest *request,
				       const gchar *step,
				       gboolean authenticate,
				       GCancellable *cancellable,
				       GError **error);

G_END_DECLS
