#!/bin/sh
# t_cluster_damaged_replica.sh — a replica whose log was damaged on disk
# while its broker was stopped (Kafka's log directory that fails,
# KIP-112): ZooKeeper and three SASL brokers, a topic of one partition
# with three replicas and 200 acknowledged records. The followers stop
# cleanly, then the leader, the last of the ISR; its .log loses its last
# 25 bytes (a batch cut in the middle, in a segment that was fsynced:
# damage, not a torn tail). The followers start again, then the leader:
# its log is served up to the damage only, so it must not lead (it would
# hide the records after the damage from every replica and refuse every
# write) nor follow: it answers the controller's LeaderAndIsr with
# KAFKA_STORAGE_ERROR (logged), and the partition, whose only in-sync
# replica cannot host it, stays without a leader while the followers'
# mounts still read all 200 records and their logs keep them. The damaged
# broker stops and starts again (its leader-epoch-checkpoint stays valid)
# and still refuses the replica, until the files are repaired. The topic's
# unclean.leader.election.enable=true (a .config write; the brokers' is
# false) makes the controller elect a follower at once: writes go on and
# no acknowledged record is lost.

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

numbered 200 "$MQ_TMP/want"
expect_ok "200 acks=all writes on the leader's mount (mnt$L)" \
	sh -c "while read -r r; do echo \"\$r\" >> '$MQ_TMP/mnt$L/t/0' || exit 1; done < '$MQ_TMP/want'"
# has N: MQ_TMP/mntN/t/0 reads the 200 records.
has() {
	timeout 5 cat "$MQ_TMP/mnt$1/t/0" >"$MQ_TMP/got$1" 2>/dev/null && cmp -s "$MQ_TMP/got$1" "$MQ_TMP/want"
}
for n in 1 2 3; do
	check "mnt$n reads the 200 records" poll 20 has "$n"
done

check "follower $F stops cleanly" broker_stop "$F"
check "follower $G stops cleanly" broker_stop "$G"
check "the leader alone in the ISR" poll 20 t_isr_is "$MQ_TMP/mnt$L" "$L"
check "leader $L stops cleanly" broker_stop "$L"

SEG=$MQ_TMP/b$L/data/t-0/00000000000000000000.log
SIZE=$(stat -c %s "$SEG")
expect_ok "broker $L's .log cut by 25 bytes while stopped" truncate -s "$((SIZE - 25))" "$SEG"

broker_start "$F"
broker_start "$G"
broker_start "$L"
for n in 1 2 3; do
	check "mnt$n: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 3
done
# refused: broker L's log names the damage and the refusal, and the
# controller counts the replica out.
refused() {
	grep -q "t-0: replica refused: its log is damaged on disk" "$LOG" &&
		grep -q "controller: broker $L cannot host t-0 (KAFKA_STORAGE_ERROR" "$LOG"
}
check "broker $L refuses to host its damaged replica (logged)" poll 30 refused
# offline: the controller counts the partition offline (its only in-sync
# replica cannot host it).
offline() {
	for _on in 1 2 3; do
		[ "$(timeout 5 awk '$1 == "mqfs_offline_partitions" { print $2 }' \
			"$MQ_TMP/mnt$_on/.metrics" 2>/dev/null)" = "1" ] && return 0
	done
	return 1
}
check "the partition is offline, not led by the damaged replica" poll 20 offline
for n in $F $G; do
	check "mnt$n still reads the 200 records" poll 20 has "$n"
	expect_eq "broker $n's log not cut (size_bytes in mnt$n/t/.state)" "$SIZE" \
		"$(t_field "$MQ_TMP/mnt$n" 9)"
done
expect_fail "no write is acknowledged" timeout 60 sh -c "echo x-1 >> '$MQ_TMP/mnt$F/t/0'"

check "broker $L stops cleanly" broker_stop "$L"
broker_start "$L"
check "broker $L starts again" poll 30 alive_on "$MQ_TMP/mnt$F" 3
expect_ok "its leader-epoch-checkpoint still parses" \
	sh -c "! grep -q 'leader-epoch-checkpoint: line' '$LOG'"
check "and still refuses the replica" poll 30 sh -c \
	"[ \$(grep -c 't-0: replica refused: its log is damaged on disk' '$LOG') -ge 2 ]"

# The topic's own unclean.leader.election.enable (the brokers' is false)
# lets the controller elect a follower, which holds every record.
expect_ok "unclean.leader.election.enable=true in mnt$F/t/.config" \
	sh -c "echo unclean.leader.election.enable=true > '$MQ_TMP/mnt$F/t/.config'"
# led_by_follower: mnt F's .state of t names F or G as leader.
led_by_follower() {
	_ld=$(t_field "$MQ_TMP/mnt$F" 5)
	[ "$_ld" = "$F" ] || [ "$_ld" = "$G" ]
}
check "a follower leads (an unclean election, logged)" poll 30 led_by_follower
expect_ok "the controller logged it" grep -q "controller: t-0: unclean leader election: broker [$F$G] leads" "$LOG"
expect_ok "its state-change line names the election unclean" \
	grep -q "controller: t-0: leader -1 -> [$F$G] (unclean election, leader epoch" "$LOG"
write_ok() {
	sh -c "echo r-201 >> '$MQ_TMP/mnt$F/t/0'" 2>/dev/null
}
check "a write is acknowledged again" poll 30 write_ok
echo r-201 >>"$MQ_TMP/want"
for n in $F $G; do
	check "mnt$n reads every acknowledged record once, in order" poll 20 has "$n"
done

mq_done
