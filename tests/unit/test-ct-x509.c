/*
 * X.509 parsing helpers and the EST response parser: good input of each kind,
 * and garbage, truncation, trailing bytes, wrong types and size limits refused
 * with CT_ERROR_PROTOCOL (or CONFIG for files) and never a crash.
 */
#include <glib/gstdio.h>
#include <openssl/pkcs7.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-est.h"
#include "tests/unit/ct-test-issue.h"

static X509 *cert_a;
static X509 *cert_b;
static EVP_PKEY *key_a;

static GBytes *
der_of(X509 *cert)
{
	return ct_x509_to_der(cert);
}

/* DER PKCS#7 SignedData certs-only holding @certs (NULL-terminated) */
static GBytes *
pkcs7_of(int type, ...)
{
	PKCS7 *p7 = PKCS7_new();
	va_list args;
	X509 *c;
	guint8 *der = NULL;
	int len;
	GBytes *out;
	g_assert_true(PKCS7_set_type(p7, type));
	if (type == NID_pkcs7_signed)
		g_assert_true(PKCS7_content_new(p7, NID_pkcs7_data));
	va_start(args, type);
	while ((c = va_arg(args, X509 *)) != NULL)
		g_assert_true(PKCS7_add_certificate(p7, c));
	va_end(args);
	len = i2d_PKCS7(p7, &der);
	g_assert_cmpint(len, >, 0);
	out = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	PKCS7_free(p7);
	return out;
}

static void
test_der_cert(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = der_of(cert_a);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(der, &len);
	g_autoptr(X509) parsed = ct_x509_from_der(data, len, &error);
	g_autofree guint8 *longer = g_malloc(len + 1);
	g_autoptr(X509) trailing = NULL;
	g_autoptr(X509) truncated = NULL;
	g_autoptr(X509) empty = NULL;
	g_assert_no_error(error);
	g_assert_true(X509_cmp(parsed, cert_a) == 0);

	memcpy(longer, data, len);
	longer[len] = 0;
	trailing = ct_x509_from_der(longer, len + 1, &error);
	g_assert_null(trailing);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(error->message, "unexpected bytes"));
	g_clear_error(&error);

	truncated = ct_x509_from_der(data, len - 10, &error);
	g_assert_null(truncated);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_clear_error(&error);

	empty = ct_x509_from_der(data, 0, &error);
	g_assert_null(empty);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
}

static void
test_pkcs7(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) p7 = pkcs7_of(NID_pkcs7_signed, cert_a, cert_b, NULL);
	g_autoptr(GBytes) p7_empty = pkcs7_of(NID_pkcs7_signed, NULL);
	g_autoptr(GBytes) p7_data = pkcs7_of(NID_pkcs7_data, NULL);
	g_autoptr(CtX509Stack) certs = NULL;
	g_autoptr(CtX509Stack) none = NULL;
	g_autoptr(CtX509Stack) none2 = NULL;
	g_autoptr(CtX509Stack) from_b64 = NULL;
	g_autoptr(CtX509Stack) any = NULL;
	g_autoptr(CtX509Stack) any_cert = NULL;
	g_autoptr(GBytes) der_a = der_of(cert_a);
	g_autofree gchar *b64 = NULL;
	g_autofree gchar *wrapped = NULL;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(p7, &len);

	certs = ct_x509_pkcs7_from_der(data, len, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(certs), ==, 2);
	g_assert_true(X509_cmp(sk_X509_value(certs, 0), cert_a) == 0);
	g_assert_true(X509_cmp(sk_X509_value(certs, 1), cert_b) == 0);

	none = ct_x509_pkcs7_from_der(g_bytes_get_data(p7_empty, NULL), g_bytes_get_size(p7_empty),
	                              &error);
	g_assert_null(none);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(error->message, "no certificate"));
	g_clear_error(&error);

	none2 = ct_x509_pkcs7_from_der(g_bytes_get_data(p7_data, NULL), g_bytes_get_size(p7_data),
	                               &error);
	g_assert_null(none2);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(error->message, "SignedData"));
	g_clear_error(&error);

	/* base64 with line breaks of 64 and CRLF, as RFC 7030 servers send it */
	b64 = g_base64_encode(data, len);
	{
		GString *s = g_string_new(NULL);
		for (gsize i = 0; b64[i] != '\0'; i++) {
			g_string_append_c(s, b64[i]);
			if (i % 64 == 63)
				g_string_append(s, "\r\n");
		}
		g_string_append(s, "\r\n");
		wrapped = g_string_free(s, FALSE);
	}
	from_b64 = ct_x509_pkcs7_from_base64(wrapped, strlen(wrapped), &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(from_b64), ==, 2);

	/* DER certificate or PKCS#7, whichever it is */
	any = ct_x509_certs_from_der_any(data, len, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(any), ==, 2);
	any_cert = ct_x509_certs_from_der_any(g_bytes_get_data(der_a, NULL),
	                                      g_bytes_get_size(der_a), &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(any_cert), ==, 1);
}

