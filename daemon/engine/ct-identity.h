/*
 * The desktop user's identity as the certificate must carry it: the SIP URI
 * (configured, else derived from the Kerberos principal or named by the client
 * certificate), the CertProv Entity, the DER subject and subjectAltName the host
 * demands from the phone's CSR, and the stable DeviceId of a phone. The identity
 * never comes from the device.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-config.h"
#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

/*
 * "sip:user@domain" with the scheme and domain lower-cased, or NULL if @value is
 * not a SIP address of that form (the user part keeps its case).
 */
gchar *ct_identity_normalize_sip_uri(const gchar *value);

/* alice@TEST.LOCAL -> "sip:alice@test.local" (realm lower-cased); CT_ERROR_CONFIG
 * with a hint to set sip-uri= when the principal has no usable form */
gchar *ct_identity_sip_uri_from_principal(const gchar *principal, GError **error);

/* the configured [identity] sip-uri (@config may be NULL), else the principal's */
gchar *ct_identity_resolve_sip_uri(CtConfig *config, const gchar *principal, GError **error);

/*
 * The SIP address a (client) certificate names: its first subjectAltName URI that is
 * sip:user@domain, else its CN when it is user@domain (or sip:user@domain);
 * CT_ERROR_CONFIG with a hint to set sip-uri= otherwise
 */
gchar *ct_identity_sip_uri_from_cert(X509 *cert, GError **error);

/*
 * Whom the desktop user's certificates are for, after ct_credentials_ensure() (both
 * may be NULL): with a client certificate, the configured sip-uri (CT_ERROR_CONFIG
 * when the certificate names another user) else the certificate's own
 * (ct_identity_sip_uri_from_cert()); otherwise ct_identity_resolve_sip_uri() with the
 * credentials' principal
 */
gchar *ct_identity_resolve_user(CtConfig *config, CtCredentials *credentials, GError **error);

/* the CertProv Entity: the SIP URI without "sip:" ("alice@test.local") */
gchar *ct_identity_entity(const gchar *sip_uri);

/* DER X.509 Name "CN=<entity>" for CREATE_CSR */
GBytes *ct_identity_subject_der(const gchar *sip_uri, GError **error);

/* DER GeneralNames holding one uniformResourceIdentifier, the SIP URI */
GBytes *ct_identity_san_der(const gchar *sip_uri, GError **error);

/*
 * "{XXXXXXXX-XXXX-5XXX-YXXX-XXXXXXXXXXXX}": a name-based UUID (version 5, SHA-1)
 * of the device serial in certtether's fixed namespace; the same serial always
 * gives the same id, on every machine.
 */
gchar *ct_identity_device_id(const gchar *serial);

/*
 * TRUE when @cert names the user: a subjectAltName URI equal to @sip_uri, or its
 * last subject CN equal to the entity (or to @sip_uri); ASCII case-insensitive, as
 * SIP hosts are. FALSE for an empty @sip_uri.
 */
gboolean ct_identity_cert_names_user(X509 *cert, const gchar *sip_uri);

G_END_DECLS
