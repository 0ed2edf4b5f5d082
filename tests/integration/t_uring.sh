#!/bin/sh
# t_uring.sh — the kernel's io_uring transport (FUSE over io_uring, fs/uring.c)
# on a real mount: requests come through the ring (MNT/.metrics counts them),
# big writes and reads come back byte for byte, more blocked consume reads
# than a ring thread has entries all get their record, a blocking flock is
# granted through its parked entry, kill -9 with reads parked in the ring
# loses nothing, a SIGTERM with a consume read and a flock parked ends them
# as on /dev/fuse (the read with EINTR); enable_uring turned N under a ring mount leaves a request
# unanswered, logged as an error; and /dev/fuse when the transport is off
# (enable_uring N, or -o no_uring), with the reason in the log. Skipped where the kernel has
# no transport or the parameter is not writable (not root); the steps
# with enable_uring N are skipped while another run's mqfs mounts are up.
# integration: alone (enable_uring N would fail the other scripts' ring mounts)
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
PARAM=/sys/module/fuse/parameters/enable_uring
if [ ! -w "$PARAM" ]; then
	skip "io_uring transport" "$PARAM missing or not writable (Linux 6.14+, root)"
	mq_done
fi
WAS=$(cat "$PARAM")
mq_setup
# mq_setup's traps clean the test's own; these put the parameter back too.
t_cleanup() { echo "$WAS" > "$PARAM"; _mq_cleanup "$1"; }
trap 't_cleanup $?' EXIT
trap 't_cleanup 130' INT
trap 't_cleanup 143' TERM
trap 't_cleanup 129' HUP

metric() { sed -n "s/^$1 //p" "$MNT/.metrics"; }
# has_line FILE TEXT: FILE has a line TEXT.
has_line() { grep -qx "$2" "$1" 2>/dev/null; }
ncpu=$(awk -F- '{ print $NF + 1 }' /sys/devices/system/cpu/possible)

echo Y > "$PARAM"
mq_mount
# The mount is visible before the daemon opens its ring, and the kernel
# takes the ring once every queue's thread has registered an entry, after
# FUSE_INIT: both are waited for, not assumed (a slow daemon, under
# ThreadSanitizer, was still on /dev/fuse at the first checks).
check "the log names the transport" poll 30 grep -q "fuse: io_uring transport: $ncpu queues" "$LOG"
ring_serves() { [ "$(metric mqfs_fuse_ring_requests_total)" -gt 0 ] 2>/dev/null; }
check "the ring serves" poll 30 ring_serves
expect_eq "one queue per possible CPU" "$ncpu" "$(metric mqfs_fuse_ring_queues)"
mkdir "$MNT/t"
before=$(metric mqfs_fuse_ring_requests_total)
expect_ok "echo" sh -c 'echo hello > "$1"' sh "$MNT/t/0"
expect_eq "cat" hello "$(mq_run cat "$MNT/t/0")"
after=$(metric mqfs_fuse_ring_requests_total)
expect_ok "requests went through the ring ($before, then $after)" test "$after" -gt "$before"

# fsync waits for the disk with its ring thread unpinned (the disk's
# completions may come on another CPU); the thread pins itself to its
# queue's CPU again once the reply is out (fs/uring.c, "Pinning").
mkdir "$MNT/s"
unpins=$(metric mqfs_fuse_ring_unpinned_total)
i=0
while [ "$i" -lt 20 ]; do
	printf 'synced %d\n' "$i" | dd of="$MNT/s/0" oflag=append conv=notrunc,fsync status=none ||
		break
	i=$((i + 1))
done
expect_eq "20 writes, each with its fsync" 20 "$i"
expect_ok "the fsyncs unpinned their ring threads ($unpins, then $(metric mqfs_fuse_ring_unpinned_total))" \
	test "$(metric mqfs_fuse_ring_unpinned_total)" -ge $((unpins + 20))
