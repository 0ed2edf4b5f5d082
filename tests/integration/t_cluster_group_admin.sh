#!/bin/sh
# t_cluster_group_admin.sh — a consumer group administered through the
# mount of a broker that does not coordinate it: ZooKeeper and three SASL
# brokers, a topic of two partitions with three replicas. On that mount
# (mnt$O) mkdir, a reset, a .config write and rmdir act at the group's
# coordinator (broker $C, over DescribeGroups, OffsetCommit,
# IncrementalAlterConfigs and DeleteGroups; a proxy's .config reads the
# coordinator's with DescribeConfigs); their effect shows on the
# coordinator's mount and on a third mount (mnt$T), and the errors are
# those of a local operation (EEXIST, EINVAL, EBUSY while a member reads,
# ENOENT), each logged naming the coordinator. kcat -G resumes from the
# reset offset; kafkajs's admin client describes and deletes a group the
# mount made. A group deleted through mnt$O, or by a raw DeleteGroups to
# its coordinator, fails stat on the coordinator's mount, whose kernel had
# just looked it up, as soon as that broker logs that its kernel was told. A group deleted through one mount leaves the third mount's
# listing at its next look. Groups made on the mounts of their own
# coordinators, one per broker, are listed by every mount's `ls .groups`
# (which asks every broker with ListGroups) and open there, and kafkajs's
# admin.listGroups shows them all. librdkafka's DeleteConsumerGroupOffsets
# (OffsetDelete) sent through a non-coordinator reaches the coordinator,
# and every mount's .state shows the partition without a commit. A broker
# frozen (SIGSTOP) does not answer its ListGroups: the listings of the
# others still answer, with their own groups, and the log names it.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

kafkajs_setup
CLUSTER_CONF="num.partitions=2"
# The frozen broker stays live in ZooKeeper (so it is asked) for the
# whole listing check below, however slow the machine.
CLUSTER_SESSION_MS=30000
zk_cluster_start
cluster_start3
cluster_mkdir t

G=audit
# The first FindCoordinator makes __consumer_offsets and is answered
# COORDINATOR_NOT_AVAILABLE (Kafka's auto-creation): asked until named.
coord_known() {
	C=$(group_coordinator "$G")
	case $C in 1 | 2 | 3) return 0 ;; *) return 1 ;; esac
}
poll 40 coord_known
case $C in
1 | 2 | 3) ok "broker $C coordinates $G" ;;
*) fail "a coordinator of $G" "FindCoordinator: $C"; mq_done ;;
esac
O=$((C % 3 + 1))
T=$((O % 3 + 1))
GD() { echo "$MQ_TMP/mnt$1/t/.groups/$G"; }
groups_of() { timeout 5 ls "$MQ_TMP/mnt$1/t/.groups" 2>/dev/null; }
has_group() { groups_of "$1" | grep -qx "$G"; }
no_group() { ! groups_of "$1" | grep -qx "$G"; }
committed() { timeout 5 cat "$(GD "$1")/$2" 2>/dev/null; }
js() {
	KAFKA_SASL_USER=admin KAFKA_SASL_PASSWORD=admin-secret \
		timeout -k 5 60 node "$LIBDIR/kafkajs_admin.js" "127.0.0.1:$PORT1" "$@" 2>&1
}

# ---- mkdir ------------------------------------------------------------------
expect_errno "no group $G on mnt$O yet" ENOENT ls "$(GD "$O")"
expect_ok "mkdir $G on mnt$O (not the coordinator)" mkdir "$(GD "$O")"
expect_ok "the coordinator's mount has it" test -d "$(GD "$C")"
expect_ok "the third mount finds it" test -d "$(GD "$T")"
expect_errno "mkdir $G on mnt$T: EEXIST" EEXIST mkdir "$(GD "$T")"
expect_errno "mkdir $G on mnt$O again: EEXIST" EEXIST mkdir "$(GD "$O")"
expect_eq "kafkajs describes it (Kafka's DescribeGroups)" "state=Empty protocol=range members=0" \
	"$(js describe-group "t/$G")"

# ---- a reset ----------------------------------------------------------------
expect_ok "five records into t/0" sh -c "seq 5 | sed 's/^/r/' >> '$MQ_TMP/mnt1/t/0'"
hw5() { [ "$(t_field "$MQ_TMP/mnt$O" 3)" = 5 ]; }
check "mnt$O sees them committed" poll 20 hw5
expect_ok "echo 3 > $G/0 on mnt$O" sh -c "echo 3 > '$(GD "$O")/0'"
for n in $C $T $O; do
	expect_eq "mnt$n shows offset 3" "3" "$(committed "$n" 0)"
