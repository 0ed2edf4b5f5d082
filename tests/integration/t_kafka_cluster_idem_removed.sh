#!/bin/sh
# t_kafka_cluster_idem_removed.sh — an idempotent producer whose batches
# DeleteRecords removed from every replica is still known to the next
# leader, from that replica's own producer-snapshot (written before its
# log start moved, as a follower): in the three-broker cluster,
# kafka_idempotent.py's batches A (sequences 0-1) and B (2) go to the
# leader, a mount's record follows them, and DeleteRecords below it
# removes them on the leader and, through their fetches, on the
# followers. The leader is killed (kill -9); the producer's batches sent
# to the new leader are answered with the offsets they had, not appended
# again, and a gap is refused. DescribeProducers lists the producer on
# the leader (its last sequence, epoch), on a follower (the same
# producer, every field: its own state, kept by its appends) and on the
# new leader before any produce there.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

kafkajs_setup
zk_cluster_start
cluster_start3
KAFKA_SASL_USER="admin"
KAFKA_SASL_PASSWORD=admin-secret
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD

# led_by_other MNT OLD: d/0 has a live leader other than OLD.
led_by_other() {
	_l=$(p0_field "$1" d 5)
	[ -n "$_l" ] && [ "$_l" != "$2" ] && [ "$_l" != "-1" ]
}
# start_at N: every replica's d/0 starts at N (.state's log start).
start_at() {
	for _m in 1 2 3; do
		[ "$(p0_field "$MQ_TMP/mnt$_m" d 2)" = "$1" ] || return 1
	done
}

cluster_mkdir d
check "d: three replicas in the ISR" poll 30 p0_isr_is "$MQ_TMP/mnt1" d 1,2,3
L=$(p0_field "$MQ_TMP/mnt1" d 5)
eval "LP=\$PORT$L LPID=\$PID$L"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "127.0.0.1:$LP" d 2>&1)
echo "$out" | sed 's/^/# /'
pid=$(echo "$out" | awk '/^pid/ { print $2 }')
expect_eq "d: A at 0, B at 2 on leader $L" "A 0 0 B 0 2" \
	"$(echo "$out" | awk '/^(A|B) / { printf "%s%s %s %s", s, $1, $2, $3; s=" " }')"
# dp N: DescribeProducers of d-0 sent to broker N, one line.
dp() {
	mq_run python3 "$LIBDIR/kafka_raw.py" describe-producers 127.0.0.1 "$(eval "echo \$PORT$1")" \
		admin admin-secret d 0 2>&1 | awk '{ printf "%s%s %s", s, $1, $2; if ($1 == "producer") printf " %s %s %s %s", $3, $4, $5, $6; s="/" }'
}
# dp_all N: broker N's whole answer, one line; dp_same N ANSWER: it is ANSWER.
dp_all() {
	mq_run python3 "$LIBDIR/kafka_raw.py" describe-producers 127.0.0.1 "$(eval "echo \$PORT$1")" \
		admin admin-secret d 0 2>&1 | paste -sd/ -
}
dp_same() {
	[ "$(dp_all "$1")" = "$2" ]
}
expect_eq "DescribeProducers to leader $L: producer $pid, epoch 0, last sequence 2" \
	"error 0/producer $pid epoch 0 last_sequence 2" "$(dp "$L")"
lead=$(dp_all "$L")
echo "# leader $L: $lead"
for F in $((L % 3 + 1)) $(((L + 1) % 3 + 1)); do
	check "DescribeProducers to follower $F: the leader's answer (id, epoch, last sequence, timestamp)" \
		poll 20 dp_same "$F" "$lead"
done
expect_ok "a record m1 through mnt$L" sh -c "printf 'm1\n' >>'$MQ_TMP/mnt$L/d/0'"
expect_eq "DeleteRecords below 3: every batch of the producer, on every replica" \
	"ok low=3 high=4" "$(admin "$L" delete-records d 0 3)"
check "every replica's log starts at 3" poll 20 start_at 3
for n in 1 2 3; do
	expect_ok "b$n: d-0/producer-snapshot written" test -s "$MQ_TMP/b$n/data/d-0/producer-snapshot"
done

mq_kill9 "$MQ_TMP/mnt$L" "$LPID"
ok "leader $L killed (kill -9)"
O=$((L % 3 + 1))
check "a new leader" poll 40 led_by_other "$MQ_TMP/mnt$O" "$L"
N=$(p0_field "$MQ_TMP/mnt$O" d 5)
eval "NP=\$PORT$N"
expect_eq "DescribeProducers to new leader $N: the producer, from its snapshot" \
	"error 0/producer $pid epoch 0 last_sequence 2" "$(dp "$N")"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "127.0.0.1:$NP" d "$pid" 2>&1)
echo "$out" | sed 's/^/# /'
expect_eq "new leader $N: A and B, no longer in the log, answered with their offsets, a gap refused" \
	"A 0 0/A-again 0 0/B 0 2/gap 45 -1" "$(echo "$out" | sed -n '2,5p' | paste -sd/)"
expect_eq "d/0 on mnt$N: nothing appended again" "m1" "$(timeout 10 cat "$MQ_TMP/mnt$N/d/0")"

mq_done
