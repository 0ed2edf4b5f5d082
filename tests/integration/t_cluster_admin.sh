#!/bin/sh
# t_cluster_admin.sh — topic settings and the admin APIs across a cluster
# (ZooKeeper and three brokers on loopback, SASL, mounts): kafkajs's
# CreateTopics on broker 1's listener makes a topic with 3 partitions,
# replication factor 3 and retention.ms, seen with ls and in .config on
# mnt2 and mnt3; a .config write on mnt2 goes to /config/topics and a
# /config/changes notification, and every broker's .config shows it;
# min.insync.replicas=4 written on mnt2 takes effect on the leaders of the
# other brokers (acks=all: EAGAIN, logged); chmod and chgrp on mnt1 show
# on every mount and in /config/topics; AlterConfigs on broker 3 shows on
# mnt1; DescribeConfigs on broker 2 gives the override's source; a key
# written at the default's value on mnt2 is an override on broker 1 too,
# and `-key` on mnt3 removes it;
# CreatePartitions on broker 2 and `partitions=` in .config on mnt3 grow
# the topic on every mount, its new partition led and writable; a
# replication factor above the live brokers is INVALID_REPLICATION_FACTOR
# (logged); DeleteRecords through broker 2 moves a partition's log start
# on every replica before it answers (.state and cat on every mount);
# ten topics made in one CreateTopics each take acks=all writes; a mkdir
# costs about as many ZooKeeper requests among 53 topics as among 13; a
# key.separator written where there is no replica, once the topic has
# records, is refused there (EBUSY), and the next setting applies;
# with a broker stopped, mkdir and partitions= that need three live
# brokers are refused with the reason logged; a broker started again on
# an empty data directory makes its replicas
# with the topic's key.separator before they take records; DeleteTopics
# on broker 1 removes the topic from every mount. CreateTopics,
# CreatePartitions and DeleteTopics (by name and by id) sent raw to a
# broker other than the controller are answered NOT_CONTROLLER (logged)
# and change nothing; the same to the controller Metadata names work; a
# DeleteTopics entry with both a name and an id is INVALID_REQUEST
# there (logged), nothing deleted.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

kafkajs_setup
KAFKA_SASL_USER=admin
KAFKA_SASL_PASSWORD=admin-secret
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD

# Notifications in /config/changes are deleted once a second old (15
# minutes by default), by the brokers that process the next change.
CLUSTER_CONF="num.partitions=1
config.change.expiration.ms=1000"
zk_cluster_start
cluster_start3

cfg_is() { # cfg_is MNT TOPIC KEY VALUE
	[ "$(timeout 5 sed -n "s/^$3=//p" "$1/$2/.config" 2>/dev/null)" = "$4" ]
}
parts_are() { # parts_are MNT TOPIC "0 1 2"
	[ "$(timeout 5 ls "$1/$2" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')" = "$3" ]
}
gone() { ! listed "$1" "$2"; }
write_errno() {
	python3 - "$1" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"x\n")
    print("written")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
}

expect_eq "kafkajs CreateTopics on broker 1: 3 partitions, 3 replicas, retention.ms" "ok" \
	"$(admin 1 create ct 3 3 '{"retention.ms":"3600000"}')"
for n in 1 2 3; do
	check "mnt$n: ct has partitions 0 1 2" poll 20 parts_are "$MQ_TMP/mnt$n" ct "0 1 2"
	check "mnt$n/ct/.config: retention.ms=3600000" poll 20 cfg_is "$MQ_TMP/mnt$n" ct retention.ms 3600000
done

# CreateTopics, DeleteTopics and CreatePartitions are the active
# controller's alone (Kafka's ZooKeeper mode): another broker answers
# NOT_CONTROLLER for every topic named, before any other check
# (validate_only, an existing topic), with no message, no partitions or
# replication factor, a by-id deletion's id as asked and no name; it
# changes nothing and logs the refusal. A client sends them to the
# controller Metadata names (kafkajs did above, bootstrapped from broker
# 1), where the same requests work.
ctl_named() { case $(raw 1 admin controller) in 1 | 2 | 3) return 0 ;; esac; return 1; }
check "Metadata names a controller" poll 30 ctl_named
C=$(raw 1 admin controller)
O=$((C % 3 + 1))
expect_eq "broker $O's Metadata names broker $C too" "$C" "$(raw "$O" admin controller)"
expect_eq "CreateTopics v1 of nc to broker $O: NOT_CONTROLLER, no message" "error 41 -" \
	"$(raw "$O" admin create nc 1 3)"
