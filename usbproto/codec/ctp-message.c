/*
 * CTP message codec: one field table per message type drives encoding, decoding,
 * validation and comparison. libc only, no allocation.
 *
 * Payload = a sequence of TLV fields: tag u8, length u16 LE, value. The rules
 * (usbproto/PROTOCOL.md, "Payload encoding") in short: tags strictly ascending,
 * a repeated field repeats its tag consecutively, unknown tags >= 0x80 are
 * skipped, unknown tags < 0x80 are an error, every length and value is bounded.
 */
#include "usbproto/codec/ctp-message.h"

#include <stddef.h>
#include <string.h>

#include "usbproto/codec/ctp-le.h"
#include "usbproto/codec/ctp-text.h"

#define CTP_TAG_OPTIONAL_MIN 0x80 /* tags from here on may be skipped when unknown */

typedef enum {
	KIND_U8,
	KIND_U16,
	KIND_U32,
	KIND_BYTES, /* opaque (DER, signatures, hashes) */
	KIND_UTF8,  /* ctp_text_is_valid_utf8() */
	KIND_TOKEN, /* ctp_text_is_token() */
} field_kind;

typedef enum {
	MANDATORY,
	OPTIONAL, /* byte kinds only: absent is { NULL, 0 } */
	REPEATED, /* byte kinds only: an array of ctp_bytes plus a uint8_t count */
} field_presence;

typedef struct {
	uint8_t tag;
	uint8_t kind;          /* field_kind */
	uint8_t presence;      /* field_presence */
	uint8_t max_count;     /* REPEATED */
	uint32_t min;          /* integers: smallest value; byte kinds: shortest length */
	uint32_t max;          /* integers: largest value; byte kinds: longest length */
	uint16_t offset;       /* of the value within ctp_message */
	uint16_t count_offset; /* REPEATED: of the uint8_t count within ctp_message */
} field_desc;

typedef struct {
	uint8_t type;
	const char *name;
	const field_desc *fields; /* ascending tags */
	uint8_t n_fields;
	ctp_result (*check)(const ctp_message *msg); /* rules across fields, or NULL */
} message_desc;

#define OFF(member) ((uint16_t)offsetof(ctp_message, u.member))

#define INT_FIELD(tag, kind, lo, hi, member)                                                       \
	{                                                                                          \
		tag, kind, MANDATORY, 0, lo, hi, OFF(member), 0                                    \
	}
#define BYTES_FIELD(tag, kind, presence, lo, hi, member)                                           \
	{                                                                                          \
		tag, kind, presence, 0, lo, hi, OFF(member), 0                                     \
	}
#define REPEATED_FIELD(tag, kind, lo, hi, member, count_member, max_count)                         \
	{                                                                                          \
		tag, kind, REPEATED, max_count, lo, hi, OFF(member), OFF(count_member)             \
	}

/* the tag tables; PROTOCOL.md "Messages" lists the same numbers */

static const field_desc hello_req_fields[] = {
    INT_FIELD(0x01, KIND_U8, 1, 255, hello_req.version_min),
    INT_FIELD(0x02, KIND_U8, 1, 255, hello_req.version_max),
    BYTES_FIELD(
        0x03, KIND_BYTES, MANDATORY, CTP_CHALLENGE_SIZE, CTP_CHALLENGE_SIZE, hello_req.challenge),
    BYTES_FIELD(0x04, KIND_UTF8, OPTIONAL, 1, CTP_MAX_TEXT, hello_req.host_name),
};

