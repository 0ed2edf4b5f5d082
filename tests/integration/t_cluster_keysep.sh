#!/bin/sh
# t_cluster_keysep.sh — key.separator and line.format, fixed once a topic
# has records, are decided in one place for the whole cluster: ZooKeeper
# and three SASL brokers with mounts, topics of one partition with two
# replicas (so one broker holds none). Every broker's mount must end with
# the same .config and the same line view, whichever broker took the
# setting and whichever took the records:
#   1. after a record, the setting written on the broker without a
#      replica (which has no records of its own) is refused with EBUSY
#      there, not taken there and refused by the leader;
#   2. the setting written on the broker without a replica while the
#      leader is frozen (SIGSTOP), a record written meanwhile through the
#      follower (forwarded, it waits for the leader): once the leader
#      runs again it has the forwarded record and the change notification
#      at once, and takes the setting before the record;
#   3. the setting written on the leader (acks=1) and a record with it
#      while the follower is frozen: once it runs again it has the
#      fetched record and the notification at once, and takes the
#      setting before the record;
#   4. that follower restarted takes the next record with ZooKeeper
#      frozen: it read the settings fixed, and needs ZooKeeper for them
#      only before a topic's first records.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# A frozen broker must keep its ZooKeeper session and its place in the
# ISR while it is frozen, also on a loaded machine.
CLUSTER_SESSION_MS=15000
CLUSTER_CONF="default.replication.factor=2
min.insync.replicas=1
replica.lag.time.max.ms=20000
num.partitions=1"
zk_cluster_start
cluster_start3

# roles TOPIC: LD its leader, FL its follower, NO the broker without a
# replica (read from mnt1's .state once both replicas are in the ISR).
in_sync2() {
	_r=$(timeout 5 awk '$1 == "0" { print $8 }' "$MQ_TMP/mnt1/$1/.state" 2>/dev/null)
	[ "$(echo "$_r" | tr -d '[]' | tr ',' '\n' | grep -c .)" = 2 ]
}
roles() {
	check "$1: two replicas in the ISR" poll 20 in_sync2 "$1"
	LD=$(timeout 5 awk '$1 == "0" { print $5 }' "$MQ_TMP/mnt1/$1/.state")
	_reps=$(timeout 5 awk '$1 == "0" { print $7 }' "$MQ_TMP/mnt1/$1/.state" | tr -d '[]' | tr ',' ' ')
	FL="" NO=""
	for _n in 1 2 3; do
		case " $_reps " in
		*" $_n "*) [ "$_n" != "$LD" ] && FL=$_n ;;
		*) NO=$_n ;;
		esac
	done
	if [ -n "$LD" ] && [ -n "$FL" ] && [ -n "$NO" ]; then
		ok "$1: leader $LD, follower $FL, no replica on $NO"
	else
		fail "$1: roles" "leader '$LD' follower '$FL' none '$NO' (replicas '$_reps')"
		mq_done
	fi
}

# line_settings MNT TOPIC: MNT's key.separator and line.format lines.
line_settings() {
	timeout 5 grep -E '^(key\.separator|line\.format)=' "$1/$2/.config" 2>/dev/null
}

# agree TOPIC WANT_SEP: every mount shows key.separator=WANT_SEP and the
# same line.format in .config, and the same bytes in partition 0.
agree() {
	line_settings "$MQ_TMP/mnt1" "$1" >"$MQ_TMP/set1" || return 1
	grep -qx "key.separator=$2" "$MQ_TMP/set1" || return 1
	for _n in 2 3; do
		line_settings "$MQ_TMP/mnt$_n" "$1" >"$MQ_TMP/set$_n" || return 1
		cmp -s "$MQ_TMP/set1" "$MQ_TMP/set$_n" || return 1
	done
	same_file "$MQ_TMP/mnt1/$1/0" "$MQ_TMP/mnt2/$1/0" &&
		same_file "$MQ_TMP/mnt1/$1/0" "$MQ_TMP/mnt3/$1/0"
}

# views TOPIC: what each mount shows, for the log of a failure.
views() {
	for _n in 1 2 3; do
		echo "mnt$_n: $(line_settings "$MQ_TMP/mnt$_n" "$1" | paste -sd' ' -)" \
			"| $(timeout 5 cat "$MQ_TMP/mnt$_n/$1/0" 2>&1 | paste -sd' ' -)" >>"$LOG"
	done
}

