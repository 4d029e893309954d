#!/bin/bash
# servers-selftest.sh — TAP self-test of tests/servers (KDC, Apache + mod_auth_gssapi,
# CertProv/Web Ticket and EST fixtures, knobs, start/stop), checked with curl, openssl and
# tests/servers/certprov-client only (no project C code). Re-executes itself inside a
# private network namespace through tests/servers/in-netns.
set -u
SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
S=$SRC/tests/servers
if [ -z "${CT_IN_NETNS:-}" ]; then
	exec "$S/in-netns" "$0" "$@"
fi

W=$(mktemp -d /tmp/ct-servers-selftest.XXXXXX)
D=$W/srv
n=0
failures=0
finish() {
	"$S/stop" "$D" >/dev/null 2>&1
	[ -d "$W/srv2" ] && "$S/stop" "$W/srv2" >/dev/null 2>&1
	if [ "$failures" = 0 ]; then
		rm -rf "$W"
	else
		echo "# kept $W for debugging (logs: srv/apache/logs, srv/log/requests.log)"
	fi
}
trap finish EXIT
# a timeout (tests/run-tests.sh) sends SIGTERM: still stop the servers
trap 'exit 1' TERM INT HUP

ok() { # ok WHAT COMMAND... — the command's exit status is the verdict
	local what=$1
	shift
	n=$((n + 1))
	if "$@"; then
		echo "ok $n - $what"
	else
		echo "not ok $n - $what"
		failures=$((failures + 1))
	fi
}
is() { # is WHAT WANT GOT
	n=$((n + 1))
	if [ "$2" = "$3" ]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "#   want: $2"
		echo "#   got:  $3"
		failures=$((failures + 1))
	fi
}
like() { # like WHAT REGEX GOT
	n=$((n + 1))
	if [[ "$3" =~ $2 ]]; then
		echo "ok $n - $1"
	else
		echo "not ok $n - $1"
		echo "#   want match: $2"
		echo "#   got:        $3"
		failures=$((failures + 1))
	fi
}
bail() {
	echo "Bail out! $*"
	exit 1
}

# ---------------------------------------------------------------- start
t0=$(date +%s%N)
out=$("$S/start" "$D" 2>&1)
rc=$?
t1=$(date +%s%N)
echo "# $out"
echo "# start took $(((t1 - t0) / 1000000)) ms"
is "start DIR succeeds" 0 "$rc"
[ "$rc" = 0 ] && [ -r "$D/env.sh" ] || bail "the servers did not start"
. "$D/env.sh"
missing=""
for v in KRB5_CONFIG KRB5CCNAME CERTTETHER_TEST_CERTPROV_URL CERTTETHER_TEST_EST_URL CERTTETHER_TEST_CA \
	CERTTETHER_TEST_USER CERTTETHER_TEST_PASSWORD CERTTETHER_TEST_USER2 CERTTETHER_TEST_PASSWORD2 \
	CERTTETHER_TEST_REALM CERTTETHER_TEST_SIP_DOMAIN CERTTETHER_TEST_DIR CERTTETHER_TEST_CONTROL \
	CERTTETHER_TEST_WEBTICKET_URL CERTTETHER_TEST_STORE CERTTETHER_TEST_LOG \
	CERTTETHER_TEST_CLIENT_CERT CERTTETHER_TEST_CLIENT_KEY; do
	[ -n "${!v:-}" ] || missing+=" $v"
done
is "env.sh exports every documented variable" "" "$missing"
like "KRB5CCNAME is a FILE: ccache under DIR" "^FILE:$D/" "$KRB5CCNAME"
is "CERTTETHER_TEST_CA is the root CA's PEM" "subject=O = certtether test, CN = certtether Test Root CA" \
	"$(openssl x509 -in "$CERTTETHER_TEST_CA" -noout -subject 2>&1)"
out=$("$S/start" "$D" 2>&1)
rc=$?
like "a second start on the same DIR is refused with a clear message" "already running in $D.*stop" "$rc $out"
ok "env.sh does not kinit (no credentials yet)" bash -c '! klist -s'

