#include "daemon/engine/ct-enrollment.h"

#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-verify.h"
#include "daemon/enroll/ct-certprov.h"
#include "daemon/enroll/ct-est.h"

struct _CtEnrollment {
	GObject parent_instance;
	CtConfig *config;
	CtEnrollBackend *backend;
	CtBackoffPolicy policy;
	gboolean fetch_aia;
	gboolean use_system_store;
	GMutex mutex; /* guards the progress callback */
	CtEnrollProgressFunc progress_func;
	gpointer progress_data;
	GDestroyNotify progress_destroy;
};

G_DEFINE_TYPE(CtEnrollment, ct_enrollment, G_TYPE_OBJECT)

void
ct_enroll_result_free(CtEnrollResult *result)
{
	if (result == NULL)
		return;
	g_clear_pointer(&result->leaf, X509_free);
	ct_x509_stack_free(result->chain);
	ct_x509_stack_free(result->anchors);
	ct_x509_stack_free(result->service_tls_chain);
	g_free(result->sip_uri);
	g_free(result);
}

static void
ct_enrollment_finalize(GObject *object)
{
	CtEnrollment *self = CT_ENROLLMENT(object);
	g_clear_object(&self->config);
	g_clear_object(&self->backend);
	if (self->progress_destroy != NULL)
		self->progress_destroy(self->progress_data);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(ct_enrollment_parent_class)->finalize(object);
}

static void
ct_enrollment_class_init(CtEnrollmentClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ct_enrollment_finalize;
}

static void
ct_enrollment_init(CtEnrollment *self)
{
	g_mutex_init(&self->mutex);
	self->fetch_aia = TRUE;
	self->use_system_store = TRUE;
}

CtEnrollBackend *
ct_enrollment_create_backend(CtConfig *config, CtCredentials *credentials, GError **error)
{
	const gchar *url;
	CtEnrollBackend *backend = NULL;

	g_return_val_if_fail(CT_IS_CONFIG(config), NULL);
	url = ct_config_get_url(config);
	if (url == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "no certificate web service configured: set url= in [service] of %s",
		            ct_config_get_path(config) != NULL ? ct_config_get_path(config)
		                                               : "certtether.conf");
		return NULL;
	}
	switch (ct_config_get_protocol(config)) {
	case CT_PROTOCOL_EST:
		backend = ct_est_new(url, ct_config_get_est_label(config),
		                     ct_config_get_ca_file(config), credentials);
		break;
	case CT_PROTOCOL_CERTPROV:
	default:
		backend = ct_certprov_new(url, ct_config_get_ca_file(config), credentials);
		/* the configured Web Ticket service replaces /mex discovery */
		if (ct_config_get_web_ticket_url(config) != NULL)
			ct_certprov_set_web_ticket_url(CT_CERTPROV(backend),
			                               ct_config_get_web_ticket_url(config));
		break;
	}
	g_object_set(backend, "timeout", ct_config_get_timeout(config), NULL);
	return backend;
}

CtEnrollment *
ct_enrollment_new_with_backend(CtConfig *config, CtEnrollBackend *backend)
{
	CtEnrollment *self;
	g_return_val_if_fail(config == NULL || CT_IS_CONFIG(config), NULL);
	g_return_val_if_fail(CT_IS_ENROLL_BACKEND(backend), NULL);
	self = g_object_new(CT_TYPE_ENROLLMENT, NULL);
	self->config = config != NULL ? g_object_ref(config) : ct_config_new_default();
	self->backend = g_object_ref(backend);
	ct_backoff_policy_init(&self->policy, self->config);
	return self;
}

CtEnrollment *
ct_enrollment_new(CtConfig *config, CtCredentials *credentials, GError **error)
{
	g_autoptr(CtEnrollBackend) backend =
	    ct_enrollment_create_backend(config, credentials, error);
	if (backend == NULL)
		return NULL;
	return ct_enrollment_new_with_backend(config, backend);
}

CtEnrollBackend *
ct_enrollment_get_backend(CtEnrollment *self)
{
	g_return_val_if_fail(CT_IS_ENROLLMENT(self), NULL);
	return self->backend;
}

void
ct_enrollment_set_progress_func(CtEnrollment *self,
                                CtEnrollProgressFunc func,
                                gpointer user_data,
                                GDestroyNotify destroy)
{
	g_return_if_fail(CT_IS_ENROLLMENT(self));
	g_mutex_lock(&self->mutex);
	if (self->progress_destroy != NULL)
		self->progress_destroy(self->progress_data);
	self->progress_func = func;
	self->progress_data = user_data;
	self->progress_destroy = destroy;
	g_mutex_unlock(&self->mutex);
}

