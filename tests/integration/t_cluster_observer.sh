#!/bin/sh
# t_cluster_observer.sh — reads on the mount of a broker that holds no
# replica of a partition, through its read copy (observer): ZooKeeper and
# three brokers, topics of one partition with two replicas, so that one
# broker (O) holds none. cat, head, wc, dd and stat on O's mount give the
# same bytes and st_size as on the leader's; a write through O's mount is
# read back there as soon as it returns; tail -f on O's mount sees records
# written through another mount; st_size there never decreases; the copy
# follows the new leader after a kill -9 of the old one; a consumer group
# that O coordinates reads the partition through the copy and a waiting
# consume read wakes when a record reaches it; an idle copy is
# deleted after observer.idle.ms; rmdir deletes the copy with the topic;
# and with no leader reachable a read on O's mount fails with ETIMEDOUT,
# with a log line naming the leader.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
default.replication.factor=2
min.insync.replicas=1
request.timeout.ms=5000
observer.idle.ms=2000"
zk_cluster_start
cluster_start3

# field MNT TOPIC N: field N of partition 0's row of TOPIC/.state
# (partition, log start, hw, leo, leader, leader epoch, replicas, isr).
field() {
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
listed() {
	timeout 5 ls "$1" 2>/dev/null | grep -qx "$2"
}
leader_is() {
	[ "$(field "$1" "$2" 5)" = "$3" ]
}
size_of() {
	timeout 5 stat -c %s "$1" 2>/dev/null
}
same_size() {
	[ -n "$(size_of "$1")" ] && [ "$(size_of "$1")" = "$(size_of "$2")" ]
}
# mk TOPIC: makes TOPIC through mnt1; sets L (leader), R (the other
# replica) and O (the broker without a replica).
mk() {
	expect_ok "mkdir mnt1/$1" mkdir "$MQ_TMP/mnt1/$1"
	for n in 2 3; do
		check "$1 is listed on mnt$n" poll 20 listed "$MQ_TMP/mnt$n" "$1"
	done
	roles2 "$1"
	for n in 1 2 3; do
		check "mnt$n knows $1's leader $L" poll 20 leader_is "$MQ_TMP/mnt$n" "$1" "$L"
	done
}

# ---- reads on the mount without a replica ---------------------------------
mk d
DL=$L
DO=$O
for i in 1 2 3 4 5 6; do
	echo "d-rec-$i" >>"$MQ_TMP/mnt$DL/d/0"
done
expect_eq "mnt$DO: no log of d-0 in its data directory" "no" \
	"$(test -e "$MQ_TMP/b$DO/data/d-0" && echo yes || echo no)"
check "cat on mnt$DO (no replica) reads the leader's bytes" \
	same_file "$MQ_TMP/mnt$DO/d/0" "$MQ_TMP/mnt$DL/d/0"
expect_eq "cat on mnt$DO: the records" "d-rec-1 d-rec-6" \
	"$(timeout 10 cat "$MQ_TMP/mnt$DO/d/0" | sed -n '1p;$p' | paste -sd' ' -)"
expect_eq "head -n 2 on mnt$DO" "$(timeout 10 head -n 2 "$MQ_TMP/mnt$DL/d/0")" \
	"$(timeout 10 head -n 2 "$MQ_TMP/mnt$DO/d/0")"
expect_eq "wc on mnt$DO" "$(timeout 10 wc -lc <"$MQ_TMP/mnt$DL/d/0")" \
	"$(timeout 10 wc -lc <"$MQ_TMP/mnt$DO/d/0")"
expect_eq "dd at a byte offset on mnt$DO" \
	"$(timeout 10 dd if="$MQ_TMP/mnt$DL/d/0" bs=1 skip=10 count=20 2>/dev/null)" \
	"$(timeout 10 dd if="$MQ_TMP/mnt$DO/d/0" bs=1 skip=10 count=20 2>/dev/null)"
expect_eq "st_size on mnt$DO is the leader's" "$(size_of "$MQ_TMP/mnt$DL/d/0")" \
	"$(size_of "$MQ_TMP/mnt$DO/d/0")"
expect_ok "the copy lives in .observers of mnt$DO's data" test -d "$MQ_TMP/b$DO/data/.observers/d-0"
expect_ok "root .state on mnt$DO lists the observer" \
	grep -q "^observer d-0: leader $DL " "$MQ_TMP/mnt$DO/.state"
expect_ok ".metrics on mnt$DO counts it" grep -q '^mqfs_observers 1$' "$MQ_TMP/mnt$DO/.metrics"

# A write through the mount without a replica (forwarded) reads back there
# as soon as write() returns.
ok_back=yes
for i in 1 2 3 4 5; do
	echo "d-back-$i" >>"$MQ_TMP/mnt$DO/d/0" || ok_back="write $i failed"
	[ "$(timeout 10 tail -n 1 "$MQ_TMP/mnt$DO/d/0")" = "d-back-$i" ] || ok_back="d-back-$i not read back"
done
expect_eq "writes on mnt$DO read back at once" "yes" "$ok_back"
# The same through a reader opened before the write: the write returns
# only once the copy it reads holds the record.
expect_eq "a reader already open on mnt$DO reads the write that returned" "d-open-1 d-open-2" \
	"$(timeout 20 sh -c 'exec 3<"$1"; cat <&3 >/dev/null
		for i in 1 2; do echo "d-open-$i" >>"$1" && cat <&3; done' sh "$MQ_TMP/mnt$DO/d/0" |
		paste -sd' ' -)"

