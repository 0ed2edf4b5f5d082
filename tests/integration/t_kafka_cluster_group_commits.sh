#!/bin/sh
# t_kafka_cluster_group_commits.sh — the coordinator of a consumer group
# is killed (kill -9) while its members commit: three brokers and
# ZooKeeper on loopback, a replicated topic of four partitions, three
# librdkafka members (rdk_check member, eager range assignor) that commit
# each record synchronously as they read it, while records are written:
#   - a survivor takes the group over (FindCoordinator names it) and the
#     members carry on there: records written after the kill are read;
#   - every commit a member was told succeeded before the kill is there
#     at the new coordinator (OffsetFetch through a survivor);
#   - every record is consumed at least once (per partition every offset
#     up to the end, none skipped) and, once the members stopped (one
#     after the other), each partition's committed offset is its end;
#   - a commit's metadata and another's leader epoch (another group of
#     the same coordinator) are what the new coordinator answers too.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

RDK=${RDK_CHECK:-$(dirname "$MQFS")/tests/clients/rdk_check}
[ -x "$RDK" ] || { fail "rdk_check" "not built at $RDK"; mq_done; }

CLUSTER_CONF="num.partitions=4"
zk_cluster_start
cluster_start3
cluster_mkdir c

coord_known() {
	C=$(group_coordinator gc 1)
	case $C in 1 | 2 | 3) return 0 ;; *) return 1 ;; esac
}
check "FindCoordinator gc names a broker" poll 40 coord_known
S1=$((C % 3 + 1))
S2=$((S1 % 3 + 1))
eval "PS1=\$PORT$S1 PS2=\$PORT$S2"
echo "# gc is coordinated by broker $C; survivors $S1 and $S2" >>"$LOG"
BOOT=127.0.0.1:$PS1,127.0.0.1:$PS2

