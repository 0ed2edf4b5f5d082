#!/bin/sh
# t_cluster_logdir_failure.sh — a leader's disk fills up at run time, and
# its broker takes its log directory offline as Kafka's does: ZooKeeper
# and three SASL brokers, each with its data directory on a 32 MiB tmpfs
# of its own, a topic of one partition with three replicas,
# min.insync.replicas=2, acks=all. Skipped where tmpfs cannot be mounted
# (not root).
#   - The leader's disk fills (a file takes all but 1 MiB) while a writer
#     goes on through another broker's mount: the leader's append fails
#     with ENOSPC, it logs its log directory offline and writes the
#     notice /log_dir_event_notification/log_dir_event_<seq>, which the
#     controller consumes; the leadership moves to an in-sync follower and
#     every write is acknowledged (none fails), through that mount, the
#     failed broker's own mount, kcat bootstrapped from the failed broker
#     and a raw Produce to the new leader; a raw Produce to the failed
#     broker gets KAFKA_STORAGE_ERROR. Its root .state says
#     log.dir=offline, every topic .state (on one line) and Metadata name
#     its replica offline; DescribeLogDirs lists its directory with
#     KAFKA_STORAGE_ERROR, the new leader's online with the partition. Its scheduler says once that it stopped using
#     the directory.
#   - Every acknowledged record is read back once, in order, on the two
#     survivors' mounts.
#   - Room again and the broker restarted: its stop wrote nothing into the
#     failed directory, no clean-shutdown marker either, so it starts as
#     after an unclean stop; its replica rejoins the ISR and its mount
#     reads the same records.
#   - A compacted topic c whose leader's disk fills up entirely while
#     nothing is written: the first write there is the cleaner's (its
#     records old enough for min.compaction.lag.ms only once the disk is
#     full), whose ENOSPC takes that broker's log directory offline as a
#     failed append would; the cleaner says once that it stopped using
#     the directory, and logs that failure once (it does not try again);
#     the leadership of c moves, and the newest record of each key is
#     read on the new leader's mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# The cleaner looks at the compacted topic of step 4 five times a second.
SMALL_CONF="log.cleaner.backoff.ms=200"
t_small_cluster "a failed log directory in a cluster"
eval "SL=\$SMALL$L"

expect_eq "100 writes through mnt$F" 100 "$(t_put "mnt$F" a 100)"

# 1. The leader's disk fills: 1 MiB left, and about as much reserved
# ahead in its segment; 100 records of 64000 bytes cannot all fit.
check "broker $L's disk filled" fill_disk "$SL"
expect_eq "100 writes of 64000 bytes through mnt$F across the failure: all acknowledged" 100 \
	"$(t_put "mnt$F" b 100 64000)"
expect_eq "none failed" "" "$(sort -u "$MQ_TMP/err.b")"
expect_ok "broker $L logs its log directory offline" grep -q \
	"log dir $SL: t-0: No space left on device: the log directory is offline" "$LOG"
expect_ok "the controller heard of it" grep -q \
	"controller: broker $L reported a log directory failure" "$LOG"
expect_ok "and took the replica offline" grep -q \
	"controller: broker $L cannot host t-0 (KAFKA_STORAGE_ERROR" "$LOG"
# moved N: mount N names a leader other than L and an ISR without it.
moved() {
	_ml=$(t_field "$MQ_TMP/mnt$1" 5)
	[ -n "$_ml" ] && [ "$_ml" != "$L" ] && [ "$_ml" != -1 ] &&
		t_isr_is "$MQ_TMP/mnt$1" "$(set_of "[$F,$G]")"
}
for n in 1 2 3; do
	check "mnt$n: the leadership moved to an in-sync follower, $L out of the ISR" poll 20 moved "$n"
done
N=$(t_field "$MQ_TMP/mnt$F" 5)
expect_eq "the notice is consumed (no child of /log_dir_event_notification)" "[]" \
	"$(zk_cli "$ZKPORT" ls /mqfs/log_dir_event_notification | tail -1)"
sched_stopped() {
	grep -q "scheduler: log dir $SL is offline (No space left on device): no flush, retention or checkpoint there until a restart" "$LOG"
}
check "broker $L's scheduler stopped using the directory" poll 20 sched_stopped
expect_eq "and says so once" 1 "$(grep -c "scheduler: log dir $SL is offline" "$LOG")"
expect_ok "mnt$L/.state: log.dir=offline" grep -q \
	"^log.dir=offline (No space left on device)" "$MQ_TMP/mnt$L/.state"
