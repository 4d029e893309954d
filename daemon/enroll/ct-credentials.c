#include "daemon/enroll/ct-credentials.h"

#include <errno.h>
#include <fcntl.h>
#include <gssapi/gssapi.h>
#include <gssapi/gssapi_ext.h>
#include <gssapi/gssapi_krb5.h>
#include <libsecret/secret.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "daemon/engine/ct-x509.h"

struct _CtCredentials {
	GObject parent_instance;
	GMutex mutex;
	CtAuthMethod method;
	gchar *username; /* configured user name (Basic), or NULL */
	CtAuthMethod method_in_use;
	gchar *principal;        /* who we authenticate as */
	gchar *password;         /* Basic only; wiped on finalize */
	gchar *ccache;           /* Kerberos ticket cache name, or NULL for the default */
	gchar *client_cert_file; /* CERTIFICATE: PEM certificate (+ chain) */
	gchar *client_key_file;  /* CERTIFICATE: PEM private key (read to check it only) */
	X509 *client_cert;       /* CERTIFICATE: the leaf, once ensured */
	CtPromptFunc prompt_func;
	gpointer prompt_data;
	GDestroyNotify prompt_destroy;
};

G_DEFINE_TYPE(CtCredentials, ct_credentials, G_TYPE_OBJECT)

/* the keyring item is looked up by the service host and the user name */
static const SecretSchema *
ct_credentials_get_schema(void)
{
	static const SecretSchema schema = {
	    "org.certtether.Password",
	    SECRET_SCHEMA_NONE,
	    {
	        {"server", SECRET_SCHEMA_ATTRIBUTE_STRING},
	        {"user", SECRET_SCHEMA_ATTRIBUTE_STRING},
	        {NULL, 0},
	    },
	    0,
	    NULL,
	    NULL,
	    NULL,
	    NULL,
	    NULL,
	    NULL,
	    NULL,
	};
	return &schema;
}

/* overwrite a secret before its memory goes back to the allocator */
static void
ct_credentials_wipe_string(gchar **secret)
{
	if (*secret == NULL)
		return;
	explicit_bzero(*secret, strlen(*secret));
	g_clear_pointer(secret, g_free);
}

static void
ct_credentials_finalize(GObject *object)
{
	CtCredentials *self = CT_CREDENTIALS(object);
	ct_credentials_wipe_string(&self->password);
	g_free(self->username);
	g_free(self->principal);
	g_free(self->ccache);
	g_free(self->client_cert_file);
	g_free(self->client_key_file);
	g_clear_pointer(&self->client_cert, X509_free);
	if (self->prompt_destroy != NULL)
		self->prompt_destroy(self->prompt_data);
	g_mutex_clear(&self->mutex);
	G_OBJECT_CLASS(ct_credentials_parent_class)->finalize(object);
}

static void
ct_credentials_class_init(CtCredentialsClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = ct_credentials_finalize;
}

static void
ct_credentials_init(CtCredentials *self)
{
	g_mutex_init(&self->mutex);
	self->method_in_use = CT_AUTH_METHOD_AUTO;
}

CtCredentials *
ct_credentials_new(CtAuthMethod method, const gchar *username)
{
	CtCredentials *self = g_object_new(CT_TYPE_CREDENTIALS, NULL);
	self->method = method;
	self->username = username != NULL && username[0] != '\0' ? g_strdup(username) : NULL;
	return self;
}

void
ct_credentials_set_prompt_func(CtCredentials *self,
                               CtPromptFunc func,
                               gpointer user_data,
                               GDestroyNotify destroy)
{
	g_return_if_fail(CT_IS_CREDENTIALS(self));
	g_mutex_lock(&self->mutex);
	if (self->prompt_destroy != NULL)
		self->prompt_destroy(self->prompt_data);
	self->prompt_func = func;
	self->prompt_data = user_data;
	self->prompt_destroy = destroy;
	g_mutex_unlock(&self->mutex);
}

void
ct_credentials_set_ccache(CtCredentials *self, const gchar *ccache)
{
	g_return_if_fail(CT_IS_CREDENTIALS(self));
	g_mutex_lock(&self->mutex);
	g_free(self->ccache);
	self->ccache = ccache != NULL && ccache[0] != '\0' ? g_strdup(ccache) : NULL;
	g_mutex_unlock(&self->mutex);
}

