#!/bin/sh
# t_passthrough_smoke.sh — proves the harness (lib.sh) on a real FUSE mount:
# build/mqfs-passthrough (the benchmark ceiling) over a temp source dir.
# Needs no mqfs: the passthrough binary is found next to $MQFS.
# shellcheck disable=SC2016,SC2119  # sh -c scripts expand their own "$1"; mq_umount etc. take optional args

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

PT=$(dirname "${MQFS:-build/mqfs}")/mqfs-passthrough
if [ ! -x "$PT" ]; then
	fail "passthrough binary" "$PT is missing (make build/mqfs-passthrough)"
	mq_done
fi
SRC=$MQ_TMP/src
mkdir -p "$SRC"

# ---- mount, small files with echo/cat ----------------------------------------
mq_mount_cmd "$MNT" "$PT" -f "$SRC" "$MNT"
ok "mounted $PT"
expect_ok "mountpoint(1) agrees" mountpoint -q "$MNT"

expect_ok "echo > file" sh -c 'echo hello > "$1"' sh "$MNT/a"
expect_eq "cat reads it back" "hello" "$(mq_run cat "$MNT/a")"
expect_eq "source dir has it" "hello" "$(cat "$SRC/a")"
expect_ok "echo >> appends" sh -c 'echo world >> "$1"' sh "$MNT/a"
expect_eq "both lines" "hello
world" "$(mq_run cat "$MNT/a")"
expect_ok "> truncates" sh -c 'echo again > "$1"' sh "$MNT/a"
expect_eq "truncated content" "again" "$(mq_run cat "$MNT/a")"

# ---- dd in 1 MiB blocks, cmp ----------------------------------------------------
dd if=/dev/urandom of="$MQ_TMP/rand" bs=1M count=4 status=none
expect_ok "dd write 4 MiB bs=1M" dd if="$MQ_TMP/rand" of="$MNT/big" bs=1M status=none
expect_same "read back through the mount" "$MQ_TMP/rand" "$MNT/big"
expect_same "source file identical" "$MQ_TMP/rand" "$SRC/big"
expect_eq "st_size" 4194304 "$(mq_run stat -c %s "$MNT/big")"
expect_ok "dd odd block size, seek, notrunc" \
	dd if="$MQ_TMP/rand" of="$MNT/big" bs=1000 count=7 seek=3 conv=notrunc status=none
expect_ok "dd read bs=64k" dd if="$MNT/big" of="$MQ_TMP/back" bs=64k status=none
expect_eq "size kept by notrunc" 4194304 "$(stat -c %s "$MQ_TMP/back")"
expect_ok "truncate -s 1000 (setattr size)" truncate -s 1000 "$MNT/big"
expect_eq "st_size after truncate" 1000 "$(mq_run stat -c %s "$MNT/big")"

# ---- directories, errors -----------------------------------------------------------
expect_ok "mkdir" mkdir "$MNT/d"
expect_ok "create in subdir" sh -c 'echo x > "$1"' sh "$MNT/d/f"
expect_eq "ls" "a big d" "$(mq_run ls "$MNT" | tr '\n' ' ' | sed 's/ $//')"
expect_errno "cat missing file: ENOENT" ENOENT cat "$MNT/nope"
expect_errno "rmdir non-empty: ENOTEMPTY" ENOTEMPTY rmdir "$MNT/d"
expect_errno "write into missing dir fails" ENOENT dd if=/dev/null of="$MNT/nodir/x" status=none
expect_fail "expect_fail sees a failure" ls "$MNT/nope"
expect_ok "unlink" rm "$MNT/d/f"
expect_ok "rmdir" rmdir "$MNT/d"
mkdir "$SRC/many"
i=0
while [ $i -lt 500 ]; do
	: >"$SRC/many/file-with-a-longish-name-$i"
	i=$((i + 1))
done
expect_eq "readdir of 500 entries (several pages)" 500 "$(mq_run ls "$MNT/many" | wc -l)"

