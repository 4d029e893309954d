/*
 * certtether list: every phone seen, one line each (or --json).
 *
 * --json: {"devices": [DEVICE, ...]} where DEVICE is an object with the
 * Device1 property names as keys (Id, Serial, Vendor, Model, Firmware,
 * IdentityFingerprint, UsbPort, Connected, Paired, State, Progress,
 * StateDetail, User, CertificateSerial, CertificateSubject, CertificateIssuer,
 * CertificateNotAfter, LastError, LastErrorMessage, Hint, Attempts, NextRetry).
 */
#include <stdio.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-verb.h"

static void
ctcli_list_print_json(GPtrArray *snapshots)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "devices");
	json_builder_begin_array(builder);
	for (guint i = 0; i < snapshots->len; i++)
		json_builder_add_value(builder, ctcli_json_device(g_ptr_array_index(snapshots, i)));
	json_builder_end_array(builder);
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	ctcli_json_print(root, FALSE);
}

static void
ctcli_list_print_table(CtcliContext *ctx, GPtrArray *snapshots)
{
	g_autoptr(CtcliTable) table =
	    ctcli_table_new("DEVICE", "SERIAL", "MODEL", "PORT", "STATE", "EXPIRES", NULL);
	for (guint i = 0; i < snapshots->len; i++) {
		GVariant *snap = g_ptr_array_index(snapshots, i);
		gboolean connected = ctcli_snapshot_get_boolean(snap, "Connected");
		g_autofree gchar *expires =
		    ctcli_format_date(ctcli_snapshot_get_int64(snap, "CertificateNotAfter"));
		ctcli_table_add(table, CTCLI_STYLE_NONE, ctcli_snapshot_get_string(snap, "Id"));
		ctcli_table_add(table, CTCLI_STYLE_NONE, ctcli_snapshot_get_string(snap, "Serial"));
		ctcli_table_add(table, CTCLI_STYLE_NONE, ctcli_snapshot_get_string(snap, "Model"));
		ctcli_table_add(table, CTCLI_STYLE_NONE,
		                connected ? ctcli_snapshot_get_string(snap, "UsbPort") : "-");
		ctcli_table_add(table, ctcli_state_style(ctcli_snapshot_get_state(snap)),
		                ctcli_snapshot_get_string(snap, "State"));
		ctcli_table_add(table, CTCLI_STYLE_NONE, expires[0] != '\0' ? expires : "-");
		ctcli_table_end_row(table);
	}
	ctcli_table_print(table, stdout, ctx->color);
}

int
ctcli_cmd_list(CtcliContext *ctx, int argc, char **argv)
{
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GPtrArray) snapshots = NULL;
	int exit_code;

	if (!ctcli_verb_parse(&argc, &argv, NULL,
	                      "Show every phone seen: state, identity, "
	                      "certificate expiry.",
	                      "With --direct, the phones plugged in now (after they identify "
	                      "themselves).\n--json: {\"devices\": [{\"Id\": ..., \"State\": "
	                      "..., ...}]} (see certtether(1)).",
	                      NULL))
		return CTCLI_EXIT_USAGE;
	if (argc > 1)
		return ctcli_verb_usage_error("list", "takes no arguments");
	devices = ctcli_verb_open_devices(ctx, TRUE, &exit_code);
	if (devices == NULL)
		return exit_code;
	snapshots = ctcli_devices_list(devices);
	if (ctx->json)
		ctcli_list_print_json(snapshots);
	else if (snapshots->len == 0)
		g_print("No phones seen%s.\n",
		        ctcli_devices_is_direct(devices) ? " on USB" : " by certtetherd");
	else
		ctcli_list_print_table(ctx, snapshots);
	return CTCLI_EXIT_OK;
}
