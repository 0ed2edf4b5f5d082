#!/bin/sh
# contrib/bench/cluster.sh — the replicated cluster against the single node
# (POSIX sh; java for ZooKeeper, python3 for the latency client).
#
#   sh contrib/bench/cluster.sh [BUILD_DIR]          (BUILD_DIR default: build)
#
# A benchmark, not a test: prints figures, exits 0 unless nothing could be
# measured. In one run, on this machine:
#   single node  mqfs -f --data DIR --config CONF MNT (CONF: a SASL
#                listener for the clients rounds), topic s (1 partition).
#   cluster      a ZooKeeper of its own and three brokers on loopback with
#                SASL listeners and mounts, started by
#                tests/integration/cluster_lib.sh's zk_cluster_start and
#                conf (replication factor 3, min.insync.replicas=2, acks=all
#                on the mount); topic c (1 partition) made on mount 1; the
#                leader found in c/.state.
# Figures:
#   produce      BENCH_CLUSTER_MB MiB of 100-byte lines (lib.sh's records)
#                written by `dd bs=1M` to the partition file, a new topic
#                each rep (in the cluster after one acknowledged record,
#                so that the followers fetch it already): the single
#                node's and the leader's mount
#                (acks=all: each write() returns once the ISR has it);
#                medians of BENCH_REPS, MB/s and the cluster's ratio
#                (the single node's and the cluster's rounds alternate,
#                so the reps' own ratios are given too, with their
#                median; the daemons not writing sit idle);
#                and the CPU time each daemon spent per MiB written (its
#                utime + stime from /proc/PID/stat over the dd), the
#                single node's and, in the cluster, the leader's and the
#                two followers' (medians of BENCH_REPS); and the Fetch
#                requests each follower sent per MiB (its .metrics'
#                mqfs_replica_fetch_requests_total over the dd).
#   clients      the same records (BENCH_CLUSTER_MB MiB of them, 100 bytes
#                each) produced by librdkafka (BUILD/rdk_perf, acks=all,
#                librdkafka's defaults otherwise, as clients.sh) to a new
#                topic each rep: in the cluster (replication factor 3,
#                min.insync.replicas=2, after one acknowledged record as
#                above) through the brokers' SASL listeners, on the single
#                node through its own (SASL_PLAINTEXT, the same SCRAM
#                user: the client logs in the same way); alternating as the
#                produce rounds do; medians of BENCH_REPS, MB/s, the ratio
#                and the reps' own ratios, each daemon's CPU time per
#                MiB over the client's run and the client's own (its
#                threads' getrusage, as rdk_perf prints it), the requests per MiB the
#                leader's listener served (Produce, and the followers'
#                Fetch: mqfs_listener_requests_total) and the Fetch
#                requests each follower sent per MiB.
#   latency      latency.py: one 100-byte record at a time written on the
#                leader's mount, read by a group's consume file on a
#                follower's mount when that follower's groups see the
#                replicated records (probed first); otherwise by the
#                leader's own consume file, and the output says which.
#                p50/p99/p99.9 over BENCH_LAT_RECORDS; the single node the
#                same way for comparison.
#   controlled   SIGTERM to the leader of topic cs (a clean stop with
#   shutdown     controlled.shutdown.enable=true) while resume.py writes
#                one 100-byte write() at a time, round robin over the
#                survivors' mounts (forwarded to the leader while they do
#                not lead): the seconds from the signal to the first
#                acknowledged write begun after it, the longest stall
#                between two acknowledgements, and the time until the
#                stopping process exited and its mount was gone. The
#                broker is then started again and rejoins.
#   failover     the same with kill -9 of the leader of topic fo. The
#                session timeout bounds it:
#                zookeeper.session.timeout.ms=BENCH_CLUSTER_SESSION_MS.
#
# Environment:
#   BENCH_CLUSTER_MB=64   BENCH_LAT_RECORDS=2000   BENCH_REPS=3
#   BENCH_CLUSTER_SESSION_MS=4000   BENCH_DIR=$TMPDIR or /tmp
#   BENCH_CLUSTER_CONF=LINES     more lines for every broker's config
#   BENCH_CLUSTER_ONLY=produce   only the produce rounds (for profiling:
#                                the figures come right after them);
#                      =clients  only the clients rounds, the same way
#   BENCH_CLUSTER_HOOK=CMD       run as `sh -c CMD` in the background during
#                                each cluster produce and clients round,
#                                with BENCH_PIDS_CLUSTER="PID1 PID2 PID3"
#                                (leader first) and BENCH_ROUND (R for a
#                                produce round, kR for a clients round) in
#                                its environment, stopped (SIGTERM to its
#                                pid) after the dd or the client: e.g.
#                                perf record -g -p ... or strace -c

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=cluster
BENCH_CLUSTER_MB=${BENCH_CLUSTER_MB:-64}
BENCH_LAT_RECORDS=${BENCH_LAT_RECORDS:-2000}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_CLUSTER_SESSION_MS=${BENCH_CLUSTER_SESSION_MS:-4000}

