/*
 * TLS client-certificate credentials: a good certificate and key (applied to a
 * request, the user named by the certificate), and one precise refusal per
 * problem, found before anything is sent: no files, a key that is not the
 * certificate's, a key others may read, an encrypted key, no key in the key file,
 * a certificate not meant for client authentication, an expired one. CertProv
 * refuses the method. Certificates and keys are made here with OpenSSL.
 */
#include <glib/gstdio.h>
#include <openssl/pem.h>

#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-certprov.h"
#include "daemon/enroll/ct-credentials.h"
#include "tests/unit/ct-test-issue.h"

static gchar *dir;
static gchar *cert_pem;     /* alice, clientAuth, SAN URI sip:alice@test.local */
static gchar *key_pem;      /* its key, mode 0600 */
static gchar *other_key;    /* another key, mode 0600 */
static gchar *open_key;     /* alice's key, mode 0644 */
static gchar *secret_key;   /* alice's key, encrypted with a passphrase, mode 0600 */
static gchar *not_a_key;    /* a certificate where a key should be, mode 0600 */
static gchar *expired_pem;  /* alice's key, expired an hour ago */
static gchar *ca_pem;       /* a CA certificate (keyCertSign only), for alice's key */
static gchar *cn_only_pem;  /* CN=bob@example.com, no SAN, for alice's key */
static gchar *nameless_pem; /* CN=Alice Smith, no SAN, for alice's key */

static CtCredentials *
cert_credentials(const gchar *cert, const gchar *key)
{
	CtCredentials *c = ct_credentials_new(CT_AUTH_METHOD_CERTIFICATE, NULL);
	ct_credentials_set_client_certificate(c, cert, key);
	return c;
}

/* ensure fails with @code and exactly @want; nothing is authenticated */
static void
assert_refused(const gchar *cert, const gchar *key, gint code, const gchar *want)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCredentials) c = cert_credentials(cert, key);
	g_autoptr(X509) none = NULL;
	g_assert_false(ct_credentials_ensure(c, "https://est.example.com", &error));
	g_assert_error(error, CT_ERROR, code);
	g_assert_cmpstr(error->message, ==, want);
	g_assert_cmpint(ct_credentials_get_method_in_use(c), ==, CT_AUTH_METHOD_AUTO);
	none = ct_credentials_dup_certificate(c);
	g_assert_null(none);
}

static void
test_good(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCredentials) c = cert_credentials(cert_pem, key_pem);
	g_autoptr(X509) cert = NULL;
	g_autoptr(X509) expected = NULL;
	g_autoptr(CtX509Stack) certs = ct_x509_load_pem_file(cert_pem, &error);
	g_autofree gchar *sip_uri = NULL;
	CtHttpRequest req = {.url = "https://est.example.com/"};

	g_assert_true(ct_credentials_ensure(c, "https://est.example.com", &error));
	g_assert_no_error(error);
	g_assert_cmpint(ct_credentials_get_method_in_use(c), ==, CT_AUTH_METHOD_CERTIFICATE);
	/* for messages: the certificate's subject */
	g_assert_cmpstr(ct_credentials_get_principal(c), ==,
	                "CN=alice@test.local,O=certtether unit test");
	cert = ct_credentials_dup_certificate(c);
	expected = X509_dup(sk_X509_value(certs, 0));
	g_assert_nonnull(cert);
	g_assert_cmpint(X509_cmp(cert, expected), ==, 0);

	/* the request presents the certificate, and no password */
	ct_credentials_apply(c, &req);
	g_assert_cmpint(req.auth, ==, CT_HTTP_AUTH_CLIENT_CERT);
	g_assert_cmpstr(req.client_cert_file, ==, cert_pem);
	g_assert_cmpstr(req.client_key_file, ==, key_pem);
	g_assert_null(req.password);

	/* the user is the certificate's, without any configuration */
	sip_uri = ct_identity_resolve_user(NULL, c, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(sip_uri, ==, "sip:alice@test.local");

	/* checked again each time: still fine */
	g_assert_true(ct_credentials_ensure(c, "https://est.example.com", &error));
	g_assert_no_error(error);
}

static void
test_no_files(void)
{
	assert_refused(NULL, NULL, CT_ERROR_CONFIG,
	               "certificate authentication needs a client certificate and its key: set "
	               "client-cert and client-key in [identity] of certtether.conf");
	assert_refused(cert_pem, NULL, CT_ERROR_CONFIG,
	               "certificate authentication needs a client certificate and its key: set "
	               "client-cert and client-key in [identity] of certtether.conf");
}