static const field_desc hello_rsp_fields[] = {
    INT_FIELD(0x01, KIND_U8, 1, 255, hello_rsp.version),
    BYTES_FIELD(0x02, KIND_UTF8, MANDATORY, 1, CTP_MAX_TEXT, hello_rsp.vendor),
    BYTES_FIELD(0x03, KIND_UTF8, MANDATORY, 1, CTP_MAX_TEXT, hello_rsp.model),
    BYTES_FIELD(0x04, KIND_TOKEN, MANDATORY, 1, CTP_MAX_TEXT, hello_rsp.serial),
    BYTES_FIELD(0x05, KIND_UTF8, MANDATORY, 1, CTP_MAX_TEXT, hello_rsp.firmware),
    INT_FIELD(0x06, KIND_U16, 1, 0xffff, hello_rsp.key_algs),
    INT_FIELD(0x07, KIND_U32, CTP_MIN_DEVICE_FRAME, CTP_MAX_FRAME, hello_rsp.max_frame),
    INT_FIELD(0x08, KIND_U8, 0, CTP_MAX_CHAIN, hello_rsp.max_chain),
    INT_FIELD(0x09, KIND_U8, 0, CTP_MAX_ANCHORS, hello_rsp.max_anchors),
    INT_FIELD(0x0a, KIND_U32, 0, 0xffffffffu, hello_rsp.capabilities),
    BYTES_FIELD(0x0b, KIND_BYTES, MANDATORY, 1, CTP_MAX_PUBKEY, hello_rsp.identity_key),
    BYTES_FIELD(0x0c, KIND_BYTES, MANDATORY, 1, CTP_MAX_SIGNATURE, hello_rsp.identity_sig),
};

static const field_desc status_rsp_fields[] = {
    INT_FIELD(
        0x01, KIND_U8, CTP_DEVICE_STATE_EMPTY, CTP_DEVICE_STATE_PROVISIONED, status_rsp.state),
    BYTES_FIELD(0x02, KIND_BYTES, OPTIONAL, 1, CTP_MAX_CERT, status_rsp.certificate),
    INT_FIELD(0x03, KIND_U8, 0, CTP_MAX_CHAIN, status_rsp.chain_count),
    INT_FIELD(0x04, KIND_U8, 0, CTP_MAX_ANCHORS, status_rsp.anchor_count),
    REPEATED_FIELD(0x05,
                   KIND_BYTES,
                   CTP_SHA256_SIZE,
                   CTP_SHA256_SIZE,
                   status_rsp.anchor_sha256,
                   status_rsp.n_anchor_sha256,
                   CTP_MAX_ANCHORS),
    BYTES_FIELD(0x06,
                KIND_BYTES,
                OPTIONAL,
                CTP_SHA256_SIZE,
                CTP_SHA256_SIZE,
                status_rsp.pending_csr_sha256),
    BYTES_FIELD(0x07, KIND_UTF8, OPTIONAL, 1, CTP_MAX_SETTING, status_rsp.web_service_url),
    BYTES_FIELD(0x08, KIND_UTF8, OPTIONAL, 1, CTP_MAX_SETTING, status_rsp.registrar),
};

static const field_desc create_csr_req_fields[] = {
    INT_FIELD(0x01, KIND_U8, CTP_KEY_RSA_2048, CTP_KEY_EC_P384, create_csr_req.key_alg),
    BYTES_FIELD(0x02, KIND_BYTES, MANDATORY, 2, CTP_MAX_NAME_DER, create_csr_req.subject),
    BYTES_FIELD(0x03, KIND_BYTES, OPTIONAL, 2, CTP_MAX_SAN_DER, create_csr_req.san),
    BYTES_FIELD(0x04, KIND_BYTES, MANDATORY, CTP_MIN_NONCE, CTP_MAX_NONCE, create_csr_req.nonce),
};

static const field_desc create_csr_rsp_fields[] = {
    BYTES_FIELD(0x01, KIND_BYTES, MANDATORY, 2, CTP_MAX_CSR, create_csr_rsp.csr),
    BYTES_FIELD(0x02, KIND_BYTES, MANDATORY, 1, CTP_MAX_SIGNATURE, create_csr_rsp.pop_sig),
};

static const field_desc stage_begin_req_fields[] = {
    INT_FIELD(0x01, KIND_U32, 0, 0xffffffffu, stage_begin_req.txn_id),
    INT_FIELD(0x02, KIND_U8, 0, CTP_MAX_CHAIN, stage_begin_req.chain_count),
    INT_FIELD(0x03, KIND_U8, 0, CTP_MAX_ANCHORS, stage_begin_req.anchor_count),
    INT_FIELD(0x04, KIND_U8, 0, CTP_MAX_SETTINGS, stage_begin_req.setting_count),
};

