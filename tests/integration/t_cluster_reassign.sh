#!/bin/sh
# t_cluster_reassign.sh — moving a partition's replicas between brokers
# (Kafka's kafka-reassign-partitions.sh) in the three-broker cluster.
#
# Topic t has two replicas, L (its leader) and R; O has none. Records are
# written, then /admin/reassign_partitions asks for [R,O]: the leader
# leaves. O is frozen (SIGSTOP) before, so that the move stays in the
# middle: the topic znode names O adding and L removing, .state shows it,
# records written then are acknowledged, and the controller is killed
# with SIGKILL and started again; O thawed, the next controller completes
# the move from the topic znode: t's replicas are [R,O], one of them
# leads, the request znode is gone, L's log directory is gone, every
# mount (L's through its read copy) reads every record once, and a
# tail -f started on L's mount while L was a replica goes on across the
# move, nothing repeated or skipped.
#
# Then through the Kafka API (kafkajs's admin client): the refusals
# (UNKNOWN_TOPIC_OR_PARTITION, INVALID_REPLICA_ASSIGNMENT), a move
# [R,O] -> [O,L] that completes (R's log deleted, every record on L again,
# nothing listed after), and on topic c (one replica, x) a move to [x,y]
# with y frozen: listed in the middle with y adding, cancelled (back to
# [x]; a second cancel is NO_REASSIGNMENT_IN_PROGRESS, a broker that is
# not the controller answers NOT_CONTROLLER).
#
# Last, topic d (one replica, u) is deleted (rmdir) in the middle of a
# move [u] -> [u,v] with v frozen: the move leaves the request znode
# (deleted, being empty) and every mount, and a topic d made again shows
# no move anywhere (each broker forgets a deleted topic's move with it).

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

kafkajs_setup
KAFKA_SASL_USER=admin
KAFKA_SASL_PASSWORD=admin-secret
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD

# A frozen broker keeps its registration while frozen: the controller
# refuses a move to a broker that is gone (INVALID_REPLICA_ASSIGNMENT, as
# Kafka's), and the freeze lasts a ZooKeeper CLI's start under load.
CLUSTER_SESSION_MS=30000
CLUSTER_CONF="num.partitions=1
default.replication.factor=2
min.insync.replicas=1
auto.leader.rebalance.enable=false
request.timeout.ms=5000"
zk_cluster_start
cluster_start3

led() { # led N TOPIC: mntN names a leader of TOPIC's partition 0
	_l=$(p0_field "$MQ_TMP/mnt$1" "$2" 5) && [ -n "$_l" ] && [ "$_l" != "-1" ]
}
no_log() { ! test -e "$MQ_TMP/b$1/data/$2-0"; }
reads_all() { # reads_all N: mntN/t/0 reads MQ_TMP/want
	timeout 10 cat "$MQ_TMP/mnt$1/t/0" >"$MQ_TMP/got$1" 2>/dev/null &&
		cmp -s "$MQ_TMP/got$1" "$MQ_TMP/want"
}
put() { # put N TAG COUNT: COUNT records TAG-i through mntN, into want
	_pi=1
	while [ "$_pi" -le "$3" ]; do
		echo "$2-$_pi" >>"$MQ_TMP/mnt$1/t/0" || return 1
		echo "$2-$_pi" >>"$MQ_TMP/want"
		_pi=$((_pi + 1))
	done
}

# ---- t: leader L, replica R, O without one --------------------------------
cluster_mkdir t
check "t has a leader" poll 20 led 1 t
roles2 t
: >"$MQ_TMP/want"
check "records written through mnt$L" put "$L" before 20

# O is frozen below: the controller must be another broker. A clean stop
# and start of O moves the office when O holds it.
check "a controller" poll 20 has_controller
if [ "$(controller)" = "$O" ]; then
	check "broker $O stopped (it was the controller)" broker_stop "$O"
	broker_start "$O"
	check "mnt$O: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$O" 3
	check "another controller" poll 30 sh -c "! timeout 5 grep -qx controller.active=yes '$MQ_TMP/mnt$O/.state'"
fi
check "a controller" poll 20 has_controller
K=$(controller)

# ---- the move [L,R] -> [R,O] through the znode, in the middle ---------------
eval "PO=\$PID$O"
FROZE=$O
check "broker $O frozen" stop_broker "$PO"
zk_cli "$ZKPORT" create /mqfs/admin/reassign_partitions \
	"{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[$R,$O]}]}" \
	>>"$LOG" 2>&1
check "the topic znode: replicas [$R,$O,$L], adding $O, removing $L" poll 20 \
	zhas /brokers/topics/t "\"partitions\":{\"0\":[$R,$O,$L]},\"adding_replicas\":{\"0\":[$O]},\"removing_replicas\":{\"0\":[$L]}"
