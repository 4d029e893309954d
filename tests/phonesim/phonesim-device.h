/*
 * phonesim firmware: the device-specific work behind the CTP device session library
 * (usbproto/device), done with OpenSSL: identity signature, on-device key generation
 * and PKCS#10 requests in worker threads with PROGRESS, staging, chain verification
 * and the atomic install into the phone's persistent state.
 */
#pragma once

#include <glib.h>

#include "tests/phonesim/phonesim-misbehave.h"
#include "tests/phonesim/phonesim-state.h"
#include "usbproto/device/ctp-device-session.h"

typedef struct _PhonesimDevice PhonesimDevice;

/* how the firmware reaches the rest of the phone */
typedef struct {
	/* lock held: queue one frame on bulk IN */
	void (*send)(gpointer user, const guint8 *frame, gsize len);
	/* take / drop the phone's lock (keygen threads and PROGRESS timers) */
	void (*lock)(gpointer user);
	void (*unlock)(gpointer user);
} PhonesimDeviceHooks;

/*
 * state is taken over; config and misbehave are borrowed and read under the lock.
 * Call phonesim_device_attach() before the session sees its first frame.
 */
PhonesimDevice *phonesim_device_new(PhonesimState *state,
                                    const PhonesimConfig *config,
                                    const PhonesimMisbehave *misbehave,
                                    const PhonesimDeviceHooks *hooks,
                                    gpointer user);

/* the ops table for ctp_device_session_init(), user = the device */
const ctp_device_ops *phonesim_device_get_ops(void);
void phonesim_device_attach(PhonesimDevice *device, ctp_device_session *session);

/* lock NOT held: stop the keygen threads and timers, wait for them */
void phonesim_device_shutdown(PhonesimDevice *device);
void phonesim_device_free(PhonesimDevice *device);

/* lock held: the persistent state, for status reports */
PhonesimState *phonesim_device_get_state(PhonesimDevice *device);
