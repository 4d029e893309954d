/*
 * phonesim firmware: ops of the CTP device session library, with OpenSSL.
 *
 * The session library calls these with the phone's lock held (from umockdev's
 * worker thread). Key generation runs in a thread pool so that the USB side keeps
 * answering; a timer on the main context sends PROGRESS while it runs.
 */
#include "tests/phonesim/phonesim-device.h"

#include "tests/phonesim/phonesim-openssl.h"

#include <gio/gio.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <string.h>

#define PROGRESS_PERIOD_MS 1000 /* well under CTP_PROGRESS_INTERVAL_MS */
#define SLEEP_STEP_US      (50 * 1000)

struct _PhonesimDevice {
	PhonesimState *state;
	const PhonesimConfig *config;
	const PhonesimMisbehave *misbehave;
	const PhonesimDeviceHooks *hooks;
	gpointer user;
	ctp_device_session *session;

	GPtrArray *keygen_jobs; /* KeygenJob*, each with its own thread */
	gint current_token;     /* atomic: the keygen whose answer is still wanted, 0 = none */
	gint shutting_down;     /* atomic */
	gint64 keygen_started_us;
	guint keygen_expected_s;
	GSource *progress_source;

	/* the staging area */
	guint want_chain, want_anchors;
	GBytes *staged_cert;
	GPtrArray *staged_chain;   /* GBytes */
	GPtrArray *staged_anchors; /* GBytes */
	gchar *staged_settings[PHONESIM_N_SETTINGS];

	/* STATUS views must live until the answer is encoded */
	GBytes *status_cert;
	guint8 anchor_sha256[CTP_MAX_ANCHORS][CTP_SHA256_SIZE];
	guint8 pending_sha256[CTP_SHA256_SIZE];
};

/* one CREATE_CSR for the keygen pool; everything copied out of the request */
typedef struct {
	PhonesimDevice *device;
	guint32 token;
	guint8 key_alg;
	GBytes *subject;
	GBytes *san; /* NULL: no subjectAltName */
	GBytes *nonce;
	PhonesimMisbehave misbehave; /* as it was when the request arrived */
	GThread *thread;
	gint finished; /* atomic: the thread touches the job no more */
} KeygenJob;

static void
keygen_job_free(KeygenJob *job)
{
	g_clear_pointer(&job->subject, g_bytes_unref);
	g_clear_pointer(&job->san, g_bytes_unref);
	g_clear_pointer(&job->nonce, g_bytes_unref);
	g_free(job);
}

static void
set_error_text_openssl(PhonesimDevice *device, const gchar *what)
{
	unsigned long e = ERR_get_error();
	gchar buf[160] = "";
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	g_autofree gchar *text = g_strdup_printf("%s%s%s", what, buf[0] ? ": " : "", buf);
	ctp_device_session_set_error_text(device->session, text);
}

/* DER ECDSA / RSA PKCS#1 v1.5 signature with SHA-256 */
static GBytes *
sign_sha256(EVP_PKEY *key, const guint8 *data, gsize len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	gsize sig_len = 0;
	GBytes *result = NULL;
	if (EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
	    EVP_DigestSign(ctx, NULL, &sig_len, data, len) == 1) {
		guint8 *sig = g_malloc(sig_len);
		if (EVP_DigestSign(ctx, sig, &sig_len, data, len) == 1)
			result = g_bytes_new_take(sig, sig_len);
		else
			g_free(sig);
	}
	EVP_MD_CTX_free(ctx);
	return result;
}

/* ---- HELLO ---- */

static uint16_t
op_get_info(void *user, ctp_hello_rsp *info)
{
	PhonesimDevice *device = user;
	const PhonesimConfig *c = device->config;
	info->vendor = ctp_bytes_from_string(c->vendor);
	info->model = ctp_bytes_from_string(c->model);
	info->serial = ctp_bytes_from_string(c->serial);
	info->firmware = ctp_bytes_from_string(c->firmware);
	info->key_algs = c->key_algs;
	info->max_frame = c->max_frame;
	info->max_chain = (uint8_t)c->max_chain;
	info->max_anchors = (uint8_t)c->max_anchors;
	info->capabilities = CTP_CAP_SETTINGS | CTP_CAP_KEEPS_PENDING;
	info->identity_key = ctp_bytes_from(g_bytes_get_data(device->state->identity_spki, NULL),
	                                    g_bytes_get_size(device->state->identity_spki));
	return CTP_DEVICE_OK;
}