check "mnt$R: Metadata's replicas are RS during the move" poll 20 replicas_are "$R" t "[$R,$O,$L]"
check "mnt$R: .state shows the move" poll 20 grep -qx "moving 0: adding \[$O\] removing \[$L\]" "$MQ_TMP/mnt$R/t/.state"
check "records written during the move" put "$R" during 10

# The controller dies in the middle and comes back.
eval "PK=\$PID$K"
mq_kill9 "$MQ_TMP/mnt$K" "$PK"
expect_eq "kill -9 of the controller, broker $K" "137" "$MQ_RC"
broker_start "$K"
check "mnt$K: a controller again" poll 90 has_controller
check "the move is still in the request znode" zhas /admin/reassign_partitions "\"replicas\":[$R,$O]"
mq_bg sh -c 'exec tail -s 0.2 -n +1 -f "$1" >"$2" 2>&1' sh "$MQ_TMP/mnt$L/t/0" "$MQ_TMP/tail.out"
TAILPID=$MQ_LAST_PID
check "tail -f on mnt$L reads the records" poll 20 grep -qx during-10 "$MQ_TMP/tail.out"

thaw_pid "$PO"
FROZE=""
check "moved: mnt$R's replicas are [$R,$O]" poll 60 replicas_are "$R" t "[$R,$O]"
check "mnt$O's replicas are [$R,$O]" poll 30 replicas_are "$O" t "[$R,$O]"
check "mnt$L's replicas are [$R,$O]" poll 30 replicas_are "$L" t "[$R,$O]"
lead=$(p0_field "$MQ_TMP/mnt$R" t 5)
case $lead in
"$R" | "$O") ok "the leader moved off broker $L: broker $lead" ;;
*) fail "the leader moved off broker $L" "leader '$lead'" ;;
esac
check "the topic znode: no move left" poll 20 zhas /brokers/topics/t "\"partitions\":{\"0\":[$R,$O]},\"adding_replicas\":{},\"removing_replicas\":{}"
check "/admin/reassign_partitions deleted" poll 20 zgone /admin/reassign_partitions
check "mnt$L: .state shows no move" poll 20 sh -c "! timeout 5 grep -q '^moving' '$MQ_TMP/mnt$L/t/.state'"
check "broker $L's log of t-0 deleted" poll 20 no_log "$L" t
check "records written after the move" put "$O" after 10
for n in "$R" "$O" "$L"; do
	check "mnt$n reads every record once, in order" poll 20 reads_all "$n"
done
check "tail -f on mnt$L goes on across the move" poll 20 grep -qx after-10 "$MQ_TMP/tail.out"
expect_ok "tail -f on mnt$L: every record once, in order" cmp -s "$MQ_TMP/tail.out" "$MQ_TMP/want"
mq_stop "$TAILPID"
expect_ok "the move logged" grep -q "controller: t-0 moved: replicas \[$R,$O\]" "$LOG"

# ---- the Kafka API ------------------------------------------------------------
admin() { # admin N ARGS...: kafkajs's admin client bootstrapped from broker N
	_p=$(eval "echo \$PORT$1")
	shift
	timeout -k 5 60 node "$LIBDIR/kafkajs_admin.js" "127.0.0.1:$_p" "$@" 2>&1
}
raw_cancel() { # raw_cancel N TOPIC: AlterPartitionReassignments cancel to broker N
	_p=$(eval "echo \$PORT$1")
	timeout -k 5 60 python3 "$LIBDIR/kafka_raw.py" cancel 127.0.0.1 "$_p" admin admin-secret "$2" 0 2>&1
}
moving_none() { [ -z "$(admin "$1" reassignments "$2")" ]; }

expect_eq "kafkajs: an unknown topic" "error UNKNOWN_TOPIC_OR_PARTITION" \
	"$(admin "$R" reassign nosuch 0 "$R" | cut -d: -f1)"
expect_eq "kafkajs: a broker twice" "error INVALID_REPLICA_ASSIGNMENT" \
	"$(admin "$R" reassign t 0 "$O,$O" | cut -d: -f1)"
expect_eq "kafkajs: a broker that is not registered" "error INVALID_REPLICA_ASSIGNMENT" \
	"$(admin "$R" reassign t 0 "$O,9" | cut -d: -f1)"
expect_ok "the refusals logged" grep -q "reassignment of t-0 to \[$O,9\] refused" "$LOG"
expect_eq "kafkajs: t-0 to [$O,$L]" "ok" "$(admin "$R" reassign t 0 "$O,$L")"
check "moved: mnt$O's replicas are [$O,$L]" poll 60 replicas_are "$O" t "[$O,$L]"
check "broker $R's log of t-0 deleted" poll 20 no_log "$R" t
check "nothing listed as moving" moving_none "$O" t
for n in "$L" "$R"; do
	check "mnt$n reads every record once, in order" poll 20 reads_all "$n"
