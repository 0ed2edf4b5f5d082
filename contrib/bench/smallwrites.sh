#!/bin/sh
# contrib/bench/smallwrites.sh — small writes and compressed streaming
# (POSIX sh).
#
#   sh contrib/bench/smallwrites.sh [BUILD_DIR]        (BUILD_DIR default: build)
#
# A benchmark, not a test: it prints figures. In one run:
#   small writes   one write() per 100-byte record (dd bs=100), SMALL_RECORDS
#                  records in all, by 1, 2 and 4 concurrent writers (each
#                  its own dd on its share of the records, all appending to
#                  the same file): the passthrough daemon (the FUSE round
#                  trip, the ceiling) and mqfs (one partition file), and
#                  mqfs's rate as a percentage of the passthrough's.
#   control        the same small writes against a second passthrough whose
#                  write handler spends SMALL_CONTROL_US microseconds busy
#                  before replying (MQFS_PT_WRITE_WORK_US, passthrough.c), by
#                  1 and 2 writers: how the rate depends on the handler's
#                  time alone (two O_APPEND writers fall off a cliff once a
#                  write takes a few microseconds, whoever serves it)
#   streaming      dd bs=1M of SMALL_STREAM_MB MiB of 100-byte log-like
#                  lines into a topic with compression.type=none and =lz4:
#                  MB/s and the bytes of the .log segments.
#   many segments  one-record writes by one writer into a partition of
#                  SMALL_SEG_MB MiB in segments of 16 KiB (about 4,000),
#                  against a new partition, alternating: records/s and
#                  the ratio (a write's cost must not grow with the
#                  segments behind it).
# Wall time by `date +%s.%N`; medians over SMALL_REPS repetitions.
#
# Environment:
#   SMALL_RECORDS=200000   records per small-write run
#   SMALL_WRITERS="1 2 4"  concurrent writers
#   SMALL_STREAM_MB=256    size of the streaming input
#   SMALL_REPS=3
#   SMALL_CONTROL_US=3     0: no control rows; a fraction allowed
#   SMALL_SEG_MB=32        the many-segment partition's data (16 KiB segments)
#   SMALL_SEG_RECORDS=20000  its one-record writes (at most SMALL_RECORDS)
#   BENCH_DIR=$TMPDIR or /tmp

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=smallwrites
SMALL_RECORDS=${SMALL_RECORDS:-200000}
SMALL_WRITERS=${SMALL_WRITERS:-1 2 4}
SMALL_STREAM_MB=${SMALL_STREAM_MB:-256}
SMALL_REPS=${SMALL_REPS:-3}
SMALL_CONTROL_US=${SMALL_CONTROL_US:-3}
SMALL_SEG_MB=${SMALL_SEG_MB:-32}
SMALL_SEG_RECORDS=${SMALL_SEG_RECORDS:-20000}

# Microseconds, a fraction allowed (0.5): the cliff is about 1 us wide.
case $SMALL_CONTROL_US in
'' | .* | *. | *.*.* | *[!0-9.]*) die "SMALL_CONTROL_US: a non-negative number (3, 0.5)" ;;
esac
for v in "$SMALL_RECORDS" "$SMALL_STREAM_MB" "$SMALL_REPS" "$SMALL_SEG_MB" "$SMALL_SEG_RECORDS"; do
	case $v in '' | *[!0-9]* | 0) die "SMALL_RECORDS, SMALL_STREAM_MB, SMALL_REPS, SMALL_SEG_MB, SMALL_SEG_RECORDS: positive integers" ;; esac
done
bench_build "${1:-build}"
[ -x "$BUILD/mqfs" ] || die "$BUILD/mqfs not built"
[ -x "$BUILD/mqfs-passthrough" ] || die "$BUILD/mqfs-passthrough not built"
[ -c /dev/fuse ] || { say "smallwrites: /dev/fuse missing: SKIPPED"; exit 0; }
bench_tmp mqfs-small

# ---- inputs ----
records "$SMALL_RECORDS" "$tmp/src"
mkdir -p "$tmp/ptdir"
mount_daemon "$tmp/pt" "$tmp/pt.log" "$BUILD/mqfs-passthrough" -f "$tmp/ptdir" "$tmp/pt" ||
	die "passthrough did not mount: $(tail -n 3 "$tmp/pt.log")"
