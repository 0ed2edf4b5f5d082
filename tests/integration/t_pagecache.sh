#!/bin/sh
# t_pagecache.sh — partition files read through the kernel's page cache
# (the default; -o no_page_cache sends every read to the daemon):
# a second cat gives the same bytes without a read reaching the daemon; a
# file that grows shows the new records to cat and tail -f (never NUL bytes
# from the page cached at the old end, never a partial line past the high
# watermark); after retention and compaction remove records, cat returns
# what a direct-I/O read returns, a reader opened through the cache
# before gets ESTALE at a removed position, never the cached bytes of
# removed records, and a caught-up tail -f goes on past retention and
# compaction; three readers that pread the tail beside a writer get
# every read whole and without NUL bytes, and leave none in the cache.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
cat > "$MQ_TMP/server.properties" <<EOF
log.retention.check.interval.ms=200
log.cleaner.backoff.ms=200
EOF
mq_mount --config "$MQ_TMP/server.properties"

WAIT='i=0; while [ $i -lt 150 ]; do if eval "$1"; then exit 0; fi; sleep 0.1; i=$((i + 1)); done; exit 1'
# bytes_out: bytes of topic p the daemon has returned to readers so far
# (the page cache's are the kernel's, not counted).
bytes_out() {
	mq_run awk '$1 == "mqfs_bytes_out_total{topic=\"p\"}" { print $2 }' "$MNT/.metrics"
}
# cat_reads OUT: cat of MNT/p/0 into OUT; prints the bytes the daemon
# returned for it (0: all from the page cache).
cat_reads() {
	_r1=$(bytes_out)
	mq_run cat "$MNT/p/0" > "$1"
	_r2=$(bytes_out)
	echo "$((_r2 - _r1))"
}


# ---- a second cat -------------------------------------------------------
mkdir "$MNT/p"
awk 'BEGIN{for(i=1;i<=3000;i++)printf "rec-%05d\n", i}' > "$MQ_TMP/p.exp"
expect_ok "write 3000 records" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/p.exp" "$MNT/p/0"
mq_run cat "$MNT/p/0" > "$MQ_TMP/p.1"
expect_same "first cat: the records" "$MQ_TMP/p.exp" "$MQ_TMP/p.1"
expect_eq "the second cat is served by the page cache" 0 "$(cat_reads "$MQ_TMP/p.2")"
expect_same "second cat: the same bytes" "$MQ_TMP/p.exp" "$MQ_TMP/p.2"
# The kernel reads ahead in 1 MiB requests, as direct I/O does (root only).
dev=$(awk -v m="$MNT" '$5 == m { print $3 }' /proc/self/mountinfo)
if [ "$(id -u)" -eq 0 ]; then
	expect_eq "read-ahead 1 MiB" "1024" "$(cat "/sys/class/bdi/$dev/read_ahead_kb")"
else
	skip "read-ahead 1 MiB" "not root"
fi
expect_eq "grep after wc: same lines" "3000 1" \
	"$(mq_run wc -l < "$MNT/p/0") $(mq_run grep -c '^rec-01234$' "$MNT/p/0")"

# ---- growth -------------------------------------------------------------
# The size (30000 bytes) ends inside a page: the cached last page holds
# zeros past it until the growth invalidates it.
exec 7< "$MNT/p/0"              # a reader open across the appends
echo 'new-1' >> "$MNT/p/0"
printf 'new-1\n' >> "$MQ_TMP/p.exp"
mq_run cat "$MNT/p/0" > "$MQ_TMP/p.3"
expect_same "cat after echo >>: the new record" "$MQ_TMP/p.exp" "$MQ_TMP/p.3"
expect_eq "st_size is what cat returns" "$(wc -c < "$MQ_TMP/p.exp")" "$(stat -c %s "$MNT/p/0")"
# A writer's unfinished line is not a record: not visible, not as zeros.
# (Every close of a descriptor of the writer's file, a forked child's
# too, produces the partial line: the writer is one process that forks
# nothing.)
mkfifo "$MQ_TMP/go"
mq_bg python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, b"half")
open(sys.argv[2], "w").close()
open(sys.argv[3]).read()
os.write(fd, b"-line\n")' "$MNT/p/0" "$MQ_TMP/half.written" "$MQ_TMP/go"
writer=$MQ_LAST_PID
expect_ok "the writer wrote half a line" sh -c "$WAIT" sh "[ -e '$MQ_TMP/half.written' ]"
mq_run cat "$MNT/p/0" > "$MQ_TMP/p.4"
expect_same "a partial line is not seen past the high watermark" "$MQ_TMP/p.exp" "$MQ_TMP/p.4"
mq_run cat <&7 > "$MQ_TMP/p.5"
expect_same "a reader opened before sees the new record" "$MQ_TMP/p.exp" "$MQ_TMP/p.5"
echo go > "$MQ_TMP/go"
mq_wait "$writer"
printf 'half-line\n' >> "$MQ_TMP/p.exp"
mq_run cat <&7 > "$MQ_TMP/p.6"
expect_eq "it goes on with the completed line" "half-line" "$(cat "$MQ_TMP/p.6")"
exec 7<&-
mq_run cat "$MNT/p/0" > "$MQ_TMP/p.7"
expect_same "cat after close: the completed line" "$MQ_TMP/p.exp" "$MQ_TMP/p.7"
expect_eq "no NUL bytes" "0" "$(tr -cd '\000' < "$MQ_TMP/p.7" | wc -c)"

