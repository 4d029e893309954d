/*
 * certtether test client-auth: like Test-CsClientAuth. Find the service, check
 * its TLS chain, authenticate with the desktop's credentials, obtain a
 * certificate for the user for a throwaway key made in memory, and verify it
 * exactly as a phone's certificate is verified (CtEnrollment). Each step is
 * reported with its result and latency; a failure says what to do.
 */
#include "daemon/engine/ct-cert-info.h"
#include "daemon/engine/ct-enrollment.h"
#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-x509.h"
#include "ui-cli/ctcli-test.h"
#include "ui-cli/ctcli-verb.h"

/* what the backend's steps tell us about where a failure came from */
typedef struct {
	CtcliTestReport *report;
	gint64 last_step_end; /* monotonic µs */
	gboolean step_failed;
	guint steps;
} CtcliClientAuthSteps;

static void
ctcli_client_auth_on_step(const CtEnrollStep *step, gpointer user_data)
{
	CtcliClientAuthSteps *steps = user_data;
	steps->last_step_end = g_get_monotonic_time();
	steps->steps++;
	if (!step->ok)
		steps->step_failed = TRUE;
	ctcli_test_report_backend_step(step, steps->report);
}

static gchar *
ctcli_client_auth_prompt(const gchar *prompt, gpointer user_data)
{
	(void)user_data;
	return ctcli_prompt_secret(prompt);
}

/* what to do about a failure, by its class (the message says what happened) */
static gchar *
ctcli_client_auth_diagnosis(const GError *error, const gchar *step, const gchar *url)
{
	const gchar *download_failed = "Could not download a certificate for the given user. "
	                               "Check if the provided URI and credentials are correct.";
	if (error->domain != CT_ERROR)
		return g_strdup(download_failed);
	switch ((CtError)error->code) {
	case CT_ERROR_NO_CREDENTIALS:
		return g_strdup_printf(
		    "No credentials to authenticate with. Run kinit to get a Kerberos ticket "
		    "(the ticket cache is %s), then run this test again.",
		    g_getenv("KRB5CCNAME") != NULL ? g_getenv("KRB5CCNAME")
		                                   : "the default one; KRB5CCNAME is not set");
	case CT_ERROR_AUTH_FAILED:
		return g_strdup_printf(
		    "%s The service refused the credentials: check that the user "
		    "is enabled for the service and that --user-sip-address "
		    "names the signed-in user (klist shows who that is).",
		    download_failed);
	case CT_ERROR_CHAIN_UNTRUSTED:
		if (g_strcmp0(step, "tls") == 0)
			return g_strdup_printf(
			    "The web service's TLS certificate does not lead to a trust anchor of "
			    "this "
			    "machine. Add the missing root CA with --ca-file PEM (or ca-file= in "
			    "[service] of certtether.conf); 'certtether test chain --target-url "
			    "%s' "
			    "lists the chain.",
			    url);
		return g_strdup(
		    "The issued certificate does not lead to a trust anchor of this "
		    "machine. Add the issuing CA's root with --ca-file PEM (or ca-file= in "
		    "certtether.conf); phones would refuse it the same way.");
	case CT_ERROR_CERT_INVALID:
		return g_strdup(
		    "The service issued a certificate that fails verification (see "
		    "Error): a phone would refuse it. Check the CA's certificate template "
		    "(subject or SAN = the user, clientAuth EKU, validity).");
	case CT_ERROR_UNREACHABLE:
	case CT_ERROR_TIMEOUT:
		return g_strdup_printf("The web service could not be reached. Check the URL (%s), "
		                       "name resolution, firewalls and that the service runs; "
		                       "--target-url or --target-fqdn bypass the configuration.",
		                       url);
	case CT_ERROR_STORE_UNAVAILABLE:
		return g_strdup("The service could not issue or publish the certificate now (the "
		                "user's data store is unavailable, or the service failed). This is "
		                "transient: retry later; if it persists, check the user's home "
		                "pool and its back-end store.");
	case CT_ERROR_REJECTED:
		return g_strdup_printf("%s The service refused the request: check the URL "
		                       "(…%s) and --protocol.",
		                       download_failed,
		                       g_str_has_suffix(url, ".svc")
		                           ? "/CertProv/CertProvisioningService.svc"
		                           : " or the EST base /.well-known/est");
	case CT_ERROR_PROTOCOL:
		return g_strdup("The service's answer is not what the protocol expects: check "
		                "--protocol (certprov or est) and the URL.");
	case CT_ERROR_CONFIG:
	case CT_ERROR_INVALID_ARGS:
		return g_strdup(
		    "Fix the option or the configuration named in Error and run the test "
		    "again.");
	default:
		return g_strdup(ct_error_code_hint((CtError)error->code));
	}
}