static void
test_base64_strict(void)
{
	const gchar *bad[] = {"AAA", "AA=A", "AAAA!", "AA==AA==", "====", "", "A===", NULL};
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) b = ct_x509_base64_decode(bad[i], strlen(bad[i]), &error);
		g_assert_null(b);
		g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	}
	{
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) b = ct_x509_base64_decode(" aGVs\nbG8=\n", 11, &error);
		g_assert_no_error(error);
		g_assert_cmpmem(g_bytes_get_data(b, NULL), g_bytes_get_size(b), "hello", 5);
	}
}

static void
test_garbage(void)
{
	/* deterministic pseudo-random garbage and DER-looking prefixes */
	GRand *rand = g_rand_new_with_seed(7);
	guint8 buf[512];
	for (guint round = 0; round < 200; round++) {
		gsize len = g_rand_int_range(rand, 1, sizeof(buf));
		g_autoptr(GError) e1 = NULL;
		g_autoptr(GError) e2 = NULL;
		g_autoptr(GError) e3 = NULL;
		g_autoptr(GError) e4 = NULL;
		g_autoptr(X509) c = NULL;
		g_autoptr(CtX509Stack) s1 = NULL;
		g_autoptr(CtX509Stack) s2 = NULL;
		g_autoptr(CtX509Stack) s3 = NULL;
		for (gsize i = 0; i < len; i++)
			buf[i] = (guint8)g_rand_int(rand);
		if (round % 2 == 0)
			buf[0] = 0x30;
		c = ct_x509_from_der(buf, len, &e1);
		s1 = ct_x509_pkcs7_from_der(buf, len, &e2);
		s2 = ct_x509_certs_from_der_any(buf, len, &e3);
		s3 = ct_est_parse_certs_response(buf, len, NULL, &e4);
		g_assert_null(c);
		g_assert_null(s1);
		g_assert_null(s2);
		g_assert_null(s3);
		g_assert_error(e1, CT_ERROR, CT_ERROR_PROTOCOL);
		g_assert_error(e2, CT_ERROR, CT_ERROR_PROTOCOL);
		g_assert_error(e3, CT_ERROR, CT_ERROR_PROTOCOL);
		g_assert_error(e4, CT_ERROR, CT_ERROR_PROTOCOL);
	}
	g_rand_free(rand);
}

static void
test_size_limits(void)
{
	gsize big = CT_X509_MAX_INPUT + 1;
	g_autofree guint8 *buf = g_malloc0(big);
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) c = NULL;
	g_autoptr(CtX509Stack) s = NULL;
	buf[0] = 0x30;
	c = ct_x509_from_der(buf, big, &error);
	g_assert_null(c);
	g_assert_nonnull(strstr(error->message, "larger than"));
	g_clear_error(&error);
	s = ct_x509_pkcs7_from_der(buf, big, &error);
	g_assert_null(s);
	g_assert_nonnull(strstr(error->message, "larger than"));
}

static void
test_pem(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("ct-x509-XXXXXX", NULL);
	g_autofree gchar *two = ct_test_write_pem(dir, "two.pem", cert_a, cert_b, NULL);
	g_autofree gchar *pem_a = ct_x509_to_pem(cert_a);
	g_autofree gchar *broken_path = g_build_filename(dir, "broken.pem", NULL);
	g_autofree gchar *broken = NULL;
	g_autoptr(CtX509Stack) certs = ct_x509_load_pem_file(two, &error);
	g_autoptr(CtX509Stack) none = NULL;
	g_autoptr(CtX509Stack) missing = NULL;
	g_autoptr(CtX509Stack) text = NULL;
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(certs), ==, 2);

	/* a good certificate followed by a damaged one names the damaged one */
	broken = g_strdup_printf("%s-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
	                         pem_a);
	g_assert_true(g_file_set_contents(broken_path, broken, -1, NULL));
	none = ct_x509_load_pem_file(broken_path, &error);
	g_assert_null(none);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, broken_path));
	g_assert_nonnull(strstr(error->message, "certificate 2"));
	g_clear_error(&error);

	missing = ct_x509_load_pem_file("/nonexistent/x.pem", &error);
	g_assert_null(missing);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "/nonexistent/x.pem"));
	g_clear_error(&error);

	text = ct_x509_from_pem("hello\n", 6, &error);
	g_assert_null(text);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_unlink(two);
	g_unlink(broken_path);
	g_rmdir(dir);
}

