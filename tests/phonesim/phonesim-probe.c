/*
 * phonesim-probe: a small, ordinary libusb program for phonesim's smoke test. It
 * knows nothing of umockdev: it enumerates like any host would and speaks CTP with
 * synchronous libusb_bulk_transfer() and the codec (not the host transport library).
 *
 *   phonesim-probe list                 one line per CTP device on the bus
 *   phonesim-probe hello [--serial S]   HELLO (identity signature verified) + STATUS
 *   phonesim-probe csr --alg A --cn NAME [--san-dns D] [--out FILE]
 *                                       HELLO + CREATE_CSR, every check of PROTOCOL.md 8
 *   phonesim-probe install --cert F [--chain F]... [--anchor F]... [--setting K=V]...
 *                                       HELLO + STAGE_BEGIN + items + COMMIT
 *   phonesim-probe abort                HELLO + STAGE_BEGIN + ABORT
 *   phonesim-probe junk --size N        N bytes that are no frame: expects BAD_FRAME
 *
 * Exit 0 on success, 1 on a failed check (with the reason on stderr).
 */
#include <gio/gio.h>
#include <libusb.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <string.h>

#include "usbproto/codec/ctp-message.h"
#include "usbproto/device/ctp-device-session.h"

/* what the command runs against: the endpoints of the CTP interface found */
static guint8 ep_out, ep_in;
static guint timeout_ms = CTP_TIMEOUT_DEFAULT_MS;
static guint progress_frames;
static guint16 next_request_id = 1;
static libusb_context *usb_ctx;

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

static void LIBUSB_CALL
on_transfer_done(struct libusb_transfer *t)
{
	*(int *)t->user_data = 1;
}

/*
 * One frame as one bulk OUT transfer. libusb_bulk_transfer() cannot ask for the
 * zero-length packet that ends a frame whose length is a multiple of the packet size
 * (PROTOCOL.md 2.2), so this is the asynchronous API with ADD_ZERO_PACKET.
 */
static int
bulk_out_frame(libusb_device_handle *h, guint8 *data, int len, int *done)
{
	struct libusb_transfer *t = libusb_alloc_transfer(0);
	int completed = 0;
	libusb_fill_bulk_transfer(t, h, ep_out, data, len, on_transfer_done, &completed,
	                          timeout_ms);
	t->flags = LIBUSB_TRANSFER_ADD_ZERO_PACKET;
	int rc = libusb_submit_transfer(t);
	if (rc != 0) {
		libusb_free_transfer(t);
		return rc;
	}
	while (!completed) {
		rc = libusb_handle_events_completed(usb_ctx, &completed);
		if (rc != 0 && rc != LIBUSB_ERROR_INTERRUPTED) {
			libusb_cancel_transfer(t);
			while (!completed)
				libusb_handle_events_completed(usb_ctx, &completed);
			break;
		}
	}
	*done = t->actual_length;
	switch (t->status) {
	case LIBUSB_TRANSFER_COMPLETED:
		rc = rc != 0 ? rc : 0;
		break;
	case LIBUSB_TRANSFER_TIMED_OUT:
		rc = LIBUSB_ERROR_TIMEOUT;
		break;
	case LIBUSB_TRANSFER_NO_DEVICE:
		rc = LIBUSB_ERROR_NO_DEVICE;
		break;
	default:
		rc = LIBUSB_ERROR_IO;
		break;
	}
	libusb_free_transfer(t);
	return rc;
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
	int rc = bulk_out_frame(h, tx, (int)len, &done);
	if (rc != 0 || (gsize)done != len) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bulk OUT: %s",
		            libusb_error_name(rc));
		return FALSE;
	}
	for (;;) {
		/* each PROGRESS restarts the request's timer: one timeout per IN frame */
		rc = libusb_bulk_transfer(h, ep_in, rx, (int)rx_cap, &done, (unsigned)timeout_ms);
		if (rc != 0) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "bulk IN: %s",
			            libusb_error_name(rc));
			return FALSE;
		}
		r = ctp_message_decode(rx, (gsize)done, rsp);
		if (r != CTP_OK) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "answer of %d bytes does not decode: %s", done,
			            ctp_result_to_string(r));
			return FALSE;
		}
		if (rsp->request_id != req->request_id) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			            "answer for request %u, expected %u", rsp->request_id,
			            req->request_id);
			return FALSE;
		}
		if (rsp->type == CTP_MSG_PROGRESS) {
			progress_frames++;
			continue;
		}
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

