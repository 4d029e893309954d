/*
 * Host transport status codes as names and as sentences a user can act on.
 */
#include "usbproto/host/ctp-host.h"

const char *
ctp_host_status_to_string(ctp_host_status status)
{
	switch (status) {
	case CTP_HOST_OK:
		return "success";
	case CTP_HOST_NO_DEVICE:
		return "the device was unplugged: plug it in again";
	case CTP_HOST_STALL:
		return "the device stalled the transfer (the halt was cleared): retry, and "
		       "unplug and re-plug the device if it happens again";
	case CTP_HOST_TIMEOUT:
		return "the device did not answer in time: check that it is switched on and "
		       "idle, then retry or re-plug it";
	case CTP_HOST_PROTOCOL:
		return "the device sent an invalid answer: update its firmware or report the "
		       "problem (the session resynchronises on the next request)";
	case CTP_HOST_DEVICE_ERROR:
		return "the device refused the request (see its error code and text)";
	case CTP_HOST_CANCELLED:
		return "the request was cancelled";
	case CTP_HOST_IO:
		return "USB transfer failed: re-plug the device, try another cable or port";
	case CTP_HOST_BUSY:
		return "another request to this device is still in progress: wait for it to finish";
	case CTP_HOST_INVALID_ARGUMENT:
		return "the request is invalid and was not sent (a bug in the caller)";
	case CTP_HOST_ACCESS:
		return "no permission to open the USB device: install the certtether udev rules "
		       "and re-plug the device";
	case CTP_HOST_NOT_SUPPORTED:
		return "not supported: the device has no certtether interface, or libusb lacks "
		       "hotplug support on this system";
	case CTP_HOST_INTERFACE_BUSY:
		return "another program is using the device's certtether interface: close it "
		       "and retry";
	case CTP_HOST_TOO_LARGE:
		return "the request is larger than the device accepts (its max_frame): send less "
		       "data, or run HELLO first";
	case CTP_HOST_NO_MEMORY:
		return "out of memory";
	}
	return "unknown status";
}

const char *
ctp_host_status_to_name(ctp_host_status status)
{
	switch (status) {
	case CTP_HOST_OK:
		return "OK";
	case CTP_HOST_NO_DEVICE:
		return "NO_DEVICE";
	case CTP_HOST_STALL:
		return "STALL";
	case CTP_HOST_TIMEOUT:
		return "TIMEOUT";
	case CTP_HOST_PROTOCOL:
		return "PROTOCOL";
	case CTP_HOST_DEVICE_ERROR:
		return "DEVICE_ERROR";
	case CTP_HOST_CANCELLED:
		return "CANCELLED";
	case CTP_HOST_IO:
		return "IO";
	case CTP_HOST_BUSY:
		return "BUSY";
	case CTP_HOST_INVALID_ARGUMENT:
		return "INVALID_ARGUMENT";
	case CTP_HOST_ACCESS:
		return "ACCESS";
	case CTP_HOST_NOT_SUPPORTED:
		return "NOT_SUPPORTED";
	case CTP_HOST_INTERFACE_BUSY:
		return "INTERFACE_BUSY";
	case CTP_HOST_TOO_LARGE:
		return "TOO_LARGE";
	case CTP_HOST_NO_MEMORY:
		return "NO_MEMORY";
	}
	return "UNKNOWN";
}

unsigned
ctp_host_default_timeout_ms(uint8_t request_type)
{
	/* key generation on a slow phone takes long; everything else is quick */
	return request_type == CTP_MSG_CREATE_CSR ? CTP_TIMEOUT_CREATE_CSR_MS
	                                          : CTP_TIMEOUT_DEFAULT_MS;
}
