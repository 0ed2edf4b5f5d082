#!/bin/sh
# t_proc_waits.sh — the SECS of tests/proc.sh's waits (proc_wait_exit,
# proc_wait_mounted) are seconds of the clock, not a count of 0.1 s
# ticks: on a loaded machine each tick takes longer, which stretched a
# wait of SECS to several times SECS, though callers report "not mounted
# after SECS s" and hold a daemon to SECS to stop. Here every tick takes
# 0.3 s (proc_tick slowed, as by a loaded machine; sleep never returns
# early): a 1 s wait for a process that keeps running gives up after
# more than 1 s by the clock and fewer than the 10 ticks a count would
# take; so does one for a process whose first thread ended while another
# runs; a process that exits is reaped with its status. lib.sh's mq_wait
# that runs out leaves MQ_RC empty, not an earlier wait's status, which a
# check of the timed-out process's exit status would have taken for its
# own. Needs no mount.

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

# A process whose first thread has ended (a zombie) while another runs,
# as a killed daemon with a thread not ended yet: still running, so the
# wait gives up at its time rather than block in the reaping wait until
# the last thread ends (20 s here). python3's own interpreter: a shim
# (pyenv) would be the process instead.
PY=$(python3 -c 'import sys; print(sys.executable)')
mq_bg "$PY" -c 'import ctypes, threading, time
threading.Thread(target=time.sleep, args=(20,)).start()
ctypes.CDLL(None).pthread_exit(None)'
half=$MQ_LAST_PID
first_gone() { [ "$(sed 's/.*) //' "/proc/$half/stat" | cut -d' ' -f1)" = Z ]; }
check "a process whose first thread ended" poll 10 first_gone
gives_up 1 proc_wait_exit "$half" 1
kill -KILL "$half"
proc_wait_exit "$half" 10
expect_eq "and reaped once its last thread ended" "0 137" "$? $PROC_RC"

sh -c 'exit 3' &
quick=$!
proc_wait_exit "$quick" 30
rc=$?
expect_eq "proc_wait_exit: a process that exits is reaped" "0 3" "$rc $PROC_RC"

mq_bg true
mq_wait "$MQ_LAST_PID" 30
expect_eq "mq_wait: the exit status" 0 "$MQ_RC"
mq_bg sleep 60
mq_wait "$MQ_LAST_PID" 1
expect_eq "mq_wait that runs out: no exit status, not the last wait's" "1 " "$? $MQ_RC"
mq_stop "$MQ_LAST_PID"

mq_done
