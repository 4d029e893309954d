#include "daemon/engine/ct-csr-check.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/x509v3.h>

#include "daemon/engine/ct-x509.h"
#include "usbproto/codec/ctp-protocol.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIGNUM, BN_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BIO, BIO_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(BASIC_CONSTRAINTS, BASIC_CONSTRAINTS_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(ASN1_BIT_STRING, ASN1_BIT_STRING_free)

typedef STACK_OF(X509_EXTENSION) CtX509Extensions;
static void
ct_x509_extensions_free(CtX509Extensions *exts)
{
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtX509Extensions, ct_x509_extensions_free)

/* text shown in messages is cut to this many characters */
#define CT_CSR_CHECK_MAX_SHOWN 200

typedef struct {
	guint key_alg;
	const gchar *name;    /* config and ledger spelling */
	const gchar *display; /* for messages */
	int base_id;
	guint rsa_bits;
	const gchar *curve; /* OpenSSL group name */
} CtCsrKeyPolicy;

static const CtCsrKeyPolicy ct_csr_key_policies[] = {
    {CTP_KEY_RSA_2048, "rsa2048", "RSA 2048", EVP_PKEY_RSA, 2048, NULL},
    {CTP_KEY_RSA_3072, "rsa3072", "RSA 3072", EVP_PKEY_RSA, 3072, NULL},
    {CTP_KEY_EC_P256, "ec-p256", "EC P-256", EVP_PKEY_EC, 0, "prime256v1"},
    {CTP_KEY_EC_P384, "ec-p384", "EC P-384", EVP_PKEY_EC, 0, "secp384r1"},
};

static const CtCsrKeyPolicy *
ct_csr_key_policy(guint key_alg)
{
	for (guint i = 0; i < G_N_ELEMENTS(ct_csr_key_policies); i++) {
		if (ct_csr_key_policies[i].key_alg == key_alg)
			return &ct_csr_key_policies[i];
	}
	return NULL;
}

const gchar *
ct_csr_key_alg_to_string(guint key_alg)
{
	const CtCsrKeyPolicy *policy = ct_csr_key_policy(key_alg);
	return policy != NULL ? policy->name : NULL;
}

guint
ct_csr_key_alg_from_string(const gchar *name)
{
	for (guint i = 0; i < G_N_ELEMENTS(ct_csr_key_policies); i++) {
		if (g_strcmp0(ct_csr_key_policies[i].name, name) == 0)
			return ct_csr_key_policies[i].key_alg;
	}
	return 0;
}

void
ct_csr_check_result_free(CtCsrCheckResult *result)
{
	if (result == NULL)
		return;
	g_free(result->csr_sha256);
	EVP_PKEY_free(result->public_key);
	g_clear_pointer(&result->public_key_der, g_bytes_unref);
	g_free(result);
}

/* device-controlled text for a message: valid UTF-8, no control characters, bounded */
static gchar *
ct_csr_check_shown(const gchar *text, gssize len)
{
	g_autofree gchar *valid = g_utf8_make_valid(text, len);
	g_autoptr(GString) out = g_string_new(NULL);
	guint n = 0;
	for (const gchar *p = valid; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		if (n++ == CT_CSR_CHECK_MAX_SHOWN) {
			g_string_append(out, "…");
			break;
		}
		if (g_unichar_iscntrl(c))
			g_string_append_c(out, '?');
		else
			g_string_append_unichar(out, c);
	}
	return g_string_free(g_steal_pointer(&out), FALSE);
}

static gchar *
ct_csr_check_bio_text(BIO *bio)
{
	char *data = NULL;
	long len = BIO_get_mem_data(bio, &data);
	if (len <= 0)
		return g_strdup("");
	return ct_csr_check_shown(data, len);
}

static gchar *
ct_csr_check_name_text(const X509_NAME *name)
{
	g_autofree gchar *text = ct_x509_name_to_string(name);
	if (text[0] == '\0')
		return g_strdup("(empty)");
	return ct_csr_check_shown(text, -1);
}

