#!/bin/sh
# t_kafka_rdkafka.sh — a librdkafka program (tests/clients/rdk_check, on
# Debian's librdkafka-dev) and the mount on one topic of a single node with
# `listeners=`: mount writes (echo >> MNT/t/0) and the program's keyed
# records with headers (acks=all, idempotence off, gzip and lz4 batches)
# interleave; the mount's line view shows every record at its offset,
# .dump shows keys, values, headers, codecs and producer id -1; the
# program consumes everything back by assign from explicit offsets and
# from a time (offsets_for_times), in order, with keys and headers, and
# reads the watermarks and the max-timestamp offset (ListOffsets -3).
# Bad requests on the same listener, as Kafka answers them: a newer
# ApiVersions gets UNSUPPORTED_VERSION with the table; an unknown API key,
# an unsupported version of another API, a size over
# socket.request.max.bytes close the connection; a frame cut short and a
# client that sends nothing are closed after connections.max.idle.ms; a
# Fetch with min_bytes 0 at the end is answered at once (not at its
# max_wait_ms); the broker serves on. A commit's metadata is kept with
# its offset, across a restart.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
if [ ! -x "$RDK" ]; then
	fail "rdk_check" "not built at $RDK (make build/tests/clients/rdk_check)"
	mq_done
fi

mq_mount_listener connections.max.idle.ms=1000 socket.request.max.bytes=100000

rdk() {
	timeout -k 5 "$MQ_TIMEOUT" "$RDK" -b "$B" "$@"
}
now_ms() {
	date +%s%3N
}
# past_ms T: the clock is past T (so the next record's timestamp is later).
past_ms() {
	[ "$(now_ms)" -gt "$1" ]
}
file_is() {
	[ "$(cat "$1")" = "$2" ]
}

expect_ok "mkdir t" mkdir "$MQ_TMP/mnt/t"
expect_ok "echo m0 >> t/0" sh -c "echo m0 >> '$MNT/t/0'"
expect_eq "rdk_check verify gzip: produced after the mount's record, consumed back the same" \
	"verified 5 1 5" "$(rdk verify t 0 gzip 5 gz 2>&1)"
expect_ok "echo m6 >> t/0" sh -c "echo m6 >> '$MNT/t/0'"
t_mid=$(($(now_ms) + 1))
poll 5 past_ms "$t_mid"
expect_eq "rdk_check produce lz4" "produced 5 7 11" "$(rdk produce t 0 lz4 5 lz 2>&1)"
t_lz=$(now_ms)
poll 5 past_ms "$t_lz"
expect_ok "echo m12 >> t/0" sh -c "echo m12 >> '$MNT/t/0'"

want=$(printf 'm0\ngz-v0\ngz-v1\ngz-v2\ngz-v3\ngz-v4\nm6\nlz-v0\nlz-v1\nlz-v2\nlz-v3\nlz-v4\nm12')
if poll 10 file_is "$MNT/t/0" "$want"; then
	ok "cat t/0: the mount's and the program's records, each at its offset"
else
	fail "cat t/0" "expected '$want', got '$(cat "$MNT/t/0")'"
fi

dump=$(cat "$MNT/t/.segments/0/00000000000000000000.dump")
case $dump in
*"| offset: 3 "*"key: gz-k2 value: gz-v2 headers: tag=gz,i=2"*) ok ".dump: key, value and headers as sent" ;;
*) fail ".dump: key, value and headers" "$dump" ;;
esac
batch1=$(printf '%s\n' "$dump" | grep '^baseOffset: 1 ')
case $batch1 in
*"lastOffset: 5 count: 5 "*"producerId: -1 producerEpoch: -1 baseSequence: -1 codec: gzip "*"valid: yes")
	ok ".dump: one gzip batch of five, producer id -1 (idempotence off)" ;;
