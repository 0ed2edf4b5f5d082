#!/bin/sh
# t_kafka_group_poll_stall.sh — a librdkafka member (rdk_check member,
# eager range assignor, a commit per record) stops polling (an
# application busy past max.poll.interval.ms, 8 s here) while another
# member joins, on a single node:
#   - it is removed: either the rebalance ends at the rebalance timeout
#     (librdkafka's is its max.poll.interval.ms) without it, as Kafka's
#     GroupCoordinator ends it, and its own LeaveGroup (librdkafka's, once
#     max.poll.interval.ms passed) is refused UNKNOWN_MEMBER_ID after; or
#     that LeaveGroup comes first; the two others share every partition;
#   - back, it joins again and the group settles with three;
#   - every record is consumed at least once (per partition every offset
#     up to the end, none skipped) and, once all stopped (one after the
#     other, each after the group settled), each partition's committed
#     offset is its end.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
# shellcheck source=tests/integration/group_lib.sh
. "$LIBDIR/group_lib.sh"
mq_setup

RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
[ -x "$RDK" ] || { fail "rdk_check" "not built at $RDK"; mq_done; }

group_node

# member NAME [-X k=v]...: rdk_member, max.poll.interval.ms 8 s.
member() {
	_n=$1
	shift
	rdk_member "$_n" -X session.timeout.ms=6000 -X max.poll.interval.ms=8000 \
		-X auto.offset.reset=earliest "$@"
}

produce 1 200
member A -X enable.auto.commit=false
A=$MQ_LAST_PID
poll 60 settled 1 || fail "the group settles with A" "$(last_state)"
AID=$(sed -n 's/.*Kafka group cg: member \([^ ]*\) joins from.*/\1/p' "$LOG" | tail -n 1)
member B2
B2=$MQ_LAST_PID
poll 60 keys 200 || fail "A and B2 consume the first 200" "$(records | wc -l) records"
poll 60 settled 2 || fail "the group settles with 2" "$(last_state)"

# A stops polling; C joins meanwhile.
touch "$MQ_TMP/A.stall"
poll 30 grep -q "^A stalled" "$MQ_TMP/A.out" || fail "A stalls" "$(tail -n 2 "$MQ_TMP/A.out")"
member C
C=$MQ_LAST_PID
# Which comes first is a race: the rebalance timeout (from C's join) or
# librdkafka's own LeaveGroup (from A's last poll, a little earlier).
removed() {
	grep -Eq "member $AID removed \((did not rejoin within the rebalance timeout|it left)\)" \
		"$LOG"
}
poll 60 removed || fail "A is removed" "$(last_state)"
poll 60 settled 2 || fail "the group settles with B2 and C" "$(last_state)"
if grep -q "member $AID removed (did not rejoin" "$LOG"; then
	poll 60 grep -q "LeaveGroup from .* for group cg: unknown member $AID" "$LOG" ||
		fail "A's own LeaveGroup, after, is refused UNKNOWN_MEMBER_ID" "$(last_state)"
fi
produce 201 400
poll 60 keys 400 || fail "B2 and C consume 400" "$(records | wc -l) records"

# A is back: it joins again.
rm "$MQ_TMP/A.stall"
poll 60 sh -c "[ \$(grep -c 'Kafka group cg: member .* joins from' '$LOG') -ge 4 ]" ||
	fail "A joins again" "$(last_state)"
poll 60 settled 3 || fail "the group settles with 3" "$(last_state)"
produce 401 600
poll 60 keys 600 || fail "the three consume 600" "$(records | wc -l) records"

stop_member C "$C" 2
stop_member B2 "$B2" 1
stop_member A "$A" 0
ends_consumed_and_committed "$RDK"
mq_done
