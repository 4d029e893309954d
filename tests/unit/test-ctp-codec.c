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

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ctp/crc32", test_crc32);
	g_test_add_func("/ctp/message/roundtrip", test_message_roundtrip);
	return g_test_run();
}
