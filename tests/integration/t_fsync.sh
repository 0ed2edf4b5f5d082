#!/bin/sh
# t_fsync.sh — fsync() on a partition file: a record written and fsynced
# one at a time (python's os.fsync, dd conv=fsync), alone and by four
# writers at once, is there after kill -9 and a remount, with its segments'
# indexes rebuilt; one fsync costs one fdatasync in the daemon, and none
# when an earlier fsync through another file of the partition covered the
# records written through this one, and a write through an O_DSYNC or
# O_SYNC descriptor costs one (strace, when it may attach).
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
mkdir "$MNT/d"
echo 'segment.bytes=4096' > "$MNT/d/.config"

# writer FILE TAG N: N records "TAG-i", each its own write() and fsync().
cat > "$MQ_TMP/writer.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
for i in range(int(sys.argv[3])):
    os.write(fd, ("%s-%d\n" % (sys.argv[2], i)).encode())
    os.fsync(fd)
os.close(fd)
EOF

expect_ok "200 records, fsync after each" python3 "$MQ_TMP/writer.py" "$MNT/d/0" one 200
expect_ok "20 records by dd conv=fsync" sh -c '
	for i in $(seq 0 19); do
		echo "dd-$i" | dd of="$1" oflag=append conv=notrunc,fsync status=none || exit 1
	done' sh "$MNT/d/0"
for w in a b c d; do
	mq_bg python3 "$MQ_TMP/writer.py" "$MNT/d/0" "$w" 100
	eval "W_$w=\$MQ_LAST_PID"
done
for w in a b c d; do
	eval "mq_wait \$W_$w 60"
	expect_eq "writer $w fsynced its 100 records" 0 "$MQ_RC"
done
expect_ok "several segments" test "$(ls "$MNT/d/.segments/0" | grep -c '\.log$')" -gt 3
mq_kill9
mq_mount
mq_run cat "$MNT/d/0" > "$MQ_TMP/got"
{ seq 0 199 | sed 's/^/one-/'; seq 0 19 | sed 's/^/dd-/'; } > "$MQ_TMP/exp"
head -n 220 "$MQ_TMP/got" > "$MQ_TMP/head"
expect_same "the fsynced records survive kill -9, in order" "$MQ_TMP/exp" "$MQ_TMP/head"
for w in a b c d; do
	grep "^$w-" "$MQ_TMP/got" > "$MQ_TMP/got-$w"
	seq 0 99 | sed "s/^/$w-/" > "$MQ_TMP/exp-$w"
	expect_same "writer $w: its 100 records, in order" "$MQ_TMP/exp-$w" "$MQ_TMP/got-$w"
done
expect_eq "nothing else" 620 "$(wc -l < "$MQ_TMP/got")"
expect_ok "the segments above the recovery point were rescanned" \
	grep -q 'log d-0: recovered (an unclean shutdown' "$LOG"
# Every segment's .index and .lines agree with its .log again: a reopen
# after a clean stop finds nothing to rebuild.
mq_umount
n0=$(wc -l < "$LOG")
mq_mount
expect_eq "a clean reopen rebuilds nothing" "" "$(tail -n +"$((n0 + 1))" "$LOG" | grep 'recovered')"
mq_run cat "$MNT/d/0" > "$MQ_TMP/got2"
expect_same "and reads the same records" "$MQ_TMP/got" "$MQ_TMP/got2"

# What one fsync costs in the daemon: one fdatasync (of the .log), not
# one per file of the segment. Needs ptrace; skipped where it is not allowed.
mkdir "$MNT/s"
echo warm > "$MNT/s/0"
# trace OUT: strace of the daemon's fdatasyncs into OUT (pid in S);
# attached=yes once every thread of the daemon names strace as its tracer.
trace() {
	mq_bg strace -qq -f -e trace=fdatasync -o "$1" -p "$MQ_PID"
	S=$MQ_LAST_PID
	attached=no
	for _ in $(seq 1 600); do
		if [ "$(grep -L "^TracerPid:[[:space:]]*$S\$" /proc/"$MQ_PID"/task/*/status \
			2>/dev/null | wc -l)" -eq 0 ]; then
			attached=yes
			return
		fi
		kill -0 "$S" 2>/dev/null || return
		sleep 0.05
	done
}
trace "$MQ_TMP/strace"
if [ "$attached" = yes ]; then
	expect_ok "20 records, fsync after each" python3 "$MQ_TMP/writer.py" "$MNT/s/0" s 20
	mq_stop "$S"
	n=$(grep -c 'fdatasync(' "$MQ_TMP/strace")
	# A checkpoint the scheduler writes meanwhile may add a few.
	expect_ok "20 fsyncs cost 20 to 26 fdatasyncs (got $n)" test "$n" -ge 20 -a "$n" -le 26
	# Two writers of one partition take turns: B writes, A fsyncs (its
	# records and B's), A writes, B fsyncs. B's records are durable
	# already, A's newer ones are not B's: B's fsync costs nothing.
	trace "$MQ_TMP/strace2"
	expect_ok "two writers, 20 rounds of write and fsync each" python3 -c '
import os, sys
a = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
b = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
os.write(a, b"a-0\n")
for i in range(20):
    os.write(b, b"b-%d\n" % i)
    os.fsync(a)
    os.write(a, b"a-%d\n" % (i + 1))
    os.fsync(b)
os.fsync(a)' "$MNT/s/0"
	mq_stop "$S"
	n=$(grep -c 'fdatasync(' "$MQ_TMP/strace2")
	expect_ok "41 fsyncs of two turn-taking writers cost 21 to 27 fdatasyncs (got $n)" \
		test "$n" -ge 21 -a "$n" -le 27
	expect_eq "their records, in the order written" \
		"$(python3 -c 'print("a-0"); [print("b-%d\na-%d" % (i, i + 1)) for i in range(20)]')" \
		"$(mq_run grep '^[ab]-' "$MNT/s/0")"
	# O_DSYNC and O_SYNC writes are durable on return: the kernel sends
	# no fsync for them, the daemon syncs each.
	trace "$MQ_TMP/strace3"
	expect_ok "10 writes by dd oflag=dsync, 10 by oflag=sync" sh -c '
		for i in $(seq 0 9); do
			echo "ds-$i" | dd of="$1" oflag=append,dsync conv=notrunc status=none || exit 1
			echo "sy-$i" | dd of="$1" oflag=append,sync conv=notrunc status=none || exit 1
		done' sh "$MNT/s/0"
	mq_stop "$S"
	n=$(grep -c 'fdatasync(' "$MQ_TMP/strace3")
	expect_ok "20 synchronous writes cost 20 to 26 fdatasyncs (got $n)" \
		test "$n" -ge 20 -a "$n" -le 26
	expect_eq "and their records are there" 20 "$(mq_run grep -c '^\(ds\|sy\)-' "$MNT/s/0")"
else
	mq_stop "$S"
	skip "fdatasyncs per fsync" "strace cannot attach to the daemon here"
fi
mq_done
