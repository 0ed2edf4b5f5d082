#!/bin/sh
# t_cluster_offsets.sh — committed offsets survive their coordinator: in a
# three-broker cluster (ZooKeeper and brokers on loopback, SASL_PLAINTEXT)
# __consumer_offsets is a replicated topic and the coordinator of a group
# is the leader of its partition of it.
#   - every broker answers FindCoordinator with the same broker, the
#     leader of the group's __consumer_offsets partition (its .state row);
#   - `kcat -G` commits every record of topic c; the coordinator's mount
#     shows the commits in .groups/g/<p>;
#   - kill -9 of the coordinator: FindCoordinator moves, on every survivor,
#     to the new leader of that partition;
#   - the group resumes from the commits there: a kcat -G run gets exactly
#     the records written since (none again, none skipped), and the new
#     coordinator's mount shows its commits;
#   - another broker's mount holds the group as a proxy after mkdir (a
#     lookup alone finds none) and shows the coordinator's commits, in
#     .groups/g/<p> and .state, before and after the kill; no proxy
#     writes to __consumer_offsets;
#   - the dead broker comes back and follows: every broker, itself
#     included, names the same coordinator, and the group goes on from
#     the commits.
# The brokers log in to each other with SCRAM-SHA-512
# (sasl.mechanism.inter.broker.protocol, its credentials from the
# listener's scram-sha-512 JAAS key, the scram-sha-256 one naming a user
# that does not exist): their logins' log lines name SCRAM-SHA-512, none
# SCRAM-SHA-256, and the replicas fill the ISR.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=2
offsets.topic.num.partitions=4
sasl.enabled.mechanisms=SCRAM-SHA-256,SCRAM-SHA-512
sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"nobody\" password=\"nothing\";
listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username=\"admin\" password=\"admin-secret\";"
zk_cluster_start
echo admin-secret | mq_run "$MQFS" --zookeeper "$ZK" --scram-mechanism SCRAM-SHA-512 \
	--add-scram-user admin >>"$LOG" 2>&1
expect_eq "mqfs --add-scram-user admin, SCRAM-SHA-512" "0" "$?"
cluster_start3

# kgroup BROKER_N: kcat -G g consumes c until every assigned partition is
# at its end, commits and leaves; "partition value" per record, sorted.
kgroup() {
	kc "$1" -G g -e -q -f '%p %s\n' -X session.timeout.ms=6000 \
		-X auto.offset.reset=earliest c | sort
}
# coord N: "error E node M" of FindCoordinator g sent to broker N.
coord() {
	eval "_port=\$PORT$1"
	timeout -k 5 20 python3 "$LIBDIR/kafka_raw.py" coordinator 127.0.0.1 "$_port" \
		admin admin-secret g 2>&1
}
# agree WANT N...: every broker N answers "error 0 node WANT" (WANT "?":
# any one broker, the same for all; its id into AGREED).
agree() {
	_want=$1
	shift
	AGREED=""
	for _an in "$@"; do
		_c=$(coord "$_an")
		echo "# FindCoordinator g from broker $_an: $_c" >>"$LOG"
		case $_c in "error 0 node "[1-3]) ;; *) return 1 ;; esac
		_id=${_c##* }
		[ "$_want" != "?" ] && [ "$_id" != "$_want" ] && return 1
		[ -n "$AGREED" ] && [ "$_id" != "$AGREED" ] && return 1
		AGREED=$_id
	done
}
field() {   # field MNT TOPIC P COL: column COL of partition P's .state row
	timeout 5 awk -v p="$3" -v f="$4" '$1 == p { print $f }' "$1/$2/.state" 2>/dev/null
}
isr3() {   # isr3 MNT TOPIC P: three replicas in the ISR of partition P
	[ "$(field "$1" "$2" "$3" 8 | tr -d '[]' | tr ',' '\n' | grep -c .)" = 3 ]
}
committed() {   # committed MNT WANT: .groups/g/0 and /1 of c read "WANT"
	[ "$(echo $(timeout 5 cat "$1/c/.groups/g/0" "$1/c/.groups/g/1" 2>/dev/null))" = "$2" ]
}
put() {   # put TAG N M: N records TAG-i, alternately to c/1 and c/0, via mnt M
	for _i in $(seq 1 "$2"); do
		echo "$1-$_i" >>"$MQ_TMP/mnt$3/c/$((_i % 2))" || return 1
	done
}
state_committed() {   # state_committed MNT WANT: CURRENT-OFFSET of c/0, c/1 in .groups/g/.state
	[ "$(echo $(timeout 5 awk '$1 == "0" || $1 == "1" { print $2 }' "$1/c/.groups/g/.state" 2>/dev/null))" = "$2" ]
}
expected() {   # expected TAG N: what kgroup prints for put TAG N
	for _i in $(seq 1 "$2"); do echo "$((_i % 2)) $1-$_i"; done | sort
}

