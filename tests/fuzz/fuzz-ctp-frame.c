/*
 * Fuzz target: ctp_frame_decode() on raw transfers, as both sides receive them.
 * Also decodes each input with a repaired checksum, so that the checks behind
 * the CRC (flags, then the message decoder) are reached too.
 */
#include "tests/fuzz/fuzz-ctp.h"

static void
check_frame(const uint8_t *data, size_t size)
{
	ctp_frame frame;
	ctp_message msg;

	if (ctp_frame_decode(data, size, &frame) != CTP_OK) {
		/* what the frame layer refuses, the message layer refuses too */
		FUZZ_CHECK(ctp_message_decode(data, size, &msg) != CTP_OK);
		return;
	}
	FUZZ_CHECK(size == CTP_HEADER_SIZE + (size_t)frame.payload_len);
	FUZZ_CHECK(frame.payload == data + CTP_HEADER_SIZE);
	FUZZ_CHECK(frame.payload_len <= CTP_MAX_PAYLOAD);
	FUZZ_CHECK(frame.version == CTP_FRAME_VERSION && frame.flags == 0);
	if (ctp_message_decode_frame(&frame, &msg) == CTP_OK)
		fuzz_ctp_roundtrip(&msg);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *fixed;

	check_frame(data, size);
	fixed = fuzz_ctp_fix_frame(data, size, FUZZ_CTP_ANY_TYPE);
	if (fixed != NULL) {
		check_frame(fixed, size);
		free(fixed);
	}
	return 0;
}
