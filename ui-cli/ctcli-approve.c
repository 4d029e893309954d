/*
 * certtether approve DEVICE / reject DEVICE: the user's decision about a phone
 * that waits for approval (or changing an earlier one).
 *
 * approve pairs the phone (serial + identity key) for the desktop user; the
 * engine then provisions it. With certtetherd the command returns at once
 * (--wait follows the provisioning like `provision`); with --direct it always
 * waits, since the engine lives only as long as this process.
 * reject refuses it: nothing is requested for it until it is approved.
 *
 * --json: the DEVICE object after the decision (see certtether list), or with
 * a wait the object `provision --json` prints.
 */
#include <stdio.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-verb.h"

/*
 * What approve and reject share: parse the verb's options (@entries), find
 * DEVICE and @record the decision. The device's id (the device-access layer in
 * @devices), or NULL after printing the error, with the exit code in @exit_code.
 */
static gchar *
ctcli_decide(CtcliContext *ctx,
             int argc,
             char **argv,
             const gchar *summary,
             const GOptionEntry *entries,
             gboolean (*record)(CtcliDevices *devices, const gchar *id, GError **error),
             CtcliDevices **devices,
             int *exit_code)
{
	g_autoptr(CtcliDevices) opened = NULL;
	g_autoptr(GVariant) snap = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *id = NULL;

	*exit_code = CTCLI_EXIT_USAGE;
	if (!ctcli_verb_parse(&argc, &argv, "DEVICE", summary,
	                      "DEVICE is a phone's id, serial, USB port or identity fingerprint "
	                      "prefix (certtether list).",
	                      entries))
		return NULL;
	if (argc != 2) {
		g_autofree gchar *message = g_strdup_printf("name one DEVICE to %s", argv[0]);
		*exit_code = ctcli_verb_usage_error(argv[0], message);
		return NULL;
	}
	opened = ctcli_verb_open_devices(ctx, TRUE, exit_code);
	if (opened == NULL)
		return NULL;
	snap = ctcli_devices_find(opened, argv[1], &error);
	if (snap == NULL) {
		*exit_code = ctcli_print_error(ctx, error);
		return NULL;
	}
	id = g_strdup(ctcli_snapshot_get_string(snap, "Id"));
	if (!record(opened, id, &error)) {
		*exit_code = ctcli_print_error(ctx, error);
		return NULL;
	}
	*devices = g_steal_pointer(&opened);
	return g_steal_pointer(&id);
}

static void
ctcli_decision_print_json(GVariant *snap)
{
	g_autoptr(JsonNode) node = ctcli_json_device(snap);
	ctcli_json_print(node, FALSE);
}

int
ctcli_cmd_approve(CtcliContext *ctx, int argc, char **argv)
{
	gboolean wait = FALSE;
	const GOptionEntry entries[] = {
	    {"wait", 0, 0, G_OPTION_ARG_NONE, &wait,
	     "Wait until the phone is provisioned, showing progress (always with --direct)", NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GVariant) snap = NULL;
	g_autoptr(GPtrArray) ids = NULL;
	g_autofree gchar *id = NULL;
	int exit_code;

	id = ctcli_decide(ctx, argc, argv,
	                  "Trust a phone: pair its serial and identity key with you, so that it "
	                  "gets your certificate.",
	                  entries, ctcli_devices_approve, &devices, &exit_code);
	if (id == NULL)
		return exit_code;
	snap = ctcli_devices_get(devices, id);

	/* the engine provisions what was approved: in this process, only while we run */
	if (wait || ctcli_devices_is_direct(devices)) {
		if (!ctx->quiet && !ctx->json)
			g_printerr("certtether: approved %s; provisioning it\n",
			           ctcli_snapshot_get_name(snap));
		ids = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(ids, g_strdup(id));
		return ctcli_provision_follow(ctx, devices, ids, NULL, TRUE);
	}
	if (ctx->json) {
		ctcli_decision_print_json(snap);
	} else if (!ctx->quiet) {
		g_print("Approved %s (%s).\n", ctcli_snapshot_get_name(snap), id);
		if (ctcli_snapshot_get_boolean(snap, "Connected"))
			g_print("certtetherd is provisioning it: 'certtether watch' shows the "
			        "progress.\n");
		else
			g_print("It is provisioned the next time it is plugged in.\n");
	}
	return CTCLI_EXIT_OK;
}

int
ctcli_cmd_reject(CtcliContext *ctx, int argc, char **argv)
{
	g_autoptr(CtcliDevices) devices = NULL;
	g_autoptr(GVariant) snap = NULL;
	g_autofree gchar *id = NULL;
	int exit_code;

	id = ctcli_decide(ctx, argc, argv,
	                  "Refuse a phone: nothing is requested or installed for it until you "
	                  "approve it.",
	                  NULL, ctcli_devices_reject, &devices, &exit_code);
	if (id == NULL)
		return exit_code;
	snap = ctcli_devices_get(devices, id);
	if (ctx->json)
		ctcli_decision_print_json(snap);
	else if (!ctx->quiet)
		g_print("Rejected %s (%s): nothing is requested for it ('certtether approve %s' "
		        "undoes this).\n",
		        ctcli_snapshot_get_name(snap), id, ctcli_snapshot_get_name(snap));
	return CTCLI_EXIT_OK;
}
