#!/bin/sh
# t_groups.sh — consumer groups through files on a real mount: .groups/,
# offset files, consume streams (one and two members, takeover after
# kill -9), resets (earliest, N, @time), offsets across kill -9 and
# remount, parked reads (timeout, SIGINT, O_NONBLOCK, poll, a read over
# 1 MiB that the kernel splits), the read
# offset as the commit position (bash's while read, { head; head; }, a
# one-shot head, a read before an earlier one), .state lag,
# refusals, and __consumer_offsets hidden and unwritable; group metrics and
# records/bytes out in .metrics; a topic deleted and made again starts with
# no groups, also after a remount; a record longer than a read comes
# whole before the next partition's lines.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount

T=$MNT/orders
G=$T/.groups/g
expect_ok "mkdir topic" mkdir "$T"
expect_ok "three partitions" sh -c "echo partitions=3 > '$T/.config'"
i=0
while [ $i -lt 30 ]; do
	printf 'r%02d\n' $i >> "$MQ_TMP/expected"
	echo "r$(printf %02d $i)" > "$T/$((i % 3))"
	i=$((i + 1))
done
sort "$MQ_TMP/expected" > "$MQ_TMP/expected.sorted"

# Waits (30 s at most) until every CURRENT-OFFSET in .state equals
# LOG-END-OFFSET (lag 0).
lag0() {
	mq_run cat "$1/.state" > "$MQ_TMP/state" 2>/dev/null &&
		awk '/^[0-9]/ { if ($4 != 0) bad = 1; n++ } END { exit !(n > 0 && !bad) }' \
			"$MQ_TMP/state"
}
wait_lag0() { poll 30 lag0 "$1"; }
# has_lines FILE N: FILE holds N lines or more.
has_lines() { [ "$(wc -l 2>/dev/null < "$1" || echo 0)" -ge "$2" ]; }
# consume_n CONSUME N OUT: a member reads CONSUME into OUT until it has N
# records and its next read has committed them (lag 0), then leaves. The
# records and the commit are waited for, not a time: a loaded machine only
# makes it slower. Fails when either is not seen within 30 s.
consume_n() {
	mq_bg sh -c "exec cat '$1' > '$3'"
	_cp=$MQ_LAST_PID
	poll 30 has_lines "$3" "$2" && wait_lag0 "$(dirname "$1")"
	_crc=$?
	mq_stop "$_cp"
	return $_crc
}
members_in() { grep -q "^members $2\$" "$1/.state" 2>/dev/null; }
members_are() { poll 30 members_in "$1" "$2"; }

# ---- groups as directories ----
expect_eq ".groups empty" "" "$(ls "$T/.groups")"
expect_ok "mkdir a group" mkdir "$G"
expect_errno "mkdir twice" EEXIST mkdir "$G"
expect_errno "bad group name" EINVAL mkdir "$T/.groups/a:b"
expect_errno "dot-name group refused" EINVAL mkdir "$T/.groups/.x"
expect_errno "__ group refused" EINVAL mkdir "$T/.groups/__x"
expect_ok "the refusal is logged with why" \
	grep -q 'mkdir orders/.groups/__x: refused: "__" names are kept' "$LOG"
expect_eq "ls .groups" "g" "$(ls "$T/.groups")"
expect_eq "ls -a group (consume is not listed)" ". .. .config .state 0 1 2" "$(ls -a "$G" | tr '\n' ' ' | sed 's/ $//')"
expect_ok "consume is there by name" test -f "$G/consume"
expect_errno "the offset file of a partition the topic lacks" ENOENT bash -c 'echo 1 > "$1/7"' sh "$G"
expect_ok "log: no such partition" grep -q "create orders/.groups/g/7: no such partition" "$LOG"
expect_eq "new group starts at earliest" "0" "$(cat "$G/0")"
expect_eq "config defaults" "partition.assignment.strategy=range
auto.offset.reset=earliest
session.timeout.ms=45000" "$(cat "$G/.config")"

