/*
 * certtether.conf: the engine's configuration, a GKeyFile.
 *
 * Where it is read from (the first that exists wins; files are NOT merged, so
 * what one file says is the whole configuration and never a mix):
 *   1. $CERTTETHER_CONFIG, an explicit file: then ONLY that file, and it must exist;
 *   2. $XDG_CONFIG_HOME/certtether/certtether.conf (default ~/.config/...);
 *   3. SYSCONFDIR/certtether/certtether.conf (/etc/certtether/certtether.conf).
 * No file at all means the defaults below. Relative paths inside a file are
 * relative to the file's directory.
 *
 * Environment overrides (applied after the file, validated the same way):
 *   CERTTETHER_CA_FILE      replaces [service] ca-file
 *   CERTTETHER_STATE_DIR    the state directory (see ct_config_get_state_dir())
 *
 * Keys: "key = allowed values (default)" and what it means.
 *
 * [service]
 *   protocol = certprov | est  (certprov)
 *       the enrollment protocol the web service speaks
 *   url = http or https URL  (none: required to enroll)
 *       CertProv: https://POOL/CertProv/CertProvisioningService.svc;
 *       EST: https://HOST[:PORT] (/.well-known/est is appended) or .../.well-known/est
 *   est-label = 1-64 of A-Z a-z 0-9 - _ . ~  (none)
 *       EST CA label: requests go to /.well-known/est/LABEL/...
 *   ca-file = path of a PEM file of certificates  (none)
 *       trust anchors added to the system store, both for the TLS connection and
 *       for the issued certificate's chain; relative to the file's directory;
 *       overridden by $CERTTETHER_CA_FILE (and --ca-file); an empty value means none
 *   registrar = HOST[:PORT]  (none)
 *       the SIP registrar FQDN pushed to phones
 *   web-ticket-url = http or https URL  (discovered through CertProv /mex)
 *       CertProv only: the Web Ticket service, skipping discovery
 *   timeout = 1-600 seconds  (30)
 *       limit for one HTTP exchange
 * [identity]
 *   sip-uri = sip:USER@DOMAIN  (derived: principal alice@TEST.LOCAL -> sip:alice@test.local)
 *       the desktop user's SIP address, the identity every certificate is issued for
 *   auth = auto | negotiate | basic | certificate  (auto)
 *       negotiate: the session's Kerberos ticket only; basic: a password (Secret
 *       Service keyring, else typed at a terminal); auto: ticket, else password;
 *       certificate: a TLS client certificate, client-cert + client-key (protocol=est
 *       only: CertProv needs Kerberos or a password)
 *   username = user name, e.g. alice@EXAMPLE.COM  (none)
 *       the user for password (Basic) authentication
 *   client-cert = path of a PEM file: the user's certificate, then any intermediates  (none)
 *       auth=certificate: the TLS client certificate (clientAuth); relative to the
 *       file's directory; loaded at once. The SIP URI comes from sip-uri, else from the
 *       certificate (subjectAltName URI sip:..., else a CN of the form user@domain)
 *   client-key = path of an unencrypted PEM private key  (none)
 *       auth=certificate: the certificate's key; relative to the file's directory. At
 *       load it must exist, be a regular file readable by this user and grant group and
 *       others nothing (mode 600, like ssh keys: a key others can read is refused); that
 *       it is the certificate's key is checked before each use. Its contents are never
 *       logged
 * [device]
 *   key-algorithm = rsa2048 | rsa3072 | ec-p256 | ec-p384  (rsa2048 for certprov, ec-p256 for est)
 *       the key the phone is asked to generate
 *   renew-before-days = 1-365  (30)
 *       renew a phone's certificate this many days before it expires
 * [policy]
 *   mode = ask | allowlist | always  (ask)
 *       ask: wait for the user's approval; allowlist: provision only listed
 *       devices; always: provision every device (bench use)
 *   allow = ENTRY;ENTRY;...  (empty)
 *       ENTRY is SERIAL or SERIAL:SHA256 where SERIAL is 1-64 printable ASCII characters
 *       without spaces, ':' or ';' (the phone's serial as PROTOCOL.md defines it)
 *       and SHA256 the device identity key's fingerprint, 64 hex digits (':' allowed
 *       between bytes)
 * [retry]
 *   max-attempts = 1-100  (6)
 *       attempts in all for transient failures (unreachable, timeout, store unavailable)
 *   initial-delay = 0.001-3600 seconds, decimal  (2.0)
 *       upper bound of the first wait; doubles with each attempt (full jitter below it)
 *   max-delay = initial-delay-86400 seconds  (300)
 *       the longest wait between two attempts (a server's Retry-After is capped to it)
 *
 * Every value is validated; a bad one fails the load with CT_ERROR_CONFIG and a
 * message naming the file, group, key, value and what is allowed, e.g.
 * "/etc/certtether/certtether.conf: [policy] mode=sometimes is not one of ask, allowlist, always".
 * Unknown groups and keys are logged as warnings (and kept in ct_config_get_warnings()).
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-error.h"
#include "daemon/enroll/ct-credentials.h"

G_BEGIN_DECLS

typedef enum {
	CT_PROTOCOL_CERTPROV,
	CT_PROTOCOL_EST,
} CtProtocol;

typedef enum {
	CT_KEY_ALGORITHM_RSA2048,
	CT_KEY_ALGORITHM_RSA3072,
	CT_KEY_ALGORITHM_EC_P256,
	CT_KEY_ALGORITHM_EC_P384,
} CtKeyAlgorithm;

typedef enum {
	CT_POLICY_MODE_ASK,
	CT_POLICY_MODE_ALLOWLIST,
	CT_POLICY_MODE_ALWAYS,
} CtPolicyMode;

/*
 * One [policy] allow entry. Its syntax and matching live here, for the
 * configuration and the policy alike (ct_policy_decide() takes these).
 */
