#!/bin/sh
# t_kafka_codecs.sh — snappy and zstd record batches end to end on a single
# node with `listeners=`: kcat (librdkafka) produces with
# `-X compression.codec=snappy` and `zstd`, interleaved with mount writes;
# under compression.type=producer the batches are stored in the client's
# codec (.dump), the line view (cat) and `kcat -C` give every record back.
# Topics with compression.type=zstd and snappy written with echo store
# their batches in that codec (snappy in snappy-java's xerial framing, as
# Kafka's broker writes it: the payload starts with 0x82 "SNAPPY" 0), a
# kcat gzip batch sent to them is recompressed, and kcat reads all of it.
# After a restart (the open path decodes the stored batches again) the
# same records read back.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

mq_mount_listener

consume() {    # consume TOPIC: kcat -C from the beginning, the values
	mq_run kcat -C -b "$B" -t "$1" -p 0 -e -q -f '%s\n' -o beginning
}

# Values that compress (librdkafka sends a batch plain when its codec
# would not make it smaller).
pad=$(printf '%0200d' 0)
recs() {       # recs TAG: three records TAG0-000... TAG2-000...
	printf '%s0-%s\n%s1-%s\n%s2-%s' "$1" "$pad" "$1" "$pad" "$1" "$pad"
}

# compression.type=producer: kcat's snappy and zstd batches kept as sent,
# between the mount's records.
for c in snappy zstd; do
	expect_ok "mkdir $c" mkdir "$MNT/$c"
	expect_ok "echo m0 >> $c/0" sh -c "echo m0 >> '$MNT/$c/0'"
	recs "$c" | mq_run kcat -P -b "$B" -t "$c" -p 0 -X compression.codec="$c"
	expect_ok "echo m4 >> $c/0" sh -c "echo m4 >> '$MNT/$c/0'"
	expect_eq "$c: the batches' codecs (the mount's none, kcat's $c)" \
		"none $c " "$(mq_dump_codecs "$MNT/$c")"
	mq_dump_valid "$c" "$MNT/$c"
	want=$(printf 'm0\n%s\nm4' "$(recs "$c")")
	expect_eq "$c: cat shows every record" "$want" "$(cat "$MNT/$c/0")"
	expect_eq "$c: kcat -C reads every record" "$want" "$(consume "$c")"
done

# A topic's compression.type=zstd or snappy: the mount's lines and kcat's
# gzip batch are stored in it, and read back by cat and kcat.
for c in zstd snappy; do
	t=t$c
	expect_ok "mkdir $t" mkdir "$MNT/$t"
	expect_ok "$t: compression.type=$c" sh -c "echo compression.type=$c > '$MNT/$t/.config'"
	expect_eq "$t: .config says so" "compression.type=$c" \
		"$(grep '^compression.type=' "$MNT/$t/.config")"
	expect_ok "echo lines >> $t/0" sh -c "printf 'e0-%s\ne1-%s\n' '$pad' '$pad' >> '$MNT/$t/0'"
	recs g | mq_run kcat -P -b "$B" -t "$t" -p 0 -z gzip
	expect_eq "$t: every batch stored $c" "$c " "$(mq_dump_codecs "$MNT/$t")"
	mq_dump_valid "$t" "$MNT/$t"
	want=$(printf 'e0-%s\ne1-%s\n%s' "$pad" "$pad" "$(recs g)")
	expect_eq "$t: cat shows every record" "$want" "$(cat "$MNT/$t/0")"
	expect_eq "$t: kcat -C reads every record" "$want" "$(consume "$t")"
done
# The first batch's payload (after the 61-byte header): snappy-java's
# stream header, magic and versions 1 and 1.
expect_eq "tsnappy: the stored payload is in the xerial framing" \
	"82534e415050590000000001000000" \
	"$(od -An -tx1 -j61 -N15 "$MNT/tsnappy/.segments/0/00000000000000000000.log" | tr -d ' \n')"
# zstd's frame magic, 0xFD2FB528 little-endian.
expect_eq "tzstd: the stored payload is a zstd frame" "28b52ffd" \
	"$(od -An -tx1 -j61 -N4 "$MNT/tzstd/.segments/0/00000000000000000000.log" | tr -d ' \n')"

# After a restart the same records read back from the stored batches.
for c in snappy zstd tsnappy tzstd; do
	cat "$MNT/$c/0" >"$MQ_TMP/before-$c"
done
mq_umount || mq_done
mq_mount --config "$MQ_TMP/server.properties"
for c in snappy zstd tsnappy tzstd; do
	expect_eq "$c after a restart: cat the same" "$(cat "$MQ_TMP/before-$c")" "$(cat "$MNT/$c/0")"
done
expect_eq "tzstd after a restart: kcat -C the same" "$(cat "$MQ_TMP/before-tzstd")" \
	"$(consume tzstd)"

mq_done
