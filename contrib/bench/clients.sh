#!/bin/sh
# contrib/bench/clients.sh — Kafka clients against the mount on one node
# (POSIX sh; python3 for the latency client).
#
#   sh contrib/bench/clients.sh [BUILD_DIR]        (BUILD_DIR default: build)
#
# A benchmark, not a test: it prints figures. One daemon with a PLAINTEXT
# listener on 127.0.0.1; in one run, each figure a median of CLIENT_REPS
# repetitions, each repetition into new topics (one partition):
#   produce   CLIENT_RECORDS records of 100 bytes (99-byte values, so the
#             same 100-byte lines in the line view): librdkafka
#             (BUILD/rdk_perf, batching as librdkafka's defaults) with
#             acks=1 and acks=all, against the same records written
#             through the mount by dd bs=1M into MNT/<topic>/0 (a write
#             returns once its records are committed); records/s and the
#             ratio to the mount.
#   consume   the records read back: librdkafka (assign at offset 0,
#             Fetch) against dd bs=1M of the partition file; records/s and
#             the ratio to the mount.
#   latency   CLIENT_LAT_RECORDS records, one at a time: a librdkafka
#             producer (acks=all, each delivered before the next) to a
#             reader parked on MNT/lat/.groups/bench/consume (latency.py
#             rdkafka), and as the baseline the same reader with the
#             producer writing to the mount (latency.py mqfs); p50, p99.
#
# Environment:
#   CLIENT_RECORDS=200000   CLIENT_REPS=3   CLIENT_LAT_RECORDS=5000
#   BENCH_DIR=$TMPDIR or /tmp

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=clients
CLIENT_RECORDS=${CLIENT_RECORDS:-200000}
CLIENT_REPS=${CLIENT_REPS:-3}
CLIENT_LAT_RECORDS=${CLIENT_LAT_RECORDS:-5000}

bench_build "${1:-build}"
PERF=$BUILD/rdk_perf
[ -x "$PERF" ] || die "$PERF missing (make $BUILD/rdk_perf; make bench builds it)"
command -v python3 >/dev/null 2>&1 || die "python3 is needed"
[ -c /dev/fuse ] || die "/dev/fuse missing"
bench_tmp mqfs-clients
MNT=$tmp/mnt
PORT=$(free_port)
B=127.0.0.1:$PORT
printf 'listeners=PLAINTEXT://127.0.0.1:%s\n' "$PORT" >"$tmp/server.properties"
mount_daemon "$MNT" "$tmp/daemon.log" "$BUILD/mqfs" -f --data "$tmp/data" \
	--config "$tmp/server.properties" "$MNT" ||
	die "mount did not come up: $(tail -n 3 "$tmp/daemon.log")"

records "$CLIENT_RECORDS" "$tmp/src"
mb=$(awk -v n="$CLIENT_RECORDS" 'BEGIN { printf "%d", (n * 100 + 1048575) / 1048576 }')

# seconds_of OUTPUT: the S of "records N seconds S".
seconds_of() {
	printf '%s\n' "$1" | awk '/^records/ { print $4 }'
}
: >"$tmp/p1.t"
: >"$tmp/pall.t"
: >"$tmp/pmnt.t"
: >"$tmp/c.t"
: >"$tmp/cmnt.t"
for r in $(seq 1 "$CLIENT_REPS"); do
	mkdir "$MNT/a1_$r" "$MNT/aall_$r" "$MNT/m_$r" || die "mkdir failed"
	out=$(timeout 300 "$PERF" -b "$B" produce "a1_$r" "$CLIENT_RECORDS" 1) ||
		die "rdk_perf produce acks=1 failed"
	seconds_of "$out" >>"$tmp/p1.t"
	out=$(timeout 300 "$PERF" -b "$B" produce "aall_$r" "$CLIENT_RECORDS" all) ||
		die "rdk_perf produce acks=all failed"
	seconds_of "$out" >>"$tmp/pall.t"
	a=$(now)
	dd if="$tmp/src" of="$MNT/m_$r/0" bs=1M status=none || die "mount write failed"
	b=$(now)
	elapsed "$a" "$b" >>"$tmp/pmnt.t"
	out=$(timeout 300 "$PERF" -b "$B" consume "a1_$r" "$CLIENT_RECORDS") ||
		die "rdk_perf consume failed"
	seconds_of "$out" >>"$tmp/c.t"
	a=$(now)
	dd if="$MNT/a1_$r/0" of=/dev/null bs=1M count="$mb" status=none || die "mount read failed"
	b=$(now)
	elapsed "$a" "$b" >>"$tmp/cmnt.t"
done

rate() {   # rate SECONDS: records/s
	awk -v n="$CLIENT_RECORDS" -v s="$1" 'BEGIN { printf "%.0f", n / s }'
}
ratio() {  # ratio SECONDS_MOUNT SECONDS_CLIENT: client rate / mount rate
	awk -v m="$1" -v c="$2" 'BEGIN { printf "%.2f", m / c }'
}
p1=$(median <"$tmp/p1.t")
pall=$(median <"$tmp/pall.t")
pmnt=$(median <"$tmp/pmnt.t")
c=$(median <"$tmp/c.t")
cmnt=$(median <"$tmp/cmnt.t")
say "$CLIENT_RECORDS records of 100 bytes, medians of $CLIENT_REPS runs (records/s; x the mount):"
say "  produce  librdkafka acks=1    $(rate "$p1")  x$(ratio "$pmnt" "$p1")"
say "  produce  librdkafka acks=all  $(rate "$pall")  x$(ratio "$pmnt" "$pall")"
say "  produce  mount dd bs=1M       $(rate "$pmnt")"
say "  consume  librdkafka           $(rate "$c")  x$(ratio "$cmnt" "$c")"
say "  consume  mount dd bs=1M       $(rate "$cmnt")"

mkdir "$MNT/lat" "$MNT/lat/.groups/bench" "$MNT/lat2" "$MNT/lat2/.groups/bench" ||
	die "mkdir lat failed"
here=$(dirname "$0")
say "end-to-end latency of one record to a reader of MNT/<topic>/.groups/bench/consume:"
out=$(timeout 600 python3 "$here/latency.py" rdkafka "$PERF" "$B" lat \
	"$MNT/lat/.groups/bench/consume" "$CLIENT_LAT_RECORDS") || die "latency (rdkafka) failed"
say "  librdkafka producer  $out"
out=$(timeout 600 python3 "$here/latency.py" mqfs "$MNT/lat2/0" \
	"$MNT/lat2/.groups/bench/consume" "$CLIENT_LAT_RECORDS") || die "latency (mount) failed"
say "  mount writer         $out"