static void
new_request(ctp_message *req, guint8 type)
{
	memset(req, 0, sizeof *req);
	req->type = type;
	req->request_id = next_request_id++;
}

static guint8 rx_buf[CTP_MAX_FRAME];

static gboolean
do_hello(libusb_device_handle *h, GError **error)
{
	guint8 challenge[CTP_CHALLENGE_SIZE];
	ctp_message req, rsp;

	for (guint i = 0; i < sizeof challenge; i++)
		challenge[i] = (guint8)g_random_int_range(0, 256);
	new_request(&req, CTP_MSG_HELLO);
	req.u.hello_req.version_min = CTP_VERSION_MIN;
	req.u.hello_req.version_max = CTP_VERSION_MAX;
	req.u.hello_req.challenge = ctp_bytes_from(challenge, sizeof challenge);
	req.u.hello_req.host_name = ctp_bytes_from_string("phonesim-probe");
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
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
	return TRUE;
}

static gboolean
do_status(libusb_device_handle *h, GError **error)
{
	ctp_message req, rsp;
	new_request(&req, CTP_MSG_STATUS);
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
		g_prefix_error(error, "STATUS: ");
		return FALSE;
	}
	const ctp_status_rsp *sr = &rsp.u.status_rsp;
	g_autofree gchar *pending =
	    ctp_bytes_present(sr->pending_csr_sha256)
	        ? hex(sr->pending_csr_sha256.data, sr->pending_csr_sha256.len)
	        : g_strdup("none");
	printf("status state=%s certificate=%s chain=%u anchors=%u pending=%s\n",
	       sr->state == CTP_DEVICE_STATE_PROVISIONED ? "provisioned" : "empty",
	       ctp_bytes_present(sr->certificate) ? "yes" : "no", sr->chain_count, sr->anchor_count,
	       pending);
	return TRUE;
}

/* ---- CREATE_CSR and the checks of PROTOCOL.md 8.2 / 8.3 ---- */

typedef struct {
	guint8 alg;
	const gchar *name;
	int base_id;
	int bits;
} ProbeKeyAlg;

static const ProbeKeyAlg probe_key_algs[] = {
    {CTP_KEY_RSA_2048, "rsa2048", EVP_PKEY_RSA, 2048},
    {CTP_KEY_RSA_3072, "rsa3072", EVP_PKEY_RSA, 3072},
    {CTP_KEY_EC_P256, "ec-p256", EVP_PKEY_EC, 256},
    {CTP_KEY_EC_P384, "ec-p384", EVP_PKEY_EC, 384},
};

static gboolean
fail(GError **error, const gchar *what)
{
	g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, what);
	return FALSE;
}

static gboolean
check_csr(const ProbeKeyAlg *alg,
          const guint8 *subject_der,
          gsize subject_len,
          const guint8 *san_der,
          gsize san_len,
          const guint8 *nonce,
          gsize nonce_len,
          const ctp_create_csr_rsp *rsp,
          GError **error)
{
	const unsigned char *p = rsp->csr.data;
	X509_REQ *req = d2i_X509_REQ(NULL, &p, rsp->csr.len);
	gboolean ok = FALSE;
	EVP_PKEY *key = NULL;
	STACK_OF(X509_EXTENSION) *exts = NULL;
	if (req == NULL || p != rsp->csr.data + rsp->csr.len)
		return fail(error, "csr is not DER PKCS#10");
	key = X509_REQ_get0_pubkey(req);
	if (X509_REQ_get_version(req) != X509_REQ_VERSION_1) {
		fail(error, "csr version is not 0");
	} else if (key == NULL || X509_REQ_verify(req, key) != 1) {
		fail(error, "csr self-signature does not verify");
	} else if (EVP_PKEY_get_base_id(key) != alg->base_id ||
	           EVP_PKEY_get_bits(key) != alg->bits) {
		fail(error, "csr key is not the algorithm asked for (weak or wrong key)");
	} else {
		/* subject byte for byte */
		unsigned char *der = NULL;
		int n = i2d_X509_NAME(X509_REQ_get_subject_name(req), &der);
		gboolean same = n == (int)subject_len && memcmp(der, subject_der, subject_len) == 0;
		OPENSSL_free(der);
		exts = X509_REQ_get_extensions(req);
		int n_ext = exts != NULL ? sk_X509_EXTENSION_num(exts) : 0;
		if (!same) {
			fail(error, "csr subject differs from the one asked for");
		} else if (n_ext != (san_der != NULL ? 1 : 0)) {
			fail(error,
			     "csr carries other extensions than the subjectAltName asked for");
		} else if (san_der != NULL) {
			X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, 0);
			ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
			if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) != NID_subject_alt_name ||
			    X509_EXTENSION_get_critical(ext) ||
			    (gsize)ASN1_STRING_length(value) != san_len ||
			    memcmp(ASN1_STRING_get0_data(value), san_der, san_len) != 0)
				fail(error, "csr subjectAltName differs from the one asked for");
			else
				ok = TRUE;
		} else {
			ok = TRUE;
		}
	}
	if (ok) {
		guint8 digest[CTP_SHA256_SIZE];
		guint8 input[CTP_DEVICE_POP_SIG_INPUT_MAX];
		gsize input_len = 0;
		guint dlen = sizeof digest;
		EVP_Digest(rsp->csr.data, rsp->csr.len, digest, &dlen, EVP_sha256(), NULL);
		ctp_device_pop_sig_input(nonce, nonce_len, digest, input, sizeof input, &input_len);
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();
		ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
		     EVP_DigestVerify(ctx, rsp->pop_sig.data, rsp->pop_sig.len, input, input_len) ==
		         1;
		EVP_MD_CTX_free(ctx);
		if (!ok)
			fail(error, "pop_sig does not verify");
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	X509_REQ_free(req);
	return ok;
}

