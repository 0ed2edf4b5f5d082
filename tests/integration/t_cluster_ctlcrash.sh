#!/bin/sh
# t_cluster_ctlcrash.sh — the controller killed (kill -9) in the middle of
# its multi-step operations, in the three-broker cluster with ZooKeeper:
# the next controller finishes each from ZooKeeper, as Kafka's does
# (onControllerFailover), and nothing acknowledged is lost.
#
# - A move of t-0 [L,R] -> [R,O] through /admin/reassign_partitions with
#   O frozen (SIGSTOP) so that it stays in its middle: the controller is
#   killed and started again twice (a new controller each time) with
#   acks=all writes between, then once more right after O is thawed
#   (while O catches up). The move completes: t's replicas [R,O], no
#   move left in the topic znode, the request znode gone, the leader in
#   the ISR, R's and O's logs byte-identical, every acknowledged record
#   read once, in order, through every mount.
# - topic x, one of its replicas down (kill -9), deleted by a controller
#   killed in the middle (ZooKeeper as it leaves it: the partition
#   znodes deleted, the topic znode and the request not yet): the next
#   controller finishes the deletion without starting x-0 again, and once
#   both brokers are back no mount lists x and no data directory holds
#   its log.
# - u-0 moved off a broker by a controller killed after it wrote the
#   final assignment and before its StopReplica went (ZooKeeper as it
#   leaves it): the request is settled, the removed replica stops and its
#   log goes, u takes writes.
# - partitions=4 written to y's .config, the controller killed as soon
#   as its own broker has opened one of the new partitions (the other
#   replicas may not have heard of them): every partition has a leader
#   in its ISR and takes a write.
# - The controller's broker killed while ZooKeeper is restarted: a
#   controller again, every broker back, t still takes acks=all writes.

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
min.insync.replicas=1
auto.leader.rebalance.enable=false
request.timeout.ms=10000"
zk_cluster_start
cluster_start3

# leader_in_isr N TOPIC P: mntN names a leader of TOPIC-P, one of its ISR.
leader_in_isr() {
	timeout 5 awk -v p="$3" '$1 == p && $5 >= 0 {
		gsub(/[][]/, "", $8); n = split($8, isr, ",")
		for (i = 1; i <= n; i++) if (isr[i] == $5) ok = 1 }
		END { exit !ok }' "$MQ_TMP/mnt$1/$2/.state" 2>/dev/null
}
# alive_all: every mount but a frozen broker's lists the live brokers,
# three, or two while one is frozen (its session expires meanwhile).
alive_all() {
	_live=3
	[ -n "${FROZE:-}" ] && _live=2
	for _n in 1 2 3; do
		[ "$_n" = "${FROZE:-}" ] || alive_on "$MQ_TMP/mnt$_n" "$_live" || return 1
	done
}

# kill_controller: kill -9 of the controller's broker (K); returns once
# its mount is cleared. restart N: broker N started again, and a
# controller (alive_all).
kill_controller() {
	check "a controller" poll 30 has_controller
	K=$(controller)
	_kp=$(eval "echo \$PID$K")
	mq_kill9 "$MQ_TMP/mnt$K" "$_kp"
	expect_eq "kill -9 of the controller, broker $K" "137" "$MQ_RC"
}
restart() {
	broker_start "$1"
	check "broker $1 back: every broker live" poll 60 alive_all
	check "a controller" poll 60 has_controller
}

# ---- t: a move [L,R] -> [R,O], its controller killed three times ---------
cluster_mkdir t
check "t: a leader in its ISR" poll 20 leader_in_isr 1 t 0
roles2 t
: >"$MQ_TMP/want"
expect_eq "200 acks=all writes through mnt$L" 200 "$(t_put "mnt$L" a 200)"
# O is frozen: the controller must be another broker.
check "a controller" poll 20 has_controller
if [ "$(controller)" = "$O" ]; then
	check "broker $O stopped (it was the controller)" broker_stop "$O"
	restart "$O"
fi
eval "PO=\$PID$O"
FROZE=$O
check "broker $O frozen" stop_broker "$PO"
zk_cli "$ZKPORT" create /mqfs/admin/reassign_partitions \
	"{\"version\":1,\"partitions\":[{\"topic\":\"t\",\"partition\":0,\"replicas\":[$R,$O]}]}" \
	>>"$LOG" 2>&1
