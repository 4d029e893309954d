/*
 * The host transport's libusb context: hotplug (queued, matched by interface
 * triple, delivered outside libusb's event handling), the fd set for the
 * caller's main loop, and dispatch.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "usbproto/host/ctp-host-private.h"

void
ctp_host_log(ctp_host_context *ctx, ctp_host_log_level level, const char *fmt, ...)
{
	char line[640];
	va_list ap;

	if (ctx == NULL || ctx->log_func == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	ctx->log_func(level, line, ctx->log_user_data);
}

uint64_t
ctp_host_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void
ctp_host_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom(p + done, len - done, GRND_NONBLOCK);
		if (n > 0) {
			done += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		break;
	}
	/* ids and cookies only need to differ between sessions, not be secret */
	for (uint64_t x = ctp_host_now_ms() * 0x9e3779b97f4a7c15u; done < len; done++) {
		x ^= x >> 29;
		x *= 0xbf58476d1ce4e5b9u;
		p[done] = (uint8_t)(x >> 56);
	}
}

void
ctp_host_describe_usb(libusb_device *usb_device, ctp_host_device_info *info)
{
	struct libusb_device_descriptor desc;
	uint8_t ports[8];
	int n;
	size_t used;

	memset(info, 0, sizeof(*info));
	info->usb_device = usb_device;
	info->bus = libusb_get_bus_number(usb_device);
	info->address = libusb_get_device_address(usb_device);
	if (libusb_get_device_descriptor(usb_device, &desc) == 0) {
		info->vendor_id = desc.idVendor;
		info->product_id = desc.idProduct;
	}
	/* "bus-port.port.port", as the kernel names the device in sysfs */
	used = (size_t)snprintf(info->port_path, sizeof(info->port_path), "%u", info->bus);
	n = libusb_get_port_numbers(usb_device, ports, (int)sizeof(ports));
	for (int i = 0; i < n && used < sizeof(info->port_path); i++) {
		used += (size_t)snprintf(info->port_path + used, sizeof(info->port_path) - used,
		                         "%c%u", i == 0 ? '-' : '.', ports[i]);
	}
}

/* ---- fds ----------------------------------------------------------------- */

static bool
fd_wanted(const ctp_host_fd *f)
{
	/* a device node can only become ready when one of its transfers completes;
	 * emulated nodes (umockdev) poll as always writable, so an idle one would spin */
	if (f->owner == NULL)
		return true;
	return f->owner->out_busy || f->owner->in_busy;
}

void
ctp_host_fd_sync(ctp_host_context *ctx)
{
	for (size_t i = 0; i < ctx->n_fds; i++) {
		ctp_host_fd *f = &ctx->fds[i];
		bool want = fd_wanted(f);

		if (want == f->exported)
			continue;
		f->exported = want;
		if (want && ctx->fd_added != NULL)
			ctx->fd_added(f->fd, f->events, ctx->fd_user_data);
		else if (!want && ctx->fd_removed != NULL)
			ctx->fd_removed(f->fd, ctx->fd_user_data);
	}
}

void
ctp_host_fd_disown(ctp_host_context *ctx, ctp_host_device *dev)
{
	for (size_t i = 0; i < ctx->n_fds; i++) {
		if (ctx->fds[i].owner == dev)
			ctx->fds[i].owner = NULL;
	}
}

static void
fd_add(ctp_host_context *ctx, int fd, short events, ctp_host_device *owner)
{
	if (ctx->n_fds == ctx->fds_cap) {
		size_t cap = ctx->fds_cap == 0 ? 8 : ctx->fds_cap * 2;
		ctp_host_fd *fds = realloc(ctx->fds, cap * sizeof(*fds));
		if (fds == NULL) {
			ctp_host_log(ctx, CTP_HOST_LOG_WARNING,
			             "out of memory: cannot watch libusb fd %d", fd);
			return;
		}
		ctx->fds = fds;
		ctx->fds_cap = cap;
	}
	ctx->fds[ctx->n_fds++] = (ctp_host_fd){.fd = fd, .events = events, .owner = owner};
}

static void LIBUSB_CALL
on_libusb_fd_added(int fd, short events, void *user_data)
{
	ctp_host_context *ctx = user_data;

	/* libusb adds a device's node from inside libusb_open(), which only
	 * ctp_host_device_open() calls: that is how we know whose fd it is */
	fd_add(ctx, fd, events, ctx->opening);
	ctp_host_fd_sync(ctx);
}

