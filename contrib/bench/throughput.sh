#!/bin/sh
# contrib/bench/throughput.sh — sequential write/read throughput (POSIX sh).
#
#   sh contrib/bench/throughput.sh [BUILD_DIR]        (BUILD_DIR default: build)
#
# A benchmark, not a test: it prints figures and exits 0 unless it could not
# measure anything. One run measures three targets on the same filesystem:
#   plain        a plain file in the bench dir
#   passthrough  BUILD_DIR/mqfs-passthrough (same FUSE channel settings as
#                mqfs: direct_io, 1 MiB requests, mt loop) over a dir there
#   ptcache      the same passthrough in its page-cache mode (MQFS_PT_CACHE=1:
#                readers use the page cache, as mqfs's partition files do)
#   mqfs         BUILD_DIR/mqfs -f --data DIR MNT; mkdir MNT/bench; the file
#                is MNT/bench/0 (rep 2, 3... use topics bench2, bench3...)
# Both daemons are mounted once at the start and stay mounted for the whole
# run; a target that cannot be set up is reported SKIPPED.
# Source: BENCH_MB MiB of 100-byte lines (99 chars + '\n', all distinct),
# generated once. Per rep: sync (untimed), write with `dd if=SRC of=TARGET bs=1M`, read with
# `cat TARGET > /dev/null`, then a second read the same way (the "second
# read": committed data again, from the page cache where the target keeps
# one), wall time by `date +%s.%N`, then the rep's data is
# deleted (rm; rmdir of the topic on mqfs). The last rep is first compared
# with the source (cmp) and its st_blksize recorded.
#
# The reps are interleaved: round R = 1..BENCH_REPS runs one rep of every
# target, in BENCH_TARGETS order rotated left by R-1 (round 1: plain
# passthrough mqfs, round 2: passthrough mqfs plain, round 3: mqfs plain
# passthrough, ...), so that no target always follows the same one. On a
# shared VM the speed of writing into the page cache drifts by several times
# over tens of seconds; targets measured one after the other in the same
# round see about the same machine, targets measured minutes apart do not.
# Peak RSS (VmHWM) of each daemon is read after the last round.
#
# Results: medians over the reps, in MiB/s and records/s; the ratios of those
# medians (mqfs / passthrough, passthrough / plain); and the median over the
# rounds of each round's own mqfs / passthrough ratio (that round's
# passthrough time over its mqfs time, write and read separately), which
# cancels the drift between rounds:
#   mqfs / passthrough, median of per-round ratios: write 0.62  read 0.70
# and each daemon's CPU time per MiB written and per MiB read the first
# time (utime + stime from /proc/PID/stat around the dd and the cat).
#
# Environment:
#   BENCH_MB=1024        source size in MiB
#   BENCH_REPS=3         repetitions per target
#   BENCH_DIR=$TMPDIR or /tmp   where the temp dir goes (source, targets, data)
#   BENCH_TARGETS="plain passthrough ptcache mqfs"
#   BENCH_DROP_CACHES=0  1: try `echo 3 > /proc/sys/vm/drop_caches` before each
#                        read (global and needs root; never required)
#   BENCH_OP_TIMEOUT=900 seconds allowed for one dd or cat

# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
BENCH_NAME=throughput
BENCH_MB=${BENCH_MB:-1024}
BENCH_REPS=${BENCH_REPS:-3}
BENCH_TARGETS=${BENCH_TARGETS:-plain passthrough ptcache mqfs}
# Mount options of mqfs, e.g. BENCH_MQFS_OPTS="-o no_page_cache" to measure
# reads with direct I/O (the default reads through the page cache).
BENCH_MQFS_OPTS=${BENCH_MQFS_OPTS:-}
BENCH_DROP_CACHES=${BENCH_DROP_CACHES:-0}
BENCH_OP_TIMEOUT=${BENCH_OP_TIMEOUT:-900}

case $BENCH_MB in '' | *[!0-9]*) die "BENCH_MB must be a positive integer" ;; esac
case $BENCH_REPS in '' | *[!0-9]*) die "BENCH_REPS must be a positive integer" ;; esac
if [ "$BENCH_MB" -le 0 ] || [ "$BENCH_REPS" -le 0 ]; then
	die "BENCH_MB and BENCH_REPS must be > 0"
