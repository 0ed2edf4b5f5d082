#!/bin/sh
# t_cluster_mount_group.sh — one consumer group read through the consume
# files of every broker's mount: ZooKeeper and three SASL brokers, a topic
# of six partitions with three replicas. A reader of .groups/g/consume on
# mnt1, mnt2 and mnt3 (the coordinator's and two others') are three
# members of one group: once stable they split the partitions (each
# reader gets records, every record of a batch is read exactly once
# across them) and their commits are the offsets that .groups/g/<p> shows
# on every mount. The reader on one broker is killed: the others take its
# partitions (every later record read). The third reader's broker is
# killed (-9): after the group's session.timeout.ms the coordinator hands
# its partitions to the coordinator's own reader, which then reads
# everything written after. That broker comes back, readers on it and on
# the third mount join, and the coordinator is killed: the two find the
# next coordinator and share the group there, reading every record
# written after. Readers of a second group of that coordinator opened
# right after it was killed, on a mount that has seen the group and on one
# that has not, wait for the next coordinator and read.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=6"
zk_cluster_start
cluster_start3

M1=$MQ_TMP/mnt1
NP=6

# A group name whose coordinator is broker 1 both among brokers 1-3 and
# among brokers 1-2 when it is chosen from the live brokers by Kafka's
# hash of the name (so it stays put when broker 3 dies); the test finds
# the coordinator by asking the mounts all the same.
GROUP=$(python3 -c '
def h(s):
    x = 0
    for c in s.encode():
        x = (x * 31 + c) & 0xffffffff
    return x & 0x7fffffff
print(next(n for n in ("g%d" % i for i in range(1000)) if h(n) % 3 == 0 and h(n) % 2 == 0))')

listed() {
	timeout 5 ls "$1" 2>/dev/null | grep -qx t
}
full_isr() {
	[ "$(timeout 5 awk 'NR > 1 && $8 ~ /1/ && $8 ~ /2/ && $8 ~ /3/' "$M1/t/.state" 2>/dev/null | wc -l)" = "$NP" ]
}
expect_ok "mkdir mnt1/t" mkdir "$M1/t"
for n in 1 2 3; do
	check "t is listed on mnt$n" poll 20 listed "$MQ_TMP/mnt$n"
done
check "every partition has three in-sync replicas" poll 30 full_isr

# The first groups of a new cluster: __consumer_offsets is being made and
# its leaders are loading their partitions while these readers open; an
# open waits for them (no coordinator yet, then
# COORDINATOR_LOAD_IN_PROGRESS, as Kafka's consumers retry them) instead
# of failing with EAGAIN. Their groups are their own: not $GROUP's.
expect_ok "a first record" sh -c "echo first >> '$M1/t/0'"
for n in 1 2 3; do
	expect_ok "mkdir group first$n on mnt$n" mkdir "$MQ_TMP/mnt$n/t/.groups/first$n"
	expect_eq "the first group's reader on mnt$n opens and reads" "first" \
		"$(timeout 60 head -n 1 "$MQ_TMP/mnt$n/t/.groups/first$n/consume" 2>&1)"
done

# The group, made through mnt1, is on every mount (the coordinator has
# it); its settings are the coordinator's, written through any mount.
C=$(group_coordinator "$GROUP")
case $C in
1 | 2 | 3) ok "broker $C coordinates $GROUP" ;;
*) fail "a coordinator" "FindCoordinator: $C"; mq_done ;;
esac
expect_ok "mkdir group $GROUP on mnt1" mkdir "$MQ_TMP/mnt1/t/.groups/$GROUP"
for n in 1 2 3; do
	expect_ok "group $GROUP is on mnt$n" test -d "$MQ_TMP/mnt$n/t/.groups/$GROUP"
	expect_ok "session.timeout.ms=6000 through mnt$n" \
		sh -c "printf 'session.timeout.ms=6000\n' > '$MQ_TMP/mnt$n/t/.groups/$GROUP/.config'"
done
K=3
[ "$C" = 3 ] && K=2          # the broker killed at the end: not the coordinator
O=$((6 - C - K))             # the other broker, whose reader is stopped first
GD() { echo "$MQ_TMP/mnt$1/t/.groups/$GROUP"; }

