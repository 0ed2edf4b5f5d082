# shellcheck shell=sh
# tests/integration/lib.sh — harness for mqfs integration tests.
# POSIX sh (works under dash and bash). Source it from a test script:
#
#   #!/bin/sh
#   . "$(dirname "$0")/lib.sh"
#   mq_setup                      # temp dir, $MNT $DATA $LOG, cleanup trap
#   mq_mount                      # $MQFS -f --data $DATA $MNT, waits for it
#   expect_ok    "mkdir topic"    mkdir "$MNT/orders"
#   expect_eq    "partitions"     "0" "$(ls "$MNT/orders")"
#   expect_errno "no unlink" EPERM rm -f "$MNT/orders/0"
#   check        "ready"          poll 10 some_shell_function
#   mq_umount
#   mq_done                       # "<script>: N passed, M failed"; exit status
#
# Variables set by mq_setup:
#   MQ_TMP   the test's private temp dir (/tmp/mqfs-it.XXXXXX), removed at exit
#   MNT      $MQ_TMP/mnt    (created, empty)
#   DATA     $MQ_TMP/data   (created, empty)
#   LOG      $MQ_TMP/daemon.log  (stdout+stderr of every mounted daemon)
#   MQ_NAME  the script's name, used in the summary line
# Set by mq_mount / mq_mount_cmd:
#   MQ_PID   pid of the daemon just started (the default for mq_umount/mq_kill9)
# Set by mq_mount_listener:
#   PORT     the Kafka listener's port;  B  its address, 127.0.0.1:PORT
# Set by mq_umount / mq_kill9 / mq_wait:
#   MQ_RC    exit status of the process that was waited for
# Set by mq_bg:
#   MQ_LAST_PID  pid of the background command
# Settings (environment, optional):
#   MQFS            the mqfs binary (run.sh exports it as an absolute path)
#   MQ_TIMEOUT      seconds for commands run by expect_*/mq_run (default 30)
#   MQ_MOUNT_WAIT   seconds to wait for a mount / a daemon exit (default 30)
#
# Rules: call the harness functions in the script's own shell, not inside
# $(...), a pipeline or ( ... ): counters, tracked pids and mounts live in
# shell variables. Only pids started through mq_mount*, mq_bg are ever killed.
# Wrap anything that touches the mount and could block in mq_run (or an
# expect_*): a shell runs its traps only after the foreground command ends.
# Do not `set -e`: a failed check must not end the script (lib.sh copes with
# it, but the remaining checks would not run).

MQ_PASS=0
MQ_FAIL=0
MQ_SKIP=0
MQ_PIDS=""        # every tracked pid still to reap (daemons and mq_bg)
MQ_DAEMONS=""     # subset: daemons (killed last, after unmounting)
MQ_MOUNTS=""      # mountpoints we mounted
MQ_PID=""
MQ_RC=""
MQ_LAST_PID=""
MQ_TMP=""
MQ_TIMEOUT=${MQ_TIMEOUT:-30}
# The deadline for a mount to answer and for a daemon to exit after its
# unmount: a daemon stops in well under a second, but with the scripts
# running two at a time on a loaded machine (a load average of 9 on two
# cores) one was seen taking more than 10 s to leave its FUSE loop.
MQ_MOUNT_WAIT=${MQ_MOUNT_WAIT:-30}
MQ_NAME=$(basename "$0")

# ---- small internals -------------------------------------------------------

# LIBDIR: this folder, as the test scripts set it before sourcing lib.sh.
. "${LIBDIR:-$(dirname "$0")}/../proc.sh"

_mq_add() { proc_list_add "$@"; }
_mq_del() { proc_list_del "$@"; }
_mq_tick() { proc_tick; }
_mq_alive() { proc_alive "$1"; }

# Wait up to $2 seconds for PID $1 to exit, then reap it. Sets MQ_RC.
# Returns 0 if it exited (or was already gone), 1 on timeout.
_mq_wait_exit() {
	proc_wait_exit "$1" "$2" || return 1
	MQ_RC=$PROC_RC
	_mq_del MQ_PIDS "$1"
	_mq_del MQ_DAEMONS "$1"
	return 0
}

# Kill a tracked pid: TERM, up to $2 seconds grace, then KILL; reap it.
_mq_stop() {
	if _mq_alive "$1"; then
		kill -TERM "$1" 2>/dev/null
		_mq_wait_exit "$1" "${2:-5}" && return 0
		echo "# harness: pid $1 ignored SIGTERM, sending SIGKILL"
		kill -KILL "$1" 2>/dev/null
	fi
	_mq_wait_exit "$1" 5
}