fi
bench_build "${1:-build}"
bench_tmp mqfs-bench

# ---- helpers ---------------------------------------------------------------
hwm() {        # peak RSS of a pid, from /proc/PID/status
	awk '/^VmHWM:/ { print $2 " " $3 }' "/proc/$1/status" 2>/dev/null
}

TICK=$(getconf CLK_TCK 2>/dev/null || echo 100)
cpu_ticks() {  # utime + stime of a pid, dead threads included; 0 without one
	if [ -n "$1" ] && [ -r "/proc/$1/stat" ]; then
		# The command name, in parentheses, may hold spaces: fields after it.
		sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
	else
		echo 0
	fi
}

target_pid() { # the daemon serving a target, empty for plain
	case $1 in
	passthrough) echo "$ptpid" ;;
	ptcache) echo "$ptcpid" ;;
	mqfs) echo "$mqpid" ;;
	esac
}

drop_caches() {
	[ "$BENCH_DROP_CACHES" = 1 ] || return 1
	sync
	{ echo 3 >/proc/sys/vm/drop_caches; } 2>/dev/null
}

# Target specifics, by name. target_path NAME REP; prepare NAME REP; discard NAME REP
target_path() {
	case $1 in
	plain) echo "$tmp/plain/file" ;;
	passthrough) echo "$tmp/pt-mnt/file" ;;
	ptcache) echo "$tmp/ptc-mnt/file" ;;
	mqfs) if [ "$2" -eq 1 ]; then echo "$tmp/mq-mnt/bench/0"; else echo "$tmp/mq-mnt/bench$2/0"; fi ;;
	esac
}

prepare() {
	case $1 in
	plain | passthrough | ptcache) rm -f "$(target_path "$1" "$2")" ;;
	mqfs) [ "$2" -eq 1 ] || mkdir "$tmp/mq-mnt/bench$2" ;;
	esac
}

discard() {    # free the space of a finished rep (best effort)
	case $1 in
	plain | passthrough | ptcache) rm -f "$(target_path "$1" "$2")" ;;
	mqfs) rmdir "$(dirname "$(target_path "$1" "$2")")" 2>/dev/null || : ;;
	esac
}

# ---- source data -------------------------------------------------------------
LINES=$((BENCH_MB * 1048576 / 100))
BYTES=$((LINES * 100))
SRC=$tmp/src.txt

# Space: the source, one plain/passthrough copy at a time, and up to BENCH_REPS
# copies inside mqfs if it cannot delete topics.
need_mb=$((BENCH_MB * (2 + BENCH_REPS) + 256))
avail_mb=$(df -Pm "$tmp" | awk 'NR == 2 { print $4 }')
if [ -n "$avail_mb" ] && [ "$avail_mb" -lt "$need_mb" ]; then
	die "need about $need_mb MiB free in $BENCH_DIR, have $avail_mb MiB (set BENCH_MB or BENCH_DIR)"
fi

t0=$(now)
awk -v n="$LINES" 'BEGIN {
	p = "abcdefghijklmnopqrstuvwxyz"; p = p p p p p   # 130 chars
	for (i = 0; i < n; i++) printf "%012d %s\n", i, substr(p, i % 26 + 1, 86)
}' >"$SRC" || die "could not generate $SRC"
t1=$(now)
[ "$(wc -c <"$SRC")" -eq "$BYTES" ] || die "generated source has the wrong size"

say "throughput: $LINES records of 100 bytes = $BYTES bytes ($(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1048576 }') MiB), $BENCH_REPS reps, median reported"
say "  bench dir: $tmp ($(df -PT "$tmp" | awk 'NR == 2 { print $2 " on " $1 }'))"
say "  source generated in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: $(head -c 60 "$SRC")..."
say "  write: sync, then dd if=SRC of=TARGET bs=1M timed (no fsync: every target ends in the page cache)"
say "  read:  cat TARGET > /dev/null"
if drop_caches; then
	DROPPED="yes (before every read)"
elif [ "$BENCH_DROP_CACHES" = 1 ]; then
	DROPPED="no (BENCH_DROP_CACHES=1 but writing /proc/sys/vm/drop_caches failed)"
	BENCH_DROP_CACHES=0
else
	DROPPED="no (BENCH_DROP_CACHES=0): reads of plain/passthrough come from the page cache"
