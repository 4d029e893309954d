/*
 * phonesim-probe: a small, ordinary libusb program for phonesim's smoke test. It
 * knows nothing of umockdev: it enumerates like any host would and speaks CTP with
 * synchronous libusb_bulk_transfer() and the codec (not the host transport library).
 *
 *   phonesim-probe list                 one line per CTP device on the bus
 *   phonesim-probe hello [--serial S]   HELLO (identity signature verified) + STATUS
 *
 * Exit 0 on success, 1 on a failed check (with the reason on stderr).
 */
#include <gio/gio.h>
#include <libusb.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <string.h>

#include "usbproto/codec/ctp-message.h"
#include "usbproto/device/ctp-device-session.h"

#define EP_OUT     0x01
#define EP_IN      0x81
#define TIMEOUT_MS 5000

typedef struct {
	guint8 cls, subclass, protocol;
	gint iface;
	guint8 ep_out, ep_in;
	gchar *interface_name;
} CtpInterface;

/* the CTP interface triple, as a host must match it (never the VID:PID alone) */
static gboolean
find_ctp_interface(libusb_device *dev, CtpInterface *found)
{
	struct libusb_config_descriptor *cfg = NULL;
	gboolean ok = FALSE;
	if (libusb_get_active_config_descriptor(dev, &cfg) != 0)
		return FALSE;
	for (int i = 0; i < cfg->bNumInterfaces && !ok; i++) {
		const struct libusb_interface_descriptor *alt = &cfg->interface[i].altsetting[0];
		if (alt->bInterfaceClass != CTP_USB_INTERFACE_CLASS ||
		    alt->bInterfaceSubClass != CTP_USB_INTERFACE_SUBCLASS ||
		    alt->bInterfaceProtocol != CTP_USB_INTERFACE_PROTOCOL)
			continue;
		found->cls = alt->bInterfaceClass;
		found->subclass = alt->bInterfaceSubClass;
		found->protocol = alt->bInterfaceProtocol;
		found->iface = alt->bInterfaceNumber;
		for (int e = 0; e < alt->bNumEndpoints; e++) {
			guint8 addr = alt->endpoint[e].bEndpointAddress;
			if ((alt->endpoint[e].bmAttributes & 0x03) != LIBUSB_TRANSFER_TYPE_BULK)
				continue;
			if (addr & 0x80)
				found->ep_in = addr;
			else
				found->ep_out = addr;
		}
		found->interface_name = GUINT_TO_POINTER(alt->iInterface); /* index for now */
		ok = found->ep_in != 0 && found->ep_out != 0;
	}
	libusb_free_config_descriptor(cfg);
	return ok;
}

static gchar *
string_descriptor(libusb_device_handle *h, guint8 index)
{
	unsigned char buf[256];
	if (index == 0)
		return g_strdup("");
	int n = libusb_get_string_descriptor_ascii(h, index, buf, sizeof buf);
	if (n < 0)
		return g_strdup_printf("<error %s>", libusb_error_name(n));
	return g_strndup((const gchar *)buf, (gsize)n);
}

/* one request, one final answer (PROGRESS frames skipped) */
static gboolean
transact(libusb_device_handle *h,
         const ctp_message *req,
         guint8 *rx,
         gsize rx_cap,
         ctp_message *rsp,
         GError **error)
{
	static guint8 tx[CTP_MAX_FRAME];
	gsize len = 0;
	int done = 0;
	ctp_result r = ctp_message_encode(req, tx, sizeof tx, &len);
	if (r != CTP_OK) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "encode: %s",
		            ctp_result_to_string(r));
		return FALSE;
	}
	int rc = libusb_bulk_transfer(h, EP_OUT, tx, (int)len, &done, TIMEOUT_MS);
	if (rc != 0 || (gsize)done != len) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bulk OUT: %s",
		            libusb_error_name(rc));
		return FALSE;
	}
	for (;;) {
		rc = libusb_bulk_transfer(h, EP_IN, rx, (int)rx_cap, &done, TIMEOUT_MS);
		if (rc != 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bulk IN: %s",
			            libusb_error_name(rc));
			return FALSE;
		}
		r = ctp_message_decode(rx, (gsize)done, rsp);
		if (r != CTP_OK) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "answer does not decode: %s", ctp_result_to_string(r));
			return FALSE;
		}
		if (rsp->request_id != req->request_id) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "answer for request %u, expected %u", rsp->request_id,
			            req->request_id);
			return FALSE;
		}
		if (rsp->type == CTP_MSG_PROGRESS)
			continue;
		if (rsp->type == CTP_MSG_ERROR) {
			g_set_error(
			    error, G_IO_ERROR, G_IO_ERROR_FAILED, "device error %u (%s): %.*s",
			    rsp->u.error.code, ctp_device_error_to_string(rsp->u.error.code),
			    (int)rsp->u.error.text.len, (const char *)rsp->u.error.text.data);
			return FALSE;
		}
		if (rsp->type != (req->type | CTP_TYPE_RESPONSE)) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "answer type %s to %s", ctp_message_type_to_string(rsp->type),
			            ctp_message_type_to_string(req->type));
			return FALSE;
		}
		return TRUE;
	}
}

