#!/bin/sh
# t_cluster_lagging_reads.sh — reads on the mount of a broker whose own
# replica lags out of the ISR: ZooKeeper and three SASL brokers, a topic of
# one partition with three replicas, 1 KiB segments. A follower F is kept
# from appending what it fetches: its partition directory is made
# immutable (chattr +i, root on a filesystem that has it; skipped
# elsewhere), so its next segment roll fails, and the leader takes it out
# of the ISR after replica.lag.time.max.ms. While F lags, its mount reads
# the records acknowledged through the leader that F's own replica does
# not have (through a read copy), a write acknowledged through F's mount
# is read back there at once, and a `tail -f` and a consumer group's
# `consume` reader opened on F's mount before it lagged go on with them.
# Once the directory takes files again F catches up and rejoins the ISR,
# its mount reads from its replica again (the copy is deleted), and every
# mount, the `tail -f` and the `consume` reader included, shows each
# acknowledged record once, in order; st_size on F's mount never went
# back.

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=tests/zk.sh
. "$LIBDIR/../zk.sh"
mq_setup

# shellcheck source=tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# chattr +i where MQ_TMP is: a directory made immutable refuses new files
# to root as well (EPERM).
probe=$MQ_TMP/chattr-probe
mkdir "$probe"
if ! chattr +i "$probe" 2>/dev/null; then
	rmdir "$probe"
	skip "reads of a lagging replica's mount" "chattr +i does not work on $MQ_TMP"
	mq_done
fi
if touch "$probe/f" 2>/dev/null; then
	chattr -i "$probe"
	rm -rf "$probe"
	skip "reads of a lagging replica's mount" "an immutable directory takes files here"
	mq_done
fi
chattr -i "$probe"
rmdir "$probe"

IMMUTABLE=""
TAILPID=""
CPID=""
# The tail -f goes before the mounts (a file open keeps fusermount from
# unmounting); the directory is mutable again before the harness deletes
# MQ_TMP.
# shellcheck disable=SC2016 # expanded by t_cleanup's eval
AFTER_BROKERS='[ -n "$IMMUTABLE" ] && chattr -i "$IMMUTABLE" 2>/dev/null'
lag_cleanup() {
	[ -n "$TAILPID" ] && kill "$TAILPID" 2>/dev/null
	[ -n "$CPID" ] && kill "$CPID" 2>/dev/null
	t_cleanup "$1"
}
trap 'lag_cleanup $?' EXIT
trap 'lag_cleanup 130' INT
trap 'lag_cleanup 143' TERM

CLUSTER_CONF="num.partitions=1
log.segment.bytes=1024
replica.lag.time.max.ms=3000
request.timeout.ms=30000"
zk_cluster_start
cluster_start3
t_make3
ML=$MQ_TMP/mnt$L
MF=$MQ_TMP/mnt$F
: >"$MQ_TMP/want"

# put MNT FIRST LAST: records r-FIRST..r-LAST in one write through
# MNT/t/0 (acks=all: acknowledged when it returns), added to want.
put() {
	_i=$2
	while [ "$_i" -le "$3" ]; do
		echo "r-$_i"
		_i=$((_i + 1))
	done >"$MQ_TMP/chunk"
	cat "$MQ_TMP/chunk" >>"$MQ_TMP/want"
	mq_run sh -c 'cat "$1" >> "$2"' sh "$MQ_TMP/chunk" "$1/t/0"
}
# reads_want MNT: MNT/t/0 reads as want, whole.
reads_want() {
	timeout 10 cat "$1/t/0" >"$MQ_TMP/got" 2>/dev/null && cmp -s "$MQ_TMP/got" "$MQ_TMP/want"
}
# tailed_want: the tail -f on F's mount has shown want, whole.
tailed_want() {
	cmp -s "$MQ_TMP/tailed" "$MQ_TMP/want"
}
size_of() {
	timeout 5 stat -c %s "$1/t/0" 2>/dev/null
}
isr_without_f() {
	t_isr_is "$1" "$(printf '%s\n' "$L" "$G" | sort -n | paste -sd, -)"
}

check "records r-1..r-20 through the leader's mount (mnt$L)" put "$ML" 1 20
for n in 1 2 3; do
	check "mnt$n reads them" poll 20 reads_want "$MQ_TMP/mnt$n"
done
# A reader that stays open across the lag and the catching up.
tail -n +1 -f "$MF/t/0" >"$MQ_TMP/tailed" 2>/dev/null &
TAILPID=$!
check "tail -f on mnt$F shows them" poll 20 tailed_want
# And a consumer group's member on F's mount, which reads partition 0 on
# F (from its replica, or the copy while that lags).
expect_ok "group lag made through mnt$F" mkdir "$MF/t/.groups/lag"
cat "$MF/t/.groups/lag/consume" >"$MQ_TMP/consumed" 2>"$MQ_TMP/consumed.err" &
CPID=$!
consumed_want() {
	cmp -s "$MQ_TMP/consumed" "$MQ_TMP/want"
}
check "the consume reader on mnt$F reads them" poll 60 consumed_want