bench_build "${1:-build}"
PERF=$BUILD/rdk_perf
case ${BENCH_CLUSTER_ONLY:-} in
'' | produce | clients) ;;
*) die "BENCH_CLUSTER_ONLY=$BENCH_CLUSTER_ONLY: produce or clients" ;;
esac
# runs WHAT: the rounds WHAT (produce or clients) are run.
runs() {
	[ -z "${BENCH_CLUSTER_ONLY:-}" ] || [ "$BENCH_CLUSTER_ONLY" = "$1" ]
}
runs clients && { [ -x "$PERF" ] || die "$PERF missing (make $PERF; make bench builds it)"; }
command -v python3 >/dev/null 2>&1 || die "python3 is needed for the timing clients"
command -v java >/dev/null 2>&1 || die "java is needed for ZooKeeper (sh contrib/install-deps.sh)"
[ -c /dev/fuse ] || die "/dev/fuse missing"
bench_tmp mqfs-cluster
here=$(cd "$(dirname "$0")" && pwd -P)

# The integration harness gives poll, mq_run and expect_eq, which
# cluster_lib.sh's functions use; its own cleanup is not installed (no
# mq_setup): the traps stay ours, set again below after cluster_lib.sh
# replaced them.
LIBDIR=$here/../../tests/integration
# shellcheck source=../../tests/integration/lib.sh
. "$LIBDIR/lib.sh"
# shellcheck source=../../tests/zk.sh
. "$LIBDIR/../zk.sh"
MQ_TMP=$tmp
MQFS=$BUILD/mqfs
LOG=$tmp/cluster.log
: >"$LOG"
CLUSTER_SESSION_MS=$BENCH_CLUSTER_SESSION_MS
CLUSTER_CONF="num.partitions=1
${BENCH_CLUSTER_CONF:-}"
# shellcheck source=../../tests/integration/cluster_lib.sh
. "$LIBDIR/cluster_lib.sh"

# Brokers leave (unmounted, their ZooKeeper sessions closed) before
# ZooKeeper stops; then lib.sh's cleanup takes the rest and the temp dir.
# shellcheck disable=SC2317  # invoked by the traps below
cluster_cleanup() {
	trap - EXIT INT TERM HUP PIPE
	# A round's hook still running (interrupted in the round): stopped
	# by its pid, as after the round.
	[ -n "${hook_pid:-}" ] && kill -TERM "$hook_pid" 2>/dev/null && wait "$hook_pid"
	for _cm in $BENCH_MOUNTS; do
		proc_unmount "$_cm" 30
		is_mounted "$_cm" || proc_list_del BENCH_MOUNTS "$_cm"
	done
	for _cp in $BENCH_PIDS; do
		wait_exit "$_cp" 10 || { kill -KILL "$_cp" 2>/dev/null; wait_exit "$_cp" 10; }
	done
	zk_stop "$ZKDIR"
	bench_cleanup
}
trap 'cluster_cleanup' EXIT
trap 'cluster_cleanup; exit 130' INT
trap 'cluster_cleanup; exit 143' TERM
trap 'cluster_cleanup; exit 129' HUP
trap 'cluster_cleanup; exit 141' PIPE

