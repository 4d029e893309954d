/*
 * The HTTP client without TLS: status classification, Retry-After, refusals
 * made before connecting (Basic over http, odd URLs), and exchanges with a
 * one-shot server on 127.0.0.1 (headers captured, body bounded, redirects not
 * followed, timeout, cancellation, connection refused). TLS is covered by the
 * integration tests against Apache.
 */
#include <gio/gio.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-http.h"

/* a server that answers one connection with a canned response */
typedef struct {
	GSocketListener *listener;
	guint16 port;
	gchar *response;    /* sent after the request's headers, or NULL to stay silent */
	GCancellable *hold; /* a silent server waits for this */
	GThread *thread;
	gchar *request; /* what the client sent (headers) */
} OneShot;

static gpointer
one_shot_thread(gpointer data)
{
	OneShot *s = data;
	g_autoptr(GSocketConnection) conn = NULL;
	g_autoptr(GString) req = g_string_new(NULL);
	GInputStream *in;
	GOutputStream *out;
	gchar buf[1024];

	conn = g_socket_listener_accept(s->listener, NULL, NULL, NULL);
	if (conn == NULL)
		return NULL;
	in = g_io_stream_get_input_stream(G_IO_STREAM(conn));
	out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	while (strstr(req->str, "\r\n\r\n") == NULL) {
		gssize n = g_input_stream_read(in, buf, sizeof(buf), NULL, NULL);
		if (n <= 0)
			break;
		g_string_append_len(req, buf, n);
	}
	s->request = g_strdup(req->str);
	if (s->response != NULL) {
		g_output_stream_write_all(out, s->response, strlen(s->response), NULL, NULL, NULL);
	} else {
		/* stay silent until the test is done */
		while (!g_cancellable_is_cancelled(s->hold))
			g_usleep(10000);
	}
	g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	return NULL;
}

static OneShot *
one_shot_new(const gchar *response)
{
	OneShot *s = g_new0(OneShot, 1);
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) effective = NULL;
	g_autoptr(GError) error = NULL;
	s->listener = g_socket_listener_new();
	g_socket_listener_add_address(s->listener, addr, G_SOCKET_TYPE_STREAM,
	                              G_SOCKET_PROTOCOL_TCP, NULL, &effective, &error);
	g_assert_no_error(error);
	s->port = g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(effective));
	s->response = g_strdup(response);
	s->hold = g_cancellable_new();
	s->thread = g_thread_new("one-shot", one_shot_thread, s);
	return s;
}

static gchar *
one_shot_url(OneShot *s, const gchar *path)
{
	return g_strdup_printf("http://127.0.0.1:%u%s", s->port, path);
}

/* wait until the server has answered (so that s->request is complete) */
static void
one_shot_wait(OneShot *s)
{
	g_thread_join(s->thread);
	s->thread = NULL;
}

static void
one_shot_free(OneShot *s)
{
	g_cancellable_cancel(s->hold);
	g_socket_listener_close(s->listener);
	if (s->thread != NULL)
		g_thread_join(s->thread);
	g_object_unref(s->listener);
	g_object_unref(s->hold);
	g_free(s->response);
	g_free(s->request);
	g_free(s);
}

