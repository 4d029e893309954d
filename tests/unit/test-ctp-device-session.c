/*
 * The CTP device session library (usbproto/device) driven with frames, with fake
 * firmware ops (no OpenSSL): every answer, state transition and error path of
 * PROTOCOL.md sections 2, 3, 5 and 7 that the library owns.
 */
#include <glib.h>
#include <string.h>

#include "usbproto/codec/ctp-message.h"
#include "usbproto/device/ctp-device-session.h"

#define SERIAL "FAKE-123"

/* ---- the fake firmware ---- */

typedef struct {
	ctp_device_session session;
	guint8 tx[CTP_MAX_FRAME];
	GPtrArray *sent; /* GBytes: every frame the library sent */

	/* what the fake reports and does */
	guint16 key_algs;
	guint32 max_frame;
	guint8 max_chain, max_anchors;
	guint32 capabilities;
	gboolean csr_sync; /* answer CREATE_CSR inside the callback */
	guint16 csr_rc;    /* what create_csr returns */
	guint16 commit_rc;
	const gchar *commit_text;
	gboolean has_certificate;

	/* what the library asked for */
	GByteArray *sig_input;
	guint32 last_token;
	guint n_stage_begin, n_stage_item, n_commit, n_abort, n_cancel;
	guint8 last_item_kind, last_item_index;
	guint32 last_commit_txn;
} Fake;

static const guint8 fake_spki[] = {0x30, 0x03, 0x01, 0x02, 0x03};
static const guint8 fake_sig[] = {0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01};
static const guint8 fake_cert[] = {0x30, 0x82, 0x00, 0x01, 0xAA};
static guint8 fake_anchor_hash[CTP_SHA256_SIZE];

static uint16_t
fake_get_info(void *user, ctp_hello_rsp *info)
{
	Fake *f = user;
	info->vendor = ctp_bytes_from_string("Fake Vendor");
	info->model = ctp_bytes_from_string("Fake Model");
	info->serial = ctp_bytes_from_string(SERIAL);
	info->firmware = ctp_bytes_from_string("0.1");
	info->key_algs = f->key_algs;
	info->max_frame = f->max_frame;
	info->max_chain = f->max_chain;
	info->max_anchors = f->max_anchors;
	info->capabilities = f->capabilities;
	info->identity_key = ctp_bytes_from(fake_spki, sizeof fake_spki);
	return CTP_DEVICE_OK;
}

static uint16_t
fake_sign_identity(
    void *user, const uint8_t *data, size_t len, uint8_t *sig, size_t cap, size_t *sig_len)
{
	Fake *f = user;
	g_byte_array_set_size(f->sig_input, 0);
	g_byte_array_append(f->sig_input, data, (guint)len);
	g_assert_cmpuint(cap, >=, sizeof fake_sig);
	memcpy(sig, fake_sig, sizeof fake_sig);
	*sig_len = sizeof fake_sig;
	return CTP_DEVICE_OK;
}

static uint16_t
fake_get_status(void *user, ctp_status_rsp *status)
{
	Fake *f = user;
	status->state = f->has_certificate ? CTP_DEVICE_STATE_PROVISIONED : CTP_DEVICE_STATE_EMPTY;
	if (f->has_certificate) {
		status->certificate = ctp_bytes_from(fake_cert, sizeof fake_cert);
		status->chain_count = 1;
		status->anchor_count = 1;
		status->anchor_sha256[0] =
		    ctp_bytes_from(fake_anchor_hash, sizeof fake_anchor_hash);
		status->n_anchor_sha256 = 1;
		status->web_service_url = ctp_bytes_from_string("https://ws.example/");
	}
	return CTP_DEVICE_OK;
}

static const guint8 fake_csr[] = {0x30, 0x02, 0x05, 0x00};
static const guint8 fake_pop[] = {0x30, 0x02, 0x05, 0x01};

static uint16_t
fake_create_csr(void *user, const ctp_create_csr_req *req, uint32_t token)
{
	Fake *f = user;
	(void)req;
	f->last_token = token;
	if (f->csr_rc != CTP_DEVICE_PENDING)
		return f->csr_rc;
	if (f->csr_sync)
		g_assert_true(ctp_device_session_csr_done(
		    &f->session, token, fake_csr, sizeof fake_csr, fake_pop, sizeof fake_pop));
	return CTP_DEVICE_PENDING;
}

static uint16_t
fake_stage_begin(void *user, const ctp_stage_begin_req *req)
{
	Fake *f = user;
	(void)req;
	f->n_stage_begin++;
	return CTP_DEVICE_OK;
}

static uint16_t
fake_stage_item(void *user, const ctp_stage_item_req *item)
{
	Fake *f = user;
	f->n_stage_item++;
	f->last_item_kind = item->kind;
	f->last_item_index = item->index;
	return CTP_DEVICE_OK;
}

static uint16_t
fake_commit(void *user, uint32_t txn_id, uint8_t cert_sha256[CTP_SHA256_SIZE])
{
	Fake *f = user;
	f->n_commit++;
	f->last_commit_txn = txn_id;
	if (f->commit_rc != CTP_DEVICE_OK) {
		if (f->commit_text != NULL)
			ctp_device_session_set_error_text(&f->session, f->commit_text);
		return f->commit_rc;
	}
	memset(cert_sha256, 0xC5, CTP_SHA256_SIZE);
	return CTP_DEVICE_OK;
}

