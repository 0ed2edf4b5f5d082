# shellcheck shell=sh
# contrib/bench/lib.sh — harness shared by the mqfs benchmark scripts
# (POSIX sh, works under dash and bash). Source it from a benchmark:
#
#   . "$(dirname "$0")/lib.sh"
#   BENCH_NAME=throughput            # prefix of die's and cleanup's messages
#   bench_build "${1:-build}"        # BUILD := that dir, absolute, or die
#   bench_tmp mqfs-bench             # tmp := $BENCH_DIR/mqfs-bench.XXXXXX,
#                                    # removed at exit; cleanup traps set
#   mount_daemon "$tmp/mnt" "$tmp/mq.log" "$BUILD/mqfs" -f --data "$tmp/d" "$tmp/mnt" ||
#           die "mqfs did not mount: $(tail -n 3 "$tmp/mq.log")"
#   pid=$DPID
#   a=$(now); ...; b=$(now); elapsed "$a" "$b" >>"$tmp/t"
#   median <"$tmp/t"
#   unmount "$tmp/mnt" "$pid"        # optional: the exit trap does it too
#
# Functions:
#   say TEXT...            print one line
#   die TEXT...            "$BENCH_NAME: TEXT" on stderr, exit 1 (cleanup runs)
#   bench_build DIR        BUILD := absolute path of DIR, or die
#   bench_tmp PREFIX       private temp dir, sets tmp; traps EXIT INT TERM HUP
#                          PIPE unmount what we mounted, stop the daemons we
#                          started and remove tmp (kept, with a message, if
#                          something is still mounted under it)
#   start_daemon LOG CMD...  start CMD in the background with output to LOG
#                          and stdin from /dev/null; the exit trap stops it
#                          if it still runs. Sets DPID.
#   stop_daemon PID        SIGTERM, wait up to 30 s for PID to exit (SIGKILL
#                          after that), reap it
#   mount_daemon MNT LOG CMD...   start_daemon of a foreground FUSE daemon;
#                          waits up to 10 s for MNT to appear in
#                          /proc/mounts. Sets DPID. 1 (daemon stopped) if it
#                          did not mount.
#   unmount MNT [PID]      fusermount3 -u (lazy -uz if that fails), then wait
#                          up to 60 s for PID to exit (SIGKILL after that)
#   is_mounted MNT         0 if MNT is a mountpoint in /proc/mounts
#   alive PID              0 if PID runs and is not a zombie
#   wait_exit PID SECONDS  wait for PID to exit, then reap; 1 on timeout
#   free_port              a TCP port of 127.0.0.1 free now (python3)
#   now                    wall clock, seconds with nanoseconds
#   elapsed A B            B - A in seconds, "%.6f"
#   median                 median of the numbers on stdin (the mean of the
#                          two middle ones for an even count; "nan" if none)
#   spread                 "MIN-MAX" of the numbers on stdin ("nan" if none)
#   records N FILE         N distinct 100-byte records (99 characters and
#                          '\n') into FILE: the records of the small-write
#                          and peer benchmarks
#   dd_writers N TARGET SRC RECORDS
#                          N concurrent dd's, one write() per 100-byte
#                          record, each appending its share of SRC's first
#                          RECORDS records to TARGET; prints the seconds
#
# Settings read here: BENCH_DIR (default $TMPDIR or /tmp), where bench_tmp
# puts its temp dir.
#
# Only pids started by start_daemon or mount_daemon are ever signalled, only mountpoints it
# mounted are unmounted. Call the functions in the script's own shell (not in
# $(...) or a pipeline): the tracked pids and mounts live in shell variables.
# The functions' own variables start with _b to keep clear of the scripts'.

BENCH_NAME=${BENCH_NAME:-bench}
BENCH_DIR=${BENCH_DIR:-${TMPDIR:-/tmp}}
BENCH_PIDS=""      # daemons we started and have not reaped yet
BENCH_MOUNTS=""    # mountpoints we mounted and have not unmounted yet
DPID=""
tmp=""

