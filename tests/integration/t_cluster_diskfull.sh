#!/bin/sh
# t_cluster_diskfull.sh — a follower's full disk in a cluster: ZooKeeper
# and three SASL brokers, each with its data directory on a 32 MiB tmpfs
# of its own, a topic of one partition with three replicas,
# min.insync.replicas=2, acks=all. Skipped where tmpfs cannot be mounted
# (not root).
#   - A follower's disk fills (a file takes all but 1 MiB): its fetch
#     cannot append (logged), so its broker takes its log directory
#     offline (logged, log.dir=offline in its .state) and the controller
#     takes it out of the ISR at once; writes through the leader's mount
#     and through the full follower's mount (forwarded) go on. A topic
#     made meanwhile gets no log there: the full follower's mount reads
#     it from a read copy, which fails while the disk is full.
#   - Room again, the directory stays offline (as Kafka's) until the
#     broker restarts, and the read copy serves the new topic; restarted,
#     it catches up and rejoins the ISR.
# Every acknowledged record is read back once, in order, on every mount,
# and the three .log files are the same. (A leader's full disk:
# t_cluster_logdir_failure.sh.)

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

t_small_cluster "full disks in a cluster"
eval "SF=\$SMALL$F"

# 1. A follower's disk fills; 60 records of 64000 bytes cannot all fit.
check "broker $F's disk filled" fill_disk "$SF"
expect_eq "60 writes of 64000 bytes through the leader's mount (mnt$L)" 60 \
	"$(t_put "mnt$L" a 60 64000)"
expect_eq "300 writes through the full follower's mount (mnt$F)" 300 "$(t_put "mnt$F" b 300)"
check "broker $F leaves the ISR" poll 20 t_isr_is "$MQ_TMP/mnt$L" "$(set_of "[$L,$G]")"
expect_ok "its fetch's failure is logged" grep -q "fetcher: t-0: No space left on device" "$LOG"
expect_ok "and its log directory offline" grep -q \
	"log dir $SF: t-0: No space left on device: the log directory is offline" "$LOG"
expect_ok "the controller took its replica offline" grep -q \
	"controller: broker $F cannot host t-0 (KAFKA_STORAGE_ERROR" "$LOG"

# A topic made while the directory is offline gets no log there (its
# replica's LeaderAndIsr is refused): mnt$F reads it from a read copy,
# which finds no room on the full disk either: the read fails, rather
# than show no records.
expect_ok "topic u made through mnt$L" mkdir "$MQ_TMP/mnt$L/u"
u_listed() { [ -e "$MQ_TMP/mnt$F/u/0" ]; }
check "u is listed on mnt$F" poll 20 u_listed
check "u-1..u-3 through mnt$G" mq_run sh -c 'printf "u-1\nu-2\nu-3\n" >>"$1"' sh "$MQ_TMP/mnt$G/u/0"
check "u-4 through mnt$F" mq_run sh -c 'echo u-4 >>"$1"' sh "$MQ_TMP/mnt$F/u/0"
expect_ok "no log of u in broker $F's failed directory" test ! -e "$SF/u-0"
u_refused() {
	! timeout 30 cat "$MQ_TMP/mnt$F/u/0" >/dev/null 2>"$MQ_TMP/u.err" &&
		grep -q "No space left on device" "$MQ_TMP/u.err"
}
check "mnt$F's read of u fails with ENOSPC (the copy finds no room)" u_refused

# 2. Room again: offline until a restart; the read copy of u takes the
# leader's records now, and mnt$F reads them.
rm -f "$SF/filler"
expect_ok "room again: mnt$F/.state still says log.dir=offline" grep -q \
	"^log.dir=offline (No space left on device)" "$MQ_TMP/mnt$F/.state"
u_read() {
	[ "$(timeout 10 cat "$MQ_TMP/mnt$F/u/0" 2>/dev/null | tr '\n' ' ')" = "u-1 u-2 u-3 u-4 " ]
}
check "mnt$F reads u's records from its read copy" poll 30 u_read
check "broker $F stops cleanly" broker_stop "$F"
broker_start "$F"
check "restarted: broker $F back in the ISR" poll 30 t_isr_is "$MQ_TMP/mnt$L" "1,2,3"
expect_eq "100 writes through mnt$G" 100 "$(t_put "mnt$G" c 100)"

for n in 1 2 3; do
	check "mnt$n reads every acknowledged record once, in order" poll 30 t_has "$n"
done
# The active segment's file may run ahead of the log with zeros (see
# "Data on disk"): the bytes up to the log's size, as .state gives it.
same_logs() {
	_sz=$(t_field "$MQ_TMP/mnt1" 9)
	[ -n "$_sz" ] && [ "$_sz" = "$(t_field "$MQ_TMP/mnt2" 9)" ] &&
		[ "$_sz" = "$(t_field "$MQ_TMP/mnt3" 9)" ] &&
		cmp -s -n "$_sz" "$SMALL1/t-0/00000000000000000000.log" "$SMALL2/t-0/00000000000000000000.log" &&
		cmp -s -n "$_sz" "$SMALL1/t-0/00000000000000000000.log" "$SMALL3/t-0/00000000000000000000.log"
}
check "the three .log files hold the same batches" poll 20 same_logs

mq_done
