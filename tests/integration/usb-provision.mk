# test-usb-provision: the host transport over real libusb and phonesim
# (run by tests/integration/usb-provision.sh)

USB_PROVISION_OBJS := $(BUILDDIR)/tests/integration/test-usb-provision.o
USB_PROVISION_PKGS := glib-2.0 gio-2.0 json-glib-1.0 libcrypto libusb-1.0

$(USB_PROVISION_OBJS): EXTRA_CFLAGS = $(foreach p,$(USB_PROVISION_PKGS),$(call pkg_cflags,$(p)))

# phonesim's client API (in process: no fork under umockdev, see the test's header)
# the main-loop adapter is the engine's own (daemon/engine/ct-usb-source.c), so the test
# drives the transport exactly as certtetherd does
$(BUILDDIR)/tests/test-usb-provision: $(USB_PROVISION_OBJS) $(BUILDDIR)/daemon/engine/ct-usb-source.o \
		$(PHONESIM_CLIENT_LIB) $(LIBCTP_HOST) $(LIBCTP)
	@mkdir -p $(@D)
	$(call link,$^,$(foreach p,$(USB_PROVISION_PKGS),$(call pkg_libs,$(p))))

TEST_PROGRAMS += $(BUILDDIR)/tests/test-usb-provision