static void
test_status_classification(void)
{
	struct {
		guint status;
		CtError code;
	} cases[] = {
	    {401, CT_ERROR_AUTH_FAILED},       {403, CT_ERROR_AUTH_FAILED},
	    {503, CT_ERROR_STORE_UNAVAILABLE}, {429, CT_ERROR_STORE_UNAVAILABLE},
	    {500, CT_ERROR_STORE_UNAVAILABLE}, {502, CT_ERROR_UNREACHABLE},
	    {504, CT_ERROR_UNREACHABLE},       {501, CT_ERROR_NOT_SUPPORTED},
	    {400, CT_ERROR_REJECTED},          {404, CT_ERROR_REJECTED},
	    {415, CT_ERROR_REJECTED},          {302, CT_ERROR_REJECTED},
	    {100, CT_ERROR_PROTOCOL},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		CtHttpResponse r = {.status = cases[i].status};
		g_autoptr(GError) error = NULL;
		ct_http_status_to_error(&r, "test", &error);
		g_assert_error(error, CT_ERROR, (gint)cases[i].code);
		g_assert_true(g_str_has_prefix(error->message, "test: "));
	}
	{
		/* 2xx is no error */
		CtHttpResponse r = {.status = 200};
		g_autoptr(GError) error = NULL;
		ct_http_status_to_error(&r, "test", &error);
		g_assert_no_error(error);
	}
	{
		/* the refused user is named; the server's reason and diagnostics are quoted */
		g_autoptr(GBytes) body = g_bytes_new_static("bob is not allowed\n", 19);
		CtHttpResponse r = {.status = 403,
		                    .auth_user = (gchar *)"bob@TEST.LOCAL",
		                    .content_type = (gchar *)"text/plain; charset=utf-8",
		                    .ms_diagnostics =
		                        (gchar *)"28020;reason=\"No valid security token.\"",
		                    .body = body};
		g_autoptr(GError) error = NULL;
		ct_http_status_to_error(&r, "EST simpleenroll", &error);
		g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
		g_assert_cmpstr(
		    error->message, ==,
		    "EST simpleenroll: the server refused the credentials of "
		    "bob@TEST.LOCAL (HTTP 403): bob is not allowed (server diagnostics: "
		    "28020;reason=\"No valid security token.\")");
	}
}

static void
test_retry_after(void)
{
	CtHttpResponse r = {0};
	g_autoptr(GDateTime) now = g_date_time_new_now_utc();
	g_autoptr(GDateTime) later = g_date_time_add_seconds(now, 120);
	g_autofree gchar *date = g_date_time_format(later, "%a, %d %b %Y %H:%M:%S GMT");
	gdouble secs;
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, -1);
	r.retry_after = (gchar *)"7";
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, 7);
	r.retry_after = (gchar *)" 30 ";
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, 30);
	r.retry_after = (gchar *)"999999999";
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, 86400);
	r.retry_after = (gchar *)"soon";
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, -1);
	r.retry_after = (gchar *)"-5";
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, -1);
	r.retry_after = date;
	secs = ct_http_response_get_retry_after(&r);
	g_assert_cmpfloat(secs, >, 60);
	g_assert_cmpfloat(secs, <=, 120);
	r.retry_after = (gchar *)"Wed, 21 Oct 2015 07:28:00 GMT";
	g_assert_cmpfloat(ct_http_response_get_retry_after(&r), ==, 0);
}

static void
test_refused_before_connecting(void)
{
	struct {
		CtHttpRequest req;
		CtError code;
		const gchar *needle;
	} cases[] = {
	    {{.url = "http://127.0.0.1:9/x",
	      .auth = CT_HTTP_AUTH_BASIC,
	      .username = "alice",
	      .password = "secret"},
	     CT_ERROR_CONFIG,
	     "over plain http"},
	    {{.url = "ftp://127.0.0.1/x"}, CT_ERROR_CONFIG, "only http and https"},
	    {{.url = "file:///etc/passwd"}, CT_ERROR_CONFIG, "only http and https"},
	    {{.url = "https://alice:pw@127.0.0.1/"}, CT_ERROR_CONFIG, "user name or password"},
	    {{.url = ""}, CT_ERROR_CONFIG, "no web service URL"},
	    {{.url = "http://127.0.0.1:9/", .method = "DELETE"}, CT_ERROR_INVALID_ARGS, "DELETE"},
	    {{.url = "http://127.0.0.1:9/",
	      .headers = (const gchar *const[]){"X-A: 1\r\nX-B: 2", NULL}},
	     CT_ERROR_INVALID_ARGS,
	     "header"},
	    {{.url = "http://127.0.0.1:9/", .ca_file = "/nonexistent.pem"},
	     CT_ERROR_CONFIG,
	     "/nonexistent.pem"},
	    {{.url = "https://127.0.0.1:9/", .auth = CT_HTTP_AUTH_BASIC},
	     CT_ERROR_NO_CREDENTIALS,
	     "password"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CtHttpResponse) r = ct_http_perform(&cases[i].req, NULL, &error);
		g_assert_null(r);
		g_assert_error(error, CT_ERROR, (gint)cases[i].code);
		g_assert_nonnull(strstr(error->message, cases[i].needle));
		/* a password never appears in a message */
		g_assert_null(strstr(error->message, "secret"));
	}
}

