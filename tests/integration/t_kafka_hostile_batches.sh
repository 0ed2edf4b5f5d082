#!/bin/sh
# t_kafka_hostile_batches.sh — compressed record batches a hostile client
# sends through the real listener of a single node (kafka_hostile.py), each
# with a CRC-32C that matches: payloads cut short, garbage, in another
# codec than the attributes say, with trailing bytes, lying lz4 and zstd
# content sizes and checksums, absurd snappy xerial chunk lengths, a zlib
# stream labelled gzip, two gzip members or two lz4 frames (which
# librdkafka's consumers cannot read whole); decompression bombs (gzip, zstd, lz4, snappy,
# a zstd frame with a 128 MiB window); payloads that decode to records
# that lie (counts, lengths past the end, negative lengths, offset deltas
# out of order, huge header counts). Sent to a topic that keeps the
# client's codec, a compacted one and topics that recompress to zstd and
# lz4, each is refused with CORRUPT_MESSAGE and a log line, nothing of it
# is appended; the records acknowledged around them read back exactly
# (cat, kcat -C, every batch of .dump valid), also after the cleaner
# compacted and after a restart. zstd frames back to back, which every
# client reads, are taken. The broker's memory after eight
# zstd bombs at once stays near what it was (no decoder keeps a bomb's
# window), and an lz4 frame with a lying content size leaves later lz4
# batches decodable on every listener thread.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

mq_mount_listener log.cleaner.backoff.ms=200

hostile() { mq_run python3 "$LIBDIR/kafka_hostile.py" "$@"; }
# good TOPIC CODEC TAG N: N valid records TAG-0.. (keys k-0..) in one
# batch, added to MQ_TMP/want-TOPIC once appended.
good() {
	_g=$(hostile good 127.0.0.1 "$PORT" "$1" 0 "$2" "$3" "$4" "$MQ_TMP/want-$1")
	case $_g in "error 0 base "*) ;; *) fail "$1: a valid $2 batch is appended" "$_g" ;; esac
}
rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$MQ_PID/status"; }

# p keeps a client's codec; c is compacted; rzstd and rlz4 recompress.
for t in p c rzstd rlz4; do
	expect_ok "mkdir $t" mkdir "$MNT/$t"
	# Room for the bombs (a few MiB as sent): refused for what they
	# decompress to, not for their size.
	expect_ok "$t: .config" sh -c "printf 'key.separator=:\nmax.message.bytes=8388608\n' > '$MNT/$t/.config'"
	: >"$MQ_TMP/want-$t"
done
printf 'segment.bytes=4096\ncleanup.policy=compact\nmin.cleanable.dirty.ratio=0.01\n' >"$MNT/c/.config"
echo compression.type=zstd >"$MNT/rzstd/.config"
echo compression.type=lz4 >"$MNT/rlz4/.config"
expect_eq "c is compacted" "cleanup.policy=compact" "$(grep '^cleanup.policy=' "$MNT/c/.config")"
expect_eq "rzstd and rlz4 recompress" "compression.type=zstd compression.type=lz4" \
	"$(grep -h '^compression.type=' "$MNT/rzstd/.config" "$MNT/rlz4/.config" | tr '\n' ' ' | sed 's/ $//')"

names=$(hostile list | grep -v bomb)
bombs=$(hostile list | grep bomb)
for t in p c rzstd rlz4; do
	for c in none gzip snappy lz4 zstd; do
		good "$t" "$c" "$t-$c-before" 3
	done
done
# The first refusals of a 10 s window are logged, the rest counted: the
# bombs go first so that each has its line.
# Bombs, one after the other to each topic, then eight zstd frames with a
# 128 MiB window at once (one per listener thread): each refused; the
# memory they took is given back.
rss0=$(rss_kib)
for t in p c rzstd rlz4; do
	# shellcheck disable=SC2086 # a list of names
	hostile send 127.0.0.1 "$PORT" "$t" 0 $bombs >"$MQ_TMP/bombs-$t"
	expect_eq "$t: every bomb refused with CORRUPT_MESSAGE" \
		"$(echo "$bombs" | sed 's/$/ error 2/')" "$(cat "$MQ_TMP/bombs-$t")"
	[ "$t" = p ] || continue
	for c in gzip snappy lz4 zstd; do
		expect_ok "the log names the $c bomb" grep -q \
			"to p-0 refused: CORRUPT_MESSAGE: record batch 0 not valid: its $c payload does not decompress, or to more than 64 MiB" "$LOG"
	done
