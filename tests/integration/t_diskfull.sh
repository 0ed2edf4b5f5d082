#!/bin/sh
# t_diskfull.sh — a full disk (the data directory on a 6 MiB tmpfs): writes
# fail with ENOSPC and nothing acknowledged is lost; reads while the disk
# is full return every acknowledged record and never bytes that were not
# written (a short reply would leave the kernel's pages filled with
# zeros); once there is room again every acknowledged record reads back,
# byte for byte, with no zeros, and writes go on.
# Skipped where tmpfs cannot be mounted (not root).
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
SMALL=$(mktemp -d /tmp/mqfs-full.XXXXXX) || exit 1
if ! mount -t tmpfs -o size=6m tmpfs "$SMALL" 2>/dev/null; then
	rmdir "$SMALL"
	skip "a full disk" "cannot mount a tmpfs (root needed)"
	mq_done
fi
# The daemon stops first (its data is on the tmpfs), then the tmpfs goes.
t_cleanup() {
	mq_umount >/dev/null 2>&1
	umount -l "$SMALL" 2>/dev/null
	rmdir "$SMALL" 2>/dev/null
	_mq_cleanup "$1"
}
trap 't_cleanup $?' EXIT
trap 't_cleanup 130' INT
trap 't_cleanup 143' TERM
trap 't_cleanup 129' HUP

DATA=$SMALL/data
mkdir "$DATA"
mq_mount
T=$MNT/full
mkdir "$T"
# 1000-byte lines, 8 to a write(), until the disk is full: the count of
# acknowledged lines and the errno that stopped it.
fill() {
	python3 - "$1" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
line = b"f" * 999 + b"\n"
n = 0
err = 0
try:
    while n < 100000:
        os.write(fd, line * 8)
        n += 8
except OSError as e:
    err = e.errno
for one in range(3):  # single lines after the first refusal
    try:
        os.write(fd, line)
        n += 1
    except OSError:
        pass
print(n, err)
EOF
}
# shellcheck disable=SC2046
set -- $(fill "$T/0")
ACKED=$1
expect_eq "the writes stop on ENOSPC" 28 "$2"
expect_ok "the refusal is logged" grep -q "write full/0 at offset [0-9]*: No space left on device" "$LOG"
expect_ok "after some were acknowledged ($ACKED lines)" test "$ACKED" -gt 1000

# While full: every acknowledged line reads back. The appender held back
# the line index's latest entries, which a reader has written first: an
# append reserves their blocks (seg.c, lines_reserve), so that write
# never needs one.
nuls() { timeout 30 cat "$1" 2>/dev/null | tr -cd '\000' | wc -c; }
expect_eq "while the disk is full, every acknowledged line reads back" "$ACKED" \
	"$(mq_run sh -c 'grep -cx "f\{999\}" "$1"' sh "$T/0")"
expect_eq "with no zeros" 0 "$(nuls "$T/0")"
expect_eq "and again" 0 "$(nuls "$T/0")"
expect_ok "and tail finds the last one" \
	sh -c 'timeout 30 tail -n 1 "$1" | grep -qx "f\{999\}"' sh "$T/0"
expect_ok "no read failed" sh -c '! grep -q "WARN read full/0" "$1"' sh "$LOG"

mount -o remount,size=24m "$SMALL"
expect_eq "room again: every acknowledged line reads back" "$ACKED" \
	"$(mq_run sh -c 'grep -cx "f\{999\}" "$1"' sh "$T/0")"
expect_eq "and nothing else (no zeros from the pages read while full)" 0 "$(nuls "$T/0")"
expect_eq "the file holds exactly those lines" "$((ACKED * 1000))" "$(stat -c %s "$T/0")"
expect_ok "writes go on" sh -c 'echo after >> "$1"' sh "$T/0"
expect_eq "and read back" after "$(mq_run tail -n 1 "$T/0")"
mq_done
