#include "daemon/engine/ct-x509.h"

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/pkcs7.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <time.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PKCS7, PKCS7_free)

void
ct_x509_stack_free(CtX509Stack *stack)
{
	if (stack != NULL)
		sk_X509_pop_free(stack, X509_free);
}

/* the most specific OpenSSL reason, for messages; clears the error queue */
static const gchar *
ct_x509_openssl_reason(void)
{
	unsigned long e = ERR_peek_last_error();
	const gchar *reason = e != 0 ? ERR_reason_error_string(e) : NULL;
	ERR_clear_error();
	return reason != NULL ? reason : "malformed data";
}

X509 *
ct_x509_from_der(const guint8 *data, gsize len, GError **error)
{
	const guint8 *p = data;
	g_autoptr(X509) cert = NULL;

	if (data == NULL || len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL, "empty certificate");
		return NULL;
	}
	if (len > CT_X509_MAX_INPUT) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "certificate of %" G_GSIZE_FORMAT
		            " bytes is larger than the %d allowed",
		            len, CT_X509_MAX_INPUT);
		return NULL;
	}
	cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "not a DER certificate: %s",
		            ct_x509_openssl_reason());
		return NULL;
	}
	if (p != data + len) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%" G_GSIZE_FORMAT " unexpected bytes after the DER certificate",
		            (gsize)(data + len - p));
		return NULL;
	}
	return g_steal_pointer(&cert);
}

CtX509Stack *
ct_x509_pkcs7_from_der(const guint8 *data, gsize len, GError **error)
{
	const guint8 *p = data;
	g_autoptr(PKCS7) p7 = NULL;
	g_autoptr(CtX509Stack) out = NULL;
	STACK_OF(X509) *certs = NULL;

	if (data == NULL || len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL, "empty PKCS#7 bundle");
		return NULL;
	}
	if (len > CT_X509_MAX_INPUT) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "PKCS#7 bundle of %" G_GSIZE_FORMAT
		            " bytes is larger than the %d allowed",
		            len, CT_X509_MAX_INPUT);
		return NULL;
	}
	p7 = d2i_PKCS7(NULL, &p, (long)len);
	if (p7 == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL, "not a DER PKCS#7 bundle: %s",
		            ct_x509_openssl_reason());
		return NULL;
	}
	if (p != data + len) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "%" G_GSIZE_FORMAT " unexpected bytes after the PKCS#7 bundle",
		            (gsize)(data + len - p));
		return NULL;
	}
	/* certs-only is SignedData with no signers; only SignedData carries certificates */
	if (!PKCS7_type_is_signed(p7) || p7->d.sign == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "the PKCS#7 bundle is not SignedData (certs-only)");
		return NULL;
	}
	certs = p7->d.sign->cert;
	if (certs == NULL || sk_X509_num(certs) == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "the PKCS#7 bundle holds no certificate");
		return NULL;
	}
	if (sk_X509_num(certs) > CT_X509_MAX_CERTS) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "the PKCS#7 bundle holds %d certificates, more than the %d allowed",
		            sk_X509_num(certs), CT_X509_MAX_CERTS);
		return NULL;
	}
	out = sk_X509_new_null();
	for (int i = 0; i < sk_X509_num(certs); i++) {
		X509 *c = sk_X509_value(certs, i);
		if (c == NULL || !X509_up_ref(c) || !sk_X509_push(out, c)) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
			return NULL;
		}
	}
	return g_steal_pointer(&out);
}

GBytes *
ct_x509_base64_decode(const gchar *text, gsize len, GError **error)
{
	g_autoptr(GString) clean = NULL;
	gsize pad = 0;
	gsize out_len = 0;
	guchar *out;

	if (text == NULL || len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL, "empty base64 body");
		return NULL;
	}
	if (len > 2 * (gsize)CT_X509_MAX_INPUT) {
		g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
		            "base64 body of %" G_GSIZE_FORMAT " bytes is too large", len);
		return NULL;
	}
	clean = g_string_sized_new(len);
	for (gsize i = 0; i < len; i++) {
		gchar c = text[i];
		if (c == ' ' || c == '\t' || c == '\r' || c == '\n')
			continue;
		if (c == '=') {
			pad++;
		} else if (g_ascii_isalnum(c) || c == '+' || c == '/') {
			if (pad > 0) {
				g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
				                    "base64 data continues after its padding");
				return NULL;
			}
		} else {
			g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
			            "invalid character 0x%02x at offset %" G_GSIZE_FORMAT
			            " of a base64 body",
			            (guint)(guchar)c, i);
			return NULL;
		}
		g_string_append_c(clean, c);
	}
	if (clean->len == 0 || clean->len % 4 != 0 || pad > 2) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL,
		                    "truncated base64 body (length is not a multiple of 4)");
		return NULL;
	}
	out = g_base64_decode(clean->str, &out_len);
	if (out_len == 0) {
		g_free(out);
		g_set_error_literal(error, CT_ERROR, CT_ERROR_PROTOCOL, "empty base64 body");
		return NULL;
	}
	return g_bytes_new_take(out, out_len);
}

