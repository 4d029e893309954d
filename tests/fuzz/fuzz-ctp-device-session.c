/*
 * Fuzz target: the device session library (usbproto/device) as phone firmware
 * embeds it, driven by a hostile host. The input is a sequence of bulk OUT
 * transfers and USB resets fed to one session in turn (layout and modes in
 * tests/fuzz/fuzz-ctp-device-session.h). A fake phone behind the ops table
 * behaves like real firmware: it accepts HELLO, reports its state, makes a fixed
 * CSR at once or later with PROGRESS, stages items, checks COMMIT minimally
 * (pending key, leaf looks like DER, an anchor to verify against) and aborts.
 *
 * After every step the target checks what PROTOCOL.md (sections 2, 3, 5, 7) and
 * ctp-device-session.h promise the host and the firmware:
 *   - every frame sent decodes with the codec, is a response, PROGRESS or ERROR
 *     (never a request), lies inside the transmit buffer and fits it;
 *   - every transfer gets exactly one final answer carrying its request id (0 for
 *     BAD_FRAME); a CREATE_CSR the firmware finishes later gets none at once and
 *     then, after PROGRESS with its id, exactly one;
 *   - that answer is the one the spec prescribes for the session's state (a small
 *     model of sections 2.2, 3.1, 5 and 7 below, e.g. BAD_STATE before HELLO);
 *   - the session moves only along the transitions of 7.1, and the firmware's
 *     staging area is open exactly while the session is STAGING;
 *   - callbacks run only where the spec allows them: get_info/sign_identity for a
 *     HELLO, stage_item only in STAGING with an item that passed the count, order
 *     and size checks, commit only for the open transaction with every announced
 *     item staged, cancel_csr only on reset for the pending request, no request
 *     callback while busy, nothing outside a call into the library;
 *   - completions for a reset session are refused and send nothing.
 * ASan and UBSan watch memory: each transfer is an exact-size heap copy (freed
 * after its step, so a view kept too long is a use after free) and the transmit
 * buffer is an exact-size heap block.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/fuzz/fuzz-ctp-device-session.h"
#include "tests/fuzz/fuzz-ctp.h"
#include "usbproto/device/ctp-device-session.h"

#define MAX_SENT_PER_STEP 4
#define FAKE_SIG_LEN      (2 + CTP_SHA256_SIZE)

typedef enum {
	STEP_NONE, /* between calls into the library: no callback may run */
	STEP_RECEIVE,
	STEP_RESET,
	STEP_FIRMWARE, /* the firmware's own task finishing a CREATE_CSR */
} step_kind;

/* the firmware's view of its staging area; kinds indexed by CTP_ITEM_* */
typedef struct {
	bool open;
	uint32_t txn_id;
	uint8_t want[CTP_ITEM_SETTING + 1];
	uint8_t have[CTP_ITEM_SETTING + 1];
	uint8_t settings_seen; /* bit 1 << setting id */
} staging_book;

typedef struct {
	size_t len;
	ctp_message msg; /* views into sent_bytes[i] */
} sent_frame;

typedef struct {
	ctp_device_session session;
	uint8_t *tx;
	size_t tx_size;

	/* the phone's make (input header) */
	bool async_csr, flaky;
	uint16_t key_algs;
	uint32_t max_frame, capabilities;
	uint8_t max_chain, max_anchors;

	/* installed credentials and settings (the persistent store) */
	bool provisioned;
	uint8_t cert[CTP_MAX_CERT];
	uint16_t cert_len;
	uint8_t chain_count;
	uint8_t anchor_sha[CTP_MAX_ANCHORS][CTP_SHA256_SIZE];
	uint8_t anchor_count;
	uint8_t setting[CTP_MAX_SETTINGS][CTP_MAX_SETTING];
	uint16_t setting_len[CTP_MAX_SETTINGS];
	bool key_pending;
	uint8_t pending_csr_sha[CTP_SHA256_SIZE];

	/* the staging area */
	staging_book book;
	uint8_t staged_cert[CTP_MAX_CERT];
	uint16_t staged_cert_len;
	uint8_t staged_anchor_sha[CTP_MAX_ANCHORS][CTP_SHA256_SIZE];
	uint8_t staged_setting[CTP_MAX_SETTINGS][CTP_MAX_SETTING];
	uint16_t staged_setting_len[CTP_MAX_SETTINGS];

	/* the last CREATE_CSR, and the key generation still running for it */
	uint8_t csr_nonce[CTP_MAX_NONCE];
	size_t csr_nonce_len;
	uint8_t csr_fate;
	uint32_t last_token;
	bool job, job_cancelled;
	uint32_t job_token;
	uint16_t job_request_id;
	unsigned job_started; /* transfers counted when it started */

	/* the step under way */
	unsigned transfers; /* receive and reset steps so far */
	step_kind step;
	const ctp_message *req; /* the transfer as the codec decodes it, if a request */
	ctp_device_session_state state_before;
	bool busy_before;
	staging_book book_before;
	uint32_t max_frame_announced; /* what HELLO_RSP told the host; 65536 before */

	/* what happened in it */
	unsigned n_request_callbacks; /* every callback but abort, cancel_csr and send */
	unsigned n_get_info, n_get_status, n_create_csr, n_stage_begin, n_stage_item, n_commit;
	unsigned n_abort, n_cancel;
	uint16_t fw_rc; /* the error code a callback returned or failed with, 0: none */
	bool fw_text_set;
	char fw_text[200];
	ctp_status_rsp status_given;
	uint8_t commit_sha[CTP_SHA256_SIZE];
	size_t n_sent;
	sent_frame sent[MAX_SENT_PER_STEP];
} fake_phone;

static fake_phone phone;
static uint8_t sent_bytes[MAX_SENT_PER_STEP][CTP_MAX_FRAME];
static uint8_t scratch[CTP_MAX_FRAME];

static const char fake_vendor[] = "Fuzz Phones";
static const char fake_serial[] = "FZ-0001";
/* the start of a DER SubjectPublicKeyInfo: nothing here parses it */
static const uint8_t fake_spki[] = {0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2a, 0x86,
                                    0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08};
static const uint8_t fake_csr[] = {0x30, 0x0b, 0x30, 0x07, 0x02, 0x01, 0x00,
                                   0x30, 0x00, 0x30, 0x00, 0x05, 0x00};
static const uint8_t fake_installed_cert[] = {0x30, 0x05, 0x02, 0x01, 0x01, 0x05, 0x00};
static const char fake_installed_url[] = "https://ws.example/certprov";

/* ---- stand-ins for the phone's cryptography (a fuzz target has none) ---- */

static void
fake_sha256(const uint8_t *data, size_t len, uint8_t out[CTP_SHA256_SIZE])
{
	uint32_t crc = ctp_crc32(0, data, len);
	for (uint8_t i = 0; i < CTP_SHA256_SIZE / 4; i++) {
		uint32_t v = ctp_crc32(crc, &i, 1);
		out[4 * i] = (uint8_t)v;
		out[4 * i + 1] = (uint8_t)(v >> 8);
		out[4 * i + 2] = (uint8_t)(v >> 16);
		out[4 * i + 3] = (uint8_t)(v >> 24);
	}
}

