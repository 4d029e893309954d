#include "daemon/enroll/ct-http.h"

#include <curl/curl.h>
#include <gssapi/gssapi_krb5.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <string.h>
#include <time.h>

#include "daemon/engine/ct-x509.h"

/* longest header value we keep (diagnostics are short; anything longer is cut) */
#define CT_HTTP_MAX_HEADER_VALUE 1024
/* how long a connection attempt may take, at most, within the whole timeout */
#define CT_HTTP_CONNECT_TIMEOUT_S 15
/* longest server text quoted in an error message */
#define CT_HTTP_MAX_QUOTED 200

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)

/* per-exchange state shared with libcurl's callbacks */
typedef struct {
	GCancellable *cancellable;
	gsize max_body;
	GByteArray *body;
	gboolean too_large;
	/* extra anchors from the request's ca_file, added to libcurl's store */
	CtX509Stack *extra_anchors;
	/* what the TLS certificate verification saw (chain presented, outcome) */
	gboolean verify_seen;
	gboolean verify_ok;
	int verify_error;
	CtX509Stack *peer_chain;
	gchar *verify_subject; /* certificate where verification stopped */
	gchar *verify_issuer;  /* and its issuer */
	gboolean verify_self_signed;
	/* the client certificate offered (CLIENT_CERT), or NULL; borrowed from the request */
	const gchar *client_cert_file;
	/* the first fatal TLS alert the server sent, e.g. refusing the client certificate */
	gboolean peer_alert_seen;
	gint peer_alert;
} CtHttpTransfer;

static void
ct_http_transfer_clear(CtHttpTransfer *t)
{
	g_clear_pointer(&t->body, g_byte_array_unref);
	g_clear_pointer(&t->extra_anchors, ct_x509_stack_free);
	g_clear_pointer(&t->peer_chain, ct_x509_stack_free);
	g_clear_pointer(&t->verify_subject, g_free);
	g_clear_pointer(&t->verify_issuer, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtHttpTransfer, ct_http_transfer_clear)

void
ct_http_response_free(CtHttpResponse *response)
{
	if (response == NULL)
		return;
	g_clear_pointer(&response->body, g_bytes_unref);
	g_free(response->content_type);
	g_free(response->ms_diagnostics);
	g_free(response->retry_after);
	g_free(response->auth_user);
	ct_x509_stack_free(response->peer_chain);
	g_free(response);
}

static gboolean
ct_http_global_init(GError **error)
{
	static gsize once = 0;
	static CURLcode rc = CURLE_OK;
	if (g_once_init_enter(&once)) {
		rc = curl_global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&once, 1);
	}
	if (rc != CURLE_OK) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "cannot initialise libcurl: %s",
		            curl_easy_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

static size_t
ct_http_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	CtHttpTransfer *t = userdata;
	gsize n = size * nmemb;
	/* refusing the data makes libcurl stop with CURLE_WRITE_ERROR */
	if (n > t->max_body || t->body->len > t->max_body - n) {
		t->too_large = TRUE;
		return 0;
	}
	g_byte_array_append(t->body, (const guint8 *)ptr, (guint)n);
	return n;
}

static int
ct_http_xferinfo_cb(
    void *clientp, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow)
{
	CtHttpTransfer *t = clientp;
	(void)dltotal;
	(void)dlnow;
	(void)ultotal;
	(void)ulnow;
	/* non-zero aborts the transfer with CURLE_ABORTED_BY_CALLBACK */
	return g_cancellable_is_cancelled(t->cancellable) ? 1 : 0;
}

/*
 * Replaces OpenSSL's chain verification for this connection by the same
 * verification plus a record of what was presented and where it failed: the
 * outcome is unchanged (a failure still aborts the handshake).
 */