mq_is_mounted() { proc_is_mounted "$1"; }
_mq_unmount() { proc_unmount "$1" 10; }

_mq_cleanup() {
	_mq_rc=${1:-0}
	trap - EXIT INT TERM HUP PIPE
	# 0. a script ended by a signal (run.sh's timeout sends TERM) said
	# nothing of what it waited for: the daemons' last errors and
	# warnings, before the stop adds its own (a mount whose requests get
	# no answer, a broker that cannot reach another, ...).
	if [ "$_mq_rc" -ge 128 ] && [ -n "$LOG" ] && [ -s "$LOG" ]; then
		echo "# harness: ended by a signal; the daemons' last errors and warnings:"
		grep ' ERROR ' "$LOG" | tail -n 10 | sed 's/^/#   /'
		grep ' WARN ' "$LOG" | tail -n 10 | sed 's/^/#   /'
	fi
	# 1. background commands (readers blocked on the mount go first)
	for _mq_p in $MQ_PIDS; do
		case " $MQ_DAEMONS " in *" $_mq_p "*) continue ;; esac
		_mq_stop "$_mq_p" 3
	done
	# 2. unmount; the daemons then exit by themselves
	for _mq_m in $MQ_MOUNTS; do
		_mq_unmount "$_mq_m" || echo "# harness: could not unmount $_mq_m"
	done
	# 3. daemons, then anything left
	for _mq_p in $MQ_DAEMONS $MQ_PIDS; do
		_mq_stop "$_mq_p" "$MQ_MOUNT_WAIT"
	done
	# 4. a sanitizer's report in the daemons' log (make asan's builds
	# print UBSan's there; ASan's too unless run.sh's SANITIZER_DIR sends
	# them to files) fails the script: a daemon that leaked or misbehaved
	# at unmount has no check left to fail, and nothing reads its status.
	_mq_san='runtime error: |ERROR: (AddressSanitizer|LeakSanitizer)'
	if [ -n "$LOG" ] && grep -qE "$_mq_san" "$LOG" 2>/dev/null; then
		echo "FAIL - a sanitizer report in $LOG:"
		grep -E -A 12 "$_mq_san" "$LOG" | head -n 200 | sed 's/^/    | /'
		[ "$_mq_rc" -eq 0 ] && _mq_rc=1
	fi
	# 5. the temp dir — never while something is still mounted inside it.
	# With MQ_KEEP_LOGS=DIR a failed script's logs and outputs (the
	# files directly in the temp dir, no data) are copied there first.
	if [ -n "$MQ_KEEP_LOGS" ] && [ "$_mq_rc" -ne 0 ] && [ -n "$MQ_TMP" ]; then
		_mq_keep=$MQ_KEEP_LOGS/$(basename "$0" .sh).$$
		mkdir -p "$_mq_keep" &&
			find "$MQ_TMP" -maxdepth 2 -type f \( -name '*.log' -o -name '*.out' \) \
				-exec cp {} "$_mq_keep/" \; 2>/dev/null
		echo "# harness: logs kept in $_mq_keep"
	fi
	if [ -n "$MQ_TMP" ] && [ -d "$MQ_TMP" ]; then
		if proc_mounts_under "$MQ_TMP"; then
			echo "# harness: mounts left under $MQ_TMP, not removing it"
		else
			rm -rf "$MQ_TMP"
		fi
	fi
	exit "$_mq_rc"
}

# ---- setup -----------------------------------------------------------------

# mq_setup — create the temp dir, set MNT DATA LOG, install the cleanup trap.
mq_setup() {
	MQ_TMP=$(mktemp -d /tmp/mqfs-it.XXXXXX) || { echo "mq_setup: mktemp failed"; exit 1; }
	MQ_TMP=$(cd "$MQ_TMP" && pwd -P)
	MNT=$MQ_TMP/mnt
	DATA=$MQ_TMP/data
	LOG=$MQ_TMP/daemon.log
	mkdir -p "$MNT" "$DATA" && : >"$LOG" || exit 1
	trap '_mq_cleanup $?' EXIT
	trap '_mq_cleanup 130' INT
	trap '_mq_cleanup 143' TERM
	trap '_mq_cleanup 129' HUP
	trap '_mq_cleanup 141' PIPE      # output piped into head, etc.
}

