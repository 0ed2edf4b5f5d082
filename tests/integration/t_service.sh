#!/bin/sh
# t_service.sh — mqfs as an installed service: `make install` into a
# DESTDIR (and `make uninstall`), the installed binary mounted through
# `mount -t fuse.mqfs` (mount.fuse3) and unmounted with `umount`, options
# inside -o (config=, data=, unknown ones refused by name), the example
# config listing every broker setting with its default, the systemd unit
# (systemd-analyze verify), the man page (groff -ww, no warnings), and
# MNT/.metrics (promtool check metrics; counters move with writes;
# recovery after kill -9).
#
# mount(8) drops the caller's PATH, so mount.fuse3 finds `mqfs` only on the
# default PATH (/usr/local/bin ...). The script therefore re-runs itself in
# a private mount namespace (unshare -m) where DESTDIR/usr/local is
# bind-mounted over /usr/local: the installed tree is used as if installed,
# and nothing outside the namespace sees it.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_private_mounts "$@"
mq_setup
ROOT=$(cd "$LIBDIR/../.." && pwd -P)
BUILDDIR=$(dirname "$MQFS")
D=$MQ_TMP/dest
D2=$MQ_TMP/dest-usr

# ---- make install / uninstall -------------------------------------------
# -o all: install the binary under test as it is (no rebuild).
MAKE_INSTALL="make --no-print-directory -C $ROOT -o all BUILD=$BUILDDIR"
# shellcheck disable=SC2086
expect_ok "make install DESTDIR PREFIX=/usr/local" $MAKE_INSTALL install DESTDIR="$D" PREFIX=/usr/local
for f in bin/mqfs share/man/man8/mqfs.8 etc/mqfs/mqfs.conf.example lib/systemd/system/mqfs@.service; do
	expect_ok "installed /usr/local/$f" test -s "$D/usr/local/$f"
done
expect_eq "binary mode" "755" "$(stat -c %a "$D/usr/local/bin/mqfs")"
expect_eq "man page mode" "644" "$(stat -c %a "$D/usr/local/share/man/man8/mqfs.8")"
expect_ok "installed binary runs" "$D/usr/local/bin/mqfs" --version
expect_ok "unit runs the installed binary" \
	grep -q '^ExecStart=/usr/local/bin/mqfs .*config=/usr/local/etc/mqfs/%i.conf' \
	"$D/usr/local/lib/systemd/system/mqfs@.service"
# shellcheck disable=SC2086
expect_ok "make install PREFIX=/usr" $MAKE_INSTALL install DESTDIR="$D2" PREFIX=/usr
expect_ok "PREFIX=/usr: config in /etc, unit in /lib/systemd" \
	grep -q '^ExecStart=/usr/bin/mqfs .*config=/etc/mqfs/%i.conf' "$D2/lib/systemd/system/mqfs@.service"
# shellcheck disable=SC2086
expect_ok "make uninstall" $MAKE_INSTALL uninstall DESTDIR="$D2" PREFIX=/usr
expect_eq "uninstall leaves no file" "" "$(find "$D2" -type f)"
# A config of the user's beside the example (README: "your *.conf files
# are kept"): kept, and the directory it keeps is no error of make's.
# shellcheck disable=SC2086
$MAKE_INSTALL install DESTDIR="$D2" PREFIX=/usr >/dev/null 2>&1
install -m 0600 "$D2/etc/mqfs/mqfs.conf.example" "$D2/etc/mqfs/mq.conf"
# shellcheck disable=SC2086
$MAKE_INSTALL uninstall DESTDIR="$D2" PREFIX=/usr >"$MQ_TMP/uninstall.out" 2>&1
expect_eq "uninstall beside a kept config exits 0" 0 "$?"
expect_eq "uninstall keeps the user's config, and only it" "$D2/etc/mqfs/mq.conf" "$(find "$D2" -type f)"
expect_ok "uninstall beside a kept config prints no error" sh -c "! grep -i error '$MQ_TMP/uninstall.out'"

# ---- man page ---------------------------------------------------------------
groff -man -Tutf8 -ww -P-bou "$D/usr/local/share/man/man8/mqfs.8" >"$MQ_TMP/man.txt" 2>"$MQ_TMP/man.err"
expect_eq "man page renders without warnings" "" "$(cat "$MQ_TMP/man.err")"
for w in SYNOPSIS OPTIONS SEMANTICS "CONSUMER GROUPS" ERRORS FILES EXAMPLES; do
	expect_ok "man page has $w" grep -q "$w" "$MQ_TMP/man.txt"
