/*
 * phonesim on-disk state: identity key, pending key + CSR, the installed set,
 * written so that a crash at any point leaves a consistent state (see the header).
 */
#include "tests/phonesim/phonesim-state.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gstdio.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <string.h>
#include <unistd.h>

#define CONFIG_GROUP "phone"

static const struct {
	guint alg;
	const gchar *name;
} key_alg_names[] = {
    {CTP_KEY_RSA_2048, "rsa2048"},
    {CTP_KEY_RSA_3072, "rsa3072"},
    {CTP_KEY_EC_P256, "ec-p256"},
    {CTP_KEY_EC_P384, "ec-p384"},
};

const gchar *
phonesim_key_alg_name(guint alg)
{
	for (guint i = 0; i < G_N_ELEMENTS(key_alg_names); i++) {
		if (key_alg_names[i].alg == alg)
			return key_alg_names[i].name;
	}
	return "unknown";
}

gboolean
phonesim_key_algs_parse(const gchar *text, guint16 *mask, GError **error)
{
	g_auto(GStrv) names = g_strsplit(text, ",", -1);
	guint16 m = 0;
	for (guint i = 0; names[i] != NULL; i++) {
		const gchar *name = g_strstrip(names[i]);
		gboolean found = FALSE;
		for (guint k = 0; k < G_N_ELEMENTS(key_alg_names); k++) {
			if (g_strcmp0(name, key_alg_names[k].name) == 0) {
				m |= CTP_KEY_ALG_BIT(key_alg_names[k].alg);
				found = TRUE;
			}
		}
		if (!found) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "unknown key algorithm '%s' (known: rsa2048, rsa3072, "
			            "ec-p256, ec-p384)",
			            name);
			return FALSE;
		}
	}
	if (m == 0) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		                    "at least one key algorithm is needed");
		return FALSE;
	}
	*mask = m;
	return TRUE;
}

gchar *
phonesim_key_algs_to_string(guint16 mask)
{
	GString *s = g_string_new(NULL);
	for (guint i = 0; i < G_N_ELEMENTS(key_alg_names); i++) {
		if (mask & CTP_KEY_ALG_BIT(key_alg_names[i].alg)) {
			if (s->len > 0)
				g_string_append_c(s, ',');
			g_string_append(s, key_alg_names[i].name);
		}
	}
	return g_string_free(s, FALSE);
}

void
phonesim_config_clear(PhonesimConfig *config)
{
	g_clear_pointer(&config->serial, g_free);
	g_clear_pointer(&config->vendor, g_free);
	g_clear_pointer(&config->model, g_free);
	g_clear_pointer(&config->firmware, g_free);
}

void
phonesim_config_copy(PhonesimConfig *dst, const PhonesimConfig *src)
{
	phonesim_config_clear(dst);
	*dst = *src;
	dst->serial = g_strdup(src->serial);
	dst->vendor = g_strdup(src->vendor);
	dst->model = g_strdup(src->model);
	dst->firmware = g_strdup(src->firmware);
}

void
phonesim_sha256(const guint8 *data, gsize len, guint8 out[CTP_SHA256_SIZE])
{
	unsigned int n = CTP_SHA256_SIZE;
	if (!EVP_Digest(data, len, out, &n, EVP_sha256(), NULL))
		g_error("phonesim: SHA-256 failed"); /* only on memory exhaustion */
}

GBytes *
phonesim_x509_der(X509 *cert)
{
	guint8 *der = NULL;
	int n = i2d_X509(cert, &der);
	if (n <= 0)
		return NULL;
	GBytes *b = g_bytes_new(der, (gsize)n);
	OPENSSL_free(der);
	return b;
}

gchar *
phonesim_hex(const guint8 *data, gsize len)
{
	gchar *s = g_malloc(2 * len + 1);
	for (gsize i = 0; i < len; i++)
		g_snprintf(s + 2 * i, 3, "%02x", data[i]);
	s[2 * len] = '\0';
	return s;
}

static void
set_openssl_error(GError **error, const gchar *what)
{
	unsigned long e = ERR_get_error();
	gchar buf[256] = "unknown error";
	if (e != 0)
		ERR_error_string_n(e, buf, sizeof buf);
	ERR_clear_error();
	g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s: %s", what, buf);
}

