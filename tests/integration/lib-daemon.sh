# lib-daemon.sh — shared setup of the certtetherd integration tests (sourced, not run).
#
# A test script (bash) starts with:
#
#   SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
#   [ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
#   . "$SRC/tests/integration/lib-daemon.sh"
#   ctd_setup                       # temp dir, traps, servers, kinit, bus, phonesim
#   ctd_write_config [GROUP.KEY=VALUE...]
#   ctd_start                       # certtetherd on the private bus, emulated USB
#   ... ok / is / wait_state / phone ... checks ...
#   ctd_done                        # prints the plan, stops everything, exit status
#
# What it starts, all in the test's own temp dir $W and stopped by PID on exit:
#   - the test servers (tests/servers/start), then kinit as the test user;
#   - a private dbus-daemon (session configuration, plus <allow user="*"/> so that a
#     caller of another uid can connect and meet certtetherd's own uid check;
#     its socket lives in $W, which other users may only traverse);
#   - phonesim under umockdev-wrapper, in the background, with a child that only
#     waits: certtetherd is started with the same LD_PRELOAD and UMOCKDEV_DIR, so it
#     sees the emulated USB bus, while the test's own tools (gdbus, jq, sqlite3...)
#     run without the preload;
#   - certtetherd (--idle-timeout 0, --ledger $W/ledger.db, CERTTETHER_CONFIG and
#     CERTTETHER_STATE_DIR in $W), log in $W/daemon.log (appended across restarts).
# Every wait is bounded; on a failure the daemon log's tail is printed as diagnostics.

: "${SRC:?set SRC before sourcing lib-daemon.sh}"
B=${CT_BUILDDIR:-$SRC/build}
CTD_BIN=$B/daemon/certtetherd
PHONESIM_BIN=$B/tests/phonesim
CTL_BIN=$B/tests/phonesim-ctl
CTD_NAME=org.certtether.Daemon1
CTD_PATH=/org/certtether/Daemon1
CTD_MANAGER=org.certtether.Manager1
CTD_DEVICE=org.certtether.Device1
CTD_ERROR=org.certtether.Error

# umockdev preloads its library before ASan's runtime
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
case "$ASAN_OPTIONS" in
*verify_asan_link_order=0*) ;;
*) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;;
esac

tap_n=0
tap_failures=0
W=""
CTD_PID=""
BUS_PID=""
PHONESIM_PID=""
SERVERS_UP=0

# ---- TAP ---------------------------------------------------------------------------------

