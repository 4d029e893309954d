# fake-notifyd: a stand-in org.freedesktop.Notifications for the daemon's tests
FAKE_NOTIFYD := $(BUILDDIR)/tests/fake-notifyd
FAKE_NOTIFYD_OBJS := $(BUILDDIR)/tests/integration/fake-notifyd.o

$(FAKE_NOTIFYD_OBJS): EXTRA_CFLAGS = $(call pkg_cflags,gio-2.0 gio-unix-2.0)

$(FAKE_NOTIFYD): $(FAKE_NOTIFYD_OBJS)
	@mkdir -p $(@D)
	$(call link,$^,$(call pkg_libs,gio-2.0 gio-unix-2.0))

TEST_PROGRAMS += $(FAKE_NOTIFYD)
