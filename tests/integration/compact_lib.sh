# shellcheck shell=sh
# compact_lib.sh — what the scripts of a compacted topic "c" copied
# between brokers share: writes of a few keys over and over, the file of
# everything written (each line at its position on every mount), and the
# check that a mount's partition file holds lines written, at their
# positions, each key's newest among them. Sourced after cluster_lib.sh.

# A ZooKeeper and three brokers for such a topic: two replicas, segments
# of 1 KiB and a cleaner that looks every 200 ms, so that every few
# writes roll a segment the cleaner compacts.
compact_cluster_start() {
	# shellcheck disable=SC2034 # read by cluster_lib.sh's conf
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
}

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

# compacted_c: topic c made (two replicas: L leads, R follows, O has
# none; LR the ISR they make, ML, MR and MO their mounts), both in the
# ISR, compacted with a dirty ratio low enough that the cleaner runs at
# once.
compacted_c() {
	cluster_mkdir c
	roles2 c
	LR=$(echo "$L $R" | tr ' ' '\n' | sort -n | paste -sd, -)
	check "both replicas in the ISR" poll 20 isr_is "$MQ_TMP/mnt$L" "$LR"
	ML=$MQ_TMP/mnt$L
	# shellcheck disable=SC2034 # the scripts' own
	MO=$MQ_TMP/mnt$O
	# shellcheck disable=SC2034
	MR=$MQ_TMP/mnt$R
	printf 'key.separator=:\ncleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\n' >"$ML/c/.config"
	expect_eq "compaction on for c" "cleanup.policy=compact" \
		"$(grep '^cleanup.policy=' "$ML/c/.config")"
}