static gboolean
verify_identity(const ctp_hello_rsp *hello, const guint8 *challenge, GError **error)
{
	guint8 input[CTP_DEVICE_HELLO_SIG_INPUT_MAX];
	gsize input_len = 0;
	if (!ctp_device_hello_sig_input(challenge, CTP_CHALLENGE_SIZE, hello->serial.data,
	                                hello->serial.len, input, sizeof input, &input_len)) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		                    "serial out of bounds");
		return FALSE;
	}
	const unsigned char *p = hello->identity_key.data;
	EVP_PKEY *key = d2i_PUBKEY(NULL, &p, hello->identity_key.len);
	if (key == NULL || EVP_PKEY_get_base_id(key) != EVP_PKEY_EC) {
		EVP_PKEY_free(key);
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		                    "identity_key is not an EC SubjectPublicKeyInfo");
		return FALSE;
	}
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	         EVP_DigestVerify(ctx, hello->identity_sig.data, hello->identity_sig.len, input,
	                          input_len) == 1;
	EVP_MD_CTX_free(ctx);
	EVP_PKEY_free(key);
	if (!ok) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		                    "identity signature does not verify");
		return FALSE;
	}
	return TRUE;
}

static gchar *
hex(const guint8 *data, gsize len)
{
	GString *s = g_string_new(NULL);
	for (gsize i = 0; i < len; i++)
		g_string_append_printf(s, "%02x", data[i]);
	return g_string_free(s, FALSE);
}

