#!/bin/sh
# t_cluster_partition.sh — the short version of contrib/cluster_partition.py
# (the network partition of Jepsen's 2013 test of Kafka): ZooKeeper and
# three SASL brokers, each in a network namespace of its own joined by a
# bridge, acks=all writers; partition 0's leader is cut off from ZooKeeper
# and from its followers (its bridge port down) while a writer keeps
# writing through its mount. The cut-off leader must acknowledge nothing,
# a new leader must take the writes, and after the heal the old leader
# truncates and rejoins: every acknowledged record there once and in
# order, the replicas' .log files byte-identical, every mount showing the
# same partition files, and the cut-off mount never showing a record that
# was later taken back nor a smaller st_size. Needs root (ip netns); the
# script removes its namespaces, mounts and directories, also on failure.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

ROOT=$(cd "$LIBDIR/../.." && pwd -P)
OUT=$MQ_TMP/partition.out
probe=mqpartprobe$$
if [ "$(id -u)" != 0 ] || ! command -v ip >/dev/null || ! command -v nsenter >/dev/null ||
	! ip netns add "$probe" 2>/dev/null; then
	skip "network partition" "needs root, ip netns and nsenter"
	mq_done
	exit 0
fi
ip netns del "$probe"
# Should the script be killed before it removes its namespaces (it names
# them on its first line), they go with the rest.
t_cleanup() {
	p=$(sed -n 's/^network namespaces \(mqpart[0-9]*-\)\*$/\1/p' "$OUT" 2>/dev/null)
	[ -n "$p" ] && for n in $(ip netns list | sed -n "s/^\($p[a-z0-9]*\).*/\1/p"); do
		ip netns del "$n"
	done
	_mq_cleanup "$1"
}
trap 't_cleanup $?' EXIT
trap 't_cleanup 130' INT
trap 't_cleanup 143' TERM

# TERM first: the script then unmounts, stops and removes what it made.
TMPDIR=$MQ_TMP timeout -k 30 240 python3 "$ROOT/contrib/cluster_partition.py" \
	--mqfs "$MQFS" --rounds 1 --writers 3 --partitions 2 --min-run 0.5 --max-run 1 \
	--seed 1 >"$OUT" 2>&1
rc=$?
sed 's/^/# /' "$OUT"
expect_eq "the partition run's exit status" "0" "$rc"
line=$(grep '^cut 1 (broker [123]): new leader [123] after ' "$OUT")
[ -n "$line" ] && ok "a new leader after the cut" || fail "new leader" "no round line"
case $line in
*"on the cut-off leader: 0 acknowledged"*) ok "the cut-off leader acknowledged nothing" ;;
*) fail "the cut-off leader acknowledged nothing" "$line" ;;
esac
case $line in
*"failed writes from the cut to its step-down: "*ETIMEDOUT*) ok "its acks=all writes failed with ETIMEDOUT" ;;
*) fail "its acks=all writes failed with ETIMEDOUT" "$line" ;;
esac
case $line in
*"after the heal: "[1-9]*" truncation(s)"*) ok "it truncated after the heal" ;;
*) fail "it truncated after the heal" "$line" ;;
esac
n=$(sed -n 's/^acknowledged records checked: \([0-9]*\).*/\1/p' "$OUT")
[ "${n:-0}" -gt 0 ] && ok "$n acknowledged records checked" || fail "records checked" "'$n'"
expect_eq "nothing lost, duplicated, garbled or divergent" "1" \
	"$(grep -c '^lost: 0  duplicated: 0  garbled: 0  unknown: 0  divergent replicas: 0  behind after 30 s: 0$' "$OUT")"
expect_eq "mounts agree, nothing uncommitted shown, st_size never smaller" "1" \
	"$(grep -c '^acknowledged while cut off: 0  mounts differing: 0  uncommitted records shown: 0  st_size decreases: 0$' "$OUT")"
prefix=$(sed -n 's/^network namespaces \(.*\)\*: removed$/\1/p' "$OUT")
[ -n "$prefix" ] && expect_eq "its network namespaces removed" "0" \
	"$(ip netns list | grep -c "^$prefix")"
expect_eq "no mount left" "0" "$(grep -c " $MQ_TMP/" /proc/mounts)"
expect_eq "its directory removed" "" "$(ls -d "$MQ_TMP"/mqfs-clpart.* 2>/dev/null)"

mq_done
