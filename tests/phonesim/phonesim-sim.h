/*
 * phonesim simulator: the set of phones on one emulated bus, their state directory,
 * and the waits of control clients. Main thread only, except where noted.
 */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>

#include "tests/phonesim/phonesim-phone.h"

typedef struct _PhonesimSim PhonesimSim;

/* the options of `add`; NULL / 0 = keep the saved value or the default */
typedef struct {
	const gchar *serial;
	const gchar *vendor;
	const gchar *model;
	const gchar *firmware;
	const gchar *key_algs;
	gint max_chain;   /* -1 = unset */
	gint max_anchors; /* -1 = unset */
	gint max_frame;   /* -1 = unset */
	const gchar *misbehave;
} PhonesimAddOptions;

PhonesimSim *phonesim_sim_new(const gchar *state_dir, gboolean verbose, GError **error);
/* unplug every phone (uevents included), stop keygens, remove the testbed */
void phonesim_sim_free(PhonesimSim *sim);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhonesimSim, phonesim_sim_free)

gboolean phonesim_sim_add(PhonesimSim *sim,
                          const gchar *id,
                          const PhonesimAddOptions *options,
                          GError **error);
gboolean phonesim_sim_plug(PhonesimSim *sim, const gchar *id, GError **error);
gboolean phonesim_sim_unplug(PhonesimSim *sim, const gchar *id, GError **error);
gboolean
phonesim_sim_misbehave(PhonesimSim *sim, const gchar *id, const gchar *spec, GError **error);
gchar *phonesim_sim_status(PhonesimSim *sim, const gchar *id, gboolean json, GError **error);
gchar *phonesim_sim_list(PhonesimSim *sim, gboolean json);

/* complete when the event holds (count for counted events), or fail after timeout_s */
void phonesim_sim_wait_async(PhonesimSim *sim,
                             const gchar *id,
                             PhonesimEvent event,
                             guint count,
                             guint timeout_s,
                             GCancellable *cancellable,
                             GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean phonesim_sim_wait_finish(PhonesimSim *sim, GAsyncResult *result, GError **error);