static int
ct_http_cert_verify_cb(X509_STORE_CTX *sctx, void *arg)
{
	CtHttpTransfer *t = arg;
	STACK_OF(X509) *untrusted = X509_STORE_CTX_get0_untrusted(sctx);
	X509 *leaf = X509_STORE_CTX_get0_cert(sctx);
	int ok = X509_verify_cert(sctx);

	g_clear_pointer(&t->peer_chain, ct_x509_stack_free);
	t->peer_chain = sk_X509_new_null();
	if (leaf != NULL && X509_up_ref(leaf) && !sk_X509_push(t->peer_chain, leaf))
		X509_free(leaf);
	ct_x509_stack_merge(t->peer_chain, untrusted);

	t->verify_seen = TRUE;
	t->verify_ok = ok == 1;
	g_clear_pointer(&t->verify_subject, g_free);
	g_clear_pointer(&t->verify_issuer, g_free);
	if (ok != 1) {
		X509 *cur = X509_STORE_CTX_get_current_cert(sctx);
		t->verify_error = X509_STORE_CTX_get_error(sctx);
		if (cur == NULL)
			cur = leaf;
		if (cur != NULL) {
			t->verify_subject = ct_x509_subject_string(cur);
			t->verify_issuer = ct_x509_issuer_string(cur);
			t->verify_self_signed = ct_x509_is_self_signed(cur);
		}
		return 0;
	}
	t->verify_error = X509_V_OK;
	return 1;
}

/* the SSL_CTX ex_data slot that leads the info callback to its transfer */
static int
ct_http_ctx_index(void)
{
	static gsize once = 0;
	static int index = -1;
	if (g_once_init_enter(&once)) {
		index = SSL_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
		g_once_init_leave(&once, 1);
	}
	return index;
}

/*
 * A fatal alert from the server says why it ended the connection: with TLS 1.3 a
 * refused client certificate only shows as an alert after the handshake, which
 * libcurl reports as a receive error like any broken connection
 */
static void
ct_http_info_cb(const SSL *ssl, int where, int ret)
{
	CtHttpTransfer *t;
	if ((where & SSL_CB_READ_ALERT) != SSL_CB_READ_ALERT || (ret >> 8) != SSL3_AL_FATAL)
		return;
	t = SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ct_http_ctx_index());
	if (t != NULL && !t->peer_alert_seen) {
		t->peer_alert_seen = TRUE;
		t->peer_alert = ret & 0xff;
	}
}

static CURLcode
ct_http_ssl_ctx_cb(CURL *curl, void *sslctx, void *userptr)
{
	CtHttpTransfer *t = userptr;
	SSL_CTX *ctx = sslctx;
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	(void)curl;

	/* libcurl has loaded the system store; the configured ca-file adds to it */
	for (int i = 0; t->extra_anchors != NULL && i < sk_X509_num(t->extra_anchors); i++) {
		if (store == NULL ||
		    !X509_STORE_add_cert(store, sk_X509_value(t->extra_anchors, i))) {
			ERR_clear_error();
			return CURLE_SSL_CACERT_BADFILE;
		}
	}
	SSL_CTX_set_cert_verify_callback(ctx, ct_http_cert_verify_cb, t);
	/* libcurl makes an SSL_CTX per connection, and this transfer outlives it */
	if (ct_http_ctx_index() < 0 || !SSL_CTX_set_ex_data(ctx, ct_http_ctx_index(), t)) {
		ERR_clear_error();
		return CURLE_SSL_CONNECT_ERROR;
	}
	SSL_CTX_set_info_callback(ctx, ct_http_info_cb);
	return CURLE_OK;
}

/* the host of a URL, for messages; the URL itself when it cannot be parsed */
static gchar *
ct_http_url_host(const gchar *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL || g_uri_get_host(uri) == NULL)
		return g_strdup(url);
	return g_strdup(g_uri_get_host(uri));
}

