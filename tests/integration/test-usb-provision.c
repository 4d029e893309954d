/*
 * Integration test of the CTP host transport (usbproto/host) over real libusb and
 * the emulated phone (tests/phonesim), driven from a GLib main loop through
 * the engine's ct-usb-source, with a test CA made here with OpenSSL.
 *
 * Run by tests/integration/usb-provision.sh as
 *   umockdev-wrapper phonesim --state-dir DIR -- test-usb-provision --tap
 * so that libusb sees phonesim's bus; phones are added, plugged, unplugged and
 * made to misbehave through phonesim's control socket, in process (phonesim.h).
 *
 * Why in process: under umockdev-wrapper every open/read/close goes through the
 * preload library, which takes a mutex; libusb's hotplug thread uses it too, so a
 * fork() at the wrong moment leaves the child with that mutex locked forever. The
 * one program this test runs (openssl) is started with posix_spawn for that reason.
 */
#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <unistd.h>

#include "daemon/engine/ct-usb-source.h"
#include "tests/phonesim/phonesim.h"
#include "usbproto/device/ctp-device-session.h"
#include "usbproto/host/ctp-host.h"

/* only against hangs: the transport's own timeouts are what the tests exercise */
#define HANG_GUARD_S 60u

#define WEB_SERVICE_URL "https://127.0.0.1:8443/CertProv/CertProvisioningService.svc"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_REQ, X509_REQ_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_NAME, X509_NAME_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY, EVP_PKEY_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_MD_CTX, EVP_MD_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GENERAL_NAMES, GENERAL_NAMES_free)

/* ---- test environment ----------------------------------------------------- */

typedef struct {
	ctp_host_hotplug_event event;
	libusb_device *usb_device; /* ref */
	gchar *port;
} HotplugEvent;

static struct {
	ctp_host_context *ctx;
	GSource *source;
	GQueue events; /* HotplugEvent*, from ctx */
	gchar *tmpdir;
	guint next_phone;
} T;

static void
hotplug_event_free(HotplugEvent *e)
{
	libusb_unref_device(e->usb_device);
	g_free(e->port);
	g_free(e);
}

static void
on_log(ctp_host_log_level level, const char *message, void *user_data)
{
	(void)user_data;
	/* not g_warning: the test framework makes warnings fatal, and a transport
	 * warning (a device without the interface, say) is no test failure */
	if (level == CTP_HOST_LOG_DEBUG)
		g_debug("ctp-host: %s", message);
	else
		g_test_message("ctp-host: %s", message);
}

static void
on_hotplug(ctp_host_context *ctx,
           ctp_host_hotplug_event event,
           const ctp_host_device_info *info,
           void *user_data)
{
	GQueue *queue = user_data;
	HotplugEvent *e = g_new0(HotplugEvent, 1);

	(void)ctx;
	e->event = event;
	e->usb_device = libusb_ref_device(info->usb_device);
	e->port = g_strdup(info->port_path);
	g_queue_push_tail(queue, e);
}

static gboolean
on_guard_expired(gpointer data)
{
	*(gboolean *)data = TRUE;
	return G_SOURCE_REMOVE;
}