static gboolean
do_csr(libusb_device_handle *h,
       const gchar *alg_name,
       const gchar *cn,
       const gchar *san_dns,
       const gchar *out_path,
       GError **error)
{
	const ProbeKeyAlg *alg = NULL;
	for (guint i = 0; i < G_N_ELEMENTS(probe_key_algs); i++) {
		if (g_strcmp0(alg_name, probe_key_algs[i].name) == 0)
			alg = &probe_key_algs[i];
	}
	if (alg == NULL || cn == NULL)
		return fail(error, "csr needs --alg rsa2048|rsa3072|ec-p256|ec-p384 and --cn NAME");

	/* the DER the host asks for */
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const guchar *)"CertTether Test", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const guchar *)cn, -1, -1, 0);
	unsigned char *subject = NULL;
	int subject_len = i2d_X509_NAME(name, &subject);
	X509_NAME_free(name);
	unsigned char *san = NULL;
	int san_len = 0;
	if (san_dns != NULL) {
		GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
		GENERAL_NAME *gen = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();
		ASN1_STRING_set(ia5, san_dns, -1);
		GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
		sk_GENERAL_NAME_push(gens, gen);
		san_len = i2d_GENERAL_NAMES(gens, &san);
		GENERAL_NAMES_free(gens);
	}
	guint8 nonce[32];
	for (guint i = 0; i < sizeof nonce; i++)
		nonce[i] = (guint8)g_random_int_range(0, 256);

	ctp_message req, rsp;
	new_request(&req, CTP_MSG_CREATE_CSR);
	req.u.create_csr_req.key_alg = alg->alg;
	req.u.create_csr_req.subject = ctp_bytes_from(subject, (size_t)subject_len);
	if (san != NULL)
		req.u.create_csr_req.san = ctp_bytes_from(san, (size_t)san_len);
	req.u.create_csr_req.nonce = ctp_bytes_from(nonce, sizeof nonce);
	progress_frames = 0;
	gboolean ok = transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error);
	if (!ok)
		g_prefix_error(error, "CREATE_CSR: ");
	else
		ok = check_csr(alg, subject, (gsize)subject_len, san, (gsize)san_len, nonce,
		               sizeof nonce, &rsp.u.create_csr_rsp, error);
	if (ok) {
		guint8 digest[32];
		guint dlen = sizeof digest;
		EVP_Digest(rsp.u.create_csr_rsp.csr.data, rsp.u.create_csr_rsp.csr.len, digest,
		           &dlen, EVP_sha256(), NULL);
		g_autofree gchar *fp = hex(digest, sizeof digest);
		printf("csr ok alg=%s progress=%u sha256=%s\n", alg->name, progress_frames, fp);
		if (out_path != NULL &&
		    !g_file_set_contents(out_path, (const gchar *)rsp.u.create_csr_rsp.csr.data,
		                         rsp.u.create_csr_rsp.csr.len, error))
			ok = FALSE;
	}
	OPENSSL_free(subject);
	OPENSSL_free(san);
	return ok;
}

