#include "daemon/engine/ct-config.h"

#include <math.h>
#include <string.h>

#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-x509.h"
#include "usbproto/codec/ctp-protocol.h"

#ifndef CT_SYSCONFDIR
#define CT_SYSCONFDIR "/etc"
#endif

/* a configuration file larger than this is not one */
#define CT_CONFIG_MAX_SIZE (256 * 1024)
/* longest value quoted back in a message */
#define CT_CONFIG_MAX_QUOTED 120

struct _CtConfig {
	GObject parent_instance;
	gchar *path;
	GPtrArray *warnings; /* gchar*, NULL-terminated */
	/* [service] */
	CtProtocol protocol;
	gchar *url;
	gchar *est_label;
	gchar *ca_file;
	gchar *registrar;
	gchar *web_ticket_url;
	guint timeout_s;
	/* [identity] */
	gchar *sip_uri;
	CtAuthMethod auth;
	gchar *username;
	gchar *client_cert; /* absolute path or NULL */
	gchar *client_key;  /* absolute path or NULL */
	/* [device] */
	gboolean key_algorithm_set;
	CtKeyAlgorithm key_algorithm;
	guint renew_before_days;
	/* [policy] */
	CtPolicyMode policy_mode;
	GPtrArray *allow; /* CtAllowEntry */
	/* [retry] */
	guint max_attempts;
	gdouble initial_delay;
	gdouble max_delay;
};

G_DEFINE_TYPE(CtConfig, ct_config, G_TYPE_OBJECT)

/* where a value came from, for messages */
typedef struct {
	const gchar *origin;   /* file path, "CERTTETHER_CA_FILE", "--ca-file" ... */
	const gchar *base_dir; /* for relative paths, or NULL (cwd) */
	const gchar *group;
	const gchar *key;
} CtConfigWhere;

typedef gboolean (*CtConfigSetter)(CtConfig *self,
                                   const gchar *value,
                                   const CtConfigWhere *where,
                                   GError **error);

typedef struct {
	const gchar *group;
	const gchar *key;
	CtConfigSetter set;
} CtConfigKey;

void
ct_allow_entry_free(CtAllowEntry *entry)
{
	if (entry == NULL)
		return;
	g_free(entry->serial);
	g_free(entry->fingerprint);
	g_free(entry);
}

static void
ct_config_finalize(GObject *object)
{
	CtConfig *self = CT_CONFIG(object);
	g_free(self->path);
	g_ptr_array_unref(self->warnings);
	g_free(self->url);
	g_free(self->est_label);
	g_free(self->ca_file);
	g_free(self->registrar);
	g_free(self->web_ticket_url);
	g_free(self->sip_uri);
	g_free(self->username);
	g_free(self->client_cert);
	g_free(self->client_key);
	g_ptr_array_unref(self->allow);
	G_OBJECT_CLASS(ct_config_parent_class)->finalize(object);
}

static void
ct_config_class_init(CtConfigClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ct_config_finalize;
}

static void
ct_config_init(CtConfig *self)
{
	self->warnings = g_ptr_array_new_null_terminated(0, g_free, TRUE);
	self->protocol = CT_PROTOCOL_CERTPROV;
	self->timeout_s = CT_CONFIG_DEFAULT_TIMEOUT_S;
	self->auth = CT_AUTH_METHOD_AUTO;
	self->renew_before_days = CT_CONFIG_DEFAULT_RENEW_BEFORE_DAYS;
	self->policy_mode = CT_POLICY_MODE_ASK;
	self->allow = g_ptr_array_new_with_free_func((GDestroyNotify)ct_allow_entry_free);
	self->max_attempts = CT_CONFIG_DEFAULT_MAX_ATTEMPTS;
	self->initial_delay = CT_CONFIG_DEFAULT_INITIAL_DELAY;
	self->max_delay = CT_CONFIG_DEFAULT_MAX_DELAY;
}

CtConfig *
ct_config_new_default(void)
{
	return g_object_new(CT_TYPE_CONFIG, NULL);
}

