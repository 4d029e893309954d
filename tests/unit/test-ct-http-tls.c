/*
 * The HTTP client over TLS against `openssl s_server` on 127.0.0.1 with
 * certificates made here: extra anchors from ca_file, the presented chain
 * captured, an untrusted chain refused naming the root that is missing, a host
 * name mismatch refused, the TLS probe, and TLS client certificates (accepted, refused
 * by the server's alert, demanded but not configured).
 */
#include <gio/gio.h>
#include <glib/gstdio.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-http.h"
#include "tests/unit/ct-test-issue.h"

/* the test PKI: root -> issuing -> server (IP:127.0.0.1), plus a client certificate */
static gchar *dir;
static gchar *root_pem;         /* the anchor */
static gchar *server_pem;       /* server leaf */
static gchar *server_chain_pem; /* the issuing CA, sent with the leaf */
static gchar *server_key;
static gchar *wrong_host_pem; /* server leaf for another host name */
static gchar *client_pem;
static gchar *client_key;
static gchar *client_ca_pem;    /* what the server accepts client certificates from */
static gchar *stranger_pem;     /* an unrelated root */
static gchar *stray_client_pem; /* a client certificate from a CA the server does not know */
static gchar *stray_client_key;

typedef struct {
	GSubprocess *proc;
	guint16 port;
	gchar *url;
} TlsServer;

static guint16
free_port(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) sock =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) local = NULL;
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(sock, addr, FALSE, &error));
	local = g_socket_get_local_address(sock, &error);
	g_assert_no_error(error);
	return g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local));
}

/*
 * s_server for @naccept connections, TLS 1.2 only if @tls12 (else up to 1.3); returns
 * once it listens (it prints ACCEPT)
 */
static TlsServer *
tls_server_new_full(const gchar *cert, const gchar *client_ca, guint naccept, gboolean tls12)
{
	TlsServer *s = g_new0(TlsServer, 1);
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GDataInputStream) out = NULL;
	g_autofree gchar *line = NULL;

	s->port = free_port();
	s->url = g_strdup_printf("https://127.0.0.1:%u/", s->port);
	g_ptr_array_add(argv, g_strdup("openssl"));
	g_ptr_array_add(argv, g_strdup("s_server"));
	g_ptr_array_add(argv, g_strdup("-accept"));
	g_ptr_array_add(argv, g_strdup_printf("127.0.0.1:%u", s->port));
	g_ptr_array_add(argv, g_strdup("-cert"));
	g_ptr_array_add(argv, g_strdup(cert));
	g_ptr_array_add(argv, g_strdup("-cert_chain"));
	g_ptr_array_add(argv, g_strdup(server_chain_pem));
	g_ptr_array_add(argv, g_strdup("-key"));
	g_ptr_array_add(argv, g_strdup(server_key));
	g_ptr_array_add(argv, g_strdup("-www"));
	g_ptr_array_add(argv, g_strdup("-naccept"));
	g_ptr_array_add(argv, g_strdup_printf("%u", naccept));
	if (client_ca != NULL) {
		/* a client certificate is required and must chain to client_ca (s_server only
		 * prints verification errors unless told to fail on them) */
		g_ptr_array_add(argv, g_strdup("-Verify"));
		g_ptr_array_add(argv, g_strdup("1"));
		g_ptr_array_add(argv, g_strdup("-verify_return_error"));
		g_ptr_array_add(argv, g_strdup("-CAfile"));
		g_ptr_array_add(argv, g_strdup(client_ca));
	}
	if (tls12)
		g_ptr_array_add(argv, g_strdup("-tls1_2"));
	g_ptr_array_add(argv, NULL);
	s->proc = g_subprocess_newv(
	    (const gchar *const *)argv->pdata,
	    G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_SILENCE, &error);
	g_assert_no_error(error);
	out = g_data_input_stream_new(g_subprocess_get_stdout_pipe(s->proc));
	while ((line = g_data_input_stream_read_line(out, NULL, NULL, &error)) != NULL) {
		if (g_str_has_prefix(line, "ACCEPT"))
			break;
		g_clear_pointer(&line, g_free);
	}
	g_assert_no_error(error);
	g_assert_nonnull(line);
	return s;
}

static TlsServer *
tls_server_new(const gchar *cert, const gchar *client_ca, guint naccept)
{
	return tls_server_new_full(cert, client_ca, naccept, FALSE);
}

static void
tls_server_free(TlsServer *s)
{
	g_subprocess_force_exit(s->proc);
	g_subprocess_wait(s->proc, NULL, NULL);
	g_object_unref(s->proc);
	g_free(s->url);
	g_free(s);
}