static const field_desc stage_item_req_fields[] = {
    INT_FIELD(0x01, KIND_U8, CTP_ITEM_CERTIFICATE, CTP_ITEM_SETTING, stage_item_req.kind),
    INT_FIELD(0x02, KIND_U8, 0, CTP_MAX_CHAIN - 1, stage_item_req.index),
    INT_FIELD(0x03, KIND_U8, 0, CTP_SETTING_SIP_URI, stage_item_req.setting),
    BYTES_FIELD(0x04, KIND_BYTES, MANDATORY, 1, CTP_MAX_CERT, stage_item_req.data),
};

static const field_desc commit_req_fields[] = {
    INT_FIELD(0x01, KIND_U32, 0, 0xffffffffu, commit_req.txn_id),
};

static const field_desc commit_rsp_fields[] = {
    BYTES_FIELD(0x01,
                KIND_BYTES,
                MANDATORY,
                CTP_SHA256_SIZE,
                CTP_SHA256_SIZE,
                commit_rsp.certificate_sha256),
};

static const field_desc ping_fields[] = {
    BYTES_FIELD(0x01, KIND_BYTES, OPTIONAL, 1, CTP_MAX_COOKIE, ping.cookie),
};

static const field_desc progress_fields[] = {
    INT_FIELD(0x01, KIND_U8, 0, 100, progress.percent),
    BYTES_FIELD(0x02, KIND_UTF8, OPTIONAL, 1, CTP_MAX_PROGRESS_TEXT, progress.text),
};

static const field_desc error_fields[] = {
    INT_FIELD(0x01, KIND_U16, CTP_ERR_BAD_FRAME, CTP_ERR_INTERNAL, error.code),
    BYTES_FIELD(0x02, KIND_UTF8, OPTIONAL, 1, CTP_MAX_ERROR_TEXT, error.text),
};

/* rules that involve more than one field */

static ctp_result
check_hello_req(const ctp_message *msg)
{
	if (msg->u.hello_req.version_min > msg->u.hello_req.version_max)
		return CTP_E_BAD_VALUE;
	return CTP_OK;
}

static ctp_result
check_hello_rsp(const ctp_message *msg)
{
	const uint16_t known = CTP_KEY_ALG_BIT(CTP_KEY_RSA_2048) |
	                       CTP_KEY_ALG_BIT(CTP_KEY_RSA_3072) |
	                       CTP_KEY_ALG_BIT(CTP_KEY_EC_P256) | CTP_KEY_ALG_BIT(CTP_KEY_EC_P384);

	if ((msg->u.hello_rsp.key_algs & ~known) != 0)
		return CTP_E_BAD_VALUE;
	return CTP_OK;
}

static ctp_result
check_status_rsp(const ctp_message *msg)
{
	const ctp_status_rsp *s = &msg->u.status_rsp;

	/* a certificate and its chain are installed together, or not at all */
	if (s->state == CTP_DEVICE_STATE_PROVISIONED && !ctp_bytes_present(s->certificate))
		return CTP_E_MISSING_FIELD;
	if (s->state == CTP_DEVICE_STATE_EMPTY &&
	    (ctp_bytes_present(s->certificate) || s->chain_count != 0))
		return CTP_E_BAD_VALUE;
	if (s->anchor_count != s->n_anchor_sha256)
		return CTP_E_BAD_VALUE;
	return CTP_OK;
}

static ctp_result
check_stage_item_req(const ctp_message *msg)
{
	const ctp_stage_item_req *it = &msg->u.stage_item_req;

	switch (it->kind) {
	case CTP_ITEM_CERTIFICATE:
		if (it->index != 0 || it->setting != 0)
			return CTP_E_BAD_VALUE;
		return CTP_OK;
	case CTP_ITEM_CHAIN:
		if (it->setting != 0)
			return CTP_E_BAD_VALUE;
		return CTP_OK;
	case CTP_ITEM_ANCHOR:
		if (it->index >= CTP_MAX_ANCHORS || it->setting != 0)
			return CTP_E_BAD_VALUE;
		return CTP_OK;
	case CTP_ITEM_SETTING:
		if (it->index >= CTP_MAX_SETTINGS || it->setting == 0)
			return CTP_E_BAD_VALUE;
		if (it->data.len > CTP_MAX_SETTING)
			return CTP_E_FIELD_LENGTH;
		if (!ctp_text_is_valid_utf8(it->data.data, it->data.len))
			return CTP_E_BAD_VALUE;
		return CTP_OK;
	default:
		return CTP_E_BAD_VALUE;
	}
}

