#!/bin/sh
# t_cluster_rack.sh — broker.rack: written into /brokers/ids/<id> (as
# Kafka's BrokerIdZNode), read back by every broker (MNT/.state's broker
# lines, Metadata's brokers), and rack-aware replica placement as Kafka's
# AdminUtils.assignReplicasToBrokers.
#
# Brokers 1 and 2 in rack r1, broker 3 in r2; topic t (6 partitions,
# replication factor 2) made by mkdir: every partition has one replica in
# each rack (one on broker 3, the only broker of r2), which the
# rack-unaware layout does not give (its partitions [1,2] and [2,1] stay
# in r1). Then broker 4 joins without broker.rack: an mkdir is refused
# (ENOTSUP, the reason logged) and so is a Kafka client's CreateTopics
# (UNKNOWN_SERVER_ERROR with Kafka's message), as Kafka refuses a
# placement when only some brokers have a rack.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=6
default.replication.factor=2"
zk_cluster_start
for n in 1 2 3; do
	eval "PORT$n=\$(zk_free_port)"
	eval "conf $n \$PORT$n"
done
echo "broker.rack=r1" >>"$MQ_TMP/b1/server.properties"
echo "broker.rack=r1" >>"$MQ_TMP/b2/server.properties"
echo "broker.rack=r2" >>"$MQ_TMP/b3/server.properties"
for n in 1 2 3; do
	broker_start "$n"
done
for n in 1 2 3; do
	check "mnt$n: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 3
done

check "the registration of broker 3 holds its rack" zhas /brokers/ids/3 '"rack":"r2"'
expect_eq "mnt2/.config shows broker.rack" "broker.rack=r1" \
	"$(grep '^broker.rack=' "$MQ_TMP/mnt2/.config")"
racks_on() { # MNT: "id rack" of each broker line of MNT/.state
	timeout 5 sed -n 's/^broker\.\([0-9]*\)=alive .* rack=\(.*\)$/\1 \2/p' "$1/.state" 2>/dev/null |
		paste -sd, -
}
expect_eq "mnt1/.state: every broker's rack" "1 r1,2 r1,3 r2" "$(racks_on "$MQ_TMP/mnt1")"
racks_meta() {
	timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" brokers 127.0.0.1 "$PORT3" \
		admin admin-secret 2>&1 | paste -sd, -
}
expect_eq "Metadata from broker 3: each broker's rack" "1 rack r1,2 rack r1,3 rack r2" \
	"$(racks_meta)"

cluster_mkdir t
t_rows() { # the replicas column of each partition of t on mnt1
	timeout 5 awk '$1 ~ /^[0-9]+$/ { print $7 }' "$MQ_TMP/mnt1/t/.state" 2>/dev/null
}
six_rows() { [ "$(t_rows | wc -l)" = 6 ]; }
check "t: six partitions on mnt1" poll 30 six_rows
spanning=$(t_rows | grep -c '^\[3,[12]\]$\|^\[[12],3\]$')
expect_eq "t: every partition has a replica in r1 and one in r2 ($(t_rows | paste -sd' ' -))" \
	6 "$spanning"
# Broker 3 is the rack-alternated list's second: it leads 2 partitions
# of 6 (each broker leads as many) and follows in the other 4.
led3=$(t_rows | grep -c '^\[3,')
expect_eq "t: broker 3 leads two partitions" 2 "$led3"

# Broker 4, without a rack.
PORT4=$(zk_free_port)
conf 4 "$PORT4"
broker_start 4
check "mnt1: four live brokers" poll 30 alive_on "$MQ_TMP/mnt1" 4
expect_eq "mnt1/.state: broker 4 without a rack" "" \
	"$(timeout 5 grep '^broker\.4=alive .* rack=' "$MQ_TMP/mnt1/.state")"
err=$(mkdir "$MQ_TMP/mnt1/mixed" 2>&1)
expect_eq "mkdir with brokers 1-3 racked and 4 not: refused" 1 \
	"$(echo "$err" | grep -c 'Operation not supported')"
check "the refusal is logged with the broker without a rack" grep -q \
	"topic mixed: creation refused: not all brokers have rack information.*broker(s) 4)" "$LOG"
# CreateTopics goes to the controller Metadata names, as a client sends
# it (any other broker answers NOT_CONTROLLER).
ctl=$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" controller 127.0.0.1 "$PORT1" admin \
	admin-secret 2>&1)
ctlport=$(eval "echo \${PORT$ctl:-}")
expect_eq "CreateTopics likewise: UNKNOWN_SERVER_ERROR with Kafka's message" \
	"error -1 Not all brokers have rack information for replica rack aware assignment." \
	"$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" create 127.0.0.1 "$ctlport" admin \
		admin-secret mixed2 3 2 2>&1)"
check "no topic mixed" zgone /brokers/topics/mixed
check "no topic mixed2" zgone /brokers/topics/mixed2
# Adding partitions to t (its .config's partitions=) likewise, refused
# at the write() (which the shell reports).
env printf 'partitions=8\n' >"$MQ_TMP/mnt1/t/.config" 2>"$MQ_TMP/grow.err"
expect_eq "t grown to 8 with broker 4 unracked: printf fails with ENOTSUP" "1 1" \
	"$? $(grep -c 'write error: Operation not supported' "$MQ_TMP/grow.err")"
check "that refusal logged too" grep -q \
	"topic t: .config refused: not all brokers have rack information" "$LOG"
expect_eq "t keeps its 6 partitions" 6 "$(t_rows | wc -l)"
mq_done