static void
test_extra_anchor(void)
{
	TlsServer *s = tls_server_new(server_pem, NULL, 1);
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = s->url, .ca_file = root_pem, .timeout_s = 10};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_autofree gchar *leaf = NULL;
	g_autofree gchar *second = NULL;
	g_assert_no_error(error);
	g_assert_cmpuint(r->status, ==, 200);
	/* the chain as presented: leaf, then the issuing CA */
	g_assert_nonnull(r->peer_chain);
	g_assert_cmpint(sk_X509_num(r->peer_chain), ==, 2);
	leaf = ct_x509_subject_string(sk_X509_value(r->peer_chain, 0));
	second = ct_x509_subject_string(sk_X509_value(r->peer_chain, 1));
	g_assert_cmpstr(leaf, ==, "CN=127.0.0.1,O=certtether unit test");
	g_assert_cmpstr(second, ==, "CN=TLS Issuing CA,O=certtether unit test");
	tls_server_free(s);
}

static void
test_untrusted_named(void)
{
	TlsServer *s = tls_server_new(server_pem, NULL, 1);
	g_autoptr(GError) error = NULL;
	/* an anchor, but not the one this server's chain ends at */
	CtHttpRequest req = {.url = s->url, .ca_file = stranger_pem, .timeout_s = 10};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_false(ct_error_is_transient(error));
	g_assert_cmpstr(error->message, ==,
	                "the certificate chain of 127.0.0.1 ends at 'CN=TLS Root CA,O=certtether "
	                "unit test' which is not trusted: add it to ca-file");
	tls_server_free(s);
}

static void
test_wrong_host(void)
{
	TlsServer *s = tls_server_new(wrong_host_pem, NULL, 1);
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = s->url, .ca_file = root_pem, .timeout_s = 10};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_true(g_str_has_prefix(
	    error->message, "the TLS certificate of 127.0.0.1 is not valid for this host"));
	tls_server_free(s);
}

static void
test_probe(void)
{
	TlsServer *s = tls_server_new(server_pem, NULL, 2);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtX509Stack) good = NULL;
	g_autoptr(CtX509Stack) bad = NULL;
	g_autofree gchar *why = NULL;
	gboolean verified = FALSE;
	g_assert_true(ct_http_probe_tls_chain(s->url, root_pem, &good, &verified, &error));
	g_assert_no_error(error);
	g_assert_true(verified);
	g_assert_cmpint(sk_X509_num(good), ==, 2);
	/* not verifying is not an error for the probe: the chain and the reason come back */
	g_assert_true(ct_http_probe_tls_chain_full(s->url, stranger_pem, 10, NULL, &bad, &verified,
	                                           &why, &error));
	g_assert_no_error(error);
	g_assert_false(verified);
	g_assert_cmpint(sk_X509_num(bad), ==, 2);
	g_assert_nonnull(strstr(why, "'CN=TLS Root CA,O=certtether unit test'"));
	tls_server_free(s);
}

static void
test_probe_unreachable(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtX509Stack) chain = NULL;
	g_autofree gchar *url = g_strdup_printf("https://127.0.0.1:%u/", free_port());
	gboolean verified = TRUE;
	g_assert_false(ct_http_probe_tls_chain(url, root_pem, &chain, &verified, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_UNREACHABLE);
	g_assert_null(chain);
}

static void
test_client_certificate(void)
{
	TlsServer *s = tls_server_new(server_pem, client_ca_pem, 2);
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = s->url,
	                     .ca_file = root_pem,
	                     .timeout_s = 10,
	                     .auth = CT_HTTP_AUTH_CLIENT_CERT,
	                     .client_cert_file = client_pem,
	                     .client_key_file = client_key};
	CtHttpRequest anonymous = {.url = s->url, .ca_file = root_pem, .timeout_s = 10};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_autoptr(CtHttpResponse) r2 = NULL;
	g_assert_no_error(error);
	g_assert_cmpuint(r->status, ==, 200);
	/* the server demands a certificate: without one it says so with an alert (TLS 1.3
	 * certificate_required), a refusal that no retry changes */
	r2 = ct_http_perform(&anonymous, NULL, &error);
	g_assert_null(r2);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	g_assert_false(ct_error_is_transient(error));
	g_assert_cmpstr(error->message, ==,
	                "127.0.0.1 requires a TLS client certificate (TLS alert: certificate "
	                "required): set [identity] auth=certificate with client-cert and "
	                "client-key");
	tls_server_free(s);
}

static void
test_client_certificate_refused(void)
{
	/* TLS 1.3 (the alert arrives after the handshake, as a read error) and TLS 1.2 (in
	 * the handshake) */
	for (guint tls12 = 0; tls12 <= 1; tls12++) {
		TlsServer *s = tls_server_new_full(server_pem, client_ca_pem, 1, tls12);
		g_autoptr(GError) error = NULL;
		g_autofree gchar *want = NULL;
		CtHttpRequest req = {.url = s->url,
		                     .ca_file = root_pem,
		                     .timeout_s = 10,
		                     .auth = CT_HTTP_AUTH_CLIENT_CERT,
		                     .client_cert_file = stray_client_pem,
		                     .client_key_file = stray_client_key};
		g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
		g_assert_null(r);
		g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
		g_assert_false(ct_error_is_transient(error));
		want =
		    g_strdup_printf("127.0.0.1 refused the TLS client certificate %s (TLS alert: "
		                    "unknown CA): the service must trust its issuer, and it "
		                    "must be valid and meant for client authentication",
		                    stray_client_pem);
		g_assert_cmpstr(error->message, ==, want);
		tls_server_free(s);
	}
}

