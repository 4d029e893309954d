#!/bin/bash
# Enrollment against the real test servers: starts tests/servers in a private network
# namespace, kinits alice, runs test-enroll (GLib, TAP) and stops the servers.
# Needs CT_BUILDDIR (tests/run-tests.sh sets it); extra arguments go to test-enroll
# (e.g. -p /enroll/est/negotiate).
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
: "${CT_BUILDDIR:?set CT_BUILDDIR to the build directory (tests/run-tests.sh does)}"
PROG=$CT_BUILDDIR/tests/test-enroll
if [ ! -x "$PROG" ]; then
	echo "not ok 1 - $PROG is missing: run 'make BUILDDIR=$CT_BUILDDIR tests'"
	echo "1..1"
	exit 1
fi
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"

W=$(mktemp -d /tmp/ct-enroll.XXXXXX)
finish() {
	"$SRC/tests/servers/stop" "$W/srv" >/dev/null 2>&1
	rm -rf "$W"
}
trap finish EXIT
# a timeout (tests/run-tests.sh) sends SIGTERM: still stop the servers
trap 'exit 1' TERM INT HUP

if ! out=$("$SRC/tests/servers/start" "$W/srv" 2>&1); then
	echo "Bail out! the test servers did not start: $out"
	exit 1
fi
echo "# $out"
. "$W/srv/env.sh"
if ! echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null 2>&1; then
	echo "Bail out! kinit $CERTTETHER_TEST_USER failed"
	exit 1
fi
# not exec: the EXIT trap must stop the servers
"$PROG" --tap "$@"
