/*
 * Unit tests of the CTP frame and message codec (usbproto/codec/).
 *
 * The expectations here are written from usbproto/PROTOCOL.md, independently
 * of the codec's own field tables, so that a table typo is caught.
 */
#include <glib.h>
#include <string.h>

#include "tests/unit/ctp-test-messages.h"
#include "usbproto/codec/ctp-message.h"

/* ---- the protocol's tag tables, as PROTOCOL.md states them ---- */

typedef enum { S_U8, S_U16, S_U32, S_BYTES, S_UTF8, S_TOKEN } spec_kind;
typedef enum { S_MAND, S_OPT, S_REP } spec_presence;

typedef struct {
	guint8 type;
	guint8 tag;
	spec_kind kind;
	spec_presence presence;
	guint32 min; /* value (integers) or length (byte kinds) */
	guint32 max;
} spec_field;

static const spec_field spec[] = {
    {CTP_MSG_HELLO, 0x01, S_U8, S_MAND, 1, 255},
    {CTP_MSG_HELLO, 0x02, S_U8, S_MAND, 1, 255},
    {CTP_MSG_HELLO, 0x03, S_BYTES, S_MAND, 32, 32},
    {CTP_MSG_HELLO, 0x04, S_UTF8, S_OPT, 1, 64},
    {CTP_MSG_HELLO_RSP, 0x01, S_U8, S_MAND, 1, 255},
    {CTP_MSG_HELLO_RSP, 0x02, S_UTF8, S_MAND, 1, 64},
    {CTP_MSG_HELLO_RSP, 0x03, S_UTF8, S_MAND, 1, 64},
    {CTP_MSG_HELLO_RSP, 0x04, S_TOKEN, S_MAND, 1, 64},
    {CTP_MSG_HELLO_RSP, 0x05, S_UTF8, S_MAND, 1, 64},
    {CTP_MSG_HELLO_RSP, 0x06, S_U16, S_MAND, 1, 0xffff},
    {CTP_MSG_HELLO_RSP, 0x07, S_U32, S_MAND, 4096, 65536},
    {CTP_MSG_HELLO_RSP, 0x08, S_U8, S_MAND, 0, 16},
    {CTP_MSG_HELLO_RSP, 0x09, S_U8, S_MAND, 0, 16},
    {CTP_MSG_HELLO_RSP, 0x0a, S_U32, S_MAND, 0, 0xffffffffu},
    {CTP_MSG_HELLO_RSP, 0x0b, S_BYTES, S_MAND, 1, 1024},
    {CTP_MSG_HELLO_RSP, 0x0c, S_BYTES, S_MAND, 1, 512},
    {CTP_MSG_STATUS_RSP, 0x01, S_U8, S_MAND, 0, 1},
    {CTP_MSG_STATUS_RSP, 0x02, S_BYTES, S_OPT, 1, 16384},
    {CTP_MSG_STATUS_RSP, 0x03, S_U8, S_MAND, 0, 16},
    {CTP_MSG_STATUS_RSP, 0x04, S_U8, S_MAND, 0, 16},
    {CTP_MSG_STATUS_RSP, 0x05, S_BYTES, S_REP, 32, 32},
    {CTP_MSG_STATUS_RSP, 0x06, S_BYTES, S_OPT, 32, 32},
    {CTP_MSG_STATUS_RSP, 0x07, S_UTF8, S_OPT, 1, 1024},
    {CTP_MSG_STATUS_RSP, 0x08, S_UTF8, S_OPT, 1, 1024},
    {CTP_MSG_CREATE_CSR, 0x01, S_U8, S_MAND, 1, 4},
    {CTP_MSG_CREATE_CSR, 0x02, S_BYTES, S_MAND, 2, 1024},
    {CTP_MSG_CREATE_CSR, 0x03, S_BYTES, S_OPT, 2, 2048},
    {CTP_MSG_CREATE_CSR, 0x04, S_BYTES, S_MAND, 16, 64},
    {CTP_MSG_CREATE_CSR_RSP, 0x01, S_BYTES, S_MAND, 2, 8192},
    {CTP_MSG_CREATE_CSR_RSP, 0x02, S_BYTES, S_MAND, 1, 512},
    {CTP_MSG_STAGE_BEGIN, 0x01, S_U32, S_MAND, 0, 0xffffffffu},
    {CTP_MSG_STAGE_BEGIN, 0x02, S_U8, S_MAND, 0, 16},
    {CTP_MSG_STAGE_BEGIN, 0x03, S_U8, S_MAND, 0, 16},
    {CTP_MSG_STAGE_BEGIN, 0x04, S_U8, S_MAND, 0, 3},
    {CTP_MSG_STAGE_ITEM, 0x01, S_U8, S_MAND, 1, 4},
    {CTP_MSG_STAGE_ITEM, 0x02, S_U8, S_MAND, 0, 15},
    {CTP_MSG_STAGE_ITEM, 0x03, S_U8, S_MAND, 0, 3},
    {CTP_MSG_STAGE_ITEM, 0x04, S_BYTES, S_MAND, 1, 16384},
    {CTP_MSG_COMMIT, 0x01, S_U32, S_MAND, 0, 0xffffffffu},
    {CTP_MSG_COMMIT_RSP, 0x01, S_BYTES, S_MAND, 32, 32},
    {CTP_MSG_PING, 0x01, S_BYTES, S_OPT, 1, 64},
    {CTP_MSG_PING_RSP, 0x01, S_BYTES, S_OPT, 1, 64},
    {CTP_MSG_PROGRESS, 0x01, S_U8, S_MAND, 0, 100},
    {CTP_MSG_PROGRESS, 0x02, S_UTF8, S_OPT, 1, 256},
    {CTP_MSG_ERROR, 0x01, S_U16, S_MAND, 1, 13},
    {CTP_MSG_ERROR, 0x02, S_UTF8, S_OPT, 1, 256},
};

static const guint8 all_types[] = {
    CTP_MSG_HELLO,          CTP_MSG_STATUS,     CTP_MSG_CREATE_CSR,     CTP_MSG_STAGE_BEGIN,
    CTP_MSG_STAGE_ITEM,     CTP_MSG_COMMIT,     CTP_MSG_ABORT,          CTP_MSG_PING,
    CTP_MSG_HELLO_RSP,      CTP_MSG_STATUS_RSP, CTP_MSG_CREATE_CSR_RSP, CTP_MSG_STAGE_BEGIN_RSP,
    CTP_MSG_STAGE_ITEM_RSP, CTP_MSG_COMMIT_RSP, CTP_MSG_ABORT_RSP,      CTP_MSG_PING_RSP,
    CTP_MSG_PROGRESS,       CTP_MSG_ERROR,
};

static gboolean
type_is_known(guint8 type)
{
	for (gsize i = 0; i < G_N_ELEMENTS(all_types); i++) {
		if (all_types[i] == type)
			return TRUE;
	}
	return FALSE;
}

static const spec_field *
spec_lookup(guint8 type, guint8 tag)
{
	for (gsize i = 0; i < G_N_ELEMENTS(spec); i++) {
		if (spec[i].type == type && spec[i].tag == tag)
			return &spec[i];
	}
	return NULL;
}

static gsize
spec_int_size(const spec_field *f)
{
	return f->kind == S_U8 ? 1 : f->kind == S_U16 ? 2 : 4;
}

static gboolean
spec_is_int(const spec_field *f)
{
	return f->kind == S_U8 || f->kind == S_U16 || f->kind == S_U32;
}

/* ---- building payloads by hand, independently of the encoder ---- */

typedef struct {
	guint8 tag;
	GByteArray *value;
} tlv;

static void
tlv_free(gpointer p)
{
	tlv *t = p;
	g_byte_array_unref(t->value);
	g_free(t);
}

static tlv *
tlv_new(guint8 tag, const guint8 *value, gsize len)
{
	tlv *t = g_new0(tlv, 1);
	t->tag = tag;
	t->value = g_byte_array_sized_new(len);
	g_byte_array_append(t->value, value, len);
	return t;
}

