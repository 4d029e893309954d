/*
 * CTP host transport: finds CTP devices over libusb-1.0 and runs one
 * request/response exchange at a time with each of them.
 *
 * No threads and no GLib: the caller owns the main loop. Integration into a
 * poll()-style loop (a GSource in the engine):
 *
 *   prepare: timeout = ctp_host_context_get_timeout_ms(ctx)   (0: ready now, -1: none)
 *   poll:    the fds reported by ctp_host_context_watch_fds() (added/removed callbacks)
 *   check:   any of those fds has revents, or the timeout above was 0
 *   dispatch: ctp_host_context_dispatch(ctx)
 *
 * Every user callback (hotplug, progress, completion) is invoked from
 * ctp_host_context_dispatch() or ctp_host_context_iterate(), never from inside
 * libusb's event handling, so a callback may open, call, cancel and close
 * devices. No callback runs from inside another API call.
 *
 * Security: a device is untrusted. Every frame it sends is bounded
 * (CTP_MAX_FRAME) and validated by the codec before anything reads it; a
 * misbehaving device fails its own calls and nothing else.
 */
#pragma once

#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>

#include "usbproto/codec/ctp-message.h"

typedef struct ctp_host_context ctp_host_context;
typedef struct ctp_host_device ctp_host_device;

typedef enum {
	CTP_HOST_OK = 0,
	CTP_HOST_NO_DEVICE,        /* unplugged (or gone before it could be opened) */
	CTP_HOST_STALL,            /* an endpoint stalled; the halt was cleared once */
	CTP_HOST_TIMEOUT,          /* no answer (and no PROGRESS) within the request's timeout */
	CTP_HOST_PROTOCOL,         /* the device sent something that is not a valid answer */
	CTP_HOST_DEVICE_ERROR,     /* the device answered ERROR (code + text) */
	CTP_HOST_CANCELLED,        /* ctp_host_device_cancel() */
	CTP_HOST_IO,               /* any other USB transfer failure */
	CTP_HOST_BUSY,             /* a call is already in flight on this device */
	CTP_HOST_INVALID_ARGUMENT, /* the request cannot be encoded, or is not a request */
	CTP_HOST_ACCESS,           /* no permission to open the device node */
	CTP_HOST_NOT_SUPPORTED,    /* no CTP interface, or no hotplug support in libusb */
	CTP_HOST_INTERFACE_BUSY,   /* another program has claimed the CTP interface */
	CTP_HOST_TOO_LARGE,        /* the request exceeds the device's max_frame */
	CTP_HOST_NO_MEMORY,
} ctp_host_status;

/* a short actionable sentence, e.g. "the device was unplugged: plug it in again" */
const char *ctp_host_status_to_string(ctp_host_status status);
/* "OK", "NO_DEVICE", ... for logs and JSON */
const char *ctp_host_status_to_name(ctp_host_status status);

/* ---- logging ------------------------------------------------------------ */

typedef enum {
	CTP_HOST_LOG_DEBUG,
	CTP_HOST_LOG_INFO,
	CTP_HOST_LOG_WARNING,
} ctp_host_log_level;

/* one line, no trailing newline; never contains frame contents */
typedef void (*ctp_host_log_func)(ctp_host_log_level level, const char *message, void *user_data);

/* ---- context ------------------------------------------------------------ */

typedef enum {
	CTP_HOST_DEVICE_ARRIVED,
	CTP_HOST_DEVICE_LEFT,
} ctp_host_hotplug_event;

/* where a device is; VID:PID is a hint for logs, never a match rule */
typedef struct {
	libusb_device *usb_device; /* valid during the callback; ctp_host_device_open() it */
	uint8_t bus;
	uint8_t address;
	uint16_t vendor_id;
	uint16_t product_id;
	char port_path[32]; /* "1-1.2" */
} ctp_host_device_info;

/*
 * ARRIVED: a device with a CTP interface (class/subclass/protocol triple in
 * any of its configurations) was plugged in. It may be gone again by the time
 * the event is delivered: open then fails with CTP_HOST_NO_DEVICE and LEFT
 * follows. LEFT: a device reported ARRIVED has gone; a ctp_host_device open on
 * it fails its calls with CTP_HOST_NO_DEVICE from now on (close it). Each
 * device is reported ARRIVED once, even if enumeration and hotplug overlap.
 */
typedef void (*ctp_host_hotplug_func)(ctp_host_context *ctx,
                                      ctp_host_hotplug_event event,
                                      const ctp_host_device_info *info,
                                      void *user_data);

typedef void (*ctp_host_fd_added_func)(int fd, short events, void *user_data);
typedef void (*ctp_host_fd_removed_func)(int fd, void *user_data);

