#!/bin/sh
# t_bench_redis.sh — contrib/bench/redis.sh at tiny sizes: every row of its
# table is measured against its own redis-server and mqfs, and nothing is
# left behind (no process working in its temp dir, nothing mounted, the temp
# dir removed), after a whole run and after a SIGTERM in the middle of one.
# Needs redis-server and redis-cli (sh contrib/install-deps.sh bench);
# skipped without them.
# shellcheck disable=SC2016  # sh -c scripts expand their own "$1"

LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
# shellcheck source=tests/integration/lib.sh
. "$LIBDIR/lib.sh"
mq_setup

BUILD=$(dirname "${MQFS:-build/mqfs}")
if ! command -v redis-server >/dev/null 2>&1 || ! command -v redis-cli >/dev/null 2>&1; then
	skip "redis.sh" "redis-server or redis-cli not installed (sh contrib/install-deps.sh bench)"
	mq_done
fi
BD=$MQ_TMP/bench
mkdir "$BD"

# left_in_bd — pids of processes whose working directory is under $BD
# (redis-server works in its dir there; mqfs's data dir is there too).
left_in_bd() {
	for p in /proc/[0-9]*; do
		case $(readlink "$p/cwd" 2>/dev/null) in "$BD"/*) printf '%s ' "${p#/proc/}" ;; esac
	done
}

mounts_in_bd() { awk -v t="$BD/" 'index($2, t) == 1 { print $2 }' /proc/mounts; }

# clean NAME — no process works in $BD, nothing is mounted under it, and
# it is empty. A leftover process can only come from the benchmark this
# script ran (the dir is private to it); it is killed by its pid so that a
# failure leaves nothing running.
clean() {
	left=$(left_in_bd)
	expect_eq "$1: nothing runs in the temp dir" "" "$left"
	for p in $left; do kill -KILL "$p" 2>/dev/null; done
	if proc_mounts_under "$BD"; then
		fail "$1: nothing mounted under the temp dir" "$(mounts_in_bd | tr '\n' ' ')"
		mounts_in_bd | while read -r m; do proc_unmount "$m"; done
	else
		ok "$1: nothing mounted under the temp dir"
	fi
	expect_eq "$1: temp dir removed" "" "$(ls -A "$BD")"
}

# bench SETTINGS... — redis.sh in the background with BENCH_DIR=$BD and
# these settings, output to $MQ_TMP/out
bench() {
	mq_bg env BENCH_DIR="$BD" "$@" sh -c 'exec sh contrib/bench/redis.sh "$1" > "$2" 2>&1' \
		sh "$BUILD" "$MQ_TMP/out"
}

# ---- a whole run ---------------------------------------------------------------
bench SMALL_RECORDS=2000 REDIS_RECORDS=20000 REDIS_COUNT=3000 BENCH_LAT_RECORDS=200 BENCH_REPS=2
if mq_wait "$MQ_LAST_PID" 240; then
	expect_eq "redis.sh exits 0" 0 "$MQ_RC"
else
	fail "redis.sh" "still running after 240 s"
fi
num='[0-9]+ +\([0-9]+-[0-9]+\)'
for label in "1 per round trip, records/s" "pipelined, records/s" "read back, records/s" \
	"latency p50, us" "latency p99, us"; do
	expect_eq "row: $label" 1 \
		"$(grep -cE "^  $label +$num +$num +[0-9]+\.[0-9]+$" "$MQ_TMP/out")"
done
expect_eq "no die message" 0 "$(grep -c '^redis: ' "$MQ_TMP/out")"
clean "whole run"

# ---- SIGTERM while it runs ------------------------------------------------------
bench SMALL_RECORDS=20000 REDIS_RECORDS=20000 BENCH_LAT_RECORDS=200 BENCH_REPS=1000
bpid=$MQ_LAST_PID
rpid=""
n=600
while [ "$n" -gt 0 ] && _mq_alive "$bpid"; do
	rpid=$(pgrep -P "$bpid" -x redis-server)
	[ -n "$rpid" ] && proc_mounts_under "$BD" && break
	n=$((n - 1))
	_mq_tick
done
if [ -z "$rpid" ] || ! proc_mounts_under "$BD"; then
	fail "redis.sh started" "no redis-server child and mqfs mount within 60 s: $(tail -n 3 "$MQ_TMP/out")"
	mq_done
fi
kill -TERM "$bpid"
if mq_wait "$bpid" 120; then
	expect_eq "redis.sh exits 143 on SIGTERM" 143 "$MQ_RC"
else
	fail "redis.sh after SIGTERM" "still running after 120 s"
fi
if _mq_alive "$rpid"; then
	fail "its redis-server $rpid stopped" "still running"
	kill -KILL "$rpid"
else
	ok "its redis-server stopped"
fi
clean "SIGTERM"
mq_done