/* "URI:sip:alice@test.local, DNS:x" */
static gchar *
ct_csr_check_general_names_text(const guchar *der, gsize len)
{
	const guchar *p = der;
	g_autoptr(GENERAL_NAMES) names = d2i_GENERAL_NAMES(NULL, &p, (long)len);
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	if (names == NULL || bio == NULL)
		return g_strdup("(unreadable names)");
	for (int i = 0; i < sk_GENERAL_NAME_num(names); i++) {
		if (i > 0)
			BIO_puts(bio, ", ");
		GENERAL_NAME_print(bio, sk_GENERAL_NAME_value(names, i));
	}
	return ct_csr_check_bio_text(bio);
}

static gchar *
ct_csr_check_object_text(const ASN1_OBJECT *obj)
{
	char buf[128];
	int nid = OBJ_obj2nid(obj);
	if (nid != NID_undef)
		return g_strdup(OBJ_nid2sn(nid));
	if (OBJ_obj2txt(buf, sizeof(buf), obj, 1) <= 0)
		return g_strdup("(unknown)");
	return g_strdup(buf);
}

/* "a 1024-bit RSA key", "an EC P-384 key", "an ED25519 key" */
static gchar *
ct_csr_check_describe_key(EVP_PKEY *pkey)
{
	int base_id = EVP_PKEY_get_base_id(pkey);
	if (base_id == EVP_PKEY_RSA)
		return g_strdup_printf("a %d-bit RSA key", EVP_PKEY_get_bits(pkey));
	if (base_id == EVP_PKEY_EC) {
		char group[64] = "";
		size_t len = 0;
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1)
			return g_strdup("an EC key on unnamed curve parameters");
		char encoding[32] = "";
		const gchar *spelled = "";
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, encoding,
		                                   sizeof(encoding), &len) != 1 ||
		    g_strcmp0(encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
			spelled = " with spelled-out curve parameters";
		for (guint i = 0; i < G_N_ELEMENTS(ct_csr_key_policies); i++) {
			if (g_strcmp0(ct_csr_key_policies[i].curve, group) == 0)
				return g_strdup_printf("an %s key%s",
				                       ct_csr_key_policies[i].display, spelled);
		}
		return g_strdup_printf("an EC %s key", group);
	}
	if (EVP_PKEY_get0_type_name(pkey) != NULL)
		return g_strdup_printf("a %s key", EVP_PKEY_get0_type_name(pkey));
	return g_strdup("a key of unknown type");
}

static gboolean ct_csr_check_fail(GError **error, const gchar *format, ...) G_GNUC_PRINTF(2, 3);

/* CT_ERROR_CSR_INVALID; always returns FALSE */
static gboolean
ct_csr_check_fail(GError **error, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *message = NULL;
	va_start(args, format);
	message = g_strdup_vprintf(format, args);
	va_end(args);
	g_set_error_literal(error, CT_ERROR, CT_ERROR_CSR_INVALID, message);
	return FALSE;
}

