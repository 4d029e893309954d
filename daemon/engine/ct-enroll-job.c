#include "daemon/engine/ct-enroll-job.h"

struct _CtEnrollJob {
	gint ref_count;
	CtConfig *config;
	CtCredentials *credentials;
	GBytes *csr_der;
	gchar *csr_sha256;
	gchar *sip_uri;
	gchar *device_id;
	gchar *request_id; /* derived from the CSR: the same after a restart */
	gboolean renewal;
	GCancellable *cancellable;
	GMainContext *context; /* where the callbacks run */
	CtEnrollJobProgressFunc progress;
	CtEnrollJobDoneFunc done;
	gpointer user_data;
	guint attempts;      /* main-loop copy, updated by the progress hops */
	GError *start_error; /* the enrollment could not even be set up */
};

/* a progress report carried from the worker thread to the main loop */
typedef struct {
	CtEnrollJob *job;
	CtDeviceState state;
	gchar *detail;
	guint attempts;
	gint64 next_retry_realtime;
} CtEnrollJobHop;

/*
 * The request id of a CSR: a UUID made of the first 16 bytes of its SHA-256, with
 * the version (8, RFC 9562 "custom") and variant bits set. Every submission of the
 * same CSR carries the same id, also one sent again after a crash and restart, so
 * a service that recognises a repeated id returns the certificate it issued before
 * instead of issuing a second one. NULL if @csr_sha256 is not hex.
 */