check "t's topic znode: adding $O, removing $L" poll 20 zhas /brokers/topics/t \
	"\"adding_replicas\":{\"0\":[$O]},\"removing_replicas\":{\"0\":[$L]}"
for round in 1 2; do
	kill_controller
	restart "$K"
	# Through a broker of the two that hold t, whichever leads.
	expect_eq "round $round: 100 acks=all writes through mnt$R" 100 \
		"$(t_put "mnt$R" "b$round" 100)"
done
thaw_pid "$PO"
FROZE=""
kill_controller
restart "$K"
check "moved: mnt$R's replicas are [$R,$O]" poll 60 replicas_are "$R" t "[$R,$O]"
for n in 1 2 3; do
	check "mnt$n: t's replicas are [$R,$O]" poll 30 replicas_are "$n" t "[$R,$O]"
	check "mnt$n: t's leader is in its ISR" poll 30 leader_in_isr "$n" t 0
done
check "t's topic znode: no move left" poll 20 zhas /brokers/topics/t \
	"\"partitions\":{\"0\":[$R,$O]},\"adding_replicas\":{},\"removing_replicas\":{}"
check "/admin/reassign_partitions deleted" poll 20 zgone /admin/reassign_partitions
check "ISR of t is $R and $O" poll 30 p0_isr_is "$MQ_TMP/mnt$R" t "$(set_of "[$R,$O]")"
expect_eq "100 acks=all writes after the move" 100 "$(t_put "mnt$O" c 100)"
for n in 1 2 3; do
	check "mnt$n reads every acknowledged record once, in order" poll 30 t_has "$n"
done
# The segments of two replicas may roll at other offsets, and the active
# one is preallocated with zeros: the .log files, each replica's in
# order and without the zeros at the end, hold the same bytes.
same_logs() {
	python3 - "$MQ_TMP/b$R/data/t-0" "$MQ_TMP/b$O/data/t-0" <<'EOP'
import glob, sys
def data(d):
    return b"".join(open(f, "rb").read() for f in sorted(glob.glob(d + "/*.log"))).rstrip(b"\0")
a, b = data(sys.argv[1]), data(sys.argv[2])
sys.exit(0 if a and a == b else 1)
EOP
}
check "broker $R's and broker $O's logs of t-0 are byte-identical" poll 30 same_logs
check "broker $L's log of t-0 deleted" poll 30 sh -c "! test -e '$MQ_TMP/b$L/data/t-0'"

# ---- x: deleted with a replica down, its controller killed in the middle ---
# x's replicas are moved to D and M, neither the controller K; D is
# killed (x-0 led by M alone, in a newer epoch). K frozen, ZooKeeper is
# left as K leaves it when it dies in the middle of x's deletion (the
# StopReplica sent, x's partition znodes deleted, the topic znode and
# the request not yet), and K is killed. M takes over and finishes the
# deletion without starting x-0 again (a state at leader epoch 0, which
# M, in a newer epoch, would ignore with a warning).
cluster_mkdir x
move_off_controller x
expect_ok "a write to x/0 through mnt$M" sh -c "echo x0 >>'$MQ_TMP/mnt$M/x/0'"
eval "PD=\$PID$D"
mq_kill9 "$MQ_TMP/mnt$D" "$PD"
expect_eq "kill -9 of broker $D, a replica of x" "137" "$MQ_RC"
check "x-0's ISR is broker $M alone" poll 30 p0_isr_is "$MQ_TMP/mnt$M" x "$M"
check "broker $K is still the controller" poll 20 sh -c "timeout 5 grep -qx controller.active=yes '$MQ_TMP/mnt$K/.state'"
eval "PK=\$PID$K"
FROZE=$K
check "broker $K (the controller) frozen" stop_broker "$PK"
printf 'deleteall /mqfs/brokers/topics/x/partitions\ncreate /mqfs/admin/delete_topics/x\n' |
	zk_cli "$ZKPORT" >>"$LOG" 2>&1