# ---- helpers ---------------------------------------------------------------

# produce_mbs SRC TARGET: dd bs=1M of SRC into TARGET; MB/s (10^6 bytes).
produce_mbs() {
	_pa=$(now)
	timeout 600 dd if="$1" of="$2" bs=1M oflag=append conv=notrunc status=none ||
		die "dd into $2 failed"
	_pb=$(now)
	echo "$_pa $_pb" | awk -v b="$(stat -c %s "$1")" '{ print b / 1e6 / ($2 - $1) }'
}

# cpu_ticks PID: user + system CPU time of PID so far, in clock ticks.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# fetches N: the Fetch requests broker N's followers sent so far.
fetches() {
	timeout 5 awk '$1 == "mqfs_replica_fetch_requests_total" { print $2 }' "$tmp/mnt$1/.metrics"
}

# lreqs N: the requests broker N's listener served so far (the clients'
# and the followers' alike).
lreqs() {
	timeout 5 awk '$1 == "mqfs_listener_requests_total" { print $2 }' "$tmp/mnt$1/.metrics"
}

# per_mib BEFORE AFTER: (AFTER - BEFORE) / BENCH_CLUSTER_MB.
per_mib() {
	echo "$1 $2" | awk -v mb="$BENCH_CLUSTER_MB" '{ printf "%.2f\n", ($2 - $1) / mb }'
}

# wbuckets N: broker N's FUSE write histogram so far, one "le count" per
# line (cumulative, as .metrics gives it).
wbuckets() {
	timeout 5 awk -F'[{}" ]+' '$1 == "mqfs_fuse_request_duration_seconds_bucket" &&
		$3 == "write" { print $5, $6 }' "$tmp/mnt$1/.metrics"
}

# wtimes BEFORE AFTER: the writes between two wbuckets snapshots as the
# bucket bounds (ms) under which half, 90 % and all of them ended: a
# stall (a wait for a timeout, a lost wake-up) shows as a maximum far
# above the median; contention for the cores moves them together.
wtimes() {
	awk 'FNR == NR { b[$1] = $2; next }
		{ le[++n] = $1; c[n] = $2 - b[$1] }
		END { tot = c[n]; if (tot <= 0) { print "none"; exit }
		      for (i = 1; i <= n; i++) {
			ms = le[i] == "+Inf" ? "inf" : le[i] * 1000
			if (!p50 && c[i] >= tot * 0.5) p50 = ms
			if (!p90 && c[i] >= tot * 0.9) p90 = ms
			if (!mx && c[i] >= tot) mx = ms
		      }
		      printf "%d writes, p50 <= %s ms, p90 <= %s ms, max <= %s ms\n", tot, p50, p90, mx }' "$1" "$2"
}

# cpu_ms_per_mib T0 T1: milliseconds of CPU per MiB written for a tick
# count going from T0 to T1 over one rep.
cpu_ms_per_mib() {
	echo "$1 $2" | awk -v hz="$HZ" -v mb="$BENCH_CLUSTER_MB" '{ printf "%.2f\n", ($2 - $1) * 1000 / hz / mb }'
}

# hook_start ROUND: BENCH_CLUSTER_HOOK started in the background, if set,
# for the cluster's round ROUND (leader L); hook_stop stops it.
# shellcheck disable=SC2154  # _lp: set by eval
hook_start() {
	hook_pid=""
	[ -n "${BENCH_CLUSTER_HOOK:-}" ] || return 0
	eval "_lp=\$PID$L"
	_ps=$_lp
	for _hn in 1 2 3; do [ "$_hn" = "$L" ] || eval "_ps=\"\$_ps \$PID$_hn\""; done
	BENCH_PIDS_CLUSTER=$_ps BENCH_ROUND=$1 sh -c "$BENCH_CLUSTER_HOOK" &
	hook_pid=$!
}
hook_stop() {
	[ -n "$hook_pid" ] || return 0
	kill -TERM "$hook_pid" 2>/dev/null
	wait "$hook_pid"
	hook_pid=""
}

