#!/bin/sh
# t_readers.sh — a reader of a partition file kept open while the log
# moves under it, on a single node and on a cluster follower's mount
# (ZooKeeper and three brokers). Opened through
# the page cache, it reads ESTALE at the positions every later removal
# takes, not only the first (the pages it cached between two retention
# runs are dropped by the second), and the positions still there as
# before; once the topic is deleted (on the follower: through the
# leader's mount) it reads ENOENT, at positions it had read (cached) as
# much as elsewhere, never the deleted records (a mapping of it gets
# SIGBUS). After retention st_size stays the end position, and cat
# returns the records kept.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup
cat > "$MQ_TMP/server.properties" <<EOF
log.retention.check.interval.ms=200
log.segment.delete.delay.ms=0
EOF
mq_mount --config "$MQ_TMP/server.properties"

WAIT='i=0; while [ $i -lt 200 ]; do if eval "$1"; then exit 0; fi; sleep 0.1; i=$((i + 1)); done; exit 1'

# preader FILE FIFO OUT: a reader of FILE, opened read-only (through the
# page cache) before anything else; it reads the positions given one a
# line on FIFO ("OFF LEN"), writing "OFF data" or "OFF errno NAME" to OUT
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
mkfifo "$MQ_TMP/pr.fifo"
# reader_start FILE: the reader of FILE, its requests counted from 1.
reader_start() {
	: > "$MQ_TMP/pr.out"
	echo 0 > "$MQ_TMP/pr.asked"
	mq_bg python3 "$MQ_TMP/preader.py" "$1" "$MQ_TMP/pr.fifo" "$MQ_TMP/pr.out"
	READER=$MQ_LAST_PID
	exec 8> "$MQ_TMP/pr.fifo"
}
reader_stop() {
	echo quit >&8
	exec 8>&-
	mq_wait "$READER"
	expect_eq "the reader is done" 0 "$MQ_RC"
}
# ask OFF LEN: the reader reads LEN bytes at OFF; what it wrote for it is
# printed. The requests are counted in a file, not a variable: ask runs in
# a command substitution (a subshell), whose count would be lost, and its
# wait would then be met by an earlier request's answer.
ask() {
	_asked=$(($(cat "$MQ_TMP/pr.asked") + 1))
	echo "$_asked" > "$MQ_TMP/pr.asked"
	echo "$1 $2" >&8
	mq_run sh -c "$WAIT" sh "grep -qx 'done $_asked' '$MQ_TMP/pr.out'" || echo "no answer"
	awk -v off="$1" '$1 == off { l = $0 } END { print l }' "$MQ_TMP/pr.out"
}
# removed MNT T N: T's log start on MNT is above N.
removed() {
	[ "$(timeout 5 awk 'NR == 2 { print $2 }' "$1/$2/.state" 2>/dev/null)" -gt "$3" ] \
		2>/dev/null
}
# reads_as OFF LEN WANT: the reader's read of LEN bytes at OFF gives WANT
# (polled: a broker drops the pages after its log start moves, or after
# it removed the topic's name, which each shows first).
reads_as() {
	[ "$(ask "$1" "$2")" = "$3" ]
}

# put40 MNT T: 40 writes of 100 records to T's partition 0 through MNT;
# with 1024-byte segments every write (some 1575 bytes on disk, in batches
# within segment.bytes) spans two segments. The records are in $MQ_TMP/T.exp.
put40() {
	: > "$MQ_TMP/$2.exp"
	_w=1
	while [ $_w -le 40 ]; do
		awk -v w=$_w 'BEGIN { for (r = 1; r <= 100; r++) printf "r%d-%04d\n", w, r }' \
			> "$MQ_TMP/chunk"
		cat "$MQ_TMP/chunk" >> "$MQ_TMP/$2.exp"
		mq_run sh -c 'cat "$1" >> "$2"' sh "$MQ_TMP/chunk" "$1/$2/0"
		_w=$((_w + 1))
	done
}