#define FIELDS(table) table, (uint8_t)(sizeof(table) / sizeof(table[0]))
#define NO_FIELDS     NULL, 0

static const message_desc messages[] = {
    {CTP_MSG_HELLO, "HELLO", FIELDS(hello_req_fields), check_hello_req},
    {CTP_MSG_STATUS, "STATUS", NO_FIELDS, NULL},
    {CTP_MSG_CREATE_CSR, "CREATE_CSR", FIELDS(create_csr_req_fields), NULL},
    {CTP_MSG_STAGE_BEGIN, "STAGE_BEGIN", FIELDS(stage_begin_req_fields), NULL},
    {CTP_MSG_STAGE_ITEM, "STAGE_ITEM", FIELDS(stage_item_req_fields), check_stage_item_req},
    {CTP_MSG_COMMIT, "COMMIT", FIELDS(commit_req_fields), NULL},
    {CTP_MSG_ABORT, "ABORT", NO_FIELDS, NULL},
    {CTP_MSG_PING, "PING", FIELDS(ping_fields), NULL},
    {CTP_MSG_HELLO_RSP, "HELLO_RSP", FIELDS(hello_rsp_fields), check_hello_rsp},
    {CTP_MSG_STATUS_RSP, "STATUS_RSP", FIELDS(status_rsp_fields), check_status_rsp},
    {CTP_MSG_CREATE_CSR_RSP, "CREATE_CSR_RSP", FIELDS(create_csr_rsp_fields), NULL},
    {CTP_MSG_STAGE_BEGIN_RSP, "STAGE_BEGIN_RSP", NO_FIELDS, NULL},
    {CTP_MSG_STAGE_ITEM_RSP, "STAGE_ITEM_RSP", NO_FIELDS, NULL},
    {CTP_MSG_COMMIT_RSP, "COMMIT_RSP", FIELDS(commit_rsp_fields), NULL},
    {CTP_MSG_ABORT_RSP, "ABORT_RSP", NO_FIELDS, NULL},
    {CTP_MSG_PING_RSP, "PING_RSP", FIELDS(ping_fields), NULL},
    {CTP_MSG_PROGRESS, "PROGRESS", FIELDS(progress_fields), NULL},
    {CTP_MSG_ERROR, "ERROR", FIELDS(error_fields), NULL},
};

static const message_desc *
find_message(uint8_t type)
{
	for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
		if (messages[i].type == type)
			return &messages[i];
	}
	return NULL;
}

/* request id 0 is reserved for an ERROR that cannot name its request (BAD_FRAME) */
static bool
request_id_allowed(uint8_t type, uint16_t request_id)
{
	return request_id != 0 || type == CTP_MSG_ERROR;
}

/* typed access to the struct member a field_desc points at */

static uint32_t
get_int(const field_desc *f, const ctp_message *msg)
{
	const uint8_t *p = (const uint8_t *)msg + f->offset;

	switch (f->kind) {
	case KIND_U8:
		return *p;
	case KIND_U16:
		return *(const uint16_t *)(const void *)p;
	default:
		return *(const uint32_t *)(const void *)p;
	}
}

static void
set_int(const field_desc *f, ctp_message *msg, uint32_t v)
{
	uint8_t *p = (uint8_t *)msg + f->offset;

	switch (f->kind) {
	case KIND_U8:
		*p = (uint8_t)v;
		break;
	case KIND_U16:
		*(uint16_t *)(void *)p = (uint16_t)v;
		break;
	default:
		*(uint32_t *)(void *)p = v;
		break;
	}
}

static size_t
int_size(const field_desc *f)
{
	return f->kind == KIND_U8 ? 1 : f->kind == KIND_U16 ? 2 : 4;
}

static bool
is_int(const field_desc *f)
{
	return f->kind == KIND_U8 || f->kind == KIND_U16 || f->kind == KIND_U32;
}