/* ---- STAGE / COMMIT / ABORT ---- */

static gboolean
stage_item(libusb_device_handle *h,
           guint8 kind,
           guint8 index,
           guint8 setting,
           const guint8 *data,
           gsize len,
           GError **error)
{
	ctp_message req, rsp;
	new_request(&req, CTP_MSG_STAGE_ITEM);
	req.u.stage_item_req.kind = kind;
	req.u.stage_item_req.index = index;
	req.u.stage_item_req.setting = setting;
	req.u.stage_item_req.data = ctp_bytes_from(data, len);
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
		g_prefix_error(error, "STAGE_ITEM kind %u index %u: ", kind, index);
		return FALSE;
	}
	return TRUE;
}

static gboolean
stage_files(libusb_device_handle *h, guint8 kind, gchar **paths, GError **error)
{
	for (guint i = 0; paths != NULL && paths[i] != NULL; i++) {
		g_autofree gchar *data = NULL;
		gsize len = 0;
		if (!g_file_get_contents(paths[i], &data, &len, error) ||
		    !stage_item(h, kind, (guint8)i, 0, (const guint8 *)data, len, error))
			return FALSE;
	}
	return TRUE;
}

static guint8
setting_id(const gchar *key)
{
	if (g_strcmp0(key, "url") == 0)
		return CTP_SETTING_WEB_SERVICE_URL;
	if (g_strcmp0(key, "registrar") == 0)
		return CTP_SETTING_REGISTRAR;
	if (g_strcmp0(key, "sip") == 0)
		return CTP_SETTING_SIP_URI;
	return 0;
}

static gboolean
do_install(libusb_device_handle *h,
           const gchar *cert_path,
           gchar **chain,
           gchar **anchors,
           gchar **settings,
           guint32 txn,
           GError **error)
{
	g_autofree gchar *cert = NULL;
	gsize cert_len = 0;
	ctp_message req, rsp;
	if (cert_path == NULL)
		return fail(error, "install needs --cert FILE");
	if (!g_file_get_contents(cert_path, &cert, &cert_len, error))
		return FALSE;

	new_request(&req, CTP_MSG_STAGE_BEGIN);
	req.u.stage_begin_req.txn_id = txn;
	req.u.stage_begin_req.chain_count = (guint8)(chain ? g_strv_length(chain) : 0);
	req.u.stage_begin_req.anchor_count = (guint8)(anchors ? g_strv_length(anchors) : 0);
	req.u.stage_begin_req.setting_count = (guint8)(settings ? g_strv_length(settings) : 0);
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
		g_prefix_error(error, "STAGE_BEGIN: ");
		return FALSE;
	}
	if (!stage_item(h, CTP_ITEM_CERTIFICATE, 0, 0, (const guint8 *)cert, cert_len, error) ||
	    !stage_files(h, CTP_ITEM_CHAIN, chain, error) ||
	    !stage_files(h, CTP_ITEM_ANCHOR, anchors, error))
		return FALSE;
	for (guint i = 0; settings != NULL && settings[i] != NULL; i++) {
		g_auto(GStrv) kv = g_strsplit(settings[i], "=", 2);
		guint8 id = setting_id(kv[0]);
		if (id == 0 || kv[1] == NULL)
			return fail(error, "--setting url=V | registrar=V | sip=V");
		if (!stage_item(h, CTP_ITEM_SETTING, (guint8)i, id, (const guint8 *)kv[1],
		                strlen(kv[1]), error))
			return FALSE;
	}
	new_request(&req, CTP_MSG_COMMIT);
	req.u.commit_req.txn_id = txn;
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
		g_prefix_error(error, "COMMIT: ");
		return FALSE;
	}
	guint8 digest[32];
	guint dlen = sizeof digest;
	EVP_Digest(cert, cert_len, digest, &dlen, EVP_sha256(), NULL);
	if (rsp.u.commit_rsp.certificate_sha256.len != sizeof digest ||
	    memcmp(rsp.u.commit_rsp.certificate_sha256.data, digest, sizeof digest) != 0)
		return fail(error, "COMMIT_RSP certificate_sha256 is not the staged certificate's");
	g_autofree gchar *fp = hex(digest, sizeof digest);
	printf("install ok sha256=%s\n", fp);
	return TRUE;
}