# ---- one member gets every record exactly once ----
check "one consumer reads 30 records and commits them" \
	consume_n "$G/consume" 30 "$MQ_TMP/one"
expect_same "one consumer: every record once" "$MQ_TMP/expected.sorted" \
	"$(sort "$MQ_TMP/one" > "$MQ_TMP/one.sorted"; echo "$MQ_TMP/one.sorted")"
check "lag went to zero" wait_lag0 "$G"
expect_eq "committed offsets" "10 10 10" "$(cat "$G/0" "$G/1" "$G/2" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "nothing more to read" "" "$(mq_run timeout 1 cat "$G/consume")"

# ---- two members split the partitions ----
expect_ok "mkdir group h" mkdir "$T/.groups/h"
H=$T/.groups/h
expect_ok "h starts at latest" sh -c "printf 'auto.offset.reset=latest\n' > '$H/.config'"
mq_bg sh -c "exec cat '$H/consume' > '$MQ_TMP/c1'"
C1=$MQ_LAST_PID
check "member 1 joined" members_are "$H" 1
mq_bg sh -c "exec cat '$H/consume' > '$MQ_TMP/c2'"
C2=$MQ_LAST_PID
check "member 2 joined" members_are "$H" 2
expect_eq "range: members get 0,1 and 2" "0,1 2" \
	"$(grep '^member ' "$H/.state" | awk '{print $6}' | sort | tr '\n' ' ' | sed 's/ $//')"
: > "$MQ_TMP/expected2"
i=0
while [ $i -lt 30 ]; do
	echo "s$(printf %02d $i)" >> "$MQ_TMP/expected2"
	echo "s$(printf %02d $i)" > "$T/$((i % 3))"
	i=$((i + 1))
done
sort "$MQ_TMP/expected2" > "$MQ_TMP/expected2.sorted"
# Lag 0 alone is no handshake here: a partition its member has not read
# yet has no commit, and with auto.offset.reset=latest its lag counts from
# where latest is now (its offset file's rule), 0 though the member has yet
# to deliver the records. So the records themselves are waited for, then
# the commits that the members' next reads make.
both_have_all() {
	sort "$MQ_TMP/c1" "$MQ_TMP/c2" > "$MQ_TMP/both.sorted" &&
		cmp -s "$MQ_TMP/expected2.sorted" "$MQ_TMP/both.sorted"
}
poll 20 both_have_all
expect_same "two members: every record" "$MQ_TMP/expected2.sorted" "$MQ_TMP/both.sorted"
check "two members: lag goes to zero" wait_lag0 "$H"
expect_eq "no record read by both" "" "$(sort "$MQ_TMP/c1" | comm -12 - "$(sort "$MQ_TMP/c2" > "$MQ_TMP/c2s"; echo "$MQ_TMP/c2s")")"
expect_ok "both members got records" sh -c "test -s '$MQ_TMP/c1' && test -s '$MQ_TMP/c2'"

# kill -9 member 1: member 2 takes over from the committed offsets
kill -KILL "$C1"
mq_wait "$C1" 5
check "member 1 left" members_are "$H" 1
i=30
while [ $i -lt 60 ]; do
	echo "s$i" >> "$MQ_TMP/expected2"
	echo "s$i" > "$T/$((i % 3))"
	i=$((i + 1))
done
check "takeover: lag goes to zero" wait_lag0 "$H"
sort -u "$MQ_TMP/c1" "$MQ_TMP/c2" > "$MQ_TMP/all.sorted"
sort "$MQ_TMP/expected2" > "$MQ_TMP/expected2.sorted"
expect_same "takeover: nothing lost" "$MQ_TMP/expected2.sorted" "$MQ_TMP/all.sorted"
# duplicates only of what member 1 had read
sort "$MQ_TMP/c2" | uniq -d > "$MQ_TMP/dups"
sort "$MQ_TMP/c1" "$MQ_TMP/c2" | uniq -d | sort > "$MQ_TMP/dups_all"
expect_eq "duplicates only of the killed member's reads" "" \
	"$(sort "$MQ_TMP/c1" | comm -13 - "$MQ_TMP/dups_all")"
