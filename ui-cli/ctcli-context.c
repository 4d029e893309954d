/*
 * The helpers every verb shares (ctcli.h): the configuration with --config and
 * --ca-file applied, errors mapped to exit codes and printed with their hint,
 * and a secret read at the terminal.
 *
 * An error the CLI makes itself may carry its own hint after a newline
 * ("certtetherd is not running\nstart it with ..."): ctcli_print_error() shows
 * that instead of the generic hint of the error code.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli.h"

/* a secret longer than this is not something a person types */
#define CTCLI_SECRET_MAX 1024

CtConfig *
ctcli_context_get_config(CtcliContext *ctx, GError **error)
{
	g_autoptr(CtConfig) config = NULL;

	if (ctx->config != NULL)
		return ctx->config;
	if (ctx->config_file != NULL)
		config = ct_config_load_file(ctx->config_file, error);
	else
		config = ct_config_load(error);
	if (config == NULL)
		return NULL;
	if (ctx->ca_file != NULL) {
		/* relative to where the user typed it, not to the configuration file */
		g_autofree gchar *absolute = g_canonicalize_filename(ctx->ca_file, NULL);
		if (!ct_config_set_value(config, "service", "ca-file", absolute, "--ca-file",
		                         error))
			return NULL;
	}
	ctx->config = g_steal_pointer(&config);
	return ctx->config;
}

/* G_DBUS_ERROR codes a client sees when the daemon or the bus is not there */
static gboolean
ctcli_is_unreachable_dbus_error(const GError *error)
{
	switch (error->code) {
	case G_DBUS_ERROR_SERVICE_UNKNOWN:
	case G_DBUS_ERROR_NAME_HAS_NO_OWNER:
	case G_DBUS_ERROR_NO_REPLY:
	case G_DBUS_ERROR_NO_SERVER:
	case G_DBUS_ERROR_DISCONNECTED:
	case G_DBUS_ERROR_TIMEOUT:
	case G_DBUS_ERROR_TIMED_OUT:
	case G_DBUS_ERROR_SPAWN_EXEC_FAILED:
	case G_DBUS_ERROR_SPAWN_FAILED:
	case G_DBUS_ERROR_SPAWN_CHILD_EXITED:
		return TRUE;
	default:
		return FALSE;
	}
}

CtcliExit
ctcli_exit_for_error(const GError *error)
{
	if (error == NULL)
		return CTCLI_EXIT_OK;
	/* a remote CT_ERROR arrives as CT_ERROR: ct_error_quark() registered the names */
	if (error->domain == CT_ERROR) {
		switch ((CtError)error->code) {
		case CT_ERROR_NO_CREDENTIALS:
		case CT_ERROR_AUTH_FAILED:
			return CTCLI_EXIT_AUTH;
		case CT_ERROR_UNREACHABLE:
		case CT_ERROR_TIMEOUT:
		case CT_ERROR_STORE_UNAVAILABLE:
			return CTCLI_EXIT_UNREACHABLE;
		case CT_ERROR_REJECTED:
		case CT_ERROR_NOT_APPROVED:
		case CT_ERROR_CSR_INVALID:
			return CTCLI_EXIT_REJECTED;
		case CT_ERROR_CHAIN_UNTRUSTED:
		case CT_ERROR_CERT_INVALID:
			return CTCLI_EXIT_UNTRUSTED;
		case CT_ERROR_DEVICE:
		case CT_ERROR_DEVICE_GONE:
		case CT_ERROR_NOT_FOUND:
			return CTCLI_EXIT_DEVICE;
		case CT_ERROR_CONFIG:
			return CTCLI_EXIT_CONFIG;
		case CT_ERROR_INVALID_ARGS:
			return CTCLI_EXIT_USAGE;
		case CT_ERROR_INTERNAL:
		case CT_ERROR_PROTOCOL:
		case CT_ERROR_NOT_SUPPORTED:
		case CT_ERROR_CANCELLED:
		case CT_ERROR_LAST:
			return CTCLI_EXIT_FAILURE;
		}
		return CTCLI_EXIT_FAILURE;
	}
	if (error->domain == G_DBUS_ERROR && ctcli_is_unreachable_dbus_error(error))
		return CTCLI_EXIT_UNREACHABLE;
	if (error->domain == G_OPTION_ERROR)
		return CTCLI_EXIT_USAGE;
	if (error->domain == G_KEY_FILE_ERROR)
		return CTCLI_EXIT_CONFIG;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_HOST_UNREACHABLE) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NETWORK_UNREACHABLE))
		return CTCLI_EXIT_UNREACHABLE;
	return CTCLI_EXIT_FAILURE;
}