# mq_private_mounts ARGS... — called with the script's "$@" before
# mq_setup by a script that mounts what the host must not see (a bind over
# /usr/local, over /dev/fuse): runs the script again in a private mount
# namespace (unshare -m), which it never leaves. There, MQ_PRIVATE_NS is 1;
# where unshare is not permitted the script goes on with it "none".
mq_private_mounts() {
	if [ -z "$MQ_PRIVATE_NS" ]; then
		if unshare --mount --propagation private true 2>/dev/null; then
			MQ_PRIVATE_NS=1 exec unshare --mount --propagation private sh "$0" "$@"
		fi
		MQ_PRIVATE_NS=none
	fi
}

# mq_second_user — after mq_setup, in a script run as root: adds a user of
# the script's own (useradd -M, with its own group), removed however the
# script ends, and sets U (its name), UID2, GID2 and AS, the prefix that
# runs a program as that user with its own group only. MQ_TMP becomes
# 0755, so that the user reaches the mount point. Without the tools or
# root, records why and ends the script.
mq_second_user() {
	for _mq_tool in useradd userdel setpriv; do
		if ! command -v "$_mq_tool" >/dev/null 2>&1; then
			fail "tools" "$_mq_tool not found (Debian packages passwd, util-linux)"
			mq_done
		fi
	done
	[ "$(id -u)" = 0 ] || { skip "two users" "needs root to add a user"; mq_done; }
	U=mqfs-it-$$
	if ! useradd -M --shell /usr/sbin/nologin --user-group "$U" 2>>"$LOG"; then
		fail "useradd $U" "see $LOG"
		mq_done
	fi
	# _mq_cleanup unmounts, stops the daemons, removes MQ_TMP and exits.
	# shellcheck disable=SC2154 # _rc is set by the trap's own text
	trap '_rc=$?; userdel "$U" 2>/dev/null; _mq_cleanup $_rc' EXIT
	trap 'userdel "$U" 2>/dev/null; _mq_cleanup 130' INT
	trap 'userdel "$U" 2>/dev/null; _mq_cleanup 143' TERM
	trap 'userdel "$U" 2>/dev/null; _mq_cleanup 129' HUP
	UID2=$(id -u "$U")
	GID2=$(id -g "$U")
	# shellcheck disable=SC2034 # read by the scripts
	AS="setpriv --reuid=$UID2 --regid=$GID2 --clear-groups --"
	chmod 0755 "$MQ_TMP"
}

# ---- daemons ---------------------------------------------------------------

# mq_mount_cmd MOUNTPOINT CMD [ARGS...] — start CMD (a foreground FUSE daemon
# that mounts MOUNTPOINT) in the background, output appended to $LOG; wait up
# to MQ_MOUNT_WAIT s for MOUNTPOINT to appear in /proc/mounts. Sets MQ_PID.
# On failure (daemon exits, or timeout) records a failure with the log and
# ends the script (mq_done): nothing after a failed mount is meaningful.
# On a dead mount point /proc/mounts lists it already: the caller waits for
# the mount point to answer.
mq_mount_cmd() {
	_mq_mnt=$1
	shift
	# On a dead mount (ENOTCONN) mkdir fails: mqfs detaches it itself.
	mkdir -p "$_mq_mnt" 2>/dev/null || :
	echo "# mount: $* (log $LOG)" >>"$LOG"
	"$@" >>"$LOG" 2>&1 </dev/null &
	MQ_PID=$!
	_mq_add MQ_PIDS "$MQ_PID"
	_mq_add MQ_DAEMONS "$MQ_PID"
	_mq_add MQ_MOUNTS "$_mq_mnt"
	proc_wait_mounted "$_mq_mnt" "$MQ_PID" "$MQ_MOUNT_WAIT"
	case $? in
	1)	_mq_wait_exit "$MQ_PID" 1
		fail "mount $_mq_mnt" "daemon exited with status $MQ_RC before mounting"
		mq_done ;;
	2)	fail "mount $_mq_mnt" "not mounted after ${MQ_MOUNT_WAIT}s"
		mq_done ;;
	esac
	return 0
}

# mq_mount [ARGS...] — mount mqfs: $MQFS -f --data $DATA ARGS... $MNT.
mq_mount() {
	if [ -z "$MQFS" ] || [ ! -x "$MQFS" ]; then
		fail "mount" "MQFS is not an executable: '${MQFS}'"
		mq_done
	fi
	mq_mount_cmd "$MNT" "$MQFS" -f --data "$DATA" "$@" "$MNT"
}

