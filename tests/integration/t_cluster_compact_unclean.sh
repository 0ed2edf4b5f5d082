#!/bin/sh
# t_cluster_compact_unclean.sh — an unclean leader election on a compacted
# topic, and the old leader's truncation below what its cleaner compacted:
# ZooKeeper and three brokers, a compacted topic of one partition with two
# replicas (leader L, follower R) that allows an unclean election. Values
# d0..d9 reach both; R is frozen and leaves the ISR; L takes many more
# records (other keys) and its cleaner compacts them, up past where R's
# log ends. L is killed, R thawed: R leads uncleanly from its shorter log
# and takes tombstones of d0..d9 and more records. L restarted truncates
# to R's log end, below its own compacted part, and fetches R's records:
# they are dirty on L too, so its cleaner meets the tombstones and removes
# d0..d9's values below the cut, then the tombstones (delete.retention.ms
# is 1 s). Had the truncation left L's first dirty offset where it was,
# the tombstones would count as cleaned: the values stayed on L for ever,
# and once the tombstones went the deleted keys were back for any reader
# of L. Both mounts then read no d line, and the same st_size.

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

cluster_mkdir c
roles2 c
LR=$(echo "$L $R" | tr ' ' '\n' | sort -n | paste -sd, -)
check "both replicas in the ISR" poll 20 p0_isr_is "$MQ_TMP/mnt$L" c "$LR"
ML=$MQ_TMP/mnt$L
MR=$MQ_TMP/mnt$R
printf 'key.separator=:\ncleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\ndelete.retention.ms=1000\nunclean.leader.election.enable=true\n' >"$ML/c/.config"
cfg_on() {
	timeout 5 grep -qx 'unclean.leader.election.enable=true' "$1/c/.config"
}
check "mnt$R: the topic's settings" poll 20 cfg_on "$MR"

# fill MNT FROM TO: one write a number, of three records of keys f<n % 5>,
# g<n % 3>, h<n % 2>: many segments, most records soon superseded.
fill() {
	_i=$2
	while [ "$_i" -le "$3" ]; do
		printf 'f%d:%d\ng%d:%d\nh%d:%d\n' $((_i % 5)) "$_i" $((_i % 3)) "$_i" $((_i % 2)) "$_i" \
			>>"$1/c/0" || return 1
		_i=$((_i + 1))
	done
}
# dcount MNT: the lines of keys d0..d9 MNT reads.
dcount() {
	timeout 10 cat "$1/c/0" 2>/dev/null | grep -c '^d[0-9]:'
}
dcount_is() {
	[ "$(dcount "$1")" = "$2" ]
}
expect_ok "d0..d9 and more on mnt$L" sh -c "printf 'd%d:old\n' 0 1 2 3 4 5 6 7 8 9 >>'$ML/c/0'"
check "more records on mnt$L" fill "$ML" 1 20
r_end() {
	[ "$(p0_field "$MR" c 4)" = "$(p0_field "$ML" c 4)" ]
}
check "the follower has them all" poll 20 r_end
check "mnt$R: d0..d9" dcount_is "$MR" 10

# ---- the follower falls behind; the leader compacts past its end ----------
eval "RPID=\$PID$R"
stop_broker "$RPID"
check "the follower leaves the ISR" poll 30 p0_isr_is "$ML" c "$L"
T=$(p0_field "$ML" c 4)
check "many more records on mnt$L" fill "$ML" 21 200
removed() {
	[ "$(timeout 5 awk '$1 == "mqfs_cleaner_removed_records_total" { print $2 }' \
		"$ML/.metrics" 2>/dev/null)" -gt 300 ] 2>/dev/null
}
check "mnt$L: the cleaner compacted past offset $T" poll 30 removed
check "mnt$L: d0..d9 kept" dcount_is "$ML" 10

# ---- the leader dies; the follower leads uncleanly ---------------------------
eval "LPID=\$PID$L"
mq_kill9 "$ML" "$LPID"
thaw_pid "$RPID"
leads() {
	[ "$(p0_field "$MR" c 5)" = "$R" ]
}
check "broker $R leads c (an unclean election)" poll 40 leads
expect_eq "its log ends where it stopped" "$T" "$(p0_field "$MR" c 4)"
expect_ok "tombstones of d0..d9 on mnt$R" sh -c "printf 'd%d:\n' 0 1 2 3 4 5 6 7 8 9 >>'$MR/c/0'"
check "more records on mnt$R" fill "$MR" 201 260

# ---- the old leader comes back, truncates, and compacts what it fetched -------
broker_start "$L"
check "broker $L rejoins the ISR" poll 40 p0_isr_is "$MR" c "$LR"
check "the old leader truncated below its compacted part" \
	grep -q "c-0: truncated to offset $T " "$LOG"
# A tombstone goes in a clean after its horizon: a record more at each
# try gives each replica's cleaner something to do, and it removes the
# tombstones, and before them the values they deleted.
N=261
d_gone() {
	fill "$MR" "$N" "$N" || return 1
	N=$((N + 1))
	dcount_is "$MR" 0 && dcount_is "$ML" 0
}
check "no d line on mnt$R and mnt$L (values and tombstones removed)" poll 40 d_gone
expect_eq "mnt$L: st_size is the leader's" "$(stat -c %s "$MR/c/0")" "$(stat -c %s "$ML/c/0")"

mq_done