# ring_pinned: every mqfs-ringN thread of the daemon may run on CPU N only
# (an offline CPU's threads are never pinned).
ring_pinned() {
	for _t in /proc/"$MQ_PID"/task/*; do
		_c=$(cat "$_t/comm" 2>/dev/null) || continue
		case $_c in mqfs-ring*) ;; *) continue ;; esac
		_q=${_c#mqfs-ring}
		grep -q "^$_q\$" /sys/devices/system/cpu/online 2>/dev/null ||
			awk -F- -v q="$_q" '{ exit !(q >= $1 && q <= $NF) }' /sys/devices/system/cpu/online ||
			continue
		[ "$(sed -n 's/^Cpus_allowed_list:[[:space:]]*//p' "$_t/status")" = "$_q" ] || return 1
	done
}
check "every ring thread is pinned to its CPU again" poll 10 ring_pinned
# So do a write through an O_DSYNC descriptor and a write that
# flush.messages=1 syncs: each sleeps in an fdatasync.
unpins=$(metric mqfs_fuse_ring_unpinned_total)
echo 'dsync' | dd of="$MNT/s/0" oflag=append,dsync conv=notrunc status=none
echo 'flush.messages=1' > "$MNT/s/.config"
echo 'flushed' >> "$MNT/s/0"
expect_ok "an O_DSYNC write and a flush.messages write unpinned too ($unpins, then $(metric mqfs_fuse_ring_unpinned_total))" \
	test "$(metric mqfs_fuse_ring_unpinned_total)" -ge $((unpins + 2))
check "and the threads are pinned again" poll 10 ring_pinned
expect_eq "the synced records" "22 synced 0 flushed" \
	"$(mq_run cat "$MNT/s/0" | awk 'NR == 1 { f = $0 } END { print NR, f, $0 }')"

# 4 MiB of lines in 1 MiB writes, read back whole and with small reads.
seq 1 600000 > "$MQ_TMP/big"
mkdir "$MNT/big"
expect_ok "dd bs=1M" dd if="$MQ_TMP/big" of="$MNT/big/0" bs=1M status=none
mq_run cat "$MNT/big/0" > "$MQ_TMP/got"
expect_same "cat gives the 1 MiB writes back" "$MQ_TMP/big" "$MQ_TMP/got"
mq_run dd if="$MNT/big/0" bs=4k status=none > "$MQ_TMP/got4k"
expect_same "and so do 4 KiB reads" "$MQ_TMP/big" "$MQ_TMP/got4k"

# More parked reads than a ring thread starts with: each group's consume
# read waits in its ring entry until the record comes.
mkdir "$MNT/w"
i=1
while [ "$i" -le 12 ]; do
	mkdir "$MNT/w/.groups/g$i"
	mq_bg sh -c 'exec head -n 1 "$1" > "$2"' sh "$MNT/w/.groups/g$i/consume" "$MQ_TMP/c$i"
	eval "C_$i=\$MQ_LAST_PID"
	i=$((i + 1))
done
# Each reader is parked when its group has a member.
members_in() { grep -q '^members 1$' "$MNT/w/.groups/$1/.state" 2>/dev/null; }
all_members() {
	_i=1
	while [ "$_i" -le 12 ]; do members_in "g$_i" || return 1; _i=$((_i + 1)); done
}
check "12 consume reads are waiting" poll 30 all_members
expect_ok "a write while they wait" sh -c 'echo ring-record > "$1"' sh "$MNT/w/0"
i=1
while [ "$i" -le 12 ]; do
	eval "mq_wait \$C_$i 30"
	expect_eq "consume read $i got the record" ring-record "$(cat "$MQ_TMP/c$i")"
	i=$((i + 1))
done