/* the i-th ctp_bytes of a field (i > 0 only for REPEATED) */
static const ctp_bytes *
get_bytes(const field_desc *f, const ctp_message *msg, size_t i)
{
	return (const ctp_bytes *)(const void *)((const uint8_t *)msg + f->offset) + i;
}

static ctp_bytes *
mut_bytes(const field_desc *f, ctp_message *msg, size_t i)
{
	return (ctp_bytes *)(void *)((uint8_t *)msg + f->offset) + i;
}

/* how many values a field holds in msg: 0 or 1, or the count of a REPEATED field */
static size_t
field_count(const field_desc *f, const ctp_message *msg)
{
	if (f->presence == REPEATED)
		return *((const uint8_t *)msg + f->count_offset);
	if (f->presence == OPTIONAL)
		return ctp_bytes_present(*get_bytes(f, msg, 0)) ? 1 : 0;
	return 1;
}

/* length and content of one byte-kind value; shared by decoding and encoding */
static ctp_result
check_bytes_value(const field_desc *f, const uint8_t *v, size_t len)
{
	if (len < f->min || len > f->max)
		return CTP_E_FIELD_LENGTH;
	if (f->kind == KIND_UTF8 && !ctp_text_is_valid_utf8(v, len))
		return CTP_E_BAD_VALUE;
	if (f->kind == KIND_TOKEN && !ctp_text_is_token(v, len))
		return CTP_E_BAD_VALUE;
	return CTP_OK;
}

static ctp_result
decode_field(const field_desc *f, const uint8_t *v, uint16_t len, ctp_message *msg)
{
	ctp_result r;

	if (is_int(f)) {
		uint32_t value;
		if (len != int_size(f))
			return CTP_E_FIELD_LENGTH;
		value = f->kind == KIND_U8 ? v[0] : f->kind == KIND_U16 ? ctp_le16(v) : ctp_le32(v);
		if (value < f->min || value > f->max)
			return CTP_E_BAD_VALUE;
		set_int(f, msg, value);
		return CTP_OK;
	}

	r = check_bytes_value(f, v, len);
	if (r != CTP_OK)
		return r;
	if (f->presence == REPEATED) {
		uint8_t *count = (uint8_t *)msg + f->count_offset;
		if (*count >= f->max_count)
			return CTP_E_TOO_MANY;
		*mut_bytes(f, msg, *count) = (ctp_bytes){v, len};
		(*count)++;
		return CTP_OK;
	}
	*mut_bytes(f, msg, 0) = (ctp_bytes){v, len};
	return CTP_OK;
}

static ctp_result
decode_payload(const message_desc *d, const uint8_t *p, size_t len, ctp_message *msg)
{
	size_t pos = 0;
	size_t fi = 0; /* table index of the first field whose tag is >= the current tag */
	int last_tag = -1;
	uint32_t seen = 0;

	while (pos < len) {
		const field_desc *f = NULL;
		uint8_t tag;
		uint16_t flen;
		const uint8_t *value;

		if (len - pos < 3)
			return CTP_E_TRAILING; /* not even a field header after the last field */
		tag = p[pos];
		flen = ctp_le16(p + pos + 1);
		pos += 3;
		if (len - pos < flen)
			return CTP_E_TRUNCATED;
		value = p + pos;
		pos += flen;

		if ((int)tag < last_tag)
			return CTP_E_FIELD_ORDER;
		while (fi < d->n_fields && d->fields[fi].tag < tag)
			fi++;
		if (fi < d->n_fields && d->fields[fi].tag == tag)
			f = &d->fields[fi];
		/* a known field may repeat only if declared so; an unknown optional
		 * one may, since this receiver cannot know how it was declared */
		if ((int)tag == last_tag && f != NULL && f->presence != REPEATED)
			return CTP_E_FIELD_ORDER;
		last_tag = tag;
		if (f == NULL) {
			if (tag >= CTP_TAG_OPTIONAL_MIN)
				continue;
			return CTP_E_UNKNOWN_FIELD;
		}
		ctp_result r = decode_field(f, value, flen, msg);
		if (r != CTP_OK)
			return r;
		seen |= 1u << fi;
	}

	for (size_t i = 0; i < d->n_fields; i++) {
		if (d->fields[i].presence == MANDATORY && (seen & (1u << i)) == 0)
			return CTP_E_MISSING_FIELD;
	}
	return d->check != NULL ? d->check(msg) : CTP_OK;
}