fi
say "  page cache dropped: $DROPPED"
say ""

# mount_pt TARGET PREFIX ENV=VALUE — mounts the passthrough over
# $tmp/PREFIX-src on $tmp/PREFIX-mnt with ENV=VALUE; DPID. 1 (said why) if not.
mount_pt() {
	pt=$BUILD/mqfs-passthrough
	if [ ! -x "$pt" ]; then
		say "  $1: SKIPPED: $pt not built (make build/mqfs-passthrough)"
		return 1
	fi
	mkdir -p "$tmp/$2-src"
	if ! mount_daemon "$tmp/$2-mnt" "$tmp/$2.log" env "$3" "$pt" -f "$tmp/$2-src" "$tmp/$2-mnt"; then
		say "  $1: SKIPPED: mount failed:"
		tail -n 5 "$tmp/$2.log" | sed 's/^/    | /'
		return 1
	fi
}

# ---- set up every target once ---------------------------------------------------
# ACTIVE := the targets that could be set up, in BENCH_TARGETS order. The
# daemons stay mounted until after the last round.
ACTIVE=""
SEEN=""
ptpid=""
ptcpid=""
mqpid=""
for target in $BENCH_TARGETS; do
	case " $SEEN " in *" $target "*) say "  $target: listed twice, measured once"; continue ;; esac
	SEEN="$SEEN $target"
	case $target in
	plain)
		mkdir -p "$tmp/plain"
		;;
	passthrough)
		mount_pt passthrough pt MQFS_PT_CACHE=0 || continue
		ptpid=$DPID
		;;
	ptcache)
		mount_pt ptcache ptc MQFS_PT_CACHE=1 || continue
		ptcpid=$DPID
		;;
	mqfs)
		mq=$BUILD/mqfs
		if [ ! -x "$mq" ]; then
			say "  mqfs: SKIPPED: $mq not built yet"
			continue
		fi
		mkdir -p "$tmp/mq-data"
		if ! mount_daemon "$tmp/mq-mnt" "$tmp/mq.log" "$mq" -f --data "$tmp/mq-data" $BENCH_MQFS_OPTS "$tmp/mq-mnt"; then
			say "  mqfs: SKIPPED: mount failed:"
			tail -n 5 "$tmp/mq.log" | sed 's/^/    | /'
			continue
		fi
		mqpid=$DPID
		if ! err=$(timeout -k 5 30 mkdir "$tmp/mq-mnt/bench" 2>&1); then
			say "  mqfs: SKIPPED: mkdir MNT/bench failed: $err"
			unmount "$tmp/mq-mnt" "$mqpid"
			mqpid=""
			continue
		fi
		;;
	*)
		say "  unknown target '$target' (plain, passthrough, ptcache, mqfs)"
		continue
		;;
	esac
	: >"$tmp/$target.w"
	: >"$tmp/$target.r"
	: >"$tmp/$target.r2"
	ACTIVE="$ACTIVE $target"
done
[ -n "$ACTIVE" ] || die "no target could be measured"