done
# ETIMEDOUT is a cluster's: the page says a single node never returns it
expect_ok "man page: no ETIMEDOUT on one node" grep -q "single *node *never *returns *ETIMEDOUT" "$MQ_TMP/man.txt"
for w in 'groups/G/consume' partition.assignment.strategy EINTR; do
	expect_ok "man page documents $w" grep -q -- "$w" "$MQ_TMP/man.txt"
done
# every -o option the daemon's --help lists is documented
for o in config= data= debug mode= allow_other default_permissions; do
	expect_ok "man page documents $o" grep -q -- "$o" "$MQ_TMP/man.txt"
done

if [ "$MQ_PRIVATE_NS" != 1 ]; then
	skip "mount -t fuse.mqfs" "unshare --mount is not permitted here"
	mq_done
fi
mount --bind "$D/usr/local" /usr/local || { fail "bind DESTDIR" "mount --bind failed"; mq_done; }

# ---- systemd unit ------------------------------------------------------------
if command -v systemd-analyze >/dev/null 2>&1; then
	# verify wants the ExecStart binary and man:mqfs(8) to exist: both are
	# the installed ones here.
	systemd-analyze verify "$D/usr/local/lib/systemd/system/mqfs@.service" >"$MQ_TMP/verify" 2>&1
	expect_eq "systemd-analyze verify mqfs@.service" "" "$(cat "$MQ_TMP/verify")"
else
	fail "systemd-analyze" "not installed (Debian package systemd; contrib/install-deps.sh installs it)"
fi

# ---- options ---------------------------------------------------------------
BIN=/usr/local/bin/mqfs
expect_eq "the installed binary is the one on the default PATH" \
	"$(cat "$D/usr/local/bin/mqfs" | cksum)" "$(cat "$BIN" | cksum)"
out=$(timeout 10 "$BIN" "$MQ_TMP/nodata" "$MNT" -o allow_other,bogus_opt,frob=1 2>&1)
expect_eq "unknown -o option: exit 1" "1" "$?"
expect_ok "unknown -o options named" sh -c 'echo "$1" | grep -q "bogus_opt,frob=1"' sh "$out"
expect_fail "nothing created for a refused option" test -e "$MQ_TMP/nodata"
out=$(timeout 10 "$BIN" "$DATA" "$MNT" -o config= 2>&1)
expect_ok "empty config= refused" sh -c 'echo "$1" | grep -q "config=.*needs a value"' sh "$out"
out=$(timeout 10 "$BIN" "$DATA" "$MNT" -o config="$MQ_TMP/none.conf" 2>&1)
expect_ok "missing config file named" sh -c 'echo "$1" | grep -q "none.conf"' sh "$out"
expect_fail "a bad -o mode= is refused" timeout 10 "$BIN" "$DATA" "$MNT" -o mode=9z

# The pid of the daemon that mount.fuse3 started for mountpoint $1 (it
# forked away from mount: found by its command line).
daemon_pid() {
	for p in /proc/[0-9]*; do
		c=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
		case $c in "mqfs "*" $1 -o "*) echo "${p#/proc/}"; return 0 ;; esac
	done
	return 1
}
# mount_t SOURCE OPTS — mount -t fuse.mqfs SOURCE $MNT -o OPTS; tracks the
# daemon so that cleanup unmounts and stops it.
mount_t() {
	if ! mq_run mount -t fuse.mqfs "$1" "$MNT" -o "$2" >>"$LOG" 2>&1; then
		fail "mount -t fuse.mqfs $1 -o $2" "mount failed"
		mq_done
	fi
	MQ_PID=$(daemon_pid "$MNT")
	_mq_add MQ_MOUNTS "$MNT"
	[ -n "$MQ_PID" ] && _mq_add MQ_DAEMONS "$MQ_PID"
	ok "mount -t fuse.mqfs -o $2"
}
# umount_t — umount $MNT, wait for the daemon to finish its clean stop.
umount_t() {
	expect_ok "umount" umount "$MNT"
	_mq_del MQ_MOUNTS "$MNT"
	if _mq_wait_exit "$MQ_PID" "$MQ_MOUNT_WAIT"; then
		ok "daemon exits after umount"
	else
		fail "daemon exits after umount" "pid $MQ_PID still running"
	fi
}
metric() {         # metric NAME{LABELS} — its value in $MQ_TMP/metrics
	awk -v k="$1" '$1 == k { print $2 }' "$MQ_TMP/metrics"
}

