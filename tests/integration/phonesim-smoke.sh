#!/bin/bash
# phonesim smoke test (TAP): the emulated phone seen by an ordinary libusb program
# (phonesim-probe: synchronous libusb + the codec, no host transport library).
#
# Two phonesim runs share one state directory, so that persistence across phonesim
# restarts is checked too. Each run executes this script again as phonesim's child
# ("--inside PART"); those print "ok - ..." / "not ok - ..." lines that the outer run
# numbers. Needs CT_BUILDDIR (tests/run-tests.sh sets it).
set -u

if [ "${1:-}" != --inside ]; then
	: "${CT_BUILDDIR:?set CT_BUILDDIR to the build directory (tests/run-tests.sh does)}"
	export CT_BUILDDIR
	n=0
	fail=0
	emit() { # renumber "ok - x" / "not ok - x" lines, pass the rest as diagnostics
		while IFS= read -r line; do
			case "$line" in
			"ok - "* | "not ok - "*)
				n=$((n + 1))
				case "$line" in not*) fail=$((fail + 1)) ;; esac
				echo "${line%% - *} $n - ${line#* - }"
				;;
			*) echo "# $line" ;;
			esac
		done
	}
	for f in tests/phonesim tests/phonesim-ctl tests/phonesim-probe; do
		if [ ! -x "$CT_BUILDDIR/$f" ]; then
			echo "not ok 1 - $CT_BUILDDIR/$f is missing: run 'make BUILDDIR=$CT_BUILDDIR tests'"
			echo "1..1"
			exit 1
		fi
	done
	for tool in umockdev-wrapper openssl jq; do
		if ! command -v $tool >/dev/null; then
			echo "not ok 1 - $tool not found: run 'make deps'"
			echo "1..1"
			exit 1
		fi
	done
	# umockdev preloads its library before ASan's runtime
	export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
	case "$ASAN_OPTIONS" in *verify_asan_link_order=0*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;; esac

	work=$(mktemp -d "${TMPDIR:-/tmp}/phonesim-smoke.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	export SMOKE_WORK=$work
	mkdir -p "$work/state"

	# without umockdev-wrapper phonesim must refuse clearly, with the skip status
	out=$(env -u LD_PRELOAD "$CT_BUILDDIR/tests/phonesim" --state-dir "$work/state" -- true 2>&1)
	rc=$?
	if [ "$rc" = 77 ] && echo "$out" | grep -q "umockdev-wrapper"; then
		emit <<< "ok - phonesim outside umockdev-wrapper exits 77 and says why"
	else
		emit <<< "not ok - phonesim outside umockdev-wrapper: exit $rc, '$out'"
	fi

	for part in 1 2; do
		umockdev-wrapper "$CT_BUILDDIR/tests/phonesim" --state-dir "$work/state" --quiet -- \
			"$0" --inside "$part" > "$work/part$part.out" 2>&1
		rc=$?
		emit < "$work/part$part.out"
		if [ "$rc" = 0 ]; then
			emit <<< "ok - phonesim run $part exits with its child's status 0"
		else
			emit <<< "not ok - phonesim run $part exited $rc"
		fi
		if [ "$part" = 1 ]; then
			# an install interrupted before its switch left a half-written set behind
			installed=$(readlink "$work/state/p1/installed")
			leftover=set-$((${installed#set-} + 1))
			cp -r "$work/state/p1/$installed" "$work/state/p1/$leftover"
			: > "$work/state/p1/pending.pem.tmp"
			echo "$installed" > "$work/installed"
			echo "$leftover" > "$work/leftover"
		fi
	done
	echo "1..$n"
	[ "$fail" = 0 ]
	exit
fi

# ---- inside phonesim: $2 is the part ----
part=$2
B=$CT_BUILDDIR/tests
ctl() { "$B/phonesim-ctl" "$@"; }
probe() { "$B/phonesim-probe" "$@"; }
W=$SMOKE_WORK
check() { # check DESCRIPTION COMMAND... : ok when the command succeeds
	local what=$1
	shift
	if "$@" > "$W/last.out" 2>&1; then
		echo "ok - $what"
	else
		echo "not ok - $what"
		sed 's/^/  /' "$W/last.out"
	fi
}
field() { ctl status "$1" --json | jq -r "$2"; }

# a CA that signs what the phone asks for (root -> intermediate -> leaf)
make_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ca.key" \
		-subj /CN=Smoke-Root -days 30 -out "$W/ca.pem" 2> /dev/null &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/int.key" \
			-subj /CN=Smoke-Intermediate -out "$W/int.csr" 2> /dev/null &&
		printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n' > "$W/ca.ext" &&
		openssl x509 -req -in "$W/int.csr" -CA "$W/ca.pem" -CAkey "$W/ca.key" -CAcreateserial \
			-days 30 -extfile "$W/ca.ext" -out "$W/int.pem" 2> /dev/null &&
		openssl x509 -in "$W/ca.pem" -outform DER -out "$W/ca.der" &&
		openssl x509 -in "$W/int.pem" -outform DER -out "$W/int.der"
}
sign() { # sign CSR.der OUT.der
	openssl x509 -req -inform DER -in "$1" -CA "$W/int.pem" -CAkey "$W/int.key" -CAcreateserial \
		-days 10 -out "$W/leaf.pem" 2> /dev/null &&
		openssl x509 -in "$W/leaf.pem" -outform DER -out "$2"
}

if [ "$part" = 1 ]; then
	check "control: add p1 with a serial" ctl add p1 --serial SMOKE-0001 --key-algs ec-p256,rsa2048
	check "control: plug p1" ctl plug p1
	check "control: wait p1 plugged" ctl wait p1 plugged --timeout 10

	probe list > "$W/list.out" 2>&1
	check "libusb sees 1209:0001 with interface ff/43/01" \
		grep -q 'id=1209:0001 interface=ff/43/01' "$W/list.out"
	check "string descriptors: serial, manufacturer, product, interface name" \
		grep -q 'iface_name=CertTether manufacturer=CertTether Sim product=Desk Phone 1 serial=SMOKE-0001' "$W/list.out"
	check "each phone has its own port and devnum" grep -q 'bus=1 devnum=2 port=1 ' "$W/list.out"

	probe hello > "$W/hello1.out" 2>&1
	check "HELLO answered, identity signature verifies with OpenSSL" \
		grep -q 'serial=SMOKE-0001 .*identity_sig=ok' "$W/hello1.out"
	check "STATUS of a fresh phone is EMPTY" \
		grep -q 'status state=empty certificate=no chain=0 anchors=0 pending=none' "$W/hello1.out"
	fp1=$(sed -n 's/.*identity_sha256=\([0-9a-f]*\).*/\1/p' "$W/hello1.out")
	check "phonesim's status shows the identity key the host saw" \
		test "$(field p1 .identity_key_sha256)" = "$fp1"
	check "status --json: session ready, counters count HELLO and STATUS" \
		test "$(field p1 '[.session, .state, .counters.hellos, .counters.statuses] | join(" ")')" = "ready empty 1 1"

	for size in 1 512 65536 100000; do
		check "a $size-byte transfer that is no frame gets ERROR BAD_FRAME, request id 0" \
			probe junk --size $size
	done
	check "frames rejected as BAD_FRAME are counted" test "$(field p1 .counters.bad_frames)" = 4

	check "control: unplug p1" ctl unplug p1
	probe list > "$W/list2.out" 2>&1
	check "after unplug libusb sees no CTP device" grep -q '^devices=0$' "$W/list2.out"
	check "status after unplug: not plugged, unplugged by the host" \
		test "$(field p1 '[.plugged, .last_unplug] | map(tostring) | join(" ")')" = "false host"
	check "control: plug p1 again" ctl plug p1
	probe hello > "$W/hello2.out" 2>&1
	check "identity key unchanged across unplug/replug" \
		grep -q "identity_sha256=$fp1 identity_sig=ok" "$W/hello2.out"
	echo "$fp1" > "$W/fingerprint"

	# on-device key, CSR, install
	check "probe: CREATE_CSR ec-p256 passes every CSR check (subject, SAN, key, pop_sig)" \
		probe csr --alg ec-p256 --cn smoke-user --san-dns smoke.example --out "$W/csr.der"
	check "status shows the pending CSR" \
		test "$(field p1 .pending_csr_sha256)" = "$(openssl dgst -sha256 -r "$W/csr.der" | cut -d' ' -f1)"
	check "a test CA" make_ca
	check "the CA signs the CSR" sign "$W/csr.der" "$W/leaf.der"
	check "probe: STAGE_BEGIN, items, COMMIT install the certificate" \
		probe install --cert "$W/leaf.der" --chain "$W/int.der" --anchor "$W/ca.der" \
		--setting url=https://ws.smoke.example/CertProv
	check "status: provisioned, subject, issuer, chain, anchor, setting, no pending key" \
		test "$(field p1 '[.state, .certificate.subject, .certificate.issuer, .chain_count, .anchors[0].subject, .settings.web_service_url, (.pending_csr_sha256 | tostring)] | map(tostring) | join("|")')" = \
		"provisioned|CN=smoke-user,O=CertTether Test|CN=Smoke-Intermediate|1|CN=Smoke-Root|https://ws.smoke.example/CertProv|null"
	field p1 .certificate.sha256 > "$W/cert-sha256"
	probe install --cert "$W/leaf.der" --chain "$W/int.der" > "$W/again.out" 2>&1
	check "a certificate for a key no longer pending is refused (KEY_MISMATCH)" \
		grep -q 'COMMIT: device error 8' "$W/again.out"

	# slow phone: PROGRESS keeps the request alive
	ctl misbehave p1 slow-keygen=2
	probe csr --alg ec-p256 --cn smoke-user --out "$W/csr-slow.der" > "$W/slow.out" 2>&1
	check "slow-keygen: CSR arrives after PROGRESS frames" \
		grep -q 'csr ok alg=ec-p256 progress=[1-9]' "$W/slow.out"

	# hostile phone: each misbehaviour caught by the probe's checks
	for mb in "wrong-subject:csr subject differs" "extra-extension:other extensions" \
		"weak-key:not the algorithm asked for" "bad-pop:pop_sig does not verify"; do
		ctl misbehave p1 "clear,${mb%%:*}"
		probe csr --alg rsa2048 --cn smoke-user > "$W/mb.out" 2>&1
		check "misbehave ${mb%%:*}: the host's check fails" grep -q "${mb#*:}" "$W/mb.out"
	done
	ctl misbehave p1 clear,bad-identity-sig
	probe hello > "$W/mb.out" 2>&1
	check "misbehave bad-identity-sig: identity signature does not verify" \
		grep -q "identity signature does not verify" "$W/mb.out"
	ctl misbehave p1 clear,malformed=status
	probe hello > "$W/mb.out" 2>&1
	check "misbehave malformed=status: the answer fails its checksum" grep -q "checksum mismatch" "$W/mb.out"
	ctl misbehave p1 clear,refuse-install
	probe csr --alg ec-p256 --cn smoke-user --out "$W/csr3.der" > /dev/null 2>&1 && sign "$W/csr3.der" "$W/leaf3.der"
	probe install --cert "$W/leaf3.der" --chain "$W/int.der" > "$W/mb.out" 2>&1
	check "misbehave refuse-install: COMMIT answers REFUSED" grep -q 'COMMIT: device error 12' "$W/mb.out"
	check "misbehave refuse-install: the installed certificate stays" \
		test "$(field p1 .certificate.sha256)" = "$(cat "$W/cert-sha256")"

	# the phone unplugs itself at COMMIT; the pending key survives; a retry works
	ctl misbehave p1 clear,unplug-at=commit
	probe install --cert "$W/leaf3.der" --chain "$W/int.der" > "$W/mb.out" 2>&1
	check "unplug-at=commit: the host sees the device vanish" grep -q "NO_DEVICE" "$W/mb.out"
	check "unplug-at=commit: wait unplugged" ctl wait p1 unplugged --timeout 10
	check "unplug-at=commit: reported as the phone's own unplug" \
		test "$(field p1 '[.plugged, .last_unplug, .counters.self_unplugs] | map(tostring) | join(" ")')" = \
		"false unplug-at=commit:1 1"
	check "unplug-at=commit: nothing installed, the pending key survives" \
		test "$(field p1 '[.certificate.sha256, .pending_csr_sha256] | join(" ")')" = \
		"$(cat "$W/cert-sha256") $(openssl dgst -sha256 -r "$W/csr3.der" | cut -d' ' -f1)"
	check "plug brings it back" ctl plug p1
	check "the retried install succeeds" probe install --cert "$W/leaf3.der" --chain "$W/int.der"
	field p1 .certificate.sha256 > "$W/cert-sha256"
	check "wait committed --count 2 (two installs so far)" ctl wait p1 committed --count 2 --timeout 10

	# eight phones at once
	for i in 2 3 4 5 6 7 8; do
		ctl add "p$i" --serial "SMOKE-000$i" && ctl plug "p$i"
	done
	probe list > "$W/list8.out" 2>&1
	check "8 phones enumerate at once, each with its serial" \
		bash -c "grep -q '^devices=8$' '$W/list8.out' && test \$(grep -o 'serial=SMOKE-000[1-8]' '$W/list8.out' | sort -u | wc -l) = 8"
	probe hello > "$W/hello8.out" 2>&1
	check "8 phones answer HELLO with valid identity signatures" \
		test "$(grep -c 'identity_sig=ok' "$W/hello8.out")" = 8
	check "list shows 8 plugged phones" test "$(ctl list | grep -c ' plugged$')" = 8

	# control errors are clear and have their exit codes
	ctl frobnicate > "$W/err.out" 2>&1
	echo "exit $?" >> "$W/err.out"
	check "control: unknown command exits 2 and names the commands" \
		grep -qz 'unknown command.*add, plug.*exit 2' "$W/err.out"
	ctl plug nosuch > "$W/err.out" 2>&1
	echo "exit $?" >> "$W/err.out"
	check "control: unknown phone exits 1 and says to add it" \
		grep -qz 'add nosuch.*exit 1' "$W/err.out"
	ctl misbehave p1 unplug-at=nonsense > "$W/err.out" 2>&1
	echo "exit $?" >> "$W/err.out"
	check "control: bad misbehaviour exits 1 and lists the request names" \
		grep -qz 'create-csr.*exit 1' "$W/err.out"
else
	# a new phonesim with the same state directory
	check "control: add p1 again without options" ctl add p1
	check "the definition was kept (serial)" test "$(field p1 .serial)" = SMOKE-0001
	check "control: plug p1" ctl plug p1
	probe hello > "$W/hello3.out" 2>&1
	check "identity key unchanged across phonesim restarts" \
		grep -q "identity_sha256=$(cat "$W/fingerprint") identity_sig=ok" "$W/hello3.out"
	check "STATUS: still provisioned after the restart" \
		grep -q 'status state=provisioned certificate=yes chain=1 anchors=1 pending=none' "$W/hello3.out"
	check "the installed certificate is the one installed last" \
		test "$(field p1 .certificate.sha256)" = "$(cat "$W/cert-sha256")"
	check "a half-written set left by an interrupted install was discarded" \
		test ! -e "$PHONESIM_STATE_DIR/p1/$(cat "$W/leftover")"
	check "the temporary file of an interrupted write was discarded" \
		test ! -e "$PHONESIM_STATE_DIR/p1/pending.pem.tmp"
	check "the installed set is the one before the interruption" \
		test "$(readlink "$PHONESIM_STATE_DIR/p1/installed")" = "$(cat "$W/installed")"
fi
exit 0
