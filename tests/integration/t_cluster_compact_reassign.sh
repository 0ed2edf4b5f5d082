#!/bin/sh
# t_cluster_compact_reassign.sh — a compacted partition reassigned to a
# broker that never had it: ZooKeeper and three brokers, a compacted
# topic of one partition on L (leader) and R; O has none. L's cleaner
# compacts a hundred writes of a few keys, leaving gaps in offsets and
# line positions; then /admin/reassign_partitions moves it to [R,O]: O's
# new replica copies the compacted log from offset 0 across the gaps, the
# move completes and the leadership leaves L. On R and O, and on L's
# mount (its read copy now), each line read is a line written, at the
# position it was written at, each key's newest value is there, st_size
# is the leader's; a write after the move reaches every mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# shellcheck source=tests/integration/compact_lib.sh
. "$LIBDIR/compact_lib.sh"

compact_cluster_start

compacted_c

writes 1 103 "$MQ_TMP/orig"
check "a hundred and three batches on mnt$L" writes 1 103 "$ML"
compacted() {
	[ "$(timeout 5 grep -c '^k0:' "$ML/c/0" 2>/dev/null)" -le 2 ] 2>/dev/null
}
check "the leader's cleaner removed old values" poll 30 compacted
check "mnt$L: lines at their positions, each key's newest" mount_kept "$L"

# ---- the move [L,R] -> [R,O] ----------------------------------------------------
replicas_are() { # replicas_are N "[a,b]": mntN's .state, in order
	[ "$(p0_field "$MQ_TMP/mnt$1" c 7)" = "$2" ]
}
zk_cli "$ZKPORT" create /mqfs/admin/reassign_partitions \
	"{\"version\":1,\"partitions\":[{\"topic\":\"c\",\"partition\":0,\"replicas\":[$R,$O]}]}" \
	>>"$LOG" 2>&1
check "moved: mnt$R's replicas are [$R,$O]" poll 60 replicas_are "$R" "[$R,$O]"
check "mnt$O's replicas are [$R,$O]" poll 30 replicas_are "$O" "[$R,$O]"
RO=$(echo "$R $O" | tr ' ' '\n' | sort -n | paste -sd, -)
check "both new replicas in the ISR" poll 30 isr_is "$MR" "$RO"
NL=$(p0_field "$MR" c 5)
case $NL in
"$R" | "$O") ok "the leader moved off broker $L: broker $NL" ;;
*) fail "the leader moved off broker $L" "leader '$NL'" ;;
esac
for n in "$O" "$R" "$L"; do
	check "mnt$n: lines at their positions, each key's newest" poll 20 mount_kept "$n"
	expect_eq "mnt$n: st_size is the leader's" "$(stat -c %s "$MQ_TMP/mnt$NL/c/0")" \
		"$(stat -c %s "$MQ_TMP/mnt$n/c/0")"
done
check "a write through mnt$L" writes 104 104 "$ML"
writes 104 104 "$MQ_TMP/orig"
has104() {
	timeout 10 tail -n 3 "$MQ_TMP/mnt$1/c/0" 2>/dev/null | grep -qx z104:x
}
for n in "$O" "$R" "$L"; do
	check "mnt$n: the new record last" poll 20 has104 "$n"
	check "mnt$n: lines at their positions, each key's newest" mount_kept "$n"
done

mq_done
