#include "daemon/engine/ct-ledger.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <openssl/x509.h>
#include <sqlite3.h>
#include <unistd.h>

#include "daemon/engine/ct-cert-info.h"
#include "usbproto/codec/ctp-protocol.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)

/* "CTLG" in the SQLite header: tells our file from any other SQLite database */
#define CT_LEDGER_APPLICATION_ID 0x43544c47
/* free text from devices and servers is cut to this many characters */
#define CT_LEDGER_MAX_MESSAGE 1024

struct _CtLedger {
	GObject parent_instance;
	sqlite3 *db;
	gchar *path;
	GThread *owner;
	guint event_retention;
};

G_DEFINE_TYPE(CtLedger, ct_ledger, G_TYPE_OBJECT)

/*
 * ct_ledger_migrations[i] takes the schema from version i to i + 1, in one transaction.
 * A released step is never edited: a new version appends a step (ALTER TABLE, new
 * tables, data copies) and bumps CT_LEDGER_SCHEMA_VERSION.
 */
static const gchar *const ct_ledger_migrations[] = {
    /* 0 -> 1: the first schema */
    "CREATE TABLE devices ("
    "  id INTEGER PRIMARY KEY,"
    "  serial TEXT NOT NULL,"
    "  identity_fpr TEXT NOT NULL CHECK (length(identity_fpr) = 64),"
    "  vendor TEXT,"
    "  model TEXT,"
    "  firmware TEXT,"
    "  decision TEXT NOT NULL CHECK (decision IN ('paired', 'rejected')),"
    "  user TEXT,"
    "  created INTEGER NOT NULL,"
    "  updated INTEGER NOT NULL,"
    "  UNIQUE (serial, identity_fpr),"
    "  CHECK (decision = 'rejected' OR user IS NOT NULL)"
    ");"
    "CREATE TABLE enrollments ("
    "  id INTEGER PRIMARY KEY,"
    "  device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
    "  csr_sha256 TEXT NOT NULL UNIQUE CHECK (length(csr_sha256) = 64),"
    "  csr_der BLOB NOT NULL,"
    "  key_alg TEXT NOT NULL,"
    "  user TEXT NOT NULL,"
    "  backend TEXT NOT NULL CHECK (backend IN ('certprov', 'est')),"
    "  state TEXT NOT NULL CHECK (state IN ('requested', 'issued', 'installed', 'failed')),"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  cert_der BLOB,"
    "  chain_pem TEXT,"
    "  anchors_pem TEXT,"
    "  cert_serial TEXT,"
    "  cert_sha256 TEXT,"
    "  not_after INTEGER,"
    "  error_code TEXT,"
    "  error_message TEXT,"
    "  created INTEGER NOT NULL,"
    "  issued_at INTEGER,"
    "  installed_at INTEGER,"
    /* the invariant crash recovery relies on, enforced by the database itself */
    "  CHECK (state NOT IN ('issued', 'installed') OR"
    "         (cert_der IS NOT NULL AND cert_sha256 IS NOT NULL AND issued_at IS NOT NULL))"
    ");"
    "CREATE INDEX enrollments_by_device ON enrollments (device_id, state);"
    "CREATE TABLE revocations ("
    "  cert_sha256 TEXT PRIMARY KEY CHECK (length(cert_sha256) = 64),"
    "  time INTEGER NOT NULL,"
    "  reason TEXT"
    ");"
    /* AUTOINCREMENT: ids only grow, so pruning by id keeps the newest events */
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  device_id INTEGER REFERENCES devices(id) ON DELETE SET NULL,"
    "  time INTEGER NOT NULL,"
    "  serial TEXT,"
    "  state TEXT NOT NULL,"
    "  message TEXT"
    ");"
    "CREATE INDEX events_by_serial ON events (serial, id);"
    "PRAGMA application_id = 1129598023;" /* CT_LEDGER_APPLICATION_ID */
    "PRAGMA user_version = 1;",
};
G_STATIC_ASSERT(G_N_ELEMENTS(ct_ledger_migrations) == CT_LEDGER_SCHEMA_VERSION);
G_STATIC_ASSERT(CT_LEDGER_APPLICATION_ID == 1129598023);

#define CT_LEDGER_DEVICE_COLUMNS                                                                   \
	"id, serial, identity_fpr, vendor, model, firmware, decision, user, created, updated"
#define CT_LEDGER_ENROLLMENT_COLUMNS                                                               \
	"id, device_id, csr_sha256, csr_der, key_alg, user, backend, state, attempts, cert_der, "  \
	"chain_pem, anchors_pem, cert_serial, cert_sha256, not_after, error_code, error_message, " \
	"created, issued_at, installed_at"
#define CT_LEDGER_EVENT_COLUMNS "id, device_id, time, serial, state, message"

static const gchar *const ct_ledger_enrollment_states[] = {
    [CT_LEDGER_ENROLLMENT_REQUESTED] = "requested",
    [CT_LEDGER_ENROLLMENT_ISSUED] = "issued",
    [CT_LEDGER_ENROLLMENT_INSTALLED] = "installed",
    [CT_LEDGER_ENROLLMENT_FAILED] = "failed",
};

const gchar *
ct_ledger_decision_to_string(CtLedgerDecision decision)
{
	return decision == CT_LEDGER_DECISION_PAIRED ? "paired" : "rejected";
}

const gchar *
ct_ledger_enrollment_state_to_string(CtLedgerEnrollmentState state)
{
	if ((guint)state >= G_N_ELEMENTS(ct_ledger_enrollment_states))
		return "unknown";
	return ct_ledger_enrollment_states[state];
}

static CtLedgerEnrollmentState
ct_ledger_enrollment_state_from_string(const gchar *text)
{
	for (guint i = 0; i < G_N_ELEMENTS(ct_ledger_enrollment_states); i++) {
		if (g_strcmp0(text, ct_ledger_enrollment_states[i]) == 0)
			return (CtLedgerEnrollmentState)i;
	}
	/* the CHECK constraint keeps anything else out of the table */
	return CT_LEDGER_ENROLLMENT_FAILED;
}

void
ct_ledger_device_free(CtLedgerDevice *device)
{
	if (device == NULL)
		return;
	g_free(device->serial);
	g_free(device->identity_fpr);
	g_free(device->vendor);
	g_free(device->model);
	g_free(device->firmware);
	g_free(device->user);
	g_free(device);
}

void
ct_ledger_enrollment_free(CtLedgerEnrollment *enrollment)
{
	if (enrollment == NULL)
		return;
	g_free(enrollment->csr_sha256);
	g_clear_pointer(&enrollment->csr_der, g_bytes_unref);
	g_free(enrollment->key_alg);
	g_free(enrollment->user);
	g_free(enrollment->backend);
	g_clear_pointer(&enrollment->cert_der, g_bytes_unref);
	g_free(enrollment->chain_pem);
	g_free(enrollment->anchors_pem);
	g_free(enrollment->cert_serial);
	g_free(enrollment->cert_sha256);
	g_free(enrollment->error_code);
	g_free(enrollment->error_message);
	g_free(enrollment);
}

void
ct_ledger_event_free(CtLedgerEvent *event)
{
	if (event == NULL)
		return;
	g_free(event->serial);
	g_free(event->state);
	g_free(event->message);
	g_free(event);
}

