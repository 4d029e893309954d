/*
 * certtether.conf: a complete good file, the defaults, one precise message per
 * bad value, unknown keys as warnings, the search order and the environment;
 * TLS client-certificate authentication (client-cert, client-key and the rules
 * between them, auth and protocol).
 */
#include <glib/gstdio.h>

#include "daemon/engine/ct-config.h"
#include "tests/unit/ct-test-issue.h"

static gchar *tmpdir;
static GPtrArray *logged_warnings; /* warnings the engine logged */
static gchar *ca_pem;              /* a valid PEM file */
static gchar *client_pem;          /* a client certificate, "client.pem" in tmpdir */
static gchar *client_key;          /* its key, mode 0600, "client.key" in tmpdir */
static gchar *open_key;            /* the same key, mode 0644, "open.key" in tmpdir */

static CtConfig *
load(const gchar *text, GError **error)
{
	return ct_config_load_data(text, strlen(text), "/etc/certtether/certtether.conf", tmpdir,
	                           error);
}

static void
test_defaults(void)
{
	g_autoptr(CtConfig) c = ct_config_new_default();
	g_assert_cmpint(ct_config_get_protocol(c), ==, CT_PROTOCOL_CERTPROV);
	g_assert_null(ct_config_get_url(c));
	g_assert_null(ct_config_get_ca_file(c));
	g_assert_cmpuint(ct_config_get_timeout(c), ==, 30);
	g_assert_cmpint(ct_config_get_auth(c), ==, CT_AUTH_METHOD_AUTO);
	g_assert_null(ct_config_get_client_cert(c));
	g_assert_null(ct_config_get_client_key(c));
	g_assert_cmpint(ct_config_get_key_algorithm(c), ==, CT_KEY_ALGORITHM_RSA2048);
	g_assert_cmpuint(ct_config_get_renew_before_days(c), ==, 30);
	g_assert_cmpint(ct_config_get_policy_mode(c), ==, CT_POLICY_MODE_ASK);
	g_assert_cmpuint(ct_config_get_allow_list(c)->len, ==, 0);
	g_assert_cmpuint(ct_config_get_max_attempts(c), ==, 6);
	g_assert_cmpfloat(ct_config_get_initial_delay(c), ==, 2.0);
	g_assert_cmpfloat(ct_config_get_max_delay(c), ==, 300.0);
	g_assert_null(ct_config_get_path(c));
	g_assert_null(ct_config_get_warnings(c)[0]);
}