typedef struct {
	gchar *serial;      /* device serial, as written */
	gchar *fingerprint; /* lower-case hex SHA-256 (64 digits, no separators), or NULL */
} CtAllowEntry;

void ct_allow_entry_free(CtAllowEntry *entry);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtAllowEntry, ct_allow_entry_free)

/*
 * "SERIAL" or "SERIAL:SHA256", blanks around it ignored: SERIAL is 1-64
 * printable ASCII characters without spaces, ':' or ';', SHA256 as
 * ct_config_normalize_fingerprint() takes it. CT_ERROR_CONFIG otherwise, with a
 * message that follows the value it is about ("has an entry for SN whose fingerprint ...").
 */
CtAllowEntry *ct_allow_entry_parse(const gchar *text, GError **error);

/* 64 hex digits, any case, ':' allowed between bytes: lower-case without separators, or
 * NULL when @text is not that */
gchar *ct_config_normalize_fingerprint(const gchar *text);

/*
 * The entry of @allow (CtAllowEntry elements, may be NULL) that names @serial and, when
 * the entry has one, @fingerprint (any form ct_config_normalize_fingerprint() takes); or
 * NULL.
 */
const CtAllowEntry *
ct_allow_list_match(GPtrArray *allow, const gchar *serial, const gchar *fingerprint);

#define CT_CONFIG_DEFAULT_TIMEOUT_S         30
#define CT_CONFIG_DEFAULT_RENEW_BEFORE_DAYS 30
#define CT_CONFIG_DEFAULT_MAX_ATTEMPTS      6
#define CT_CONFIG_DEFAULT_INITIAL_DELAY     2.0
#define CT_CONFIG_DEFAULT_MAX_DELAY         300.0

#define CT_TYPE_CONFIG (ct_config_get_type())
G_DECLARE_FINAL_TYPE(CtConfig, ct_config, CT, CONFIG, GObject)

/* the defaults, no file read (tests, and the base of every load) */
CtConfig *ct_config_new_default(void);

/* search as described above, then apply the environment overrides */
CtConfig *ct_config_load(GError **error);

/* one file (must exist), then the environment overrides */
CtConfig *ct_config_load_file(const gchar *path, GError **error);

/* key-file text; @origin names it in messages; relative paths against @base_dir (or cwd) */
CtConfig *ct_config_load_data(
    const gchar *data, gsize len, const gchar *origin, const gchar *base_dir, GError **error);

/* the file ct_config_load() would read, or NULL when none exists (defaults) */
gchar *ct_config_find_file(void);

/*
 * Set one key as if the file said it (command-line overrides such as --ca-file or
 * --url), validated the same way; @origin names it in messages ("--ca-file").
 */
gboolean ct_config_set_value(CtConfig *self,
                             const gchar *group,
                             const gchar *key,
                             const gchar *value,
                             const gchar *origin,
                             GError **error);

/* the directory for the state database: $CERTTETHER_STATE_DIR, else
 * $XDG_STATE_HOME/certtether, else ~/.local/state/certtether (not created here) */
gchar *ct_config_get_state_dir(void);

/* where the values came from: the file path, or NULL for the defaults */
const gchar *ct_config_get_path(CtConfig *self);
/* warnings of the load (unknown keys...), NULL-terminated, never NULL */
const gchar *const *ct_config_get_warnings(CtConfig *self);

/* [service] */
CtProtocol ct_config_get_protocol(CtConfig *self);
const gchar *ct_config_get_url(CtConfig *self); /* NULL when not configured */
const gchar *ct_config_get_est_label(CtConfig *self);
const gchar *ct_config_get_ca_file(CtConfig *self); /* absolute path or NULL */
const gchar *ct_config_get_registrar(CtConfig *self);
const gchar *ct_config_get_web_ticket_url(CtConfig *self);
guint ct_config_get_timeout(CtConfig *self);

/* [identity] */
const gchar *ct_config_get_sip_uri(CtConfig *self); /* normalised "sip:user@domain" or NULL */
CtAuthMethod ct_config_get_auth(CtConfig *self);
const gchar *ct_config_get_username(CtConfig *self);
const gchar *ct_config_get_client_cert(CtConfig *self); /* absolute path or NULL */
const gchar *ct_config_get_client_key(CtConfig *self);  /* absolute path or NULL */

/* new credentials as [identity] describes them: auth, username, client-cert/-key */
CtCredentials *ct_config_new_credentials(CtConfig *self);

/* [device] */
CtKeyAlgorithm ct_config_get_key_algorithm(CtConfig *self); /* default follows the protocol */
guint ct_config_get_renew_before_days(CtConfig *self);

/* [policy] */
CtPolicyMode ct_config_get_policy_mode(CtConfig *self);
/* CtAllowEntry elements, never NULL */
GPtrArray *ct_config_get_allow_list(CtConfig *self);
/* TRUE if an allow entry matches (ct_allow_list_match()) */
gboolean ct_config_is_allowed(CtConfig *self, const gchar *serial, const gchar *fingerprint);

/* [retry] */
guint ct_config_get_max_attempts(CtConfig *self);
gdouble ct_config_get_initial_delay(CtConfig *self);
gdouble ct_config_get_max_delay(CtConfig *self);

/* names as written in the file */
const gchar *ct_protocol_to_string(CtProtocol protocol);
const gchar *ct_key_algorithm_to_string(CtKeyAlgorithm algorithm);
const gchar *ct_policy_mode_to_string(CtPolicyMode mode);
const gchar *ct_auth_method_to_string(CtAuthMethod method);

G_END_DECLS
