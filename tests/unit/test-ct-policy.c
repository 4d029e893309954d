/*
 * Unit tests of the policy decisions (daemon/engine/ct-policy.c): device approval
 * against a real ledger file, and renewal against certificates made in the test.
 */
#include <glib/gstdio.h>
#include <string.h>

#include "daemon/engine/ct-cert-info.h"
#include "daemon/engine/ct-policy.h"
#include "daemon/engine/ct-x509.h"
#include "tests/unit/ct-test-pki.h"

#define ALICE  "sip:alice@test.local"
#define FPR_A  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FPR_B  "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define DAY_US (G_USEC_PER_SEC * (gint64)86400)

typedef struct {
	gchar *dir;
	CtLedger *ledger;
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *path = NULL;
	(void)data;
	f->dir = g_dir_make_tmp("ct-policy-XXXXXX", &error);
	g_assert_no_error(error);
	path = g_build_filename(f->dir, "ledger.db", NULL);
	f->ledger = ct_ledger_open(path, &error);
	g_assert_no_error(error);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	const gchar *suffixes[] = {"", "-wal", "-shm"};
	(void)data;
	g_clear_object(&f->ledger);
	for (guint i = 0; i < G_N_ELEMENTS(suffixes); i++) {
		g_autofree gchar *path = g_strdup_printf("%s/ledger.db%s", f->dir, suffixes[i]);
		g_remove(path);
	}
	g_rmdir(f->dir);
	g_free(f->dir);
}

static CtPolicyDecision *
decide(
    Fixture *f, const gchar *mode, const gchar *const *allow, const gchar *serial, const gchar *fpr)
{
	g_autoptr(GError) error = NULL;
	CtPolicyDecision *decision =
	    ct_policy_decide_text(mode, allow, f->ledger, serial, fpr, &error);
	g_assert_no_error(error);
	g_assert_nonnull(decision);
	g_assert_nonnull(decision->reason);
	g_test_message("%s: %s: %s", mode, ct_policy_verdict_to_string(decision->verdict),
	               decision->reason);
	return decision;
}

static void
assert_reason(const CtPolicyDecision *decision, const gchar *fragment)
{
	if (strstr(decision->reason, fragment) == NULL)
		g_error("expected '%s' in: %s", fragment, decision->reason);
}

static void
pair(Fixture *f, const gchar *serial, const gchar *fpr)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtLedgerDevice) device =
	    ct_ledger_pair_device(f->ledger, serial, fpr, NULL, NULL, NULL, ALICE, &error);
	g_assert_no_error(error);
}

static void
reject(Fixture *f, const gchar *serial, const gchar *fpr)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(CtLedgerDevice) device =
	    ct_ledger_reject_device(f->ledger, serial, fpr, NULL, NULL, NULL, &error);
	g_assert_no_error(error);
}

/* ---- device decisions ---- */

static void
test_unknown_device_by_mode(Fixture *f, gconstpointer data)
{
	g_autoptr(CtPolicyDecision) ask = decide(f, "ask", NULL, "SN1", FPR_A);
	g_autoptr(CtPolicyDecision) allowlist = decide(f, "allowlist", NULL, "SN1", FPR_A);
	g_autoptr(CtPolicyDecision) always = decide(f, "always", NULL, "SN1", FPR_A);
	(void)data;
	g_assert_cmpint(ask->verdict, ==, CT_POLICY_VERDICT_AWAITING_APPROVAL);
	assert_reason(ask, "certtether approve SN1");
	g_assert_cmpint(allowlist->verdict, ==, CT_POLICY_VERDICT_REJECTED);
	assert_reason(allowlist, "allow list does not name device SN1");
	g_assert_cmpint(always->verdict, ==, CT_POLICY_VERDICT_APPROVED);
	assert_reason(always, "mode 'always'");
	g_assert_cmpint(ask->flags, ==, CT_POLICY_FLAG_NONE);
	g_assert_null(ask->device);
}

