/*
 * CTP messages: typed views of frame payloads, and their strict TLV codec.
 *
 * Decoding never allocates: byte and text fields are ctp_bytes views into the
 * frame buffer, which must outlive the decoded message. Encoding writes a whole
 * frame (header + payload) into the caller's buffer.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usbproto/codec/ctp-frame.h"

/* a length-bounded view; len == 0 with data == NULL means "absent" for optional fields */
typedef struct {
	const uint8_t *data;
	uint16_t len;
} ctp_bytes;

typedef struct {
	uint8_t version_min;
	uint8_t version_max;
	ctp_bytes challenge; /* CTP_CHALLENGE_SIZE random bytes */
	ctp_bytes host_name; /* optional, UTF-8 */
} ctp_hello_req;

typedef struct {
	uint8_t version; /* chosen by the device within [version_min, version_max] */
	ctp_bytes vendor;
	ctp_bytes model;
	ctp_bytes serial;
	ctp_bytes firmware;
	uint16_t key_algs; /* CTP_KEY_ALG_BIT() mask */
	uint32_t max_frame;
	uint8_t max_chain;
	uint8_t max_anchors;
	uint32_t capabilities;	 /* CTP_CAP_* */
	ctp_bytes identity_key;	 /* DER SubjectPublicKeyInfo, EC P-256 */
	ctp_bytes identity_sig;	 /* DER ECDSA-SHA256, see PROTOCOL.md */
} ctp_hello_rsp;

typedef struct {
	uint8_t state;		       /* CTP_DEVICE_STATE_* */
	ctp_bytes certificate;	       /* optional, DER */
	uint8_t chain_count;
	uint8_t anchor_count;
	ctp_bytes anchor_sha256[CTP_MAX_ANCHORS]; /* repeated; SHA-256 of each anchor's DER */
	uint8_t n_anchor_sha256;
	ctp_bytes pending_csr_sha256; /* optional: a key awaits its certificate */
	ctp_bytes web_service_url;    /* optional, installed setting */
	ctp_bytes registrar;	      /* optional, installed setting */
} ctp_status_rsp;

typedef struct {
	uint8_t key_alg;   /* CTP_KEY_* */
	ctp_bytes subject; /* DER X.509 Name the CSR must carry */
	ctp_bytes san;	   /* optional DER GeneralNames for a subjectAltName extension */
	ctp_bytes nonce;   /* CTP_MIN_NONCE..CTP_MAX_NONCE bytes, signed in pop_sig */
} ctp_create_csr_req;

typedef struct {
	ctp_bytes csr;	   /* DER PKCS#10 */
	ctp_bytes pop_sig; /* by the new key, see PROTOCOL.md */
} ctp_create_csr_rsp;

typedef struct {
	uint32_t txn_id;
	uint8_t chain_count;
	uint8_t anchor_count;
	uint8_t setting_count;
} ctp_stage_begin_req;

typedef struct {
	uint8_t kind;	 /* CTP_ITEM_* */
	uint8_t index;	 /* 0-based within its kind */
	uint8_t setting; /* CTP_SETTING_* when kind == CTP_ITEM_SETTING, else 0 */
	ctp_bytes data;
} ctp_stage_item_req;

typedef struct {
	uint32_t txn_id;
} ctp_commit_req;

typedef struct {
	ctp_bytes certificate_sha256; /* of the certificate now installed */
} ctp_commit_rsp;

typedef struct {
	ctp_bytes cookie; /* optional, echoed in the response */
} ctp_ping;

typedef struct {
	uint8_t percent; /* 0..100 */
	ctp_bytes text;	 /* optional, UTF-8 */
} ctp_progress;

typedef struct {
	uint16_t code; /* CTP_ERR_* */
	ctp_bytes text;	/* optional, UTF-8, at most CTP_MAX_ERROR_TEXT */
} ctp_error;

typedef struct {
	uint8_t type; /* CTP_MSG_* */
	uint16_t request_id;
	union {
		ctp_hello_req hello_req;
		ctp_hello_rsp hello_rsp;
		ctp_status_rsp status_rsp;
		ctp_create_csr_req create_csr_req;
		ctp_create_csr_rsp create_csr_rsp;
		ctp_stage_begin_req stage_begin_req;
		ctp_stage_item_req stage_item_req;
		ctp_commit_req commit_req;
		ctp_commit_rsp commit_rsp;
		ctp_ping ping; /* PING and PING_RSP */
		ctp_progress progress;
		ctp_error error;
	} u; /* STATUS, ABORT and the empty acknowledgements have no fields */
} ctp_message;

/* encode msg as a complete frame into buf; *frame_len gets its size */
ctp_result ctp_message_encode(const ctp_message *msg, uint8_t *buf, size_t cap, size_t *frame_len);

/* decode exactly one complete frame and its payload; views point into buf */
ctp_result ctp_message_decode(const uint8_t *buf, size_t len, ctp_message *msg);

/* decode the payload of an already decoded frame */
ctp_result ctp_message_decode_frame(const ctp_frame *frame, ctp_message *msg);

/* field-by-field comparison (byte fields by content); for tests and fuzzing */
bool ctp_message_equal(const ctp_message *a, const ctp_message *b);

/* true for the eight request types (HELLO..PING), false for responses and unknown types */
bool ctp_message_type_is_request(uint8_t type);

/* "HELLO", "STATUS_RSP", ...; "UNKNOWN" for anything else */
const char *ctp_message_type_to_string(uint8_t type);

/* "bad frame", ...; for CTP_ERR_* codes */
const char *ctp_device_error_to_string(uint16_t code);

/* helpers for building messages from C strings and buffers */
ctp_bytes ctp_bytes_from(const void *data, size_t len);
ctp_bytes ctp_bytes_from_string(const char *s);
bool ctp_bytes_present(ctp_bytes b);
