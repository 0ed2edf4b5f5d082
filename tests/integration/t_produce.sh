#!/bin/sh
# t_produce.sh — producing like Kafka through a real mount: keyed lines
# through .produce land by key (the same partition across remounts),
# keyless lines spread evenly, lz4 makes segments several times smaller
# while cat returns identical bytes, a line over max.message.bytes fails
# with EMSGSIZE and leaves nothing, fsync works, and an O_NONBLOCK writer
# gets EAGAIN when buffer.memory is full while every acknowledged record is
# present exactly once.
# shellcheck disable=SC2016
LIBDIR=$(cd "$(dirname "$0")" && pwd -P)
. "$LIBDIR/lib.sh"
mq_setup
mq_mount

# ---- keyed lines land by key ----
K=$MNT/k
mkdir "$K"
printf 'partitions=4\nkey.separator=:\n' > "$K/.config"
for round in 1 2 3; do
	for i in $(seq 0 19); do echo "user$i:r$round"; done > "$MQ_TMP/keyed"
	expect_ok "keyed write round $round" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/keyed" "$K/.produce"
done
# partition of each key: the one file that holds it; exactly one
where() {   # where KEY -> partition numbers holding KEY, space separated
	for p in 0 1 2 3; do
		grep -q "^$1:" "$K/$p" && printf '%s ' "$p"
	done
}
bad=0
: > "$MQ_TMP/map1"
for i in $(seq 0 19); do
	w=$(where "user$i")
	case $w in
	[0-3]" ") echo "user$i $w" >> "$MQ_TMP/map1" ;;
	*) bad=$((bad + 1)) ;;
	esac
done
expect_eq "each key in exactly one partition" 0 "$bad"
expect_eq "every record of a key together" 60 "$(cat "$K"/0 "$K"/1 "$K"/2 "$K"/3 | wc -l | tr -d ' ')"
used=$(cut -d' ' -f2 "$MQ_TMP/map1" | sort -u | wc -l | tr -d ' ')
expect_ok "20 keys use more than one partition ($used)" test "$used" -gt 1
expect_ok "a key's lines keep their order" sh -c 'grep "^user7:" "$1"/* | cut -d: -f3 | tr "\n" " " | grep -qx "r1 r2 r3 "' sh "$K"
expect_ok "reading .produce returns nothing" test -z "$(mq_run cat "$K/.produce")"
mq_umount
mq_mount
for i in $(seq 0 19); do echo "user$i:again"; done > "$MQ_TMP/keyed"
expect_ok "keyed write after remount" sh -c 'cat "$1" > "$2"' sh "$MQ_TMP/keyed" "$K/.produce"
: > "$MQ_TMP/map2"
for i in $(seq 0 19); do echo "user$i $(where "user$i")" >> "$MQ_TMP/map2"; done
expect_same "same key, same partition across a remount" "$MQ_TMP/map1" "$MQ_TMP/map2"

# ---- keyless lines spread evenly ----
R=$MNT/rr
mkdir "$R"
echo 'partitions=4' > "$R/.config"
seq 1 1000 > "$R/.produce"
for i in $(seq 1 40); do echo "one$i" >> "$R/.produce"; done
spread=""
for p in 0 1 2 3; do spread="$spread $(wc -l < "$R/$p" | tr -d ' ')"; done
expect_eq "1040 keyless records in all" 1040 "$(cat "$R"/0 "$R"/1 "$R"/2 "$R"/3 | wc -l | tr -d ' ')"
expect_ok "round-robin: 260 each, give or take one ($spread)" sh -c '
	for n in $1; do [ "$n" -ge 259 ] && [ "$n" -le 261 ] || exit 1; done' sh "$spread"

