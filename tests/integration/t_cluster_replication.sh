#!/bin/sh
# t_cluster_replication.sh — a topic replicated over three brokers end to
# end: ZooKeeper and three brokers on loopback with SASL and mounts;
# mkdir on mnt1 with replication factor 3 shows the topic on mnt2 and mnt3
# with three replicas in the ISR; records written on the leader's mount
# appear on all three mounts; the three brokers' segment files of the
# partition are byte-identical once the high watermark covers the writes;
# kill -9 of the leader: a new leader from the ISR within the session
# timeout and a margin, every acknowledged record still there on the
# survivors, writes go on; the dead broker restarted rejoins the ISR and
# catches up byte for byte. (Writes on a mount whose broker does not lead
# the partition: t_cluster_forward.sh.) Along the way, root .state and
# .metrics: the controller and its epoch, replica fetch bytes on both
# sides, under-replicated
# partitions and ISR shrinks/expands around a SIGSTOPped follower, an
# election counted for the leader's kill -9, and st_size of a follower's
# mount polled across the kill never going down; the restarted broker
# says (and rewrites its registration) when it is eligible as leader again.
# A second cat of a replicated partition file is the page cache's, but not
# once its topic allows an unclean leader election.
# A clean stop of the leader while a writer on another mount writes
# through it: the new leader leads, and both followers (the stopping
# broker one of them) are told, before the stopping broker closes its
# session; no acks=all write is held until request.timeout.ms; every
# write acknowledged through the stop is on the new leader once; the
# stopped broker, started again with replica.fetch.max.bytes=0, rejoins
# the ISR.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

SESSION_MS=6000
CLUSTER_SESSION_MS=$SESSION_MS
CLUSTER_CONF="replica.lag.time.max.ms=10000
num.partitions=1"
zk_cluster_start

cluster_start3

# row MNT: partition 0's row of orders/.state (fields: partition, log start,
# hw, leo, leader, leader epoch, replicas, isr, ...).
row() {
	timeout 5 awk '$1 == "0"' "$1/orders/.state" 2>/dev/null
}
field() {
	row "$1" | awk -v f="$2" '{ print $f }'
}
# set_of TEXT: "[3,1,2]" -> "1,2,3" (the controller keeps assignment order).
set_of() {
	echo "$1" | tr -d '[]' | tr ',' '\n' | sort -n | paste -sd, -
}
isr_is() {
	[ "$(set_of "$(field "$1" 8)")" = "$2" ]
}

cluster_mkdir orders
check "mnt1: three replicas in the ISR" poll 20 isr_is "$MQ_TMP/mnt1" "1,2,3"
expect_eq "mnt1: replicas" "1,2,3" "$(set_of "$(field "$MQ_TMP/mnt1" 7)")"
L=$(field "$MQ_TMP/mnt1" 5)
case $L in 1|2|3) ok "a leader: broker $L" ;; *) fail "a leader" "leader '$L'"; mq_done ;; esac
F=$((L % 3 + 1))
G=$((F % 3 + 1))

# metric MNT NAME: the value of an unlabelled metric in MNT/.metrics.
metric() {
	timeout 5 awk -v n="$2" '$1 == n { print $2 }' "$1/.metrics" 2>/dev/null
}
metric_is() {
	[ "$(metric "$1" "$2")" = "$3" ]
}
metric_above() {
	_v=$(metric "$1" "$2")
	[ -n "$_v" ] && [ "$_v" -gt "$3" ]
}
state_key() {
	timeout 5 awk -F= -v k="$2" '$1 == k { print $2 }' "$1/.state" 2>/dev/null
}
C=$(state_key "$MQ_TMP/mnt$L" controller)
case $C in 1|2|3) ok "root .state: controller $C" ;; *) fail "root .state: controller" "'$C'" ;; esac
CE=$(state_key "$MQ_TMP/mnt$C" controller.epoch)
case $CE in ''|*[!0-9]*|0) fail "root .state: controller.epoch" "'$CE'" ;; *) ok "root .state: controller.epoch $CE" ;; esac
for n in 1 2 3; do
	[ "$(state_key "$MQ_TMP/mnt$n" controller.epoch)" = "$CE" ] ||
		fail "mnt$n/.state: controller.epoch $CE" "$(state_key "$MQ_TMP/mnt$n" controller.epoch)"
done
expect_eq "mnt$C/.metrics: no offline partitions" "0" "$(metric "$MQ_TMP/mnt$C" mqfs_offline_partitions)"
expect_eq "mnt$L/.metrics: no under-replicated partitions" "0" \
	"$(metric "$MQ_TMP/mnt$L" mqfs_under_replicated_partitions)"

