#!/bin/sh
# t_cluster_forward_refused.sh — a write forwarded to the leader that the
# leader refuses for its records (INVALID_RECORD) fails with the errno
# the leader's own mount gives that write (EINVAL), not EIO (which says
# records may be missing from the disk).
#
# The two brokers' views of topic t differ, as they do for moments after
# a settings change: its override cleanup.policy=compact is written to
# /config/topics/t without the change notification, so that only the
# leader L, started again, reads it (every broker reads the overrides
# when it reads the topics). Its follower F still has cleanup.policy
# delete and takes a line without a key through its mount, forwarding
# it; L refuses it, as a compacted topic takes no record without a key.
# (/bin/echo, not the shell's: dash reports any failed write of its own
# echo as "I/O error", whatever the errno.)

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# L takes its preferred leadership back a second after it is back.
CLUSTER_CONF="num.partitions=1
leader.imbalance.check.interval.seconds=1"
zk_cluster_start
cluster_start3
t_make3
expect_ok "a line through mnt$F" sh -c "echo a >> '$MQ_TMP/mnt$F/t/0'"

zct=$(zk_cli "$ZKPORT" get /mqfs/config/topics/t | grep '^{')
compact=$(printf '%s' "$zct" | python3 -c '
import json, sys
d = json.load(sys.stdin)
d["config"]["cleanup.policy"] = "compact"
print(json.dumps(d, separators=(",", ":")))')
zk_cli "$ZKPORT" set /mqfs/config/topics/t "$compact" >>"$LOG" 2>&1
expect_eq "cleanup.policy=compact in /config/topics/t, no notification" "compact" \
	"$(zk_cli "$ZKPORT" get /mqfs/config/topics/t | grep '^{' | python3 -c '
import json, sys
print(json.load(sys.stdin)["config"].get("cleanup.policy"))')"

eval "PL=\$PID$L"
kill "$PL"
proc_wait_exit "$PL" 60 || fail "broker $L stops" "still running"
broker_start "$L"
leads() { [ "$(t_field "$MQ_TMP/mnt$F" 5)" = "$L" ]; }
check "broker $L leads t-0 again" poll 40 leads
check "the three replicas in the ISR" poll 30 t_isr_is "$MQ_TMP/mnt$F" "1,2,3"
policy() { timeout 5 grep '^cleanup.policy=' "$1/t/.config" 2>/dev/null; }
expect_eq "broker $L read the override" "cleanup.policy=compact" "$(policy "$MQ_TMP/mnt$L")"
expect_eq "broker $F has not" "cleanup.policy=delete" "$(policy "$MQ_TMP/mnt$F")"

expect_errno "a line without a key through mnt$F, refused by leader $L: EINVAL" EINVAL \
	sh -c "/bin/echo b >> '$MQ_TMP/mnt$F/t/0'"
check "logged by broker $F" grep -q "forwarding writes: broker $L: t-0: INVALID_RECORD" "$LOG"
expect_errno "the same line on the leader's own mount: EINVAL" EINVAL \
	sh -c "/bin/echo b >> '$MQ_TMP/mnt$L/t/0'"
expect_eq "nothing of them appended" "a" "$(timeout 10 cat "$MQ_TMP/mnt$L/t/0")"
mq_done
