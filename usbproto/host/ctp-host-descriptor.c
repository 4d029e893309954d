/*
 * Interface matching by class triple: the only match rule (VID:PID never is).
 */
#include "usbproto/host/ctp-host-descriptor.h"

#include <string.h>

#include "usbproto/codec/ctp-protocol.h"

static bool
alt_setting_is_ctp(const struct libusb_interface_descriptor *alt, ctp_host_interface *out)
{
	uint8_t ep_in = 0;
	uint8_t ep_out = 0;
	uint16_t out_max_packet = 0;

	if (alt->bInterfaceClass != CTP_USB_INTERFACE_CLASS ||
	    alt->bInterfaceSubClass != CTP_USB_INTERFACE_SUBCLASS ||
	    alt->bInterfaceProtocol != CTP_USB_INTERFACE_PROTOCOL)
		return false;
	for (int e = 0; e < alt->bNumEndpoints; e++) {
		const struct libusb_endpoint_descriptor *ep = &alt->endpoint[e];

		if ((ep->bmAttributes & LIBUSB_TRANSFER_TYPE_MASK) != LIBUSB_TRANSFER_TYPE_BULK)
			continue;
		if ((ep->bEndpointAddress & LIBUSB_ENDPOINT_DIR_MASK) == LIBUSB_ENDPOINT_IN) {
			if (ep_in == 0)
				ep_in = ep->bEndpointAddress;
		} else if (ep_out == 0) {
			ep_out = ep->bEndpointAddress;
			out_max_packet = ep->wMaxPacketSize & 0x7ff;
		}
	}
	if (ep_in == 0 || ep_out == 0)
		return false;
	out->interface_number = alt->bInterfaceNumber;
	out->alt_setting = alt->bAlternateSetting;
	out->ep_in = ep_in;
	out->ep_out = ep_out;
	out->out_max_packet = out_max_packet;
	return true;
}

bool
ctp_host_find_interface(const struct libusb_config_descriptor *config, ctp_host_interface *out)
{
	memset(out, 0, sizeof(*out));
	if (config == NULL)
		return false;
	for (int i = 0; i < config->bNumInterfaces; i++) {
		const struct libusb_interface *iface = &config->interface[i];

		for (int a = 0; a < iface->num_altsetting; a++) {
			if (alt_setting_is_ctp(&iface->altsetting[a], out))
				return true;
		}
	}
	return false;
}
