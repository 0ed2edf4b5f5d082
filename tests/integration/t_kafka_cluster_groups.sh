#!/bin/sh
# t_kafka_cluster_groups.sh — Kafka consumer groups against the
# three-broker cluster (ZooKeeper and brokers on loopback, SASL_PLAINTEXT
# with SCRAM-SHA-256), on a replicated topic of three partitions whose
# leaders are spread over the brokers, its records written with echo
# through every broker's mount (forwarded to the leaders) and by kcat -P:
#   - every broker answers FindCoordinator with the same broker (the
#     leader of the group's partition of __consumer_offsets);
#   - `kcat -G` bootstrapped from broker 1 gets every record once and
#     commits; a second run bootstrapped from broker 3 gets only the
#     records appended since (it resumes from the commits);
#   - a mount member of the group is the coordinator's: consume on another
#     broker's mount joins it there and resumes from kcat's commits, as on
#     the coordinator's mount; a reset or a .config write on another
#     broker's mount is made at the coordinator;
#   - a kafkajs group of two members, bootstrapped from broker 2, splits
#     the partitions and gets every record once; a second run of the group
#     gets only the records appended since;
#   - kafkajs's resetOffsets to latest commits -1 at the coordinator:
#     OffsetFetch of all topics lists it, and another broker's mount reads
#     it as the coordinator's mount does, as none (the group's
#     auto.offset.reset, latest, set on the coordinator's mount), not as
#     the offset it knew before: its .groups/<g>/<p> and a consume member
#     there start at the high watermark;
#   - kafkajs's setOffsets past the log end: a consume member on a
#     follower's mount starts at auto.offset.reset once the leaders told
#     their log ends (ListOffsets).

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

kafkajs_setup

CLUSTER_CONF="num.partitions=3"
zk_cluster_start
cluster_start3

# kgroup BROKER_N GROUP: kcat -G consumes c until every assigned partition
# is at its end, commits and leaves; "partition offset value" per record,
# sorted.
kgroup() {
	kc "$1" -G "$2" -e -q -f '%p %o %s\n' -X session.timeout.ms=6000 \
		-X auto.offset.reset=earliest c | sort
}

field() {   # field MNT TOPIC P COL: column COL of partition P's .state row
	timeout 5 awk -v p="$3" -v f="$4" '$1 == p { print $f }' "$1/$2/.state" 2>/dev/null
}
isr3() {   # isr3 MNT TOPIC: three replicas in the ISR of every partition
	for _p in 0 1 2; do
		[ "$(field "$1" "$2" "$_p" 8 | tr -d '[]' | tr ',' '\n' | grep -c .)" = 3 ] || return 1
	done
}
hw_is() {   # hw_is TOPIC P HW: the hw of TOPIC/P is HW on every mount
	for _hn in 1 2 3; do
		[ "$(field "$MQ_TMP/mnt$_hn" "$1" "$2" 3)" = "$3" ] || return 1
	done
}
mktopic() {   # mktopic TOPIC: made through mnt1, seen everywhere, replicated
	cluster_mkdir "$1"
	check "$1: three partitions, three replicas in each ISR" poll 30 isr3 "$MQ_TMP/mnt1" "$1"
}
# write_all TOPIC TAG: per partition, an echo through each mount (the
# writes of the brokers that do not lead it are forwarded) and a record by
# kcat -P (acks=all: each is committed when its writer returns).
write_all() {
	for _p in 0 1 2; do
		for _n in 1 2 3; do
			expect_ok "$1/$_p: echo $2-m$_n through mnt$_n" \
				sh -c "echo '$2-m$_n-$_p' >> '$MQ_TMP/mnt$_n/$1/$_p'"
		done
		printf '%s-k-%s\n' "$2" "$_p" | kc 2 -P -t "$1" -p "$_p"
	done
}
# expected TAG BASE: the "partition offset value" lines write_all TAG
# leaves, from offset BASE in each partition.
expected() {
	for _p in 0 1 2; do
		_o=$2
		for _v in m1 m2 m3 k; do
			if [ "$_v" = k ]; then echo "$_p $_o $1-k-$_p"; else echo "$_p $_o $1-$_v-$_p"; fi
			_o=$((_o + 1))
		done
	done
}