check "nc not made" zgone /brokers/topics/nc
expect_eq "CreateTopics v5 of ct (exists), validate_only, to broker $O: NOT_CONTROLLER first" \
	"error 41 cfgerror 0 partitions -1 rf -1 configs 0" "$(raw "$O" admin create5 ct validate)"
expect_eq "CreatePartitions of ct to 4 on broker $O: NOT_CONTROLLER" "error 41 -" \
	"$(raw "$O" admin grow ct 4)"
expect_eq "DeleteTopics v1 of ct on broker $O: NOT_CONTROLLER" "error 41" \
	"$(raw "$O" admin named-errors delete-topics ct)"
ctid=$(zget /brokers/topics/ct | sed -n 's/.*"topic_id":"\([^"]*\)".*/\1/p')
expect_eq "DeleteTopics v6 of ct by id on broker $O: NOT_CONTROLLER, the id, no name" \
	"name - id $ctid error 41 message -" "$(raw "$O" admin delete-id "$ctid")"
expect_eq "DeleteTopics v6 of ct by name and id on broker $O: NOT_CONTROLLER first" \
	"name ct id $ctid error 41 message -" "$(raw "$O" admin delete-id "$ctid" ct)"
# An entry with both a name and an id: Kafka's handler throws before
# anything is checked or deleted, and its error response is
# INVALID_REQUEST for every entry, no message, as asked; logged.
expect_eq "DeleteTopics v6 of ct by name and id on the controller: INVALID_REQUEST" \
	"name ct id $ctid error 42 message -" "$(raw "$C" admin delete-id "$ctid" ct)"
expect_ok "log: the whole DeleteTopics refused, Kafka's reason" grep -q \
	"DeleteTopics from 127.0.0.1:[0-9]*: refused whole, every entry INVALID_REQUEST: Topic name and topic ID can not both be specified." \
	"$LOG"
expect_eq "ct still has 3 partitions in ZooKeeper" "0 1 2" \
	"$(zget /brokers/topics/ct | grep -o '"[0-9]*":\[' | tr -dc '0-9\n' | sort -n | paste -sd' ')"
check "ct not marked for deletion" zgone /admin/delete_topics/ct
for api in CreateTopics CreatePartitions DeleteTopics; do
	expect_ok "log: $api from 127.0.0.1 refused NOT_CONTROLLER" \
		grep -q "$api from 127.0.0.1:[0-9]*: NOT_CONTROLLER" "$LOG"
done
expect_eq "CreateTopics v1 of nc to the controller (broker $C)" "error 0 -" \
	"$(raw "$C" admin create nc 1 3)"
expect_eq "CreatePartitions of nc to 2 on the controller" "error 0 -" "$(raw "$C" admin grow nc 2)"
for n in 1 2 3; do
	check "mnt$n: nc has partitions 0 1" poll 20 parts_are "$MQ_TMP/mnt$n" nc "0 1"
done
ncid=$(zget /brokers/topics/nc | sed -n 's/.*"topic_id":"\([^"]*\)".*/\1/p')
expect_eq "DeleteTopics v6 of nc by id on the controller: its name" \
	"name nc id $ncid error 0 message -" "$(raw "$C" admin delete-id "$ncid")"
for n in 1 2 3; do
	check "nc gone from mnt$n" poll 20 gone "$MQ_TMP/mnt$n" nc
done

# One CreateTopics of ten topics: each is made once on every broker (none
# taken for deleted by a listing of /brokers/topics read before it was
# made), and takes acks=all writes on its leader.
expect_eq "kafkajs CreateTopics of ten topics in one request" "ok" "$(admin 1 create-many many 10 3)"
leader_of() { timeout 5 awk '$1 == "0" { print $5 }' "$MQ_TMP/mnt1/$1/.state" 2>/dev/null; }
has_leader() { case $(leader_of "$1") in 1 | 2 | 3) return 0 ;; esac; return 1; }
i=0
while [ $i -lt 10 ]; do
	check "many$i has a leader" poll 20 has_leader "many$i"
	l=$(leader_of "many$i")
	expect_eq "acks=all write into many$i on its leader (broker $l)" "written" \
		"$(write_errno "$MQ_TMP/mnt$l/many$i/0")"
	i=$((i + 1))
