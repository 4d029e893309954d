/*
 * Verification of issued certificates: each acceptance rule is broken on its
 * own with certificates made here, and the refusal must name the problem.
 */
#include <glib/gstdio.h>

#include "daemon/engine/ct-verify.h"
#include "tests/unit/ct-test-issue.h"

#define SIP_URI "sip:alice@test.local"

/* a small PKI: root -> issuing CA -> leaf for the phone's key, plus a stranger */
typedef struct {
	gchar *dir;
	EVP_PKEY *root_key;
	X509 *root;
	EVP_PKEY *issuing_key;
	X509 *issuing;
	EVP_PKEY *phone_key;
	GBytes *csr;
	EVP_PKEY *csr_key;
	gchar *ca_file; /* the root only */
	CtX509Stack *extra;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {
	    .cn = "Unit Issuing CA", .ca = TRUE, .not_before = -3600, .not_after = 5 * 365 * 86400};
	g_autoptr(GError) error = NULL;
	(void)data;
	f->dir = g_dir_make_tmp("ct-verify-XXXXXX", NULL);
	f->root = ct_test_ca_new("Unit Root CA", &f->root_key);
	f->issuing_key = ct_test_key_new();
	f->issuing = ct_test_cert_new(f->issuing_key, &spec, f->root, f->root_key);
	f->phone_key = ct_test_key_new();
	f->csr = ct_test_csr_new(f->phone_key, "alice@test.local");
	f->csr_key = ct_verify_csr_public_key(f->csr, &error);
	g_assert_no_error(error);
	f->ca_file = ct_test_write_pem(f->dir, "root.pem", f->root, NULL);
	f->extra = sk_X509_new_null();
	X509_up_ref(f->issuing);
	sk_X509_push(f->extra, f->issuing);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	(void)data;
	g_unlink(f->ca_file);
	g_rmdir(f->dir);
	g_free(f->ca_file);
	g_free(f->dir);
	EVP_PKEY_free(f->root_key);
	X509_free(f->root);
	EVP_PKEY_free(f->issuing_key);
	X509_free(f->issuing);
	EVP_PKEY_free(f->phone_key);
	EVP_PKEY_free(f->csr_key);
	g_bytes_unref(f->csr);
	ct_x509_stack_free(f->extra);
}

static CtEnrollResult *
verify(Fixture *f, X509 *cert, GError **error)
{
	CtVerifyParams p = {.csr_key = f->csr_key,
	                    .sip_uri = SIP_URI,
	                    .certificate = cert,
	                    .extra = f->extra,
	                    .ca_file = f->ca_file,
	                    .no_system_store = TRUE};
	return ct_verify_issued(&p, NULL, error);
}

static X509 *
issue(Fixture *f, EVP_PKEY *key, const CtTestCertSpec *spec)
{
	return ct_test_cert_new(key, spec, f->issuing, f->issuing_key);
}

static void
test_accepts_good(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = ct_test_user_cert_new(f->phone_key, f->issuing, f->issuing_key);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_true(X509_cmp(result->leaf, cert) == 0);
	/* the intermediate in the chain, the root as the phone's anchor */
	g_assert_cmpint(sk_X509_num(result->chain), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->chain, 0), f->issuing) == 0);
	g_assert_cmpint(sk_X509_num(result->anchors), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 0), f->root) == 0);
	g_assert_cmpstr(result->sip_uri, ==, SIP_URI);
}

static void
test_cn_only_accepted(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {
	    .cn = "Alice@TEST.local", .client_auth = TRUE, .not_before = -60, .not_after = 86400};
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_no_error(error);
	g_assert_nonnull(result);
}

static void
test_wrong_key(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) other = ct_test_key_new();
	g_autoptr(X509) cert = ct_test_user_cert_new(other, f->issuing, f->issuing_key);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_cmpstr(error->message, ==,
	                "the issued certificate is for a different key than the phone's request");
}

static void
test_missing_eku(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {.cn = "alice@test.local",
	                       .san_uri = SIP_URI,
	                       .client_auth = FALSE,
	                       .not_before = -60,
	                       .not_after = 86400};
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_nonnull(strstr(error->message, "clientAuth"));
}

static void
test_expired(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {.cn = "alice@test.local",
	                       .san_uri = SIP_URI,
	                       .client_auth = TRUE,
	                       .not_before = -7200,
	                       .not_after = -3600};
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_nonnull(strstr(error->message, "expired"));
}

static void
test_not_yet_valid(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {.cn = "alice@test.local",
	                       .san_uri = SIP_URI,
	                       .client_auth = TRUE,
	                       .not_before = 3600,
	                       .not_after = 86400};
	CtTestCertSpec skew = spec;
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(X509) cert_skew = NULL;
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	g_autoptr(CtEnrollResult) result_skew = NULL;
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_nonnull(strstr(error->message, "clock"));
	g_clear_error(&error);

	/* a minute ahead of our clock is tolerated */
	skew.not_before = 60;
	cert_skew = issue(f, f->phone_key, &skew);
	result_skew = verify(f, cert_skew, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result_skew);
}

