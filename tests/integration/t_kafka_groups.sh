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
#     the mount's; kafkajs's admin.resetOffsets commits -2 (earliest) or
#     -1 (latest), kept as given as Kafka keeps them: OffsetFetch answers
#     them, the mount reads -2 as the log start (its `consume` file too)
#     and -1 as no commit, kcat -G (librdkafka) likewise;
#   - consume files and Kafka consumers in one group: kcat -G joining
#     while `consume` is open shares the partitions with it (each record
#     to one of them), and when kcat leaves the file takes its partition;
#     `consume` opened while kcat -G is a member of a group of its own
#     ends that group, and kcat joins the file's;
#   - OffsetDelete through librdkafka (rd_kafka_DeleteConsumerGroupOffsets,
#     rdk_check): refused GROUP_SUBSCRIBED_TO_TOPIC while a consume file is
#     a member; once it left, one partition's offset goes: the mount reads
#     it as never committed (auto.offset.reset; .state "-"), OffsetFetch
#     answers none, the other partition keeps its own; an unknown group
#     is GROUP_ID_NOT_FOUND.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

ROOT=$(cd "$LIBDIR/../.." && pwd -P)
KAFKAJS_PATH=${KAFKAJS_PATH:-$ROOT/build/npm/node_modules/kafkajs}
export KAFKAJS_PATH

RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
[ -x "$RDK" ] || { fail "rdk_check" "not built at $RDK"; mq_done; }

mq_mount_listener num.partitions=2

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
# kcat left: the Kafka group is Empty, described as Kafka describes it,
# without a protocol (not the mount's assignor, which kcat did not use).
expect_eq "DescribeGroups g1: Empty, no protocol" "state=Empty protocol= members=0" \
	"$(timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_admin.js" "$B" describe-group g1 2>&1)"
expect_eq "the mount shows kcat's commits" "2 1" \
	"$(cat "$MNT/t/.groups/g1/0" "$MNT/t/.groups/g1/1" | paste -sd ' ' -)"

expect_ok "echo d >> t/0" sh -c "echo d >> '$MNT/t/0'"
expect_eq "kcat -G g1 again: only the new record" "0 2 d" "$(kgroup g1)"
expect_eq "its commit in the mount" "3" "$(cat "$MNT/t/.groups/g1/0")"

expect_ok "reset partition 1 through the mount" sh -c "echo earliest > '$MNT/t/.groups/g1/1'"
expect_eq "kcat -G g1 starts where the mount reset it" "1 0 c" "$(kgroup g1)"

# OffsetDelete (kafka-consumer-groups.sh --delete-offsets), as librdkafka
# sends it.
rdk() { mq_run "$RDK" -b "$B" "$@" 2>>"$MQ_TMP/rdk.err"; }
gd_state() { cat "$MNT/t/.groups/gd/.state"; }
gd_members() { gd_state | grep -q "^members $1\$"; }
kgroup gd >/dev/null
expect_eq "kcat -G gd commits both partitions" "3 1" \
	"$(cat "$MNT/t/.groups/gd/0" "$MNT/t/.groups/gd/1" | paste -sd ' ' -)"
mq_bg sh -c "exec cat '$MNT/t/.groups/gd/consume' >/dev/null"
reader=$MQ_LAST_PID
poll 20 gd_members 1 || fail "consume reader of gd joined" "$(gd_state)"
expect_eq "OffsetDelete while a consume file is a member: GROUP_SUBSCRIBED_TO_TOPIC" \
	"t 0 GROUP_SUBSCRIBED_TO_TOPIC" "$(rdk delete-offsets gd t 0)"
mq_stop "$reader"
poll 20 gd_members 0 || fail "consume reader of gd left" "$(gd_state)"
expect_eq "OffsetDelete of t/0 once the group is Empty" "t 0 NO_ERROR" \
	"$(rdk delete-offsets gd t 0)"
expect_eq "the mount: t/0 reads the log start (no commit), t/1 its commit" "0 1" \
	"$(cat "$MNT/t/.groups/gd/0" "$MNT/t/.groups/gd/1" | paste -sd ' ' -)"