static void
fake_sign(const uint8_t *data, size_t len, uint8_t sig[FAKE_SIG_LEN])
{
	sig[0] = 0x30;
	sig[1] = CTP_SHA256_SIZE;
	fake_sha256(data, len, sig + 2);
}

static bool
bytes_same(ctp_bytes a, ctp_bytes b)
{
	return a.len == b.len && ctp_bytes_present(a) == ctp_bytes_present(b) &&
	       (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}

/* ---- the fake phone's firmware ---- */

/* what every callback for a request may assume: that request is being received,
 * it is allowed in the session's state (only HELLO before HELLO), nothing is busy */
static void
check_request_callback(fake_phone *f, uint8_t type)
{
	FUZZ_CHECK(f->step == STEP_RECEIVE && f->req != NULL && f->req->type == type);
	FUZZ_CHECK(!f->busy_before);
	FUZZ_CHECK(type == CTP_MSG_HELLO || f->state_before != CTP_DEVICE_SESSION_IDLE);
	f->n_request_callbacks++;
}

static void
fake_discard_staging(fake_phone *f)
{
	memset(&f->book, 0, sizeof f->book);
	f->staged_cert_len = 0;
	memset(f->staged_setting_len, 0, sizeof f->staged_setting_len);
}

/* a firmware that quotes what went wrong, host bytes included */
static void
fake_set_error_text(fake_phone *f, const char *text)
{
	snprintf(f->fw_text, sizeof f->fw_text, "%s", text);
	f->fw_text_set = true;
	ctp_device_session_set_error_text(&f->session, f->fw_text);
}

static uint16_t
fake_fail(fake_phone *f, uint16_t rc)
{
	f->fw_rc = rc;
	return rc;
}

static uint16_t
fake_get_info(void *user, ctp_hello_rsp *info)
{
	fake_phone *f = user;
	check_request_callback(f, CTP_MSG_HELLO);
	f->n_get_info++;
	info->vendor = ctp_bytes_from_string(fake_vendor);
	info->model = ctp_bytes_from_string("Desk 9");
	info->serial = ctp_bytes_from_string(fake_serial);
	info->firmware = ctp_bytes_from_string("1.0 (fuzz)");
	info->key_algs = f->key_algs;
	info->max_frame = f->max_frame;
	info->max_chain = f->max_chain;
	info->max_anchors = f->max_anchors;
	info->capabilities = f->capabilities;
	info->identity_key = ctp_bytes_from(fake_spki, sizeof fake_spki);
	return CTP_DEVICE_OK;
}

/* PROTOCOL.md 8.1: context || challenge || u8 len(serial) || serial */
static size_t
hello_sig_input(const ctp_hello_req *h, uint8_t *out)
{
	size_t ctx = strlen(CTP_HELLO_SIG_CONTEXT);
	size_t serial = strlen(fake_serial);
	memcpy(out, CTP_HELLO_SIG_CONTEXT, ctx);
	memcpy(out + ctx, h->challenge.data, CTP_CHALLENGE_SIZE);
	out[ctx + CTP_CHALLENGE_SIZE] = (uint8_t)serial;
	memcpy(out + ctx + CTP_CHALLENGE_SIZE + 1, fake_serial, serial);
	return ctx + CTP_CHALLENGE_SIZE + 1 + serial;
}

static uint16_t
fake_sign_identity(
    void *user, const uint8_t *data, size_t len, uint8_t *sig, size_t cap, size_t *sig_len)
{
	fake_phone *f = user;
	uint8_t want[CTP_DEVICE_HELLO_SIG_INPUT_MAX];

	check_request_callback(f, CTP_MSG_HELLO);
	FUZZ_CHECK(f->n_get_info == 1);
	/* the identity key signs exactly the bytes of 8.1, for this HELLO's challenge */
	size_t want_len = hello_sig_input(&f->req->u.hello_req, want);
	FUZZ_CHECK(len == want_len && memcmp(data, want, len) == 0);
	FUZZ_CHECK(cap >= FAKE_SIG_LEN);
	fake_sign(data, len, sig);
	*sig_len = FAKE_SIG_LEN;
	return CTP_DEVICE_OK;
}

static void
fake_fill_status(const fake_phone *f, ctp_status_rsp *st)
{
	memset(st, 0, sizeof *st);
	st->state = f->provisioned ? CTP_DEVICE_STATE_PROVISIONED : CTP_DEVICE_STATE_EMPTY;
	if (f->provisioned) {
		st->certificate = ctp_bytes_from(f->cert, f->cert_len);
		st->chain_count = f->chain_count;
	}
	st->anchor_count = f->anchor_count;
	for (uint8_t i = 0; i < f->anchor_count; i++)
		st->anchor_sha256[i] = ctp_bytes_from(f->anchor_sha[i], CTP_SHA256_SIZE);
	st->n_anchor_sha256 = f->anchor_count;
	if (f->key_pending)
		st->pending_csr_sha256 = ctp_bytes_from(f->pending_csr_sha, CTP_SHA256_SIZE);
	if (f->setting_len[CTP_SETTING_WEB_SERVICE_URL - 1] > 0)
		st->web_service_url =
		    ctp_bytes_from(f->setting[CTP_SETTING_WEB_SERVICE_URL - 1],
		                   f->setting_len[CTP_SETTING_WEB_SERVICE_URL - 1]);
	if (f->setting_len[CTP_SETTING_REGISTRAR - 1] > 0)
		st->registrar = ctp_bytes_from(f->setting[CTP_SETTING_REGISTRAR - 1],
		                               f->setting_len[CTP_SETTING_REGISTRAR - 1]);
}

static uint16_t
fake_get_status(void *user, ctp_status_rsp *status)
{
	fake_phone *f = user;
	check_request_callback(f, CTP_MSG_STATUS);
	f->n_get_status++;
	fake_fill_status(f, status);
	f->status_given = *status;
	return CTP_DEVICE_OK;
}

/* the key is made: answer with the fixed CSR and a proof of possession (8.2) */
static bool
fake_finish_csr(fake_phone *f, uint32_t token)
{
	uint8_t csr_sha[CTP_SHA256_SIZE];
	uint8_t input[CTP_DEVICE_POP_SIG_INPUT_MAX];
	uint8_t pop[FAKE_SIG_LEN];
	size_t input_len = 0;

	fake_sha256(fake_csr, sizeof fake_csr, csr_sha);
	FUZZ_CHECK(ctp_device_pop_sig_input(f->csr_nonce, f->csr_nonce_len, csr_sha, input,
	                                    sizeof input, &input_len));
	fake_sign(input, input_len, pop);
	if (!ctp_device_session_csr_done(&f->session, token, fake_csr, sizeof fake_csr, pop,
	                                 sizeof pop))
		return false;
	f->key_pending = true;
	memcpy(f->pending_csr_sha, csr_sha, sizeof csr_sha);
	return true;
}

static uint16_t
fake_create_csr(void *user, const ctp_create_csr_req *req, uint32_t token)
{
	fake_phone *f = user;
	const ctp_create_csr_req *want;

	check_request_callback(f, CTP_MSG_CREATE_CSR);
	want = &f->req->u.create_csr_req;
	FUZZ_CHECK(req->key_alg == want->key_alg &&
	           (f->key_algs & CTP_KEY_ALG_BIT(req->key_alg)) != 0);
	FUZZ_CHECK(bytes_same(req->subject, want->subject) && bytes_same(req->san, want->san) &&
	           bytes_same(req->nonce, want->nonce));
	/* a fresh token for every request; none of ours still running */
	FUZZ_CHECK(token != 0 && token != f->last_token && !f->job);
	FUZZ_CHECK(ctp_device_session_token_is_current(&f->session, token));
	f->last_token = token;
	f->n_create_csr++;

	/* the views die with this call: keep what the answer needs */
	FUZZ_CHECK(req->nonce.len >= CTP_MIN_NONCE && req->nonce.len <= CTP_MAX_NONCE);
	memcpy(f->csr_nonce, req->nonce.data, req->nonce.len);
	f->csr_nonce_len = req->nonce.len;
	f->csr_fate = f->csr_nonce[0] % 4;

	if (f->async_csr) {
		f->job = true;
		f->job_cancelled = false;
		f->job_token = token;
		f->job_request_id = f->req->request_id;
		f->job_started = f->transfers;
		return CTP_DEVICE_PENDING;
	}
	switch (f->csr_fate) {
	case FUZZ_CSR_SLOW:
		return fake_fail(f, CTP_ERR_KEYGEN_FAILED);
	case FUZZ_CSR_FOREVER:
		FUZZ_CHECK(ctp_device_session_fail(&f->session, token, CTP_ERR_STORAGE,
		                                   "no room for another key"));
		f->fw_rc = CTP_ERR_STORAGE;
		return CTP_DEVICE_PENDING;
	case FUZZ_CSR_PROGRESS:
		FUZZ_CHECK(ctp_device_session_progress(&f->session, token, 50, "generating key"));
		/* fall through */
	default:
		FUZZ_CHECK(fake_finish_csr(f, token));
		return CTP_DEVICE_PENDING;
	}
}

static uint16_t
fake_stage_begin(void *user, const ctp_stage_begin_req *req)
{
	fake_phone *f = user;
	const ctp_stage_begin_req *want;

	check_request_callback(f, CTP_MSG_STAGE_BEGIN);
	want = &f->req->u.stage_begin_req;
	FUZZ_CHECK(req->txn_id == want->txn_id && req->chain_count == want->chain_count &&
	           req->anchor_count == want->anchor_count &&
	           req->setting_count == want->setting_count);
	/* the counts were checked against what HELLO_RSP announced */
	FUZZ_CHECK(req->chain_count <= f->max_chain && req->anchor_count <= f->max_anchors);
	FUZZ_CHECK(req->setting_count <= CTP_MAX_SETTINGS);
	FUZZ_CHECK(req->setting_count == 0 || (f->capabilities & CTP_CAP_SETTINGS) != 0);
	f->n_stage_begin++;

	fake_discard_staging(f);
	if (f->flaky && (req->txn_id & 0xFF) == FUZZ_FLAKY_BEGIN_TXN)
		return fake_fail(f, CTP_ERR_STORAGE);
	f->book.open = true;
	f->book.txn_id = req->txn_id;
	f->book.want[CTP_ITEM_CERTIFICATE] = 1;
	f->book.want[CTP_ITEM_CHAIN] = req->chain_count;
	f->book.want[CTP_ITEM_ANCHOR] = req->anchor_count;
	f->book.want[CTP_ITEM_SETTING] = req->setting_count;
	return CTP_DEVICE_OK;
}

static uint16_t
fake_stage_item(void *user, const ctp_stage_item_req *item)
{
	fake_phone *f = user;
	const ctp_stage_item_req *want;
	uint8_t k = item->kind;

	check_request_callback(f, CTP_MSG_STAGE_ITEM);
	FUZZ_CHECK(f->state_before == CTP_DEVICE_SESSION_STAGING && f->book.open);
	want = &f->req->u.stage_item_req;
	FUZZ_CHECK(k == want->kind && item->index == want->index &&
	           item->setting == want->setting && bytes_same(item->data, want->data));
	/* what the library promises to have checked: kind, count, order, size, setting */
	FUZZ_CHECK(k >= CTP_ITEM_CERTIFICATE && k <= CTP_ITEM_SETTING);
	FUZZ_CHECK(f->book.have[k] < f->book.want[k]);
	FUZZ_CHECK(item->index == f->book.have[k]);
	FUZZ_CHECK(item->data.len >= 1 &&
	           item->data.len <= (k == CTP_ITEM_SETTING ? CTP_MAX_SETTING : CTP_MAX_CERT));
	if (k == CTP_ITEM_SETTING)
		FUZZ_CHECK(item->setting >= CTP_SETTING_WEB_SERVICE_URL &&
		           item->setting <= CTP_SETTING_SIP_URI &&
		           (f->book.settings_seen & (1u << item->setting)) == 0);
	else
		FUZZ_CHECK(item->setting == 0);
	f->n_stage_item++;

	if (f->flaky && item->data.data[item->data.len - 1] == FUZZ_FLAKY_ITEM_BYTE)
		return fake_fail(f, CTP_ERR_STORAGE);
	switch (k) {
	case CTP_ITEM_CERTIFICATE:
		memcpy(f->staged_cert, item->data.data, item->data.len);
		f->staged_cert_len = item->data.len;
		break;
	case CTP_ITEM_ANCHOR:
		fake_sha256(item->data.data, item->data.len, f->staged_anchor_sha[item->index]);
		break;
	case CTP_ITEM_SETTING:
		memcpy(f->staged_setting[item->setting - 1], item->data.data, item->data.len);
		f->staged_setting_len[item->setting - 1] = item->data.len;
		f->book.settings_seen |= (uint8_t)(1u << item->setting);
		break;
	default:
		break; /* intermediates: only counted, nothing reads them back */
	}
	f->book.have[k]++;
	return CTP_DEVICE_OK;
}

/* 7.2 steps 2 and 3, minimally: a pending key, a leaf that looks like DER, an anchor */
static uint16_t
fake_verify(fake_phone *f)
{
	char text[sizeof f->fw_text];

	if (!f->key_pending) {
		fake_set_error_text(f, "no key is pending: CREATE_CSR first");
		return CTP_ERR_KEY_MISMATCH;
	}
	if (f->staged_cert[0] != 0x30) {
		snprintf(text, sizeof text, "certificate \"%.*s\" is not for the pending key",
		         (int)(f->staged_cert_len < 120 ? f->staged_cert_len : 120),
		         (const char *)f->staged_cert);
		fake_set_error_text(f, text);
		return CTP_ERR_KEY_MISMATCH;
	}
	if (f->book.want[CTP_ITEM_ANCHOR] == 0 && f->anchor_count == 0) {
		fake_set_error_text(f, "no trust anchor to verify the certificate with");
		return CTP_ERR_CHAIN_INVALID;
	}
	if (f->flaky && (f->book.txn_id & 0xFF) == FUZZ_FLAKY_COMMIT_TXN)
		return CTP_ERR_STORAGE;
	return CTP_DEVICE_OK;
}

static uint16_t
fake_commit(void *user, uint32_t txn_id, uint8_t cert_sha256[CTP_SHA256_SIZE])
{
	fake_phone *f = user;

	check_request_callback(f, CTP_MSG_COMMIT);
	FUZZ_CHECK(f->state_before == CTP_DEVICE_SESSION_STAGING && f->book.open);
	/* 7.2: the open transaction, with every announced item and the one certificate */
	FUZZ_CHECK(txn_id == f->book.txn_id && txn_id == f->req->u.commit_req.txn_id);
	for (uint8_t k = CTP_ITEM_CERTIFICATE; k <= CTP_ITEM_SETTING; k++)
		FUZZ_CHECK(f->book.have[k] == f->book.want[k]);
	f->n_commit++;

	uint16_t rc = fake_verify(f);
	if (rc != CTP_DEVICE_OK)
		return fake_fail(f, rc);

	/* install: the new set replaces the old one (anchors only if some came) */
	memcpy(f->cert, f->staged_cert, f->staged_cert_len);
	f->cert_len = f->staged_cert_len;
	f->chain_count = f->book.want[CTP_ITEM_CHAIN];
	if (f->book.want[CTP_ITEM_ANCHOR] > 0) {
		memcpy(f->anchor_sha, f->staged_anchor_sha, sizeof f->anchor_sha);
		f->anchor_count = f->book.want[CTP_ITEM_ANCHOR];
	}
	for (uint8_t id = CTP_SETTING_WEB_SERVICE_URL; id <= CTP_SETTING_SIP_URI; id++) {
		if ((f->book.settings_seen & (1u << id)) == 0)
			continue;
		memcpy(f->setting[id - 1], f->staged_setting[id - 1],
		       f->staged_setting_len[id - 1]);
		f->setting_len[id - 1] = f->staged_setting_len[id - 1];
	}
	f->provisioned = true;
	f->key_pending = false;
	fake_sha256(f->cert, f->cert_len, f->commit_sha);
	memcpy(cert_sha256, f->commit_sha, CTP_SHA256_SIZE);
	return CTP_DEVICE_OK;
}

static void
fake_abort(void *user)
{
	fake_phone *f = user;
	FUZZ_CHECK(f->step == STEP_RECEIVE || f->step == STEP_RESET);
	f->n_abort++;
	fake_discard_staging(f);
}

static void
fake_cancel_csr(void *user, uint32_t token)
{
	fake_phone *f = user;
	FUZZ_CHECK(f->step == STEP_RESET);
	FUZZ_CHECK(f->job && !f->job_cancelled && token == f->job_token);
	f->n_cancel++;
	f->job_cancelled = true; /* the work finishes anyway; its answer must go nowhere */
}

static int
fake_send(void *user, const uint8_t *frame, size_t len)
{
	fake_phone *f = user;
	sent_frame *s;
	uint8_t type;

	FUZZ_CHECK(f->step != STEP_NONE);
	/* written inside the transmit buffer, never past it */
	FUZZ_CHECK(frame >= f->tx && len <= f->tx_size &&
	           (size_t)(frame - f->tx) <= f->tx_size - len);
	FUZZ_CHECK(f->n_sent < MAX_SENT_PER_STEP);
	s = &f->sent[f->n_sent];
	memcpy(sent_bytes[f->n_sent], frame, len);
	s->len = len;
	FUZZ_CHECK(ctp_message_decode(sent_bytes[f->n_sent], len, &s->msg) == CTP_OK);
	f->n_sent++;
	/* a device sends responses, PROGRESS and ERROR, never a request */
	type = s->msg.type;
	FUZZ_CHECK(!ctp_message_type_is_request(type));
	FUZZ_CHECK(type == CTP_MSG_PROGRESS || type == CTP_MSG_ERROR ||
	           ((type & CTP_TYPE_RESPONSE) != 0 &&
	            ctp_message_type_is_request((uint8_t)(type & ~CTP_TYPE_RESPONSE))));
	return 0;
}

static const ctp_device_ops fake_ops = {
    .get_info = fake_get_info,
    .sign_identity = fake_sign_identity,
    .get_status = fake_get_status,
    .create_csr = fake_create_csr,
    .stage_begin = fake_stage_begin,
    .stage_item = fake_stage_item,
    .commit = fake_commit,
    .abort = fake_abort,
    .cancel_csr = fake_cancel_csr,
    .send = fake_send,
};

static void
fake_setup(fake_phone *f, const uint8_t *header)
{
	uint8_t fw = header[1];

	memset(f, 0, sizeof *f);
	f->async_csr = (fw & FUZZ_FW_ASYNC_CSR) != 0;
	f->flaky = (fw & FUZZ_FW_FLAKY) != 0;
	if (fw & FUZZ_FW_SETTINGS)
		f->capabilities |= CTP_CAP_SETTINGS;
	if (fw & FUZZ_FW_KEEPS_PENDING)
		f->capabilities |= CTP_CAP_KEEPS_PENDING;
	f->max_frame = (fw & FUZZ_FW_SMALL_FRAME) ? CTP_MIN_DEVICE_FRAME : CTP_MAX_FRAME;
	f->max_chain = header[2] % (CTP_MAX_CHAIN + 1);
	f->max_anchors = header[3] % (CTP_MAX_ANCHORS + 1);
	f->key_algs = header[4] & 0x1E;
	if (f->key_algs == 0)
		f->key_algs = CTP_KEY_ALG_BIT(CTP_KEY_EC_P256);
	if (fw & FUZZ_FW_PROVISIONED) {
		f->provisioned = true;
		memcpy(f->cert, fake_installed_cert, sizeof fake_installed_cert);
		f->cert_len = sizeof fake_installed_cert;
		f->chain_count = 1;
		fake_sha256((const uint8_t *)"anchor", 6, f->anchor_sha[0]);
		f->anchor_count = 1;
		memcpy(f->setting[0], fake_installed_url, strlen(fake_installed_url));
		f->setting_len[0] = (uint16_t)strlen(fake_installed_url);
	}
	f->max_frame_announced = CTP_MAX_FRAME;
	f->tx_size = (fw & FUZZ_FW_SMALL_TX) ? CTP_DEVICE_MIN_TX : CTP_MAX_FRAME;
	f->tx = malloc(f->tx_size);
	FUZZ_CHECK(f->tx != NULL);
	FUZZ_CHECK(ctp_device_session_init(&f->session, &fake_ops, f, f->tx, f->tx_size));
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == CTP_DEVICE_SESSION_IDLE);
}

