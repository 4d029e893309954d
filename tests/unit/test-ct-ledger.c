/*
 * Unit tests of the ledger (daemon/engine/ct-ledger.c) on real SQLite files in a
 * temporary directory, including a crash loop that SIGKILLs a writer at random points.
 */
#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <sqlite3.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "daemon/engine/ct-ledger.h"
#include "daemon/engine/ct-x509.h"
#include "tests/unit/ct-test-pki.h"

#define ALICE "sip:alice@test.local"
#define BOB   "sip:bob@test.local"
#define FPR_A "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
#define FPR_B "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

typedef struct {
	gchar *dir;
	gchar *path; /* dir/state/certtether/ledger.db: two levels that do not exist yet */
} Fixture;

static void
fixture_set_up(Fixture *f, gconstpointer data)
{
	g_autoptr(GError) error = NULL;
	(void)data;
	f->dir = g_dir_make_tmp("ct-ledger-XXXXXX", &error);
	g_assert_no_error(error);
	f->path = g_build_filename(f->dir, "state", "certtether", "ledger.db", NULL);
}

static void
remove_tree(const gchar *path)
{
	GDir *dir = g_dir_open(path, 0, NULL);
	const gchar *name;
	if (dir == NULL) {
		g_remove(path);
		return;
	}
	while ((name = g_dir_read_name(dir)) != NULL) {
		g_autofree gchar *child = g_build_filename(path, name, NULL);
		remove_tree(child);
	}
	g_dir_close(dir);
	g_rmdir(path);
}

static void
fixture_tear_down(Fixture *f, gconstpointer data)
{
	(void)data;
	remove_tree(f->dir);
	g_free(f->dir);
	g_free(f->path);
}

/* an independent connection for looking at the file the way an admin would */
static sqlite3 *
raw_open(const gchar *path)
{
	sqlite3 *db = NULL;
	g_assert_cmpint(
	    sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL), ==,
	    SQLITE_OK);
	sqlite3_busy_timeout(db, 5000);
	return db;
}

static gint64
raw_int(sqlite3 *db, const gchar *sql)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	return sqlite3_column_int64(stmt, 0);
}

static gchar *
raw_text(sqlite3 *db, const gchar *sql)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_assert_cmpint(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	return g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
}

static void
raw_exec(const gchar *path, const gchar *sql)
{
	sqlite3 *db = raw_open(path);
	g_assert_cmpint(sqlite3_exec(db, sql, NULL, NULL, NULL), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
}

static gchar *
file_checksum(const gchar *path)
{
	g_autofree gchar *contents = NULL;
	gsize len = 0;
	g_autoptr(GError) error = NULL;
	g_assert_true(g_file_get_contents(path, &contents, &len, &error));
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, (const guchar *)contents, len);
}

static CtLedger *
open_ok(const gchar *path)
{
	g_autoptr(GError) error = NULL;
	CtLedger *ledger = ct_ledger_open(path, &error);
	g_assert_no_error(error);
	g_assert_nonnull(ledger);
	return ledger;
}

static CtLedgerDevice *
pair_ok(CtLedger *ledger, const gchar *serial, const gchar *fpr, const gchar *user)
{
	g_autoptr(GError) error = NULL;
	CtLedgerDevice *device =
	    ct_ledger_pair_device(ledger, serial, fpr, "Acme", "DeskPhone 1", "1.0", user, &error);
	g_assert_no_error(error);
	g_assert_nonnull(device);
	return device;
}

/* ---- schema and opening ---- */

static void
test_schema(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = NULL;
	g_autofree gchar *dir = g_path_get_dirname(f->path);
	g_autofree gchar *mode = NULL;
	GStatBuf st;
	sqlite3 *db;
	(void)data;

	ledger = open_ok(f->path);
	g_assert_cmpstr(ct_ledger_get_path(ledger), ==, f->path);
	g_assert_cmpint(g_stat(dir, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0777, ==, 0700);
	g_assert_cmpint(g_stat(f->path, &st), ==, 0);
	g_assert_cmpint(st.st_mode & 0077, ==, 0);

	db = raw_open(f->path);
	g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, CT_LEDGER_SCHEMA_VERSION);
	g_assert_cmpint(raw_int(db, "PRAGMA application_id"), ==, 0x43544c47);
	mode = raw_text(db, "PRAGMA journal_mode");
	g_assert_cmpstr(mode, ==, "wal");
	g_assert_cmpint(
	    raw_int(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN "
	                "('devices', 'enrollments', 'revocations', 'events')"),
	    ==, 4);
	/* the crash-recovery invariant is a CHECK constraint of the table itself */
	g_assert_cmpint(
	    sqlite3_exec(db,
	                 "INSERT INTO devices (serial, identity_fpr, decision, user, "
	                 "created, updated) VALUES ('X', '" FPR_A "', 'paired', 'u', 1, 1);"
	                 "INSERT INTO enrollments (device_id, csr_sha256, csr_der, key_alg, "
	                 "user, backend, state, created) VALUES (last_insert_rowid(), '" FPR_B
	                 "', x'00', 'ec-p256', 'u', 'est', 'issued', 1)",
	                 NULL, NULL, NULL),
	    ==, SQLITE_CONSTRAINT);
	g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
	g_assert_true(ct_ledger_check_integrity(ledger, NULL));
}