void
ct_enrollment_set_fetch_aia(CtEnrollment *self, gboolean fetch_aia)
{
	g_return_if_fail(CT_IS_ENROLLMENT(self));
	self->fetch_aia = fetch_aia;
}

void
ct_enrollment_set_use_system_store(CtEnrollment *self, gboolean use_system_store)
{
	g_return_if_fail(CT_IS_ENROLLMENT(self));
	self->use_system_store = use_system_store;
}

static void
ct_enrollment_report(CtEnrollment *self, const CtEnrollProgress *progress)
{
	CtEnrollProgressFunc func;
	gpointer data;
	g_mutex_lock(&self->mutex);
	func = self->progress_func;
	data = self->progress_data;
	g_mutex_unlock(&self->mutex);
	if (func != NULL)
		func(progress, data);
}

/* sleep until @deadline (monotonic µs), waking at once when cancelled */
static gboolean
ct_enrollment_wait(gint64 deadline, GCancellable *cancellable, GError **error)
{
	GPollFD pfd = {0};
	gboolean have_fd = cancellable != NULL && g_cancellable_make_pollfd(cancellable, &pfd);
	gboolean ok = TRUE;
	for (;;) {
		gint64 now = g_get_monotonic_time();
		gint64 left = deadline - now;
		if (g_cancellable_is_cancelled(cancellable)) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_CANCELLED,
			                    "cancelled while waiting to retry");
			ok = FALSE;
			break;
		}
		if (left <= 0)
			break;
		if (have_fd)
			g_poll(&pfd, 1, (gint)MIN((left + 999) / 1000, (gint64)G_MAXINT));
		else
			g_usleep((gulong)MIN(left, (gint64)G_USEC_PER_SEC));
	}
	if (have_fd)
		g_cancellable_release_fd(cancellable);
	return ok;
}

/* one attempt: the CA certificates once, then the submission */
static CtEnrollResponse *
ct_enrollment_attempt(CtEnrollment *self,
                      const CtEnrollRequest *request,
                      CtX509Stack **ca_certs,
                      gboolean *ca_certs_done,
                      GCancellable *cancellable,
                      GError **error)
{
	if (!*ca_certs_done) {
		g_autoptr(GError) error_local = NULL;
		*ca_certs =
		    ct_enroll_backend_fetch_ca_certs(self->backend, cancellable, &error_local);
		if (*ca_certs == NULL) {
			/* without a CA download the chain may still come from the answer or AIA */
			if (!g_error_matches(error_local, CT_ERROR, CT_ERROR_NOT_SUPPORTED)) {
				g_propagate_error(error, g_steal_pointer(&error_local));
				return NULL;
			}
			g_debug("no CA download: %s", error_local->message);
		}
		*ca_certs_done = TRUE;
	}
	return ct_enroll_backend_submit(self->backend, request, cancellable, error);
}