static void
test_client_certificate_needs_https(void)
{
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = "http://127.0.0.1:9/",
	                     .auth = CT_HTTP_AUTH_CLIENT_CERT,
	                     .client_cert_file = client_pem,
	                     .client_key_file = client_key};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
}

static void
make_pki(void)
{
	CtTestCertSpec issuing_spec = {
	    .cn = "TLS Issuing CA", .ca = TRUE, .not_before = -3600, .not_after = 86400 * 30};
	CtTestCertSpec server_spec = {
	    .cn = "127.0.0.1", .san = "IP:127.0.0.1", .not_before = -60, .not_after = 86400};
	CtTestCertSpec wrong_spec = {.cn = "other.example",
	                             .san = "DNS:other.example",
	                             .not_before = -60,
	                             .not_after = 86400};
	CtTestCertSpec client_spec = {.cn = "alice@test.local",
	                              .san_uri = "sip:alice@test.local",
	                              .client_auth = TRUE,
	                              .not_before = -60,
	                              .not_after = 86400};
	EVP_PKEY *root_key, *issuing_key, *server_k, *client_k, *client_ca_key, *stranger_key;
	EVP_PKEY *stray_k;
	X509 *root, *issuing, *server, *wrong, *client, *client_ca, *stranger, *stray;

	dir = g_dir_make_tmp("ct-http-tls-XXXXXX", NULL);
	root = ct_test_ca_new("TLS Root CA", &root_key);
	issuing_key = ct_test_key_new();
	issuing = ct_test_cert_new(issuing_key, &issuing_spec, root, root_key);
	server_k = ct_test_key_new();
	server = ct_test_cert_new(server_k, &server_spec, issuing, issuing_key);
	wrong = ct_test_cert_new(server_k, &wrong_spec, issuing, issuing_key);
	client_ca = ct_test_ca_new("Client CA", &client_ca_key);
	client_k = ct_test_key_new();
	client = ct_test_cert_new(client_k, &client_spec, client_ca, client_ca_key);
	stranger = ct_test_ca_new("Stranger Root CA", &stranger_key);
	stray_k = ct_test_key_new();
	stray = ct_test_cert_new(stray_k, &client_spec, stranger, stranger_key);

	root_pem = ct_test_write_pem(dir, "root.pem", root, NULL);
	server_pem = ct_test_write_pem(dir, "server.pem", server, NULL);
	server_chain_pem = ct_test_write_pem(dir, "server-chain.pem", issuing, NULL);
	wrong_host_pem = ct_test_write_pem(dir, "wrong-host.pem", wrong, NULL);
	server_key = ct_test_write_key(dir, "server.key", server_k);
	client_pem = ct_test_write_pem(dir, "client.pem", client, NULL);
	client_key = ct_test_write_key(dir, "client.key", client_k);
	client_ca_pem = ct_test_write_pem(dir, "client-ca.pem", client_ca, NULL);
	stranger_pem = ct_test_write_pem(dir, "stranger.pem", stranger, NULL);
	stray_client_pem = ct_test_write_pem(dir, "stray-client.pem", stray, NULL);
	stray_client_key = ct_test_write_key(dir, "stray-client.key", stray_k);

	X509_free(root);
	X509_free(issuing);
	X509_free(server);
	X509_free(wrong);
	X509_free(client_ca);
	X509_free(client);
	X509_free(stranger);
	X509_free(stray);
	EVP_PKEY_free(stray_k);
	EVP_PKEY_free(root_key);
	EVP_PKEY_free(issuing_key);
	EVP_PKEY_free(server_k);
	EVP_PKEY_free(client_k);
	EVP_PKEY_free(client_ca_key);
	EVP_PKEY_free(stranger_key);
}

static void
remove_pki(void)
{
	gchar **files[] = {&root_pem,     &server_pem,       &server_chain_pem, &wrong_host_pem,
	                   &server_key,   &client_pem,       &client_key,       &client_ca_pem,
	                   &stranger_pem, &stray_client_pem, &stray_client_key};
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
	g_unsetenv("https_proxy");
	g_unsetenv("HTTPS_PROXY");
	g_unsetenv("all_proxy");
	g_unsetenv("ALL_PROXY");
	make_pki();
	g_test_add_func("/http-tls/extra-anchor", test_extra_anchor);
	g_test_add_func("/http-tls/untrusted-named", test_untrusted_named);
	g_test_add_func("/http-tls/wrong-host", test_wrong_host);
	g_test_add_func("/http-tls/probe", test_probe);
	g_test_add_func("/http-tls/probe-unreachable", test_probe_unreachable);
	g_test_add_func("/http-tls/client-certificate", test_client_certificate);
	g_test_add_func("/http-tls/client-certificate-refused", test_client_certificate_refused);
	g_test_add_func("/http-tls/client-certificate-needs-https",
	                test_client_certificate_needs_https);
	rc = g_test_run();
	remove_pki();
	return rc;
}
