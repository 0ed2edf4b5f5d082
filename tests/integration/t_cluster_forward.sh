#!/bin/sh
# t_cluster_forward.sh — writes on the mounts of brokers that do not lead
# the partition, forwarded to the leader: ZooKeeper and three SASL brokers
# with mounts, a topic of one partition with three replicas. echo on each
# follower's mount and on the leader's lands once, in write order, and
# every mount shows the same records at the same offsets (the same bytes
# of the partition file); the leader's .dump shows the forwarded batches
# with their broker's producer id and sequences. A follower's mount reads
# its own writes: stat and tail right after each 780 KB write through it
# show the write (its replica learns the hw a round trip later). Then a forwarded write
# in flight while the leader is killed (-9): one follower is stopped
# (SIGSTOP) so that the leader, which appended the write and whose other
# follower copied it, cannot commit it and answers nothing; the leader is
# killed, the stopped follower continued; the write (6000 records, more
# batches than a producer's state keeps one by one) is resent to the new
# leader, the follower that copied it, which answers it as sent before:
# it returns success, and its records are in the log once. Last,
# a forwarded write to a leader that is frozen (SIGSTOP), not dead: once
# the controller moved the leadership (the frozen broker's session
# expired) the write goes to the new leader and returns success, long
# before request.timeout.ms (120 s here) would end the wait
# (min.insync.replicas=1, so that the new leader alone commits it). Last,
# a forwarded write to a topic with message.timestamp.type=LogAppendTime.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# The follower stopped below must stay in the ISR while the test looks
# at the uncommitted write: neither its ZooKeeper session (the controller
# then drops it) nor replica.lag.time.max.ms may run out meanwhile, also
# on a loaded machine or under ASan.
SESSION_MS=15000
CLUSTER_SESSION_MS=$SESSION_MS
CLUSTER_CONF="replica.lag.time.max.ms=20000
request.timeout.ms=120000
num.partitions=1"
zk_cluster_start

cluster_start3

t_make3
for n in 1 2 3; do
	check "mnt$n knows leader $L" poll 20 sh -c "[ \"\$(timeout 5 awk '\$1 == \"0\" { print \$5 }' '$MQ_TMP/mnt$n/t/.state')\" = $L ]"
done

# ---- echo through every mount ----------------------------------------------
: >"$MQ_TMP/want"
i=0
for n in $F $G $L $F $G; do
	i=$((i + 1))
	echo "rec-$i via broker $n" >>"$MQ_TMP/mnt$n/t/0"
	expect_eq "echo rec-$i on mnt$n (leader: $L)" "0" "$?"
	echo "rec-$i via broker $n" >>"$MQ_TMP/want"
done
# .produce on a follower's mount: the partitioner's choice, forwarded too.
echo "rec-6 via .produce" >>"$MQ_TMP/mnt$G/t/.produce"
expect_eq "echo on mnt$G/t/.produce" "0" "$?"
echo "rec-6 via .produce" >>"$MQ_TMP/want"

shows() {
	timeout 5 cat "$1/t/0" >"$MQ_TMP/got.$2" 2>/dev/null && cmp -s "$MQ_TMP/got.$2" "$3"
}
for n in 1 2 3; do
	check "mnt$n shows the six records once, in write order" poll 20 shows "$MQ_TMP/mnt$n" "$n" "$MQ_TMP/want"
done
for n in 1 2 3; do
	check "mnt$n: hw 6 (the same offsets everywhere)" poll 20 sh -c "[ \"\$(timeout 5 awk '\$1 == \"0\" { print \$3 }' '$MQ_TMP/mnt$n/t/.state')\" = 6 ]"
done
# ---- read your own writes through a follower's mount -----------------------
# A write through a follower's mount returns once the leader committed it;
# that mount's next stat and tail show it (its replica learns the hw a
# fetch round trip later, up to 20 ms after a write of 64 KiB or more: the
# reads wait for it). Writes of 780 KB, one FUSE request each, to a topic
# of their own (rw).
cluster_mkdir rw
rw_state() {
	timeout 5 awk -v f="$2" '$1 == "0" { print $f }' "$MQ_TMP/mnt$1/rw/.state" 2>/dev/null
}
rw_isr3() {
	[ "$(rw_state 1 8 | tr -d '[]' | tr ',' '\n' | sort -n | paste -sd, -)" = "1,2,3" ]
}
check "rw: three in-sync replicas" poll 20 rw_isr3
RL=$(rw_state 1 5)
W=$((RL % 3 + 1))
miss=""
for i in 1 2 3 4 5 6; do
	awk -v i="$i" 'BEGIN { for (k = 0; k < 60000; k++) printf "big-%d-%06d\n", i, k }' \
		>"$MQ_TMP/big"
	before=$(stat -c %s "$MQ_TMP/mnt$W/rw/0")
	dd if="$MQ_TMP/big" of="$MQ_TMP/mnt$W/rw/0" bs=1M oflag=append conv=notrunc status=none ||
		miss="$miss dd-$i"
	after=$(stat -c %s "$MQ_TMP/mnt$W/rw/0")
	last=$(tail -n 1 "$MQ_TMP/mnt$W/rw/0")
	[ "$after" = $((before + $(stat -c %s "$MQ_TMP/big"))) ] || miss="$miss size-$i:$before->$after"
	[ "$last" = "$(printf 'big-%d-059999' "$i")" ] || miss="$miss tail-$i:$last"
