#!/bin/sh
# contrib/bench/closescan.sh — one process closing many descriptors with
# unfinished lines (POSIX sh).
#
#   sh contrib/bench/closescan.sh [BUILD_DIR]        (BUILD_DIR default: build)
#
# A benchmark, not a test: it prints figures. One process opens N
# descriptors of partition files (N opens of one file, and N opens shared
# by CLOSE_TOPICS topics' partitions 0), writes a line through each, and closes
# them one after another: the seconds its closes take with an unfinished
# line in each (each close asks whether the process still holds the file:
# README "Records are lines") and with whole lines ("x\n": no question),
# and with the same lines through as many descriptors of a plain file in
# the benchmark's temp dir, and the ratios of the first to the other two.
# A close with an unfinished line reads the process's
# /proc/PID/fd once and what it kept later (fs/fdheld.c): the ratio stays
# flat as N grows. mqfs_fd_table_scans_total shows the readings.
# Times by the process's monotonic clock around its closes; medians over
# BENCH_REPS repetitions.
#
# Environment:
#   CLOSE_NS="1000 2000 8000"  descriptors per run
#   CLOSE_TOPICS=200           topics of the second row
#   BENCH_REPS=3
#   BENCH_DIR=$TMPDIR or /tmp

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=closescan
CLOSE_NS=${CLOSE_NS:-1000 2000 8000}
CLOSE_TOPICS=${CLOSE_TOPICS:-200}
BENCH_REPS=${BENCH_REPS:-3}
for v in $CLOSE_NS "$CLOSE_TOPICS" "$BENCH_REPS"; do
	case $v in '' | *[!0-9]* | 0) die "CLOSE_NS, CLOSE_TOPICS, BENCH_REPS: positive integers" ;; esac
done
bench_build "${1:-build}"
[ -x "$BUILD/mqfs" ] || die "$BUILD/mqfs not built"
command -v python3 >/dev/null 2>&1 || { say "closescan: python3 missing: SKIPPED"; exit 0; }
[ -c /dev/fuse ] || { say "closescan: /dev/fuse missing: SKIPPED"; exit 0; }
bench_tmp mqfs-closescan

# closes.py MNT DIRS LINE N: N descriptors of the DIRS' partitions 0 in
# turn (DIRS separated by commas; MNT/DIR/0 a plain file for the plain
# row), LINE through each, closes timed.
cat > "$tmp/closes.py" <<'EOF'
import os, resource, sys, time
mnt, dirs, line, n = sys.argv[1], sys.argv[2].split(','), sys.argv[3], int(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if soft < n + 64:
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, n + 64), hard))
paths = ['%s/%s/0' % (mnt, dirs[i % len(dirs)]) for i in range(n)]
fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
data = line.encode().decode('unicode_escape').encode()
for fd in fds:
    os.write(fd, data)
t0 = time.monotonic()
for fd in fds:
    os.close(fd)
print("%.6f" % (time.monotonic() - t0))
EOF
mount_daemon "$tmp/mq" "$tmp/mq.log" "$BUILD/mqfs" -f --data "$tmp/data" "$tmp/mq" ||
	die "mqfs did not mount: $(tail -n 3 "$tmp/mq.log")"

i=0
all=""
while [ "$i" -lt "$CLOSE_TOPICS" ]; do
	mkdir "$tmp/mq/d$i" || die "mkdir d$i failed"
	all="$all${all:+,}d$i"
	i=$((i + 1))
done
mkdir "$tmp/mq/one" "$tmp/plain"
: > "$tmp/plain/0"

scans() { awk '$1 == "mqfs_fd_table_scans_total" { n = $2 } END { print n + 0 }' "$tmp/mq/.metrics"; }

# closes ROOT DIRS LINE N — median seconds of N closes.
closes() {
	: > "$tmp/t"
	_r=1
	while [ "$_r" -le "$BENCH_REPS" ]; do
		python3 "$tmp/closes.py" "$1" "$2" "$3" "$4" >> "$tmp/t" || die "closes failed"
		_r=$((_r + 1))
	done
	median < "$tmp/t"
}

say "N closes by one process, each descriptor with a line written, median of $BENCH_REPS: seconds"
say "(unfinished: x without newline; whole: x and newline; plain: x into a plain file)"
printf '  %-6s %-11s %10s %10s %10s %8s %8s %8s\n' N files unfinished whole plain "/whole" "/plain" readings
for n in $CLOSE_NS; do
	tp=$(closes "$tmp" plain 'x' "$n")
	for what in one all; do
		if [ "$what" = one ]; then dirs=one; label="one"; else dirs=$all; label="$CLOSE_TOPICS topics"; fi
		s0=$(scans)
		tu=$(closes "$tmp/mq" "$dirs" 'x' "$n")
		s1=$(scans)
		tw=$(closes "$tmp/mq" "$dirs" 'x\n' "$n")
		printf '  %-6s %-11s %10.3f %10.3f %10.3f %8.2f %8.1f %8s\n' "$n" "$label" "$tu" "$tw" \
			"$tp" "$(echo "$tu / $tw" | bc -l)" "$(echo "$tu / $tp" | bc -l)" \
			"$(((s1 - s0) / BENCH_REPS))"
	done
done
unmount "$tmp/mq" "$DPID"