/* run the main loop until *flag is set; fail the test if it hangs */
static void
wait_for_flag(const gboolean *flag, const gchar *what)
{
	gboolean expired = FALSE;
	guint guard = g_timeout_add_seconds(HANG_GUARD_S, on_guard_expired, &expired);

	while (!*flag && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(guard);
	if (!*flag)
		g_error("gave up waiting for %s after %u s", what, HANG_GUARD_S);
}

/* run the main loop for ms milliseconds */
static void
run_loop_for(guint ms)
{
	gboolean expired = FALSE;

	g_timeout_add(ms, on_guard_expired, &expired);
	while (!expired)
		g_main_context_iteration(NULL, TRUE);
}

/* ---- phonesim control: the phonesim-ctl commands, in process ------------- */

static gboolean
ctl_argv(const gchar *const *args, gchar **out, GError **error)
{
	/* NULL: $PHONESIM_CONTROL, set by phonesim for its child */
	return phonesim_client_check(NULL, args, out, error);
}

/* phonesim-ctl ARGS... NULL; the test fails if the command does */
static gchar *G_GNUC_NULL_TERMINATED
ctl(const gchar *first, ...)
{
	g_autoptr(GPtrArray) args = g_ptr_array_new();
	g_autoptr(GError) error = NULL;
	gchar *out = NULL;
	va_list ap;

	va_start(ap, first);
	for (const gchar *a = first; a != NULL; a = va_arg(ap, const gchar *))
		g_ptr_array_add(args, (gpointer)a);
	va_end(ap);
	g_ptr_array_add(args, NULL);
	if (!ctl_argv((const gchar *const *)args->pdata, &out, &error))
		g_error("%s", error->message);
	return out;
}

/* the phone's own view of itself (phonesim-ctl status ID --json) */
static JsonNode *
ctl_status(const gchar *id)
{
	g_autofree gchar *text = ctl("status", id, "--json", NULL);
	g_autoptr(GError) error = NULL;
	JsonNode *root = json_from_string(text, &error);

	g_assert_no_error(error);
	g_assert_true(JSON_NODE_HOLDS_OBJECT(root));
	return root;
}

/* ---- phones ---------------------------------------------------------------- */

typedef struct {
	gchar *id;
	gchar *serial;
	gchar *port; /* "1-N", as the transport reports it too */
	ctp_host_device *dev;
	guint32 max_frame;
} Phone;

/* a fresh id and serial; phonesim does not know it yet */
static Phone *
phone_new(void)
{
	Phone *p = g_new0(Phone, 1);

	p->id = g_strdup_printf("phone%u", ++T.next_phone);
	p->serial = g_strdup_printf("CT-TEST-%04u", T.next_phone);
	return p;
}

static Phone *
phone_add(const gchar *misbehave)
{
	Phone *p = phone_new();
	g_autofree gchar *out = NULL;

	if (misbehave != NULL)
		out = ctl("add", p->id, "--serial", p->serial, "--misbehave", misbehave, NULL);
	else
		out = ctl("add", p->id, "--serial", p->serial, NULL);
	return p;
}

/* the next hotplug event of this kind for this port (older ones for it are dropped) */
static HotplugEvent *
take_event(GQueue *queue, ctp_host_hotplug_event event, const gchar *port)
{
	for (GList *l = queue->head; l != NULL; l = l->next) {
		HotplugEvent *e = l->data;
		if (e->event != event || g_strcmp0(e->port, port) != 0)
			continue;
		for (GList *m = queue->head; m != l;) {
			GList *next = m->next;
			HotplugEvent *old = m->data;
			if (g_strcmp0(old->port, port) == 0) {
				hotplug_event_free(old);
				g_queue_delete_link(queue, m);
			}
			m = next;
		}
		g_queue_delete_link(queue, l);
		return e;
	}
	return NULL;
}

static HotplugEvent *
wait_event(ctp_host_hotplug_event event, const gchar *port)
{
	gboolean expired = FALSE;
	guint guard = g_timeout_add_seconds(HANG_GUARD_S, on_guard_expired, &expired);
	HotplugEvent *e = NULL;

	while ((e = take_event(&T.events, event, port)) == NULL && !expired)
		g_main_context_iteration(NULL, TRUE);
	if (!expired)
		g_source_remove(guard);
	if (e == NULL)
		g_error("no %s event for %s within %u s",
		        event == CTP_HOST_DEVICE_ARRIVED ? "ARRIVED" : "LEFT", port, HANG_GUARD_S);
	return e;
}

static void
phone_update_port(Phone *p)
{
	g_autoptr(JsonNode) root = ctl_status(p->id);
	JsonObject *o = json_node_get_object(root);

	g_free(p->port);
	p->port = g_strdup(json_object_get_string_member(o, "port"));
	g_assert_nonnull(p->port);
}

/* plug the phone in, wait for ARRIVED on its port, open it */
static void
phone_plug(Phone *p)
{
	g_autofree gchar *out = ctl("plug", p->id, NULL);
	HotplugEvent *e;

	phone_update_port(p);
	e = wait_event(CTP_HOST_DEVICE_ARRIVED, p->port);
	g_assert_cmpint(ctp_host_device_open(T.ctx, e->usb_device, &p->dev), ==, CTP_HOST_OK);
	hotplug_event_free(e);
	/* the USB serial string descriptor is the phone's serial */
	g_assert_cmpstr(ctp_host_device_get_serial(p->dev), ==, p->serial);
	g_assert_cmpstr(ctp_host_device_get_port_path(p->dev), ==, p->port);
	g_assert_false(ctp_host_device_is_gone(p->dev));
	p->max_frame = CTP_MIN_DEVICE_FRAME;
}

/* the phone went away (unplugged by us or by itself): LEFT, and close it */
static void
phone_wait_left(Phone *p)
{
	HotplugEvent *e = wait_event(CTP_HOST_DEVICE_LEFT, p->port);

	g_assert_true(e->usb_device == ctp_host_device_get_usb_device(p->dev));
	hotplug_event_free(e);
	g_assert_true(ctp_host_device_is_gone(p->dev));
	ctp_host_device_close(p->dev);
	p->dev = NULL;
}

static void
phone_unplug(Phone *p)
{
	g_autofree gchar *out = ctl("unplug", p->id, NULL);
	phone_wait_left(p);
}

static void
phone_free(Phone *p)
{
	if (p->dev != NULL)
		phone_unplug(p);
	g_free(p->id);
	g_free(p->serial);
	g_free(p->port);
	g_free(p);
}

static void
phone_misbehave(Phone *p, const gchar *spec)
{
	g_autofree gchar *out = ctl("misbehave", p->id, spec, NULL);
}

/* ---- calls ---------------------------------------------------------------- */

typedef struct {
	gboolean done;
	ctp_host_status status;
	guint16 device_error;
	ctp_result codec_result;
	gboolean resync_failed;
	gboolean resynchronised;
	guint stale_frames;
	guint dropped_frames;
	gchar *message;
	guint8 *raw; /* the response re-encoded, so that it outlives the callback */
	ctp_message msg;
	guint progress_count;
	guint last_percent;
	gint64 elapsed_us;
} Reply;

static void
reply_clear(Reply *r)
{
	g_free(r->message);
	g_free(r->raw);
	memset(r, 0, sizeof(*r));
}

static void
on_progress(ctp_host_device *dev, unsigned percent, const char *text, void *user_data)
{
	Reply *r = user_data;

	(void)dev;
	g_assert_cmpuint(percent, <=, 100);
	g_assert_nonnull(text);
	r->progress_count++;
	r->last_percent = percent;
}

static void
on_done(ctp_host_device *dev, const ctp_host_reply *reply, void *user_data)
{
	Reply *r = user_data;

	(void)dev;
	g_assert_false(r->done);
	r->status = reply->status;
	r->device_error = reply->device_error;
	r->codec_result = reply->codec_result;
	r->resync_failed = reply->resync_failed;
	r->resynchronised = reply->resynchronised;
	r->stale_frames = reply->stale_frames;
	r->dropped_frames = reply->dropped_frames;
	g_assert_nonnull(reply->message);
	r->message = g_strdup(reply->message);
	/* the response is valid only now: keep a copy */
	if (reply->response != NULL) {
		size_t len = 0;
		r->raw = g_malloc(CTP_MAX_FRAME);
		g_assert_cmpint(ctp_message_encode(reply->response, r->raw, CTP_MAX_FRAME, &len),
		                ==, CTP_OK);
		g_assert_cmpint(ctp_message_decode(r->raw, len, &r->msg), ==, CTP_OK);
	}
	r->done = TRUE;
}

static void
call_start(Phone *p, const ctp_message *req, unsigned timeout_ms, Reply *r)
{
	ctp_host_status st;

	reply_clear(r);
	r->elapsed_us = g_get_monotonic_time();
	st = ctp_host_device_call(p->dev, req, timeout_ms, on_progress, on_done, r);
	if (st != CTP_HOST_OK) {
		r->status = st;
		r->message = g_strdup(ctp_host_status_to_string(st));
		r->done = TRUE;
	}
}

static void
call_wait(Reply *r, uint8_t type)
{
	wait_for_flag(&r->done, ctp_message_type_to_string(type));
	r->elapsed_us = g_get_monotonic_time() - r->elapsed_us;
	g_debug("%s -> %s: %s", ctp_message_type_to_string(type),
	        ctp_host_status_to_name(r->status), r->message);
}

/* one call through the main loop; r holds the outcome */
static ctp_host_status
call(Phone *p, const ctp_message *req, unsigned timeout_ms, Reply *r)
{
	call_start(p, req, timeout_ms, r);
	call_wait(r, req->type);
	return r->status;
}

static void
assert_ok(const Reply *r, uint8_t type)
{
	if (r->status != CTP_HOST_OK)
		g_error("%s failed: %s: %s", ctp_message_type_to_string(type),
		        ctp_host_status_to_name(r->status), r->message);
	g_assert_cmpint(r->msg.type, ==, type | CTP_TYPE_RESPONSE);
}

/* ---- crypto helpers ---------------------------------------------------------- */

static GBytes *
random_bytes(gsize n)
{
	guint8 *buf = g_malloc(n);
	g_assert_cmpint(RAND_bytes(buf, (int)n), ==, 1);
	return g_bytes_new_take(buf, n);
}

static void
sha256(const void *data, gsize len, guint8 out[CTP_SHA256_SIZE])
{
	g_assert_nonnull(SHA256(data, len, out));
}

static GBytes *
cert_der(X509 *cert)
{
	unsigned char *der = NULL;
	int n = i2d_X509(cert, &der);
	g_assert_cmpint(n, >, 0);
	GBytes *b = g_bytes_new(der, (gsize)n);
	OPENSSL_free(der);
	return b;
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
verify_sha256_sig(EVP_PKEY *key, const guint8 *data, gsize len, ctp_bytes sig)
{
	g_autoptr(EVP_MD_CTX) md = EVP_MD_CTX_new();

	return EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, key) == 1 &&
	       EVP_DigestVerify(md, sig.data, sig.len, data, len) == 1;
}

static void
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX v3;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&v3, issuer, cert, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &v3, nid, value);
	g_assert_nonnull(ext);
	g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
	X509_EXTENSION_free(ext);
}