done
expect_eq "mnt$W (leader $RL): stat and tail show each write through it once it returned" "" \
	"$miss"
echo "after-big" >>"$MQ_TMP/mnt$W/rw/0"
expect_eq "and a small one at once" "after-big" "$(tail -n 1 "$MQ_TMP/mnt$W/rw/0")"

# max.message.bytes below batch.size: ten lines of 500 bytes in one write
# through a mount that does not lead are cut into batches within the limit
# (one record each here), which the leader takes, as the leader's own
# mount cuts them: not one batch of 5 KiB, refused EMSGSIZE.
cluster_mkdir mb
expect_ok "mb: max.message.bytes=1000" sh -c "echo 'max.message.bytes=1000' > '$MQ_TMP/mnt1/mb/.config'"
for n in 1 2 3; do
	check "mnt$n: mb has max.message.bytes=1000" poll 20 \
		grep -q '^max.message.bytes=1000$' "$MQ_TMP/mnt$n/mb/.config"
done
check "mb: a leader" poll 20 sh -c "timeout 5 awk '\$1 == \"0\" { exit !(\$5 >= 1) }' '$MQ_TMP/mnt1/mb/.state'"
ML=$(timeout 5 awk '$1 == "0" { print $5 }' "$MQ_TMP/mnt1/mb/.state")
MW=$((ML % 3 + 1))
awk 'BEGIN { for (i = 0; i < 10; i++) { printf "%d-", i; for (j = 0; j < 498; j++) printf "m"; printf "\n" } }' \
	>"$MQ_TMP/ten"
expect_ok "mb: ten lines of 500 bytes in one write on mnt$MW (leader $ML)" \
	dd if="$MQ_TMP/ten" of="$MQ_TMP/mnt$MW/mb/0" bs=1M oflag=append conv=notrunc status=none
check "mb: mnt$MW reads them back" poll 20 sh -c "timeout 5 cat '$MQ_TMP/mnt$MW/mb/0' | cmp -s - '$MQ_TMP/ten'"

# The forwarded batches carry their broker's producer id and consecutive
# sequences from 0; the leader's own write has none.
timeout 5 cat "$MQ_TMP/mnt$L/t/.segments/0/00000000000000000000.dump" >"$MQ_TMP/dump" 2>/dev/null
sed 's/^/# /' "$MQ_TMP/dump" | head -40 >>"$LOG"
pids=$(grep -o 'producerId: -*[0-9]*' "$MQ_TMP/dump" | awk '{ print $2 }' | sort -u | paste -sd' ' -)
npid=$(echo "$pids" | tr ' ' '\n' | grep -vc '^-1$')
[ "$npid" -ge 2 ] && ok "forwarded batches carry producer ids ($pids)" ||
	fail "producer ids in .dump" "'$pids'"

# ---- a forwarded write in flight while the leader is killed ----------------
# G, which forwards, is the follower the controller elects next (the first
# of the replicas after L, in their order); F is the other. The write is
# 6000 records in one write() (dd bs=1M), 120 KB: about 8 batches of
# batch.size, more than the 5 batches of a producer the leader keeps one
# by one, so that the new leader G, which copied all of them, must know
# the whole write as its producer's to answer it as sent before.
G2=""
for r in $(t_field "$MQ_TMP/mnt$L" 7 | tr -d '[]' | tr ',' ' '); do
	[ "$r" = "$L" ] && continue
	if [ -z "$G2" ]; then G2=$r; else F=$r; fi
done
G=$G2
K=6000
T=$((6 + K))
eval "FPID=\$PID$F"
eval "LPID=\$PID$L"
leo_of() {
	timeout 5 awk '$1 == "0" { print $4 }' "$1/t/.state" 2>/dev/null
}
awk -v k="$K" 'BEGIN { for (i = 0; i < k; i++) printf "rec-7-%04d in flight\n", i }' \
	>"$MQ_TMP/rec7"
check "follower $F frozen (SIGSTOP)" stop_broker "$FPID"
# G forwards; L appends it, G copies it, F (stopped) holds the commit back.
(dd if="$MQ_TMP/rec7" of="$MQ_TMP/mnt$G/t/0" bs=1M oflag=append conv=notrunc status=none
	echo $? >"$MQ_TMP/rc7") &
WPID=$!
check "the leader appended the forwarded write" poll 20 sh -c "[ \"\$(timeout 5 awk '\$1 == \"0\" { print \$4 }' '$MQ_TMP/mnt$L/t/.state')\" = $T ]"
# G's own replica has it too (its LEO in the leader's follower lines).
g_has_it() {
	timeout 5 grep -q "^replica 0 $G: leo $T " "$MQ_TMP/mnt$L/t/.state"
}
check "its follower $G copied it (leo $T)" poll 20 g_has_it
[ -s "$MQ_TMP/rc7" ] && fail "the write is not answered while uncommitted" "rc $(cat "$MQ_TMP/rc7")" ||
	ok "the write is not answered while uncommitted (hw 6)"
