# integration tests (scripts run by tests/run-tests.sh with CT_BUILDDIR and CT_SRCDIR set)
INTEGRATION_TESTS += tests/integration/servers-selftest.sh
# the CertProv backend against the test servers (its build rules and script)
-include tests/integration/certprov.mk
INTEGRATION_TESTS += tests/integration/usb-provision.sh
-include tests/integration/usb-provision.mk
INTEGRATION_TESTS += tests/integration/enroll.sh
-include tests/integration/enroll.mk
INTEGRATION_TESTS += tests/integration/phonesim-smoke.sh
# activation: systemd user unit, D-Bus activation file, install rules; udev rules + hwdb
INTEGRATION_TESTS += tests/integration/activation-files.sh
INTEGRATION_TESTS += tests/integration/udev-rules.sh
# certtether (the CLI) through certtetherd and with --direct: every verb, --json, exit codes
INTEGRATION_TESTS += tests/integration/cli-daemon.sh tests/integration/cli-direct.sh
# certtether test (client-auth, bootstrap, chain) and bench: servers, phonesim, --direct
INTEGRATION_TESTS += tests/integration/cli-test.sh tests/integration/cli-bench.sh
# certtetherd end to end (issue 4's acceptance): private bus, phonesim, the test servers;
# shared setup in tests/integration/lib-daemon.sh; fake-notifyd stands in for the desktop
-include tests/integration/notify.mk
INTEGRATION_TESTS += tests/integration/daemon-provision.sh tests/integration/daemon-unplug.sh \
	tests/integration/daemon-crash.sh tests/integration/daemon-many.sh \
	tests/integration/daemon-activation.sh
