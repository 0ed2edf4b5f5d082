#!/bin/sh
# t_cluster_dynamic_broker.sh — Kafka 3.7's reconfigurable broker settings
# that are no topic defaults, set with IncrementalAlterConfigs of a broker
# resource (kafka_raw.py) on three brokers and ZooKeeper, each shown to
# act at once: log.cleaner.backoff.ms (the file's 3600000, the dynamic
# 100: the cleaner's passes, mqfs_cleaner_passes_total, climb),
# log.cleaner.dedupe.buffer.size (taken, shown by DescribeConfigs and
# .config; 1 MiB or less, or no number, INVALID_CONFIG with Kafka's
# message), producer.id.expiration.ms (an
# idle idempotent producer id of topic p forgotten after the new 2000
# ms), max.connections (lowered to 0 on broker 3 alone: a connection
# held from before is closed, logged and counted, a new one waits in the
# backlog for a slot as Kafka's acceptor, and is answered at once when
# the limit is raised again). The levels are
# checked as one config, as Kafka builds one KafkaConfig: a
# log.cleaner.min.compaction.lag.ms above the other level's max is
# INVALID_CONFIG (in the words of Kafka's LogConfig), one above the
# file's but below the default's is taken; max.connections.per.ip=0 is
# INVALID_CONFIG in the words of Kafka's require;
# a default stored later that disagrees with a broker's own value is
# logged by that broker, which keeps its settings in effect (its
# .config), while the others take it; one that disagrees with a topic's
# override (a max compaction lag below its min) is taken by the topic on
# every broker, logged.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

KAFKA_SASL_USER="admin"
KAFKA_SASL_PASSWORD=admin-secret
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD

CLUSTER_CONF="num.partitions=1
log.retention.check.interval.ms=500
log.cleaner.backoff.ms=3600000
log.cleaner.max.compaction.lag.ms=2000"
zk_cluster_start
cluster_start3

