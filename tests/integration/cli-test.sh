#!/bin/bash
# certtether test client-auth | bootstrap | chain against the test servers (TAP).
#
# client-auth obtains a real certificate for alice with a throwaway key over
# CertProv and EST (exit 0, "Result : Success", one more certificate published),
# also over EST with alice's TLS client certificate and no ticket at all (exit 0;
# CertProv refuses that configuration), fails without a ticket (exit 3, the
# diagnosis says kinit, nothing sent) and
# with an untrusted TLS chain (exit 6, the missing issuer named, nothing sent);
# chain judges the TLS chain with and without the right anchors, and against
# the trust store of emulated phones (--direct: one that holds the anchor, one
# that cannot hold any); bootstrap says plainly that PIN authentication is not
# supported and never shows the PIN; every --json output parses.
#
# Runs itself in a private network namespace (tests/servers/in-netns) and as
# phonesim's child under umockdev-wrapper (the phone checks need the emulated bus).
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${CT_BUILDDIR:-$SRC/build}
CLI=$B/ui-cli/certtether
CTL=$B/tests/phonesim-ctl

# ---- the tests, under phonesim ----------------------------------------------------------------
if [ "${1:-}" = --inner ]; then
	n=0
	failed=0
	pass() { n=$((n + 1)); echo "ok $n - $*"; }
	fail() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n - $*"; }
	# run NAME ARGS...: certtether with its output in $W/NAME.out (stdout) and .err
	run() {
		local name=$1
		shift
		"$CLI" "$@" >"$W/$name.out" 2>"$W/$name.err"
		rc=$?
	}
	# check WHAT COMMAND...: ok when COMMAND succeeds; else the last run's output as comments
	check() {
		local what=$1
		shift
		if "$@"; then
			pass "$what"
		else
			fail "$what"
			[ -n "${last:-}" ] && cat "$W/$last.out" "$W/$last.err" 2>/dev/null | head -n 40 | sed 's/^/#   /'
		fi
	}
	requests() { wc -l <"$CERTTETHER_TEST_LOG"; }
	jq_ok() { jq -e "$@" >/dev/null; }
	published() { grep -c 'BEGIN CERTIFICATE' "$CERTTETHER_TEST_PUBLISHED" 2>/dev/null || echo 0; }
	root_sha=$(openssl x509 -in "$CERTTETHER_TEST_CA" -outform DER | sha256sum | cut -d' ' -f1)

	# client-auth, CertProv and EST, with the ticket of KRB5CCNAME
	before=$(published)
	last=ca-certprov
	run ca-certprov --direct test client-auth --protocol certprov \
		--target-url "$CERTTETHER_TEST_CERTPROV_URL" --ca-file "$CERTTETHER_TEST_CA"
	check "client-auth certprov exits 0 (got $rc)" [ $rc = 0 ]
	check "client-auth certprov prints Result : Success" grep -Eq '^Result +: Success$' "$W/ca-certprov.out"
	check "client-auth certprov reports the web-ticket, enroll and verify steps as ok" \
		bash -c "grep -Eq '^web-ticket +ok ' '$W/ca-certprov.out' && grep -Eq '^enroll +ok ' '$W/ca-certprov.out' && grep -Eq '^verify +ok ' '$W/ca-certprov.out'"
	check "client-auth certprov: TargetUri and TargetFqdn shown" \
		bash -c "grep -Fqx 'TargetUri  : $CERTTETHER_TEST_CERTPROV_URL' '$W/ca-certprov.out' && grep -Eq '^TargetFqdn : localhost:' '$W/ca-certprov.out'"
	check "the certificate was really issued and published (store $before -> $(published))" \
		[ "$(published)" = $((before + 1)) ]

	last=ca-est
	run ca-est --direct test client-auth --protocol est --target-url "$CERTTETHER_TEST_EST_URL" \
		--ca-file "$CERTTETHER_TEST_CA"
	check "client-auth est exits 0 (got $rc)" [ $rc = 0 ]
	check "client-auth est prints Result : Success" grep -Eq '^Result +: Success$' "$W/ca-est.out"

	last=ca-json
	run ca-json --direct --json test client-auth --target-url "$CERTTETHER_TEST_EST_URL" \
		--ca-file "$CERTTETHER_TEST_CA"
	check "client-auth --json exits 0 and parses, Result Success, every step ok" \
		bash -c "[ $rc = 0 ] && jq -e '.Result == \"Success\" and .Error == null and (.steps | length) >= 5 and all(.steps[]; .ok and (.seconds | type) == \"number\" and has(\"name\") and has(\"target\") and has(\"error\"))' '$W/ca-json.out' >/dev/null"
	check "client-auth --json names the issued certificate (CN=alice@test.local, EC key for est)" \
		jq_ok '.Certificate.subject == "CN=alice@test.local" and (.steps[] | select(.name == "keygen") | .target | startswith("ec-p256"))' "$W/ca-json.out"

	last=ca-fqdn
	run ca-fqdn --direct test client-auth --protocol est --target-fqdn "localhost:$CERTTETHER_TEST_HTTPS_PORT" \
		--ca-file "$CERTTETHER_TEST_CA"
	check "client-auth --target-fqdn builds the EST URL below the FQDN and succeeds" \
		bash -c "[ $rc = 0 ] && grep -Fqx 'TargetUri  : https://localhost:$CERTTETHER_TEST_HTTPS_PORT/.well-known/est' '$W/ca-fqdn.out'"

	# no ticket: exit 3, kinit, nothing sent
	kinit_cc=FILE:$W/gone.cc
	echo "$CERTTETHER_TEST_PASSWORD" | kinit -c "$kinit_cc" "$CERTTETHER_TEST_USER" >/dev/null
	kdestroy -c "$kinit_cc"
	for proto in certprov est; do
		url=$CERTTETHER_TEST_CERTPROV_URL
		[ $proto = est ] && url=$CERTTETHER_TEST_EST_URL
		before=$(requests)
		last=noticket-$proto
		KRB5CCNAME=$kinit_cc run noticket-$proto --direct test client-auth --protocol $proto \
			--target-url "$url" --ca-file "$CERTTETHER_TEST_CA"
		check "client-auth $proto without a ticket (kdestroy) exits 3 (got $rc)" [ $rc = 3 ]
		check "... Result : Failure, and the Diagnosis says to run kinit" \
			bash -c "grep -Eq '^Result +: Failure$' '$W/noticket-$proto.out' && grep -Eq '^Diagnosis +: .*Run kinit' '$W/noticket-$proto.out'"
		check "... and nothing reached the certificate service" [ "$(requests)" = "$before" ]
	done

	# no ticket, but a TLS client certificate: [identity] auth=certificate
	cat >"$W/cert.conf" <<EOF