/* d2i, no trailing bytes, and the re-encoding from the parsed fields equals the input */
static X509_REQ *
ct_csr_check_parse(const guchar *data, gsize len, GError **error)
{
	const guchar *p = data;
	g_autoptr(X509_REQ) req = NULL;
	guchar *der = NULL;
	int der_len;
	gboolean same;

	if (len == 0 || len > CTP_MAX_CSR) {
		ct_csr_check_fail(
		    error, "the phone's CSR is %" G_GSIZE_FORMAT " bytes; 1 to %u are allowed", len,
		    CTP_MAX_CSR);
		return NULL;
	}
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req == NULL) {
		ct_csr_check_fail(error, "the phone's CSR is not a DER PKCS#10 request");
		return NULL;
	}
	if (p != data + len) {
		ct_csr_check_fail(error,
		                  "the phone's CSR is followed by %" G_GSIZE_FORMAT " extra bytes",
		                  (gsize)(data + len - p));
		return NULL;
	}
	/* OpenSSL keeps the received encoding of the request info and re-emits it; drop that
	 * cache so the comparison below sees an encoding made from the parsed fields */
	if (i2d_re_X509_REQ_tbs(req, NULL) <= 0) {
		ct_csr_check_fail(error, "the phone's CSR cannot be re-encoded");
		return NULL;
	}
	der_len = i2d_X509_REQ(req, &der);
	if (der_len <= 0) {
		ct_csr_check_fail(error, "the phone's CSR cannot be re-encoded");
		return NULL;
	}
	same = (gsize)der_len == len && memcmp(der, data, len) == 0;
	OPENSSL_free(der);
	if (!same) {
		ct_csr_check_fail(error, "the phone's CSR is not in canonical DER (it has BER or "
		                         "non-minimal encodings)");
		return NULL;
	}
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
		ct_csr_check_fail(error,
		                  "the phone's CSR has version %ld; PKCS#10 knows only version 1",
		                  X509_REQ_get_version(req) + 1);
		return NULL;
	}
	return g_steal_pointer(&req);
}

static gboolean
ct_csr_check_signature_algorithm(X509_REQ *req, GError **error)
{
	static const int allowed[] = {
	    NID_sha256WithRSAEncryption, NID_sha384WithRSAEncryption, NID_sha512WithRSAEncryption,
	    NID_ecdsa_with_SHA256,       NID_ecdsa_with_SHA384,       NID_ecdsa_with_SHA512,
	};
	const X509_ALGOR *alg = NULL;
	g_autofree gchar *name = NULL;
	int nid = X509_REQ_get_signature_nid(req);
	for (guint i = 0; i < G_N_ELEMENTS(allowed); i++) {
		if (nid == allowed[i])
			return TRUE;
	}
	X509_REQ_get0_signature(req, NULL, &alg);
	name = ct_csr_check_object_text(alg->algorithm);
	return ct_csr_check_fail(error,
	                         "the phone signed its CSR with %s; certtether accepts RSA PKCS#1 "
	                         "v1.5 or ECDSA with SHA-256 or stronger",
	                         name);
}

static gboolean
ct_csr_check_key(EVP_PKEY *pkey, const CtCsrKeyPolicy *policy, GError **error)
{
	g_autofree gchar *described = ct_csr_check_describe_key(pkey);
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;

	if (EVP_PKEY_get_base_id(pkey) != policy->base_id)
		return ct_csr_check_fail(error, "the phone generated %s, policy needs %s",
		                         described, policy->display);
	if (policy->base_id == EVP_PKEY_RSA) {
		g_autoptr(BIGNUM) e = NULL;
		int bits = EVP_PKEY_get_bits(pkey);
		if (bits < 0 || (guint)bits != policy->rsa_bits)
			return ct_csr_check_fail(error,
			                         "the phone generated a %d-bit RSA key, policy "
			                         "needs %u",
			                         bits, policy->rsa_bits);
		if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
			return ct_csr_check_fail(error,
			                         "the phone's RSA key has no public exponent");
		if (!BN_is_word(e, 65537)) {
			char *dec = BN_bn2dec(e);
			g_autofree gchar *shown = ct_csr_check_shown(dec != NULL ? dec : "?", -1);
			OPENSSL_free(dec);
			return ct_csr_check_fail(
			    error,
			    "the phone's RSA key has public exponent %s, policy "
			    "needs 65537",
			    shown);
		}
	} else {
		char group[64] = "";
		char encoding[32] = "";
		size_t len = 0;
		if (EVP_PKEY_get_group_name(pkey, group, sizeof(group), &len) != 1 ||
		    g_strcmp0(group, policy->curve) != 0)
			return ct_csr_check_fail(error, "the phone generated %s, policy needs %s",
			                         described, policy->display);
		/* explicit curve parameters, even equal to the named curve's, are refused */
		if (EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, encoding,
		                                   sizeof(encoding), &len) != 1 ||
		    g_strcmp0(encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0)
			return ct_csr_check_fail(
			    error,
			    "the phone's EC key spells out its curve parameters; "
			    "policy needs the named curve %s",
			    policy->display);
	}
	/* RSA: modulus and exponent sanity; EC: the point is on the curve, not infinity */
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1)
		return ct_csr_check_fail(error, "the phone's public key is not a valid %s key",
		                         policy->display);
	return TRUE;
}

