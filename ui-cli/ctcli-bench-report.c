/*
 * The bench report: per listed phone its outcome, certificate, user and
 * timings (first seen -> outcome, and per phase from the states it went
 * through), as CSV (RFC 4180) or JSON, and a table on the terminal.
 */
#include <string.h>

#include "ui-cli/ctcli-bench.h"
#include "ui-cli/ctcli-devices.h"
#include "ui-cli/ctcli-output.h"

/* the phases of the path, each named by the states that begin it */
typedef struct {
	const gchar *name;
	CtDeviceState states[4];
	guint n_states;
} CtcliBenchPhase;

static const CtcliBenchPhase ctcli_bench_phases[] = {
    {"approval", {CT_DEVICE_STATE_AWAITING_APPROVAL}, 1},
    {"check", {CT_DEVICE_STATE_CHECKING}, 1},
    {"keygen", {CT_DEVICE_STATE_GENERATING_KEY}, 1},
    {"enroll",
     {CT_DEVICE_STATE_CHECKING_CSR, CT_DEVICE_STATE_ENROLLING, CT_DEVICE_STATE_WAITING_RETRY,
      CT_DEVICE_STATE_VERIFYING},
     4},
    {"install", {CT_DEVICE_STATE_INSTALLING, CT_DEVICE_STATE_COMMITTING}, 2},
};

static const CtDeviceState ctcli_bench_outcome_states[] = {
    CT_DEVICE_STATE_PROVISIONED,
    CT_DEVICE_STATE_UP_TO_DATE,
    CT_DEVICE_STATE_FAILED,
    CT_DEVICE_STATE_REJECTED,
};

void
ctcli_bench_phone_free(CtcliBenchPhone *phone)
{
	g_free(phone->id);
	g_clear_pointer(&phone->snapshot, g_variant_unref);
	g_clear_error(&phone->action_error);
	g_free(phone);
}

gboolean
ctcli_bench_state_is_outcome(CtDeviceState state)
{
	for (guint i = 0; i < G_N_ELEMENTS(ctcli_bench_outcome_states); i++) {
		if (ctcli_bench_outcome_states[i] == state)
			return TRUE;
	}
	return FALSE;
}

/* the earliest nonzero time among @states at or after @after, 0 when none */
static gint64
ctcli_bench_first(CtcliBenchPhone *phone, const CtDeviceState *states, guint n, gint64 after)
{
	gint64 best = 0;
	for (guint i = 0; i < n; i++) {
		gint64 t = phone->entered[states[i]];
		if (t != 0 && t >= after && (best == 0 || t < best))
			best = t;
	}
	return best;
}

/* seconds spent in phase @i, or -1 when the phone never went through it */
static gdouble
ctcli_bench_phase_seconds(CtcliBenchPhone *phone, guint i)
{
	const CtcliBenchPhase *phase = &ctcli_bench_phases[i];
	gint64 start = ctcli_bench_first(phone, phase->states, phase->n_states, 0);
	gint64 end = 0;
	if (start == 0)
		return -1;
	/* it ends where any later phase, or the outcome, begins */
	for (guint j = i + 1; j < G_N_ELEMENTS(ctcli_bench_phases); j++) {
		gint64 t = ctcli_bench_first(phone, ctcli_bench_phases[j].states,
		                             ctcli_bench_phases[j].n_states, start);
		if (t != 0 && (end == 0 || t < end))
			end = t;
	}
	{
		gint64 t = ctcli_bench_first(phone, ctcli_bench_outcome_states,
		                             G_N_ELEMENTS(ctcli_bench_outcome_states), start);
		if (t != 0 && (end == 0 || t < end))
			end = t;
	}
	if (end == 0)
		return -1;
	return (gdouble)(end - start) / G_USEC_PER_SEC;
}

