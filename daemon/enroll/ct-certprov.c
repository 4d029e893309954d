#include "daemon/enroll/ct-certprov.h"

#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-http.h"
#include "daemon/enroll/ct-soap.h"
#include "daemon/enroll/ct-wstrust-crypto.h"

/* the documented paths, used when /mex is missing or says nothing useful */
#define CT_CERTPROV_SERVICE_PATH  "/CertProv/CertProvisioningService.svc"
#define CT_CERTPROV_PROOF_SUFFIX  "/WebTicket_Proof"
#define CT_WEBTICKET_SERVICE_PATH "/WebTicket/WebTicketService.svc"
#define CT_WEBTICKET_NEGOTIATE    "/WinNegotiate"
/* our fixture's anonymous chain download (unconfirmed on real servers) */
#define CT_CERTPROV_CHAIN_SUFFIX "/certchain"

struct _CtCertprov {
	CtEnrollBackend parent_instance;
	GMutex mutex;
	gchar *web_ticket_url; /* [service] web-ticket-url, or NULL */
};

G_DEFINE_TYPE(CtCertprov, ct_certprov, CT_TYPE_ENROLL_BACKEND)

/* where one submission goes */
typedef struct {
	gchar *service_url; /* the CertProv service (…/CertProvisioningService.svc) */
	gchar *proof_url;   /* GetAndPublishCert (…/WebTicket_Proof) */
	gchar *ticket_url;  /* the Web Ticket service's Negotiate port (…/WinNegotiate) */
} CtCertprovEndpoints;

static void
ct_certprov_endpoints_clear(CtCertprovEndpoints *ep)
{
	g_clear_pointer(&ep->service_url, g_free);
	g_clear_pointer(&ep->proof_url, g_free);
	g_clear_pointer(&ep->ticket_url, g_free);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtCertprovEndpoints, ct_certprov_endpoints_clear)

/*
 * URLs
 */

/* the configured URL as the service URL: no trailing '/', a bare host gets the documented path */
static gchar *
ct_certprov_service_url(const gchar *url, GError **error)
{
	g_autoptr(GUri) uri = NULL;
	g_autofree gchar *path = NULL;
	const gchar *scheme;

	uri = url != NULL ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;
	scheme = uri != NULL ? g_uri_get_scheme(uri) : NULL;
	if (uri == NULL || scheme == NULL ||
	    (g_ascii_strcasecmp(scheme, "https") != 0 && g_ascii_strcasecmp(scheme, "http") != 0) ||
	    g_uri_get_host(uri) == NULL || g_uri_get_query(uri) != NULL ||
	    g_uri_get_fragment(uri) != NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "the CertProv URL \"%s\" is not an http(s) URL without query: use "
		            "https://POOL" CT_CERTPROV_SERVICE_PATH,
		            url != NULL ? url : "");
		return NULL;
	}
	path = g_strdup(g_uri_get_path(uri));
	while (g_str_has_suffix(path, "/"))
		path[strlen(path) - 1] = '\0';
	if (path[0] == '\0') {
		g_free(path);
		path = g_strdup(CT_CERTPROV_SERVICE_PATH);
	}
	return g_uri_join(G_URI_FLAGS_NONE, scheme, NULL, g_uri_get_host(uri), g_uri_get_port(uri),
	                  path, NULL, NULL);
}

/* scheme://host[:port] of @url followed by @path */
static gchar *
ct_certprov_same_origin(const gchar *url, const gchar *path)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL)
		return NULL;
	return g_uri_join(G_URI_FLAGS_NONE, g_uri_get_scheme(uri), NULL, g_uri_get_host(uri),
	                  g_uri_get_port(uri), path, NULL, NULL);
}

static gboolean
ct_certprov_is_https(const gchar *url)
{
	return url != NULL && g_ascii_strncasecmp(url, "https:", 6) == 0;
}

/* metadata may not move a https service to plain http */
static gboolean
ct_certprov_check_no_downgrade(const gchar *configured,
                               const gchar *found,
                               const gchar *what,
                               GError **error)
{
	if (ct_certprov_is_https(configured) && !ct_certprov_is_https(found)) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the metadata of %s points %s to %s: refusing to leave https",
		            configured, what, found);
		return FALSE;
	}
	return TRUE;
}

