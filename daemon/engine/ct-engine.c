#include "daemon/engine/ct-engine.h"

#include <glib/gstdio.h>

#include "daemon/engine/ct-enroll-job.h"
#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-session.h"
#include "daemon/engine/ct-usb-source.h"
#include "daemon/engine/ct-x509.h"

struct _CtEngine {
	GObject parent_instance;
	CtConfig *config;
	gchar *ledger_path;
	CtLedger *ledger;
	ctp_host_context *usb;
	GSource *usb_source;
	GPtrArray *devices;         /* CtDevice, every one seen since start */
	GPtrArray *sessions;        /* CtSession, one per connected phone */
	GHashTable *jobs;           /* csr sha256 -> CtEnrollJob, running */
	CtCredentials *credentials; /* the desktop user's, shared by default */
	gchar *user;                /* resolved default SIP URI, or NULL */
	CtPromptFunc prompt_func;
	gpointer prompt_data;
	GDestroyNotify prompt_destroy;
	CtAssignFunc assign_func;
	gpointer assign_data;
	GDestroyNotify assign_destroy;
	gboolean auto_approve;
	guint anonymous_count;
	guint max_enrollments; /* 0: no bound */
	GQueue queued;         /* CtEngineQueuedJob, waiting for a free slot */
};

G_DEFINE_TYPE(CtEngine, ct_engine, G_TYPE_OBJECT)

enum { SIGNAL_DEVICE_ADDED, SIGNAL_DEVICE_REMOVED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

/* what a running job needs to report back */
typedef struct {
	CtEngine *engine;
	CtDevice *device;
} CtEngineJobData;

/* a job waiting for a free enrollment slot (the jobs table owns the job) */
typedef struct {
	CtEnrollJob *job;
	CtEngineJobData *data;
} CtEngineQueuedJob;

void
ct_assignment_free(CtAssignment *assignment)
{
	if (assignment == NULL)
		return;
	g_free(assignment->sip_uri);
	g_clear_object(&assignment->credentials);
	g_free(assignment);
}

/* ---- construction ------------------------------------------------------------------------ */

static void
ct_engine_dispose(GObject *object)
{
	CtEngine *self = CT_ENGINE(object);
	ct_engine_stop(self);
	G_OBJECT_CLASS(ct_engine_parent_class)->dispose(object);
}

static void
ct_engine_finalize(GObject *object)
{
	CtEngine *self = CT_ENGINE(object);
	g_ptr_array_unref(self->devices);
	g_ptr_array_unref(self->sessions);
	g_hash_table_unref(self->jobs);
	g_clear_object(&self->config);
	g_clear_object(&self->ledger);
	g_clear_object(&self->credentials);
	g_free(self->ledger_path);
	g_free(self->user);
	if (self->prompt_destroy != NULL)
		self->prompt_destroy(self->prompt_data);
	if (self->assign_destroy != NULL)
		self->assign_destroy(self->assign_data);
	G_OBJECT_CLASS(ct_engine_parent_class)->finalize(object);
}

static void
ct_engine_class_init(CtEngineClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->dispose = ct_engine_dispose;
	object_class->finalize = ct_engine_finalize;
	signals[SIGNAL_DEVICE_ADDED] =
	    g_signal_new("device-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
	                 NULL, G_TYPE_NONE, 1, CT_TYPE_DEVICE);
	signals[SIGNAL_DEVICE_REMOVED] =
	    g_signal_new("device-removed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
	                 NULL, NULL, G_TYPE_NONE, 1, CT_TYPE_DEVICE);
}

static void
ct_engine_init(CtEngine *self)
{
	self->devices = g_ptr_array_new_with_free_func(g_object_unref);
	self->sessions = g_ptr_array_new();
	self->jobs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
	                                   (GDestroyNotify)ct_enroll_job_unref);
}

CtEngine *
ct_engine_new(CtConfig *config)
{
	CtEngine *self = g_object_new(CT_TYPE_ENGINE, NULL);
	g_return_val_if_fail(CT_IS_CONFIG(config), NULL);
	self->config = g_object_ref(config);
	return self;
}

