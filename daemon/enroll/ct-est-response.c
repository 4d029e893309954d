#include "daemon/enroll/ct-est-response.h"

CtX509Stack *
ct_est_parse_certs_response(const guint8 *body,
                            gsize len,
                            const gchar *content_type,
                            GError **error)
{
	g_autoptr(GError) error_local = NULL;
	CtX509Stack *certs;

	if (content_type != NULL &&
	    g_ascii_strncasecmp(content_type, "application/pkcs7-mime", 22) != 0) {
		g_autofree gchar *shown = g_strndup(content_type, 80);
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the EST server answered Content-Type %s instead of "
		            "application/pkcs7-mime",
		            shown);
		return NULL;
	}
	if (body == NULL || len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "the EST server answered an empty body");
		return NULL;
	}
	/* RFC 7030 says base64; a DER SEQUENCE tag first means a server sent binary */
	if (body[0] == 0x30)
		certs = ct_x509_pkcs7_from_der(body, len, &error_local);
	else
		certs = ct_x509_pkcs7_from_base64((const gchar *)body, len, &error_local);
	if (certs == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the EST server's answer is not a PKCS#7 certificate bundle: %s",
		            error_local->message);
		return NULL;
	}
	return certs;
}