static void
test_good_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = g_strdup_printf(
	    "# a complete configuration\n"
	    "[service]\n"
	    "protocol = est\n"
	    "url = https://est.example.com:8443\n"
	    "est-label = phones\n"
	    "ca-file = ca.pem\n"
	    "registrar = pool.example.com:5061\n"
	    "web-ticket-url = https://pool.example.com/WebTicket/WebTicketService.svc\n"
	    "timeout = 12\n"
	    "[identity]\n"
	    "sip-uri = SIP:Alice@Example.COM\n"
	    "auth = basic\n"
	    "username = alice@EXAMPLE.COM\n"
	    "[device]\n"
	    "key-algorithm = ec-p384\n"
	    "renew-before-days = 14\n"
	    "[policy]\n"
	    "mode = allowlist\n"
	    "allow = PHONE-1; PHONE-2:%s ;\n"
	    "[retry]\n"
	    "max-attempts = 3\n"
	    "initial-delay = 0.5\n"
	    "max-delay = 10\n",
	    "AB:cd:EF:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:AB:CD:EF:01:23:45:67:89:ab:cd:ef:01:"
	    "23:45:67:89");
	g_autoptr(CtConfig) c = load(text, &error);
	GPtrArray *allow;
	CtAllowEntry *e;
	g_assert_no_error(error);
	g_assert_cmpint(ct_config_get_protocol(c), ==, CT_PROTOCOL_EST);
	g_assert_cmpstr(ct_config_get_url(c), ==, "https://est.example.com:8443");
	g_assert_cmpstr(ct_config_get_est_label(c), ==, "phones");
	g_assert_cmpstr(ct_config_get_ca_file(c), ==, ca_pem);
	g_assert_cmpstr(ct_config_get_registrar(c), ==, "pool.example.com:5061");
	g_assert_cmpstr(ct_config_get_web_ticket_url(c), ==,
	                "https://pool.example.com/WebTicket/WebTicketService.svc");
	g_assert_cmpuint(ct_config_get_timeout(c), ==, 12);
	/* scheme and domain lower-cased, the user part kept */
	g_assert_cmpstr(ct_config_get_sip_uri(c), ==, "sip:Alice@example.com");
	g_assert_cmpint(ct_config_get_auth(c), ==, CT_AUTH_METHOD_BASIC);
	g_assert_cmpstr(ct_config_get_username(c), ==, "alice@EXAMPLE.COM");
	g_assert_cmpint(ct_config_get_key_algorithm(c), ==, CT_KEY_ALGORITHM_EC_P384);
	g_assert_cmpuint(ct_config_get_renew_before_days(c), ==, 14);
	g_assert_cmpint(ct_config_get_policy_mode(c), ==, CT_POLICY_MODE_ALLOWLIST);
	allow = ct_config_get_allow_list(c);
	g_assert_cmpuint(allow->len, ==, 2);
	e = g_ptr_array_index(allow, 0);
	g_assert_cmpstr(e->serial, ==, "PHONE-1");
	g_assert_null(e->fingerprint);
	e = g_ptr_array_index(allow, 1);
	g_assert_cmpstr(e->serial, ==, "PHONE-2");
	g_assert_cmpstr(e->fingerprint, ==,
	                "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
	g_assert_cmpuint(ct_config_get_max_attempts(c), ==, 3);
	g_assert_cmpfloat(ct_config_get_initial_delay(c), ==, 0.5);
	g_assert_cmpfloat(ct_config_get_max_delay(c), ==, 10.0);
	g_assert_null(ct_config_get_warnings(c)[0]);

	/* allow-list matching: serial alone, or serial + the listed fingerprint */
	g_assert_true(ct_config_is_allowed(c, "PHONE-1", NULL));
	g_assert_true(ct_config_is_allowed(c, "PHONE-1", "00"));
	g_assert_true(ct_config_is_allowed(
	    c, "PHONE-2", "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"));
	g_assert_false(ct_config_is_allowed(
	    c, "PHONE-2", "0000000000000000000000000000000000000000000000000000000000000000"));
	g_assert_false(ct_config_is_allowed(c, "PHONE-2", NULL));
	g_assert_false(ct_config_is_allowed(c, "PHONE-3", NULL));
}

static void
test_key_algorithm_default(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) est = load("[service]\nprotocol=est\n", &error);
	g_autoptr(CtConfig) cp = NULL;
	g_assert_no_error(error);
	g_assert_cmpint(ct_config_get_key_algorithm(est), ==, CT_KEY_ALGORITHM_EC_P256);
	cp = load("[service]\nprotocol=certprov\n", &error);
	g_assert_no_error(error);
	g_assert_cmpint(ct_config_get_key_algorithm(cp), ==, CT_KEY_ALGORITHM_RSA2048);
}

typedef struct {
	const gchar *text;
	const gchar *message; /* after "/etc/certtether/certtether.conf: " */
} BadCase;