# first_record TOPIC: one record into the cluster's new TOPIC through the
# leader's mount, acknowledged by the ISR: the followers' fetchers have
# then started on the new partition (each retries a leader that does not
# know yet that it leads, every 10 ms at first), which would hold the
# round's first write; the rounds measure the stream. Its time (ms) goes
# to first.ms.
first_record() {
	_fa=$(now)
	printf 'start\n' >>"$tmp/mnt$L/$1/0" || die "the first record into $1 failed"
	_fb=$(now)
	awk -v a="$_fa" -v b="$_fb" 'BEGIN { printf "%.0f\n", (b - a) * 1000 }' >>"$tmp/first.ms"
}

# drop3 TOPIC: the cluster's TOPIC deleted, waited for until no mount
# lists it.
drop3() {
	rmdir "$tmp/mnt$L/$1" || die "rmdir mnt$L/$1 failed"
	for _dn in 1 2 3; do
		poll 60 unlisted "$tmp/mnt$_dn" "$1" || die "$1 still listed on mnt$_dn"
	done
}

# field MNT TOPIC N: field N of partition 0's row of TOPIC/.state
# (partition, log start, hw, leo, leader, leader epoch, replicas, isr, ...).
# The checks below run under poll.
# shellcheck disable=SC2016,SC2317
field() {
	timeout 5 awk -v f="$3" '$1 == "0" { print $f }' "$1/$2/.state" 2>/dev/null
}
# shellcheck disable=SC2317
leader_known() {
	case $(field "$1" "$2" 5) in 1 | 2 | 3) return 0 ;; esac
	return 1
}
# shellcheck disable=SC2317
isr3() {
	[ "$(field "$1" "$2" 8 | tr -d '[]' | tr ',' '\n' | sort -n | paste -sd, -)" = "1,2,3" ]
}
# shellcheck disable=SC2317
listed() {
	timeout 5 ls "$1" 2>/dev/null | grep -qx "$2"
}
# shellcheck disable=SC2317
unlisted() {
	! listed "$1" "$2"
}
# topic3 NAME: NAME made on mount 1, listed on all three with the three
# replicas in the ISR; L := its leader, F := another broker.
topic3() {
	mkdir "$tmp/mnt1/$1" || die "mkdir mnt1/$1 failed"
	for _tn in 1 2 3; do
		poll 30 listed "$tmp/mnt$_tn" "$1" || die "$1 not listed on mnt$_tn"
	done
	poll 30 isr3 "$tmp/mnt1" "$1" || die "$1: the ISR is not 1,2,3: $(field "$tmp/mnt1" "$1" 8)"
	poll 30 leader_known "$tmp/mnt1" "$1" || die "$1: no leader"
	L=$(field "$tmp/mnt1" "$1" 5)
	F=$((L % 3 + 1))
}

# ---- the single node ---------------------------------------------------------

HZ=$(getconf CLK_TCK)
NREC=$((BENCH_CLUSTER_MB * 1048576 / 100))
say "records: $BENCH_CLUSTER_MB MiB of 100-byte lines per rep ($NREC)"
records "$NREC" "$tmp/src"
# The single node's listener serves the clients rounds (idle otherwise):
# SASL_PLAINTEXT with the brokers' SCRAM user as its one user, so that
# the client logs in to either the same way.
SPORT=$(zk_free_port)
cat >"$tmp/single.properties" <<EOC
listeners=SASL_PLAINTEXT://127.0.0.1:$SPORT
security.inter.broker.protocol=SASL_PLAINTEXT
sasl.enabled.mechanisms=SCRAM-SHA-256
listener.name.sasl_plaintext.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="admin-secret";
EOC
mount_daemon "$tmp/single" "$tmp/single.log" "$MQFS" -f --data "$tmp/sdata" \
	--config "$tmp/single.properties" "$tmp/single" ||
	die "mqfs did not mount: $(tail -n 3 "$tmp/single.log")"
SPID=$DPID
: >"$tmp/single.t"
: >"$tmp/single.cpu"

