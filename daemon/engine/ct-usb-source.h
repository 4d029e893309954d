/*
 * A GSource that drives the CTP host transport from a GLib main loop: the fds
 * the transport reports are polled, its timeout is the source's, and dispatch
 * runs ctp_host_context_dispatch(). No thread and no polling timer: an idle
 * daemon sleeps in poll() until libusb's hotplug fd or a transfer wakes it.
 */
#pragma once

#include <glib.h>

#include "usbproto/host/ctp-host.h"

G_BEGIN_DECLS

/* ctx must outlive the source; destroy the source before ctp_host_context_free() */
GSource *ct_usb_source_new(ctp_host_context *ctx);

G_END_DECLS
