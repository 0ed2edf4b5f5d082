#!/bin/sh
# t_kafka_idem_restart.sh — librdkafka's idempotent producer (rdk_check
# idem: enable.idempotence, acks=all, five requests in flight) keeps
# sending to a single node while the daemon is killed (kill -9: no state
# saved) and later stopped cleanly, each time started again on the same
# data and port. The client sends its unanswered requests again with the
# same producer id, epoch and sequences; the restarted broker must know
# them from the producer state it rebuilds from the log's batch headers
# and answer them with their offsets, not append them twice, nor refuse
# the next ones as out of order. Checks the client's report (every record
# delivered, at consecutive offsets, no fatal error) and the partition:
# each record once, in the order sent. Then a producer whose batches
# DeleteRecords removed, known again after a kill -9 (producer-snapshot),
# and one whose batches lie below the producer checkpoint the retention
# check writes at the newest segment behind the hw (producer-checkpoint);
# and the clean stop's checkpoint of a partition only the mount wrote.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
[ -x "$RDK" ] || { fail "rdk_check" "not built at $RDK"; mq_done; }

mq_mount_listener log.retention.check.interval.ms=200
expect_ok "mkdir t" mkdir "$MNT/t"

lines() { timeout 10 cat "$MNT/t/0" 2>/dev/null | wc -l; }
# more_than N: the partition holds more than N records.
more_than() { [ "$(lines)" -gt "$1" ] 2>/dev/null; }

mq_bg sh -c "exec \"\$0\" \"\$@\" >'$MQ_TMP/r.out' 2>'$MQ_TMP/r.err'" "$RDK" -b "$B" \
	idem t 0 r "$MQ_TMP/r.stop"
PROD=$MQ_LAST_PID

check "records arrive" poll 60 more_than 200
mq_kill9
mq_mount --config "$MQ_TMP/server.properties"
n=$(lines)
check "after the kill -9: the client goes on" poll 60 more_than $((n + 200))
mq_umount
# The clean stop kept the producers at the log end: the next load reads
# no batch header (engine/prodsnap.c's producer-checkpoint).
expect_ok "the clean stop writes t-0/producer-checkpoint" test -s "$DATA/t-0/producer-checkpoint"
mq_mount --config "$MQ_TMP/server.properties"
n=$(lines)
check "after the clean stop: the client goes on" poll 60 more_than $((n + 200))

: >"$MQ_TMP/r.stop"
mq_wait "$PROD" 200
expect_eq "the producer exits 0" "0" "$MQ_RC"
idem_report t "$MQ_TMP/r.out" "$MQ_TMP/r.err"
N=$IDEM_N
expect_eq "t/0: the ${N:-0} records delivered, each once, in order" \
	"$(seq 0 $((${N:-0} - 1)) | sed 's/^/r-v/')" "$(timeout 10 cat "$MNT/t/0")"

# A producer's crafted batches (kafka_idempotent.py) around a kill -9:
# the rebuilt state answers its last two batches as duplicates with their
# offsets, refuses a gap, and keeps its epoch: an older one is fenced.
expect_ok "mkdir c" mkdir "$MNT/c"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" c 2>&1)
echo "$out" | sed 's/^/# /'
pid=$(echo "$out" | awk '/^pid/ { print $2 }')
expect_eq "c: A at 0, B at 2" "A 0 0 B 0 2" "$(echo "$out" | awk '/^(A|B) / { printf "%s%s %s %s", s, $1, $2, $3; s=" " }')"
mq_kill9
mq_mount --config "$MQ_TMP/server.properties"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" c "$pid" 2>&1)
echo "$out" | sed 's/^/# /'
expect_eq "after a kill -9: A and B sent again are answered with their offsets, a gap refused" \
	"A 0 0/A-again 0 0/B 0 2/gap 45 -1" "$(echo "$out" | sed -n '2,5p' | paste -sd/)"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" c fence "$pid" 0 2>&1)
expect_eq "epoch rules: a new epoch starts at 0, an older one is INVALID_PRODUCER_EPOCH" \
	"bump-seq1 45 -1/bump 0 3/old-epoch 47 -1" "$(echo "$out" | paste -sd/)"
mq_kill9
mq_mount --config "$MQ_TMP/server.properties"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" c fence "$pid" 1 2>&1)
expect_eq "after another kill -9: epoch 1 known from the log, epoch 2 starts at 0, then 1 is fenced" \
	"bump-seq1 45 -1/bump 0 4/old-epoch 47 -1" "$(echo "$out" | paste -sd/)"
