/*
 * phonesim phone: glue between the USB port, the CTP device session library and the
 * firmware, plus what the control socket shows: counters, events, status.
 *
 * Locking: the port's lock guards the session, the firmware, the misbehaviours and
 * the counters. USB callbacks arrive with it held; keygen threads and timers take it
 * through the firmware hooks; the main thread takes it for status and control.
 */
#include "tests/phonesim/phonesim-phone.h"

#include <gio/gio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <string.h>
#include <time.h>

#include "tests/phonesim/phonesim-device.h"
#include "tests/phonesim/phonesim-openssl.h"
#include "usbproto/codec/ctp-frame.h"
#include "usbproto/codec/ctp-message.h"
#include "usbproto/device/ctp-device-session.h"

#define OVERSIZE_EXTRA 4096u /* bytes beyond CTP_MAX_FRAME an oversized answer carries */

struct _PhonesimPhone {
	gchar *id;
	PhonesimUsbPort *port;
	PhonesimDevice *device;
	PhonesimPhoneChanged changed;
	PhonesimPhoneSelfUnplug self_unplug;
	gpointer user;

	/* guarded by the port's lock */
	PhonesimConfig config;
	PhonesimMisbehave misbehave;
	ctp_device_session session;
	guint8 current_request;   /* type of the request being answered */
	guint unplug_at_seen;     /* requests of misbehave.unplug_at_type seen so far */
	gboolean self_unplug_due; /* the sysfs side of a self-unplug is still to be done */
	gchar *last_unplug;       /* "host", "unplug-at=commit:1", or NULL */
	guint64 frames_received, frames_sent, bad_frames, plugs, unplugs;
	guint64 events[PHONESIM_N_EVENTS];
	guint8 tx[CTP_MAX_FRAME];
};

static gboolean trace_frames;

void
phonesim_phone_set_trace(gboolean trace)
{
	trace_frames = trace;
}

/* one stderr line per frame, for debugging a host against phonesim */
static void
trace(const PhonesimPhone *phone, const gchar *dir, const guint8 *frame, gsize len)
{
	if (!trace_frames)
		return;
	if (len >= CTP_HEADER_SIZE && frame[0] == CTP_MAGIC_0 && frame[1] == CTP_MAGIC_1)
		g_printerr("phonesim: %s %s %s id=%u len=%" G_GSIZE_FORMAT "\n", phone->id, dir,
		           ctp_message_type_to_string(frame[3]), frame[6] | (frame[7] << 8), len);
	else
		g_printerr("phonesim: %s %s (not a frame) len=%" G_GSIZE_FORMAT "\n", phone->id,
		           dir, len);
}

static const gchar *const event_names[PHONESIM_N_EVENTS] = {
    "plugged", "unplugged", "hello",   "status", "csr",
    "staged",  "committed", "aborted", "error",  "self-unplug",
};

gboolean
phonesim_event_from_name(const gchar *name, PhonesimEvent *event)
{
	for (guint i = 0; i < PHONESIM_N_EVENTS; i++) {
		if (g_strcmp0(name, event_names[i]) == 0) {
			*event = (PhonesimEvent)i;
			return TRUE;
		}
	}
	return FALSE;
}

const gchar *
phonesim_event_name(PhonesimEvent event)
{
	return event < PHONESIM_N_EVENTS ? event_names[event] : "unknown";
}

/* ---- outgoing frames: counters, then the misbehaviours that garble them ---- */

