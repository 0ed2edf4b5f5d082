#!/bin/sh
# t_cluster_delayed_produce.sh — acks=all Produce requests waiting for
# their commit hold no listener worker (Kafka's DelayedProduce in the
# produce purgatory): ZooKeeper and three SASL brokers with
# num.io.threads=2, a topic of one partition with three replicas. Both
# followers are frozen (SIGSTOP) and three Kafka clients' acks=-1
# Produce requests (timeout_ms 20000) are appended on the leader and
# wait: more than its workers; a fourth, whose client is killed, leaves
# the purgatory at once. A Metadata request and a consumer's Fetch
# (max_wait_ms 0) to the leader are then answered at once, not once the
# writes give up (a worker each, they would wait the writes' 20 s); the
# third write's frame alone is over queued.max.request.bytes, which a
# parked request no longer counts in (as Kafka's handler gives its
# buffer back), or no other request would be read until it is answered
# (a follower's Fetch that would commit it neither). Parked, the writes
# hold none of their frames (Kafka's clearPartitionRecords): the
# leader's mqfs_listener_parked_frame_bytes stays 0 with the 70000-byte
# one parked, and mqfs_listener_frames_dropped_total counts the three
# frames freed (the answers, their topic names copied out, still come).
# The client that is
# killed leaves no warning in the log (it went; nothing failed), nor
# (under ASan) the references its parked write held. With the followers
# frozen nothing commits the writes: each is answered REQUEST_TIMED_OUT
# at its timeout_ms. Thawed, the followers rejoin the ISR; a new acks=-1
# Produce is committed by their fetches and answered NONE (no refusal
# logged). Then one follower (not the controller) is frozen, an acks=-1
# Produce waits, and the leader stops cleanly: its controlled shutdown
# moves the leadership to the other follower, and the parked Produce is
# answered NOT_LEADER_OR_FOLLOWER before the listener closes.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# The session timeout (20 s) is the time the writers have to reach the
# leader once followers are frozen (python and SCRAM on a loaded machine
# can take seconds) and, in the last step, for the controlled shutdown:
# the ISR keeps a frozen follower meanwhile, which holds the hw.
CLUSTER_SESSION_MS=20000
CLUSTER_CONF="num.partitions=1
num.io.threads=2
queued.max.request.bytes=65536"
zk_cluster_start
cluster_start3
t_make3
expect_ok "a write on the leader's mount (mnt$L)" sh -c "echo r-0 >> '$MQ_TMP/mnt$L/t/0'"

eval "PF=\$PID$F PG=\$PID$G LPORT=\$PORT$L"
freeze_pid "$PF" "$PG"
check "broker $F stopped" poll 20 all_stopped "$PF"
check "broker $G stopped" poll 20 all_stopped "$PG"
# The third record: 70000 bytes, its frame over queued.max.request.bytes.
BIG=$(head -c 70000 /dev/zero | tr '\0' x)
for n in 1 2 3; do
	v=r-$n
	[ "$n" = 3 ] && v=r-3$BIG
	mq_bg sh -c 'KAFKA_RAW_TIMEOUT_MS=20000 python3 "$1" produce 127.0.0.1 "$2" admin \
		admin-secret t 0 "$3" -1 > "$4" 2>&1' sh \
		"$LIBDIR/kafka_raw.py" "$LPORT" "$v" "$MQ_TMP/kwrote$n"
done
# leo_is N: the leader's .state shows a log end offset of N.
leo_is() {
	[ "$(t_field "$MQ_TMP/mnt$L" 4)" = "$1" ]
}
check "the three Produce requests appended (log end 4) before the followers' sessions expire" \
	poll 9 leo_is 4
# Each writer's connection is answered only once its commit is settled.
unanswered() {
	for _n in 1 2 3; do
		[ -s "$MQ_TMP/kwrote$_n" ] && return 1
	done
	return 0
}
check "the three Produce requests wait for their commit" unanswered
# purgatory_is N: the leader's produce purgatory holds N requests.
purgatory_is() {
	[ "$(awk '$1 == "mqfs_produce_purgatory_size" { print $2 }' "$MQ_TMP/mnt$L/.metrics")" = "$1" ]
}
check "the three in the produce purgatory" purgatory_is 3
# lmetric NAME: the leader's metric NAME.
lmetric() {
	awk -v n="$1" '$1 == n { print $2 }' "$MQ_TMP/mnt$L/.metrics"
}
# Counted when each is parked, before the purgatory holds it: read once
# all three are there.
expect_eq "the three parked frames freed (70000 bytes and more held without)" "0" \
	"$(lmetric mqfs_listener_parked_frame_bytes)"
