/*
 * phonesim control socket: parse a command's arguments with GOption and run it.
 * Runs in the main context; `wait` answers when its event arrives.
 */
#include "tests/phonesim/phonesim-control.h"

#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <string.h>

#include "tests/phonesim/phonesim.h"

#define MAX_REQUEST    (64u * 1024)
#define DEFAULT_WAIT_S 30
#define MAX_WAIT_S     3600
#define EXIT_FAILED    1
#define EXIT_USAGE     2

struct _PhonesimControl {
	PhonesimSim *sim;
	gchar *path;
	GSocketService *service;
};

/* one connection: read one line, answer one line */
typedef struct {
	PhonesimControl *control;
	GSocketConnection *conn;
	GDataInputStream *in;
	gchar *reply;
} Request;

static void
request_free(Request *r)
{
	g_clear_object(&r->in);
	g_clear_object(&r->conn);
	g_free(r->reply);
	g_free(r);
}

static void
on_reply_written(GObject *source, GAsyncResult *res, gpointer data)
{
	Request *r = data;
	g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), res, NULL, NULL);
	g_io_stream_close(G_IO_STREAM(r->conn), NULL, NULL);
	request_free(r);
}

static void
reply(Request *r, gint code, const gchar *text)
{
	g_autoptr(GVariant) v = g_variant_ref_sink(g_variant_new("(is)", code, text));
	g_autofree gchar *printed = g_variant_print(v, FALSE);
	r->reply = g_strconcat(printed, "\n", NULL);
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(r->conn));
	g_output_stream_write_all_async(out, r->reply, strlen(r->reply), G_PRIORITY_DEFAULT, NULL,
	                                on_reply_written, r);
}

static void
reply_error(Request *r, gint code, const GError *error)
{
	g_autofree gchar *text = g_strconcat(error->message, "\n", NULL);
	reply(r, code, text);
}

/* GOption over a command's argv; argv[0] is the command name */
static gboolean
parse_options(gchar ***argv, const GOptionEntry *entries, GError **error)
{
	g_autoptr(GOptionContext) ctx = g_option_context_new(NULL);
	g_option_context_set_help_enabled(ctx, FALSE);
	g_option_context_add_main_entries(ctx, entries, NULL);
	return g_option_context_parse_strv(ctx, argv, error);
}

static gboolean
need_args(gchar **argv, guint n, const gchar *usage, GError **error)
{
	if (g_strv_length(argv) != n + 1) {
		g_set_error(error, G_OPTION_ERROR, G_OPTION_ERROR_FAILED, "usage: %s", usage);
		return FALSE;
	}
	return TRUE;
}