expect_ok "mkdir mnt1/c" mkdir "$MQ_TMP/mnt1/c"
for p in 0 1; do
	check "c/$p: three replicas in its ISR" poll 30 isr3 "$MQ_TMP/mnt1" c "$p"
done
expect_ok "the brokers' logins: SCRAM-SHA-512, as admin" \
	grep -q "net: SASL SCRAM-SHA-512 authentication as admin to 127.0.0.1:[0-9]* done" "$LOG"
expect_eq "no broker logged in with SCRAM-SHA-256" 0 \
	"$(grep -c "net: SASL SCRAM-SHA-256 authentication" "$LOG")"
check "put a-1..a-6 through mnt1" put a 6 1

# The first FindCoordinator makes __consumer_offsets (replication factor
# 3 over three live brokers); every broker then names its leader.
check "every broker names the same coordinator for g" poll 40 agree "?" 1 2 3
C=$AGREED
# Java's "g".hashCode() is 103: partition 103 % 4 = 3 of __consumer_offsets.
expect_ok "its broker loaded __consumer_offsets-3, the partition of g" \
	grep -q "__consumer_offsets-3: this broker coordinates its groups" "$LOG"

expect_eq "kcat -G g from broker 1: every record once" "$(expected a 6)" "$(kgroup 1)"
check "the coordinator's mount (mnt$C) shows the commits" poll 30 committed "$MQ_TMP/mnt$C" "3 3"
# Another broker's mount: a lookup finds the coordinator's group (kcat's
# commits made it) and makes a proxy of it there, whose offsets are the
# coordinator's; mkdir there is EEXIST.
O=$((C % 3 + 1))
check "mnt$O shows the coordinator's commits" poll 30 committed "$MQ_TMP/mnt$O" "3 3"
check "and its .groups/g/.state the same" poll 30 state_committed "$MQ_TMP/mnt$O" "3 3"
expect_errno "mkdir c/.groups/g on mnt$O: EEXIST" EEXIST mkdir "$MQ_TMP/mnt$O/c/.groups/g"

# ---- kill -9 of the coordinator ---------------------------------------------
S1=$((C % 3 + 1))
S2=$((S1 % 3 + 1))
eval "CPID=\$PID$C"
mq_kill9 "$MQ_TMP/mnt$C" "$CPID"
moved() {
	agree "?" "$S1" "$S2" && [ "$AGREED" != "$C" ]
}
check "FindCoordinator moves to a survivor on both survivors" poll 40 moved
N=$AGREED
echo "# coordinator $C killed, $N coordinates g now" >>"$LOG"

check "put b-1..b-4 through mnt$S1" put b 4 "$S1"
expect_eq "kcat -G g from broker $S2: the new records, once each (resumed from the commits)" \
	"$(expected b 4)" "$(kgroup "$S2")"
check "the new coordinator's mount (mnt$N) shows the commits" poll 30 committed "$MQ_TMP/mnt$N" "5 5"
# mnt$O's proxy: the group itself if its broker coordinates now, else
# still a proxy, of the new coordinator's group.
check "mnt$O shows the new coordinator's commits" poll 30 committed "$MQ_TMP/mnt$O" "5 5"
check "and its .groups/g/.state the same" poll 30 state_committed "$MQ_TMP/mnt$O" "5 5"

# ---- the dead broker comes back and follows ----------------------------------
timeout 10 fusermount3 -u "$MQ_TMP/mnt$C" 2>/dev/null
broker_start "$C"
check "mnt$C: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$C" 3
check "every broker, broker $C too, names the same coordinator" poll 40 agree "?" 1 2 3
check "put c-1..c-2 through mnt$C" put c 2 "$C"
expect_eq "kcat -G g from broker $C: the new records only" "$(expected c 2)" "$(kgroup "$C")"
check "the coordinator's mount (mnt$AGREED) shows the commits" poll 30 committed \
	"$MQ_TMP/mnt$AGREED" "6 6"
expect_eq "only the coordinators wrote to __consumer_offsets (no proxy tried)" 0 \
	"$(grep -c "not written to __consumer_offsets" "$LOG")"

mq_done
