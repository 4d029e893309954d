/*
 * certtether history [DEVICE] [--limit N]: the ledger's events (one per state
 * change of a phone), newest first.
 *
 * --json: {"events": [{"id": N, "device_id": N (when tied to a paired phone),
 *          "time": µs since the epoch, "time_iso": "2026-05-22T11:15:49.123456Z",
 *          "serial": ..., "state": ..., "message": ...}]}
 */
#include <stdio.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-verb.h"

#define CTCLI_HISTORY_DEFAULT_LIMIT 20

static void
ctcli_history_print_json(GVariant *events)
{
	g_autoptr(JsonNode) array_node = ctcli_json_from_variant(events);
	g_autoptr(JsonNode) root = json_node_new(JSON_NODE_OBJECT);
	JsonObject *object = json_object_new();
	JsonArray *array = json_node_get_array(array_node);

	for (guint i = 0; i < json_array_get_length(array); i++) {
		JsonObject *event = json_array_get_object_element(array, i);
		g_autofree gchar *iso =
		    ctcli_format_iso8601_us(json_object_get_int_member(event, "time"));
		json_object_set_string_member(event, "time_iso", iso);
	}
	json_object_set_array_member(object, "events", json_array_ref(array));
	json_node_take_object(root, object);
	ctcli_json_print(root, FALSE);
}

static void
ctcli_history_print_table(CtcliContext *ctx, GVariant *events)
{
	g_autoptr(CtcliTable) table = ctcli_table_new("TIME", "SERIAL", "STATE", "MESSAGE", NULL);
	GVariantIter iter;
	GVariant *event;

	g_variant_iter_init(&iter, events);
	while ((event = g_variant_iter_next_value(&iter)) != NULL) {
		const gchar *state = ctcli_snapshot_get_string(event, "state");
		g_autofree gchar *time =
		    ctcli_format_time_us(ctcli_snapshot_get_int64(event, "time"));
		ctcli_table_add(table, CTCLI_STYLE_NONE, time);
		ctcli_table_add(table, CTCLI_STYLE_NONE,
		                ctcli_snapshot_get_string(event, "serial"));
		ctcli_table_add(table, ctcli_state_style(ct_device_state_from_string(state)),
		                state);
		ctcli_table_add(table, CTCLI_STYLE_NONE,
		                ctcli_snapshot_get_string(event, "message"));
		ctcli_table_end_row(table);
		g_variant_unref(event);
	}
	ctcli_table_print(table, stdout, ctx->color);
}

int
ctcli_cmd_history(CtcliContext *ctx, int argc, char **argv)
{
	gint limit = CTCLI_HISTORY_DEFAULT_LIMIT;
	const GOptionEntry entries[] = {
	    {"limit", 'n', 0, G_OPTION_ARG_INT, &limit,
	     "Show at most N events (default 20; 0: all)", "N"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GVariant) events = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *serial = NULL;

	if (!ctcli_verb_parse(&argc, &argv, "[DEVICE]",
	                      "Show the ledger's events (each state change of a phone), newest "
	                      "first.",
	                      "DEVICE is a phone's serial (with certtetherd also the id or USB "
	                      "port of a phone it knows).\n--json: {\"events\": [{\"time\": ..., "
	                      "\"serial\": ..., \"state\": ..., \"message\": ...}]}.",
	                      entries))
		return CTCLI_EXIT_USAGE;
	if (argc > 2)
		return ctcli_verb_usage_error("history", "takes at most one DEVICE");
	if (limit < 0)
		return ctcli_verb_usage_error("history", "--limit must be 0 or more");

	/* the ledger alone: --direct reads it without touching USB */
	devices = ctcli_devices_new(ctx, &error);
	if (devices == NULL)
		return ctcli_print_error(ctx, error);
	if (argc == 2) {
		g_autoptr(GVariant) snap = NULL;
		if (!ctcli_devices_is_direct(devices))
			snap = ctcli_devices_find(devices, argv[1], &error);
		if (snap == NULL && error != NULL &&
		    !g_error_matches(error, CT_ERROR, CT_ERROR_NOT_FOUND))
			return ctcli_print_error(ctx, error);
		g_clear_error(&error);
		/* a phone not seen since the daemon started is still in the ledger by serial */
		serial =
		    g_strdup(snap != NULL ? ctcli_snapshot_get_string(snap, "Serial") : argv[1]);
	}
	events = ctcli_devices_get_history(devices, serial, (guint)limit, &error);
	if (events == NULL)
		return ctcli_print_error(ctx, error);
	if (ctx->json)
		ctcli_history_print_json(events);
	else if (g_variant_n_children(events) == 0)
		g_print("No events%s%s.\n", serial != NULL ? " for " : "",
		        serial != NULL ? serial : "");
	else
		ctcli_history_print_table(ctx, events);
	return CTCLI_EXIT_OK;
}