void
ct_engine_set_ledger_path(CtEngine *self, const gchar *path)
{
	g_return_if_fail(CT_IS_ENGINE(self));
	g_free(self->ledger_path);
	self->ledger_path = g_strdup(path);
}

void
ct_engine_set_prompt_func(CtEngine *self,
                          CtPromptFunc func,
                          gpointer user_data,
                          GDestroyNotify destroy)
{
	g_return_if_fail(CT_IS_ENGINE(self));
	if (self->prompt_destroy != NULL)
		self->prompt_destroy(self->prompt_data);
	self->prompt_func = func;
	self->prompt_data = user_data;
	self->prompt_destroy = destroy;
}

void
ct_engine_set_assign_func(CtEngine *self,
                          CtAssignFunc func,
                          gpointer user_data,
                          GDestroyNotify destroy)
{
	g_return_if_fail(CT_IS_ENGINE(self));
	if (self->assign_destroy != NULL)
		self->assign_destroy(self->assign_data);
	self->assign_func = func;
	self->assign_data = user_data;
	self->assign_destroy = destroy;
}

void
ct_engine_set_auto_approve(CtEngine *self, gboolean auto_approve)
{
	g_return_if_fail(CT_IS_ENGINE(self));
	self->auto_approve = auto_approve;
}

void
ct_engine_set_max_enrollments(CtEngine *self, guint max)
{
	g_return_if_fail(CT_IS_ENGINE(self));
	self->max_enrollments = max;
}

CtConfig *
ct_engine_get_config(CtEngine *self)
{
	g_return_val_if_fail(CT_IS_ENGINE(self), NULL);
	return self->config;
}

CtLedger *
ct_engine_get_ledger(CtEngine *self)
{
	return self->ledger;
}

gboolean
ct_engine_get_auto_approve(CtEngine *self)
{
	return self->auto_approve;
}

/* ---- devices ----------------------------------------------------------------------------- */

/* a D-Bus-path-safe id: the serial's letters and digits, then the key fingerprint's start */
static gchar *
ct_engine_make_device_id(const gchar *serial, const gchar *identity_fpr)
{
	GString *id = g_string_new(NULL);
	for (const gchar *p = serial; *p != '\0' && id->len < 32; p++)
		g_string_append_c(id, g_ascii_isalnum(*p) ? *p : '_');
	if (id->len == 0)
		g_string_append(id, "phone");
	g_string_append_printf(id, "_%.8s", identity_fpr);
	return g_string_free(id, FALSE);
}

static CtDevice *
ct_engine_lookup_id(CtEngine *self, const gchar *id)
{
	for (guint i = 0; i < self->devices->len; i++) {
		CtDevice *device = g_ptr_array_index(self->devices, i);
		if (g_strcmp0(ct_device_get_id(device), id) == 0)
			return device;
	}
	return NULL;
}

static CtDevice *
ct_engine_add_device(CtEngine *self, const gchar *id)
{
	CtDevice *device = ct_engine_lookup_id(self, id);
	if (device != NULL)
		return device;
	device = ct_device_new(id);
	g_ptr_array_add(self->devices, device);
	g_signal_emit(self, signals[SIGNAL_DEVICE_ADDED], 0, device);
	return device;
}

CtDevice *
ct_engine_identify_device(CtEngine *self,
                          CtSession *session,
                          const gchar *serial,
                          const gchar *identity_fpr)
{
	g_autofree gchar *id = ct_engine_make_device_id(serial, identity_fpr);
	(void)session;
	return ct_engine_add_device(self, id);
}

CtDevice *
ct_engine_add_anonymous_device(CtEngine *self, CtSession *session, const gchar *usb_port)
{
	g_autofree gchar *id = NULL;
	CtDevice *device;
	(void)session;
	id = g_strdup_printf("usb_%u", ++self->anonymous_count);
	device = ct_engine_add_device(self, id);
	ct_device_set_usb_port(device, usb_port);
	ct_device_set_connected(device, TRUE);
	return device;
}