static const BadCase bad_cases[] = {
    {"[policy]\nmode=sometimes\n", "[policy] mode=sometimes is not one of ask, allowlist, always"},
    {"[service]\nprotocol=scep\n", "[service] protocol=scep is not one of certprov, est"},
    {"[service]\nurl=ftp://example.com/\n",
     "[service] url=ftp://example.com/ is not an http or https URL"},
    {"[service]\nurl=not a url\n", "[service] url=not a url is not an http or https URL"},
    {"[service]\nurl=https://alice:secret@example.com/\n",
     "[service] url=https://alice:secret@example.com/ must not contain a user name or password "
     "(use [identity])"},
    {"[service]\nurl=https://example.com/x?a=b\n",
     "[service] url=https://example.com/x?a=b must not have a query or fragment"},
    {"[service]\nest-label=a/b\n",
     "[service] est-label=a/b is not a valid EST label (letters, digits, '-', '_', '.', '~')"},
    {"[service]\nest-label=..\n", "[service] est-label=.. is not a valid EST label"},
    {"[service]\nca-file=/nonexistent/ca.pem\n",
     "[service] ca-file=/nonexistent/ca.pem cannot be used: cannot read /nonexistent/ca.pem: "
     "Failed to open file “/nonexistent/ca.pem”: No such file or directory"},
    {"[service]\nregistrar=pool_1.example.com\n",
     "[service] registrar=pool_1.example.com is not a host name (e.g. pool.example.com)"},
    {"[service]\nregistrar=pool.example.com:99999\n",
     "[service] registrar=pool.example.com:99999 has an invalid port: use host or host:port "
     "(1-65535)"},
    {"[service]\nweb-ticket-url=file:///etc/passwd\n",
     "[service] web-ticket-url=file:///etc/passwd is not an http or https URL"},
    {"[service]\ntimeout=0\n",
     "[service] timeout=0 is not a whole number of seconds between 1 and 600"},
    {"[service]\ntimeout=abc\n",
     "[service] timeout=abc is not a whole number of seconds between 1 and 600"},
    {"[service]\ntimeout=601\n",
     "[service] timeout=601 is not a whole number of seconds between 1 and 600"},
    {"[identity]\nsip-uri=alice@example.com\n",
     "[identity] sip-uri=alice@example.com is not a SIP address of the form "
     "sip:user@domain.example"},
    {"[identity]\nsip-uri=sip:alice bob@example.com\n",
     "[identity] sip-uri=sip:alice bob@example.com is not a SIP address of the form "
     "sip:user@domain.example"},
    {"[identity]\nauth=ntlm\n",
     "[identity] auth=ntlm is not one of auto, negotiate, basic, certificate"},
    {"[identity]\nclient-cert=/nonexistent/alice.pem\n",
     "[identity] client-cert=/nonexistent/alice.pem cannot be used: cannot read "
     "/nonexistent/alice.pem: Failed to open file “/nonexistent/alice.pem”: No such file or "
     "directory"},
    {"[identity]\nclient-key=/nonexistent/alice.key\n",
     "[identity] client-key=/nonexistent/alice.key cannot be used: cannot read "
     "/nonexistent/alice.key: No such file or directory"},
    {"[identity]\nclient-key=/\n",
     "[identity] client-key=/ cannot be used: / is not a regular file: give the PEM file of "
     "the private key"},
    {"[identity]\nauth=certificate\n",
     "[identity] auth=certificate cannot be used with [service] protocol=certprov: CertProv "
     "needs Kerberos or a password (auth=auto, negotiate or basic); client certificates work "
     "with protocol=est"},
    {"[service]\nprotocol=est\n[identity]\nauth=certificate\n",
     "[identity] auth=certificate needs client-cert and client-key (the PEM files of the "
     "certificate and of its private key)"},
    {"[identity]\nusername=alice:x\n",
     "[identity] username=alice:x must not contain blanks, ':' or control characters"},
    {"[device]\nkey-algorithm=rsa1024\n",
     "[device] key-algorithm=rsa1024 is not one of rsa2048, rsa3072, ec-p256, ec-p384"},
    {"[device]\nrenew-before-days=0\n",
     "[device] renew-before-days=0 is not a whole number of days between 1 and 365"},
    {"[device]\nrenew-before-days=-3\n",
     "[device] renew-before-days=-3 is not a whole number of days between 1 and 365"},
    {"[policy]\nallow=PHONE-1:1234\n",
     "[policy] allow=PHONE-1:1234 has an entry for PHONE-1 whose fingerprint is not a SHA-256 "
     "(64 hex digits)"},
    {"[policy]\nallow=PHONE 1\n",
     "[policy] allow=PHONE 1 has a serial with a space or a character that is not printable "
     "ASCII"},
    {"[policy]\nallow=:abcd\n",
     "[policy] allow=:abcd has an entry without a serial of 1 to 64 characters (use SERIAL or "
     "SERIAL:SHA256, separated by ';')"},
    {"[retry]\nmax-attempts=0\n", "[retry] max-attempts=0 is not a whole number between 1 and 100"},
    {"[retry]\nmax-attempts=1000\n",
     "[retry] max-attempts=1000 is not a whole number between 1 and 100"},
    {"[retry]\ninitial-delay=-1\n",
     "[retry] initial-delay=-1 is not a number of seconds between 0.001 and 3600"},
    {"[retry]\ninitial-delay=nan\n",
     "[retry] initial-delay=nan is not a number of seconds between 0.001 and 3600"},
    {"[retry]\ninitial-delay=1,5\n",
     "[retry] initial-delay=1,5 is not a number of seconds between 0.001 and 3600"},
    {"[retry]\nmax-delay=1e9\n",
     "[retry] max-delay=1e9 is not a number of seconds between 0.001 and 86400"},
    {"[retry]\ninitial-delay=5\nmax-delay=1\n",
     "[retry] max-delay=1 is smaller than initial-delay=5"},
};