static void
ct_ledger_variant_add_string(GVariantBuilder *builder, const gchar *key, const gchar *value)
{
	if (value != NULL)
		g_variant_builder_add(builder, "{sv}", key, g_variant_new_string(value));
}

GVariant *
ct_ledger_device_to_variant(const CtLedgerDevice *device)
{
	GVariantBuilder builder;
	g_return_val_if_fail(device != NULL, NULL);
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&builder, "{sv}", "id", g_variant_new_int64(device->id));
	ct_ledger_variant_add_string(&builder, "serial", device->serial);
	ct_ledger_variant_add_string(&builder, "identity_fpr", device->identity_fpr);
	ct_ledger_variant_add_string(&builder, "vendor", device->vendor);
	ct_ledger_variant_add_string(&builder, "model", device->model);
	ct_ledger_variant_add_string(&builder, "firmware", device->firmware);
	ct_ledger_variant_add_string(&builder, "decision",
	                             ct_ledger_decision_to_string(device->decision));
	ct_ledger_variant_add_string(&builder, "user", device->user);
	g_variant_builder_add(&builder, "{sv}", "created", g_variant_new_int64(device->created));
	g_variant_builder_add(&builder, "{sv}", "updated", g_variant_new_int64(device->updated));
	return g_variant_builder_end(&builder);
}

GVariant *
ct_ledger_event_to_variant(const CtLedgerEvent *event)
{
	GVariantBuilder builder;
	g_return_val_if_fail(event != NULL, NULL);
	g_variant_builder_init(&builder, G_VARIANT_TYPE_VARDICT);
	g_variant_builder_add(&builder, "{sv}", "id", g_variant_new_int64(event->id));
	if (event->device_id != 0)
		g_variant_builder_add(&builder, "{sv}", "device_id",
		                      g_variant_new_int64(event->device_id));
	g_variant_builder_add(&builder, "{sv}", "time", g_variant_new_int64(event->time));
	ct_ledger_variant_add_string(&builder, "serial", event->serial);
	ct_ledger_variant_add_string(&builder, "state", event->state);
	ct_ledger_variant_add_string(&builder, "message", event->message);
	return g_variant_builder_end(&builder);
}

/* ---- SQLite plumbing ---- */

static gboolean
ct_ledger_is_owner(CtLedger *self)
{
	return self->owner == g_thread_self();
}

static gboolean
ct_ledger_errcode_means_damaged(int errcode)
{
	int primary = errcode & 0xff;
	return primary == SQLITE_CORRUPT || primary == SQLITE_NOTADB;
}

static void
ct_ledger_set_damaged_error(const gchar *path, const gchar *what, GError **error)
{
	g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
	            "the ledger %s %s. certtether did not change or delete it: stop certtetherd, "
	            "then move the file (and any %s-wal and %s-shm next to it) aside, e.g. "
	            "'mv %s %s.broken', and certtether starts a new, empty ledger; or restore "
	            "the file from a backup",
	            path, what, path, path, path, path);
}

/* set error from the connection's last failure; always returns FALSE */
static gboolean
ct_ledger_sql_error(CtLedger *self, const gchar *doing, GError **error)
{
	int errcode = sqlite3_extended_errcode(self->db);
	if (ct_ledger_errcode_means_damaged(errcode)) {
		g_autofree gchar *what =
		    g_strdup_printf("is damaged (%s while %s)", sqlite3_errmsg(self->db), doing);
		ct_ledger_set_damaged_error(self->path, what, error);
		return FALSE;
	}
	g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
	            "ledger %s: %s failed: %s (SQLite error %d)", self->path, doing,
	            sqlite3_errmsg(self->db), errcode);
	return FALSE;
}

/* fixed SQL only: every value goes through a prepared statement's bind */
static gboolean
ct_ledger_exec(CtLedger *self, const gchar *sql, const gchar *doing, GError **error)
{
	if (sqlite3_exec(self->db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return ct_ledger_sql_error(self, doing, error);
	return TRUE;
}

static sqlite3_stmt *
ct_ledger_prepare(CtLedger *self, const gchar *sql, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	if (sqlite3_prepare_v2(self->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		ct_ledger_sql_error(self, "preparing a statement", error);
		sqlite3_finalize(stmt);
		return NULL;
	}
	return stmt;
}

static int
ct_ledger_bind_text(sqlite3_stmt *stmt, int idx, const gchar *value)
{
	/* NULL binds SQL NULL */
	return sqlite3_bind_text(stmt, idx, value, -1, SQLITE_TRANSIENT);
}

static int
ct_ledger_bind_bytes(sqlite3_stmt *stmt, int idx, GBytes *value)
{
	gsize len = 0;
	gconstpointer data;
	if (value == NULL)
		return sqlite3_bind_null(stmt, idx);
	data = g_bytes_get_data(value, &len);
	/* a zero-length blob is still a blob, not NULL */
	return sqlite3_bind_blob64(stmt, idx, data != NULL ? data : "", len, SQLITE_TRANSIENT);
}

static int
ct_ledger_bind_id(sqlite3_stmt *stmt, int idx, gint64 id)
{
	return id == 0 ? sqlite3_bind_null(stmt, idx) : sqlite3_bind_int64(stmt, idx, id);
}

/* run a statement that returns no row; @bind_rc: its binds' results or-ed together */
static gboolean
ct_ledger_step_done(
    CtLedger *self, sqlite3_stmt *stmt, int bind_rc, const gchar *doing, GError **error)
{
	if (bind_rc != SQLITE_OK || sqlite3_step(stmt) != SQLITE_DONE)
		return ct_ledger_sql_error(self, doing, error);
	return TRUE;
}

/* step once: TRUE with *has_row, or FALSE with error */
static gboolean
ct_ledger_step_row(
    CtLedger *self, sqlite3_stmt *stmt, gboolean *has_row, const gchar *doing, GError **error)
{
	int rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW) {
		*has_row = TRUE;
		return TRUE;
	}
	if (rc == SQLITE_DONE) {
		*has_row = FALSE;
		return TRUE;
	}
	return ct_ledger_sql_error(self, doing, error);
}

static gchar *
ct_ledger_column_strdup(sqlite3_stmt *stmt, int col)
{
	const unsigned char *text = sqlite3_column_text(stmt, col);
	if (text == NULL)
		return NULL;
	return g_strndup((const gchar *)text, (gsize)sqlite3_column_bytes(stmt, col));
}

static GBytes *
ct_ledger_column_bytes(sqlite3_stmt *stmt, int col)
{
	const void *blob;
	if (sqlite3_column_type(stmt, col) == SQLITE_NULL)
		return NULL;
	blob = sqlite3_column_blob(stmt, col);
	return g_bytes_new(blob, (gsize)sqlite3_column_bytes(stmt, col));
}

/* one write transaction; dropping it without a commit rolls it back */
typedef struct {
	CtLedger *ledger;
	gboolean open;
} CtLedgerTxn;

static void
ct_ledger_txn_free(CtLedgerTxn *txn)
{
	if (txn->open)
		sqlite3_exec(txn->ledger->db, "ROLLBACK", NULL, NULL, NULL);
	g_free(txn);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtLedgerTxn, ct_ledger_txn_free)

static CtLedgerTxn *
ct_ledger_txn_begin(CtLedger *self, GError **error)
{
	CtLedgerTxn *txn;
	/* IMMEDIATE takes the write lock now, so a concurrent writer makes us wait
	 * (busy_timeout) here rather than fail half-way */
	if (!ct_ledger_exec(self, "BEGIN IMMEDIATE", "starting a transaction", error))
		return NULL;
	txn = g_new0(CtLedgerTxn, 1);
	txn->ledger = self;
	txn->open = TRUE;
	return txn;
}

static gboolean
ct_ledger_txn_commit(CtLedgerTxn *txn, GError **error)
{
	/* with synchronous=FULL the WAL is fsync'ed before COMMIT returns */
	if (!ct_ledger_exec(txn->ledger, "COMMIT", "committing", error))
		return FALSE;
	txn->open = FALSE;
	return TRUE;
}

/* ---- argument checks (callers pass device-supplied text) ---- */

static gboolean
ct_ledger_check_sha256(const gchar *value, const gchar *what, GError **error)
{
	if (value == NULL || strlen(value) != 64) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s must be 64 hexadecimal characters (a SHA-256)", what);
		return FALSE;
	}
	for (guint i = 0; i < 64; i++) {
		if (!g_ascii_isxdigit(value[i])) {
			g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			            "%s must be 64 hexadecimal characters (a SHA-256)", what);
			return FALSE;
		}
	}
	return TRUE;
}

