/*
 * The CertProv backend against the real test servers (MIT KDC, Apache with
 * mod_auth_gssapi, the CertProv + Web Ticket fixture): run by certprov.sh inside
 * a private network namespace, with the servers started, env.sh sourced and a
 * Kerberos ticket for alice. Knobs of tests/servers/control make the fixture fail
 * on purpose; the fixture's request log and user store show what reached it.
 */
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "daemon/engine/ct-config.h"
#include "daemon/engine/ct-enrollment.h"
#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-certprov.h"
#include "daemon/enroll/ct-credentials.h"
#include "tests/unit/ct-test-pki.h"

static const gchar *
env(const gchar *name)
{
	const gchar *value = g_getenv(name);
	if (value == NULL || value[0] == '\0')
		g_error("%s is not set: run this test through tests/integration/certprov.sh", name);
	return value;
}

/* run a command; its exit status must be @want_status; stdout returned */
static gchar *
run(gint want_status, const gchar *const *argv, const gchar *input)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSubprocess) proc = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;

	proc = g_subprocess_newv(argv,
	                         G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE |
	                             (input != NULL ? G_SUBPROCESS_FLAGS_STDIN_PIPE : 0),
	                         &error);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(proc, input, NULL, &out, &err, &error));
	g_assert_no_error(error);
	if (!g_subprocess_get_if_exited(proc) || g_subprocess_get_exit_status(proc) != want_status)
		g_error("%s exited with %d, wanted %d: %s%s", argv[0],
		        g_subprocess_get_exit_status(proc), want_status, out, err);
	return g_steal_pointer(&out);
}

static void
knob(const gchar *name, const gchar *value)
{
	g_autofree gchar *control =
	    g_build_filename(env("CERTTETHER_TEST_SERVERS"), "control", NULL);
	const gchar *argv[] = {control, env("CERTTETHER_TEST_DIR"), name, value, NULL};
	g_autofree gchar *out = run(0, argv, NULL);
}

/* lines of the fixture's request log that contain every one of the words */
static guint
log_count(const gchar *word1, const gchar *word2)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;

	if (!g_file_get_contents(env("CERTTETHER_TEST_LOG"), &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strstr(lines[i], word1) != NULL && (word2 == NULL || strstr(lines[i], word2)))
			n++;
	}
	return n;
}

static guint
log_lines(void)
{
	return log_count("", NULL);
}

/* certificates published in alice's store */
static CtX509Stack *
published(void)
{
	g_autoptr(GError) error = NULL;
	CtX509Stack *certs;
	if (!g_file_test(env("CERTTETHER_TEST_PUBLISHED"), G_FILE_TEST_EXISTS))
		return sk_X509_new_null();
	certs = ct_x509_load_pem_file(env("CERTTETHER_TEST_PUBLISHED"), &error);
	g_assert_no_error(error);
	return certs;
}

static guint
published_count(void)
{
	g_autoptr(CtX509Stack) certs = published();
	return (guint)sk_X509_num(certs);
}

static gchar *
device_id(void)
{
	g_autofree gchar *uuid = g_uuid_string_random();
	g_autofree gchar *upper = g_ascii_strup(uuid, -1);
	return g_strdup_printf("{%s}", upper);
}

static GBytes *
alice_csr(EVP_PKEY **key_out)
{
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("rsa2048");
	g_autofree gchar *cn = g_strdup(env("CERTTETHER_TEST_SIP_URI") + 4);
	GBytes *csr = ct_test_pki_csr(key, cn, env("CERTTETHER_TEST_SIP_URI"));
	if (key_out != NULL)
		*key_out = g_steal_pointer(&key);
	return csr;
}

static CtCredentials *
kerberos_credentials(void)
{
	return ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
}

static void
record_step(const CtEnrollStep *step, gpointer user_data)
{
	GPtrArray *steps = user_data;
	g_ptr_array_add(steps, g_strdup_printf("%s:%s", step->name, step->ok ? "ok" : "failed"));
	g_test_message("step %s %s %s (%.3f s)%s%s", step->name, step->target,
	               step->ok ? "ok" : "FAILED", step->seconds, step->error != NULL ? ": " : "",
	               step->error != NULL ? step->error->message : "");
}

