/*
 * certtether watch: every phone's progress, live, until Ctrl-C (exit 0).
 *
 * On a terminal: one line per phone with a progress bar, redrawn in place.
 * Otherwise one line per change: "TIME NAME STATE PERCENT% DETAIL".
 * --json: one object per line, first one per known phone ("present"), then
 * one per change: {"event": "present"|"added"|"changed"|"removed",
 * "time": "2026-05-22T11:15:49.123456Z", "device": DEVICE} (for "removed" the
 * device object holds only "Id").
 */
#include <stdio.h>
#include <unistd.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-verb.h"

typedef struct {
	CtcliContext *ctx;
	CtcliLive *live;     /* stdout is a terminal */
	GHashTable *printed; /* id -> what the last line showed, to print changes only */
	GHashTable *names;   /* id -> serial, to name a phone that went away */
} CtcliWatch;

static void
ctcli_watch_json(const gchar *event, const gchar *id, GVariant *snap)
{
	g_autoptr(JsonBuilder) builder = json_builder_new();
	g_autoptr(JsonNode) root = NULL;
	g_autofree gchar *now = ctcli_format_iso8601_us(g_get_real_time());
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "event");
	json_builder_add_string_value(builder, event);
	json_builder_set_member_name(builder, "time");
	json_builder_add_string_value(builder, now);
	json_builder_set_member_name(builder, "device");
	if (snap != NULL) {
		json_builder_add_value(builder, ctcli_json_device(snap));
	} else {
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "Id");
		json_builder_add_string_value(builder, id);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
	root = json_builder_get_root(builder);
	ctcli_json_print(root, TRUE);
}

/* human lines change with what they show; JSON lines with any property */
static gchar *
ctcli_watch_key(CtcliWatch *watch, GVariant *snap)
{
	if (snap == NULL)
		return g_strdup("removed");
	if (watch->ctx->json)
		return g_variant_print(snap, FALSE);
	return g_strdup_printf("%s|%u|%s|%d", ctcli_snapshot_get_string(snap, "State"),
	                       ctcli_snapshot_get_uint(snap, "Progress"),
	                       ctcli_snapshot_get_string(snap, "StateDetail"),
	                       ctcli_snapshot_get_boolean(snap, "Connected"));
}

static void
ctcli_watch_on_event(CtcliWatch *watch, const gchar *event, const gchar *id, GVariant *snap)
{
	g_autofree gchar *key = ctcli_watch_key(watch, snap);
	g_autofree gchar *line = NULL;
	const gchar *name;

	/* the same thing twice (e.g. a refresh after an action) is no change */
	if (g_strcmp0(event, "changed") == 0 &&
	    g_strcmp0(g_hash_table_lookup(watch->printed, id), key) == 0)
		return;
	g_hash_table_replace(watch->printed, g_strdup(id), g_steal_pointer(&key));
	if (snap != NULL)
		g_hash_table_replace(watch->names, g_strdup(id),
		                     g_strdup(ctcli_snapshot_get_name(snap)));
	name = g_hash_table_lookup(watch->names, id);
	if (name == NULL)
		name = id;
	if (watch->ctx->json) {
		ctcli_watch_json(event, id, snap);
		return;
	}
	if (watch->live != NULL) {
		if (snap == NULL)
			line = g_strdup_printf("%-16s removed", name);
		else
			line = ctcli_format_progress_line(snap, TRUE, watch->ctx->color, 16,
			                                  ctcli_terminal_width(stdout) - 1);
		ctcli_live_set(watch->live, id, line);
		return;
	}
	if (snap == NULL) {
		g_autofree gchar *now = ctcli_format_iso8601_us(g_get_real_time());
		g_print("%s %s removed\n", now, name);
	} else {
		line = ctcli_format_progress_line(snap, FALSE, watch->ctx->color, 0, 0);
		g_print("%s\n", line);
	}
	fflush(stdout);
}

static void
ctcli_watch_on_added(CtcliDevices *devices, const gchar *id, GVariant *snap, gpointer data)
{
	(void)devices;
	ctcli_watch_on_event(data, "added", id, snap);
}

static void
ctcli_watch_on_changed(CtcliDevices *devices, const gchar *id, GVariant *snap, gpointer data)
{
	(void)devices;
	ctcli_watch_on_event(data, "changed", id, snap);
}

static void
ctcli_watch_on_removed(CtcliDevices *devices, const gchar *id, gpointer data)
{
	(void)devices;
	ctcli_watch_on_event(data, "removed", id, NULL);
}

int
ctcli_cmd_watch(CtcliContext *ctx, int argc, char **argv)
{
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GPtrArray) snapshots = NULL;
	g_autoptr(GError) error = NULL;
	CtcliWatch watch = {.ctx = ctx};
	int exit_code;

	if (!ctcli_verb_parse(&argc, &argv, NULL,
	                      "Follow every phone's progress live until Ctrl-C.",
	                      "--json: one object per line and change: {\"event\": "
	                      "\"present\"|\"added\"|\"changed\"|\"removed\", \"time\": ..., "
	                      "\"device\": {...}}.",
	                      NULL))
		return CTCLI_EXIT_USAGE;
	if (argc > 1)
		return ctcli_verb_usage_error("watch", "takes no arguments");
	devices = ctcli_verb_open_devices(ctx, FALSE, &exit_code);
	if (devices == NULL)
		return exit_code;
	watch.printed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	watch.names = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	if (!ctx->json && isatty(STDOUT_FILENO))
		watch.live = ctcli_live_new(stdout);

	snapshots = ctcli_devices_list(devices);
	for (guint i = 0; i < snapshots->len; i++) {
		GVariant *snap = g_ptr_array_index(snapshots, i);
		ctcli_watch_on_event(&watch, "present", ctcli_snapshot_get_string(snap, "Id"),
		                     snap);
	}
	if (snapshots->len == 0 && !ctx->json && !ctx->quiet)
		g_printerr("certtether: watching for phones (Ctrl-C to stop)\n");
	g_signal_connect(devices, "device-added", G_CALLBACK(ctcli_watch_on_added), &watch);
	g_signal_connect(devices, "device-changed", G_CALLBACK(ctcli_watch_on_changed), &watch);
	g_signal_connect(devices, "device-removed", G_CALLBACK(ctcli_watch_on_removed), &watch);

	/* until Ctrl-C / SIGTERM (a normal end), or the daemon goes away (an error) */
	ctcli_devices_wait(devices, NULL, NULL, 0, &error);
	g_signal_handlers_disconnect_by_data(devices, &watch);
	g_clear_pointer(&watch.live, ctcli_live_free);
	g_hash_table_unref(watch.printed);
	g_hash_table_unref(watch.names);
	if (g_error_matches(error, CT_ERROR, CT_ERROR_CANCELLED))
		return CTCLI_EXIT_OK;
	return ctcli_print_error(ctx, error);
}
