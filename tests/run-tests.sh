#!/bin/bash
# Run every test of 'make check' and print one summary line the CI can read:
#   certtether check: N passed, N failed, N skipped
#
# Unit tests run in both build variants (build/ and build-asan/); integration
# tests too; fuzz targets run for a bounded time each from their seed corpus.
# Each program speaks TAP (GLib's --tap, or the scripts' own "ok N - ..." lines).
# A program that exits non-zero, prints no test result, or skips without a reason
# fails. Under CT_CHECK_STRICT=1 (the default here) an integration test may not
# skip at all: CI must run them.
set -u
cd "$(dirname "$0")/.."
SRCDIR=$PWD

fuzz_seconds=10
unit=""
integration=""
fuzz=""
variants="build build-asan"
while [ $# -gt 0 ]; do
	case "$1" in
	--fuzz-seconds) fuzz_seconds=$2; shift 2 ;;
	--unit) unit=$2; shift 2 ;;
	--integration) integration=$2; shift 2 ;;
	--fuzz) fuzz=$2; shift 2 ;;
	--variants) variants=$2; shift 2 ;;
	*) echo "run-tests: unknown option $1" >&2; exit 2 ;;
	esac
done
: "${CT_CHECK_STRICT:=1}"
: "${CT_TEST_TIMEOUT:=300}"
export CT_SRCDIR=$SRCDIR

LOGDIR=$SRCDIR/build/test-logs
mkdir -p "$LOGDIR"
total_pass=0 total_fail=0 total_skip=0
failed_programs=()

# sanitizer settings: fail on the first report, keep stack traces readable;
# verify_asan_link_order=0 because umockdev-wrapper preloads its library first
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:verify_asan_link_order=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$SRCDIR/tests/lsan.supp:print_suppressions=0}
export G_DEBUG=${G_DEBUG:-fatal-criticals}
export G_SLICE=always-malloc

# run one program and judge its TAP into RESULTDIR/N.result; the summary is
# printed later, in the order the programs were queued
# usage: run_one N KIND LABEL COMMAND...
run_one() {
	local n=$1 kind=$2 label=$3
	shift 3
	local log="$LOGDIR/$(echo "$label" | tr '/ ' '__').log"
	local t0 t1 rc
	t0=$(date +%s.%N)
	timeout --kill-after=10 "$CT_TEST_TIMEOUT" "$@" >"$log" 2>&1 </dev/null
	rc=$?
	t1=$(date +%s.%N)
	local pass fail skip noreason
	pass=$(grep -cE '^ok [0-9]+' "$log")
	skip=$(grep -cE '^ok [0-9]+.*# ?SKIP' "$log")
	noreason=$(grep -cE '^ok [0-9]+.*# ?SKIP[[:space:]]*$' "$log")
	fail=$(grep -cE '^not ok [0-9]+' "$log")
	pass=$((pass - skip))
	local why=""
	if [ "$rc" != 0 ] && [ "$fail" = 0 ]; then
		fail=1
		why="exit status $rc"
		[ "$rc" = 124 ] && why="timed out after ${CT_TEST_TIMEOUT}s"
	fi
	if [ $((pass + fail + skip)) = 0 ]; then
		fail=1
		why="printed no test result"
	fi
	# the TAP plan must match what ran: a check whose "ok" line went astray, or a
	# program that stopped early, is a failure even if nothing said "not ok"
	local plan results
	plan=$(grep -m1 -oE '^1\.\.[0-9]+' "$log" | cut -d. -f3)
	results=$(grep -cE '^(not )?ok [0-9]+' "$log")
	if [ -z "$plan" ]; then
		fail=$((fail + 1))
		why="printed no TAP plan (1..N)"
	elif [ "$plan" != "$results" ]; then
		fail=$((fail + 1))
		why="TAP plan says $plan tests, $results reported"
	fi
	if [ "$noreason" != 0 ]; then
		fail=$((fail + noreason))
		why="skipped without a reason"
	fi
	if [ "$kind" = integration ] && [ "$CT_CHECK_STRICT" = 1 ] && [ "$skip" != 0 ]; then
		fail=$((fail + skip))
		why="integration test skipped under CT_CHECK_STRICT=1: $(grep -m1 -E '# ?SKIP' "$log")"
	fi
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$pass" "$fail" "$skip" \
		"$(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }")" "$label" "$log" "$why" \
		>"$RESULTDIR/$n.result"
}

# the queue: one line per program, run CT_TEST_JOBS at a time (default: the
# number of cores). Integration tests each use their own network namespace,
# temp dirs, bus and emulated USB bus, so they do not see each other.
RESULTDIR=$(mktemp -d)
trap 'rm -rf "$RESULTDIR"' EXIT
: "${CT_TEST_JOBS:=$(nproc)}"
queued=0
queue() {
	queued=$((queued + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$CT_TEST_JOBS" ]; do
		wait -n
	done
	run_one "$queued" "$@" &
}

for v in $variants; do
	for t in $unit; do
		queue unit "$v/$t" env CT_BUILDDIR="$SRCDIR/$v" "$SRCDIR/$v/tests/$t" --tap
	done
done

for v in $variants; do
	for t in $integration; do
		case "$t" in
		*/*) cmd=("$SRCDIR/$t") ;;
		*) cmd=("$SRCDIR/$v/tests/$t" --tap) ;;
		esac
		queue integration "$v/$(basename "$t")" env CT_BUILDDIR="$SRCDIR/$v" "${cmd[@]}"
	done
done

for f in $fuzz; do
	queue fuzz "fuzz/$f" "$SRCDIR/tests/fuzz/run-fuzz.sh" --seconds "$fuzz_seconds" --tap "$f"
done

wait

for i in $(seq 1 "$queued"); do
	IFS=$'\t' read -r pass fail skip secs label log why <"$RESULTDIR/$i.result"
	total_pass=$((total_pass + pass))
	total_fail=$((total_fail + fail))
	total_skip=$((total_skip + skip))
	if [ "$fail" = 0 ]; then
		printf 'PASS %-48s %3d ok %2d skipped  %6ss\n' "$label" "$pass" "$skip" "$secs"
	else
		printf 'FAIL %-48s %3d ok %2d failed   %6ss  %s\n' "$label" "$pass" "$fail" "$secs" "$why"
		failed_programs+=("$label")
		echo "---- last lines of $log ----"
		tail -n 40 "$log" | sed 's/^/    /'
		echo "----"
	fi
done

if [ ${#failed_programs[@]} -gt 0 ]; then
	echo "failed: ${failed_programs[*]}"
fi
echo "certtether check: $total_pass passed, $total_fail failed, $total_skip skipped"
[ "$total_fail" = 0 ]