# ---- clean unmount ------------------------------------------------------------------
if mq_umount; then ok "mq_umount"; fi
expect_eq "daemon exit status after unmount" 0 "$MQ_RC"
if mq_is_mounted "$MNT"; then fail "unmounted" "$MNT still in /proc/mounts"; else ok "unmounted"; fi
expect_eq "data survives unmount" "again" "$(cat "$SRC/a")"

# ---- remount, busy mount, kill -9 ---------------------------------------------------------
mq_mount_cmd "$MNT" "$PT" -f "$SRC" "$MNT"
ok "remounted"
daemon=$MQ_PID
expect_eq "data visible again" "again" "$(mq_run cat "$MNT/a")"
# A process with its cwd in the mount keeps it busy: plain -u fails, -uz must.
mq_bg sh -c 'cd "$1" && exec sleep 1000' sh "$MNT"
holder=$MQ_LAST_PID
_mq_tick
if mq_kill9; then ok "mq_kill9 removed the stale busy mount"; fi
expect_eq "daemon died of SIGKILL" 137 "$MQ_RC"
if kill -0 "$daemon" 2>/dev/null; then fail "daemon gone" "pid $daemon alive"; else ok "daemon gone"; fi
if mq_is_mounted "$MNT"; then fail "no stale mount" "$MNT still mounted"; else ok "no stale mount"; fi
mq_stop "$holder"
expect_eq "mq_stop reaped the holder (SIGTERM)" 143 "$MQ_RC"
expect_eq "data survives kill -9" "again" "$(cat "$SRC/a")"

# ---- the harness cleans up after a script that leaves everything behind ------------
cat >"$MQ_TMP/child.sh" <<'EOF'
LIBDIR=$1
. "$1/lib.sh"
mq_setup
mq_mount_cmd "$MNT" "$2" -f "$3" "$MNT"
mq_bg sleep 1000
echo "$MQ_TMP $MQ_PID $MQ_LAST_PID" >"$4"
if [ "$5" = wait ]; then mq_wait "$MQ_LAST_PID" 1000; fi
exit 0
EOF
mkdir -p "$MQ_TMP/src2"

check_child_cleanup() {   # check_child_cleanup HOW
	if [ ! -s "$MQ_TMP/state" ]; then
		fail "$1: child ran" "no state file; child output:
$(cat "$MQ_TMP/child.out")"
		return
	fi
	read -r ctmp cdaemon cbg <"$MQ_TMP/state"
	if [ -e "$ctmp" ]; then fail "$1: temp dir removed" "$ctmp exists"; else ok "$1: temp dir removed"; fi
	if mq_is_mounted "$ctmp/mnt"; then
		fail "$1: mount removed" "$ctmp/mnt still mounted"
		fusermount3 -uz "$ctmp/mnt"
	else
		ok "$1: mount removed"
	fi
	if kill -0 "$cdaemon" 2>/dev/null; then fail "$1: daemon killed" "pid $cdaemon alive"; else ok "$1: daemon killed"; fi
	if kill -0 "$cbg" 2>/dev/null; then fail "$1: mq_bg process killed" "pid $cbg alive"; else ok "$1: mq_bg process killed"; fi
}

rm -f "$MQ_TMP/state"
mq_run sh "$MQ_TMP/child.sh" "$LIBDIR" "$PT" "$MQ_TMP/src2" "$MQ_TMP/state" >"$MQ_TMP/child.out" 2>&1
expect_eq "child exits with its own status" 0 "$?"
check_child_cleanup "EXIT trap"

rm -f "$MQ_TMP/state"
mq_bg sh "$MQ_TMP/child.sh" "$LIBDIR" "$PT" "$MQ_TMP/src2" "$MQ_TMP/state" wait >"$MQ_TMP/child.out" 2>&1
child=$MQ_LAST_PID
n=0
while [ ! -s "$MQ_TMP/state" ] && [ $n -lt 100 ]; do _mq_tick; n=$((n + 1)); done
kill -TERM "$child"
if mq_wait "$child" 20; then
	expect_eq "TERM trap: child exit status 143" 143 "$MQ_RC"
else
	fail "TERM trap: child exits" "still running 20 s after SIGTERM"
fi
check_child_cleanup "TERM trap"

mq_done