# ---- writes on the leader's mount ---------------------------------------
for i in 1 2 3 4 5; do
	printf 'rec-%s\n' "$i" >>"$MQ_TMP/mnt$L/orders/0" || fail "write rec-$i on mnt$L" "$?"
done
ok "five acks=all writes on mnt$L acknowledged"
printf 'rec-1\nrec-2\nrec-3\nrec-4\nrec-5\n' >"$MQ_TMP/want5"
has5() {
	timeout 5 cat "$1/orders/0" 2>/dev/null >"$MQ_TMP/got" && cmp -s "$MQ_TMP/got" "$MQ_TMP/want5"
}
for n in 1 2 3; do
	check "mnt$n shows the five records" poll 20 has5 "$MQ_TMP/mnt$n"
done
hw_is() {
	[ "$(field "$1" 3)" = "$2" ]
}
for n in 1 2 3; do
	check "mnt$n: hw 5" poll 20 hw_is "$MQ_TMP/mnt$n" 5
done
# The segment files themselves, once every replica's hw covers them. A
# running broker writes a segment's .lines entries in blocks (the line
# positions are in memory first): while running, one .lines is a prefix of
# the other; after a clean stop they are the same bytes.
# prefix A B: the shorter of the two files is a prefix of the longer.
prefix() {
	_pa=$(stat -c %s "$1") _pb=$(stat -c %s "$2")
	cmp -s -n "$((_pa < _pb ? _pa : _pb))" "$1" "$2"
}
# same_files [running]: the partition's segment files of broker L against
# F and G.
same_files() {
	for f in "$MQ_TMP/b$L/data/orders-0/"*; do
		case $f in *.log|*.index|*.timeindex|*.lines) ;; *) continue ;; esac
		b=$(basename "$f")
		for o in $F $G; do
			g=$MQ_TMP/b$o/data/orders-0/$b
			case "$1:$b" in
			running:*.lines) prefix "$f" "$g" && continue ;;
			*) cmp -s "$f" "$g" && continue ;;
			esac
			echo "# $b differs between b$L and b$o" >>"$LOG"
			return 1
		done
	done
	return 0
}
check "the three replicas' segment files are byte-identical (.lines: one a prefix while running)" poll 30 same_files running
LOGBYTES=$(field "$MQ_TMP/mnt$L" 9) # size_bytes: the batches, not the preallocated file
for n in $F $G; do
	check "mnt$n/.metrics: the follower fetched the leader's $LOGBYTES log bytes" \
		poll 30 metric_is "$MQ_TMP/mnt$n" mqfs_replica_fetch_bytes_in_total "$LOGBYTES"
	check "mnt$n/.metrics: in Fetch requests it counted" \
		metric_above "$MQ_TMP/mnt$n" mqfs_replica_fetch_requests_total 0
done
check "mnt$L/.metrics: the leader served them to both" \
	metric_above "$MQ_TMP/mnt$L" mqfs_replica_fetch_bytes_out_total "$((2 * LOGBYTES - 1))"

# write_errno MNT/FILE LINE: the errno name of one write(2), or "written".
write_errno() {
	python3 - "$1" "$2" <<'EOF'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, (sys.argv[2] + "\n").encode())
    print("written")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
EOF
}
# ---- kill -9 of the leader ------------------------------------------------
# elections A B: the leader elections counted by brokers A and B together
# (the controller's counter; a new controller starts from 0).
elections() {
	echo $(($(metric "$MQ_TMP/mnt$1" mqfs_leader_elections_total) + \
		$(metric "$MQ_TMP/mnt$2" mqfs_leader_elections_total)))
}
E0=$(elections "$F" "$G")
# A reader on a follower's mount polls st_size through the failover: it
# never goes down.
watch_size() {
	_prev=0
	while [ -d "$MQ_TMP" ] && [ ! -e "$MQ_TMP/watch.stop" ]; do
		_s=$(stat -c %s "$1" 2>/dev/null) || _s=$_prev
		[ "$_s" -lt "$_prev" ] && echo "st_size $_prev -> $_s" >>"$MQ_TMP/watch.bad"
		[ "$_s" -gt "$_prev" ] && _prev=$_s
		echo "$_prev" >"$MQ_TMP/watch.last"
		sleep 0.05
	done
}
mq_bg watch_size "$MQ_TMP/mnt$F/orders/0"
WATCH=$MQ_LAST_PID
eval "LPID=\$PID$L"
mq_kill9 "$MQ_TMP/mnt$L" "$LPID"
new_leader() {
	l=$(field "$MQ_TMP/mnt$F" 5)
	[ -n "$l" ] && [ "$l" != "$L" ] && [ "$l" != "-1" ]
}
t0=$(date +%s)
check "a new leader within the session timeout and a margin" poll $((SESSION_MS / 1000 + 20)) new_leader
echo "# new leader after $(($(date +%s) - t0)) s" >>"$LOG"
N=$(field "$MQ_TMP/mnt$F" 5)
for n in $F $G; do
	check "mnt$n still shows the five acknowledged records" poll 30 has5 "$MQ_TMP/mnt$n"
