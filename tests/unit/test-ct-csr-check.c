/*
 * Unit tests of the checks on what an untrusted phone sends (daemon/engine/ct-csr-check.c):
 * every CSR here is made with OpenSSL in the test, the way a phone (honest or hostile)
 * would make it.
 */
#include <openssl/x509v3.h>
#include <string.h>

#include "daemon/engine/ct-csr-check.h"
#include "daemon/engine/ct-x509.h"
#include "tests/unit/ct-test-pki.h"
#include "usbproto/codec/ctp-protocol.h"

#define ALICE_CN  "alice@test.local"
#define ALICE_URI "sip:alice@test.local"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtTestCsr, ct_test_csr_free)

/* what the host asked for in CREATE_CSR */
typedef struct {
	GBytes *subject;
	GBytes *san; /* NULL: no SAN demanded */
	guint key_alg;
	GBytes *nonce;
} Request;

static Request *
request_new(guint key_alg, gboolean with_san)
{
	Request *r = g_new0(Request, 1);
	guint8 nonce[24];
	for (guint i = 0; i < sizeof(nonce); i++)
		nonce[i] = (guint8)g_random_int();
	r->subject = ct_test_pki_name_der(ALICE_CN);
	r->san = with_san ? ct_test_pki_san_der(ALICE_URI) : NULL;
	r->key_alg = key_alg;
	r->nonce = g_bytes_new(nonce, sizeof(nonce));
	return r;
}

static void
request_free(Request *r)
{
	g_bytes_unref(r->subject);
	if (r->san != NULL)
		g_bytes_unref(r->san);
	g_bytes_unref(r->nonce);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Request, request_free)

/* the phone answered csr + a correct proof of possession by pop_key: it must be refused
 * with CT_ERROR_CSR_INVALID and a message containing each of the fragments */
static void
assert_refused(Request *r, GBytes *csr, EVP_PKEY *pop_key, const gchar *fragment)
{
	g_autoptr(GBytes) pop = ct_test_pki_pop(pop_key, r->nonce, csr);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
	g_test_message("refused: %s", error->message);
	if (strstr(error->message, fragment) == NULL)
		g_error("expected '%s' in: %s", fragment, error->message);
}

static void
test_good_rsa2048(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr);
	g_autoptr(GBytes) spki = ct_test_pki_pubkey_der(key);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *hash = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, csr);
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpstr(result->csr_sha256, ==, hash);
	g_assert_true(g_bytes_equal(result->public_key_der, spki));
	g_assert_cmpint(EVP_PKEY_eq(result->public_key, key), ==, 1);
}

static void
test_good_p256_without_san(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, FALSE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, NULL);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, NULL, r->key_alg, r->nonce, pop, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpint(EVP_PKEY_eq(result->public_key, key), ==, 1);
}

static void
test_good_p384_with_san(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P384, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p384");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
}

static void
test_wrong_subject(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, "mallory@evil", ALICE_URI);
	assert_refused(r, csr, key, "asked for subject CN=mallory@evil, not CN=alice@test.local");
}

static void
test_extra_san(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, FALSE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, "sip:mallory@evil");
	assert_refused(r, csr, key,
	               "subjectAltName (URI:sip:mallory@evil) that certtether did not ask for");
}

static void
test_other_san(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, "sip:mallory@evil");
	assert_refused(
	    r, csr, key,
	    "asked for subjectAltName URI:sip:mallory@evil, not URI:sip:alice@test.local");
}

static void
test_san_with_extra_name(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name,
	                    "URI:" ALICE_URI ",DNS:intranet.test.local");
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "DNS:intranet.test.local");
}

static void
test_missing_san(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, NULL);
	assert_refused(r, csr, key,
	               "has no subjectAltName; certtether asked for URI:sip:alice@test.local");
}

