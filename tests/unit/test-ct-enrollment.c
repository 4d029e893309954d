/*
 * The retry orchestration of CtEnrollment, driven by a scripted backend (each
 * submission answers the next scripted outcome) so that the attempt counts,
 * the progress reports and every delay bound can be checked exactly. The real
 * backends against real servers are in tests/integration/test-enroll.c.
 */
#include <glib/gstdio.h>

#include "daemon/engine/ct-enrollment.h"
#include "tests/unit/ct-test-issue.h"

/* ---- a backend that plays a script ---- */

typedef enum {
	OUTCOME_ISSUE,     /* a good certificate for the CSR's key */
	OUTCOME_WRONG_KEY, /* a certificate for another key */
	OUTCOME_ERROR,     /* fail with code (and a Retry-After hint if > 0) */
} OutcomeKind;

typedef struct {
	OutcomeKind kind;
	CtError code;
	gdouble retry_after;
} Outcome;

#define CT_TYPE_SCRIPTED (ct_scripted_get_type())
G_DECLARE_FINAL_TYPE(CtScripted, ct_scripted, CT, SCRIPTED, CtEnrollBackend)

struct _CtScripted {
	CtEnrollBackend parent_instance;
	const Outcome *script;
	guint script_len;
	guint submissions;
	guint ca_fetches;
	CtError ca_error; /* CT_ERROR_LAST: answer the CA chain */
	X509 *issuing;
	EVP_PKEY *issuing_key;
	EVP_PKEY *csr_key;
};

G_DEFINE_TYPE(CtScripted, ct_scripted, CT_TYPE_ENROLL_BACKEND)

static STACK_OF(X509) *
    ct_scripted_fetch_ca_certs(CtEnrollBackend *backend, GCancellable *cancellable, GError **error)
{
	CtScripted *self = CT_SCRIPTED(backend);
	CtX509Stack *out;
	(void)cancellable;
	self->ca_fetches++;
	if (self->ca_error != CT_ERROR_LAST) {
		CtError code = self->ca_error;
		/* a transient CA failure happens once, then the download works */
		if (ct_error_is_transient(&(GError){.domain = CT_ERROR, .code = code}))
			self->ca_error = CT_ERROR_LAST;
		g_set_error(error, CT_ERROR, code, "scripted CA download failure");
		return NULL;
	}
	out = sk_X509_new_null();
	X509_up_ref(self->issuing);
	sk_X509_push(out, self->issuing);
	return out;
}

static CtEnrollResponse *
ct_scripted_submit(CtEnrollBackend *backend,
                   const CtEnrollRequest *request,
                   GCancellable *cancellable,
                   GError **error)
{
	CtScripted *self = CT_SCRIPTED(backend);
	const Outcome *o;
	CtEnrollResponse *response;
	(void)cancellable;
	g_assert_cmpstr(request->sip_uri, ==, "sip:alice@test.local");
	g_assert_cmpuint(self->submissions, <, self->script_len);
	o = &self->script[self->submissions++];
	if (o->kind == OUTCOME_ERROR) {
		if (o->retry_after > 0)
			ct_enroll_backend_set_retry_after(backend, o->retry_after);
		g_set_error(error, CT_ERROR, o->code, "scripted failure %u", self->submissions);
		return NULL;
	}
	response = g_new0(CtEnrollResponse, 1);
	if (o->kind == OUTCOME_WRONG_KEY) {
		g_autoptr(EVP_PKEY) other = ct_test_key_new();
		response->certificate =
		    ct_test_user_cert_new(other, self->issuing, self->issuing_key);
	} else {
		response->certificate =
		    ct_test_user_cert_new(self->csr_key, self->issuing, self->issuing_key);
	}
	response->extra = sk_X509_new_null();
	response->service_tls_chain = sk_X509_new_null();
	return response;
}

static void
ct_scripted_finalize(GObject *object)
{
	CtScripted *self = CT_SCRIPTED(object);
	X509_free(self->issuing);
	EVP_PKEY_free(self->issuing_key);
	EVP_PKEY_free(self->csr_key);
	G_OBJECT_CLASS(ct_scripted_parent_class)->finalize(object);
}

static void
ct_scripted_class_init(CtScriptedClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ct_scripted_finalize;
	CT_ENROLL_BACKEND_CLASS(klass)->fetch_ca_certs = ct_scripted_fetch_ca_certs;
	CT_ENROLL_BACKEND_CLASS(klass)->submit = ct_scripted_submit;
}

static void
ct_scripted_init(CtScripted *self)
{
	self->ca_error = CT_ERROR_LAST;
}