static void LIBUSB_CALL
on_libusb_fd_removed(int fd, void *user_data)
{
	ctp_host_context *ctx = user_data;

	for (size_t i = 0; i < ctx->n_fds; i++) {
		if (ctx->fds[i].fd != fd)
			continue;
		if (ctx->fds[i].exported && ctx->fd_removed != NULL)
			ctx->fd_removed(fd, ctx->fd_user_data);
		ctx->fds[i] = ctx->fds[--ctx->n_fds];
		return;
	}
}

void
ctp_host_context_watch_fds(ctp_host_context *ctx,
                           ctp_host_fd_added_func added,
                           ctp_host_fd_removed_func removed,
                           void *user_data)
{
	ctx->fd_added = added;
	ctx->fd_removed = removed;
	ctx->fd_user_data = user_data;
	for (size_t i = 0; i < ctx->n_fds; i++)
		ctx->fds[i].exported = false;
	ctp_host_fd_sync(ctx);
}

/* ---- hotplug ------------------------------------------------------------- */

static bool
config_has_ctp_interface(struct libusb_config_descriptor *config)
{
	ctp_host_interface iface;
	bool found = ctp_host_find_interface(config, &iface);

	libusb_free_config_descriptor(config);
	return found;
}

static bool
has_ctp_interface(libusb_device *usb_device)
{
	struct libusb_config_descriptor *config = NULL;
	struct libusb_device_descriptor desc;

	if (libusb_get_active_config_descriptor(usb_device, &config) == 0)
		return config_has_ctp_interface(config);
	/* the active configuration is read from sysfs, which is gone once the device is:
	 * libusb's cached descriptors still tell what it was (ARRIVED + LEFT both count) */
	if (libusb_get_device_descriptor(usb_device, &desc) != 0)
		return false;
	for (uint8_t i = 0; i < desc.bNumConfigurations; i++) {
		if (libusb_get_config_descriptor(usb_device, i, &config) == 0 &&
		    config_has_ctp_interface(config))
			return true;
	}
	return false;
}

/* runs inside libusb's event handling: only look and queue, never open or call back */
static int LIBUSB_CALL
on_libusb_hotplug(libusb_context *usb,
                  libusb_device *usb_device,
                  libusb_hotplug_event event,
                  void *user_data)
{
	ctp_host_context *ctx = user_data;
	ctp_host_hotplug_item *item;

	(void)usb;
	item = calloc(1, sizeof(*item));
	if (item == NULL)
		return 0; /* the device will be missed; nothing better to do here */
	item->event = event == LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED ? CTP_HOST_DEVICE_ARRIVED
	                                                           : CTP_HOST_DEVICE_LEFT;
	item->usb_device = libusb_ref_device(usb_device);
	/* descriptors only, no I/O on the device */
	if (item->event == CTP_HOST_DEVICE_ARRIVED)
		item->is_ctp = has_ctp_interface(usb_device);
	if (ctx->hotplug_tail != NULL)
		ctx->hotplug_tail->next = item;
	else
		ctx->hotplug_head = item;
	ctx->hotplug_tail = item;
	ctx->work_pending = 1;
	return 0;
}

static ctp_host_known **
known_find(ctp_host_context *ctx, libusb_device *usb_device)
{
	for (ctp_host_known **k = &ctx->known; *k != NULL; k = &(*k)->next) {
		if ((*k)->usb_device == usb_device)
			return k;
	}
	return NULL;
}

static void
deliver_hotplug(ctp_host_context *ctx, ctp_host_hotplug_item *item)
{
	ctp_host_device_info info;
	ctp_host_known **found = known_find(ctx, item->usb_device);

	ctp_host_describe_usb(item->usb_device, &info);
	if (item->event == CTP_HOST_DEVICE_ARRIVED) {
		ctp_host_known *k;

		if (found != NULL)
			return; /* enumerated and hotplugged at once: report once */
		if (!item->is_ctp) {
			ctp_host_log(ctx, CTP_HOST_LOG_DEBUG,
			             "USB device %04x:%04x at %s has no certtether interface",
			             info.vendor_id, info.product_id, info.port_path);
			return;
		}
		k = calloc(1, sizeof(*k));
		if (k == NULL) {
			ctp_host_log(ctx, CTP_HOST_LOG_WARNING,
			             "out of memory: ignoring the device at %s", info.port_path);
			return;
		}
		k->usb_device = libusb_ref_device(item->usb_device);
		k->next = ctx->known;
		ctx->known = k;
		ctp_host_log(ctx, CTP_HOST_LOG_INFO,
		             "certtether device arrived at %s (USB %04x:%04x, bus %u address %u)",
		             info.port_path, info.vendor_id, info.product_id, info.bus,
		             info.address);
	} else {
		ctp_host_known *k;

		/* open handles learn it even if the device was never reported */
		ctp_host_device_mark_gone(ctx, item->usb_device);
		if (found == NULL)
			return;
		k = *found;
		*found = k->next;
		libusb_unref_device(k->usb_device);
		free(k);
		ctp_host_log(ctx, CTP_HOST_LOG_INFO, "certtether device left %s", info.port_path);
	}
	if (ctx->hotplug_func != NULL)
		ctx->hotplug_func(ctx, item->event, &info, ctx->hotplug_user_data);
}

