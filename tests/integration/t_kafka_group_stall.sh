#!/bin/sh
# t_kafka_group_stall.sh — kafkajs consumer groups (eager protocol,
# kafkajs_member.js) on a single node:
#   - a member stalls in its processing (no heartbeat, no poll) while
#     another joins: the rebalance ends at the rebalance timeout (5 s,
#     well inside the 30 s session timeout) without it, as Kafka's
#     GroupCoordinator ends it (members that did not rejoin are
#     removed), and the other member takes every partition;
#   - back, the stalled member learns UNKNOWN_MEMBER_ID (kafkajs's
#     heartbeat hears it first; its commit is refused the same) and joins
#     again: the group settles with both;
#   - members join and leave while records are written (churn);
#   - every record is consumed at least once: per partition every offset
#     up to the end, none skipped; once all stopped (one after the other,
#     each after the group settled), each partition's committed offset
#     is its end.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
# shellcheck source=tests/integration/group_lib.sh
. "$LIBDIR/group_lib.sh"
mq_setup
kafkajs_setup

group_node

# member NAME: a member of group cg (rebalance timeout 5 s), its output in
# NAME.out, until NAME.stop exists (at most 240 s); MQ_LAST_PID its pid.
member() {
	mq_bg sh -c 'exec timeout -k 5 240 node "$1/kafkajs_member.js" "$2" t cg "$3" "$4" 5000 \
		>>"$4/$3.out" 2>>"$4/$3.err"' sh "$LIBDIR" "$B" "$1" "$MQ_TMP"
}

produce 1 200
member S
S=$MQ_LAST_PID
poll 60 keys 200 || fail "S consumes the first 200" "$(records | wc -l) records"
poll 60 settled 1 || fail "the group settles with S" "$(last_state)"
SID=$(sed -n 's/.*Kafka group cg: member \([^ ]*\) joins from.*/\1/p' "$LOG" | tail -n 1)

# S stalls on its next record; A joins meanwhile.
touch "$MQ_TMP/S.stall"
produce 201 300
poll 60 grep -q "^S stalled" "$MQ_TMP/S.out" || fail "S stalls" "$(tail -n 3 "$MQ_TMP/S.out")"
member A
A=$MQ_LAST_PID
poll 60 grep -q "member $SID removed (did not rejoin within the rebalance timeout)" "$LOG" ||
	fail "S is removed at the rebalance timeout" "$(last_state)"
expect_eq "S was not removed by its session timeout" 0 \
	"$(grep -c "member $SID removed (session timeout" "$LOG")"
poll 60 settled 1 || fail "the group settles with A alone" "$(last_state)"
poll 60 grep -q "^A assigned 0,1,2,3" "$MQ_TMP/A.out" ||
	fail "A gets every partition" "$(grep assigned "$MQ_TMP/A.out")"
poll 60 keys 300 || fail "A consumes 300" "$(records | wc -l) records"

# S comes back, hears it is no member (its heartbeat or its commit), and
# joins again.
rm "$MQ_TMP/S.stall"
poll 60 grep -q "^S resumed" "$MQ_TMP/S.out" || fail "S resumes" "$(tail -n 3 "$MQ_TMP/S.out")"
poll 60 grep -q "from .* for group cg: unknown member" "$LOG" ||
	fail "S is told UNKNOWN_MEMBER_ID" "$(cat "$MQ_TMP/S.err")"
poll 60 sh -c "[ \$(grep -c 'Kafka group cg: member .* joins from' '$LOG') -ge 3 ]" ||
	fail "S joins again" "$(last_state)"
poll 60 settled 2 || fail "the group settles with S and A" "$(last_state)"

# Churn while records are written: B joins, A leaves, C joins, S leaves.
mq_bg sh -c 'i=301; while [ ! -e "$1/produce.stop" ] && [ $i -lt 1200 ]; do
	seq $i $((i + 49)) | awk "{ print \"k\" \$1 \":v\" \$1 }" |
		timeout 30 kcat -b "$2" -P -t t -K: -z none || exit 1
	echo $((i + 49)) >"$1/produced"; i=$((i + 50)); done' sh "$MQ_TMP" "$B"
P=$MQ_LAST_PID
member B2
B2=$MQ_LAST_PID
poll 60 settled 3 || fail "the group settles with 3" "$(last_state)"
stop_member A "$A" 2
member C
C=$MQ_LAST_PID
poll 60 settled 3 || fail "the group settles with 3 again" "$(last_state)"
stop_member S "$S" 2
touch "$MQ_TMP/produce.stop"
poll 60 stopped "$P" || fail "the producer stops" "still running"
mq_wait "$P" 5
expect_eq "the producer exits 0" 0 "$MQ_RC"
N=$(cat "$MQ_TMP/produced")
poll 60 keys "$N" || fail "every one of the $N records consumed" "$(records | wc -l) records"
stop_member C "$C" 1
stop_member B2 "$B2" 0
ends_consumed_and_committed "$(dirname "$MQFS")/tests/clients/rdk_check"
mq_done
