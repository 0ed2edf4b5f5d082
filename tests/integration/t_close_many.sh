#!/bin/sh
# t_close_many.sh — a process that closes many descriptors with unfinished
# lines. Each such close asks whether the process still holds a descriptor
# of the file (README "Records are lines"); the answer comes from one
# reading of its /proc/PID/fd kept for its later closes (fs/fdheld.c), not
# from a reading per close: mqfs_fd_table_scans_total in .metrics counts
# the readings. What the process does to its descriptors between closes
# (dup, dup2 over a descriptor of another file, exec of a child, opening
# another file) is seen, and the lines end where they ended before.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount

N=40
i=0
while [ "$i" -lt "$N" ]; do
	mkdir "$MNT/d$i" || fail "mkdir d$i" "failed"
	i=$((i + 1))
done
mkdir "$MNT/s" "$MNT/a" "$MNT/b" "$MNT/w"

# The kernel counts a table's descriptors as the size of /proc/PID/fd
# from Linux 6.2 on; before, every close reads the table again (the
# answers stay right), so the number of readings is checked only here.
counts_table() { [ "$(stat -c %s /proc/self/fd)" -gt 0 ]; }

scans() {
	mq_run awk '$1 == "mqfs_fd_table_scans_total" { print $2 }' "$MNT/.metrics"
}

cat > "$MQ_TMP/close_many.py" << 'PY'
import os, sys
mnt, how, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if how == 'distinct':
    paths = ['%s/d%d/0' % (mnt, i) for i in range(n)]
else:
    paths = ['%s/s/0' % mnt] * n
fds = [os.open(p, os.O_WRONLY | os.O_APPEND) for p in paths]
for i, fd in enumerate(fds):
    os.write(fd, b'l%d' % i)  # an unfinished line through each
for fd in fds:
    os.close(fd)
PY

# N files, one descriptor each: every close ends its line (a record at
# once), and the process's descriptors are read once.
s0=$(scans)
expect_ok "$N descriptors of $N files closed" python3 "$MQ_TMP/close_many.py" "$MNT" distinct "$N"
s1=$(scans)
bad=0
i=0
while [ "$i" -lt "$N" ]; do
	[ "$(cat "$MNT/d$i/0")" = "l$i" ] || bad=$((bad + 1))
	i=$((i + 1))
done
expect_eq "each file's unfinished line is its record at its close" 0 "$bad"
if counts_table; then
	check "their closes read the descriptor table at most twice ($s0 -> $s1)" \
		test $((s1 - s0)) -ge 1 -a $((s1 - s0)) -le 2
fi

# N opens of one file: each close but the last finds the process still
# holding the file, so the release of that open file takes its line.
s0=$(scans)
expect_ok "$N descriptors of one file closed" python3 "$MQ_TMP/close_many.py" "$MNT" same "$N"
s1=$(scans)
all_lines() { [ "$(wc -l < "$MNT/s/0")" -ge "$N" ]; }
check "the $N lines are records" poll 10 all_lines
i=0
while [ "$i" -lt "$N" ]; do
	echo "l$i"
	i=$((i + 1))
done | sort > "$MQ_TMP/expect"
sort "$MNT/s/0" > "$MQ_TMP/got"
expect_same "each line once" "$MQ_TMP/expect" "$MQ_TMP/got"
if counts_table; then
	check "their closes read the descriptor table at most twice ($s0 -> $s1)" \
		test $((s1 - s0)) -ge 1 -a $((s1 - s0)) -le 2
fi

# Between two closes the process makes a copy of a descriptor (dup, or
# dup2 over its descriptor of /dev/null), or opens another file of the
# mount: the close of the original then finds the copy, as a reading of
# the whole table would, and the line goes on through the copy.
cat > "$MQ_TMP/copies.py" << 'PY'
import os, sys
mnt = sys.argv[1]
def warm():
    # a close that reads the table and keeps it
    w = os.open(mnt + '/w/0', os.O_WRONLY | os.O_APPEND)
    os.write(w, b'warm')
    os.close(w)
null = os.open('/dev/null', os.O_WRONLY)
a = os.open(mnt + '/a/0', os.O_WRONLY | os.O_APPEND)
warm()
os.write(a, b'du')
c = os.dup(a)
os.close(a)
os.write(c, b'p\n')
os.close(c)
a = os.open(mnt + '/a/0', os.O_WRONLY | os.O_APPEND)
warm()
os.write(a, b'dup')
os.dup2(a, null)  # no new descriptor: /dev/null's is now the file's
os.close(a)
os.write(null, b'2\n')
os.close(null)
a = os.open(mnt + '/a/0', os.O_WRONLY | os.O_APPEND)
warm()
os.write(a, b'op')
b = os.open(mnt + '/a/0', os.O_WRONLY | os.O_APPEND)
os.close(a)  # b holds the file: a's line goes at a's release
os.write(b, b'en\n')
os.close(b)
PY
expect_ok "copies made between closes" python3 "$MQ_TMP/copies.py" "$MNT"
four() { [ "$(wc -l < "$MNT/a/0")" -ge 4 ]; }
check "the lines are records" poll 10 four
# (the last two in either order: a release is not ordered with a write)
printf 'dup\ndup2\nen\nop\n' > "$MQ_TMP/expect"
sort "$MNT/a/0" > "$MQ_TMP/got"
expect_same "a line written through a copy goes on after the original's close" \
	"$MQ_TMP/expect" "$MQ_TMP/got"

# The shell's copies (README "Records are lines"), after a close of an
# unfinished line of another file by the same shell.
expect_ok "a shell's copies after another close" bash -c 'exec 4>>"$2"; printf warm >&4; exec 4>&-; exec 3>>"$1"; printf sh >&3; /bin/true; printf ell >&3; (printf ghi >&3); printf "jkl\n" >&3; exec 3>&-' bash "$MNT/b/0" "$MNT/w/0"
printf 'shellghi\njkl\n' > "$MQ_TMP/expect"
expect_same "its lines" "$MQ_TMP/expect" "$MNT/b/0"

mq_umount
mq_done