ctp_host_status
ctp_host_context_start_hotplug(ctp_host_context *ctx,
                               unsigned flags,
                               ctp_host_hotplug_func func,
                               void *user_data)
{
	int r;

	if (ctx == NULL || ctx->hotplug_started)
		return CTP_HOST_INVALID_ARGUMENT;
	if (!libusb_has_capability(LIBUSB_CAP_HAS_HOTPLUG)) {
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING, "libusb has no hotplug support here");
		return CTP_HOST_NOT_SUPPORTED;
	}
	ctx->hotplug_func = func;
	ctx->hotplug_user_data = user_data;
	/* a filter cannot express an interface triple: take every device, check later */
	r = libusb_hotplug_register_callback(
	    ctx->usb, LIBUSB_HOTPLUG_EVENT_DEVICE_ARRIVED | LIBUSB_HOTPLUG_EVENT_DEVICE_LEFT,
	    (flags & CTP_HOST_HOTPLUG_ENUMERATE) != 0 ? LIBUSB_HOTPLUG_ENUMERATE : 0,
	    LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY, LIBUSB_HOTPLUG_MATCH_ANY,
	    on_libusb_hotplug, ctx, &ctx->hotplug_handle);
	if (r != LIBUSB_SUCCESS) {
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING, "cannot register for USB hotplug: %s",
		             libusb_error_name(r));
		return ctp_host_status_from_libusb(r);
	}
	ctx->hotplug_started = true;
	return CTP_HOST_OK;
}

/* ---- lifetime ------------------------------------------------------------ */

ctp_host_status
ctp_host_context_new(ctp_host_log_func log_func, void *log_user_data, ctp_host_context **out)
{
	ctp_host_context *ctx;
	const struct libusb_pollfd **pollfds;
	int r;

	*out = NULL;
	ctx = calloc(1, sizeof(*ctx));
	if (ctx == NULL)
		return CTP_HOST_NO_MEMORY;
	ctx->log_func = log_func;
	ctx->log_user_data = log_user_data;
	r = libusb_init(&ctx->usb);
	if (r != LIBUSB_SUCCESS) {
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING, "libusb_init failed: %s",
		             libusb_error_name(r));
		free(ctx);
		return ctp_host_status_from_libusb(r);
	}
	pollfds = libusb_get_pollfds(ctx->usb);
	for (size_t i = 0; pollfds != NULL && pollfds[i] != NULL; i++)
		fd_add(ctx, pollfds[i]->fd, pollfds[i]->events, NULL);
	libusb_free_pollfds(pollfds);
	libusb_set_pollfd_notifiers(ctx->usb, on_libusb_fd_added, on_libusb_fd_removed, ctx);
	*out = ctx;
	return CTP_HOST_OK;
}

libusb_context *
ctp_host_context_get_libusb(ctp_host_context *ctx)
{
	return ctx->usb;
}

static bool
has_queued_work(ctp_host_context *ctx)
{
	if (ctx->hotplug_head != NULL)
		return true;
	for (ctp_host_device *dev = ctx->devices; dev != NULL; dev = dev->next) {
		if (ctp_host_call_has_pending(dev))
			return true;
		if (dev->closing && !dev->out_busy && !dev->in_busy)
			return true;
	}
	return false;
}

int
ctp_host_context_get_timeout_ms(ctp_host_context *ctx)
{
	struct timeval tv;

	if (has_queued_work(ctx))
		return 0;
	if (libusb_get_next_timeout(ctx->usb, &tv) == 1) {
		uint64_t ms = (uint64_t)tv.tv_sec * 1000u + ((uint64_t)tv.tv_usec + 999u) / 1000u;
		return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
	}
	return -1; /* Linux: libusb's timerfd is one of the fds */
}