# ---- 1. refused where the cluster refuses it --------------------------------
cluster_mkdir k1
roles k1
expect_ok "a record through the leader's mount" sh -c 'echo "a:b" >>"$1"' sh "$MQ_TMP/mnt$LD/k1/0"
check "every mount shows the record" poll 20 agree k1 ""
expect_errno "key.separator on the broker without a replica: EBUSY" EBUSY \
	sh -c '/bin/echo "key.separator=:" >"$1"' sh "$MQ_TMP/mnt$NO/k1/.config"
expect_errno "line.format there too: EBUSY" EBUSY \
	sh -c '/bin/echo "line.format=raw" >"$1"' sh "$MQ_TMP/mnt$NO/k1/.config"
expect_ok "another setting there is taken" \
	sh -c '/bin/echo "retention.ms=3600000" >"$1"' sh "$MQ_TMP/mnt$NO/k1/.config"
check "every mount keeps no key.separator, one line view" poll 20 agree k1 ""
check "the refusal is logged" grep -q 'k1: .config refused: key.separator and line.format are fixed once the topic has records (a replica' "$LOG"
views k1

# ---- 2. the leader has the forwarded record and the notification at once ----
cluster_mkdir k2
roles k2
check "leader $LD frozen" stop_broker "$(eval "echo \$PID$LD")"
expect_ok "key.separator=: on broker $NO (no replica)" \
	sh -c '/bin/echo "key.separator=:" >"$1"' sh "$MQ_TMP/mnt$NO/k2/.config"
# The follower forwards the write to the frozen leader: it waits.
(echo "x:y" >>"$MQ_TMP/mnt$FL/k2/0"; echo $? >"$MQ_TMP/k2.rc") &
WPID=$!
thaw_pid "$(eval "echo \$PID$LD")"
wait "$WPID"
expect_eq "the forwarded write succeeded" "0" "$(cat "$MQ_TMP/k2.rc")"
check "every mount shows key.separator=: and one line view" poll 20 agree k2 ":"
views k2

# ---- 3. the follower has the fetched record and the notification at once ----
cluster_mkdir k3
roles k3
expect_ok "acks=1 (the frozen follower commits nothing)" \
	sh -c '/bin/echo "acks=1" >"$1"' sh "$MQ_TMP/mnt$LD/k3/.config"
check "acks=1 on every mount" poll 20 sh -c "for n in 1 2 3; do grep -qx acks=1 $MQ_TMP/mnt\$n/k3/.config || exit 1; done"
check "follower $FL frozen" stop_broker "$(eval "echo \$PID$FL")"
expect_ok "key.separator=: and line.format=raw on the leader" \
	sh -c 'printf "key.separator=:\nline.format=raw\n" >"$1"' sh "$MQ_TMP/mnt$LD/k3/.config"
expect_ok "a record through the leader's mount" sh -c 'echo "u:v" >>"$1"' sh "$MQ_TMP/mnt$LD/k3/0"
thaw_pid "$(eval "echo \$PID$FL")"
check "every mount shows key.separator=: and one line view" poll 20 agree k3 ":"
check "line.format=raw on every mount" grep -qx "line.format=raw" "$MQ_TMP/set$FL"
views k3

# ---- 4. a restarted broker needs no ZooKeeper to take records again ---------
# The follower restarted reads k3's znode, fixed: with ZooKeeper frozen
# it takes the next record at once, and the leader's hw covers it, long
# before replica.lag.time.max.ms (20 s) would have dropped it from the
# ISR had it waited for ZooKeeper.
eval "p=\$PID$FL"
mq_umount "$MQ_TMP/mnt$FL" "$p" && ok "clean stop of broker $FL"
broker_start "$FL"
check "mnt$FL: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$FL" 3
check "k3: broker $FL back in the ISR" poll 40 in_sync2 k3
check "mnt$FL lists k3" poll 20 listed "$MQ_TMP/mnt$FL" k3
ZKP=$(cat "$ZKDIR/zk.pid")
freeze_pid "$ZKP"
check "ZooKeeper frozen" poll 20 all_stopped "$ZKP"
expect_ok "ZooKeeper frozen: a record through the leader's mount" \
	timeout 10 sh -c 'echo "w:z" >>"$1"' sh "$MQ_TMP/mnt$LD/k3/0"
hw2() {
	[ "$(timeout 5 awk '$1 == "0" { print $3 }' "$MQ_TMP/mnt$LD/k3/.state" 2>/dev/null)" = 2 ]
}
check "ZooKeeper frozen: the restarted follower took it (hw 2)" poll 10 hw2
thaw_pid "$ZKP"
check "every mount shows both records" poll 20 agree k3 ":"
views k3

mq_done