/* ---- fixture ---- */

typedef struct {
	gchar *dir;
	gchar *ca_file;
	EVP_PKEY *root_key;
	X509 *root;
	EVP_PKEY *phone_key;
	GBytes *csr;
	GPtrArray *progress; /* CtEnrollProgress copies */
	GCancellable *cancel_on_progress;
} Fixture;

static void
fixture_setup(Fixture *f, gconstpointer data)
{
	(void)data;
	f->dir = g_dir_make_tmp("ct-enrollment-XXXXXX", NULL);
	f->root = ct_test_ca_new("Enrollment Test CA", &f->root_key);
	f->ca_file = ct_test_write_pem(f->dir, "root.pem", f->root, NULL);
	f->phone_key = ct_test_key_new();
	f->csr = ct_test_csr_new(f->phone_key, "alice@test.local");
	f->progress = g_ptr_array_new_with_free_func(g_free);
}

static void
fixture_teardown(Fixture *f, gconstpointer data)
{
	(void)data;
	g_unlink(f->ca_file);
	g_rmdir(f->dir);
	g_free(f->ca_file);
	g_free(f->dir);
	EVP_PKEY_free(f->root_key);
	X509_free(f->root);
	EVP_PKEY_free(f->phone_key);
	g_bytes_unref(f->csr);
	g_ptr_array_unref(f->progress);
	g_clear_object(&f->cancel_on_progress);
}

static void
on_progress(const CtEnrollProgress *progress, gpointer user_data)
{
	Fixture *f = user_data;
	CtEnrollProgress *copy = g_memdup2(progress, sizeof(*progress));
	/* the error belongs to the caller: keep what we check */
	copy->error = NULL;
	g_assert_nonnull(progress->error);
	g_assert_true(ct_error_is_transient(progress->error));
	g_ptr_array_add(f->progress, copy);
	if (f->cancel_on_progress != NULL)
		g_cancellable_cancel(f->cancel_on_progress);
}

static CtConfig *
retry_config(const gchar *attempts, const gchar *initial, const gchar *max)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_strdup_printf(
	    "[retry]\nmax-attempts=%s\ninitial-delay=%s\nmax-delay=%s\n", attempts, initial, max);
	CtConfig *config = ct_config_load_data(text, strlen(text), "test.conf", NULL, &error);
	g_assert_no_error(error);
	return config;
}

static CtScripted *
scripted_new(Fixture *f, const Outcome *script, guint len)
{
	CtScripted *b = g_object_new(CT_TYPE_SCRIPTED, "url", "https://ca.test.local/", "ca-file",
	                             f->ca_file, NULL);
	CtTestCertSpec spec = {
	    .cn = "Scripted Issuing CA", .ca = TRUE, .not_before = -3600, .not_after = 86400 * 30};
	b->script = script;
	b->script_len = len;
	b->issuing_key = ct_test_key_new();
	b->issuing = ct_test_cert_new(b->issuing_key, &spec, f->root, f->root_key);
	b->csr_key = EVP_PKEY_dup(f->phone_key);
	return b;
}

static CtEnrollment *
enrollment_new(Fixture *f, CtConfig *config, CtScripted *backend)
{
	CtEnrollment *e = ct_enrollment_new_with_backend(config, CT_ENROLL_BACKEND(backend));
	ct_enrollment_set_use_system_store(e, FALSE);
	ct_enrollment_set_fetch_aia(e, FALSE);
	ct_enrollment_set_progress_func(e, on_progress, f, NULL);
	return e;
}

static CtEnrollResult *
run(Fixture *f, CtEnrollment *e, GCancellable *cancellable, GError **error)
{
	CtEnrollRequest req = {.csr_der = f->csr,
	                       .sip_uri = "sip:alice@test.local",
	                       .device_id = "{00000000-0000-5000-8000-000000000000}"};
	return ct_enrollment_run(e, &req, cancellable, error);
}

/* ---- tests ---- */

static void
test_first_try(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = run(f, e, NULL, &error);
	(void)data;
	g_assert_no_error(error);
	g_assert_cmpuint(result->attempts, ==, 1);
	g_assert_cmpuint(b->submissions, ==, 1);
	g_assert_cmpuint(b->ca_fetches, ==, 1);
	g_assert_cmpuint(f->progress->len, ==, 0);
	/* chain from the CA download, anchor from ca-file */
	g_assert_cmpint(sk_X509_num(result->chain), ==, 1);
	g_assert_cmpint(sk_X509_num(result->anchors), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 0), f->root) == 0);
}

