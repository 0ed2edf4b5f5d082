#!/bin/sh
# t_cluster_log_start.sh — partitions whose leader's log no longer starts
# at offset 0: ZooKeeper and three brokers, a topic of one partition with
# two replicas (leader L, follower R, and O without a replica). R is
# killed; retention (retention.bytes) on L removes every record R had.
# Then, on O's mount, whose read copy is made only now: cat, tail -c,
# dd skip= (below and above the log start), wc -c, st_size and a consume
# read give the leader mount's bytes; .segments/0/ lists the read copy's
# segments (the leader's) and .read-copy names broker L. R restarted
# empties its log, starts it at L's log start and line position (logged),
# rejoins the ISR and reads the same bytes. Retention moving the log start
# again while the copy is read (tail -f open) keeps O's bytes the leader's.
# retention.ms then removes every record, the active segments too, on
# both replicas, which stay in the ISR and take the next write.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

CLUSTER_CONF="num.partitions=1
default.replication.factor=2
min.insync.replicas=1
request.timeout.ms=10000
replica.lag.time.max.ms=3000
log.segment.bytes=1024
log.retention.check.interval.ms=300
observer.idle.ms=600000"
zk_cluster_start
cluster_start3

# field MNT N: field N of partition 0's row of MNT/r/.state (partition,
# log start, hw, leo, leader, leader epoch, replicas, isr).
field() {
	p0_field "$1" r "$2"
}
same_out() { # same_out NAME CMD_L CMD_O: the two commands print the same
	_a=$(eval "$2" 2>&1)
	_b=$(eval "$3" 2>&1)
	expect_eq "$1" "$_a" "$_b"
}
seg_logs() { # the .log names of partition 0's .segments on MNT
	timeout 20 ls "$1/r/.segments/0" 2>/dev/null | grep '\.log$' | paste -sd' ' -
}
same_segments() {
	_a=$(seg_logs "$1")
	[ -n "$_a" ] && [ "$_a" = "$(seg_logs "$2")" ]
}
isr_is() {
	p0_isr_is "$1" r "$2"
}
# batches FROM TO MNT: one write (one batch) of two records per number.
batches() {
	_i=$1
	while [ "$_i" -le "$2" ]; do
		printf 'r-%03d-a\nr-%03d-b\n' "$_i" "$_i" >>"$3/r/0" || return 1
		_i=$((_i + 1))
	done
}

cluster_mkdir r
roles2 r
check "both replicas in the ISR" poll 20 isr_is "$MQ_TMP/mnt$L" "$(echo "$L $R" | tr ' ' '\n' | sort -n | paste -sd, -)"
ML=$MQ_TMP/mnt$L
MO=$MQ_TMP/mnt$O

# ---- the follower goes away; retention removes all it had -----------------
check "three batches on mnt$L" batches 1 3 "$ML"
r_has6() {
	[ "$(timeout 5 wc -l <"$MQ_TMP/mnt$R/r/0" 2>/dev/null)" = "6" ]
}
check "the follower has them" poll 20 r_has6
eval "RPID=\$PID$R"
mq_kill9 "$MQ_TMP/mnt$R" "$RPID"
check "the follower leaves the ISR" poll 30 isr_is "$ML" "$L"
check "sixty more batches on mnt$L" batches 4 63 "$ML"
echo "retention.bytes=1024" >>"$ML/r/.config"
expect_eq "retention.bytes=1024 set on r" "0" "$?"
start_past() {
	[ "$(field "$ML" 2)" -gt "$1" ] 2>/dev/null
}
check "retention moved the leader's log start past the follower's end (6)" poll 30 start_past 6

# ---- the mount without a replica --------------------------------------------
expect_ok "no read copy of r-0 on broker $O yet" test ! -e "$MQ_TMP/b$O/data/.observers/r-0"
check "cat on mnt$O: the leader mount's bytes" same_file "$MO/r/0" "$ML/r/0"
expect_ok "the read copy started at the leader's log start (logged)" \
	grep -q "r-0: broker $L's log starts at offset .* past this log's end 0 .*emptied and started there" "$LOG"
expect_ok "nothing refused with EREMOTE" test "$(grep -c "read refused with EREMOTE" "$LOG")" = 0
expect_eq "mnt$O: st_size is the leader's" "$(stat -c %s "$ML/r/0")" "$(stat -c %s "$MO/r/0")"
same_out "wc -c on mnt$O" "wc -c <$ML/r/0" "wc -c <$MO/r/0"
same_out "wc -l on mnt$O" "wc -l <$ML/r/0" "wc -l <$MO/r/0"
same_out "tail -c 100 on mnt$O" "tail -c 100 $ML/r/0" "tail -c 100 $MO/r/0"
same_out "dd skip= below the log start on mnt$O" \
	"dd if=$ML/r/0 bs=1 skip=5 count=40 2>/dev/null" "dd if=$MO/r/0 bs=1 skip=5 count=40 2>/dev/null"
