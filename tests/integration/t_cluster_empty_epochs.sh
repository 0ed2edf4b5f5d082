#!/bin/sh
# t_cluster_empty_epochs.sh — leader epochs in which nothing was appended,
# left in the epoch caches of replicas that led them: ZooKeeper and three
# SASL brokers, a topic of one partition with three replicas and one
# record. The first leader L is frozen (SIGSTOP) for the whole test, so
# that the two others, X and Y, take turns: X leads an epoch (frozen,
# Y leads the next), X follows Y and rejoins the ISR, Y is frozen and X
# leads again. Y, continued, follows X holding an epoch of its own that
# X never had, while X holds one Y never had, both starting at the log
# end: asked about Y's, X answers with its own, and Y must drop the empty
# epochs at its log end (Kafka's truncateTo at the log end) and fetch,
# not ask again for ever. Y must rejoin the ISR, and a write is then
# acknowledged by the ISR of X and Y.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
min.insync.replicas=1"
zk_cluster_start
cluster_start3
t_make3
expect_ok "a record" sh -c "echo r-1 >> '$MQ_TMP/mnt$L/t/0'"
printf 'r-1\n' >"$MQ_TMP/want"
# has N: MQ_TMP/mntN/t/0 reads as want.
has() {
	timeout 5 cat "$MQ_TMP/mnt$1/t/0" >"$MQ_TMP/got$1" 2>/dev/null && cmp -s "$MQ_TMP/got$1" "$MQ_TMP/want"
}
for n in 1 2 3; do
	check "mnt$n reads it" poll 20 has "$n"
done

# freeze N / thaw N: SIGSTOP (every thread stopped) / SIGCONT of broker N.
freeze() {
	eval "_fp=\$PID$1"
	stop_broker "$_fp"
}
thaw() {
	eval "_fp=\$PID$1"
	thaw_pid "$_fp"
}
# leader_on N: the leader mntN's .state names.
leader_on() {
	t_field "$MQ_TMP/mnt$1" 5
}
# led_by_other N M: mntN names a live leader other than broker M.
led_by_other() {
	_lo=$(leader_on "$1")
	case $_lo in 1 | 2 | 3) [ "$_lo" != "$2" ] ;; *) return 1 ;; esac
}
# in_isr N M: mntN's ISR of t holds broker M.
in_isr() {
	case ",$(set_of "$(t_field "$MQ_TMP/mnt$1" 8)")," in *",$2,"*) return 0 ;; esac
	return 1
}

check "broker $L frozen" freeze "$L"
check "a new leader once broker $L's session expired" poll 30 led_by_other "$F" "$L"
X=$(leader_on "$F")
Y=$((6 - L - X))
ok "broker $X leads (an epoch with nothing appended), broker $Y follows"

check "broker $X frozen" freeze "$X"
check "broker $Y leads the next epoch" poll 30 led_by_other "$Y" "$X"
expect_eq "the leader" "$Y" "$(leader_on "$Y")"
thaw "$X"
check "broker $X follows and rejoins the ISR" poll 30 in_isr "$Y" "$X"

check "broker $Y frozen" freeze "$Y"
check "broker $X leads again" poll 30 led_by_other "$X" "$Y"
expect_eq "the leader" "$X" "$(leader_on "$X")"
thaw "$Y"
check "broker $Y follows broker $X and rejoins the ISR" poll 30 in_isr "$X" "$Y"
expect_ok "an acks=all write through mnt$Y" sh -c "echo r-2 >> '$MQ_TMP/mnt$Y/t/0'"
printf 'r-2\n' >>"$MQ_TMP/want"
for n in $X $Y; do
	check "mnt$n reads both records" poll 20 has "$n"
done

thaw "$L"
check "broker $L back in the ISR" poll 60 in_isr "$X" "$L"
check "mnt$L reads both records" poll 20 has "$L"

mq_done
