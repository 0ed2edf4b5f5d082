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

CLUSTER_CONF="num.partitions=1
default.replication.factor=2
min.insync.replicas=1
request.timeout.ms=10000
replica.lag.time.max.ms=3000
log.segment.bytes=1024
log.cleaner.backoff.ms=200
observer.idle.ms=600000"
zk_cluster_start
cluster_start3

isr_is() {
	p0_isr_is "$1" c "$2"
}
# writes FROM TO MNT: one write (one batch) a number, of three records
# with keys k<n % 4>, a<n % 3> and z<n>.
writes() {
	_i=$1
	while [ "$_i" -le "$2" ]; do
		printf 'k%d:v%03d\na%d:w%03d\nz%03d:x\n' $((_i % 4)) "$_i" $((_i % 3)) "$_i" "$_i" \
			>>"$3/c/0" || return 1
		_i=$((_i + 1))
	done
}

# What was written, as one file: each line's position there is its
# position on every mount (writes 1 103 "$MQ_TMP/orig" fills it).
mkdir -p "$MQ_TMP/orig/c"
: >"$MQ_TMP/orig/c/0"
# kept FILE: the lines of FILE (a partition file read whole, which goes
# on after each removed record) are lines written, in the order written,
# none twice, and the newest line of each key is among them.
kept() {
	awk -v got="$1" 'BEGIN { ok = (getline g < got) > 0 }
		ok && $0 == g { ok = (getline g < got) > 0 }
		END { exit ok }' "$MQ_TMP/orig/c/0" || return 1
	awk -F: '{ last[$1] = $0 } END { for (k in last) print last[k] }' "$MQ_TMP/orig/c/0" |
		sort >"$MQ_TMP/kept.newest"
	[ -z "$(sort "$1" | comm -13 - "$MQ_TMP/kept.newest")" ]
}
# at_positions N: on mnt N, a read at the position where each key's
# newest line was written gives that line (positions never move); one
# open, a pread each.
at_positions() {
	timeout 20 python3 - "$MQ_TMP/mnt$1/c/0" "$MQ_TMP/orig/c/0" "$MQ_TMP/kept.newest" <<'EOP'
import os, sys
orig = open(sys.argv[2], "rb").read()
fd = os.open(sys.argv[1], os.O_RDONLY)
for ln in open(sys.argv[3], "rb").read().split(b"\n"):
    if ln:
        # the last time it was written (never the first line: each key
        # is written again later)
        p = orig.rfind(b"\n" + ln + b"\n")
        if p < 0 or os.pread(fd, len(ln) + 1, p + 1) != ln + b"\n":
            sys.exit(1)
EOP
}
# mount_kept N: MQ_TMP/mntN/c/0 holds that, each line at its position.
mount_kept() {
	timeout 10 cat "$MQ_TMP/mnt$1/c/0" >"$MQ_TMP/mk.$1" 2>/dev/null && kept "$MQ_TMP/mk.$1" &&
		at_positions "$1"
}

cluster_mkdir c
roles2 c
LR=$(echo "$L $R" | tr ' ' '\n' | sort -n | paste -sd, -)
check "both replicas in the ISR" poll 20 isr_is "$MQ_TMP/mnt$L" "$LR"
ML=$MQ_TMP/mnt$L
MO=$MQ_TMP/mnt$O
MR=$MQ_TMP/mnt$R
printf 'key.separator=:\ncleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\n' >"$ML/c/.config"
expect_eq "compaction on for c" "cleanup.policy=compact" "$(grep '^cleanup.policy=' "$ML/c/.config")"

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