static void
test_paired_device(Fixture *f, gconstpointer data)
{
	const gchar *modes[] = {"ask", "allowlist", "always"};
	(void)data;
	pair(f, "SN1", FPR_A);
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autoptr(CtPolicyDecision) d = decide(f, modes[i], NULL, "SN1", FPR_A);
		g_assert_cmpint(d->verdict, ==, CT_POLICY_VERDICT_APPROVED);
		g_assert_cmpint(d->flags, ==, CT_POLICY_FLAG_NONE);
		g_assert_nonnull(d->device);
		g_assert_cmpstr(d->device->user, ==, ALICE);
		assert_reason(d, "is paired for sip:alice@test.local");
	}
	/* an upper-case fingerprint names the same identity */
	{
		g_autofree gchar *upper = g_ascii_strup(FPR_A, -1);
		g_autoptr(CtPolicyDecision) d = decide(f, "ask", NULL, "SN1", upper);
		g_assert_cmpint(d->verdict, ==, CT_POLICY_VERDICT_APPROVED);
	}
}

static void
test_rejected_device(Fixture *f, gconstpointer data)
{
	/* the user's "no" beats the mode and the allow list */
	const gchar *allow[] = {"SN1", NULL};
	const gchar *modes[] = {"ask", "allowlist", "always"};
	(void)data;
	reject(f, "SN1", FPR_A);
	for (guint i = 0; i < G_N_ELEMENTS(modes); i++) {
		g_autoptr(CtPolicyDecision) d = decide(f, modes[i], allow, "SN1", FPR_A);
		g_assert_cmpint(d->verdict, ==, CT_POLICY_VERDICT_REJECTED);
		g_assert_nonnull(d->device);
		assert_reason(d, "you rejected device SN1");
	}
}

static void
test_allow_serial_only(Fixture *f, gconstpointer data)
{
	const gchar *allow[] = {"SN0", " SN1 ", NULL};
	g_autoptr(CtPolicyDecision) a = decide(f, "allowlist", allow, "SN1", FPR_A);
	g_autoptr(CtPolicyDecision) b = decide(f, "allowlist", allow, "SN1", FPR_B);
	g_autoptr(CtPolicyDecision) c = decide(f, "allowlist", allow, "SN2", FPR_A);
	g_autoptr(CtPolicyDecision) d = decide(f, "ask", allow, "SN1", FPR_B);
	(void)data;
	/* a serial-only entry admits any identity key of that serial */
	g_assert_cmpint(a->verdict, ==, CT_POLICY_VERDICT_APPROVED);
	g_assert_cmpint(b->verdict, ==, CT_POLICY_VERDICT_APPROVED);
	assert_reason(a, "the allow list names device SN1");
	g_assert_cmpint(c->verdict, ==, CT_POLICY_VERDICT_REJECTED);
	/* the allow list also applies in mode ask */
	g_assert_cmpint(d->verdict, ==, CT_POLICY_VERDICT_APPROVED);
}

static void
test_allow_serial_and_key(Fixture *f, gconstpointer data)
{
	g_autofree gchar *colons = NULL;
	g_autoptr(GString) text = g_string_new("SN2:");
	const gchar *allow[] = {"SN1:" FPR_A, NULL, NULL};
	(void)data;
	/* "AA:AA:..." upper case with ':' between the bytes is the same fingerprint */
	for (guint i = 0; i < 32; i++)
		g_string_append(text, i == 0 ? "BB" : ":BB");
	colons = g_string_free(g_steal_pointer(&text), FALSE);
	allow[1] = colons;
	{
		g_autoptr(CtPolicyDecision) a = decide(f, "allowlist", allow, "SN1", FPR_A);
		g_autoptr(CtPolicyDecision) b = decide(f, "allowlist", allow, "SN1", FPR_B);
		g_autoptr(CtPolicyDecision) c = decide(f, "allowlist", allow, "SN2", FPR_B);
		g_autoptr(CtPolicyDecision) d = decide(f, "ask", allow, "SN1", FPR_B);
		g_assert_cmpint(a->verdict, ==, CT_POLICY_VERDICT_APPROVED);
		/* SERIAL:FPR admits that key only */
		g_assert_cmpint(b->verdict, ==, CT_POLICY_VERDICT_REJECTED);
		g_assert_cmpint(c->verdict, ==, CT_POLICY_VERDICT_APPROVED);
		g_assert_cmpint(d->verdict, ==, CT_POLICY_VERDICT_AWAITING_APPROVAL);
	}
}

