#!/bin/sh
# t_data_dirs.sh — the data directory and the mount point as users name
# them: relative paths, spaces and non-ASCII, a symlink, a mount point
# that is not empty serve and restart with every record; a mount point
# that is a file, a data directory at or inside the mount point, and a
# mount point a running mqfs has mounted are refused at the start (exit
# 1, the reason on stderr, nothing mounted), where they used to start and
# then answer EIO to everything (a file), hang the daemon and its caller
# at the first mkdir (the daemon reached its own files through its own
# mount), or hide the first daemon's mount. A data directory that is not
# mqfs's and holds a directory named like a log is refused too (a mkdir
# of that topic deleted it). The read-ahead of a mount point with a space
# is raised as any other's.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup

# not_mounted M: nothing is mounted on M.
not_mounted() {
	! proc_is_mounted "$1"
}

# refused NAME OUT ARGS...: mqfs -f ARGS exits 1 at once (a deadline, so
# that a start that mounts after all does not hold the script), its
# stderr in OUT.
refused() {
	_rn=$1
	_ro=$2
	shift 2
	timeout -k 5 20 "$MQFS" -f -o no_uring "$@" >"$_ro" 2>&1 </dev/null
	expect_eq "$_rn: exit 1" 1 "$?"
}

# ---- paths as users write them ----------------------------------------------
# Relative paths (from the test's directory), a data directory behind a
# symlink whose target has spaces and non-ASCII characters, and a mount
# point that already holds a file (hidden while mounted, there again
# after).
REAL="$MQ_TMP/dätä dir"
mkdir -p "$REAL" "$MQ_TMP/mnt ä"
ln -s "dätä dir" "$MQ_TMP/link"
echo left > "$MQ_TMP/mnt ä/already-here"
cd "$MQ_TMP" || exit 1
mq_mount_cmd "$MQ_TMP/mnt ä" "$MQFS" -f -o no_uring --data link/sub "mnt ä"
M="$MQ_TMP/mnt ä"
expect_ok "mkdir a topic" mkdir "$M/t"
seq 1 500 >"$MQ_TMP/exp"
expect_ok "write 500 records" sh -c 'seq 1 500 > "$1"' sh "$M/t/0"
expect_eq "log.dirs is the symlink's target, absolute" "log.dirs=$REAL/sub" \
	"$(grep '^log.dirs=' "$M/.config")"
mq_umount "$M"
expect_eq "the file on the mount point is there again" left "$(cat "$M/already-here")"
expect_ok "the logs are in the symlink's target" test -d "$REAL/sub/t-0"
mq_mount_cmd "$MQ_TMP/mnt ä" "$MQFS" -f -o no_uring --data "$REAL/sub" "mnt ä"
expect_same "after a restart by the real path: every record" "$MQ_TMP/exp" "$M/t/0"
expect_ok "a write after the restart" sh -c 'echo 501 >> "$1"' sh "$M/t/0"
seq 1 501 >"$MQ_TMP/exp"
expect_same "read back" "$MQ_TMP/exp" "$M/t/0"
# The first read through the page cache raises the mount's read-ahead,
# found in /proc/self/mountinfo, where the space is written \040.
expect_ok "the read-ahead of the mount point with a space is raised" \
	grep -q "read-ahead of $M: 1024 KiB" "$LOG"
expect_eq "the kernel's read-ahead of the mount" 1024 \
	"$(cat "/sys/class/bdi/$(mountpoint -d "$M")/read_ahead_kb")"
mq_umount "$M"

# ---- refused at the start ---------------------------------------------------
echo not-a-dir >"$MQ_TMP/afile"
refused "a mount point that is a file" "$MQ_TMP/out1" --data "$MQ_TMP/d1" "$MQ_TMP/afile"
expect_ok "it says so" grep -q "mount point $MQ_TMP/afile: Not a directory" "$MQ_TMP/out1"
check "the file is not mounted over" not_mounted "$MQ_TMP/afile"
expect_eq "and is as it was" not-a-dir "$(cat "$MQ_TMP/afile")"