/* a value as it can be shown back: bounded, valid UTF-8, no control characters */
static gchar *
ct_config_quote(const gchar *value)
{
	gsize len = strlen(value);
	g_autofree gchar *valid = g_utf8_make_valid(value, (gssize)MIN(len, CT_CONFIG_MAX_QUOTED));
	GString *out = g_string_new(NULL);
	for (const gchar *p = valid; *p != '\0'; p++) {
		if (g_ascii_iscntrl(*p))
			g_string_append_printf(out, "\\x%02x", (guint)(guchar)*p);
		else
			g_string_append_c(out, *p);
	}
	if (len > CT_CONFIG_MAX_QUOTED)
		g_string_append(out, "...");
	return g_string_free(out, FALSE);
}

/* "<origin>: [group] key=value <what is wrong>" */
G_GNUC_PRINTF(4, 5)
static gboolean
ct_config_bad(GError **error, const CtConfigWhere *where, const gchar *value, const gchar *fmt, ...)
{
	va_list args;
	g_autofree gchar *why = NULL;
	g_autofree gchar *quoted = ct_config_quote(value);
	va_start(args, fmt);
	why = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "%s: [%s] %s=%s %s", where->origin,
	            where->group, where->key, quoted, why);
	return FALSE;
}

/* index of @value in @names, or -1 */
static gint
ct_config_lookup_name(const gchar *value, const gchar *const *names)
{
	for (gint i = 0; names[i] != NULL; i++) {
		if (g_strcmp0(value, names[i]) == 0)
			return i;
	}
	return -1;
}

static gboolean
ct_config_parse_enum(const gchar *value,
                     const gchar *const *names,
                     const CtConfigWhere *where,
                     gint *out,
                     GError **error)
{
	gint idx = ct_config_lookup_name(value, names);
	if (idx < 0) {
		g_autofree gchar *list = g_strjoinv(", ", (gchar **)names);
		return ct_config_bad(error, where, value, "is not one of %s", list);
	}
	*out = idx;
	return TRUE;
}

static gboolean
ct_config_parse_uint(const gchar *value,
                     guint min,
                     guint max,
                     const gchar *unit,
                     const CtConfigWhere *where,
                     guint *out,
                     GError **error)
{
	guint64 n = 0;
	if (!g_ascii_string_to_unsigned(value, 10, min, max, &n, NULL))
		return ct_config_bad(
		    error, where, value, "is not a whole number%s%s between %u and %u",
		    unit != NULL ? " of " : "", unit != NULL ? unit : "", min, max);
	*out = (guint)n;
	return TRUE;
}

static gboolean
ct_config_parse_seconds(const gchar *value,
                        gdouble min,
                        gdouble max,
                        const CtConfigWhere *where,
                        gdouble *out,
                        GError **error)
{
	gchar *end = NULL;
	gdouble d;
	if (value[0] == '\0')
		return ct_config_bad(error, where, value, "is empty: give a number of seconds");
	d = g_ascii_strtod(value, &end);
	if (end == value || *end != '\0' || !isfinite(d) || d < min || d > max)
		return ct_config_bad(error, where, value,
		                     "is not a number of seconds between %g and %g", min, max);
	*out = d;
	return TRUE;
}

static gboolean
ct_config_parse_url(const gchar *value, const CtConfigWhere *where, gchar **out, GError **error)
{
	g_autoptr(GUri) uri = g_uri_parse(value, G_URI_FLAGS_NONE, NULL);
	const gchar *scheme = uri != NULL ? g_uri_get_scheme(uri) : NULL;
	if (uri == NULL || (g_strcmp0(scheme, "https") != 0 && g_strcmp0(scheme, "http") != 0))
		return ct_config_bad(error, where, value, "is not an http or https URL");
	if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0')
		return ct_config_bad(error, where, value, "has no host name");
	if (g_uri_get_userinfo(uri) != NULL)
		return ct_config_bad(error, where, value,
		                     "must not contain a user name or password (use [identity])");
	if (g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL)
		return ct_config_bad(error, where, value, "must not have a query or fragment");
	g_free(*out);
	*out = g_strdup(value);
	return TRUE;
}

/* a DNS host name: labels of letters, digits and '-', at most 253 characters */
static gboolean
ct_config_is_hostname(const gchar *host)
{
	g_auto(GStrv) labels = NULL;
	if (host == NULL || host[0] == '\0' || strlen(host) > 253)
		return FALSE;
	labels = g_strsplit(host, ".", -1);
	for (guint i = 0; labels[i] != NULL; i++) {
		gsize len = strlen(labels[i]);
		/* a trailing dot (fully qualified) leaves one empty last label */
		if (len == 0 && labels[i + 1] == NULL && i > 0)
			continue;
		if (len == 0 || len > 63 || labels[i][0] == '-' || labels[i][len - 1] == '-')
			return FALSE;
		for (gsize j = 0; j < len; j++) {
			if (!g_ascii_isalnum(labels[i][j]) && labels[i][j] != '-')
				return FALSE;
		}
	}
	return TRUE;
}

