#!/bin/sh
# t_cluster_zkfail.sh — ZooKeeper itself fails under a running cluster:
# ZooKeeper and three SASL brokers, a topic of one partition with three
# replicas (min.insync.replicas=2, acks=all), a writer of numbered lines
# going round the three mounts that records which writes were
# acknowledged.
#   1. ZooKeeper killed (-9) and started again on its data directory: the
#      data path needs no ZooKeeper, so writes are acknowledged through
#      the outage; the partition's leader killed (-9) meanwhile, when no
#      election can be held: the writes forwarded to it wait. ZooKeeper
#      back, it keeps the sessions of the live brokers, the dead one's
#      expires, the controller (a new one if it was the dead broker)
#      elects another leader from the ISR and the writes are acknowledged
#      there; the dead broker started again rejoins the ISR.
#   2. ZooKeeper killed, its data wiped and started again empty (a lost
#      disk, a server rebuilt): its empty /brokers/topics would read as
#      every topic deleted. A broker started again against it is refused
#      (its data directory belongs to another cluster: logged, and said
#      on stderr) and keeps its log; the running brokers, once the new
#      server's transactions pass what they had seen and it lets them
#      open new sessions there, log the same and neither register nor
#      delete anything. Every acknowledged line stays readable on the
#      running mounts and the three .log files agree.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_SESSION_MS=4000
CLUSTER_CONF="num.partitions=1
request.timeout.ms=15000
replica.lag.time.max.ms=3000"
zk_cluster_start
cluster_start3
t_make3
: >"$MQ_TMP/acked"
: >"$MQ_TMP/tried"

# The writer: TAG-<i>-m<k> lines, one write() each, through mnt<k>/t/0
# for k round the given mounts, until MQ_TMP/stop.TAG exists; each line
# goes to MQ_TMP/tried before its write, to MQ_TMP/acked once it
# returned (sequential: acked is the order the log must have).
cat >"$MQ_TMP/writer.py" <<'EOP'
import errno, os, sys, time
tmp, tag, mounts = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
stop = os.path.join(tmp, "stop." + tag)
i = 0
with open(os.path.join(tmp, "acked"), "a") as a, open(os.path.join(tmp, "tried"), "a") as t:
    while not os.path.exists(stop):
        i += 1
        m = mounts[i % len(mounts)]
        rec = "%s-%d-m%s\n" % (tag, i, m)
        t.write(rec)
        t.flush()
        try:
            fd = os.open(os.path.join(tmp, "mnt" + m, "t", "0"), os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, rec.encode())
            finally:
                os.close(fd)
            a.write(rec)
            a.flush()
        except OSError as x:
            sys.stderr.write("%s: %s %s\n" % (rec.strip(), errno.errorcode.get(x.errno, x.errno), time.strftime("%H:%M:%S")))
EOP
# The check of a partition read through a mount: every acknowledged line
# once and in their order, no line twice, none that was never written.
cat >"$MQ_TMP/verify.py" <<'EOP'
import sys
acked = open(sys.argv[1]).read().splitlines()
tried = set(open(sys.argv[2]).read().splitlines())
got = open(sys.argv[3]).read().splitlines()
bad, seen = [], set()
for l in got:
    if l in seen:
        bad.append("twice: " + l)
    if l not in tried:
        bad.append("never written: " + l[:60])
    seen.add(l)
ackset = set(acked)
if [l for l in got if l in ackset] != acked:
    bad.append("acknowledged lines missing or out of order: %s"
               % [l for l in acked if l not in seen][:5])
print("\n".join(bad[:10]))
sys.exit(1 if bad else 0)
EOP

