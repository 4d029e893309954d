# The test PKI (sourced by tests/servers/start).
#
#   certtether Test Root CA  ->  certtether Test Issuing CA  ->  user certs, TLS cert for localhost
#   certtether Unknown Root CA -> certtether Unknown Issuing CA  (the "unknown-root" knob)
#   certtether Test Issuing CA  ->  client/alice.pem: alice's TLS client certificate (EST
#                                   certificate authentication), key client/alice.key (0600)
#
# Every CA and server key is RSA-2048, generated fresh for each instance (in parallel: the
# keys are most of the start-up time); alice's client key is EC P-256 (fast). Public certs are also published as DER under pki/public/,
# which Apache serves anonymously at http://localhost:HTTP_PORT/pki/ (the AIA URLs).

# ct_pki_make DIR HTTP_PORT SIP_DOMAIN
ct_pki_make() {
	local p=$1/pki http_port=$2 sip_domain=$3
	local aia="http://localhost:$http_port/pki"
	mkdir -p "$p/public"
	umask 077

	local k pids=()
	for k in root-ca issuing-ca tls unknown-root-ca unknown-issuing-ca; do
		openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$p/$k.key" 2>"$p/$k.keygen.log" &
		pids+=($!)
	done
	# alice's client key: a secret of hers, mode 0600 like ssh wants its keys (outside
	# pki/*.key, which start makes group-readable for Apache)
	mkdir -p "$p/client"
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$p/client/alice.key" \
		2>"$p/client.keygen.log" || ct_die "openssl genpkey failed (see $p/client.keygen.log)"
	local pid
	for pid in "${pids[@]}"; do
		wait "$pid" || ct_die "openssl genpkey failed (see $p/*.keygen.log)"
	done
	rm -f "$p"/*.keygen.log
	umask 022

	cat >"$p/openssl.cnf" <<CNF
# extensions for the test PKI (written by tests/servers/start)
[req]
distinguished_name = dn
prompt = no
[dn]
CN = unused
[root_ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[issuing_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:$aia/root-ca.cer
[unknown_issuing_ca]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign,digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:$aia/unknown-root-ca.cer
[tls_server]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost,IP:127.0.0.1,IP:::1
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:$aia/issuing-ca.cer
[user_client]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = clientAuth
subjectAltName = URI:sip:alice@$sip_domain
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
authorityInfoAccess = caIssuers;URI:$aia/issuing-ca.cer
CNF

	# serials are random and positive (high bit clear)
	_ct_serial() { printf '0x%02x%s' $((RANDOM % 0x70 + 0x10)) "$(openssl rand -hex 15)"; }

	_ct_self_signed() { # NAME SUBJECT
		openssl req -config "$p/openssl.cnf" -new -x509 -key "$p/$1.key" -subj "$2" \
			-days 3650 -set_serial "$(_ct_serial)" -sha256 -extensions root_ca \
			-out "$p/$1.pem" 2>>"$p/pki.log" || ct_die "cannot create $1 (see $p/pki.log)"
	}
	_ct_signed() { # NAME SUBJECT ISSUER EXTSECTION DAYS
		openssl req -config "$p/openssl.cnf" -new -key "$p/$1.key" -subj "$2" \
			-out "$p/$1.csr" 2>>"$p/pki.log" || ct_die "cannot create the $1 request (see $p/pki.log)"
		openssl x509 -req -in "$p/$1.csr" -CA "$p/$3.pem" -CAkey "$p/$3.key" \
			-set_serial "$(_ct_serial)" -days "$5" -sha256 \
			-extfile "$p/openssl.cnf" -extensions "$4" -out "$p/$1.pem" 2>>"$p/pki.log" ||
			ct_die "cannot sign $1 (see $p/pki.log)"
		rm -f "$p/$1.csr"
	}

	_ct_self_signed root-ca "/O=certtether test/CN=certtether Test Root CA"
	_ct_self_signed unknown-root-ca "/O=certtether test/CN=certtether Unknown Root CA"
	_ct_signed issuing-ca "/O=certtether test/CN=certtether Test Issuing CA" root-ca issuing_ca 3650
	_ct_signed unknown-issuing-ca "/O=certtether test/CN=certtether Unknown Issuing CA" \
		unknown-root-ca unknown_issuing_ca 3650
	_ct_signed tls "/O=certtether test/CN=localhost" issuing-ca tls_server 825
	_ct_signed client/alice "/CN=alice@$sip_domain" issuing-ca user_client 365

	# what Apache serves: leaf then intermediate (a complete chain; the root is the anchor)
	cat "$p/tls.pem" "$p/issuing-ca.pem" >"$p/tls-chain.pem"
	# handy bundles for tests
	cat "$p/issuing-ca.pem" "$p/root-ca.pem" >"$p/chain.pem"
	cat "$p/unknown-issuing-ca.pem" "$p/unknown-root-ca.pem" >"$p/unknown-chain.pem"

	for k in root-ca issuing-ca unknown-root-ca unknown-issuing-ca; do
		openssl x509 -in "$p/$k.pem" -outform DER -out "$p/public/$k.cer" ||
			ct_die "cannot convert $k to DER"
	done
	chmod 644 "$p"/*.pem "$p"/public/*.cer "$p/client/alice.pem"
	chmod 600 "$p/client/alice.key"
}
