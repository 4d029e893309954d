/*
 * Opening and closing one CTP device: interface by triple, claim, USB strings,
 * and a close that never frees a transfer libusb still owns.
 */
#include <stdlib.h>
#include <string.h>

#include "usbproto/host/ctp-host-match.h"
#include "usbproto/host/ctp-host-private.h"

ctp_host_status
ctp_host_status_from_libusb(int error)
{
	switch (error) {
	case LIBUSB_SUCCESS:
		return CTP_HOST_OK;
	case LIBUSB_ERROR_NO_DEVICE:
	case LIBUSB_ERROR_NOT_FOUND:
		return CTP_HOST_NO_DEVICE;
	case LIBUSB_ERROR_ACCESS:
		return CTP_HOST_ACCESS;
	case LIBUSB_ERROR_BUSY:
		return CTP_HOST_INTERFACE_BUSY;
	case LIBUSB_ERROR_TIMEOUT:
		return CTP_HOST_TIMEOUT;
	case LIBUSB_ERROR_PIPE:
		return CTP_HOST_STALL;
	case LIBUSB_ERROR_NO_MEM:
		return CTP_HOST_NO_MEMORY;
	case LIBUSB_ERROR_NOT_SUPPORTED:
		return CTP_HOST_NOT_SUPPORTED;
	case LIBUSB_ERROR_INVALID_PARAM:
		return CTP_HOST_INVALID_ARGUMENT;
	default:
		return CTP_HOST_IO;
	}
}

static void
read_usb_string(ctp_host_device *dev, uint8_t index, const char *what, char *buf, size_t size)
{
	unsigned char raw[CTP_HOST_USB_STRING_SIZE];
	int n;

	buf[0] = '\0';
	if (index == 0)
		return;
	n = libusb_get_string_descriptor_ascii(dev->handle, index, raw, sizeof(raw));
	if (n < 0) {
		ctp_host_log(dev->ctx, CTP_HOST_LOG_DEBUG, "%s: cannot read the %s string: %s",
		             dev->port_path, what, libusb_error_name(n));
		return;
	}
	ctp_host_sanitize_text(raw, (size_t)n, buf, size);
}

static ctp_host_status
claim_interface(ctp_host_device *dev)
{
	uint8_t number = dev->iface.interface_number;
	int r;

	/* a vendor interface rarely has a kernel driver, but one bound would block the claim */
	r = libusb_kernel_driver_active(dev->handle, number);
	if (r == 1) {
		r = libusb_detach_kernel_driver(dev->handle, number);
		if (r != LIBUSB_SUCCESS) {
			ctp_host_log(dev->ctx, CTP_HOST_LOG_WARNING,
			             "%s: cannot detach the kernel driver from interface %u: %s",
			             dev->port_path, number, libusb_error_name(r));
			return ctp_host_status_from_libusb(r);
		}
		dev->detached_kernel_driver = true;
	}
	r = libusb_claim_interface(dev->handle, number);
	if (r != LIBUSB_SUCCESS) {
		ctp_host_log(dev->ctx, CTP_HOST_LOG_WARNING, "%s: cannot claim interface %u: %s",
		             dev->port_path, number, libusb_error_name(r));
		return ctp_host_status_from_libusb(r);
	}
	dev->claimed = true;
	if (dev->iface.alt_setting != 0) {
		r = libusb_set_interface_alt_setting(dev->handle, number, dev->iface.alt_setting);
		if (r != LIBUSB_SUCCESS) {
			ctp_host_log(dev->ctx, CTP_HOST_LOG_WARNING,
			             "%s: cannot select alternate setting %u: %s", dev->port_path,
			             dev->iface.alt_setting, libusb_error_name(r));
			return ctp_host_status_from_libusb(r);
		}
	}
	return CTP_HOST_OK;
}

