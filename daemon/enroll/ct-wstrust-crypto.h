/*
 * The little cryptography WS-Trust needs for a CertProv request, as pure functions
 * over OpenSSL: the proof key P_SHA1 (WS-Trust CK/PSHA1, the TLS 1.0 PRF's P_hash
 * with SHA-1, RFC 2246 section 5), the XML-DSig digest (SHA-1) and signature
 * (HMAC-SHA1), and random entropy.
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

#define CT_WSTRUST_SHA1_LEN 20
/* client entropy size the web ticket request uses (256 bits, as the Lync client) */
#define CT_WSTRUST_ENTROPY_LEN 32
/* entropy and proof keys longer than this are refused (a server bounds nothing for us) */
#define CT_WSTRUST_MAX_KEY_LEN 1024

/*
 * P_SHA1(secret, seed) truncated to @out_len bytes:
 *   A(0) = seed, A(i) = HMAC_SHA1(secret, A(i-1)),
 *   P_SHA1 = HMAC_SHA1(secret, A(1) + seed) + HMAC_SHA1(secret, A(2) + seed) + ...
 * WS-Trust's proof key is P_SHA1(client entropy, server entropy) with the length
 * of the client entropy.
 */
gboolean ct_wstrust_p_sha1(const guint8 *secret,
                           gsize secret_len,
                           const guint8 *seed,
                           gsize seed_len,
                           guint8 *out,
                           gsize out_len,
                           GError **error);

/* the proof key for a client and a server entropy (length of the client entropy);
 * wiped from memory when the last reference is dropped */
GBytes *ct_wstrust_proof_key(GBytes *client_entropy, GBytes *server_entropy, GError **error);

/* HMAC-SHA1(key, data) */
gboolean ct_wstrust_hmac_sha1(const guint8 *key,
                              gsize key_len,
                              const guint8 *data,
                              gsize data_len,
                              guint8 out[CT_WSTRUST_SHA1_LEN],
                              GError **error);

/* SHA-1(data) */
gboolean ct_wstrust_sha1(const guint8 *data,
                         gsize data_len,
                         guint8 out[CT_WSTRUST_SHA1_LEN],
                         GError **error);

/* @len bytes from OpenSSL's CSPRNG (RAND_bytes), wiped when the last reference is dropped */
GBytes *ct_wstrust_random(gsize len, GError **error);

G_END_DECLS
