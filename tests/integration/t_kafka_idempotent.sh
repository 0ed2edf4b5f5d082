#!/bin/sh
# t_kafka_idempotent.sh — idempotent Kafka producers on a single node:
# InitProducerId gives producer ids from blocks kept in
# DATA/meta/latest_producer_id_block (a restart takes a new block, so no
# id is ever handed out twice); a batch sent again with the same producer
# id, epoch and sequence (a client's retry, built byte by byte by
# kafka_idempotent.py) is answered with its first offset and appended
# once, also two producers' batches in one request; a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER (45), nothing
# appended; a producer id with a negative sequence is INVALID_RECORD (87),
# as Kafka; kcat with enable.idempotence=true writes batches that carry
# its producer id, as .dump shows, and so do kafkajs's (idempotent: true);
# into a gzip topic the recompressed batches keep their sequences and a
# resend is still a duplicate; after a restart the log's batch headers
# still mark producer 0's batches as sent. DescribeProducers lists the
# partition leader's producers (kcat's with its epoch and last sequence);
# a partition or topic that does not exist is UNKNOWN_TOPIC_OR_PARTITION.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

mq_mount_listener

expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "echo m0 >> t/0" sh -c "echo m0 >> '$MNT/t/0'"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" t 2>&1)
echo "$out" | sed 's/^/# /'
expect_eq "InitProducerId: the first id of the first block, epoch 0" "pid 0 0" \
	"$(echo "$out" | sed -n 1p)"
expect_eq "batch A appended at offset 1" "A 0 1" "$(echo "$out" | sed -n 2p)"
expect_eq "the same batch again: NONE with its first offset" "A-again 0 1" \
	"$(echo "$out" | sed -n 3p)"
expect_eq "the next sequence: appended after it" "B 0 3" "$(echo "$out" | sed -n 4p)"
expect_eq "a sequence gap: OUT_OF_ORDER_SEQUENCE_NUMBER" "gap 45 -1" \
	"$(echo "$out" | sed -n 5p)"
expect_eq "a producer id with base sequence -1: INVALID_RECORD, as Kafka" "negseq 87 -1" \
	"$(echo "$out" | sed -n 6p)"
expect_ok "that refusal logged with its reason" \
	grep -q "refused: INVALID_RECORD: record batch 0 not valid: producer id 0 with base sequence -1" "$LOG"
expect_eq "t/0: each record once" "$(printf 'm0\nidem-1\nidem-2\nidem-3')" "$(cat "$MNT/t/0")"
expect_ok "the refusal logged" grep -q "producer 0 epoch 0 sequence 9 refused: out of order" "$LOG"
# Two producers' batches in one request for the partition (Kafka judges
# each producer on its own): appended together, and once.
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" t mix 0:3 999 2>&1)
echo "$out" | sed 's/^/# /'
expect_eq "two producers in one request: appended" "mix 0 4" "$(echo "$out" | sed -n 1p)"
expect_eq "the same request again: its first offset" "mix-again 0 4" \
	"$(echo "$out" | sed -n 2p)"
expect_eq "one batch sent before, one new: OUT_OF_ORDER_SEQUENCE_NUMBER" "part 45 -1" \
	"$(echo "$out" | sed -n 3p)"
expect_eq "t/0: both producers' records once" \
	"$(printf 'm0\nidem-1\nidem-2\nidem-3\nmix-new\nmix-old')" "$(cat "$MNT/t/0")"
expect_eq "the block kept in DATA/meta" \
	'{"version":1,"broker":0,"block_start":"0","block_end":"999"}' \
	"$(cat "$DATA/meta/latest_producer_id_block")"

printf 'k1\nk2\n' | mq_run kcat -P -b "$B" -t t -p 0 -X enable.idempotence=true
expect_eq "kcat -P -X enable.idempotence=true: its records" "$(printf 'k1\nk2')" \
	"$(tail -n 2 "$MNT/t/0")"
expect_ok ".dump: kcat's batch carries producer id 1 from sequence 0" \
	grep -q "producerId: 1 producerEpoch: 0 baseSequence: 0 " \
	"$MNT/t/.segments/0/00000000000000000000.dump"
# DescribeProducers (kafka-transactions.sh describe-producers): the
# leader's producer state lists kcat's producer with the last sequence of
# its records, its epoch, no transaction.
out=$(mq_run python3 "$LIBDIR/kafka_raw.py" describe-producers 127.0.0.1 "$PORT" - - t 0 2>&1)
echo "$out" | sed 's/^/# /'
expect_eq "DescribeProducers t-0: answered" "error 0" "$(echo "$out" | sed -n 1p)"
expect_ok "DescribeProducers t-0: kcat's producer 1, epoch 0, last sequence 1, no transaction" \
	sh -c "echo '$out' | grep -Eq '^producer 1 epoch 0 last_sequence 1 last_timestamp [1-9][0-9]* coordinator_epoch -1 txn_start_offset -1\$'"