static void
ctcli_client_auth_fail(CtcliTestReport *report,
                       const GError *error,
                       const gchar *step,
                       const gchar *url)
{
	g_autofree gchar *diagnosis = ctcli_client_auth_diagnosis(error, step, url);
	ctcli_test_report_fail(report, error, diagnosis);
}

/* how the credentials authenticate, for the credentials step */
static const gchar *
ctcli_client_auth_method_label(CtAuthMethod method)
{
	switch (method) {
	case CT_AUTH_METHOD_NEGOTIATE:
		return "Kerberos";
	case CT_AUTH_METHOD_CERTIFICATE:
		return "client certificate";
	default:
		return "password";
	}
}

/* the TLS check on its own, so that an untrusted chain is named before anything is sent */
static gboolean
ctcli_client_auth_check_tls(CtcliTestReport *report, const gchar *url, CtConfig *config)
{
	g_autoptr(GError) error = NULL;

	if (!g_str_has_prefix(url, "https://")) {
		error = g_error_new(CT_ERROR, CT_ERROR_CONFIG,
		                    "%s is plain http: certificates are only requested over https",
		                    url);
		ctcli_test_report_step(report, "tls", url, FALSE, 0, error);
	} else if (ctcli_test_check_tls(report, url, config, &error)) {
		return TRUE;
	}
	ctcli_client_auth_fail(report, error, "tls", url);
	return FALSE;
}

static JsonNode *
ctcli_client_auth_certificate_json(X509 *cert)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(GBytes) der = ct_x509_to_der(cert);
	g_autoptr(CtCertInfo) info = ct_cert_info_new(der, NULL);
	g_autofree gchar *issuer = ct_x509_issuer_string(cert);
	g_autoptr(GDateTime) expiry = NULL;

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "subject");
	json_builder_add_string_value(builder, info != NULL ? info->subject : "?");
	json_builder_set_member_name(builder, "issuer");
	json_builder_add_string_value(builder, issuer);
	json_builder_set_member_name(builder, "serial");
	json_builder_add_string_value(builder, info != NULL ? info->serial : "?");
	json_builder_set_member_name(builder, "sha256");
	json_builder_add_string_value(builder, info != NULL ? info->sha256 : "?");
	if (info != NULL)
		expiry = g_date_time_new_from_unix_utc(info->not_after / G_USEC_PER_SEC);
	if (expiry != NULL) {
		g_autofree gchar *text = g_date_time_format_iso8601(expiry);
		json_builder_set_member_name(builder, "not_after");
		json_builder_add_string_value(builder, text);
	}
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

/* the certificate in a few lines under the verify step */
static void
ctcli_client_auth_show_certificate(CtcliTestReport *report, const CtEnrollResult *result)
{
	g_autoptr(JsonNode) node = ctcli_client_auth_certificate_json(result->leaf);
	JsonObject *obj = json_node_get_object(node);
	ctcli_test_report_note(report, "certificate: %s, serial %s",
	                       json_object_get_string_member(obj, "subject"),
	                       json_object_get_string_member(obj, "serial"));
	ctcli_test_report_note(report, "issued by %s, valid until %s",
	                       json_object_get_string_member(obj, "issuer"),
	                       json_object_get_string_member_with_default(obj, "not_after", "?"));
	if (sk_X509_num(result->anchors) > 0) {
		g_autofree gchar *anchor =
		    ct_x509_subject_string(sk_X509_value(result->anchors, 0));
		ctcli_test_report_note(report, "chains to the trust anchor %s", anchor);
	}
	ctcli_test_report_add_json(report, "Certificate", json_node_copy(node));
}

/* the protocol: --protocol, else what the URL looks like, else the configuration */
static gboolean
ctcli_client_auth_protocol(CtConfig *config,
                           const gchar *name,
                           const gchar *target_url,
                           CtProtocol *protocol,
                           GError **error)
{
	if (name != NULL)
		return ctcli_test_parse_protocol(name, protocol, error);
	if (target_url != NULL && strstr(target_url, "/.well-known/est") != NULL)
		*protocol = CT_PROTOCOL_EST;
	else if (target_url != NULL && strstr(target_url, ".svc") != NULL)
		*protocol = CT_PROTOCOL_CERTPROV;
	else
		*protocol = ct_config_get_protocol(config);
	return TRUE;
}

