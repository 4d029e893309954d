/*
 * Fuzz target: decode frames as the host does, from a possibly hostile device
 * (response types: *_RSP, PROGRESS, ERROR). The type's response bit, payload
 * length and checksum are repaired so that the fuzzer explores the payload
 * decoder; every decoded message must re-encode and decode to the same message.
 */
#include "tests/fuzz/fuzz-ctp.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_ctp_decode_side(data, size, FUZZ_CTP_RESPONSES);
	return 0;
}
