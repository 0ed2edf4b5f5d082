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

# field MNT TOPIC COLUMN: partition 0's column of MNT/TOPIC/.state
# (partition, log start, hw, leo, leader, leader epoch, replicas, isr).
field() {
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
isr3() {   # isr3 MNT TOPIC
	[ "$(field "$1" "$2" 8 | tr -d '[]' | tr ',' '\n' | grep -c .)" = 3 ]
}
hw_above() {   # hw_above MNT TOPIC N
	[ "$(field "$1" "$2" 3)" -gt "$3" ] 2>/dev/null
}
# prod_alive: the producer PROD runs (one that gave up is a zombie until
# the shell waits for it).
prod_alive() {
	case $(sed 's/.*) //' "/proc/$PROD/stat" 2>/dev/null | cut -c1) in
	"" | Z) return 1 ;;
	esac
}
# goes_on SECONDS MNT TOPIC N: the hw there passes N within SECONDS while
# the producer runs; a producer that gave up ends the wait at once.
going() {
	prod_alive || return 0
	hw_above "$@"
}
goes_on() {
	_s=$1
	shift
	poll "$_s" going "$@" && prod_alive
}
led_by_other() {   # led_by_other MNT TOPIC OLD: a live leader other than OLD
	_l=$(field "$1" "$2" 5)
	[ -n "$_l" ] && [ "$_l" != "$3" ] && [ "$_l" != "-1" ]
}
# same_log MNT TOPIC TAG N: the partition holds TAG-v0 .. TAG-v<N-1>, each
# once, in order, and nothing else.
same_log() {
	[ "$(timeout 10 cat "$1/$2/0" 2>/dev/null | tr '\n' ' ')" = \
		"$(seq 0 $(($4 - 1)) | sed "s/^/$3-v/" | tr '\n' ' ')" ]
}

# ahead MNT TOPIC N: the replica there holds N records above the hw.
ahead() {
	_hw=$(field "$1" "$2" 3)
	_leo=$(field "$1" "$2" 4)
	[ -n "$_hw" ] && [ -n "$_leo" ] && [ "$_leo" -ge $((_hw + $3)) ] 2>/dev/null
}
# resent TOPIC: a leader answered a batch of TOPIC as sent before.
resent() {
	grep -q "topic $1 partition 0: producer .* sent again: answered with offset" "$LOG"
}

# failover TOPIC: with the producer PROD running, the leader L of
# TOPIC/0 is killed (kill -9) while one follower F is frozen (SIGSTOP):
# the hw cannot pass F, so the producer's last requests, appended on L and
# fetched by the other follower G, are unanswered when L dies, and the
# producer sends them again to the next leader, which must know them
# from its log; F thaws, L comes back. Then the leader of the moment
# stops cleanly (a controlled shutdown) and comes back. Each time the
# producer must go on with the new leader.
failover() {
	_L=$(field "$MQ_TMP/mnt1" "$1" 5)
	# G: the replica after L in the assignment, the one the controller's
	# election takes while F's registration stands (F in its turn would
	# lack the unanswered records, and the producer's retries would be
	# new appends there).
	_G=$(field "$MQ_TMP/mnt1" "$1" 7 | tr -d '[]' | tr ',' '\n' | grep -vx "$_L" | head -n 1)
	_F=$((6 - _L - _G))
	_at=$(field "$MQ_TMP/mnt$_G" "$1" 3)
	check "$1: the producer appends on leader $_L" goes_on 30 "$MQ_TMP/mnt$_G" "$1" "$((_at + 30))"
	eval "_fpid=\$PID$_F _lpid=\$PID$_L"
	# shellcheck disable=SC2154 # _fpid and _lpid: set by the eval above
	check "$1: follower $_F frozen" stop_broker "$_fpid"
	check "$1: follower $_G holds records the leader has not answered" \
		poll 20 ahead "$MQ_TMP/mnt$_G" "$1" 1
	# shellcheck disable=SC2154
	mq_kill9 "$MQ_TMP/mnt$_L" "$_lpid"
	ok "$1: leader $_L killed (kill -9)"
	thaw_pid "$_fpid"
	check "$1: a new leader" poll 40 led_by_other "$MQ_TMP/mnt$_G" "$1" "$_L"
	_at=$(field "$MQ_TMP/mnt$_G" "$1" 3)
	check "$1: the producer goes on with the new leader" goes_on 60 "$MQ_TMP/mnt$_G" "$1" "$((_at + 30))"
	check "$1: the new leader answered the requests sent again from what it replicated" poll 10 resent "$1"
	broker_start "$_L"
	check "$1: broker $_L back in the ISR" poll 60 isr3 "$MQ_TMP/mnt$_G" "$1"

	_L=$(field "$MQ_TMP/mnt$_G" "$1" 5)
	_O=$((_L % 3 + 1))
	eval "_lpid=\$PID$_L"
	MQ_MOUNT_WAIT=60 mq_umount "$MQ_TMP/mnt$_L" "$_lpid"
	expect_eq "$1: leader $_L stopped cleanly" "0" "$MQ_RC"
	check "$1: a new leader" poll 40 led_by_other "$MQ_TMP/mnt$_O" "$1" "$_L"
	_at=$(field "$MQ_TMP/mnt$_O" "$1" 3)
	check "$1: the producer goes on with the new leader" goes_on 60 "$MQ_TMP/mnt$_O" "$1" "$((_at + 30))"
	broker_start "$_L"
	check "$1: broker $_L back in the ISR" poll 60 isr3 "$MQ_TMP/mnt$_O" "$1"
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
