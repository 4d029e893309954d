#include "daemon/engine/ct-verify.h"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#include "daemon/engine/ct-identity.h"
#include "daemon/enroll/ct-http.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(AUTHORITY_INFO_ACCESS, AUTHORITY_INFO_ACCESS_free)

EVP_PKEY *
ct_verify_csr_public_key(GBytes *csr_der, GError **error)
{
	const guint8 *data;
	const guint8 *p;
	gsize len = 0;
	g_autoptr(X509_REQ) req = NULL;
	g_autoptr(EVP_PKEY) key = NULL;

	if (csr_der == NULL || g_bytes_get_size(csr_der) == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CSR_INVALID, "empty CSR");
		return NULL;
	}
	data = g_bytes_get_data(csr_der, &len);
	if (len > CT_X509_MAX_INPUT) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CSR_INVALID, "CSR too large");
		return NULL;
	}
	p = data;
	req = d2i_X509_REQ(NULL, &p, (long)len);
	if (req == NULL || p != data + len) {
		ERR_clear_error();
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CSR_INVALID,
		                    "the CSR is not one DER PKCS#10 request");
		return NULL;
	}
	key = X509_REQ_get_pubkey(req);
	if (key == NULL || X509_REQ_verify(req, key) != 1) {
		ERR_clear_error();
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CSR_INVALID,
		                    "the CSR's signature does not verify with its own key");
		return NULL;
	}
	return g_steal_pointer(&key);
}

/* the anchors: ca-file (if any) plus the system store (unless told not to) */
static X509_STORE *
ct_verify_build_store(const gchar *ca_file, gboolean no_system_store, GError **error)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();
	if (store == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
		return NULL;
	}
	if (ca_file != NULL && ca_file[0] != '\0') {
		g_autoptr(CtX509Stack) anchors = ct_x509_load_pem_file(ca_file, error);
		if (anchors == NULL)
			return NULL;
		for (int i = 0; i < sk_X509_num(anchors); i++) {
			if (!X509_STORE_add_cert(store, sk_X509_value(anchors, i))) {
				ERR_clear_error();
				g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
				            "cannot use certificate %d of %s as a trust anchor",
				            i + 1, ca_file);
				return NULL;
			}
		}
	}
	if (!no_system_store && !X509_STORE_set_default_paths(store)) {
		/* no readable system store is unusual but not fatal with a ca-file */
		g_debug("cannot load the system trust store");
		ERR_clear_error();
	}
	/* like libcurl: an intermediate in ca-file is a trust anchor too */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	return g_steal_pointer(&store);
}

/*
 * Fetch the caIssuers of @cert (AIA) not fetched yet; TRUE if a new certificate
 * was added to @untrusted. Failures only mean the chain stays incomplete.
 */
static gboolean
ct_verify_fetch_aia(X509 *cert,
                    CtX509Stack *untrusted,
                    GHashTable *fetched,
                    const CtVerifyParams *params,
                    GCancellable *cancellable)
{
	g_autoptr(AUTHORITY_INFO_ACCESS) aia = X509_get_ext_d2i(cert, NID_info_access, NULL, NULL);
	gboolean added = FALSE;

	for (int i = 0; aia != NULL && i < sk_ACCESS_DESCRIPTION_num(aia); i++) {
		ACCESS_DESCRIPTION *ad = sk_ACCESS_DESCRIPTION_value(aia, i);
		g_autofree gchar *url = NULL;
		g_autoptr(CtHttpResponse) response = NULL;
		g_autoptr(CtX509Stack) certs = NULL;
		g_autoptr(GError) error = NULL;
		const ASN1_STRING *loc;
		CtHttpRequest req = {0};
		gsize len = 0;
		const guint8 *body;

		if (OBJ_obj2nid(ad->method) != NID_ad_ca_issuers || ad->location->type != GEN_URI)
			continue;
		loc = ad->location->d.uniformResourceIdentifier;
		if (ASN1_STRING_length(loc) <= 0 || ASN1_STRING_length(loc) > 2048 ||
		    memchr(ASN1_STRING_get0_data(loc), '\0', (size_t)ASN1_STRING_length(loc)) !=
		        NULL)
			continue;
		url = g_strndup((const gchar *)ASN1_STRING_get0_data(loc),
		                (gsize)ASN1_STRING_length(loc));
		if ((!g_str_has_prefix(url, "http://") && !g_str_has_prefix(url, "https://")) ||
		    g_hash_table_contains(fetched, url) ||
		    g_hash_table_size(fetched) >= CT_VERIFY_MAX_AIA_FETCHES)
			continue;
		g_hash_table_add(fetched, g_strdup(url));

		req.url = url;
		req.ca_file = params->ca_file;
		req.timeout_s = params->timeout_s;
		req.max_body = CT_VERIFY_MAX_AIA_BODY;
		response = ct_http_perform(&req, cancellable, &error);
		if (response == NULL || response->status != 200) {
			g_debug("AIA %s: %s", url,
			        error != NULL ? error->message : "HTTP status is not 200");
			continue;
		}
		body = g_bytes_get_data(response->body, &len);
		/* DER certificate (RFC 5280 says so), PKCS#7 "certs-only", or PEM in practice */
		certs = ct_x509_certs_from_der_any(body, len, &error);
		if (certs == NULL && len > 10 && memcmp(body, "-----BEGIN", 10) == 0) {
			g_clear_error(&error);
			certs = ct_x509_from_pem((const gchar *)body, len, &error);
		}
		if (certs == NULL) {
			g_debug("AIA %s: %s", url, error->message);
			continue;
		}
		for (int j = 0; j < sk_X509_num(certs); j++) {
			if (!ct_x509_stack_contains(untrusted, sk_X509_value(certs, j)))
				added = TRUE;
		}
		ct_x509_stack_merge(untrusted, certs);
	}
	return added;
}