# Growth through another inode (.produce): no write reply of this file
# tells the mount; the stat that shows the new size drops the page that
# held the old end, cached with zeros past it, before the kernel reads it.
exec 7< "$MNT/p/0"
mq_run cat <&7 > /dev/null      # at the end; the last page is cached
echo 'via-produce' > "$MNT/p/.produce"
printf 'via-produce\n' >> "$MQ_TMP/p.exp"
mq_run cat <&7 > "$MQ_TMP/p.9"
expect_eq "a reader open across growth through .produce: the record, no NUL" \
	"via-produce" "$(cat "$MQ_TMP/p.9")"
exec 7<&-

# tail -f polls st_size; each poll's growth comes from the daemon. It
# prints from the start, so no record depends on when it opened the file.
mq_bg sh -c 'exec tail -s 0.1 -c +1 -f "$1" > "$2"' sh "$MNT/p/0" "$MQ_TMP/tail.out"
tailpid=$MQ_LAST_PID
cp "$MQ_TMP/p.exp" "$MQ_TMP/tail.exp"
for i in 1 2 3 4 5; do
	echo "tail-$i" >> "$MNT/p/0"
	echo "tail-$i" >> "$MQ_TMP/tail.exp"
	expect_ok "tail -f sees tail-$i" sh -c "$WAIT" sh "grep -q '^tail-$i\$' '$MQ_TMP/tail.out'"
done
mq_stop "$tailpid"
expect_same "tail -f: every record once, nothing else" "$MQ_TMP/tail.exp" "$MQ_TMP/tail.out"
cp "$MQ_TMP/tail.exp" "$MQ_TMP/p.exp"
mq_run cat "$MNT/p/0" > "$MQ_TMP/p.8"
expect_same "cat after tail -f" "$MQ_TMP/p.exp" "$MQ_TMP/p.8"

# ---- retention ----------------------------------------------------------
mkdir "$MNT/r"
printf 'segment.bytes=1024\nbatch.size=200\n' > "$MNT/r/.config"
awk 'BEGIN{for(i=1;i<=2000;i++)printf "rec-%05d\n", i}' > "$MQ_TMP/r.exp"
expect_ok "write 2000 records" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/r.exp" "$MNT/r/0"
mq_run cat "$MNT/r/0" > "$MQ_TMP/r.1"
expect_same "cat fills the cache" "$MQ_TMP/r.exp" "$MQ_TMP/r.1"
exec 7< "$MNT/r/0"              # opened while every record is there
echo 'retention.bytes=3000' > "$MNT/r/.config"
# The daemon logs the deletion after the mount has dropped the pages.
expect_ok "retention deletes segments" sh -c "$WAIT" sh \
	"grep -q 'topic r partition 0: retention deleted' '$LOG'"
start=$(mq_run awk 'NR==2{print $2}' "$MNT/r/.state")
tail -n +$((start + 1)) "$MQ_TMP/r.exp" > "$MQ_TMP/r.kept"
expect_errno "a reader opened before, at a removed position: ESTALE" ESTALE \
	sh -c 'exec cat <&7'
exec 7<&-
mq_run cat "$MNT/r/0" > "$MQ_TMP/r.3"
expect_same "cat after retention" "$MQ_TMP/r.kept" "$MQ_TMP/r.3"
mq_run dd if="$MNT/r/0" iflag=direct bs=1M 2>/dev/null > "$MQ_TMP/r.4"
expect_same "the same as a direct-I/O read" "$MQ_TMP/r.kept" "$MQ_TMP/r.4"

