/*
 * CTP device-side session: the protocol state machine that phone firmware embeds.
 *
 * libc only, no allocation, no I/O of its own. The library owns framing, decoding
 * and encoding (through usbproto/codec), the protocol states, the bounds announced
 * in HELLO and every ERROR answer the protocol defines; the firmware supplies the
 * device-specific work (identity signature, key generation, certificate checks,
 * storage) through a table of callbacks, and moves bytes over USB.
 *
 * Embedding, step by step:
 *
 *   static uint8_t tx[CTP_MAX_FRAME];             // one outgoing frame at a time
 *   static ctp_device_session session;
 *   ctp_device_session_init(&session, &my_ops, my_ctx, tx, sizeof tx);
 *
 *   // for every bulk OUT transfer on the CTP interface (exactly one transfer,
 *   // never a concatenation or a fragment):
 *   ctp_device_session_receive(&session, transfer_buf, transfer_len);
 *
 *   // answers arrive through my_ops.send(), one frame per call: queue each as
 *   // one bulk IN transfer (terminated by a short packet or a zero-length packet)
 *
 *   // when the host goes away (USB reset, unplug, configuration change):
 *   ctp_device_session_reset(&session);
 *
 * Concurrency: the library is not thread-safe. Every call into it for one session
 * (receive, reset, the completion functions below) must be serialised by the
 * firmware, e.g. under one mutex or from one task. Callbacks run inside those calls,
 * so a callback must not take a lock the caller already holds.
 *
 * Long operations: CREATE_CSR may take seconds (RSA key generation). The create_csr
 * callback may finish at once or start the work elsewhere and return
 * CTP_DEVICE_PENDING; while it runs the firmware calls ctp_device_session_progress()
 * at least every CTP_PROGRESS_INTERVAL_MS and finally ctp_device_session_csr_done()
 * or ctp_device_session_fail() with the token it was given. Completions for a
 * session that has since been reset carry a stale token and are ignored (the
 * functions return false: the firmware should then discard the generated key).
 * While a request is pending, PING is still answered; every other request gets
 * ERROR BAD_STATE.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usbproto/codec/ctp-message.h"

/* callback results: 0 = success, a CTP_ERR_* code = answer ERROR with that code */
#define CTP_DEVICE_OK 0u
/* create_csr only: the answer follows later through csr_done() / fail() */
#define CTP_DEVICE_PENDING 0xFFFFu

/* the smallest transmit buffer the library accepts (ERROR frames, HELLO_RSP) */
#define CTP_DEVICE_MIN_TX 2048u

/* bytes of the identity signature input: context || challenge || u8 len || serial */
#define CTP_DEVICE_HELLO_SIG_INPUT_MAX                                                             \
	(sizeof(CTP_HELLO_SIG_CONTEXT) - 1 + CTP_CHALLENGE_SIZE + 1 + CTP_MAX_TEXT)
/* bytes of the proof-of-possession input: context || nonce || SHA-256(CSR DER) */
#define CTP_DEVICE_POP_SIG_INPUT_MAX                                                               \
	(sizeof(CTP_CSR_POP_CONTEXT) - 1 + CTP_MAX_NONCE + CTP_SHA256_SIZE)