# write_batch B N: N records per partition, "B-p<P>-<i>", through mnt$C.
write_batch() {
	: >"$MQ_TMP/want.$1"
	for p in $(seq 0 $((NP - 1))); do
		seq "$2" | sed "s/^/$1-p$p-/" >"$MQ_TMP/w"
		cat "$MQ_TMP/w" >>"$MQ_TMP/want.$1"
		mq_run sh -c "cat '$MQ_TMP/w' >> '$MQ_TMP/mnt$C/t/$p'" ||
			fail "write batch $1 to partition $p" "status $?"
	done
	sort "$MQ_TMP/want.$1" >"$MQ_TMP/want.$1.sorted"
}
# got B READERS...: the distinct records of batch B the readers returned.
got() {
	_b=$1
	shift
	for r in "$@"; do cat "$MQ_TMP/r$r"; done | grep "^$_b-" | sort -u
}
# all_read B READERS...: every record of batch B was read by one of them.
all_read() {
	[ "$(got "$@" | wc -l)" = "$(wc -l <"$MQ_TMP/want.$1")" ]
}
member_count() {
	timeout 5 awk '$1 == "members" { print $2 }' "$(GD "$C")/.state" 2>/dev/null
}
generation_on() {
	timeout 5 awk '$1 == "generation" { print $2 }' "$(GD "$1")/.state" 2>/dev/null
}
# stable: the coordinator has three members and the other brokers know
# its generation (their members heartbeat, then rejoin, within moments).
stable() {
	_g=$(generation_on "$C")
	[ "$(member_count)" = "$1" ] || return 1
	shift
	for n in "$@"; do
		[ "$(generation_on "$n")" = "$_g" ] || return 1
	done
}

write_batch a 20
for n in 1 2 3; do
	mq_bg sh -c "exec cat '$(GD $n)/consume' > '$MQ_TMP/r$n' 2> '$MQ_TMP/r$n.err'"
	eval "R$n=\$MQ_LAST_PID"
done
check "three members of one group, one per mount" poll 30 stable 3 1 2 3
check "batch a: every record read (at least once, across the joins)" poll 30 all_read a 1 2 3
wc -l "$MQ_TMP/r1" "$MQ_TMP/r2" "$MQ_TMP/r3" >>"$LOG"

# ---- stable: the partitions split, each record once -------------------------
write_batch b 10
check "batch b: every record read" poll 30 all_read b 1 2 3
for n in 1 2 3; do
	c=$(grep -c '^b-' "$MQ_TMP/r$n")
	if [ "$c" -gt 0 ] && [ "$c" -lt $((NP * 10)) ]; then
		ok "the reader on mnt$n read part of batch b ($c records)"
	else
		fail "the reader on mnt$n read part of batch b" "$c of $((NP * 10))"
	fi
done
expect_eq "batch b: each record read once across the three" "$((NP * 10))" \
	"$(cat "$MQ_TMP/r1" "$MQ_TMP/r2" "$MQ_TMP/r3" | grep -c '^b-')"
# a partition's records come to one reader
split_ok=yes
for p in $(seq 0 $((NP - 1))); do
	k=0
	for n in 1 2 3; do grep -q "^b-p$p-" "$MQ_TMP/r$n" && k=$((k + 1)); done
	[ "$k" = 1 ] || split_ok="partition $p read by $k readers"
done
expect_eq "batch b: each partition read by one reader" yes "$split_ok"

# The readers' commits (each read commits what the previous returned; cat
# reads again at once) are the offsets every mount shows.
hw() {
	timeout 5 awk -v p="$2" '$1 == p { print $3 }' "$MQ_TMP/mnt$1/t/.state" 2>/dev/null
}
committed_everywhere() {
	for p in $(seq 0 $((NP - 1))); do
		_h=$(hw "$C" "$p")
		for n in 1 2 3; do
			[ "$(timeout 5 cat "$(GD "$n")/$p" 2>/dev/null)" = "$_h" ] || return 1
		done
	done
}
check "committed offsets = the log ends, on every mount" poll 30 committed_everywhere
for n in 1 2 3; do
	expect_eq "mnt$n: partition 0's committed offset (the first record and 30)" "31" \
		"$(timeout 5 cat "$(GD "$n")/0")"