# single_round R: the single node's produce round R.
single_round() {
	mkdir "$tmp/single/s$1" || die "mkdir single/s$1 failed"
	sync
	c0=$(cpu_ticks "$SPID")
	produce_mbs "$tmp/src" "$tmp/single/s$1/0" >>"$tmp/single.t"
	cpu_ms_per_mib "$c0" "$(cpu_ticks "$SPID")" >>"$tmp/single.cpu"
	rmdir "$tmp/single/s$1" || die "rmdir single/s$1 failed"
}

# perf_mbs OUTPUT: MB/s (10^6 bytes of 100-byte records) of rdk_perf's
# "records N seconds S".
perf_mbs() {
	printf '%s\n' "$1" | awk '/^records/ { print $2 * 100 / 1e6 / $4 }'
}
# perf_cpu OUTPUT: the client's own CPU (its "cpu C") per MiB, ms.
perf_cpu() {
	printf '%s\n' "$1" | awk -v mb="$BENCH_CLUSTER_MB" '/^records/ { printf "%.2f\n", $6 * 1000 / mb }'
}

# single_clients R: the single node's clients round R.
single_clients() {
	mkdir "$tmp/single/k$1" || die "mkdir single/k$1 failed"
	sync
	c0=$(cpu_ticks "$SPID")
	# shellcheck disable=SC2086  # SASL: one word per setting
	_out=$(timeout 600 "$PERF" -b "127.0.0.1:$SPORT" $SASL produce "k$1" "$NREC" all) ||
		die "rdk_perf into the single node's k$1 failed"
	perf_mbs "$_out" >>"$tmp/ksingle.t"
	perf_cpu "$_out" >>"$tmp/ksingle.client"
	cpu_ms_per_mib "$c0" "$(cpu_ticks "$SPID")" >>"$tmp/ksingle.cpu"
	rmdir "$tmp/single/k$1" || die "rmdir single/k$1 failed"
}

# ---- the cluster ---------------------------------------------------------------

zk_cluster_start >>"$LOG" 2>&1
zk_ruok "$ZKPORT" || die "ZooKeeper did not start: $(tail -n 5 "$LOG")"
for n in 1 2 3; do
	eval "PORT$n=\$(zk_free_port)"
	eval "conf $n \$PORT$n"
	mkdir -p "$tmp/mnt$n"
	start_daemon "$tmp/b$n.log" "$MQFS" -f --config "$tmp/b$n/server.properties" "$tmp/mnt$n"
	eval "PID$n=\$DPID"
	proc_list_add BENCH_MOUNTS "$tmp/mnt$n"
	# A broker mounts once registered in ZooKeeper: longer than a plain
	# mount when the two cores are busy.
	proc_wait_mounted "$tmp/mnt$n" "$DPID" 60 ||
		die "broker $n did not mount: $(tail -n 3 "$tmp/b$n.log")"
done
for n in 1 2 3; do
	poll 60 alive_on "$tmp/mnt$n" 3 || die "mnt$n does not see three live brokers"
done

for f in cluster.t leader.cpu follower.cpu follower.fetches leader.writes first.ms \
	ksingle.t ksingle.cpu kcluster.t kleader.cpu kfollower.cpu kleader.reqs kfollower.fetches \
	ksingle.client kcluster.client; do
	: >"$tmp/$f"