# removals WMNT RMNT T: a reader of T on RMNT, opened through the page
# cache while every record is there, across two retention runs set
# through WMNT, then the topic's deletion through WMNT.
removals() {
	pos=$(head -n 2000 "$MQ_TMP/$3.exp" | wc -c)       # r21-0001
	end=$(head -n 3990 "$MQ_TMP/$3.exp" | wc -c)       # r40-0091
	size=$(wc -c < "$MQ_TMP/$3.exp")
	reader_start "$2/$3/0"
	expect_eq "$3: the reader reads position 0" "0 r1-0001" "$(ask 0 8)"
	# Some 20 segments of 40 stay: the log start goes to about 1900.
	echo 'retention.bytes=33000' > "$1/$3/.config"
	check "$3: retention deletes segments" poll 20 removed "$2" "$3" 0
	check "$3: the first removal: ESTALE at a removed position" \
		poll 20 reads_as 0 8 "0 errno ESTALE"
	expect_eq "$3: a position still there is read (and cached)" "$pos r21-0001" \
		"$(ask "$pos" 8)"
	echo 'retention.bytes=5000' > "$1/$3/.config"
	check "$3: retention deletes more segments" poll 20 removed "$2" "$3" 2000
	check "$3: the second removal: ESTALE where the reader had cached the removed records" \
		poll 20 reads_as "$pos" 8 "$pos errno ESTALE"
	expect_eq "$3: a position still there is read after both" "$end r40-0091" \
		"$(ask "$end" 9)"
	expect_eq "$3: st_size stays the end position" "$size" \
		"$(mq_run stat -c %s "$2/$3/0")"
	_start=$(timeout 5 awk 'NR == 2 { print $2 }' "$2/$3/.state")
	tail -n +"$((_start + 1))" "$MQ_TMP/$3.exp" > "$MQ_TMP/$3.kept"
	mq_run cat "$2/$3/0" > "$MQ_TMP/$3.cat"
	expect_same "$3: cat returns the records kept" "$MQ_TMP/$3.kept" "$MQ_TMP/$3.cat"
	# That open dropped the pages the kernel had of the file (no
	# keep_cache once records are removed): read into them again.
	expect_eq "$3: the reader reads on" "$end r40-0091" "$(ask "$end" 9)"
	expect_ok "$3: rmdir" rmdir "$1/$3"
	check "$3: deleted: ENOENT at a position the reader had read" \
		poll 30 reads_as "$end" 9 "$end errno ENOENT"
	expect_eq "$3: deleted: ENOENT at another" "$((pos + 10)) errno ENOENT" \
		"$(ask $((pos + 10)) 8)"
	reader_stop
	expect_ok "$3: the refusals are logged" grep -q "$3/0: refused: the topic was deleted" "$LOG"
}

# ---- a single node ------------------------------------------------------
mkdir "$MNT/r"
printf 'segment.bytes=1024\n' > "$MNT/r/.config"
put40 "$MNT" r
expect_same "r: 40 batches written" "$MQ_TMP/r.exp" "$MNT/r/0"
removals "$MNT" "$MNT" r

# A mapping of a file of a topic deleted since: its pages went with the
# topic, so its next access is SIGBUS (the read is ENOENT), never the
# deleted records.
mkdir "$MNT/m"
awk 'BEGIN { for (r = 1; r <= 2000; r++) printf "m-%05d\n", r }' > "$MNT/m/0"
cat > "$MQ_TMP/mapped.py" <<'EOF'
import mmap, os, signal, subprocess, sys
fd = os.open(sys.argv[1] + "/m/0", os.O_RDONLY)
m = mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ)
print(m[:7].decode(), flush=True)
subprocess.run(["rmdir", sys.argv[1] + "/m"], check=True)
pid = os.fork()
if pid == 0:
    print(m[:7].decode(), flush=True)
    os._exit(0)
_, st = os.waitpid(pid, 0)
print(signal.Signals(os.WTERMSIG(st)).name if os.WIFSIGNALED(st) else "no signal")
EOF
expect_eq "a mapping of a deleted topic's file: SIGBUS" "m-00001 SIGBUS" \
	"$(mq_run python3 "$MQ_TMP/mapped.py" "$MNT" | paste -sd' ' -)"
mq_umount

# ---- a cluster follower's mount -----------------------------------------
# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"
CLUSTER_CONF="num.partitions=1
log.segment.bytes=1024
log.retention.check.interval.ms=200
log.segment.delete.delay.ms=0"
zk_cluster_start
cluster_start3
t_make3
put40 "$MQ_TMP/mnt$L" t
reads_exp() {
	timeout 10 cat "$1/t/0" 2>/dev/null | cmp -s - "$MQ_TMP/t.exp"
}
check "the follower's mount (mnt$F) reads them" poll 20 reads_exp "$MQ_TMP/mnt$F"
removals "$MQ_TMP/mnt$L" "$MQ_TMP/mnt$F" t
mq_done
