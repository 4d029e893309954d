/*
 * The desktop user's credentials for the web service: by default the session's
 * Kerberos ticket (GSS-API Negotiate, nothing to type); else a password from the
 * Secret Service keyring, else typed once at a terminal through a prompt callback.
 * A password is kept only in memory, wiped on finalize, and never logged.
 * Or, when configured, a TLS client certificate and its private key (PEM files; the
 * key is read only to check it, and never logged): the user's certificate on the
 * desktop, e.g. to renew with a certificate the user already holds (EST only).
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-error.h"
#include "daemon/enroll/ct-http.h"

G_BEGIN_DECLS

typedef enum {
	CT_AUTH_METHOD_AUTO,        /* Kerberos if a ticket exists, else password */
	CT_AUTH_METHOD_NEGOTIATE,   /* Kerberos only */
	CT_AUTH_METHOD_BASIC,       /* password only (keyring, then prompt) */
	CT_AUTH_METHOD_CERTIFICATE, /* TLS client certificate (EST only) */
} CtAuthMethod;

/* a private key file larger than this is not one */
#define CT_CREDENTIALS_MAX_KEY_FILE (64 * 1024)

/* ask the user for a secret; return a newly allocated string, or NULL if refused */
typedef gchar *(*CtPromptFunc)(const gchar *prompt, gpointer user_data);

#define CT_TYPE_CREDENTIALS (ct_credentials_get_type())
G_DECLARE_FINAL_TYPE(CtCredentials, ct_credentials, CT, CREDENTIALS, GObject)

CtCredentials *ct_credentials_new(CtAuthMethod method, const gchar *username);
void ct_credentials_set_prompt_func(CtCredentials *self,
                                    CtPromptFunc func,
                                    gpointer user_data,
                                    GDestroyNotify destroy);

/*
 * Use the Kerberos ticket cache @ccache ("FILE:/path", "KCM:", ...) instead of the
 * session's default (KRB5CCNAME): a bench roster gives each user their own. The
 * cache is inspected with gss_acquire_cred_from() and HTTP requests carry it in
 * CtHttpRequest.krb5_ccache (scoped to the requesting thread), so enrollments
 * for different users running in parallel never see each other's tickets.
 * NULL: the session's default again.
 */
void ct_credentials_set_ccache(CtCredentials *self, const gchar *ccache);
/* the ticket cache set above, or NULL for the session's default */
const gchar *ct_credentials_get_ccache(CtCredentials *self);

/*
 * CT_AUTH_METHOD_CERTIFICATE: the PEM certificate (the leaf first; intermediates may
 * follow and are sent along) and its unencrypted PEM private key. Both are read again by
 * every ct_credentials_ensure(), so a renewed certificate is picked up.
 */
void ct_credentials_set_client_certificate(CtCredentials *self,
                                           const gchar *cert_file,
                                           const gchar *key_file);

/*
 * A private key file certtether may use: a regular file of at most
 * CT_CREDENTIALS_MAX_KEY_FILE bytes that this user can read and that grants group and
 * others nothing (like ssh, a key others could read is refused, not used).
 * CT_ERROR_CONFIG naming @path and the fix otherwise. The contents are not read.
 */
gboolean ct_credentials_check_key_file(const gchar *path, GError **error);

/*
 * Make sure usable credentials exist, for the given service URL (keyring lookup key).
 * Fails with CT_ERROR_NO_CREDENTIALS and a message that says what to do
 * ("no Kerberos ticket for this session: run kinit").
 * A client certificate: the files are loaded, the key must be the certificate's
 * (X509_check_private_key), unencrypted and private (ct_credentials_check_key_file()),
 * and the certificate must be meant for TLS clients (CT_ERROR_CONFIG otherwise) and
 * valid now (CT_ERROR_NO_CREDENTIALS: expired or not yet valid).
 */
gboolean ct_credentials_ensure(CtCredentials *self, const gchar *service_url, GError **error);

/*
 * fill the auth fields of an HTTP request (after ct_credentials_ensure()); the
 * strings are borrowed from @self and stay valid while it lives
 */
void ct_credentials_apply(CtCredentials *self, CtHttpRequest *request);

/*
 * the server refused the password: wipe it so that the next ct_credentials_ensure()
 * asks the keyring / prompt again instead of repeating a wrong one
 */
void ct_credentials_forget_password(CtCredentials *self);

/*
 * "alice@TEST.LOCAL" from the ticket (or the configured user name for passwords), or
 * the client certificate's subject ("CN=alice@example.com"), for messages
 */
const gchar *ct_credentials_get_principal(CtCredentials *self);
CtAuthMethod ct_credentials_get_method_in_use(CtCredentials *self);

/*
 * The client certificate of the last successful ct_credentials_ensure() (a new
 * reference), or NULL when the credentials are not a client certificate
 */
X509 *ct_credentials_dup_certificate(CtCredentials *self);

G_END_DECLS
