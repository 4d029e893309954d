/*
 * X.509 helpers shared by the enrollment backends, the verifier and the CLI:
 * parse DER certificates, PKCS#7 certs-only bundles (DER or base64) and PEM
 * files, print names and fingerprints. Every parser bounds its input.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

/* inputs larger than this are refused before parsing */
#define CT_X509_MAX_INPUT (1024 * 1024)
/* bundles with more certificates than this are refused */
#define CT_X509_MAX_CERTS 64

/* a stack of certificates that owns its elements */
typedef STACK_OF(X509) CtX509Stack;
void ct_x509_stack_free(CtX509Stack *stack);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtX509Stack, ct_x509_stack_free)

/*
 * Cleanup functions for the OpenSSL types the engine uses, defined once here so
 * that every engine file can use g_autoptr(X509) and friends.
 */
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE, X509_STORE_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)

/* one DER certificate (the whole input must be the certificate) */
X509 *ct_x509_from_der(const guint8 *data, gsize len, GError **error);

/* the certificates of a DER PKCS#7 SignedData "certs-only" bundle (at least one) */
CtX509Stack *ct_x509_pkcs7_from_der(const guint8 *data, gsize len, GError **error);

/*
 * The same in base64 (RFC 7030 bodies: line breaks and blanks allowed, anything
 * else outside the base64 alphabet is an error).
 */
CtX509Stack *ct_x509_pkcs7_from_base64(const gchar *text, gsize len, GError **error);

/* a DER certificate or a DER PKCS#7 bundle, whichever it is (CertProv answers) */
CtX509Stack *ct_x509_certs_from_der_any(const guint8 *data, gsize len, GError **error);

/* every certificate of a PEM text (at least one) */
CtX509Stack *ct_x509_from_pem(const gchar *text, gsize len, GError **error);

/* every certificate of a PEM file; errors name the file */
CtX509Stack *ct_x509_load_pem_file(const gchar *path, GError **error);

/* decode base64 strictly (whitespace allowed), bounded by CT_X509_MAX_INPUT */
GBytes *ct_x509_base64_decode(const gchar *text, gsize len, GError **error);

/* DER and PEM encodings */
GBytes *ct_x509_to_der(X509 *cert);
gchar *ct_x509_to_pem(X509 *cert);

/* "AB:CD:..." upper-case SHA-256 of the DER certificate */
gchar *ct_x509_fingerprint_sha256(X509 *cert);

/* one-line RFC 2253 form, e.g. "CN=Foo Root,O=Example" (UTF-8 kept as is) */
gchar *ct_x509_name_to_string(const X509_NAME *name);
gchar *ct_x509_subject_string(X509 *cert);
gchar *ct_x509_issuer_string(X509 *cert);

/* the serial number in upper-case hex without separators, or NULL if unreadable */
gchar *ct_x509_serial_hex(X509 *cert);

/*
 * The identities a certificate names, as UTF-8: the subject's last (most
 * specific) CN, or NULL; the URI entries of subjectAltName (empty, never NULL).
 * A value with an embedded NUL is left out: "alice\0.evil" must not pass as "alice".
 */
gchar *ct_x509_common_name(X509 *cert);
GStrv ct_x509_san_uris(X509 *cert);

/* the certificate's notBefore / notAfter as Unix time (FALSE if unreadable) */
gboolean ct_x509_get_validity(X509 *cert, gint64 *not_before, gint64 *not_after);

/* TRUE if the certificate is self-issued and its signature verifies with its own key */
gboolean ct_x509_is_self_signed(X509 *cert);

/* a new stack holding extra references to the certificates of @stack (NULL gives empty) */
CtX509Stack *ct_x509_stack_copy(const CtX509Stack *stack);

/* append references to the certificates of @from that @to does not hold yet */
void ct_x509_stack_merge(CtX509Stack *to, const CtX509Stack *from);

/* TRUE if @stack holds a certificate equal to @cert */
gboolean ct_x509_stack_contains(const CtX509Stack *stack, X509 *cert);

G_END_DECLS