# A blocking flock waits in its entry and is granted when the holder lets go.
exec 3>>"$MNT/w/0"
expect_ok "flock -x held" flock -x -n 3
mq_bg flock -x "$MNT/w/0" sh -c 'echo granted > "$1"' sh "$MQ_TMP/flk"
FLK=$MQ_LAST_PID
blocked() { [ "$(awk '{ print $3 }' "/proc/$FLK/stat" 2>/dev/null)" = S ] && [ ! -s "$MQ_TMP/flk" ]; }
check "the second flock waits" poll 10 blocked
expect_ok "flock -u" flock -u 3
exec 3>&-
mq_wait "$FLK" 30
expect_eq "the waiting flock is granted" granted "$(cat "$MQ_TMP/flk" 2>/dev/null)"

# kill -9 with reads parked in the ring: the mount dies, a remount has
# every record written before.
mkdir "$MNT/w/.groups/k"
mq_bg sh -c 'exec cat "$1" > /dev/null' sh "$MNT/w/.groups/k/consume"
K=$MQ_LAST_PID
check "a consume read parked" poll 30 members_in k
mq_kill9
mq_wait "$K" 30
mq_mount
expect_eq "after kill -9: the records" "hello" "$(mq_run cat "$MNT/t/0")"
mq_run cat "$MNT/big/0" > "$MQ_TMP/got"
expect_same "after kill -9: the 1 MiB writes" "$MQ_TMP/big" "$MQ_TMP/got"