done
expect_ok "echo latest > $G/1 on mnt$O (an empty partition: 0)" sh -c "echo latest > '$(GD "$O")/1'"
expect_eq "mnt$C shows offset 0 of partition 1" "0" "$(committed "$C" 1)"
expect_errno "echo soon > $G/0 on mnt$O: EINVAL" EINVAL bash -c "echo soon > '$(GD "$O")/0'"
expect_errno "echo 99 > $G/0 on mnt$O (past the end): EINVAL" EINVAL bash -c "echo 99 > '$(GD "$O")/0'"
expect_eq "the offset stays 3 at the coordinator" "3" "$(committed "$C" 0)"
expect_eq "kafkajs fetches the reset offsets" "0 3 1 0" "$(echo $(js group-offsets "$G" t))"
expect_eq "kcat -G $G resumes from the reset: r4 r5" "r4 r5" \
	"$(kc 2 -G "$G" -e -q -f '%s\n' -X auto.offset.reset=earliest t | sort | paste -sd' ' -)"
committed5() { [ "$(committed "$C" 0)" = 5 ]; }
check "kcat's commit shows on the coordinator's mount" poll 20 committed5
expect_eq "and on mnt$T" "5" "$(committed "$T" 0)"

# ---- .config ----------------------------------------------------------------
expect_ok ".config on mnt$O" sh -c \
	"printf 'partition.assignment.strategy=roundrobin\nsession.timeout.ms=7000\n' > '$(GD "$O")/.config'"
for n in $C $O $T; do
	expect_ok "mnt$n's .config: roundrobin" grep -qx 'partition.assignment.strategy=roundrobin' "$(GD "$n")/.config"
	expect_ok "mnt$n's .config: 7000" grep -qx 'session.timeout.ms=7000' "$(GD "$n")/.config"
done
expect_errno ".config with an unknown key on mnt$O: EINVAL" EINVAL bash -c \
	"echo no.such=1 > '$(GD "$O")/.config'"
expect_errno ".config with a bad value on mnt$O: EINVAL" EINVAL bash -c \
	"echo session.timeout.ms=5 > '$(GD "$O")/.config'"
expect_ok "nothing changed at the coordinator" grep -qx 'session.timeout.ms=7000' "$(GD "$C")/.config"

# ---- with a member: EBUSY ---------------------------------------------------
mq_bg sh -c "exec cat '$(GD "$C")/consume' > '$MQ_TMP/reader' 2>&1"
READER=$MQ_LAST_PID
one_member() { timeout 5 grep -q '^member ' "$(GD "$C")/.state" 2>/dev/null; }
check "a reader on the coordinator's mount is a member" poll 20 one_member
expect_errno "reset on mnt$O while it reads: EBUSY" EBUSY bash -c "echo 0 > '$(GD "$O")/0'"
expect_errno "rmdir on mnt$O while it reads: EBUSY" EBUSY rmdir "$(GD "$O")"
expect_eq "kafkajs: Stable, one member" "state=Stable protocol=roundrobin members=1" \
	"$(js describe-group "t/$G")"
logged() {
	grep -q "group $G of topic t: rmdir refused by broker $C (the coordinator): NON_EMPTY_GROUP" "$LOG" &&
		grep -q "group $G of topic t: partition 0: reset refused by broker $C (the coordinator)" "$LOG"
}
check "the refusals are logged, naming broker $C and Kafka's error" poll 30 logged
mq_stop "$READER"
no_member() { ! timeout 5 grep -q '^member ' "$(GD "$C")/.state" 2>/dev/null; }
check "the reader left" poll 20 no_member

# ---- OffsetDelete (librdkafka) through a broker that does not coordinate ---
RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
rdk() {
	# shellcheck disable=SC2086
	eval "timeout -k 5 \"\$MQ_TIMEOUT\" \"\$RDK\" -b 127.0.0.1:\$PORT$O $SASL \"\$@\""
}
cur() { timeout 5 awk -v p="$2" '$1 == p { print $2 }' "$(GD "$1")/.state" 2>/dev/null; }
expect_eq "rd_kafka_DeleteConsumerGroupOffsets of $G t/0, bootstrapped on broker $O" \
	"t 0 NO_ERROR" "$(rdk delete-offsets "$G" t 0 2>&1)"
for n in $C $O $T; do
	expect_eq "mnt$n's .state: no commit of partition 0, partition 1's stays" "- 0" \
		"$(echo $(cur "$n" 0) $(cur "$n" 1))"
done
expect_eq "kafkajs fetches none for partition 0" "0 -1 1 0" "$(echo $(js group-offsets "$G" t))"

# ---- rmdir ------------------------------------------------------------------
# Every broker logs into $LOG; the line a broker logs once it told its
# kernel a group went: counted before a deletion, so that the poll waits
# for the new ones.
told() { grep -c "group $G of topic t: deleted; the kernel keeps its name no more" "$LOG"; }
told_more() { [ "$(told)" -ge "$1" ]; }
expect_ok "stat $G on the coordinator's mount: its kernel holds the name" stat "$(GD "$C")"
n=$(told)
expect_ok "rmdir $G on mnt$O" rmdir "$(GD "$O")"
# Two lines: mnt$O's (its proxy dropped) and the coordinator's.
check "mnt$O and the coordinator told their kernels $G went" poll 20 told_more $((n + 2))
expect_errno "stat $G on the coordinator's mount at once: ENOENT" ENOENT stat "$(GD "$C")"
expect_errno "gone from the coordinator's mount" ENOENT ls "$(GD "$C")"
expect_errno "gone from mnt$O" ENOENT ls "$(GD "$O")"
check "gone from mnt$T's listing" poll 30 no_group "$T"
expect_errno "rmdir again on mnt$O: ENOENT" ENOENT rmdir "$(GD "$O")"
expect_eq "kafkajs: Dead" "state=Dead protocol= members=0" "$(js describe-group "t/$G")"