static void
test_allow_entries_checked(Fixture *f, gconstpointer data)
{
	/* serials are PROTOCOL.md tokens: printable ASCII without spaces */
	const gchar *bad[] = {"", ":" FPR_A, "SN1:", "SN1:abc", "SN1:" FPR_A "00", "SN1:zz" FPR_A,
	                      "SN 1", "SN\t1"};
	const gchar *good[] = {"SN1", "SN1:" FPR_A, "AB/12+x"};
	/* a malformed entry never matches, even its serial */
	const gchar *allow[] = {"SN1:abc", NULL};
	g_autoptr(CtPolicyDecision) d = decide(f, "allowlist", allow, "SN1", FPR_A);
	(void)data;
	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_false(ct_policy_check_allow_entry(bad[i], &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_CONFIG);
		g_test_message("%s", error->message);
	}
	for (guint i = 0; i < G_N_ELEMENTS(good); i++)
		g_assert_true(ct_policy_check_allow_entry(good[i], NULL));
	g_assert_cmpint(d->verdict, ==, CT_POLICY_VERDICT_REJECTED);
}

static void
test_clone_suspected(Fixture *f, gconstpointer data)
{
	const gchar *allow_other[] = {"SN1:" FPR_A, NULL};
	(void)data;
	pair(f, "SN1", FPR_A);
	{
		/* same serial, another identity key: the pairing does not carry over */
		g_autoptr(CtPolicyDecision) ask = decide(f, "ask", NULL, "SN1", FPR_B);
		g_autoptr(CtPolicyDecision) allowlist =
		    decide(f, "allowlist", allow_other, "SN1", FPR_B);
		g_autoptr(CtPolicyDecision) always = decide(f, "always", NULL, "SN1", FPR_B);
		g_assert_cmpint(ask->verdict, ==, CT_POLICY_VERDICT_AWAITING_APPROVAL);
		g_assert_cmpint(ask->flags & CT_POLICY_FLAG_CLONE_SUSPECTED, !=, 0);
		assert_reason(
		    ask,
		    "WARNING: serial SN1 is paired with another identity key (aaaaaaaaaaaaaaaa");
		g_assert_null(ask->device);
		g_assert_cmpint(allowlist->verdict, ==, CT_POLICY_VERDICT_REJECTED);
		g_assert_cmpint(allowlist->flags & CT_POLICY_FLAG_CLONE_SUSPECTED, !=, 0);
		g_assert_cmpint(always->verdict, ==, CT_POLICY_VERDICT_APPROVED);
		g_assert_cmpint(always->flags & CT_POLICY_FLAG_CLONE_SUSPECTED, !=, 0);
		assert_reason(always, "may be a clone");
	}
	{
		/* a rejected row of the serial with another key is no reason to suspect */
		g_autoptr(CtPolicyDecision) d = NULL;
		reject(f, "SN2", FPR_A);
		d = decide(f, "ask", NULL, "SN2", FPR_B);
		g_assert_cmpint(d->flags, ==, CT_POLICY_FLAG_NONE);
	}
}

static void
test_decide_errors(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) e1 = NULL;
	g_autoptr(GError) e2 = NULL;
	g_autoptr(GError) e3 = NULL;
	(void)data;
	g_assert_null(ct_policy_decide_text("sometimes", NULL, f->ledger, "SN1", FPR_A, &e1));
	g_assert_error(e1, CT_ERROR, CT_ERROR_CONFIG);
	g_assert_nonnull(strstr(e1->message, "not one of ask, allowlist, always"));
	g_assert_null(ct_policy_decide_text("ask", NULL, f->ledger, "SN1", "abc", &e2));
	g_assert_error(e2, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_assert_null(ct_policy_decide_text("ask", NULL, f->ledger, "", FPR_A, &e3));
	g_assert_error(e3, CT_ERROR, CT_ERROR_INVALID_ARGS);
}

/* ---- renewal ---- */

static GBytes *
cert_for(const gchar *cn, const gchar *san_uri, gint64 not_before_s, gint64 not_after_s)
{
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(EVP_PKEY) ca = ct_test_pki_key("ec-p384");
	return ct_test_pki_cert(key, cn, san_uri, not_before_s, not_after_s, ca);
}

