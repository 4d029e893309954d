#!/bin/bash
# certtether bench against emulated phones (phonesim) and the test servers (TAP).
#
# Three phones: p1 listed by serial for alice, p2 listed by USB port for bob (each
# with a ticket cache of their own, while KRB5CCNAME holds no ticket at all), p3
# not listed. `certtether --direct bench` must provision p1 and p2 for their own
# users, leave p3 untouched (no CSR), and write a report with two rows. Then: a
# roster with bad lines (exit 2, each line named), a roster whose ticket cache
# is empty (exit 3, nothing sent), a roster of two users without --direct
# (refused, exit 2, saying why), and a JSON report.
#
# Runs itself in a private network namespace (tests/servers/in-netns); the
# bench runs as phonesim's child under umockdev-wrapper (it needs the emulated
# USB bus), which also does the checks that talk to phonesim.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${CT_BUILDDIR:-$SRC/build}
CLI=$B/ui-cli/certtether
CTL=$B/tests/phonesim-ctl

# ---- the part that runs under phonesim ----------------------------------------------------
if [ "${1:-}" = --inner ]; then
	n=0
	pass() { n=$((n + 1)); echo "ok $n - $*"; }
	fail() { n=$((n + 1)); echo "not ok $n - $*"; }
	check() { # check WHAT COMMAND...
		local what=$1
		shift
		if "$@"; then pass "$what"; else fail "$what"; fi
	}
	diag() { sed 's/^/# /' "$@" >&2; }
	field() { "$CTL" status "$1" --json | jq -r "$2"; }

	for p in p1 p2 p3; do "$CTL" add $p >/dev/null || { echo "Bail out! phonesim add $p"; exit 1; }; done
	port2=$(field p2 .port)
	cat >"$W/roster.csv" <<EOF
# bench roster for the test
device,user,auth
SIM-p1,sip:alice@test.local,negotiate:FILE:$W/alice.cc
$port2,"bob@test.local",negotiate:FILE:$W/bob.cc
EOF
	# p1 is there before the bench starts, p2 and p3 come while it runs; the service
	# answers slowly so that alice's and bob's enrollments run side by side (each in
	# its worker thread with its own ticket cache)
	"$SRC/tests/servers/control" "$CERTTETHER_TEST_DIR" slow 0.2
	"$CTL" plug p1 >/dev/null
	"$CLI" --direct bench --roster "$W/roster.csv" --report "$W/report.csv" --timeout 50 \
		>"$W/bench.out" 2>"$W/bench.err" &
	bench_pid=$!
	"$CTL" plug p2 >/dev/null
	"$CTL" plug p3 >/dev/null
	wait $bench_pid
	rc=$?
	"$SRC/tests/servers/control" "$CERTTETHER_TEST_DIR" slow
	check "bench --direct exits 0 when both listed phones are provisioned (got $rc)" [ $rc = 0 ]
	[ $rc = 0 ] || { diag "$W/bench.out"; diag "$W/bench.err"; }
	check "p1 (listed by serial) holds a certificate for alice" \
		[ "$(field p1 .certificate.subject)" = "CN=alice@test.local" ]
	check "p2 (listed by USB port $port2) holds a certificate for bob" \
		[ "$(field p2 .certificate.subject)" = "CN=bob@test.local" ]
	check "p3 (unlisted) was left alone: no key, no CSR, no certificate" \
		[ "$(field p3 .counters.csrs_created)/$(field p3 .certificate)/$(field p3 .counters.stages)" = "0/null/0" ]
	check "p3 did answer HELLO (the engine saw it and let it be)" \
		[ "$(field p3 .counters.hellos)" -ge 1 ]
	rows=$(tail -n +2 "$W/report.csv" | grep -c .)
	check "the CSV report has one row per roster line (2, got $rows)" [ "$rows" = 2 ]
	s1=$(field p1 .certificate.serial | tr a-f A-F)
	s2=$(field p2 .certificate.serial | tr a-f A-F)
	port1=$(field p1 .port)
	check "report row for line 3: SIM-p1, alice, provisioned, serial $s1" \
		grep -Eq "^3,SIM-p1,SIM-p1,$port1,sip:alice@test.local,[^,]*,provisioned,provisioned,$s1," "$W/report.csv"
	check "report row for line 4: port $port2 = SIM-p2, bob, provisioned, serial $s2" \
		grep -Eq "^4,$port2,SIM-p2,$port2,sip:bob@test.local,[^,]*,provisioned,provisioned,$s2," "$W/report.csv"
	check "the report has timings (seconds_total and seconds_enroll filled)" \
		awk -F, 'NR > 1 && ($15 == "" || $19 == "") { bad = 1 } END { exit bad }' "$W/report.csv"
	check "the published store has one certificate each for alice and bob" \
		[ "$(grep -c 'BEGIN CERTIFICATE' "$CERTTETHER_TEST_STORE/alice@test.local/published.pem")/$(grep -c 'BEGIN CERTIFICATE' "$CERTTETHER_TEST_STORE/bob@test.local/published.pem")" = "1/1" ]

	# --parallel 1: two phones plugged together, enrolled one after the other (the
	# service is slow, so without the bound their requests would interleave)
	for p in p4 p5; do "$CTL" add $p >/dev/null && "$CTL" plug $p >/dev/null; done
	printf 'SIM-p4,sip:alice@test.local,negotiate:FILE:%s/alice.cc\nSIM-p5,sip:bob@test.local,negotiate:FILE:%s/bob.cc\n' \
		"$W" "$W" >"$W/serial.csv"
	before=$(wc -l <"$CERTTETHER_TEST_LOG")
	"$SRC/tests/servers/control" "$CERTTETHER_TEST_DIR" slow 0.2
	"$CLI" --direct bench --roster "$W/serial.csv" --parallel 1 --timeout 50 >"$W/serial.out" 2>&1
	rc=$?
	"$SRC/tests/servers/control" "$CERTTETHER_TEST_DIR" slow
	check "bench --parallel 1 exits 0 (got $rc)" [ $rc = 0 ]
	check "... both phones provisioned for their users" \
		[ "$(field p4 .certificate.subject) $(field p5 .certificate.subject)" = "CN=alice@test.local CN=bob@test.local" ]
	order=$(tail -n +$((before + 1)) "$CERTTETHER_TEST_LOG" |
		sed -nE 's/.* (webticket Issue|certprov GetAndPublishCert) user=([a-z]+)@.*/\2/p' | tr '\n' ' ')
	check "... one enrollment after the other, never interleaved ($order)" \
		bash -c "[ '$order' = 'alice alice bob bob ' ] || [ '$order' = 'bob bob alice alice ' ]"

	# a roster with bad lines: nothing is done, each line is named
	cat >"$W/bad.csv" <<EOF
