/*
 * certtether test chain [DEVICE] [--target-url URL]: does the phone's trust
 * store (the SHA-256s of its anchors, as the phone reports them) — or, without
 * a phone, this machine's anchors (system store + ca-file) — cover the TLS
 * chain the web service presents, and which certificates must be pushed if not.
 */
#include "daemon/engine/ct-verify.h"
#include "daemon/engine/ct-x509.h"
#include "daemon/enroll/ct-http.h"
#include "ui-cli/ctcli-devices.h"
#include "ui-cli/ctcli-test.h"
#include "ui-cli/ctcli-verb.h"

/* what the check found, for the text and the JSON */
typedef struct {
	CtX509Stack *presented; /* as the server sent it, leaf first */
	CtX509Stack *built;     /* leaf .. anchor with this machine's anchors, or NULL */
	gboolean host_verified; /* the TLS handshake verified (chain and host name) */
	gchar *why;             /* why it did not */
} CtcliChainFacts;

static void
ctcli_chain_facts_clear(CtcliChainFacts *facts)
{
	g_clear_pointer(&facts->presented, ct_x509_stack_free);
	g_clear_pointer(&facts->built, ct_x509_stack_free);
	g_clear_pointer(&facts->why, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtcliChainFacts, ctcli_chain_facts_clear)

/* lower-case hex SHA-256 of the DER, as phones report their anchors */
static gchar *
ctcli_chain_sha256(X509 *cert)
{
	g_autoptr(GBytes) der = ct_x509_to_der(cert);
	return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, der);
}

static JsonNode *
ctcli_chain_cert_json(X509 *cert, const gchar *role, gboolean presented)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree gchar *subject = ct_x509_subject_string(cert);
	g_autofree gchar *issuer = ct_x509_issuer_string(cert);
	g_autofree gchar *sha256 = ctcli_chain_sha256(cert);
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "role");
	json_builder_add_string_value(builder, role);
	json_builder_set_member_name(builder, "subject");
	json_builder_add_string_value(builder, subject);
	json_builder_set_member_name(builder, "issuer");
	json_builder_add_string_value(builder, issuer);
	json_builder_set_member_name(builder, "sha256");
	json_builder_add_string_value(builder, sha256);
	json_builder_set_member_name(builder, "presented");
	json_builder_add_boolean_value(builder, presented);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

/* the role of certificate @i of a chain of @n (leaf first) */
static const gchar *
ctcli_chain_role(gint i, gint n, gboolean is_built)
{
	if (i == 0)
		return "leaf";
	if (is_built && i == n - 1)
		return "anchor";
	return "intermediate";
}

/* the chain as notes (text) and as "Chain" (JSON) */
static void
ctcli_chain_show(CtcliTestReport *report, const CtcliChainFacts *facts)
{
	const CtX509Stack *chain = facts->built != NULL ? facts->built : facts->presented;
	gint n = sk_X509_num(chain);
	JsonArray *array = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);

	for (gint i = 0; i < n; i++) {
		X509 *cert = sk_X509_value(chain, i);
		gboolean presented = ct_x509_stack_contains(facts->presented, cert);
		const gchar *role = ctcli_chain_role(i, n, facts->built != NULL);
		g_autofree gchar *subject = ct_x509_subject_string(cert);
		g_autofree gchar *sha256 = ctcli_chain_sha256(cert);
		ctcli_test_report_note(report, "[%d] %-12s %s%s", i, role, subject,
		                       presented ? "" : "  (not presented by the server)");
		ctcli_test_report_note(report, "    SHA-256 %s", sha256);
		json_array_add_element(array, ctcli_chain_cert_json(cert, role, presented));
	}
	if (facts->built == NULL && n > 0) {
		g_autofree gchar *issuer = ct_x509_issuer_string(sk_X509_value(chain, n - 1));
		ctcli_test_report_note(report, "[%d] %-12s %s  (not a trust anchor here)", n,
		                       "missing", issuer);
	}
	json_node_take_array(node, array);
	ctcli_test_report_add_json(report, "Chain", node);
}

/* "Missing": what a phone (or this machine) needs and does not have */
static void
ctcli_chain_add_missing(JsonArray *missing, const gchar *kind, const gchar *subject, X509 *cert)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree gchar *sha256 = cert != NULL ? ctcli_chain_sha256(cert) : NULL;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "kind");
	json_builder_add_string_value(builder, kind);
	json_builder_set_member_name(builder, "subject");
	json_builder_add_string_value(builder, subject);
	json_builder_set_member_name(builder, "sha256");
	if (sha256 != NULL)
		json_builder_add_string_value(builder, sha256);
	else
		json_builder_add_null_value(builder);
	json_builder_end_object(builder);
	json_array_add_element(missing, json_builder_get_root(builder));
}