static void
test_bad_values(void)
{
	for (guint i = 0; i < G_N_ELEMENTS(bad_cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(CtConfig) c = load(bad_cases[i].text, &error);
		g_autofree gchar *want =
		    g_strdup_printf("/etc/certtether/certtether.conf: %s", bad_cases[i].message);
		g_assert_null(c);
		g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
		g_assert_cmpstr(error->message, ==, want);
	}
}

static void
test_bad_syntax(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) c = load("[service\nurl=x\n", &error);
	g_assert_null(c);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(g_str_has_prefix(error->message, "/etc/certtether/certtether.conf: "));
}

static void
test_bad_pem_ca_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = g_build_filename(tmpdir, "garbage.pem", NULL);
	g_autoptr(CtConfig) c = NULL;
	g_assert_true(g_file_set_contents(path, "not a certificate\n", -1, NULL));
	c = load("[service]\nca-file=garbage.pem\n", &error);
	g_assert_null(c);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(g_str_has_prefix(error->message, "/etc/certtether/certtether.conf: [service] "
	                                               "ca-file=garbage.pem cannot be used: "));
	g_assert_nonnull(strstr(error->message, "BEGIN CERTIFICATE"));
	g_unlink(path);
}

static void
test_client_certificate(void)
{
	g_autoptr(GError) error = NULL;
	/* relative to the file's directory, like ca-file */
	const gchar *text = "[service]\n"
	                    "protocol = est\n"
	                    "url = https://est.example.com\n"
	                    "[identity]\n"
	                    "auth = certificate\n"
	                    "client-cert = client.pem\n"
	                    "client-key = client.key\n";
	g_autoptr(CtConfig) c = load(text, &error);
	g_autoptr(CtCredentials) credentials = NULL;
	g_assert_no_error(error);
	g_assert_cmpint(ct_config_get_auth(c), ==, CT_AUTH_METHOD_CERTIFICATE);
	g_assert_cmpstr(ct_config_get_client_cert(c), ==, client_pem);
	g_assert_cmpstr(ct_config_get_client_key(c), ==, client_key);
	g_assert_cmpstr(ct_auth_method_to_string(ct_config_get_auth(c)), ==, "certificate");
	g_assert_null(ct_config_get_warnings(c)[0]);

	/* the credentials [identity] describes: the certificate, ready to use */
	credentials = ct_config_new_credentials(c);
	g_assert_true(ct_credentials_ensure(credentials, ct_config_get_url(c), &error));
	g_assert_no_error(error);
	g_assert_cmpint(ct_credentials_get_method_in_use(credentials), ==,
	                CT_AUTH_METHOD_CERTIFICATE);
	g_assert_cmpstr(ct_credentials_get_principal(credentials), ==,
	                "CN=alice@test.local,O=certtether unit test");

	/* switching to CertProv afterwards (certtether test --protocol) is refused too */
	g_assert_false(
	    ct_config_set_value(c, "service", "protocol", "certprov", "--protocol", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(g_str_has_prefix(error->message, "--protocol: [identity] auth=certificate "
	                                               "cannot be used with [service] "
	                                               "protocol=certprov"));
}

static void
test_client_key_readable_by_others(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) c = load("[identity]\nclient-key=open.key\n", &error);
	g_autofree gchar *want = g_strdup_printf(
	    "/etc/certtether/certtether.conf: [identity] client-key=open.key cannot be used: %s "
	    "is accessible by group or others (mode 0644): a private key must be readable by its "
	    "owner only; run chmod 600 %s",
	    open_key, open_key);
	g_assert_null(c);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_cmpstr(error->message, ==, want);
}

static void
test_client_cert_not_pem(void)
{
	g_autoptr(GError) error = NULL;
	/* a key where the certificate should be */
	g_autoptr(CtConfig) c = load("[identity]\nclient-cert=client.key\n", &error);
	g_assert_null(c);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(g_str_has_prefix(error->message,
	                               "/etc/certtether/certtether.conf: [identity] "
	                               "client-cert=client.key cannot be used: "));
	g_assert_nonnull(strstr(error->message, "BEGIN CERTIFICATE"));
}

static void
test_client_cert_without_certificate_auth(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) c = NULL;
	g_ptr_array_set_size(logged_warnings, 0);
	c = load("[identity]\nclient-cert=client.pem\nclient-key=client.key\n", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(ct_config_get_warnings(c)[0], ==,
	                "/etc/certtether/certtether.conf: [identity] client-cert and client-key "
	                "are used only with auth=certificate (auth=auto)");
	g_assert_null(ct_config_get_warnings(c)[1]);
	g_assert_cmpuint(logged_warnings->len, ==, 1);
}

static void
test_unknown_keys_warn(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) c = NULL;
	const gchar *const *warnings;
	g_ptr_array_set_size(logged_warnings, 0);
	c = load("[service]\ncolour=blue\nprotocol=est\n[extra]\nx=1\n", &error);
	/* logged (the daemon's journal) and kept (the CLI's output) */
	g_assert_cmpuint(logged_warnings->len, ==, 2);
	g_assert_cmpstr(g_ptr_array_index(logged_warnings, 0), ==,
	                "/etc/certtether/certtether.conf: unknown key [service] colour ignored");
	g_assert_no_error(error);
	g_assert_nonnull(c);
	g_assert_cmpint(ct_config_get_protocol(c), ==, CT_PROTOCOL_EST);
	warnings = ct_config_get_warnings(c);
	g_assert_cmpstr(warnings[0], ==,
	                "/etc/certtether/certtether.conf: unknown key [service] colour ignored");
	g_assert_cmpstr(warnings[1], ==,
	                "/etc/certtether/certtether.conf: unknown group [extra] ignored");
	g_assert_null(warnings[2]);
}