static void
count_answer(PhonesimPhone *phone, const guint8 *frame, gsize len)
{
	if (len < CTP_HEADER_SIZE)
		return;
	switch (frame[3]) {
	case CTP_MSG_HELLO_RSP:
		phone->events[PHONESIM_EVENT_HELLO]++;
		break;
	case CTP_MSG_STATUS_RSP:
		phone->events[PHONESIM_EVENT_STATUS]++;
		break;
	case CTP_MSG_CREATE_CSR_RSP:
		phone->events[PHONESIM_EVENT_CSR]++;
		break;
	case CTP_MSG_STAGE_BEGIN_RSP:
		phone->events[PHONESIM_EVENT_STAGED]++;
		break;
	case CTP_MSG_COMMIT_RSP:
		phone->events[PHONESIM_EVENT_COMMITTED]++;
		break;
	case CTP_MSG_ABORT_RSP:
		phone->events[PHONESIM_EVENT_ABORTED]++;
		break;
	case CTP_MSG_ERROR:
		phone->events[PHONESIM_EVENT_ERROR]++;
		/* payload: tag 0x01, length 2, code LE */
		if (len >= CTP_HEADER_SIZE + 5 && frame[CTP_HEADER_SIZE] == 0x01 &&
		    frame[CTP_HEADER_SIZE + 3] == CTP_ERR_BAD_FRAME &&
		    frame[CTP_HEADER_SIZE + 4] == 0)
			phone->bad_frames++;
		break;
	default:
		break;
	}
}

static void
put_le32(guint8 *p, guint32 v)
{
	p[0] = (guint8)v;
	p[1] = (guint8)(v >> 8);
	p[2] = (guint8)(v >> 16);
	p[3] = (guint8)(v >> 24);
}

/* a frame whose header declares payload_len, with a checksum that matches */
static void
reseal(guint8 *frame, guint32 declared_len, gsize actual_payload)
{
	put_le32(frame + 8, declared_len);
	guint32 crc = ctp_crc32(0, frame, 12);
	crc = ctp_crc32(crc, frame + CTP_HEADER_SIZE, actual_payload);
	put_le32(frame + 12, crc);
}

static void
send_garbled(PhonesimPhone *phone, const guint8 *frame, gsize len)
{
	g_autofree guint8 *copy = g_memdup2(frame, len);
	switch (phone->misbehave.garble) {
	case PHONESIM_GARBLE_RANDOM:
		for (gsize i = 0; i < len; i++)
			copy[i] = (guint8)g_random_int_range(0, 256);
		break;
	case PHONESIM_GARBLE_TRUNCATED:
		len = MAX(len / 2, 1);
		break;
	case PHONESIM_GARBLE_CRC:
	default:
		copy[12] ^= 0xff; /* the stored checksum no longer matches */
		break;
	}
	phonesim_usb_port_send_locked(phone->port, copy, len);
}

static void
send_oversized(PhonesimPhone *phone, const guint8 *frame, gsize len)
{
	if (phone->misbehave.oversize == PHONESIM_OVERSIZE_LIE) {
		/* honest length on the wire, a header that claims more */
		g_autofree guint8 *copy = g_memdup2(frame, len);
		reseal(copy, (guint32)(len - CTP_HEADER_SIZE) + 1000, len - CTP_HEADER_SIZE);
		phonesim_usb_port_send_locked(phone->port, copy, len);
		return;
	}
	gsize total = CTP_MAX_FRAME + OVERSIZE_EXTRA;
	g_autofree guint8 *big = g_malloc0(total);
	memcpy(big, frame, len);
	reseal(big, (guint32)(total - CTP_HEADER_SIZE), total - CTP_HEADER_SIZE);
	phonesim_usb_port_send_locked(phone->port, big, total);
}

static void
hook_send(gpointer user, const guint8 *frame, gsize len)
{
	PhonesimPhone *phone = user;
	guint8 type = len >= CTP_HEADER_SIZE ? frame[3] : 0;
	/* the request this answers: a response carries it, an ERROR answers the current one */
	guint8 request = type == CTP_MSG_ERROR ? phone->current_request : type & 0x7f;
	guint32 bit = 1u << (request & 0x1f);

	phone->frames_sent++;
	trace(phone, "->", frame, len);
	count_answer(phone, frame, len);
	if (type != CTP_MSG_PROGRESS && (type & CTP_TYPE_RESPONSE) && request != 0 &&
	    (phone->misbehave.malformed & bit))
		send_garbled(phone, frame, len);
	else if (type != CTP_MSG_PROGRESS && (type & CTP_TYPE_RESPONSE) && request != 0 &&
	         (phone->misbehave.oversized & bit))
		send_oversized(phone, frame, len);
	else
		phonesim_usb_port_send_locked(phone->port, frame, len);
	if (phone->changed != NULL)
		phone->changed(phone, phone->user);
}

