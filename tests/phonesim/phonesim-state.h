/*
 * phonesim on-disk state of one phone, in STATE_DIR/ID/:
 *
 *   phone.conf         the phone's definition (serial, vendor, key algorithms, ...)
 *   identity.pem       EC P-256 identity key, generated once
 *   pending.pem        the pending key and its CSR (one file: replaced in one rename)
 *   installed -> set-N the installed set; set-N/ holds cert.der, key.pem,
 *                      chain-K.der, anchor-K.der, settings.conf, consumed-csr.sha256
 *
 * An install writes set-(N+1)/, fsyncs it, points a new symlink at it and renames
 * that over "installed": a crash leaves either the old or the new set, never a mix.
 * consumed-csr.sha256 lets the next start drop a pending key the crash left behind
 * although its certificate was installed.
 *
 * Not thread-safe: the owner serialises access (phonesim holds the port lock).
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "usbproto/codec/ctp-protocol.h"

/* the definition of a phone (what `phonesim-ctl add` sets) */
typedef struct {
	gchar *serial;
	gchar *vendor;
	gchar *model;
	gchar *firmware;
	guint16 key_algs; /* CTP_KEY_ALG_BIT() mask */
	guint max_chain;
	guint max_anchors;
	guint max_frame;
} PhonesimConfig;

void phonesim_config_clear(PhonesimConfig *config);
void phonesim_config_copy(PhonesimConfig *dst, const PhonesimConfig *src);

/* "rsa2048,ec-p256" <-> mask; FALSE with error for an unknown name */
gboolean phonesim_key_algs_parse(const gchar *text, guint16 *mask, GError **error);
gchar *phonesim_key_algs_to_string(guint16 mask);
const gchar *phonesim_key_alg_name(guint alg);

/* a setting value by CTP_SETTING_* id (1..3) */
#define PHONESIM_N_SETTINGS (CTP_SETTING_SIP_URI + 1)

typedef struct {
	gchar *dir;
	EVP_PKEY *identity_key;
	GBytes *identity_spki; /* DER SubjectPublicKeyInfo */

	EVP_PKEY *pending_key; /* NULL when no key awaits its certificate */
	GBytes *pending_csr;   /* DER */

	guint generation; /* N of set-N, 0 = nothing installed */
	X509 *cert;
	EVP_PKEY *key;
	STACK_OF(X509) * chain;
	STACK_OF(X509) * anchors;
	gchar *settings[PHONESIM_N_SETTINGS];
} PhonesimState;

/* open (create) DIR, load or generate the identity key, load and recover the rest */
PhonesimState *phonesim_state_open(const gchar *dir, GError **error);
void phonesim_state_free(PhonesimState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhonesimState, phonesim_state_free)

/* phone.conf: FALSE without error when absent */
gboolean phonesim_state_load_config(PhonesimState *state, PhonesimConfig *config, GError **error);
gboolean
phonesim_state_save_config(PhonesimState *state, const PhonesimConfig *config, GError **error);

/* make key + csr the pending pair (replacing an earlier one), durably */
gboolean
phonesim_state_set_pending(PhonesimState *state, EVP_PKEY *key, GBytes *csr, GError **error);

/*
 * Install cert with the pending key, the chain, the anchors and settings as the new
 * set, atomically, and clear the pending key. NULL settings entries mean "none".
 */
gboolean phonesim_state_install(PhonesimState *state,
                                X509 *cert,
                                STACK_OF(X509) * chain,
                                STACK_OF(X509) * anchors,
                                gchar *const *settings,
                                GError **error);

/* SHA-256 helpers used by status and the firmware */
void phonesim_sha256(const guint8 *data, gsize len, guint8 out[CTP_SHA256_SIZE]);
GBytes *phonesim_x509_der(X509 *cert);
gchar *phonesim_hex(const guint8 *data, gsize len);