[service]
protocol=est
url=$CERTTETHER_TEST_EST_URL
ca-file=$CERTTETHER_TEST_CA
[identity]
auth=certificate
client-cert=$CERTTETHER_TEST_CLIENT_CERT
client-key=$CERTTETHER_TEST_CLIENT_KEY
EOF
	before=$(published)
	last=ca-cert
	CERTTETHER_CONFIG=$W/cert.conf KRB5CCNAME=$kinit_cc run ca-cert --direct test client-auth \
		--protocol est --target-url "$CERTTETHER_TEST_EST_URL"
	check "client-auth est with auth=certificate and no ticket exits 0 (got $rc)" [ $rc = 0 ]
	check "... Result : Success; the credentials step names the certificate's user" \
		bash -c "grep -Eq '^Result +: Success$' '$W/ca-cert.out' && grep -Eq '^credentials +ok .*CN=alice@test.local \(client certificate\) for sip:alice@test.local' '$W/ca-cert.out'"
	check "... issued and published for alice (store $before -> $(published)), authenticated by the certificate" \
		bash -c "[ $(published) = $((before + 1)) ] && tail -n 1 '$CERTTETHER_TEST_LOG' | grep -Eq ' est simpleenroll user=alice@test.local issued .* auth=certificate$'"
	before=$(requests)
	last=ca-cert-certprov
	CERTTETHER_CONFIG=$W/cert.conf KRB5CCNAME=$kinit_cc run ca-cert-certprov --direct test client-auth \
		--protocol certprov --target-url "$CERTTETHER_TEST_CERTPROV_URL"
	check "client-auth certprov with auth=certificate fails (got $rc): CertProv needs Kerberos or a password" \
		bash -c "[ $rc != 0 ] && grep -Eq '^Error +: .*auth=certificate cannot be used with \[service\] protocol=certprov' '$W/ca-cert-certprov.out'"
	check "... and nothing reached the certificate service" [ "$(requests)" = "$before" ]

	# a TLS chain this machine does not trust: exit 6, the missing issuer named
	before=$(requests)
	last=untrusted
	run untrusted --direct test client-auth --target-url "$CERTTETHER_TEST_EST_URL" \
		--ca-file "$CERTTETHER_TEST_UNKNOWN_CA"
	check "client-auth with an untrusted TLS chain exits 6 (got $rc)" [ $rc = 6 ]
	check "... the Error names the missing issuer (certtether Test Root CA)" \
		grep -Eq "^Error +: .*'CN=certtether Test Root CA,O=certtether test'" "$W/untrusted.out"
	check "... the tls step failed and no request was sent" \
		bash -c "grep -Eq '^tls +FAILED ' '$W/untrusted.out' && [ \$(wc -l <'$CERTTETHER_TEST_LOG') = $before ]"

	# chain without a phone: this machine's anchors
	last=chain-ok
	run chain-ok test chain --target-url "$CERTTETHER_TEST_CERTPROV_URL" --ca-file "$CERTTETHER_TEST_CA"
	check "test chain with the right --ca-file exits 0, Result : Success (got $rc)" \
		bash -c "[ $rc = 0 ] && grep -Eq '^Result +: Success$' '$W/chain-ok.out'"
	check "... and lists the anchor the chain leads to, with its SHA-256" \
		bash -c "grep -Eq 'anchor +CN=certtether Test Root CA' '$W/chain-ok.out' && grep -q 'SHA-256 $root_sha' '$W/chain-ok.out'"
	last=chain-bad
	run chain-bad --json --config "$W/noca.conf" test chain --target-url "$CERTTETHER_TEST_CERTPROV_URL"
	check "test chain without the root among the anchors exits 6 (got $rc)" [ $rc = 6 ]
	check "... --json parses: Failure, the missing anchor is certtether Test Root CA" \
		jq_ok '.Result == "Failure" and .Missing[0].kind == "anchor" and .Missing[0].subject == "CN=certtether Test Root CA,O=certtether test" and (.Chain | length) == 2' "$W/chain-bad.out"

	# bootstrap: says plainly that PIN sign-in is unsupported, never shows the PIN
	pin=80146251
	printf '%s\n' "$pin" >"$W/pin"
	chmod 600 "$W/pin"
	last=boot
	run boot --direct test bootstrap --phone-or-ext 4255551234 --user-sip-address sip:alice@test.local \
		--target-url "$CERTTETHER_TEST_CERTPROV_URL" --ca-file "$CERTTETHER_TEST_CA" --pin-file "$W/pin"
	check "test bootstrap exits 1 (got $rc): the documented code for an unsupported sign-in" [ $rc = 1 ]
	check "... Result : Failure, Error says PIN authentication is not supported" \
		bash -c "grep -Eq '^Result +: Failure$' '$W/boot.out' && grep -Eq '^Error +: PIN authentication is not supported by certtether: its message format is not public$' '$W/boot.out'"
	check "... the steps before it (discover, tls, mex, ticket-mex) are ok, and DHCP is said not to be done" \
		bash -c "for s in pin discover tls mex ticket-mex; do grep -Eq \"^\$s +ok \" '$W/boot.out' || exit 1; done; grep -q 'DHCP discovery (option 43/120) is not performed' '$W/boot.out'"
	check "... the PIN appears nowhere in its output" bash -c "! grep -q '$pin' '$W/boot.out' '$W/boot.err'"
	last=boot-json
	run boot-json --json test bootstrap --phone-or-ext 4255551234 --user-sip-address alice@test.local \
		--target-url "$CERTTETHER_TEST_CERTPROV_URL" --ca-file "$CERTTETHER_TEST_CA" --pin-file "$W/pin"
	check "test bootstrap --json parses: Failure, ErrorName NotSupported, no PIN in it" \
		bash -c "jq -e '.Result == \"Failure\" and .ErrorName == \"NotSupported\" and (.steps[-1].name == \"pin-auth\")' '$W/boot-json.out' >/dev/null && ! grep -q '$pin' '$W/boot-json.out' '$W/boot-json.err'"
	printf 'x%s\n' "$pin" >"$W/badpin"
	last=boot-badpin
	run boot-badpin test bootstrap --phone-or-ext 4255551234 --user-sip-address sip:alice@test.local \
		--target-url "$CERTTETHER_TEST_CERTPROV_URL" --pin-file "$W/badpin"
	check "a PIN that is not digits exits 2 without showing it (got $rc)" \
		bash -c "[ $rc = 2 ] && grep -q 'the PIN must be digits only' '$W/boot-badpin.out' && ! grep -q '$pin' '$W/boot-badpin.out' '$W/boot-badpin.err'"
	last=boot-argv
	run boot-argv test bootstrap --phone-or-ext 4255551234 --user-sip-address sip:alice@test.local "$pin"
	check "a PIN on the command line is refused (exit 2) and not echoed (got $rc)" \
		bash -c "[ $rc = 2 ] && ! grep -q '$pin' '$W/boot-argv.out' '$W/boot-argv.err'"

	# chain against phones' trust stores (--direct: the engine in this process)
	"$CTL" add c1 >/dev/null && "$CTL" plug c1 >/dev/null
	last=chain-unknown
	run chain-unknown --direct test chain SIM-c1
	check "test chain DEVICE before the phone was approved exits 5: its trust store is unknown (got $rc)" \
		bash -c "[ $rc = 5 ] && grep -q 'has not reported its trust store yet' '$W/chain-unknown.out'"
	printf 'SIM-c1,sip:alice@test.local\n' >"$W/c1.csv"
	last=bench-c1
	run bench-c1 --direct bench --roster "$W/c1.csv" --timeout 40
	check "the phone is provisioned (bench --direct, exit $rc)" [ $rc = 0 ]
	check "... and holds the root CA as its trust anchor" \
		[ "$("$CTL" status c1 --json | jq -r '.anchors[0].sha256')" = "$root_sha" ]
	last=chain-c1
	run chain-c1 --direct --json test chain SIM-c1
	check "test chain DEVICE: the phone's anchors cover the service's chain (exit $rc)" \
		bash -c "[ $rc = 0 ] && jq -e '.Result == \"Success\" and (.Device.trust_anchors | index(\"$root_sha\")) != null and .Missing == []' '$W/chain-c1.out' >/dev/null"
	"$CTL" add c2 --max-anchors 0 >/dev/null && "$CTL" plug c2 >/dev/null
	printf 'SIM-c2,sip:alice@test.local\n' >"$W/c2.csv"
	last=bench-c2
	run bench-c2 --direct bench --roster "$W/c2.csv" --timeout 40
	check "a phone that holds no anchors cannot be provisioned (bench exit $rc, not 0)" [ $rc != 0 ]
	last=chain-c2
	run chain-c2 --direct test chain SIM-c2
	check "test chain DEVICE for that phone exits 6 (got $rc)" [ $rc = 6 ]
	check "... and names the anchor to push, with its SHA-256" \
		grep -Eq "^Diagnosis +: Push the trust anchor CN=certtether Test Root CA,O=certtether test \\(SHA-256 $root_sha\\)" "$W/chain-c2.out"

	echo "1..$n"
	[ $failed = 0 ]
	exit