static gdouble
ctcli_bench_total_seconds(CtcliBenchPhone *phone)
{
	if (phone->done_at == 0 || phone->first_seen == 0)
		return -1;
	return (gdouble)(phone->done_at - phone->first_seen) / G_USEC_PER_SEC;
}

const gchar *
ctcli_bench_phone_outcome(CtcliBenchPhone *phone, GError **error)
{
	const gchar *name = phone->entry->device;
	g_autoptr(GError) last = NULL;

	if (phone->action_error != NULL) {
		g_propagate_error(error, g_error_copy(phone->action_error));
		g_prefix_error(error, "%s: ", name);
		return "failed";
	}
	if (phone->snapshot == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "%s (roster line %u) was never seen: plug it in", name,
		            phone->entry->line);
		return "not-seen";
	}
	switch (ctcli_snapshot_get_state(phone->snapshot)) {
	case CT_DEVICE_STATE_PROVISIONED:
		return "provisioned";
	case CT_DEVICE_STATE_UP_TO_DATE:
		return "up-to-date";
	case CT_DEVICE_STATE_REJECTED:
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_APPROVED,
		            "%s is rejected on this machine: the bench does not overrule that "
		            "(certtether approve %s)",
		            name, ctcli_snapshot_get_string(phone->snapshot, "Id"));
		return "rejected";
	case CT_DEVICE_STATE_FAILED:
		last = ctcli_snapshot_dup_error(phone->snapshot);
		if (last == NULL)
			last =
			    g_error_new(CT_ERROR, CT_ERROR_DEVICE, "%s",
			                ctcli_snapshot_get_string(phone->snapshot, "StateDetail"));
		g_prefix_error(&last, "%s: ", name);
		g_propagate_error(error, g_steal_pointer(&last));
		return "failed";
	default:
		g_set_error(error, CT_ERROR, CT_ERROR_TIMEOUT,
		            "%s was still %s when the bench stopped: %s", name,
		            ctcli_snapshot_get_string(phone->snapshot, "State"),
		            ctcli_snapshot_get_string(phone->snapshot, "StateDetail"));
		return "unfinished";
	}
}

gboolean
ctcli_bench_report_check_path(const gchar *path, GError **error)
{
	g_autofree gchar *lower = g_ascii_strdown(path, -1);
	if (g_str_has_suffix(lower, ".csv") || g_str_has_suffix(lower, ".json"))
		return TRUE;
	g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
	            "--report %s: the name must end in .csv or .json (that is the format)", path);
	return FALSE;
}

static gchar *
ctcli_bench_iso_seconds(gint64 seconds)
{
	g_autoptr(GDateTime) dt = seconds > 0 ? g_date_time_new_from_unix_utc(seconds) : NULL;
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%dT%H:%M:%SZ") : g_strdup("");
}

/* ---- JSON ------------------------------------------------------------------------------------ */

static void
ctcli_bench_json_seconds(JsonBuilder *builder, const gchar *name, gdouble seconds)
{
	json_builder_set_member_name(builder, name);
	if (seconds < 0)
		json_builder_add_null_value(builder);
	else /* milliseconds are what a bench cares about */
		json_builder_add_double_value(builder,
		                              (gdouble)(gint64)(seconds * 1000 + 0.5) / 1000);
}

static void
ctcli_bench_json_string(JsonBuilder *builder, const gchar *name, const gchar *value)
{
	json_builder_set_member_name(builder, name);
	if (value != NULL && value[0] != '\0')
		json_builder_add_string_value(builder, value);
	else
		json_builder_add_null_value(builder);
}

