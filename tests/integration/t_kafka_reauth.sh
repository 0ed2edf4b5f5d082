#!/bin/sh
# t_kafka_reauth.sh — SASL re-authentication (KIP-368) on the
# three-broker cluster with connections.max.reauth.ms=2000 (SASL_PLAINTEXT,
# SCRAM-SHA-256; a second user alice): a kafkajs producer and consumer
# (which re-authenticate) work across several sessions on their
# connections, never cut; the brokers' own connections (replica fetchers,
# the controller's, group and forwarded requests) re-authenticate too and
# the replicas stay the same; a raw client's request after its session's
# end closes its connection unanswered; a re-authentication as another
# user, with its right password, is refused with Kafka's message and
# closed, as the same user passes; a librdkafka 2.0 producer (which does
# not re-authenticate) has its connection cut at a session's end,
# reconnects and delivers every record once.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"
kafkajs_setup
RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
[ -x "$RDK" ] || { fail "rdk_check" "not built at $RDK"; mq_done; }

CLUSTER_CONF="num.partitions=1
connections.max.reauth.ms=2000"
zk_cluster_start
echo alice-secret | mq_run "$MQFS" --zookeeper "$ZK" --add-scram-user alice >>"$LOG" 2>&1
expect_eq "mqfs --add-scram-user alice" "0" "$?"
cluster_start3
cluster_mkdir r
check "r/0: three replicas in the ISR" poll 30 \
	sh -c '[ "$(awk '"'"'$1 == "0" { print $8 }'"'"' "$1/r/.state" 2>/dev/null | tr -d "[]" | tr "," "\n" | grep -c .)" = 3 ]' \
	sh "$MQ_TMP/mnt1"

# cut USER: the lines of connections closed for a request past USER's
# session's end.
cut() {
	grep -c "request after the end of $1's SASL session (connections.max.reauth.ms 2000)" "$LOG"
}

# The cluster's first FindCoordinator makes __consumer_offsets and is
# answered COORDINATOR_NOT_AVAILABLE, as Kafka answers it; the kafkajs
# client below does not retry (a retried request would hide a cut
# connection), so the topic is made first.
g1_known() {
	case $(group_coordinator g1) in 1 | 2 | 3) return 0 ;; *) return 1 ;; esac
}
check "FindCoordinator g1 names a broker" poll 40 g1_known

# kafkajs: 16 records, one every 500 ms (about four sessions), through
# one producer and one consumer connection each.
out=$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_reauth.js" "127.0.0.1:$PORT1" r g1 \
	alice:alice-secret 16 500 500 2>"$MQ_TMP/kafkajs.err")
expect_eq "kafkajs across sessions: every record, in order" "sent 16 received 16 in order" "$out"
# Where it was when it did not finish: its progress and any error.
[ "$out" = "sent 16 received 16 in order" ] || sed 's/^/    | kafkajs: /' "$MQ_TMP/kafkajs.err"
check "kafkajs re-authenticated on its connections" grep -q "re-authenticated as alice" "$LOG"
expect_eq "no kafkajs connection cut" "0" "$(cut alice)"

# The brokers' own connections: re-authenticated, never cut, the replicas
# the same on every mount.
check "the brokers re-authenticate to each other" grep -q "re-authenticated as admin" "$LOG"
expect_eq "no broker connection cut" "0" "$(cut admin)"
check "r/0 on mnt2 as on mnt1" poll 20 same_file "$MQ_TMP/mnt1/r/0" "$MQ_TMP/mnt2/r/0"
check "r/0 on mnt3 as on mnt1" poll 20 same_file "$MQ_TMP/mnt1/r/0" "$MQ_TMP/mnt3/r/0"
expect_eq "r/0 has the 16 records" "16" "$(timeout 10 wc -l <"$MQ_TMP/mnt1/r/0")"

# A raw client that does not re-authenticate: its request after the end
# closes the connection unanswered, logged.
expect_eq "a request after the session's end: closed" "lifetime 2000 closed" \
	"$(mq_run python3 "$LIBDIR/kafka_raw.py" reauth-expired 127.0.0.1 "$PORT1" alice alice-secret 2>&1)"
check "logged" poll 10 sh -c '[ "$(grep -c "ApiVersions request after the end of alice.s SASL session" "$1")" -ge 1 ]' sh "$LOG"

# Re-authentication keeps the user: another one is refused (with its
# right password), the same one passes.
expect_eq "re-authentication as another user: refused, closed" \
	"error 58 Cannot change principals during re-authentication from User.alice: User.admin closed" \
	"$(mq_run python3 "$LIBDIR/kafka_raw.py" reauth 127.0.0.1 "$PORT1" alice alice-secret admin admin-secret 2>&1)"
expect_eq "re-authentication as the same user: passes" "error 0 lifetime 2000" \
	"$(mq_run python3 "$LIBDIR/kafka_raw.py" reauth 127.0.0.1 "$PORT1" alice alice-secret alice alice-secret 2>&1)"

# librdkafka 2.0 does not re-authenticate: a producer streaming records
# one at a time (tests/clients/rdk_check stream) is cut at its session's
# end, reconnects and goes on, every record delivered once, in order.
before=$(cut alice)
rows() { timeout 10 wc -l <"$MQ_TMP/mnt1/r/0"; }
mq_run "$RDK" -b "127.0.0.1:$PORT1" -X security.protocol=SASL_PLAINTEXT \
	-X sasl.mechanisms=SCRAM-SHA-256 -X sasl.username=alice -X sasl.password=alice-secret \
	stream r 0 L "$MQ_TMP/stop" >"$MQ_TMP/rdk.out" 2>>"$LOG" &
RDKPID=$!
check "librdkafka's connection cut at its session's end" poll 30 \
	sh -c '[ "$(grep -c "request after the end of alice.s SASL session" "$1")" -gt "$2" ]' \
	sh "$LOG" "$before"
at_cut=$(rows)
check "librdkafka produces on after reconnecting" poll 30 sh -c '[ "$(timeout 10 wc -l <"$1")" -gt "$2" ]' \
	sh "$MQ_TMP/mnt1/r/0" "$at_cut"
touch "$MQ_TMP/stop"
wait "$RDKPID"
expect_eq "rdk_check stream exits 0" "0" "$?"
set -- $(cat "$MQ_TMP/rdk.out")
expect_eq "streamed records at consecutive offsets after r's 16" "streamed $2 16 $((15 + $2))" \
	"$(cat "$MQ_TMP/rdk.out")"
expect_eq "r/0 holds them once each" "$((16 + $2))" "$(rows)"
mq_done