CtX509Stack *
ct_x509_pkcs7_from_base64(const gchar *text, gsize len, GError **error)
{
	g_autoptr(GBytes) der = ct_x509_base64_decode(text, len, error);
	if (der == NULL)
		return NULL;
	return ct_x509_pkcs7_from_der(g_bytes_get_data(der, NULL), g_bytes_get_size(der), error);
}

CtX509Stack *
ct_x509_certs_from_der_any(const guint8 *data, gsize len, GError **error)
{
	g_autoptr(GError) error_cert = NULL;
	g_autoptr(GError) error_p7 = NULL;
	g_autoptr(X509) cert = ct_x509_from_der(data, len, &error_cert);
	g_autoptr(CtX509Stack) stack = NULL;

	if (cert != NULL) {
		stack = sk_X509_new_null();
		if (stack == NULL || !sk_X509_push(stack, cert)) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
			return NULL;
		}
		cert = NULL; /* owned by the stack now */
		return g_steal_pointer(&stack);
	}
	stack = ct_x509_pkcs7_from_der(data, len, &error_p7);
	if (stack != NULL)
		return g_steal_pointer(&stack);
	g_set_error(error, CT_ERROR, CT_ERROR_PROTOCOL,
	            "neither a DER certificate (%s) nor a PKCS#7 bundle (%s)", error_cert->message,
	            error_p7->message);
	return NULL;
}

CtX509Stack *
ct_x509_from_pem(const gchar *text, gsize len, GError **error)
{
	g_autoptr(BIO) bio = NULL;
	g_autoptr(CtX509Stack) stack = sk_X509_new_null();
	unsigned long e;

	if (text == NULL || len == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CONFIG, "empty PEM data");
		return NULL;
	}
	if (len > CT_X509_MAX_INPUT) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "PEM data of %" G_GSIZE_FORMAT " bytes is larger than the %d allowed",
		            len, CT_X509_MAX_INPUT);
		return NULL;
	}
	ERR_clear_error();
	bio = BIO_new_mem_buf(text, (int)len);
	for (;;) {
		X509 *cert = PEM_read_bio_X509(bio, NULL, NULL, NULL);
		if (cert == NULL)
			break;
		if (sk_X509_num(stack) >= CT_X509_MAX_CERTS) {
			X509_free(cert);
			g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
			            "more than %d certificates in one PEM file", CT_X509_MAX_CERTS);
			return NULL;
		}
		sk_X509_push(stack, cert);
	}
	/* the loop always ends on an error: "no start line" is the clean end of input */
	e = ERR_peek_last_error();
	if (e != 0 &&
	    !(ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "certificate %d of the PEM data is malformed: %s",
		            sk_X509_num(stack) + 1, ct_x509_openssl_reason());
		return NULL;
	}
	ERR_clear_error();
	if (sk_X509_num(stack) == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CONFIG,
		                    "no \"BEGIN CERTIFICATE\" block in the PEM data");
		return NULL;
	}
	return g_steal_pointer(&stack);
}

CtX509Stack *
ct_x509_load_pem_file(const gchar *path, GError **error)
{
	g_autofree gchar *text = NULL;
	gsize len = 0;
	g_autoptr(GError) error_local = NULL;
	CtX509Stack *stack;

	if (!g_file_get_contents(path, &text, &len, &error_local)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "cannot read %s: %s", path,
		            error_local->message);
		return NULL;
	}
	stack = ct_x509_from_pem(text, len, &error_local);
	if (stack == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "%s: %s", path, error_local->message);
		return NULL;
	}
	return stack;
}

GBytes *
ct_x509_to_der(X509 *cert)
{
	guint8 *der = NULL;
	int len = i2d_X509(cert, &der);
	GBytes *bytes;
	if (len <= 0)
		return NULL;
	bytes = g_bytes_new(der, (gsize)len);
	OPENSSL_free(der);
	return bytes;
}

gchar *
ct_x509_to_pem(X509 *cert)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	if (!PEM_write_bio_X509(bio, cert))
		return NULL;
	len = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)len);
}

gchar *
ct_x509_fingerprint_sha256(X509 *cert)
{
	guchar md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	GString *out;
	if (!X509_digest(cert, EVP_sha256(), md, &n))
		return NULL;
	out = g_string_sized_new(n * 3);
	for (unsigned int i = 0; i < n; i++)
		g_string_append_printf(out, i == 0 ? "%02X" : ":%02X", md[i]);
	return g_string_free(out, FALSE);
}

