#!/bin/sh
# t_cluster_fetch_from_follower.sh — consumers fetch from the closest
# replica (Kafka's KIP-392): brokers 1, 2, 3 in racks r1, r2, r3, each
# with replica.selector.class=RackAwareReplicaSelector; topic t (3
# partitions, replication factor 3). On a partition P whose leader is not
# broker 2:
#   - kcat with client.rack=r2 reads every record once and in order, and
#     broker 2, P's follower in r2, served its fetches (its .metrics'
#     mqfs_follower_consumer_fetches_total and ..._bytes_total), the
#     leader having answered it a preferred read replica
#     (mqfs_preferred_read_replica_answers_total);
#   - kcat without client.rack reads from the leader only: no follower's
#     counters move;
#   - a kcat with client.rack=r2 waiting at P's end (its fetch parked on
#     broker 2) gets a record written afterwards, once broker 2's hw
#     covers it;
#   - a replica.selector.class mqfs does not have stops the broker at its
#     start, the setting named.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

N=300
CLUSTER_CONF="num.partitions=3
replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector"
zk_cluster_start
for n in 1 2 3; do
	eval "PORT$n=\$(zk_free_port)"
	eval "conf $n \$PORT$n"
	echo "broker.rack=r$n" >>"$MQ_TMP/b$n/server.properties"
done
for n in 1 2 3; do
	broker_start "$n"
done
for n in 1 2 3; do
	check "mnt$n: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 3
done
expect_eq "mnt2/.config shows replica.selector.class" \
	"replica.selector.class=org.apache.kafka.common.replica.RackAwareReplicaSelector" \
	"$(grep '^replica.selector.class=' "$MQ_TMP/mnt2/.config")"

cluster_mkdir t
# row P FIELD: field FIELD of partition P's row of mnt1/t/.state
# (partition, log start, hw, leo, leader, leader epoch, replicas, isr).
row() {
	timeout 5 awk -v p="$1" -v f="$2" '$1 == p { print $f }' "$MQ_TMP/mnt1/t/.state" \
		2>/dev/null
}
all_isr() {
	for _p in 0 1 2; do
		[ "$(set_of "$(row "$_p" 8)")" = "1,2,3" ] || return 1
	done
}
check "t: every partition's ISR is 1,2,3" poll 30 all_isr
P=""
for p in 0 1 2; do
	[ "$(row "$p" 5)" != 2 ] && P=$p && break
done
L=$(row "$P" 5)
expect_ok "t-$P is led by broker $L, not broker 2 (r2)" test -n "$P" -a "$L" != 2

# metric N NAME: NAME's value in mntN/.metrics.
metric() {
	timeout 5 awk -v m="$2" '$1 == m { print $2 }' "$MQ_TMP/mnt$1/.metrics" 2>/dev/null
}

seq 1 "$N" | sed 's/^/rec-/' >"$MQ_TMP/want"
expect_ok "$N records written to mnt1/t/$P" sh -c \
	"cat '$MQ_TMP/want' >>'$MQ_TMP/mnt1/t/$P'"
hw_on2() { [ "$(timeout 5 awk -v p="$P" '$1 == p { print $3 }' "$MQ_TMP/mnt2/t/.state" \
	2>/dev/null)" = "$N" ]; }
check "broker 2's replica of t-$P has hw $N" poll 30 hw_on2

# kread RACK: kcat reads t-P from the start to its end (client.rack RACK
# when not empty), the records' values into MQ_TMP/got.
kread() {
	if [ -n "$1" ]; then
		kc "$L" -C -t t -p "$P" -o beginning -e -q -f '%s\n' -X client.rack="$1" \
			>"$MQ_TMP/got" 2>>"$LOG"
	else
		kc "$L" -C -t t -p "$P" -o beginning -e -q -f '%s\n' >"$MQ_TMP/got" 2>>"$LOG"
	fi
}

F0=$(metric 2 mqfs_follower_consumer_fetches_total)
expect_eq "broker 2 served no consumer fetch yet" 0 "$F0"
kread r2
expect_eq "kcat client.rack=r2: every record once, in order" "" \
	"$(cmp "$MQ_TMP/want" "$MQ_TMP/got" 2>&1)"
F1=$(metric 2 mqfs_follower_consumer_fetches_total)
B1=$(metric 2 mqfs_follower_consumer_fetch_bytes_total)
expect_ok "broker 2 (the r2 follower) served its fetches ($F1)" test "${F1:-0}" -gt 0
expect_ok "with the records' bytes ($B1)" test "${B1:-0}" -ge "$(wc -c <"$MQ_TMP/want")"
expect_ok "the leader, broker $L, answered it a preferred read replica" \
	test "$(metric "$L" mqfs_preferred_read_replica_answers_total)" -gt 0

# Without client.rack: the leader serves it, no follower does.
O=$(for n in 1 2 3; do [ "$n" != "$L" ] && metric "$n" mqfs_follower_consumer_fetches_total; done |
	paste -sd, -)
kread ""
expect_eq "kcat without client.rack: every record once, in order" "" \
	"$(cmp "$MQ_TMP/want" "$MQ_TMP/got" 2>&1)"
expect_eq "no follower served it" "$O" \
	"$(for n in 1 2 3; do [ "$n" != "$L" ] && metric "$n" mqfs_follower_consumer_fetches_total; done |
		paste -sd, -)"

# A consumer waiting at the end, on broker 2: a record written later
# reaches it.
F2=$(metric 2 mqfs_follower_consumer_fetches_total)
mq_bg timeout -k 5 60 kcat -b "127.0.0.1:$(eval "echo \$PORT$L")" $SASL -C -t t -p "$P" \
	-o "$N" -c 1 -q -f '%s\n' -X client.rack=r2 >"$MQ_TMP/late" 2>>"$LOG"
KPID=$MQ_LAST_PID
fetching2() { [ "$(metric 2 mqfs_follower_consumer_fetches_total)" -gt "$((F2 + 1))" ]; }
check "the waiting consumer fetches from broker 2" poll 30 fetching2
expect_ok "one more record written to mnt1/t/$P" sh -c \
	"echo late-one >>'$MQ_TMP/mnt1/t/$P'"
mq_wait "$KPID" 30
expect_eq "the waiting consumer got it (exit $MQ_RC)" "late-one" "$(cat "$MQ_TMP/late")"

# A selector class mqfs does not have: the broker does not start.
PORT4=$(zk_free_port)
conf 4 "$PORT4"
echo "replica.selector.class=com.example.NearestSelector" >>"$MQ_TMP/b4/server.properties"
mkdir -p "$MQ_TMP/mnt4"
mq_run "$MQFS" -f --config "$MQ_TMP/b4/server.properties" "$MQ_TMP/mnt4" >"$MQ_TMP/b4.out" 2>&1
expect_eq "an unknown replica.selector.class stops the broker" 1 "$?"
check "its refusal names the setting" grep -q "replica.selector.class" "$MQ_TMP/b4.out"
mq_done