static gboolean
ct_config_set_protocol(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	static const gchar *const names[] = {"certprov", "est", NULL};
	gint idx = 0;
	if (!ct_config_parse_enum(v, names, w, &idx, error))
		return FALSE;
	self->protocol = (CtProtocol)idx;
	return TRUE;
}

static gboolean
ct_config_set_url(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_url(v, w, &self->url, error);
}

static gboolean
ct_config_set_web_ticket_url(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_url(v, w, &self->web_ticket_url, error);
}

static gboolean
ct_config_set_est_label(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	gsize len = strlen(v);
	/* RFC 7030 3.2.2: the label is one path segment */
	if (len == 0 || len > 64)
		return ct_config_bad(error, w, v, "must be 1 to 64 characters long");
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(v[i]) && strchr("-_.~", v[i]) == NULL)
			return ct_config_bad(error, w, v,
			                     "is not a valid EST label (letters, digits, '-', '_', "
			                     "'.', '~')");
	}
	if (g_strcmp0(v, ".") == 0 || g_strcmp0(v, "..") == 0)
		return ct_config_bad(error, w, v, "is not a valid EST label");
	g_free(self->est_label);
	self->est_label = g_strdup(v);
	return TRUE;
}

/* a path as written, absolute: relative ones are relative to the file's directory */
static gchar *
ct_config_resolve_path(const gchar *v, const CtConfigWhere *w)
{
	if (g_path_is_absolute(v))
		return g_strdup(v);
	return g_canonicalize_filename(v, w->base_dir);
}

/* a PEM file of certificates, loaded now so that a wrong file is reported here and not
 * at the first request; an empty value means none */
static gboolean
ct_config_parse_pem_file(const gchar *v, const CtConfigWhere *w, gchar **out, GError **error)
{
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(CtX509Stack) certs = NULL;
	if (v[0] == '\0') {
		g_clear_pointer(out, g_free);
		return TRUE;
	}
	path = ct_config_resolve_path(v, w);
	certs = ct_x509_load_pem_file(path, &error_local);
	if (certs == NULL)
		return ct_config_bad(error, w, v, "cannot be used: %s", error_local->message);
	g_free(*out);
	*out = g_steal_pointer(&path);
	return TRUE;
}

static gboolean
ct_config_set_ca_file(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	/* an empty value also turns the environment's ca-file off */
	return ct_config_parse_pem_file(v, w, &self->ca_file, error);
}

static gboolean
ct_config_set_registrar(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	g_autofree gchar *host = g_strdup(v);
	gchar *colon = strrchr(host, ':');
	if (colon != NULL) {
		guint64 port = 0;
		if (!g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &port, NULL))
			return ct_config_bad(
			    error, w, v, "has an invalid port: use host or host:port (1-65535)");
		*colon = '\0';
	}
	if (!ct_config_is_hostname(host))
		return ct_config_bad(error, w, v, "is not a host name (e.g. pool.example.com)");
	g_free(self->registrar);
	self->registrar = g_strdup(v);
	return TRUE;
}

static gboolean
ct_config_set_timeout(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_uint(v, 1, 600, "seconds", w, &self->timeout_s, error);
}

static gboolean
ct_config_set_sip_uri(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	gchar *norm = ct_identity_normalize_sip_uri(v);
	if (norm == NULL)
		return ct_config_bad(error, w, v,
		                     "is not a SIP address of the form sip:user@domain.example");
	g_free(self->sip_uri);
	self->sip_uri = norm;
	return TRUE;
}

static gboolean
ct_config_set_auth(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	/* in CtAuthMethod order */
	static const gchar *const names[] = {"auto", "negotiate", "basic", "certificate", NULL};
	gint idx = 0;
	if (!ct_config_parse_enum(v, names, w, &idx, error))
		return FALSE;
	self->auth = (CtAuthMethod)idx;
	return TRUE;
}

