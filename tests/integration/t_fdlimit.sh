#!/bin/sh
# t_fdlimit.sh — a daemon under `ulimit -n 96` (soft and hard: it cannot
# raise it) holds a partition of 400 segments, four files each: the writes
# that make them, a restart that opens and checks every one, cat of the whole
# partition and of every .dump, and appends after it all work, because only
# a bounded number of closed segments keep their descriptors open. More
# partitions than the limit allows are refused with EMFILE, nothing changed,
# and so are topics made past the descriptors kept free for reads.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup

# mount_tight: mqfs with 96 descriptors at most, soft and hard.
mount_tight() {
	mq_mount_cmd "$MNT" sh -c 'ulimit -n 96 && exec "$0" -f --data "$1" "$2"' \
		"$MQFS" "$DATA" "$MNT"
}

mount_tight
expect_eq "the limit applies" "96" \
	"$(awk '/^Max open files/{print $4}' "/proc/$MQ_PID/limits")"
mkdir "$MNT/t"
printf 'segment.bytes=1024\nbatch.size=200\n' > "$MNT/t/.config"
awk 'BEGIN{for(i=1;i<=16000;i++)printf "rec-%05d\n", i}' > "$MQ_TMP/exp"
expect_ok "write 16000 records into ~400 segments" \
	sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/exp" "$MNT/t/0"
nseg=$(ls "$MNT/t/.segments/0" | grep -c '\.log$')
expect_ok "400 segments or more ($nseg)" test "$nseg" -ge 400
expect_ok "cat reads every record" cmp "$MQ_TMP/exp" "$MNT/t/0"
# The flusher reopens rolled segments' files to fsync them, and may hold
# every descriptor the limit leaves for a moment (it handles EMFILE):
# once its work is done the count falls below the limit.
fds_under() { [ "$(ls "/proc/$MQ_PID/fd" | wc -l)" -lt "$1" ]; }
check "descriptors fall back under the limit" poll 30 fds_under 96
metric() { mq_run awk -v m="$1" '$1 == m {print $2}' "$MNT/.metrics"; }
expect_ok "idle segments' files closed (.metrics)" \
	test "$(metric mqfs_segment_fd_evictions_total)" -ge 300
expect_ok "open segment files bounded (.metrics)" \
	test "$(metric mqfs_segment_fd_sets)" -le 24
# 40 partitions need 160 descriptors for their active segments: refused
# whole, and the topic and the daemon go on as before. (env printf: dash's
# builtin echo reports any failed write as "I/O error".)
mkdir "$MNT/wide"
expect_errno "partitions=40 under 96 descriptors" EMFILE \
	sh -c 'env printf "partitions=40\n" > "$1"' sh "$MNT/wide/.config"
expect_eq "nothing changed" "0" "$(mq_run ls "$MNT/wide")"
expect_ok "the log says why" grep -q "Too many open files" "$LOG"
expect_ok "a write after it" sh -c 'echo w > "$1"' sh "$MNT/wide/0"
expect_eq "read back" "w" "$(mq_run cat "$MNT/wide/0")"
# Topics made one after another stop while an eighth of the limit (at
# least 16) stays free for reads and connections: mkdir is EMFILE, and
# reads that open closed segments' files go on. (Where exactly it stops
# moves with the sets the flusher and readers reopen meanwhile. So the
# refusal checked is the one that stopped the loop.)
i=0
while [ "$i" -lt 40 ] && mkdir "$MNT/m$i" 2>"$MQ_TMP/mkdir.err"; do
	i=$((i + 1))
done
expect_ok "mkdir stops before the limit ($i topics made)" test "$i" -lt 40
expect_ok "some topics made before it" test "$i" -ge 2
expect_ok "the mkdir that stopped: EMFILE ($(cat "$MQ_TMP/mkdir.err"))" \
	grep -q "Too many open files" "$MQ_TMP/mkdir.err"
expect_ok "the log says why" grep -q "creation refused: Too many open files" "$LOG"
# Idle closed segments' files count as free (closed when needed). What
# the reserve is for: the reads below reopen closed segments' files, and
# none fails for want of a descriptor. (A count of /proc/PID/fd here is
# no check: the flusher reopens rolled segments to fsync them, so sets
# open and close in the background.)
nfd=$(ls "/proc/$MQ_PID/fd" | wc -l)
expect_eq "closed segments still read (every .dump)" "16000" \
	"$(mq_run sh -c 'cat "$1"/*.dump | grep -c "rec-"' sh "$MNT/t/.segments/0")"
expect_ok "no segment's files failed to open ($nfd descriptors open)" \
	sh -c '! grep -q "cannot open the segment" "$1"' sh "$LOG"
expect_ok "a write to a made topic" sh -c 'echo m > "$1"' sh "$MNT/m0/0"
expect_ok "rmdir of two makes room" rmdir "$MNT/m1" "$MNT/m2"
# Room once the sets reopened by the reads and the flusher are idle again
# (the kernel releases a read file after close(2) returns).
mkdir_quiet() { mkdir "$1" 2>/dev/null; }
check "for a mkdir" poll 10 mkdir_quiet "$MNT/over"
mq_umount

# The restart opens every segment to check it.
mount_tight
expect_ok "cat after the restart" cmp "$MQ_TMP/exp" "$MNT/t/0"
expect_eq "every record in the .dump views" "16000" \
	"$(mq_run sh -c 'cat "$1"/*.dump | grep -c "rec-"' sh "$MNT/t/.segments/0")"
expect_eq "the first segment's index renders" "0" \
	"$(mq_run sh -c 'cat "$1"/00000000000000000000.index >/dev/null; echo $?' sh \
		"$MNT/t/.segments/0")"
expect_ok "append after the restart" sh -c 'echo after > "$1"' sh "$MNT/t/0"
expect_eq "the appended record" "after" "$(mq_run tail -n 1 "$MNT/t/0")"
expect_eq "offsets" "16001" "$(mq_run awk 'NR==2{print $3}' "$MNT/t/.state")"
mq_umount
expect_eq "clean stop" "0" "$MQ_RC"
mq_done
