#!/bin/sh
# t_cluster_recreate.sh — a topic deleted and made again under the same
# name while one of its replicas' brokers is down: ZooKeeper and three
# brokers on loopback with SASL and mounts; topic t (one partition, three
# replicas) with 2000 records old-1..old-2000 on every replica (the first
# 20 a batch each, so that a truncation by leader epoch among them keeps
# the whole batches below the cut); kill -9 of a follower that is not the
# controller; at once rmdir t and mkdir t on a live broker's mount (the
# dead broker's ZooKeeper session is still alive, so the controller takes
# replication factor 3 and assigns the new t to it as well; deleted and
# made again for as long as the dead broker is its first leader, so that
# a live leader's epoch 0 holds records); new-N written through the live
# mounts (acknowledged once the dead broker's session expires and it
# leaves the ISR); the dead broker started again on its data directory,
# which still holds the deleted topic's t-0. That copy is of the earlier
# topic (its topic id is not the one in ZooKeeper at /brokers/topics/t):
# the broker drops it (its log says so: "of an earlier topic of that name") and
# fetches the new topic from offset 0. Then its mount reads as a live
# broker's, no record of the deleted topic is on any mount, every
# acknowledged new-N is on every mount, and each broker's
# t-0/partition.metadata names the topic id ZooKeeper holds.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# A session long enough to delete and make the topic again (more than
# once, should the dead broker be the new topic's first leader) before
# ZooKeeper expires the dead broker's session. A round takes 3-4 s (the
# controller waits up to 3 s for the dead broker's StopReplica answer),
# more under ASan on a loaded machine: the first round must end well
# inside the session.
SESSION_MS=12000
CLUSTER_SESSION_MS=$SESSION_MS
CLUSTER_CONF="num.partitions=1"
zk_cluster_start
cluster_start3
t_make3

# state_key MNT KEY: a key of MNT's root .state (controller=N).
state_key() {
	timeout 5 awk -F= -v k="$2" '$1 == k { print $2 }' "$1/.state" 2>/dev/null
}
C=$(state_key "$MQ_TMP/mnt$L" controller)
case $C in
1 | 2 | 3) ok "root .state: controller $C" ;;
*) fail "root .state: controller" "'$C'"; mq_done ;;
esac
# V: the broker to kill, a follower of t-0 that is not the controller;
# A and B: the two that stay (A the leader of the old t).
if [ "$G" = "$C" ]; then V=$F; else V=$G; fi
A=$L
if [ "$F" = "$V" ]; then B=$G; else B=$F; fi
echo "# old t-0: leader $L, controller $C; broker $V is killed, $A and $B stay"

# ---- the old topic: 2000 records on every replica ---------------------------
i=0
while [ "$i" -lt 2000 ]; do
	i=$((i + 1))
	echo "old-$i"
done >"$MQ_TMP/old"
# Through the leader's mount: the first 20 one write each (a batch of
# one record each: a truncation to an offset among them keeps the batches
# below it, where one batch of many would go whole), then 1980 in nine
# writes of 220.
n=0
while [ "$n" -lt 29 ]; do
	if [ "$n" -lt 20 ]; then
		first=$((n + 1)) last=$((n + 1))
	else
		first=$((21 + (n - 20) * 220)) last=$((20 + (n - 19) * 220))
	fi
	sed -n "${first},${last}p" "$MQ_TMP/old" >"$MQ_TMP/chunk"
	mq_run sh -c 'cat "$1" >> "$2"' sh "$MQ_TMP/chunk" "$MQ_TMP/mnt$L/t/0" ||
		fail "old records $first-$last on mnt$L" "write failed"
	n=$((n + 1))
done
# has FILE N: MQ_TMP/mntN/t/0 reads as FILE.
has() {
	timeout 10 cat "$MQ_TMP/mnt$2/t/0" >"$MQ_TMP/got$2" 2>/dev/null && cmp -s "$MQ_TMP/got$2" "$1"
}
for n in 1 2 3; do
	check "mnt$n shows the 2000 records of the old t" poll 30 has "$MQ_TMP/old" "$n"
done