done
# round_begin TOPIC: a cluster round's start: TOPIC made (L its leader),
# a sync, its first record, then the brokers' CPU ticks (t1 t2 t3) and
# the followers' Fetch counts (q1 q2 q3) so far.
# shellcheck disable=SC2034  # t1..t3, q1..q3: read by round_end through eval
round_begin() {
	topic3 "$1"
	sync
	first_record "$1"
	t1=$(cpu_ticks "$PID1") t2=$(cpu_ticks "$PID2") t3=$(cpu_ticks "$PID3")
	q1=$(fetches 1) q2=$(fetches 2) q3=$(fetches 3)
}
# round_end PREFIX TOPIC: each broker's CPU per MiB since round_begin,
# the leader's into PREFIXleader.cpu, the followers' into
# PREFIXfollower.cpu, and their Fetch requests per MiB into
# PREFIXfollower.fetches; then TOPIC deleted.
# shellcheck disable=SC2154  # _ct0, _cpid, _q0: set by eval
round_end() {
	for _cn in 1 2 3; do
		eval "_ct0=\$t$_cn; _cpid=\$PID$_cn; _q0=\$q$_cn"
		_cm=$(cpu_ms_per_mib "$_ct0" "$(cpu_ticks "$_cpid")")
		if [ "$_cn" = "$L" ]; then
			echo "$_cm" >>"$tmp/${1}leader.cpu"
		else
			echo "$_cm" >>"$tmp/${1}follower.cpu"
			per_mib "$_q0" "$(fetches "$_cn")" >>"$tmp/${1}follower.fetches"
		fi
	done
	drop3 "$2"
}
# The rounds alternate, the single node's and the cluster's, one of each
# per rep (in turn first), so that each pair meets the same load of the
# machine: the ratio is also given as the median of the reps' ratios.
# Whichever is not writing sits idle (no CPU). As in throughput.sh, each
# round starts with a sync (untimed) and its topic is deleted after it
# (rmdir; the cluster's is waited for until no mount lists it): no round
# pays for the writeback of the rounds before it, and the page cache
# does not grow from round to round. On this virtual machine the first
# touch of memory the host has not backed yet costs about 4 us a page,
# so rounds that grew the page cache (three copies of every byte in the
# cluster) ran two to four times slower from the third round on, the
# single node's and the cluster's alike.
r=1
while runs produce && [ $r -le "$BENCH_REPS" ]; do
	[ $((r % 2)) = 1 ] && single_round "$r"
	round_begin "c$r"
	wbuckets "$L" >"$tmp/wb0"
	hook_start "$r"
	produce_mbs "$tmp/src" "$tmp/mnt$L/c$r/0" >>"$tmp/cluster.t"
	wbuckets "$L" >"$tmp/wb1"
	echo "round $r, leader broker $L: $(wtimes "$tmp/wb0" "$tmp/wb1")" >>"$tmp/leader.writes"
	hook_stop
	round_end "" "c$r"
	[ $((r % 2)) = 0 ] && single_round "$r"
	r=$((r + 1))
done
rm -f "$tmp/src"
# The clients rounds: the same records from librdkafka, alternating the
# same way. The cluster's client bootstraps from all three listeners and
# finds the leader in the Metadata answer.
KBOOT=127.0.0.1:$PORT1,127.0.0.1:$PORT2,127.0.0.1:$PORT3
r=1
while runs clients && [ $r -le "$BENCH_REPS" ]; do
	[ $((r % 2)) = 1 ] && single_clients "$r"
	round_begin "k$r"
	lq=$(lreqs "$L")
	hook_start "k$r"
	# shellcheck disable=SC2086  # SASL: one word per setting
	out=$(timeout 600 "$PERF" -b "$KBOOT" $SASL produce "k$r" "$NREC" all) ||
		die "rdk_perf into the cluster's k$r failed"
	hook_stop
	perf_mbs "$out" >>"$tmp/kcluster.t"
	perf_cpu "$out" >>"$tmp/kcluster.client"
	per_mib "$lq" "$(lreqs "$L")" >>"$tmp/kleader.reqs"
	round_end k "k$r"
	[ $((r % 2)) = 0 ] && single_clients "$r"
	r=$((r + 1))
done
if [ -z "${BENCH_CLUSTER_ONLY:-}" ]; then
	mkdir "$tmp/single/lat" "$tmp/single/lat/.groups/bench" || die "mkdir single/lat failed"
	slat=$(timeout 300 python3 "$here/latency.py" mqfs "$tmp/single/lat/0" \
		"$tmp/single/lat/.groups/bench/consume" "$BENCH_LAT_RECORDS") ||
		die "single-node latency client failed"
fi
unmount "$tmp/single" "$SPID"

