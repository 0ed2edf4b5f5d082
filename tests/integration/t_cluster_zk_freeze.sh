#!/bin/sh
# t_cluster_zk_freeze.sh — ZooKeeper frozen (SIGSTOP) under a running
# cluster: ZooKeeper and three SASL brokers, a topic of one partition with
# three replicas. The data path needs no ZooKeeper: while it does not
# answer, an acks=all write on the leader's mount and the first write
# forwarded through a follower's mount (the first since that broker
# started, which needs a producer id: the block was taken at the start)
# are acknowledged at once, and every mount reads them. Continued within
# the session timeout, the brokers keep their sessions and the topic its
# leader; writes go on through every mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# Sessions outlive the freeze: what is checked is the data path alone.
CLUSTER_SESSION_MS=20000
CLUSTER_CONF="num.partitions=1"
zk_cluster_start
cluster_start3
t_make3

expect_ok "a write on the leader's mount" sh -c "echo r-1 >> '$MQ_TMP/mnt$L/t/0'"

ZKP=$(cat "$ZKDIR/zk.pid")
# freeze_pid: continued by the cleanup before the brokers stop (their
# clean stops write to ZooKeeper).
freeze_pid "$ZKP"
check "ZooKeeper frozen" poll 20 all_stopped "$ZKP"
# A write's wait is bounded by request.timeout.ms (30 s): 15 s tells an
# acknowledgement from a wait for ZooKeeper.
expect_ok "ZooKeeper frozen: acks=all on the leader's mount (mnt$L)" \
	timeout 15 sh -c "echo r-2 >> '$MQ_TMP/mnt$L/t/0'"
expect_ok "ZooKeeper frozen: the first forwarded write through mnt$F" \
	timeout 15 sh -c "echo r-3 >> '$MQ_TMP/mnt$F/t/0'"
expect_ok "ZooKeeper frozen: the first forwarded write through mnt$G" \
	timeout 15 sh -c "echo r-4 >> '$MQ_TMP/mnt$G/t/0'"
printf 'r-1\nr-2\nr-3\nr-4\n' >"$MQ_TMP/want4"
# has FILE N: MQ_TMP/mntN/t/0 reads as FILE.
has() {
	timeout 5 cat "$MQ_TMP/mnt$2/t/0" >"$MQ_TMP/got$2" 2>/dev/null && cmp -s "$MQ_TMP/got$2" "$1"
}
for n in 1 2 3; do
	check "ZooKeeper frozen: mnt$n reads the four records" poll 20 has "$MQ_TMP/want4" "$n"
done
expect_ok "the brokers' logs name no missing producer id block" \
	sh -c "! grep -q 'producer ids: no new block' '$LOG'"

thaw_pid "$ZKP"
check "ZooKeeper continued: three live brokers on mnt1" poll 30 alive_on "$MQ_TMP/mnt1" 3
expect_eq "the same leader" "$L" "$(t_field "$MQ_TMP/mnt1" 5)"
for n in 1 2 3; do
	expect_ok "ZooKeeper continued: a write through mnt$n" sh -c "echo s-$n >> '$MQ_TMP/mnt$n/t/0'"
done
printf 'r-1\nr-2\nr-3\nr-4\ns-1\ns-2\ns-3\n' >"$MQ_TMP/want7"
for n in 1 2 3; do
	check "mnt$n reads every record once, in order" poll 20 has "$MQ_TMP/want7" "$n"
done

mq_done
