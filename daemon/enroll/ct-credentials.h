/*
 * The desktop user's credentials for the web service: by default the session's
 * Kerberos ticket (GSS-API Negotiate, nothing to type); else a password from the
 * Secret Service keyring, else typed once at a terminal through a prompt callback.
 * A password is kept only in memory, wiped on finalize, and never logged.
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-error.h"
#include "daemon/enroll/ct-http.h"

G_BEGIN_DECLS

typedef enum {
	CT_AUTH_METHOD_AUTO,	  /* Kerberos if a ticket exists, else password */
	CT_AUTH_METHOD_NEGOTIATE, /* Kerberos only */
	CT_AUTH_METHOD_BASIC,	  /* password only (keyring, then prompt) */
} CtAuthMethod;

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
 * Make sure usable credentials exist, for the given service URL (keyring lookup key).
 * Fails with CT_ERROR_NO_CREDENTIALS and a message that says what to do
 * ("no Kerberos ticket for this session: run kinit").
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

/* "alice@TEST.LOCAL" from the ticket (or the configured user name for passwords) */
const gchar *ct_credentials_get_principal(CtCredentials *self);
CtAuthMethod ct_credentials_get_method_in_use(CtCredentials *self);

G_END_DECLS