# tail_start T: a tail -f of T's partition 0 from its first byte, into
# T.out and T.err; tail_goes_on T LINE WHAT: LINE appended reaches it,
# and it printed T.exp exactly, with no error.
tail_start() {
	mq_bg sh -c 'exec tail -s 0.1 -c +1 -f "$1" > "$2" 2> "$3"' sh "$MNT/$1/0" \
		"$MQ_TMP/$1.out" "$MQ_TMP/$1.err"
	tailpid=$MQ_LAST_PID
}
tail_goes_on() {
	echo "$2" >> "$MNT/$1/0"
	echo "$2" >> "$MQ_TMP/$1.exp"
	expect_ok "tail -f goes on after $3" sh -c "$WAIT" sh "grep -qx '$2' '$MQ_TMP/$1.out'"
	mq_stop "$tailpid"
	expect_same "tail -f over $3: every record once" "$MQ_TMP/$1.exp" "$MQ_TMP/$1.out"
	expect_eq "tail -f over $3: no error" "" "$(cat "$MQ_TMP/$1.err")"
}

# A caught-up tail -f whose next page starts with records retention
# removed: the kernel asks for that page whole, and the bytes below the
# log start in it are kept (retention.c), so tail goes on; it failed with
# ESTALE before.
mkdir "$MNT/tr"
printf 'segment.bytes=1024\nbatch.size=200\n' > "$MNT/tr/.config"
tail_start tr
awk 'BEGIN{for(i=1;i<=400;i++)printf "rec-%d\n", i}' > "$MQ_TMP/tr.exp"
expect_ok "write 400 records" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/tr.exp" "$MNT/tr/0"
expect_ok "tail -f has them" sh -c "$WAIT" sh "grep -q '^rec-400\$' '$MQ_TMP/tr.out'"
echo 'retention.bytes=1024' > "$MNT/tr/.config"
expect_ok "retention deletes segments of tr" sh -c "$WAIT" sh \
	"grep -q 'topic tr partition 0: retention deleted' '$LOG'"
trstart=$(mq_run awk 'NR==2{print $2}' "$MNT/tr/.state")
expect_ok "the log start is inside tail's page" [ "$trstart" -gt 0 ]
tail_goes_on tr after-retention retention

# ---- compaction ---------------------------------------------------------
mkdir "$MNT/c"
printf 'key.separator=:\nsegment.bytes=4096\n' > "$MNT/c/.config"
awk 'BEGIN{for(r=1;r<=20;r++)for(k=1;k<=100;k++)printf "k%d:v%d\n", k, r}' > "$MQ_TMP/c.in"
expect_ok "100 keys x 20 writes" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/c.in" "$MNT/c/0"
mq_run cat "$MNT/c/0" > "$MQ_TMP/c.1"
expect_same "cat fills the cache" "$MQ_TMP/c.in" "$MQ_TMP/c.1"
exec 7< "$MNT/c/0"
printf 'cleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\n' > "$MNT/c/.config"
expect_ok "filler rolls the active segment" sh -c \
	'awk "BEGIN{for(i=1;i<=600;i++)printf \"z%d:x\\n\", i}" > "$1"' sh "$MNT/c/0"
expect_ok "compaction leaves one line per key" sh -c "$WAIT" sh \
	"[ \$(dd if='$MNT/c/0' iflag=direct bs=1M 2>/dev/null | grep -c '^k') -eq 100 ]"
expect_ok "the cleaner is done with it" sh -c "$WAIT" sh \
	"grep -q 'topic c partition 0: cleaned' '$LOG'"
mq_run dd if="$MNT/c/0" iflag=direct bs=1M 2>/dev/null > "$MQ_TMP/c.direct"
expect_errno "a reader opened before, at a removed position: ESTALE" ESTALE \
	sh -c 'exec cat <&7'
exec 7<&-
mq_run cat "$MNT/c/0" > "$MQ_TMP/c.3"
expect_same "cat after compaction" "$MQ_TMP/c.direct" "$MQ_TMP/c.3"
expect_eq "newest values once" "100" "$(grep -c '^k[0-9]*:v20$' "$MQ_TMP/c.3")"

