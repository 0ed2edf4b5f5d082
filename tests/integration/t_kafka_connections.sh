#!/bin/sh
# t_kafka_connections.sh — hostile connections to a single node's listener
# under `ulimit -n 256`: a client opens connections until the broker
# refuses one (accepted and closed, logged "refused: descriptor N is
# within the last 16 of the open-files limit"); while it holds the others,
# the mount still appends through segment rolls (each needs four new
# descriptors) and reads them back, where before the connections took
# every descriptor and the roll failed with EMFILE. Once they leave, a new
# client is served. A ListOffsets whose answer would pass
# socket.response.max.bytes closes the connection, logged "Message too
# long", and one within it is answered. Then, with max.connections=3, a
# fourth connection waits in the kernel's backlog unanswered, as Kafka's
# acceptor waits for a slot, and is answered once one of the three closes
# (logged when the listener stops accepting and when it accepts again).

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

PORT=$(zk_free_port)
cat >"$MQ_TMP/server.properties" <<EOF
listeners=PLAINTEXT://127.0.0.1:$PORT
log.segment.bytes=1024
socket.response.max.bytes=1024
EOF
mq_mount_cmd "$MNT" sh -c 'ulimit -n 256 && exec "$1" -f --data "$2" --config "$3" "$4"' \
	sh "$MQFS" "$DATA" "$MQ_TMP/server.properties" "$MNT"

raw() {
	_cmd=$1
	shift
	timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" "$_cmd" 127.0.0.1 "$PORT" "$@" 2>&1
}
flood_says() {
	grep -q "after" "$MQ_TMP/flood.out"
}
expect_ok "mkdir t" mkdir "$MNT/t"
expect_ok "a first record" sh -c "echo first >> '$MNT/t/0'"

mq_bg sh -c 'exec python3 "$1/kafka_raw.py" flood 127.0.0.1 "$2" "$3" >"$4" 2>&1' \
	sh "$LIBDIR" "$PORT" "$MQ_TMP/stop" "$MQ_TMP/flood.out"
FLOOD=$MQ_LAST_PID
check "the flood ends" poll 40 flood_says
case $(cat "$MQ_TMP/flood.out") in
"refused after "*) ok "connections up to the descriptors kept: $(cat "$MQ_TMP/flood.out")" ;;
*) fail "connections refused before the limit" "$(cat "$MQ_TMP/flood.out")" ;;
esac
check "the refusal is logged" grep -q "refused: descriptor [0-9]* is within the last 16 of the open-files limit" "$LOG"

# Connections held: each line rolls a segment (4 new descriptors): 900
# bytes, its batch within segment.bytes (a larger one is refused).
echo first >"$MQ_TMP/want"
for c in a b c; do
	{ head -c 900 /dev/zero | tr '\0' "$c"; echo; } >"$MQ_TMP/$c.line"
	cat "$MQ_TMP/$c.line" >>"$MQ_TMP/want"
	expect_ok "a 900-byte line ($c) while the connections are held" \
		sh -c "cat '$MQ_TMP/$c.line' >> '$MNT/t/0'"
done
expect_ok "read back" sh -c "cat '$MNT/t/0' | cmp - '$MQ_TMP/want'"

: >"$MQ_TMP/stop"
mq_wait "$FLOOD"
case $(raw frame 0000000a00120000000000ffffff) in
"answered "*) ok "once they left: a new client is answered" ;;
*) fail "a new client after the flood" "$(raw frame 0000000a00120000000000ffffff)" ;;
esac

# ListOffsets: about 26 bytes a partition; 100 pass 1024 bytes, 10 do not.
expect_eq "ListOffsets of 10 partitions: answered" "answered 10" "$(raw offsets-many t 10)"
expect_eq "ListOffsets of 100 partitions: over socket.response.max.bytes, closed" "closed" \
	"$(raw offsets-many t 100)"
check "logged" grep -q "the ListOffsets handler failed: Message too long" "$LOG"
mq_umount

cat >"$MQ_TMP/server.properties" <<EOF
listeners=PLAINTEXT://127.0.0.1:$PORT
max.connections=3
EOF
mq_mount_cmd "$MNT" "$MQFS" -f --data "$DATA" --config "$MQ_TMP/server.properties" "$MNT"
expect_eq "max.connections=3: the fourth waits for a slot, then is answered" \
	"past the limit: unanswered, then answered once one closed" "$(raw slot-wait 3)"
check "the wait is logged" grep -q "PLAINTEXT: max.connections (3) reached: new connections wait in the backlog" "$LOG"
check "and the resumption" grep -q "PLAINTEXT: below max.connections (3) again: accepting" "$LOG"
mq_umount
mq_done