/* ---- durable file writes ---- */

static gboolean
fsync_path(const gchar *path, GError **error)
{
	int fd = g_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot sync %s: %s", path,
		            g_strerror(e));
		return FALSE;
	}
	close(fd);
	return TRUE;
}

/* write path with data and fsync it (no rename: the caller decides) */
static gboolean
write_synced(const gchar *path, const void *data, gsize len, GError **error)
{
	int fd = g_open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot create %s: %s",
		            path, g_strerror(e));
		return FALSE;
	}
	const guint8 *p = data;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int e = errno;
			close(fd);
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
			            "cannot write %s: %s", path, g_strerror(e));
			return FALSE;
		}
		p += n;
		len -= (gsize)n;
	}
	if (fsync(fd) != 0) {
		int e = errno;
		close(fd);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot sync %s: %s", path,
		            g_strerror(e));
		return FALSE;
	}
	close(fd);
	return TRUE;
}

/* replace dir/name atomically: write name.tmp, fsync, rename, fsync dir */
static gboolean
replace_file(const gchar *dir, const gchar *name, const void *data, gsize len, GError **error)
{
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	g_autofree gchar *tmp = g_strconcat(path, ".tmp", NULL);
	if (!write_synced(tmp, data, len, error))
		return FALSE;
	if (g_rename(tmp, path) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot rename %s: %s",
		            tmp, g_strerror(e));
		g_unlink(tmp);
		return FALSE;
	}
	return fsync_path(dir, error);
}

static gboolean
remove_tree(const gchar *path, GError **error)
{
	g_autoptr(GFile) file = g_file_new_for_path(path);
	g_autoptr(GFileEnumerator) en = g_file_enumerate_children(
	    file, G_FILE_ATTRIBUTE_STANDARD_NAME, G_FILE_QUERY_INFO_NOFOLLOW_SYMLINKS, NULL, NULL);
	if (en != NULL) {
		GFileInfo *info;
		while ((info = g_file_enumerator_next_file(en, NULL, NULL)) != NULL) {
			g_autofree gchar *child =
			    g_build_filename(path, g_file_info_get_name(info), NULL);
			g_object_unref(info);
			if (g_unlink(child) != 0 && !remove_tree(child, error))
				return FALSE;
		}
	}
	if (g_rmdir(path) != 0 && errno != ENOENT) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot remove %s: %s",
		            path, g_strerror(e));
		return FALSE;
	}
	return TRUE;
}

/* ---- PEM / DER helpers ---- */

static GBytes *
key_to_pem(EVP_PKEY *key)
{
	BIO *bio = BIO_new(BIO_s_mem());
	if (!PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL)) {
		BIO_free(bio);
		return NULL;
	}
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	GBytes *b = g_bytes_new(data, (gsize)n);
	BIO_free(bio);
	return b;
}

static EVP_PKEY *
key_from_pem_file(const gchar *path, GError **error)
{
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &pem, &len, error))
		return NULL;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (key == NULL)
		set_openssl_error(error, path);
	return key;
}

static X509 *
cert_from_der_file(const gchar *path, GError **error)
{
	g_autofree gchar *der = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &der, &len, error))
		return NULL;
	const unsigned char *p = (const unsigned char *)der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL)
		set_openssl_error(error, path);
	return cert;
}

static gboolean
write_cert(const gchar *dir, const gchar *name, X509 *cert, GError **error)
{
	g_autoptr(GBytes) der = phonesim_x509_der(cert);
	g_autofree gchar *path = g_build_filename(dir, name, NULL);
	if (der == NULL) {
		set_openssl_error(error, "cannot encode a certificate");
		return FALSE;
	}
	return write_synced(path, g_bytes_get_data(der, NULL), g_bytes_get_size(der), error);
}

/* ---- identity ---- */

