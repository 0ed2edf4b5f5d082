#!/bin/sh
# t_cluster_election_write.sh — an acks=all write on the leader's mount
# while the leadership moves to a broker that never had the record:
# ZooKeeper and three SASL brokers, a topic of one partition with three
# replicas. Both followers are frozen (SIGSTOP) once the leader has
# answered the Fetch each had parked there (their sockets hold its empty
# answer, so no copy of what follows is on its way to them); echo on the
# leader's mount appends and waits for the commit; the leader is frozen
# in turn (a long pause, as a GC pause or a stalled disk) and the
# followers continued, so that its ZooKeeper session expires and the
# controller elects one of them, without the record. Continued, the old
# leader learns it follows, truncates the record by leader epoch (the new
# leader's log diverged before it) and, since no record of the write is
# left, sends the write again to the new leader: echo returns success
# within seconds, not after request.timeout.ms (60 s here), and the record
# is in the log once.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# Sessions long enough that the followers, frozen a moment, keep theirs
# (and their ISR places: replica.lag.time.max.ms too); the leader, frozen
# until a new leader is elected, loses its own.
CLUSTER_SESSION_MS=6000
CLUSTER_CONF="replica.lag.time.max.ms=30000
replica.fetch.wait.max.ms=200
request.timeout.ms=60000
num.partitions=1"
zk_cluster_start

cluster_start3

t_make3
eval "LPID=\$PID$L"
eval "FPID=\$PID$F"
eval "GPID=\$PID$G"
eval "LPORT=\$PORT$L"
echo "rec-1 before" >>"$MQ_TMP/mnt$L/t/0"
expect_eq "echo rec-1 on the leader's mount" "0" "$?"
check "rec-1 committed (hw 1)" poll 20 sh -c "[ \"\$(timeout 5 awk '\$1 == \"0\" { print \$3 }' '$MQ_TMP/mnt$L/t/.state')\" = 1 ]"

# answered PID: a connection of PID to the leader's listener has bytes
# waiting (PID frozen): the leader answered the Fetch PID had parked.
answered() {
	ss -tnpH state established "( dport = :$LPORT )" 2>/dev/null |
		awk -v p="pid=$1," 'index($0, p) && $1 > 0 { found = 1 } END { exit !found }'
}
# freeze_drained PID: frozen with no Fetch of it parked at the leader. A
# follower frozen between an answer and its next Fetch has none either,
# but shows nothing to wait for: it is continued and frozen again.
freeze_drained() {
	for _try in 1 2 3 4 5; do
		stop_broker "$1" || return 1
		poll 3 answered "$1" && return 0
		kill -CONT "$1"
	done
	return 1
}
check "follower $F frozen, its parked Fetch answered" freeze_drained "$FPID"
check "follower $G frozen, its parked Fetch answered" freeze_drained "$GPID"

(echo "rec-2 across the election" >>"$MQ_TMP/mnt$L/t/0"; echo $? >"$MQ_TMP/rc2") &
WPID=$!
check "the leader appended rec-2 (leo 2)" poll 20 sh -c "[ \"\$(timeout 5 awk '\$1 == \"0\" { print \$4 }' '$MQ_TMP/mnt$L/t/.state')\" = 2 ]"
[ -s "$MQ_TMP/rc2" ] && fail "rec-2 is not answered while uncommitted" "rc $(cat "$MQ_TMP/rc2")" ||
	ok "rec-2 is not answered while uncommitted (hw 1)"

check "leader $L frozen" stop_broker "$LPID"
kill -CONT "$FPID" "$GPID"
new_leader() {
	_nl=$(t_field "$MQ_TMP/mnt$F" 5)
	[ -n "$_nl" ] && [ "$_nl" != "$L" ] && [ "$_nl" != "-1" ]
}
check "a new leader once broker $L's session expired" poll 40 new_leader
N=$(t_field "$MQ_TMP/mnt$F" 5)
expect_eq "the new leader's log ends before rec-2" "1" "$(t_field "$MQ_TMP/mnt$N" 4)"

t0=$(date +%s)
kill -CONT "$LPID"
rc2_written() {
	[ -s "$MQ_TMP/rc2" ]
}
check "the write on the old leader's mount returns well before request.timeout.ms" poll 25 rc2_written
t1=$(date +%s)
echo "# rec-2 answered $((t1 - t0)) s after broker $L was continued" >>"$LOG"
expect_eq "and succeeds" "0" "$(cat "$MQ_TMP/rc2" 2>/dev/null)"
wait "$WPID" 2>/dev/null
grep -q "a write's offsets 1-1 appended in leader epoch [0-9]* are gone with the leadership (the new leader never had them): sent again to the new leader" "$LOG" &&
	ok "broker $L logged the write sent again" || fail "the resend's log line" "not in $LOG"

printf 'rec-1 before\nrec-2 across the election\n' >"$MQ_TMP/want"
shows() {
	timeout 5 cat "$1/t/0" >"$MQ_TMP/got.$2" 2>/dev/null && cmp -s "$MQ_TMP/got.$2" "$3"
}
for n in 1 2 3; do
	check "mnt$n shows rec-2 once, after rec-1" poll 30 shows "$MQ_TMP/mnt$n" "$n" "$MQ_TMP/want"
done
expect_eq "the new leader's log ends at 2" "2" "$(t_field "$MQ_TMP/mnt$N" 4)"

mq_done
