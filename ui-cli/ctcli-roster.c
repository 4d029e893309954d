/*
 * The bench roster (see ctcli-roster.h): RFC 4180 fields, one phone per line,
 * every bad line reported with its number and what is wrong.
 */
#include "ui-cli/ctcli-roster.h"

#include <string.h>

#include "daemon/engine/ct-error.h"
#include "daemon/engine/ct-identity.h"

static void
ctcli_roster_entry_free(CtcliRosterEntry *entry)
{
	g_free(entry->device);
	g_free(entry->sip_uri);
	g_free(entry->ccache);
	g_free(entry->password_file);
	g_free(entry->login);
	g_free(entry->auth_text);
	g_free(entry);
}

void
ctcli_roster_free(CtcliRoster *roster)
{
	if (roster == NULL)
		return;
	g_free(roster->origin);
	g_ptr_array_unref(roster->entries);
	g_free(roster);
}

/*
 * Split one line into fields: commas separate, a field may be quoted with '"'
 * (a '"' inside is written ""), blanks around an unquoted field are dropped.
 */
static GPtrArray *
ctcli_roster_split(const gchar *line, GError **error)
{
	g_autoptr(GPtrArray) fields = g_ptr_array_new_with_free_func(g_free);
	const gchar *p = line;

	for (;;) {
		g_autoptr(GString) field = g_string_new(NULL);
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '"') {
			for (p++;; p++) {
				if (*p == '\0') {
					g_set_error_literal(
					    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
					    "a quoted field does not end on its line "
					    "(a field may not span lines)");
					return NULL;
				}
				if (*p == '"' && p[1] == '"') {
					g_string_append_c(field, '"');
					p++;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					g_string_append_c(field, *p);
				}
			}
			while (*p == ' ' || *p == '\t')
				p++;
			if (*p != ',' && *p != '\0') {
				g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
				                    "text after the closing quote of a field");
				return NULL;
			}
		} else {
			while (*p != ',' && *p != '\0') {
				if (*p == '"') {
					g_set_error_literal(
					    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
					    "a quote inside an unquoted field (quote the "
					    "whole field and double the quote)");
					return NULL;
				}
				g_string_append_c(field, *p++);
			}
			while (field->len > 0 && (field->str[field->len - 1] == ' ' ||
			                          field->str[field->len - 1] == '\t'))
				g_string_truncate(field, field->len - 1);
		}
		if (field->len > CTCLI_ROSTER_MAX_FIELD) {
			g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			            "field %u is longer than %d bytes", fields->len + 1,
			            CTCLI_ROSTER_MAX_FIELD);
			return NULL;
		}
		g_ptr_array_add(fields, g_string_free(g_steal_pointer(&field), FALSE));
		if (*p == '\0')
			break;
		p++; /* the comma */
	}
	return g_steal_pointer(&fields);
}

/* a USB port path as the kernel names it: BUS-PORT[.PORT...] */
static gboolean
ctcli_roster_looks_like_port(const gchar *text)
{
	g_autoptr(GRegex) regex =
	    g_regex_new("^[0-9]{1,3}-[0-9]{1,3}(\\.[0-9]{1,3}){0,6}$", 0, 0, NULL);
	return g_regex_match(regex, text, 0, NULL);
}

/* printable ASCII without blanks, as phones report serials */
static gboolean
ctcli_roster_serial_valid(const gchar *text)
{
	gsize len = strlen(text);
	if (len == 0 || len > 64)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (text[i] <= ' ' || text[i] > '~')
			return FALSE;
	}
	return TRUE;
}

static gboolean
ctcli_roster_parse_device(const gchar *text, CtcliRosterEntry *entry, GError **error)
{
	const gchar *value = text;
	gboolean is_port;
	if (g_ascii_strncasecmp(text, "port:", 5) == 0) {
		value = text + 5;
		is_port = TRUE;
	} else if (g_ascii_strncasecmp(text, "serial:", 7) == 0) {
		value = text + 7;
		is_port = FALSE;
	} else {
		is_port = ctcli_roster_looks_like_port(text);
	}
	if (value[0] == '\0') {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "no device: give the phone's serial or USB port (e.g. 1-3)");
		return FALSE;
	}
	if (is_port && !ctcli_roster_looks_like_port(value)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "'%s' is not a USB port (BUS-PORT[.PORT...], e.g. 1-3 or 1-2.4)",
		            value);
		return FALSE;
	}
	if (!is_port && !ctcli_roster_serial_valid(value)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "'%s' is not a serial (1 to 64 printable characters, no blanks)",
		            value);
		return FALSE;
	}
	entry->device = g_strdup(value);
	entry->is_port = is_port;
	return TRUE;
}