# offline_dirs N: mqfs_offline_log_directories of broker N's .metrics.
offline_dirs() {
	timeout 5 awk '$1 == "mqfs_offline_log_directories" { print $2 }' "$MQ_TMP/mnt$1/.metrics"
}
expect_eq "mnt$L/.metrics: mqfs_offline_log_directories 1" 1 "$(offline_dirs "$L")"
expect_eq "mnt$F/.metrics: mqfs_offline_log_directories 0" 0 "$(offline_dirs "$F")"
# offline_row N: broker N's t/.state names L's replica offline, on that
# line alone (the new leader gives it no leo line).
offline_row() {
	grep -q "^replica 0 $L: offline" "$MQ_TMP/mnt$1/t/.state" &&
		[ "$(grep -c "^replica 0 $L:" "$MQ_TMP/mnt$1/t/.state")" = 1 ]
}
for n in 1 2 3; do
	check "mnt$n/t/.state names the replica on broker $L offline, once" poll 20 offline_row "$n"
done
_pf=$(eval echo "\$PORT$F")
_pl=$(eval echo "\$PORT$L")
_pn=$(eval echo "\$PORT$N")
expect_eq "Metadata names the replica on broker $L offline" "$L" \
	"$(timeout 30 python3 "$LIBDIR/kafka_raw.py" metadata 127.0.0.1 "$_pf" admin admin-secret t |
		sed -n 's/.* offline //p')"
expect_eq "DescribeLogDirs of broker $L: its directory offline (KAFKA_STORAGE_ERROR)" \
	"error 56 partitions 0" \
	"$(timeout 30 python3 "$LIBDIR/kafka_raw.py" logdirs 127.0.0.1 "$_pl" admin admin-secret t 0)"
expect_eq "DescribeLogDirs of the new leader $N: online, with t-0" "error 0 partitions 1" \
	"$(timeout 30 python3 "$LIBDIR/kafka_raw.py" logdirs 127.0.0.1 "$_pn" admin admin-secret t 0)"

# 2. Writes through the failed broker's own mount, kcat, raw Produce.
expect_eq "50 writes through the failed broker's own mount (mnt$L)" 50 "$(t_put "mnt$L" c 50)"
expect_eq "a raw Produce to broker $L: KAFKA_STORAGE_ERROR" "error 56" \
	"$(timeout 30 python3 "$LIBDIR/kafka_raw.py" produce 127.0.0.1 "$_pl" admin admin-secret t 0 raw-0 -1)"
expect_eq "a raw Produce to the new leader $N: appended" "error 0" \
	"$(timeout 70 python3 "$LIBDIR/kafka_raw.py" produce 127.0.0.1 "$_pn" admin admin-secret t 0 raw-1 -1)"
echo raw-1 >>"$MQ_TMP/want"
printf 'kc-1\nkc-2\nkc-3\n' >"$MQ_TMP/kc"
check "kcat -P bootstrapped from broker $L: delivered" \
	kc "$L" -P -t t -p 0 -X acks=all -l "$MQ_TMP/kc"
cat "$MQ_TMP/kc" >>"$MQ_TMP/want"
for n in $F $G; do
	check "mnt$n reads every acknowledged record once, in order" poll 30 t_has "$n"
done

# 3. Room again, and the broker restarted: back in the ISR.
rm -f "$SL/filler"
check "broker $L stops cleanly" broker_stop "$L"
expect_ok "its stop wrote nothing there (the directory failed)" grep -q \
	"stop: log dir $SL is offline (No space left on device): nothing flushed or written there, no clean-shutdown marker" "$LOG"
expect_ok "and left none behind" test ! -e "$SL/.clean-shutdown"
broker_start "$L"
expect_ok "mnt$L/.state: last.shutdown=unclean (its logs recovered)" grep -q \
	"^last.shutdown=unclean" "$MQ_TMP/mnt$L/.state"
check "broker $L back in the ISR" poll 30 t_isr_is "$MQ_TMP/mnt$N" "1,2,3"
expect_ok "mnt$L/.state: log.dir=online" grep -q "^log.dir=online" "$MQ_TMP/mnt$L/.state"
expect_eq "mnt$L/.metrics: mqfs_offline_log_directories 0" 0 "$(offline_dirs "$L")"
check "mnt$L reads every acknowledged record once, in order" poll 30 t_has "$L"

