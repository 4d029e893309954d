/*
 * certtetherd's D-Bus face: exports the engine as org.certtether.Manager1 and
 * one org.certtether.Device1 object per phone (daemon/data/org.certtether.Daemon1.xml),
 * keeps their properties in step with the engine, and lets only the session's
 * own user call its methods (property reads are left to the bus policy, which on a
 * session bus admits no other user at all).
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-engine.h"

G_BEGIN_DECLS

#define CTD_DBUS_NAME         "org.certtether.Daemon1"
#define CTD_DBUS_PATH         "/org/certtether/Daemon1"
#define CTD_DBUS_DEVICES_PATH "/org/certtether/Daemon1/devices"

typedef struct _CtdDbus CtdDbus;

/* export on @connection; method calls reach @engine; @activity runs on every call */
CtdDbus *ctd_dbus_new(GDBusConnection *connection,
                      CtEngine *engine,
                      GCallback activity,
                      gpointer activity_data,
                      GError **error);
void ctd_dbus_free(CtdDbus *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtdDbus, ctd_dbus_free)

/* the object path of a device ("/org/certtether/Daemon1/devices/<id>") */
gchar *ctd_dbus_device_path(CtDevice *device);

G_END_DECLS