static void
fake_abort(void *user)
{
	((Fake *)user)->n_abort++;
}

static void
fake_cancel_csr(void *user, uint32_t token)
{
	Fake *f = user;
	g_assert_cmpuint(token, ==, f->last_token);
	f->n_cancel++;
}

static int
fake_send(void *user, const uint8_t *frame, size_t len)
{
	Fake *f = user;
	g_ptr_array_add(f->sent, g_bytes_new(frame, len));
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

static Fake *
fake_new(void)
{
	Fake *f = g_new0(Fake, 1);
	f->sent = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	f->sig_input = g_byte_array_new();
	f->key_algs = CTP_KEY_ALG_BIT(CTP_KEY_EC_P256) | CTP_KEY_ALG_BIT(CTP_KEY_RSA_2048);
	f->max_frame = CTP_MAX_FRAME;
	f->max_chain = 2;
	f->max_anchors = 1;
	f->capabilities = CTP_CAP_SETTINGS | CTP_CAP_KEEPS_PENDING;
	f->csr_rc = CTP_DEVICE_PENDING;
	f->csr_sync = TRUE;
	g_assert_true(ctp_device_session_init(&f->session, &fake_ops, f, f->tx, sizeof f->tx));
	return f;
}

static void
fake_free(Fake *f)
{
	g_ptr_array_unref(f->sent);
	g_byte_array_unref(f->sig_input);
	g_free(f);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(Fake, fake_free)

/* ---- frames in, answers out ---- */

static void
receive_raw(Fake *f, const guint8 *data, gsize len)
{
	g_ptr_array_set_size(f->sent, 0);
	ctp_device_session_receive(&f->session, data, len);
}

static void
receive(Fake *f, const ctp_message *msg)
{
	static guint8 buf[CTP_MAX_FRAME];
	gsize len = 0;
	g_assert_cmpint(ctp_message_encode(msg, buf, sizeof buf, &len), ==, CTP_OK);
	receive_raw(f, buf, len);
}

/* the only frame sent since the last receive, decoded */
static const ctp_message *
answer(Fake *f)
{
	static ctp_message msg;
	g_assert_cmpuint(f->sent->len, ==, 1);
	GBytes *b = g_ptr_array_index(f->sent, 0);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(b, &len);
	g_assert_cmpint(ctp_message_decode(data, len, &msg), ==, CTP_OK);
	return &msg;
}

static void
assert_error(Fake *f, guint16 request_id, guint16 code)
{
	const ctp_message *m = answer(f);
	g_assert_cmpuint(m->type, ==, CTP_MSG_ERROR);
	g_assert_cmpuint(m->request_id, ==, request_id);
	g_assert_cmpuint(m->u.error.code, ==, code);
	/* every error says why */
	g_assert_true(ctp_bytes_present(m->u.error.text));
}

static void
assert_response(Fake *f, guint8 request_type, guint16 request_id)
{
	const ctp_message *m = answer(f);
	if (m->type == CTP_MSG_ERROR)
		g_error("expected %s, got ERROR %u: %.*s",
		        ctp_message_type_to_string(request_type | CTP_TYPE_RESPONSE),
		        m->u.error.code, m->u.error.text.len, (const char *)m->u.error.text.data);
	g_assert_cmpuint(m->type, ==, request_type | CTP_TYPE_RESPONSE);
	g_assert_cmpuint(m->request_id, ==, request_id);
}

static guint8 challenge[CTP_CHALLENGE_SIZE];

static void
send_hello(Fake *f, guint16 id, guint8 vmin, guint8 vmax)
{
	ctp_message m = {.type = CTP_MSG_HELLO, .request_id = id};
	for (guint i = 0; i < sizeof challenge; i++)
		challenge[i] = (guint8)(i * 7 + id);
	m.u.hello_req.version_min = vmin;
	m.u.hello_req.version_max = vmax;
	m.u.hello_req.challenge = ctp_bytes_from(challenge, sizeof challenge);
	receive(f, &m);
}

static void
send_simple(Fake *f, guint8 type, guint16 id)
{
	ctp_message m = {.type = type, .request_id = id};
	receive(f, &m);
}

static void
send_create_csr(Fake *f, guint16 id, guint8 key_alg)
{
	static const guint8 subject[] = {0x30, 0x00};
	static const guint8 nonce[16] = {1, 2, 3};
	ctp_message m = {.type = CTP_MSG_CREATE_CSR, .request_id = id};
	m.u.create_csr_req.key_alg = key_alg;
	m.u.create_csr_req.subject = ctp_bytes_from(subject, sizeof subject);
	m.u.create_csr_req.nonce = ctp_bytes_from(nonce, sizeof nonce);
	receive(f, &m);
}

static void
send_stage_begin(Fake *f, guint16 id, guint32 txn, guint8 chain, guint8 anchors, guint8 settings)
{
	ctp_message m = {.type = CTP_MSG_STAGE_BEGIN, .request_id = id};
	m.u.stage_begin_req.txn_id = txn;
	m.u.stage_begin_req.chain_count = chain;
	m.u.stage_begin_req.anchor_count = anchors;
	m.u.stage_begin_req.setting_count = settings;
	receive(f, &m);
}

static void
send_item(Fake *f, guint16 id, guint8 kind, guint8 index, guint8 setting, gsize len)
{
	static guint8 data[CTP_MAX_CERT];
	ctp_message m = {.type = CTP_MSG_STAGE_ITEM, .request_id = id};
	memset(data, 'x', sizeof data);
	m.u.stage_item_req.kind = kind;
	m.u.stage_item_req.index = index;
	m.u.stage_item_req.setting = setting;
	m.u.stage_item_req.data = ctp_bytes_from(data, len);
	receive(f, &m);
}

static void
send_commit(Fake *f, guint16 id, guint32 txn)
{
	ctp_message m = {.type = CTP_MSG_COMMIT, .request_id = id};
	m.u.commit_req.txn_id = txn;
	receive(f, &m);
}

static Fake *
fake_ready(void)
{
	Fake *f = fake_new();
	send_hello(f, 1, CTP_VERSION_MIN, CTP_VERSION_MAX);
	assert_response(f, CTP_MSG_HELLO, 1);
	return f;
}

/* ---- tests ---- */

static void
test_init_rejects(void)
{
	ctp_device_session s;
	static guint8 tx[CTP_DEVICE_MIN_TX];
	ctp_device_ops broken = fake_ops;
	broken.send = NULL;
	g_assert_false(ctp_device_session_init(&s, &fake_ops, NULL, tx, sizeof tx - 1));
	g_assert_false(ctp_device_session_init(&s, &broken, NULL, tx, sizeof tx));
	g_assert_false(ctp_device_session_init(&s, NULL, NULL, tx, sizeof tx));
	g_assert_true(ctp_device_session_init(&s, &fake_ops, NULL, tx, sizeof tx));
	g_assert_cmpint(ctp_device_session_get_state(&s), ==, CTP_DEVICE_SESSION_IDLE);
}

static void
test_hello(void)
{
	g_autoptr(Fake) f = fake_new();
	send_hello(f, 7, 1, 9);
	assert_response(f, CTP_MSG_HELLO, 7);
	const ctp_message *m = answer(f);
	g_assert_cmpuint(m->u.hello_rsp.version, ==, CTP_VERSION_MAX);
	g_assert_cmpuint(m->u.hello_rsp.max_chain, ==, 2);
	g_assert_cmpmem(m->u.hello_rsp.identity_sig.data, m->u.hello_rsp.identity_sig.len, fake_sig,
	                sizeof fake_sig);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_READY);
	g_assert_cmpuint(ctp_device_session_get_version(&f->session), ==, CTP_VERSION_MAX);

	/* the signed bytes: context || challenge || u8 len || serial */
	g_autoptr(GByteArray) want = g_byte_array_new();
	g_byte_array_append(want, (const guint8 *)CTP_HELLO_SIG_CONTEXT,
	                    strlen(CTP_HELLO_SIG_CONTEXT));
	g_byte_array_append(want, challenge, sizeof challenge);
	guint8 n = (guint8)strlen(SERIAL);
	g_byte_array_append(want, &n, 1);
	g_byte_array_append(want, (const guint8 *)SERIAL, n);
	g_assert_cmpmem(f->sig_input->data, f->sig_input->len, want->data, want->len);
}

static void
test_hello_version(void)
{
	g_autoptr(Fake) f = fake_new();
	send_hello(f, 3, CTP_VERSION_MAX + 1, CTP_VERSION_MAX + 5);
	assert_error(f, 3, CTP_ERR_UNSUPPORTED_VERSION);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_IDLE);
	/* still IDLE: only HELLO and PING */
	send_simple(f, CTP_MSG_STATUS, 4);
	assert_error(f, 4, CTP_ERR_BAD_STATE);
}