static CtRenewalStatus
renewal(GBytes *cert, gboolean revoked, gint64 now, const gchar *fragment)
{
	g_autofree gchar *reason = NULL;
	CtRenewalStatus status = ct_policy_renewal_needed(cert, ALICE, 30, revoked, now, &reason);
	g_assert_nonnull(reason);
	g_test_message("%s: %s", ct_renewal_status_to_string(status), reason);
	if (fragment != NULL && strstr(reason, fragment) == NULL)
		g_error("expected '%s' in: %s", fragment, reason);
	return status;
}

static void
test_renewal_no_certificate(void)
{
	g_autoptr(GBytes) empty = g_bytes_new_static("", 0);
	g_autoptr(GBytes) garbage = g_bytes_new_static("\x30\x03\x02\x01\x00", 5);
	gint64 now = g_get_real_time();
	g_assert_cmpint(renewal(NULL, FALSE, now, "holds no certificate"), ==,
	                CT_RENEWAL_NO_CERTIFICATE);
	g_assert_cmpint(renewal(empty, FALSE, now, NULL), ==, CT_RENEWAL_NO_CERTIFICATE);
	g_assert_cmpint(renewal(garbage, FALSE, now, "cannot be read"), ==, CT_RENEWAL_UNREADABLE);
	/* no reason asked for is fine */
	g_assert_cmpint(ct_policy_renewal_needed(NULL, ALICE, 30, FALSE, now, NULL), ==,
	                CT_RENEWAL_NO_CERTIFICATE);
}

static void
test_renewal_states(void)
{
	gint64 now = g_get_real_time();
	g_autoptr(GBytes) fresh = cert_for("alice@test.local", ALICE, -3600, 200 * 86400);
	g_autoptr(GBytes) window = cert_for("alice@test.local", ALICE, -3600, 12 * 86400 + 3600);
	g_autoptr(GBytes) expired =
	    cert_for("alice@test.local", ALICE, -400 * 86400, -2 * 86400 - 3600);
	g_autoptr(GBytes) future = cert_for("alice@test.local", ALICE, 2 * 86400, 300 * 86400);
	g_autoptr(GBytes) bob =
	    cert_for("bob@test.local", "sip:bob@test.local", -3600, 200 * 86400);

	g_assert_cmpint(renewal(fresh, FALSE, now, "valid until"), ==, CT_RENEWAL_UP_TO_DATE);
	g_assert_cmpint(renewal(window, FALSE, now,
	                        "the certificate expires in 12 days (renewal window 30 days)"),
	                ==, CT_RENEWAL_IN_WINDOW);
	g_assert_cmpint(renewal(expired, FALSE, now, "(2 days ago)"), ==, CT_RENEWAL_EXPIRED);
	g_assert_cmpint(renewal(future, FALSE, now, "check the clock"), ==,
	                CT_RENEWAL_NOT_YET_VALID);
	g_assert_cmpint(renewal(fresh, TRUE, now, "revoked by the user"), ==, CT_RENEWAL_REVOKED);
	g_assert_cmpint(
	    renewal(bob, FALSE, now, "is for CN=bob@test.local, not sip:alice@test.local"), ==,
	    CT_RENEWAL_OTHER_USER);
	/* revoked wins over expired: the user's word is the first thing to report */
	g_assert_cmpint(renewal(expired, TRUE, now, NULL), ==, CT_RENEWAL_REVOKED);
}

static void
test_renewal_user_match(void)
{
	gint64 now = g_get_real_time();
	/* CN without the scheme, no SAN (CertProv style) */
	g_autoptr(GBytes) cn_only = cert_for("alice@test.local", NULL, -3600, 200 * 86400);
	/* a display name in the CN, the identity in the SAN URI */
	g_autoptr(GBytes) san_only = cert_for("Alice Liddell", ALICE, -3600, 200 * 86400);
	/* neither names alice */
	g_autoptr(GBytes) display = cert_for("Alice Liddell", NULL, -3600, 200 * 86400);
	/* the CN names alice but with another host: not her */
	g_autoptr(GBytes) other_host = cert_for("alice@evil.example", NULL, -3600, 200 * 86400);
	g_assert_cmpint(renewal(cn_only, FALSE, now, NULL), ==, CT_RENEWAL_UP_TO_DATE);
	g_assert_cmpint(renewal(san_only, FALSE, now, NULL), ==, CT_RENEWAL_UP_TO_DATE);
	g_assert_cmpint(renewal(display, FALSE, now, NULL), ==, CT_RENEWAL_OTHER_USER);
	g_assert_cmpint(renewal(other_host, FALSE, now, NULL), ==, CT_RENEWAL_OTHER_USER);
	g_assert_cmpint(ct_policy_renewal_needed(cn_only, NULL, 30, FALSE, now, NULL), ==,
	                CT_RENEWAL_OTHER_USER);
}

