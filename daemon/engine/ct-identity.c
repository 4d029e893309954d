#include "daemon/engine/ct-identity.h"

#include <openssl/x509v3.h>
#include <string.h>

#include "daemon/engine/ct-x509.h"

/*
 * certtether's namespace for device ids (a random UUID fixed forever: changing it
 * would give every phone a new DeviceId)
 */
static const guint8 ct_identity_namespace[16] = {0x6b, 0x2f, 0x0c, 0x8e, 0x3d, 0x41, 0x4f, 0x5a,
                                                 0x9b, 0x17, 0x52, 0xc4, 0xe0, 0x8a, 0x63, 0xd1};

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)

/* a DNS name with at least two labels of letters, digits and '-' */
static gboolean
ct_identity_is_domain(const gchar *host)
{
	g_auto(GStrv) labels = NULL;
	guint n = 0;
	if (host == NULL || host[0] == '\0' || strlen(host) > 253)
		return FALSE;
	labels = g_strsplit(host, ".", -1);
	for (; labels[n] != NULL; n++) {
		gsize len = strlen(labels[n]);
		if (len == 0 || len > 63 || labels[n][0] == '-' || labels[n][len - 1] == '-')
			return FALSE;
		for (gsize j = 0; j < len; j++) {
			if (!g_ascii_isalnum(labels[n][j]) && labels[n][j] != '-')
				return FALSE;
		}
	}
	return n >= 2;
}

/* RFC 3261 user part: unreserved characters and a few marks, at most 128 */
static gboolean
ct_identity_is_sip_user(const gchar *user, gsize len)
{
	if (len == 0 || len > 128)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if (!g_ascii_isalnum(user[i]) && strchr("-_.!~*'()&=+$,%", user[i]) == NULL)
			return FALSE;
	}
	return TRUE;
}

gchar *
ct_identity_normalize_sip_uri(const gchar *value)
{
	const gchar *user;
	const gchar *at;
	g_autofree gchar *domain = NULL;
	if (value == NULL || g_ascii_strncasecmp(value, "sip:", 4) != 0)
		return NULL;
	user = value + 4;
	at = strrchr(user, '@');
	if (at == NULL || !ct_identity_is_sip_user(user, (gsize)(at - user)))
		return NULL;
	domain = g_ascii_strdown(at + 1, -1);
	if (!ct_identity_is_domain(domain))
		return NULL;
	return g_strdup_printf("sip:%.*s@%s", (int)(at - user), user, domain);
}

gchar *
ct_identity_sip_uri_from_principal(const gchar *principal, GError **error)
{
	const gchar *at;
	g_autofree gchar *candidate = NULL;
	gchar *uri;
	if (principal == NULL || principal[0] == '\0') {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_CONFIG,
		    "no user identity: set sip-uri= in [identity] of certtether.conf");
		return NULL;
	}
	at = strrchr(principal, '@');
	/* an instance ("alice/admin") or escapes are not a person's SIP address */
	if (at == NULL || strpbrk(principal, "/\\") != NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "cannot derive a SIP address from the principal %s: set sip-uri= in "
		            "[identity] of certtether.conf",
		            principal);
		return NULL;
	}
	candidate = g_strdup_printf("sip:%s", principal);
	uri = ct_identity_normalize_sip_uri(candidate);
	if (uri == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "cannot derive a SIP address from the principal %s: set sip-uri= in "
		            "[identity] of certtether.conf",
		            principal);
		return NULL;
	}
	return uri;
}

gchar *
ct_identity_resolve_sip_uri(CtConfig *config, const gchar *principal, GError **error)
{
	if (config != NULL && ct_config_get_sip_uri(config) != NULL)
		return g_strdup(ct_config_get_sip_uri(config));
	return ct_identity_sip_uri_from_principal(principal, error);
}

gchar *
ct_identity_sip_uri_from_cert(X509 *cert, GError **error)
{
	g_auto(GStrv) uris = NULL;
	g_autofree gchar *cn = NULL;
	g_autofree gchar *candidate = NULL;
	g_autofree gchar *subject = NULL;
	gchar *uri = NULL;

	g_return_val_if_fail(cert != NULL, NULL);
	/* the subjectAltName URI is what ct_identity_cert_names_user() checks first too */
	uris = ct_x509_san_uris(cert);
	for (guint i = 0; uris[i] != NULL && uri == NULL; i++)
		uri = ct_identity_normalize_sip_uri(uris[i]);
	if (uri != NULL)
		return uri;
	cn = ct_x509_common_name(cert);
	if (cn != NULL) {
		candidate = g_ascii_strncasecmp(cn, "sip:", 4) == 0 ? g_strdup(cn)
		                                                    : g_strdup_printf("sip:%s", cn);
		uri = ct_identity_normalize_sip_uri(candidate);
		if (uri != NULL)
			return uri;
	}
	subject = ct_x509_subject_string(cert);
	g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
	            "the client certificate '%s' names no SIP address (no subjectAltName URI "
	            "sip:user@domain, no CN user@domain): set sip-uri= in [identity] of "
	            "certtether.conf",
	            subject);
	return NULL;
}

