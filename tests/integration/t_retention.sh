#!/bin/sh
# t_retention.sh — retention and compaction on a real mount: segments
# disappear, .state's log start advances, cat starts at the first retained
# record, byte offsets (tail -c +N, dd skip=) are the same before and after,
# a cat reading a deleted segment finishes with the bytes it had, an idle
# topic's active segment goes once all its records are older than
# retention.ms, the
# files of removed segments stay file.delete.delay.ms (a clean stop
# removes them); a
# compacted topic keeps each key's newest value once, tombstones go
# delete.retention.ms after the first clean that kept them (their delete
# horizon), keyless writes are EINVAL; max.compaction.lag.ms is
# never set below min.compaction.lag.ms, but a config file whose default
# max is lowered below a topic's min starts all the same (taken, a WARN
# names the topic); kill -9 while the cleaner runs loses no surviving
# record.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
cat > "$MQ_TMP/server.properties" <<EOF
log.retention.check.interval.ms=200
log.cleaner.backoff.ms=200
EOF
mq_mount --config "$MQ_TMP/server.properties"

# wait_for COND: polls (up to 15 s) until the shell condition holds; run
# it through expect_ok, which needs a command, not a function.
WAIT='i=0; while [ $i -lt 150 ]; do if eval "$1"; then exit 0; fi; sleep 0.1; i=$((i + 1)); done; exit 1'
col() {   # col TOPIC COLUMN-NAME: the value in partition 0's row of .state
	mq_run awk -v c="$2" 'NR==1{for(i=1;i<=NF;i++)if($i==c)k=i} NR==2{print $k}' "$MNT/$1/.state"
}

# ---- retention ----------------------------------------------------------
mkdir "$MNT/r"
printf 'segment.bytes=1024\nbatch.size=200\nfile.delete.delay.ms=600000\n' > "$MNT/r/.config"
awk 'BEGIN{for(i=1;i<=2000;i++)printf "rec-%05d\n", i}' > "$MQ_TMP/r.exp"
expect_ok "write 2000 records" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/r.exp" "$MNT/r/0"
nseg0=$(ls "$MNT/r/.segments/0" | grep -c '\.log$')
expect_ok "many segments" test "$nseg0" -gt 20
size0=$(stat -c %s "$MNT/r/0")
p=$(grep -b '^rec-01900$' "$MNT/r/0" | cut -d: -f1)
expect_eq "tail -c +N before" "rec-01900" "$(mq_run tail -c +$((p + 1)) "$MNT/r/0" | head -n 1)"
seg1=$(ls "$MNT/r/.segments/0" | grep '\.log$' | sed -n 2p | sed 's/\.log$//' | sed 's/^0*//')

# A reader inside the first segment: reads 100 bytes, waits, reads on.
# Opened read-write (<>), so with direct I/O: the daemon's reader holds the
# segment (a read-only open would read it ahead into the page cache).
( dd bs=100 count=1 2>/dev/null; : > "$MQ_TMP/slow.started"; sleep 3; cat ) \
	<> "$MNT/r/0" > "$MQ_TMP/slow.out" &
slow=$!
expect_ok "the reader holds the first segment" sh -c "$WAIT" sh "[ -e '$MQ_TMP/slow.started' ]"
# A reader of the second segment's raw .log in .segments.
seg1f=$(ls "$MNT/r/.segments/0" | grep '\.log$' | sed -n 2p)
mq_bg python3 -c '
import errno, os, sys, time
fd = os.open(sys.argv[1], os.O_RDONLY)
first = os.pread(fd, 10, 0)
open(sys.argv[2], "w").close()
end = time.time() + 60
while not os.path.exists(sys.argv[3]) and time.time() < end:
    time.sleep(0.05)
try:
    os.pread(fd, 10, 20)
    print("read")
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/r/.segments/0/$seg1f" "$MQ_TMP/seg.started" \
	"$MQ_TMP/seg.go" > "$MQ_TMP/seg.out"