/*
 * HTTP
 */

static CtHttpResponse *
ct_certprov_get(CtCertprov *self,
                const gchar *url,
                gboolean authenticate,
                gsize max_body,
                GCancellable *cancellable,
                GError **error)
{
	CtHttpRequest request = {
	    .url = url,
	    .method = "GET",
	    .max_body = max_body,
	};
	ct_enroll_backend_prepare_request(CT_ENROLL_BACKEND(self), &request, authenticate);
	return ct_http_perform(&request, cancellable, error);
}

/* a SOAP 1.1 POST; the body stays the caller's */
static CtHttpResponse *
ct_certprov_post(CtCertprov *self,
                 const gchar *url,
                 const gchar *soap_action,
                 GBytes *body,
                 gboolean authenticate,
                 GCancellable *cancellable,
                 GError **error)
{
	g_autofree gchar *action = g_strdup_printf("SOAPAction: \"%s\"", soap_action);
	const gchar *headers[] = {action, NULL};
	CtHttpRequest request = {
	    .url = url,
	    .method = "POST",
	    .body = body,
	    .content_type = CT_SOAP_CONTENT_TYPE,
	    .headers = headers,
	    .max_body = CT_SOAP_MAX_DOCUMENT,
	};
	ct_enroll_backend_prepare_request(CT_ENROLL_BACKEND(self), &request, authenticate);
	return ct_http_perform(&request, cancellable, error);
}

/* a failure of the transport itself: asking elsewhere on the same server would fail too */
static gboolean
ct_certprov_is_transport_error(const GError *error)
{
	return error->domain != CT_ERROR || error->code != CT_ERROR_PROTOCOL;
}

static const gchar *
ct_certprov_principal(CtCertprov *self, const CtHttpResponse *response)
{
	CtCredentials *credentials = ct_enroll_backend_get_credentials(CT_ENROLL_BACKEND(self));
	const gchar *principal =
	    credentials != NULL ? ct_credentials_get_principal(credentials) : NULL;
	if (principal == NULL && response != NULL)
		principal = response->auth_user;
	return principal;
}

/* a non-2xx answer or a SOAP fault: the server's account of it, as a CT_ERROR */
static gboolean
ct_certprov_check_answer(CtCertprov *self,
                         const CtHttpResponse *response,
                         const gchar *what,
                         GError **error)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(response->body, &len);

	if (response->status >= 200 && response->status < 300 &&
	    !ct_soap_parse_fault(data, len, NULL))
		return TRUE;
	if (response->status == 429 || response->status == 503)
		ct_enroll_backend_note_retry_after(CT_ENROLL_BACKEND(self), response);
	ct_soap_set_error(response->status, response->ms_diagnostics, data, len, what,
	                  ct_certprov_principal(self, response), error);
	return FALSE;
}

/*
 * 1. Discovery
 */

typedef enum {
	CT_CERTPROV_MEX_OK,       /* the port (and maybe the issuer) is known */
	CT_CERTPROV_MEX_FALLBACK, /* no usable /mex: the documented path will do */
	CT_CERTPROV_MEX_FAILED,   /* the server cannot be reached at all */
} CtCertprovMexResult;

static CtCertprovMexResult
ct_certprov_read_mex(CtCertprov *self,
                     const gchar *service_url,
                     const gchar *port,
                     CtSoapMex *mex,
                     gchar **why,
                     GCancellable *cancellable,
                     GError **error)
{
	g_autofree gchar *mex_url = g_strconcat(service_url, "/mex", NULL);
	g_autoptr(CtHttpResponse) response = NULL;
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;
	const guint8 *data;

	response =
	    ct_certprov_get(self, mex_url, FALSE, CT_SOAP_MAX_DOCUMENT, cancellable, &error_local);
	/* metadata is anonymous on the servers we know; if not, ask again as the user */
	if (response != NULL && response->status == 401) {
		g_clear_pointer(&response, ct_http_response_free);
		response = ct_certprov_get(self, mex_url, TRUE, CT_SOAP_MAX_DOCUMENT, cancellable,
		                           &error_local);
	}
	if (response == NULL) {
		if (ct_certprov_is_transport_error(error_local)) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			return CT_CERTPROV_MEX_FAILED;
		}
		*why = g_strdup(error_local->message);
		return CT_CERTPROV_MEX_FALLBACK;
	}
	if (response->status < 200 || response->status >= 300) {
		*why = g_strdup_printf("%s answered HTTP %u", mex_url, response->status);
		return CT_CERTPROV_MEX_FALLBACK;
	}
	data = g_bytes_get_data(response->body, &len);
	if (!ct_soap_parse_mex(data, len, port, mex, &error_local)) {
		*why = g_strdup_printf("%s: %s", mex_url, error_local->message);
		return CT_CERTPROV_MEX_FALLBACK;
	}
	return CT_CERTPROV_MEX_OK;
}

