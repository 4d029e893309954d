/*
 * Enrollment against the real test servers (tests/servers: MIT KDC, Apache with
 * mod_auth_gssapi and TLS, the EST fixture): run by tests/integration/enroll.sh,
 * which starts the servers in a private network namespace, sources env.sh and
 * kinits alice into $KRB5CCNAME. Every case goes through the engine's real code:
 * GSS-API, libcurl, OpenSSL verification, the retry loop. The client-certificate
 * cases run without any Kerberos ticket and present alice's certificate from the
 * test PKI ($CERTTETHER_TEST_CLIENT_CERT / _KEY) to Apache's mod_ssl.
 */
#include <glib/gstdio.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "daemon/engine/ct-enrollment.h"
#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-verify.h"
#include "daemon/enroll/ct-est.h"

static gchar *workdir;
static gchar *alice_ccache; /* KRB5CCNAME from the wrapper (alice's ticket) */

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_EXTENSION, X509_EXTENSION_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)

static const gchar *
env(const gchar *name)
{
	const gchar *v = g_getenv(name);
	if (v == NULL)
		g_error("%s is not set: run this through tests/integration/enroll.sh", name);
	return v;
}

/* ---- the phone's side: a key and a CSR with the subject/SAN the host demands ---- */

static GBytes *
make_csr(EVP_PKEY *key, const gchar *sip_uri)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) subject = ct_identity_subject_der(sip_uri, &error);
	g_autoptr(GBytes) san = ct_identity_san_der(sip_uri, &error);
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(X509_NAME) name = NULL;
	g_autoptr(X509_EXTENSION) ext = NULL;
	STACK_OF(X509_EXTENSION) *exts = sk_X509_EXTENSION_new_null();
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	const guint8 *p;
	gsize len = 0;
	guint8 *der = NULL;
	int der_len;
	GBytes *out;

	g_assert_no_error(error);
	p = g_bytes_get_data(subject, &len);
	name = d2i_X509_NAME(NULL, &p, (long)len);
	g_assert_nonnull(name);
	g_assert_true(X509_REQ_set_subject_name(req, name));
	g_assert_true(X509_REQ_set_pubkey(req, key));
	p = g_bytes_get_data(san, &len);
	g_assert_true(ASN1_OCTET_STRING_set(os, p, (int)len));
	ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, os);
	g_assert_nonnull(ext);
	sk_X509_EXTENSION_push(exts, ext);
	g_assert_true(X509_REQ_add_extensions(req, exts));
	sk_X509_EXTENSION_free(exts);
	ASN1_OCTET_STRING_free(os);
	g_assert_true(X509_REQ_sign(req, key, EVP_sha256()) > 0);
	der_len = i2d_X509_REQ(req, &der);
	g_assert_cmpint(der_len, >, 0);
	out = g_bytes_new(der, (gsize)der_len);
	OPENSSL_free(der);
	return out;
}

static EVP_PKEY *
make_key(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	g_assert_nonnull(key);
	return key;
}

/* CertProv's CA takes RSA 2048..4096 only */
static EVP_PKEY *
make_rsa_key(void)
{
	EVP_PKEY *key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	g_assert_nonnull(key);
	return key;
}

/* ---- helpers around the servers ---- */

static void
control(const gchar *knob, const gchar *value)
{
	g_autofree gchar *tool = g_build_filename(env("CERTTETHER_TEST_SERVERS"), "control", NULL);
	const gchar *argv[] = {tool, env("CERTTETHER_TEST_DIR"), knob, value, NULL};
	g_autoptr(GError) error = NULL;
	gint status = 0;
	g_autofree gchar *err = NULL;
	g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL, NULL, &err,
	             &status, &error);
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("tests/servers/control %s %s failed: %s", knob, value ? value : "", err);
}

/* kinit @principal with @password into a new ccache; returns "FILE:path" */
static gchar *
kinit(const gchar *principal, const gchar *password, const gchar *lifetime)
{
	g_autofree gchar *path = g_build_filename(workdir, "ccache-XXXXXX", NULL);
	gchar *ccname;
	gint fd = g_mkstemp(path);
	g_autoptr(GSubprocessLauncher) l = g_subprocess_launcher_new(
	    G_SUBPROCESS_FLAGS_STDIN_PIPE | G_SUBPROCESS_FLAGS_STDOUT_SILENCE |
	    G_SUBPROCESS_FLAGS_STDERR_PIPE);
	g_autoptr(GSubprocess) p = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *input = g_strdup_printf("%s\n", password);
	g_autofree gchar *err = NULL;
	g_assert_cmpint(fd, >=, 0);
	close(fd);
	g_unlink(path);
	ccname = g_strdup_printf("FILE:%s", path);
	if (lifetime != NULL)
		p = g_subprocess_launcher_spawn(l, &error, "kinit", "-l", lifetime, "-c", ccname,
		                                principal, NULL);
	else
		p = g_subprocess_launcher_spawn(l, &error, "kinit", "-c", ccname, principal, NULL);
	g_assert_no_error(error);
	g_assert_true(g_subprocess_communicate_utf8(p, input, NULL, NULL, &err, &error));
	g_assert_no_error(error);
	if (!g_subprocess_get_successful(p))
		g_error("kinit %s failed: %s", principal, err);
	return ccname;
}