CA=$CERTTETHER_TEST_CA
CT=(curl -sS --max-time 60 --cacert "$CA")
code() { "${CT[@]}" -o /dev/null -w '%{http_code}' "$@" 2>/dev/null; }
count_certs() { [ -r "$1" ] && grep -c 'BEGIN CERTIFICATE' "$1" || echo 0; }
pubkey() { openssl "$@" -pubkey -noout 2>/dev/null | openssl pkey -pubin -outform DER 2>/dev/null | sha256sum | cut -c1-64; }
client() { "$S/certprov-client" "$@" 2>&1; }
WT=$CERTTETHER_TEST_WEBTICKET_URL/WinNegotiate
PUB=$CERTTETHER_TEST_PUBLISHED

# ---------------------------------------------------------------- Kerberos + HTTP auth
is "401 to the web ticket port without a Kerberos ticket" 401 \
	"$(code --negotiate -u : -H 'Content-Type: text/xml' --data-binary '<x/>' "$WT")"
hdr=$("${CT[@]}" -D - -o /dev/null --data-binary '<x/>' "$WT" | tr -d '\r')
ok "the 401 offers Negotiate and Basic" bash -c "grep -qx 'WWW-Authenticate: Negotiate' <<<${hdr@Q} && grep -qi '^WWW-Authenticate: Basic' <<<${hdr@Q}"
ok "kinit with the test user's password" bash -c 'echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null'
is "Negotiate reaches the web ticket port (the fixture answers, here a fault for a non-SOAP body)" 500 \
	"$(code --negotiate -u : -H 'Content-Type: text/xml' --data-binary '<x/>' "$WT")"
is "Negotiate: the CGI sees the principal" "REMOTE_USER=alice@TEST.LOCAL AUTH_TYPE=Negotiate" \
	"$("${CT[@]}" --negotiate -u : "$CERTTETHER_TEST_WHOAMI_URL" | tr '\n' ' ' | sed 's/ $//')"
is "Basic-over-Kerberos with the right password" "REMOTE_USER=bob@TEST.LOCAL AUTH_TYPE=Basic" \
	"$("${CT[@]}" -u "bob:$CERTTETHER_TEST_PASSWORD2" "$CERTTETHER_TEST_WHOAMI_URL" | tr '\n' ' ' | sed 's/ $//')"
is "Basic-over-Kerberos with a wrong password gives 401" 401 \
	"$(code -u "bob:wrong-$CERTTETHER_TEST_PASSWORD2" "$CERTTETHER_TEST_WHOAMI_URL")"
is "Basic with the full principal name works too" 200 \
	"$(code -u "$CERTTETHER_TEST_USER:$CERTTETHER_TEST_PASSWORD" "$CERTTETHER_TEST_WHOAMI_URL")"
ok "the TLS chain served by Apache verifies against the root alone" bash -c \
	"openssl s_client -connect localhost:$CERTTETHER_TEST_HTTPS_PORT -servername localhost -CAfile ${CA@Q} -verify_return_error </dev/null >/dev/null 2>&1"

# ---------------------------------------------------------------- metadata
"${CT[@]}" -o "$W/cp.mex" "$CERTTETHER_TEST_CERTPROV_URL/mex"
"${CT[@]}" -o "$W/wt.mex" "$CERTTETHER_TEST_WEBTICKET_URL/mex"
mex=$(/usr/bin/python3 - "$W/cp.mex" "$W/wt.mex" <<'PY'
import sys, xml.etree.ElementTree as ET
WSU = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}Id"
P = "http://schemas.xmlsoap.org/ws/2004/09/policy"
cp, wt = ET.parse(sys.argv[1]).getroot(), ET.parse(sys.argv[2]).getroot()
pol = [p for p in cp.findall("{%s}Policy" % P) if p.get(WSU) == "CertProvisioningServiceWebTicketProof_SHA1_policy"]
issuer = pol[0].find("{%s}ExactlyOne/{%s}All/{%s}EndorsingSupportingTokens/{%s}Policy/{%s}IssuedToken/{%s}Issuer/{%s}Address" % (
    P, P, "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702", P,
    "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702", "http://docs.oasis-open.org/ws-sx/ws-securitypolicy/200702",
    "http://www.w3.org/2005/08/addressing")).text if pol else "-"
def port(root, name):
    for p in root.iter("{http://schemas.xmlsoap.org/wsdl/}port"):
        if p.get("name") == name:
            return p.find("{http://schemas.xmlsoap.org/wsdl/soap/}address").get("location")
    return "-"
print(issuer, port(cp, "CertProvisioningServiceWebTicketProof_SHA1"), port(wt, "WebTicketServiceWinNegotiate"))
PY
)
is "CertProv /mex: the SHA1 proof policy names the Web Ticket service, the port its address" \
	"$CERTTETHER_TEST_WEBTICKET_URL $CERTTETHER_TEST_CERTPROV_URL/WebTicket_Proof $WT" "$mex"
