#!/bin/sh
# contrib/bench/run.sh — run the mqfs benchmarks (POSIX sh).
#
#   sh contrib/bench/run.sh [BUILD_DIR]          (make bench)
#
# Prints a header describing the machine, then runs each benchmark script.
# Benchmarks print figures; they are not pass/fail tests. Settings are
# environment variables documented in each script (throughput.sh: BENCH_MB,
# BENCH_REPS, BENCH_DIR, BENCH_TARGETS, BENCH_DROP_CACHES, BENCH_OP_TIMEOUT).

BUILD=${1:-build}
here=$(cd "$(dirname "$0")" && pwd -P) || exit 1

cpu=$(awk -F': *' '/^model name/ { print $2; exit }' /proc/cpuinfo 2>/dev/null)
[ -n "$cpu" ] || cpu=$(uname -m)
mem=$(awk '/^MemTotal:/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo 2>/dev/null)
fuse=$(pkg-config --modversion fuse3 2>/dev/null || echo unknown)
rev=$(git -C "$here" rev-parse --short HEAD 2>/dev/null || echo none)
dirty=$(git -C "$here" status --porcelain 2>/dev/null | head -n 1)

echo "mqfs benchmarks"
echo "  date:    $(date '+%Y-%m-%d %H:%M:%S %z')"
echo "  host:    $(uname -n)"
echo "  kernel:  $(uname -srm)"
echo "  cpu:     $cpu ($(nproc 2>/dev/null || echo '?') online)"
echo "  memory:  $mem"
echo "  libfuse: $fuse; /proc/sys/fs/fuse/max_pages_limit: $(cat /proc/sys/fs/fuse/max_pages_limit 2>/dev/null || echo n/a)"
echo "  build:   $BUILD (git $rev${dirty:+, uncommitted changes})"
echo ""

if [ ! -c /dev/fuse ]; then
	echo "bench: /dev/fuse missing: only the plain-file target can run"
	BENCH_TARGETS=${BENCH_TARGETS:-plain}
	export BENCH_TARGETS
fi

BENCHES="throughput latency smallwrites"      # add further contrib/bench/<name>.sh here
status=0
for b in $BENCHES; do
	echo "=== $b"
	sh "$here/$b.sh" "$BUILD" || status=1
	echo ""
done
exit $status