/* release everything; only when libusb owns none of dev's transfers */
static void
device_free(ctp_host_device *dev)
{
	if (dev->handle != NULL) {
		if (dev->claimed && !dev->gone)
			libusb_release_interface(dev->handle, dev->iface.interface_number);
		if (dev->detached_kernel_driver && !dev->gone)
			libusb_attach_kernel_driver(dev->handle, dev->iface.interface_number);
		libusb_close(dev->handle);
	}
	ctp_host_fd_disown(dev->ctx, dev);
	libusb_free_transfer(dev->out_xfer);
	libusb_free_transfer(dev->in_xfer);
	free(dev->out_buf);
	free(dev->in_buf);
	if (dev->usb_device != NULL)
		libusb_unref_device(dev->usb_device);
	free(dev);
}

static void
device_unlink(ctp_host_device *dev)
{
	for (ctp_host_device **p = &dev->ctx->devices; *p != NULL; p = &(*p)->next) {
		if (*p == dev) {
			*p = dev->next;
			return;
		}
	}
}

static ctp_host_status
open_handle(ctp_host_device *dev)
{
	ctp_host_context *ctx = dev->ctx;
	struct libusb_device_descriptor desc;
	int r;

	ctx->opening = dev;
	r = libusb_open(dev->usb_device, &dev->handle);
	ctx->opening = NULL;
	if (r != LIBUSB_SUCCESS) {
		dev->handle = NULL;
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING, "%s: cannot open the USB device: %s",
		             dev->port_path, libusb_error_name(r));
		return ctp_host_status_from_libusb(r);
	}
	ctp_host_status status = claim_interface(dev);
	if (status != CTP_HOST_OK)
		return status;
	if (libusb_get_device_descriptor(dev->usb_device, &desc) == 0) {
		read_usb_string(dev, desc.iManufacturer, "manufacturer", dev->manufacturer,
		                sizeof(dev->manufacturer));
		read_usb_string(dev, desc.iProduct, "product", dev->product, sizeof(dev->product));
		read_usb_string(dev, desc.iSerialNumber, "serial number", dev->serial,
		                sizeof(dev->serial));
	}
	return CTP_HOST_OK;
}

ctp_host_status
ctp_host_device_open(ctp_host_context *ctx, libusb_device *usb_device, ctp_host_device **out)
{
	struct libusb_config_descriptor *config = NULL;
	ctp_host_device_info info;
	ctp_host_device *dev;
	ctp_host_status status;
	int r;

	*out = NULL;
	if (ctx == NULL || usb_device == NULL)
		return CTP_HOST_INVALID_ARGUMENT;
	dev = calloc(1, sizeof(*dev));
	if (dev == NULL)
		return CTP_HOST_NO_MEMORY;
	dev->ctx = ctx;
	dev->usb_device = libusb_ref_device(usb_device);
	ctp_host_describe_usb(usb_device, &info);
	memcpy(dev->port_path, info.port_path, sizeof(dev->port_path));
	dev->vendor_id = info.vendor_id;
	dev->product_id = info.product_id;

	r = libusb_get_active_config_descriptor(usb_device, &config);
	if (r != LIBUSB_SUCCESS || !ctp_host_find_interface(config, &dev->iface)) {
		ctp_host_log(ctx, CTP_HOST_LOG_WARNING,
		             "%s: USB device %04x:%04x has no certtether interface%s%s",
		             dev->port_path, info.vendor_id, info.product_id,
		             r != LIBUSB_SUCCESS ? ": " : "",
		             r != LIBUSB_SUCCESS ? libusb_error_name(r) : "");
		libusb_free_config_descriptor(config);
		device_free(dev);
		return r == LIBUSB_ERROR_NO_DEVICE ? CTP_HOST_NO_DEVICE : CTP_HOST_NOT_SUPPORTED;
	}
	libusb_free_config_descriptor(config);

	dev->out_xfer = libusb_alloc_transfer(0);
	dev->in_xfer = libusb_alloc_transfer(0);
	dev->out_buf = malloc(CTP_MAX_FRAME);
	dev->in_buf = malloc(CTP_MAX_FRAME);
	if (dev->out_xfer == NULL || dev->in_xfer == NULL || dev->out_buf == NULL ||
	    dev->in_buf == NULL) {
		device_free(dev);
		return CTP_HOST_NO_MEMORY;
	}
	ctp_host_random(&dev->last_id, sizeof(dev->last_id));
	/* PROTOCOL.md 2.3: a device whose state we do not know is resynchronised first
	 * (answers to a previous host process may still be queued) */
	dev->needs_resync = true;
	dev->peer_max_frame = CTP_MIN_DEVICE_FRAME;

	/* linked before libusb_open so that the fd notifier can find it */
	dev->next = ctx->devices;
	ctx->devices = dev;
	status = open_handle(dev);
	if (status != CTP_HOST_OK) {
		device_unlink(dev);
		device_free(dev);
		ctp_host_fd_sync(ctx);
		return status;
	}
	ctp_host_fd_sync(ctx);
	ctp_host_log(ctx, CTP_HOST_LOG_INFO,
	             "%s: opened \"%s\" \"%s\" serial \"%s\" (USB %04x:%04x, interface %u, "
	             "endpoints 0x%02x/0x%02x)",
	             dev->port_path, dev->manufacturer, dev->product, dev->serial, dev->vendor_id,
	             dev->product_id, dev->iface.interface_number, dev->iface.ep_out,
	             dev->iface.ep_in);
	*out = dev;
	return CTP_HOST_OK;
}