static void
test_connection_refused(void)
{
	/* a bound socket that does not listen: the port is ours and refuses */
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocket) sock =
	    g_socket_new(G_SOCKET_FAMILY_IPV4, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, &error);
	g_autoptr(GInetAddress) lo = g_inet_address_new_loopback(G_SOCKET_FAMILY_IPV4);
	g_autoptr(GSocketAddress) addr = g_inet_socket_address_new(lo, 0);
	g_autoptr(GSocketAddress) local = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(CtHttpResponse) r = NULL;
	CtHttpRequest req = {0};
	g_assert_no_error(error);
	g_assert_true(g_socket_bind(sock, addr, FALSE, &error));
	local = g_socket_get_local_address(sock, &error);
	url = g_strdup_printf("http://127.0.0.1:%u/",
	                      g_inet_socket_address_get_port(G_INET_SOCKET_ADDRESS(local)));
	req.url = url;
	r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_UNREACHABLE);
	g_assert_true(ct_error_is_transient(error));
}

static void
test_headers_captured(void)
{
	OneShot *s = one_shot_new("HTTP/1.1 503 Service Unavailable\r\n"
	                          "Content-Type: text/plain\r\n"
	                          "Retry-After: 3\r\n"
	                          "X-Ms-diagnostics: 1;source=\"x\";reason=\"store\"\r\n"
	                          "Content-Length: 5\r\n"
	                          "Connection: close\r\n\r\nbusy\n");
	g_autofree gchar *url = one_shot_url(s, "/post");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = g_bytes_new_static("hello", 5);
	CtHttpRequest req = {.url = url,
	                     .body = body,
	                     .content_type = "application/pkcs10",
	                     .headers = (const gchar *const[]){"SOAPAction: \"x\"", NULL}};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(r->status, ==, 503);
	g_assert_cmpstr(r->retry_after, ==, "3");
	g_assert_cmpstr(r->ms_diagnostics, ==, "1;source=\"x\";reason=\"store\"");
	g_assert_cmpstr(r->content_type, ==, "text/plain");
	g_assert_cmpfloat(ct_http_response_get_retry_after(r), ==, 3);
	g_assert_cmpmem(g_bytes_get_data(r->body, NULL), g_bytes_get_size(r->body), "busy\n", 5);
	g_assert_null(r->peer_chain);
	one_shot_free(s);
}

static void
test_request_sent(void)
{
	OneShot *s =
	    one_shot_new("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
	g_autofree gchar *url = one_shot_url(s, "/x");
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) body = g_bytes_new_static("abc", 3);
	CtHttpRequest req = {.url = url, .body = body, .content_type = "application/pkcs10"};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(r->status, ==, 200);
	one_shot_wait(s);
	g_assert_true(g_str_has_prefix(s->request, "POST /x HTTP/1.1\r\n"));
	g_assert_nonnull(strstr(s->request, "Content-Type: application/pkcs10\r\n"));
	g_assert_nonnull(strstr(s->request, "Content-Length: 3\r\n"));
	g_assert_null(strstr(s->request, "Expect:"));
	g_assert_null(strstr(s->request, "Authorization"));
	one_shot_free(s);
}

static void
test_body_bounded(void)
{
	g_autofree gchar *big = g_strnfill(4096, 'x');
	g_autofree gchar *resp = g_strdup_printf(
	    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n%s", big);
	OneShot *s = one_shot_new(resp);
	g_autofree gchar *url = one_shot_url(s, "/big");
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = url, .max_body = 1000};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_true(g_str_has_prefix(error->message, "response too large"));
	one_shot_free(s);
}

static void
test_body_bounded_by_length(void)
{
	/* a declared Content-Length beyond the bound is refused before reading it */
	OneShot *s = one_shot_new("HTTP/1.1 200 OK\r\nContent-Length: 99999999\r\n\r\nxx");
	g_autofree gchar *url = one_shot_url(s, "/big");
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = url, .max_body = 1000};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_PROTOCOL);
	g_assert_true(g_str_has_prefix(error->message, "response too large"));
	one_shot_free(s);
}