static void
test_lifetime_too_long(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {.cn = "alice@test.local",
	                       .san_uri = SIP_URI,
	                       .client_auth = TRUE,
	                       .not_before = -60,
	                       .not_after = 2 * 365 * 86400};
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_nonnull(strstr(error->message, "365"));
}

static void
test_wrong_subject(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {.cn = "mallory@test.local",
	                       .san_uri = "sip:mallory@test.local",
	                       .client_auth = TRUE,
	                       .not_before = -60,
	                       .not_after = 86400};
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_nonnull(strstr(error->message, "mallory@test.local"));
	g_assert_nonnull(strstr(error->message, SIP_URI));
}

static void
test_ca_leaf_refused(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {.cn = "alice@test.local",
	                       .san_uri = SIP_URI,
	                       .client_auth = TRUE,
	                       .ca = TRUE,
	                       .not_before = -60,
	                       .not_after = 86400};
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = issue(f, f->phone_key, &spec);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_nonnull(strstr(error->message, "CA certificate"));
}

static void
test_unknown_issuer_named(Fixture *f, gconstpointer data)
{
	CtTestCertSpec spec = {
	    .cn = "Unknown Issuing CA", .ca = TRUE, .not_before = -3600, .not_after = 86400 * 30};
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) stranger_root_key = NULL;
	g_autoptr(X509) stranger_root = ct_test_ca_new("Unknown Root CA", &stranger_root_key);
	g_autoptr(EVP_PKEY) stranger_key = ct_test_key_new();
	g_autoptr(X509) stranger =
	    ct_test_cert_new(stranger_key, &spec, stranger_root, stranger_root_key);
	g_autoptr(X509) cert = ct_test_user_cert_new(f->phone_key, stranger, stranger_key);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	g_autoptr(CtEnrollResult) result2 = NULL;
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_cmpstr(
	    error->message, ==,
	    "the issuer 'CN=Unknown Issuing CA,O=certtether unit test' is not trusted "
	    "and no chain leads to a trust anchor: add its CA certificate to ca-file if "
	    "you trust it");
	g_clear_error(&error);

	/* with the stranger's chain in the answer the untrusted root is named instead */
	X509_up_ref(stranger);
	sk_X509_push(f->extra, stranger);
	X509_up_ref(stranger_root);
	sk_X509_push(f->extra, stranger_root);
	result2 = verify(f, cert, &error);
	g_assert_null(result2);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "'CN=Unknown Root CA,O=certtether unit test' is "
	                                        "not trusted"));
}

static void
test_service_ca_is_not_an_anchor(Fixture *f, gconstpointer data)
{
	/* the service's CA download holds the root, but only ca-file/system are anchors */
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) cert = ct_test_user_cert_new(f->phone_key, f->issuing, f->issuing_key);
	g_autoptr(CtX509Stack) ca_certs = sk_X509_new_null();
	g_autoptr(CtEnrollResult) result = NULL;
	CtVerifyParams p = {.csr_key = f->csr_key,
	                    .sip_uri = SIP_URI,
	                    .certificate = cert,
	                    .ca_certs = ca_certs,
	                    .ca_file = NULL,
	                    .no_system_store = TRUE};
	(void)data;
	X509_up_ref(f->issuing);
	sk_X509_push(ca_certs, f->issuing);
	X509_up_ref(f->root);
	sk_X509_push(ca_certs, f->root);
	result = ct_verify_issued(&p, NULL, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "Unit Root CA"));
	g_clear_error(&error);

	/* the same with the root in ca-file: accepted, the intermediate from the download */
	p.ca_file = f->ca_file;
	result = ct_verify_issued(&p, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpint(sk_X509_num(result->chain), ==, 1);
}