static CtConfig *
est_config(const gchar *extra)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_strdup_printf(
	    "[service]\n"
	    "protocol=est\n"
	    "url=%s\n"
	    "ca-file=%s\n"
	    "timeout=20\n"
	    "[retry]\n"
	    "max-attempts=4\n"
	    "initial-delay=0.01\n"
	    "max-delay=0.05\n"
	    "%s",
	    env("CERTTETHER_TEST_EST_URL"), env("CERTTETHER_TEST_CA"), extra != NULL ? extra : "");
	CtConfig *config = ct_config_load_data(text, strlen(text), "test.conf", NULL, &error);
	g_assert_no_error(error);
	return config;
}

/* [identity] for TLS client-certificate authentication with these files */
static CtConfig *
cert_config(const gchar *cert, const gchar *key)
{
	g_autofree gchar *identity = g_strdup_printf("[identity]\n"
	                                             "auth=certificate\n"
	                                             "client-cert=%s\n"
	                                             "client-key=%s\n",
	                                             cert, key);
	return est_config(identity);
}

/* run the openssl command line (to make files this test needs, independently of the engine) */
static void
run_openssl(const gchar *const *args)
{
	g_autoptr(GPtrArray) argv = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	g_autofree gchar *err = NULL;
	gint status = 0;
	g_ptr_array_add(argv, (gpointer) "openssl");
	for (guint i = 0; args[i] != NULL; i++)
		g_ptr_array_add(argv, (gpointer)args[i]);
	g_ptr_array_add(argv, NULL);
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv->pdata, NULL,
	                           G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL, NULL, NULL,
	                           NULL, &err, &status, &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(status, NULL))
		g_error("openssl %s failed: %s", args[0], err);
}

static CtConfig *
certprov_config(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text =
	    g_strdup_printf("[service]\n"
	                    "protocol=certprov\n"
	                    "url=%s\n"
	                    "ca-file=%s\n"
	                    "timeout=20\n"
	                    "[retry]\n"
	                    "max-attempts=4\n"
	                    "initial-delay=0.01\n"
	                    "max-delay=0.05\n",
	                    env("CERTTETHER_TEST_CERTPROV_URL"), env("CERTTETHER_TEST_CA"));
	CtConfig *config = ct_config_load_data(text, strlen(text), "test.conf", NULL, &error);
	g_assert_no_error(error);
	return config;
}

typedef struct {
	GPtrArray *progress; /* CtEnrollProgress copies */
	GPtrArray *steps;    /* step names */
} Observed;

static void
on_progress(const CtEnrollProgress *progress, gpointer user_data)
{
	Observed *o = user_data;
	CtEnrollProgress *copy = g_memdup2(progress, sizeof(*progress));
	copy->error = NULL;
	g_assert_nonnull(progress->error);
	g_test_message("attempt %u/%u failed (%s); next in %.3f s (Retry-After %.1f)",
	               progress->attempt, progress->max_attempts, progress->error->message,
	               progress->delay, progress->retry_after);
	g_ptr_array_add(o->progress, copy);
}

static void
on_step(const CtEnrollStep *step, gpointer user_data)
{
	Observed *o = user_data;
	g_ptr_array_add(o->steps, g_strdup_printf("%s:%s", step->name, step->ok ? "ok" : "failed"));
}

static void
observed_clear(Observed *o)
{
	g_clear_pointer(&o->progress, g_ptr_array_unref);
	g_clear_pointer(&o->steps, g_ptr_array_unref);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Observed, observed_clear)

static gchar *
prompt_password(const gchar *prompt, gpointer user_data)
{
	g_assert_nonnull(strstr(prompt, "alice@TEST.LOCAL"));
	return g_strdup(user_data);
}

/* one enrollment through the engine, as the daemon does it */
static CtEnrollResult *
enroll(CtConfig *config,
       CtCredentials *credentials,
       GBytes *csr,
       gboolean renewal,
       gboolean fetch_aia,
       Observed *o,
       GError **error)
{
	g_autoptr(CtEnrollment) e = ct_enrollment_new(config, credentials, error);
	CtEnrollRequest req = {.csr_der = csr,
	                       .sip_uri = NULL, /* resolved from the Kerberos principal */
	                       .device_id = "{3341A23E-2CE7-51B8-8668-EC1F58BDC006}",
	                       .renewal = renewal};
	if (e == NULL)
		return NULL;
	/* hermetic: only ca-file anchors (the test root is not in the system store anyway) */
	ct_enrollment_set_use_system_store(e, FALSE);
	ct_enrollment_set_fetch_aia(e, fetch_aia);
	o->progress = g_ptr_array_new_with_free_func(g_free);
	o->steps = g_ptr_array_new_with_free_func(g_free);
	ct_enrollment_set_progress_func(e, on_progress, o, NULL);
	ct_enroll_backend_set_step_func(ct_enrollment_get_backend(e), on_step, o, NULL);
	return ct_enrollment_run(e, &req, NULL, error);
}

