#!/bin/sh
# t_refusals.sh — every refused operation gets its errno and leaves the data
# byte-identical; bad names, bad config, read-only views, oversized records.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
T=$MNT/t
mkdir "$T"
seq 1 1000 > "$T/0"
cp "$T/0" "$MQ_TMP/before"
expect_errno "truncate refused" EPERM truncate -s 0 "$T/0"
expect_errno "rm refused" EPERM rm -f "$T/0"
expect_errno "mv refused" EPERM mv "$T/0" "$T/9"
expect_errno "ln refused" EPERM ln "$T/0" "$T/hard"
expect_errno "ln -s refused" EPERM ln -s 0 "$T/sym"
expect_errno "chmod refused" EPERM chmod 600 "$T/0"
expect_errno "chown refused" EPERM chown 1 "$T/0"
expect_errno "chmod of a view refused" EPERM chmod 600 "$T/.state"
expect_errno "mkfifo in a topic" EPERM mkfifo "$T/fifo"
expect_errno "new file in a topic" EPERM touch "$T/new"
expect_errno "mkdir in a topic" EPERM mkdir "$T/sub"
expect_errno "file at the root" EPERM touch "$MNT/file"
expect_errno "write .state" EACCES bash -c 'echo x > "$1"' sh "$T/.state"
expect_errno "write root .state" EACCES bash -c 'echo x > "$1"' sh "$MNT/.state"
expect_errno "write a segment file" EACCES bash -c 'echo x >> "$1"' sh "$T/.segments/0/00000000000000000000.log"
expect_errno "bad topic name" EINVAL mkdir "$MNT/bad name"
expect_errno "bad topic name chars" EINVAL mkdir "$MNT/a:b"
expect_errno "topic name too long" EINVAL mkdir "$MNT/$(printf 'x%.0s' $(seq 1 250))"
expect_ok "249 characters is fine" mkdir "$MNT/$(printf 'y%.0s' $(seq 1 249))"
expect_errno "mkdir twice" EEXIST mkdir "$T"
# Kafka's metric names turn '.' into '_': such names collide.
expect_ok "mkdir a.b" mkdir "$MNT/a.b"
expect_errno "a_b collides with a.b" EINVAL mkdir "$MNT/a_b"
expect_ok "logged, naming the other topic" grep -q "topic a_b: refused: it collides with the topic a.b" "$LOG"
expect_errno "a.b.c is no collision" EEXIST sh -c 'mkdir "$1" && mkdir "$1"' sh "$MNT/a.b.c"
expect_errno "unknown config key" EINVAL bash -c 'echo nosuch.key=1 > "$1"' sh "$T/.config"
expect_errno "bad config value" EINVAL bash -c 'echo segment.bytes=lots > "$1"' sh "$T/.config"
expect_errno "partitions may only grow" EINVAL bash -c 'echo partitions=0 > "$1"' sh "$T/.config"
expect_errno "config value out of range" EINVAL bash -c 'echo segment.bytes=5 > "$1"' sh "$T/.config"
expect_errno "bad config line" EINVAL bash -c 'echo retention.ms > "$1"' sh "$T/.config"
# Each refusal leaves one line in the daemon's log: the file, the key, why.
expect_ok "log: unknown key" grep -q "topic t: .config refused: line 1: unknown key 'nosuch.key'" "$LOG"
expect_ok "log: not a number" grep -q "topic t: .config refused: line 1: Invalid value lots for configuration segment.bytes: Not a number of type INT" "$LOG"
expect_ok "log: the range" grep -q "bad value for 'segment.bytes': '5' (expected an integer from [0-9]* to [0-9]*)" "$LOG"
expect_ok "log: partitions range" grep -q "bad value for 'partitions': '0' (expected an integer from 1 to 10000)" "$LOG"
expect_ok "log: not key=value" grep -q "topic t: .config refused: line 1: expected key=value: 'retention.ms'" "$LOG"
# A .config is all or nothing per open file: bash writes each echo on its
# own, a bad line refuses its write at once and the close applies none of
# the lines before it; several good writes are applied together at close.
expect_errno "two echos, the second bad" EINVAL bash -c '{ echo retention.ms=1234; echo nosuch.other=1; } > "$1"' sh "$T/.config"
expect_eq "the good line before the bad one not applied" "" "$(grep '^retention.ms=1234$' "$T/.config")"
expect_ok "log: the close applied nothing" grep -q "close t/.config: nothing of what was written to it applied: a write was refused" "$LOG"
expect_ok "two echos, both good" bash -c '{ echo retention.ms=1234; echo segment.ms=777777; } > "$1"' sh "$T/.config"
expect_eq "both applied" "retention.ms=1234 segment.ms=777777" \
	"$(grep -E '^(retention|segment)\.ms=' "$T/.config" | sort | tr '\n' ' ' | sed 's/ $//')"
# A last line without newline is checked at the close, whose error the
# shell does not report: the log does.
bash -c '{ echo retention.ms=4321; printf segment.ms=x; } > "$1"' sh "$T/.config"
expect_eq "a last line without newline, bad: nothing of that file applied" "retention.ms=1234" \
	"$(grep '^retention.ms=' "$T/.config")"
