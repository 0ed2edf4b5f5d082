#!/bin/sh
# t_cluster_throttle.sh — replication throttles as Kafka's: three brokers
# and ZooKeeper; topics t and u, one partition each on all three; a
# follower F of both (leading neither). Twice, once for the leader's
# throttle and once for the follower's: the rate (1024 bytes/s) set
# through kafkajs's admin.alterConfigs on the broker resource (t's leader,
# then F itself; stored in ZooKeeper, shown by DescribeConfigs as
# DYNAMIC_BROKER_CONFIG) and t's leader. (resp. follower.)
# replication.throttled.replicas through a mount's .config; F stopped
# (SIGSTOP), 1.5 MB written to t and 200 KB to u, until F has left both
# ISRs; F continued: u, unthrottled, catches up fully while t, with at
# most one fetch's worth of records (64 KiB) per quota window let
# through, is still behind by most of its 1.5 MB — no clock is read, only
# which of the two is behind. The rate removed (AlterConfigs without
# it), t catches up and F is back in its ISR. Bad values: a malformed
# list is EINVAL on the mount with a line in the daemon's log; a negative
# rate or a static broker key is INVALID_CONFIG. IncrementalAlterConfigs
# (kafka_raw.py) of every broker's default and of one broker's own rate:
# both shown by DescribeConfigs with their sources, another broker's id
# INVALID_REQUEST. The leader's .metrics shows the throttled byte rate
# (the in-sync follower's traffic counts too).

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup
kafkajs_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

KAFKA_SASL_USER="admin"
KAFKA_SASL_PASSWORD=admin-secret
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD

# One partition a topic; small replica fetches (64 KiB), so that the
# throttle, which lets a fetch through whenever the rate is under the
# bound, holds most of the data back; a stopped follower leaves the ISR
# after 3 s, while its ZooKeeper session (20 s) lives on.
CLUSTER_SESSION_MS=20000
CLUSTER_CONF="num.partitions=1
replica.fetch.max.bytes=65536
replica.lag.time.max.ms=3000"
zk_cluster_start
cluster_start3

field() { # field MNT TOPIC F: field F of partition 0's row of .state
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
isr_has() { # isr_has MNT TOPIC BROKER
	set_of "$(field "$1" "$2" 8)" | tr ',' '\n' | grep -qx "$3"
}
isr_lacks() { ! isr_has "$@"; }
# bytes N TOPIC: the bytes of TOPIC's partition 0 in broker N's segment
# files (its local replica, whatever its mount shows).
bytes() {
	cat "$MQ_TMP/b$1/data/$2-0/"*.log 2>/dev/null | wc -c
}
metric_above() { # metric_above N NAME V: broker N's .metrics has NAME > V
	_v=$(timeout 5 awk -v n="$2" '$1 == n { print $2 }' "$MQ_TMP/mnt$1/.metrics" 2>/dev/null)
	echo "# $(date +%T.%N) broker $1 .metrics $2: '$_v'" >>"$LOG"
	[ -n "$_v" ] && [ "$_v" -gt "$3" ]
}
same_bytes() { # same_bytes A B TOPIC: brokers A and B hold as many bytes
	[ "$(bytes "$1" "$3")" -gt 0 ] && [ "$(bytes "$1" "$3")" = "$(bytes "$2" "$3")" ]
}
# fill MNT TOPIC N: N records of 1000 bytes, 64 to a write (acks=all).
fill() {
	python3 - "$1/$2/0" "$3" <<'EOP'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
n = int(sys.argv[2])
for i in range(0, n, 64):
    os.write(fd, b"".join(b"%08d-%s\n" % (j, os.urandom(495).hex()[:990].encode())
                          for j in range(i, min(n, i + 64))))
os.close(fd)
EOP
}

cluster_mkdir t
cluster_mkdir u
isr_all() { # isr_all TOPIC: all three brokers in its ISR (on mnt1)
	[ "$(set_of "$(field "$MQ_TMP/mnt1" "$1" 8)")" = 1,2,3 ]
}
for tp in t u; do
	check "$tp: three replicas in the ISR" poll 20 isr_all "$tp"
done
LT=$(field "$MQ_TMP/mnt1" t 5)
LU=$(field "$MQ_TMP/mnt1" u 5)
F=""
for b in 1 2 3; do
	[ "$b" != "$LT" ] && [ "$b" != "$LU" ] && F=$b && break
done
case "$LT$LU$F" in
[123][123][123]) ok "t led by $LT, u by $LU, follower $F" ;;
*) fail "leaders and a follower" "t '$LT' u '$LU' f '$F'"; mq_done ;;
esac
W=$LT # the mount the records are written through
eval "FP=\$PID$F"

