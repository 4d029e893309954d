#!/bin/bash
# make demo: certtether end to end on this machine, nothing to set up.
#
# Brings up the test servers (MIT KDC + Apache with the CertProv and EST
# fixtures) on loopback in a private network namespace, gets a Kerberos ticket
# for the demo user, starts certtetherd on a private session bus, plugs in an
# emulated phone (phonesim), shows it waiting for approval, approves it with
# `certtether approve`, follows it with `certtether provision`, and shows it
# provisioned: the states it went through (`certtether history`) and the
# certificate's subject, issuer and expiry as the phone holds it; then checks
# with `certtether test chain` that the phone trusts the web service. Everything
# started is stopped by PID on exit, whatever happens.
#
# Exit status 0 only when the phone ends holding a certificate for the demo user.
# Uses the binaries of $CT_BUILDDIR (default build/; `make demo` builds them).
set -u
SRC=$(cd "$(dirname "$0")/.." && pwd)
B=${CT_BUILDDIR:-$SRC/build}
CLI=$B/ui-cli/certtether
CTD=$B/daemon/certtetherd
PHONESIM=$B/tests/phonesim
CTL=$B/tests/phonesim-ctl
SERIAL=DEMO-0001

[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"

T0=$SECONDS
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
	BOLD=$'\e[1m' DIM=$'\e[2m' GREEN=$'\e[32m' RED=$'\e[31m' OFF=$'\e[0m'
else
	BOLD="" DIM="" GREEN="" RED="" OFF=""
fi
step=0
section() {
	step=$((step + 1))
	printf '\n%s== %d. %s%s\n' "$BOLD" "$step" "$*" "$OFF"
}
say() { printf '   %s\n' "$*"; }
# show COMMAND...: print the command as typed, then run it, indented
show() {
	printf '%s$ %s%s\n' "$DIM" "$*" "$OFF"
	"$@" 2>&1 | sed 's/^/   /'
	return "${PIPESTATUS[0]}"
}
die() {
	printf '\n%sdemo failed: %s%s\n' "$RED" "$*" "$OFF" >&2
	[ -n "${T:-}" ] && [ -s "$T/daemon.log" ] && {
		echo "---- last lines of certtetherd's log ----" >&2
		tail -n 20 "$T/daemon.log" >&2
	}
	exit 1
}

for f in "$CLI" "$CTD" "$PHONESIM" "$CTL"; do
	[ -x "$f" ] || die "$f is missing: run 'make all tests' (make demo does)"
done
# the commands shown are the ones a person types
export PATH=$B/ui-cli:$B/tests:$PATH
for t in umockdev-wrapper dbus-daemon gdbus jq kinit; do
	command -v "$t" >/dev/null || die "$t is not installed: run 'make deps'"
done
# umockdev preloads its library before ASan's runtime (a sanitized build works too)
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}