expect_eq "c/0: each record once" "$(printf 'idem-1\nidem-2\nidem-3\nbump-0\nbump-0')" \
	"$(timeout 10 cat "$MNT/c/0")"

# A producer whose batches DeleteRecords all removed (kafkajs's admin)
# stays known after a kill -9, from the log's producer-snapshot: its
# batches sent again are answered with the offsets they had, not
# appended again, and a gap is refused.
#
# idem_first TOPIC: a new producer's batches A (2 records) and B into
# TOPIC, its id in $pid. idem_again TOPIC WHAT: after a kill -9 and a
# restart, the same producer's A and B sent again, then a gap.
idem_first() {
	out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" "$1" 2>&1)
	echo "$out" | sed 's/^/# /'
	pid=$(echo "$out" | awk '/^pid/ { print $2 }')
	expect_eq "$1: A at 0, B at 2" "A 0 0 B 0 2" \
		"$(echo "$out" | awk '/^(A|B) / { printf "%s%s %s %s", s, $1, $2, $3; s=" " }')"
}
idem_again() {
	mq_kill9
	mq_mount --config "$MQ_TMP/server.properties"
	out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" "$1" "$pid" 2>&1)
	echo "$out" | sed 's/^/# /'
	expect_eq "after a kill -9: A and B, $2, answered with their offsets, a gap refused" \
		"A 0 0/A-again 0 0/B 0 2/gap 45 -1" "$(echo "$out" | sed -n '2,5p' | paste -sd/)"
}
kafkajs_setup
expect_ok "mkdir d" mkdir "$MNT/d"
idem_first d
printf 'm1\n' >>"$MNT/d/0"
expect_eq "DeleteRecords below 3: every batch of the producer" "ok low=3 high=4" \
	"$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_admin.js" "$B" delete-records d 0 3 2>&1)"
expect_ok "d-0/producer-snapshot written" test -s "$DATA/d-0/producer-snapshot"
idem_again d "no longer in the log"
expect_eq "d/0: nothing appended again" "m1" "$(timeout 10 cat "$MNT/d/0")"

# A producer whose batches are below the producer checkpoint: segments
# of 1 KiB, lines after its batches until a few segments are closed, the
# retention check's checkpoint polled for; after a kill -9 the state is
# the checkpoint's and the log's after it: the batches sent again are
# answered with their offsets, a gap is refused.
expect_ok "mkdir k" mkdir "$MNT/k"
expect_ok "k: segment.bytes=1024" sh -c "echo segment.bytes=1024 > '$MNT/k/.config'"
idem_first k
expect_ok "k: 40 lines after them, a write each" sh -c "for i in \$(seq 1 40); do
	echo line-with-some-length-\$i >> '$MNT/k/0' || exit 1; done"
# ckpt_end P: the offset partition P's producer checkpoint ends at.
ckpt_end() {
	od -An -tu1 -j8 -N8 "$DATA/$1/producer-checkpoint" 2>/dev/null |
		awk '{ for (i = 1; i <= NF; i++) v = v * 256 + $i } END { print v + 0 }'
}
ckpt_past_b() { # the checkpoint exists and ends past B's batch (offset 2)
	[ -s "$DATA/k-0/producer-checkpoint" ] && [ "$(ckpt_end k-0)" -gt 3 ]
}
check "k-0/producer-checkpoint written past the producer's batches" poll 30 ckpt_past_b
idem_again k "below the checkpoint"
expect_eq "k/0: each record once" "43" "$(timeout 10 cat "$MNT/k/0" | wc -l)"

# A partition that only the mount wrote since the start (no producer
# state loaded there): the clean stop writes its checkpoint at the log
# end all the same (from the last one and the headers after it), so the
# next start's first idempotent Produce reads no batch header.
expect_ok "mkdir m" mkdir "$MNT/m"
expect_ok "m: segment.bytes=1024" sh -c "echo segment.bytes=1024 > '$MNT/m/.config'"
expect_ok "m: 40 lines, a write each" sh -c "for i in \$(seq 1 40); do
	echo line-with-some-length-\$i >> '$MNT/m/0' || exit 1; done"
mq_umount
expect_eq "the clean stop writes m-0/producer-checkpoint at the log end" "40" "$(ckpt_end m-0)"
mq_mount --config "$MQ_TMP/server.properties"

mq_done
