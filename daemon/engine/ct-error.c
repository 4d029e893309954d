#include "daemon/engine/ct-error.h"

/* nick used for both --json and the D-Bus error name; hint shown under a failure */
typedef struct {
	const gchar *name;
	gboolean transient;
	const gchar *hint;
} CtErrorInfo;

static const CtErrorInfo ct_error_info[CT_ERROR_LAST] = {
    [CT_ERROR_INTERNAL] = {"Internal", FALSE,
                           "this is a bug in certtether; please report it with the log"},
    [CT_ERROR_UNREACHABLE] =
        {"Unreachable", TRUE,
         "check the network and the web service URL; certtether retries by itself"},
    [CT_ERROR_TIMEOUT] = {"Timeout", TRUE,
                          "the server or device is slow; certtether retries by itself"},
    [CT_ERROR_STORE_UNAVAILABLE] = {"StoreUnavailable", TRUE,
                                    "the server could not publish the certificate (its user store "
                                    "is unavailable); certtether retries later"},
    [CT_ERROR_NO_CREDENTIALS] =
        {"NoCredentials", FALSE,
         "no credentials for this session: run kinit, or store a password in the keyring"},
    [CT_ERROR_AUTH_FAILED] = {"AuthFailed", FALSE,
                              "the server refused your credentials: renew them (kinit) or check "
                              "the user name and password"},
    [CT_ERROR_REJECTED] =
        {"Rejected", FALSE,
         "the certificate service refused the request; ask its administrator to check its policy"},
    [CT_ERROR_CHAIN_UNTRUSTED] =
        {"ChainUntrusted", FALSE,
         "add the issuing CA to ca-file in certtether.conf (or --ca-file) if you trust it"},
    [CT_ERROR_PROTOCOL] =
        {"Protocol", FALSE,
         "the server's answer could not be understood; check the web service URL and protocol"},
    [CT_ERROR_CERT_INVALID] =
        {"CertificateInvalid", FALSE,
         "the issued certificate was refused; ask the certificate service's administrator"},
    [CT_ERROR_CSR_INVALID] =
        {"CsrInvalid", FALSE,
         "the phone asked for something it must not have; do not trust this device"},
    [CT_ERROR_DEVICE] =
        {"Device", FALSE,
         "unplug the phone and plug it in again; if it fails again, reset the phone"},
    [CT_ERROR_DEVICE_GONE] = {"DeviceGone", FALSE, "plug the phone in again to continue"},
    [CT_ERROR_NOT_APPROVED] = {"NotApproved", FALSE,
                               "approve the device first: certtether approve DEVICE"},
    [CT_ERROR_NOT_FOUND] = {"NotFound", FALSE, "run certtether list to see the known devices"},
    [CT_ERROR_CONFIG] = {"Config", FALSE,
                         "fix the configuration named in the message (see certtether.conf(5))"},
    [CT_ERROR_INVALID_ARGS] = {"InvalidArgs", FALSE, "see certtether --help"},
    [CT_ERROR_NOT_SUPPORTED] = {"NotSupported", FALSE, "the service or device does not offer this"},
    [CT_ERROR_CANCELLED] = {"Cancelled", FALSE, "the operation was cancelled"},
};

static const GDBusErrorEntry *
ct_error_dbus_entries(void)
{
	static GDBusErrorEntry entries[CT_ERROR_LAST];
	static gchar *names[CT_ERROR_LAST];
	for (guint i = 0; i < CT_ERROR_LAST; i++) {
		names[i] = g_strdup_printf("org.certtether.Error.%s", ct_error_info[i].name);
		entries[i].error_code = (gint)i;
		entries[i].dbus_error_name = names[i];
	}
	return entries;
}

GQuark
ct_error_quark(void)
{
	static gsize quark = 0;
	if (g_once_init_enter(&quark)) {
		/* registering maps each code to its D-Bus name, both ways */
		static volatile gsize dbus_quark = 0;
		g_dbus_error_register_error_domain("ct-error-quark", &dbus_quark,
		                                   ct_error_dbus_entries(), CT_ERROR_LAST);
		g_once_init_leave(&quark, dbus_quark);
	}
	return (GQuark)quark;
}

gboolean
ct_error_is_transient(const GError *error)
{
	if (error == NULL || error->domain != CT_ERROR)
		return FALSE;
	if (error->code < 0 || error->code >= CT_ERROR_LAST)
		return FALSE;
	return ct_error_info[error->code].transient;
}

const gchar *
ct_error_code_to_string(CtError code)
{
	if ((gint)code < 0 || code >= CT_ERROR_LAST)
		return "Unknown";
	return ct_error_info[code].name;
}

const gchar *
ct_error_code_hint(CtError code)
{
	if ((gint)code < 0 || code >= CT_ERROR_LAST)
		return "";
	return ct_error_info[code].hint;
}