bool
ctp_host_device_reap(ctp_host_device *dev)
{
	ctp_host_context *ctx = dev->ctx;

	if (!dev->closing || dev->out_busy || dev->in_busy)
		return false;
	device_unlink(dev);
	device_free(dev);
	ctp_host_fd_sync(ctx);
	return true;
}

void
ctp_host_device_close(ctp_host_device *dev)
{
	if (dev == NULL || dev->closing)
		return;
	dev->closing = true;
	/* the caller is done with it: no callback may reach it any more */
	dev->call.progress_pending = false;
	dev->call.done = NULL;
	dev->call.progress = NULL;
	if (dev->out_busy)
		libusb_cancel_transfer(dev->out_xfer);
	if (dev->in_busy)
		libusb_cancel_transfer(dev->in_xfer);
	/* with nothing in flight it goes now, otherwise from a later dispatch */
	ctp_host_device_reap(dev);
}

void
ctp_host_device_mark_gone(ctp_host_context *ctx, libusb_device *usb_device)
{
	for (ctp_host_device *dev = ctx->devices; dev != NULL; dev = dev->next) {
		if (dev->usb_device == usb_device && !dev->gone) {
			dev->gone = true;
			ctp_host_log(ctx, CTP_HOST_LOG_DEBUG, "%s: device unplugged",
			             dev->port_path);
		}
	}
}

libusb_device *
ctp_host_device_get_usb_device(ctp_host_device *dev)
{
	return dev->usb_device;
}

const char *
ctp_host_device_get_manufacturer(ctp_host_device *dev)
{
	return dev->manufacturer;
}

const char *
ctp_host_device_get_product(ctp_host_device *dev)
{
	return dev->product;
}

const char *
ctp_host_device_get_serial(ctp_host_device *dev)
{
	return dev->serial;
}

const char *
ctp_host_device_get_port_path(ctp_host_device *dev)
{
	return dev->port_path;
}

uint16_t
ctp_host_device_get_vendor_id(ctp_host_device *dev)
{
	return dev->vendor_id;
}

uint16_t
ctp_host_device_get_product_id(ctp_host_device *dev)
{
	return dev->product_id;
}

uint8_t
ctp_host_device_get_interface_number(ctp_host_device *dev)
{
	return dev->iface.interface_number;
}

bool
ctp_host_device_is_gone(ctp_host_device *dev)
{
	return dev->gone;
}