static void
test_missing_san_with_other_extension_request(void)
{
	/* an extensionRequest is present but holds no SAN */
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) pop = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result = NULL;
	STACK_OF(X509_EXTENSION) *empty = sk_X509_EXTENSION_new_null();
	g_assert_cmpint(X509_REQ_add_extensions(builder->req, empty), ==, 1);
	sk_X509_EXTENSION_free(empty);
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "has no subjectAltName");
	/* the same CSR is fine when no SAN was demanded: an empty list asks for nothing */
	pop = ct_test_pki_pop(key, r->nonce, csr);
	result = ct_csr_check(csr, r->subject, NULL, r->key_alg, r->nonce, pop, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
}

static void
test_san_critical(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "critical,URI:" ALICE_URI);
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "marks subjectAltName critical");
}

static void
test_duplicate_san(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "two subjectAltName extensions");
}

static void
test_ca_true(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	ct_test_csr_add_ext(builder, NID_basic_constraints, "critical,CA:TRUE");
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "the phone's CSR carries basicConstraints CA:TRUE");
}

static void
test_ca_false_also_refused(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_basic_constraints, "CA:FALSE");
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "carries a basicConstraints extension (CA:FALSE)");
}

static void
test_key_cert_sign(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	ct_test_csr_add_ext(builder, NID_key_usage, "critical,digitalSignature,keyCertSign");
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "keyUsage with keyCertSign");
}

static void
test_unknown_extension(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	X509_EXTENSION *ext;
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.99999.1", 1);
	ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
	/* the value is an ASN.1 NULL */
	ASN1_OCTET_STRING_set(value, (const unsigned char *)"\x05\x00", 2);
	ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
	sk_X509_EXTENSION_push(builder->exts, ext);
	ASN1_OBJECT_free(oid);
	ASN1_OCTET_STRING_free(value);
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "carries a 1.3.6.1.4.1.99999.1 extension");
}

static void
test_extended_key_usage_refused(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	ct_test_csr_add_ext(builder, NID_ext_key_usage, "serverAuth");
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "extendedKeyUsage extension (TLS Web Server Authentication)");
}

static void
test_challenge_password(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	ct_test_csr_add_challenge_password(builder, "letmein");
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "challengePassword attribute");
}

static void
test_other_attribute(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, FALSE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	g_autoptr(GBytes) csr = NULL;
	g_assert_cmpint(X509_REQ_add1_attr_by_NID(builder->req, NID_pkcs9_unstructuredName,
	                                          MBSTRING_ASC, (const unsigned char *)"phone", -1),
	                ==, 1);
	csr = ct_test_csr_sign(builder, key);
	assert_refused(r, csr, key, "unexpected unstructuredName attribute");
}

static void
test_rsa1024(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa1024");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	assert_refused(r, csr, key, "the phone generated a 1024-bit RSA key, policy needs 2048");
}

static void
test_rsa2048_when_3072_asked(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_3072, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	assert_refused(r, csr, key, "the phone generated a 2048-bit RSA key, policy needs 3072");
}

static void
test_p384_when_p256_asked(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p384");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	assert_refused(r, csr, key, "the phone generated an EC P-384 key, policy needs EC P-256");
}

static void
test_rsa_when_ec_asked(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	assert_refused(r, csr, key,
	               "the phone generated a 2048-bit RSA key, policy needs EC P-256");
}

static void
test_ed25519_when_ec_asked(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ed25519");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = g_bytes_new_static("x", 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	/* refused on its signature algorithm (pure Ed25519) before the key is looked at */
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
	g_assert_nonnull(strstr(error->message, "signed its CSR with ED25519"));
}

static void
test_explicit_curve(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256-explicit");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
	g_test_message("refused: %s", error->message);
	/* OpenSSL may or may not recognise the spelled-out curve as P-256; refused either way */
	g_assert_true(strstr(error->message, "spells out its curve parameters") != NULL ||
	              strstr(error->message, "unnamed curve parameters") != NULL);
}

