# Shared by cli-daemon.sh and cli-direct.sh (sourced, bash): TAP helpers, the
# test servers, a hermetic environment (config, state, XDG dirs in a temp dir)
# and helpers to run certtether and look at its exit code, stdout and stderr.
#
# Outer part (before phonesim): cli_setup starts the servers, kinits and writes
# the configuration. Inner part (phonesim's child, CT_CLI_INNER=1): the tests.

SRC=${CT_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
: "${CT_BUILDDIR:?set CT_BUILDDIR to the build directory (tests/run-tests.sh does)}"
export CT_SRCDIR=$SRC CT_BUILDDIR
CLI=$CT_BUILDDIR/ui-cli/certtether
CTL=$CT_BUILDDIR/tests/phonesim-ctl
# umockdev preloads its library before ASan's runtime
export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
case "$ASAN_OPTIONS" in *verify_asan_link_order=0*) ;; *) ASAN_OPTIONS="$ASAN_OPTIONS:verify_asan_link_order=0" ;; esac
# what a person's terminal has must not leak into the tests
unset NO_COLOR CERTTETHER_CA_FILE

N=0
FAILED=0
ok() {
	N=$((N + 1))
	echo "ok $N - $*"
}
not_ok() {
	N=$((N + 1))
	FAILED=$((FAILED + 1))
	echo "not ok $N - $*"
}
# the last run's output, as TAP comments
diag() {
	[ -n "${OUT:-}" ] && printf '%s\n' "$OUT" | head -n 30 | sed 's/^/#   out: /'
	[ -n "${ERR:-}" ] && printf '%s\n' "$ERR" | head -n 30 | sed 's/^/#   err: /'
	return 0
}
# check DESCRIPTION COMMAND...: ok when COMMAND succeeds
check() {
	local desc=$1
	shift
	if "$@"; then ok "$desc"; else not_ok "$desc"; diag; fi
}
finish() {
	echo "1..$N"
	[ "$FAILED" = 0 ]
}
bail() {
	echo "Bail out! $*"
	exit 1
}

# run certtether with a time bound: sets OUT, ERR, RC
run() {
	OUT=$(timeout --kill-after=5 "${RUN_TIMEOUT:-60}" "$CLI" "$@" 2>"$W/stderr")
	RC=$?
	ERR=$(cat "$W/stderr")
}
# expect DESCRIPTION CODE: the last run exited with CODE
expect() {
	if [ "$RC" = "$2" ]; then ok "$1"; else not_ok "$1 (exit $RC, expected $2)"; diag; fi
}
# expect_json DESCRIPTION JQ-FILTER: the last run's stdout is JSON and the filter holds
expect_json() {
	if printf '%s' "$OUT" | jq -e "$2" >/dev/null 2>&1; then ok "$1"; else not_ok "$1 ($2)"; diag; fi
}
# expect_err DESCRIPTION REGEX: stderr matches (extended regex)
expect_err() {
	if printf '%s' "$ERR" | grep -qE "$2"; then ok "$1"; else not_ok "$1 (stderr !~ $2)"; diag; fi
}

# phonesim's view of a phone: a jq filter over `phonesim-ctl status ID --json`
phone() {
	"$CTL" status "$1" --json | jq -r "$2"
}

# write_config FILE PROTOCOL URL CA-FILE [LINE...]: a configuration for the test servers
write_config() {
	local file=$1 protocol=$2 url=$3 ca=$4
	shift 4
	{
		echo "[service]"
		echo "protocol=$protocol"
		echo "url=$url"
		echo "ca-file=$ca"
		echo "registrar=sip.test.local"
		echo "timeout=10"
		echo "[retry]"
		echo "max-attempts=2"
		echo "initial-delay=0.1"
		echo "max-delay=0.5"
		for line in "$@"; do echo "$line"; done
	} >"$file"
}

# a port on loopback where nothing listens (the unreachable case)
closed_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

cli_check_binaries() {
	local f
	for f in "$CLI" "$CTL" "$CT_BUILDDIR/tests/phonesim" "$@"; do
		if [ ! -x "$f" ]; then
			echo "not ok 1 - $f is missing: run 'make BUILDDIR=$CT_BUILDDIR tests'"
			echo "1..1"
			exit 1
		fi
	done
	for f in umockdev-wrapper jq kinit kdestroy; do
		if ! command -v "$f" >/dev/null; then
			echo "not ok 1 - $f not found: run 'make deps'"
			echo "1..1"
			exit 1
		fi
	done
}

# outer part: servers, ticket, configuration, hermetic directories; sets W
cli_setup() {
	W=$(mktemp -d "${TMPDIR:-/tmp}/ct-cli.XXXXXX")
	export W
	local out
	if ! out=$("$SRC/tests/servers/start" "$W/srv" 2>&1); then
		echo "Bail out! the test servers did not start: $out"
		exit 1
	fi
	echo "# $out"
	. "$W/srv/env.sh"
	echo "$CERTTETHER_TEST_PASSWORD" | kinit "$CERTTETHER_TEST_USER" >/dev/null 2>&1 ||
		bail "kinit $CERTTETHER_TEST_USER failed"
	mkdir -p "$W/xdg/config" "$W/xdg/state" "$W/xdg/cache" "$W/home" "$W/state"
	export XDG_CONFIG_HOME=$W/xdg/config XDG_STATE_HOME=$W/xdg/state XDG_CACHE_HOME=$W/xdg/cache
	export CERTTETHER_STATE_DIR=$W/state CERTTETHER_CONFIG=$W/certtether.conf
	write_config "$CERTTETHER_CONFIG" est "$CERTTETHER_TEST_EST_URL" "$CERTTETHER_TEST_CA"
}

cli_cleanup_servers() {
	"$SRC/tests/servers/stop" "$W/srv" >/dev/null 2>&1
}
