#!/bin/sh
# t_daemon.sh — the daemon's hold on its process and its directories: a
# second mqfs on a data directory in use is refused and the first one's
# records stay intact; a dead mount left by kill -9 is cleared by the next
# start on the same mount point; SIGINT stops mqfs even when it was
# started with SIGINT ignored (a background job of a script); daemonized,
# the start's lines go to the terminal and the rest to DATA/mqfs.log on a
# machine without syslog.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup

# Whether `cat FILE` gives what EXPECTED holds.
reads_same() {
	timeout -k 2 5 cat "$1" 2>/dev/null | cmp -s - "$2"
}

# Polls (up to MQ_MOUNT_WAIT s) until `cat FILE` gives what EXPECTED holds.
wait_reads() {
	poll "$MQ_MOUNT_WAIT" reads_same "$1" "$2"
}

mq_mount
mkdir "$MNT/t"
seq 1 1000 > "$MQ_TMP/exp"
expect_ok "first daemon takes records" sh -c 'seq 1 1000 > "$1"' sh "$MNT/t/0"

# A second daemon on the same data directory.
MNT2=$MQ_TMP/mnt2
mkdir "$MNT2"
_mq_add MQ_MOUNTS "$MNT2"       # unmounted at exit should it mount after all
"$MQFS" --data "$DATA" "$MNT2" > "$MQ_TMP/second.out" 2>&1
st=$?
expect_eq "second daemon on the same data exits 1" 1 "$st"
expect_ok "it did not mount" sh -c '! awk -v m="$1" '"'"'$2 == m { f = 1 } END { exit !f }'"'"' /proc/mounts' sh "$MNT2"
expect_ok "its message names the directory and the pid holding it" \
	grep -q "data directory $DATA is in use by another mqfs (pid $MQ_PID" "$MQ_TMP/second.out"
expect_same "the first daemon's records are intact" "$MQ_TMP/exp" "$MNT/t/0"
# An option libfuse refuses: named by libfuse, as one line of the log.
"$MQFS" -o nosuchopt --data "$MQ_TMP/d3" "$MNT2" > "$MQ_TMP/third.out" 2>&1
expect_eq "an unknown -o option: exit 1" 1 "$?"
expect_ok "libfuse's message is one timestamped log line" \
	grep -qE "^[0-9-]+ [0-9:.]+ ERROR libfuse: fuse: unknown option\(s\): \`-o nosuchopt'\$" "$MQ_TMP/third.out"
seq 1001 1100 >> "$MQ_TMP/exp"
expect_ok "the first daemon still appends" sh -c 'seq 1001 1100 > "$1"' sh "$MNT/t/0"
expect_same "and reads all of it" "$MQ_TMP/exp" "$MNT/t/0"
mtime_ms() { python3 -c 'import os, sys; print(os.stat(sys.argv[1]).st_mtime_ns // 1000000)' "$1"; }
M1=$(mtime_ms "$MNT/t/0")
expect_ok "the partition's mtime is its last append's, after the topic's creation" \
	test "$M1" -gt "$(python3 -c 'import os, sys; print(os.stat(sys.argv[1]).st_ctime_ns // 1000000)' "$MNT/t/0")"
mq_umount
expect_eq "first daemon stopped cleanly" 0 "$MQ_RC"
mq_mount
expect_same "every record after a restart" "$MQ_TMP/exp" "$MNT/t/0"
M2=$(mtime_ms "$MNT/t/0")
expect_ok "after the restart the mtime is not earlier ($M1, then $M2)" test "$M2" -ge "$M1"

# start_on_dead NAME — starts mqfs on the dead mount point ($P) and expects
# it to mount and serve every record.
start_on_dead() {
	mq_bg sh -c 'exec "$0" -f --data "$1" "$2" >>"$3" 2>&1' "$MQFS" "$DATA" "$MNT" "$LOG"
	P=$MQ_LAST_PID
	_mq_add MQ_DAEMONS "$P"
	if wait_reads "$MNT/t/0" "$MQ_TMP/exp"; then
		ok "$1"
	else
		fail "$1" "$(cat "$MNT/t/0" 2>&1 | tail -n 1)"
	fi
}

# kill -9 leaves a dead mount; the next start on the same mount point
# clears it and mounts. First a start right after the kill, not waiting for
# the killed process to be gone (it holds the data directory's lock until
# its last thread exits) nor for the kernel to end the connection (on the
# io_uring transport an access then fails with ECONNABORTED), with the
# root's attributes fresh in the kernel's cache (a stat() of the mount
# point would still succeed); then one on a mount that answers ENOTCONN.
stat "$MNT" >/dev/null
kill -KILL "$MQ_PID"
start_on_dead "a start right after kill -9 mounts and serves every record"
mq_wait "$MQ_PID" 10
expect_eq "it detached the dead mount: one mount on the mount point" 1 \
	"$(awk -v m="$MNT" '$2 == m' /proc/mounts | wc -l)"