expect_eq ".state: no current offset for 0, 1 for 1" "- 1" \
	"$(gd_state | awk '$1 == "0" || $1 == "1" { print $2 }' | paste -sd ' ' -)"
expect_eq "OffsetFetch (rd_kafka_committed): t/0 none, t/1 kept" "$(printf '0 -1001\n1 1')" \
	"$(rdk committed gd t 2)"
expect_ok "the deletion is logged" grep -q \
	"OffsetDelete from .*: group gd: the committed offsets of 1 partitions of topic t deleted" \
	"$LOG"
expect_eq "OffsetDelete of an unknown group" "group GROUP_ID_NOT_FOUND" \
	"$(rdk delete-offsets nosuch t 0)"
[ -s "$MQ_TMP/rdk.err" ] && sed 's/^/# rdk_check: /' "$MQ_TMP/rdk.err"

# A commit past the log end (Kafka clients may commit any offset): a
# consume member reads from auto.offset.reset (earliest), as a Kafka
# consumer told OFFSET_OUT_OF_RANGE does, not wait for ever; the group's
# offset file shows the commit as it is.
expect_ok "mkdir far" mkdir "$MNT/far"
printf 'f1\nf2\n' >>"$MNT/far/0"
expect_eq "OffsetCommit of 1000 for a log of 2" "error 0" \
	"$(timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" commit 127.0.0.1 "$PORT" gfar far 0 1000 2>&1)"
expect_eq "far/.groups/gfar/0 shows it" "1000" "$(cat "$MNT/far/.groups/gfar/0")"
expect_eq "consume reads from the log start" "$(printf 'f1\nf2')" \
	"$(timeout 10 head -n 2 "$MNT/far/.groups/gfar/consume")"
expect_ok "logged" grep -q "group gfar of topic far: partition 0: committed offset 1000 is past the log end 2: read from the log start" "$LOG"

# consume files and Kafka consumers in one group.
kcat_member() {
	mq_bg sh -c "exec timeout -k 5 $MQ_TIMEOUT kcat -b '$B' -G g1 -q -u -f '%p %o %s\n' \
		-X session.timeout.ms=6000 -X heartbeat.interval.ms=200 t >'$MQ_TMP/$1' 2>&1"
	kmember=$MQ_LAST_PID
}
gstate() { cat "$MNT/t/.groups/g1/.state"; }
# kcat_holds: the kcat member is in the consume file's group with one
# partition (KP).
kcat_holds() {
	KP=$(gstate | awk '$1 == "member" && $2 ~ /@kafka$/ && $6 ~ /^[01]$/ { print $6 }')
	[ -n "$KP" ] && [ "$(gstate | awk '$1 == "members" { print $2 }')" = 2 ]
}
mq_bg sh -c "exec cat '$MNT/t/.groups/g1/consume' >'$MQ_TMP/consume.out'"
reader=$MQ_LAST_PID
members() { gstate | grep -q "^members $1\$"; }
poll 20 members 1 || fail "consume reader joined" "$(gstate)"
kcat_member kcat-mixed.out
if poll 30 kcat_holds; then
	ok "kcat -G joins the consume file's group with one partition ($KP)"
else
	fail "kcat -G joins the consume file's group" "$(gstate)"
fi
FP=$((1 - KP))
expect_ok "echo k and f through the mount" sh -c "echo k >> '$MNT/t/$KP'; echo f >> '$MNT/t/$FP'"
got_k() { grep -q "^$KP [0-9]* k\$" "$MQ_TMP/kcat-mixed.out"; }
got_f() { grep -qx f "$MQ_TMP/consume.out"; }
poll 20 got_k && ok "kcat reads its partition's record" ||
	fail "kcat reads its partition's record" "$(gstate)"
poll 20 got_f && ok "the consume file reads its partition's record" ||
	fail "the consume file reads its partition's record" "$(gstate)"
expect_eq "each record to one member" "0 0" \
	"$(grep -c ' f$' "$MQ_TMP/kcat-mixed.out") $(grep -cx k "$MQ_TMP/consume.out")"
