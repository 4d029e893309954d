/*
 * Facts read from one DER X.509 certificate: its SHA-256, serial number,
 * validity and subject (whom it names: ct_identity_cert_names_user() on x509),
 * read with the ct-x509 helpers. Used by the ledger (what was issued) and the
 * renewal policy (what the phone holds).
 * Reading facts is not verification: nothing here checks a signature or a chain.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-error.h"
#include "daemon/engine/ct-x509.h"

G_BEGIN_DECLS

typedef struct {
	X509 *x509;        /* the parsed certificate (owned) */
	gchar *sha256;     /* lower-case hex SHA-256 of the DER */
	gchar *serial;     /* upper-case hex serial number, no separators */
	gint64 not_before; /* µs since the Unix epoch */
	gint64 not_after;  /* µs since the Unix epoch */
	gchar *subject;    /* RFC 2253 text, for messages */
} CtCertInfo;

/* parse strictly (no trailing bytes, at most CTP_MAX_CERT bytes); CT_ERROR_CERT_INVALID if
 * the bytes are not one certificate */
CtCertInfo *ct_cert_info_new(GBytes *der, GError **error);
void ct_cert_info_free(CtCertInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtCertInfo, ct_cert_info_free)

G_END_DECLS
