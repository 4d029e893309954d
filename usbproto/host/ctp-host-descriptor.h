/*
 * Finding the CTP interface in a USB configuration descriptor. Pure function
 * over libusb's parsed descriptor structs (no I/O), unit tested without a device.
 */
#pragma once

#include <libusb.h>
#include <stdbool.h>
#include <stdint.h>

typedef struct {
	uint8_t interface_number;
	uint8_t alt_setting;
	uint8_t ep_in;           /* bulk IN endpoint address (0x80 bit set) */
	uint8_t ep_out;          /* bulk OUT endpoint address */
	uint16_t out_max_packet; /* wMaxPacketSize of ep_out, for zero-length packets */
} ctp_host_interface;

/*
 * The first interface/alt setting with the triple CTP_USB_INTERFACE_CLASS /
 * SUBCLASS / PROTOCOL that has a bulk IN and a bulk OUT endpoint. Returns false
 * if there is none (a triple without both bulk endpoints does not count).
 */
bool ctp_host_find_interface(const struct libusb_config_descriptor *config,
                             ctp_host_interface *out);