mkdir -p "$MQ_TMP/m2"
refused "a data directory inside the mount point" "$MQ_TMP/out2" --data m2/data m2
expect_ok "it says so" grep -q \
	"data directory $MQ_TMP/m2/data is inside the mount point $MQ_TMP/m2" "$MQ_TMP/out2"
check "nothing mounted" not_mounted "$MQ_TMP/m2"

refused "the data directory as the mount point" "$MQ_TMP/out3" --data "$MQ_TMP/m2" "$MQ_TMP/m2"
expect_ok "it says so" grep -q \
	"data directory $MQ_TMP/m2 is the mount point $MQ_TMP/m2" "$MQ_TMP/out3"
check "nothing mounted" not_mounted "$MQ_TMP/m2"

# A mount point that a running mqfs has mounted already: a second one
# would hide it (its topics gone from view, the daemon still running).
mkdir -p "$MQ_TMP/m3"
mq_mount_cmd "$MQ_TMP/m3" "$MQFS" -f -o no_uring --data "$MQ_TMP/d3" "$MQ_TMP/m3"
P3=$MQ_PID
expect_ok "first daemon: mkdir" mkdir "$MQ_TMP/m3/first"
refused "a second mqfs on a live mqfs mount" "$MQ_TMP/out4" --data "$MQ_TMP/d4" "$MQ_TMP/m3"
expect_ok "it says so" grep -q "mount point $MQ_TMP/m3 is mounted by a running mqfs already" \
	"$MQ_TMP/out4"
expect_eq "one mount on it" 1 "$(grep -c " $MQ_TMP/m3 " /proc/mounts)"
expect_ok "the first daemon's topic is in view" test -d "$MQ_TMP/m3/first"
mq_umount "$MQ_TMP/m3" "$P3"

# A directory that is not mqfs's as the data directory: other files are
# left alone, but a directory named like a log ("photos-1") would be
# taken for an orphan log and deleted, with what it holds, by a mkdir of
# a topic of that name: refused while meta/ has never been made.
mkdir -p "$MQ_TMP/home/photos-1" "$MQ_TMP/home2"
echo picture >"$MQ_TMP/home/photos-1/a.jpg"
echo notes >"$MQ_TMP/home2/notes.txt"
refused "a data directory with a directory named like a log" "$MQ_TMP/out5" \
	--data "$MQ_TMP/home" "$MQ_TMP/m2"
expect_ok "it says so" grep -q \
	"data directory $MQ_TMP/home holds photos-1 but no meta/: it is not an mqfs data directory" \
	"$MQ_TMP/out5"
expect_eq "photos-1 keeps its file" picture "$(cat "$MQ_TMP/home/photos-1/a.jpg")"
expect_fail "no meta/ was made" test -e "$MQ_TMP/home/meta"
refused "again: still refused" "$MQ_TMP/out6" --data "$MQ_TMP/home" "$MQ_TMP/m2"
mq_mount_cmd "$MQ_TMP/m2" "$MQFS" -f -o no_uring --data "$MQ_TMP/home2" "$MQ_TMP/m2"
expect_ok "a data directory holding other files: mkdir" mkdir "$MQ_TMP/m2/notes"
mq_umount "$MQ_TMP/m2"
expect_eq "the other file is left alone" notes "$(cat "$MQ_TMP/home2/notes.txt")"

# A symlink inside the mount point that leads out of it is not inside.
mkdir -p "$MQ_TMP/out-d"
ln -s ../out-d "$MQ_TMP/m2/away"
mq_mount_cmd "$MQ_TMP/m2" "$MQFS" -f -o no_uring --data "$MQ_TMP/m2/away" "$MQ_TMP/m2"
expect_ok "a data directory reached through the mount point's symlink: mkdir" \
	mkdir "$MQ_TMP/m2/t"
mq_umount "$MQ_TMP/m2"
expect_ok "its logs are outside" test -d "$MQ_TMP/out-d/t-0"

mq_done
