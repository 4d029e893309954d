/*
 * phonesim USB layer: umockdev testbed, sysfs text, descriptors and the usbdevfs
 * ioctl handler (see docs/usb-emulation.md for why each step is the way it is).
 *
 * Threads: umockdev calls the "handle-ioctl" handlers of all ports from one worker
 * thread; plug/unplug run in the main thread; keygen threads send through
 * phonesim_usb_port_send_locked(). Every queue of a port is guarded by the lock
 * its owner handed in. Per ioctl the work is O(1) in the number of phones.
 */
#include "tests/phonesim/phonesim-usb.h"

#include <errno.h>
#include <linux/usb/ch9.h>
#include <linux/usbdevice_fs.h>
#include <stddef.h>
#include <string.h>
#include <sys/ioctl.h>
#include <umockdev.h>

#include "usbproto/codec/ctp-protocol.h"

#define EP_BULK_OUT      0x01
#define EP_BULK_IN       0x81
#define BULK_PACKET_SIZE 512
#define EP0_PACKET_SIZE  64
#define STRING_INTERFACE 4
#define INTERFACE_NAME   "CertTether"
#define USBFS_MEMORY_MAX (16u * 1024 * 1024) /* the kernel's default usbfs_memory_mb */
#define ROOT_HUB_SYSPATH "/sys/devices/pci0000:00/0000:00:14.0/usb1"
#define CLIENT_DATA_KEY  "phonesim-generation"
#define OUT_TRANSFER_MAX (1024u * 1024) /* bytes a device buffers for one OUT transfer */

struct _PhonesimUsb {
	UMockdevTestbed *testbed;
};

/* one submitted URB: the client's struct and buffer, resolved into our memory */
typedef struct {
	UMockdevIoctlData *urb;
	UMockdevIoctlData *buf; /* NULL for zero-length URBs */
	guint64 client;         /* serial number of the submitting file descriptor */
} PhonesimUrb;

struct _PhonesimUsbPort {
	gint refcount; /* the owner, plus one per file descriptor that ever used the port */
	PhonesimUsb *usb;
	guint number;
	guint devnum;
	gchar *syspath;
	gchar *devnode;
	GMutex lock_storage;
	GMutex *lock;
	const PhonesimUsbCallbacks *callbacks;
	gpointer user;
	UMockdevIoctlBase *handler;

	/* guarded by lock */
	gboolean plugged;      /* sysfs side present */
	gboolean connected;    /* answers ioctls (false from the cut until the next plug) */
	guint generation;      /* bumped per plug: file descriptors of an earlier plug get ENODEV */
	guint64 client_serial; /* of the last file descriptor seen */
	GQueue in_urbs;        /* PhonesimUrb*: bulk IN URBs waiting for device data */
	GQueue done;           /* PhonesimUrb*: completed, waiting to be reaped by their client */
	GQueue in_data;        /* GBytes*: transfers the device wants to send on EP 0x81 */
	GByteArray *out_transfer; /* bulk OUT packets of a transfer not yet ended */
	guint8 descriptors[18 + 32];
	GPtrArray *strings; /* gunichar2-encoded string descriptors, index 0 = LANGID */
};

gboolean
phonesim_usb_under_wrapper(void)
{
	const gchar *preload = g_getenv("LD_PRELOAD");
	return preload != NULL && strstr(preload, "libumockdev-preload") != NULL;
}

static const gchar ROOT_HUB[] =
    "P: /devices/pci0000:00/0000:00:14.0/usb1\n"
    "N: bus/usb/001/001\n"
    "E: DEVNAME=/dev/bus/usb/001/001\n"
    "E: DEVTYPE=usb_device\n"
    "E: DRIVER=usb\n"
    "E: PRODUCT=1d6b/2/606\n"
    "E: TYPE=9/0/1\n"
    "E: BUSNUM=001\n"
    "E: DEVNUM=001\n"
    "E: MAJOR=189\n"
    "E: MINOR=0\n"
    "E: SUBSYSTEM=usb\n"
    "A: busnum=1\\n\n"
    "A: devnum=1\\n\n"
    "A: idVendor=1d6b\\n\n"
    "A: idProduct=0002\\n\n"
    "A: speed=480\\n\n"
    "A: bConfigurationValue=1\\n\n"
    "A: bNumConfigurations=1\\n\n"
    "A: dev=189:0\\n\n"
    /* hub device, its configuration, hub interface, interrupt endpoint */
    "H: descriptors=12010002090001406B1D0200060603020101"
    "09021900010100E000"
    "090400000109000000"
    "0705810304000C\n";

