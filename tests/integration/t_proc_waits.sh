#!/bin/sh
# t_proc_waits.sh — the SECS of tests/proc.sh's waits (proc_wait_exit,
# proc_wait_mounted) are seconds of the clock, not a count of 0.1 s
# ticks: on a loaded machine each tick takes longer, which stretched a
# wait of SECS to several times SECS, though callers report "not mounted
# after SECS s" and hold a daemon to SECS to stop. Here every tick takes
# 0.3 s (proc_tick slowed, as by a loaded machine; sleep never returns
# early): a 1 s wait for a process that keeps running gives up after
# more than 1 s by the clock and fewer than the 10 ticks a count would
# take; a process that exits is reaped with its status. Needs no mount.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

ticks=0
# shellcheck disable=SC2317 # called by proc.sh's waits
proc_tick() {
	ticks=$((ticks + 1))
	sleep 0.3
}

# gives_up WANT CMD...: CMD, a wait of 1 s that nothing ends, returns
# WANT, after more than 1 s by the clock and fewer than 10 slow ticks.
gives_up() {
	_want=$1
	shift
	ticks=0
	t0=$(date +%s)
	"$@"
	rc=$?
	t1=$(date +%s)
	expect_eq "$1: times out" "$_want" "$rc"
	expect_ok "$1: waited more than 1 s by the clock ($((t1 - t0)))" \
		test "$((t1 - t0))" -gt 1
	expect_ok "$1: gave up in fewer than 10 slow ticks ($ticks)" test "$ticks" -lt 10
}

mq_bg sleep 60
live=$MQ_LAST_PID
gives_up 1 proc_wait_exit "$live" 1
gives_up 2 proc_wait_mounted "$MQ_TMP/never" "$live" 1
mq_stop "$live"

sh -c 'exit 3' &
quick=$!
proc_wait_exit "$quick" 30
rc=$?
expect_eq "proc_wait_exit: a process that exits is reaped" "0 3" "$rc $PROC_RC"

mq_done