static void
test_env_ca_file(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) c = NULL;
	g_autoptr(CtConfig) c2 = NULL;
	g_setenv("CERTTETHER_CA_FILE", ca_pem, TRUE);
	c = load("[service]\nca-file=\n", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(ct_config_get_ca_file(c), ==, ca_pem);
	/* the environment is validated too, and named in the message */
	g_setenv("CERTTETHER_CA_FILE", "/nonexistent.pem", TRUE);
	c2 = load("", &error);
	g_assert_null(c2);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(g_str_has_prefix(error->message, "CERTTETHER_CA_FILE: [service] "
	                                               "ca-file=/nonexistent.pem cannot be used"));
	g_unsetenv("CERTTETHER_CA_FILE");
}

static void
test_search_order(void)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *xdg = g_build_filename(tmpdir, "xdg", NULL);
	g_autofree gchar *xdg_dir = g_build_filename(xdg, "certtether", NULL);
	g_autofree gchar *xdg_file = g_build_filename(xdg_dir, "certtether.conf", NULL);
	g_autofree gchar *explicit_file = g_build_filename(tmpdir, "explicit.conf", NULL);
	g_autofree gchar *missing = g_build_filename(tmpdir, "missing.conf", NULL);
	g_autofree gchar *found = NULL;
	g_autoptr(CtConfig) c = NULL;
	g_autoptr(CtConfig) c2 = NULL;
	g_autoptr(CtConfig) c3 = NULL;

	g_assert_cmpint(g_mkdir_with_parents(xdg_dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(xdg_file, "[service]\nprotocol=est\n", -1, NULL));
	g_assert_true(g_file_set_contents(explicit_file, "[service]\ntimeout=7\n", -1, NULL));
	g_setenv("XDG_CONFIG_HOME", xdg, TRUE);

	/* the user's file */
	g_unsetenv("CERTTETHER_CONFIG");
	found = ct_config_find_file();
	g_assert_cmpstr(found, ==, xdg_file);
	c = ct_config_load(&error);
	g_assert_no_error(error);
	g_assert_cmpstr(ct_config_get_path(c), ==, xdg_file);
	g_assert_cmpint(ct_config_get_protocol(c), ==, CT_PROTOCOL_EST);

	/* an explicit file wins, and it is the only one read (no merge) */
	g_setenv("CERTTETHER_CONFIG", explicit_file, TRUE);
	c2 = ct_config_load(&error);
	g_assert_no_error(error);
	g_assert_cmpstr(ct_config_get_path(c2), ==, explicit_file);
	g_assert_cmpuint(ct_config_get_timeout(c2), ==, 7);
	g_assert_cmpint(ct_config_get_protocol(c2), ==, CT_PROTOCOL_CERTPROV);

	/* an explicit file that does not exist is an error, not a fallback */
	g_setenv("CERTTETHER_CONFIG", missing, TRUE);
	c3 = ct_config_load(&error);
	g_assert_null(c3);
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, missing));

	g_unsetenv("CERTTETHER_CONFIG");
	g_unsetenv("XDG_CONFIG_HOME");
	g_unlink(xdg_file);
	g_rmdir(xdg_dir);
	g_rmdir(xdg);
	g_unlink(explicit_file);
}