static gboolean
hello_and_status(libusb_device_handle *h, GError **error)
{
	static guint8 rx[CTP_MAX_FRAME];
	guint8 challenge[CTP_CHALLENGE_SIZE];
	ctp_message req, rsp;

	for (guint i = 0; i < sizeof challenge; i++)
		challenge[i] = (guint8)g_random_int_range(0, 256);
	memset(&req, 0, sizeof req);
	req.type = CTP_MSG_HELLO;
	req.request_id = 1;
	req.u.hello_req.version_min = CTP_VERSION_MIN;
	req.u.hello_req.version_max = CTP_VERSION_MAX;
	req.u.hello_req.challenge = ctp_bytes_from(challenge, sizeof challenge);
	req.u.hello_req.host_name = ctp_bytes_from_string("phonesim-probe");
	if (!transact(h, &req, rx, sizeof rx, &rsp, error)) {
		g_prefix_error(error, "HELLO: ");
		return FALSE;
	}
	const ctp_hello_rsp *hr = &rsp.u.hello_rsp;
	if (!verify_identity(hr, challenge, error))
		return FALSE;
	guint8 digest[32];
	guint digest_len = sizeof digest;
	EVP_Digest(hr->identity_key.data, hr->identity_key.len, digest, &digest_len, EVP_sha256(),
	           NULL);
	g_autofree gchar *fingerprint = hex(digest, sizeof digest);
	printf("hello version=%u serial=%.*s vendor=%.*s model=%.*s key_algs=0x%04x "
	       "max_frame=%u max_chain=%u max_anchors=%u identity_sha256=%s identity_sig=ok\n",
	       hr->version, (int)hr->serial.len, (const char *)hr->serial.data, (int)hr->vendor.len,
	       (const char *)hr->vendor.data, (int)hr->model.len, (const char *)hr->model.data,
	       hr->key_algs, hr->max_frame, hr->max_chain, hr->max_anchors, fingerprint);

	memset(&req, 0, sizeof req);
	req.type = CTP_MSG_STATUS;
	req.request_id = 2;
	if (!transact(h, &req, rx, sizeof rx, &rsp, error)) {
		g_prefix_error(error, "STATUS: ");
		return FALSE;
	}
	const ctp_status_rsp *sr = &rsp.u.status_rsp;
	printf("status state=%s certificate=%s chain=%u anchors=%u pending=%s\n",
	       sr->state == CTP_DEVICE_STATE_PROVISIONED ? "provisioned" : "empty",
	       ctp_bytes_present(sr->certificate) ? "yes" : "no", sr->chain_count, sr->anchor_count,
	       ctp_bytes_present(sr->pending_csr_sha256) ? "yes" : "no");
	return TRUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *want_serial = NULL;
	const GOptionEntry entries[] = {
	    {"serial", 0, 0, G_OPTION_ARG_STRING, &want_serial, "Only the device with this serial",
	     "S"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("list|hello");
	g_autoptr(GError) error = NULL;
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2 ||
	    (strcmp(argv[1], "list") != 0 && strcmp(argv[1], "hello") != 0)) {
		fprintf(stderr, "usage: phonesim-probe [--serial S] list|hello\n");
		return 2;
	}
	gboolean do_hello = strcmp(argv[1], "hello") == 0;

	libusb_context *usb = NULL;
	int rc = libusb_init(&usb);
	if (rc != 0) {
		fprintf(stderr, "phonesim-probe: libusb_init: %s\n", libusb_error_name(rc));
		return 1;
	}
	libusb_device **list = NULL;
	ssize_t n = libusb_get_device_list(usb, &list);
	int matched = 0, failed = 0;
	for (ssize_t i = 0; i < n; i++) {
		struct libusb_device_descriptor d;
		CtpInterface ci = {0};
		if (libusb_get_device_descriptor(list[i], &d) != 0 ||
		    !find_ctp_interface(list[i], &ci))
			continue;
		libusb_device_handle *h = NULL;
		rc = libusb_open(list[i], &h);
		if (rc != 0) {
			fprintf(stderr, "phonesim-probe: open: %s\n", libusb_error_name(rc));
			failed++;
			continue;
		}
		g_autofree gchar *manufacturer = string_descriptor(h, d.iManufacturer);
		g_autofree gchar *product = string_descriptor(h, d.iProduct);
		g_autofree gchar *serial = string_descriptor(h, d.iSerialNumber);
		g_autofree gchar *iface_name =
		    string_descriptor(h, (guint8)GPOINTER_TO_UINT(ci.interface_name));
		if (want_serial != NULL && g_strcmp0(serial, want_serial) != 0) {
			libusb_close(h);
			continue;
		}
		matched++;
		printf("device bus=%u devnum=%u port=%u id=%04x:%04x interface=%02x/%02x/%02x "
		       "iface_name=%s manufacturer=%s product=%s serial=%s\n",
		       libusb_get_bus_number(list[i]), libusb_get_device_address(list[i]),
		       libusb_get_port_number(list[i]), d.idVendor, d.idProduct, ci.cls,
		       ci.subclass, ci.protocol, iface_name, manufacturer, product, serial);
		if (do_hello) {
			rc = libusb_claim_interface(h, ci.iface);
			if (rc != 0) {
				fprintf(stderr, "phonesim-probe: claim: %s\n",
				        libusb_error_name(rc));
				failed++;
			} else {
				g_clear_error(&error);
				if (!hello_and_status(h, &error)) {
					fprintf(stderr, "phonesim-probe: %s: %s\n", serial,
					        error->message);
					failed++;
				}
				libusb_release_interface(h, ci.iface);
			}
		}
		libusb_close(h);
	}
	libusb_free_device_list(list, 1);
	libusb_exit(usb);
	printf("devices=%d\n", matched);
	if (do_hello && matched == 0) {
		fprintf(stderr, "phonesim-probe: no CTP device%s%s\n",
		        want_serial ? " with serial " : "", want_serial ? want_serial : "");
		return 1;
	}
	return failed == 0 ? 0 : 1;
}
