#!/bin/sh
# t_names_elsewhere.sh — a mount shows a topic deleted or made other than
# through it at once, although the kernel keeps a name it looked up for a
# second: a single node with a Kafka listener, mounted as by default (FUSE
# over io_uring where the kernel has it on) and with -o no_uring. A topic looked up on the mount (stat) and
# then deleted by a Kafka client (DeleteTopics) fails stat and ls -d with
# ENOENT as soon as the mount no longer lists it, and mkdir of the name
# makes it again at once. A name that stat did not find (ENOENT) is found
# at once once a Kafka client made the topic (CreateTopics): the kernel
# keeps no name a lookup did not find. A consumer group's directory
# (.groups/<g>) looked up and then deleted by a Kafka client (DeleteGroups
# of <topic>/<g>) fails stat and ls -d with ENOENT as soon as the broker
# logs that the kernel was told, and mkdir makes the group again at once.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# kafka CMD ARGS...: kafka_raw.py CMD against the listener (no SASL).
kafka() {
	_k=$1
	shift
	timeout -k 5 "$MQ_TIMEOUT" python3 "$LIBDIR/kafka_raw.py" "$_k" 127.0.0.1 "$PORT" - - \
		"$@" 2>&1
}
# listed NAME: the root's listing (readdir, which the kernel never
# caches) holds NAME.
# shellcheck disable=SC2010 # readdir, which the kernel does not cache, is what is checked
listed() { ls "$MNT" 2>/dev/null | grep -qx "$1"; }
unlisted() { ! listed "$1"; }

mq_mount_listener num.partitions=1
for mode in default no_uring; do
	if [ "$mode" = no_uring ]; then
		mq_umount || mq_done
		mq_mount --config "$MQ_TMP/server.properties" -o no_uring
	fi
	r=0
	while [ "$r" -lt 3 ]; do
		r=$((r + 1))
		t=$mode-$r
		expect_ok "$mode $r: mkdir $t" mkdir "$MNT/$t"
		# The kernel holds the name now (and the directory's
		# attributes), for a second from the mkdir.
		expect_ok "$mode $r: stat $t" stat "$MNT/$t"
		expect_eq "$mode $r: DeleteTopics $t" "error 0" \
			"$(kafka named-errors delete-topics "$t")"
		# The name's notification sent: from then on a lookup asks
		# the daemon, which no longer has the topic.
		check "$mode $r: the kernel was told $t went" poll 20 grep -q \
			"topic $t: deleted; the kernel keeps its name no more" "$LOG"
		check "$mode $r: $t is no longer listed" unlisted "$t"
		expect_errno "$mode $r: stat $t at once: ENOENT" ENOENT stat "$MNT/$t"
		expect_errno "$mode $r: ls -d $t at once: ENOENT" ENOENT ls -d "$MNT/$t"
		expect_ok "$mode $r: mkdir $t at once" mkdir "$MNT/$t"
		expect_ok "$mode $r: a record into the new $t" sh -c 'echo r >>"$1"' sh "$MNT/$t/0"
		expect_eq "$mode $r: the new $t holds it" "r" "$(cat "$MNT/$t/0")"
		# A group of it, looked up, then deleted by a Kafka client.
		g=$MNT/$t/.groups/g
		expect_ok "$mode $r: mkdir $t/.groups/g" mkdir "$g"
		expect_ok "$mode $r: stat $t/.groups/g" stat "$g"
		expect_eq "$mode $r: DeleteGroups $t/g" "error 0" \
			"$(kafka named-errors delete-groups "$t/g")"
		check "$mode $r: the kernel was told group g of $t went" poll 20 grep -q \
			"group g of topic $t: deleted; the kernel keeps its name no more" "$LOG"
		expect_errno "$mode $r: stat $t/.groups/g at once: ENOENT" ENOENT stat "$g"
		expect_errno "$mode $r: ls -d $t/.groups/g at once: ENOENT" ENOENT ls -d "$g"
		expect_ok "$mode $r: mkdir $t/.groups/g at once" mkdir "$g"
	done
	# A name not found, then made by a Kafka client.
	n=new-$mode
	expect_errno "$mode: stat $n: ENOENT" ENOENT stat "$MNT/$n"
	expect_eq "$mode: CreateTopics $n" "error 0 -" "$(kafka create "$n" 1 1)"
	expect_ok "$mode: stat $n at once" stat "$MNT/$n"
done
mq_done
