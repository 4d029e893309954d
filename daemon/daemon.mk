# daemon: the engine library (engine/ + enroll/), linked by certtetherd and by
# the certtether CLI, and certtetherd itself (service/).

ENGINE_PKGS := glib-2.0 gobject-2.0 gio-2.0 gio-unix-2.0 libusb-1.0 openssl libcurl \
	libxml-2.0 sqlite3 krb5-gssapi libsecret-1
ENGINE_SRCS := $(wildcard daemon/engine/*.c) $(wildcard daemon/enroll/*.c)
ENGINE_OBJS := $(patsubst %.c,$(BUILDDIR)/%.o,$(ENGINE_SRCS))
LIBENGINE := $(BUILDDIR)/daemon/libcerttether-engine.a
ENGINE_CFLAGS = $(call pkg_cflags,$(ENGINE_PKGS)) -DG_LOG_USE_STRUCTURED=1 \
	-DGLIB_VERSION_MIN_REQUIRED=GLIB_VERSION_2_74 -DGLIB_VERSION_MAX_ALLOWED=GLIB_VERSION_2_74
# everything a program linking the engine needs, in link order
ENGINE_LINK = $(LIBENGINE) $(LIBCTP_HOST) $(LIBCTP)
ENGINE_LIBS = $(call pkg_libs,$(ENGINE_PKGS))

$(ENGINE_OBJS): EXTRA_CFLAGS = $(ENGINE_CFLAGS) -DG_LOG_DOMAIN='"certtether"'
# where the system-wide certtether.conf lives (ct-config.c)
$(BUILDDIR)/daemon/engine/ct-config.o: EXTRA_CFLAGS += -DCT_SYSCONFDIR='"$(SYSCONFDIR)"'

$(LIBENGINE): $(ENGINE_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

ALL_TARGETS += $(LIBENGINE)

# installed data: systemd user unit, D-Bus activation and introspection, config example
-include daemon/data/data.mk

# the D-Bus API: C skeletons and proxies generated from the committed XML, for
# certtetherd (skeletons) and the certtether CLI (proxies)
DBUS_XML := daemon/data/org.certtether.Daemon1.xml
DBUS_GEN_DIR := $(BUILDDIR)/daemon/service
DBUS_GEN_C := $(DBUS_GEN_DIR)/ctd-dbus-generated.c
DBUS_GEN_H := $(DBUS_GEN_DIR)/ctd-dbus-generated.h
DBUS_GEN_O := $(DBUS_GEN_DIR)/ctd-dbus-generated.o
LIBCTD_DBUS := $(BUILDDIR)/daemon/libctd-dbus.a

$(DBUS_GEN_C) $(DBUS_GEN_H) &: $(DBUS_XML)
	@mkdir -p $(DBUS_GEN_DIR)
	cd $(DBUS_GEN_DIR) && gdbus-codegen --interface-prefix org.certtether. \
		--c-namespace CtdDbus --c-generate-object-manager --glib-min-required 2.74 \
		--generate-c-code ctd-dbus-generated $(CURDIR)/$(DBUS_XML)

# generated code is not ours to warn about: plain flags, no -Werror
$(DBUS_GEN_O): $(DBUS_GEN_C) $(DBUS_GEN_H)
	$(CC) -std=gnu11 $(CFLAGS) $(SAN_FLAGS) $(call pkg_cflags,gio-2.0 gio-unix-2.0) -c $< -o $@

$(LIBCTD_DBUS): $(DBUS_GEN_O)
	$(AR) rcs $@ $^

# certtetherd
CTD_SRCS := $(wildcard daemon/service/*.c)
CTD_OBJS := $(patsubst %.c,$(BUILDDIR)/%.o,$(CTD_SRCS))
CERTTETHERD := $(BUILDDIR)/daemon/certtetherd

$(CTD_OBJS): EXTRA_CFLAGS = $(ENGINE_CFLAGS) -I$(DBUS_GEN_DIR) -DG_LOG_DOMAIN='"certtetherd"'
$(CTD_OBJS): $(DBUS_GEN_H)

$(CERTTETHERD): $(CTD_OBJS) $(LIBCTD_DBUS) $(ENGINE_LINK)
	$(call link,$(CTD_OBJS) $(LIBCTD_DBUS) $(ENGINE_LINK),$(ENGINE_LIBS))

ALL_TARGETS += $(CERTTETHERD)

install-daemon: $(CERTTETHERD)
	install -D -m 0755 $(CERTTETHERD) $(DESTDIR)$(LIBEXECDIR)/certtetherd
	install -D -m 0644 $(DBUS_XML) $(DESTDIR)$(DATADIR)/dbus-1/interfaces/org.certtether.Daemon1.xml
	install -D -m 0644 daemon/data/certtetherd.8 $(DESTDIR)$(MANDIR)/man8/certtetherd.8
	install -D -m 0644 daemon/data/certtether.conf.5 $(DESTDIR)$(MANDIR)/man5/certtether.conf.5

INSTALL_RULES += install-daemon
.PHONY: install-daemon
