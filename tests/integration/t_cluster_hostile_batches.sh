#!/bin/sh
# t_cluster_hostile_batches.sh — the compressed batches of
# t_kafka_hostile_batches.sh (kafka_hostile.py: payloads that do not
# decompress or do so to far more than a batch may hold, zlib labelled
# gzip, two gzip members or lz4 frames, records that lie) sent to the
# leader of a partition replicated on three brokers, one topic keeping the
# client's codec and one recompressing to zstd: the leader refuses each
# with CORRUPT_MESSAGE; valid batches of every codec before and after are
# acknowledged (acks=all) and reach both followers, which append nothing
# the leader refused and never diverge: every mount reads the same
# records, the acknowledged ones exactly, every batch of every replica's
# .dump valid, the replicas' logs byte for byte the same, no fetcher
# refusing a batch, and kcat reads them back from each broker.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# shellcheck disable=SC2034 # read by cluster_lib.sh's conf
CLUSTER_CONF="num.partitions=1"
zk_cluster_start
cluster_start3
t_make3
cluster_mkdir tz
for t in t tz; do
	expect_ok "$t: .config" sh -c \
		"printf 'key.separator=:\nmax.message.bytes=8388608\n' > '$MQ_TMP/mnt1/$t/.config'"
done
expect_ok "tz: compression.type=zstd" sh -c "echo compression.type=zstd > '$MQ_TMP/mnt1/tz/.config'"
tz_ready() {
	for _n in 1 2 3; do
		grep -q '^compression.type=zstd$' "$MQ_TMP/mnt$_n/tz/.config" 2>/dev/null || return 1
		grep -q '^max.message.bytes=8388608$' "$MQ_TMP/mnt$_n/t/.config" 2>/dev/null || return 1
	done
}
check "every broker has the topics' settings" poll 20 tz_ready
# tz's leader and ISR
tz_isr_full() { [ "$(set_of "$(timeout 5 awk '$1 == "0" { print $8 }' "$MQ_TMP/mnt1/tz/.state")")" = "1,2,3" ]; }
check "tz: three replicas in the ISR" poll 20 tz_isr_full
LZ=$(timeout 5 awk '$1 == "0" { print $5 }' "$MQ_TMP/mnt1/tz/.state")

hostile() { mq_run python3 "$LIBDIR/kafka_hostile.py" --sasl admin:admin-secret "$@"; }
port_of() { eval "echo \$PORT$1"; }
# good TOPIC LEADER CODEC TAG N: N records TAG-0.. (keys k-0..), acks=all,
# added to MQ_TMP/want-TOPIC once appended.
good() {
	_g=$(hostile good 127.0.0.1 "$(port_of "$2")" "$1" 0 "$3" "$4" "$5" "$MQ_TMP/want-$1")
	case $_g in "error 0 base "*) ;; *) fail "$1: a valid $3 batch is appended" "$_g" ;; esac
}

names=$(hostile list)
# attack TOPIC LEADER: valid batches, every hostile one, valid ones again.
attack() {
	t=$1
	ld=$2
	: >"$MQ_TMP/want-$t"
	for c in none gzip snappy lz4 zstd; do
		good "$t" "$ld" "$c" "$t-$c-before" 3
	done
	# shellcheck disable=SC2086 # a list of names
	hostile send 127.0.0.1 "$(port_of "$ld")" "$t" 0 $names >"$MQ_TMP/sent-$t"
	expect_eq "$t: every hostile batch answered by the leader" "$(echo "$names" | wc -l)" \
		"$(wc -l <"$MQ_TMP/sent-$t")"
	expect_eq "$t: every hostile batch refused with CORRUPT_MESSAGE" "" \
		"$(grep -v ' error 2$' "$MQ_TMP/sent-$t")"
	good "$t" "$ld" zstd-frames "$t-zstd-frames" 2
	for c in none gzip snappy lz4 zstd; do
		good "$t" "$ld" "$c" "$t-$c-after" 3
	done
}
attack t "$L"
attack tz "$LZ"

# Every replica holds exactly the acknowledged records, at the same
# offsets, in the same bytes.
has_all() { # has_all TOPIC N
	timeout 10 cat "$MQ_TMP/mnt$2/$1/0" >"$MQ_TMP/got-$1-$2" 2>/dev/null &&
		cmp -s "$MQ_TMP/got-$1-$2" "$MQ_TMP/want-$1"
}
consume() { kc "$2" -C -t "$1" -p 0 -e -q -f '%k:%s\n' -o beginning; }
for t in t tz; do
	for n in 1 2 3; do
		check "$t on mnt$n: exactly the acknowledged records" poll 30 has_all "$t" "$n"
		mq_dump_valid "$t on mnt$n" "$MQ_TMP/mnt$n/$t"
		expect_eq "$t: kcat -C from broker $n reads them" "$(cat "$MQ_TMP/want-$t")" \
			"$(consume "$t" "$n")"
	done
	for n in 2 3; do
		check "$t: broker $n's log the same bytes as broker 1's" \
			cmp -s "$MQ_TMP/b1/data/$t-0/00000000000000000000.log" \
			"$MQ_TMP/b$n/data/$t-0/00000000000000000000.log"
	done
done
for n in 1 2 3; do
	expect_eq "tz: every batch stored zstd on broker $n" "zstd " "$(mq_dump_codecs "$MQ_TMP/mnt$n/tz")"
done
expect_eq "no fetcher refused a batch" "" "$(grep -E 'fetcher: tz?-0: ' "$LOG")"
expect_ok "the leader's log names a refusal" grep -q "refused: CORRUPT_MESSAGE: record batch 0 not valid" "$LOG"

mq_done
