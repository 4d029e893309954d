/*
 * phonesim client: one command over the control socket (see phonesim.h).
 */
#include "tests/phonesim/phonesim.h"

#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <string.h>

#define MAX_REPLY (4u * 1024 * 1024)

gint
phonesim_client_run(const gchar *socket_path,
                    const gchar *const *argv,
                    gchar **output,
                    GError **error)
{
	if (socket_path == NULL)
		socket_path = g_getenv(PHONESIM_CONTROL_ENV);
	if (socket_path == NULL || socket_path[0] == '\0') {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "$%s is not set: run under phonesim, or give --control PATH",
		            PHONESIM_CONTROL_ENV);
		return -1;
	}
	g_autoptr(GSocketClient) client = g_socket_client_new();
	g_autoptr(GSocketAddress) address = g_unix_socket_address_new(socket_path);
	g_autoptr(GSocketConnection) conn =
	    g_socket_client_connect(client, G_SOCKET_CONNECTABLE(address), NULL, error);
	if (conn == NULL) {
		g_prefix_error(error, "cannot reach phonesim at %s: ", socket_path);
		return -1;
	}
	g_autoptr(GVariant) request = g_variant_ref_sink(g_variant_new_strv(argv, -1));
	g_autofree gchar *text = g_variant_print(request, FALSE);
	g_autofree gchar *line = g_strconcat(text, "\n", NULL);
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	if (!g_output_stream_write_all(out, line, strlen(line), NULL, NULL, error)) {
		g_prefix_error(error, "cannot send to phonesim: ");
		return -1;
	}
	g_autoptr(GDataInputStream) in =
	    g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
	gsize len = 0;
	g_autofree gchar *reply = g_data_input_stream_read_line(in, &len, NULL, error);
	if (reply == NULL) {
		if (error != NULL && *error == NULL)
			g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_CLOSED,
			                    "phonesim closed the connection without an answer");
		return -1;
	}
	if (len > MAX_REPLY) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		                    "phonesim's answer is too long");
		return -1;
	}
	g_autoptr(GVariant) v = g_variant_parse(G_VARIANT_TYPE("(is)"), reply, NULL, NULL, error);
	if (v == NULL) {
		g_prefix_error(error, "phonesim's answer does not parse: ");
		return -1;
	}
	gint code = 0;
	const gchar *text_out = NULL;
	g_variant_get(v, "(i&s)", &code, &text_out);
	if (output != NULL)
		*output = g_strdup(text_out);
	return code;
}

gboolean
phonesim_client_check(const gchar *socket_path,
                      const gchar *const *argv,
                      gchar **output,
                      GError **error)
{
	g_autofree gchar *out = NULL;
	gint code = phonesim_client_run(socket_path, argv, &out, error);
	if (code < 0)
		return FALSE;
	if (code != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "phonesim %s: %s", argv[0], out);
		return FALSE;
	}
	if (output != NULL)
		*output = g_steal_pointer(&out);
	return TRUE;
}
