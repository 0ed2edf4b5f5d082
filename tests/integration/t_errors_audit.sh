#!/bin/sh
# t_errors_audit.sh — README "Errors": each bad input through the mount gets
# its errno and one line in the daemon's log saying what and why, found
# among the lines written since the operation began (so an earlier line of
# the same kind cannot answer for it). t_refusals.sh checks that the data
# stays byte-identical; this checks the errno and the line of every kind of
# refusal mqfs's handlers answer; those the kernel answers itself (README's
# list of what is not logged) only by their errno. And the close of a
# file deferred to its release (the writer still held another descriptor of
# it): the release logs what happened to its unfinished line, never a loss
# of a line that was appended.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount
T=$MNT/t
mkdir "$T"
seq 1 3 > "$T/0"
mkdir "$T/.groups/g"

# logged_since BYTES PATTERN: PATTERN (grep -E) in the log past its first
# BYTES bytes.
logged_since() { tail -c +$(($1 + 1)) "$LOG" | grep -Eq -- "$2"; }

# refused NAME ERRNO PATTERN CMD...: CMD fails with ERRNO, and a log line
# written since it began matches PATTERN.
refused() {
	_r_name=$1
	_r_errno=$2
	_r_pat=$3
	shift 3
	_r_at=$(wc -c < "$LOG")
	expect_errno "$_r_name: $_r_errno" "$_r_errno" "$@"
	check "$_r_name: logged" poll 10 logged_since "$_r_at" "$_r_pat"
}

# python3 $ERROP OP PATH [ARG]: the system calls of OP, the strerror of
# the first that fails on stderr (as a tool prints it: expect_errno
# compares the text).
ERROP=$MQ_TMP/errop.py
cat > "$ERROP" <<'EOF'
import errno, fcntl, os, sys, threading
op, path = sys.argv[1], sys.argv[2]
try:
    if op == "pwrite":  # at an offset that does not continue the file
        fd = os.open(path, os.O_WRONLY)
        os.pwrite(fd, b"x\n", int(sys.argv[3]))
    elif op == "nulprobe":  # posix_fallocate's probe: one NUL byte
        fd = os.open(path, os.O_WRONLY)
        os.pwrite(fd, b"\0", os.fstat(fd).st_size)
    elif op == "fsync_deleted":  # fsync of a file whose topic went
        fd = os.open(path + "/0", os.O_WRONLY | os.O_APPEND)
        os.rmdir(path)
        os.fsync(fd)
    elif op == "write_deleted":
        fd = os.open(path + "/0", os.O_WRONLY | os.O_APPEND)
        os.rmdir(path)
        os.write(fd, b"x\n")
    elif op == "consume_twice":  # a second read while the first waits
        # Two readers of one open file, each pread (read(2) would queue
        # behind the other on the file's position lock): one parks, the
        # other is refused. Then a record ends the parked one.
        import time
        fd = os.open(path, os.O_RDONLY)
        errs = []
        def reader():
            try:
                os.pread(fd, 100, 0)
            except OSError as e:
                errs.append(e)
        readers = [threading.Thread(target=reader) for _ in range(2)]
        for r in readers:
            r.start()
        end = time.monotonic() + 10
        while not errs and time.monotonic() < end:
            time.sleep(0.05)
        with open(sys.argv[3], "ab") as w:
            w.write(b"wake\n")
        for r in readers:
            r.join()
        if errs:
            raise errs[0]
    elif op == "flock_held":
        a = os.open(path, os.O_RDONLY)
        b = os.open(path, os.O_RDONLY)
        fcntl.flock(a, fcntl.LOCK_EX)
        fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
    elif op == "consume_nb":  # O_NONBLOCK at the end of the records
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        while os.read(fd, 1 << 16):
            pass
    else:
        sys.exit("errop: unknown op " + op)
except OSError as e:
    print(os.strerror(e.errno), file=sys.stderr)
    sys.exit(1)
EOF

# ---- names: mkdir, rmdir, create, rename, link ----
refused "mkdir __name" EINVAL 'mkdir __x: refused: "__" names are kept' mkdir "$MNT/__x"
refused "mkdir .name" EINVAL 'mkdir \.hidden: refused: dot-names' mkdir "$MNT/.hidden"
refused "mkdir bad name" EINVAL 'mkdir a:b: refused' mkdir "$MNT/a:b"
refused "mkdir in a topic" EPERM 'mkdir t/sub: refused: topics are made at the top' mkdir "$T/sub"
refused "rmdir of a view directory" EPERM 'rmdir t/\.groups: refused: only topics can be removed' \
	rmdir "$T/.groups"