mktopic c
leaders=""
for p in 0 1 2; do
	leaders="$leaders $(field "$MQ_TMP/mnt1" c "$p" 5)"
done
echo "# leaders of c/0..2:$leaders" >>"$LOG"
expect_eq "the leaders of c are on three different brokers" "3" \
	"$(echo "$leaders" | tr ' ' '\n' | grep . | sort -u | wc -l)"

# Every broker names the same coordinator for g1 (once __consumer_offsets,
# made by the first FindCoordinator, has reached every broker).
coord_all() {
	coord=""
	for _cn in 1 2 3; do
		eval "port=\$PORT$_cn"
		_c=$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" coordinator 127.0.0.1 \
			"$port" admin admin-secret g1 2>&1)
		echo "# FindCoordinator g1 from broker $_cn: $_c" >>"$LOG"
		case $_c in "error 0 node "[1-3]) ;; *) return 1 ;; esac
		[ -z "$coord" ] && coord=$_c
		[ "$_c" = "$coord" ] || return 1
	done
}
check "FindCoordinator g1 from every broker: the same broker" poll 40 coord_all
C=$(echo "$coord" | sed -n 's/^error 0 node \([1-3]\)$/\1/p')
[ -n "$C" ] || fail "FindCoordinator g1" "$coord"

write_all c a
for p in 0 1 2; do
	check "c/$p: four records committed on every mount" poll 30 hw_is c "$p" 4
done

expect_eq "kcat -G g1 from broker 1: every record once" "$(expected a 0 | sort)" "$(kgroup 1 g1)"

write_all c b
for p in 0 1 2; do
	check "c/$p: eight records committed on every mount" poll 30 hw_is c "$p" 8
done
expect_eq "kcat -G g1 from broker 3: only the new records" "$(expected b 4 | sort)" "$(kgroup 3 g1)"
expect_eq "kcat -G g1 from broker 2: nothing new" "" "$(kgroup 2 g1)"
expect_eq "the coordinator's mount (mnt$C) shows kcat's commits" "8 8 8" \
	"$(echo $(cat "$MQ_TMP/mnt$C/c/.groups/g1/0" "$MQ_TMP/mnt$C/c/.groups/g1/1" "$MQ_TMP/mnt$C/c/.groups/g1/2"))"

# A mount member of g1 is the coordinator's: on another broker's mount
# a lookup of g1 makes a proxy of the coordinator's group there (mkdir:
# EEXIST), consume joins the coordinator's group and continues from
# kcat's commits (head -n 1 commits nothing, so the coordinator's mount
# then reads the same record), the offsets read are the coordinator's; a
# reset and a .config write there are made at the coordinator.
O=$((C % 3 + 1))
expect_errno "mkdir c/.groups/g1 on mnt$O (the coordinator has it): EEXIST" EEXIST \
	mkdir "$MQ_TMP/mnt$O/c/.groups/g1"
expect_eq "mnt$O shows the coordinator's offsets of g1" "$(echo $(cat "$MQ_TMP/mnt$C/c/.groups/g1/0" "$MQ_TMP/mnt$C/c/.groups/g1/1" "$MQ_TMP/mnt$C/c/.groups/g1/2"))" \
	"$(echo $(cat "$MQ_TMP/mnt$O/c/.groups/g1/0" "$MQ_TMP/mnt$O/c/.groups/g1/1" "$MQ_TMP/mnt$O/c/.groups/g1/2"))"
expect_ok "reset of g1 partition 0 on mnt$O to 8 (its commit)" \
	bash -c "echo 8 > '$MQ_TMP/mnt$O/c/.groups/g1/0'"
expect_eq "the coordinator's mount shows it" "8" "$(cat "$MQ_TMP/mnt$C/c/.groups/g1/0")"
expect_ok ".config of g1 on mnt$O" bash -c \
	"echo partition.assignment.strategy=sticky > '$MQ_TMP/mnt$O/c/.groups/g1/.config'"
