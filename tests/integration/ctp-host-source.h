/*
 * A GSource that drives a ctp_host_context from a GLib main loop: the fds the
 * transport reports are polled, its timeout is the source's, and dispatch runs
 * ctp_host_context_dispatch(). This is how the engine is meant to integrate the
 * transport; the integration tests use it to run the transport the same way.
 */
#pragma once

#include <glib.h>

#include "usbproto/host/ctp-host.h"

/* ctx must outlive the source; destroy the source before ctp_host_context_free() */
GSource *ctp_host_source_new(ctp_host_context *ctx);
