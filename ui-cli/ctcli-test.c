/*
 * certtether test SUBVERB: dispatch, and what the sub-verbs share (where the
 * service is and the steps that say so, its TLS chain, --ca-file).
 */
#include "ui-cli/ctcli-test.h"

#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-http.h"
#include "ui-cli/ctcli-verb.h"

/* the documented paths (docs/certprov-wire.md, RFC 7030) below a pool's FQDN */
#define CTCLI_CERTPROV_PATH "/CertProv/CertProvisioningService.svc"
#define CTCLI_EST_PATH      "/.well-known/est"

/* an FQDN, optionally with :PORT — letters, digits, '-' and '.' only */
static gboolean
ctcli_test_fqdn_valid(const gchar *fqdn)
{
	const gchar *colon = strrchr(fqdn, ':');
	gsize host_len = colon != NULL ? (gsize)(colon - fqdn) : strlen(fqdn);
	if (host_len == 0 || host_len > 253)
		return FALSE;
	for (gsize i = 0; i < host_len; i++) {
		if (!g_ascii_isalnum(fqdn[i]) && fqdn[i] != '-' && fqdn[i] != '.')
			return FALSE;
	}
	if (colon != NULL) {
		guint64 port = 0;
		if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
			return FALSE;
	}
	return TRUE;
}

/* the host[:port] of a URL, for TargetFqdn, or NULL */
static gchar *
ctcli_test_url_host(const gchar *url)
{
	g_autoptr(GUri) uri = url != NULL ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;
	if (uri == NULL || g_uri_get_host(uri) == NULL)
		return NULL;
	if (g_uri_get_port(uri) > 0)
		return g_strdup_printf("%s:%d", g_uri_get_host(uri), g_uri_get_port(uri));
	return g_strdup(g_uri_get_host(uri));
}

/* the URL ctcli_test_report_target() records; @source_out: where it came from */
static gchar *
ctcli_test_resolve_url(CtConfig *config,
                       CtProtocol protocol,
                       const gchar *target_url,
                       const gchar *target_fqdn,
                       const gchar **source_out,
                       GError **error)
{
	const gchar *source;
	g_autofree gchar *url = NULL;
	g_autoptr(GUri) uri = NULL;

	if (target_fqdn != NULL && !ctcli_test_fqdn_valid(target_fqdn)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "--target-fqdn %s is not a host name (FQDN or FQDN:PORT)", target_fqdn);
		return NULL;
	}
	if (target_url != NULL) {
		url = g_strdup(target_url);
		source = "--target-url";
	} else if (target_fqdn != NULL) {
		url = g_strdup_printf("https://%s%s", target_fqdn,
		                      protocol == CT_PROTOCOL_EST ? CTCLI_EST_PATH
		                                                  : CTCLI_CERTPROV_PATH);
		source = "built from --target-fqdn";
	} else if (config != NULL && ct_config_get_url(config) != NULL) {
		url = g_strdup(ct_config_get_url(config));
		source = ct_config_get_path(config) != NULL ? ct_config_get_path(config)
		                                            : "the configuration";
	} else {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_CONFIG,
		    "no certificate web service to test: give --target-url URL or "
		    "--target-fqdn FQDN, or set url= in [service] of certtether.conf");
		return NULL;
	}
	uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	if (uri == NULL || g_uri_get_host(uri) == NULL ||
	    (g_strcmp0(g_uri_get_scheme(uri), "https") != 0 &&
	     g_strcmp0(g_uri_get_scheme(uri), "http") != 0)) {
		g_set_error(error, CT_ERROR,
		            target_url != NULL ? CT_ERROR_INVALID_ARGS : CT_ERROR_CONFIG,
		            "%s is not an http or https URL (from %s)", url, source);
		return NULL;
	}
	if (source_out != NULL)
		*source_out = source;
	return g_steal_pointer(&url);
}