static gboolean
load_identity(PhonesimState *state, GError **error)
{
	g_autofree gchar *path = g_build_filename(state->dir, "identity.pem", NULL);
	if (g_file_test(path, G_FILE_TEST_EXISTS)) {
		state->identity_key = key_from_pem_file(path, error);
		if (state->identity_key == NULL)
			return FALSE;
	} else {
		state->identity_key = EVP_EC_gen("P-256");
		if (state->identity_key == NULL) {
			set_openssl_error(error, "cannot generate the identity key");
			return FALSE;
		}
		g_autoptr(GBytes) pem = key_to_pem(state->identity_key);
		if (pem == NULL ||
		    !replace_file(state->dir, "identity.pem", g_bytes_get_data(pem, NULL),
		                  g_bytes_get_size(pem), error))
			return FALSE;
	}
	if (EVP_PKEY_get_base_id(state->identity_key) != EVP_PKEY_EC) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s is not an EC key",
		            path);
		return FALSE;
	}
	guint8 *spki = NULL;
	int n = i2d_PUBKEY(state->identity_key, &spki);
	if (n <= 0) {
		set_openssl_error(error, "cannot encode the identity key");
		return FALSE;
	}
	state->identity_spki = g_bytes_new(spki, (gsize)n);
	OPENSSL_free(spki);
	return TRUE;
}

/* ---- pending ---- */

static gboolean
load_pending(PhonesimState *state, GError **error)
{
	g_autofree gchar *path = g_build_filename(state->dir, "pending.pem", NULL);
	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return TRUE;
	g_autofree gchar *pem = NULL;
	gsize len = 0;
	if (!g_file_get_contents(path, &pem, &len, error))
		return FALSE;
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	EVP_PKEY *key = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	X509_REQ *req = key != NULL ? PEM_read_bio_X509_REQ(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (key == NULL || req == NULL) {
		EVP_PKEY_free(key);
		set_openssl_error(error, path);
		return FALSE;
	}
	guint8 *der = NULL;
	int n = i2d_X509_REQ(req, &der);
	X509_REQ_free(req);
	if (n <= 0) {
		EVP_PKEY_free(key);
		set_openssl_error(error, path);
		return FALSE;
	}
	state->pending_key = key;
	state->pending_csr = g_bytes_new(der, (gsize)n);
	OPENSSL_free(der);
	return TRUE;
}

gboolean
phonesim_state_set_pending(PhonesimState *state, EVP_PKEY *key, GBytes *csr, GError **error)
{
	BIO *bio = BIO_new(BIO_s_mem());
	const unsigned char *p = g_bytes_get_data(csr, NULL);
	X509_REQ *req = d2i_X509_REQ(NULL, &p, (long)g_bytes_get_size(csr));
	gboolean ok = req != NULL &&
	              PEM_write_bio_PrivateKey(bio, key, NULL, NULL, 0, NULL, NULL) &&
	              PEM_write_bio_X509_REQ(bio, req);
	X509_REQ_free(req);
	if (!ok) {
		BIO_free(bio);
		set_openssl_error(error, "cannot encode the pending key");
		return FALSE;
	}
	char *data = NULL;
	long n = BIO_get_mem_data(bio, &data);
	ok = replace_file(state->dir, "pending.pem", data, (gsize)n, error);
	BIO_free(bio);
	if (!ok)
		return FALSE;
	EVP_PKEY_free(state->pending_key);
	EVP_PKEY_up_ref(key);
	state->pending_key = key;
	g_clear_pointer(&state->pending_csr, g_bytes_unref);
	state->pending_csr = g_bytes_ref(csr);
	return TRUE;
}

static gboolean
clear_pending(PhonesimState *state, GError **error)
{
	g_autofree gchar *path = g_build_filename(state->dir, "pending.pem", NULL);
	if (g_unlink(path) != 0 && errno != ENOENT) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot remove %s: %s",
		            path, g_strerror(e));
		return FALSE;
	}
	g_clear_pointer(&state->pending_key, EVP_PKEY_free);
	g_clear_pointer(&state->pending_csr, g_bytes_unref);
	return fsync_path(state->dir, error);
}

/* ---- installed set ---- */