PhonesimUsb *
phonesim_usb_new(GError **error)
{
	/* umockdev_in_mock_environment() must not be asked before a testbed exists: it
	 * would cache "no" and silently disable the automatic add uevents */
	if (!phonesim_usb_under_wrapper()) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
		            "phonesim must run under umockdev-wrapper "
		            "(umockdev-wrapper phonesim --state-dir DIR -- COMMAND)");
		return NULL;
	}
	g_autoptr(PhonesimUsb) usb = g_new0(PhonesimUsb, 1);
	usb->testbed = umockdev_testbed_new(); /* sets $UMOCKDEV_DIR for our children */
	if (!umockdev_testbed_add_from_string(usb->testbed, ROOT_HUB, error)) {
		g_prefix_error(error, "cannot add the root hub: ");
		return NULL;
	}
	return g_steal_pointer(&usb);
}

void
phonesim_usb_free(PhonesimUsb *usb)
{
	if (usb == NULL)
		return;
	g_clear_object(&usb->testbed); /* removes the testbed directory */
	g_free(usb);
}

static PhonesimUrb *
urb_new(UMockdevIoctlData *urb, guint64 client)
{
	PhonesimUrb *u = g_new0(PhonesimUrb, 1);
	u->urb = g_object_ref(urb);
	u->client = client;
	return u;
}

static void
urb_free(PhonesimUrb *u)
{
	g_clear_object(&u->urb);
	g_clear_object(&u->buf);
	g_free(u);
}

static struct usbdevfs_urb *
urb_struct(PhonesimUrb *u)
{
	return (struct usbdevfs_urb *)u->urb->data;
}

static void
urb_finish(PhonesimUsbPort *port, PhonesimUrb *u, int status, int actual)
{
	urb_struct(u)->status = status;
	urb_struct(u)->actual_length = actual;
	g_queue_push_tail(&port->done, u);
}

/*
 * A short packet ended the transfer: the kernel cancels the URBs that a host queued
 * to continue it (USBDEVFS_URB_BULK_CONTINUATION), so that no later transfer's data
 * lands in them.
 */
static void
end_continuations(PhonesimUsbPort *port, guint64 client)
{
	while (!g_queue_is_empty(&port->in_urbs)) {
		PhonesimUrb *next = g_queue_peek_head(&port->in_urbs);
		if (next->client != client ||
		    (urb_struct(next)->flags & USBDEVFS_URB_BULK_CONTINUATION) == 0)
			return;
		urb_finish(port, g_queue_pop_head(&port->in_urbs), -EREMOTEIO, 0);
	}
}

/*
 * Move device data into waiting IN URBs, with real bulk semantics: a transfer ends
 * with a short packet, so a URB smaller than the data takes a full-packet prefix and
 * the rest goes to the next URB; a URB whose length is not a packet multiple
 * overflows (babble).
 */
static void
pump_in(PhonesimUsbPort *port)
{
	while (!g_queue_is_empty(&port->in_urbs) && !g_queue_is_empty(&port->in_data)) {
		PhonesimUrb *u = g_queue_pop_head(&port->in_urbs);
		GBytes *b = g_queue_pop_head(&port->in_data);
		gsize n = 0;
		const guint8 *d = g_bytes_get_data(b, &n);
		gsize cap = (gsize)urb_struct(u)->buffer_length;
		gboolean ended = TRUE;
		int status = 0;

		if (n > cap) {
			if (cap % BULK_PACKET_SIZE == 0) {
				g_queue_push_head(&port->in_data,
				                  g_bytes_new_from_bytes(b, cap, n - cap));
				ended = FALSE;
			} else {
				status = -EOVERFLOW;
			}
			n = cap;
		}
		/* (a frame of exactly cap bytes ends too: the device sends a zero-length packet) */
		if (n > 0)
			memcpy(u->buf->data, d, n);
		g_bytes_unref(b);
		guint64 client = u->client;
		urb_finish(port, u, status, (int)n);
		if (ended)
			end_continuations(port, client);
	}
}

/* completes pending IN URBs the way the kernel does on disconnect */
void
phonesim_usb_port_cut_locked(PhonesimUsbPort *port)
{
	if (!port->connected)
		return;
	port->connected = FALSE;
	while (!g_queue_is_empty(&port->in_urbs))
		urb_finish(port, g_queue_pop_head(&port->in_urbs), -ESHUTDOWN, 0);
	g_queue_clear_full(&port->in_data, (GDestroyNotify)g_bytes_unref);
	g_byte_array_set_size(port->out_transfer, 0);
	if (port->callbacks != NULL)
		port->callbacks->bus_reset(port->user);
}

