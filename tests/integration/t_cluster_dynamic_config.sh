#!/bin/sh
# t_cluster_dynamic_config.sh — dynamic broker settings that are topic
# defaults, as Kafka 3.7's DynamicLogConfig: three brokers and ZooKeeper;
# topics t (no override) and u (segment.bytes=1000000, an override), one
# partition each on all three. log.segment.bytes=2048 set as every
# broker's default with IncrementalAlterConfigs of the broker resource ""
# (kafka_raw.py): shown on every mount's t/.config at once (no restart),
# not on u's, and on the root .config as the broker's value in effect;
# 40 writes of 1000 bytes into each make t roll segments on every replica
# (leader and followers: their partition directories in the data
# directories) while u keeps one. DescribeConfigs of t shows
# DYNAMIC_DEFAULT_BROKER_CONFIG (3) with its synonyms, of the broker
# too; a topic made after has it too. min.insync.replicas follows as a
# default. One broker's own value (kafkajs's admin.alterConfigs on its
# resource) wins over the default there alone (DYNAMIC_BROKER_CONFIG,
# 2), while the resource "" describes the default alone; values the
# static key refuses, keys Kafka does not reconfigure (log.retention.hours,
# num.io.threads) are INVALID_CONFIG; DELETE brings
# the default back, then the file's. A broker restarted takes the
# dynamic default again from ZooKeeper. unclean.leader.election.enable
# turned on as the default: the controller elects a leader of an offline
# partition (w's, its only in-sync replica stopped) at once.

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

CLUSTER_CONF="num.partitions=1"
zk_cluster_start
cluster_start3