static gboolean
ctcli_roster_parse_user(const gchar *text, CtcliRosterEntry *entry, GError **error)
{
	g_autofree gchar *with_scheme = g_ascii_strncasecmp(text, "sip:", 4) == 0
	                                    ? g_strdup(text)
	                                    : g_strconcat("sip:", text, NULL);
	entry->sip_uri = ct_identity_normalize_sip_uri(with_scheme);
	if (entry->sip_uri == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the user '%s' is not a SIP address (sip:user@domain)", text);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ctcli_roster_parse_auth(const gchar *text,
                        const gchar *base_dir,
                        CtcliRosterEntry *entry,
                        GError **error)
{
	const gchar *colon = strchr(text, ':');
	g_autofree gchar *method =
	    g_ascii_strdown(text, colon != NULL ? (gssize)(colon - text) : (gssize)-1);
	const gchar *arg = colon != NULL ? colon + 1 : NULL;

	entry->auth_text = g_strdup(text[0] != '\0' ? text : "negotiate");
	if (text[0] == '\0' || (g_strcmp0(method, "negotiate") == 0 && arg == NULL)) {
		entry->auth = CTCLI_ROSTER_AUTH_NEGOTIATE;
		return TRUE;
	}
	if (g_strcmp0(method, "negotiate") == 0) {
		if (arg[0] == '\0') {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			                    "negotiate: names no ticket cache (e.g. "
			                    "negotiate:FILE:/path/to/ccache)");
			return FALSE;
		}
		entry->auth = CTCLI_ROSTER_AUTH_NEGOTIATE;
		entry->ccache = g_strdup(arg);
		return TRUE;
	}
	if (g_strcmp0(method, "password") == 0 && arg == NULL) {
		entry->auth = CTCLI_ROSTER_AUTH_PASSWORD;
		return TRUE;
	}
	if (g_strcmp0(method, "password-file") == 0 && arg != NULL && arg[0] != '\0') {
		entry->auth = CTCLI_ROSTER_AUTH_PASSWORD_FILE;
		entry->password_file = g_canonicalize_filename(arg, base_dir);
		return TRUE;
	}
	g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
	            "the auth method '%s' is not one of negotiate, negotiate:CCACHE, password, "
	            "password-file:PATH",
	            text);
	return FALSE;
}

/* the header names a person would write */
static gboolean
ctcli_roster_is_header(GPtrArray *fields)
{
	static const gchar *const users[] = {"user", "users",   "user identity", "identity",
	                                     "sip",  "sip uri", "sip address",   "user sip address",
	                                     NULL};
	g_autofree gchar *second = NULL;
	if (fields->len < 2)
		return FALSE;
	second = g_ascii_strdown(g_ptr_array_index(fields, 1), -1);
	return g_strv_contains(users, second);
}

static CtcliRosterEntry *
ctcli_roster_parse_fields(GPtrArray *fields, const gchar *base_dir, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	CtcliRosterEntry *entry;

	if (fields->len < 2 || fields->len > 4) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%u field(s) where DEVICE,USER[,AUTH[,LOGIN]] are expected",
		            fields->len);
		return NULL;
	}
	entry = g_new0(CtcliRosterEntry, 1);
	if (!ctcli_roster_parse_device(g_ptr_array_index(fields, 0), entry, &error_local) ||
	    !ctcli_roster_parse_user(g_ptr_array_index(fields, 1), entry, &error_local) ||
	    !ctcli_roster_parse_auth(fields->len > 2 ? g_ptr_array_index(fields, 2) : "", base_dir,
	                             entry, &error_local)) {
		ctcli_roster_entry_free(entry);
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (fields->len > 3 && ((const gchar *)g_ptr_array_index(fields, 3))[0] != '\0') {
		if (entry->auth == CTCLI_ROSTER_AUTH_NEGOTIATE) {
			ctcli_roster_entry_free(entry);
			g_set_error_literal(
			    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			    "a LOGIN goes with password authentication only (Kerberos "
			    "names the user by its ticket)");
			return NULL;
		}
		entry->login = g_strdup(g_ptr_array_index(fields, 3));
	} else if (entry->auth != CTCLI_ROSTER_AUTH_NEGOTIATE) {
		/* sip:alice@example.com logs in as "alice" (the server's default realm) */
		const gchar *user = entry->sip_uri + 4;
		entry->login = g_strndup(user, (gsize)(strchr(user, '@') - user));
	}
	return entry;
}

