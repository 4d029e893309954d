/*
 * One HTTP exchange over libcurl (OpenSSL flavour), the only way the engine talks
 * to a web service. TLS is always verified against the system store plus the
 * configured extra anchors; there is no switch to turn verification off.
 */
#pragma once

#include <gio/gio.h>
#include <openssl/x509.h>

#include "daemon/engine/ct-error.h"

G_BEGIN_DECLS

typedef enum {
	CT_HTTP_AUTH_NONE,	/* anonymous */
	CT_HTTP_AUTH_NEGOTIATE, /* GSS-API / SPNEGO with the session's Kerberos ticket */
	CT_HTTP_AUTH_BASIC,	/* user + password (Basic over TLS only) */
	CT_HTTP_AUTH_CLIENT_CERT, /* TLS client certificate (EST re-enrollment) */
} CtHttpAuth;

#define CT_HTTP_DEFAULT_MAX_BODY  (1024 * 1024) /* responses larger than this are refused */
#define CT_HTTP_DEFAULT_TIMEOUT_S 30

typedef struct {
	const gchar *url;
	const gchar *method;	   /* "GET" (default when body is NULL) or "POST" */
	GBytes *body;		   /* request body, or NULL */
	const gchar *content_type; /* of the request body */
	const gchar *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
	CtHttpAuth auth;
	const gchar *username;	   /* BASIC; with NEGOTIATE only used to name the user in errors */
	const gchar *password;	   /* BASIC; never logged */
	const gchar *client_cert_file; /* CLIENT_CERT: PEM certificate (+ chain) */
	const gchar *client_key_file;  /* CLIENT_CERT: PEM private key */
	const gchar *ca_file;	   /* extra trust anchors (PEM), added to the system store */
	guint timeout_s;	   /* whole exchange; 0 = CT_HTTP_DEFAULT_TIMEOUT_S */
	gsize max_body;		   /* 0 = CT_HTTP_DEFAULT_MAX_BODY */
	/*
	 * NEGOTIATE: the Kerberos ticket cache to use ("FILE:/path"), or NULL for the
	 * session's default (KRB5CCNAME). Scoped to the calling thread for the
	 * exchange only (gss_krb5_ccache_name), so parallel requests for different
	 * users never see each other's tickets.
	 */
	const gchar *krb5_ccache;
} CtHttpRequest;

typedef struct {
	guint status;	      /* HTTP status code */
	GBytes *body;	      /* never NULL on success (may be empty) */
	gchar *content_type;  /* or NULL */
	gchar *ms_diagnostics; /* X-Ms-diagnostics header, or NULL */
	gchar *retry_after;   /* Retry-After header, or NULL */
	gchar *auth_user;     /* the user libcurl authenticated as, when known, or NULL */
	STACK_OF(X509) *peer_chain; /* TLS chain the server presented (https only), or NULL */
	gdouble total_time_s;
} CtHttpResponse;

void ct_http_response_free(CtHttpResponse *response);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtHttpResponse, ct_http_response_free)

/*
 * Perform the exchange. Transport failures are mapped to CT_ERROR_UNREACHABLE,
 * CT_ERROR_TIMEOUT or CT_ERROR_CHAIN_UNTRUSTED (TLS verification, naming the
 * issuer that is missing). Any HTTP status is returned as a response, not an
 * error: the caller classifies it (see ct_http_status_to_error()).
 */
CtHttpResponse *ct_http_perform(const CtHttpRequest *request,
				GCancellable *cancellable,
				GError **error);

/* classify a non-2xx status: 401/403 auth, 5xx/503/429 transient, else rejected */
void ct_http_status_to_error(const CtHttpResponse *response,
			     const gchar *what,
			     GError **error);

/*
 * The Retry-After header in seconds from now (delta-seconds or an HTTP date),
 * or -1 when absent or unreadable. Bounded to one day.
 */
gdouble ct_http_response_get_retry_after(const CtHttpResponse *response);

/*
 * For `certtether test chain`: connect to an https URL, complete or fail the TLS
 * handshake, and return the chain the server presented (leaf first) and whether
 * it verified against the system store plus @ca_file. A verification failure is
 * not an error here (the caller diagnoses it); unreachable servers are.
 */
gboolean ct_http_probe_tls_chain(const gchar *url,
				 const gchar *ca_file,
				 STACK_OF(X509) **presented_chain,
				 gboolean *verified,
				 GError **error);

/* the same, with a timeout, cancellation and the reason verification failed */
gboolean ct_http_probe_tls_chain_full(const gchar *url,
				      const gchar *ca_file,
				      guint timeout_s,
				      GCancellable *cancellable,
				      STACK_OF(X509) **presented_chain,
				      gboolean *verified,
				      gchar **verify_message,
				      GError **error);

G_END_DECLS