/* check the URL before libcurl sees it: http(s), a host, no credentials inside */
static gboolean
ct_http_check_url(const gchar *url, gboolean *is_https, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autoptr(GError) error_local = NULL;
	const gchar *scheme;

	if (url == NULL || url[0] == '\0') {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CONFIG, "no web service URL given");
		return FALSE;
	}
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, &error_local);
	if (uri == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "invalid URL %s: %s", url,
		            error_local->message);
		return FALSE;
	}
	scheme = g_uri_get_scheme(uri);
	if (g_strcmp0(scheme, "https") != 0 && g_strcmp0(scheme, "http") != 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "unsupported URL %s: only http and https are allowed", url);
		return FALSE;
	}
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0') {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "the URL %s has no host", url);
		return FALSE;
	}
	if (g_uri_get_userinfo(uri) != NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CONFIG,
		                    "a URL must not carry a user name or password; configure "
		                    "credentials instead");
		return FALSE;
	}
	*is_https = g_strcmp0(scheme, "https") == 0;
	return TRUE;
}

/* a header value we keep: first instance, control characters removed, bounded */
static gchar *
ct_http_get_header(CURL *curl, const gchar *name)
{
	struct curl_header *h = NULL;
	GString *out;
	if (curl_easy_header(curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL ||
	    h->value == NULL)
		return NULL;
	out = g_string_new(NULL);
	for (const gchar *p = h->value; *p != '\0' && out->len < CT_HTTP_MAX_HEADER_VALUE; p++)
		g_string_append_c(out, g_ascii_iscntrl(*p) ? ' ' : *p);
	return g_string_free(out, FALSE);
}

/* printable, bounded, single-line excerpt of server text for messages */
static gchar *
ct_http_quote(const gchar *text, gsize len)
{
	g_autofree gchar *valid = g_utf8_make_valid(text, (gssize)MIN(len, CT_HTTP_MAX_QUOTED));
	GString *out = g_string_new(NULL);
	for (const gchar *p = valid; *p != '\0'; p++)
		g_string_append_c(out, (*p == '\n' || *p == '\r' || *p == '\t') ? ' ' : *p);
	g_strstrip(out->str);
	out->len = strlen(out->str);
	if (len > CT_HTTP_MAX_QUOTED)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

/* the sentence for a TLS verification failure, naming what is not trusted */
static gchar *
ct_http_describe_verify_failure(const CtHttpTransfer *t, const gchar *host)
{
	const gchar *subject = t->verify_subject != NULL ? t->verify_subject : "?";
	const gchar *issuer = t->verify_issuer != NULL ? t->verify_issuer : "?";

	switch (t->verify_error) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		return g_strdup_printf("the certificate chain of %s ends at '%s' which is not "
		                       "trusted: add it to ca-file",
		                       host, issuer);
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		return g_strdup_printf("the certificate chain of %s ends at '%s' which is not "
		                       "trusted: add it to ca-file",
		                       host, subject);
	case X509_V_ERR_CERT_HAS_EXPIRED:
		return g_strdup_printf("the certificate '%s' in the TLS chain of %s has expired",
		                       subject, host);
	case X509_V_ERR_CERT_NOT_YET_VALID:
		return g_strdup_printf("the certificate '%s' in the TLS chain of %s is not valid "
		                       "yet (check the clock)",
		                       subject, host);
	default:
		return g_strdup_printf(
		    "the TLS certificate chain of %s does not verify at '%s': %s", host, subject,
		    X509_verify_cert_error_string(t->verify_error));
	}
}

/* the alerts a TLS server sends about the certificate of its client */
static gboolean
ct_http_is_client_cert_alert(gint alert)
{
	switch (alert) {
	case SSL_AD_BAD_CERTIFICATE:
	case SSL_AD_UNSUPPORTED_CERTIFICATE:
	case SSL_AD_CERTIFICATE_REVOKED:
	case SSL_AD_CERTIFICATE_EXPIRED:
	case SSL_AD_CERTIFICATE_UNKNOWN:
	case SSL_AD_UNKNOWN_CA:
	case SSL_AD_ACCESS_DENIED:
		return TRUE;
	default:
		return FALSE;
	}
}

/* OpenSSL 3.0 names the TLS 1.3 alert certificate_required "unknown" */
static const gchar *
ct_http_alert_name(gint alert)
{
	if (alert == SSL_AD_CERTIFICATE_REQUIRED)
		return "certificate required";
	return SSL_alert_desc_string_long(alert);
}

/* the server refused to authenticate us in the TLS handshake: permanent, not a retry */
static gboolean
ct_http_set_client_cert_error(GError **error, const CtHttpTransfer *t, const gchar *host)
{
	const gchar *alert;
	if (!t->peer_alert_seen)
		return FALSE;
	alert = ct_http_alert_name(t->peer_alert);
	if (t->client_cert_file != NULL && ct_http_is_client_cert_alert(t->peer_alert)) {
		g_set_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED,
		            "%s refused the TLS client certificate %s (TLS alert: %s): the service "
		            "must trust its issuer, and it must be valid and meant for client "
		            "authentication",
		            host, t->client_cert_file, alert);
		return TRUE;
	}
	if (t->client_cert_file == NULL && t->peer_alert == SSL_AD_CERTIFICATE_REQUIRED) {
		g_set_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED,
		            "%s requires a TLS client certificate (TLS alert: %s): set [identity] "
		            "auth=certificate with client-cert and client-key",
		            host, alert);
		return TRUE;
	}
	return FALSE;
}

