#!/bin/sh
# shellcheck disable=SC2317  # mq_* and rd_* are called as "mq_$m", "rd_$m"
# contrib/bench/redis.sh — Redis Streams beside mqfs on the same records
# (POSIX sh; python3 for a free port and the latency client).
#
#   sh contrib/bench/redis.sh [BUILD_DIR]        (BUILD_DIR default: build)
#
# A benchmark, not a test: it prints figures. It starts its own redis-server
# (Debian's redis-server; redis-cli from redis-tools) on 127.0.0.1 on a free
# port, with its own config in the temp dir: appendonly yes, appendfsync
# everysec, save "" (no RDB snapshots), auto-aof-rewrite-percentage 0 (the
# AOF only grows during the run, as mqfs's log does), dir in the temp dir;
# nothing is written anywhere else. It mounts mqfs beside it, and stops the
# server by its pid at the end (the exit trap does it on failure too).
#
# The records are those of smallwrites.sh: 100 bytes each (99 characters and
# '\n', all distinct). A Redis entry holds one field, v, whose value is the
# record's 99 characters. Per round, each pair below runs once on each side,
# mqfs first in odd rounds and Redis first in even ones:
#   one record per round trip   SMALL_RECORDS records. Redis: `redis-cli <
#               FILE` of one `XADD s * v "RECORD"` per line (redis-cli sends
#               each command and waits for its reply before reading the
#               next line). mqfs: one write() per record, dd bs=100, one
#               writer (smallwrites.sh's 1-writer row).
#   pipelined   REDIS_RECORDS records. Redis: `redis-cli --pipe` of the
#               XADDs in RESP, written in advance; they name each entry's ID
#               (1-1, 1-2, ...) so that the reads below can be written in
#               advance too. mqfs: the same records in one dd bs=1M.
#   read back   the REDIS_RECORDS records just written. Redis: `redis-cli
#               --pipe` of XREAD COUNT REDIS_COUNT STREAMS p ID, one per
#               chunk (redis-cli parses every reply and drops it). mqfs:
#               `cat` of the partition file to /dev/null.
#   latency     BENCH_LAT_RECORDS records, one at a time, by latency.py:
#               Redis XADD, then a blocking XREAD on a second connection;
#               mqfs write() to a partition file, then a parked read of a
#               group's consume file. p50 and p99 of each run.
# Wall time by `date +%s.%N`. Printed: the median over BENCH_REPS rounds with
# the spread (min-max), and mqfs / redis of the medians (for rates, above 1
# is mqfs faster; for latencies, below 1 is).
#
# Environment:
#   SMALL_RECORDS=200000      records per one-record-per-round-trip run
#   REDIS_RECORDS=1000000     records per pipelined run and read back
#   REDIS_COUNT=10000         XREAD COUNT
#   BENCH_LAT_RECORDS=10000   records per latency run
#   BENCH_REPS=3
#   BENCH_DIR=$TMPDIR or /tmp

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=redis
SMALL_RECORDS=${SMALL_RECORDS:-200000}
REDIS_RECORDS=${REDIS_RECORDS:-1000000}
REDIS_COUNT=${REDIS_COUNT:-10000}
BENCH_LAT_RECORDS=${BENCH_LAT_RECORDS:-10000}
BENCH_REPS=${BENCH_REPS:-3}
here=$(cd "$(dirname "$0")" && pwd -P) || exit 1

for v in "$SMALL_RECORDS" "$REDIS_RECORDS" "$REDIS_COUNT" "$BENCH_LAT_RECORDS" "$BENCH_REPS"; do
	case $v in '' | *[!0-9]* | 0) die "SMALL_RECORDS, REDIS_RECORDS, REDIS_COUNT, BENCH_LAT_RECORDS, BENCH_REPS: positive integers" ;; esac
done
bench_build "${1:-build}"
[ -x "$BUILD/mqfs" ] || die "$BUILD/mqfs not built"
for c in redis-server redis-cli python3; do
	command -v "$c" >/dev/null 2>&1 ||
		{ say "redis: $c not installed (sh contrib/install-deps.sh bench): SKIPPED"; exit 0; }
done
[ -c /dev/fuse ] || { say "redis: /dev/fuse missing: SKIPPED"; exit 0; }
bench_tmp mqfs-redis

