#include "tests/unit/ct-test-pki.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <string.h>

#include "usbproto/codec/ctp-protocol.h"

static EVP_PKEY *
ct_test_pki_generate(const gchar *kind)
{
	EVP_PKEY *key = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	if (g_str_has_prefix(kind, "rsa")) {
		guint bits = (guint)g_ascii_strtoull(kind + 3, NULL, 10);
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
		g_assert_nonnull(ctx);
		g_assert_cmpint(EVP_PKEY_keygen_init(ctx), ==, 1);
		g_assert_cmpint(EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, (int)bits), ==, 1);
		if (g_str_has_suffix(kind, "-e3")) {
			BIGNUM *e = BN_new();
			BN_set_word(e, 3);
			g_assert_cmpint(EVP_PKEY_CTX_set1_rsa_keygen_pubexp(ctx, e), ==, 1);
			BN_free(e);
		}
	} else if (g_str_has_prefix(kind, "ec-")) {
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
		g_assert_nonnull(ctx);
		g_assert_cmpint(EVP_PKEY_keygen_init(ctx), ==, 1);
		g_assert_cmpint(EVP_PKEY_CTX_set_ec_paramgen_curve_nid(
		                    ctx, g_str_has_prefix(kind, "ec-p256") ? NID_X9_62_prime256v1
		                                                           : NID_secp384r1),
		                ==, 1);
		if (g_str_has_suffix(kind, "-explicit")) {
			/* spell out the curve parameters instead of naming the curve */
			OSSL_PARAM params[] = {
			    OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_EC_ENCODING,
			                                     (char *)OSSL_PKEY_EC_ENCODING_EXPLICIT,
			                                     0),
			    OSSL_PARAM_construct_end(),
			};
			g_assert_cmpint(EVP_PKEY_CTX_set_params(ctx, params), ==, 1);
		}
	} else if (g_str_equal(kind, "ed25519")) {
		ctx = EVP_PKEY_CTX_new_from_name(NULL, "ED25519", NULL);
		g_assert_nonnull(ctx);
		g_assert_cmpint(EVP_PKEY_keygen_init(ctx), ==, 1);
	} else {
		g_error("unknown key kind %s", kind);
	}
	g_assert_cmpint(EVP_PKEY_generate(ctx, &key), ==, 1);
	EVP_PKEY_CTX_free(ctx);
	return key;
}

EVP_PKEY *
ct_test_pki_key(const gchar *kind)
{
	static GHashTable *cache = NULL;
	EVP_PKEY *key;
	if (cache == NULL)
		cache = g_hash_table_new(g_str_hash, g_str_equal);
	key = g_hash_table_lookup(cache, kind);
	if (key == NULL) {
		key = ct_test_pki_generate(kind);
		g_hash_table_insert(cache, g_strdup(kind), key);
	}
	EVP_PKEY_up_ref(key);
	return key;
}

static GBytes *
ct_test_pki_take_der(guchar *der, int len)
{
	GBytes *bytes;
	g_assert_cmpint(len, >, 0);
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

static X509_NAME *
ct_test_pki_name(const gchar *cn)
{
	X509_NAME *name = X509_NAME_new();
	g_assert_cmpint(X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                           (const unsigned char *)cn, -1, -1, 0),
	                ==, 1);
	return name;
}

GBytes *
ct_test_pki_name_der(const gchar *cn)
{
	X509_NAME *name = ct_test_pki_name(cn);
	guchar *der = NULL;
	int len = i2d_X509_NAME(name, &der);
	X509_NAME_free(name);
	return ct_test_pki_take_der(der, len);
}

GBytes *
ct_test_pki_san_der(const gchar *uri)
{
	GENERAL_NAMES *names = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *gn = GENERAL_NAME_new();
	ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
	guchar *der = NULL;
	int len;
	ASN1_STRING_set(ia5, uri, -1);
	GENERAL_NAME_set0_value(gn, GEN_URI, ia5);
	sk_GENERAL_NAME_push(names, gn);
	len = i2d_GENERAL_NAMES(names, &der);
	GENERAL_NAMES_free(names);
	return ct_test_pki_take_der(der, len);
}