CtcliRoster *
ctcli_roster_parse(
    const gchar *text, gsize len, const gchar *origin, const gchar *base_dir, GError **error)
{
	g_autoptr(CtcliRoster) roster = g_new0(CtcliRoster, 1);
	g_autoptr(GString) problems = g_string_new(NULL);
	g_autofree gchar *copy = NULL;
	g_auto(GStrv) lines = NULL;
	guint n_bad = 0;
	gboolean first_record = TRUE;

	roster->origin = g_strdup(origin);
	roster->entries = g_ptr_array_new_with_free_func((GDestroyNotify)ctcli_roster_entry_free);
	if (len > CTCLI_ROSTER_MAX_BYTES) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s is larger than %d bytes: not a roster", origin,
		            CTCLI_ROSTER_MAX_BYTES);
		return NULL;
	}
	if (memchr(text, '\0', len) != NULL || !g_utf8_validate(text, (gssize)len, NULL)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s is not UTF-8 text: not a roster", origin);
		return NULL;
	}
	copy = g_strndup(text, len);
	lines = g_strsplit(copy, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_autoptr(GError) line_error = NULL;
		g_autoptr(GPtrArray) fields = NULL;
		gchar *line = lines[i];
		CtcliRosterEntry *entry = NULL;
		gsize line_len = strlen(line);

		if (line_len > 0 && line[line_len - 1] == '\r')
			line[line_len - 1] = '\0';
		if (i == 0 && g_str_has_prefix(line, "\xEF\xBB\xBF"))
			line += 3; /* a byte order mark, as spreadsheets write */
		if (line[strspn(line, " \t")] == '\0' || line[strspn(line, " \t")] == '#')
			continue;
		fields = ctcli_roster_split(line, &line_error);
		if (fields != NULL && first_record && ctcli_roster_is_header(fields)) {
			first_record = FALSE;
			continue;
		}
		first_record = FALSE;
		if (fields != NULL)
			entry = ctcli_roster_parse_fields(fields, base_dir, &line_error);
		if (entry != NULL) {
			for (guint j = 0; j < roster->entries->len; j++) {
				CtcliRosterEntry *other = g_ptr_array_index(roster->entries, j);
				if (other->is_port == entry->is_port &&
				    g_strcmp0(other->device, entry->device) == 0) {
					line_error =
					    g_error_new(CT_ERROR, CT_ERROR_INVALID_ARGS,
					                "the %s %s is listed already on line %u",
					                entry->is_port ? "USB port" : "phone",
					                entry->device, other->line);
					g_clear_pointer(&entry, ctcli_roster_entry_free);
					break;
				}
			}
		}
		if (entry == NULL) {
			if (n_bad++ < 50)
				g_string_append_printf(problems, "\n  %s:%u: %s", origin, i + 1,
				                       line_error->message);
			continue;
		}
		if (roster->entries->len >= CTCLI_ROSTER_MAX_ENTRIES) {
			ctcli_roster_entry_free(entry);
			g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			            "%s lists more than %d phones", origin,
			            CTCLI_ROSTER_MAX_ENTRIES);
			return NULL;
		}
		entry->line = i + 1;
		g_ptr_array_add(roster->entries, entry);
	}
	if (n_bad > 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s has %u bad line(s), nothing was done:%s%s", origin, n_bad,
		            problems->str, n_bad > 50 ? "\n  ..." : "");
		return NULL;
	}
	if (roster->entries->len == 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s lists no phone (one per line: DEVICE,USER[,AUTH[,LOGIN]])", origin);
		return NULL;
	}
	return g_steal_pointer(&roster);
}

CtcliRoster *
ctcli_roster_load(const gchar *path, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GFile) file = g_file_new_for_path(path);
	g_autoptr(GFileInfo) info = NULL;
	g_autofree gchar *text = NULL;
	g_autofree gchar *dir = NULL;
	gsize len = 0;

	/* the size first: a roster never needs reading a huge file to refuse it */
	info = g_file_query_info(file, G_FILE_ATTRIBUTE_STANDARD_SIZE, G_FILE_QUERY_INFO_NONE, NULL,
	                         &error_local);
	if (info != NULL && g_file_info_get_size(info) > CTCLI_ROSTER_MAX_BYTES) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s is larger than %d bytes: not a roster", path,
		            CTCLI_ROSTER_MAX_BYTES);
		return NULL;
	}
	if (info == NULL || !g_file_get_contents(path, &text, &len, &error_local)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "cannot read the roster: %s",
		            error_local->message);
		return NULL;
	}
	dir = g_path_get_dirname(path);
	return ctcli_roster_parse(text, len, path, dir, error);
}

CtcliRosterEntry *
ctcli_roster_match(CtcliRoster *roster, const gchar *serial, const gchar *usb_port)
{
	for (guint i = 0; serial != NULL && serial[0] != '\0' && i < roster->entries->len; i++) {
		CtcliRosterEntry *entry = g_ptr_array_index(roster->entries, i);
		if (!entry->is_port && g_strcmp0(entry->device, serial) == 0)
			return entry;
	}
	for (guint i = 0; usb_port != NULL && usb_port[0] != '\0' && i < roster->entries->len;
	     i++) {
		CtcliRosterEntry *entry = g_ptr_array_index(roster->entries, i);
		if (entry->is_port && g_strcmp0(entry->device, usb_port) == 0)
			return entry;
	}
	return NULL;
}