void
phonesim_usb_port_send_locked(PhonesimUsbPort *port, const guint8 *data, gsize len)
{
	if (!port->connected)
		return;
	g_queue_push_tail(&port->in_data, g_bytes_new(data, len));
	pump_in(port);
}

gboolean
phonesim_usb_port_is_plugged_locked(PhonesimUsbPort *port)
{
	return port->connected;
}

guint
phonesim_usb_port_get_devnum(PhonesimUsbPort *port)
{
	return port->devnum;
}

guint
phonesim_usb_port_get_number(PhonesimUsbPort *port)
{
	return port->number;
}

/* ---- descriptors ---- */

static void
build_descriptors(PhonesimUsbPort *port)
{
	/* device: USB 2.0, class per interface, EP0 64 bytes, 1209:0001, bcdDevice 1.00,
	 * strings 1/2/3, one configuration */
	static const guint8 device[18] = {
	    18,
	    USB_DT_DEVICE,
	    0x00,
	    0x02,
	    0x00,
	    0x00,
	    0x00,
	    EP0_PACKET_SIZE,
	    CTP_USB_TEST_VID & 0xff,
	    CTP_USB_TEST_VID >> 8,
	    CTP_USB_TEST_PID & 0xff,
	    CTP_USB_TEST_PID >> 8,
	    0x00,
	    0x01,
	    1,
	    2,
	    3,
	    1,
	};
	/* configuration 1 (32 bytes in all), bus powered 100 mA; interface 0 with the
	 * CTP triple and its name; bulk OUT 0x01 and bulk IN 0x81, 512-byte packets */
	static const guint8 config[32] = {
	    9,
	    USB_DT_CONFIG,
	    32,
	    0,
	    1,
	    1,
	    0,
	    0x80,
	    50,
	    9,
	    USB_DT_INTERFACE,
	    0,
	    0,
	    2,
	    CTP_USB_INTERFACE_CLASS,
	    CTP_USB_INTERFACE_SUBCLASS,
	    CTP_USB_INTERFACE_PROTOCOL,
	    STRING_INTERFACE,
	    7,
	    USB_DT_ENDPOINT,
	    EP_BULK_OUT,
	    USB_ENDPOINT_XFER_BULK,
	    BULK_PACKET_SIZE & 0xff,
	    BULK_PACKET_SIZE >> 8,
	    0,
	    7,
	    USB_DT_ENDPOINT,
	    EP_BULK_IN,
	    USB_ENDPOINT_XFER_BULK,
	    BULK_PACKET_SIZE & 0xff,
	    BULK_PACKET_SIZE >> 8,
	    0,
	};
	memcpy(port->descriptors, device, sizeof device);
	memcpy(port->descriptors + sizeof device, config, sizeof config);
}

static GBytes *
string_descriptor(const gchar *ascii)
{
	gsize n = strlen(ascii);
	guint8 *d = g_malloc(2 + 2 * n);
	d[0] = (guint8)(2 + 2 * n);
	d[1] = USB_DT_STRING;
	for (gsize i = 0; i < n; i++) {
		d[2 + 2 * i] = (guint8)ascii[i];
		d[3 + 2 * i] = 0;
	}
	return g_bytes_new_take(d, 2 + 2 * n);
}

static void
build_strings(PhonesimUsbPort *port, const PhonesimUsbIdentity *identity)
{
	static const guint8 langids[] = {4, USB_DT_STRING, 0x09, 0x04}; /* en-US */
	g_clear_pointer(&port->strings, g_ptr_array_unref);
	port->strings = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
	g_ptr_array_add(port->strings, g_bytes_new_static(langids, sizeof langids));
	g_ptr_array_add(port->strings, string_descriptor(identity->manufacturer));
	g_ptr_array_add(port->strings, string_descriptor(identity->product));
	g_ptr_array_add(port->strings, string_descriptor(identity->serial));
	g_ptr_array_add(port->strings, string_descriptor(INTERFACE_NAME));
}

/* a sysfs value in umockdev-record "A:" syntax: backslash and newline escaped */
static void
append_attr(GString *s, const gchar *key, const gchar *value)
{
	g_string_append_printf(s, "A: %s=", key);
	for (const gchar *p = value; *p != '\0'; p++) {
		if (*p == '\\')
			g_string_append(s, "\\\\");
		else if (*p == '\n')
			g_string_append(s, "\\n");
		else
			g_string_append_c(s, *p);
	}
	g_string_append(s, "\\n\n");
}

