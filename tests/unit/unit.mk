# Unit tests: $(BUILDDIR)/tests/NAME is built from tests/unit/NAME.c (GLib g_test,
# run with --tap by tests/run-tests.sh in build/ and build-asan/).
#
# Adding a test is one line (two if it needs more than GLib):
#   $(eval $(call unit_test,NAME,OBJECTS-AND-ARCHIVES-IT-LINKS))
#   NAME_CFLAGS = $(call pkg_cflags,openssl)   NAME_LIBS = $(call pkg_libs,openssl)
# e.g. $(eval $(call unit_test,test-ct-policy,$(LIBENGINE) $(LIBCTP_HOST) $(LIBCTP)))
# (NAME_CFLAGS / NAME_LIBS stay unexpanded until used, like the rest of the build.)
# Helper sources shared by several tests live in tests/unit/ too, not named test-*.

# every object under tests/unit/ may use GLib
$(BUILDDIR)/tests/unit/%.o: EXTRA_CFLAGS = $(TEST_CFLAGS)

define unit_test
UNIT_TESTS += $(1)
TEST_PROGRAMS += $$(BUILDDIR)/tests/$(1)
$$(BUILDDIR)/tests/unit/$(1).o: EXTRA_CFLAGS = $$(TEST_CFLAGS) $$($(1)_CFLAGS)
$$(BUILDDIR)/tests/$(1): $$(BUILDDIR)/tests/unit/$(1).o $(2)
	@mkdir -p $$(@D)
	$$(call link,$$(filter %.o %.a,$$^),$$($(1)_LIBS) $$(TEST_LIBS))
endef

# sample messages of every CTP type, shared with tests/fuzz/make-seeds.c
CTP_TEST_MESSAGES_OBJ := $(BUILDDIR)/tests/unit/ctp-test-messages.o

$(eval $(call unit_test,test-ctp-codec,$(CTP_TEST_MESSAGES_OBJ) $(LIBCTP)))
# links nothing of libctp.a: it inspects the archive with nm (needs it built)
$(eval $(call unit_test,test-ctp-core-symbols,$(LIBCTP)))
# the device session library with fake firmware ops
$(eval $(call unit_test,test-ctp-device-session,$(LIBCTP)))

# engine: ledger, policy, CSR and identity checks; keys, CSRs and certificates are made
# in the tests with OpenSSL (tests/unit/ct-test-pki.c)
CT_TEST_PKI_OBJ := $(BUILDDIR)/tests/unit/ct-test-pki.o
$(eval $(call unit_test,test-ct-csr-check,$(CT_TEST_PKI_OBJ) $(ENGINE_LINK)))
test-ct-csr-check_CFLAGS = $(ENGINE_CFLAGS)
test-ct-csr-check_LIBS = $(ENGINE_LIBS)

# host transport: the parts that need no device (libusb headers for the descriptor structs)
$(eval $(call unit_test,test-ctp-host,$(LIBCTP_HOST) $(LIBCTP)))
test-ctp-host_CFLAGS = $(call pkg_cflags,libusb-1.0)
test-ctp-host_LIBS = $(LIBCTP_HOST_LIBS)

# CertProv: XML building/parsing (libxml2), exclusive C14N, WS-Trust P_SHA1 and HMAC-SHA1,
# faults; documents and P_SHA1 vectors in tests/unit/data/certprov/
$(eval $(call unit_test,test-certprov-xml,$(ENGINE_LINK)))
test-certprov-xml_CFLAGS = $(ENGINE_CFLAGS)
test-certprov-xml_LIBS = $(ENGINE_LIBS)
$(eval $(call unit_test,test-ct-ledger,$(CT_TEST_PKI_OBJ) $(ENGINE_LINK)))
test-ct-ledger_CFLAGS = $(ENGINE_CFLAGS)
test-ct-ledger_LIBS = $(ENGINE_LIBS)
$(eval $(call unit_test,test-ct-policy,$(CT_TEST_PKI_OBJ) $(ENGINE_LINK)))
test-ct-policy_CFLAGS = $(ENGINE_CFLAGS)
test-ct-policy_LIBS = $(ENGINE_LIBS)

# enrollment (issue 3): backoff, config, identity, X.509/EST parsing, verification, the HTTP
# client (loopback HTTP server; TLS against openssl s_server), retry orchestration;
# ct-test-issue.o makes their keys and certificates
CT_ENROLL_UNIT_TESTS := test-ct-backoff test-ct-config test-ct-credentials test-ct-identity \
	test-ct-x509 test-ct-verify test-ct-http test-ct-http-tls test-ct-enrollment
$(foreach t,$(CT_ENROLL_UNIT_TESTS),$(eval $(call unit_test,$(t),$(BUILDDIR)/tests/unit/ct-test-issue.o $(LIBENGINE))))
$(foreach t,$(CT_ENROLL_UNIT_TESTS),$(eval $(t)_CFLAGS = $$(ENGINE_CFLAGS)))
$(foreach t,$(CT_ENROLL_UNIT_TESTS),$(eval $(t)_LIBS = $$(ENGINE_LIBS)))
