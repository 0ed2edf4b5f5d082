#!/bin/sh
# t_durability.sh — every acknowledged record survives unmount/remount and
# kill -9/remount; recovery after a crash keeps positions; a torn tail
# (garbage after the last batch) never becomes a record.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
mkdir "$MNT/d"
echo 'segment.bytes=65536' > "$MNT/d/.config"
seq 1 50000 > "$MQ_TMP/exp"
expect_ok "write 50,000 records" sh -c 'seq 1 50000 > "$1"' sh "$MNT/d/0"
expect_ok "several segments" test "$(find "$MNT/d/.segments/0" -name '*.log' | wc -l)" -gt 3
mq_umount
expect_ok "clean marker" test -e "$DATA/.clean-shutdown"
mq_mount
expect_same "remount keeps every record" "$MQ_TMP/exp" "$MNT/d/0"
expect_eq "settings survive remount" "segment.bytes=65536" "$(grep '^segment.bytes=' "$MNT/d/.config")"

# kill -9 right after writes were acknowledged.
seq 50001 60000 >> "$MQ_TMP/exp"
expect_ok "write 10,000 more" sh -c 'seq 50001 60000 > "$1"' sh "$MNT/d/0"
size=$(stat -c %s "$MNT/d/0")
mq_kill9
expect_ok "no clean marker after kill -9" test ! -e "$DATA/.clean-shutdown"
mq_mount
expect_same "kill -9 keeps every acknowledged record" "$MQ_TMP/exp" "$MNT/d/0"
expect_eq "st_size unchanged after recovery" "$size" "$(stat -c %s "$MNT/d/0")"
expect_ok "recovery was logged" grep -q 'recover' "$LOG"

# A torn tail: bytes after the last batch, as a crash in mid-write leaves.
mq_kill9
last=$(ls "$DATA/d-0"/*.log | sort | tail -n 1)
head -c 100 /dev/urandom >> "$last"
mq_mount
expect_same "garbage tail is cut, not a record" "$MQ_TMP/exp" "$MNT/d/0"
expect_ok "appends continue" sh -c 'echo after-crash > "$1"' sh "$MNT/d/0"
expect_eq "next record follows" "after-crash" "$(mq_run tail -n 1 "$MNT/d/0")"
mq_umount
# SIGTERM and SIGINT stop cleanly: a partial line held by an open writer
# becomes a record, and the clean-shutdown marker is written.
for sig in TERM INT; do
	# A background job inherits an ignored SIGINT; give mqfs the default.
	mq_mount_cmd "$MNT" env --default-signal=INT "$MQFS" -f --data "$DATA" "$MNT"
	# The writer's marker file is the handshake: its write() has returned.
	mq_bg sh -c 'exec 3>>"$1"; printf "partial-$2" >&3 && : >"$3"; sleep 30' sh "$MNT/d/0" "$sig" \
		"$MQ_TMP/written.$sig"
	W=$MQ_LAST_PID
	poll 30 test -e "$MQ_TMP/written.$sig" || fail "SIG$sig: the partial line is written" "no marker"
	kill -"$sig" "$MQ_PID"
	# MQ_MOUNT_WAIT, as for any daemon's exit: under load a stop has
	# taken over 10 s (lib.sh), and MQ_RC would be the last unmount's.
	if mq_wait "$MQ_PID" "$MQ_MOUNT_WAIT"; then
		expect_eq "SIG$sig: exit status 0" 0 "$MQ_RC"
	else
		fail "SIG$sig: the daemon exits" "still running ${MQ_MOUNT_WAIT} s after SIG$sig"
	fi
	mq_stop "$W"
	expect_ok "SIG$sig: clean marker" test -e "$DATA/.clean-shutdown"
	mq_mount
	expect_eq "SIG$sig: the pending partial line is a record" "partial-$sig" "$(mq_run tail -n 1 "$MNT/d/0")"
	mq_umount
done
expect_ok "--help" sh -c '"$1" --help | grep -q -- --data' sh "$MQFS"
expect_ok "--version" sh -c '"$1" --version | grep -q "[0-9]\.[0-9]"' sh "$MQFS"
mq_done