static gboolean
ct_config_set_username(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	gsize len = strlen(v);
	if (len == 0 || len > 256 || !g_utf8_validate(v, -1, NULL))
		return ct_config_bad(error, w, v, "must be 1 to 256 characters of UTF-8");
	for (gsize i = 0; i < len; i++) {
		/* a ':' would end the user part of Basic credentials */
		if (g_ascii_iscntrl(v[i]) || v[i] == ':' || v[i] == ' ')
			return ct_config_bad(error, w, v,
			                     "must not contain blanks, ':' or control characters");
	}
	g_free(self->username);
	self->username = g_strdup(v);
	return TRUE;
}

static gboolean
ct_config_set_client_cert(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_pem_file(v, w, &self->client_cert, error);
}

/*
 * The key is a secret: only the file is checked here (there, readable, private);
 * its contents and that it is the certificate's are checked by
 * ct_credentials_ensure() before each use, which also picks up a renewed pair
 */
static gboolean
ct_config_set_client_key(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	g_autofree gchar *path = NULL;
	g_autoptr(GError) error_local = NULL;
	if (v[0] == '\0') {
		g_clear_pointer(&self->client_key, g_free);
		return TRUE;
	}
	path = ct_config_resolve_path(v, w);
	if (!ct_credentials_check_key_file(path, &error_local))
		return ct_config_bad(error, w, v, "cannot be used: %s", error_local->message);
	g_free(self->client_key);
	self->client_key = g_steal_pointer(&path);
	return TRUE;
}

static gboolean
ct_config_set_key_algorithm(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	static const gchar *const names[] = {"rsa2048", "rsa3072", "ec-p256", "ec-p384", NULL};
	gint idx = 0;
	if (!ct_config_parse_enum(v, names, w, &idx, error))
		return FALSE;
	self->key_algorithm = (CtKeyAlgorithm)idx;
	self->key_algorithm_set = TRUE;
	return TRUE;
}

static gboolean
ct_config_set_renew_before_days(CtConfig *self,
                                const gchar *v,
                                const CtConfigWhere *w,
                                GError **error)
{
	return ct_config_parse_uint(v, 1, 365, "days", w, &self->renew_before_days, error);
}

static gboolean
ct_config_set_mode(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	static const gchar *const names[] = {"ask", "allowlist", "always", NULL};
	gint idx = 0;
	if (!ct_config_parse_enum(v, names, w, &idx, error))
		return FALSE;
	self->policy_mode = (CtPolicyMode)idx;
	return TRUE;
}

gchar *
ct_config_normalize_fingerprint(const gchar *text)
{
	g_autoptr(GString) hex = g_string_new(NULL);
	for (const gchar *p = text; *p != '\0'; p++) {
		if (*p == ':')
			continue;
		if (!g_ascii_isxdigit(*p) || hex->len >= 64)
			return NULL;
		g_string_append_c(hex, g_ascii_tolower(*p));
	}
	if (hex->len != 64)
		return NULL;
	return g_string_free(g_steal_pointer(&hex), FALSE);
}

CtAllowEntry *
ct_allow_entry_parse(const gchar *text, GError **error)
{
	g_autoptr(CtAllowEntry) entry = g_new0(CtAllowEntry, 1);
	g_autofree gchar *serial = g_strstrip(g_strdup(text != NULL ? text : ""));
	gchar *colon = strchr(serial, ':');

	if (colon != NULL)
		*colon = '\0';
	if (serial[0] == '\0' || strlen(serial) > CTP_MAX_TEXT) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "has an entry without a serial of 1 to %u characters (use SERIAL or "
		            "SERIAL:SHA256, separated by ';')",
		            CTP_MAX_TEXT);
		return NULL;
	}
	/* a serial as PROTOCOL.md defines it (printable ASCII, no space); ':' and ';'
	 * cannot appear in an entry since they separate its parts */
	for (const gchar *p = serial; *p != '\0'; p++) {
		if (*p <= 0x20 || *p >= 0x7f || *p == ';') {
			g_set_error(
			    error, CT_ERROR, CT_ERROR_CONFIG,
			    "has a serial with a space or a character that is not printable "
			    "ASCII");
			return NULL;
		}
	}
	if (colon != NULL) {
		entry->fingerprint = ct_config_normalize_fingerprint(colon + 1);
		if (entry->fingerprint == NULL) {
			g_set_error(
			    error, CT_ERROR, CT_ERROR_CONFIG,
			    "has an entry for %s whose fingerprint is not a SHA-256 (64 hex "
			    "digits)",
			    serial);
			return NULL;
		}
	}
	entry->serial = g_steal_pointer(&serial);
	return g_steal_pointer(&entry);
}

