#!/bin/bash
# daemon-provision.sh — TAP: certtetherd end to end on a private D-Bus with the emulated
# phone and the real test servers (EST, Kerberos), policy "ask":
#   - a plugged phone shows up in state awaiting-approval, and while nobody approves it
#     no request reaches the certificate service (the fixtures' request log);
#   - Approve (D-Bus) -> provisioned: the phone holds a certificate for the test user
#     that chains to the test CA (openssl verify), the same one the ledger recorded;
#     the ledger has the enrollment 'installed' and the device 'paired'; the D-Bus
#     objects show the API (busctl introspect);
#   - the provisioned phone plugged in again is up to date: nothing is requested;
#   - Reject of a second phone: rejected, nothing sent, remembered at the next plug-in;
#   - a caller of another uid (nobody) is refused with AccessDenied and changes nothing;
#   - Forget drops a rejection and a pairing: the phones are asked about again.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
. "$SRC/tests/integration/lib-daemon.sh"

ctd_setup
# a desktop notification service on the test bus: the daemon notifies when a phone needs
# approval, is provisioned, or fails
NOTES=$W/notifications.log
: >"$NOTES"
"$B/tests/fake-notifyd" "$NOTES" >"$W/fake-notifyd.out" 2>&1 &
NOTIFYD_PID=$!
for _ in $(seq 1 200); do grep -q owns "$W/fake-notifyd.out" && break; sleep 0.05; done
grep -q owns "$W/fake-notifyd.out" || bail "fake-notifyd did not take its bus name"
ctd_start
notified() { # URGENCY TEXT: a notification with that urgency whose line has TEXT
	local deadline=$((SECONDS + 10))
	until awk -F'\t' -v u="$1" -v t="$2" '$1 == u && index($0, t) { found = 1 } END { exit !found }' "$NOTES"; do
		[ "$SECONDS" -lt "$deadline" ] || { diag "notifications:" "$(cat "$NOTES")"; return 1; }
		sleep 0.05
	done
}

# ---- plug-in, policy ask: nothing happens without the user ----
phone add p1 >/dev/null && phone plug p1 >/dev/null || bail "phonesim-ctl cannot plug p1"
P1=$(device_path SIM-p1) || bail "the daemon never showed the plugged phone"
pass "plugged phone appears on the bus as $P1"
ok "unknown phone waits in state awaiting-approval" wait_state "$P1" awaiting-approval 20
ok "it is not paired" is "$(prop "$P1" Paired)" false

# "a device under policy ask that nobody approves -> no request reaches the server":
# give the daemon a few seconds in which it could wrongly act (it is running, the phone
# is connected), then look at the fixtures' log
no_request_within() { # SECONDS: no enrollment request in the log for that long
	local deadline=$((SECONDS + $1))
	while [ "$SECONDS" -lt "$deadline" ]; do
		[ -z "$(enroll_requests)" ] || { diag "request(s) seen:" "$(enroll_requests)"; return 1; }
		sleep 0.2
	done
	[ -z "$(enroll_requests)" ]
}
ok "no request reaches the server while nobody approves (3 s, fixtures' log)" no_request_within 3
ok "still awaiting approval after that" is "$(prop "$P1" State)" awaiting-approval
ok "the phone made no key meanwhile" is "$(phone_json p1 .counters.csrs_created)" 0

# ---- approve -> provisioned ----
ok "desktop notification: approval needed, urgent, names the serial and the command" \
	notified 2 "certtether approve"
ok "... for this phone" notified 2 "SIM-p1"
ok "Approve over D-Bus is accepted" call "$P1" "$CTD_DEVICE.Approve"
ok "approved phone reaches state provisioned" wait_state "$P1" provisioned 60
ok "desktop notification: provisioned, with the certificate's subject" \
	notified 1 "CN=${CERTTETHER_TEST_SIP_URI#sip:}"
ok "phonesim: the phone holds a certificate" is "$(phone_json p1 .state)" provisioned

# the certificate: what the phone reports == what the ledger recorded; it names the
# test user and chains to the test CA
ledger "SELECT writefile('$W/p1.der', cert_der) FROM enrollments WHERE state='installed';" >/dev/null
openssl x509 -inform DER -in "$W/p1.der" -out "$W/p1.pem" 2>/dev/null
ledger "SELECT chain_pem FROM enrollments WHERE state='installed';" >"$W/p1-chain.pem"
ledger_sha=$(ledger "SELECT cert_sha256 FROM enrollments WHERE state='installed';")
ok "the phone's certificate is the ledger's (sha256)" is "$(phone_json p1 .certificate.sha256)" "$ledger_sha"
ok "the certificate file hashes to it" is "$(sha256sum <"$W/p1.der" | cut -d' ' -f1)" "$ledger_sha"
verify_p1() { openssl verify -CAfile "$CERTTETHER_TEST_CA" -untrusted "$W/p1-chain.pem" "$W/p1.pem" >&2; }
ok "openssl verify: the certificate chains to the test CA" verify_p1
ok "subject is the test user" is "$(openssl x509 -in "$W/p1.pem" -noout -subject -nameopt RFC2253)" \
	"subject=CN=${CERTTETHER_TEST_SIP_URI#sip:}"