CtTestCsr *
ct_test_csr_new(EVP_PKEY *key, const gchar *cn)
{
	CtTestCsr *csr = g_new0(CtTestCsr, 1);
	X509_NAME *name = ct_test_pki_name(cn);
	csr->req = X509_REQ_new();
	csr->exts = sk_X509_EXTENSION_new_null();
	g_assert_cmpint(X509_REQ_set_version(csr->req, X509_REQ_VERSION_1), ==, 1);
	g_assert_cmpint(X509_REQ_set_subject_name(csr->req, name), ==, 1);
	g_assert_cmpint(X509_REQ_set_pubkey(csr->req, key), ==, 1);
	X509_NAME_free(name);
	return csr;
}

void
ct_test_csr_add_ext(CtTestCsr *csr, int nid, const gchar *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, nid, value);
	g_assert_nonnull(ext);
	sk_X509_EXTENSION_push(csr->exts, ext);
}

void
ct_test_csr_add_challenge_password(CtTestCsr *csr, const gchar *password)
{
	g_assert_cmpint(X509_REQ_add1_attr_by_NID(csr->req, NID_pkcs9_challengePassword,
	                                          MBSTRING_ASC, (const unsigned char *)password,
	                                          -1),
	                ==, 1);
}

GBytes *
ct_test_csr_sign(CtTestCsr *csr, EVP_PKEY *key)
{
	guchar *der = NULL;
	int len;
	if (sk_X509_EXTENSION_num(csr->exts) > 0)
		g_assert_cmpint(X509_REQ_add_extensions(csr->req, csr->exts), ==, 1);
	g_assert_cmpint(
	    X509_REQ_sign(csr->req, key,
	                  EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519 ? NULL : EVP_sha256()),
	    >, 0);
	len = i2d_X509_REQ(csr->req, &der);
	return ct_test_pki_take_der(der, len);
}

void
ct_test_csr_free(CtTestCsr *csr)
{
	if (csr == NULL)
		return;
	X509_REQ_free(csr->req);
	sk_X509_EXTENSION_pop_free(csr->exts, X509_EXTENSION_free);
	g_free(csr);
}

GBytes *
ct_test_pki_csr(EVP_PKEY *key, const gchar *cn, const gchar *san_uri)
{
	CtTestCsr *csr = ct_test_csr_new(key, cn);
	GBytes *der;
	if (san_uri != NULL) {
		g_autofree gchar *value = g_strdup_printf("URI:%s", san_uri);
		ct_test_csr_add_ext(csr, NID_subject_alt_name, value);
	}
	der = ct_test_csr_sign(csr, key);
	ct_test_csr_free(csr);
	return der;
}

GBytes *
ct_test_pki_cert(EVP_PKEY *subject_key,
                 const gchar *cn,
                 const gchar *san_uri,
                 gint64 not_before_s,
                 gint64 not_after_s,
                 EVP_PKEY *issuer_key)
{
	X509 *cert = X509_new();
	X509_NAME *subject = ct_test_pki_name(cn);
	X509_NAME *issuer = ct_test_pki_name("certtether test CA");
	ASN1_INTEGER *serial = ASN1_INTEGER_new();
	guchar *der = NULL;
	int len;

	g_assert_cmpint(X509_set_version(cert, X509_VERSION_3), ==, 1);
	ASN1_INTEGER_set_uint64(serial, g_random_int() | ((guint64)g_random_int() << 32));
	X509_set_serialNumber(cert, serial);
	X509_set_subject_name(cert, subject);
	X509_set_issuer_name(cert, issuer);
	X509_set_pubkey(cert, subject_key);
	X509_gmtime_adj(X509_getm_notBefore(cert), (long)not_before_s);
	X509_gmtime_adj(X509_getm_notAfter(cert), (long)not_after_s);
	if (san_uri != NULL) {
		g_autofree gchar *value = g_strdup_printf("URI:%s", san_uri);
		X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, NULL, NID_subject_alt_name, value);
		g_assert_nonnull(ext);
		X509_add_ext(cert, ext, -1);
		X509_EXTENSION_free(ext);
	}
	g_assert_cmpint(X509_sign(cert, issuer_key, EVP_sha256()), >, 0);
	len = i2d_X509(cert, &der);
	X509_free(cert);
	X509_NAME_free(subject);
	X509_NAME_free(issuer);
	ASN1_INTEGER_free(serial);
	return ct_test_pki_take_der(der, len);
}