segr=$MQ_LAST_PID
expect_ok "the .segments reader has read" sh -c "$WAIT" sh "[ -e '$MQ_TMP/seg.started' ]"
echo 'retention.bytes=3000' > "$MNT/r/.config"
expect_ok "log start advances" sh -c "$WAIT" sh "[ \$(awk 'NR==2{print \$2}' '$MNT/r/.state') -gt 1500 ]"
: > "$MQ_TMP/seg.go"
mq_wait "$segr" 60
expect_eq "a .segments .log whose segment went: ENOENT" "ENOENT" "$(cat "$MQ_TMP/seg.out")"
expect_ok "logged" grep -q "read r/.segments/0/$seg1f: ENOENT: its segment was removed" "$LOG"
expect_ok "the held segment is renamed, not gone" \
	test -e "$DATA/r-0/00000000000000000000.log.deleted"
wait $slow
start=$(col r log_start_offset)
{ head -n "$seg1" "$MQ_TMP/r.exp"; tail -n +$((start + 1)) "$MQ_TMP/r.exp"; } > "$MQ_TMP/slow.exp"
expect_same "a cat over a deleted segment finishes with the bytes it had" \
	"$MQ_TMP/slow.exp" "$MQ_TMP/slow.out"
expect_ok "closed, its files stay for file.delete.delay.ms" \
	test -e "$DATA/r-0/00000000000000000000.log.deleted"
expect_ok "segments disappeared" test "$(ls "$MNT/r/.segments/0" | grep -c '\.log$')" -lt 6
expect_ok "from the data directory too" test ! -e "$DATA/r-0/00000000000000000000.log"
expect_eq "cat starts at the first retained record" "$(printf 'rec-%05d' $((start + 1)))" \
	"$(mq_run head -n 1 "$MNT/r/0")"
expect_eq "st_size unchanged" "$size0" "$(stat -c %s "$MNT/r/0")"
expect_eq "tail -c +N after" "rec-01900" "$(mq_run tail -c +$((p + 1)) "$MNT/r/0" | head -n 1)"
expect_eq "dd skip= after" "rec-01900" \
	"$(mq_run dd if="$MNT/r/0" bs=1 skip="$p" count=9 2>/dev/null)"
expect_eq "a read before the log start lands on the first record" \
	"$(printf 'rec-%05d' $((start + 1)))" "$(mq_run tail -c +5 "$MNT/r/0" | head -n 1)"
expect_ok "retention in .metrics" grep -q '^mqfs_retention_deleted_segments_total [1-9]' "$MNT/.metrics"
mq_umount
expect_ok "a clean stop removes the files of removed segments" \
	test ! -e "$DATA/r-0/00000000000000000000.log.deleted"
mq_mount --config "$MQ_TMP/server.properties"
expect_eq "log start survives remount" "$start" "$(col r log_start_offset)"
expect_eq "positions survive remount" "rec-01900" \
	"$(mq_run tail -c +$((p + 1)) "$MNT/r/0" | head -n 1)"
# A short delay: the scheduler unlinks the renamed files once it is out.
printf 'file.delete.delay.ms=300\nretention.bytes=1500\n' > "$MNT/r/.config"
expect_ok "retention again" \
	sh -c "$WAIT" sh "[ \$(awk 'NR==2{print \$2}' '$MNT/r/.state') -gt $start ]"
expect_ok "the .deleted files go after file.delete.delay.ms" \
	sh -c "$WAIT" sh "[ -z \"\$(ls '$DATA/r-0' | grep '\\.deleted\$')\" ]"