static X509 *
make_cert(const X509_NAME *subject, EVP_PKEY *pub, X509 *issuer, gboolean ca)
{
	X509 *cert = X509_new();
	g_autoptr(GBytes) serial = random_bytes(12);
	BIGNUM *bn = BN_bin2bn(g_bytes_get_data(serial, NULL), 12, NULL);

	g_assert_cmpint(X509_set_version(cert, 2), ==, 1);
	g_assert_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert)));
	BN_free(bn);
	g_assert_cmpint(X509_set_subject_name(cert, subject), ==, 1);
	g_assert_cmpint(
	    X509_set_issuer_name(cert, issuer != NULL ? X509_get_subject_name(issuer) : subject),
	    ==, 1);
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notBefore(cert), -3600));
	g_assert_nonnull(X509_gmtime_adj(X509_getm_notAfter(cert), 365L * 24 * 3600));
	g_assert_cmpint(X509_set_pubkey(cert, pub), ==, 1);
	if (issuer == NULL)
		issuer = cert;
	add_ext(cert, issuer, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE");
	add_ext(cert, issuer, NID_key_usage,
	        ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature");
	add_ext(cert, issuer, NID_subject_key_identifier, "hash");
	add_ext(cert, issuer, NID_authority_key_identifier, "keyid:always");
	if (!ca)
		add_ext(cert, issuer, NID_ext_key_usage, "clientAuth");
	return cert;
}

static void
sign_cert(X509 *cert, EVP_PKEY *key)
{
	g_assert_cmpint(X509_sign(cert, key, EVP_sha256()), >, 0);
}

static X509_NAME *
make_name(const gchar *cn)
{
	X509_NAME *name = X509_NAME_new();

	g_assert_cmpint(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
	                                           (const guchar *)"certtether tests", -1, -1, 0),
	                ==, 1);
	g_assert_cmpint(
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const guchar *)cn, -1, -1, 0),
	    ==, 1);
	return name;
}

/* a root and an intermediate CA, fresh keys each time */
typedef struct {
	EVP_PKEY *root_key;
	EVP_PKEY *int_key;
	X509 *root;
	X509 *inter;
} TestCa;

static TestCa *
test_ca_new(const gchar *label)
{
	TestCa *ca = g_new0(TestCa, 1);
	g_autofree gchar *root_cn = g_strdup_printf("certtether test root %s", label);
	g_autofree gchar *int_cn = g_strdup_printf("certtether test issuing CA %s", label);
	g_autoptr(X509_NAME) root_name = make_name(root_cn);
	g_autoptr(X509_NAME) int_name = make_name(int_cn);

	ca->root_key = EVP_EC_gen("P-256");
	ca->int_key = EVP_EC_gen("P-256");
	g_assert_nonnull(ca->root_key);
	g_assert_nonnull(ca->int_key);
	ca->root = make_cert(root_name, ca->root_key, NULL, TRUE);
	sign_cert(ca->root, ca->root_key);
	ca->inter = make_cert(int_name, ca->int_key, ca->root, TRUE);
	sign_cert(ca->inter, ca->root_key);
	return ca;
}

static void
test_ca_free(TestCa *ca)
{
	EVP_PKEY_free(ca->root_key);
	EVP_PKEY_free(ca->int_key);
	X509_free(ca->root);
	X509_free(ca->inter);
	g_free(ca);
}

/* the leaf for the CSR's key and subject, with the CSR's subjectAltName */
static X509 *
test_ca_issue(TestCa *ca, X509_REQ *req)
{
	EVP_PKEY *pub = X509_REQ_get0_pubkey(req);
	X509 *leaf = make_cert(X509_REQ_get_subject_name(req), pub, ca->inter, FALSE);
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);

	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++) {
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, i);
		if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name)
			g_assert_cmpint(X509_add_ext(leaf, ext, -1), ==, 1);
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	sign_cert(leaf, ca->int_key);
	return leaf;
}

/* ---- the provisioning steps ------------------------------------------------ */

/* what the host asks for: the desktop user's identity */
typedef struct {
	GBytes *subject;  /* DER Name */
	GBytes *san;      /* DER GeneralNames */
	gchar *registrar; /* a setting long enough that its frame is 1024 bytes (ZLP) */
} Identity;

static Identity *
identity_new(void)
{
	Identity *id = g_new0(Identity, 1);
	g_autoptr(X509_NAME) name = make_name("Alice Example");
	g_autoptr(GENERAL_NAMES) gens = sk_GENERAL_NAME_new_null();
	GENERAL_NAME *email = GENERAL_NAME_new();
	ASN1_IA5STRING *addr = ASN1_IA5STRING_new();
	unsigned char *der = NULL;
	int n;

	n = i2d_X509_NAME(name, &der);
	g_assert_cmpint(n, >, 0);
	id->subject = g_bytes_new(der, (gsize)n);
	OPENSSL_free(der);

	g_assert_cmpint(ASN1_STRING_set(addr, "alice@example.test", -1), ==, 1);
	GENERAL_NAME_set0_value(email, GEN_EMAIL, addr);
	sk_GENERAL_NAME_push(gens, email);
	der = NULL;
	n = i2d_GENERAL_NAMES(gens, &der);
	g_assert_cmpint(n, >, 0);
	id->san = g_bytes_new(der, (gsize)n);
	OPENSSL_free(der);

	/* STAGE_ITEM frame = 16 header + 3 x 4 (u8 fields) + 3 + data: 993 bytes make 1024,
	 * a multiple of the 512-byte packet, which the transport ends with a ZLP */
	GString *reg = g_string_new("sip:registrar.example.test;transport=tls;x=");
	while (reg->len < 993)
		g_string_append_c(reg, 'a' + (char)(reg->len % 26));
	id->registrar = g_string_free(reg, FALSE);
	return id;
}

static void
identity_free(Identity *id)
{
	g_bytes_unref(id->subject);
	g_bytes_unref(id->san);
	g_free(id->registrar);
	g_free(id);
}

/* HELLO with a fresh challenge; the identity signature must verify */
static ctp_host_status
step_hello(Phone *p, Reply *r)
{
	g_autoptr(GBytes) challenge = random_bytes(CTP_CHALLENGE_SIZE);
	ctp_message req = {.type = CTP_MSG_HELLO};
	const ctp_hello_rsp *h;
	guint8 input[CTP_DEVICE_HELLO_SIG_INPUT_MAX];
	size_t input_len = 0;
	const unsigned char *spki;
	g_autoptr(EVP_PKEY) key = NULL;

	req.u.hello_req.version_min = CTP_VERSION_MIN;
	req.u.hello_req.version_max = CTP_VERSION_MAX;
	req.u.hello_req.challenge =
	    ctp_bytes_from(g_bytes_get_data(challenge, NULL), CTP_CHALLENGE_SIZE);
	req.u.hello_req.host_name = ctp_bytes_from_string("certtether-test");
	if (call(p, &req, 0, r) != CTP_HOST_OK)
		return r->status;
	assert_ok(r, CTP_MSG_HELLO);
	h = &r->msg.u.hello_rsp;
	g_assert_cmpuint(h->version, ==, 1);
	g_assert_cmpmem(h->serial.data, h->serial.len, p->serial, strlen(p->serial));
	g_assert_true((h->key_algs & CTP_KEY_ALG_BIT(CTP_KEY_EC_P256)) != 0);
	g_assert_true((h->capabilities & CTP_CAP_SETTINGS) != 0);
	p->max_frame = h->max_frame;

	/* PROTOCOL.md 8.1: the identity key signs context || challenge || len || serial */
	spki = h->identity_key.data;
	key = d2i_PUBKEY(NULL, &spki, h->identity_key.len);
	g_assert_nonnull(key);
	g_assert_cmpint(EVP_PKEY_get_base_id(key), ==, EVP_PKEY_EC);
	g_assert_cmpint(EVP_PKEY_get_bits(key), ==, 256);
	g_assert_true(ctp_device_hello_sig_input(g_bytes_get_data(challenge, NULL),
	                                         CTP_CHALLENGE_SIZE, h->serial.data, h->serial.len,
	                                         input, sizeof(input), &input_len));
	g_assert_true(verify_sha256_sig(key, input, input_len, h->identity_sig));
	/* ... and a signature over another challenge does not verify with it */
	input[sizeof(CTP_HELLO_SIG_CONTEXT) - 1] ^= 0x01;
	g_assert_false(verify_sha256_sig(key, input, input_len, h->identity_sig));

	/* the phone's own record of its identity key agrees */
	{
		g_autoptr(JsonNode) root = ctl_status(p->id);
		guint8 digest[CTP_SHA256_SIZE];
		g_autofree gchar *want = NULL;

		sha256(h->identity_key.data, h->identity_key.len, digest);
		want = hex(digest, sizeof(digest));
		g_assert_cmpstr(json_object_get_string_member(json_node_get_object(root),
		                                              "identity_key_sha256"),
		                ==, want);
	}
	return CTP_HOST_OK;
}