static void
ctcli_bench_phone_json(JsonBuilder *builder, CtcliBenchPhone *phone)
{
	g_autoptr(GError) error = NULL;
	const gchar *outcome = ctcli_bench_phone_outcome(phone, &error);
	GVariant *snap = phone->snapshot;
	g_autofree gchar *first_seen =
	    phone->first_seen_real != 0 ? ctcli_format_iso8601_us(phone->first_seen_real) : NULL;
	g_autofree gchar *not_after = NULL;

	if (snap != NULL)
		not_after =
		    ctcli_bench_iso_seconds(ctcli_snapshot_get_int64(snap, "CertificateNotAfter"));
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "line");
	json_builder_add_int_value(builder, phone->entry->line);
	ctcli_bench_json_string(builder, "device", phone->entry->device);
	ctcli_bench_json_string(builder, "id", phone->id);
	ctcli_bench_json_string(builder, "serial",
	                        snap != NULL ? ctcli_snapshot_get_string(snap, "Serial") : NULL);
	ctcli_bench_json_string(builder, "usb_port",
	                        snap != NULL ? ctcli_snapshot_get_string(snap, "UsbPort") : NULL);
	ctcli_bench_json_string(builder, "user", phone->entry->sip_uri);
	ctcli_bench_json_string(builder, "auth", phone->entry->auth_text);
	ctcli_bench_json_string(builder, "outcome", outcome);
	ctcli_bench_json_string(builder, "state",
	                        snap != NULL ? ctcli_snapshot_get_string(snap, "State") : NULL);
	ctcli_bench_json_string(builder, "certificate_serial",
	                        snap != NULL ? ctcli_snapshot_get_string(snap, "CertificateSerial")
	                                     : NULL);
	ctcli_bench_json_string(builder, "certificate_subject",
	                        snap != NULL ? ctcli_snapshot_get_string(snap, "CertificateSubject")
	                                     : NULL);
	ctcli_bench_json_string(builder, "certificate_not_after", not_after);
	json_builder_set_member_name(builder, "attempts");
	json_builder_add_int_value(builder,
	                           snap != NULL ? ctcli_snapshot_get_uint(snap, "Attempts") : 0);
	ctcli_bench_json_string(builder, "error", error != NULL ? error->message : NULL);
	ctcli_bench_json_string(builder, "error_name",
	                        error != NULL && error->domain == CT_ERROR
	                            ? ct_error_code_to_string((CtError)error->code)
	                            : NULL);
	ctcli_bench_json_string(builder, "first_seen", first_seen);
	json_builder_set_member_name(builder, "seconds");
	json_builder_begin_object(builder);
	ctcli_bench_json_seconds(builder, "total", ctcli_bench_total_seconds(phone));
	for (guint i = 0; i < G_N_ELEMENTS(ctcli_bench_phases); i++)
		ctcli_bench_json_seconds(builder, ctcli_bench_phases[i].name,
		                         ctcli_bench_phase_seconds(phone, i));
	json_builder_end_object(builder);
	json_builder_end_object(builder);
}

JsonNode *
ctcli_bench_report_json(GPtrArray *phones,
                        const gchar *roster,
                        const gchar *mode,
                        gint64 started_real,
                        gint64 finished_real)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autofree gchar *started = ctcli_format_iso8601_us(started_real);
	g_autofree gchar *finished = ctcli_format_iso8601_us(finished_real);
	guint ok = 0;

	json_builder_begin_object(builder);
	ctcli_bench_json_string(builder, "roster", roster);
	ctcli_bench_json_string(builder, "mode", mode);
	ctcli_bench_json_string(builder, "started", started);
	ctcli_bench_json_string(builder, "finished", finished);
	json_builder_set_member_name(builder, "phones");
	json_builder_begin_array(builder);
	for (guint i = 0; i < phones->len; i++) {
		CtcliBenchPhone *phone = g_ptr_array_index(phones, i);
		g_autoptr(GError) error = NULL;
		ctcli_bench_phone_outcome(phone, &error);
		if (error == NULL)
			ok++;
		ctcli_bench_phone_json(builder, phone);
	}
	json_builder_end_array(builder);
	json_builder_set_member_name(builder, "provisioned_or_up_to_date");
	json_builder_add_int_value(builder, ok);
	json_builder_set_member_name(builder, "listed");
	json_builder_add_int_value(builder, phones->len);
	json_builder_end_object(builder);
	return json_builder_get_root(builder);
}

