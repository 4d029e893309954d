/*
 * Writes the seed corpora of the CTP fuzz targets from the unit test's sample
 * messages (tests/unit/ctp-test-messages.c):
 *   corpus/fuzz-ctp-message-device/  every request sample, one frame per file
 *   corpus/fuzz-ctp-message-host/    every response sample
 *   corpus/fuzz-ctp-frame/           every sample, plus damaged frames
 * and from scripted host sessions in the layout of
 * tests/fuzz/fuzz-ctp-device-session.h:
 *   corpus/fuzz-ctp-device-session/  HELLO, STATUS, CREATE_CSR (at once and later),
 *                                    staging to COMMIT, ABORT, resets, garbage between
 * Usage: make-seeds CORPUS-DIR   (run by 'make fuzz-seeds'; the output is committed)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/fuzz/fuzz-ctp-device-session.h"
#include "tests/unit/ctp-test-messages.h"

static uint8_t frame[CTP_MAX_FRAME + 1];

static int
write_file(const char *dir, const char *target, const char *name, const uint8_t *data, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, target);
	if (mkdir(path, 0755) != 0 && errno != EEXIST) {
		fprintf(stderr, "make-seeds: cannot create %s: %s\n", path, strerror(errno));
		return -1;
	}
	snprintf(path, sizeof(path), "%s/%s/%s", dir, target, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(data, 1, len, f) != len || fclose(f) != 0) {
		fprintf(stderr, "make-seeds: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- fuzz-ctp-device-session: scripted host sessions ---- */

#define SESSION_TARGET "fuzz-ctp-device-session"

/* one input of the session target being written */
static struct {
	uint8_t buf[32768]; /* the target's max_len */
	size_t len;
	uint8_t mode;
	uint16_t next_id;
	int overflow;
} seed;

/* the step being built */
static uint8_t step[20000];
static size_t step_len;

static void
seed_start(uint8_t mode, uint8_t fw, uint8_t max_chain, uint8_t max_anchors, uint8_t key_algs)
{
	seed.len = 0;
	seed.mode = mode;
	seed.next_id = 1;
	seed.overflow = 0;
	seed.buf[seed.len++] = mode;
	seed.buf[seed.len++] = fw;
	seed.buf[seed.len++] = max_chain;
	seed.buf[seed.len++] = max_anchors;
	seed.buf[seed.len++] = key_algs;
}

/* one transfer: in MIXED mode its first byte says how the target reads the rest */
static void
seed_step(uint8_t how, const uint8_t *bytes, size_t n)
{
	size_t total = n + (seed.mode == FUZZ_SESSION_MODE_MIXED ? 1 : 0);

	if (total >= FUZZ_SESSION_RESET || seed.len + 2 + total > sizeof(seed.buf)) {
		seed.overflow = 1;
		return;
	}
	seed.buf[seed.len++] = (uint8_t)total;
	seed.buf[seed.len++] = (uint8_t)(total >> 8);
	if (seed.mode == FUZZ_SESSION_MODE_MIXED)
		seed.buf[seed.len++] = how;
	if (n > 0)
		memcpy(seed.buf + seed.len, bytes, n);
	seed.len += n;
}

static void
seed_reset(void)
{
	if (seed.len + 2 > sizeof(seed.buf)) {
		seed.overflow = 1;
		return;
	}
	seed.buf[seed.len++] = (uint8_t)FUZZ_SESSION_RESET;
	seed.buf[seed.len++] = (uint8_t)(FUZZ_SESSION_RESET >> 8);
}

static int
seed_write(const char *dir, const char *name)
{
	char file[128];

	if (seed.overflow) {
		fprintf(stderr, "make-seeds: session seed %s does not fit\n", name);
		return -1;
	}
	snprintf(file, sizeof(file), "%s.bin", name);
	return write_file(dir, SESSION_TARGET, file, seed.buf, seed.len);
}

static void
st_u8(uint8_t v)
{
	if (step_len < sizeof(step))
		step[step_len++] = v;
}

static void
st_u16(uint16_t v)
{
	st_u8((uint8_t)v);
	st_u8((uint8_t)(v >> 8));
}