/* ---- steps and what the host must see after each ---- */

static bool
busy_now(const fake_phone *f)
{
	return f->job && !f->job_cancelled;
}

static void
begin_step(fake_phone *f, step_kind kind, const ctp_message *req)
{
	f->step = kind;
	f->req = req;
	f->state_before = ctp_device_session_get_state(&f->session);
	f->busy_before = busy_now(f);
	f->book_before = f->book;
	f->n_request_callbacks = 0;
	f->n_get_info = f->n_get_status = f->n_create_csr = 0;
	f->n_stage_begin = f->n_stage_item = f->n_commit = 0;
	f->n_abort = f->n_cancel = 0;
	f->fw_rc = 0;
	f->fw_text_set = false;
	f->n_sent = 0;
}

/* what holds between any two steps */
static void
end_step(fake_phone *f)
{
	ctp_device_session_state state = ctp_device_session_get_state(&f->session);

	f->step = STEP_NONE;
	f->req = NULL;
	FUZZ_CHECK(state == CTP_DEVICE_SESSION_IDLE || state == CTP_DEVICE_SESSION_READY ||
	           state == CTP_DEVICE_SESSION_STAGING);
	/* the firmware stages exactly while the session is STAGING (abort on every exit) */
	FUZZ_CHECK(f->book.open == (state == CTP_DEVICE_SESSION_STAGING));
	/* busy exactly while the firmware works on a CREATE_CSR; only after HELLO */
	FUZZ_CHECK(ctp_device_session_token_is_current(&f->session, f->job_token) == busy_now(f));
	FUZZ_CHECK(!busy_now(f) || state != CTP_DEVICE_SESSION_IDLE);
	FUZZ_CHECK(!ctp_device_session_token_is_current(&f->session, 0));
}

