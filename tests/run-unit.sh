#!/bin/sh
# tests/run-unit.sh — run cmocka unit test binaries (POSIX sh).
#
#   sh tests/run-unit.sh build/tests/test_a build/tests/test_b ...
#
# Runs each binary in turn (each under `timeout`, UNIT_TIMEOUT seconds,
# default 300), shows its full output on stdout, and counts individual
# cmocka tests from the summary lines cmocka prints:
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
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT
trap 'rm -rf "$tmp"; exit 143' TERM

total_pass=0
total_fail=0
bad_bins=""

if [ $# -eq 0 ]; then
	echo "run-unit: no unit test binaries given"
fi

for bin in "$@"; do
	echo "=== $bin"
	case $bin in
	*/*) cmd=$bin ;;
	*) cmd=./$bin ;;
	esac
	if [ ! -x "$cmd" ]; then
		echo "run-unit: $bin: not found or not executable"
		total_fail=$((total_fail + 1))
		bad_bins="$bad_bins $bin"
		continue
	fi

	# Stream the output and keep a copy; the exit status goes through a file
	# because a pipeline's status is its last command's.
	{
		if command -v timeout >/dev/null 2>&1; then
			timeout -k 10 "$UNIT_TIMEOUT" "$cmd" 2>&1
		else
			"$cmd" 2>&1
		fi
		echo $? >"$tmp/rc"
	} | tee "$tmp/out"
	rc=$(cat "$tmp/rc" 2>/dev/null || echo 1)

	# Sum every summary line (a binary may run several cmocka groups).
	p=$(sed -n 's/^\[  PASSED  \] \([0-9][0-9]*\) test(s)\..*/\1/p' "$tmp/out" |
	    awk '{ s += $1 } END { print s + 0 }')
	f=$(sed -n 's/^\[  FAILED  \] \([0-9][0-9]*\) test(s).*/\1/p' "$tmp/out" |
	    awk '{ s += $1 } END { print s + 0 }')

	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		case $rc in
		124) why="timed out after ${UNIT_TIMEOUT}s" ;;
		*) if [ "$rc" -gt 128 ]; then why="killed by signal $((rc - 128))"
		   else why="exit status $rc"; fi ;;
		esac
		echo "run-unit: $bin: $why without a cmocka failure summary; counted as 1 failed test"
		f=1
	fi
	if [ "$rc" -eq 0 ] && [ "$p" -eq 0 ] && [ "$f" -eq 0 ]; then
		echo "run-unit: $bin: note: no cmocka summary line found"
	fi
	if [ "$rc" -ne 0 ] || [ "$f" -ne 0 ]; then
		bad_bins="$bad_bins $bin"
	fi
	echo "--- $bin: $p passed, $f failed (exit $rc)"
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
done

if [ -n "$bad_bins" ]; then
	echo "run-unit: failing binaries:$bad_bins"
fi
echo "unit: $total_pass passed, $total_fail failed"
[ -z "$bad_bins" ] && [ "$total_fail" -eq 0 ]
