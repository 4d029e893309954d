/*
 * Sample CTP messages for tests and fuzz seeds. Each message is valid; the
 * "-max" variants put every field at its largest allowed size.
 */
#include "tests/unit/ctp-test-messages.h"

#include <string.h>

#define N_MAX 48

static ctp_test_message samples[N_MAX];
static size_t n_samples;

static uint8_t pattern[CTP_MAX_CERT]; /* opaque bytes: DER stand-ins, signatures */
static uint8_t sha[CTP_MAX_ANCHORS][CTP_SHA256_SIZE];
static char text_max[CTP_MAX_SETTING]; /* valid UTF-8 of any length up to the largest */

static ctp_bytes
opaque(size_t len)
{
	return ctp_bytes_from(pattern, len);
}

/* ASCII with a two-byte character ending every 8th byte: valid UTF-8 when len % 8 == 0 */
static ctp_bytes
text(size_t len)
{
	return ctp_bytes_from(text_max, len);
}

static ctp_message *
add(const char *name, uint8_t type, uint16_t request_id)
{
	ctp_test_message *t = &samples[n_samples++];
	t->name = name;
	t->msg.type = type;
	t->msg.request_id = request_id;
	return &t->msg;
}

static void
init_data(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + 1);
	for (size_t i = 0; i < CTP_MAX_ANCHORS; i++)
		memset(sha[i], (int)(0xa0 + i), CTP_SHA256_SIZE);
	for (size_t i = 0; i < sizeof(text_max);) {
		if (i % 8 == 6 && i + 1 < sizeof(text_max)) {
			text_max[i++] = (char)0xc3; /* U+00E9 */
			text_max[i++] = (char)0xa9;
		} else {
			text_max[i] = (char)('a' + i % 26);
			i++;
		}
	}
}

