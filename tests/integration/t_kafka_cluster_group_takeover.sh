#!/bin/sh
# t_kafka_cluster_group_takeover.sh — a Kafka consumer group survives the
# kill -9 of its coordinator with its members (Kafka's GroupMetadata
# record in __consumer_offsets): three brokers and ZooKeeper on loopback,
# a replicated topic of two partitions, one librdkafka consumer (kcat -G)
# bootstrapped from the two brokers that do not coordinate the group,
# which commits only when it stops (auto.commit.interval.ms far away):
#   - it reads the first records, then its coordinator is killed (kill -9);
#   - the broker that takes over the group's __consumer_offsets partition
#     loads the group Stable with the consumer as its member;
#   - records written after the kill reach the consumer, and no record is
#     delivered twice (a consumer told UNKNOWN_MEMBER_ID joins again and,
#     nothing committed, reads its partitions again from the start);
#   - the consumer joined once (one member id in the brokers' log and in
#     its own debug log, no UNKNOWN_MEMBER_ID on either side); when it
#     stops, its commit and its LeaveGroup, with the member id it had
#     before the kill, are taken by the new coordinator.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=2"
zk_cluster_start
cluster_start3

isr3() {   # isr3 MNT: three replicas in the ISR of both partitions of c
	for _p in 0 1; do
		[ "$(timeout 5 awk -v p="$_p" '$1 == p { print $8 }' "$1/c/.state" 2>/dev/null |
			tr -d '[]' | tr ',' '\n' | grep -c .)" = 3 ] || return 1
	done
}
cluster_mkdir c
check "c: three replicas in each ISR" poll 30 isr3 "$MQ_TMP/mnt1"

# The coordinator of group tk (FindCoordinator makes __consumer_offsets).
coord_known() {
	C=$(group_coordinator tk 1)
	case $C in 1 | 2 | 3) return 0 ;; *) return 1 ;; esac
}
check "FindCoordinator tk names a broker" poll 40 coord_known
A=$((C % 3 + 1))
B=$((A % 3 + 1))
eval "PA=\$PORT$A PB=\$PORT$B"
echo "# tk is coordinated by broker $C; survivors $A and $B" >>"$LOG"

# recs TAG N P: the values TAG-P-1..TAG-P-N, one a line.
recs() {
	_i=1
	while [ "$_i" -le "$2" ]; do
		echo "$1-$3-$_i"
		_i=$((_i + 1))
	done
}
# put TAG N MNT_N: recs TAG N into each partition through mntN.
put() {
	for _p in 0 1; do
		recs "$1" "$2" "$_p" >"$MQ_TMP/put"
		mq_run sh -c "cat '$MQ_TMP/put' >> '$MQ_TMP/mnt$3/c/$_p'" || return 1
	done
}
# values TAG N: the values put TAG N writes, sorted.
values() {
	{ recs "$1" "$2" 0; recs "$1" "$2" 1; } | sort
}
check "put a-1..a-5 through mnt$A" put a 5 "$A"

# Its session outlasts the takeover: from the kill, the dead broker's
# ZooKeeper session (4 s), the election of a new leader of the group's
# __consumer_offsets partition, its load of the group and the consumer's
# FindCoordinator (5 s under ASan with the CPUs busy). With no heartbeat
# answered for session.timeout.ms, librdkafka gives its member id up and
# joins again: a second join, and the records read again.
# shellcheck disable=SC2086 # SASL is a list of arguments
mq_bg sh -c "exec kcat -b 127.0.0.1:$PA,127.0.0.1:$PB $SASL -G tk -u -f '%s\n' -d cgrp \
	-X session.timeout.ms=30000 -X heartbeat.interval.ms=300 \
	-X auto.offset.reset=earliest -X enable.auto.commit=true \
	-X auto.commit.interval.ms=600000 -X topic.metadata.refresh.interval.ms=1000 \
	c >'$MQ_TMP/out' 2>'$MQ_TMP/kcat.log'"
KPID=$MQ_LAST_PID
has_lines() {   # has_lines N: the consumer printed N records
	[ "$(grep -c . "$MQ_TMP/out" 2>/dev/null)" -ge "$1" ]
}
check "the consumer reads the first ten records" poll 30 has_lines 10

MID=$(sed -n 's/.*Kafka group tk: member \([^ ]*\) joins from.*/\1/p' "$LOG" | head -n 1)
if [ -n "$MID" ]; then
	ok "the consumer is member $MID"
else
	fail "the consumer's member id" "none logged"
fi
# What the log says from the kill on.
KILLED_AT=$(wc -l <"$LOG")
after_kill() {
	tail -n +"$((KILLED_AT + 1))" "$LOG"
}

eval "CPID=\$PID$C"
mq_kill9 "$MQ_TMP/mnt$C" "$CPID"
ok "coordinator $C killed (kill -9)"
loaded() {
	after_kill | grep -q "Kafka group tk: loaded Stable, generation [0-9]*, protocol [a-z]*, leader $MID, 1 members"
}
check "a survivor loads tk Stable with member $MID" poll 40 loaded

check "put b-1..b-5 through mnt$A" put b 5 "$A"
check "the consumer reads the new records" poll 40 has_lines 20
# A consumer unknown to the new coordinator hears UNKNOWN_MEMBER_ID at its
# next heartbeat there: a few heartbeats after the new records came, it
# would have.
HB_AT=$(grep -c 'Heartbeat for group "tk"' "$MQ_TMP/kcat.log")
heartbeats() {
	[ "$(grep -c 'Heartbeat for group "tk"' "$MQ_TMP/kcat.log")" -ge "$((HB_AT + 3))" ]
}
check "the consumer heartbeats on" poll 20 heartbeats

mq_stop "$KPID"
expect_eq "every record once (none delivered again)" "$( (values a 5; values b 5) | sort)" \
	"$(sort "$MQ_TMP/out")"
expect_eq "the consumer joined once" 1 "$(grep -c 'Kafka group tk: member .* joins from' "$LOG")"
expect_eq "no UNKNOWN_MEMBER_ID in the consumer's debug log" 0 \
	"$(grep -ci 'unknown member' "$MQ_TMP/kcat.log")"
expect_eq "no unknown member of tk in the brokers' log" 0 \
	"$(after_kill | grep -c 'for group tk: unknown member')"
left() {
	after_kill | grep -q "Kafka group tk: member $MID removed (it left)"
}
check "its LeaveGroup at the new coordinator names member $MID" poll 30 left
committed() {
	[ "$(cat "$MQ_TMP/mnt$A/c/.groups/tk/0" "$MQ_TMP/mnt$A/c/.groups/tk/1" 2>/dev/null |
		tr '\n' ' ')" = "10 10 " ]
}
check "its commit at the new coordinator (mnt$A shows it)" poll 30 committed

mq_done