/* ---- CSV ------------------------------------------------------------------------------------- */

/* one RFC 4180 field: quoted when it holds a comma, a quote or a line break */
static void
ctcli_bench_csv_field(GString *out, const gchar *value, gboolean last)
{
	if (value == NULL)
		value = "";
	if (strpbrk(value, ",\"\r\n") != NULL) {
		g_string_append_c(out, '"');
		for (const gchar *p = value; *p != '\0'; p++) {
			if (*p == '"')
				g_string_append_c(out, '"');
			g_string_append_c(out, *p);
		}
		g_string_append_c(out, '"');
	} else {
		g_string_append(out, value);
	}
	g_string_append(out, last ? "\r\n" : ",");
}

static gchar *
ctcli_bench_csv_seconds(gdouble seconds)
{
	return seconds < 0 ? g_strdup("") : g_strdup_printf("%.3f", seconds);
}

static gchar *
ctcli_bench_report_csv(GPtrArray *phones)
{
	GString *out = g_string_new(NULL);
	static const gchar *const header[] = {"line",
	                                      "device",
	                                      "serial",
	                                      "usb_port",
	                                      "user",
	                                      "auth",
	                                      "outcome",
	                                      "state",
	                                      "certificate_serial",
	                                      "certificate_subject",
	                                      "certificate_not_after",
	                                      "attempts",
	                                      "error",
	                                      "first_seen",
	                                      "seconds_total",
	                                      NULL};

	for (guint i = 0; header[i] != NULL; i++)
		ctcli_bench_csv_field(out, header[i], FALSE);
	for (guint i = 0; i < G_N_ELEMENTS(ctcli_bench_phases); i++) {
		g_autofree gchar *name = g_strdup_printf("seconds_%s", ctcli_bench_phases[i].name);
		ctcli_bench_csv_field(out, name, i + 1 == G_N_ELEMENTS(ctcli_bench_phases));
	}
	for (guint i = 0; i < phones->len; i++) {
		CtcliBenchPhone *phone = g_ptr_array_index(phones, i);
		GVariant *snap = phone->snapshot;
		g_autoptr(GError) error = NULL;
		const gchar *outcome = ctcli_bench_phone_outcome(phone, &error);
		g_autofree gchar *line = g_strdup_printf("%u", phone->entry->line);
		g_autofree gchar *attempts = g_strdup_printf(
		    "%u", snap != NULL ? ctcli_snapshot_get_uint(snap, "Attempts") : 0);
		g_autofree gchar *first_seen = phone->first_seen_real != 0
		                                   ? ctcli_format_iso8601_us(phone->first_seen_real)
		                                   : NULL;
		g_autofree gchar *not_after =
		    snap != NULL ? ctcli_bench_iso_seconds(
		                       ctcli_snapshot_get_int64(snap, "CertificateNotAfter"))
		                 : NULL;
		g_autofree gchar *total = ctcli_bench_csv_seconds(ctcli_bench_total_seconds(phone));

		ctcli_bench_csv_field(out, line, FALSE);
		ctcli_bench_csv_field(out, phone->entry->device, FALSE);
		ctcli_bench_csv_field(
		    out, snap != NULL ? ctcli_snapshot_get_string(snap, "Serial") : NULL, FALSE);
		ctcli_bench_csv_field(
		    out, snap != NULL ? ctcli_snapshot_get_string(snap, "UsbPort") : NULL, FALSE);
		ctcli_bench_csv_field(out, phone->entry->sip_uri, FALSE);
		ctcli_bench_csv_field(out, phone->entry->auth_text, FALSE);
		ctcli_bench_csv_field(out, outcome, FALSE);
		ctcli_bench_csv_field(
		    out, snap != NULL ? ctcli_snapshot_get_string(snap, "State") : NULL, FALSE);
		ctcli_bench_csv_field(
		    out, snap != NULL ? ctcli_snapshot_get_string(snap, "CertificateSerial") : NULL,
		    FALSE);
		ctcli_bench_csv_field(
		    out,
		    snap != NULL ? ctcli_snapshot_get_string(snap, "CertificateSubject") : NULL,
		    FALSE);
		ctcli_bench_csv_field(out, not_after, FALSE);
		ctcli_bench_csv_field(out, attempts, FALSE);
		ctcli_bench_csv_field(out, error != NULL ? error->message : NULL, FALSE);
		ctcli_bench_csv_field(out, first_seen, FALSE);
		ctcli_bench_csv_field(out, total, FALSE);
		for (guint j = 0; j < G_N_ELEMENTS(ctcli_bench_phases); j++) {
			g_autofree gchar *secs =
			    ctcli_bench_csv_seconds(ctcli_bench_phase_seconds(phone, j));
			ctcli_bench_csv_field(out, secs, j + 1 == G_N_ELEMENTS(ctcli_bench_phases));
		}
	}
	return g_string_free(out, FALSE);
}