# ---- teardown: by PID, in reverse order, always ----------------------------------------------
T=$(mktemp -d "${TMPDIR:-/tmp}/certtether-demo.XXXXXX")
chmod 0711 "$T" # the servers' www-data reaches its files through it
CTD_PID="" PHONESIM_PID="" BUS_PID="" WATCH_PID="" SERVERS_UP=0
teardown() {
	local rc=$?
	[ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null && wait "$WATCH_PID" 2>/dev/null
	if [ -n "$CTD_PID" ]; then
		kill -TERM "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
	fi
	if [ -n "$PHONESIM_PID" ]; then
		kill -TERM "$PHONESIM_PID" 2>/dev/null # its child goes with it, phones unplug
		wait "$PHONESIM_PID" 2>/dev/null
	fi
	if [ -n "$BUS_PID" ]; then
		kill -TERM "$BUS_PID" 2>/dev/null
		wait "$BUS_PID" 2>/dev/null
	fi
	[ "$SERVERS_UP" = 1 ] && "$SRC/tests/servers/stop" "$T/srv" >/dev/null 2>&1
	rm -rf "$T"
	exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP

printf '%scerttether demo%s: a desk phone on USB gets the user'"'"'s certificate through the desktop\n' \
	"$BOLD" "$OFF"

# ---- 1. servers -------------------------------------------------------------------------------
section "Test servers: Kerberos KDC, CertProv and EST web services on loopback"
"$SRC/tests/servers/start" "$T/srv" >"$T/servers.log" 2>&1 || {
	cat "$T/servers.log" >&2
	die "the test servers did not start"
}
SERVERS_UP=1
. "$T/srv/env.sh"
say "$(tail -n 1 "$T/servers.log")"
say "CertProv web service: $CERTTETHER_TEST_CERTPROV_URL"

# ---- 2. ticket --------------------------------------------------------------------------------
section "Kerberos ticket for the demo user"
printf '%s$ kinit %s%s\n' "$DIM" "$CERTTETHER_TEST_USER" "$OFF"
echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null ||
	die "kinit $CERTTETHER_TEST_USER failed"
say "$(klist 2>/dev/null | grep -m1 -i 'principal')"

# ---- 3. daemon --------------------------------------------------------------------------------
section "certtetherd on a private session bus"
cat >"$T/certtether.conf" <<EOF
[service]
protocol=certprov
url=$CERTTETHER_TEST_CERTPROV_URL
ca-file=$CERTTETHER_TEST_CA
registrar=sip.test.local
[policy]
mode=ask
[retry]
initial-delay=0.5
max-delay=2
EOF
export CERTTETHER_CONFIG=$T/certtether.conf CERTTETHER_STATE_DIR=$T/state
unset CERTTETHER_CA_FILE
# the bus stays our child (no --fork), so that teardown can wait for it
mkfifo "$T/bus.address"
dbus-daemon --session --nofork --address="unix:path=$T/bus" --print-address=3 \
	3>"$T/bus.address" >"$T/bus.log" 2>&1 &
BUS_PID=$!
read -r -t 10 address <"$T/bus.address" || die "dbus-daemon did not start: $(cat "$T/bus.log")"
export DBUS_SESSION_BUS_ADDRESS=$address
# phonesim owns the emulated bus; its child reports the environment (LD_PRELOAD,
# UMOCKDEV_DIR) that puts certtetherd on that bus, then only waits
mkfifo "$T/ready"
umockdev-wrapper "$PHONESIM" --state-dir "$T/phones" --control "$T/phonesim.sock" --quiet -- \
	sh -c 'env -0 >"$0"; echo ready >"$1"; exec sleep 100000' "$T/phonesim.env" "$T/ready" \
	>"$T/phonesim.log" 2>&1 &
PHONESIM_PID=$!
read -r -t 20 _ <"$T/ready" || die "phonesim did not come up: $(cat "$T/phonesim.log")"
export PHONESIM_CONTROL=$T/phonesim.sock
preload=$(tr '\0' '\n' <"$T/phonesim.env" | sed -n 's/^LD_PRELOAD=//p')
umockdev_dir=$(tr '\0' '\n' <"$T/phonesim.env" | sed -n 's/^UMOCKDEV_DIR=//p')
env LD_PRELOAD="$preload" UMOCKDEV_DIR="$umockdev_dir" "$CTD" --idle-timeout 0 \
	>"$T/daemon.log" 2>&1 &
CTD_PID=$!
gdbus wait --session --timeout 20 org.certtether.Daemon1 || die "certtetherd did not appear on the bus"
show certtether status || die "certtether status failed"

# ---- 4. the phone -----------------------------------------------------------------------------
section "An emulated phone is plugged in"
"$CTL" add demo --serial "$SERIAL" --vendor "CertTether Sim" --model "Desk Phone 1" >/dev/null ||
	die "phonesim-ctl add failed"
# follow the daemon's view from now on: the first line per phone is its state
mkfifo "$T/watch"
certtether --json watch >"$T/watch" 2>"$T/watch.err" &
WATCH_PID=$!
exec 3<"$T/watch"
printf '%s$ phonesim-ctl plug demo%s\n' "$DIM" "$OFF"
"$CTL" plug demo >/dev/null || die "phonesim-ctl plug failed"
say "phone $SERIAL on USB port $("$CTL" status demo --json | jq -r .port)"

# ---- 5. approval ------------------------------------------------------------------------------
section "It waits for approval (a USB device could be anything)"
state=""
while [ "$state" != awaiting-approval ]; do
	IFS= read -r -t 30 line <&3 || die "the phone never reached awaiting-approval (last: ${state:-nothing})"
	s=$(jq -r --arg serial "$SERIAL" 'select(.device.Serial == $serial) | .device.State' <<<"$line")
	[ -n "$s" ] && state=$s
done
kill "$WATCH_PID" 2>/dev/null
wait "$WATCH_PID" 2>/dev/null
WATCH_PID=""
exec 3<&-
show certtether list || die "certtether list failed"
show certtether approve "$SERIAL" || die "certtether approve failed"

# ---- 6. provisioning --------------------------------------------------------------------------
section "Provisioning: key made on the phone, certificate with the user's ticket"
show certtether provision "$SERIAL" || die "certtether provision did not end with a provisioned phone"
"$CTL" wait demo committed --timeout 30 >/dev/null || die "the phone never committed a certificate"

# ---- 7. what happened -------------------------------------------------------------------------
section "The states it went through (newest first)"
show certtether history "$SERIAL" --limit 30 || die "certtether history failed"

section "The certificate as the phone holds it"
printf '%s$ phonesim-ctl status demo --json%s\n' "$DIM" "$OFF"
"$CTL" status demo --json >"$T/phone.json" || die "phonesim-ctl status failed"
jq -r '"   state:      \(.state)",
       "   subject:    \(.certificate.subject)",
       "   issuer:     \(.certificate.issuer)",
       "   serial:     \(.certificate.serial)",
       "   valid from: \(.certificate.not_before)",
       "   expires:    \(.certificate.not_after)",
       "   key:        \(.certificate.key) (generated on the phone; it never left it)",
       "   chain:      \([.chain[].subject] | join("; "))",
       "   anchors:    \([.anchors[].subject] | join("; "))",
       "   settings:   web service \(.settings.web_service_url), registrar \(.settings.registrar)"' \
	"$T/phone.json"

section "Does the phone trust the web service's TLS chain?"
show certtether test chain "$SERIAL" || die "certtether test chain: the phone does not trust the service"

# ---- verdict ----------------------------------------------------------------------------------
subject=$(jq -r '.certificate.subject // empty' "$T/phone.json")
phone_state=$(jq -r .state "$T/phone.json")
[ "$phone_state" = provisioned ] && [ "$subject" = "CN=${CERTTETHER_TEST_SIP_URI#sip:}" ] ||
	die "the phone is '$phone_state' with certificate '${subject:-none}'"
printf '\n%sDone in %d s: %s holds a certificate for %s. Everything started is stopped now.%s\n' \
	"$GREEN$BOLD" $((SECONDS - T0)) "$SERIAL" "$CERTTETHER_TEST_SIP_URI" "$OFF"