# row LABEL FILE: one figure line, the median of FILE's numbers and their
# spread.
row() {
	printf '  %-36s %s  (%s)\n' "$1" "$(median <"$2")" "$(spread <"$2")"
}
# rates SINGLE CLUSTER LABEL: the MB/s of the single node's rounds (file
# SINGLE) and the cluster's (CLUSTER, named LABEL), the ratio of their
# medians and the reps' own ratios.
rates() {
	s=$(median <"$tmp/$1")
	c=$(median <"$tmp/$2")
	printf '  single node                          %8.1f MB/s  (%s)\n' "$s" "$(spread <"$tmp/$1")"
	printf '  %-36s %8.1f MB/s  (%s)  %.2f of the single node\n' \
		"$3" "$c" "$(spread <"$tmp/$2")" "$(echo "$c $s" | awk '{ print $1 / $2 }')"
	paste -d' ' "$tmp/$2" "$tmp/$1" | awk '{ printf "%.3f\n", $1 / $2 }' >"$tmp/$2.ratio"
	say "  the reps' ratios (cluster / single node, each pair back to back): $(paste -sd' ' "$tmp/$2.ratio"), median $(median <"$tmp/$2.ratio")"
}
# produce_figures: the produce rounds' figures.
produce_figures() {
	say ""
	say "produce, dd bs=1M of $BENCH_CLUSTER_MB MiB of 100-byte lines, median of $BENCH_REPS (spread):"
	rates single.t cluster.t "cluster, RF 3, acks=all, leader"
	say "CPU per MiB written (utime + stime, ms), median (spread):"
	row "single node" "$tmp/single.cpu"
	row "cluster leader" "$tmp/leader.cpu"
	row "cluster follower (each)" "$tmp/follower.cpu"
	say "  rounds, cluster MB/s: $(paste -sd' ' "$tmp/cluster.t"); leader ms/MiB: $(paste -sd' ' "$tmp/leader.cpu")"
	say "Fetch requests per MiB written, each follower, median (spread):"
	row "" "$tmp/follower.fetches"
	say "the first acks=all write into each round's new partition (ms): $(paste -sd' ' "$tmp/first.ms")"
	say "the leader's write() times (its FUSE write histogram, bucket bounds):"
	sed 's/^/  /' "$tmp/leader.writes"
}
# clients_figures: the clients rounds' figures.
clients_figures() {
	say ""
	say "produce, librdkafka acks=all, $NREC records of 100 bytes, median of $BENCH_REPS (spread):"
	rates ksingle.t kcluster.t "cluster, RF 3, min.insync.replicas=2"
	say "CPU per MiB of records (utime + stime, ms), median (spread):"
	row "single node" "$tmp/ksingle.cpu"
	row "cluster leader" "$tmp/kleader.cpu"
	row "cluster follower (each)" "$tmp/kfollower.cpu"
	row "the client, into the single node" "$tmp/ksingle.client"
	row "the client, into the cluster" "$tmp/kcluster.client"
	say "  rounds, cluster MB/s: $(paste -sd' ' "$tmp/kcluster.t"); single node MB/s: $(paste -sd' ' "$tmp/ksingle.t")"
	say "requests per MiB of records, median (spread):"
	row "the leader's listener served" "$tmp/kleader.reqs"
	say "    (the clients' Produce and the followers' Fetch)"
	row "each follower's Fetch" "$tmp/kfollower.fetches"
}
case ${BENCH_CLUSTER_ONLY:-} in
produce)
	produce_figures
	exit 0
	;;
clients)
	clients_figures
	exit 0
	;;
esac

# ---- latency: which reader sees the leader's writes ----------------------------

topic3 lat
# A follower's group reads its own replica: probe it with one record,
# within a deadline, before trusting it with the timed run.
mkdir "$tmp/mnt$F/lat/.groups/probe" || die "mkdir a group on mnt$F failed"
timeout 20 head -n 1 "$tmp/mnt$F/lat/.groups/probe/consume" >"$tmp/probe.out" 2>/dev/null &
probe_pid=$!
printf 'probe\n' >>"$tmp/mnt$L/lat/0" || die "the probe write on mnt$L failed"
wait "$probe_pid"
if [ "$(cat "$tmp/probe.out")" = "probe" ]; then
	reader=$F
	where="a consume reader on follower broker $F's mount"
else
	reader=$L
	where="a consume reader on the leader's own mount (a follower's group did not see the record)"