/* the fields of a valid payload */
static GPtrArray *
tlv_parse(const guint8 *p, gsize len)
{
	GPtrArray *list = g_ptr_array_new_with_free_func(tlv_free);
	gsize pos = 0;

	while (pos < len) {
		gsize flen;
		g_assert_cmpuint(len - pos, >=, 3);
		flen = p[pos + 1] | (p[pos + 2] << 8);
		g_assert_cmpuint(len - pos - 3, >=, flen);
		g_ptr_array_add(list, tlv_new(p[pos], p + pos + 3, flen));
		pos += 3 + flen;
	}
	return list;
}

static GByteArray *
tlv_payload(GPtrArray *list)
{
	GByteArray *out = g_byte_array_new();
	for (guint i = 0; i < list->len; i++) {
		tlv *t = g_ptr_array_index(list, i);
		guint8 hdr[3] = {t->tag, (guint8)t->value->len, (guint8)(t->value->len >> 8)};
		g_assert_cmpuint(t->value->len, <=, 0xffff);
		g_byte_array_append(out, hdr, 3);
		g_byte_array_append(out, t->value->data, t->value->len);
	}
	return out;
}

/* a complete frame around any payload bytes, with a correct checksum */
static GByteArray *
seal_payload(guint8 type, guint16 request_id, const guint8 *payload, gsize len)
{
	GByteArray *frame = g_byte_array_new();
	size_t frame_len = 0;

	g_byte_array_set_size(frame, CTP_HEADER_SIZE + len);
	if (len > 0)
		memcpy(frame->data + CTP_HEADER_SIZE, payload, len);
	g_assert_cmpint(ctp_frame_seal(frame->data, frame->len, type, request_id, len, &frame_len),
	                ==, CTP_OK);
	g_assert_cmpuint(frame_len, ==, frame->len);
	return frame;
}

/* the frame decode_tlvs() decoded last: the views of its message point into it */
static GByteArray *last_frame;

static ctp_result
decode_tlvs(guint8 type, guint16 request_id, GPtrArray *list, ctp_message *msg)
{
	g_autoptr(GByteArray) payload = tlv_payload(list);
	g_clear_pointer(&last_frame, g_byte_array_unref);
	last_frame = seal_payload(type, request_id, payload->data, payload->len);
	return ctp_message_decode(last_frame->data, last_frame->len, msg);
}

/* set the first field with this tag to value, or insert it in ascending order */
static void
tlv_set(GPtrArray *list, guint8 tag, const guint8 *value, gsize len)
{
	guint i;
	for (i = 0; i < list->len; i++) {
		tlv *t = g_ptr_array_index(list, i);
		if (t->tag == tag) {
			g_byte_array_set_size(t->value, 0);
			g_byte_array_append(t->value, value, len);
			return;
		}
		if (t->tag > tag)
			break;
	}
	g_ptr_array_insert(list, i, tlv_new(tag, value, len));
}

static void
tlv_remove_tag(GPtrArray *list, guint8 tag)
{
	for (guint i = list->len; i > 0; i--) {
		tlv *t = g_ptr_array_index(list, i - 1);
		if (t->tag == tag)
			g_ptr_array_remove_index(list, i - 1);
	}
}

static gboolean
tlv_has(GPtrArray *list, guint8 tag)
{
	for (guint i = 0; i < list->len; i++) {
		if (((tlv *)g_ptr_array_index(list, i))->tag == tag)
			return TRUE;
	}
	return FALSE;
}

/* ---- helpers on the encoder's side ---- */

/* encode a sample into a fresh exact-size GByteArray */
static GByteArray *
encode_message(const ctp_message *msg)
{
	g_autofree guint8 *buf = g_malloc(CTP_MAX_FRAME);
	size_t len = 0;
	GByteArray *out;

	g_assert_cmpint(ctp_message_encode(msg, buf, CTP_MAX_FRAME, &len), ==, CTP_OK);
	g_assert_cmpuint(len, >=, CTP_HEADER_SIZE);
	out = g_byte_array_sized_new(len);
	g_byte_array_append(out, buf, len);
	return out;
}

static void
test_crc32(void)
{
	const guint8 check[] = "123456789";

	/* the standard check value of CRC-32/ISO-HDLC (zlib's crc32) */
	g_assert_cmphex(ctp_crc32(0, check, 9), ==, 0xcbf43926);
	/* incremental use gives the same value */
	g_assert_cmphex(ctp_crc32(ctp_crc32(0, check, 4), check + 4, 5), ==, 0xcbf43926);
	g_assert_cmphex(ctp_crc32(0, check, 0), ==, 0);
}

static void
test_message_roundtrip(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	guint types_seen[256] = {0};

	g_assert_cmpuint(n, >, 30);
	for (size_t i = 0; i < n; i++) {
		g_autoptr(GByteArray) frame = encode_message(&samples[i].msg);
		g_autoptr(GByteArray) again = NULL;
		ctp_message decoded;
		ctp_result r;

		r = ctp_message_decode(frame->data, frame->len, &decoded);
		if (r != CTP_OK)
			g_error("%s: %s", samples[i].name, ctp_result_to_string(r));
		g_assert_true(ctp_message_equal(&samples[i].msg, &decoded));
		g_assert_cmpint(decoded.type, ==, samples[i].msg.type);
		g_assert_cmpint(decoded.request_id, ==, samples[i].msg.request_id);
		/* the encoding is canonical: re-encoding the decoded message gives the same bytes
		 */
		again = encode_message(&decoded);
		g_assert_cmpmem(again->data, again->len, frame->data, frame->len);
		types_seen[samples[i].msg.type]++;
	}
	/* every message type of the protocol has at least one sample */
	for (guint t = 0; t < 256; t++) {
		if (g_strcmp0(ctp_message_type_to_string((guint8)t), "UNKNOWN") != 0) {
			if (types_seen[t] == 0)
				g_error("no sample for %s", ctp_message_type_to_string((guint8)t));
		}
	}
}

/* the fields of a sample as the encoder writes them */
static GPtrArray *
sample_tlvs(const ctp_message *msg)
{
	g_autoptr(GByteArray) frame = encode_message(msg);
	return tlv_parse(frame->data + CTP_HEADER_SIZE, frame->len - CTP_HEADER_SIZE);
}

static const ctp_test_message *
sample(const char *name)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	for (size_t i = 0; i < n; i++) {
		if (g_strcmp0(samples[i].name, name) == 0)
			return &samples[i];
	}
	g_error("no sample %s", name);
	return NULL;
}

/* decode a sample's payload after setting one field to the given bytes */
static ctp_result
decode_with_field(const char *name, guint8 tag, const void *value, gsize len)
{
	const ctp_test_message *t = sample(name);
	g_autoptr(GPtrArray) list = sample_tlvs(&t->msg);
	ctp_message msg;

	tlv_set(list, tag, value, len);
	return decode_tlvs(t->msg.type, t->msg.request_id, list, &msg);
}

static ctp_result
decode_with_u8(const char *name, guint8 tag, guint8 v)
{
	return decode_with_field(name, tag, &v, 1);
}

static ctp_result
decode_with_u16(const char *name, guint8 tag, guint16 v)
{
	guint8 b[2] = {(guint8)v, (guint8)(v >> 8)};
	return decode_with_field(name, tag, b, 2);
}

static ctp_result
decode_with_u32(const char *name, guint8 tag, guint32 v)
{
	guint8 b[4] = {(guint8)v, (guint8)(v >> 8), (guint8)(v >> 16), (guint8)(v >> 24)};
	return decode_with_field(name, tag, b, 4);
}

#define assert_result(expr, expected)                                                              \
	do {                                                                                       \
		ctp_result r_ = (expr);                                                            \
		if (r_ != (expected))                                                              \
			g_error("%s: got \"%s\", expected \"%s\"", #expr,                          \
			        ctp_result_to_string(r_), ctp_result_to_string(expected));         \
	} while (0)

/* ---- frames ---- */

