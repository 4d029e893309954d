# usbproto: the codec and the device-side session are libc only (embeddable in
# phone firmware); the host transport adds libusb.

CTP_CORE_SRCS := $(wildcard usbproto/codec/*.c) $(wildcard usbproto/device/*.c)
CTP_CORE_OBJS := $(patsubst %.c,$(BUILDDIR)/%.o,$(CTP_CORE_SRCS))
CTP_HOST_SRCS := $(wildcard usbproto/host/*.c)
CTP_HOST_OBJS := $(patsubst %.c,$(BUILDDIR)/%.o,$(CTP_HOST_SRCS))

LIBCTP := $(BUILDDIR)/usbproto/libctp.a
LIBCTP_HOST := $(BUILDDIR)/usbproto/libctp-host.a
LIBCTP_HOST_LIBS = $(call pkg_libs,libusb-1.0)

# the core gets no library include paths at all: a stray #include <glib.h> fails;
# tests/unit checks with nm that libctp.a calls nothing but a short list of libc functions
$(CTP_CORE_OBJS): EXTRA_CFLAGS :=
$(CTP_HOST_OBJS): EXTRA_CFLAGS = $(call pkg_cflags,libusb-1.0)

$(LIBCTP): $(CTP_CORE_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(LIBCTP_HOST): $(CTP_HOST_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

ALL_TARGETS += $(LIBCTP) $(LIBCTP_HOST)