GBytes *
ct_test_pki_sign(EVP_PKEY *key, ...)
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	guchar sig[1024];
	size_t sig_len = sizeof(sig);
	va_list args;
	GBytes *part;

	g_assert_cmpint(EVP_DigestSignInit_ex(md, NULL, "SHA256", NULL, NULL, key, NULL), ==, 1);
	va_start(args, key);
	while ((part = va_arg(args, GBytes *)) != NULL) {
		gsize len = 0;
		gconstpointer data = g_bytes_get_data(part, &len);
		g_assert_cmpint(EVP_DigestSignUpdate(md, data, len), ==, 1);
	}
	va_end(args);
	g_assert_cmpint(EVP_DigestSignFinal(md, sig, &sig_len), ==, 1);
	EVP_MD_CTX_free(md);
	return g_bytes_new(sig, sig_len);
}

GBytes *
ct_test_pki_pop(EVP_PKEY *key, GBytes *nonce, GBytes *csr_der)
{
	g_autoptr(GBytes) context =
	    g_bytes_new_static(CTP_CSR_POP_CONTEXT, strlen(CTP_CSR_POP_CONTEXT));
	g_autoptr(GBytes) digest = NULL;
	guchar hash[EVP_MAX_MD_SIZE];
	unsigned int hash_len = 0;
	g_assert_cmpint(EVP_Digest(g_bytes_get_data(csr_der, NULL), g_bytes_get_size(csr_der), hash,
	                           &hash_len, EVP_sha256(), NULL),
	                ==, 1);
	digest = g_bytes_new(hash, hash_len);
	return ct_test_pki_sign(key, context, nonce, digest, NULL);
}

GBytes *
ct_test_pki_identity_sig(EVP_PKEY *key, GBytes *challenge, const gchar *serial)
{
	g_autoptr(GBytes) context =
	    g_bytes_new_static(CTP_HELLO_SIG_CONTEXT, strlen(CTP_HELLO_SIG_CONTEXT));
	guint8 len = (guint8)strlen(serial);
	g_autoptr(GBytes) len_byte = g_bytes_new(&len, 1);
	g_autoptr(GBytes) serial_bytes = g_bytes_new(serial, strlen(serial));
	return ct_test_pki_sign(key, context, challenge, len_byte, serial_bytes, NULL);
}

GBytes *
ct_test_pki_pubkey_der(EVP_PKEY *key)
{
	guchar *der = NULL;
	int len = i2d_PUBKEY(key, &der);
	return ct_test_pki_take_der(der, len);
}

GBytes *
ct_test_pki_flip_byte(GBytes *bytes, gsize offset)
{
	gsize len = 0;
	guint8 *copy = g_memdup2(g_bytes_get_data(bytes, &len), g_bytes_get_size(bytes));
	g_assert_cmpuint(offset, <, len);
	copy[offset] ^= 0x01;
	return g_bytes_new_take(copy, len);
}

GBytes *
ct_test_pki_append(GBytes *bytes, const void *extra, gsize extra_len)
{
	GByteArray *array = g_byte_array_new();
	g_byte_array_append(array, g_bytes_get_data(bytes, NULL), (guint)g_bytes_get_size(bytes));
	g_byte_array_append(array, extra, (guint)extra_len);
	return g_byte_array_free_to_bytes(array);
}