# ---- kill -9 of V; rmdir and mkdir at once on A's mount ---------------------
eval "VPID=\$PID$V"
mq_kill9 "$MQ_TMP/mnt$V" "$VPID"
ok "broker $V killed (kill -9)"
killed_at=$(date +%s)

# not_listed N: t is not in mntN's listing.
not_listed() {
	! listed "$MQ_TMP/mnt$1" t
}
# try_mkdir: mkdir t on A's mount (refused while the deletion is still
# going on, or once the dead broker's session is gone: EINVAL).
try_mkdir() {
	timeout 20 mkdir "$MQ_TMP/mnt$A/t" 2>>"$MQ_TMP/mkdir.err"
}
# t_leader N: mntN's .state names a leader of t-0.
t_leader() {
	case $(t_field "$MQ_TMP/mnt$1" 5) in
	1 | 2 | 3) return 0 ;;
	*) return 1 ;;
	esac
}
# Made again until a live broker is the new t-0's first leader: then the
# new topic's leader epoch 0 holds records, and the dead broker's old log
# (all of it in the old topic's epoch 0) is not cut to nothing by its
# truncation to the leader's epoch end. A round starts only while twice
# the last round's time still fits in the dead broker's session: one
# made after it expired would have two replicas, not the dead broker's.
rounds=0
while :; do
	rounds=$((rounds + 1))
	round_at=$(date +%s)
	if ! mq_run rmdir "$MQ_TMP/mnt$A/t"; then
		fail "rmdir mnt$A/t (round $rounds)" "refused"
		mq_done
	fi
	for n in $A $B; do
		poll 20 not_listed "$n" || fail "t gone from mnt$n (round $rounds)" "still listed"
	done
	if ! poll 10 try_mkdir; then
		fail "mkdir mnt$A/t again while broker $V's session lives (round $rounds)" \
			"$(tail -n 3 "$MQ_TMP/mkdir.err")"
		mq_done
	fi
	poll 10 t_leader "$A" || fail "mnt$A/t/.state names a leader (round $rounds)" "none"
	NL=$(t_field "$MQ_TMP/mnt$A" 5)
	echo "# round $rounds: t made again, leader $NL, replicas $(t_field "$MQ_TMP/mnt$A" 7), $(($(date +%s) - killed_at)) s after the kill"
	[ "$NL" != "$V" ] && break
	now=$(date +%s)
	[ $((now - killed_at + 2 * (now - round_at))) -ge $((SESSION_MS / 1000)) ] && break
done
ok "rmdir t and mkdir t on mnt$A while broker $V was down ($rounds round(s))"
expect_eq "the new t has three replicas (broker $V's session still alive)" "1,2,3" \
	"$(set_of "$(t_field "$MQ_TMP/mnt$A" 7)")"
if [ "$NL" = "$V" ]; then
	echo "# the dead broker $V is the new t-0's first leader: its old log would be cut to nothing anyway"
fi

# ---- new records through a live mount -----------------------------------------
: >"$MQ_TMP/acked"
# write_new N TEXT: one write of TEXT (lines) through mntN, retried while
# it fails (the dead broker may lead t-0 until its session expires) for up
# to 60 s; the lines of the acknowledged write go to MQ_TMP/acked.
write_new() {
	printf '%s' "$2" >"$MQ_TMP/new.chunk"
	if poll 60 timeout 30 sh -c 'cat "$1" >> "$2"' sh "$MQ_TMP/new.chunk" "$MQ_TMP/mnt$1/t/0" 2>/dev/null; then
		cat "$MQ_TMP/new.chunk" >>"$MQ_TMP/acked"
		return 0
	fi
	return 1
}
# three records in one write (in the new topic's first leader epoch when
# a live broker leads it), then three one by one, through both live mounts
check "new-1..new-3 acknowledged through mnt$A" write_new "$A" "new-1
new-2
new-3
"
check "new-4 acknowledged through mnt$B" write_new "$B" "new-4
"
check "new-5 acknowledged through mnt$A" write_new "$A" "new-5
"
check "new-6 acknowledged through mnt$B" write_new "$B" "new-6
"
echo "# new records acknowledged $(($(date +%s) - killed_at)) s after the kill"