gchar *
ct_identity_resolve_user(CtConfig *config, CtCredentials *credentials, GError **error)
{
	g_autoptr(X509) cert =
	    credentials != NULL ? ct_credentials_dup_certificate(credentials) : NULL;
	const gchar *configured = config != NULL ? ct_config_get_sip_uri(config) : NULL;
	g_autofree gchar *own = NULL;
	g_autofree gchar *subject = NULL;

	if (cert == NULL)
		return ct_identity_resolve_sip_uri(
		    config, credentials != NULL ? ct_credentials_get_principal(credentials) : NULL,
		    error);
	if (configured == NULL)
		return ct_identity_sip_uri_from_cert(cert, error);
	/* the service issues for whom the certificate names: another sip-uri could only end
	 * in a certificate the phone is refused, after the service issued it */
	own = ct_identity_sip_uri_from_cert(cert, NULL);
	if (own != NULL && !ct_identity_cert_names_user(cert, configured)) {
		subject = ct_x509_subject_string(cert);
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "[identity] sip-uri=%s is not the user of the client certificate "
		            "'%s' (%s): the service issues certificates for the certificate's "
		            "user; remove sip-uri or use that user's certificate",
		            configured, subject, own);
		return NULL;
	}
	return g_strdup(configured);
}

gchar *
ct_identity_entity(const gchar *sip_uri)
{
	g_return_val_if_fail(sip_uri != NULL, NULL);
	if (g_ascii_strncasecmp(sip_uri, "sip:", 4) == 0)
		return g_strdup(sip_uri + 4);
	return g_strdup(sip_uri);
}

static gboolean
ct_identity_check(const gchar *sip_uri, GError **error)
{
	g_autofree gchar *norm = ct_identity_normalize_sip_uri(sip_uri);
	if (norm == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s is not a SIP address of the form sip:user@domain",
		            sip_uri != NULL ? sip_uri : "(null)");
		return FALSE;
	}
	return TRUE;
}

GBytes *
ct_identity_subject_der(const gchar *sip_uri, GError **error)
{
	g_autoptr(X509_NAME) name = NULL;
	g_autofree gchar *entity = NULL;
	guint8 *der = NULL;
	int len;
	GBytes *bytes;

	if (!ct_identity_check(sip_uri, error))
		return NULL;
	entity = ct_identity_entity(sip_uri);
	name = X509_NAME_new();
	if (name == NULL || !X509_NAME_add_entry_by_NID(name, NID_commonName, MBSTRING_UTF8,
	                                                (const unsigned char *)entity, -1, -1, 0)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot build the subject name");
		return NULL;
	}
	len = i2d_X509_NAME(name, &der);
	if (len <= 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot encode the subject name");
		return NULL;
	}
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

GBytes *
ct_identity_san_der(const gchar *sip_uri, GError **error)
{
	g_autoptr(GENERAL_NAMES) names = NULL;
	g_autofree gchar *norm = NULL;
	GENERAL_NAME *gen;
	ASN1_IA5STRING *ia5;
	guint8 *der = NULL;
	int len;
	GBytes *bytes;

	if (!ct_identity_check(sip_uri, error))
		return NULL;
	norm = ct_identity_normalize_sip_uri(sip_uri);
	names = GENERAL_NAMES_new();
	gen = GENERAL_NAME_new();
	ia5 = ASN1_IA5STRING_new();
	if (names == NULL || gen == NULL || ia5 == NULL ||
	    !ASN1_STRING_set(ia5, norm, (int)strlen(norm))) {
		GENERAL_NAME_free(gen);
		ASN1_IA5STRING_free(ia5);
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot build the subjectAltName");
		return NULL;
	}
	GENERAL_NAME_set0_value(gen, GEN_URI, ia5);
	if (!sk_GENERAL_NAME_push(names, gen)) {
		GENERAL_NAME_free(gen);
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
		return NULL;
	}
	len = i2d_GENERAL_NAMES(names, &der);
	if (len <= 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot encode the subjectAltName");
		return NULL;
	}
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

gchar *
ct_identity_device_id(const gchar *serial)
{
	g_autoptr(GChecksum) sha1 = g_checksum_new(G_CHECKSUM_SHA1);
	guint8 digest[20];
	gsize len = sizeof(digest);
	g_return_val_if_fail(serial != NULL, NULL);

	/* RFC 9562 UUIDv5: SHA-1(namespace || name), version and variant bits set */
	g_checksum_update(sha1, ct_identity_namespace, sizeof(ct_identity_namespace));
	g_checksum_update(sha1, (const guchar *)serial, (gssize)strlen(serial));
	g_checksum_get_digest(sha1, digest, &len);
	digest[6] = (guint8)((digest[6] & 0x0f) | 0x50);
	digest[8] = (guint8)((digest[8] & 0x3f) | 0x80);
	return g_strdup_printf("{%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-"
	                       "%02X%02X%02X%02X%02X%02X}",
	                       digest[0], digest[1], digest[2], digest[3], digest[4], digest[5],
	                       digest[6], digest[7], digest[8], digest[9], digest[10], digest[11],
	                       digest[12], digest[13], digest[14], digest[15]);
}

gboolean
ct_identity_cert_names_user(X509 *cert, const gchar *sip_uri)
{
	g_autofree gchar *entity = NULL;
	g_autofree gchar *cn = NULL;
	g_auto(GStrv) uris = NULL;

	if (cert == NULL || sip_uri == NULL || sip_uri[0] == '\0')
		return FALSE;
	uris = ct_x509_san_uris(cert);
	for (guint i = 0; uris[i] != NULL; i++) {
		if (g_ascii_strcasecmp(uris[i], sip_uri) == 0)
			return TRUE;
	}
	entity = ct_identity_entity(sip_uri);
	cn = ct_x509_common_name(cert);
	return cn != NULL &&
	       (g_ascii_strcasecmp(cn, entity) == 0 || g_ascii_strcasecmp(cn, sip_uri) == 0);
}