enum {
	/* also report the devices already plugged in when hotplug starts */
	CTP_HOST_HOTPLUG_ENUMERATE = 1u << 0,
};

/* libusb_init; log_func may be NULL (then nothing is logged) */
ctp_host_status
ctp_host_context_new(ctp_host_log_func log_func, void *log_user_data, ctp_host_context **out);

/*
 * Closes every device still open (their callbacks are not called), waits for
 * transfers libusb still owns (at most 5 s; what is still owned then is leaked,
 * never freed under libusb), then libusb_exit. Stop watching the fds (destroy
 * the GSource) first. NULL is allowed.
 */
void ctp_host_context_free(ctp_host_context *ctx);

libusb_context *ctp_host_context_get_libusb(ctp_host_context *ctx);

/*
 * Start hotplug monitoring. Events (including the ENUMERATE ones) are queued and
 * delivered by the next dispatch/iterate. Call once.
 */
ctp_host_status ctp_host_context_start_hotplug(ctp_host_context *ctx,
                                               unsigned flags,
                                               ctp_host_hotplug_func func,
                                               void *user_data);

/*
 * Report the fds to poll: added() is called at once for each current fd, then
 * whenever the set changes (from inside ctp_host_context_dispatch(), open, close
 * or call). A device's own fd is in the set only while a transfer is pending
 * on it (nothing can complete otherwise; this keeps an idle loop idle). Either
 * callback may be NULL; call again with NULLs to stop reporting.
 */
void ctp_host_context_watch_fds(ctp_host_context *ctx,
                                ctp_host_fd_added_func added,
                                ctp_host_fd_removed_func removed,
                                void *user_data);

/* milliseconds until dispatch is needed without fd activity: 0 now, -1 never */
int ctp_host_context_get_timeout_ms(ctp_host_context *ctx);

/*
 * Non-blocking: handle libusb events (zero timeout), then invoke the queued
 * callbacks. Returns CTP_HOST_OK or CTP_HOST_IO if libusb's event handling
 * failed (logged).
 */
ctp_host_status ctp_host_context_dispatch(ctp_host_context *ctx);

/*
 * Blocking, for tools and tests without a main loop: wait up to timeout_ms
 * (-1: until something happens) for libusb events, then dispatch.
 */
ctp_host_status ctp_host_context_iterate(ctp_host_context *ctx, int timeout_ms);

/* ---- device ------------------------------------------------------------- */

/*
 * Open the CTP interface of usb_device: find the interface by its triple in the
 * active configuration, its bulk IN and OUT endpoints, detach a kernel driver,
 * claim it, read the USB strings. Blocking (a few control transfers): call it
 * from a callback or the main loop, never from a libusb callback.
 */
ctp_host_status
ctp_host_device_open(ctp_host_context *ctx, libusb_device *usb_device, ctp_host_device **out);

/*
 * Cancel what is pending (the completion callback is NOT called), release the
 * interface and free. Transfers libusb still owns are reaped by a later
 * dispatch/iterate (or ctp_host_context_free) before the memory goes.
 * Safe from any callback. NULL is allowed.
 */
void ctp_host_device_close(ctp_host_device *dev);

libusb_device *ctp_host_device_get_usb_device(ctp_host_device *dev);
/* USB string descriptors, sanitised to printable ASCII; "" when absent */
const char *ctp_host_device_get_manufacturer(ctp_host_device *dev);
const char *ctp_host_device_get_product(ctp_host_device *dev);
const char *ctp_host_device_get_serial(ctp_host_device *dev);
const char *ctp_host_device_get_port_path(ctp_host_device *dev);
uint16_t ctp_host_device_get_vendor_id(ctp_host_device *dev);
uint16_t ctp_host_device_get_product_id(ctp_host_device *dev);
uint8_t ctp_host_device_get_interface_number(ctp_host_device *dev);
/* true from the LEFT event (or a NO_DEVICE transfer) on */
bool ctp_host_device_is_gone(ctp_host_device *dev);
/* true while a call is in flight (until its completion callback has returned) */
bool ctp_host_device_is_busy(ctp_host_device *dev);

/* ---- calls -------------------------------------------------------------- */

/*
 * The outcome of one call, passed to the completion callback.
 *
 * Valid only during the callback: response, message and every ctp_bytes view
 * inside response point into the device's buffers, which the next call reuses.
 * Copy what you keep.
 */