static void
test_frame_worked_example(void)
{
	/* the example of PROTOCOL.md: PING, request id 0x1234, cookie "hi" */
	static const guint8 expected[] = {0x43, 0x54, 0x01, 0x08, 0x00, 0x00, 0x34,
	                                  0x12, 0x05, 0x00, 0x00, 0x00, 0x9c, 0x7b,
	                                  0xa5, 0xae, 0x01, 0x02, 0x00, 0x68, 0x69};
	guint8 buf[64];
	size_t len = 0;
	ctp_message msg = {.type = CTP_MSG_PING, .request_id = 0x1234};
	ctp_frame frame;
	guint32 crc;

	msg.u.ping.cookie = ctp_bytes_from("hi", 2);
	assert_result(ctp_message_encode(&msg, buf, sizeof(buf), &len), CTP_OK);
	g_assert_cmpuint(len, ==, sizeof(expected));
	g_assert_cmpmem(buf, len, expected, sizeof(expected));
	/* the checksum covers header bytes 0..11 then the payload */
	crc = ctp_crc32(ctp_crc32(0, buf, 12), buf + 16, len - 16);
	g_assert_cmphex(buf[12] | (buf[13] << 8) | (buf[14] << 16) | ((guint32)buf[15] << 24), ==,
	                crc);
	/* the same value as Python's zlib.crc32(header[0:12] + payload) */
	g_assert_cmphex(crc, ==, 0xaea57b9c);
	assert_result(ctp_frame_decode(buf, len, &frame), CTP_OK);
	g_assert_cmpint(frame.type, ==, CTP_MSG_PING);
	g_assert_cmpint(frame.request_id, ==, 0x1234);
	g_assert_cmpuint(frame.payload_len, ==, 5);
	g_assert_true(frame.payload == buf + 16);
}

static void
test_frame_seal(void)
{
	g_autofree guint8 *buf = g_malloc0(CTP_MAX_FRAME + 1);
	size_t len = 0;
	ctp_frame frame;

	/* empty payload */
	assert_result(ctp_frame_seal(buf, CTP_HEADER_SIZE, 0x42, 7, 0, &len), CTP_OK);
	g_assert_cmpuint(len, ==, CTP_HEADER_SIZE);
	assert_result(ctp_frame_decode(buf, len, &frame), CTP_OK);
	g_assert_cmpint(frame.type, ==, 0x42); /* the frame layer does not judge types */
	g_assert_cmpuint(frame.payload_len, ==, 0);

	/* the largest payload */
	for (gsize i = 0; i < CTP_MAX_PAYLOAD; i++)
		buf[CTP_HEADER_SIZE + i] = (guint8)i;
	assert_result(ctp_frame_seal(buf, CTP_MAX_FRAME, 1, 7, CTP_MAX_PAYLOAD, &len), CTP_OK);
	g_assert_cmpuint(len, ==, CTP_MAX_FRAME);
	assert_result(ctp_frame_decode(buf, len, &frame), CTP_OK);
	g_assert_cmpuint(frame.payload_len, ==, CTP_MAX_PAYLOAD);
	/* one byte over */
	assert_result(ctp_frame_seal(buf, CTP_MAX_FRAME + 1, 1, 7, CTP_MAX_PAYLOAD + 1, &len),
	              CTP_E_TOO_LARGE);
	/* every too-small buffer */
	for (gsize cap = 0; cap < CTP_HEADER_SIZE + 10; cap++)
		assert_result(ctp_frame_seal(buf, cap, 1, 7, 10, &len), CTP_E_NO_SPACE);
	assert_result(ctp_frame_seal(NULL, 100, 1, 7, 10, &len), CTP_E_INVALID_ARG);
	assert_result(ctp_frame_decode(NULL, 100, &frame), CTP_E_INVALID_ARG);
	assert_result(ctp_frame_decode(buf, 100, NULL), CTP_E_INVALID_ARG);
}

static void
test_frame_truncations(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	guint checked = 0;

	for (size_t i = 0; i < n; i++) {
		g_autoptr(GByteArray) frame = encode_message(&samples[i].msg);
		for (gsize len = 0; len < frame->len; len++) {
			/* an exact-size copy, so that ASan sees any read past the end */
			g_autofree guint8 *copy = g_memdup2(frame->data, len > 0 ? len : 1);
			ctp_frame f;
			ctp_message msg;
			assert_result(ctp_frame_decode(copy, len, &f), CTP_E_TRUNCATED);
			assert_result(ctp_message_decode(copy, len, &msg), CTP_E_TRUNCATED);
			checked++;
		}
	}
	g_test_message("%u truncated frames rejected", checked);
}

static void
test_frame_header_corruption(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		g_autoptr(GByteArray) frame = encode_message(&samples[i].msg);
		for (guint pos = 0; pos < CTP_HEADER_SIZE; pos++) {
			guint8 orig = frame->data[pos];
			for (guint v = 0; v < 256; v++) {
				ctp_frame f;
				ctp_message msg;
				ctp_result r;
				if (v == orig)
					continue;
				frame->data[pos] = (guint8)v;
				r = ctp_frame_decode(frame->data, frame->len, &f);
				if (r == CTP_OK)
					g_error("%s: byte %u = 0x%02x accepted", samples[i].name,
					        pos, v);
				/* bytes under the checksum that pass the structural checks are
				 * caught by it */
				if (pos == 3 || pos == 6 || pos == 7 || pos >= 12)
					assert_result(r, CTP_E_CRC);
				g_assert_cmpint(ctp_message_decode(frame->data, frame->len, &msg),
				                !=, CTP_OK);
			}
			frame->data[pos] = orig;
		}
	}
}

static void
test_frame_payload_corruption(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		g_autoptr(GByteArray) frame = encode_message(&samples[i].msg);
		gsize payload_len = frame->len - CTP_HEADER_SIZE;
		/* every byte of small payloads, a spread of bytes of large ones */
		gsize step = payload_len < 2048 ? 1 : payload_len / 509;
		for (gsize pos = CTP_HEADER_SIZE; pos < frame->len; pos += step) {
			static const guint8 flips[] = {0x01, 0x80, 0xff};
			for (gsize k = 0; k < G_N_ELEMENTS(flips); k++) {
				ctp_frame f;
				frame->data[pos] ^= flips[k];
				assert_result(ctp_frame_decode(frame->data, frame->len, &f),
				              CTP_E_CRC);
				frame->data[pos] ^= flips[k];
			}
		}
	}
}

/* rewrite header fields of a frame and recompute its checksum, so that the
 * check of that very field is what rejects it */
static void
reseal_header(GByteArray *frame)
{
	guint32 declared = frame->data[8] | (frame->data[9] << 8) | (frame->data[10] << 16) |
	                   ((guint32)frame->data[11] << 24);
	gsize avail = frame->len - CTP_HEADER_SIZE;
	guint32 crc = ctp_crc32(0, frame->data, 12);
	crc = ctp_crc32(crc, frame->data + CTP_HEADER_SIZE, MIN(declared, avail));
	frame->data[12] = (guint8)crc;
	frame->data[13] = (guint8)(crc >> 8);
	frame->data[14] = (guint8)(crc >> 16);
	frame->data[15] = (guint8)(crc >> 24);
}

static void
set_le32(guint8 *p, guint32 v)
{
	p[0] = (guint8)v;
	p[1] = (guint8)(v >> 8);
	p[2] = (guint8)(v >> 16);
	p[3] = (guint8)(v >> 24);
}

static void
test_frame_lengths(void)
{
	const ctp_test_message *t = sample("status-rsp");
	ctp_frame f;

	/* declared payload length one more, one less, far more than present */
	for (gint delta = -3; delta <= 3; delta++) {
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		guint32 len = frame->len - CTP_HEADER_SIZE;
		if (delta == 0)
			continue;
		set_le32(frame->data + 8, len + delta);
		reseal_header(frame);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f),
		              delta > 0 ? CTP_E_TRUNCATED : CTP_E_TRAILING);
	}
	/* larger than the protocol allows, whatever the buffer holds */
	static const guint32 huge[] = {CTP_MAX_PAYLOAD + 1, 0x7fffffff, 0xffffffffu, 0xfffffff0u};
	for (gsize k = 0; k < G_N_ELEMENTS(huge); k++) {
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		set_le32(frame->data + 8, huge[k]);
		reseal_header(frame);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_TOO_LARGE);
	}
	/* a byte after the frame: one transfer must be exactly one frame */
	{
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		guint8 extra = 0;
		g_byte_array_append(frame, &extra, 1);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_TRAILING);
	}
	/* two frames in one transfer */
	{
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		g_autoptr(GByteArray) second = encode_message(&t->msg);
		g_byte_array_append(frame, second->data, second->len);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_TRAILING);
	}
}