SIM-p1,sip:alice@test.local
SIM-p2,alice
"SIM-p3,sip:carol@test.local
SIM-p4,sip:dave@test.local,kerberos
EOF
	"$CLI" --direct bench --roster "$W/bad.csv" >"$W/bad.out" 2>&1
	rc=$?
	check "a roster with bad lines exits 2 (got $rc)" [ $rc = 2 ]
	check "line 2 is named: the user is not a SIP address" grep -q "bad.csv:2: the user 'alice' is not a SIP address" "$W/bad.out"
	check "line 3 is named: an unterminated quote" grep -q "bad.csv:3: a quoted field does not end" "$W/bad.out"
	check "line 4 is named: an unknown auth method" grep -q "bad.csv:4: the auth method 'kerberos'" "$W/bad.out"
	check "the good line 1 is not reported" bash -c "! grep -q 'bad.csv:1:' '$W/bad.out'"

	# what spreadsheets write: a byte order mark, CRLF, a quoted header, quoted fields
	# with "" inside, blanks around fields; "port:" / "serial:" say which one is meant
	printf '\xef\xbb\xbf"Device","User","Auth"\r\n# a comment\r\n\r\n "serial:1-9" , "sip:Carol@Test.Local" ,negotiate:FILE:%s/alice.cc\r\n"SIM""Q",dave@test.local,"negotiate:FILE:%s/alice.cc"\r\nport:1-7,sip:erin@test.local,negotiate:FILE:%s/bob.cc\r\n' \
		"$W" "$W" "$W" >"$W/sheet.csv"
	"$CLI" --direct bench --roster "$W/sheet.csv" --report "$W/sheet.json" --timeout 1 >"$W/sheet.out" 2>&1
	rc=$?
	check "a spreadsheet-style roster is read (its absent phones end the run at --timeout: exit 7, got $rc)" [ $rc = 7 ]
	check "... three lines: serial 1-9 (line 4), serial SIM\"Q (line 5), port 1-7 (line 6), users normalised" \
		[ "$(jq -r '[.phones[] | "\(.line):\(.device):\(.user)"] | join(" ")' "$W/sheet.json")" = '4:1-9:sip:Carol@test.local 5:SIM"Q:sip:dave@test.local 6:1-7:sip:erin@test.local' ]

	# an empty ticket cache: said per line before anything is sent
	before=$(wc -l <"$CERTTETHER_TEST_LOG")
	printf 'SIM-p1,sip:alice@test.local,negotiate:FILE:%s/none.cc\n' "$W" >"$W/noticket.csv"
	"$CLI" --direct bench --roster "$W/noticket.csv" --timeout 20 >"$W/noticket.out" 2>&1
	rc=$?
	check "a line without a ticket exits 3 (got $rc)" [ $rc = 3 ]
	check "... naming the line and saying to run kinit -c" \
		grep -q "noticket.csv:1 (sip:alice@test.local): no Kerberos ticket in FILE:$W/none.cc: run kinit -c" "$W/noticket.out"
	check "... and nothing reached the servers" [ "$(wc -l <"$CERTTETHER_TEST_LOG")" = "$before" ]

	# through the daemon a roster of two users is refused before anything
	"$CLI" bench --roster "$W/roster.csv" >"$W/daemon.out" 2>&1
	rc=$?
	check "without --direct, a roster with other credentials is refused (exit 2, got $rc)" [ $rc = 2 ]
	check "... saying that certtetherd uses the desktop user's credentials only" \
		grep -q "needs --direct: certtetherd requests certificates with the desktop user's own credentials only" "$W/daemon.out"
	printf 'SIM-p1,sip:alice@test.local\nSIM-p2,sip:bob@test.local\n' >"$W/two.csv"
	"$CLI" bench --roster "$W/two.csv" >"$W/two.out" 2>&1
	rc=$?
	check "without --direct, a roster of two users is refused (exit 2, got $rc)" [ $rc = 2 ]
	check "... naming both users" grep -q "names sip:alice@test.local (line 1) and sip:bob@test.local (line 2)" "$W/two.out"

	# the JSON report: p1 and p2 are up to date now, p9 never comes
	cat >"$W/again.csv" <<EOF