GPtrArray *
ct_engine_get_devices(CtEngine *self)
{
	g_return_val_if_fail(CT_IS_ENGINE(self), NULL);
	return self->devices;
}

CtDevice *
ct_engine_find_device(CtEngine *self, const gchar *name, GError **error)
{
	g_return_val_if_fail(CT_IS_ENGINE(self), NULL);
	if (name == NULL || name[0] == '\0') {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "no device named");
		return NULL;
	}
	for (guint i = 0; i < self->devices->len; i++) {
		CtDevice *device = g_ptr_array_index(self->devices, i);
		const gchar *fpr = ct_device_get_identity_fingerprint(device);
		if (g_strcmp0(ct_device_get_id(device), name) == 0 ||
		    g_strcmp0(ct_device_get_serial(device), name) == 0 ||
		    (ct_device_get_connected(device) &&
		     g_strcmp0(ct_device_get_usb_port(device), name) == 0) ||
		    (strlen(name) >= 8 && g_str_has_prefix(fpr, name)))
			return device;
	}
	g_set_error(
	    error, CT_ERROR, CT_ERROR_NOT_FOUND,
	    "no phone named '%s' (give its id, serial or USB port; certtether list shows them)",
	    name);
	return NULL;
}

static CtSession *
ct_engine_session_for_device(CtEngine *self, CtDevice *device)
{
	for (guint i = 0; i < self->sessions->len; i++) {
		CtSession *session = g_ptr_array_index(self->sessions, i);
		if (ct_session_get_device(session) == device)
			return session;
	}
	return NULL;
}

gboolean
ct_engine_is_busy(CtEngine *self)
{
	g_return_val_if_fail(CT_IS_ENGINE(self), FALSE);
	return self->sessions->len > 0 || g_hash_table_size(self->jobs) > 0;
}

/* ---- who a phone is provisioned for ------------------------------------------------------ */

CtAssignment *
ct_engine_assign_device(CtEngine *self, CtDevice *device)
{
	if (self->assign_func != NULL)
		return self->assign_func(self, device, self->assign_data);
	return g_new0(CtAssignment, 1);
}

gboolean
ct_engine_resolve_user(CtEngine *self, CtAssignment *assignment, GError **error)
{
	const gchar *url = ct_config_get_url(self->config);
	g_autofree gchar *sip_uri = NULL;

	if (assignment->credentials == NULL)
		assignment->credentials = g_object_ref(self->credentials);
	if (url == NULL) {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_CONFIG,
		    "no certificate service configured: set [service] url in certtether.conf");
		return FALSE;
	}
	/* checked before the phone makes a key: "run kinit" now rather than after */
	if (!ct_credentials_ensure(assignment->credentials, url, error))
		return FALSE;
	if (assignment->sip_uri != NULL)
		return TRUE;
	/* the configured sip-uri, the client certificate's user or the ticket's */
	sip_uri = ct_identity_resolve_user(self->config, assignment->credentials, error);
	if (sip_uri == NULL)
		return FALSE;
	if (assignment->credentials == self->credentials && g_strcmp0(self->user, sip_uri) != 0) {
		g_free(self->user);
		self->user = g_strdup(sip_uri);
	}
	assignment->sip_uri = g_steal_pointer(&sip_uri);
	return TRUE;
}

const gchar *
ct_engine_get_user(CtEngine *self)
{
	g_return_val_if_fail(CT_IS_ENGINE(self), NULL);
	if (self->user == NULL && ct_config_get_sip_uri(self->config) != NULL)
		return ct_config_get_sip_uri(self->config);
	return self->user;
}

/* ---- logging and the event ledger -------------------------------------------------------- */