static uint16_t
op_sign_identity(
    void *user, const uint8_t *data, size_t len, uint8_t *sig, size_t cap, size_t *sig_len)
{
	PhonesimDevice *device = user;
	g_autofree guint8 *input = g_memdup2(data, len);
	if (device->misbehave->bad_identity_sig && len > 0)
		input[len - 1] ^= 0x5a; /* a valid signature, over the wrong bytes */
	g_autoptr(GBytes) s = sign_sha256(device->state->identity_key, input, len);
	if (s == NULL || g_bytes_get_size(s) > cap) {
		set_error_text_openssl(device, "identity signature failed");
		return CTP_ERR_INTERNAL;
	}
	memcpy(sig, g_bytes_get_data(s, NULL), g_bytes_get_size(s));
	*sig_len = g_bytes_get_size(s);
	return CTP_DEVICE_OK;
}

/* ---- STATUS ---- */

static uint16_t
op_get_status(void *user, ctp_status_rsp *status)
{
	PhonesimDevice *device = user;
	PhonesimState *st = device->state;

	g_clear_pointer(&device->status_cert, g_bytes_unref);
	if (st->cert != NULL) {
		device->status_cert = phonesim_x509_der(st->cert);
		if (device->status_cert == NULL) {
			set_error_text_openssl(device, "cannot encode the installed certificate");
			return CTP_ERR_STORAGE;
		}
		status->state = CTP_DEVICE_STATE_PROVISIONED;
		status->certificate = ctp_bytes_from(g_bytes_get_data(device->status_cert, NULL),
		                                     g_bytes_get_size(device->status_cert));
	} else {
		status->state = CTP_DEVICE_STATE_EMPTY;
	}
	status->chain_count = (uint8_t)MIN(sk_X509_num(st->chain), (int)CTP_MAX_CHAIN);
	status->anchor_count = (uint8_t)MIN(sk_X509_num(st->anchors), (int)CTP_MAX_ANCHORS);
	for (guint i = 0; i < status->anchor_count; i++) {
		g_autoptr(GBytes) der = phonesim_x509_der(sk_X509_value(st->anchors, (int)i));
		if (der == NULL)
			return CTP_ERR_STORAGE;
		phonesim_sha256(g_bytes_get_data(der, NULL), g_bytes_get_size(der),
		                device->anchor_sha256[i]);
		status->anchor_sha256[i] =
		    ctp_bytes_from(device->anchor_sha256[i], CTP_SHA256_SIZE);
	}
	status->n_anchor_sha256 = status->anchor_count;
	if (st->pending_csr != NULL) {
		phonesim_sha256(g_bytes_get_data(st->pending_csr, NULL),
		                g_bytes_get_size(st->pending_csr), device->pending_sha256);
		status->pending_csr_sha256 =
		    ctp_bytes_from(device->pending_sha256, CTP_SHA256_SIZE);
	}
	if (st->settings[CTP_SETTING_WEB_SERVICE_URL] != NULL)
		status->web_service_url =
		    ctp_bytes_from_string(st->settings[CTP_SETTING_WEB_SERVICE_URL]);
	if (st->settings[CTP_SETTING_REGISTRAR] != NULL)
		status->registrar = ctp_bytes_from_string(st->settings[CTP_SETTING_REGISTRAR]);
	return CTP_DEVICE_OK;
}

/* ---- CREATE_CSR ---- */

static EVP_PKEY *
generate_key(guint8 key_alg, const PhonesimMisbehave *mb)
{
	if (mb->weak_key)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	switch (key_alg) {
	case CTP_KEY_RSA_2048:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	case CTP_KEY_RSA_3072:
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)3072);
	case CTP_KEY_EC_P256:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	case CTP_KEY_EC_P384:
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-384");
	default:
		return NULL;
	}
}

static X509_NAME *
impostor_name(void)
{
	X509_NAME *name = X509_NAME_new();
	X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const guchar *)"Elsewhere Inc", -1,
	                           -1, 0);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const guchar *)"impostor", -1, -1,
	                           0);
	return name;
}

