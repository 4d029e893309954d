/*
 * certtether status [DEVICE]: the service and a line per phone, or one phone
 * in detail.
 *
 * --json without DEVICE: {"mode": "daemon"|"direct", "version": ..., "policy":
 * ..., "user": ..., "devices": [DEVICE, ...]}; with DEVICE: the DEVICE object
 * (the Device1 property names as keys, as in certtether list --json).
 */
#include <stdio.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-verb.h"

static void
ctcli_status_field(CtcliContext *ctx, const gchar *label, const gchar *value)
{
	g_autofree gchar *styled = ctcli_styled(ctx->color, CTCLI_STYLE_BOLD, label);
	if (value == NULL || value[0] == '\0')
		return;
	/* the label is padded before styling: escape codes take no columns */
	g_print("  %s%*s %s\n", styled, (int)(13 - strlen(label)), "", value);
}

static void
ctcli_status_print_device(CtcliContext *ctx, GVariant *snap)
{
	CtDeviceState state = ctcli_snapshot_get_state(snap);
	gint64 not_after = ctcli_snapshot_get_int64(snap, "CertificateNotAfter");
	gint64 next_retry = ctcli_snapshot_get_int64(snap, "NextRetry");
	g_autofree gchar *title = NULL;
	g_autofree gchar *state_text = NULL;
	g_autofree gchar *styled = NULL;
	g_autofree gchar *connection = NULL;
	g_autofree gchar *hardware = NULL;
	g_autofree gchar *expires = NULL;
	g_autofree gchar *retry = NULL;
	g_autofree gchar *attempts = NULL;

	title = g_strdup_printf("Phone %s", ctcli_snapshot_get_name(snap));
	styled = ctcli_styled(ctx->color, CTCLI_STYLE_BOLD, title);
	g_print("%s\n", styled);
	g_clear_pointer(&styled, g_free);
	styled = ctcli_styled(ctx->color, ctcli_state_style(state),
	                      ctcli_snapshot_get_string(snap, "State"));
	state_text =
	    g_strdup_printf("%s (%u%%)%s%s", styled, ctcli_snapshot_get_uint(snap, "Progress"),
	                    ctcli_snapshot_get_string(snap, "StateDetail")[0] != '\0' ? ": " : "",
	                    ctcli_snapshot_get_string(snap, "StateDetail"));
	ctcli_status_field(ctx, "State:", state_text);
	ctcli_status_field(ctx, "Id:", ctcli_snapshot_get_string(snap, "Id"));
	if (ctcli_snapshot_get_boolean(snap, "Connected"))
		connection = g_strdup_printf("connected on USB port %s",
		                             ctcli_snapshot_get_string(snap, "UsbPort"));
	else
		connection = g_strdup("not connected");
	ctcli_status_field(ctx, "Connection:", connection);
	ctcli_status_field(ctx,
	                   "Paired:", ctcli_snapshot_get_boolean(snap, "Paired") ? "yes" : "no");
	hardware = g_strdup_printf("%s %s, firmware %s", ctcli_snapshot_get_string(snap, "Vendor"),
	                           ctcli_snapshot_get_string(snap, "Model"),
	                           ctcli_snapshot_get_string(snap, "Firmware"));
	if (ctcli_snapshot_get_string(snap, "Model")[0] != '\0')
		ctcli_status_field(ctx, "Model:", hardware);
	ctcli_status_field(ctx,
	                   "Identity key:", ctcli_snapshot_get_string(snap, "IdentityFingerprint"));
	ctcli_status_field(ctx, "User:", ctcli_snapshot_get_string(snap, "User"));
	ctcli_status_field(ctx,
	                   "Certificate:", ctcli_snapshot_get_string(snap, "CertificateSubject"));
	ctcli_status_field(ctx, "Issuer:", ctcli_snapshot_get_string(snap, "CertificateIssuer"));
	ctcli_status_field(ctx, "Serial:", ctcli_snapshot_get_string(snap, "CertificateSerial"));
	if (not_after != 0) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(not_after);
		expires = dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M:%S") : NULL;
		ctcli_status_field(ctx, "Expires:", expires);
	}
	if (ctcli_snapshot_get_uint(snap, "Attempts") > 0) {
		attempts = g_strdup_printf("%u", ctcli_snapshot_get_uint(snap, "Attempts"));
		ctcli_status_field(ctx, "Attempts:", attempts);
	}
	if (next_retry != 0) {
		retry = ctcli_format_time_us(next_retry);
		ctcli_status_field(ctx, "Next retry:", retry);
	}
	ctcli_status_field(ctx, "Last error:", ctcli_snapshot_get_string(snap, "LastErrorMessage"));
	ctcli_status_field(ctx, "Hint:", ctcli_snapshot_get_string(snap, "Hint"));
}

