#!/bin/sh
# t_writes.sh — writes that must append nothing: a line over
# max.message.bytes whatever the request sizes (one big write, small dd
# blocks, a writer that goes on after the error), fallocate and glibc's
# posix_fallocate emulation, an editor's save and rsync --inplace (writes
# at offsets that do not continue the file's own writes); and the
# redirections that must keep working (>, >>, cat >, several writers, a
# writer at the end after lseek).
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
T=$MNT/t
mkdir "$T"
seq 1 3 > "$T/0"
cp "$T/0" "$MQ_TMP/before"

# ---- a line over max.message.bytes (1048588 by default) ----
# One write of 1.2 MB reaches the daemon as two requests: the first is
# taken as the start of a line, the second makes it too long. Python's
# sys.stdout ignores the short count it gets back, so only the log and the
# data can tell here.
mq_run python3 -c "import sys;sys.stdout.write('y'*1200000+'\n')" >> "$T/0"
expect_same "one big write of a long line: nothing appended" "$MQ_TMP/before" "$T/0"
expect_ok "the long line is logged" grep -q 'write t/0 at offset [0-9]*: refused: a line begun in earlier writes over max.message.bytes' "$LOG"
# A file object sends the rest again after the short count and at close:
# both are refused, and close() says EMSGSIZE.
expect_errno "python open/write/close: EMSGSIZE" EMSGSIZE python3 -c "
f = open('$T/0', 'a'); f.write('y' * 1200000 + '\n'); f.close()"
expect_same "nothing appended by the repeats" "$MQ_TMP/before" "$T/0"
expect_ok "the repeat is logged" grep -q 'refused again: .* bytes that repeat a write refused' "$LOG"
# A repeat cannot be told from a new write of the same bytes at the same
# offset: an O_APPEND writer's empty line right after the refused newline
# that ended an over-long line is refused too, until a write succeeds.
mkdir "$MNT/rp"
echo 'max.message.bytes=200' > "$MNT/rp/.config"
expect_eq "an empty line after the refused newline: refused as its repeat" \
	"EMSGSIZE EMSGSIZE EMSGSIZE 2 1" "$(mq_run python3 -c "
import errno, os
fd = os.open('$MNT/rp/0', os.O_WRONLY | os.O_APPEND)
out = []
for b in (b'q' * 300, b'\\n', b'\\n', b'x\\n', b'\\n'):
    try:
        out.append(str(os.write(fd, b)))
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(' '.join(out))
try:
    os.close(fd)
except OSError:
    pass")"
expect_eq "only the lines from the first success on are records" "x||" "$(tr '\n' '|' < "$MNT/rp/0")"
{ head -c 1100000 /dev/zero | tr '\0' z; printf '\nnext\n'; } > "$MQ_TMP/long"
expect_errno "dd bs=1000 of a long line: EMSGSIZE" EMSGSIZE dd if="$MQ_TMP/long" of="$T/0" bs=1000 oflag=append conv=notrunc status=none
expect_same "dd: nothing appended" "$MQ_TMP/before" "$T/0"
expect_ok "dd: logged with its offset" grep -q 'write t/0 at offset [0-9]*: refused: an unfinished line over max.message.bytes' "$LOG"
# A write under 1 MiB comes in two pieces from a buffer not on a page
# boundary (256 pages a piece): a line one byte over the limit is refused
# in its second piece, and write() returns the first piece's count; from
# a page-aligned buffer it is one piece, refused with EMSGSIZE.
expect_eq "a line 1 byte too long, unaligned: short count; aligned: EMSGSIZE" "short EMSGSIZE" \
	"$(mq_run python3 -c "
import errno, mmap, os
line = b'e' * 1048496 + b'\\n'
fd = os.open('$T/0', os.O_WRONLY | os.O_APPEND)
buf = mmap.mmap(-1, 2 << 20)
buf[100:100 + len(line)] = line
out = []
for start in (100, 0):
    buf[start:start + len(line)] = line
    try:
        n = os.write(fd, memoryview(buf)[start:start + len(line)])
        out.append('short' if n < len(line) else 'whole')
    except OSError as e:
        out.append(errno.errorcode[e.errno])
print(' '.join(out))
try:
    os.close(fd)
except OSError:
    pass")"
