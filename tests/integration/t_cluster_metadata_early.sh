#!/bin/sh
# t_cluster_metadata_early.sh — Metadata from a broker that has read the
# topics from ZooKeeper but has not yet heard the controller's
# UpdateMetadata (a broker just added or restarted).
#
# Topic t (three partitions, three replicas on brokers 1..3). The
# controller is frozen (SIGSTOP; the ZooKeeper session outlives the test
# step) and a fourth broker, which holds no replica of t, is started: it
# registers, reads the topics and accepts connections, but no
# UpdateMetadata comes. Its Metadata answer must still list t's three
# partitions, without a leader (LEADER_NOT_AVAILABLE, leader -1), as
# Kafka's does: a topic answered with fewer partitions (none) makes
# librdkafka take that count and fail the records it holds for the
# others. Once the controller is thawed, broker 4 names the leaders.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# A frozen controller keeps its office for the session's length.
CLUSTER_SESSION_MS=30000
CLUSTER_CONF="num.partitions=3"
zk_cluster_start
cluster_start3
cluster_mkdir t
has_leaders() { # every partition of t has a leader on mntN's .state
	[ "$(timeout 5 awk '$1 ~ /^[0-9]+$/ && $5 > 0' "$1/t/.state" 2>/dev/null | wc -l)" = 3 ]
}
check "t: three partitions with leaders" poll 30 has_leaders "$MQ_TMP/mnt1"

C=$(controller)
case $C in
[123]) ok "the controller: broker $C" ;;
*) fail "a controller" "'$C'"; mq_done ;;
esac
eval "stop_broker \$PID$C"

PORT4=$(zk_free_port)
conf 4 "$PORT4"
broker_start 4
check "broker 4 accepts connections (topics read)" poll 30 grep -q \
	"broker 4: registered, topics read: the listener accepts connections" "$LOG"
meta4() {
	timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" metadata 127.0.0.1 "$PORT4" \
		admin admin-secret t 2>&1 | awk '{ print $1, $2, $3, $4, $5 }'
}
expect_eq "before any UpdateMetadata: broker 4 lists t's 3 partitions, no leader (LEADER_NOT_AVAILABLE)" \
	"$(printf '%s\n' '0 error 5 leader -1' '1 error 5 leader -1' '2 error 5 leader -1')" "$(meta4)"

eval "thaw_pid \$PID$C"
led() { [ "$(meta4 | awk '$3 == 0 && $5 > 0' | wc -l)" = 3 ]; }
check "with the controller back, broker 4 names the three leaders" poll 30 led
mq_done