typedef struct {
	/*
	 * HELLO: describe the device. Fill vendor, model, serial, firmware, key_algs,
	 * max_frame, max_chain, max_anchors, capabilities and identity_key; the library
	 * sets version and identity_sig. Views must stay valid until the callback
	 * returns to the library's caller (they are encoded before that).
	 */
	uint16_t (*get_info)(void *user, ctp_hello_rsp *info);

	/*
	 * HELLO: sign data[0..len) with the persistent EC P-256 identity key,
	 * ECDSA with SHA-256, DER-encoded signature into sig (at most cap bytes).
	 */
	uint16_t (*sign_identity)(
	    void *user, const uint8_t *data, size_t len, uint8_t *sig, size_t cap, size_t *sig_len);

	/* STATUS: fill the device's current state (views valid as for get_info) */
	uint16_t (*get_status)(void *user, ctp_status_rsp *status);

	/*
	 * CREATE_CSR: key_alg has been checked against the advertised key_algs and the
	 * fields against their bounds; the subject and san views are valid only during
	 * this call (copy them). Generate a NEW key, build the PKCS#10 request, sign the
	 * proof of possession (see ctp_device_pop_sig_input()), make the key the pending
	 * one, then call ctp_device_session_csr_done(token, ...). That call may happen
	 * before this callback returns (synchronous firmware) or later from the firmware's
	 * own task; in both cases return CTP_DEVICE_PENDING. Return a CTP_ERR_* code to
	 * fail at once.
	 */
	uint16_t (*create_csr)(void *user, const ctp_create_csr_req *req, uint32_t token);

	/*
	 * STAGE_BEGIN: open a fresh staging area (discard any earlier one). The counts
	 * have been checked against max_chain, max_anchors and CTP_MAX_SETTINGS.
	 */
	uint16_t (*stage_begin)(void *user, const ctp_stage_begin_req *req);

	/*
	 * STAGE_ITEM: store one item (copy item->data, it is a view into the receive
	 * buffer). Kind, index, order and size have been checked.
	 */
	uint16_t (*stage_item)(void *user, const ctp_stage_item_req *item);

	/*
	 * COMMIT: every announced item has arrived and the transaction id matches.
	 * Check the leaf's public key against the pending key (CTP_ERR_KEY_MISMATCH,
	 * also when no key is pending), verify the chain to a staged or installed anchor
	 * (CTP_ERR_CHAIN_INVALID), then replace the installed set atomically, clear the
	 * pending key and put the SHA-256 of the installed certificate into cert_sha256.
	 * Whatever the result, the library then calls abort() and forgets the staging
	 * area: a failed COMMIT needs a new STAGE_BEGIN.
	 */
	uint16_t (*commit)(void *user, uint32_t txn_id, uint8_t cert_sha256[CTP_SHA256_SIZE]);

	/* discard the staging area (ABORT, after COMMIT, reset); must be idempotent */
	void (*abort)(void *user);

	/*
	 * optional (may be NULL): the pending CREATE_CSR with this token will not be
	 * answered any more (reset); stop the work if that is cheap
	 */
	void (*cancel_csr)(void *user, uint32_t token);

	/*
	 * Queue one frame as one bulk IN transfer. The bytes are only valid during the
	 * call. Return 0 on success; a failure is not retried (the host times out).
	 */
	int (*send)(void *user, const uint8_t *frame, size_t len);
} ctp_device_ops;

/* where the session stands (for the firmware's own display and for tests) */
typedef enum {
	CTP_DEVICE_SESSION_IDLE = 0, /* no HELLO yet: only HELLO and PING are accepted */
	CTP_DEVICE_SESSION_READY,    /* HELLO done, no staging area open */
	CTP_DEVICE_SESSION_STAGING,  /* STAGE_BEGIN accepted, COMMIT or ABORT pending */
} ctp_device_session_state;

/*
 * The session object. The firmware provides its storage (static or on its own
 * heap); treat the fields as private: they are in the header only so that no
 * allocation is needed.
 */
typedef struct {
	const ctp_device_ops *ops;
	void *user;
	uint8_t *tx;
	size_t tx_cap;

	ctp_device_session_state state;
	uint8_t version;
	/* limits announced in HELLO */
	uint16_t key_algs;
	uint32_t max_frame;
	uint8_t max_chain;
	uint8_t max_anchors;
	uint32_t capabilities;

	/* staging area bookkeeping */
	uint32_t txn_id;
	uint8_t want_chain, want_anchors, want_settings;
	uint8_t have_certificate, have_chain, have_anchors, have_settings;
	uint8_t settings_seen; /* bit (1 << setting id) of the settings staged so far */

	/* a request whose answer is still outstanding (CREATE_CSR) */
	bool busy;
	uint8_t busy_type;
	uint16_t busy_request_id;
	uint32_t busy_token;
	uint32_t next_token;

	/* counters for diagnostics */
	uint32_t frames_received;
	uint32_t frames_sent;
	uint32_t frames_rejected;

	char error_text[CTP_MAX_ERROR_TEXT + 1];
	uint8_t scratch[CTP_DEVICE_HELLO_SIG_INPUT_MAX];
	uint8_t signature[CTP_MAX_SIGNATURE];
} ctp_device_session;