static gboolean
ct_config_set_allow(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	g_auto(GStrv) items = g_strsplit(v, ";", -1);
	g_autoptr(GPtrArray) allow =
	    g_ptr_array_new_with_free_func((GDestroyNotify)ct_allow_entry_free);
	for (guint i = 0; items[i] != NULL; i++) {
		g_autoptr(GError) error_local = NULL;
		CtAllowEntry *entry;
		if (g_strstrip(items[i])[0] == '\0')
			continue;
		entry = ct_allow_entry_parse(items[i], &error_local);
		if (entry == NULL)
			return ct_config_bad(error, w, v, "%s", error_local->message);
		g_ptr_array_add(allow, entry);
	}
	g_ptr_array_unref(self->allow);
	self->allow = g_steal_pointer(&allow);
	return TRUE;
}

static gboolean
ct_config_set_max_attempts(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_uint(v, 1, 100, NULL, w, &self->max_attempts, error);
}

static gboolean
ct_config_set_initial_delay(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_seconds(v, 0.001, 3600, w, &self->initial_delay, error);
}

static gboolean
ct_config_set_max_delay(CtConfig *self, const gchar *v, const CtConfigWhere *w, GError **error)
{
	return ct_config_parse_seconds(v, 0.001, 86400, w, &self->max_delay, error);
}

static const CtConfigKey ct_config_keys[] = {
    {"service", "protocol", ct_config_set_protocol},
    {"service", "url", ct_config_set_url},
    {"service", "est-label", ct_config_set_est_label},
    {"service", "ca-file", ct_config_set_ca_file},
    {"service", "registrar", ct_config_set_registrar},
    {"service", "web-ticket-url", ct_config_set_web_ticket_url},
    {"service", "timeout", ct_config_set_timeout},
    {"identity", "sip-uri", ct_config_set_sip_uri},
    {"identity", "auth", ct_config_set_auth},
    {"identity", "username", ct_config_set_username},
    {"identity", "client-cert", ct_config_set_client_cert},
    {"identity", "client-key", ct_config_set_client_key},
    {"device", "key-algorithm", ct_config_set_key_algorithm},
    {"device", "renew-before-days", ct_config_set_renew_before_days},
    {"policy", "mode", ct_config_set_mode},
    {"policy", "allow", ct_config_set_allow},
    {"retry", "max-attempts", ct_config_set_max_attempts},
    {"retry", "initial-delay", ct_config_set_initial_delay},
    {"retry", "max-delay", ct_config_set_max_delay},
};

static const CtConfigKey *
ct_config_find_key(const gchar *group, const gchar *key)
{
	for (guint i = 0; i < G_N_ELEMENTS(ct_config_keys); i++) {
		if (g_strcmp0(ct_config_keys[i].group, group) == 0 &&
		    g_strcmp0(ct_config_keys[i].key, key) == 0)
			return &ct_config_keys[i];
	}
	return NULL;
}

static gboolean
ct_config_group_known(const gchar *group)
{
	for (guint i = 0; i < G_N_ELEMENTS(ct_config_keys); i++) {
		if (g_strcmp0(ct_config_keys[i].group, group) == 0)
			return TRUE;
	}
	return FALSE;
}

G_GNUC_PRINTF(2, 3)
static void
ct_config_warn(CtConfig *self, const gchar *fmt, ...)
{
	va_list args;
	gchar *msg;
	va_start(args, fmt);
	msg = g_strdup_vprintf(fmt, args);
	va_end(args);
	g_warning("%s", msg);
	g_ptr_array_add(self->warnings, msg);
}