fi
mkdir "$tmp/mnt$reader/lat/.groups/bench" || die "mkdir a group on mnt$reader failed"
# The group starts at the log's start: the probe record would be read
# first, without a send time; the group starts past it. Only the group's
# coordinator takes a reset (the other mounts hold a proxy of the group
# and refuse it), so it is tried on each mount; a group just made may
# refuse its first offset write while its coordinator settles: tried
# again within a deadline, the errors kept in the log.
# shellcheck disable=SC2317  # run by poll
set_latest() {
	for _sn in 1 2 3; do
		mkdir -p "$tmp/mnt$_sn/lat/.groups/bench" 2>>"$LOG" &&
			printf 'latest\n' 2>>"$LOG" >"$tmp/mnt$_sn/lat/.groups/bench/0" && return 0
	done
	return 1
}
poll 30 set_latest || die "setting the group's offset on mnt$reader failed: $(tail -n 1 "$LOG")"
clat=$(timeout 300 python3 "$here/latency.py" mqfs "$tmp/mnt$L/lat/0" \
	"$tmp/mnt$reader/lat/.groups/bench/consume" "$BENCH_LAT_RECORDS") ||
	die "cluster latency client failed"
lat_leader=$L

# ---- controlled shutdown, then kill -9 (resume.py) ------------------------------

# broker_up N: broker N started again on its config and data, mounted;
# PIDN its new pid.
broker_up() {
	start_daemon "$tmp/b$1.log.again" "$MQFS" -f --config "$tmp/b$1/server.properties" \
		"$tmp/mnt$1"
	eval "PID$1=\$DPID"
	proc_list_add BENCH_MOUNTS "$tmp/mnt$1"
	proc_wait_mounted "$tmp/mnt$1" "$DPID" 60 ||
		die "broker $1 did not mount again: $(tail -n 3 "$tmp/b$1.log.again")"
}
# resume SIG TOPIC: SIG to TOPIC's leader L while resume.py writes through
# the survivors' mounts; its line of figures in $tmp/TOPIC.resume.
resume() {
	_rp=""
	eval "_rp=\$PID$L"
	_rs=""
	for _rn in 1 2 3; do [ "$_rn" = "$L" ] || _rs="$_rs $tmp/mnt$_rn/$2/0"; done
	# shellcheck disable=SC2086  # _rs: one word per mount
	timeout 150 python3 "$here/resume.py" "$1" "$_rp" "$tmp/mnt$L" $_rs >"$tmp/$2.resume" ||
		die "$1 of leader $L: no write resumed"
	wait_exit "$_rp" 30 || die "broker $L did not exit after SIG$1"
	# A killed broker's mount is dead: unmounted here.
	proc_unmount "$tmp/mnt$L" 30
	is_mounted "$tmp/mnt$L" || proc_list_del BENCH_MOUNTS "$tmp/mnt$L"
}

topic3 cs
CL=$L
resume TERM cs
broker_up "$CL"
for n in 1 2 3; do
	poll 60 alive_on "$tmp/mnt$n" 3 || die "mnt$n does not see three live brokers again"
done
topic3 fo
resume KILL fo

# ---- figures -----------------------------------------------------------------------

produce_figures
clients_figures
say ""
say "one-record end-to-end latency, write() -> consume read:"
say "  single node (same mount):           $slat"
say "  cluster, leader $lat_leader -> broker $reader:       $clat"
say "    read by $where"
say ""
# fig LINE: resume.py's line as the figures.
fig() {
	echo "$1" | awk '{ printf "first ack %.2f s, longest stall %.2f s (first on %s; process exit %.2f s, mount gone %s s; failed writes %s)", $2, $4, $10, $6, $8, $12 }'
}
say "controlled shutdown: SIGTERM to leader $CL -> writes through the survivors' mounts"
say "  $(fig "$(cat "$tmp/cs.resume")")"
say "failover: kill -9 of leader $L -> writes through the survivors' mounts"
say "  (zookeeper.session.timeout.ms=$BENCH_CLUSTER_SESSION_MS): $(fig "$(cat "$tmp/fo.resume")")"
exit 0
