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

/* the service URL, extra anchors and credentials every backend has */
const gchar *ct_enroll_backend_get_url(CtEnrollBackend *self);
const gchar *ct_enroll_backend_get_ca_file(CtEnrollBackend *self);
CtCredentials *ct_enroll_backend_get_credentials(CtEnrollBackend *self);

G_END_DECLS
