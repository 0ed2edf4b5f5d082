#!/bin/sh
# t_cluster_zk_garbage.sh — znodes that do not decode, written by an
# operator's zkCli: ZooKeeper and three SASL brokers, a topic t of one
# partition with 50 acknowledged records. Then /brokers/topics/aaa holds
# "garbage" and t's partition state holds "garbage{". Kafka's controller
# and brokers log such a znode and leave it as it is; mqfs must too:
#   - a new topic u is made on every mount (every broker reads the topics
#     past the bad one) with a leader (the controller writes its state);
#   - /controller deleted: a broker takes the office and keeps it (a
#     takeover reads every topic), logging both znodes;
#   - u's leader killed with -9: u gets a new leader and takes writes;
#   - t's state untouched, its records all readable; once repaired (its
#     old contents back) and the controller moved again, t is managed
#     again: its leader killed, it elects and takes writes, and no
#     acknowledged record is lost;
#   - a live broker's /brokers/ids/<id> deleted: it registers again, its
#     replica rejoins the ISR, its mount reads the records written since;
#   - a topic's znodes deleted (deleteall /brokers/topics/zz): every broker
#     removes the topic and stops its replicas.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
request.timeout.ms=10000"
zk_cluster_start
cluster_start3
t_make3

numbered 50 "$MQ_TMP/want"
expect_ok "50 acks=all writes to t through mnt$F (forwarded to the leader)" \
	sh -c "while read -r r; do echo \"\$r\" >> '$MQ_TMP/mnt$F/t/0' || exit 1; done < '$MQ_TMP/want'"

STATE=/mqfs/brokers/topics/t/partitions/0/state
GOOD=$(zk_cli "$ZKPORT" get "$STATE")
case $GOOD in
*'"leader":'*) ok "t's state read with zkCli" ;;
*) fail "t's state read with zkCli" "got '$GOOD'" ;;
esac
zk_cli "$ZKPORT" create /mqfs/brokers/topics/aaa garbage >/dev/null
zk_cli "$ZKPORT" set "$STATE" 'garbage{' >/dev/null
expect_eq "t's state is garbage" "garbage{" "$(zk_cli "$ZKPORT" get "$STATE")"

# u_field MNT F: field F of u's partition 0 in MNT/u/.state.
u_field() {
	timeout 5 awk -v f="$2" '$1 == "0" { print $f }' "$1/u/.state" 2>/dev/null
}
u_led() {
	case $(u_field "$MQ_TMP/mnt$1" 5) in
	1 | 2 | 3) return 0 ;;
	esac
	return 1
}
expect_ok "mkdir mnt1/u beside the bad znodes" mkdir "$MQ_TMP/mnt1/u"
for n in 2 3; do
	check "u is listed on mnt$n" poll 20 listed "$MQ_TMP/mnt$n" u
done
check "u has a leader" poll 20 u_led 1
check "the brokers log the bad topic znode" poll 30 \
	grep -q "topic aaa of the cluster: /brokers/topics/aaa: not JSON" "$LOG"

# active_controllers: how many mounts say their broker is the controller.
active_controllers() {
	_ac=0
	for _n in 1 2 3; do
		eval "_p=\$PID$_n"
		kill -0 "$_p" 2>/dev/null || continue
		grep -qx 'controller.active=yes' "$MQ_TMP/mnt$_n/.state" 2>/dev/null && _ac=$((_ac + 1))
	done
	echo "$_ac"
}
one_controller() {
	[ "$(active_controllers)" = 1 ]
}
zk_cli "$ZKPORT" delete /mqfs/controller >/dev/null
check "a broker takes the controller's office" poll 20 one_controller
check "and logs the bad state znode" poll 30 \
	grep -q "controller: /brokers/topics/t/partitions/0/state: not JSON" "$LOG"
# One office, kept: a controller that resigns on each read would be
# seen elected again and again.
n_elect=$(grep -c 'controller: broker [0-9]* is the controller' "$LOG")
expect_ok "the office is kept for 3 s" sh -c "sleep 3; [ \$(grep -c 'controller: broker [0-9]* is the controller' '$LOG') -eq $n_elect ]"

# u's leader dies: the controller elects another.
U=$(u_field "$MQ_TMP/mnt1" 5)
case $U in
1 | 2 | 3) ;;
*) fail "u's leader" "leader '$U'"; mq_done ;;
esac
eval "UPID=\$PID$U"
kill -9 "$UPID"
proc_wait_exit "$UPID" 10
O=$((U % 3 + 1))
u_moved() {
	_l=$(u_field "$MQ_TMP/mnt$O" 5)
	[ -n "$_l" ] && [ "$_l" != "$U" ] && [ "$_l" != "-1" ]
}
check "u gets a new leader after broker $U's kill" poll 30 u_moved
expect_ok "a write to u through mnt$O" sh -c "echo u-1 >> '$MQ_TMP/mnt$O/u/0'"
expect_eq "t's state untouched" "garbage{" "$(zk_cli "$ZKPORT" get "$STATE")"
timeout 10 fusermount3 -u "$MQ_TMP/mnt$U" 2>/dev/null
broker_start "$U"
check "broker $U back" poll 30 alive_on "$MQ_TMP/mnt$O" 3