# root_is N KEY VALUE: broker N's root .config shows KEY=VALUE
root_is() {
	timeout 5 grep -qx "$2=$3" "$MQ_TMP/mnt$1/.config" 2>/dev/null
}
metric() { # metric N NAME: broker N's metric NAME
	timeout 5 awk -v m="$2" '$1 == m { print $2 }' "$MQ_TMP/mnt$1/.metrics" 2>/dev/null
}
passes_above() { # passes_above N COUNT
	_v=$(metric "$1" mqfs_cleaner_passes_total)
	[ -n "$_v" ] && [ "$_v" -gt "$2" ]
}
field() { # field MNT TOPIC F: field F of partition 0's row of .state
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
logged() { grep -qF "$1" "$LOG"; }

# Refused as Kafka refuses them, nothing stored.
expect_eq "log.cleaner.enable (not reconfigurable in Kafka): INVALID_CONFIG (40)" "error 40" \
	"$(incalter 1 "" 0 log.cleaner.enable false)"
expect_eq "log.cleaner.backoff.ms=-1: INVALID_CONFIG (40)" "error 40" \
	"$(incalter 1 1 0 log.cleaner.backoff.ms -1)"
# Kafka's KafkaConfig require: over 1 MiB per cleaner thread (one here),
# told in Kafka's words.
DEDUPE_REFUSED="requirement failed: log.cleaner.dedupe.buffer.size must be at least 1MB per cleaner thread."
expect_eq "log.cleaner.dedupe.buffer.size=1000: INVALID_CONFIG (40), Kafka's message" \
	"error 40 Invalid config value for resource ConfigResource(type=BROKER, name=''): $DEDUPE_REFUSED" \
	"$(KAFKA_RAW_MESSAGE=1 incalter 1 "" 0 log.cleaner.dedupe.buffer.size 1000)"
expect_eq "log.cleaner.dedupe.buffer.size=1048576 (1 MiB, not over it): INVALID_CONFIG (40)" \
	"error 40 Invalid config value for resource ConfigResource(type=BROKER, name='2'): $DEDUPE_REFUSED" \
	"$(KAFKA_RAW_MESSAGE=1 incalter 2 2 0 log.cleaner.dedupe.buffer.size 1048576)"
expect_eq "log.cleaner.dedupe.buffer.size=lots: INVALID_CONFIG (40), Kafka's ConfigDef words" \
	"error 40 Invalid config value for resource ConfigResource(type=BROKER, name=''): Invalid value lots for configuration log.cleaner.dedupe.buffer.size: Not a number of type LONG" \
	"$(KAFKA_RAW_MESSAGE=1 incalter 1 "" 0 log.cleaner.dedupe.buffer.size lots)"
expect_eq "max.connections.per.ip=0 (no overrides here): INVALID_CONFIG (40), Kafka's require" \
	"error 40 Invalid config value for resource ConfigResource(type=BROKER, name='1'): requirement failed: max.connections.per.ip can be set to zero only if max.connections.per.ip.overrides property is set." \
	"$(KAFKA_RAW_MESSAGE=1 incalter 1 1 0 max.connections.per.ip 0)"

# Across the levels (the file's max compaction lag is 2000): the
# default's max 10000, then broker 1's min 5000, above the file's max but
# not the default's, as Kafka takes it.
expect_eq "<default>: log.cleaner.max.compaction.lag.ms=10000" "error 0" \
	"$(incalter 1 "" 0 log.cleaner.max.compaction.lag.ms 10000)"
check "mnt1: the default's max in effect" poll 20 root_is 1 log.cleaner.max.compaction.lag.ms 10000
expect_eq "broker 1: log.cleaner.min.compaction.lag.ms=5000 (above the file's max, not the default's)" \
	"error 0" "$(incalter 1 1 0 log.cleaner.min.compaction.lag.ms 5000)"
check "mnt1: its min in effect" poll 20 root_is 1 log.cleaner.min.compaction.lag.ms 5000
expect_eq "broker 1: log.cleaner.min.compaction.lag.ms=20000 above the default's max: INVALID_CONFIG" \
	"error 40" "$(incalter 1 1 0 log.cleaner.min.compaction.lag.ms 20000)"
expect_eq "<default> to broker 1: max.compaction.lag.ms=1000, below broker 1's min: INVALID_CONFIG" \
	"error 40" "$(incalter 1 "" 0 log.cleaner.max.compaction.lag.ms 1000)"
# Broker 2 checks against its own levels (none of its own): it takes
# what broker 1 refuses, and broker 1, reading it, keeps its settings.
expect_eq "<default> to broker 2: max.compaction.lag.ms=1000" "error 0" \
	"$(incalter 2 "" 0 log.cleaner.max.compaction.lag.ms 1000)"
check "mnt2: the new default in effect" poll 20 root_is 2 log.cleaner.max.compaction.lag.ms 1000
check "broker 1 logged the combination it does not apply" poll 20 logged \
	"dynamic broker settings could not be applied: conflict topic config setting min.compaction.lag.ms (5000) > max.compaction.lag.ms (1000); the settings in effect stay"
check "mnt1: keeps the max in effect (10000)" root_is 1 log.cleaner.max.compaction.lag.ms 10000
check "mnt1: keeps its min (5000)" root_is 1 log.cleaner.min.compaction.lag.ms 5000
expect_eq "broker 1: DELETE its min" "error 0" \
	"$(incalter 1 1 1 log.cleaner.min.compaction.lag.ms)"
check "mnt1: now the default's max (1000)" poll 20 root_is 1 log.cleaner.max.compaction.lag.ms 1000
expect_eq "<default>: DELETE the max" "error 0" \
	"$(incalter 1 "" 1 log.cleaner.max.compaction.lag.ms)"
for b in 1 2 3; do
	check "mnt$b: the file's max again" poll 20 root_is "$b" log.cleaner.max.compaction.lag.ms 2000
done

# A topic's override that a new default disagrees with: every broker's
# copy of the topic takes the default all the same (Kafka's
# DynamicLogConfig gives each log its defaults and overrides without a
# check), and each logs it; the default removed, the file's again.
cluster_mkdir lagt
expect_ok "lagt: min.compaction.lag.ms=1500 (below the file's max)" sh -c \
	'echo min.compaction.lag.ms=1500 > "$1"' sh "$MQ_TMP/mnt1/lagt/.config"
# topic_is N KEY VALUE: broker N's lagt/.config shows KEY=VALUE
topic_is() { timeout 5 grep -qx "$2=$3" "$MQ_TMP/mnt$1/lagt/.config" 2>/dev/null; }
expect_eq "<default>: log.cleaner.max.compaction.lag.ms=1000, below lagt's min" "error 0" \
	"$(incalter 1 "" 0 log.cleaner.max.compaction.lag.ms 1000)"
for b in 1 2 3; do
	check "mnt$b: lagt takes the default's max" poll 20 topic_is "$b" max.compaction.lag.ms 1000
	check "mnt$b: and keeps its min" topic_is "$b" min.compaction.lag.ms 1500
done
check "logged with the topic and the pair" logged \
	"WARN topic lagt: conflict topic config setting min.compaction.lag.ms (1500) > max.compaction.lag.ms (1000): taken as it is"
expect_eq "<default>: DELETE the max again" "error 0" \
	"$(incalter 1 "" 1 log.cleaner.max.compaction.lag.ms)"
for b in 1 2 3; do
	check "mnt$b: lagt has the file's max again" poll 20 topic_is "$b" max.compaction.lag.ms 2000
done

# log.cleaner.backoff.ms: the file's hour, then 100 ms as the default.
P0=$(metric 1 mqfs_cleaner_passes_total)
expect_eq "mnt1: mqfs_cleaner_passes_total is shown" "yes" "$([ -n "$P0" ] && echo yes)"
P0=${P0:-0}
expect_eq "<default>: log.cleaner.backoff.ms=100" "error 0" \
	"$(incalter 1 "" 0 log.cleaner.backoff.ms 100)"
for b in 1 2 3; do
	check "mnt$b: log.cleaner.backoff.ms=100 in effect" poll 20 root_is "$b" log.cleaner.backoff.ms 100
done
check "mnt1: the cleaner passes every 100 ms (20 more passes)" poll 30 passes_above 1 $((P0 + 20))
check "the cleaner logged its new settings" logged "log cleaner: reconfigured: log.cleaner.backoff.ms 100"
check "DescribeConfigs broker 1: log.cleaner.backoff.ms from the default" described 1 4 1 \
	log.cleaner.backoff.ms \
	"log.cleaner.backoff.ms=100 source=3 readonly=false synonyms=log.cleaner.backoff.ms:3,log.cleaner.backoff.ms:4,log.cleaner.backoff.ms:5"

# log.cleaner.dedupe.buffer.size, broker 2's own.
expect_eq "broker 2: log.cleaner.dedupe.buffer.size=1048577" "error 0" \
	"$(incalter 2 2 0 log.cleaner.dedupe.buffer.size 1048577)"
check "mnt2: the dedupe buffer in effect" poll 20 root_is 2 log.cleaner.dedupe.buffer.size 1048577
check "mnt1: the file's dedupe buffer" root_is 1 log.cleaner.dedupe.buffer.size 134217728
check "DescribeConfigs broker 2: its own dedupe buffer" described 2 4 2 \
	log.cleaner.dedupe.buffer.size \
	"log.cleaner.dedupe.buffer.size=1048577 source=2 readonly=false synonyms=log.cleaner.dedupe.buffer.size:2,log.cleaner.dedupe.buffer.size:5"

# producer.id.expiration.ms: an idempotent producer of p, idle; the new
# 2000 ms forgets it at the next check.
cluster_mkdir p
p_led() { [ -n "$(field "$MQ_TMP/mnt1" p 5)" ] && [ "$(field "$MQ_TMP/mnt1" p 5)" != "-1" ]; }
check "p has a leader" poll 30 p_led
LP=$(field "$MQ_TMP/mnt1" p 5)
PP=$(eval "echo \$PORT$LP")
IDEM=$(timeout -k 5 30 python3 "$LIBDIR/kafka_idempotent.py" "127.0.0.1:$PP" p 2>&1)
echo "# kafka_idempotent.py: $IDEM" >>"$LOG"
expect_eq "p: an idempotent producer's batch appended" "A 0 0" "$(echo "$IDEM" | grep '^A ')"
check "p: not forgotten under the file's day" sh -c "! grep -q 'topic p partition 0: .* forgotten' '$LOG'"
expect_eq "<default>: producer.id.expiration.ms=2000" "error 0" \
	"$(incalter 1 "" 0 producer.id.expiration.ms 2000)"
check "the leader of p forgets the idle producer after 2000 ms" poll 30 logged \
	"topic p partition 0: 1 producer id(s) forgotten: no batch for producer.id.expiration.ms (2000)"

# max.connections lowered to 0 on broker 3 alone: a connection held from
# before is closed, as Kafka's processors close the connections past a
# lowered limit (its one listener is no protected one: the brokers' own
# connections close and wait as a client's); a new one waits for a slot,
# unanswered, until the limit is raised again, in ZooKeeper as
# kafka-configs.sh --zookeeper does (no connection to broker 3 is left).
cat >"$MQ_TMP/held.py" <<'EOP'
import os, socket, struct, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
open(sys.argv[3], "w").write("connected\n")
end = time.time() + 60
while not os.path.exists(sys.argv[2]) and time.time() < end:
    time.sleep(0.05)
req = struct.pack(">hhih", 18, 0, 7, 4) + b"held"
try:
    s.sendall(struct.pack(">i", len(req)) + req)
    got = s.recv(4)
except OSError:
    got = b""
open(sys.argv[3], "a").write("answered\n" if len(got) == 4 else "closed\n")
EOP
cat >"$MQ_TMP/alter.py" <<'EOP'
import struct, sys
sys.path.insert(0, sys.argv[1])
import kafka_raw as k
c = k.Conn("127.0.0.1", int(sys.argv[2]), timeout=60)
k.sasl_scram(c, "admin", "admin-secret")
body = (struct.pack(">ib", 1, 4) + k.kstr("3") + struct.pack(">i", 1) +
        k.kstr("max.connections") + struct.pack(">b", 0) + k.kstr("0") + b"\x00")
print("lowered error %d" % struct.unpack(">h", c.call(44, 0, body)[8:10])[0])
EOP
# quiet_for S FILE: held.py wrote no answer (nor a close) in FILE for S seconds.
quiet_for() { ! poll "$1" grep -qxE 'answered|closed' "$2"; }
mq_bg python3 "$MQ_TMP/held.py" "$PORT3" "$MQ_TMP/go" "$MQ_TMP/held.out"
check "a connection to broker 3 held" poll 20 grep -qx connected "$MQ_TMP/held.out"
# Its own connection may close before or after the answer.
timeout -k 5 60 python3 "$MQ_TMP/alter.py" "$LIBDIR" "$PORT3" >"$MQ_TMP/alter.out" 2>&1
check "broker 3 applied max.connections=0" poll 20 logged "net: Updating broker-wide maxConnections: 0"
check "mnt3: max.connections=0 in effect" root_is 3 max.connections 0
check "mnt1: the file's max.connections" root_is 1 max.connections 2147483647
check "broker 3 closes the connections past it, logged" poll 20 logged \
	"closing the connection: more open than max.connections (0)"
check "counted in .metrics" poll 20 sh -c \
	"[ \"\$(awk '\$1 == \"mqfs_listener_excess_connections_closed_total\" { print \$2 }' '$MQ_TMP/mnt3/.metrics')\" -gt 0 ]"
mq_bg python3 "$MQ_TMP/held.py" "$PORT3" "$MQ_TMP/go" "$MQ_TMP/new.out"
WAITING=$MQ_LAST_PID
touch "$MQ_TMP/go"
check "the connection held from before was closed" poll 20 grep -qx closed "$MQ_TMP/held.out"
check "a new connection to broker 3 waits for a slot, logged" poll 20 logged \
	"max.connections (0) reached: new connections wait in the backlog until one closes"
check "unanswered meanwhile, not closed" quiet_for 3 "$MQ_TMP/new.out"
# Kafka's AcceptorBlockedPercent: the wait (over 2 s: quiet_for 3) counted.
check "the listener's blocked time in .metrics" sh -c \
	"awk '\$1 ~ /^mqfs_listener_accept_blocked_ms_total[{]listener=\"[A-Z_]+\"[}]\$/ && \$2 >= 1500 { ok = 1 } END { exit !ok }' '$MQ_TMP/mnt3/.metrics'"
zk_cli "$ZKPORT" set /mqfs/config/brokers/3 '{"version":1,"config":{"max.connections":"2147483647"}}' >/dev/null
zk_cli "$ZKPORT" create -s /mqfs/config/changes/config_change_ '{"version":2,"entity_path":"brokers/3"}' >/dev/null
check "broker 3: max.connections raised again (in ZooKeeper)" poll 30 root_is 3 max.connections 2147483647
check "the waiting connection is answered at once" poll 20 grep -qx answered "$MQ_TMP/new.out"
check "the resumption is logged" poll 20 logged "below max.connections (2147483647) again: accepting"
mq_wait "$WAITING"
expect_eq "a new connection to broker 1 is answered" "answered" \
	"$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" frame 127.0.0.1 "$PORT1" 0000000b0012000000000001000178 2>&1 | cut -d" " -f1)"

mq_done