# ---- inputs ----
records "$SMALL_RECORDS" "$tmp/small"
records "$REDIS_RECORDS" "$tmp/bulk"
awk '{ printf "XADD s * v \"%s\"\n", $0 }' "$tmp/small" > "$tmp/xadd.txt"
awk '{ id = "1-" NR
	printf "*5\r\n$4\r\nXADD\r\n$1\r\np\r\n$%d\r\n%s\r\n$1\r\nv\r\n$%d\r\n%s\r\n", length(id), id, length($0), $0 }' \
	"$tmp/bulk" > "$tmp/xadd.resp"
awk -v n="$REDIS_RECORDS" -v c="$REDIS_COUNT" 'BEGIN {
	for (k = 0; k * c < n; k++) {
		id = "1-" k * c
		printf "*6\r\n$5\r\nXREAD\r\n$5\r\nCOUNT\r\n$%d\r\n%d\r\n$7\r\nSTREAMS\r\n$1\r\np\r\n$%d\r\n%s\r\n",
			length(c ""), c, length(id), id
	} }' > "$tmp/xread.resp"
chunks=$(((REDIS_RECORDS + REDIS_COUNT - 1) / REDIS_COUNT))

# ---- the server ----
# A free port from the kernel; another program may take it before the
# server binds it, so a server that exits is retried on a new port, and the
# one that answers must report our pid.
mkdir "$tmp/redis"
RPID=""
try=1
while [ -z "$RPID" ] && [ "$try" -le 5 ]; do
	port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])') ||
		die "no free port"
	cat > "$tmp/redis.conf" <<EOF
bind 127.0.0.1
port $port
protected-mode yes
daemonize no
dir $tmp/redis
save ""
appendonly yes
appendfsync everysec
auto-aof-rewrite-percentage 0
EOF
	start_daemon "$tmp/redis.log" redis-server "$tmp/redis.conf"
	n=300
	while alive "$DPID"; do
		if REDISCLI_HISTFILE=/dev/null redis-cli -h 127.0.0.1 -p "$port" INFO server 2>/dev/null |
			grep -q "^process_id:$DPID"; then
			RPID=$DPID
			break
		fi
		[ "$n" -le 0 ] && die "redis-server did not answer in 30 s: $(tail -n 3 "$tmp/redis.log")"
		n=$((n - 1))
		proc_tick
	done
	[ -n "$RPID" ] || wait_exit "$DPID" 10
	try=$((try + 1))
done
[ -n "$RPID" ] || die "redis-server did not start: $(tail -n 3 "$tmp/redis.log")"
rcli() { REDISCLI_HISTFILE=/dev/null redis-cli -h 127.0.0.1 -p "$port" "$@"; }
version=$(redis-server --version | sed -n 's/.*v=\([^ ]*\).*/\1/p')

mount_daemon "$tmp/mq" "$tmp/mq.log" "$BUILD/mqfs" -f --data "$tmp/data" "$tmp/mq" ||
	die "mqfs did not mount: $(tail -n 3 "$tmp/mq.log")"
MPID=$DPID

# rate N T0 T1 — records per second
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%.0f\n", n / (b - a) }'; }

# expect WHAT GOT WANT — die unless GOT = WANT
expect() { [ "$2" = "$3" ] || die "$1: $2, expected $3"; }