SIM-p1,sip:alice@test.local,negotiate:FILE:$W/alice.cc
SIM-p2,sip:bob@test.local,negotiate:FILE:$W/bob.cc
SIM-p9,sip:alice@test.local,negotiate:FILE:$W/alice.cc
EOF
	"$CLI" --direct bench --roster "$W/again.csv" --report "$W/report.json" --timeout 6 \
		>"$W/again.out" 2>&1
	rc=$?
	check "a listed phone that never comes ends the run at --timeout with exit 7 (got $rc)" [ $rc = 7 ]
	check "the JSON report parses and has 3 phones" [ "$(jq '.phones | length' "$W/report.json")" = 3 ]
	check "... p1 and p2 up to date with their serials, p9 not seen" \
		[ "$(jq -r '[.phones[] | .outcome + ":" + (.certificate_serial // "-")] | join(" ")' "$W/report.json")" = "up-to-date:$s1 up-to-date:$s2 not-seen:-" ]
	check "p3 still has no CSR" [ "$(field p3 .counters.csrs_created)" = 0 ]

	# through certtetherd (a private bus, its own ledger), alice being the desktop user:
	# the listed phone d1 is approved over D-Bus and provisioned, d2 stays untouched
	for p in p1 p2 p3; do "$CTL" unplug $p >/dev/null; done
	mkfifo "$W/bus.address"
	dbus-daemon --session --nofork --address="unix:path=$W/bus" --print-address=3 \
		3>"$W/bus.address" >/dev/null 2>&1 &
	bus_pid=$!
	read -r -t 10 DBUS_SESSION_BUS_ADDRESS <"$W/bus.address" || { echo "Bail out! dbus-daemon"; exit 1; }
	export DBUS_SESSION_BUS_ADDRESS KRB5CCNAME=FILE:$W/alice.cc
	CERTTETHER_STATE_DIR=$W/daemon-state "$B/daemon/certtetherd" --idle-timeout 0 >"$W/daemon.log" 2>&1 &
	ctd_pid=$!
	if gdbus wait --session --timeout 20 org.certtether.Daemon1; then
		"$CTL" add d1 >/dev/null && "$CTL" add d2 >/dev/null
		"$CTL" plug d1 >/dev/null && "$CTL" plug d2 >/dev/null
		printf 'device,user\nSIM-d1,sip:alice@test.local\n' >"$W/daemon.csv"
		"$CLI" bench --roster "$W/daemon.csv" --report "$W/daemon.json" --timeout 40 \
			>"$W/daemon-bench.out" 2>&1
		rc=$?
		check "bench through certtetherd exits 0 (got $rc)" [ $rc = 0 ]
		[ $rc = 0 ] || { diag "$W/daemon-bench.out"; tail -n 20 "$W/daemon.log" | sed 's/^/# /'; }
		check "... d1 holds a certificate for alice, issued through the daemon" \
			[ "$(field d1 .certificate.subject)" = "CN=alice@test.local" ]
		check "... d2 (unlisted) still waits for approval, no CSR made" \
			[ "$("$CLI" --json status SIM-d2 | jq -r .State)/$(field d2 .counters.csrs_created)" = "awaiting-approval/0" ]
		check "... the report (daemon mode) has d1 provisioned with the phone's serial" \
			[ "$(jq -r '.mode + " " + .phones[0].outcome + " " + .phones[0].certificate_serial' "$W/daemon.json")" = "daemon provisioned $(field d1 .certificate.serial | tr a-f A-F)" ]
		printf 'SIM-d2,sip:bob@test.local\n' >"$W/daemon-bob.csv"
		"$CLI" bench --roster "$W/daemon-bob.csv" --timeout 5 >"$W/daemon-bob.out" 2>&1
		rc=$?
		check "through certtetherd, a roster for another user than the desktop's is refused (exit 2, got $rc)" \
			bash -c "[ $rc = 2 ] && grep -q 'certtetherd provisions phones for the desktop user sip:alice@test.local only' '$W/daemon-bob.out'"
	else
		fail "certtetherd did not appear on the private bus"
	fi
	kill -TERM $ctd_pid 2>/dev/null
	wait $ctd_pid
	rc=$?
	check "certtetherd stops cleanly (status $rc)" [ $rc = 0 ]
	kill -TERM $bus_pid 2>/dev/null
	wait $bus_pid 2>/dev/null
	echo "1..$n"
	exit 0
