#!/bin/sh
# t_cluster_allkill.sh — every broker killed with -9 at once (the whole
# cluster cut off, as by a power cut of its machines): each starts again
# without its clean-shutdown marker, so every replica is ineligible as
# leader (KIP-966) and none could catch up without a leader. The
# controller elects one of the in-sync replicas anyway (logged, RECOVERING
# in the state), the partition takes writes again, and every record
# acknowledged before the kill is on every mount. Each broker logs the
# recovery of its replica.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1"
zk_cluster_start
cluster_start3
t_make3
for i in 1 2 3 4 5; do
	expect_ok "acks=all write $i on mnt$L" sh -c "echo r-$i >> '$MQ_TMP/mnt$L/t/0'"
done
printf 'r-1\nr-2\nr-3\nr-4\nr-5\n' >"$MQ_TMP/want5"

# has FILE N: MQ_TMP/mntN/t/0 reads as FILE.
has() {
	timeout 5 cat "$MQ_TMP/mnt$2/t/0" >"$MQ_TMP/got$2" 2>/dev/null && cmp -s "$MQ_TMP/got$2" "$1"
}
for n in 1 2 3; do
	check "mnt$n shows the five records" poll 20 has "$MQ_TMP/want5" "$n"
done

kill -KILL "$PID1" "$PID2" "$PID3"
for n in 1 2 3; do
	eval "p=\$PID$n"
	check "broker $n gone" proc_wait_exit "$p" 20
done
for n in 1 2 3; do
	broker_start "$n"
done
for n in 1 2 3; do
	check "mnt$n: three live brokers again" poll 60 alive_on "$MQ_TMP/mnt$n" 3
done
# Each broker's replica of t-0 was recovered, and says so as a single
# node's log does (a cluster's replicas used to be recovered silently).
expect_eq "three 'log t-0: recovered' lines, one per broker" "3" \
	"$(grep -c 'log t-0: recovered (an unclean shutdown' "$LOG")"
# led N: mntN's .state of t names a leader.
led() {
	case $(t_field "$MQ_TMP/mnt$1" 5) in
	1 | 2 | 3) return 0 ;;
	*) return 1 ;;
	esac
}
check "a leader again (not offline for good)" poll 60 led 1
expect_ok "the controller says why" grep -q "t-0: every live in-sync replica restarted uncleanly: broker [123] leads" "$LOG"
L=$(t_field "$MQ_TMP/mnt1" 5)
# write_ok N: an acks=all write through mntN succeeds (the followers may
# still be catching up: EAGAIN until min.insync.replicas are in the ISR).
write_ok() {
	sh -c "echo r-6 >> '$MQ_TMP/mnt$1/t/0'" 2>/dev/null
}
check "a write through the leader's mount is acknowledged" poll 60 write_ok "$L"
printf 'r-1\nr-2\nr-3\nr-4\nr-5\nr-6\n' >"$MQ_TMP/want6"
for n in 1 2 3; do
	check "mnt$n: every acknowledged record, once, in order" poll 60 has "$MQ_TMP/want6" "$n"
done

mq_done