/* udev's ID_* encoding: anything outside [A-Za-z0-9.+-] becomes '_' */
static gchar *
udev_id_string(const gchar *s)
{
	gchar *r = g_strdup(s);
	for (gchar *p = r; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '.' && *p != '+' && *p != '-')
			*p = '_';
	}
	return r;
}

static gchar *
device_record(PhonesimUsbPort *port, const PhonesimUsbIdentity *identity)
{
	g_autoptr(GString) s = g_string_new(NULL);
	g_autofree gchar *vendor_id = udev_id_string(identity->manufacturer);
	g_autofree gchar *model_id = udev_id_string(identity->product);
	g_autofree gchar *serial_id = udev_id_string(identity->serial);
	guint minor = (PHONESIM_BUSNUM - 1) * 128 + port->devnum - 1;

	g_string_append_printf(s, "P: %s\n", port->syspath + strlen("/sys"));
	g_string_append_printf(s, "N: bus/usb/%03u/%03u\n", PHONESIM_BUSNUM, port->devnum);
	g_string_append_printf(s, "E: DEVNAME=%s\n", port->devnode);
	g_string_append(s, "E: DEVTYPE=usb_device\n");
	g_string_append(s, "E: DRIVER=usb\n");
	g_string_append_printf(s, "E: PRODUCT=%x/%x/100\n", CTP_USB_TEST_VID, CTP_USB_TEST_PID);
	g_string_append(s, "E: TYPE=0/0/0\n");
	g_string_append_printf(s, "E: BUSNUM=%03u\n", PHONESIM_BUSNUM);
	g_string_append_printf(s, "E: DEVNUM=%03u\n", port->devnum);
	g_string_append(s, "E: MAJOR=189\n");
	g_string_append_printf(s, "E: MINOR=%u\n", minor);
	g_string_append(s, "E: SUBSYSTEM=usb\n");
	/* what udev's usb_id builtin would add; the hwdb and rules match on these */
	g_string_append_printf(s, "E: ID_VENDOR=%s\n", vendor_id);
	g_string_append_printf(s, "E: ID_VENDOR_ID=%04x\n", CTP_USB_TEST_VID);
	g_string_append_printf(s, "E: ID_MODEL=%s\n", model_id);
	g_string_append_printf(s, "E: ID_MODEL_ID=%04x\n", CTP_USB_TEST_PID);
	g_string_append_printf(s, "E: ID_SERIAL=%s_%s_%s\n", vendor_id, model_id, serial_id);
	g_string_append_printf(s, "E: ID_SERIAL_SHORT=%s\n", serial_id);
	g_string_append(s, "E: ID_REVISION=0100\n");
	g_string_append_printf(s, "E: ID_USB_INTERFACES=:%02x%02x%02x:\n", CTP_USB_INTERFACE_CLASS,
	                       CTP_USB_INTERFACE_SUBCLASS, CTP_USB_INTERFACE_PROTOCOL);
	g_string_append_printf(s, "A: busnum=%u\\n\n", PHONESIM_BUSNUM);
	g_string_append_printf(s, "A: devnum=%u\\n\n", port->devnum);
	g_string_append_printf(s, "A: devpath=%u\\n\n", port->number);
	g_string_append_printf(s, "A: idVendor=%04x\\n\n", CTP_USB_TEST_VID);
	g_string_append_printf(s, "A: idProduct=%04x\\n\n", CTP_USB_TEST_PID);
	g_string_append(s, "A: bcdDevice=0100\\n\n");
	g_string_append(s, "A: bDeviceClass=00\\n\n");
	g_string_append(s, "A: speed=480\\n\n");
	g_string_append(s, "A: version= 2.00\\n\n");
	g_string_append(s, "A: bConfigurationValue=1\\n\n");
	g_string_append(s, "A: bNumConfigurations=1\\n\n");
	g_string_append(s, "A: bMaxPacketSize0=64\\n\n");
	g_string_append_printf(s, "A: dev=189:%u\\n\n", minor);
	append_attr(s, "manufacturer", identity->manufacturer);
	append_attr(s, "product", identity->product);
	append_attr(s, "serial", identity->serial);
	g_string_append(s, "H: descriptors=");
	for (gsize i = 0; i < sizeof port->descriptors; i++)
		g_string_append_printf(s, "%02X", port->descriptors[i]);
	g_string_append(s, "\n");
	return g_string_free(g_steal_pointer(&s), FALSE);
}

/* ---- the ioctl handler ---- */