done
hostile parallel 127.0.0.1 "$PORT" p 0 zstd-bomb-long-window 8 >"$MQ_TMP/par"
expect_eq "eight zstd bombs at once refused" "8" "$(grep -c ' error 2$' "$MQ_TMP/par")"
rss1=$(rss_kib)
if [ -n "${SANITIZER_DIR:-}" ]; then
	skip "memory after the bombs" "a sanitizer's allocator keeps freed memory"
elif [ $((rss1 - rss0)) -lt 262144 ]; then
	# What stays is the allocator's free memory of each thread, a few
	# MiB; a decoder that kept a bomb's window held 64 MiB a thread.
	ok "memory after the bombs within 256 MiB of before ($rss0 -> $rss1 KiB)"
else
	fail "memory after the bombs" "VmRSS $rss0 KiB before, $rss1 KiB after"
fi

for t in p c rzstd rlz4; do
	# shellcheck disable=SC2086 # a list of names
	hostile send 127.0.0.1 "$PORT" "$t" 0 $names >"$MQ_TMP/sent-$t"
	expect_eq "$t: every malformed batch answered" "$(echo "$names" | wc -l)" \
		"$(wc -l <"$MQ_TMP/sent-$t")"
	expect_eq "$t: every malformed batch refused with CORRUPT_MESSAGE" "" \
		"$(grep -v ' error 2$' "$MQ_TMP/sent-$t")"
	good "$t" zstd-frames "$t-zstd-frames" 2
	for c in none gzip snappy lz4 zstd; do
		good "$t" "$c" "$t-$c-after" 3
	done
done
expect_ok "the log names a refused payload" \
	grep -q "CORRUPT_MESSAGE: record batch 0 not valid: its gzip payload does not decompress" "$LOG"

# lz4 frames whose content size lies, on many connections (every listener
# thread meets some), then valid lz4 batches: every one appended.
i=0
while [ "$i" -lt 16 ]; do
	hostile send 127.0.0.1 "$PORT" p 0 lz4-content-size-huge lz4-content-size-too-small >/dev/null
	i=$((i + 1))
done
i=0
while [ "$i" -lt 16 ]; do
	good p lz4 "p-lz4-$i" 1
	i=$((i + 1))
done
ok "valid lz4 batches appended after lying lz4 frames"

consume() { mq_run kcat -C -b "$B" -t "$1" -p 0 -e -q -f '%k:%s\n' -o beginning; }
for t in p c rzstd rlz4; do
	expect_eq "$t: cat shows exactly the acknowledged records" "$(cat "$MQ_TMP/want-$t")" \
		"$(cat "$MNT/$t/0")"
	expect_eq "$t: kcat -C reads exactly them" "$(cat "$MQ_TMP/want-$t")" "$(consume "$t")"
	mq_dump_valid "$t" "$MNT/$t"
done
expect_eq "rzstd: every batch stored zstd" "zstd " "$(mq_dump_codecs "$MNT/rzstd")"
expect_eq "rlz4: every batch stored lz4" "lz4 " "$(mq_dump_codecs "$MNT/rlz4")"

# The cleaner compacts c (filler rolls its active segment): each key's
# newest record stays.
expect_ok "filler rolls c's segment" sh -c \
	'awk "BEGIN{for(i=1;i<=300;i++)printf \"z%d:x\\n\", i}" >> "$1"' sh "$MNT/c/0"
{ tail -n 3 "$MQ_TMP/want-c"; awk 'BEGIN{for(i=1;i<=300;i++)printf "z%d:x\n", i}'; } >"$MQ_TMP/want-c2"
compacted() { [ "$(grep -c '^k-' "$MNT/c/0")" -eq 3 ]; }
check "the cleaner keeps each key's newest record" poll 30 compacted
expect_eq "c after compaction" "$(cat "$MQ_TMP/want-c2")" "$(cat "$MNT/c/0")"
expect_eq "no cleaner errors" "mqfs_cleaner_errors_total 0" \
	"$(grep '^mqfs_cleaner_errors_total ' "$MNT/.metrics")"

# After a restart (the open path decodes the stored batches again) the
# same records read back.
for t in p c rzstd rlz4; do
	cat "$MNT/$t/0" >"$MQ_TMP/before-$t"
done
mq_umount || mq_done
mq_mount --config "$MQ_TMP/server.properties"
for t in p c rzstd rlz4; do
	expect_eq "$t after a restart: cat the same" "$(cat "$MQ_TMP/before-$t")" "$(cat "$MNT/$t/0")"
	expect_eq "$t after a restart: kcat -C the same" "$(cat "$MQ_TMP/before-$t")" "$(consume "$t")"
done

mq_done
