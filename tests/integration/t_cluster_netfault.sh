#!/bin/sh
# t_cluster_netfault.sh — a bad network between a follower and its leader,
# rather than a cut one (t_cluster_partition.sh): ZooKeeper and two SASL
# brokers, each advertising the port of a userspace proxy
# (netfault_proxy.py) in front of its listener, so that the other broker's
# replica fetcher, the controller's requests and Kafka clients all reach
# it through the proxy. Topic t has one partition, two replicas and
# min.insync.replicas=1; acks=all writes go through the leader's mount.
#   - an RST in the middle of a Fetch response: the follower says so in
#     its log (broker, address, reason), connects again, catches up;
#   - a black hole both ways (nothing forwarded, nothing closed): an
#     acks=all write is acknowledged once the follower has left the ISR
#     after replica.lag.time.max.ms, not held until request.timeout.ms;
#     the follower rejoins after the heal;
#   - the leader's answers black-holed (its requests still arriving): the
#     follower gives its Fetch up after replica.socket.timeout.ms, logs
#     it and connects again, instead of holding the connection for as
#     long as the black hole lasts;
#   - byte-at-a-time delivery, random slices of 1..64 bytes, chunks held
#     100 to 500 ms: writes acknowledged and replicated unchanged.
# After each, both mounts read the same partition file and both brokers
# are in the ISR. The proxy is a background process of the script, stopped
# with the rest (trap).

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="replica.lag.time.max.ms=3000
replica.socket.timeout.ms=2000
request.timeout.ms=20000
num.partitions=1"
zk_cluster_start

for n in 1 2; do
	eval "PORT$n=\$(zk_free_port)"
	eval "PP$n=\$(zk_free_port)"
done
proxy_start "p1=$PP1:127.0.0.1:$PORT1" "p2=$PP2:127.0.0.1:$PORT2"

for n in 1 2; do
	eval "conf $n \$PORT$n"
	_pp=$(eval "echo \$PP$n")
	sed -i 's/^default.replication.factor=.*/default.replication.factor=2/
s/^min.insync.replicas=.*/min.insync.replicas=1/' "$MQ_TMP/b$n/server.properties"
	echo "advertised.listeners=SASL_PLAINTEXT://127.0.0.1:$_pp" >>"$MQ_TMP/b$n/server.properties"
	broker_start "$n"
done
for n in 1 2; do
	check "mnt$n: two live brokers" poll 30 alive_on "$MQ_TMP/mnt$n" 2
done
expect_ok "mkdir mnt1/t" mkdir "$MQ_TMP/mnt1/t"
check "t is listed on mnt2" poll 20 listed "$MQ_TMP/mnt2" t
check "both replicas in the ISR" poll 20 t_isr_is "$MQ_TMP/mnt1" "1,2"
L=$(t_field "$MQ_TMP/mnt1" 5)
case $L in
1 | 2) ok "a leader: broker $L" ;;
*) fail "a leader" "leader '$L'"; mq_done ;;
esac
F=$((3 - L))
eval "PPL=\$PP$L"

# wr TEXT: one acks=all write through the leader's mount (timeout: a hang
# is a failure, not a stuck script).
wr() {
	timeout 30 sh -c 'printf "%s\n" "$1" >>"$2"' sh "$1" "$MQ_TMP/mnt$L/t/0"
}
# healed WHAT: after a fault: the follower back in the ISR, both mounts
# reading the same file, whose last line is WHAT's last write.
healed() {
	check "$1: the follower back in the ISR" poll 30 t_isr_is "$MQ_TMP/mnt$L" "1,2"
	check "$1: both mounts read the same partition file" poll 30 same_file \
		"$MQ_TMP/mnt$L/t/0" "$MQ_TMP/mnt$F/t/0"
	expect_eq "$1: its last write is the file's last line" "$2" \
		"$(timeout 10 tail -n 1 "$MQ_TMP/mnt$F/t/0")"
}

check "a write before any fault" wr before
check "the follower has it" poll 20 same_file "$MQ_TMP/mnt$L/t/0" "$MQ_TMP/mnt$F/t/0"

# ---- an RST in the middle of a Fetch response -----------------------------
# The follower's connection is established: the next 2000 bytes from the
# leader are part of the Fetch response carrying the 20 KB record below.
big=$(head -c 20000 /dev/zero | tr '\0' x)
wr_big() { wr "$big"; }
expect_eq "rst after 2000 bytes from the leader" "ok" "$(px mode "p$L" rst s2c 2000)"
check "a 20 KB write" wr_big
reset_logged() {
	grep -q "WARN fetcher: broker $L at 127.0.0.1:$PPL: fetch failed: Connection reset by peer; connecting again in 1000 ms" "$LOG"
}
check "the follower logs the Fetch reset by its leader" poll 20 reset_logged
expect_eq "forward again" "ok" "$(px mode "p$L" pass)"
check "a write after the resets" wr after-rst
healed "rst" after-rst

# ---- a black hole both ways -------------------------------------------------
expect_eq "black hole both ways" "ok" "$(px mode "p$L" hole both)"
start=$(date +%s)
check "an acks=all write in the black hole acknowledged" wr in-hole
took=$(($(date +%s) - start))
if [ "$took" -lt 15 ]; then
	ok "acknowledged after ${took} s: the follower left the ISR, request.timeout.ms (20 s) not reached"
else
	fail "acknowledged before request.timeout.ms" "after $took s"
fi
check "the ISR is the leader alone" poll 20 t_isr_is "$MQ_TMP/mnt$L" "$L"
expect_eq "heal" "ok" "$(px mode "p$L" pass)"
check "a write after the heal" wr after-hole
healed "black hole" after-hole

# ---- the leader's answers black-holed -----------------------------------------
# The follower's Fetch reaches the leader, its answer never comes back:
# replica.socket.timeout.ms (2 s) past replica.fetch.wait.max.ms the
# follower closes the connection and makes a new one (the proxy counts
# it), where a fixed 30 s would still be waiting. Its line names the
# request that went unanswered and when it went.
conns() { px stats "p$L" | sed -n 's/^ok conns=\([0-9]*\) .*/\1/p'; }
before=$(conns)
expect_eq "black hole of the leader's answers" "ok" "$(px mode "p$L" hole s2c)"
timeout_logged() {
	grep -q "WARN fetcher: broker $L at 127.0.0.1:$PPL: fetch failed: Connection timed out; connecting again in 1000 ms (the Fetch sent [0-9]* ms before)" "$LOG"
}
check "the follower gives up the unanswered Fetch and logs it" poll 15 timeout_logged
more_conns() { [ "$(conns)" -gt "$before" ]; }
check "the follower connects again" poll 15 more_conns
expect_eq "heal" "ok" "$(px mode "p$L" pass)"
check "a write after the heal" wr after-s2c
healed "answers black-holed" after-s2c

# ---- bytes one by one, small slices, delays ---------------------------------
for m in bytes slices "delay 100 500"; do
	# shellcheck disable=SC2086 # the mode and its arguments, as words
	expect_eq "mode $m" "ok" "$(px mode "p$L" $m)"
	i=0
	while [ $i -lt 5 ]; do
		i=$((i + 1))
		wr "$m-$i" || fail "write $m-$i" "status $?"
	done
	ok "five writes acknowledged with $m"
	expect_eq "forward as it comes" "ok" "$(px mode "p$L" pass)"
	healed "$m" "$m-5"
done

mq_done
