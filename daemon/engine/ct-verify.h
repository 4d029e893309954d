/*
 * Acceptance of an issued certificate. It is installed on a phone only if:
 *   - its public key is the CSR's (the phone holds the private key);
 *   - it names the desktop user (subjectAltName URI = SIP URI, or CN = entity);
 *   - it has the clientAuth extended key usage and is not a CA;
 *   - its validity is sane: notBefore at most 5 minutes ahead, notAfter in the
 *     future, lifetime at most 8760 h (+ 48 h slack);
 *   - it chains to a trust anchor. Anchors are ONLY the configured ca-file and the
 *     system store; certificates from the response, from the service's CA
 *     download (EST /cacerts, CertProv chain) and from AIA caIssuers URLs serve
 *     as intermediates, never as anchors (a compromised or spoofed service must
 *     not be able to vouch for itself).
 * Every refusal names what is wrong, e.g. "the issuer 'CN=Unknown Issuing CA' is
 * not trusted and no chain leads to a trust anchor".
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-enrollment.h"
#include "daemon/engine/ct-x509.h"

G_BEGIN_DECLS

/* tolerances */
#define CT_VERIFY_MAX_CLOCK_SKEW_S (5 * 60)
#define CT_VERIFY_MAX_LIFETIME_S   (8760 * 3600)
#define CT_VERIFY_LIFETIME_SLACK_S (48 * 3600)
#define CT_VERIFY_MAX_AIA_FETCHES  4
#define CT_VERIFY_MAX_AIA_BODY     (64 * 1024)

typedef struct {
	EVP_PKEY *csr_key;                    /* public key of the phone's CSR */
	const gchar *sip_uri;                 /* the desktop user */
	X509 *certificate;                    /* the issued certificate */
	const CtX509Stack *extra;             /* returned with it, or NULL */
	const CtX509Stack *ca_certs;          /* the service's CA download, or NULL */
	const CtX509Stack *service_tls_chain; /* the service's TLS chain, or NULL */
	const gchar *ca_file;                 /* extra anchors (PEM), or NULL */
	gboolean no_system_store;             /* anchors from ca_file only */
	gboolean fetch_aia;                   /* follow AIA caIssuers (http/https) */
	guint timeout_s;                      /* for AIA fetches */
	gint64 now;                           /* Unix time to check against; 0 = now */
} CtVerifyParams;

/* the public key of a DER PKCS#10 request (its self-signature is checked too) */
EVP_PKEY *ct_verify_csr_public_key(GBytes *csr_der, GError **error);

/* check everything above; CT_ERROR_CERT_INVALID or CT_ERROR_CHAIN_UNTRUSTED */
CtEnrollResult *
ct_verify_issued(const CtVerifyParams *params, GCancellable *cancellable, GError **error);

/*
 * The whole chain a presented chain (leaf first) builds to with the same
 * anchors: leaf first, the trust anchor last, with any intermediate the
 * presentation lacked but the anchors' file or store supplied; NULL with the
 * reason (for `certtether test chain`: what a phone needs besides what the
 * server presents).
 */
CtX509Stack *ct_verify_chain_build(const CtX509Stack *presented,
                                   const gchar *ca_file,
                                   gboolean no_system_store,
                                   GError **error);

/*
 * The trust anchor a presented chain (leaf first) leads to with the same
 * anchors, or NULL with the reason (the web service's TLS chain, for the phone).
 */
X509 *ct_verify_chain_anchor(const CtX509Stack *presented,
                             const gchar *ca_file,
                             gboolean no_system_store,
                             GError **error);

G_END_DECLS