static gchar *
write_pem(const gchar *name, CtX509Stack *certs, X509 *single)
{
	g_autofree gchar *path = g_build_filename(workdir, name, NULL);
	FILE *f = fopen(path, "w");
	g_assert_nonnull(f);
	if (single != NULL)
		g_assert_true(PEM_write_X509(f, single));
	for (int i = 0; certs != NULL && i < sk_X509_num(certs); i++)
		g_assert_true(PEM_write_X509(f, sk_X509_value(certs, i)));
	fclose(f);
	return g_steal_pointer(&path);
}

/* `openssl verify` on what the phone would get: anchors, intermediates, leaf */
static void
assert_openssl_verifies(CtEnrollResult *result)
{
	g_autofree gchar *leaf = write_pem("leaf.pem", NULL, result->leaf);
	g_autofree gchar *chain = write_pem("chain.pem", result->chain, NULL);
	g_autofree gchar *anchors = write_pem("anchors.pem", result->anchors, NULL);
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	g_autofree gchar *want = g_strdup_printf("%s: OK\n", leaf);
	g_autoptr(GError) error = NULL;
	gint status = 0;
	const gchar *argv[] = {"openssl", "verify",     "-purpose", "sslclient", "-CAfile",
	                       anchors,   "-untrusted", chain,      leaf,        NULL};
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL,
	                           &out, &err, &status, &error));
	g_assert_no_error(error);
	g_test_message("openssl verify: %s%s", out, err);
	g_assert_true(g_spawn_check_wait_status(status, NULL));
	g_assert_cmpstr(out, ==, want);
	g_unlink(leaf);
	g_unlink(chain);
	g_unlink(anchors);
}

static X509 *
load_first_cert(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtX509Stack) certs = ct_x509_load_pem_file(path, &error);
	X509 *c;
	g_assert_no_error(error);
	c = sk_X509_value(certs, 0);
	X509_up_ref(c);
	return c;
}

/* the fixtures' request log grows by one line per request they handle */
static guint
log_lines(void)
{
	g_autofree gchar *text = NULL;
	guint n = 0;
	if (!g_file_get_contents(env("CERTTETHER_TEST_LOG"), &text, NULL, NULL))
		return 0;
	for (const gchar *p = text; *p != '\0'; p++)
		n += *p == '\n';
	return n;
}

static gchar *
log_tail(void)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n;
	if (!g_file_get_contents(env("CERTTETHER_TEST_LOG"), &text, NULL, NULL))
		return g_strdup("");
	lines = g_strsplit(g_strstrip(text), "\n", -1);
	n = g_strv_length(lines);
	return g_strdup(n > 0 ? lines[n - 1] : "");
}

/*
 * Switch the ticket cache GSS-API (and libcurl's Negotiate) reads. Between test
 * cases no request is in flight; libc's setenv because g_setenv() logs a debug
 * complaint once any thread (here GDBus's, from the keyring lookup) exists.
 */
static void
use_ccache(const gchar *ccname)
{
	g_assert_cmpint(setenv("KRB5CCNAME", ccname, 1), ==, 0);
}

static void
setup_each(void)
{
	/* every case starts with alice's ticket and no knob set */
	use_ccache(alice_ccache);
	control("--reset", NULL);
}

/* ---- the cases ---- */

static void
test_negotiate_enroll(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_autoptr(X509) root = load_first_cert(env("CERTTETHER_TEST_CA"));
	g_autoptr(X509) issuing = load_first_cert(env("CERTTETHER_TEST_ISSUING_CA"));
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *published = NULL;
	g_autofree gchar *leaf_pem = NULL;

	setup_each();
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpuint(result->attempts, ==, 1);
	g_assert_cmpuint(o.progress->len, ==, 0);
	g_assert_cmpstr(ct_credentials_get_principal(cred), ==, "alice@TEST.LOCAL");
	g_assert_cmpint(ct_credentials_get_method_in_use(cred), ==, CT_AUTH_METHOD_NEGOTIATE);
	/* the steps the backend took, all fine */
	g_assert_cmpuint(o.steps->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(o.steps, 0), ==, "ca-certs:ok");
	g_assert_cmpstr(g_ptr_array_index(o.steps, 1), ==, "enroll:ok");

	/* the user's identity, the phone's key */
	g_assert_cmpstr(result->sip_uri, ==, "sip:alice@test.local");
	subject = ct_x509_subject_string(result->leaf);
	g_assert_cmpstr(subject, ==, "CN=alice@test.local");
	g_assert_true(ct_identity_cert_names_user(result->leaf, "sip:alice@test.local"));
	g_assert_true(EVP_PKEY_eq(X509_get0_pubkey(result->leaf), key) == 1);
	/* issuing CA in the chain, the test root as the anchor; the TLS chain is under the
	 * same root, so it adds no second anchor */
	g_assert_cmpint(sk_X509_num(result->chain), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->chain, 0), issuing) == 0);
	g_assert_cmpint(sk_X509_num(result->anchors), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 0), root) == 0);
	g_assert_cmpint(sk_X509_num(result->service_tls_chain), ==, 2);
	assert_openssl_verifies(result);

	/* the fixture published what it issued in alice's store */
	g_assert_true(
	    g_file_get_contents(env("CERTTETHER_TEST_PUBLISHED"), &published, NULL, NULL));
	leaf_pem = ct_x509_to_pem(result->leaf);
	g_assert_nonnull(strstr(published, leaf_pem));
}