static CtEnrollBackend *
new_backend(CtCredentials *credentials, GPtrArray *steps)
{
	CtEnrollBackend *backend = ct_certprov_new(env("CERTTETHER_TEST_CERTPROV_URL"),
	                                           env("CERTTETHER_TEST_CA"), credentials);
	g_assert_nonnull(backend);
	if (steps != NULL)
		ct_enroll_backend_set_step_func(backend, record_step, steps, NULL);
	return backend;
}

static CtEnrollResponse *
submit(CtEnrollBackend *backend, GBytes *csr, GError **error)
{
	g_autofree gchar *id = device_id();
	CtEnrollRequest request = {
	    .csr_der = csr,
	    .sip_uri = env("CERTTETHER_TEST_SIP_URI"),
	    .device_id = id,
	};
	return ct_enroll_backend_submit(backend, &request, NULL, error);
}

static gchar *
write_pem(const gchar *dir, const gchar *name, X509 *first, const CtX509Stack *rest)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	GString *pem = g_string_new(NULL);
	g_autoptr(GError) error = NULL;

	if (first != NULL) {
		g_autofree gchar *p = ct_x509_to_pem(first);
		g_string_append(pem, p);
	}
	for (gint i = 0; rest != NULL && i < sk_X509_num(rest); i++) {
		g_autofree gchar *p = ct_x509_to_pem(sk_X509_value(rest, i));
		g_string_append(pem, p);
	}
	g_assert_true(g_file_set_contents(path, pem->str, pem->len, &error));
	g_string_free(pem, TRUE);
	return g_steal_pointer(&path);
}

/* `openssl verify -CAfile $CERTTETHER_TEST_CA -untrusted CHAIN LEAF` accepts it */
static void
assert_openssl_verifies(X509 *leaf, const CtX509Stack *untrusted)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *dir = g_dir_make_tmp("ct-certprov-verify-XXXXXX", &error);
	g_autofree gchar *leaf_pem = write_pem(dir, "leaf.pem", leaf, NULL);
	g_autofree gchar *chain_pem = write_pem(dir, "chain.pem", NULL, untrusted);
	const gchar *argv[] = {"openssl",    "verify",  "-CAfile",  env("CERTTETHER_TEST_CA"),
	                       "-untrusted", chain_pem, "-purpose", "sslclient",
	                       leaf_pem,     NULL};
	g_autofree gchar *out = run(0, argv, NULL);

	g_assert_true(g_str_has_suffix(g_strstrip(out), ": OK"));
	g_unlink(leaf_pem);
	g_unlink(chain_pem);
	g_rmdir(dir);
}

/* subject CN and SAN URI are the user's */
static void
assert_names_user(X509 *cert)
{
	const gchar *sip_uri = env("CERTTETHER_TEST_SIP_URI");
	gchar cn[256] = {0};
	GENERAL_NAMES *sans = NULL;
	gboolean san_found = FALSE;

	g_assert_cmpint(
	    X509_NAME_get_text_by_NID(X509_get_subject_name(cert), NID_commonName, cn, sizeof(cn)),
	    >, 0);
	g_assert_cmpstr(cn, ==, sip_uri + 4);
	sans = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	g_assert_nonnull(sans);
	for (gint i = 0; i < sk_GENERAL_NAME_num(sans); i++) {
		GENERAL_NAME *gn = sk_GENERAL_NAME_value(sans, i);
		if (gn->type == GEN_URI) {
			const guchar *uri = ASN1_STRING_get0_data(gn->d.uniformResourceIdentifier);
			if (g_strcmp0((const gchar *)uri, sip_uri) == 0)
				san_found = TRUE;
		}
	}
	GENERAL_NAMES_free(sans);
	g_assert_true(san_found);
}

static void
assert_published(X509 *cert)
{
	g_autoptr(CtX509Stack) store = published();
	g_assert_true(ct_x509_stack_contains(store, cert));
}

static void
assert_message_has(const GError *error, const gchar *const *words)
{
	for (guint i = 0; words[i] != NULL; i++) {
		if (strstr(error->message, words[i]) == NULL)
			g_error("\"%s\" does not mention \"%s\"", error->message, words[i]);
	}
}

