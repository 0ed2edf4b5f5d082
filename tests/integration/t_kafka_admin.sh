#!/bin/sh
# t_kafka_admin.sh — a Kafka admin client on a single node: kafkajs (from
# npm) creates a topic with 3 partitions and settings (seen with ls and in
# .config on the mount), describes its settings with their sources and
# synonyms, alters them (seen in .config), adds partitions (seen with ls),
# deletes the topic (gone from the mount; a shell in its directory gets
# ESTALE there once it is made again, ENOENT after an rmdir); kcat -L
# agrees after each step.
# A key given at the broker default's value is an override (source 1)
# until an AlterConfigs leaves it out; message.format.version,
# message.downconversion.enable and file.delete.delay.ms are taken (a
# bad message.format.version INVALID_CONFIG).
# Refusals answer Kafka's codes, each with one log line: an existing topic,
# an unknown setting, a bad value, fewer partitions, a replication factor
# above the live brokers, an unknown topic. validate_only changes nothing.
# DeleteRecords moves a partition's log start (cat, .state, .segments and
# the log agree, also after kill -9; ListOffsets by time answers nothing
# below it), refuses an offset above the high watermark and a compacted
# topic, and -1 means the high watermark.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

kafkajs_setup

mq_mount_listener log.retention.ms=86400000

admin() {
	timeout -k 5 "$MQ_TIMEOUT" node "$LIBDIR/kafkajs_admin.js" "$B" "$@" 2>&1
}
cfg() { # cfg TOPIC KEY: the value in the mount's .config
	sed -n "s/^$2=//p" "$MNT/$1/.config"
}
kcat_parts() { # kcat_parts TOPIC: its partition count in kcat -L
	timeout -k 5 "$MQ_TIMEOUT" kcat -L -b "$B" -t "$1" 2>/dev/null |
		sed -n 's/.*topic "'"$1"'" with \([0-9]*\) partitions.*/\1/p'
}

# Create with partitions and settings.
expect_eq "create orders, 3 partitions, settings" "ok" \
	"$(admin create orders 3 1 '{"retention.ms":"60000","cleanup.policy":"compact","min.insync.replicas":"1"}')"
expect_eq "ls: partitions 0 1 2" "0 1 2" "$(ls "$MNT/orders" | tr '\n' ' ' | sed 's/ $//')"
expect_eq ".config: retention.ms" "60000" "$(cfg orders retention.ms)"
expect_eq ".config: cleanup.policy" "compact" "$(cfg orders cleanup.policy)"
expect_eq "kcat -L: 3 partitions" "3" "$(kcat_parts orders)"

# Describe: sources and synonyms.
d=$(admin describe orders retention.ms segment.bytes cleanup.policy)
case $d in
*"retention.ms=60000 source=1 readonly=false synonyms=retention.ms:1,log.retention.ms:4,log.retention.hours:5"*)
	ok "describe retention.ms: topic override, then broker file, then the default (log.retention.hours, as Kafka names it)" ;;
*) fail "describe retention.ms" "$d" ;;
esac
case $d in
*"segment.bytes=1073741824 source=5 readonly=false synonyms=log.segment.bytes:5"*)
	ok "describe segment.bytes: default" ;;
*) fail "describe segment.bytes" "$d" ;;
esac
expect_eq "describe: only the names asked" "3" "$(printf '%s\n' "$d" | grep -c .)"

# Alter: the set given, the rest back to the defaults.
expect_eq "alter retention.ms and segment.bytes" "ok" \
	"$(admin alter orders '{"retention.ms":"120000","segment.bytes":"2097152"}')"
expect_eq ".config after alter: retention.ms" "120000" "$(cfg orders retention.ms)"
expect_eq ".config after alter: segment.bytes" "2097152" "$(cfg orders segment.bytes)"
expect_eq ".config after alter: cleanup.policy back to the default" "delete" \
	"$(cfg orders cleanup.policy)"
d=$(admin describe orders segment.bytes)
case $d in
"segment.bytes=2097152 source=1 "*) ok "describe after alter: override" ;;
*) fail "describe after alter" "$d" ;;
esac

