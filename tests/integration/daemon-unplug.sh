#!/bin/bash
# daemon-unplug.sh — TAP: "unplug at every state, then re-plug -> completes; exactly one
# certificate issued per CSR", with certtetherd, phonesim and the test servers (EST).
#
# One fresh phone per case (policy ask, approved over D-Bus):
#   - the phone unplugs itself when a request arrives, before answering it (phonesim
#     unplug-at=MSG): hello (identifying), status (checking), create-csr (generating-key),
#     stage-begin and stage-item (installing), commit (committing);
#   - the host side unplugs it (phonesim-ctl unplug) while it waits for approval, while
#     the service is answering (fixture knob slow: enrolling), and while
#     the enrollment waits for a retry (knob store-unavailable): the enrollment job
#     goes on without the phone, the certificate is recorded in the ledger;
# then it is plugged in again (and approved if it still needs to be): it ends
# provisioned with the certificate the ledger holds, and in the end every certificate
# the service published is the ledger's certificate of exactly one CSR.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
. "$SRC/tests/integration/lib-daemon.sh"

ctd_setup
ctd_start
knob() { "$SRC/tests/servers/control" "$W/srv" "$@" >/dev/null; }

# the phone's certificate is the one the ledger recorded last for it, and installed
installed_is_ledgers() { # ID SERIAL
	local want
	want=$(ledger "SELECT e.cert_sha256 FROM enrollments e JOIN devices d ON d.id = e.device_id
		WHERE d.serial = '$2' AND e.state = 'installed' ORDER BY e.id DESC LIMIT 1;")
	is "$(phone_json "$1" .certificate.sha256)" "${want:-<none installed in the ledger>}"
}

# approve_when_asked PATH: approve if (and only if) the phone waits for it
approve_when_asked() {
	local path=$1 deadline=$((SECONDS + 20)) state
	while :; do
		state=$(prop "$path" State)
		case "$state" in
		awaiting-approval) call "$path" "$CTD_DEVICE.Approve"; return ;;
		identifying | connected | "") ;;
		*) return 0 ;;
		esac
		[ "$SECONDS" -lt "$deadline" ] || { diag "still '$state'"; return 1; }
		sleep 0.05
	done
}

# ---- the phone unplugs itself at each request ----
for msg in hello status create-csr stage-begin stage-item commit; do
	id=u-$msg
	serial=SIM-$id
	issued_before=$(issued_count)
	phone add "$id" --misbehave "unplug-at=$msg" >/dev/null && phone plug "$id" >/dev/null ||
		bail "phonesim-ctl cannot plug $id"
	if [ "$msg" != hello ]; then
		path=$(device_path "$serial") || bail "the daemon never showed $serial"
		wait_state "$path" awaiting-approval 20 && call "$path" "$CTD_DEVICE.Approve" ||
			fail "$msg: approve the phone"
	fi
	ok "$msg: the phone unplugs itself on $msg" phone wait "$id" self-unplug --timeout 60
	if [ "$msg" != hello ]; then
		ok "$msg: the daemon shows it disconnected" wait_state "$path" disconnected 20
	fi
	phone wait "$id" unplugged --timeout 10 >/dev/null
	phone plug "$id" >/dev/null
	path=$(device_path "$serial") || bail "the daemon never showed $serial"
	approve_when_asked "$path"
	ok "$msg: plugged in again, it ends provisioned" wait_state "$path" provisioned 60
	ok "$msg: it holds the certificate the ledger recorded" installed_is_ledgers "$id" "$serial"
	ok "$msg: one CSR in the ledger, one certificate issued for the phone" \
		is "$(ledger "SELECT count(*) FROM enrollments e JOIN devices d ON d.id = e.device_id
			WHERE d.serial = '$serial';")/$(($(issued_count) - issued_before))" "1/1"
	case "$msg" in
	stage-* | commit)
		ok "$msg: resumed from the ledger, the phone made no second key" \
			is "$(phone_json "$id" .counters.csrs_created)" 1
		;;
	esac
done

# ---- the host unplugs it while it waits for approval ----
phone add u-approval >/dev/null && phone plug u-approval >/dev/null
path=$(device_path SIM-u-approval) || bail "the daemon never showed SIM-u-approval"
wait_state "$path" awaiting-approval 20 || fail "u-approval waits for approval"
phone unplug u-approval >/dev/null
ok "awaiting-approval: unplugged, the daemon shows it disconnected" wait_state "$path" disconnected 20
phone plug u-approval >/dev/null
ok "awaiting-approval: plugged in again, it waits for approval again" \
	wait_state "$path" awaiting-approval 20