done
expect_ok "no topic of them taken for deleted" sh -c \
	'! grep -q "topic many[0-9]: deleted in the cluster" "$1"' sh "$LOG"

# A mkdir costs ZooKeeper requests that do not grow with the topics
# there are: each broker reads the znodes of the topics new or changed
# since its last look, the controller too, not of every topic again
# (about twelve requests per topic per mkdir before).
mkdir_requests() { # mkdir_requests NAME: requests until every mount lists mnt2/NAME
	_a=$(zk_received "$ZKPORT")
	mkdir "$MQ_TMP/mnt2/$1" || return 1
	for _n in 1 2 3; do poll 20 listed "$MQ_TMP/mnt$_n" "$1" || return 1; done
	echo $(($(zk_received "$ZKPORT") - _a))
}
r1=$(mkdir_requests few)
expect_eq "kafkajs CreateTopics of 40 more topics" "ok" "$(admin 1 create-many more 40 3)"
i=0
while [ $i -lt 40 ]; do
	check "more$i has a leader" poll 20 has_leader "more$i"
	i=$((i + 1))
done
r2=$(mkdir_requests lots)
expect_ok "a mkdir among 53 topics costs about what one among 13 does ($r1, then $r2 ZooKeeper requests)" \
	[ "$r2" -lt $((r1 + 80)) ]

# A .config write on mnt2 reaches every broker.
expect_ok "echo retention.ms=7200000 > mnt2/ct/.config" \
	sh -c "echo retention.ms=7200000 > '$MQ_TMP/mnt2/ct/.config'"
for n in 1 3; do
	check "mnt$n/ct/.config: retention.ms=7200000" poll 20 cfg_is "$MQ_TMP/mnt$n" ct retention.ms 7200000
done
d=$(admin 2 describe ct retention.ms)
case $d in
"retention.ms=7200000 source=1 "*) ok "DescribeConfigs on broker 2: the override, source 1" ;;
*) fail "DescribeConfigs on broker 2" "$d" ;;
esac

# min.insync.replicas above the replicas, taken by every broker (it counts
# as the replicas, as Kafka's effectiveMinIsr: test_partition,
# t_kafka_produce.sh).
expect_ok "echo min.insync.replicas=4 > mnt2/ct/.config" \
	sh -c "echo min.insync.replicas=4 > '$MQ_TMP/mnt2/ct/.config'"
for n in 1 3; do
	check "mnt$n/ct/.config: min.insync.replicas=4" poll 20 cfg_is "$MQ_TMP/mnt$n" ct min.insync.replicas 4
done
expect_ok "echo min.insync.replicas=2 > mnt2/ct/.config" \
	sh -c "echo min.insync.replicas=2 > '$MQ_TMP/mnt2/ct/.config'"
check "mnt3/ct/.config: min.insync.replicas=2" poll 20 cfg_is "$MQ_TMP/mnt3" ct min.insync.replicas 2

# chmod and chgrp of the topic on one mount: the cluster's owner and mode,
# in /config/topics/ct, on every mount (each kept its own before), the
# topic's settings kept there.
mode_is() { # mode_is N MODE:GID: stat of mntN/ct
	[ "$(stat -c '%a:%g' "$MQ_TMP/mnt$1/ct" 2>/dev/null)" = "$2" ]
}
expect_ok "chmod 0750 mnt1/ct" chmod 0750 "$MQ_TMP/mnt1/ct"
expect_ok "chgrp 100 mnt1/ct" chgrp 100 "$MQ_TMP/mnt1/ct"
for n in 2 3; do
	check "mnt$n/ct: mode 750, group 100" poll 20 mode_is "$n" 750:100
done
zct=$(zk_cli "$ZKPORT" get /mqfs/config/topics/ct)
if printf '%s' "$zct" | grep -q '"mqfs.owner.gid":"100"' &&
	printf '%s' "$zct" | grep -q '"mqfs.mode":"0750"' &&
	printf '%s' "$zct" | grep -q '"min.insync.replicas":"2"'; then
	ok "/config/topics/ct: the new group and mode, the settings kept"
else
	fail "/config/topics/ct: the new group and mode, the settings kept" "$zct"
