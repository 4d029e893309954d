# The CertProv backend against the test servers: tests/integration/certprov.sh (netns,
# servers, kinit) runs $(BUILDDIR)/tests/test-certprov --tap.
CERTPROV_IT := $(BUILDDIR)/tests/test-certprov
TEST_PROGRAMS += $(CERTPROV_IT)
INTEGRATION_TESTS += tests/integration/certprov.sh

$(BUILDDIR)/tests/integration/test-certprov.o: EXTRA_CFLAGS = $(TEST_CFLAGS) $(ENGINE_CFLAGS)
$(CERTPROV_IT): $(BUILDDIR)/tests/integration/test-certprov.o $(BUILDDIR)/tests/unit/ct-test-pki.o \
		$(ENGINE_LINK)
	@mkdir -p $(@D)
	$(call link,$(filter %.o %.a,$^),$(ENGINE_LIBS) $(TEST_LIBS))