const gchar *
ct_credentials_get_ccache(CtCredentials *self)
{
	g_return_val_if_fail(CT_IS_CREDENTIALS(self), NULL);
	return self->ccache;
}

void
ct_credentials_set_client_certificate(CtCredentials *self,
                                      const gchar *cert_file,
                                      const gchar *key_file)
{
	g_return_if_fail(CT_IS_CREDENTIALS(self));
	g_mutex_lock(&self->mutex);
	g_free(self->client_cert_file);
	g_free(self->client_key_file);
	self->client_cert_file =
	    cert_file != NULL && cert_file[0] != '\0' ? g_strdup(cert_file) : NULL;
	self->client_key_file = key_file != NULL && key_file[0] != '\0' ? g_strdup(key_file) : NULL;
	g_mutex_unlock(&self->mutex);
}

/*
 * Open a private key file and check it is one certtether may use (see
 * ct_credentials_check_key_file()); the open descriptor and its size, or -1.
 * The checks are made on the descriptor, so that they hold for what is read.
 */
static gint
ct_credentials_open_key_file(const gchar *path, gsize *size, GError **error)
{
	struct stat st;
	gint fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		gint saved = errno;
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "cannot read %s: %s", path,
		            g_strerror(saved));
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s is not a regular file: give the PEM file of the private key", path);
		close(fd);
		return -1;
	}
	/* a key others may read is no longer the user's secret: refuse it, as ssh does */
	if ((st.st_mode & (S_IRWXG | S_IRWXO)) != 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s is accessible by group or others (mode %04o): a private key must "
		            "be readable by its owner only; run chmod 600 %s",
		            path, (guint)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	if (st.st_size > CT_CREDENTIALS_MAX_KEY_FILE) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s is too large for a PEM private key (more than %u bytes)", path,
		            (guint)CT_CREDENTIALS_MAX_KEY_FILE);
		close(fd);
		return -1;
	}
	*size = (gsize)st.st_size;
	return fd;
}

gboolean
ct_credentials_check_key_file(const gchar *path, GError **error)
{
	gsize size = 0;
	gint fd;
	g_return_val_if_fail(path != NULL, FALSE);
	fd = ct_credentials_open_key_file(path, &size, error);
	if (fd < 0)
		return FALSE;
	close(fd);
	return TRUE;
}

/* OpenSSL asks for a passphrase: there is nobody to type one, say so afterwards */
static int
ct_credentials_refuse_passphrase(char *buf, int size, int rwflag, void *user_data)
{
	gboolean *asked = user_data;
	(void)buf;
	(void)size;
	(void)rwflag;
	*asked = TRUE;
	return -1;
}

/* the private key of a PEM file, after the file checks; the bytes read are wiped */
static EVP_PKEY *
ct_credentials_load_key(const gchar *path, GError **error)
{
	gsize size = 0;
	gsize len = 0;
	gchar *buf;
	gint read_errno = 0;
	gboolean asked = FALSE;
	EVP_PKEY *key = NULL;
	BIO *bio;
	gint fd = ct_credentials_open_key_file(path, &size, error);

	if (fd < 0)
		return NULL;
	/* one byte more than allowed tells a file that grew since fstat() */
	buf = g_malloc0(CT_CREDENTIALS_MAX_KEY_FILE + 1);
	while (len < CT_CREDENTIALS_MAX_KEY_FILE + 1) {
		gssize n = read(fd, buf + len, CT_CREDENTIALS_MAX_KEY_FILE + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			read_errno = errno;
		if (n <= 0)
			break;
		len += (gsize)n;
	}
	close(fd);
	if (read_errno != 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG, "cannot read %s: %s", path,
		            g_strerror(read_errno));
	} else if (len > CT_CREDENTIALS_MAX_KEY_FILE) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "%s is too large for a PEM private key (more than %u bytes)", path,
		            (guint)CT_CREDENTIALS_MAX_KEY_FILE);
	} else {
		bio = BIO_new_mem_buf(buf, (int)len);
		if (bio != NULL)
			key = PEM_read_bio_PrivateKey(bio, NULL, ct_credentials_refuse_passphrase,
			                              &asked);
		BIO_free(bio);
		ERR_clear_error();
		if (key == NULL && asked)
			g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
			            "%s is protected by a passphrase, which certtether cannot ask "
			            "for: store the key unencrypted (openssl pkey -in %s -out "
			            "NEW.key) and keep it private with its file mode (600)",
			            path, path);
		else if (key == NULL)
			g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
			            "%s holds no PEM private key (-----BEGIN PRIVATE KEY-----)",
			            path);
	}
	explicit_bzero(buf, CT_CREDENTIALS_MAX_KEY_FILE + 1);
	g_free(buf);
	return key;
}