static void
test_idle_state(void)
{
	g_autoptr(Fake) f = fake_new();
	const guint8 types[] = {CTP_MSG_STATUS, CTP_MSG_ABORT};
	for (guint i = 0; i < G_N_ELEMENTS(types); i++) {
		send_simple(f, types[i], (guint16)(10 + i));
		assert_error(f, (guint16)(10 + i), CTP_ERR_BAD_STATE);
	}
	send_create_csr(f, 20, CTP_KEY_EC_P256);
	assert_error(f, 20, CTP_ERR_BAD_STATE);
	send_stage_begin(f, 21, 1, 0, 0, 0);
	assert_error(f, 21, CTP_ERR_BAD_STATE);
	send_commit(f, 22, 1);
	assert_error(f, 22, CTP_ERR_BAD_STATE);

	/* PING works before HELLO and echoes its cookie */
	static const guint8 cookie[] = {9, 8, 7};
	ctp_message ping = {.type = CTP_MSG_PING, .request_id = 30};
	ping.u.ping.cookie = ctp_bytes_from(cookie, sizeof cookie);
	receive(f, &ping);
	assert_response(f, CTP_MSG_PING, 30);
	g_assert_cmpmem(answer(f)->u.ping.cookie.data, answer(f)->u.ping.cookie.len, cookie,
	                sizeof cookie);
	g_assert_cmpuint(f->n_stage_begin + f->n_commit, ==, 0);
}