/* probe the service and build its chain with this machine's anchors */
static gboolean
ctcli_chain_probe(CtcliTestReport *report,
                  const gchar *url,
                  CtConfig *config,
                  CtcliChainFacts *facts)
{
	const gchar *ca_file = ct_config_get_ca_file(config);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *target = NULL;
	gint64 t0 = g_get_monotonic_time();

	if (!ct_http_probe_tls_chain_full(url, ca_file, ct_config_get_timeout(config), NULL,
	                                  &facts->presented, &facts->host_verified, &facts->why,
	                                  &error)) {
		ctcli_test_report_step(report, "tls", url, FALSE, ctcli_test_seconds_since(t0),
		                       error);
		ctcli_test_report_fail(report, error,
		                       error->code == CT_ERROR_INVALID_ARGS
		                           ? "Give the https URL of the web service (--target-url)."
		                           : "The web service could not be reached: check the URL, "
		                             "name resolution and "
		                             "that the service runs.");
		return FALSE;
	}
	target =
	    g_strdup_printf("%s: %d certificate(s) presented", url, sk_X509_num(facts->presented));
	ctcli_test_report_step(report, "tls", target, TRUE, ctcli_test_seconds_since(t0), NULL);

	t0 = g_get_monotonic_time();
	facts->built = ct_verify_chain_build(facts->presented, ca_file, FALSE, &error);
	g_free(target);
	target = g_strdup_printf("system store%s%s", ca_file != NULL ? " + " : "",
	                         ca_file != NULL ? ca_file : "");
	ctcli_test_report_step(report, "anchors", target, facts->built != NULL,
	                       ctcli_test_seconds_since(t0), error);
	ctcli_chain_show(report, facts);
	return TRUE;
}

/* no phone: do this machine's anchors cover the chain (and the host name)? */
static void
ctcli_chain_judge_local(CtcliTestReport *report, CtcliChainFacts *facts)
{
	JsonArray *missing = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);
	gint n;

	if (facts->built != NULL && facts->host_verified) {
		X509 *anchor = sk_X509_value(facts->built, sk_X509_num(facts->built) - 1);
		g_autofree gchar *subject = ct_x509_subject_string(anchor);
		ctcli_test_report_note(report,
		                       "a phone needs the anchor %s pushed (certtether provision "
		                       "pushes it with the certificate)",
		                       subject);
	} else if (facts->built != NULL) {
		g_autoptr(GError) error = g_error_new_literal(
		    CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		    facts->why != NULL ? facts->why : "the TLS handshake did not verify");
		ctcli_test_report_fail(
		    report, error,
		    "The chain leads to a trust anchor, but the handshake still "
		    "failed (see Error): most often the server's certificate does "
		    "not name the host of the URL. Use the name the certificate "
		    "carries, or have the certificate reissued.");
	} else {
		X509 *top = sk_X509_value(facts->presented, sk_X509_num(facts->presented) - 1);
		g_autofree gchar *issuer = ct_x509_issuer_string(top);
		g_autofree gchar *diagnosis = g_strdup_printf(
		    "No trust anchor of this machine covers the chain: '%s' is missing. Get that "
		    "CA "
		    "certificate (PEM) from the service's administrator and pass it with --ca-file "
		    "(or ca-file= in [service] of certtether.conf); phones need it pushed as a "
		    "trust "
		    "anchor too (certtether provision does that once this machine trusts it).",
		    issuer);
		g_autoptr(GError) error = g_error_new_literal(
		    CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		    facts->why != NULL ? facts->why : "the chain leads to no trust anchor");
		ctcli_chain_add_missing(missing, "anchor", issuer, NULL);
		ctcli_test_report_fail(report, error, diagnosis);
	}
	/* intermediates the server does not present must come from somewhere else */
	n = facts->built != NULL ? sk_X509_num(facts->built) : 0;
	for (gint i = 1; i + 1 < n; i++) {
		X509 *cert = sk_X509_value(facts->built, i);
		if (!ct_x509_stack_contains(facts->presented, cert)) {
			g_autofree gchar *subject = ct_x509_subject_string(cert);
			ctcli_chain_add_missing(missing, "intermediate", subject, cert);
		}
	}
	json_node_take_array(node, missing);
	ctcli_test_report_add_json(report, "Missing", node);
}