refused "bad group name" EINVAL 'mkdir t/\.groups/a b: refused: a group name is' mkdir "$T/.groups/a b"
refused "mkdir in a group" EPERM 'mkdir t/\.groups/g/x: refused: groups are made in \.groups/' \
	mkdir "$T/.groups/g/x"
refused "new file at the root" EPERM 'create f: refused: the top of the mount holds topics' \
	touch "$MNT/f"
refused "new file in a topic" EPERM 'create t/new: refused: a topic holds its partitions' \
	touch "$T/new"
refused "new file in .segments" EPERM 'create t/\.segments/0/x: refused: read-only' \
	touch "$T/.segments/0/x"
refused "a fifo in a group" EPERM 'mknod t/\.groups/g/p: refused: read-only' mkfifo "$T/.groups/g/p"
refused "no such partition" ENOENT 'create t/7: no such partition \(the topic has 1' \
	bash -c 'echo x > "$1"' sh "$T/7"
refused "rm a partition" EPERM 'unlink t/0: refused' rm -f "$T/0"
refused "mv a topic" EPERM 'rename t: refused' mv "$T" "$MNT/u"
refused "mv a view" EPERM 'rename t/\.config: refused' mv "$T/.config" "$T/.c"
refused "ln" EPERM 'link t/h: refused' ln "$T/0" "$T/h"
refused "ln -s" EPERM 'symlink l: refused' ln -s t "$MNT/l"
# Answered by the kernel (README: not logged): the name exists.
expect_errno "mkdir of an existing topic (the kernel's)" EEXIST mkdir "$T"
expect_errno "mkdir of an existing group (the kernel's)" EEXIST mkdir "$T/.groups/g"
expect_errno "rmdir of a file (the kernel's)" ENOTDIR rmdir "$MNT/.state"

# ---- attributes ----
refused "truncate a partition" EPERM 'truncate t/0: refused: partitions are append-only' \
	truncate -s 0 "$T/0"
refused "truncate a view" EPERM 'truncate t/\.config: refused: a generated view' \
	truncate -s 0 "$T/.config"
refused "chmod a partition" EPERM 'chmod/chown t/0: refused: set owner and mode on the topic' \
	chmod 600 "$T/0"
refused "chmod a group" EPERM 'chmod/chown t/\.groups/g: refused' chmod 700 "$T/.groups/g"
refused "chmod the root" EPERM 'chmod/chown /: refused: the root and its views' chmod 700 "$MNT"

# ---- opens ----
refused "write .state" EACCES 'open t/\.state for writing: refused: read-only view' \
	bash -c 'echo x > "$1"' sh "$T/.state"
refused "write .metrics" EACCES 'open \.metrics for writing: refused: read-only view' \
	bash -c 'echo x > "$1"' sh "$MNT/.metrics"
refused "write consume" EACCES 'open t/\.groups/g/consume for writing: refused' \
	bash -c 'echo x > "$1"' sh "$T/.groups/g/consume"
refused "write a .dump" EACCES 'open t/\.segments/0/0{20}\.dump for writing: refused' \
	bash -c 'echo x >> "$1"' sh "$T/.segments/0/00000000000000000000.dump"

# ---- partition writes ----
refused "write at an offset" ESPIPE 'write t/0 at offset 1: refused: partition files are appended to' \
	python3 "$ERROP" pwrite "$T/0" 1
refused "posix_fallocate's probe" EOPNOTSUPP 'write t/0 at offset 6: refused: one NUL byte' \
	python3 "$ERROP" nulprobe "$T/0"
if command -v fallocate >/dev/null 2>&1; then
	refused "fallocate" EOPNOTSUPP 'fallocate t/0 \(mode 0, offset 0, length 10\): refused: not supported' \
		fallocate -l 10 "$T/0"
fi
mkdir "$MNT/m"
echo max.message.bytes=1000 > "$MNT/m/.config"
refused "a line over max.message.bytes" EMSGSIZE 'write m/0 at offset 0: .*over max\.message\.bytes' \
	bash -c 'head -c 3000 /dev/zero | tr "\0" y > "$1.tmp" && echo >> "$1.tmp" && dd if="$1.tmp" of="$2" bs=1M status=none' \
	sh "$MQ_TMP/long" "$MNT/m/0"
mkdir "$MNT/c"
printf 'cleanup.policy=compact\nkey.separator=:\n' > "$MNT/c/.config"
refused "a record without a key (compacted)" EINVAL 'topic c: write refused: a record without a key' \
	bash -c 'echo nokey >> "$1"' sh "$MNT/c/0"