# member NAME: a member of gc bootstrapped from the survivors, committing
# each record; records on NAME.out, commits taken on NAME.err.
# shellcheck disable=SC2086 # SASL is a list of arguments
member() {
	mq_bg sh -c 'n=$1; d=$2; shift 2; exec timeout -k 5 240 "$@" member gc c "$n" \
		"$d/$n.stop" >>"$d/$n.out" 2>>"$d/$n.err"' sh "$1" "$MQ_TMP" "$RDK" -b "$BOOT" \
		$SASL -X session.timeout.ms=10000 -X heartbeat.interval.ms=500 \
		-X auto.offset.reset=earliest -X enable.auto.commit=false \
		-X topic.metadata.refresh.interval.ms=1000
}
records() { cat "$MQ_TMP"/*.out 2>/dev/null | awk 'NF == 4 && $2 ~ /^[0-9]+$/'; }
keys() { [ "$(records | awk '{ print $4 }' | sort -u | wc -l)" -ge "$1" ]; }
# acked: per partition, the highest commit a member was told was taken.
acked() {
	cat "$MQ_TMP"/*.err 2>/dev/null | awk '$2 == "committed" && $4 > m[$3] { m[$3] = $4 }
		END { for (p = 0; p < 4; p++) print p, (p in m) ? m[p] : 0 }'
}
stopped() { ! kill -0 "$1" 2>/dev/null; }

# The producer: batches of 20 keyed records through the survivors until
# produce.stop exists; "produced" holds the last key written. Its bound
# only stops a run left alone: a loaded host, whose members take long to
# settle and commit, must still find the producer writing at the kill,
# or no record is written after it.
mq_bg sh -c 'i=1; while [ ! -e "$1/produce.stop" ] && [ $i -lt 100000 ]; do
	seq $i $((i + 19)) | awk "{ print \"k\" \$1 \":v\" \$1 }" |
		timeout 60 "$3" -X request.required.acks=all -X message.timeout.ms=50000 \
		-b "$2" $4 -P -t c -K: -z none || exit 1
	echo $((i + 19)) >"$1/produced"; i=$((i + 20)); done' sh "$MQ_TMP" "$BOOT" kcat "$SASL"
P=$MQ_LAST_PID
member M1
M1=$MQ_LAST_PID
member M2
M2=$MQ_LAST_PID
member M3
M3=$MQ_LAST_PID
settled3() {
	grep "Kafka group gc: " "$LOG" | tail -n 1 | grep -q "generation [0-9]*, .*, 3 members"
}
check "the group settles with three members" poll 60 settled3
commits() { [ "$(cat "$MQ_TMP"/*.err 2>/dev/null | grep -c " committed ")" -ge "$1" ]; }
check "the members commit" poll 60 commits 150

# A group the same broker coordinates commits with metadata: the new
# coordinator answers it too (it is in the commit's record).
same_coord() {
	for i in $(seq 1 64); do
		[ "$(group_coordinator "gm$i" 1)" = "$C" ] && echo "gm$i" && return 0
	done
	return 1
}
GM=$(same_coord)
expect_ok "a group gm* coordinated by broker $C too" test -n "$GM"
expect_eq "$GM commits offset 1 of c-0 with metadata" "commit NO_ERROR" \
	"$(mq_run "$RDK" -b "$BOOT" $SASL commit "$GM" c 0 1 "meta $GM" 2>/dev/null)"
eval "_cport=\$PORT$C"
expect_eq "$GM commits offset 2 of c-1 with leader epoch 3" "error 0" \
	"$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" commit-epoch 127.0.0.1 "$_cport" \
		admin admin-secret "$GM" c 1 2 3 2>&1)"

eval "CPID=\$PID$C"
mq_kill9 "$MQ_TMP/mnt$C" "$CPID"
acked >"$MQ_TMP/acked"
ok "coordinator $C killed (kill -9) after commits $(tr '\n' ' ' <"$MQ_TMP/acked")"
N0=$(cat "$MQ_TMP/produced")
moved() {
	_c=$(group_coordinator gc "$S1")
	[ "$_c" = "$S1" ] || [ "$_c" = "$S2" ]
}
check "FindCoordinator gc names a survivor" poll 60 moved
survived() {
	mq_run "$RDK" -b "$BOOT" $SASL committed gc c 4 >"$MQ_TMP/fetched" 2>/dev/null || return 1
	join "$MQ_TMP/acked" "$MQ_TMP/fetched" | awk '$3 < $2 { bad = 1 } END { exit bad }'
}
check "every commit taken before the kill is at the new coordinator" poll 60 survived
gm_meta() {
	[ "$(mq_run "$RDK" -b "$BOOT" $SASL committed "$GM" c 1 2>/dev/null)" = "0 1 meta $GM" ]
}
check "and $GM's metadata with its offset" poll 60 gm_meta
gm_epoch() {
	_gc=$(group_coordinator "$GM" "$S1")
	eval "_gp=\$PORT$_gc"
	[ "$(timeout -k 5 30 python3 "$LIBDIR/kafka_raw.py" committed 127.0.0.1 "$_gp" \
		admin admin-secret "$GM" c 1 2>&1)" = "error 0 offset 2 epoch 3" ]
}
check "and $GM's leader epoch with its offset (OffsetFetch v5)" poll 60 gm_epoch
check "the members read records written after the kill" poll 90 keys $((N0 + 100))
touch "$MQ_TMP/produce.stop"
check "the producer stops" poll 90 stopped "$P"
mq_wait "$P" 5
expect_eq "the producer exits 0" 0 "$MQ_RC"
N=$(cat "$MQ_TMP/produced")
check "every one of the $N records consumed" poll 90 keys "$N"
for m in "M1 $M1" "M2 $M2" "M3 $M3"; do
	set -- $m
	touch "$MQ_TMP/$1.stop"
	check "$1 stops" poll 60 stopped "$2"
done
for p in 0 1 2 3; do
	end=$(mq_run "$RDK" -b "$BOOT" $SASL watermarks c "$p" | awk '{ print $2 }')
	expect_eq "partition $p: offsets 0..$end-1 consumed, none skipped" "$end $((end - 1))" \
		"$(records | awk -v p="$p" '$2 == p { print $3 }' | sort -un |
			awk '{ n++; m = $1 } END { print n, m }')"
	expect_eq "partition $p: committed at its end" "$p $end" \
		"$(mq_run "$RDK" -b "$BOOT" $SASL committed gc c 4 | awk -v p="$p" '$1 == p')"
done
mq_done