static void
test_reenroll_with_label(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_AUTO, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *tail = NULL;

	setup_each();
	g_assert_true(
	    ct_config_set_value(config, "service", "est-label", "phones", "test", &error));
	result = enroll(config, cred, csr, TRUE, TRUE, &o, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(result->attempts, ==, 1);
	tail = log_tail();
	g_test_message("fixture log: %s", tail);
	g_assert_nonnull(strstr(tail, "phones/simplereenroll"));
	g_assert_nonnull(strstr(tail, "renewed"));
	assert_openssl_verifies(result);
}

static void
test_no_ticket(void)
{
	CtAuthMethod methods[] = {CT_AUTH_METHOD_NEGOTIATE, CT_AUTH_METHOD_AUTO};
	g_autofree gchar *none = g_strdup_printf("FILE:%s/no-such-ccache", workdir);
	setup_each();
	use_ccache(none);
	for (guint i = 0; i < G_N_ELEMENTS(methods); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CtConfig) config = est_config(NULL);
		g_autoptr(CtCredentials) cred = ct_credentials_new(methods[i], NULL);
		g_autoptr(EVP_PKEY) key = make_key();
		g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
		g_auto(Observed) o = {0};
		guint before = log_lines();
		g_autoptr(CtEnrollResult) result =
		    enroll(config, cred, csr, FALSE, TRUE, &o, &error);
		g_assert_null(result);
		g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
		g_assert_cmpstr(error->message, ==,
		                "no Kerberos ticket for this session: run kinit");
		g_assert_false(ct_error_is_transient(error));
		/* not retried, and nothing was sent */
		g_assert_cmpuint(o.progress->len, ==, 0);
		g_assert_cmpuint(o.steps->len, ==, 0);
		g_assert_cmpuint(log_lines(), ==, before);
	}
}

static void
test_expired_ticket(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_autofree gchar *short_lived = NULL;
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	g_autoptr(CtCredentials) fresh = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(GError) error_fresh = NULL;

	setup_each();
	short_lived = kinit(env("CERTTETHER_TEST_USER"), env("CERTTETHER_TEST_PASSWORD"), "2s");
	use_ccache(short_lived);
	/* the daemon's case: the session had a valid ticket, which then expires */
	g_assert_true(ct_credentials_ensure(cred, env("CERTTETHER_TEST_EST_URL"), &error));
	g_assert_no_error(error);
	/* let it expire (waiting, not measuring) */
	g_usleep(3 * G_USEC_PER_SEC);
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
	g_assert_cmpstr(error->message, ==,
	                "the Kerberos ticket for alice@TEST.LOCAL has expired: run kinit");
	g_assert_cmpuint(o.progress->len, ==, 0);
	g_assert_cmpuint(o.steps->len, ==, 0);

	/* a process that never saw the ticket valid: MIT GSS-API does not say whose it was */
	g_assert_false(ct_credentials_ensure(fresh, env("CERTTETHER_TEST_EST_URL"), &error_fresh));
	g_assert_error(error_fresh, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
	g_assert_cmpstr(error_fresh->message, ==,
	                "the Kerberos ticket of this session has expired: run kinit");
}

static void
test_basic_password(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred =
	    ct_credentials_new(CT_AUTH_METHOD_BASIC, env("CERTTETHER_TEST_USER"));
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_autofree gchar *none = g_strdup_printf("FILE:%s/no-such-ccache", workdir);
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	/* no ticket at all: the password is what authenticates */
	use_ccache(none);
	ct_credentials_set_prompt_func(cred, prompt_password,
	                               g_strdup(env("CERTTETHER_TEST_PASSWORD")), g_free);
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_no_error(error);
	g_assert_cmpint(ct_credentials_get_method_in_use(cred), ==, CT_AUTH_METHOD_BASIC);
	g_assert_true(ct_identity_cert_names_user(result->leaf, "sip:alice@test.local"));
	assert_openssl_verifies(result);
}

static void
test_basic_wrong_password(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred =
	    ct_credentials_new(CT_AUTH_METHOD_BASIC, env("CERTTETHER_TEST_USER"));
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	ct_credentials_set_prompt_func(cred, prompt_password, g_strdup("not-the-password"), g_free);
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	g_test_message("%s", error->message);
	g_assert_true(g_str_has_prefix(error->message,
	                               "EST simpleenroll: the server refused the "
	                               "credentials of alice@TEST.LOCAL (HTTP 401)"));
	g_assert_null(strstr(error->message, "not-the-password"));
	/* not retried: one enrollment request */
	g_assert_cmpuint(o.progress->len, ==, 0);
	g_assert_cmpstr(g_ptr_array_index(o.steps, o.steps->len - 1), ==, "enroll:failed");
}

static void
test_basic_no_password(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred =
	    ct_credentials_new(CT_AUTH_METHOD_BASIC, env("CERTTETHER_TEST_USER"));
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	/* no keyring in this session and no terminal prompt (the daemon's case) */
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "secret-tool store"));
	g_assert_nonnull(strstr(error->message, "run from a terminal"));
}