# The same with compaction: the cleaner removes records of the page a
# caught-up tail -f reads next (segments smaller than a page); their
# bytes are kept too.
mkdir "$MNT/tc"
printf 'key.separator=:\nsegment.bytes=1024\n' > "$MNT/tc/.config"
tail_start tc
: > "$MQ_TMP/tc.exp"
for r in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
	awk -v r=$r 'BEGIN{for(k=1;k<=10;k++)printf "k%d:v%d\n", k, r}' > "$MQ_TMP/tc.in"
	cat "$MQ_TMP/tc.in" >> "$MQ_TMP/tc.exp"
	cat "$MQ_TMP/tc.in" > "$MNT/tc/0"
done
expect_ok "tail -f has the 200 records" sh -c "$WAIT" sh "grep -q '^k10:v20\$' '$MQ_TMP/tc.out'"
printf 'cleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\n' > "$MNT/tc/.config"
expect_ok "the cleaner removes records of tc" sh -c "$WAIT" sh \
	"grep -q 'topic tc partition 0: cleaned' '$LOG'"
tail_goes_on tc k1:after compaction

# ---- readers that follow the tail while one writer appends ----------------
# One writer appends 60,000 lines, one to five per write(); three readers
# each keep the file open and, whenever fstat shows it grew, pread the new
# tail, until they have it all (60 s at most); each read is checked (the
# counts of reads with NUL bytes, of reads short of the size fstat gave
# and of failed reads, then the NUL bytes of a cat after and whether it
# is right). Segments of 16 KiB: the readers cross a roll every few
# writes. The
# kernel zeroes the rest of the page that holds a size it applies from a
# reply, after it let go of the file's lock: two readers' sizes applied at
# once zeroed a page read again in between, and reads returned NUL bytes
# where the newest records are (about 1 read in 5,000 of three such
# readers written in C, before the mount gave the kernel its sizes
# itself: cache.c, rule 2a); a cat afterwards showed them too before the
# kernel dropped the pages of each size it applies. Reads short of what
# fstat gave (thousands here before rule 2a) came from the kernel's size
# lagging behind the one shown (a reply it discarded), and a few from a
# cursor that missed the newest .lines entries (cursor.c); failed reads
# (ESTALE) from a cursor that stepped over the last batches of a segment
# rolled while it looked (cursor.c).
# tail_readers TOPIC: the writer and the three readers on TOPIC/0; prints
# the counts.
tail_readers() {
	timeout -k 5 120 python3 - "$MNT/$1/0" <<'PY'
import os, sys, time, multiprocessing as mp
path = sys.argv[1]
N = 60000
def line(i): return b'L%07d-%s\n' % (i, b'abcdefghij'[:i % 11] * (i % 7))
TOTAL = sum(len(line(j)) for j in range(N))
def writer():
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    i = 0
    while i < N:
        k = 1 + i % 5
        os.write(fd, b''.join(line(j) for j in range(i, min(N, i + k))))
        i += k
def reader(bad):
    fd = os.open(path, os.O_RDONLY)
    last, end = 0, time.time() + 60
    while time.time() < end:
        sz = os.fstat(fd).st_size
        if sz > last:
            try:
                got = os.pread(fd, sz - last, last)
            except OSError:
                with bad.get_lock():
                    bad[2] += 1
                continue
            if b'\0' in got or len(got) != sz - last:
                with bad.get_lock():
                    bad[0 if b'\0' in got else 1] += 1
                continue
            last = sz
        if last >= TOTAL:
            break
bad = mp.Array('i', 3)  # reads with NUL bytes, cut short, failed
rs = [mp.Process(target=reader, args=(bad,)) for _ in range(3)]
w = mp.Process(target=writer)
w.start()
for r in rs: r.start()
w.join()
for r in rs: r.join(70)
data = open(path, 'rb').read()
want = b''.join(line(j) for j in range(N))
print(bad[0], bad[1], bad[2], data.count(0), data == want)
PY
}
mkdir "$MNT/tail"
echo segment.bytes=16384 > "$MNT/tail/.config"
tail_readers tail > "$MQ_TMP/tail.res"
expect_eq "tail readers beside a writer: every read whole and without NUL bytes, a cat after shows every line" \
	"0 0 0 0 True" "$(cat "$MQ_TMP/tail.res")"