# ---- mount -t fuse.mqfs ---------------------------------------------------
CONF=$MQ_TMP/broker.conf
cp "$D/usr/local/etc/mqfs/mqfs.conf.example" "$CONF"
echo 'num.partitions=2' >>"$CONF"
mount_t "$DATA" "allow_other,default_permissions,config=$CONF"
expect_ok "mounted as fuse.mqfs from the data directory" \
	awk -v d="$DATA" -v m="$MNT" '$1 == d && $2 == m && $3 == "fuse.mqfs" { f = 1 } END { exit !f }' /proc/mounts
expect_ok "daemon found" test -n "$MQ_PID"
# Daemonized, the log goes to syslog; on a machine without a syslog
# socket, to DATA/mqfs.log (syslog(3) would drop every line).
if [ -S /dev/log ]; then
	expect_eq "daemonized: detached from the terminal" "/dev/null" "$(readlink "/proc/$MQ_PID/fd/2")"
	expect_ok "daemonized: no log file beside the data" test ! -e "$DATA/mqfs.log"
else
	expect_eq "daemonized without /dev/log: stderr is DATA/mqfs.log" "$DATA/mqfs.log" \
		"$(readlink "/proc/$MQ_PID/fd/2")"
	expect_ok "daemonized: stdout detached from the terminal" \
		test "$(readlink "/proc/$MQ_PID/fd/1")" = /dev/null
	expect_ok "DATA/mqfs.log has the mount line" grep -q "mounted on $MNT" "$DATA/mqfs.log"
fi
expect_ok "mkdir a topic" mkdir "$MNT/orders"
if [ ! -S /dev/log ]; then
	expect_fail "a bad .config line" sh -c 'echo nonsense >"$1"' sh "$MNT/orders/.config"
	expect_ok "its refusal is in DATA/mqfs.log" grep -q "orders: .config refused" "$DATA/mqfs.log"
fi
expect_eq "config= applied (num.partitions=2)" "0 1" "$(ls "$MNT/orders" | tr '\n' ' ' | sed 's/ $//')"

# Every broker setting has its default documented in the example config.
mq_run cat "$MNT/.config" >"$MQ_TMP/config"
expect_ok ".config read" test -s "$MQ_TMP/config"
while IFS= read -r line; do
	case $line in log.dirs=* | num.partitions=*) continue ;; esac
	expect_ok "mqfs.conf documents $line" grep -qxF "#$line" "$CONF"
done <"$MQ_TMP/config"

mq_run cat "$MNT/.metrics" >"$MQ_TMP/metrics"
if command -v promtool >/dev/null 2>&1; then
	expect_ok "promtool check metrics" sh -c 'promtool check metrics <"$1"' sh "$MQ_TMP/metrics"
else
	fail "promtool check metrics" "promtool not installed (Debian package prometheus; contrib/install-deps.sh installs it)"
fi
rec0=$(metric 'mqfs_records_in_total{topic="orders"}')
wr0=$(metric 'mqfs_fuse_request_duration_seconds_count{op="write"}')
expect_eq "no record yet" "0" "$rec0"
expect_ok "produce 3 records" sh -c 'printf "a\nb\nc\n" > "$1"' sh "$MNT/orders/0"
mq_run cat "$MNT/.metrics" >"$MQ_TMP/metrics"
expect_eq "records_in_total moved by 3" "3" "$(metric 'mqfs_records_in_total{topic="orders"}')"
expect_eq "high watermark 3" "3" "$(metric 'mqfs_high_watermark{topic="orders",partition="0"}')"
expect_ok "fuse write requests counted" test "$(metric 'mqfs_fuse_request_duration_seconds_count{op="write"}')" -gt "${wr0:-0}"
expect_ok "fuse mkdir counted" test "$(metric 'mqfs_fuse_request_duration_seconds_count{op="mkdir"}')" -ge 1
expect_ok "process RSS reported" test "$(metric mqfs_process_resident_memory_bytes)" -gt 0
expect_ok "open fds reported" test "$(metric mqfs_process_open_fds)" -gt 0
expect_eq "no recovery after a fresh start" "0.000" "$(metric mqfs_recovery_seconds)"
expect_ok "promtool check metrics after writes" sh -c 'promtool check metrics <"$1"' sh "$MQ_TMP/metrics"
umount_t
expect_ok "clean-shutdown marker after umount" test -e "$DATA/.clean-shutdown"