static X509_EXTENSION *
san_extension(GBytes *san_der, gboolean impostor, GError **error)
{
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	if (impostor) {
		/* SEQUENCE { [2] "impostor.elsewhere.example" } */
		static const char dns[] = "impostor.elsewhere.example";
		guint8 der[2 + 2 + sizeof dns - 1];
		der[0] = 0x30;
		der[1] = (guint8)(2 + sizeof dns - 1);
		der[2] = 0x82;
		der[3] = (guint8)(sizeof dns - 1);
		memcpy(der + 4, dns, sizeof dns - 1);
		ASN1_OCTET_STRING_set(os, der, (int)sizeof der);
	} else {
		/* the host's GeneralNames go in byte for byte, once they are known to parse */
		const guint8 *p = g_bytes_get_data(san_der, NULL);
		gsize len = g_bytes_get_size(san_der);
		GENERAL_NAMES *gens = d2i_GENERAL_NAMES(NULL, &p, (long)len);
		gboolean complete =
		    gens != NULL && p == (const guint8 *)g_bytes_get_data(san_der, NULL) + len;
		GENERAL_NAMES_free(gens);
		if (!complete) {
			ASN1_OCTET_STRING_free(os);
			g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			                    "san is not DER GeneralNames");
			return NULL;
		}
		ASN1_OCTET_STRING_set(os, g_bytes_get_data(san_der, NULL), (int)len);
	}
	ext = X509_EXTENSION_create_by_NID(NULL, NID_subject_alt_name, 0, os);
	ASN1_OCTET_STRING_free(os);
	return ext;
}

/* the PKCS#10 request for key; returns DER, or NULL with error and *code */
static GBytes *
build_csr(const KeygenJob *job, EVP_PKEY *key, guint16 *code, GError **error)
{
	const guint8 *start = g_bytes_get_data(job->subject, NULL);
	const guint8 *p = start;
	gsize len = g_bytes_get_size(job->subject);
	g_autoptr(X509_NAME) name = d2i_X509_NAME(NULL, &p, (long)len);
	g_autoptr(X509_REQ) req = X509_REQ_new();
	g_autoptr(PhonesimExtStack) exts = sk_X509_EXTENSION_new_null();

	*code = CTP_ERR_BAD_MESSAGE;
	if (name == NULL || p != start + len) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		                    "subject is not a DER X.509 Name");
		return NULL;
	}
	if (job->misbehave.wrong_subject) {
		X509_NAME_free(name);
		name = impostor_name();
	}
	if (job->san != NULL) {
		X509_EXTENSION *ext = san_extension(job->san, job->misbehave.wrong_subject, error);
		if (ext == NULL)
			return NULL;
		sk_X509_EXTENSION_push(exts, ext);
	}
	*code = CTP_ERR_KEYGEN_FAILED;
	if (job->misbehave.extra_extension) {
		X509_EXTENSION *ext =
		    X509V3_EXT_conf_nid(NULL, NULL, NID_basic_constraints, "critical,CA:TRUE");
		if (ext != NULL)
			sk_X509_EXTENSION_push(exts, ext);
	}
	if (!X509_REQ_set_version(req, X509_REQ_VERSION_1) ||
	    !X509_REQ_set_subject_name(req, name) || !X509_REQ_set_pubkey(req, key) ||
	    (sk_X509_EXTENSION_num(exts) > 0 && !X509_REQ_add_extensions(req, exts)) ||
	    X509_REQ_sign(req, key, EVP_sha256()) <= 0) {
		ERR_clear_error();
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot build the CSR");
		return NULL;
	}
	guint8 *der = NULL;
	int n = i2d_X509_REQ(req, &der);
	if (n <= 0) {
		ERR_clear_error();
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot encode the CSR");
		return NULL;
	}
	GBytes *result = g_bytes_new(der, (gsize)n);
	OPENSSL_free(der);
	return result;
}

static gboolean
keygen_wanted(PhonesimDevice *device, guint32 token)
{
	return !g_atomic_int_get(&device->shutting_down) &&
	       (guint32)g_atomic_int_get(&device->current_token) == token;
}