static gboolean
load_cert_list(const gchar *dir, const gchar *prefix, STACK_OF(X509) * list, GError **error)
{
	for (guint i = 0;; i++) {
		g_autofree gchar *name = g_strdup_printf("%s-%u.der", prefix, i);
		g_autofree gchar *path = g_build_filename(dir, name, NULL);
		if (!g_file_test(path, G_FILE_TEST_EXISTS))
			return TRUE;
		X509 *cert = cert_from_der_file(path, error);
		if (cert == NULL)
			return FALSE;
		sk_X509_push(list, cert);
	}
}

static const gchar *const setting_keys[PHONESIM_N_SETTINGS] = {
    NULL,
    "web-service-url",
    "registrar",
    "sip-uri",
};

static gboolean
load_installed(PhonesimState *state, GError **error)
{
	g_autofree gchar *link = g_build_filename(state->dir, "installed", NULL);
	g_autofree gchar *target = g_file_read_link(link, NULL);

	/* drop sets that an interrupted install left behind */
	g_autoptr(GDir) d = g_dir_open(state->dir, 0, error);
	if (d == NULL)
		return FALSE;
	const gchar *name;
	while ((name = g_dir_read_name(d)) != NULL) {
		if (g_str_has_prefix(name, "set-") && g_strcmp0(name, target) != 0) {
			g_autofree gchar *path = g_build_filename(state->dir, name, NULL);
			if (!remove_tree(path, error))
				return FALSE;
		}
		if (g_str_has_suffix(name, ".tmp")) {
			g_autofree gchar *path = g_build_filename(state->dir, name, NULL);
			g_unlink(path);
		}
	}
	if (target == NULL)
		return TRUE;
	if (!g_str_has_prefix(target, "set-") || strchr(target, '/') != NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "%s points to %s, expected set-N", link, target);
		return FALSE;
	}
	state->generation = (guint)g_ascii_strtoull(target + 4, NULL, 10);

	g_autofree gchar *set = g_build_filename(state->dir, target, NULL);
	g_autofree gchar *cert_path = g_build_filename(set, "cert.der", NULL);
	g_autofree gchar *key_path = g_build_filename(set, "key.pem", NULL);
	state->cert = cert_from_der_file(cert_path, error);
	if (state->cert == NULL)
		return FALSE;
	state->key = key_from_pem_file(key_path, error);
	if (state->key == NULL)
		return FALSE;
	if (!load_cert_list(set, "chain", state->chain, error) ||
	    !load_cert_list(set, "anchor", state->anchors, error))
		return FALSE;

	g_autofree gchar *settings_path = g_build_filename(set, "settings.conf", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	if (!g_key_file_load_from_file(kf, settings_path, G_KEY_FILE_NONE, error))
		return FALSE;
	for (guint i = 1; i < PHONESIM_N_SETTINGS; i++)
		state->settings[i] = g_key_file_get_string(kf, "settings", setting_keys[i], NULL);

	/* the crash window between "installed" and "pending removed" */
	g_autofree gchar *consumed_path = g_build_filename(set, "consumed-csr.sha256", NULL);
	g_autofree gchar *consumed = NULL;
	if (state->pending_csr != NULL &&
	    g_file_get_contents(consumed_path, &consumed, NULL, NULL)) {
		guint8 digest[CTP_SHA256_SIZE];
		phonesim_sha256(g_bytes_get_data(state->pending_csr, NULL),
		                g_bytes_get_size(state->pending_csr), digest);
		g_autofree gchar *hex = phonesim_hex(digest, sizeof digest);
		if (g_strcmp0(g_strstrip(consumed), hex) == 0 && !clear_pending(state, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
phonesim_state_install(PhonesimState *state,
                       X509 *cert,
                       STACK_OF(X509) * chain,
                       STACK_OF(X509) * anchors,
                       gchar *const *settings,
                       GError **error)
{
	if (state->pending_key == NULL) {
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_FAILED, "no key is pending");
		return FALSE;
	}
	guint generation = state->generation + 1;
	g_autofree gchar *set_name = g_strdup_printf("set-%u", generation);
	g_autofree gchar *set = g_build_filename(state->dir, set_name, NULL);

	/* a leftover of an interrupted attempt with the same number goes first */
	if (g_file_test(set, G_FILE_TEST_EXISTS) && !remove_tree(set, error))
		return FALSE;
	if (g_mkdir(set, 0700) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot create %s: %s",
		            set, g_strerror(e));
		return FALSE;
	}
	if (!write_cert(set, "cert.der", cert, error))
		return FALSE;
	g_autoptr(GBytes) key_pem = key_to_pem(state->pending_key);
	g_autofree gchar *key_path = g_build_filename(set, "key.pem", NULL);
	if (key_pem == NULL) {
		set_openssl_error(error, "cannot encode the key");
		return FALSE;
	}
	if (!write_synced(key_path, g_bytes_get_data(key_pem, NULL), g_bytes_get_size(key_pem),
	                  error))
		return FALSE;
	for (int i = 0; i < sk_X509_num(chain); i++) {
		g_autofree gchar *name = g_strdup_printf("chain-%d.der", i);
		if (!write_cert(set, name, sk_X509_value(chain, i), error))
			return FALSE;
	}
	for (int i = 0; i < sk_X509_num(anchors); i++) {
		g_autofree gchar *name = g_strdup_printf("anchor-%d.der", i);
		if (!write_cert(set, name, sk_X509_value(anchors, i), error))
			return FALSE;
	}
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_key_file_set_string(kf, "settings", "generation", set_name);
	for (guint i = 1; i < PHONESIM_N_SETTINGS; i++) {
		if (settings[i] != NULL)
			g_key_file_set_string(kf, "settings", setting_keys[i], settings[i]);
	}
	gsize kf_len = 0;
	g_autofree gchar *kf_data = g_key_file_to_data(kf, &kf_len, NULL);
	g_autofree gchar *settings_path = g_build_filename(set, "settings.conf", NULL);
	if (!write_synced(settings_path, kf_data, kf_len, error))
		return FALSE;
	guint8 digest[CTP_SHA256_SIZE];
	phonesim_sha256(g_bytes_get_data(state->pending_csr, NULL),
	                g_bytes_get_size(state->pending_csr), digest);
	g_autofree gchar *hex = phonesim_hex(digest, sizeof digest);
	g_autofree gchar *consumed_path = g_build_filename(set, "consumed-csr.sha256", NULL);
	if (!write_synced(consumed_path, hex, strlen(hex), error) || !fsync_path(set, error))
		return FALSE;

	/* the switch: one rename of a symlink */
	g_autofree gchar *link = g_build_filename(state->dir, "installed", NULL);
	g_autofree gchar *link_tmp = g_build_filename(state->dir, "installed.tmp", NULL);
	g_unlink(link_tmp);
	if (symlink(set_name, link_tmp) != 0 || g_rename(link_tmp, link) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e),
		            "cannot switch %s to %s: %s", link, set_name, g_strerror(e));
		g_unlink(link_tmp);
		return FALSE;
	}
	if (!fsync_path(state->dir, error))
		return FALSE;

	/* from here on the new set is installed; what follows is tidying up */
	if (state->generation > 0) {
		g_autofree gchar *old_name = g_strdup_printf("set-%u", state->generation);
		g_autofree gchar *old = g_build_filename(state->dir, old_name, NULL);
		g_autoptr(GError) error_local = NULL;
		if (!remove_tree(old, &error_local))
			g_warning("phonesim: %s", error_local->message);
	}
	state->generation = generation;
	g_clear_pointer(&state->cert, X509_free);
	X509_up_ref(cert);
	state->cert = cert;
	g_clear_pointer(&state->key, EVP_PKEY_free);
	state->key = state->pending_key;
	EVP_PKEY_up_ref(state->key);
	sk_X509_pop_free(state->chain, X509_free);
	state->chain = X509_chain_up_ref(chain);
	sk_X509_pop_free(state->anchors, X509_free);
	state->anchors = X509_chain_up_ref(anchors);
	/* settings[] may point at the current values (those kept): copy before freeing */
	for (guint i = 1; i < PHONESIM_N_SETTINGS; i++) {
		gchar *value = g_strdup(settings[i]);
		g_free(state->settings[i]);
		state->settings[i] = value;
	}
	return clear_pending(state, error);
}