# The measurements of one round R: each appends one figure to $tmp/<name>.
mq_small() {
	mkdir "$tmp/mq/w$1"
	t=$(dd_writers 1 "$tmp/mq/w$1/0" "$tmp/small" "$SMALL_RECORDS")
	rate "$SMALL_RECORDS" 0 "$t" >> "$tmp/mq.small"
	expect "mqfs one-record writes" "$(wc -l < "$tmp/mq/w$1/0")" "$SMALL_RECORDS"
	rmdir "$tmp/mq/w$1"
}
rd_small() {
	rcli DEL s > /dev/null
	a=$(now)
	rcli < "$tmp/xadd.txt" > "$tmp/xadd.out" || die "redis-cli < xadd.txt failed"
	b=$(now)
	rate "$SMALL_RECORDS" "$a" "$b" >> "$tmp/rd.small"
	expect "XLEN s" "$(rcli XLEN s)" "$SMALL_RECORDS"
}
mq_bulk() {
	mkdir "$tmp/mq/b$1"
	a=$(now)
	dd if="$tmp/bulk" of="$tmp/mq/b$1/0" bs=1M status=none || die "dd into mqfs failed"
	b=$(now)
	cat "$tmp/mq/b$1/0" > /dev/null || die "cat of mqfs failed"
	c=$(now)
	rate "$REDIS_RECORDS" "$a" "$b" >> "$tmp/mq.bulk"
	rate "$REDIS_RECORDS" "$b" "$c" >> "$tmp/mq.read"
	[ "$1" -eq 1 ] && { cmp -s "$tmp/bulk" "$tmp/mq/b1/0" || die "mqfs read back other records"; }
	rmdir "$tmp/mq/b$1"
}
rd_bulk() {
	rcli DEL p > /dev/null
	a=$(now)
	rcli --pipe < "$tmp/xadd.resp" > "$tmp/pipe.out" 2>&1 || die "XADD --pipe: $(tail -n 1 "$tmp/pipe.out")"
	b=$(now)
	rcli --pipe < "$tmp/xread.resp" > "$tmp/read.out" 2>&1 || die "XREAD --pipe: $(tail -n 1 "$tmp/read.out")"
	c=$(now)
	expect "XADD --pipe" "$(tail -n 1 "$tmp/pipe.out")" "errors: 0, replies: $REDIS_RECORDS"
	expect "XREAD --pipe" "$(tail -n 1 "$tmp/read.out")" "errors: 0, replies: $chunks"
	expect "XLEN p" "$(rcli XLEN p)" "$REDIS_RECORDS"
	rate "$REDIS_RECORDS" "$a" "$b" >> "$tmp/rd.bulk"
	rate "$REDIS_RECORDS" "$b" "$c" >> "$tmp/rd.read"
}
# lat_out NAME — p50 and p99 of latency.py's line on stdin into $tmp/NAME.p50, .p99
lat_out() {
	read -r line || die "no output from latency.py"
	say "$line" | awk '{ print $4 }' >> "$tmp/$1.p50"
	say "$line" | awk '{ print $7 }' >> "$tmp/$1.p99"
}
mq_lat() {
	mkdir "$tmp/mq/l$1" "$tmp/mq/l$1/.groups/bench"
	timeout 300 python3 "$here/latency.py" mqfs "$tmp/mq/l$1/0" "$tmp/mq/l$1/.groups/bench/consume" \
		"$BENCH_LAT_RECORDS" > "$tmp/lat.out" || die "latency.py mqfs failed"
	lat_out mq < "$tmp/lat.out"
	rmdir "$tmp/mq/l$1"
}
rd_lat() {
	rcli DEL lat > /dev/null
	timeout 300 python3 "$here/latency.py" redis "$port" lat "$BENCH_LAT_RECORDS" > "$tmp/lat.out" ||
		die "latency.py redis failed"
	lat_out rd < "$tmp/lat.out"
}

r=1
while [ "$r" -le "$BENCH_REPS" ]; do
	for m in small bulk lat; do
		if [ $((r % 2)) -eq 1 ]; then
			"mq_$m" "$r"
			"rd_$m" "$r"
		else
			"rd_$m" "$r"
			"mq_$m" "$r"
		fi
	done
	r=$((r + 1))
done
rcli DEL s p lat > /dev/null
stop_daemon "$RPID"
unmount "$tmp/mq" "$MPID"

# row LABEL FILE_REDIS FILE_MQFS — median (spread) of each, mqfs / redis
row() {
	_r=$(median < "$2")
	_m=$(median < "$3")
	awk -v l="$1" -v r="$_r" -v rs="($(spread < "$2"))" -v m="$_m" -v ms="($(spread < "$3"))" \
		'BEGIN { printf "  %-28s %9.0f %-21s %9.0f %-21s %10.2f\n", l, r, rs, m, ms, m / r }'
}
say "Redis $version (AOF, appendfsync everysec) and mqfs, 100-byte records, median (min-max) of $BENCH_REPS"
printf '  %-28s %9s %-21s %9s %-21s %10s\n' "" redis "" mqfs "" "mqfs/redis"
row "1 per round trip, records/s" "$tmp/rd.small" "$tmp/mq.small"
say "    (XADD by redis-cli / write() by dd bs=100; $SMALL_RECORDS records)"
row "pipelined, records/s" "$tmp/rd.bulk" "$tmp/mq.bulk"
say "    (XADD by redis-cli --pipe / dd bs=1M; $REDIS_RECORDS records)"
row "read back, records/s" "$tmp/rd.read" "$tmp/mq.read"
say "    (XREAD COUNT $REDIS_COUNT by redis-cli --pipe / cat)"
row "latency p50, us" "$tmp/rd.p50" "$tmp/mq.p50"
row "latency p99, us" "$tmp/rd.p99" "$tmp/mq.p99"
say "    (XADD -> XREAD BLOCK / write() -> consume; $BENCH_LAT_RECORDS records)"
exit 0