static void
cmd_add(Request *r, gchar ***argv)
{
	PhonesimAddOptions o = {.max_chain = -1, .max_anchors = -1, .max_frame = -1};
	g_autofree gchar *serial = NULL, *vendor = NULL, *model = NULL, *firmware = NULL;
	g_autofree gchar *key_algs = NULL, *misbehave = NULL;
	const GOptionEntry entries[] = {
	    {"serial", 0, 0, G_OPTION_ARG_STRING, &serial, NULL, NULL},
	    {"vendor", 0, 0, G_OPTION_ARG_STRING, &vendor, NULL, NULL},
	    {"model", 0, 0, G_OPTION_ARG_STRING, &model, NULL, NULL},
	    {"firmware", 0, 0, G_OPTION_ARG_STRING, &firmware, NULL, NULL},
	    {"key-algs", 0, 0, G_OPTION_ARG_STRING, &key_algs, NULL, NULL},
	    {"max-chain", 0, 0, G_OPTION_ARG_INT, &o.max_chain, NULL, NULL},
	    {"max-anchors", 0, 0, G_OPTION_ARG_INT, &o.max_anchors, NULL, NULL},
	    {"max-frame", 0, 0, G_OPTION_ARG_INT, &o.max_frame, NULL, NULL},
	    {"misbehave", 0, 0, G_OPTION_ARG_STRING, &misbehave, NULL, NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GError) error = NULL;
	if (!parse_options(argv, entries, &error) ||
	    !need_args(*argv, 1,
	               "add ID [--serial S] [--vendor V] [--model M] [--firmware F] "
	               "[--key-algs LIST] [--max-chain N] [--max-anchors N] "
	               "[--max-frame N] [--misbehave SPEC]",
	               &error)) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	o.serial = serial;
	o.vendor = vendor;
	o.model = model;
	o.firmware = firmware;
	o.key_algs = key_algs;
	o.misbehave = misbehave;
	if (!phonesim_sim_add(r->control->sim, (*argv)[1], &o, &error)) {
		reply_error(r, EXIT_FAILED, error);
		return;
	}
	reply(r, 0, "");
}

typedef gboolean (*SimpleCommand)(PhonesimSim *sim, const gchar *id, GError **error);

static void
cmd_simple(Request *r, gchar ***argv, SimpleCommand fn, const gchar *usage)
{
	const GOptionEntry entries[] = {{NULL, 0, 0, 0, NULL, NULL, NULL}};
	g_autoptr(GError) error = NULL;
	if (!parse_options(argv, entries, &error) || !need_args(*argv, 1, usage, &error)) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	if (!fn(r->control->sim, (*argv)[1], &error)) {
		reply_error(r, EXIT_FAILED, error);
		return;
	}
	reply(r, 0, "");
}

static void
cmd_misbehave(Request *r, gchar ***argv)
{
	const GOptionEntry entries[] = {{NULL, 0, 0, 0, NULL, NULL, NULL}};
	g_autoptr(GError) error = NULL;
	if (!parse_options(argv, entries, &error) ||
	    !need_args(*argv, 2, "misbehave ID SPEC", &error)) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	if (!phonesim_sim_misbehave(r->control->sim, (*argv)[1], (*argv)[2], &error)) {
		reply_error(r, EXIT_FAILED, error);
		return;
	}
	reply(r, 0, "");
}

static void
cmd_status(Request *r, gchar ***argv)
{
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GError) error = NULL;
	if (!parse_options(argv, entries, &error) ||
	    !need_args(*argv, 1, "status ID [--json]", &error)) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	g_autofree gchar *text = phonesim_sim_status(r->control->sim, (*argv)[1], json, &error);
	if (text == NULL) {
		reply_error(r, EXIT_FAILED, error);
		return;
	}
	reply(r, 0, text);
}

static void
cmd_list(Request *r, gchar ***argv)
{
	gboolean json = FALSE;
	const GOptionEntry entries[] = {
	    {"json", 0, 0, G_OPTION_ARG_NONE, &json, NULL, NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GError) error = NULL;
	if (!parse_options(argv, entries, &error) ||
	    !need_args(*argv, 0, "list [--json]", &error)) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	g_autofree gchar *text = phonesim_sim_list(r->control->sim, json);
	reply(r, 0, text);
}

static void
on_wait_done(GObject *source, GAsyncResult *res, gpointer data)
{
	Request *r = data;
	g_autoptr(GError) error = NULL;
	(void)source;
	if (!phonesim_sim_wait_finish(r->control->sim, res, &error)) {
		reply_error(r, EXIT_FAILED, error);
		return;
	}
	reply(r, 0, "");
}

static void
cmd_wait(Request *r, gchar ***argv)
{
	gint count = 1, timeout = DEFAULT_WAIT_S;
	const GOptionEntry entries[] = {
	    {"count", 0, 0, G_OPTION_ARG_INT, &count, NULL, NULL},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout, NULL, NULL},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GError) error = NULL;
	PhonesimEvent event;
	if (!parse_options(argv, entries, &error) ||
	    !need_args(*argv, 2, "wait ID EVENT [--count N] [--timeout SECONDS]", &error)) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	if (!phonesim_event_from_name((*argv)[2], &event)) {
		g_autofree gchar *text = g_strdup_printf(
		    "unknown event '%s' (plugged unplugged hello status csr staged committed "
		    "aborted error self-unplug)\n",
		    (*argv)[2]);
		reply(r, EXIT_USAGE, text);
		return;
	}
	if (count < 1 || timeout < 1 || timeout > MAX_WAIT_S) {
		g_autofree gchar *text =
		    g_strdup_printf("--count must be >= 1 and --timeout 1..%d\n", MAX_WAIT_S);
		reply(r, EXIT_USAGE, text);
		return;
	}
	phonesim_sim_wait_async(r->control->sim, (*argv)[1], event, (guint)count, (guint)timeout,
	                        NULL, on_wait_done, r);
}