static gboolean
ct_csr_check_subject(X509_REQ *req, GBytes *expected_subject_der, GError **error)
{
	const X509_NAME *subject = X509_REQ_get_subject_name(req);
	const guchar *der = NULL;
	size_t der_len = 0;
	gsize expected_len = 0;
	const guchar *expected = g_bytes_get_data(expected_subject_der, &expected_len);
	const guchar *p = expected;
	g_autoptr(X509_NAME) expected_name = NULL;
	g_autofree gchar *got_text = NULL;
	g_autofree gchar *want_text = NULL;

	expected_name = expected != NULL ? d2i_X509_NAME(NULL, &p, (long)expected_len) : NULL;
	if (expected_name == NULL || p != expected + expected_len) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the expected subject is not one DER X.509 Name");
		return FALSE;
	}
	if (X509_NAME_get0_der(subject, &der, &der_len) == 1 && der_len == expected_len &&
	    memcmp(der, expected, expected_len) == 0)
		return TRUE;
	got_text = ct_csr_check_name_text(subject);
	want_text = ct_csr_check_name_text(expected_name);
	return ct_csr_check_fail(error, "the phone asked for subject %s, not %s", got_text,
	                         want_text);
}

/* the DER GeneralNames the host demanded must parse (it is the caller's input) */
static gboolean
ct_csr_check_expected_san(GBytes *expected_san_der, GError **error)
{
	gsize len = 0;
	const guchar *data;
	const guchar *p;
	g_autoptr(GENERAL_NAMES) names = NULL;
	if (expected_san_der == NULL)
		return TRUE;
	data = g_bytes_get_data(expected_san_der, &len);
	p = data;
	names = data != NULL ? d2i_GENERAL_NAMES(NULL, &p, (long)len) : NULL;
	if (names == NULL || p != data + len || sk_GENERAL_NAME_num(names) == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the expected subjectAltName is not DER GeneralNames");
		return FALSE;
	}
	return TRUE;
}

static gboolean
ct_csr_check_san(X509_EXTENSION *ext, GBytes *expected_san_der, GError **error)
{
	const ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
	g_autofree gchar *got = ct_csr_check_general_names_text(ASN1_STRING_get0_data(value),
	                                                        (gsize)ASN1_STRING_length(value));
	g_autofree gchar *want = NULL;
	gsize want_len = 0;
	const guchar *want_der;

	if (expected_san_der == NULL)
		return ct_csr_check_fail(error,
		                         "the phone's CSR carries a subjectAltName (%s) that "
		                         "certtether did not ask for",
		                         got);
	want_der = g_bytes_get_data(expected_san_der, &want_len);
	want = ct_csr_check_general_names_text(want_der, want_len);
	if ((gsize)ASN1_STRING_length(value) != want_len ||
	    memcmp(ASN1_STRING_get0_data(value), want_der, want_len) != 0)
		return ct_csr_check_fail(error, "the phone asked for subjectAltName %s, not %s",
		                         got, want);
	if (X509_EXTENSION_get_critical(ext))
		return ct_csr_check_fail(
		    error, "the phone's CSR marks subjectAltName critical; certtether "
		           "asked for a non-critical one");
	return TRUE;
}

