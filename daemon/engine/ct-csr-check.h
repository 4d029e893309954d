/*
 * Checks of what an untrusted phone proves to the host:
 *  - its HELLO identity signature (who it is: the key behind the pairing fingerprint);
 *  - its CSR from CREATE_CSR_RSP (strict DER, self-signature, exactly the key the host
 *    asked for, exactly the subject and subjectAltName the host demanded, no other
 *    extension or attribute, and a proof of possession bound to this request's nonce).
 * Nothing the phone sends reaches the certificate service before these checks pass.
 * Failures name precisely what the phone did wrong.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/evp.h>

#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

typedef struct {
	gchar *csr_sha256;      /* lower-case hex SHA-256 of the CSR DER */
	EVP_PKEY *public_key;   /* the CSR's public key (owned) */
	GBytes *public_key_der; /* its DER SubjectPublicKeyInfo */
} CtCsrCheckResult;

void ct_csr_check_result_free(CtCsrCheckResult *result);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtCsrCheckResult, ct_csr_check_result_free)

/* "rsa2048", "rsa3072", "ec-p256", "ec-p384" for CTP_KEY_*; NULL for anything else */
const gchar *ct_csr_key_alg_to_string(guint key_alg);
/* the CTP_KEY_* value of such a name, 0 if unknown */
guint ct_csr_key_alg_from_string(const gchar *name);

/*
 * Check the CSR a phone returned for CREATE_CSR(key_alg, subject, san, nonce).
 *   csr_der:              the CSR bytes from CREATE_CSR_RSP (untrusted)
 *   expected_subject_der: the DER X.509 Name the host demanded
 *   expected_san_der:     the DER GeneralNames the host demanded, or NULL for none
 *   key_alg:              CTP_KEY_* the host asked for
 *   nonce:                the nonce sent in CREATE_CSR
 *   pop_sig:              the proof of possession from CREATE_CSR_RSP (untrusted): the
 *                         CSR's key signs CTP_CSR_POP_CONTEXT || nonce || SHA-256(csr_der)
 *                         (RSA PKCS#1 v1.5 with SHA-256, or DER ECDSA with SHA-256)
 * CT_ERROR_CSR_INVALID when the phone's answer breaks any rule; CT_ERROR_INVALID_ARGS when
 * the caller's own expectations are malformed.
 */
CtCsrCheckResult *ct_csr_check(GBytes *csr_der,
                               GBytes *expected_subject_der,
                               GBytes *expected_san_der,
                               guint key_alg,
                               GBytes *nonce,
                               GBytes *pop_sig,
                               GError **error);

/*
 * Check the HELLO_RSP identity: identity_key_der (DER SubjectPublicKeyInfo, EC P-256 only)
 * signed, with ECDSA SHA-256 (DER), CTP_HELLO_SIG_CONTEXT || challenge || u8 len(serial) ||
 * serial. challenge is the host's CTP_CHALLENGE_SIZE bytes from HELLO; serial the phone's
 * (validated UTF-8 text, 1..CTP_MAX_TEXT bytes). Returns the identity fingerprint (lower-case
 * hex SHA-256 of identity_key_der); CT_ERROR_DEVICE when the phone's proof is wrong.
 */
gchar *ct_csr_check_identity_signature(GBytes *identity_key_der,
                                       GBytes *identity_sig,
                                       GBytes *challenge,
                                       const gchar *serial,
                                       GError **error);

G_END_DECLS