/*
 * A scripted HTTP/1.1 server on 127.0.0.1 for the metadata fallback: each
 * connection gets one answer chosen by "METHOD PATH"; the requests are recorded.
 */
typedef struct {
	const gchar *request; /* "GET /path" */
	guint status;
	const gchar *body;
	const gchar *extra_header; /* or NULL */
} ScriptedAnswer;

typedef struct {
	GSocketListener *listener;
	GThread *thread;
	guint16 port;
	const ScriptedAnswer *answers;
	guint n_connections;
	GPtrArray *seen; /* "METHOD PATH" */
} ScriptedServer;

static gpointer
scripted_server_thread(gpointer data)
{
	ScriptedServer *s = data;
	for (guint c = 0; c < s->n_connections; c++) {
		g_autoptr(GSocketConnection) conn =
		    g_socket_listener_accept(s->listener, NULL, NULL, NULL);
		g_autoptr(GDataInputStream) in = NULL;
		g_autofree gchar *first = NULL;
		g_autofree gchar *head = NULL;
		g_autofree gchar *answer = NULL;
		const ScriptedAnswer *a = NULL;
		gsize content_length = 0;
		GOutputStream *out;
		gchar *line;

		if (conn == NULL)
			break;
		in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
		g_data_input_stream_set_newline_type(in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
		first = g_data_input_stream_read_line(in, NULL, NULL, NULL);
		if (first == NULL)
			break;
		while ((line = g_data_input_stream_read_line(in, NULL, NULL, NULL)) != NULL) {
			gboolean end = line[0] == '\0';
			if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
				content_length = g_ascii_strtoull(line + 15, NULL, 10);
			g_free(line);
			if (end)
				break;
		}
		if (content_length > 0 && content_length < 1024 * 1024) {
			g_autofree gchar *body = g_malloc(content_length);
			g_input_stream_read_all(G_INPUT_STREAM(in), body, content_length, NULL,
			                        NULL, NULL);
		}
		/* "POST /path HTTP/1.1" -> "POST /path" */
		if (strrchr(first, ' ') != NULL)
			*strrchr(first, ' ') = '\0';
		g_ptr_array_add(s->seen, g_strdup(first));
		for (guint i = 0; s->answers[i].request != NULL && a == NULL; i++) {
			if (g_strcmp0(s->answers[i].request, first) == 0)
				a = &s->answers[i];
		}
		answer = g_strdup_printf(
		    "HTTP/1.1 %u Scripted\r\nContent-Type: text/xml\r\n"
		    "Content-Length: %zu\r\nConnection: close\r\n%s%s\r\n%s",
		    a != NULL ? a->status : 404, a != NULL && a->body != NULL ? strlen(a->body) : 0,
		    a != NULL && a->extra_header != NULL ? a->extra_header : "",
		    a != NULL && a->extra_header != NULL ? "\r\n" : "",
		    a != NULL && a->body != NULL ? a->body : "");
		out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
		g_output_stream_write_all(out, answer, strlen(answer), NULL, NULL, NULL);
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	}
	return NULL;
}

static void
scripted_server_start(ScriptedServer *s, const ScriptedAnswer *answers, guint n_connections)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) bound = NULL;

	s->listener = g_socket_listener_new();
	g_assert_true(g_socket_listener_add_address(s->listener, addr, G_SOCKET_TYPE_STREAM,
	                                            G_SOCKET_PROTOCOL_TCP, NULL, &bound, &error));
	g_assert_no_error(error);
	s->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(bound));
	s->answers = answers;
	s->n_connections = n_connections;
	s->seen = g_ptr_array_new_with_free_func(g_free);
	s->thread = g_thread_new("scripted-http", scripted_server_thread, s);
}

/* every request seen, joined by ", " */
static gchar *
scripted_server_stop(ScriptedServer *s)
{
	gchar *seen;
	g_socket_listener_close(s->listener);
	g_thread_join(s->thread);
	g_object_unref(s->listener);
	g_ptr_array_add(s->seen, NULL);
	seen = g_strjoinv(", ", (gchar **)s->seen->pdata);
	g_ptr_array_unref(s->seen);
	return seen;
}

