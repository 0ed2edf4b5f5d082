#!/bin/sh
# contrib/bench/atrest.sh — what a daemon costs with nothing to do
# (POSIX sh, kcat for the Kafka group).
#
#   sh contrib/bench/atrest.sh [BUILD_DIR]     (BUILD_DIR default: build)
#   sh contrib/bench/atrest.sh --pid PID       (a daemon already running)
#
# A benchmark, not a test: it prints figures. Without --pid it mounts one
# daemon with a PLAINTEXT listener, makes REST_TOPICS topics of
# REST_PARTITIONS partitions, a Kafka consumer group that committed and
# left (kcat -G, Empty with its offsets) and a consume file's group whose
# member stays parked on a read, and lets it rest 5 s first. Then, over
# REST_SECONDS of quiet: the daemon's CPU (utime + stime of
# /proc/PID/stat, in % of one core) and the wake-ups a second of each
# thread (voluntary + nonvoluntary context switches of
# /proc/PID/task/TID/status), threads of one name summed, busiest first.
#
# Environment:
#   REST_TOPICS=100   REST_PARTITIONS=1   REST_SECONDS=60
#   BENCH_DIR=$TMPDIR or /tmp

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=atrest
REST_TOPICS=${REST_TOPICS:-100}
REST_PARTITIONS=${REST_PARTITIONS:-1}
REST_SECONDS=${REST_SECONDS:-60}

# switches PID: "name count" per thread, count its context switches.
switches() {
	for _t in /proc/"$1"/task/*; do
		_n=$(cat "$_t/comm" 2>/dev/null) || continue
		awk -v n="$_n" '/^(non)?voluntary_ctxt_switches/ { s += $2 }
			END { print n, s }' "$_t/status" 2>/dev/null
	done
}

# rest_sample PID SECONDS: the figures above.
rest_sample() {
	_hz=$(getconf CLK_TCK)
	_c0=$(awk '{ print $14 + $15 }' /proc/"$1"/stat)
	switches "$1" >"$tmp/sw0"
	sleep "$2"
	_c1=$(awk '{ print $14 + $15 }' /proc/"$1"/stat)
	switches "$1" >"$tmp/sw1"
	awk -v a="$_c0" -v b="$_c1" -v hz="$_hz" -v s="$2" 'BEGIN {
		printf "CPU %.3f %% of a core (%d ticks in %d s)\n",
			100 * (b - a) / hz / s, b - a, s }'
	awk -v s="$2" 'NR == FNR { a[$1] += $2; next } { b[$1] += $2 }
		END { for (n in b) { d = b[n] - a[n]; t += d
			printf "%-18s %8.2f\n", n, d / s }
			printf "%-18s %8.2f\n", "(all threads)", t / s }' \
		"$tmp/sw0" "$tmp/sw1" | sort -k2 -rn
}

if [ "${1:-}" = --pid ]; then
	[ -d "/proc/${2:-x}" ] || die "no process ${2:-}"
	tmp=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/mqfs-atrest.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	rest_sample "$2" "$REST_SECONDS"
	exit 0
fi

bench_build "${1:-build}"
command -v kcat >/dev/null 2>&1 || die "kcat is needed"
[ -c /dev/fuse ] || die "/dev/fuse missing"
bench_tmp mqfs-atrest
MNT=$tmp/mnt
PORT=$(free_port)
printf 'listeners=PLAINTEXT://127.0.0.1:%s\nnum.partitions=%s\n' "$PORT" "$REST_PARTITIONS" \
	>"$tmp/server.properties"
mount_daemon "$MNT" "$tmp/daemon.log" "$BUILD/mqfs" -f -o no_uring --data "$tmp/data" \
	--config "$tmp/server.properties" "$MNT" ||
	die "mount did not come up: $(tail -n 3 "$tmp/daemon.log")"
pid=$DPID
i=0
while [ "$i" -lt "$REST_TOPICS" ]; do
	mkdir "$MNT/t$i" || die "mkdir t$i"
	i=$((i + 1))
done
printf 'a\nb\n' >"$MNT/t0/0" || die "write t0"
kcat -b "127.0.0.1:$PORT" -G kg -e -q -X auto.offset.reset=earliest t0 >/dev/null 2>&1 ||
	die "kcat -G kg"
mkdir "$MNT/t0/.groups/g" || die "mkdir group"
cat "$MNT/t0/.groups/g/consume" >/dev/null &
reader=$!
sleep 5
say "single node, $REST_TOPICS topics of $REST_PARTITIONS partitions, $REST_SECONDS s:"
rest_sample "$pid" "$REST_SECONDS"
kill "$reader" 2>/dev/null
wait "$reader" 2>/dev/null
unmount "$MNT" "$pid"
