#include "daemon/enroll/ct-enroll-backend.h"

#include "daemon/engine/ct-x509.h"

/* a CSR larger than this is not something a phone produces */
#define CT_ENROLL_MAX_CSR (64 * 1024)

typedef struct {
	gchar *url;
	gchar *ca_file;
	CtCredentials *credentials;
	guint timeout_s;
	GMutex mutex; /* guards the step callback and the Retry-After hint */
	CtEnrollStepFunc step_func;
	gpointer step_data;
	GDestroyNotify step_destroy;
	gdouble retry_after;
} CtEnrollBackendPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE(CtEnrollBackend, ct_enroll_backend, G_TYPE_OBJECT)

#define GET_PRIVATE(o) ((CtEnrollBackendPrivate *)ct_enroll_backend_get_instance_private(o))

enum { PROP_0, PROP_URL, PROP_CA_FILE, PROP_CREDENTIALS, PROP_TIMEOUT, PROP_LAST };
static GParamSpec *ct_enroll_backend_props[PROP_LAST];

void
ct_enroll_response_free(CtEnrollResponse *response)
{
	if (response == NULL)
		return;
	g_clear_pointer(&response->certificate, X509_free);
	ct_x509_stack_free(response->extra);
	ct_x509_stack_free(response->service_tls_chain);
	g_free(response);
}

static STACK_OF(X509) * ct_enroll_backend_real_fetch_ca_certs(CtEnrollBackend *self,
                                                              GCancellable *cancellable,
                                                              GError **error)
{
	(void)cancellable;
	g_set_error(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED, "%s cannot download CA certificates",
	            G_OBJECT_TYPE_NAME(self));
	return NULL;
}

static CtEnrollResponse *
ct_enroll_backend_real_submit(CtEnrollBackend *self,
                              const CtEnrollRequest *request,
                              GCancellable *cancellable,
                              GError **error)
{
	(void)request;
	(void)cancellable;
	g_set_error(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED, "%s cannot enroll",
	            G_OBJECT_TYPE_NAME(self));
	return NULL;
}