void
ct_engine_log_state(CtEngine *self, CtDevice *device, gint64 ledger_device_id)
{
	const gchar *state = ct_device_state_to_string(ct_device_get_state(device));
	const gchar *detail = ct_device_get_state_detail(device);
	const GError *last_error = ct_device_get_last_error(device);
	g_autoptr(GError) error = NULL;

	/* one structured line per state change; journald keeps the fields */
	g_log_structured(
	    G_LOG_DOMAIN, last_error != NULL ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE,
	    "CT_DEVICE", ct_device_get_id(device), "CT_SERIAL", ct_device_get_serial(device),
	    "CT_STATE", state, "MESSAGE", "%s %s: %s", ct_device_get_id(device), state, detail);
	if (self->ledger == NULL)
		return;
	if (!ct_ledger_add_event(
	        self->ledger, ledger_device_id,
	        ct_device_get_serial(device)[0] != '\0' ? ct_device_get_serial(device) : NULL,
	        state, detail, &error))
		g_warning("could not record the event in the ledger: %s", error->message);
}

/* ---- enrollment jobs --------------------------------------------------------------------- */

static gchar *
ct_engine_stack_to_pem(const CtX509Stack *stack)
{
	GString *pem = g_string_new(NULL);
	for (int i = 0; stack != NULL && i < sk_X509_num(stack); i++) {
		g_autofree gchar *one = ct_x509_to_pem(sk_X509_value(stack, i));
		g_string_append(pem, one);
	}
	return g_string_free(pem, FALSE);
}

static void
ct_engine_job_progress(CtEnrollJob *job,
                       CtDeviceState state,
                       const gchar *detail,
                       guint attempts,
                       gint64 next_retry,
                       gpointer user_data)
{
	CtEngineJobData *data = user_data;
	CtSession *session = ct_engine_session_for_device(data->engine, data->device);
	(void)job;
	ct_device_set_retry(data->device, attempts,
	                    state == CT_DEVICE_STATE_WAITING_RETRY ? next_retry : 0);
	if (state == CT_DEVICE_STATE_WAITING_RETRY && data->engine->ledger != NULL)
		ct_ledger_enrollment_add_attempt(data->engine->ledger,
		                                 ct_enroll_job_get_csr_sha256(job), NULL, NULL);
	if (session != NULL)
		ct_session_enrollment_progress(session, state, detail);
}

static void ct_engine_job_done(CtEnrollJob *job,
                               CtEnrollResult *result,
                               const GError *error,
                               gpointer user_data);

/* enrollments talking to the service now (the table also holds the waiting ones) */
static guint
ct_engine_running_jobs(CtEngine *self)
{
	return g_hash_table_size(self->jobs) - self->queued.length;
}

static void
ct_engine_start_queued(CtEngine *self)
{
	while (self->queued.length > 0 && (self->max_enrollments == 0 ||
	                                   ct_engine_running_jobs(self) < self->max_enrollments)) {
		CtEngineQueuedJob *queued = g_queue_pop_head(&self->queued);
		CtSession *session = ct_engine_session_for_device(self, queued->data->device);
		if (session != NULL)
			ct_session_enrollment_progress(session, CT_DEVICE_STATE_ENROLLING,
			                               "requesting the certificate");
		ct_enroll_job_start(queued->job, ct_engine_job_progress, ct_engine_job_done,
		                    queued->data);
		g_free(queued);
	}
}