/*
 * The "discover" step for one service: the address of @port from the service's
 * /mex (with @issuer, also the Web Ticket issuer its policy names, or NULL),
 * else, without usable metadata, the documented @service + @fallback_path.
 * NULL when the server cannot be reached or its metadata would leave https
 * (@what names the address in that message).
 */
static gchar *
ct_certprov_discover_port(CtCertprov *self,
                          const gchar *service,
                          const gchar *port,
                          const gchar *what,
                          const gchar *fallback_path,
                          gchar **issuer,
                          GCancellable *cancellable,
                          GError **error)
{
	g_autofree gchar *mex_url = g_strconcat(service, "/mex", NULL);
	g_autofree gchar *why = NULL;
	g_autofree gchar *address = NULL;
	g_autoptr(GError) error_local = NULL;
	CtSoapMex mex = {0};
	gint64 t0 = g_get_monotonic_time();

	switch (ct_certprov_read_mex(self, service, port, &mex, &why, cancellable, &error_local)) {
	case CT_CERTPROV_MEX_OK:
		if (!ct_certprov_check_no_downgrade(service, mex.port_address, what,
		                                    &error_local) ||
		    (issuer != NULL && mex.issuer_address != NULL &&
		     !ct_certprov_check_no_downgrade(service, mex.issuer_address, "the web ticket",
		                                     &error_local)))
			break;
		address = g_steal_pointer(&mex.port_address);
		if (issuer != NULL && mex.issuer_address == NULL)
			g_info(
			    "%s names no web ticket issuer in %s_policy: using the documented path",
			    mex_url, port);
		if (issuer != NULL)
			*issuer = g_steal_pointer(&mex.issuer_address);
		break;
	case CT_CERTPROV_MEX_FALLBACK:
		g_info("no usable metadata at %s (%s): using the documented path", mex_url, why);
		address = g_strconcat(service, fallback_path, NULL);
		break;
	case CT_CERTPROV_MEX_FAILED:
		break;
	}
	ct_soap_mex_clear(&mex);
	ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "discover", mex_url, t0, error_local);
	if (address == NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	g_debug("%s address: %s", what, address);
	return g_steal_pointer(&address);
}

/*
 * The CertProv /mex: where to post GetAndPublishCert, and which Web Ticket service
 * to ask; then that service's /mex: the address of its Negotiate port.
 */
static gboolean
ct_certprov_discover(CtCertprov *self,
                     CtCertprovEndpoints *ep,
                     GCancellable *cancellable,
                     GError **error)
{
	g_autofree gchar *override = NULL;
	g_autofree gchar *webticket_service = NULL;

	g_mutex_lock(&self->mutex);
	override = g_strdup(self->web_ticket_url);
	g_mutex_unlock(&self->mutex);

	ep->proof_url = ct_certprov_discover_port(self, ep->service_url, CT_CERTPROV_PROOF_PORT,
	                                          "GetAndPublishCert", CT_CERTPROV_PROOF_SUFFIX,
	                                          &webticket_service, cancellable, error);
	if (ep->proof_url == NULL)
		return FALSE;
	if (override != NULL) {
		g_free(webticket_service);
		webticket_service = g_steal_pointer(&override);
		/* anything but a service URL is the address to post to */
		if (!g_str_has_suffix(webticket_service, ".svc") &&
		    !g_str_has_suffix(webticket_service, ".svc/")) {
			ep->ticket_url = g_steal_pointer(&webticket_service);
			return TRUE;
		}
	}
	if (webticket_service == NULL)
		webticket_service =
		    ct_certprov_same_origin(ep->service_url, CT_WEBTICKET_SERVICE_PATH);
	while (g_str_has_suffix(webticket_service, "/"))
		webticket_service[strlen(webticket_service) - 1] = '\0';
	ep->ticket_url = ct_certprov_discover_port(
	    self, webticket_service, CT_WEBTICKET_NEGOTIATE_PORT, "the web ticket request",
	    CT_WEBTICKET_NEGOTIATE, NULL, cancellable, error);
	return ep->ticket_url != NULL;
}