static void
test_store_unavailable_twice(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ERROR, CT_ERROR_STORE_UNAVAILABLE, 0},
	                                 {OUTCOME_ERROR, CT_ERROR_STORE_UNAVAILABLE, 0},
	                                 {OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = run(f, e, NULL, &error);
	CtBackoffPolicy policy;
	(void)data;
	g_assert_no_error(error);
	g_assert_cmpuint(result->attempts, ==, 3);
	g_assert_cmpuint(b->submissions, ==, 3);
	/* the CA download is done once, not per attempt */
	g_assert_cmpuint(b->ca_fetches, ==, 1);
	g_assert_cmpuint(f->progress->len, ==, 2);
	ct_backoff_policy_init(&policy, config);
	for (guint i = 0; i < f->progress->len; i++) {
		CtEnrollProgress *p = g_ptr_array_index(f->progress, i);
		g_assert_cmpuint(p->attempt, ==, i + 1);
		g_assert_cmpuint(p->max_attempts, ==, 4);
		g_assert_cmpfloat(p->delay, >=, 0.0);
		g_assert_cmpfloat(p->delay, <=, ct_backoff_cap(&policy, p->attempt));
		g_assert_cmpfloat(p->delay, <=, 0.04);
		g_assert_cmpfloat(p->retry_after, <, 0);
		g_assert_cmpint(p->next_attempt_time, >, 0);
	}
}

static void
test_retry_after_minimum(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ERROR, CT_ERROR_STORE_UNAVAILABLE, 0.03},
	                                 {OUTCOME_ERROR, CT_ERROR_STORE_UNAVAILABLE, 10.0},
	                                 {OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.001", "0.05");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = run(f, e, NULL, &error);
	CtEnrollProgress *p1, *p2;
	(void)data;
	g_assert_no_error(error);
	g_assert_cmpuint(result->attempts, ==, 3);
	g_assert_cmpuint(f->progress->len, ==, 2);
	p1 = g_ptr_array_index(f->progress, 0);
	p2 = g_ptr_array_index(f->progress, 1);
	/* the server's hint is the minimum wait ... */
	g_assert_cmpfloat(p1->retry_after, ==, 0.03);
	g_assert_cmpfloat(p1->delay, >=, 0.03);
	g_assert_cmpfloat(p1->delay, <=, 0.05);
	/* ... but max-delay still bounds it */
	g_assert_cmpfloat(p2->retry_after, ==, 10.0);
	g_assert_cmpfloat(p2->delay, ==, 0.05);
}

static void
test_permanent_not_retried(Fixture *f, gconstpointer data)
{
	static const CtError codes[] = {CT_ERROR_AUTH_FAILED, CT_ERROR_REJECTED,
	                                CT_ERROR_NO_CREDENTIALS, CT_ERROR_PROTOCOL};
	(void)data;
	for (guint i = 0; i < G_N_ELEMENTS(codes); i++) {
		Outcome script[] = {{OUTCOME_ERROR, codes[i], 0}, {OUTCOME_ISSUE, 0, 0}};
		g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
		g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
		g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
		g_autoptr(GError) error = NULL;
		g_autoptr(CtEnrollResult) result = run(f, e, NULL, &error);
		g_assert_null(result);
		g_assert_error(error, CT_ERROR, (gint)codes[i]);
		g_assert_cmpstr(error->message, ==, "scripted failure 1");
		g_assert_cmpuint(b->submissions, ==, 1);
		g_assert_cmpuint(f->progress->len, ==, 0);
	}
}

static void
test_gives_up(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ERROR, CT_ERROR_TIMEOUT, 0},
	                                 {OUTCOME_ERROR, CT_ERROR_UNREACHABLE, 0},
	                                 {OUTCOME_ERROR, CT_ERROR_STORE_UNAVAILABLE, 0}};
	g_autoptr(CtConfig) config = retry_config("3", "0.01", "0.02");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = run(f, e, NULL, &error);
	(void)data;
	g_assert_null(result);
	/* the last error, saying how often it was tried */
	g_assert_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE);
	g_assert_cmpstr(error->message, ==, "gave up after 3 attempts: scripted failure 3");
	g_assert_cmpuint(b->submissions, ==, 3);
	g_assert_cmpuint(f->progress->len, ==, 2);
}

static void
test_cancel_during_wait(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ERROR, CT_ERROR_STORE_UNAVAILABLE, 0},
	                                 {OUTCOME_ISSUE, 0, 0}};
	/* a wait of up to an hour, cancelled as soon as it is announced */
	g_autoptr(CtConfig) config = retry_config("4", "3600", "3600");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = NULL;
	(void)data;
	f->cancel_on_progress = g_cancellable_new();
	result = run(f, e, f->cancel_on_progress, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CANCELLED);
	g_assert_cmpuint(b->submissions, ==, 1);
	g_assert_cmpuint(f->progress->len, ==, 1);
}