kill -KILL "$P"
mq_wait "$P" 10
# A stat() in the kernel's teardown window waits for it and fails with
# ECONNABORTED; after it every access fails with ENOTCONN.
stat_not_aborting() {
	! stat "$MNT" 2>&1 | grep -q "$(mq_strerror ECONNABORTED)"
}
poll 10 stat_not_aborting
expect_errno "the dead mount answers ENOTCONN" ENOTCONN stat "$MNT"
start_on_dead "a start on the dead mount point mounts and serves every record"
expect_ok "the dead mount was logged" grep -q "was a dead fuse" "$LOG"
expect_ok "appends after the restart" sh -c 'echo after > "$1"' sh "$MNT/t/0"
echo after >> "$MQ_TMP/exp"
expect_eq "exactly one mount left on the mount point" 1 \
	"$(awk -v m="$MNT" '$2 == m' /proc/mounts | wc -l)"
mq_umount "$MNT" "$P"
expect_eq "stopped cleanly after the restart" 0 "$MQ_RC"

# SIGINT ignored by the parent, as for a background job of a script: the
# daemon still stops on it, cleanly.
mq_mount_cmd "$MNT" sh -c 'trap "" INT; exec "$@"' sh "$MQFS" -f --data "$DATA" "$MNT"
expect_same "records before SIGINT" "$MQ_TMP/exp" "$MNT/t/0"
kill -INT "$MQ_PID"
if mq_wait "$MQ_PID" "$MQ_MOUNT_WAIT"; then
	ok "SIGINT stops a daemon started with SIGINT ignored"
	expect_eq "exit status 0" 0 "$MQ_RC"
	expect_ok "unmounted" sh -c '! awk -v m="$1" '"'"'$2 == m { f = 1 } END { exit !f }'"'"' /proc/mounts' sh "$MNT"
	expect_ok "clean marker" test -e "$DATA/.clean-shutdown"
	_mq_del MQ_MOUNTS "$MNT"
else
	fail "SIGINT stops a daemon started with SIGINT ignored" "still running"
fi

# Daemonized (no -f): the lines of the start, until the mount is ready, go
# to the terminal; the rest to syslog or, on a machine without /dev/log,
# to DATA/mqfs.log, which the terminal is told.
DBG=$MQ_TMP/data-bg
MBG=$MQ_TMP/mnt-bg
mkdir -p "$MBG"
if mq_run "$MQFS" --data "$DBG" "$MBG" >"$MQ_TMP/bg.out" 2>&1 </dev/null; then
	ok "a daemonized start exits 0 once mounted"
	_mq_add MQ_MOUNTS "$MBG"
	bgpid=$(cat "$DBG/.lock")
	_mq_add MQ_DAEMONS "$bgpid"
	if mq_is_mounted "$MBG"; then
		ok "mounted when it exits"
	else
		fail "mounted when it exits" "not in /proc/mounts"
	fi
	expect_ok "the start's lines on the terminal" grep -q "broker 0: $DBG opened" "$MQ_TMP/bg.out"
	mkdir "$MBG/.x" 2>/dev/null
	mq_umount "$MBG" "$bgpid"
	expect_ok "stopped cleanly" test -e "$DBG/.clean-shutdown"
	if [ -S /dev/log ]; then
		skip "DATA/mqfs.log" "this machine has a syslog socket"
	else
		expect_ok "the terminal is told of DATA/mqfs.log" \
			grep -q "no syslog (/dev/log): the daemon logs to $DBG/mqfs.log" "$MQ_TMP/bg.out"
		expect_ok "mqfs.log has the mount's lines" grep -q "mounted on $MBG" "$DBG/mqfs.log"
		expect_ok "and its refusals" grep -q "mkdir .x: refused" "$DBG/mqfs.log"
		expect_ok "and the stop" grep -q "stopped cleanly" "$DBG/mqfs.log"
		expect_ok "not the start's lines, which the terminal had" \
			sh -c '! grep -q "broker 0: .* opened" "$1"' sh "$DBG/mqfs.log"
	fi
else
	fail "a daemonized start exits 0 once mounted" "$(cat "$MQ_TMP/bg.out")"
fi
mq_done
