#!/bin/sh
# t_cluster_delete.sh — rmdir of a topic returns once the cluster has
# deleted it, as Kafka's DeleteTopics answers once its controller is done:
# ZooKeeper and three brokers on loopback with SASL and mounts. An rmdir
# followed at once by a mkdir of the same name on the same mount makes
# the topic again (never EEXIST: the topic's znodes are gone when rmdir
# returns), and so does one on another broker's mount once that broker
# has taken the deletion (polled); the new topic takes a write read back
# on every mount; kafkajs's deleteTopics followed at once by createTopics
# through the same broker makes it again too. A mount whose kernel still holds the
# deleted topic's directory under the name (looked up within the last
# second) finds the new topic's files at once (the lookup and open there
# answer ESTALE, and the kernel walks the path again). A write from a
# working directory in the deleted topic fails ENOENT, logged as such.
# With the controller frozen, an rmdir
# on another broker's mount removes the topic there and fails with
# ETIMEDOUT after request.timeout.ms (logged: the deletion goes on); once
# the controller is thawed it finishes, and the name can be made again.
# A mount that looked a topic up just before another broker's mount
# removed it fails stat and ls -d of it (ENOENT) as soon as it no longer
# lists it: its kernel keeps no name of a deleted topic.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# A session far longer than request.timeout.ms: the frozen controller
# keeps its office (no other broker takes the deletion over) for longer
# than an rmdir waits.
CLUSTER_SESSION_MS=30000
CLUSTER_CONF="num.partitions=1
request.timeout.ms=3000"
zk_cluster_start
cluster_start3
kafkajs_setup
KAFKA_SASL_USER=admin
KAFKA_SASL_PASSWORD=admin-secret
export KAFKA_SASL_USER KAFKA_SASL_PASSWORD

# reads MNT FILE: MNT/d/0 reads as FILE.
reads() {
	timeout 10 cat "$1/d/0" >"$MQ_TMP/got" 2>/dev/null && cmp -s "$MQ_TMP/got" "$2"
}

cluster_mkdir d

# try_mkdir N: mkdir d on mnt N (EEXIST on another broker's mount until
# that broker has taken the deletion from ZooKeeper).
try_mkdir() {
	timeout 20 mkdir "$MQ_TMP/mnt$1/d" 2>/dev/null
}

# ---- rmdir, then mkdir at once ---------------------------------------------
# Round r: rmdir on mnt A, mkdir on mnt B (the same mount, at once, in
# the odd rounds; another broker's, polled, in the even ones), then one
# record r-N written through B and read on all three.
r=0
while [ "$r" -lt 8 ]; do
	r=$((r + 1))
	A=$((r % 3 + 1))
	expect_ok "round $r: rmdir mnt$A/d" rmdir "$MQ_TMP/mnt$A/d"
	if [ $((r % 2)) = 1 ]; then
		B=$A
		expect_ok "round $r: mkdir mnt$B/d at once" mkdir "$MQ_TMP/mnt$B/d"
	else
		B=$((A % 3 + 1))
		check "round $r: mkdir mnt$B/d once broker $B has taken the deletion" \
			poll 20 try_mkdir "$B"
	fi
	echo "r-$r" >"$MQ_TMP/want"
	expect_ok "round $r: a record through mnt$B" sh -c 'echo "r-$1" >> "$2"' sh "$r" \
		"$MQ_TMP/mnt$B/d/0"
	for n in 1 2 3; do
		check "round $r: mnt$n reads the new d's one record" poll 20 reads \
			"$MQ_TMP/mnt$n" "$MQ_TMP/want"
	done
done

# ---- a mount that looked the old topic up reaches the new one at once ------
# The kernel keeps a name up to a second: mount C, which read d just
# before the rmdir on A, still holds the deleted topic's directory under
# "d" when B has made the new one; its files are found all the same.
# made_everywhere N: the brokers have logged N creations of d in all.
made_everywhere() {
	[ "$(grep -c "topic d: created" "$LOG")" -ge "$1" ]
}
made=$(grep -c "topic d: created" "$LOG")
r=0
while [ "$r" -lt 5 ]; do
	r=$((r + 1))
	A=$((r % 3 + 1))
	B=$((A % 3 + 1))
	C=$((B % 3 + 1))
	expect_ok "stale round $r: mnt$C reads d/0" cat "$MQ_TMP/mnt$C/d/0"
	expect_ok "stale round $r: mnt$C reads d/.state" cat "$MQ_TMP/mnt$C/d/.state"
	expect_ok "stale round $r: rmdir mnt$A/d" rmdir "$MQ_TMP/mnt$A/d"
	check "stale round $r: mkdir mnt$B/d" poll 20 try_mkdir "$B"
	made=$((made + 3))
	check "stale round $r: every broker made the new d" poll 20 made_everywhere "$made"
	expect_ok "stale round $r: mnt$C: stat d/0 at once" stat "$MQ_TMP/mnt$C/d/0"
	expect_ok "stale round $r: mnt$C: cat d/.state at once" cat "$MQ_TMP/mnt$C/d/.state"
done