static gboolean
ct_ledger_check_text(
    const gchar *value, const gchar *what, gsize max_len, gboolean optional, GError **error)
{
	if (value == NULL && optional)
		return TRUE;
	if (value == NULL || value[0] == '\0') {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS, "%s is missing", what);
		return FALSE;
	}
	if (strlen(value) > max_len || !g_utf8_validate(value, -1, NULL)) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "%s must be UTF-8 text of at most %" G_GSIZE_FORMAT " bytes", what,
		            max_len);
		return FALSE;
	}
	return TRUE;
}

static gboolean
ct_ledger_check_device_identity(const gchar *serial, const gchar *identity_fpr, GError **error)
{
	if (!ct_ledger_check_text(serial, "the device serial", CTP_MAX_TEXT, FALSE, error))
		return FALSE;
	return ct_ledger_check_sha256(identity_fpr, "the identity fingerprint", error);
}

/* free text is kept, but bounded and valid UTF-8 */
static gchar *
ct_ledger_bounded_message(const gchar *message)
{
	g_autofree gchar *valid = NULL;
	if (message == NULL)
		return NULL;
	valid = g_utf8_make_valid(message, -1);
	if (g_utf8_strlen(valid, -1) <= CT_LEDGER_MAX_MESSAGE)
		return g_steal_pointer(&valid);
	return g_utf8_substring(valid, 0, CT_LEDGER_MAX_MESSAGE);
}

/* ---- opening and migration ---- */

static gboolean
ct_ledger_query_int(CtLedger *self, const gchar *sql, gint64 *value, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gboolean has_row = FALSE;
	stmt = ct_ledger_prepare(self, sql, error);
	if (stmt == NULL)
		return FALSE;
	if (!ct_ledger_step_row(self, stmt, &has_row, "reading the database header", error))
		return FALSE;
	*value = has_row ? sqlite3_column_int64(stmt, 0) : 0;
	return TRUE;
}

/* switch to write-ahead logging; *is_wal tells whether SQLite agreed */
static gboolean
ct_ledger_query_wal(CtLedger *self, gboolean *is_wal, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = ct_ledger_prepare(self, "PRAGMA journal_mode = WAL", error);
	gboolean has_row = FALSE;
	if (stmt == NULL)
		return FALSE;
	if (!ct_ledger_step_row(self, stmt, &has_row, "enabling write-ahead logging", error))
		return FALSE;
	*is_wal = has_row && g_strcmp0((const gchar *)sqlite3_column_text(stmt, 0), "wal") == 0;
	return TRUE;
}

/* read-only look at the file: is it ours, new, damaged, foreign or from the future? */
static gboolean
ct_ledger_identify(CtLedger *self, gint64 *version, GError **error)
{
	gint64 application_id = 0;
	gint64 n_objects = 0;

	if (!ct_ledger_query_int(self, "PRAGMA application_id", &application_id, error) ||
	    !ct_ledger_query_int(self, "PRAGMA user_version", version, error) ||
	    !ct_ledger_query_int(self, "SELECT count(*) FROM sqlite_master", &n_objects, error))
		return FALSE;
	if (application_id != 0 && application_id != CT_LEDGER_APPLICATION_ID) {
		ct_ledger_set_damaged_error(self->path,
		                            "is an SQLite database of another program (its "
		                            "application id is not certtether's)",
		                            error);
		return FALSE;
	}
	if (application_id == 0 && (*version != 0 || n_objects != 0)) {
		ct_ledger_set_damaged_error(self->path,
		                            "is an SQLite database but not a certtether ledger (it "
		                            "has tables but no certtether application id)",
		                            error);
		return FALSE;
	}
	if (*version > CT_LEDGER_SCHEMA_VERSION) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
		            "the ledger %s was written by a newer certtether (schema version "
		            "%" G_GINT64_FORMAT
		            ", this certtether knows up to %d). certtether did not change it: "
		            "install the newer certtether again, or move the file aside to start a "
		            "new, empty ledger",
		            self->path, *version, CT_LEDGER_SCHEMA_VERSION);
		return FALSE;
	}
	if (*version < 0) {
		ct_ledger_set_damaged_error(self->path, "has a negative schema version", error);
		return FALSE;
	}
	return TRUE;
}

/* run an integrity pragma; TRUE if it says "ok", else the first findings in *findings */
static gboolean
ct_ledger_run_check(CtLedger *self, const gchar *pragma, gchar **findings, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = ct_ledger_prepare(self, pragma, error);
	g_autoptr(GString) text = g_string_new(NULL);
	gboolean has_row = TRUE;
	guint n = 0;
	if (stmt == NULL)
		return FALSE;
	while (TRUE) {
		if (!ct_ledger_step_row(self, stmt, &has_row, "checking the database", error))
			return FALSE;
		if (!has_row)
			break;
		if (n++ < 3) {
			const unsigned char *line = sqlite3_column_text(stmt, 0);
			if (text->len > 0)
				g_string_append(text, "; ");
			g_string_append(text, line != NULL ? (const gchar *)line : "?");
		}
	}
	/* one line for the error message, of bounded length */
	g_strdelimit(text->str, "\n", ' ');
	if (text->len > 300) {
		g_string_truncate(text, 300);
		g_string_append(text, "...");
	}
	*findings = g_string_free(g_steal_pointer(&text), FALSE);
	return TRUE;
}

static gboolean
ct_ledger_migrate(CtLedger *self, gint64 from_version, GError **error)
{
	for (gint64 v = from_version; v < CT_LEDGER_SCHEMA_VERSION; v++) {
		g_autoptr(CtLedgerTxn) txn = ct_ledger_txn_begin(self, error);
		if (txn == NULL)
			return FALSE;
		if (!ct_ledger_exec(self, ct_ledger_migrations[v],
		                    "creating or upgrading the schema", error))
			return FALSE;
		if (!ct_ledger_txn_commit(txn, error))
			return FALSE;
		g_info("ledger %s: schema version %" G_GINT64_FORMAT " -> %" G_GINT64_FORMAT,
		       self->path, v, v + 1);
	}
	return TRUE;
}

