/*
 * Matching a frame the device sent to the request the host is waiting for.
 * Pure functions over the codec (no libusb, no I/O) so that they are unit
 * tested without a device.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "usbproto/codec/ctp-message.h"

typedef enum {
	CTP_HOST_FRAME_RESPONSE,   /* the final response of the expected type, decoded */
	CTP_HOST_FRAME_ERROR,      /* ERROR for this request id, decoded */
	CTP_HOST_FRAME_PROGRESS,   /* PROGRESS for this request id, decoded */
	CTP_HOST_FRAME_STALE,      /* a valid frame for another request id: drop it */
	CTP_HOST_FRAME_DROPPED,    /* not one valid frame, or an unknown type: drop it (2.2, 5) */
	CTP_HOST_FRAME_INVALID,    /* a valid frame with this id whose payload does not decode */
	CTP_HOST_FRAME_UNEXPECTED, /* decodes, has this id, but is no answer to this request */
} ctp_host_frame_kind;

/*
 * Classify buf[0..len) (exactly one bulk transfer) against the request
 * (request_type, request_id), as PROTOCOL.md 2.2 and 2.3 say: the transfer is
 * validated as a frame (length, magic, version, CRC, flags) before its id is
 * looked at; the payload is decoded only for frames with this id (views in
 * *msg point into buf). *why gets the codec's result for DROPPED and INVALID,
 * CTP_OK otherwise.
 */
ctp_host_frame_kind ctp_host_match_frame(const uint8_t *buf,
                                         size_t len,
                                         uint8_t request_type,
                                         uint16_t request_id,
                                         ctp_message *msg,
                                         ctp_result *why);

/* the request id after prev: ids are 1..0xffff, 0 is never used */
uint16_t ctp_host_next_request_id(uint16_t prev);

/* "HELLO answered with STATUS_RSP" style description of an UNEXPECTED frame */
void ctp_host_describe_unexpected(uint8_t request_type, uint8_t got_type, char *buf, size_t size);

/*
 * Copy untrusted text (device error text, progress text, USB strings) into buf
 * so that it is safe in a log line or a terminal: valid UTF-8 stays, control
 * characters (C0, DEL, C1), line/paragraph separators, bidi overrides and
 * invalid bytes become '?'. Truncates at a character boundary; always
 * NUL-terminates (size > 0).
 */
void ctp_host_sanitize_text(const uint8_t *text, size_t len, char *buf, size_t size);