static void
test_tls_anchor_added(Fixture *f, gconstpointer data)
{
	/* the web service's TLS chain ends at another root the phone must also trust */
	CtTestCertSpec tls_spec = {.cn = "localhost", .not_before = -60, .not_after = 86400};
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) web_root_key = NULL;
	g_autoptr(X509) web_root = ct_test_ca_new("Web Root CA", &web_root_key);
	g_autoptr(EVP_PKEY) tls_key = ct_test_key_new();
	g_autoptr(X509) tls = ct_test_cert_new(tls_key, &tls_spec, web_root, web_root_key);
	g_autoptr(X509) cert = ct_test_user_cert_new(f->phone_key, f->issuing, f->issuing_key);
	g_autoptr(CtX509Stack) tls_chain = sk_X509_new_null();
	g_autofree gchar *both = ct_test_write_pem(f->dir, "both.pem", f->root, web_root, NULL);
	g_autoptr(CtEnrollResult) result = NULL;
	g_autoptr(CtEnrollResult) result_same = NULL;
	g_autoptr(CtX509Stack) same_chain = sk_X509_new_null();
	CtVerifyParams p = {.csr_key = f->csr_key,
	                    .sip_uri = SIP_URI,
	                    .certificate = cert,
	                    .extra = f->extra,
	                    .service_tls_chain = tls_chain,
	                    .ca_file = both,
	                    .no_system_store = TRUE};
	(void)data;
	X509_up_ref(tls);
	sk_X509_push(tls_chain, tls);
	result = ct_verify_issued(&p, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(result->anchors), ==, 2);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 0), f->root) == 0);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 1), web_root) == 0);
	g_assert_cmpint(sk_X509_num(result->service_tls_chain), ==, 1);

	/* a TLS chain under the same root adds nothing (de-duplicated) */
	X509_up_ref(f->issuing);
	sk_X509_push(same_chain, f->issuing);
	p.service_tls_chain = same_chain;
	result_same = ct_verify_issued(&p, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(result_same->anchors), ==, 1);
	g_unlink(both);
}

static void
test_intermediate_anchor(Fixture *f, gconstpointer data)
{
	/* an issuing CA configured as the anchor is enough (partial chain) */
	g_autoptr(GError) error = NULL;
	g_autofree gchar *issuing_only = ct_test_write_pem(f->dir, "issuing.pem", f->issuing, NULL);
	g_autoptr(X509) cert = ct_test_user_cert_new(f->phone_key, f->issuing, f->issuing_key);
	g_autoptr(CtEnrollResult) result = NULL;
	CtVerifyParams p = {.csr_key = f->csr_key,
	                    .sip_uri = SIP_URI,
	                    .certificate = cert,
	                    .ca_file = issuing_only,
	                    .no_system_store = TRUE};
	(void)data;
	result = ct_verify_issued(&p, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(result->chain), ==, 0);
	g_assert_cmpint(sk_X509_num(result->anchors), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 0), f->issuing) == 0);
	g_unlink(issuing_only);
}

static void
test_bad_signature(Fixture *f, gconstpointer data)
{
	/* signed by a key that is not the issuing CA's, under the issuing CA's name */
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) forger = ct_test_key_new();
	g_autoptr(X509) cert = ct_test_user_cert_new(f->phone_key, f->issuing, forger);
	g_autoptr(CtEnrollResult) result = verify(f, cert, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
}

static void
test_csr_key(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(EVP_PKEY) key = ct_test_key_new();
	g_autoptr(GBytes) csr = ct_test_csr_new(key, "x");
	g_autoptr(EVP_PKEY) parsed = ct_verify_csr_public_key(csr, &error);
	g_autoptr(GBytes) garbage = g_bytes_new_static("\x30\x03\x02\x01\x00", 5);
	g_autoptr(EVP_PKEY) none = NULL;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(csr, &len);
	g_autofree guint8 *tampered = g_memdup2(data, len);
	g_autoptr(GBytes) tampered_bytes = NULL;
	g_autoptr(EVP_PKEY) none2 = NULL;

	g_assert_no_error(error);
	g_assert_true(EVP_PKEY_eq(parsed, key) == 1);
	none = ct_verify_csr_public_key(garbage, &error);
	g_assert_null(none);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
	g_clear_error(&error);
	/* the last byte is in the signature: the self-signature must fail */
	tampered[len - 1] ^= 0x01;
	tampered_bytes = g_bytes_new(tampered, len);
	none2 = ct_verify_csr_public_key(tampered_bytes, &error);
	g_assert_null(none2);
	g_assert_error(error, CT_ERROR, CT_ERROR_CSR_INVALID);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/verify/accepts-good", test_accepts_good);
	ADD("/verify/cn-only", test_cn_only_accepted);
	ADD("/verify/wrong-key", test_wrong_key);
	ADD("/verify/missing-eku", test_missing_eku);
	ADD("/verify/expired", test_expired);
	ADD("/verify/not-yet-valid", test_not_yet_valid);
	ADD("/verify/lifetime-too-long", test_lifetime_too_long);
	ADD("/verify/wrong-subject", test_wrong_subject);
	ADD("/verify/ca-leaf", test_ca_leaf_refused);
	ADD("/verify/unknown-issuer-named", test_unknown_issuer_named);
	ADD("/verify/service-ca-not-anchor", test_service_ca_is_not_an_anchor);
	ADD("/verify/tls-anchor-added", test_tls_anchor_added);
	ADD("/verify/intermediate-anchor", test_intermediate_anchor);
	ADD("/verify/bad-signature", test_bad_signature);
#undef ADD
	g_test_add_func("/verify/csr-key", test_csr_key);
	return g_test_run();
}
