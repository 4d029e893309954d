/*
 * CTP frames: a 16-byte header and a payload, one frame per USB bulk transfer.
 * libc only, no allocation: decoding returns views into the caller's buffer.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "usbproto/codec/ctp-protocol.h"

typedef enum {
	CTP_OK = 0,
	CTP_E_TRUNCATED,      /* fewer bytes than the header or the declared lengths need */
	CTP_E_MAGIC,	      /* not a CTP frame */
	CTP_E_FRAME_VERSION,  /* frame format version this code does not know */
	CTP_E_CRC,	      /* checksum mismatch: corrupted or desynchronised */
	CTP_E_TOO_LARGE,      /* payload longer than CTP_MAX_PAYLOAD or the buffer */
	CTP_E_TRAILING,	      /* bytes after the frame or after the last field */
	CTP_E_FLAGS,	      /* reserved flag bits set */
	CTP_E_UNKNOWN_TYPE,   /* message type this code does not know */
	CTP_E_FIELD_LENGTH,   /* a field shorter or longer than its bounds */
	CTP_E_FIELD_ORDER,    /* fields out of ascending order, or a duplicate */
	CTP_E_UNKNOWN_FIELD,  /* an unknown mandatory (tag < 0x80) field */
	CTP_E_MISSING_FIELD,  /* a mandatory field is absent */
	CTP_E_BAD_VALUE,      /* a value outside its allowed set (enum, UTF-8, range) */
	CTP_E_TOO_MANY,	      /* a repeated field more often than allowed */
	CTP_E_NO_SPACE,	      /* encoding: the output buffer is too small */
	CTP_E_INVALID_ARG,    /* encoding: the message given is itself invalid */
} ctp_result;

/* a decoded frame; payload points into the buffer given to ctp_frame_decode() */
typedef struct {
	uint8_t version;
	uint8_t type;
	uint16_t flags;
	uint16_t request_id;
	uint32_t payload_len;
	const uint8_t *payload;
} ctp_frame;

/* decode exactly one frame occupying all of buf[0..len) */
ctp_result ctp_frame_decode(const uint8_t *buf, size_t len, ctp_frame *frame);

/*
 * Write the header for a payload that the caller already placed at
 * buf + CTP_HEADER_SIZE, computing the checksum. *frame_len gets the total size.
 */
ctp_result ctp_frame_seal(uint8_t *buf,
			  size_t cap,
			  uint8_t type,
			  uint16_t request_id,
			  size_t payload_len,
			  size_t *frame_len);

/* CRC-32 (IEEE 802.3, reflected, as zlib's crc32()); crc = 0 to start */
uint32_t ctp_crc32(uint32_t crc, const uint8_t *buf, size_t len);

/* a short, stable English description, e.g. "checksum mismatch" */
const char *ctp_result_to_string(ctp_result r);