expect_errno "reset refused while members are active" EBUSY \
	bash -c "echo earliest > '$H/0'"
expect_errno "rmdir refused while members are active" EBUSY rmdir "$H"
mq_stop "$C2"
check "no members" members_are "$H" 0

# ---- resets ----
check "g caught up" consume_n "$G/consume" 30 "$MQ_TMP/catchup"
expect_ok "reset p0 to earliest" sh -c "echo earliest > '$G/0'"
expect_eq "offset file shows it" "0" "$(cat "$G/0")"
check "earliest: partition 0 read again" \
	consume_n "$G/consume" "$(mq_run cat "$T/0" | wc -l)" "$MQ_TMP/replay"
expect_eq "earliest replays partition 0" "$(mq_run cat "$T/0" | sort)" \
	"$(sort "$MQ_TMP/replay")"
expect_ok "reset to N" sh -c "echo 7 > '$G/1'"
expect_eq "N read back" "7" "$(cat "$G/1")"
expect_ok "reset to latest" sh -c "echo latest > '$G/1'"
expect_eq "latest read back" "30" "$(cat "$G/1")"
expect_errno "garbage refused" EINVAL bash -c "echo abc > '$G/1'"
expect_errno "negative refused" EINVAL bash -c "echo -1 > '$G/1'"
expect_errno "beyond the log end refused" EINVAL bash -c "echo 31 > '$G/1'"
expect_eq "old value stays" "30" "$(cat "$G/1")"
expect_errno "bad strategy refused" EINVAL bash -c "echo partition.assignment.strategy=foo > '$G/.config'"
# Each write's lines are all or nothing; an earlier write's stay applied.
expect_errno "a good write, then a bad one" EINVAL bash -c "{ echo partition.assignment.strategy=roundrobin; echo bad=1; } > '$G/.config'"
expect_ok "the good write applied" grep -qx 'partition.assignment.strategy=roundrobin' "$G/.config"
expect_ok "log: the bad key" grep -q "group [^ ]* of topic [^ ]*: .config refused: unknown key 'bad'" "$LOG"
expect_ok "sticky accepted" sh -c "echo partition.assignment.strategy=cooperative-sticky > '$G/.config'"
expect_ok "strategy shown" grep -qx 'partition.assignment.strategy=cooperative-sticky' "$G/.config"

# @timestamp: the first record at or after it, by the time index
sleep 0.05
TS=$(date +%s%3N)
sleep 0.05
echo late1 > "$T/2"
echo late2 > "$T/2"
expect_ok "reset @epoch-ms" sh -c "echo @$TS > '$G/2'"
expect_eq "@epoch-ms lands on the first later record" "30" "$(cat "$G/2")"
ISO=$(date -u -d "@$((TS / 1000)).$(printf %03d $((TS % 1000)))" +%Y-%m-%dT%H:%M:%S.%3NZ)
expect_ok "reset earliest" sh -c "echo earliest > '$G/2'"
expect_ok "reset @ISO-8601" sh -c "echo @$ISO > '$G/2'"
expect_eq "@ISO lands on the same record" "30" "$(cat "$G/2")"
check "two records from there" consume_n "$G/consume" 2 "$MQ_TMP/late"
expect_eq "reads from there" "late1 late2" "$(tr '\n' ' ' < "$MQ_TMP/late" | sed 's/ $//')"
expect_errno "bad time refused" EINVAL bash -c "echo @yesterday > '$G/2'"
expect_errno "a day that does not exist refused" EINVAL bash -c "echo @2024-02-30 > '$G/2'"
expect_errno "a time zone offset that does not exist refused" EINVAL \
	bash -c "echo @2024-05-01T12:00+25:00 > '$G/2'"
