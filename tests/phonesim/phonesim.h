/*
 * phonesim client API: talk to a running phonesim over its control socket, the way
 * phonesim-ctl does. For in-process tests (GLib); see tests/phonesim/README.md.
 *
 * Wire format (one request per connection): the client sends one line, the command's
 * argument vector as a GVariant text of type "as", e.g. ['plug', 'p1']; phonesim
 * answers one line, a GVariant text of type "(is)": the exit code (0 = success) and
 * the output (or the error message), then closes the connection.
 */
#pragma once

#include <glib.h>

/* the environment variable phonesim sets for its child: the control socket path */
#define PHONESIM_CONTROL_ENV "PHONESIM_CONTROL"

/*
 * Run one command (argv as for phonesim-ctl, without the program name) against the
 * phonesim at socket_path (NULL: $PHONESIM_CONTROL). Returns the command's exit
 * code and its output in *output; -1 with error set when phonesim cannot be reached.
 */
gint phonesim_client_run(const gchar *socket_path,
                         const gchar *const *argv,
                         gchar **output,
                         GError **error);

/* convenience: run, and turn a non-zero exit code into an error with the output */
gboolean phonesim_client_check(const gchar *socket_path,
                               const gchar *const *argv,
                               gchar **output,
                               GError **error);