# cfg_is N TOPIC KEY VALUE: broker N's mount shows KEY=VALUE in TOPIC/.config
cfg_is() {
	timeout 5 grep -qx "$3=$4" "$MQ_TMP/mnt$1/$2/.config" 2>/dev/null
}
# segments N TOPIC: the segment files of TOPIC's partition 0 in broker
# N's data directory (its replica, leader or follower).
segments() {
	_n=0
	for _f in "$MQ_TMP/b$1/data/$2-0/"*.log; do
		[ -e "$_f" ] && _n=$((_n + 1))
	done
	echo "$_n"
}
segments_above() { [ "$(segments "$1" "$2")" -gt "$3" ]; }
field() { # field MNT TOPIC F: field F of partition 0's row of .state
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
isr_all() { # isr_all TOPIC: all three brokers in its ISR (on mnt1)
	[ "$(set_of "$(field "$MQ_TMP/mnt1" "$1" 8)")" = 1,2,3 ]
}
# fill MNT TOPIC: 40 writes of one 1000-byte record (acks=all).
fill() {
	python3 - "$1/$2/0" <<'EOP'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(40):
    os.write(fd, b"%08d-%s\n" % (i, b"x" * 990))
os.close(fd)
EOP
}

cluster_mkdir t
cluster_mkdir u
for tp in t u; do
	check "$tp: three replicas in the ISR" poll 20 isr_all "$tp"
done
expect_ok "u: segment.bytes=1000000 (an override)" sh -c \
	"echo segment.bytes=1000000 >'$MQ_TMP/mnt1/u/.config'"
for b in 1 2 3; do
	check "mnt$b: u's override" poll 20 cfg_is "$b" u segment.bytes 1000000
done

# A first record in each, on every replica: the topics' line settings
# are fixed (a change notification of each, which applies the broker's
# defaults too) before the dynamic default is set, so what follows sees
# the dynamic change alone.
# in_replica N TOPIC: broker N's replica of TOPIC holds the first record
in_replica() { cat "$MQ_TMP/b$1/data/$2-0/"*.log 2>/dev/null | grep -qa first; }
for tp in t u; do
	expect_ok "$tp: a first record" sh -c "echo first >'$MQ_TMP/mnt1/$tp/0'"
	for b in 1 2 3; do
		check "broker $b: $tp's first record in its replica" poll 20 in_replica "$b" "$tp"
	done
done
LT=$(field "$MQ_TMP/mnt1" t 5)
LU=$(field "$MQ_TMP/mnt1" u 5)

# The cluster default.
expect_eq "IncrementalAlterConfigs <default>: log.segment.bytes=2048" "error 0" \
	"$(incalter 1 "" 0 log.segment.bytes 2048)"
for b in 1 2 3; do
	check "mnt$b: t takes the default: segment.bytes=2048" poll 20 cfg_is "$b" t \
		segment.bytes 2048
	check "mnt$b/.config: the broker's log.segment.bytes in effect, 2048" poll 20 \
		grep -qx log.segment.bytes=2048 "$MQ_TMP/mnt$b/.config"
	check "mnt$b: u keeps its override" cfg_is "$b" u segment.bytes 1000000
done
check "logged: the default's znode, its entity and who changed it" grep -q \
	"/config/brokers/<default>: dynamic broker settings (every broker's default) changed by 127.0.0.1:[0-9]* (IncrementalAlterConfigs)" \
	"$LOG"
check "not logged as a topic's change" sh -c "! grep -q 'topic : settings changed' '$LOG'"
# A topic made now starts with it, on every broker.
cluster_mkdir v
for b in 1 2 3; do
	check "mnt$b: v, made after, has segment.bytes=2048" poll 20 cfg_is "$b" v segment.bytes 2048
done
check "t: 40 KB written through its leader $LT" fill "$MQ_TMP/mnt$LT" t
check "u: 40 KB written through its leader $LU" fill "$MQ_TMP/mnt$LU" u
for b in 1 2 3; do
	check "broker $b: t's replica rolled segments of 2048 bytes" poll 30 segments_above "$b" t 10
	expect_eq "broker $b: u's replica one segment" 1 "$(segments "$b" u)"
done
for b in 1 3; do
	check "DescribeConfigs t on broker $b: DYNAMIC_DEFAULT_BROKER_CONFIG" poll 20 described \
		"$b" 2 t segment.bytes \
		"segment.bytes=2048 source=3 readonly=false synonyms=log.segment.bytes:3,log.segment.bytes:5"
done
check "DescribeConfigs u: TOPIC_CONFIG" described 1 2 u segment.bytes \
	"segment.bytes=1000000 source=1 readonly=false synonyms=segment.bytes:1,log.segment.bytes:3,log.segment.bytes:5"
check "DescribeConfigs broker 1: log.segment.bytes DYNAMIC_DEFAULT_BROKER_CONFIG" eval \
	'admin 1 describe-broker 1 log.segment.bytes |
	grep -qx "log.segment.bytes=2048 source=3 readonly=false"'

# One broker's own value wins there, over the default.
expect_eq "AlterConfigs broker 2: log.segment.bytes=4096" "ok" \
	"$(admin 2 alter-broker 2 '{"log.segment.bytes":"4096"}')"
check "mnt2: t takes broker 2's own: 4096" poll 20 cfg_is 2 t segment.bytes 4096
check "logged: broker 2's own znode changed, by whom" grep -q \
	"/config/brokers/2: dynamic broker settings (this broker's own) changed by 127.0.0.1:[0-9]* (AlterConfigs)" \
	"$LOG"
check "mnt2/.config: broker 2's own log.segment.bytes, 4096" poll 20 \
	grep -qx log.segment.bytes=4096 "$MQ_TMP/mnt2/.config"
check "mnt1/.config: the default's, 2048" grep -qx log.segment.bytes=2048 "$MQ_TMP/mnt1/.config"
for b in 1 3; do
	check "mnt$b: t keeps the default 2048" cfg_is "$b" t segment.bytes 2048
done
check "DescribeConfigs t on broker 2: DYNAMIC_BROKER_CONFIG" poll 20 described 2 2 t \
	segment.bytes \
	"segment.bytes=4096 source=2 readonly=false synonyms=log.segment.bytes:2,log.segment.bytes:3,log.segment.bytes:5"
check "DescribeConfigs broker 2: DYNAMIC_BROKER_CONFIG, both levels' synonyms" described 2 4 2 \
	log.segment.bytes \
	"log.segment.bytes=4096 source=2 readonly=false synonyms=log.segment.bytes:2,log.segment.bytes:3,log.segment.bytes:5"
# The resource "" is the cluster default alone, as Kafka answers it, even
# on broker 2, whose own value differs: kafka-configs.sh --entity-default
# keeps this answer's DYNAMIC_DEFAULT_BROKER_CONFIG entries and sends them
# back as the whole set, so an entry of another source would drop the key
# from the default. A key the default does not set is not listed.
check "DescribeConfigs broker \"\" on broker 2: the default's 2048 alone" described 2 4 "" \
	log.segment.bytes "log.segment.bytes=2048 source=3 readonly=false synonyms=log.segment.bytes:3"
check "DescribeConfigs broker \"\": log.roll.ms, not in the default, not listed" described 2 4 \
	"" log.roll.ms ""

# Refused as Kafka refuses them: nothing changes.
expect_eq "log.segment.bytes=5 (below the static key's minimum): INVALID_CONFIG (40)" \
	"error 40" "$(incalter 1 "" 0 log.segment.bytes 5)"
expect_eq "log.retention.ms=abc: INVALID_CONFIG (40)" "error 40" \
	"$(incalter 1 1 0 log.retention.ms abc)"
expect_eq "log.retention.hours (not reconfigurable in Kafka): INVALID_CONFIG (40)" "error 40" \
	"$(incalter 1 "" 0 log.retention.hours 1)"
expect_eq "num.io.threads: INVALID_CONFIG" "error INVALID_CONFIG" \
	"$(admin 1 alter-broker 1 '{"num.io.threads":"4"}' | cut -d: -f1)"
check "mnt1: t keeps 2048" cfg_is 1 t segment.bytes 2048

# min.insync.replicas, a topic default of the replicas (the file says 2).
expect_eq "IncrementalAlterConfigs <default>: min.insync.replicas=3" "error 0" \
	"$(incalter 1 "" 0 min.insync.replicas 3)"
for b in 1 2 3; do
	check "mnt$b: t's min.insync.replicas=3" poll 20 cfg_is "$b" t min.insync.replicas 3
done

# DELETE: broker 2's own goes (the default again), then the default (the
# file's, the built-in 1 GiB).
expect_eq "IncrementalAlterConfigs broker 2: DELETE log.segment.bytes" "error 0" \
	"$(incalter 2 2 1 log.segment.bytes)"
check "mnt2: t back to the default 2048" poll 20 cfg_is 2 t segment.bytes 2048
expect_eq "IncrementalAlterConfigs <default>: DELETE log.segment.bytes" "error 0" \
	"$(incalter 1 "" 1 log.segment.bytes)"
for b in 1 2 3; do
	check "mnt$b: t back to the file's default" poll 20 cfg_is "$b" t segment.bytes 1073741824
	check "mnt$b/.config: the file's log.segment.bytes again" poll 20 \
		grep -qx log.segment.bytes=1073741824 "$MQ_TMP/mnt$b/.config"
done
check "DescribeConfigs t: DEFAULT_CONFIG again" poll 20 described 1 2 t segment.bytes \
	"segment.bytes=1073741824 source=5 readonly=false synonyms=log.segment.bytes:5"

# A restart keeps them: read from ZooKeeper at the start.
expect_eq "IncrementalAlterConfigs <default>: log.retention.ms=3600000" "error 0" \
	"$(incalter 1 "" 0 log.retention.ms 3600000)"
check "mnt3: t's retention.ms=3600000" poll 20 cfg_is 3 t retention.ms 3600000
check "broker 3 stopped" broker_stop 3
broker_start 3
check "mnt3: three live brokers again" poll 30 alive_on "$MQ_TMP/mnt3" 3
check "mnt3 after its restart: t's retention.ms=3600000" poll 30 cfg_is 3 t retention.ms 3600000
check "mnt3 after its restart: t's min.insync.replicas=3" poll 30 cfg_is 3 t min.insync.replicas 3
check "mnt3 after its restart: u's segment.bytes override" cfg_is 3 u segment.bytes 1000000

# unclean.leader.election.enable: the controller acts on the dynamic
# default (Kafka's enableDefaultUncleanLeaderElection). Topic w's leader
# alone in its ISR, then stopped too: offline once the followers are
# back; the default turned on, a follower leads.
cluster_mkdir w
check "w: three replicas in the ISR" poll 20 isr_all w
LW=$(field "$MQ_TMP/mnt1" w 5)
F=""
G=""
for b in 1 2 3; do
	[ "$b" = "$LW" ] && continue
	[ -z "$F" ] && F=$b || G=$b
done
check "follower $F stopped" broker_stop "$F"
check "follower $G stopped" broker_stop "$G"
check "w: leader $LW alone in the ISR" poll 30 p0_isr_is "$MQ_TMP/mnt$LW" w "$LW"
check "leader $LW stopped" broker_stop "$LW"
broker_start "$F"
broker_start "$G"
check "mnt$F: two live brokers" poll 30 alive_on "$MQ_TMP/mnt$F" 2
led_by_follower() {
	_ld=$(p0_field "$MQ_TMP/mnt$F" w 5)
	[ "$_ld" = "$F" ] || [ "$_ld" = "$G" ]
}
# offline: the controller counts partitions offline (w's, t's and u's:
# the stopped leader was alone in each ISR), w's not led by a follower.
offline() {
	for _on in $F $G; do
		_off=$(timeout 5 awk '$1 == "mqfs_offline_partitions" { print $2 }' \
			"$MQ_TMP/mnt$_on/.metrics" 2>/dev/null)
		[ -n "$_off" ] && [ "$_off" -ge 1 ] && ! led_by_follower && return 0
	done
	return 1
}
check "w is offline (no unclean election)" poll 30 offline
expect_eq "IncrementalAlterConfigs <default>: unclean.leader.election.enable=true" "error 0" \
	"$(incalter "$F" "" 0 unclean.leader.election.enable true)"
check "w: a follower leads (an unclean election)" poll 30 led_by_follower
check "the controller logged it" grep -q "controller: w-0: unclean leader election: broker [$F$G] leads" "$LOG"

mq_done