static void
hook_lock(gpointer user)
{
	phonesim_usb_port_lock(((PhonesimPhone *)user)->port);
}

static void
hook_unlock(gpointer user)
{
	phonesim_usb_port_unlock(((PhonesimPhone *)user)->port);
}

static const PhonesimDeviceHooks device_hooks = {
    .send = hook_send,
    .lock = hook_lock,
    .unlock = hook_unlock,
};

/* ---- incoming transfers ---- */

static gboolean
unplug_at_fires(PhonesimPhone *phone, guint8 type)
{
	if (phone->misbehave.unplug_at_type == 0 || type != phone->misbehave.unplug_at_type)
		return FALSE;
	phone->unplug_at_seen++;
	return phone->unplug_at_seen >= phone->misbehave.unplug_at_count;
}

static void
usb_bulk_out(gpointer user, const guint8 *data, gsize len)
{
	PhonesimPhone *phone = user;
	/* the type byte of a well-formed header, for counting and misbehaving only */
	guint8 type = len >= CTP_HEADER_SIZE && data[0] == CTP_MAGIC_0 && data[1] == CTP_MAGIC_1
	                  ? data[3]
	                  : 0;

	phone->frames_received++;
	trace(phone, "<-", data, len);
	if (unplug_at_fires(phone, type)) {
		/* one shot: after a replug the phone behaves, so a retry can succeed */
		g_free(phone->last_unplug);
		phone->last_unplug = g_strdup_printf("unplug-at=%s:%u", phonesim_msg_name(type),
		                                     phone->misbehave.unplug_at_count);
		phone->misbehave.unplug_at_type = 0;
		phone->misbehave.unplug_at_count = 0;
		phone->unplug_at_seen = 0;
		phone->events[PHONESIM_EVENT_SELF_UNPLUG]++;
		phone->self_unplug_due = TRUE;
		phonesim_usb_port_cut_locked(phone->port);
		if (phone->self_unplug != NULL)
			phone->self_unplug(phone, phone->user);
		return;
	}
	phone->current_request = type;
	ctp_device_session_receive(&phone->session, data, len);
	phone->current_request = 0;
	/* this runs in umockdev's worker thread, which outlives phonesim's cleanup: drop
	 * OpenSSL's per-thread state (DRBGs) now rather than leave it to a thread exit
	 * that never comes (OpenSSL recreates it on next use) */
	OPENSSL_thread_stop();
	if (phone->changed != NULL)
		phone->changed(phone, phone->user);
}

static void
usb_bus_reset(gpointer user)
{
	PhonesimPhone *phone = user;
	ctp_device_session_reset(&phone->session);
}

static const PhonesimUsbCallbacks usb_callbacks = {
    .bulk_out = usb_bulk_out,
    .bus_reset = usb_bus_reset,
};

/* ---- lifecycle ---- */

PhonesimPhone *
phonesim_phone_new(PhonesimUsb *usb,
                   const gchar *id,
                   guint port_number,
                   PhonesimState *state,
                   const PhonesimConfig *config,
                   PhonesimPhoneChanged changed,
                   PhonesimPhoneSelfUnplug self_unplug,
                   gpointer user,
                   GError **error)
{
	PhonesimPhone *phone = g_new0(PhonesimPhone, 1);
	phone->id = g_strdup(id);
	phone->changed = changed;
	phone->self_unplug = self_unplug;
	phone->user = user;
	phonesim_config_copy(&phone->config, config);
	phone->port = phonesim_usb_port_new(usb, port_number, &usb_callbacks, phone, error);
	if (phone->port == NULL) {
		phonesim_state_free(state);
		phonesim_config_clear(&phone->config);
		g_free(phone->id);
		g_free(phone);
		return NULL;
	}
	phone->device =
	    phonesim_device_new(state, &phone->config, &phone->misbehave, &device_hooks, phone);
	if (!ctp_device_session_init(&phone->session, phonesim_device_get_ops(), phone->device,
	                             phone->tx, sizeof phone->tx))
		g_error("phonesim: the device session refused its ops table"); /* a bug here */
	phonesim_device_attach(phone->device, &phone->session);
	return phone;
}