/*
 * The frames of the step: n_progress PROGRESS frames with request id `id`, then
 * the final answer with `id` if `final`. Returns the final answer or NULL.
 */
static const ctp_message *
answers(const fake_phone *f, uint16_t id, size_t n_progress, bool final)
{
	FUZZ_CHECK(f->n_sent == n_progress + (final ? 1 : 0));
	for (size_t i = 0; i < n_progress; i++)
		FUZZ_CHECK(f->sent[i].msg.type == CTP_MSG_PROGRESS &&
		           f->sent[i].msg.request_id == id);
	if (!final)
		return NULL;
	const ctp_message *m = &f->sent[n_progress].msg;
	FUZZ_CHECK(m->type != CTP_MSG_PROGRESS && m->request_id == id);
	return m;
}

/* an acceptable ERROR text: what the codec would encode */
static bool
error_text_ok(const char *text)
{
	ctp_message m;
	size_t len = 0;

	memset(&m, 0, sizeof m);
	m.type = CTP_MSG_ERROR;
	m.u.error.code = CTP_ERR_INTERNAL;
	m.u.error.text = ctp_bytes_from_string(text);
	return ctp_message_encode(&m, scratch, sizeof scratch, &len) == CTP_OK;
}

static const ctp_message *
expect_error_after(const fake_phone *f, uint16_t id, uint16_t code, size_t n_progress)
{
	const ctp_message *m = answers(f, id, n_progress, true);
	FUZZ_CHECK(m->type == CTP_MSG_ERROR && m->u.error.code == code);
	if (!f->fw_text_set) {
		/* every error the library makes says why */
		FUZZ_CHECK(ctp_bytes_present(m->u.error.text));
	} else if (error_text_ok(f->fw_text)) {
		/* the firmware's reason wins */
		FUZZ_CHECK(bytes_same(m->u.error.text, ctp_bytes_from_string(f->fw_text)));
	} else {
		/* text that is not acceptable is dropped, the code still goes out */
		FUZZ_CHECK(!ctp_bytes_present(m->u.error.text));
	}
	return m;
}