static void
test_migrate_empty_file_and_reopen(Fixture *f, gconstpointer data)
{
	g_autofree gchar *dir = g_path_get_dirname(f->path);
	g_autoptr(GError) error = NULL;
	(void)data;

	/* a zero-length file is an empty database: version 0, migrated to the current one */
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(f->path, "", 0, &error));
	{
		g_autoptr(CtLedger) ledger = open_ok(f->path);
		g_autoptr(CtLedgerDevice) device = pair_ok(ledger, "SN1", FPR_A, ALICE);
	}
	/* reopening keeps the data and migrates nothing */
	{
		g_autoptr(CtLedger) ledger = open_ok(f->path);
		g_autoptr(CtLedgerDevice) device =
		    ct_ledger_lookup_device(ledger, "SN1", FPR_A, &error);
		sqlite3 *db = raw_open(f->path);
		g_assert_no_error(error);
		g_assert_cmpstr(device->user, ==, ALICE);
		g_assert_cmpint(raw_int(db, "PRAGMA user_version"), ==, CT_LEDGER_SCHEMA_VERSION);
		g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
	}
}

/* open must fail naming the file, and leave it byte for byte as it was */
static void
assert_open_refused(const gchar *path, const gchar *fragment)
{
	g_autofree gchar *before = file_checksum(path);
	g_autofree gchar *after = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(CtLedger) ledger = ct_ledger_open(path, &error);
	g_assert_null(ledger);
	g_assert_error(error, CT_ERROR, CT_ERROR_INTERNAL);
	g_test_message("refused: %s", error->message);
	g_assert_nonnull(strstr(error->message, path));
	if (strstr(error->message, fragment) == NULL)
		g_error("expected '%s' in: %s", fragment, error->message);
	g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));
	after = file_checksum(path);
	g_assert_cmpstr(before, ==, after);
}

static void
test_garbage_file(Fixture *f, gconstpointer data)
{
	g_autofree gchar *dir = g_path_get_dirname(f->path);
	g_autofree gchar *garbage = g_malloc(8192);
	(void)data;
	for (guint i = 0; i < 8192; i++)
		garbage[i] = (gchar)g_random_int();
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	g_assert_true(g_file_set_contents(f->path, garbage, 8192, NULL));
	assert_open_refused(f->path, "move the file");
	assert_open_refused(f->path, "is damaged");
}

static void
test_damaged_ledger(Fixture *f, gconstpointer data)
{
	int fd;
	guint8 junk[4096];
	(void)data;
	{
		g_autoptr(CtLedger) ledger = open_ok(f->path);
		for (guint i = 0; i < 300; i++) {
			g_autofree gchar *serial = g_strdup_printf("SN%04u", i);
			g_autoptr(CtLedgerDevice) device = pair_ok(ledger, serial, FPR_A, ALICE);
			g_assert_true(
			    ct_ledger_add_event(ledger, device->id, serial, "paired", "x", NULL));
		}
	}
	/* closing checkpointed the WAL: the pages are in the main file; wreck two of them */
	memset(junk, 0xa5, sizeof(junk));
	fd = open(f->path, O_WRONLY);
	g_assert_cmpint(fd, >=, 0);
	g_assert_cmpint(pwrite(fd, junk, sizeof(junk), 4096 * 2), ==, sizeof(junk));
	g_assert_cmpint(pwrite(fd, junk, sizeof(junk), 4096 * 5), ==, sizeof(junk));
	close(fd);
	assert_open_refused(f->path, "is damaged");
}

static void
test_foreign_database(Fixture *f, gconstpointer data)
{
	g_autofree gchar *dir = g_path_get_dirname(f->path);
	(void)data;
	g_assert_cmpint(g_mkdir_with_parents(dir, 0700), ==, 0);
	raw_exec(f->path, "CREATE TABLE recipes (name TEXT); INSERT INTO recipes VALUES ('soup')");
	assert_open_refused(f->path, "not a certtether ledger");
	raw_exec(f->path, "PRAGMA application_id = 1234");
	assert_open_refused(f->path, "another program");
}

static void
test_newer_schema(Fixture *f, gconstpointer data)
{
	(void)data;
	{
		g_autoptr(CtLedger) ledger = open_ok(f->path);
	}
	raw_exec(f->path, "PRAGMA user_version = 99");
	assert_open_refused(f->path, "newer certtether (schema version 99");
}

/* ---- devices ---- */

