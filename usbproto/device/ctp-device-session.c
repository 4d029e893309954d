/*
 * CTP device-side session: states, bounds and error answers (see the header).
 * libc only: no allocation, no stdio; numbers in error texts are formatted by hand.
 */
#include "usbproto/device/ctp-device-session.h"

#include <string.h>

#define HELLO_CONTEXT_LEN (sizeof(CTP_HELLO_SIG_CONTEXT) - 1)
#define POP_CONTEXT_LEN   (sizeof(CTP_CSR_POP_CONTEXT) - 1)

/* a small bounded string builder for error texts (no snprintf in firmware) */
typedef struct {
	char buf[CTP_MAX_ERROR_TEXT + 1];
	size_t len;
} ctp_text_builder;

static void
tb_add(ctp_text_builder *tb, const char *s)
{
	size_t n = strlen(s);
	if (n > CTP_MAX_ERROR_TEXT - tb->len)
		n = CTP_MAX_ERROR_TEXT - tb->len;
	memcpy(tb->buf + tb->len, s, n);
	tb->len += n;
	tb->buf[tb->len] = '\0';
}

static void
tb_add_u32(ctp_text_builder *tb, uint32_t v)
{
	char digits[11];
	size_t i = sizeof digits - 1;
	digits[i] = '\0';
	do {
		digits[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	tb_add(tb, digits + i);
}

/* cut s to at most max bytes without splitting a UTF-8 sequence */
static size_t
utf8_prefix_len(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n <= max)
		return n;
	n = max;
	while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
		n--;
	return n;
}

static void
send_frame(ctp_device_session *s, const ctp_message *msg)
{
	size_t len = 0;
	if (ctp_message_encode(msg, s->tx, s->tx_cap, &len) != CTP_OK)
		return;
	if (s->ops->send(s->user, s->tx, len) == 0)
		s->frames_sent++;
}

static void
send_error(ctp_device_session *s, uint16_t request_id, uint16_t code, const char *text)
{
	ctp_message msg;
	memset(&msg, 0, sizeof msg);
	msg.type = CTP_MSG_ERROR;
	msg.request_id = request_id;
	/* a firmware code outside the protocol's set still gets an answer: INTERNAL */
	if (code < CTP_ERR_BAD_FRAME || code > CTP_ERR_INTERNAL)
		code = CTP_ERR_INTERNAL;
	msg.u.error.code = code;
	/* a reason the firmware gave wins over the library's generic one */
	if (s->error_text[0] != '\0')
		text = s->error_text;
	if (text != NULL && text[0] != '\0')
		msg.u.error.text = ctp_bytes_from(text, utf8_prefix_len(text, CTP_MAX_ERROR_TEXT));

	size_t len = 0;
	ctp_result r = ctp_message_encode(&msg, s->tx, s->tx_cap, &len);
	if (r != CTP_OK && ctp_bytes_present(msg.u.error.text)) {
		/* the text itself was unacceptable (not UTF-8, control characters) */
		msg.u.error.text = ctp_bytes_from(NULL, 0);
		r = ctp_message_encode(&msg, s->tx, s->tx_cap, &len);
	}
	s->error_text[0] = '\0';
	if (r == CTP_OK && s->ops->send(s->user, s->tx, len) == 0)
		s->frames_sent++;
}

/* a response the firmware's data made unencodable is the device's fault */
static void
send_response(ctp_device_session *s, const ctp_message *msg)
{
	size_t len = 0;
	ctp_result r = ctp_message_encode(msg, s->tx, s->tx_cap, &len);
	if (r != CTP_OK) {
		ctp_text_builder tb = {.len = 0};
		tb_add(&tb, "device cannot encode its ");
		tb_add(&tb, ctp_message_type_to_string(msg->type));
		tb_add(&tb, ": ");
		tb_add(&tb, ctp_result_to_string(r));
		s->error_text[0] = '\0';
		send_error(s, msg->request_id, CTP_ERR_INTERNAL, tb.buf);
		return;
	}
	s->error_text[0] = '\0';
	if (s->ops->send(s->user, s->tx, len) == 0)
		s->frames_sent++;
}

static void
init_response(ctp_message *msg, const ctp_message *req)
{
	memset(msg, 0, sizeof *msg);
	msg->type = (uint8_t)(req->type | CTP_TYPE_RESPONSE);
	msg->request_id = req->request_id;
}

static void
discard_staging(ctp_device_session *s)
{
	if (s->state == CTP_DEVICE_SESSION_STAGING)
		s->ops->abort(s->user);
	if (s->state != CTP_DEVICE_SESSION_IDLE)
		s->state = CTP_DEVICE_SESSION_READY;
	s->txn_id = 0;
	s->want_chain = s->want_anchors = s->want_settings = 0;
	s->have_certificate = s->have_chain = s->have_anchors = s->have_settings = 0;
	s->settings_seen = 0;
}

bool
ctp_device_session_init(
    ctp_device_session *s, const ctp_device_ops *ops, void *user, uint8_t *tx, size_t tx_cap)
{
	if (s == NULL || ops == NULL || tx == NULL || tx_cap < CTP_DEVICE_MIN_TX)
		return false;
	if (ops->get_info == NULL || ops->sign_identity == NULL || ops->get_status == NULL ||
	    ops->create_csr == NULL || ops->stage_begin == NULL || ops->stage_item == NULL ||
	    ops->commit == NULL || ops->abort == NULL || ops->send == NULL)
		return false;
	memset(s, 0, sizeof *s);
	s->ops = ops;
	s->user = user;
	s->tx = tx;
	s->tx_cap = tx_cap > CTP_MAX_FRAME ? CTP_MAX_FRAME : tx_cap;
	s->state = CTP_DEVICE_SESSION_IDLE;
	s->max_frame = CTP_MAX_FRAME;
	s->next_token = 1;
	return true;
}

bool
ctp_device_hello_sig_input(const uint8_t *challenge,
                           size_t challenge_len,
                           const uint8_t *serial,
                           size_t serial_len,
                           uint8_t *out,
                           size_t cap,
                           size_t *out_len)
{
	if (challenge == NULL || challenge_len != CTP_CHALLENGE_SIZE || serial_len > CTP_MAX_TEXT ||
	    (serial == NULL && serial_len > 0) || out == NULL)
		return false;
	size_t need = HELLO_CONTEXT_LEN + challenge_len + 1 + serial_len;
	if (cap < need)
		return false;
	memcpy(out, CTP_HELLO_SIG_CONTEXT, HELLO_CONTEXT_LEN);
	memcpy(out + HELLO_CONTEXT_LEN, challenge, challenge_len);
	out[HELLO_CONTEXT_LEN + challenge_len] = (uint8_t)serial_len;
	if (serial_len > 0)
		memcpy(out + HELLO_CONTEXT_LEN + challenge_len + 1, serial, serial_len);
	*out_len = need;
	return true;
}

bool
ctp_device_pop_sig_input(const uint8_t *nonce,
                         size_t nonce_len,
                         const uint8_t csr_sha256[CTP_SHA256_SIZE],
                         uint8_t *out,
                         size_t cap,
                         size_t *out_len)
{
	if (nonce == NULL || nonce_len < CTP_MIN_NONCE || nonce_len > CTP_MAX_NONCE ||
	    csr_sha256 == NULL || out == NULL)
		return false;
	size_t need = POP_CONTEXT_LEN + nonce_len + CTP_SHA256_SIZE;
	if (cap < need)
		return false;
	memcpy(out, CTP_CSR_POP_CONTEXT, POP_CONTEXT_LEN);
	memcpy(out + POP_CONTEXT_LEN, nonce, nonce_len);
	memcpy(out + POP_CONTEXT_LEN + nonce_len, csr_sha256, CTP_SHA256_SIZE);
	*out_len = need;
	return true;
}

static void
handle_hello(ctp_device_session *s, const ctp_message *req)
{
	const ctp_hello_req *h = &req->u.hello_req;
	unsigned lo = h->version_min > CTP_VERSION_MIN ? h->version_min : CTP_VERSION_MIN;
	unsigned hi = h->version_max < CTP_VERSION_MAX ? h->version_max : CTP_VERSION_MAX;
	if (lo > hi) {
		ctp_text_builder tb = {.len = 0};
		tb_add(&tb, "device speaks protocol versions ");
		tb_add_u32(&tb, CTP_VERSION_MIN);
		tb_add(&tb, "..");
		tb_add_u32(&tb, CTP_VERSION_MAX);
		send_error(s, req->request_id, CTP_ERR_UNSUPPORTED_VERSION, tb.buf);
		return;
	}
	if (h->challenge.len != CTP_CHALLENGE_SIZE) {
		send_error(s, req->request_id, CTP_ERR_BAD_MESSAGE, "challenge must be 32 bytes");
		return;
	}

	/* a new HELLO starts a new session: an open staging area is gone */
	discard_staging(s);

	ctp_message rsp;
	init_response(&rsp, req);
	ctp_hello_rsp *info = &rsp.u.hello_rsp;
	uint16_t rc = s->ops->get_info(s->user, info);
	if (rc != CTP_DEVICE_OK) {
		send_error(s, req->request_id, rc, "device information unavailable");
		return;
	}
	if (info->max_frame < CTP_MIN_DEVICE_FRAME || info->max_frame > CTP_MAX_FRAME ||
	    info->max_chain > CTP_MAX_CHAIN || info->max_anchors > CTP_MAX_ANCHORS) {
		send_error(s, req->request_id, CTP_ERR_INTERNAL, "device limits out of range");
		return;
	}
	info->version = (uint8_t)hi;

	size_t input_len = 0;
	if (!ctp_device_hello_sig_input(h->challenge.data, h->challenge.len, info->serial.data,
	                                info->serial.len, s->scratch, sizeof s->scratch,
	                                &input_len)) {
		send_error(s, req->request_id, CTP_ERR_INTERNAL, "serial number too long");
		return;
	}
	size_t sig_len = 0;
	rc = s->ops->sign_identity(s->user, s->scratch, input_len, s->signature,
	                           sizeof s->signature, &sig_len);
	if (rc != CTP_DEVICE_OK || sig_len == 0 || sig_len > sizeof s->signature) {
		send_error(s, req->request_id, rc != CTP_DEVICE_OK ? rc : CTP_ERR_INTERNAL,
		           "identity signature failed");
		return;
	}
	info->identity_sig = ctp_bytes_from(s->signature, sig_len);

	s->version = (uint8_t)hi;
	s->key_algs = info->key_algs;
	s->max_frame = info->max_frame;
	s->max_chain = info->max_chain;
	s->max_anchors = info->max_anchors;
	s->capabilities = info->capabilities;
	s->state = CTP_DEVICE_SESSION_READY;
	send_response(s, &rsp);
}

static void
handle_status(ctp_device_session *s, const ctp_message *req)
{
	ctp_message rsp;
	init_response(&rsp, req);
	uint16_t rc = s->ops->get_status(s->user, &rsp.u.status_rsp);
	if (rc != CTP_DEVICE_OK) {
		send_error(s, req->request_id, rc, "status unavailable");
		return;
	}
	send_response(s, &rsp);
}

static void
handle_create_csr(ctp_device_session *s, const ctp_message *req)
{
	const ctp_create_csr_req *c = &req->u.create_csr_req;
	if (c->key_alg > 15 || (s->key_algs & CTP_KEY_ALG_BIT(c->key_alg)) == 0) {
		send_error(s, req->request_id, CTP_ERR_UNSUPPORTED_KEY,
		           "key algorithm not offered in HELLO");
		return;
	}
	if (c->subject.len == 0) {
		send_error(s, req->request_id, CTP_ERR_BAD_MESSAGE, "subject is empty");
		return;
	}
	if (c->nonce.len < CTP_MIN_NONCE || c->nonce.len > CTP_MAX_NONCE) {
		send_error(s, req->request_id, CTP_ERR_BAD_MESSAGE, "nonce length out of bounds");
		return;
	}

	uint32_t token = s->next_token++;
	if (s->next_token == 0)
		s->next_token = 1;
	s->busy = true;
	s->busy_type = req->type;
	s->busy_request_id = req->request_id;
	s->busy_token = token;

	uint16_t rc = s->ops->create_csr(s->user, c, token);
	if (rc == CTP_DEVICE_PENDING || rc == CTP_DEVICE_OK)
		return; /* answered already, or later through csr_done()/fail() */
	if (s->busy && s->busy_token == token) {
		s->busy = false;
		send_error(s, req->request_id, rc, "key generation failed");
	}
}

static void
handle_stage_begin(ctp_device_session *s, const ctp_message *req)
{
	const ctp_stage_begin_req *b = &req->u.stage_begin_req;
	ctp_text_builder tb = {.len = 0};

	/* a STAGE_BEGIN always discards what an earlier one staged */
	discard_staging(s);

	if (b->chain_count > s->max_chain) {
		tb_add(&tb, "chain of ");
		tb_add_u32(&tb, b->chain_count);
		tb_add(&tb, " certificates, device takes at most ");
		tb_add_u32(&tb, s->max_chain);
	} else if (b->anchor_count > s->max_anchors) {
		tb_add_u32(&tb, b->anchor_count);
		tb_add(&tb, " trust anchors, device takes at most ");
		tb_add_u32(&tb, s->max_anchors);
	} else if (b->setting_count > 0 && (s->capabilities & CTP_CAP_SETTINGS) == 0) {
		tb_add(&tb, "device takes no settings");
	} else if (b->setting_count > CTP_MAX_SETTINGS) {
		tb_add(&tb, "at most 3 settings");
	}
	if (tb.len > 0) {
		send_error(s, req->request_id, CTP_ERR_TOO_LARGE, tb.buf);
		return;
	}

	uint16_t rc = s->ops->stage_begin(s->user, b);
	if (rc != CTP_DEVICE_OK) {
		s->ops->abort(s->user);
		send_error(s, req->request_id, rc, "cannot open a staging area");
		return;
	}
	s->state = CTP_DEVICE_SESSION_STAGING;
	s->txn_id = b->txn_id;
	s->want_chain = b->chain_count;
	s->want_anchors = b->anchor_count;
	s->want_settings = b->setting_count;

	ctp_message rsp;
	init_response(&rsp, req);
	send_response(s, &rsp);
}

/* check kind, index and size of one item; on failure fill tb and return an error code */
static uint16_t
check_item(const ctp_device_session *s, const ctp_stage_item_req *it, ctp_text_builder *tb)
{
	uint8_t have, want;
	size_t max;
	const char *what;

	switch (it->kind) {
	case CTP_ITEM_CERTIFICATE:
		have = s->have_certificate, want = 1, max = CTP_MAX_CERT, what = "certificate";
		break;
	case CTP_ITEM_CHAIN:
		have = s->have_chain, want = s->want_chain, max = CTP_MAX_CERT, what = "chain";
		break;
	case CTP_ITEM_ANCHOR:
		have = s->have_anchors, want = s->want_anchors, max = CTP_MAX_CERT, what = "anchor";
		break;
	case CTP_ITEM_SETTING:
		have = s->have_settings, want = s->want_settings, max = CTP_MAX_SETTING,
		what = "setting";
		break;
	default:
		tb_add(tb, "unknown item kind ");
		tb_add_u32(tb, it->kind);
		return CTP_ERR_BAD_MESSAGE;
	}

	if (have >= want) {
		tb_add(tb, "more ");
		tb_add(tb, what);
		tb_add(tb, " items than announced in STAGE_BEGIN (");
		tb_add_u32(tb, want);
		tb_add(tb, ")");
		return CTP_ERR_TOO_LARGE;
	}
	if (it->index != have) {
		tb_add(tb, what);
		tb_add(tb, " item ");
		tb_add_u32(tb, it->index);
		tb_add(tb, " out of order, expected ");
		tb_add_u32(tb, have);
		return CTP_ERR_BAD_STATE;
	}
	if (it->data.len == 0) {
		tb_add(tb, what);
		tb_add(tb, " item is empty");
		return CTP_ERR_BAD_MESSAGE;
	}
	if (it->data.len > max || (uint32_t)it->data.len + CTP_HEADER_SIZE > s->max_frame) {
		tb_add(tb, what);
		tb_add(tb, " item of ");
		tb_add_u32(tb, it->data.len);
		tb_add(tb, " bytes, device takes at most ");
		tb_add_u32(tb, (uint32_t)max);
		return CTP_ERR_TOO_LARGE;
	}
	if (it->kind == CTP_ITEM_SETTING) {
		if (it->setting < CTP_SETTING_WEB_SERVICE_URL ||
		    it->setting > CTP_SETTING_SIP_URI) {
			tb_add(tb, "unknown setting ");
			tb_add_u32(tb, it->setting);
			return CTP_ERR_BAD_MESSAGE;
		}
		if (s->settings_seen & (1u << it->setting)) {
			/* a well-formed item at the wrong moment, like one out of order */
			tb_add(tb, "setting ");
			tb_add_u32(tb, it->setting);
			tb_add(tb, " staged twice");
			return CTP_ERR_BAD_STATE;
		}
	}
	return CTP_DEVICE_OK;
}

static void
handle_stage_item(ctp_device_session *s, const ctp_message *req)
{
	const ctp_stage_item_req *it = &req->u.stage_item_req;
	ctp_text_builder tb = {.len = 0};

	if (s->state != CTP_DEVICE_SESSION_STAGING) {
		send_error(s, req->request_id, CTP_ERR_BAD_STATE, "STAGE_ITEM without STAGE_BEGIN");
		return;
	}
	uint16_t rc = check_item(s, it, &tb);
	if (rc != CTP_DEVICE_OK) {
		send_error(s, req->request_id, rc, tb.buf);
		return;
	}
	rc = s->ops->stage_item(s->user, it);
	if (rc != CTP_DEVICE_OK) {
		send_error(s, req->request_id, rc, "cannot store the item");
		return;
	}
	switch (it->kind) {
	case CTP_ITEM_CERTIFICATE:
		s->have_certificate++;
		break;
	case CTP_ITEM_CHAIN:
		s->have_chain++;
		break;
	case CTP_ITEM_ANCHOR:
		s->have_anchors++;
		break;
	default:
		s->have_settings++;
		s->settings_seen |= (uint8_t)(1u << it->setting);
		break;
	}
	ctp_message rsp;
	init_response(&rsp, req);
	send_response(s, &rsp);
}

static void
handle_commit(ctp_device_session *s, const ctp_message *req)
{
	ctp_text_builder tb = {.len = 0};

	if (s->state != CTP_DEVICE_SESSION_STAGING) {
		send_error(s, req->request_id, CTP_ERR_BAD_STATE, "COMMIT without STAGE_BEGIN");
		return;
	}
	if (req->u.commit_req.txn_id != s->txn_id) {
		tb_add(&tb, "COMMIT for transaction ");
		tb_add_u32(&tb, req->u.commit_req.txn_id);
		tb_add(&tb, ", staging area belongs to ");
		tb_add_u32(&tb, s->txn_id);
		send_error(s, req->request_id, CTP_ERR_BAD_STATE, tb.buf);
		return;
	}
	if (s->have_certificate != 1 || s->have_chain != s->want_chain ||
	    s->have_anchors != s->want_anchors || s->have_settings != s->want_settings) {
		tb_add(&tb, "staging incomplete: certificate ");
		tb_add_u32(&tb, s->have_certificate);
		tb_add(&tb, "/1, chain ");
		tb_add_u32(&tb, s->have_chain);
		tb_add(&tb, "/");
		tb_add_u32(&tb, s->want_chain);
		tb_add(&tb, ", anchors ");
		tb_add_u32(&tb, s->have_anchors);
		tb_add(&tb, "/");
		tb_add_u32(&tb, s->want_anchors);
		tb_add(&tb, ", settings ");
		tb_add_u32(&tb, s->have_settings);
		tb_add(&tb, "/");
		tb_add_u32(&tb, s->want_settings);
		send_error(s, req->request_id, CTP_ERR_BAD_STATE, tb.buf);
		return;
	}

	uint8_t digest[CTP_SHA256_SIZE];
	memset(digest, 0, sizeof digest);
	uint16_t rc = s->ops->commit(s->user, s->txn_id, digest);
	/* committed or not, the staging area is used up */
	discard_staging(s);
	if (rc != CTP_DEVICE_OK) {
		send_error(s, req->request_id, rc, "commit refused");
		return;
	}
	ctp_message rsp;
	init_response(&rsp, req);
	rsp.u.commit_rsp.certificate_sha256 = ctp_bytes_from(digest, sizeof digest);
	send_response(s, &rsp);
}

static void
handle_abort(ctp_device_session *s, const ctp_message *req)
{
	/* ABORT with nothing staged is harmless and acknowledged: hosts use it to clean up */
	discard_staging(s);
	ctp_message rsp;
	init_response(&rsp, req);
	send_response(s, &rsp);
}

static void
handle_ping(ctp_device_session *s, const ctp_message *req)
{
	ctp_message rsp;
	init_response(&rsp, req);
	rsp.u.ping.cookie = req->u.ping.cookie;
	send_response(s, &rsp);
}

void
ctp_device_session_receive(ctp_device_session *s, const uint8_t *buf, size_t len)
{
	ctp_frame frame;
	ctp_message req;
	ctp_result r;

	s->frames_received++;
	s->error_text[0] = '\0';

	if (buf == NULL || len > CTP_MAX_FRAME) {
		s->frames_rejected++;
		send_error(s, 0, CTP_ERR_BAD_FRAME, "transfer is not exactly one frame");
		return;
	}
	r = ctp_frame_decode(buf, len, &frame);
	if (r != CTP_OK) {
		s->frames_rejected++;
		send_error(s, 0, CTP_ERR_BAD_FRAME, ctp_result_to_string(r));
		return;
	}
	if (len > s->max_frame) {
		s->frames_rejected++;
		send_error(s, frame.request_id, CTP_ERR_TOO_LARGE,
		           "frame larger than max_frame announced in HELLO");
		return;
	}
	if (!ctp_message_type_is_request(frame.type)) {
		ctp_text_builder tb = {.len = 0};
		tb_add(&tb, "message type ");
		tb_add_u32(&tb, frame.type);
		tb_add(&tb, " is not a request this device knows");
		s->frames_rejected++;
		send_error(s, frame.request_id, CTP_ERR_UNKNOWN_MESSAGE, tb.buf);
		return;
	}
	memset(&req, 0, sizeof req);
	r = ctp_message_decode_frame(&frame, &req);
	if (r != CTP_OK) {
		ctp_text_builder tb = {.len = 0};
		tb_add(&tb, ctp_message_type_to_string(frame.type));
		tb_add(&tb, " payload: ");
		tb_add(&tb, ctp_result_to_string(r));
		s->frames_rejected++;
		send_error(s, frame.request_id, CTP_ERR_BAD_MESSAGE, tb.buf);
		return;
	}

	if (req.type == CTP_MSG_PING) {
		handle_ping(s, &req);
		return;
	}
	if (s->busy) {
		ctp_text_builder tb = {.len = 0};
		tb_add(&tb, "device busy with ");
		tb_add(&tb, ctp_message_type_to_string(s->busy_type));
		tb_add(&tb, " request ");
		tb_add_u32(&tb, s->busy_request_id);
		send_error(s, req.request_id, CTP_ERR_BAD_STATE, tb.buf);
		return;
	}
	if (s->state == CTP_DEVICE_SESSION_IDLE && req.type != CTP_MSG_HELLO) {
		send_error(s, req.request_id, CTP_ERR_BAD_STATE, "HELLO first");
		return;
	}

	switch (req.type) {
	case CTP_MSG_HELLO:
		handle_hello(s, &req);
		break;
	case CTP_MSG_STATUS:
		handle_status(s, &req);
		break;
	case CTP_MSG_CREATE_CSR:
		handle_create_csr(s, &req);
		break;
	case CTP_MSG_STAGE_BEGIN:
		handle_stage_begin(s, &req);
		break;
	case CTP_MSG_STAGE_ITEM:
		handle_stage_item(s, &req);
		break;
	case CTP_MSG_COMMIT:
		handle_commit(s, &req);
		break;
	case CTP_MSG_ABORT:
		handle_abort(s, &req);
		break;
	default:
		send_error(s, req.request_id, CTP_ERR_UNKNOWN_MESSAGE, "unknown request");
		break;
	}
}

void
ctp_device_session_reset(ctp_device_session *s)
{
	if (s->busy) {
		uint32_t token = s->busy_token;
		s->busy = false;
		if (s->ops->cancel_csr != NULL)
			s->ops->cancel_csr(s->user, token);
	}
	discard_staging(s);
	s->state = CTP_DEVICE_SESSION_IDLE;
	s->version = 0;
	s->key_algs = 0;
	s->max_frame = CTP_MAX_FRAME;
	s->max_chain = s->max_anchors = 0;
	s->capabilities = 0;
	s->error_text[0] = '\0';
}

bool
ctp_device_session_token_is_current(const ctp_device_session *s, uint32_t token)
{
	return s->busy && token != 0 && s->busy_token == token;
}

bool
ctp_device_session_progress(ctp_device_session *s,
                            uint32_t token,
                            uint8_t percent,
                            const char *text)
{
	if (!ctp_device_session_token_is_current(s, token))
		return false;
	ctp_message msg;
	memset(&msg, 0, sizeof msg);
	msg.type = CTP_MSG_PROGRESS;
	msg.request_id = s->busy_request_id;
	msg.u.progress.percent = percent > 100 ? 100 : percent;
	if (text != NULL && text[0] != '\0')
		msg.u.progress.text =
		    ctp_bytes_from(text, utf8_prefix_len(text, CTP_MAX_PROGRESS_TEXT));
	/* a text the protocol does not allow (control characters) must not cost the
	 * progress report itself: send it without text */
	size_t len = 0;
	if (ctp_message_encode(&msg, s->tx, s->tx_cap, &len) != CTP_OK)
		msg.u.progress.text = ctp_bytes_from(NULL, 0);
	send_frame(s, &msg);
	return true;
}

bool
ctp_device_session_csr_done(ctp_device_session *s,
                            uint32_t token,
                            const uint8_t *csr,
                            size_t csr_len,
                            const uint8_t *pop_sig,
                            size_t pop_sig_len)
{
	if (!ctp_device_session_token_is_current(s, token))
		return false;
	s->busy = false;
	if (csr == NULL || csr_len == 0 || csr_len > CTP_MAX_CSR || pop_sig == NULL ||
	    pop_sig_len == 0 || pop_sig_len > CTP_MAX_SIGNATURE) {
		send_error(s, s->busy_request_id, CTP_ERR_INTERNAL,
		           "device produced a CSR or signature out of bounds");
		return true;
	}
	ctp_message rsp;
	memset(&rsp, 0, sizeof rsp);
	rsp.type = CTP_MSG_CREATE_CSR_RSP;
	rsp.request_id = s->busy_request_id;
	rsp.u.create_csr_rsp.csr = ctp_bytes_from(csr, csr_len);
	rsp.u.create_csr_rsp.pop_sig = ctp_bytes_from(pop_sig, pop_sig_len);
	send_response(s, &rsp);
	return true;
}

bool
ctp_device_session_fail(ctp_device_session *s, uint32_t token, uint16_t code, const char *text)
{
	if (!ctp_device_session_token_is_current(s, token))
		return false;
	s->busy = false;
	if (code == CTP_DEVICE_OK || code == CTP_DEVICE_PENDING)
		code = CTP_ERR_INTERNAL;
	send_error(s, s->busy_request_id, code, text);
	return true;
}

void
ctp_device_session_set_error_text(ctp_device_session *s, const char *text)
{
	if (text == NULL) {
		s->error_text[0] = '\0';
		return;
	}
	size_t n = utf8_prefix_len(text, CTP_MAX_ERROR_TEXT);
	memcpy(s->error_text, text, n);
	s->error_text[n] = '\0';
}

ctp_device_session_state
ctp_device_session_get_state(const ctp_device_session *s)
{
	return s->state;
}

uint8_t
ctp_device_session_get_version(const ctp_device_session *s)
{
	return s->version;
}