expect_ok "DescribeProducers t-0: producers 0 and 999 of kafka_idempotent.py too" \
	sh -c "echo '$out' | grep -q '^producer 0 epoch 0 ' && echo '$out' | grep -q '^producer 999 epoch 0 '"
expect_eq "DescribeProducers of a partition that does not exist: UNKNOWN_TOPIC_OR_PARTITION" \
	"error 3" "$(mq_run python3 "$LIBDIR/kafka_raw.py" describe-producers 127.0.0.1 "$PORT" - - t 7 2>&1)"
expect_eq "DescribeProducers of an unknown topic: UNKNOWN_TOPIC_OR_PARTITION" \
	"error 3" "$(mq_run python3 "$LIBDIR/kafka_raw.py" describe-producers 127.0.0.1 "$PORT" - - nosuch 0 2>&1)"
expect_ok "its refusal logged" grep -q "DescribeProducers from .*: topic 'nosuch' refused: UNKNOWN_TOPIC_OR_PARTITION" "$LOG"

# kafkajs with idempotent: true, when it is installed (t_kafka_produce.sh
# says how).
ROOT=$(cd "$LIBDIR/../.." && pwd -P)
KAFKAJS_PATH=${KAFKAJS_PATH:-$ROOT/build/npm/node_modules/kafkajs}
export KAFKAJS_PATH
if [ -d "$KAFKAJS_PATH" ]; then
	off=$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_produce.js" "$B" t \
		'{"idempotent":true,"messages":[{"value":"j1"},{"value":"j2"}]}' 2>&1)
	expect_eq "kafkajs idempotent: at the log end" "8" "$off"
	expect_ok ".dump: kafkajs's batch carries producer id 2 from sequence 0" \
		grep -q "producerId: 2 producerEpoch: 0 baseSequence: 0 " \
		"$MNT/t/.segments/0/00000000000000000000.dump"
else
	echo "# kafkajs not installed: its idempotent producer not run"
	printf 'j1\nj2\n' >>"$MNT/t/0"
fi

# A topic with compression.type=gzip recompresses the producer's plain
# batches: a resend is still a duplicate (the producer state goes by the
# producer id, epoch and sequence, which the stored gzip batch keeps).
expect_ok "mkdir tz; compression.type=gzip" sh -c \
	"mkdir '$MNT/tz' && echo compression.type=gzip > '$MNT/tz/.config'"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" tz 2>&1)
echo "$out" | sed 's/^/# /'
expect_eq "gzip topic: A, A again (its first offset), B, a gap, a negative sequence" \
	"$(printf 'A 0 0\nA-again 0 0\nB 0 2\ngap 45 -1\nnegseq 87 -1')" "$(echo "$out" | sed -n 2,6p)"
expect_eq "gzip topic: each record once" "$(printf 'idem-1\nidem-2\nidem-3')" "$(cat "$MNT/tz/0")"
expect_eq ".dump: both batches stored gzip, with their producer's sequences" \
	"$(printf 'baseSequence: 0 codec: gzip\nbaseSequence: 2 codec: gzip')" \
	"$(grep -o 'baseSequence: [0-9-]* codec: [a-z0-9]*' "$MNT/tz/.segments/0/00000000000000000000.dump")"

# A restart takes the next block: ids are never handed out twice.
mq_umount
mq_mount --config "$MQ_TMP/server.properties"
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" t 2>&1)
expect_eq "after a restart: the first id of the next block" "pid 1000 0" \
	"$(echo "$out" | sed -n 1p)"
expect_eq "and batch A of producer 1000 is new (appended at the log end)" "A 0 10" \
	"$(echo "$out" | sed -n 2p)"
# The reopened log knows producer 0 from its batch headers: its batch A
# sent again is still a duplicate.
out=$(mq_run python3 "$LIBDIR/kafka_idempotent.py" "$B" t 0 2>&1)
expect_eq "producer 0's batch A after the restart: its first offset, not appended" "A 0 1" \
	"$(echo "$out" | sed -n 2p)"
expect_eq "and its batch B too" "B 0 3" "$(echo "$out" | sed -n 4p)"
# InitProducerId v3 naming an id and epoch (never given here): a fresh id,
# epoch 0, as Kafka gives an idempotent producer; the id named stays free.
expect_eq "InitProducerId v3 with an id named: the next fresh id, epoch 0" "error 0 pid 1001 epoch 0" \
	"$(mq_run python3 "$LIBDIR/kafka_raw.py" initpid 127.0.0.1 "$PORT" 1500 11 2>&1)"

mq_umount
mq_done
