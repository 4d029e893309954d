/*
 * phonesim simulator: phones by id, ports, the state directory, waits.
 *
 * Phones report changes from any thread; the simulator moves each report to the
 * main context (one pending idle per phone at most) where the waits are checked.
 */
#include "tests/phonesim/phonesim-sim.h"

#include <errno.h>
#include <string.h>

#include "usbproto/codec/ctp-protocol.h"

#define DEFAULT_VENDOR      "CertTether Sim"
#define DEFAULT_MODEL       "Desk Phone 1"
#define DEFAULT_FIRMWARE    "1.0.0"
#define DEFAULT_KEY_ALGS    "rsa2048,ec-p256"
#define DEFAULT_MAX_CHAIN   4
#define DEFAULT_MAX_ANCHORS 4
#define MAX_ID_LEN          32

struct _PhonesimSim {
	gchar *state_dir;
	gboolean verbose;
	PhonesimUsb *usb;
	GHashTable *phones; /* id -> PhonesimEntry* */
	gboolean ports_used[PHONESIM_MAX_PORTS + 1];
	GList *waits; /* WaitData* */
};

typedef struct {
	PhonesimSim *sim;
	PhonesimPhone *phone;
	gint check_pending; /* atomic: an idle is on its way */
} PhonesimEntry;

typedef struct {
	PhonesimSim *sim;
	gchar *id;
	PhonesimEvent event;
	guint count;
	guint timeout_s;
	guint timeout_id;
	GTask *task;
} WaitData;

static void
wait_data_free(WaitData *w)
{
	if (w->timeout_id != 0)
		g_source_remove(w->timeout_id);
	g_free(w->id);
	g_free(w);
}

/* ---- waits ---- */

static void
check_waits(PhonesimSim *sim, const gchar *id)
{
	GList *l = sim->waits;
	while (l != NULL) {
		GList *next = l->next;
		WaitData *w = l->data;
		PhonesimEntry *e = g_hash_table_lookup(sim->phones, w->id);
		if ((id == NULL || g_strcmp0(w->id, id) == 0) && e != NULL &&
		    phonesim_phone_event_reached(e->phone, w->event, w->count)) {
			sim->waits = g_list_delete_link(sim->waits, l);
			GTask *task = w->task;
			w->task = NULL;
			wait_data_free(w);
			g_task_return_boolean(task, TRUE);
			g_object_unref(task);
		}
		l = next;
	}
}

/* a report on its way to the main context; carries the id, not the entry, so that it
 * stays harmless when the phone is gone by the time it runs */
typedef struct {
	PhonesimSim *sim;
	gchar *id;
	gboolean self_unplug;
} PhoneReport;

static gboolean
report_idle(gpointer data)
{
	PhoneReport *r = data;
	PhonesimEntry *e =
	    r->sim->phones != NULL ? g_hash_table_lookup(r->sim->phones, r->id) : NULL;
	if (e != NULL) {
		if (r->self_unplug) {
			phonesim_phone_finish_self_unplug(e->phone);
			if (r->sim->verbose)
				g_printerr("phonesim: %s unplugged itself (unplug-at)\n", r->id);
		} else {
			g_atomic_int_set(&e->check_pending, 0);
		}
		check_waits(r->sim, r->id);
	}
	g_free(r->id);
	g_free(r);
	return G_SOURCE_REMOVE;
}

static void
report(PhonesimEntry *e, gboolean self_unplug)
{
	PhoneReport *r = g_new0(PhoneReport, 1);
	r->sim = e->sim;
	r->id = g_strdup(phonesim_phone_get_id(e->phone));
	r->self_unplug = self_unplug;
	g_idle_add(report_idle, r);
}

/* any thread */
static void
on_phone_changed(PhonesimPhone *phone, gpointer user)
{
	PhonesimEntry *e = user;
	(void)phone;
	if (g_atomic_int_compare_and_exchange(&e->check_pending, 0, 1))
		report(e, FALSE);
}

/* any thread: the phone cut its own cable; the sysfs side belongs to the main thread */
static void
on_phone_self_unplug(PhonesimPhone *phone, gpointer user)
{
	(void)phone;
	report(user, TRUE);
}

static gboolean
wait_timeout(gpointer data)
{
	WaitData *w = data;
	PhonesimSim *sim = w->sim;
	GTask *task = w->task;
	w->timeout_id = 0;
	sim->waits = g_list_remove(sim->waits, w);
	g_autofree gchar *count = w->event > PHONESIM_EVENT_UNPLUGGED
	                              ? g_strdup_printf(" (count %u)", w->count)
	                              : g_strdup("");
	g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "%s: no '%s'%s within %u s",
	                        w->id, phonesim_event_name(w->event), count, w->timeout_s);
	w->task = NULL;
	wait_data_free(w);
	g_object_unref(task);
	return G_SOURCE_REMOVE;
}