nacked() { wc -l <"$MQ_TMP/acked"; }
acked_past() { [ "$(nacked)" -ge "$1" ]; }
# writer_start TAG MOUNTS: the writer in the background (WPID), through
# the mounts listed (1,2,3); its failed writes in MQ_TMP/writer.TAG.out.
writer_start() {
	rm -f "$MQ_TMP/stop.$1"
	mq_bg sh -c "exec python3 '$MQ_TMP/writer.py' '$MQ_TMP' '$1' '$2' 2>>'$MQ_TMP/writer.$1.out'"
	WPID=$MQ_LAST_PID
}
writer_stop() {
	touch "$MQ_TMP/stop.$1"
	check "writer $1 ends" mq_wait "$WPID" 60
}
# has_acked N: mnt<N>/t/0 passes verify.py.
has_acked() {
	timeout 10 cat "$MQ_TMP/mnt$1/t/0" >"$MQ_TMP/got$1" 2>/dev/null &&
		python3 "$MQ_TMP/verify.py" "$MQ_TMP/acked" "$MQ_TMP/tried" "$MQ_TMP/got$1" >"$MQ_TMP/why$1"
}
# logs_agree: the three brokers' segments of t-0 hold the same bytes (the
# active segment's file is preallocated, and trimmed at a clean stop: the
# zeros after its batches are left out).
logs_agree() {
	for _n in 1 2 3; do
		cat "$MQ_TMP/b$_n/data/t-0/"*.log 2>/dev/null |
			python3 -c 'import hashlib, sys; print(hashlib.md5(sys.stdin.buffer.read().rstrip(b"\0")).hexdigest())'
	done | sort -u | wc -l | grep -qx 1
}
# all_have_acked WHEN: has_acked on every mount and logs_agree.
all_have_acked() {
	for _n in 1 2 3; do
		check "$1: mnt$_n reads every acknowledged line once, in order" \
			poll 30 has_acked $_n || cat "$MQ_TMP/why$_n"
	done
	check "$1: the three .log files agree" poll 30 logs_agree
}
# session_is N STATE: broker N's root .state says zookeeper.session=STATE.
session_is() {
	timeout 5 grep -qx "zookeeper.session=$2" "$MQ_TMP/mnt$1/.state" 2>/dev/null
}
all_disconnected() {
	session_is 1 disconnected && session_is 2 disconnected && session_is 3 disconnected
}
# pid_of N: broker N's pid.
pid_of() {
	eval "echo \$PID$1"
}
# led_by_another N: mnt$F's .state names a leader of t-0, not broker N.
led_by_another() {
	_lb=$(t_field "$MQ_TMP/mnt$F" 5)
	[ -n "$_lb" ] && [ "$_lb" != "$1" ] && [ "$_lb" != -1 ]
}
# zk_zxid: the last transaction id the server has (srvr's Zxid), decimal.
zk_zxid() {
	echo $(($(zk_srvr "$ZKPORT" Zxid)))
}
# zk_creates N: N sequential znodes /n<seq> made by ZooKeeper's own shell
# (its commands on stdin, one JVM for all): N transactions.
zk_creates() {
	_i=0
	while [ "$_i" -lt "$1" ]; do
		echo "create -s /n x"
		_i=$((_i + 1))
	done | java -Xmx64m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -cp "$(zk_classpath)" \
		org.apache.zookeeper.ZooKeeperMain -server "127.0.0.1:$ZKPORT" >/dev/null 2>&1
}

# ---- 1. ZooKeeper killed and started again on its data, the leader
# killed while it was away ----
writer_start a "$F,$G"
check "writer a: writes acknowledged" poll 30 acked_past 20
zk_stop "$ZKDIR"
N=$(nacked)
check "ZooKeeper down: every broker sees it" poll 30 all_disconnected
check "ZooKeeper down: writes still acknowledged" poll 30 acked_past $((N + 100))
# No election can happen until ZooKeeper is back: the writes forwarded
# to the dead leader wait, and are sent again to the next one.
kill -9 "$(pid_of $L)"
mq_wait "$(pid_of $L)" 10
timeout 10 fusermount3 -u -z "$MQ_TMP/mnt$L"
check "ZooKeeper started again on its data" zk_start "$ZKDIR" "$ZKPORT"
for n in $F $G; do
	check "broker $n: back in its session" poll 30 session_is $n connected