mq_stop "$kmember"
file_has_both() { gstate | grep -q '^member consumer-[0-9]*-[0-9]* pid [0-9]* partitions 0,1$'; }
poll 20 file_has_both && ok "kcat left: the file holds both partitions" ||
	fail "kcat left: the file holds both partitions" "$(gstate)"
expect_ok "echo k2 through the mount" sh -c "echo k2 >> '$MNT/t/$KP'"
got_k2() { grep -qx k2 "$MQ_TMP/consume.out"; }
poll 20 got_k2 && ok "the file reads kcat's old partition from its commit" ||
	fail "the file reads kcat's old partition from its commit" "$(gstate)"
mq_stop "$reader"
poll 20 members 0 || fail "consume reader left" "$(gstate)"

# kcat first, in a Kafka group of its own; a consume file opens: kcat's
# group ends and it joins the file's.
kcat_member kcat-first.out
kstate() { gstate | grep -q '^kafka-member rdkafka-.* partitions 0,1$'; }
poll 20 kstate && ok ".state shows the kcat member of its own group" ||
	fail ".state shows the kcat member" "$(gstate)"
mq_bg sh -c "exec cat '$MNT/t/.groups/g1/consume' >'$MQ_TMP/consume2.out'"
reader=$MQ_LAST_PID
if poll 30 kcat_holds; then
	ok "consume opens: kcat joins the file's group with one partition ($KP)"
else
	fail "consume opens: kcat joins the file's group" "$(gstate)"
fi
expect_eq "the move is logged" "1" \
	"$(grep -c "the Kafka consumers of group g1 join the consume files' group" "$LOG")"
mq_stop "$kmember"
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
		"$(cat "$MNT/t2/.groups/jsg/0" "$MNT/t2/.groups/jsg/1" | paste -sd ' ' -)"

	# kafkajs's admin.resetOffsets, then the next consumers of the group.
	jsadmin() {
		timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_admin.js" "$B" "$@" 2>&1
	}
	jsg_offsets() { cat "$MNT/t2/.groups/jsg/0" "$MNT/t2/.groups/jsg/1" | paste -sd ' ' -; }
	expect_eq "kafkajs resetOffsets to earliest settles" "ok" \
		"$(jsadmin reset-offsets jsg t2 earliest)"
	expect_eq "OffsetFetch answers the -2 committed" "$(printf '0 -2\n1 -2')" \
		"$(jsadmin group-offsets jsg t2)"
	expect_eq "the mount reads -2 as the log start" "0 0" "$(jsg_offsets)"
	expect_ok "the group's auto.offset.reset: latest" sh -c \
		"echo auto.offset.reset=latest > '$MNT/t2/.groups/jsg/.config'"
	expect_eq "a consume file reads from the log start all the same" "x0 x1 x2 y0 y1 y2" \
		"$(mq_run head -n 6 "$MNT/t2/.groups/jsg/consume" | sort | paste -sd ' ' -)"
	expect_eq "kafkajs resetOffsets to earliest again" "ok" \
		"$(jsadmin reset-offsets jsg t2 earliest)"
	expect_eq "kcat -G with auto.offset.reset=latest reads -2 as its beginning" \
		"$(printf '0 0 x0\n0 1 x1\n0 2 x2\n1 0 y0\n1 1 y1\n1 2 y2')" \
		"$(mq_run kcat -b "$B" -G jsg -e -q -f '%p %o %s\n' -X session.timeout.ms=6000 \
			-X auto.offset.reset=latest t2 | sort)"
	expect_eq "kafkajs resetOffsets to latest settles" "ok" \
		"$(jsadmin reset-offsets jsg t2 latest)"
	expect_eq "OffsetFetch answers the -1 committed" "$(printf '0 -1\n1 -1')" \
		"$(jsadmin group-offsets jsg t2)"
	expect_eq "the mount reads -1 as none: auto.offset.reset (latest)" "3 3" "$(jsg_offsets)"
	expect_eq "no OffsetCommit of jsg refused (the log)" "0" \
		"$(grep -c 'OffsetCommit from .* for group jsg' "$LOG")"
else
	fail "kafkajs" "not installed at $KAFKAJS_PATH (sh contrib/install-deps.sh installs it)"
fi

mq_done