say() { printf '%s\n' "$*"; }
die() { say "$BENCH_NAME: $*" >&2; exit 1; }

. "$(dirname "$0")/../../tests/proc.sh"

bench_build() {
	# shellcheck disable=SC2034  # BUILD is for the sourcing script
	BUILD=$(cd "$1" 2>/dev/null && pwd -P) || die "build dir '$1' not found"
}

is_mounted() { proc_is_mounted "$1"; }
alive() { proc_alive "$1"; }

wait_exit() {
	proc_wait_exit "$1" "$2" || return 1
	proc_list_del BENCH_PIDS "$1"
	return 0
}

unmount() {
	proc_unmount "$1" 30
	is_mounted "$1" || proc_list_del BENCH_MOUNTS "$1"
	if [ -n "$2" ] && ! wait_exit "$2" 60; then
		say "  (daemon $2 still running 60 s after unmount; SIGKILL)"
		kill -KILL "$2" 2>/dev/null
		wait_exit "$2" 10
	fi
}

start_daemon() {
	_blog=$1
	shift
	"$@" >"$_blog" 2>&1 </dev/null &
	DPID=$!
	proc_list_add BENCH_PIDS "$DPID"
}

stop_daemon() {
	alive "$1" && kill -TERM "$1" 2>/dev/null
	wait_exit "$1" 30 || { kill -KILL "$1" 2>/dev/null; wait_exit "$1" 10; }
}

mount_daemon() {
	_bm=$1
	shift
	mkdir -p "$_bm"
	start_daemon "$@"
	proc_list_add BENCH_MOUNTS "$_bm"
	proc_wait_mounted "$_bm" "$DPID" 10 && return 0
	stop_daemon "$DPID"
	return 1
}

free_port() {
	python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

now() { date +%s.%N; }

elapsed() {
	awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'
}

median() {
	sort -g | awk '{ a[NR] = $1 }
		END { if (NR == 0) print "nan";
		      else if (NR % 2) print a[(NR + 1) / 2];
		      else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

spread() {
	sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 }
		END { if (NR == 0) print "nan"; else print lo "-" hi }'
}

records() {
	awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) printf "%09d %089d\n", i, i }' > "$2"
}

dd_writers() {
	_bper=$(($4 / $1))
	_bt0=$(now)
	_bpids=""
	_bi=0
	while [ "$_bi" -lt "$1" ]; do
		dd if="$3" of="$2" bs=100 skip=$((_bi * _bper)) count="$_bper" \
			oflag=append conv=notrunc status=none &
		_bpids="$_bpids $!"
		_bi=$((_bi + 1))
	done
	for _bp in $_bpids; do wait "$_bp"; done
	elapsed "$_bt0" "$(now)"
}

# shellcheck disable=SC2317  # invoked by the traps set in bench_tmp
bench_cleanup() {
	trap - EXIT INT TERM HUP PIPE
	for _bm in $BENCH_MOUNTS; do
		proc_unmount "$_bm" 30
	done
	# An unmounted daemon exits by itself; give it a moment before SIGTERM.
	for _bp in $BENCH_PIDS; do
		wait_exit "$_bp" 5 && continue
		kill -TERM "$_bp" 2>/dev/null
		wait_exit "$_bp" 30 || { kill -KILL "$_bp" 2>/dev/null; wait_exit "$_bp" 10; }
	done
	[ -n "$tmp" ] || return 0
	if proc_mounts_under "$tmp"; then
		say "$BENCH_NAME: mounts left under $tmp, not removing it" >&2
	else
		rm -rf "$tmp"
	fi
}

bench_tmp() {
	tmp=$(mktemp -d "$BENCH_DIR/$1.XXXXXX") || die "mktemp in $BENCH_DIR failed"
	tmp=$(cd "$tmp" && pwd -P)
	trap 'bench_cleanup' EXIT
	trap 'bench_cleanup; exit 130' INT
	trap 'bench_cleanup; exit 143' TERM
	trap 'bench_cleanup; exit 129' HUP
	trap 'bench_cleanup; exit 141' PIPE   # e.g. output piped into head
}