ok "subjectAltName carries the user's SIP URI" \
	grep -q "URI:$CERTTETHER_TEST_SIP_URI" <(openssl x509 -in "$W/p1.pem" -noout -ext subjectAltName)
ok "the phone reports the same subject" is "$(phone_json p1 .certificate.subject)" "CN=${CERTTETHER_TEST_SIP_URI#sip:}"
chain_phone=$(phone_json p1 '[.chain[].sha256]|join(" ")')
chain_ledger=$(awk '/BEGIN/{n++} {print > ("'"$W"'/c" n ".pem")}' "$W/p1-chain.pem"
	for c in "$W"/c[0-9]*.pem; do
		openssl x509 -in "$c" -outform DER | sha256sum | cut -d' ' -f1
	done | paste -sd' ')
ok "the phone holds the ledger's chain" is "$chain_phone" "$chain_ledger"

# the ledger
ok "ledger: one enrollment, state installed, for the test user" \
	is "$(ledger "SELECT count(*), state, user FROM enrollments;")" "1|installed|$CERTTETHER_TEST_SIP_URI"
fpr=$(phone_json p1 .identity_key_sha256)
ok "ledger: the device is paired (serial + identity key)" \
	is "$(ledger "SELECT decision FROM devices WHERE serial='SIM-p1' AND identity_fpr='$fpr';")" paired
ok "ledger: events record the path up to provisioned" \
	is "$(ledger "SELECT count(*) FROM events WHERE serial='SIM-p1' AND state='provisioned';")" 1

# the D-Bus view
ok "D-Bus: CertificateSerial is the ledger's" \
	is "$(prop "$P1" CertificateSerial)" "$(ledger "SELECT cert_serial FROM enrollments;")"
ok "D-Bus: Paired, no LastError" is "$(prop "$P1" Paired)/$(prop "$P1" LastError)" "true/"
ok "D-Bus: IdentityFingerprint is the phone's identity key" is "$(prop "$P1" IdentityFingerprint)" "$fpr"
ok "D-Bus: the Manager's User is the test user" \
	is "$(busctl --user -j get-property "$CTD_NAME" "$CTD_PATH" "$CTD_MANAGER" User | jq -r .data)" \
	"$CERTTETHER_TEST_SIP_URI"
busctl --user introspect "$CTD_NAME" "$P1" >"$W/introspect.txt" 2>&1
introspect_has() { # MEMBER KIND
	awk -v m=".$1" -v k="$2" '$1 == m && $2 == k { found = 1 } END { exit !found }' "$W/introspect.txt"
}
api_ok=1
for m in Approve Reject Provision Forget; do introspect_has "$m" method || { diag "no method $m"; api_ok=0; }; done
for p in Id Serial State Progress StateDetail Paired Connected CertificateSerial CertificateNotAfter \
	LastError LastErrorMessage Hint Attempts NextRetry; do
	introspect_has "$p" property || { diag "no property $p"; api_ok=0; }
done
grep -q "^$CTD_DEVICE " "$W/introspect.txt" || api_ok=0
ok "busctl --user introspect shows Device1's methods and properties" is "$api_ok" 1
ok "busctl --user introspect shows Manager1 on $CTD_PATH" \
	grep -q "^\.GetDevices  *method" <(busctl --user introspect "$CTD_NAME" "$CTD_PATH" "$CTD_MANAGER")
ok "the service issued exactly one certificate" is "$(issued_count)" 1

# ---- plugged in again: up to date, nothing requested ----
phone unplug p1 >/dev/null
ok "unplugged phone: state disconnected" wait_state "$P1" disconnected 20
phone plug p1 >/dev/null
ok "provisioned phone plugged in again: up-to-date" wait_state "$P1" up-to-date 30
ok "... because its certificate is valid (detail)" \
	grep -q "^the certificate for $CERTTETHER_TEST_SIP_URI is valid until" <<<"$(prop "$P1" StateDetail)"
ok "no new request, no new certificate" is "$(enroll_requests | wc -l)/$(issued_count)" "1/1"
ok "the phone was not asked for a key again" is "$(phone_json p1 .counters.csrs_created)" 1

# ---- a second phone, rejected ----
phone add p2 >/dev/null && phone plug p2 >/dev/null
P2=$(device_path SIM-p2) || bail "the daemon never showed p2"
ok "second phone waits for approval" wait_state "$P2" awaiting-approval 20
ok "Reject over D-Bus is accepted" call "$P2" "$CTD_DEVICE.Reject"
ok "rejected phone: state rejected" wait_state "$P2" rejected 10
ok "ledger: the rejection is remembered" \
	is "$(ledger "SELECT decision FROM devices WHERE serial='SIM-p2';")" rejected