static void
st_u32(uint32_t v)
{
	st_u16((uint16_t)v);
	st_u16((uint16_t)(v >> 16));
}

static void
st_bytes(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_u8(p[i]);
}

/* text as the target reads it back: it maps a seed byte b to 0x20 + b % 95 */
static void
st_text(const char *t, size_t n)
{
	for (size_t i = 0; i < n; i++)
		st_u8((uint8_t)(t[i] - 0x20));
}

/* a STRUCTURED request: selector, request id, then the fields */
static void
st_request(uint8_t type)
{
	step_len = 0;
	st_u8((uint8_t)(type - CTP_MSG_HELLO));
	st_u16(seed.next_id++);
}

static void
st_send(void)
{
	seed_step(FUZZ_SESSION_MODE_STRUCTURED, step, step_len);
}

static void
s_hello(uint8_t version_min, uint8_t version_max)
{
	st_request(CTP_MSG_HELLO);
	st_u8(version_min);
	st_u8(version_max);
	for (uint8_t i = 0; i < CTP_CHALLENGE_SIZE; i++)
		st_u8((uint8_t)(i * 13 + seed.next_id));
	st_u8(9);
	st_text("desktop-1", 9);
	st_send();
}

static void
s_simple(uint8_t type)
{
	st_request(type);
	st_send();
}

/* a DER Name: CN=user */
static const uint8_t subject_der[] = {0x30, 0x0f, 0x31, 0x0d, 0x30, 0x0b, 0x06, 0x03, 0x55,
                                      0x04, 0x03, 0x0c, 0x04, 'u',  's',  'e',  'r'};
/* GeneralNames: rfc822Name user@example.org */
static const uint8_t san_der[] = {0x30, 0x12, 0x81, 0x10, 'u', 's', 'e', 'r', '@', 'e',
                                  'x',  'a',  'm',  'p',  'l', 'e', '.', 'o', 'r', 'g'};

static void
s_create_csr(uint8_t key_alg, uint8_t fate)
{
	st_request(CTP_MSG_CREATE_CSR);
	st_u8((uint8_t)(key_alg - CTP_KEY_RSA_2048));
	st_u8(0); /* nonce of CTP_MIN_NONCE bytes, the first one the fake phone's fate */
	st_u8(fate);
	for (uint8_t i = 1; i < CTP_MIN_NONCE; i++)
		st_u8((uint8_t)(i * 29 + 3));
	st_u16(sizeof(subject_der) - 2);
	st_bytes(subject_der, sizeof(subject_der));
	st_u16(sizeof(san_der) - 1);
	st_bytes(san_der, sizeof(san_der));
	st_send();
}

static void
s_stage_begin(uint32_t txn_id, uint8_t chain, uint8_t anchors, uint8_t settings)
{
	st_request(CTP_MSG_STAGE_BEGIN);
	st_u32(txn_id);
	st_u8(chain);
	st_u8(anchors);
	st_u8(settings);
	st_send();
}

/* DER-looking data of len bytes; a certificate starts with SEQUENCE */
static void
st_der(size_t len, uint8_t first, uint8_t last)
{
	for (size_t i = 0; i < len; i++)
		st_u8(i == 0 ? first : i + 1 == len ? last : (uint8_t)(i * 7 + 1));
}

/* index FUZZ_SEED_NEXT: the next one the device expects */
static void
s_item_at(uint8_t kind, uint8_t index, size_t len, uint8_t first, uint8_t last)
{
	st_request(CTP_MSG_STAGE_ITEM);
	st_u8((uint8_t)(kind - CTP_ITEM_CERTIFICATE));
	st_u8(index);
	st_u8(0);
	st_u16((uint16_t)(len - 1));
	st_der(len, first, last);
	st_send();
}

static void
s_item(uint8_t kind, size_t len)
{
	s_item_at(kind, FUZZ_SEED_NEXT, len, 0x30, 0x00);
}

static void
s_setting(uint8_t setting, const char *value)
{
	st_request(CTP_MSG_STAGE_ITEM);
	st_u8(CTP_ITEM_SETTING - CTP_ITEM_CERTIFICATE);
	st_u8(FUZZ_SEED_NEXT);
	st_u8((uint8_t)(setting - CTP_SETTING_WEB_SERVICE_URL));
	st_u16((uint16_t)(strlen(value) - 1));
	st_text(value, strlen(value));
	st_send();
}