static void
ct_enroll_backend_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	CtEnrollBackendPrivate *priv = GET_PRIVATE(CT_ENROLL_BACKEND(object));
	switch (prop_id) {
	case PROP_URL:
		g_value_set_string(value, priv->url);
		break;
	case PROP_CA_FILE:
		g_value_set_string(value, priv->ca_file);
		break;
	case PROP_CREDENTIALS:
		g_value_set_object(value, priv->credentials);
		break;
	case PROP_TIMEOUT:
		g_value_set_uint(value, priv->timeout_s);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
ct_enroll_backend_set_property(GObject *object,
                               guint prop_id,
                               const GValue *value,
                               GParamSpec *pspec)
{
	CtEnrollBackendPrivate *priv = GET_PRIVATE(CT_ENROLL_BACKEND(object));
	switch (prop_id) {
	case PROP_URL:
		g_free(priv->url);
		priv->url = g_value_dup_string(value);
		break;
	case PROP_CA_FILE:
		g_free(priv->ca_file);
		priv->ca_file = g_value_dup_string(value);
		/* an empty string means "none", like an absent key */
		if (priv->ca_file != NULL && priv->ca_file[0] == '\0')
			g_clear_pointer(&priv->ca_file, g_free);
		break;
	case PROP_CREDENTIALS:
		g_set_object(&priv->credentials, g_value_get_object(value));
		break;
	case PROP_TIMEOUT:
		priv->timeout_s = g_value_get_uint(value);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
		break;
	}
}

static void
ct_enroll_backend_finalize(GObject *object)
{
	CtEnrollBackendPrivate *priv = GET_PRIVATE(CT_ENROLL_BACKEND(object));
	g_free(priv->url);
	g_free(priv->ca_file);
	g_clear_object(&priv->credentials);
	if (priv->step_destroy != NULL)
		priv->step_destroy(priv->step_data);
	g_mutex_clear(&priv->mutex);
	G_OBJECT_CLASS(ct_enroll_backend_parent_class)->finalize(object);
}

static void
ct_enroll_backend_class_init(CtEnrollBackendClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->get_property = ct_enroll_backend_get_property;
	object_class->set_property = ct_enroll_backend_set_property;
	object_class->finalize = ct_enroll_backend_finalize;
	klass->fetch_ca_certs = ct_enroll_backend_real_fetch_ca_certs;
	klass->submit = ct_enroll_backend_real_submit;

	ct_enroll_backend_props[PROP_URL] = g_param_spec_string(
	    "url", NULL, "URL of the certificate web service", NULL,
	    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	ct_enroll_backend_props[PROP_CA_FILE] = g_param_spec_string(
	    "ca-file", NULL, "PEM file of trust anchors added to the system store", NULL,
	    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	ct_enroll_backend_props[PROP_CREDENTIALS] = g_param_spec_object(
	    "credentials", NULL, "the desktop user's credentials", CT_TYPE_CREDENTIALS,
	    G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
	ct_enroll_backend_props[PROP_TIMEOUT] =
	    g_param_spec_uint("timeout", NULL, "seconds for one HTTP exchange (0 = default)", 0,
	                      3600, 0, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, PROP_LAST, ct_enroll_backend_props);
}

static void
ct_enroll_backend_init(CtEnrollBackend *self)
{
	CtEnrollBackendPrivate *priv = GET_PRIVATE(self);
	g_mutex_init(&priv->mutex);
	priv->retry_after = -1;
}

STACK_OF(X509) * ct_enroll_backend_fetch_ca_certs(CtEnrollBackend *self,
                                                  GCancellable *cancellable,
                                                  GError **error)
{
	CtEnrollBackendClass *klass;
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	klass = CT_ENROLL_BACKEND_GET_CLASS(self);
	if (g_cancellable_is_cancelled(cancellable)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CANCELLED, "cancelled");
		return NULL;
	}
	return klass->fetch_ca_certs(self, cancellable, error);
}

CtEnrollResponse *
ct_enroll_backend_submit(CtEnrollBackend *self,
                         const CtEnrollRequest *request,
                         GCancellable *cancellable,
                         GError **error)
{
	CtEnrollBackendClass *klass;
	CtEnrollResponse *response;
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	g_return_val_if_fail(request != NULL, NULL);
	klass = CT_ENROLL_BACKEND_GET_CLASS(self);

	if (request->csr_der == NULL || g_bytes_get_size(request->csr_der) == 0 ||
	    g_bytes_get_size(request->csr_der) > CT_ENROLL_MAX_CSR) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "no CSR, or a CSR larger than 64 KiB");
		return NULL;
	}
	if (request->sip_uri == NULL || !g_str_has_prefix(request->sip_uri, "sip:")) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the enrollment request has no sip: identity");
		return NULL;
	}
	if (g_cancellable_is_cancelled(cancellable)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CANCELLED, "cancelled");
		return NULL;
	}
	response = klass->submit(self, request, cancellable, error);
	if (response != NULL && response->certificate == NULL) {
		ct_enroll_response_free(response);
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "%s returned no certificate",
		            G_OBJECT_TYPE_NAME(self));
		return NULL;
	}
	return response;
}

void
ct_enroll_backend_set_step_func(CtEnrollBackend *self,
                                CtEnrollStepFunc func,
                                gpointer user_data,
                                GDestroyNotify destroy)
{
	CtEnrollBackendPrivate *priv;
	g_return_if_fail(CT_IS_ENROLL_BACKEND(self));
	priv = GET_PRIVATE(self);
	g_mutex_lock(&priv->mutex);
	if (priv->step_destroy != NULL)
		priv->step_destroy(priv->step_data);
	priv->step_func = func;
	priv->step_data = user_data;
	priv->step_destroy = destroy;
	g_mutex_unlock(&priv->mutex);
}

void
ct_enroll_backend_report_step(CtEnrollBackend *self, const CtEnrollStep *step)
{
	CtEnrollBackendPrivate *priv;
	CtEnrollStepFunc func;
	gpointer data;
	g_return_if_fail(CT_IS_ENROLL_BACKEND(self));
	g_return_if_fail(step != NULL);
	priv = GET_PRIVATE(self);

	if (step->ok)
		g_debug("step %s (%s): ok in %.3f s", step->name, step->target, step->seconds);
	else
		g_debug("step %s (%s): failed in %.3f s: %s", step->name, step->target,
		        step->seconds, step->error != NULL ? step->error->message : "?");
	g_mutex_lock(&priv->mutex);
	func = priv->step_func;
	data = priv->step_data;
	g_mutex_unlock(&priv->mutex);
	if (func != NULL)
		func(step, data);
}

