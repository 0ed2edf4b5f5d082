#!/bin/sh
# contrib/bench/run.sh — run the mqfs benchmarks (POSIX sh).
#
#   sh contrib/bench/run.sh [BUILD_DIR]          (make bench)
#
# Prints the command line that reproduces the run (the BENCH_*, SMALL_*,
# FSYNC_*, REDIS_*, CLIENT_* and TMPDIR settings in the environment, the directory and this
# script) and a header describing the machine, then runs each benchmark
# script.
# Benchmarks print figures; they are not pass/fail tests. Settings are
# environment variables documented in each script:
#   throughput.sh   BENCH_MB BENCH_REPS BENCH_DIR BENCH_TARGETS
#                   BENCH_DROP_CACHES BENCH_OP_TIMEOUT; run twice: as set,
#                   then (throughput-direct) with BENCH_MQFS_OPTS="-o
#                   no_page_cache", BENCH_TARGETS="passthrough mqfs" and
#                   BENCH_MB=$BENCH_DIRECT_MB (256)
#   latency.sh      BENCH_LAT_RECORDS BENCH_TP_MB BENCH_REPS BENCH_DIR
#   smallwrites.sh  SMALL_RECORDS SMALL_WRITERS SMALL_STREAM_MB SMALL_REPS
#                   BENCH_DIR
#   fsync.sh        FSYNC_RECORDS BENCH_REPS BENCH_DIR
#   redis.sh        SMALL_RECORDS REDIS_RECORDS REDIS_COUNT BENCH_LAT_RECORDS
#                   BENCH_REPS BENCH_DIR (Redis Streams beside mqfs; needs
#                   redis-server and redis-tools: sh contrib/install-deps.sh
#                   bench, which make bench runs)
#   cluster.sh      BENCH_CLUSTER_MB BENCH_LAT_RECORDS BENCH_REPS
#                   BENCH_CLUSTER_SESSION_MS BENCH_DIR (three brokers with
#                   ZooKeeper against the single node; needs java)
#   clients.sh      CLIENT_RECORDS CLIENT_REPS CLIENT_LAT_RECORDS BENCH_DIR
#                   (librdkafka through the listener against the mount;
#                   BUILD/rdk_perf, which make bench builds)
# Their shared harness (temp dir, cleanup, mounting, timing) is lib.sh.
#
# The FUSE channel: mqfs and the passthrough both serve requests through
# the kernel's io_uring transport when it is on (fs/uring.c), /dev/fuse
# otherwise. BENCH_URING=1 (the default) turns it on for the run where the
# kernel has it and we may (root: /sys/module/fuse/parameters/enable_uring)
# and puts the parameter back at the end; BENCH_URING=0 leaves it as found.
# The header says which channel the figures are of.

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd -P) || exit 1

quote() {      # quote WORD — WORD as a shell word (single quotes if needed)
	case $1 in
	'' | *[!A-Za-z0-9_./:=,+-]*) printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")" ;;
	*) printf '%s' "$1" ;;
	esac
}

# The reproducing command: every setting the scripts read, as set now.
cmd="cd $(quote "$(pwd -P)") &&"
for v in $(env | sed -nE 's/^((BENCH|SMALL|FSYNC|REDIS|CLIENT)_[A-Z_]*|TMPDIR)=.*/\1/p' | sort -u); do
	val=""
	eval "val=\${$v}"
	cmd="$cmd $v=$(quote "$val")"
done
cmd="$cmd sh $(quote "$0") $(quote "$BUILD")"

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu" ] || cpu=$(uname -m)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
fuse=$(pkg-config --modversion fuse3 2>/dev/null || echo unknown)
rev=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo none)
dirty=$(git -C "$here" status --porcelain 2>/dev/null | head -n 1)

echo "mqfs benchmarks"
echo "  command: $cmd"
echo "  date:    $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "  host:    $(uname -n)"
echo "  kernel:  $(uname -srm)"
echo "  cpu:     $cpu ($(nproc 2>/dev/null || echo '?') online)"
echo "  memory:  $mem"
bdir=${BENCH_DIR:-${TMPDIR:-/tmp}}
echo "  disk:    $bdir: $(df -PT "$bdir" 2>/dev/null | awk 'NR == 2 { printf "%s on %s, %.1f GiB free", $2, $1, $5 / 1048576 }')"
echo "  libfuse: $fuse; /proc/sys/fs/fuse/max_pages_limit: $(cat /proc/sys/fs/fuse/max_pages_limit 2>/dev/null || echo n/a)"
echo "  build:   $BUILD (git $rev${dirty:+, uncommitted changes})"

uring_param=/sys/module/fuse/parameters/enable_uring
if [ "${BENCH_URING:-1}" != 0 ] && [ -w "$uring_param" ]; then
	uring_was=$(cat "$uring_param")
	echo Y > "$uring_param" && trap 'echo "$uring_was" > "$uring_param"' EXIT
	trap 'exit 130' INT
	trap 'exit 143' TERM
fi
case $(cat "$uring_param" 2>/dev/null) in
Y) echo "  channel: FUSE over io_uring, mqfs and the passthrough alike (enable_uring Y${uring_was:+; $uring_was before the run, put back after})" ;;
N) echo "  channel: /dev/fuse (enable_uring N)" ;;
*) echo "  channel: /dev/fuse (this kernel has no io_uring transport)" ;;
esac
echo ""

if [ ! -c /dev/fuse ]; then
	echo "bench: /dev/fuse missing: only the plain-file target can run"
	BENCH_TARGETS=${BENCH_TARGETS:-plain}
	export BENCH_TARGETS
fi

BENCHES="throughput throughput-direct latency smallwrites fsync redis cluster clients"      # add further contrib/bench/<name>.sh here
status=0
for b in $BENCHES; do
	echo "=== $b"
	case $b in
	throughput-direct)
		# The streaming write and first read against the FUSE channel's
		# ceiling: mqfs with direct I/O on its partition files too, against
		# the direct-I/O passthrough, BENCH_DIRECT_MB (256) MiB.
		BENCH_MQFS_OPTS="-o no_page_cache" BENCH_MB=${BENCH_DIRECT_MB:-256} \
			BENCH_TARGETS="passthrough mqfs" sh "$here/throughput.sh" "$BUILD" || status=1
		;;
	*) sh "$here/$b.sh" "$BUILD" || status=1 ;;
	esac
	echo ""
done
exit $status
