/*
 * certtether bench --roster FILE [--report FILE.csv|FILE.json] [--timeout S]:
 * provision many phones for many users on one bench PC. Each phone listed in
 * the roster is provisioned for its user as it is plugged in (the engine runs
 * the sessions side by side), unlisted phones are left alone, and the run ends
 * when every listed phone has an outcome (or --timeout, or Ctrl-C). The report
 * has one row per roster line: outcome, certificate, user and timings.
 *
 * --direct (the bench's usual mode): the engine runs in this process; each
 * phone gets its user's own credentials (a Kerberos ticket cache per user, or
 * a password) and listed phones are approved without asking.
 *
 * Through certtetherd: the daemon acts with the desktop user's credentials
 * only, so a roster is accepted only when every line names the desktop user
 * with plain `negotiate`; listed phones that wait for approval are approved
 * over D-Bus. Any other roster is refused, saying why.
 */
#include <stdio.h>
#include <string.h>

#include "daemon/engine/ct-identity.h"
#include "ui-cli/ctcli-bench.h"
#include "ui-cli/ctcli-devices.h"
#include "ui-cli/ctcli-output.h"
#include "ui-cli/ctcli-secret-file.h"
#include "ui-cli/ctcli-verb.h"

#define CTCLI_BENCH_MAX_TIMEOUT_S 86400
#define CTCLI_BENCH_MAX_PARALLEL  1000

typedef struct {
	CtcliContext *ctx;
	CtcliRoster *roster;
	GPtrArray *phones;       /* CtcliBenchPhone, in roster order */
	GHashTable *credentials; /* "auth key" -> CtCredentials, shared by lines */
	GPtrArray *passwords;    /* gchar*, wiped when freed */
	CtcliDevices *devices;
	gboolean direct;
	GHashTable *printed; /* id -> last printed state */
} CtcliBench;

