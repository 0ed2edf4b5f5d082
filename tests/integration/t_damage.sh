#!/bin/sh
# t_damage.sh — damaged data found at start: a segment cut mid-batch and a
# segment missing in the middle are served up to the damage with writes
# refused (EIO), every file kept, .state and cat agreeing, until the files
# are put back; a checkpointed log start hides the records below it; a bad
# checkpoint, leader-epoch-checkpoint or overlapping segment refuses the
# start with a log line naming the file and the reason.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
mkdir "$MNT/d"
echo 'segment.bytes=1024' > "$MNT/d/.config"
seq 1 2000 > "$MQ_TMP/exp"
# 40 writes: a batch each, a few to a segment.
expect_ok "write 2000 records" sh -c 'for i in $(seq 0 39); do seq $((i * 50 + 1)) $((i * 50 + 50)) >> "$1" || exit 1; done' sh "$MNT/d/0"
mq_umount
P=$DATA/d-0
seg() { ls "$P"/*.log | sort | sed -n "$1p"; }
third=$(seg 3)
fourth=$(seg 4)
last=$(ls "$P"/*.log | sort | tail -n 1)
expect_ok "several segments" test "$(ls "$P"/*.log | wc -l)" -gt 5

# state_col N: column N of partition 0's row in .state.
state_col() { awk -v c="$1" '$1 == "0" { print $c }' "$MNT/d/.state"; }

# A segment cut in the middle of a batch after a clean stop.
cp "$third" "$MQ_TMP/third"
truncate -s -10 "$third"
lines_before=$(wc -l < "$LOG")
mq_mount
expect_ok "the damage is logged with the file and position" \
	sh -c 'tail -n +"$2" "$1" | grep -q "$3: damaged: [0-9]* invalid bytes from position"' \
	sh "$LOG" "$lines_before" "$(basename "$third")"
expect_ok "the later segments are named as kept" \
	sh -c 'tail -n +"$2" "$1" | grep -q "later segment(s) .* kept on disk"' sh "$LOG" "$lines_before"
hw=$(state_col 3)
expect_eq ".state's high watermark is what cat returns" "$hw" "$(mq_run cat "$MNT/d/0" | wc -l)"
expect_eq "records up to the damage, as written" "$(head -n "$hw" "$MQ_TMP/exp" | md5sum)" \
	"$(mq_run cat "$MNT/d/0" | md5sum)"
expect_ok "served up to the damage only" test "$hw" -lt 2000
expect_errno "writes refused" EIO sh -c 'echo more | cat >> "$1"' sh "$MNT/d/0"
mq_umount
expect_ok "the damaged segment is not cut" test "$(stat -c %s "$third")" -eq $(($(stat -c %s "$MQ_TMP/third") - 10))
expect_ok "the later segments are kept" test -s "$last"
cp "$MQ_TMP/third" "$third"
mq_mount
expect_same "the segment put back: every record again" "$MQ_TMP/exp" "$MNT/d/0"
mq_umount

# A segment missing in the middle.
mkdir "$MQ_TMP/aside"
base=$(basename "$fourth" .log)
mv "$P/$base".* "$MQ_TMP/aside/"
mq_mount
first_missing=$(echo "$base" | sed 's/^0*//')
expect_ok "the gap is logged with its offsets" grep -q "damaged: records $first_missing\.\.[0-9]* are missing" "$LOG"
expect_eq ".state's log end is the gap" "$first_missing" "$(state_col 4)"
expect_eq "cat stops at the gap" "$first_missing" "$(mq_run cat "$MNT/d/0" | wc -l)"
expect_errno "writes refused" EIO sh -c 'echo more | cat >> "$1"' sh "$MNT/d/0"
mq_umount
mv "$MQ_TMP/aside/"* "$P/"
mq_mount
expect_same "the segment put back: every record again" "$MQ_TMP/exp" "$MNT/d/0"
expect_ok "writes again" sh -c 'echo 2001 >> "$1"' sh "$MNT/d/0"
echo 2001 >> "$MQ_TMP/exp"
mq_umount

# A checkpointed log start offset governs reads.
start=$(($(basename "$third" .log | sed 's/^0*//') + 3))
printf '0\n1\nd 0 %s\n' "$start" > "$DATA/log-start-offset-checkpoint"
mq_mount
expect_eq ".state's log start" "$start" "$(state_col 2)"
expect_eq "cat starts at the log start" "$((start + 1))" "$(mq_run head -n 1 "$MNT/d/0")"
expect_eq "dd from position 0 too" "$((start + 1))" "$(mq_run dd if="$MNT/d/0" bs=4096 count=1 status=none | head -n 1)"
mq_umount

# refused NAME PATTERN: the daemon must refuse to start and log PATTERN.
refused() {
	mq_bg sh -c 'exec "$1" -f --data "$2" "$3" >>"$4" 2>&1 </dev/null' sh "$MQFS" "$DATA" "$MNT" "$LOG"
	if mq_wait "$MQ_LAST_PID" 30; then
		expect_ok "$1: start refused" test "$MQ_RC" -ne 0
	else
		fail "$1: start refused" "still running after 30 s"
	fi
	expect_ok "$1: the log names the file and the reason" grep -q "$2" "$LOG"
}
cp "$DATA/recovery-point-offset-checkpoint" "$MQ_TMP/rp"
printf 'garbage\n' > "$DATA/recovery-point-offset-checkpoint"
refused "garbage checkpoint" "recovery-point-offset-checkpoint: line 1: no version and count lines"
cp "$MQ_TMP/rp" "$DATA/recovery-point-offset-checkpoint"
cp "$P/leader-epoch-checkpoint" "$MQ_TMP/lec"
printf '0\n2\n0 0\nx y\n' > "$P/leader-epoch-checkpoint"
refused "bad leader-epoch-checkpoint" "leader-epoch-checkpoint: line 4: not \"epoch start_offset\""
cp "$MQ_TMP/lec" "$P/leader-epoch-checkpoint"
# A copy of segment 3 named as if it started one offset later.
b3=$(basename "$third" .log | sed 's/^0*//')
over=$(printf '%s/%020d' "$P" $((b3 + 1)))
cp "$third" "$over.log"
refused "overlapping segments" "$(basename "$over").log: overlaps the segment before it"
rm -f "$over".*
lines_before=$(wc -l < "$LOG")
mq_mount
expect_ok "a refused start is no unclean shutdown" \
	sh -c 'tail -n +"$2" "$1" | grep -q "last shutdown clean"' sh "$LOG" "$lines_before"
tail -n +$((start + 1)) "$MQ_TMP/exp" > "$MQ_TMP/exp2"
expect_same "after the refusals every record is still there" "$MQ_TMP/exp2" "$MNT/d/0"
mq_umount
mq_done
