#!/bin/sh
# t_cluster_elect.sh — ElectLeaders (kafka-leader-election.sh's request)
# in the three-broker cluster, with auto.leader.rebalance.enable=false so
# that only the request moves leadership back: a topic of one partition
# with three replicas, its preferred leader stopped cleanly (leadership
# moves to another replica) and started again (back in the ISR, still a
# follower). ElectLeaders PREFERRED sent to every broker: the two that are
# not the controller answer NOT_CONTROLLER (41), the controller elects
# (0), and the preferred replica leads again on every mount; asked again,
# ELECTION_NOT_NEEDED (84). The same with a null list (every partition),
# whose answer leaves out the partitions that needed no election; the
# preferred replica, started again on another port before it, leads and
# its followers fetch from its new port.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
auto.leader.rebalance.enable=false"
zk_cluster_start
cluster_start3

# t's first leader is its first replica: the preferred one.
t_make3
P=$L
elect() {   # elect N: broker N's answer to ElectLeaders PREFERRED of t-0
	eval "timeout -k 5 70 python3 \"\$LIBDIR/kafka_raw.py\" elect 127.0.0.1 \$PORT$1 admin admin-secret 0 t 0" 2>>"$LOG"
}
# answers: each broker's answer, sorted ("0 41 41": one elected).
answers() {
	for _n in 1 2 3; do
		elect "$_n"
	done | awk '{ print $2 }' | sort -n | paste -sd' ' -
}
leader_on() {   # leader_on N L: broker N's mount names L the leader of t-0
	[ "$(t_field "$MQ_TMP/mnt$1" 5)" = "$2" ]
}
not_leader_on() {
	_l=$(t_field "$MQ_TMP/mnt$1" 5)
	[ -n "$_l" ] && [ "$_l" != "$2" ] && [ "$_l" != -1 ]
}

expect_eq "the preferred replica leads: ELECTION_NOT_NEEDED from the controller" \
	"41 41 84" "$(answers)"

broker_stop "$P"
expect_eq "broker $P stopped" "0" "$?"
check "leadership moved off broker $P" poll 30 not_leader_on "$F" "$P"
broker_start "$P"
check "broker $P back in the ISR" poll 60 t_isr_is "$MQ_TMP/mnt$F" "1,2,3"
check "broker $P follows (no rebalance)" not_leader_on "$F" "$P"

expect_eq "ElectLeaders PREFERRED: the controller elects, the others are not it" \
	"0 41 41" "$(answers)"
for n in 1 2 3; do
	check "mnt$n: broker $P leads again" poll 20 leader_on "$n" "$P"
done
expect_eq "asked again: ELECTION_NOT_NEEDED" "41 41 84" "$(answers)"
check "the controller logged each leadership change with its election" \
	grep -q "controller: t-0: leader [0-9]* -> $P (preferred election, leader epoch" "$LOG"

# A null list (kafka-leader-election.sh --all-topic-partitions): every
# partition; the controller's answer names only the partitions it
# elected (Kafka leaves out those that needed none), the others answer
# each partition NOT_CONTROLLER.
elect_all() {   # elect_all N: broker N's answer to a null-list PREFERRED
	eval "timeout -k 5 70 python3 \"\$LIBDIR/kafka_raw.py\" elect 127.0.0.1 \$PORT$1 admin admin-secret 0 - 0" 2>>"$LOG"
}
all_answers() {   # the three brokers' answers for t-0, sorted
	for _n in 1 2 3; do
		elect_all "$_n" | awk '$1 == "t" || $1 == "none" { print $NF }'
	done | sort | paste -sd' ' -
}
expect_eq "null list, nothing to elect: the controller answers no partition" \
	"41 41 none" "$(all_answers)"
broker_stop "$P"
expect_eq "broker $P stopped again" "0" "$?"
check "leadership moved off broker $P again" poll 30 not_leader_on "$F" "$P"
# Started again on another port (its listeners changed, as in a rolling
# restart with a changed setting): once it leads, the followers must
# fetch from where it listens now, not from the port they knew.
eval "OLD_PORT=\$PORT$P"
NEW_PORT=$(zk_free_port)
eval "PORT$P=$NEW_PORT"
conf "$P" "$NEW_PORT"
broker_start "$P"
check "broker $P back in the ISR again" poll 60 t_isr_is "$MQ_TMP/mnt$F" "1,2,3"
expect_eq "null list: the controller elects t-0 and answers it alone" \
	"0 41 41" "$(all_answers)"
for n in 1 2 3; do
	check "mnt$n: broker $P leads again after the null-list election" poll 20 leader_on "$n" "$P"
done
expect_ok "a record through the new leader's mount" sh -c "echo moved-1 >> '$MQ_TMP/mnt$P/t/0'"
for n in $F $G; do
	check "mnt$n shows it: broker $n fetches from broker $P at its new port" \
		poll 20 grep -qx moved-1 "$MQ_TMP/mnt$n/t/0"
done
check "a follower found broker $P's new port" \
	grep -q "fetcher: broker $P now listens at 127.0.0.1:$NEW_PORT (was 127.0.0.1:$OLD_PORT)" "$LOG"

mq_done