expect_ok "the refusal is logged with the value and why" \
	grep -q "partition 2: reset to '@2024-02-30' refused: 2024-02 has no day 30" "$LOG"
expect_eq "the offset stays" "32" "$(cat "$G/2")"

# ---- parked reads ----
expect_ok "mkdir empty topic" mkdir "$MNT/empty"
expect_ok "group made by mkdir" mkdir "$MNT/empty/.groups/e"
START=$(date +%s%3N)
mq_run timeout 1 cat "$MNT/empty/.groups/e/consume"
rc=$?
END=$(date +%s%3N)
expect_eq "timeout 1 cat consume: timed out" 124 "$rc"
# timeout's SIGTERM ended the parked read: a read the daemon let hang
# would last until mq_run's own 30 s. Far from both, whatever the load.
expect_ok "returned well before mq_run's deadline" test $((END - START)) -lt 10000
expect_errno "O_NONBLOCK: EAGAIN" EAGAIN dd if="$MNT/empty/.groups/e/consume" iflag=nonblock of=/dev/null count=1
mq_bg python3 -c 'import signal, os, sys
signal.signal(signal.SIGINT, signal.SIG_DFL)
os.execvp("cat", ["cat", sys.argv[1]])' "$MNT/empty/.groups/e/consume"
P=$MQ_LAST_PID
check "blocked reader joined" members_are "$MNT/empty/.groups/e" 1
# A parked read never returns by itself (no records come): that the
# reader is gone after SIGINT is the proof the daemon answered the
# kernel's interrupt. How fast is the machine's business, so no bound
# below the deadline.
kill -INT "$P"
if mq_wait "$P" 20; then
	expect_eq "SIGINT ends a blocked read" 130 "$MQ_RC"
else
	fail "SIGINT ends a blocked read" "the reader still runs 20 s after SIGINT"
fi
# poll(): not ready, then ready once a record commits
cat > "$MQ_TMP/poll.py" <<'PY'
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
p = select.poll()
p.register(fd, select.POLLIN)
before = p.poll(300)
os.system("echo polled > " + sys.argv[2])
after = p.poll(30000)
data = os.read(fd, 4096)
print(len(before), len(after), data.decode().strip())
PY
expect_eq "poll: readable when a record arrives" "0 1 polled" \
	"$(mq_run python3 "$MQ_TMP/poll.py" "$MNT/empty/.groups/e/consume" "$MNT/empty/0")"
# A read into a page-aligned buffer over 1 MiB: the kernel asks in
# requests of 1 MiB and sends the next only after one answered in full.
# Lines of 1 KiB fill a request exactly: a daemon that answers so would
# get the next at the end of the stream, where it waits for records that
# never come, holding up the 1 MiB read. Each read returns at once.
expect_ok "mkdir topic al, group a" sh -c "mkdir '$MNT/al' && mkdir '$MNT/al/.groups/a'"
expect_ok "2048 records of 1 KiB" python3 -c "
import sys
open(sys.argv[1], 'w').write(('x' * 1023 + '\\n') * 2048)" "$MNT/al/0"
cat > "$MQ_TMP/bigread.py" <<'PY'
import mmap, os, signal, sys
def blocked(sig, frame):
    print("blocked"); sys.exit(0)
signal.signal(signal.SIGALRM, blocked)
signal.alarm(20)
fd = os.open(sys.argv[1], os.O_RDONLY)
buf = mmap.mmap(-1, 64 << 20) # page-aligned
got = 0
while got < 2048 * 1024:
    n = os.readv(fd, [buf])
    if n % 1024 or buf[:n].count(b"\n") != n // 1024:
        print("not whole lines", n); sys.exit(0)
    got += n
print(got)
PY
expect_eq "a 64 MiB read of consume returns what is there" "$((2048 * 1024))" \
	"$(mq_run python3 "$MQ_TMP/bigread.py" "$MNT/al/.groups/a/consume")"