typedef struct {
	ctp_host_status status;
	/* CTP_MSG_* of the call, and the request id the transport assigned */
	uint8_t request_type;
	uint16_t request_id;
	/* OK: the decoded response; DEVICE_ERROR: the decoded ERROR; else NULL */
	const ctp_message *response;
	/* DEVICE_ERROR: CTP_ERR_* */
	uint16_t device_error;
	/* PROTOCOL: the codec's verdict on the offending frame (CTP_OK when it decoded
	 * but did not answer the request) */
	ctp_result codec_result;
	/* the PING before the request failed: PROTOCOL.md 2.3 says give up on the
	 * device (close it; the user re-plugs it) */
	bool resync_failed;
	/* this call resynchronised the device first (after open or an abnormal end) */
	bool resynchronised;
	/* IO/STALL/NO_DEVICE/TIMEOUT: the libusb_transfer_status or libusb_error */
	int usb_error;
	/* valid frames for other request ids, and transfers that were no valid frame:
	 * both dropped */
	unsigned stale_frames;
	unsigned dropped_frames;
	/* from submission to completion, resync included */
	unsigned elapsed_ms;
	/* one sentence with the details; never NULL, never frame bytes */
	const char *message;
} ctp_host_reply;

/* PROGRESS from the device: percent 0..100, text sanitised ("" if none); the timeout restarts */
typedef void (*ctp_host_progress_func)(ctp_host_device *dev,
                                       unsigned percent,
                                       const char *text,
                                       void *user_data);
typedef void (*ctp_host_done_func)(ctp_host_device *dev,
                                   const ctp_host_reply *reply,
                                   void *user_data);

/*
 * Send request (its request_id is ignored: the transport assigns one) and wait
 * asynchronously for the response with the same id. The request is encoded
 * before this returns, so its views need not outlive the call.
 *
 * timeout_ms: 0 = CTP_TIMEOUT_CREATE_CSR_MS for CREATE_CSR, else
 * CTP_TIMEOUT_DEFAULT_MS. Each PROGRESS with the call's id restarts it, up to
 * a total of CTP_HOST_MAX_TIMEOUT_FACTOR times the timeout.
 *
 * Frames are handled as PROTOCOL.md 2.2/2.3 say: a transfer that is not one
 * valid frame (or has an unknown type) is dropped and the timer runs on; if
 * it expires, the call ends with PROTOCOL rather than TIMEOUT, codec_result
 * telling why the first one was dropped. A valid frame with another id is
 * stale and dropped. A frame with the call's id whose payload is invalid, or
 * that does not answer the request, ends the call with PROTOCOL at once. More
 * than CTP_HOST_MAX_JUNK_FRAMES dropped and stale frames end it with PROTOCOL.
 *
 * The first call after open, and the first after a call that ended abnormally
 * (TIMEOUT, PROTOCOL, STALL, IO, CANCELLED), resynchronises first: PING with a
 * fresh id and a random cookie, frames discarded until its PING_RSP (2.3),
 * waiting at most min(timeout, CTP_TIMEOUT_DEFAULT_MS). A failure there
 * completes this call with resync_failed set.
 *
 * The encoded request must fit the device's max_frame (from the last
 * successful HELLO on this device; 4096 bytes before one): else
 * CTP_HOST_TOO_LARGE.
 *
 * Returns CTP_HOST_OK if the call is in flight: done (required) will then be
 * called exactly once, from a later dispatch, unless the device is closed
 * first. Any other return: nothing was started, no callback follows.
 */
ctp_host_status ctp_host_device_call(ctp_host_device *dev,
                                     const ctp_message *request,
                                     unsigned timeout_ms,
                                     ctp_host_progress_func progress,
                                     ctp_host_done_func done,
                                     void *user_data);

/* the call in flight completes with CTP_HOST_CANCELLED (unless it already completed) */
void ctp_host_device_cancel(ctp_host_device *dev);

/*
 * Synchronous convenience for tools and tests: runs ctp_host_context_iterate()
 * until the call completes (other callbacks of the context keep being
 * delivered meanwhile). *reply (and the response and message it points to) stays
 * valid until the next call on dev or its close. Do not use it from inside a
 * callback of the same device. Returns reply->status.
 */
ctp_host_status ctp_host_device_call_sync(ctp_host_device *dev,
                                          const ctp_message *request,
                                          unsigned timeout_ms,
                                          ctp_host_progress_func progress,
                                          void *user_data,
                                          ctp_host_reply *reply);

/* no call lasts longer than this many times its timeout, whatever PROGRESS says */
#define CTP_HOST_MAX_TIMEOUT_FACTOR 10u
/* a call ends with PROTOCOL after more dropped and stale frames than this */
#define CTP_HOST_MAX_JUNK_FRAMES 64u

/* the timeout a call of this type gets when timeout_ms is 0 */
unsigned ctp_host_default_timeout_ms(uint8_t request_type);