/* ---- config ---- */

gboolean
phonesim_state_load_config(PhonesimState *state, PhonesimConfig *config, GError **error)
{
	g_autofree gchar *path = g_build_filename(state->dir, "phone.conf", NULL);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	if (!g_file_test(path, G_FILE_TEST_EXISTS))
		return FALSE;
	if (!g_key_file_load_from_file(kf, path, G_KEY_FILE_NONE, error))
		return FALSE;
	g_autofree gchar *algs = g_key_file_get_string(kf, CONFIG_GROUP, "key-algs", error);
	if (algs == NULL || !phonesim_key_algs_parse(algs, &config->key_algs, error))
		return FALSE;
	phonesim_config_clear(config);
	config->serial = g_key_file_get_string(kf, CONFIG_GROUP, "serial", NULL);
	config->vendor = g_key_file_get_string(kf, CONFIG_GROUP, "vendor", NULL);
	config->model = g_key_file_get_string(kf, CONFIG_GROUP, "model", NULL);
	config->firmware = g_key_file_get_string(kf, CONFIG_GROUP, "firmware", NULL);
	config->max_chain = (guint)g_key_file_get_integer(kf, CONFIG_GROUP, "max-chain", NULL);
	config->max_anchors = (guint)g_key_file_get_integer(kf, CONFIG_GROUP, "max-anchors", NULL);
	config->max_frame = (guint)g_key_file_get_integer(kf, CONFIG_GROUP, "max-frame", NULL);
	if (config->serial == NULL || config->vendor == NULL || config->model == NULL ||
	    config->firmware == NULL) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
		            "%s lacks serial, vendor, model or firmware", path);
		return FALSE;
	}
	return TRUE;
}