static void
test_bad_frames(void)
{
	g_autoptr(Fake) f = fake_ready();
	guint8 frame[CTP_MAX_FRAME + 8];
	gsize len = 0;
	ctp_message ping = {.type = CTP_MSG_PING, .request_id = 5};
	g_assert_cmpint(ctp_message_encode(&ping, frame, sizeof frame, &len), ==, CTP_OK);

	/* too short, bad magic, corrupted checksum, truncated, trailing byte, flags */
	receive_raw(f, frame, 3);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	guint8 copy[64];
	memcpy(copy, frame, len);
	copy[0] = 'X';
	receive_raw(f, copy, len);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	memcpy(copy, frame, len);
	copy[12] ^= 1;
	receive_raw(f, copy, len);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	receive_raw(f, frame, len - 1);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	memcpy(copy, frame, len);
	copy[len] = 0;
	receive_raw(f, copy, len + 1);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	memcpy(copy, frame, len);
	copy[4] = 1;
	receive_raw(f, copy, len);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	/* more than any frame can be */
	memset(frame, 0, sizeof frame);
	receive_raw(f, frame, sizeof frame);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	receive_raw(f, NULL, 0);
	assert_error(f, 0, CTP_ERR_BAD_FRAME);
	/* a dropped frame changes nothing */
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_READY);
}

/* a valid frame around an arbitrary type and payload */
static void
receive_sealed(Fake *f, guint8 type, guint16 id, const guint8 *payload, gsize payload_len)
{
	static guint8 buf[CTP_MAX_FRAME];
	gsize len = 0;
	if (payload_len > 0)
		memcpy(buf + CTP_HEADER_SIZE, payload, payload_len);
	g_assert_cmpint(ctp_frame_seal(buf, sizeof buf, type, id, payload_len, &len), ==, CTP_OK);
	receive_raw(f, buf, len);
}

static void
test_unknown_and_bad_messages(void)
{
	g_autoptr(Fake) f = fake_ready();
	receive_sealed(f, 0x09, 40, NULL, 0);
	assert_error(f, 40, CTP_ERR_UNKNOWN_MESSAGE);
	receive_sealed(f, CTP_MSG_HELLO_RSP, 41, NULL, 0); /* a response sent to the device */
	assert_error(f, 41, CTP_ERR_UNKNOWN_MESSAGE);
	receive_sealed(f, CTP_MSG_ERROR, 42, NULL, 0);
	assert_error(f, 42, CTP_ERR_UNKNOWN_MESSAGE);

	/* frame fine, payload not: unknown mandatory tag, missing field, bad length */
	static const guint8 unknown_tag[] = {0x01, 0x00, 0x00};
	receive_sealed(f, CTP_MSG_STATUS, 43, unknown_tag, sizeof unknown_tag);
	assert_error(f, 43, CTP_ERR_BAD_MESSAGE);
	receive_sealed(f, CTP_MSG_COMMIT, 44, NULL, 0);
	assert_error(f, 44, CTP_ERR_BAD_MESSAGE);
	static const guint8 short_txn[] = {0x01, 0x02, 0x00, 0x01, 0x02};
	receive_sealed(f, CTP_MSG_COMMIT, 45, short_txn, sizeof short_txn);
	assert_error(f, 45, CTP_ERR_BAD_MESSAGE);
	/* request id 0 is reserved: BAD_MESSAGE with id 0 */
	receive_sealed(f, CTP_MSG_STATUS, 0, NULL, 0);
	assert_error(f, 0, CTP_ERR_BAD_MESSAGE);
	/* an optional tag >= 0x80 is skipped */
	static const guint8 optional_tag[] = {0x90, 0x01, 0x00, 0x55};
	receive_sealed(f, CTP_MSG_STATUS, 46, optional_tag, sizeof optional_tag);
	assert_response(f, CTP_MSG_STATUS, 46);
}

static void
test_status(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_simple(f, CTP_MSG_STATUS, 2);
	assert_response(f, CTP_MSG_STATUS, 2);
	g_assert_cmpuint(answer(f)->u.status_rsp.state, ==, CTP_DEVICE_STATE_EMPTY);
	g_assert_false(ctp_bytes_present(answer(f)->u.status_rsp.certificate));
	f->has_certificate = TRUE;
	send_simple(f, CTP_MSG_STATUS, 3);
	assert_response(f, CTP_MSG_STATUS, 3);
	const ctp_status_rsp *s = &answer(f)->u.status_rsp;
	g_assert_cmpuint(s->state, ==, CTP_DEVICE_STATE_PROVISIONED);
	g_assert_cmpmem(s->certificate.data, s->certificate.len, fake_cert, sizeof fake_cert);
	g_assert_cmpuint(s->n_anchor_sha256, ==, 1);
}

static void
test_create_csr_sync(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_create_csr(f, 5, CTP_KEY_EC_P256);
	assert_response(f, CTP_MSG_CREATE_CSR, 5);
	const ctp_create_csr_rsp *r = &answer(f)->u.create_csr_rsp;
	g_assert_cmpmem(r->csr.data, r->csr.len, fake_csr, sizeof fake_csr);
	g_assert_cmpmem(r->pop_sig.data, r->pop_sig.len, fake_pop, sizeof fake_pop);
	/* the token is used up */
	g_assert_false(ctp_device_session_token_is_current(&f->session, f->last_token));
	g_assert_false(ctp_device_session_csr_done(&f->session, f->last_token, fake_csr,
	                                           sizeof fake_csr, fake_pop, sizeof fake_pop));
}

