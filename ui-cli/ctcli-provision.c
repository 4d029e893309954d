/*
 * certtether provision [DEVICE] [--force] [--no-wait]: provision one phone, or
 * every connected phone that needs it, and wait for each outcome.
 *
 * Without DEVICE every connected, approved phone is checked (and enrolled if
 * its certificate is missing or due); phones waiting for approval are named
 * and count as not provisioned. With --direct, naming a DEVICE that waits for
 * approval approves it: no daemon is there to ask.
 *
 * Exit code: 0 when every phone ends provisioned or up to date, else the code
 * of the last failure (certtether(1), EXIT STATUS).
 *
 * --json: {"devices": [{"device": DEVICE, "outcome": STATE, "exit_code": N,
 *          "error": {"name", "message", "hint"} (only when it failed)}],
 *          "exit_code": N}
 */
#include <stdio.h>
#include <unistd.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-verb.h"

/* ---- following the phones ------------------------------------------------------------------ */

typedef struct {
	CtcliContext *ctx;
	GPtrArray *ids;
	CtcliLive *live;     /* on a terminal */
	GHashTable *printed; /* id -> last plain line's key, to print changes only */
	guint name_width;
} CtcliFollow;

static gboolean
ctcli_follow_is_target(CtcliFollow *follow, const gchar *id)
{
	for (guint i = 0; i < follow->ids->len; i++) {
		if (g_strcmp0(g_ptr_array_index(follow->ids, i), id) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
ctcli_follow_show(CtcliFollow *follow, const gchar *id, GVariant *snap)
{
	g_autofree gchar *line = NULL;
	g_autofree gchar *key = NULL;

	if (follow->ctx->quiet || follow->ctx->json || !ctcli_follow_is_target(follow, id))
		return;
	if (follow->live != NULL) {
		line =
		    ctcli_format_progress_line(snap, TRUE, follow->ctx->color, follow->name_width,
		                               ctcli_terminal_width(stderr) - 1);
		ctcli_live_set(follow->live, id, line);
		return;
	}
	/* plain: one line when the state, progress or detail changed */
	key = g_strdup_printf("%s|%u|%s", ctcli_snapshot_get_string(snap, "State"),
	                      ctcli_snapshot_get_uint(snap, "Progress"),
	                      ctcli_snapshot_get_string(snap, "StateDetail"));
	if (g_strcmp0(g_hash_table_lookup(follow->printed, id), key) == 0)
		return;
	g_hash_table_replace(follow->printed, g_strdup(id), g_steal_pointer(&key));
	line = ctcli_format_progress_line(snap, FALSE, follow->ctx->color, 0, 0);
	g_print("%s\n", line);
	fflush(stdout);
}

static void
ctcli_follow_on_changed(CtcliDevices *devices, const gchar *id, GVariant *snap, gpointer data)
{
	(void)devices;
	ctcli_follow_show(data, id, snap);
}

static gboolean
ctcli_follow_done(CtcliDevices *devices, gpointer user_data)
{
	CtcliFollow *follow = user_data;
	for (guint i = 0; i < follow->ids->len; i++) {
		g_autoptr(GVariant) snap =
		    ctcli_devices_get(devices, g_ptr_array_index(follow->ids, i));
		/* a device that vanished (forgotten elsewhere) is over too */
		if (snap != NULL && !ct_device_state_is_final(ctcli_snapshot_get_state(snap)))
			return FALSE;
	}
	return TRUE;
}

/* the outcome of one device as an error, NULL when it is provisioned or up to date */
static GError *
ctcli_follow_outcome(GVariant *snap, const gchar *id, gboolean waited)
{
	GError *error;
	if (snap == NULL)
		return g_error_new(CT_ERROR, CT_ERROR_DEVICE_GONE, "%s: the phone is gone", id);
	/* --no-wait: under way is all that was asked for */
	if (!waited && !ct_device_state_is_final(ctcli_snapshot_get_state(snap)))
		return NULL;
	switch (ctcli_snapshot_get_state(snap)) {
	case CT_DEVICE_STATE_PROVISIONED:
	case CT_DEVICE_STATE_UP_TO_DATE:
		return NULL;
	case CT_DEVICE_STATE_AWAITING_APPROVAL:
		return g_error_new(
		    CT_ERROR, CT_ERROR_NOT_APPROVED,
		    "%s waits for your approval\nif you trust it: certtether approve %s",
		    ctcli_snapshot_get_name(snap), ctcli_snapshot_get_name(snap));
	case CT_DEVICE_STATE_REJECTED:
		return g_error_new(
		    CT_ERROR, CT_ERROR_NOT_APPROVED,
		    "%s is rejected\nif you trust it after all: certtether approve %s",
		    ctcli_snapshot_get_name(snap), ctcli_snapshot_get_name(snap));
	default:
		break;
	}
	error = ctcli_snapshot_dup_error(snap);
	if (error == NULL)
		return g_error_new(CT_ERROR, CT_ERROR_DEVICE_GONE, "%s: %s",
		                   ctcli_snapshot_get_name(snap),
		                   ctcli_snapshot_get_string(snap, "StateDetail"));
	g_prefix_error(&error, "%s: ", ctcli_snapshot_get_name(snap));
	return error;
}

static void
ctcli_follow_report_human(CtcliContext *ctx, GVariant *snap, const GError *error)
{
	g_autofree gchar *expires = NULL;
	g_autofree gchar *state = NULL;
	g_autofree gchar *message = NULL;
	const gchar *newline;
	const gchar *hint;

	if (error == NULL) {
		if (ctx->quiet)
			return;
		if (!ct_device_state_is_final(ctcli_snapshot_get_state(snap))) {
			g_print("%s: %s; 'certtether watch' shows the progress\n",
			        ctcli_snapshot_get_name(snap),
			        ctcli_snapshot_get_string(snap, "State"));
			return;
		}
		expires = ctcli_format_date(ctcli_snapshot_get_int64(snap, "CertificateNotAfter"));
		state = ctcli_styled(ctx->color, ctcli_state_style(ctcli_snapshot_get_state(snap)),
		                     ctcli_snapshot_get_string(snap, "State"));
		g_print("%s: %s, certificate %s (serial %s, expires %s)\n",
		        ctcli_snapshot_get_name(snap), state,
		        ctcli_snapshot_get_string(snap, "CertificateSubject"),
		        ctcli_snapshot_get_string(snap, "CertificateSerial"), expires);
		return;
	}
	/* ours carry their hint on a second line; the engine's hint fits this very failure */
	newline = strchr(error->message, '\n');
	if (newline != NULL) {
		message = g_strndup(error->message, (gsize)(newline - error->message));
		hint = newline + 1;
	} else {
		message = g_strdup(error->message);
		hint = snap != NULL ? ctcli_snapshot_get_string(snap, "Hint") : "";
		if (hint[0] == '\0' && error->domain == CT_ERROR)
			hint = ct_error_code_hint((CtError)error->code);
	}
	g_printerr("certtether: %s\n", message);
	if (hint[0] != '\0' && strstr(message, hint) == NULL)
		g_printerr("  hint: %s\n", hint);
}

static void
ctcli_follow_add_json(JsonBuilder *builder, GVariant *snap, const gchar *id, const GError *error)
{
	const gchar *hint = snap != NULL ? ctcli_snapshot_get_string(snap, "Hint") : "";
	json_builder_begin_object(builder);
	json_builder_set_member_name(builder, "device");
	if (snap != NULL) {
		json_builder_add_value(builder, ctcli_json_device(snap));
	} else {
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "Id");
		json_builder_add_string_value(builder, id);
		json_builder_end_object(builder);
	}
	json_builder_set_member_name(builder, "outcome");
	json_builder_add_string_value(
	    builder, snap != NULL ? ctcli_snapshot_get_string(snap, "State") : "gone");
	json_builder_set_member_name(builder, "exit_code");
	json_builder_add_int_value(builder, ctcli_exit_for_error(error));
	if (error != NULL) {
		json_builder_set_member_name(builder, "error");
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "name");
		json_builder_add_string_value(builder,
		                              error->domain == CT_ERROR
		                                  ? ct_error_code_to_string((CtError)error->code)
		                                  : "Internal");
		const gchar *newline = strchr(error->message, '\n');
		g_autofree gchar *message =
		    newline != NULL ? g_strndup(error->message, (gsize)(newline - error->message))
		                    : g_strdup(error->message);
		if (newline != NULL)
			hint = newline + 1;
		else if (hint[0] == '\0' && error->domain == CT_ERROR)
			hint = ct_error_code_hint((CtError)error->code);
		json_builder_set_member_name(builder, "message");
		json_builder_add_string_value(builder, message);
		json_builder_set_member_name(builder, "hint");
		json_builder_add_string_value(builder, hint);
		json_builder_end_object(builder);
	}
	json_builder_end_object(builder);
}

int
ctcli_provision_follow(CtcliContext *ctx,
                       CtcliDevices *devices,
                       GPtrArray *ids,
                       GPtrArray *not_approved,
                       gboolean wait)
{
	CtcliFollow follow = {.ctx = ctx, .ids = ids};
	g_autoptr(GError) wait_error = NULL;
	g_autoptr(JsonBuilder) builder = NULL;
	g_autoptr(GPtrArray) all = g_ptr_array_new();
	gulong handlers[2];
	int exit_code = CTCLI_EXIT_OK;

	follow.printed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	/* a redrawn block where a person watches; plain lines for logs and pipes */
	if (wait && ctx->interactive && !ctx->quiet && !ctx->json)
		follow.live = ctcli_live_new(stderr);
	for (guint i = 0; i < ids->len; i++) {
		g_autoptr(GVariant) snap = ctcli_devices_get(devices, g_ptr_array_index(ids, i));
		follow.name_width =
		    MAX(follow.name_width, (guint)strlen(ctcli_snapshot_get_name(snap)));
	}
	for (guint i = 0; wait && i < ids->len; i++) {
		g_autoptr(GVariant) snap = ctcli_devices_get(devices, g_ptr_array_index(ids, i));
		if (snap != NULL)
			ctcli_follow_show(&follow, g_ptr_array_index(ids, i), snap);
	}
	handlers[0] = g_signal_connect(devices, "device-changed",
	                               G_CALLBACK(ctcli_follow_on_changed), &follow);
	handlers[1] =
	    g_signal_connect(devices, "device-added", G_CALLBACK(ctcli_follow_on_changed), &follow);
	if (wait)
		ctcli_devices_wait(devices, ctcli_follow_done, &follow, 0, &wait_error);
	g_signal_handler_disconnect(devices, handlers[0]);
	g_signal_handler_disconnect(devices, handlers[1]);
	g_clear_pointer(&follow.live, ctcli_live_free);
	g_hash_table_unref(follow.printed);
	if (wait_error != NULL) {
		if (ctx->json)
			ctx->json = FALSE; /* nothing else goes to stdout: say it on stderr */
		return ctcli_print_error(ctx, wait_error);
	}

	for (guint i = 0; i < ids->len; i++)
		g_ptr_array_add(all, g_ptr_array_index(ids, i));
	for (guint i = 0; not_approved != NULL && i < not_approved->len; i++)
		g_ptr_array_add(all, g_ptr_array_index(not_approved, i));
	if (ctx->json) {
		builder = json_builder_new();
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "devices");
		json_builder_begin_array(builder);
	}
	for (guint i = 0; i < all->len; i++) {
		const gchar *id = g_ptr_array_index(all, i);
		g_autoptr(GVariant) snap = ctcli_devices_get(devices, id);
		g_autoptr(GError) error = ctcli_follow_outcome(snap, id, wait);
		if (error != NULL)
			exit_code = ctcli_exit_for_error(error);
		if (ctx->json)
			ctcli_follow_add_json(builder, snap, id, error);
		else
			ctcli_follow_report_human(ctx, snap, error);
	}
	if (ctx->json) {
		g_autoptr(JsonNode) root = NULL;
		json_builder_end_array(builder);
		json_builder_set_member_name(builder, "exit_code");
		json_builder_add_int_value(builder, exit_code);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		ctcli_json_print(root, FALSE);
	}
	return exit_code;
}