/* the refusal for a chain that does not verify, naming the certificate at fault */
static void
ct_verify_set_chain_error(GError **error, int err, X509 *cur)
{
	g_autofree gchar *subject = cur != NULL ? ct_x509_subject_string(cur) : g_strdup("?");
	g_autofree gchar *issuer = cur != NULL ? ct_x509_issuer_string(cur) : g_strdup("?");
	switch (err) {
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
	case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
		g_set_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		            "the issuer '%s' is not trusted and no chain leads to a trust anchor: "
		            "add its CA certificate to ca-file if you trust it",
		            issuer);
		return;
	case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
	case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
		g_set_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		            "the issuer '%s' is not trusted and no chain leads to a trust anchor: "
		            "add it to ca-file if you trust it",
		            subject);
		return;
	case X509_V_ERR_CERT_HAS_EXPIRED:
		g_set_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		            "the CA certificate '%s' in the issued chain has expired", subject);
		return;
	case X509_V_ERR_CERT_SIGNATURE_FAILURE:
		g_set_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		            "the signature on '%s' does not verify with its issuer's key", subject);
		return;
	default:
		g_set_error(error, CT_ERROR, CT_ERROR_CHAIN_UNTRUSTED,
		            "the issued certificate's chain does not verify at '%s': %s", subject,
		            X509_verify_cert_error_string(err));
		return;
	}
}

/* checks on the certificate itself, before any chain building */
static gboolean
ct_verify_leaf(const CtVerifyParams *params, gint64 now, GError **error)
{
	X509 *leaf = params->certificate;
	EVP_PKEY *leaf_key = X509_get0_pubkey(leaf);
	gint64 not_before = 0, not_after = 0;
	uint32_t flags;

	if (leaf_key == NULL || EVP_PKEY_eq(leaf_key, params->csr_key) != 1) {
		ERR_clear_error();
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_CERT_INVALID,
		    "the issued certificate is for a different key than the phone's "
		    "request");
		return FALSE;
	}
	if (!ct_identity_cert_names_user(leaf, params->sip_uri)) {
		g_autofree gchar *subject = ct_x509_subject_string(leaf);
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		            "the issued certificate is for '%s', not for the desktop user %s",
		            subject, params->sip_uri);
		return FALSE;
	}
	flags = X509_get_extension_flags(leaf);
	if ((flags & EXFLAG_INVALID) != 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the issued certificate has malformed extensions");
		return FALSE;
	}
	if ((flags & EXFLAG_XKUSAGE) == 0 ||
	    (X509_get_extended_key_usage(leaf) & XKU_SSL_CLIENT) == 0) {
		g_set_error_literal(
		    error, CT_ERROR, CT_ERROR_CERT_INVALID,
		    "the issued certificate lacks the clientAuth extended key usage "
		    "(a phone cannot log on with it)");
		return FALSE;
	}
	if (X509_check_ca(leaf) != 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the issued certificate is a CA certificate");
		return FALSE;
	}
	if (!ct_x509_get_validity(leaf, &not_before, &not_after)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		                    "the issued certificate's validity cannot be read");
		return FALSE;
	}
	if (not_before > now + CT_VERIFY_MAX_CLOCK_SKEW_S) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(not_before);
		g_autofree gchar *when = dt != NULL ? g_date_time_format_iso8601(dt) : NULL;
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		            "the issued certificate is not valid before %s, more than 5 minutes "
		            "from now: check this computer's clock",
		            when != NULL ? when : "?");
		return FALSE;
	}
	if (not_after <= now) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(not_after);
		g_autofree gchar *when = dt != NULL ? g_date_time_format_iso8601(dt) : NULL;
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		            "the issued certificate expired at %s", when != NULL ? when : "?");
		return FALSE;
	}
	if (not_after - not_before > CT_VERIFY_MAX_LIFETIME_S + CT_VERIFY_LIFETIME_SLACK_S) {
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		            "the issued certificate is valid for %" G_GINT64_FORMAT
		            " days, more than the 365 a user certificate may have",
		            (not_after - not_before) / 86400);
		return FALSE;
	}
	return TRUE;
}