done
check "ISR of the survivors" poll 20 isr_is "$MQ_TMP/mnt$N" "$(echo "$F $G" | tr ' ' '\n' | sort -n | paste -sd, -)"
printf 'rec-6\n' >>"$MQ_TMP/mnt$N/orders/0"
expect_eq "a write on the new leader (min.insync.replicas=2, two in sync)" "0" "$?"
elected() {
	[ "$(elections "$F" "$G")" -gt "$E0" ]
}
check "the controller counted the election (mqfs_leader_elections_total)" poll 30 elected
check "mqfs_replica_leadership_changes_total on the new leader" \
	metric_above "$MQ_TMP/mnt$N" mqfs_replica_leadership_changes_total 0
size_past() {
	[ "$(cat "$MQ_TMP/watch.last" 2>/dev/null)" -ge "$1" ]
}
check "mnt$F's st_size reaches the sixth record" poll 20 size_past 36
touch "$MQ_TMP/watch.stop"
mq_wait "$WATCH" 10
if [ -e "$MQ_TMP/watch.bad" ]; then
	fail "st_size on mnt$F never went down across the failover" "$(cat "$MQ_TMP/watch.bad")"
else
	ok "st_size on mnt$F never went down across the failover"
fi

# ---- a follower stops fetching: out of the ISR, min.insync.replicas -------
O=$F
[ "$O" = "$N" ] && O=$G
eval "OPID=\$PID$O"
S0=$(metric "$MQ_TMP/mnt$N" mqfs_isr_shrinks_total)
X0=$(metric "$MQ_TMP/mnt$N" mqfs_isr_expands_total)
check "follower $O frozen (SIGSTOP)" stop_broker "$OPID"
check "a stopped follower leaves the ISR after replica.lag.time.max.ms" \
	poll 30 isr_is "$MQ_TMP/mnt$N" "$N"
expect_eq "mnt$N/.metrics: one under-replicated partition" "1" \
	"$(metric "$MQ_TMP/mnt$N" mqfs_under_replicated_partitions)"
expect_eq "mnt$N/.metrics: ISR shrinks + 1" "$((S0 + 1))" "$(metric "$MQ_TMP/mnt$N" mqfs_isr_shrinks_total)"
expect_eq "mnt$N/.state: partitions.under_replicated=1" "1" \
	"$(state_key "$MQ_TMP/mnt$N" partitions.under_replicated)"
expect_eq "acks=all with one in-sync replica of min.insync.replicas=2: EAGAIN" "EAGAIN" \
	"$(write_errno "$MQ_TMP/mnt$N/orders/0" refused)"
kill -CONT "$OPID"
check "it rejoins once it fetches again" \
	poll 30 isr_is "$MQ_TMP/mnt$N" "$(echo "$F $G" | tr ' ' '\n' | sort -n | paste -sd, -)"
expect_eq "mnt$N/.metrics: ISR expands + 1" "$((X0 + 1))" "$(metric "$MQ_TMP/mnt$N" mqfs_isr_expands_total)"

# ---- the dead broker comes back ---------------------------------------------
broker_start "$L"
printf 'rec-1\nrec-2\nrec-3\nrec-4\nrec-5\nrec-6\n' >"$MQ_TMP/want6"
has6() {
	timeout 5 cat "$1/orders/0" 2>/dev/null >"$MQ_TMP/got6" && cmp -s "$MQ_TMP/got6" "$MQ_TMP/want6"
}
in_isr3() {
	isr_is "$MQ_TMP/mnt$N" "1,2,3"
}
check "the restarted broker rejoins the ISR" poll 40 in_isr3
check "and shows all six records" poll 20 has6 "$MQ_TMP/mnt$L"
# Restarted without a clean shutdown, it may lead again only once it knows
# it is back in the ISR (the controller's UpdateMetadata).
eligible() {
	! timeout 5 grep -q "not eligible as leader" "$MQ_TMP/mnt$L/orders/.state"
}
check "and is eligible as leader again" poll 20 eligible
expect_eq "mnt$N/.metrics: no under-replicated partition with all three back" "0" \
	"$(metric "$MQ_TMP/mnt$N" mqfs_under_replicated_partitions)"