static void
ct_engine_job_done(CtEnrollJob *job,
                   CtEnrollResult *result,
                   const GError *error,
                   gpointer user_data)
{
	CtEngineJobData *data = user_data;
	CtEngine *self = data->engine;
	/* the jobs table holds the job: keep our own copy of its key past the removal */
	g_autofree gchar *csr = g_strdup(ct_enroll_job_get_csr_sha256(job));
	CtSession *session;
	g_autoptr(GError) ledger_error = NULL;
	g_autoptr(GError) outcome = error != NULL ? g_error_copy(error) : NULL;

	ct_ledger_enrollment_add_attempt(self->ledger, csr, NULL, NULL);
	if (result != NULL) {
		g_autoptr(GBytes) der = ct_x509_to_der(result->leaf);
		g_autofree gchar *chain = ct_engine_stack_to_pem(result->chain);
		g_autofree gchar *anchors = ct_engine_stack_to_pem(result->anchors);
		/* durable before anything is installed: a crash from here on never
		 * costs a second certificate for this CSR */
		if (!ct_ledger_enrollment_record_issued(self->ledger, csr, der, chain, anchors,
		                                        &ledger_error)) {
			g_prefix_error(&ledger_error,
			               "the certificate was issued but could not be recorded: ");
			outcome = g_steal_pointer(&ledger_error);
		}
	}
	if (outcome != NULL) {
		const gchar *code = outcome->domain == CT_ERROR
		                        ? ct_error_code_to_string((CtError)outcome->code)
		                        : "Internal";
		if (!ct_ledger_enrollment_mark_failed(self->ledger, csr, code, outcome->message,
		                                      &ledger_error))
			g_warning("could not record the failed enrollment: %s",
			          ledger_error->message);
	}
	ct_device_set_retry(data->device, ct_enroll_job_get_attempts(job), 0);

	/* the job is over: later plug-ins resume from the ledger, not from it */
	g_hash_table_remove(self->jobs, csr);
	session = ct_engine_session_for_device(self, data->device);
	if (session != NULL) {
		ct_session_enrollment_done(session, csr, outcome);
	} else if (outcome != NULL) {
		ct_device_set_last_error(data->device, outcome, NULL);
		ct_device_set_state(data->device, CT_DEVICE_STATE_DISCONNECTED,
		                    ct_device_get_progress(data->device), outcome->message);
	} else {
		ct_device_set_state(data->device, CT_DEVICE_STATE_DISCONNECTED,
		                    ct_device_get_progress(data->device),
		                    "certificate issued: plug the phone in again to install it");
	}
	/* a slot is free: the next waiting enrollment goes */
	ct_engine_start_queued(self);
	g_object_unref(data->device);
	g_object_unref(data->engine);
	g_free(data);
}

gboolean
ct_engine_is_enrolling(CtEngine *self, const gchar *csr_sha256)
{
	return g_hash_table_contains(self->jobs, csr_sha256);
}

void
ct_engine_enroll(CtEngine *self,
                 CtDevice *device,
                 GBytes *csr_der,
                 const gchar *csr_sha256,
                 const gchar *sip_uri,
                 CtCredentials *credentials,
                 gboolean renewal)
{
	CtEnrollJob *job;
	CtEngineJobData *data;
	g_autofree gchar *device_id = NULL;

	/* a re-plugged phone joins the request already on its way */
	if (g_hash_table_contains(self->jobs, csr_sha256))
		return;
	device_id = ct_identity_device_id(ct_device_get_serial(device));
	job = ct_enroll_job_new(self->config, credentials != NULL ? credentials : self->credentials,
	                        csr_der, csr_sha256, sip_uri, device_id, renewal);
	data = g_new0(CtEngineJobData, 1);
	data->engine = g_object_ref(self);
	data->device = g_object_ref(device);
	if (self->max_enrollments > 0 && ct_engine_running_jobs(self) >= self->max_enrollments) {
		CtEngineQueuedJob *queued = g_new0(CtEngineQueuedJob, 1);
		CtSession *session = ct_engine_session_for_device(self, device);
		g_hash_table_insert(self->jobs, g_strdup(csr_sha256), job);
		queued->job = job;
		queued->data = data;
		g_queue_push_tail(&self->queued, queued);
		if (session != NULL)
			ct_session_enrollment_progress(session, CT_DEVICE_STATE_ENROLLING,
			                               "waiting for a free enrollment slot");
		return;
	}
	g_hash_table_insert(self->jobs, g_strdup(csr_sha256), job);
	ct_enroll_job_start(job, ct_engine_job_progress, ct_engine_job_done, data);
}

/* ---- USB ---------------------------------------------------------------------------------- */

static void
ct_engine_usb_log(ctp_host_log_level level, const char *message, void *user_data)
{
	(void)user_data;
	if (level == CTP_HOST_LOG_WARNING)
		g_warning("usb: %s", message);
	else if (level == CTP_HOST_LOG_INFO)
		g_info("usb: %s", message);
	else
		g_debug("usb: %s", message);
}

