#!/bin/sh
# t_kafka_cluster_failover.sh — Kafka clients across the failures of
# their partition's leader, in the three-broker cluster (replication
# factor 3, min.insync.replicas 2, the preferred leader taking its
# partition back a second after it is in the ISR again): librdkafka
# (tests/clients/rdk_check idem: enable.idempotence, acks=all, five
# requests in flight) and kafkajs (idempotent: true, maxInFlightRequests
# 1) each keep producing numbered records into a partition of their own
# while its leader is killed (kill -9) with unanswered requests that a
# follower holds, then while the next leader stops cleanly (SIGTERM
# through fusermount3 -u: a controlled shutdown); the leaders come back.
# The requests the dead leader never answered are retried on the next
# leader with the same producer id and sequences: it knows them from the
# batch headers it replicated, so it answers them with their offsets
# instead of appending them again. A librdkafka consumer (rdk_check
# follow, auto.offset.reset=error) reads each partition meanwhile: its
# position moves one record at a time through NOT_LEADER_OR_FOLLOWER and
# FENCED_LEADER_EPOCH, never reset. At the end every record reported
# delivered is in the log on every mount exactly once, in the order sent,
# none missing, and the consumer read each once.

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
leader.imbalance.check.interval.seconds=1"
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

# same_log MNT TOPIC TAG N: the partition holds TAG-v0 .. TAG-v<N-1>, each
# once, in order, and nothing else.
same_log() {
	[ "$(timeout 10 cat "$1/$2/0" 2>/dev/null | tr '\n' ' ')" = \
		"$(seq 0 $(($4 - 1)) | sed "s/^/$3-v/" | tr '\n' ' ')" ]
}

# follow TOPIC: a librdkafka consumer of TOPIC/0 from its beginning,
# running through the failovers (FPID), until TOPIC.fstop is there and
# it has read up to the high watermark it then asks for.
follow() {
	# shellcheck disable=SC2086 # SASL is a list of arguments
	mq_bg sh -c "exec \"\$0\" \"\$@\" >'$MQ_TMP/$1.fol' 2>'$MQ_TMP/$1.folerr'" "$RDK" -b "$ALL" \
		$SASL follow "$1" 0 "$MQ_TMP/$1.fstop"
	FPID=$MQ_LAST_PID
}

# finish TOPIC PID TAG FPID: stop the producer and the consumer, check
# their reports and the logs.
finish() {
	: >"$MQ_TMP/$1.stop"
	mq_wait "$2" 200
	expect_eq "$1: the producer exits 0" "0" "$MQ_RC"
	# The consumer's end is the hw once every record is delivered: asked
	# before the producer's last acknowledgements, it would stop short.
	: >"$MQ_TMP/$1.fstop"
	mq_wait "$4" 60
	expect_eq "$1: the consumer exits 0" "0" "$MQ_RC"
	idem_report "$1" "$MQ_TMP/$1.out" "$MQ_TMP/$1.err"
	_n=$IDEM_N
	if [ "$(cat "$MQ_TMP/$1.fol")" = "followed ${_n:-0}" ]; then
		ok "$1: the consumer read every record once, none skipped"
	else
		fail "$1: the consumer" "$(cat "$MQ_TMP/$1.fol") for ${_n:-0} records: $(grep 'rdk_check:' "$MQ_TMP/$1.folerr")"
	fi
	for _m in 1 2 3; do
		if poll 20 same_log "$MQ_TMP/mnt$_m" "$1" "$3" "${_n:-0}"; then
			ok "$1 on mnt$_m: the ${_n:-0} records delivered, each once, in order"
		else
			fail "$1 on mnt$_m" "$(timeout 10 cat "$MQ_TMP/mnt$_m/$1/0" | uniq -c | awk '$1 > 1' | head -n 5) /
$(timeout 10 cat "$MQ_TMP/mnt$_m/$1/0" | wc -l) lines for ${_n:-0} delivered"
		fi
	done
}

# ---- librdkafka ----
cluster_mkdir r
check "r: three replicas in the ISR" poll 30 isr3 "$MQ_TMP/mnt1" r
# shellcheck disable=SC2086 # SASL is a list of arguments
mq_bg sh -c "exec \"\$0\" \"\$@\" >'$MQ_TMP/r.out' 2>'$MQ_TMP/r.err'" "$RDK" -b "$ALL" $SASL \
	idem r 0 r "$MQ_TMP/r.stop"
PROD=$MQ_LAST_PID
follow r
failover r
finish r "$PROD" r "$FPID"

# ---- kafkajs ----
cluster_mkdir j
check "j: three replicas in the ISR" poll 30 isr3 "$MQ_TMP/mnt1" j
mq_bg sh -c "exec node \"\$0\" \"\$@\" >'$MQ_TMP/j.out' 2>'$MQ_TMP/j.err'" "$LIBDIR/kafkajs_idem.js" \
	"$ALL" j 0 j "$MQ_TMP/j.stop"
PROD=$MQ_LAST_PID
follow j
failover j
finish j "$PROD" j "$FPID"

mq_done
