#!/bin/sh
# t_kafka_cluster_clients.sh — Kafka clients against the three-broker
# cluster (ZooKeeper and brokers on loopback, SASL_PLAINTEXT with
# SCRAM-SHA-256): a topic of three partitions whose leaders the controller
# spreads over the brokers; per partition, a mount write on the leader's
# mount, then the librdkafka program (tests/clients/rdk_check) bootstrapped
# from broker 1 only (gzip, snappy and zstd batches, one codec a
# partition), kcat -P from broker 2 and kafkajs from broker 3, then the
# mount again: each client follows the leader that Metadata names, and
# every mount (leader and followers) shows the records at the same offsets
# and stores rdk_check's batch in its codec;
# rdk_check and kcat -C read them back, keys and headers included; kcat -L
# from any broker names the leaders .state shows; a Produce sent straight
# to a follower gets NOT_LEADER_OR_FOLLOWER, nothing appended; Metadata
# names the replicas of a stopped broker offline; leadership
# moves twice under a running rdk_check stream (a clean stop of the
# leader, then its return as preferred leader): the client follows, gets
# NOT_LEADER_OR_FOLLOWER from the old leader, retries on the new one, and
# every record lands once, in order, on every mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

ROOT=$(cd "$LIBDIR/../.." && pwd -P)
KAFKAJS_PATH=${KAFKAJS_PATH:-$ROOT/build/npm/node_modules/kafkajs}
export KAFKAJS_PATH
RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
[ -x "$RDK" ] || { fail "rdk_check" "not built at $RDK"; mq_done; }
[ -d "$KAFKAJS_PATH" ] || { fail "kafkajs" "not installed at $KAFKAJS_PATH"; mq_done; }

# The preferred leader takes its partition back one second after it is in
# the ISR again (Kafka's auto.leader.rebalance), so that leadership moves
# while every broker stays up.
CLUSTER_CONF="num.partitions=3
leader.imbalance.check.interval.seconds=1"
zk_cluster_start
cluster_start3

# The clients authenticate as the brokers do (the one SCRAM user).
rdk() {   # rdk BROKER_N ARGS...
	_b=$1
	shift
	# shellcheck disable=SC2086
	eval "timeout -k 5 \"\$MQ_TIMEOUT\" \"\$RDK\" -b 127.0.0.1:\$PORT$_b $SASL \"\$@\""
}
js() {    # js BROKER_N TOPIC SPEC: kafkajs's send, the base offset
	eval "timeout -k 5 \"\$MQ_TIMEOUT\" node \"\$LIBDIR/kafkajs_produce.js\" 127.0.0.1:\$PORT$1 \"\$2\" \"\$3\""
}

# row MNT P: partition P's row of c/.state (partition, log start, hw, leo,
# leader, leader epoch, replicas, isr, ...).
field() {
	timeout 5 awk -v p="$2" -v f="$3" '$1 == p { print $f }' "$1/c/.state" 2>/dev/null
}
isr3() {
	for _p in 0 1 2; do
		[ "$(field "$1" "$_p" 8 | tr -d '[]' | tr ',' '\n' | grep -c .)" = 3 ] || return 1
	done
}

cluster_mkdir c
check "three partitions, three replicas in each ISR" poll 30 isr3 "$MQ_TMP/mnt1"
leaders=""
for p in 0 1 2; do
	eval "L$p=\$(field \"\$MQ_TMP/mnt1\" $p 5)"
	eval "leaders=\"\$leaders \$L$p\""
done
echo "# leaders of c/0..2:$leaders" >>"$LOG"
expect_eq "the leaders are on three different brokers" "3" \
	"$(echo "$leaders" | tr ' ' '\n' | grep . | sort -u | wc -l)"

# kcat -L from each broker: the leader of every partition as .state says.
for n in 1 2 3; do
	meta=$(kc "$n" -L -t c 2>&1)
	good=1
	for p in 0 1 2; do
		eval "l=\$L$p"
		case $meta in
		*"partition $p, leader $l, replicas: "*) ;;
		*) good=0 ;;
		esac
	done
	if [ "$good" = 1 ]; then ok "kcat -L from broker $n: the three leaders"; else fail "kcat -L from broker $n" "$meta"; fi