/* map a libcurl failure to the engine's error codes */
static void
ct_http_set_curl_error(
    GError **error, CURLcode rc, const CtHttpTransfer *t, const gchar *url, const gchar *errbuf)
{
	g_autofree gchar *host = ct_http_url_host(url);
	const gchar *detail = errbuf != NULL && errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc);

	/* a failed chain check may surface as several codes; the callback knows */
	if (t->verify_seen && !t->verify_ok) {
		g_autofree gchar *msg = ct_http_describe_verify_failure(t, host);
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED, msg);
		return;
	}
	if (ct_http_set_client_cert_error(error, t, host))
		return;
	switch (rc) {
	case CURLE_ABORTED_BY_CALLBACK:
		g_set_error(error, CT_ERROR, CT_ERROR_CANCELLED, "request to %s cancelled", host);
		return;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		if (t->too_large || rc == CURLE_FILESIZE_EXCEEDED) {
			g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
			            "response too large: %s sent more than %" G_GSIZE_FORMAT
			            " bytes",
			            host, t->max_body);
			return;
		}
		break;
	case CURLE_OPERATION_TIMEDOUT:
		g_set_error(error, CT_ERROR, CT_ERROR_TIMEOUT, "%s did not answer in time: %s",
		            host, detail);
		return;
	case CURLE_PEER_FAILED_VERIFICATION:
		g_set_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		            "the TLS certificate of %s is not valid for this host: %s", host,
		            detail);
		return;
	case CURLE_SSL_CACERT_BADFILE:
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "cannot load the trust anchors for %s: %s", host, detail);
		return;
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "cannot use the TLS client certificate or settings for %s: %s", host,
		            detail);
		return;
	case CURLE_UNSUPPORTED_PROTOCOL:
	case CURLE_URL_MALFORMAT:
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "cannot use the URL %s: %s", url,
		            detail);
		return;
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_BAD_CONTENT_ENCODING:
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s answered something that is not HTTP: %s", host, detail);
		return;
	case CURLE_OUT_OF_MEMORY:
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory talking to %s",
		            host);
		return;
	default:
		break;
	}
	/* resolve, connect, reset, TLS handshake, partial reads: a retry may help */
	g_set_error(error, CT_ERROR, CT_ERROR_UNREACHABLE, "cannot reach %s: %s", host, detail);
}

static gboolean
ct_http_append_header(struct curl_slist **list, const gchar *line, GError **error)
{
	struct curl_slist *n;
	/* a CR or LF would let a value inject more headers */
	if (strpbrk(line, "\r\n") != NULL || strchr(line, ':') == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "invalid HTTP header line");
		return FALSE;
	}
	n = curl_slist_append(*list, line);
	if (n == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
		return FALSE;
	}
	*list = n;
	return TRUE;
}

typedef struct curl_slist CtCurlSlist;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtCurlSlist, curl_slist_free_all)

