# test-enroll: enrollment through the engine against the real test servers
# (run by tests/integration/enroll.sh inside a private network namespace).

$(BUILDDIR)/tests/integration/test-enroll.o: EXTRA_CFLAGS = $(ENGINE_CFLAGS)

$(BUILDDIR)/tests/test-enroll: $(BUILDDIR)/tests/integration/test-enroll.o $(LIBENGINE)
	@mkdir -p $(@D)
	$(call link,$^,$(ENGINE_LIBS))

TEST_PROGRAMS += $(BUILDDIR)/tests/test-enroll