CtEnrollResult *
ct_enrollment_run(CtEnrollment *self,
                  const CtEnrollRequest *request,
                  GCancellable *cancellable,
                  GError **error)
{
	CtCredentials *credentials;
	g_autofree gchar *sip_uri = NULL;
	g_autoptr(EVP_PKEY) csr_key = NULL;
	g_autoptr(CtX509Stack) ca_certs = NULL;
	g_autoptr(CtEnrollResponse) response = NULL;
	CtEnrollResult *result;
	CtEnrollRequest req;
	CtVerifyParams params = {0};
	gboolean ca_certs_done = FALSE;
	guint attempt;

	g_return_val_if_fail(CT_IS_ENROLLMENT(self), NULL);
	g_return_val_if_fail(request != NULL, NULL);

	/* credentials first: a missing ticket is permanent and never retried */
	credentials = ct_enroll_backend_get_credentials(self->backend);
	if (credentials != NULL &&
	    !ct_credentials_ensure(credentials, ct_enroll_backend_get_url(self->backend), error))
		return NULL;
	if (request->sip_uri != NULL) {
		sip_uri = ct_identity_normalize_sip_uri(request->sip_uri);
		if (sip_uri == NULL) {
			g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			            "%s is not a SIP address of the form sip:user@domain",
			            request->sip_uri);
			return NULL;
		}
	} else {
		sip_uri = ct_identity_resolve_user(self->config, credentials, error);
		if (sip_uri == NULL)
			return NULL;
	}
	csr_key = ct_verify_csr_public_key(request->csr_der, error);
	if (csr_key == NULL)
		return NULL;
	req = *request;
	req.sip_uri = sip_uri;

	for (attempt = 1;; attempt++) {
		g_autoptr(GError) error_local = NULL;
		CtEnrollProgress progress = {0};
		gdouble retry_after;

		/* a hint left over from an earlier call must not delay this one */
		if (attempt == 1)
			ct_enroll_backend_take_retry_after(self->backend);
		response = ct_enrollment_attempt(self, &req, &ca_certs, &ca_certs_done, cancellable,
		                                 &error_local);
		if (response != NULL)
			break;
		if (!ct_backoff_should_retry(&self->policy, attempt, error_local)) {
			if (attempt > 1 && ct_error_is_transient(error_local))
				g_prefix_error(&error_local,
				               "gave up after %u attempts: ", attempt);
			g_propagate_error(error, g_steal_pointer(&error_local));
			return NULL;
		}
		retry_after = ct_enroll_backend_take_retry_after(self->backend);
		progress.attempt = attempt;
		progress.max_attempts = self->policy.max_attempts;
		progress.error = error_local;
		progress.retry_after = retry_after;
		progress.delay =
		    ct_backoff_delay(&self->policy, attempt, g_random_double(), retry_after);
		progress.next_attempt_time =
		    g_get_monotonic_time() + (gint64)(progress.delay * G_USEC_PER_SEC);
		g_info("attempt %u of %u failed (%s); retrying in %.1f s", attempt,
		       self->policy.max_attempts, error_local->message, progress.delay);
		ct_enrollment_report(self, &progress);
		if (!ct_enrollment_wait(progress.next_attempt_time, cancellable, error))
			return NULL;
	}

	params.csr_key = csr_key;
	params.sip_uri = sip_uri;
	params.certificate = response->certificate;
	params.extra = response->extra;
	params.ca_certs = ca_certs;
	params.service_tls_chain = response->service_tls_chain;
	params.ca_file = ct_enroll_backend_get_ca_file(self->backend);
	params.no_system_store = !self->use_system_store;
	params.fetch_aia = self->fetch_aia;
	params.timeout_s = ct_enroll_backend_get_timeout(self->backend);
	result = ct_verify_issued(&params, cancellable, error);
	if (result == NULL)
		return NULL;
	result->attempts = attempt;
	return result;
}

/* the request copied for the worker thread */
typedef struct {
	CtEnrollRequest request;
	GBytes *csr_der;
	gchar *sip_uri;
	gchar *device_id;
	gchar *request_id;
} CtEnrollmentTaskData;

static void
ct_enrollment_task_data_free(CtEnrollmentTaskData *data)
{
	g_bytes_unref(data->csr_der);
	g_free(data->sip_uri);
	g_free(data->device_id);
	g_free(data->request_id);
	g_free(data);
}

static void
ct_enrollment_run_thread(GTask *task,
                         gpointer source_object,
                         gpointer task_data,
                         GCancellable *cancellable)
{
	CtEnrollment *self = CT_ENROLLMENT(source_object);
	CtEnrollmentTaskData *data = task_data;
	GError *error = NULL;
	CtEnrollResult *result = ct_enrollment_run(self, &data->request, cancellable, &error);
	if (result == NULL)
		g_task_return_error(task, error);
	else
		g_task_return_pointer(task, result, (GDestroyNotify)ct_enroll_result_free);
}

void
ct_enrollment_run_async(CtEnrollment *self,
                        const CtEnrollRequest *request,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
	g_autoptr(GTask) task = NULL;
	CtEnrollmentTaskData *data;
	g_return_if_fail(CT_IS_ENROLLMENT(self));
	g_return_if_fail(request != NULL);

	data = g_new0(CtEnrollmentTaskData, 1);
	data->csr_der = request->csr_der != NULL ? g_bytes_ref(request->csr_der) : NULL;
	data->sip_uri = g_strdup(request->sip_uri);
	data->device_id = g_strdup(request->device_id);
	data->request.csr_der = data->csr_der;
	data->request.sip_uri = data->sip_uri;
	data->request.device_id = data->device_id;
	data->request.renewal = request->renewal;
	data->request_id = g_strdup(request->request_id);
	data->request.request_id = data->request_id;

	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, ct_enrollment_run_async);
	g_task_set_task_data(task, data, (GDestroyNotify)ct_enrollment_task_data_free);
	/* the error is ours (CT_ERROR_CANCELLED), not GIO's */
	g_task_set_check_cancellable(task, FALSE);
	g_task_run_in_thread(task, ct_enrollment_run_thread);
}

CtEnrollResult *
ct_enrollment_run_finish(CtEnrollment *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}
