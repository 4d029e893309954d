/*
 * The result of one synthetic transaction, printed the way Test-CsClientAuth and
 * Test-CsPhoneBootstrap print theirs (PowerShell's Format-List: aligned
 * "Key : value" lines), with the steps before it; or one JSON object.
 */
#include <stdio.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-test.h"

typedef struct {
	gchar *name;
	gchar *target;
	gboolean ok;
	gdouble seconds;
	gchar *error;
} CtcliTestStep;

struct _CtcliTestReport {
	CtcliContext *ctx;
	GMutex mutex; /* steps may come from a backend's worker thread */
	gint64 start;
	gchar *target_uri;
	gchar *target_fqdn;
	GPtrArray *steps; /* CtcliTestStep */
	GPtrArray *notes; /* gchar* */
	GError *error;
	gchar *diagnosis;
	gboolean failed;
	gboolean have_exit;
	CtcliExit exit_code;
	gboolean header_printed;
	JsonObject *extra;
};

/* the widest step name we print, for alignment */
#define CTCLI_TEST_NAME_WIDTH 12

static void
ctcli_test_step_free(CtcliTestStep *step)
{
	g_free(step->name);
	g_free(step->target);
	g_free(step->error);
	g_free(step);
}

gdouble
ctcli_test_seconds_since(gint64 t0)
{
	return (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
}

CtcliTestReport *
ctcli_test_report_new(CtcliContext *ctx)
{
	CtcliTestReport *report = g_new0(CtcliTestReport, 1);
	report->ctx = ctx;
	g_mutex_init(&report->mutex);
	report->start = g_get_monotonic_time();
	report->steps = g_ptr_array_new_with_free_func((GDestroyNotify)ctcli_test_step_free);
	report->notes = g_ptr_array_new_with_free_func(g_free);
	report->extra = json_object_new();
	return report;
}

void
ctcli_test_report_free(CtcliTestReport *report)
{
	if (report == NULL)
		return;
	g_free(report->target_uri);
	g_free(report->target_fqdn);
	g_ptr_array_unref(report->steps);
	g_ptr_array_unref(report->notes);
	g_clear_error(&report->error);
	g_free(report->diagnosis);
	json_object_unref(report->extra);
	g_mutex_clear(&report->mutex);
	g_free(report);
}

void
ctcli_test_report_set_target(CtcliTestReport *report, const gchar *uri, const gchar *fqdn)
{
	g_free(report->target_uri);
	g_free(report->target_fqdn);
	report->target_uri = g_strdup(uri);
	report->target_fqdn = g_strdup(fqdn);
}

gdouble
ctcli_test_report_elapsed(CtcliTestReport *report)
{
	return ctcli_test_seconds_since(report->start);
}

static gboolean
ctcli_test_report_prints_steps(CtcliTestReport *report)
{
	return !report->ctx->json && !report->ctx->quiet;
}

void
ctcli_test_report_step(CtcliTestReport *report,
                       const gchar *name,
                       const gchar *target,
                       gboolean ok,
                       gdouble seconds,
                       const GError *error)
{
	CtcliTestStep *step = g_new0(CtcliTestStep, 1);
	step->name = g_strdup(name);
	step->target = g_strdup(target);
	step->ok = ok;
	step->seconds = seconds;
	if (!ok)
		step->error = g_strdup(error != NULL ? error->message : "failed");

	g_mutex_lock(&report->mutex);
	g_ptr_array_add(report->steps, step);
	if (ctcli_test_report_prints_steps(report)) {
		if (!report->header_printed) {
			g_print("%-*s %-6s %9s  %s\n", CTCLI_TEST_NAME_WIDTH, "Step", "Result",
			        "Latency", "Target");
			report->header_printed = TRUE;
		}
		g_print("%-*s %-6s %7.3f s  %s\n", CTCLI_TEST_NAME_WIDTH, name,
		        ok ? "ok" : "FAILED", seconds, target != NULL ? target : "");
		if (!ok) {
			g_auto(GStrv) lines = g_strsplit(step->error, "\n", -1);
			for (guint i = 0; lines[i] != NULL; i++)
				g_print("%*s %s\n", CTCLI_TEST_NAME_WIDTH, "", lines[i]);
		}
	}
	g_mutex_unlock(&report->mutex);
}

void
ctcli_test_report_backend_step(const CtEnrollStep *step, gpointer user_data)
{
	ctcli_test_report_step(user_data, step->name, step->target, step->ok, step->seconds,
	                       step->error);
}

void
ctcli_test_report_note(CtcliTestReport *report, const gchar *format, ...)
{
	va_list args;
	gchar *text;
	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	g_mutex_lock(&report->mutex);
	g_ptr_array_add(report->notes, text);
	if (ctcli_test_report_prints_steps(report))
		g_print("%*s %s\n", CTCLI_TEST_NAME_WIDTH, "", text);
	g_mutex_unlock(&report->mutex);
}

void
ctcli_test_report_add_json(CtcliTestReport *report, const gchar *name, JsonNode *node)
{
	json_object_set_member(report->extra, name, node);
}

void
ctcli_test_report_fail(CtcliTestReport *report, const GError *error, const gchar *diagnosis)
{
	report->failed = TRUE;
	if (report->error == NULL && error != NULL)
		report->error = g_error_copy(error);
	if (report->diagnosis == NULL && diagnosis != NULL)
		report->diagnosis = g_strdup(diagnosis);
}

void
ctcli_test_report_set_exit(CtcliTestReport *report, CtcliExit exit_code)
{
	report->have_exit = TRUE;
	report->exit_code = exit_code;
}

gboolean
ctcli_test_report_failed(CtcliTestReport *report)
{
	return report->failed;
}

/* PowerShell prints a TimeSpan as hh:mm:ss.fffffff; microseconds are what we measure */
static gchar *
ctcli_test_format_latency(gdouble seconds)
{
	guint64 us = (guint64)(seconds * G_USEC_PER_SEC + 0.5);
	guint64 s = us / G_USEC_PER_SEC;
	return g_strdup_printf("%02" G_GUINT64_FORMAT ":%02" G_GUINT64_FORMAT
	                       ":%02" G_GUINT64_FORMAT ".%06" G_GUINT64_FORMAT "0",
	                       s / 3600, (s / 60) % 60, s % 60, us % G_USEC_PER_SEC);
}

/* one Format-List entry; continuation lines are indented under the value */
static void
ctcli_test_print_field(const gchar *key, const gchar *value)
{
	g_auto(GStrv) lines = g_strsplit(value != NULL ? value : "", "\n", -1);
	g_print("%-10s : %s\n", key, lines[0] != NULL ? lines[0] : "");
	for (guint i = 1; lines[0] != NULL && lines[i] != NULL; i++)
		g_print("%-10s   %s\n", "", lines[i]);
}

static void
ctcli_test_json_string(JsonBuilder *builder, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(builder, name);
	if (value != NULL)
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

static JsonNode *
ctcli_test_report_to_json(CtcliTestReport *report, gdouble latency)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	GList *members;

	json_builder_begin_object(builder);
	ctcli_test_json_string(builder, "TargetUri", report->target_uri);
	ctcli_test_json_string(builder, "TargetFqdn", report->target_fqdn);
	json_builder_set_member_name(builder, "Result");
	json_builder_add_string_value(builder, report->failed ? "Failure" : "Success");
	json_builder_set_member_name(builder, "Latency");
	json_builder_add_double_value(builder, latency);
	ctcli_test_json_string(builder, "Error",
	                       report->error != NULL ? report->error->message : NULL);
	ctcli_test_json_string(builder, "ErrorName",
	                       report->error != NULL && report->error->domain == CT_ERROR
	                           ? ct_error_code_to_string((CtError)report->error->code)
	                           : NULL);
	ctcli_test_json_string(builder, "Diagnosis", report->diagnosis);

	json_builder_set_member_name(builder, "steps");
	json_builder_begin_array(builder);
	for (guint i = 0; i < report->steps->len; i++) {
		CtcliTestStep *step = g_ptr_array_index(report->steps, i);
		json_builder_begin_object(builder);
		ctcli_test_json_string(builder, "name", step->name);
		ctcli_test_json_string(builder, "target", step->target);
		json_builder_set_member_name(builder, "ok");
		json_builder_add_boolean_value(builder, step->ok);
		json_builder_set_member_name(builder, "seconds");
		json_builder_add_double_value(builder, step->seconds);
		ctcli_test_json_string(builder, "error", step->error);
		json_builder_end_object(builder);
	}
	json_builder_end_array(builder);

	json_builder_set_member_name(builder, "notes");
	json_builder_begin_array(builder);
	for (guint i = 0; i < report->notes->len; i++)
		json_builder_add_string_value(builder, g_ptr_array_index(report->notes, i));
	json_builder_end_array(builder);

	members = json_object_get_members(report->extra);
	for (GList *l = members; l != NULL; l = l->next) {
		json_builder_set_member_name(builder, l->data);
		json_builder_add_value(
		    builder, json_node_copy(json_object_get_member(report->extra, l->data)));
	}
	g_list_free(members);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

int
ctcli_test_report_finish(CtcliTestReport *report)
{
	gdouble latency = ctcli_test_report_elapsed(report);
	int exit_code = CTCLI_EXIT_OK;

	if (report->failed) {
		if (report->have_exit)
			exit_code = report->exit_code;
		else if (report->error != NULL)
			exit_code = ctcli_exit_for_error(report->error);
		else
			exit_code = CTCLI_EXIT_FAILURE;
	}
	if (report->ctx->json) {
		g_autoptr(JsonNode) root = ctcli_test_report_to_json(report, latency);
		ctcli_json_print(root, FALSE);
	} else {
		g_autofree gchar *latency_text = ctcli_test_format_latency(latency);
		if (report->header_printed)
			g_print("\n");
		ctcli_test_print_field("TargetUri", report->target_uri);
		ctcli_test_print_field("TargetFqdn", report->target_fqdn);
		ctcli_test_print_field("Result", report->failed ? "Failure" : "Success");
		ctcli_test_print_field("Latency", latency_text);
		ctcli_test_print_field("Error",
		                       report->error != NULL ? report->error->message : NULL);
		ctcli_test_print_field("Diagnosis", report->diagnosis);
	}
	fflush(stdout);
	return exit_code;
}
