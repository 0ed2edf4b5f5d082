#!/bin/sh
# t_fs_variety.sh — the data directory on the filesystems an admin may give
# it, each made here on a loop file, a tmpfs or a FUSE mount (skipped with
# the reason where this machine cannot make one):
#   - tmpfs, xfs, btrfs and a FUSE mount (bindfs of a directory): records
#     written with dd read back, byte for byte, after a kill -9 and
#     restart, and retention removes segments;
#   - overlay, with that tmpfs's data directory as its lower layer (a
#     container's image): read, written, kill -9, retention;
#   - ext4 with 1 KiB blocks and 64 inodes: the inodes run out with blocks
#     free, writes fail with ENOSPC, every acknowledged record reads back
#     and survives kill -9, and the daemon starts again on the full disk;
#     then the filesystem turns read-only under the daemon (an ext4 error
#     with errors=remount-ro): writes fail with EROFS, reads go on;
#   - a FUSE mount that cannot rename a file over another (mqfs-passthrough)
#     and vfat (fusefat, case-insensitive names): the start is refused
#     with a line naming what the filesystem lacks.
# Every mount and loop device made is removed however the script ends.
# shellcheck disable=SC2016,SC2034 # sh -c scripts; DATA is lib.sh's
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
FSMOUNTS=""       # filesystems mounted here, undone newest first
PT_PID=""
t_cleanup() {
	for _m in $MQ_MOUNTS; do proc_unmount "$_m" 10; done
	for _p in $MQ_DAEMONS; do _mq_stop "$_p" 10; done
	[ -n "$PT_PID" ] && proc_unmount "$MQ_TMP/pt" 10 && _mq_stop "$PT_PID" 10
	for _m in $FSMOUNTS; do
		umount "$_m" 2>/dev/null || fusermount3 -u "$_m" 2>/dev/null || umount -l "$_m" 2>/dev/null
	done
	# mount -o loop detaches its device at umount; one left by a failed
	# mount or a lazy umount goes here.
	for _i in "$MQ_TMP"/*.img; do
		[ -e "$_i" ] || continue
		losetup -j "$_i" 2>/dev/null | cut -d: -f1 | while read -r _d; do losetup -d "$_d"; done
	done
	_mq_cleanup "$1"
}
trap 't_cleanup $?' EXIT
trap 't_cleanup 130' INT
trap 't_cleanup 143' TERM
trap 't_cleanup 129' HUP

if [ "$(id -u)" != 0 ]; then
	skip "filesystems" "making loop and tmpfs filesystems needs root"
	mq_done
fi
CONF=$MQ_TMP/mqfs.conf
printf 'log.retention.check.interval.ms=200\nlog.segment.delete.delay.ms=0\n' >"$CONF"
# 3 MiB of numbered 100-byte lines.
python3 -c '
import sys
for i in range(30000):
    sys.stdout.write("%08d %s\n" % (i, "x" * 90))' >"$MQ_TMP/big.in"

# mkfs_mount KIND DIR: a filesystem of KIND mounted at DIR (its image
# DIR.img); 1 and a skip when this machine cannot make it.
mkfs_mount() {
	mkdir -p "$2"
	if ! mkfs_mount_kind "$1" "$2"; then
		skip "$1" "cannot make one here (mkfs tool or kernel support missing; see $LOG)"
		return 1
	fi
	FSMOUNTS="$2 $FSMOUNTS"
}
mkfs_mount_kind() {
	case $1 in
	tmpfs) mount -t tmpfs -o size=64m tmpfs "$2" 2>>"$LOG" ;;
	ext4small) truncate -s 64M "$2.img" && mkfs.ext4 -q -b 1024 -N 64 "$2.img" >>"$LOG" 2>&1 &&
		mount -o loop,errors=remount-ro "$2.img" "$2" 2>>"$LOG" ;;
	xfs) command -v mkfs.xfs >/dev/null && truncate -s 320M "$2.img" &&
		mkfs.xfs -q "$2.img" >>"$LOG" 2>&1 && mount -o loop "$2.img" "$2" 2>>"$LOG" ;;
	btrfs) command -v mkfs.btrfs >/dev/null && truncate -s 128M "$2.img" &&
		mkfs.btrfs -q "$2.img" >>"$LOG" 2>&1 && mount -o loop "$2.img" "$2" 2>>"$LOG" ;;
	bindfs) command -v bindfs >/dev/null && mkdir -p "$2.src" && bindfs "$2.src" "$2" 2>>"$LOG" ;;
	vfat) command -v mkfs.vfat >/dev/null && command -v fusefat >/dev/null &&
		truncate -s 64M "$2.img" && mkfs.vfat "$2.img" >>"$LOG" 2>&1 &&
		fusefat -o rw+ "$2.img" "$2" >>"$LOG" 2>&1 && poll 10 mountpoint -q "$2" ;;
	esac
}

# round_trip NAME: on $DATA, the README's first steps, 3 MiB by dd read
# back, again after kill -9, then retention down to a few segments.
round_trip() {
	mq_mount --config "$CONF"
	expect_ok "$1: mkdir a topic" mkdir "$MNT/orders"
	expect_ok "$1: write" sh -c 'echo hello > "$1/orders/0" && printf "one\ntwo\n" >> "$1/orders/0"' sh "$MNT"
	expect_eq "$1: read" "hello one two" "$(mq_run cat "$MNT/orders/0" | tr '\n' ' ' | sed 's/ $//')"
	mkdir "$MNT/big"
	echo segment.bytes=65536 >"$MNT/big/.config"
	expect_ok "$1: dd 3 MiB" dd if="$MQ_TMP/big.in" of="$MNT/big/0" bs=1M \
		oflag=append conv=notrunc status=none
	expect_same "$1: read back" "$MQ_TMP/big.in" "$MNT/big/0"
	mq_kill9
	mq_mount --config "$CONF"
	expect_same "$1: read back after kill -9" "$MQ_TMP/big.in" "$MNT/big/0"
	echo retention.bytes=500000 >"$MNT/big/.config"
	check "$1: retention removes segments" poll 20 retained
	_n=$(mq_run wc -l <"$MNT/big/0")
	expect_ok "$1: what is left is the log's tail ($_n lines)" test "$_n" -gt 0 -a "$_n" -lt 30000
	expect_ok "$1: byte for byte" \
		sh -c 'tail -n "$1" "$2" | cmp -s - "$3"' sh "$_n" "$MQ_TMP/big.in" "$MNT/big/0"
	mq_umount
	expect_eq "$1: clean stop" 0 "$MQ_RC"
}
retained() {
	[ "$(awk 'NR == 2 { print $2 }' "$MNT/big/.state")" -gt 0 ] 2>/dev/null
}
# retained_above N: the log start moved past what N lines from the end
# began at (the records of the lower layer's first segments left).
retained_above() {
	[ "$(mq_run wc -l <"$MNT/big/0")" -lt "$1" ] 2>/dev/null
}

for kind in tmpfs xfs btrfs bindfs; do
	FS=$MQ_TMP/fs-$kind
	mkfs_mount $kind "$FS" || continue
	DATA=$FS/data
	round_trip $kind
done

# ---- overlay (a container's filesystem) ------------------------------------
# The lower layer holds a data directory written before (tmpfs's, stopped
# cleanly), as an image would: its segments are copied up as mqfs opens
# them for writing, and retention removes files of the lower layer.
OV=$MQ_TMP/ov
LOWER=$MQ_TMP/fs-tmpfs
if [ -d "$LOWER/data" ] && mkdir -p "$OV/upper" "$OV/work" "$OV/merged" &&
	mount -t overlay overlay -o "lowerdir=$LOWER,upperdir=$OV/upper,workdir=$OV/work" \
		"$OV/merged" 2>>"$LOG"; then
	FSMOUNTS="$OV/merged $FSMOUNTS"
	DATA=$OV/merged/data
	mq_mount --config "$CONF"
	_n=$(mq_run wc -l <"$MNT/big/0")
	expect_ok "overlay: the lower layer's records read ($_n lines)" test "$_n" -gt 0
	expect_ok "overlay: byte for byte" \
		sh -c 'tail -n "$1" "$2" | cmp -s - "$3"' sh "$_n" "$MQ_TMP/big.in" "$MNT/big/0"
	expect_ok "overlay: append" sh -c 'echo more >> "$1"' sh "$MNT/big/0"
	mq_kill9
	mq_mount --config "$CONF"
	expect_eq "overlay: after kill -9" "more" "$(mq_run tail -n 1 "$MNT/big/0")"
	echo retention.bytes=100000 >"$MNT/big/.config"
	check "overlay: retention removes the lower layer's segments" poll 20 retained_above "$_n"
	mq_umount
	expect_eq "overlay: clean stop" 0 "$MQ_RC"
else
	skip "overlay" "no tmpfs data directory to lay under it, or no overlay mount here"
fi

# ---- ext4, 1 KiB blocks, 64 inodes ------------------------------------------
FS=$MQ_TMP/fs-ext4small
if mkfs_mount ext4small "$FS"; then
	DATA=$FS/data
	mq_mount --config "$CONF"
	mkdir "$MNT/f"
	# A roll every line: each segment takes four inodes.
	echo segment.bytes=1024 >"$MNT/f/.config"
	# 900-byte lines (a batch within segment.bytes: a larger one is
	# refused), one a write(), until a write fails: the count
	# acknowledged and the errno.
	# shellcheck disable=SC2046
	set -- $(mq_run python3 - "$MNT/f/0" <<'EOF'
import os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
n = err = 0
try:
    while n < 1000:
        os.write(fd, b"%09d" % n + b"i" * 890 + b"\n")
        n += 1
except OSError as e:
    err = e.errno
print(n, err)
EOF
)
	ACKED=$1
	expect_eq "ext4 out of inodes: the write fails with ENOSPC" 28 "$2"
	expect_ok "after some were acknowledged ($ACKED)" test "$ACKED" -gt 2
	expect_ok "fewer inodes left than a segment's four files" \
		test "$(df --output=iavail "$FS" | tail -n 1)" -lt 4
	expect_ok "while blocks are free" test "$(df --output=avail "$FS" | tail -n 1)" -gt 10000
	expect_ok "the log says so, and that inodes are out" \
		grep -q "f partition 0: append: No space left on device (.* out of inodes" "$LOG"
	expect_eq "every acknowledged line reads back" "$ACKED" "$(mq_run grep -c 'i$' "$MNT/f/0")"
	mq_kill9
	# The start's probe of the filesystem needs a file of its own: on a
	# full disk it is skipped, not a refusal.
	mq_mount --config "$CONF"
	expect_eq "after kill -9 and a start with no inode free, every acknowledged line" \
		"$ACKED" "$(mq_run grep -c 'i$' "$MNT/f/0")"
	DEV=$(basename "$(findmnt -no SOURCE "$FS")")
	if [ -w "/sys/fs/ext4/$DEV/trigger_fs_error" ]; then
		# An ext4 error under errors=remount-ro: the filesystem turns
		# read-only under the running daemon.
		echo 1 >"/sys/fs/ext4/$DEV/trigger_fs_error"
		# (dash's echo says EIO for any failed write: the errno from
		# python.)
		expect_eq "read-only: a write fails with EROFS" EROFS "$(mq_run python3 -c '
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"x\n")
    print("written")
except OSError as e:
    print(errno.errorcode[e.errno])' "$MNT/f/0")"
		expect_errno "and a mkdir" EROFS mkdir "$MNT/g"
		expect_eq "reads go on" "$ACKED" "$(mq_run grep -c 'i$' "$MNT/f/0")"
		expect_ok "the log says so" grep -q "Read-only file system" "$LOG"
	else
		skip "read-only" "no /sys/fs/ext4/$DEV/trigger_fs_error"
	fi
	mq_umount
fi

# ---- filesystems mqfs refuses -------------------------------------------------
# refused NAME DATA PATTERN: a start on DATA exits 1 with a log line
# matching PATTERN, and never mounts.
refused() {
	: >"$MQ_TMP/refused.log"
	"$MQFS" -f --data "$2" "$MNT" >"$MQ_TMP/refused.log" 2>&1 </dev/null &
	_p=$!
	_mq_add MQ_PIDS "$_p"
	_mq_add MQ_DAEMONS "$_p"
	_mq_add MQ_MOUNTS "$MNT"
	if proc_wait_mounted "$MNT" "$_p" "$MQ_MOUNT_WAIT"; then
		fail "$1: the start is refused" "it mounted"
		mq_umount "$MNT" "$_p"
	else
		_mq_wait_exit "$_p" "$MQ_MOUNT_WAIT"
		_mq_del MQ_MOUNTS "$MNT"
		expect_eq "$1: the start is refused" 1 "$MQ_RC"
	fi
	cat "$MQ_TMP/refused.log" >>"$LOG"
	expect_ok "$1: saying why" grep -q "$3" "$MQ_TMP/refused.log"
}

PT=$MQ_TMP/pt
PTBIN=$(dirname "$MQFS")/mqfs-passthrough
mkdir -p "$PT" "$MQ_TMP/pt-src"
if [ -x "$PTBIN" ]; then
	"$PTBIN" -f "$MQ_TMP/pt-src" "$PT" >>"$LOG" 2>&1 </dev/null &
	PT_PID=$!
fi
if [ -z "$PT_PID" ]; then
	skip "FUSE mount without rename" "no $PTBIN (make all builds it)"
elif proc_wait_mounted "$PT" "$PT_PID" "$MQ_MOUNT_WAIT"; then
	refused "FUSE mount without rename" "$PT/data" \
		"filesystem fuse): cannot replace a file by rename(2).*Function not implemented"
	proc_unmount "$PT" 10
	_mq_stop "$PT_PID" 10
else
	fail "mqfs-passthrough" "did not mount (see $LOG)"
fi
PT_PID=""

FS=$MQ_TMP/fs-vfat
if mkfs_mount vfat "$FS"; then
	mkdir "$FS/data"
	refused "vfat" "$FS/data" "file names are case-insensitive"
	expect_eq "and nothing left in the data directory but its lock" ".lock" "$(ls -A "$FS/data")"
fi
mq_done