#define FAULT_28020                                                                                \
	"<s:Envelope xmlns:s=\"http://schemas.xmlsoap.org/soap/envelope/\"><s:Body><s:Fault>"      \
	"<faultcode xmlns:a=\"http://docs.oasis-open.org/wss/2004/01/"                             \
	"oasis-200401-wss-wssecurity-secext-1.0.xsd\">a:FailedAuthentication</faultcode>"          \
	"<faultstring>No valid security token.</faultstring></s:Fault></s:Body></s:Envelope>"

/* without usable metadata the documented paths are used, on the configured host */
static void
test_mex_fallback(void)
{
	const ScriptedAnswer answers[] = {
	    {"GET /CertProv/CertProvisioningService.svc/mex", 404, "no metadata here", NULL},
	    {"GET /WebTicket/WebTicketService.svc/mex", 200, "<not-wsdl/>", NULL},
	    {"POST /WebTicket/WebTicketService.svc/WinNegotiate", 500, FAULT_28020,
	     "X-Ms-diagnostics: 28020;source=\"scripted\";reason=\"No valid security token.\""},
	    {NULL, 0, NULL, NULL},
	};
	ScriptedServer server = {0};
	g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = NULL;
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *seen = NULL;
	g_autofree gchar *joined = NULL;
	const gchar *words[] = {"28020", "No valid security token.", "scripted", NULL};

	scripted_server_start(&server, answers, 3);
	/* "localhost" so that the Negotiate service name is one the KDC knows */
	url = g_strdup_printf("http://localhost:%u/CertProv/CertProvisioningService.svc",
	                      server.port);
	backend = ct_certprov_new(url, NULL, credentials);
	ct_enroll_backend_set_step_func(backend, record_step, steps, NULL);
	response = submit(backend, csr, &error);
	seen = scripted_server_stop(&server);
	g_assert_null(response);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	assert_message_has(error, words);
	g_assert_cmpstr(seen, ==,
	                "GET /CertProv/CertProvisioningService.svc/mex, "
	                "GET /WebTicket/WebTicketService.svc/mex, "
	                "POST /WebTicket/WebTicketService.svc/WinNegotiate");
	g_ptr_array_add(steps, NULL);
	joined = g_strjoinv(" ", (gchar **)steps->pdata);
	g_assert_cmpstr(joined, ==, "discover:ok discover:ok web-ticket:failed");
}

/*
 * The tests
 */

/* a certificate obtained with the ticket: names the user, verifies, is published */
static void
test_obtain(void)
{
	g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, steps);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(GBytes) csr = alice_csr(&key);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	g_autoptr(CtX509Stack) ca_certs = NULL;
	g_autofree gchar *joined = NULL;
	guint before = published_count();
	guint tickets = log_count("webticket Issue user=alice@", "auth=Negotiate");

	response = submit(backend, csr, &error);
	g_assert_no_error(error);
	g_assert_nonnull(response);
	g_ptr_array_add(steps, NULL);
	joined = g_strjoinv(" ", (gchar **)steps->pdata);
	g_assert_cmpstr(joined, ==, "discover:ok discover:ok web-ticket:ok enroll:ok");

	/* the certificate is for the phone's key and names the user */
	g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(response->certificate), key), ==, 1);
	assert_names_user(response->certificate);
	/* the TLS chain of the service is handed on (for the phone's trust anchors) */
	g_assert_nonnull(response->service_tls_chain);
	g_assert_cmpint(sk_X509_num(response->service_tls_chain), >=, 1);

	/* the chain download and openssl verify */
	ca_certs = ct_enroll_backend_fetch_ca_certs(backend, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(ca_certs), ==, 2);
	assert_openssl_verifies(response->certificate, ca_certs);

	/* published in the user's store, once; the web ticket came from Kerberos */
	assert_published(response->certificate);
	g_assert_cmpuint(published_count(), ==, before + 1);
	g_assert_cmpuint(log_count("webticket Issue user=alice@", "auth=Negotiate"), ==,
	                 tickets + 1);
}