static void
test_rsa_exponent_3(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048-e3");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	assert_refused(r, csr, key,
	               "the phone's RSA key has public exponent 3, policy needs 65537");
}

static void
test_sha1_signature(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(CtTestCsr) builder = ct_test_csr_new(key, ALICE_CN);
	guchar *der = NULL;
	int len;
	g_autoptr(GBytes) csr = NULL;
	ct_test_csr_add_ext(builder, NID_subject_alt_name, "URI:" ALICE_URI);
	g_assert_cmpint(X509_REQ_add_extensions(builder->req, builder->exts), ==, 1);
	g_assert_cmpint(X509_REQ_sign(builder->req, key, EVP_sha1()), >, 0);
	len = i2d_X509_REQ(builder->req, &der);
	csr = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	assert_refused(r, csr, key, "signed its CSR with RSA-SHA1");
}

static void
test_bad_self_signature(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	/* the last byte belongs to the signature value */
	g_autoptr(GBytes) bad = ct_test_pki_flip_byte(csr, g_bytes_get_size(csr) - 1);
	assert_refused(r, bad, key, "self-signature does not verify");
}

static void
test_subject_altered_after_signing(void)
{
	/* a CSR whose subject was edited after signing (same length): the signature catches it */
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, "blice@test.local", ALICE_URI);
	gsize len = 0;
	guint8 *copy = g_memdup2(g_bytes_get_data(csr, &len), g_bytes_get_size(csr));
	guint8 *at = memmem(copy, len, "blice@", 6);
	g_autoptr(GBytes) edited = NULL;
	g_assert_nonnull(at);
	*at = 'a';
	edited = g_bytes_new_take(copy, len);
	assert_refused(r, edited, key, "self-signature does not verify");
}

static void
test_trailing_bytes(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) longer = ct_test_pki_append(csr, "\x00\x00", 2);
	assert_refused(r, longer, key, "followed by 2 extra bytes");
}

/* rewrite the DER length at offset (long form 0x81/0x82) with one more, zero, length byte */
static GBytes *
non_minimal_length(GBytes *der, gsize offset, gsize outer_offset)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);
	GByteArray *out = g_byte_array_new();
	guint n;
	g_assert_cmpuint(data[offset] & 0x80, ==, 0x80);
	n = data[offset] & 0x7f;
	g_byte_array_append(out, data, (guint)offset);
	g_byte_array_append(out, (const guint8 *)"\x00", 1);
	out->data[offset] = (guint8)(0x80 | (n + 1));
	g_byte_array_append(out, (const guint8 *)"\x00", 1);
	g_byte_array_append(out, data + offset + 1, (guint)(len - offset - 1));
	/* the enclosing SEQUENCE (2-byte long form) grew by one byte */
	if (outer_offset != G_MAXSIZE) {
		guint outer =
		    ((guint)out->data[outer_offset + 1] << 8) | out->data[outer_offset + 2];
		g_assert_cmpuint(out->data[outer_offset], ==, 0x82);
		outer++;
		out->data[outer_offset + 1] = (guint8)(outer >> 8);
		out->data[outer_offset + 2] = (guint8)(outer & 0xff);
	}
	return g_byte_array_free_to_bytes(out);
}

static void
test_non_der_outer(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	/* 30 82 LL LL -> 30 83 00 LL LL: a BER length OpenSSL still parses */
	g_autoptr(GBytes) ber = non_minimal_length(csr, 1, G_MAXSIZE);
	assert_refused(r, ber, key, "not in canonical DER");
}

static void
test_non_der_inside_signed_part(void)
{
	/* the request info (offset 4) is what OpenSSL caches and would re-emit unchanged */
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	const guint8 *data = g_bytes_get_data(csr, NULL);
	g_autoptr(GBytes) ber = NULL;
	g_assert_cmpuint(data[4], ==, 0x30);
	ber = non_minimal_length(csr, 5, 1);
	assert_refused(r, ber, key, "not in canonical DER");
}