static void
test_create_csr_unsupported_key(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_create_csr(f, 6, CTP_KEY_RSA_3072); /* not in key_algs */
	assert_error(f, 6, CTP_ERR_UNSUPPORTED_KEY);
	g_assert_cmpuint(f->last_token, ==, 0);
	f->csr_rc = CTP_ERR_KEYGEN_FAILED;
	send_create_csr(f, 7, CTP_KEY_EC_P256);
	assert_error(f, 7, CTP_ERR_KEYGEN_FAILED);
	/* not busy afterwards */
	send_simple(f, CTP_MSG_STATUS, 8);
	assert_response(f, CTP_MSG_STATUS, 8);
}

static void
test_create_csr_async(void)
{
	g_autoptr(Fake) f = fake_ready();
	f->csr_sync = FALSE;
	send_create_csr(f, 9, CTP_KEY_RSA_2048);
	g_assert_cmpuint(f->sent->len, ==, 0); /* nothing yet */
	guint32 token = f->last_token;
	g_assert_true(ctp_device_session_token_is_current(&f->session, token));

	/* PROGRESS carries the request id */
	g_ptr_array_set_size(f->sent, 0);
	g_assert_true(ctp_device_session_progress(&f->session, token, 150, "working"));
	const ctp_message *p = answer(f);
	g_assert_cmpuint(p->type, ==, CTP_MSG_PROGRESS);
	g_assert_cmpuint(p->request_id, ==, 9);
	g_assert_cmpuint(p->u.progress.percent, ==, 100); /* clamped */

	/* busy: PING answered, everything else BAD_STATE */
	send_simple(f, CTP_MSG_PING, 10);
	assert_response(f, CTP_MSG_PING, 10);
	send_simple(f, CTP_MSG_STATUS, 11);
	assert_error(f, 11, CTP_ERR_BAD_STATE);
	send_hello(f, 12, 1, 1);
	assert_error(f, 12, CTP_ERR_BAD_STATE);
	send_create_csr(f, 13, CTP_KEY_EC_P256);
	assert_error(f, 13, CTP_ERR_BAD_STATE);
	g_assert_cmpuint(f->last_token, ==, token);

	g_ptr_array_set_size(f->sent, 0);
	g_assert_false(ctp_device_session_csr_done(&f->session, token + 1, fake_csr,
	                                           sizeof fake_csr, fake_pop, sizeof fake_pop));
	g_assert_cmpuint(f->sent->len, ==, 0);
	g_assert_true(ctp_device_session_csr_done(&f->session, token, fake_csr, sizeof fake_csr,
	                                          fake_pop, sizeof fake_pop));
	assert_response(f, CTP_MSG_CREATE_CSR, 9);
	send_simple(f, CTP_MSG_STATUS, 14);
	assert_response(f, CTP_MSG_STATUS, 14);
}

static void
test_create_csr_async_fail(void)
{
	g_autoptr(Fake) f = fake_ready();
	f->csr_sync = FALSE;
	send_create_csr(f, 15, CTP_KEY_EC_P256);
	g_ptr_array_set_size(f->sent, 0);
	g_assert_true(
	    ctp_device_session_fail(&f->session, f->last_token, CTP_ERR_STORAGE, "flash full"));
	assert_error(f, 15, CTP_ERR_STORAGE);
	g_assert_cmpmem(answer(f)->u.error.text.data, answer(f)->u.error.text.len, "flash full",
	                10);
	g_assert_false(ctp_device_session_fail(&f->session, f->last_token, CTP_ERR_STORAGE, NULL));
}

static void
test_reset_cancels(void)
{
	g_autoptr(Fake) f = fake_ready();
	f->csr_sync = FALSE;
	send_stage_begin(f, 2, 1, 0, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	send_create_csr(f, 3, CTP_KEY_EC_P256);
	guint32 token = f->last_token;

	ctp_device_session_reset(&f->session);
	g_assert_cmpuint(f->n_cancel, ==, 1);
	g_assert_cmpuint(f->n_abort, ==, 1);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_IDLE);
	/* the late answer of the old session goes nowhere */
	g_ptr_array_set_size(f->sent, 0);
	g_assert_false(ctp_device_session_progress(&f->session, token, 50, NULL));
	g_assert_false(ctp_device_session_csr_done(&f->session, token, fake_csr, sizeof fake_csr,
	                                           fake_pop, sizeof fake_pop));
	g_assert_cmpuint(f->sent->len, ==, 0);
	send_simple(f, CTP_MSG_STATUS, 4);
	assert_error(f, 4, CTP_ERR_BAD_STATE); /* HELLO first */
}