/* the phone's anchors, from the daemon (or the engine with --direct) */
static GStrv
ctcli_chain_device_anchors(
    CtcliContext *ctx, CtcliTestReport *report, const gchar *name, gchar **label, GError **error)
{
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GVariant) snapshot = NULL;
	g_autoptr(GVariant) anchors = NULL;
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree gchar *target = NULL;
	gint64 t0 = g_get_monotonic_time();
	GStrv result;

	devices = ctcli_devices_new(ctx, error);
	if (devices == NULL || !ctcli_devices_start(devices, error))
		return NULL;
	if (ctcli_devices_is_direct(devices))
		ctcli_devices_settle(devices, CTCLI_DEVICES_SETTLE_TIMEOUT_MS);
	snapshot = ctcli_devices_find(devices, name, error);
	if (snapshot == NULL)
		return NULL;
	*label = g_strdup_printf("%s (%s)", ctcli_snapshot_get_name(snapshot),
	                         ctcli_snapshot_get_string(snapshot, "Id"));
	if (!ctcli_snapshot_get_boolean(snapshot, "TrustAnchorsKnown")) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_APPROVED,
		            "the phone %s has not reported its trust store yet (state %s): phones "
		            "report it once approved and connected (certtether approve %s)",
		            ctcli_snapshot_get_name(snapshot),
		            ctcli_snapshot_get_string(snapshot, "State"),
		            ctcli_snapshot_get_string(snapshot, "Id"));
		return NULL;
	}
	anchors = g_variant_lookup_value(snapshot, "TrustAnchors", G_VARIANT_TYPE_STRING_ARRAY);
	result = anchors != NULL ? g_variant_dup_strv(anchors, NULL) : g_new0(gchar *, 1);
	target = g_strdup_printf("%s: %u trust anchor(s)", *label, g_strv_length(result));
	ctcli_test_report_step(report, "device", target, TRUE, ctcli_test_seconds_since(t0), NULL);

	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "id");
	json_builder_add_string_value(builder, ctcli_snapshot_get_string(snapshot, "Id"));
	json_builder_set_member_name(builder, "serial");
	json_builder_add_string_value(builder, ctcli_snapshot_get_string(snapshot, "Serial"));
	json_builder_set_member_name(builder, "trust_anchors");
	json_builder_begin_array(builder);
	for (guint i = 0; result[i] != NULL; i++) {
		json_builder_add_string_value(builder, result[i]);
		ctcli_test_report_note(report, "phone anchor SHA-256 %s", result[i]);
	}
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	ctcli_test_report_add_json(report, "Device", json_builder_get_root(builder));
	return result;
}

/* what to do when the phone's trust store could not be read */
static const gchar *
ctcli_chain_device_diagnosis(const GError *error)
{
	if (g_error_matches(error, CT_ERROR, CT_ERROR_NOT_FOUND))
		return "'certtether list' shows the phones and their names.";
	if (g_error_matches(error, CT_ERROR, CT_ERROR_NOT_APPROVED))
		return "Approve the phone and keep it connected, then run the test again.";
	if (ctcli_exit_for_error(error) == CTCLI_EXIT_UNREACHABLE)
		return "certtetherd could not be reached: start it (or plug a phone in), or run "
		       "the "
		       "test with --direct and certtetherd stopped.";
	return "See Error; 'certtether status DEVICE' shows the phone.";
}

