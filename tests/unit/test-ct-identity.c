/*
 * Identity: the SIP URI from config or principal, the Entity, the DER subject
 * and subjectAltName for CREATE_CSR (parsed back with OpenSSL), the DeviceId
 * (checked against UUIDv5 values computed independently with Python's uuid).
 */
#include <openssl/x509v3.h>

#include "daemon/engine/ct-identity.h"
#include "daemon/engine/ct-x509.h"
#include "tests/unit/ct-test-issue.h"

static void
test_from_principal(void)
{
	struct {
		const gchar *principal;
		const gchar *uri; /* NULL: refused */
	} cases[] = {
	    {"alice@TEST.LOCAL", "sip:alice@test.local"},
	    {"Bob.Smith@CORP.EXAMPLE.COM", "sip:Bob.Smith@corp.example.com"},
	    {"alice/admin@TEST.LOCAL", NULL},
	    {"alice", NULL},
	    {"@TEST.LOCAL", NULL},
	    {"alice@LOCAL", NULL}, /* a one-label realm is no SIP domain */
	    {"al ice@TEST.LOCAL", NULL},
	    {"alice\\@x@TEST.LOCAL", NULL},
	    {"", NULL},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *uri =
		    ct_identity_sip_uri_from_principal(cases[i].principal, &error);
		g_assert_cmpstr(uri, ==, cases[i].uri);
		if (cases[i].uri == NULL) {
			g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
			g_assert_nonnull(strstr(error->message, "sip-uri="));
		}
	}
}

static void
test_resolve(void)
{
	g_autoptr(GError) error = NULL;
	const gchar *text = "[identity]\nsip-uri=sip:alice.smith@Example.com\n";
	g_autoptr(CtConfig) config = ct_config_load_data(text, strlen(text), "t", NULL, &error);
	g_autoptr(CtConfig) empty = ct_config_new_default();
	g_autofree gchar *a = NULL;
	g_autofree gchar *b = NULL;
	g_assert_no_error(error);
	/* the configured address wins over the principal */
	a = ct_identity_resolve_sip_uri(config, "alice@TEST.LOCAL", &error);
	g_assert_cmpstr(a, ==, "sip:alice.smith@example.com");
	b = ct_identity_resolve_sip_uri(empty, "alice@TEST.LOCAL", &error);
	g_assert_cmpstr(b, ==, "sip:alice@test.local");
}

static void
test_entity(void)
{
	g_autofree gchar *e = ct_identity_entity("sip:alice@test.local");
	g_autofree gchar *e2 = ct_identity_entity("SIP:bob@example.com");
	g_assert_cmpstr(e, ==, "alice@test.local");
	g_assert_cmpstr(e2, ==, "bob@example.com");
}

static void
test_subject_der(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = ct_identity_subject_der("sip:alice@test.local", &error);
	const guint8 *p;
	gsize len = 0;
	X509_NAME *name;
	char cn[64] = {0};
	g_autoptr(GBytes) bad = NULL;
	g_assert_no_error(error);
	p = g_bytes_get_data(der, &len);
	name = d2i_X509_NAME(NULL, &p, (long)len);
	g_assert_nonnull(name);
	g_assert_cmpint(X509_NAME_entry_count(name), ==, 1);
	g_assert_cmpint(X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)), >, 0);
	g_assert_cmpstr(cn, ==, "alice@test.local");
	X509_NAME_free(name);
	bad = ct_identity_subject_der("alice@test.local", &error);
	g_assert_null(bad);
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
}

static void
test_san_der(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) der = ct_identity_san_der("sip:alice@test.local", &error);
	const guint8 *p;
	gsize len = 0;
	GENERAL_NAMES *names;
	const GENERAL_NAME *gen;
	g_assert_no_error(error);
	p = g_bytes_get_data(der, &len);
	names = d2i_GENERAL_NAMES(NULL, &p, (long)len);
	g_assert_nonnull(names);
	g_assert_cmpint(sk_GENERAL_NAME_num(names), ==, 1);
	gen = sk_GENERAL_NAME_value(names, 0);
	g_assert_cmpint(gen->type, ==, GEN_URI);
	g_assert_cmpmem(ASN1_STRING_get0_data(gen->d.uniformResourceIdentifier),
	                ASN1_STRING_length(gen->d.uniformResourceIdentifier),
	                "sip:alice@test.local", 20);
	GENERAL_NAMES_free(names);
}

static void
test_device_id(void)
{
	g_autofree gchar *a = ct_identity_device_id("PHONE-0001");
	g_autofree gchar *a2 = ct_identity_device_id("PHONE-0001");
	g_autofree gchar *b = ct_identity_device_id("PHONE-0002");
	g_autofree gchar *empty = ct_identity_device_id("");
	/* python3: uuid.uuid5(uuid.UUID("6b2f0c8e-3d41-4f5a-9b17-52c4e08a63d1"), "PHONE-0001") */
	g_assert_cmpstr(a, ==, "{3341A23E-2CE7-51B8-8668-EC1F58BDC006}");
	g_assert_cmpstr(a2, ==, a);
	g_assert_cmpstr(b, ==, "{DD8B443E-C9F6-5752-A0B6-1A1F59517C31}");
	g_assert_cmpstr(empty, ==, "{1318F4B9-2605-5C13-B156-926569049745}");
	g_assert_cmpuint(strlen(a), ==, 38);
}

static void
test_cert_names_user(void)
{
	g_autoptr(EVP_PKEY) key = ct_test_key_new();
	CtTestCertSpec san = {.cn = "someone", .san_uri = "sip:alice@test.local", .not_after = 60};
	CtTestCertSpec cn = {.cn = "ALICE@test.local", .not_after = 60};
	CtTestCertSpec cn_uri = {.cn = "sip:alice@test.local", .not_after = 60};
	CtTestCertSpec other = {
	    .cn = "bob@test.local", .san_uri = "sip:bob@test.local", .not_after = 60};
	CtTestCertSpec prefix = {.cn = "alice@test.local.evil.example", .not_after = 60};
	g_autoptr(X509) c1 = ct_test_cert_new(key, &san, NULL, NULL);
	g_autoptr(X509) c2 = ct_test_cert_new(key, &cn, NULL, NULL);
	g_autoptr(X509) c3 = ct_test_cert_new(key, &cn_uri, NULL, NULL);
	g_autoptr(X509) c4 = ct_test_cert_new(key, &other, NULL, NULL);
	g_autoptr(X509) c5 = ct_test_cert_new(key, &prefix, NULL, NULL);
	g_assert_true(ct_identity_cert_names_user(c1, "sip:alice@test.local"));
	g_assert_true(ct_identity_cert_names_user(c2, "sip:alice@test.local"));
	g_assert_true(ct_identity_cert_names_user(c3, "sip:alice@test.local"));
	g_assert_false(ct_identity_cert_names_user(c4, "sip:alice@test.local"));
	g_assert_false(ct_identity_cert_names_user(c5, "sip:alice@test.local"));
	g_assert_false(ct_identity_cert_names_user(NULL, "sip:alice@test.local"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/identity/from-principal", test_from_principal);
	g_test_add_func("/identity/resolve", test_resolve);
	g_test_add_func("/identity/entity", test_entity);
	g_test_add_func("/identity/subject-der", test_subject_der);
	g_test_add_func("/identity/san-der", test_san_der);
	g_test_add_func("/identity/device-id", test_device_id);
	g_test_add_func("/identity/cert-names-user", test_cert_names_user);
	return g_test_run();
}
