#!/bin/sh
# t_kafka_consume.sh — Kafka clients consume from a single node with
# `listeners=` (Fetch and ListOffsets): records written through the mount
# and by `kcat -P` (record batches v2, since Fetch is served) come back to
# `kcat -C` in order at the offsets the mount gave them; `-o -2` reads the
# tail; a consumer waiting at the end gets a record appended later through
# the mount (the fetch purgatory); `kcat -Q` and kafkajs's admin client
# find offsets for times, the earliest and the latest (the hw). A topic's
# compression.type recompresses kcat's batches to its codec (gzip into
# lz4, plain into gzip; producer keeps kcat's), the same records read
# back, and max.message.bytes applies to the recompressed batch.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

kafkajs_setup

mq_mount_listener

consume() {   # kcat -C ARGS...: "offset key value" per record
	mq_run kcat -C -b "$B" -t t -p 0 -e -q -f '%o %k %s\n' "$@"
}

expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "key.separator=:" sh -c "echo 'key.separator=:' > '$MNT/t/.config'"
expect_ok "echo m0 >> t/0" sh -c "printf 'm0\nk1:m1\n' >> '$MNT/t/0'"
t_mid=$(($(date +%s%3N) + 1))
sleep 0.05
printf 'p2\np3\n' | mq_run kcat -P -b "$B" -t t -p 0 -z lz4
printf 'k4:p4\n' | mq_run kcat -P -b "$B" -t t -p 0 -K:
expect_ok "echo m5 >> t/0" sh -c "echo m5 >> '$MNT/t/0'"

want=$(printf '0  m0\n1 k1 m1\n2  p2\n3  p3\n4 k4 p4\n5  m5')
expect_eq "kcat -C -o beginning: mount and kcat records, in order, same offsets" \
	"$want" "$(consume -o beginning)"
expect_eq "the mount shows the same" "$(printf 'm0\nk1:m1\np2\np3\nk4:p4\nm5')" \
	"$(cat "$MNT/t/0")"
expect_eq "kcat -C -o -2: the last two" "$(printf '4 k4 p4\n5  m5')" "$(consume -o -2)"
expect_eq "kcat -C -o 3: from an offset" "$(printf '3  p3\n4 k4 p4\n5  m5')" "$(consume -o 3)"

# A consumer at the end waits (parked), then gets what the mount appends.
# kcat's fetch debug lines on stderr are the handshake: its first Fetch at
# offset 6 has gone out before the record is written.
mq_run kcat -C -b "$B" -t t -p 0 -o end -c 1 -q -d fetch -f '%o %s\n' \
	>"$MQ_TMP/waiting" 2>"$MQ_TMP/waiting.err" &
waiter=$!
if poll 30 grep -q "Fetch topic t \[0\] at offset 6" "$MQ_TMP/waiting.err"; then
	ok "the consumer fetches at the end (offset 6)"
else
	fail "the consumer fetches at the end (offset 6)" "$(tail -5 "$MQ_TMP/waiting.err")"
fi
expect_ok "echo late >> t/0" sh -c "echo late >> '$MNT/t/0'"
wait "$waiter"
expect_eq "a waiting consumer gets the record appended later" "6 late" "$(cat "$MQ_TMP/waiting")"

# Offsets for times (kcat -Q: ListOffsets by timestamp), earliest, latest.
expect_eq "kcat -Q at a time between the writes: the first kcat record" \
	"t [0] offset 2" "$(mq_run kcat -Q -b "$B" -t "t:0:$t_mid" 2>&1 | grep -o 't \[0\] offset [0-9-]*')"
expect_eq "kcat -Q at offset times beyond the last: -1" \
	"t [0] offset -1" "$(mq_run kcat -Q -b "$B" -t "t:0:$(($(date +%s%3N) + 60000))" 2>&1 |
	grep -o 't \[0\] offset [0-9-]*')"
expect_eq "kcat -Q -2 / -1: earliest and latest (the hw)" "0 7" \
	"$(echo "$(mq_run kcat -Q -b "$B" -t t:0:-2 2>&1 | grep -o 'offset [0-9-]*' | cut -d' ' -f2) $(mq_run kcat -Q -b "$B" -t t:0:-1 2>&1 | grep -o 'offset [0-9-]*' | cut -d' ' -f2)")"