/* every extension but subjectAltName is refused; say which and why it matters */
static gboolean
ct_csr_check_refuse_extension(X509_EXTENSION *ext, GError **error)
{
	int nid = OBJ_obj2nid(X509_EXTENSION_get_object(ext));
	g_autofree gchar *name = ct_csr_check_object_text(X509_EXTENSION_get_object(ext));
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	g_autofree gchar *value = NULL;

	if (nid == NID_basic_constraints) {
		g_autoptr(BASIC_CONSTRAINTS) bc = X509V3_EXT_d2i(ext);
		if (bc == NULL || bc->ca)
			return ct_csr_check_fail(error,
			                         "the phone's CSR carries basicConstraints CA:TRUE "
			                         "(it asks for a certificate authority)");
	}
	if (nid == NID_key_usage) {
		g_autoptr(ASN1_BIT_STRING) usage = X509V3_EXT_d2i(ext);
		/* bit 5 keyCertSign, bit 6 cRLSign */
		if (usage == NULL || ASN1_BIT_STRING_get_bit(usage, 5) ||
		    ASN1_BIT_STRING_get_bit(usage, 6))
			return ct_csr_check_fail(
			    error, "the phone's CSR carries keyUsage with keyCertSign "
			           "or cRLSign (it asks to sign certificates)");
	}
	if (bio != NULL && X509V3_EXT_print(bio, ext, 0, 0) == 1)
		value = ct_csr_check_bio_text(bio);
	return ct_csr_check_fail(error,
	                         "the phone's CSR carries a %s extension (%s); certtether accepts "
	                         "no extension but the subjectAltName it asked for",
	                         name, value != NULL ? value : "unreadable value");
}

static gboolean
ct_csr_check_extensions(const ASN1_TYPE *value, GBytes *expected_san_der, GError **error)
{
	const guchar *data;
	const guchar *p;
	gsize len;
	guchar *der = NULL;
	int der_len;
	gboolean same;
	gboolean san_seen = FALSE;
	g_autoptr(CtX509Extensions) exts = NULL;

	if (value == NULL || ASN1_TYPE_get(value) != V_ASN1_SEQUENCE)
		return ct_csr_check_fail(error,
		                         "the phone's CSR has an extensionRequest that is not a "
		                         "list of extensions");
	data = ASN1_STRING_get0_data(value->value.sequence);
	len = (gsize)ASN1_STRING_length(value->value.sequence);
	p = data;
	exts = d2i_X509_EXTENSIONS(NULL, &p, (long)len);
	if (exts == NULL || p != data + len)
		return ct_csr_check_fail(error,
		                         "the phone's CSR has an extensionRequest that does not "
		                         "parse");
	der_len = i2d_X509_EXTENSIONS(exts, &der);
	same = der_len > 0 && (gsize)der_len == len && memcmp(der, data, len) == 0;
	OPENSSL_free(der);
	if (!same)
		return ct_csr_check_fail(error,
		                         "the phone's CSR has extensions that are not in canonical "
		                         "DER");

	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name)
			return ct_csr_check_refuse_extension(ext, error);
		if (san_seen)
			return ct_csr_check_fail(error,
			                         "the phone's CSR carries two subjectAltName "
			                         "extensions");
		san_seen = TRUE;
		if (!ct_csr_check_san(ext, expected_san_der, error))
			return FALSE;
	}
	if (expected_san_der != NULL && !san_seen) {
		gsize want_len = 0;
		const guchar *want_der = g_bytes_get_data(expected_san_der, &want_len);
		g_autofree gchar *want = ct_csr_check_general_names_text(want_der, want_len);
		return ct_csr_check_fail(error,
		                         "the phone's CSR has no subjectAltName; certtether asked "
		                         "for %s",
		                         want);
	}
	return TRUE;
}