expect_ok "the coordinator's mount shows it" \
	grep -qx partition.assignment.strategy=sticky "$MQ_TMP/mnt$C/c/.groups/g1/.config"
expect_ok "echo partition.assignment.strategy=range on mnt$O" bash -c \
	"echo partition.assignment.strategy=range > '$MQ_TMP/mnt$O/c/.groups/g1/.config'"
expect_ok "echo z through mnt$O" sh -c "echo z >> '$MQ_TMP/mnt$O/c/1'"
expect_eq "consume of g1 on mnt$O (a member at broker $C): the record after kcat's commit" "z" \
	"$(timeout -k 5 "$MQ_TIMEOUT" head -n 1 "$MQ_TMP/mnt$O/c/.groups/g1/consume")"
expect_eq "consume of g1 on the coordinator's mount: the same record" "z" \
	"$(timeout -k 5 "$MQ_TIMEOUT" head -n 1 "$MQ_TMP/mnt$C/c/.groups/g1/consume")"

# kafkajs: two members of jsg, bootstrapped from broker 2, on topic d.
# The records are written once both members hold their partitions, so no
# rebalance runs while records are in flight.
mktopic d
# jsrun TAG BASE RUN: a run of the kafkajs group; TAG's records are written
# once it is ready; checks each arrives once, split over two members.
jsrun() {
	rm -f "$MQ_TMP/ready" "$MQ_TMP/ready.events"
	mq_bg sh -c "exec timeout -k 5 $MQ_TIMEOUT node '$LIBDIR/kafkajs_group.js' 127.0.0.1:$PORT2 d jsg 3 12 \
		'$MQ_TMP/ready' admin:admin-secret >'$MQ_TMP/kafkajs.out' 2>&1"
	_js=$MQ_LAST_PID
	ready() { [ -s "$MQ_TMP/ready" ]; }
	if poll "$MQ_TIMEOUT" ready; then
		ok "kafkajs $3: both members hold a share of the partitions"
		write_all d "$1"
	else
		fail "kafkajs $3: members split the partitions" "$(cat "$MQ_TMP/kafkajs.out")
--- the members' events:
$(cat "$MQ_TMP/ready.events")
--- the coordinator's lines on jsg:
$(grep 'group jsg' "$LOG" | tail -n 40)"
	fi
	mq_wait "$_js"
	expect_eq "kafkajs $3 exits 0" "0" "$MQ_RC"
	_out=$(cat "$MQ_TMP/kafkajs.out")
	expect_eq "kafkajs $3: each record once" "$(expected "$1" "$2" | sort)" \
		"$(echo "$_out" | cut -d' ' -f2- | sort)"
	expect_eq "kafkajs $3: a partition is one member's" "3" \
		"$(echo "$_out" | awk '{print $1, $2}' | sort -u | wc -l)"
	expect_eq "kafkajs $3: two members got records" "2" "$(echo "$_out" | awk '{print $1}' | sort -u | wc -l)"
}
jsrun x 0 "run 1"
jsrun y 4 "run 2 (resumes from the commits)"

# kafkajs's resetOffsets to latest: -1 committed at jsg's coordinator JC.
KAFKA_SASL_USER="admin"
KAFKA_SASL_PASSWORD="admin-secret"
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD
jsadmin() {
	timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_admin.js" "127.0.0.1:$PORT2" "$@" 2>&1
}
_c=$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" coordinator 127.0.0.1 "$PORT1" \
	admin admin-secret jsg 2>&1)
JC=$(echo "$_c" | sed -n 's/^error 0 node \([1-3]\)$/\1/p')
[ -n "$JC" ] || fail "FindCoordinator jsg" "$_c"
JO=$((JC % 3 + 1))
jsg_on() {   # jsg_on N: jsg's offsets of d's partitions on mnt N
	printf '%s %s %s' "$(cat "$MQ_TMP/mnt$1/d/.groups/jsg/0")" \
		"$(cat "$MQ_TMP/mnt$1/d/.groups/jsg/1")" "$(cat "$MQ_TMP/mnt$1/d/.groups/jsg/2")"
}
expect_eq "mnt$JO shows jsg's commits at broker $JC" "8 8 8" "$(jsg_on "$JO")"
expect_ok "jsg's auto.offset.reset: latest, on the coordinator's mount" sh -c \
	"echo auto.offset.reset=latest > '$MQ_TMP/mnt$JC/d/.groups/jsg/.config'"
