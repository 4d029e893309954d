#!/bin/bash
# run-bench.sh — `make bench`: performance figures of certtetherd (a benchmark: it prints
# figures and asserts nothing). Runs in a private network namespace with the real test
# servers, a private dbus-daemon, phonesim (umockdev) and build/daemon/certtetherd,
# set up by tests/integration/lib-daemon.sh. Policy "always" (no approval step), all
# phones for the test user alice.
#
#   1. plug-in to provisioned of one phone, per phase (from the ledger's event times),
#      median of BENCH_RUNS runs (default 5), with EST and with CertProv, with the daemon's own CPU time (utime +
#      stime from /proc/PID/stat, before the plug-in and at provisioned) apart from the
#      wall time it spent waiting for the phone and the server;
#   2. 1, 8 and 32 phones plugged at once (BENCH_PHONES; one burst of phonesim-ctl plug
#      calls, a few ms apart): total time from the first plug-in to the last one
#      provisioned, ratio to one phone, daemon CPU;
#   3. the idle daemon (no phone; then with the 32 provisioned phones still connected):
#      wake-ups per second over BENCH_IDLE_SECONDS (default 10), counted as the context
#      switches of all its threads (/proc/PID/task/*/status voluntary_ctxt_switches +
#      nonvoluntary_ctxt_switches: a thread woken from poll() is one voluntary switch),
#      and its resident memory (VmRSS).
# Environment: BENCH_RUNS, BENCH_PHONES ("1 8 32"), BENCH_IDLE_SECONDS, BENCH_PROTOCOLS
# (for 1.; default "est certprov"), BENCH_PROTOCOL (for 2. and 3.; default est),
# CT_BUILDDIR (default build).
# Output: a table on stdout, the figures as JSON in $CT_BUILDDIR/bench/results.json.
#
# Every figure is taken under umockdev emulation: the emulated USB node is a regular
# file, so libusb spins on REAPURBNDELAY while a transfer waits (about one core), which
# inflates the daemon's CPU time; phone-side times are phonesim's (OpenSSL on this CPU).
# These are not figures for real hardware. Server times are the test fixtures' (Python
# CGI + openssl behind Apache, Kerberos on loopback).
set -u
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
export CT_SRCDIR=${CT_SRCDIR:-$SRC}
export CT_BUILDDIR=${CT_BUILDDIR:-$SRC/build}
[ -n "${CT_IN_NETNS:-}" ] || exec "$SRC/tests/servers/in-netns" "$0" "$@"
. "$SRC/tests/integration/lib-daemon.sh"

RUNS=${BENCH_RUNS:-5}
PHONE_COUNTS=${BENCH_PHONES:-1 8 32}
IDLE_SECONDS=${BENCH_IDLE_SECONDS:-10}
PROTOCOL=${BENCH_PROTOCOL:-est}
PROTOCOLS=${BENCH_PROTOCOLS:-est certprov}
OUT_DIR=$CT_BUILDDIR/bench
TICKS=$(getconf CLK_TCK)
t_start=$SECONDS

note() { echo "bench: $*" >&2; }
now_us() { date +%s%6N; }
# daemon_cpu_ms: utime + stime of certtetherd (all threads), in ms
daemon_cpu_ms() {
	awk -v hz="$TICKS" '{ sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / hz) }' \
		"/proc/$CTD_PID/stat"
}
# daemon_switches: "TID COUNT" lines, the context switches of each certtetherd thread
daemon_switches() {
	local t
	for t in /proc/"$CTD_PID"/task/*; do
		awk -v tid="${t##*/}" '/^(voluntary|nonvoluntary)_ctxt_switches:/ { n += $2 }
			END { print tid, n + 0 }' "$t/status" 2>/dev/null
	done
}
# switches_delta BEFORE AFTER: switches in between, summed over threads (a thread born in
# between counts from 0; one that ended in between is not counted: its count is gone)
switches_delta() {
	awk 'NR == FNR { before[$1] = $2; next } { n += $2 - (($1 in before) ? before[$1] : 0) }
		END { print n + 0 }' <(echo "$1") <(echo "$2")
}
daemon_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$CTD_PID/status"; }
daemon_threads() { ls "/proc/$CTD_PID/task" | wc -l; }

