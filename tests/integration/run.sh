#!/bin/sh
# tests/integration/run.sh — run the FUSE integration tests (POSIX sh).
#
#   sh tests/integration/run.sh build/mqfs [NAME...]
#
# Runs every tests/integration/t_*.sh (or only those whose name contains one
# of the NAMEs; INTEGRATION_DIR names another folder of t_*.sh) with MQFS
# exported as the absolute path of the given binary, each under
# `timeout 300` (INTEGRATION_TIMEOUT), from the repository root,
# INTEGRATION_JOBS of them at a time (default 1; a script marked
# "# integration: alone" runs by itself, see below).
# Prints each script's output once it has ended, then exactly one line
#     integration: N passed, M failed
# counting scripts, and exits non-zero if any script failed.
#
# With SANITIZER_DIR set (make asan), every ASan/LSan/UBSan-built process a
# script starts writes its reports to SANITIZER_DIR/<script>.*.<pid>
# (log_path), and a script that leaves one there fails with the report
# shown. The daemons above all: their stderr goes to a log the script
# removes, and no script reads their exit status after an unmount, so a
# leak or a use-after-free at shutdown would otherwise pass unseen.

usage() {
	echo "usage: sh tests/integration/run.sh PATH/TO/mqfs [NAME...]" >&2
	exit 2
}

[ $# -ge 1 ] || usage
bin=$1
shift

here=$(cd "$(dirname "$0")" && pwd -P) || exit 2
root=$(cd "$here/../.." && pwd -P) || exit 2

# Absolute path of the binary (it need not exist yet for every test: the
# passthrough smoke test only needs its sibling mqfs-passthrough).
bindir=$(cd "$(dirname "$bin")" 2>/dev/null && pwd -P) ||
	{ echo "integration: directory of '$bin' does not exist" >&2; exit 2; }
MQFS=$bindir/$(basename "$bin")
export MQFS

if [ ! -c /dev/fuse ]; then
	echo "integration: /dev/fuse is missing (not a character device here)." >&2
	echo "integration: FUSE integration tests cannot run: load the fuse module" >&2
	echo "integration: or give the container the device (--device /dev/fuse --cap-add SYS_ADMIN)." >&2
	exit 2
fi
if ! command -v fusermount3 >/dev/null 2>&1; then
	echo "integration: fusermount3 not found (Debian package 'fuse3'); refusing to run." >&2
	exit 2
fi
for tool in timeout mktemp awk; do
	command -v "$tool" >/dev/null 2>&1 ||
		{ echo "integration: required tool '$tool' not found" >&2; exit 2; }
done
[ -x "$MQFS" ] || echo "integration: warning: $MQFS is not (yet) an executable; tests needing it will fail"

# The kernel's io_uring transport (fs/uring.c) serves the daemons of every
# script where the kernel has it and we may turn it on (root): the
# parameter is set to Y for the run and put back at the end.
# INTEGRATION_URING=0 runs the scripts with the parameter as found.
# t_uring.sh checks the transport itself, on and off.
uring_param=/sys/module/fuse/parameters/enable_uring
uring_was=""
if [ "${INTEGRATION_URING:-1}" != 0 ] && [ -w "$uring_param" ]; then
	uring_was=$(cat "$uring_param")
	if echo Y > "$uring_param"; then
		echo "integration: FUSE over io_uring on for this run (enable_uring was $uring_was)"
		trap 'echo "$uring_was" > "$uring_param"' EXIT
		trap 'exit 130' INT
		trap 'exit 143' TERM
	fi
elif [ ! -e "$uring_param" ]; then
	echo "integration: this kernel has no FUSE io_uring transport: /dev/fuse only"
fi

TIMEOUT=${INTEGRATION_TIMEOUT:-300}
tdir=${INTEGRATION_DIR:-$here}
san=${SANITIZER_DIR:-}
if [ -n "$san" ]; then
	mkdir -p "$san" || exit 2
	san=$(cd "$san" && pwd -P) || exit 2
	asan_opts=${ASAN_OPTIONS:-}
	ubsan_opts=${UBSAN_OPTIONS:-}
fi
pass=0
failed=0
failed_names=""

cd "$root" || exit 2
nomatch=0

# INTEGRATION_JOBS scripts run side by side (default 1; `make test` gives
# the CPUs): each has its own temporary directory, free ports, its own
# ZooKeeper and network namespaces, so they do not meet. A script whose
# header has the line "# integration: alone" changes something the whole
# machine shares (t_uring.sh turns the kernel's enable_uring off under
# the mounts of the others) and runs with no other script beside it. Each
# script's output is kept in a file and shown whole once it has finished,
# in the order they finish.
jobs=${INTEGRATION_JOBS:-1}
[ "$jobs" -ge 1 ] 2>/dev/null || jobs=1
otmp=$(mktemp -d "${TMPDIR:-/tmp}/mqfs-integration.XXXXXX") || exit 2
rm_otmp() { rm -rf "$otmp"; }

# The scripts to run, one per line in $otmp/queue.
: >"$otmp/queue"
for t in "$tdir"/t_*.sh; do
	[ -e "$t" ] || continue
	name=$(basename "$t")
	if [ $# -gt 0 ]; then
		want=0
		for pat in "$@"; do
			case $name in *"$pat"*) want=1 ;; esac
		done
		[ "$want" -eq 1 ] || continue
	fi
	echo "$t" >>"$otmp/queue"
done

# start K T: runs script T in the background (job K): its output goes to
# $otmp/K.out, the pid of its `timeout` to $otmp/K.pid, and "STATUS
# SECONDS" to $otmp/K.rc once it has ended. `timeout` puts the test in its
# own process group; on a signal this runner sends it TERM (the test's
# trap then cleans up).
start() {
	_t=$2
	_name=$(basename "$_t")
	# Interpreter: the script's own (if executable), else by its shebang.
	if [ -x "$_t" ]; then
		_runner=""
	elif head -n 1 "$_t" | grep -q bash; then
		_runner="bash"
	else
		_runner="sh"
	fi
	if [ -n "$san" ]; then
		rm -f "$san/$_name".*
	fi
	(
		if [ -n "$san" ]; then
			# The later log_path wins over one the caller's options carry.
			ASAN_OPTIONS="${asan_opts:+$asan_opts:}log_path=$san/$_name.asan"
			UBSAN_OPTIONS="${ubsan_opts:+$ubsan_opts:}print_stacktrace=1:log_path=$san/$_name.ubsan"
			export ASAN_OPTIONS UBSAN_OPTIONS
		fi
		_s=$(date +%s)
		# shellcheck disable=SC2086 # no runner: the script itself
		timeout -k 10 "$TIMEOUT" $_runner "$_t" >"$otmp/$1.out" 2>&1 &
		echo $! >"$otmp/$1.pid"
		wait $!
		_rc=$?
		echo "$_rc $(($(date +%s) - _s))" >"$otmp/$1.rc.tmp"
		mv "$otmp/$1.rc.tmp" "$otmp/$1.rc"
	) &
	eval "job_$1=\$_t"
	running="$running $1"
}

# stop_all SIGNAL-NAME: TERM to every running script, waits for them.
stop_all() {
	for _k in $running; do
		[ -s "$otmp/$_k.pid" ] && kill -TERM "$(cat "$otmp/$_k.pid")" 2>/dev/null
	done
	wait
	echo "integration: $1"
}
trap 'stop_all interrupted; rm_otmp; exit 130' INT
trap 'stop_all terminated; rm_otmp; exit 143' TERM

# report K: shows job K's output and counts it.
report() {
	eval "_t=\$job_$1"
	name=$(basename "$_t")
	read -r rc secs <"$otmp/$1.rc"
	echo "=== $name"
	cat "$otmp/$1.out"
	reports=""
	if [ -n "$san" ]; then
		for r in "$san/$name".*; do
			[ -e "$r" ] || continue
			reports="$reports $r"
			echo "# sanitizer report $r:"
			sed -n '1,200s/^/# /p' "$r"
		done
	fi
	if [ -n "$reports" ] && [ "$rc" -eq 0 ]; then
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		echo "--- $name: FAIL (sanitizer report:$reports)"
	elif [ "$rc" -eq 0 ]; then
		pass=$((pass + 1))
		echo "--- $name: PASS (${secs}s)"
	else
		failed=$((failed + 1))
		failed_names="$failed_names $name"
		case $rc in
		124) echo "--- $name: FAIL (timed out after ${TIMEOUT}s)" ;;
		137) echo "--- $name: FAIL (SIGKILL: timed out and ignored SIGTERM?)" ;;
		*) echo "--- $name: FAIL (exit status $rc, ${secs}s)" ;;
		esac
	fi
}