is "CertProv /mex is also served anonymously over plain HTTP" 200 \
	"$(code "$CERTTETHER_TEST_CERTPROV_ANON_URL/mex")"

# ---------------------------------------------------------------- CertProv round trip
openssl req -new -newkey rsa:2048 -nodes -keyout "$W/alice.key" -subj "/CN=ignored by the server" \
	-outform DER -out "$W/alice.csr" 2>/dev/null
csr_key=$(pubkey req -inform DER -in "$W/alice.csr")
is "web ticket with Negotiate" "ok" "$(client --ticket-only | cut -d' ' -f1)"
is "web ticket with Basic-over-Kerberos" "ok" \
	"$(client --ticket-only --user "$CERTTETHER_TEST_USER" --password "$CERTTETHER_TEST_PASSWORD" | cut -d' ' -f1)"
is "GetAndPublishCert returns a DER certificate" "ok X509v3" "$(client --out "$W/c1.der" "$W/alice.csr")"
openssl x509 -inform DER -in "$W/c1.der" -out "$W/c1.pem" 2>/dev/null
is "the certificate's subject is the ticket's user" "subject=CN = alice@test.local" \
	"$(openssl x509 -in "$W/c1.pem" -noout -subject 2>&1)"
is "the certificate carries the CSR's key" "$csr_key" "$(pubkey x509 -in "$W/c1.pem")"
like "SAN: sip URI and UPN" "URI:sip:alice@test.local, othername: UPN::alice@TEST.LOCAL" \
	"$(openssl x509 -in "$W/c1.pem" -noout -ext subjectAltName 2>&1)"
like "EKU clientAuth, keyUsage digitalSignature + keyEncipherment" \
	"TLS Web Client Authentication.*Digital Signature, Key Encipherment|Digital Signature, Key Encipherment.*TLS Web Client Authentication" \
	"$(openssl x509 -in "$W/c1.pem" -noout -ext extendedKeyUsage,keyUsage 2>&1 | tr '\n' ' ')"
is "the certificate verifies: -CAfile root -untrusted intermediate" "$W/c1.pem: OK" \
	"$(openssl verify -CAfile "$CA" -untrusted "$CERTTETHER_TEST_ISSUING_CA" "$W/c1.pem" 2>&1)"
ok "validity is the default 4320 hours (180 days)" bash -c \
	"openssl x509 -in ${W@Q}/c1.pem -noout -checkend $((4319 * 3600)) >/dev/null && ! openssl x509 -in ${W@Q}/c1.pem -noout -checkend $((4321 * 3600)) >/dev/null"
aia=$(openssl x509 -in "$W/c1.pem" -noout -ext authorityInfoAccess 2>/dev/null | sed -n 's/.*CA Issuers - URI:\(.*\)/\1/p')
is "the AIA caIssuers URL is the issuing CA's DER (anonymous HTTP)" \
	"$(openssl x509 -in "$CERTTETHER_TEST_ISSUING_CA" -outform DER | sha256sum)" \
	"$(curl -sS --max-time 30 "$aia" | sha256sum)"
is "published.pem holds the issued certificate" "1 $(openssl x509 -in "$W/c1.pem" -noout -fingerprint)" \
	"$(count_certs "$PUB") $(openssl x509 -in "$PUB" -noout -fingerprint 2>&1)"
serial=$(openssl x509 -in "$W/c1.pem" -noout -serial | cut -d= -f2)
like "the log records the issuance with its serial" "certprov GetAndPublishCert user=alice@TEST.LOCAL issued serial=$serial to=alice@test.local" \
	"$(cat "$CERTTETHER_TEST_LOG")"
"${CT[@]}" -o "$W/chain.p7" "$CERTTETHER_TEST_CERTPROV_ANON_URL/certchain"
is "anonymous certchain download: PKCS#7 of issuing CA + root" \
	"subject=O = certtether test, CN = certtether Test Issuing CA|subject=O = certtether test, CN = certtether Test Root CA" \
	"$(openssl pkcs7 -inform DER -in "$W/chain.p7" -print_certs -noout 2>&1 | grep subject | paste -sd'|')"