# ---- the file position is the commit position: readers that seek back ----
L=$MNT/lines
expect_ok "mkdir topic lines" mkdir "$L"
seq 1 1000 > "$MQ_TMP/seq1000"
expect_ok "1000 records" cp "$MQ_TMP/seq1000" "$L/0"
# committed_is FILE N: polls an offset file (30 s at most) until it shows N.
offset_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ]; }
committed_is() { poll 30 offset_is "$1" "$2"; }
# bash's read takes a block, then seeks back to the end of the line it used
expect_ok "mkdir group w" mkdir "$L/.groups/w"
mq_bg bash -c "while read -r l; do echo \"\$l\"; done < '$L/.groups/w/consume' > '$MQ_TMP/w'"
W=$MQ_LAST_PID
check "while read: the blocked read at the end commits all 1000" \
	committed_is "$L/.groups/w/0" 1000
mq_stop "$W"
expect_same "while read: every record once, in order" "$MQ_TMP/seq1000" "$MQ_TMP/w"
# each head reads a block and seeks back: the second read commits the
# two lines the first head used and returns the rest again
expect_ok "mkdir group hh" mkdir "$L/.groups/hh"
expect_eq "{ head -n2; head -n2; }: four records, once each" "1 2 3 4" \
	"$(mq_run sh -c "{ head -n2; head -n2; } < '$L/.groups/hh/consume'" | tr '\n' ' ' | sed 's/ $//')"
expect_eq "{ head -n2; head -n2; } commits the first two" "2" "$(cat "$L/.groups/hh/0")"
expect_eq "the next member starts at the third" "3" "$(mq_run head -n 1 "$L/.groups/hh/consume")"
# a one-shot head: no read follows its seek, so nothing is committed
expect_ok "mkdir group k" mkdir "$L/.groups/k"
expect_eq "head -n 1 prints the first record" "1" "$(mq_run head -n 1 "$L/.groups/k/consume")"
expect_eq "head -n 1 commits nothing" "0" "$(cat "$L/.groups/k/0")"
expect_eq "so the next member gets it again" "1" "$(mq_run head -n 1 "$L/.groups/k/consume")"
# a read before the position of a later read: refused, nothing read again
cat > "$MQ_TMP/seek.py" <<'PY'
import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
a = os.read(fd, 4)
os.lseek(fd, 2, os.SEEK_SET)
b = os.read(fd, 2)
print(a.decode().replace("\n", " "), b.decode().replace("\n", " "))
os.lseek(fd, 0, os.SEEK_SET)
os.read(fd, 2)
PY
expect_ok "mkdir group s" mkdir "$L/.groups/s"
expect_eq "a read at an earlier offset returns the same bytes" "1 2  2 " \
	"$(mq_run python3 "$MQ_TMP/seek.py" "$L/.groups/s/consume" 2>/dev/null)"
expect_errno "a read before a later read's offset: ESPIPE" ESPIPE \
	python3 "$MQ_TMP/seek.py" "$L/.groups/s/consume"
expect_ok "ESPIPE logged" grep -q "read at 0 refused: the stream before 2 is committed" "$LOG"

# ---- refusals and the internal topic ----
expect_errno "consume is read-only" EACCES bash -c "echo x > '$G/consume'"
expect_errno ".state is read-only" EACCES bash -c "echo x > '$G/.state'"
expect_errno "no such partition" ENOENT cat "$G/7"
expect_ok "__consumer_offsets on disk" test -d "$DATA/__consumer_offsets-0"
expect_fail "__consumer_offsets not listed" sh -c "ls -a '$MNT' | grep -q consumer_offsets"
expect_errno "__consumer_offsets not writable" ENOENT bash -c "echo x > '$MNT/__consumer_offsets/0'"