/* only one attribute may appear: extensionRequest, holding at most the SAN */
static gboolean
ct_csr_check_attributes(X509_REQ *req, GBytes *expected_san_der, GError **error)
{
	gboolean ext_req_seen = FALSE;
	for (int i = 0; i < X509_REQ_get_attr_count(req); i++) {
		X509_ATTRIBUTE *attr = X509_REQ_get_attr(req, i);
		ASN1_OBJECT *obj = X509_ATTRIBUTE_get0_object(attr);
		int nid = OBJ_obj2nid(obj);
		if (nid == NID_pkcs9_challengePassword)
			return ct_csr_check_fail(error,
			                         "the phone's CSR carries a challengePassword "
			                         "attribute");
		if (nid != NID_ext_req) {
			g_autofree gchar *name = ct_csr_check_object_text(obj);
			return ct_csr_check_fail(error,
			                         "the phone's CSR carries an unexpected %s "
			                         "attribute",
			                         name);
		}
		if (ext_req_seen)
			return ct_csr_check_fail(error,
			                         "the phone's CSR carries two extensionRequest "
			                         "attributes");
		ext_req_seen = TRUE;
		if (X509_ATTRIBUTE_count(attr) != 1)
			return ct_csr_check_fail(error,
			                         "the phone's CSR has an extensionRequest with %d "
			                         "values instead of one",
			                         X509_ATTRIBUTE_count(attr));
		if (!ct_csr_check_extensions(X509_ATTRIBUTE_get0_type(attr, 0), expected_san_der,
		                             error))
			return FALSE;
	}
	if (!ext_req_seen && expected_san_der != NULL) {
		gsize want_len = 0;
		const guchar *want_der = g_bytes_get_data(expected_san_der, &want_len);
		g_autofree gchar *want = ct_csr_check_general_names_text(want_der, want_len);
		return ct_csr_check_fail(error,
		                         "the phone's CSR has no subjectAltName; certtether asked "
		                         "for %s",
		                         want);
	}
	return TRUE;
}