static void
test_pairing(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(CtLedgerDevice) paired = NULL;
	g_autoptr(CtLedgerDevice) again = NULL;
	g_autoptr(CtLedgerDevice) found = NULL;
	g_autoptr(CtLedgerDevice) rejected = NULL;
	g_autoptr(CtLedgerDevice) missing = NULL;
	g_autoptr(GPtrArray) by_serial = NULL;
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GVariant) variant = NULL;
	g_autoptr(GError) error = NULL;
	const gchar *text = NULL;
	(void)data;

	paired = pair_ok(ledger, "SN1", FPR_A, ALICE);
	g_assert_cmpint(paired->id, >, 0);
	g_assert_cmpint(paired->decision, ==, CT_LEDGER_DECISION_PAIRED);
	g_assert_cmpstr(paired->vendor, ==, "Acme");
	g_assert_cmpint(paired->created, >, 0);

	/* pairing again (another user) updates the same row; NULL vendor keeps the stored one */
	again = ct_ledger_pair_device(ledger, "SN1", FPR_A, NULL, NULL, "1.1", BOB, &error);
	g_assert_no_error(error);
	g_assert_cmpint(again->id, ==, paired->id);
	g_assert_cmpstr(again->user, ==, BOB);
	g_assert_cmpstr(again->vendor, ==, "Acme");
	g_assert_cmpstr(again->firmware, ==, "1.1");
	g_assert_cmpint(again->updated, >=, paired->updated);

	/* upper-case fingerprints name the same identity */
	found = ct_ledger_lookup_device(
	    ledger, "SN1", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
	    &error);
	g_assert_no_error(error);
	g_assert_cmpint(found->id, ==, paired->id);

	/* the same serial with another key is another row (clone detection reads both) */
	rejected =
	    ct_ledger_reject_device(ledger, "SN1", FPR_B, "Acme", "DeskPhone 1", "1.0", &error);
	g_assert_no_error(error);
	g_assert_cmpint(rejected->decision, ==, CT_LEDGER_DECISION_REJECTED);
	g_assert_null(rejected->user);
	g_assert_cmpint(rejected->id, !=, paired->id);
	by_serial = ct_ledger_lookup_devices_by_serial(ledger, "SN1", &error);
	g_assert_no_error(error);
	g_assert_cmpuint(by_serial->len, ==, 2);

	missing = ct_ledger_lookup_device(ledger, "SN2", FPR_A, &error);
	g_assert_null(missing);
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	g_clear_error(&error);

	ct_ledger_device_free(pair_ok(ledger, "SN2", FPR_B, ALICE));
	ct_ledger_device_free(pair_ok(ledger, "SN3", FPR_B, ALICE));
	all = ct_ledger_list_devices(ledger, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 4);

	variant = ct_ledger_device_to_variant(found);
	g_assert_true(g_variant_lookup(variant, "serial", "&s", &text));
	g_assert_cmpstr(text, ==, "SN1");
	g_assert_true(g_variant_lookup(variant, "decision", "&s", &text));
	g_assert_cmpstr(text, ==, "paired");
}