# mq_mount_listener [SETTING...] — mount a single node with a Kafka
# listener: PORT a free port (zk_free_port: the script sources tests/zk.sh
# too), B its address (127.0.0.1:PORT), $MQ_TMP/server.properties the
# line listeners=PLAINTEXT://B and each SETTING ("key=value") a line,
# mounted with it (mq_mount --config). A restart mounts that file again.
mq_mount_listener() {
	PORT=$(zk_free_port)
	B=127.0.0.1:$PORT
	{
		printf 'listeners=PLAINTEXT://%s\n' "$B"
		for _mq_set in "$@"; do
			printf '%s\n' "$_mq_set"
		done
	} >"$MQ_TMP/server.properties"
	mq_mount --config "$MQ_TMP/server.properties"
}

# mq_umount [MOUNTPOINT [PID]] — fusermount3 -u (default $MNT) and wait up to
# MQ_MOUNT_WAIT s for the daemon (default $MQ_PID) to exit; MQ_RC = its exit
# status. Returns 0 on success. On failure records a failure (and, if the
# daemon does not exit, kills it with SIGKILL) and returns 1.
mq_umount() {
	_mq_um=${1:-$MNT}
	_mq_up=${2:-$MQ_PID}
	MQ_RC=""
	if ! _mq_err=$(timeout -k 5 "$MQ_MOUNT_WAIT" fusermount3 -u "$_mq_um" 2>&1); then
		fail "umount $_mq_um" "fusermount3 -u: $_mq_err"
		return 1
	fi
	_mq_del MQ_MOUNTS "$_mq_um"
	[ -n "$_mq_up" ] || return 0
	if ! _mq_wait_exit "$_mq_up" "$MQ_MOUNT_WAIT"; then
		fail "umount $_mq_um" "daemon $_mq_up still running ${MQ_MOUNT_WAIT}s after unmount; killing it"
		kill -KILL "$_mq_up" 2>/dev/null
		_mq_wait_exit "$_mq_up" 5
		return 1
	fi
	return 0
}

# mq_kill9 [MOUNTPOINT [PID]] — crash the daemon (default $MQ_PID): SIGKILL,
# reap it (MQ_RC = 137), then remove the dead mount (fusermount3 -u, else
# -uz). Returns 1 (and records a failure) if the mount cannot be removed.
mq_kill9() {
	_mq_km=${1:-$MNT}
	_mq_kp=${2:-$MQ_PID}
	if [ -n "$_mq_kp" ]; then
		kill -KILL "$_mq_kp" 2>/dev/null
		_mq_wait_exit "$_mq_kp" "$MQ_MOUNT_WAIT" ||
			fail "kill9" "pid $_mq_kp did not die from SIGKILL; its threads:
$(proc_threads "$_mq_kp")"
	fi
	if ! _mq_unmount "$_mq_km"; then
		fail "kill9 $_mq_km" "stale mount could not be removed"
		return 1
	fi
	_mq_del MQ_MOUNTS "$_mq_km"
	return 0
}

# mq_bg CMD [ARGS...] — run CMD in the background, tracked for cleanup
# (SIGTERM, then SIGKILL at exit). Sets MQ_LAST_PID. Redirect inside the
# command if needed:  mq_bg sh -c 'exec cat "$1" > "$2"' sh "$MNT/t/0" "$MQ_TMP/out"
mq_bg() {
	"$@" &
	MQ_LAST_PID=$!
	_mq_add MQ_PIDS "$MQ_LAST_PID"
}

# mq_wait PID [SECONDS] — wait (default MQ_TIMEOUT s) for a tracked
# background pid to exit; MQ_RC = its exit status. Returns 1 on timeout
# (the process keeps running and stays tracked) with MQ_RC empty: a check
# of MQ_RC after a wait that ran out fails, where the status of an
# earlier wait (often 0) would have passed it.
mq_wait() {
	MQ_RC=""
	_mq_wait_exit "$1" "${2:-$MQ_TIMEOUT}"
}

# mq_stop PID — SIGTERM a tracked pid (SIGKILL after 5 s) and reap it.
mq_stop() {
	_mq_stop "$1" 5
}

# mq_run CMD [ARGS...] — run CMD under `timeout` (MQ_TIMEOUT s, then SIGKILL
# 5 s later). Exit status 124 means it timed out. CMD must be a program,
# not a shell function: use  mq_run sh -c '...'  for redirections.
mq_run() {
	timeout -k 5 "$MQ_TIMEOUT" "$@"
}