fi
expect_ok "chmod 0755 mnt3/ct" chmod 0755 "$MQ_TMP/mnt3/ct"
check "mnt1/ct: mode 755 again" poll 20 mode_is 1 755:100

# AlterConfigs on broker 3.
expect_eq "kafkajs AlterConfigs on broker 3" "ok" \
	"$(admin 3 alter ct '{"retention.ms":"600000","min.insync.replicas":"2"}')"
check "mnt1/ct/.config: retention.ms=600000" poll 20 cfg_is "$MQ_TMP/mnt1" ct retention.ms 600000

# A key written at the broker default's value is an override all the same
# (in /config/topics/ct, source 1 on every broker); "-key" removes it.
source_is() { # source_is BROKER SOURCE: segment.bytes of ct described there
	admin "$1" describe ct segment.bytes | grep -q "^segment.bytes=1073741824 source=$2 "
}
expect_ok "echo segment.bytes=1073741824 > mnt2/ct/.config" \
	sh -c "echo segment.bytes=1073741824 > '$MQ_TMP/mnt2/ct/.config'"
check "DescribeConfigs on broker 1: segment.bytes at the default's value, source 1" \
	poll 20 source_is 1 1
case $(zk_cli "$ZKPORT" get /mqfs/config/topics/ct) in
*segment.bytes*1073741824*) ok "an override in /config/topics/ct" ;;
*) fail "an override in /config/topics/ct" "$(zk_cli "$ZKPORT" get /mqfs/config/topics/ct)" ;;
esac
expect_ok "echo -segment.bytes > mnt3/ct/.config" \
	sh -c "echo -segment.bytes > '$MQ_TMP/mnt3/ct/.config'"
check "DescribeConfigs on broker 1: the default again, source 5" poll 20 source_is 1 5

# Refusals.
r=$(admin 1 create big 1 4)
expect_eq "replication factor 4 of 3 brokers: INVALID_REPLICATION_FACTOR" \
	"error INVALID_REPLICATION_FACTOR" "${r%%:*}"
check "logged" grep -q "'big' refused: INVALID_REPLICATION_FACTOR" "$LOG"
r=$(admin 2 alter ct '{"cleanup.policy":"sometimes"}')
expect_eq "a bad value: INVALID_CONFIG" "error INVALID_CONFIG" "${r%%:*}"
expect_errno "a bad .config line on mnt3: EINVAL" EINVAL \
	bash -c 'echo retention.ms=soon > "$1"' sh "$MQ_TMP/mnt3/ct/.config"
check "mnt1: retention.ms still 600000" cfg_is "$MQ_TMP/mnt1" ct retention.ms 600000

# Each change is processed by every broker, which then deletes the
# notifications older than config.change.expiration.ms: changes go on
# until one comes more than a second after the earlier ones.
changes_purged() {
	sh -c "echo retention.ms=$(date +%s%N | cut -c1-12) > '$MQ_TMP/mnt2/ct/.config'" &&
		grep -q '/config/changes: [0-9]* notification(s) older than 1000 ms deleted' "$LOG"
}
check "old /config/changes notifications deleted" poll 20 changes_purged

# More partitions: CreatePartitions on broker 2, .config on mnt3.
expect_eq "kafkajs CreatePartitions on broker 2: 5" "ok" "$(admin 2 partitions ct 5)"
for n in 1 2 3; do
	check "mnt$n: ct has partitions 0..4" poll 20 parts_are "$MQ_TMP/mnt$n" ct "0 1 2 3 4"
done
expect_ok "echo partitions=6 > mnt3/ct/.config" \
	sh -c "echo partitions=6 > '$MQ_TMP/mnt3/ct/.config'"
for n in 1 2 3; do
	check "mnt$n: ct has partitions 0..5" poll 20 parts_are "$MQ_TMP/mnt$n" ct "0 1 2 3 4 5"
done
leader5() { timeout 5 awk '$1 == "5" { print $5 }' "$MQ_TMP/mnt1/ct/.state"; }
has_leader5() { case $(leader5) in 1 | 2 | 3) return 0 ;; esac; return 1; }
check "partition 5 has a leader" poll 20 has_leader5
l=$(leader5)
expect_eq "acks=all write to the new partition 5 on its leader (broker $l)" "written" \
	"$(write_errno "$MQ_TMP/mnt$l/ct/5")"
r=$(admin 1 partitions ct 3)
expect_eq "fewer partitions: INVALID_PARTITIONS" "error INVALID_PARTITIONS" "${r%%:*}"

