#!/bin/sh
# t_upgrade_files.sh — a single node's data directory as an mqfs that
# kept fewer settings left it: a topic's meta/topics/<topic>.properties
# without line.format (crafted here from one this mqfs wrote, the line
# removed). The start says so in one line naming the file, the topic is
# line.format=raw and its records read as before, at the same
# positions; the next write of the file pins line.format=raw, and the
# start after that says nothing.
# shellcheck disable=SC2119 # mq_mount and mq_umount take no argument here

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

mq_mount
expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "t: line.format=raw" sh -c "echo line.format=raw > '$MNT/t/.config'"
expect_ok "t: three records" sh -c "printf 'a\nb\\\\c\nd\n' >> '$MNT/t/0'"
timeout 10 cat "$MNT/t/0" >"$MQ_TMP/want"
size=$(stat -c %s "$MNT/t/0")
mq_umount

P=$DATA/meta/topics/t.properties
expect_ok "the file names line.format" grep -qx 'line.format=raw' "$P"
grep -v '^line.format=' "$P" >"$MQ_TMP/p" && cat "$MQ_TMP/p" >"$P"
expect_fail "line.format removed" grep -q '^line.format=' "$P"

mq_mount
said() { grep -c "catalog: $P names no line.format (written by an mqfs without the setting): topic t is line.format=raw" "$LOG"; }
expect_eq "the start says the file names no line.format" 1 "$(said)"
expect_ok "t's .config: line.format=raw" grep -qx 'line.format=raw' "$MNT/t/.config"
expect_same "t/0 reads as before" "$MQ_TMP/want" "$MNT/t/0"
expect_eq "t/0's size as before" "$size" "$(stat -c %s "$MNT/t/0")"
expect_ok "a setting written" sh -c "echo retention.ms=86400000 > '$MNT/t/.config'"
expect_ok "the file names line.format=raw again" grep -qx 'line.format=raw' "$P"
mq_umount
mq_mount
expect_eq "the next start says nothing" 1 "$(said)"
mq_umount

mq_done