static void
expect_error(const fake_phone *f, uint16_t id, uint16_t code)
{
	expect_error_after(f, id, code, 0);
}

/* the reason the firmware gave to ctp_device_session_fail() */
static void
expect_error_text(const ctp_message *m, const char *text)
{
	FUZZ_CHECK(bytes_same(m->u.error.text, ctp_bytes_from_string(text)));
}

static const ctp_message *
expect_response(const fake_phone *f, uint8_t request_type, uint16_t id)
{
	const ctp_message *m = answers(f, id, 0, true);
	FUZZ_CHECK(m->type == (request_type | CTP_TYPE_RESPONSE));
	return m;
}

static bool
book_same(const staging_book *a, const staging_book *b)
{
	return a->open == b->open && a->txn_id == b->txn_id &&
	       memcmp(a->want, b->want, sizeof a->want) == 0 &&
	       memcmp(a->have, b->have, sizeof a->have) == 0 &&
	       a->settings_seen == b->settings_seen;
}

/* a refused request changes nothing and reaches no firmware callback */
static void
expect_untouched(const fake_phone *f)
{
	FUZZ_CHECK(f->n_request_callbacks == 0 && f->n_abort == 0);
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == f->state_before);
	FUZZ_CHECK(book_same(&f->book, &f->book_before));
}

static void
check_hello(fake_phone *f, const ctp_message *req)
{
	const ctp_hello_req *h = &req->u.hello_req;
	uint8_t want_sig[FAKE_SIG_LEN];
	uint8_t input[CTP_DEVICE_HELLO_SIG_INPUT_MAX];

	/* section 6: no common version */
	if (h->version_min > CTP_VERSION_MAX || h->version_max < CTP_VERSION_MIN) {
		expect_untouched(f);
		expect_error(f, req->request_id, CTP_ERR_UNSUPPORTED_VERSION);
		return;
	}
	const ctp_hello_rsp *r = &expect_response(f, CTP_MSG_HELLO, req->request_id)->u.hello_rsp;
	/* the highest version in both ranges */
	uint8_t version = h->version_max < CTP_VERSION_MAX ? h->version_max : CTP_VERSION_MAX;
	FUZZ_CHECK(r->version == version && ctp_device_session_get_version(&f->session) == version);
	FUZZ_CHECK(r->key_algs == f->key_algs && r->max_frame == f->max_frame &&
	           r->max_chain == f->max_chain && r->max_anchors == f->max_anchors &&
	           r->capabilities == f->capabilities);
	FUZZ_CHECK(bytes_same(r->serial, ctp_bytes_from_string(fake_serial)) &&
	           bytes_same(r->vendor, ctp_bytes_from_string(fake_vendor)) &&
	           bytes_same(r->identity_key, ctp_bytes_from(fake_spki, sizeof fake_spki)));
	fake_sign(input, hello_sig_input(h, input), want_sig);
	FUZZ_CHECK(bytes_same(r->identity_sig, ctp_bytes_from(want_sig, sizeof want_sig)));
	/* a new session: READY, earlier staging discarded */
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == CTP_DEVICE_SESSION_READY);
	f->max_frame_announced = r->max_frame;
}

static void
check_status(fake_phone *f, const ctp_message *req)
{
	ctp_message want;
	size_t need = 0;

	FUZZ_CHECK(f->n_get_status == 1);
	memset(&want, 0, sizeof want);
	want.type = CTP_MSG_STATUS_RSP;
	want.request_id = req->request_id;
	want.u.status_rsp = f->status_given;
	FUZZ_CHECK(ctp_message_encode(&want, scratch, sizeof scratch, &need) == CTP_OK);
	if (need <= f->tx_size) {
		const ctp_message *m = expect_response(f, CTP_MSG_STATUS, req->request_id);
		FUZZ_CHECK(ctp_message_equal(m, &want));
	} else {
		/* more than the firmware's transmit buffer holds: its own fault */
		expect_error(f, req->request_id, CTP_ERR_INTERNAL);
	}
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == f->state_before);
	FUZZ_CHECK(book_same(&f->book, &f->book_before));
}