done

file_is() {
	[ "$(timeout 5 cat "$1" 2>/dev/null)" = "$2" ]
}
for p in 0 1 2; do
	eval "L=\$L$p"
	codec=$(echo gzip snappy zstd | cut -d' ' -f$((p + 1)))
	expect_ok "c/$p: echo >> on the leader's mount (mnt$L)" sh -c "echo m$p-a >> '$MQ_TMP/mnt$L/c/$p'"
	expect_eq "c/$p: rdk_check from broker 1, $codec, acks=all: verified" "verified 3 1 3" \
		"$(rdk 1 verify c "$p" "$codec" 3 "r$p" 2>>"$MQ_TMP/rdk.err")"
	printf 'kk:kc%s\n' "$p" | kc 2 -P -t c -p "$p" -K: -H hk=hv
	expect_eq "c/$p: kafkajs from broker 3 with a key and a header: offset 5" "5" \
		"$(js 3 c "{\"partition\":$p,\"sasl\":{\"username\":\"admin\",\"password\":\"admin-secret\"},\"messages\":[{\"key\":\"j\",\"value\":\"js$p\",\"headers\":{\"h\":\"x\"}}]}" 2>&1)"
	expect_ok "c/$p: echo >> on mnt$L again" sh -c "echo m$p-b >> '$MQ_TMP/mnt$L/c/$p'"
	want=$(printf 'm%s-a\nr%s-v0\nr%s-v1\nr%s-v2\nkc%s\njs%s\nm%s-b' "$p" "$p" "$p" "$p" "$p" "$p" "$p")
	for n in 1 2 3; do
		if poll 20 file_is "$MQ_TMP/mnt$n/c/$p" "$want"; then
			ok "c/$p on mnt$n: every client's records at their offsets"
		else
			fail "c/$p on mnt$n" "expected '$want', got '$(timeout 5 cat "$MQ_TMP/mnt$n/c/$p" 2>&1)'"
		fi
		expect_ok "c/$p on mnt$n: rdk_check's batch stored $codec" grep -q \
			"^baseOffset: 1 .* codec: $codec " "$MQ_TMP/mnt$n/c/.segments/$p/00000000000000000000.dump"
	done
	want=$(printf '%s\n' "0 - m$p-a -" "1 r$p-k0 r$p-v0 tag=r$p,i=0" "2 r$p-k1 r$p-v1 tag=r$p,i=1" \
		"3 r$p-k2 r$p-v2 tag=r$p,i=2" "4 kk kc$p hk=hv" "5 j js$p h=x" "6 - m$p-b -")
	expect_eq "c/$p: rdk_check consume from broker 2: all, in order, keys and headers" \
		"$want" "$(rdk 2 consume c "$p" beginning 7 2>>"$MQ_TMP/rdk.err")"
	expect_eq "c/$p: kcat -C from broker 3" "$(printf '0  m%s-a\n4 kk kc%s\n5 j js%s' "$p" "$p" "$p")" \
		"$(kc 3 -C -t c -p "$p" -o beginning -e -q -f '%o %k %s\n' 2>&1 | sed -n '1p;5,6p')"
	expect_eq "c/$p: watermarks from broker 1" "0 7" "$(rdk 1 watermarks c "$p" 2>>"$MQ_TMP/rdk.err")"
done
# librdkafka's own log lines (its group coordinator connection, opened
# because rdk_check sets a group.id, can log a transport failure when the
# program closes while that connection is still authenticating): shown,
# not compared.
[ -s "$MQ_TMP/rdk.err" ] && sed 's/^/# rdk_check: /' "$MQ_TMP/rdk.err"

# A Produce sent to a broker that does not lead the partition.
F=$((L0 % 3 + 1))
eval "FPORT=\$PORT$F"
out=$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" produce 127.0.0.1 "$FPORT" \
	admin admin-secret c 0 stray 2>&1)
expect_eq "Produce to follower $F of c/0: NOT_LEADER_OR_FOLLOWER (6)" "error 6" "$out"
expect_eq "nothing appended to c/0" "7" "$(field "$MQ_TMP/mnt$L0" 0 4)"