# poll SECONDS CMD...: runs CMD (a shell function too) every 0.1 s until it
# succeeds (0) or the deadline passes (1): what to wait for, never a sleep.
poll() {
	_mq_end=$(($(date +%s) + $1))
	shift
	until "$@"; do
		[ "$(date +%s)" -ge "$_mq_end" ] && return 1
		sleep 0.1
	done
}

# ---- assertions ------------------------------------------------------------
# Every assertion prints exactly one "ok - NAME" or "FAIL - NAME: ..." line
# (failures are followed by indented details and the tail of $LOG).

ok() {
	MQ_PASS=$((MQ_PASS + 1))
	echo "ok - $1"
}

# fail NAME MESSAGE — record a failure, print MESSAGE and the daemon log tail.
fail() {
	MQ_FAIL=$((MQ_FAIL + 1))
	echo "FAIL - $1: $2"
	if [ -n "$LOG" ] && [ -s "$LOG" ]; then
		echo "    --- last lines of $LOG:"
		tail -n "${MQ_LOG_LINES:-20}" "$LOG" | sed 's/^/    | /'
	fi
}

# skip NAME REASON — a check that could not run; counted separately.
skip() {
	MQ_SKIP=$((MQ_SKIP + 1))
	echo "skip - $1: $2"
}

# check NAME CMD...: ok when CMD, a shell function too (which expect_ok,
# running programs under `timeout`, cannot run), succeeds. A CMD that waits
# polls with its own deadline (poll).
check() {
	_mq_cn=$1
	shift
	if "$@"; then ok "$_mq_cn"; else fail "$_mq_cn" "'$*' did not succeed"; fi
}

# expect_eq NAME EXPECTED ACTUAL — string equality.
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		fail "$1" "expected '$2', got '$3'"
	fi
}

# Run "$@" under timeout, stderr into $_mq_errtext, status into $_mq_st.
_mq_capture() {
	_mq_ef=${MQ_TMP:-/tmp}/.mq_stderr.$$
	if timeout -k 5 "$MQ_TIMEOUT" "$@" 2>"$_mq_ef" >/dev/null; then
		_mq_st=0
	else
		_mq_st=$?
	fi
	_mq_errtext=$(head -c 2000 "$_mq_ef" 2>/dev/null)
	rm -f "$_mq_ef"
}

_mq_why() {        # human text for status $_mq_st
	case $_mq_st in
	124) echo "timed out after ${MQ_TIMEOUT}s" ;;
	*) echo "exit status $_mq_st${_mq_errtext:+, stderr: $_mq_errtext}" ;;
	esac
}

# expect_ok NAME CMD [ARGS...] — CMD (under timeout) must exit 0. Its stdout
# is discarded; use expect_eq with $(...) to check output.
expect_ok() {
	_mq_name=$1
	shift
	_mq_capture "$@"
	if [ "$_mq_st" -eq 0 ]; then
		ok "$_mq_name"
	else
		fail "$_mq_name" "'$*': $(_mq_why)"
	fi
}

# expect_fail NAME CMD [ARGS...] — CMD must exit non-zero (but not time out).
expect_fail() {
	_mq_name=$1
	shift
	_mq_capture "$@"
	if [ "$_mq_st" -ne 0 ] && [ "$_mq_st" -ne 124 ] && [ "$_mq_st" -lt 128 ]; then
		ok "$_mq_name"
	else
		fail "$_mq_name" "'$*' should have failed: $(_mq_why)"
	fi
}

# mq_strerror ERRNO_NAME — "EPERM" -> "Operation not permitted" (via perl's
# view of the C library); other text is printed unchanged.
mq_strerror() {
	case $1 in
	E[A-Z0-9]*)
		perl -e 'use Errno; my $n = "Errno::$ARGV[0]"; my $v = eval { no strict "refs"; &$n() };
			 if (defined $v) { $! = $v; print "$!" } else { print $ARGV[0] }' "$1" 2>/dev/null ||
			printf '%s' "$1"
		;;
	*) printf '%s' "$1" ;;
	esac
}

