/*
 * certtether test bootstrap: like Test-CsPhoneBootstrap, as far as certtether
 * can go honestly. A phone without a desktop finds the CertProv URL by DHCP
 * (option 43/120), signs in at the Web Ticket service with its extension + PIN,
 * and downloads its certificate. The PIN message format is not public
 * (docs/certprov-wire.md), so certtether does not send it: it checks what a
 * phone would meet before that (the URL, the anonymous metadata, the TLS chain,
 * whether the service offers PIN sign-in at all) and then says plainly that PIN
 * authentication is not supported. The PIN is read (terminal without echo, or
 * the first line of --pin-file), checked for form, never sent, never printed.
 */
#include <string.h>

#include "daemon/enroll/ct-http.h"
#include "daemon/enroll/ct-soap.h"
#include "ui-cli/ctcli-secret-file.h"
#include "ui-cli/ctcli-test.h"
#include "ui-cli/ctcli-verb.h"

/* the port names of the /mex documents (docs/certprov-wire.md, tests/servers/README.md) */
#define CTCLI_PROOF_PORT "CertProvisioningServiceWebTicketProof_SHA1"
#define CTCLI_PIN_PORT   "WebTicketServicePinAuth"
#define CTCLI_BOOTSTRAP_UNTRUSTED                                                                  \
	"A phone would refuse this service: its TLS chain does not lead to a trust anchor. "       \
	"'certtether test chain --target-url URL' names what is missing; add the root with "       \
	"--ca-file to check the rest."
/* longer than any PIN policy allows (Lync: at most 24 digits) */
#define CTCLI_PIN_MAX 32

/* digits only, as PIN policies require; the error never quotes the PIN */
static gboolean
ctcli_bootstrap_check_pin(const gchar *pin, GError **error)
{
	gsize len = strlen(pin);
	if (len == 0 || len > CTCLI_PIN_MAX) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the PIN must be 1 to %d digits (it has %" G_GSIZE_FORMAT
		            " characters)",
		            CTCLI_PIN_MAX, len);
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isdigit(pin[i])) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			                    "the PIN must be digits only");
			return FALSE;
		}
	}
	return TRUE;
}

/* "+14255551234", "1234", optionally "tel:..." */
static gboolean
ctcli_bootstrap_check_phone(const gchar *value, GError **error)
{
	const gchar *p = g_str_has_prefix(value, "tel:") ? value + 4 : value;
	gsize len = strlen(p);
	gboolean ok = len > 0 && len <= 32;
	for (gsize i = 0; ok && i < len; i++)
		ok = g_ascii_isdigit(p[i]) || (i == 0 && p[i] == '+') || p[i] == '-' ||
		     p[i] == '*' || p[i] == '#';
	if (!ok)
		g_set_error(
		    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		    "--phone-or-ext %s is not a phone number or extension (digits, a leading "
		    "+, at most 32)",
		    value);
	return ok;
}