/*
 * 2. The web ticket
 */

static CtWebTicket *
ct_certprov_get_web_ticket(CtCertprov *self,
                           const CtCertprovEndpoints *ep,
                           const gchar *sip_uri,
                           GBytes *client_entropy,
                           GCancellable *cancellable,
                           GError **error)
{
	CtCredentials *credentials = ct_enroll_backend_get_credentials(CT_ENROLL_BACKEND(self));
	g_autofree gchar *what = g_strdup_printf("the Web Ticket service at %s", ep->ticket_url);
	g_autoptr(GBytes) body = NULL;
	g_autoptr(CtHttpResponse) response = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(CtWebTicket) ticket = NULL;
	gint64 t0 = g_get_monotonic_time();
	gsize len = 0;
	const guint8 *data;

	body = ct_soap_build_webticket_request(ep->proof_url, sip_uri, client_entropy, NULL,
	                                       &error_local);
	if (body != NULL)
		response = ct_certprov_post(self, ep->ticket_url, CT_SOAP_ACTION_RST_ISSUE, body,
		                            TRUE, cancellable, &error_local);
	if (response != NULL && ct_certprov_check_answer(self, response, what, &error_local)) {
		data = g_bytes_get_data(response->body, &len);
		ticket = ct_soap_parse_webticket_response(data, len, &error_local);
		if (ticket == NULL)
			g_prefix_error(&error_local, "%s: ", what);
	}
	if (ticket == NULL) {
		/* a refused password must not be offered again */
		if (g_error_matches(error_local, CT_ERROR, CT_ERROR_AUTH_FAILED) &&
		    ct_credentials_get_method_in_use(credentials) == CT_AUTH_METHOD_BASIC)
			ct_credentials_forget_password(credentials);
		ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "web-ticket", ep->ticket_url,
		                            t0, error_local);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "web-ticket", ep->ticket_url, t0,
	                            NULL);
	return g_steal_pointer(&ticket);
}

/*
 * 4./5. GetAndPublishCert and its answer
 */

/*
 * The issued certificate among those returned: the one with the CSR's key (a
 * PKCS#7 bundle also carries the chain), else the first that is not a CA. If
 * its key is not the CSR's, the verifier refuses it later with that reason.
 */
static gboolean
ct_certprov_split_certs(CtX509Stack *certs, GBytes *csr_der, X509 **leaf, CtX509Stack **extra)
{
	const guint8 *p = g_bytes_get_data(csr_der, NULL);
	g_autoptr(X509_REQ) csr = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr_der));
	EVP_PKEY *csr_key = csr != NULL ? X509_REQ_get0_pubkey(csr) : NULL;
	gint n = sk_X509_num(certs);
	gint idx = -1;

	for (gint i = 0; csr_key != NULL && i < n && idx < 0; i++) {
		EVP_PKEY *key = X509_get0_pubkey(sk_X509_value(certs, i));
		if (key != NULL && EVP_PKEY_eq(key, csr_key) == 1)
			idx = i;
	}
	for (gint i = 0; i < n && idx < 0; i++) {
		if (X509_check_ca(sk_X509_value(certs, i)) == 0)
			idx = i;
	}
	if (idx < 0)
		idx = 0;
	*extra = sk_X509_new_null();
	for (gint i = 0; i < n; i++) {
		X509 *c = sk_X509_value(certs, i);
		if (!X509_up_ref(c))
			return FALSE;
		if (i == idx)
			*leaf = c;
		else if (!sk_X509_push(*extra, c)) {
			X509_free(c);
			return FALSE;
		}
	}
	return TRUE;
}