gboolean
ctcli_bench_report_write(const gchar *path,
                         GPtrArray *phones,
                         const gchar *roster,
                         const gchar *mode,
                         gint64 started_real,
                         gint64 finished_real,
                         GError **error)
{
	g_autofree gchar *lower = g_ascii_strdown(path, -1);
	g_autofree gchar *text = NULL;
	g_autoptr(GError) error_local = NULL;

	if (g_str_has_suffix(lower, ".json")) {
		g_autoptr(JsonNode) root =
		    ctcli_bench_report_json(phones, roster, mode, started_real, finished_real);
		g_autoptr(JsonGenerator) generator = json_generator_new();
		g_autofree gchar *body = NULL;
		json_generator_set_pretty(generator, TRUE);
		json_generator_set_root(generator, root);
		body = json_generator_to_data(generator, NULL);
		text = g_strconcat(body, "\n", NULL);
	} else {
		text = ctcli_bench_report_csv(phones);
	}
	if (!g_file_set_contents(path, text, -1, &error_local)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "cannot write the report: %s",
		            error_local->message);
		return FALSE;
	}
	return TRUE;
}

void
ctcli_bench_report_print(CtcliContext *ctx, GPtrArray *phones)
{
	g_autoptr(CtcliTable) table =
	    ctcli_table_new("LINE", "DEVICE", "USER", "OUTCOME", "CERTIFICATE", "SECONDS", NULL);
	for (guint i = 0; i < phones->len; i++) {
		CtcliBenchPhone *phone = g_ptr_array_index(phones, i);
		g_autoptr(GError) error = NULL;
		const gchar *outcome = ctcli_bench_phone_outcome(phone, &error);
		g_autofree gchar *line = g_strdup_printf("%u", phone->entry->line);
		g_autofree gchar *total = ctcli_bench_csv_seconds(ctcli_bench_total_seconds(phone));
		const gchar *serial =
		    phone->snapshot != NULL
		        ? ctcli_snapshot_get_string(phone->snapshot, "CertificateSerial")
		        : "";
		ctcli_table_add(table, CTCLI_STYLE_NONE, line);
		ctcli_table_add(table, CTCLI_STYLE_NONE, phone->entry->device);
		ctcli_table_add(table, CTCLI_STYLE_NONE, phone->entry->sip_uri);
		ctcli_table_add(table, error == NULL ? CTCLI_STYLE_GOOD : CTCLI_STYLE_BAD, outcome);
		ctcli_table_add(table, CTCLI_STYLE_NONE, serial[0] != '\0' ? serial : "-");
		ctcli_table_add(table, CTCLI_STYLE_NONE, total[0] != '\0' ? total : "-");
		ctcli_table_end_row(table);
	}
	ctcli_table_print(table, stdout, ctx->color);
}
