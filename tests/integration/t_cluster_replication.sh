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
# catches up byte for byte. A write on a mount whose broker does not lead
# the partition is refused with EREMOTE (no forwarding yet), nothing
# appended.

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

start() {
	MQ_MOUNT_WAIT=40 mq_mount_cmd "$MQ_TMP/mnt$1" "$MQFS" -f --config "$MQ_TMP/b$1/server.properties" "$MQ_TMP/mnt$1"
	eval "PID$1=\$MQ_PID"
}

for n in 1 2 3; do
	eval "PORT$n=\$(zk_free_port)"
	eval "conf $n \$PORT$n"
	start "$n"
done

for n in 1 2 3; do
	check "mnt$n: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 3
done

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
listed_as() {
	timeout 5 ls "$1" 2>/dev/null | grep -qx "$2"
}
listed() {
	listed_as "$1" orders
}

expect_ok "mkdir mnt1/orders" mkdir "$MQ_TMP/mnt1/orders"
for n in 2 3; do
	check "orders is listed on mnt$n" poll 20 listed "$MQ_TMP/mnt$n"
done
check "mnt1: three replicas in the ISR" poll 20 isr_is "$MQ_TMP/mnt1" "1,2,3"
expect_eq "mnt1: replicas" "1,2,3" "$(set_of "$(field "$MQ_TMP/mnt1" 7)")"
L=$(field "$MQ_TMP/mnt1" 5)
case $L in 1|2|3) ok "a leader: broker $L" ;; *) fail "a leader" "leader '$L'"; mq_done ;; esac
F=$((L % 3 + 1))
G=$((F % 3 + 1))

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
check "the three replicas' segment files are byte-identical (.lines: one a prefix while running)" poll 10 same_files running

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
# A broker that does not lead refuses the write (no forwarding yet).
expect_eq "a write on a follower's mount: EREMOTE" "EREMOTE" \
	"$(write_errno "$MQ_TMP/mnt$F/orders/0" elsewhere)"
check "nothing appended there" poll 5 has5 "$MQ_TMP/mnt$F"

# ---- kill -9 of the leader ------------------------------------------------
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
	check "mnt$n still shows the five acknowledged records" poll 10 has5 "$MQ_TMP/mnt$n"
done
check "ISR of the survivors" poll 20 isr_is "$MQ_TMP/mnt$N" "$(echo "$F $G" | tr ' ' '\n' | sort -n | paste -sd, -)"
printf 'rec-6\n' >>"$MQ_TMP/mnt$N/orders/0"
expect_eq "a write on the new leader (min.insync.replicas=2, two in sync)" "0" "$?"

# ---- a follower stops fetching: out of the ISR, min.insync.replicas -------
O=$F
[ "$O" = "$N" ] && O=$G
eval "OPID=\$PID$O"
kill -STOP "$OPID"
check "a stopped follower leaves the ISR after replica.lag.time.max.ms" \
	poll 30 isr_is "$MQ_TMP/mnt$N" "$N"
expect_eq "acks=all with one in-sync replica of min.insync.replicas=2: EAGAIN" "EAGAIN" \
	"$(write_errno "$MQ_TMP/mnt$N/orders/0" refused)"
kill -CONT "$OPID"
check "it rejoins once it fetches again" \
	poll 30 isr_is "$MQ_TMP/mnt$N" "$(echo "$F $G" | tr ' ' '\n' | sort -n | paste -sd, -)"

# ---- the dead broker comes back ---------------------------------------------
start "$L"
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
L2=$L
L=$N
F=$(( (N % 3) + 1 ))
G=$(( (F % 3) + 1 ))
check "after the rejoin, segment files byte-identical while running" poll 20 same_files running
# ---- rmdir on any broker deletes the topic everywhere ----------------------
expect_ok "mkdir mnt$F/doomed" mkdir "$MQ_TMP/mnt$F/doomed"
for n in 1 2 3; do
	check "doomed is listed on mnt$n" poll 20 listed_as "$MQ_TMP/mnt$n" doomed
done
expect_ok "rmdir mnt$G/doomed" rmdir "$MQ_TMP/mnt$G/doomed"
gone() {
	! listed_as "$MQ_TMP/mnt$1" doomed && [ ! -e "$MQ_TMP/b$1/data/doomed-0" ]
}
for n in 1 2 3; do
	check "doomed is gone from mnt$n and its data directory" poll 20 gone "$n"
done
check "orders is still there" listed_as "$MQ_TMP/mnt$L" orders

# ---- clean stops: the leader first, its leadership moved before it goes ----
eval "p=\$PID$N"
mq_umount "$MQ_TMP/mnt$N" "$p" && ok "clean stop of the leader, broker $N"
check "the controller moved its leadership (controlled shutdown)" \
	grep -q "controlled shutdown of broker $N" "$LOG"
moved() {
	l=$(field "$MQ_TMP/mnt$F" 5)
	[ -n "$l" ] && [ "$l" != "$N" ] && [ "$l" != "-1" ]
}
check "another broker leads" poll 5 moved
for n in $F $G; do
	eval "p=\$PID$n"
	mq_umount "$MQ_TMP/mnt$n" "$p" && ok "clean stop of broker $n"
done
check "after a clean stop, the segment files of all three are byte-identical" same_files
[ "$L2" = "$L" ] && fail "the old leader is not the new one" "$L"

mq_done