check "x's partition znodes deleted" zgone /brokers/topics/x/partitions
check "/admin/delete_topics/x made" zhas /admin/delete_topics/x ""
mq_kill9 "$MQ_TMP/mnt$K" "$PK"
thaw_pid "$PK"
FROZE=""
check "broker $M is the controller" poll 60 sh -c "timeout 5 grep -qx controller.active=yes '$MQ_TMP/mnt$M/.state'"
check "/admin/delete_topics/x deleted" poll 30 zgone /admin/delete_topics/x
check "/brokers/topics/x deleted" poll 30 zgone /brokers/topics/x
expect_fail "x-0 was not started again at leader epoch 0" \
	grep -q "x-0: LeaderAndIsr (leader $M, epoch 0) ignored" "$LOG"
broker_start "$D"
restart "$K"
for n in 1 2 3; do
	check "x is gone from mnt$n" poll 30 sh -c "! timeout 5 ls '$MQ_TMP/mnt$n' | grep -qx x"
	check "no log of x-0 in broker $n's data" poll 30 sh -c "! test -e '$MQ_TMP/b$n/data/x-0'"
done

# ---- u: a move completed, its controller killed before its StopReplica ---
# u's replicas are moved to D and M, neither the controller K; then u-0
# moves on to [M] alone. K frozen, ZooKeeper is left as K leaves it when
# it dies after writing the move's final assignment and before its
# StopReplica reaches D, the replica removed: u-0's state in a new
# leader epoch (leader M, ISR [M]), the topic znode [M] with no move
# left in it, the request still in /admin/reassign_partitions; no broker
# heard of the new epoch. Once K is killed, the next controller settles
# the request, and D's replica of u-0 stops and its log goes.
cluster_mkdir u
move_off_controller u
check "u-0's ISR is $D and $M" poll 30 p0_isr_is "$MQ_TMP/mnt$M" u "$(set_of "[$D,$M]")"
expect_ok "a write to u/0 through mnt$M" sh -c "echo u0 >>'$MQ_TMP/mnt$M/u/0'"
check "broker $D holds a log of u-0" poll 20 test -d "$MQ_TMP/b$D/data/u-0"
# What K writes: read before it is frozen (a frozen controller's session
# expires a few seconds later), written by one zkCli session.
zjson() { zget "$1" | grep '^{'; }
UEPOCH=$(zjson /brokers/topics/u/partitions/0/state | sed 's/.*"leader_epoch":\([0-9]*\).*/\1/')
CEPOCH=$(zget /controller_epoch | grep -x '[0-9]*')
UTOPIC=$(zjson /brokers/topics/u | sed "s/\"partitions\":{[^}]*}/\"partitions\":{\"0\":[$M]}/")
expect_ok "u-0's leader epoch and the controller's epoch read" test -n "$UEPOCH$CEPOCH"
eval "PK=\$PID$K"
FROZE=$K
check "broker $K (the controller) frozen" stop_broker "$PK"
{
	echo "create /mqfs/admin/reassign_partitions {\"version\":1,\"partitions\":[{\"topic\":\"u\",\"partition\":0,\"replicas\":[$M]}]}"
	echo "set /mqfs/brokers/topics/u/partitions/0/state {\"controller_epoch\":$CEPOCH,\"leader\":$M,\"version\":1,\"leader_epoch\":$((UEPOCH + 1)),\"isr\":[$M]}"
	echo "set /mqfs/brokers/topics/u $UTOPIC"
} | zk_cli "$ZKPORT" >"$MQ_TMP/u.zk" 2>&1
cat "$MQ_TMP/u.zk" >>"$LOG"
# Checked from zkCli's own answers: another JVM would take seconds.
expect_ok "the request for u made, u's state and topic znode written" sh -c \
	"grep -q '^Created /mqfs/admin/reassign_partitions' '$MQ_TMP/u.zk' && ! grep -qi 'exception\\|error\\|not exist\\|not valid' '$MQ_TMP/u.zk'"
