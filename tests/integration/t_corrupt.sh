#!/bin/sh
# t_corrupt.sh — a byte flipped in a closed segment after a clean stop is
# never served: cat returns the records before the bad batch and then
# fails with EBADMSG (every time); a consume read does the same and
# commits the records before it, nothing past them (the group's next
# member does not read them again); .dump shows the batch as "valid: no"
# without its records; the daemon's log names the file and position once;
# .metrics counts the batch once. Nothing of the log is cut at the remount.
# A .lines entry moved by a few bytes is found by the first read the same
# way, and a .lines cut to its header is rebuilt at the next start.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
T=$MNT/c
mkdir "$T"
echo 'segment.bytes=4096' > "$T/.config"
# write_recs N EXPECTED FILE: records rec-0 .. rec-N-1 into EXPECTED and,
# one write() per record (so one batch per record), into FILE.
write_recs() {
	i=0
	while [ $i -lt "$1" ]; do
		echo "rec-$i"
		i=$((i + 1))
	done > "$2"
	expect_ok "write $1 records, one batch each" \
		sh -c 'while read -r l; do echo "$l"; done < "$1" > "$2"' sh "$2" "$3"
}
write_recs 300 "$MQ_TMP/all" "$T/0"
expect_same "all readable" "$MQ_TMP/all" "$T/0"
# The batch of offset 60, in a closed segment (not the first, not the last).
seg=$(ls "$T/.segments/0" | grep '\.log$' | sed -n 2p)
seg=${seg%.log}
pos=$(mq_run grep '^baseOffset: 60 ' "$T/.segments/0/$seg.dump" | sed 's/.* position: \([0-9]*\) .*/\1/')
expect_ok "batch 60 is in segment 2 ($seg, position $pos)" test -n "$pos"
size=$(stat -c %s "$T/0")
mq_umount
expect_ok "clean stop" test -e "$DATA/.clean-shutdown"

# The record's value starts 67 bytes into the batch (61 of header, then
# length, attributes, timestampDelta, offsetDelta, keyLength, valueLength,
# one byte each): "rec-60" becomes "sec-60", a line that would pass for a
# record if the CRC were not checked.
f=$DATA/c-0/$seg.log
expect_eq "the byte is the r of rec-60" "r" "$(dd if="$f" bs=1 skip=$((pos + 67)) count=1 2>/dev/null)"
printf 's' | dd of="$f" bs=1 seek=$((pos + 67)) conv=notrunc 2>/dev/null
mq_mount
head -n 60 "$MQ_TMP/all" > "$MQ_TMP/before"

expect_eq "st_size unchanged, nothing cut at open" "$size" "$(stat -c %s "$T/0")"
# The first read after the start finds the bad batch, through the page
# cache: it returns the records before it all the same, then fails.
mq_run sh -c 'cat "$1" > "$2"' sh "$T/0" "$MQ_TMP/out0" 2>/dev/null
expect_same "the first cat delivered the records before it" "$MQ_TMP/before" "$MQ_TMP/out0"
expect_errno "cat fails at the bad batch" EBADMSG cat "$T/0"
mq_run sh -c 'cat "$1" > "$2"' sh "$T/0" "$MQ_TMP/out" 2>/dev/null
expect_same "cat delivered the records before it" "$MQ_TMP/before" "$MQ_TMP/out"
expect_errno "and fails again" EBADMSG sh -c 'cat "$1" > /dev/null' sh "$T/0"
expect_fail "sec-60 is never served" sh -c 'cat "$1" 2>/dev/null | grep -q "^sec-60$"' sh "$T/0"
expect_errno "a read starting in the bad batch fails" EBADMSG \
	dd if="$T/0" bs=4096 skip="$(wc -c < "$MQ_TMP/before")" iflag=skip_bytes count=1 status=none
expect_eq "records after it are still there" "rec-61" \
	"$(mq_run dd if="$T/0" bs=7 skip=$(($(wc -c < "$MQ_TMP/before") + 7)) iflag=skip_bytes count=1 status=none | head -n 1)"
# Big reads take the two-thread path: the same.
mq_run sh -c 'dd if="$1" bs=1M of="$2" 2>/dev/null' sh "$T/0" "$MQ_TMP/out2"
expect_same "a 1 MiB read gets the same records" "$MQ_TMP/before" "$MQ_TMP/out2"

# consume: the records before, then EBADMSG; those records are committed
# (offset 60, the bad batch's), nothing past them.
mkdir "$T/.groups/g"
mq_run sh -c 'cat "$1" > "$2" 2> "$3"' sh "$T/.groups/g/consume" "$MQ_TMP/cons" "$MQ_TMP/cons.err"
expect_ok "consume fails with Bad message" grep -q "$(mq_strerror EBADMSG)" "$MQ_TMP/cons.err"
expect_same "consume delivered the records before it" "$MQ_TMP/before" "$MQ_TMP/cons"
expect_eq "committed up to the bad batch" 60 "$(cat "$T/.groups/g/0")"
expect_fail "no lookup of the commit position failed" grep -q "cannot find the offset" "$LOG"
mq_run sh -c 'cat "$1" > "$2" 2> "$3"' sh "$T/.groups/g/consume" "$MQ_TMP/cons2" "$MQ_TMP/cons.err"
expect_ok "the next member fails the same" grep -q "$(mq_strerror EBADMSG)" "$MQ_TMP/cons.err"
expect_eq "without the records before it again" 0 "$(wc -c < "$MQ_TMP/cons2")"
expect_eq "and commits nothing past it" 60 "$(cat "$T/.groups/g/0")"