/* "2027-01-31 12:00 UTC" */
static gchar *
ct_credentials_format_time(gint64 unix_time)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_utc(unix_time);
	return dt != NULL ? g_date_time_format(dt, "%Y-%m-%d %H:%M UTC") : g_strdup("?");
}

/*
 * The client certificate and its key, checked as a TLS server would (and a bit more):
 * every problem is said here, before anything is sent
 */
static gboolean
ct_credentials_ensure_certificate(CtCredentials *self, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(CtX509Stack) certs = NULL;
	g_autoptr(EVP_PKEY) key = NULL;
	g_autofree gchar *subject = NULL;
	gint64 not_before = 0, not_after = 0;
	gint64 now = g_get_real_time() / G_USEC_PER_SEC;
	X509 *leaf;

	if (self->client_cert_file == NULL || self->client_key_file == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CONFIG,
		                    "certificate authentication needs a client certificate and "
		                    "its key: set client-cert and client-key in [identity] of "
		                    "certtether.conf");
		return FALSE;
	}
	certs = ct_x509_load_pem_file(self->client_cert_file, &error_local);
	if (certs == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "the client certificate ([identity] client-cert) cannot be used: %s",
		            error_local->message);
		return FALSE;
	}
	leaf = sk_X509_value(certs, 0);
	subject = ct_x509_subject_string(leaf);
	key = ct_credentials_load_key(self->client_key_file, &error_local);
	if (key == NULL) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "the client key ([identity] client-key) cannot be used: %s",
		            error_local->message);
		return FALSE;
	}
	if (X509_check_private_key(leaf, key) != 1) {
		ERR_clear_error();
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "the client key %s does not belong to the client certificate %s "
		            "('%s'): set [identity] client-key to that certificate's key",
		            self->client_key_file, self->client_cert_file, subject);
		return FALSE;
	}
	if (X509_check_purpose(leaf, X509_PURPOSE_SSL_CLIENT, 0) != 1) {
		ERR_clear_error();
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "the client certificate %s ('%s') is not meant for TLS client "
		            "authentication (its key usage or extended key usage does not allow "
		            "clientAuth): use the user's authentication certificate",
		            self->client_cert_file, subject);
		return FALSE;
	}
	if (!ct_x509_get_validity(leaf, &not_before, &not_after)) {
		g_set_error(error, CT_ERROR, CT_ERROR_CONFIG,
		            "the client certificate %s ('%s') has an unreadable validity period",
		            self->client_cert_file, subject);
		return FALSE;
	}
	if (now < not_before) {
		g_autofree gchar *when = ct_credentials_format_time(not_before);
		g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		            "the client certificate %s ('%s') is not valid before %s: check the "
		            "clock",
		            self->client_cert_file, subject, when);
		return FALSE;
	}
	if (now > not_after) {
		g_autofree gchar *when = ct_credentials_format_time(not_after);
		g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		            "the client certificate %s ('%s') expired on %s: get a new certificate "
		            "and point client-cert and client-key in [identity] to it",
		            self->client_cert_file, subject, when);
		return FALSE;
	}
	/* keep the one handed out by ct_credentials_dup_certificate() when unchanged */
	if (self->client_cert == NULL || X509_cmp(self->client_cert, leaf) != 0) {
		g_clear_pointer(&self->client_cert, X509_free);
		self->client_cert = sk_X509_delete(certs, 0);
		g_free(self->principal);
		self->principal = g_steal_pointer(&subject);
	}
	self->method_in_use = CT_AUTH_METHOD_CERTIFICATE;
	g_debug("TLS client certificate %s (%s)", self->client_cert_file, self->principal);
	return TRUE;
}