static ctp_host_status
step_simple(Phone *p, uint8_t type, Reply *r)
{
	ctp_message req = {.type = type};

	if (call(p, &req, 0, r) == CTP_HOST_OK)
		assert_ok(r, type);
	return r->status;
}

/* openssl req -verify on the CSR, run as the command-line tool */
static void
assert_openssl_verifies_csr(const guint8 *der, gsize len)
{
	g_autofree gchar *path = g_build_filename(T.tmpdir, "request.der", NULL);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *out = NULL;
	g_autofree gchar *err = NULL;
	gint wait_status = 0;
	const gchar *argv[] = {"openssl", "req",     "-inform", "DER", "-in",
	                       path,      "-verify", "-noout",  NULL};

	g_assert_true(g_file_set_contents(path, (const gchar *)der, (gssize)len, &error));
	g_assert_no_error(error);
	/* LEAVE_DESCRIPTORS_OPEN lets GLib use posix_spawn (no fork: see the top) */
	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL,
	                           G_SPAWN_SEARCH_PATH | G_SPAWN_LEAVE_DESCRIPTORS_OPEN, NULL, NULL,
	                           &out, &err, &wait_status, &error));
	g_assert_no_error(error);
	if (!g_spawn_check_wait_status(wait_status, NULL))
		g_error("openssl req -verify failed: %s%s", out, err);
	/* OpenSSL 3 says "Certificate request self-signature verify OK" */
	g_assert_true(strstr(err, "verify OK") != NULL || strstr(out, "verify OK") != NULL);
}

/* CREATE_CSR; the CSR must verify, carry our subject and SAN byte for byte, and its
 * proof of possession must verify with its key. Returns the parsed request. */
static ctp_host_status
step_create_csr(Phone *p, const Identity *id, unsigned timeout_ms, Reply *r, X509_REQ **out)
{
	g_autoptr(GBytes) nonce = random_bytes(32);
	ctp_message req = {.type = CTP_MSG_CREATE_CSR};
	const ctp_create_csr_rsp *c;
	const unsigned char *p_der;
	g_autoptr(X509_REQ) csr = NULL;
	unsigned char *subject_der = NULL;
	int subject_len;
	guint8 digest[CTP_SHA256_SIZE];
	guint8 input[CTP_DEVICE_POP_SIG_INPUT_MAX];
	size_t input_len = 0;
	STACK_OF(X509_EXTENSION) * exts;

	req.u.create_csr_req.key_alg = CTP_KEY_EC_P256;
	req.u.create_csr_req.subject =
	    ctp_bytes_from(g_bytes_get_data(id->subject, NULL), g_bytes_get_size(id->subject));
	req.u.create_csr_req.san =
	    ctp_bytes_from(g_bytes_get_data(id->san, NULL), g_bytes_get_size(id->san));
	req.u.create_csr_req.nonce = ctp_bytes_from(g_bytes_get_data(nonce, NULL), 32);
	if (call(p, &req, timeout_ms, r) != CTP_HOST_OK)
		return r->status;
	assert_ok(r, CTP_MSG_CREATE_CSR);
	c = &r->msg.u.create_csr_rsp;

	assert_openssl_verifies_csr(c->csr.data, c->csr.len);
	p_der = c->csr.data;
	csr = d2i_X509_REQ(NULL, &p_der, c->csr.len);
	g_assert_nonnull(csr);
	g_assert_true(p_der == c->csr.data + c->csr.len);

	/* PROTOCOL.md 8.3: the subject is byte for byte what we asked for */
	subject_len = i2d_X509_NAME(X509_REQ_get_subject_name(csr), &subject_der);
	g_assert_cmpmem(subject_der, subject_len, g_bytes_get_data(id->subject, NULL),
	                g_bytes_get_size(id->subject));
	OPENSSL_free(subject_der);
	/* ... one extension, the subjectAltName we asked for */
	exts = X509_REQ_get_extensions(csr);
	g_assert_cmpint(sk_X509_EXTENSION_num(exts), ==, 1);
	{
		X509_EXTENSION *ext = sk_X509_EXTENSION_value(exts, 0);
		const ASN1_OCTET_STRING *value = X509_EXTENSION_get_data(ext);
		g_assert_cmpint(OBJ_obj2nid(X509_EXTENSION_get_object(ext)), ==,
		                NID_subject_alt_name);
		g_assert_cmpmem(ASN1_STRING_get0_data(value), ASN1_STRING_length(value),
		                g_bytes_get_data(id->san, NULL), g_bytes_get_size(id->san));
	}
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);

	/* 8.2: pop_sig by the new key over context || nonce || SHA-256(csr) */
	sha256(c->csr.data, c->csr.len, digest);
	g_assert_true(ctp_device_pop_sig_input(g_bytes_get_data(nonce, NULL), 32, digest, input,
	                                       sizeof(input), &input_len));
	g_assert_true(verify_sha256_sig(X509_REQ_get0_pubkey(csr), input, input_len, c->pop_sig));
	input[input_len - 1] ^= 0x01;
	g_assert_false(verify_sha256_sig(X509_REQ_get0_pubkey(csr), input, input_len, c->pop_sig));

	*out = g_steal_pointer(&csr);
	return CTP_HOST_OK;
}

static ctp_host_status
step_stage_item(Phone *p, uint8_t kind, uint8_t index, uint8_t setting, ctp_bytes data, Reply *r)
{
	ctp_message req = {.type = CTP_MSG_STAGE_ITEM};

	req.u.stage_item_req.kind = kind;
	req.u.stage_item_req.index = index;
	req.u.stage_item_req.setting = setting;
	req.u.stage_item_req.data = data;
	if (call(p, &req, 0, r) == CTP_HOST_OK)
		assert_ok(r, CTP_MSG_STAGE_ITEM);
	return r->status;
}

static ctp_bytes
gbytes_view(GBytes *b)
{
	return ctp_bytes_from(g_bytes_get_data(b, NULL), g_bytes_get_size(b));
}

/* what a complete run installed */
typedef struct {
	guint8 cert_sha256[CTP_SHA256_SIZE];
	guint8 root_sha256[CTP_SHA256_SIZE];
} Installed;

/*
 * The whole path: HELLO, STATUS, CREATE_CSR, CA signs, STAGE_BEGIN, STAGE_ITEM x5
 * (certificate, intermediate, anchor, two settings), COMMIT. Returns NULL when all
 * succeeded, else the name of the failing step (as phonesim's unplug-at names it)
 * with its outcome in *r.
 */