# ---- offsets survive kill -9 and remount ----
cat "$G/0" "$G/1" "$G/2" "$H/0" "$H/1" "$H/2" > "$MQ_TMP/before"
mq_kill9
mq_mount
cat "$G/0" "$G/1" "$G/2" "$H/0" "$H/1" "$H/2" > "$MQ_TMP/after"
expect_same "offsets survive kill -9" "$MQ_TMP/before" "$MQ_TMP/after"
expect_ok "settings survive" grep -qx 'auto.offset.reset=latest' "$H/.config"
expect_ok "rmdir a group" rmdir "$T/.groups/h"
mq_umount
mq_mount
expect_eq "groups after remount" "g" "$(ls "$T/.groups")"
cat "$G/0" "$G/1" "$G/2" > "$MQ_TMP/after2"
expect_eq "offsets survive remount" "$(head -3 "$MQ_TMP/before")" "$(cat "$MQ_TMP/after2")"

# ---- groups are made by mkdir only: a lookup leaves nothing behind ----
expect_errno "consume of a group never made" ENOENT cat "$T/.groups/fresh/consume"
expect_errno "ls of a group never made" ENOENT ls "$T/.groups/typo"
expect_eq "nothing left behind" "g" "$(ls "$T/.groups")"

# ---- .metrics: group lag and committed offset, records and bytes out ----
M=$MNT/.metrics
metric() { awk -v k="$1" '$1 == k { print $2 }' "$M"; }
expect_ok "reset g/0 to 0" sh -c "echo 0 > '$G/0'"
N0=$(mq_run cat "$T/0" | wc -l)
expect_eq "lag of g/0 = its records" "$N0" \
	"$(metric 'mqfs_consumer_group_lag{topic="orders",group="g",partition="0"}')"
expect_eq "committed offset of g/0" "0" \
	"$(metric 'mqfs_consumer_group_committed_offset{topic="orders",group="g",partition="0"}')"
R0=$(metric 'mqfs_records_out_total{topic="orders"}')
B0=$(metric 'mqfs_bytes_out_total{topic="orders"}')
# O_DIRECT: both reads reach the daemon (a second cat would be served by
# the page cache, which counts nothing).
B1=$(mq_run dd if="$T/1" iflag=direct bs=1M status=none | wc -c)
N1=$(mq_run dd if="$T/1" iflag=direct bs=1M status=none | wc -l)
expect_eq "records out: a partition file read" "$((R0 + 2 * N1))" \
	"$(metric 'mqfs_records_out_total{topic="orders"}')"
expect_eq "bytes out: a partition file read" "$((B0 + 2 * B1))" \
	"$(metric 'mqfs_bytes_out_total{topic="orders"}')"
check "g/0 read again" consume_n "$G/consume" "$N0" "$MQ_TMP/c3"
expect_eq "records out: a consume read" "$((R0 + 2 * N1 + $(wc -l < "$MQ_TMP/c3")))" \
	"$(metric 'mqfs_records_out_total{topic="orders"}')"
expect_eq "lag of g/0 after consuming" "0" \
	"$(metric 'mqfs_consumer_group_lag{topic="orders",group="g",partition="0"}')"
if command -v promtool > /dev/null 2>&1; then
	expect_ok "promtool check metrics (with groups)" sh -c "promtool check metrics < '$M'"
fi

# ---- a topic made again does not bring back its old groups' offsets ----
expect_ok "g/0 at 5" sh -c "echo 5 > '$G/0'"
expect_ok "rmdir the topic" rmdir "$T"
expect_ok "mkdir it again" mkdir "$T"
expect_ok "three partitions again" sh -c "echo partitions=3 > '$T/.config'"
for r in n1 n2 n3 n4 n5 n6 n7; do echo $r > "$T/0"; done
expect_eq "the new topic has no groups" "" "$(ls "$T/.groups")"
mq_umount
mq_mount
expect_eq "nor after a remount" "" "$(ls "$T/.groups")"
expect_ok "mkdir g again" mkdir "$G"
expect_eq "g starts at auto.offset.reset, not at the old 5" "0" "$(cat "$G/0")"
check "seven records read" consume_n "$G/consume" 7 "$MQ_TMP/new"
expect_eq "and reads the new records" "n1 n2 n3 n4 n5 n6 n7" \
	"$(tr '\n' ' ' < "$MQ_TMP/new" | sed 's/ $//')"