static void
test_frame_header_fields(void)
{
	const ctp_test_message *t = sample("ping");
	ctp_frame f;

	for (guint v = 1; v <= 0xffff; v = v * 3 + 1) {
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		frame->data[4] = (guint8)v;
		frame->data[5] = (guint8)(v >> 8);
		reseal_header(frame);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_FLAGS);
	}
	for (guint v = 0; v < 256; v++) {
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		if (v == CTP_FRAME_VERSION)
			continue;
		frame->data[2] = (guint8)v;
		reseal_header(frame);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_FRAME_VERSION);
	}
	{
		g_autoptr(GByteArray) frame = encode_message(&t->msg);
		frame->data[0] = 'c';
		reseal_header(frame);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_MAGIC);
		frame->data[0] = 'C';
		frame->data[1] = 't';
		reseal_header(frame);
		assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_E_MAGIC);
	}
}

/* ---- messages ---- */

static void
test_message_encode_no_space(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		g_autoptr(GByteArray) frame = encode_message(&samples[i].msg);
		for (gsize cap = 0; cap <= frame->len; cap++) {
			/* exact-size buffer: ASan reports any write past cap */
			g_autofree guint8 *buf = g_malloc(cap + 1);
			size_t len = 12345;
			memset(buf, 0xa5, cap + 1);
			if (cap < frame->len) {
				assert_result(ctp_message_encode(&samples[i].msg, buf, cap, &len),
				              CTP_E_NO_SPACE);
				g_assert_cmpuint(len, ==, 12345);
				/* nothing written at all */
				for (gsize k = 0; k <= cap; k++)
					g_assert_cmphex(buf[k], ==, 0xa5);
			} else {
				assert_result(ctp_message_encode(&samples[i].msg, buf, cap, &len),
				              CTP_OK);
				g_assert_cmpmem(buf, len, frame->data, frame->len);
				g_assert_cmphex(buf[cap], ==, 0xa5);
			}
		}
	}
}

/* filler of a given length that is valid content for the field's kind */
static GByteArray *
valid_content(spec_kind kind, gsize len)
{
	GByteArray *b = g_byte_array_sized_new(len);
	for (gsize i = 0; i < len; i++) {
		guint8 c = kind == S_BYTES ? (guint8)(i * 13) : (guint8)('A' + i % 26);
		g_byte_array_append(b, &c, 1);
	}
	return b;
}

static void
test_message_field_bounds(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	guint checked = 0;

	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		for (gsize s = 0; s < G_N_ELEMENTS(spec); s++) {
			const spec_field *f = &spec[s];
			ctp_message out;

			if (f->type != m->type)
				continue;
			if (spec_is_int(f)) {
				gsize size = spec_int_size(f);
				guint64 limit = size == 4 ? 0x100000000ull : 1ull << (8 * size);
				guint8 wide[5] = {0};
				/* wrong widths */
				for (gsize w = 0; w <= 5; w++) {
					g_autoptr(GPtrArray) list = sample_tlvs(m);
					if (w == size)
						continue;
					tlv_set(list, f->tag, wide, w);
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_E_FIELD_LENGTH);
					checked++;
				}
				/* values just outside the range */
				if (f->min > 0) {
					g_autoptr(GPtrArray) list = sample_tlvs(m);
					guint8 v[4];
					set_le32(v, f->min - 1);
					tlv_set(list, f->tag, v, size);
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_E_BAD_VALUE);
					checked++;
				}
				if ((guint64)f->max + 1 < limit) {
					g_autoptr(GPtrArray) list = sample_tlvs(m);
					guint8 v[4];
					set_le32(v, f->max + 1);
					tlv_set(list, f->tag, v, size);
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_E_BAD_VALUE);
					checked++;
				}
				continue;
			}
			/* byte kinds: one below the shortest, one above the longest */
			{
				g_autoptr(GPtrArray) list = sample_tlvs(m);
				g_autoptr(GByteArray) v = valid_content(f->kind, f->min - 1);
				tlv_set(list, f->tag, v->data, v->len);
				assert_result(decode_tlvs(m->type, m->request_id, list, &out),
				              CTP_E_FIELD_LENGTH);
				checked++;
			}
			{
				g_autoptr(GPtrArray) list = sample_tlvs(m);
				g_autoptr(GByteArray) v = valid_content(f->kind, f->max + 1);
				tlv_set(list, f->tag, v->data, v->len);
				assert_result(decode_tlvs(m->type, m->request_id, list, &out),
				              CTP_E_FIELD_LENGTH);
				checked++;
			}
			/* and both limits themselves are accepted where no other rule interferes */
			g_autoptr(GPtrArray) present = sample_tlvs(m);
			if (tlv_has(present, f->tag) && f->presence != S_REP &&
			    !(m->type == CTP_MSG_STAGE_ITEM &&
			      m->u.stage_item_req.kind == CTP_ITEM_SETTING)) {
				guint32 lens[2] = {f->min, f->max};
				for (gsize k = 0; k < 2; k++) {
					g_autoptr(GPtrArray) list = sample_tlvs(m);
					g_autoptr(GByteArray) v = valid_content(f->kind, lens[k]);
					tlv_set(list, f->tag, v->data, v->len);
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_OK);
					checked++;
				}
			}
		}
	}
	g_test_message("%u out-of-bounds and boundary fields checked", checked);
}

static void
test_message_tag_order(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		g_autoptr(GPtrArray) base = sample_tlvs(m);
		ctp_message out;

		/* every adjacent pair of different tags swapped */
		for (guint k = 0; k + 1 < base->len; k++) {
			g_autoptr(GPtrArray) list = sample_tlvs(m);
			tlv *a = g_ptr_array_index(list, k);
			tlv *b = g_ptr_array_index(list, k + 1);
			if (a->tag == b->tag)
				continue;
			list->pdata[k] = b;
			list->pdata[k + 1] = a;
			assert_result(decode_tlvs(m->type, m->request_id, list, &out),
			              CTP_E_FIELD_ORDER);
		}
		/* every field duplicated in place */
		for (guint k = 0; k < base->len; k++) {
			g_autoptr(GPtrArray) list = sample_tlvs(m);
			tlv *a = g_ptr_array_index(list, k);
			const spec_field *f = spec_lookup(m->type, a->tag);
			g_assert_nonnull(f);
			g_ptr_array_insert(list, k + 1,
			                   tlv_new(a->tag, a->value->data, a->value->len));
			if (f->presence == S_REP)
				continue; /* see test_message_repeated */
			assert_result(decode_tlvs(m->type, m->request_id, list, &out),
			              CTP_E_FIELD_ORDER);
		}
		/* the first field moved to the end */
		if (base->len >= 2) {
			g_autoptr(GPtrArray) list = sample_tlvs(m);
			tlv *first = g_ptr_array_steal_index(list, 0);
			tlv *last = g_ptr_array_index(list, list->len - 1);
			if (last->tag != first->tag) {
				g_ptr_array_add(list, first);
				assert_result(decode_tlvs(m->type, m->request_id, list, &out),
				              CTP_E_FIELD_ORDER);
			} else {
				tlv_free(first);
			}
		}
	}
}

