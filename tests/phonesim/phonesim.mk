# phonesim: the emulated phone (tests/phonesim/README.md).
#
#   $(BUILDDIR)/tests/phonesim        the simulator (run under umockdev-wrapper)
#   $(BUILDDIR)/tests/phonesim-ctl    one control command to a running phonesim
#   $(BUILDDIR)/tests/phonesim-probe  a plain libusb + codec probe, for the smoke test
#   $(PHONESIM_CLIENT_LIB)            phonesim.h's client API, for in-process tests
#
# pkg_cflags / pkg_libs are called once per package: the top-level helper caches by
# name and cannot take a list.
#
# The program $(BUILDDIR)/tests/phonesim takes the path where the common rule would put
# this directory's objects, so they go to $(PHONESIM_OBJDIR) with the same recipe.

PHONESIM_OBJDIR := $(BUILDDIR)/tests/phonesim-objs

$(PHONESIM_OBJDIR)/%.o: tests/phonesim/%.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

PHONESIM_PKG_CFLAGS = $(call pkg_cflags,glib-2.0) $(call pkg_cflags,gio-2.0) \
	$(call pkg_cflags,gio-unix-2.0) $(call pkg_cflags,json-glib-1.0) \
	$(call pkg_cflags,umockdev-1.0) $(call pkg_cflags,openssl)
PHONESIM_PKG_LIBS = $(call pkg_libs,glib-2.0) $(call pkg_libs,gio-2.0) \
	$(call pkg_libs,gio-unix-2.0) $(call pkg_libs,json-glib-1.0) \
	$(call pkg_libs,umockdev-1.0) $(call pkg_libs,openssl)
PHONESIM_CTL_PKG_LIBS = $(call pkg_libs,glib-2.0) $(call pkg_libs,gio-2.0) \
	$(call pkg_libs,gio-unix-2.0)
PHONESIM_PROBE_PKG_CFLAGS = $(PHONESIM_PKG_CFLAGS) $(call pkg_cflags,libusb-1.0)
PHONESIM_PROBE_PKG_LIBS = $(call pkg_libs,glib-2.0) $(call pkg_libs,gio-2.0) $(call pkg_libs,libusb-1.0) \
	$(call pkg_libs,openssl)

PHONESIM_SIM_SRCS := tests/phonesim/phonesim-main.c tests/phonesim/phonesim-sim.c \
	tests/phonesim/phonesim-phone.c tests/phonesim/phonesim-control.c \
	tests/phonesim/phonesim-device.c tests/phonesim/phonesim-state.c \
	tests/phonesim/phonesim-misbehave.c tests/phonesim/phonesim-usb.c
PHONESIM_SIM_OBJS := $(patsubst tests/phonesim/%.c,$(PHONESIM_OBJDIR)/%.o,$(PHONESIM_SIM_SRCS))
PHONESIM_CLIENT_OBJ := $(PHONESIM_OBJDIR)/phonesim-client.o
PHONESIM_CTL_OBJ := $(PHONESIM_OBJDIR)/phonesim-ctl.o
PHONESIM_PROBE_OBJ := $(PHONESIM_OBJDIR)/phonesim-probe.o
PHONESIM_CLIENT_LIB := $(PHONESIM_OBJDIR)/libphonesim-client.a

$(PHONESIM_SIM_OBJS) $(PHONESIM_CLIENT_OBJ) $(PHONESIM_CTL_OBJ): \
	EXTRA_CFLAGS = $(PHONESIM_PKG_CFLAGS)
$(PHONESIM_PROBE_OBJ): EXTRA_CFLAGS = $(PHONESIM_PROBE_PKG_CFLAGS)

$(BUILDDIR)/tests/phonesim: $(PHONESIM_SIM_OBJS) $(LIBCTP)
	@mkdir -p $(@D)
	$(call link,$^,$(PHONESIM_PKG_LIBS))

$(PHONESIM_CLIENT_LIB): $(PHONESIM_CLIENT_OBJ)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

$(BUILDDIR)/tests/phonesim-ctl: $(PHONESIM_CTL_OBJ) $(PHONESIM_CLIENT_LIB)
	@mkdir -p $(@D)
	$(call link,$^,$(PHONESIM_CTL_PKG_LIBS))

$(BUILDDIR)/tests/phonesim-probe: $(PHONESIM_PROBE_OBJ) $(LIBCTP)
	@mkdir -p $(@D)
	$(call link,$^,$(PHONESIM_PROBE_PKG_LIBS))

TEST_PROGRAMS += $(BUILDDIR)/tests/phonesim $(BUILDDIR)/tests/phonesim-ctl \
	$(BUILDDIR)/tests/phonesim-probe $(PHONESIM_CLIENT_LIB)