done

# one_replica_frozen TOPIC: TOPIC made with one replica, on HOLD; K the
# controller; ADD (pid PADD) neither of them, frozen, to be added.
one_replica_frozen() {
	expect_eq "kafkajs: topic $1 with one replica" "ok" "$(admin 1 create "$1" 1 1)"
	check "$1 has a leader" poll 20 led 1 "$1"
	check "a controller" poll 20 has_controller
	K=$(controller)
	HOLD=$(p0_field "$MQ_TMP/mnt1" "$1" 7 | tr -d '[]')
	ADD=""
	for _n in 1 2 3; do
		[ "$_n" != "$HOLD" ] && [ "$_n" != "$K" ] && [ -z "$ADD" ] && ADD=$_n
	done
	eval "PADD=\$PID$ADD"
	FROZE=$ADD
	check "broker $ADD frozen" stop_broker "$PADD"
}

# c: one replica x; y neither it nor the controller, frozen while added.
one_replica_frozen c
X=$HOLD Y=$ADD PY=$PADD
expect_eq "kafkajs: c-0 to [$X,$Y]" "ok" "$(admin "$K" reassign c 0 "$X,$Y")"
expect_eq "kafkajs: c-0 listed as moving" "0 replicas=$X,$Y adding=$Y removing=" \
	"$(admin "$K" reassignments c)"
check "mnt$X: .state shows the move" poll 20 grep -qx "moving 0: adding \[$Y\] removing \[\]" "$MQ_TMP/mnt$X/c/.state"
for n in 1 2 3; do
	[ "$n" = "$K" ] || [ "$n" = "$Y" ] || expect_eq "cancel sent to broker $n: NOT_CONTROLLER" \
		"error 41 -" "$(raw_cancel "$n" c)"
done
expect_eq "cancel of c-0's move" "error 0 0" "$(raw_cancel "$K" c)"
expect_eq "cancel again: NO_REASSIGNMENT_IN_PROGRESS" "error 0 85" "$(raw_cancel "$K" c)"
thaw_pid "$PY"
FROZE=""
check "c-0 back on [$X]" poll 20 replicas_are "$X" c "[$X]"
check "nothing listed as moving" moving_none "$K" c
check "broker $Y holds no log of c-0" poll 20 no_log "$Y" c

# ---- a topic deleted in the middle of its move --------------------------------
unlisted() { ! listed "$@"; }
no_move() { ! timeout 5 grep -q '^moving' "$MQ_TMP/mnt$1/$2/.state"; }
one_replica_frozen d
U=$HOLD V=$ADD PV=$PADD
zk_cli "$ZKPORT" create /mqfs/admin/reassign_partitions \
	"{\"version\":1,\"partitions\":[{\"topic\":\"d\",\"partition\":0,\"replicas\":[$U,$V]}]}" \
	>>"$LOG" 2>&1
check "d's topic znode: replicas [$U,$V], adding $V" poll 20 \
	zhas /brokers/topics/d "\"partitions\":{\"0\":[$U,$V]},\"adding_replicas\":{\"0\":[$V]}"
for n in 1 2 3; do
	[ "$n" = "$V" ] || check "mnt$n: .state shows d's move" poll 20 \
		grep -qx "moving 0: adding \[$V\] removing \[\]" "$MQ_TMP/mnt$n/d/.state"
done
expect_ok "rmdir mnt$U/d in the middle of its move" rmdir "$MQ_TMP/mnt$U/d"
check "/brokers/topics/d deleted" poll 20 zgone /brokers/topics/d
check "d's move left /admin/reassign_partitions (deleted, empty)" poll 20 \
	zgone /admin/reassign_partitions
thaw_pid "$PV"
FROZE=""
for n in 1 2 3; do
	check "d is gone from mnt$n" poll 30 unlisted "$MQ_TMP/mnt$n" d
done
# Made again: nothing of the old move on any mount.
expect_ok "mkdir mnt$K/d (a new topic d)" mkdir "$MQ_TMP/mnt$K/d"
check "mnt$K: the new d's .state shows no move, right after mkdir" no_move "$K" d
for n in 1 2 3; do
	check "mnt$n: the new d has a leader" poll 30 led "$n" d
	check "mnt$n: the new d's .state shows no move" no_move "$n" d
done
check "the new d's topic znode: no move" \
	zhas /brokers/topics/d '"adding_replicas":{},"removing_replicas":{}'

mq_done