/* the options every exchange shares: protocols, TLS, timeouts, callbacks */
static gboolean
ct_http_setup_common(CURL *curl,
                     CtHttpTransfer *t,
                     const gchar *url,
                     const gchar *ca_file,
                     guint timeout_s,
                     gchar *errbuf,
                     GError **error)
{
	CURLcode rc = CURLE_OK;

	if (ca_file != NULL && ca_file[0] != '\0') {
		t->extra_anchors = ct_x509_load_pem_file(ca_file, error);
		if (t->extra_anchors == NULL)
			return FALSE;
	}
	if (timeout_s == 0)
		timeout_s = CT_HTTP_DEFAULT_TIMEOUT_S;

#define SET(opt, val)                                                                              \
	if (rc == CURLE_OK)                                                                        \
	rc = curl_easy_setopt(curl, opt, val)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_PROTOCOLS_STR, "http,https");
	/* redirects are not followed: a service URL must be the final one */
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "https");
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	/* the store is modified per connection: never share or cache it */
	SET(CURLOPT_CA_CACHE_TIMEOUT, 0L);
	SET(CURLOPT_SSL_SESSIONID_CACHE, 0L);
	SET(CURLOPT_SSL_CTX_FUNCTION, ct_http_ssl_ctx_cb);
	SET(CURLOPT_SSL_CTX_DATA, t);
	SET(CURLOPT_TIMEOUT, (long)timeout_s);
	SET(CURLOPT_CONNECTTIMEOUT, (long)MIN(timeout_s, CT_HTTP_CONNECT_TIMEOUT_S));
	SET(CURLOPT_NOPROGRESS, 0L);
	SET(CURLOPT_XFERINFOFUNCTION, ct_http_xferinfo_cb);
	SET(CURLOPT_XFERINFODATA, t);
	SET(CURLOPT_USERAGENT, "certtether/" CT_VERSION);
	/* never CURLOPT_VERBOSE: it would print Authorization headers */
	SET(CURLOPT_VERBOSE, 0L);
#undef SET
	if (rc != CURLE_OK) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "libcurl refused an option: %s",
		            curl_easy_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/* the authentication options; Basic and client certificates only over https */
static gboolean
ct_http_setup_auth(CURL *curl, const CtHttpRequest *request, gboolean is_https, GError **error)
{
	CURLcode rc = CURLE_OK;
	switch (request->auth) {
	case CT_HTTP_AUTH_NONE:
		return TRUE;
	case CT_HTTP_AUTH_NEGOTIATE:
		/* libcurl only attempts SPNEGO when a (here empty) user is set */
		rc = curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_NEGOTIATE);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_USERPWD, ":");
		break;
	case CT_HTTP_AUTH_BASIC:
		if (!is_https) {
			g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
			            "refusing to send the password of %s over plain http to %s: "
			            "use an https URL",
			            request->username != NULL ? request->username : "the user",
			            request->url);
			return FALSE;
		}
		if (request->username == NULL || request->password == NULL) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			                    "no user name or password for Basic authentication");
			return FALSE;
		}
		/* exactly Basic: no negotiation that could fall back to something weaker */
		rc = curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_USERNAME, request->username);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_PASSWORD, request->password);
		break;
	case CT_HTTP_AUTH_CLIENT_CERT:
		if (!is_https) {
			g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
			            "a TLS client certificate needs an https URL, not %s",
			            request->url);
			return FALSE;
		}
		if (request->client_cert_file == NULL || request->client_key_file == NULL) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			                    "no client certificate or key file given");
			return FALSE;
		}
		rc = curl_easy_setopt(curl, CURLOPT_SSLCERT, request->client_cert_file);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_SSLCERTTYPE, "PEM");
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_SSLKEY, request->client_key_file);
		if (rc == CURLE_OK)
			rc = curl_easy_setopt(curl, CURLOPT_SSLKEYTYPE, "PEM");
		break;
	default:
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "unknown HTTP auth %d",
		            (gint)request->auth);
		return FALSE;
	}
	if (rc != CURLE_OK) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
		            "libcurl refused the authentication options: %s",
		            curl_easy_strerror(rc));
		return FALSE;
	}
	return TRUE;
}

