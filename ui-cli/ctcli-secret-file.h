/*
 * Secrets (PINs, passwords) read from a file: the first line only, bounded,
 * and wiped when freed. Nothing of a secret ever appears in a message.
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* a secret file larger than this is not one */
#define CTCLI_SECRET_FILE_MAX (64 * 1024)

/*
 * The first line of @path (without its line end); @what names the secret in
 * errors ("the PIN"). CT_ERROR_INVALID_ARGS when unreadable, too large or empty.
 */
gchar *ctcli_secret_file_read(const gchar *path, const gchar *what, GError **error);

/* overwrite, then free */
void ctcli_secret_free(gchar *secret);

G_END_DECLS
