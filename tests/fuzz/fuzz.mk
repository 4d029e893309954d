# Fuzz targets: build-fuzz/NAME from tests/fuzz/NAME.c, built with clang,
# libFuzzer, ASan and UBSan (sources compiled directly into each binary, never
# $(BUILDDIR) objects). tests/fuzz/run-fuzz.sh runs them from a copy of their
# committed seed corpus tests/fuzz/corpus/NAME/.
#
# Adding a target (above the fuzz-build rule at the bottom):
#   FUZZ_TARGETS += NAME                    the one required line
#   NAME_SRCS = ...                         code under test, if NAME.c does not include it
#   NAME_CFLAGS = ... / NAME_LIBS = ...     e.g. $(call pkg_cflags,libxml-2.0)
#   FUZZ_DEPS += ...                        files whose change must rebuild the targets
# plus the seed directory tests/fuzz/corpus/NAME/ and, for inputs longer than
# run-fuzz.sh's default -max_len (4096), tests/fuzz/NAME.options with "max_len = N".

FUZZ_BUILDDIR := build-fuzz
FUZZ_CFLAGS := -std=gnu11 $(WARNFLAGS) -D_GNU_SOURCE -I. -g -O1 \
	-fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
	-fno-omit-frame-pointer -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_DEPS := tests/fuzz/fuzz.mk

# the CTP codec: frames and messages as both sides decode them
CTP_CODEC_SRCS := $(wildcard usbproto/codec/*.c)
FUZZ_DEPS += $(CTP_CODEC_SRCS) $(wildcard usbproto/codec/*.h) tests/fuzz/fuzz-ctp.h
FUZZ_TARGETS += fuzz-ctp-frame fuzz-ctp-message-host fuzz-ctp-message-device
fuzz-ctp-frame_SRCS = $(CTP_CODEC_SRCS)
fuzz-ctp-message-host_SRCS = $(CTP_CODEC_SRCS)
fuzz-ctp-message-device_SRCS = $(CTP_CODEC_SRCS)

# the device session library (usbproto/device) driven by a hostile host, with a fake
# phone behind its ops table; input layout in tests/fuzz/fuzz-ctp-device-session.h
CTP_DEVICE_SRCS := $(wildcard usbproto/device/*.c)
FUZZ_DEPS += $(CTP_DEVICE_SRCS) $(wildcard usbproto/device/*.h) \
	tests/fuzz/fuzz-ctp-device-session.h
FUZZ_TARGETS += fuzz-ctp-device-session
fuzz-ctp-device-session_SRCS = $(CTP_CODEC_SRCS) $(CTP_DEVICE_SRCS)

# the CTP seed generator (built by 'make tests' so that it keeps compiling);
# 'make fuzz-seeds' rewrites the committed corpora from the unit test's samples and,
# for fuzz-ctp-device-session, from scripted host sessions
CTP_SEEDS_TOOL := $(BUILDDIR)/tests/make-ctp-seeds
TEST_PROGRAMS += $(CTP_SEEDS_TOOL)
$(CTP_SEEDS_TOOL): $(BUILDDIR)/tests/fuzz/make-seeds.o $(BUILDDIR)/tests/unit/ctp-test-messages.o \
		$(LIBCTP)
	@mkdir -p $(@D)
	$(call link,$^,)

.PHONY: fuzz-seeds
fuzz-seeds: $(CTP_SEEDS_TOOL)
	rm -rf tests/fuzz/corpus/fuzz-ctp-frame tests/fuzz/corpus/fuzz-ctp-message-host \
		tests/fuzz/corpus/fuzz-ctp-message-device tests/fuzz/corpus/fuzz-ctp-device-session
	mkdir -p tests/fuzz/corpus
	$(CTP_SEEDS_TOOL) tests/fuzz/corpus

# CertProv's SOAP answer parsers (libxml2) and the certificate bundle decoder behind them
SOAP_FUZZ_SRCS := daemon/enroll/ct-soap.c daemon/enroll/ct-wstrust-crypto.c \
	daemon/engine/ct-x509.c daemon/engine/ct-error.c
FUZZ_DEPS += $(SOAP_FUZZ_SRCS) daemon/enroll/ct-soap.h daemon/enroll/ct-wstrust-crypto.h \
	daemon/engine/ct-x509.h daemon/engine/ct-error.h
FUZZ_TARGETS += fuzz-soap-response
fuzz-soap-response_SRCS = $(SOAP_FUZZ_SRCS)
fuzz-soap-response_CFLAGS = $(call pkg_cflags,gio-2.0) $(call pkg_cflags,libxml-2.0) \
	$(call pkg_cflags,openssl)
fuzz-soap-response_LIBS = $(call pkg_libs,gio-2.0) $(call pkg_libs,libxml-2.0) \
	$(call pkg_libs,openssl)

# the EST answer parser (base64/DER PKCS#7 certs-only) and the X.509 helpers behind it
EST_FUZZ_SRCS := daemon/enroll/ct-est-response.c daemon/engine/ct-x509.c daemon/engine/ct-error.c
FUZZ_DEPS += $(EST_FUZZ_SRCS) daemon/enroll/ct-est-response.h daemon/engine/ct-x509.h \
	daemon/engine/ct-error.h
FUZZ_TARGETS += fuzz-est-response
fuzz-est-response_SRCS = $(EST_FUZZ_SRCS)
fuzz-est-response_CFLAGS = $(call pkg_cflags,gio-2.0) $(call pkg_cflags,openssl)
fuzz-est-response_LIBS = $(call pkg_libs,gio-2.0) $(call pkg_libs,openssl)

# keep this rule last: its prerequisites are the targets listed so far
fuzz-build: $(addprefix $(FUZZ_BUILDDIR)/,$(FUZZ_TARGETS))

$(FUZZ_BUILDDIR)/%: tests/fuzz/%.c $(FUZZ_DEPS)
	@mkdir -p $(@D)
	$(CLANG) $(FUZZ_CFLAGS) $($*_CFLAGS) -o $@ $< $($*_SRCS) $($*_LIBS)