CtX509Stack *
ct_verify_chain_build(const CtX509Stack *presented,
                      const gchar *ca_file,
                      gboolean no_system_store,
                      GError **error)
{
	g_autoptr(X509_STORE) store = NULL;
	g_autoptr(X509_STORE_CTX) ctx = NULL;

	if (presented == NULL || sk_X509_num(presented) == 0) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "no chain to check");
		return NULL;
	}
	store = ct_verify_build_store(ca_file, no_system_store, error);
	if (store == NULL)
		return NULL;
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || !X509_STORE_CTX_init(ctx, store, sk_X509_value(presented, 0),
	                                        (STACK_OF(X509) *)presented)) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
		return NULL;
	}
	if (X509_verify_cert(ctx) != 1) {
		ct_verify_set_chain_error(error, X509_STORE_CTX_get_error(ctx),
		                          X509_STORE_CTX_get_current_cert(ctx));
		ERR_clear_error();
		return NULL;
	}
	return X509_STORE_CTX_get1_chain(ctx);
}

X509 *
ct_verify_chain_anchor(const CtX509Stack *presented,
                       const gchar *ca_file,
                       gboolean no_system_store,
                       GError **error)
{
	g_autoptr(CtX509Stack) chain =
	    ct_verify_chain_build(presented, ca_file, no_system_store, error);
	X509 *anchor;
	if (chain == NULL)
		return NULL;
	anchor = sk_X509_value(chain, sk_X509_num(chain) - 1);
	X509_up_ref(anchor);
	return anchor;
}

CtEnrollResult *
ct_verify_issued(const CtVerifyParams *params, GCancellable *cancellable, GError **error)
{
	g_autoptr(X509_STORE) store = NULL;
	g_autoptr(CtX509Stack) untrusted = sk_X509_new_null();
	g_autoptr(CtX509Stack) verified = NULL;
	g_autoptr(GHashTable) fetched =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(CtEnrollResult) result = NULL;
	gint64 now;
	gint64 not_before = 0;
	gint n;

	g_return_val_if_fail(params != NULL, NULL);
	if (params->certificate == NULL || params->csr_key == NULL || params->sip_uri == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "nothing to verify (certificate, CSR key and user are needed)");
		return NULL;
	}
	now = params->now != 0 ? params->now : g_get_real_time() / G_USEC_PER_SEC;
	if (!ct_verify_leaf(params, now, error))
		return NULL;

	store = ct_verify_build_store(params->ca_file, params->no_system_store, error);
	if (store == NULL)
		return NULL;
	ct_x509_stack_merge(untrusted, params->extra);
	ct_x509_stack_merge(untrusted, params->ca_certs);
	ct_x509_get_validity(params->certificate, &not_before, NULL);

	for (;;) {
		g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();
		int err;
		X509 *cur;
		if (ctx == NULL ||
		    !X509_STORE_CTX_init(ctx, store, params->certificate, untrusted)) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_INTERNAL, "out of memory");
			return NULL;
		}
		/* a leaf up to 5 minutes ahead of our clock was accepted above */
		X509_VERIFY_PARAM_set_time(X509_STORE_CTX_get0_param(ctx),
		                           (time_t)MAX(now, not_before));
		if (X509_verify_cert(ctx) == 1) {
			verified = X509_STORE_CTX_get1_chain(ctx);
			break;
		}
		err = X509_STORE_CTX_get_error(ctx);
		cur = X509_STORE_CTX_get_current_cert(ctx);
		ERR_clear_error();
		if (params->fetch_aia &&
		    (err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
		     err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT) &&
		    cur != NULL &&
		    ct_verify_fetch_aia(cur, untrusted, fetched, params, cancellable))
			continue;
		ct_verify_set_chain_error(error, err, cur);
		return NULL;
	}

	result = g_new0(CtEnrollResult, 1);
	X509_up_ref(params->certificate);
	result->leaf = params->certificate;
	result->chain = sk_X509_new_null();
	result->anchors = sk_X509_new_null();
	result->service_tls_chain = ct_x509_stack_copy(params->service_tls_chain);
	result->sip_uri = g_strdup(params->sip_uri);
	n = sk_X509_num(verified);
	/* verified: leaf, intermediates..., anchor */
	for (gint i = 1; i < n - 1; i++) {
		X509 *c = sk_X509_value(verified, i);
		if (X509_up_ref(c) && !sk_X509_push(result->chain, c))
			X509_free(c);
	}
	if (n >= 2) {
		X509 *anchor = sk_X509_value(verified, n - 1);
		if (X509_up_ref(anchor) && !sk_X509_push(result->anchors, anchor))
			X509_free(anchor);
	}
	/* the phone must verify the web service too: push the anchor of its TLS chain */
	if (params->service_tls_chain != NULL && sk_X509_num(params->service_tls_chain) > 0) {
		g_autoptr(GError) error_tls = NULL;
		g_autoptr(X509) tls_anchor =
		    ct_verify_chain_anchor(params->service_tls_chain, params->ca_file,
		                           params->no_system_store, &error_tls);
		if (tls_anchor == NULL)
			g_debug("no anchor for the web service's TLS chain: %s",
			        error_tls->message);
		else if (!ct_x509_stack_contains(result->anchors, tls_anchor) &&
		         sk_X509_push(result->anchors, tls_anchor))
			tls_anchor = NULL; /* owned by the stack */
	}
	return g_steal_pointer(&result);
}