static void
ct_engine_phone_arrived(CtEngine *self, const ctp_host_device_info *info)
{
	ctp_host_device *usb = NULL;
	ctp_host_status status = ctp_host_device_open(self->usb, info->usb_device, &usb);
	CtSession *session;

	if (status != CTP_HOST_OK) {
		CtDevice *device = ct_engine_add_anonymous_device(self, NULL, info->port_path);
		g_autoptr(GError) error = g_error_new(
		    CT_ERROR, CT_ERROR_DEVICE, "cannot open the phone on USB port %s: %s",
		    info->port_path, ctp_host_status_to_string(status));
		ct_device_set_last_error(device, error,
		                         status == CTP_HOST_ACCESS
		                             ? "the udev rules give the seat user access: "
		                               "check that certtether's rules are installed"
		                             : NULL);
		ct_device_set_state(device, CT_DEVICE_STATE_FAILED, 0, error->message);
		ct_engine_log_state(self, device, 0);
		return;
	}
	g_info("phone arrived on USB port %s (%04x:%04x)", info->port_path, info->vendor_id,
	       info->product_id);
	session = ct_session_new(self, usb);
	g_ptr_array_add(self->sessions, session);
	ct_session_start(session);
}

static void
ct_engine_phone_left(CtEngine *self, const ctp_host_device_info *info)
{
	for (guint i = 0; i < self->sessions->len; i++) {
		CtSession *session = g_ptr_array_index(self->sessions, i);
		if (ct_session_get_usb_device(session) != info->usb_device)
			continue;
		/* out of the list before its device says "disconnected": observers of that
		 * change (certtetherd's idle timer) must see the engine without this phone */
		g_ptr_array_remove_index(self->sessions, i);
		ct_session_unplugged(session);
		ct_session_free(session);
		return;
	}
	/* a phone that failed to open (no session) only needs its flag lowered */
	for (guint i = 0; i < self->devices->len; i++) {
		CtDevice *device = g_ptr_array_index(self->devices, i);
		if (ct_device_get_connected(device) &&
		    g_strcmp0(ct_device_get_usb_port(device), info->port_path) == 0 &&
		    ct_engine_session_for_device(self, device) == NULL)
			ct_device_set_connected(device, FALSE);
	}
}

static void
ct_engine_on_hotplug(ctp_host_context *ctx,
                     ctp_host_hotplug_event event,
                     const ctp_host_device_info *info,
                     void *user_data)
{
	CtEngine *self = user_data;
	(void)ctx;
	if (event == CTP_HOST_DEVICE_ARRIVED)
		ct_engine_phone_arrived(self, info);
	else
		ct_engine_phone_left(self, info);
}

void
ct_engine_session_closed(CtEngine *self, CtSession *session)
{
	if (g_ptr_array_remove(self->sessions, session))
		ct_session_free(session);
}

/* ---- start / stop ------------------------------------------------------------------------- */

static gboolean
ct_engine_open_ledger(CtEngine *self, GError **error)
{
	g_autofree gchar *path = NULL;
	if (self->ledger_path != NULL) {
		path = g_strdup(self->ledger_path);
	} else {
		g_autofree gchar *dir = ct_config_get_state_dir();
		if (g_mkdir_with_parents(dir, 0700) != 0) {
			g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
			            "cannot create the state directory %s: %s (set "
			            "CERTTETHER_STATE_DIR to another place)",
			            dir, g_strerror(errno));
			return FALSE;
		}
		path = g_build_filename(dir, "ledger.db", NULL);
	}
	self->ledger = ct_ledger_open(path, error);
	return self->ledger != NULL;
}