static gchar *
ct_enroll_job_request_id(const gchar *csr_sha256)
{
	guint8 b[16];
	if (csr_sha256 == NULL || strlen(csr_sha256) < 2 * sizeof(b))
		return NULL;
	for (gsize i = 0; i < sizeof(b); i++) {
		gint hi = g_ascii_xdigit_value(csr_sha256[2 * i]);
		gint lo = g_ascii_xdigit_value(csr_sha256[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return NULL;
		b[i] = (guint8)(hi << 4 | lo);
	}
	b[6] = (guint8)((b[6] & 0x0f) | 0x80);
	b[8] = (guint8)((b[8] & 0x3f) | 0x80);
	return g_strdup_printf(
	    "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1],
	    b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14],
	    b[15]);
}

CtEnrollJob *
ct_enroll_job_new(CtConfig *config,
                  CtCredentials *credentials,
                  GBytes *csr_der,
                  const gchar *csr_sha256,
                  const gchar *sip_uri,
                  const gchar *device_id,
                  gboolean renewal)
{
	CtEnrollJob *job = g_new0(CtEnrollJob, 1);
	job->ref_count = 1;
	job->config = g_object_ref(config);
	job->credentials = g_object_ref(credentials);
	job->csr_der = g_bytes_ref(csr_der);
	job->csr_sha256 = g_strdup(csr_sha256);
	job->sip_uri = g_strdup(sip_uri);
	job->device_id = g_strdup(device_id);
	job->request_id = ct_enroll_job_request_id(csr_sha256);
	job->renewal = renewal;
	job->cancellable = g_cancellable_new();
	return job;
}

CtEnrollJob *
ct_enroll_job_ref(CtEnrollJob *job)
{
	g_atomic_int_inc(&job->ref_count);
	return job;
}

void
ct_enroll_job_unref(CtEnrollJob *job)
{
	if (job == NULL || !g_atomic_int_dec_and_test(&job->ref_count))
		return;
	g_object_unref(job->config);
	g_object_unref(job->credentials);
	g_bytes_unref(job->csr_der);
	g_free(job->csr_sha256);
	g_free(job->sip_uri);
	g_free(job->device_id);
	g_free(job->request_id);
	g_object_unref(job->cancellable);
	g_clear_error(&job->start_error);
	if (job->context != NULL)
		g_main_context_unref(job->context);
	g_free(job);
}

static void
ct_enroll_job_hop_free(CtEnrollJobHop *hop)
{
	ct_enroll_job_unref(hop->job);
	g_free(hop->detail);
	g_free(hop);
}

static gboolean
ct_enroll_job_hop_dispatch(gpointer user_data)
{
	CtEnrollJobHop *hop = user_data;
	CtEnrollJob *job = hop->job;
	if (hop->attempts > job->attempts)
		job->attempts = hop->attempts;
	if (job->progress != NULL && !g_cancellable_is_cancelled(job->cancellable))
		job->progress(job, hop->state, hop->detail, job->attempts, hop->next_retry_realtime,
		              job->user_data);
	return G_SOURCE_REMOVE;
}

/* worker thread -> main loop */
static void
ct_enroll_job_hop(
    CtEnrollJob *job, CtDeviceState state, gchar *detail, guint attempts, gint64 next_retry)
{
	CtEnrollJobHop *hop = g_new0(CtEnrollJobHop, 1);
	hop->job = ct_enroll_job_ref(job);
	hop->state = state;
	hop->detail = detail;
	hop->attempts = attempts;
	hop->next_retry_realtime = next_retry;
	g_main_context_invoke_full(job->context, G_PRIORITY_DEFAULT, ct_enroll_job_hop_dispatch,
	                           hop, (GDestroyNotify)ct_enroll_job_hop_free);
}

/* worker thread: a transient failure, a retry is scheduled */
static void
ct_enroll_job_on_retry(const CtEnrollProgress *progress, gpointer user_data)
{
	CtEnrollJob *job = user_data;
	gint64 wall = g_get_real_time() + (progress->next_attempt_time - g_get_monotonic_time());
	gchar *detail = g_strdup_printf("attempt %u of %u failed (%s); retrying in %.0f s",
	                                progress->attempt, progress->max_attempts,
	                                progress->error->message, MAX(progress->delay, 1.0));
	ct_enroll_job_hop(job, CT_DEVICE_STATE_WAITING_RETRY, detail, progress->attempt, wall);
}

/* worker thread: a backend step finished; show when the service has answered */
static void
ct_enroll_job_on_step(const CtEnrollStep *step, gpointer user_data)
{
	CtEnrollJob *job = user_data;
	if (!step->ok)
		return;
	if (g_strcmp0(step->name, "enroll") == 0)
		ct_enroll_job_hop(job, CT_DEVICE_STATE_VERIFYING,
		                  g_strdup("checking the issued certificate and its chain"), 0, 0);
	else if (g_strcmp0(step->name, "web-ticket") == 0 ||
	         g_strcmp0(step->name, "authenticate") == 0)
		ct_enroll_job_hop(job, CT_DEVICE_STATE_ENROLLING,
		                  g_strdup("authenticated; requesting the certificate"), 0, 0);
}

static void
ct_enroll_job_on_finished(GObject *source, GAsyncResult *res, gpointer user_data)
{
	CtEnrollJob *job = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result =
	    ct_enrollment_run_finish(CT_ENROLLMENT(source), res, &error);
	if (result != NULL && result->attempts > job->attempts)
		job->attempts = result->attempts;
	if (job->done != NULL)
		job->done(job, result, error, job->user_data);
	ct_enroll_job_unref(job);
}

/* report a setup failure from the main loop, never from inside ct_enroll_job_start() */
static gboolean
ct_enroll_job_fail_later(gpointer user_data)
{
	CtEnrollJob *job = user_data;
	if (job->done != NULL)
		job->done(job, NULL, job->start_error, job->user_data);
	return G_SOURCE_REMOVE;
}

void
ct_enroll_job_start(CtEnrollJob *job,
                    CtEnrollJobProgressFunc progress,
                    CtEnrollJobDoneFunc done,
                    gpointer user_data)
{
	CtEnrollRequest request = {
	    .csr_der = job->csr_der,
	    .sip_uri = job->sip_uri,
	    .device_id = job->device_id,
	    .renewal = job->renewal,
	    .request_id = job->request_id,
	};
	g_autoptr(CtEnrollment) enrollment = NULL;

	job->progress = progress;
	job->done = done;
	job->user_data = user_data;
	job->context = g_main_context_ref_thread_default();

	enrollment = ct_enrollment_new(job->config, job->credentials, &job->start_error);
	if (enrollment == NULL) {
		g_main_context_invoke_full(job->context, G_PRIORITY_DEFAULT,
		                           ct_enroll_job_fail_later, ct_enroll_job_ref(job),
		                           (GDestroyNotify)ct_enroll_job_unref);
		return;
	}
	ct_enrollment_set_progress_func(enrollment, ct_enroll_job_on_retry, ct_enroll_job_ref(job),
	                                (GDestroyNotify)ct_enroll_job_unref);
	ct_enroll_backend_set_step_func(ct_enrollment_get_backend(enrollment),
	                                ct_enroll_job_on_step, ct_enroll_job_ref(job),
	                                (GDestroyNotify)ct_enroll_job_unref);
	ct_enrollment_run_async(enrollment, &request, job->cancellable, ct_enroll_job_on_finished,
	                        ct_enroll_job_ref(job));
}

void
ct_enroll_job_cancel(CtEnrollJob *job)
{
	g_cancellable_cancel(job->cancellable);
}

const gchar *
ct_enroll_job_get_csr_sha256(CtEnrollJob *job)
{
	return job->csr_sha256;
}

const gchar *
ct_enroll_job_get_sip_uri(CtEnrollJob *job)
{
	return job->sip_uri;
}

guint
ct_enroll_job_get_attempts(CtEnrollJob *job)
{
	return job->attempts;
}
