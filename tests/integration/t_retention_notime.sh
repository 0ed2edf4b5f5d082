#!/bin/sh
# t_retention_notime.sh — records a Kafka client sends without a timestamp
# (-1) stay retention.ms like any: retention ages their segments from the
# last append (Kafka's lastModified), not at the first check.
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup
mq_mount_listener log.retention.check.interval.ms=100
start() { # start TOPIC: partition 0's log_start_offset in .state
	awk 'NR==2{print $2}' "$MNT/$1/.state"
}
# shellcheck disable=SC2010 # the mount's names: no newline in them
nsegs() { ls "$MNT/$1/.segments/0" | grep -c '\.log$'; }

mkdir "$MNT/nt" "$MNT/probe"
printf 'segment.bytes=1024\nretention.ms=3600000\n' > "$MNT/nt/.config"
printf 'segment.bytes=1024\nbatch.size=200\nretention.ms=1\nfile.delete.delay.ms=0\n' > "$MNT/probe/.config"
expect_eq "records without a timestamp appended" "appended 40" \
	"$(mq_run python3 "$LIBDIR/kafka_raw.py" produce-ts 127.0.0.1 "$PORT" nt 0 -1 40)"
n0=$(nsegs nt)
expect_ok "several segments" test "$n0" -gt 3

# Two retention passes over every topic: the probe's closed segments go
# at each, so a pass that began after the appends has looked at nt.
probe_gone() { [ "$(start probe)" -ge "$1" ]; }
awk 'BEGIN{for(i=0;i<300;i++)printf "p-%05d\n", i}' > "$MNT/probe/0"
check "a retention pass" poll 15 probe_gone 1
s1=$(start probe)
awk 'BEGIN{for(i=0;i<300;i++)printf "q-%05d\n", i}' > "$MNT/probe/0"
check "a second retention pass" poll 15 probe_gone $((s1 + 1))

expect_eq "nt keeps its log start" 0 "$(start nt)"
expect_eq "nt keeps its segments" "$n0" "$(nsegs nt)"
expect_eq "nt keeps its 40 records" 40 "$(grep -c '^rec-' "$MNT/nt/0")"
mq_done
