# integration tests (scripts run by tests/run-tests.sh with CT_BUILDDIR and CT_SRCDIR set)
INTEGRATION_TESTS += tests/integration/servers-selftest.sh