/* the open transaction's id (open) or txn_id */
static void
s_commit(int open, uint32_t txn_id)
{
	st_request(CTP_MSG_COMMIT);
	st_u8(open ? FUZZ_SEED_NEXT : 0);
	st_u32(txn_id);
	st_send();
}

static void
s_ping(const char *cookie)
{
	st_request(CTP_MSG_PING);
	st_u8((uint8_t)strlen(cookie));
	st_bytes((const uint8_t *)cookie, strlen(cookie));
	st_send();
}

/* any type with any payload, sealed into a valid frame */
static void
s_typed(uint8_t type, uint16_t request_id, const uint8_t *payload, size_t n)
{
	step_len = 0;
	st_u8(8);
	st_u16(request_id);
	st_u8(type);
	st_bytes(payload, n);
	st_send();
}

/* a frame from the codec, given as is (RAW) or to be repaired (FIXED) */
static void
r_frame(uint8_t how, const ctp_message *m, size_t cut, int damage_crc)
{
	size_t len = 0;

	if (ctp_message_encode(m, frame, sizeof(frame), &len) != CTP_OK) {
		seed.overflow = 1;
		return;
	}
	if (damage_crc)
		frame[12] ^= 0x5a;
	seed_step(how, frame, len - cut);
}

static void
r_garbage(const char *text)
{
	seed_step(FUZZ_SESSION_MODE_RAW, (const uint8_t *)text, strlen(text));
}

static ctp_message
msg(uint8_t type)
{
	ctp_message m;
	memset(&m, 0, sizeof(m));
	m.type = type;
	m.request_id = seed.next_id++;
	return m;
}

static const uint8_t challenge32[CTP_CHALLENGE_SIZE] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
static const uint8_t nonce16[CTP_MIN_NONCE] = {FUZZ_CSR_DONE, 0x11, 0x22, 0x33};
static uint8_t cert_der[1200];

static void
r_hello(uint8_t how)
{
	ctp_message m = msg(CTP_MSG_HELLO);
	m.u.hello_req.version_min = 1;
	m.u.hello_req.version_max = 1;
	m.u.hello_req.challenge = ctp_bytes_from(challenge32, sizeof(challenge32));
	r_frame(how, &m, 0, 0);
}

/* a whole session in codec frames: HELLO .. COMMIT, ABORT, PING; for FIXED
 * with checksums the target repairs */
static void
r_session(uint8_t how)
{
	int damage = how == FUZZ_SESSION_MODE_FIXED;
	ctp_message m;

	r_hello(how);
	m = msg(CTP_MSG_STATUS);
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_CREATE_CSR);
	m.u.create_csr_req.key_alg = CTP_KEY_EC_P256;
	m.u.create_csr_req.subject = ctp_bytes_from(subject_der, sizeof(subject_der));
	m.u.create_csr_req.nonce = ctp_bytes_from(nonce16, sizeof(nonce16));
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_STAGE_BEGIN);
	m.u.stage_begin_req.txn_id = 0xC0FFEE;
	m.u.stage_begin_req.anchor_count = 1;
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_STAGE_ITEM);
	m.u.stage_item_req.kind = CTP_ITEM_CERTIFICATE;
	m.u.stage_item_req.data = ctp_bytes_from(cert_der, sizeof(cert_der));
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_STAGE_ITEM);
	m.u.stage_item_req.kind = CTP_ITEM_ANCHOR;
	m.u.stage_item_req.data = ctp_bytes_from(cert_der, 400);
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_COMMIT);
	m.u.commit_req.txn_id = 0xC0FFEE;
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_ABORT);
	r_frame(how, &m, 0, damage);
	m = msg(CTP_MSG_PING);
	m.u.ping.cookie = ctp_bytes_from("resync", 6);
	r_frame(how, &m, 0, damage);
}