/*
 * Prepare a session. tx is the transmit buffer (at least CTP_DEVICE_MIN_TX bytes;
 * CTP_MAX_FRAME to be able to send any STATUS). Returns false on bad arguments.
 */
bool ctp_device_session_init(
    ctp_device_session *s, const ctp_device_ops *ops, void *user, uint8_t *tx, size_t tx_cap);

/*
 * Handle one bulk OUT transfer. Every transfer is answered with exactly one final
 * frame (a response or ERROR), now or, for CREATE_CSR, later. A transfer that is not
 * exactly one valid frame is answered with ERROR BAD_FRAME, request id 0.
 */
void ctp_device_session_receive(ctp_device_session *s, const uint8_t *buf, size_t len);

/*
 * The host went away: discard the staging area (ops->abort), forget the pending
 * request (ops->cancel_csr) and expect a new HELLO. Installed credentials and the
 * pending key are the firmware's and survive.
 */
void ctp_device_session_reset(ctp_device_session *s);

/* true while the request with this token still waits for its answer */
bool ctp_device_session_token_is_current(const ctp_device_session *s, uint32_t token);

/* send PROGRESS for the pending request; false if token is stale (nothing sent) */
bool ctp_device_session_progress(ctp_device_session *s,
                                 uint32_t token,
                                 uint8_t percent,
                                 const char *text);

/* answer the pending CREATE_CSR; false if token is stale (nothing sent) */
bool ctp_device_session_csr_done(ctp_device_session *s,
                                 uint32_t token,
                                 const uint8_t *csr,
                                 size_t csr_len,
                                 const uint8_t *pop_sig,
                                 size_t pop_sig_len);

/* answer the pending request with ERROR code (text may be NULL); false if stale */
bool
ctp_device_session_fail(ctp_device_session *s, uint32_t token, uint16_t code, const char *text);

/*
 * A callback that returns an error code may first give the host a reason (UTF-8,
 * truncated to CTP_MAX_ERROR_TEXT bytes); it goes into that ERROR frame only.
 */
void ctp_device_session_set_error_text(ctp_device_session *s, const char *text);

ctp_device_session_state ctp_device_session_get_state(const ctp_device_session *s);

/* the negotiated protocol version, 0 before HELLO */
uint8_t ctp_device_session_get_version(const ctp_device_session *s);

/*
 * The bytes the identity key signs in HELLO:
 *   CTP_HELLO_SIG_CONTEXT || challenge (CTP_CHALLENGE_SIZE) || u8 serial_len || serial
 * Returns false if a length is out of bounds or out is too small. Hosts use the same
 * function to verify.
 */
bool ctp_device_hello_sig_input(const uint8_t *challenge,
                                size_t challenge_len,
                                const uint8_t *serial,
                                size_t serial_len,
                                uint8_t *out,
                                size_t cap,
                                size_t *out_len);

/*
 * The bytes the new key signs in CREATE_CSR_RSP.pop_sig:
 *   CTP_CSR_POP_CONTEXT || nonce || SHA-256(CSR DER)
 * The caller hashes the CSR (this library has no cryptography).
 */
bool ctp_device_pop_sig_input(const uint8_t *nonce,
                              size_t nonce_len,
                              const uint8_t csr_sha256[CTP_SHA256_SIZE],
                              uint8_t *out,
                              size_t cap,
                              size_t *out_len);