/* the database file is private to the user: create it 0600 (SQLite would use 0644) */
static gboolean
ct_ledger_create_private_file(const gchar *path, GError **error)
{
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0) {
		close(fd);
		return TRUE;
	}
	if (errno == EEXIST)
		return TRUE;
	g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
	            "cannot create the ledger %s: %s; check that the state directory is writable",
	            path, g_strerror(errno));
	return FALSE;
}

CtLedger *
ct_ledger_open(const gchar *path, GError **error)
{
	g_autoptr(CtLedger) self = NULL;
	g_autofree gchar *dir = NULL;
	g_autofree gchar *findings = NULL;
	gint64 version = 0;
	gboolean is_wal = FALSE;
	int rc;

	g_return_val_if_fail(path != NULL && path[0] != '\0', NULL);

	dir = g_path_get_dirname(path);
	if (g_mkdir_with_parents(dir, 0700) != 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
		            "cannot create the state directory %s: %s", dir, g_strerror(errno));
		return NULL;
	}
	if (!ct_ledger_create_private_file(path, error))
		return NULL;

	self = g_object_new(CT_TYPE_LEDGER, NULL);
	self->path = g_strdup(path);
	rc = sqlite3_open_v2(path, &self->db,
	                     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOFOLLOW | SQLITE_OPEN_FULLMUTEX,
	                     NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL, "cannot open the ledger %s: %s",
		            path, self->db != NULL ? sqlite3_errmsg(self->db) : sqlite3_errstr(rc));
		return NULL;
	}
	sqlite3_extended_result_codes(self->db, 1);
	sqlite3_busy_timeout(self->db, CT_LEDGER_BUSY_TIMEOUT_MS);

	/* look before changing anything: a foreign or damaged file stays as it is */
	if (!ct_ledger_identify(self, &version, error))
		return NULL;
	if (!ct_ledger_run_check(self, "PRAGMA quick_check", &findings, error))
		return NULL;
	if (g_strcmp0(findings, "ok") != 0) {
		g_autofree gchar *what =
		    g_strdup_printf("is damaged (SQLite quick_check: %s)", findings);
		ct_ledger_set_damaged_error(self->path, what, error);
		return NULL;
	}

	/* WAL: readers never block the writer; FULL: a commit is on disk when it returns;
	 * trusted_schema off: the file cannot make us run SQL functions from its schema */
	if (!ct_ledger_exec(self,
	                    "PRAGMA trusted_schema = OFF;"
	                    "PRAGMA foreign_keys = ON;"
	                    "PRAGMA synchronous = FULL;",
	                    "setting up the connection", error))
		return NULL;
	if (!ct_ledger_query_wal(self, &is_wal, error))
		return NULL;
	if (!is_wal) {
		g_set_error(error, CT_ERROR, CT_ERROR_INTERNAL,
		            "the ledger %s cannot use write-ahead logging; it must be on a local "
		            "file system that supports shared memory (not NFS)",
		            path);
		return NULL;
	}
	if (!ct_ledger_migrate(self, version, error))
		return NULL;
	return g_steal_pointer(&self);
}

const gchar *
ct_ledger_get_path(CtLedger *self)
{
	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	return self->path;
}

gboolean
ct_ledger_check_integrity(CtLedger *self, GError **error)
{
	g_autofree gchar *findings = NULL;
	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	if (!ct_ledger_run_check(self, "PRAGMA integrity_check", &findings, error))
		return FALSE;
	if (g_strcmp0(findings, "ok") != 0) {
		g_autofree gchar *what =
		    g_strdup_printf("is damaged (SQLite integrity_check: %s)", findings);
		ct_ledger_set_damaged_error(self->path, what, error);
		return FALSE;
	}
	return TRUE;
}

void
ct_ledger_set_event_retention(CtLedger *self, guint max_events)
{
	g_return_if_fail(CT_IS_LEDGER(self));
	self->event_retention = MAX(max_events, 1);
}

/* ---- devices ---- */

static CtLedgerDevice *
ct_ledger_device_from_row(sqlite3_stmt *stmt)
{
	CtLedgerDevice *device = g_new0(CtLedgerDevice, 1);
	g_autofree gchar *decision = NULL;
	device->id = sqlite3_column_int64(stmt, 0);
	device->serial = ct_ledger_column_strdup(stmt, 1);
	device->identity_fpr = ct_ledger_column_strdup(stmt, 2);
	device->vendor = ct_ledger_column_strdup(stmt, 3);
	device->model = ct_ledger_column_strdup(stmt, 4);
	device->firmware = ct_ledger_column_strdup(stmt, 5);
	decision = ct_ledger_column_strdup(stmt, 6);
	device->decision = g_strcmp0(decision, "paired") == 0 ? CT_LEDGER_DECISION_PAIRED
	                                                      : CT_LEDGER_DECISION_REJECTED;
	device->user = ct_ledger_column_strdup(stmt, 7);
	device->created = sqlite3_column_int64(stmt, 8);
	device->updated = sqlite3_column_int64(stmt, 9);
	return device;
}

/* all rows of a bound device query */
static GPtrArray *
ct_ledger_collect_devices(CtLedger *self, sqlite3_stmt *stmt, GError **error)
{
	g_autoptr(GPtrArray) devices =
	    g_ptr_array_new_with_free_func((GDestroyNotify)ct_ledger_device_free);
	gboolean has_row = TRUE;
	while (TRUE) {
		if (!ct_ledger_step_row(self, stmt, &has_row, "reading devices", error))
			return NULL;
		if (!has_row)
			break;
		g_ptr_array_add(devices, ct_ledger_device_from_row(stmt));
	}
	return g_steal_pointer(&devices);
}

CtLedgerDevice *
ct_ledger_lookup_device(CtLedger *self,
                        const gchar *serial,
                        const gchar *identity_fpr,
                        GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *fpr = NULL;
	gboolean has_row = FALSE;

	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	if (!ct_ledger_check_device_identity(serial, identity_fpr, error))
		return NULL;
	fpr = g_ascii_strdown(identity_fpr, -1);
	stmt = ct_ledger_prepare(self,
	                         "SELECT " CT_LEDGER_DEVICE_COLUMNS " FROM devices "
	                         "WHERE serial = ?1 AND identity_fpr = ?2",
	                         error);
	if (stmt == NULL)
		return NULL;
	if ((ct_ledger_bind_text(stmt, 1, serial) | ct_ledger_bind_text(stmt, 2, fpr)) !=
	    SQLITE_OK) {
		ct_ledger_sql_error(self, "looking up a device", error);
		return NULL;
	}
	if (!ct_ledger_step_row(self, stmt, &has_row, "looking up a device", error))
		return NULL;
	if (!has_row) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "the ledger has no device %s with identity %.16s…", serial, fpr);
		return NULL;
	}
	return ct_ledger_device_from_row(stmt);
}

GPtrArray *
ct_ledger_lookup_devices_by_serial(CtLedger *self, const gchar *serial, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	if (!ct_ledger_check_text(serial, "the device serial", CTP_MAX_TEXT, FALSE, error))
		return NULL;
	stmt = ct_ledger_prepare(
	    self, "SELECT " CT_LEDGER_DEVICE_COLUMNS " FROM devices WHERE serial = ?1 ORDER BY id",
	    error);
	if (stmt == NULL)
		return NULL;
	if (ct_ledger_bind_text(stmt, 1, serial) != SQLITE_OK) {
		ct_ledger_sql_error(self, "looking up a serial", error);
		return NULL;
	}
	return ct_ledger_collect_devices(self, stmt, error);
}