/* a standard GET_DESCRIPTOR on EP0; returns the bytes written or a negative errno (stall) */
static int
handle_control(PhonesimUsbPort *port, PhonesimUrb *u)
{
	struct usbdevfs_urb *urb = urb_struct(u);
	if (u->buf == NULL || urb->buffer_length < 8)
		return -EINVAL;
	const struct usb_ctrlrequest *setup = (const struct usb_ctrlrequest *)u->buf->data;
	guint8 *data = (guint8 *)u->buf->data + 8;
	gsize room = MIN((gsize)GUINT16_FROM_LE(setup->wLength), (gsize)urb->buffer_length - 8);
	guint16 value = GUINT16_FROM_LE(setup->wValue);
	const guint8 *src = NULL;
	gsize len = 0;

	if (setup->bRequestType == (USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE) &&
	    setup->bRequest == USB_REQ_GET_DESCRIPTOR) {
		guint type = value >> 8, index = value & 0xff;
		if (type == USB_DT_DEVICE && index == 0) {
			src = port->descriptors, len = 18;
		} else if (type == USB_DT_CONFIG && index == 0) {
			src = port->descriptors + 18, len = 32;
		} else if (type == USB_DT_STRING && port->strings != NULL &&
		           index < port->strings->len) {
			src = g_bytes_get_data(g_ptr_array_index(port->strings, index), &len);
		}
	} else if (setup->bRequestType == (USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE) &&
	           setup->bRequest == USB_REQ_GET_CONFIGURATION) {
		static const guint8 one = 1;
		src = &one, len = 1;
	} else if (setup->bRequestType == (USB_DIR_IN | USB_TYPE_STANDARD | USB_RECIP_DEVICE) &&
	           setup->bRequest == USB_REQ_GET_STATUS) {
		static const guint8 status[2] = {0, 0};
		src = status, len = 2;
	} else if ((setup->bRequestType & USB_DIR_IN) == 0 &&
	           (setup->bRequestType & USB_TYPE_MASK) == USB_TYPE_STANDARD &&
	           (setup->bRequest == USB_REQ_SET_CONFIGURATION ||
	            setup->bRequest == USB_REQ_SET_INTERFACE ||
	            setup->bRequest == USB_REQ_CLEAR_FEATURE)) {
		return 0;
	}
	if (src == NULL)
		return -EPIPE; /* stall: the phone knows no vendor requests */
	len = MIN(len, room);
	memcpy(data, src, len);
	return (int)len;
}

/*
 * Bulk OUT: the device sees packets, and a transfer ends with a short packet or a
 * zero-length packet (URB_ZERO_PACKET, or a separate zero-length URB). A host that
 * sends a packet-multiple frame without a zero-length packet leaves the device
 * waiting for more, as real hardware would.
 */
static void
handle_bulk_out(PhonesimUsbPort *port, PhonesimUrb *u)
{
	struct usbdevfs_urb *urb = urb_struct(u);
	gsize len = (gsize)urb->buffer_length;
	gboolean ends =
	    len % BULK_PACKET_SIZE != 0 || len == 0 || (urb->flags & USBDEVFS_URB_ZERO_PACKET) != 0;

	if (len > 0)
		g_byte_array_append(port->out_transfer, u->buf->data, (guint)len);
	urb_finish(port, u, 0, (int)len);
	/* a device buffer is finite: what runs past it is delivered (and rejected) as is */
	if (port->out_transfer->len > OUT_TRANSFER_MAX)
		ends = TRUE;
	if (!ends || port->out_transfer->len == 0)
		return;
	g_autoptr(GByteArray) transfer = port->out_transfer;
	port->out_transfer = g_byte_array_new();
	port->callbacks->bulk_out(port->user, transfer->data, transfer->len);
}

static void
handle_submit(PhonesimUsbPort *port, PhonesimUrb *u)
{
	struct usbdevfs_urb *urb = urb_struct(u);

	if (urb->type == USBDEVFS_URB_TYPE_CONTROL && (urb->endpoint & 0x7f) == 0) {
		int r = handle_control(port, u);
		urb_finish(port, u, r < 0 ? r : 0, r < 0 ? 0 : r);
	} else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == EP_BULK_OUT) {
		handle_bulk_out(port, u);
	} else if (urb->type == USBDEVFS_URB_TYPE_BULK && urb->endpoint == EP_BULK_IN) {
		g_queue_push_tail(&port->in_urbs, u);
		pump_in(port);
	} else {
		urb_finish(port, u, -EPIPE, 0);
	}
}

