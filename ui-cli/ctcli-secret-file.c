#include "ui-cli/ctcli-secret-file.h"

#include <string.h>

#include "daemon/engine/ct-error.h"

void
ctcli_secret_free(gchar *secret)
{
	if (secret == NULL)
		return;
	explicit_bzero(secret, strlen(secret));
	g_free(secret);
}

gchar *
ctcli_secret_file_read(const gchar *path, const gchar *what, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GFile) file = g_file_new_for_path(path);
	g_autoptr(GFileInfo) info = NULL;
	gchar *contents = NULL;
	gsize len = 0;
	gchar *end;
	gchar *secret;

	info = g_file_query_info(file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE, NULL,
	                         &error_local);
	if (info != NULL && g_file_info_get_size(info) > CTCLI_SECRET_FILE_MAX) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s is larger than %d bytes: not a file holding %s", path,
		            CTCLI_SECRET_FILE_MAX, what);
		return NULL;
	}
	if (info == NULL || !g_file_get_contents(path, &contents, &len, &error_local)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "cannot read %s: %s", what,
		            error_local->message);
		return NULL;
	}
	end = memchr(contents, '\n', len);
	if (end == NULL)
		end = contents + len;
	if (end > contents && end[-1] == '\r')
		end--;
	secret = g_strndup(contents, (gsize)(end - contents));
	/* the rest of the file may hold secrets too */
	explicit_bzero(contents, len);
	g_free(contents);
	if (secret[0] == '\0') {
		ctcli_secret_free(secret);
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the first line of %s is empty: it must be %s", path, what);
		return NULL;
	}
	return secret;
}