fi

# ---- setup: network namespace, servers, ticket, configuration, phonesim ----------------------
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
for f in "$CLI" "$CTL" "$B/tests/phonesim"; do
	if [ ! -x "$f" ]; then
		echo "Bail out! $f is missing: run 'make BUILDDIR=$B tests'"
		exit 1
	fi
done
for t in umockdev-wrapper jq openssl kinit kdestroy; do
	command -v $t >/dev/null || { echo "Bail out! $t not found (make deps)"; exit 1; }
done
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
case "$ASAN_OPTIONS" in *verify_asan_link_order=0*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;; esac
unset CERTTETHER_CA_FILE DBUS_SESSION_BUS_ADDRESS

W=$(mktemp -d "${TMPDIR:-/tmp}/cli-test.XXXXXX")
trap '"$SRC/tests/servers/stop" "$W/srv"; rm -rf "$W"' EXIT
trap 'exit 1' TERM INT HUP
"$SRC/tests/servers/start" "$W/srv" >/dev/null || { echo "Bail out! test servers did not start"; exit 1; }
. "$W/srv/env.sh"
echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null || { echo "Bail out! kinit"; exit 1; }
cat >"$W/certtether.conf" <<EOF
[service]
protocol=est
url=$CERTTETHER_TEST_EST_URL
ca-file=$CERTTETHER_TEST_CA
[retry]
initial-delay=0.2
max-delay=1
EOF
printf '[service]\nprotocol=est\nurl=%s\n' "$CERTTETHER_TEST_EST_URL" >"$W/noca.conf"
export CERTTETHER_CONFIG=$W/certtether.conf CERTTETHER_STATE_DIR=$W/state
export W SRC B CLI CTL CERTTETHER_TEST_LOG CERTTETHER_TEST_PUBLISHED
umockdev-wrapper "$B/tests/phonesim" --state-dir "$W/phones" --quiet -- "$0" --inner