*) fail ".dump: the gzip batch" "$batch1" ;;
esac
# librdkafka 2.0 compresses lz4 only for a broker that lists
# FindCoordinator (its stand-in for Kafka 0.8.2); else it sends the batch
# plain. Either way the batch is stored as sent.
batch7=$(printf '%s\n' "$dump" | grep '^baseOffset: 7 ')
lz4_codec=none
if mq_run "$RDK" -b "$B" -X debug=feature watermarks t 0 2>&1 | grep -q 'Enabling feature LZ4'; then
	lz4_codec=lz4
fi
case $batch7 in
*"lastOffset: 11 count: 5 "*"codec: $lz4_codec "*"valid: yes") ok ".dump: the lz4 producer's batch as sent ($lz4_codec)" ;;
*) fail ".dump: the lz4 producer's batch ($lz4_codec)" "$batch7" ;;
esac

want=$(printf '%s\n' "0 - m0 -" \
	"1 gz-k0 gz-v0 tag=gz,i=0" "2 gz-k1 gz-v1 tag=gz,i=1" "3 gz-k2 gz-v2 tag=gz,i=2" \
	"4 gz-k3 gz-v3 tag=gz,i=3" "5 gz-k4 gz-v4 tag=gz,i=4" "6 - m6 -" \
	"7 lz-k0 lz-v0 tag=lz,i=0" "8 lz-k1 lz-v1 tag=lz,i=1" "9 lz-k2 lz-v2 tag=lz,i=2" \
	"10 lz-k3 lz-v3 tag=lz,i=3" "11 lz-k4 lz-v4 tag=lz,i=4" "12 - m12 -")
expect_eq "rdk_check consume from the beginning: both sides' records in order, keys, headers" \
	"$want" "$(rdk consume t 0 beginning 13 2>&1)"
expect_eq "rdk_check consume from offset 6" "$(printf '%s\n' "$want" | sed -n '7,9p')" \
	"$(rdk consume t 0 6 3 2>&1)"
expect_eq "rdk_check consume from a time (offsets_for_times): the lz4 batch" \
	"$(printf '%s\n' "$want" | sed -n '8,9p')" "$(rdk consume t 0 "@$t_mid" 2 2>&1)"
expect_eq "offsets_for_times beyond the last record: -1" "-1" \
	"$(rdk times t 0 $(($(now_ms) + 60000)) 2>&1)"
expect_eq "offsets_for_times -3 (max timestamp): the last record, appended last" "12" \
	"$(rdk times t 0 -3 2>&1)"
expect_eq "watermarks: 0 13" "0 13" "$(rdk watermarks t 0 2>&1)"

# Bad requests (frames written from the protocol guide: size, api_key,
# api_version, correlation_id, a null client_id).
raw() {
	timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" "$@" 127.0.0.1 "$PORT" 2>&1
}
frame() {
	timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" frame 127.0.0.1 "$PORT" "$1" 2>&1
}
case $(frame 0000000b0012006300000003ffff00) in
"answered "*) ok "ApiVersions v99: answered (UNSUPPORTED_VERSION and the table)" ;;
*) fail "ApiVersions v99" "$(frame 0000000b0012006300000003ffff00)" ;;
esac
expect_eq "an unknown API key (1000): closed" "closed" "$(frame 0000000a03e8000000000001ffff)"
expect_eq "Fetch v99: closed" "closed" "$(frame 0000000a0001006300000002ffff)"
expect_eq "a size over socket.request.max.bytes: closed" "closed" "$(frame 7fffffff)"
expect_eq "a frame cut short: closed when idle" "closed" "$(frame 000000640012)"
expect_eq "an empty frame: closed" "closed" "$(frame 00000000)"
expect_eq "a frame of 3 bytes: closed" "closed" "$(frame 00000003616263)"
case $(raw silent) in
"closed after "*) ok "a client that sends nothing: closed after connections.max.idle.ms" ;;
*) fail "a silent client" "$(raw silent)" ;;
esac
# Produce v3 to the topic "t\0x" (a NUL inside a string): malformed.
expect_eq "a topic name holding a NUL byte: closed" "closed" \
	"$(frame 000000270000000300000001ffffffff000100002710000000010003740078000000010000000000000000)"