# ---- one rep of one target ---------------------------------------------------------
# run_rep NAME REP — one write+read; appends to $tmp/NAME.{w,r}. The last rep
# also records $tmp/NAME.{ok,bs}. The rep's data is discarded afterwards, so
# every round runs with the same files around.
run_rep() {
	name=$1
	rep=$2
	if ! prepare "$name" "$rep"; then
		say "  $name: rep $rep: preparing the target failed"
		return 1
	fi
	tp=$(target_path "$name" "$rep")
	# Every write starts with no dirty pages waiting: otherwise the
	# target measured later pays for the writeback of those before it.
	sync
	dpid=$(target_pid "$name")
	ca=$(cpu_ticks "$dpid")
	a=$(now)
	if ! timeout --foreground -k 5 "$BENCH_OP_TIMEOUT" dd if="$SRC" of="$tp" bs=1M status=none; then
		say "  $name: rep $rep: dd write failed or timed out"
		return 1
	fi
	b=$(now)
	cb=$(cpu_ticks "$dpid")
	[ "$BENCH_DROP_CACHES" = 1 ] && drop_caches
	cc=$(cpu_ticks "$dpid")
	c=$(now)
	if ! timeout --foreground -k 5 "$BENCH_OP_TIMEOUT" cat "$tp" >/dev/null; then
		say "  $name: rep $rep: cat read failed or timed out"
		return 1
	fi
	d=$(now)
	cd=$(cpu_ticks "$dpid")
	if ! timeout --foreground -k 5 "$BENCH_OP_TIMEOUT" cat "$tp" >/dev/null; then
		say "  $name: rep $rep: second cat read failed or timed out"
		return 1
	fi
	e=$(now)
	w=$(elapsed "$a" "$b")
	rd=$(elapsed "$c" "$d")
	rd2=$(elapsed "$d" "$e")
	echo "$w" >>"$tmp/$name.w"
	echo "$rd" >>"$tmp/$name.r"
	echo "$rd2" >>"$tmp/$name.r2"
	[ -n "$dpid" ] && echo "$ca $cb $cc $cd" | awk -v t="$TICK" -v mb="$BENCH_MB" \
		'{ printf "%.3f %.3f\n", ($2 - $1) * 1000 / t / mb, ($4 - $3) * 1000 / t / mb }' \
		>>"$tmp/$name.cpu"
	say "  $name: rep $rep: write $w s, read $rd s, second read $rd2 s"
	if [ "$rep" -eq "$BENCH_REPS" ]; then
		stat -c %o "$tp" >"$tmp/$name.bs" 2>/dev/null
		if timeout --foreground -k 5 "$BENCH_OP_TIMEOUT" cmp -s "$SRC" "$tp"; then
			echo yes >"$tmp/$name.ok"
		else
			echo "NO" >"$tmp/$name.ok"
			say "  $name: WARNING: read-back of the last rep differs from the source"
		fi
	fi
	discard "$name" "$rep"
	return 0
}

rotate() {     # rotate N WORD... — the WORDs rotated left by N
	rot_n=$(($1 % ($# - 1)))
	shift
	while [ "$rot_n" -gt 0 ]; do
		set -- "$@" "$1"
		shift
		rot_n=$((rot_n - 1))
	done
	echo "$*"
}

# ---- interleaved rounds ------------------------------------------------------------
# Round R runs one rep of each target, ACTIVE rotated left by R-1. A target
# whose rep fails leaves LIVE and is not measured in later rounds.
LIVE=$ACTIVE
round=1
while [ "$round" -le "$BENCH_REPS" ] && [ -n "$LIVE" ]; do
	# shellcheck disable=SC2086  # ACTIVE is a list of words
	for target in $(rotate $((round - 1)) $ACTIVE); do
		case " $LIVE " in *" $target "*) ;; *) continue ;; esac
		if ! run_rep "$target" "$round"; then
			say "  $target: not measured further"
			LIVE=$(for t in $LIVE; do [ "$t" = "$target" ] || printf ' %s' "$t"; done)
		fi
	done
	round=$((round + 1))
done
DONE=$LIVE

# Peak RSS over the whole run, then unmount (the exit trap would do it too).
if [ -n "$ptpid" ]; then
	hwm "$ptpid" >"$tmp/passthrough.rss"
	unmount "$tmp/pt-mnt" "$ptpid"
fi
if [ -n "$ptcpid" ]; then
	hwm "$ptcpid" >"$tmp/ptcache.rss"
	unmount "$tmp/ptc-mnt" "$ptcpid"
fi
if [ -n "$mqpid" ]; then
	hwm "$mqpid" >"$tmp/mqfs.rss"
	unmount "$tmp/mq-mnt" "$mqpid"
fi

# ---- results -------------------------------------------------------------------
say ""
[ -n "$DONE" ] || die "no target could be measured"

for t in $DONE; do
	echo "$(median <"$tmp/$t.w") $(median <"$tmp/$t.r") $(median <"$tmp/$t.r2")" >"$tmp/$t.med"
done

say "results (medians of $BENCH_REPS; MiB = 1048576 bytes; record = one 100-byte line):"
printf '  %-12s %12s %14s %12s %14s %12s %8s %9s %12s\n' \
	target "write MiB/s" "write rec/s" "read MiB/s" "read rec/s" "2nd rd MiB/s" verified \
	st_blksz "peak RSS"
for t in $DONE; do
	read -r w rd rd2 <"$tmp/$t.med"
	rss=$(cat "$tmp/$t.rss" 2>/dev/null)
	awk -v t="$t" -v w="$w" -v r="$rd" -v by="$BYTES" -v n="$LINES" \
	    -v ok="$(cat "$tmp/$t.ok" 2>/dev/null)" -v bs="$(cat "$tmp/$t.bs" 2>/dev/null)" \
	    -v r2="$rd2" -v rss="${rss:--}" 'BEGIN {
		printf "  %-12s %12.1f %14.0f %12.1f %14.0f %12.1f %8s %9s %12s\n",
		       t, by / 1048576 / w, n / w, by / 1048576 / r, n / r, by / 1048576 / r2,
		       ok, bs, rss
	}'
