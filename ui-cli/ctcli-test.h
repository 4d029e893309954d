/*
 * certtether test: synthetic transactions (client-auth, bootstrap, chain) that
 * pinpoint the failing step, shaped like Test-CsClientAuth / Test-CsPhoneBootstrap:
 * TargetUri, TargetFqdn, Result, Latency, Error, Diagnosis, plus each step with
 * its result and latency.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "daemon/enroll/ct-enroll-backend.h"
#include "ui-cli/ctcli.h"

G_BEGIN_DECLS

/* one transaction's outcome, filled step by step, printed once */
typedef struct _CtcliTestReport CtcliTestReport;

CtcliTestReport *ctcli_test_report_new(CtcliContext *ctx);
void ctcli_test_report_free(CtcliTestReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtcliTestReport, ctcli_test_report_free)

void ctcli_test_report_set_target(CtcliTestReport *report, const gchar *uri, const gchar *fqdn);

/*
 * Record a step (printed at once in text mode unless --quiet or --json); any
 * thread may call it. The first failed step's error becomes the report's
 * error unless one is set explicitly.
 */
void ctcli_test_report_step(CtcliTestReport *report,
                            const gchar *name,
                            const gchar *target,
                            gboolean ok,
                            gdouble seconds,
                            const GError *error);
/* a CtEnrollStepFunc for backends: user_data is the report */
void ctcli_test_report_backend_step(const CtEnrollStep *step, gpointer user_data);
/* a free-form line under the steps (text) and in "notes" (--json) */
void ctcli_test_report_note(CtcliTestReport *report, const gchar *format, ...) G_GNUC_PRINTF(2, 3);
/* an extra member of the --json object (takes the node) */
void ctcli_test_report_add_json(CtcliTestReport *report, const gchar *name, JsonNode *node);

/* the failure: Result becomes Failure, Error the message; the exit code follows @error */
void ctcli_test_report_fail(CtcliTestReport *report, const GError *error, const gchar *diagnosis);
/* override the exit code (bootstrap's NotSupported is a plain failure, exit 1) */
void ctcli_test_report_set_exit(CtcliTestReport *report, CtcliExit exit_code);
gboolean ctcli_test_report_failed(CtcliTestReport *report);

/* seconds since the report was made */
gdouble ctcli_test_report_elapsed(CtcliTestReport *report);

/* print the result (Format-List lines, or one JSON object) and return the exit code */
int ctcli_test_report_finish(CtcliTestReport *report);

/* seconds between two g_get_monotonic_time() values */
gdouble ctcli_test_seconds_since(gint64 t0);

/* the sub-verbs (argv[0] is the sub-verb's name) */
int ctcli_test_client_auth(CtcliContext *ctx, int argc, char **argv);
int ctcli_test_bootstrap(CtcliContext *ctx, int argc, char **argv);
int ctcli_test_chain(CtcliContext *ctx, int argc, char **argv);

/*
 * A throwaway key of @algorithm generated in memory (never written anywhere,
 * freed before returning) and a PKCS#10 request signed with it for @sip_uri:
 * subject CN=<user@domain>, subjectAltName URI:<sip_uri>. DER.
 */
GBytes *ctcli_test_make_csr(CtKeyAlgorithm algorithm, const gchar *sip_uri, GError **error);

/*
 * The step that says where a test goes, named @step: the URL is --target-url
 * as given, else the documented URL built from --target-fqdn (FQDN[:PORT]) for
 * @protocol, else the configured url; the step's target reads "URL (SOURCE)",
 * or "URL (@detail, SOURCE)", and @source_out (may be NULL) gets SOURCE. Sets
 * TargetUri and TargetFqdn (--target-fqdn, else the URL's host). NULL with the
 * step recorded as failed: CT_ERROR_INVALID_ARGS for a bad value,
 * CT_ERROR_CONFIG when nothing names a service; the caller adds its diagnosis.
 */
gchar *ctcli_test_report_target(CtcliTestReport *report,
                                const gchar *step,
                                CtConfig *config,
                                CtProtocol protocol,
                                const gchar *detail,
                                const gchar *target_url,
                                const gchar *target_fqdn,
                                const gchar **source_out,
                                GError **error);

/*
 * The "tls" step: probe the TLS chain of the https @url with the configured
 * anchors (ca-file) and timeout, as a phone would check it, and record the
 * step. FALSE with the probe's error, or CT_ERROR_CHAIN_UNTRUSTED saying why
 * the handshake did not verify; the caller adds its diagnosis.
 */
gboolean
ctcli_test_check_tls(CtcliTestReport *report, const gchar *url, CtConfig *config, GError **error);

/*
 * Parse a sub-verb's options (@argv[0] is its name) with the verbs' common
 * parser; the global options (--ca-file, --json, --direct...) were taken by
 * certtether already. FALSE after printing a usage error (exit
 * CTCLI_EXIT_USAGE). --help prints and exits 0.
 */
gboolean ctcli_test_parse_options(const gchar *parameters,
                                  const gchar *summary,
                                  const gchar *description,
                                  const GOptionEntry *entries,
                                  int *argc,
                                  char ***argv);

/* "certprov" or "est"; CT_ERROR_INVALID_ARGS otherwise */
gboolean ctcli_test_parse_protocol(const gchar *name, CtProtocol *protocol, GError **error);

/* a SIP address as given ("sip:" may be left out), normalised; CT_ERROR_INVALID_ARGS */
gchar *ctcli_test_parse_sip(const gchar *value, const gchar *option, GError **error);

G_END_DECLS