static void
check_create_csr_answer(const ctp_message *m)
{
	FUZZ_CHECK(m->type == CTP_MSG_CREATE_CSR_RSP);
	FUZZ_CHECK(bytes_same(m->u.create_csr_rsp.csr, ctp_bytes_from(fake_csr, sizeof fake_csr)));
	FUZZ_CHECK(m->u.create_csr_rsp.pop_sig.len == FAKE_SIG_LEN);
}

static void
check_create_csr(fake_phone *f, const ctp_message *req)
{
	const ctp_create_csr_req *c = &req->u.create_csr_req;
	uint16_t id = req->request_id;

	if ((f->key_algs & CTP_KEY_ALG_BIT(c->key_alg)) == 0) {
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_UNSUPPORTED_KEY);
		return;
	}
	FUZZ_CHECK(f->n_create_csr == 1);
	/* 7.1: CREATE_CSR does not touch the staging area */
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == f->state_before);
	FUZZ_CHECK(book_same(&f->book, &f->book_before) && f->n_abort == 0);
	if (f->async_csr) {
		/* the answer comes later; until then the device is busy */
		answers(f, id, 0, false);
		FUZZ_CHECK(busy_now(f));
		return;
	}
	switch (f->csr_fate) {
	case FUZZ_CSR_SLOW:
		expect_error(f, id, CTP_ERR_KEYGEN_FAILED);
		break;
	case FUZZ_CSR_FOREVER:
		expect_error_text(expect_error_after(f, id, CTP_ERR_STORAGE, 0),
		                  "no room for another key");
		break;
	case FUZZ_CSR_PROGRESS:
		check_create_csr_answer(answers(f, id, 1, true));
		break;
	default:
		check_create_csr_answer(answers(f, id, 0, true));
		break;
	}
	FUZZ_CHECK(!busy_now(f));
}

static void
check_stage_begin(fake_phone *f, const ctp_message *req)
{
	const ctp_stage_begin_req *b = &req->u.stage_begin_req;
	uint16_t id = req->request_id;
	ctp_device_session_state after = ctp_device_session_get_state(&f->session);

	/* 5.4: counts above what HELLO_RSP announced */
	if (b->chain_count > f->max_chain || b->anchor_count > f->max_anchors ||
	    b->setting_count > CTP_MAX_SETTINGS ||
	    (b->setting_count > 0 && (f->capabilities & CTP_CAP_SETTINGS) == 0)) {
		FUZZ_CHECK(f->n_request_callbacks == 0);
		expect_error(f, id, CTP_ERR_TOO_LARGE);
		/* "a new STAGE_BEGIN discards earlier staging": a refused one may too */
		FUZZ_CHECK(after == f->state_before || after == CTP_DEVICE_SESSION_READY);
		return;
	}
	FUZZ_CHECK(f->n_stage_begin == 1);
	if (f->fw_rc != 0) {
		expect_error(f, id, f->fw_rc);
		FUZZ_CHECK(after == CTP_DEVICE_SESSION_READY);
		return;
	}
	expect_response(f, CTP_MSG_STAGE_BEGIN, id);
	FUZZ_CHECK(after == CTP_DEVICE_SESSION_STAGING && f->book.txn_id == b->txn_id);
}

/* 5.4: what a device answers to an item, given its staging area before it */
static uint16_t
item_verdict(const staging_book *book, const ctp_stage_item_req *it, uint32_t max_frame)
{
	uint8_t k = it->kind;

	if (book->have[k] >= book->want[k])
		return CTP_ERR_TOO_LARGE; /* the count is checked before the order */
	if (it->index != book->have[k])
		return CTP_ERR_BAD_STATE;
	if ((uint32_t)it->data.len + CTP_HEADER_SIZE > max_frame)
		return CTP_ERR_TOO_LARGE;
	if (k == CTP_ITEM_SETTING && (book->settings_seen & (1u << it->setting)) != 0)
		return CTP_ERR_BAD_STATE;
	return CTP_DEVICE_OK;
}

static void
check_stage_item(fake_phone *f, const ctp_message *req)
{
	uint16_t id = req->request_id;

	if (f->state_before != CTP_DEVICE_SESSION_STAGING) {
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_BAD_STATE);
		return;
	}
	uint16_t verdict =
	    item_verdict(&f->book_before, &req->u.stage_item_req, f->max_frame_announced);
	if (verdict != CTP_DEVICE_OK) {
		expect_untouched(f);
		expect_error(f, id, verdict);
		return;
	}
	FUZZ_CHECK(f->n_stage_item == 1 && f->n_abort == 0);
	if (f->fw_rc != 0)
		expect_error(f, id, f->fw_rc);
	else
		expect_response(f, CTP_MSG_STAGE_ITEM, id);
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == CTP_DEVICE_SESSION_STAGING);
}

static void
check_commit(fake_phone *f, const ctp_message *req)
{
	const staging_book *b = &f->book_before;
	uint16_t id = req->request_id;
	bool complete = true;

	for (uint8_t k = CTP_ITEM_CERTIFICATE; k <= CTP_ITEM_SETTING; k++)
		complete = complete && b->have[k] == b->want[k];
	/* 7.2: the open transaction's id, every announced item; else nothing happens */
	if (f->state_before != CTP_DEVICE_SESSION_STAGING ||
	    req->u.commit_req.txn_id != b->txn_id || !complete) {
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_BAD_STATE);
		return;
	}
	FUZZ_CHECK(f->n_commit == 1);
	if (f->fw_rc != 0) {
		expect_error(f, id, f->fw_rc);
	} else {
		const ctp_message *m = expect_response(f, CTP_MSG_COMMIT, id);
		FUZZ_CHECK(bytes_same(m->u.commit_rsp.certificate_sha256,
		                      ctp_bytes_from(f->commit_sha, CTP_SHA256_SIZE)));
	}
	/* whatever the result, COMMIT consumes the staging area */
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == CTP_DEVICE_SESSION_READY);
}

static void
check_abort(fake_phone *f, const ctp_message *req)
{
	FUZZ_CHECK(f->n_request_callbacks == 0);
	expect_response(f, CTP_MSG_ABORT, req->request_id);
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == CTP_DEVICE_SESSION_READY);
}