static const gchar *
provision(Phone *p, TestCa *ca, const Identity *id, Reply *r, Installed *done)
{
	g_autoptr(X509_REQ) csr = NULL;
	g_autoptr(X509) leaf = NULL;
	g_autoptr(GBytes) leaf_der = NULL;
	g_autoptr(GBytes) inter_der = cert_der(ca->inter);
	g_autoptr(GBytes) root_der = cert_der(ca->root);
	g_autoptr(GBytes) txn = random_bytes(4);
	guint32 txn_id;
	ctp_message req;

	memcpy(&txn_id, g_bytes_get_data(txn, NULL), sizeof(txn_id));
	if (step_hello(p, r) != CTP_HOST_OK)
		return "hello";
	if (step_simple(p, CTP_MSG_STATUS, r) != CTP_HOST_OK)
		return "status";
	if (step_create_csr(p, id, 0, r, &csr) != CTP_HOST_OK)
		return "create-csr";
	leaf = test_ca_issue(ca, csr);
	leaf_der = cert_der(leaf);

	memset(&req, 0, sizeof(req));
	req.type = CTP_MSG_STAGE_BEGIN;
	req.u.stage_begin_req.txn_id = txn_id;
	req.u.stage_begin_req.chain_count = 1;
	req.u.stage_begin_req.anchor_count = 1;
	req.u.stage_begin_req.setting_count = 2;
	if (call(p, &req, 0, r) != CTP_HOST_OK)
		return "stage-begin";
	assert_ok(r, CTP_MSG_STAGE_BEGIN);
	if (step_stage_item(p, CTP_ITEM_CERTIFICATE, 0, 0, gbytes_view(leaf_der), r) !=
	        CTP_HOST_OK ||
	    step_stage_item(p, CTP_ITEM_CHAIN, 0, 0, gbytes_view(inter_der), r) != CTP_HOST_OK ||
	    step_stage_item(p, CTP_ITEM_ANCHOR, 0, 0, gbytes_view(root_der), r) != CTP_HOST_OK ||
	    step_stage_item(p, CTP_ITEM_SETTING, 0, CTP_SETTING_WEB_SERVICE_URL,
	                    ctp_bytes_from_string(WEB_SERVICE_URL), r) != CTP_HOST_OK ||
	    step_stage_item(p, CTP_ITEM_SETTING, 1, CTP_SETTING_REGISTRAR,
	                    ctp_bytes_from_string(id->registrar), r) != CTP_HOST_OK)
		return "stage-item";

	memset(&req, 0, sizeof(req));
	req.type = CTP_MSG_COMMIT;
	req.u.commit_req.txn_id = txn_id;
	if (call(p, &req, 0, r) != CTP_HOST_OK)
		return "commit";
	assert_ok(r, CTP_MSG_COMMIT);
	sha256(g_bytes_get_data(leaf_der, NULL), g_bytes_get_size(leaf_der), done->cert_sha256);
	sha256(g_bytes_get_data(root_der, NULL), g_bytes_get_size(root_der), done->root_sha256);
	g_assert_cmpmem(r->msg.u.commit_rsp.certificate_sha256.data,
	                r->msg.u.commit_rsp.certificate_sha256.len, done->cert_sha256,
	                CTP_SHA256_SIZE);
	return NULL;
}

/* STATUS over USB and phonesim's own view both show exactly this installation */
static void
assert_installed(Phone *p, const Installed *want, const Identity *id)
{
	Reply r = {0};
	const ctp_status_rsp *s;
	guint8 digest[CTP_SHA256_SIZE];
	g_autofree gchar *want_hex = hex(want->cert_sha256, CTP_SHA256_SIZE);

	g_assert_cmpint(step_simple(p, CTP_MSG_STATUS, &r), ==, CTP_HOST_OK);
	s = &r.msg.u.status_rsp;
	g_assert_cmpint(s->state, ==, CTP_DEVICE_STATE_PROVISIONED);
	g_assert_true(ctp_bytes_present(s->certificate));
	sha256(s->certificate.data, s->certificate.len, digest);
	g_assert_cmpmem(digest, sizeof(digest), want->cert_sha256, CTP_SHA256_SIZE);
	g_assert_cmpuint(s->chain_count, ==, 1);
	g_assert_cmpuint(s->anchor_count, ==, 1);
	g_assert_cmpuint(s->n_anchor_sha256, ==, 1);
	g_assert_cmpmem(s->anchor_sha256[0].data, s->anchor_sha256[0].len, want->root_sha256,
	                CTP_SHA256_SIZE);
	g_assert_cmpmem(s->web_service_url.data, s->web_service_url.len, WEB_SERVICE_URL,
	                strlen(WEB_SERVICE_URL));
	g_assert_cmpmem(s->registrar.data, s->registrar.len, id->registrar, strlen(id->registrar));
	reply_clear(&r);

	{
		g_autoptr(JsonNode) root = ctl_status(p->id);
		JsonObject *o = json_node_get_object(root);
		JsonObject *cert = json_object_get_object_member(o, "certificate");
		JsonObject *settings = json_object_get_object_member(o, "settings");

		g_assert_cmpstr(json_object_get_string_member(o, "state"), ==, "provisioned");
		g_assert_nonnull(cert);
		g_assert_cmpint(
		    g_ascii_strcasecmp(json_object_get_string_member(cert, "sha256"), want_hex), ==,
		    0);
		g_assert_cmpint(json_object_get_int_member(o, "chain_count"), ==, 1);
		g_assert_cmpint(json_object_get_int_member(o, "anchor_count"), ==, 1);
		g_assert_cmpstr(json_object_get_string_member(settings, "web_service_url"), ==,
		                WEB_SERVICE_URL);
	}
}

/* ---- tests ------------------------------------------------------------------ */

/* a phone plugged in before the context starts is reported with ENUMERATE only */
static void
test_enumerate_at_start(void)
{
	Phone *p = phone_add(NULL);
	g_autofree gchar *out = ctl("plug", p->id, NULL);
	ctp_host_context *ctx = NULL;
	ctp_host_context *plain = NULL;
	GQueue events = G_QUEUE_INIT;
	GQueue plain_events = G_QUEUE_INIT;
	HotplugEvent *e = NULL;
	gint64 give_up;

	phone_update_port(p);
	g_assert_cmpint(ctp_host_context_new(on_log, NULL, &ctx), ==, CTP_HOST_OK);
	g_assert_cmpint(
	    ctp_host_context_start_hotplug(ctx, CTP_HOST_HOTPLUG_ENUMERATE, on_hotplug, &events),
	    ==, CTP_HOST_OK);
	g_assert_cmpint(ctp_host_context_new(on_log, NULL, &plain), ==, CTP_HOST_OK);
	g_assert_cmpint(ctp_host_context_start_hotplug(plain, 0, on_hotplug, &plain_events), ==,
	                CTP_HOST_OK);
	/* the enumerated devices are queued: the very next dispatch reports them */
	g_assert_cmpint(ctp_host_context_get_timeout_ms(ctx), ==, 0);
	give_up = g_get_monotonic_time() + HANG_GUARD_S * G_USEC_PER_SEC;
	while ((e = take_event(&events, CTP_HOST_DEVICE_ARRIVED, p->port)) == NULL &&
	       g_get_monotonic_time() < give_up)
		ctp_host_context_iterate(ctx, 1000);
	g_assert_nonnull(e);
	hotplug_event_free(e);
	/* the root hub is no certtether device: only the phone was reported */
	g_assert_true(g_queue_is_empty(&events));

	/* without ENUMERATE a context only hears of arrivals after it started */
	ctp_host_context_iterate(plain, 0);
	g_assert_null(take_event(&plain_events, CTP_HOST_DEVICE_ARRIVED, p->port));

	ctp_host_context_free(ctx);
	ctp_host_context_free(plain);
	g_queue_clear_full(&events, (GDestroyNotify)hotplug_event_free);
	g_queue_clear_full(&plain_events, (GDestroyNotify)hotplug_event_free);
	g_free(ctl("unplug", p->id, NULL));
	/* the main context saw it come and go too */
	e = wait_event(CTP_HOST_DEVICE_LEFT, p->port);
	hotplug_event_free(e);
	phone_free(p);
}