/*
 * libcurl's SPNEGO takes the default credentials of the calling thread: name the
 * request's ticket cache for this thread only (MIT keeps the name per thread),
 * and give the thread back its default afterwards (the pool thread serves others)
 */
static gboolean
ct_http_ccache_enter(const CtHttpRequest *request, GError **error)
{
	OM_uint32 major, minor = 0;
	if (request->auth != CT_HTTP_AUTH_NEGOTIATE || request->krb5_ccache == NULL)
		return TRUE;
	major = gss_krb5_ccache_name(&minor, request->krb5_ccache, NULL);
	if (GSS_ERROR(major)) {
		g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		            "cannot use the Kerberos ticket cache %s", request->krb5_ccache);
		return FALSE;
	}
	return TRUE;
}

static void
ct_http_ccache_leave(const CtHttpRequest *request)
{
	OM_uint32 minor = 0;
	if (request->auth != CT_HTTP_AUTH_NEGOTIATE || request->krb5_ccache == NULL)
		return;
	(void)gss_krb5_ccache_name(&minor, NULL, NULL);
}

CtHttpResponse *
ct_http_perform(const CtHttpRequest *request, GCancellable *cancellable, GError **error)
{
	g_autoptr(CURL) curl = NULL;
	g_autoptr(CtCurlSlist) headers = NULL;
	g_auto(CtHttpTransfer) t = {0};
	g_autoptr(CtHttpResponse) response = NULL;
	gchar errbuf[CURL_ERROR_SIZE] = {0};
	gboolean is_https = FALSE;
	gboolean is_post;
	CURLcode rc;
	long status = 0;
	const char *ctype = NULL;
	gsize body_len = 0;
	const gchar *body_data = NULL;

	g_return_val_if_fail(request != NULL, NULL);

	if (!ct_http_global_init(error))
		return NULL;
	if (!ct_http_check_url(request->url, &is_https, error))
		return NULL;
	is_post = request->body != NULL || g_strcmp0(request->method, "POST") == 0;
	if (request->method != NULL && g_strcmp0(request->method, "GET") != 0 &&
	    g_strcmp0(request->method, "POST") != 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "unsupported HTTP method %s",
		            request->method);
		return NULL;
	}
	if (g_cancellable_is_cancelled(cancellable)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CANCELLED, "cancelled");
		return NULL;
	}

	curl = curl_easy_init();
	if (curl == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot create a libcurl handle");
		return NULL;
	}
	t.cancellable = cancellable;
	t.max_body = request->max_body != 0 ? request->max_body : CT_HTTP_DEFAULT_MAX_BODY;
	t.body = g_byte_array_new();
	if (request->auth == CT_HTTP_AUTH_CLIENT_CERT)
		t.client_cert_file = request->client_cert_file;
	if (!ct_http_setup_common(curl, &t, request->url, request->ca_file, request->timeout_s,
	                          errbuf, error))
		return NULL;
	if (!ct_http_setup_auth(curl, request, is_https, error))
		return NULL;

	/* no "Expect: 100-continue" round trip before a POST body */
	if (!ct_http_append_header(&headers, "Expect:", error))
		return NULL;
	if (request->content_type != NULL) {
		g_autofree gchar *line = g_strdup_printf("Content-Type: %s", request->content_type);
		if (!ct_http_append_header(&headers, line, error))
			return NULL;
	}
	for (guint i = 0; request->headers != NULL && request->headers[i] != NULL; i++) {
		if (!ct_http_append_header(&headers, request->headers[i], error))
			return NULL;
	}
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, ct_http_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);
	curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)t.max_body);
	if (is_post) {
		if (request->body != NULL)
			body_data = g_bytes_get_data(request->body, &body_len);
		curl_easy_setopt(curl, CURLOPT_POST, 1L);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
		curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body_data != NULL ? body_data : "");
	} else {
		curl_easy_setopt(curl, CURLOPT_HTTPGET, 1L);
	}

	g_debug("HTTP %s %s", is_post ? "POST" : "GET", request->url);
	if (!ct_http_ccache_enter(request, error))
		return NULL;
	rc = curl_easy_perform(curl);
	ct_http_ccache_leave(request);
	if (rc != CURLE_OK) {
		if (rc == CURLE_ABORTED_BY_CALLBACK && !g_cancellable_is_cancelled(cancellable))
			rc = CURLE_RECV_ERROR;
		ct_http_set_curl_error(error, rc, &t, request->url, errbuf);
		g_debug("HTTP %s failed: %s", request->url, curl_easy_strerror(rc));
		return NULL;
	}

	response = g_new0(CtHttpResponse, 1);
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	response->status = (guint)status;
	if (curl_easy_getinfo(curl, CURLINFO_CONTENT_TYPE, &ctype) == CURLE_OK && ctype != NULL)
		response->content_type = ct_http_quote(ctype, strlen(ctype));
	curl_easy_getinfo(curl, CURLINFO_TOTAL_TIME, &response->total_time_s);
	response->ms_diagnostics = ct_http_get_header(curl, "X-Ms-diagnostics");
	response->retry_after = ct_http_get_header(curl, "Retry-After");
	if (request->auth != CT_HTTP_AUTH_NONE)
		response->auth_user = g_strdup(request->username);
	response->peer_chain = g_steal_pointer(&t.peer_chain);
	response->body = g_byte_array_free_to_bytes(g_steal_pointer(&t.body));
	g_debug("HTTP %s: %u, %" G_GSIZE_FORMAT " bytes in %.3f s", request->url, response->status,
	        g_bytes_get_size(response->body), response->total_time_s);
	return g_steal_pointer(&response);
}

