/*
 * Unit tests of the host transport's device-free parts (usbproto/host/):
 * frame-to-request matching, request ids, status strings, text sanitising and
 * interface matching on parsed descriptors. The transport's USB side is tested
 * over real libusb and the emulated phone in tests/integration/.
 */
#include <glib.h>
#include <string.h>

#include "usbproto/host/ctp-host-descriptor.h"
#include "usbproto/host/ctp-host-match.h"
#include "usbproto/host/ctp-host.h"

/* ---- frames --------------------------------------------------------------- */

typedef struct {
	guint8 buf[CTP_MAX_FRAME];
	gsize len;
} frame_buf;

static void
encode(const ctp_message *msg, frame_buf *out)
{
	ctp_result r = ctp_message_encode(msg, out->buf, sizeof(out->buf), &out->len);
	g_assert_cmpint(r, ==, CTP_OK);
}

static void
encode_status_rsp(guint16 id, frame_buf *out)
{
	ctp_message msg = {.type = CTP_MSG_STATUS_RSP, .request_id = id};

	msg.u.status_rsp.state = CTP_DEVICE_STATE_EMPTY;
	encode(&msg, out);
}

static void
test_match_response(void)
{
	frame_buf f;
	ctp_message msg;
	ctp_result why = CTP_E_CRC;

	encode_status_rsp(77, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 77, &msg, &why), ==,
	                CTP_HOST_FRAME_RESPONSE);
	g_assert_cmpint(why, ==, CTP_OK);
	g_assert_cmpint(msg.type, ==, CTP_MSG_STATUS_RSP);
	g_assert_cmpint(msg.request_id, ==, 77);
}

static void
test_match_stale(void)
{
	frame_buf f;
	ctp_message msg;
	ctp_result why;

	/* a late answer to request 76 while 77 is awaited */
	encode_status_rsp(76, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 77, &msg, &why), ==,
	                CTP_HOST_FRAME_STALE);
	g_assert_cmpint(why, ==, CTP_OK);
	/* the device's "bad frame" errors carry id 0, which the host never uses */
	{
		ctp_message err = {.type = CTP_MSG_ERROR, .request_id = 0};
		err.u.error.code = CTP_ERR_BAD_FRAME;
		encode(&err, &f);
		g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 77, &msg, &why),
		                ==, CTP_HOST_FRAME_STALE);
	}
}

static void
test_match_stale_payload_not_decoded(void)
{
	frame_buf f;
	ctp_message msg;
	ctp_result why;
	size_t len = 0;

	/* valid header and checksum, payload an unknown mandatory tag: for another id it is
	 * stale without being decoded; for our id it is the (invalid) answer */
	f.buf[CTP_HEADER_SIZE + 0] = 0x7f;
	f.buf[CTP_HEADER_SIZE + 1] = 0;
	f.buf[CTP_HEADER_SIZE + 2] = 0;
	g_assert_cmpint(ctp_frame_seal(f.buf, sizeof(f.buf), CTP_MSG_STATUS_RSP, 5, 3, &len), ==,
	                CTP_OK);
	f.len = len;
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 6, &msg, &why), ==,
	                CTP_HOST_FRAME_STALE);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 5, &msg, &why), ==,
	                CTP_HOST_FRAME_INVALID);
	g_assert_cmpint(why, ==, CTP_E_UNKNOWN_FIELD);
}

static void
test_match_error_and_progress(void)
{
	frame_buf f;
	ctp_message msg;
	ctp_message err = {.type = CTP_MSG_ERROR, .request_id = 9};
	ctp_message prog = {.type = CTP_MSG_PROGRESS, .request_id = 9};
	ctp_result why;

	err.u.error.code = CTP_ERR_REFUSED;
	err.u.error.text = ctp_bytes_from_string("user said no");
	encode(&err, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_COMMIT, 9, &msg, &why), ==,
	                CTP_HOST_FRAME_ERROR);
	g_assert_cmpint(msg.u.error.code, ==, CTP_ERR_REFUSED);
	g_assert_cmpint(msg.u.error.text.len, ==, strlen("user said no"));

	prog.u.progress.percent = 40;
	encode(&prog, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_CREATE_CSR, 9, &msg, &why), ==,
	                CTP_HOST_FRAME_PROGRESS);
	g_assert_cmpint(msg.u.progress.percent, ==, 40);
	/* PROGRESS for another request is stale like anything else */
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_CREATE_CSR, 10, &msg, &why), ==,
	                CTP_HOST_FRAME_STALE);
}

