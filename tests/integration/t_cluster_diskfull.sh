#!/bin/sh
# t_cluster_diskfull.sh — full disks in a cluster: ZooKeeper and three SASL
# brokers, each with its data directory on a 32 MiB tmpfs of its own, a
# topic of one partition with three replicas, min.insync.replicas=2,
# acks=all. Skipped where tmpfs cannot be mounted (not root).
#   - A follower's disk fills (a file takes all but 1 MiB): writes through
#     the leader's mount and through the full follower's mount (forwarded)
#     go on, the follower leaves the ISR (logged each time its fetch
#     fails); room again, it catches up and rejoins the ISR.
#   - The leader's disk fills: a write through its own mount fails with
#     ENOSPC, and so does one through another broker's mount (forwarded:
#     the leader's KAFKA_STORAGE_ERROR says why), never EIO; room again,
#     writes go on.
# Every acknowledged record is read back once, in order, on every mount,
# and the three .log files are the same.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

SMALLS=""
# The brokers stop first (their data is on the tmpfs), then the tmpfs go.
# shellcheck disable=SC2016 # expanded by t_cleanup's eval
AFTER_BROKERS='for d in $SMALLS; do umount -l "$d" 2>/dev/null; rmdir "$d" 2>/dev/null; done'
for n in 1 2 3; do
	d=$(mktemp -d /tmp/mqfs-full.XXXXXX) || exit 1
	if ! mount -t tmpfs -o size=32m tmpfs "$d" 2>/dev/null; then
		rmdir "$d"
		skip "full disks in a cluster" "cannot mount a tmpfs (root needed)"
		mq_done
	fi
	SMALLS="$SMALLS $d"
	eval "SMALL$n=\$d"
	mkdir -p "$MQ_TMP/b$n"
	ln -s "$d" "$MQ_TMP/b$n/data"
done

CLUSTER_CONF="num.partitions=1
request.timeout.ms=10000
replica.lag.time.max.ms=3000"
zk_cluster_start
cluster_start3
t_make3
eval "SL=\$SMALL$L"
eval "SF=\$SMALL$F"

# put MNT TAG N: N acks=all writes of 1000-byte records TAG-i through
# MNT/t/0, one write() each; the acknowledged go to MQ_TMP/want, the
# errno names of the others to MQ_TMP/err.TAG. Prints the count acked.
put() {
	python3 - "$MQ_TMP/$1/t/0" "$2" "$3" "$MQ_TMP/want" "$MQ_TMP/err.$2" <<'EOF'
import errno, os, sys
path, tag, n, want, err = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
acked = 0
with open(want, "a") as w, open(err, "a") as e:
    for i in range(n):
        rec = "%s-%d-" % (tag, i)
        rec = rec + "f" * (999 - len(rec)) + "\n"
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
            try:
                os.write(fd, rec.encode())
            finally:
                os.close(fd)
            w.write(rec)
            acked += 1
        except OSError as x:
            e.write(errno.errorcode.get(x.errno, str(x.errno)) + "\n")
print(acked)
EOF
}
: >"$MQ_TMP/want"

# fill DIR: a file takes all but 1 MiB of DIR's filesystem.
fill() {
	_av=$(df --output=avail -k "$1" | tail -1)
	dd if=/dev/zero of="$1/filler" bs=1k count=$((_av - 1024)) 2>/dev/null
	_av=$(df --output=avail -k "$1" | tail -1)
	[ "$_av" -le 1100 ]
}

# 1. A follower's disk fills.
check "broker $F's disk filled" fill "$SF"
expect_eq "3000 writes through the leader's mount (mnt$L)" 3000 "$(put "mnt$L" a 3000)"
expect_eq "300 writes through the full follower's mount (mnt$F)" 300 "$(put "mnt$F" b 300)"
check "broker $F leaves the ISR" poll 20 t_isr_is "$MQ_TMP/mnt$L" "$(set_of "[$L,$G]")"
expect_ok "its fetch failures are logged" grep -q "fetcher: t-0: No space left on device" "$LOG"
rm -f "$SF/filler"
check "room again: broker $F back in the ISR" poll 30 t_isr_is "$MQ_TMP/mnt$L" "1,2,3"

# 2. The leader's disk fills.
check "broker $L's disk filled" fill "$SL"
put "mnt$L" c 2000 >/dev/null
put "mnt$F" d 20 >/dev/null
expect_eq "the leader's own mount: ENOSPC" "ENOSPC" "$(sort -u "$MQ_TMP/err.c")"
expect_eq "a follower's mount (forwarded): ENOSPC" "ENOSPC" "$(sort -u "$MQ_TMP/err.d")"
rm -f "$SL/filler"
expect_eq "room again: 100 writes through mnt$G" 100 "$(put "mnt$G" e 100)"

has() {
	timeout 10 cat "$MQ_TMP/mnt$1/t/0" >"$MQ_TMP/got$1" 2>/dev/null && cmp -s "$MQ_TMP/got$1" "$MQ_TMP/want"
}
for n in 1 2 3; do
	check "mnt$n reads every acknowledged record once, in order" poll 30 has "$n"
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
