/*
 * phonesim control socket: a unix stream socket that takes one command per
 * connection (wire format in phonesim.h) and runs it against the simulator.
 */
#pragma once

#include <gio/gio.h>

#include "tests/phonesim/phonesim-sim.h"

typedef struct _PhonesimControl PhonesimControl;

/* listen on path (a stale socket there is replaced) */
PhonesimControl *phonesim_control_new(PhonesimSim *sim, const gchar *path, GError **error);
/* stop listening, remove the socket file */
void phonesim_control_free(PhonesimControl *control);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhonesimControl, phonesim_control_free)
