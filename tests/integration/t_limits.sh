#!/bin/sh
# t_limits.sh — settings and names at their limits on a single node with
# `listeners=`:
#   - a topic's settings at Kafka 3.x's minimums (segment.bytes 14,
#     segment.index.bytes 4) and with a sign (+2048, -0), as Kafka reads
#     them, through .config; records written and read back, a segment
#     per batch;
#   - one write() of many batches under a small segment.index.bytes: no
#     .index passes it (the segment rolls between the write's batches);
#   - topics of dot-names, which Kafka's rules allow and mqfs never makes
#     but which a copied catalog (or ZooKeeper) may hold: the mount shows
#     none of them (the root's dot-names are its views: ".config" is
#     listed once and stays the broker's), `rmdir` does not reach them,
#     and Kafka clients produce to and consume from them.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

mq_mount_listener

# ---- Kafka's minimums and signs ----------------------------------------------
expect_ok "mkdir s" mkdir "$MNT/s"
expect_ok "segment.bytes=14, segment.index.bytes=4" \
	sh -c "printf 'segment.bytes=14\nsegment.index.bytes=4\n' > '$MNT/s/.config'"
# No batch fits 14 bytes: refused as a record too large, as Kafka refuses
# a batch over segment.bytes (RECORD_LIST_TOO_LARGE), nothing appended.
expect_errno "a write under segment.bytes=14: EMSGSIZE" EMSGSIZE \
	bash -c "echo r0 >> '$MNT/s/0'"
expect_ok "the refusal names segment.bytes" grep -q "s/0 at offset 0: .*over segment.bytes" "$LOG"
printf 'k1\n' | kcat -P -b "$B" -t s -p 0 >"$MQ_TMP/kcat.out" 2>&1
expect_ok "a Kafka client's batch: RECORD_LIST_TOO_LARGE" \
	grep -q "Message batch larger than configured server segment size" "$MQ_TMP/kcat.out"
# shellcheck disable=SC2016 # awk's own field
expect_eq "nothing appended (log end 0)" "0" "$(mq_run awk 'NR == 2 { print $4 }' "$MNT/s/.state")"
expect_ok "segment.bytes=1024" sh -c "echo segment.bytes=1024 > '$MNT/s/.config'"
expect_ok "three writes" sh -c "for i in 1 2 3; do echo r\$i >> '$MNT/s/0' || exit 1; done"
expect_eq "read back" "$(printf 'r1\nr2\nr3')" "$(mq_run cat "$MNT/s/0")"
# shellcheck disable=SC2016 # awk's own field
expect_eq "a segment per batch" "3" \
	"$(mq_run awk 'NR == 2 { print $10 }' "$MNT/s/.state")"
expect_ok "segment.bytes=+2048, index.interval.bytes=-0" \
	sh -c "printf 'segment.bytes=+2048\nindex.interval.bytes=-0\n' > '$MNT/s/.config'"
expect_eq ".config shows them without the sign" "segment.bytes=2048 index.interval.bytes=0" \
	"$(mq_run grep -E '^(segment.bytes|index.interval.bytes)=' "$MNT/s/.config" | tr '\n' ' ' |
		sed 's/ $//')"
expect_errno "segment.bytes=13: EINVAL" EINVAL bash -c "echo segment.bytes=13 > '$MNT/s/.config'"

# ---- a full index inside one write --------------------------------------------
expect_ok "mkdir ix" mkdir "$MNT/ix"
expect_ok "segment.index.bytes=4096, index.interval.bytes=0, batch.size=1" \
	sh -c "printf 'segment.index.bytes=4096\nindex.interval.bytes=0\nbatch.size=1\n' > '$MNT/ix/.config'"
seq 1 2000 >"$MQ_TMP/lines"
expect_ok "2000 lines in one write" sh -c "cat '$MQ_TMP/lines' >> '$MNT/ix/0'"
expect_eq "read back" "$(cat "$MQ_TMP/lines")" "$(mq_run cat "$MNT/ix/0")"
big=$(find "$DATA/ix-0" -name '*.index' -size +4096c | wc -l)
expect_eq "no .index over 4096 bytes" "0" "$big"
big=$(find "$DATA/ix-0" -name '*.timeindex' -size +4096c | wc -l)
expect_eq "no .timeindex over 4096 bytes (the roll's entry in the slot kept for it)" "0" "$big"
expect_ok "several segments" sh -c "[ \$(ls '$DATA/ix-0' | grep -c '\\.index\$') -gt 1 ]"

# ---- topics of dot-names ------------------------------------------------------
expect_ok "mkdir .hid: refused" sh -c "! mkdir '$MNT/.hid' 2>/dev/null"
mq_umount
for n in .hid .config; do
	sed "s/^topic=s\$/topic=$n/" "$DATA/meta/topics/s.properties" >"$DATA/meta/topics/$n.properties"
done
mq_mount --config "$MQ_TMP/server.properties"
expect_eq "the root lists its views once and no dot-named topic" \
	". .. .config .metrics .state ix s" "$(mq_run ls -a "$MNT" | tr '\n' ' ' | sed 's/ $//')"
expect_errno "stat .hid: ENOENT" ENOENT stat "$MNT/.hid"
expect_errno "rmdir .hid: ENOENT" ENOENT rmdir "$MNT/.hid"
expect_ok ".config is the broker's" grep -q '^broker.id=0$' "$MNT/.config"
expect_ok "kcat -L lists .hid" sh -c "kcat -b '$B' -L -t .hid 2>&1 | grep -q 'topic \".hid\" with 1 partitions'"
printf 'k1\n' | mq_run kcat -P -b "$B" -t .hid -p 0
expect_eq "kcat reads .hid back" "k1" "$(mq_run kcat -C -b "$B" -t .hid -p 0 -e -q -o beginning)"

mq_done
