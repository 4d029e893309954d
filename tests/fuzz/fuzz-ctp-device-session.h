/*
 * Input layout of the fuzz-ctp-device-session target, shared with the seed
 * generator (tests/fuzz/make-seeds.c) so that the committed seeds speak it.
 *
 * Header, FUZZ_SESSION_HEADER_SIZE bytes:
 *   [0] frame mode, FUZZ_SESSION_MODE_* (modulo 4)
 *   [1] the fake phone's make, FUZZ_FW_* bits
 *   [2] max_chain (modulo 17)   [3] max_anchors (modulo 17)
 *   [4] key_algs: bits 1..4 as in HELLO_RSP (none of them: EC P-256 only)
 * Then at most FUZZ_SESSION_MAX_STEPS steps, each a u16 little-endian length L
 * and L bytes (fewer where the input ends). L == FUZZ_SESSION_RESET is a USB
 * reset (the host's SET_INTERFACE) and carries no bytes.
 *
 * A step's bytes become one bulk OUT transfer, by mode:
 *   RAW         as they are
 *   FIXED       payload length and CRC repaired (reaches the payload decoder)
 *   STRUCTURED  a request the codec encodes from field seeds: always a valid
 *               frame, the fuzzer choosing type and fields (see below)
 *   MIXED       the step's first byte (modulo 3) picks one of the above for the rest
 *
 * STRUCTURED bytes: [0] selector (modulo 9): 0..7 the request of type selector+1
 * (HELLO .. PING), 8 a frame of type [3] with the remaining bytes as payload;
 * [1..2] request id (u16 LE); then the field seeds of the type. Numbers are
 * folded into their valid range, missing bytes read as 0:
 *   HELLO        version_min u8, version_max u8, challenge 32 bytes,
 *                host_name length u8 (0: none), host_name (made printable)
 *   STATUS       none                      ABORT   none
 *   CREATE_CSR   key_alg u8, nonce length u8, nonce, subject length u16, subject,
 *                san length u16 (0: none), san
 *   STAGE_BEGIN  txn_id u32, chain_count u8, anchor_count u8, setting_count u8
 *   STAGE_ITEM   kind u8, index u8 (FUZZ_SEED_NEXT: the next index of the kind),
 *                setting u8, data length u16, data (made printable for SETTING)
 *   COMMIT       u8 (FUZZ_SEED_NEXT: txn_id of the open transaction), txn_id u32
 *   PING         cookie length u8 (0: none), cookie
 *
 * The fake phone's CREATE_CSR fate is the first nonce byte modulo 4
 * (FUZZ_CSR_*); FLAKY storage fails STAGE_BEGIN for a txn_id whose low byte is
 * FUZZ_FLAKY_BEGIN_TXN, STAGE_ITEM whose data ends in FUZZ_FLAKY_ITEM_BYTE and
 * COMMIT for a txn_id whose low byte is FUZZ_FLAKY_COMMIT_TXN.
 */
#pragma once

#define FUZZ_SESSION_HEADER_SIZE 5
#define FUZZ_SESSION_MAX_STEPS   64
#define FUZZ_SESSION_RESET       0xFFFFu

enum {
	FUZZ_SESSION_MODE_RAW = 0,
	FUZZ_SESSION_MODE_FIXED = 1,
	FUZZ_SESSION_MODE_STRUCTURED = 2,
	FUZZ_SESSION_MODE_MIXED = 3,
};

/* the fake phone's make */
enum {
	FUZZ_FW_ASYNC_CSR = 1u << 0,     /* CREATE_CSR finishes after the next transfer */
	FUZZ_FW_SETTINGS = 1u << 1,      /* capability SETTINGS */
	FUZZ_FW_KEEPS_PENDING = 1u << 2, /* capability KEEPS_PENDING */
	FUZZ_FW_SMALL_FRAME = 1u << 3,   /* max_frame 4096 instead of 65536 */
	FUZZ_FW_SMALL_TX = 1u << 4,      /* transmit buffer of CTP_DEVICE_MIN_TX bytes */
	FUZZ_FW_FLAKY = 1u << 5,         /* storage that fails, see above */
	FUZZ_FW_PROVISIONED = 1u << 6,   /* a certificate and an anchor installed at start */
};

/* what the fake phone does with a CREATE_CSR (first nonce byte modulo 4) */
enum {
	FUZZ_CSR_DONE = 0,     /* answers: at once, or after the next transfer */
	FUZZ_CSR_PROGRESS = 1, /* sync: PROGRESS, then answers; async: fails KEYGEN_FAILED */
	FUZZ_CSR_SLOW = 2,     /* sync: fails KEYGEN_FAILED at once; async: after two transfers */
	FUZZ_CSR_FOREVER = 3,  /* sync: fails STORAGE through fail(); async: never answers */
};

#define FUZZ_SEED_NEXT        0x80u
#define FUZZ_FLAKY_BEGIN_TXN  0xFFu
#define FUZZ_FLAKY_ITEM_BYTE  0xFFu
#define FUZZ_FLAKY_COMMIT_TXN 0xFEu