static gboolean
do_abort(libusb_device_handle *h, GError **error)
{
	ctp_message req, rsp;
	new_request(&req, CTP_MSG_STAGE_BEGIN);
	req.u.stage_begin_req.txn_id = 7;
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
		g_prefix_error(error, "STAGE_BEGIN: ");
		return FALSE;
	}
	new_request(&req, CTP_MSG_ABORT);
	if (!transact(h, &req, rx_buf, sizeof rx_buf, &rsp, error)) {
		g_prefix_error(error, "ABORT: ");
		return FALSE;
	}
	printf("abort ok\n");
	return TRUE;
}

/* a transfer of junk (any size, up to megabytes) must come back as ERROR BAD_FRAME id 0 */
static gboolean
do_junk(libusb_device_handle *h, gint size, GError **error)
{
	if (size <= 0)
		return fail(error, "junk needs --size N");
	g_autofree guint8 *junk = g_malloc((gsize)size);
	for (gint i = 0; i < size; i++)
		junk[i] = (guint8)(i * 31 + 7);
	int done = 0;
	int rc = bulk_out_frame(h, junk, size, &done);
	if (rc != 0 || done != size) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "junk OUT: %s",
		            libusb_error_name(rc));
		return FALSE;
	}
	rc = libusb_bulk_transfer(h, ep_in, rx_buf, sizeof rx_buf, &done, timeout_ms);
	if (rc != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "junk IN: %s",
		            libusb_error_name(rc));
		return FALSE;
	}
	ctp_message rsp;
	if (ctp_message_decode(rx_buf, (gsize)done, &rsp) != CTP_OK || rsp.type != CTP_MSG_ERROR ||
	    rsp.request_id != 0 || rsp.u.error.code != CTP_ERR_BAD_FRAME)
		return fail(error, "junk was not answered with ERROR BAD_FRAME, request id 0");
	printf("junk ok size=%d answer=BAD_FRAME\n", size);
	return TRUE;
}

typedef struct {
	gint size;
	gchar *serial;
	gchar *alg;
	gchar *cn;
	gchar *san_dns;
	gchar *out;
	gchar *cert;
	gchar **chain;
	gchar **anchors;
	gchar **settings;
	gint txn;
	gint timeout_ms;
} ProbeOptions;

/*
 * PROTOCOL.md 2.3: a host that does not know the device's state (answers of an earlier
 * host may still be queued) sends PING with a fresh cookie and drops every frame
 * until that PING_RSP.
 */
static gboolean
do_resync(libusb_device_handle *h, GError **error)
{
	guint8 cookie[16];
	ctp_message req;
	gsize len = 0;
	int done = 0;
	static guint8 tx[CTP_MAX_FRAME];

	for (guint i = 0; i < sizeof cookie; i++)
		cookie[i] = (guint8)g_random_int_range(0, 256);
	new_request(&req, CTP_MSG_PING);
	req.u.ping.cookie = ctp_bytes_from(cookie, sizeof cookie);
	if (ctp_message_encode(&req, tx, sizeof tx, &len) != CTP_OK ||
	    bulk_out_frame(h, tx, (int)len, &done) != 0)
		return fail(error, "PING: cannot send");
	for (guint dropped = 0; dropped < 64; dropped++) {
		ctp_message rsp;
		int rc = libusb_bulk_transfer(h, ep_in, rx_buf, sizeof rx_buf, &done,
		                              CTP_TIMEOUT_DEFAULT_MS);
		if (rc != 0)
			return fail(error, "PING: no answer");
		if (ctp_message_decode(rx_buf, (gsize)done, &rsp) == CTP_OK &&
		    rsp.type == CTP_MSG_PING_RSP && rsp.request_id == req.request_id &&
		    rsp.u.ping.cookie.len == sizeof cookie &&
		    memcmp(rsp.u.ping.cookie.data, cookie, sizeof cookie) == 0)
			return TRUE;
	}
	return fail(error, "PING: too many stale frames");
}