# Idle: nothing open for observer.idle.ms, the copy goes.
gone() {
	! test -e "$MQ_TMP/b$DO/data/.observers/d-0" &&
		! grep -q "^observer d-0:" "$MQ_TMP/mnt$DO/.state"
}
check "idle copy of d-0 deleted on mnt$DO" poll 20 gone
expect_ok "the idle deletion is logged" grep -q "observer d-0: deleted (idle" "$LOG"
check "read again: a new copy, the same bytes" \
	same_file "$MQ_TMP/mnt$DO/d/0" "$MQ_TMP/mnt$DL/d/0"

# rmdir removes the copy with the topic (held open by a reader meanwhile).
mq_bg sh -c 'exec tail -s 0.2 -f "$1" >/dev/null 2>&1' sh "$MQ_TMP/mnt$DO/d/0"
check "d-0 observed on mnt$DO" poll 20 grep -q "^observer d-0:" "$MQ_TMP/mnt$DO/.state"
expect_ok "rmdir mnt1/d" rmdir "$MQ_TMP/mnt1/d"
obs_gone() {
	! test -e "$MQ_TMP/b$DO/data/.observers/d-0"
}
check "rmdir deleted the copy on mnt$DO" poll 20 obs_gone
expect_ok "its deletion is logged" grep -q "observer d-0: deleted (the topic was deleted)" "$LOG"
mq_stop "$MQ_LAST_PID"

# ---- a consumer group on a broker without a replica --------------------------
# The group's coordinator is O, which holds no replica of c: its consume
# reads go through the read copy, and a parked read wakes when a record
# written elsewhere reaches it.
mk c
CL=$L
CO=$O
for i in 1 2 3; do
	echo "c-rec-$i" >>"$MQ_TMP/mnt$CL/c/0"
done
check "a group coordinated by broker $CO" poll 40 group_coordinated_by "$CO" og
expect_ok "mkdir c/.groups/$G on mnt$CO" mkdir "$MQ_TMP/mnt$CO/c/.groups/$G"
expect_eq "consume of $G on mnt$CO (no replica of c-0) reads the records" "c-rec-1 c-rec-2 c-rec-3" \
	"$(timeout -k 5 "$MQ_TIMEOUT" head -n 3 "$MQ_TMP/mnt$CO/c/.groups/$G/consume" | paste -sd' ' -)"