# A daemon stopped (SIGTERM) with a consume read and a flock parked answers
# them EINTR (fs_groups_shutdown, fs_locks_shutdown); on the ring those
# replies must reach the kernel before the ring closes, or the callers get
# the kernel's ECONNABORTED: the callers see what they see on /dev/fuse.
# perl's sysread and flock, unlike cat and flock(1), print the errno (a
# flock's EINTR comes back from the kernel as ERESTARTSYS, 512).
stop_parked() { # NAME: the mount up stops; $MQ_TMP/NAME says what each call got
	# (a new topic sNAME: the read has no record to return)
	mkdir "$MNT/s$1" "$MNT/s$1/.groups/g"
	rm -f "$MQ_TMP/st.open" "$MQ_TMP/sf.open"
	mq_bg sh -c 'exec perl -e '\''open(my $f, "<", $ARGV[0]) or die "$!\n";
		open(my $o, ">", $ARGV[1]) and close($o);
		my $n = sysread($f, my $b, 4096);
		print defined $n ? "read $n\n" : errno_name() . "\n";
		sub errno_name { my $e = $! + 0; (grep { $!{$_} } keys %!)[0] // $e }'\'' "$1" "$3" > "$2" 2>/dev/null' \
		sh "$MNT/s$1/.groups/g/consume" "$MQ_TMP/st" "$MQ_TMP/st.open"
	_sr=$MQ_LAST_PID
	exec 3>>"$MNT/s$1/0"
	flock -x -n 3 || fail "stop: flock -x held" "refused"
	# (it says when its open is done: asleep before that, it may be
	# waiting for the open's answer, and a stop then fails the open)
	mq_bg sh -c 'exec perl -e '\''use Fcntl ":flock";
		open(my $f, ">>", $ARGV[0]) or die "$!\n";
		open(my $o, ">", $ARGV[1]) and close($o);
		print flock($f, LOCK_EX) ? "granted\n" : errno_name() . "\n";
		sub errno_name { my $e = $! + 0; (grep { $!{$_} } keys %!)[0] // $e }'\'' "$1" "$3" > "$2" 2>/dev/null' \
		sh "$MNT/s$1/0" "$MQ_TMP/sf" "$MQ_TMP/sf.open"
	_sf=$MQ_LAST_PID
	check "$1: a consume read parked" poll 30 read_waits "$_sr" "$MNT/s$1/.groups/g/.state"
	check "$1: a flock waits" poll 10 flock_waits "$_sf"
	kill -TERM "$MQ_PID"
	mq_wait "$MQ_PID" "$MQ_MOUNT_WAIT"
	expect_eq "$1: the daemon stops cleanly" 0 "$MQ_RC"
	mq_wait "$_sr" 30
	mq_wait "$_sf" 30
	exec 3>&-
	echo "read $(cat "$MQ_TMP/st") flock $(cat "$MQ_TMP/sf")" > "$MQ_TMP/$1"
}
blocked_pid() { [ "$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null)" = S ]; }
flock_waits() { [ -e "$MQ_TMP/sf.open" ] && blocked_pid "$1"; }
read_waits() { # PID STATE: opened (a member), then asleep in its read
	[ -e "$MQ_TMP/st.open" ] && grep -q "^members 1$" "$2" && blocked_pid "$1"
}
stop_parked ring
mq_mount -o no_uring
stop_parked devfuse
expect_eq "SIGTERM on /dev/fuse: the parked read gets EINTR" "read EINTR" \
	"$(cut -d' ' -f1-2 "$MQ_TMP/devfuse")"
expect_eq "SIGTERM on the ring: the parked calls end as on /dev/fuse" "$(cat "$MQ_TMP/devfuse")" \
	"$(cat "$MQ_TMP/ring")"

# -o no_uring: /dev/fuse, with the transport on.
mq_mount -o no_uring
expect_eq "-o no_uring: no queues" 0 "$(metric mqfs_fuse_ring_queues)"
expect_ok "-o no_uring: echo" sh -c 'echo two >> "$1"' sh "$MNT/t/0"
expect_eq "-o no_uring: cat" "hello
two" "$(mq_run cat "$MNT/t/0")"
expect_eq "-o no_uring: nothing through the ring" 0 "$(metric mqfs_fuse_ring_requests_total)"
mq_umount

# enable_uring is the machine's: turned N, it leaves the requests of
# every ring mount on the machine unanswered, those of other runs too
# (another checkout's make test, a second run.sh), whose scripts then hang
# until their timeout. "integration: alone" keeps this run's other
# scripts away, not another run's: with an mqfs mount outside this
# script's temporary directory, the steps that turn it N are skipped.
others_mounted() {
	awk -v t="$MQ_TMP/" '$3 ~ /^fuse\.mqfs/ && index($2, t) != 1 { f = 1 } END { exit !f }' \
		/proc/mounts
}
if others_mounted; then
	skip "enable_uring N under a ring mount, and the transport off" \
		"mqfs mounts of another run on this machine, whose requests would get no answer"
else
	# The transport turned off under a ring mount: the kernel refuses the ring's
	# commands, so a request made then gets no answer, and the log says why;
	# only the daemon's end ends its caller's wait.
	echo Y > "$PARAM"
	mq_mount
	expect_eq "a ring mount: cat" "hello
two" "$(mq_run cat "$MNT/t/0")"
	echo N > "$PARAM"
	mq_bg sh -c 'exec cat "$1" >/dev/null 2>&1' sh "$MNT/t/0"
	C=$MQ_LAST_PID
	check "enable_uring N under a ring mount: the log says why" poll 10 grep -q \
		"ERROR fuse: the kernel refuses io_uring commands: .*enable_uring was set to N while this mount uses the ring" "$LOG"
	expect_ok "and the read waits" kill -0 "$C"
	echo Y > "$PARAM"
	mq_kill9
	mq_wait "$C" 30
	expect_eq "the daemon gone, the read ends with an error" 1 "$MQ_RC"

	# The transport off: /dev/fuse, and the log says why.
	echo N > "$PARAM"
	mq_mount
	expect_ok "off: the log says why" grep -q "io_uring transport is off" "$LOG"
	expect_eq "off: no queues" 0 "$(metric mqfs_fuse_ring_queues)"
	expect_ok "off: echo" sh -c 'echo three >> "$1"' sh "$MNT/t/0"
	expect_eq "off: cat" "hello
two
three" "$(mq_run cat "$MNT/t/0")"
	mq_umount
fi
mq_done