# ---- Kafka's DeleteGroups of a group a mount made ---------------------------
expect_ok "mkdir $G on mnt$T" mkdir "$(GD "$T")"
expect_ok "mnt$O finds it" test -d "$(GD "$O")"
expect_eq "kafkajs deletes it (DeleteGroups)" "ok" "$(js delete-group "$G")"
check "gone from mnt$O's listing" poll 30 no_group "$O"
check "gone from mnt$T's listing" poll 30 no_group "$T"
expect_eq "kafkajs: deleting it again is GROUP_ID_NOT_FOUND" "error GROUP_ID_NOT_FOUND" \
	"$(js delete-group "$G" | cut -d: -f1)"

# ---- DeleteGroups: the coordinator's mount drops the name at once -----------
expect_ok "mkdir $G on mnt$O" mkdir "$(GD "$O")"
expect_ok "stat $G on the coordinator's mount" stat "$(GD "$C")"
n=$(told)
expect_eq "DeleteGroups t/$G sent to broker $C" "error 0" \
	"$(raw "$C" admin named-errors delete-groups "t/$G")"
check "the coordinator told its kernel $G went" poll 20 told_more $((n + 1))
expect_errno "stat $G on the coordinator's mount at once: ENOENT" ENOENT stat "$(GD "$C")"
expect_errno "ls -d $G on the coordinator's mount at once: ENOENT" ENOENT ls -d "$(GD "$C")"
expect_ok "mkdir $G on the coordinator's mount at once" mkdir "$(GD "$C")"

# ---- listing: a group per coordinator, on every mount ----------------------
# A name each broker coordinates, made on that broker's own mount: the
# other mounts have never seen it, so only ListGroups can list it there.
L1= L2= L3=
i=0
while [ $i -lt 40 ] && { [ -z "$L1" ] || [ -z "$L2" ] || [ -z "$L3" ]; }; do
	c=$(group_coordinator "lg$i")
	case $c in
	1 | 2 | 3) eval "[ -n \"\$L$c\" ] || L$c=lg$i" ;;
	esac
	i=$((i + 1))
done
if [ -z "$L1" ] || [ -z "$L2" ] || [ -z "$L3" ]; then
	fail "a group name per coordinator" "found '$L1' '$L2' '$L3'"
	mq_done
fi
for n in 1 2 3; do
	eval "g=\$L$n"
	expect_ok "mkdir $g on mnt$n (its coordinator)" mkdir "$MQ_TMP/mnt$n/t/.groups/$g"
done
lists_all() {
	_ls=$(groups_of "$1" | paste -sd' ' -)
	for _g in "$L1" "$L2" "$L3"; do
		case " $_ls " in *" $_g "*) ;; *) return 1 ;; esac
	done
}
for n in 1 2 3; do
	check "ls .groups on mnt$n lists $L1 $L2 $L3" poll 30 lists_all "$n"
	for g in "$L1" "$L2" "$L3"; do
		expect_ok "mnt$n: $g listed opens (its .state)" \
			timeout 5 grep -q '^group ' "$MQ_TMP/mnt$n/t/.groups/$g/.state"
	done
done
expect_ok "ls -l .groups on mnt$O answers" timeout 10 ls -l "$MQ_TMP/mnt$O/t/.groups"
JSL=$(js list-groups)
for g in "$L1" "$L2" "$L3"; do
	expect_ok "kafkajs listGroups: t/$g, consumer" sh -c "echo '$JSL' | grep -qx 't/$g consumer'"
done

# ---- listing with a broker that does not answer -----------------------------
eval "XPID=\$PID$C"
check "broker $C frozen (SIGSTOP)" stop_broker "$XPID"
eval "LO=\$L$O LT=\$L$T"
lists_live() {
	_ls=$(groups_of "$1" | paste -sd' ' -)
	case " $_ls " in *" $LO "*) ;; *) return 1 ;; esac
	case " $_ls " in *" $LT "*) ;; *) return 1 ;; esac
}
unreached() {
	groups_of "$O" >/dev/null
	grep -q "groups listing: broker $C not reached" "$LOG"
}
for n in $O $T; do
	expect_ok "ls .groups on mnt$n answers without broker $C" timeout 10 ls "$MQ_TMP/mnt$n/t/.groups"
	check "mnt$n still lists $LO and $LT" poll 30 lists_live "$n"
done
check "the log names broker $C as not reached" poll 30 unreached
kill -CONT "$XPID"

mq_done