expect_eq "nothing appended to t by it" "0 13" "$(rdk watermarks t 0 2>&1)"
expect_ok "__consumer_offsets is there" test -d "$DATA/__consumer_offsets-0"
expect_eq "a Produce to __consumer_offsets: INVALID_TOPIC_EXCEPTION (17)" "error 17" \
	"$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" produce 127.0.0.1 "$PORT" - - __consumer_offsets 0 forged 2>&1)"
expect_ok "logged" grep -q "to __consumer_offsets-0 refused: INVALID_TOPIC_EXCEPTION: an internal topic" "$LOG"
expect_eq "the broker still answers" "0 13" "$(rdk watermarks t 0 2>&1)"
# A Fetch parked at the end of a topic that is deleted meanwhile: answered
# at once with UNKNOWN_TOPIC_OR_PARTITION (3), not at its max_wait_ms
# (120 s) with the deleted log's hw.
mkdir "$MNT/gone" && echo a >>"$MNT/gone/0"
expect_eq "topic gone made, one record" "0" "$?"
timeout -k 5 180 python3 "$LIBDIR/kafka_raw.py" parked 127.0.0.1 "$PORT" gone 0 1 120000 \
	>"$MQ_TMP/parked" 2>&1 &
PARKED=$!
check "a Fetch parked at gone's end" poll 20 grep -q ready "$MQ_TMP/parked"
rmdir "$MNT/gone"
expect_eq "rmdir gone" "0" "$?"
check "the parked Fetch is answered once gone is deleted" poll 60 grep -q "^error" "$MQ_TMP/parked"
expect_ok "with UNKNOWN_TOPIC_OR_PARTITION" grep -q "^error 3 " "$MQ_TMP/parked"
kill "$PARKED" 2>/dev/null
wait "$PARKED" 2>/dev/null
# min_bytes 0 is met by an empty answer: Kafka answers such a Fetch at
# once, whatever its max_wait_ms (a client polling with fetch.min.bytes=0).
parked_now() {
	timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" parked 127.0.0.1 "$PORT" t 0 13 \
		60000 "$1" 2>&1 | tail -n 1
}
expect_eq "a Fetch at the end with min_bytes 0 and max_wait_ms 60000: answered at once" \
	"error 0 after 0 s" "$(parked_now 0)"
expect_eq "and with min_bytes -1" "error 0 after 0 s" "$(parked_now -1)"
for why in "api_key 1000" "version 99" "above socket.request.max.bytes" "Produce version 3" \
	"a frame of 0 bytes, shorter than a request header" \
	"a frame of 3 bytes, shorter than a request header"; do
	expect_ok "the daemon's log names it: $why" grep -q "$why" "$LOG"
done

# A commit's metadata (rd_kafka_topic_partition_t.metadata) is kept with
# the offset: rd_kafka_committed (OffsetFetch) answers it, after a restart
# too; .groups/<g>/<p> shows the offset alone; one over
# offset.metadata.max.bytes (4096) is refused, the offset unchanged.
expect_eq "rdk_check commit with metadata" "commit NO_ERROR" "$(rdk commit cm t 0 4 'state-v1 {"a": 1}' 2>&1)"
expect_eq "OffsetFetch answers it" '0 4 state-v1 {"a": 1}' "$(rdk committed cm t 1 2>&1)"
expect_eq ".groups/cm/0 shows the offset alone" "4" "$(cat "$MNT/t/.groups/cm/0")"
expect_eq "metadata of 4097 bytes refused" "commit OFFSET_METADATA_TOO_LARGE" \
	"$(rdk commit cm t 0 5 "$(head -c 4097 /dev/zero | tr '\0' x)" 2>&1)"
mq_umount
mq_mount --config "$MQ_TMP/server.properties"
expect_eq "after a restart OffsetFetch answers it still" '0 4 state-v1 {"a": 1}' \
	"$(rdk committed cm t 1 2>&1)"

mq_umount
mq_done