err=$(mq_run kcat -C -b "$B" -t t -p 0 -o 100 -e -q -X auto.offset.reset=error 2>&1)
case $err in
*"ffset out of range"*) ok "kcat -C -o 100: OFFSET_OUT_OF_RANGE" ;;
*) fail "kcat -C -o 100" "$err" ;;
esac

expect_eq "kafkajs admin: low, high and an offset for a time" \
	"$(printf 'low 0 high 7\nat 2')" \
	"$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_offsets.js" "$B" t "$t_mid" 2>&1)"

# A topic's compression.type other than producer is the codec of every
# batch stored (Kafka's recompression): kcat's gzip batch into an lz4
# topic is stored lz4, its uncompressed one into a gzip topic gzip; the
# default (producer) keeps kcat's gzip. The records, their line view and
# what kcat reads back are the same whatever the codec.
codec_of() {   # codec_of TOPIC: the codecs of its batches, each once
	grep '^baseOffset: ' "$MNT/$1/.segments/0/00000000000000000000.dump" |
		sed 's/.* codec: \([a-z0-9]*\) .*/\1/' | sort -u
}
expect_ok "mkdir zp z4 zg" mkdir "$MNT/zp" "$MNT/z4" "$MNT/zg"
expect_ok "z4: compression.type=lz4" sh -c "echo compression.type=lz4 > '$MNT/z4/.config'"
expect_ok "zg: compression.type=gzip" sh -c "echo compression.type=gzip > '$MNT/zg/.config'"
expect_eq "zp: compression.type=producer by default" "compression.type=producer" \
	"$(grep '^compression.type=' "$MNT/zp/.config")"
# Values that compress (librdkafka sends a batch plain when its codec
# would not make it smaller).
pad=$(printf '%0200d' 0)
recs=$(printf 'c0-%s\nc1-%s\nc2-%s' "$pad" "$pad" "$pad")
printf '%s\n' "$recs" | mq_run kcat -P -b "$B" -t zp -p 0 -z gzip
printf '%s\n' "$recs" | mq_run kcat -P -b "$B" -t z4 -p 0 -z gzip
printf '%s\n' "$recs" | mq_run kcat -P -b "$B" -t zg -p 0
expect_eq "producer topic: kcat's gzip batch stored gzip" "gzip" "$(codec_of zp)"
expect_eq "lz4 topic: kcat's gzip batch recompressed to lz4" "lz4" "$(codec_of z4)"
expect_eq "gzip topic: kcat's uncompressed batch compressed to gzip" "gzip" "$(codec_of zg)"
for z in zp z4 zg; do
	case $(cat "$MNT/$z/.segments/0/00000000000000000000.dump") in
	*"valid: no"*) fail "$z .dump: a batch not valid" "$(cat "$MNT/$z/.segments/0/00000000000000000000.dump")" ;;
	*"valid: yes"*"| offset: 2 "*"value: c2-000"*)
		ok "$z .dump: valid batches, the three records" ;;
	*) fail "$z .dump" "$(cat "$MNT/$z/.segments/0/00000000000000000000.dump")" ;;
	esac
	expect_eq "$z: the line view" "$recs" "$(cat "$MNT/$z/0")"
	expect_eq "$z: kcat -C reads the records back" "$recs" \
		"$(mq_run kcat -C -b "$B" -t "$z" -p 0 -e -q -f '%s\n' -o beginning)"
done
# max.message.bytes applies to the batch as stored: a gzip batch of 5000
# zeros fits a topic of compression.type=none with max.message.bytes=2000
# as sent, not once recompressed: MESSAGE_TOO_LARGE, nothing appended.
expect_ok "mkdir zn; compression.type=none, max.message.bytes=2000" sh -c \
	"mkdir '$MNT/zn' && printf 'compression.type=none\nmax.message.bytes=2000\n' > '$MNT/zn/.config'"
printf '%05000d\n' 0 | mq_run kcat -P -b "$B" -t zn -p 0 -z gzip -X message.send.max.retries=0 \
	>"$MQ_TMP/zn.out" 2>&1
expect_ok "kcat told MESSAGE_TOO_LARGE" grep -qi "too large" "$MQ_TMP/zn.out"
expect_ok "the refusal logged with the recompressed size" grep -q \
	"to zn-0 refused: MESSAGE_TOO_LARGE: record batch 0 not valid: [0-9]* bytes once recompressed to none ([0-9]* as sent), over max.message.bytes 2000" \
	"$LOG"
expect_eq "zn: nothing appended" "" "$(cat "$MNT/zn/0")"

mq_done