gboolean
ct_engine_start(CtEngine *self, GError **error)
{
	ctp_host_status status;
	g_return_val_if_fail(CT_IS_ENGINE(self), FALSE);
	g_return_val_if_fail(self->usb == NULL, FALSE);

	if (!ct_engine_open_ledger(self, error))
		return FALSE;
	if (self->credentials == NULL) {
		self->credentials = ct_config_new_credentials(self->config);
		if (self->prompt_func != NULL)
			ct_credentials_set_prompt_func(self->credentials, self->prompt_func,
			                               self->prompt_data, NULL);
	}
	if (ct_config_get_policy_mode(self->config) == CT_POLICY_MODE_ALWAYS)
		g_warning("policy mode 'always': EVERY phone plugged in gets a certificate without "
		          "asking "
		          "(bench use only; see certtether.conf(5))");

	status = ctp_host_context_new(ct_engine_usb_log, self, &self->usb);
	if (status != CTP_HOST_OK) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "cannot start USB: %s",
		            ctp_host_status_to_string(status));
		return FALSE;
	}
	/* ENUMERATE: phones plugged in before the daemon started are not missed */
	status = ctp_host_context_start_hotplug(self->usb, CTP_HOST_HOTPLUG_ENUMERATE,
	                                        ct_engine_on_hotplug, self);
	if (status != CTP_HOST_OK) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_SUPPORTED,
		            "cannot watch USB for phones: %s", ctp_host_status_to_string(status));
		ctp_host_context_free(self->usb);
		self->usb = NULL;
		return FALSE;
	}
	self->usb_source = ct_usb_source_new(self->usb);
	g_source_attach(self->usb_source, g_main_context_get_thread_default());
	return TRUE;
}

void
ct_engine_stop(CtEngine *self)
{
	GHashTableIter iter;
	gpointer job;
	g_return_if_fail(CT_IS_ENGINE(self));

	/* waiting enrollments never started: nothing was sent, the ledger resumes them */
	while (self->queued.length > 0) {
		CtEngineQueuedJob *queued = g_queue_pop_head(&self->queued);
		g_autofree gchar *csr = g_strdup(ct_enroll_job_get_csr_sha256(queued->job));
		g_hash_table_remove(self->jobs, csr);
		g_object_unref(queued->data->device);
		g_object_unref(queued->data->engine);
		g_free(queued->data);
		g_free(queued);
	}
	g_hash_table_iter_init(&iter, self->jobs);
	while (g_hash_table_iter_next(&iter, NULL, &job))
		ct_enroll_job_cancel(job);
	while (self->sessions->len > 0) {
		CtSession *session = g_ptr_array_index(self->sessions, self->sessions->len - 1);
		g_ptr_array_remove_index(self->sessions, self->sessions->len - 1);
		ct_session_free(session);
	}
	if (self->usb_source != NULL) {
		g_source_destroy(self->usb_source);
		g_clear_pointer(&self->usb_source, g_source_unref);
	}
	g_clear_pointer(&self->usb, ctp_host_context_free);
}

/* ---- user actions ------------------------------------------------------------------------- */

static gboolean
ct_engine_check_identified(CtDevice *device, GError **error)
{
	if (ct_device_get_identity_fingerprint(device)[0] == '\0') {
		g_set_error(error, CT_ERROR, CT_ERROR_DEVICE,
		            "the phone %s never proved its identity, so it cannot be paired",
		            ct_device_get_id(device));
		return FALSE;
	}
	return TRUE;
}

gboolean
ct_engine_approve_device(CtEngine *self, CtDevice *device, GError **error)
{
	g_autoptr(CtLedgerDevice) row = NULL;
	g_autoptr(CtAssignment) assignment = NULL;
	CtSession *session;
	g_return_val_if_fail(CT_IS_ENGINE(self), FALSE);
	if (!ct_engine_check_identified(device, error))
		return FALSE;
	/* a connected phone: the session pairs it for its user and goes on */
	session = ct_engine_session_for_device(self, device);
	if (session != NULL)
		return ct_session_approve(session, error);
	/* an absent one is paired for the desktop user, provisioned at the next plug-in */
	assignment = ct_engine_assign_device(self, device);
	if (assignment == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		                    "the phone is not on the roster");
		return FALSE;
	}
	if (!ct_engine_resolve_user(self, assignment, error))
		return FALSE;
	row = ct_ledger_pair_device(self->ledger, ct_device_get_serial(device),
	                            ct_device_get_identity_fingerprint(device),
	                            ct_device_get_vendor(device), ct_device_get_model(device),
	                            ct_device_get_firmware(device), assignment->sip_uri, error);
	if (row == NULL)
		return FALSE;
	ct_device_set_paired(device, TRUE);
	return TRUE;
}