/* a PKCS#7 answer: the leaf is found by its key, the rest is the chain */
static void
test_pkcs7(void)
{
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, NULL);
	g_autoptr(EVP_PKEY) key = NULL;
	g_autoptr(GBytes) csr = alice_csr(&key);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;

	knob("pkcs7", "on");
	response = submit(backend, csr, &error);
	knob("pkcs7", NULL);
	g_assert_no_error(error);
	g_assert_cmpint(EVP_PKEY_eq(X509_get0_pubkey(response->certificate), key), ==, 1);
	g_assert_cmpint(sk_X509_num(response->extra), ==, 2);
	assert_names_user(response->certificate);
	assert_openssl_verifies(response->certificate, response->extra);
	assert_published(response->certificate);
	g_assert_cmpuint(log_count("GetAndPublishCert", "pkcs7"), >=, 1);
}

/* the retry orchestration: "data store unavailable" twice, then the certificate */
static void
test_store_unavailable_retried(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *conf =
	    g_strdup_printf("[service]\nprotocol = certprov\nurl = %s\n"
	                    "ca-file = %s\n"
	                    "[retry]\nmax-attempts = 5\ninitial-delay = 0.05\n"
	                    "max-delay = 0.2\n",
	                    env("CERTTETHER_TEST_CERTPROV_URL"), env("CERTTETHER_TEST_CA"));
	g_autoptr(CtConfig) config = ct_config_load_data(conf, strlen(conf), "test", NULL, &error);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, NULL);
	g_autoptr(CtEnrollment) enrollment = NULL;
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *id = device_id();
	CtEnrollRequest request = {.csr_der = csr, .sip_uri = NULL, .device_id = id};
	guint faults = log_count("GetAndPublishCert", "fault 28032");
	guint issued = log_count("GetAndPublishCert", "issued serial=");
	guint before = published_count();

	g_assert_no_error(error);
	enrollment = ct_enrollment_new_with_backend(config, backend);
	ct_enrollment_set_use_system_store(enrollment, FALSE);
	request.sip_uri = env("CERTTETHER_TEST_SIP_URI");
	knob("store-unavailable", "2");
	result = ct_enrollment_run(enrollment, &request, NULL, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpuint(result->attempts, ==, 3);
	g_assert_cmpuint(log_count("GetAndPublishCert", "fault 28032"), ==, faults + 2);
	g_assert_cmpuint(log_count("GetAndPublishCert", "issued serial="), ==, issued + 1);
	g_assert_cmpuint(published_count(), ==, before + 1);
	assert_published(result->leaf);
	assert_names_user(result->leaf);
}

/* one attempt's classification: transient, with the server's ErrorId and reason */
static void
test_store_unavailable_single(void)
{
	g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, steps);
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	const gchar *words[] = {"28032", "The user's data store is unavailable.", NULL};
	guint before = published_count();

	knob("store-unavailable", "1");
	response = submit(backend, csr, &error);
	g_assert_null(response);
	g_assert_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE);
	g_test_message("transient: %s", error->message);
	g_assert_true(ct_error_is_transient(error));
	assert_message_has(error, words);
	g_assert_cmpstr(g_ptr_array_index(steps, steps->len - 1), ==, "enroll:failed");
	g_assert_cmpuint(published_count(), ==, before);
}

static CtEnrollResult *
run_enrollment(GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *conf = g_strdup_printf(
	    "[service]\nprotocol = certprov\nurl = %s\nca-file = %s\n[retry]\nmax-attempts = 2\n"
	    "initial-delay = 0.05\nmax-delay = 0.1\n",
	    env("CERTTETHER_TEST_CERTPROV_URL"), env("CERTTETHER_TEST_CA"));
	g_autoptr(CtConfig) config =
	    ct_config_load_data(conf, strlen(conf), "test", NULL, &error_local);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, NULL);
	g_autoptr(CtEnrollment) enrollment = NULL;
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autofree gchar *id = device_id();
	CtEnrollRequest request = {.csr_der = csr, .device_id = id};

	g_assert_no_error(error_local);
	enrollment = ct_enrollment_new_with_backend(config, backend);
	ct_enrollment_set_use_system_store(enrollment, FALSE);
	request.sip_uri = env("CERTTETHER_TEST_SIP_URI");
	return ct_enrollment_run(enrollment, &request, NULL, error);
}