check "its registration no longer names orders-0 as ineligible" \
	poll 20 grep -q "orders-0: eligible as leader again (caught up); the registration says so" "$LOG"
check "the registration was rewritten" poll 20 grep -q "broker $L: registration rewritten, 0 partitions" "$LOG"
L2=$L
L=$N
F=$(( (N % 3) + 1 ))
G=$(( (F % 3) + 1 ))
check "after the rejoin, segment files byte-identical while running" poll 20 same_files running
# ---- rmdir on any broker deletes the topic everywhere ----------------------
expect_ok "mkdir mnt$F/doomed" mkdir "$MQ_TMP/mnt$F/doomed"
for n in 1 2 3; do
	check "doomed is listed on mnt$n" poll 20 listed "$MQ_TMP/mnt$n" doomed
done
# A second cat of a partition file is the page cache's: no read reaches
# the daemon. Not on a topic that allows an unclean leader election, which
# may take records below the hw: there every read is the daemon's.
bytes_out() {
	timeout 5 awk '$1 == "mqfs_bytes_out_total{topic=\"doomed\"}" { print $2 }' \
		"$1/.metrics" 2>/dev/null
}
# cat_reads N: the bytes the daemon of mnt$N returned for one cat of
# mnt$N/doomed/0 (0: all from the page cache).
cat_reads() {
	_r1=$(bytes_out "$MQ_TMP/mnt$1")
	timeout 5 cat "$MQ_TMP/mnt$1/doomed/0" >/dev/null
	_r2=$(bytes_out "$MQ_TMP/mnt$1")
	echo "$((_r2 - _r1))"
}
has_doomed() {
	[ "$(timeout 5 cat "$MQ_TMP/mnt$1/doomed/0" 2>/dev/null)" = "d-1" ]
}
cfg_unclean() {
	timeout 5 grep -qx 'unclean.leader.election.enable=true' "$MQ_TMP/mnt$1/doomed/.config"
}
expect_ok "a record in doomed" sh -c "echo d-1 >> '$MQ_TMP/mnt$F/doomed/0'"
check "mnt$F shows it" poll 20 has_doomed "$F"
expect_eq "mnt$F: a second cat is the page cache's" "0" "$(cat_reads "$F")"
expect_ok "doomed allows an unclean leader election" \
	sh -c "echo unclean.leader.election.enable=true > '$MQ_TMP/mnt$F/doomed/.config'"
check "mnt$F/doomed/.config says so" poll 20 cfg_unclean "$F"
cat "$MQ_TMP/mnt$F/doomed/0" >/dev/null
check "mnt$F: then a second cat is read by the daemon" test "$(cat_reads "$F")" -gt 0
expect_ok "rmdir mnt$G/doomed" rmdir "$MQ_TMP/mnt$G/doomed"
gone() {
	! listed "$MQ_TMP/mnt$1" doomed && [ ! -e "$MQ_TMP/b$1/data/doomed-0" ]
}
for n in 1 2 3; do
	check "doomed is gone from mnt$n and its data directory" poll 20 gone "$n"
done
check "orders is still there" listed "$MQ_TMP/mnt$L" orders

# ---- clean stops: the leader first, its leadership moved before it goes ----
# A writer on F's mount (forwarded to the leader N while N leads) writes
# one record at a time through the stop; acknowledged ones are noted.
: >"$MQ_TMP/cs.acked"
cs_writer() {
	i=0
	while [ ! -e "$MQ_TMP/cs.stop" ]; do
		i=$((i + 1))
		printf 'cs-%d\n' "$i" >>"$1" 2>/dev/null && echo "cs-$i" >>"$MQ_TMP/cs.acked"
	done
}
mq_bg cs_writer "$MQ_TMP/mnt$F/orders/0"
CSW=$MQ_LAST_PID
acked_some() {
	[ "$(wc -l <"$MQ_TMP/cs.acked")" -ge "$1" ]
}
check "the writer on mnt$F has writes acknowledged" poll 20 acked_some 3
start_line=$(wc -l <"$LOG")
eval "p=\$PID$N"
mq_umount "$MQ_TMP/mnt$N" "$p" && ok "clean stop of the leader, broker $N"
n0=$(wc -l <"$MQ_TMP/cs.acked")
check "writes acknowledged after the stop" poll 30 acked_some $((n0 + 3))
: >"$MQ_TMP/cs.stop"
mq_wait "$CSW" 30 || fail "the writer on mnt$F stops" "still running"
check "the controller moved its leadership (controlled shutdown)" \
	grep -q "controlled shutdown of broker $N" "$LOG"
