#!/bin/sh
# t_cluster_compacted_copy.sh — copies of a compacted log: ZooKeeper and
# three brokers, a compacted topic of one partition with two replicas
# (leader L, follower R, and O without a replica). R is killed; L takes
# many writes of a few keys and its cleaner removes the old values,
# leaving gaps in offsets and line positions. Then O's read copy, made
# only now from offset 0, and R restarted both copy the compacted part
# across those gaps: O's cat gives the leader mount's bytes; R rejoins
# the ISR. Each replica compacts on its own, so which older values R
# still holds may differ from L, but on every mount each line read is a
# line written, at the position it was written at, each key's newest
# value is there, and st_size is the leader's. L killed: R leads with all
# that, and takes new writes, which O's copy follows.

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

# ---- the follower goes away; the leader compacts ----------------------------
writes 1 103 "$MQ_TMP/orig"
check "three batches on mnt$L" writes 1 3 "$ML"
r_has9() {
	[ "$(timeout 5 wc -l <"$MR/c/0" 2>/dev/null)" = "9" ]
}
check "the follower has them" poll 20 r_has9
eval "RPID=\$PID$R"
mq_kill9 "$MR" "$RPID"
check "the follower leaves the ISR" poll 30 isr_is "$ML" "$L"
check "a hundred more batches on mnt$L" writes 4 103 "$ML"
# k0..k3 and a0..a2 written over and over: once cleaned, each key's older
# values are gone from every closed segment.
compacted() {
	[ "$(timeout 5 grep -c '^k0:' "$ML/c/0" 2>/dev/null)" -le 2 ] 2>/dev/null
}
check "the leader's cleaner removed old values" poll 30 compacted
expect_ok "records removed (.metrics)" grep -q '^mqfs_cleaner_removed_records_total [1-9]' "$ML/.metrics"
# A survivor past the cleaned part's gaps, at the position it was
# written at.
P=$(grep -b '^z050:x$' "$MQ_TMP/orig/c/0" | cut -d: -f1)
check "mnt$L: lines at their positions, each key's newest" mount_kept "$L"
same_at() { # same_at MNT: MNT reads z050 at the leader's position
	[ "$(timeout 10 dd if="$1/c/0" iflag=skip_bytes,count_bytes bs=64k skip="$P" count=6 2>/dev/null)" = "z050:x" ]
}

# ---- the mount without a replica: its read copy from offset 0 ----------------
check "cat on mnt$O: the leader mount's bytes" poll 20 same_file "$MO/c/0" "$ML/c/0"
expect_eq "mnt$O: st_size is the leader's" "$(stat -c %s "$ML/c/0")" "$(stat -c %s "$MO/c/0")"
check "mnt$O: dd skip= at a survivor's position" same_at "$MO"
expect_ok "no batch refused for a missing line position" \
	test "$(grep -c 'without a line position' "$LOG")" = 0

# ---- the follower comes back --------------------------------------------------
broker_start "$R"
check "the follower rejoins the ISR" poll 40 isr_is "$ML" "$LR"
check "mnt$R: lines at their positions, each key's newest" poll 20 mount_kept "$R"
expect_eq "mnt$R: st_size is the leader's" "$(stat -c %s "$ML/c/0")" "$(stat -c %s "$MR/c/0")"
check "mnt$R: dd skip= at a survivor's position" same_at "$MR"

# ---- the leader goes: the follower leads, with the same bytes ---------------
SIZE=$(stat -c %s "$ML/c/0")
eval "LPID=\$PID$L"
mq_kill9 "$ML" "$LPID"
leads() {
	[ "$(p0_field "$MR" c 5)" = "$R" ]
}
check "broker $R leads c" poll 30 leads
check "mnt$R: lines at their positions, each key's newest" mount_kept "$R"
expect_eq "mnt$R: st_size unchanged" "$SIZE" "$(stat -c %s "$MR/c/0")"
check "mnt$R: dd skip= at a survivor's position" same_at "$MR"
check "a write through mnt$R" writes 104 104 "$MR"
writes 104 104 "$MQ_TMP/orig"
o_has104() {
	timeout 10 tail -n 3 "$MO/c/0" 2>/dev/null | grep -qx z104:x
}
check "mnt$O follows the new leader: the new record last" poll 20 o_has104
check "mnt$O: lines at their positions, each key's newest" mount_kept "$O"
expect_eq "mnt$O: st_size is the new leader's" "$(stat -c %s "$MR/c/0")" "$(stat -c %s "$MO/c/0")"

mq_done