static void
test_message_repeated(void)
{
	const ctp_test_message *t = sample("status-rsp");
	const ctp_test_message *tmax = sample("status-rsp-max");
	guint8 hash[32];
	ctp_message out;

	memset(hash, 0x5a, sizeof(hash));
	/* a repeated field must repeat consecutively */
	{
		g_autoptr(GPtrArray) list = sample_tlvs(&t->msg);
		guint k;
		for (k = 0; k < list->len; k++) {
			if (((tlv *)g_ptr_array_index(list, k))->tag == 0x06)
				break;
		}
		g_assert_cmpuint(k, <, list->len);
		g_ptr_array_insert(list, k + 1, tlv_new(0x05, hash, sizeof(hash)));
		assert_result(decode_tlvs(t->msg.type, t->msg.request_id, list, &out),
		              CTP_E_FIELD_ORDER);
	}
	/* one more than the largest count */
	{
		g_autoptr(GPtrArray) list = sample_tlvs(&tmax->msg);
		guint8 count = CTP_MAX_ANCHORS + 1;
		guint k;
		for (k = 0; k < list->len; k++) {
			if (((tlv *)g_ptr_array_index(list, k))->tag == 0x05)
				break;
		}
		g_ptr_array_insert(list, k, tlv_new(0x05, hash, sizeof(hash)));
		assert_result(decode_tlvs(tmax->msg.type, tmax->msg.request_id, list, &out),
		              CTP_E_TOO_MANY);
		/* and with the count claiming it too */
		tlv_set(list, 0x04, &count, 1);
		g_assert_cmpint(decode_tlvs(tmax->msg.type, tmax->msg.request_id, list, &out), !=,
		                CTP_OK);
	}
	/* encoding refuses a count over the array size */
	{
		ctp_message m = tmax->msg;
		guint8 buf[256];
		size_t len;
		m.u.status_rsp.n_anchor_sha256 = CTP_MAX_ANCHORS + 1;
		assert_result(ctp_message_encode(&m, buf, sizeof(buf), &len), CTP_E_INVALID_ARG);
		m.u.status_rsp.n_anchor_sha256 = 255;
		assert_result(ctp_message_encode(&m, buf, sizeof(buf), &len), CTP_E_INVALID_ARG);
		g_assert_false(ctp_message_equal(&m, &m)); /* invalid: not comparable */
	}
	/* counts that disagree with the list */
	{
		g_autoptr(GPtrArray) list = sample_tlvs(&t->msg);
		guint8 count = 3;
		tlv_set(list, 0x04, &count, 1);
		assert_result(decode_tlvs(t->msg.type, t->msg.request_id, list, &out),
		              CTP_E_BAD_VALUE);
		tlv_remove_tag(list, 0x05);
		count = 0;
		tlv_set(list, 0x04, &count, 1);
		assert_result(decode_tlvs(t->msg.type, t->msg.request_id, list, &out), CTP_OK);
		g_assert_cmpuint(out.u.status_rsp.n_anchor_sha256, ==, 0);
	}
}

static void
test_message_unknown_tags(void)
{
	/* one sample of every type */
	for (gsize ti = 0; ti < G_N_ELEMENTS(all_types); ti++) {
		size_t n = 0;
		const ctp_test_message *samples = ctp_test_messages(&n);
		const ctp_message *m = NULL;
		for (size_t i = 0; i < n && m == NULL; i++) {
			if (samples[i].msg.type == all_types[ti])
				m = &samples[i].msg;
		}
		g_assert_nonnull(m);

		for (guint tag = 0; tag < 256; tag++) {
			g_autoptr(GPtrArray) list = NULL;
			static const guint8 value[300] = {0};
			static const gsize lens[] = {0, 1, 300};
			ctp_message out;

			if (spec_lookup(m->type, (guint8)tag) != NULL)
				continue;
			for (gsize k = 0; k < G_N_ELEMENTS(lens); k++) {
				list = sample_tlvs(m);
				tlv_set(list, (guint8)tag, value, lens[k]);
				if (tag < 0x80) {
					/* unknown mandatory-to-understand tag */
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_E_UNKNOWN_FIELD);
				} else {
					/* unknown optional tag: skipped, also when repeated */
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_OK);
					if (!ctp_message_equal(m, &out))
						g_error(
						    "%s: tag 0x%02x len %zu changed the message",
						    ctp_message_type_to_string(m->type), tag,
						    lens[k]);
					g_ptr_array_add(list, tlv_new((guint8)tag, value, lens[k]));
					assert_result(
					    decode_tlvs(m->type, m->request_id, list, &out),
					    CTP_OK);
					g_assert_true(ctp_message_equal(m, &out));
				}
				g_clear_pointer(&list, g_ptr_array_unref);
			}
			/* an optional tag is still subject to the ascending order */
			if (tag >= 0x80) {
				g_autoptr(GPtrArray) l2 = sample_tlvs(m);
				if (l2->len > 0) {
					g_ptr_array_insert(l2, 0, tlv_new((guint8)tag, value, 1));
					assert_result(decode_tlvs(m->type, m->request_id, l2, &out),
					              CTP_E_FIELD_ORDER);
				}
			}
		}
	}
}

static void
test_message_trailing(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		g_autoptr(GByteArray) frame = encode_message(m);
		for (guint extra = 1; extra <= 2; extra++) {
			g_autoptr(GByteArray) payload = g_byte_array_new();
			g_autoptr(GByteArray) f2 = NULL;
			static const guint8 junk[2] = {0xf0, 0x00};
			ctp_message out;
			g_byte_array_append(payload, frame->data + CTP_HEADER_SIZE,
			                    frame->len - CTP_HEADER_SIZE);
			g_byte_array_append(payload, junk, extra);
			f2 = seal_payload(m->type, m->request_id, payload->data, payload->len);
			assert_result(ctp_message_decode(f2->data, f2->len, &out), CTP_E_TRAILING);
		}
		/* a field header whose length runs past the payload */
		{
			g_autoptr(GByteArray) payload = g_byte_array_new();
			g_autoptr(GByteArray) f2 = NULL;
			static const guint8 hdr[4] = {0xf0, 0x05, 0x00, 0x01};
			ctp_message out;
			g_byte_array_append(payload, frame->data + CTP_HEADER_SIZE,
			                    frame->len - CTP_HEADER_SIZE);
			g_byte_array_append(payload, hdr, sizeof(hdr));
			f2 = seal_payload(m->type, m->request_id, payload->data, payload->len);
			assert_result(ctp_message_decode(f2->data, f2->len, &out), CTP_E_TRUNCATED);
		}
	}
}

static void
test_message_missing(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);
	guint checked = 0;

	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		for (gsize s = 0; s < G_N_ELEMENTS(spec); s++) {
			g_autoptr(GPtrArray) list = NULL;
			ctp_message out;
			if (spec[s].type != m->type || spec[s].presence != S_MAND)
				continue;
			list = sample_tlvs(m);
			g_assert_true(tlv_has(list, spec[s].tag));
			tlv_remove_tag(list, spec[s].tag);
			assert_result(decode_tlvs(m->type, m->request_id, list, &out),
			              CTP_E_MISSING_FIELD);
			checked++;
		}
		/* an empty payload is fine only for a message without mandatory fields */
		{
			g_autoptr(GPtrArray) empty = g_ptr_array_new_with_free_func(tlv_free);
			gboolean has_mandatory = FALSE;
			ctp_message out;
			for (gsize s = 0; s < G_N_ELEMENTS(spec); s++)
				has_mandatory |=
				    spec[s].type == m->type && spec[s].presence == S_MAND;
			assert_result(decode_tlvs(m->type, m->request_id, empty, &out),
			              has_mandatory ? CTP_E_MISSING_FIELD : CTP_OK);
		}
	}
	g_test_message("%u missing mandatory fields detected", checked);
}

static const struct {
	const char *what;
	const char *bytes;
	gsize len;
} bad_utf8[] = {
    {"overlong /", "\xc0\xaf", 2},
    {"overlong 3-byte", "\xe0\x80\xaf", 3},
    {"overlong 4-byte", "\xf0\x80\x80\xaf", 4},
    {"surrogate", "ab\xed\xa0\x80", 5},
    {"above U+10FFFF", "\xf4\x90\x80\x80", 4},
    {"5-byte form", "\xf8\x88\x80\x80\x80", 5},
    {"lone continuation", "a\x80", 2},
    {"truncated sequence", "ab\xe2\x82", 4},
    {"bad continuation", "\xe2\x28\xa1", 3},
    {"0xff", "\xff", 1},
    {"NUL", "a\0b", 3},
    {"escape", "\x1b[31mred", 9},
    {"DEL", "a\x7f", 2},
    {"C1 CSI", "a\xc2\x9b", 3},
    {"tab", "a\tb", 3},
    {"newline", "a\nb", 3},
};

