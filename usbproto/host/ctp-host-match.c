/*
 * Frame-to-request matching and text sanitising for the host transport.
 */
#include "usbproto/host/ctp-host-match.h"

#include <stdio.h>
#include <string.h>

ctp_host_frame_kind
ctp_host_match_frame(const uint8_t *buf,
                     size_t len,
                     uint8_t request_type,
                     uint16_t request_id,
                     ctp_message *msg,
                     ctp_result *why)
{
	ctp_frame frame;
	ctp_result r;

	memset(msg, 0, sizeof(*msg));
	*why = CTP_OK;

	/* header, bounds and checksum first: nothing of an unchecked frame is read */
	r = ctp_frame_decode(buf, len, &frame);
	if (r != CTP_OK) {
		*why = r;
		return CTP_HOST_FRAME_DROPPED;
	}
	/* a late answer to an earlier (timed out, cancelled) request: not ours */
	if (frame.request_id != request_id)
		return CTP_HOST_FRAME_STALE;

	r = ctp_message_decode_frame(&frame, msg);
	if (r == CTP_E_UNKNOWN_TYPE) {
		/* a type of a later version: hosts drop what they do not know */
		*why = r;
		return CTP_HOST_FRAME_DROPPED;
	}
	if (r != CTP_OK) {
		*why = r;
		return CTP_HOST_FRAME_INVALID;
	}
	if (msg->type == (uint8_t)(request_type | CTP_TYPE_RESPONSE))
		return CTP_HOST_FRAME_RESPONSE;
	if (msg->type == CTP_MSG_ERROR)
		return CTP_HOST_FRAME_ERROR;
	if (msg->type == CTP_MSG_PROGRESS)
		return CTP_HOST_FRAME_PROGRESS;
	return CTP_HOST_FRAME_UNEXPECTED;
}

uint16_t
ctp_host_next_request_id(uint16_t prev)
{
	uint16_t next = (uint16_t)(prev + 1u);
	return next == 0 ? 1 : next;
}

void
ctp_host_describe_unexpected(uint8_t request_type, uint8_t got_type, char *buf, size_t size)
{
	if (ctp_message_type_is_request(got_type)) {
		snprintf(buf, size, "the device sent a %s request instead of answering %s",
		         ctp_message_type_to_string(got_type),
		         ctp_message_type_to_string(request_type));
		return;
	}
	snprintf(buf, size, "the device answered %s with %s (expected %s)",
	         ctp_message_type_to_string(request_type), ctp_message_type_to_string(got_type),
	         ctp_message_type_to_string((uint8_t)(request_type | CTP_TYPE_RESPONSE)));
}

/* length of the UTF-8 sequence at s[0..len) and its code point; 0 if invalid */
static size_t
utf8_decode_one(const uint8_t *s, size_t len, uint32_t *cp)
{
	size_t n;
	uint32_t c = s[0];
	uint32_t min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2;
		c &= 0x1f;
		min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3;
		c &= 0x0f;
		min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4;
		c &= 0x07;
		min = 0x10000;
	} else {
		return 0;
	}
	if (n > len)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates and values past Unicode are not text */
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return n;
}

/* characters that could forge a log line or reorder a terminal's output */
static int
is_unsafe_code_point(uint32_t cp)
{
	return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp <= 0x9f) || cp == 0x2028 ||
	       cp == 0x2029 || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

void
ctp_host_sanitize_text(const uint8_t *text, size_t len, char *buf, size_t size)
{
	size_t out = 0;
	size_t i = 0;

	if (size == 0)
		return;
	while (text != NULL && i < len) {
		uint32_t cp = 0;
		size_t n = utf8_decode_one(text + i, len - i, &cp);

		if (n == 0 || is_unsafe_code_point(cp)) {
			if (out + 1 >= size)
				break;
			buf[out++] = '?';
			i += n == 0 ? 1 : n;
			continue;
		}
		if (out + n >= size)
			break; /* never split a character */
		memcpy(buf + out, text + i, n);
		out += n;
		i += n;
	}
	buf[out] = '\0';
}