static void
ctcli_status_print_service(CtcliContext *ctx, GVariant *service, GPtrArray *snapshots)
{
	const gchar *mode = ctcli_snapshot_get_string(service, "mode");
	const gchar *user = ctcli_snapshot_get_string(service, "user");
	g_autofree gchar *title = NULL;
	g_autofree gchar *styled = NULL;

	title =
	    g_strdup_printf(g_strcmp0(mode, "direct") == 0 ? "certtether %s (--direct, no daemon)"
	                                                   : "certtetherd %s",
	                    ctcli_snapshot_get_string(service, "version"));
	styled = ctcli_styled(ctx->color, CTCLI_STYLE_BOLD, title);
	g_print("%s\n", styled);
	ctcli_status_field(ctx, "Policy:", ctcli_snapshot_get_string(service, "policy"));
	ctcli_status_field(ctx, "User:", user[0] != '\0' ? user : "(not known yet)");
	if (snapshots->len == 0) {
		g_print("  No phones seen.\n");
		return;
	}
	for (guint i = 0; i < snapshots->len; i++) {
		GVariant *snap = g_ptr_array_index(snapshots, i);
		g_autofree gchar *line = ctcli_format_progress_line(snap, TRUE, ctx->color, 0, 0);
		g_print("  %s\n", line);
	}
}

static void
ctcli_status_print_service_json(GVariant *service, GPtrArray *snapshots)
{
	g_autoptr(JsonNode) root = ctcli_json_from_variant(service);
	JsonObject *object = json_node_get_object(root);
	JsonArray *array = json_array_new();
	for (guint i = 0; i < snapshots->len; i++)
		json_array_add_element(array, ctcli_json_device(g_ptr_array_index(snapshots, i)));
	json_object_set_array_member(object, "devices", array);
	ctcli_json_print(root, FALSE);
}

int
ctcli_cmd_status(CtcliContext *ctx, int argc, char **argv)
{
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GError) error = NULL;
	int exit_code;

	if (!ctcli_verb_parse(&argc, &argv, "[DEVICE]",
	                      "Show the service and every phone's state, or one phone in detail.",
	                      "DEVICE is a phone's id, serial, USB port or identity fingerprint "
	                      "prefix.\n--json: the service object with \"devices\", or the DEVICE "
	                      "object (see certtether(1)).",
	                      NULL))
		return CTCLI_EXIT_USAGE;
	if (argc > 2)
		return ctcli_verb_usage_error("status", "takes at most one DEVICE");
	devices = ctcli_verb_open_devices(ctx, TRUE, &exit_code);
	if (devices == NULL)
		return exit_code;
	if (argc == 2) {
		g_autoptr(GVariant) snap = ctcli_devices_find(devices, argv[1], &error);
		if (snap == NULL)
			return ctcli_print_error(ctx, error);
		if (ctx->json) {
			g_autoptr(JsonNode) node = ctcli_json_device(snap);
			ctcli_json_print(node, FALSE);
		} else {
			ctcli_status_print_device(ctx, snap);
		}
	} else {
		g_autoptr(GVariant) service = ctcli_devices_get_service(devices);
		g_autoptr(GPtrArray) snapshots = ctcli_devices_list(devices);
		if (ctx->json)
			ctcli_status_print_service_json(service, snapshots);
		else
			ctcli_status_print_service(ctx, service, snapshots);
	}
	return CTCLI_EXIT_OK;
}