# data= wins over SOURCE; the mount is named after the data directory.
mount_t mqfs "data=$DATA"
expect_ok "data= names the data directory" \
	awk -v d="$DATA" -v m="$MNT" '$1 == d && $2 == m { f = 1 } END { exit !f }' /proc/mounts
expect_eq "records kept across umount" "a b c" "$(mq_run cat "$MNT/orders/0" | tr '\n' ' ' | sed 's/ $//')"
umount_t

# ---- recovery: kill -9, a torn tail, then the log line and the metrics ------
MQFS=$BIN
mq_mount
expect_ok "produce 2 more" sh -c 'printf "d\ne\n" > "$1"' sh "$MNT/orders/0"
logsize=$(stat -c %s "$MNT/orders/.segments/0/00000000000000000000.log")
# kill -9 leaves a dead mount point. Before restarting the unit, systemd
# runs its ExecStartPre commands in order (a leading "-": a failure is
# ignored, any other failure fails the start); /mnt/mqfs/%i stands for
# this mount point. On a dead mount point each must do its part.
kill -KILL "$MQ_PID"
mq_wait "$MQ_PID"
unit_pre_failed=""
while IFS= read -r cmd; do
	case $cmd in
	-*) mq_run sh -c "${cmd#-}" >>"$LOG" 2>&1 ;;
	*) mq_run sh -c "$cmd" >>"$LOG" 2>&1 || unit_pre_failed="$unit_pre_failed [$cmd]" ;;
	esac
done <<EOF
$(sed -n "s|^ExecStartPre=||; T; s|/mnt/mqfs/%i|$MNT|g; p" "$D/usr/local/lib/systemd/system/mqfs@.service")
EOF
expect_eq "the unit's ExecStartPre commands succeed on a dead mount point" "" "$unit_pre_failed"
# The dead mount stays for mqfs to detach once it has recovered (a bare
# directory meanwhile would take writes the new mount then hides).
mounts=$(awk -v m="$MNT" '$2 == m' /proc/mounts | wc -l)
expect_eq "and leave the dead mount to mqfs" 1 "$mounts"
expect_errno "which answers ENOTCONN" ENOTCONN stat "$MNT"
# A torn write: bytes right after the log's end (the file itself may run
# ahead of the log, zeros reserved for the mapped tail).
printf 'torn-tail' | dd of="$DATA/orders-0/00000000000000000000.log" bs=1 seek="$logsize" \
	conv=notrunc status=none
# As systemd's ExecStart: mqfs on the dead mount point, which it detaches
# once it has recovered, just before mounting.
mq_mount
live() { stat "$MNT/orders" >/dev/null 2>&1; }
check "mqfs detaches the dead mount and mounts" poll 30 live
expect_ok "the dead mount was logged" grep -q "was a dead fuse" "$LOG"
expect_ok "recovery logged with the log and the reason" \
	grep -q 'log orders-0: recovered (an unclean shutdown, or index files that did not match the log): .* 9 invalid bytes cut' "$LOG"
mq_run cat "$MNT/.metrics" >"$MQ_TMP/metrics"
expect_eq "last shutdown unclean" "0" "$(metric mqfs_last_shutdown_clean)"
expect_ok "recovered segments counted" test "$(metric 'mqfs_log_recovered_segments{topic="orders",partition="0"}')" -ge 1
expect_eq "torn bytes counted" "9" "$(metric 'mqfs_log_recovery_truncated_bytes{topic="orders",partition="0"}')"
expect_ok "recovery time reported" sh -c 'grep -q "^mqfs_recovery_seconds [0-9.]*$" "$1"' sh "$MQ_TMP/metrics"
expect_eq "acknowledged records survive" "a b c d e" "$(mq_run cat "$MNT/orders/0" | tr '\n' ' ' | sed 's/ $//')"
expect_ok "promtool check metrics after recovery" sh -c 'promtool check metrics <"$1"' sh "$MQ_TMP/metrics"
mq_umount
mq_done