# ---- an idle topic's records go retention.ms after the newest -----------
# As Kafka's: the active segment too, once every record is older than
# retention.ms, whatever segment.ms (7 days by default) says; the start
# moves to the log end, st_size stays, new records come at the next
# offsets and positions.
mkdir "$MNT/idle"
printf 'one\ntwo\nthree\n' > "$MNT/idle/0"
isize=$(stat -c %s "$MNT/idle/0")
expect_eq "one segment" "1" "$(ls "$MNT/idle/.segments/0" | grep -c '\.log$')"
echo 'retention.ms=1000' > "$MNT/idle/.config"
expect_ok "log start reaches the log end" \
	sh -c "$WAIT" sh "[ \"\$(awk 'NR==2{print \$2}' '$MNT/idle/.state')\" = 3 ]"
expect_eq "nothing left to read" "" "$(mq_run cat "$MNT/idle/0")"
expect_eq "st_size unchanged" "$isize" "$(stat -c %s "$MNT/idle/0")"
expect_ok "the old segment is gone" test ! -e "$DATA/idle-0/00000000000000000000.log"
expect_ok "logged" grep -q "topic idle partition 0: retention deleted 1 segment(s), .*log start offset 3" "$LOG"
echo 'retention.ms=600000' > "$MNT/idle/.config"
echo four >> "$MNT/idle/0"
expect_eq "the next record at the next position" "four" \
	"$(mq_run tail -c +$((isize + 1)) "$MNT/idle/0")"
expect_eq "cat shows only it" "four" "$(mq_run cat "$MNT/idle/0")"

# ---- compaction ---------------------------------------------------------
mkdir "$MNT/c"
printf 'key.separator=:\nsegment.bytes=4096\n' > "$MNT/c/.config"
awk 'BEGIN{for(r=1;r<=50;r++)for(k=1;k<=100;k++)printf "k%d:v%d\n", k, r}' > "$MQ_TMP/c.in"
expect_ok "100 keys x 50 writes" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/c.in" "$MNT/c/0"
expect_ok "tombstones for k1..k10" sh -c \
	'for k in 1 2 3 4 5 6 7 8 9 10; do echo "k$k:"; done > "$1"' sh "$MNT/c/0"
# A survivor's position, taken before compaction is on: a reader's offsets
# are positions only up to the first gap the cleaner leaves.
q=$(grep -b '^k55:v50$' "$MNT/c/0" | cut -d: -f1)
size_c=$(stat -c %s "$MNT/c/0")
# delete.retention.ms long at first: the tombstones must outlive the first
# cleaning however late a loaded machine runs it; shortened below.
printf 'cleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\ndelete.retention.ms=600000\n' \
	> "$MNT/c/.config"
expect_eq "policy set" "cleanup.policy=compact" "$(grep '^cleanup.policy=' "$MNT/c/.config")"
expect_errno "a record without a key is refused" EINVAL \
	bash -c 'echo no-key-here > "$1"' sh "$MNT/c/0"
expect_eq "nothing appended" "$size_c" "$(stat -c %s "$MNT/c/0")"
expect_ok "filler rolls the active segment" sh -c \
	'awk "BEGIN{for(i=1;i<=600;i++)printf \"z%d:x\\n\", i}" > "$1"' sh "$MNT/c/0"
expect_ok "the cleaner runs" sh -c "$WAIT" sh "grep -q '^mqfs_cleaner_runs_total [1-9]' '$MNT/.metrics'"
expect_ok "dirty ratio drops" sh -c "$WAIT" sh "[ \"\$(awk 'NR==2{print \$11}' '$MNT/c/.state')\" = 0.00 ]"
# The ratio counts only what may be cleaned yet (below the checkpointed
# recovery point), so it can read 0.00 a moment before the last pass:
# wait for the outcome itself.
expect_ok "compaction leaves one line per key" sh -c "$WAIT" sh \
	"[ \$(grep -c '^k' '$MNT/c/0') -eq 100 ]"