expect_ok "log: refused at the close" grep -q "close t/.config: Invalid argument, nothing changed" "$LOG"
# One write() per line through one open: each write's lines are checked
# after those before them without reading them all again (40,000 lines
# took minutes so), and a refusal still names its line from the open.
MQ_TIMEOUT_WAS=$MQ_TIMEOUT
MQ_TIMEOUT=20
expect_ok "40,000 lines, one write each, in one open" bash -c '
for i in $(seq 1 40000); do echo "retention.ms=$i"; done > "$1"' sh "$T/.config"
MQ_TIMEOUT=$MQ_TIMEOUT_WAS
expect_eq "the last one applied" "retention.ms=40000" "$(grep '^retention.ms=' "$T/.config")"
expect_errno "a bad line after 40,000 good ones" EINVAL bash -c '
{ for i in $(seq 1 40000); do echo "retention.ms=$i"; done; echo "# c"; echo segment.ms=x; } > "$1"' sh "$T/.config"
expect_ok "log: its line number, counted from the open" grep -q \
	"topic t: .config refused: line 40002: Invalid value x for configuration segment.ms: Not a number of type LONG" "$LOG"
expect_eq "nothing of that open applied" "retention.ms=40000" "$(grep '^retention.ms=' "$T/.config")"
bash -c 'echo retention.ms=1234 > "$1"' sh "$T/.config"
expect_errno "a line over 64 KiB, ended" EINVAL python3 -c "
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
os.write(fd, b'retention.ms=%70000s1000\\n' % b'')" "$T/.config"
expect_eq "nothing of it applied" "retention.ms=1234" "$(grep '^retention.ms=' "$T/.config")"
expect_ok "log: the long line" grep -q "write t/.config: refused: a line over 64 KiB" "$LOG"
expect_ok "partitions grow" sh -c 'echo partitions=3 > "$1"' sh "$T/.config"
expect_eq "three partitions" "0 1 2" "$(ls "$T" | tr '\n' ' ' | sed 's/ $//')"
expect_errno "partitions may not shrink" EINVAL bash -c 'echo partitions=2 > "$1"' sh "$T/.config"
expect_ok "log: partitions only grow" grep -q "bad value for 'partitions': '2' (partitions may only grow: now 3)" "$LOG"
expect_ok "key.separator before records (new topic)" sh -c 'mkdir "$1" && echo "key.separator=:" > "$1/.config"' sh "$MNT/k"
expect_ok "keyed line" sh -c 'echo "user1:hello" > "$1"' sh "$MNT/k/0"
expect_eq "keyed line reads back identically" "user1:hello" "$(mq_run cat "$MNT/k/0")"
expect_ok "dump shows the key" grep -q 'key: user1 value: hello' "$MNT/k/.segments/0/00000000000000000000.dump"
expect_errno "key.separator fixed after records" EBUSY bash -c 'echo "key.separator=," > "$1"' sh "$MNT/k/.config"
expect_eq "the close repeats EBUSY" "write EBUSY close EBUSY" "$(python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_TRUNC)
out = []
for what, f in (("write", lambda: os.write(fd, b"key.separator=,\n")), ("close", lambda: os.close(fd))):
    try:
        f(); out.append(what + " ok")
    except OSError as e:
        out.append(what + " " + errno.errorcode[e.errno])
print(" ".join(out))' "$MNT/k/.config")"
expect_ok "log: key.separator fixed" grep -q "topic k: .config refused: key.separator is fixed once the topic has records" "$LOG"
echo 'max.message.bytes=2000' > "$T/.config"
{ echo small; head -c 3000 /dev/zero | tr '\0' x; echo; } > "$MQ_TMP/toobig"
expect_errno "record over max.message.bytes" EMSGSIZE dd if="$MQ_TMP/toobig" of="$T/0" bs=1M status=none
expect_same "nothing of the refused write appended" "$MQ_TMP/before" "$T/0"
expect_errno "no such partition to read" ENOENT cat "$T/7"
expect_errno "writing a partition that does not exist" ENOENT bash -c 'echo x > "$1"' sh "$T/7"
expect_errno "appending to a partition that does not exist" ENOENT bash -c 'echo x >> "$1"' sh "$T/7"
expect_ok "no such partition is logged" grep -q 'create t/7: no such partition' "$LOG"
expect_errno "a non-partition name is still refused" EPERM bash -c 'echo x > "$1"' sh "$T/07"
expect_ok "rmdir deletes a topic" rmdir "$MNT/k"
expect_ok "its data is gone" test ! -e "$DATA/k-0"
expect_errno "deleted topic" ENOENT cat "$MNT/k/0"
expect_same "data byte-identical after all refusals" "$MQ_TMP/before" "$T/0"
expect_ok "refusals are logged" grep -q 'EPERM\|refused\|not permitted' "$LOG"
mq_umount

# Bad broker config: refuse to start, naming the line.
printf 'num.partitions=2\nno.such.key=1\n' > "$MQ_TMP/bad.properties"
expect_fail "bad config refuses to start" "$MQFS" -f --data "$DATA" --config "$MQ_TMP/bad.properties" "$MNT"
timeout 30 "$MQFS" -f --data "$DATA" --config "$MQ_TMP/bad.properties" "$MNT" 2> "$MQ_TMP/err"
expect_ok "message names the file, line and key" grep -q "bad.properties: line 2: unknown key 'no.such.key'" "$MQ_TMP/err"
printf 'log.segment.bytes=12\n' > "$MQ_TMP/bad.properties"
timeout 30 "$MQFS" -f --data "$DATA" --config "$MQ_TMP/bad.properties" "$MNT" 2> "$MQ_TMP/err"
expect_ok "message gives the range" grep -q "bad.properties: line 1: bad value for 'log.segment.bytes': '12' (expected an integer from [0-9]* to [0-9]*)" "$MQ_TMP/err"
printf 'num.partitions=2\n' > "$MQ_TMP/good.properties"
mq_mount --config "$MQ_TMP/good.properties"
mkdir "$MNT/two"
expect_eq "num.partitions from the config" "0 1" "$(ls "$MNT/two" | tr '\n' ' ' | sed 's/ $//')"
expect_same "data still there" "$MQ_TMP/before" "$T/0"
mq_umount
mq_done