static void
test_names_and_fingerprints(void)
{
	g_autofree gchar *subject = ct_x509_subject_string(cert_a);
	g_autofree gchar *issuer = ct_x509_issuer_string(cert_a);
	g_autofree gchar *fp = ct_x509_fingerprint_sha256(cert_a);
	g_autofree gchar *fp_b = ct_x509_fingerprint_sha256(cert_b);
	gint64 nb = 0, na = 0;
	g_assert_cmpstr(subject, ==, "CN=Cert A,O=certtether unit test");
	g_assert_cmpstr(issuer, ==, subject);
	g_assert_cmpuint(strlen(fp), ==, 32 * 3 - 1);
	g_assert_true(g_regex_match_simple("^([0-9A-F]{2}:){31}[0-9A-F]{2}$", fp, 0, 0));
	g_assert_cmpstr(fp, !=, fp_b);
	g_assert_true(ct_x509_get_validity(cert_a, &nb, &na));
	g_assert_cmpint(na - nb, ==, 3600 + 86400);
	g_assert_true(ct_x509_is_self_signed(cert_a));
}

static void
test_est_response(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) p7 = pkcs7_of(NID_pkcs7_signed, cert_a, NULL);
	g_autofree gchar *b64 = g_base64_encode(g_bytes_get_data(p7, NULL), g_bytes_get_size(p7));
	g_autoptr(CtX509Stack) a = NULL;
	g_autoptr(CtX509Stack) b = NULL;
	g_autoptr(CtX509Stack) c = NULL;
	g_autoptr(CtX509Stack) d = NULL;
	a = ct_est_parse_certs_response((const guint8 *)b64, strlen(b64),
	                                "application/pkcs7-mime; smime-type=certs-only", &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(a), ==, 1);
	/* a server sending binary DER is accepted */
	b = ct_est_parse_certs_response(g_bytes_get_data(p7, NULL), g_bytes_get_size(p7),
	                                "application/pkcs7-mime", &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(b), ==, 1);
	/* an HTML error page with status 200 is a protocol error naming the type */
	c = ct_est_parse_certs_response((const guint8 *)"<html>", 6, "text/html", &error);
	g_assert_null(c);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_nonnull(strstr(error->message, "text/html"));
	g_clear_error(&error);
	d = ct_est_parse_certs_response((const guint8 *)"", 0, NULL, &error);
	g_assert_null(d);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
}

static void
test_est_urls(void)
{
	struct {
		const gchar *url, *label, *op, *want;
	} cases[] = {
	    {"https://est.example.com", NULL, "cacerts",
	     "https://est.example.com/.well-known/est/cacerts"},
	    {"https://est.example.com:8443/", "phones", "simpleenroll",
	     "https://est.example.com:8443/.well-known/est/phones/simpleenroll"},
	    {"https://h/.well-known/est/", NULL, "simplereenroll",
	     "https://h/.well-known/est/simplereenroll"},
	    {"https://h/.well-known/est", "x", "cacerts", "https://h/.well-known/est/x/cacerts"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *got =
		    ct_est_operation_url(cases[i].url, cases[i].label, cases[i].op);
		g_assert_cmpstr(got, ==, cases[i].want);
	}
}

int
main(int argc, char **argv)
{
	CtTestCertSpec a = {.cn = "Cert A", .not_before = -3600, .not_after = 86400};
	CtTestCertSpec b = {.cn = "Cert B", .not_before = -3600, .not_after = 86400};
	EVP_PKEY *key_b;
	int rc;
	g_test_init(&argc, &argv, NULL);
	key_a = ct_test_key_new();
	key_b = ct_test_key_new();
	cert_a = ct_test_cert_new(key_a, &a, NULL, NULL);
	cert_b = ct_test_cert_new(key_b, &b, NULL, NULL);
	g_test_add_func("/x509/der-cert", test_der_cert);
	g_test_add_func("/x509/pkcs7", test_pkcs7);
	g_test_add_func("/x509/base64-strict", test_base64_strict);
	g_test_add_func("/x509/garbage", test_garbage);
	g_test_add_func("/x509/size-limits", test_size_limits);
	g_test_add_func("/x509/pem", test_pem);
	g_test_add_func("/x509/names-and-fingerprints", test_names_and_fingerprints);
	g_test_add_func("/est/response", test_est_response);
	g_test_add_func("/est/urls", test_est_urls);
	rc = g_test_run();
	X509_free(cert_a);
	X509_free(cert_b);
	EVP_PKEY_free(key_a);
	EVP_PKEY_free(key_b);
	return rc;
}