static void
test_garbage_and_bounds(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) garbage = g_bytes_new_static("hello, I am a CSR", 17);
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
	g_autofree guint8 *big_data = g_malloc0(CTP_MAX_CSR + 1);
	g_autoptr(GBytes) big = NULL;
	big_data[0] = 0x30;
	big = g_bytes_new(big_data, CTP_MAX_CSR + 1);
	assert_refused(r, garbage, key, "not a DER PKCS#10 request");
	assert_refused(r, empty, key, "0 bytes; 1 to 8192 are allowed");
	assert_refused(r, big, key, "8193 bytes; 1 to 8192 are allowed");
}

static void
test_bad_pop(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(EVP_PKEY) other = ct_test_pki_key("ec-p384");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr);
	g_autoptr(GBytes) flipped = ct_test_pki_flip_byte(pop, g_bytes_get_size(pop) - 1);
	g_autoptr(GBytes) by_other = ct_test_pki_pop(other, r->nonce, csr);
	g_autoptr(GBytes) too_long =
	    g_bytes_new_take(g_malloc0(CTP_MAX_SIGNATURE + 1), CTP_MAX_SIGNATURE + 1);
	GBytes *bad[] = {flipped, by_other, too_long};
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CtCsrCheckResult) result =
		    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, bad[i], &error);
		g_assert_null(result);
		g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
		g_assert_nonnull(strstr(error->message, "proof of possession"));
	}
}

static void
test_pop_wrong_nonce(void)
{
	/* a CSR replayed from an earlier request: its proof covers the old nonce */
	g_autoptr(Request) r = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(Request) earlier = request_new(CTP_KEY_RSA_2048, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, earlier->nonce, csr);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result =
	    ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
	g_assert_nonnull(strstr(error->message, "proof of possession does not verify"));
}

static void
test_pop_over_other_csr(void)
{
	/* the proof must cover this CSR's hash, not another CSR of the same key */
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) csr2 = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr2);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCsrCheckResult) result = NULL;
	g_assert_false(g_bytes_equal(csr, csr2)); /* ECDSA signatures differ */
	result = ct_csr_check(csr, r->subject, r->san, r->key_alg, r->nonce, pop, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
}