# Refusals, each with Kafka's code and one log line.
expect_eq "create again: TOPIC_ALREADY_EXISTS" "exists" "$(admin create orders 1)"
expect_ok "log: the existing topic" grep -q "'orders' refused: TOPIC_ALREADY_EXISTS" "$LOG"
r=$(admin create bad1 1 1 '{"no.such.setting":"1"}')
expect_eq "unknown config: INVALID_CONFIG" "error INVALID_CONFIG" "${r%%:*}"
expect_ok "log: the unknown key" grep -q "CreateTopics from .*'bad1' refused: INVALID_CONFIG.*no.such.setting" "$LOG"
r=$(admin create bad2 1 1 '{"segment.bytes":"5"}')
expect_eq "bad value: INVALID_CONFIG" "error INVALID_CONFIG" "${r%%:*}"
r=$(admin create bad3 1 3)
expect_eq "replication factor 3 on one node: INVALID_REPLICATION_FACTOR" \
	"error INVALID_REPLICATION_FACTOR" "${r%%:*}"
expect_ok "log: the replication factor" grep -q "'bad3' refused: INVALID_REPLICATION_FACTOR" "$LOG"
r=$(admin create bad4 0)
expect_eq "0 partitions: INVALID_PARTITIONS" "error INVALID_PARTITIONS" "${r%%:*}"
r=$(admin create __mine 1)
expect_eq "a \"__\" name, as mkdir: INVALID_TOPIC_EXCEPTION" "error INVALID_TOPIC_EXCEPTION" "${r%%:*}"
expect_ok "log: the __ refusal" grep -q "CreateTopics from .*'__mine' refused: INVALID_TOPIC_EXCEPTION" "$LOG"
expect_ok "no __mine made" sh -c '! ls "$1" | grep -q __mine' sh "$DATA"
r=$(admin create .state 1)
expect_eq "a dot-name, as mkdir: INVALID_TOPIC_EXCEPTION" "error INVALID_TOPIC_EXCEPTION" "${r%%:*}"
expect_ok "log: the dot-name refusal" grep -q "CreateTopics from .*'.state' refused: INVALID_TOPIC_EXCEPTION.*dot-names" "$LOG"
# shellcheck disable=SC2010 # the mount's listing is what is checked
expect_eq ".state is the mount's view, once" "1" "$(ls -a "$MNT" | grep -cx '.state')"
r=$(admin create order.s 1)
expect_eq "order.s made" "ok" "$r"
r=$(admin create order_s 1)
expect_eq "order_s collides with order.s: INVALID_TOPIC_EXCEPTION" "error INVALID_TOPIC_EXCEPTION" "${r%%:*}"
expect_ok "log: the collision" grep -q "'order_s' refused: INVALID_TOPIC_EXCEPTION.*collides with existing topics: order.s" "$LOG"
expect_ok "no order_s made" sh -c '! ls "$1" | grep -q order_s' sh "$MNT"
expect_eq "order.s deleted" "ok" "$(admin delete order.s)"
r=$(admin alter orders '{"retention.ms":"soon"}')
expect_eq "alter, bad value: INVALID_CONFIG" "error INVALID_CONFIG" "${r%%:*}"
expect_ok "log: the alter refusal" grep -q "AlterConfigs from .*'orders' refused: INVALID_CONFIG" "$LOG"
expect_eq ".config unchanged by a refused alter" "120000" "$(cfg orders retention.ms)"
r=$(admin partitions orders 2)
expect_eq "fewer partitions: INVALID_PARTITIONS" "error INVALID_PARTITIONS" "${r%%:*}"
expect_ok "log: the partitions refusal" grep -q "CreatePartitions from .*'orders' refused: INVALID_PARTITIONS" "$LOG"
r=$(admin describe nosuch)
expect_eq "describe unknown topic: UNKNOWN_TOPIC_OR_PARTITION" \
	"error UNKNOWN_TOPIC_OR_PARTITION" "${r%%:*}"
expect_eq "no bad topic made" "orders" "$(ls "$MNT" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "validate only: ok" "ok" "$(admin create dry 2 1 '{}' validate)"
expect_eq "validate only: nothing made" "orders" "$(ls "$MNT" | tr '\n' ' ' | sed 's/ $//')"

