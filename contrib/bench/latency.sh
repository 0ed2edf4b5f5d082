#!/bin/sh
# contrib/bench/latency.sh — consumer groups: end-to-end latency and
# consume-stream throughput (POSIX sh; python3 for the timing client).
#
#   sh contrib/bench/latency.sh [BUILD_DIR]          (BUILD_DIR default: build)
#
# A benchmark, not a test: prints figures, exits 0 unless nothing could be
# measured.
#   latency     mqfs -f --data DIR MNT; topic latN (1 partition). A reader
#               holds MNT/latN/.groups/bench/consume open (a parked read);
#               a producer writes one 100-byte record at a time to
#               MNT/latN/0, each carrying its send time (CLOCK_MONOTONIC ns);
#               the reader timestamps each arrival (latency.py, the client
#               redis.sh runs against Redis too). write() returns once the
#               record is committed, so the figure is produce + commit +
#               wake + read. p50, p99, p99.9 over BENCH_LAT_RECORDS records,
#               in each of BENCH_REPS runs (a new topic and group each),
#               then each percentile's median over the runs with its
#               spread (min-max).
#   throughput  BENCH_TP_MB MiB of 128-byte lines in topic tp (1 partition),
#               read once as the partition file and once through a group's
#               consume file, each by `dd bs=1M iflag=fullblock count=MB`
#               (the consume stream never ends, so both stop at the size);
#               medians of BENCH_REPS runs (a new group each run).
#
# Environment:
#   BENCH_LAT_RECORDS=10000   BENCH_TP_MB=256   BENCH_REPS=3
#   BENCH_DIR=$TMPDIR or /tmp

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=latency
BENCH_LAT_RECORDS=${BENCH_LAT_RECORDS:-10000}
BENCH_TP_MB=${BENCH_TP_MB:-256}
BENCH_REPS=${BENCH_REPS:-3}

bench_build "${1:-build}"
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the timing client"
[ -c /dev/fuse ] || die "/dev/fuse missing"
bench_tmp mqfs-lat
MNT=$tmp/mnt
mount_daemon "$MNT" "$tmp/daemon.log" "$BUILD/mqfs" -f --data "$tmp/data" "$MNT" ||
	die "mount did not come up: $(tail -n 3 "$tmp/daemon.log")"

# ---- latency ----
# BENCH_REPS runs, each into a topic and group of its own (its reader
# parks before the first record); the tail moves from run to run with the
# machine, so the figure is each percentile's median with its spread.
say "end-to-end latency (write one record to MNT/latN/0 -> read from .groups/bench/consume), $BENCH_REPS runs:"
: > "$tmp/lat.runs"
r=1
while [ $r -le "$BENCH_REPS" ]; do
	mkdir "$MNT/lat$r" "$MNT/lat$r/.groups/bench" || die "mkdir failed"
	timeout 300 python3 "$(dirname "$0")/latency.py" mqfs "$MNT/lat$r/0" \
		"$MNT/lat$r/.groups/bench/consume" "$BENCH_LAT_RECORDS" > "$tmp/lat.out" ||
		die "latency client failed: $(cat "$tmp/lat.out")"
	say "  run $r: $(cat "$tmp/lat.out")"
	cat "$tmp/lat.out" >> "$tmp/lat.runs"
	r=$((r + 1))
done
# "records N  p50 X us  p99 Y us  p99.9 Z us  max W us": field k's values.
lat_field() { awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$tmp/lat.runs"; }
line="median of $BENCH_REPS runs:"
for k in p50 p99 p99.9 max; do
	line="$line  $k $(lat_field $k | median) us ($(lat_field $k | spread))"
done
say "$line"

# ---- throughput ----
mkdir "$MNT/tp" || die "mkdir tp failed"
python3 -c '
import sys
mb = int(sys.argv[1])
line = lambda i: (b"%010d " % i) + b"x" * 116 + b"\n"
with open(sys.argv[2], "wb") as f:
    for i in range(mb * 8192):
        f.write(line(i))' "$BENCH_TP_MB" "$tmp/src" || die "source generation failed"
dd if="$tmp/src" of="$MNT/tp/0" bs=1M status=none || die "writing tp failed"
rm -f "$tmp/src"
: > "$tmp/file.t"
: > "$tmp/consume.t"
r=1
while [ $r -le "$BENCH_REPS" ]; do
	a=$(now)
	timeout 600 dd if="$MNT/tp/0" of=/dev/null bs=1M iflag=fullblock count="$BENCH_TP_MB" status=none ||
		die "reading the partition file failed"
	b=$(now)
	echo "$a $b" | awk -v mb="$BENCH_TP_MB" '{ print mb / ($2 - $1) }' >> "$tmp/file.t"
	mkdir "$MNT/tp/.groups/g$r" || die "mkdir group failed"
	a=$(now)
	timeout 600 dd if="$MNT/tp/.groups/g$r/consume" of=/dev/null bs=1M iflag=fullblock \
		count="$BENCH_TP_MB" status=none || die "reading the consume stream failed"
	b=$(now)
	echo "$a $b" | awk -v mb="$BENCH_TP_MB" '{ print mb / ($2 - $1) }' >> "$tmp/consume.t"
	r=$((r + 1))
done
f=$(median < "$tmp/file.t")
c=$(median < "$tmp/consume.t")
say ""
say "read throughput, $BENCH_TP_MB MiB of 128-byte lines, median of $BENCH_REPS:"
printf '  partition file (dd bs=1M)   %8.1f MiB/s\n' "$f"
printf '  consume stream (dd bs=1M)   %8.1f MiB/s  (%.0f%% of the partition file)\n' "$c" \
	"$(echo "$c $f" | awk '{ print 100 * $1 / $2 }')"
exit 0
