/*
 * Shared checks of the CTP fuzz targets (header only: each target is one binary).
 */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "usbproto/codec/ctp-message.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* a broken invariant is a finding: abort so that libFuzzer saves the input */
#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			abort();                                                                   \
	} while (0)

/*
 * Make the input a frame that passes the length and checksum checks, so that the
 * fuzzer spends its time in the payload decoder: payload length = what is there,
 * checksum recomputed. Returns an exact-size copy (so that ASan sees any read past
 * the frame) for the caller to free, or NULL if the input cannot be a frame.
 */
typedef enum {
	FUZZ_CTP_ANY_TYPE,
	FUZZ_CTP_REQUESTS,  /* what a device receives */
	FUZZ_CTP_RESPONSES, /* what a host receives */
} fuzz_ctp_side;

static inline uint8_t *
fuzz_ctp_fix_frame(const uint8_t *data, size_t size, fuzz_ctp_side side)
{
	size_t payload_len;
	uint32_t crc;
	uint8_t *buf;

	if (size < CTP_HEADER_SIZE || size > CTP_MAX_FRAME)
		return NULL;
	buf = malloc(size);
	FUZZ_CHECK(buf != NULL);
	memcpy(buf, data, size);
	if (side == FUZZ_CTP_REQUESTS)
		buf[3] &= (uint8_t)~CTP_TYPE_RESPONSE;
	else if (side == FUZZ_CTP_RESPONSES)
		buf[3] |= CTP_TYPE_RESPONSE;
	payload_len = size - CTP_HEADER_SIZE;
	buf[8] = (uint8_t)payload_len;
	buf[9] = (uint8_t)(payload_len >> 8);
	buf[10] = (uint8_t)(payload_len >> 16);
	buf[11] = (uint8_t)(payload_len >> 24);
	crc = ctp_crc32(ctp_crc32(0, buf, 12), buf + CTP_HEADER_SIZE, payload_len);
	buf[12] = (uint8_t)crc;
	buf[13] = (uint8_t)(crc >> 8);
	buf[14] = (uint8_t)(crc >> 16);
	buf[15] = (uint8_t)(crc >> 24);
	return buf;
}

/*
 * A decoded message is valid by definition, so encoding it must succeed and
 * decode to an equal message; and the canonical re-encoding is stable.
 */
static inline void
fuzz_ctp_roundtrip(const ctp_message *msg)
{
	static uint8_t out1[CTP_MAX_FRAME];
	static uint8_t out2[CTP_MAX_FRAME];
	size_t len1 = 0;
	size_t len2 = 0;
	ctp_message again;
	ctp_message third;

	FUZZ_CHECK(ctp_message_encode(msg, out1, sizeof(out1), &len1) == CTP_OK);
	FUZZ_CHECK(ctp_message_decode(out1, len1, &again) == CTP_OK);
	FUZZ_CHECK(ctp_message_equal(msg, &again));
	FUZZ_CHECK(ctp_message_encode(&again, out2, sizeof(out2), &len2) == CTP_OK);
	FUZZ_CHECK(len1 == len2 && memcmp(out1, out2, len1) == 0);
	FUZZ_CHECK(ctp_message_decode(out2, len2, &third) == CTP_OK);
	FUZZ_CHECK(ctp_message_equal(&again, &third));
	/* one byte short never fits */
	FUZZ_CHECK(ctp_message_encode(msg, out2, len1 - 1, &len2) == CTP_E_NO_SPACE);
}

/* decode as one side does; a decoded message must be of that side and round-trip */
static inline void
fuzz_ctp_decode_side(const uint8_t *data, size_t size, fuzz_ctp_side side)
{
	uint8_t *buf = fuzz_ctp_fix_frame(data, size, side);
	ctp_message msg;

	if (buf == NULL)
		return;
	if (ctp_message_decode(buf, size, &msg) == CTP_OK) {
		FUZZ_CHECK(ctp_message_type_is_request(msg.type) == (side == FUZZ_CTP_REQUESTS));
		fuzz_ctp_roundtrip(&msg);
	}
	free(buf);
}