# ---- a working directory in the deleted topic -----------------------------
# A process in mnt$C/d when the topic is deleted through mnt$A: its
# write to "0" there fails ENOENT (dash says "Directory nonexistent" for
# it), logged as a deleted topic's (not as a partition number beyond the
# topic's count).
mkfifo "$MQ_TMP/go"
mq_bg sh -c 'exec 2>"$3"; cd "$1" && read -r _ <"$2" && /bin/echo x >0' sh "$MQ_TMP/mnt$C/d" \
	"$MQ_TMP/go" "$MQ_TMP/cwd.err"
WPID=$MQ_LAST_PID
removed() { # removed N: N brokers in all have logged taking a deletion of d
	[ "$(grep -c "topic d: deleted in the cluster, removed here" "$LOG")" -ge "$1" ]
}
gone=$(grep -c "topic d: deleted in the cluster, removed here" "$LOG")
expect_ok "rmdir mnt$A/d" rmdir "$MQ_TMP/mnt$A/d"
check "brokers $B and $C removed d" poll 20 removed $((gone + 2))
echo go >"$MQ_TMP/go"
mq_wait "$WPID" 20
check "a write in mnt$C/d (working directory) once d is deleted: ENOENT" \
	grep -q "No such file or directory\|Directory nonexistent" "$MQ_TMP/cwd.err"
check "logged: the topic was deleted" grep -q "create d/0: the topic was deleted" "$LOG"
check "mkdir mnt$B/d again" poll 20 try_mkdir "$B"

# ---- DeleteTopics, then CreateTopics at once (kafkajs) ---------------------
for n in 1 2 3; do
	expect_eq "kafkajs through broker $n: deleteTopics then createTopics d" "ok" \
		"$(admin "$n" recreate d)"
done
check "d is listed on mnt1 after the last CreateTopics" poll 20 listed "$MQ_TMP/mnt1" d

# ---- a deletion elsewhere leaves another mount's name cache at once -------
# The kernel answers stat of a name from its cache for a second after
# each lookup. mnt2 keeps looking d up while d is removed through mnt1:
# as soon as mnt2 no longer lists d (broker 2 has taken the deletion),
# stat and ls -d of d there fail ENOENT, and mkdir makes d again.
# stat_unlisted NAME: stats mnt2/NAME (the kernel's entry kept while
# broker 2 has the topic), then whether mnt2 no longer lists NAME.
stat_unlisted() {
	stat "$MQ_TMP/mnt2/$1" >/dev/null 2>&1
	! listed "$MQ_TMP/mnt2" "$1"
}
# told N: N lines in all of a broker telling its kernel that d went (every
# broker of the three logs one per deletion, broker 2's among them).
told() {
	[ "$(grep -c "topic d: deleted; the kernel keeps its name no more" "$LOG")" -ge "$1" ]
}
r=0
while [ "$r" -lt 3 ]; do
	r=$((r + 1))
	for n in 1 2; do
		check "cache round $r: d is listed on mnt$n" poll 20 listed "$MQ_TMP/mnt$n" d
	done
	expect_ok "cache round $r: stat mnt2/d" stat "$MQ_TMP/mnt2/d"
	was=$(grep -c "topic d: deleted; the kernel keeps its name no more" "$LOG")
	mq_bg rmdir "$MQ_TMP/mnt1/d"
	RPID=$MQ_LAST_PID
	check "cache round $r: broker 2 took the deletion" poll 20 stat_unlisted d
	check "cache round $r: every broker told its kernel" poll 20 told $((was + 3))
	expect_errno "cache round $r: mnt2: stat d at once: ENOENT" ENOENT stat "$MQ_TMP/mnt2/d"
	expect_errno "cache round $r: mnt2: ls -d d at once: ENOENT" ENOENT ls -d "$MQ_TMP/mnt2/d"
	mq_wait "$RPID" 20
	expect_eq "cache round $r: rmdir mnt1/d" "0" "$MQ_RC"
	expect_ok "cache round $r: mkdir mnt2/d at once" mkdir "$MQ_TMP/mnt2/d"
done

# ---- the controller frozen: ETIMEDOUT, and the deletion goes on ------------
C=$(timeout 5 awk -F= '$1 == "controller" { print $2 }' "$MQ_TMP/mnt1/.state" 2>/dev/null)
case $C in
1 | 2 | 3) ok "root .state: controller $C" ;;
*) fail "root .state: controller" "'$C'"; mq_done ;;
esac
A=$((C % 3 + 1))
eval "CPID=\$PID$C"
check "controller (broker $C) frozen" stop_broker "$CPID"
expect_errno "rmdir mnt$A/d with the controller frozen: ETIMEDOUT" ETIMEDOUT \
	rmdir "$MQ_TMP/mnt$A/d"
check "mnt$A no longer lists d" sh -c '! ls "$1" | grep -qx d' sh "$MQ_TMP/mnt$A"
check "logged: the deletion goes on" grep -q \
	"topic d: deleted here; the controller has not deleted it in the cluster" "$LOG"
thaw_pid "$CPID"
# EEXIST until the thawed controller has deleted the old one.
check "mkdir mnt$A/d once the controller is thawed" poll 30 try_mkdir "$A"
echo "after-thaw" >"$MQ_TMP/want"
expect_ok "a record through mnt$A" sh -c 'echo after-thaw >> "$1"' sh "$MQ_TMP/mnt$A/d/0"
for n in 1 2 3; do
	check "mnt$n reads the new d's one record" poll 30 reads "$MQ_TMP/mnt$n" "$MQ_TMP/want"
done

mq_done