static void
test_device_arguments(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autofree gchar *long_serial = g_strnfill(65, 'S');
	const gchar *bad_fprs[] = {
	    "abc", FPR_A "a", "gggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggggg"};
	(void)data;
	for (guint i = 0; i < G_N_ELEMENTS(bad_fprs); i++) {
		g_autoptr(GError) error = NULL;
		g_assert_null(ct_ledger_pair_device(ledger, "SN1", bad_fprs[i], NULL, NULL, NULL,
		                                    ALICE, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_null(
		    ct_ledger_pair_device(ledger, "", FPR_A, NULL, NULL, NULL, ALICE, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_null(ct_ledger_pair_device(ledger, long_serial, FPR_A, NULL, NULL, NULL,
		                                    ALICE, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_null(
		    ct_ledger_pair_device(ledger, "SN1", FPR_A, NULL, NULL, NULL, NULL, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
	{
		g_autoptr(GError) error = NULL;
		g_assert_null(ct_ledger_pair_device(ledger, "SN\xff", FPR_A, NULL, NULL, NULL,
		                                    ALICE, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	}
}

/* ---- enrollments ---- */

typedef struct {
	EVP_PKEY *key;
	EVP_PKEY *ca;
	GBytes *csr;
	gchar *csr_sha256;
} Pending;

static void
pending_clear(Pending *p)
{
	EVP_PKEY_free(p->key);
	EVP_PKEY_free(p->ca);
	g_bytes_unref(p->csr);
	g_free(p->csr_sha256);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Pending, pending_clear)

static void
pending_init(Pending *p)
{
	p->key = ct_test_pki_key("ec-p256");
	p->ca = ct_test_pki_key("ec-p384");
	p->csr = ct_test_pki_csr(p->key, "alice@test.local", ALICE);
	p->csr_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, p->csr);
}

static GBytes *
issue(Pending *p)
{
	return ct_test_pki_cert(p->key, "alice@test.local", ALICE, -60, 365 * 86400, p->ca);
}

static void
test_enrollment_lifecycle(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(CtLedgerDevice) device = pair_ok(ledger, "SN1", FPR_A, ALICE);
	g_auto(Pending) p = {0};
	g_autoptr(CtLedgerEnrollment) begun = NULL;
	g_autoptr(CtLedgerEnrollment) dup = NULL;
	g_autoptr(CtLedgerEnrollment) found = NULL;
	g_autoptr(CtLedgerEnrollment) installed = NULL;
	g_autoptr(GBytes) cert = NULL;
	g_autoptr(GBytes) other_cert = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(X509) x509 = NULL;
	g_autofree gchar *cert_sha256 = NULL;
	guint attempts = 0;
	(void)data;

	pending_init(&p);
	begun =
	    ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE, "est", &error);
	g_assert_no_error(error);
	g_assert_cmpstr(begun->csr_sha256, ==, p.csr_sha256);
	g_assert_cmpint(begun->state, ==, CT_LEDGER_ENROLLMENT_REQUESTED);
	g_assert_cmpuint(begun->attempts, ==, 0);
	g_assert_true(g_bytes_equal(begun->csr_der, p.csr));
	g_assert_null(begun->cert_der);

	/* the same CSR again is refused while the first is under way */
	dup =
	    ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE, "est", &error);
	g_assert_null(dup);
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_test_message("refused: %s", error->message);
	g_clear_error(&error);

	g_assert_true(ct_ledger_enrollment_add_attempt(ledger, p.csr_sha256, &attempts, &error));
	g_assert_cmpuint(attempts, ==, 1);
	g_assert_true(ct_ledger_enrollment_add_attempt(ledger, p.csr_sha256, &attempts, &error));
	g_assert_cmpuint(attempts, ==, 2);

	/* a certificate for another key is refused: the ledger maps a CSR to its certificate */
	{
		g_autoptr(EVP_PKEY) stranger = ct_test_pki_key("rsa2048");
		other_cert =
		    ct_test_pki_cert(stranger, "alice@test.local", ALICE, -60, 86400, p.ca);
	}
	g_assert_false(ct_ledger_enrollment_record_issued(ledger, p.csr_sha256, other_cert, NULL,
	                                                  NULL, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_CERT_INVALID);
	g_clear_error(&error);

	cert = issue(&p);
	g_assert_true(ct_ledger_enrollment_record_issued(
	    ledger, p.csr_sha256, cert, "-----BEGIN CERTIFICATE-----\nchain\n",
	    "-----BEGIN CERTIFICATE-----\nanchor\n", &error));
	g_assert_no_error(error);
	/* recording the same certificate again is harmless; another one is refused */
	g_assert_true(
	    ct_ledger_enrollment_record_issued(ledger, p.csr_sha256, cert, NULL, NULL, &error));
	{
		g_autoptr(GBytes) second = issue(&p);
		g_assert_false(ct_ledger_enrollment_record_issued(ledger, p.csr_sha256, second,
		                                                  NULL, NULL, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
		g_test_message("refused: %s", error->message);
		g_clear_error(&error);
	}

	/* after a crash the state machine finds the certificate by the CSR hash */
	found = ct_ledger_enrollment_find_by_csr(ledger, p.csr_sha256, &error);
	g_assert_no_error(error);
	g_assert_cmpint(found->state, ==, CT_LEDGER_ENROLLMENT_ISSUED);
	g_assert_true(g_bytes_equal(found->cert_der, cert));
	g_assert_cmpstr(found->chain_pem, ==, "-----BEGIN CERTIFICATE-----\nchain\n");
	g_assert_cmpstr(found->anchors_pem, ==, "-----BEGIN CERTIFICATE-----\nanchor\n");
	g_assert_cmpuint(found->attempts, ==, 2);
	cert_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, cert);
	g_assert_cmpstr(found->cert_sha256, ==, cert_sha256);
	/* and by the certificate a phone reports holding (a COMMIT whose answer was lost) */
	{
		g_autoptr(CtLedgerEnrollment) by_cert =
		    ct_ledger_enrollment_find_by_cert(ledger, cert_sha256, &error);
		g_assert_no_error(error);
		g_assert_cmpstr(by_cert->csr_sha256, ==, p.csr_sha256);
		g_assert_null(ct_ledger_enrollment_find_by_cert(ledger, FPR_B, &error));
		g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
		g_clear_error(&error);
	}
	x509 = ct_x509_from_der(g_bytes_get_data(cert, NULL), g_bytes_get_size(cert), NULL);
	{
		gint64 not_after = 0;
		g_assert_true(ct_x509_get_validity(x509, NULL, &not_after));
		g_assert_cmpint(found->not_after, ==, not_after * G_USEC_PER_SEC);
	}
	g_assert_nonnull(found->cert_serial);
	g_assert_cmpint(found->issued_at, >, 0);
	g_assert_cmpint(found->installed_at, ==, 0);

	/* nothing installed yet */
	g_assert_null(ct_ledger_enrollment_latest_installed(ledger, device->id, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	g_clear_error(&error);

	g_assert_true(ct_ledger_enrollment_mark_installed(ledger, p.csr_sha256, &error));
	g_assert_true(ct_ledger_enrollment_mark_installed(ledger, p.csr_sha256, &error));
	installed = ct_ledger_enrollment_latest_installed(ledger, device->id, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(installed->csr_sha256, ==, p.csr_sha256);
	g_assert_cmpint(installed->state, ==, CT_LEDGER_ENROLLMENT_INSTALLED);
	g_assert_cmpint(installed->installed_at, >=, installed->issued_at);

	/* installed: no going back */
	g_assert_false(
	    ct_ledger_enrollment_mark_failed(ledger, p.csr_sha256, "Device", "x", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	g_assert_null(
	    ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE, "est", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	g_assert_null(ct_ledger_enrollment_find_by_csr(ledger, FPR_B, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
}

static void
test_enrollment_failed_and_retried(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(CtLedgerDevice) device = pair_ok(ledger, "SN1", FPR_A, ALICE);
	g_autoptr(CtLedgerDevice) other = pair_ok(ledger, "SN2", FPR_B, ALICE);
	g_auto(Pending) p = {0};
	g_autoptr(CtLedgerEnrollment) failed = NULL;
	g_autoptr(CtLedgerEnrollment) retried = NULL;
	g_autoptr(GBytes) cert = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_message = g_strnfill(5000, 'm');
	(void)data;

	pending_init(&p);
	ct_ledger_enrollment_free(ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256",
	                                                     ALICE, "certprov", &error));
	g_assert_no_error(error);
	g_assert_true(ct_ledger_enrollment_add_attempt(ledger, p.csr_sha256, NULL, &error));
	g_assert_true(ct_ledger_enrollment_mark_failed(ledger, p.csr_sha256, "StoreUnavailable",
	                                               long_message, &error));
	failed = ct_ledger_enrollment_find_by_csr(ledger, p.csr_sha256, &error);
	g_assert_no_error(error);
	g_assert_cmpint(failed->state, ==, CT_LEDGER_ENROLLMENT_FAILED);
	g_assert_cmpstr(failed->error_code, ==, "StoreUnavailable");
	/* free text is bounded */
	g_assert_cmpuint(strlen(failed->error_message), ==, 1024);

	/* another device presenting the same CSR is refused even after the failure */
	g_assert_null(
	    ct_ledger_enrollment_begin(ledger, other->id, p.csr, "ec-p256", ALICE, "est", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_clear_error(&error);

	/* the same device may retry a failed request: same row, attempts keep counting */
	retried =
	    ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE, "est", &error);
	g_assert_no_error(error);
	g_assert_cmpint(retried->id, ==, failed->id);
	g_assert_cmpint(retried->state, ==, CT_LEDGER_ENROLLMENT_REQUESTED);
	g_assert_cmpuint(retried->attempts, ==, 1);
	g_assert_cmpstr(retried->backend, ==, "est");
	g_assert_null(retried->error_code);

	/* once a certificate was issued, a failure does not reopen the CSR */
	cert = issue(&p);
	g_assert_true(
	    ct_ledger_enrollment_record_issued(ledger, p.csr_sha256, cert, NULL, NULL, &error));
	g_assert_true(ct_ledger_enrollment_mark_failed(ledger, p.csr_sha256, "Device",
	                                               "the phone refused it", &error));
	g_assert_null(
	    ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE, "est", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_test_message("refused: %s", error->message);
	g_clear_error(&error);

	/* bad arguments */
	g_assert_null(
	    ct_ledger_enrollment_begin(ledger, 9999, p.csr, "ec-p256", ALICE, "est", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_null(ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE,
	                                         "scep", &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	g_clear_error(&error);
	g_assert_false(ct_ledger_enrollment_add_attempt(ledger, "not-a-hash", NULL, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
}

static void
test_forget(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(CtLedgerDevice) device = pair_ok(ledger, "SN1", FPR_A, ALICE);
	g_autoptr(CtLedgerDevice) clone = pair_ok(ledger, "SN1", FPR_B, ALICE);
	g_auto(Pending) p = {0};
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) history = NULL;
	g_autoptr(GPtrArray) rest = NULL;
	CtLedgerEvent *event;
	(void)data;

	pending_init(&p);
	ct_ledger_enrollment_free(
	    ct_ledger_enrollment_begin(ledger, device->id, p.csr, "ec-p256", ALICE, "est", &error));
	g_assert_no_error(error);
	g_assert_true(ct_ledger_add_event(ledger, device->id, "SN1", "enrolling", "sent", &error));

	g_assert_true(ct_ledger_forget_device(ledger, "SN1", FPR_A, &error));
	g_assert_no_error(error);
	g_assert_null(ct_ledger_lookup_device(ledger, "SN1", FPR_A, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	g_clear_error(&error);
	/* its pending enrollment went with it */
	g_assert_null(ct_ledger_enrollment_find_by_csr(ledger, p.csr_sha256, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	g_clear_error(&error);
	/* the history stays, detached from the row */
	history = ct_ledger_get_history(ledger, "SN1", 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(history->len, ==, 1);
	event = g_ptr_array_index(history, 0);
	g_assert_cmpint(event->device_id, ==, 0);
	g_assert_cmpstr(event->state, ==, "enrolling");
	/* the other identity of the serial is untouched, until forgotten by serial alone */
	rest = ct_ledger_lookup_devices_by_serial(ledger, "SN1", &error);
	g_assert_cmpuint(rest->len, ==, 1);
	g_assert_false(ct_ledger_forget_device(ledger, "SN1", FPR_A, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	g_clear_error(&error);
	g_assert_true(ct_ledger_forget_device(ledger, "SN1", NULL, &error));
	g_assert_null(ct_ledger_lookup_device(ledger, "SN1", FPR_B, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_NOT_FOUND);
	(void)clone;
}

static void
test_revocation(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(GError) error = NULL;
	gboolean revoked = TRUE;
	(void)data;

	g_assert_true(ct_ledger_is_revoked(ledger, FPR_A, &revoked, &error));
	g_assert_false(revoked);
	g_assert_true(ct_ledger_revoke(ledger, FPR_A, "phone lost", &error));
	g_assert_true(ct_ledger_revoke(ledger, FPR_A, "again", &error));
	g_assert_no_error(error);
	g_assert_true(ct_ledger_is_revoked(ledger, FPR_A, &revoked, &error));
	g_assert_true(revoked);
	g_assert_true(ct_ledger_is_revoked(ledger, FPR_B, &revoked, &error));
	g_assert_false(revoked);
	g_assert_false(ct_ledger_revoke(ledger, "abc", NULL, &error));
	g_assert_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS);
	{
		sqlite3 *db = raw_open(f->path);
		g_autofree gchar *reason =
		    raw_text(db, "SELECT reason FROM revocations WHERE cert_sha256 = '" FPR_A "'");
		g_assert_cmpstr(reason, ==, "phone lost");
		g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
	}
}

/* ---- events ---- */

static void
test_history(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(CtLedgerDevice) device = pair_ok(ledger, "SN1", FPR_A, ALICE);
	g_autoptr(GPtrArray) all = NULL;
	g_autoptr(GPtrArray) sn1 = NULL;
	g_autoptr(GPtrArray) last2 = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) variant = NULL;
	const gchar *states[] = {"detected", "awaiting-approval", "enrolling", "installed"};
	const gchar *text = NULL;
	gint64 time = 0;
	(void)data;

	for (guint i = 0; i < G_N_ELEMENTS(states); i++) {
		g_assert_true(
		    ct_ledger_add_event(ledger, device->id, "SN1", states[i], NULL, &error));
		g_assert_true(
		    ct_ledger_add_event(ledger, 0, "SN2", states[i], "other phone", &error));
	}
	g_assert_no_error(error);
	all = ct_ledger_get_history(ledger, NULL, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(all->len, ==, 8);
	sn1 = ct_ledger_get_history(ledger, "SN1", 0, &error);
	g_assert_cmpuint(sn1->len, ==, 4);
	/* newest first */
	for (guint i = 0; i < sn1->len; i++) {
		CtLedgerEvent *event = g_ptr_array_index(sn1, i);
		g_assert_cmpstr(event->state, ==, states[G_N_ELEMENTS(states) - 1 - i]);
		g_assert_cmpint(event->device_id, ==, device->id);
		if (i > 0)
			g_assert_cmpint(event->time, <=, time);
		time = event->time;
	}
	last2 = ct_ledger_get_history(ledger, "SN2", 2, &error);
	g_assert_cmpuint(last2->len, ==, 2);
	g_assert_cmpstr(((CtLedgerEvent *)g_ptr_array_index(last2, 0))->state, ==, "installed");
	g_assert_cmpstr(((CtLedgerEvent *)g_ptr_array_index(last2, 1))->state, ==, "enrolling");

	variant = ct_ledger_event_to_variant(g_ptr_array_index(last2, 0));
	g_assert_true(g_variant_lookup(variant, "message", "&s", &text));
	g_assert_cmpstr(text, ==, "other phone");
	g_assert_false(g_variant_lookup(variant, "device_id", "x", &time));
	g_assert_true(g_variant_lookup(variant, "time", "x", &time));
	g_assert_cmpint(time, >, 0);
}

static void
test_retention(Fixture *f, gconstpointer data)
{
	g_autoptr(CtLedger) ledger = open_ok(f->path);
	g_autoptr(GPtrArray) events = NULL;
	g_autoptr(GError) error = NULL;
	(void)data;

	ct_ledger_set_event_retention(ledger, 5);
	for (guint i = 0; i < 12; i++) {
		g_autofree gchar *message = g_strdup_printf("event %u", i);
		g_assert_true(ct_ledger_add_event(ledger, 0, "SN1", "progress", message, &error));
	}
	events = ct_ledger_get_history(ledger, NULL, 0, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(events->len, ==, 5);
	for (guint i = 0; i < 5; i++) {
		g_autofree gchar *message = g_strdup_printf("event %u", 11 - i);
		g_assert_cmpstr(((CtLedgerEvent *)g_ptr_array_index(events, i))->message, ==,
		                message);
	}
	{
		sqlite3 *db = raw_open(f->path);
		g_assert_cmpint(raw_int(db, "SELECT count(*) FROM events"), ==, 5);
		g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
	}
}

static void
test_two_connections(Fixture *f, gconstpointer data)
{
	/* the daemon and `certtether --direct` may hold the file at the same time */
	g_autoptr(CtLedger) a = open_ok(f->path);
	g_autoptr(CtLedger) b = open_ok(f->path);
	g_autoptr(CtLedgerDevice) paired = pair_ok(a, "SN1", FPR_A, ALICE);
	g_autoptr(GError) error = NULL;
	g_autoptr(CtLedgerDevice) seen = ct_ledger_lookup_device(b, "SN1", FPR_A, &error);
	(void)data;
	g_assert_no_error(error);
	g_assert_cmpint(seen->id, ==, paired->id);
}

/* ---- crash safety ---- */

/* the child: enroll forever; after each record_issued returns, tell the parent the hash */
static void G_GNUC_NORETURN
crash_child(const gchar *path, gint64 device_id, EVP_PKEY *key, EVP_PKEY *ca, int ack_fd)
{
	g_autoptr(CtLedger) ledger = ct_ledger_open(path, NULL);
	if (ledger == NULL)
		_exit(2);
	for (guint n = 0;; n++) {
		g_autoptr(GBytes) csr = ct_test_pki_csr(key, "alice@test.local", ALICE);
		g_autoptr(GBytes) cert =
		    ct_test_pki_cert(key, "alice@test.local", ALICE, 0, 86400, ca);
		g_autoptr(CtLedgerEnrollment) e = ct_ledger_enrollment_begin(
		    ledger, device_id, csr, "ec-p256", ALICE, "est", NULL);
		gchar line[66];
		if (e == NULL ||
		    !ct_ledger_enrollment_add_attempt(ledger, e->csr_sha256, NULL, NULL) ||
		    !ct_ledger_enrollment_record_issued(ledger, e->csr_sha256, cert, "chain",
		                                        "anchors", NULL))
			_exit(3);
		g_snprintf(line, sizeof(line), "%s\n", e->csr_sha256);
		if (write(ack_fd, line, 65) != 65)
			_exit(4);
		if (n % 2 == 0 && !ct_ledger_enrollment_mark_installed(ledger, e->csr_sha256, NULL))
			_exit(5);
		if (!ct_ledger_add_event(ledger, device_id, "SN1", "installed", "crash loop", NULL))
			_exit(6);
	}
}

/* block until the child acknowledged its first certificate: each round then writes at
 * least one, however slow the machine (no timing assumption); FALSE if it died first */
static gboolean
read_first_ack(int fd, GString *all)
{
	gchar buf[65];
	gsize got = 0;
	while (got < sizeof(buf)) {
		ssize_t n = read(fd, buf + got, sizeof(buf) - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return FALSE;
		got += (gsize)n;
	}
	g_string_append_len(all, buf, sizeof(buf));
	return TRUE;
}

/* the hashes acknowledged by the child: what it wrote before the kill, and the first */
static GPtrArray *
read_acks(int fd, GString *all)
{
	GPtrArray *hashes = g_ptr_array_new_with_free_func(g_free);
	gchar buf[4096];
	ssize_t n;
	g_auto(GStrv) lines = NULL;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		g_string_append_len(all, buf, n);
	lines = g_strsplit(all->str, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		if (strlen(lines[i]) == 64)
			g_ptr_array_add(hashes, g_strdup(lines[i]));
	}
	return hashes;
}

/* after a crash: the file opens, is intact, and every issued row has its certificate */
static void
check_after_crash(const gchar *path, GPtrArray *acked, guint *n_rows, guint *n_requested)
{
	g_autoptr(CtLedger) ledger = open_ok(path);
	g_autoptr(GError) error = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	sqlite3 *db;

	g_assert_true(ct_ledger_check_integrity(ledger, &error));
	g_assert_no_error(error);
	for (guint i = 0; i < acked->len; i++) {
		g_autoptr(CtLedgerEnrollment) e =
		    ct_ledger_enrollment_find_by_csr(ledger, g_ptr_array_index(acked, i), &error);
		g_assert_no_error(error);
		g_assert_true(e->state == CT_LEDGER_ENROLLMENT_ISSUED ||
		              e->state == CT_LEDGER_ENROLLMENT_INSTALLED);
		g_assert_nonnull(e->cert_der);
	}

	db = raw_open(path);
	g_assert_cmpint(
	    sqlite3_prepare_v2(db, "SELECT state, cert_der, cert_sha256, csr_der FROM enrollments",
	                       -1, &stmt, NULL),
	    ==, SQLITE_OK);
	*n_rows = 0;
	*n_requested = 0;
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const gchar *state = (const gchar *)sqlite3_column_text(stmt, 0);
		(*n_rows)++;
		if (g_str_equal(state, "requested")) {
			(*n_requested)++;
			g_assert_cmpint(sqlite3_column_type(stmt, 1), ==, SQLITE_NULL);
			continue;
		}
		/* earlier rounds' interrupted requests, marked failed by the loop */
		if (g_str_equal(state, "failed"))
			continue;
		g_assert_true(g_str_equal(state, "issued") || g_str_equal(state, "installed"));
		{
			g_autoptr(GBytes) cert = g_bytes_new(sqlite3_column_blob(stmt, 1),
			                                     (gsize)sqlite3_column_bytes(stmt, 1));
			g_autofree gchar *sha =
			    g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, cert);
			g_autoptr(X509) x509 = ct_x509_from_der(g_bytes_get_data(cert, NULL),
			                                        g_bytes_get_size(cert), NULL);
			const guchar *p = sqlite3_column_blob(stmt, 3);
			g_autoptr(X509_REQ) req =
			    d2i_X509_REQ(NULL, &p, sqlite3_column_bytes(stmt, 3));
			g_assert_cmpstr(sha, ==, (const gchar *)sqlite3_column_text(stmt, 2));
			g_assert_nonnull(x509);
			g_assert_nonnull(req);
			g_assert_cmpint(
			    EVP_PKEY_eq(X509_get0_pubkey(x509), X509_REQ_get0_pubkey(req)), ==, 1);
		}
	}
	/* sqlite3_close() refuses to close a connection with a live statement */
	g_clear_pointer(&stmt, sqlite3_finalize);
	g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
}

static void
test_crash_safety(Fixture *f, gconstpointer data)
{
	g_autoptr(EVP_PKEY) key = ct_test_pki_key("ec-p256");
	g_autoptr(EVP_PKEY) ca = ct_test_pki_key("ec-p384");
	const gchar *rounds_env = g_getenv("CT_LEDGER_CRASH_ROUNDS");
	guint rounds = rounds_env != NULL ? (guint)g_ascii_strtoull(rounds_env, NULL, 10) : 40;
	guint last_rows = 0, total_acked = 0, killed_mid_request = 0;
	gint64 device_id;
	(void)data;

	{
		g_autoptr(CtLedger) ledger = open_ok(f->path);
		g_autoptr(CtLedgerDevice) device = pair_ok(ledger, "SN1", FPR_A, ALICE);
		device_id = device->id;
	}
	for (guint round = 0; round < rounds; round++) {
		int fds[2];
		int status = 0;
		pid_t pid;
		guint n_rows = 0, n_requested = 0;
		g_autoptr(GPtrArray) acked = NULL;
		g_autoptr(GString) first = g_string_new(NULL);

		g_assert_cmpint(pipe(fds), ==, 0);
		pid = fork();
		g_assert_cmpint(pid, >=, 0);
		if (pid == 0) {
			close(fds[0]);
			crash_child(f->path, device_id, key, ca, fds[1]);
		}
		close(fds[1]);
		if (!read_first_ack(fds[0], first))
			g_error("round %u: the writer died before its first certificate", round);
		/* then a random moment: most of the child's time is spent inside commits (fsync) */
		g_usleep(g_random_int_range(0, 40000));
		g_assert_cmpint(kill(pid, SIGKILL), ==, 0);
		g_assert_cmpint(waitpid(pid, &status, 0), ==, pid);
		if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
			g_error("round %u: the writer ended by itself (status %d) instead of being "
			        "killed",
			        round, status);
		acked = read_acks(fds[0], first);
		close(fds[0]);
		check_after_crash(f->path, acked, &n_rows, &n_requested);
		g_assert_cmpuint(n_rows, >=, last_rows);
		last_rows = n_rows;
		total_acked += acked->len;
		killed_mid_request += n_requested;
		/* a request cut short stays 'requested': mark it failed, as the daemon would */
		if (n_requested > 0) {
			g_autoptr(CtLedger) ledger = open_ok(f->path);
			sqlite3 *db = raw_open(f->path);
			g_autofree gchar *hash = raw_text(
			    db, "SELECT csr_sha256 FROM enrollments WHERE state = 'requested'");
			g_assert_cmpint(sqlite3_close(db), ==, SQLITE_OK);
			g_assert_true(ct_ledger_enrollment_mark_failed(ledger, hash, "Internal",
			                                               "crash", NULL));
		}
	}
	g_test_message(
	    "crash loop: %u kills, %u enrollments written, %u certificates acknowledged "
	    "before a kill all found afterwards, %u kills landed between begin and issue",
	    rounds, last_rows, total_acked, killed_mid_request);
	/* every round wrote at least one certificate before its kill */
	g_assert_cmpuint(total_acked, >=, rounds);
	g_assert_cmpuint(last_rows, >=, rounds);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
#define ADD(name, func)                                                                            \
	g_test_add("/ledger/" name, Fixture, NULL, fixture_set_up, func, fixture_tear_down)
	ADD("open/schema", test_schema);
	ADD("open/migrate-empty-file-and-reopen", test_migrate_empty_file_and_reopen);
	ADD("open/garbage-file", test_garbage_file);
	ADD("open/damaged-ledger", test_damaged_ledger);
	ADD("open/foreign-database", test_foreign_database);
	ADD("open/newer-schema", test_newer_schema);
	ADD("devices/pairing", test_pairing);
	ADD("devices/arguments", test_device_arguments);
	ADD("devices/forget", test_forget);
	ADD("enrollments/lifecycle", test_enrollment_lifecycle);
	ADD("enrollments/failed-and-retried", test_enrollment_failed_and_retried);
	ADD("revocations", test_revocation);
	ADD("events/history", test_history);
	ADD("events/retention", test_retention);
	ADD("two-connections", test_two_connections);
	ADD("crash-safety", test_crash_safety);
#undef ADD
	return g_test_run();
}