done

# ---- a reader stops: its partitions go to the others ------------------------
mq_stop "$(eval echo "\$R$O")"
check "mnt$O's member left the group" poll 30 stable 2 "$C" "$K"
write_batch c 10
check "batch c: every record read by the two left" poll 30 all_read c "$C" "$K"
expect_eq "nothing of batch c on the stopped reader" "0" "$(grep -c '^c-' "$MQ_TMP/r$O")"

# ---- a broker dies: after session.timeout.ms its member's partitions move ---
mq_kill9 "$MQ_TMP/mnt$K" "$(eval echo "\$PID$K")"
check "broker $K's member expires at the coordinator" poll 40 stable 1 "$C"
write_batch d 5
check "batch d: every record read by the coordinator's reader" poll 40 all_read d "$C"

# ---- the coordinator dies: the members find the next one and meet there ----
# Broker K comes back; readers on mnt$O and mnt$K join (three members),
# then the coordinator is killed. The others ask who coordinates now, and
# the member on that broker's own mount and the other meet there.
broker_start "$K"
check "mnt$K: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$K" 3
# A restarted broker finds the group at its coordinator.
expect_ok "group $GROUP on mnt$K again" test -d "$(GD "$K")"
for n in $O $K; do
	mq_bg sh -c "exec cat '$(GD $n)/consume' > '$MQ_TMP/r$n.2' 2> '$MQ_TMP/r$n.2.err'"
done
check "three members again" poll 30 stable 3 "$C" "$O" "$K"
# A second group H that broker C coordinates too, made through mnt$C;
# mnt$K has looked it up (it has its proxy), mnt$O has not.
group_coordinated_by "$C" h || fail "a group that broker $C coordinates" "none of h1..h20"
H=$G
expect_ok "mkdir group $H on mnt$C" mkdir "$MQ_TMP/mnt$C/t/.groups/$H"
expect_ok "group $H is on mnt$K" test -d "$MQ_TMP/mnt$K/t/.groups/$H"
HD() { echo "$MQ_TMP/mnt$1/t/.groups/$H"; }
mq_kill9 "$MQ_TMP/mnt$C" "$(eval echo "\$PID$C")"
# Opened at once, while the killed coordinator still leads H's partition:
# the open on mnt$K (a proxy of H) and the lookup and open on mnt$O (H not
# seen there: only the coordinator can say it is a group) wait for the
# next coordinator instead of failing with ECONNREFUSED or ENOENT, and
# read H's records from the start (batch a among them).
for n in $K $O; do
	mq_bg sh -c "exec cat '$(HD $n)/consume' > '$MQ_TMP/h$n' 2> '$MQ_TMP/h$n.err'"
	eval "H$n=\$MQ_LAST_PID"
done
h_read_a() {
	[ "$(cat "$MQ_TMP/h$K" "$MQ_TMP/h$O" | grep '^a-' | sort -u | wc -l)" = "$(wc -l <"$MQ_TMP/want.a")" ]
}
check "group $H: the readers opened after the kill read batch a" poll 60 h_read_a
for n in $K $O; do
	expect_eq "group $H: the open on mnt$n did not fail" "" "$(cat "$MQ_TMP/h$n.err")"
	expect_ok "group $H: the reader on mnt$n reads on" kill -0 "$(eval echo "\$H$n")"
done
# the coordinator now: one of the two, as FindCoordinator to it says
coordinator() {
	X=$(group_coordinator "$GROUP" "$O")
	case $X in "$O" | "$K") ;; *) return 1 ;; esac
	C=$X && stable 2 "$O" "$K"
}
check "the members meet at the next coordinator" poll 40 coordinator
ok "broker $C coordinates $GROUP now"
cp "$MQ_TMP/r$O.2" "$MQ_TMP/r$O.2.seen" 2>/dev/null
write_batch e 5
all_read_e() {
	[ "$(cat "$MQ_TMP/r$O.2" "$MQ_TMP/r$K.2" | grep '^e-' | sort -u | wc -l)" = "$((NP * 5))" ]
}
check "batch e: every record read by the two members" poll 40 all_read_e

mq_done