static void
test_stage_commit(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_stage_begin(f, 2, 0xABCDEF01u, 2, 1, 1);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_STAGING);
	/* kinds interleaved, each in index order */
	send_item(f, 3, CTP_ITEM_CHAIN, 0, 0, 100);
	assert_response(f, CTP_MSG_STAGE_ITEM, 3);
	send_item(f, 4, CTP_ITEM_CERTIFICATE, 0, 0, CTP_MAX_CERT);
	assert_response(f, CTP_MSG_STAGE_ITEM, 4);
	send_item(f, 5, CTP_ITEM_SETTING, 0, CTP_SETTING_REGISTRAR, 20);
	assert_response(f, CTP_MSG_STAGE_ITEM, 5);
	send_item(f, 6, CTP_ITEM_ANCHOR, 0, 0, 100);
	assert_response(f, CTP_MSG_STAGE_ITEM, 6);
	send_item(f, 7, CTP_ITEM_CHAIN, 1, 0, 100);
	assert_response(f, CTP_MSG_STAGE_ITEM, 7);
	g_assert_cmpuint(f->n_stage_item, ==, 5);

	send_commit(f, 8, 0xABCDEF01u);
	assert_response(f, CTP_MSG_COMMIT, 8);
	g_assert_cmpuint(f->last_commit_txn, ==, 0xABCDEF01u);
	const ctp_commit_rsp *r = &answer(f)->u.commit_rsp;
	g_assert_cmpuint(r->certificate_sha256.len, ==, CTP_SHA256_SIZE);
	g_assert_cmpuint(r->certificate_sha256.data[0], ==, 0xC5);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_READY);
	/* the staging area is used up */
	send_commit(f, 9, 0xABCDEF01u);
	assert_error(f, 9, CTP_ERR_BAD_STATE);
}

static void
test_stage_limits(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_stage_begin(f, 2, 1, 3, 0, 0); /* max_chain is 2 */
	assert_error(f, 2, CTP_ERR_TOO_LARGE);
	send_stage_begin(f, 3, 1, 0, 2, 0); /* max_anchors is 1 */
	assert_error(f, 3, CTP_ERR_TOO_LARGE);
	f->capabilities = 0;
	send_hello(f, 4, 1, 1);
	assert_response(f, CTP_MSG_HELLO, 4);
	send_stage_begin(f, 5, 1, 0, 0, 1); /* no SETTINGS capability */
	assert_error(f, 5, CTP_ERR_TOO_LARGE);
	g_assert_cmpuint(f->n_stage_begin, ==, 0);
	/* nothing was opened */
	send_item(f, 6, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_error(f, 6, CTP_ERR_BAD_STATE);
}

static void
test_stage_items_errors(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_stage_begin(f, 2, 77, 1, 1, 1);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	/* out of order */
	send_item(f, 3, CTP_ITEM_CHAIN, 1, 0, 10);
	assert_error(f, 3, CTP_ERR_BAD_STATE);
	send_item(f, 4, CTP_ITEM_CHAIN, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 4);
	/* more than announced */
	send_item(f, 5, CTP_ITEM_CHAIN, 1, 0, 10);
	assert_error(f, 5, CTP_ERR_TOO_LARGE);
	send_item(f, 6, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 6);
	send_item(f, 7, CTP_ITEM_CERTIFICATE, 0, 0, 10); /* exactly one certificate */
	assert_error(f, 7, CTP_ERR_TOO_LARGE);
	send_item(f, 8, CTP_ITEM_ANCHOR, 1, 0, 10); /* anchor 0 has not come yet */
	assert_error(f, 8, CTP_ERR_BAD_STATE);
	/* commit before everything announced arrived */
	send_commit(f, 9, 77);
	assert_error(f, 9, CTP_ERR_BAD_STATE);
	g_assert_cmpuint(f->n_commit, ==, 0);
	/* ... which consumed nothing: staging is still open */
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_STAGING);
	/* a transaction id that does not match */
	send_item(f, 10, CTP_ITEM_SETTING, 0, CTP_SETTING_WEB_SERVICE_URL, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 10);
	send_item(f, 11, CTP_ITEM_ANCHOR, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 11);
	send_commit(f, 12, 78);
	assert_error(f, 12, CTP_ERR_BAD_STATE);
	g_assert_cmpuint(f->n_commit, ==, 0);
	send_commit(f, 13, 77);
	assert_response(f, CTP_MSG_COMMIT, 13);
}

static void
test_duplicate_setting(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_stage_begin(f, 2, 1, 0, 0, 2);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	send_item(f, 3, CTP_ITEM_SETTING, 0, CTP_SETTING_SIP_URI, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 3);
	send_item(f, 4, CTP_ITEM_SETTING, 1, CTP_SETTING_SIP_URI, 10);
	assert_error(f, 4, CTP_ERR_BAD_STATE);
}