# Repaired: the next controller manages t again.
zk_cli "$ZKPORT" set "$STATE" "$GOOD" >/dev/null
zk_cli "$ZKPORT" delete /mqfs/brokers/topics/aaa >/dev/null
zk_cli "$ZKPORT" delete /mqfs/controller >/dev/null
check "a controller again" poll 20 one_controller
T=$(t_field "$MQ_TMP/mnt$O" 5)
case $T in
1 | 2 | 3) ;;
*) fail "t's leader" "leader '$T'"; mq_done ;;
esac
eval "TPID=\$PID$T"
N=$((T % 3 + 1))
t_moved() {
	_l=$(t_field "$MQ_TMP/mnt$N" 5)
	[ -n "$_l" ] && [ "$_l" != "$T" ] && [ "$_l" != "-1" ]
}
kill -9 "$TPID"
proc_wait_exit "$TPID" 10
check "t gets a new leader after broker $T's kill" poll 30 t_moved
echo r-51 >>"$MQ_TMP/want"
expect_ok "a write to t through mnt$N" sh -c "echo r-51 >> '$MQ_TMP/mnt$N/t/0'"
has() {
	timeout 5 cat "$MQ_TMP/mnt$N/t/0" >"$MQ_TMP/got" 2>/dev/null && cmp -s "$MQ_TMP/got" "$MQ_TMP/want"
}
check "mnt$N reads every acknowledged record of t once, in order" poll 20 has

# A live broker's registration deleted: it registers again (a new
# broker epoch), its replica rejoins the ISR and its mount reads what
# was written meanwhile.
timeout 10 fusermount3 -u "$MQ_TMP/mnt$T" 2>/dev/null
broker_start "$T"
check "broker $T back" poll 30 alive_on "$MQ_TMP/mnt$N" 3
check "t's ISR whole again" poll 30 t_isr_is "$MQ_TMP/mnt$N" "1,2,3"
R=$(((N % 3) + 1))
[ "$R" = "$(t_field "$MQ_TMP/mnt$N" 5)" ] && R=$(((R % 3) + 1))
zk_cli "$ZKPORT" delete "/mqfs/brokers/ids/$R" >/dev/null
check "broker $R registers again (logged)" poll 20 grep -q \
	"broker $R: /brokers/ids/$R is gone while this broker's ZooKeeper session lives" "$LOG"
check "and is alive on mnt$N" poll 20 alive_on "$MQ_TMP/mnt$N" 3
for i in 52 53 54 55 56; do
	echo "r-$i"
done >>"$MQ_TMP/want"
expect_ok "5 writes to t through mnt$N" sh -c "for i in 52 53 54 55 56; do echo r-\$i >> '$MQ_TMP/mnt$N/t/0' || exit 1; done"
check "t's ISR whole again" poll 30 t_isr_is "$MQ_TMP/mnt$N" "1,2,3"
has_r() {
	timeout 5 cat "$MQ_TMP/mnt$R/t/0" >"$MQ_TMP/got" 2>/dev/null && cmp -s "$MQ_TMP/got" "$MQ_TMP/want"
}
check "mnt$R reads every acknowledged record of t" poll 20 has_r

# A topic's znodes deleted with zkCli (no /admin/delete_topics, so no
# StopReplica): every broker removes the topic and stops its replicas,
# which would otherwise go on fetching it (and leading it) for good.
# n_replicas N: the local replicas broker N's root .state counts.
n_replicas() {
	timeout 5 sed -n 's/^replicas=//p' "$MQ_TMP/mnt$1/.state" 2>/dev/null
}
before=$(n_replicas "$N")
expect_ok "mkdir mnt$N/zz" mkdir "$MQ_TMP/mnt$N/zz"
zz_replicated() {
	[ "$(n_replicas 1)" = "$((before + 1))" ] && [ "$(n_replicas 2)" = "$((before + 1))" ] &&
		[ "$(n_replicas 3)" = "$((before + 1))" ]
}
check "zz has a replica on every broker" poll 20 zz_replicated
expect_ok "a write to zz" sh -c "echo z-1 >> '$MQ_TMP/mnt$N/zz/0'"
zk_cli "$ZKPORT" deleteall /mqfs/brokers/topics/zz >/dev/null
zz_gone() {
	for _n in 1 2 3; do
		[ "$(n_replicas "$_n")" = "$before" ] || return 1
		listed "$MQ_TMP/mnt$_n" zz && return 1
	done
	return 0
}
check "every broker removes zz and stops its replicas" poll 20 zz_gone
expect_ok "logged" grep -q "topic zz: gone from the cluster: its 1 local replica(s) stopped" "$LOG"
n_warn=$(grep -c 'fetcher: zz-0 from broker' "$LOG")
expect_ok "no fetch of zz after that" sh -c "sleep 3; [ \$(grep -c 'fetcher: zz-0 from broker' '$LOG') -eq $n_warn ]"

mq_done
