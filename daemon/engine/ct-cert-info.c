#include "daemon/engine/ct-cert-info.h"

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "usbproto/codec/ctp-protocol.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)

static gchar *
ct_cert_info_common_name(const X509_NAME *name)
{
	int idx = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	int last = -1;
	unsigned char *utf8 = NULL;
	int len;
	gchar *cn;
	while (idx >= 0) {
		last = idx;
		idx = X509_NAME_get_index_by_NID(name, NID_commonName, idx);
	}
	if (last < 0)
		return NULL;
	len = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, last)));
	if (len < 0)
		return NULL;
	/* an embedded NUL would make "alice\0.evil" compare equal to "alice" */
	if (memchr(utf8, 0, (size_t)len) != NULL) {
		OPENSSL_free(utf8);
		return NULL;
	}
	cn = g_strndup((const gchar *)utf8, (gsize)len);
	OPENSSL_free(utf8);
	return cn;
}

static GStrv
ct_cert_info_san_uris(X509 *x509)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_autoptr(GENERAL_NAMES) names = X509_get_ext_d2i(x509, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		const ASN1_IA5STRING *uri;
		g_autofree gchar *uri_text = NULL;
		if (gn->type != GEN_URI)
			continue;
		uri = gn->d.uniformResourceIdentifier;
		if (memchr(uri->data, 0, (size_t)uri->length) != NULL)
			continue;
		uri_text = g_strndup((const gchar *)uri->data, (gsize)uri->length);
		g_strv_builder_add(builder, uri_text);
	}
	return g_strv_builder_end(builder);
}

CtCertInfo *
ct_cert_info_new(GBytes *der, GError **error)
{
	g_autoptr(CtCertInfo) info = g_new0(CtCertInfo, 1);
	g_autoptr(BIGNUM) bn = NULL;
	char *hex;
	gsize len = 0;
	const guchar *data = der != NULL ? g_bytes_get_data(der, &len) : NULL;
	g_autoptr(GError) error_local = NULL;
	gint64 not_before = 0, not_after = 0;

	if (data == NULL || len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the certificate is empty");
		return NULL;
	}
	if (len > CTP_MAX_CERT) {
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		            "the certificate is %" G_GSIZE_FORMAT
		            " bytes, more than the %u allowed",
		            len, CTP_MAX_CERT);
		return NULL;
	}
	info->x509 = ct_x509_from_der(data, len, &error_local);
	if (info->x509 == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID, "%s", error_local->message);
		return NULL;
	}
	info->sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, der);
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(info->x509), NULL);
	hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	if (hex == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the certificate's serial number cannot be read");
		return NULL;
	}
	info->serial = g_strdup(hex);
	OPENSSL_free(hex);
	if (!ct_x509_get_validity(info->x509, &not_before, &not_after)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the certificate's validity dates cannot be read");
		return NULL;
	}
	info->not_before = not_before * G_USEC_PER_SEC;
	info->not_after = not_after * G_USEC_PER_SEC;
	info->subject = ct_x509_subject_string(info->x509);
	info->common_name = ct_cert_info_common_name(X509_get_subject_name(info->x509));
	info->san_uris = ct_cert_info_san_uris(info->x509);
	return g_steal_pointer(&info);
}

void
ct_cert_info_free(CtCertInfo *info)
{
	if (info == NULL)
		return;
	X509_free(info->x509);
	g_free(info->sha256);
	g_free(info->serial);
	g_free(info->subject);
	g_free(info->common_name);
	g_strfreev(info->san_uris);
	g_free(info);
}

gboolean
ct_cert_info_names_user(const CtCertInfo *info, const gchar *sip_uri)
{
	const gchar *bare;
	g_return_val_if_fail(info != NULL, FALSE);
	if (sip_uri == NULL || sip_uri[0] == '\0')
		return FALSE;
	bare = g_ascii_strncasecmp(sip_uri, "sip:", 4) == 0 ? sip_uri + 4 : sip_uri;
	for (guint i = 0; info->san_uris[i] != NULL; i++) {
		if (g_ascii_strcasecmp(info->san_uris[i], sip_uri) == 0)
			return TRUE;
	}
	if (info->common_name != NULL && (g_ascii_strcasecmp(info->common_name, sip_uri) == 0 ||
	                                  g_ascii_strcasecmp(info->common_name, bare) == 0))
		return TRUE;
	return FALSE;
}
