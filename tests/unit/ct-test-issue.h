/*
 * Test helpers for the enrollment tests: keys, CSRs and certificates made with
 * OpenSSL directly (independently of the engine code under test), with the
 * knobs verification cares about (key, names, EKU, CA, validity, AIA).
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

typedef struct {
	const gchar *cn;      /* subject CN (O=certtether unit test is added) */
	const gchar *san_uri; /* subjectAltName URI, or NULL */
	gboolean client_auth; /* extendedKeyUsage clientAuth */
	gboolean ca;          /* basicConstraints CA:TRUE, keyUsage keyCertSign */
	gint64 not_before;    /* seconds from now */
	gint64 not_after;     /* seconds from now */
	const gchar *aia_url; /* authorityInfoAccess caIssuers URI, or NULL */
	const gchar *san;     /* a raw subjectAltName in OpenSSL syntax ("IP:127.0.0.1"), or NULL */
} CtTestCertSpec;

/* a fresh P-256 key (fast) */
EVP_PKEY *ct_test_key_new(void);

/* DER PKCS#10 for @key with subject CN=@cn, self-signed with SHA-256 */
GBytes *ct_test_csr_new(EVP_PKEY *key, const gchar *cn);

/* a certificate for @subject_key; self-signed when @issuer is NULL */
X509 *ct_test_cert_new(EVP_PKEY *subject_key,
                       const CtTestCertSpec *spec,
                       X509 *issuer,
                       EVP_PKEY *issuer_key);

/* a root CA and its key: "CN=<cn>", valid -1 h .. +10 years */
X509 *ct_test_ca_new(const gchar *cn, EVP_PKEY **key_out);

/* a user certificate for sip:alice@test.local with clientAuth, issued by @issuer */
X509 *ct_test_user_cert_new(EVP_PKEY *subject_key, X509 *issuer, EVP_PKEY *issuer_key);

/* write @key as an unencrypted PEM private key; returns the path */
gchar *ct_test_write_key(const gchar *dir, const gchar *name, EVP_PKEY *key);

/* write the certificates (NULL-terminated) as one PEM file; returns the path */
gchar *ct_test_write_pem(const gchar *dir, const gchar *name, ...) G_GNUC_NULL_TERMINATED;
