#!/bin/sh
# t_cluster_fdlimit.sh — a broker with fewer descriptors than its peers
# (Kafka's KIP-112 for a log directory that cannot take a replica):
# ZooKeeper and three brokers on loopback with SASL and mounts, broker 3
# under `ulimit -n 128` (soft and hard). Topics of one partition and three
# replicas are made through mnt1 until broker 3 has no room left for a
# replica's files: it keeps its descriptor reserve (its log says
# "replica refused: Too many open files"), answers the LeaderAndIsr with
# KAFKA_STORAGE_ERROR, and the controller elects without it ("broker 3
# cannot host"): such a partition is led by broker 1 or 2 with both in its
# ISR and not 3, takes acks=all writes through mnt1 and reads them back on
# mnt2; broker 3 leads none of them and still serves its mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

LIMIT=128
CLUSTER_CONF="num.partitions=1"
zk_cluster_start
for n in 1 2 3; do
	eval "PORT$n=\$(zk_free_port)"
	eval "conf $n \$PORT$n"
done
broker_start 1
broker_start 2
MQ_MOUNT_WAIT=40 mq_mount_cmd "$MQ_TMP/mnt3" sh -c \
	'ulimit -n "$0" && exec "$1" -f --config "$2" "$3"' "$LIMIT" "$MQFS" \
	"$MQ_TMP/b3/server.properties" "$MQ_TMP/mnt3"
PID3=$MQ_PID
for n in 1 2 3; do
	check "mnt$n: three live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 3
done
expect_eq "broker 3's limit" "$LIMIT" \
	"$(awk '/^Max open files/{print $4}' "/proc/$PID3/limits")"
echo "# broker 3 has $(ls "/proc/$PID3/fd" | wc -l) descriptors open"

# Topics until the controller said three times that broker 3 cannot host
# one (each needs 4 descriptors on every broker; 128 leave broker 3 room
# for a dozen or two). Near the reserve a replica refused at first may be
# taken when LeaderAndIsr comes again (a connection closed meanwhile): X
# is one that broker 3 still has no log of.
cannot_host() { grep -c "controller: broker 3 cannot host" "$LOG"; }
i=0
while [ "$i" -lt 60 ] && [ "$(cannot_host)" -lt 3 ]; do
	mkdir "$MQ_TMP/mnt1/f$i" 2>>"$MQ_TMP/mkdir.err" || break
	i=$((i + 1))
done
expect_ok "broker 3 ran out of room after $i topics" test "$(cannot_host)" -ge 1
expect_ok "broker 3 kept its reserve: a replica refused" \
	grep -q "replica refused: Too many open files" "$LOG"
X=""
for x in $(sed -n 's/.*controller: broker 3 cannot host \(f[0-9]*\)-0 .*/\1/p' "$LOG"); do
	[ -d "$MQ_TMP/b3/data/$x-0" ] || X=$x
done
expect_ok "a topic broker 3 has no log of ($X)" test -n "$X"
[ -n "$X" ] || mq_done

# x_field F: field F of X-0's row in mnt1's X/.state (leader 5, isr 8).
x_field() {
	timeout 5 awk -v f="$1" '$1 == "0" { print $f }' "$MQ_TMP/mnt1/$X/.state" 2>/dev/null
}
without3() {
	_l=$(x_field 5)
	[ -n "$_l" ] && [ "$_l" != 3 ] && [ "$_l" != -1 ] &&
		[ "$(set_of "$(x_field 8)")" = "1,2" ]
}
check "$X: led by 1 or 2, ISR 1,2 (broker 3 left out)" poll 30 without3
expect_ok "$X: an acks=all write through mnt1" sh -c 'echo after-kip112 > "$1"' sh \
	"$MQ_TMP/mnt1/$X/0"
reads_back() {
	[ "$(timeout 5 cat "$MQ_TMP/mnt2/$X/0" 2>/dev/null)" = "after-kip112" ]
}
check "$X: read back on mnt2" poll 20 reads_back
# Broker 3 leads nothing it cannot host: every partition it leads has a
# log in its data directory.
led3() {
	for _m in "$MQ_TMP"/mnt1/f*; do
		_t=${_m##*/}
		[ "$(timeout 5 awk '$1 == "0" { print $5 }' "$_m/.state" 2>/dev/null)" = 3 ] &&
			[ ! -d "$MQ_TMP/b3/data/$_t-0" ] && echo "$_t"
	done
}
expect_eq "broker 3 leads no partition it has no log of" "" "$(led3)"
expect_ok "broker 3's mount still answers" timeout 10 ls "$MQ_TMP/mnt3"
expect_ok "broker 3 still takes a connection (Metadata)" \
	timeout 20 kcat -b "127.0.0.1:$PORT3" $SASL -L -t "$X"

# X is on broker 3's mount all the same, made there without its
# replica's log: listed, read through a read copy once room is made
# (rmdir of topics it hosts), written through its leader.
listed3() { timeout 5 ls "$MQ_TMP/mnt3" 2>/dev/null | grep -qx "$X"; }
check "$X: listed on mnt3" poll 20 listed3
expect_ok "broker 3 made $X without its replica's log" \
	grep -q "topic $X: made here without its replicas' logs" "$LOG"
freed=0
for m in "$MQ_TMP"/mnt1/f*; do
	t=${m##*/}
	[ "$freed" -lt 8 ] && [ "$t" != "$X" ] && [ -d "$MQ_TMP/b3/data/$t-0" ] || continue
	rmdir "$m" && freed=$((freed + 1))
done
gone3() { [ "$(ls "$MQ_TMP/mnt3" | grep -c '^f')" -le $((i - freed)) ]; }
check "broker 3 dropped the $freed deleted topics" poll 30 gone3
reads3() {
	[ "$(timeout 5 cat "$MQ_TMP/mnt3/$X/0" 2>/dev/null | head -n 1)" = "after-kip112" ]
}
check "$X: read on mnt3" poll 30 reads3
expect_ok "$X: a write through mnt3 (to its leader)" sh -c 'echo via-mnt3 > "$1"' sh \
	"$MQ_TMP/mnt3/$X/0"

# A LeaderAndIsr of X (its leader stopped cleanly: the controller moves
# the leadership) finds room on broker 3 now: it opens the replica's log,
# the mount takes it, and broker 3 follows and rejoins the ISR.
L=$(x_field 5)
eval "LPID=\$PID$L"
kill -TERM "$LPID"
OTHER=1
[ "$L" = 1 ] && OTHER=2
isr_of_other() {
	timeout 5 awk '$1 == "0" { print $8 }' "$MQ_TMP/mnt$OTHER/$X/.state" 2>/dev/null
}
has3() { [ "$(set_of "$(isr_of_other)")" = "$(set_of "$OTHER,3")" ]; }
check "$X: broker 3 back in its ISR (ISR $OTHER,3)" poll 60 has3
expect_ok "broker 3's mount took $X's replica log" \
	grep -q "topic $X partition 0: a replica here now, its log opened" "$LOG"
expect_ok "$X: broker 3 has its log" test -d "$MQ_TMP/b3/data/$X-0"
all3() {
	[ "$(timeout 5 cat "$MQ_TMP/mnt3/$X/0" 2>/dev/null | tr '\n' ' ')" = "after-kip112 via-mnt3 " ]
}
check "$X: mnt3 reads both records from its own replica" poll 30 all3
mq_done