void
phonesim_sim_wait_async(PhonesimSim *sim,
                        const gchar *id,
                        PhonesimEvent event,
                        guint count,
                        guint timeout_s,
                        GCancellable *cancellable,
                        GAsyncReadyCallback callback,
                        gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	PhonesimEntry *e = g_hash_table_lookup(sim->phones, id);
	if (e == NULL) {
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		                        "no phone '%s' (add it first)", id);
		g_object_unref(task);
		return;
	}
	if (phonesim_phone_event_reached(e->phone, event, count)) {
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	WaitData *w = g_new0(WaitData, 1);
	w->sim = sim;
	w->id = g_strdup(id);
	w->event = event;
	w->count = count;
	w->timeout_s = timeout_s;
	w->task = task;
	w->timeout_id = g_timeout_add_seconds(timeout_s, wait_timeout, w);
	sim->waits = g_list_prepend(sim->waits, w);
}

gboolean
phonesim_sim_wait_finish(PhonesimSim *sim, GAsyncResult *result, GError **error)
{
	(void)sim;
	return g_task_propagate_boolean(G_TASK(result), error);
}

/* ---- phones ---- */

static gboolean
valid_id(const gchar *id)
{
	gsize n = strlen(id);
	if (n == 0 || n > MAX_ID_LEN)
		return FALSE;
	for (const gchar *p = id; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-' && *p != '_')
			return FALSE;
	}
	return TRUE;
}

/* text that goes into descriptors, sysfs and HELLO: printable ASCII, bounded */
static gboolean
valid_text(const gchar *what, const gchar *value, gboolean token, GError **error)
{
	gsize n = strlen(value);
	if (n == 0 || n > CTP_MAX_TEXT) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "%s must be 1..%u characters", what, CTP_MAX_TEXT);
		return FALSE;
	}
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p < 0x20 || *p > 0x7e || *p == '\\' || (token && *p == ' ')) {
			g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
			            "%s '%s': use printable ASCII%s", what, value,
			            token ? " without spaces" : "");
			return FALSE;
		}
	}
	return TRUE;
}

/* options over the saved definition (fresh: none saved) over the defaults */
static gboolean
merge_options(PhonesimConfig *config,
              gboolean fresh,
              const gchar *id,
              const PhonesimAddOptions *o,
              GError **error)
{
	if (o->serial != NULL) {
		g_free(config->serial);
		config->serial = g_strdup(o->serial);
	}
	if (o->vendor != NULL) {
		g_free(config->vendor);
		config->vendor = g_strdup(o->vendor);
	}
	if (o->model != NULL) {
		g_free(config->model);
		config->model = g_strdup(o->model);
	}
	if (o->firmware != NULL) {
		g_free(config->firmware);
		config->firmware = g_strdup(o->firmware);
	}
	if (config->serial == NULL)
		config->serial = g_strdup_printf("SIM-%s", id);
	if (config->vendor == NULL)
		config->vendor = g_strdup(DEFAULT_VENDOR);
	if (config->model == NULL)
		config->model = g_strdup(DEFAULT_MODEL);
	if (config->firmware == NULL)
		config->firmware = g_strdup(DEFAULT_FIRMWARE);
	if (o->key_algs != NULL && !phonesim_key_algs_parse(o->key_algs, &config->key_algs, error))
		return FALSE;
	if (config->key_algs == 0 &&
	    !phonesim_key_algs_parse(DEFAULT_KEY_ALGS, &config->key_algs, error))
		return FALSE;
	if (fresh) {
		config->max_chain = DEFAULT_MAX_CHAIN;
		config->max_anchors = DEFAULT_MAX_ANCHORS;
		config->max_frame = CTP_MAX_FRAME;
	}
	if (o->max_chain >= 0)
		config->max_chain = (guint)o->max_chain;
	if (o->max_anchors >= 0)
		config->max_anchors = (guint)o->max_anchors;
	if (o->max_frame >= 0)
		config->max_frame = (guint)o->max_frame;

	if (!valid_text("serial", config->serial, TRUE, error) ||
	    !valid_text("vendor", config->vendor, FALSE, error) ||
	    !valid_text("model", config->model, FALSE, error) ||
	    !valid_text("firmware", config->firmware, FALSE, error))
		return FALSE;
	if (config->max_chain > CTP_MAX_CHAIN || config->max_anchors > CTP_MAX_ANCHORS) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "--max-chain must be 0..%u and --max-anchors 0..%u", CTP_MAX_CHAIN,
		            CTP_MAX_ANCHORS);
		return FALSE;
	}
	if (config->max_frame < CTP_MIN_DEVICE_FRAME || config->max_frame > CTP_MAX_FRAME) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "--max-frame must be %u..%u", CTP_MIN_DEVICE_FRAME, CTP_MAX_FRAME);
		return FALSE;
	}
	return TRUE;
}