/* returns the number of files written, or -1 */
static int
write_session_seeds(const char *dir)
{
	const uint8_t all_algs = 0x1E;
	const uint8_t S = FUZZ_SESSION_MODE_STRUCTURED;
	int n = 0;
	ctp_message m;

	for (size_t i = 0; i < sizeof(cert_der); i++)
		cert_der[i] = i == 0 ? 0x30 : (uint8_t)(i * 11 + 5);

	seed_start(S, 0, 2, 2, all_algs);
	s_hello(1, 1);
	n += seed_write(dir, "hello") == 0;

	seed_start(S, FUZZ_FW_PROVISIONED | FUZZ_FW_SETTINGS, 2, 2, all_algs);
	s_hello(1, 1);
	s_simple(CTP_MSG_STATUS);
	s_ping("x");
	n += seed_write(dir, "hello-status") == 0;

	/* an EC P-256 only phone: every fate of a CREATE_CSR answered at once */
	seed_start(S, 0, 2, 2, 0x08);
	s_hello(1, 1);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_simple(CTP_MSG_STATUS);
	s_create_csr(CTP_KEY_RSA_2048, FUZZ_CSR_DONE);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_PROGRESS);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_SLOW);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_FOREVER);
	s_simple(CTP_MSG_STATUS);
	n += seed_write(dir, "hello-create-csr") == 0;

	/* answered later: PING while busy, the rest BAD_STATE until the answer */
	seed_start(S, FUZZ_FW_ASYNC_CSR, 2, 2, all_algs);
	s_hello(1, 1);
	s_create_csr(CTP_KEY_RSA_3072, FUZZ_CSR_SLOW);
	s_ping("busy?");
	s_simple(CTP_MSG_STATUS);
	s_simple(CTP_MSG_STATUS);
	s_create_csr(CTP_KEY_EC_P384, FUZZ_CSR_PROGRESS);
	s_simple(CTP_MSG_STATUS);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_hello(1, 1);
	s_simple(CTP_MSG_STATUS);
	n += seed_write(dir, "hello-create-csr-async") == 0;

	seed_start(S, FUZZ_FW_SETTINGS, 2, 2, all_algs);
	s_hello(1, 1);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_stage_begin(0x1234, 1, 1, 2);
	s_item(CTP_ITEM_CERTIFICATE, 700);
	s_item(CTP_ITEM_CHAIN, 600);
	s_item(CTP_ITEM_ANCHOR, 500);
	s_setting(CTP_SETTING_WEB_SERVICE_URL,
	          "https://pool.example.org/CertProv/CertProvisioningService.svc");
	s_setting(CTP_SETTING_REGISTRAR, "sip:pool.example.org;transport=tls");
	s_commit(1, 0);
	s_simple(CTP_MSG_STATUS);
	n += seed_write(dir, "hello-stage-commit") == 0;

	seed_start(S, 0, 1, 1, all_algs);
	s_hello(1, 1);
	s_stage_begin(8, 0, 0, 1);
	s_stage_begin(7, 0, 0, 0);
	s_item(CTP_ITEM_CERTIFICATE, 300);
	s_simple(CTP_MSG_ABORT);
	s_commit(0, 7);
	s_item(CTP_ITEM_CERTIFICATE, 300);
	s_simple(CTP_MSG_ABORT);
	n += seed_write(dir, "hello-stage-abort") == 0;

	/* counts, order, duplicates, wrong and early COMMIT, then a good one */
	seed_start(S, FUZZ_FW_SETTINGS, 1, 1, all_algs);
	s_hello(1, 1);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_stage_begin(5, 2, 1, 1);
	s_stage_begin(5, 0, 2, 0);
	s_stage_begin(5, 1, 1, 2);
	s_item_at(CTP_ITEM_CHAIN, 1, 200, 0x30, 0);
	s_item(CTP_ITEM_CHAIN, 200);
	s_item(CTP_ITEM_CHAIN, 200);
	s_setting(CTP_SETTING_SIP_URI, "sip:user@example.org");
	s_setting(CTP_SETTING_SIP_URI, "sip:user@example.org");
	s_setting(CTP_SETTING_REGISTRAR, "sip:pool.example.org");
	s_setting(CTP_SETTING_REGISTRAR, "sip:pool.example.org");
	s_commit(0, 6);
	s_commit(1, 0);
	s_item(CTP_ITEM_CERTIFICATE, 300);
	s_item(CTP_ITEM_ANCHOR, 300);
	s_commit(1, 0);
	s_commit(1, 0);
	n += seed_write(dir, "stage-errors") == 0;

	/* what the phone refuses: no pending key, not DER, no anchor */
	seed_start(S, 0, 0, 0, all_algs);
	s_hello(1, 1);
	s_stage_begin(1, 0, 0, 0);
	s_item(CTP_ITEM_CERTIFICATE, 100);
	s_commit(1, 0);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_stage_begin(2, 0, 0, 0);
	s_item_at(CTP_ITEM_CERTIFICATE, FUZZ_SEED_NEXT, 100, 'C', 'N');
	s_commit(1, 0);
	s_stage_begin(3, 0, 0, 0);
	s_item(CTP_ITEM_CERTIFICATE, 100);
	s_commit(1, 0);
	n += seed_write(dir, "commit-refused") == 0;

	/* storage that fails at each step once, then works */
	seed_start(S, FUZZ_FW_FLAKY | FUZZ_FW_PROVISIONED, 1, 1, all_algs);
	s_hello(1, 1);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_stage_begin(0x10FF, 0, 0, 0);
	s_stage_begin(0x10FE, 0, 0, 0);
	s_item_at(CTP_ITEM_CERTIFICATE, FUZZ_SEED_NEXT, 100, 0x30, FUZZ_FLAKY_ITEM_BYTE);
	s_item(CTP_ITEM_CERTIFICATE, 100);
	s_commit(1, 0);
	s_stage_begin(0x1001, 0, 0, 0);
	s_item(CTP_ITEM_CERTIFICATE, 100);
	s_commit(1, 0);
	s_simple(CTP_MSG_STATUS);
	n += seed_write(dir, "flaky-storage") == 0;

	/* resets: while a key is being made, while staging */
	seed_start(S, FUZZ_FW_ASYNC_CSR | FUZZ_FW_KEEPS_PENDING, 1, 1, all_algs);
	s_hello(1, 1);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_FOREVER);
	s_simple(CTP_MSG_STATUS);
	s_ping("still there?");
	seed_reset();
	s_simple(CTP_MSG_STATUS);
	s_hello(1, 1);
	s_stage_begin(9, 0, 0, 0);
	seed_reset();
	s_commit(0, 9);
	s_hello(1, 1);
	s_simple(CTP_MSG_STATUS);
	n += seed_write(dir, "reset") == 0;

	/* max_frame 4096 and a 2 KiB transmit buffer */
	seed_start(S, FUZZ_FW_SMALL_FRAME | FUZZ_FW_SMALL_TX | FUZZ_FW_PROVISIONED, 0, 1, all_algs);
	s_hello(1, 1);
	s_simple(CTP_MSG_STATUS);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	s_stage_begin(3, 0, 1, 0);
	s_item(CTP_ITEM_CERTIFICATE, 5000);
	s_item(CTP_ITEM_CERTIFICATE, 3000);
	s_item(CTP_ITEM_ANCHOR, 100);
	s_commit(1, 0);
	s_simple(CTP_MSG_STATUS);
	n += seed_write(dir, "small-device") == 0;

	/* versions, request id 0, types that are no request */
	seed_start(S, 0, 2, 2, all_algs);
	s_hello(2, 5);
	s_simple(CTP_MSG_STATUS);
	s_hello(1, 255);
	seed.next_id = 0;
	s_simple(CTP_MSG_STATUS);
	s_typed(0x09, 40, NULL, 0);
	s_typed(CTP_MSG_HELLO_RSP, 41, NULL, 0);
	s_typed(CTP_MSG_ERROR, 42, (const uint8_t *)"\x01\x02\x00\x05\x00", 5);
	s_typed(CTP_MSG_STATUS, 43, (const uint8_t *)"\x90\x01\x00\x55", 4);
	s_typed(CTP_MSG_COMMIT, 44, (const uint8_t *)"\x01\x02\x00\x01\x02", 5);
	n += seed_write(dir, "versions-and-types") == 0;

	/* codec frames as they are */
	seed_start(FUZZ_SESSION_MODE_RAW, 0, 1, 1, all_algs);
	r_session(FUZZ_SESSION_MODE_RAW);
	n += seed_write(dir, "raw-session") == 0;

	/* frames broken in every way the frame layer checks, and garbage */
	seed_start(FUZZ_SESSION_MODE_RAW, 0, 1, 1, all_algs);
	r_hello(FUZZ_SESSION_MODE_RAW);
	r_garbage("GET / HTTP/1.1\r\n\r\n");
	m = msg(CTP_MSG_STATUS);
	r_frame(FUZZ_SESSION_MODE_RAW, &m, 1, 0);
	r_frame(FUZZ_SESSION_MODE_RAW, &m, 0, 1);
	seed_step(FUZZ_SESSION_MODE_RAW, NULL, 0);
	r_frame(FUZZ_SESSION_MODE_RAW, &m, 0, 0);
	n += seed_write(dir, "raw-garbage") == 0;

	/* damaged checksums the target repairs: the payload decoder is reached */
	seed_start(FUZZ_SESSION_MODE_FIXED, FUZZ_FW_SETTINGS, 1, 1, all_algs);
	r_session(FUZZ_SESSION_MODE_FIXED);
	n += seed_write(dir, "fixed-session") == 0;

	/* garbage between good requests */
	seed_start(FUZZ_SESSION_MODE_MIXED, FUZZ_FW_ASYNC_CSR, 1, 1, all_algs);
	s_hello(1, 1);
	r_garbage("\x43\x54\x01");
	s_simple(CTP_MSG_STATUS);
	r_hello(FUZZ_SESSION_MODE_FIXED);
	s_create_csr(CTP_KEY_EC_P256, FUZZ_CSR_DONE);
	r_garbage("\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00");
	s_stage_begin(11, 0, 1, 0);
	s_item(CTP_ITEM_CERTIFICATE, 400);
	r_garbage("CT\x01\x05");
	s_item(CTP_ITEM_ANCHOR, 400);
	s_commit(1, 0);
	s_ping("done");
	n += seed_write(dir, "mixed-garbage-between") == 0;

	return n == 16 ? n : -1;
}

