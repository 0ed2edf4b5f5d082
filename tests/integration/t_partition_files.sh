#!/bin/sh
# t_partition_files.sh — partition files with everyday tools: seq into a
# partition then wc, head, tail, cat; byte positions with dd and tail -c;
# tail -f following; four concurrent writers; partial lines at close.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
T=$MNT/t
expect_ok "mkdir topic" mkdir "$T"
expect_eq "one partition by default" "0" "$(ls "$T")"

seq 1 100000 > "$MQ_TMP/seq"
expect_ok "seq > partition" sh -c 'seq 1 100000 > "$1"' sh "$T/0"
expect_eq "wc -l" "100000" "$(mq_run wc -l < "$T/0")"
expect_eq "head -n 3" "1
2
3" "$(mq_run head -n 3 "$T/0")"
expect_eq "tail -n 1" "100000" "$(mq_run tail -n 1 "$T/0")"
expect_same "cat equals seq" "$MQ_TMP/seq" "$T/0"
expect_eq "st_size is the line view's size" "$(stat -c %s "$MQ_TMP/seq")" "$(stat -c %s "$T/0")"

# Positions: byte N of the file is byte N of the line view, forever.
expect_eq "tail -c +N reads from a position" "$(tail -c +288894 "$MQ_TMP/seq" | head -n 2)" \
	"$(mq_run tail -c +288894 "$T/0" | head -n 2)"
expect_eq "dd skip= reads from a position" "$(dd if="$MQ_TMP/seq" bs=1 skip=500000 count=20 status=none)" \
	"$(mq_run dd if="$T/0" bs=1 skip=500000 count=20 status=none)"
expect_eq "dd inside a line" "$(dd if="$MQ_TMP/seq" bs=7 skip=3 count=2 status=none)" \
	"$(mq_run dd if="$T/0" bs=7 skip=3 count=2 status=none)"

# >> and > both append.
expect_ok "> appends" sh -c 'echo more > "$1"' sh "$T/0"
expect_ok ">> appends" sh -c 'echo again >> "$1"' sh "$T/0"
expect_eq "both appended" "100000
more
again" "$(mq_run tail -n 3 "$T/0")"

# A partial line becomes a record at close; a write of several lines
# followed by a partial one.
expect_ok "printf partial" sh -c 'printf "a\nb\nno-newline" >> "$1"' sh "$T/0"
expect_eq "partial line is a record at close" "a
b
no-newline" "$(mq_run tail -n 3 "$T/0")"
expect_ok "empty line is a record" sh -c 'echo >> "$1"' sh "$T/0"
expect_eq "record count" "100006" "$(mq_run wc -l < "$T/0")"

# tail -f sees a record written after it started.
mkdir "$MNT/f"
mq_bg sh -c 'exec tail -f -s 0.1 "$1" > "$2"' sh "$MNT/f/0" "$MQ_TMP/tailout"
TAILPID=$MQ_LAST_PID
sleep 0.5
echo first-after-start > "$MNT/f/0"
i=0
while [ $i -lt 50 ] && ! grep -q first-after-start "$MQ_TMP/tailout"; do sleep 0.1; i=$((i + 1)); done
expect_ok "tail -f prints a new record" grep -qx first-after-start "$MQ_TMP/tailout"
echo second > "$MNT/f/0"
i=0
while [ $i -lt 50 ] && ! grep -q second "$MQ_TMP/tailout"; do sleep 0.1; i=$((i + 1)); done
expect_eq "tail -f prints exactly the records" "first-after-start
second" "$(cat "$MQ_TMP/tailout")"
mq_stop "$TAILPID"

# Four concurrent writers, 20,000 distinct lines each: every line intact.
mkdir "$MNT/c"
for w in 1 2 3 4; do
	mq_bg sh -c 'seq -f "writer-$2-line-%06g-padding-to-make-it-longer" 1 20000 | \
		while IFS= read -r l; do printf "%s\n" "$l"; done > "$1"' sh "$MNT/c/0" "$w"
	eval "W$w=\$MQ_LAST_PID"
done
for w in 1 2 3 4; do eval "mq_wait \$W$w 120"; done
mq_run cat "$MNT/c/0" > "$MQ_TMP/conc"
expect_eq "80,000 records" "80000" "$(wc -l < "$MQ_TMP/conc")"
expect_eq "no line torn or lost" "0" "$(grep -cvE '^writer-[1-4]-line-[0-9]{6}-padding-to-make-it-longer$' "$MQ_TMP/conc")"
expect_eq "every line once" "80000" "$(sort -u "$MQ_TMP/conc" | wc -l)"
for w in 1 2 3 4; do
	expect_eq "writer $w in order" "$(seq -f "writer-$w-line-%06g-padding-to-make-it-longer" 1 20000)" \
		"$(grep "^writer-$w-" "$MQ_TMP/conc")"
done
# Big writes with dd: 1 MiB blocks of lines.
seq -f "%030g" 1 200000 > "$MQ_TMP/big"
mkdir "$MNT/d"
expect_ok "dd bs=1M into a partition" dd if="$MQ_TMP/big" of="$MNT/d/0" bs=1M status=none
expect_same "read back identical" "$MQ_TMP/big" "$MNT/d/0"
# A line meant literally that starts with a backslash: the mark, then
# each backslash doubled (as the view shows it); doubling only the first
# leaves an escape (\n) behind it.
mkdir "$MNT/bs"
printf '%s\n' '\\\new' '\\new' > "$MQ_TMP/bs"
expect_ok "two lines that start with backslashes" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/bs" "$MNT/bs/0"
expect_same "the view shows each as written" "$MQ_TMP/bs" "$MNT/bs/0"
expect_eq "the records: a backslash and new; a newline and ew" \
	"$(printf '%s\n' 'value: \\new' 'value: \new')" \
	"$(mq_run grep -o 'value: .*' "$MNT/bs/.segments/0/00000000000000000000.dump")"
# sendfile, splice and copy_file_range into a partition file: Linux
# refuses them on an O_APPEND descriptor (EINVAL, EBADF), so through one
# opened without it, at the end; copy_file_range between two partition
# files of the mount, and out of one, copy the lines.
mkdir "$MNT/sf" "$MNT/cf"
printf 's1\ns2\n' > "$MQ_TMP/sf"
cat > "$MQ_TMP/sf.py" << 'PY'
import os, sys
src, dst, other = sys.argv[1:4]
s = os.open(src, os.O_RDONLY)
d = os.open(dst, os.O_WRONLY)
os.lseek(d, 0, os.SEEK_END)
n = os.sendfile(d, s, 0, 6)
r, w = os.pipe()
os.write(w, b'p1\np2\n')
n += os.splice(r, d, 6)
os.close(d)
s = os.open(dst, os.O_RDONLY)
d = os.open(other, os.O_WRONLY | os.O_TRUNC)
while os.copy_file_range(s, d, 1 << 20) > 0:
    pass
os.close(d)
print(n)
PY
expect_eq "sendfile and splice take 12 bytes" 12 \
	"$(mq_run python3 "$MQ_TMP/sf.py" "$MQ_TMP/sf" "$MNT/sf/0" "$MNT/cf/0")"
expect_eq "as four records" "$(printf 's1\ns2\np1\np2')" "$(cat "$MNT/sf/0")"
expect_same "copy_file_range to another topic's partition" "$MNT/sf/0" "$MNT/cf/0"
mq_umount
mq_done