refused "key.separator after records" EBUSY 'topic m: \.config refused: key\.separator is fixed' \
	bash -c 'echo ok >> "$1/0" && echo "key.separator=," > "$1/.config"' sh "$MNT/m"
mkdir "$MNT/d1" "$MNT/d2"
refused "write, topic deleted while open" ENOENT 'write d1/0: refused: the topic was deleted while the file was open' \
	python3 "$ERROP" write_deleted "$MNT/d1"
refused "fsync, topic deleted while open" ENOENT 'fsync d2/0: refused: the topic was deleted while the file was open' \
	python3 "$ERROP" fsync_deleted "$MNT/d2"

# ---- .config ----
refused "unknown key" EINVAL "topic t: \.config refused: line 1: unknown key 'nosuch'" \
	bash -c 'echo nosuch=1 > "$1"' sh "$T/.config"
refused "a line over 64 KiB" EINVAL 'write t/\.config: refused: a line over 64 KiB' \
	bash -c 'head -c 70000 /dev/zero | tr "\0" "#" > "$1"' sh "$T/.config"
# 1 MiB of settings in 64 KiB writes of comment lines: the write that
# passes 1 MiB is refused, and the close says it once more.
refused "over 1 MiB of settings" EFBIG 'write t/\.config: refused: over 1 MiB of settings' \
	bash -c 'for i in $(seq 1 1200); do printf "#%0999d\n" 0; done > "$1.tmp" && dd if="$1.tmp" of="$2" bs=64k status=none' \
	sh "$MQ_TMP/big" "$T/.config"
refused "a group's .config" EINVAL "group g of topic t: \.config refused: unknown key 'nosuch'" \
	bash -c 'echo nosuch=1 > "$1"' sh "$T/.groups/g/.config"
refused "a bad offset" EINVAL "group g of topic t: partition 0: reset to 'abc' refused" \
	bash -c 'echo abc > "$1"' sh "$T/.groups/g/0"
refused "an offset past the end" EINVAL "reset to '99' refused: past the log end offset 3" \
	bash -c 'echo 99 > "$1"' sh "$T/.groups/g/0"

# ---- consume, locks ----
echo 3 > "$T/.groups/g/0"
refused "a second read of a consume file while one waits" EBUSY \
	'read t/\.groups/g/consume: refused: another read of this file is waiting' \
	python3 "$ERROP" consume_twice "$T/.groups/g/consume" "$T/0"
# Not logged (README): nothing ready, or a lock another holds.
expect_errno "consume, O_NONBLOCK, nothing ready" EAGAIN python3 "$ERROP" consume_nb "$T/.groups/g/consume"
expect_errno "flock held by another" EAGAIN python3 "$ERROP" flock_held "$T/0"

# ---- a close deferred to the release ----
# The writer closes one descriptor while it holds another of the same
# file: its unfinished line waits for the release of that open file.
# After a line refused over max.message.bytes the release appends the
# unfinished line (and the flush repeats EMSGSIZE): appended, not lost.
python3 - "$MNT/m/0" <<'EOF'
import os, sys
keep = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"y" * 3000 + b"\n")
except OSError:
    pass
os.write(fd, b"kept-after-long")
os.close(fd)
os.close(keep)
EOF
check "the unfinished line after a refused one: appended at the release" \
	poll 10 grep -qx kept-after-long "$MNT/m/0"
# A .config whose write was refused after a first write was taken (one
# write of 1.2 MB: the kernel's second request is refused, write() returns
# the first's count), its close deferred so: nothing applied, said so.
at=$(wc -c < "$LOG")
python3 - "$T/.config" <<'EOF'
import os, sys
keep = os.open(sys.argv[1], os.O_WRONLY)
fd = os.open(sys.argv[1], os.O_WRONLY)
os.write(fd, (b"#" * 999 + b"\n") * 1200)
os.close(fd)
os.close(keep)
EOF
check "a .config refused, closed at the release: logged" \
	poll 10 logged_since "$at" 'close t/\.config: nothing of what was written to it applied'

mq_umount
# After the daemon has exited, every line it wrote is in the log.
expect_ok "the release of m/0 claims no line lost (it was appended)" \
	sh -c '! grep -q "release m/0: .*lost" "$1"' sh "$LOG"
expect_ok "the release of t/.config claims no partial line lost" \
	sh -c '! grep -q "release t/.config: .*lost" "$1"' sh "$LOG"
mq_done
