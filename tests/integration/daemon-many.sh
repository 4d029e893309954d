#!/bin/bash
# daemon-many.sh — TAP: "8 phones plugged at once -> all provisioned; one hostile phone among
# them (malformed frames, or a CSR for another subject) fails alone with a clear reason,
# the others are unaffected", with certtetherd, phonesim and the test servers (EST,
# policy always: no approval step, every phone is provisioned as it comes).
#
# Ten phones are plugged in one burst: eight well-behaved ones, one whose every answer
# to HELLO has a broken checksum (malformed=hello: it never identifies itself) and one
# whose CSR names another subject (wrong-subject). The eight end provisioned, each with
# its own certificate; the hostile ones end failed with LastError Device and CsrInvalid
# and a message that says what was wrong; nothing was requested for them.
#
# malformed=hello rather than malformed=create-csr: the host drops a frame whose checksum
# is wrong and waits for a good one until the call's timeout (PROTOCOL.md 2.2), which is
# 5 s for HELLO but 120 s for CREATE_CSR (key generation on a slow phone).
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
. "$SRC/tests/integration/lib-daemon.sh"

ctd_setup
ctd_write_config policy.mode=always
ctd_start

good="g1 g2 g3 g4 g5 g6 g7 g8"
for id in $good; do phone add "$id" >/dev/null || bail "cannot add $id"; done
phone add bad-frames --misbehave malformed=hello >/dev/null || bail "cannot add bad-frames"
phone add bad-subject --misbehave wrong-subject >/dev/null || bail "cannot add bad-subject"
# one burst: phonesim-ctl calls one after the other, a few ms apart (parallel calls can
# overflow phonesim's control socket backlog: EAGAIN)
for id in g1 g2 g3 g4 bad-frames g5 g6 bad-subject g7 g8; do
	phone plug "$id" >/dev/null || bail "cannot plug $id"
done
pass "ten phones plugged at once (eight good, two hostile)"

declare -A path
for id in $good bad-subject; do
	path[$id]=$(device_path "SIM-$id" 30) || bail "the daemon never showed SIM-$id"
done
all_good=1
for id in $good; do
	wait_state "${path[$id]}" provisioned 120 || { diag "$id not provisioned"; all_good=0; }
done
ok "all eight good phones are provisioned" is "$all_good" 1
certs_ok=1
for id in $good; do
	sha=$(ledger "SELECT e.cert_sha256 FROM enrollments e JOIN devices d ON d.id = e.device_id
		WHERE d.serial = 'SIM-$id' AND e.state = 'installed';")
	[ -n "$sha" ] && [ "$(phone_json "$id" .certificate.sha256)" = "$sha" ] ||
		{ diag "$id does not hold its ledger certificate ($sha)"; certs_ok=0; }
done
ok "each holds its own certificate, the one the ledger recorded for it" is "$certs_ok" 1
ok "eight distinct certificates installed" \
	is "$(for id in $good; do phone_json "$id" .certificate.sha256; done | sort -u | wc -l)" 8

# the phone with the wrong subject: refused by the CSR checks, before any request
p=${path[bad-subject]}
ok "wrong-subject phone: failed" wait_state "$p" failed 60
ok "wrong-subject phone: LastError is CsrInvalid" is "$(prop "$p" LastError)" "$CTD_ERROR.CsrInvalid"
msg=$(prop "$p" LastErrorMessage)
diag "wrong-subject phone says: $msg"
ok "wrong-subject phone: the message names the subject problem" grep -qi "subject" <<<"$msg"
ok "wrong-subject phone: no enrollment in the ledger" \
	is "$(ledger "SELECT count(*) FROM enrollments e JOIN devices d ON d.id = e.device_id
		WHERE d.serial = 'SIM-bad-subject';")" 0

# the phone with broken frames: it never identifies itself; the daemon shows it by its port
port=$(phone_json bad-frames .port)
find_by_port() {
	local deadline=$((SECONDS + 60)) out
	while :; do
		for dev in $(dbus_call "$CTD_PATH" "$CTD_MANAGER.GetDevices" | grep -o "'[^']*'" | tr -d "'"); do
			if [ "$(prop "$dev" UsbPort)" = "$port" ] && [ "$(prop "$dev" State)" = failed ]; then
				echo "$dev"
				return 0
			fi
		done
		[ "$SECONDS" -lt "$deadline" ] || return 1
		sleep 0.2
	done
}
p=$(find_by_port)
ok "broken-frames phone: failed, shown by its USB port $port" test -n "$p"
ok "broken-frames phone: LastError is Device" is "$(prop "$p" LastError)" "$CTD_ERROR.Device"
msg=$(prop "$p" LastErrorMessage)
diag "broken-frames phone says: $msg"
ok "broken-frames phone: the message says HELLO failed" grep -q "HELLO" <<<"$msg"
ok "broken-frames phone: HELLO reached it (what failed is its garbled answer)" \
	test "$(phone_json bad-frames .counters.hellos)" -ge 1

# nothing was requested for the hostile phones: exactly eight requests, eight certificates
ok "the service got exactly eight requests and issued eight certificates" \
	is "$(enroll_requests | wc -l)/$(issued_count)" "8/8"
ok "exactly one certificate per CSR (ledger = published)" one_cert_per_csr

ctd_done
