#!/bin/sh
# t_killed_writer.sh — a writer killed by a signal never ended its
# unfinished line, so the close of its exit drops it (logged) instead of
# making half a line a record. In the middle of one big write(): the
# kernel sends a write over 1 MiB to mqfs in pieces, the pieces sent
# before the kill are taken, and the line the last of them cut off was
# never written whole; every record a reader sees is a whole line. A
# short write() without newline, then killed: dropped too. The same
# write, then a normal exit: a record at its close.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
mkdir "$MNT/t"

# The writer (a child) writes 64 MiB of 128-byte lines in one write().
# The kernel cuts a write to mqfs at pages of the writer's memory: the
# buffer starts 50 bytes into a page, so every piece ends 50 bytes short
# of a page boundary in the data, which is never a line's end (128
# divides the page size). The parent waits for the first records to show
# (the write is under way), kills the child with SIGKILL and prints
# "killed" when its write() had not returned, "finished" when it had.
cat > "$MQ_TMP/kill_writer.py" << 'PY'
import mmap, os, signal, sys, time
path = sys.argv[1]
size = 64 * 1024 * 1024
mem = mmap.mmap(-1, size + mmap.PAGESIZE)
mem[50:50 + size] = (b'x' * 127 + b'\n') * (size // 128)
buf = memoryview(mem)[50:50 + size]
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND)
    os.write(w, b'g')
    os.write(fd, buf)
    os.write(w, b'd')
    time.sleep(60)
    os._exit(0)
os.close(w)
os.read(r, 1)
end = time.time() + 30
while os.stat(path).st_size == 0 and time.time() < end:
    time.sleep(0.001)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
print('finished' if os.read(r, 1) == b'd' else 'killed')
PY
how=$(mq_run python3 "$MQ_TMP/kill_writer.py" "$MNT/t/0")
if [ "$how" = killed ]; then
	ok "the writer was killed inside its write()"
	bad=$(awk -v want="$(printf '%0127d' 0 | tr 0 x)" '$0 != want' "$MNT/t/0" | wc -l)
	expect_eq "every record is a whole line of the killed write" 0 "$bad"
	# Logged at the release of the killed writer's file, which the
	# kernel sends on its own after the process is gone. Unless the
	# kill came after the last piece was taken (all 524,288 lines are
	# records): then no line was left unfinished.
	if [ "$(wc -l < "$MNT/t/0")" -lt 524288 ]; then
		check "the dropped unfinished line is logged" poll 20 grep -q \
			"close t/0: its writer (pid [0-9]*) was killed by a signal: the unfinished line" \
			"$LOG"
	else
		skip "the dropped unfinished line is logged" "the kill came after the last piece"
	fi
else
	skip "killed inside its write()" "the 64 MiB write returned before the kill ($how)"
fi
expect_ok "the file takes writes after" sh -c 'echo after >> "$1"' sh "$MNT/t/0"
expect_eq "and its last record is that line" after "$(tail -n 1 "$MNT/t/0")"

# A short write() without newline, then killed (its line dropped), or
# then exiting (its line a record).
mkdir "$MNT/u"
cat > "$MQ_TMP/short.py" << 'PY'
import os, signal, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(fd, sys.argv[2].encode())
if sys.argv[3] == 'kill':
    os.kill(os.getpid(), signal.SIGKILL)
PY
mq_run python3 "$MQ_TMP/short.py" "$MNT/u/0" abc kill
mq_run python3 "$MQ_TMP/short.py" "$MNT/u/0" def exit
expect_eq "the killed writer's line dropped, the exiting one's a record" def \
	"$(cat "$MNT/u/0")"
check "the drop is logged" poll 20 grep -q \
	"close u/0: its writer (pid [0-9]*) was killed by a signal: the unfinished line it left (3 bytes) is dropped" \
	"$LOG"

mq_umount
mq_done
