#!/bin/sh
# t_cluster_preferred_znode.sh — /admin/preferred_replica_election, the
# znode that kafka-preferred-replica-election.sh --zookeeper and older
# admin tools write, in the three-broker cluster with ZooKeeper and
# auto.leader.rebalance.enable=false, so that only the znode moves
# leadership back:
# - t (three replicas): its preferred leader stopped cleanly (leadership
#   moves away) and started again (back in the ISR, still a follower);
#   the znode written with zkCli naming t-0 and a partition that does not
#   exist: the preferred replica leads again on every mount and the znode
#   is deleted; one that is not JSON is deleted too;
# - w (replicas on the two brokers that are not the controller): the same
#   leadership moved away, then the controller frozen, the znode written
#   (no controller reads it) and the controller killed: the next one
#   reads it when it takes office, its preferred replica leads again and
#   the znode is deleted.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
default.replication.factor=2
auto.leader.rebalance.enable=false"
zk_cluster_start
cluster_start3

# leader_of N TOPIC L: broker N's mount names L the leader of TOPIC-0.
leader_of() { [ "$(p0_field "$MQ_TMP/mnt$1" "$2" 5)" = "$3" ]; }
# away TOPIC P X: broker P, TOPIC-0's preferred replica and leader,
# stopped cleanly (X, the other replica, leads) and started again: back
# in the ISR, X still leads (no rebalance).
away() {
	broker_stop "$2"
	expect_eq "broker $2 stopped" "0" "$?"
	check "broker $3 leads $1" poll 30 leader_of "$3" "$1" "$3"
	broker_start "$2"
	check "broker $2 back in $1's ISR" poll 60 p0_isr_is "$MQ_TMP/mnt$3" "$1" "$(set_of "[$2,$3]")"
	check "broker $2 follows (no rebalance)" leader_of "$3" "$1" "$3"
}
# ask TOPIC...: the znode, naming partition 0 of each TOPIC.
ask() {
	_parts=""
	for _t in "$@"; do
		_parts="$_parts${_parts:+,}{\"topic\":\"$_t\",\"partition\":0}"
	done
	zk_cli "$ZKPORT" create /mqfs/admin/preferred_replica_election \
		"{\"version\":1,\"partitions\":[$_parts]}" >>"$LOG" 2>&1
}

# ---- t: leadership moved off its preferred replica, the znode brings it back
# A new topic's first leader is its first replica: the preferred one, P;
# X the other replica.
cluster_mkdir t
P=$(p0_field "$MQ_TMP/mnt1" t 7 | tr -d '[]' | cut -d, -f1)
X=$(p0_field "$MQ_TMP/mnt1" t 7 | tr -d '[]' | cut -d, -f2)
check "broker $P leads t" poll 20 leader_of 1 t "$P"
check "t's ISR holds both replicas" poll 30 p0_isr_is "$MQ_TMP/mnt1" t "$(set_of "[$P,$X]")"
away t "$P" "$X"

ask t nope
for n in 1 2 3; do
	check "mnt$n: broker $P leads t again" poll 30 leader_of "$n" t "$P"
done
check "/admin/preferred_replica_election deleted" poll 20 zgone /admin/preferred_replica_election
check "the controller logged the election" \
	grep -q "controller: t-0: leader [0-9]* -> $P (preferred election, leader epoch" "$LOG"
check "nope-0 was logged as no partition" \
	grep -q "preferred_replica_election: no partition nope-0" "$LOG"
expect_ok "a record through the preferred leader's mount" sh -c "echo back-1 >>'$MQ_TMP/mnt$P/t/0'"
for n in 1 2 3; do
	check "mnt$n reads it" poll 20 grep -qx back-1 "$MQ_TMP/mnt$n/t/0"
done

zk_cli "$ZKPORT" create /mqfs/admin/preferred_replica_election 'garbage{' >>"$LOG" 2>&1
check "a document that is not JSON is deleted" poll 20 zgone /admin/preferred_replica_election
check "and logged" grep -q "preferred_replica_election: not JSON" "$LOG"

# ---- w: the znode made while the controller is frozen, read by the next ---
cluster_mkdir w
move_off_controller w
check "w's ISR is $D and $M" poll 30 p0_isr_is "$MQ_TMP/mnt$D" w "$(set_of "[$D,$M]")"
# Leadership moved off D, w's preferred replica, unless it is already.
if leader_of "$M" w "$D"; then
	away w "$D" "$M"
else
	check "broker $M leads w" poll 30 leader_of "$M" w "$M"
fi
check "broker $K is still the controller" \
	sh -c "timeout 5 grep -qx controller.active=yes '$MQ_TMP/mnt$K/.state'"
eval "PK=\$PID$K"
FROZE=$K
check "broker $K (the controller) frozen" stop_broker "$PK"
ask w
mq_kill9 "$MQ_TMP/mnt$K" "$PK"
thaw_pid "$PK" 2>/dev/null # dead: only its name leaves FROZEN
FROZE=""
check "a new controller" poll 60 has_controller
for n in $D $M; do
	check "mnt$n: broker $D leads w again" poll 30 leader_of "$n" w "$D"
done
check "/admin/preferred_replica_election deleted" poll 20 zgone /admin/preferred_replica_election
broker_start "$K"
for n in 1 2 3; do
	check "mnt$n lists three brokers alive" poll 60 alive_on "$MQ_TMP/mnt$n" 3
done
check "mnt$K: broker $D leads w" poll 30 leader_of "$K" w "$D"

mq_done