/* a client's URB, or NULL; the done queue is short (one or two entries per client) */
static PhonesimUrb *
take_done(PhonesimUsbPort *port, guint64 client)
{
	for (GList *l = port->done.head; l != NULL; l = l->next) {
		PhonesimUrb *u = l->data;
		if (u->client == client) {
			g_queue_delete_link(&port->done, l);
			return u;
		}
	}
	return NULL;
}

static gboolean
client_has_done(PhonesimUsbPort *port, guint64 client)
{
	for (GList *l = port->done.head; l != NULL; l = l->next) {
		if (((PhonesimUrb *)l->data)->client == client)
			return TRUE;
	}
	return FALSE;
}

/* the file descriptor was closed: the kernel would discard its URBs */
static void
purge_client(PhonesimUsbPort *port, guint64 client)
{
	for (GQueue *q = &port->in_urbs; q != NULL; q = q == &port->in_urbs ? &port->done : NULL) {
		GList *l = q->head;
		while (l != NULL) {
			GList *next = l->next;
			PhonesimUrb *u = l->data;
			if (u->client == client) {
				g_queue_delete_link(q, l);
				urb_free(u);
			}
			l = next;
		}
	}
}

/*
 * What phonesim knows of one open file descriptor (an umockdev ioctl client). URBs
 * are tagged with its serial number, never the object's address: a new client may
 * get the address of one that is gone.
 */
typedef struct {
	PhonesimUsbPort *port; /* a reference */
	guint64 serial;
	guint generation; /* the plug it was opened in */
} PhonesimUsbClient;

static void
on_client_notify_connected(GObject *object, GParamSpec *pspec, gpointer user)
{
	PhonesimUsbClient *c = user;
	(void)pspec;
	if (umockdev_ioctl_client_get_connected(UMOCKDEV_IOCTL_CLIENT(object)))
		return;
	g_mutex_lock(c->port->lock);
	purge_client(c->port, c->serial);
	g_mutex_unlock(c->port->lock);
}

/* the client object goes away (its signal handlers are already gone) */
static void
on_client_finalized(gpointer user, GObject *where_the_client_was)
{
	PhonesimUsbClient *c = user;
	(void)where_the_client_was;
	g_mutex_lock(c->port->lock);
	purge_client(c->port, c->serial);
	g_mutex_unlock(c->port->lock);
	phonesim_usb_port_unref(c->port);
	g_free(c);
}

/* lock held */
static PhonesimUsbClient *
client_info(PhonesimUsbPort *port, UMockdevIoctlClient *client)
{
	PhonesimUsbClient *c = g_object_get_data(G_OBJECT(client), CLIENT_DATA_KEY);
	if (c == NULL) {
		c = g_new0(PhonesimUsbClient, 1);
		/* the client keeps the port alive: its signals may come after the owner let go */
		g_atomic_int_inc(&port->refcount);
		c->port = port;
		c->serial = ++port->client_serial;
		c->generation = port->generation;
		g_object_set_data(G_OBJECT(client), CLIENT_DATA_KEY, c);
		g_object_weak_ref(G_OBJECT(client), on_client_finalized, c);
		g_signal_connect(client, "notify::connected",
		                 G_CALLBACK(on_client_notify_connected), c);
	}
	return c;
}