/* ---- choosing what to provision ------------------------------------------------------------ */

/* an action on one device failed: say so, once, the way every verb does */
static int
ctcli_provision_fail(CtcliContext *ctx, const GError *error)
{
	return ctcli_print_error(ctx, error);
}

/* start one device: approve (--direct), wait for what runs, or ask for a provisioning */
static gboolean
ctcli_provision_start_one(
    CtcliDevices *devices, GVariant *snap, gboolean force, gboolean approve, GError **error)
{
	const gchar *id = ctcli_snapshot_get_string(snap, "Id");
	CtDeviceState state = ctcli_snapshot_get_state(snap);

	if (!ctcli_snapshot_get_boolean(snap, "Connected")) {
		g_set_error(error, CT_ERROR, CT_ERROR_DEVICE_GONE,
		            "the phone %s is not connected: plug it in",
		            ctcli_snapshot_get_name(snap));
		return FALSE;
	}
	if (approve && state == CT_DEVICE_STATE_AWAITING_APPROVAL)
		return ctcli_devices_approve(devices, id, error);
	/* already on its way: follow it rather than ask twice */
	if (!ct_device_state_is_final(state) && state != CT_DEVICE_STATE_CONNECTED)
		return TRUE;
	return ctcli_devices_provision(devices, id, force, error);
}