/* the GSS-API status text, for debug logs only */
static gchar *
ct_credentials_gss_status(OM_uint32 major, OM_uint32 minor)
{
	GString *out = g_string_new(NULL);
	OM_uint32 codes[2] = {major, minor};
	int types[2] = {GSS_C_GSS_CODE, GSS_C_MECH_CODE};
	for (guint i = 0; i < 2; i++) {
		OM_uint32 ctx = 0, min2 = 0;
		do {
			gss_buffer_desc msg = GSS_C_EMPTY_BUFFER;
			if (GSS_ERROR(gss_display_status(&min2, codes[i], types[i], GSS_C_NO_OID,
			                                 &ctx, &msg)))
				break;
			if (out->len > 0)
				g_string_append(out, "; ");
			g_string_append_len(out, msg.value, (gssize)msg.length);
			gss_release_buffer(&min2, &msg);
		} while (ctx != 0);
	}
	return g_string_free(out, FALSE);
}

typedef enum {
	CT_KRB_OK,
	CT_KRB_NONE,    /* no ticket at all */
	CT_KRB_EXPIRED, /* a ticket cache, but its ticket has expired */
} CtKrbState;

/*
 * Look at the session's Kerberos credentials through GSS-API (which honours
 * KRB5CCNAME and the collection of the session), or at the named @ccache,
 * without contacting anyone.
 */
static CtKrbState
ct_credentials_inspect_kerberos(const gchar *ccache, gchar **principal, guint32 *lifetime_out)
{
	OM_uint32 major, minor = 0, lifetime = 0;
	gss_cred_id_t cred = GSS_C_NO_CREDENTIAL;
	gss_name_t name = GSS_C_NO_NAME;
	gss_buffer_desc display = GSS_C_EMPTY_BUFFER;
	gss_OID_set_desc mechs = {1, (gss_OID)gss_mech_krb5};
	CtKrbState state = CT_KRB_OK;

	*principal = NULL;
	if (ccache != NULL) {
		/* a cred store names the cache for this call only: nothing process-wide */
		gss_key_value_element_desc element = {"ccache", ccache};
		gss_key_value_set_desc store = {1, &element};
		major = gss_acquire_cred_from(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs,
		                              GSS_C_INITIATE, &store, &cred, NULL, &lifetime);
	} else {
		major = gss_acquire_cred(&minor, GSS_C_NO_NAME, GSS_C_INDEFINITE, &mechs,
		                         GSS_C_INITIATE, &cred, NULL, &lifetime);
	}
	if (GSS_ERROR(major)) {
		g_autofree gchar *why = ct_credentials_gss_status(major, minor);
		g_debug("no Kerberos credentials: %s", why);
		return major == GSS_S_CREDENTIALS_EXPIRED ? CT_KRB_EXPIRED : CT_KRB_NONE;
	}
	/* MIT hands out an expired ticket cache with a lifetime of 0; asking it for
	 * its name then fails (and leaks inside libgssapi), so do not */
	if (lifetime == 0) {
		gss_release_cred(&minor, &cred);
		if (lifetime_out != NULL)
			*lifetime_out = 0;
		return CT_KRB_EXPIRED;
	}
	major = gss_inquire_cred(&minor, cred, &name, &lifetime, NULL, NULL);
	if (major == GSS_S_CREDENTIALS_EXPIRED || (!GSS_ERROR(major) && lifetime == 0)) {
		state = CT_KRB_EXPIRED;
	} else if (GSS_ERROR(major)) {
		g_autofree gchar *why = ct_credentials_gss_status(major, minor);
		g_debug("cannot inquire Kerberos credentials: %s", why);
		state = CT_KRB_NONE;
	}
	if (name != GSS_C_NO_NAME && !GSS_ERROR(gss_display_name(&minor, name, &display, NULL))) {
		*principal = g_strndup(display.value, display.length);
		gss_release_buffer(&minor, &display);
	}
	if (name != GSS_C_NO_NAME)
		gss_release_name(&minor, &name);
	if (cred != GSS_C_NO_CREDENTIAL)
		gss_release_cred(&minor, &cred);
	if (lifetime_out != NULL)
		*lifetime_out = lifetime;
	return state;
}

