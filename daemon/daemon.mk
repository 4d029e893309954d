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

$(LIBENGINE): $(ENGINE_OBJS)
	@mkdir -p $(@D)
	$(AR) rcs $@ $^

ALL_TARGETS += $(LIBENGINE)

# installed data: systemd user unit, D-Bus activation and introspection, config example
-include daemon/data/data.mk
