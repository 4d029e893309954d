# certtether — top-level build.
#
#   make              build everything (warnings are errors)
#   make check        install missing packages, build normal + ASan/UBSan, run every test
#   make demo         end-to-end demo: test servers, daemon, emulated phone
#   make bench        print performance figures (not a test)
#   make fuzz         run every fuzz target for longer (FUZZ_SECONDS, default 60)
#   make install      PREFIX=/usr/local DESTDIR=
#   make format       apply .clang-format
#   make deps         apt-get the Debian 12 packages the build and tests need
#
# Each component adds its targets from its own fragment (usbproto/usbproto.mk, ...).
# Objects go to $(BUILDDIR); the sanitizer variant is the same tree built with
# BUILDDIR=build-asan SANITIZE=1.

BUILDDIR ?= build
SANITIZE ?= 0
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR ?= $(PREFIX)/bin
LIBEXECDIR ?= $(PREFIX)/libexec
DATADIR ?= $(PREFIX)/share
MANDIR ?= $(DATADIR)/man
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
UDEVDIR ?= $(if $(filter /usr,$(PREFIX)),/usr/lib/udev,$(PREFIX)/lib/udev)
SYSTEMDUSERUNITDIR ?= $(PREFIX)/lib/systemd/user
FUZZ_SECONDS ?= 60
CHECK_FUZZ_SECONDS ?= 10
VERSION := 0.1.0

CC ?= cc
CLANG ?= clang
PKG_CONFIG ?= pkg-config
CFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Werror -Wformat=2 -Wshadow -Wstrict-prototypes \
	-Wmissing-prototypes -Wpointer-arith -Wvla -Wundef
BASE_CFLAGS := -std=gnu11 $(WARNFLAGS) -D_GNU_SOURCE -DCT_VERSION='"$(VERSION)"' \
	-fno-strict-aliasing -I.
BASE_LDFLAGS :=

ifeq ($(SANITIZE),1)
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
BASE_CFLAGS += $(SAN_FLAGS) -DCT_SANITIZED=1
BASE_LDFLAGS += $(SAN_FLAGS)
endif

# pkg-config is asked lazily (recursive '=' plus a once-only cache), so that
# 'make deps' can run on a machine where the -dev packages are still missing.
empty :=
space := $(empty) $(empty)
pc_key = $(subst $(space),_,$(subst -,_,$(subst .,_,$(strip $1))))
pkg_cflags = $(or $(_pc_c_$(call pc_key,$1)),$(eval _pc_c_$(call pc_key,$1) := $$(shell $(PKG_CONFIG) --cflags $1))$(_pc_c_$(call pc_key,$1)))
pkg_libs = $(or $(_pc_l_$(call pc_key,$1)),$(eval _pc_l_$(call pc_key,$1) := $$(shell $(PKG_CONFIG) --libs $1))$(_pc_l_$(call pc_key,$1)))

# ALL_TARGETS: what 'make' builds; TEST_PROGRAMS: what 'make tests' adds;
# UNIT_TESTS / INTEGRATION_TESTS: paths the runner executes (unit tests as
# $(BUILDDIR)-relative program names, integration tests as repository paths);
# FUZZ_TARGETS: libFuzzer program names built into build-fuzz/
ALL_TARGETS :=
TEST_PROGRAMS :=
UNIT_TESTS :=
INTEGRATION_TESTS :=
FUZZ_TARGETS :=
INSTALL_RULES :=

.DEFAULT_GOAL := all

# one compile rule for every C file; a fragment adds flags per object with
# target-specific variables (EXTRA_CFLAGS), so usbproto's core sees no library headers
$(BUILDDIR)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(BASE_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

# link helper: $(call link,objects-and-libs,ldlibs)
link = $(CC) $(BASE_LDFLAGS) $(LDFLAGS) -o $@ $(1) $(2)

include usbproto/usbproto.mk
-include daemon/daemon.mk
-include ui-cli/ui-cli.mk
-include udev/udev.mk
include tests/tests.mk

.PHONY: all tests check check-build check-run demo bench fuzz fuzz-build install format deps clean

all: $(ALL_TARGETS)

tests: all $(TEST_PROGRAMS)

# 'make check' = deps, both variants, then every test; the runner prints the summary line
# builds use every core unless the caller chose -jN itself
CHECK_JOBS ?= $(shell nproc 2>/dev/null || echo 2)
check_j = $(if $(findstring -j,$(MAKEFLAGS)),,-j$(CHECK_JOBS))

check: deps
	+$(MAKE) --no-print-directory $(check_j) BUILDDIR=build tests
	+$(MAKE) --no-print-directory $(check_j) BUILDDIR=build-asan SANITIZE=1 tests
	+$(MAKE) --no-print-directory $(check_j) fuzz-build
	+$(MAKE) --no-print-directory check-run

check-run:
	tests/run-tests.sh --fuzz-seconds $(CHECK_FUZZ_SECONDS) \
		--unit "$(UNIT_TESTS)" --integration "$(INTEGRATION_TESTS)" --fuzz "$(FUZZ_TARGETS)"

demo: deps
	+$(MAKE) --no-print-directory $(check_j) BUILDDIR=build all tests
	tests/demo.sh

bench: deps
	+$(MAKE) --no-print-directory $(check_j) BUILDDIR=build all tests
	tests/bench/run-bench.sh

fuzz: deps fuzz-build
	tests/fuzz/run-fuzz.sh --seconds $(FUZZ_SECONDS)

install: all $(INSTALL_RULES)

format:
	git ls-files '*.c' '*.h' | xargs clang-format -i

# The Debian 12 packages for building, testing and the demo.
DEB_PACKAGES := build-essential pkg-config clang libclang-rt-14-dev clang-format \
	libglib2.0-dev libglib2.0-bin libjson-glib-dev libusb-1.0-0-dev libssl-dev openssl \
	libcurl4-openssl-dev libxml2-dev libsqlite3-dev sqlite3 libsecret-1-dev libkrb5-dev \
	umockdev libumockdev-dev dbus-daemon dbus-bin dbus-user-session \
	krb5-kdc krb5-admin-server krb5-user apache2 libapache2-mod-auth-gssapi \
	python3 python3-lxml curl iproute2 util-linux procps jq \
	systemd udev man-db groff-base bash-completion

deps:
	@missing=$$(for p in $(DEB_PACKAGES); do \
		dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q 'ok installed' || printf '%s ' $$p; \
	done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ]; then \
		echo "make deps: these Debian packages are missing: $$missing" >&2; \
		echo "make deps: as root, run:  apt-get install -y --no-install-recommends $$missing" >&2; \
		exit 1; \
	fi; \
	echo "make deps: installing $$missing"; \
	tests/tools/apt-install.sh $$missing

clean:
	rm -rf build build-asan build-fuzz

-include $(shell find $(BUILDDIR) -name '*.d' 2>/dev/null)
