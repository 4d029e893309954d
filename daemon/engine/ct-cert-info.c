#include "daemon/engine/ct-cert-info.h"

#include "usbproto/codec/ctp-protocol.h"

CtCertInfo *
ct_cert_info_new(GBytes *der, GError **error)
{
	g_autoptr(CtCertInfo) info = g_new0(CtCertInfo, 1);
	gsize len = 0;
	const guchar *data = der != NULL ? g_bytes_get_data(der, &len) : NULL;
	g_autoptr(GError) error_local = NULL;
	gint64 not_before = 0, not_after = 0;

	/* what a phone may hold (the protocol's bound), well below ct_x509_from_der()'s */
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
	info->serial = ct_x509_serial_hex(info->x509);
	if (info->serial == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the certificate's serial number cannot be read");
		return NULL;
	}
	if (!ct_x509_get_validity(info->x509, &not_before, &not_after)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the certificate's validity dates cannot be read");
		return NULL;
	}
	info->not_before = not_before * G_USEC_PER_SEC;
	info->not_after = not_after * G_USEC_PER_SEC;
	info->subject = ct_x509_subject_string(info->x509);
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
	g_free(info);
}
