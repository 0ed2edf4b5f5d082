# shellcheck shell=sh
# group_lib.sh — helpers of the scripts that run Kafka consumer-group
# members on one node (t_kafka_group_*.sh), sourced after lib.sh: each
# member writes "NAME PARTITION OFFSET KEY" per record to MQ_TMP/NAME.out
# (rdk_check member, kafkajs_member.js) and stops once MQ_TMP/NAME.stop
# exists; the group is cg, the topic t; B is the listener's address.

# group_node: mounts one node, its listener at B, and makes topic t of
# four partitions.
group_node() {
	mq_mount_listener num.partitions=4
	expect_ok "mkdir t (4 partitions)" mkdir "$MNT/t"
}
# rdk_member NAME [-X k=v]...: rdk_check (RDK) member NAME of cg on t, its
# records in NAME.out, until NAME.stop exists (at most 240 s);
# MQ_LAST_PID is its pid.
rdk_member() {
	_n=$1
	shift
	mq_bg sh -c 'n=$1; d=$2; shift 2; exec timeout -k 5 240 "$@" member cg t "$n" \
		"$d/$n.stop" >>"$d/$n.out" 2>>"$d/$n.err"' sh "$_n" "$MQ_TMP" "$RDK" -b "$B" "$@"
}
# produce FIRST LAST: keyed records kFIRST..kLAST, spread by key.
produce() {
	seq "$1" "$2" | awk '{ print "k" $1 ":v" $1 }' |
		mq_run kcat -b "$B" -P -t t -K: -z none
}
# The records the members printed; keys N: N distinct keys among them.
records() { cat "$MQ_TMP"/*.out 2>/dev/null | awk 'NF == 4 && $2 ~ /^[0-9]+$/'; }
keys() { [ "$(records | awk '{ print $4 }' | sort -u | wc -l)" -ge "$1" ]; }
last_state() { grep "Kafka group cg: " "$LOG" | tail -n 1; }
settled() { # N members: the last group line is a generation's
	last_state | grep -q "generation [0-9]*, protocol [^ ]*, leader [^ ]*, $1 members"
}
stopped() { ! kill -0 "$1" 2>/dev/null; }
# stop_member NAME PID N: NAME closes and, N > 0, the group settles with N.
stop_member() {
	touch "$MQ_TMP/$1.stop"
	poll 60 stopped "$2" || fail "$1 stops" "still running"
	if [ "$3" -gt 0 ]; then
		poll 60 settled "$3" || fail "the group settles with $3 after $1 left" "$(last_state)"
	fi
}
# ends_consumed_and_committed RDK: per partition of t (4) every offset up
# to the end consumed, none skipped, and the group's commit at the end.
ends_consumed_and_committed() {
	for _p in 0 1 2 3; do
		_end=$(mq_run "$1" -b "$B" watermarks t "$_p" | awk '{ print $2 }')
		expect_eq "partition $_p: offsets 0..$_end-1 consumed, none skipped" \
			"$_end $((_end - 1))" \
			"$(records | awk -v p="$_p" '$2 == p { print $3 }' | sort -un |
				awk '{ n++; m = $1 } END { print n, m }')"
		expect_eq "partition $_p: committed at its end" "$_end" \
			"$(cat "$MNT/t/.groups/cg/$_p")"
	done
}