/* the phone: is one of its anchors in the chain? */
static void
ctcli_chain_judge_device(CtcliTestReport *report,
                         const gchar *label,
                         const gchar *const *phone_anchors,
                         CtcliChainFacts *facts)
{
	const CtX509Stack *chain = facts->built != NULL ? facts->built : facts->presented;
	JsonArray *missing = json_array_new();
	JsonNode *node = json_node_new(JSON_NODE_ARRAY);
	g_autoptr(GString) push = g_string_new(NULL);

	for (gint i = sk_X509_num(chain) - 1; i >= 0; i--) {
		g_autofree gchar *sha256 = ctcli_chain_sha256(sk_X509_value(chain, i));
		if (g_strv_contains(phone_anchors, sha256)) {
			g_autofree gchar *subject = ct_x509_subject_string(sk_X509_value(chain, i));
			ctcli_test_report_note(
			    report, "the phone trusts %s, which the chain %s", subject,
			    i == sk_X509_num(chain) - 1 ? "leads to" : "contains");
			json_node_take_array(node, missing);
			ctcli_test_report_add_json(report, "Missing", node);
			return;
		}
	}

	/* not covered: the anchor this machine found, or at least its name */
	if (facts->built != NULL) {
		X509 *anchor = sk_X509_value(facts->built, sk_X509_num(facts->built) - 1);
		g_autofree gchar *subject = ct_x509_subject_string(anchor);
		g_autofree gchar *sha256 = ctcli_chain_sha256(anchor);
		ctcli_chain_add_missing(missing, "anchor", subject, anchor);
		g_string_append_printf(push, "the trust anchor %s (SHA-256 %s)", subject, sha256);
		for (gint i = 1; i + 1 < sk_X509_num(facts->built); i++) {
			X509 *cert = sk_X509_value(facts->built, i);
			if (!ct_x509_stack_contains(facts->presented, cert)) {
				g_autofree gchar *isubject = ct_x509_subject_string(cert);
				g_autofree gchar *isha = ctcli_chain_sha256(cert);
				ctcli_chain_add_missing(missing, "intermediate", isubject, cert);
				g_string_append_printf(
				    push,
				    ", and the intermediate %s (SHA-256 %s) that the "
				    "server does not present",
				    isubject, isha);
			}
		}
	} else {
		X509 *top = sk_X509_value(facts->presented, sk_X509_num(facts->presented) - 1);
		g_autofree gchar *issuer = ct_x509_issuer_string(top);
		ctcli_chain_add_missing(missing, "anchor", issuer, NULL);
		g_string_append_printf(push,
		                       "the root CA '%s', which this machine does not trust either "
		                       "(add it with --ca-file first)",
		                       issuer);
	}
	{
		g_autoptr(GError) error =
		    g_error_new(CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		                "the phone %s does not trust the web service's TLS chain: none of "
		                "its %u trust anchor(s) is in it",
		                label, g_strv_length((gchar **)phone_anchors));
		g_autofree gchar *diagnosis = g_strdup_printf(
		    "Push %s to the phone. certtether pushes the service's trust anchor with the "
		    "certificate: run 'certtether provision --force' for the phone once this "
		    "machine trusts the chain.",
		    push->str);
		ctcli_test_report_fail(report, error, diagnosis);
	}
	json_node_take_array(node, missing);
	ctcli_test_report_add_json(report, "Missing", node);
}

int
ctcli_test_chain(CtcliContext *ctx, int argc, char **argv)
{
	g_autofree gchar *target_url = NULL;
	g_autofree gchar *url = NULL;
	g_autofree gchar *label = NULL;
	g_auto(GStrv) phone_anchors = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtcliTestReport) report = NULL;
	g_auto(CtcliChainFacts) facts = {0};
	const gchar *device = NULL;
	CtConfig *config;
	const GOptionEntry entries[] = {
	    {"target-url", 0, 0, G_OPTION_ARG_STRING, &target_url,
	     "The web service's https URL (default: [service] url)", "URL"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	if (!ctcli_test_parse_options(
	        "[DEVICE] [--target-url URL] [--ca-file PEM]",
	        "Does the phone's trust store (DEVICE), or this machine's trust anchors, cover "
	        "the TLS chain of the web service; and which certificates must be pushed if not.",
	        "Without DEVICE the anchors are this machine's: the system store plus --ca-file "
	        "(or ca-file= of certtether.conf). With DEVICE (id, serial or USB port) they are "
	        "the ones the phone reported (SHA-256 of each), through certtetherd or, with "
	        "--direct, the engine in this process; a phone reports them once approved.\n"
	        "Exit status: 0 covered; 6 not covered (the certificates to push are named); "
	        "4 unreachable; 5 the phone has not reported its trust store; 7 no such phone.",
	        entries, &argc, &argv))
		return CTCLI_EXIT_USAGE;
	if (argc > 2) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument '%s'", argv[2]);
		return ctcli_verb_usage_error("test chain", msg);
	}
	if (argc == 2)
		device = argv[1];
	config = ctcli_context_get_config(ctx, &error);
	if (config == NULL)
		return ctcli_print_error(ctx, error);

	report = ctcli_test_report_new(ctx);
	url = ctcli_test_report_target(report, "target", config, ct_config_get_protocol(config),
	                               NULL, target_url, NULL, NULL, &error);
	if (url == NULL) {
		ctcli_test_report_fail(
		    report, error,
		    "Give the web service's URL with --target-url, or set url= in "
		    "[service] of certtether.conf.");
		return ctcli_test_report_finish(report);
	}
	/* the phone first: a wrong name is said before the network is asked */
	if (device != NULL) {
		phone_anchors = ctcli_chain_device_anchors(ctx, report, device, &label, &error);
		if (phone_anchors == NULL) {
			ctcli_test_report_step(report, "device", device, FALSE, 0, error);
			ctcli_test_report_fail(report, error, ctcli_chain_device_diagnosis(error));
			return ctcli_test_report_finish(report);
		}
	}
	if (!ctcli_chain_probe(report, url, config, &facts))
		return ctcli_test_report_finish(report);
	if (device != NULL)
		ctcli_chain_judge_device(report, label, (const gchar *const *)phone_anchors,
		                         &facts);
	else
		ctcli_chain_judge_local(report, &facts);
	return ctcli_test_report_finish(report);
}
