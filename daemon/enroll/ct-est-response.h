/*
 * The EST (RFC 7030) answer parser, on its own so that it can be fuzzed without
 * the HTTP stack: /cacerts, /simpleenroll and /simplereenroll all answer a
 * PKCS#7 certs-only bundle, base64 in the body.
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-x509.h"

G_BEGIN_DECLS

/*
 * Parse an EST certificate answer: base64 (or, leniently, raw DER) PKCS#7
 * certs-only. @content_type, when given, must be application/pkcs7-mime.
 * Bounded (CT_X509_MAX_INPUT, CT_X509_MAX_CERTS); never crashes on garbage
 * (fuzz target tests/fuzz/fuzz-est-response.c). Errors are CT_ERROR_PROTOCOL.
 */
CtX509Stack *ct_est_parse_certs_response(const guint8 *body,
                                         gsize len,
                                         const gchar *content_type,
                                         GError **error);

G_END_DECLS
