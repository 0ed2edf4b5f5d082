#!/bin/sh
# t_kafka_group_churn.sh — librdkafka consumer groups (rdk_check member:
# rd_kafka_subscribe) on a single node while members come and go, with
# the cooperative-sticky assignor (incremental rebalances, KIP-429) and
# static membership (group.instance.id, KIP-345):
#   - two members split four partitions; a third joins: the group
#     settles with three, every partition owned;
#   - a static member stops (no LeaveGroup, as librdkafka's static
#     members do) and its instance comes back: it takes its old
#     assignment without a rebalance (the generation stays);
#   - a second client of the same instance replaces it: the first is
#     fenced (FENCED_INSTANCE_ID, a fatal error for librdkafka), the group
#     does not rebalance;
#   - every record, written before, between and after, is consumed at
#     least once: per partition every offset up to the end, none skipped;
#     once all stopped (one after the other, each after the group
#     settled), each partition's committed offset (auto commits and one
#     member's manual commits alike) is its end.

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

# member NAME [-X k=v]...: rdk_member with the cooperative-sticky assignor.
member() {
	_n=$1
	shift
	rdk_member "$_n" -X session.timeout.ms=10000 -X auto.offset.reset=earliest \
		-X partition.assignment.strategy=cooperative-sticky "$@"
}
# The partitions the members own now: each member's assigned minus revoked.
owned() {
	for f in "$MQ_TMP"/*.out; do
		awk '$2 == "assigned" || $2 == "revoked" {
			n = split($3, p, ",")
			for (i = 1; i <= n; i++) if (p[i] != "-") own[p[i]] = ($2 == "assigned")
		}
		END { for (q in own) if (own[q]) print q }' "$f"
	done | sort -n | tr '\n' ' '
}

produce 1 200
member A -X group.instance.id=i1
A=$MQ_LAST_PID
member B2 -X enable.auto.commit=false
B2=$MQ_LAST_PID
poll 60 keys 200 || fail "two members consume the first 200" "$(records | wc -l) records"
poll 60 settled 2 || fail "the group settles with 2" "$(last_state)"
member C
C=$MQ_LAST_PID
poll 60 settled 3 || fail "the group settles with 3" "$(last_state)"
poll 60 sh -c "grep -q 'assigned [0-9]' '$MQ_TMP/C.out'" || fail "C gets partitions" "$(cat "$MQ_TMP/C.out")"
expect_eq "every partition owned once" "0 1 2 3 " "$(owned)"
produce 201 400
poll 60 keys 400 || fail "three members consume 400" "$(records | wc -l) records"

# A static member stops without leaving and its instance comes back.
gen=$(last_state | sed -n 's/.*generation \([0-9]*\),.*/\1/p')
rebalances=$(grep -c "Kafka group cg: .*-> PreparingRebalance" "$LOG")
touch "$MQ_TMP/A.stop"
poll 60 stopped "$A" || fail "A stops" "still running"
member A2 -X group.instance.id=i1
A2=$MQ_LAST_PID
poll 60 grep -q "keeps its instance's assignment in generation $gen (no rebalance)" "$LOG" ||
	fail "A2 takes i1's place without a rebalance" "$(last_state)"
produce 401 600
poll 60 keys 600 || fail "A2 with B2 and C consume 600" "$(records | wc -l) records"

# A second client of instance i1: the first is fenced, no rebalance.
member A3 -X group.instance.id=i1
A3=$MQ_LAST_PID
poll 60 sh -c "[ \$(grep -c \"keeps its instance's assignment in generation $gen\" '$LOG') -eq 2 ]" ||
	fail "A3 replaces A2 without a rebalance" "$(last_state)"
poll 60 stopped "$A2" || fail "A2 ends, fenced" "still running"
expect_ok "A2 was told FENCED_INSTANCE_ID" grep -q "^A2 fatal: .*fenced" "$MQ_TMP/A2.out"
produce 601 800
poll 60 keys 800 || fail "A3 with B2 and C consume 800" "$(records | wc -l) records"
expect_eq "the group did not rebalance since" "$rebalances" \
	"$(grep -c "Kafka group cg: .*-> PreparingRebalance" "$LOG")"

# One at a time, each after the group settled: a member's last commit
# (at its close) made while the group completes a rebalance another's
# leaving started is refused REBALANCE_IN_PROGRESS, as by Kafka, and
# would leave its partitions' commits behind their ends.
touch "$MQ_TMP/C.stop"
poll 60 stopped "$C" || fail "C stops" "still running"
poll 60 settled 2 || fail "the group settles with 2" "$(last_state)"
touch "$MQ_TMP/B2.stop"
poll 60 stopped "$B2" || fail "B2 stops" "still running"
poll 60 settled 1 || fail "the group settles with 1" "$(last_state)"
touch "$MQ_TMP/A3.stop"
poll 60 stopped "$A3" || fail "A3 stops" "still running"
ends_consumed_and_committed "$RDK"
mq_done