static void
test_refused_user(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config("[identity]\nsip-uri=sip:mallory@test.local\n");
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:mallory@test.local");
	g_autofree gchar *mallory = NULL;
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	mallory = kinit(env("CERTTETHER_TEST_REFUSED_USER"),
	                env("CERTTETHER_TEST_REFUSED_PASSWORD"), NULL);
	use_ccache(mallory);
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	g_test_message("%s", error->message);
	g_assert_nonnull(strstr(error->message, "mallory@TEST.LOCAL"));
	g_assert_nonnull(strstr(error->message, "not allowed to enroll"));
	g_assert_cmpuint(o.progress->len, ==, 0);
}

static void
test_store_unavailable_twice(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	CtBackoffPolicy policy;

	setup_each();
	control("store-unavailable", "2");
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	/* obtained on the third attempt, the two failures visible with their waits */
	g_assert_cmpuint(result->attempts, ==, 3);
	g_assert_cmpuint(o.progress->len, ==, 2);
	ct_backoff_policy_init(&policy, config);
	for (guint i = 0; i < o.progress->len; i++) {
		CtEnrollProgress *p = g_ptr_array_index(o.progress, i);
		g_assert_cmpuint(p->attempt, ==, i + 1);
		g_assert_cmpuint(p->max_attempts, ==, 4);
		/* the fixture sends Retry-After: 1, which max-delay (0.05 s) bounds */
		g_assert_cmpfloat(p->retry_after, ==, 1.0);
		g_assert_cmpfloat(p->delay, >=, 0.0);
		g_assert_cmpfloat(p->delay, <=, policy.max_delay);
	}
	g_assert_true(ct_identity_cert_names_user(result->leaf, "sip:alice@test.local"));
	assert_openssl_verifies(result);
}

static void
test_store_unavailable_gives_up(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	control("store-unavailable", "always");
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_STORE_UNAVAILABLE);
	g_test_message("%s", error->message);
	g_assert_true(g_str_has_prefix(error->message, "gave up after 4 attempts: "));
	g_assert_cmpuint(o.progress->len, ==, 3);
	control("store-unavailable", NULL);
}

static void
test_wrong_key(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	control("wrong-key", "1");
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_assert_cmpstr(error->message, ==,
	                "the issued certificate is for a different key than the phone's request");
	g_assert_cmpuint(o.progress->len, ==, 0);
}

static void
test_unknown_root(void)
{
	gboolean aia[] = {TRUE, FALSE};
	/* with AIA the chain is completed up to the unknown root; without, the issuer */
	const gchar *named[] = {"the issuer 'CN=certtether Unknown Root CA,O=certtether test' is "
	                        "not trusted and no chain leads to a trust anchor",
	                        "the issuer 'CN=certtether Unknown Issuing CA,O=certtether test' "
	                        "is not trusted and no chain leads to a trust anchor"};
	for (guint i = 0; i < G_N_ELEMENTS(aia); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CtConfig) config = est_config(NULL);
		g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
		g_autoptr(EVP_PKEY) key = make_key();
		g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
		g_auto(Observed) o = {0};
		g_autoptr(CtEnrollResult) result = NULL;
		setup_each();
		control("unknown-root", "1");
		result = enroll(config, cred, csr, FALSE, aia[i], &o, &error);
		g_assert_null(result);
		g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
		g_test_message("%s", error->message);
		g_assert_true(g_str_has_prefix(error->message, named[i]));
		g_assert_cmpuint(o.progress->len, ==, 0);
	}
}

static void
test_aia_completes_chain(void)
{
	/* an issued certificate alone (no CA download): AIA finds the issuing CA */
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_autoptr(EVP_PKEY) csr_key = ct_verify_csr_public_key(csr, &error);
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) issued = NULL;
	g_autoptr(CtEnrollResult) via_aia = NULL;
	g_autoptr(CtEnrollResult) without = NULL;
	CtVerifyParams p = {0};

	setup_each();
	issued = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_no_error(error);
	p.csr_key = csr_key;
	p.sip_uri = "sip:alice@test.local";
	p.certificate = issued->leaf;
	p.ca_file = env("CERTTETHER_TEST_CA");
	p.no_system_store = TRUE;
	p.timeout_s = 10;
	p.fetch_aia = TRUE;
	via_aia = ct_verify_issued(&p, NULL, &error);
	g_assert_no_error(error);
	g_assert_cmpint(sk_X509_num(via_aia->chain), ==, 1);
	p.fetch_aia = FALSE;
	without = ct_verify_issued(&p, NULL, &error);
	g_assert_null(without);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_assert_nonnull(strstr(error->message, "certtether Test Issuing CA"));
}

static void
test_untrusted_tls(void)
{
	/* ca-file holds another root: the web service's TLS chain is refused, naming its root */
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL);
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	g_assert_true(ct_config_set_value(config, "service", "ca-file",
	                                  env("CERTTETHER_TEST_UNKNOWN_CA"), "test", &error));
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED);
	g_test_message("%s", error->message);
	g_assert_cmpstr(error->message, ==,
	                "the certificate chain of localhost ends at 'CN=certtether Test Root "
	                "CA,O=certtether test' which is not trusted: add it to ca-file");
	g_assert_cmpuint(o.progress->len, ==, 0);
}