running=""
nrun=0
alone=0
k=0
exec 3<"$otmp/queue"
next=""
IFS= read -r next <&3 || next=""
while [ -n "$next" ] || [ "$nrun" -gt 0 ]; do
	# Start what may start now: a script that must run alone waits until
	# nothing runs, and nothing starts beside it.
	while [ -n "$next" ] && [ "$alone" -eq 0 ]; do
		if grep -q '^# integration: alone' "$next"; then
			[ "$nrun" -eq 0 ] || break
			alone=1
		elif [ "$nrun" -ge "$jobs" ]; then
			break
		fi
		k=$((k + 1))
		start "$k" "$next"
		nrun=$((nrun + 1))
		IFS= read -r next <&3 || next=""
	done
	# Report what has ended; poll its status files (a test runs for
	# seconds, so a tenth of a second here costs nothing).
	ended=0
	still=""
	for j in $running; do
		if [ -e "$otmp/$j.rc" ]; then
			report "$j"
			nrun=$((nrun - 1))
			ended=1
		else
			still="$still $j"
		fi
	done
	running=$still
	[ "$nrun" -eq 0 ] && alone=0
	[ "$ended" -eq 1 ] || sleep 0.1
done
exec 3<&-
wait
rm_otmp

if [ $# -gt 0 ] && [ $((pass + failed)) -eq 0 ]; then
	echo "integration: no t_*.sh matched: $*"
	nomatch=1
fi
[ -n "$failed_names" ] && echo "integration: failed scripts:$failed_names"
echo "integration: $pass passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$nomatch" -eq 0 ]