static CtEnrollResponse *
ct_certprov_get_and_publish_cert(CtCertprov *self,
                                 const CtCertprovEndpoints *ep,
                                 const CtEnrollRequest *request,
                                 const CtWebTicket *ticket,
                                 GBytes *proof_key,
                                 GCancellable *cancellable,
                                 GError **error)
{
	g_autofree gchar *what = g_strdup_printf("CertProv GetAndPublishCert at %s", ep->proof_url);
	g_autoptr(GBytes) body = NULL;
	g_autoptr(CtHttpResponse) response = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GBytes) token = NULL;
	g_autoptr(CtX509Stack) certs = NULL;
	g_autoptr(CtEnrollResponse) out = NULL;
	gint64 t0 = g_get_monotonic_time();
	CtGetAndPublishCertParams params = {
	    .to = ep->proof_url,
	    .ticket = ticket,
	    .proof_key = proof_key,
	    .device_id = request->device_id,
	    .entity = request->sip_uri + strlen("sip:"),
	    .csr_der = request->csr_der,
	    /* the caller's idempotency key; NULL makes a fresh one */
	    .request_id = request->request_id,
	};

	body = ct_soap_build_get_and_publish_cert(&params, &error_local);
	if (body != NULL)
		response =
		    ct_certprov_post(self, ep->proof_url, CT_SOAP_ACTION_GET_AND_PUBLISH_CERT, body,
		                     FALSE, cancellable, &error_local);
	if (response != NULL && ct_certprov_check_answer(self, response, what, &error_local)) {
		gsize len = 0;
		const guint8 *data = g_bytes_get_data(response->body, &len);
		token = ct_soap_parse_get_and_publish_cert_response(data, len, &error_local);
		if (token != NULL)
			certs = ct_x509_certs_from_der_any(g_bytes_get_data(token, NULL),
			                                   g_bytes_get_size(token), &error_local);
		if (certs == NULL)
			g_prefix_error(&error_local, "%s: ", what);
	}
	if (certs != NULL) {
		out = g_new0(CtEnrollResponse, 1);
		if (!ct_certprov_split_certs(certs, request->csr_der, &out->certificate,
		                             &out->extra)) {
			g_set_error_literal(&error_local, CT_ERROR, CT_ERROR_INTERNAL,
			                    "out of memory");
			g_clear_pointer(&out, ct_enroll_response_free);
		}
	}
	if (out == NULL) {
		ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "enroll", ep->proof_url, t0,
		                            error_local);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	out->service_tls_chain = response->peer_chain != NULL
	                             ? g_steal_pointer(&response->peer_chain)
	                             : sk_X509_new_null();
	ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "enroll", ep->proof_url, t0, NULL);
	return g_steal_pointer(&out);
}

/*
 * The backend's methods
 */

static CtEnrollResponse *
ct_certprov_submit(CtEnrollBackend *base,
                   const CtEnrollRequest *request,
                   GCancellable *cancellable,
                   GError **error)
{
	CtCertprov *self = CT_CERTPROV(base);
	CtCredentials *credentials;
	g_auto(CtCertprovEndpoints) ep = {0};
	g_autoptr(GBytes) client_entropy = NULL;
	g_autoptr(CtWebTicket) ticket = NULL;
	g_autoptr(GBytes) proof_key = NULL;

	if (request->sip_uri == NULL || g_ascii_strncasecmp(request->sip_uri, "sip:", 4) != 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "CertProv needs the user's sip: URI");
		return NULL;
	}
	ep.service_url = ct_certprov_service_url(ct_enroll_backend_get_url(base), error);
	if (ep.service_url == NULL)
		return NULL;
	/* before any network: without credentials there is nothing to ask for */
	credentials = ct_enroll_backend_ensure_credentials(base, ep.service_url, error);
	if (credentials == NULL)
		return NULL;
	/* the Web Ticket service authenticates with WinNegotiate (Kerberos, or Basic) only */
	if (ct_credentials_get_method_in_use(credentials) == CT_AUTH_METHOD_CERTIFICATE) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED,
		                    "CertProv authenticates with Kerberos or a password, not with "
		                    "a TLS client certificate: set [identity] auth to auto, "
		                    "negotiate or basic, or use [service] protocol=est");
		return NULL;
	}

	/* 1. where the services are */
	if (!ct_certprov_discover(self, &ep, cancellable, error))
		return NULL;

	/* 2. a web ticket for the WebTicket_Proof address, with fresh client entropy */
	client_entropy = ct_wstrust_random(CT_WSTRUST_ENTROPY_LEN, error);
	if (client_entropy == NULL)
		return NULL;
	ticket = ct_certprov_get_web_ticket(self, &ep, request->sip_uri, client_entropy,
	                                    cancellable, error);
	if (ticket == NULL)
		return NULL;

	/* 3. the proof key both sides compute */
	proof_key = ct_wstrust_proof_key(client_entropy, ticket->server_entropy, error);
	if (proof_key == NULL) {
		g_prefix_error(error, "the web ticket's proof key: ");
		return NULL;
	}

	/* 4. + 5. sign, send, read the certificate */
	return ct_certprov_get_and_publish_cert(self, &ep, request, ticket, proof_key, cancellable,
	                                        error);
}

