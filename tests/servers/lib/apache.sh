# The private Apache httpd instance (sourced by tests/servers/start): TLS with the test
# PKI, mod_auth_gssapi (Negotiate and Basic-over-Kerberos) and the CGI fixtures.
#
#   http://localhost:HTTP_PORT   anonymous: /pki/*.cer (AIA), CertProv mex + certchain
#   https://localhost:HTTPS_PORT the services:
#     /CertProv/CertProvisioningService.svc/...   anonymous at HTTP level (web ticket inside)
#     /WebTicket/WebTicketService.svc/mex          anonymous
#     /WebTicket/WebTicketService.svc/WinNegotiate Kerberos (Negotiate, or Basic checked by the KDC)
#     /.well-known/est/[LABEL/]cacerts             anonymous
#     /.well-known/est/[LABEL/]simple(re)enroll    Kerberos (Negotiate or Basic), or a TLS
#                                                  client certificate from the test PKI
#     /whoami                                      Kerberos; prints REMOTE_USER

# ct_apache_configure DIR HTTP_PORT HTTPS_PORT RUN_AS_USER RUN_AS_GROUP
ct_apache_configure() {
	local d=$1 http_port=$2 https_port=$3 user=$4 group=$5
	local a=$d/apache m=/usr/lib/apache2/modules
	mkdir -p "$a/run" "$a/logs" "$a/htdocs"
	local listen="Listen 127.0.0.1:$http_port
Listen 127.0.0.1:$https_port"
	if ct_have_ipv6_lo; then
		listen+="
Listen [::1]:$http_port
Listen [::1]:$https_port"
	fi
	local userlines=""
	if [ "$(id -u)" = 0 ]; then
		userlines="User $user
Group $group"
	fi
	local gss_authn="AuthType GSSAPI
    AuthName \"certtether test realm\"
    GssapiCredStore keytab:$d/krb5/http.keytab
    GssapiAllowedMech krb5
    GssapiBasicAuth On
    GssapiBasicAuthMech krb5"
	local gss="$gss_authn
    Require valid-user"

	cat >"$a/httpd.conf" <<CONF
# private httpd for the certtether test servers (written by tests/servers/start)
ServerRoot $a
ServerName localhost
ServerTokens Prod
TraceEnable off
$listen
PidFile $a/run/httpd.pid
DefaultRuntimeDir $a/run
Mutex file:$a/run default
ErrorLog $a/logs/error.log
LogLevel warn auth_gssapi:info
$userlines

LoadModule mpm_prefork_module   $m/mod_mpm_prefork.so
LoadModule authn_core_module    $m/mod_authn_core.so
LoadModule authz_core_module    $m/mod_authz_core.so
LoadModule authz_user_module    $m/mod_authz_user.so
LoadModule alias_module         $m/mod_alias.so
LoadModule mime_module          $m/mod_mime.so
LoadModule cgi_module           $m/mod_cgi.so
LoadModule auth_gssapi_module   $m/mod_auth_gssapi.so
LoadModule ssl_module           $m/mod_ssl.so
LoadModule socache_shmcb_module $m/mod_socache_shmcb.so

# enough workers for the multi-user bench (every CGI request holds one)
StartServers 4
MinSpareServers 2
MaxSpareServers 16
MaxRequestWorkers 64
KeepAlive On
Timeout 120

LogFormat "%{%Y-%m-%dT%H:%M:%S}t %a %u \"%r\" %>s %b %D" ct
CustomLog $a/logs/access.log ct

TypesConfig /dev/null
AddType application/pkix-cert .cer
AddType application/x-pem-file .pem

DocumentRoot $a/htdocs
<Directory />
    AllowOverride None
    Require all denied
</Directory>
<Directory $a/htdocs>
    Require all granted
</Directory>
<Directory $d/pki/public>
    Require all granted
</Directory>
<Directory $d/cgi-bin>
    Options None
    Require all granted
</Directory>

SSLSessionCache shmcb:$a/run/ssl_scache(512000)
SSLProtocol -all +TLSv1.2 +TLSv1.3

# anonymous plain HTTP: AIA downloads and the anonymous CertProv address (mex, certchain)
Alias /pki/ $d/pki/public/
ScriptAlias /CertProv/CertProvisioningService.svc $d/cgi-bin/certprov.cgi

<VirtualHost *:$https_port>
    SSLEngine on
    SSLCertificateFile $d/pki/tls-chain.pem
    SSLCertificateKeyFile $d/pki/tls.key
    # TLS client certificates are asked for in the handshake (vhost level: no renegotiation
    # or TLS 1.3 post-handshake auth) and optional: Kerberos clients send none. One that is
    # sent must chain to the test root (issuing CA + root); an untrusted one fails the
    # handshake with a TLS alert (unknown CA), as mod_ssl does with 'optional'.
    SSLCACertificateFile $d/pki/chain.pem
    SSLVerifyClient optional
    SSLVerifyDepth 2

    ScriptAlias /WebTicket/WebTicketService.svc $d/cgi-bin/webticket.cgi
    ScriptAlias /.well-known/est $d/cgi-bin/est.cgi
    ScriptAlias /whoami $d/cgi-bin/whoami.cgi

    <Location /WebTicket/WebTicketService.svc/WinNegotiate>
    $gss
    </Location>
    # enrollment: a verified client certificate is enough (the CGI takes the identity from
    # its CN, exported by +StdEnvVars); without one, Kerberos (Negotiate or Basic) as before
    <LocationMatch "^/\\.well-known/est/([^/]+/)?simple(re)?enroll\$">
    $gss_authn
    SSLOptions +StdEnvVars
    <RequireAny>
        Require ssl-verify-client
        Require valid-user
    </RequireAny>
    </LocationMatch>
    <Location /whoami>
    $gss
    </Location>
</VirtualHost>
CONF
}

# ct_apache_start DIR HTTPS_PORT
ct_apache_start() {
	local d=$1 https_port=$2 a=$1/apache i
	/usr/sbin/apache2 -t -f "$a/httpd.conf" >"$a/logs/configtest.log" 2>&1 ||
		ct_die "the generated httpd.conf is invalid: $(tail -n 3 "$a/logs/configtest.log")"
	# started daemonized (it calls setsid): a prefork httpd in the foreground kills its
	# caller's whole process group on SIGTERM. KRB5_CONFIG is needed for Basic (mod_auth_gssapi
	# asks the KDC), KRB5RCACHEDIR for the replay cache the children write.
	env -i PATH=/usr/sbin:/usr/bin:/bin LANG=C.UTF-8 \
		KRB5_CONFIG="$d/krb5/krb5.conf" KRB5_KTNAME="FILE:$d/krb5/http.keytab" \
		KRB5RCACHEDIR="$d/rcache" \
		/usr/sbin/apache2 -f "$a/httpd.conf" -k start >"$a/logs/stdout.log" 2>&1 ||
		ct_die "apache2 failed to start: $(tail -n 5 "$a/logs/error.log" "$a/logs/stdout.log" 2>/dev/null)"
	for ((i = 0; i < 200; i++)); do
		[ -s "$a/run/httpd.pid" ] && ct_tcp_open "$https_port" && return 0
		sleep 0.025
	done
	ct_die "apache2 did not listen on 127.0.0.1:$https_port within 5 s: $(tail -n 5 "$a/logs/error.log" 2>/dev/null)"
}