# The same while retention removes the oldest segments: the node's cache
# is no longer valid, and its growth is handled all the same for the
# files opened through it before (cache.c, rule 3). Retention keeps the
# last 1,000,000 bytes or so; a reader that fell that far behind would
# get ESTALE or a short read at a removed position (not counted here),
# never NUL bytes; the cat after has none either.
mkdir "$MNT/tailr"
printf 'segment.bytes=16384\nretention.bytes=1000000\n' > "$MNT/tailr/.config"
tail_readers tailr > "$MQ_TMP/tailr.res"
expect_eq "tail readers beside a writer while retention removes segments: no read with NUL bytes, none in a cat after" \
	"0 0" "$(cut -d' ' -f1,4 "$MQ_TMP/tailr.res")"
expect_ok "retention removed segments of tailr" grep -q 'topic tailr partition 0: .*delet' "$LOG"

mq_umount

# ---- -o no_page_cache ---------------------------------------------------
mq_mount -o no_page_cache --config "$MQ_TMP/server.properties"
mq_run cat "$MNT/p/0" > "$MQ_TMP/n.1"
expect_ok "no_page_cache: the second cat is read by the daemon" \
	test "$(cat_reads "$MQ_TMP/n.2")" -gt 0
expect_same "no_page_cache: the records" "$MQ_TMP/p.exp" "$MQ_TMP/n.2"
# Big reads: each one has the next decoded meanwhile (engine/cursor.c,
# "decoding ahead"); reads that go elsewhere, or are smaller, call it off.
awk 'BEGIN{for(i=1;i<=120000;i++)printf "big-%07d-%064d\n", i, i}' > "$MQ_TMP/big.exp"
mq_run mkdir "$MNT/big"
expect_ok "no_page_cache: write 10 MB" \
	dd if="$MQ_TMP/big.exp" of="$MNT/big/0" bs=1M status=none
mq_run cat "$MNT/big/0" > "$MQ_TMP/big.1"
expect_same "no_page_cache: cat of 10 MB" "$MQ_TMP/big.exp" "$MQ_TMP/big.1"
mq_run dd if="$MNT/big/0" bs=1M skip=3 count=2 status=none > "$MQ_TMP/big.2"
dd if="$MQ_TMP/big.exp" bs=1M skip=3 count=2 status=none > "$MQ_TMP/big.2.exp"
expect_same "no_page_cache: dd skip=3 count=2" "$MQ_TMP/big.2.exp" "$MQ_TMP/big.2"
# One open file, reads of 1 MiB, 512 KiB, 64 KiB, 1 MiB, 300 KiB, then a
# second reader of its own in between, then the rest.
exec 8< "$MNT/big/0"
for bs in 1M 512K 64K 1M 300K; do
	dd bs=$bs count=1 iflag=fullblock status=none <&8
done > "$MQ_TMP/big.3"
mq_run dd if="$MNT/big/0" bs=1M skip=1 count=1 status=none > /dev/null
cat <&8 >> "$MQ_TMP/big.3"
exec 8<&-
expect_same "no_page_cache: reads of mixed sizes, another reader between" \
	"$MQ_TMP/big.exp" "$MQ_TMP/big.3"
# A reader's megabyte buffers (two reply buffers, read-ahead, decoding
# ahead) go to util/shelf.h's shelf at close and the next open takes them
# back, pages mapped: a cat after a cat costs the daemon almost no page
# faults (minflt, /proc/PID/stat's 10th field), against about 1,100 (one
# per 4 KiB of those buffers) when each open allocates its own.
# The kernel sends a file's release after close() has returned, so the
# next cat's open can reach the daemon before the last one's buffers are
# shelved (then it allocates: about 256 faults a MiB); the fewest faults
# of three cats is what the shelf saves.
minflt() { awk '{ print $10 }' "/proc/$MQ_PID/stat"; }
mq_run cat "$MNT/big/0" > /dev/null
fewest=
for try in 1 2 3; do
	f0=$(minflt)
	mq_run cat "$MNT/big/0" > "$MQ_TMP/big.4"
	f1=$(minflt)
	[ -z "$fewest" ] || [ $((f1 - f0)) -lt "$fewest" ] && fewest=$((f1 - f0))
done
expect_same "no_page_cache: cat after cat" "$MQ_TMP/big.exp" "$MQ_TMP/big.4"
expect_ok "no_page_cache: a cat after a cat reuses the reader's buffers ($fewest page faults, the fewest of 3)" \
	test "$fewest" -lt 200
mq_umount
mq_done