# throttled KIND RB: the KIND (leader, follower) throttle:
# KIND.replication.throttled.rate=1024 on broker RB through AlterConfigs
# on its broker resource (dynamic), t's
# KIND.replication.throttled.replicas=0:RB through .config; then F
# stopped, 1500 records of 1000 bytes written into t, 200 into u, until
# F has left both ISRs (3 s behind). F continued: u catches up
# fully and rejoins its ISR; t is then still behind by most of its
# records, out of the ISR.
throttled() {
	K=$1
	RB=$2
	expect_eq "AlterConfigs broker $RB: $K rate 1024" "ok" \
		"$(admin "$RB" alter-broker "$RB" "{\"$K.replication.throttled.rate\":\"1024\"}")"
	check "DescribeConfigs broker $RB: the rate, DYNAMIC_BROKER_CONFIG" poll 20 eval \
		'admin "$RB" describe-broker "$RB" "$K.replication.throttled.rate" |
		grep -qx "$K.replication.throttled.rate=1024 source=2 readonly=false"'
	expect_ok "t: $K.replication.throttled.replicas=0:$RB" sh -c \
		"echo '$K.replication.throttled.replicas=0:$RB' >'$MQ_TMP/mnt$W/t/.config'"
	[ "$K" = leader ] && check "DescribeConfigs t: the list, TOPIC_CONFIG" poll 20 eval \
		'admin "$W" describe t "$K.replication.throttled.replicas" |
		grep -q "^$K.replication.throttled.replicas=0:$RB source=1 "'
	check "t's list on broker $F's mount" poll 20 eval \
		'timeout 5 grep -qx "$K.replication.throttled.replicas=0:$RB" "$MQ_TMP/mnt$F/t/.config"'
	# Records written while F is stopped make it lag: the leaders drop it
	# from the ISR after replica.lag.time.max.ms (the acks=all writes wait
	# for that), long before its session would expire.
	check "$K: follower $F stopped" stop_broker "$FP"
	check "$K: 1500 records of 1000 bytes into t" fill "$MQ_TMP/mnt$W" t 1500
	# The in-sync follower's fetches of t count against the leader's
	# rate: measured over the last quota windows (11 s), so looked at
	# right after the records went.
	if [ "$K" = leader ]; then
		check "$K: .metrics: the throttled byte rate" poll 30 metric_above "$LT" \
			mqfs_leader_replication_throttled_byte_rate 1024
	fi
	check "$K: 200 records into u" fill "$MQ_TMP/mnt$W" u 200
	for tp in t u; do
		check "$K: $tp: broker $F out of the ISR" poll 30 isr_lacks "$MQ_TMP/mnt$W" "$tp" "$F"
	done
	thaw_pid "$FP"
	check "$K: u: broker $F caught up" poll 30 same_bytes "$LU" "$F" u
	check "$K: u: broker $F back in the ISR" poll 30 isr_has "$MQ_TMP/mnt$W" u "$F"
	TB=$(bytes "$F" t)
	TL=$(bytes "$LT" t)
	# Behind by 1 MB of the 1.5 MB written (a fetch lets 64 KiB through).
	if [ "$TB" -lt $((TL - 1000000)) ]; then
		ok "$K: t: broker $F throttled, behind ($TB of $TL bytes)"
	else
		fail "$K: t: broker $F throttled, behind" "$TB of $TL bytes"
	fi
	check "$K: t: broker $F still out of the ISR" isr_lacks "$MQ_TMP/mnt$W" t "$F"
}
# unthrottled KIND RB: the rate removed (AlterConfigs sets the whole set,
# without it): t catches up, F back in its ISR (DescribeConfigs without
# the rate: below, after IncrementalAlterConfigs' DELETE).
unthrottled() {
	K=$1
	RB=$2
	expect_eq "AlterConfigs broker $RB: no rate" "ok" "$(admin "$RB" alter-broker "$RB" '{}')"
	check "$K: t: broker $F caught up" poll 40 same_bytes "$LT" "$F" t
	check "$K: t: broker $F back in the ISR" poll 30 isr_has "$MQ_TMP/mnt$W" t "$F"
}