void
ct_enroll_backend_step_done(
    CtEnrollBackend *self, const gchar *name, const gchar *target, gint64 t0, const GError *error)
{
	CtEnrollStep step = {
	    .name = name,
	    .target = target,
	    .ok = error == NULL,
	    .seconds = (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC,
	    .error = error,
	};
	ct_enroll_backend_report_step(self, &step);
}

const gchar *
ct_enroll_backend_get_url(CtEnrollBackend *self)
{
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	return GET_PRIVATE(self)->url;
}

const gchar *
ct_enroll_backend_get_ca_file(CtEnrollBackend *self)
{
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	return GET_PRIVATE(self)->ca_file;
}

CtCredentials *
ct_enroll_backend_get_credentials(CtEnrollBackend *self)
{
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	return GET_PRIVATE(self)->credentials;
}

guint
ct_enroll_backend_get_timeout(CtEnrollBackend *self)
{
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), 0);
	return GET_PRIVATE(self)->timeout_s;
}

void
ct_enroll_backend_set_retry_after(CtEnrollBackend *self, gdouble seconds)
{
	CtEnrollBackendPrivate *priv;
	g_return_if_fail(CT_IS_ENROLL_BACKEND(self));
	priv = GET_PRIVATE(self);
	g_mutex_lock(&priv->mutex);
	priv->retry_after = seconds;
	g_mutex_unlock(&priv->mutex);
}

gdouble
ct_enroll_backend_take_retry_after(CtEnrollBackend *self)
{
	CtEnrollBackendPrivate *priv;
	gdouble value;
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), -1);
	priv = GET_PRIVATE(self);
	g_mutex_lock(&priv->mutex);
	value = priv->retry_after;
	priv->retry_after = -1;
	g_mutex_unlock(&priv->mutex);
	return value;
}

void
ct_enroll_backend_note_retry_after(CtEnrollBackend *self, const CtHttpResponse *response)
{
	gdouble seconds = ct_http_response_get_retry_after(response);
	if (seconds >= 0)
		ct_enroll_backend_set_retry_after(self, seconds);
}

CtCredentials *
ct_enroll_backend_ensure_credentials(CtEnrollBackend *self, const gchar *url, GError **error)
{
	CtEnrollBackendPrivate *priv;
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	priv = GET_PRIVATE(self);
	if (priv->credentials == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		                    "the certificate service needs the desktop user's credentials "
		                    "and none were configured");
		return NULL;
	}
	if (!ct_credentials_ensure(priv->credentials, url, error))
		return NULL;
	return priv->credentials;
}

void
ct_enroll_backend_prepare_request(CtEnrollBackend *self,
                                  CtHttpRequest *request,
                                  gboolean authenticate)
{
	CtEnrollBackendPrivate *priv;
	g_return_if_fail(CT_IS_ENROLL_BACKEND(self));
	priv = GET_PRIVATE(self);
	if (request->ca_file == NULL)
		request->ca_file = priv->ca_file;
	if (request->timeout_s == 0)
		request->timeout_s = priv->timeout_s;
	if (authenticate)
		ct_credentials_apply(priv->credentials, request);
}

CtHttpResponse *
ct_enroll_backend_http(CtEnrollBackend *self,
                       CtHttpRequest *request,
                       const gchar *step,
                       gboolean authenticate,
                       GCancellable *cancellable,
                       GError **error)
{
	g_autoptr(GError) error_local = NULL;
	CtHttpResponse *response;
	gint64 t0;

	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(self), NULL);
	g_return_val_if_fail(request != NULL, NULL);

	if (authenticate && ct_enroll_backend_ensure_credentials(self, request->url, error) == NULL)
		return NULL;
	ct_enroll_backend_prepare_request(self, request, authenticate);

	t0 = g_get_monotonic_time();
	response = ct_http_perform(request, cancellable, &error_local);
	if (response == NULL) {
		ct_enroll_backend_step_done(self, step, request->url, t0, error_local);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (response->status == 429 || response->status == 503)
		ct_enroll_backend_note_retry_after(self, response);
	/* a non-2xx status is the step's failure, not the call's: the caller classifies it */
	ct_http_status_to_error(response, step, &error_local);
	ct_enroll_backend_step_done(self, step, request->url, t0, error_local);
	return response;
}