pass() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $*"; }
fail() {
	tap_n=$((tap_n + 1))
	tap_failures=$((tap_failures + 1))
	echo "not ok $tap_n - $*"
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n # SKIP $*"; }
diag() { printf '%s\n' "$@" | sed 's/^/# /' >&2; }

# ok WHAT COMMAND...: the command's exit status is the verdict
ok() {
	local what=$1
	shift
	if "$@"; then pass "$what"; else fail "$what"; fi
}

# is GOT WANT: for use with ok (says what differed)
is() { [ "$1" = "$2" ] || { diag "got '$1', expected '$2'"; return 1; }; }

# bail REASON: stop the whole script (the EXIT trap still cleans up)
bail() {
	echo "Bail out! $*"
	ctd_dump_logs
	exit 1
}

# ---- setup and teardown ------------------------------------------------------------------

ctd_dump_logs() {
	[ -n "$W" ] || return 0
	if [ -s "$W/daemon.log" ]; then
		diag "---- last lines of certtetherd's log ($W/daemon.log) ----"
		tail -n 40 "$W/daemon.log" | sed 's/^/# /' >&2
	fi
	if [ -n "${CERTTETHER_TEST_LOG:-}" ] && [ -s "$CERTTETHER_TEST_LOG" ]; then
		diag "---- the fixtures' request log ----"
		tail -n 15 "$CERTTETHER_TEST_LOG" | sed 's/^/# /' >&2
	fi
}

# wait_pid_gone PID SECONDS: wait for a child to exit (its status in $wait_status)
wait_pid_gone() {
	local pid=$1 deadline=$((SECONDS + $2))
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			return 1
		fi
		sleep 0.05
	done
	wait "$pid" 2>/dev/null
	wait_status=$?
	return 0
}

ctd_cleanup() {
	local rc=$?
	[ -n "$CTD_PID" ] && { kill -KILL "$CTD_PID" 2>/dev/null; wait "$CTD_PID" 2>/dev/null; }
	if [ -n "$PHONESIM_PID" ]; then
		kill -TERM "$PHONESIM_PID" 2>/dev/null
		wait_pid_gone "$PHONESIM_PID" 10 || kill -KILL "$PHONESIM_PID" 2>/dev/null
	fi
	[ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
	[ "$SERVERS_UP" = 1 ] && "$SRC/tests/servers/stop" "$W/srv" >/dev/null 2>&1
	if [ -n "$W" ]; then
		if [ "$rc" = 0 ] && [ "$tap_failures" = 0 ] && [ -z "${CT_KEEP_WORKDIR:-}" ]; then
			rm -rf "$W"
		else
			echo "# work directory kept: $W" >&2
		fi
	fi
}

ctd_require() {
	local f
	for f in "$CTD_BIN" "$PHONESIM_BIN" "$CTL_BIN"; do
		[ -x "$f" ] || bail "$f is missing: run 'make BUILDDIR=${B} tests'"
	done
	for f in umockdev-wrapper dbus-daemon gdbus busctl jq sqlite3 openssl kinit; do
		command -v "$f" >/dev/null || bail "$f not found: run 'make deps'"
	done
}

# the private bus: the session configuration, reachable by other uids (see the top)
ctd_start_bus() {
	mkdir -p "$W/services" # D-Bus activation files a test may put there
	cat >"$W/bus.conf" <<-EOF
		<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
		 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
		<busconfig>
		  <include>/usr/share/dbus-1/session.conf</include>
		  <listen>unix:path=$W/bus</listen>
		  <servicedir>$W/services</servicedir>
		  <policy context="default"><allow user="*"/></policy>
		</busconfig>
	EOF
	local out
	out=$(dbus-daemon --config-file="$W/bus.conf" --address="unix:path=$W/bus" --fork \
		--print-address=1 --print-pid=1) || bail "dbus-daemon did not start"
	export DBUS_SESSION_BUS_ADDRESS=$(echo "$out" | sed -n 1p)
	BUS_PID=$(echo "$out" | sed -n 2p)
	chmod 0666 "$W/bus"
}

# phonesim in the background; its environment (LD_PRELOAD, UMOCKDEV_DIR) is kept for
# the daemon. The child only waits; SIGTERM to phonesim ends it.
ctd_start_phonesim() {
	mkdir -p "$W/phones"
	umockdev-wrapper "$PHONESIM_BIN" --state-dir "$W/phones" --control "$W/phonesim.sock" \
		--quiet -- sh -c 'env -0 > "$0"; exec sleep 100000' "$W/phonesim.env" \
		>"$W/phonesim.log" 2>&1 &
	PHONESIM_PID=$!
	local deadline=$((SECONDS + 20))
	until [ -s "$W/phonesim.env" ] && [ -S "$W/phonesim.sock" ]; do
		kill -0 "$PHONESIM_PID" 2>/dev/null || bail "phonesim exited: $(cat "$W/phonesim.log")"
		[ "$SECONDS" -lt "$deadline" ] || bail "phonesim did not come up within 20 s"
		sleep 0.05
	done
	export PHONESIM_CONTROL=$W/phonesim.sock
	UMOCK_PRELOAD=$(tr '\0' '\n' <"$W/phonesim.env" | sed -n 's/^LD_PRELOAD=//p')
	UMOCK_DIR=$(tr '\0' '\n' <"$W/phonesim.env" | sed -n 's/^UMOCKDEV_DIR=//p')
	[ -n "$UMOCK_PRELOAD" ] && [ -n "$UMOCK_DIR" ] ||
		bail "phonesim's child has no LD_PRELOAD/UMOCKDEV_DIR"
}

# ctd_setup: work dir, traps, servers, kinit, private bus, phonesim
ctd_setup() {
	ctd_require
	W=$(mktemp -d /tmp/ct-daemon-test.XXXXXX)
	chmod 0711 "$W" # www-data reaches the servers' files, nobody reaches the bus socket
	trap ctd_cleanup EXIT
	trap 'exit 1' TERM INT HUP # a timeout's SIGTERM still stops everything
	"$SRC/tests/servers/start" "$W/srv" >"$W/servers.log" 2>&1 ||
		{ cat "$W/servers.log" >&2; bail "test servers did not start"; }
	SERVERS_UP=1
	. "$W/srv/env.sh"
	echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null ||
		bail "kinit $CERTTETHER_TEST_USER failed"
	ctd_start_bus
	ctd_start_phonesim
	export CERTTETHER_CONFIG=$W/certtether.conf
	export CERTTETHER_STATE_DIR=$W/state
	LEDGER=$W/ledger.db
	ctd_write_config
}

# ctd_write_config [GROUP.KEY=VALUE...]: EST against the test servers, short retries;
# arguments replace or add keys (service.protocol=certprov, policy.mode=always, ...)
ctd_write_config() {
	local -A conf=(
		[service.protocol]=est
		[service.url]=$CERTTETHER_TEST_EST_URL
		[service.ca-file]=$CERTTETHER_TEST_CA
		[service.registrar]=sip.test.local
		[service.timeout]=20
		[policy.mode]=ask
		[retry.initial-delay]=0.2
		[retry.max-delay]=0.5
		[retry.max-attempts]=6
	)
	local kv
	for kv in "$@"; do
		conf[${kv%%=*}]=${kv#*=}
	done
	if [ "${conf[service.protocol]}" = certprov ] && [ "${conf[service.url]}" = "$CERTTETHER_TEST_EST_URL" ]; then
		conf[service.url]=$CERTTETHER_TEST_CERTPROV_URL
	fi
	local group key
	: >"$CERTTETHER_CONFIG"
	for group in service identity device policy retry; do
		local first=1
		for key in "${!conf[@]}"; do
			[ "${key%%.*}" = "$group" ] || continue
			[ "$first" = 1 ] && echo "[$group]" >>"$CERTTETHER_CONFIG"
			first=0
			echo "${key#*.}=${conf[$key]}" >>"$CERTTETHER_CONFIG"
		done
	done
}

# ctd_start [ARGS...]: certtetherd on the private bus; returns once it answers there
ctd_start() {
	[ -z "$CTD_PID" ] || bail "ctd_start: certtetherd already runs ($CTD_PID)"
	echo "---- certtetherd $* (started $(date +%T.%N)) ----" >>"$W/daemon.log"
	env LD_PRELOAD="$UMOCK_PRELOAD" UMOCKDEV_DIR="$UMOCK_DIR" \
		"$CTD_BIN" --idle-timeout 0 --ledger "$LEDGER" "$@" >>"$W/daemon.log" 2>&1 &
	CTD_PID=$!
	local deadline=$((SECONDS + 30))
	until gdbus call --session -d "$CTD_NAME" -o "$CTD_PATH" -m "$CTD_MANAGER.GetDevices" \
		>/dev/null 2>&1; do
		kill -0 "$CTD_PID" 2>/dev/null || { CTD_PID=""; bail "certtetherd exited at start"; }
		[ "$SECONDS" -lt "$deadline" ] || bail "certtetherd did not answer on the bus within 30 s"
		sleep 0.05
	done
}

# ctd_stop: SIGTERM, wait (bounded); sets ctd_exit_status
ctd_stop() {
	ctd_exit_status=""
	[ -n "$CTD_PID" ] || return 0
	kill -TERM "$CTD_PID" 2>/dev/null
	if wait_pid_gone "$CTD_PID" 20; then
		ctd_exit_status=$wait_status
	else
		kill -KILL "$CTD_PID" 2>/dev/null
		wait "$CTD_PID" 2>/dev/null
		ctd_exit_status="hung (killed)"
	fi
	CTD_PID=""
}

# ctd_kill9: what a crash looks like
ctd_kill9() {
	[ -n "$CTD_PID" ] || return 0
	kill -KILL "$CTD_PID" 2>/dev/null
	wait "$CTD_PID" 2>/dev/null
	CTD_PID=""
}

# ctd_log_clean: no ledger write failed, nothing critical or sanitizer-reported
ctd_log_clean() {
	! grep -E "could not record|CRITICAL|ERROR: AddressSanitizer|runtime error:" "$W/daemon.log" >&2
}

# ctd_done: stop the daemon (a clean exit is a check), print the plan, exit
ctd_done() {
	if [ -n "$CTD_PID" ]; then
		ctd_stop
		ok "certtetherd stops on SIGTERM with status 0" is "$ctd_exit_status" 0
	fi
	ok "certtetherd's log: every event reached the ledger, no critical message" \
		ctd_log_clean
	[ "$tap_failures" = 0 ] || ctd_dump_logs
	echo "1..$tap_n"
	[ "$tap_failures" = 0 ]
	exit
}

# ---- phones ------------------------------------------------------------------------------

phone() { "$CTL_BIN" "$@"; } # phonesim-ctl
# phone_json ID [JQ-FILTER]
phone_json() { "$CTL_BIN" status "$1" --json | jq -r "${2:-.}"; }

# ---- D-Bus -------------------------------------------------------------------------------

# dbus_call PATH IFACE.METHOD [ARGS...]: gdbus call, output on stdout, error text on stderr
dbus_call() {
	local path=$1 method=$2
	shift 2
	gdbus call --session -d "$CTD_NAME" -o "$path" -m "$method" "$@"
}

# call PATH IFACE.METHOD [ARGS...]: a method call whose reply is not needed; the error
# (if any) goes to the diagnostics
call() {
	local out
	out=$(dbus_call "$@" 2>&1) || { diag "$2 failed: $out"; return 1; }
}

# prop PATH NAME: one Device1 property, as text (strings unquoted)
prop() {
	busctl --user -j get-property "$CTD_NAME" "$1" "$CTD_DEVICE" "$2" 2>/dev/null |
		jq -r '.data'
}

# device_path SERIAL [TIMEOUT]: the object path, once the daemon knows the phone
device_path() {
	local serial=$1 deadline=$((SECONDS + ${2:-20})) out
	while :; do
		out=$(dbus_call "$CTD_PATH" "$CTD_MANAGER.FindDevice" "$serial" 2>/dev/null) &&
			{ echo "$out" | sed -E "s/^\(objectpath '([^']*)',\)$/\1/"; return 0; }
		[ "$SECONDS" -lt "$deadline" ] || { diag "the daemon never reported $serial"; return 1; }
		sleep 0.05
	done
}

# wait_state PATH STATE [TIMEOUT]: poll State until it is STATE; a "failed" on the way
# ends the wait early (unless STATE is failed). Prints nothing; says why on failure.
wait_state() {
	local path=$1 want=$2 deadline=$((SECONDS + ${3:-30})) got=""
	while :; do
		got=$(prop "$path" State)
		[ "$got" = "$want" ] && return 0
		if [ "$got" = failed ] && [ "$want" != failed ]; then
			diag "$path failed while waiting for $want: $(prop "$path" LastError): $(prop "$path" LastErrorMessage)"
			return 1
		fi
		if [ "$SECONDS" -ge "$deadline" ]; then
			diag "$path: still '$got' after ${3:-30} s, waiting for '$want' ($(prop "$path" StateDetail))"
			return 1
		fi
		sleep 0.05
	done
}

# wait_detail PATH REGEX [TIMEOUT]: poll StateDetail until it matches
wait_detail() {
	local path=$1 re=$2 deadline=$((SECONDS + ${3:-30})) got
	while :; do
		got=$(prop "$path" StateDetail)
		[[ "$got" =~ $re ]] && return 0
		if [ "$SECONDS" -ge "$deadline" ]; then
			diag "$path: detail still '$got' after ${3:-30} s, waiting for /$re/"
			return 1
		fi
		sleep 0.05
	done
}

# ---- ledger and servers ------------------------------------------------------------------

ledger() { sqlite3 -batch -noheader "$LEDGER" "$@"; }

# issued_count [USER@DOMAIN]: certificates the fixtures published for the user
issued_count() {
	local f=$CERTTETHER_TEST_STORE/${1:-${CERTTETHER_TEST_SIP_URI#sip:}}/published.pem
	[ -f "$f" ] || { echo 0; return; }
	grep -c 'BEGIN CERTIFICATE' "$f"
}

# published_sha256s [USER@DOMAIN]: lower-case SHA-256 of each published certificate
published_sha256s() {
	local f=$CERTTETHER_TEST_STORE/${1:-${CERTTETHER_TEST_SIP_URI#sip:}}/published.pem
	[ -f "$f" ] || return 0
	awk -v dir="$W" '/BEGIN CERTIFICATE/ { n++ } { print > (dir "/published." n ".pem") }' "$f"
	local p
	for p in "$W"/published.*.pem; do
		openssl x509 -in "$p" -noout -fingerprint -sha256 | sed 's/.*=//; s/://g' |
			tr 'A-F' 'a-f'
		rm -f "$p"
	done
}

# enroll_requests: lines of the fixtures' log that asked for a certificate
enroll_requests() {
	[ -f "$CERTTETHER_TEST_LOG" ] || return 0
	grep -E ' (certprov GetAndPublishCert|est [^ ]*simple(re)?enroll) ' "$CERTTETHER_TEST_LOG"
}

# one_cert_per_csr WHAT: every certificate published for the test user is the one the
# ledger holds for exactly one CSR, and every CSR with a certificate has exactly one
one_cert_per_csr() {
	local published ledgered
	published=$(published_sha256s | sort)
	ledgered=$(ledger "SELECT cert_sha256 FROM enrollments WHERE cert_sha256 IS NOT NULL;" | sort)
	if [ "$published" != "$ledgered" ]; then
		diag "published certificates (sha256):" "${published:-<none>}" \
			"certificates in the ledger's enrollments:" "${ledgered:-<none>}"
		return 1
	fi
	[ -z "$(echo "$published" | uniq -d)" ] || { diag "a certificate was published twice"; return 1; }
	return 0
}