# DeleteRecords: the log starts at the offset given, on the mount too.
expect_eq "create dr (segment.bytes 1024)" "ok" "$(admin create dr 1 1 '{"segment.bytes":"1024"}')"
i=0
while [ $i -lt 200 ]; do
	seq "$i" $((i + 9)) | sed 's/^/line-/' >>"$MNT/dr/0"
	i=$((i + 10))
done
expect_eq "dr/0: 200 lines" "200" "$(mq_run cat "$MNT/dr/0" | wc -l)"
expect_eq "delete records below 50" "ok low=50 high=200" "$(admin delete-records dr 0 50)"
expect_eq "cat starts at offset 50" "line-50" "$(mq_run head -n 1 "$MNT/dr/0")"
expect_eq "150 lines left" "150" "$(mq_run cat "$MNT/dr/0" | wc -l)"
expect_eq ".state: log start 50" "50" "$(awk '$1 == "0" { print $2 }' "$MNT/dr/.state")"
expect_ok "the segments wholly below went" sh -c \
	'! ls "$1" | grep -qx 00000000000000000000.log' sh "$MNT/dr/.segments/0"
expect_ok "log: the deletion, with the asker" \
	grep -q "DeleteRecords from .*: dr-0: records below offset 50 deleted, the log starts at 50" "$LOG"
# A start inside a batch (of 10 lines): by time, no offset below it,
# though its segment and time index still hold the records below, which
# a fetch would find out of range.
expect_eq "delete records below 55" "ok low=55 high=200" "$(admin delete-records dr 0 55)"
expect_eq "kcat -Q at time 0: the log start" "dr [0] offset 55" \
	"$(mq_run kcat -Q -b "$B" -t dr:0:0 2>&1 | grep -o 'dr \[0\] offset [0-9-]*')"
expect_eq "and a fetch there: its record" "line-55" \
	"$(mq_run kcat -C -b "$B" -t dr -p 0 -o 55 -c 1 -e 2>/dev/null)"
r=$(admin delete-records dr 0 500)
expect_eq "above the high watermark: OFFSET_OUT_OF_RANGE" "error OFFSET_OUT_OF_RANGE" "${r%%:*}"
expect_ok "log: the refusal" grep -q "DeleteRecords from .*: dr-0 below offset 500 refused: OFFSET_OUT_OF_RANGE" "$LOG"
expect_eq "below the start: nothing changes" "ok low=55 high=200" "$(admin delete-records dr 0 10)"
expect_eq "create cmp (compact only)" "ok" "$(admin create cmp 1 1 '{"cleanup.policy":"compact","key.separator":":"}')"
r=$(admin delete-records cmp 0 0)
expect_eq "a compacted topic: POLICY_VIOLATION" "error POLICY_VIOLATION" "${r%%:*}"
expect_eq "-1: up to the high watermark" "ok low=200 high=200" "$(admin delete-records dr 0 -1)"
expect_eq "nothing left to read" "0" "$(mq_run cat "$MNT/dr/0" | wc -c)"
expect_ok "writes go on" sh -c 'echo line-200 >> "$1"' sh "$MNT/dr/0"
expect_eq "and read back" "line-200" "$(mq_run cat "$MNT/dr/0")"
mq_kill9
mq_mount --config "$MQ_TMP/server.properties"
expect_eq "after kill -9: the log still starts at 200" "200" \
	"$(awk '$1 == "0" { print $2 }' "$MNT/dr/.state")"
expect_eq "and reads the same" "line-200" "$(mq_run cat "$MNT/dr/0")"
expect_eq "delete dr, cmp" "ok ok" "$(admin delete dr) $(admin delete cmp)"

# kafka-acls.sh's requests: no authorizer, as a Kafka broker without one
# answers them (kafkajs asks v0/v1).
expect_eq "describe, create and delete ACLs: SECURITY_DISABLED" \
	"describe error SECURITY_DISABLED|create error SECURITY_DISABLED|delete error SECURITY_DISABLED" \
	"$(admin acls orders | paste -sd'|' -)"
expect_ok "log: no authorizer" grep -q "DescribeAcls from .*: 1 ACL operation(s): no authorizer here" "$LOG"