static void
test_probe_chain(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtX509Stack) good = NULL;
	g_autoptr(CtX509Stack) bad = NULL;
	g_autofree gchar *why = NULL;
	gboolean verified = FALSE;
	g_autofree gchar *leaf = NULL;

	setup_each();
	g_assert_true(ct_http_probe_tls_chain(env("CERTTETHER_TEST_EST_URL"),
	                                      env("CERTTETHER_TEST_CA"), &good, &verified, &error));
	g_assert_no_error(error);
	g_assert_true(verified);
	g_assert_cmpint(sk_X509_num(good), ==, 2);
	leaf = ct_x509_subject_string(sk_X509_value(good, 0));
	g_assert_cmpstr(leaf, ==, "CN=localhost,O=certtether test");

	/* without the anchor: still the chain, not verified, and why */
	g_assert_true(ct_http_probe_tls_chain_full(env("CERTTETHER_TEST_EST_URL"),
	                                           env("CERTTETHER_TEST_UNKNOWN_CA"), 10, NULL,
	                                           &bad, &verified, &why, &error));
	g_assert_no_error(error);
	g_assert_false(verified);
	g_assert_cmpint(sk_X509_num(bad), ==, 2);
	g_assert_nonnull(strstr(why, "certtether Test Root CA"));
}

static void
test_timeout_retried(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = est_config(NULL); /* timeout and attempts lowered below */
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	g_assert_true(ct_config_set_value(config, "service", "timeout", "1", "test", &error));
	g_assert_true(ct_config_set_value(config, "retry", "max-attempts", "2", "test", &error));
	control("slow", "3");
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_TIMEOUT);
	g_test_message("%s", error->message);
	g_assert_true(g_str_has_prefix(error->message, "gave up after 2 attempts: "));
	g_assert_cmpuint(o.progress->len, ==, 1);
	control("slow", NULL);
}