/* the keyring is looked up by host, so that one password serves all URLs of a server */
static gchar *
ct_credentials_url_host(const gchar *url)
{
	g_autoptr(GUri) uri = url != NULL ? g_uri_parse(url, G_URI_FLAGS_NONE, NULL) : NULL;
	if (uri == NULL || g_uri_get_host(uri) == NULL)
		return g_strdup(url != NULL ? url : "");
	return g_ascii_strdown(g_uri_get_host(uri), -1);
}

/* a password from the Secret Service, or NULL when absent or unavailable */
static gchar *
ct_credentials_lookup_keyring(const gchar *server, const gchar *user)
{
	g_autoptr(GError) error = NULL;
	gchar *secret;
	gchar *copy;
	secret = secret_password_lookup_sync(ct_credentials_get_schema(), NULL, &error, "server",
	                                     server, "user", user, NULL);
	if (secret == NULL) {
		/* no keyring in this session is the usual case for daemons: not an error */
		if (error != NULL)
			g_debug("no password from the Secret Service: %s", error->message);
		return NULL;
	}
	copy = g_strdup(secret);
	secret_password_free(secret);
	return copy;
}

static gboolean
ct_credentials_ensure_password(CtCredentials *self,
                               const gchar *service_url,
                               gboolean after_kerberos,
                               GError **error)
{
	g_autofree gchar *server = ct_credentials_url_host(service_url);
	g_autofree gchar *hint = NULL;
	gchar *password;

	if (self->password != NULL) {
		self->method_in_use = CT_AUTH_METHOD_BASIC;
		return TRUE;
	}
	if (self->username == NULL) {
		if (after_kerberos) {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			                    "no Kerberos ticket for this session: run kinit");
		} else {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			                    "password authentication needs a user name: set "
			                    "username= in [identity] of certtether.conf");
		}
		return FALSE;
	}
	password = ct_credentials_lookup_keyring(server, self->username);
	if (password == NULL && self->prompt_func != NULL) {
		g_autofree gchar *prompt =
		    g_strdup_printf("Password for %s at %s: ", self->username, server);
		password = self->prompt_func(prompt, self->prompt_data);
		if (password != NULL && password[0] == '\0')
			ct_credentials_wipe_string(&password);
	}
	if (password == NULL) {
		hint =
		    g_strdup_printf("store a password with `secret-tool store --label=certtether "
		                    "xdg:schema org.certtether.Password server %s user %s` or "
		                    "run from a terminal",
		                    server, self->username);
		if (after_kerberos)
			g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			            "no Kerberos ticket for this session: run kinit, or %s", hint);
		else
			g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			            "no password for %s: %s", self->username, hint);
		return FALSE;
	}
	self->password = password;
	g_free(self->principal);
	self->principal = g_strdup(self->username);
	self->method_in_use = CT_AUTH_METHOD_BASIC;
	return TRUE;
}