# wait_all_provisioned SECONDS SINCE_US SERIAL...: every phone provisioned (or failed)
# since SINCE_US, or give up. One query per poll: the poll must not load the machine.
wait_all_provisioned() {
	local deadline=$((SECONDS + $1)) since=$2 n in
	shift 2
	in=$(printf "'%s'," "$@")
	while :; do
		n=$(ledger "SELECT count(DISTINCT serial) FROM events WHERE serial IN (${in%,})
			AND state IN ('provisioned', 'failed') AND time >= $since;")
		[ "$n" = $# ] && return 0
		[ "$SECONDS" -lt "$deadline" ] || { note "only $n of $# phones finished"; return 1; }
		sleep 0.2
	done
}

# events_json SERIAL PLUG_US: the phone's events since the plug-in, as a JSON array
events_json() {
	ledger "SELECT time, state FROM events WHERE serial = '$1' AND time >= $2 ORDER BY id;" |
		jq -R -s 'split("\n") | map(select(length > 0) | split("|") |
			{time: (.[0] | tonumber), state: .[1]})'
}

ctd_setup >/dev/null
mkdir -p "$OUT_DIR"
RAW=$W/raw.jsonl
: >"$RAW"
phone_seq=0
new_phone() { # a fresh phone defined in phonesim; its id in NEW_ID (no subshell: the count)
	phone_seq=$((phone_seq + 1))
	NEW_ID=b$phone_seq
	phone add "$NEW_ID" >/dev/null || bail "phonesim-ctl add $NEW_ID failed"
}

# ---- 1. one phone, BENCH_RUNS times, with each protocol ----
for proto in $PROTOCOLS; do
	ctd_write_config service.protocol="$proto" policy.mode=always
	ctd_start
	note "certtetherd $CTD_PID, protocol $proto, $RUNS runs of one phone"
	for run in $(seq 1 "$RUNS"); do
		new_phone
		id=$NEW_ID
		cpu0=$(daemon_cpu_ms)
		t0=$(now_us)
		phone plug "$id" >/dev/null
		wait_all_provisioned 120 "$t0" "SIM-$id" || bail "run $run: $id did not finish"
		cpu1=$(daemon_cpu_ms)
		state=$(ledger "SELECT state FROM events WHERE serial = 'SIM-$id' ORDER BY id DESC LIMIT 1;")
		jq -n -c --arg kind single --arg protocol "$proto" --argjson run "$run" --arg state "$state" \
			--argjson plug "$t0" --argjson cpu "$((cpu1 - cpu0))" \
			--argjson events "$(events_json "SIM-$id" "$t0")" \
			'{kind: $kind, protocol: $protocol, run: $run, final: $state, plug_us: $plug,
			  daemon_cpu_ms: $cpu, events: $events}' >>"$RAW"
		phone unplug "$id" >/dev/null
		note "run $run: $state"
	done
	ctd_stop
done

ctd_write_config service.protocol="$PROTOCOL" policy.mode=always
ctd_start
note "certtetherd $CTD_PID, protocol $PROTOCOL: phones at once"
# ---- 2. K phones at once ----
for k in $PHONE_COUNTS; do
	ids=()
	for _ in $(seq 1 "$k"); do
		new_phone
		ids+=("$NEW_ID")
	done
	serials=()
	for id in "${ids[@]}"; do serials+=("SIM-$id"); done
	cpu0=$(daemon_cpu_ms)
	t0=$(now_us)
	# one burst, one phonesim-ctl call after the other (a few ms each): parallel calls
	# overflow the control socket's backlog
	for id in "${ids[@]}"; do phone plug "$id" >/dev/null || note "cannot plug $id"; done
	wait_all_provisioned $((60 + 10 * k)) "$t0" "${serials[@]}" || note "$k phones: not all finished"
	cpu1=$(daemon_cpu_ms)
	in=$(printf "'%s'," "${serials[@]}")
	last=$(ledger "SELECT max(time) FROM events WHERE serial IN (${in%,})
		AND state IN ('provisioned', 'failed');")
	done_n=$(ledger "SELECT count(DISTINCT serial) FROM events WHERE serial IN (${in%,})
		AND state = 'provisioned' AND time >= $t0;")
	jq -n -c --arg kind concurrent --argjson k "$k" --argjson plug "$t0" --argjson last "${last:-0}" \
		--argjson provisioned "$done_n" --argjson cpu "$((cpu1 - cpu0))" \
		'{kind: $kind, phones: $k, plug_us: $plug, last_us: $last, provisioned: $provisioned, daemon_cpu_ms: $cpu}' >>"$RAW"
	note "$k at once: $done_n provisioned"
	if [ "$k" != "${PHONE_COUNTS##* }" ]; then
		for id in "${ids[@]}"; do phone unplug "$id" >/dev/null; done
	fi
done

# ---- 3. idle: with the last batch still connected, then a fresh daemon with no phone ----
idle_measure() { # LABEL
	local s0 s1 rss threads
	sleep 1 # let the last state change settle (not part of the measurement)
	s0=$(daemon_switches)
	sleep "$IDLE_SECONDS"
	s1=$(daemon_switches)
	rss=$(daemon_rss_kb)
	threads=$(daemon_threads)
	jq -n -c --arg kind idle --arg what "$1" --argjson seconds "$IDLE_SECONDS" \
		--argjson switches "$(switches_delta "$s0" "$s1")" --argjson rss "$rss" --argjson threads "$threads" \
		'{kind: $kind, "label": $what, seconds: $seconds, switches: $switches, rss_kb: $rss, threads: $threads}' >>"$RAW"
}
idle_measure "with ${PHONE_COUNTS##* } provisioned phones connected"
ctd_stop
for id in $(phone list | awk '$3 == "plugged" { print $1 }'); do phone unplug "$id" >/dev/null; done
ctd_start
idle_measure "no phone"
ctd_stop

jq -s --arg protocol "$PROTOCOL" --argjson runs "$RUNS" --arg build "$CT_BUILDDIR" \
	--arg date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --arg host "$(uname -srm), $(nproc) CPUs" \
	'{date: $date, host: $host, build: $build, protocol: $protocol, runs: $runs, raw: .}' \
	"$RAW" >"$W/raw.json"
python3 "$SRC/tests/bench/bench-report.py" "$W/raw.json" "$OUT_DIR/results.json"
rc=$?
note "whole bench: $((SECONDS - t_start)) s; figures in $OUT_DIR/results.json"
# no TAP here: the library's summary check is not wanted; leave through its cleanup
tap_failures=0
exit $rc