mq_run cat "$MNT/c/0" > "$MQ_TMP/c.out"
expect_eq "each key once" "" "$(grep '^k' "$MQ_TMP/c.out" | cut -d: -f1 | sort | uniq -d)"
expect_eq "100 keys" "100" "$(grep -c '^k' "$MQ_TMP/c.out")"
expect_eq "newest values of k11..k100" "90" "$(grep -c '^k[0-9]*:v50$' "$MQ_TMP/c.out")"
expect_eq "tombstones kept inside the horizon" "10" "$(grep -c '^k[0-9]*:$' "$MQ_TMP/c.out")"
expect_eq "keys after them intact" "600" "$(grep -c '^z' "$MQ_TMP/c.out")"
expect_eq "tail -c +N of a survivor unchanged" "k55:v50" \
	"$(mq_run tail -c +$((q + 1)) "$MNT/c/0" | head -n 1)"
expect_eq "dd skip= of a survivor unchanged" "k55:v50" \
	"$(mq_run dd if="$MNT/c/0" bs=1 skip="$q" count=7 2>/dev/null)"
expect_ok "cleaner bytes in .metrics" grep -q '^mqfs_cleaner_reclaimed_bytes_total [1-9]' "$MNT/.metrics"
# A tombstone's delete horizon is set by the first clean that keeps it,
# that clean's time + delete.retention.ms (Kafka's KIP-534): shortened,
# the setting leaves k1..k10's at 600 s and gives the tombstones of
# k11..k20 written now 1 s after the clean that keeps them; a clean past
# that removes them. Each try writes more, so that the cleaner has dirty
# records to clean again.
expect_ok "delete.retention.ms=1000" sh -c 'echo delete.retention.ms=1000 > "$1"' sh "$MNT/c/.config"
expect_ok "new dirty data" sh -c \
	'awk "BEGIN{for(i=1;i<=600;i++)printf \"y%d:x\\n\", i}" > "$1"' sh "$MNT/c/0"
expect_ok "tombstones for k11..k20" sh -c \
	'for k in 11 12 13 14 15 16 17 18 19 20; do echo "k$k:"; done > "$1"' sh "$MNT/c/0"
cat > "$MQ_TMP/tombs_gone.sh" <<'EOF'
awk 'BEGIN{for(i=1;i<=100;i++)printf "w%d:x\n", i}' >> "$1" || exit 1
[ "$(grep -c '^k\(1[1-9]\|20\):' "$1")" -eq 0 ]
EOF
expect_ok "k11..k20 and their tombstones vanish at a clean past the horizon" \
	sh -c "$WAIT" sh "sh '$MQ_TMP/tombs_gone.sh' '$MNT/c/0'"
expect_eq "k1..k10's tombstones stay (their horizon is 600 s on), the rest too" \
	"10 80 600 600" \
	"$(grep -c '^k[0-9]*:$' "$MNT/c/0") $(grep -c '^k[0-9]*:v' "$MNT/c/0") $(grep -c '^z' "$MNT/c/0") $(grep -c '^y' "$MNT/c/0")"

# ---- max.compaction.lag.ms ----------------------------------------------
# (When it cleans a log below its dirty ratio: test_cleaner, test_log.) Set
# through the mount, shown, and ordered against min.compaction.lag.ms.
expect_ok "max.compaction.lag.ms=1500" sh -c 'echo max.compaction.lag.ms=1500 > "$1"' sh "$MNT/c/.config"
expect_eq "shown in .config" "max.compaction.lag.ms=1500" \
	"$(grep '^max.compaction.lag.ms=' "$MNT/c/.config")"
expect_errno "min.compaction.lag.ms above it: refused" EINVAL \
	bash -c 'echo min.compaction.lag.ms=2000 > "$1"' sh "$MNT/c/.config"
expect_ok "the refusal names both" grep -q "conflict topic config setting min.compaction.lag.ms (2000) > max.compaction.lag.ms (1500)" "$LOG"
expect_eq "min.compaction.lag.ms unchanged" "min.compaction.lag.ms=0" \
	"$(grep '^min.compaction.lag.ms=' "$MNT/c/.config")"

