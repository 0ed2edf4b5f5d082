#!/bin/sh
# t_cluster_min_isr.sh — acks=all writes whose ISR shrinks below
# min.insync.replicas after their append: ZooKeeper and three SASL
# brokers, a topic of one partition with three replicas and
# min.insync.replicas=2. Both followers are frozen (SIGSTOP); a write on
# the leader's mount and a Kafka client's Produce append (the ISR is
# still whole) and wait. Once the followers' sessions expire the
# controller takes them out of the ISR: with the leader alone, under
# min.insync.replicas, the high watermark does not move (Kafka 3.7's
# maybeIncrementLeaderHW): the records are on one replica where acks=all
# promised two, so nothing commits them. Once the topic's
# min.insync.replicas is lowered to 1 (its .config), the next write moves
# the high watermark over them and both waiting writes are acknowledged,
# as Kafka's DelayedProduce then completes them. Thawed, the followers
# rejoin the ISR and the records are on every mount.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# request.timeout.ms far above the session timeout: the waiting writes
# are answered on the followers' return, well within it. The session
# timeout (10 s) is the time the two writers have to reach the leader
# once the followers are frozen (their appends are waited for below):
# python and SCRAM on a loaded machine can take seconds.
CLUSTER_SESSION_MS=10000
CLUSTER_CONF="num.partitions=1
request.timeout.ms=60000"
zk_cluster_start
cluster_start3
t_make3
expect_eq "min.insync.replicas" "min.insync.replicas=2" \
	"$(grep '^min.insync.replicas=' "$MQ_TMP/mnt$L/t/.config")"
expect_ok "a write on the leader's mount (mnt$L)" sh -c "echo r-1 >> '$MQ_TMP/mnt$L/t/0'"

eval "PF=\$PID$F PG=\$PID$G"
freeze_pid "$PF" "$PG"
check "broker $F stopped" poll 20 all_stopped "$PF"
check "broker $G stopped" poll 20 all_stopped "$PG"
# One write() in the background; its outcome (ok, or the errno's name)
# in MQ_TMP/wrote.
mq_bg python3 -c 'import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"r-2\n")
    r = "ok"
except OSError as e:
    r = errno.errorcode.get(e.errno, str(e.errno))
open(sys.argv[2], "w").write(r + "\n")' "$MQ_TMP/mnt$L/t/0" "$MQ_TMP/wrote"
# And a Kafka client's acks=all Produce to the leader at the same time:
# Kafka's NOT_ENOUGH_REPLICAS_AFTER_APPEND (20) when it ends so.
eval "LPORT=\$PORT$L"
mq_bg sh -c 'python3 "$1" produce 127.0.0.1 "$2" admin admin-secret t 0 r-k -1 > "$3" 2>&1' sh \
	"$LIBDIR/kafka_raw.py" "$LPORT" "$MQ_TMP/kwrote"
# leo_is N: the leader's .state shows a log end offset of N.
leo_is() {
	[ "$(t_field "$MQ_TMP/mnt$L" 4)" = "$1" ]
}
check "both writes appended (r-1, r-2, r-k: log end 3) before the followers' sessions expire" \
	poll 9 leo_is 3
# (Refused with the ISR below min.insync.replicas, a write would not
# have been appended: the log end would stay below 3.)
# isr_alone: the leader's .state shows an ISR of itself alone.
isr_alone() {
	t_isr_is "$MQ_TMP/mnt$L" "$L"
}
check "the ISR shrinks to the leader once the followers' sessions expire" poll 30 isr_alone
# The ISR and the high watermark change under one lock: the .state that
# shows the leader alone shows the high watermark the shrink left.
expect_eq "the high watermark stays below r-2 and r-k (under min.insync.replicas)" "1" \
	"$(t_field "$MQ_TMP/mnt$L" 3)"
expect_fail "a new write with the ISR below min.insync.replicas" \
	sh -c "echo r-3 >> '$MQ_TMP/mnt$L/t/0'"
expect_ok "min.insync.replicas=1 in t/.config (the leader's mount)" \
	sh -c "echo min.insync.replicas=1 > '$MQ_TMP/mnt$L/t/.config'"
expect_ok "a write with the ISR at the topic's min.insync.replicas" \
	sh -c "echo r-3 >> '$MQ_TMP/mnt$L/t/0'"
expect_eq "the high watermark covers r-2, r-k and r-3" "4" "$(t_field "$MQ_TMP/mnt$L" 3)"
wrote() {
	[ -s "$MQ_TMP/wrote" ]
}
check "the waiting write is answered" poll 30 wrote
expect_eq "the write is acknowledged (committed by the topic's min.insync.replicas)" "ok" \
	"$(cat "$MQ_TMP/wrote" 2>/dev/null)"
kwrote() {
	[ -s "$MQ_TMP/kwrote" ]
}
check "the Kafka Produce is answered" poll 30 kwrote
expect_eq "the Produce: acknowledged" "error 0" "$(cat "$MQ_TMP/kwrote" 2>/dev/null)"
expect_fail "no write was taken as committed by too small an ISR" \
	grep -q "committed by an ISR smaller than min.insync.replicas" "$LOG"
thaw_pid "$PF" "$PG"
check "the followers rejoin the ISR" poll 60 t_isr_is "$MQ_TMP/mnt$L" "1,2,3"
expect_ok "a write is acknowledged again" sh -c "echo r-4 >> '$MQ_TMP/mnt$L/t/0'"
# has_r4 N: mntN's partition file ends with r-4 (r-2, r-k and r-3 before
# it).
has_r4() {
	[ "$(timeout 5 tail -n 1 "$MQ_TMP/mnt$1/t/0" 2>/dev/null)" = "r-4" ]
}
for n in 1 2 3; do
	check "mnt$n reads the acknowledged records" poll 20 has_r4 "$n"
done
expect_eq "r-1 once on the leader's mount" "1" "$(grep -c '^r-1$' "$MQ_TMP/mnt$L/t/0")"

mq_done