moved() {
	l=$(field "$MQ_TMP/mnt$F" 5)
	[ -n "$l" ] && [ "$l" != "$N" ] && [ "$l" != "-1" ]
}
check "another broker leads" poll 30 moved
# The order in the shared log, from the stop on: the new leader leads
# (the first election after the stop, in epoch E2), and both followers
# (the stopping broker one of them) heard of it, before the stopping
# broker closed its session and exited.
tail -n +"$((start_line + 1))" "$LOG" >"$MQ_TMP/cs.log"
line_of() {
	grep -n -m 1 -e "$1" "$MQ_TMP/cs.log" | cut -d: -f1
}
closed=$(line_of "broker $N: ZooKeeper session closed")
led=$(line_of "orders-0: leader in epoch [0-9]*,")
E2=$(sed -n 's/.*orders-0: leader in epoch \([0-9]*\),.*/\1/p' "$MQ_TMP/cs.log" | head -n 1)
told=$(head -n "${closed:-0}" "$MQ_TMP/cs.log" | grep -c "orders-0: follower of broker [0-9]* in epoch $E2\$")
if [ -n "$closed" ] && [ -n "$led" ] && [ "$led" -lt "$closed" ]; then
	ok "orders-0 had a new leader (epoch $E2) before broker $N closed its session"
else
	fail "the new leader before the stopping broker's exit" "leader line ${led:-none}, session closed line ${closed:-none}: $(grep -n -e 'orders-0: ' -e 'session closed' -e 'controlled shutdown' "$MQ_TMP/cs.log" | head -n 20)"
fi
expect_eq "both followers, the stopping broker one, told before it exited" "2" "$told"
# The stopping broker follows nothing: caught up as it is, it would be
# taken back into the new leader's ISR and hold its acks=all writes.
expect_eq "the stopping broker was not taken back into the ISR" "0" \
	"$(head -n "${closed:-0}" "$MQ_TMP/cs.log" | grep -c "orders-0: ISR now of 3 replicas")"
# The stopping broker acknowledged no acks=all write after it gave the
# leadership up, and held none until request.timeout.ms: a waiter still
# there was refused (NOT_LEADER_OR_FOLLOWER) and sent to the new leader.
if grep -q "appended but not committed" "$MQ_TMP/cs.log"; then
	fail "no acks=all write held until request.timeout.ms" "$(grep -m 1 "appended but not committed" "$MQ_TMP/cs.log")"
else
	ok "no acks=all write held until request.timeout.ms"
fi
once_each() {
	timeout 5 cat "$MQ_TMP/mnt$1/orders/0" >"$MQ_TMP/cs.all" 2>/dev/null || return 1
	grep '^cs-' "$MQ_TMP/cs.all" | sort >"$MQ_TMP/cs.have"
	[ -z "$(uniq -d "$MQ_TMP/cs.have")" ] || return 1
	sort "$MQ_TMP/cs.acked" | comm -23 - "$MQ_TMP/cs.have" >"$MQ_TMP/cs.missing"
	[ ! -s "$MQ_TMP/cs.missing" ]
}
L3=$(field "$MQ_TMP/mnt$F" 5)
check "every write acknowledged through the stop is on mnt$L3 once" poll 20 once_each "$L3"
# The stopped broker started again with a changed setting, as in a
# rolling restart: replica.fetch.max.bytes=0, Kafka's lowest. The leader
# still sends a batch a Fetch (minOneMessage), so it catches up, rejoins
# the ISR and its mount reads what the leader's does.
echo "replica.fetch.max.bytes=0" >>"$MQ_TMP/b$N/server.properties"
broker_start "$N"
check "broker $N, back with replica.fetch.max.bytes=0, in the ISR again" \
	poll 60 isr_is "$MQ_TMP/mnt$L3" "1,2,3"
check "mnt$N reads orders/0 as the leader's mount" \
	poll 20 same_file "$MQ_TMP/mnt$N/orders/0" "$MQ_TMP/mnt$L3/orders/0"
for n in $N $F $G; do
	eval "p=\$PID$n"
	mq_umount "$MQ_TMP/mnt$n" "$p" && ok "clean stop of broker $n"
done
# The leader stopped first may keep a tail that was never committed
# (appended while it handed over): it truncates it when it starts again.
# The two others end byte-identical.
if [ "$L3" = "$F" ]; then O=$G; else O=$F; fi
[ "$L2" = "$N" ] && fail "the old leader is not the new one" "$N"
L=$L3
F=$O
G=$O
check "after clean stops, the survivors' segment files are byte-identical" same_files

mq_done