/* the run once the options are known; the report says how it went */
static void
ctcli_client_auth_run(CtcliContext *ctx,
                      CtcliTestReport *report,
                      CtConfig *config,
                      CtProtocol protocol,
                      const gchar *user,
                      const gchar *target_url,
                      const gchar *target_fqdn)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtCredentials) credentials = NULL;
	g_autoptr(CtEnrollBackend) backend = NULL;
	g_autoptr(CtEnrollment) enrollment = NULL;
	g_autoptr(CtEnrollResult) result = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *sip_uri = NULL;
	g_autofree gchar *own_sip = NULL;
	g_autofree gchar *device_id = NULL;
	g_autofree gchar *target = NULL;
	CtcliClientAuthSteps steps = {.report = report};
	CtEnrollRequest request = {0};
	CtKeyAlgorithm algorithm;
	gint64 t0;

	/* discover: the options bypass the configuration, as -TargetUri does */
	url = ctcli_test_report_target(report, "target", config, protocol,
	                               ct_protocol_to_string(protocol), target_url, target_fqdn,
	                               NULL, &error);
	if (url == NULL) {
		ctcli_client_auth_fail(report, error, "discover", "");
		return;
	}
	if (!ct_config_set_value(config, "service", "url", url, "--target-url", &error) ||
	    !ct_config_set_value(config, "service", "protocol", ct_protocol_to_string(protocol),
	                         "--protocol", &error) ||
	    /* one attempt: a synthetic transaction reports the first failure, it does not wait */
	    !ct_config_set_value(config, "retry", "max-attempts", "1", "certtether test", &error)) {
		ctcli_client_auth_fail(report, error, "discover", url);
		return;
	}

	if (!ctcli_client_auth_check_tls(report, url, config))
		return;

	/* the desktop's credentials: the ticket of KRB5CCNAME (or a password or a client
	 * certificate if configured) */
	t0 = g_get_monotonic_time();
	credentials = ct_config_new_credentials(config);
	if (ctx->interactive)
		ct_credentials_set_prompt_func(credentials, ctcli_client_auth_prompt, NULL, NULL);
	if (!ct_credentials_ensure(credentials, url, &error)) {
		gboolean with_cert = ct_config_get_auth(config) == CT_AUTH_METHOD_CERTIFICATE;
		ctcli_test_report_step(report, "credentials",
		                       with_cert ? ct_config_get_client_cert(config)
		                                 : g_getenv("KRB5CCNAME"),
		                       FALSE, ctcli_test_seconds_since(t0), error);
		if (with_cert)
			ctcli_test_report_fail(report, error,
			                       "Fix or renew the client certificate named in Error "
			                       "(client-cert and client-key in [identity] of "
			                       "certtether.conf), then run this test again.");
		else
			ctcli_client_auth_fail(report, error, "credentials", url);
		return;
	}
	own_sip = ct_identity_resolve_user(config, credentials, &error);
	sip_uri = user != NULL ? g_strdup(user) : g_strdup(own_sip);
	/* with --user-sip-address, a principal of no SIP form is only not compared */
	if (sip_uri != NULL)
		g_clear_error(&error);
	target = g_strdup_printf(
	    "%s (%s) for %s", ct_credentials_get_principal(credentials),
	    ctcli_client_auth_method_label(ct_credentials_get_method_in_use(credentials)),
	    sip_uri != NULL ? sip_uri : "?");
	if (sip_uri == NULL) {
		ctcli_test_report_step(report, "credentials", target, FALSE,
		                       ctcli_test_seconds_since(t0), error);
		ctcli_client_auth_fail(report, error, "credentials", url);
		return;
	}
	ctcli_test_report_step(report, "credentials", target, TRUE, ctcli_test_seconds_since(t0),
	                       NULL);
	if (own_sip != NULL && g_ascii_strcasecmp(own_sip, sip_uri) != 0)
		ctcli_test_report_note(
		    report,
		    "note: %s is not the signed-in user (%s): the service issues "
		    "certificates for whoever authenticates",
		    sip_uri, own_sip);

	/* the throwaway key: the algorithm a phone would be asked for with this protocol */
	t0 = g_get_monotonic_time();
	algorithm =
	    protocol == CT_PROTOCOL_EST ? CT_KEY_ALGORITHM_EC_P256 : CT_KEY_ALGORITHM_RSA2048;
	csr = ctcli_test_make_csr(algorithm, sip_uri, &error);
	g_free(target);
	target = g_strdup_printf("%s key in memory only, never written",
	                         ct_key_algorithm_to_string(algorithm));
	ctcli_test_report_step(report, "keygen", target, csr != NULL, ctcli_test_seconds_since(t0),
	                       error);
	if (csr == NULL) {
		ctcli_client_auth_fail(report, error, "keygen", url);
		return;
	}

	/* obtain and verify, with the same code a phone's enrollment runs */
	backend = ct_enrollment_create_backend(config, credentials, &error);
	if (backend == NULL) {
		ctcli_client_auth_fail(report, error, "enroll", url);
		return;
	}
	ct_enroll_backend_set_step_func(backend, ctcli_client_auth_on_step, &steps, NULL);
	enrollment = ct_enrollment_new_with_backend(config, backend);
	device_id = ct_identity_device_id("certtether-test-client-auth");
	request.csr_der = csr;
	request.sip_uri = sip_uri;
	request.device_id = device_id;
	t0 = g_get_monotonic_time();
	result = ct_enrollment_run(enrollment, &request, NULL, &error);
	ct_enroll_backend_set_step_func(backend, NULL, NULL, NULL);
	if (result == NULL && steps.step_failed) {
		ctcli_client_auth_fail(report, error, "enroll", url);
		return;
	}
	/* after the last exchange, what is left of the run is the verification */
	if (steps.steps > 0)
		t0 = MAX(t0, steps.last_step_end);
	ctcli_test_report_step(report, "verify",
	                       result != NULL ? "key, user, clientAuth, validity, chain"
	                                      : "the issued certificate",
	                       result != NULL, ctcli_test_seconds_since(t0), error);
	if (result == NULL) {
		ctcli_client_auth_fail(report, error, "verify", url);
		return;
	}
	ctcli_client_auth_show_certificate(report, result);
}