gboolean
phonesim_state_save_config(PhonesimState *state, const PhonesimConfig *config, GError **error)
{
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autofree gchar *algs = phonesim_key_algs_to_string(config->key_algs);
	g_key_file_set_string(kf, CONFIG_GROUP, "serial", config->serial);
	g_key_file_set_string(kf, CONFIG_GROUP, "vendor", config->vendor);
	g_key_file_set_string(kf, CONFIG_GROUP, "model", config->model);
	g_key_file_set_string(kf, CONFIG_GROUP, "firmware", config->firmware);
	g_key_file_set_string(kf, CONFIG_GROUP, "key-algs", algs);
	g_key_file_set_integer(kf, CONFIG_GROUP, "max-chain", (gint)config->max_chain);
	g_key_file_set_integer(kf, CONFIG_GROUP, "max-anchors", (gint)config->max_anchors);
	g_key_file_set_integer(kf, CONFIG_GROUP, "max-frame", (gint)config->max_frame);
	gsize len = 0;
	g_autofree gchar *data = g_key_file_to_data(kf, &len, NULL);
	return replace_file(state->dir, "phone.conf", data, len, error);
}

/* ---- open / free ---- */

PhonesimState *
phonesim_state_open(const gchar *dir, GError **error)
{
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		int e = errno;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(e), "cannot create %s: %s",
		            dir, g_strerror(e));
		return NULL;
	}
	g_autoptr(PhonesimState) state = g_new0(PhonesimState, 1);
	state->dir = g_strdup(dir);
	state->chain = sk_X509_new_null();
	state->anchors = sk_X509_new_null();
	if (!load_identity(state, error) || !load_pending(state, error) ||
	    !load_installed(state, error)) {
		g_prefix_error(error, "phone state in %s: ", dir);
		return NULL;
	}
	return g_steal_pointer(&state);
}

void
phonesim_state_free(PhonesimState *state)
{
	if (state == NULL)
		return;
	EVP_PKEY_free(state->identity_key);
	g_clear_pointer(&state->identity_spki, g_bytes_unref);
	EVP_PKEY_free(state->pending_key);
	g_clear_pointer(&state->pending_csr, g_bytes_unref);
	X509_free(state->cert);
	EVP_PKEY_free(state->key);
	sk_X509_pop_free(state->chain, X509_free);
	sk_X509_pop_free(state->anchors, X509_free);
	for (guint i = 0; i < PHONESIM_N_SETTINGS; i++)
		g_free(state->settings[i]);
	g_free(state->dir);
	g_free(state);
}