static void
test_match_dropped(void)
{
	frame_buf f;
	ctp_message msg;
	ctp_result why;

	encode_status_rsp(3, &f);
	/* a flipped payload bit: the checksum catches it before the id is trusted */
	f.buf[f.len - 1] ^= 0x01;
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 3, &msg, &why), ==,
	                CTP_HOST_FRAME_DROPPED);
	g_assert_cmpint(why, ==, CTP_E_CRC);
	/* so does a flipped id bit: no false "stale" */
	encode_status_rsp(3, &f);
	f.buf[6] ^= 0x04;
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 3, &msg, &why), ==,
	                CTP_HOST_FRAME_DROPPED);
	g_assert_cmpint(why, ==, CTP_E_CRC);

	encode_status_rsp(3, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len - 1, CTP_MSG_STATUS, 3, &msg, &why), ==,
	                CTP_HOST_FRAME_DROPPED);
	g_assert_cmpint(why, ==, CTP_E_TRUNCATED);
	g_assert_cmpint(ctp_host_match_frame(f.buf, 0, CTP_MSG_STATUS, 3, &msg, &why), ==,
	                CTP_HOST_FRAME_DROPPED);
	g_assert_cmpint(why, ==, CTP_E_TRUNCATED);

	/* an unknown type (of a later version) with our id is dropped too (PROTOCOL.md 5) */
	g_assert_cmpint(ctp_frame_seal(f.buf, sizeof(f.buf), 0x42, 3, 0, &f.len), ==, CTP_OK);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_STATUS, 3, &msg, &why), ==,
	                CTP_HOST_FRAME_DROPPED);
	g_assert_cmpint(why, ==, CTP_E_UNKNOWN_TYPE);

	memset(f.buf, 0xff, 64);
	g_assert_cmpint(ctp_host_match_frame(f.buf, 64, CTP_MSG_STATUS, 3, &msg, &why), ==,
	                CTP_HOST_FRAME_DROPPED);
	g_assert_cmpint(why, ==, CTP_E_MAGIC);
}

static void
test_match_unexpected(void)
{
	frame_buf f;
	ctp_message msg;
	ctp_message hello = {.type = CTP_MSG_HELLO, .request_id = 4};
	ctp_result why;
	guint8 challenge[CTP_CHALLENGE_SIZE] = {0};
	char text[160];

	/* a STATUS_RSP is no answer to HELLO */
	encode_status_rsp(4, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_HELLO, 4, &msg, &why), ==,
	                CTP_HOST_FRAME_UNEXPECTED);
	g_assert_cmpint(why, ==, CTP_OK);
	ctp_host_describe_unexpected(CTP_MSG_HELLO, msg.type, text, sizeof(text));
	g_assert_cmpstr(text, ==, "the device answered HELLO with STATUS_RSP (expected HELLO_RSP)");

	/* nor is a request echoed back */
	hello.u.hello_req.version_min = 1;
	hello.u.hello_req.version_max = 1;
	hello.u.hello_req.challenge = ctp_bytes_from(challenge, sizeof(challenge));
	encode(&hello, &f);
	g_assert_cmpint(ctp_host_match_frame(f.buf, f.len, CTP_MSG_HELLO, 4, &msg, &why), ==,
	                CTP_HOST_FRAME_UNEXPECTED);
	ctp_host_describe_unexpected(CTP_MSG_HELLO, msg.type, text, sizeof(text));
	g_assert_cmpstr(text, ==, "the device sent a HELLO request instead of answering HELLO");
}

static void
test_request_ids(void)
{
	g_assert_cmpuint(ctp_host_next_request_id(1), ==, 2);
	g_assert_cmpuint(ctp_host_next_request_id(0xfffe), ==, 0xffff);
	/* 0 is never used: the device's BAD_FRAME errors carry it */
	g_assert_cmpuint(ctp_host_next_request_id(0xffff), ==, 1);
	g_assert_cmpuint(ctp_host_next_request_id(0), ==, 1);
}

/* ---- status strings --------------------------------------------------------- */