# DeleteRecords through partition 1's leader: every replica's log then
# starts there (the followers follow the leader's log start, and the
# answer waits for them), on every mount.
lead1=$(timeout 5 awk '$1 == "1" { print $5 }' "$MQ_TMP/mnt1/ct/.state")
expect_ok "100 lines into ct/1 on mnt$lead1" sh -c \
	'seq 0 99 | sed "s/^/line-/" >> "$1"' sh "$MQ_TMP/mnt$lead1/ct/1"
expect_eq "kafkajs DeleteRecords below 40" "ok low=40 high=100" "$(admin 2 delete-records ct 1 40)"
starts_at() { # starts_at MNT: ct/1's log start in MNT's .state is 40
	[ "$(timeout 5 awk '$1 == "1" { print $2 }' "$1/ct/.state" 2>/dev/null)" = 40 ]
}
for n in 1 2 3; do
	check "mnt$n/ct/.state: partition 1 starts at 40" starts_at "$MQ_TMP/mnt$n"
	expect_eq "mnt$n: cat ct/1 starts at line-40" "line-40" "$(mq_run head -n 1 "$MQ_TMP/mnt$n/ct/1")"
done

# key.separator is fixed once the topic has records, in ZooKeeper for the
# whole cluster: written on the broker without a replica (replication
# factor 2 of three brokers), which cannot see the records, it is refused
# there (EBUSY, logged), and the topic's other settings go on applying.
expect_eq "kafkajs CreateTopics: ks, 1 partition, 2 replicas" "ok" "$(admin 1 create ks 1 2)"
check "ks has a leader" poll 20 has_leader ks
ksl=$(leader_of ks)
ksr=$(timeout 5 awk '$1 == "0" { print $7 }' "$MQ_TMP/mnt1/ks/.state" | tr -d '[]')
kso=
for n in 1 2 3; do
	case ",$ksr," in *",$n,"*) ;; *) kso=$n ;; esac
done
expect_ok "broker $kso holds no replica of ks (replicas $ksr)" test -n "$kso"
expect_eq "a record into ks on its leader (broker $ksl)" "written" \
	"$(write_errno "$MQ_TMP/mnt$ksl/ks/0")"
check "mnt$kso lists ks" poll 20 listed "$MQ_TMP/mnt$kso" ks
expect_errno "key.separator=: written on mnt$kso: EBUSY" EBUSY \
	sh -c "/bin/echo key.separator=: > '$MQ_TMP/mnt$kso/ks/.config'"
check "broker $kso logs the refused key.separator" grep -q \
	"topic ks: .config refused: key.separator and line.format are fixed" "$LOG"
check "mnt$kso/ks/.config: no key.separator" cfg_is "$MQ_TMP/mnt$kso" ks key.separator ""
expect_ok "retention.ms=12345 written on mnt$kso" \
	sh -c "echo retention.ms=12345 > '$MQ_TMP/mnt$kso/ks/.config'"
check "the leader (mnt$ksl) applies retention.ms=12345 all the same" \
	poll 20 cfg_is "$MQ_TMP/mnt$ksl" ks retention.ms 12345
expect_eq "kafkajs DeleteTopics ks" "ok" "$(admin 1 delete ks)"

# A broker started again on an empty data directory (a disk replaced)
# makes its replicas with the topic's settings before they take records:
# key.separator applies there, and its mount and its .lines read as the
# leader's. Its replicas used to take their first records under the
# defaults when the controller's LeaderAndIsr came before the broker had
# read the topic, and to refuse the topic's key.separator from then on
# (test_cluster_repl reproduces that order; here it is a matter of
# timing).
expect_eq "kafkajs CreateTopics: kw, 3 replicas, key.separator=:" "ok" \
	"$(admin 1 create kw 1 3 '{"key.separator":":"}')"
check "kw has a leader" poll 20 has_leader kw
kwl=$(leader_of kw)
kww=$((kwl % 3 + 1))
kw_isr3() {
	[ "$(set_of "$(timeout 5 awk '$1 == "0" { print $8 }' "$MQ_TMP/mnt$kwl/kw/.state" 2>/dev/null)")" = "1,2,3" ]
}
expect_ok "three keyed records into kw on its leader (broker $kwl)" \
	sh -c "printf 'a:1\nb:2\nc:3\n' >> '$MQ_TMP/mnt$kwl/kw/0'"
