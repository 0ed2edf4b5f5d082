#!/bin/sh
# t_kafka_groups.sh — Kafka consumer groups on a single node's listener
# (FindCoordinator, JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
# OffsetCommit, OffsetFetch), sharing groups and committed offsets with the
# mount's MNT/<topic>/.groups/<group>/:
#   - `kcat -G` consumes records appended with echo through the mount and
#     commits; .groups/<g>/<p> shows the offsets it committed; a second run
#     gets only what was appended since; a reset written through the mount
#     is where the next kcat -G starts;
#   - a kafkajs group of two members splits two partitions, receives
#     every record appended through the mount once, and its commits are
#     the mount's;
#   - a group is one kind at a time: opening `consume` while kcat -G is a
#     member is EBUSY; kcat -G joining while `consume` is open is refused
#     (INCONSISTENT_GROUP_PROTOCOL, logged) and gets no record.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

ROOT=$(cd "$LIBDIR/../.." && pwd -P)
KAFKAJS_PATH=${KAFKAJS_PATH:-$ROOT/build/npm/node_modules/kafkajs}
export KAFKAJS_PATH

PORT=$(zk_free_port)
B=127.0.0.1:$PORT
printf 'listeners=PLAINTEXT://127.0.0.1:%s\nnum.partitions=2\n' "$PORT" \
	>"$MQ_TMP/server.properties"
mq_mount --config "$MQ_TMP/server.properties"

# kcat -G GROUP: consumes until every assigned partition is at its end,
# commits and leaves; "partition offset value" per record, sorted.
kgroup() {
	mq_run kcat -b "$B" -G "$1" -e -q -f '%p %o %s\n' -X session.timeout.ms=6000 \
		-X auto.offset.reset=earliest t |
		sort
}

expect_ok "mkdir t (2 partitions)" mkdir "$MNT/t"
expect_ok "echo through the mount" sh -c "printf 'a\nb\n' >> '$MNT/t/0'; echo c >> '$MNT/t/1'"

expect_eq "kcat -G g1 gets every record" "$(printf '0 0 a\n0 1 b\n1 0 c')" "$(kgroup g1)"
expect_eq "the mount shows the group" "g1" "$(ls "$MNT/t/.groups")"
expect_eq "the mount shows kcat's commits" "2 1" \
	"$(echo $(cat "$MNT/t/.groups/g1/0" "$MNT/t/.groups/g1/1"))"

expect_ok "echo d >> t/0" sh -c "echo d >> '$MNT/t/0'"
expect_eq "kcat -G g1 again: only the new record" "0 2 d" "$(kgroup g1)"
expect_eq "its commit in the mount" "3" "$(cat "$MNT/t/.groups/g1/0")"

expect_ok "reset partition 1 through the mount" sh -c "echo earliest > '$MNT/t/.groups/g1/1'"
expect_eq "kcat -G g1 starts where the mount reset it" "1 0 c" "$(kgroup g1)"

# A group is one kind at a time.
mq_bg sh -c "exec timeout -k 5 $MQ_TIMEOUT kcat -b '$B' -G g1 -q -X session.timeout.ms=6000 \
	-X heartbeat.interval.ms=200 t >'$MQ_TMP/kcat-member.out' 2>&1"
kmember=$MQ_LAST_PID
kstate() { grep -q '^kafka-member rdkafka-.* partitions 0,1$' "$MNT/t/.groups/g1/.state"; }
poll 20 kstate && ok ".state shows the kcat member and its partitions" ||
	fail ".state shows the kcat member" "$(cat "$MNT/t/.groups/g1/.state")"
expect_errno "consume while kcat -G is a member: EBUSY" EBUSY \
	sh -c "cat '$MNT/t/.groups/g1/consume'"
expect_eq "the refusal is logged" "1" \
	"$(grep -c 'consume by pid .* refused: Kafka consumers are members of group g1' "$LOG")"
mq_stop "$kmember"
left() { ! grep -q '^kafka-member' "$MNT/t/.groups/g1/.state"; }
poll 20 left || fail "kcat -G g1 member left" "$(cat "$MNT/t/.groups/g1/.state")"

mq_bg sh -c "exec cat '$MNT/t/.groups/g1/consume' >'$MQ_TMP/consume.out'"
reader=$MQ_LAST_PID
members() { grep -q 'members 1' "$MNT/t/.groups/g1/.state"; }
poll 20 members || fail "consume reader joined" "$(cat "$MNT/t/.groups/g1/.state")"
refused() { grep -q 'JoinGroup from .* for group g1 refused: consume files of the mount' "$LOG"; }
mq_bg sh -c "exec timeout -k 5 5 kcat -b '$B' -G g1 -q -f '%p %o %s\n' \
	-X session.timeout.ms=6000 t >'$MQ_TMP/kcat-refused.out' 2>&1"
krefused=$MQ_LAST_PID
poll 20 refused && ok "kcat -G joining while consume is open: refused (logged)" ||
	fail "kcat -G refused" "no refusal in the log"
mq_wait "$krefused"
expect_eq "the refused kcat got no record" "" "$(grep -v '^%' "$MQ_TMP/kcat-refused.out")"
mq_stop "$reader"

# kafkajs: two members share the group and each record arrives once.
if [ -d "$KAFKAJS_PATH" ]; then
	expect_ok "mkdir t2" mkdir "$MNT/t2"
	rm -f "$MQ_TMP/ready"
	mq_bg sh -c "exec timeout -k 5 $MQ_TIMEOUT node '$LIBDIR/kafkajs_group.js' '$B' t2 jsg 2 6 \
		'$MQ_TMP/ready' >'$MQ_TMP/kafkajs.out' 2>&1"
	js=$MQ_LAST_PID
	ready() { [ -s "$MQ_TMP/ready" ]; }
	if poll "$MQ_TIMEOUT" ready; then
		ok "kafkajs: both members hold a share of the partitions"
		expect_ok "echo six records through the mount" sh -c \
			"printf 'x0\nx1\nx2\n' >> '$MNT/t2/0'; printf 'y0\ny1\ny2\n' >> '$MNT/t2/1'"
	else
		fail "kafkajs members split the partitions" "$(cat "$MQ_TMP/kafkajs.out")"
	fi
	mq_wait "$js"
	expect_eq "kafkajs exits 0" "0" "$MQ_RC"
	out=$(cat "$MQ_TMP/kafkajs.out")
	expect_eq "each record once, partition 0 to one member, 1 to the other" \
		"$(printf '0 0 x0\n0 1 x1\n0 2 x2\n1 0 y0\n1 1 y1\n1 2 y2')" \
		"$(echo "$out" | cut -d' ' -f2- | sort)"
	expect_eq "two members, one partition each" "2" \
		"$(echo "$out" | awk '{print $1, $2}' | sort -u | wc -l)"
	expect_eq "and not the same member" "2" "$(echo "$out" | awk '{print $1}' | sort -u | wc -l)"
	expect_eq "kafkajs's commits in the mount" "3 3" \
		"$(echo $(cat "$MNT/t2/.groups/jsg/0" "$MNT/t2/.groups/jsg/1"))"
else
	fail "kafkajs" "not installed at $KAFKAJS_PATH (sh contrib/install-deps.sh installs it)"
fi

mq_done