static void
test_status_strings(void)
{
	GHashTable *names = g_hash_table_new(g_str_hash, g_str_equal);

	for (int s = CTP_HOST_OK; s <= CTP_HOST_NO_MEMORY; s++) {
		const char *name = ctp_host_status_to_name((ctp_host_status)s);
		const char *text = ctp_host_status_to_string((ctp_host_status)s);

		g_assert_cmpstr(name, !=, "UNKNOWN");
		g_assert_cmpstr(text, !=, "unknown status");
		g_assert_cmpuint(strlen(text), >, 5);
		/* names are for JSON and logs: distinct, upper case */
		g_assert_false(g_hash_table_contains(names, name));
		g_hash_table_add(names, (gpointer)name);
		for (const char *c = name; *c != '\0'; c++)
			g_assert_true(g_ascii_isupper(*c) || *c == '_');
	}
	g_hash_table_unref(names);
	g_assert_nonnull(strstr(ctp_host_status_to_string(CTP_HOST_NO_DEVICE), "unplugged"));
	g_assert_nonnull(strstr(ctp_host_status_to_string(CTP_HOST_TIMEOUT), "did not answer"));
	g_assert_nonnull(strstr(ctp_host_status_to_string(CTP_HOST_ACCESS), "udev"));
	g_assert_cmpstr(ctp_host_status_to_name((ctp_host_status)999), ==, "UNKNOWN");
	g_assert_cmpstr(ctp_host_status_to_string((ctp_host_status)999), ==, "unknown status");
}

static void
test_default_timeouts(void)
{
	g_assert_cmpuint(ctp_host_default_timeout_ms(CTP_MSG_CREATE_CSR), ==,
	                 CTP_TIMEOUT_CREATE_CSR_MS);
	g_assert_cmpuint(ctp_host_default_timeout_ms(CTP_MSG_HELLO), ==, CTP_TIMEOUT_DEFAULT_MS);
	g_assert_cmpuint(ctp_host_default_timeout_ms(CTP_MSG_COMMIT), ==, CTP_TIMEOUT_DEFAULT_MS);
}

/* ---- text sanitising -------------------------------------------------------- */

static void
assert_sanitized(const char *in, gsize size, const char *expect)
{
	char buf[128];

	g_assert_cmpuint(size, <=, sizeof(buf));
	ctp_host_sanitize_text((const guint8 *)in, strlen(in), buf, size);
	g_assert_cmpstr(buf, ==, expect);
}

static void
test_sanitize(void)
{
	char one[1] = {'x'};

	assert_sanitized("plain text", 64, "plain text");
	/* newlines and escapes could forge log lines or drive a terminal */
	assert_sanitized("a\nb\rc\x1b[31md\x7f", 64, "a?b?c?[31md?");
	/* UTF-8 stays; C1 CSI (U+009B) and a bidi override (U+202E) do not */
	assert_sanitized("caf\xc3\xa9", 64, "caf\xc3\xa9");
	assert_sanitized("x\xc2\x9by", 64, "x?y");
	assert_sanitized("x\xe2\x80\xaey", 64, "x?y");
	assert_sanitized("x\xe2\x80\xa8y", 64, "x?y");
	/* invalid: lone continuation, overlong '/', surrogate, cut sequence */
	assert_sanitized("\x80", 64, "?");
	assert_sanitized("\xc0\xaf", 64, "??");
	assert_sanitized("\xed\xa0\x80", 64, "???");
	assert_sanitized("ab\xe2\x82", 64, "ab??");
	/* truncation never splits a character and always terminates */
	assert_sanitized("abc\xc3\xa9", 5, "abc");
	assert_sanitized("abcdef", 4, "abc");
	assert_sanitized("abc", 1, "");
	ctp_host_sanitize_text(NULL, 5, one, sizeof(one));
	g_assert_cmpint(one[0], ==, '\0');
}

/* ---- interface matching ----------------------------------------------------- */

static const struct libusb_endpoint_descriptor bulk_eps[] = {
    {.bLength = 7,
     .bEndpointAddress = 0x83,
     .bmAttributes = LIBUSB_TRANSFER_TYPE_INTERRUPT,
     .wMaxPacketSize = 16},
    {.bLength = 7,
     .bEndpointAddress = 0x02,
     .bmAttributes = LIBUSB_TRANSFER_TYPE_BULK,
     .wMaxPacketSize = 512},
    {.bLength = 7,
     .bEndpointAddress = 0x81,
     .bmAttributes = LIBUSB_TRANSFER_TYPE_BULK,
     .wMaxPacketSize = 512},
};

