#include "daemon/enroll/ct-wstrust-crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MAC, EVP_MAC_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MAC_CTX, EVP_MAC_CTX_free)

static gboolean
ct_wstrust_openssl_error(GError **error, const gchar *what)
{
	unsigned long e = ERR_get_error();
	g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "%s failed: %s", what,
	            e != 0 ? ERR_reason_error_string(e) : "unknown OpenSSL error");
	ERR_clear_error();
	return FALSE;
}

static EVP_MAC_CTX *
ct_wstrust_hmac_sha1_ctx_new(GError **error)
{
	g_autoptr(EVP_MAC) mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, NULL);
	EVP_MAC_CTX *ctx;

	if (mac == NULL) {
		ct_wstrust_openssl_error(error, "HMAC");
		return NULL;
	}
	ctx = EVP_MAC_CTX_new(mac);
	if (ctx == NULL)
		ct_wstrust_openssl_error(error, "HMAC");
	return ctx;
}

/* one HMAC-SHA1 over the concatenation of two buffers (the second may be empty) */
static gboolean
ct_wstrust_hmac2(EVP_MAC_CTX *ctx,
                 const guint8 *key,
                 gsize key_len,
                 const guint8 *a,
                 gsize a_len,
                 const guint8 *b,
                 gsize b_len,
                 guint8 out[CT_WSTRUST_SHA1_LEN],
                 GError **error)
{
	gchar digest[] = "SHA1";
	OSSL_PARAM params[] = {
	    OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
	    OSSL_PARAM_construct_end(),
	};
	gsize out_len = 0;

	if (!EVP_MAC_init(ctx, key, key_len, params))
		return ct_wstrust_openssl_error(error, "HMAC-SHA1 init");
	if (a_len > 0 && !EVP_MAC_update(ctx, a, a_len))
		return ct_wstrust_openssl_error(error, "HMAC-SHA1");
	if (b_len > 0 && !EVP_MAC_update(ctx, b, b_len))
		return ct_wstrust_openssl_error(error, "HMAC-SHA1");
	if (!EVP_MAC_final(ctx, out, &out_len, CT_WSTRUST_SHA1_LEN))
		return ct_wstrust_openssl_error(error, "HMAC-SHA1 final");
	if (out_len != CT_WSTRUST_SHA1_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
		            "HMAC-SHA1 gave %" G_GSIZE_FORMAT " bytes", out_len);
		return FALSE;
	}
	return TRUE;
}

gboolean
ct_wstrust_hmac_sha1(const guint8 *key,
                     gsize key_len,
                     const guint8 *data,
                     gsize data_len,
                     guint8 out[CT_WSTRUST_SHA1_LEN],
                     GError **error)
{
	g_autoptr(EVP_MAC_CTX) ctx = NULL;

	if (key == NULL || key_len == 0 || key_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "HMAC key of %" G_GSIZE_FORMAT " bytes (1 to %d allowed)", key_len,
		            CT_WSTRUST_MAX_KEY_LEN);
		return FALSE;
	}
	ctx = ct_wstrust_hmac_sha1_ctx_new(error);
	if (ctx == NULL)
		return FALSE;
	return ct_wstrust_hmac2(ctx, key, key_len, data, data_len, NULL, 0, out, error);
}