GPtrArray *
ct_ledger_list_devices(CtLedger *self, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	stmt = ct_ledger_prepare(
	    self, "SELECT " CT_LEDGER_DEVICE_COLUMNS " FROM devices ORDER BY id", error);
	if (stmt == NULL)
		return NULL;
	return ct_ledger_collect_devices(self, stmt, error);
}

static CtLedgerDevice *
ct_ledger_decide_device(CtLedger *self,
                        const gchar *serial,
                        const gchar *identity_fpr,
                        const gchar *vendor,
                        const gchar *model,
                        const gchar *firmware,
                        CtLedgerDecision decision,
                        const gchar *user,
                        GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *fpr = NULL;
	gint64 now = g_get_real_time();
	int rc;

	if (!ct_ledger_check_device_identity(serial, identity_fpr, error) ||
	    !ct_ledger_check_text(vendor, "the vendor", CTP_MAX_TEXT, TRUE, error) ||
	    !ct_ledger_check_text(model, "the model", CTP_MAX_TEXT, TRUE, error) ||
	    !ct_ledger_check_text(firmware, "the firmware version", CTP_MAX_TEXT, TRUE, error))
		return NULL;
	if (decision == CT_LEDGER_DECISION_PAIRED &&
	    !ct_ledger_check_text(user, "the user's SIP URI", 1024, FALSE, error))
		return NULL;
	fpr = g_ascii_strdown(identity_fpr, -1);

	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return NULL;
	stmt = ct_ledger_prepare(
	    self,
	    "INSERT INTO devices (serial, identity_fpr, vendor, model, firmware, decision, user, "
	    "                     created, updated) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8) "
	    "ON CONFLICT (serial, identity_fpr) DO UPDATE SET "
	    "  vendor = coalesce(excluded.vendor, vendor),"
	    "  model = coalesce(excluded.model, model),"
	    "  firmware = coalesce(excluded.firmware, firmware),"
	    "  decision = excluded.decision, user = excluded.user, updated = excluded.updated",
	    error);
	if (stmt == NULL)
		return NULL;
	rc = ct_ledger_bind_text(stmt, 1, serial) | ct_ledger_bind_text(stmt, 2, fpr) |
	     ct_ledger_bind_text(stmt, 3, vendor) | ct_ledger_bind_text(stmt, 4, model) |
	     ct_ledger_bind_text(stmt, 5, firmware) |
	     ct_ledger_bind_text(stmt, 6, ct_ledger_decision_to_string(decision)) |
	     ct_ledger_bind_text(stmt, 7, decision == CT_LEDGER_DECISION_PAIRED ? user : NULL) |
	     sqlite3_bind_int64(stmt, 8, now);
	if (!ct_ledger_step_done(self, stmt, rc, "recording a device", error))
		return NULL;
	if (!ct_ledger_txn_commit(txn, error))
		return NULL;
	return ct_ledger_lookup_device(self, serial, fpr, error);
}

CtLedgerDevice *
ct_ledger_pair_device(CtLedger *self,
                      const gchar *serial,
                      const gchar *identity_fpr,
                      const gchar *vendor,
                      const gchar *model,
                      const gchar *firmware,
                      const gchar *user,
                      GError **error)
{
	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	return ct_ledger_decide_device(self, serial, identity_fpr, vendor, model, firmware,
	                               CT_LEDGER_DECISION_PAIRED, user, error);
}

CtLedgerDevice *
ct_ledger_reject_device(CtLedger *self,
                        const gchar *serial,
                        const gchar *identity_fpr,
                        const gchar *vendor,
                        const gchar *model,
                        const gchar *firmware,
                        GError **error)
{
	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	return ct_ledger_decide_device(self, serial, identity_fpr, vendor, model, firmware,
	                               CT_LEDGER_DECISION_REJECTED, NULL, error);
}

gboolean
ct_ledger_forget_device(CtLedger *self,
                        const gchar *serial,
                        const gchar *identity_fpr,
                        GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *fpr = NULL;
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	if (!ct_ledger_check_text(serial, "the device serial", CTP_MAX_TEXT, FALSE, error))
		return FALSE;
	if (identity_fpr != NULL) {
		if (!ct_ledger_check_sha256(identity_fpr, "the identity fingerprint", error))
			return FALSE;
		fpr = g_ascii_strdown(identity_fpr, -1);
	}
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	/* enrollments go with the device (ON DELETE CASCADE), events keep their serial */
	stmt = ct_ledger_prepare(self,
	                         "DELETE FROM devices WHERE serial = ?1 "
	                         "AND (?2 IS NULL OR identity_fpr = ?2)",
	                         error);
	if (stmt == NULL)
		return FALSE;
	rc = ct_ledger_bind_text(stmt, 1, serial) | ct_ledger_bind_text(stmt, 2, fpr);
	if (!ct_ledger_step_done(self, stmt, rc, "forgetting a device", error))
		return FALSE;
	if (sqlite3_changes(self->db) == 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "the ledger has no device %s%s%.16s%s", serial,
		            fpr != NULL ? " with identity " : "", fpr != NULL ? fpr : "",
		            fpr != NULL ? "…" : "");
		return FALSE;
	}
	return ct_ledger_txn_commit(txn, error);
}

/* ---- enrollments ---- */

static CtLedgerEnrollment *
ct_ledger_enrollment_from_row(sqlite3_stmt *stmt)
{
	CtLedgerEnrollment *e = g_new0(CtLedgerEnrollment, 1);
	g_autofree gchar *state = NULL;
	e->id = sqlite3_column_int64(stmt, 0);
	e->device_id = sqlite3_column_int64(stmt, 1);
	e->csr_sha256 = ct_ledger_column_strdup(stmt, 2);
	e->csr_der = ct_ledger_column_bytes(stmt, 3);
	e->key_alg = ct_ledger_column_strdup(stmt, 4);
	e->user = ct_ledger_column_strdup(stmt, 5);
	e->backend = ct_ledger_column_strdup(stmt, 6);
	state = ct_ledger_column_strdup(stmt, 7);
	e->state = ct_ledger_enrollment_state_from_string(state);
	e->attempts = (guint)CLAMP(sqlite3_column_int64(stmt, 8), 0, G_MAXUINT);
	e->cert_der = ct_ledger_column_bytes(stmt, 9);
	e->chain_pem = ct_ledger_column_strdup(stmt, 10);
	e->anchors_pem = ct_ledger_column_strdup(stmt, 11);
	e->cert_serial = ct_ledger_column_strdup(stmt, 12);
	e->cert_sha256 = ct_ledger_column_strdup(stmt, 13);
	e->not_after = sqlite3_column_int64(stmt, 14);
	e->error_code = ct_ledger_column_strdup(stmt, 15);
	e->error_message = ct_ledger_column_strdup(stmt, 16);
	e->created = sqlite3_column_int64(stmt, 17);
	e->issued_at = sqlite3_column_int64(stmt, 18);
	e->installed_at = sqlite3_column_int64(stmt, 19);
	return e;
}