P=$(($(stat -c %s "$ML/r/0") - 77))
same_out "dd skip= above the log start on mnt$O" \
	"dd if=$ML/r/0 bs=1 skip=$P count=30 2>/dev/null" "dd if=$MO/r/0 bs=1 skip=$P count=30 2>/dev/null"
expect_ok "the first line read is a retained record, not r-001-a" \
	test "$(timeout 10 head -n 1 "$MO/r/0")" != "r-001-a"

# .segments: the read copy's, which are the leader's.
check ".segments/0 on mnt$O lists the leader's segments" poll 20 same_segments "$ML" "$MO"
expect_ok ".segments/0 on mnt$O has .read-copy" test -f "$MO/r/.segments/0/.read-copy"
expect_ok ".read-copy names the leader broker $L" \
	grep -q "^read copy of leader broker $L's log" "$MO/r/.segments/0/.read-copy"
expect_ok "no .read-copy on the leader's mount" test ! -e "$ML/r/.segments/0/.read-copy"
first=$(seg_logs "$ML" | cut -d' ' -f1)
same_out "the first segment's .log bytes on mnt$O" \
	"cksum <$ML/r/.segments/0/$first" "cksum <$MO/r/.segments/0/$first"

# ---- the follower comes back -------------------------------------------------
broker_start "$R"
check "the follower rejoins the ISR" poll 40 isr_is "$ML" "$(echo "$L $R" | tr ' ' '\n' | sort -n | paste -sd, -)"
expect_ok "it started its log at the leader's log start (logged)" \
	grep -q "r-0: broker $L's log starts at offset .* past this log's end 6 .*emptied and started there" "$LOG"
check "cat on mnt$R: the leader mount's bytes" same_file "$MQ_TMP/mnt$R/r/0" "$ML/r/0"
expect_eq "mnt$R: st_size is the leader's" "$(stat -c %s "$ML/r/0")" "$(stat -c %s "$MQ_TMP/mnt$R/r/0")"

# consume: a group's member on mnt$O reads from the log start on (the
# group made only now: __consumer_offsets needs the three brokers).
N=$(wc -l <"$ML/r/0")
timeout 10 cat "$ML/r/0" >"$MQ_TMP/want"
check "a group coordinated by broker $O" poll 40 group_coordinated_by "$O" g
expect_ok "mkdir r/.groups/$G on mnt$O" mkdir "$MO/r/.groups/$G"
timeout -k 5 40 head -n "$N" "$MO/r/.groups/$G/consume" >"$MQ_TMP/consumed"
expect_ok "there are records to consume" test "$N" -gt 10
expect_ok "consume on mnt$O reads the leader's records from its log start" \
	cmp -s "$MQ_TMP/want" "$MQ_TMP/consumed"

# ---- the log start moves again while the copy is read ----------------------
mq_bg sh -c 'exec tail -s 0.2 -f "$1" >"$2" 2>&1' sh "$MO/r/0" "$MQ_TMP/tail.out"
S0=$(field "$ML" 2)
check "sixty more batches on mnt$O (forwarded)" batches 64 123 "$MO"
check "the leader's log start moves again" poll 30 start_past "$S0"
check "tail -f on mnt$O reads the last record" poll 20 grep -qx r-123-b "$MQ_TMP/tail.out"
check "cat on mnt$O: still the leader mount's bytes" poll 20 same_file "$MO/r/0" "$ML/r/0"
check ".segments/0 on mnt$O: still the leader's" poll 20 same_segments "$ML" "$MO"
mq_stop "$MQ_LAST_PID"

# ---- an idle partition's records all expire ---------------------------------
# retention.ms takes the active segment too once every record is older (as
# Kafka's), on each replica: both logs start at their end, both stay in
# the ISR, and the next write comes at the next offset on both.
echo "retention.ms=1000" >>"$ML/r/.config"
start_at_end() { # start_at_end MNT: the log start is the log end
	_s=$(field "$1" 2)
	[ -n "$_s" ] && [ "$_s" = "$(field "$1" 4)" ]
}
check "retention.ms: the leader's log starts at its end" poll 30 start_at_end "$ML"
check "the follower's too" poll 30 start_at_end "$MQ_TMP/mnt$R"
E=$(field "$ML" 4)
expect_eq "nothing left to read on mnt$L" "" "$(timeout 10 cat "$ML/r/0")"
echo "retention.ms=600000" >>"$ML/r/.config"
check "a write after it" sh -c 'echo r-after >>"$1"' sh "$ML/r/0"
r_after() {
	[ "$(timeout 5 cat "$MQ_TMP/mnt$R/r/0" 2>/dev/null)" = "r-after" ]
}
check "the follower has it, alone" poll 20 r_after
expect_eq "at the next offset" "$((E + 1))" "$(field "$ML" 4)"
check "both replicas in the ISR" poll 20 isr_is "$ML" "$(echo "$L $R" | tr ' ' '\n' | sort -n | paste -sd, -)"

mq_done