/* hotplug ARRIVED -> HELLO ... COMMIT -> STATUS shows the certificate -> LEFT */
static void
test_provision(void)
{
	Phone *p = phone_add(NULL);
	TestCa *ca = test_ca_new("A");
	Identity *id = identity_new();
	Installed installed;
	Reply r = {0};
	const gchar *failed;

	phone_plug(p);
	failed = provision(p, ca, id, &r, &installed);
	if (failed != NULL)
		g_error("provisioning failed at %s: %s", failed, r.message);
	assert_installed(p, &installed, id);
	phone_unplug(p);

	/* and it survives a re-plug */
	phone_plug(p);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	assert_installed(p, &installed, id);

	reply_clear(&r);
	identity_free(id);
	test_ca_free(ca);
	phone_free(p);
}

/* an unplug at any step leaves the previous credentials in force */
static void
test_unplug_at_each_step(void)
{
	static const gchar *const steps[] = {"hello",       "status",     "create-csr",
	                                     "stage-begin", "stage-item", "commit"};
	Phone *p = phone_add(NULL);
	TestCa *first_ca = test_ca_new("first");
	TestCa *second_ca = test_ca_new("second");
	Identity *id = identity_new();
	Installed first;
	Installed second;
	Reply r = {0};
	const gchar *failed;

	phone_plug(p);
	failed = provision(p, first_ca, id, &r, &first);
	g_assert_null(failed);

	for (guint i = 0; i < G_N_ELEMENTS(steps); i++) {
		g_autofree gchar *spec = g_strdup_printf("unplug-at=%s", steps[i]);

		g_test_message("unplug at %s", steps[i]);
		phone_misbehave(p, spec);
		failed = provision(p, second_ca, id, &r, &second);
		g_assert_cmpstr(failed, ==, steps[i]);
		g_assert_cmpint(r.status, ==, CTP_HOST_NO_DEVICE);
		phone_wait_left(p);

		/* back in: still the first certificate, on the phone's own books too */
		phone_plug(p);
		g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
		assert_installed(p, &first, id);
	}

	/* and a complete run installs the new one */
	failed = provision(p, second_ca, id, &r, &second);
	g_assert_null(failed);
	g_assert_true(memcmp(first.cert_sha256, second.cert_sha256, CTP_SHA256_SIZE) != 0);
	assert_installed(p, &second, id);

	reply_clear(&r);
	identity_free(id);
	test_ca_free(first_ca);
	test_ca_free(second_ca);
	phone_free(p);
}

/* a device that goes silent times out; the next call resynchronises and works */
static void
test_timeout_and_resync(void)
{
	Phone *p = phone_add("silent-keygen=3");
	Identity *id = identity_new();
	g_autoptr(X509_REQ) csr = NULL;
	Reply r = {0};
	g_autofree gchar *out = NULL;

	phone_plug(p);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	g_assert_true(r.resynchronised); /* the first call after open */
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	g_assert_false(r.resynchronised);

	g_assert_cmpint(step_create_csr(p, id, 1000, &r, &csr), ==, CTP_HOST_TIMEOUT);
	g_assert_nonnull(strstr(r.message, "did not answer CREATE_CSR within 1 s"));
	g_assert_false(r.resync_failed);

	/* PING is answered even while the phone is still generating the key */
	g_assert_cmpint(step_simple(p, CTP_MSG_PING, &r), ==, CTP_HOST_OK);
	g_assert_true(r.resynchronised);

	/* once the late CREATE_CSR_RSP is out, it is dropped as stale and STATUS works */
	out = ctl("wait", p->id, "csr", "--timeout", "60", NULL);
	g_assert_cmpint(step_simple(p, CTP_MSG_STATUS, &r), ==, CTP_HOST_OK);
	g_assert_false(r.resynchronised);
	g_assert_cmpuint(r.stale_frames, ==, 1);
	/* the key the host gave up on is pending on the phone */
	g_assert_true(ctp_bytes_present(r.msg.u.status_rsp.pending_csr_sha256));

	reply_clear(&r);
	identity_free(id);
	phone_free(p);
}

/* PROGRESS keeps a long request alive past its timeout */
static void
test_progress(void)
{
	Phone *p = phone_add("slow-keygen=5");
	Identity *id = identity_new();
	g_autoptr(X509_REQ) csr = NULL;
	Reply r = {0};

	phone_plug(p);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	/* 2.5 s per PROGRESS interval (the phone sends one a second) for a 5 s keygen */
	g_assert_cmpint(step_create_csr(p, id, 2500, &r, &csr), ==, CTP_HOST_OK);
	g_assert_nonnull(csr);
	g_assert_cmpuint(r.progress_count, >=, 2);
	reply_clear(&r);
	identity_free(id);
	phone_free(p);
}

/* broken answers fail the call with PROTOCOL; the session recovers afterwards */
static void
test_malformed_and_oversized(void)
{
	static const struct {
		const gchar *spec;
		ctp_result expect; /* CTP_OK: any codec verdict */
	} cases[] = {
	    {"malformed=status:crc", CTP_E_CRC}, {"malformed=status:truncated", CTP_OK},
	    {"malformed=status:random", CTP_OK}, {"oversized=status:long", CTP_E_TOO_LARGE},
	    {"oversized=status:lie", CTP_OK},
	};
	Phone *p = phone_add(NULL);
	Reply r = {0};

	phone_plug(p);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		ctp_message status = {.type = CTP_MSG_STATUS};

		g_test_message("%s", cases[i].spec);
		phone_misbehave(p, "clear");
		phone_misbehave(p, cases[i].spec);
		g_assert_cmpint(call(p, &status, 1000, &r), ==, CTP_HOST_PROTOCOL);
		g_assert_cmpint(r.codec_result, !=, CTP_OK);
		if (cases[i].expect != CTP_OK)
			g_assert_cmpint(r.codec_result, ==, cases[i].expect);
		g_assert_cmpuint(r.dropped_frames, >=, 1);
		g_assert_null(r.raw);

		/* the phone behaves again: the next call resyncs and works */
		phone_misbehave(p, "clear");
		g_assert_cmpint(step_simple(p, CTP_MSG_STATUS, &r), ==, CTP_HOST_OK);
		g_assert_true(r.resynchronised);
	}
	reply_clear(&r);
	phone_free(p);
}

/* a misbehaving phone fails its own calls, not those of another phone */
static void
test_fails_alone(void)
{
	Phone *bad = phone_add(NULL);
	Phone *good = phone_add(NULL);
	ctp_message status = {.type = CTP_MSG_STATUS};
	Reply rb = {0};
	Reply rg = {0};

	phone_plug(bad);
	phone_plug(good);
	g_assert_cmpint(step_hello(bad, &rb), ==, CTP_HOST_OK);
	g_assert_cmpint(step_hello(good, &rg), ==, CTP_HOST_OK);
	phone_misbehave(bad, "malformed=status:random");
	/* both in flight at once on one context */
	call_start(bad, &status, 1500, &rb);
	call_start(good, &status, 0, &rg);
	call_wait(&rg, CTP_MSG_STATUS);
	call_wait(&rb, CTP_MSG_STATUS);
	g_assert_cmpint(rg.status, ==, CTP_HOST_OK);
	g_assert_cmpint(rb.status, ==, CTP_HOST_PROTOCOL);
	g_assert_cmpint(step_simple(good, CTP_MSG_PING, &rg), ==, CTP_HOST_OK);
	reply_clear(&rb);
	reply_clear(&rg);
	phone_free(bad);
	phone_free(good);
}