/* the error's stable name for --json: "NotFound", or "domain.code" for foreign ones */
static gchar *
ctcli_error_name(const GError *error)
{
	if (error->domain == CT_ERROR)
		return g_strdup(ct_error_code_to_string((CtError)error->code));
	if (g_dbus_error_is_remote_error(error))
		return g_dbus_error_get_remote_error(error);
	return g_strdup_printf("%s.%d", g_quark_to_string(error->domain), error->code);
}

CtcliExit
ctcli_print_error(CtcliContext *ctx, const GError *error)
{
	CtcliExit code = ctcli_exit_for_error(error);
	g_autoptr(GError) copy = g_error_copy(error);
	g_autofree gchar *name = NULL;
	const gchar *hint = "";
	gchar *own_hint;

	(void)ct_error_quark();
	g_dbus_error_strip_remote_error(copy);
	name = ctcli_error_name(error);
	/* an error the CLI made may carry its own hint on a second line */
	own_hint = strchr(copy->message, '\n');
	if (own_hint != NULL) {
		*own_hint++ = '\0';
		hint = own_hint;
	} else if (error->domain == CT_ERROR) {
		hint = ct_error_code_hint((CtError)error->code);
	}
	if (ctx != NULL && ctx->json) {
		g_autoptr(JsonBuilder) builder = json_builder_new();
		g_autoptr(JsonNode) root = NULL;
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "error");
		json_builder_begin_object(builder);
		json_builder_set_member_name(builder, "name");
		json_builder_add_string_value(builder, name);
		json_builder_set_member_name(builder, "message");
		json_builder_add_string_value(builder, copy->message);
		json_builder_set_member_name(builder, "hint");
		json_builder_add_string_value(builder, hint);
		json_builder_set_member_name(builder, "exit_code");
		json_builder_add_int_value(builder, code);
		json_builder_end_object(builder);
		json_builder_end_object(builder);
		root = json_builder_get_root(builder);
		ctcli_json_print(root, FALSE);
	}
	/* stderr too with --json: a person watching a script still sees why */
	g_printerr("certtether: %s\n", copy->message);
	/* the hint only when the message does not already say what to do */
	if (hint[0] != '\0' && strstr(copy->message, hint) == NULL)
		g_printerr("  hint: %s\n", hint);
	return code;
}

/* restores the terminal even when the read fails */
typedef struct {
	int fd;
	struct termios saved;
	gboolean changed;
} CtcliTtyEcho;

static void
ctcli_tty_echo_restore(CtcliTtyEcho *echo)
{
	if (echo->changed)
		tcsetattr(echo->fd, TCSAFLUSH, &echo->saved);
	echo->changed = FALSE;
}

gchar *
ctcli_prompt_secret(const gchar *prompt)
{
	CtcliTtyEcho echo = {.fd = -1};
	struct termios quiet;
	gchar buf[CTCLI_SECRET_MAX + 2];
	gsize len = 0;
	gboolean too_long = FALSE;
	gchar *secret = NULL;

	/* the controlling terminal, never stdin: a secret is not read from a pipe */
	echo.fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (echo.fd < 0)
		return NULL;
	if (tcgetattr(echo.fd, &echo.saved) != 0) {
		close(echo.fd);
		return NULL;
	}
	quiet = echo.saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(echo.fd, TCSAFLUSH, &quiet) != 0) {
		close(echo.fd);
		return NULL;
	}
	echo.changed = TRUE;
	if (write(echo.fd, prompt, strlen(prompt)) < 0 || write(echo.fd, " ", 1) < 0) {
		ctcli_tty_echo_restore(&echo);
		close(echo.fd);
		return NULL;
	}
	for (;;) {
		gchar c;
		ssize_t n = read(echo.fd, &c, 1);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || c == '\n' || c == '\r')
			break;
		if (len < CTCLI_SECRET_MAX)
			buf[len++] = c;
		else
			too_long = TRUE;
	}
	ctcli_tty_echo_restore(&echo);
	if (write(echo.fd, "\n", 1) < 0) {
		/* the newline is cosmetic */
	}
	close(echo.fd);
	if (len > 0 && !too_long)
		secret = g_strndup(buf, len);
	if (too_long)
		g_printerr("certtether: the secret is longer than %d characters; ignored\n",
		           CTCLI_SECRET_MAX);
	/* no copy of the secret stays on the stack */
	explicit_bzero(buf, sizeof(buf));
	return secret;
}