static void
test_caller_errors(void)
{
	g_autoptr(Request) r = request_new(CTP_KEY_EC_P256, TRUE);
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) csr = ct_test_pki_csr(key, ALICE_CN, ALICE_URI);
	g_autoptr(GBytes) pop = ct_test_pki_pop(key, r->nonce, csr);
	g_autoptr(GBytes) short_nonce = g_bytes_new_static("0123456789abcde", 15);
	g_autoptr(GBytes) bad_name = g_bytes_new_static("\x30\x05", 2);
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	g_autoptr(GError) e4 = NULL;
	g_assert_null(ct_csr_check(csr, r->subject, r->san, 9, r->nonce, pop, &e1));
	g_assert_error(e1, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_null(ct_csr_check(csr, r->subject, r->san, r->key_alg, short_nonce, pop, &e2));
	g_assert_error(e2, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_null(ct_csr_check(csr, bad_name, r->san, r->key_alg, r->nonce, pop, &e3));
	g_assert_error(e3, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_null(ct_csr_check(csr, r->subject, bad_name, r->key_alg, r->nonce, pop, &e4));
	g_assert_error(e4, CT_ERROR, CT_ERROR_INVALID_ARGS);
}

static void
test_key_alg_names(void)
{
	g_assert_cmpstr(ct_csr_key_alg_to_string(CTP_KEY_RSA_2048), ==, "rsa2048");
	g_assert_cmpstr(ct_csr_key_alg_to_string(CTP_KEY_RSA_3072), ==, "rsa3072");
	g_assert_cmpstr(ct_csr_key_alg_to_string(CTP_KEY_EC_P256), ==, "ec-p256");
	g_assert_cmpstr(ct_csr_key_alg_to_string(CTP_KEY_EC_P384), ==, "ec-p384");
	g_assert_null(ct_csr_key_alg_to_string(0));
	g_assert_cmpuint(ct_csr_key_alg_from_string("ec-p384"), ==, CTP_KEY_EC_P384);
	g_assert_cmpuint(ct_csr_key_alg_from_string("dsa"), ==, 0);
}

/* ---- HELLO identity ---- */

static GBytes *
challenge_new(void)
{
	guint8 c[CTP_CHALLENGE_SIZE];
	for (guint i = 0; i < sizeof(c); i++)
		c[i] = (guint8)g_random_int();
	return g_bytes_new(c, sizeof(c));
}

static void
test_identity_good(void)
{
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(GBytes) spki = ct_test_pki_pubkey_der(key);
	g_autoptr(GBytes) challenge = challenge_new();
	g_autoptr(GBytes) sig = ct_test_pki_identity_sig(key, challenge, "SN-0001");
	g_autoptr(GError) error = NULL;
	g_autofree gchar *expected = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, spki);
	g_autofree gchar *fpr =
	    ct_csr_check_identity_signature(spki, sig, challenge, "SN-0001", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(fpr, ==, expected);
	g_assert_cmpuint(strlen(fpr), ==, 64);
}

static void
assert_identity_refused(
    GBytes *spki, GBytes *sig, GBytes *challenge, const gchar *serial, const gchar *fragment)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *fpr =
	    ct_csr_check_identity_signature(spki, sig, challenge, serial, &error);
	g_assert_null(fpr);
	g_assert_error(error, CT_ERROR, CT_ERROR_DEVICE);
	g_test_message("refused: %s", error->message);
	if (strstr(error->message, fragment) == NULL)
		g_error("expected '%s' in: %s", fragment, error->message);
}

static void
test_identity_bad(void)
{
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(EVP_PKEY) other = ct_test_pki_key("ec-p256-explicit");
	g_autoptr(GBytes) spki = ct_test_pki_pubkey_der(key);
	g_autoptr(GBytes) challenge = challenge_new();
	g_autoptr(GBytes) old_challenge = challenge_new();
	g_autoptr(GBytes) sig = ct_test_pki_identity_sig(key, challenge, "SN-0001");
	g_autoptr(GBytes) flipped = ct_test_pki_flip_byte(sig, g_bytes_get_size(sig) - 1);
	g_autoptr(GBytes) replayed = ct_test_pki_identity_sig(key, old_challenge, "SN-0001");
	g_autoptr(GBytes) trailing = ct_test_pki_append(spki, "\x00", 1);
	g_autoptr(GBytes) by_other = ct_test_pki_identity_sig(other, challenge, "SN-0001");

	assert_identity_refused(spki, flipped, challenge, "SN-0001", "does not verify");
	assert_identity_refused(spki, replayed, challenge, "SN-0001", "does not verify");
	/* the serial is signed: a clone cannot claim another serial with the same proof */
	assert_identity_refused(spki, sig, challenge, "SN-0002", "does not verify");
	assert_identity_refused(trailing, sig, challenge, "SN-0001", "not one DER");
	assert_identity_refused(spki, by_other, challenge, "SN-0001", "does not verify");
	assert_identity_refused(spki, sig, challenge, "", "serial is empty");
}

static void
test_identity_not_p256(void)
{
	const gchar *kinds[] = {"ec-p384", "rsa2048", "ec-p256-explicit"};
	const gchar *described[] = {"an EC P-384 key", "a 2048-bit RSA key",
	                            "an EC P-256 key with spelled-out curve parameters"};
	for (guint i = 0; i < G_N_ELEMENTS(kinds); i++) {
		g_autoptr(EVP_PKEY) key = ct_test_pki_key(kinds[i]);
		g_autoptr(GBytes) spki = ct_test_pki_pubkey_der(key);
		g_autoptr(GBytes) challenge = challenge_new();
		g_autoptr(GBytes) sig = ct_test_pki_identity_sig(key, challenge, "SN-0001");
		g_autofree gchar *fragment = g_strdup_printf(
		    "the identity key is %s, the protocol needs EC P-256", described[i]);
		assert_identity_refused(spki, sig, challenge, "SN-0001", fragment);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/csr-check/good/rsa2048", test_good_rsa2048);
	g_test_add_func("/csr-check/good/p256-without-san", test_good_p256_without_san);
	g_test_add_func("/csr-check/good/p384-with-san", test_good_p384_with_san);
	g_test_add_func("/csr-check/subject/wrong", test_wrong_subject);
	g_test_add_func("/csr-check/san/extra", test_extra_san);
	g_test_add_func("/csr-check/san/other", test_other_san);
	g_test_add_func("/csr-check/san/extra-name", test_san_with_extra_name);
	g_test_add_func("/csr-check/san/missing", test_missing_san);
	g_test_add_func("/csr-check/san/missing-in-empty-extension-request",
	                test_missing_san_with_other_extension_request);
	g_test_add_func("/csr-check/san/critical", test_san_critical);
	g_test_add_func("/csr-check/san/duplicate", test_duplicate_san);
	g_test_add_func("/csr-check/extension/ca-true", test_ca_true);
	g_test_add_func("/csr-check/extension/ca-false", test_ca_false_also_refused);
	g_test_add_func("/csr-check/extension/key-cert-sign", test_key_cert_sign);
	g_test_add_func("/csr-check/extension/unknown", test_unknown_extension);
	g_test_add_func("/csr-check/extension/extended-key-usage", test_extended_key_usage_refused);
	g_test_add_func("/csr-check/attribute/challenge-password", test_challenge_password);
	g_test_add_func("/csr-check/attribute/other", test_other_attribute);
	g_test_add_func("/csr-check/key/rsa1024", test_rsa1024);
	g_test_add_func("/csr-check/key/rsa2048-for-3072", test_rsa2048_when_3072_asked);
	g_test_add_func("/csr-check/key/p384-for-p256", test_p384_when_p256_asked);
	g_test_add_func("/csr-check/key/rsa-for-ec", test_rsa_when_ec_asked);
	g_test_add_func("/csr-check/key/ed25519", test_ed25519_when_ec_asked);
	g_test_add_func("/csr-check/key/explicit-curve", test_explicit_curve);
	g_test_add_func("/csr-check/key/rsa-e3", test_rsa_exponent_3);
	g_test_add_func("/csr-check/signature/sha1", test_sha1_signature);
	g_test_add_func("/csr-check/signature/flipped-byte", test_bad_self_signature);
	g_test_add_func("/csr-check/signature/subject-edited", test_subject_altered_after_signing);
	g_test_add_func("/csr-check/der/trailing-bytes", test_trailing_bytes);
	g_test_add_func("/csr-check/der/non-minimal-length-outer", test_non_der_outer);
	g_test_add_func("/csr-check/der/non-minimal-length-signed-part",
	                test_non_der_inside_signed_part);
	g_test_add_func("/csr-check/der/garbage-and-bounds", test_garbage_and_bounds);
	g_test_add_func("/csr-check/pop/bad", test_bad_pop);
	g_test_add_func("/csr-check/pop/wrong-nonce", test_pop_wrong_nonce);
	g_test_add_func("/csr-check/pop/other-csr", test_pop_over_other_csr);
	g_test_add_func("/csr-check/caller-errors", test_caller_errors);
	g_test_add_func("/csr-check/key-alg-names", test_key_alg_names);
	g_test_add_func("/csr-check/identity/good", test_identity_good);
	g_test_add_func("/csr-check/identity/bad", test_identity_bad);
	g_test_add_func("/csr-check/identity/not-p256", test_identity_not_p256);
	return g_test_run();
}
