#!/bin/sh
# tests/run-unit.sh — run cmocka unit test binaries (POSIX sh).
#
#   sh tests/run-unit.sh build/tests/test_a build/tests/test_b ...
#
# Runs the binaries UNIT_JOBS at a time (default: the number of CPUs; each
# makes its own directories and takes free ports, so they do not meet),
# each under `timeout` (UNIT_TIMEOUT seconds, default 300), shows each
# one's full output on stdout in the order given, once it has finished,
# and counts individual cmocka tests from the summary lines cmocka
# prints:
#     [  PASSED  ] N test(s).
#     [  FAILED  ] N test(s), listed below:
# A binary that exits non-zero without reporting any failed test (crash,
# abort, timeout, missing file) counts as one failed test. The last line is
#     unit: N passed, M failed
# and the exit status is non-zero if any test or binary failed.

UNIT_TIMEOUT=${UNIT_TIMEOUT:-300}
# cmocka writes its messages to stdout unless told otherwise.
CMOCKA_MESSAGE_OUTPUT=stdout
export CMOCKA_MESSAGE_OUTPUT

tmp=$(mktemp -d "${TMPDIR:-/tmp}/mqfs-unit.XXXXXX") || exit 1
running=""
# The binaries still running are stopped with the script (timeout passes
# the signal on to its binary).
# shellcheck disable=SC2086 # a list of pids
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
trap '[ -n "$running" ] && kill $running 2>/dev/null; rm -rf "$tmp"; exit 130' INT
# shellcheck disable=SC2086
trap '[ -n "$running" ] && kill $running 2>/dev/null; rm -rf "$tmp"; exit 143' TERM

total_pass=0
total_fail=0
bad_bins=""

if [ $# -eq 0 ]; then
	echo "run-unit: no unit test binaries given"
fi

jobs=${UNIT_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1

# start K BIN: runs BIN in the background, its output in $tmp/K.out, its
# pid in pid_K and in $running (until it is reported).
start() {
	case $2 in
	*/*) _cmd=$2 ;;
	*) _cmd=./$2 ;;
	esac
	if [ ! -x "$_cmd" ]; then
		echo "run-unit: $2: not found or not executable" >"$tmp/$1.out"
		eval "pid_$1="
		return
	fi
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 10 "$UNIT_TIMEOUT" "$_cmd" >"$tmp/$1.out" 2>&1 &
	else
		"$_cmd" >"$tmp/$1.out" 2>&1 &
	fi
	eval "pid_$1=\$!"
	running="$running $!"
}

# report K BIN: waits for binary K, shows its output and counts it.
report() {
	eval "_pid=\$pid_$1"
	rc=127
	if [ -n "$_pid" ]; then
		wait "$_pid"
		rc=$?
		# shellcheck disable=SC2086 # a list of pids
		running=$(for _p in $running; do [ "$_p" = "$_pid" ] || printf ' %s' "$_p"; done)
	fi
	_bin=$2
	echo "=== $_bin"
	cat "$tmp/$1.out"

	# Sum every summary line (a binary may run several cmocka groups).
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$tmp/$1.out" |
	    awk '{ s += $1 } END { print s + 0 }')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$tmp/$1.out" |
	    awk '{ s += $1 } END { print s + 0 }')

	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		case $rc in
		124) why="timed out after ${UNIT_TIMEOUT}s" ;;
		127) why="not found or not executable" ;;
		*) if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"
		   else why="exit status $rc"; fi ;;
		esac
		echo "run-unit: $_bin: $why without a cmocka failure summary; counted as 1 failed test"
		f=1
	fi
	if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "run-unit: $_bin: note: no cmocka summary line found"
	fi
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		bad_bins="$bad_bins $_bin"
	fi
	echo "--- $_bin: $p passed, $f failed (exit $rc)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
}

# At most $jobs running: before starting binary k, the one started $jobs
# earlier is waited for and reported (in order, so the output reads as a
# sequential run's).
n=$#
k=0
done_k=0
for bin in "$@"; do
	k=$((k + 1))
	eval "bin_$k=\$bin"
	if [ $((k - done_k)) -gt "$jobs" ]; then
		done_k=$((done_k + 1))
		eval "report $done_k \"\$bin_$done_k\""
	fi
	start "$k" "$bin"
done
while [ "$done_k" -lt "$n" ]; do
	done_k=$((done_k + 1))
	eval "report $done_k \"\$bin_$done_k\""
done

if [ -n "$bad_bins" ]; then
	echo "run-unit: failing binaries:$bad_bins"
fi
echo "unit: $total_pass passed, $total_fail failed"
[ -z "$bad_bins" ] && [ "$total_fail" -eq 0 ]