/* verify a SHA-256 signature (RSA PKCS#1 v1.5 or DER ECDSA) over the parts, in order */
static gboolean
ct_csr_check_verify_sha256(
    EVP_PKEY *pkey, const guchar *sig, gsize sig_len, const GBytes *const *parts, guint n_parts)
{
	g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	if (md == NULL || EVP_DigestVerifyInit_ex(md, &pctx, "SHA256", NULL, NULL, pkey, NULL) != 1)
		return FALSE;
	if (EVP_PKEY_get_base_id(pkey) == EVP_PKEY_RSA &&
	    EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
		return FALSE;
	for (guint i = 0; i < n_parts; i++) {
		gsize len = 0;
		gconstpointer data = g_bytes_get_data((GBytes *)parts[i], &len);
		if (len > 0 && EVP_DigestVerifyUpdate(md, data, len) != 1)
			return FALSE;
	}
	return EVP_DigestVerifyFinal(md, sig, sig_len) == 1;
}

static gboolean
ct_csr_check_pop(EVP_PKEY *pkey, GBytes *csr_der, GBytes *nonce, GBytes *pop_sig, GError **error)
{
	g_autoptr(GBytes) context =
	    g_bytes_new_static(CTP_CSR_POP_CONTEXT, strlen(CTP_CSR_POP_CONTEXT));
	g_autoptr(GBytes) digest = NULL;
	guint8 hash[32];
	gsize hash_len = sizeof(hash);
	g_autoptr(GChecksum) checksum = g_checksum_new(G_CHECKSUM_SHA256);
	gsize sig_len = 0;
	const guchar *sig = pop_sig != NULL ? g_bytes_get_data(pop_sig, &sig_len) : NULL;
	const GBytes *parts[3];

	if (sig == NULL || sig_len == 0 || sig_len > CTP_MAX_SIGNATURE)
		return ct_csr_check_fail(error,
		                         "the phone's proof of possession is %" G_GSIZE_FORMAT
		                         " bytes; 1 to %u are allowed",
		                         sig_len, CTP_MAX_SIGNATURE);
	g_checksum_update(checksum, g_bytes_get_data(csr_der, NULL), g_bytes_get_size(csr_der));
	g_checksum_get_digest(checksum, hash, &hash_len);
	digest = g_bytes_new(hash, hash_len);
	parts[0] = context;
	parts[1] = nonce;
	parts[2] = digest;
	if (!ct_csr_check_verify_sha256(pkey, sig, sig_len, parts, G_N_ELEMENTS(parts)))
		return ct_csr_check_fail(error,
		                         "the phone's proof of possession does not verify: the "
		                         "CSR's key did not sign this request's nonce and CSR (a "
		                         "replayed or substituted CSR)");
	return TRUE;
}

CtCsrCheckResult *
ct_csr_check(GBytes *csr_der,
             GBytes *expected_subject_der,
             GBytes *expected_san_der,
             guint key_alg,
             GBytes *nonce,
             GBytes *pop_sig,
             GError **error)
{
	const CtCsrKeyPolicy *policy = ct_csr_key_policy(key_alg);
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(CtCsrCheckResult) result = NULL;
	EVP_PKEY *pkey;
	gsize len = 0;
	const guchar *data;
	guchar *spki = NULL;
	int spki_len;

	/* the caller's side first: these are bugs, not a hostile phone */
	if (policy == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "key algorithm %u is not one certtether asks phones for", key_alg);
		return NULL;
	}
	if (expected_subject_der == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the expected subject is missing");
		return NULL;
	}
	if (nonce == NULL || g_bytes_get_size(nonce) < CTP_MIN_NONCE ||
	    g_bytes_get_size(nonce) > CTP_MAX_NONCE) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the CSR nonce must be %u to %u bytes", CTP_MIN_NONCE, CTP_MAX_NONCE);
		return NULL;
	}
	if (!ct_csr_check_expected_san(expected_san_der, error))
		return NULL;

	data = csr_der != NULL ? g_bytes_get_data(csr_der, &len) : NULL;
	req = ct_csr_check_parse(data, data != NULL ? len : 0, error);
	if (req == NULL)
		return NULL;
	if (!ct_csr_check_signature_algorithm(req, error))
		return NULL;
	pkey = X509_REQ_get0_pubkey(req);
	if (pkey == NULL) {
		ct_csr_check_fail(error,
		                  "the phone's CSR carries a public key OpenSSL cannot read");
		return NULL;
	}
	if (X509_REQ_verify(req, pkey) != 1) {
		ct_csr_check_fail(error,
		                  "the phone's CSR self-signature does not verify: the CSR was "
		                  "altered or not signed by the key it carries");
		return NULL;
	}
	if (!ct_csr_check_key(pkey, policy, error))
		return NULL;
	if (!ct_csr_check_subject(req, expected_subject_der, error))
		return NULL;
	if (!ct_csr_check_attributes(req, expected_san_der, error))
		return NULL;
	if (!ct_csr_check_pop(pkey, csr_der, nonce, pop_sig, error))
		return NULL;

	spki_len = i2d_PUBKEY(pkey, &spki);
	if (spki_len <= 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL,
		                    "cannot encode the CSR's public key");
		return NULL;
	}
	result = g_new0(CtCsrCheckResult, 1);
	result->public_key_der = g_bytes_new(spki, (gsize)spki_len);
	OPENSSL_free(spki);
	result->csr_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, csr_der);
	EVP_PKEY_up_ref(pkey);
	result->public_key = pkey;
	return g_steal_pointer(&result);
}

/* ---- HELLO identity ---- */

static gboolean
ct_csr_check_identity_fail(GError **error, const gchar *what)
{
	g_set_error(error, CT_ERROR, CT_ERROR_DEVICE,
	            "the phone's identity proof is wrong: %s; do not trust this device", what);
	return FALSE;
}