/* the one answer to a transfer, in the order of checks of 2.2, 3.1 and 7.1 */
static void
check_receive(fake_phone *f, const uint8_t *buf, size_t len, const ctp_message *req)
{
	ctp_frame frame;

	if (ctp_frame_decode(buf, len, &frame) != CTP_OK) {
		expect_untouched(f);
		expect_error(f, 0, CTP_ERR_BAD_FRAME);
		return;
	}
	uint16_t id = frame.request_id;
	if (len > f->max_frame_announced) {
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_TOO_LARGE);
		return;
	}
	if (!ctp_message_type_is_request(frame.type)) {
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_UNKNOWN_MESSAGE);
		return;
	}
	if (req == NULL) {
		/* the payload breaks section 4 or 5, or request id 0 (3.1) */
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_BAD_MESSAGE);
		return;
	}
	FUZZ_CHECK(id != 0);
	if (req->type == CTP_MSG_PING) {
		/* every state, also busy: the cookie comes back byte for byte */
		expect_untouched(f);
		const ctp_message *m = expect_response(f, CTP_MSG_PING, id);
		FUZZ_CHECK(bytes_same(m->u.ping.cookie, req->u.ping.cookie));
		return;
	}
	if (f->busy_before ||
	    (f->state_before == CTP_DEVICE_SESSION_IDLE && req->type != CTP_MSG_HELLO)) {
		expect_untouched(f);
		expect_error(f, id, CTP_ERR_BAD_STATE);
		return;
	}
	switch (req->type) {
	case CTP_MSG_HELLO:
		check_hello(f, req);
		break;
	case CTP_MSG_STATUS:
		check_status(f, req);
		break;
	case CTP_MSG_CREATE_CSR:
		check_create_csr(f, req);
		break;
	case CTP_MSG_STAGE_BEGIN:
		check_stage_begin(f, req);
		break;
	case CTP_MSG_STAGE_ITEM:
		check_stage_item(f, req);
		break;
	case CTP_MSG_COMMIT:
		check_commit(f, req);
		break;
	case CTP_MSG_ABORT:
		check_abort(f, req);
		break;
	default:
		FUZZ_CHECK(false);
	}
}

static void
run_receive(fake_phone *f, const uint8_t *buf, size_t len)
{
	ctp_message req;
	bool is_request =
	    ctp_message_decode(buf, len, &req) == CTP_OK && ctp_message_type_is_request(req.type);

	f->transfers++;
	begin_step(f, STEP_RECEIVE, is_request ? &req : NULL);
	ctp_device_session_receive(&f->session, buf, len);
	check_receive(f, buf, len, is_request ? &req : NULL);
	end_step(f);
}

/* USB reset or SET_INTERFACE: back to IDLE, staging and the pending request dropped */
static void
run_reset(fake_phone *f)
{
	bool had_job = busy_now(f);

	f->transfers++;
	begin_step(f, STEP_RESET, NULL);
	ctp_device_session_reset(&f->session);
	FUZZ_CHECK(f->n_sent == 0 && f->n_request_callbacks == 0);
	FUZZ_CHECK(f->n_cancel == (had_job ? 1u : 0u));
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == CTP_DEVICE_SESSION_IDLE);
	FUZZ_CHECK(ctp_device_session_get_version(&f->session) == 0);
	f->max_frame_announced = CTP_MAX_FRAME;
	end_step(f);
	/* the session ended: without KEEPS_PENDING the phone forgets its pending key */
	if ((f->capabilities & CTP_CAP_KEEPS_PENDING) == 0)
		f->key_pending = false;
}

/* the firmware's key generation task, between transfers */
static void
run_firmware(fake_phone *f)
{
	if (!f->job || f->job_started == f->transfers)
		return; /* nothing running, or started by the transfer just handled */

	uint32_t token = f->job_token;
	begin_step(f, STEP_FIRMWARE, NULL);
	if (f->job_cancelled) {
		/* the work of a reset session finishes anyway: it must go nowhere */
		FUZZ_CHECK(!ctp_device_session_progress(&f->session, token, 99, NULL));
		FUZZ_CHECK(!fake_finish_csr(f, token));
		FUZZ_CHECK(!ctp_device_session_fail(&f->session, token, CTP_ERR_INTERNAL, NULL));
		FUZZ_CHECK(f->n_sent == 0);
		f->job = false;
	} else {
		unsigned age = f->transfers - f->job_started;
		bool finish = f->csr_fate == FUZZ_CSR_DONE || f->csr_fate == FUZZ_CSR_PROGRESS ||
		              (f->csr_fate == FUZZ_CSR_SLOW && age >= 2);
		FUZZ_CHECK(ctp_device_session_progress(&f->session, token, (uint8_t)(age * 40),
		                                       "generating key"));
		FUZZ_CHECK(f->sent[0].msg.u.progress.percent <= 100);
		if (finish && f->csr_fate == FUZZ_CSR_PROGRESS) {
			FUZZ_CHECK(ctp_device_session_fail(
			    &f->session, token, CTP_ERR_KEYGEN_FAILED, "entropy source failed"));
			f->fw_rc = CTP_ERR_KEYGEN_FAILED;
		} else if (finish) {
			FUZZ_CHECK(fake_finish_csr(f, token));
		}
		const ctp_message *m = answers(f, f->job_request_id, 1, finish);
		if (m != NULL && f->fw_rc != 0)
			expect_error_text(expect_error_after(f, f->job_request_id, f->fw_rc, 1),
			                  "entropy source failed");
		else if (m != NULL)
			check_create_csr_answer(m);
		if (finish) {
			f->job = false;
			/* the token is used up */
			FUZZ_CHECK(!ctp_device_session_csr_done(&f->session, token, fake_csr,
			                                        sizeof fake_csr, fake_csr,
			                                        sizeof fake_csr));
			FUZZ_CHECK(f->n_sent == 2);
		}
	}
	FUZZ_CHECK(f->n_request_callbacks == 0 && f->n_abort == 0);
	FUZZ_CHECK(ctp_device_session_get_state(&f->session) == f->state_before);
	FUZZ_CHECK(book_same(&f->book, &f->book_before));
	end_step(f);
}

/* ---- turning input bytes into transfers ---- */

typedef struct {
	const uint8_t *p;
	size_t n, pos;
} seed_reader;

static uint8_t
rd_u8(seed_reader *r)
{
	return r->pos < r->n ? r->p[r->pos++] : 0;
}

static uint16_t
rd_u16(seed_reader *r)
{
	uint16_t lo = rd_u8(r);
	return (uint16_t)(lo | (rd_u8(r) << 8));
}

static uint32_t
rd_u32(seed_reader *r)
{
	uint32_t lo = rd_u16(r);
	return lo | ((uint32_t)rd_u16(r) << 16);
}

/* len bytes: the input's while it lasts, zeros after; printable ASCII if text */
static ctp_bytes
rd_bytes(seed_reader *r, uint8_t *out, size_t len, bool text)
{
	for (size_t i = 0; i < len; i++) {
		uint8_t b = rd_u8(r);
		out[i] = text ? (uint8_t)(0x20 + b % 95) : b;
	}
	return ctp_bytes_from(out, len);
}

static uint8_t *
copy_exact(const uint8_t *data, size_t len)
{
	uint8_t *buf = malloc(len > 0 ? len : 1);
	FUZZ_CHECK(buf != NULL);
	if (len > 0)
		memcpy(buf, data, len);
	return buf;
}