gchar *
ctcli_test_report_target(CtcliTestReport *report,
                         const gchar *step,
                         CtConfig *config,
                         CtProtocol protocol,
                         const gchar *detail,
                         const gchar *target_url,
                         const gchar *target_fqdn,
                         const gchar **source_out,
                         GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *fqdn = NULL;
	g_autofree gchar *target = NULL;
	const gchar *source = NULL;
	gint64 t0 = g_get_monotonic_time();

	url = ctcli_test_resolve_url(config, protocol, target_url, target_fqdn, &source,
	                             &error_local);
	if (url == NULL) {
		ctcli_test_report_step(report, step, NULL, FALSE, 0, error_local);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	fqdn = target_fqdn != NULL ? g_strdup(target_fqdn) : ctcli_test_url_host(url);
	ctcli_test_report_set_target(report, url, fqdn);
	target = detail != NULL ? g_strdup_printf("%s (%s, %s)", url, detail, source)
	                        : g_strdup_printf("%s (%s)", url, source);
	ctcli_test_report_step(report, step, target, TRUE, ctcli_test_seconds_since(t0), NULL);
	if (source_out != NULL)
		*source_out = source;
	return g_steal_pointer(&url);
}

gboolean
ctcli_test_check_tls(CtcliTestReport *report, const gchar *url, CtConfig *config, GError **error)
{
	g_autoptr(CtX509Stack) presented = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *why = NULL;
	gboolean verified = FALSE;
	gint64 t0 = g_get_monotonic_time();

	if (ct_http_probe_tls_chain_full(url, ct_config_get_ca_file(config),
	                                 ct_config_get_timeout(config), NULL, &presented, &verified,
	                                 &why, &error_local) &&
	    !verified)
		error_local =
		    g_error_new_literal(CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		                        why != NULL ? why : "the TLS chain is not trusted");
	ctcli_test_report_step(report, "tls", url, error_local == NULL,
	                       ctcli_test_seconds_since(t0), error_local);
	if (error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return FALSE;
	}
	return TRUE;
}

gboolean
ctcli_test_parse_protocol(const gchar *name, CtProtocol *protocol, GError **error)
{
	if (g_ascii_strcasecmp(name, "certprov") == 0) {
		*protocol = CT_PROTOCOL_CERTPROV;
		return TRUE;
	}
	if (g_ascii_strcasecmp(name, "est") == 0) {
		*protocol = CT_PROTOCOL_EST;
		return TRUE;
	}
	g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
	            "--protocol %s is not one of certprov, est", name);
	return FALSE;
}

gchar *
ctcli_test_parse_sip(const gchar *value, const gchar *option, GError **error)
{
	g_autofree gchar *with_scheme = NULL;
	gchar *sip;
	if (value == NULL)
		return NULL;
	with_scheme = g_ascii_strncasecmp(value, "sip:", 4) == 0 ? g_strdup(value)
	                                                         : g_strconcat("sip:", value, NULL);
	sip = ct_identity_normalize_sip_uri(with_scheme);
	if (sip == NULL)
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s %s is not a SIP address of the form sip:user@domain", option,
		            value);
	return sip;
}

gboolean
ctcli_test_parse_options(const gchar *parameters,
                         const gchar *summary,
                         const gchar *description,
                         const GOptionEntry *entries,
                         int *argc,
                         char ***argv)
{
	/* the usage line names "test SUBVERB": the parser takes the verb from argv[0] */
	g_autofree gchar *verb = g_strdup_printf("test %s", (*argv)[0]);
	gchar *sub = (*argv)[0];
	gboolean ok;
	(*argv)[0] = verb;
	ok = ctcli_verb_parse(argc, argv, parameters, summary, description, entries);
	(*argv)[0] = sub;
	return ok;
}

static void
ctcli_test_usage(gboolean to_stdout)
{
	(to_stdout ? g_print : g_printerr)(
	    "usage: certtether test client-auth|bootstrap|chain [OPTIONS]\n"
	    "  client-auth  obtain a certificate for the user with a throwaway key and "
	    "verify it\n"
	    "  bootstrap    what a phone signing in with extension + PIN would meet\n"
	    "  chain        does the phone (or this machine) trust the web service's "
	    "TLS chain\n"
	    "Run 'certtether test SUBVERB --help' for its options.\n");
}

int
ctcli_cmd_test(CtcliContext *ctx, int argc, char **argv)
{
	const gchar *sub = argc > 1 ? argv[1] : NULL;
	if (sub == NULL) {
		g_printerr("certtether test: which test? (client-auth, bootstrap or chain)\n");
		ctcli_test_usage(FALSE);
		return CTCLI_EXIT_USAGE;
	}
	if (g_strcmp0(sub, "client-auth") == 0)
		return ctcli_test_client_auth(ctx, argc - 1, argv + 1);
	if (g_strcmp0(sub, "bootstrap") == 0)
		return ctcli_test_bootstrap(ctx, argc - 1, argv + 1);
	if (g_strcmp0(sub, "chain") == 0)
		return ctcli_test_chain(ctx, argc - 1, argv + 1);
	if (g_strcmp0(sub, "--help") == 0 || g_strcmp0(sub, "-h") == 0 ||
	    g_strcmp0(sub, "help") == 0) {
		ctcli_test_usage(TRUE);
		return CTCLI_EXIT_OK;
	}
	g_printerr("certtether test: unknown test '%s'\n", sub);
	ctcli_test_usage(FALSE);
	return CTCLI_EXIT_USAGE;
}