fi

# ---- setup: network namespace, servers, tickets, phonesim ------------------------------------
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
for f in "$CLI" "$CTL" "$B/tests/phonesim"; do
	if [ ! -x "$f" ]; then
		echo "Bail out! $f is missing: run 'make BUILDDIR=$B tests'"
		exit 1
	fi
done
command -v umockdev-wrapper >/dev/null || { echo "Bail out! umockdev-wrapper not found (make deps)"; exit 1; }
command -v jq >/dev/null || { echo "Bail out! jq not found (make deps)"; exit 1; }
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
case "$ASAN_OPTIONS" in *verify_asan_link_order=0*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;; esac

W=$(mktemp -d "${TMPDIR:-/tmp}/cli-bench.XXXXXX")
trap '"$SRC/tests/servers/stop" "$W/srv"; rm -rf "$W"' EXIT
trap 'exit 1' TERM INT HUP
"$SRC/tests/servers/start" "$W/srv" >/dev/null || { echo "Bail out! test servers did not start"; exit 1; }
. "$W/srv/env.sh"
# each user's ticket in a cache of its own; the session's default cache stays empty
echo "$CERTTETHER_TEST_PASSWORD" | kinit -c "FILE:$W/alice.cc" "$CERTTETHER_TEST_USER" >/dev/null ||
	{ echo "Bail out! kinit alice"; exit 1; }
echo "$CERTTETHER_TEST_PASSWORD2" | kinit -c "FILE:$W/bob.cc" "$CERTTETHER_TEST_USER2" >/dev/null ||
	{ echo "Bail out! kinit bob"; exit 1; }
export KRB5CCNAME=FILE:$W/default.cc
cat >"$W/certtether.conf" <<EOF
[service]
protocol=certprov
url=$CERTTETHER_TEST_CERTPROV_URL
ca-file=$CERTTETHER_TEST_CA
[retry]
initial-delay=0.2
max-delay=1
EOF
export CERTTETHER_CONFIG=$W/certtether.conf CERTTETHER_STATE_DIR=$W/state
# no session bus: --direct needs none, and the daemon path must refuse before asking
unset DBUS_SESSION_BUS_ADDRESS
export W SRC B CLI CTL CERTTETHER_TEST_STORE CERTTETHER_TEST_LOG
umockdev-wrapper "$B/tests/phonesim" --state-dir "$W/phones" --quiet -- "$0" --inner
