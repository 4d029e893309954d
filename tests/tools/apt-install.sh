#!/bin/sh
# Install Debian packages quietly and idempotently, without letting the packages'
# maintainer scripts start system services (apache2 on :80, krb5-kdc): the tests
# run their own private instances.
set -eu
[ "$#" -gt 0 ] || exit 0
export DEBIAN_FRONTEND=noninteractive
policy=/usr/sbin/policy-rc.d
added_policy=0
if [ ! -e "$policy" ]; then
	printf '#!/bin/sh\nexit 101\n' >"$policy"
	chmod 755 "$policy"
	added_policy=1
fi
cleanup() { [ "$added_policy" = 1 ] && rm -f "$policy"; }
trap cleanup EXIT
log=$(mktemp)
if ! apt-get update -qq >"$log" 2>&1; then
	cat "$log" >&2
	echo "apt-install: apt-get update failed (see above); check the network and /etc/apt/sources.list" >&2
	rm -f "$log"
	exit 1
fi
if ! apt-get install -y -qq --no-install-recommends "$@" >"$log" 2>&1; then
	tail -n 30 "$log" >&2
	echo "apt-install: apt-get install failed for: $*" >&2
	rm -f "$log"
	exit 1
fi
rm -f "$log"
echo "apt-install: installed $#  package(s)"
