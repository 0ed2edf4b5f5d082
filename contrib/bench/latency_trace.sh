#!/bin/sh
# contrib/bench/latency_trace.sh — where the one-record latency to a
# consume reader goes: the run of latency.sh under the scheduler's trace
# (perf sched), per thread hand-off (POSIX sh; perf and python3; root, or
# kernel.perf_event_paranoid=-1, for the scheduler's tracepoints).
#
#   sh contrib/bench/latency_trace.sh [BUILD_DIR]    (BUILD_DIR default: build)
#
# A diagnostic, not a test. A record's way to the reader is a chain of
# wake-ups: the writer's write() wakes a daemon worker blocked in
# /dev/fuse's read (on the io_uring transport, a ring thread of the
# writer's CPU); that worker appends, moves the high watermark and,
# on the same thread, answers the parked consume read, which wakes the
# reader; then the writer's reply wakes the writer, and the reader's
# next read wakes a worker again (unless one is running and takes it).
# Each wake-up waits for a core: the scheduler's "sch delay", from the
# wake-up to running. This prints, for the daemon's FUSE workers, its
# other threads (none is on a record's way on a single node), the reader
# (lat-reader) and the writer (lat-writer): how many times each was
# switched in per record, and their wait for a core at each switch-in
# (p50, p99, max, and how many waited over 0.5 ms), beside latency.py's
# own figures and the machine's load.
#
# Environment: BENCH_LAT_RECORDS=5000, BENCH_DIR=$TMPDIR or /tmp,
# BENCH_MQFS_OPTS (extra mqfs options).

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=latency_trace
BENCH_LAT_RECORDS=${BENCH_LAT_RECORDS:-5000}

bench_build "${1:-build}"
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the timing client"
command -v perf >/dev/null 2>&1 || die "perf is needed (Debian: linux-perf)"
[ -c /dev/fuse ] || die "/dev/fuse missing"
bench_tmp mqfs-lattrace
MNT=$tmp/mnt
# shellcheck disable=SC2086 # BENCH_MQFS_OPTS is a list of options
mount_daemon "$MNT" "$tmp/daemon.log" "$BUILD/mqfs" -f --data "$tmp/data" $BENCH_MQFS_OPTS "$MNT" ||
	die "mount did not come up: $(tail -n 3 "$tmp/daemon.log")"
dpid=$DPID
mkdir "$MNT/lat" "$MNT/lat/.groups/bench" || die "mkdir failed"

say "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
perf sched record -q -o "$tmp/sched.data" -- timeout 300 python3 "$(dirname "$0")/latency.py" \
	mqfs "$MNT/lat/0" "$MNT/lat/.groups/bench/consume" "$BENCH_LAT_RECORDS" \
	>"$tmp/lat.out" 2>"$tmp/perf.err" || die "perf sched record failed: $(tail -n 3 "$tmp/perf.err")"
say "latency.py: $(cat "$tmp/lat.out")"
perf sched timehist -i "$tmp/sched.data" >"$tmp/timehist" 2>/dev/null ||
	die "perf sched timehist failed"

# timehist lines: time, [cpu], task (comm[tid/pid] or comm[pid]), wait
# time, sch delay, run time (ms).
awk -v dpid="$dpid" -v n="$BENCH_LAT_RECORDS" '
NR > 3 {
	task = $3
	# libfuse workers keep the name of the process, the io_uring
	# transport'"'"'s threads are mqfs-ringN; the broker names its other
	# threads (mqfs-sched, mqfs-cleaner, ...).
	if (task ~ "^mqfs\\[[0-9]+/" dpid "\\]$" || task ~ "^mqfs-ring[0-9]*\\[[0-9]+/" dpid "\\]$") role = "daemon FUSE workers"
	else if (task ~ "/" dpid "\\]$") role = "daemon, other threads"
	else if (task ~ /^lat-reader\[/) role = "reader"
	else if (task ~ /^lat-writer\[/) role = "writer"
	else next
	d = $5 * 1000
	c[role]++
	v[role, c[role]] = d
	if (d > 500) big[role]++
}
function pct(role, p,   k, i, j, t, a) {
	k = c[role]
	for (i = 1; i <= k; i++) a[i] = v[role, i]
	for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
	i = int(k * p / 100); if (i < 1) i = 1; if (i > k) i = k
	return a[i]
}
END {
	printf "%-22s %12s %10s %10s %10s %10s\n", "thread", "switch-ins", "per record", "wait p50", "wait p99", "wait max"
	split("daemon FUSE workers|daemon, other threads|reader|writer", roles, "|")
	for (r = 1; r <= 4; r++) {
		role = roles[r]
		if (!c[role]) { printf "%-22s (not seen)\n", role; continue }
		printf "%-22s %12d %10.2f %8.0f us %8.0f us %8.0f us  (%d over 0.5 ms)\n", role, c[role], c[role] / n,
			pct(role, 50), pct(role, 99), pct(role, 100), big[role]
	}
}' "$tmp/timehist"
exit 0