done
check "once the dead leader's session expired, a new leader" poll 60 led_by_another "$L"
N=$(nacked)
check "writes acknowledged by the new leader" poll 30 acked_past $((N + 50))
broker_start "$L"
check "broker $L started again: back in the ISR" poll 60 t_isr_is "$MQ_TMP/mnt$F" 1,2,3
writer_stop a
echo "# writer a's failed writes, by errno: $(awk '{ print $2 }' "$MQ_TMP/writer.a.out" | sort | uniq -c | tr '\n' ' ')"
all_have_acked "ZooKeeper restarted"
for n in 1 2 3; do
	check "broker $n: in its session" poll 30 session_is $n connected
done

# ---- 2. ZooKeeper's data wiped ----
writer_start b 1,2,3
N=$(nacked)
check "writer b: writes acknowledged" poll 30 acked_past $((N + 20))
ZXID=$(zk_zxid)
zk_stop "$ZKDIR"
rm -rf "$ZKDIR/data"
check "ZooKeeper started again, empty" zk_start "$ZKDIR" "$ZKPORT"
N=$(nacked)
check "ZooKeeper wiped: writes still acknowledged" poll 30 acked_past $((N + 100))
writer_stop b
all_have_acked "ZooKeeper wiped"

check "broker 3 stopped" broker_stop 3
mq_run sh -c "exec '$MQFS' -f --config '$MQ_TMP/b3/server.properties' '$MQ_TMP/mnt3' \
	>'$MQ_TMP/b3.out' 2>&1"
rc=$?
cat "$MQ_TMP/b3.out" >>"$LOG"
case $rc in
0 | 124 | 137) fail "broker 3 refuses to start against the wiped ZooKeeper" "exit status $rc" ;;
*) ok "broker 3 refuses to start against the wiped ZooKeeper (exit status $rc)" ;;
esac
expect_ok "broker 3 logs why" grep -q "ZooKeeper .* holds no cluster id, but this broker's data directory belongs to cluster" "$MQ_TMP/b3.out"
expect_ok "broker 3 says so on stderr" grep -q "^mqfs: .* belongs to another cluster than ZooKeeper's" "$MQ_TMP/b3.out"
expect_ok "broker 3 keeps its log" test -s "$(ls "$MQ_TMP"/b3/data/t-0/*.log | head -1)"

# The brokers still running were refused by the new server (they had seen
# later transactions than it has); once it has more, they find their
# sessions unknown there and open new ones.
check "the new server's transactions pass the old ones ($ZXID)" zk_creates $((ZXID + 50))
check "both running brokers log the ensemble as another cluster's" poll 60 sh -c "[ \$(grep -c \"holds no cluster id since this broker's session expired\" '$LOG') -ge 2 ]"
for n in 1 2; do
	check "broker $n: its session is expired" poll 30 session_is $n expired
	expect_ok "broker $n: keeps topic t" test -d "$MQ_TMP/b$n/data/t-0"
	check "mnt$n still lists t" poll 10 listed "$MQ_TMP/mnt$n" t
	check "mnt$n reads every acknowledged line once, in order" \
		poll 30 has_acked $n || cat "$MQ_TMP/why$n"
done
check "the three .log files agree" poll 30 logs_agree
expect_ok "no topic deleted" sh -c "! grep -q 'deleted in the cluster' '$LOG'"
echo "# writer b's failed writes, by errno: $(awk '{ print $2 }' "$MQ_TMP/writer.b.out" | sort | uniq -c | tr '\n' ' ')"
echo "# acknowledged $(nacked) of $(wc -l <"$MQ_TMP/tried") writes; zxid before the wipe $ZXID"

mq_done