/* the phone refuses the install: DEVICE_ERROR with its code, nothing installed */
static void
test_device_error(void)
{
	Phone *p = phone_add("refuse-install");
	TestCa *ca = test_ca_new("refused");
	Identity *id = identity_new();
	Installed installed;
	Reply r = {0};
	const gchar *failed;

	phone_plug(p);
	failed = provision(p, ca, id, &r, &installed);
	g_assert_cmpstr(failed, ==, "commit");
	g_assert_cmpint(r.status, ==, CTP_HOST_DEVICE_ERROR);
	g_assert_cmpuint(r.device_error, ==, CTP_ERR_REFUSED);
	g_assert_cmpint(r.msg.type, ==, CTP_MSG_ERROR);
	g_assert_nonnull(strstr(r.message, "refused COMMIT: error 12"));
	/* a DEVICE_ERROR needs no resync: the session is in step */
	g_assert_cmpint(step_simple(p, CTP_MSG_STATUS, &r), ==, CTP_HOST_OK);
	g_assert_false(r.resynchronised);
	g_assert_cmpint(r.msg.u.status_rsp.state, ==, CTP_DEVICE_STATE_EMPTY);
	reply_clear(&r);
	identity_free(id);
	test_ca_free(ca);
	phone_free(p);
}

static void
on_done_forbidden(ctp_host_device *dev, const ctp_host_reply *reply, void *user_data)
{
	(void)dev;
	(void)user_data;
	g_error("completion after close: %s", reply->message);
}

/* one call at a time, cancel, close with a transfer pending, re-open */
static void
test_busy_cancel_close(void)
{
	Phone *p = phone_add("slow-keygen=3");
	Identity *id = identity_new();
	ctp_message csr = {.type = CTP_MSG_CREATE_CSR};
	ctp_message ping = {.type = CTP_MSG_PING};
	ctp_message status_msg = {.type = CTP_MSG_STATUS};
	g_autoptr(GBytes) nonce = random_bytes(16);
	Reply r = {0};
	Reply other = {0};
	g_autofree gchar *out = NULL;
	HotplugEvent *e;

	phone_plug(p);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	csr.u.create_csr_req.key_alg = CTP_KEY_EC_P256;
	csr.u.create_csr_req.subject = gbytes_view(id->subject);
	csr.u.create_csr_req.nonce = gbytes_view(nonce);

	call_start(p, &csr, 0, &r);
	g_assert_false(r.done);
	g_assert_true(ctp_host_device_is_busy(p->dev));
	g_assert_cmpint(ctp_host_device_call(p->dev, &ping, 0, NULL, on_done, &other), ==,
	                CTP_HOST_BUSY);
	run_loop_for(300);
	ctp_host_device_cancel(p->dev);
	call_wait(&r, CTP_MSG_CREATE_CSR);
	g_assert_cmpint(r.status, ==, CTP_HOST_CANCELLED);
	g_assert_false(ctp_host_device_is_busy(p->dev));
	g_free(ctl("wait", p->id, "csr", "--timeout", "60", NULL));

	/* a second keygen; close while its answer is awaited: no callback, no leak */
	g_assert_cmpint(ctp_host_device_call(p->dev, &csr, 0, NULL, on_done_forbidden, NULL), ==,
	                CTP_HOST_OK);
	run_loop_for(200);
	ctp_host_device_close(p->dev);
	p->dev = NULL;
	out = ctl("wait", p->id, "csr", "--count", "2", "--timeout", "60", NULL);
	run_loop_for(200);

	/* re-open the same device: the first call resyncs past the orphaned answer */
	{
		libusb_device **list = NULL;
		ssize_t n = libusb_get_device_list(ctp_host_context_get_libusb(T.ctx), &list);
		for (ssize_t i = 0; i < n && p->dev == NULL; i++) {
			ctp_host_device *dev = NULL;
			if (ctp_host_device_open(T.ctx, list[i], &dev) != CTP_HOST_OK)
				continue;
			if (g_strcmp0(ctp_host_device_get_port_path(dev), p->port) == 0)
				p->dev = dev;
			else
				ctp_host_device_close(dev);
		}
		libusb_free_device_list(list, 1);
	}
	g_assert_nonnull(p->dev);
	g_assert_cmpint(step_simple(p, CTP_MSG_PING, &r), ==, CTP_HOST_OK);
	g_assert_true(r.resynchronised);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	/* the synchronous wrapper, for tools: its reply stays valid until the next call */
	{
		ctp_host_reply sync_reply;

		g_assert_cmpint(
		    ctp_host_device_call_sync(p->dev, &ping, 0, NULL, NULL, &sync_reply), ==,
		    CTP_HOST_OK);
		g_assert_nonnull(sync_reply.response);
		g_assert_cmpint(sync_reply.response->type, ==, CTP_MSG_PING_RSP);
		g_assert_cmpint(sync_reply.request_type, ==, CTP_MSG_PING);
		g_assert_cmpstr(sync_reply.message, ==, "PING answered");
		g_assert_cmpint(
		    ctp_host_device_call_sync(p->dev, &status_msg, 0, NULL, NULL, &sync_reply), ==,
		    CTP_HOST_OK);
		g_assert_cmpint(sync_reply.response->type, ==, CTP_MSG_STATUS_RSP);
		/* busy is refused without running anything */
		call_start(p, &ping, 0, &other);
		g_assert_cmpint(
		    ctp_host_device_call_sync(p->dev, &ping, 0, NULL, NULL, &sync_reply), ==,
		    CTP_HOST_BUSY);
		g_assert_cmpint(sync_reply.status, ==, CTP_HOST_BUSY);
		call_wait(&other, CTP_MSG_PING);
		g_assert_cmpint(other.status, ==, CTP_HOST_OK);
	}
	/* ARRIVED was reported once only */
	e = take_event(&T.events, CTP_HOST_DEVICE_ARRIVED, p->port);
	g_assert_null(e);

	reply_clear(&r);
	reply_clear(&other);
	identity_free(id);
	phone_free(p);
}

/* figures for the report (no assertion on them): round trips and idle CPU */
static guint64
cpu_ticks_self(void)
{
	g_autofree gchar *stat = NULL;
	g_auto(GStrv) fields = NULL;
	const gchar *after;

	g_assert_true(g_file_get_contents("/proc/self/stat", &stat, NULL, NULL));
	after = strrchr(stat, ')'); /* the command name may contain spaces */
	g_assert_nonnull(after);
	fields = g_strsplit(after + 2, " ", 0);
	/* fields from 3 (state) on: utime is field 14, stime 15 */
	return g_ascii_strtoull(fields[14 - 3], NULL, 10) +
	       g_ascii_strtoull(fields[15 - 3], NULL, 10);
}

static int
compare_int64(gconstpointer a, gconstpointer b)
{
	gint64 x = *(const gint64 *)a;
	gint64 y = *(const gint64 *)b;
	return x < y ? -1 : x > y;
}

static gint64
median(GArray *samples)
{
	g_array_sort(samples, compare_int64);
	return g_array_index(samples, gint64, samples->len / 2);
}

/* the largest certificate a STAGE_ITEM can carry: CTP_MAX_CERT bytes of DER */
static GBytes *
make_max_size_cert(TestCa *ca)
{
	g_autoptr(X509_NAME) name = make_name("large certificate");
	gsize pad = CTP_MAX_CERT - 1200;

	for (int attempt = 0; attempt < 32; attempt++) {
		g_autoptr(X509) cert = make_cert(name, ca->int_key, ca->inter, FALSE);
		ASN1_OCTET_STRING *value = ASN1_OCTET_STRING_new();
		ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.4.1.55555.1", 1);
		guint8 *filler = g_malloc0(pad);
		X509_EXTENSION *ext;
		GBytes *der;

		g_assert_cmpint(ASN1_OCTET_STRING_set(value, filler, (int)pad), ==, 1);
		ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, value);
		g_assert_cmpint(X509_add_ext(cert, ext, -1), ==, 1);
		X509_EXTENSION_free(ext);
		ASN1_OBJECT_free(oid);
		ASN1_OCTET_STRING_free(value);
		g_free(filler);
		sign_cert(cert, ca->int_key);
		der = cert_der(cert);
		if (g_bytes_get_size(der) == CTP_MAX_CERT)
			return der;
		/* an ECDSA signature's length varies by a byte or two: adjust and retry */
		pad = pad + CTP_MAX_CERT - g_bytes_get_size(der);
		if (g_bytes_get_size(der) < CTP_MAX_CERT && attempt == 31)
			return der;
		g_bytes_unref(der);
	}
	g_assert_not_reached();
	return NULL;
}