static void
test_redirect_not_followed(void)
{
	OneShot *s = one_shot_new("HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\n"
	                          "Content-Length: 0\r\nConnection: close\r\n\r\n");
	g_autofree gchar *url = one_shot_url(s, "/r");
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = url};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_autoptr(GError) status_error = NULL;
	g_assert_no_error(error);
	g_assert_cmpuint(r->status, ==, 302);
	ct_http_status_to_error(r, "test", &status_error);
	g_assert_error(status_error, CT_ERROR, CT_ERROR_REJECTED);
	g_assert_nonnull(strstr(status_error->message, "does not follow"));
	one_shot_free(s);
}

static void
test_timeout(void)
{
	OneShot *s = one_shot_new(NULL);
	g_autofree gchar *url = one_shot_url(s, "/slow");
	g_autoptr(GError) error = NULL;
	CtHttpRequest req = {.url = url, .timeout_s = 1};
	g_autoptr(CtHttpResponse) r = ct_http_perform(&req, NULL, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_TIMEOUT);
	g_assert_true(ct_error_is_transient(error));
	one_shot_free(s);
}

static gboolean
cancel_soon(gpointer data)
{
	g_cancellable_cancel(G_CANCELLABLE(data));
	return G_SOURCE_REMOVE;
}

static gpointer
perform_thread(gpointer data)
{
	CtHttpRequest *req = ((gpointer *)data)[0];
	GCancellable *cancellable = ((gpointer *)data)[1];
	GError *error = NULL;
	CtHttpResponse *r = ct_http_perform(req, cancellable, &error);
	g_assert_null(r);
	return error;
}

static void
test_cancel(void)
{
	OneShot *s = one_shot_new(NULL);
	g_autofree gchar *url = one_shot_url(s, "/slow");
	g_autoptr(GCancellable) cancellable = g_cancellable_new();
	g_autoptr(GMainContext) ctx = g_main_context_new();
	g_autoptr(GSource) timer = g_timeout_source_new(200);
	CtHttpRequest req = {.url = url, .timeout_s = 60};
	gpointer args[2] = {&req, cancellable};
	GThread *t;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtHttpResponse) r = NULL;

	/* already cancelled: nothing is sent */
	g_cancellable_cancel(cancellable);
	r = ct_http_perform(&req, cancellable, &error);
	g_assert_null(r);
	g_assert_error(error, CT_ERROR, CT_ERROR_CANCELLED);
	g_clear_error(&error);
	g_cancellable_reset(cancellable);

	/* cancelled while waiting for the answer */
	t = g_thread_new("perform", perform_thread, args);
	g_source_set_callback(timer, cancel_soon, cancellable, NULL);
	g_source_attach(timer, ctx);
	while (!g_cancellable_is_cancelled(cancellable))
		g_main_context_iteration(ctx, TRUE);
	error = g_thread_join(t);
	g_assert_error(error, CT_ERROR, CT_ERROR_CANCELLED);
	one_shot_free(s);
}

static void
test_probe_needs_https(void)
{
	g_autoptr(GError) error = NULL;
	CtX509Stack *chain = NULL;
	gboolean verified = TRUE;
	g_assert_false(
	    ct_http_probe_tls_chain("http://127.0.0.1:9/", NULL, &chain, &verified, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_null(chain);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	/* a proxy from the environment would make these tests talk to it */
	g_unsetenv("http_proxy");
	g_unsetenv("HTTP_PROXY");
	g_unsetenv("https_proxy");
	g_unsetenv("HTTPS_PROXY");
	g_unsetenv("all_proxy");
	g_unsetenv("ALL_PROXY");
	g_test_add_func("/http/status-classification", test_status_classification);
	g_test_add_func("/http/retry-after", test_retry_after);
	g_test_add_func("/http/refused-before-connecting", test_refused_before_connecting);
	g_test_add_func("/http/connection-refused", test_connection_refused);
	g_test_add_func("/http/headers-captured", test_headers_captured);
	g_test_add_func("/http/request-sent", test_request_sent);
	g_test_add_func("/http/body-bounded", test_body_bounded);
	g_test_add_func("/http/body-bounded-by-length", test_body_bounded_by_length);
	g_test_add_func("/http/redirect-not-followed", test_redirect_not_followed);
	g_test_add_func("/http/timeout", test_timeout);
	g_test_add_func("/http/cancel", test_cancel);
	g_test_add_func("/http/probe-needs-https", test_probe_needs_https);
	return g_test_run();
}
