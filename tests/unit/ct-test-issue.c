#include "tests/unit/ct-test-issue.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

EVP_PKEY *
ct_test_key_new(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	g_assert_nonnull(key);
	return key;
}

GBytes *
ct_test_csr_new(EVP_PKEY *key, const gchar *cn)
{
	X509_REQ *req = X509_REQ_new();
	X509_NAME *name = X509_NAME_new();
	guint8 *der = NULL;
	int len;
	GBytes *out;
	g_assert_true(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                         (const unsigned char *)cn, -1, -1, 0));
	g_assert_true(X509_REQ_set_subject_name(req, name));
	g_assert_true(X509_REQ_set_pubkey(req, key));
	g_assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	len = i2d_X509_REQ(req, &der);
	g_assert_cmpint(len, >, 0);
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	X509_NAME_free(name);
	X509_REQ_free(req);
	return out;
}

static void
ct_test_add_ext(X509 *cert, X509 *issuer, int nid, const gchar *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	g_assert_nonnull(ext);
	g_assert_true(X509_add_ext(cert, ext, -1));
	X509_EXTENSION_free(ext);
}

X509 *
ct_test_cert_new(EVP_PKEY *subject_key,
                 const CtTestCertSpec *spec,
                 X509 *issuer,
                 EVP_PKEY *issuer_key)
{
	X509 *cert = X509_new();
	X509_NAME *name = X509_NAME_new();
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	BIGNUM *bn = BN_new();

	g_assert_true(X509_set_version(cert, X509_VERSION_3));
	g_assert_true(BN_rand(bn, 64, BN_RAND_TOP_ONE, BN_RAND_BOTTOM_ANY));
	g_assert_nonnull(BN_to_ASN1_INTEGER(bn, serial));
	g_assert_true(X509_set_serialNumber(cert, serial));
	g_assert_true(X509_NAME_add_entry_by_NID(name, NID_organizationName, MBSTRING_UTF8,
	                                         (const unsigned char *)"certtether unit test", -1,
	                                         -1, 0));
	g_assert_true(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                         (const unsigned char *)spec->cn, -1, -1, 0));
	g_assert_true(X509_set_subject_name(cert, name));
	g_assert_true(
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : name));
	g_assert_nonnull(
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, (long)spec->not_before, NULL));
	g_assert_nonnull(
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, (long)spec->not_after, NULL));
	g_assert_true(X509_set_pubkey(cert, subject_key));

	ct_test_add_ext(cert, issuer, NID_subject_key_identifier, "hash");
	if (issuer != NULL)
		ct_test_add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
	if (spec->ca) {
		ct_test_add_ext(cert, issuer, NID_basic_constraints, "critical,CA:TRUE");
		ct_test_add_ext(cert, issuer, NID_key_usage, "critical,keyCertSign,cRLSign");
	} else {
		ct_test_add_ext(cert, issuer, NID_basic_constraints, "critical,CA:FALSE");
		ct_test_add_ext(cert, issuer, NID_key_usage, "critical,digitalSignature");
	}
	if (spec->client_auth)
		ct_test_add_ext(cert, issuer, NID_ext_key_usage, "clientAuth");
	if (spec->san_uri != NULL) {
		g_autofree gchar *v = g_strdup_printf("URI:%s", spec->san_uri);
		ct_test_add_ext(cert, issuer, NID_subject_alt_name, v);
	}
	if (spec->san != NULL)
		ct_test_add_ext(cert, issuer, NID_subject_alt_name, spec->san);
	if (spec->aia_url != NULL) {
		g_autofree gchar *v = g_strdup_printf("caIssuers;URI:%s", spec->aia_url);
		ct_test_add_ext(cert, issuer, NID_info_access, v);
	}
	g_assert_true(X509_sign(cert, issuer_key != NULL ? issuer_key : subject_key, EVP_sha256()) >
	              0);
	BN_free(bn);
	ASN1_INTEGER_free(serial);
	X509_NAME_free(name);
	return cert;
}

X509 *
ct_test_ca_new(const gchar *cn, EVP_PKEY **key_out)
{
	CtTestCertSpec spec = {
	    .cn = cn, .ca = TRUE, .not_before = -3600, .not_after = 10 * 365 * 86400};
	EVP_PKEY *key = ct_test_key_new();
	X509 *cert = ct_test_cert_new(key, &spec, NULL, NULL);
	*key_out = key;
	return cert;
}

X509 *
ct_test_user_cert_new(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key)
{
	CtTestCertSpec spec = {.cn = "alice@test.local",
	                       .san_uri = "sip:alice@test.local",
	                       .client_auth = TRUE,
	                       .not_before = -600,
	                       .not_after = 180 * 86400};
	return ct_test_cert_new(subject_key, &spec, issuer, issuer_key);
}

gchar *
ct_test_write_key(const gchar *dir, const gchar *name, EVP_PKEY *key)
{
	gchar *path = g_build_filename(dir, name, NULL);
	FILE *f = fopen(path, "w");
	g_assert_nonnull(f);
	g_assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	return path;
}

gchar *
ct_test_write_pem(const gchar *dir, const gchar *name, ...)
{
	gchar *path = g_build_filename(dir, name, NULL);
	FILE *f = fopen(path, "w");
	va_list args;
	X509 *cert;
	g_assert_nonnull(f);
	va_start(args, name);
	while ((cert = va_arg(args, X509 *)) != NULL)
		g_assert_true(PEM_write_X509(f, cert));
	va_end(args);
	fclose(f);
	return path;
}