# ---------------------------------------------------------------- CertProv failures
before=$(count_certs "$PUB")
out=$(client --tamper hmac "$W/alice.csr")
like "a wrong HMAC gets fault 28020 with X-Ms-diagnostics" '^fault 500 28020 28020;source="localhost";reason="No valid security token."' "$out"
like "a wrong digest gets fault 28020" '^fault 500 28020 ' "$(client --tamper digest "$W/alice.csr")"
like "a wrong wsse:Security order gets fault 28020" '^fault 500 28020 ' "$(client --tamper order "$W/alice.csr")"
like "an Entity that is not the ticket's user gets fault 28020" '^fault 500 28020 ' \
	"$(client --entity bob@test.local "$W/alice.csr")"
like "a sip: claim that is not the authenticated user's is refused by the Web Ticket service" '^fault 500 28020 ' \
	"$(client --ticket-only --sip-uri "$CERTTETHER_TEST_SIP_URI2")"
diag() { "${CT[@]}" -D - -o /dev/null "$@" | tr -d '\r' | sed -n 's/^X-Ms-diagnostics: //Ip'; }
like "GetAndPublishCert with a wrong SOAPAction gets fault 28001 (malformed)" '^28001;source="localhost";reason="The request is malformed: SOAPAction' \
	"$(diag -H 'Content-Type: text/xml' -H 'SOAPAction: "urn:wrong"' --data-binary '<x/>' "$CERTTETHER_TEST_CERTPROV_URL/WebTicket_Proof")"
like "the decoy port WebTicket_Bearer answers fault 28002" '^28002;' \
	"$(diag -H 'Content-Type: text/xml' --data-binary '<x/>' "$CERTTETHER_TEST_CERTPROV_URL/WebTicket_Bearer")"
openssl req -new -newkey rsa:1024 -nodes -keyout /dev/null -subj /CN=x -outform DER -out "$W/small.csr" 2>/dev/null
like "an RSA-1024 CSR is rejected (MinCSRKeySize) with fault 28040" '^fault 500 28040 .*MinCSRKeySize' \
	"$(client "$W/small.csr")"
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/ec.key" -subj /CN=x \
	-outform DER -out "$W/ec.csr" 2>/dev/null
like "an EC CSR is rejected by CertProv with fault 28040" '^fault 500 28040 ' "$(client "$W/ec.csr")"
client --ticket-only --save-ticket "$W/t1.json" >/dev/null
"$S/control" "$D" ticket-lifetime 1
client --ticket-only --save-ticket "$W/short.json" >/dev/null
"$S/control" "$D" ticket-lifetime
sleep 2
like "an expired web ticket gets fault 28020" '^fault 500 28020 ' "$(client --use-ticket "$W/short.json" "$W/alice.csr")"
like "the log names the cause of each refusal" "fault 28020 SignatureValue is not HMAC-SHA1.*fault 28020 DigestValue.*fault 28020 wsse:Security must hold.*fault 28020 Entity.*fault 28020 the sip: claim.*fault 28040.*fault 28040.*fault 28020 the web ticket expired" \
	"$(tr '\n' ' ' <"$CERTTETHER_TEST_LOG")"
is "no failed request published anything" "$before" "$(count_certs "$PUB")"

# ---------------------------------------------------------------- EST
E=$CERTTETHER_TEST_EST_URL
p7subjects() { base64 -d | openssl pkcs7 -inform DER -print_certs -noout 2>&1 | grep subject | paste -sd'|'; }
is "EST cacerts (anonymous): base64 PKCS#7 of issuing CA + root" \
	"subject=O = certtether test, CN = certtether Test Issuing CA|subject=O = certtether test, CN = certtether Test Root CA" \
	"$("${CT[@]}" "$E/cacerts" | p7subjects)"
is "EST cacerts with a label" 200 "$(code "$E/phones/cacerts")"
base64 -w 64 "$W/alice.csr" >"$W/alice.b64"
base64 -w 64 "$W/ec.csr" >"$W/ec.b64"
P10=(-H 'Content-Type: application/pkcs10')
is "EST simpleenroll without credentials gives 401" 401 "$(code "${P10[@]}" --data-binary @"$W/alice.b64" "$E/simpleenroll")"
hdr=$("${CT[@]}" --negotiate -u : "${P10[@]}" --data-binary @"$W/ec.b64" -D - -o "$W/e1.b64" "$E/simpleenroll")
like "EST simpleenroll (Negotiate, EC key): 200 application/pkcs7-mime; smime-type=certs-only" \
	"HTTP/1.1 200.*Content-Type: application/pkcs7-mime; smime-type=certs-only" "$(echo "$hdr" | tr -d '\r' | tr '\n' ' ')"