# expect_errno NAME ERRNO CMD [ARGS...] — CMD (under timeout) must fail and
# its stderr must contain the error text of ERRNO, given as a symbol (EPERM,
# EMSGSIZE, ...) or as the text itself ("Operation not permitted"). This is
# how tools and shells report errno (strerror). For shell syntax:
#   expect_errno "no truncate" EPERM sh -c ': > "$1"' sh "$MNT/t/0"
# Beware: dash's builtin echo/printf report EVERY write error as "I/O error"
# (only open errors of a redirection get strerror text, and dash says
# "Directory nonexistent" for a missing directory). To see the errno of a
# write() use /bin/echo, bash or dd:
#   expect_errno "bad config" EINVAL sh -c '/bin/echo x=1 > "$1"' sh "$MNT/t/.config"
expect_errno() {
	_mq_name=$1
	_mq_want=$(mq_strerror "$2")
	shift 2
	_mq_capture "$@"
	if [ "$_mq_st" -eq 0 ]; then
		fail "$_mq_name" "'$*' succeeded, expected failure with '$_mq_want'"
	elif [ "$_mq_st" -eq 124 ]; then
		fail "$_mq_name" "'$*' $(_mq_why), expected '$_mq_want'"
	else
		case $_mq_errtext in
		*"$_mq_want"*) ok "$_mq_name" ;;
		*) fail "$_mq_name" "'$*': expected '$_mq_want', $(_mq_why)" ;;
		esac
	fi
}

# expect_same NAME FILE_A FILE_B — byte-identical contents (cmp, under timeout).
expect_same() {
	_mq_name=$1
	_mq_capture cmp "$2" "$3"
	if [ "$_mq_st" -eq 0 ]; then
		ok "$_mq_name"
	else
		fail "$_mq_name" "$2 and $3 differ: $(_mq_why)"
	fi
}

# mq_dump_codecs DIR — the codecs of the batches of partition 0 of the
# topic whose directory (on a mount) is DIR, each once, each followed by a
# space ("none gzip "), from its segments' .dump.
mq_dump_codecs() {
	cat "$1/.segments/0/"*.dump | grep '^baseOffset: ' |
		sed 's/.* codec: \([a-z0-9]*\) .*/\1/' | sort -u | tr '\n' ' '
}

# mq_dump_valid NAME DIR — ok when every batch of partition 0 of the
# topic directory DIR is valid (its segments' .dump), fail otherwise.
mq_dump_valid() {
	_mq_d=$(cat "$2/.segments/0/"*.dump)
	case $_mq_d in
	*"valid: no"*) fail "$1 .dump: a batch not valid" "$_mq_d" ;;
	*"valid: yes"*) ok "$1 .dump: every batch valid" ;;
	*) fail "$1 .dump" "$_mq_d" ;;
	esac
}

# mq_done — print "<script>: N passed, M failed" and exit (1 if any failed);
# the EXIT trap then cleans up.
mq_done() {
	[ "$MQ_SKIP" -gt 0 ] && echo "# $MQ_NAME: $MQ_SKIP skipped"
	echo "$MQ_NAME: $MQ_PASS passed, $MQ_FAIL failed"
	[ "$MQ_FAIL" -eq 0 ] && exit 0
	exit 1
}

# ---- Kafka clients ---------------------------------------------------------

# idem_report TOPIC OUT ERR: the report of an idempotent producer kept
# sending to TOPIC partition 0 (rdk_check idem, kafkajs_idem.js) in file
# OUT checked ("idem N FIRST LAST"), and what the client (ERR) and the
# leaders said of its retries shown, not compared (whether a request was
# in flight at a kill is chance). Sets IDEM_N, the records delivered.
idem_report() {
	_ir=$(cat "$2")
	case $_ir in
	"idem "*) ok "$1: $_ir" ;;
	*) fail "$1: the producer's report" "$_ir $(tail -n 20 "$3")" ;;
	esac
	sed "s/^/# $1 client: /" "$3" | head -n 20
	grep "topic $1 partition 0: producer .* sent again" "$LOG" | sed 's/^/# /' | head -n 5
	# shellcheck disable=SC2034 # read by the scripts
	IDEM_N=$(echo "$_ir" | awk '/^idem/ { print $2 }')
}

# kafkajs_setup — for tests that run kafkajs (tests/integration/kafkajs_*.js,
# which load it from $KAFKAJS_PATH): exports KAFKAJS_PATH, build/npm's copy
# unless the environment names one; without it the test fails and ends here
# (mq_done). Call it after mq_setup.
kafkajs_setup() {
	KAFKAJS_PATH=${KAFKAJS_PATH:-$(cd "$LIBDIR/../.." && pwd -P)/build/npm/node_modules/kafkajs}
	export KAFKAJS_PATH
	if [ ! -d "$KAFKAJS_PATH" ]; then
		fail "kafkajs" "not installed at $KAFKAJS_PATH (sh contrib/install-deps.sh installs it)"
		mq_done
	fi
}