ctp_result
ctp_message_decode_frame(const ctp_frame *frame, ctp_message *msg)
{
	const message_desc *d;

	if (frame == NULL || msg == NULL || (frame->payload == NULL && frame->payload_len != 0))
		return CTP_E_INVALID_ARG;
	if (frame->payload_len > CTP_MAX_PAYLOAD)
		return CTP_E_TOO_LARGE;
	memset(msg, 0, sizeof(*msg));
	d = find_message(frame->type);
	if (d == NULL)
		return CTP_E_UNKNOWN_TYPE;
	if (!request_id_allowed(frame->type, frame->request_id))
		return CTP_E_BAD_VALUE;
	msg->type = frame->type;
	msg->request_id = frame->request_id;
	return decode_payload(d, frame->payload, frame->payload_len, msg);
}

ctp_result
ctp_message_decode(const uint8_t *buf, size_t len, ctp_message *msg)
{
	ctp_frame frame;
	ctp_result r;

	if (msg == NULL)
		return CTP_E_INVALID_ARG;
	memset(msg, 0, sizeof(*msg));
	r = ctp_frame_decode(buf, len, &frame);
	if (r != CTP_OK)
		return r;
	return ctp_message_decode_frame(&frame, msg);
}

/* everything the decoder would check, applied to a message about to be encoded */
static bool
message_is_valid(const message_desc *d, const ctp_message *msg)
{
	for (size_t i = 0; i < d->n_fields; i++) {
		const field_desc *f = &d->fields[i];

		if (is_int(f)) {
			uint32_t v = get_int(f, msg);
			if (v < f->min || v > f->max)
				return false;
			continue;
		}
		if (f->presence == REPEATED && field_count(f, msg) > f->max_count)
			return false;
		if (f->presence == MANDATORY && !ctp_bytes_present(*get_bytes(f, msg, 0)))
			return false;
		for (size_t k = 0; k < field_count(f, msg); k++) {
			const ctp_bytes *b = get_bytes(f, msg, k);
			if (b->data == NULL || check_bytes_value(f, b->data, b->len) != CTP_OK)
				return false;
		}
	}
	return d->check == NULL || d->check(msg) == CTP_OK;
}

static size_t
field_value_len(const field_desc *f, const ctp_message *msg, size_t k)
{
	return is_int(f) ? int_size(f) : get_bytes(f, msg, k)->len;
}

static uint8_t *
put_field(uint8_t *out, const field_desc *f, const ctp_message *msg, size_t k)
{
	size_t len = field_value_len(f, msg, k);

	out[0] = f->tag;
	ctp_put_le16(out + 1, (uint16_t)len);
	out += 3;
	if (is_int(f)) {
		uint32_t v = get_int(f, msg);
		if (f->kind == KIND_U8)
			out[0] = (uint8_t)v;
		else if (f->kind == KIND_U16)
			ctp_put_le16(out, (uint16_t)v);
		else
			ctp_put_le32(out, v);
	} else {
		memcpy(out, get_bytes(f, msg, k)->data, len);
	}
	return out + len;
}

ctp_result
ctp_message_encode(const ctp_message *msg, uint8_t *buf, size_t cap, size_t *frame_len)
{
	const message_desc *d;
	size_t payload_len = 0;
	uint8_t *out;

	if (msg == NULL || buf == NULL)
		return CTP_E_INVALID_ARG;
	d = find_message(msg->type);
	if (d == NULL || !request_id_allowed(msg->type, msg->request_id) ||
	    !message_is_valid(d, msg))
		return CTP_E_INVALID_ARG;

	/* measure first, so a short buffer is never partly written */
	for (size_t i = 0; i < d->n_fields; i++) {
		for (size_t k = 0; k < field_count(&d->fields[i], msg); k++)
			payload_len += 3 + field_value_len(&d->fields[i], msg, k);
	}
	if (payload_len > CTP_MAX_PAYLOAD)
		return CTP_E_TOO_LARGE;
	if (cap < CTP_HEADER_SIZE || cap - CTP_HEADER_SIZE < payload_len)
		return CTP_E_NO_SPACE;

	out = buf + CTP_HEADER_SIZE;
	for (size_t i = 0; i < d->n_fields; i++) {
		for (size_t k = 0; k < field_count(&d->fields[i], msg); k++)
			out = put_field(out, &d->fields[i], msg, k);
	}
	return ctp_frame_seal(buf, cap, msg->type, msg->request_id, payload_len, frame_len);
}