# A shell whose working directory is the topic's .groups/ while the topic
# is removed: mkdir and rmdir of groups there say it is gone (ENOENT), and
# the mkdir is logged (an rmdir's lookup finds nothing first).
gone_at() { # gone_at OP: OP ("mkdir" or "rmdir") of group g2 in .groups/ held open, after rmdir of the topic
	python3 - "$T/.groups" "$T" "$1" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY)
if not os.path.exists(sys.argv[2] + "/.groups/g2"):
    os.mkdir("g2", dir_fd=fd)
if os.path.isdir(sys.argv[2]):
    os.rmdir(sys.argv[2])
try:
    (os.mkdir if sys.argv[3] == "mkdir" else os.rmdir)("g2", dir_fd=fd)
    print("done")
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
PY
}
expect_eq "mkdir of a group in .groups/ of a removed topic: ENOENT" ENOENT "$(gone_at mkdir)"
expect_ok "logged: the topic's .groups is gone" grep -q "mkdir orders/.groups/g2: orders/.groups is gone" "$LOG"
expect_ok "mkdir the topic again" mkdir "$T"
expect_eq "rmdir of a group in .groups/ of a removed topic: ENOENT" ENOENT "$(gone_at rmdir)"
expect_fail "a topic made again is a new log: no records reported lost" grep -q "are gone" "$LOG"
# ---- tools that walk the tree never open consume ----
# (a read of it joins the group and commits): they finish, and the
# group's members keep their records.
W=$MNT/walk
mkdir "$W" "$W/.groups/w"
seq 1 5 > "$W/0"
check "a member reads and commits 5 records" consume_n "$W/.groups/w/consume" 5 "$MQ_TMP/w1"
seq 6 8 > "$W/0"
expect_ok "cp -r of the topic finishes" timeout 20 cp -r "$W" "$MQ_TMP/copy"
expect_ok "grep -r over the topic finishes" timeout 20 grep -rq 8 "$W"
expect_ok "the copy holds the group's offsets" test -f "$MQ_TMP/copy/.groups/w/0"
expect_eq "offsets unchanged by them" "5" "$(cat "$W/.groups/w/0")"
check "the member after them reads the records written since" \
	consume_n "$W/.groups/w/consume" 3 "$MQ_TMP/w2"
expect_eq "the records written since" "6 7 8" "$(tr '\n' ' ' < "$MQ_TMP/w2" | sed 's/ $//')"
# A record longer than a read continues at the start of the next read,
# before the other partition's lines: dd bs=7 reads each 20-byte record
# in three reads (7, 7, 6), and gets whole records only.
S=$MNT/small
expect_ok "mkdir small" mkdir "$S"
expect_ok "small: two partitions" sh -c "echo partitions=2 > '$S/.config'"
expect_ok "small: mkdir group" mkdir "$S/.groups/s"
: > "$MQ_TMP/small.expected"
i=0
while [ $i -lt 10 ]; do
	for p in 0 1; do
		printf 'p%d-record-%09d\n' $p $i >> "$MQ_TMP/small.expected"
		printf 'p%d-record-%09d\n' $p $i >> "$S/$p"
	done
	i=$((i + 1))
done
expect_ok "dd bs=7 of consume" sh -c "dd if='$S/.groups/s/consume' of='$MQ_TMP/small.out' bs=7 count=60 2>/dev/null"
expect_eq "dd bs=7: whole records, each once" "$(sort "$MQ_TMP/small.expected")" \
	"$(sort "$MQ_TMP/small.out")"
mq_umount
mq_done