/* a ticket cache that holds nothing: the session has no Kerberos ticket at all */
static void
use_no_ticket(void)
{
	g_autofree gchar *none = g_strdup_printf("FILE:%s/no-such-ccache", workdir);
	g_autoptr(CtCredentials) kerberos = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
	g_autoptr(GError) error = NULL;
	use_ccache(none);
	g_assert_false(ct_credentials_ensure(kerberos, env("CERTTETHER_TEST_EST_URL"), &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
}

/* the enroll lines of the fixtures' log: proof of what reached the EST CGI */
static guint
est_enroll_lines(void)
{
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;
	guint n = 0;
	if (!g_file_get_contents(env("CERTTETHER_TEST_LOG"), &text, NULL, NULL))
		return 0;
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++)
		n += strstr(lines[i], " est ") != NULL && strstr(lines[i], "enroll ") != NULL;
	return n;
}

static void
test_client_certificate(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config =
	    cert_config(env("CERTTETHER_TEST_CLIENT_CERT"), env("CERTTETHER_TEST_CLIENT_KEY"));
	g_autoptr(CtCredentials) cred = ct_config_new_credentials(config);
	g_autoptr(EVP_PKEY) key = make_key();
	/* the CSR asks for bob: the server must issue for the certificate's user anyway */
	g_autoptr(GBytes) csr = make_csr(key, "sip:bob@test.local");
	g_autoptr(EVP_PKEY) renew_key = make_key();
	g_autoptr(GBytes) renew_csr = make_csr(renew_key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_auto(Observed) o2 = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	g_autoptr(CtEnrollResult) renewed = NULL;
	g_autoptr(CtConfig) renew_config = NULL;
	g_autoptr(CtCredentials) renew_cred = NULL;
	g_autofree gchar *subject = NULL;
	g_autofree gchar *tail = NULL;
	g_autofree gchar *leaf_pem = NULL;
	g_autofree gchar *leaf_key = g_build_filename(workdir, "issued.key", NULL);
	g_autofree gchar *leaf_file = NULL;
	g_autofree gchar *published = NULL;
	FILE *f;

	setup_each();
	use_no_ticket();
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpuint(result->attempts, ==, 1);
	g_assert_cmpint(ct_credentials_get_method_in_use(cred), ==, CT_AUTH_METHOD_CERTIFICATE);
	g_assert_cmpstr(ct_credentials_get_principal(cred), ==, "CN=alice@test.local");
	g_assert_cmpuint(o.steps->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(o.steps, 0), ==, "ca-certs:ok");
	g_assert_cmpstr(g_ptr_array_index(o.steps, 1), ==, "enroll:ok");
	/* the user is the certificate's (no sip-uri configured), the key the phone's */
	g_assert_cmpstr(result->sip_uri, ==, "sip:alice@test.local");
	subject = ct_x509_subject_string(result->leaf);
	g_assert_cmpstr(subject, ==, "CN=alice@test.local");
	g_assert_true(ct_identity_cert_names_user(result->leaf, "sip:alice@test.local"));
	g_assert_false(ct_identity_cert_names_user(result->leaf, "sip:bob@test.local"));
	g_assert_true(EVP_PKEY_eq(X509_get0_pubkey(result->leaf), key) == 1);
	assert_openssl_verifies(result);
	/* the fixture saw a certificate-authenticated user */
	tail = log_tail();
	g_test_message("fixture log: %s", tail);
	g_assert_nonnull(strstr(tail, " est simpleenroll user=alice@test.local issued serial="));
	g_assert_true(g_str_has_suffix(tail, " auth=certificate"));
	g_assert_true(
	    g_file_get_contents(env("CERTTETHER_TEST_PUBLISHED"), &published, NULL, NULL));
	leaf_pem = ct_x509_to_pem(result->leaf);
	g_assert_nonnull(strstr(published, leaf_pem));

	/* the certificate just obtained (and its key) authenticates the renewal */
	leaf_file = write_pem("issued.pem", result->chain, result->leaf);
	f = fopen(leaf_key, "w");
	g_assert_nonnull(f);
	g_assert_true(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL));
	fclose(f);
	g_assert_cmpint(g_chmod(leaf_key, 0600), ==, 0);
	renew_config = cert_config(leaf_file, leaf_key);
	renew_cred = ct_config_new_credentials(renew_config);
	renewed = enroll(renew_config, renew_cred, renew_csr, TRUE, TRUE, &o2, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(renewed->sip_uri, ==, "sip:alice@test.local");
	g_assert_true(EVP_PKEY_eq(X509_get0_pubkey(renewed->leaf), renew_key) == 1);
	assert_openssl_verifies(renewed);
	g_free(tail);
	tail = log_tail();
	g_test_message("fixture log: %s", tail);
	g_assert_nonnull(strstr(tail, " est simplereenroll user=alice@test.local renewed serial="));
	g_assert_true(g_str_has_suffix(tail, " auth=certificate"));
	g_unlink(leaf_file);
	g_unlink(leaf_key);
}

static void
test_client_certificate_wrong_key(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *other_key = g_build_filename(workdir, "other.key", NULL);
	const gchar *genkey[] = {
	    "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-out",    other_key,    NULL};
	g_autoptr(CtConfig) config = NULL;
	g_autoptr(CtCredentials) cred = NULL;
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *want = NULL;
	guint before;

	setup_each();
	use_no_ticket();
	run_openssl(genkey);
	g_assert_cmpint(g_chmod(other_key, 0600), ==, 0);
	config = cert_config(env("CERTTETHER_TEST_CLIENT_CERT"), other_key);
	cred = ct_config_new_credentials(config);
	before = log_lines();
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_test_message("%s", error->message);
	want = g_strdup_printf("the client key %s does not belong to the client certificate %s "
	                       "('CN=alice@test.local'): set [identity] client-key to that "
	                       "certificate's key",
	                       other_key, env("CERTTETHER_TEST_CLIENT_CERT"));
	g_assert_cmpstr(error->message, ==, want);
	/* said before anything was sent: no step, no retry, nothing in the request log */
	g_assert_cmpuint(o.steps->len, ==, 0);
	g_assert_cmpuint(o.progress->len, ==, 0);
	g_assert_cmpuint(log_lines(), ==, before);
	g_unlink(other_key);
}

static void
test_client_certificate_untrusted(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cert = g_build_filename(workdir, "self-signed.pem", NULL);
	g_autofree gchar *key_file = g_build_filename(workdir, "self-signed.key", NULL);
	/* a certificate that names alice and is meant for clients, but nobody issued it */
	const gchar *req[] = {"req",
	                      "-x509",
	                      "-newkey",
	                      "ec",
	                      "-pkeyopt",
	                      "ec_paramgen_curve:P-256",
	                      "-nodes",
	                      "-keyout",
	                      key_file,
	                      "-subj",
	                      "/CN=alice@test.local",
	                      "-addext",
	                      "subjectAltName=URI:sip:alice@test.local",
	                      "-addext",
	                      "extendedKeyUsage=clientAuth",
	                      "-days",
	                      "1",
	                      "-out",
	                      cert,
	                      NULL};
	g_autoptr(CtConfig) config = NULL;
	g_autoptr(CtCredentials) cred = NULL;
	g_autoptr(EVP_PKEY) key = make_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *want = NULL;
	guint before;

	setup_each();
	use_no_ticket();
	run_openssl(req);
	g_assert_cmpint(g_chmod(key_file, 0600), ==, 0);
	config = cert_config(cert, key_file);
	cred = ct_config_new_credentials(config);
	before = est_enroll_lines();
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	/* Apache (mod_ssl) refuses it in the TLS handshake, with the alert 'unknown CA' */
	g_assert_error(error, CT_ERROR, CT_ERROR_AUTH_FAILED);
	g_test_message("%s", error->message);
	want = g_strdup_printf("localhost refused the TLS client certificate %s (TLS alert: "
	                       "unknown CA): the service must trust its issuer, and it must be "
	                       "valid and meant for client authentication",
	                       cert);
	g_assert_cmpstr(error->message, ==, want);
	/* permanent: not retried; the request never reached the EST fixture */
	g_assert_cmpuint(o.progress->len, ==, 0);
	g_assert_cmpstr(g_ptr_array_index(o.steps, o.steps->len - 1), ==, "enroll:failed");
	g_assert_cmpuint(est_enroll_lines(), ==, before);
	g_unlink(cert);
	g_unlink(key_file);
}

/* CertProv through the same engine path (the backend's own cases: test-certprov) */
static void
test_certprov_store_unavailable_twice(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = certprov_config();
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_AUTO, NULL);
	g_autoptr(EVP_PKEY) key = make_rsa_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_autoptr(X509) root = load_first_cert(env("CERTTETHER_TEST_CA"));
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;
	g_autofree gchar *published = NULL;
	g_autofree gchar *leaf_pem = NULL;
	g_autofree gchar *subject = NULL;

	setup_each();
	control("store-unavailable", "2");
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_no_error(error);
	g_assert_nonnull(result);
	g_assert_cmpuint(result->attempts, ==, 3);
	g_assert_cmpuint(o.progress->len, ==, 2);
	for (guint i = 0; i < o.progress->len; i++) {
		CtEnrollProgress *p = g_ptr_array_index(o.progress, i);
		g_assert_cmpuint(p->attempt, ==, i + 1);
		g_assert_cmpfloat(p->delay, >=, 0.0);
		g_assert_cmpfloat(p->delay, <=, 0.05);
	}
	subject = ct_x509_subject_string(result->leaf);
	g_assert_cmpstr(subject, ==, "CN=alice@test.local");
	g_assert_true(ct_identity_cert_names_user(result->leaf, "sip:alice@test.local"));
	g_assert_true(EVP_PKEY_eq(X509_get0_pubkey(result->leaf), key) == 1);
	g_assert_cmpint(sk_X509_num(result->anchors), ==, 1);
	g_assert_true(X509_cmp(sk_X509_value(result->anchors, 0), root) == 0);
	assert_openssl_verifies(result);
	/* obtained AND published in the user's store */
	g_assert_true(
	    g_file_get_contents(env("CERTTETHER_TEST_PUBLISHED"), &published, NULL, NULL));
	leaf_pem = ct_x509_to_pem(result->leaf);
	g_assert_nonnull(strstr(published, leaf_pem));
}

static void
test_certprov_no_ticket(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) config = certprov_config();
	g_autoptr(CtCredentials) cred = ct_credentials_new(CT_AUTH_METHOD_AUTO, NULL);
	g_autoptr(EVP_PKEY) key = make_rsa_key();
	g_autoptr(GBytes) csr = make_csr(key, "sip:alice@test.local");
	g_autofree gchar *none = g_strdup_printf("FILE:%s/no-such-ccache", workdir);
	g_auto(Observed) o = {0};
	g_autoptr(CtEnrollResult) result = NULL;

	setup_each();
	use_ccache(none);
	result = enroll(config, cred, csr, FALSE, TRUE, &o, &error);
	g_assert_null(result);
	g_assert_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS);
	g_assert_cmpstr(error->message, ==, "no Kerberos ticket for this session: run kinit");
	g_assert_cmpuint(o.progress->len, ==, 0);
}

