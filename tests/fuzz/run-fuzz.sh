#!/bin/bash
# Run libFuzzer targets from build-fuzz/ for a bounded time each.
#
#   tests/fuzz/run-fuzz.sh --seconds N [--tap] [TARGET...]
#
# No TARGET: every target found in build-fuzz/. Each target starts from a COPY of
# its committed seed corpus tests/fuzz/corpus/TARGET/ (new inputs go to a scratch
# directory, the committed corpus is never modified) and runs for N seconds with
# -max_len from tests/fuzz/TARGET.options ("max_len = N"; default 4096).
# A crash, leak or sanitizer report saves the input under tests/fuzz/artifacts/
# and makes the script exit non-zero. With --tap the results are TAP lines:
#   ok 1 - fuzz TARGET: N runs in S s, no crash
#   not ok 1 - fuzz TARGET: crash artifact saved to tests/fuzz/artifacts/...
set -u
cd "$(dirname "$0")/../.."
SRCDIR=$PWD
FUZZDIR=$SRCDIR/build-fuzz
ARTIFACTS=$SRCDIR/tests/fuzz/artifacts
DEFAULT_MAX_LEN=4096

usage() {
	echo "usage: $0 --seconds N [--tap] [TARGET...]" >&2
	exit 2
}

seconds=""
tap=0
targets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--seconds)
		[ $# -ge 2 ] || usage
		seconds=$2
		shift 2
		;;
	--tap) tap=1; shift ;;
	-h | --help) usage ;;
	-*) echo "run-fuzz: unknown option $1" >&2; usage ;;
	*) targets+=("$1"); shift ;;
	esac
done
case "$seconds" in
'' | *[!0-9]* | 0) echo "run-fuzz: --seconds needs a positive whole number" >&2; usage ;;
esac

if [ ${#targets[@]} = 0 ]; then
	for f in "$FUZZDIR"/*; do
		[ -f "$f" ] && [ -x "$f" ] && targets+=("$(basename "$f")")
	done
	if [ ${#targets[@]} = 0 ]; then
		echo "run-fuzz: no fuzz targets in $FUZZDIR; build them with 'make fuzz-build'" >&2
		exit 1
	fi
fi

# libFuzzer reports through the sanitizers; keep their output and exit codes
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

scratch=$(mktemp -d "${TMPDIR:-/tmp}/ct-fuzz.XXXXXX")
trap 'rm -rf "$scratch"' EXIT

report() { # ok|not-ok N TEXT
	if [ "$tap" = 1 ]; then
		if [ "$1" = ok ]; then echo "ok $2 - $3"; else echo "not ok $2 - $3"; fi
	else
		echo "run-fuzz: $1: $3"
	fi
}

max_len_of() {
	local opts=$SRCDIR/tests/fuzz/$1.options v=""
	if [ -f "$opts" ]; then
		v=$(sed -n 's/^[[:space:]]*max_len[[:space:]]*=[[:space:]]*\([0-9][0-9]*\).*/\1/p' "$opts" | head -1)
	fi
	echo "${v:-$DEFAULT_MAX_LEN}"
}

failed=0
n=0
for t in "${targets[@]}"; do
	n=$((n + 1))
	bin=$FUZZDIR/$t
	seeds=$SRCDIR/tests/fuzz/corpus/$t
	if [ ! -x "$bin" ]; then
		report not-ok "$n" "fuzz $t: $bin not built (run 'make fuzz-build')"
		failed=1
		continue
	fi
	if [ ! -d "$seeds" ] || [ -z "$(ls -A "$seeds")" ]; then
		report not-ok "$n" "fuzz $t: no seed corpus in tests/fuzz/corpus/$t/ (commit a few valid inputs)"
		failed=1
		continue
	fi
	corpus=$scratch/$t
	mkdir -p "$corpus" "$ARTIFACTS"
	cp -- "$seeds"/* "$corpus"/
	log=$scratch/$t.log
	max_len=$(max_len_of "$t")
	"$bin" -max_total_time="$seconds" -max_len="$max_len" -timeout=25 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$ARTIFACTS/$t-" "$corpus" >"$log" 2>&1
	rc=$?
	runs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in \([0-9][0-9]*\) second.*/\1/p' "$log" | tail -1)
	secs=$(sed -n 's/^Done \([0-9][0-9]*\) runs in \([0-9][0-9]*\) second.*/\2/p' "$log" | tail -1)
	artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
	if [ "$rc" = 0 ] && [ -n "$runs" ]; then
		report ok "$n" "fuzz $t: $runs runs in $secs s, no crash"
		continue
	fi
	failed=1
	if [ -n "$artifact" ]; then
		report not-ok "$n" "fuzz $t: crash artifact saved to ${artifact#"$SRCDIR"/}"
	else
		report not-ok "$n" "fuzz $t: exit status $rc without a result"
	fi
	# the sanitizer report, so that the log of the run says what went wrong
	grep -E -A 30 '^==[0-9]+==ERROR|runtime error|deadly signal|SUMMARY' "$log" | head -24 | sed 's/^/# /'
done
[ "$tap" = 1 ] && echo "1..$n"
exit $failed