static const struct libusb_endpoint_descriptor only_in[] = {
    {.bLength = 7,
     .bEndpointAddress = 0x81,
     .bmAttributes = LIBUSB_TRANSFER_TYPE_BULK,
     .wMaxPacketSize = 512},
};

static struct libusb_interface_descriptor
alt(guint8 number,
    guint8 alt_setting,
    guint8 cls,
    guint8 sub,
    guint8 proto,
    const struct libusb_endpoint_descriptor *eps,
    guint8 n_eps)
{
	struct libusb_interface_descriptor d = {
	    .bLength = 9,
	    .bInterfaceNumber = number,
	    .bAlternateSetting = alt_setting,
	    .bNumEndpoints = n_eps,
	    .bInterfaceClass = cls,
	    .bInterfaceSubClass = sub,
	    .bInterfaceProtocol = proto,
	    .endpoint = eps,
	};
	return d;
}

static void
test_find_interface(void)
{
	struct libusb_interface_descriptor if0[1];
	struct libusb_interface_descriptor if1[2];
	struct libusb_interface ifaces[2];
	struct libusb_config_descriptor config = {.bLength = 9, .bNumInterfaces = 2};
	ctp_host_interface found;

	/* interface 0: a mass-storage-like one; interface 1: alt 0 empty, alt 1 CTP */
	if0[0] = alt(0, 0, 0x08, 0x06, 0x50, bulk_eps + 1, 2);
	if1[0] = alt(1, 0, CTP_USB_INTERFACE_CLASS, CTP_USB_INTERFACE_SUBCLASS,
	             CTP_USB_INTERFACE_PROTOCOL, NULL, 0);
	if1[1] = alt(1, 1, CTP_USB_INTERFACE_CLASS, CTP_USB_INTERFACE_SUBCLASS,
	             CTP_USB_INTERFACE_PROTOCOL, bulk_eps, 3);
	ifaces[0] = (struct libusb_interface){.altsetting = if0, .num_altsetting = 1};
	ifaces[1] = (struct libusb_interface){.altsetting = if1, .num_altsetting = 2};
	config.interface = ifaces;

	g_assert_true(ctp_host_find_interface(&config, &found));
	g_assert_cmpuint(found.interface_number, ==, 1);
	g_assert_cmpuint(found.alt_setting, ==, 1);
	g_assert_cmpuint(found.ep_in, ==, 0x81);
	g_assert_cmpuint(found.ep_out, ==, 0x02);
	g_assert_cmpuint(found.out_max_packet, ==, 512);

	/* the triple with only an IN endpoint is not usable */
	if1[1] = alt(1, 1, CTP_USB_INTERFACE_CLASS, CTP_USB_INTERFACE_SUBCLASS,
	             CTP_USB_INTERFACE_PROTOCOL, only_in, 1);
	g_assert_false(ctp_host_find_interface(&config, &found));

	/* a vendor interface with another subclass or protocol is someone else's */
	if1[1] = alt(1, 1, CTP_USB_INTERFACE_CLASS, 0x00, CTP_USB_INTERFACE_PROTOCOL, bulk_eps, 3);
	g_assert_false(ctp_host_find_interface(&config, &found));
	if1[1] = alt(1, 1, CTP_USB_INTERFACE_CLASS, CTP_USB_INTERFACE_SUBCLASS, 0x02, bulk_eps, 3);
	g_assert_false(ctp_host_find_interface(&config, &found));

	g_assert_false(ctp_host_find_interface(NULL, &found));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/ctp-host/match/response", test_match_response);
	g_test_add_func("/ctp-host/match/stale", test_match_stale);
	g_test_add_func("/ctp-host/match/stale-payload-not-decoded",
	                test_match_stale_payload_not_decoded);
	g_test_add_func("/ctp-host/match/error-and-progress", test_match_error_and_progress);
	g_test_add_func("/ctp-host/match/dropped", test_match_dropped);
	g_test_add_func("/ctp-host/match/unexpected", test_match_unexpected);
	g_test_add_func("/ctp-host/request-ids", test_request_ids);
	g_test_add_func("/ctp-host/status-strings", test_status_strings);
	g_test_add_func("/ctp-host/default-timeouts", test_default_timeouts);
	g_test_add_func("/ctp-host/sanitize", test_sanitize);
	g_test_add_func("/ctp-host/find-interface", test_find_interface);
	return g_test_run();
}