expect_eq "three frames dropped" "3" "$(lmetric mqfs_listener_frames_dropped_total)"
# A client that goes while its Produce waits: the purgatory lets go of
# it at once (the connection closed), not at its timeout_ms (120 s).
mq_bg sh -c 'KAFKA_RAW_TIMEOUT_MS=120000 exec python3 "$1" produce 127.0.0.1 "$2" admin \
	admin-secret t 0 r-gone -1 > "$3" 2>&1' sh "$LIBDIR/kafka_raw.py" "$LPORT" "$MQ_TMP/kgone"
GONE=$MQ_LAST_PID
check "a fourth Produce parked" poll 10 purgatory_is 4
kill -9 "$GONE"
mq_wait "$GONE" 10
check "its client killed: the purgatory lets go of it, the other three wait" poll 10 purgatory_is 3
check "it got no answer" test ! -s "$MQ_TMP/kgone"
# Answered at once: well within the writes' 20 s.
expect_ok "Metadata from the leader while three acks=all writes wait (2 workers)" \
	sh -c 'timeout 8 python3 "$1" metadata 127.0.0.1 "$2" admin admin-secret t | grep -q "^0 error 0 "' \
	sh "$LIBDIR/kafka_raw.py" "$LPORT"
expect_ok "a consumer's Fetch from the leader likewise" \
	sh -c 'KAFKA_RAW_SCRAM=admin:admin-secret timeout 8 python3 "$1" parked 127.0.0.1 "$2" t 0 0 0 |
		grep -q "^error 0 after 0 s"' sh "$LIBDIR/kafka_raw.py" "$LPORT"
check "the writes still wait" unanswered
expect_eq "no warning for the client that went" "0" \
	"$(grep -c 'Produce handler failed' "$MQ_TMP/daemon.log")"
# kwrote_all: each writer has its answer.
kwrote_all() {
	for _n in 1 2 3; do
		[ -s "$MQ_TMP/kwrote$_n" ] || return 1
	done
}
check "the three Produce requests are answered at their timeout_ms" poll 40 kwrote_all
for n in 1 2 3; do
	expect_eq "Produce r-$n: REQUEST_TIMED_OUT (the followers frozen)" "error 7" \
		"$(cat "$MQ_TMP/kwrote$n" 2>/dev/null)"
done
check "the produce purgatory is empty again" poll 10 purgatory_is 0
thaw_pid "$PF" "$PG"
check "the followers rejoin the ISR" poll 60 t_isr_is "$MQ_TMP/mnt$L" "1,2,3"
expect_eq "an acks=all Produce with the ISR whole: NONE" "error 0" \
	"$(timeout 60 python3 "$LIBDIR/kafka_raw.py" produce 127.0.0.1 "$LPORT" admin admin-secret \
		t 0 r-4 -1 2>&1)"
# Only refusals are logged (a parked write answered NONE is not one).
expect_eq "no refusal logged for it" "0" "$(grep -c 'refused: NONE' "$MQ_TMP/daemon.log")"

C=$(controller)
X=$F
[ "$X" = "$C" ] && X=$G
eval "PX=\$PID$X LPID=\$PID$L"
freeze_pid "$PX"
check "broker $X (a follower, not the controller $C) stopped" poll 20 all_stopped "$PX"
mq_bg sh -c 'python3 "$1" produce 127.0.0.1 "$2" admin admin-secret t 0 r-5 -1 > "$3" 2>&1' sh \
	"$LIBDIR/kafka_raw.py" "$LPORT" "$MQ_TMP/kwrote5"
check "the Produce appended (log end 7)" poll 15 leo_is 7
# A controlled shutdown hands the leaderships over through the controller
# first: on a loaded machine (or under ASan) that takes longer than the
# harness's default 10 s.
MQ_MOUNT_WAIT=60 mq_umount "$MQ_TMP/mnt$L" "$LPID"
expect_eq "broker $L (the leader) stopped cleanly" "0" "$MQ_RC"
kwrote5() {
	[ -s "$MQ_TMP/kwrote5" ]
}
check "the parked Produce is answered" poll 10 kwrote5
expect_eq "the parked Produce: NOT_LEADER_OR_FOLLOWER" "error 6" \
	"$(cat "$MQ_TMP/kwrote5" 2>/dev/null)"
thaw_pid "$PX"

mq_done