# A member that gets the three again (nothing was committed: head read
# them in one read and closed) and then waits for the fourth.
mq_bg sh -c 'exec stdbuf -oL head -n 4 "$1" >"$2"' sh "$MQ_TMP/mnt$CO/c/.groups/$G/consume" "$MQ_TMP/consume.out"
CPID=$MQ_LAST_PID
three() {
	[ "$(wc -l <"$MQ_TMP/consume.out")" -ge 3 ]
}
check "the consume reader has the three records and waits" poll 20 three
echo "c-rec-4" >>"$MQ_TMP/mnt$CL/c/0"
check "the waiting consume read on mnt$CO gets c-rec-4" mq_wait "$CPID" 20
expect_eq "what it read" "c-rec-1 c-rec-2 c-rec-3 c-rec-4" "$(paste -sd' ' - <"$MQ_TMP/consume.out")"
expect_ok "the copy stays pinned for the group" grep -q "^observer c-0: .* open_files [1-9]" \
	"$MQ_TMP/mnt$CO/.state"

# ---- tail -f, st_size, failover --------------------------------------------
mk t
echo "t-first" >>"$MQ_TMP/mnt$L/t/0"
mq_bg sh -c 'exec tail -s 0.2 -f "$1" >"$2" 2>&1' sh "$MQ_TMP/mnt$O/t/0" "$MQ_TMP/tail.out"
TAILPID=$MQ_LAST_PID
check "tail -f on mnt$O prints the first record" poll 20 grep -qx t-first "$MQ_TMP/tail.out"
prev=0
sizes_ok=yes
for i in 1 2 3 4 5 6 7 8; do
	echo "t-rec-$i" >>"$MQ_TMP/mnt$R/t/0"
	s=$(size_of "$MQ_TMP/mnt$O/t/0")
	[ "${s:-0}" -ge "$prev" ] || sizes_ok="st_size went from $prev to $s"
	prev=${s:-0}
done
expect_eq "st_size on mnt$O never decreases while records come" "yes" "$sizes_ok"
check "tail -f on mnt$O sees the records written on mnt$R" poll 20 grep -qx t-rec-8 "$MQ_TMP/tail.out"
check "st_size on mnt$O equals the leader's" poll 20 same_size "$MQ_TMP/mnt$O/t/0" "$MQ_TMP/mnt$L/t/0"
size_before=$(size_of "$MQ_TMP/mnt$O/t/0")

eval "LPID=\$PID$L"
mq_kill9 "$MQ_TMP/mnt$L" "$LPID"
expect_eq "kill -9 of the leader, broker $L" "137" "$MQ_RC"
check "mnt$O knows the new leader $R" poll 30 leader_is "$MQ_TMP/mnt$O" t "$R"
echo "t-after-failover" >>"$MQ_TMP/mnt$R/t/0"
expect_eq "write on the new leader's mount" "0" "$?"
check "tail -f on mnt$O goes on after the failover" poll 20 grep -qx t-after-failover "$MQ_TMP/tail.out"
check "mnt$O reads the new leader's bytes" same_file "$MQ_TMP/mnt$O/t/0" "$MQ_TMP/mnt$R/t/0"
s=$(size_of "$MQ_TMP/mnt$O/t/0")
expect_ok "st_size on mnt$O grew across the failover ($size_before -> $s)" test "$s" -gt "$size_before"
expect_ok "the copy follows broker $R (logged)" grep -q "observer t-0: following broker $R" "$LOG"
mq_stop "$TAILPID"

# ---- no leader reachable ----------------------------------------------------
# The only live replica stopped: the copy cannot learn the leader's high
# watermark, and a new reader is refused after request.timeout.ms.
eval "RPID=\$PID$R"
stop_broker "$RPID"
expect_errno "cat on mnt$O with the leader unreachable" ETIMEDOUT cat "$MQ_TMP/mnt$O/t/0"
expect_ok "the refusal is logged with the leader" \
	grep -q "observer t-0: leader broker .* unreachable .*read refused with ETIMEDOUT" "$LOG"
kill -CONT "$RPID"

mq_done