# ---- a pair that disagrees, loaded --------------------------------------
# The config file's log.cleaner.max.compaction.lag.ms lowered below a
# topic's min.compaction.lag.ms: the daemon starts (Kafka loads a topic's
# settings without the check a change gets), the topic takes both, the log
# names it; a change that leaves the pair so is refused, one that mends it
# taken.
mkdir "$MNT/lag"
expect_ok "min.compaction.lag.ms=3000" sh -c \
	'printf "cleanup.policy=compact\nmin.compaction.lag.ms=3000\n" > "$1"' sh "$MNT/lag/.config"
mq_umount
{ cat "$MQ_TMP/server.properties"; echo 'log.cleaner.max.compaction.lag.ms=1000'; } \
	> "$MQ_TMP/lowmax.properties"
mq_mount --config "$MQ_TMP/lowmax.properties"
expect_ok "the mount comes up, the topic in it" test -f "$MNT/lag/.config"
expect_eq "both taken" "max.compaction.lag.ms=1000 min.compaction.lag.ms=3000" \
	"$(grep -E '^m(ax|in).compaction.lag.ms=' "$MNT/lag/.config" | sort | tr '\n' ' ' | sed 's/ $//')"
expect_ok "the log names the topic and the pair" grep -q \
	"WARN topic lag: conflict topic config setting min.compaction.lag.ms (3000) > max.compaction.lag.ms (1000): taken as it is" \
	"$LOG"
expect_errno "a .config write that leaves them so: refused" EINVAL \
	bash -c 'echo retention.ms=100000 > "$1"' sh "$MNT/lag/.config"
expect_ok "one that makes them agree: taken" sh -c 'echo min.compaction.lag.ms=500 > "$1"' sh \
	"$MNT/lag/.config"
expect_eq "min.compaction.lag.ms now" "min.compaction.lag.ms=500" \
	"$(grep '^min.compaction.lag.ms=' "$MNT/lag/.config")"
mq_umount
mq_mount --config "$MQ_TMP/server.properties"

# ---- kill -9 while cleaning ---------------------------------------------
mkdir "$MNT/k"
printf 'key.separator=:\nsegment.bytes=65536\ncleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\n' \
	> "$MNT/k/.config"
{ cat "$MQ_TMP/server.properties"; echo 'log.cleaner.enable=false'; } > "$MQ_TMP/nocleaner.properties"
awk 'BEGIN{for(r=1;r<=200;r++)for(k=1;k<=1000;k++)printf "key%d:value-%d-%d\n", k, r, k}' \
	> "$MQ_TMP/k.in"
awk -F: '{last[$1]=$0} END{for(k in last)print last[k]}' "$MQ_TMP/k.in" | sort > "$MQ_TMP/k.newest"
for delay in 0.1 0.3 0.6; do
	expect_ok "write 200,000 keyed records" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/k.in" "$MNT/k/0"
	sleep "$delay"
	mq_kill9
	# Look at what recovery left with the cleaner off: a new clean started
	# by the remounted broker would have its own .cleaned files.
	mq_mount --config "$MQ_TMP/nocleaner.properties"
	mq_run cat "$MNT/k/0" > "$MQ_TMP/k.out"
	expect_eq "kill -9 after ${delay}s of cleaning: every newest value survives" "1000" \
		"$(grep -Fx -f "$MQ_TMP/k.newest" "$MQ_TMP/k.out" | sort -u | wc -l)"
	expect_eq "and nothing else appears" "" "$(grep -Fxv -f "$MQ_TMP/k.in" "$MQ_TMP/k.out" | head -n 3)"
	expect_ok "no swap leftovers" sh -c '! ls "$1" | grep -q -e cleaned -e swap' sh "$DATA/k-0"
	mq_umount
	mq_mount --config "$MQ_TMP/server.properties"
done
expect_ok "the cleaner finishes after remount" \
	sh -c "$WAIT" sh "[ \"\$(awk 'NR==2{print \$11}' '$MNT/k/.state')\" = 0.00 ]"
mq_umount
mq_done