static void
test_wrong_key_not_retried(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_WRONG_KEY, 0, 0}, {OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtEnrollResult) result = run(f, e, NULL, &error);
	(void)data;
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_cmpstr(error->message, ==,
	                "the issued certificate is for a different key than the phone's request");
	g_assert_cmpuint(b->submissions, ==, 1);
}

static void
test_ca_download(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ISSUE, 0, 0}, {OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
	g_autoptr(GError) error = NULL;
	(void)data;
	{
		/* a transient CA download failure is retried like a submission */
		g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
		g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
		g_autoptr(CtEnrollResult) result = NULL;
		b->ca_error = CT_ERROR_UNREACHABLE;
		result = run(f, e, NULL, &error);
		g_assert_no_error(error);
		g_assert_cmpuint(result->attempts, ==, 2);
		g_assert_cmpuint(b->ca_fetches, ==, 2);
		g_assert_cmpuint(b->submissions, ==, 1);
	}
	{
		/* a service without CA download: the chain must come from elsewhere */
		g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
		g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
		g_autoptr(CtEnrollResult) result = NULL;
		b->ca_error = CT_ERROR_NOT_SUPPORTED;
		result = run(f, e, NULL, &error);
		g_assert_null(result);
		g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
		g_assert_nonnull(strstr(error->message, "Scripted Issuing CA"));
		g_assert_cmpuint(b->submissions, ==, 1);
	}
}

static void
test_identity_needed(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	CtEnrollRequest req = {.csr_der = f->csr};
	g_autoptr(CtEnrollResult) result = ct_enrollment_run(e, &req, NULL, &error);
	CtEnrollRequest bad = {.csr_der = f->csr, .sip_uri = "alice@test.local"};
	g_autoptr(CtEnrollResult) result2 = NULL;
	(void)data;
	/* no credentials and no sip-uri: nobody to issue for */
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "sip-uri="));
	g_clear_error(&error);
	result2 = ct_enrollment_run(e, &bad, NULL, &error);
	g_assert_null(result2);
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_cmpuint(b->submissions, ==, 0);
}

static void
on_done(GObject *source, GAsyncResult *res, gpointer user_data)
{
	GAsyncResult **out = user_data;
	(void)source;
	*out = g_object_ref(res);
}

static void
test_async(Fixture *f, gconstpointer data)
{
	static const Outcome script[] = {{OUTCOME_ERROR, CT_ERROR_TIMEOUT, 0},
	                                 {OUTCOME_ISSUE, 0, 0}};
	g_autoptr(CtConfig) config = retry_config("4", "0.01", "0.04");
	g_autoptr(CtScripted) b = scripted_new(f, script, G_N_ELEMENTS(script));
	g_autoptr(CtEnrollment) e = enrollment_new(f, config, b);
	g_autoptr(GError) error = NULL;
	g_autoptr(GAsyncResult) res = NULL;
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *sip = g_strdup("sip:alice@test.local");
	CtEnrollRequest req = {.csr_der = f->csr, .sip_uri = sip};
	(void)data;
	ct_enrollment_run_async(e, &req, NULL, on_done, &res);
	/* the request is copied: the caller's strings may go away at once */
	g_clear_pointer(&sip, g_free);
	while (res == NULL)
		g_main_context_iteration(NULL, TRUE);
	result = ct_enrollment_run_finish(e, res, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(result->attempts, ==, 2);
	g_assert_cmpuint(f->progress->len, ==, 1);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add(path, Fixture, NULL, fixture_setup, fn, fixture_teardown)
	ADD("/enrollment/first-try", test_first_try);
	ADD("/enrollment/store-unavailable-twice", test_store_unavailable_twice);
	ADD("/enrollment/retry-after-minimum", test_retry_after_minimum);
	ADD("/enrollment/permanent-not-retried", test_permanent_not_retried);
	ADD("/enrollment/gives-up", test_gives_up);
	ADD("/enrollment/cancel-during-wait", test_cancel_during_wait);
	ADD("/enrollment/wrong-key-not-retried", test_wrong_key_not_retried);
	ADD("/enrollment/ca-download", test_ca_download);
	ADD("/enrollment/identity-needed", test_identity_needed);
	ADD("/enrollment/async", test_async);
#undef ADD
	return g_test_run();
}