static const char *const good_utf8[] = {
    "plain",        "caf\xc3\xa9",      "\xe2\x98\x8e phone", "\xf0\x9f\x98\x80",
    "\xef\xbf\xbd", "\xf4\x8f\xbf\xbf", "\xc2\xa0",
};

static void
test_message_text(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		const ctp_message *m = &samples[i].msg;
		for (gsize s = 0; s < G_N_ELEMENTS(spec); s++) {
			const spec_field *f = &spec[s];
			if (f->type != m->type || (f->kind != S_UTF8 && f->kind != S_TOKEN))
				continue;
			for (gsize k = 0; k < G_N_ELEMENTS(bad_utf8); k++) {
				g_autoptr(GPtrArray) list = sample_tlvs(m);
				ctp_message out;
				tlv_set(list, f->tag, (const guint8 *)bad_utf8[k].bytes,
				        bad_utf8[k].len);
				if (decode_tlvs(m->type, m->request_id, list, &out) !=
				    CTP_E_BAD_VALUE)
					g_error("%s tag %u: %s accepted",
					        ctp_message_type_to_string(m->type), f->tag,
					        bad_utf8[k].what);
			}
			for (gsize k = 0; k < G_N_ELEMENTS(good_utf8); k++) {
				g_autoptr(GPtrArray) list = sample_tlvs(m);
				ctp_message out;
				tlv_set(list, f->tag, (const guint8 *)good_utf8[k],
				        strlen(good_utf8[k]));
				/* a serial is a printable ASCII token: no space, no non-ASCII */
				assert_result(decode_tlvs(m->type, m->request_id, list, &out),
				              f->kind == S_TOKEN && k > 0 ? CTP_E_BAD_VALUE
				                                          : CTP_OK);
			}
		}
	}
	/* the token rule for serials */
	assert_result(decode_with_field("hello-rsp", 0x04, "SN 1", 4), CTP_E_BAD_VALUE);
	assert_result(decode_with_field("hello-rsp", 0x04, "!~", 2), CTP_OK);
	/* SETTING item data is text too, other items are opaque */
	for (gsize k = 0; k < G_N_ELEMENTS(bad_utf8); k++) {
		assert_result(decode_with_field("stage-item-setting", 0x04, bad_utf8[k].bytes,
		                                bad_utf8[k].len),
		              CTP_E_BAD_VALUE);
		assert_result(
		    decode_with_field("stage-item-cert", 0x04, bad_utf8[k].bytes, bad_utf8[k].len),
		    CTP_OK);
	}
}

