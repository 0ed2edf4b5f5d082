#!/bin/sh
# t_kafka_produce.sh — Kafka clients produce to a single node with
# `listeners=`: kafkajs (from npm) with keys, headers, gzip, values holding
# a newline, acks 0/1/all, interleaved with `echo >> MNT/t/0`; the partition
# file shows every record at its offset in the line view (line.format
# escape), .dump shows keys, values and headers, .state and .segments see
# the records at once; the escaped view goes back through .produce as the
# same records; Kafka's errors per partition; kcat -L lists brokers, topics
# and partitions; auto-creation by a client; one produce over
# SASL_PLAINTEXT with SCRAM-SHA-256. kcat -P writes record batches v2 only
# to a broker that serves Fetch v4 (librdkafka's rule): it is checked
# against what the broker advertises.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

kafkajs_setup

PORT=$(zk_free_port)
SPORT=$(zk_free_port)
B=127.0.0.1:$PORT
cat >"$MQ_TMP/server.properties" <<EOF
listeners=PLAINTEXT://127.0.0.1:$PORT,SASL_PLAINTEXT://127.0.0.1:$SPORT
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="client" password="client-secret";
EOF
mq_mount --config "$MQ_TMP/server.properties"

# produce TOPIC SPEC: kafkajs's send; prints the base offset.
produce() {
	timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_produce.js" "$B" "$@"
}
file_is() {
	[ "$(cat "$1")" = "$2" ]
}

expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "echo m0 >> t/0" sh -c "echo m0 >> '$MNT/t/0'"

# A keyed record with a header and a value with a newline, acks=all.
off=$(produce t '{"acks":-1,"messages":[{"key":"k1","value":"v1","headers":{"h":"x"}},
	{"value":"two\nlines"}]}' 2>&1)
expect_eq "kafkajs acks=all: base offset after the mount's record" "1" "$off"
expect_eq ".state at once: log end offset 3" "3" \
	"$(awk 'NR == 2 { print $4 }' "$MNT/t/.state")"
expect_ok "echo m3 >> t/0" sh -c "echo m3 >> '$MNT/t/0'"
off=$(produce t '{"compression":"gzip","acks":1,"messages":[{"key":"g","value":"gz1"},
	{"value":"gz2"}]}' 2>&1)
expect_eq "kafkajs gzip acks=1: base offset 4" "4" "$off"
off=$(produce t '{"acks":0,"messages":[{"value":"a0"}]}' 2>&1)
expect_eq "kafkajs acks=0: no response" "-1" "$off"
expect_ok "echo m7 >> t/0" sh -c "echo m7 >> '$MNT/t/0'"

want=$(printf 'm0\nv1\n\\two\\nlines\nm3\ngz1\ngz2\na0\nm7')
if poll 10 file_is "$MNT/t/0" "$want"; then
	ok "cat t/0: every record at its offset, the newline escaped"
else
	fail "cat t/0" "expected '$want', got '$(cat "$MNT/t/0")'"
fi
dump=$(cat "$MNT/t/.segments/0/00000000000000000000.dump")
case $dump in
*"offset: 1 "*"key: k1 value: v1 headers: h=x"*) ok ".dump: key, value and header" ;;
*) fail ".dump: key, value and header" "$dump" ;;
esac
case $dump in
*"codec: gzip"*"key: g value: gz1"*) ok ".dump: the gzip batch as sent" ;;
*) fail ".dump: the gzip batch as sent" "$dump" ;;
esac
expect_eq ".segments: one segment" "00000000000000000000.dump 00000000000000000000.index 00000000000000000000.log 00000000000000000000.timeindex" \
	"$(ls "$MNT/t/.segments/0" | tr '\n' ' ' | sed 's/ $//')"

# The line view back through .produce: the same records.
expect_ok "mkdir copy" mkdir "$MNT/copy"
expect_ok "cat t/0 > copy/.produce" sh -c "cat '$MNT/t/0' > '$MNT/copy/.produce'"
expect_same "copy/0 is t/0 byte for byte" "$MNT/t/0" "$MNT/copy/0"
case $(cat "$MNT/copy/.segments/0/00000000000000000000.dump") in
*"value: two\\nlines"*) ok "the escaped line became the record with a newline" ;;
*) fail "escaped line" "$(cat "$MNT/copy/.segments/0/00000000000000000000.dump")" ;;
esac

