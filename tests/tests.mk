# tests: each part adds its programs from its own fragment
-include tests/unit/unit.mk
-include tests/phonesim/phonesim.mk
-include tests/integration/integration.mk
-include tests/fuzz/fuzz.mk
-include tests/bench/bench.mk

# a GLib test program: $(BUILDDIR)/tests/NAME from tests/.../NAME.c
TEST_CFLAGS = $(call pkg_cflags,glib-2.0 gio-2.0)
TEST_LIBS = $(call pkg_libs,glib-2.0 gio-2.0)