/* one anonymous GET of a metadata document, reported as a step */
static GBytes *
ctcli_bootstrap_get(
    CtcliTestReport *report, const gchar *step, const gchar *url, CtConfig *config, GError **error)
{
	CtHttpRequest request = {
	    .url = url,
	    .method = "GET",
	    .auth = CT_HTTP_AUTH_NONE,
	    .ca_file = ct_config_get_ca_file(config),
	    .timeout_s = ct_config_get_timeout(config),
	};
	g_autoptr(CtHttpResponse) response = NULL;
	g_autoptr(GError) error_local = NULL;
	gint64 t0 = g_get_monotonic_time();

	response = ct_http_perform(&request, NULL, &error_local);
	if (response != NULL && (response->status < 200 || response->status >= 300))
		ct_http_status_to_error(response, step, &error_local);
	ctcli_test_report_step(report, step, url, error_local == NULL, ctcli_test_seconds_since(t0),
	                       error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	return g_bytes_ref(response->body);
}

/* the TLS chain of an https URL, as a phone would check it */
static gboolean
ctcli_bootstrap_check_tls(CtcliTestReport *report, const gchar *url, CtConfig *config)
{
	g_autoptr(GError) error = NULL;

	if (!g_str_has_prefix(url, "https://")) {
		ctcli_test_report_note(
		    report, "the URL is plain http (the anonymous endpoint): its TLS chain "
		            "was not checked; 'certtether test chain --target-url "
		            "https://...' checks the https one");
		return TRUE;
	}
	if (ctcli_test_check_tls(report, url, config, &error))
		return TRUE;
	ctcli_test_report_fail(
	    report, error,
	    error->code == CT_ERROR_CHAIN_UNTRUSTED
	        ? CTCLI_BOOTSTRAP_UNTRUSTED
	        : "The web service could not be reached: check the URL, name resolution, firewalls "
	          "and that the service runs.");
	return FALSE;
}

/* what the service says in its metadata: the Web Ticket service, and a PIN port? */
static void
ctcli_bootstrap_run(CtcliTestReport *report,
                    CtConfig *config,
                    const gchar *target_url,
                    const gchar *target_fqdn)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) mex = NULL;
	g_autoptr(GBytes) ticket_mex = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *mex_url = NULL;
	g_autofree gchar *ticket_url = NULL;
	g_autofree gchar *ticket_mex_url = NULL;
	g_autofree gchar *pin_target = NULL;
	const gchar *source = NULL;
	CtSoapMex proof = {0};
	CtSoapMex pin = {0};
	const guint8 *data;
	gsize len = 0;

	/* discovery: what a phone finds by DHCP is not looked up here */
	url = ctcli_test_report_target(report, "discover", config, CT_PROTOCOL_CERTPROV, NULL,
	                               target_url, target_fqdn, &source, &error);
	if (url == NULL) {
		ctcli_test_report_fail(
		    report, error,
		    "certtether does not perform the phone's DHCP discovery "
		    "(option 43/120): give the CertProv URL with --target-url, or "
		    "the pool's FQDN with --target-fqdn.");
		return;
	}
	ctcli_test_report_note(report,
	                       "DHCP discovery (option 43/120) is not performed by "
	                       "certtether: the URL comes from %s",
	                       source);

	if (!ctcli_bootstrap_check_tls(report, url, config))
		return;

	/* the anonymous metadata a phone reads first */
	mex_url = g_strdup_printf("%s/mex", url);
	mex = ctcli_bootstrap_get(report, "mex", mex_url, config, &error);
	if (mex != NULL) {
		data = g_bytes_get_data(mex, &len);
		if (!ct_soap_parse_mex(data, len, CTCLI_PROOF_PORT, &proof, &error))
			g_prefix_error(&error, "the CertProv metadata at %s: ", mex_url);
		else if (proof.issuer_address == NULL)
			error = g_error_new(
			    CT_ERROR, CT_ERROR_PROTOCOL,
			    "the CertProv metadata at %s names no Web Ticket service", mex_url);
	}
	if (error != NULL) {
		ctcli_test_report_fail(
		    report, error,
		    error->code == CT_ERROR_CHAIN_UNTRUSTED
		        ? CTCLI_BOOTSTRAP_UNTRUSTED
		        : "A phone could not find the Web Ticket service from this URL: "
		          "check that it is the pool's CertProv URL "
		          "(…/CertProv/CertProvisioningService.svc) and that the "
		          "metadata (/mex) is reachable anonymously.");
		ct_soap_mex_clear(&proof);
		return;
	}

	/* does the Web Ticket service offer PIN sign-in at all? */
	ticket_url = g_strdup(proof.issuer_address);
	ct_soap_mex_clear(&proof);
	ticket_mex_url = g_strdup_printf("%s/mex", ticket_url);
	ticket_mex = ctcli_bootstrap_get(report, "ticket-mex", ticket_mex_url, config, &error);
	if (ticket_mex == NULL) {
		ctcli_test_report_fail(report, error,
		                       error->code == CT_ERROR_CHAIN_UNTRUSTED
		                           ? CTCLI_BOOTSTRAP_UNTRUSTED
		                           : "A phone could not read the Web Ticket service's "
		                             "metadata anonymously: check the Web Ticket service.");
		return;
	}
	data = g_bytes_get_data(ticket_mex, &len);
	if (ct_soap_parse_mex(data, len, CTCLI_PIN_PORT, &pin, NULL)) {
		pin_target = g_strdup(pin.port_address);
		ctcli_test_report_note(report,
		                       "the Web Ticket service offers PIN sign-in (%s) at %s",
		                       CTCLI_PIN_PORT, pin.port_address);
	} else {
		pin_target = g_strdup(ticket_url);
		ctcli_test_report_note(report, "the Web Ticket service's metadata lists no %s port",
		                       CTCLI_PIN_PORT);
	}
	ct_soap_mex_clear(&pin);

	/* the part certtether cannot do */
	error = g_error_new_literal(CT_ERROR, CT_ERROR_NOT_SUPPORTED,
	                            "PIN authentication is not supported by certtether: its "
	                            "message format is not public");
	ctcli_test_report_step(report, "pin-auth", pin_target, FALSE, 0, error);
	ctcli_test_report_fail(
	    report, error,
	    "Discovery (as far as given), the service's anonymous metadata and its TLS chain are "
	    "as a phone needs them; the extension + PIN sign-in itself was not tried and the PIN "
	    "was not sent anywhere. To provision a phone, connect it over USB to a desktop with "
	    "certtether (certtether approve / provision); to check the user's own sign-in, run "
	    "'certtether test client-auth'.");
	ctcli_test_report_set_exit(report, CTCLI_EXIT_FAILURE);
}