# A keyed topic shows key<sep>value.
expect_ok "mkdir kt" mkdir "$MNT/kt"
expect_ok "kt key.separator" sh -c "echo 'key.separator=:' > '$MNT/kt/.config'"
produce kt '{"messages":[{"key":"user1","value":"login"},{"key":"a:b","value":"c"}]}' >/dev/null
expect_eq "cat kt/0: keys, a separator in a key escaped" "$(printf 'user1:login\n\\a\\x3ab:c')" \
	"$(cat "$MNT/kt/0")"

# Kafka's errors.
err=$(produce absent '{"create":false,"messages":[{"value":"x"}]}' 2>&1)
case $err in
*"does not host this topic-partition"*) ok "unknown topic, no creation asked: UNKNOWN_TOPIC_OR_PARTITION" ;;
*) fail "unknown topic" "$err" ;;
esac
expect_fail "unknown topic: not created" test -e "$MNT/absent"
expect_ok "mkdir small" mkdir "$MNT/small"
expect_ok "small: max.message.bytes=200" sh -c "echo 'max.message.bytes=200' > '$MNT/small/.config'"
big=$(head -c 600 /dev/zero | tr '\0' x)
err=$(produce small "{\"messages\":[{\"value\":\"$big\"}]}" 2>&1)
case $err in
*"larger than the max message size"*) ok "MESSAGE_TOO_LARGE" ;;
*) fail "MESSAGE_TOO_LARGE" "$err" ;;
esac
# min.insync.replicas above the replicas (one here) counts as the
# replicas, as Kafka's effectiveMinIsr: acks=all is taken.
expect_ok "small: min.insync.replicas=2" sh -c "echo 'min.insync.replicas=2' > '$MNT/small/.config'"
expect_eq "acks=all, min.insync.replicas=2 over one replica: appended at 0" "0" \
	"$(produce small '{"acks":-1,"messages":[{"value":"x"}]}' 2>&1)"
expect_eq "acks=1: appended at 1" "1" \
	"$(produce small '{"acks":1,"messages":[{"value":"y"}]}' 2>&1)"
# A CreateTime record older than message.timestamp.before.max.ms: the whole
# send refused (INVALID_TIMESTAMP), nothing appended, the reason logged.
expect_ok "mkdir stamped" mkdir "$MNT/stamped"
expect_ok "stamped: message.timestamp.before.max.ms=3600000" \
	sh -c "echo 'message.timestamp.before.max.ms=3600000' > '$MNT/stamped/.config'"
err=$(produce stamped '{"acks":1,"messages":[{"value":"now"},
	{"value":"old","timestamp":"1600000000000"}]}' 2>&1)
case $err in
*"INVALID_TIMESTAMP"*) ok "a record years old: INVALID_TIMESTAMP" ;;
*) fail "INVALID_TIMESTAMP" "$err" ;;
esac
expect_eq "nothing of that send appended" "" "$(cat "$MNT/stamped/0")"
expect_ok "the refusal logged with the record and the range" \
	grep -q "stamped-0 refused: INVALID_TIMESTAMP: .*timestamp 1600000000000 of record 1 is out of range" \
	"$LOG"
now=$(($(date +%s) * 1000))
expect_eq "a record of now: appended" "0" \
	"$(produce stamped "{\"acks\":1,\"messages\":[{\"value\":\"fresh\",\"timestamp\":\"$now\"}]}" 2>&1)"

# Auto-creation with the broker defaults, owner root, mode 0755.
expect_eq "produce to a new topic: created" "0" \
	"$(produce auto1 '{"messages":[{"value":"first"}]}' 2>&1)"
expect_eq "auto1 in the mount" "first" "$(cat "$MNT/auto1/0" 2>&1)"
expect_eq "auto1 mode" "755" "$(stat -c %a "$MNT/auto1")"