/* rules between keys, checked after every change */
static gboolean
ct_config_check_consistency(CtConfig *self, const gchar *origin, GError **error)
{
	if (self->max_delay < self->initial_delay) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s: [retry] max-delay=%g is smaller than initial-delay=%g", origin,
		            self->max_delay, self->initial_delay);
		return FALSE;
	}
	if (self->auth == CT_AUTH_METHOD_CERTIFICATE && self->protocol == CT_PROTOCOL_CERTPROV) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s: [identity] auth=certificate cannot be used with [service] "
		            "protocol=certprov: CertProv needs Kerberos or a password (auth=auto, "
		            "negotiate or basic); client certificates work with protocol=est",
		            origin);
		return FALSE;
	}
	if (self->auth == CT_AUTH_METHOD_CERTIFICATE &&
	    (self->client_cert == NULL || self->client_key == NULL)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s: [identity] auth=certificate needs client-cert and client-key (the "
		            "PEM files of the certificate and of its private key)",
		            origin);
		return FALSE;
	}
	return TRUE;
}

gboolean
ct_config_set_value(CtConfig *self,
                    const gchar *group,
                    const gchar *key,
                    const gchar *value,
                    const gchar *origin,
                    GError **error)
{
	const CtConfigKey *k;
	CtConfigWhere where = {origin, NULL, group, key};
	g_return_val_if_fail(CT_IS_CONFIG(self), FALSE);
	g_return_val_if_fail(value != NULL, FALSE);
	k = ct_config_find_key(group, key);
	if (k == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "%s: there is no key [%s] %s", origin,
		            group, key);
		return FALSE;
	}
	if (!k->set(self, value, &where, error))
		return FALSE;
	return ct_config_check_consistency(self, origin, error);
}

static gboolean
ct_config_apply_env(CtConfig *self, GError **error)
{
	const gchar *ca_file = g_getenv("CERTTETHER_CA_FILE");
	CtConfigWhere where = {"CERTTETHER_CA_FILE", NULL, "service", "ca-file"};
	if (ca_file != NULL && !ct_config_set_ca_file(self, ca_file, &where, error))
		return FALSE;
	return TRUE;
}

static gboolean
ct_config_apply_keyfile(
    CtConfig *self, GKeyFile *kf, const gchar *origin, const gchar *base_dir, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto(GStrv) keys = NULL;
		if (!ct_config_group_known(groups[i])) {
			ct_config_warn(self, "%s: unknown group [%s] ignored", origin, groups[i]);
			continue;
		}
		keys = g_key_file_get_keys(kf, groups[i], NULL, NULL);
		for (guint j = 0; keys != NULL && keys[j] != NULL; j++) {
			const CtConfigKey *k = ct_config_find_key(groups[i], keys[j]);
			CtConfigWhere where = {origin, base_dir, groups[i], keys[j]};
			g_autofree gchar *value = NULL;
			g_autoptr(GError) error_local = NULL;
			if (k == NULL) {
				ct_config_warn(self, "%s: unknown key [%s] %s ignored", origin,
				               groups[i], keys[j]);
				continue;
			}
			value = g_key_file_get_string(kf, groups[i], keys[j], &error_local);
			if (value == NULL) {
				g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "%s: [%s] %s: %s",
				            origin, groups[i], keys[j], error_local->message);
				return FALSE;
			}
			g_strstrip(value);
			if (!k->set(self, value, &where, error))
				return FALSE;
		}
	}
	return ct_config_check_consistency(self, origin, error);
}

CtConfig *
ct_config_load_data(
    const gchar *data, gsize len, const gchar *origin, const gchar *base_dir, GError **error)
{
	g_autoptr(CtConfig) self = ct_config_new_default();
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GError) error_local = NULL;

	if (origin == NULL)
		origin = "certtether.conf";
	if (len > CT_CONFIG_MAX_SIZE) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s: %" G_GSIZE_FORMAT " bytes is too large for a configuration file",
		            origin, len);
		return NULL;
	}
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "%s: %s", origin,
		            error_local->message);
		return NULL;
	}
	if (!ct_config_apply_keyfile(self, kf, origin, base_dir, error))
		return NULL;
	if (!ct_config_apply_env(self, error))
		return NULL;
	if (self->protocol == CT_PROTOCOL_CERTPROV && self->key_algorithm_set &&
	    (self->key_algorithm == CT_KEY_ALGORITHM_EC_P256 ||
	     self->key_algorithm == CT_KEY_ALGORITHM_EC_P384))
		ct_config_warn(self,
		               "%s: [device] key-algorithm=%s with protocol=certprov: CertProv "
		               "servers are known to accept RSA keys only",
		               origin, ct_key_algorithm_to_string(self->key_algorithm));
	if (self->auth != CT_AUTH_METHOD_CERTIFICATE &&
	    (self->client_cert != NULL || self->client_key != NULL))
		ct_config_warn(self,
		               "%s: [identity] client-cert and client-key are used only with "
		               "auth=certificate (auth=%s)",
		               origin, ct_auth_method_to_string(self->auth));
	if (self->policy_mode == CT_POLICY_MODE_ALLOWLIST && self->allow->len == 0)
		ct_config_warn(self,
		               "%s: [policy] mode=allowlist without allow= entries refuses "
		               "every device",
		               origin);
	return g_steal_pointer(&self);
}