void
phonesim_phone_free(PhonesimPhone *phone)
{
	if (phone == NULL)
		return;
	phonesim_usb_port_close(phone->port);
	phonesim_device_shutdown(phone->device);
	phonesim_device_free(phone->device);
	phonesim_usb_port_unref(phone->port);
	phonesim_config_clear(&phone->config);
	g_free(phone->last_unplug);
	g_free(phone->id);
	g_free(phone);
}

const gchar *
phonesim_phone_get_id(PhonesimPhone *phone)
{
	return phone->id;
}

guint
phonesim_phone_get_port(PhonesimPhone *phone)
{
	return phonesim_usb_port_get_number(phone->port);
}

gboolean
phonesim_phone_is_plugged(PhonesimPhone *phone)
{
	phonesim_usb_port_lock(phone->port);
	gboolean plugged = phonesim_usb_port_is_plugged_locked(phone->port);
	phonesim_usb_port_unlock(phone->port);
	return plugged;
}

gboolean
phonesim_phone_plug(PhonesimPhone *phone, GError **error)
{
	phonesim_usb_port_lock(phone->port);
	gboolean due = phone->self_unplug_due;
	phonesim_usb_port_unlock(phone->port);
	/* a self-unplug whose sysfs half has not run yet: finish it first */
	if (due)
		phonesim_phone_finish_self_unplug(phone);

	phonesim_usb_port_lock(phone->port);
	g_autofree gchar *manufacturer = g_strdup(phone->config.vendor);
	g_autofree gchar *product = g_strdup(phone->config.model);
	g_autofree gchar *serial = g_strdup(phone->config.serial);
	ctp_device_session_reset(&phone->session);
	phonesim_usb_port_unlock(phone->port);

	PhonesimUsbIdentity identity = {manufacturer, product, serial};
	if (!phonesim_usb_port_plug(phone->port, &identity, error))
		return FALSE;
	phonesim_usb_port_lock(phone->port);
	phone->plugs++;
	phonesim_usb_port_unlock(phone->port);
	if (phone->changed != NULL)
		phone->changed(phone, phone->user);
	return TRUE;
}

gboolean
phonesim_phone_unplug(PhonesimPhone *phone, GError **error)
{
	phonesim_usb_port_lock(phone->port);
	gboolean plugged = phonesim_usb_port_is_plugged_locked(phone->port);
	gboolean due = phone->self_unplug_due;
	phonesim_usb_port_unlock(phone->port);
	if (!plugged && !due) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "%s is not plugged in",
		            phone->id);
		return FALSE;
	}
	if (due) {
		phonesim_phone_finish_self_unplug(phone);
		return TRUE;
	}
	phonesim_usb_port_unplug(phone->port);
	phonesim_usb_port_lock(phone->port);
	phone->unplugs++;
	g_free(phone->last_unplug);
	phone->last_unplug = g_strdup("host");
	phonesim_usb_port_unlock(phone->port);
	if (phone->changed != NULL)
		phone->changed(phone, phone->user);
	return TRUE;
}

void
phonesim_phone_finish_self_unplug(PhonesimPhone *phone)
{
	phonesim_usb_port_lock(phone->port);
	gboolean due = phone->self_unplug_due;
	phone->self_unplug_due = FALSE;
	phonesim_usb_port_unlock(phone->port);
	if (!due)
		return;
	phonesim_usb_port_unplug(phone->port);
	phonesim_usb_port_lock(phone->port);
	phone->unplugs++;
	phonesim_usb_port_unlock(phone->port);
	if (phone->changed != NULL)
		phone->changed(phone, phone->user);
}

gboolean
phonesim_phone_misbehave(PhonesimPhone *phone, const gchar *spec, GError **error)
{
	phonesim_usb_port_lock(phone->port);
	guint8 unplug_type = phone->misbehave.unplug_at_type;
	guint unplug_count = phone->misbehave.unplug_at_count;
	gboolean ok = phonesim_misbehave_apply(&phone->misbehave, spec, error);
	/* a new unplug-at counts from now */
	if (ok && (phone->misbehave.unplug_at_type != unplug_type ||
	           phone->misbehave.unplug_at_count != unplug_count))
		phone->unplug_at_seen = 0;
	phonesim_usb_port_unlock(phone->port);
	return ok;
}