gboolean
ct_wstrust_p_sha1(const guint8 *secret,
                  gsize secret_len,
                  const guint8 *seed,
                  gsize seed_len,
                  guint8 *out,
                  gsize out_len,
                  GError **error)
{
	g_autoptr(EVP_MAC_CTX) ctx = NULL;
	guint8 a[CT_WSTRUST_SHA1_LEN];
	guint8 block[CT_WSTRUST_SHA1_LEN];
	gsize done = 0;
	gboolean ok = TRUE;

	if (secret == NULL || secret_len == 0 || secret_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "P_SHA1 secret of %" G_GSIZE_FORMAT " bytes (1 to %d allowed)",
		            secret_len, CT_WSTRUST_MAX_KEY_LEN);
		return FALSE;
	}
	if (seed == NULL || seed_len == 0 || seed_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "P_SHA1 seed of %" G_GSIZE_FORMAT " bytes (1 to %d allowed)", seed_len,
		            CT_WSTRUST_MAX_KEY_LEN);
		return FALSE;
	}
	if (out == NULL || out_len == 0 || out_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "P_SHA1 output of %" G_GSIZE_FORMAT " bytes (1 to %d allowed)", out_len,
		            CT_WSTRUST_MAX_KEY_LEN);
		return FALSE;
	}
	ctx = ct_wstrust_hmac_sha1_ctx_new(error);
	if (ctx == NULL)
		return FALSE;

	/* A(1) = HMAC(secret, A(0) = seed) */
	ok = ct_wstrust_hmac2(ctx, secret, secret_len, seed, seed_len, NULL, 0, a, error);
	while (ok && done < out_len) {
		gsize n = MIN(out_len - done, (gsize)CT_WSTRUST_SHA1_LEN);
		/* block i = HMAC(secret, A(i) + seed) */
		ok = ct_wstrust_hmac2(ctx, secret, secret_len, a, sizeof(a), seed, seed_len, block,
		                      error);
		if (!ok)
			break;
		memcpy(out + done, block, n);
		done += n;
		/* A(i+1) = HMAC(secret, A(i)) */
		if (done < out_len)
			ok = ct_wstrust_hmac2(ctx, secret, secret_len, a, sizeof(a), NULL, 0, a,
			                      error);
	}
	/* A(i) and the blocks are key material */
	OPENSSL_cleanse(a, sizeof(a));
	OPENSSL_cleanse(block, sizeof(block));
	if (!ok)
		OPENSSL_cleanse(out, out_len);
	return ok;
}

/* key material is wiped when the last reference goes */
typedef struct {
	guint8 *data;
	gsize len;
} CtWstrustSecret;

static void
ct_wstrust_secret_free(gpointer user_data)
{
	CtWstrustSecret *secret = user_data;
	OPENSSL_cleanse(secret->data, secret->len);
	g_free(secret->data);
	g_free(secret);
}

static GBytes *
ct_wstrust_secret_new_take(guint8 *data, gsize len)
{
	CtWstrustSecret *secret = g_new0(CtWstrustSecret, 1);
	secret->data = data;
	secret->len = len;
	return g_bytes_new_with_free_func(data, len, ct_wstrust_secret_free, secret);
}

GBytes *
ct_wstrust_proof_key(GBytes *client_entropy, GBytes *server_entropy, GError **error)
{
	gsize client_len = 0;
	gsize server_len = 0;
	const guint8 *client = NULL;
	const guint8 *server = NULL;
	guint8 *key;

	if (client_entropy == NULL || server_entropy == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		                    "the proof key needs both the client and the server entropy");
		return NULL;
	}
	client = g_bytes_get_data(client_entropy, &client_len);
	server = g_bytes_get_data(server_entropy, &server_len);
	if (client_len == 0 || client_len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "client entropy of %" G_GSIZE_FORMAT " bytes", client_len);
		return NULL;
	}
	key = g_malloc(client_len);
	if (!ct_wstrust_p_sha1(client, client_len, server, server_len, key, client_len, error)) {
		g_free(key);
		return NULL;
	}
	return ct_wstrust_secret_new_take(key, client_len);
}

gboolean
ct_wstrust_sha1(const guint8 *data, gsize data_len, guint8 out[CT_WSTRUST_SHA1_LEN], GError **error)
{
	guint out_len = 0;

	if (!EVP_Digest(data, data_len, out, &out_len, EVP_sha1(), NULL))
		return ct_wstrust_openssl_error(error, "SHA-1");
	if (out_len != CT_WSTRUST_SHA1_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "SHA-1 gave %u bytes", out_len);
		return FALSE;
	}
	return TRUE;
}

GBytes *
ct_wstrust_random(gsize len, GError **error)
{
	guint8 *buf;

	if (len == 0 || len > CT_WSTRUST_MAX_KEY_LEN) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%" G_GSIZE_FORMAT " random bytes asked for", len);
		return NULL;
	}
	buf = g_malloc(len);
	if (RAND_bytes(buf, (int)len) != 1) {
		g_free(buf);
		ct_wstrust_openssl_error(error, "RAND_bytes");
		return NULL;
	}
	return ct_wstrust_secret_new_take(buf, len);
}