expect_same "neither appended anything" "$MQ_TMP/before" "$T/0"
# A writer that goes on after the error: the lines before the long one
# are records, its later pieces are dropped up to its newline (each such
# write fails), the lines after it are records again; close() says
# EMSGSIZE once more.
mq_run python3 -c "
import os, sys
fd = os.open('$T/0', os.O_WRONLY | os.O_APPEND)
os.write(fd, b'before\n')
errs = 0
for i in range(1200):
    try:
        os.write(fd, b'%04d' % i * 250)     # no two pieces alike
    except OSError:
        errs += 1
try:
    os.write(fd, b'w\n')
except OSError:
    errs += 1
os.write(fd, b'after\n')
try:
    os.close(fd)
except OSError as e:
    sys.exit('close: ' + os.strerror(e.errno) + ', %d writes refused' % errs)
" 2> "$MQ_TMP/err"
expect_ok "close after a dropped line: EMSGSIZE" grep -q "close: $(mq_strerror EMSGSIZE), 1[0-9][0-9] writes refused" "$MQ_TMP/err"
{ cat "$MQ_TMP/before"; printf 'before\nafter\n'; } > "$MQ_TMP/expect"
expect_same "lines around the long one kept, nothing of it" "$MQ_TMP/expect" "$T/0"
expect_errno "bash echo of a long line: EMSGSIZE" EMSGSIZE bash -c 'echo "$(head -c 1200000 /dev/zero | tr "\0" b)" >> "$1"; echo next >> "$1"; exit 1' sh "$T/0"
echo next >> "$MQ_TMP/expect"
expect_same "the next line is a record" "$MQ_TMP/expect" "$T/0"

# ---- fallocate ----
cp "$T/0" "$MQ_TMP/before"
expect_errno "fallocate(1): EOPNOTSUPP" EOPNOTSUPP fallocate -l 1M "$T/0"
expect_ok "fallocate is logged" grep -q 'fallocate t/0 (mode 0, offset 0, length 1048576): refused' "$LOG"
# os.posix_fallocate on an O_WRONLY descriptor: glibc falls back to
# writing a NUL byte per 4 KiB block at or past st_size.
cat > "$MQ_TMP/pfalloc.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY)
try:
    os.posix_fallocate(fd, 0, int(sys.argv[2]))
except OSError as e:
    sys.exit('posix_fallocate: ' + os.strerror(e.errno))
EOF
expect_errno "posix_fallocate past the end: ESPIPE" ESPIPE python3 "$MQ_TMP/pfalloc.py" "$T/0" 1048576
expect_same "posix_fallocate: nothing appended" "$MQ_TMP/before" "$T/0"
mkdir "$MNT/e"
expect_errno "posix_fallocate of an empty partition: ESPIPE" ESPIPE python3 "$MQ_TMP/pfalloc.py" "$MNT/e/0" 4096
expect_eq "the empty partition stays empty" 0 "$(stat -c %s "$MNT/e/0")"
# A block probe can land exactly at st_size (an empty file, offset 0): that
# one write of a single NUL byte is refused too, so nothing is appended.
expect_errno "posix_fallocate(0, 1) of an empty partition: EOPNOTSUPP" EOPNOTSUPP python3 "$MQ_TMP/pfalloc.py" "$MNT/e/0" 1
expect_errno "posix_fallocate(0, 4097) of an empty partition: EOPNOTSUPP" EOPNOTSUPP python3 "$MQ_TMP/pfalloc.py" "$MNT/e/0" 4097
expect_eq "still empty after the probes" 0 "$(stat -c %s "$MNT/e/0")"
expect_ok "the probe is logged" grep -q "write e/0 at offset 0: refused: one NUL byte as the first write of a file not opened O_APPEND is posix_fallocate's block probe" "$LOG"
SZ=$(stat -c %s "$T/0")
expect_errno "posix_fallocate(st_size, 1): EOPNOTSUPP" EOPNOTSUPP python3 -c "
import os, sys
fd = os.open('$T/0', os.O_WRONLY)
try:
    os.posix_fallocate(fd, $SZ, 1)
except OSError as e:
    sys.exit('posix_fallocate: ' + os.strerror(e.errno))"