CtConfig *
ct_config_load_file(const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	g_autofree gchar *dir = NULL;
	g_autoptr(GError) error_local = NULL;
	gsize len = 0;
	CtConfig *self;

	if (!g_file_get_contents(path, &data, &len, &error_local)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "cannot read %s: %s", path,
		            error_local->message);
		return NULL;
	}
	dir = g_path_get_dirname(path);
	self = ct_config_load_data(data, len, path, dir, error);
	if (self != NULL)
		self->path = g_strdup(path);
	return self;
}

static gchar *
ct_config_user_file(void)
{
	const gchar *xdg = g_getenv("XDG_CONFIG_HOME");
	/* XDG: a relative value is invalid and must be ignored */
	if (xdg != NULL && g_path_is_absolute(xdg))
		return g_build_filename(xdg, "certtether", "certtether.conf", NULL);
	return g_build_filename(g_get_home_dir(), ".config", "certtether", "certtether.conf", NULL);
}

gchar *
ct_config_find_file(void)
{
	const gchar *explicit_file = g_getenv("CERTTETHER_CONFIG");
	g_autofree gchar *user = NULL;
	g_autofree gchar *system = NULL;
	if (explicit_file != NULL && explicit_file[0] != '\0')
		return g_strdup(explicit_file);
	user = ct_config_user_file();
	if (g_file_test(user, G_FILE_TEST_EXISTS))
		return g_steal_pointer(&user);
	system = g_build_filename(CT_SYSCONFDIR, "certtether", "certtether.conf", NULL);
	if (g_file_test(system, G_FILE_TEST_EXISTS))
		return g_steal_pointer(&system);
	return NULL;
}

CtConfig *
ct_config_load(GError **error)
{
	g_autofree gchar *path = ct_config_find_file();
	g_autoptr(CtConfig) self = NULL;
	if (path != NULL)
		return ct_config_load_file(path, error);
	/* no file: the defaults, with the environment's overrides */
	self = ct_config_new_default();
	if (!ct_config_apply_env(self, error))
		return NULL;
	return g_steal_pointer(&self);
}

gchar *
ct_config_get_state_dir(void)
{
	const gchar *dir = g_getenv("CERTTETHER_STATE_DIR");
	const gchar *xdg = g_getenv("XDG_STATE_HOME");
	if (dir != NULL && dir[0] != '\0')
		return g_strdup(dir);
	if (xdg != NULL && g_path_is_absolute(xdg))
		return g_build_filename(xdg, "certtether", NULL);
	return g_build_filename(g_get_home_dir(), ".local", "state", "certtether", NULL);
}

const gchar *
ct_config_get_path(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->path;
}

const gchar *const *
ct_config_get_warnings(CtConfig *self)
{
	static const gchar *const none[] = {NULL};
	g_return_val_if_fail(CT_IS_CONFIG(self), none);
	/* an empty null-terminated GPtrArray may have no storage yet */
	if (self->warnings->pdata == NULL)
		return none;
	return (const gchar *const *)self->warnings->pdata;
}

CtProtocol
ct_config_get_protocol(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_PROTOCOL_CERTPROV);
	return self->protocol;
}

const gchar *
ct_config_get_url(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->url;
}

const gchar *
ct_config_get_est_label(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->est_label;
}

const gchar *
ct_config_get_ca_file(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->ca_file;
}

const gchar *
ct_config_get_registrar(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->registrar;
}

const gchar *
ct_config_get_web_ticket_url(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->web_ticket_url;
}

guint
ct_config_get_timeout(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_CONFIG_DEFAULT_TIMEOUT_S);
	return self->timeout_s;
}

const gchar *
ct_config_get_sip_uri(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->sip_uri;
}

