#!/bin/bash
# The CTP host transport against emulated phones: runs test-usb-provision (GLib,
# TAP) as the child of phonesim under umockdev-wrapper, so that real libusb in it
# sees phonesim's bus. Needs CT_BUILDDIR (tests/run-tests.sh sets it).
set -u
: "${CT_BUILDDIR:?set CT_BUILDDIR to the build directory (tests/run-tests.sh does)}"
export CT_BUILDDIR
for f in tests/phonesim tests/test-usb-provision; do
	if [ ! -x "$CT_BUILDDIR/$f" ]; then
		echo "not ok 1 - $CT_BUILDDIR/$f is missing: run 'make BUILDDIR=$CT_BUILDDIR tests'"
		echo "1..1"
		exit 1
	fi
done
if ! command -v umockdev-wrapper >/dev/null; then
	echo "not ok 1 - umockdev-wrapper not found: apt-get install umockdev (or make deps)"
	echo "1..1"
	exit 1
fi
# umockdev preloads its library before ASan's runtime
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
case "$ASAN_OPTIONS" in *verify_asan_link_order=0*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;; esac

state=$(mktemp -d "${TMPDIR:-/tmp}/usb-provision.XXXXXX")
trap 'rm -rf "$state"' EXIT
umockdev-wrapper "$CT_BUILDDIR/tests/phonesim" --state-dir "$state" --quiet -- \
	"$CT_BUILDDIR/tests/test-usb-provision" --tap "$@"