static gboolean
run_command(libusb_device_handle *h, const gchar *cmd, const ProbeOptions *o, GError **error)
{
	if (!do_resync(h, error) || !do_hello(h, error))
		return FALSE;
	if (g_strcmp0(cmd, "hello") == 0)
		return do_status(h, error);
	if (g_strcmp0(cmd, "csr") == 0)
		return do_csr(h, o->alg, o->cn, o->san_dns, o->out, error);
	if (g_strcmp0(cmd, "install") == 0)
		return do_install(h, o->cert, o->chain, o->anchors, o->settings, (guint32)o->txn,
		                  error) &&
		       do_status(h, error);
	if (g_strcmp0(cmd, "abort") == 0)
		return do_abort(h, error);
	if (g_strcmp0(cmd, "junk") == 0)
		return do_junk(h, o->size, error);
	return fail(error, "unknown command");
}

int
main(int argc, char **argv)
{
	ProbeOptions o = {.txn = 1, .timeout_ms = (gint)CTP_TIMEOUT_DEFAULT_MS};
	const GOptionEntry entries[] = {
	    {"serial", 0, 0, G_OPTION_ARG_STRING, &o.serial, "Only the device with this serial",
	     "S"},
	    {"timeout-ms", 0, 0, G_OPTION_ARG_INT, &o.timeout_ms,
	     "Time to wait for each frame (PROGRESS restarts it)", "MS"},
	    {"alg", 0, 0, G_OPTION_ARG_STRING, &o.alg, "csr: key algorithm", "ALG"},
	    {"cn", 0, 0, G_OPTION_ARG_STRING, &o.cn, "csr: subject common name", "NAME"},
	    {"san-dns", 0, 0, G_OPTION_ARG_STRING, &o.san_dns, "csr: a DNS subjectAltName", "D"},
	    {"out", 0, 0, G_OPTION_ARG_FILENAME, &o.out, "csr: write the CSR DER here", "FILE"},
	    {"cert", 0, 0, G_OPTION_ARG_FILENAME, &o.cert, "install: leaf DER", "FILE"},
	    {"chain", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.chain, "install: intermediate DER",
	     "FILE"},
	    {"anchor", 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &o.anchors, "install: anchor DER",
	     "FILE"},
	    {"setting", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.settings,
	     "install: url=V, registrar=V or sip=V", "K=V"},
	    {"txn", 0, 0, G_OPTION_ARG_INT, &o.txn, "install: transaction id", "N"},
	    {"size", 0, 0, G_OPTION_ARG_INT, &o.size, "junk: bytes to send", "N"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};
	g_autoptr(GOptionContext) ctx = g_option_context_new("list|hello|csr|install|abort|junk");
	g_autoptr(GError) error = NULL;
	g_option_context_add_main_entries(ctx, entries, NULL);
	if (!g_option_context_parse(ctx, &argc, &argv, &error) || argc != 2) {
		fprintf(stderr, "usage: phonesim-probe [OPTIONS] list|hello|csr|install|abort|junk "
		                "(--help for the options)\n");
		return 2;
	}
	const gchar *cmd = argv[1];
	gboolean list_only = strcmp(cmd, "list") == 0;
	timeout_ms = (guint)MAX(o.timeout_ms, 1);

	libusb_context *usb = NULL;
	int rc = libusb_init(&usb);
	usb_ctx = usb;
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
		if (o.serial != NULL && g_strcmp0(serial, o.serial) != 0) {
			libusb_close(h);
			continue;
		}
		matched++;
		printf("device bus=%u devnum=%u port=%u id=%04x:%04x interface=%02x/%02x/%02x "
		       "iface_name=%s manufacturer=%s product=%s serial=%s\n",
		       libusb_get_bus_number(list[i]), libusb_get_device_address(list[i]),
		       libusb_get_port_number(list[i]), d.idVendor, d.idProduct, ci.cls,
		       ci.subclass, ci.protocol, iface_name, manufacturer, product, serial);
		if (!list_only) {
			rc = libusb_claim_interface(h, ci.iface);
			if (rc != 0) {
				fprintf(stderr, "phonesim-probe: claim: %s\n",
				        libusb_error_name(rc));
				failed++;
			} else {
				g_clear_error(&error);
				ep_out = ci.ep_out;
				ep_in = ci.ep_in;
				if (!run_command(h, cmd, &o, &error)) {
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
	g_free(o.serial);
	g_free(o.alg);
	g_free(o.cn);
	g_free(o.san_dns);
	g_free(o.out);
	g_free(o.cert);
	g_strfreev(o.chain);
	g_strfreev(o.anchors);
	g_strfreev(o.settings);
	if (!list_only && matched == 0) {
		fprintf(stderr, "phonesim-probe: no CTP device found\n");
		return 1;
	}
	return failed == 0 ? 0 : 1;
}