static void
test_item_larger_than_max_frame(void)
{
	g_autoptr(Fake) f = fake_new();
	f->max_frame = CTP_MIN_DEVICE_FRAME;
	send_hello(f, 1, 1, 1);
	assert_response(f, CTP_MSG_HELLO, 1);
	send_stage_begin(f, 2, 1, 0, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	/* a frame over the announced max_frame */
	send_item(f, 3, CTP_ITEM_CERTIFICATE, 0, 0, CTP_MIN_DEVICE_FRAME);
	assert_error(f, 3, CTP_ERR_TOO_LARGE);
	g_assert_cmpuint(f->n_stage_item, ==, 0);
	send_item(f, 4, CTP_ITEM_CERTIFICATE, 0, 0, 1000);
	assert_response(f, CTP_MSG_STAGE_ITEM, 4);
}

static void
test_commit_refused_by_firmware(void)
{
	g_autoptr(Fake) f = fake_ready();
	f->commit_rc = CTP_ERR_KEY_MISMATCH;
	f->commit_text = "not for the pending key";
	send_stage_begin(f, 2, 5, 0, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	send_item(f, 3, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 3);
	send_commit(f, 4, 5);
	assert_error(f, 4, CTP_ERR_KEY_MISMATCH);
	g_assert_cmpmem(answer(f)->u.error.text.data, answer(f)->u.error.text.len, f->commit_text,
	                strlen(f->commit_text));
	/* COMMIT consumed the staging area whatever its result, and the firmware was told */
	g_assert_cmpuint(f->n_abort, ==, 1);
	send_commit(f, 5, 5);
	assert_error(f, 5, CTP_ERR_BAD_STATE);
	/* the firmware's text does not leak into the next error */
	send_item(f, 6, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_error(f, 6, CTP_ERR_BAD_STATE);
	g_assert_null(g_strstr_len((const gchar *)answer(f)->u.error.text.data,
	                           answer(f)->u.error.text.len, "pending key"));
}

/* a firmware that returns a code the protocol does not have still answers (INTERNAL) */
static void
test_commit_unknown_firmware_code(void)
{
	g_autoptr(Fake) f = fake_ready();
	f->commit_rc = 99;
	send_stage_begin(f, 2, 5, 0, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	send_item(f, 3, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 3);
	send_commit(f, 4, 5);
	assert_error(f, 4, CTP_ERR_INTERNAL);
}

/* progress text the protocol forbids (a newline) still sends the progress, without text */
static void
test_progress_bad_text(void)
{
	g_autoptr(Fake) f = fake_ready();
	const ctp_message *p;
	f->csr_sync = FALSE;
	send_create_csr(f, 9, CTP_KEY_RSA_2048);
	g_ptr_array_set_size(f->sent, 0);
	g_assert_true(ctp_device_session_progress(&f->session, f->last_token, 40, "line\nbreak"));
	p = answer(f);
	g_assert_cmpuint(p->type, ==, CTP_MSG_PROGRESS);
	g_assert_cmpuint(p->request_id, ==, 9);
	g_assert_cmpuint(p->u.progress.percent, ==, 40);
	g_assert_false(ctp_bytes_present(p->u.progress.text));
}

static void
test_commit_without_begin(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_commit(f, 2, 0);
	assert_error(f, 2, CTP_ERR_BAD_STATE);
	send_item(f, 3, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_error(f, 3, CTP_ERR_BAD_STATE);
	g_assert_cmpuint(f->n_commit + f->n_stage_item, ==, 0);
}

static void
test_abort(void)
{
	g_autoptr(Fake) f = fake_ready();
	/* acknowledged with nothing staged */
	send_simple(f, CTP_MSG_ABORT, 2);
	assert_response(f, CTP_MSG_ABORT, 2);
	g_assert_cmpuint(f->n_abort, ==, 0);
	send_stage_begin(f, 3, 9, 0, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 3);
	send_simple(f, CTP_MSG_ABORT, 4);
	assert_response(f, CTP_MSG_ABORT, 4);
	g_assert_cmpuint(f->n_abort, ==, 1);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_READY);
	send_item(f, 5, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	assert_error(f, 5, CTP_ERR_BAD_STATE);
	send_commit(f, 6, 9);
	assert_error(f, 6, CTP_ERR_BAD_STATE);
}

static void
test_new_begin_and_hello_discard(void)
{
	g_autoptr(Fake) f = fake_ready();
	send_stage_begin(f, 2, 1, 1, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 2);
	send_item(f, 3, CTP_ITEM_CHAIN, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 3);
	/* a new STAGE_BEGIN starts over: index 0 is expected again */
	send_stage_begin(f, 4, 2, 1, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 4);
	g_assert_cmpuint(f->n_abort, ==, 1);
	send_item(f, 5, CTP_ITEM_CHAIN, 0, 0, 10);
	assert_response(f, CTP_MSG_STAGE_ITEM, 5);
	/* a new HELLO ends the session's staging */
	send_hello(f, 6, 1, 1);
	assert_response(f, CTP_MSG_HELLO, 6);
	g_assert_cmpuint(f->n_abort, ==, 2);
	send_commit(f, 7, 2);
	assert_error(f, 7, CTP_ERR_BAD_STATE);
	/* CREATE_CSR is allowed while staging and leaves the staging area alone */
	send_stage_begin(f, 8, 3, 0, 0, 0);
	assert_response(f, CTP_MSG_STAGE_BEGIN, 8);
	send_create_csr(f, 9, CTP_KEY_EC_P256);
	assert_response(f, CTP_MSG_CREATE_CSR, 9);
	g_assert_cmpint(ctp_device_session_get_state(&f->session), ==, CTP_DEVICE_SESSION_STAGING);
}

static void
test_error_text_bounds(void)
{
	g_autoptr(Fake) f = fake_ready();
	/* a firmware reason longer than the field: cut at a UTF-8 boundary */
	GString *s = g_string_new(NULL);
	while (s->len < CTP_MAX_ERROR_TEXT + 10)
		g_string_append(s, "\xc3\xa9"); /* é */
	f->commit_rc = CTP_ERR_STORAGE;
	f->commit_text = s->str;
	send_stage_begin(f, 2, 1, 0, 0, 0);
	send_item(f, 3, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	send_commit(f, 4, 1);
	assert_error(f, 4, CTP_ERR_STORAGE);
	g_assert_cmpuint(answer(f)->u.error.text.len, <=, CTP_MAX_ERROR_TEXT);
	g_assert_true(g_utf8_validate((const gchar *)answer(f)->u.error.text.data,
	                              answer(f)->u.error.text.len, NULL));
	/* a reason that is not acceptable text is dropped, the code still goes out */
	f->commit_text = "bad\ntext";
	send_stage_begin(f, 5, 1, 0, 0, 0);
	send_item(f, 6, CTP_ITEM_CERTIFICATE, 0, 0, 10);
	send_commit(f, 7, 1);
	const ctp_message *m = answer(f);
	g_assert_cmpuint(m->type, ==, CTP_MSG_ERROR);
	g_assert_cmpuint(m->u.error.code, ==, CTP_ERR_STORAGE);
	g_assert_false(ctp_bytes_present(m->u.error.text));
	g_string_free(s, TRUE);
}

static void
test_sig_inputs(void)
{
	guint8 out[CTP_DEVICE_POP_SIG_INPUT_MAX];
	gsize len = 0;
	guint8 nonce[CTP_MAX_NONCE + 1] = {0};
	guint8 digest[CTP_SHA256_SIZE] = {0};
	g_assert_true(
	    ctp_device_pop_sig_input(nonce, CTP_MIN_NONCE, digest, out, sizeof out, &len));
	g_assert_cmpuint(len, ==, strlen(CTP_CSR_POP_CONTEXT) + CTP_MIN_NONCE + CTP_SHA256_SIZE);
	g_assert_cmpmem(out, strlen(CTP_CSR_POP_CONTEXT), CTP_CSR_POP_CONTEXT,
	                strlen(CTP_CSR_POP_CONTEXT));
	g_assert_false(
	    ctp_device_pop_sig_input(nonce, CTP_MIN_NONCE - 1, digest, out, sizeof out, &len));
	g_assert_false(
	    ctp_device_pop_sig_input(nonce, CTP_MAX_NONCE + 1, digest, out, sizeof out, &len));
	g_assert_false(ctp_device_pop_sig_input(nonce, CTP_MIN_NONCE, digest, out, 10, &len));

	guint8 hello[CTP_DEVICE_HELLO_SIG_INPUT_MAX];
	guint8 serial[CTP_MAX_TEXT + 1];
	memset(serial, 'S', sizeof serial);
	g_assert_true(ctp_device_hello_sig_input(challenge, CTP_CHALLENGE_SIZE, serial,
	                                         CTP_MAX_TEXT, hello, sizeof hello, &len));
	g_assert_cmpuint(len, ==, sizeof hello);
	g_assert_false(ctp_device_hello_sig_input(challenge, CTP_CHALLENGE_SIZE, serial,
	                                          CTP_MAX_TEXT + 1, hello, sizeof hello, &len));
	g_assert_false(ctp_device_hello_sig_input(challenge, CTP_CHALLENGE_SIZE - 1, serial, 1,
	                                          hello, sizeof hello, &len));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ctp/device/init-rejects", test_init_rejects);
	g_test_add_func("/ctp/device/hello", test_hello);
	g_test_add_func("/ctp/device/hello-unsupported-version", test_hello_version);
	g_test_add_func("/ctp/device/idle-accepts-only-hello-ping", test_idle_state);
	g_test_add_func("/ctp/device/bad-frames", test_bad_frames);
	g_test_add_func("/ctp/device/unknown-and-bad-messages", test_unknown_and_bad_messages);
	g_test_add_func("/ctp/device/status", test_status);
	g_test_add_func("/ctp/device/create-csr-sync", test_create_csr_sync);
	g_test_add_func("/ctp/device/create-csr-unsupported-key", test_create_csr_unsupported_key);
	g_test_add_func("/ctp/device/create-csr-async-progress-busy", test_create_csr_async);
	g_test_add_func("/ctp/device/create-csr-async-fail", test_create_csr_async_fail);
	g_test_add_func("/ctp/device/reset-cancels", test_reset_cancels);
	g_test_add_func("/ctp/device/stage-commit", test_stage_commit);
	g_test_add_func("/ctp/device/stage-limits", test_stage_limits);
	g_test_add_func("/ctp/device/stage-item-errors", test_stage_items_errors);
	g_test_add_func("/ctp/device/duplicate-setting", test_duplicate_setting);
	g_test_add_func("/ctp/device/frame-over-max-frame", test_item_larger_than_max_frame);
	g_test_add_func("/ctp/device/commit-refused-by-firmware", test_commit_refused_by_firmware);
	g_test_add_func("/ctp/device/commit-unknown-firmware-code",
	                test_commit_unknown_firmware_code);
	g_test_add_func("/ctp/device/progress-bad-text", test_progress_bad_text);
	g_test_add_func("/ctp/device/commit-without-begin", test_commit_without_begin);
	g_test_add_func("/ctp/device/abort", test_abort);
	g_test_add_func("/ctp/device/new-begin-and-hello-discard",
	                test_new_begin_and_hello_discard);
	g_test_add_func("/ctp/device/error-text-bounds", test_error_text_bounds);
	g_test_add_func("/ctp/device/signature-inputs", test_sig_inputs);
	return g_test_run();
}