static void
test_missing_files(void)
{
	g_autofree gchar *want_cert = g_strdup_printf(
	    "the client certificate ([identity] client-cert) cannot be used: cannot read "
	    "%s/missing.pem: Failed to open file “%s/missing.pem”: No such file or directory",
	    dir, dir);
	g_autofree gchar *want_key =
	    g_strdup_printf("the client key ([identity] client-key) cannot be used: cannot read "
	                    "%s/missing.key: No such file or directory",
	                    dir);
	g_autofree gchar *missing_pem = g_build_filename(dir, "missing.pem", NULL);
	g_autofree gchar *missing_key = g_build_filename(dir, "missing.key", NULL);
	assert_refused(missing_pem, key_pem, CT_ERROR_CONFIG, want_cert);
	assert_refused(cert_pem, missing_key, CT_ERROR_CONFIG, want_key);
}

static void
test_key_mismatch(void)
{
	g_autofree gchar *want = g_strdup_printf(
	    "the client key %s does not belong to the client certificate %s ('CN=alice@test.local,"
	    "O=certtether unit test'): set [identity] client-key to that certificate's key",
	    other_key, cert_pem);
	assert_refused(cert_pem, other_key, CT_ERROR_CONFIG, want);
}

static void
test_key_readable_by_others(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *why = g_strdup_printf(
	    "%s is accessible by group or others (mode 0644): a private key must be readable by "
	    "its owner only; run chmod 600 %s",
	    open_key, open_key);
	g_autofree gchar *want =
	    g_strdup_printf("the client key ([identity] client-key) cannot be used: %s", why);
	assert_refused(cert_pem, open_key, CT_ERROR_CONFIG, want);
	g_assert_false(ct_credentials_check_key_file(open_key, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_cmpstr(error->message, ==, why);
	g_clear_error(&error);
	g_assert_true(ct_credentials_check_key_file(key_pem, &error));
	g_assert_no_error(error);
	/* a directory is no key either */
	g_assert_false(ct_credentials_check_key_file(dir, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(g_str_has_suffix(error->message,
	                               " is not a regular file: give the PEM file of the private "
	                               "key"));
}

static void
test_key_encrypted(void)
{
	g_autofree gchar *want = g_strdup_printf(
	    "the client key ([identity] client-key) cannot be used: %s is protected by a "
	    "passphrase, which certtether cannot ask for: store the key unencrypted (openssl pkey "
	    "-in %s -out NEW.key) and keep it private with its file mode (600)",
	    secret_key, secret_key);
	assert_refused(cert_pem, secret_key, CT_ERROR_CONFIG, want);
}

static void
test_not_a_key(void)
{
	g_autofree gchar *want = g_strdup_printf(
	    "the client key ([identity] client-key) cannot be used: %s holds no PEM private key "
	    "(-----BEGIN PRIVATE KEY-----)",
	    not_a_key);
	assert_refused(cert_pem, not_a_key, CT_ERROR_CONFIG, want);
}

static void
test_not_for_clients(void)
{
	g_autofree gchar *want = g_strdup_printf(
	    "the client certificate %s ('CN=Some CA,O=certtether unit test') is not meant for TLS "
	    "client authentication (its key usage or extended key usage does not allow "
	    "clientAuth): use the user's authentication certificate",
	    ca_pem);
	assert_refused(ca_pem, key_pem, CT_ERROR_CONFIG, want);
}

static void
test_expired(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCredentials) c = cert_credentials(expired_pem, key_pem);
	g_autofree gchar *prefix =
	    g_strdup_printf("the client certificate %s ('CN=alice@test.local,O=certtether unit "
	                    "test') expired on ",
	                    expired_pem);
	g_assert_false(ct_credentials_ensure(c, "https://est.example.com", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
	g_test_message("%s", error->message);
	g_assert_true(g_str_has_prefix(error->message, prefix));
	g_assert_true(g_str_has_suffix(error->message,
	                               " UTC: get a new certificate and point client-cert and "
	                               "client-key in [identity] to it"));
}

/* the user a certificate names, and sip-uri next to it */
static void
test_identity(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCredentials) by_cn = cert_credentials(cn_only_pem, key_pem);
	g_autoptr(CtCredentials) nameless = cert_credentials(nameless_pem, key_pem);
	g_autoptr(CtCredentials) alice = cert_credentials(cert_pem, key_pem);
	g_autofree gchar *from_cn = NULL;
	g_autofree gchar *none = NULL;
	g_autofree gchar *configured = NULL;
	g_autofree gchar *conflict = NULL;
	g_autofree gchar *same = NULL;
	const gchar *other = "[identity]\nsip-uri=sip:bob@test.local\n";
	const gchar *again = "[identity]\nsip-uri=SIP:alice@TEST.local\n";
	g_autoptr(CtConfig) other_config =
	    ct_config_load_data(other, strlen(other), "test.conf", NULL, &error);
	g_autoptr(CtConfig) same_config =
	    ct_config_load_data(again, strlen(again), "test.conf", NULL, &error);
	g_assert_no_error(error);

	/* no subjectAltName: the CN user@domain */
	g_assert_true(ct_credentials_ensure(by_cn, "https://est.example.com", &error));
	from_cn = ct_identity_resolve_user(NULL, by_cn, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(from_cn, ==, "sip:bob@example.com");

	/* a certificate that names no SIP user needs sip-uri */
	g_assert_true(ct_credentials_ensure(nameless, "https://est.example.com", &error));
	none = ct_identity_resolve_user(NULL, nameless, &error);
	g_assert_null(none);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_cmpstr(error->message, ==,
	                "the client certificate 'CN=Alice Smith,O=certtether unit test' names no "
	                "SIP address (no subjectAltName URI sip:user@domain, no CN user@domain): "
	                "set sip-uri= in [identity] of certtether.conf");
	g_clear_error(&error);
	configured = ct_identity_resolve_user(other_config, nameless, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(configured, ==, "sip:bob@test.local");

	/* sip-uri for another user than the certificate's: refused before anything is sent */
	g_assert_true(ct_credentials_ensure(alice, "https://est.example.com", &error));
	conflict = ct_identity_resolve_user(other_config, alice, &error);
	g_assert_null(conflict);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_cmpstr(error->message, ==,
	                "[identity] sip-uri=sip:bob@test.local is not the user of the client "
	                "certificate 'CN=alice@test.local,O=certtether unit test' "
	                "(sip:alice@test.local): the service issues certificates for the "
	                "certificate's user; remove sip-uri or use that user's certificate");
	g_clear_error(&error);
	same = ct_identity_resolve_user(same_config, alice, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(same, ==, "sip:alice@test.local");
}

/* CertProv authenticates at its Web Ticket service: Kerberos or a password only */
static void
test_certprov_refuses(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCredentials) c = cert_credentials(cert_pem, key_pem);
	/* nothing listens there: an attempt to connect would fail as UNREACHABLE */
	g_autoptr(CtEnrollBackend) backend =
	    ct_certprov_new("https://127.0.0.1:9/CertProv/CertProvisioningService.svc", NULL, c);
	g_autoptr(EVP_PKEY) key = ct_test_key_new();
	g_autoptr(GBytes) csr = ct_test_csr_new(key, "alice@test.local");
	CtEnrollRequest req = {.csr_der = csr,
	                       .sip_uri = "sip:alice@test.local",
	                       .device_id = "{3341A23E-2CE7-51B8-8668-EC1F58BDC006}"};
	g_autoptr(CtEnrollResponse) r = ct_enroll_backend_submit(backend, &req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED);
	g_assert_cmpstr(error->message, ==,
	                "CertProv authenticates with Kerberos or a password, not with a TLS client "
	                "certificate: set [identity] auth to auto, negotiate or basic, or use "
	                "[service] protocol=est");
}

static gchar *
write_private_key(const gchar *name, EVP_PKEY *key, const gchar *passphrase, int mode)
{
	gchar *path = g_build_filename(dir, name, NULL);
	FILE *f = fopen(path, "w");
	g_assert_nonnull(f);
	if (passphrase != NULL)
		g_assert_true(PEM_write_PrivateKey(f, key, EVP_aes_256_cbc(),
		                                   (const unsigned char *)passphrase,
		                                   (int)strlen(passphrase), NULL, NULL));
	else
		g_assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	g_assert_cmpint(g_chmod(path, mode), ==, 0);
	return path;
}

static void
make_files(void)
{
	CtTestCertSpec alice_spec = {.cn = "alice@test.local",
	                             .san_uri = "sip:alice@test.local",
	                             .client_auth = TRUE,
	                             .not_before = -60,
	                             .not_after = 86400};
	CtTestCertSpec expired_spec = {.cn = "alice@test.local",
	                               .san_uri = "sip:alice@test.local",
	                               .client_auth = TRUE,
	                               .not_before = -7200,
	                               .not_after = -3600};
	CtTestCertSpec ca_spec = {
	    .cn = "Some CA", .ca = TRUE, .not_before = -60, .not_after = 86400};
	CtTestCertSpec cn_spec = {
	    .cn = "bob@example.com", .client_auth = TRUE, .not_before = -60, .not_after = 86400};
	CtTestCertSpec nameless_spec = {
	    .cn = "Alice Smith", .client_auth = TRUE, .not_before = -60, .not_after = 86400};
	EVP_PKEY *issuer_key = NULL;
	X509 *issuer = ct_test_ca_new("Client CA", &issuer_key);
	EVP_PKEY *key = ct_test_key_new();
	EVP_PKEY *other = ct_test_key_new();
	X509 *alice = ct_test_cert_new(key, &alice_spec, issuer, issuer_key);
	X509 *expired = ct_test_cert_new(key, &expired_spec, issuer, issuer_key);
	X509 *ca = ct_test_cert_new(key, &ca_spec, issuer, issuer_key);
	X509 *cn_only = ct_test_cert_new(key, &cn_spec, issuer, issuer_key);
	X509 *nameless = ct_test_cert_new(key, &nameless_spec, issuer, issuer_key);

	dir = g_dir_make_tmp("ct-credentials-XXXXXX", NULL);
	cert_pem = ct_test_write_pem(dir, "alice.pem", alice, NULL);
	key_pem = write_private_key("alice.key", key, NULL, 0600);
	other_key = write_private_key("other.key", other, NULL, 0600);
	open_key = write_private_key("open.key", key, NULL, 0644);
	secret_key = write_private_key("secret.key", key, "a passphrase", 0600);
	not_a_key = ct_test_write_pem(dir, "not-a-key.pem", alice, NULL);
	g_assert_cmpint(g_chmod(not_a_key, 0600), ==, 0);
	expired_pem = ct_test_write_pem(dir, "expired.pem", expired, NULL);
	ca_pem = ct_test_write_pem(dir, "ca.pem", ca, NULL);
	cn_only_pem = ct_test_write_pem(dir, "cn-only.pem", cn_only, NULL);
	nameless_pem = ct_test_write_pem(dir, "nameless.pem", nameless, NULL);

	X509_free(issuer);
	X509_free(alice);
	X509_free(expired);
	X509_free(ca);
	X509_free(cn_only);
	X509_free(nameless);
	EVP_PKEY_free(issuer_key);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void
remove_files(void)
{
	gchar **files[] = {&cert_pem,  &key_pem,     &other_key, &open_key,    &secret_key,
	                   &not_a_key, &expired_pem, &ca_pem,    &cn_only_pem, &nameless_pem};
	for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
		g_unlink(*files[i]);
		g_clear_pointer(files[i], g_free);
	}
	g_rmdir(dir);
	g_clear_pointer(&dir, g_free);
}

int
main(int argc, char **argv)
{
	int rc;
	g_test_init(&argc, &argv, NULL);
	make_files();
	g_test_add_func("/credentials/certificate/good", test_good);
	g_test_add_func("/credentials/certificate/no-files", test_no_files);
	g_test_add_func("/credentials/certificate/missing-files", test_missing_files);
	g_test_add_func("/credentials/certificate/key-mismatch", test_key_mismatch);
	g_test_add_func("/credentials/certificate/key-readable-by-others",
	                test_key_readable_by_others);
	g_test_add_func("/credentials/certificate/key-encrypted", test_key_encrypted);
	g_test_add_func("/credentials/certificate/not-a-key", test_not_a_key);
	g_test_add_func("/credentials/certificate/not-for-clients", test_not_for_clients);
	g_test_add_func("/credentials/certificate/expired", test_expired);
	g_test_add_func("/credentials/certificate/identity", test_identity);
	g_test_add_func("/credentials/certificate/certprov-refuses", test_certprov_refuses);
	rc = g_test_run();
	remove_files();
	return rc;
}