gdouble
ct_http_response_get_retry_after(const CtHttpResponse *response)
{
	g_autofree gchar *value = NULL;
	gdouble secs;
	if (response == NULL || response->retry_after == NULL)
		return -1;
	value = g_strstrip(g_strdup(response->retry_after));
	if (value[0] == '\0')
		return -1;
	if (g_ascii_isdigit(value[0])) {
		guint64 n = 0;
		if (!g_ascii_string_to_unsigned(value, 10, 0, G_MAXUINT32, &n, NULL))
			return -1;
		secs = (gdouble)n;
	} else {
		/* an HTTP date (RFC 9110); libcurl has the parser */
		time_t when = curl_getdate(value, NULL);
		if (when == -1)
			return -1;
		secs = MAX(difftime(when, time(NULL)), 0.0);
	}
	return MIN(secs, 86400.0);
}

void
ct_http_status_to_error(const CtHttpResponse *response, const gchar *what, GError **error)
{
	g_autofree gchar *detail = NULL;
	g_autofree gchar *diag = NULL;
	guint status;
	const gchar *ctx = what != NULL ? what : "the request";

	g_return_if_fail(response != NULL);
	status = response->status;
	if (status >= 200 && status < 300)
		return;

	if (response->ms_diagnostics != NULL)
		diag = g_strdup_printf(" (server diagnostics: %s)", response->ms_diagnostics);
	/* a short plain-text body usually says why (e.g. "bad CSR") */
	if (response->body != NULL && g_bytes_get_size(response->body) > 0 &&
	    response->content_type != NULL &&
	    g_str_has_prefix(response->content_type, "text/plain")) {
		gsize len = 0;
		const gchar *data = g_bytes_get_data(response->body, &len);
		g_autofree gchar *q = ct_http_quote(data, len);
		if (q[0] != '\0')
			detail = g_strdup_printf(": %s", q);
	}
#define TAIL detail != NULL ? detail : "", diag != NULL ? diag : ""
	if (status == 401 || status == 403) {
		if (response->auth_user != NULL)
			g_set_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED,
			            "%s: the server refused the credentials of %s (HTTP %u)%s%s",
			            ctx, response->auth_user, status, TAIL);
		else
			g_set_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED,
			            "%s: the server refused the credentials (HTTP %u)%s%s", ctx,
			            status, TAIL);
	} else if (status == 503 || status == 429) {
		g_set_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE,
		            "%s: the service is unavailable for now (HTTP %u)%s%s", ctx, status,
		            TAIL);
	} else if (status == 502 || status == 504) {
		g_set_error(error, CT_ERROR, CT_ERROR_UNREACHABLE,
		            "%s: a gateway could not reach the service (HTTP %u)%s%s", ctx, status,
		            TAIL);
	} else if (status == 501) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED,
		            "%s: the service does not implement this (HTTP %u)%s%s", ctx, status,
		            TAIL);
	} else if (status >= 500 && status < 600) {
		g_set_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE,
		            "%s: the service failed (HTTP %u)%s%s", ctx, status, TAIL);
	} else if (status >= 300 && status < 400) {
		g_set_error(error, CT_ERROR, CT_ERROR_REJECTED,
		            "%s: the service redirected (HTTP %u), which certtether does not "
		            "follow: configure the final URL",
		            ctx, status);
	} else if (status == 404) {
		g_set_error(error, CT_ERROR, CT_ERROR_REJECTED,
		            "%s: not found on the service (HTTP 404): check the URL%s%s", ctx,
		            TAIL);
	} else if (status >= 400 && status < 500) {
		g_set_error(error, CT_ERROR, CT_ERROR_REJECTED,
		            "%s: the service refused the request (HTTP %u)%s%s", ctx, status, TAIL);
	} else {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "%s: unexpected HTTP status %u%s%s",
		            ctx, status, TAIL);
	}