static guint
free_port(PhonesimSim *sim)
{
	for (guint p = 1; p <= PHONESIM_MAX_PORTS; p++) {
		if (!sim->ports_used[p])
			return p;
	}
	return 0;
}

static PhonesimEntry *
lookup(PhonesimSim *sim, const gchar *id, GError **error)
{
	PhonesimEntry *e = g_hash_table_lookup(sim->phones, id);
	if (e == NULL)
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
		            "no phone '%s' (phonesim-ctl add %s first)", id, id);
	return e;
}

gboolean
phonesim_sim_add(PhonesimSim *sim,
                 const gchar *id,
                 const PhonesimAddOptions *options,
                 GError **error)
{
	if (!valid_id(id)) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "phone id '%s': use 1..%u of A-Z a-z 0-9 - _", id, MAX_ID_LEN);
		return FALSE;
	}
	PhonesimEntry *existing = g_hash_table_lookup(sim->phones, id);
	g_autofree gchar *dir = g_build_filename(sim->state_dir, id, NULL);
	g_autoptr(PhonesimState) state = NULL;
	PhonesimConfig config = {0};
	g_autoptr(GError) error_local = NULL;

	if (existing != NULL) {
		/* re-adding redefines (serial, ...) for the next plug and adds misbehaviours */
		if (options->misbehave != NULL &&
		    !phonesim_phone_misbehave(existing->phone, options->misbehave, error))
			return FALSE;
		state = phonesim_state_open(dir, error);
		if (state == NULL)
			return FALSE;
		gboolean saved = phonesim_state_load_config(state, &config, &error_local);
		if (!saved && error_local != NULL) {
			g_propagate_error(error, g_steal_pointer(&error_local));
			phonesim_config_clear(&config);
			return FALSE;
		}
		gboolean ok = merge_options(&config, !saved, id, options, error) &&
		              phonesim_state_save_config(state, &config, error);
		if (ok)
			phonesim_phone_set_config(existing->phone, &config);
		phonesim_config_clear(&config);
		return ok;
	}

	guint port = free_port(sim);
	if (port == 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NO_SPACE,
		            "all %u root hub ports are taken", PHONESIM_MAX_PORTS);
		return FALSE;
	}
	state = phonesim_state_open(dir, error);
	if (state == NULL)
		return FALSE;
	/* a phone seen before keeps its definition unless options override it */
	gboolean saved = phonesim_state_load_config(state, &config, &error_local);
	if (!saved && error_local != NULL) {
		g_propagate_error(error, g_steal_pointer(&error_local));
		phonesim_config_clear(&config);
		return FALSE;
	}
	if (!merge_options(&config, !saved, id, options, error) ||
	    !phonesim_state_save_config(state, &config, error)) {
		phonesim_config_clear(&config);
		return FALSE;
	}
	PhonesimEntry *e = g_new0(PhonesimEntry, 1);
	e->sim = sim;
	e->phone = phonesim_phone_new(sim->usb, id, port, g_steal_pointer(&state), &config,
	                              on_phone_changed, on_phone_self_unplug, e, error);
	phonesim_config_clear(&config);
	if (e->phone == NULL) {
		g_free(e);
		return FALSE;
	}
	if (options->misbehave != NULL &&
	    !phonesim_phone_misbehave(e->phone, options->misbehave, error)) {
		phonesim_phone_free(e->phone);
		g_free(e);
		return FALSE;
	}
	sim->ports_used[port] = TRUE;
	g_hash_table_insert(sim->phones, g_strdup(id), e);
	return TRUE;
}

gboolean
phonesim_sim_plug(PhonesimSim *sim, const gchar *id, GError **error)
{
	PhonesimEntry *e = lookup(sim, id, error);
	if (e == NULL || !phonesim_phone_plug(e->phone, error))
		return FALSE;
	if (sim->verbose)
		g_printerr("phonesim: %s plugged in at 1-%u\n", id,
		           phonesim_phone_get_port(e->phone));
	check_waits(sim, id);
	return TRUE;
}

gboolean
phonesim_sim_unplug(PhonesimSim *sim, const gchar *id, GError **error)
{
	PhonesimEntry *e = lookup(sim, id, error);
	if (e == NULL || !phonesim_phone_unplug(e->phone, error))
		return FALSE;
	if (sim->verbose)
		g_printerr("phonesim: %s unplugged\n", id);
	check_waits(sim, id);
	return TRUE;
}