/* the row for a CSR hash (already checked), or NULL with CT_ERROR_NOT_FOUND */
static CtLedgerEnrollment *
ct_ledger_enrollment_get(CtLedger *self, const gchar *csr_sha256, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *hash = g_ascii_strdown(csr_sha256, -1);
	gboolean has_row = FALSE;
	stmt = ct_ledger_prepare(
	    self, "SELECT " CT_LEDGER_ENROLLMENT_COLUMNS " FROM enrollments WHERE csr_sha256 = ?1",
	    error);
	if (stmt == NULL)
		return NULL;
	if (ct_ledger_bind_text(stmt, 1, hash) != SQLITE_OK) {
		ct_ledger_sql_error(self, "looking up an enrollment", error);
		return NULL;
	}
	if (!ct_ledger_step_row(self, stmt, &has_row, "looking up an enrollment", error))
		return NULL;
	if (!has_row) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "the ledger has no enrollment for CSR %.16s…", hash);
		return NULL;
	}
	return ct_ledger_enrollment_from_row(stmt);
}

static gboolean
ct_ledger_device_exists(CtLedger *self, gint64 device_id, gboolean *exists, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt =
	    ct_ledger_prepare(self, "SELECT 1 FROM devices WHERE id = ?1", error);
	if (stmt == NULL)
		return FALSE;
	if (sqlite3_bind_int64(stmt, 1, device_id) != SQLITE_OK)
		return ct_ledger_sql_error(self, "looking up a device", error);
	return ct_ledger_step_row(self, stmt, exists, "looking up a device", error);
}

CtLedgerEnrollment *
ct_ledger_enrollment_begin(CtLedger *self,
                           gint64 device_id,
                           GBytes *csr_der,
                           const gchar *key_alg,
                           const gchar *user,
                           const gchar *backend,
                           GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(CtLedgerEnrollment) existing = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GError) error_local = NULL;
	g_autofree gchar *csr_sha256 = NULL;
	gboolean device_exists = FALSE;
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	if (csr_der == NULL || g_bytes_get_size(csr_der) == 0 ||
	    g_bytes_get_size(csr_der) > CTP_MAX_CSR) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the CSR must be 1 to %u bytes of DER", CTP_MAX_CSR);
		return NULL;
	}
	if (!ct_ledger_check_text(key_alg, "the key algorithm", 32, FALSE, error) ||
	    !ct_ledger_check_text(user, "the user's SIP URI", 1024, FALSE, error))
		return NULL;
	if (g_strcmp0(backend, "certprov") != 0 && g_strcmp0(backend, "est") != 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the enrollment backend must be 'certprov' or 'est', not '%s'",
		            backend != NULL ? backend : "(none)");
		return NULL;
	}
	csr_sha256 = g_compute_checksum_for_bytes(G_CHECKSUM_SHA256, csr_der);

	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return NULL;
	if (!ct_ledger_device_exists(self, device_id, &device_exists, error))
		return NULL;
	if (!device_exists) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "the ledger has no device with id %" G_GINT64_FORMAT
		            "; pair the device before enrolling for it",
		            device_id);
		return NULL;
	}
	existing = ct_ledger_enrollment_get(self, csr_sha256, &error_local);
	if (existing == NULL && !g_error_matches(error_local, CT_ERROR, CT_ERROR_NOT_FOUND)) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		return NULL;
	}
	if (existing != NULL) {
		/* never two certificates for one CSR: only a request that failed before
		 * anything was issued may be sent again */
		if (existing->state != CT_LEDGER_ENROLLMENT_FAILED) {
			g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			            "the ledger already holds an enrollment for CSR %.16s… (state "
			            "%s); %s",
			            csr_sha256,
			            ct_ledger_enrollment_state_to_string(existing->state),
			            existing->state == CT_LEDGER_ENROLLMENT_REQUESTED
			                ? "continue that one instead of starting another"
			                : "install its certificate instead of enrolling again");
			return NULL;
		}
		if (existing->cert_der != NULL) {
			g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			            "a certificate was already issued for CSR %.16s… before it "
			            "failed; ask the phone for a new key instead of enrolling the "
			            "same CSR again",
			            csr_sha256);
			return NULL;
		}
		if (existing->device_id != device_id) {
			g_set_error(
			    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			    "CSR %.16s… was sent by another device (ledger id %" G_GINT64_FORMAT
			    "); two devices cannot share a key",
			    csr_sha256, existing->device_id);
			return NULL;
		}
		stmt =
		    ct_ledger_prepare(self,
		                      "UPDATE enrollments SET state = 'requested', key_alg = ?2, "
		                      "user = ?3, backend = ?4, error_code = NULL, "
		                      "error_message = NULL WHERE csr_sha256 = ?1",
		                      error);
		if (stmt == NULL)
			return NULL;
		rc = ct_ledger_bind_text(stmt, 1, csr_sha256) |
		     ct_ledger_bind_text(stmt, 2, key_alg) | ct_ledger_bind_text(stmt, 3, user) |
		     ct_ledger_bind_text(stmt, 4, backend);
	} else {
		stmt = ct_ledger_prepare(
		    self,
		    "INSERT INTO enrollments (device_id, csr_sha256, csr_der, key_alg, user, "
		    "                         backend, state, attempts, created) "
		    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'requested', 0, ?7)",
		    error);
		if (stmt == NULL)
			return NULL;
		rc = sqlite3_bind_int64(stmt, 1, device_id) |
		     ct_ledger_bind_text(stmt, 2, csr_sha256) |
		     ct_ledger_bind_bytes(stmt, 3, csr_der) |
		     ct_ledger_bind_text(stmt, 4, key_alg) | ct_ledger_bind_text(stmt, 5, user) |
		     ct_ledger_bind_text(stmt, 6, backend) |
		     sqlite3_bind_int64(stmt, 7, g_get_real_time());
	}
	if (!ct_ledger_step_done(self, stmt, rc, "recording an enrollment", error))
		return NULL;
	if (!ct_ledger_txn_commit(txn, error))
		return NULL;
	return ct_ledger_enrollment_get(self, csr_sha256, error);
}

/* check the hash argument, then load its row */
static CtLedgerEnrollment *
ct_ledger_enrollment_load(CtLedger *self, const gchar *csr_sha256, GError **error)
{
	if (!ct_ledger_check_sha256(csr_sha256, "the CSR hash", error))
		return NULL;
	return ct_ledger_enrollment_get(self, csr_sha256, error);
}

static gboolean
ct_ledger_enrollment_wrong_state(const CtLedgerEnrollment *e, const gchar *wanted, GError **error)
{
	g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
	            "the enrollment for CSR %.16s… is %s, not %s", e->csr_sha256,
	            ct_ledger_enrollment_state_to_string(e->state), wanted);
	return FALSE;
}

gboolean
ct_ledger_enrollment_add_attempt(CtLedger *self,
                                 const gchar *csr_sha256,
                                 guint *attempts_out,
                                 GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(CtLedgerEnrollment) e = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	e = ct_ledger_enrollment_load(self, csr_sha256, error);
	if (e == NULL)
		return FALSE;
	if (e->state != CT_LEDGER_ENROLLMENT_REQUESTED)
		return ct_ledger_enrollment_wrong_state(e, "requested", error);
	stmt = ct_ledger_prepare(
	    self, "UPDATE enrollments SET attempts = attempts + 1 WHERE id = ?1", error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, e->id);
	if (!ct_ledger_step_done(self, stmt, rc, "counting an attempt", error))
		return FALSE;
	if (!ct_ledger_txn_commit(txn, error))
		return FALSE;
	if (attempts_out != NULL)
		*attempts_out = e->attempts + 1;
	return TRUE;
}

