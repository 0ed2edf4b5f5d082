#!/bin/sh
# t_cluster_killstorm.sh — the short version of contrib/cluster_killstorm.py:
# ZooKeeper and three SASL brokers with mounts, acks=all writers on every
# broker's mount (a non-leader forwards the write, resent after a
# failover), three kill -9s of partition 0's leader, each followed by
# a new leader from the ISR, a restart and a rejoin; after each round every
# acknowledged record is there exactly once in order and the replicas'
# .log, .index and .timeindex files agree byte for byte. The script leaves no mount and no directory
# behind (it starts and stops everything itself, by pid).

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

ROOT=$(cd "$LIBDIR/../.." && pwd -P)
OUT=$MQ_TMP/storm.out
# TERM first: the script then unmounts and stops what it started.
TMPDIR=$MQ_TMP timeout -k 30 240 python3 "$ROOT/contrib/cluster_killstorm.py" \
	--mqfs "$MQFS" --kills 3 --writers 4 --partitions 2 --seed 1 >"$OUT" 2>&1
rc=$?
sed 's/^/# /' "$OUT"
expect_eq "the storm's exit status" "0" "$rc"
expect_eq "three leader kills, each a round checked" "3" "$(grep -c '^kill [0-9]* (broker [123])' "$OUT")"
n=$(sed -n 's/^acknowledged records checked: \([0-9]*\).*/\1/p' "$OUT")
[ "${n:-0}" -gt 0 ] && ok "$n acknowledged records checked" || fail "records checked" "'$n'"
expect_eq "nothing lost, duplicated, garbled or divergent" "1" \
	"$(grep -c '^lost: 0  duplicated: 0  garbled: 0  unknown: 0  divergent replicas: 0 ' "$OUT")"
expect_eq "no index file differs between replicas" "1" \
	"$(grep -c '^index files that differ between replicas: none$' "$OUT")"
grep -q '^kill to first acknowledged write: median [0-9.]* s, max [0-9.]* s' "$OUT" &&
	ok "kill to first acknowledged write reported" || fail "kill to first ack" "not reported"
expect_eq "no mount left" "0" "$(grep -c " $MQ_TMP/" /proc/mounts)"
expect_eq "its directory removed" "" "$(ls -d "$MQ_TMP"/mqfs-clstorm.* 2>/dev/null)"

mq_done
