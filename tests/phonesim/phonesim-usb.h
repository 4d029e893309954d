/*
 * phonesim USB layer: the umockdev testbed (root hub on bus 1), the sysfs text and
 * descriptors of each emulated phone, and the usbdevfs ioctl handler with its URB
 * queues that real, unmodified libusb talks to.
 */
#pragma once

#include <glib.h>

#define PHONESIM_BUSNUM    1
#define PHONESIM_MAX_PORTS 126 /* devnum 2..127 */

typedef struct _PhonesimUsb PhonesimUsb;
typedef struct _PhonesimUsbPort PhonesimUsbPort;

/* what the device firmware sees; every callback runs with the port's lock held */
typedef struct {
	/* one bulk OUT transfer on EP 0x01 (never zero length) */
	void (*bulk_out)(gpointer user, const guint8 *data, gsize len);
	/* USB reset by the host (USBDEVFS_RESET) or the cable went away */
	void (*bus_reset)(gpointer user);
} PhonesimUsbCallbacks;

/* what the device says about itself in its descriptors and sysfs */
typedef struct {
	const gchar *manufacturer; /* iManufacturer */
	const gchar *product;      /* iProduct */
	const gchar *serial;       /* iSerialNumber */
} PhonesimUsbIdentity;

/* the testbed; the process must run under umockdev-wrapper */
PhonesimUsb *phonesim_usb_new(GError **error);
void phonesim_usb_free(PhonesimUsb *usb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(PhonesimUsb, phonesim_usb_free)

/* true when LD_PRELOAD carries libumockdev-preload (checked before a testbed exists) */
gboolean phonesim_usb_under_wrapper(void);

/*
 * A port of the root hub (1-port_number) with the ioctl handler for its device node
 * attached; nothing appears on the bus before phonesim_usb_port_plug(). The port's
 * lock guards its queues and everything the callbacks touch: the owner takes it
 * (phonesim_usb_port_lock) around its own work on the same data.
 */
PhonesimUsbPort *phonesim_usb_port_new(PhonesimUsb *usb,
                                       guint port_number,
                                       const PhonesimUsbCallbacks *callbacks,
                                       gpointer user,
                                       GError **error);
/* main thread: unplug, detach the handler, no callbacks after this returns */
void phonesim_usb_port_close(PhonesimUsbPort *port);
/* drop the owner's reference (file descriptors still open keep the memory alive) */
void phonesim_usb_port_unref(PhonesimUsbPort *port);

void phonesim_usb_port_lock(PhonesimUsbPort *port);
void phonesim_usb_port_unlock(PhonesimUsbPort *port);

/* main thread, lock not held: sysfs + /dev node + "add" uevent */
gboolean
phonesim_usb_port_plug(PhonesimUsbPort *port, const PhonesimUsbIdentity *identity, GError **error);

/* main thread, lock not held: "remove" uevent, cut the cable, remove sysfs + node */
void phonesim_usb_port_unplug(PhonesimUsbPort *port);

/*
 * Any thread, lock held: the device stops answering at once (pending IN URBs
 * complete with -ESHUTDOWN, later ioctls fail with ENODEV). The sysfs side follows
 * with phonesim_usb_port_unplug() from the main thread.
 */
void phonesim_usb_port_cut_locked(PhonesimUsbPort *port);

/* lock held: queue one bulk IN transfer on EP 0x81 (dropped when not plugged) */
void phonesim_usb_port_send_locked(PhonesimUsbPort *port, const guint8 *data, gsize len);

/* lock held */
gboolean phonesim_usb_port_is_plugged_locked(PhonesimUsbPort *port);

guint phonesim_usb_port_get_devnum(PhonesimUsbPort *port);
guint phonesim_usb_port_get_number(PhonesimUsbPort *port);