/* everything queued since the last call: hotplug first, then each device's results */
static void
deliver_queued(ctp_host_context *ctx)
{
	bool again = true;

	ctx->work_pending = 0;
	while (ctx->hotplug_head != NULL) {
		ctp_host_hotplug_item *item = ctx->hotplug_head;

		ctx->hotplug_head = item->next;
		if (ctx->hotplug_head == NULL)
			ctx->hotplug_tail = NULL;
		deliver_hotplug(ctx, item);
		libusb_unref_device(item->usb_device);
		free(item);
	}
	/* a callback may open or close devices: rescan after each delivery */
	while (again) {
		again = false;
		for (ctp_host_device *dev = ctx->devices; dev != NULL; dev = dev->next) {
			if (ctp_host_device_reap(dev) || ctp_host_call_deliver(dev)) {
				again = true;
				break;
			}
		}
	}
	ctp_host_fd_sync(ctx);
}

ctp_host_status
ctp_host_context_dispatch(ctp_host_context *ctx)
{
	struct timeval zero = {0, 0};
	ctp_host_status status = CTP_HOST_OK;
	int r;

	r = libusb_handle_events_timeout_completed(ctx->usb, &zero, NULL);
	if (r != LIBUSB_SUCCESS && r != LIBUSB_ERROR_INTERRUPTED) {
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING, "libusb event handling failed: %s",
		             libusb_error_name(r));
		status = CTP_HOST_IO;
	}
	deliver_queued(ctx);
	return status;
}

ctp_host_status
ctp_host_context_iterate(ctp_host_context *ctx, int timeout_ms)
{
	struct timeval tv = {0, 0};
	ctp_host_status status = CTP_HOST_OK;
	int r;

	if (!has_queued_work(ctx)) {
		/* libusb waits one poll round at most; an hour stands for "no limit" */
		long ms = timeout_ms < 0 ? 3600L * 1000 : timeout_ms;
		tv.tv_sec = ms / 1000;
		tv.tv_usec = (ms % 1000) * 1000;
	}
	ctx->work_pending = 0;
	r = libusb_handle_events_timeout_completed(ctx->usb, &tv, &ctx->work_pending);
	if (r != LIBUSB_SUCCESS && r != LIBUSB_ERROR_INTERRUPTED) {
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING, "libusb event handling failed: %s",
		             libusb_error_name(r));
		status = CTP_HOST_IO;
	}
	deliver_queued(ctx);
	return status;
}

void
ctp_host_context_free(ctp_host_context *ctx)
{
	uint64_t give_up;

	if (ctx == NULL)
		return;
	/* nobody is listening any more */
	ctx->hotplug_func = NULL;
	ctx->fd_added = NULL;
	ctx->fd_removed = NULL;
	if (ctx->hotplug_started)
		libusb_hotplug_deregister_callback(ctx->usb, ctx->hotplug_handle);
	/* closing may free the device at once: rescan after each */
	for (ctp_host_device *dev = ctx->devices; dev != NULL;) {
		if (dev->closing) {
			dev = dev->next;
			continue;
		}
		ctp_host_device_close(dev);
		dev = ctx->devices;
	}
	/* cancelled transfers must call back before their memory can go */
	give_up = ctp_host_now_ms() + 5000u;
	while (ctx->devices != NULL) {
		struct timeval tv = {0, 100000};

		deliver_queued(ctx);
		if (ctx->devices == NULL || ctp_host_now_ms() > give_up)
			break;
		libusb_handle_events_timeout_completed(ctx->usb, &tv, NULL);
	}
	if (ctx->devices != NULL) {
		/* never free what libusb still owns: leak it and keep libusb alive */
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING,
		             "USB transfers did not finish within 5 s of shutdown; leaking them");
		return;
	}
	while (ctx->hotplug_head != NULL) {
		ctp_host_hotplug_item *item = ctx->hotplug_head;
		ctx->hotplug_head = item->next;
		libusb_unref_device(item->usb_device);
		free(item);
	}
	while (ctx->known != NULL) {
		ctp_host_known *k = ctx->known;
		ctx->known = k->next;
		libusb_unref_device(k->usb_device);
		free(k);
	}
	libusb_set_pollfd_notifiers(ctx->usb, NULL, NULL, NULL);
	libusb_exit(ctx->usb);
	free(ctx->fds);
	free(ctx);
}
