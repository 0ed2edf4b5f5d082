#!/bin/sh
# t_cluster_wiped.sh — a broker that comes back with its data directory
# wiped while ZooKeeper still counts it the only in-sync replica
# (replica_mgr.h, rule 7).
#
# Topic t (one partition, three replicas) takes 40 records acknowledged by
# all three. Its two followers are frozen (SIGSTOP) until the leader L
# alone is in the ISR; then L is killed with -9, its data directory
# removed, and the followers thawed: the partition is offline (its ISR
# keeps its last member, L). L started again on the empty directory is
# live and named by the ISR, but it holds none of the records: it refuses
# to lead (KAFKA_STORAGE_ERROR, logged), the controller elects without it
# and the partition stays offline, the followers' logs untouched. An
# unclean election (ElectLeaders UNCLEAN) then takes a follower, which
# holds every record; L follows it, fetches everything and rejoins the
# ISR, and every mount reads the 40 records once.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
replica.lag.time.max.ms=2000
request.timeout.ms=10000
auto.leader.rebalance.enable=false"
zk_cluster_start
cluster_start3
t_make3

numbered 40 "$MQ_TMP/want"
expect_ok "40 records acknowledged through mnt$L" cp "$MQ_TMP/want" "$MQ_TMP/mnt$L/t/0"
check "every mount reads them" poll 20 sh -c "
	for n in 1 2 3; do cmp -s '$MQ_TMP/want' '$MQ_TMP/mnt'\$n/t/0 || exit 1; done"

eval "PL=\$PID$L PF=\$PID$F PG=\$PID$G"
freeze_pid "$PF" "$PG"
check "the ISR is broker $L alone" poll 30 t_isr_is "$MQ_TMP/mnt$L" "$L"

kill -KILL "$PL"
proc_wait_exit "$PL" 10
timeout 10 fusermount3 -u "$MQ_TMP/mnt$L" 2>/dev/null
rm -rf "$MQ_TMP/b$L/data"
thaw_pid "$PF" "$PG"

leader_is() { # leader_is N L: mntN's .state names L the leader of t-0
	[ "$(t_field "$MQ_TMP/mnt$1" 5)" = "$2" ]
}
check "t is offline once broker $L is gone" poll 40 leader_is "$F" -1

broker_start "$L"
check "broker $L, back on an empty data directory, refuses to lead t-0 (logged)" \
	poll 40 grep -q "t-0: LeaderAndIsr (leader $L, epoch [0-9]*) refused: the ISR names this broker, but its log of the partition is gone" "$LOG"
check "the controller elects without it" poll 20 grep -q "controller: broker $L cannot host t-0" "$LOG"
# The controller's first election after the start may name broker L (the
# ISR's one member, live again), which refuses; the election after its
# refusal names none, and mnt$F's metadata follows with the next
# UpdateMetadata.
check "t stays offline, not led from the empty log" poll 20 leader_is "$F" -1
check "broker $F's log of t-0 keeps its records" test -s "$MQ_TMP/b$F/data/t-0/00000000000000000000.log"

unclean() { # ElectLeaders UNCLEAN of t-0 through the controller
	_c=$(controller) || return 1
	eval "_cp=\$PORT$_c"
	[ "$(timeout -k 5 60 python3 "$LIBDIR/kafka_raw.py" elect 127.0.0.1 "$_cp" admin admin-secret 1 t 0 2>>"$LOG")" = "error 0" ]
}
check "ElectLeaders UNCLEAN through the controller" poll 30 unclean
check "a follower that holds the records leads" poll 20 sh -c "
	l=\$(awk '\$1 == \"0\" { print \$5 }' '$MQ_TMP/mnt$F/t/.state'); [ \"\$l\" = $F ] || [ \"\$l\" = $G ]"
check "broker $L fetches everything and rejoins the ISR" poll 60 t_isr_is "$MQ_TMP/mnt$F" "1,2,3"
for n in 1 2 3; do
	check "mnt$n reads the 40 acknowledged records once" poll 20 t_has "$n"
done
mq_done