# F's replica cannot take files in its directory from now on: its next
# segment roll fails, and it appends nothing more.
IMMUTABLE=$MQ_TMP/b$F/data/t-0
expect_ok "broker $F's partition directory made immutable" chattr +i "$IMMUTABLE"
check "r-21..r-60 through mnt$L" put "$ML" 21 60
check "r-61..r-100 through mnt$L" put "$ML" 61 100
check "r-101..r-140 through mnt$L" put "$ML" 101 140
check "the leader takes broker $F out of the ISR" poll 30 isr_without_f "$ML"
check "broker $F knows it is out of the ISR" poll 30 isr_without_f "$MF"
leo_f=$(t_field "$MF" 4)
leo_l=$(t_field "$ML" 4)
if [ -n "$leo_f" ] && [ -n "$leo_l" ] && [ "$leo_f" -lt "$leo_l" ]; then
	ok "broker $F's own replica lacks records (its log end $leo_f, the leader's $leo_l)"
else
	fail "broker $F's own replica lacks records" "log ends: broker $F '$leo_f', leader '$leo_l'"
fi
expect_ok "broker $F's log says why" grep -q "fetcher: t-0: Operation not permitted" "$LOG"
size_before=$(size_of "$MF")

# While F lags: its mount reads what the leader acknowledged.
check "mnt$F reads every acknowledged record while its replica lags" reads_want "$MF"
expect_eq "mnt$F: $(wc -l <"$MQ_TMP/want") lines" "$(wc -l <"$MQ_TMP/want")" \
	"$(timeout 10 cat "$MF/t/0" 2>/dev/null | wc -l)"
expect_eq "mnt$F: st_size is the leader's" "$(size_of "$ML")" "$(size_of "$MF")"
expect_ok "mnt$F: the read copy is made" grep -q "observer t-0: made" "$LOG"
# A write acknowledged through F's mount is read back there at once (no
# wait: the write returned, so the mount has it).
check "r-141 through mnt$F" put "$MF" 141 141
expect_eq "mnt$F reads r-141 as soon as the write returned" "r-141" \
	"$(timeout 10 tail -n 1 "$MF/t/0" 2>/dev/null)"
check "mnt$F reads every acknowledged record" reads_want "$MF"
check "the tail -f on mnt$F, opened before, goes on with them" poll 20 tailed_want
check "the consume reader on mnt$F goes on with them (its group moves to the copy)" \
	poll 20 consumed_want
leo_f=$(t_field "$MF" 4)
if [ -n "$leo_f" ] && [ "$leo_f" -lt 141 ]; then
	ok "broker $F's own replica still lacks records (its log end $leo_f of 141)"
else
	fail "broker $F's own replica still lacks records" "its log end '$leo_f'"
fi
size_lag=$(size_of "$MF")

# Room again: F catches up and rejoins the ISR; its mount reads its own
# replica again, and the copy goes once no file reads it.
expect_ok "broker $F's partition directory takes files again" chattr -i "$IMMUTABLE"
IMMUTABLE=""
check "broker $F rejoins the ISR" poll 60 t_isr_is "$ML" "1,2,3"
check "broker $F knows it" poll 30 t_isr_is "$MF" "1,2,3"
check "r-142..r-180 through mnt$F" put "$MF" 142 180
check "r-181..r-200 through mnt$L" put "$ML" 181 200
for n in 1 2 3; do
	check "mnt$n reads every acknowledged record, once, in order" poll 20 reads_want \
		"$MQ_TMP/mnt$n"
done
check "the tail -f on mnt$F shows each record once, in order" poll 20 tailed_want
check "the consume reader on mnt$F shows each record once, in order" poll 20 consumed_want
kill "$CPID" 2>/dev/null
wait "$CPID" 2>/dev/null
CPID=""
expect_eq "no record twice on mnt$F" "" "$(timeout 10 cat "$MF/t/0" 2>/dev/null | sort | uniq -d)"
size_after=$(size_of "$MF")
if [ -n "$size_before" ] && [ -n "$size_lag" ] && [ -n "$size_after" ] &&
	[ "$size_before" -le "$size_lag" ] && [ "$size_lag" -le "$size_after" ]; then
	ok "st_size on mnt$F never went back ($size_before, $size_lag, $size_after)"
else
	fail "st_size on mnt$F never went back" "$size_before, $size_lag, $size_after"
fi
expect_eq "mnt$F's st_size is the leader's" "$(size_of "$ML")" "$(size_of "$MF")"
# The tail -f may still read through the copy (it moves at its next
# read once the replica's hw has reached the copy's); closed, the copy
# goes.
echo "# mnt$F/.state before the tail -f closes: $(grep '^observer' "$MF/.state" | tr '\n' ' ')" >>"$LOG"
kill "$TAILPID" 2>/dev/null
wait "$TAILPID" 2>/dev/null
TAILPID=""
copy_gone() {
	grep -q "observer t-0: deleted (the replica here serves its reads)" "$LOG"
}
check "the read copy is deleted: mnt$F reads its replica again" poll 30 copy_gone
check "mnt$F reads every acknowledged record from its replica" reads_want "$MF"

mq_done