int
main(int argc, char **argv)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	unsigned written = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		const char *side = ctp_message_type_is_request(m->type) ? "fuzz-ctp-message-device"
		                                                        : "fuzz-ctp-message-host";
		char name[128];
		size_t len = 0;
		ctp_result r = ctp_message_encode(m, frame, sizeof(frame), &len);

		if (r != CTP_OK) {
			fprintf(stderr, "make-seeds: %s: %s\n", samples[i].name,
			        ctp_result_to_string(r));
			return 1;
		}
		snprintf(name, sizeof(name), "%s.bin", samples[i].name);
		if (write_file(argv[1], side, name, frame, len) != 0 ||
		    write_file(argv[1], "fuzz-ctp-frame", name, frame, len) != 0)
			return 1;
		written += 2;

		/* damaged variants for the frame target: cut short, one byte more, bad
		 * checksum; of the small frames only, to keep the corpus small */
		if (len > 4096)
			continue;
		snprintf(name, sizeof(name), "%s-truncated.bin", samples[i].name);
		if (write_file(argv[1], "fuzz-ctp-frame", name, frame, len - 1) != 0)
			return 1;
		frame[len] = 0;
		snprintf(name, sizeof(name), "%s-trailing.bin", samples[i].name);
		if (write_file(argv[1], "fuzz-ctp-frame", name, frame, len + 1) != 0)
			return 1;
		frame[12] ^= 0x01;
		snprintf(name, sizeof(name), "%s-badcrc.bin", samples[i].name);
		if (write_file(argv[1], "fuzz-ctp-frame", name, frame, len) != 0)
			return 1;
		written += 3;
	}
	int sessions = write_session_seeds(argv[1]);
	if (sessions < 0)
		return 1;
	printf("make-seeds: %u files from %zu sample messages and %d host sessions written to %s\n",
	       written, n, sessions, argv[1]);
	return 0;
}