# .dump: the batch is invalid and its record is not printed.
mq_run cat "$T/.segments/0/$seg.dump" > "$MQ_TMP/dump"
expect_ok ".dump: batch 60 valid: no" grep -q "^baseOffset: 60 .* valid: no$" "$MQ_TMP/dump"
expect_fail ".dump: no record of it" grep -q "^| offset: 60 " "$MQ_TMP/dump"
expect_ok ".dump: the next batch is shown" grep -q "^| offset: 61 .*value: rec-61$" "$MQ_TMP/dump"

# One log line, naming the file and the position, after all those reads.
expect_eq "logged once" 1 "$(grep -c "corrupt batch in $f at position $pos: CRC-32C mismatch" "$LOG")"
expect_eq ".metrics counts it once" 'mqfs_corrupt_batches_total{topic="c"} 1' \
	"$(mq_run grep '^mqfs_corrupt_batches_total{topic="c"}' "$MNT/.metrics")"

# A .lines entry whose line position moved up by 3 bytes (still
# increasing), in a segment of 400 batches: the open samples one batch in
# 6 against its entries and misses batches 199 and 200, between which it
# sits. The first read finds that batch 200's lines do not fit before the
# next entry's position: the batch is served as a bad one (records before
# it, then EBADMSG), never at the shifted position, never through the page
# cache.
M=$MNT/m
mkdir "$M"
write_recs 400 "$MQ_TMP/mall" "$M/0"
mpos=$(mq_run grep '^baseOffset: 200 ' "$M/.segments/0/00000000000000000000.dump" | sed 's/.* position: \([0-9]*\) .*/\1/')
expect_ok "batch 200 at position $mpos" test -n "$mpos"
mq_umount
head -n 200 "$MQ_TMP/mall" > "$MQ_TMP/mbefore"
lp=$(wc -c < "$MQ_TMP/mbefore")
ml=$DATA/m-0/00000000000000000000.lines
# Entry 200: 16 bytes of header, 16 a batch; its line position is the
# last 8 bytes, big-endian (below 2^16 here).
at=$((16 + 200 * 16 + 8))
expect_eq "entry 200 says line position $lp" "$lp" \
	"$(od -An -tu8 --endian=big -j "$at" -N 8 "$ml" | tr -d ' ')"
moved=$((lp + 3))
printf "\\$(printf %o $((moved >> 8)))\\$(printf %o $((moved & 255)))" |
	dd of="$ml" bs=1 seek=$((at + 6)) conv=notrunc 2>/dev/null
expect_eq "entry 200 now says $moved" "$moved" \
	"$(od -An -tu8 --endian=big -j "$at" -N 8 "$ml" | tr -d ' ')"
mq_mount
expect_fail "the open did not see it" grep -q "m-0/00000000000000000000.lines: entry" "$LOG"
mq_run sh -c 'cat "$1" > "$2"' sh "$M/0" "$MQ_TMP/mout0" 2>/dev/null
expect_same "the first cat delivered the records before batch 200" "$MQ_TMP/mbefore" "$MQ_TMP/mout0"
expect_errno "cat fails at batch 200" EBADMSG sh -c 'cat "$1" > /dev/null' sh "$M/0"
mq_run sh -c 'cat "$1" > "$2"' sh "$M/0" "$MQ_TMP/mout1" 2>/dev/null
expect_same "a second cat the same (not from the page cache)" "$MQ_TMP/mbefore" "$MQ_TMP/mout1"
expect_errno "a read where its entry says it starts fails" EBADMSG \
	dd if="$M/0" bs=4096 skip="$moved" iflag=skip_bytes count=1 status=none
expect_eq "records after it are read from their own positions" "rec-201" \
	"$(mq_run dd if="$M/0" bs=8 skip=$((lp + 8)) iflag=skip_bytes count=1 status=none | head -n 1)"
expect_eq "logged once, naming the batch and the line bytes" 1 \
	"$(grep -c "corrupt batch in $DATA/m-0/00000000000000000000.log at position $mpos: its records (from offset 200) take 8 bytes of lines from line position $moved (its .lines entry), past $((lp + 8)), where the next batch's lines begin: $DATA/m-0/00000000000000000000.lines is damaged" "$LOG")"
expect_eq ".metrics counts it" 'mqfs_corrupt_batches_total{topic="m"} 1' \
	"$(mq_run grep '^mqfs_corrupt_batches_total{topic="m"}' "$MNT/.metrics")"
mq_umount
# The repair: the segment's .lines cut to its header is rebuilt at the
# next start, at the positions it had (a log never compacted).
truncate -s 16 "$ml"
mq_mount
expect_same "after the rebuild every record is served" "$MQ_TMP/mall" "$M/0"
expect_same "and again" "$MQ_TMP/mall" "$M/0"
mq_umount
mq_done