base64 -d "$W/e1.b64" | openssl pkcs7 -inform DER -print_certs -out "$W/e1.pem" 2>/dev/null
is "EST: subject from REMOTE_USER, key from the CSR" "subject=CN = alice@test.local $(pubkey req -inform DER -in "$W/ec.csr")" \
	"$(openssl x509 -in "$W/e1.pem" -noout -subject 2>&1) $(pubkey x509 -in "$W/e1.pem")"
is "EST certificate verifies against the root" "$W/e1.pem: OK" \
	"$(openssl verify -CAfile "$CA" -untrusted "$CERTTETHER_TEST_ISSUING_CA" "$W/e1.pem" 2>&1)"
is "EST simpleenroll with a label" 200 "$(code --negotiate -u : "${P10[@]}" --data-binary @"$W/alice.b64" "$E/phones/simpleenroll")"
"${CT[@]}" -u "bob:$CERTTETHER_TEST_PASSWORD2" "${P10[@]}" --data-binary @"$W/alice.b64" -o "$W/e2.b64" "$E/simplereenroll"
is "EST simplereenroll (Basic, bob)" "subject=CN = bob@test.local" \
	"$(base64 -d "$W/e2.b64" | openssl pkcs7 -inform DER -print_certs 2>/dev/null | openssl x509 -noout -subject 2>&1)"
like "the log shows the label and the renewal" "est phones/simpleenroll user=alice@TEST.LOCAL issued .*est simplereenroll user=bob@TEST.LOCAL renewed serial=" \
	"$(tr '\n' ' ' <"$CERTTETHER_TEST_LOG")"
is "EST: a body that is not a CSR gives 400" 400 \
	"$(code --negotiate -u : "${P10[@]}" --data-binary 'bm90IGEgQ1NS' "$E/simpleenroll")"
base64 -w 64 "$W/small.csr" >"$W/small.b64"
is "EST: an RSA-1024 CSR gives 400" 400 "$(code --negotiate -u : "${P10[@]}" --data-binary @"$W/small.b64" "$E/simpleenroll")"
is "EST: a wrong Content-Type gives 415" 415 \
	"$(code --negotiate -u : -H 'Content-Type: text/plain' --data-binary @"$W/alice.b64" "$E/simpleenroll")"
like "the log names the HTTP authentication of each enrollment" \
	"est simpleenroll user=alice@TEST.LOCAL issued .* auth=Negotiate .*est simplereenroll user=bob@TEST.LOCAL renewed .* auth=Basic" \
	"$(tr '\n' ' ' <"$CERTTETHER_TEST_LOG")"

# ---------------------------------------------------------------- EST with a TLS client certificate
CC=$CERTTETHER_TEST_CLIENT_CERT
CK=$CERTTETHER_TEST_CLIENT_KEY
is "alice's client key is private (mode 600)" 600 "$(stat -c %a "$CK")"
is "alice's client certificate: CN, SAN sip: URI, clientAuth, issued by the issuing CA" \
	"subject=CN = alice@test.local|TLS Web Client Authentication|URI:sip:alice@test.local|issuer=O = certtether test, CN = certtether Test Issuing CA" \
	"$(openssl x509 -in "$CC" -noout -subject -ext subjectAltName,extendedKeyUsage -issuer 2>&1 | grep -v '^X509v3' | sed 's/^ *//' | paste -sd'|')"
is "alice's client certificate verifies for TLS clients against the root" "$CC: OK" \
	"$(openssl verify -purpose sslclient -CAfile "$CA" -untrusted "$CERTTETHER_TEST_ISSUING_CA" "$CC" 2>&1)"
is "alice's client key is the certificate's" "$(pubkey x509 -in "$CC")" \
	"$(openssl pkey -in "$CK" -pubout -outform DER 2>/dev/null | sha256sum | cut -c1-64)"
before=$(count_certs "$PUB")
hdr=$("${CT[@]}" --cert "$CC" --key "$CK" "${P10[@]}" --data-binary @"$W/alice.b64" -D - -o "$W/cc.b64" "$E/simpleenroll")
like "EST simpleenroll with the client certificate and no HTTP authentication: 200" "HTTP/1.1 200" \
	"$(echo "$hdr" | tr -d '\r' | head -1)"
