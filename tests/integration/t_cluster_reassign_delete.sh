#!/bin/sh
# t_cluster_reassign_delete.sh — a topic deleted in the middle of its
# replica move, in the three-broker cluster.
#
# Topic d has one replica, on U. /admin/reassign_partitions asks for
# [U,V] with V (neither U nor the controller) frozen, so that the move
# stays in the middle and every other mount's .state shows it. d is then
# deleted (rmdir): its move leaves the request znode (deleted, being
# empty), and once V is thawed a topic d made again shows no move on any
# mount (each broker forgets a deleted topic's move with the topic).

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

CLUSTER_SESSION_MS=6000
CLUSTER_CONF="num.partitions=1
default.replication.factor=2
min.insync.replicas=1
auto.leader.rebalance.enable=false
request.timeout.ms=5000"
zk_cluster_start
cluster_start3

# field MNT TOPIC N: field N of partition 0's row of TOPIC/.state
# (partition, log start, hw, leo, leader, leader epoch, replicas, isr).
field() {
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
led() { [ -n "$(field "$MQ_TMP/mnt$1" "$2" 5)" ] && [ "$(field "$MQ_TMP/mnt$1" "$2" 5)" != "-1" ]; }
controller() { # the broker whose mount says it is the active controller
	for _n in 1 2 3; do
		[ "$_n" = "$FROZE" ] && continue # its mount does not answer
		timeout 5 grep -qx 'controller.active=yes' "$MQ_TMP/mnt$_n/.state" 2>/dev/null &&
			echo "$_n" && return 0
	done
	return 1
}
has_controller() { [ -n "$(controller)" ]; }
zget() { zk_cli "$ZKPORT" get "/mqfs$1"; }
zgone() { zget "$1" | grep -q 'does not exist'; }
zhas() { zget "$1" | grep -qF "$2"; }
unlisted() { ! listed "$@"; }
no_move() { ! timeout 5 grep -q '^moving' "$MQ_TMP/mnt$1/$2/.state"; }
admin() { # admin N ARGS...: kafkajs's admin client bootstrapped from broker N
	_p=$(eval "echo \$PORT$1")
	shift
	timeout -k 5 60 node "$LIBDIR/kafkajs_admin.js" "127.0.0.1:$_p" "$@" 2>&1
}

expect_eq "kafkajs: topic d with one replica" "ok" "$(admin 1 create d 1 1)"
check "d has a leader" poll 20 led 1 d
check "a controller" poll 20 has_controller
K=$(controller)
U=$(field "$MQ_TMP/mnt1" d 7 | tr -d '[]')
V=""
for n in 1 2 3; do
	[ "$n" != "$U" ] && [ "$n" != "$K" ] && [ -z "$V" ] && V=$n
done
case "$U:$V" in
[123]:[123]) ok "d: replica on $U, broker $V to add, controller $K" ;;
*) fail "d: one replica and a broker to add" "replicas '$U' controller '$K'"; mq_done ;;
esac

# ---- the move [U] -> [U,V] in the middle --------------------------------------
eval "PV=\$PID$V"
FROZE=$V
check "broker $V frozen" stop_broker "$PV"
zk_cli "$ZKPORT" create /mqfs/admin/reassign_partitions \
	"{\"version\":1,\"partitions\":[{\"topic\":\"d\",\"partition\":0,\"replicas\":[$U,$V]}]}" \
	>>"$LOG" 2>&1
check "the topic znode: replicas [$U,$V], adding $V" poll 20 \
	zhas /brokers/topics/d "\"partitions\":{\"0\":[$U,$V]},\"adding_replicas\":{\"0\":[$V]}"
for n in 1 2 3; do
	[ "$n" = "$V" ] && continue
	check "mnt$n: .state shows d's move" poll 20 \
		grep -qx "moving 0: adding \[$V\] removing \[\]" "$MQ_TMP/mnt$n/d/.state"
done

# ---- d deleted meanwhile ------------------------------------------------------
expect_ok "rmdir mnt$U/d in the middle of its move" rmdir "$MQ_TMP/mnt$U/d"
check "/brokers/topics/d deleted" poll 20 zgone /brokers/topics/d
check "d's move left /admin/reassign_partitions (deleted, empty)" poll 20 \
	zgone /admin/reassign_partitions
thaw_pid "$PV"
FROZE=""
for n in 1 2 3; do
	check "d is gone from mnt$n" poll 30 unlisted "$MQ_TMP/mnt$n" d
done

# ---- d made again: nothing of the old move ----------------------------------
expect_ok "mkdir mnt$K/d (a new topic d)" mkdir "$MQ_TMP/mnt$K/d"
check "mnt$K: the new d's .state shows no move, right after mkdir" no_move "$K" d
for n in 1 2 3; do
	check "mnt$n: the new d has a leader" poll 30 led "$n" d
	check "mnt$n: the new d's .state shows no move" no_move "$n" d
done
check "the new d's topic znode: no move" zhas /brokers/topics/d '"adding_replicas":{},"removing_replicas":{}'

mq_done