int
ctcli_test_bootstrap(CtcliContext *ctx, int argc, char **argv)
{
	g_autofree gchar *phone = NULL;
	g_autofree gchar *user_arg = NULL;
	g_autofree gchar *user = NULL;
	g_autofree gchar *target_url = NULL;
	g_autofree gchar *target_fqdn = NULL;
	g_autofree gchar *pin_file = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtcliTestReport) report = NULL;
	gchar *pin = NULL;
	CtConfig *config;
	const GOptionEntry entries[] = {
	    {"phone-or-ext", 0, 0, G_OPTION_ARG_STRING, &phone,
	     "The phone number or extension the phone signs in with", "NUMBER"},
	    {"user-sip-address", 0, 0, G_OPTION_ARG_STRING, &user_arg,
	     "The user the phone signs in as", "SIP"},
	    {"target-url", 0, 0, G_OPTION_ARG_STRING, &target_url,
	     "The CertProv URL, instead of discovery", "URL"},
	    {"target-fqdn", 0, 0, G_OPTION_ARG_STRING, &target_fqdn,
	     "The pool's FQDN[:PORT]: https://FQDN/CertProv/CertProvisioningService.svc", "FQDN"},
	    {"pin-file", 0, 0, G_OPTION_ARG_FILENAME, &pin_file,
	     "Read the PIN from the first line of FILE (else it is asked at the terminal)", "FILE"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	if (!ctcli_test_parse_options(
	        "--phone-or-ext NUMBER --user-sip-address SIP [--target-url URL] "
	        "[--target-fqdn FQDN] [--pin-file FILE]",
	        "What a phone signing in with its extension and PIN meets (like "
	        "Test-CsPhoneBootstrap), as far as certtether supports it.",
	        "PIN authentication is NOT supported by certtether: its message format is not "
	        "public. The test checks what comes before it — the URL (DHCP option 43/120 "
	        "discovery is not performed: give --target-url or --target-fqdn, else "
	        "[service] url is used), the TLS chain, the anonymous metadata (/mex) and whether "
	        "the Web Ticket service offers PIN sign-in — and then reports Result: Failure "
	        "with exit status 1.\n"
	        "The PIN is asked at the terminal without echo, or read from the first line of "
	        "--pin-file; never give it on the command line. It is checked for form and then "
	        "wiped: never sent, logged or printed.\n"
	        "Exit status: 1 when everything before the PIN sign-in is as a phone needs it "
	        "(the sign-in itself is unsupported); 2 bad options or PIN; 4 unreachable; "
	        "5 refused; 6 untrusted TLS chain; 8 configuration.",
	        entries, &argc, &argv))
		return CTCLI_EXIT_USAGE;
	if (argc > 1) {
		/* a stray argument may be a PIN typed on the command line: do not echo it */
		return ctcli_verb_usage_error("test bootstrap",
		                              "unexpected argument (never give the PIN on the "
		                              "command line: use --pin-file or the prompt)");
	}
	if (phone == NULL || user_arg == NULL)
		return ctcli_verb_usage_error("test bootstrap",
		                              "--phone-or-ext and --user-sip-address are required");
	if (!ctcli_bootstrap_check_phone(phone, &error))
		return ctcli_print_error(ctx, error);
	user = ctcli_test_parse_sip(user_arg, "--user-sip-address", &error);
	if (user == NULL)
		return ctcli_print_error(ctx, error);
	config = ctcli_context_get_config(ctx, &error);
	if (config == NULL)
		return ctcli_print_error(ctx, error);

	report = ctcli_test_report_new(ctx);
	/* the PIN as the cmdlet takes it, and only to check its form */
	{
		gint64 t0 = g_get_monotonic_time();
		if (pin_file != NULL)
			pin = ctcli_secret_file_read(pin_file, "the PIN", &error);
		else if (ctx->interactive)
			pin = ctcli_prompt_secret("PIN:");
		else
			error = g_error_new_literal(
			    CT_ERROR, CT_ERROR_INVALID_ARGS,
			    "no PIN: give --pin-file FILE, or run at a terminal "
			    "to be asked");
		if (pin == NULL && error == NULL)
			error =
			    g_error_new_literal(CT_ERROR, CT_ERROR_INVALID_ARGS, "no PIN given");
		if (pin != NULL)
			ctcli_bootstrap_check_pin(pin, &error);
		ctcli_secret_free(pin);
		ctcli_test_report_step(report, "pin",
		                       pin_file != NULL ? "--pin-file (first line)" : "terminal",
		                       error == NULL, ctcli_test_seconds_since(t0), error);
		if (error != NULL) {
			ctcli_test_report_fail(
			    report, error,
			    "Give the PIN in the first line of --pin-file FILE, or "
			    "at the prompt: digits only.");
			return ctcli_test_report_finish(report);
		}
	}
	ctcli_test_report_note(report, "phone %s signing in as %s", phone, user);
	ctcli_bootstrap_run(report, config, target_url, target_fqdn);
	return ctcli_test_report_finish(report);
}