# The leader's throttle, on t's leader.
throttled leader "$LT"
check "broker $LT logged the new rate" grep -q "replication throttle: leader rate 1024 bytes/s" \
	"$LOG"

# Bad values: refused, nothing changed.
expect_fail "t: a malformed replicas list is refused" sh -c \
	"echo 'leader.replication.throttled.replicas=0:x' >'$MQ_TMP/mnt$W/t/.config'"
check "the refusal is logged" grep -q "leader.replication.throttled.replicas.*must be the literal" \
	"$LOG"
check "the list is kept" eval \
	'timeout 5 grep -qx "leader.replication.throttled.replicas=0:$LT" "$MQ_TMP/mnt$W/t/.config"'
expect_eq "a negative rate: INVALID_CONFIG" "error INVALID_CONFIG" \
	"$(admin "$LT" alter-broker "$LT" '{"leader.replication.throttled.rate":"-5"}' | cut -d: -f1)"
expect_eq "a static broker key: INVALID_CONFIG" "error INVALID_CONFIG" \
	"$(admin "$LT" alter-broker "$LT" '{"num.io.threads":"4"}' | cut -d: -f1)"

unthrottled leader "$LT"

# Every broker's default (/config/brokers/<default>) through
# IncrementalAlterConfigs of the broker resource "": shown by every broker
# as DYNAMIC_DEFAULT_BROKER_CONFIG, a broker's own value above it; DELETE
# removes it.
expect_eq "IncrementalAlterConfigs <default>: SET the leader rate" "error 0" \
	"$(incalter "$F" "" 0 leader.replication.throttled.rate 5000000)"
for b in "$LT" "$F"; do
	check "DescribeConfigs broker $b: DYNAMIC_DEFAULT_BROKER_CONFIG" poll 20 eval \
		'admin "$b" describe-broker "$b" leader.replication.throttled.rate |
		grep -qx "leader.replication.throttled.rate=5000000 source=3 readonly=false"'
done
expect_eq "IncrementalAlterConfigs broker $F: its own leader rate" "error 0" \
	"$(incalter "$F" "$F" 0 leader.replication.throttled.rate 7000000)"
check "DescribeConfigs broker $F: its own, DYNAMIC_BROKER_CONFIG" poll 20 eval \
	'admin "$F" describe-broker "$F" leader.replication.throttled.rate |
	grep -qx "leader.replication.throttled.rate=7000000 source=2 readonly=false"'
expect_eq "IncrementalAlterConfigs another broker's id: INVALID_REQUEST (42)" "error 42" \
	"$(incalter "$F" "$LT" 0 leader.replication.throttled.rate 1)"
expect_eq "IncrementalAlterConfigs a bad rate: INVALID_CONFIG (40)" "error 40" \
	"$(incalter "$F" "$F" 0 leader.replication.throttled.rate 1k)"
expect_eq "IncrementalAlterConfigs broker $F: DELETE" "error 0" \
	"$(incalter "$F" "$F" 1 leader.replication.throttled.rate)"
expect_eq "IncrementalAlterConfigs <default>: DELETE" "error 0" \
	"$(incalter "$F" "" 1 leader.replication.throttled.rate)"
check "DescribeConfigs broker $F: no dynamic rate" poll 20 eval \
	'! admin "$F" describe-broker "$F" | grep -q "^leader.replication.throttled.rate="'

# The follower's throttle, on F itself (kafkajs sends a broker's
# resource to that broker); the leader's list stays, its rate is gone.
throttled follower "$F"
unthrottled follower "$F"

mq_done