base64 -d "$W/cc.b64" | openssl pkcs7 -inform DER -print_certs -out "$W/cc.pem" 2>/dev/null
is "EST: subject from the client certificate (the CSR says 'ignored by the server'), key from the CSR" \
	"subject=CN = alice@test.local $csr_key" \
	"$(openssl x509 -in "$W/cc.pem" -noout -subject 2>&1) $(pubkey x509 -in "$W/cc.pem")"
is "EST with a client certificate: published in alice's store" "$((before + 1))" "$(count_certs "$PUB")"
like "the log names the certificate's user and auth=certificate" \
	"est simpleenroll user=alice@test.local issued serial=[0-9A-F]+ to=alice@test.local key=RSA-2048 auth=certificate\$" \
	"$(tail -1 "$CERTTETHER_TEST_LOG")"
is "EST simplereenroll with the client certificate" 200 \
	"$(code --cert "$CC" --key "$CK" "${P10[@]}" --data-binary @"$W/ec.b64" "$E/simplereenroll")"
is "the same request without the client certificate (and without Kerberos) gives 401" 401 \
	"$(code "${P10[@]}" --data-binary @"$W/ec.b64" "$E/simplereenroll")"
is "the client certificate opens only EST enrollment: /whoami still wants Kerberos (401)" 401 \
	"$(code --cert "$CC" --key "$CK" "$CERTTETHER_TEST_WHOAMI_URL")"
"$S/control" "$D" refuse-auth 1
is "refuse-auth: a certificate-authenticated user is refused too (403)" 403 \
	"$(code --cert "$CC" --key "$CK" "${P10[@]}" --data-binary @"$W/ec.b64" "$E/simpleenroll")"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$W/self.key" \
	-subj /CN=alice@test.local -addext subjectAltName=URI:sip:alice@test.local \
	-addext extendedKeyUsage=clientAuth -days 1 -out "$W/self.pem" 2>/dev/null
lines=$(wc -l <"$CERTTETHER_TEST_LOG")
out=$("${CT[@]}" --cert "$W/self.pem" --key "$W/self.key" "${P10[@]}" --data-binary @"$W/ec.b64" -o /dev/null "$E/simpleenroll" 2>&1)
like "a self-signed client certificate is refused in the TLS handshake (alert unknown CA)" \
	"^curl: \((35|56)\) .*alert unknown ca" "$out"
is "... and the request never reaches the fixture" "$lines" "$(wc -l <"$CERTTETHER_TEST_LOG")"

# ---------------------------------------------------------------- knobs
K() { "$S/control" "$D" "$@"; }
before=$(count_certs "$PUB")
K store-unavailable 2
r1=$(client "$W/alice.csr")
r2=$(client "$W/alice.csr")
r3=$(client "$W/alice.csr")
like "store-unavailable 2: CertProv fails twice with fault 28032, then issues" \
	'^fault 500 28032 28032;source="localhost";reason="The user.s data store is unavailable.".*fault 500 28032 .*ok X509v3$' "$r1 $r2 $r3"
is "store-unavailable: only the successful request published" "$((before + 1))" "$(count_certs "$PUB")"
K store-unavailable 1
hdr=$("${CT[@]}" --negotiate -u : "${P10[@]}" --data-binary @"$W/alice.b64" -D - -o /dev/null "$E/simpleenroll" | tr -d '\r' | tr '\n' ' ')
like "store-unavailable 1: EST answers 503 with Retry-After" "HTTP/1.1 503 .*Retry-After: [0-9]+" "$hdr"
is "store-unavailable: the next EST request succeeds" 200 "$(code --negotiate -u : "${P10[@]}" --data-binary @"$W/alice.b64" "$E/simpleenroll")"

K wrong-key 1
client --out "$W/wk.der" "$W/alice.csr" >/dev/null
client --out "$W/rk.der" "$W/alice.csr" >/dev/null
ok "wrong-key 1: the certificate's key is not the CSR's" [ "$(pubkey x509 -inform DER -in "$W/wk.der")" != "$csr_key" ]
is "wrong-key: the next certificate has the CSR's key again" "$csr_key" "$(pubkey x509 -inform DER -in "$W/rk.der")"
K wrong-key 1
"${CT[@]}" --negotiate -u : "${P10[@]}" --data-binary @"$W/ec.b64" -o "$W/ewk.b64" "$E/simpleenroll"
ok "wrong-key: EST too" [ "$(base64 -d "$W/ewk.b64" | openssl pkcs7 -inform DER -print_certs 2>/dev/null | pubkey x509)" != "$(pubkey req -inform DER -in "$W/ec.csr")" ]

