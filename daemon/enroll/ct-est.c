#include "daemon/enroll/ct-est.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "daemon/engine/ct-verify.h"

#define CT_EST_WELL_KNOWN "/.well-known/est"

struct _CtEst {
	CtEnrollBackend parent_instance;
	gchar *label;
};

G_DEFINE_TYPE(CtEst, ct_est, CT_TYPE_ENROLL_BACKEND)

enum { PROP_0, PROP_LABEL, PROP_LAST };
static GParamSpec *ct_est_props[PROP_LAST];

gchar *
ct_est_operation_url(const gchar *url, const gchar *label, const gchar *operation)
{
	g_autofree gchar *base = NULL;
	gsize len;
	g_return_val_if_fail(url != NULL, NULL);
	g_return_val_if_fail(operation != NULL, NULL);

	base = g_strdup(url);
	len = strlen(base);
	while (len > 0 && base[len - 1] == '/')
		base[--len] = '\0';
	/* the URL may already name the EST root (and a label); else it is the server */
	if (strstr(base, CT_EST_WELL_KNOWN) == NULL) {
		gchar *tmp = g_strconcat(base, CT_EST_WELL_KNOWN, NULL);
		g_free(base);
		base = tmp;
	}
	if (label != NULL && label[0] != '\0')
		return g_strdup_printf("%s/%s/%s", base, label, operation);
	return g_strdup_printf("%s/%s", base, operation);
}

static gchar *
ct_est_url(CtEst *self, const gchar *operation)
{
	return ct_est_operation_url(ct_enroll_backend_get_url(CT_ENROLL_BACKEND(self)), self->label,
	                            operation);
}

/* RFC 7030 answers 200 with a body: any other status is an error, 2xx ones included */
static GError *
ct_est_status_error(const CtHttpResponse *response, const gchar *what)
{
	GError *error = NULL;
	ct_http_status_to_error(response, what, &error);
	if (error == NULL)
		error = g_error_new(CT_ERROR, CT_ERROR_PROTOCOL,
		                    "%s: the server answered HTTP %u where RFC 7030 has 200", what,
		                    response->status);
	return error;
}

static STACK_OF(X509) *
    ct_est_fetch_ca_certs(CtEnrollBackend *backend, GCancellable *cancellable, GError **error)
{
	CtEst *self = CT_EST(backend);
	g_autofree gchar *url = ct_est_url(self, "cacerts");
	g_autoptr(CtHttpResponse) response = NULL;
	CtHttpRequest req = {.url = url, .method = "GET"};
	gsize len = 0;
	const guint8 *body;

	/* RFC 7030 4.1: /cacerts needs no client authentication */
	response = ct_enroll_backend_http(backend, &req, "ca-certs", FALSE, cancellable, error);
	if (response == NULL)
		return NULL;
	if (response->status != 200) {
		g_propagate_error(error, ct_est_status_error(response, "EST cacerts"));
		return NULL;
	}
	body = g_bytes_get_data(response->body, &len);
	return ct_est_parse_certs_response(body, len, response->content_type, error);
}

/* the issued certificate: the one with the CSR's key, else the first non-CA one */
static gint
ct_est_pick_leaf(CtX509Stack *certs, EVP_PKEY *csr_key)
{
	for (gint i = 0; i < sk_X509_num(certs); i++) {
		EVP_PKEY *k = X509_get0_pubkey(sk_X509_value(certs, i));
		if (k != NULL && csr_key != NULL && EVP_PKEY_eq(k, csr_key) == 1)
			return i;
	}
	ERR_clear_error();
	for (gint i = 0; i < sk_X509_num(certs); i++) {
		if (X509_check_ca(sk_X509_value(certs, i)) == 0)
			return i;
	}
	return 0;
}