mq_kill9 "$MQ_TMP/mnt$K" "$PK"
thaw_pid "$PK" 2>/dev/null # dead: only its name leaves FROZEN
FROZE=""
check "a new controller" poll 60 sh -c "timeout 5 grep -qx controller.active=yes '$MQ_TMP/mnt$M/.state' || timeout 5 grep -qx controller.active=yes '$MQ_TMP/mnt$D/.state'"
check "/admin/reassign_partitions deleted" poll 30 zgone /admin/reassign_partitions
check "no log of u-0 in broker $D's data" poll 30 sh -c "! test -e '$MQ_TMP/b$D/data/u-0'"
restart "$K"
for n in 1 2 3; do
	check "mnt$n: u's replicas are [$M]" poll 30 replicas_are "$n" u "[$M]"
	check "mnt$n: u's leader is in its ISR" poll 30 leader_in_isr "$n" u 0
done
expect_ok "a write to u/0 through mnt$D" sh -c "echo u1 >>'$MQ_TMP/mnt$D/u/0'"
check "mnt$K reads both" poll 20 sh -c "[ \"\$(timeout 5 cat '$MQ_TMP/mnt$K/u/0')\" = \"\$(printf 'u0\nu1')\" ]"
check "broker $D still holds no log of u-0" sh -c "! test -e '$MQ_TMP/b$D/data/u-0'"

# ---- y: partitions added, the controller killed as its broker opens one ---
# The controller K makes the new partitions' states and tells their
# replicas; it is killed once its own broker has opened one of them, when
# the other replicas may not have heard of it yet (the next controller's
# election moves the epoch on: they make the log then, they did not lose
# it). K is a replica of some of y's new partitions.
# kill_on_open P...: kill -9 of the controller K's broker as soon as a log
# of one of the partitions P (y-1...) is in its data directory (polled
# without a pause: the other replicas are told a moment later), or after
# 30 s; then its mount is cleared.
kill_on_open() {
	_kp=$(eval "echo \$PID$K")
	_oend=$(($(date +%s) + 30))
	while [ "$(date +%s)" -lt "$_oend" ]; do
		for _op in "$@"; do
			[ -e "$MQ_TMP/b$K/data/$_op" ] && _oend=0
		done
	done
	kill -KILL "$_kp"
	mq_kill9 "$MQ_TMP/mnt$K" "$_kp"
	[ "$_oend" = 0 ] && ok "broker $K killed once it opened one of $*" ||
		ok "broker $K killed (none of $* opened there)"
}
# each_led TOPIC P...: on every mount each partition P of TOPIC has a
# leader in its ISR and takes a write that another mount reads.
each_led() {
	_t=$1
	shift
	for _n in 1 2 3; do
		for _p in "$@"; do
			check "mnt$_n: $_t-$_p has a leader in its ISR" poll 30 leader_in_isr "$_n" "$_t" "$_p"
		done
	done
	for _p in "$@"; do
		expect_ok "a write to $_t/$_p through mnt$K" sh -c "echo $_t$_p >>'$MQ_TMP/mnt$K/$_t/$_p'"
		check "mnt$M reads it" poll 20 sh -c "timeout 5 cat '$MQ_TMP/mnt$M/$_t/$_p' | grep -qx $_t$_p"
	done
}
cluster_mkdir y
check "a controller" poll 20 has_controller
K=$(controller)
M=$((K % 3 + 1))
mq_bg sh -c 'echo partitions=4 >"$1"; echo $? >"$2"' sh "$MQ_TMP/mnt$M/y/.config" \
	"$MQ_TMP/grow.rc"
GROWPID=$MQ_LAST_PID
kill_on_open y-1 y-2 y-3
check "partitions=4 on mnt$M returned" poll 30 test -s "$MQ_TMP/grow.rc"
mq_wait "$GROWPID"
restart "$K"
each_led y 0 1 2 3

# ---- the controller's broker killed while ZooKeeper restarts --------------
zk_stop "$ZKDIR"
kill_controller
check "ZooKeeper started again on its data" zk_start "$ZKDIR" "$ZKPORT"
restart "$K"
check "t: a leader in its ISR on mnt$K" poll 60 leader_in_isr "$K" t 0
expect_eq "50 acks=all writes after the restarts" 50 "$(t_put "mnt$K" d 50)"
for n in 1 2 3; do
	check "mnt$n reads every acknowledged record once, in order" poll 30 t_has "$n"
done

mq_done