# kcat -L: the broker, the topics and their partitions.
meta=$(mq_run kcat -L -b "$B" 2>&1)
case $meta in
*"broker 0 at 127.0.0.1:$PORT (controller)"*) ok "kcat -L: this broker, the controller" ;;
*) fail "kcat -L broker" "$meta" ;;
esac
case $meta in
*'topic "t" with 1 partitions:'*"partition 0, leader 0, replicas: 0, isrs: 0"*)
	ok "kcat -L: topics and partitions" ;;
*) fail "kcat -L topics" "$meta" ;;
esac

# kcat -P: librdkafka writes record batches v2 only when the broker serves
# Fetch v4 too; else it writes magic 1 message sets, which Produce v3+
# refuses with INVALID_RECORD, as Kafka does.
if mq_run kcat -L -b "$B" -X debug=feature 2>&1 | grep -q 'ApiKey Fetch (1)'; then
	printf 'p1\np2\n' | mq_run kcat -P -b "$B" -t t -p 0 -z lz4
	printf 'kk:vv\n' | mq_run kcat -P -b "$B" -t t -p 0 -K: -z gzip -H hk=hv
	printf 'n1\nn2|' | mq_run kcat -P -b "$B" -t t -p 0 -D '|'
	expect_eq "kcat -P: lz4, a key with gzip, a value with a newline (-D)" \
		"$(printf 'p1\np2\nvv\n\\n1\\nn2')" "$(tail -n 4 "$MNT/t/0")"
	case $(cat "$MNT/t/.segments/0/00000000000000000000.dump") in
	*"key: kk value: vv headers: hk=hv"*) ok "kcat -P -H: the header in .dump" ;;
	*) fail "kcat -P -H" "no header in .dump" ;;
	esac
	# A compacted topic takes no record without a key (Kafka: INVALID_RECORD).
	mkdir "$MNT/cmp"
	printf 'key.separator=:\ncleanup.policy=compact\n' > "$MNT/cmp/.config"
	err=$(printf 'nokey\n' | mq_run kcat -P -b "$B" -t cmp -p 0 2>&1)
	case $err in
	*"Broker: Broker failed to validate record"*) ok "kcat -P of a keyless record to a compacted topic: INVALID_RECORD" ;;
	*) fail "keyless record to a compacted topic" "$err" ;;
	esac
	printf 'k1:v1\n' | mq_run kcat -P -b "$B" -t cmp -p 0 -K:
	expect_eq "only the keyed record is there" "k1:v1" "$(cat "$MNT/cmp/0")"
	expect_ok "logged" grep -q "to cmp-0 refused: INVALID_RECORD: a compacted topic takes no record without a key" "$LOG"
else
	err=$(printf 'p1\n' | mq_run kcat -P -b "$B" -t t -p 0 2>&1)
	case $err in
	*"Broker: Broker failed to validate record"*) ok "kcat -P without Fetch served: INVALID_RECORD" ;;
	*) fail "kcat -P without Fetch served" "$err" ;;
	esac
fi

# SASL_PLAINTEXT with SCRAM-SHA-256: one produce.
leo=$(awk 'NR == 2 { print $4 }' "$MNT/t/.state")
off=$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_produce.js" "127.0.0.1:$SPORT" t \
	'{"sasl":{"username":"client","password":"client-secret"},"messages":[{"value":"sasl"}]}' 2>&1)
expect_eq "SASL_PLAINTEXT produce: at the log end" "$leo" "$off"
err=$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_produce.js" "127.0.0.1:$SPORT" t \
	'{"sasl":{"username":"client","password":"wrong"},"messages":[{"value":"no"}]}' 2>&1)
case $err in
*SASL*|*sasl*|*Authentication*|*authentication*) ok "SASL_PLAINTEXT wrong password: refused" ;;
*) fail "SASL wrong password" "$err" ;;
esac
expect_eq "t/0 ends with the SASL record" "sasl" "$(tail -n 1 "$MNT/t/0")"

mq_umount
mq_done