void
phonesim_phone_set_config(PhonesimPhone *phone, const PhonesimConfig *config)
{
	phonesim_usb_port_lock(phone->port);
	phonesim_config_copy(&phone->config, config);
	phonesim_usb_port_unlock(phone->port);
}

gboolean
phonesim_phone_event_reached(PhonesimPhone *phone, PhonesimEvent event, guint count)
{
	gboolean reached;
	phonesim_usb_port_lock(phone->port);
	gboolean plugged = phonesim_usb_port_is_plugged_locked(phone->port);
	if (event == PHONESIM_EVENT_PLUGGED)
		reached = plugged;
	else if (event == PHONESIM_EVENT_UNPLUGGED)
		reached = !plugged;
	else
		reached = phone->events[event] >= count;
	phonesim_usb_port_unlock(phone->port);
	return reached;
}

/* ---- status ---- */

static gchar *
name_string(const X509_NAME *name)
{
	g_autoptr(BIO) bio = BIO_new(BIO_s_mem());
	X509_NAME_print_ex(bio, name, 0, XN_FLAG_RFC2253);
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	return g_strndup(data, (gsize)n);
}

static gchar *
time_string(const ASN1_TIME *t)
{
	struct tm tm;
	gchar buf[32];
	if (ASN1_TIME_to_tm(t, &tm) != 1)
		return g_strdup("invalid");
	strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
	return g_strdup(buf);
}

static gchar *
serial_string(const X509 *cert)
{
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
	gchar *result = g_ascii_strdown(hex != NULL ? hex : "", -1);
	OPENSSL_free(hex);
	BN_free(bn);
	return result;
}

static gchar *
cert_sha256_hex(X509 *cert)
{
	g_autoptr(GBytes) der = phonesim_x509_der(cert);
	guint8 digest[CTP_SHA256_SIZE];
	if (der == NULL)
		return g_strdup("");
	phonesim_sha256(g_bytes_get_data(der, NULL), g_bytes_get_size(der), digest);
	return phonesim_hex(digest, sizeof digest);
}

static const gchar *
key_description(EVP_PKEY *key)
{
	switch (EVP_PKEY_get_base_id(key)) {
	case EVP_PKEY_RSA:
		switch (EVP_PKEY_get_bits(key)) {
		case 2048:
			return "rsa2048";
		case 3072:
			return "rsa3072";
		default:
			return EVP_PKEY_get_bits(key) < 2048 ? "rsa-weak" : "rsa";
		}
	case EVP_PKEY_EC:
		return EVP_PKEY_get_bits(key) == 384 ? "ec-p384" : "ec-p256";
	default:
		return "other";
	}
}

static void
add_string_or_null(JsonBuilder *b, const gchar *member, const gchar *value)
{
	json_builder_set_member_name(b, member);
	if (value != NULL)
		json_builder_add_string_value(b, value);
	else
		json_builder_add_null_value(b);
}

static void
add_cert(JsonBuilder *b, X509 *cert, EVP_PKEY *key)
{
	g_autofree gchar *subject = name_string(X509_get_subject_name(cert));
	g_autofree gchar *issuer = name_string(X509_get_issuer_name(cert));
	g_autofree gchar *serial = serial_string(cert);
	g_autofree gchar *not_before = time_string(X509_get0_notBefore(cert));
	g_autofree gchar *not_after = time_string(X509_get0_notAfter(cert));
	g_autofree gchar *sha256 = cert_sha256_hex(cert);
	json_builder_begin_object(b);
	add_string_or_null(b, "subject", subject);
	add_string_or_null(b, "issuer", issuer);
	add_string_or_null(b, "serial", serial);
	add_string_or_null(b, "not_before", not_before);
	add_string_or_null(b, "not_after", not_after);
	add_string_or_null(b, "sha256", sha256);
	if (key != NULL)
		add_string_or_null(b, "key", key_description(key));
	json_builder_end_object(b);
}

