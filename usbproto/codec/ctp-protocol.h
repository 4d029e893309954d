/*
 * CertTether USB protocol (CTP): constants shared by hosts and devices.
 *
 * This header and the rest of usbproto/codec/ use only the C standard library
 * so that phone firmware can embed them. usbproto/PROTOCOL.md is the normative
 * text; the numbers here must match it.
 */
#pragma once

#include <stdint.h>

/* USB identification: hosts match the interface triple, never the VID:PID alone */
#define CTP_USB_INTERFACE_CLASS	   0xFF /* vendor specific */
#define CTP_USB_INTERFACE_SUBCLASS 0x43 /* 'C' */
#define CTP_USB_INTERFACE_PROTOCOL 0x01 /* framing of this document */
/* pid.codes test VID:PID, used by the emulated phone only (a hint, never a match rule) */
#define CTP_USB_TEST_VID 0x1209
#define CTP_USB_TEST_PID 0x0001

/* protocol versions this code speaks (negotiated in HELLO) */
#define CTP_VERSION_MIN 1
#define CTP_VERSION_MAX 1

/* frame header: magic "CT", version, type, flags, request id, payload length, crc32 */
#define CTP_MAGIC_0	    0x43
#define CTP_MAGIC_1	    0x54
#define CTP_FRAME_VERSION   1
#define CTP_HEADER_SIZE	    16
#define CTP_MAX_PAYLOAD	    65520u
#define CTP_MAX_FRAME	    (CTP_HEADER_SIZE + CTP_MAX_PAYLOAD)
#define CTP_MIN_DEVICE_FRAME 4096u /* a device must accept frames at least this large */

/* default timeouts (milliseconds) a host applies to one request */
#define CTP_TIMEOUT_DEFAULT_MS	  5000u
#define CTP_TIMEOUT_CREATE_CSR_MS 120000u /* RSA key generation on a slow phone */
#define CTP_PROGRESS_INTERVAL_MS  2000u	  /* a busy device sends PROGRESS at least this often */

/* message types; a response is the request type with CTP_TYPE_RESPONSE set */
enum {
	CTP_MSG_HELLO = 0x01,
	CTP_MSG_STATUS = 0x02,
	CTP_MSG_CREATE_CSR = 0x03,
	CTP_MSG_STAGE_BEGIN = 0x04,
	CTP_MSG_STAGE_ITEM = 0x05,
	CTP_MSG_COMMIT = 0x06,
	CTP_MSG_ABORT = 0x07,
	CTP_MSG_PING = 0x08,
	CTP_TYPE_RESPONSE = 0x80,
	CTP_MSG_HELLO_RSP = 0x81,
	CTP_MSG_STATUS_RSP = 0x82,
	CTP_MSG_CREATE_CSR_RSP = 0x83,
	CTP_MSG_STAGE_BEGIN_RSP = 0x84,
	CTP_MSG_STAGE_ITEM_RSP = 0x85,
	CTP_MSG_COMMIT_RSP = 0x86,
	CTP_MSG_ABORT_RSP = 0x87,
	CTP_MSG_PING_RSP = 0x88,
	CTP_MSG_PROGRESS = 0xFE, /* device -> host, interim, same request id */
	CTP_MSG_ERROR = 0xFF,	 /* device -> host, final answer to any request */
};

/* key algorithms (CREATE_CSR key_alg; HELLO key_algs is a bit mask of 1 << alg) */
enum {
	CTP_KEY_RSA_2048 = 1,
	CTP_KEY_RSA_3072 = 2,
	CTP_KEY_EC_P256 = 3,
	CTP_KEY_EC_P384 = 4,
};
#define CTP_KEY_ALG_BIT(alg) ((uint16_t)(1u << (alg)))

/* device capability bits (HELLO capabilities) */
enum {
	CTP_CAP_SETTINGS = 1u << 0,    /* accepts SETTING items (web service URL, registrar) */
	CTP_CAP_KEEPS_PENDING = 1u << 1, /* keeps the pending key across unplug (resume) */
};

/* provisioning state the device reports in STATUS */
enum {
	CTP_DEVICE_STATE_EMPTY = 0,	  /* no certificate installed */
	CTP_DEVICE_STATE_PROVISIONED = 1, /* certificate + key installed */
};

/* STAGE_ITEM kinds */
enum {
	CTP_ITEM_CERTIFICATE = 1, /* the leaf for the pending key, DER */
	CTP_ITEM_CHAIN = 2,	  /* an intermediate CA certificate, DER, leaf-most first */
	CTP_ITEM_ANCHOR = 3,	  /* a trust anchor to install, DER */
	CTP_ITEM_SETTING = 4,	  /* a service setting, UTF-8 value */
};

/* SETTING ids */
enum {
	CTP_SETTING_WEB_SERVICE_URL = 1,
	CTP_SETTING_REGISTRAR = 2,
	CTP_SETTING_SIP_URI = 3,
};

/* ERROR codes a device sends */
enum {
	CTP_ERR_BAD_FRAME = 1,	     /* transfer is not exactly one valid frame */
	CTP_ERR_UNSUPPORTED_VERSION = 2,
	CTP_ERR_UNKNOWN_MESSAGE = 3,
	CTP_ERR_BAD_MESSAGE = 4,     /* frame fine, payload does not decode */
	CTP_ERR_BAD_STATE = 5,	     /* e.g. COMMIT without STAGE_BEGIN */
	CTP_ERR_UNSUPPORTED_KEY = 6,
	CTP_ERR_KEYGEN_FAILED = 7,
	CTP_ERR_KEY_MISMATCH = 8,    /* staged certificate is not for the pending key */
	CTP_ERR_CHAIN_INVALID = 9,   /* staged chain does not verify */
	CTP_ERR_STORAGE = 10,
	CTP_ERR_TOO_LARGE = 11,	     /* more items or bytes than announced in HELLO */
	CTP_ERR_REFUSED = 12,	     /* the phone's user or policy refused */
	CTP_ERR_INTERNAL = 13,
};

/* field limits (bytes) */
#define CTP_MAX_TEXT	    64u	  /* vendor, model, serial, firmware, host name */
#define CTP_MAX_ERROR_TEXT  256u
#define CTP_CHALLENGE_SIZE  32u
#define CTP_MIN_NONCE	    16u
#define CTP_MAX_NONCE	    64u
#define CTP_MAX_PUBKEY	    1024u /* DER SubjectPublicKeyInfo */
#define CTP_MAX_SIGNATURE   512u
#define CTP_MAX_NAME_DER    1024u /* DER X.509 Name */
#define CTP_MAX_SAN_DER	    2048u /* DER GeneralNames */
#define CTP_MAX_CSR	    8192u
#define CTP_MAX_CERT	    16384u
#define CTP_MAX_SETTING	    1024u
#define CTP_MAX_ANCHORS	    16u	  /* anchor fingerprints listed in STATUS */
#define CTP_SHA256_SIZE	    32u
#define CTP_MAX_CHAIN	    16u	  /* intermediates: STAGE_BEGIN, HELLO max_chain, STATUS */
#define CTP_MAX_SETTINGS    3u	  /* SETTING items per transaction (one per setting id) */
#define CTP_MAX_COOKIE	    64u	  /* PING cookie */
#define CTP_MAX_PROGRESS_TEXT 256u

/* domain-separation prefixes for the two signatures of the protocol */
#define CTP_HELLO_SIG_CONTEXT "certtether-hello-v1"
#define CTP_CSR_POP_CONTEXT   "certtether-csr-v1"