#undef TAIL
}

gboolean
ct_http_probe_tls_chain_full(const gchar *url,
                             const gchar *ca_file,
                             guint timeout_s,
                             GCancellable *cancellable,
                             STACK_OF(X509) * *presented_chain,
                             gboolean *verified,
                             gchar **verify_message,
                             GError **error)
{
	g_autoptr(CURL) curl = NULL;
	g_auto(CtHttpTransfer) t = {0};
	gchar errbuf[CURL_ERROR_SIZE] = {0};
	gboolean is_https = FALSE;
	CURLcode rc;

	if (!ct_http_global_init(error))
		return FALSE;
	if (!ct_http_check_url(url, &is_https, error))
		return FALSE;
	if (!is_https) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s is not an https URL: there is no TLS chain to check", url);
		return FALSE;
	}
	curl = curl_easy_init();
	if (curl == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot create a libcurl handle");
		return FALSE;
	}
	t.cancellable = cancellable;
	t.max_body = 1;
	t.body = g_byte_array_new();
	if (!ct_http_setup_common(curl, &t, url, ca_file, timeout_s, errbuf, error))
		return FALSE;
	/* connect and shake hands only: the verification callback records the chain */
	curl_easy_setopt(curl, CURLOPT_CONNECT_ONLY, 1L);
	rc = curl_easy_perform(curl);

	if (rc != CURLE_OK && !(t.verify_seen && t.peer_chain != NULL)) {
		ct_http_set_curl_error(error, rc, &t, url, errbuf);
		return FALSE;
	}
	if (!t.verify_seen || t.peer_chain == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%s completed a TLS handshake without presenting a certificate", url);
		return FALSE;
	}
	if (verified != NULL)
		*verified = rc == CURLE_OK;
	if (verify_message != NULL) {
		*verify_message = NULL;
		if (rc != CURLE_OK) {
			g_autoptr(GError) why = NULL;
			ct_http_set_curl_error(&why, rc, &t, url, errbuf);
			*verify_message = g_strdup(why->message);
		}
	}
	if (presented_chain != NULL)
		*presented_chain = g_steal_pointer(&t.peer_chain);
	return TRUE;
}

gboolean
ct_http_probe_tls_chain(const gchar *url,
                        const gchar *ca_file,
                        STACK_OF(X509) * *presented_chain,
                        gboolean *verified,
                        GError **error)
{
	return ct_http_probe_tls_chain_full(url, ca_file, 0, NULL, presented_chain, verified, NULL,
	                                    error);
}