int
ctcli_test_client_auth(CtcliContext *ctx, int argc, char **argv)
{
	g_autofree gchar *user_arg = NULL;
	g_autofree gchar *protocol_name = NULL;
	g_autofree gchar *target_url = NULL;
	g_autofree gchar *target_fqdn = NULL;
	g_autofree gchar *user = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtcliTestReport) report = NULL;
	CtConfig *config;
	CtProtocol protocol;
	const GOptionEntry entries[] = {
	    {"user-sip-address", 0, 0, G_OPTION_ARG_STRING, &user_arg,
	     "The user to obtain a certificate for (default: the signed-in user)", "SIP"},
	    {"protocol", 0, 0, G_OPTION_ARG_STRING, &protocol_name,
	     "certprov or est (default: from the URL, else the configuration)", "PROTOCOL"},
	    {"target-url", 0, 0, G_OPTION_ARG_STRING, &target_url,
	     "The certificate service's URL, bypassing discovery", "URL"},
	    {"target-fqdn", 0, 0, G_OPTION_ARG_STRING, &target_fqdn,
	     "The pool's FQDN[:PORT]: the documented URL below it is used", "FQDN"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	if (!ctcli_test_parse_options(
	        "[--user-sip-address SIP] [--protocol certprov|est] [--target-url URL] "
	        "[--target-fqdn FQDN] [--ca-file PEM]",
	        "Obtain a certificate for the user with the desktop's credentials and a throwaway "
	        "key, and verify it: each step with its result and latency, and on failure a "
	        "diagnosis (like Test-CsClientAuth).",
	        "The key is generated in memory (RSA-2048 for certprov, EC P-256 for est) and "
	        "never written anywhere.\n"
	        "NOTE: this is a real issuance. The service signs and PUBLISHES a certificate "
	        "for the user, which stays in the user's certificate store on the server.\n"
	        "The credentials are the Kerberos ticket named by KRB5CCNAME (or a password, "
	        "when certtether.conf says auth=basic). The SIP sign-in with the new "
	        "certificate that Test-CsClientAuth also performs is not done: certtether has "
	        "no SIP stack.\n"
	        "Without --target-url, the URL is built from --target-fqdn "
	        "(https://FQDN/CertProv/CertProvisioningService.svc, or "
	        "https://FQDN/.well-known/est), else taken from [service] url.\n"
	        "--ca-file PEM (a global option) adds trust anchors for the service's TLS; "
	        "--json prints the result as one object with a \"steps\" list. The test always "
	        "runs in this process (--direct changes nothing).\n"
	        "Exit status: 0 Success; otherwise as certtether(1) lists (3 credentials, "
	        "4 unreachable, 5 refused, 6 untrusted, 8 configuration).",
	        entries, &argc, &argv))
		return CTCLI_EXIT_USAGE;
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument '%s'", argv[1]);
		return ctcli_verb_usage_error("test client-auth", msg);
	}
	if (user_arg != NULL) {
		user = ctcli_test_parse_sip(user_arg, "--user-sip-address", &error);
		if (user == NULL)
			return ctcli_print_error(ctx, error);
	}
	config = ctcli_context_get_config(ctx, &error);
	if (config == NULL)
		return ctcli_print_error(ctx, error);
	if (!ctcli_client_auth_protocol(config, protocol_name, target_url, &protocol, &error))
		return ctcli_print_error(ctx, error);

	report = ctcli_test_report_new(ctx);
	ctcli_client_auth_run(ctx, report, config, protocol, user, target_url, target_fqdn);
	return ctcli_test_report_finish(report);
}
