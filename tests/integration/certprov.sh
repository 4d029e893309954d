#!/bin/bash
# certprov.sh — the CertProv backend (daemon/enroll/ct-certprov.c) against the real test
# servers: re-executes itself in a private network namespace (tests/servers/in-netns),
# starts the servers, takes a Kerberos ticket for alice and runs the GLib test program
# $CT_BUILDDIR/tests/test-certprov --tap; the servers are stopped whatever happens.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${CT_BUILDDIR:-$SRC/build}
S=$SRC/tests/servers
if [ -z "${CT_IN_NETNS:-}" ]; then
	exec "$S/in-netns" "$0" "$@"
fi
PROG=$BUILD/tests/test-certprov
if [ ! -x "$PROG" ]; then
	echo "Bail out! $PROG is missing: run make BUILDDIR=${BUILD##*/} tests"
	exit 1
fi

W=$(mktemp -d /tmp/ct-certprov.XXXXXX)
status=1
finish() {
	"$S/stop" "$W/srv" >/dev/null 2>&1
	if [ "$status" = 0 ]; then
		rm -rf "$W"
	else
		echo "# kept $W for debugging; the fixture's request log:"
		sed 's/^/#   /' "$W/srv/log/requests.log" 2>/dev/null | tail -n 30
	fi
}
trap finish EXIT
# a timeout (tests/run-tests.sh) sends SIGTERM: still stop the servers
trap 'exit 1' TERM INT HUP

if ! "$S/start" "$W/srv" >"$W/start.log" 2>&1; then
	echo "Bail out! the test servers did not start: $(tail -n 3 "$W/start.log")"
	exit 1
fi
. "$W/srv/env.sh"
if ! echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >"$W/kinit.log" 2>&1; then
	echo "Bail out! kinit $CERTTETHER_TEST_USER failed: $(cat "$W/kinit.log")"
	exit 1
fi
"$PROG" --tap
status=$?
exit "$status"