# ---- the dead broker comes back, on its old data directory ----------------
[ -d "$MQ_TMP/b$V/data/t-0" ] && echo "# b$V/data/t-0 is there before the restart (the deleted topic's)"
# Its log of its own, to find what it says.
VLOG=$MQ_TMP/b$V/restart.log
: >"$VLOG"
MAINLOG=$LOG
LOG=$VLOG
broker_start "$V"
LOG=$MAINLOG
ok "broker $V started again on $MQ_TMP/b$V/data"
check "the ISR is full again" poll 60 t_isr_is "$MQ_TMP/mnt$A" "1,2,3"
check "mnt$V's t/0 reads as mnt$A's" poll 20 same_file "$MQ_TMP/mnt$V/t/0" "$MQ_TMP/mnt$A/t/0"

# ---- what every mount shows ----------------------------------------------
sort -u "$MQ_TMP/acked" >"$MQ_TMP/acked.sorted"
for n in 1 2 3; do
	if ! timeout 10 cat "$MQ_TMP/mnt$n/t/0" >"$MQ_TMP/final$n" 2>/dev/null; then
		fail "read mnt$n/t/0" "failed"
		continue
	fi
	nold=$(grep -c '^old-' "$MQ_TMP/final$n")
	if [ "$nold" = 0 ]; then
		ok "mnt$n: no record of the deleted topic"
	else
		fail "mnt$n: no record of the deleted topic" \
			"$nold old-* lines, first: $(grep '^old-' "$MQ_TMP/final$n" | head -n 5 | paste -sd' ' -)"
	fi
	grep '^new-' "$MQ_TMP/final$n" | sort -u >"$MQ_TMP/have$n"
	comm -23 "$MQ_TMP/acked.sorted" "$MQ_TMP/have$n" >"$MQ_TMP/missing$n"
	if [ ! -s "$MQ_TMP/missing$n" ]; then
		ok "mnt$n: every acknowledged new-N record"
	else
		fail "mnt$n: every acknowledged new-N record" \
			"missing: $(paste -sd' ' "$MQ_TMP/missing$n"); mnt$n/t/0 begins: $(head -n 6 "$MQ_TMP/final$n" | paste -sd' ' -)"
	fi
done

# ---- the topic id: ZooKeeper's, and each broker's partition.metadata -------
zk_get() {
	timeout -k 5 30 java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
		-cp "$(zk_classpath)" org.apache.zookeeper.ZooKeeperMain \
		-server "127.0.0.1:$ZKPORT" get "$1" 2>/dev/null
}
TID=$(zk_get /mqfs/brokers/topics/t | sed -n 's/.*"topic_id" *: *"\([^"]*\)".*/\1/p' | head -n 1)
if [ -n "$TID" ]; then
	ok "ZooKeeper's /brokers/topics/t holds a topic id: $TID"
else
	fail "ZooKeeper's /brokers/topics/t holds a topic id" "none read"
fi
# meta_id N: the topic_id line of broker N's t-0/partition.metadata.
meta_id() {
	sed -n 's/^topic_id: *//p' "$MQ_TMP/b$1/data/t-0/partition.metadata" 2>/dev/null | head -n 1
}
for n in $V $A $B; do
	pm=$MQ_TMP/b$n/data/t-0/partition.metadata
	if [ ! -f "$pm" ]; then
		fail "b$n/data/t-0/partition.metadata names the topic id" "no such file ($(ls "$MQ_TMP/b$n/data/t-0" 2>&1 | paste -sd' ' -))"
	else
		expect_eq "b$n/data/t-0/partition.metadata names the topic id" "$TID" "$(meta_id "$n")"
	fi
done
check "broker $V said it dropped the log of an earlier topic of that name" \
	grep -q "of an earlier topic of that name" "$VLOG"
if [ "$MQ_FAIL" -gt 0 ]; then
	echo "    --- broker $V's log since its restart (t-0 lines):"
	grep -e 't-0' -e 'topic t' "$VLOG" | tail -n 20 | sed 's/^/    | /'
fi

# The restarted broker stops cleanly; its log joins the others' (the
# harness looks there for a sanitizer's report).
eval "VPID=\$PID$V"
mq_umount "$MQ_TMP/mnt$V" "$VPID" && ok "clean stop of broker $V"
cat "$VLOG" >>"$LOG"

mq_done