# ---- compression ----
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "event=click page=/home/index.html user=%06d status=200 agent=Mozilla/5.0\n", i % 50 }' > "$MQ_TMP/compressible"
mkdir "$MNT/plain" "$MNT/z"
echo 'compression.type=lz4' > "$MNT/z/.config"
expect_ok "write 4 MB uncompressed" dd if="$MQ_TMP/compressible" of="$MNT/plain/0" bs=1M status=none
expect_ok "write 4 MB with lz4" dd if="$MQ_TMP/compressible" of="$MNT/z/0" bs=1M status=none
expect_same "lz4: cat returns identical bytes" "$MQ_TMP/compressible" "$MNT/z/0"
# The segments as the mount shows them (in the data directory the active
# segment's file may run ahead of its log: the mapped tail, README).
plain=$(cat "$MNT"/plain/.segments/0/*.log | wc -c)
lz=$(cat "$MNT"/z/.segments/0/*.log | wc -c)
expect_ok "lz4 segments several times smaller ($plain vs $lz bytes)" test $((lz * 4)) -lt "$plain"
expect_ok ".dump shows the codec" grep -q 'lz4' "$MNT/z/.segments/0/00000000000000000000.dump"
expect_ok "metrics: compression ratio of z above 4" sh -c '
	awk -F" " "/^mqfs_compression_ratio\\{topic=\"z\"\\}/ { exit !(\$2 > 4) }" "$1"' sh "$MNT/.metrics"
echo 'compression.type=gzip' > "$MNT/z/.config"
expect_ok "switch to gzip and append" sh -c 'seq 1 1000 >> "$1"' sh "$MNT/z/0"
seq 1 1000 > "$MQ_TMP/seq"
expect_ok "mixed codecs: cat equals both inputs" sh -c 'cat "$1" "$2" | cmp - "$3"' sh "$MQ_TMP/compressible" "$MQ_TMP/seq" "$MNT/z/0"

# ---- EMSGSIZE ----
M=$MNT/m
mkdir "$M"
echo 'max.message.bytes=2000' > "$M/.config"
echo small > "$M/0"
printf 'ok\n%05000d\nok\n' 1 > "$MQ_TMP/big"
# dd: the whole file in one write(), so the refusal covers all of it
expect_errno "a line over max.message.bytes: EMSGSIZE" EMSGSIZE dd if="$MQ_TMP/big" of="$M/0" bs=1M status=none
expect_errno "EMSGSIZE through .produce too" EMSGSIZE dd if="$MQ_TMP/big" of="$M/.produce" bs=1M status=none
expect_errno "EMSGSIZE from the shell's own write" EMSGSIZE bash -c 'printf "%05000d\n" 1 > "$1"' sh "$M/0"
expect_eq "nothing of it appended" "small" "$(mq_run cat "$M/0")"

# max.message.bytes bounds every stored batch, as Kafka's leader does, also
# below batch.size (16384): ten lines of 500 bytes in one write make ten
# batches, not one of 5 KiB; and a line of the longest size taken (93 bytes
# under the limit) that grows when compressed (base64 does, for snappy's and
# LZ4's framing) is stored uncompressed rather than over the limit.
B=$MNT/mb
mkdir "$B"
echo 'max.message.bytes=1000' > "$B/.config"
awk 'BEGIN { for (i = 0; i < 10; i++) { printf "%d-", i; for (j = 0; j < 498; j++) printf "x"; printf "\n" } }' \
	> "$MQ_TMP/ten"
expect_ok "ten lines of 500 bytes in one write" dd if="$MQ_TMP/ten" of="$B/0" bs=1M status=none
expect_same "read back as written" "$MQ_TMP/ten" "$B/0"
batch_max() { awk '/^baseOffset/ { for (i = 1; i < NF; i++) if ($i == "size:" && $(i + 1) > m) m = $(i + 1) } END { print m + 0 }' "$1"; }
expect_ok "every batch within max.message.bytes ($(batch_max "$B/.segments/0/00000000000000000000.dump") bytes at most)" \
	test "$(batch_max "$B/.segments/0/00000000000000000000.dump")" -le 1000
head -c 2000 /dev/urandom | base64 -w0 | head -c 907 > "$MQ_TMP/longest"
echo >> "$MQ_TMP/longest"
for c in snappy lz4 gzip zstd; do
	mkdir "$MNT/mb$c"
	printf 'max.message.bytes=1000\ncompression.type=%s\n' "$c" > "$MNT/mb$c/.config"
	expect_ok "$c: the longest line is taken" dd if="$MQ_TMP/longest" of="$MNT/mb$c/0" bs=1M status=none
	expect_same "$c: read back as written" "$MQ_TMP/longest" "$MNT/mb$c/0"
	expect_ok "$c: its batch within max.message.bytes ($(batch_max "$MNT/mb$c/.segments/0/00000000000000000000.dump") bytes)" \
		test "$(batch_max "$MNT/mb$c/.segments/0/00000000000000000000.dump")" -le 1000
done

# ---- fsync ----
expect_ok "fsync of a partition file" dd if="$MQ_TMP/seq" of="$MNT/plain/0" bs=4k conv=fsync status=none
expect_ok "fsync of .produce" dd if="$MQ_TMP/seq" of="$MNT/rr/.produce" bs=4k conv=fsync status=none
# acks=0 and group commit: two writers on one partition through two files
# (its partition file and .produce: the kernel serializes one file only);
# fsync (conv=fsync) returns after every queued write of the file is in.
A=$MNT/a0
mkdir "$A"
echo 'acks=0' > "$A/.config"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "p-%06d\n", i }' > "$MQ_TMP/a1"
awk 'BEGIN { for (i = 0; i < 20000; i++) printf "q-%06d\n", i }' > "$MQ_TMP/a2"
mq_bg dd if="$MQ_TMP/a1" of="$A/0" bs=9 conv=fsync status=none
a1=$MQ_LAST_PID
mq_bg dd if="$MQ_TMP/a2" of="$A/.produce" bs=9 conv=fsync status=none
a2=$MQ_LAST_PID
mq_wait "$a1" 120
expect_eq "acks=0 writer 1 done" 0 "$MQ_RC"
mq_wait "$a2" 120
expect_eq "acks=0 writer 2 done" 0 "$MQ_RC"
expect_ok "acks=0: every record once, each writer's in order" sh -c '
	cat "$1" > "$4"
	grep "^p-" "$4" | cmp - "$2" && grep "^q-" "$4" | cmp - "$3" &&
	[ "$(wc -l < "$4")" -eq 40000 ]' sh "$A/0" "$MQ_TMP/a1" "$MQ_TMP/a2" "$MQ_TMP/a.got"
expect_ok "metrics: append latency histogram" grep -q '^mqfs_append_latency_seconds_count ' "$MNT/.metrics"
expect_ok "metrics: batches of rr" grep -q '^mqfs_batches_in_total{topic="rr"}' "$MNT/.metrics"
mq_umount

# ---- buffer.memory: O_NONBLOCK writers get EAGAIN, nothing acked is lost ----
printf 'buffer.memory=1024\nlog.flush.interval.messages=1\n' > "$MQ_TMP/small.properties"
mq_mount --config "$MQ_TMP/small.properties"
# The kernel serializes writes to one FUSE file, so writers overlap in
# the daemon only on different files: one partition each (buffer.memory
# is the broker's).
mkdir "$MNT/b"
echo 'partitions=8' > "$MNT/b/.config"
W=8
for w in $(seq 1 $W); do
	awk -v w="$w" 'BEGIN { for (i = 0; i < 3000; i++) printf "w%d-%06d-%089d\n", w, i, 0 }' > "$MQ_TMP/src$w"
	# 1000-byte blocks: ten 100-byte records per write()
	mq_bg sh -c 'exec dd if="$1" of="$2" bs=1000 oflag=nonblock,append conv=notrunc 2> "$3"' sh \
		"$MQ_TMP/src$w" "$MNT/b/$((w - 1))" "$MQ_TMP/err$w"
	eval "pid$w=\$MQ_LAST_PID"
done
eagain=0
acked=0
for w in $(seq 1 $W); do
	eval "mq_wait \$pid$w 120"
	if grep -q 'Resource temporarily unavailable' "$MQ_TMP/err$w"; then
		eagain=$((eagain + 1))
	fi
	n=$(sed -n 's/^\([0-9]*\)+[0-9]* records out$/\1/p' "$MQ_TMP/err$w")
	head -n $((n * 10)) "$MQ_TMP/src$w" >> "$MQ_TMP/acked"
	acked=$((acked + n * 10))
done
expect_ok "at least one O_NONBLOCK writer got EAGAIN ($eagain of $W)" test "$eagain" -gt 0
mq_run sh -c 'cat "$1"/*' sh "$MNT/b" > "$MQ_TMP/got"
expect_eq "records present = records acknowledged" "$acked" "$(wc -l < "$MQ_TMP/got" | tr -d ' ')"
sort "$MQ_TMP/acked" > "$MQ_TMP/acked.s"
sort "$MQ_TMP/got" > "$MQ_TMP/got.s"
expect_same "every acknowledged record exactly once" "$MQ_TMP/acked.s" "$MQ_TMP/got.s"
expect_ok "the daemon logged the refusal" \
	grep -q "refused with Resource temporarily unavailable: buffer.memory full" "$LOG"
expect_ok "metrics: buffer full counted" sh -c '
	awk "/^mqfs_buffer_full_total / { exit !(\$2 > 0) }" "$1"' sh "$MNT/.metrics"
mq_umount

# ---- unfinished lines count in buffer.memory, never waiting ----
printf 'buffer.memory=1048576\n' > "$MQ_TMP/unf.properties"
mq_mount --config "$MQ_TMP/unf.properties"
mkdir "$MNT/u"
echo 'partitions=3' > "$MNT/u/.config"
cat > "$MQ_TMP/unf.py" <<'PY'
import errno, os, sys
d = sys.argv[1]
fds = [os.open("%s/%d" % (d, p), os.O_WRONLY | os.O_APPEND) for p in range(3)]
out = []
for i, fd in enumerate(fds):
    try:
        os.write(fd, bytes([ord("a") + i]) * 400000)   # held: 512 KiB each
        out.append("ok")
    except OSError as e:
        out.append(errno.errorcode.get(e.errno, str(e.errno)))
held = [l.split()[1] for l in open(d + "/../.metrics")
        if l.startswith("mqfs_buffer_memory_unfinished_bytes ")]
out.append(held[0])
os.close(fds[0])                      # its line is a record, its memory freed
os.write(fds[2], b"c" * 400000)       # now it fits
os.write(fds[2], b"\n")
# Lines ended, descriptors still open: they hold nothing of the limit,
# small buffers (4 KiB) included, so another writer's line fits.
os.write(fds[1], b"\n")
os.write(fds[2], b"c" * 1000)
os.write(fds[2], b"\n")
held = [l.split()[1] for l in open(d + "/../.metrics")
        if l.startswith("mqfs_buffer_memory_unfinished_bytes ")]
out.append(held[0])
for fd in fds[1:]:
    os.close(fd)
print(" ".join(out))
PY
expect_eq "a third unfinished line of 512 KiB: ENOBUFS; 1 MiB held; none once the lines end" "ok ok ENOBUFS 1048576 0" \
	"$(mq_run python3 "$MQ_TMP/unf.py" "$MNT/u")"
expect_ok "the refusal is logged" grep -q 'write u/2: refused (ENOBUFS): its unfinished line' "$LOG"
expect_eq "every line a record of its own, whole" "400000 400000 400000 1000" \
	"$(cat "$MNT/u/0" "$MNT/u/1" "$MNT/u/2" | awk '{ printf "%s%d", (NR > 1 ? " " : ""), length($0) }')"
expect_ok "nothing held once closed" grep -q '^mqfs_buffer_memory_unfinished_bytes 0$' "$MNT/.metrics"
mq_umount

# An unfinished line that can no longer fit a record (max.message.bytes
# less the batch overhead) is refused by the write that makes it too long,
# and close() says EMSGSIZE once more.
mq_mount
mkdir "$MNT/cl"
echo 'max.message.bytes=2000' > "$MNT/cl/.config"
echo before > "$MNT/cl/0"
cat > "$MQ_TMP/close.py" <<'PY'
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_APPEND)
try:
    os.write(fd, b"x" * 1950)       # a partial line, too long for a record
    print("written", end=" ")
except OSError as e:
    print("write", errno.errorcode.get(e.errno, e.errno), end=" ")
try:
    os.close(fd)
except OSError as e:
    print("close", errno.errorcode.get(e.errno, e.errno))
    sys.exit(0)
print("closed without error")
PY
expect_eq "write() and close() return the partial line's EMSGSIZE" "write EMSGSIZE close EMSGSIZE" \
	"$(mq_run python3 "$MQ_TMP/close.py" "$MNT/cl/0")"
expect_eq "nothing of it appended" "before" "$(mq_run cat "$MNT/cl/0")"
mq_umount
mq_done