/* the issued certificate must be for the key in the CSR */
static gboolean
ct_ledger_cert_matches_csr(const CtCertInfo *info, GBytes *csr_der, GError **error)
{
	gsize len = 0;
	const guchar *p = g_bytes_get_data(csr_der, &len);
	g_autoptr(X509_REQ) req = d2i_X509_REQ(NULL, &p, (long)len);
	EVP_PKEY *csr_key = req != NULL ? X509_REQ_get0_pubkey(req) : NULL;
	EVP_PKEY *cert_key = X509_get0_pubkey(info->x509);
	if (csr_key == NULL || cert_key == NULL || EVP_PKEY_eq(csr_key, cert_key) != 1) {
		g_set_error(error, CT_ERROR, CT_ERROR_CERT_INVALID,
		            "certificate %s (serial %s) does not carry the public key of the CSR "
		            "it was issued for",
		            info->subject, info->serial);
		return FALSE;
	}
	return TRUE;
}

gboolean
ct_ledger_enrollment_record_issued(CtLedger *self,
                                   const gchar *csr_sha256,
                                   GBytes *cert_der,
                                   const gchar *chain_pem,
                                   const gchar *anchors_pem,
                                   GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(CtLedgerEnrollment) e = NULL;
	g_autoptr(CtCertInfo) info = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	info = ct_cert_info_new(cert_der, error);
	if (info == NULL)
		return FALSE;
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	e = ct_ledger_enrollment_load(self, csr_sha256, error);
	if (e == NULL)
		return FALSE;
	if (e->state == CT_LEDGER_ENROLLMENT_ISSUED || e->state == CT_LEDGER_ENROLLMENT_INSTALLED) {
		if (g_strcmp0(e->cert_sha256, info->sha256) == 0)
			return TRUE;
		g_set_error(error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		            "the ledger already holds certificate serial %s for CSR %.16s…; "
		            "certtether never keeps two certificates for one CSR",
		            e->cert_serial, e->csr_sha256);
		return FALSE;
	}
	if (e->state != CT_LEDGER_ENROLLMENT_REQUESTED)
		return ct_ledger_enrollment_wrong_state(e, "requested", error);
	if (!ct_ledger_cert_matches_csr(info, e->csr_der, error))
		return FALSE;

	stmt = ct_ledger_prepare(self,
	                         "UPDATE enrollments SET state = 'issued', cert_der = ?2, "
	                         "chain_pem = ?3, anchors_pem = ?4, cert_serial = ?5, "
	                         "cert_sha256 = ?6, not_after = ?7, issued_at = ?8, "
	                         "error_code = NULL, error_message = NULL "
	                         "WHERE id = ?1 AND state = 'requested'",
	                         error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, e->id) | ct_ledger_bind_bytes(stmt, 2, cert_der) |
	     ct_ledger_bind_text(stmt, 3, chain_pem) | ct_ledger_bind_text(stmt, 4, anchors_pem) |
	     ct_ledger_bind_text(stmt, 5, info->serial) |
	     ct_ledger_bind_text(stmt, 6, info->sha256) |
	     sqlite3_bind_int64(stmt, 7, info->not_after) |
	     sqlite3_bind_int64(stmt, 8, g_get_real_time());
	if (!ct_ledger_step_done(self, stmt, rc, "recording an issued certificate", error))
		return FALSE;
	return ct_ledger_txn_commit(txn, error);
}

gboolean
ct_ledger_enrollment_mark_installed(CtLedger *self, const gchar *csr_sha256, GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(CtLedgerEnrollment) e = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	e = ct_ledger_enrollment_load(self, csr_sha256, error);
	if (e == NULL)
		return FALSE;
	if (e->state == CT_LEDGER_ENROLLMENT_INSTALLED)
		return TRUE;
	if (e->state != CT_LEDGER_ENROLLMENT_ISSUED)
		return ct_ledger_enrollment_wrong_state(e, "issued", error);
	stmt = ct_ledger_prepare(self,
	                         "UPDATE enrollments SET state = 'installed', installed_at = ?2 "
	                         "WHERE id = ?1",
	                         error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, e->id) | sqlite3_bind_int64(stmt, 2, g_get_real_time());
	if (!ct_ledger_step_done(self, stmt, rc, "marking an enrollment installed", error))
		return FALSE;
	return ct_ledger_txn_commit(txn, error);
}

gboolean
ct_ledger_enrollment_mark_failed(CtLedger *self,
                                 const gchar *csr_sha256,
                                 const gchar *error_code,
                                 const gchar *error_message,
                                 GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(CtLedgerEnrollment) e = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *message = ct_ledger_bounded_message(error_message);
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	if (!ct_ledger_check_text(error_code, "the error code", 64, FALSE, error))
		return FALSE;
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	e = ct_ledger_enrollment_load(self, csr_sha256, error);
	if (e == NULL)
		return FALSE;
	if (e->state == CT_LEDGER_ENROLLMENT_INSTALLED)
		return ct_ledger_enrollment_wrong_state(e, "requested or issued", error);
	stmt = ct_ledger_prepare(self,
	                         "UPDATE enrollments SET state = 'failed', error_code = ?2, "
	                         "error_message = ?3 WHERE id = ?1",
	                         error);
	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(stmt, 1, e->id) | ct_ledger_bind_text(stmt, 2, error_code) |
	     ct_ledger_bind_text(stmt, 3, message);
	if (!ct_ledger_step_done(self, stmt, rc, "marking an enrollment failed", error))
		return FALSE;
	return ct_ledger_txn_commit(txn, error);
}

CtLedgerEnrollment *
ct_ledger_enrollment_find_by_csr(CtLedger *self, const gchar *csr_sha256, GError **error)
{
	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	return ct_ledger_enrollment_load(self, csr_sha256, error);
}

CtLedgerEnrollment *
ct_ledger_enrollment_latest_installed(CtLedger *self, gint64 device_id, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gboolean has_row = FALSE;

	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	stmt = ct_ledger_prepare(self,
	                         "SELECT " CT_LEDGER_ENROLLMENT_COLUMNS " FROM enrollments "
	                         "WHERE device_id = ?1 AND state = 'installed' "
	                         "ORDER BY installed_at DESC, id DESC LIMIT 1",
	                         error);
	if (stmt == NULL)
		return NULL;
	if (sqlite3_bind_int64(stmt, 1, device_id) != SQLITE_OK) {
		ct_ledger_sql_error(self, "looking up an installed certificate", error);
		return NULL;
	}
	if (!ct_ledger_step_row(self, stmt, &has_row, "looking up an installed certificate", error))
		return NULL;
	if (!has_row) {
		g_set_error(
		    error, CT_ERROR, CT_ERROR_NOT_FOUND,
		    "the ledger has no installed certificate for device id %" G_GINT64_FORMAT,
		    device_id);
		return NULL;
	}
	return ct_ledger_enrollment_from_row(stmt);
}