static void
ctcli_bench_clear(CtcliBench *bench)
{
	/* the engine holds credentials whose prompt returns our passwords: it goes first */
	g_clear_object(&bench->devices);
	g_clear_pointer(&bench->credentials, g_hash_table_unref);
	g_clear_pointer(&bench->passwords, g_ptr_array_unref);
	g_clear_pointer(&bench->phones, g_ptr_array_unref);
	g_clear_pointer(&bench->printed, g_hash_table_unref);
	g_clear_pointer(&bench->roster, ctcli_roster_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(CtcliBench, ctcli_bench_clear)

static CtcliBenchPhone *
ctcli_bench_phone_for_entry(CtcliBench *bench, CtcliRosterEntry *entry)
{
	for (guint i = 0; i < bench->phones->len; i++) {
		CtcliBenchPhone *phone = g_ptr_array_index(bench->phones, i);
		if (phone->entry == entry)
			return phone;
	}
	return NULL;
}

/* ---- credentials (--direct) ------------------------------------------------------------------ */

/* the prompt of a password credential: the password the bench read at the start */
static gchar *
ctcli_bench_stored_password(const gchar *prompt, gpointer user_data)
{
	(void)prompt;
	return g_strdup(user_data);
}

/* the credentials for one roster line, made once per distinct user + method */
static CtCredentials *
ctcli_bench_credentials_for(CtcliBench *bench, CtcliRosterEntry *entry, GError **error)
{
	g_autofree gchar *key = NULL;
	g_autoptr(CtCredentials) credentials = NULL;
	gchar *password = NULL;

	if (entry->auth == CTCLI_ROSTER_AUTH_NEGOTIATE)
		key = g_strdup_printf("negotiate:%s", entry->ccache != NULL ? entry->ccache : "");
	else
		key = g_strdup_printf("password:%s:%s", entry->login,
		                      entry->password_file != NULL ? entry->password_file : "");
	if (g_hash_table_contains(bench->credentials, key))
		return g_object_ref(g_hash_table_lookup(bench->credentials, key));

	if (entry->auth == CTCLI_ROSTER_AUTH_NEGOTIATE) {
		credentials = ct_credentials_new(CT_AUTH_METHOD_NEGOTIATE, NULL);
		ct_credentials_set_ccache(credentials, entry->ccache);
	} else {
		if (entry->auth == CTCLI_ROSTER_AUTH_PASSWORD_FILE) {
			password =
			    ctcli_secret_file_read(entry->password_file, "the password", error);
		} else if (bench->ctx->interactive) {
			g_autofree gchar *prompt =
			    g_strdup_printf("Password for %s (%s):", entry->login, entry->sip_uri);
			password = ctcli_prompt_secret(prompt);
			if (password == NULL)
				g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
				            "no password given for %s", entry->login);
		} else {
			g_set_error_literal(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			                    "'password' asks at a terminal and there is none: use "
			                    "password-file:PATH");
		}
		if (password == NULL)
			return NULL;
		g_ptr_array_add(bench->passwords, password);
		credentials = ct_credentials_new(CT_AUTH_METHOD_BASIC, entry->login);
		ct_credentials_set_prompt_func(credentials, ctcli_bench_stored_password, password,
		                               NULL);
	}
	g_hash_table_insert(bench->credentials, g_steal_pointer(&key), g_object_ref(credentials));
	return g_steal_pointer(&credentials);
}

/*
 * Before any phone is touched: every line's credentials exist (a missing
 * ticket is said now, per line, not after a phone made a key).
 */
static gboolean
ctcli_bench_check_credentials(CtcliBench *bench, CtConfig *config, GError **error)
{
	const gchar *url = ct_config_get_url(config);
	g_autoptr(GString) problems = g_string_new(NULL);
	guint n_bad = 0;

	if (url == NULL) {
		g_set_error_literal(error, CT_ERROR, CT_ERROR_CONFIG,
		                    "no certificate service configured: set [service] url in "
		                    "certtether.conf");
		return FALSE;
	}
	for (guint i = 0; i < bench->roster->entries->len; i++) {
		CtcliRosterEntry *entry = g_ptr_array_index(bench->roster->entries, i);
		g_autoptr(GError) error_local = NULL;
		g_autoptr(CtCredentials) credentials =
		    ctcli_bench_credentials_for(bench, entry, &error_local);
		g_autofree gchar *own = NULL;
		if (credentials == NULL || !ct_credentials_ensure(credentials, url, &error_local)) {
			n_bad++;
			g_string_append_printf(problems, "\n  %s:%u (%s): %s",
			                       bench->roster->origin, entry->line, entry->sip_uri,
			                       error_local->message);
			continue;
		}
		if (entry->auth != CTCLI_ROSTER_AUTH_NEGOTIATE)
			continue;
		/* a ticket of someone else gets a refusal, or a certificate for the wrong user */
		own = ct_identity_sip_uri_from_principal(ct_credentials_get_principal(credentials),
		                                         NULL);
		if (own != NULL && g_ascii_strcasecmp(own, entry->sip_uri) != 0 &&
		    !bench->ctx->quiet)
			g_printerr("certtether: warning: %s:%u: the ticket %s is for %s, not %s\n",
			           bench->roster->origin, entry->line,
			           entry->ccache != NULL ? entry->ccache : "of this session",
			           ct_credentials_get_principal(credentials), entry->sip_uri);
	}
	if (n_bad > 0) {
		g_set_error(error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
		            "credentials are missing for %u roster line(s), nothing was done:%s",
		            n_bad, problems->str);
		return FALSE;
	}
	return TRUE;
}

/* the engine asks who a phone is for: its roster line, or nobody (left alone) */
static CtAssignment *
ctcli_bench_assign(CtEngine *engine, CtDevice *device, gpointer user_data)
{
	CtcliBench *bench = user_data;
	CtcliRosterEntry *entry = ctcli_roster_match(bench->roster, ct_device_get_serial(device),
	                                             ct_device_get_usb_port(device));
	CtAssignment *assignment;
	g_autoptr(CtCredentials) credentials = NULL;
	(void)engine;
	if (entry == NULL)
		return NULL;
	credentials = ctcli_bench_credentials_for(bench, entry, NULL);
	if (credentials == NULL)
		return NULL; /* cannot happen: checked at the start */
	assignment = g_new0(CtAssignment, 1);
	assignment->sip_uri = g_strdup(entry->sip_uri);
	assignment->credentials = g_steal_pointer(&credentials);
	return assignment;
}

/* ---- through certtetherd --------------------------------------------------------------------- */

/*
 * The daemon acts for the desktop user alone, with that user's credentials:
 * said before connecting, every line must name one user with plain negotiate.
 */
static gboolean
ctcli_bench_check_daemon_roster(CtcliBench *bench, GError **error)
{
	CtcliRosterEntry *first = g_ptr_array_index(bench->roster->entries, 0);
	for (guint i = 0; i < bench->roster->entries->len; i++) {
		CtcliRosterEntry *entry = g_ptr_array_index(bench->roster->entries, i);
		if (entry->auth != CTCLI_ROSTER_AUTH_NEGOTIATE || entry->ccache != NULL) {
			g_set_error(
			    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			    "%s:%u: the auth method %s needs --direct: certtetherd requests "
			    "certificates with the desktop user's own credentials only (run "
			    "'certtether --direct bench ...' with certtetherd stopped)",
			    bench->roster->origin, entry->line, entry->auth_text);
			return FALSE;
		}
		if (g_ascii_strcasecmp(entry->sip_uri, first->sip_uri) != 0) {
			g_set_error(
			    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
			    "%s names %s (line %u) and %s (line %u), but certtetherd provisions "
			    "phones for the desktop user only, with that user's credentials: "
			    "use --direct (with a ticket cache per user, negotiate:FILE:...)",
			    bench->roster->origin, first->sip_uri, first->line, entry->sip_uri,
			    entry->line);
			return FALSE;
		}
	}
	return TRUE;
}

/* ... and that one user must be the desktop user the daemon works for */
static gboolean
ctcli_bench_check_daemon_user(CtcliBench *bench, CtConfig *config, GError **error)
{
	CtcliRosterEntry *first = g_ptr_array_index(bench->roster->entries, 0);
	g_autoptr(GVariant) service = ctcli_devices_get_service(bench->devices);
	g_autofree gchar *desktop = NULL;
	const gchar *user = NULL;

	if (service != NULL)
		g_variant_lookup(service, "user", "&s", &user);
	if (user != NULL && user[0] != '\0') {
		desktop = g_strdup(user);
	} else {
		/* the daemon has not needed its user yet: the same session, the same ticket */
		g_autoptr(CtCredentials) credentials = ct_config_new_credentials(config);
		g_autoptr(GError) error_local = NULL;
		if (ct_credentials_ensure(credentials, ct_config_get_url(config), &error_local))
			desktop = ct_identity_resolve_user(config, credentials, &error_local);
		if (desktop == NULL) {
			g_set_error(
			    error, CT_ERROR, CT_ERROR_NO_CREDENTIALS,
			    "cannot tell who the desktop user is (%s), and through certtetherd "
			    "every phone is provisioned for that user",
			    error_local->message);
			return FALSE;
		}
	}
	if (g_ascii_strcasecmp(first->sip_uri, desktop) != 0) {
		g_set_error(
		    error, CT_ERROR, CT_ERROR_INVALID_ARGS,
		    "%s names %s, but certtetherd provisions phones for the desktop user %s "
		    "only, with that user's credentials: use --direct (with a ticket cache "
		    "per user, negotiate:FILE:...) for other users",
		    bench->roster->origin, first->sip_uri, desktop);
		return FALSE;
	}
	return TRUE;
}

/* approve a listed phone that waits, retry one that had failed before the bench began */
static void
ctcli_bench_act(CtcliBench *bench, CtcliBenchPhone *phone, CtDeviceState state, gboolean first)
{
	g_autoptr(GError) error = NULL;
	gboolean connected = ctcli_snapshot_get_boolean(phone->snapshot, "Connected");

	if (bench->direct || !connected || phone->action_error != NULL)
		return;
	if (state == CT_DEVICE_STATE_AWAITING_APPROVAL && !phone->approved) {
		phone->approved = TRUE;
		if (!ctcli_devices_approve(bench->devices, phone->id, &error))
			phone->action_error = g_steal_pointer(&error);
	} else if (state == CT_DEVICE_STATE_FAILED && first && !phone->provision_asked) {
		/* a failure from before this bench: the bench is asked to provision it now */
		phone->provision_asked = TRUE;
		if (!ctcli_devices_provision(bench->devices, phone->id, FALSE, &error))
			phone->action_error = g_steal_pointer(&error);
	}
	if (phone->action_error != NULL)
		phone->done_at = g_get_monotonic_time();
}

/* ---- following the phones -------------------------------------------------------------------- */

static void
ctcli_bench_print(CtcliBench *bench, CtcliBenchPhone *phone, const gchar *id)
{
	const gchar *state = ctcli_snapshot_get_string(phone->snapshot, "State");
	g_autofree gchar *line = NULL;
	if (bench->ctx->quiet || bench->ctx->json ||
	    g_strcmp0(g_hash_table_lookup(bench->printed, id), state) == 0)
		return;
	g_hash_table_replace(bench->printed, g_strdup(id), g_strdup(state));
	line = ctcli_format_progress_line(phone->snapshot, FALSE, bench->ctx->color, 0, 0);
	g_print("%s  [%s line %u, %s]\n", line, bench->roster->origin, phone->entry->line,
	        phone->entry->sip_uri);
	fflush(stdout);
}

static void
ctcli_bench_on_device(CtcliDevices *devices, const gchar *id, GVariant *snapshot, gpointer data)
{
	CtcliBench *bench = data;
	gboolean connected = ctcli_snapshot_get_boolean(snapshot, "Connected");
	CtcliRosterEntry *entry =
	    ctcli_roster_match(bench->roster, ctcli_snapshot_get_string(snapshot, "Serial"),
	                       connected ? ctcli_snapshot_get_string(snapshot, "UsbPort") : NULL);
	CtcliBenchPhone *phone;
	CtDeviceState state;
	gint64 now = g_get_monotonic_time();
	gboolean first = FALSE;
	(void)devices;

	if (entry == NULL)
		return; /* not on the roster: not ours to touch */
	phone = ctcli_bench_phone_for_entry(bench, entry);
	if (phone->id == NULL) {
		phone->id = g_strdup(id);
		phone->first_seen = now;
		phone->first_seen_real = g_get_real_time();
		first = TRUE;
	} else if (g_strcmp0(phone->id, id) != 0) {
		/* another phone in a listed USB port, after the listed one: one per line */
		return;
	}
	g_clear_pointer(&phone->snapshot, g_variant_unref);
	phone->snapshot = g_variant_ref(snapshot);
	state = ctcli_snapshot_get_state(snapshot);
	if (state < CT_DEVICE_STATE_LAST && phone->entered[state] == 0)
		phone->entered[state] = now;
	ctcli_bench_print(bench, phone, id);
	ctcli_bench_act(bench, phone, state, first);
	if (phone->action_error != NULL)
		return;
	if (ctcli_bench_state_is_outcome(state) &&
	    !(first && !bench->direct && state == CT_DEVICE_STATE_FAILED && connected))
		phone->done_at = phone->done_at != 0 ? phone->done_at : now;
	else
		phone->done_at = 0;
}

static gboolean
ctcli_bench_done(CtcliDevices *devices, gpointer user_data)
{
	CtcliBench *bench = user_data;
	(void)devices;
	for (guint i = 0; i < bench->phones->len; i++) {
		CtcliBenchPhone *phone = g_ptr_array_index(bench->phones, i);
		if (phone->done_at == 0)
			return FALSE;
	}
	return TRUE;
}

/* ---- the verb -------------------------------------------------------------------------------- */

static int
ctcli_bench_finish(CtcliBench *bench,
                   const gchar *report_path,
                   gint64 started_real,
                   const GError *wait_error)
{
	gint64 finished_real = g_get_real_time();
	const gchar *mode = bench->direct ? "direct" : "daemon";
	g_autoptr(GError) error = NULL;
	int exit_code = CTCLI_EXIT_OK;

	if (wait_error != NULL && !bench->ctx->quiet &&
	    !g_error_matches(wait_error, CT_ERROR, CT_ERROR_TIMEOUT))
		g_printerr("certtether: bench stopped: %s\n", wait_error->message);
	for (guint i = 0; i < bench->phones->len && exit_code == CTCLI_EXIT_OK; i++) {
		g_autoptr(GError) outcome = NULL;
		ctcli_bench_phone_outcome(g_ptr_array_index(bench->phones, i), &outcome);
		if (outcome != NULL)
			exit_code = ctcli_exit_for_error(outcome);
	}
	if (report_path != NULL &&
	    !ctcli_bench_report_write(report_path, bench->phones, bench->roster->origin, mode,
	                              started_real, finished_real, &error)) {
		ctcli_print_error(bench->ctx, error);
		return CTCLI_EXIT_FAILURE;
	}
	if (bench->ctx->json) {
		g_autoptr(JsonNode) root = ctcli_bench_report_json(
		    bench->phones, bench->roster->origin, mode, started_real, finished_real);
		ctcli_json_print(root, FALSE);
	} else if (!bench->ctx->quiet) {
		g_print("\n");
		ctcli_bench_report_print(bench->ctx, bench->phones);
		if (report_path != NULL)
			g_print("report: %s\n", report_path);
	}
	for (guint i = 0; i < bench->phones->len; i++) {
		g_autoptr(GError) outcome = NULL;
		ctcli_bench_phone_outcome(g_ptr_array_index(bench->phones, i), &outcome);
		if (outcome != NULL && !bench->ctx->json)
			g_printerr("certtether: %s\n", outcome->message);
	}
	return exit_code;
}

int
ctcli_cmd_bench(CtcliContext *ctx, int argc, char **argv)
{
	g_autofree gchar *roster_path = NULL;
	g_autofree gchar *report_path = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(GError) wait_error = NULL;
	g_autoptr(GPtrArray) existing = NULL;
	g_auto(CtcliBench) bench = {0};
	gint timeout_s = 0;
	gint parallel = 0;
	gint64 started_real;
	CtConfig *config;
	const GOptionEntry entries[] = {
	    {"roster", 0, 0, G_OPTION_ARG_FILENAME, &roster_path,
	     "The roster: DEVICE,USER[,AUTH[,LOGIN]] per line (CSV)", "FILE"},
	    {"report", 0, 0, G_OPTION_ARG_FILENAME, &report_path,
	     "Write the report here; .csv or .json says the format", "FILE"},
	    {"timeout", 0, 0, G_OPTION_ARG_INT, &timeout_s,
	     "Stop after S seconds even if listed phones are missing (0: wait for all)", "S"},
	    {"parallel", 0, 0, G_OPTION_ARG_INT, &parallel,
	     "--direct: at most N phones talk to the certificate service at once (0: no bound)",
	     "N"},
	    {NULL, 0, 0, 0, NULL, NULL, NULL},
	};

	if (!ctcli_verb_parse(
	        &argc, &argv,
	        "--roster FILE [--report FILE.csv|FILE.json] [--timeout S] [--parallel N]",
	        "Provision the phones a roster lists, each for its user, as they are plugged in; "
	        "leave unlisted phones alone; write a report.",
	        "Roster lines: DEVICE,USER[,AUTH[,LOGIN]] — DEVICE a serial or a USB port (1-3), "
	        "USER a SIP address, AUTH negotiate (KRB5CCNAME's ticket, the default), "
	        "negotiate:CCACHE (e.g. FILE:/path, made with kinit -c), password (asked once per "
	        "user at the terminal) or password-file:PATH (its first line), LOGIN the user "
	        "name for a password (default: the SIP address's user part). A header line, "
	        "blank lines and # comments are allowed; every bad line is reported.\n"
	        "With --direct the engine runs here: listed phones are approved without asking "
	        "and get their own user's certificate; --parallel N lets at most N of them "
	        "talk to the certificate service at once (the others wait their turn, in the "
	        "order their keys were made). Through certtetherd, phones are "
	        "provisioned with the desktop user's credentials only: a roster naming other "
	        "users (or other credentials) is refused — use --direct for those.\n"
	        "The run ends when every listed phone is provisioned, up to date, failed or "
	        "rejected, at --timeout, or at Ctrl-C; the report (one row per roster line: "
	        "outcome, certificate serial, user, seconds in all and per phase) is written "
	        "in every case.\n"
	        "Exit status: 0 when every listed phone ends provisioned or up to date; 2 bad "
	        "roster or options; 3 credentials missing; otherwise the code of the first "
	        "listed phone (in roster order) that did not (4 never finished, 7 never seen).",
	        entries))
		return CTCLI_EXIT_USAGE;
	if (argc > 1) {
		g_autofree gchar *msg = g_strdup_printf("unexpected argument '%s'", argv[1]);
		return ctcli_verb_usage_error("bench", msg);
	}
	if (roster_path == NULL)
		return ctcli_verb_usage_error("bench", "--roster FILE is required");
	if (timeout_s < 0 || timeout_s > CTCLI_BENCH_MAX_TIMEOUT_S) {
		g_autofree gchar *msg =
		    g_strdup_printf("--timeout must be 0 to %d seconds", CTCLI_BENCH_MAX_TIMEOUT_S);
		return ctcli_verb_usage_error("bench", msg);
	}
	if (parallel < 0 || parallel > CTCLI_BENCH_MAX_PARALLEL)
		return ctcli_verb_usage_error(
		    "bench", "--parallel must be 0 to " G_STRINGIFY(CTCLI_BENCH_MAX_PARALLEL));
	if (parallel > 0 && !ctx->direct)
		return ctcli_verb_usage_error("bench", "--parallel needs --direct: certtetherd "
		                                       "runs its enrollments itself");
	if (report_path != NULL && !ctcli_bench_report_check_path(report_path, &error))
		return ctcli_verb_usage_error("bench", error->message);

	bench.ctx = ctx;
	bench.direct = ctx->direct;
	bench.roster = ctcli_roster_load(roster_path, &error);
	if (bench.roster == NULL)
		return ctcli_print_error(ctx, error);
	bench.phones = g_ptr_array_new_with_free_func((GDestroyNotify)ctcli_bench_phone_free);
	for (guint i = 0; i < bench.roster->entries->len; i++) {
		CtcliBenchPhone *phone = g_new0(CtcliBenchPhone, 1);
		phone->entry = g_ptr_array_index(bench.roster->entries, i);
		g_ptr_array_add(bench.phones, phone);
	}
	bench.credentials = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	bench.passwords = g_ptr_array_new_with_free_func((GDestroyNotify)ctcli_secret_free);
	bench.printed = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	config = ctcli_context_get_config(ctx, &error);
	if (config == NULL)
		return ctcli_print_error(ctx, error);
	if (bench.direct && !ctcli_bench_check_credentials(&bench, config, &error))
		return ctcli_print_error(ctx, error);
	if (!bench.direct && !ctcli_bench_check_daemon_roster(&bench, &error))
		return ctcli_print_error(ctx, error);

	bench.devices = ctcli_devices_new(ctx, &error);
	if (bench.devices == NULL)
		return ctcli_print_error(ctx, error);
	if (bench.direct) {
		CtEngine *engine = ctcli_devices_get_engine(bench.devices);
		ct_engine_set_assign_func(engine, ctcli_bench_assign, &bench, NULL);
		ct_engine_set_auto_approve(engine, TRUE);
		ct_engine_set_max_enrollments(engine, (guint)parallel);
	} else if (!ctcli_bench_check_daemon_user(&bench, config, &error)) {
		return ctcli_print_error(ctx, error);
	}
	g_signal_connect(bench.devices, "device-added", G_CALLBACK(ctcli_bench_on_device), &bench);
	g_signal_connect(bench.devices, "device-changed", G_CALLBACK(ctcli_bench_on_device),
	                 &bench);
	started_real = g_get_real_time();
	if (!ctcli_devices_start(bench.devices, &error))
		return ctcli_print_error(ctx, error);
	if (!ctx->quiet && !ctx->json)
		g_print("bench: %u phone(s) listed in %s; plug them in (Ctrl-C stops)\n",
		        bench.phones->len, bench.roster->origin);
	/* phones the daemon knows already do not announce themselves again */
	existing = ctcli_devices_list(bench.devices);
	for (guint i = 0; existing != NULL && i < existing->len; i++) {
		GVariant *snapshot = g_ptr_array_index(existing, i);
		ctcli_bench_on_device(bench.devices, ctcli_snapshot_get_string(snapshot, "Id"),
		                      snapshot, &bench);
	}
	ctcli_devices_wait(bench.devices, ctcli_bench_done, &bench, (guint)timeout_s * 1000u,
	                   &wait_error);
	/* the phones stop where they are: the engine closes them, the daemon keeps them */
	return ctcli_bench_finish(&bench, report_path, started_real, wait_error);
}