static void
test_message_values(void)
{
	/* enumerations just outside their ranges */
	assert_result(decode_with_u8("create-csr", 0x01, 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("create-csr", 0x01, CTP_KEY_EC_P384 + 1), CTP_E_BAD_VALUE);
	for (guint8 alg = CTP_KEY_RSA_2048; alg <= CTP_KEY_EC_P384; alg++)
		assert_result(decode_with_u8("create-csr", 0x01, alg), CTP_OK);
	assert_result(decode_with_u8("stage-item-cert", 0x01, 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-cert", 0x01, CTP_ITEM_SETTING + 1),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-setting", 0x03, CTP_SETTING_SIP_URI + 1),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("status-rsp", 0x01, CTP_DEVICE_STATE_PROVISIONED + 1),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("progress", 0x01, 100), CTP_OK);
	assert_result(decode_with_u8("progress", 0x01, 101), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("progress", 0x01, 255), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("error-state", 0x01, 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("error-state", 0x01, CTP_ERR_INTERNAL), CTP_OK);
	assert_result(decode_with_u16("error-state", 0x01, CTP_ERR_INTERNAL + 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("error-state", 0x01, 0xffff), CTP_E_BAD_VALUE);

	/* HELLO: a version range must not be empty */
	assert_result(decode_with_u8("hello-min", 0x01, 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("hello-min", 0x01, 2), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("hello-max", 0x01, 255), CTP_OK);
	assert_result(decode_with_u8("hello-rsp", 0x01, 0), CTP_E_BAD_VALUE);

	/* HELLO_RSP: key algorithm bits only for known algorithms, at least one */
	assert_result(decode_with_u16("hello-rsp", 0x06, 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("hello-rsp", 0x06, 1u << 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("hello-rsp", 0x06, 1u << 5), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("hello-rsp", 0x06, 0x8000), CTP_E_BAD_VALUE);
	assert_result(decode_with_u16("hello-rsp", 0x06, CTP_KEY_ALG_BIT(CTP_KEY_EC_P384)), CTP_OK);
	assert_result(decode_with_u32("hello-rsp", 0x07, CTP_MIN_DEVICE_FRAME - 1),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u32("hello-rsp", 0x07, CTP_MAX_FRAME + 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("hello-rsp", 0x08, CTP_MAX_CHAIN + 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("hello-rsp", 0x09, CTP_MAX_ANCHORS + 1), CTP_E_BAD_VALUE);
	/* unknown capability bits are ignored (reserved, sent as 0) */
	assert_result(decode_with_u32("hello-rsp", 0x0a, 0x80000000u), CTP_OK);

	/* STAGE_BEGIN counts */
	assert_result(decode_with_u8("stage-begin", 0x02, CTP_MAX_CHAIN + 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-begin", 0x03, CTP_MAX_ANCHORS + 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-begin", 0x04, CTP_MAX_SETTINGS + 1), CTP_E_BAD_VALUE);

	/* STAGE_ITEM: index and setting id must fit the kind */
	assert_result(decode_with_u8("stage-item-cert", 0x02, 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-cert", 0x03, CTP_SETTING_REGISTRAR),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-chain", 0x03, CTP_SETTING_REGISTRAR),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-chain", 0x02, CTP_MAX_CHAIN), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-anchor", 0x03, CTP_SETTING_REGISTRAR),
	              CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-anchor", 0x02, CTP_MAX_ANCHORS), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-setting", 0x03, 0), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("stage-item-setting", 0x02, CTP_MAX_SETTINGS),
	              CTP_E_BAD_VALUE);
	{
		g_autoptr(GByteArray) v = valid_content(S_UTF8, CTP_MAX_SETTING + 1);
		assert_result(decode_with_field("stage-item-setting", 0x04, v->data, v->len),
		              CTP_E_FIELD_LENGTH);
		assert_result(decode_with_field("stage-item-setting", 0x04, v->data, v->len - 1),
		              CTP_OK);
	}

	/* STATUS_RSP: a certificate exactly when provisioned, no chain without one */
	{
		const ctp_test_message *t = sample("status-rsp");
		g_autoptr(GPtrArray) list = sample_tlvs(&t->msg);
		guint8 empty = CTP_DEVICE_STATE_EMPTY;
		ctp_message out;
		tlv_remove_tag(list, 0x02);
		assert_result(decode_tlvs(t->msg.type, t->msg.request_id, list, &out),
		              CTP_E_MISSING_FIELD);
		tlv_set(list, 0x01, &empty, 1);
		assert_result(decode_tlvs(t->msg.type, t->msg.request_id, list, &out),
		              CTP_E_BAD_VALUE); /* chain_count 1 */
	}
	assert_result(decode_with_u8("status-rsp", 0x01, CTP_DEVICE_STATE_EMPTY), CTP_E_BAD_VALUE);
	assert_result(decode_with_u8("status-rsp-empty", 0x03, 1), CTP_E_BAD_VALUE);
	assert_result(decode_with_field("status-rsp-empty", 0x02, "\x30\x00", 2), CTP_E_BAD_VALUE);
}

static void
test_message_request_ids(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		ctp_message m = samples[i].msg;
		g_autoptr(GByteArray) frame = NULL;
		guint8 buf[CTP_MAX_FRAME];
		size_t len;
		ctp_message out;

		/* request id 0 is reserved for an ERROR that cannot name its request */
		m.request_id = 0;
		assert_result(ctp_message_encode(&m, buf, sizeof(buf), &len),
		              m.type == CTP_MSG_ERROR ? CTP_OK : CTP_E_INVALID_ARG);
		m.request_id = 1;
		frame = encode_message(&m);
		frame->data[6] = 0;
		frame->data[7] = 0;
		reseal_header(frame);
		assert_result(ctp_message_decode(frame->data, frame->len, &out),
		              m.type == CTP_MSG_ERROR ? CTP_OK : CTP_E_BAD_VALUE);
	}
}

static void
test_message_unknown_types(void)
{
	const ctp_test_message *t = sample("ping");
	g_autoptr(GByteArray) frame = encode_message(&t->msg);
	guint unknown = 0;

	for (guint type = 0; type < 256; type++) {
		ctp_message m = {.type = (guint8)type, .request_id = 1};
		ctp_message out;
		guint8 buf[64];
		size_t len;
		frame->data[3] = (guint8)type;
		reseal_header(frame);
		if (type_is_known((guint8)type)) {
			g_assert_cmpstr(ctp_message_type_to_string((guint8)type), !=, "UNKNOWN");
			continue;
		}
		unknown++;
		assert_result(ctp_message_decode(frame->data, frame->len, &out),
		              CTP_E_UNKNOWN_TYPE);
		assert_result(ctp_message_encode(&m, buf, sizeof(buf), &len), CTP_E_INVALID_ARG);
		g_assert_cmpstr(ctp_message_type_to_string((guint8)type), ==, "UNKNOWN");
		g_assert_false(ctp_message_type_is_request((guint8)type));
	}
	g_assert_cmpuint(unknown, ==, 256 - G_N_ELEMENTS(all_types));
	for (guint type = CTP_MSG_HELLO; type <= CTP_MSG_PING; type++) {
		g_assert_true(ctp_message_type_is_request((guint8)type));
		g_assert_false(ctp_message_type_is_request((guint8)(type | CTP_TYPE_RESPONSE)));
	}
	g_assert_false(ctp_message_type_is_request(CTP_MSG_PROGRESS));
	g_assert_false(ctp_message_type_is_request(CTP_MSG_ERROR));
}

/* every way a caller can hand the encoder an invalid message */
static void
test_message_encode_invalid(void)
{
	g_autofree guint8 *buf = g_malloc(CTP_MAX_FRAME);
	static guint8 big[70000];
	size_t len = 0;
	ctp_message m;

	assert_result(ctp_message_encode(NULL, buf, CTP_MAX_FRAME, &len), CTP_E_INVALID_ARG);
	m = sample("hello-max")->msg;
	assert_result(ctp_message_encode(&m, NULL, CTP_MAX_FRAME, &len), CTP_E_INVALID_ARG);
	/* invalid beats no-space: the caller learns about the real bug */
	m.u.hello_req.version_min = 0;
	assert_result(ctp_message_encode(&m, buf, 0, &len), CTP_E_INVALID_ARG);

#define EXPECT_INVALID(sample_name, statement)                                                     \
	do {                                                                                       \
		m = sample(sample_name)->msg;                                                      \
		statement;                                                                         \
		assert_result(ctp_message_encode(&m, buf, CTP_MAX_FRAME, &len),                    \
		              CTP_E_INVALID_ARG);                                                  \
	} while (0)

	EXPECT_INVALID("hello-min", m.u.hello_req.version_max = 0);
	EXPECT_INVALID("hello-max", m.u.hello_req.version_min = 200;
	               m.u.hello_req.version_max = 100);
	EXPECT_INVALID("hello-min", m.u.hello_req.challenge.len = 31);
	EXPECT_INVALID("hello-min", m.u.hello_req.challenge.data = NULL);
	EXPECT_INVALID("hello-min", m.u.hello_req.challenge = ctp_bytes_from(NULL, 0));
	EXPECT_INVALID("hello-min", m.u.hello_req.host_name = ctp_bytes_from("", 0));
	EXPECT_INVALID("hello-min", m.u.hello_req.host_name = ctp_bytes_from_string("a\nb"));
	EXPECT_INVALID("hello-min", m.u.hello_req.host_name = ctp_bytes_from(big, sizeof(big)));
	EXPECT_INVALID("hello-rsp", m.u.hello_rsp.serial = ctp_bytes_from_string("SN 1"));
	EXPECT_INVALID("hello-rsp", m.u.hello_rsp.key_algs = 1);
	EXPECT_INVALID("hello-rsp", m.u.hello_rsp.max_frame = 100);
	EXPECT_INVALID("hello-rsp", m.u.hello_rsp.vendor = ctp_bytes_from(NULL, 0));
	EXPECT_INVALID("hello-rsp", m.u.hello_rsp.identity_key = ctp_bytes_from(big, 1025));
	EXPECT_INVALID("status-rsp", m.u.status_rsp.anchor_count = 1);
	EXPECT_INVALID("status-rsp", m.u.status_rsp.anchor_sha256[1].len = 31);
	EXPECT_INVALID("status-rsp", m.u.status_rsp.anchor_sha256[1] = ctp_bytes_from(NULL, 0));
	EXPECT_INVALID("status-rsp", m.u.status_rsp.certificate = ctp_bytes_from(NULL, 0));
	EXPECT_INVALID("status-rsp-empty", m.u.status_rsp.state = 7);
	EXPECT_INVALID("create-csr", m.u.create_csr_req.key_alg = 0);
	EXPECT_INVALID("create-csr", m.u.create_csr_req.nonce.len = CTP_MIN_NONCE - 1);
	EXPECT_INVALID("create-csr",
	               m.u.create_csr_req.san = ctp_bytes_from(big, CTP_MAX_SAN_DER + 1));
	EXPECT_INVALID("stage-item-cert", m.u.stage_item_req.index = 1);
	EXPECT_INVALID("stage-item-setting", m.u.stage_item_req.setting = 0);
	EXPECT_INVALID("stage-item-setting",
	               m.u.stage_item_req.data = ctp_bytes_from_string("\x1b"));
	EXPECT_INVALID("stage-begin", m.u.stage_begin_req.setting_count = 4);
	EXPECT_INVALID("progress", m.u.progress.percent = 101);
	EXPECT_INVALID("progress", m.u.progress.text = ctp_bytes_from("\xc3", 1));
	EXPECT_INVALID("error-state", m.u.error.code = 0);
	EXPECT_INVALID("error-state", m.u.error.code = 99);
	EXPECT_INVALID("ping", m.u.ping.cookie = ctp_bytes_from(big, CTP_MAX_COOKIE + 1));
	EXPECT_INVALID("commit-rsp", m.u.commit_rsp.certificate_sha256.len = 0);
	EXPECT_INVALID("ping", m.type = 0x09);
#undef EXPECT_INVALID
}

static void
test_message_decode_args(void)
{
	const ctp_test_message *t = sample("ping-cookie");
	g_autoptr(GByteArray) frame = encode_message(&t->msg);
	ctp_frame f;
	ctp_message out;

	assert_result(ctp_message_decode(frame->data, frame->len, NULL), CTP_E_INVALID_ARG);
	assert_result(ctp_message_decode(NULL, frame->len, &out), CTP_E_INVALID_ARG);
	assert_result(ctp_frame_decode(frame->data, frame->len, &f), CTP_OK);
	assert_result(ctp_message_decode_frame(&f, &out), CTP_OK);
	g_assert_true(ctp_message_equal(&t->msg, &out));
	/* views point into the caller's buffer, nothing is copied */
	g_assert_true(out.u.ping.cookie.data >= frame->data &&
	              out.u.ping.cookie.data < frame->data + frame->len);
	assert_result(ctp_message_decode_frame(NULL, &out), CTP_E_INVALID_ARG);
	f.payload = NULL;
	assert_result(ctp_message_decode_frame(&f, &out), CTP_E_INVALID_ARG);
	f.payload = frame->data + CTP_HEADER_SIZE;
	f.payload_len = CTP_MAX_PAYLOAD + 1;
	assert_result(ctp_message_decode_frame(&f, &out), CTP_E_TOO_LARGE);
}

static void
test_message_equal(void)
{
	size_t n = 0;
	const ctp_test_message *samples = ctp_test_messages(&n);

	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < n; j++) {
			gboolean same = ctp_message_equal(&samples[i].msg, &samples[j].msg);
			g_assert_true(same == (i == j));
		}
	}
	{
		ctp_message a = sample("status-rsp")->msg;
		ctp_message b = a;
		guint8 other[32];
		memset(other, 0, sizeof(other));
		g_assert_true(ctp_message_equal(&a, &b));
		b.u.status_rsp.anchor_sha256[1] = ctp_bytes_from(other, sizeof(other));
		g_assert_false(ctp_message_equal(&a, &b));
		b = a;
		b.u.status_rsp.registrar = ctp_bytes_from(NULL, 0);
		g_assert_false(ctp_message_equal(&a, &b));
		b = a;
		b.request_id++;
		g_assert_false(ctp_message_equal(&a, &b));
	}
	g_assert_true(ctp_message_equal(NULL, NULL));
	g_assert_false(ctp_message_equal(&samples[0].msg, NULL));
}

static void
test_strings(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new(g_str_hash, g_str_equal);

	for (gint r = CTP_OK; r <= CTP_E_INVALID_ARG; r++) {
		const char *s = ctp_result_to_string((ctp_result)r);
		g_assert_nonnull(s);
		g_assert_cmpstr(s, !=, "unknown result");
		g_assert_false(g_hash_table_contains(seen, s));
		g_hash_table_add(seen, (gpointer)s);
	}
	g_assert_cmpstr(ctp_result_to_string((ctp_result)999), ==, "unknown result");
	g_assert_cmpstr(ctp_result_to_string(CTP_E_CRC), ==, "checksum mismatch");
	g_hash_table_remove_all(seen);
	for (guint16 code = CTP_ERR_BAD_FRAME; code <= CTP_ERR_INTERNAL; code++) {
		const char *s = ctp_device_error_to_string(code);
		g_assert_cmpstr(s, !=, "unknown device error");
		g_assert_false(g_hash_table_contains(seen, s));
		g_hash_table_add(seen, (gpointer)s);
	}
	g_assert_cmpstr(ctp_device_error_to_string(0), ==, "unknown device error");
	g_assert_cmpstr(ctp_device_error_to_string(CTP_ERR_INTERNAL + 1), ==,
	                "unknown device error");
	g_assert_cmpstr(ctp_message_type_to_string(CTP_MSG_STATUS_RSP), ==, "STATUS_RSP");
	g_assert_cmpstr(ctp_message_type_to_string(CTP_MSG_ERROR), ==, "ERROR");
}

static void
test_bytes_helpers(void)
{
	ctp_bytes b = ctp_bytes_from_string(NULL);
	g_assert_false(ctp_bytes_present(b));
	b = ctp_bytes_from(NULL, 0);
	g_assert_false(ctp_bytes_present(b));
	b = ctp_bytes_from_string("");
	g_assert_true(ctp_bytes_present(b)); /* present but empty: invalid for every field */
	g_assert_cmpuint(b.len, ==, 0);
	b = ctp_bytes_from_string("abc");
	g_assert_cmpuint(b.len, ==, 3);
	g_assert_true(ctp_bytes_present(b));
	/* too long for a view: present with no data, so that encoding refuses it */
	b = ctp_bytes_from("x", 0x10000);
	g_assert_null(b.data);
	g_assert_true(ctp_bytes_present(b));
}

/* the committed fuzz seeds are valid frames of the side each target decodes */
static void
test_fuzz_seeds(void)
{
	const gchar *srcdir = g_getenv("CT_SRCDIR");
	g_autofree gchar *fallback = NULL;
	static const struct {
		const char *dir;
		int side; /* 1: requests, 2: responses, 0: frames of both sides */
	} dirs[] = {
	    {"fuzz-ctp-message-device", 1},
	    {"fuzz-ctp-message-host", 2},
	    {"fuzz-ctp-frame", 0},
	};

	if (srcdir == NULL) {
		/* the program lives in $(BUILDDIR)/tests/ inside the source tree */
		g_autofree gchar *self = g_file_read_link("/proc/self/exe", NULL);
		g_autofree gchar *d1 = g_path_get_dirname(self);
		g_autofree gchar *d2 = g_path_get_dirname(d1);
		fallback = g_path_get_dirname(d2);
		srcdir = fallback;
	}
	for (gsize k = 0; k < G_N_ELEMENTS(dirs); k++) {
		g_autofree gchar *path =
		    g_build_filename(srcdir, "tests", "fuzz", "corpus", dirs[k].dir, NULL);
		g_autoptr(GError) error = NULL;
		g_autoptr(GDir) dir = g_dir_open(path, 0, &error);
		const gchar *name;
		guint count = 0;

		g_assert_no_error(error);
		while ((name = g_dir_read_name(dir)) != NULL) {
			g_autofree gchar *file = g_build_filename(path, name, NULL);
			g_autofree gchar *data = NULL;
			gsize len = 0;
			ctp_message out;
			ctp_result r;

			g_assert_true(g_file_get_contents(file, &data, &len, NULL));
			r = ctp_message_decode((const guint8 *)data, len, &out);
			if (dirs[k].side == 0) {
				/* the frame target also gets deliberately broken frames */
				count++;
				continue;
			}
			if (r != CTP_OK)
				g_error("%s: %s", file, ctp_result_to_string(r));
			g_assert_true(ctp_message_type_is_request(out.type) == (dirs[k].side == 1));
			count++;
		}
		g_test_message("%s: %u seeds", dirs[k].dir, count);
		g_assert_cmpuint(count, >=, 10);
	}
}

int
main(int argc, char **argv)
{
	int rc;

	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ctp/crc32", test_crc32);
	g_test_add_func("/ctp/frame/worked-example", test_frame_worked_example);
	g_test_add_func("/ctp/frame/seal", test_frame_seal);
	g_test_add_func("/ctp/frame/truncations", test_frame_truncations);
	g_test_add_func("/ctp/frame/header-corruption", test_frame_header_corruption);
	g_test_add_func("/ctp/frame/payload-corruption", test_frame_payload_corruption);
	g_test_add_func("/ctp/frame/lengths", test_frame_lengths);
	g_test_add_func("/ctp/frame/header-fields", test_frame_header_fields);
	g_test_add_func("/ctp/message/roundtrip", test_message_roundtrip);
	g_test_add_func("/ctp/message/encode-no-space", test_message_encode_no_space);
	g_test_add_func("/ctp/message/field-bounds", test_message_field_bounds);
	g_test_add_func("/ctp/message/tag-order", test_message_tag_order);
	g_test_add_func("/ctp/message/repeated", test_message_repeated);
	g_test_add_func("/ctp/message/unknown-tags", test_message_unknown_tags);
	g_test_add_func("/ctp/message/trailing", test_message_trailing);
	g_test_add_func("/ctp/message/missing", test_message_missing);
	g_test_add_func("/ctp/message/text", test_message_text);
	g_test_add_func("/ctp/message/values", test_message_values);
	g_test_add_func("/ctp/message/request-ids", test_message_request_ids);
	g_test_add_func("/ctp/message/unknown-types", test_message_unknown_types);
	g_test_add_func("/ctp/message/encode-invalid", test_message_encode_invalid);
	g_test_add_func("/ctp/message/decode-args", test_message_decode_args);
	g_test_add_func("/ctp/message/equal", test_message_equal);
	g_test_add_func("/ctp/strings", test_strings);
	g_test_add_func("/ctp/bytes-helpers", test_bytes_helpers);
	g_test_add_func("/ctp/fuzz-seeds", test_fuzz_seeds);
	rc = g_test_run();
	g_clear_pointer(&last_frame, g_byte_array_unref);
	return rc;
}