int
main(int argc, char **argv)
{
	int rc;
	g_test_init(&argc, &argv, NULL);
	workdir = g_dir_make_tmp("ct-test-enroll-XXXXXX", NULL);
	alice_ccache = g_strdup(env("KRB5CCNAME"));
	/* no Secret Service here: a password comes from the prompt or nowhere */
	g_setenv("DBUS_SESSION_BUS_ADDRESS", "unix:path=/nonexistent/certtether-test-bus", TRUE);
	/* the servers are on loopback in our namespace: never through a proxy */
	g_setenv("no_proxy", "*", TRUE);

	g_test_add_func("/enroll/est/negotiate", test_negotiate_enroll);
	g_test_add_func("/enroll/est/reenroll-with-label", test_reenroll_with_label);
	g_test_add_func("/enroll/est/no-ticket", test_no_ticket);
	g_test_add_func("/enroll/est/expired-ticket", test_expired_ticket);
	g_test_add_func("/enroll/est/basic-password", test_basic_password);
	g_test_add_func("/enroll/est/basic-wrong-password", test_basic_wrong_password);
	g_test_add_func("/enroll/est/basic-no-password", test_basic_no_password);
	g_test_add_func("/enroll/est/refused-user", test_refused_user);
	g_test_add_func("/enroll/est/store-unavailable-twice", test_store_unavailable_twice);
	g_test_add_func("/enroll/est/store-unavailable-gives-up", test_store_unavailable_gives_up);
	g_test_add_func("/enroll/est/wrong-key", test_wrong_key);
	g_test_add_func("/enroll/est/unknown-root", test_unknown_root);
	g_test_add_func("/enroll/est/aia-completes-chain", test_aia_completes_chain);
	g_test_add_func("/enroll/est/untrusted-tls", test_untrusted_tls);
	g_test_add_func("/enroll/est/probe-chain", test_probe_chain);
	g_test_add_func("/enroll/est/timeout-retried", test_timeout_retried);
	g_test_add_func("/enroll/est/client-certificate", test_client_certificate);
	g_test_add_func("/enroll/est/client-certificate-wrong-key",
	                test_client_certificate_wrong_key);
	g_test_add_func("/enroll/est/client-certificate-untrusted",
	                test_client_certificate_untrusted);
	g_test_add_func("/enroll/certprov/store-unavailable-twice",
	                test_certprov_store_unavailable_twice);
	g_test_add_func("/enroll/certprov/no-ticket", test_certprov_no_ticket);
	rc = g_test_run();

	/* kinit'ed ccaches of this run */
	{
		g_autoptr(GDir) dir = g_dir_open(workdir, 0, NULL);
		const gchar *name;
		while (dir != NULL && (name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *path = g_build_filename(workdir, name, NULL);
			g_unlink(path);
		}
	}
	g_rmdir(workdir);
	g_free(workdir);
	g_free(alice_ccache);
	return rc;
}