static void
dispatch(Request *r, gchar **args)
{
	/* GOption rewrites the vector it parses: give it its own copy */
	g_auto(GStrv) argv = g_strdupv(args);
	const gchar *cmd = argv[0];

	if (cmd == NULL) {
		reply(r, EXIT_USAGE, "no command\n");
	} else if (g_strcmp0(cmd, "add") == 0) {
		cmd_add(r, &argv);
	} else if (g_strcmp0(cmd, "plug") == 0) {
		cmd_simple(r, &argv, phonesim_sim_plug, "plug ID");
	} else if (g_strcmp0(cmd, "unplug") == 0) {
		cmd_simple(r, &argv, phonesim_sim_unplug, "unplug ID");
	} else if (g_strcmp0(cmd, "misbehave") == 0) {
		cmd_misbehave(r, &argv);
	} else if (g_strcmp0(cmd, "status") == 0) {
		cmd_status(r, &argv);
	} else if (g_strcmp0(cmd, "list") == 0) {
		cmd_list(r, &argv);
	} else if (g_strcmp0(cmd, "wait") == 0) {
		cmd_wait(r, &argv);
	} else {
		g_autofree gchar *text = g_strdup_printf(
		    "unknown command '%s' (add, plug, unplug, misbehave, status, wait, list)\n",
		    cmd);
		reply(r, EXIT_USAGE, text);
	}
}

static void
on_line(GObject *source, GAsyncResult *res, gpointer data)
{
	Request *r = data;
	g_autoptr(GError) error = NULL;
	gsize len = 0;
	g_autofree gchar *line =
	    g_data_input_stream_read_line_finish(G_DATA_INPUT_STREAM(source), res, &len, &error);
	if (line == NULL) {
		request_free(r); /* the client went away */
		return;
	}
	if (len > MAX_REQUEST) {
		reply(r, EXIT_USAGE, "request too long\n");
		return;
	}
	g_autoptr(GVariant) v =
	    g_variant_parse(G_VARIANT_TYPE_STRING_ARRAY, line, NULL, NULL, &error);
	if (v == NULL) {
		reply_error(r, EXIT_USAGE, error);
		return;
	}
	g_autofree const gchar **args = g_variant_get_strv(v, NULL);
	g_auto(GStrv) copy = g_strdupv((gchar **)args);
	dispatch(r, copy);
}

static gboolean
on_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
	Request *r = g_new0(Request, 1);
	(void)service;
	(void)source;
	r->control = data;
	r->conn = g_object_ref(conn);
	r->in = g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
	g_data_input_stream_read_line_async(r->in, G_PRIORITY_DEFAULT, NULL, on_line, r);
	return TRUE;
}

PhonesimControl *
phonesim_control_new(PhonesimSim *sim, const gchar *path, GError **error)
{
	g_autoptr(PhonesimControl) control = g_new0(PhonesimControl, 1);
	control->sim = sim;
	control->path = g_strdup(path);
	if (strlen(path) >= 108) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FILENAME_TOO_LONG,
		            "control socket path %s is too long for a unix socket (max 107)", path);
		return NULL;
	}
	g_unlink(path); /* a socket left by an earlier run */
	control->service = g_socket_service_new();
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(path);
	if (!g_socket_listener_add_address(G_SOCKET_LISTENER(control->service), address,
	                                   G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, NULL,
	                                   NULL, error)) {
		g_prefix_error(error, "cannot listen on %s: ", path);
		return NULL;
	}
	g_signal_connect(control->service, "incoming", G_CALLBACK(on_incoming), control);
	g_socket_service_start(control->service);
	return g_steal_pointer(&control);
}

void
phonesim_control_free(PhonesimControl *control)
{
	if (control == NULL)
		return;
	if (control->service != NULL) {
		g_socket_service_stop(control->service);
		g_socket_listener_close(G_SOCKET_LISTENER(control->service));
		g_signal_handlers_disconnect_by_data(control->service, control);
		g_clear_object(&control->service);
		g_unlink(control->path);
	}
	g_free(control->path);
	g_free(control);
}