# ---- leadership moves under a running librdkafka producer ------------------
# rdk_check streams into c/0 (leader L0) from another broker's bootstrap;
# L0 stops cleanly (its leadership moves to N), the stream goes on with N;
# L0 comes back and takes the partition back: N, still asked by the
# client's old metadata, answers NOT_LEADER_OR_FOLLOWER and the client
# retries on L0. Every record delivered, in order, none lost.
L=$L0
O=$((L % 3 + 1))
eval "OPORT=\$PORT$O"
eval "LPID=\$PID$L"
stop=$MQ_TMP/stream.stop
hw0() {   # hw0 MNT: the hw of c/0 there
	field "$1" 0 3
}
hw_above() {
	[ "$(hw0 "$MQ_TMP/mnt$1")" -gt "$2" ] 2>/dev/null
}
# shellcheck disable=SC2086
mq_bg sh -c "exec \"\$0\" \"\$@\" >'$MQ_TMP/stream.out' 2>'$MQ_TMP/stream.err'" "$RDK" -b "127.0.0.1:$OPORT" $SASL \
	stream c 0 s "$stop"
SPID=$MQ_LAST_PID
check "the stream appends on the leader" poll 20 hw_above "$O" 20
# A controlled shutdown hands the leaderships over through the controller
# first: on a loaded machine (or under ASan) that takes longer than the
# harness's default 10 s.
MQ_MOUNT_WAIT=60 mq_umount "$MQ_TMP/mnt$L" "$LPID"
expect_eq "broker $L (leader of c/0) stopped cleanly" "0" "$MQ_RC"
moved() {
	_l=$(field "$MQ_TMP/mnt$O" 0 5)
	[ -n "$_l" ] && [ "$_l" != "$L" ] && [ "$_l" != "-1" ]
}
check "c/0 has a new leader" poll 30 moved
N=$(field "$MQ_TMP/mnt$O" 0 5)
# Metadata names the stopped broker's replicas offline (v5+), as Kafka's
# controller has every broker do: kafka-topics.sh --describe shows them.
offline_is() {   # offline_is PORT WANT: c/0's offline replicas there
	[ "$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" metadata 127.0.0.1 "$1" \
		admin admin-secret c 2>&1 | awk '$1 == "0" { print $NF }')" = "$2" ]
}
check "Metadata from broker $O: c/0's replica on broker $L offline" poll 30 offline_is "$OPORT" "$L"
at=$(hw0 "$MQ_TMP/mnt$O")
check "the stream goes on with the new leader $N" poll 30 hw_above "$O" "$((at + 20))"
broker_start "$L"
back() {
	[ "$(field "$MQ_TMP/mnt$O" 0 5)" = "$L" ]
}
check "broker $L back, leader of c/0 again (preferred leader)" poll 60 back
check "Metadata from broker $O: no replica of c/0 offline" poll 30 offline_is "$OPORT" "-"
refused() {
	grep -q "to c-0 refused: NOT_LEADER_OR_FOLLOWER" "$LOG"
}
check "the old leader $N answered the stream NOT_LEADER_OR_FOLLOWER" poll 30 refused
at=$(hw0 "$MQ_TMP/mnt$O")
check "the stream goes on with broker $L" poll 30 hw_above "$O" "$((at + 20))"
: >"$stop"
mq_wait "$SPID" 60
expect_eq "rdk_check stream: every record delivered, offsets increasing" "0" "$MQ_RC"
out=$(cat "$MQ_TMP/stream.out")
case $out in
"streamed "*) ok "rdk_check: $out" ;;
*) fail "rdk_check stream" "$out $(cat "$MQ_TMP/stream.err")" ;;
esac
n=$(echo "$out" | awk '/^streamed/ { print $2 }')
# What the log holds after the seven records above, with any record sent
# twice (appended, its answer lost while the leader stopped, sent again)
# counted once: s-v0 .. s-v<n-1>, in order.
same_stream() {
	[ "$(timeout 10 tail -n +8 "$MQ_TMP/mnt$1/c/0" | uniq | tr '\n' ' ')" = \
		"$(seq 0 $((n - 1)) | sed 's/^/s-v/' | tr '\n' ' ')" ]
}
for m in 1 2 3; do
	check "mnt$m: the stream's $n records in order, none lost" poll 30 same_stream "$m"
done

mq_done