static const gchar *
session_state_name(ctp_device_session_state state)
{
	switch (state) {
	case CTP_DEVICE_SESSION_READY:
		return "ready";
	case CTP_DEVICE_SESSION_STAGING:
		return "staging";
	case CTP_DEVICE_SESSION_IDLE:
	default:
		return "idle";
	}
}

static void
add_counter(JsonBuilder *b, const gchar *member, guint64 value)
{
	json_builder_set_member_name(b, member);
	json_builder_add_int_value(b, (gint64)value);
}

JsonNode *
phonesim_phone_status_json(PhonesimPhone *phone)
{
	g_autoptr(JsonBuilder) b = json_builder_new();
	phonesim_usb_port_lock(phone->port);
	PhonesimState *st = phonesim_device_get_state(phone->device);
	gboolean plugged = phonesim_usb_port_is_plugged_locked(phone->port);
	guint8 digest[CTP_SHA256_SIZE];
	g_autofree gchar *port =
	    g_strdup_printf("%u-%u", PHONESIM_BUSNUM, phonesim_usb_port_get_number(phone->port));
	g_autofree gchar *misbehave = phonesim_misbehave_to_string(&phone->misbehave);
	g_auto(GStrv) algs = NULL;
	g_autofree gchar *algs_text = phonesim_key_algs_to_string(phone->config.key_algs);

	json_builder_begin_object(b);
	add_string_or_null(b, "id", phone->id);
	json_builder_set_member_name(b, "plugged");
	json_builder_add_boolean_value(b, plugged);
	add_counter(b, "busnum", PHONESIM_BUSNUM);
	add_counter(b, "devnum", phonesim_usb_port_get_devnum(phone->port));
	add_string_or_null(b, "port", port);
	add_string_or_null(b, "serial", phone->config.serial);
	add_string_or_null(b, "vendor", phone->config.vendor);
	add_string_or_null(b, "model", phone->config.model);
	add_string_or_null(b, "firmware", phone->config.firmware);
	json_builder_set_member_name(b, "key_algs");
	json_builder_begin_array(b);
	algs = g_strsplit(algs_text, ",", -1);
	for (guint i = 0; algs[i] != NULL; i++)
		json_builder_add_string_value(b, algs[i]);
	json_builder_end_array(b);
	add_counter(b, "max_chain", phone->config.max_chain);
	add_counter(b, "max_anchors", phone->config.max_anchors);
	add_counter(b, "max_frame", phone->config.max_frame);
	add_string_or_null(b, "session",
	                   session_state_name(ctp_device_session_get_state(&phone->session)));
	add_string_or_null(b, "state", st->cert != NULL ? "provisioned" : "empty");

	phonesim_sha256(g_bytes_get_data(st->identity_spki, NULL),
	                g_bytes_get_size(st->identity_spki), digest);
	g_autofree gchar *identity = phonesim_hex(digest, sizeof digest);
	add_string_or_null(b, "identity_key_sha256", identity);

	json_builder_set_member_name(b, "certificate");
	if (st->cert != NULL)
		add_cert(b, st->cert, st->key);
	else
		json_builder_add_null_value(b);
	add_counter(b, "chain_count", (guint64)sk_X509_num(st->chain));
	json_builder_set_member_name(b, "chain");
	json_builder_begin_array(b);
	for (int i = 0; i < sk_X509_num(st->chain); i++)
		add_cert(b, sk_X509_value(st->chain, i), NULL);
	json_builder_end_array(b);
	add_counter(b, "anchor_count", (guint64)sk_X509_num(st->anchors));
	json_builder_set_member_name(b, "anchors");
	json_builder_begin_array(b);
	for (int i = 0; i < sk_X509_num(st->anchors); i++)
		add_cert(b, sk_X509_value(st->anchors, i), NULL);
	json_builder_end_array(b);

	g_autofree gchar *pending = NULL;
	if (st->pending_csr != NULL) {
		phonesim_sha256(g_bytes_get_data(st->pending_csr, NULL),
		                g_bytes_get_size(st->pending_csr), digest);
		pending = phonesim_hex(digest, sizeof digest);
	}
	add_string_or_null(b, "pending_csr_sha256", pending);
	add_string_or_null(b, "pending_key",
	                   st->pending_key != NULL ? key_description(st->pending_key) : NULL);

	json_builder_set_member_name(b, "settings");
	json_builder_begin_object(b);
	add_string_or_null(b, "web_service_url", st->settings[CTP_SETTING_WEB_SERVICE_URL]);
	add_string_or_null(b, "registrar", st->settings[CTP_SETTING_REGISTRAR]);
	add_string_or_null(b, "sip_uri", st->settings[CTP_SETTING_SIP_URI]);
	json_builder_end_object(b);

	add_string_or_null(b, "misbehave", misbehave);
	add_string_or_null(b, "last_unplug", phone->last_unplug);

	json_builder_set_member_name(b, "counters");
	json_builder_begin_object(b);
	add_counter(b, "frames_received", phone->frames_received);
	add_counter(b, "frames_sent", phone->frames_sent);
	add_counter(b, "bad_frames", phone->bad_frames);
	add_counter(b, "errors", phone->events[PHONESIM_EVENT_ERROR]);
	add_counter(b, "hellos", phone->events[PHONESIM_EVENT_HELLO]);
	add_counter(b, "statuses", phone->events[PHONESIM_EVENT_STATUS]);
	add_counter(b, "csrs_created", phone->events[PHONESIM_EVENT_CSR]);
	add_counter(b, "stages", phone->events[PHONESIM_EVENT_STAGED]);
	add_counter(b, "commits", phone->events[PHONESIM_EVENT_COMMITTED]);
	add_counter(b, "aborts", phone->events[PHONESIM_EVENT_ABORTED]);
	add_counter(b, "plugs", phone->plugs);
	add_counter(b, "unplugs", phone->unplugs);
	add_counter(b, "self_unplugs", phone->events[PHONESIM_EVENT_SELF_UNPLUG]);
	json_builder_end_object(b);
	json_builder_end_object(b);
	phonesim_usb_port_unlock(phone->port);
	return json_builder_get_root(b);
}