static void
test_figures(void)
{
	Phone *p = phone_add(NULL);
	TestCa *ca = test_ca_new("figures");
	g_autoptr(GBytes) big = make_max_size_cert(ca);
	g_autoptr(GArray) ping_rtt = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GArray) hello = g_array_new(FALSE, FALSE, sizeof(gint64));
	g_autoptr(GArray) item = g_array_new(FALSE, FALSE, sizeof(gint64));
	ctp_message begin = {.type = CTP_MSG_STAGE_BEGIN};
	ctp_message abort_msg = {.type = CTP_MSG_ABORT};
	Reply r = {0};
	guint64 ticks0;
	guint64 ticks1;
	glong hz = sysconf(_SC_CLK_TCK);
	const gchar *idle_env;
	guint idle_ms;

	phone_plug(p);
	g_assert_cmpint(step_hello(p, &r), ==, CTP_HOST_OK);
	g_assert_cmpuint(p->max_frame, ==, CTP_MAX_FRAME);
	for (guint i = 0; i < 50; i++) {
		ctp_message ping = {.type = CTP_MSG_PING};
		g_assert_cmpint(call(p, &ping, 0, &r), ==, CTP_HOST_OK);
		g_array_append_val(ping_rtt, r.elapsed_us);
	}
	for (guint i = 0; i < 50; i++) {
		guint8 challenge[CTP_CHALLENGE_SIZE] = {0};
		ctp_message req = {.type = CTP_MSG_HELLO};

		challenge[0] = (guint8)i;
		req.u.hello_req.version_min = CTP_VERSION_MIN;
		req.u.hello_req.version_max = CTP_VERSION_MAX;
		req.u.hello_req.challenge = ctp_bytes_from(challenge, sizeof(challenge));
		g_assert_cmpint(call(p, &req, 0, &r), ==, CTP_HOST_OK);
		g_array_append_val(hello, r.elapsed_us);
	}
	for (guint i = 0; i < 20; i++) {
		g_assert_cmpint(call(p, &begin, 0, &r), ==, CTP_HOST_OK);
		g_assert_cmpint(
		    step_stage_item(p, CTP_ITEM_CERTIFICATE, 0, 0, gbytes_view(big), &r), ==,
		    CTP_HOST_OK);
		g_array_append_val(item, r.elapsed_us);
		g_assert_cmpint(call(p, &abort_msg, 0, &r), ==, CTP_HOST_OK);
	}
	g_test_message("under umockdev emulation, median of the call from submission to "
	               "completion through the GLib main loop: PING %" G_GINT64_FORMAT
	               " us, HELLO (the phone signs) %" G_GINT64_FORMAT
	               " us (50 each); STAGE_ITEM with a %zu-byte certificate, the largest a "
	               "STAGE_ITEM may carry, %" G_GINT64_FORMAT " us (20)",
	               median(ping_rtt), median(hello), g_bytes_get_size(big), median(item));

	/* an open device with nothing pending: the loop should sleep (longer with
	 * CT_USB_PROVISION_IDLE_MS, to watch /proc/PID/stat from outside) */
	idle_env = g_getenv("CT_USB_PROVISION_IDLE_MS");
	idle_ms = idle_env != NULL ? (guint)g_ascii_strtoull(idle_env, NULL, 10) : 1000;
	g_test_message("idle main loop for %u ms from now (pid %d)", idle_ms, (int)getpid());
	ticks0 = cpu_ticks_self();
	run_loop_for(idle_ms);
	ticks1 = cpu_ticks_self();
	g_test_message("idle main loop with the device open: %" G_GUINT64_FORMAT
	               " CPU ticks (1/%ld s) in %u ms",
	               ticks1 - ticks0, hz, idle_ms);
	/* and it still works */
	g_assert_cmpint(step_simple(p, CTP_MSG_PING, &r), ==, CTP_HOST_OK);

	/* more than the device's max_frame is refused before anything is sent */
	{
		Phone *small = phone_new();
		g_autofree gchar *o =
		    ctl("add", small->id, "--serial", small->serial, "--max-frame", "4096", NULL);
		Reply rs = {0};

		phone_plug(small);
		g_assert_cmpint(step_hello(small, &rs), ==, CTP_HOST_OK);
		g_assert_cmpuint(small->max_frame, ==, 4096);
		g_assert_cmpint(call(small, &begin, 0, &rs), ==, CTP_HOST_OK);
		g_assert_cmpint(
		    step_stage_item(small, CTP_ITEM_CERTIFICATE, 0, 0, gbytes_view(big), &rs), ==,
		    CTP_HOST_TOO_LARGE);
		g_assert_cmpint(step_simple(small, CTP_MSG_ABORT, &rs), ==, CTP_HOST_OK);
		reply_clear(&rs);
		phone_free(small);
	}

	reply_clear(&r);
	test_ca_free(ca);
	phone_free(p);
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	int status;

	g_test_init(&argc, &argv, NULL);
	if (g_getenv(PHONESIM_CONTROL_ENV) == NULL) {
		g_printerr("test-usb-provision: run me through tests/integration/usb-provision.sh "
		           "(needs phonesim's PHONESIM_CONTROL)\n");
		return 1;
	}
	T.tmpdir = g_dir_make_tmp("usb-provision-XXXXXX", &error);
	g_assert_no_error(error);
	g_queue_init(&T.events);

	g_assert_cmpint(ctp_host_context_new(on_log, NULL, &T.ctx), ==, CTP_HOST_OK);
	g_assert_cmpint(ctp_host_context_start_hotplug(T.ctx, CTP_HOST_HOTPLUG_ENUMERATE,
	                                               on_hotplug, &T.events),
	                ==, CTP_HOST_OK);
	T.source = ct_usb_source_new(T.ctx);
	g_source_attach(T.source, NULL);

	g_test_add_func("/usb-provision/enumerate-at-start", test_enumerate_at_start);
	g_test_add_func("/usb-provision/provision", test_provision);
	g_test_add_func("/usb-provision/unplug-at-each-step", test_unplug_at_each_step);
	g_test_add_func("/usb-provision/timeout-and-resync", test_timeout_and_resync);
	g_test_add_func("/usb-provision/progress", test_progress);
	g_test_add_func("/usb-provision/malformed-and-oversized", test_malformed_and_oversized);
	g_test_add_func("/usb-provision/fails-alone", test_fails_alone);
	g_test_add_func("/usb-provision/device-error", test_device_error);
	g_test_add_func("/usb-provision/busy-cancel-close", test_busy_cancel_close);
	g_test_add_func("/usb-provision/figures", test_figures);
	status = g_test_run();

	g_source_destroy(T.source);
	g_source_unref(T.source);
	ctp_host_context_free(T.ctx);
	g_queue_clear_full(&T.events, (GDestroyNotify)hotplug_event_free);
	{
		g_autoptr(GFile) dir = g_file_new_for_path(T.tmpdir);
		g_autoptr(GFile) csr = g_file_get_child(dir, "request.der");
		g_file_delete(csr, NULL, NULL);
		g_file_delete(dir, NULL, NULL);
	}
	g_free(T.tmpdir);
	return status;
}