# Partitions grow; the topic goes.
expect_eq "create partitions: 5" "ok" "$(admin partitions orders 5)"
expect_eq "ls: partitions 0..4" "0 1 2 3 4" "$(ls "$MNT/orders" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "kcat -L: 5 partitions" "5" "$(kcat_parts orders)"
expect_ok "echo into the new partition 4" sh -c "echo hello >> '$MNT/orders/4'"
# cwd_in T: a shell whose working directory is topic T waits (on a fifo)
# to cat its partition 0 there; cwd_cat: lets it, and prints what cat
# said on stderr.
mkfifo "$MQ_TMP/cwd.go"
cwd_in() {
	rm -f "$MQ_TMP/cwd.in"
	mq_bg sh -c 'cd "$1" && : >"$2" && read -r _ <"$3" && cat 0 2>"$4"' sh \
		"$MNT/$1" "$MQ_TMP/cwd.in" "$MQ_TMP/cwd.go" "$MQ_TMP/cwd.err"
	cwd_pid=$MQ_LAST_PID
	poll "$MQ_TIMEOUT" test -e "$MQ_TMP/cwd.in"
}
cwd_cat() {
	echo go >"$MQ_TMP/cwd.go"
	mq_wait "$cwd_pid"
	sed 's/.*: //' "$MQ_TMP/cwd.err"
}
cwd_in orders
expect_eq "delete orders" "ok" "$(admin delete orders)"
expect_eq "gone from the mount" "" "$(ls "$MNT")"
r=$(admin delete orders)
expect_eq "delete again: UNKNOWN_TOPIC_OR_PARTITION" "error UNKNOWN_TOPIC_OR_PARTITION" "${r%%:*}"
case $(timeout -k 5 "$MQ_TIMEOUT" kcat -L -b "$B" 2>&1) in
*'topic "orders"'*) fail "kcat -L after delete" "orders still listed" ;;
*) ok "kcat -L after delete: orders gone" ;;
esac
# The kernel did not see that deletion: a name looked up in the deleted
# topic's directory, once the topic is made again, is ESTALE (README's
# errors); after an rmdir through the mount the kernel answers ENOENT
# itself.
expect_ok "orders made again" mkdir "$MNT/orders"
expect_eq "cat 0 in the deleted topic's directory: ESTALE" "$(mq_strerror ESTALE)" "$(cwd_cat)"
cwd_in orders
expect_ok "rmdir orders" rmdir "$MNT/orders"
expect_ok "orders made again" mkdir "$MNT/orders"
expect_eq "cat 0 in the directory rmdir removed: ENOENT" "$(mq_strerror ENOENT)" "$(cwd_cat)"
expect_ok "rmdir orders" rmdir "$MNT/orders"

# A key set to the broker default's value stays an override (Kafka's);
# Kafka 3.x's keys of old formats and of delayed deletion are taken.
expect_eq "create with a key at the default's value" "ok" \
	"$(admin create kept 1 1 '{"segment.bytes":"1073741824","message.format.version":"2.8","message.downconversion.enable":"false","file.delete.delay.ms":"1000"}')"
d=$(admin describe kept segment.bytes message.format.version message.downconversion.enable \
	file.delete.delay.ms)
case $d in
*"segment.bytes=1073741824 source=1 "*) ok "describe: a key at the default's value is an override" ;;
*) fail "describe: a key at the default's value" "$d" ;;
esac
case $d in
*"file.delete.delay.ms=1000 source=1 "*"message.format.version=2.8 source=1 "*"message.downconversion.enable=false source=1 "*)
	ok "describe: message.format.version, message.downconversion.enable, file.delete.delay.ms" ;;
*) fail "describe: the old-format keys" "$d" ;;
esac
expect_eq ".config keeps it" "1073741824" "$(cfg kept segment.bytes)"
r=$(admin alter kept '{"message.format.version":"garbage"}')
expect_eq "message.format.version garbage: INVALID_CONFIG" "error INVALID_CONFIG" "${r%%:*}"
expect_eq "alter without it: no longer an override" "ok" "$(admin alter kept '{}')"
d=$(admin describe kept segment.bytes message.format.version)
case $d in
*"segment.bytes=1073741824 source=5 "*"message.format.version=3.0-IV1 source=5 "*)
	ok "describe after: defaults again" ;;
*) fail "describe after: defaults again" "$d" ;;
esac

mq_umount
mq_done