gboolean
ct_engine_reject_device(CtEngine *self, CtDevice *device, GError **error)
{
	g_autoptr(CtLedgerDevice) row = NULL;
	CtSession *session;
	g_return_val_if_fail(CT_IS_ENGINE(self), FALSE);
	if (!ct_engine_check_identified(device, error))
		return FALSE;
	row = ct_ledger_reject_device(self->ledger, ct_device_get_serial(device),
	                              ct_device_get_identity_fingerprint(device),
	                              ct_device_get_vendor(device), ct_device_get_model(device),
	                              ct_device_get_firmware(device), error);
	if (row == NULL)
		return FALSE;
	ct_device_set_paired(device, FALSE);
	session = ct_engine_session_for_device(self, device);
	if (session != NULL)
		ct_session_rejected(session);
	return TRUE;
}

gboolean
ct_engine_provision_device(CtEngine *self, CtDevice *device, gboolean force, GError **error)
{
	CtSession *session;
	g_return_val_if_fail(CT_IS_ENGINE(self), FALSE);
	session = ct_engine_session_for_device(self, device);
	if (session == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_DEVICE_GONE,
		            "the phone %s is not connected: plug it in", ct_device_get_id(device));
		return FALSE;
	}
	return ct_session_provision(session, force, error);
}

gboolean
ct_engine_forget_device(CtEngine *self, CtDevice *device, GError **error)
{
	CtSession *session;
	g_return_val_if_fail(CT_IS_ENGINE(self), FALSE);
	if (!ct_engine_check_identified(device, error))
		return FALSE;
	if (!ct_ledger_forget_device(self->ledger, ct_device_get_serial(device),
	                             ct_device_get_identity_fingerprint(device), error))
		return FALSE;
	ct_device_set_paired(device, FALSE);
	session = ct_engine_session_for_device(self, device);
	if (session != NULL)
		ct_session_forgotten(session);
	/* a disconnected phone the user forgot has nothing left to show */
	if (!ct_device_get_connected(device)) {
		g_object_ref(device);
		g_ptr_array_remove(self->devices, device);
		g_signal_emit(self, signals[SIGNAL_DEVICE_REMOVED], 0, device);
		g_object_unref(device);
	}
	return TRUE;
}

GVariant *
ct_engine_get_history(CtEngine *self, const gchar *serial, guint limit, GError **error)
{
	g_autoptr(GPtrArray) events = NULL;
	GVariantBuilder builder;
	g_return_val_if_fail(CT_IS_ENGINE(self), NULL);
	events = ct_ledger_get_history(
	    self->ledger, serial != NULL && serial[0] != '\0' ? serial : NULL, limit, error);
	if (events == NULL)
		return NULL;
	g_variant_builder_init(&builder, G_VARIANT_TYPE("aa{sv}"));
	for (guint i = 0; i < events->len; i++)
		g_variant_builder_add_value(
		    &builder, ct_ledger_event_to_variant(g_ptr_array_index(events, i)));
	return g_variant_builder_end(&builder);
}

/* ---- for callers that show a snapshot and leave ------------------------------------------- */

guint
ct_engine_count_unidentified(CtEngine *self)
{
	guint count = 0;
	g_return_val_if_fail(CT_IS_ENGINE(self), 0);
	if (self->usb == NULL)
		return 0;
	for (guint i = 0; i < self->sessions->len; i++) {
		if (ct_session_get_device(g_ptr_array_index(self->sessions, i)) == NULL)
			count++;
	}
	/* hotplug reports (ENUMERATE at start) wait in the transport's queue until the next
	 * dispatch: phones may be among them */
	if (count == 0 && ctp_host_context_get_timeout_ms(self->usb) == 0)
		count = 1;
	return count;
}
