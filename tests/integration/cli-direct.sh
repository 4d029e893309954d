#!/bin/bash
# certtether --direct: the engine in the CLI's own process, no daemon and no
# session bus, against the test servers (private network namespace) and
# emulated phones (phonesim under umockdev). Every verb the CLI owns, --json
# parsed with jq, and the documented exit codes.
# Needs CT_BUILDDIR (tests/run-tests.sh sets it). Prints TAP.
set -u
. "$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/cli-common.sh"

if [ -z "${CT_CLI_INNER:-}" ]; then
	cli_check_binaries
	[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
	trap 'cli_cleanup_servers; rm -rf "$W"' EXIT
	trap 'exit 1' TERM INT HUP
	cli_setup
	# no bus at all: --direct must not need one
	unset DBUS_SESSION_BUS_ADDRESS
	export XDG_RUNTIME_DIR=$W/xdg/runtime
	mkdir -p -m 0700 "$XDG_RUNTIME_DIR"
	CT_CLI_INNER=1 umockdev-wrapper "$CT_BUILDDIR/tests/phonesim" --state-dir "$W/phones" --quiet -- "$0" "$@"
	exit $?
fi

# ---- inner part: phonesim's child ---------------------------------------------------------------

commits() {
	phone "$1" .counters.commits
}
plug() {
	"$CTL" add "$@" >/dev/null && "$CTL" plug "$1" >/dev/null || bail "phonesim-ctl could not plug $1"
}

# the documentation: certtether(1) renders without warnings and keeps up with --help
warnings=$(MANWIDTH=80 man -l --warnings "$SRC/ui-cli/certtether.1" 2>&1 >/dev/null)
if [ -z "$warnings" ]; then ok "certtether(1) renders without warnings"; else not_ok "certtether(1) renders without warnings"; printf '%s\n' "$warnings" | sed 's/^/#   /'; fi
page=$(MANWIDTH=200 man -l "$SRC/ui-cli/certtether.1" 2>/dev/null)
verbs=$("$CLI" --help | sed -n '/^Verbs:/,/^$/p' | awk 'NF && !/^Verbs:/ { print $1 }')
missing=""
for verb in $verbs; do
	printf '%s\n' "$page" | grep -qE "^   $verb( |$)" || missing="$missing $verb"
done
if [ -n "$verbs" ] && [ -z "$missing" ]; then ok "certtether(1) documents every verb of --help ($(echo $verbs | wc -w))"; else not_ok "certtether(1) documents every verb of --help (missing:$missing)"; fi
codes=$(printf '%s\n' "$page" | sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' | grep -oE '^       [0-9] ' | tr -d ' ' | tr '\n' ' ')
if [ "$codes" = "0 1 2 3 4 5 6 7 8 " ]; then ok "certtether(1): exit status table 0..8"; else not_ok "certtether(1): exit status table 0..8 (found: $codes)"; fi
completion=$(bash -c '
	[ -r /usr/share/bash-completion/bash_completion ] && . /usr/share/bash-completion/bash_completion
	. "$1"
	COMP_WORDS=(certtether pro); COMP_CWORD=1; COMP_LINE="certtether pro"; COMP_POINT=${#COMP_LINE}
	_certtether; echo "${COMPREPLY[*]}"
	COMP_WORDS=(certtether test c); COMP_CWORD=2; COMP_LINE="certtether test c"; COMP_POINT=${#COMP_LINE}
	_certtether; echo "${COMPREPLY[*]}"' _ "$SRC/ui-cli/certtether.bash-completion" 2>&1)
if [ "$completion" = "provision
client-auth chain" ]; then ok "bash completion: verbs and test sub-verbs"; else not_ok "bash completion: verbs and test sub-verbs (got: $completion)"; fi

run --direct list --bogus
expect "unknown flag: exit 2" 2
expect_err "unknown flag: usage on stderr" "Usage: certtether"
run --direct provision --no-wait
expect "--no-wait with --direct: exit 2" 2

run --direct list --json
expect "list --json with no phone: exit 0" 0
expect_json "list --json: no devices" '.devices == []'

# a phone already on the bus when the engine starts is identified before the listing
plug p1
run --direct list --json
expect_json "list --json: p1 identified, awaiting approval" \
	'(.devices | length) == 1 and .devices[0].Serial == "SIM-p1" and .devices[0].State == "awaiting-approval" and (.devices[0].IdentityFingerprint | length) == 64 and .devices[0].Connected == true'
run --direct list
if [ "$RC" = 0 ] && printf '%s\n' "$OUT" | grep -E 'SIM-p1' | grep -q awaiting-approval; then ok "list: the table shows p1"; else not_ok "list: the table shows p1"; diag; fi
run --direct status SIM-p1 --json
expect_json "status DEVICE --json" '.Serial == "SIM-p1" and .State == "awaiting-approval" and .Paired == false'
run --direct status --json
expect_json "status --json: direct mode, policy ask" '.mode == "direct" and .policy == "ask" and (.devices | length) == 1'
run --direct status no-such-phone
expect "unknown device: exit 7" 7
run --direct provision
expect "provision (all) with only an unapproved phone: exit 5" 5
expect_err "... naming the phone and how to approve it" "SIM-p1.*approv|approve SIM-p1"
if [ "$(phone p1 .counters.csrs_created)" = 0 ]; then ok "nothing was asked of the unapproved phone"; else not_ok "nothing was asked of the unapproved phone"; fi

# naming it approves it (no daemon to ask) and waits for the outcome
run --direct provision SIM-p1
expect "provision DEVICE approves and provisions: exit 0" 0
sip=${CERTTETHER_TEST_SIP_URI#sip:}
if [ "$(phone p1 .state)" = provisioned ] && phone p1 .certificate.subject | grep -q "CN=$sip"; then
	ok "phonesim holds the certificate for $sip"
else
	not_ok "phonesim holds the certificate for $sip"
fi
if printf '%s\n' "$OUT" | grep -qE 'enrolling' && printf '%s\n' "$OUT" | grep -qE 'SIM-p1: provisioned'; then
	ok "provision: plain progress lines, then the outcome"
else
	not_ok "provision: plain progress lines, then the outcome"
	diag
fi
run --direct status SIM-p1 --json
expect_json "a new engine sees p1 paired and up to date" '.Paired == true and .State == "up-to-date" and .CertificateSerial != ""'
run --direct provision SIM-p1 --json
expect "provision of an up-to-date phone: exit 0" 0
expect_json "provision --json: up-to-date" '.exit_code == 0 and .devices[0].outcome == "up-to-date"'
before=$(commits p1)
run --direct provision --force SIM-p1
expect "provision --force: exit 0" 0
if [ "$(commits p1)" = $((before + 1)) ]; then ok "provision --force: phonesim saw a second commit"; else not_ok "provision --force: phonesim saw a second commit"; fi

# history straight from the ledger (no USB)
run --direct history --limit 0 --json
expect "history --json: exit 0" 0
expect_json "history --json: p1's state events" '[.events[] | select(.serial == "SIM-p1") | .state] | (index("awaiting-approval") != null and index("provisioned") != null)'
run --direct history SIM-p1 --limit 2 --json
expect_json "history DEVICE --limit 2" '(.events | length) == 2 and all(.events[]; .serial == "SIM-p1")'

# reject, remembered by the ledger
plug p2
run --direct reject SIM-p2
expect "reject: exit 0" 0
run --direct status SIM-p2 --json
expect_json "a new engine sees p2 rejected" '.State == "rejected"'
run --direct provision SIM-p2
expect "provision of a rejected phone: exit 5" 5
"$CTL" unplug p2 >/dev/null

# approve waits with --direct; a phone asking for another subject is refused (CsrInvalid)
plug p3 --misbehave wrong-subject
run --direct approve SIM-p3 --json
expect "approve of a phone asking for another subject: exit 5" 5
expect_json "approve --json: failed with CsrInvalid" '.exit_code == 5 and .devices[0].outcome == "failed" and .devices[0].error.name == "CsrInvalid"'
"$CTL" unplug p3 >/dev/null

# a phone unplugged in the middle (DeviceGone) -> 7
plug p5 --misbehave unplug-at=create-csr
run --direct provision SIM-p5
expect "a phone unplugged while provisioning: exit 7" 7
expect_err "... saying to plug it in again" "plug (it|the phone) in again"
if printf '%s' "$ERR" | grep -q "GDBus.Error"; then not_ok "... without D-Bus decorations in the message"; diag; else ok "... without D-Bus decorations in the message"; fi

# credentials and the service
kdestroy >/dev/null 2>&1
run --direct provision --force SIM-p1
expect "no Kerberos ticket: exit 3" 3
expect_err "no Kerberos ticket: the message says kinit" "kinit"
echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null 2>&1 || bail "kinit again failed"
"$SRC/tests/servers/control" "$W/srv" refuse-auth 1
run --direct provision --force SIM-p1
expect "refused by the service (AuthFailed): exit 3" 3
"$SRC/tests/servers/control" "$W/srv" refuse-auth
write_config "$W/closed.conf" est "https://localhost:$(closed_port)/.well-known/est" "$CERTTETHER_TEST_CA"
run --direct --config "$W/closed.conf" provision --force SIM-p1
expect "service unreachable (--config): exit 4" 4
run --direct --ca-file "$CERTTETHER_TEST_UNKNOWN_CA" provision --force SIM-p1
expect "untrusted TLS chain (--ca-file): exit 6" 6
write_config "$W/bad.conf" est "ftp://nowhere" "$CERTTETHER_TEST_CA"
run --direct --config "$W/bad.conf" list
expect "a bad configuration: exit 8" 8
expect_err "a bad configuration: the message names the file" "bad.conf"

# the CertProv protocol, end to end
write_config "$W/certprov.conf" certprov "$CERTTETHER_TEST_CERTPROV_URL" "$CERTTETHER_TEST_CA"
before=$(commits p1)
run --direct --config "$W/certprov.conf" provision --force SIM-p1
if [ "$RC" = 0 ] && [ "$(commits p1)" = $((before + 1)) ]; then
	ok "CertProv: provision --force installs a new certificate"
elif printf '%s' "$ERR" | grep -q "not available in this build"; then
	ok "# SKIP CertProv is not available in this build"
else
	not_ok "CertProv: provision --force installs a new certificate (exit $RC)"
	diag
fi

# EST with alice's TLS client certificate and no Kerberos ticket at all: the engine takes
# the user from the certificate and renews the phone's certificate for alice (the phone
# holds one of hers already: simplereenroll)
write_config "$W/cert.conf" est "$CERTTETHER_TEST_EST_URL" "$CERTTETHER_TEST_CA" "[identity]" \
	"auth=certificate" "client-cert=$CERTTETHER_TEST_CLIENT_CERT" "client-key=$CERTTETHER_TEST_CLIENT_KEY"
before=$(commits p1)
KRB5CCNAME=FILE:$W/no-ticket.cc run --direct --config "$W/cert.conf" provision --force SIM-p1
if [ "$RC" = 0 ] && [ "$(commits p1)" = $((before + 1)) ] && phone p1 .certificate.subject | grep -q "CN=$sip" &&
	tail -n 1 "$CERTTETHER_TEST_LOG" | grep -Eq " est simplereenroll user=alice@test.local renewed .* auth=certificate$"; then
	ok "client certificate, no ticket: provision --force renews the phone's certificate for $sip"
else
	not_ok "client certificate, no ticket: provision --force renews the phone's certificate for $sip (exit $RC)"
	diag
	tail -n 1 "$CERTTETHER_TEST_LOG" | sed 's/^/#   log: /'
fi

# watch: a phone plugged in while watching is provisioned (policy always, a bench setup)
write_config "$W/always.conf" est "$CERTTETHER_TEST_EST_URL" "$CERTTETHER_TEST_CA" "[policy]" "mode=always"
"$CLI" --direct --config "$W/always.conf" watch --json >"$W/watch.out" 2>"$W/watch.err" &
WATCH=$!
# p1's first line says the engine runs
timeout 10 bash -c "until [ -s '$W/watch.out' ]; do sleep 0.05; done"
plug p4
timeout 30 bash -c "until grep -q '\"Serial\":\"SIM-p4\".*\"State\":\"provisioned\"' '$W/watch.out'; do sleep 0.1; done"
kill -INT "$WATCH"
wait "$WATCH"
wrc=$?
if [ "$wrc" = 0 ]; then ok "watch: Ctrl-C ends it with exit 0"; else not_ok "watch: Ctrl-C ends it with exit 0 (exit $wrc: $(head -c 300 "$W/watch.err"))"; fi
if [ -s "$W/watch.out" ] && jq -e -s 'all(.[]; has("event") and has("time") and (.device | has("Id")))' "$W/watch.out" >/dev/null; then
	ok "watch --json: one parseable object per line ($(wc -l <"$W/watch.out") lines)"
else
	not_ok "watch --json: one parseable object per line"
fi
if jq -e -s '[.[] | select(.device.Serial == "SIM-p4") | .device.State] | (index("generating-key") != null and index("provisioned") != null)' "$W/watch.out" >/dev/null; then
	ok "watch --json: p4 went from generating-key to provisioned"
else
	not_ok "watch --json: p4 went from generating-key to provisioned"
	jq -r -c '[.event, .device.Serial, .device.State] | join(" ")' "$W/watch.out" | head -n 20 | sed 's/^/#   /'
fi
if [ "$(phone p4 .state)" = provisioned ]; then ok "p4 holds its certificate"; else not_ok "p4 holds its certificate"; fi

finish