static void
test_renewal_boundaries(void)
{
	/* exact edges, with "now" chosen around the certificate's own dates */
	g_autoptr(GBytes) cert = cert_for("alice@test.local", ALICE, -3600, 100 * 86400);
	g_autoptr(CtCertInfo) info = ct_cert_info_new(cert, NULL);
	gint64 window = 30 * DAY_US;
	g_assert_nonnull(info);
	g_assert_cmpint(renewal(cert, FALSE, info->not_after - window - 1, NULL), ==,
	                CT_RENEWAL_UP_TO_DATE);
	g_assert_cmpint(renewal(cert, FALSE, info->not_after - window, "30 days"), ==,
	                CT_RENEWAL_IN_WINDOW);
	g_assert_cmpint(renewal(cert, FALSE, info->not_after - 1, "less than a day"), ==,
	                CT_RENEWAL_IN_WINDOW);
	/* valid through its notAfter second */
	g_assert_cmpint(renewal(cert, FALSE, info->not_after, NULL), ==, CT_RENEWAL_IN_WINDOW);
	g_assert_cmpint(renewal(cert, FALSE, info->not_after + 1, NULL), ==, CT_RENEWAL_EXPIRED);
	g_assert_cmpint(renewal(cert, FALSE, info->not_before - 1, NULL), ==,
	                CT_RENEWAL_NOT_YET_VALID);
	g_assert_cmpint(renewal(cert, FALSE, info->not_before, NULL), ==, CT_RENEWAL_UP_TO_DATE);
	/* a window of 0 days renews only once expired */
	g_assert_cmpint(ct_policy_renewal_needed(cert, ALICE, 0, FALSE, info->not_after - 1, NULL),
	                ==, CT_RENEWAL_UP_TO_DATE);
}

static void
test_renewal_needs_enrollment(void)
{
	g_assert_true(ct_renewal_status_needs_enrollment(CT_RENEWAL_NO_CERTIFICATE));
	g_assert_true(ct_renewal_status_needs_enrollment(CT_RENEWAL_UNREADABLE));
	g_assert_true(ct_renewal_status_needs_enrollment(CT_RENEWAL_REVOKED));
	g_assert_true(ct_renewal_status_needs_enrollment(CT_RENEWAL_OTHER_USER));
	g_assert_true(ct_renewal_status_needs_enrollment(CT_RENEWAL_EXPIRED));
	g_assert_true(ct_renewal_status_needs_enrollment(CT_RENEWAL_IN_WINDOW));
	g_assert_false(ct_renewal_status_needs_enrollment(CT_RENEWAL_NOT_YET_VALID));
	g_assert_false(ct_renewal_status_needs_enrollment(CT_RENEWAL_UP_TO_DATE));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, func)                                                                            \
	g_test_add("/policy/decide/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
	ADD("unknown-device-by-mode", test_unknown_device_by_mode);
	ADD("paired", test_paired_device);
	ADD("rejected", test_rejected_device);
	ADD("allow-serial-only", test_allow_serial_only);
	ADD("allow-serial-and-key", test_allow_serial_and_key);
	ADD("allow-entries-checked", test_allow_entries_checked);
	ADD("clone-suspected", test_clone_suspected);
	ADD("errors", test_decide_errors);
#undef ADD
	g_test_add_func("/policy/renewal/no-certificate", test_renewal_no_certificate);
	g_test_add_func("/policy/renewal/states", test_renewal_states);
	g_test_add_func("/policy/renewal/user-match", test_renewal_user_match);
	g_test_add_func("/policy/renewal/boundaries", test_renewal_boundaries);
	g_test_add_func("/policy/renewal/needs-enrollment", test_renewal_needs_enrollment);
	return g_test_run();
}