CtLedgerEnrollment *
ct_ledger_enrollment_find_by_cert(CtLedger *self, const gchar *cert_sha256, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	gboolean has_row = FALSE;

	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	g_return_val_if_fail(cert_sha256 != NULL, NULL);
	stmt = ct_ledger_prepare(self,
	                         "SELECT " CT_LEDGER_ENROLLMENT_COLUMNS " FROM enrollments "
	                         "WHERE cert_sha256 = ?1 ORDER BY id DESC LIMIT 1",
	                         error);
	if (stmt == NULL)
		return NULL;
	if (sqlite3_bind_text(stmt, 1, cert_sha256, -1, SQLITE_TRANSIENT) != SQLITE_OK) {
		ct_ledger_sql_error(self, "looking up a certificate", error);
		return NULL;
	}
	if (!ct_ledger_step_row(self, stmt, &has_row, "looking up a certificate", error))
		return NULL;
	if (!has_row) {
		g_set_error(error, CT_ERROR, CT_ERROR_NOT_FOUND,
		            "the ledger has no enrollment of certificate %.16s…", cert_sha256);
		return NULL;
	}
	return ct_ledger_enrollment_from_row(stmt);
}

/* ---- revocations ---- */

gboolean
ct_ledger_revoke(CtLedger *self, const gchar *cert_sha256, const gchar *reason, GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *hash = NULL;
	g_autofree gchar *why = ct_ledger_bounded_message(reason);
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	if (!ct_ledger_check_sha256(cert_sha256, "the certificate hash", error))
		return FALSE;
	hash = g_ascii_strdown(cert_sha256, -1);
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	stmt = ct_ledger_prepare(self,
	                         "INSERT INTO revocations (cert_sha256, time, reason) "
	                         "VALUES (?1, ?2, ?3) ON CONFLICT (cert_sha256) DO NOTHING",
	                         error);
	if (stmt == NULL)
		return FALSE;
	rc = ct_ledger_bind_text(stmt, 1, hash) | sqlite3_bind_int64(stmt, 2, g_get_real_time()) |
	     ct_ledger_bind_text(stmt, 3, why);
	if (!ct_ledger_step_done(self, stmt, rc, "recording a revocation", error))
		return FALSE;
	return ct_ledger_txn_commit(txn, error);
}

gboolean
ct_ledger_is_revoked(CtLedger *self, const gchar *cert_sha256, gboolean *revoked, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autofree gchar *hash = NULL;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	g_return_val_if_fail(revoked != NULL, FALSE);
	if (!ct_ledger_check_sha256(cert_sha256, "the certificate hash", error))
		return FALSE;
	hash = g_ascii_strdown(cert_sha256, -1);
	stmt = ct_ledger_prepare(self, "SELECT 1 FROM revocations WHERE cert_sha256 = ?1", error);
	if (stmt == NULL)
		return FALSE;
	if (ct_ledger_bind_text(stmt, 1, hash) != SQLITE_OK)
		return ct_ledger_sql_error(self, "looking up a revocation", error);
	return ct_ledger_step_row(self, stmt, revoked, "looking up a revocation", error);
}

/* ---- events ---- */

gboolean
ct_ledger_add_event(CtLedger *self,
                    gint64 device_id,
                    const gchar *serial,
                    const gchar *state,
                    const gchar *message,
                    GError **error)
{
	g_autoptr(CtLedgerTxn) txn = NULL;
	g_autoptr(sqlite3_stmt) insert = NULL;
	g_autoptr(sqlite3_stmt) prune = NULL;
	g_autofree gchar *text = ct_ledger_bounded_message(message);
	g_autofree gchar *serial_text = ct_ledger_bounded_message(serial);
	gint64 id;
	int rc;

	g_return_val_if_fail(CT_IS_LEDGER(self), FALSE);
	g_return_val_if_fail(ct_ledger_is_owner(self), FALSE);
	if (!ct_ledger_check_text(state, "the event state", 64, FALSE, error))
		return FALSE;
	txn = ct_ledger_txn_begin(self, error);
	if (txn == NULL)
		return FALSE;
	insert = ct_ledger_prepare(self,
	                           "INSERT INTO events (device_id, time, serial, state, message) "
	                           "VALUES (?1, ?2, ?3, ?4, ?5)",
	                           error);
	if (insert == NULL)
		return FALSE;
	rc = ct_ledger_bind_id(insert, 1, device_id) |
	     sqlite3_bind_int64(insert, 2, g_get_real_time()) |
	     ct_ledger_bind_text(insert, 3, serial_text) | ct_ledger_bind_text(insert, 4, state) |
	     ct_ledger_bind_text(insert, 5, text);
	if (!ct_ledger_step_done(self, insert, rc, "recording an event", error))
		return FALSE;
	id = sqlite3_last_insert_rowid(self->db);

	/* ids are consecutive (AUTOINCREMENT, only the oldest are ever deleted), so this
	 * keeps the newest event_retention rows with one index range delete */
	prune = ct_ledger_prepare(self, "DELETE FROM events WHERE id <= ?1", error);
	if (prune == NULL)
		return FALSE;
	rc = sqlite3_bind_int64(prune, 1, id - (gint64)self->event_retention);
	if (!ct_ledger_step_done(self, prune, rc, "pruning old events", error))
		return FALSE;
	return ct_ledger_txn_commit(txn, error);
}

GPtrArray *
ct_ledger_get_history(CtLedger *self, const gchar *serial, guint limit, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	g_autoptr(GPtrArray) events = NULL;
	gboolean has_row = TRUE;

	g_return_val_if_fail(CT_IS_LEDGER(self), NULL);
	g_return_val_if_fail(ct_ledger_is_owner(self), NULL);
	stmt = ct_ledger_prepare(self,
	                         "SELECT " CT_LEDGER_EVENT_COLUMNS " FROM events "
	                         "WHERE ?1 IS NULL OR serial = ?1 ORDER BY id DESC LIMIT ?2",
	                         error);
	if (stmt == NULL)
		return NULL;
	/* LIMIT -1 is SQLite's "no limit" */
	if ((ct_ledger_bind_text(stmt, 1, serial) |
	     sqlite3_bind_int64(stmt, 2, limit == 0 ? -1 : (gint64)limit)) != SQLITE_OK) {
		ct_ledger_sql_error(self, "reading the history", error);
		return NULL;
	}
	events = g_ptr_array_new_with_free_func((GDestroyNotify)ct_ledger_event_free);
	while (TRUE) {
		CtLedgerEvent *event;
		if (!ct_ledger_step_row(self, stmt, &has_row, "reading the history", error))
			return NULL;
		if (!has_row)
			break;
		event = g_new0(CtLedgerEvent, 1);
		event->id = sqlite3_column_int64(stmt, 0);
		event->device_id = sqlite3_column_int64(stmt, 1);
		event->time = sqlite3_column_int64(stmt, 2);
		event->serial = ct_ledger_column_strdup(stmt, 3);
		event->state = ct_ledger_column_strdup(stmt, 4);
		event->message = ct_ledger_column_strdup(stmt, 5);
		g_ptr_array_add(events, event);
	}
	return g_steal_pointer(&events);
}

/* ---- GObject ---- */

static void
ct_ledger_finalize(GObject *object)
{
	CtLedger *self = CT_LEDGER(object);
	/* closing the last connection checkpoints the WAL into the main file */
	if (self->db != NULL)
		sqlite3_close_v2(self->db);
	g_free(self->path);
	G_OBJECT_CLASS(ct_ledger_parent_class)->finalize(object);
}

static void
ct_ledger_init(CtLedger *self)
{
	self->owner = g_thread_self();
	self->event_retention = CT_LEDGER_EVENT_RETENTION_DEFAULT;
}

static void
ct_ledger_class_init(CtLedgerClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	object_class->finalize = ct_ledger_finalize;
}
