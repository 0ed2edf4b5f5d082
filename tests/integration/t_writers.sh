#!/bin/sh
# t_writers.sh — several writers of one partition file, each with a kernel
# inode of its own (fs/inode.h): a writer's open while another writes
# through the file's inode makes a new node (mqfs_fs_nodes), every
# descriptor and the path show one inode number, writes through the three
# interleave in the order made, readers (cat twice, tail -f) see every
# record whichever inode wrote it, and flock(1) and fcntl locks exclude
# each other across the inodes (the daemon keeps them, fs/locks.c): a
# lock held through one writer's descriptor refuses a non-blocking lock
# through the path, a blocked one is granted at the unlock or ends on a
# signal, a process's fcntl locks go when it closes the file, and a file's
# lock records are bounded (ENOLCK).
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
mkdir "$MNT/t"

nodes() { awk '$1 == "mqfs_fs_nodes" { print $2 }' "$MNT/.metrics"; }

# ---- one node per concurrent writer ---------------------------------------
exec 3>> "$MNT/t/0"
n1=$(nodes)
exec 4>> "$MNT/t/0"
exec 5>> "$MNT/t/0"
n2=$(nodes)
expect_ok "two more writers of the file, two more nodes ($n1 -> $n2)" test "$n2" -ge $((n1 + 2))
ino=$(stat -c %i "$MNT/t/0")
expect_eq "every descriptor shows the path's inode number" "$ino $ino $ino" \
	"$(stat -L -c %i /proc/$$/fd/3) $(stat -L -c %i /proc/$$/fd/4) $(stat -L -c %i /proc/$$/fd/5)"
expect_eq "ls -i shows it too" "$ino" "$(ls -i "$MNT/t" | awk '$2 == "0" { print $1 }')"

# ---- writes through the three, readers of the file ------------------------
mq_bg sh -c 'exec tail -n +1 -f "$1" > "$2"' sh "$MNT/t/0" "$MQ_TMP/tail"
tail_pid=$MQ_LAST_PID
: > "$MQ_TMP/exp"
i=1
while [ "$i" -le 50 ]; do
	echo "a-$i" >&3
	echo "b-$i" >&4
	echo "c-$i" >&5
	printf 'a-%d\nb-%d\nc-%d\n' "$i" "$i" "$i" >> "$MQ_TMP/exp"
	i=$((i + 1))
done
mq_run cat "$MNT/t/0" > "$MQ_TMP/got"
expect_same "150 records in the order written through three inodes" "$MQ_TMP/exp" "$MQ_TMP/got"
echo "b-more" >&4
echo "b-more" >> "$MQ_TMP/exp"
mq_run cat "$MNT/t/0" > "$MQ_TMP/got"
expect_same "a second cat sees the record written since" "$MQ_TMP/exp" "$MQ_TMP/got"
tail_has() { [ "$(wc -l < "$MQ_TMP/tail")" -ge 151 ]; }
poll 30 tail_has
expect_same "tail -f saw every record" "$MQ_TMP/exp" "$MQ_TMP/tail"
mq_stop "$tail_pid"

# ---- flock across the inodes ----------------------------------------------
expect_ok "flock -x through writer 3's descriptor" flock -x -n 3
expect_fail "flock -n through the path is refused" flock -x -n "$MNT/t/0" true
expect_fail "flock -n -s through writer 4 too" flock -s -n 4
mq_bg flock -x "$MNT/t/0" sh -c 'echo granted > "$1"' sh "$MQ_TMP/flk"
waiter=$MQ_LAST_PID
# The waiter is blocked in its flock(2): asleep waiting for the daemon's
# answer, with nothing done yet.
blocked() {
	[ "$(cat "/proc/$waiter/wchan" 2>/dev/null)" = request_wait_answer ] &&
		[ ! -e "$MQ_TMP/flk" ]
}
check "a blocking flock waits" poll 10 blocked
expect_ok "flock -u through writer 3" flock -u 3
mq_wait "$waiter" 30
expect_eq "the waiter gets the lock at the unlock" "0 granted" "$MQ_RC $(cat "$MQ_TMP/flk" 2>/dev/null)"
expect_ok "flock -s through 3 and 4 at once" sh -c 'flock -s -n 3 && flock -s -n 4'
mq_bg flock -x "$MNT/t/0" true
waiter=$MQ_LAST_PID
rm -f "$MQ_TMP/flk"
check "an exclusive flock waits for the shared ones" poll 10 blocked
kill -TERM "$waiter"
check "a signal ends the wait" mq_wait "$waiter" 30
expect_ok "the shared locks are still held" sh -c '! flock -x -n "$1" true' sh "$MNT/t/0"
exec 3>&- 4>&-
expect_ok "closing the holders' descriptors frees the file" flock -x -n "$MNT/t/0" true

# ---- fcntl (POSIX) locks across the inodes --------------------------------
cat > "$MQ_TMP/lk.py" <<'EOF'
import errno, fcntl, os, struct, sys, time
path, mode = sys.argv[1], sys.argv[2]
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
if mode == "hold":          # lock bytes 0-99, say so, hold until killed
    fcntl.lockf(fd, fcntl.LOCK_EX, 100, 0)
    open(sys.argv[3], "w").write("held\n")
    time.sleep(3600)
elif mode == "try":         # 0: got bytes 50-59; 1: refused; prints the holder's pid
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 50)
    except OSError as e:
        if e.errno not in (errno.EAGAIN, errno.EACCES):
            raise
        lk = fcntl.fcntl(fd, fcntl.F_GETLK, struct.pack("hhqqi", fcntl.F_WRLCK, 0, 50, 10, 0))
        print(struct.unpack("hhqqi", lk)[4])
        sys.exit(1)
    fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 10, 200)  # beyond the holder's
    sys.exit(0)
elif mode == "many":        # one-byte locks 2 bytes apart until refused
    for i in range(10000):
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 2 * i)
        except OSError as e:
            print(i, errno.errorcode[e.errno])
            sys.exit(0)
    print("all")
EOF
mq_bg python3 "$MQ_TMP/lk.py" "$MNT/t/0" hold "$MQ_TMP/held"
holder=$MQ_LAST_PID
held() { [ -s "$MQ_TMP/held" ]; }
check "a writer holds bytes 0-99 with lockf" poll 30 held
got=$(mq_run python3 "$MQ_TMP/lk.py" "$MNT/t/0" try)
expect_eq "another writer's lockf of bytes 50-59 is refused, F_GETLK names the holder" \
	"$holder" "$got"
mq_stop "$holder"
expect_ok "the holder's exit frees its range" python3 "$MQ_TMP/lk.py" "$MNT/t/0" try
expect_eq "the 4,096th lock record of a file is refused with ENOLCK" "4095 ENOLCK" \
	"$(mq_run python3 "$MQ_TMP/lk.py" "$MNT/t/0" many)"
expect_ok "a log line names the file and says why" grep -q 'lock t/0: refused: the file holds the most lock records allowed (ENOLCK)' "$LOG"
expect_ok "the process's exit freed them" python3 "$MQ_TMP/lk.py" "$MNT/t/0" try
exec 5>&-
mq_done