mq_kill9 "$MQ_TMP/mnt$L" "$LPID"
kill -CONT "$FPID"
answered() {
	[ -s "$MQ_TMP/rc7" ]
}
check "the forwarded write returns once a new leader takes it" poll 60 answered
expect_eq "and succeeds" "0" "$(cat "$MQ_TMP/rc7" 2>/dev/null)"
wait "$WPID" 2>/dev/null
cat "$MQ_TMP/rec7" >>"$MQ_TMP/want"
for n in $F $G; do
	check "mnt$n shows rec-7's records exactly once, after the six" poll 30 shows "$MQ_TMP/mnt$n" "$n" "$MQ_TMP/want"
done
N=$(t_field "$MQ_TMP/mnt$G" 5)
expect_eq "the new leader is $G, which copied the write" "$G" "$N"
grep -q "sent again: answered with offset 6, not appended" "$LOG" &&
	ok "$G answered the write as sent before (all its batches)" ||
	fail "$G's log" "no line about the write sent again"
expect_eq "the new leader's log ends at $T" "$T" "$(leo_of "$MQ_TMP/mnt$N")"

# ---- a forwarded write to a frozen leader ---------------------------------
if [ "$N" = "$F" ]; then O=$G; else O=$F; fi
eval "NPID=\$PID$N"
check "mnt$O names leader $N" poll 30 sh -c "[ \"\$(timeout 5 awk '\$1 == \"0\" { print \$5 }' '$MQ_TMP/mnt$O/t/.state')\" = $N ]"
check "the ISR holds $N and $O" poll 30 t_isr_is "$MQ_TMP/mnt$O" "$(set_of "[$N,$O]")"
# With the leader frozen the ISR shrinks to $O alone: acks=all needs
# min.insync.replicas=1 to commit there (with 2: EAGAIN, nothing taken).
echo "min.insync.replicas=1" >"$MQ_TMP/mnt$O/t/.config"
expect_eq "min.insync.replicas=1 for t" "0" "$?"
check "mnt$O's t/.config shows it" poll 20 grep -qx "min.insync.replicas=1" "$MQ_TMP/mnt$O/t/.config"
# A write forwarded from $O to $N first: $O then holds a connection to $N
# (as any broker forwarding to a leader does), on which the next write
# goes out and waits, instead of a new connection that would fail.
echo "rec-8 before the freeze" >>"$MQ_TMP/mnt$O/t/0"
expect_eq "echo rec-8 on mnt$O, forwarded to $N" "0" "$?"
echo "rec-8 before the freeze" >>"$MQ_TMP/want"
check "leader $N frozen (SIGSTOP)" stop_broker "$NPID"
rm -f "$MQ_TMP/rc8"
(echo "rec-9 to a frozen leader" >>"$MQ_TMP/mnt$O/t/0"; echo $? >"$MQ_TMP/rc8") &
WPID=$!
answered8() {
	[ -s "$MQ_TMP/rc8" ]
}
# The frozen broker's session (15 s) expires, the controller makes $O
# leader; the wait ends then, not at request.timeout.ms (120 s).
check "the write to the frozen leader returns once $O leads" poll 80 answered8
expect_eq "and succeeds" "0" "$(cat "$MQ_TMP/rc8" 2>/dev/null)"
wait "$WPID" 2>/dev/null
kill -CONT "$NPID"
echo "rec-9 to a frozen leader" >>"$MQ_TMP/want"
check "mnt$O shows rec-8 and rec-9 exactly once, after the seven" poll 30 shows "$MQ_TMP/mnt$O" "$O" "$MQ_TMP/want"
grep -q "no longer leads it and has not answered" "$LOG" &&
	ok "broker $O logged that it sent the write to the new leader" ||
	fail "broker $O's log" "no line about the frozen leader"

# message.timestamp.type=LogAppendTime: a forwarded write's batches are
# CreateTime, as a Kafka client's, and the leader stamps them (it refuses a
# batch a producer marked LogAppendTime, INVALID_TIMESTAMP, as Kafka does).
echo "message.timestamp.type=LogAppendTime" >"$MQ_TMP/mnt$O/t/.config"
expect_eq "message.timestamp.type=LogAppendTime for t" "0" "$?"
check "mnt$N's t/.config shows it" poll 30 grep -qx "message.timestamp.type=LogAppendTime" "$MQ_TMP/mnt$N/t/.config"
echo "rec-10 stamped by the leader" >>"$MQ_TMP/mnt$N/t/0"
expect_eq "echo rec-10 on mnt$N, forwarded to $O" "0" "$?"
echo "rec-10 stamped by the leader" >>"$MQ_TMP/want"
check "mnt$O shows rec-10 once, last" poll 30 shows "$MQ_TMP/mnt$O" "$O" "$MQ_TMP/want"

mq_done
