# shellcheck shell=sh
# tests/proc.sh — process and mount primitives shared by the integration
# test harness (tests/integration/lib.sh) and the benchmark harness
# (contrib/bench/lib.sh). POSIX sh; sourced, never run.
#
#   proc_list_add VAR WORD     append WORD to the space-separated list in VAR
#   proc_list_del VAR WORD     remove WORD from it
#   proc_tick                  sleep a tenth of a second
#   proc_alive PID             0 while a thread of PID runs (a zombie does
#                              not count)
#   proc_wait_exit PID SECS    wait up to SECS for PID to exit, then reap it;
#                              PROC_RC := its exit status; 1 on timeout
#   proc_threads PID           each thread's state and wait channel (text)
#   proc_is_mounted DIR        0 if DIR is a mountpoint, from /proc/mounts
#                              (never touches the mount: a hung FUSE daemon
#                              would hang stat())
#   proc_unmount DIR [SECS]    fusermount3 -u, else lazy -uz, else umount -l,
#                              each bounded by SECS (10); 0 once unmounted
#   proc_wait_mounted DIR PID SECS
#                              poll until DIR is mounted: 0; 1 if PID exited
#                              first; 2 on timeout
#   proc_mounts_under DIR      0 if anything is mounted below DIR/
#
# SECS of a wait are seconds of the clock (`date +%s`), not a count of
# ticks, which a loaded machine stretches: a caller may report "not
# mounted after SECS s" or hold a process to SECS to stop. A wait gives
# up once more than SECS whole seconds have passed (SECS to SECS + 1).
# Variables of these functions start with _p, clear of the callers'.

proc_list_add() {
	eval "$1=\"\$$1 \$2\""
}

proc_list_del() {
	_pl=""
	_psrc=""
	eval "_psrc=\$$1"
	for _pw in $_psrc; do
		[ "$_pw" = "$2" ] || _pl="$_pl $_pw"
	done
	eval "$1=\$_pl"
}

proc_tick() {
	sleep 0.1 2>/dev/null || sleep 1
}

# Every thread counts: a process's first thread that has ended is a
# zombie while the others still run (a daemon's threads that a SIGKILL
# has not ended yet, one stuck in the kernel), and the wait that reaps
# the process blocks until the last of them ends, with no bound.
proc_alive() {
	[ -r "/proc/$1/stat" ] || return 1
	# The state is the first field after "(comm) "; comm may hold spaces.
	cat /proc/"$1"/task/*/stat 2>/dev/null |
		awk '{ sub(/.*\) /, ""); if ($1 != "Z" && $1 != "X") a = 1 } END { exit !a }'
}

# 0 while the deadline _pend (seconds of `date +%s`) has not passed.
_proc_before() {
	[ "$(date +%s)" -le "$_pend" ]
}

# What each thread of PID is doing, one line each ("tid comm state
# wchan"), and the kernel stack where readable: why a process did not
# end, for a failure's message.
proc_threads() {
	for _ptd in /proc/"$1"/task/*; do
		[ -r "$_ptd/stat" ] || continue
		echo "${_ptd##*/} $(cat "$_ptd/comm" 2>/dev/null)" \
			"$(sed 's/.*) //' "$_ptd/stat" 2>/dev/null | cut -d' ' -f1)" \
			"$(cat "$_ptd/wchan" 2>/dev/null)"
		head -n 8 "$_ptd/stack" 2>/dev/null | sed 's/^/    /'
	done
}

proc_wait_exit() {
	_pend=$(($(date +%s) + $2))
	while proc_alive "$1"; do
		_proc_before || return 1
		proc_tick
	done
	wait "$1" 2>/dev/null && PROC_RC=0 || PROC_RC=$?
	return 0
}

# /proc/mounts writes a space, tab, newline and backslash in a path as
# octal escapes (\040, \011, \012, \134): undone before comparing.
proc_is_mounted() {
	awk -v m="$1" '{ p = $2; gsub(/\\040/, " ", p); gsub(/\\011/, "\t", p)
		gsub(/\\012/, "\n", p); gsub(/\\134/, "\\", p) }
		p == m { found = 1 } END { exit !found }' /proc/mounts
}

proc_unmount() {
	proc_is_mounted "$1" || return 0
	_pt=${2:-10}
	timeout -k 5 "$_pt" fusermount3 -u "$1" 2>/dev/null ||
		timeout -k 5 "$_pt" fusermount3 -uz "$1" 2>/dev/null ||
		umount -l "$1" 2>/dev/null
	! proc_is_mounted "$1"
}

proc_wait_mounted() {
	_pend=$(($(date +%s) + $3))
	while ! proc_is_mounted "$1"; do
		proc_alive "$2" || return 1
		_proc_before || return 2
		proc_tick
	done
	return 0
}

proc_mounts_under() {
	awk -v t="$1/" 'index($2, t) == 1 { f = 1 } END { exit !f }' /proc/mounts
}