gboolean
ct_credentials_ensure(CtCredentials *self, const gchar *service_url, GError **error)
{
	g_autoptr(GMutexLocker) locker = NULL;
	g_autofree gchar *principal = NULL;
	guint32 lifetime = 0;
	CtKrbState state;

	g_return_val_if_fail(CT_IS_CREDENTIALS(self), FALSE);
	locker = g_mutex_locker_new(&self->mutex);

	if (self->method == CT_AUTH_METHOD_BASIC)
		return ct_credentials_ensure_password(self, service_url, FALSE, error);
	if (self->method == CT_AUTH_METHOD_CERTIFICATE)
		return ct_credentials_ensure_certificate(self, error);

	/* the ticket is checked every time: it may have been renewed or destroyed since */
	state = ct_credentials_inspect_kerberos(self->ccache, &principal, &lifetime);
	if (state == CT_KRB_OK && principal != NULL) {
		if (g_strcmp0(self->principal, principal) != 0) {
			g_free(self->principal);
			self->principal = g_steal_pointer(&principal);
		}
		self->method_in_use = CT_AUTH_METHOD_NEGOTIATE;
		g_debug("Kerberos ticket for %s, valid for %u s", self->principal, lifetime);
		return TRUE;
	}
	if (self->method == CT_AUTH_METHOD_AUTO && self->username != NULL)
		return ct_credentials_ensure_password(self, service_url, TRUE, error);
	if (state == CT_KRB_EXPIRED) {
		/* MIT GSS-API does not name the owner of an expired ticket: use the one
		 * this session authenticated as before, when there was one */
		const gchar *who = principal != NULL ? principal : self->principal;
		if (who != NULL && self->ccache != NULL)
			g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			            "the Kerberos ticket for %s in %s has expired: run kinit -c %s",
			            who, self->ccache, self->ccache);
		else if (who != NULL)
			g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			            "the Kerberos ticket for %s has expired: run kinit", who);
		else if (self->ccache != NULL)
			g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			            "the Kerberos ticket in %s has expired: run kinit -c %s",
			            self->ccache, self->ccache);
		else
			g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			                    "the Kerberos ticket of this session has expired: run "
			                    "kinit");
		return FALSE;
	}
	if (self->ccache != NULL)
		g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		            "no Kerberos ticket in %s: run kinit -c %s", self->ccache,
		            self->ccache);
	else
		g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		                    "no Kerberos ticket for this session: run kinit");
	return FALSE;
}

void
ct_credentials_apply(CtCredentials *self, CtHttpRequest *request)
{
	g_return_if_fail(CT_IS_CREDENTIALS(self));
	g_return_if_fail(request != NULL);
	g_mutex_lock(&self->mutex);
	switch (self->method_in_use) {
	case CT_AUTH_METHOD_NEGOTIATE:
		request->auth = CT_HTTP_AUTH_NEGOTIATE;
		/* only to name the user in errors; Negotiate sends the ticket */
		request->username = self->principal;
		request->password = NULL;
		request->krb5_ccache = self->ccache;
		break;
	case CT_AUTH_METHOD_BASIC:
		request->auth = CT_HTTP_AUTH_BASIC;
		request->username = self->username;
		request->password = self->password;
		break;
	case CT_AUTH_METHOD_CERTIFICATE:
		request->auth = CT_HTTP_AUTH_CLIENT_CERT;
		/* the certificate's subject, only to name the user in errors */
		request->username = self->principal;
		request->password = NULL;
		request->client_cert_file = self->client_cert_file;
		request->client_key_file = self->client_key_file;
		break;
	default:
		g_warning("ct_credentials_apply() before ct_credentials_ensure() succeeded");
		request->auth = CT_HTTP_AUTH_NONE;
		break;
	}
	g_mutex_unlock(&self->mutex);
}

void
ct_credentials_forget_password(CtCredentials *self)
{
	g_return_if_fail(CT_IS_CREDENTIALS(self));
	g_mutex_lock(&self->mutex);
	ct_credentials_wipe_string(&self->password);
	if (self->method_in_use == CT_AUTH_METHOD_BASIC)
		self->method_in_use = CT_AUTH_METHOD_AUTO;
	g_mutex_unlock(&self->mutex);
}

const gchar *
ct_credentials_get_principal(CtCredentials *self)
{
	g_return_val_if_fail(CT_IS_CREDENTIALS(self), NULL);
	return self->principal != NULL ? self->principal : self->username;
}

CtAuthMethod
ct_credentials_get_method_in_use(CtCredentials *self)
{
	g_return_val_if_fail(CT_IS_CREDENTIALS(self), CT_AUTH_METHOD_AUTO);
	return self->method_in_use;
}

X509 *
ct_credentials_dup_certificate(CtCredentials *self)
{
	X509 *cert = NULL;
	g_return_val_if_fail(CT_IS_CREDENTIALS(self), NULL);
	g_mutex_lock(&self->mutex);
	if (self->method_in_use == CT_AUTH_METHOD_CERTIFICATE && self->client_cert != NULL &&
	    X509_up_ref(self->client_cert) == 1)
		cert = self->client_cert;
	g_mutex_unlock(&self->mutex);
	return cert;
}