done

# The daemons' CPU time per MiB (utime + stime over the dd and over the
# first cat, in /proc/PID/stat's clock ticks): what each target costs,
# which moves less than its wall time on a shared machine.
say ""
say "daemon CPU per MiB (ms, utime + stime, median of $BENCH_REPS):"
for t in $DONE; do
	[ -s "$tmp/$t.cpu" ] || continue
	say "  $(printf '%-12s' "$t") write $(cut -d' ' -f1 "$tmp/$t.cpu" | median | awk '{ printf "%.3f", $1 }')  first read $(cut -d' ' -f2 "$tmp/$t.cpu" | median | awk '{ printf "%.3f", $1 }')"
done

ratio() {      # ratio A B — "write x.xx  read x.xx" of A's speed over B's
	case " $DONE " in *" $1 "*) ;; *) echo "n/a ($1 not measured)"; return ;; esac
	case " $DONE " in *" $2 "*) ;; *) echo "n/a ($2 not measured)"; return ;; esac
	read -r aw ar _ <"$tmp/$1.med"
	read -r bw br _ <"$tmp/$2.med"
	awk -v aw="$aw" -v ar="$ar" -v bw="$bw" -v br="$br" \
		'BEGIN { printf "write %.2f  read %.2f", bw / aw, br / ar }'
}
round_ratio() {  # round_ratio A B — median over the rounds of A's speed over B's
	case " $DONE " in *" $1 "*) ;; *) echo "n/a ($1 not measured)"; return ;; esac
	case " $DONE " in *" $2 "*) ;; *) echo "n/a ($2 not measured)"; return ;; esac
	# Line i of NAME.w and NAME.r is round i for every target in DONE.
	rw=$(paste "$tmp/$2.w" "$tmp/$1.w" | awk '$2 > 0 { print $1 / $2 }' | median)
	rr=$(paste "$tmp/$2.r" "$tmp/$1.r" | awk '$2 > 0 { print $1 / $2 }' | median)
	awk -v w="$rw" -v r="$rr" 'BEGIN { printf "write %.2f  read %.2f", w, r }'
}
second_ratio() {  # second_ratio A B — A's second-read speed over B's: medians, per-round median
	case " $DONE " in *" $1 "*) ;; *) echo "n/a ($1 not measured)"; return ;; esac
	case " $DONE " in *" $2 "*) ;; *) echo "n/a ($2 not measured)"; return ;; esac
	read -r _ _ a2 <"$tmp/$1.med"
	read -r _ _ b2 <"$tmp/$2.med"
	rr=$(paste "$tmp/$2.r2" "$tmp/$1.r2" | awk '$2 > 0 { print $1 / $2 }' | median)
	spread=$(paste "$tmp/$2.r2" "$tmp/$1.r2" | awk '$2 > 0 { print $1 / $2 }' | sort -n |
		awk 'NR == 1 { lo = $1 } { hi = $1 } END { printf "%.2f-%.2f", lo, hi }')
	awk -v a="$a2" -v b="$b2" -v r="$rr" -v s="$spread" \
		'BEGIN { printf "%.2f (per-round median %.2f, range %s)", b / a, r, s }'
}
say ""
say "ratios (speed / speed):"
say "  mqfs / passthrough:   $(ratio mqfs passthrough)"
say "  mqfs / passthrough, median of per-round ratios: $(round_ratio mqfs passthrough)"
say "  passthrough / plain:  $(ratio passthrough plain)"
say "  second read, mqfs / passthrough in page-cache mode: $(second_ratio mqfs ptcache)"
say "  page cache dropped before reads: $DROPPED"
exit 0