/* the time a slow phone takes, in steps so that unplug and shutdown stop it early */
static void
keygen_delay(PhonesimDevice *device, const KeygenJob *job)
{
	guint seconds = MAX(job->misbehave.slow_keygen_s, job->misbehave.silent_keygen_s);
	gint64 end = g_get_monotonic_time() + (gint64)seconds * G_USEC_PER_SEC;
	while (g_get_monotonic_time() < end && keygen_wanted(device, job->token))
		g_usleep(SLEEP_STEP_US);
}

/*
 * One thread per key: it exits when done, so that OpenSSL's per-thread state (its
 * DRBGs) goes with it instead of living on in a pooled thread.
 */
static gpointer
keygen_run(gpointer data)
{
	KeygenJob *job = data;
	PhonesimDevice *device = job->device;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) csr = NULL;
	g_autoptr(GBytes) pop = NULL;
	guint16 code = CTP_ERR_KEYGEN_FAILED;
	EVP_PKEY *key = NULL;

	keygen_delay(device, job);
	if (!keygen_wanted(device, job->token)) {
		g_atomic_int_set(&job->finished, 1);
		return NULL;
	}
	key = generate_key(job->key_alg, &job->misbehave);
	if (key == NULL) {
		g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_FAILED, "key generation failed");
	} else {
		csr = build_csr(job, key, &code, &error);
	}
	if (csr != NULL) {
		guint8 digest[CTP_SHA256_SIZE];
		guint8 input[CTP_DEVICE_POP_SIG_INPUT_MAX];
		gsize input_len = 0;
		phonesim_sha256(g_bytes_get_data(csr, NULL), g_bytes_get_size(csr), digest);
		if (!ctp_device_pop_sig_input(g_bytes_get_data(job->nonce, NULL),
		                              g_bytes_get_size(job->nonce), digest, input,
		                              sizeof input, &input_len)) {
			g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_FAILED,
			                    "nonce out of bounds");
		} else {
			if (job->misbehave.bad_pop)
				input[input_len - 1] ^= 0x5a; /* signs another CSR's hash */
			pop = sign_sha256(key, input, input_len);
			if (pop == NULL)
				g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_FAILED,
				                    "cannot sign the proof of possession");
		}
	}

	device->hooks->lock(device->user);
	if (keygen_wanted(device, job->token) &&
	    ctp_device_session_token_is_current(device->session, job->token)) {
		g_atomic_int_set(&device->current_token, 0);
		if (error == NULL && !phonesim_state_set_pending(device->state, key, csr, &error))
			code = CTP_ERR_STORAGE;
		if (error != NULL) {
			ctp_device_session_fail(device->session, job->token, code, error->message);
		} else {
			ctp_device_session_csr_done(
			    device->session, job->token, g_bytes_get_data(csr, NULL),
			    g_bytes_get_size(csr), g_bytes_get_data(pop, NULL),
			    g_bytes_get_size(pop));
		}
	}
	/* else: the host went away; the key is dropped, the earlier pending one stays */
	device->hooks->unlock(device->user);
	EVP_PKEY_free(key);
	g_atomic_int_set(&job->finished, 1);
	return NULL;
}

/* lock held: join the threads that are done */
static void
reap_keygen_jobs(PhonesimDevice *device)
{
	for (guint i = device->keygen_jobs->len; i > 0; i--) {
		KeygenJob *job = g_ptr_array_index(device->keygen_jobs, i - 1);
		if (!g_atomic_int_get(&job->finished))
			continue;
		g_thread_join(job->thread);
		keygen_job_free(job);
		g_ptr_array_remove_index_fast(device->keygen_jobs, i - 1);
	}
}

typedef struct {
	PhonesimDevice *device;
	guint32 token;
} ProgressTick;