K unknown-root 1
client --out "$W/ur.der" "$W/alice.csr" >/dev/null
openssl x509 -inform DER -in "$W/ur.der" -out "$W/ur.pem" 2>/dev/null
is "unknown-root: issued by the unknown issuing CA" "issuer=O = certtether test, CN = certtether Unknown Issuing CA" \
	"$(openssl x509 -in "$W/ur.pem" -noout -issuer 2>&1)"
ok "unknown-root: does not verify against the test root" bash -c "! openssl verify -CAfile ${CA@Q} -untrusted ${CERTTETHER_TEST_ISSUING_CA@Q} ${W@Q}/ur.pem >/dev/null 2>&1"
is "unknown-root: verifies against the unknown root (a real chain)" "$W/ur.pem: OK" \
	"$(openssl verify -CAfile "$CERTTETHER_TEST_UNKNOWN_CA" -untrusted "$D/pki/unknown-issuing-ca.pem" "$W/ur.pem" 2>&1)"

K refuse-auth 1
like "refuse-auth 1: the Web Ticket service refuses the authenticated user (28020)" '^fault 500 28020 ' "$(client "$W/alice.csr")"
is "refuse-auth: counted down, the next request succeeds" "ok X509v3" "$(client "$W/alice.csr")"
client --ticket-only --save-ticket "$W/t2.json" >/dev/null
K refuse-auth 1
like "refuse-auth 1 after the ticket: GetAndPublishCert refused (28020)" '^fault 500 28020 ' \
	"$(client --use-ticket "$W/t2.json" "$W/alice.csr")"
K refuse-auth 1
is "refuse-auth: EST answers 403" 403 "$(code --negotiate -u : "${P10[@]}" --data-binary @"$W/alice.b64" "$E/simpleenroll")"

K pkcs7 on
client --out "$W/p7.der" "$W/alice.csr" >"$W/p7.out"
K pkcs7
is "pkcs7: CertProv returns a PKCS#7 bundle (leaf, issuing CA, root)" \
	"ok PKCS7|subject=CN = alice@test.local|subject=O = certtether test, CN = certtether Test Issuing CA|subject=O = certtether test, CN = certtether Test Root CA" \
	"$(cat "$W/p7.out")|$(openssl pkcs7 -inform DER -in "$W/p7.der" -print_certs -noout 2>&1 | grep subject | paste -sd'|')"

K validity-hours 8
client --out "$W/v8.der" "$W/alice.csr" >/dev/null
K validity-hours
ok "validity-hours 8: the certificate expires in 8 hours" bash -c \
	"openssl x509 -inform DER -in ${W@Q}/v8.der -noout -checkend $((7 * 3600)) >/dev/null && ! openssl x509 -inform DER -in ${W@Q}/v8.der -noout -checkend $((9 * 3600)) >/dev/null"

# slow: a client that gives up long before the fixture's sleep ends must time out (only a
# lower bound on the time is asserted, which a slow machine cannot break)
K slow 3
curl -sS --max-time 1 -o /dev/null "$CERTTETHER_TEST_CERTPROV_ANON_URL/mex" 2>/dev/null
is "slow 3: a request with a 1 s client timeout times out (curl exit 28)" 28 "$?"
K slow
is "slow removed: the same request succeeds" 200 "$(code "$CERTTETHER_TEST_CERTPROV_ANON_URL/mex")"

out=$(K no-such-knob 1 2>&1)
like "control rejects an unknown knob" "unknown knob" "$out"
out=$(K store-unavailable lots 2>&1)
like "control rejects an invalid value" "invalid value" "$out"
K wrong-key always
K slow 0.5
is "control --list shows the knobs" "slow 0.5|wrong-key always" "$(K --list | sort | paste -sd'|')"
K --reset
is "control --reset removes them all" "" "$(K --list)"

# ---------------------------------------------------------------- mallory
kdestroy >/dev/null 2>&1
echo "$CERTTETHER_TEST_REFUSED_PASSWORD" | kinit "$CERTTETHER_TEST_REFUSED_USER" >/dev/null
is "mallory authenticates with Kerberos" "REMOTE_USER=mallory@TEST.LOCAL" \
	"$("${CT[@]}" --negotiate -u : "$CERTTETHER_TEST_WHOAMI_URL" | head -1)"