expect_same "posix_fallocate at the end: nothing appended" "$MQ_TMP/before" "$T/0"
# Inside the data glibc reads each block's byte first and leaves a block
# whose byte is not NUL: through O_RDWR the range is left as it is; an
# O_WRONLY descriptor fails that read (EBADF) before mqfs sees anything.
cat > "$MQ_TMP/pfalloc_in.py" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR if sys.argv[2] == 'rw' else os.O_WRONLY)
try:
    os.posix_fallocate(fd, 0, 2)
except OSError as e:
    sys.exit('posix_fallocate: ' + os.strerror(e.errno))
EOF
expect_ok "posix_fallocate inside the data, O_RDWR: success" python3 "$MQ_TMP/pfalloc_in.py" "$T/0" rw
expect_errno "posix_fallocate inside the data, O_WRONLY: EBADF" EBADF python3 "$MQ_TMP/pfalloc_in.py" "$T/0" w
expect_same "posix_fallocate inside the data: nothing appended" "$MQ_TMP/before" "$T/0"
# A record of one NUL byte is still written: with its newline, or appended.
expect_ok "a NUL line through O_WRONLY" python3 -c "
import os; fd = os.open('$MNT/e/0', os.O_WRONLY); os.write(fd, b'\\0\\n'); os.close(fd)"
expect_ok "a NUL byte appended" sh -c 'printf "\\0" >> "$1"' sh "$MNT/e/0"
expect_eq "both NUL records are there" 2 "$(grep -c 'valueSize: 1 key: null value: \\x00$' "$MNT/e/.segments/0/00000000000000000000.dump")"

# ---- editors and rsync --inplace ----
seq 1 4 > "$MQ_TMP/four"
expect_errno "rsync --inplace: ESPIPE" ESPIPE rsync --inplace "$MQ_TMP/four" "$T/0"
expect_errno "rsync --inplace --no-whole-file: ESPIPE" ESPIPE rsync --inplace --no-whole-file "$MQ_TMP/four" "$T/0"
expect_same "rsync: nothing appended" "$MQ_TMP/before" "$T/0"
VIM=$(command -v vim.tiny || command -v vim)
if [ -n "$VIM" ]; then
	expect_fail "vim's save fails" env HOME="$MQ_TMP" "$VIM" -u NONE -N -es -c 'normal Goadded' -c wq "$T/0"
	expect_same "vim: nothing appended" "$MQ_TMP/before" "$T/0"
else
	skip "vim's save" "neither vim.tiny nor vim installed"
fi
expect_errno "a write in the middle: ESPIPE" ESPIPE python3 -c "
import os; fd = os.open('$T/0', os.O_WRONLY); os.pwrite(fd, b'x\n', 2)"
expect_same "nothing appended by writes at offsets" "$MQ_TMP/before" "$T/0"
expect_ok "the refusal is logged" grep -q 'write t/0 at offset 2: refused: partition files are appended to' "$LOG"

# ---- what must keep working ----
expect_ok "> appends" sh -c 'echo gt1 > "$1" && echo gt2 > "$1"' sh "$T/0"
expect_ok "cat > appends" sh -c 'seq 1 2 > "$2" && cat "$2" > "$1"' sh "$T/0" "$MQ_TMP/two"
expect_ok ">> appends" sh -c 'echo gtgt >> "$1"' sh "$T/0"
expect_ok "two writers, one with a partial line held" python3 -c "
import os
a = os.open('$T/0', os.O_WRONLY | os.O_APPEND)
b = os.open('$T/0', os.O_WRONLY | os.O_TRUNC)
os.write(a, b'par'); os.write(b, b'bee1\n'); os.write(a, b'tial\n'); os.write(b, b'bee2\n')
os.close(a); os.close(b)"
expect_ok "a writer at the end after lseek" python3 -c "
import os
fd = os.open('$T/0', os.O_WRONLY); os.lseek(fd, 0, os.SEEK_END)
os.write(fd, b'end1\n'); os.write(fd, b'end2\n'); os.close(fd)"
# RWF_APPEND without O_APPEND: the kernel writes at its inode's last known
# end, which another writer's append has moved: refused, nothing appended.
expect_eq "pwritev2 RWF_APPEND after another writer's append: ESPIPE" "ESPIPE" "$(mq_run python3 -c "
import errno, os, subprocess
fd = os.open('$T/0', os.O_WRONLY)
subprocess.run(['sh', '-c', 'printf \"other\\\\n\" >> \"\$1\"', 'sh', '$T/0'], check=True)
try:
    os.pwritev(fd, [b'rwf\\n'], -1, os.RWF_APPEND)
    print('written')