static void
init_samples(void)
{
	ctp_message *m;

	init_data();

	m = add("hello-min", CTP_MSG_HELLO, 1);
	m->u.hello_req.version_min = 1;
	m->u.hello_req.version_max = 1;
	m->u.hello_req.challenge = opaque(CTP_CHALLENGE_SIZE);

	m = add("hello-max", CTP_MSG_HELLO, 0xffff);
	m->u.hello_req.version_min = 1;
	m->u.hello_req.version_max = 255;
	m->u.hello_req.challenge = opaque(CTP_CHALLENGE_SIZE);
	m->u.hello_req.host_name = text(CTP_MAX_TEXT);

	m = add("hello-rsp", CTP_MSG_HELLO_RSP, 1);
	m->u.hello_rsp.version = 1;
	m->u.hello_rsp.vendor = ctp_bytes_from_string("Acme Telephony");
	m->u.hello_rsp.model = ctp_bytes_from_string("DeskPhone 100 \xe2\x98\x8e");
	m->u.hello_rsp.serial = ctp_bytes_from_string("ACME-0001");
	m->u.hello_rsp.firmware = ctp_bytes_from_string("1.2.3");
	m->u.hello_rsp.key_algs =
	    CTP_KEY_ALG_BIT(CTP_KEY_RSA_2048) | CTP_KEY_ALG_BIT(CTP_KEY_EC_P256);
	m->u.hello_rsp.max_frame = CTP_MAX_FRAME;
	m->u.hello_rsp.max_chain = 4;
	m->u.hello_rsp.max_anchors = 8;
	m->u.hello_rsp.capabilities = CTP_CAP_SETTINGS | CTP_CAP_KEEPS_PENDING;
	m->u.hello_rsp.identity_key = opaque(91);
	m->u.hello_rsp.identity_sig = opaque(71);

	m = add("hello-rsp-max", CTP_MSG_HELLO_RSP, 2);
	m->u.hello_rsp.version = 255;
	m->u.hello_rsp.vendor = text(CTP_MAX_TEXT);
	m->u.hello_rsp.model = text(CTP_MAX_TEXT);
	m->u.hello_rsp.serial = ctp_bytes_from("0123456789abcdefghijklmnopqrstuvwxyz"
	                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ!#",
	                                       CTP_MAX_TEXT);
	m->u.hello_rsp.firmware = text(CTP_MAX_TEXT);
	m->u.hello_rsp.key_algs =
	    CTP_KEY_ALG_BIT(CTP_KEY_RSA_2048) | CTP_KEY_ALG_BIT(CTP_KEY_RSA_3072) |
	    CTP_KEY_ALG_BIT(CTP_KEY_EC_P256) | CTP_KEY_ALG_BIT(CTP_KEY_EC_P384);
	m->u.hello_rsp.max_frame = CTP_MIN_DEVICE_FRAME;
	m->u.hello_rsp.max_chain = CTP_MAX_CHAIN;
	m->u.hello_rsp.max_anchors = CTP_MAX_ANCHORS;
	m->u.hello_rsp.capabilities = 0xffffffffu; /* unknown bits are ignored */
	m->u.hello_rsp.identity_key = opaque(CTP_MAX_PUBKEY);
	m->u.hello_rsp.identity_sig = opaque(CTP_MAX_SIGNATURE);

	add("status", CTP_MSG_STATUS, 3);

	m = add("status-rsp-empty", CTP_MSG_STATUS_RSP, 3);
	m->u.status_rsp.state = CTP_DEVICE_STATE_EMPTY;

	m = add("status-rsp", CTP_MSG_STATUS_RSP, 4);
	m->u.status_rsp.state = CTP_DEVICE_STATE_PROVISIONED;
	m->u.status_rsp.certificate = opaque(812);
	m->u.status_rsp.chain_count = 1;
	m->u.status_rsp.anchor_count = 2;
	m->u.status_rsp.anchor_sha256[0] = ctp_bytes_from(sha[0], CTP_SHA256_SIZE);
	m->u.status_rsp.anchor_sha256[1] = ctp_bytes_from(sha[1], CTP_SHA256_SIZE);
	m->u.status_rsp.n_anchor_sha256 = 2;
	m->u.status_rsp.pending_csr_sha256 = ctp_bytes_from(sha[5], CTP_SHA256_SIZE);
	m->u.status_rsp.web_service_url = ctp_bytes_from_string(
	    "https://pool01.example.org/CertProv/CertProvisioningService.svc");
	m->u.status_rsp.registrar = ctp_bytes_from_string("sip:pool01.example.org;transport=tls");

	m = add("status-rsp-max", CTP_MSG_STATUS_RSP, 5);
	m->u.status_rsp.state = CTP_DEVICE_STATE_PROVISIONED;
	m->u.status_rsp.certificate = opaque(CTP_MAX_CERT);
	m->u.status_rsp.chain_count = CTP_MAX_CHAIN;
	m->u.status_rsp.anchor_count = CTP_MAX_ANCHORS;
	for (size_t i = 0; i < CTP_MAX_ANCHORS; i++)
		m->u.status_rsp.anchor_sha256[i] = ctp_bytes_from(sha[i], CTP_SHA256_SIZE);
	m->u.status_rsp.n_anchor_sha256 = CTP_MAX_ANCHORS;
	m->u.status_rsp.pending_csr_sha256 = ctp_bytes_from(sha[3], CTP_SHA256_SIZE);
	m->u.status_rsp.web_service_url = text(CTP_MAX_SETTING);
	m->u.status_rsp.registrar = text(CTP_MAX_SETTING);

	m = add("create-csr", CTP_MSG_CREATE_CSR, 6);
	m->u.create_csr_req.key_alg = CTP_KEY_RSA_2048;
	m->u.create_csr_req.subject = opaque(60);
	m->u.create_csr_req.nonce = opaque(CTP_MIN_NONCE);

	m = add("create-csr-max", CTP_MSG_CREATE_CSR, 7);
	m->u.create_csr_req.key_alg = CTP_KEY_EC_P384;
	m->u.create_csr_req.subject = opaque(CTP_MAX_NAME_DER);
	m->u.create_csr_req.san = opaque(CTP_MAX_SAN_DER);
	m->u.create_csr_req.nonce = opaque(CTP_MAX_NONCE);

	m = add("create-csr-ec", CTP_MSG_CREATE_CSR, 8);
	m->u.create_csr_req.key_alg = CTP_KEY_EC_P256;
	m->u.create_csr_req.subject = opaque(2);
	m->u.create_csr_req.san = opaque(2);
	m->u.create_csr_req.nonce = opaque(32);

	m = add("create-csr-rsp", CTP_MSG_CREATE_CSR_RSP, 6);
	m->u.create_csr_rsp.csr = opaque(702);
	m->u.create_csr_rsp.pop_sig = opaque(256);

	m = add("create-csr-rsp-max", CTP_MSG_CREATE_CSR_RSP, 7);
	m->u.create_csr_rsp.csr = opaque(CTP_MAX_CSR);
	m->u.create_csr_rsp.pop_sig = opaque(CTP_MAX_SIGNATURE);

	m = add("stage-begin", CTP_MSG_STAGE_BEGIN, 9);
	m->u.stage_begin_req.txn_id = 0x12345678;
	m->u.stage_begin_req.chain_count = 1;
	m->u.stage_begin_req.anchor_count = 1;
	m->u.stage_begin_req.setting_count = 2;

	m = add("stage-begin-min", CTP_MSG_STAGE_BEGIN, 10);

	m = add("stage-begin-max", CTP_MSG_STAGE_BEGIN, 11);
	m->u.stage_begin_req.txn_id = 0xffffffffu;
	m->u.stage_begin_req.chain_count = CTP_MAX_CHAIN;
	m->u.stage_begin_req.anchor_count = CTP_MAX_ANCHORS;
	m->u.stage_begin_req.setting_count = CTP_MAX_SETTINGS;

	add("stage-begin-rsp", CTP_MSG_STAGE_BEGIN_RSP, 9);

	m = add("stage-item-cert", CTP_MSG_STAGE_ITEM, 12);
	m->u.stage_item_req.kind = CTP_ITEM_CERTIFICATE;
	m->u.stage_item_req.data = opaque(1200);

	m = add("stage-item-cert-max", CTP_MSG_STAGE_ITEM, 13);
	m->u.stage_item_req.kind = CTP_ITEM_CERTIFICATE;
	m->u.stage_item_req.data = opaque(CTP_MAX_CERT);

	m = add("stage-item-chain", CTP_MSG_STAGE_ITEM, 14);
	m->u.stage_item_req.kind = CTP_ITEM_CHAIN;
	m->u.stage_item_req.index = CTP_MAX_CHAIN - 1;
	m->u.stage_item_req.data = opaque(900);

	m = add("stage-item-anchor", CTP_MSG_STAGE_ITEM, 15);
	m->u.stage_item_req.kind = CTP_ITEM_ANCHOR;
	m->u.stage_item_req.index = CTP_MAX_ANCHORS - 1;
	m->u.stage_item_req.data = opaque(850);

	m = add("stage-item-setting", CTP_MSG_STAGE_ITEM, 16);
	m->u.stage_item_req.kind = CTP_ITEM_SETTING;
	m->u.stage_item_req.index = 0;
	m->u.stage_item_req.setting = CTP_SETTING_WEB_SERVICE_URL;
	m->u.stage_item_req.data = ctp_bytes_from_string(
	    "https://pool01.example.org/CertProv/CertProvisioningService.svc");

	m = add("stage-item-setting-max", CTP_MSG_STAGE_ITEM, 17);
	m->u.stage_item_req.kind = CTP_ITEM_SETTING;
	m->u.stage_item_req.index = CTP_MAX_SETTINGS - 1;
	m->u.stage_item_req.setting = CTP_SETTING_SIP_URI;
	m->u.stage_item_req.data = text(CTP_MAX_SETTING);

	add("stage-item-rsp", CTP_MSG_STAGE_ITEM_RSP, 12);

	m = add("commit", CTP_MSG_COMMIT, 18);
	m->u.commit_req.txn_id = 0x12345678;

	m = add("commit-rsp", CTP_MSG_COMMIT_RSP, 18);
	m->u.commit_rsp.certificate_sha256 = ctp_bytes_from(sha[7], CTP_SHA256_SIZE);

	add("abort", CTP_MSG_ABORT, 19);
	add("abort-rsp", CTP_MSG_ABORT_RSP, 19);

	add("ping", CTP_MSG_PING, 20);
	m = add("ping-cookie", CTP_MSG_PING, 21);
	m->u.ping.cookie = opaque(CTP_MAX_COOKIE);
	add("ping-rsp", CTP_MSG_PING_RSP, 20);
	m = add("ping-rsp-cookie", CTP_MSG_PING_RSP, 21);
	m->u.ping.cookie = opaque(8);

	m = add("progress", CTP_MSG_PROGRESS, 6);
	m->u.progress.percent = 0;

	m = add("progress-max", CTP_MSG_PROGRESS, 6);
	m->u.progress.percent = 100;
	m->u.progress.text = text(CTP_MAX_PROGRESS_TEXT);

	m = add("error-bad-frame", CTP_MSG_ERROR, 0);
	m->u.error.code = CTP_ERR_BAD_FRAME;

	m = add("error-max", CTP_MSG_ERROR, 22);
	m->u.error.code = CTP_ERR_INTERNAL;
	m->u.error.text = text(CTP_MAX_ERROR_TEXT);

	m = add("error-state", CTP_MSG_ERROR, 23);
	m->u.error.code = CTP_ERR_BAD_STATE;
	m->u.error.text = ctp_bytes_from_string("COMMIT without STAGE_BEGIN");
}

const ctp_test_message *
ctp_test_messages(size_t *n_messages)
{
	if (n_samples == 0)
		init_samples();
	*n_messages = n_samples;
	return samples;
}
