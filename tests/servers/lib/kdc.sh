# The MIT KDC (sourced by tests/servers/start): private krb5.conf/kdc.conf, a fresh
# database with the test principals, the HTTP/localhost keytab, krb5kdc on
# 127.0.0.1:KDC_PORT (UDP and TCP). No kadmind: kadmin.local edits the database directly.

# ct_kdc_configure DIR REALM KDC_PORT
ct_kdc_configure() {
	local k=$1/krb5 realm=$2 port=$3
	mkdir -p "$k/db" "$1/rcache"
	cat >"$k/krb5.conf" <<CONF
# client configuration of the certtether test realm (written by tests/servers/start)
[libdefaults]
  default_realm = $realm
  dns_lookup_realm = false
  dns_lookup_kdc = false
  rdns = false
  dns_canonicalize_hostname = false
  udp_preference_limit = 1
  default_ccache_name = FILE:$k/ccache
[realms]
  $realm = {
    kdc = 127.0.0.1:$port
  }
[domain_realm]
  localhost = $realm
CONF
	cat >"$k/kdc.conf" <<CONF
# KDC configuration of the certtether test realm (written by tests/servers/start)
[kdcdefaults]
  kdc_listen = 127.0.0.1:$port
  kdc_tcp_listen = 127.0.0.1:$port
[realms]
  $realm = {
    database_name = $k/db/principal
    key_stash_file = $k/db/stash
    acl_file = $k/db/kadm5.acl
    max_life = 10h
    max_renewable_life = 1d
  }
[logging]
  kdc = FILE:$k/kdc.log
  default = FILE:$k/krb5lib.log
CONF
	: >"$k/db/kadm5.acl"
}

# ct_kdc_create_db DIR REALM PRINCIPAL:PASSWORD...   (then the HTTP/localhost keytab)
ct_kdc_create_db() {
	local d=$1 realm=$2 k=$1/krb5
	shift 2
	KRB5_CONFIG=$k/krb5.conf KRB5_KDC_PROFILE=$k/kdc.conf \
		kdb5_util create -s -W -r "$realm" -P "$(openssl rand -hex 16)" >"$k/kdb5_util.log" 2>&1 ||
		ct_die "kdb5_util create failed (see $k/kdb5_util.log)"
	local up cmds=""
	for up in "$@"; do
		# passwords are ours (test accounts), quoted for kadmin's own parser
		cmds+="addprinc -pw \"${up#*:}\" ${up%%:*}@$realm"$'\n'
	done
	cmds+="addprinc -randkey HTTP/localhost@$realm"$'\n'
	cmds+="ktadd -k $k/http.keytab HTTP/localhost@$realm"$'\n'
	printf '%s' "$cmds" | KRB5_CONFIG=$k/krb5.conf KRB5_KDC_PROFILE=$k/kdc.conf \
		kadmin.local -r "$realm" >"$k/kadmin.log" 2>&1 ||
		ct_die "kadmin.local failed (see $k/kadmin.log)"
	grep -q 'added to keytab' "$k/kadmin.log" ||
		ct_die "the HTTP/localhost keytab was not written (see $k/kadmin.log)"
}

# ct_kdc_start DIR REALM KDC_PORT
ct_kdc_start() {
	local k=$1/krb5 realm=$2 port=$3 i
	# krb5kdc daemonizes (own session) and writes its PID file
	KRB5_CONFIG=$k/krb5.conf KRB5_KDC_PROFILE=$k/kdc.conf \
		krb5kdc -r "$realm" -P "$k/krb5kdc.pid" >"$k/krb5kdc.out" 2>&1 ||
		ct_die "krb5kdc failed to start (see $k/krb5kdc.out and $k/kdc.log)"
	for ((i = 0; i < 100; i++)); do
		[ -s "$k/krb5kdc.pid" ] && ct_tcp_open "$port" && return 0
		sleep 0.05
	done
	ct_die "krb5kdc did not listen on 127.0.0.1:$port within 5 s (see $k/kdc.log)"
}