static bool
bytes_equal(ctp_bytes a, ctp_bytes b)
{
	if (ctp_bytes_present(a) != ctp_bytes_present(b) || a.len != b.len)
		return false;
	return a.len == 0 || memcmp(a.data, b.data, a.len) == 0;
}

bool
ctp_message_equal(const ctp_message *a, const ctp_message *b)
{
	const message_desc *d;

	if (a == NULL || b == NULL)
		return a == b;
	if (a->type != b->type || a->request_id != b->request_id)
		return false;
	d = find_message(a->type);
	if (d == NULL)
		return true; /* no fields known */
	for (size_t i = 0; i < d->n_fields; i++) {
		const field_desc *f = &d->fields[i];

		if (is_int(f)) {
			if (get_int(f, a) != get_int(f, b))
				return false;
			continue;
		}
		if (field_count(f, a) != field_count(f, b))
			return false;
		if (f->presence == REPEATED && field_count(f, a) > f->max_count)
			return false; /* not a valid message: do not read past the array */
		for (size_t k = 0; k < field_count(f, a); k++) {
			if (!bytes_equal(*get_bytes(f, a, k), *get_bytes(f, b, k)))
				return false;
		}
	}
	return true;
}

bool
ctp_message_type_is_request(uint8_t type)
{
	return type >= CTP_MSG_HELLO && type <= CTP_MSG_PING;
}

const char *
ctp_message_type_to_string(uint8_t type)
{
	const message_desc *d = find_message(type);
	return d != NULL ? d->name : "UNKNOWN";
}

const char *
ctp_device_error_to_string(uint16_t code)
{
	switch (code) {
	case CTP_ERR_BAD_FRAME:
		return "bad frame";
	case CTP_ERR_UNSUPPORTED_VERSION:
		return "unsupported protocol version";
	case CTP_ERR_UNKNOWN_MESSAGE:
		return "unknown message";
	case CTP_ERR_BAD_MESSAGE:
		return "malformed message";
	case CTP_ERR_BAD_STATE:
		return "message not allowed in the current state";
	case CTP_ERR_UNSUPPORTED_KEY:
		return "unsupported key algorithm";
	case CTP_ERR_KEYGEN_FAILED:
		return "key generation failed";
	case CTP_ERR_KEY_MISMATCH:
		return "certificate does not match the pending key";
	case CTP_ERR_CHAIN_INVALID:
		return "certificate chain does not verify";
	case CTP_ERR_STORAGE:
		return "storage error";
	case CTP_ERR_TOO_LARGE:
		return "more items or bytes than the device accepts";
	case CTP_ERR_REFUSED:
		return "refused by the device's user or policy";
	case CTP_ERR_INTERNAL:
		return "internal device error";
	default:
		return "unknown device error";
	}
}

ctp_bytes
ctp_bytes_from(const void *data, size_t len)
{
	/* a view that cannot hold len bytes is made invalid (present, no data), so
	 * encoding it fails with CTP_E_INVALID_ARG instead of silently truncating */
	if (len > UINT16_MAX)
		return (ctp_bytes){NULL, UINT16_MAX};
	return (ctp_bytes){(const uint8_t *)data, (uint16_t)len};
}

ctp_bytes
ctp_bytes_from_string(const char *s)
{
	if (s == NULL)
		return (ctp_bytes){NULL, 0};
	return ctp_bytes_from(s, strlen(s));
}

bool
ctp_bytes_present(ctp_bytes b)
{
	return b.data != NULL || b.len != 0;
}