static CtEnrollResponse *
ct_est_submit(CtEnrollBackend *backend,
              const CtEnrollRequest *request,
              GCancellable *cancellable,
              GError **error)
{
	CtEst *self = CT_EST(backend);
	const gchar *op = request->renewal ? "simplereenroll" : "simpleenroll";
	g_autofree gchar *url = ct_est_url(self, op);
	g_autofree gchar *what = g_strdup_printf("EST %s", op);
	g_autoptr(CtHttpResponse) response = NULL;
	g_autoptr(CtX509Stack) certs = NULL;
	g_autoptr(EVP_PKEY) csr_key = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(CtEnrollResponse) out = NULL;
	CtHttpRequest req = {0};
	gchar *b64;
	const guint8 *data;
	gsize len = 0;
	gint leaf;

	csr_key = ct_verify_csr_public_key(request->csr_der, error);
	if (csr_key == NULL)
		return NULL;
	data = g_bytes_get_data(request->csr_der, &len);
	b64 = g_base64_encode(data, len);
	req.url = url;
	req.method = "POST";
	req.body = g_bytes_new_take(b64, strlen(b64));
	req.content_type = "application/pkcs10";
	response = ct_enroll_backend_http(backend, &req, request->renewal ? "reenroll" : "enroll",
	                                  TRUE, cancellable, error);
	g_bytes_unref(req.body);
	if (response == NULL)
		return NULL;

	if (response->status == 202) {
		/* RFC 7030 4.2.3: accepted, certificate not ready yet (manual approval) */
		ct_enroll_backend_note_retry_after(backend, response);
		g_set_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE,
		            "%s: the server accepted the request but has not issued the "
		            "certificate yet",
		            what);
		return NULL;
	}
	if (response->status != 200) {
		error_local = ct_est_status_error(response, what);
		/* a refused password must be asked for again, not repeated */
		if (g_error_matches(error_local, CT_ERROR, CT_ERROR_AUTH_FAILED) &&
		    req.auth == CT_HTTP_AUTH_BASIC)
			ct_credentials_forget_password(ct_enroll_backend_get_credentials(backend));
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	data = g_bytes_get_data(response->body, &len);
	certs = ct_est_parse_certs_response(data, len, response->content_type, error);
	if (certs == NULL)
		return NULL;

	out = g_new0(CtEnrollResponse, 1);
	leaf = ct_est_pick_leaf(certs, csr_key);
	out->certificate = sk_X509_delete(certs, leaf);
	out->extra = g_steal_pointer(&certs);
	out->service_tls_chain = response->peer_chain != NULL
	                             ? g_steal_pointer(&response->peer_chain)
	                             : sk_X509_new_null();
	return g_steal_pointer(&out);
}

static void
ct_est_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	CtEst *self = CT_EST(object);
	switch (prop_id) {
	case PROP_LABEL:
		g_value_set_string(value, self->label);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
ct_est_set_property(GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
	CtEst *self = CT_EST(object);
	switch (prop_id) {
	case PROP_LABEL:
		g_free(self->label);
		self->label = g_value_dup_string(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
ct_est_finalize(GObject *object)
{
	CtEst *self = CT_EST(object);
	g_free(self->label);
	G_OBJECT_CLASS(ct_est_parent_class)->finalize(object);
}

static void
ct_est_class_init(CtEstClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	CtEnrollBackendClass *backend_class = CT_ENROLL_BACKEND_CLASS(klass);
	object_class->get_property = ct_est_get_property;
	object_class->set_property = ct_est_set_property;
	object_class->finalize = ct_est_finalize;
	backend_class->fetch_ca_certs = ct_est_fetch_ca_certs;
	backend_class->submit = ct_est_submit;
	ct_est_props[PROP_LABEL] = g_param_spec_string(
	    "label", NULL, "EST CA label (RFC 7030 3.2.2), or NULL", NULL,
	    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, PROP_LAST, ct_est_props);
}

static void
ct_est_init(CtEst *self)
{
	(void)self;
}

CtEnrollBackend *
ct_est_new(const gchar *url, const gchar *label, const gchar *ca_file, CtCredentials *credentials)
{
	return g_object_new(CT_TYPE_EST, "url", url, "label", label, "ca-file", ca_file,
	                    "credentials", credentials, NULL);
}
