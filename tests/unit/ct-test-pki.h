/*
 * Test helpers: keys, CSRs, certificates and device signatures made with OpenSSL,
 * independently of the engine code under test.
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

/* a key of a kind: "rsa2048", "rsa3072", "rsa1024", "rsa2048-e3", "ec-p256", "ec-p384",
 * "ec-p256-explicit" (curve parameters spelled out), "ed25519"; generated once per process (RSA is
 * slow), a new reference each call */
EVP_PKEY *ct_test_pki_key(const gchar *kind);

/* DER X.509 Name "CN=<cn>" and DER GeneralNames "URI:<uri>" */
GBytes *ct_test_pki_name_der(const gchar *cn);
GBytes *ct_test_pki_san_der(const gchar *uri);

/* a CSR under construction */
typedef struct {
	X509_REQ *req;
	STACK_OF(X509_EXTENSION) * exts;
} CtTestCsr;

/* subject CN=<cn>, the key's public half */
CtTestCsr *ct_test_csr_new(EVP_PKEY *key, const gchar *cn);
/* an extension in OpenSSL config syntax, e.g. (NID_basic_constraints, "critical,CA:TRUE") */
void ct_test_csr_add_ext(CtTestCsr *csr, int nid, const gchar *value);
void ct_test_csr_add_challenge_password(CtTestCsr *csr, const gchar *password);
/* sign with SHA-256 and return the DER */
GBytes *ct_test_csr_sign(CtTestCsr *csr, EVP_PKEY *key);
void ct_test_csr_free(CtTestCsr *csr);

/* the simple case: CN=<cn>, a SAN URI if san_uri != NULL, signed by key */
GBytes *ct_test_pki_csr(EVP_PKEY *key, const gchar *cn, const gchar *san_uri);

/* a certificate for subject_key, CN=<cn>, SAN URI san_uri (may be NULL), valid from
 * now + not_before_s to now + not_after_s (seconds), issued by "CN=certtether test CA"
 * with issuer_key; DER */
GBytes *ct_test_pki_cert(EVP_PKEY *subject_key,
                         const gchar *cn,
                         const gchar *san_uri,
                         gint64 not_before_s,
                         gint64 not_after_s,
                         EVP_PKEY *issuer_key);

/* SHA-256 signature by key over the concatenation of the parts (NULL-terminated);
 * RSA PKCS#1 v1.5 or DER ECDSA */
GBytes *ct_test_pki_sign(EVP_PKEY *key, ...) G_GNUC_NULL_TERMINATED;

/* the proof of possession a phone sends: CTP_CSR_POP_CONTEXT || nonce || SHA-256(csr) */
GBytes *ct_test_pki_pop(EVP_PKEY *key, GBytes *nonce, GBytes *csr_der);
/* the HELLO identity signature: CTP_HELLO_SIG_CONTEXT || challenge || u8 len || serial */
GBytes *ct_test_pki_identity_sig(EVP_PKEY *key, GBytes *challenge, const gchar *serial);
/* DER SubjectPublicKeyInfo */
GBytes *ct_test_pki_pubkey_der(EVP_PKEY *key);

/* a copy of bytes with one byte XOR-ed, or with extra bytes appended */
GBytes *ct_test_pki_flip_byte(GBytes *bytes, gsize offset);
GBytes *ct_test_pki_append(GBytes *bytes, const void *extra, gsize extra_len);