mount_daemon "$tmp/mq" "$tmp/mq.log" "$BUILD/mqfs" -f --data "$tmp/data" "$tmp/mq" ||
	die "mqfs did not mount: $(tail -n 3 "$tmp/mq.log")"

# run_writers N TARGET — N dd's, one write() per record, each on its share;
# prints seconds.
run_writers() { dd_writers "$1" "$2" "$tmp/src" "$SMALL_RECORDS"; }

# rates N TIMES — the records/s of each time in the file (N records each).
rates() { awk -v n="$1" '{ printf "%.0f\n", n / $1 }' "$2"; }

# ratios TIMES_A TIMES_B — B's rate over A's in each round (the rounds of
# A and B alternate, line by line): "lo-hi, median m".
ratios() {
	paste "$1" "$2" | awk '{ printf "%.2f\n", $1 / $2 }' > "$tmp/ratios"
	printf '%s, median %s' "$(spread < "$tmp/ratios")" "$(median < "$tmp/ratios")"
}

# rate_row WRITERS TIMES_A TIMES_B — one table row: the records/s of the
# median times in each file with their spread (min-max over the rounds),
# B's rate as a percentage of A's, and the rounds' own ratios.
rate_row() {
	_ta=$(median < "$2")
	_tb=$(median < "$3")
	printf '  %-8s %8.0f (%s) %8.0f (%s) %7.1f%%  %s\n' "$1" \
		"$(echo "$SMALL_RECORDS / $_ta" | bc -l)" "$(rates "$SMALL_RECORDS" "$2" | spread)" \
		"$(echo "$SMALL_RECORDS / $_tb" | bc -l)" "$(rates "$SMALL_RECORDS" "$3" | spread)" \
		"$(echo "100 * $_ta / $_tb" | bc -l)" "$(ratios "$2" "$3")"
}

say "small writes: $SMALL_RECORDS records of 100 bytes, one write() each (dd bs=100), median of $SMALL_REPS (spread), and the rounds' ratios"
printf '  %-8s %s / %s / %s / %s\n' writers "passthrough/s (spread)" "mqfs/s (spread)" "mqfs %" "rounds' ratios"
rep_n=0
for w in $SMALL_WRITERS; do
	: > "$tmp/t.pt"
	: > "$tmp/t.mq"
	r=1
	while [ "$r" -le "$SMALL_REPS" ]; do
		rep_n=$((rep_n + 1))
		rm -f "$tmp/pt/f"
		run_writers "$w" "$tmp/pt/f" >> "$tmp/t.pt"
		mkdir "$tmp/mq/s$rep_n"
		run_writers "$w" "$tmp/mq/s$rep_n/0" >> "$tmp/t.mq"
		got=$(wc -l < "$tmp/mq/s$rep_n/0")
		[ "$got" -eq $((SMALL_RECORDS / w * w)) ] || say "  (mqfs: $got records, expected $((SMALL_RECORDS / w * w)))"
		rmdir "$tmp/mq/s$rep_n"
		r=$((r + 1))
	done
	rate_row "$w" "$tmp/t.pt" "$tmp/t.mq"
done

# ---- control: the passthrough with a slower write handler ----
if awk -v us="$SMALL_CONTROL_US" 'BEGIN { exit !(us > 0) }'; then
	mkdir -p "$tmp/ctldir"
	MQFS_PT_WRITE_WORK_US=$SMALL_CONTROL_US
	export MQFS_PT_WRITE_WORK_US
	mount_daemon "$tmp/ctl" "$tmp/ctl.log" "$BUILD/mqfs-passthrough" -f "$tmp/ctldir" "$tmp/ctl"
	ctl_ok=$?
	unset MQFS_PT_WRITE_WORK_US
	if [ "$ctl_ok" -eq 0 ]; then
		say ""
		say "control: the passthrough with $SMALL_CONTROL_US us of busy work per write before its reply, median of $SMALL_REPS (spread)"
		printf '  %-8s %s / %s / %s / %s\n' writers "passthrough/s (spread)" "+${SMALL_CONTROL_US}us/s (spread)" "%" "rounds' ratios"
		for w in 1 2; do
			: > "$tmp/t.pt"
			: > "$tmp/t.ctl"
			r=1
			while [ "$r" -le "$SMALL_REPS" ]; do
				rm -f "$tmp/pt/f" "$tmp/ctl/f"
				run_writers "$w" "$tmp/pt/f" >> "$tmp/t.pt"
				run_writers "$w" "$tmp/ctl/f" >> "$tmp/t.ctl"
				r=$((r + 1))
			done
			rate_row "$w" "$tmp/t.pt" "$tmp/t.ctl"
		done
		rm -f "$tmp/ctl/f"
	else
		say "control: the second passthrough did not mount: SKIPPED"
	fi