phone unplug p2 >/dev/null && phone plug p2 >/dev/null
phone wait p2 hello --count 2 --timeout 20 >/dev/null
ok "plugged in again: still rejected, without asking" wait_state "$P2" rejected 20
ok "nothing was sent for the rejected phone" is "$(enroll_requests | wc -l)" 1
ok "the rejected phone was never asked for a key" is "$(phone_json p2 .counters.csrs_created)" 0

# ---- a caller of another uid ----
# The bus of this test lets other uids connect (a real session bus does not: its policy
# admits only its owner), so that certtetherd's own check is what is tested here.
as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }
if ! command -v setpriv >/dev/null; then
	skip "setpriv (util-linux) missing: cannot call as another uid"
else
	out=$(as_nobody gdbus call --session -d "$CTD_NAME" -o "$P2" -m "$CTD_DEVICE.Approve" 2>&1)
	rc=$?
	ok "Approve from uid 65534 fails with AccessDenied" \
		is "$rc:$(echo "$out" | grep -o 'org.freedesktop.DBus.Error.AccessDenied' | head -1)" \
		"1:org.freedesktop.DBus.Error.AccessDenied"
	ok "... and the phone stays rejected" is "$(prop "$P2" State)" rejected
	out=$(as_nobody gdbus call --session -d "$CTD_NAME" -o "$CTD_PATH" -m "$CTD_MANAGER.GetDevices" 2>&1)
	ok "GetDevices from uid 65534 fails with AccessDenied" \
		grep -q 'org.freedesktop.DBus.Error.AccessDenied' <<<"$out"
	out=$(as_nobody gdbus call --session -d "$CTD_NAME" -o "$P1" -m "$CTD_DEVICE.Forget" 2>&1)
	ok "Forget from uid 65534 fails with AccessDenied, the pairing stays" \
		is "$(grep -c AccessDenied <<<"$out")/$(ledger "SELECT decision FROM devices WHERE serial='SIM-p1';")" \
		"1/paired"
fi

# ---- Forget ----
ok "Forget the rejected phone" call "$P2" "$CTD_DEVICE.Forget"
ok "ledger: its rejection is gone" is "$(ledger "SELECT count(*) FROM devices WHERE serial='SIM-p2';")" 0
phone unplug p2 >/dev/null && phone plug p2 >/dev/null
ok "forgotten phone plugged in again: asked about again" wait_state "$P2" awaiting-approval 20
ok "still one request and one certificate in all" is "$(enroll_requests | wc -l)/$(issued_count)" "1/1"

# ---- renewal: forced over D-Bus, then by the renewal window after a restart ----
ok "Provision {force: true} over D-Bus is accepted" \
	call "$P1" "$CTD_DEVICE.Provision" "{'force': <true>}"
ok "forced renewal: provisioned again" wait_state "$P1" provisioned 60
ok "forced renewal: a second CSR, a second certificate, the new one installed" \
	is "$(ledger "SELECT count(*) FROM enrollments WHERE state='installed';")/$(issued_count)/$(phone_json p1 .certificate.sha256)" \
	"2/2/$(ledger "SELECT cert_sha256 FROM enrollments ORDER BY id DESC LIMIT 1;")"
ctd_stop
ok "certtetherd stops on SIGTERM with status 0 (before the restart)" is "$ctd_exit_status" 0
# 180-day certificates are inside a 365-day renewal window
ctd_write_config device.renew-before-days=365
ctd_start
ok "restarted daemon finds the phone that was already plugged in" wait_state "$P1" provisioned 60
ok "... and renewed it: its certificate is inside the renewal window" \
	is "$(issued_count)/$(ledger "SELECT count(*) FROM events WHERE serial='SIM-p1' AND state='enrolling';")" "3/3"
ok "... and the manager's policy is still ask" \
	is "$(busctl --user -j get-property "$CTD_NAME" "$CTD_PATH" "$CTD_MANAGER" Policy | jq -r .data)" ask
ok "one certificate per CSR in all" one_cert_per_csr

ok "Forget the paired phone" call "$P1" "$CTD_DEVICE.Forget"
ok "ledger: its pairing is gone, D-Bus says unpaired" \
	is "$(ledger "SELECT count(*) FROM devices WHERE serial='SIM-p1';")/$(prop "$P1" Paired)" "0/false"
phone unplug p1 >/dev/null && phone plug p1 >/dev/null
ok "forgotten phone plugged in again: awaiting approval" wait_state "$P1" awaiting-approval 20
ok "three requests and three certificates in all" is "$(enroll_requests | wc -l)/$(issued_count)" "3/3"

# ---- a failure is notified too ----
phone add p9 --misbehave wrong-subject >/dev/null && phone plug p9 >/dev/null ||
	bail "phonesim-ctl cannot plug p9"
P9=$(device_path SIM-p9) || bail "the daemon never showed SIM-p9"
wait_state "$P9" awaiting-approval 20 && call "$P9" "$CTD_DEVICE.Approve" ||
	fail "approve the phone that asks for another subject"
ok "a phone asking for another subject fails" wait_state "$P9" failed 30
ok "desktop notification: the failure, urgent, with its reason" notified 2 "impostor"
kill "$NOTIFYD_PID" 2>/dev/null

ctd_done
