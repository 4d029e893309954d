/*
 * The throwaway key and request of `certtether test client-auth`: generated in
 * memory with OpenSSL, used to sign one PKCS#10 request, and freed (OpenSSL
 * clears private key material on free). Nothing is written to disk.
 */
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>

#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-x509.h"
#include "ui-cli/ctcli-test.h"

typedef STACK_OF(X509_EXTENSION) CtcliExtensions;

static void
ctcli_test_extensions_free(CtcliExtensions *exts)
{
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_EXTENSION, X509_EXTENSION_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_OCTET_STRING, ASN1_OCTET_STRING_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtcliExtensions, ctcli_test_extensions_free)

static gboolean
ctcli_test_openssl_failed(const gchar *what, GError **error)
{
	ERR_clear_error();
	g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "OpenSSL could not %s", what);
	return FALSE;
}

static EVP_PKEY *
ctcli_test_generate_key(CtKeyAlgorithm algorithm, GError **error)
{
	EVP_PKEY *key = NULL;
	switch (algorithm) {
	case CT_KEY_ALGORITHM_RSA2048:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
		break;
	case CT_KEY_ALGORITHM_RSA3072:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
		break;
	case CT_KEY_ALGORITHM_EC_P256:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		break;
	case CT_KEY_ALGORITHM_EC_P384:
		key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
		break;
	}
	if (key == NULL) {
		ERR_clear_error();
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
		            "OpenSSL could not generate a %s key",
		            ct_key_algorithm_to_string(algorithm));
	}
	return key;
}

/* subjectAltName from the DER GeneralNames the engine demands from phones too */
static gboolean
ctcli_test_add_san(X509_REQ *req, const gchar *sip_uri, GError **error)
{
	g_autoptr(GBytes) san = ct_identity_san_der(sip_uri, error);
	g_autoptr(ASN1_OCTET_STRING) value = NULL;
	g_autoptr(X509_EXTENSION) ext = NULL;
	g_autoptr(CtcliExtensions) exts = NULL;
	gsize len = 0;
	const guint8 *data;

	if (san == NULL)
		return FALSE;
	data = g_bytes_get_data(san, &len);
	value = ASN1_OCTET_STRING_new();
	if (value != NULL && ASN1_OCTET_STRING_set(value, data, (int)len))
		ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, value);
	exts = sk_X509_EXTENSION_new_null();
	if (ext == NULL || exts == NULL || sk_X509_EXTENSION_push(exts, ext) <= 0)
		return ctcli_test_openssl_failed("build the request's subjectAltName", error);
	ext = NULL; /* owned by the stack */
	if (X509_REQ_add_extensions(req, exts) != 1)
		return ctcli_test_openssl_failed("add the request's subjectAltName", error);
	return TRUE;
}

GBytes *
ctcli_test_make_csr(CtKeyAlgorithm algorithm, const gchar *sip_uri, GError **error)
{
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(X509_NAME) name = NULL;
	g_autoptr(GBytes) subject = NULL;
	const guint8 *p;
	gsize len = 0;
	guint8 *der = NULL;
	int der_len;
	GBytes *csr;

	subject = ct_identity_subject_der(sip_uri, error);
	if (subject == NULL)
		return NULL;
	p = g_bytes_get_data(subject, &len);
	name = d2i_X509_NAME(NULL, &p, (long)len);
	req = X509_REQ_new();
	if (name == NULL || req == NULL || X509_REQ_set_version(req, X509_REQ_VERSION_1) != 1 ||
	    X509_REQ_set_subject_name(req, name) != 1) {
		ctcli_test_openssl_failed("build the request's subject", error);
		return NULL;
	}
	if (!ctcli_test_add_san(req, sip_uri, error))
		return NULL;
	key = ctcli_test_generate_key(algorithm, error);
	if (key == NULL)
		return NULL;
	if (X509_REQ_set_pubkey(req, key) != 1 || X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		ctcli_test_openssl_failed("sign the request", error);
		return NULL;
	}
	der_len = i2d_X509_REQ(req, &der);
	if (der_len <= 0) {
		ctcli_test_openssl_failed("encode the request", error);
		return NULL;
	}
	/* the key goes with this scope: only its public half lives on, in the request */
	csr = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	return csr;
}