int
ctcli_cmd_provision(CtcliContext *ctx, int argc, char **argv)
{
	gboolean force = FALSE;
	gboolean no_wait = FALSE;
	const GOptionEntry entries[] = {
	    {"force", 0, 0, G_OPTION_ARG_NONE, &force,
	     "Renew the certificate even if the installed one is up to date", NULL},
	    {"no-wait", 0, 0, G_OPTION_ARG_NONE, &no_wait,
	     "Return once certtetherd has started (not with --direct)", NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GPtrArray) ids = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GPtrArray) not_approved = g_ptr_array_new_with_free_func(g_free);
	g_autoptr(GError) error = NULL;
	int exit_code;

	if (!ctcli_verb_parse(
	        &argc, &argv, "[DEVICE]",
	        "Provision a phone, or every connected phone that needs it, and wait for the "
	        "outcome.",
	        "DEVICE is a phone's id, serial, USB port or identity fingerprint prefix. With "
	        "--direct,\nnaming a phone that waits for approval approves it.\nExit code: 0 when "
	        "every phone is provisioned or up to date, else the last failure's.",
	        entries))
		return CTCLI_EXIT_USAGE;
	if (argc > 2)
		return ctcli_verb_usage_error("provision", "takes at most one DEVICE");
	if (no_wait && ctx->direct)
		return ctcli_verb_usage_error("provision",
		                              "--no-wait needs certtetherd: with --direct the "
		                              "provisioning runs in this process");
	devices = ctcli_verb_open_devices(ctx, TRUE, &exit_code);
	if (devices == NULL)
		return exit_code;

	if (argc == 2) {
		g_autoptr(GVariant) snap = ctcli_devices_find(devices, argv[1], &error);
		if (snap == NULL)
			return ctcli_provision_fail(ctx, error);
		if (!ctcli_provision_start_one(devices, snap, force,
		                               ctcli_devices_is_direct(devices), &error))
			return ctcli_provision_fail(ctx, error);
		g_ptr_array_add(ids, g_strdup(ctcli_snapshot_get_string(snap, "Id")));
	} else {
		g_autoptr(GPtrArray) snapshots = ctcli_devices_list(devices);
		for (guint i = 0; i < snapshots->len; i++) {
			GVariant *snap = g_ptr_array_index(snapshots, i);
			CtDeviceState state = ctcli_snapshot_get_state(snap);
			const gchar *id = ctcli_snapshot_get_string(snap, "Id");
			if (!ctcli_snapshot_get_boolean(snap, "Connected"))
				continue;
			if (state == CT_DEVICE_STATE_AWAITING_APPROVAL ||
			    state == CT_DEVICE_STATE_REJECTED) {
				g_ptr_array_add(not_approved, g_strdup(id));
				continue;
			}
			if (!ctcli_provision_start_one(devices, snap, force, FALSE, &error))
				return ctcli_provision_fail(ctx, error);
			g_ptr_array_add(ids, g_strdup(id));
		}
		if (ids->len == 0 && not_approved->len == 0) {
			g_set_error_literal(&error, CT_ERROR, CT_ERROR_DEVICE_GONE,
			                    "no phone is connected: plug one in");
			return ctcli_provision_fail(ctx, error);
		}
	}
	return ctcli_provision_follow(ctx, devices, ids, not_approved, !no_wait);
}
