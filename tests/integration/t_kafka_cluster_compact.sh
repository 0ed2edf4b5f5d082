#!/bin/sh
# t_kafka_cluster_compact.sh — idempotent Kafka producers writing keyed
# records into compacted topics of the three-broker cluster (replication
# factor 3, min.insync.replicas 2, 2048-byte segments and a dirty ratio
# of 0.01 so that every replica's cleaner runs while they write, tombstones
# kept 3 s): librdkafka (rdk_check kidem: enable.idempotence, acks=all,
# five requests in flight, zstd batches) into cleanup.policy=compact and
# kafkajs (idempotent, values null and binary) into compact,delete. Among
# a topic's 23 keys every seventh record is a tombstone (a null value)
# and every fifth a value holding LF, 0x01 and 0xff. Each producer goes on
# while the leader is killed (kill -9) with requests a follower holds
# unanswered, then while the next leader stops cleanly
# (kafka_failover_lib.sh); it must meet no error and see its records at
# consecutive offsets in the order sent (none appended twice). Then, as
# Kafka promises compaction (kafka_compact_check.py): a consumer from
# offset 0 reads records written, at the offsets they were written at,
# offsets going up, each key's newest value there, or its tombstone, or
# (once the tombstone is gone) nothing of that key; on every mount each
# line is a record written, in order, shown as line.format=escape shows
# it (the tombstone as key:), and a read at the position each key's newest
# record was written at gives its line.

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
leader.imbalance.check.interval.seconds=1
log.cleaner.backoff.ms=200"
# The frozen follower keeps its session from its freeze to the leader's
# death (seconds under a sanitizer on a loaded machine): were it to
# expire, the controller would take it out of the ISR and the hw would
# answer the requests the test needs unanswered at the kill.
CLUSTER_SESSION_MS=10000
zk_cluster_start
cluster_start3
ALL=127.0.0.1:$PORT1,127.0.0.1:$PORT2,127.0.0.1:$PORT3

# shellcheck source=tests/integration/kafka_failover_lib.sh
. "$LIBDIR/kafka_failover_lib.sh"

# compacted TOPIC POLICY: TOPIC made, compacted with small segments so the
# cleaner runs on every replica while the producer writes.
compacted() {
	cluster_mkdir "$1"
	check "$1: three replicas in the ISR" poll 30 isr3 "$MQ_TMP/mnt1" "$1"
	printf 'key.separator=:\ncleanup.policy=%s\nmin.cleanable.dirty.ratio=0.01\nsegment.bytes=2048\ndelete.retention.ms=3000\n' \
		"$2" >"$MQ_TMP/mnt1/$1/.config"
	for _m in 1 2 3; do
		check "$1 compacted on mnt$_m" poll 20 grep -qx "cleanup.policy=$2" "$MQ_TMP/mnt$_m/$1/.config"
	done
}
KEYS=23
# kfinish TOPIC PID: stop the producer (PID), check its report, then the
# partition through a consumer from 0 and on every mount.
kfinish() {
	: >"$MQ_TMP/$1.stop"
	mq_wait "$2" 200
	expect_eq "$1: the producer exits 0" "0" "$MQ_RC"
	_r=$(head -n 1 "$MQ_TMP/$1.out")
	case $_r in
	"kidem "* | "idem "*) ok "$1: $_r" ;;
	*) fail "$1: the producer's report" "$_r $(tail -n 20 "$MQ_TMP/$1.err")" ;;
	esac
	grep "topic $1 partition 0: producer .* sent again" "$LOG" | sed 's/^/# /' | head -n 3
	# shellcheck disable=SC2086 # SASL is a list of arguments
	"$RDK" -b "$ALL" $SASL dump "$1" 0 >"$MQ_TMP/$1.dump" 2>"$MQ_TMP/$1.derr"
	expect_eq "$1: a consumer reads it from offset 0" "0" "$?"
	if python3 "$LIBDIR/kafka_compact_check.py" dump "$MQ_TMP/$1.out" "$1" "$KEYS" \
		"$MQ_TMP/$1.dump" >"$MQ_TMP/$1.chk" 2>&1; then
		ok "$1 from offset 0: $(head -n 1 "$MQ_TMP/$1.chk")"
	else
		fail "$1 from offset 0" "$(cat "$MQ_TMP/$1.chk" "$MQ_TMP/$1.derr")"
	fi
	for _m in 1 2 3; do
		_f=$MQ_TMP/mnt$_m/$1/0
		if poll 20 python3 "$LIBDIR/kafka_compact_check.py" mount "$MQ_TMP/$1.out" "$1" \
			"$KEYS" "$_f" >"$MQ_TMP/$1.chk" 2>&1; then
			ok "$1 on mnt$_m: $(tail -n 1 "$MQ_TMP/$1.chk")"
		else
			fail "$1 on mnt$_m" "$(tail -n 11 "$MQ_TMP/$1.chk")"
		fi
	done
}

compacted r compact
# shellcheck disable=SC2086 # SASL is a list of arguments
mq_bg sh -c "exec \"\$0\" \"\$@\" >'$MQ_TMP/r.out' 2>'$MQ_TMP/r.err'" "$RDK" -b "$ALL" $SASL \
	kidem r 0 zstd "$KEYS" r "$MQ_TMP/r.stop"
PROD=$MQ_LAST_PID
failover r
kfinish r "$PROD"

compacted j compact,delete
mq_bg sh -c "exec node \"\$0\" \"\$@\" >'$MQ_TMP/j.out' 2>'$MQ_TMP/j.err'" "$LIBDIR/kafkajs_idem.js" \
	"$ALL" j 0 j "$MQ_TMP/j.stop" "$KEYS"
PROD=$MQ_LAST_PID
failover j
kfinish j "$PROD"

mq_done