/* the text form: "key: value" lines, nested objects flattened with dots */
static void
text_node(GString *out, const gchar *prefix, JsonNode *node)
{
	if (JSON_NODE_HOLDS_OBJECT(node)) {
		JsonObject *o = json_node_get_object(node);
		g_autoptr(GList) members = json_object_get_members(o);
		for (GList *l = members; l != NULL; l = l->next) {
			g_autofree gchar *key =
			    prefix[0] ? g_strdup_printf("%s.%s", prefix, (const gchar *)l->data)
			              : g_strdup(l->data);
			text_node(out, key, json_object_get_member(o, l->data));
		}
	} else if (JSON_NODE_HOLDS_ARRAY(node)) {
		JsonArray *a = json_node_get_array(node);
		for (guint i = 0; i < json_array_get_length(a); i++) {
			g_autofree gchar *key = g_strdup_printf("%s[%u]", prefix, i);
			text_node(out, key, json_array_get_element(a, i));
		}
	} else if (JSON_NODE_HOLDS_NULL(node)) {
		g_string_append_printf(out, "%s: -\n", prefix);
	} else if (json_node_get_value_type(node) == G_TYPE_BOOLEAN) {
		g_string_append_printf(out, "%s: %s\n", prefix,
		                       json_node_get_boolean(node) ? "yes" : "no");
	} else if (json_node_get_value_type(node) == G_TYPE_INT64) {
		g_string_append_printf(out, "%s: %" G_GINT64_FORMAT "\n", prefix,
		                       json_node_get_int(node));
	} else {
		g_string_append_printf(out, "%s: %s\n", prefix, json_node_get_string(node));
	}
}

gchar *
phonesim_phone_status_text(PhonesimPhone *phone)
{
	g_autoptr(JsonNode) root = phonesim_phone_status_json(phone);
	GString *out = g_string_new(NULL);
	text_node(out, "", root);
	return g_string_free(out, FALSE);
}
