# Unit tests: $(BUILDDIR)/tests/NAME is built from tests/unit/NAME.c (GLib g_test,
# run with --tap by tests/run-tests.sh in build/ and build-asan/).
#
# Adding a test is one line:
#   $(eval $(call unit_test,NAME,OBJECTS-AND-ARCHIVES-IT-LINKS,EXTRA-LDLIBS))
# e.g. $(eval $(call unit_test,test-ct-policy,$(LIBCT_ENGINE) $(LIBCTP),$(call pkg_libs,openssl)))
# Helper sources shared by several tests live in tests/unit/ too (not named test-*).

# every object under tests/unit/ may use GLib
$(BUILDDIR)/tests/unit/%.o: EXTRA_CFLAGS = $(TEST_CFLAGS)

define unit_test
UNIT_TESTS += $(1)
TEST_PROGRAMS += $$(BUILDDIR)/tests/$(1)
$$(BUILDDIR)/tests/$(1): $$(BUILDDIR)/tests/unit/$(1).o $(2)
	@mkdir -p $$(@D)
	$$(call link,$$(filter %.o %.a,$$^),$$(TEST_LIBS) $(3))
endef

CTP_TEST_MESSAGES_OBJ := $(BUILDDIR)/tests/unit/ctp-test-messages.o

$(eval $(call unit_test,test-ctp-codec,$(CTP_TEST_MESSAGES_OBJ) $(LIBCTP)))
$(eval $(call unit_test,test-ctp-core-symbols,$(LIBCTP)))

# host transport: the parts that need no device (libusb headers for the descriptor structs)
$(BUILDDIR)/tests/unit/test-ctp-host.o: EXTRA_CFLAGS = $(TEST_CFLAGS) $(call pkg_cflags,libusb-1.0)
$(eval $(call unit_test,test-ctp-host,$(LIBCTP_HOST) $(LIBCTP),$(LIBCTP_HOST_LIBS)))