fi

# ---- streaming, lz4 vs none ----
awk -v mb="$SMALL_STREAM_MB" 'BEGIN { n = mb * 1048576 / 100;
	for (i = 0; i < n; i++) printf "%-99.99s\n", sprintf("ts=%010d level=INFO svc=api path=/v1/orders/%06d status=200 ms=%03d", i, i % 5000, i % 1000) }' \
	> "$tmp/stream"
sz=$(wc -c < "$tmp/stream")
say ""
say "streaming: $((sz / 1048576)) MiB of 100-byte log lines, dd bs=1M, median of $SMALL_REPS (spread)"
printf '  %-10s %10s %18s %16s\n' codec "MB/s" "(spread)" "segment bytes"
for codec in none lz4; do
	: > "$tmp/t.s"
	r=1
	while [ "$r" -le "$SMALL_REPS" ]; do
		rep_n=$((rep_n + 1))
		mkdir "$tmp/mq/c$rep_n"
		echo "compression.type=$codec" > "$tmp/mq/c$rep_n/.config"
		t0=$(now)
		dd if="$tmp/stream" of="$tmp/mq/c$rep_n/0" bs=1M status=none
		elapsed "$t0" "$(now)" >> "$tmp/t.s"
		logb=$(cat "$tmp/mq/c$rep_n/.segments/0/"*.log | wc -c)
		rmdir "$tmp/mq/c$rep_n"
		r=$((r + 1))
	done
	t=$(median < "$tmp/t.s")
	printf '  %-10s %10.1f %18s %16s\n' "$codec" "$(echo "$sz / 1000000 / $t" | bc -l)" \
		"($(awk -v b="$sz" '{ printf "%.1f\n", b / 1000000 / $1 }' "$tmp/t.s" | spread))" "$logb"
done

# ---- one-record writes into a partition of many segments ----
# The same one-record writes (one writer) into a partition that holds
# SMALL_SEG_MB MiB in segments of 16 KiB, against a new partition of one
# segment, alternating: what a write pays for the segments behind it.
head -n "$SMALL_SEG_RECORDS" "$tmp/src" > "$tmp/segsrc"
mkdir "$tmp/mq/many"
echo segment.bytes=16384 > "$tmp/mq/many/.config"
records $((SMALL_SEG_MB * 1048576 / 100)) "$tmp/segfill"
dd if="$tmp/segfill" of="$tmp/mq/many/0" bs=16k status=none
rm -f "$tmp/segfill"
nseg=$(find "$tmp/mq/many/.segments/0" -name '*.log' | wc -l)
: > "$tmp/t.one"
: > "$tmp/t.many"
r=1
while [ "$r" -le "$SMALL_REPS" ]; do
	mkdir "$tmp/mq/one$r"
	dd_writers 1 "$tmp/mq/one$r/0" "$tmp/segsrc" "$SMALL_SEG_RECORDS" >> "$tmp/t.one"
	rmdir "$tmp/mq/one$r"
	dd_writers 1 "$tmp/mq/many/0" "$tmp/segsrc" "$SMALL_SEG_RECORDS" >> "$tmp/t.many"
	r=$((r + 1))
done
say ""
say "one-record writes, one writer, $SMALL_SEG_RECORDS records, median of $SMALL_REPS (spread)"
printf '  %-28s %12s\n' partition "records/s"
printf '  %-28s %12.0f (%s)\n' "one segment" "$(echo "$SMALL_SEG_RECORDS / $(median < "$tmp/t.one")" | bc -l)" \
	"$(rates "$SMALL_SEG_RECORDS" "$tmp/t.one" | spread)"
printf '  %-28s %12.0f (%s)  %.2f of one segment (rounds: %s)\n' "$nseg segments of 16 KiB" \
	"$(echo "$SMALL_SEG_RECORDS / $(median < "$tmp/t.many")" | bc -l)" \
	"$(rates "$SMALL_SEG_RECORDS" "$tmp/t.many" | spread)" \
	"$(echo "$(median < "$tmp/t.one") / $(median < "$tmp/t.many")" | bc -l)" \
	"$(ratios "$tmp/t.one" "$tmp/t.many")"
exit 0