/* STRUCTURED: a request from field seeds, encoded by the codec (see the header) */
static uint8_t *
build_structured(const fake_phone *f, const uint8_t *data, size_t n, size_t *len)
{
	static uint8_t frame[CTP_MAX_FRAME];
	static uint8_t challenge[CTP_CHALLENGE_SIZE], host_name[CTP_MAX_TEXT];
	static uint8_t nonce[CTP_MAX_NONCE], subject[CTP_MAX_NAME_DER], san[CTP_MAX_SAN_DER];
	static uint8_t item[CTP_MAX_CERT], cookie[CTP_MAX_COOKIE];
	seed_reader r = {data, n, 0};
	uint8_t selector = rd_u8(&r) % 9;
	uint16_t id = rd_u16(&r);
	ctp_message m;

	if (selector == 8) {
		/* any type, any payload, but a frame the device cannot drop */
		uint8_t type = rd_u8(&r);
		size_t payload = r.n - r.pos;
		if (payload > CTP_MAX_PAYLOAD)
			payload = CTP_MAX_PAYLOAD;
		memcpy(frame + CTP_HEADER_SIZE, r.p + r.pos, payload);
		FUZZ_CHECK(ctp_frame_seal(frame, sizeof frame, type, id, payload, len) == CTP_OK);
		return copy_exact(frame, *len);
	}

	memset(&m, 0, sizeof m);
	m.type = (uint8_t)(CTP_MSG_HELLO + selector);
	m.request_id = id != 0 ? id : 1; /* the codec refuses id 0: patched below */
	switch (m.type) {
	case CTP_MSG_HELLO: {
		ctp_hello_req *h = &m.u.hello_req;
		h->version_min = rd_u8(&r);
		h->version_max = rd_u8(&r);
		if (h->version_min == 0)
			h->version_min = 1;
		if (h->version_max < h->version_min)
			h->version_max = h->version_min;
		h->challenge = rd_bytes(&r, challenge, sizeof challenge, false);
		size_t name_len = rd_u8(&r) % (CTP_MAX_TEXT + 1);
		if (name_len > 0)
			h->host_name = rd_bytes(&r, host_name, name_len, true);
		break;
	}
	case CTP_MSG_CREATE_CSR: {
		ctp_create_csr_req *c = &m.u.create_csr_req;
		c->key_alg = (uint8_t)(CTP_KEY_RSA_2048 + rd_u8(&r) % 4);
		size_t nonce_len = CTP_MIN_NONCE + rd_u8(&r) % (CTP_MAX_NONCE - CTP_MIN_NONCE + 1);
		c->nonce = rd_bytes(&r, nonce, nonce_len, false);
		size_t subject_len = 2 + rd_u16(&r) % (CTP_MAX_NAME_DER - 1);
		c->subject = rd_bytes(&r, subject, subject_len, false);
		uint16_t san_seed = rd_u16(&r);
		if (san_seed != 0)
			c->san =
			    rd_bytes(&r, san, 2 + (san_seed - 1u) % (CTP_MAX_SAN_DER - 1), false);
		break;
	}
	case CTP_MSG_STAGE_BEGIN: {
		ctp_stage_begin_req *b = &m.u.stage_begin_req;
		b->txn_id = rd_u32(&r);
		b->chain_count = rd_u8(&r) % (CTP_MAX_CHAIN + 1);
		b->anchor_count = rd_u8(&r) % (CTP_MAX_ANCHORS + 1);
		b->setting_count = rd_u8(&r) % (CTP_MAX_SETTINGS + 1);
		break;
	}
	case CTP_MSG_STAGE_ITEM: {
		ctp_stage_item_req *it = &m.u.stage_item_req;
		it->kind = (uint8_t)(CTP_ITEM_CERTIFICATE + rd_u8(&r) % 4);
		uint8_t index_seed = rd_u8(&r);
		uint8_t setting_seed = rd_u8(&r);
		uint16_t len_seed = rd_u16(&r);
		/* the index range the codec allows for the kind */
		uint8_t range = it->kind == CTP_ITEM_CERTIFICATE ? 1
		                : it->kind == CTP_ITEM_SETTING   ? CTP_MAX_SETTINGS
		                                                 : CTP_MAX_CHAIN;
		if (index_seed & FUZZ_SEED_NEXT)
			it->index = f->book.have[it->kind] < range ? f->book.have[it->kind]
			                                           : (uint8_t)(range - 1);
		else
			it->index = (uint8_t)((index_seed & 0x7F) % range);
		bool setting = it->kind == CTP_ITEM_SETTING;
		it->setting =
		    setting ? (uint8_t)(CTP_SETTING_WEB_SERVICE_URL + setting_seed % 3) : 0;
		size_t data_len = 1 + len_seed % (setting ? CTP_MAX_SETTING : CTP_MAX_CERT);
		it->data = rd_bytes(&r, item, data_len, setting);
		break;
	}
	case CTP_MSG_COMMIT: {
		uint8_t which = rd_u8(&r);
		m.u.commit_req.txn_id = rd_u32(&r);
		if ((which & FUZZ_SEED_NEXT) && f->book.open)
			m.u.commit_req.txn_id = f->book.txn_id;
		break;
	}
	case CTP_MSG_PING: {
		size_t cookie_len = rd_u8(&r) % (CTP_MAX_COOKIE + 1);
		if (cookie_len > 0)
			m.u.ping.cookie = rd_bytes(&r, cookie, cookie_len, false);
		break;
	}
	default:
		break; /* STATUS, ABORT: no fields */
	}
	FUZZ_CHECK(ctp_message_encode(&m, frame, sizeof frame, len) == CTP_OK);
	if (id == 0)
		FUZZ_CHECK(ctp_frame_seal(frame, sizeof frame, m.type, 0, *len - CTP_HEADER_SIZE,
		                          len) == CTP_OK);
	return copy_exact(frame, *len);
}

static void
run_transfer(fake_phone *f, unsigned mode, const uint8_t *data, size_t n)
{
	uint8_t *buf = NULL;
	size_t len = n;

	if (mode == FUZZ_SESSION_MODE_MIXED) {
		mode = n > 0 ? data[0] % 3 : FUZZ_SESSION_MODE_RAW;
		if (n > 0) {
			data++;
			n--;
			len = n;
		}
	}
	if (mode == FUZZ_SESSION_MODE_STRUCTURED)
		buf = build_structured(f, data, n, &len);
	else if (mode == FUZZ_SESSION_MODE_FIXED)
		buf = fuzz_ctp_fix_frame(data, n, FUZZ_CTP_ANY_TYPE);
	if (buf == NULL)
		buf = copy_exact(data, n); /* RAW, or too short to fix */
	run_receive(f, buf, len);
	free(buf);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fake_phone *f = &phone;
	size_t pos = FUZZ_SESSION_HEADER_SIZE;

	if (size < FUZZ_SESSION_HEADER_SIZE)
		return 0;
	fake_setup(f, data);
	unsigned mode = data[0] % 4;
	for (unsigned steps = 0; steps < FUZZ_SESSION_MAX_STEPS && size - pos >= 2; steps++) {
		size_t n = (size_t)data[pos] | ((size_t)data[pos + 1] << 8);
		pos += 2;
		if (n == FUZZ_SESSION_RESET) {
			run_reset(f);
		} else {
			if (n > size - pos)
				n = size - pos;
			run_transfer(f, mode, data + pos, n);
			pos += n;
		}
		run_firmware(f);
	}
	/* unplugged at the end: whatever still runs is cancelled and goes nowhere */
	run_reset(f);
	run_firmware(f);
	free(f->tx);
	return 0;
}
