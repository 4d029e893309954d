/*
 * The engine's one GError domain. Each code is either transient (worth a retry
 * with backoff) or permanent (stop and tell the user what to do), and maps to a
 * D-Bus error name "org.certtether.Error.<Name>".
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

#define CT_ERROR (ct_error_quark())

typedef enum {
	CT_ERROR_INTERNAL,	    /* a bug or an unexpected local failure */
	CT_ERROR_UNREACHABLE,	    /* transient: DNS, connection refused, TLS connect reset */
	CT_ERROR_TIMEOUT,	    /* transient */
	CT_ERROR_STORE_UNAVAILABLE, /* transient: server could not publish ("data store unavailable"), 5xx */
	CT_ERROR_NO_CREDENTIALS,    /* permanent: no Kerberos ticket / no password available */
	CT_ERROR_AUTH_FAILED,	    /* permanent: the server refused the credentials */
	CT_ERROR_REJECTED,	    /* permanent: the server refused the request (CSR, policy) */
	CT_ERROR_CHAIN_UNTRUSTED,   /* permanent: TLS or issued chain does not reach an anchor */
	CT_ERROR_PROTOCOL,	    /* permanent: the server's answer is malformed */
	CT_ERROR_CERT_INVALID,	    /* permanent: issued certificate fails verification */
	CT_ERROR_CSR_INVALID,	    /* permanent: the device's CSR breaks policy */
	CT_ERROR_DEVICE,	    /* the device failed or misbehaved (its session only) */
	CT_ERROR_DEVICE_GONE,	    /* the device was unplugged */
	CT_ERROR_NOT_APPROVED,	    /* policy: awaiting approval, rejected or not allow-listed */
	CT_ERROR_NOT_FOUND,	    /* no such device / record */
	CT_ERROR_CONFIG,	    /* a configuration file or option is wrong */
	CT_ERROR_INVALID_ARGS,	    /* a caller passed something invalid */
	CT_ERROR_NOT_SUPPORTED,	    /* the service or device does not support it */
	CT_ERROR_CANCELLED,	    /* the operation was cancelled */
	CT_ERROR_LAST
} CtError;

GQuark ct_error_quark(void);

/* TRUE for errors a retry may cure (unreachable, timeout, store unavailable) */
gboolean ct_error_is_transient(const GError *error);

/* short stable identifier, e.g. "StoreUnavailable" (used in D-Bus names and --json) */
const gchar *ct_error_code_to_string(CtError code);

/* a one-line hint about what the user can do next, for the code alone */
const gchar *ct_error_code_hint(CtError code);

G_END_DECLS
