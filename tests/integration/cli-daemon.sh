#!/bin/bash
# certtether through the real certtetherd: test servers in a private network
# namespace, a private session bus, emulated phones (phonesim under umockdev).
# Every verb the CLI owns, --json parsed with jq, and the documented exit codes.
# Needs CT_BUILDDIR (tests/run-tests.sh sets it). Prints TAP.
set -u
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cli-common.sh"
DAEMON=$CT_BUILDDIR/daemon/certtetherd

if [ -z "${CT_CLI_INNER:-}" ]; then
	cli_check_binaries "$DAEMON"
	[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
	BUS_PID=
	outer_cleanup() {
		[ -n "$BUS_PID" ] && kill "$BUS_PID" 2>/dev/null
		cli_cleanup_servers
		rm -rf "$W"
	}
	trap outer_cleanup EXIT
	trap 'exit 1' TERM INT HUP
	cli_setup
	# a private session bus: nothing of the host's session is touched
	bus=$(dbus-daemon --session --fork --print-address=1 --print-pid=1) || bail "dbus-daemon did not start"
	DBUS_SESSION_BUS_ADDRESS=$(sed -n 1p <<<"$bus")
	BUS_PID=$(sed -n 2p <<<"$bus")
	export DBUS_SESSION_BUS_ADDRESS
	CT_CLI_INNER=1 umockdev-wrapper "$CT_BUILDDIR/tests/phonesim" --state-dir "$W/phones" --quiet -- "$0" "$@"
	exit $?
fi

# ---- inner part: phonesim's child ---------------------------------------------------------------

DPID=
stop_daemon() {
	if [ -n "$DPID" ]; then
		kill "$DPID" 2>/dev/null
		wait "$DPID" 2>/dev/null
		DPID=
	fi
}
trap stop_daemon EXIT
trap 'exit 1' TERM INT HUP
start_daemon() {
	"$DAEMON" --idle-timeout 0 >>"$W/daemon.log" 2>&1 &
	DPID=$!
	timeout 15 gdbus wait --session --timeout 15 org.certtether.Daemon1 ||
		bail "certtetherd did not take its bus name: $(tail -n 5 "$W/daemon.log")"
}
# wait_state DEVICE STATE: poll the daemon (a tenth of a second apart, 30 s at most)
wait_state() {
	local deadline=$((SECONDS + 30)) state=""
	while [ $SECONDS -lt $deadline ]; do
		state=$(timeout 10 "$CLI" status "$1" --json 2>/dev/null | jq -r .State 2>/dev/null)
		[ "$state" = "$2" ] && return 0
		sleep 0.1
	done
	echo "# $1 stayed in '$state', expected '$2'"
	return 1
}
commits() {
	phone "$1" .counters.commits
}

# usage
run bogus-verb
expect "unknown verb exits 2" 2
expect_err "unknown verb prints the usage on stderr" "^Usage: certtether"
run list --no-such-flag
expect "unknown flag exits 2" 2
expect_err "unknown flag prints the usage on stderr" "Usage: certtether"
run --help
missing=""
for verb in list status approve reject provision watch history test bench; do
	printf '%s\n' "$OUT" | grep -qE "^  $verb " || missing="$missing $verb"
done
if [ "$RC" = 0 ] && [ -z "$missing" ]; then ok "--help lists every verb"; else not_ok "--help lists every verb (missing:$missing, exit $RC)"; diag; fi
run provision --help
expect "provision --help exits 0" 0

# no daemon yet: unreachable, saying how to start it
run list
expect "no daemon: exit 4" 4
expect_err "no daemon: the message says to start certtetherd" "start certtetherd"

start_daemon
run list --json
expect "list --json with no phone" 0
expect_json "list --json: empty device array" '.devices == []'
run status --json
expect_json "status --json: the daemon's version and policy" '.mode == "daemon" and .version != "" and .policy == "ask"'

# a phone plugged in waits for approval
"$CTL" add p1 >/dev/null && "$CTL" plug p1 >/dev/null || bail "phonesim-ctl could not plug p1"
check "p1 waits for approval" wait_state SIM-p1 awaiting-approval
run list
if [ "$RC" = 0 ] && printf '%s\n' "$OUT" | grep -qE '^DEVICE +SERIAL' && printf '%s\n' "$OUT" | grep -E 'SIM-p1' | grep -q awaiting-approval; then
	ok "list: a table with p1 awaiting approval"
else
	not_ok "list: a table with p1 awaiting approval"
	diag
fi
run list --json
expect_json "list --json: p1's id, serial, state, port" \
	'(.devices | length) == 1 and (.devices[0].Id | test("^SIM_p1_")) and .devices[0].Serial == "SIM-p1" and .devices[0].State == "awaiting-approval" and .devices[0].UsbPort == "1-1" and .devices[0].Connected == true and .devices[0].Paired == false'
P1=$(printf '%s' "$OUT" | jq -r '.devices[0].Id')
run status "$P1" --json
expect_json "status ID --json: the device object" '.Id == "'"$P1"'" and .State == "awaiting-approval" and (.IdentityFingerprint | length) == 64'
run status 1-1
expect "status by USB port" 0
if printf '%s' "$OUT" | grep -q 'SIM-p1' && printf '%s' "$OUT" | grep -q 'awaiting-approval'; then ok "status: human view names the phone and its state"; else not_ok "status: human view names the phone and its state"; diag; fi
run status no-such-phone
expect "unknown device: exit 7" 7
expect_err "unknown device: the message names it" "no-such-phone"
run provision SIM-p1
expect "provision before approval: exit 5 (not approved)" 5
expect_err "provision before approval: says to approve" "approve"
run --direct list
expect "--direct while certtetherd runs: exit 2" 2

# approve, then provision waits until the phone is provisioned; watch follows it
"$CLI" watch --json >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
# the first line ("present" for p1) says watch is connected
timeout 10 bash -c "until [ -s '$W/watch.out' ]; do sleep 0.05; done"
run approve SIM-p1
expect "approve: exit 0" 0
run provision SIM-p1
expect "provision after approval waits for the outcome: exit 0" 0
run status SIM-p1 --json
expect_json "status: provisioned with a certificate" '(.State == "provisioned" or .State == "up-to-date") and .CertificateSerial != "" and .Paired == true'
sip=${CERTTETHER_TEST_SIP_URI#sip:}
if [ "$(phone p1 .state)" = provisioned ] && phone p1 .certificate.subject | grep -q "CN=$sip"; then
	ok "phonesim holds the certificate for $sip"
else
	not_ok "phonesim holds the certificate for $sip ($(phone p1 -c .certificate))"
fi
# watch saw it; Ctrl-C ends it with 0
timeout 10 bash -c "until grep -q '\"State\":\"provisioned\"' '$W/watch.out'; do sleep 0.1; done"
kill -INT "$WATCH"
wait "$WATCH"
wrc=$?
if [ "$wrc" = 0 ]; then ok "watch: Ctrl-C ends it with exit 0"; else not_ok "watch: Ctrl-C ends it with exit 0 (exit $wrc: $(head -c 300 "$W/watch.err"))"; fi
if [ -s "$W/watch.out" ] && jq -e -s 'all(.[]; has("event") and has("time") and (.device | has("Id")))' "$W/watch.out" >/dev/null; then
	ok "watch --json: one parseable object per line ($(wc -l <"$W/watch.out") lines)"
else
	not_ok "watch --json: one parseable object per line"
	head -n 5 "$W/watch.out" | sed 's/^/#   /'
fi
if jq -e -s '[.[] | select(.event == "changed") | .device.State] | (index("enrolling") != null and index("provisioned") != null)' "$W/watch.out" >/dev/null; then
	ok "watch --json: saw enrolling then provisioned"
else
	not_ok "watch --json: saw enrolling then provisioned"
	jq -r -c '[.event, .device.State] | join(" ")' "$W/watch.out" | head -n 20 | sed 's/^/#   /'
fi

# provision again: up to date, nothing new; --force renews (a second commit)
run provision --json
expect "provision (all) of an up-to-date phone: exit 0" 0
expect_json "provision --json: outcome up-to-date, exit_code 0" '.exit_code == 0 and .devices[0].outcome == "up-to-date" and .devices[0].exit_code == 0'
before=$(commits p1)
run provision --force SIM-p1
expect "provision --force: exit 0" 0
if [ "$(commits p1)" = $((before + 1)) ]; then ok "provision --force: phonesim saw a second commit"; else not_ok "provision --force: phonesim saw a second commit ($before -> $(commits p1))"; fi

# history
run history --json
expect "history --json: exit 0" 0
expect_json "history --json: p1's state events" '[.events[] | select(.serial == "SIM-p1") | .state] | (index("awaiting-approval") != null and index("provisioned") != null and index("enrolling") != null)'
expect_json "history --json: newest first, with times" '(.events | length) > 3 and .events[0].time >= .events[1].time and (.events[0].time_iso | test("Z$"))'
run history SIM-p1 --limit 3 --json
expect_json "history DEVICE --limit 3" '(.events | length) == 3 and all(.events[]; .serial == "SIM-p1")'
run history --limit 2
if [ "$RC" = 0 ] && [ "$(printf '%s\n' "$OUT" | wc -l)" = 3 ]; then ok "history: a table (header + 2 events)"; else not_ok "history: a table (header + 2 events)"; diag; fi

# reject
"$CTL" add p2 >/dev/null && "$CTL" plug p2 >/dev/null || bail "phonesim-ctl could not plug p2"
check "p2 waits for approval" wait_state SIM-p2 awaiting-approval
run reject SIM-p2 --json
expect "reject: exit 0" 0
expect_json "reject --json: the device, rejected" '.Serial == "SIM-p2" and .State == "rejected" and .Paired == false'
run provision SIM-p2
expect "provision of a rejected phone: exit 5" 5
if [ "$(phone p2 .counters.csrs_created)" = 0 ]; then ok "the rejected phone was never asked for a CSR"; else not_ok "the rejected phone was never asked for a CSR"; fi
run provision
expect "provision (all) with a rejected phone among them: exit 5" 5

# refused: the fixture refuses the authenticated user -> AuthFailed -> 3
"$SRC/tests/servers/control" "$W/srv" refuse-auth 1
run provision --force SIM-p1
expect "refused by the service (AuthFailed): exit 3" 3
"$SRC/tests/servers/control" "$W/srv" refuse-auth

# a phone whose CSR names someone else -> CsrInvalid -> 5
"$CTL" add p3 --misbehave wrong-subject >/dev/null && "$CTL" plug p3 >/dev/null || bail "phonesim-ctl could not plug p3"
check "p3 waits for approval" wait_state SIM-p3 awaiting-approval
run approve SIM-p3 --wait
expect "a phone asking for another subject (CsrInvalid): exit 5" 5
expect_err "CsrInvalid: the message says why" "CSR|subject|request"

# no Kerberos ticket -> 3, saying kinit
kdestroy >/dev/null 2>&1
run provision --force SIM-p1
expect "no Kerberos ticket: exit 3" 3
expect_err "no Kerberos ticket: the message says kinit" "kinit"
echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null 2>&1 || bail "kinit again failed"

# service unreachable (nothing listens) -> 4; untrusted TLS chain -> 6 (daemon restarted per config)
stop_daemon
write_config "$W/closed.conf" est "https://localhost:$(closed_port)/.well-known/est" "$CERTTETHER_TEST_CA"
CERTTETHER_CONFIG=$W/closed.conf start_daemon
check "after a restart p1 is up to date" wait_state SIM-p1 up-to-date
run provision --force SIM-p1
expect "service unreachable: exit 4" 4
stop_daemon
write_config "$W/untrusted.conf" est "$CERTTETHER_TEST_EST_URL" "$CERTTETHER_TEST_UNKNOWN_CA"
CERTTETHER_CONFIG=$W/untrusted.conf start_daemon
wait_state SIM-p1 up-to-date >/dev/null
run provision --force SIM-p1
expect "untrusted TLS chain: exit 6" 6

# the CertProv protocol, end to end
stop_daemon
write_config "$W/certprov.conf" certprov "$CERTTETHER_TEST_CERTPROV_URL" "$CERTTETHER_TEST_CA"
CERTTETHER_CONFIG=$W/certprov.conf start_daemon
wait_state SIM-p1 up-to-date >/dev/null
before=$(commits p1)
run provision --force SIM-p1 --json
if [ "$RC" = 0 ] && [ "$(commits p1)" = $((before + 1)) ]; then
	ok "CertProv: provision --force installs a new certificate"
elif printf '%s' "$ERR$OUT" | grep -q "not available in this build"; then
	ok "# SKIP CertProv is not available in this build"
else
	not_ok "CertProv: provision --force installs a new certificate (exit $RC)"
	diag
fi

# the daemon goes away: a running watch and new commands say so (exit 4)
"$CLI" watch >"$W/watch2.out" 2>"$W/watch2.err" &
WATCH=$!
timeout 10 bash -c "until [ -s '$W/watch2.out' ]; do sleep 0.1; done"
stop_daemon
timeout 10 tail --pid="$WATCH" -f /dev/null
wait "$WATCH"
wrc=$?
if [ "$wrc" = 4 ] && grep -q "certtetherd" "$W/watch2.err"; then ok "watch: certtetherd stopping ends it with exit 4"; else not_ok "watch: certtetherd stopping ends it with exit 4 (exit $wrc: $(head -c 300 "$W/watch2.err"))"; fi
if grep -qE '^[0-9T:.-]+Z SIM-p1 provisioned 100% ' "$W/watch2.out" && grep -qE 'Z SIM-p1 removed$' "$W/watch2.out"; then
	ok "watch (not a terminal): one plain line per change"
else
	not_ok "watch (not a terminal): one plain line per change"
	sed 's/^/#   /' "$W/watch2.out" | head -n 10
fi
run status
expect "daemon stopped: exit 4" 4
expect_err "daemon stopped: the message says to start certtetherd" "start certtetherd"

finish
