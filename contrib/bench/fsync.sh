#!/bin/sh
# contrib/bench/fsync.sh — durable writes: write() + fsync() per record
# (POSIX sh).
#
#   sh contrib/bench/fsync.sh [BUILD_DIR]        (BUILD_DIR default: build)
#
# A benchmark, not a test: it prints figures. In one run:
#   one writer     FSYNC_RECORDS records of 100 bytes, each its own write()
#                  and fsync() (python's os.write and os.fsync), into a
#                  plain file in the benchmark's temp dir and into an mqfs
#                  partition file whose data directory is on the same
#                  filesystem: durable records/s, and mqfs's rate as a
#                  percentage of the plain file's.
#   4 writers      the same records shared by 4 concurrent writers, each
#                  with its own descriptor, fsync after every record, timed
#                  from a barrier after their opens to the last one's end,
#                  through the partition file, then two through it and two
#                  through the topic's .produce (one partition): durable
#                  records/s, and mqfs's gain over one writer ("x one").
#                  The kernel holds a FUSE inode's lock across write and
#                  fsync; mqfs gives each writer of a partition file an
#                  inode of its own (fs/inode.h), so their fsyncs reach the
#                  daemon together and share fdatasyncs (group commit),
#                  as a plain file's share journal commits.
# Times by the writers' monotonic clock; medians over BENCH_REPS
# repetitions, with their spread (min-max of the rates).
#
# Environment:
#   FSYNC_RECORDS=4000   records per run
#   BENCH_REPS=3
#   BENCH_DIR=$TMPDIR or /tmp  (on the filesystem under test: not tmpfs)

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=fsync
FSYNC_RECORDS=${FSYNC_RECORDS:-4000}
BENCH_REPS=${BENCH_REPS:-3}
for v in "$FSYNC_RECORDS" "$BENCH_REPS"; do
	case $v in '' | *[!0-9]* | 0) die "FSYNC_RECORDS, BENCH_REPS: positive integers" ;; esac
done
bench_build "${1:-build}"
[ -x "$BUILD/mqfs" ] || die "$BUILD/mqfs not built"
command -v python3 >/dev/null 2>&1 || { say "fsync: python3 missing: SKIPPED"; exit 0; }
[ -c /dev/fuse ] || { say "fsync: /dev/fuse missing: SKIPPED"; exit 0; }
bench_tmp mqfs-fsync
fstype=$(df -PT "$tmp" | awk 'NR == 2 { print $2 }')

records "$FSYNC_RECORDS" "$tmp/src"
# writers.py SRC N FILE [FILE2]: N processes share the records of SRC,
# each its own write() and fsync() per record, the odd ones into FILE2 if
# given. Each opens its file, then all start together (a barrier), so
# that the figure is the writers' own, not python's start-up: prints the
# seconds from the first start to the last end.
cat > "$tmp/writers.py" <<'EOF'
import multiprocessing as mp, os, sys, time
src, n, files = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
with open(src, "rb") as f:
    recs = f.read().splitlines(True)
per = len(recs) // n

def writer(i, barrier, q):
    fd = os.open(files[i % len(files)], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    barrier.wait()
    t0 = time.monotonic()
    for r in recs[i * per:(i + 1) * per]:
        os.write(fd, r)
        os.fsync(fd)
    q.put((t0, time.monotonic()))
    os.close(fd)

barrier, q = mp.Barrier(n), mp.Queue()
procs = [mp.Process(target=writer, args=(i, barrier, q)) for i in range(n)]
for p in procs:
    p.start()
times = [q.get() for _ in procs]
for p in procs:
    p.join()
    if p.exitcode != 0:
        sys.exit(1)
print("%.6f" % (max(t[1] for t in times) - min(t[0] for t in times)))
EOF
mount_daemon "$tmp/mq" "$tmp/mq.log" "$BUILD/mqfs" -f --data "$tmp/data" "$tmp/mq" ||
	die "mqfs did not mount: $(tail -n 3 "$tmp/mq.log")"

# fsync_writers N TARGET [TARGET2] — N concurrent writers on their shares
# of the records, the odd ones into TARGET2 if given; prints seconds.
fsync_writers() {
	python3 "$tmp/writers.py" "$tmp/src" "$@" || die "writers into $2 failed"
}

# rates FILE — the records/s of each time in FILE, one a line.
rates() {
	awk -v n="$FSYNC_RECORDS" '{ printf "%.1f\n", n / $1 }' "$1"
}

rep_n=0
# measure1 ROW N [SECOND] — one rep of N writers into a plain file and
# into an mqfs partition (the odd writers through the partition's SECOND
# file when given), its times added to $tmp/t.plain.ROW and
# $tmp/t.mq.ROW. The plain file has one name: a second name would be a
# link to the same inode.
measure1() {
	rep_n=$((rep_n + 1))
	rm -f "$tmp/plain"
	fsync_writers "$2" "$tmp/plain" >> "$tmp/t.plain.$1"
	mkdir "$tmp/mq/f$rep_n"
	fsync_writers "$2" "$tmp/mq/f$rep_n/0" ${3:+"$tmp/mq/f$rep_n/$3"} >> "$tmp/t.mq.$1"
	_got=$(wc -l < "$tmp/mq/f$rep_n/0")
	[ "$_got" -eq $((FSYNC_RECORDS / $2 * $2)) ] ||
		say "  (mqfs: $_got records, expected $((FSYNC_RECORDS / $2 * $2)))"
	rmdir "$tmp/mq/f$rep_n"
}

# row ROW LABEL — one table row from the times of measure ROW.
row() {
	tp=$(median < "$tmp/t.plain.$1")
	tm=$(median < "$tmp/t.mq.$1")
	rates "$tmp/t.plain.$1" > "$tmp/r.plain.$1"
	rates "$tmp/t.mq.$1" > "$tmp/r.mq.$1"
	printf '  %-22s %7.0f (%13s) %7.0f (%13s) %6.1f%%  %5.2fx\n' "$2" \
		"$(echo "$FSYNC_RECORDS / $tp" | bc -l)" "$(spread < "$tmp/r.plain.$1")" \
		"$(echo "$FSYNC_RECORDS / $tm" | bc -l)" "$(spread < "$tmp/r.mq.$1")" \
		"$(echo "100 * $tp / $tm" | bc -l)" "$(echo "$(median < "$tmp/t.mq.one") / $tm" | bc -l)"
}

say "write()+fsync() per 100-byte record, $FSYNC_RECORDS records, $fstype under $BENCH_DIR, median of $BENCH_REPS (spread)"
printf '  %-22s %23s %23s %7s  %6s\n' writers "plain file/s" "mqfs/s" "mqfs %" "x one"
# Each rep runs the three rows in turn, so that their ratios ("x one")
# compare runs minutes apart at most: an fsync of this virtual disk
# takes from 0.3 to 1 ms from one minute to the next.
for _row in one four split; do
	: > "$tmp/t.plain.$_row"
	: > "$tmp/t.mq.$_row"
done
_r=1
while [ "$_r" -le "$BENCH_REPS" ]; do
	measure1 one 1
	measure1 four 4
	measure1 split 4 .produce
	_r=$((_r + 1))
done
row one "1"
row four "4, one file"
row split "4, 0 and .produce"
exit 0
