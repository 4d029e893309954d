/*
 * Desktop notifications (org.freedesktop.Notifications) when a phone needs
 * approval, is provisioned, or fails — only when a notification service is on
 * the session bus; otherwise nothing happens and nothing is logged above debug.
 */
#pragma once

#include <gio/gio.h>

#include "daemon/engine/ct-engine.h"

G_BEGIN_DECLS

typedef struct _CtdNotify CtdNotify;

CtdNotify *ctd_notify_new(GDBusConnection *connection, CtEngine *engine);
void ctd_notify_free(CtdNotify *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(CtdNotify, ctd_notify_free)

G_END_DECLS