/* a strict DER SubjectPublicKeyInfo holding an EC P-256 key on its named curve */
static EVP_PKEY *
ct_csr_check_identity_key(GBytes *identity_key_der, GError **error)
{
	gsize len = 0;
	const guchar *data =
	    identity_key_der != NULL ? g_bytes_get_data(identity_key_der, &len) : NULL;
	const guchar *p = data;
	g_autoptr(EVP_PKEY) pkey = NULL;
	g_autoptr(EVP_PKEY_CTX) ctx = NULL;
	guchar *der = NULL;
	int der_len;
	gboolean same;
	char group[64] = "";
	char encoding[32] = "";
	size_t n = 0;

	if (data == NULL || len == 0 || len > CTP_MAX_PUBKEY) {
		ct_csr_check_identity_fail(error, "the identity key is missing or too long");
		return NULL;
	}
	pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (pkey == NULL || p != data + len) {
		ct_csr_check_identity_fail(error,
		                           "the identity key is not one DER SubjectPublicKeyInfo");
		return NULL;
	}
	der_len = i2d_PUBKEY(pkey, &der);
	same = der_len > 0 && (gsize)der_len == len && memcmp(der, data, len) == 0;
	OPENSSL_free(der);
	if (!same) {
		ct_csr_check_identity_fail(error, "the identity key is not in canonical DER");
		return NULL;
	}
	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_EC ||
	    EVP_PKEY_get_group_name(pkey, group, sizeof(group), &n) != 1 ||
	    g_strcmp0(group, "prime256v1") != 0 ||
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_EC_ENCODING, encoding,
	                                   sizeof(encoding), &n) != 1 ||
	    g_strcmp0(encoding, OSSL_PKEY_EC_ENCODING_GROUP) != 0) {
		g_autofree gchar *described = ct_csr_check_describe_key(pkey);
		g_autofree gchar *what = g_strdup_printf(
		    "the identity key is %s, the protocol needs EC P-256", described);
		ct_csr_check_identity_fail(error, what);
		return NULL;
	}
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	if (ctx == NULL || EVP_PKEY_public_check(ctx) != 1) {
		ct_csr_check_identity_fail(error, "the identity key is not a valid P-256 point");
		return NULL;
	}
	return g_steal_pointer(&pkey);
}

gchar *
ct_csr_check_identity_signature(GBytes *identity_key_der,
                                GBytes *identity_sig,
                                GBytes *challenge,
                                const gchar *serial,
                                GError **error)
{
	g_autoptr(EVP_PKEY) pkey = NULL;
	g_autoptr(GBytes) context = NULL;
	g_autoptr(GBytes) serial_field = NULL;
	const GBytes *parts[3];
	gsize serial_len = serial != NULL ? strlen(serial) : 0;
	gsize sig_len = 0;
	const guchar *sig = identity_sig != NULL ? g_bytes_get_data(identity_sig, &sig_len) : NULL;
	guint8 field[1 + CTP_MAX_TEXT];

	if (challenge == NULL || g_bytes_get_size(challenge) != CTP_CHALLENGE_SIZE) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the HELLO challenge must be %u bytes", CTP_CHALLENGE_SIZE);
		return NULL;
	}
	if (serial_len == 0 || serial_len > CTP_MAX_TEXT) {
		ct_csr_check_identity_fail(error, "the serial is empty or too long");
		return NULL;
	}
	if (sig == NULL || sig_len == 0 || sig_len > CTP_MAX_SIGNATURE) {
		ct_csr_check_identity_fail(error, "the identity signature is missing or too long");
		return NULL;
	}
	pkey = ct_csr_check_identity_key(identity_key_der, error);
	if (pkey == NULL)
		return NULL;

	field[0] = (guint8)serial_len;
	memcpy(field + 1, serial, serial_len);
	serial_field = g_bytes_new(field, 1 + serial_len);
	context = g_bytes_new_static(CTP_HELLO_SIG_CONTEXT, strlen(CTP_HELLO_SIG_CONTEXT));
	parts[0] = context;
	parts[1] = challenge;
	parts[2] = serial_field;
	if (!ct_csr_check_verify_sha256(pkey, sig, sig_len, parts, G_N_ELEMENTS(parts))) {
		ct_csr_check_identity_fail(error,
		                           "the identity signature over this session's challenge "
		                           "and the serial does not verify");
		return NULL;
	}
	return g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, identity_key_der);
}