except OSError as e:
    print(errno.errorcode[e.errno])")"
# A child that inherits the descriptor closes it when it exits (and a
# program run by exec closes its close-on-exec copies): that close is not
# the writer's, and the line the shell left unfinished goes on.
expect_ok "a line split around a child's exit" bash -c 'exec 3>>"$1"; printf sp >&3; /bin/true; printf lit >&3; sh -c "printf \"\\n\"" >&3; exec 3>&-' bash "$T/0"
expect_ok "a line the writer leaves unfinished at its close" bash -c 'exec 3>>"$1"; printf un >&3; /bin/true; printf done >&3; exec 3>&-' bash "$T/0"
# A child that wrote the unfinished part itself ends the line at its exit.
expect_ok "a child's own unfinished line ends at its exit" bash -c 'exec 3>>"$1"; (printf ghi >&3); printf "jkl\n" >&3; exec 3>&-' bash "$T/0"
# Another process's lookup of the name (a stat) while the shell writes
# through it is answered with another of the file's nodes (inode.h), and
# the kernel unhashes the shell's dentry: its descriptor's /proc link
# then ends in " (deleted)". The shell still holds the file, so the close
# of the copy for printf's redirection leaves the line to be continued.
expect_ok "a line split after another process's stat of the file" bash -c 'exec 3>>"$1"; stat "$1" >/dev/null; printf st >&3; printf "at\n" >&3; exec 3>&-' bash "$T/0"
{ cat "$MQ_TMP/before"; printf 'gt1\ngt2\n1\n2\ngtgt\nbee1\npartial\nbee2\nend1\nend2\nother\nsplit\nundone\nghi\njkl\nstat\n'; } > "$MQ_TMP/expect"
expect_same "every accepted line once, in order" "$MQ_TMP/expect" "$T/0"
# ---- an escaped line is measured by its record ----
# line.format=escape: a Kafka client's record of control bytes is shown as
# \xHH, four bytes of line a byte of record. The line (copied back, or in
# writes cut anywhere) is checked against max.message.bytes by its record,
# not by its length: a 1,000-byte record in a 4,001-byte line is taken.
mkdir "$MNT/x"
echo 'max.message.bytes=2000' > "$MNT/x/.config"
cat > "$MQ_TMP/esc.py" <<'EOF2'
import errno, os, sys
path, n = sys.argv[1], int(sys.argv[2])
line = b'\\' + b'\\x01' * n + b'\n'
fd = os.open(path, os.O_WRONLY | os.O_APPEND)
try:
    # Two writes: the line's first part is held unfinished.
    os.write(fd, line[:3000])
    os.write(fd, line[3000:])
    os.close(fd)
    print("ok")
except OSError as e:
    print(errno.errorcode[e.errno])
EOF2
expect_eq "an escaped line of 4,001 bytes, a record of 1,000, in two writes" "ok" \
	"$(mq_run python3 "$MQ_TMP/esc.py" "$MNT/x/0" 1000)"
expect_eq "its record" "valueSize: 1000" \
	"$(mq_run grep -o 'valueSize: [0-9]*' "$MNT/x/.segments/0/00000000000000000000.dump")"
cp "$MNT/x/0" "$MQ_TMP/x.before"
expect_eq "an escaped line whose record is over the limit: EMSGSIZE" "EMSGSIZE" \
	"$(mq_run python3 "$MQ_TMP/esc.py" "$MNT/x/0" 2000)"
expect_same "nothing of it appended" "$MQ_TMP/x.before" "$MNT/x/0"
mkdir "$MNT/xcopy"
echo 'max.message.bytes=2000' > "$MNT/xcopy/.config"
expect_ok "the view copied back in small writes" dd if="$MQ_TMP/x.before" of="$MNT/xcopy/0" bs=1000 oflag=append conv=notrunc status=none
expect_same "the same records" "$MQ_TMP/x.before" "$MNT/xcopy/0"
mq_umount
mq_done