gboolean
phonesim_sim_misbehave(PhonesimSim *sim, const gchar *id, const gchar *spec, GError **error)
{
	PhonesimEntry *e = lookup(sim, id, error);
	return e != NULL && phonesim_phone_misbehave(e->phone, spec, error);
}

static gchar *
json_to_text(JsonNode *node, gboolean pretty)
{
	g_autoptr(JsonGenerator) gen = json_generator_new();
	json_generator_set_pretty(gen, pretty);
	json_generator_set_root(gen, node);
	gchar *text = json_generator_to_data(gen, NULL);
	gchar *with_newline = g_strconcat(text, "\n", NULL);
	g_free(text);
	return with_newline;
}

gchar *
phonesim_sim_status(PhonesimSim *sim, const gchar *id, gboolean json, GError **error)
{
	PhonesimEntry *e = lookup(sim, id, error);
	if (e == NULL)
		return NULL;
	if (!json)
		return phonesim_phone_status_text(e->phone);
	g_autoptr(JsonNode) node = phonesim_phone_status_json(e->phone);
	return json_to_text(node, TRUE);
}

static gint
compare_ports(gconstpointer a, gconstpointer b)
{
	const PhonesimEntry *ea = *(PhonesimEntry *const *)a;
	const PhonesimEntry *eb = *(PhonesimEntry *const *)b;
	return (gint)phonesim_phone_get_port(ea->phone) - (gint)phonesim_phone_get_port(eb->phone);
}

gchar *
phonesim_sim_list(PhonesimSim *sim, gboolean json)
{
	g_autoptr(GPtrArray) entries = g_ptr_array_new();
	GHashTableIter iter;
	gpointer value;
	g_hash_table_iter_init(&iter, sim->phones);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		g_ptr_array_add(entries, value);
	g_ptr_array_sort(entries, compare_ports);
	if (json) {
		g_autoptr(JsonBuilder) b = json_builder_new();
		json_builder_begin_array(b);
		for (guint i = 0; i < entries->len; i++) {
			PhonesimEntry *e = g_ptr_array_index(entries, i);
			json_builder_add_value(b, phonesim_phone_status_json(e->phone));
		}
		json_builder_end_array(b);
		g_autoptr(JsonNode) root = json_builder_get_root(b);
		return json_to_text(root, TRUE);
	}
	GString *out = g_string_new(NULL);
	for (guint i = 0; i < entries->len; i++) {
		PhonesimEntry *e = g_ptr_array_index(entries, i);
		g_string_append_printf(out, "%s 1-%u %s\n", phonesim_phone_get_id(e->phone),
		                       phonesim_phone_get_port(e->phone),
		                       phonesim_phone_is_plugged(e->phone) ? "plugged"
		                                                           : "unplugged");
	}
	return g_string_free(out, FALSE);
}

/* ---- lifecycle ---- */

static void
entry_free(PhonesimEntry *e)
{
	phonesim_phone_free(e->phone);
	g_free(e);
}

PhonesimSim *
phonesim_sim_new(const gchar *state_dir, gboolean verbose, GError **error)
{
	g_autoptr(PhonesimSim) sim = g_new0(PhonesimSim, 1);
	sim->state_dir = g_strdup(state_dir);
	sim->verbose = verbose;
	sim->phones =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)entry_free);
	if (g_mkdir_with_parents(state_dir, 0700) != 0) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_FAILED, "cannot create %s: %s", state_dir,
		            g_strerror(errno));
		return NULL;
	}
	sim->usb = phonesim_usb_new(error);
	if (sim->usb == NULL)
		return NULL;
	return g_steal_pointer(&sim);
}

void
phonesim_sim_free(PhonesimSim *sim)
{
	if (sim == NULL)
		return;
	while (sim->waits != NULL) {
		WaitData *w = sim->waits->data;
		GTask *task = w->task;
		sim->waits = g_list_delete_link(sim->waits, sim->waits);
		w->task = NULL;
		g_task_return_new_error(task, G_IO_ERROR, G_IO_ERROR_CLOSED,
		                        "phonesim is shutting down");
		g_object_unref(task);
		wait_data_free(w);
	}
	/* phones first: their unplug sends uevents through the testbed */
	g_clear_pointer(&sim->phones, g_hash_table_unref);
	/* reports still queued find no phone and only free themselves (bounded: a source
	 * that stays ready must not keep shutdown from finishing) */
	for (guint i = 0; i < 1000 && g_main_context_iteration(NULL, FALSE); i++)
		;
	phonesim_usb_free(sim->usb);
	g_free(sim->state_dir);
	g_free(sim);
}