static gboolean
progress_tick(gpointer data)
{
	ProgressTick *tick = data;
	PhonesimDevice *device = tick->device;
	gboolean again = FALSE;

	device->hooks->lock(device->user);
	if (ctp_device_session_token_is_current(device->session, tick->token)) {
		gint64 elapsed_s =
		    (g_get_monotonic_time() - device->keygen_started_us) / G_USEC_PER_SEC;
		guint percent = (guint)MIN(95, 100 * elapsed_s / (device->keygen_expected_s + 1));
		ctp_device_session_progress(device->session, tick->token, (uint8_t)percent,
		                            "generating key");
		again = TRUE;
	}
	device->hooks->unlock(device->user);
	return again ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static uint16_t
op_create_csr(void *user, const ctp_create_csr_req *req, uint32_t token)
{
	PhonesimDevice *device = user;
	KeygenJob *job = g_new0(KeygenJob, 1);
	job->device = device;
	job->token = token;
	job->key_alg = req->key_alg;
	job->subject = g_bytes_new(req->subject.data, req->subject.len);
	if (ctp_bytes_present(req->san))
		job->san = g_bytes_new(req->san.data, req->san.len);
	job->nonce = g_bytes_new(req->nonce.data, req->nonce.len);
	job->misbehave = *device->misbehave;

	g_atomic_int_set(&device->current_token, (gint)token);
	device->keygen_started_us = g_get_monotonic_time();
	device->keygen_expected_s = job->misbehave.slow_keygen_s + 1;

	if (job->misbehave.silent_keygen_s == 0) {
		ProgressTick *tick = g_new0(ProgressTick, 1);
		tick->device = device;
		tick->token = token;
		if (device->progress_source != NULL) {
			g_source_destroy(device->progress_source);
			g_source_unref(device->progress_source);
		}
		device->progress_source = g_timeout_source_new(PROGRESS_PERIOD_MS);
		g_source_set_callback(device->progress_source, progress_tick, tick, g_free);
		g_source_attach(device->progress_source, NULL);
	}
	g_autoptr(GError) error = NULL;
	reap_keygen_jobs(device);
	job->thread = g_thread_try_new("phonesim-keygen", keygen_run, job, &error);
	if (job->thread == NULL) {
		g_atomic_int_set(&device->current_token, 0);
		keygen_job_free(job);
		ctp_device_session_set_error_text(device->session, error->message);
		return CTP_ERR_KEYGEN_FAILED;
	}
	g_ptr_array_add(device->keygen_jobs, job);
	return CTP_DEVICE_PENDING;
}

static void
op_cancel_csr(void *user, uint32_t token)
{
	PhonesimDevice *device = user;
	g_atomic_int_compare_and_exchange(&device->current_token, (gint)token, 0);
}

/* ---- staging ---- */

static void
staging_clear(PhonesimDevice *device)
{
	g_clear_pointer(&device->staged_cert, g_bytes_unref);
	g_ptr_array_set_size(device->staged_chain, 0);
	g_ptr_array_set_size(device->staged_anchors, 0);
	for (guint i = 0; i < PHONESIM_N_SETTINGS; i++)
		g_clear_pointer(&device->staged_settings[i], g_free);
	device->want_chain = device->want_anchors = 0;
}

static void
op_abort(void *user)
{
	staging_clear(user);
}

static uint16_t
op_stage_begin(void *user, const ctp_stage_begin_req *req)
{
	PhonesimDevice *device = user;
	staging_clear(device);
	device->want_chain = req->chain_count;
	device->want_anchors = req->anchor_count;
	return CTP_DEVICE_OK;
}

static uint16_t
op_stage_item(void *user, const ctp_stage_item_req *item)
{
	PhonesimDevice *device = user;
	GBytes *data = g_bytes_new(item->data.data, item->data.len);
	switch (item->kind) {
	case CTP_ITEM_CERTIFICATE:
		g_clear_pointer(&device->staged_cert, g_bytes_unref);
		device->staged_cert = data;
		break;
	case CTP_ITEM_CHAIN:
		g_ptr_array_add(device->staged_chain, data);
		break;
	case CTP_ITEM_ANCHOR:
		g_ptr_array_add(device->staged_anchors, data);
		break;
	case CTP_ITEM_SETTING: {
		gsize len = 0;
		const gchar *text = g_bytes_get_data(data, &len);
		if (!g_utf8_validate_len(text, len, NULL)) {
			g_bytes_unref(data);
			ctp_device_session_set_error_text(device->session,
			                                  "setting is not valid UTF-8");
			return CTP_ERR_BAD_MESSAGE;
		}
		g_free(device->staged_settings[item->setting]);
		device->staged_settings[item->setting] = g_strndup(text, len);
		g_bytes_unref(data);
		break;
	}
	default:
		g_bytes_unref(data);
		return CTP_ERR_BAD_MESSAGE;
	}
	return CTP_DEVICE_OK;
}

/* ---- COMMIT ---- */

static X509 *
parse_cert(GBytes *der)
{
	const guint8 *p = g_bytes_get_data(der, NULL);
	gsize len = g_bytes_get_size(der);
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (cert != NULL && p != (const guint8 *)g_bytes_get_data(der, NULL) + len) {
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* parse every staged DER certificate of list; NULL and the index of the bad one */
static PhonesimX509Stack *
parse_certs(GPtrArray *list, guint *bad)
{
	g_autoptr(PhonesimX509Stack) certs = sk_X509_new_null();
	for (guint i = 0; i < list->len; i++) {
		X509 *cert = parse_cert(g_ptr_array_index(list, i));
		if (cert == NULL) {
			*bad = i;
			return NULL;
		}
		sk_X509_push(certs, cert);
	}
	return g_steal_pointer(&certs);
}

/* leaf must chain through the staged intermediates to one of the anchors */
static gboolean
verify_chain(X509 *leaf, PhonesimX509Stack *chain, PhonesimX509Stack *anchors, gchar **reason)
{
	g_autoptr(X509_STORE) store = X509_STORE_new();
	g_autoptr(X509_STORE_CTX) ctx = X509_STORE_CTX_new();
	for (int i = 0; i < sk_X509_num(anchors); i++)
		X509_STORE_add_cert(store, sk_X509_value(anchors, i));
	/* an anchor is trusted as such even when it is not self-signed */
	X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
	if (X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
		ERR_clear_error();
		*reason = g_strdup("cannot set up chain verification");
		return FALSE;
	}
	if (X509_verify_cert(ctx) != 1) {
		*reason =
		    g_strdup_printf("certificate chain does not verify: %s",
		                    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		ERR_clear_error();
		return FALSE;
	}
	return TRUE;
}

/* everything COMMIT checks and does; the reason goes into the ERROR frame */
static uint16_t
commit_staged(PhonesimDevice *device, uint8_t cert_sha256[CTP_SHA256_SIZE], gchar **reason)
{
	PhonesimState *st = device->state;
	guint bad = 0;

	if (device->misbehave->refuse_install) {
		*reason = g_strdup("the phone's user declined the installation");
		return CTP_ERR_REFUSED;
	}
	g_autoptr(X509) leaf = parse_cert(device->staged_cert);
	if (leaf == NULL) {
		*reason = g_strdup("the certificate is not DER X.509");
		return CTP_ERR_CHAIN_INVALID;
	}
	if (st->pending_key == NULL) {
		*reason = g_strdup("no key is pending: CREATE_CSR first");
		return CTP_ERR_KEY_MISMATCH;
	}
	if (EVP_PKEY_eq(X509_get0_pubkey(leaf), st->pending_key) != 1) {
		*reason = g_strdup("the certificate is not for the pending key");
		return CTP_ERR_KEY_MISMATCH;
	}
	g_autoptr(PhonesimX509Stack) chain = parse_certs(device->staged_chain, &bad);
	if (chain == NULL) {
		*reason = g_strdup_printf("chain item %u is not DER X.509", bad);
		return CTP_ERR_CHAIN_INVALID;
	}
	g_autoptr(PhonesimX509Stack) staged_anchors = parse_certs(device->staged_anchors, &bad);
	if (staged_anchors == NULL) {
		*reason = g_strdup_printf("anchor item %u is not DER X.509", bad);
		return CTP_ERR_CHAIN_INVALID;
	}
	g_autoptr(PhonesimX509Stack) anchors = X509_chain_up_ref(staged_anchors);
	for (int i = 0; i < sk_X509_num(st->anchors); i++) {
		X509 *a = sk_X509_value(st->anchors, i);
		X509_up_ref(a);
		sk_X509_push(anchors, a);
	}
	if (!verify_chain(leaf, chain, anchors, reason))
		return CTP_ERR_CHAIN_INVALID;

	/* staged anchors replace the installed ones; none staged keeps them */
	g_autoptr(PhonesimX509Stack) install_anchors =
	    X509_chain_up_ref(sk_X509_num(staged_anchors) > 0 ? staged_anchors : st->anchors);
	gchar *settings[PHONESIM_N_SETTINGS] = {NULL};
	for (guint i = 1; i < PHONESIM_N_SETTINGS; i++)
		settings[i] = device->staged_settings[i] != NULL ? device->staged_settings[i]
		                                                 : st->settings[i];
	g_autoptr(GError) error = NULL;
	if (!phonesim_state_install(st, leaf, chain, install_anchors, settings, &error)) {
		*reason = g_strdup(error->message);
		return CTP_ERR_STORAGE;
	}
	g_autoptr(GBytes) der = phonesim_x509_der(leaf);
	phonesim_sha256(g_bytes_get_data(der, NULL), g_bytes_get_size(der), cert_sha256);
	return CTP_DEVICE_OK;
}

static uint16_t
op_commit(void *user, uint32_t txn_id, uint8_t cert_sha256[CTP_SHA256_SIZE])
{
	PhonesimDevice *device = user;
	g_autofree gchar *reason = NULL;
	(void)txn_id; /* the session library matched it against STAGE_BEGIN */
	uint16_t code = commit_staged(device, cert_sha256, &reason);
	if (reason != NULL)
		ctp_device_session_set_error_text(device->session, reason);
	return code;
}

static int
op_send(void *user, const uint8_t *frame, size_t len)
{
	PhonesimDevice *device = user;
	device->hooks->send(device->user, frame, len);
	return 0;
}

static const ctp_device_ops device_ops = {
    .get_info = op_get_info,
    .sign_identity = op_sign_identity,
    .get_status = op_get_status,
    .create_csr = op_create_csr,
    .stage_begin = op_stage_begin,
    .stage_item = op_stage_item,
    .commit = op_commit,
    .abort = op_abort,
    .cancel_csr = op_cancel_csr,
    .send = op_send,
};

const ctp_device_ops *
phonesim_device_get_ops(void)
{
	return &device_ops;
}

PhonesimDevice *
phonesim_device_new(PhonesimState *state,
                    const PhonesimConfig *config,
                    const PhonesimMisbehave *misbehave,
                    const PhonesimDeviceHooks *hooks,
                    gpointer user)
{
	PhonesimDevice *device = g_new0(PhonesimDevice, 1);
	device->state = state;
	device->config = config;
	device->misbehave = misbehave;
	device->hooks = hooks;
	device->user = user;
	device->staged_chain = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	device->staged_anchors = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	device->keygen_jobs = g_ptr_array_new();
	return device;
}

void
phonesim_device_attach(PhonesimDevice *device, ctp_device_session *session)
{
	device->session = session;
}

PhonesimState *
phonesim_device_get_state(PhonesimDevice *device)
{
	return device->state;
}

void
phonesim_device_shutdown(PhonesimDevice *device)
{
	g_atomic_int_set(&device->shutting_down, 1);
	/* the threads see shutting_down within a sleep step; join them without the lock,
	 * which they take to finish */
	device->hooks->lock(device->user);
	g_autoptr(GPtrArray) jobs = g_steal_pointer(&device->keygen_jobs);
	device->keygen_jobs = g_ptr_array_new();
	device->hooks->unlock(device->user);
	for (guint i = 0; i < jobs->len; i++) {
		KeygenJob *job = g_ptr_array_index(jobs, i);
		g_thread_join(job->thread);
		keygen_job_free(job);
	}
	device->hooks->lock(device->user);
	if (device->progress_source != NULL) {
		g_source_destroy(device->progress_source);
		g_clear_pointer(&device->progress_source, g_source_unref);
	}
	device->hooks->unlock(device->user);
}

void
phonesim_device_free(PhonesimDevice *device)
{
	if (device == NULL)
		return;
	phonesim_device_shutdown(device);
	staging_clear(device);
	g_ptr_array_unref(device->keygen_jobs);
	g_ptr_array_unref(device->staged_chain);
	g_ptr_array_unref(device->staged_anchors);
	g_clear_pointer(&device->status_cert, g_bytes_unref);
	phonesim_state_free(device->state);
	g_free(device);
}