static long
handle_ioctl_locked(PhonesimUsbPort *port, UMockdevIoctlClient *client, int *eno)
{
	gulong req = umockdev_ioctl_client_get_request(client);
	UMockdevIoctlData *arg = umockdev_ioctl_client_get_arg(client);
	g_autoptr(UMockdevIoctlData) d = NULL;
	g_autoptr(GError) error = NULL;
	PhonesimUsbClient *c = client_info(port, client);
	/* a descriptor kept open over an unplug keeps failing after the next plug */
	gboolean alive = port->connected && c->generation == port->generation;

	/* after a disconnect only completed URBs can still be reaped */
	if (!alive && !((req == USBDEVFS_REAPURBNDELAY || req == USBDEVFS_REAPURB) &&
	                client_has_done(port, c->serial))) {
		*eno = ENODEV;
		return -1;
	}
	if (_IOC_SIZE(req) > 0 && req != USBDEVFS_DISCARDURB) {
		d = umockdev_ioctl_data_resolve(arg, 0, _IOC_SIZE(req), &error);
		if (d == NULL) {
			g_warning("phonesim: cannot resolve ioctl argument: %s", error->message);
			*eno = EFAULT;
			return -1;
		}
	}

	switch (req) {
	case USBDEVFS_GET_CAPABILITIES:
		/* with BULK_SCATTER_GATHER libusb submits a transfer as one URB, not 16 KiB pieces
		 */
		*(guint32 *)d->data = USBDEVFS_CAP_ZERO_PACKET | USBDEVFS_CAP_BULK_CONTINUATION |
		                      USBDEVFS_CAP_NO_PACKET_SIZE_LIM |
		                      USBDEVFS_CAP_BULK_SCATTER_GATHER |
		                      USBDEVFS_CAP_REAP_AFTER_DISCONNECT;
		return 0;
	case USBDEVFS_CLAIMINTERFACE:
	case USBDEVFS_RELEASEINTERFACE:
		if (*(guint32 *)d->data != 0) {
			*eno = EINVAL;
			return -1;
		}
		return 0;
	case USBDEVFS_CLEAR_HALT:
	case USBDEVFS_RESETEP:
	case USBDEVFS_DISCONNECT_CLAIM:
		return 0;
	case USBDEVFS_SETINTERFACE:
	case USBDEVFS_SETCONFIGURATION:
	case USBDEVFS_RESET:
		/* the device sees these on the bus: a new session starts (PROTOCOL.md 7.1) */
		port->callbacks->bus_reset(port->user);
		return 0;
	case USBDEVFS_GETDRIVER: /* no kernel driver bound */
	case USBDEVFS_IOCTL:     /* detach/attach kernel driver: there is none */
		*eno = ENODATA;
		return -1;
	case USBDEVFS_CONNECTINFO: {
		struct usbdevfs_connectinfo *ci = (struct usbdevfs_connectinfo *)d->data;
		ci->devnum = port->devnum;
		ci->slow = 0;
		return 0;
	}
	case USBDEVFS_GET_SPEED:
		return 3; /* USB_SPEED_HIGH */
	case USBDEVFS_SUBMITURB: {
		struct usbdevfs_urb *urb = (struct usbdevfs_urb *)d->data;
		if (urb->buffer_length < 0 || (guint)urb->buffer_length > USBFS_MEMORY_MAX) {
			*eno = urb->buffer_length < 0 ? EINVAL : ENOMEM;
			return -1;
		}
		PhonesimUrb *u = urb_new(d, c->serial);
		if (urb->buffer_length > 0) {
			u->buf =
			    umockdev_ioctl_data_resolve(d, offsetof(struct usbdevfs_urb, buffer),
			                                (gsize)urb->buffer_length, &error);
			if (u->buf == NULL) {
				g_warning("phonesim: cannot resolve URB buffer: %s",
				          error->message);
				urb_free(u);
				*eno = EFAULT;
				return -1;
			}
		}
		handle_submit(port, u);
		return 0;
	}
	case USBDEVFS_REAPURB: /* libusb never blocks in the kernel; treat as NDELAY */
	case USBDEVFS_REAPURBNDELAY: {
		PhonesimUrb *u = take_done(port, c->serial);
		if (u == NULL) {
			*eno = alive ? EAGAIN : ENODEV;
			return -1;
		}
		/* the client's pointer now points at its own URB; the changed URB and
		 * buffer are written back when the ioctl completes (d holds them) */
		umockdev_ioctl_data_set_ptr(d, 0, u->urb);
		urb_free(u);
		return 0;
	}
	case USBDEVFS_DISCARDURB: {
		/* _IO: the argument is the client's URB address itself */
		gulong addr = *(gulong *)arg->data;
		for (GList *l = port->in_urbs.head; l != NULL; l = l->next) {
			PhonesimUrb *u = l->data;
			if (u->client == c->serial && u->urb->client_addr == addr) {
				g_queue_delete_link(&port->in_urbs, l);
				urb_finish(port, u, -ENOENT, 0);
				return 0;
			}
		}
		*eno = EINVAL;
		return -1;
	}
	default:
		*eno = ENOTTY;
		return -1;
	}
}

static gboolean
on_handle_ioctl(UMockdevIoctlBase *base, UMockdevIoctlClient *client, gpointer user)
{
	PhonesimUsbPort *port = user;
	int eno = 0;
	long ret;
	(void)base;

	g_mutex_lock(port->lock);
	ret = handle_ioctl_locked(port, client, &eno);
	g_mutex_unlock(port->lock);
	umockdev_ioctl_client_complete(client, ret, ret < 0 ? eno : 0);
	return TRUE;
}