like "mallory is refused a web ticket (28020)" '^fault 500 28020 ' \
	"$(client --sip-uri sip:mallory@test.local "$W/alice.csr")"
is "mallory is refused by EST (403)" 403 "$(code --negotiate -u : "${P10[@]}" --data-binary @"$W/alice.b64" "$E/simpleenroll")"
ok "nothing was published for mallory" [ ! -e "$CERTTETHER_TEST_STORE/mallory@test.local" ]
kdestroy >/dev/null 2>&1

# ---------------------------------------------------------------- log + store agree
issued_log=$(grep -cE ' (issued|renewed) serial=[0-9A-F]+ to=alice@test.local' "$CERTTETHER_TEST_LOG")
is "every issuance to alice in the log is in her published.pem, in order" \
	"$(grep -E ' (issued|renewed) serial=[0-9A-F]+ to=alice@test.local' "$CERTTETHER_TEST_LOG" | sed 's/.*serial=\([0-9A-F]*\).*/\1/' | paste -sd' ')" \
	"$(/usr/bin/python3 -c '
import re, subprocess, sys
pems = re.findall(r"-----BEGIN CERTIFICATE-----.*?-----END CERTIFICATE-----\n", open(sys.argv[1]).read(), re.S)
print(" ".join(subprocess.run(["openssl", "x509", "-noout", "-serial"], input=p, capture_output=True, text=True).stdout.strip().split("=")[1] for p in pems))' "$PUB")"
like "the log has one line per fixture request (time fixture operation user= result)" \
	'^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z (certprov|webticket|est) [^ ]+ user=[^ ]+ .+$' "$(head -1 "$CERTTETHER_TEST_LOG")"
ok "$issued_log issuances to alice were logged" [ "$issued_log" -ge 10 ]

# ---------------------------------------------------------------- free ports (host mode)
out=$(CT_IN_NETNS=0 "$S/start" "$W/srv2" 2>&1)
rc=$?
echo "# $out"
p2=$(. "$W/srv2/env.sh" 2>/dev/null && echo "$CERTTETHER_TEST_HTTPS_PORT")
is "a second instance outside a netns gets free ports and serves" "0 yes 200" \
	"$rc $([ -n "$p2" ] && [ "$p2" != 18443 ] && echo yes || echo "no(port ${p2:-none})") $(curl -sS --max-time 30 --cacert "$W/srv2/pki/root-ca.pem" -o /dev/null -w '%{http_code}' "https://localhost:$p2/.well-known/est/cacerts")"
"$S/stop" "$W/srv2"
is "stop of the second instance" 0 "$?"

# ---------------------------------------------------------------- stop
pids=$(cat "$D/apache/run/httpd.pid" "$D/krb5/krb5kdc.pid" 2>/dev/null | paste -sd' ')
K slow 30
curl -sS --max-time 60 -o /dev/null "$CERTTETHER_TEST_CERTPROV_ANON_URL/mex" 2>/dev/null &
curl_pid=$!
sleep 0.5
t0=$(date +%s%N)
"$S/stop" "$D"
rc=$?
t1=$(date +%s%N)
echo "# stop took $(((t1 - t0) / 1000000)) ms (with a CGI sleeping in the 'slow' knob)"
is "stop exits 0" 0 "$rc"
wait "$curl_pid" 2>/dev/null
left=$(for p in /proc/[0-9]*; do
	st=$(sed 's/^.*) //' "$p/stat" 2>/dev/null | cut -d' ' -f1)
	[ -n "$st" ] && [ "$st" != Z ] || continue
	tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -qF -- "$D/" && echo "${p#/proc/}"
done | paste -sd' ')
is "stop leaves no process of the instance behind (was: $pids)" "" "$left"
ok "the ports are closed" bash -c "! (exec 3<>/dev/tcp/127.0.0.1/$CERTTETHER_TEST_HTTPS_PORT) 2>/dev/null && ! (exec 3<>/dev/tcp/127.0.0.1/$CERTTETHER_TEST_KDC_PORT) 2>/dev/null"
"$S/stop" "$D"
is "stop is safe to call twice" 0 "$?"
ok "logs stay after stop" test -s "$D/log/requests.log" -a -s "$D/apache/logs/error.log"
out=$("$S/start" "$D" 2>&1)
is "start again in the same DIR after stop" 0 "$?"
"$S/stop" "$D"

echo "1..$n"
[ "$failures" = 0 ]
