/*
 * libFuzzer target: the EST answer parser (daemon/enroll/ct-est-response.c) on
 * untrusted bytes — base64 or DER PKCS#7 certs-only, as /cacerts and
 * /simple(re)enroll answer — with and without a Content-Type. Whatever parses is
 * walked the way the engine uses it (names, fingerprints, DER and PEM encodings,
 * validity), so that a certificate OpenSSL accepts but the engine mishandles
 * shows up here too.
 *
 * Input: the first byte picks the Content-Type (0: none, 1: application/pkcs7-mime,
 * 2: with parameters, 3: text/html), the rest is the body.
 */
#include <string.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-est-response.h"

int LLVMFuzzerTestOneInput(const guint8 *data, size_t size);

static const gchar *const content_types[] = {
    NULL,
    "application/pkcs7-mime",
    "application/pkcs7-mime; smime-type=certs-only",
    "text/html",
};

static void
walk(CtX509Stack *certs)
{
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		g_autofree gchar *subject = ct_x509_subject_string(c);
		g_autofree gchar *issuer = ct_x509_issuer_string(c);
		g_autofree gchar *fp = ct_x509_fingerprint_sha256(c);
		g_autofree gchar *pem = ct_x509_to_pem(c);
		g_autoptr(GBytes) der = ct_x509_to_der(c);
		gint64 nb = 0, na = 0;
		g_assert_nonnull(subject);
		g_assert_nonnull(issuer);
		(void)ct_x509_get_validity(c, &nb, &na);
		(void)ct_x509_is_self_signed(c);
		/* what we re-encode must parse back as one certificate */
		if (der != NULL) {
			g_autoptr(GError) error = NULL;
			g_autoptr(X509) again = ct_x509_from_der(g_bytes_get_data(der, NULL),
			                                         g_bytes_get_size(der), &error);
			(void)again;
		}
		(void)fp;
		(void)pem;
	}
}

int
LLVMFuzzerTestOneInput(const guint8 *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtX509Stack) certs = NULL;
	const gchar *content_type;

	if (size < 1)
		return 0;
	content_type = content_types[data[0] % G_N_ELEMENTS(content_types)];
	certs = ct_est_parse_certs_response(data + 1, size - 1, content_type, &error);
	if (certs == NULL) {
		/* a refusal is always a protocol error with a message */
		g_assert_nonnull(error);
		g_assert_true(error->domain == CT_ERROR && error->code == CT_ERROR_PROTOCOL);
		g_assert_nonnull(error->message);
		return 0;
	}
	g_assert_null(error);
	g_assert_cmpint(sk_X509_num(certs), >, 0);
	g_assert_cmpint(sk_X509_num(certs), <=, CT_X509_MAX_CERTS);
	walk(certs);
	return 0;
}