static void
test_state_dir(void)
{
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	g_autofree gchar *c = NULL;
	g_autofree gchar *home =
	    g_build_filename(g_get_home_dir(), ".local", "state", "certtether", NULL);
	g_setenv("CERTTETHER_STATE_DIR", "/tmp/ct-state", TRUE);
	a = ct_config_get_state_dir();
	g_assert_cmpstr(a, ==, "/tmp/ct-state");
	g_unsetenv("CERTTETHER_STATE_DIR");
	g_setenv("XDG_STATE_HOME", "/tmp/xdg-state", TRUE);
	b = ct_config_get_state_dir();
	g_assert_cmpstr(b, ==, "/tmp/xdg-state/certtether");
	/* a relative XDG value is invalid and ignored */
	g_setenv("XDG_STATE_HOME", "relative", TRUE);
	c = ct_config_get_state_dir();
	g_assert_cmpstr(c, ==, home);
	g_unsetenv("XDG_STATE_HOME");
}

static void
test_set_value(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtConfig) c = ct_config_new_default();
	g_assert_true(
	    ct_config_set_value(c, "service", "url", "https://x.example.com/", "--url", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(ct_config_get_url(c), ==, "https://x.example.com/");
	g_assert_false(
	    ct_config_set_value(c, "service", "ca-file", "/nonexistent", "--ca-file", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_true(
	    g_str_has_prefix(error->message, "--ca-file: [service] ca-file=/nonexistent"));
	g_clear_error(&error);
	g_assert_false(ct_config_set_value(c, "service", "nope", "1", "--set", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_cmpstr(error->message, ==, "--set: there is no key [service] nope");
	g_clear_error(&error);
	/* consistency is checked after a single change too */
	g_assert_false(ct_config_set_value(c, "retry", "max-delay", "1", "--max-delay", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
}

static void
test_value_quoting(void)
{
	/* control characters are shown escaped, long values cut */
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_value = g_strnfill(500, 'x');
	g_autofree gchar *text = g_strdup_printf("[policy]\nmode=%s\n", long_value);
	g_autoptr(CtConfig) c = load("[policy]\nmode=a\\tb\n", &error);
	g_autoptr(CtConfig) c2 = NULL;
	g_assert_null(c);
	g_assert_nonnull(strstr(error->message, "mode=a\\x09b is not one of"));
	g_clear_error(&error);
	c2 = load(text, &error);
	g_assert_null(c2);
	g_assert_cmpuint(strlen(error->message), <, 300);
	g_assert_nonnull(strstr(error->message, "x... is not one of"));
}

/* the engine logs with structured logging: record its warnings instead of aborting */
static GLogWriterOutput
record_warnings(GLogLevelFlags level, const GLogField *fields, gsize n_fields, gpointer data)
{
	(void)data;
	if ((level & G_LOG_LEVEL_WARNING) != 0) {
		for (gsize i = 0; i < n_fields; i++) {
			if (g_strcmp0(fields[i].key, "MESSAGE") == 0)
				g_ptr_array_add(logged_warnings, g_strdup(fields[i].value));
		}
		return G_LOG_WRITER_HANDLED;
	}
	return g_log_writer_default(level, fields, n_fields, data);
}

int
main(int argc, char **argv)
{
	EVP_PKEY *key = NULL;
	X509 *ca;
	int rc;
	g_test_init(&argc, &argv, NULL);
	logged_warnings = g_ptr_array_new_with_free_func(g_free);
	g_log_set_writer_func(record_warnings, NULL, NULL);
	g_unsetenv("CERTTETHER_CA_FILE");
	g_unsetenv("CERTTETHER_CONFIG");
	tmpdir = g_dir_make_tmp("ct-config-XXXXXX", NULL);
	ca = ct_test_ca_new("Config Test CA", &key);
	ca_pem = ct_test_write_pem(tmpdir, "ca.pem", ca, NULL);
	{
		CtTestCertSpec spec = {.cn = "alice@test.local",
		                       .san_uri = "sip:alice@test.local",
		                       .client_auth = TRUE,
		                       .not_before = -60,
		                       .not_after = 86400};
		EVP_PKEY *client_k = ct_test_key_new();
		X509 *client = ct_test_cert_new(client_k, &spec, ca, key);
		client_pem = ct_test_write_pem(tmpdir, "client.pem", client, NULL);
		client_key = ct_test_write_key(tmpdir, "client.key", client_k);
		open_key = ct_test_write_key(tmpdir, "open.key", client_k);
		g_assert_cmpint(g_chmod(client_key, 0600), ==, 0);
		g_assert_cmpint(g_chmod(open_key, 0644), ==, 0);
		X509_free(client);
		EVP_PKEY_free(client_k);
	}
	X509_free(ca);
	EVP_PKEY_free(key);

	g_test_add_func("/config/defaults", test_defaults);
	g_test_add_func("/config/good-file", test_good_file);
	g_test_add_func("/config/key-algorithm-default", test_key_algorithm_default);
	g_test_add_func("/config/bad-values", test_bad_values);
	g_test_add_func("/config/bad-syntax", test_bad_syntax);
	g_test_add_func("/config/bad-pem-ca-file", test_bad_pem_ca_file);
	g_test_add_func("/config/client-certificate", test_client_certificate);
	g_test_add_func("/config/client-key-readable-by-others",
	                test_client_key_readable_by_others);
	g_test_add_func("/config/client-cert-not-pem", test_client_cert_not_pem);
	g_test_add_func("/config/client-cert-without-certificate-auth",
	                test_client_cert_without_certificate_auth);
	g_test_add_func("/config/unknown-keys-warn", test_unknown_keys_warn);
	g_test_add_func("/config/env-ca-file", test_env_ca_file);
	g_test_add_func("/config/search-order", test_search_order);
	g_test_add_func("/config/state-dir", test_state_dir);
	g_test_add_func("/config/set-value", test_set_value);
	g_test_add_func("/config/value-quoting", test_value_quoting);
	rc = g_test_run();
	g_unlink(ca_pem);
	g_unlink(client_pem);
	g_unlink(client_key);
	g_unlink(open_key);
	g_rmdir(tmpdir);
	g_free(ca_pem);
	g_free(client_pem);
	g_free(client_key);
	g_free(open_key);
	g_free(tmpdir);
	g_ptr_array_unref(logged_warnings);
	return rc;
}