gchar *
ct_x509_name_to_string(const X509_NAME *name)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	char *data = NULL;
	long len;
	if (name == NULL)
		return g_strdup("");
	/* RFC 2253 but keep UTF-8 readable instead of \XX escapes */
	if (X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0)
		return g_strdup("(unprintable name)");
	len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return g_strdup("");
	return g_utf8_make_valid(data, len);
}

gchar *
ct_x509_subject_string(X509 *cert)
{
	return ct_x509_name_to_string(X509_get_subject_name(cert));
}

gchar *
ct_x509_issuer_string(X509 *cert)
{
	return ct_x509_name_to_string(X509_get_issuer_name(cert));
}

gchar *
ct_x509_serial_hex(X509 *cert)
{
	g_autoptr(BIGNUM) bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	gchar *serial;
	if (hex == NULL)
		return NULL;
	serial = g_strdup(hex);
	OPENSSL_free(hex);
	return serial;
}

/* an ASN.1 string as UTF-8 text, or NULL (embedded NULs refused) */
static gchar *
ct_x509_asn1_to_utf8(const ASN1_STRING *s)
{
	unsigned char *utf8 = NULL;
	int len = ASN1_STRING_to_UTF8(&utf8, s);
	gchar *out = NULL;
	if (len < 0)
		return NULL;
	if (memchr(utf8, '\0', (size_t)len) == NULL)
		out = g_strndup((const gchar *)utf8, (gsize)len);
	OPENSSL_free(utf8);
	return out;
}

gchar *
ct_x509_common_name(X509 *cert)
{
	const X509_NAME *subject = X509_get_subject_name(cert);
	int last = -1;
	for (int i = X509_NAME_get_index_by_NID(subject, NID_commonName, -1); i >= 0;
	     i = X509_NAME_get_index_by_NID(subject, NID_commonName, i))
		last = i;
	if (last < 0)
		return NULL;
	return ct_x509_asn1_to_utf8(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, last)));
}

GStrv
ct_x509_san_uris(X509 *cert)
{
	g_autoptr(GStrvBuilder) builder = g_strv_builder_new();
	g_autoptr(GENERAL_NAMES) names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; names != NULL && i < sk_GENERAL_NAME_num(names); i++) {
		const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
		g_autofree gchar *uri = NULL;
		if (gn->type != GEN_URI)
			continue;
		uri = ct_x509_asn1_to_utf8(gn->d.uniformResourceIdentifier);
		if (uri != NULL)
			g_strv_builder_add(builder, uri);
	}
	return g_strv_builder_end(builder);
}

static gboolean
ct_x509_asn1_time_to_unix(const ASN1_TIME *t, gint64 *out)
{
	struct tm tm = {0};
	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return FALSE;
	*out = (gint64)timegm(&tm);
	return TRUE;
}

gboolean
ct_x509_get_validity(X509 *cert, gint64 *not_before, gint64 *not_after)
{
	gint64 nb = 0, na = 0;
	if (!ct_x509_asn1_time_to_unix(X509_get0_notBefore(cert), &nb) ||
	    !ct_x509_asn1_time_to_unix(X509_get0_notAfter(cert), &na))
		return FALSE;
	if (not_before != NULL)
		*not_before = nb;
	if (not_after != NULL)
		*not_after = na;
	return TRUE;
}

gboolean
ct_x509_is_self_signed(X509 *cert)
{
	int rc = X509_self_signed(cert, 1);
	ERR_clear_error();
	return rc == 1;
}

gboolean
ct_x509_stack_contains(const CtX509Stack *stack, X509 *cert)
{
	if (stack == NULL)
		return FALSE;
	for (int i = 0; i < sk_X509_num(stack); i++) {
		if (X509_cmp(sk_X509_value(stack, i), cert) == 0)
			return TRUE;
	}
	return FALSE;
}

void
ct_x509_stack_merge(CtX509Stack *to, const CtX509Stack *from)
{
	if (from == NULL)
		return;
	for (int i = 0; i < sk_X509_num(from); i++) {
		X509 *c = sk_X509_value(from, i);
		if (ct_x509_stack_contains(to, c))
			continue;
		if (X509_up_ref(c) && !sk_X509_push(to, c))
			X509_free(c);
	}
}

CtX509Stack *
ct_x509_stack_copy(const CtX509Stack *stack)
{
	CtX509Stack *out = sk_X509_new_null();
	if (stack == NULL)
		return out;
	for (int i = 0; i < sk_X509_num(stack); i++) {
		X509 *c = sk_X509_value(stack, i);
		if (X509_up_ref(c) && !sk_X509_push(out, c))
			X509_free(c);
	}
	return out;
}
