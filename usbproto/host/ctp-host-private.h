/*
 * Internal state shared by the host transport's files (context, device, call).
 * Not installed, not for the engine.
 */
#pragma once

#include "usbproto/host/ctp-host-descriptor.h"
#include "usbproto/host/ctp-host.h"

#define CTP_HOST_COOKIE_SIZE     16u
#define CTP_HOST_MESSAGE_SIZE    512u
#define CTP_HOST_USB_STRING_SIZE 128u

/* one fd libusb asked us to poll */
typedef struct {
	int fd;
	short events;
	ctp_host_device *owner; /* the device whose usbfs node this is, or NULL */
	bool exported;          /* reported to the caller's added() */
} ctp_host_fd;

typedef struct ctp_host_hotplug_item {
	struct ctp_host_hotplug_item *next;
	ctp_host_hotplug_event event;
	libusb_device *usb_device; /* ref held */
	bool is_ctp;               /* ARRIVED: checked at once, the device may be gone later */
} ctp_host_hotplug_item;

/* a device reported ARRIVED and not yet LEFT */
typedef struct ctp_host_known {
	struct ctp_host_known *next;
	libusb_device *usb_device; /* ref held */
} ctp_host_known;

struct ctp_host_context {
	libusb_context *usb;
	ctp_host_log_func log_func;
	void *log_user_data;

	bool hotplug_started;
	libusb_hotplug_callback_handle hotplug_handle;
	ctp_host_hotplug_func hotplug_func;
	void *hotplug_user_data;
	ctp_host_hotplug_item *hotplug_head;
	ctp_host_hotplug_item *hotplug_tail;
	ctp_host_known *known;

	ctp_host_fd *fds;
	size_t n_fds;
	size_t fds_cap;
	ctp_host_fd_added_func fd_added;
	ctp_host_fd_removed_func fd_removed;
	void *fd_user_data;
	ctp_host_device *opening; /* fds libusb adds during libusb_open() are its */

	ctp_host_device *devices; /* open ones and closing ones */
	int work_pending;         /* set from libusb callbacks; libusb's 'completed' flag */
};

typedef enum {
	CTP_HOST_PHASE_IDLE,
	CTP_HOST_PHASE_RESYNC,  /* PING sent or awaited before the request */
	CTP_HOST_PHASE_REQUEST, /* the request sent or its answer awaited */
	CTP_HOST_PHASE_DONE,    /* finished, completion not yet delivered */
} ctp_host_phase;

typedef struct {
	ctp_host_phase phase;
	uint8_t type;
	uint16_t id;
	uint16_t ping_id;
	unsigned timeout_ms;
	unsigned resync_timeout_ms;
	uint64_t start_ms;
	uint64_t deadline_ms;
	uint64_t hard_deadline_ms; /* PROGRESS cannot push deadline_ms past this */
	unsigned stale_frames;
	unsigned resync_discarded;
	unsigned dropped_frames;
	ctp_result first_drop; /* why the first dropped transfer was dropped */
	bool cancel_requested;
	ctp_host_progress_func progress;
	ctp_host_done_func done;
	void *user_data;

	/* latest PROGRESS not yet delivered (coalesced) */
	bool progress_pending;
	unsigned progress_percent;
	char progress_text[CTP_MAX_PROGRESS_TEXT + 1];

	/* the outcome, valid from DONE until the next call */
	ctp_host_reply reply;
	ctp_message response;
	char message[CTP_HOST_MESSAGE_SIZE];
	uint8_t clear_halt_ep; /* endpoint to clear before delivering a STALL, or 0 */
} ctp_host_call;

struct ctp_host_device {
	ctp_host_device *next;
	ctp_host_context *ctx;
	libusb_device *usb_device; /* ref held */
	libusb_device_handle *handle;
	ctp_host_interface iface;
	bool claimed;
	bool detached_kernel_driver;
	bool gone;
	bool closing;
	bool needs_resync;

	uint16_t vendor_id;
	uint16_t product_id;
	char manufacturer[CTP_HOST_USB_STRING_SIZE];
	char product[CTP_HOST_USB_STRING_SIZE];
	char serial[CTP_HOST_USB_STRING_SIZE];
	char port_path[32];

	struct libusb_transfer *out_xfer;
	struct libusb_transfer *in_xfer;
	bool out_busy;    /* libusb owns out_xfer */
	bool in_busy;     /* libusb owns in_xfer */
	uint8_t *out_buf; /* the encoded request, CTP_MAX_FRAME */
	size_t out_len;
	uint8_t *in_buf; /* one transfer from the device, CTP_MAX_FRAME */
	uint8_t ping_buf[CTP_HEADER_SIZE + 8 + CTP_HOST_COOKIE_SIZE];
	size_t ping_len;
	uint8_t cookie[CTP_HOST_COOKIE_SIZE];
	uint16_t last_id;
	uint32_t peer_max_frame; /* from the last HELLO_RSP; CTP_MIN_DEVICE_FRAME before */

	ctp_host_call call;
};

/* ctp-host-context.c */
void ctp_host_log(ctp_host_context *ctx, ctp_host_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* bring the caller's fd set in line with which devices have transfers pending */
void ctp_host_fd_sync(ctp_host_context *ctx);
/* forget fds owned by dev (before it is freed) */
void ctp_host_fd_disown(ctp_host_context *ctx, ctp_host_device *dev);
uint64_t ctp_host_now_ms(void);
void ctp_host_random(void *buf, size_t len);
void ctp_host_describe_usb(libusb_device *usb_device, ctp_host_device_info *info);

/* ctp-host-device.c */
/* free a closing device once libusb owns none of its transfers; true if it was freed */
bool ctp_host_device_reap(ctp_host_device *dev);
void ctp_host_device_mark_gone(ctp_host_context *ctx, libusb_device *usb_device);

/* ctp-host-call.c */
/* deliver dev's queued progress and completion; false if nothing was queued */
bool ctp_host_call_deliver(ctp_host_device *dev);
bool ctp_host_call_has_pending(const ctp_host_device *dev);
/* ctp_host_status for a libusb_error */
ctp_host_status ctp_host_status_from_libusb(int error);
