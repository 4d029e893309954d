/*
 * EST (RFC 7030) enrollment backend: GET /cacerts, POST /simpleenroll and
 * /simplereenroll under /.well-known/est[/<label>], authenticated with the
 * desktop user's credentials (Negotiate or Basic over TLS). Bodies are base64;
 * answers are PKCS#7 certs-only.
 */
#pragma once

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-enroll-backend.h"
#include "daemon/enroll/ct-est-response.h"

G_BEGIN_DECLS

#define CT_TYPE_EST (ct_est_get_type())
G_DECLARE_FINAL_TYPE(CtEst, ct_est, CT, EST, CtEnrollBackend)

/*
 * @url: https://host[:port] (".well-known/est" is appended) or a URL that already
 * holds /.well-known/est[/label]; @label: optional CA label (RFC 7030 3.2.2).
 */
CtEnrollBackend *
ct_est_new(const gchar *url, const gchar *label, const gchar *ca_file, CtCredentials *credentials);

/* the URL of one operation ("cacerts", "simpleenroll", "simplereenroll") */
gchar *ct_est_operation_url(const gchar *url, const gchar *label, const gchar *operation);

G_END_DECLS