/*
 * The anonymous chain download is this project's test fixture's assumption: the
 * real service's message for it is unconfirmed. A server without it (any 4xx,
 * or an answer that is not a certificate bundle) gives an empty list, and the
 * verifier builds the chain from the answer and AIA caIssuers instead.
 */
static STACK_OF(X509) *
    ct_certprov_fetch_ca_certs(CtEnrollBackend *base, GCancellable *cancellable, GError **error)
{
	CtCertprov *self = CT_CERTPROV(base);
	g_autofree gchar *service_url = NULL;
	g_autofree gchar *url = NULL;
	g_autoptr(CtHttpResponse) response = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(CtX509Stack) certs = NULL;
	gint64 t0 = g_get_monotonic_time();

	service_url = ct_certprov_service_url(ct_enroll_backend_get_url(base), error);
	if (service_url == NULL)
		return NULL;
	url = g_strconcat(service_url, CT_CERTPROV_CHAIN_SUFFIX, NULL);
	response = ct_certprov_get(self, url, FALSE, CT_X509_MAX_INPUT, cancellable, &error_local);
	if (response == NULL) {
		ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "ca-certs", url, t0,
		                            error_local);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (response->status >= 500) {
		ct_http_status_to_error(response, "the CertProv chain download", &error_local);
		ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "ca-certs", url, t0,
		                            error_local);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (response->status >= 200 && response->status < 300) {
		certs = ct_x509_certs_from_der_any(g_bytes_get_data(response->body, NULL),
		                                   g_bytes_get_size(response->body), &error_local);
		if (certs == NULL)
			g_info("%s is not a certificate bundle (%s): the chain will come from "
			       "AIA",
			       url, error_local->message);
	} else {
		g_info("%s answered HTTP %u: no chain download, the chain will come from AIA", url,
		       response->status);
	}
	ct_enroll_backend_step_done(CT_ENROLL_BACKEND(self), "ca-certs", url, t0, NULL);
	return certs != NULL ? g_steal_pointer(&certs) : sk_X509_new_null();
}

/*
 * Object
 */

void
ct_certprov_set_web_ticket_url(CtCertprov *self, const gchar *url)
{
	g_return_if_fail(CT_IS_CERTPROV(self));
	g_mutex_lock(&self->mutex);
	g_free(self->web_ticket_url);
	self->web_ticket_url = g_strdup(url);
	g_mutex_unlock(&self->mutex);
}

static void
ct_certprov_finalize(GObject *object)
{
	CtCertprov *self = CT_CERTPROV(object);
	g_free(self->web_ticket_url);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(ct_certprov_parent_class)->finalize(object);
}

static void
ct_certprov_class_init(CtCertprovClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	CtEnrollBackendClass *backend_class = CT_ENROLL_BACKEND_CLASS(klass);
	object_class->finalize = ct_certprov_finalize;
	backend_class->submit = ct_certprov_submit;
	backend_class->fetch_ca_certs = ct_certprov_fetch_ca_certs;
}

static void
ct_certprov_init(CtCertprov *self)
{
	g_mutex_init(&self->mutex);
}

CtEnrollBackend *
ct_certprov_new(const gchar *url, const gchar *ca_file, CtCredentials *credentials)
{
	return g_object_new(CT_TYPE_CERTPROV, "url", url, "ca-file", ca_file, "credentials",
	                    credentials, NULL);
}