call "$path" "$CTD_DEVICE.Approve"
ok "awaiting-approval: approved, provisioned" wait_state "$path" provisioned 60

# ---- the host unplugs it while the enrollment job runs: the job goes on ----
# unplug_during ID STATE KNOB VALUE: unplug once the daemon shows STATE (with the knob set)
unplug_during() {
	local id=$1 state=$2 knob_name=$3 knob_value=$4 serial=SIM-$1 path issued_before csr
	phone add "$id" >/dev/null && phone plug "$id" >/dev/null
	path=$(device_path "$serial") || bail "the daemon never showed $serial"
	wait_state "$path" awaiting-approval 20 || fail "$id waits for approval"
	knob "$knob_name" "$knob_value"
	issued_before=$(issued_count)
	call "$path" "$CTD_DEVICE.Approve"
	if ! wait_state "$path" "$state" 30; then
		fail "$state: the daemon reached $state"
		knob "$knob_name"
		return
	fi
	phone unplug "$id" >/dev/null
	pass "$state: the phone was unplugged while $state"
	ok "$state: the daemon says the request goes on" \
		wait_detail "$path" "the certificate request goes on" 10
	[ "$knob_name" = store-unavailable ] && knob "$knob_name" # let the next retry succeed
	csr=$(ledger "SELECT e.csr_sha256 FROM enrollments e JOIN devices d ON d.id = e.device_id
		WHERE d.serial = '$serial';")
	wait_ledger_issued() {
		local deadline=$((SECONDS + 40))
		until [ "$(ledger "SELECT state FROM enrollments WHERE csr_sha256 = '$csr';")" = issued ]; do
			[ "$SECONDS" -lt "$deadline" ] || { diag "enrollment of $csr not issued"; return 1; }
			sleep 0.1
		done
	}
	ok "$state: without the phone, the job got the certificate into the ledger" wait_ledger_issued
	ok "$state: the daemon says to plug the phone in to install it" \
		wait_detail "$path" "plug the phone in again to install it" 10
	knob "$knob_name"
	phone plug "$id" >/dev/null
	ok "$state: plugged in again, it ends provisioned" wait_state "$path" provisioned 60
	ok "$state: it holds the certificate the ledger recorded" installed_is_ledgers "$id" "$serial"
	ok "$state: one CSR, one certificate issued for it" \
		is "$(ledger "SELECT count(*) FROM enrollments e JOIN devices d ON d.id = e.device_id
			WHERE d.serial = '$serial';")/$(($(issued_count) - issued_before))" "1/1"
}
unplug_during u-enrolling enrolling slow 2
unplug_during u-retry waiting-retry store-unavailable always

# ---- the COMMIT went through but its answer was lost ----
# the phone installs, its COMMIT_RSP arrives garbled: the daemon cannot know and fails
# the step; plugged in again, the phone's STATUS shows the certificate the ledger still
# called 'issued', and the ledger is reconciled (no second request)
id=u-lost-commit
serial=SIM-$id
issued_before=$(issued_count)
phone add "$id" --misbehave "malformed=commit" >/dev/null && phone plug "$id" >/dev/null ||
	bail "phonesim-ctl cannot plug $id"
path=$(device_path "$serial") || bail "the daemon never showed $serial"
wait_state "$path" awaiting-approval 20 && call "$path" "$CTD_DEVICE.Approve" ||
	fail "lost COMMIT answer: approve the phone"
ok "lost COMMIT answer: the phone committed" phone wait "$id" committed --timeout 60
ok "lost COMMIT answer: the daemon reports the step failed" wait_state "$path" failed 30
phone unplug "$id" >/dev/null
phone misbehave "$id" clear >/dev/null
phone plug "$id" >/dev/null
ok "lost COMMIT answer: plugged in again, it is up to date" wait_state "$path" up-to-date 30
ok "lost COMMIT answer: the ledger records it installed, the phone's certificate" \
	installed_is_ledgers "$id" "$serial"
ok "lost COMMIT answer: one certificate issued" is "$(($(issued_count) - issued_before))" 1

# ---- in all ----
phones=$(ledger "SELECT count(*) FROM devices WHERE decision = 'paired';")
ok "all $phones phones provisioned: every enrollment installed" \
	is "$(ledger "SELECT count(*) FROM enrollments WHERE state = 'installed';")" \
	"$(ledger "SELECT count(*) FROM enrollments;")"
ok "exactly one certificate issued per CSR ($(issued_count) certificates, ledger = published)" \
	one_cert_per_csr
ok "no CSR is in the ledger without its certificate" \
	is "$(ledger "SELECT count(*) FROM enrollments WHERE cert_sha256 IS NULL;")" 0

ctd_done