CtAuthMethod
ct_config_get_auth(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_AUTH_METHOD_AUTO);
	return self->auth;
}

const gchar *
ct_config_get_username(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->username;
}

const gchar *
ct_config_get_client_cert(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->client_cert;
}

const gchar *
ct_config_get_client_key(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->client_key;
}

CtCredentials *
ct_config_new_credentials(CtConfig *self)
{
	CtCredentials *credentials;
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	credentials = ct_credentials_new(self->auth, self->username);
	if (self->auth == CT_AUTH_METHOD_CERTIFICATE)
		ct_credentials_set_client_certificate(credentials, self->client_cert,
		                                      self->client_key);
	return credentials;
}

CtKeyAlgorithm
ct_config_get_key_algorithm(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_KEY_ALGORITHM_RSA2048);
	if (self->key_algorithm_set)
		return self->key_algorithm;
	/* CertProv's CA limits are RSA key sizes; EST servers take EC */
	return self->protocol == CT_PROTOCOL_EST ? CT_KEY_ALGORITHM_EC_P256
	                                         : CT_KEY_ALGORITHM_RSA2048;
}

guint
ct_config_get_renew_before_days(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_CONFIG_DEFAULT_RENEW_BEFORE_DAYS);
	return self->renew_before_days;
}

CtPolicyMode
ct_config_get_policy_mode(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_POLICY_MODE_ASK);
	return self->policy_mode;
}

GPtrArray *
ct_config_get_allow_list(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), NULL);
	return self->allow;
}

const CtAllowEntry *
ct_allow_list_match(GPtrArray *allow, const gchar *serial, const gchar *fingerprint)
{
	g_autofree gchar *fp =
	    fingerprint != NULL ? ct_config_normalize_fingerprint(fingerprint) : NULL;
	for (guint i = 0; allow != NULL && serial != NULL && i < allow->len; i++) {
		const CtAllowEntry *e = g_ptr_array_index(allow, i);
		if (g_strcmp0(e->serial, serial) != 0)
			continue;
		if (e->fingerprint == NULL || g_strcmp0(e->fingerprint, fp) == 0)
			return e;
	}
	return NULL;
}

gboolean
ct_config_is_allowed(CtConfig *self, const gchar *serial, const gchar *fingerprint)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), FALSE);
	return ct_allow_list_match(self->allow, serial, fingerprint) != NULL;
}

guint
ct_config_get_max_attempts(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_CONFIG_DEFAULT_MAX_ATTEMPTS);
	return self->max_attempts;
}

gdouble
ct_config_get_initial_delay(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_CONFIG_DEFAULT_INITIAL_DELAY);
	return self->initial_delay;
}

gdouble
ct_config_get_max_delay(CtConfig *self)
{
	g_return_val_if_fail(CT_IS_CONFIG(self), CT_CONFIG_DEFAULT_MAX_DELAY);
	return self->max_delay;
}

const gchar *
ct_protocol_to_string(CtProtocol protocol)
{
	return protocol == CT_PROTOCOL_EST ? "est" : "certprov";
}

const gchar *
ct_key_algorithm_to_string(CtKeyAlgorithm algorithm)
{
	switch (algorithm) {
	case CT_KEY_ALGORITHM_RSA2048:
		return "rsa2048";
	case CT_KEY_ALGORITHM_RSA3072:
		return "rsa3072";
	case CT_KEY_ALGORITHM_EC_P256:
		return "ec-p256";
	case CT_KEY_ALGORITHM_EC_P384:
		return "ec-p384";
	default:
		return "unknown";
	}
}

const gchar *
ct_policy_mode_to_string(CtPolicyMode mode)
{
	switch (mode) {
	case CT_POLICY_MODE_ASK:
		return "ask";
	case CT_POLICY_MODE_ALLOWLIST:
		return "allowlist";
	case CT_POLICY_MODE_ALWAYS:
		return "always";
	default:
		return "unknown";
	}
}

const gchar *
ct_auth_method_to_string(CtAuthMethod method)
{
	switch (method) {
	case CT_AUTH_METHOD_AUTO:
		return "auto";
	case CT_AUTH_METHOD_NEGOTIATE:
		return "negotiate";
	case CT_AUTH_METHOD_BASIC:
		return "basic";
	case CT_AUTH_METHOD_CERTIFICATE:
		return "certificate";
	default:
		return "unknown";
	}
}