# 4. The cleaner meets the full disk. c_field MNT K: field K of c-0's row
# in MNT/c/.state (5 leader, 8 ISR).
c_field() {
	timeout 5 awk -v f="$2" '$1 == "0" { print $f }' "$1/c/.state" 2>/dev/null
}
c_isr3() {
	[ "$(set_of "$(c_field "$MQ_TMP/mnt1" 8)")" = "1,2,3" ]
}
cluster_mkdir c
check "c: three replicas in the ISR" poll 20 c_isr3
C=$(c_field "$MQ_TMP/mnt1" 5)
eval "SC=\$SMALL$C"
# Records stay dirty for 15 s: the disk is full before the first clean.
printf 'cleanup.policy=compact\nsegment.bytes=1024\nmin.cleanable.dirty.ratio=0.01\nkey.separator==\nmin.compaction.lag.ms=15000\n' >"$MQ_TMP/c.config"
expect_ok "c made compacted, with 1 KiB segments" cp "$MQ_TMP/c.config" "$MQ_TMP/mnt1/c/.config"
c_keysep() {
	grep -qx "key.separator==" "$MQ_TMP/mnt$C/c/.config"
}
check "the leader $C has c's settings" poll 20 c_keysep
_i=0
while [ "$_i" -lt 100 ]; do
	echo "k$((_i % 10))=value-$_i-xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	_i=$((_i + 1))
done >"$MQ_TMP/c.want"
# one write() each: one batch each, so that the segments roll
c_put() {
	while IFS= read -r _r; do
		printf '%s\n' "$_r" >>"$MQ_TMP/mnt$C/c/0" || return 1
	done <"$MQ_TMP/c.want"
}
check "100 keyed records through mnt$C, one write each" c_put
# The flush of the rolled segments and the checkpoints that follow it
# (the cleaner checkpoints before it looks) are done before the disk
# fills: the hw at the log end, the recovery point at the active
# segment's base (the last .log). Then a checkpoint has the same text and
# writes nothing, and nothing but the clean writes there afterwards.
c_ckpt_done() {
	_active=$(ls "$SC/c-0" | sed -n 's/^0*\([0-9][0-9]*\)\.log$/\1/p' | sort -n | tail -1)
	grep -q "^c 0 100\$" "$SC/replication-offset-checkpoint" &&
		[ -n "$_active" ] && [ "$_active" -gt 0 ] &&
		grep -q "^c 0 $_active\$" "$SC/recovery-point-offset-checkpoint"
}
check "broker $C checkpointed c's records" poll 20 c_ckpt_done
_av=$(df --output=avail -k "$SC" | tail -1)
dd if=/dev/zero of="$SC/filler2" bs=1k count="$_av" 2>/dev/null
expect_eq "broker $C's disk is full" 0 "$(df --output=avail -k "$SC" | tail -1 | tr -d ' ')"
# The cleaner's pass writes the checkpoint files first, then cleans: the
# clean's write meets the full disk, or (on a slow run, where the
# cleaner's own checkpoint had not yet written c's entry before the disk
# filled) that checkpoint does; either way the cleaner's.
c_failed() {
	grep -q -E "log dir $SC: (c-0|[a-z-]*-checkpoint): No space left on device: the log directory is offline" "$LOG"
}
check "broker $C's cleaner takes its log directory offline" poll 40 c_failed
expect_ok "the cleaner's own line names the partition or its checkpoint" grep -q -E \
	"topic c partition 0: log cleaner: No space left on device|log cleaner: checkpoint [a-z-]*-checkpoint: No space left on device" "$LOG"
cleaner_stopped() {
	grep -q "log cleaner: log dir $SC is offline (No space left on device): its logs are not cleaned until a restart" "$LOG"
}
check "broker $C's cleaner stopped using the directory" poll 20 cleaner_stopped
expect_eq "its clean or checkpoint failed once, not again" 1 \
	"$(grep -c -E "topic c partition 0: log cleaner: No space left on device|log cleaner: checkpoint [a-z-]*-checkpoint: No space left on device" "$LOG")"
CN=$(( C % 3 + 1 ))
c_moved() {
	_cl=$(c_field "$MQ_TMP/mnt$CN" 5)
	[ -n "$_cl" ] && [ "$_cl" != "$C" ] && [ "$_cl" != -1 ]
}
check "the leadership of c moved off broker $C" poll 20 c_moved
CL=$(c_field "$MQ_TMP/mnt$CN" 5)
# Its own cleaner may have compacted c meanwhile: the newest record of
# each key (the last ten written) ends the line view either way.
c_reads() {
	timeout 10 cat "$MQ_TMP/mnt$CL/c/0" >"$MQ_TMP/c.got" 2>/dev/null &&
		[ "$(tail -n 10 "$MQ_TMP/c.got")" = "$(tail -n 10 "$MQ_TMP/c.want")" ]
}
check "mnt$CL (the new leader) reads the newest record of each key of c" poll 20 c_reads

mq_done
