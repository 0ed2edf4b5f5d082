#!/bin/sh
# t_readers.sh — readers of partition files kept open while the log moves
# under them. A reader opened through the page cache reads ESTALE at the
# positions every later removal takes, not only the first (the pages it
# cached between two retention runs are dropped by the second); a reader
# of a topic deleted meanwhile reads ENOENT, at positions it had read
# (cached) as much as elsewhere, never the deleted records.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
cat > "$MQ_TMP/server.properties" <<EOF
log.retention.check.interval.ms=200
log.segment.delete.delay.ms=0
EOF
mq_mount --config "$MQ_TMP/server.properties"

WAIT='i=0; while [ $i -lt 150 ]; do if eval "$1"; then exit 0; fi; sleep 0.1; i=$((i + 1)); done; exit 1'
# log_start T: the log start offset of T's partition 0.
log_start() {
	mq_run awk 'NR==2{print $2}' "$MNT/$1/.state"
}

# preader FILE FIFO OUT: a python reader of FILE, opened read-only (through
# the page cache) before anything else; it reads the positions given one a
# line on FIFO ("OFF LEN"), writing "OFF data" or "OFF errno NAME" to OUT,
# and "done N" after the N-th request, until "quit".
cat > "$MQ_TMP/preader.py" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
out = open(sys.argv[3], "a", buffering=1)
n = 0
with open(sys.argv[2]) as cmds:
    for line in cmds:
        if line.strip() == "quit":
            break
        off, size = (int(x) for x in line.split())
        try:
            out.write("%d %s\n" % (off, os.pread(fd, size, off).decode()))
        except OSError as e:
            out.write("%d errno %s\n" % (off, errno.errorcode[e.errno]))
        n += 1
        out.write("done %d\n" % n)
EOF
# ask N OFF LEN: the reader reads LEN bytes at OFF, its N-th request; the
# line it wrote for it is printed.
ask() {
	echo "$2 $3" >&8
	mq_run sh -c "$WAIT" sh "grep -qx 'done $1' '$MQ_TMP/pr.out'" || echo "no answer"
	awk -v off="$2" '$1 == off { l = $0 } END { print l }' "$MQ_TMP/pr.out"
}

# ---- two retention runs -------------------------------------------------
# 40 writes of 100 records, each write a batch, 1024-byte segments: every
# batch a segment of 1000 bytes of lines ("rN-MMMM\n" is 8 bytes, 9 from r10).
mkdir "$MNT/r"
printf 'segment.bytes=1024\n' > "$MNT/r/.config"
: > "$MQ_TMP/r.exp"
i=1
while [ $i -le 40 ]; do
	awk -v w=$i 'BEGIN { for (r = 1; r <= 100; r++) printf "r%d-%04d\n", w, r }' \
		>> "$MQ_TMP/r.exp"
	awk -v w=$i 'BEGIN { for (r = 1; r <= 100; r++) printf "r%d-%04d\n", w, r }' \
		> "$MNT/r/0"
	i=$((i + 1))
done
expect_same "40 batches written" "$MQ_TMP/r.exp" "$MNT/r/0"
mkfifo "$MQ_TMP/pr.fifo"
: > "$MQ_TMP/pr.out"
mq_bg python3 "$MQ_TMP/preader.py" "$MNT/r/0" "$MQ_TMP/pr.fifo" "$MQ_TMP/pr.out"
reader=$MQ_LAST_PID
exec 8> "$MQ_TMP/pr.fifo"
expect_eq "the reader opened through the cache reads position 0" "0 r1-0001" \
	"$(ask 1 0 8)"
# About 1575 bytes on disk a segment: some 20 segments stay.
echo 'retention.bytes=33000' > "$MNT/r/.config"
# The daemon logs the deletion after the mount has dropped the pages.
expect_ok "retention deletes segments of r" sh -c "$WAIT" sh \
	"[ \$(grep -c 'topic r partition 0: retention deleted' '$LOG') -ge 1 ]"
expect_eq "the first removal: ESTALE at a removed position" "0 errno ESTALE" "$(ask 2 0 8)"
# Position 20000 (r21-...) is still there: read, cached.
pos=$(head -n 2000 "$MQ_TMP/r.exp" | wc -c)
expect_eq "a position still there is read" "$pos r21-0001" "$(ask 3 "$pos" 8)"
echo 'retention.bytes=5000' > "$MNT/r/.config"
expect_ok "retention deletes more segments of r" sh -c "$WAIT" sh \
	"[ \$(grep -c 'topic r partition 0: retention deleted' '$LOG') -ge 2 ]"
expect_eq "the second removal: ESTALE where the reader had cached the removed records" \
	"$pos errno ESTALE" "$(ask 4 "$pos" 8)"
end=$(head -n 3990 "$MQ_TMP/r.exp" | wc -c)
expect_eq "a position still there is read after both" "$end r40-0091" "$(ask 5 "$end" 9)"
echo quit >&8
exec 8>&-
mq_wait "$reader"
expect_eq "the reader is done" 0 "$MQ_RC"
mq_run cat "$MNT/r/0" > "$MQ_TMP/r.cat"
tail -n +"$(($(log_start r) + 1))" "$MQ_TMP/r.exp" > "$MQ_TMP/r.kept"
expect_same "cat after both: the records kept" "$MQ_TMP/r.kept" "$MQ_TMP/r.cat"

# ---- a topic deleted under its readers -----------------------------------
mkdir "$MNT/d"
awk 'BEGIN { for (r = 1; r <= 2000; r++) printf "del-%05d\n", r }' > "$MNT/d/0"
: > "$MQ_TMP/pr.out"
mq_bg python3 "$MQ_TMP/preader.py" "$MNT/d/0" "$MQ_TMP/pr.fifo" "$MQ_TMP/pr.out"
reader=$MQ_LAST_PID
exec 8> "$MQ_TMP/pr.fifo"
expect_eq "the reader reads position 0" "0 del-00001" "$(ask 1 0 9)"
expect_eq "and position 100" "100 del-00011" "$(ask 2 100 9)"
expect_ok "rmdir d" rmdir "$MNT/d"
expect_eq "deleted: ENOENT at a position it had read" "0 errno ENOENT" "$(ask 3 0 9)"
expect_eq "deleted: ENOENT at another it had read" "100 errno ENOENT" "$(ask 4 100 9)"
expect_eq "deleted: ENOENT at the end" "19990 errno ENOENT" "$(ask 5 19990 9)"
echo quit >&8
exec 8>&-
mq_wait "$reader"
expect_eq "the reader is done" 0 "$MQ_RC"
expect_ok "the refusals are logged" grep -q 'd/0: refused: the topic was deleted' "$LOG"

mq_umount
mq_done
