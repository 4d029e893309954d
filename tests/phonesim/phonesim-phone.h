/*
 * phonesim phone: one emulated phone = a root-hub port, the CTP device session
 * library, the firmware behind it, its misbehaviours and its counters.
 */
#pragma once

#include <glib.h>
#include <json-glib/json-glib.h>

#include "tests/phonesim/phonesim-misbehave.h"
#include "tests/phonesim/phonesim-state.h"
#include "tests/phonesim/phonesim-usb.h"

typedef struct _PhonesimPhone PhonesimPhone;

/* what `wait` can wait for */
typedef enum {
	PHONESIM_EVENT_PLUGGED,     /* state: on the bus */
	PHONESIM_EVENT_UNPLUGGED,   /* state: off the bus */
	PHONESIM_EVENT_HELLO,       /* count: HELLO answered */
	PHONESIM_EVENT_STATUS,      /* count: STATUS answered */
	PHONESIM_EVENT_CSR,         /* count: CSR created and answered */
	PHONESIM_EVENT_STAGED,      /* count: STAGE_BEGIN accepted */
	PHONESIM_EVENT_COMMITTED,   /* count: COMMIT installed a certificate */
	PHONESIM_EVENT_ABORTED,     /* count: ABORT answered */
	PHONESIM_EVENT_ERROR,       /* count: ERROR frames sent */
	PHONESIM_EVENT_SELF_UNPLUG, /* count: unplug-at fired */
	PHONESIM_N_EVENTS,
} PhonesimEvent;

gboolean phonesim_event_from_name(const gchar *name, PhonesimEvent *event);
const gchar *phonesim_event_name(PhonesimEvent event);

/* called from any thread, no lock held: something a waiter may care about changed */
typedef void (*PhonesimPhoneChanged)(PhonesimPhone *phone, gpointer user);
/* called from any thread, no lock held: unplug-at fired, finish the unplug in the main thread */
typedef void (*PhonesimPhoneSelfUnplug)(PhonesimPhone *phone, gpointer user);

PhonesimPhone *phonesim_phone_new(PhonesimUsb *usb,
                                  const gchar *id,
                                  guint port_number,
                                  PhonesimState *state,
                                  const PhonesimConfig *config,
                                  PhonesimPhoneChanged changed,
                                  PhonesimPhoneSelfUnplug self_unplug,
                                  gpointer user,
                                  GError **error);
/* main thread: unplug, stop keygens, free */
void phonesim_phone_free(PhonesimPhone *phone);

const gchar *phonesim_phone_get_id(PhonesimPhone *phone);
guint phonesim_phone_get_port(PhonesimPhone *phone);

/* main thread */
gboolean phonesim_phone_plug(PhonesimPhone *phone, GError **error);
gboolean phonesim_phone_unplug(PhonesimPhone *phone, GError **error);
/* main thread: the sysfs half of an unplug the phone started itself */
void phonesim_phone_finish_self_unplug(PhonesimPhone *phone);

gboolean phonesim_phone_misbehave(PhonesimPhone *phone, const gchar *spec, GError **error);
/* replace the definition (serial, ...); applies at the next plug */
void phonesim_phone_set_config(PhonesimPhone *phone, const PhonesimConfig *config);

/* a state event holds / a count event reached count */
gboolean phonesim_phone_event_reached(PhonesimPhone *phone, PhonesimEvent event, guint count);

/* the phone's own view (see README.md for the fields) */
JsonNode *phonesim_phone_status_json(PhonesimPhone *phone);
gchar *phonesim_phone_status_text(PhonesimPhone *phone);
gboolean phonesim_phone_is_plugged(PhonesimPhone *phone);

/* log every frame in and out on stderr (all phones) */
void phonesim_phone_set_trace(gboolean trace);