/* a certificate for another key is refused by verification */
static void
test_wrong_key(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = NULL;
	guint issued = log_count("GetAndPublishCert", "wrong-key");

	knob("wrong-key", "1");
	result = run_enrollment(&error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_test_message("refused: %s", error->message);
	g_assert_cmpuint(log_count("GetAndPublishCert", "wrong-key"), ==, issued + 1);
}

/* a certificate from an unknown root is refused, naming the issuer */
static void
test_unknown_root(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = NULL;
	const gchar *words[] = {"certtether Unknown", "not trusted", NULL};

	knob("unknown-root", "1");
	result = run_enrollment(&error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_test_message("untrusted: %s", error->message);
	assert_message_has(error, words);
}

/* the server refuses the user: permanent, with the server's ErrorId and reason */
static void
test_refuse_auth(void)
{
	g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, steps);
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	g_autofree gchar *who = g_strdup_printf("the server refused the credentials of %s",
	                                        env("CERTTETHER_TEST_USER"));
	const gchar *words[] = {who, "28020", "No valid security token.", NULL};
	guint before = published_count();

	knob("refuse-auth", "1");
	response = submit(backend, csr, &error);
	g_assert_null(response);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	g_test_message("refused: %s", error->message);
	g_assert_false(ct_error_is_transient(error));
	assert_message_has(error, words);
	g_assert_cmpstr(g_ptr_array_index(steps, steps->len - 1), ==, "web-ticket:failed");
	g_assert_cmpuint(published_count(), ==, before);
}

static gchar *
prompt_fixed(const gchar *prompt G_GNUC_UNUSED, gpointer user_data)
{
	return g_strdup(user_data);
}

/* a user the service refuses (mallory) is told so, with the service's own reason */
static void
test_refused_user_basic(void)
{
	g_autoptr(CtCredentials) credentials =
	    ct_credentials_new(CT_AUTH_METHOD_BASIC, env("CERTTETHER_TEST_REFUSED_USER"));
	g_autoptr(CtEnrollBackend) backend = NULL;
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	const gchar *words[] = {"mallory", "28020", "The user is not enabled for this service.",
	                        NULL};

	ct_credentials_set_prompt_func(credentials, prompt_fixed,
	                               (gpointer)env("CERTTETHER_TEST_REFUSED_PASSWORD"), NULL);
	backend = new_backend(credentials, NULL);
	response = submit(backend, csr, &error);
	g_assert_null(response);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	assert_message_has(error, words);
}

/* Basic over https with a password: works; a wrong password is refused and forgotten */
static gchar *
prompt_password(const gchar *prompt, gpointer user_data)
{
	guint *calls = user_data;
	(*calls)++;
	g_test_message("prompt %u: %s", *calls, prompt);
	return g_strdup(*calls == 1 ? "wrong-password" : env("CERTTETHER_TEST_PASSWORD"));
}

static void
test_basic_password(void)
{
	g_autoptr(CtCredentials) credentials =
	    ct_credentials_new(CT_AUTH_METHOD_BASIC, env("CERTTETHER_TEST_USER"));
	g_autoptr(CtEnrollBackend) backend = NULL;
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) refused = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	guint calls = 0;

	ct_credentials_set_prompt_func(credentials, prompt_password, &calls, NULL);
	backend = new_backend(credentials, NULL);
	refused = submit(backend, csr, &error);
	g_assert_null(refused);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	g_assert_nonnull(strstr(error->message, "HTTP 401"));
	g_clear_error(&error);
	/* the wrong password was forgotten: the next submission asks again */
	response = submit(backend, csr, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(calls, ==, 2);
	assert_names_user(response->certificate);
	g_assert_cmpuint(log_count("webticket Issue user=alice@", "auth=Basic"), >=, 1);
}

/* no Kerberos ticket: NO_CREDENTIALS telling to run kinit, and nothing sent */
static void
test_no_ticket(void)
{
	const gchar *kdestroy[] = {"kdestroy", NULL};
	const gchar *kinit[] = {"kinit", env("CERTTETHER_TEST_USER"), NULL};
	g_autofree gchar *pw = g_strdup_printf("%s\n", env("CERTTETHER_TEST_PASSWORD"));
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend = new_backend(credentials, NULL);
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	g_autofree gchar *o1 = NULL;
	g_autofree gchar *o2 = NULL;
	guint lines;

	o1 = run(0, kdestroy, NULL);
	lines = log_lines();
	response = submit(backend, csr, &error);
	g_assert_null(response);
	g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
	g_test_message("no ticket: %s", error->message);
	g_assert_nonnull(strstr(error->message, "kinit"));
	g_assert_cmpuint(log_lines(), ==, lines);
	o2 = run(0, kinit, pw);
}

/* [service] web-ticket-url: a service URL (its /mex is read) or the port address itself */
static void
test_web_ticket_url(void)
{
	g_autofree gchar *port =
	    g_strconcat(env("CERTTETHER_TEST_WEBTICKET_URL"), "/WinNegotiate", NULL);
	const gchar *urls[] = {env("CERTTETHER_TEST_WEBTICKET_URL"), port};

	for (guint i = 0; i < G_N_ELEMENTS(urls); i++) {
		g_autoptr(GPtrArray) steps = g_ptr_array_new_with_free_func(g_free);
		g_autoptr(CtCredentials) credentials = kerberos_credentials();
		g_autoptr(CtEnrollBackend) backend = new_backend(credentials, steps);
		g_autoptr(GBytes) csr = alice_csr(NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(CtEnrollResponse) response = NULL;
		g_autofree gchar *joined = NULL;

		ct_certprov_set_web_ticket_url(CT_CERTPROV(backend), urls[i]);
		response = submit(backend, csr, &error);
		g_assert_no_error(error);
		assert_names_user(response->certificate);
		g_ptr_array_add(steps, NULL);
		joined = g_strjoinv(" ", (gchar **)steps->pdata);
		g_assert_cmpstr(joined, ==,
		                i == 0 ? "discover:ok discover:ok web-ticket:ok enroll:ok"
		                       : "discover:ok web-ticket:ok enroll:ok");
	}
}

/* a bare https://host:port is completed with the documented service path */
static void
test_bare_origin_url(void)
{
	g_autoptr(GUri) uri =
	    g_uri_parse(env("CERTTETHER_TEST_CERTPROV_URL"), G_URI_FLAGS_NONE, NULL);
	g_autofree gchar *origin = g_uri_join(G_URI_FLAGS_NONE, "https", NULL, g_uri_get_host(uri),
	                                      g_uri_get_port(uri), "/", NULL, NULL);
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend =
	    ct_certprov_new(origin, env("CERTTETHER_TEST_CA"), credentials);
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = submit(backend, csr, &error);

	g_assert_no_error(error);
	assert_names_user(response->certificate);
}

/* without the test CA the service's TLS certificate is not trusted: nothing is sent */
static void
test_untrusted_tls(void)
{
	g_autoptr(CtCredentials) credentials = kerberos_credentials();
	g_autoptr(CtEnrollBackend) backend =
	    ct_certprov_new(env("CERTTETHER_TEST_CERTPROV_URL"), NULL, credentials);
	g_autoptr(GBytes) csr = alice_csr(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	guint lines = log_lines();

	response = submit(backend, csr, &error);
	g_assert_null(response);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_cmpuint(log_lines(), ==, lines);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);

	g_test_add_func("/certprov/obtain", test_obtain);
	g_test_add_func("/certprov/pkcs7", test_pkcs7);
	g_test_add_func("/certprov/store-unavailable/single-attempt",
	                test_store_unavailable_single);
	g_test_add_func("/certprov/store-unavailable/retried", test_store_unavailable_retried);
	g_test_add_func("/certprov/wrong-key", test_wrong_key);
	g_test_add_func("/certprov/unknown-root", test_unknown_root);
	g_test_add_func("/certprov/refuse-auth", test_refuse_auth);
	g_test_add_func("/certprov/refused-user", test_refused_user_basic);
	g_test_add_func("/certprov/basic-password", test_basic_password);
	g_test_add_func("/certprov/web-ticket-url", test_web_ticket_url);
	g_test_add_func("/certprov/bare-origin-url", test_bare_origin_url);
	g_test_add_func("/certprov/untrusted-tls", test_untrusted_tls);
	g_test_add_func("/certprov/mex-fallback", test_mex_fallback);
	g_test_add_func("/certprov/no-ticket", test_no_ticket);
	return g_test_run();
}