check "mnt$kww reads kw as the leader does" poll 20 same_file "$MQ_TMP/mnt$kww/kw/0" \
	"$MQ_TMP/mnt$kwl/kw/0"
eval "p=\$PID$kww"
mq_umount "$MQ_TMP/mnt$kww" "$p" && ok "clean stop of broker $kww"
# Two live brokers for a replication factor of 3: mkdir and partitions=
# are refused, and the log says why (it said only "Invalid argument").
expect_ok "mkdir wide with two live brokers: refused" sh -c "! mkdir '$MQ_TMP/mnt$kwl/wide' 2>/dev/null"
check "logged: more replicas than live brokers" grep -q \
	"topic wide: replication factor 3 larger than the live brokers (2): not created" "$LOG"
# partitions= is refused at its write(), which the shell reports (it
# does not report a close's error), once the mount counts two live
# brokers.
check "mnt$kwl: two live brokers" poll 30 alive_on "$MQ_TMP/mnt$kwl" 2
sh -c "echo partitions=2 > '$MQ_TMP/mnt$kwl/kw/.config'" 2>/dev/null
expect_eq "partitions=2 for kw on mnt$kwl: echo fails" "1" "$?"
env printf 'partitions=2\n' >"$MQ_TMP/mnt$kwl/kw/.config" 2>"$MQ_TMP/grow.err"
expect_eq "and printf, with EINVAL" "1 1" "$? $(grep -c 'write error: Invalid argument' "$MQ_TMP/grow.err")"
check "logged: no partition added, more replicas than live brokers" grep -q \
	"topic kw: .config refused: more partitions need 3 live brokers (the replication factor), 2 are live" "$LOG"
check "kw still has one partition on mnt$kwl" test "$(ls "$MQ_TMP/mnt$kwl/kw" | grep -c '^[0-9]')" = 1
rm -rf "$MQ_TMP/b$kww/data"
broker_start "$kww"
check "mnt$kww: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$kww" 3
check "broker $kww back in kw's ISR" poll 40 kw_isr3
# ct/1's log starts at 40, inside the batch of its 100 lines: the wiped
# replica's log starts again at the batch's base and follows the start
# (its every fetch was refused as a bad message, for ever).
ct1_isr3() {
	[ "$(set_of "$(timeout 5 awk '$1 == "1" { print $8 }' "$MQ_TMP/mnt$kwl/ct/.state" 2>/dev/null)")" = "1,2,3" ]
}
check "broker $kww back in ct/1's ISR (its log start inside a batch)" poll 40 ct1_isr3
check "mnt$kww/ct/.state: partition 1 starts at 40" poll 20 starts_at "$MQ_TMP/mnt$kww"
expect_eq "mnt$kww: cat ct/1 starts at line-40" "line-40" "$(mq_run head -n 1 "$MQ_TMP/mnt$kww/ct/1")"
check "mnt$kww/kw/.config: key.separator=:" poll 20 cfg_is "$MQ_TMP/mnt$kww" kw key.separator :
check "mnt$kww reads kw as the leader does, again" poll 20 same_file "$MQ_TMP/mnt$kww/kw/0" \
	"$MQ_TMP/mnt$kwl/kw/0"
expect_ok "no key.separator refused for kw" sh -c \
	'! grep -q "topic kw: the cluster.s key.separator or line.format not applied" "$1"' sh "$LOG"

# DeleteTopics on broker 1.
expect_eq "kafkajs DeleteTopics on broker 1" "ok" "$(admin 1 delete ct)"
for n in 1 2 3; do
	check "ct gone from mnt$n" poll 20 gone "$MQ_TMP/mnt$n" ct
done

# The appender holds its latest .lines entries back until a reader needs
# them or the segment is flushed (engine/seg.c): the files are compared
# once both brokers have stopped cleanly, which flushes them.
for n in "$kwl" "$kww"; do
	eval "p=\$PID$n"
	mq_umount "$MQ_TMP/mnt$n" "$p" && ok "clean stop of broker $n"
done
expect_ok "the two replicas' .lines are the same" cmp \
	"$MQ_TMP/b$kwl/data/kw-0/00000000000000000000.lines" \
	"$MQ_TMP/b$kww/data/kw-0/00000000000000000000.lines"

mq_done