write_all d z
for p in 0 1 2; do
	check "d/$p: twelve records committed on every mount" poll 30 hw_is d "$p" 12
done
expect_eq "kafkajs resetOffsets of jsg to latest settles" "ok" \
	"$(jsadmin reset-offsets jsg d latest)"
expect_eq "OffsetFetch of every topic lists the -1 committed" \
	"$(printf 'd 0 -1\nd 1 -1\nd 2 -1')" "$(jsadmin group-offsets-all jsg | sort)"
expect_eq "the coordinator's mount reads -1 as none: latest" "12 12 12" "$(jsg_on "$JC")"
expect_eq "mnt$JO reads it so too, not the 8 it knew" "12 12 12" "$(jsg_on "$JO")"
# A consume member on mnt$JO, in before the next record is written (it
# starts at the high watermark of mnt$JO's replicas at its join).
mq_bg sh -c "exec timeout -k 5 $MQ_TIMEOUT head -n 1 '$MQ_TMP/mnt$JO/d/.groups/jsg/consume' \
	>'$MQ_TMP/head.out' 2>&1"
_h=$MQ_LAST_PID
jo_member() { grep -q '^member .* partitions 0,1,2$' "$MQ_TMP/mnt$JO/d/.groups/jsg/.state"; }
check "a consume member of jsg on mnt$JO holds d's partitions" poll 30 jo_member
expect_ok "echo w through mnt$JO" sh -c "echo w >> '$MQ_TMP/mnt$JO/d/0'"
mq_wait "$_h"
expect_eq "that member starts at the high watermark: the record after the reset" "w" \
	"$(cat "$MQ_TMP/head.out")"

# kafkajs's setOffsets past the log end (Kafka takes any offset): on
# mnt2, whose broker follows two of e's partitions (and leads one), a
# consume member of the group starts at auto.offset.reset (earliest) in
# every partition, once each leader told (ListOffsets) that its log ends
# below the commit: all twelve records, and one written after it joined.
mktopic e
write_all e f
for p in 0 1 2; do
	check "e/$p: four records committed on every mount" poll 30 hw_is e "$p" 4
done
expect_eq "kafkajs setOffsets of far to 1000 settles" "ok" "$(jsadmin set-offsets far e 1000)"
expect_eq "mnt2 shows the commits" "1000 1000 1000" \
	"$(echo $(cat "$MQ_TMP/mnt2/e/.groups/far/0" "$MQ_TMP/mnt2/e/.groups/far/1" "$MQ_TMP/mnt2/e/.groups/far/2"))"
mq_bg sh -c "exec timeout -k 5 $MQ_TIMEOUT head -n 13 '$MQ_TMP/mnt2/e/.groups/far/consume' \
	>'$MQ_TMP/far.out' 2>&1"
_h=$MQ_LAST_PID
far_member() { grep -q '^member .* partitions 0,1,2$' "$MQ_TMP/mnt2/e/.groups/far/.state"; }
check "a consume member of far on mnt2 holds e's partitions" poll 30 far_member
F=""
for p in 0 1 2; do
	_l=$(field "$MQ_TMP/mnt1" e "$p" 5)
	echo "# leader of e/$p: $_l" >>"$LOG"
	[ "$_l" = 2 ] || F=$p
done
expect_ok "echo v through mnt2 into e/$F (broker 2 follows it)" sh -c "echo v >> '$MQ_TMP/mnt2/e/$F'"
mq_wait "$_h"
expect_eq "that member reads every partition from the log start, then v" \
	"$( (expected f 0 | cut -d' ' -f3; echo v) | sort)" "$(sort "$MQ_TMP/far.out")"
expect_ok "logged on a follower: past the leader's log end" grep -q \
	"group far of topic e: partition $F: committed offset 1000 is past the log end [45]: read from the log start" "$LOG"

mq_done