PhonesimUsbPort *
phonesim_usb_port_new(PhonesimUsb *usb,
                      guint port_number,
                      const PhonesimUsbCallbacks *callbacks,
                      gpointer user,
                      GError **error)
{
	if (port_number < 1 || port_number > PHONESIM_MAX_PORTS) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
		            "port %u out of range 1..%u", port_number, PHONESIM_MAX_PORTS);
		return NULL;
	}
	PhonesimUsbPort *port = g_new0(PhonesimUsbPort, 1);
	port->refcount = 1;
	port->usb = usb;
	port->out_transfer = g_byte_array_new();
	port->number = port_number;
	port->devnum = port_number + 1; /* the root hub is device 1 */
	port->syspath = g_strdup_printf("%s/%u-%u", ROOT_HUB_SYSPATH, PHONESIM_BUSNUM, port_number);
	port->devnode = g_strdup_printf("/dev/bus/usb/%03u/%03u", PHONESIM_BUSNUM, port->devnum);
	g_mutex_init(&port->lock_storage);
	port->lock = &port->lock_storage;
	port->callbacks = callbacks;
	port->user = user;
	build_descriptors(port);
	port->handler = umockdev_ioctl_base_new();
	g_signal_connect(port->handler, "handle-ioctl", G_CALLBACK(on_handle_ioctl), port);
	/* attaching before the node exists is fine, and the attachment outlives unplugs */
	if (!umockdev_testbed_attach_ioctl(usb->testbed, port->devnode, port->handler, error)) {
		g_prefix_error(error, "cannot attach the ioctl handler to %s: ", port->devnode);
		phonesim_usb_port_close(port);
		phonesim_usb_port_unref(port);
		return NULL;
	}
	return port;
}

gboolean
phonesim_usb_port_plug(PhonesimUsbPort *port, const PhonesimUsbIdentity *identity, GError **error)
{
	g_mutex_lock(port->lock);
	gboolean plugged = port->plugged;
	g_mutex_unlock(port->lock);
	if (plugged) {
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_EXISTS, "already plugged in (port 1-%u)",
		            port->number);
		return FALSE;
	}

	g_autofree gchar *record = NULL;
	g_mutex_lock(port->lock);
	build_strings(port, identity);
	record = device_record(port, identity);
	port->generation++;
	port->connected = TRUE;
	port->plugged = TRUE;
	g_mutex_unlock(port->lock);

	/* add_from_string writes sysfs + the node with the descriptors, then sends "add" */
	if (!umockdev_testbed_add_from_string(port->usb->testbed, record, error)) {
		g_prefix_error(error, "cannot add %s to the testbed: ", port->syspath);
		g_mutex_lock(port->lock);
		port->connected = FALSE;
		port->plugged = FALSE;
		g_mutex_unlock(port->lock);
		return FALSE;
	}
	return TRUE;
}

void
phonesim_usb_port_unplug(PhonesimUsbPort *port)
{
	g_mutex_lock(port->lock);
	gboolean plugged = port->plugged;
	g_mutex_unlock(port->lock);
	if (!plugged)
		return;

	/* 0.17.16's remove_device() sends no uevent: announce the removal first */
	umockdev_testbed_uevent(port->usb->testbed, port->syspath, "remove");
	g_mutex_lock(port->lock);
	phonesim_usb_port_cut_locked(port);
	port->plugged = FALSE;
	g_mutex_unlock(port->lock);
	umockdev_testbed_remove_device(port->usb->testbed, port->syspath);
}

void
phonesim_usb_port_lock(PhonesimUsbPort *port)
{
	g_mutex_lock(port->lock);
}

void
phonesim_usb_port_unlock(PhonesimUsbPort *port)
{
	g_mutex_unlock(port->lock);
}

void
phonesim_usb_port_close(PhonesimUsbPort *port)
{
	phonesim_usb_port_unplug(port);
	if (port->handler != NULL) {
		umockdev_testbed_detach_ioctl(port->usb->testbed, port->devnode, NULL);
		g_signal_handlers_disconnect_by_data(port->handler, port);
		g_clear_object(&port->handler);
	}
	g_mutex_lock(port->lock);
	port->callbacks = NULL;
	port->user = NULL;
	g_mutex_unlock(port->lock);
}

void
phonesim_usb_port_unref(PhonesimUsbPort *port)
{
	if (port == NULL || !g_atomic_int_dec_and_test(&port->refcount))
		return;
	g_queue_clear_full(&port->in_urbs, (GDestroyNotify)urb_free);
	g_queue_clear_full(&port->done, (GDestroyNotify)urb_free);
	g_queue_clear_full(&port->in_data, (GDestroyNotify)g_bytes_unref);
	g_clear_pointer(&port->strings, g_ptr_array_unref);
	g_byte_array_unref(port->out_transfer);
	g_mutex_clear(&port->lock_storage);
	g_free(port->syspath);
	g_free(port->devnode);
	g_free(port);
}
